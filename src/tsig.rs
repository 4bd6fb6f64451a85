//! TSIG (RFC 8945) with HMAC-SHA256, for zone transfers: a secondary signs its request, the
//! primary checks it and signs every message of its answer (or says in a TSIG record why it
//! refuses, [`refusal`]), the secondary checks each; a primary signs its NOTIFYs too. Pure:
//! message bytes, a key and the time in; hmac and sha2 only here.
//!
//! The MAC of a request, or of the first message of an answer, covers the MAC it answers (for
//! an answer), the message as it is without the TSIG record, and the TSIG variables (key name,
//! class ANY, TTL 0, algorithm, time signed, fudge, error, other data). Each later message of
//! one answer covers the MAC before it, the message, and the timers only (RFC 8945 §5.3.1).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::name::DomainName;

/// The algorithm's name, as configured and on the wire.
pub const ALGORITHM: &str = "hmac-sha256";
/// Seconds a signature's time may differ from ours (RFC 8945 recommends 300).
pub const FUDGE: u16 = 300;
const TYPE_TSIG: u16 = 250;
const CLASS_ANY: u16 = 255;

/// A shared secret and its name.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    pub name: DomainName,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("name", &self.name).field("secret", &"…").finish()
    }
}

impl Key {
    pub fn new(name: DomainName, secret: Vec<u8>) -> Key {
        Key { name, secret }
    }
}

/// Why a message's signature is not accepted (RFC 8945 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TsigError {
    #[error("the message is not signed")]
    Unsigned,
    #[error("the TSIG record does not parse")]
    Malformed,
    #[error("signed with a key we do not have for this (BADKEY)")]
    BadKey,
    #[error("the signature does not match (BADSIG)")]
    BadSig,
    #[error("signed at a time too far from ours (BADTIME)")]
    BadTime,
}

fn algorithm_wire() -> Vec<u8> {
    let mut w = vec![ALGORITHM.len() as u8];
    w.extend_from_slice(ALGORITHM.as_bytes());
    w.push(0);
    w
}

/// The MAC over `prior` (length and MAC, when there is one), `message` and the variables.
fn mac(key: &Key, prior: Option<&[u8]>, message: &[u8], variables: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let Ok(mut h) = Hmac::<Sha256>::new_from_slice(&key.secret) else { return Vec::new() };
    if let Some(p) = prior {
        h.update(&(p.len() as u16).to_be_bytes());
        h.update(p);
    }
    h.update(message);
    h.update(variables);
    h.finalize().into_bytes().to_vec()
}

/// The TSIG variables: all of them (without an error), or (a later message of one answer) the
/// timers only.
fn variables(key: &Key, time: u64, fudge: u16, timers_only: bool) -> Vec<u8> {
    match timers_only {
        true => timers(time, fudge),
        false => all_variables(key, time, fudge, 0, &[]),
    }
}

/// Time signed (48 bits) and fudge, as on the wire.
fn timers(time: u64, fudge: u16) -> Vec<u8> {
    let mut out = time.to_be_bytes()[2..].to_vec();
    out.extend_from_slice(&fudge.to_be_bytes());
    out
}

/// All TSIG variables, with the error and other data of the record.
fn all_variables(key: &Key, time: u64, fudge: u16, error: u16, other: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(key.name.wire());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&algorithm_wire());
    out.extend_from_slice(&timers(time, fudge));
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&(other.len() as u16).to_be_bytes());
    out.extend_from_slice(other);
    out
}

/// The RDATA of a TSIG record.
fn rdata(algorithm: &[u8], time: u64, fudge: u16, mac: &[u8], id: [u8; 2], error: u16, other: &[u8]) -> Vec<u8> {
    let mut out = algorithm.to_vec();
    out.extend_from_slice(&timers(time, fudge));
    out.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    out.extend_from_slice(mac);
    out.extend_from_slice(&id);
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&(other.len() as u16).to_be_bytes());
    out.extend_from_slice(other);
    out
}

/// Appends the TSIG record (`owner` in wire form) to `message` and counts it in ARCOUNT.
fn append(message: &mut Vec<u8>, owner: &[u8], rdata: &[u8]) {
    message.extend_from_slice(owner);
    message.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    message.extend_from_slice(&CLASS_ANY.to_be_bytes());
    message.extend_from_slice(&0u32.to_be_bytes());
    message.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    message.extend_from_slice(rdata);
    if let Some(ar) = message.get_mut(10..12) {
        let count = u16::from_be_bytes([ar[0], ar[1]]).wrapping_add(1);
        ar.copy_from_slice(&count.to_be_bytes());
    }
}

fn message_id(message: &[u8]) -> [u8; 2] {
    message.get(0..2).map_or([0, 0], |b| [b[0], b[1]])
}

/// Signs `message` in place (a TSIG record appended, ARCOUNT + 1) at `now` (Unix seconds);
/// `prior` is the MAC answered (the request's, or the previous message's of one answer; none
/// for a request); returns the MAC for the next message.
pub fn sign(message: &mut Vec<u8>, key: &Key, prior: Option<&[u8]>, now: u64, timers_only: bool) -> Vec<u8> {
    sign_after(message, key, prior, &[], now, timers_only)
}

/// [`sign`] for a message after `preceding` unsigned ones of the same answer.
fn sign_after(
    message: &mut Vec<u8>,
    key: &Key,
    prior: Option<&[u8]>,
    preceding: &[u8],
    now: u64,
    timers_only: bool,
) -> Vec<u8> {
    let mut covered = preceding.to_vec();
    covered.extend_from_slice(message);
    let digest = mac(key, prior, &covered, &variables(key, now, FUDGE, timers_only));
    let record = rdata(&algorithm_wire(), now, FUDGE, &digest, message_id(message), 0, &[]);
    append(message, key.name.wire(), &record);
    digest
}

/// Ends `reply` (the NOTAUTH answer to `request`, not yet signed) with the TSIG record that RFC
/// 8945 §5.2 asks for when `request`'s signature was not accepted with `key` at `now` (Unix
/// seconds): the request's key name, algorithm, time and fudge, and the error. BADKEY and BADSIG
/// answers carry no MAC (the key or the message is not trusted). A BADTIME answer is signed,
/// over the request's MAC, and carries our time as its other data, so that the client can tell
/// that its clock is off. Other errors (unsigned, a TSIG that does not parse) add nothing.
pub fn refusal(reply: &mut Vec<u8>, request: &[u8], error: TsigError, key: &Key, now: u64) {
    let Ok(theirs) = find(request) else { return };
    let code = match error {
        TsigError::BadSig => 16,
        TsigError::BadKey => 17,
        TsigError::BadTime => 18,
        TsigError::Unsigned | TsigError::Malformed => return,
    };
    let id = message_id(reply);
    let (digest, other) = match error {
        TsigError::BadTime => {
            let ours = now.to_be_bytes()[2..].to_vec();
            let vars = all_variables(key, theirs.time, theirs.fudge, code, &ours);
            (mac(key, Some(theirs.mac), reply, &vars), ours)
        }
        _ => (Vec::new(), Vec::new()),
    };
    let record = rdata(&theirs.algorithm, theirs.time, theirs.fudge, &digest, id, code, &other);
    append(reply, &theirs.key_name, &record);
}

/// Checks the TSIG record that ends `message` against `key` at `now`; returns its MAC (for
/// the answer, or the next message). `preceding` are the unsigned messages of one answer since
/// the last signed one (RFC 8945 §5.3.1 lets a sender leave up to 99 unsigned), covered too.
pub fn verify(
    message: &[u8],
    key: &Key,
    prior: Option<&[u8]>,
    preceding: &[u8],
    now: u64,
    timers_only: bool,
) -> Result<Vec<u8>, TsigError> {
    let found = find(message)?;
    if !found.key_name.eq_ignore_ascii_case(key.name.wire()) {
        return Err(TsigError::BadKey);
    }
    if !found.algorithm.eq_ignore_ascii_case(&algorithm_wire()) {
        return Err(TsigError::BadKey);
    }
    // The message as signed: without the TSIG record, ARCOUNT one less, the original id.
    let mut unsigned = message[..found.start].to_vec();
    unsigned[0..2].copy_from_slice(&found.original_id.to_be_bytes());
    let ar = u16::from_be_bytes([unsigned[10], unsigned[11]]).wrapping_sub(1);
    unsigned[10..12].copy_from_slice(&ar.to_be_bytes());
    let vars = match timers_only {
        true => timers(found.time, found.fudge),
        // The error and other data as sent.
        false => all_variables(key, found.time, found.fudge, found.error, found.other),
    };
    let Ok(mut h) = Hmac::<Sha256>::new_from_slice(&key.secret) else { return Err(TsigError::BadKey) };
    if let Some(p) = prior {
        h.update(&(p.len() as u16).to_be_bytes());
        h.update(p);
    }
    h.update(preceding);
    h.update(&unsigned);
    h.update(&vars);
    // Constant time, and the whole MAC (truncated MACs are not accepted).
    h.verify_slice(found.mac).map_err(|_| TsigError::BadSig)?;
    if now.abs_diff(found.time) > u64::from(found.fudge) {
        return Err(TsigError::BadTime);
    }
    Ok(found.mac.to_vec())
}

/// Whether `message` ends with a TSIG record (whatever its key).
pub fn is_signed(message: &[u8]) -> bool {
    !matches!(find(message), Err(TsigError::Unsigned))
}

/// A message's TSIG record.
struct Found<'m> {
    /// Where the record starts.
    start: usize,
    key_name: Vec<u8>,
    algorithm: Vec<u8>,
    time: u64,
    fudge: u16,
    mac: &'m [u8],
    original_id: u16,
    error: u16,
    other: &'m [u8],
}

/// The last record of the additional section, when it is a TSIG.
fn find(m: &[u8]) -> Result<Found<'_>, TsigError> {
    let count = |at: usize| m.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let (Some(qd), Some(an), Some(ns), Some(ar)) = (count(4), count(6), count(8), count(10)) else {
        return Err(TsigError::Unsigned);
    };
    if ar == 0 {
        return Err(TsigError::Unsigned);
    }
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(m, at).ok_or(TsigError::Malformed)? + 4;
    }
    for _ in 0..an + ns + ar - 1 {
        at = skip_record(m, at).ok_or(TsigError::Malformed)?;
    }
    let start = at;
    let (key_name, after) = read_name(m, at).ok_or(TsigError::Malformed)?;
    let rtype = count(after).ok_or(TsigError::Malformed)?;
    if rtype != usize::from(TYPE_TSIG) {
        return Err(TsigError::Unsigned);
    }
    let rdlen = count(after + 8).ok_or(TsigError::Malformed)?;
    let rdata_at = after + 10;
    let end = rdata_at + rdlen;
    if end != m.len() {
        return Err(TsigError::Malformed);
    }
    let (algorithm, mut p) = read_name(m, rdata_at).ok_or(TsigError::Malformed)?;
    let take = |p: &mut usize, n: usize| -> Result<&[u8], TsigError> {
        let s = m.get(*p..*p + n).filter(|_| *p + n <= end).ok_or(TsigError::Malformed)?;
        *p += n;
        Ok(s)
    };
    let time = take(&mut p, 6)?.iter().fold(0u64, |t, &b| (t << 8) | u64::from(b));
    let fudge = u16::from_be_bytes(take(&mut p, 2)?.try_into().map_err(|_| TsigError::Malformed)?);
    let mac_len = u16::from_be_bytes(take(&mut p, 2)?.try_into().map_err(|_| TsigError::Malformed)?);
    let mac = take(&mut p, usize::from(mac_len))?;
    let original_id = u16::from_be_bytes(take(&mut p, 2)?.try_into().map_err(|_| TsigError::Malformed)?);
    let error = u16::from_be_bytes(take(&mut p, 2)?.try_into().map_err(|_| TsigError::Malformed)?);
    let other_len = u16::from_be_bytes(take(&mut p, 2)?.try_into().map_err(|_| TsigError::Malformed)?);
    let other = take(&mut p, usize::from(other_len))?;
    Ok(Found { start, key_name, algorithm, time, fudge, mac, original_id, error, other })
}

/// The offset after the name at `at`.
fn skip_name(m: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *m.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l if l & 0xc0 != 0 => return None,
            l => at += 1 + usize::from(l),
        }
    }
}

/// The offset after the record at `at`.
fn skip_record(m: &[u8], at: usize) -> Option<usize> {
    let at = skip_name(m, at)?;
    let len = m.get(at + 8..at + 10)?;
    Some(at + 10 + usize::from(u16::from_be_bytes([len[0], len[1]])))
}

/// The name at `at` in uncompressed wire form (pointers followed, at most 64), and the
/// offset after it where it is written.
fn read_name(m: &[u8], at: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let (mut p, mut after, mut jumps) = (at, None, 0);
    loop {
        let len = *m.get(p)?;
        match len {
            0 => {
                out.push(0);
                return Some((out, after.unwrap_or(p + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let target = usize::from(u16::from_be_bytes([l & 0x3f, *m.get(p + 1)?]));
                after.get_or_insert(p + 2);
                jumps += 1;
                if jumps > 64 || target >= m.len() {
                    return None;
                }
                p = target;
            }
            l if l & 0xc0 != 0 => return None,
            l => {
                out.extend_from_slice(m.get(p..p + 1 + usize::from(l))?);
                p += 1 + usize::from(l);
                if out.len() > 255 {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &[u8]) -> Key {
        Key::new(DomainName::parse("xfr.bl.example").expect("name"), secret.to_vec())
    }

    /// A query for bl.example SOA with id 0x1234.
    fn query() -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x02bl\x07example\x00\x00\x06\x00\x01");
        q
    }

    #[test]
    fn refusals_name_the_error_and_a_badtime_answer_verifies() {
        let k = key(b"0123456789abcdef0123456789abcdef");
        let mut request = query();
        let request_mac = sign(&mut request, &k, None, 1_000_000, false);
        let reply = || {
            let mut r = query();
            r[2] = 0x80;
            r[3] = 9; // NOTAUTH
            r
        };
        for (error, code) in [(TsigError::BadSig, 16), (TsigError::BadKey, 17)] {
            let mut r = reply();
            refusal(&mut r, &request, error, &k, 1_000_000);
            let found = find(&r).expect("a TSIG record");
            assert_eq!((found.error, found.mac, found.time), (code, &[][..], 1_000_000), "{error:?}");
            assert_eq!(found.key_name, k.name.wire());
        }
        // BADTIME: signed over the request's MAC, our time in the other data.
        let mut r = reply();
        refusal(&mut r, &request, TsigError::BadTime, &k, 2_000_000);
        let found = find(&r).expect("a TSIG record");
        assert_eq!((found.error, found.time, found.other), (18, 1_000_000, &2_000_000u64.to_be_bytes()[2..]));
        assert!(verify(&r, &k, Some(&request_mac), &[], 1_000_000, false).is_ok());
        // Nothing to name for an unsigned request.
        let mut r = reply();
        refusal(&mut r, &query(), TsigError::BadSig, &k, 1_000_000);
        assert_eq!(r, reply());
    }

    #[test]
    fn a_signed_request_and_a_signed_answer_chain_verify() {
        let k = key(b"0123456789abcdef0123456789abcdef");
        let mut request = query();
        let request_mac = sign(&mut request, &k, None, 1_000_000, false);
        assert!(is_signed(&request));
        assert_eq!(verify(&request, &k, None, &[], 1_000_100, false), Ok(request_mac.clone()));
        // An answer of two messages: the first covers the request's MAC, the second the first's.
        let mut first = query();
        first[2] = 0x84;
        let first_mac = sign(&mut first, &k, Some(&request_mac), 1_000_001, false);
        let mut second = query();
        second[2] = 0x84;
        sign(&mut second, &k, Some(&first_mac), 1_000_002, true);
        assert_eq!(verify(&first, &k, Some(&request_mac), &[], 1_000_003, false), Ok(first_mac.clone()));
        assert!(verify(&second, &k, Some(&first_mac), &[], 1_000_003, true).is_ok());
        // Out of order, another key, another secret, a changed byte, too late: refused.
        assert_eq!(verify(&second, &k, Some(&request_mac), &[], 1_000_003, true), Err(TsigError::BadSig));
        let other = Key::new(DomainName::parse("other.key").expect("name"), b"x".to_vec());
        assert_eq!(verify(&request, &other, None, &[], 1_000_000, false), Err(TsigError::BadKey));
        assert_eq!(verify(&request, &key(b"another secret"), None, &[], 1_000_000, false), Err(TsigError::BadSig));
        let mut changed = request.clone();
        changed[13] ^= 0x20;
        assert_eq!(verify(&changed, &k, None, &[], 1_000_000, false), Err(TsigError::BadSig));
        assert_eq!(verify(&request, &k, None, &[], 1_000_000 + 301, false), Err(TsigError::BadTime));
        assert_eq!(verify(&query(), &k, None, &[], 1_000_000, false), Err(TsigError::Unsigned));
        // An unsigned message between two signed ones is covered by the next MAC.
        let middle = query();
        let mut third = query();
        let third_mac = sign_after(&mut third, &k, Some(&first_mac), &middle, 1_000_002, true);
        assert_eq!(verify(&third, &k, Some(&first_mac), &middle, 1_000_003, true), Ok(third_mac));
        assert_eq!(verify(&third, &k, Some(&first_mac), &[], 1_000_003, true), Err(TsigError::BadSig));
        let mut cut = request.clone();
        cut.truncate(cut.len() - 3);
        assert_eq!(verify(&cut, &k, None, &[], 1_000_000, false), Err(TsigError::Malformed));
    }
}
