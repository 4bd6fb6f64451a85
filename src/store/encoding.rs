//! Byte layout of everything the store persists: keys and versioned values (pure, no RocksDB).
//!
//! Keys are big-endian so RocksDB's byte order is address order within a zone's list:
//! `zone-len:u8 · zone · generation:u32 · family:u8 (4|6) · address (4|16 bytes) · prefix-len:u8`.
//! The generation lets an import stream a whole new list beside the served one and switch to it
//! with one small atomic write (see `store::ZoneReplacement`).
//! A zone's datasets each have their own generations: the top byte of a generation is the
//! dataset's slot (0 for `operator`, so schema-1 lists keep their keys), the low 24 bits count its
//! replacements. `meta` holds `dataset/<zone>/<name>` → version byte · generation:u32.
//! Values start with a format version byte; an unknown version or a short value is reported as
//! corrupt, never guessed at. Changing a layout means a new version and a migration.

use std::net::Ipv4Addr;

use crate::model::{AuditAction, Listing, ListingCode, Prefix};
use crate::name::{DatasetName, DomainName};

/// Version byte of listing and exclusion values written by this build.
pub const VALUE_VERSION: u8 = 1;

/// Why stored bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("key has a bad layout")]
    Key,
    #[error("value format version {0} is newer than this dnsbl understands")]
    Version(u8),
    #[error("value is truncated or malformed: {0}")]
    Value(&'static str),
}

/// A listing as stored: the answer plus when it was made and when it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredListing {
    pub listing: Listing,
    /// Unix seconds.
    pub added_at: u64,
    /// Unix seconds; `None` = never.
    pub expires_at: Option<u64>,
}

impl StoredListing {
    /// True when the listing's expiry time is at or before `now` (Unix seconds).
    pub fn expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// An exclusion as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredExclusion {
    pub reason: Option<String>,
    /// Unix seconds.
    pub added_at: u64,
}

use crate::name::MAX_DATASETS;

/// Schema 1's meta key prefix of a zone's one list generation (`generation/<zone>`).
pub const LEGACY_GENERATION: &[u8] = b"generation/";

/// The meta key prefix of a zone's dataset pointers: `dataset/<zone>/`.
pub fn dataset_key_prefix(zone: &DomainName) -> Vec<u8> {
    let mut k = b"dataset/".to_vec();
    k.extend_from_slice(zone.as_str().as_bytes());
    k.push(b'/');
    k
}

/// The meta key of a dataset's pointer: `dataset/<zone>/<name>` (zone names have no `/`).
pub fn dataset_key(zone: &DomainName, dataset: &DatasetName) -> Vec<u8> {
    let mut k = dataset_key_prefix(zone);
    k.extend_from_slice(dataset.as_str().as_bytes());
    k
}

/// A dataset pointer's value: version byte, then the generation holding its entries.
pub fn encode_dataset(generation: u32) -> Vec<u8> {
    let mut v = vec![VALUE_VERSION];
    v.extend_from_slice(&generation.to_be_bytes());
    v
}

pub fn decode_dataset(bytes: &[u8]) -> Result<u32, DecodeError> {
    let mut r = Reader(bytes);
    check_version(r.u8()?)?;
    let g = r.take(4)?;
    r.end()?;
    Ok(u32::from_be_bytes([g[0], g[1], g[2], g[3]]))
}

/// The generation a dataset's next replacement writes: the same slot, the count plus one.
pub fn next_generation(generation: u32) -> u32 {
    (generation & 0xff00_0000) | (generation.wrapping_add(1) & 0x00ff_ffff)
}

/// The first generation of a new dataset: a slot below [`MAX_DATASETS`] not used by any of
/// `used` (slot 0 is the operator's).
pub fn free_slot(used: &[u32]) -> Option<u32> {
    (1..MAX_DATASETS as u32).find(|slot| !used.iter().any(|g| g >> 24 == *slot)).map(|slot| slot << 24)
}

/// The key prefix shared by every entry of one generation of a zone's list.
pub fn list_prefix(zone: &DomainName, generation: u32) -> Vec<u8> {
    let name = zone.as_str().as_bytes();
    let mut k = Vec::with_capacity(name.len() + 5);
    // Domain names are at most 253 bytes, so the length fits one byte.
    k.push(name.len() as u8);
    k.extend_from_slice(name);
    k.extend_from_slice(&generation.to_be_bytes());
    k
}

/// The key just past every entry of one generation (for range deletes and scans).
pub fn list_end(zone: &DomainName, generation: u32) -> Vec<u8> {
    let mut k = list_prefix(zone, generation);
    k.push(0xff);
    k
}

/// The key of one prefix in one generation of a zone's list.
pub fn entry_key(zone: &DomainName, generation: u32, prefix: &Prefix) -> Vec<u8> {
    let mut k = list_prefix(zone, generation);
    push_prefix(&mut k, prefix);
    k
}

/// `family:u8 (4|6) · address (4|16 bytes, big-endian) · prefix-len:u8`.
pub(super) fn push_prefix(k: &mut Vec<u8>, prefix: &Prefix) {
    match *prefix {
        Prefix::V4 { bits, len } => {
            k.push(4);
            k.extend_from_slice(&bits.to_be_bytes());
            k.push(len);
        }
        Prefix::V6 { bits, len } => {
            k.push(6);
            k.extend_from_slice(&bits.to_be_bytes());
            k.push(len);
        }
    }
}

/// The prefix encoded in an entry key whose list prefix is `list_prefix_len` bytes.
pub fn decode_entry_key(key: &[u8], list_prefix_len: usize) -> Result<Prefix, DecodeError> {
    let rest = key.get(list_prefix_len..).ok_or(DecodeError::Key)?;
    match rest {
        [4, a @ .., len] if a.len() == 4 && *len <= 32 => {
            let bits = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
            let p = Prefix::masked_v4(bits, *len);
            (p == Prefix::V4 { bits, len: *len }).then_some(p).ok_or(DecodeError::Key)
        }
        [6, a @ .., len] if a.len() == 16 && *len <= 128 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(a);
            let bits = u128::from_be_bytes(b);
            let p = Prefix::masked_v6(bits, *len);
            (p == Prefix::V6 { bits, len: *len }).then_some(p).ok_or(DecodeError::Key)
        }
        _ => Err(DecodeError::Key),
    }
}

/// Encodes a listing value (version 1):
/// `1 · added_at:u64 · expires_at:u64 (0 = never) · n:u8 · n × code:[u8;4] · reason`.
pub fn encode_listing(v: &StoredListing) -> Vec<u8> {
    let codes = v.listing.codes();
    let mut out = Vec::with_capacity(20 + codes.len() * 4 + v.listing.reason().map_or(0, str::len));
    out.push(VALUE_VERSION);
    out.extend_from_slice(&v.added_at.to_be_bytes());
    out.extend_from_slice(&v.expires_at.unwrap_or(0).to_be_bytes());
    // Codes are unique addresses in 127/8 minus a few, so at most 2^24; real listings carry a few.
    out.push(codes.len().min(255) as u8);
    for c in codes.iter().take(255) {
        out.extend_from_slice(&c.addr().octets());
    }
    encode_reason(&mut out, v.listing.reason());
    out
}

/// Decodes a listing value.
pub fn decode_listing(bytes: &[u8]) -> Result<StoredListing, DecodeError> {
    let head = listing_head(bytes)?;
    let listing = decode_answer(head.answer)?;
    Ok(StoredListing { listing, added_at: head.added_at, expires_at: head.expires_at })
}

/// The fixed part of a listing value, and the bytes of its answer (codes and reason) unread:
/// loading a big list decodes each distinct answer once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingHead<'a> {
    pub added_at: u64,
    pub expires_at: Option<u64>,
    pub answer: &'a [u8],
}

impl ListingHead<'_> {
    /// True when the listing's expiry time is at or before `now` (Unix seconds).
    pub fn expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// Reads the version and times of a listing value without decoding its answer.
pub fn listing_head(bytes: &[u8]) -> Result<ListingHead<'_>, DecodeError> {
    let mut r = Reader(bytes);
    check_version(r.u8()?)?;
    let added_at = r.u64()?;
    let expires_at = Some(r.u64()?).filter(|&t| t != 0);
    Ok(ListingHead { added_at, expires_at, answer: r.0 })
}

/// Decodes the answer part of a listing value: `n:u8 · n × code · reason`.
pub fn decode_answer(bytes: &[u8]) -> Result<Listing, DecodeError> {
    let mut r = Reader(bytes);
    let n = r.u8()?;
    let mut codes = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let o = r.take(4)?;
        let code = ListingCode::new(Ipv4Addr::new(o[0], o[1], o[2], o[3]))
            .map_err(|_| DecodeError::Value("invalid return code"))?;
        codes.push(code);
    }
    let reason = decode_reason(&mut r)?;
    r.end()?;
    Listing::new(codes, reason).map_err(|_| DecodeError::Value("invalid listing"))
}

/// Encodes an exclusion value (version 1): `1 · added_at:u64 · reason`.
pub fn encode_exclusion(v: &StoredExclusion) -> Vec<u8> {
    encode_dated_reason(v.added_at, v.reason.as_deref())
}

/// Decodes an exclusion value.
pub fn decode_exclusion(bytes: &[u8]) -> Result<StoredExclusion, DecodeError> {
    let (added_at, reason) = decode_dated_reason(bytes)?;
    Ok(StoredExclusion { reason, added_at })
}

/// `1 · added_at:u64 · reason`: the layout of exclusions and of marketer declarations.
pub(super) fn encode_dated_reason(added_at: u64, reason: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + reason.map_or(0, str::len));
    out.push(VALUE_VERSION);
    out.extend_from_slice(&added_at.to_be_bytes());
    encode_reason(&mut out, reason);
    out
}

pub(super) fn decode_dated_reason(bytes: &[u8]) -> Result<(u64, Option<String>), DecodeError> {
    let mut r = Reader(bytes);
    check_version(r.u8()?)?;
    let added_at = r.u64()?;
    let reason = decode_reason(&mut r)?;
    r.end()?;
    Ok((added_at, reason))
}

/// `0` for none, or `1 · len:u16 · UTF-8 bytes`.
pub(super) fn encode_reason(out: &mut Vec<u8>, reason: Option<&str>) {
    match reason {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            // Reasons are validated to at most 255 bytes before they get here.
            let bytes = &r.as_bytes()[..r.len().min(u16::MAX as usize)];
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

pub(super) fn decode_reason(r: &mut Reader<'_>) -> Result<Option<String>, DecodeError> {
    match r.u8()? {
        0 => Ok(None),
        1 => {
            let len = u16::from_be_bytes([r.u8()?, r.u8()?]);
            let bytes = r.take(usize::from(len))?;
            String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| DecodeError::Value("reason is not UTF-8"))
        }
        _ => Err(DecodeError::Value("bad reason marker")),
    }
}

/// A short string as `len:u8 · bytes` (cut at 255 bytes).
pub(super) fn push_short_text(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(255)];
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

/// A string written by [`push_short_text`].
pub(super) fn short_text(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    let len = usize::from(r.u8()?);
    String::from_utf8(r.take(len)?.to_vec()).map_err(|_| DecodeError::Value("text is not UTF-8"))
}

pub(super) fn check_version(v: u8) -> Result<(), DecodeError> {
    match v {
        VALUE_VERSION => Ok(()),
        0 => Err(DecodeError::Value("version byte 0")),
        newer => Err(DecodeError::Version(newer)),
    }
}

pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Value("value ends early"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    pub(super) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    pub(super) fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }
    pub(super) fn end(&self) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Value("trailing bytes"))
        }
    }
}

/// The stored byte of an audit action back to the action (its discriminant is the byte).
fn action_from_u8(v: u8) -> Option<AuditAction> {
    Some(match v {
        1 => AuditAction::AddListing,
        2 => AuditAction::RemoveListing,
        3 => AuditAction::AddExclusion,
        4 => AuditAction::RemoveExclusion,
        5 => AuditAction::Expired,
        6 => AuditAction::Import,
        7 => AuditAction::Register,
        8 => AuditAction::Unregister,
        9 => AuditAction::AddNetwork,
        10 => AuditAction::RemoveNetwork,
        11 => AuditAction::Suspend,
        12 => AuditAction::Resume,
        13 => AuditAction::AddMarketer,
        14 => AuditAction::RotateToken,
        15 => AuditAction::RemoveDataset,
        _ => return None,
    })
}

/// One audit record: who did what to which prefix, when, with which values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Microseconds since the Unix epoch.
    pub at_us: u64,
    pub action: AuditAction,
    /// Who: "operator", a marketer id, "expiry".
    pub actor: String,
    /// Through what: "api", "import", "expiry".
    pub source: String,
    pub codes: Vec<ListingCode>,
    pub reason: Option<String>,
    pub expires_at: Option<u64>,
    /// The dataset changed (the operator's for registry actions, which protect it).
    pub dataset: DatasetName,
}

/// Audit key: `zone-len · zone · family · address · prefix-len · at_us:u64 · seq:u16`, so the
/// records of one prefix are contiguous and in time order (across list generations).
pub fn audit_key(zone: &DomainName, prefix: &Prefix, at_us: u64, seq: u16) -> Vec<u8> {
    let mut k = audit_prefix_key(zone, prefix);
    k.extend_from_slice(&at_us.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The key prefix of every audit record of one prefix.
pub fn audit_prefix_key(zone: &DomainName, prefix: &Prefix) -> Vec<u8> {
    let name = zone.as_str().as_bytes();
    let mut k = Vec::with_capacity(name.len() + 32);
    k.push(name.len() as u8);
    k.extend_from_slice(name);
    push_prefix(&mut k, prefix);
    k
}

/// The prefix of an audit key written by [`audit_key`] for a zone whose name is `zone_len` bytes.
pub fn decode_audit_key_prefix(key: &[u8], zone_len: usize) -> Result<Prefix, DecodeError> {
    let body = key.get(1 + zone_len..key.len().checked_sub(10).ok_or(DecodeError::Key)?).ok_or(DecodeError::Key)?;
    decode_entry_key(body, 0)
}

/// Version byte of audit records that name their dataset.
const AUDIT_VERSION: u8 = 2;

/// Encodes an audit record (version 2): `2 · at_us:u64 · action:u8 · actor · source · n:u8 ·
/// n × code · reason · expires_at:u64 (0 = none) · dataset`, strings as `len:u8 · bytes`.
/// Version 1 (written before datasets) is the same without the dataset: the operator's.
pub fn encode_audit(r: &AuditRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(72);
    out.push(AUDIT_VERSION);
    out.extend_from_slice(&r.at_us.to_be_bytes());
    out.push(r.action as u8);
    for s in [&r.actor, &r.source] {
        let b = &s.as_bytes()[..s.len().min(255)];
        out.push(b.len() as u8);
        out.extend_from_slice(b);
    }
    out.push(r.codes.len().min(255) as u8);
    for c in r.codes.iter().take(255) {
        out.extend_from_slice(&c.addr().octets());
    }
    encode_reason(&mut out, r.reason.as_deref());
    out.extend_from_slice(&r.expires_at.unwrap_or(0).to_be_bytes());
    // Dataset names are at most 32 bytes.
    out.push(r.dataset.as_str().len() as u8);
    out.extend_from_slice(r.dataset.as_str().as_bytes());
    out
}

/// Decodes an audit record.
pub fn decode_audit(bytes: &[u8]) -> Result<AuditRecord, DecodeError> {
    let mut r = Reader(bytes);
    let version = r.u8()?;
    if version != AUDIT_VERSION {
        check_version(version)?;
    }
    let at_us = r.u64()?;
    let action = action_from_u8(r.u8()?).ok_or(DecodeError::Value("unknown audit action"))?;
    let mut text = || -> Result<String, DecodeError> {
        let n = usize::from(r.u8()?);
        String::from_utf8(r.take(n)?.to_vec()).map_err(|_| DecodeError::Value("audit text is not UTF-8"))
    };
    let (actor, source) = (text()?, text()?);
    let n = r.u8()?;
    let mut codes = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let o = r.take(4)?;
        codes.push(
            ListingCode::new(Ipv4Addr::new(o[0], o[1], o[2], o[3]))
                .map_err(|_| DecodeError::Value("invalid return code"))?,
        );
    }
    let reason = decode_reason(&mut r)?;
    let expires_at = Some(r.u64()?).filter(|&t| t != 0);
    let dataset = if version == AUDIT_VERSION {
        let n = usize::from(r.u8()?);
        std::str::from_utf8(r.take(n)?)
            .ok()
            .and_then(|name| DatasetName::parse(name).ok())
            .ok_or(DecodeError::Value("audit dataset is not a dataset name"))?
    } else {
        DatasetName::operator()
    };
    r.end()?;
    Ok(AuditRecord { at_us, action, actor, source, codes, reason, expires_at, dataset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_pointers_are_stable_bytes() {
        let zone = DomainName::parse("bl.test").expect("name");
        let feed = DatasetName::parse("traps").expect("dataset");
        assert_eq!(dataset_key(&zone, &feed), b"dataset/bl.test/traps");
        assert_eq!(dataset_key_prefix(&zone), b"dataset/bl.test/");
        assert_eq!(encode_dataset(0x0200_0007), [1, 2, 0, 0, 7]);
        assert_eq!(decode_dataset(&[1, 2, 0, 0, 7]), Ok(0x0200_0007));
        assert_eq!(decode_dataset(&[1, 2, 0]), Err(DecodeError::Value("value ends early")));
        assert_eq!(decode_dataset(&[9, 0, 0, 0, 0]), Err(DecodeError::Version(9)));
        assert_eq!(next_generation(0x0100_0003), 0x0100_0004);
        assert_eq!(next_generation(0x01ff_ffff), 0x0100_0000, "the count wraps inside its slot");
        assert_eq!(free_slot(&[5, 0x0100_0002, 0x0300_0000]), Some(0x0200_0000));
        let all: Vec<u32> = (0..MAX_DATASETS as u32).map(|s| s << 24).collect();
        assert_eq!(free_slot(&all), None);
    }

    fn zone() -> DomainName {
        DomainName::parse("bl.test").expect("name")
    }

    #[test]
    fn golden_keys() {
        let p: Prefix = "198.51.100.0/24".parse().expect("prefix");
        assert_eq!(entry_key(&zone(), 2, &p), b"\x07bl.test\x00\x00\x00\x02\x04\xc6\x33\x64\x00\x18".to_vec());
        let p6: Prefix = "2001:db8::/32".parse().expect("prefix");
        let mut want = b"\x07bl.test\x00\x00\x00\x01\x06\x20\x01\x0d\xb8".to_vec();
        want.extend_from_slice(&[0; 12]);
        want.push(32);
        assert_eq!(entry_key(&zone(), 1, &p6), want);
        assert_eq!(decode_entry_key(&want, 12), Ok(p6));
        assert_eq!(list_end(&zone(), 1), b"\x07bl.test\x00\x00\x00\x01\xff".to_vec());
    }

    #[test]
    fn key_order_is_address_order() {
        let keys: Vec<Vec<u8>> = ["1.2.3.0/24", "1.2.3.0/32", "1.2.3.4/32", "9.0.0.0/8", "::1/128"]
            .iter()
            .map(|s| entry_key(&zone(), 1, &s.parse().expect("prefix")))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn golden_listing_value() {
        let v = StoredListing {
            listing: Listing::new(vec![ListingCode::OPERATOR], Some("hi $".into())).expect("listing"),
            added_at: 0x0102,
            expires_at: None,
        };
        let bytes = encode_listing(&v);
        assert_eq!(
            bytes,
            [&[1u8][..], &[0, 0, 0, 0, 0, 0, 1, 2], &[0; 8], &[1, 127, 0, 0, 3], &[1, 0, 4], b"hi $"].concat()
        );
        assert_eq!(decode_listing(&bytes), Ok(v));
    }

    #[test]
    fn golden_exclusion_value() {
        let v = StoredExclusion { reason: None, added_at: 5 };
        let bytes = encode_exclusion(&v);
        assert_eq!(bytes, vec![1, 0, 0, 0, 0, 0, 0, 0, 5, 0]);
        assert_eq!(decode_exclusion(&bytes), Ok(v));
    }

    #[test]
    fn golden_audit_record() {
        let r = AuditRecord {
            at_us: 7,
            action: AuditAction::AddListing,
            actor: "op".into(),
            source: "api".into(),
            codes: vec![ListingCode::OPERATOR],
            reason: Some("x".into()),
            expires_at: Some(9),
            dataset: DatasetName::parse("traps").expect("dataset"),
        };
        let bytes = encode_audit(&r);
        let v1_body = [
            &[0u8, 0, 0, 0, 0, 0, 0, 7][..],
            &[1],
            &[2],
            b"op",
            &[3],
            b"api",
            &[1, 127, 0, 0, 3],
            &[1, 0, 1],
            b"x",
            &[0, 0, 0, 0, 0, 0, 0, 9],
        ]
        .concat();
        assert_eq!(bytes, [&[2u8][..], &v1_body, &[5], b"traps"].concat());
        assert_eq!(decode_audit(&bytes), Ok(r.clone()));
        // A record written before datasets is the operator's.
        let v1 = [&[1u8][..], &v1_body].concat();
        assert_eq!(decode_audit(&v1), Ok(AuditRecord { dataset: DatasetName::operator(), ..r.clone() }));
        assert_eq!(
            decode_audit(&[&[2u8][..], &v1_body, &[3], b"A/B"].concat()),
            Err(DecodeError::Value("audit dataset is not a dataset name"))
        );
        assert_eq!(
            encode_audit(&AuditRecord { dataset: DatasetName::operator(), ..r.clone() }),
            [&[2u8][..], &v1_body, &[8], b"operator"].concat()
        );
        let p: Prefix = "10.0.0.0/8".parse().expect("prefix");
        let key = audit_key(&zone(), &p, 5, 1);
        assert_eq!(key, [&b"\x07bl.test\x04\x0a\x00\x00\x00\x08"[..], &[0, 0, 0, 0, 0, 0, 0, 5, 0, 1]].concat());
        assert_eq!(decode_audit_key_prefix(&key, 7), Ok(p));
    }

    #[test]
    fn corrupt_values_are_errors() {
        assert_eq!(decode_exclusion(&[]), Err(DecodeError::Value("value ends early")));
        assert_eq!(decode_exclusion(&[9, 0]), Err(DecodeError::Version(9)));
        assert_eq!(decode_exclusion(&[1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0]), Err(DecodeError::Value("trailing bytes")));
        let bad_code = [&[1u8][..], &[0; 16], &[1, 10, 0, 0, 3], &[0]].concat();
        assert_eq!(decode_listing(&bad_code), Err(DecodeError::Value("invalid return code")));
        assert_eq!(decode_entry_key(b"\x07bl.test\0\0\0\x01\x04\x01\x02", 12), Err(DecodeError::Key));
        assert_eq!(decode_entry_key(b"\x07bl.test\0\0\0\x01\x04\x01\x02\x03\x04\x21", 12), Err(DecodeError::Key));
        // Host bits set in a key is corruption, not a prefix to guess at.
        assert_eq!(decode_entry_key(b"\x07bl.test\0\0\0\x01\x04\x01\x02\x03\x04\x08", 12), Err(DecodeError::Key));
    }
}
