//! DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018): checking the COOKIE
//! option of a request and making the one its reply carries. Pure: the caller gives the client's
//! address and the time. The only user of `siphasher`.
//!
//! A server cookie is 16 bytes: version 1, three reserved bytes, a timestamp (Unix seconds,
//! modulo 2³²) and SipHash-2-4, keyed by the server secret, over client cookie ‖ version ‖
//! reserved ‖ timestamp ‖ client address. Every server that shares the secret (an anycast
//! fleet, or servers of other makes that follow RFC 9018) accepts the cookies any of them
//! made. A cookie is accepted for an hour after its timestamp and up to five minutes before
//! it (clock skew); a reply renews one older than half an hour (RFC 9018 §4.3).
//!
//! [`Secrets`] holds the secret that makes cookies and the others that are still accepted:
//! the one being retired, or the next one being rolled out to every node before it is used.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

/// The EDNS option code of COOKIE.
pub const OPTION_CODE: u16 = 10;
const CLIENT_LEN: usize = 8;
/// The server cookie of RFC 9018.
const SERVER_LEN: usize = 16;
const VERSION: u8 = 1;
/// Seconds a server cookie is accepted after its timestamp.
pub const LIFETIME: u32 = 3600;
/// Seconds a timestamp may be ahead of our clock.
pub const SKEW: u32 = 300;
/// Seconds after which a reply carries a new server cookie instead of the client's.
pub const RENEW_AFTER: u32 = 1800;
/// The most secrets a server accepts at once.
pub const MAX_SECRETS: usize = 8;

/// A 128-bit server secret.
pub type Secret = [u8; 16];

/// The COOKIE option of a reply: the client's cookie and our server cookie.
pub type ReplyCookie = [u8; CLIENT_LEN + SERVER_LEN];

/// The secrets of a server: the first makes cookies, every one is accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets(Vec<Secret>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} secrets)", self.0.len())
    }
}

/// A secrets file that does not parse: the line (1-based) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {reason}")]
pub struct SecretsError {
    pub line: usize,
    pub reason: String,
}

impl Secrets {
    /// The secret that makes cookies, then those also accepted.
    pub fn new(current: Secret, also_accepted: impl IntoIterator<Item = Secret>) -> Secrets {
        Secrets(std::iter::once(current).chain(also_accepted).take(MAX_SECRETS).collect())
    }

    /// Reads a secrets file: one secret per line as 32 hex digits, the first makes cookies, the
    /// others are accepted too; blank lines and `#` comments are ignored.
    pub fn parse(text: &str) -> Result<Secrets, SecretsError> {
        let mut secrets = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |reason: &str| SecretsError { line: line_no, reason: reason.into() };
            let secret = parse_hex(line).ok_or_else(|| err("a secret is 32 hexadecimal digits (128 bits)"))?;
            if secrets.len() == MAX_SECRETS {
                return Err(err(&format!("at most {MAX_SECRETS} secrets")));
            }
            secrets.push(secret);
        }
        if secrets.is_empty() {
            return Err(SecretsError { line: 1, reason: "no secret in the file".into() });
        }
        Ok(Secrets(secrets))
    }

    /// How many secrets are accepted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: there is always the secret that makes cookies.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A secret as the secrets file writes it.
pub fn to_hex(secret: &Secret) -> String {
    secret.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex(s: &str) -> Option<Secret> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What a request's COOKIE option showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A client cookie alone (the client's first query, or one that dropped our cookie).
    ClientOnly,
    /// A server cookie we made for this client and address, still within its lifetime.
    Valid,
    /// A server cookie that is not ours, not for this address, or too old or too new.
    Invalid,
}

/// A COOKIE option that was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// Shorter than a client cookie, or a server cookie shorter than 8 or longer than 32 bytes:
    /// FORMERR (RFC 7873 §5.2.2).
    Malformed,
    /// The verdict and the COOKIE option of the reply.
    Checked { verdict: Verdict, reply: ReplyCookie },
}

/// Checks the data of a COOKIE option from `client` at Unix time `now` (seconds).
pub fn check(secrets: &Secrets, option: &[u8], client: IpAddr, now: u64) -> Presented {
    let now = now as u32; // RFC 9018 timestamps are modulo 2^32.
    if option.len() != CLIENT_LEN && !(CLIENT_LEN + 8..=CLIENT_LEN + 32).contains(&option.len()) {
        return Presented::Malformed;
    }
    let mut client_cookie = [0u8; CLIENT_LEN];
    client_cookie.copy_from_slice(&option[..CLIENT_LEN]);
    let server = &option[CLIENT_LEN..];
    let verdict = match server.len() {
        0 => Verdict::ClientOnly,
        _ if ours(secrets, &client_cookie, server, client, now) => Verdict::Valid,
        _ => Verdict::Invalid,
    };
    let mut reply = [0u8; CLIENT_LEN + SERVER_LEN];
    reply[..CLIENT_LEN].copy_from_slice(&client_cookie);
    let keep = verdict == Verdict::Valid && age(server, now) < RENEW_AFTER;
    let fresh;
    reply[CLIENT_LEN..].copy_from_slice(if keep {
        server
    } else {
        fresh = make(&secrets.0[0], &client_cookie, client, now);
        &fresh
    });
    Presented::Checked { verdict, reply }
}

/// The server cookie for `client_cookie` from `client`, stamped `now`, made with `secret`.
pub fn make(secret: &Secret, client_cookie: &[u8; CLIENT_LEN], client: IpAddr, now: u32) -> [u8; SERVER_LEN] {
    let mut cookie = [0u8; SERVER_LEN];
    cookie[0] = VERSION;
    cookie[4..8].copy_from_slice(&now.to_be_bytes());
    let hash = hash(secret, client_cookie, &cookie[..8], client);
    cookie[8..].copy_from_slice(&hash);
    cookie
}

/// Whether `server` is a server cookie one of `secrets` made for this client, within its time.
fn ours(secrets: &Secrets, client_cookie: &[u8; CLIENT_LEN], server: &[u8], client: IpAddr, now: u32) -> bool {
    if server.len() != SERVER_LEN || server[0] != VERSION {
        return false;
    }
    let stamped = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
    // Serial arithmetic: the difference is taken modulo 2^32, so the wrap in 2106 is harmless.
    let (past, ahead) = (now.wrapping_sub(stamped), stamped.wrapping_sub(now));
    if past > LIFETIME && ahead > SKEW {
        return false;
    }
    // The reserved bytes are hashed as the client sent them (RFC 9018 §4.4).
    secrets.0.iter().any(|secret| same(&hash(secret, client_cookie, &server[..8], client), &server[8..]))
}

/// Seconds since the timestamp of a server cookie (0 when it is ahead of us).
fn age(server: &[u8], now: u32) -> u32 {
    let stamped = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
    match now.wrapping_sub(stamped) {
        past if past <= LIFETIME => past,
        _ => 0,
    }
}

fn hash(secret: &Secret, client_cookie: &[u8; CLIENT_LEN], head: &[u8], client: IpAddr) -> [u8; 8] {
    let mut h = SipHasher24::new_with_key(secret);
    h.write(client_cookie);
    h.write(head);
    match client {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => h.write(&a.octets()),
    }
    h.finish().to_le_bytes()
}

/// Compares two hashes without an early exit.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    fn secrets(hex: &[&str]) -> Secrets {
        Secrets::parse(&hex.join("\n")).expect("secrets")
    }

    fn reply_of(p: Presented) -> (Verdict, String) {
        match p {
            Presented::Checked { verdict, reply } => (verdict, reply.iter().map(|b| format!("{b:02x}")).collect()),
            Presented::Malformed => panic!("malformed"),
        }
    }

    const SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";

    #[test]
    fn rfc_9018_appendix_a_1_a_new_client_learns_a_cookie() {
        let got = check(
            &secrets(&[SECRET]),
            &bytes("2464c4abcf10c957"),
            "198.51.100.100".parse().expect("address"),
            1559731985,
        );
        assert_eq!(reply_of(got), (Verdict::ClientOnly, "2464c4abcf10c957010000005cf79f111f8130c3eee29480".into()));
    }

    #[test]
    fn rfc_9018_appendix_a_2_a_cookie_older_than_half_an_hour_is_renewed() {
        let option = bytes("2464c4abcf10c957010000005cf79f111f8130c3eee29480");
        let got = check(&secrets(&[SECRET]), &option, "198.51.100.100".parse().expect("address"), 1559734385);
        assert_eq!(reply_of(got), (Verdict::Valid, "2464c4abcf10c957010000005cf7a871d4a564a1442aca77".into()));
    }

    #[test]
    fn rfc_9018_appendix_a_3_reserved_bytes_are_hashed_as_sent_and_a_new_cookie_clears_them() {
        let option = bytes("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
        let ip: IpAddr = "203.0.113.203".parse().expect("address");
        // The example's query comes 1 h 52 min after its cookie was made: past the lifetime, so
        // the reply carries a new cookie (the one the RFC shows), and the old one is not valid.
        let got = check(&secrets(&[SECRET]), &option, ip, 1559734700);
        assert_eq!(reply_of(got), (Verdict::Invalid, "fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e".into()));
        // Within its hour, the same cookie (reserved bytes and all) is ours.
        assert_eq!(reply_of(check(&secrets(&[SECRET]), &option, ip, 0x5cf78f71 + 60)).0, Verdict::Valid);
    }

    #[test]
    fn rfc_9018_appendix_a_4_a_cookie_of_the_retired_secret_is_still_accepted() {
        let option = bytes("22681ab97d52c298010000005cf7c57926556bd0934c72f8");
        let ip: IpAddr = "2001:db8:220:1:59de:d0f4:8769:82b8".parse().expect("address");
        let (new, old) = ("445536bcd2513298075a5d379663c962", "dd3bdf9344b678b185a6f5cb60fca715");
        let stamped: u64 = 0x5cf7c579;
        let renew = u64::from(RENEW_AFTER);
        assert_eq!(reply_of(check(&secrets(&[new]), &option, ip, stamped + 60)).0, Verdict::Invalid);
        let (verdict, reply) = reply_of(check(&secrets(&[new, old]), &option, ip, stamped + 60));
        assert_eq!(verdict, Verdict::Valid);
        assert_eq!(reply, "22681ab97d52c298010000005cf7c57926556bd0934c72f8", "a fresh cookie is echoed as it came");
        let (_, renewed) = reply_of(check(&secrets(&[new, old]), &option, ip, stamped + renew + 1));
        let again = check(&secrets(&[new]), &bytes(&renewed), ip, stamped + renew + 2);
        assert_eq!(reply_of(again).0, Verdict::Valid, "the renewed cookie is made with the new secret");
    }

    #[test]
    fn a_cookie_holds_an_hour_and_five_minutes_of_skew_across_the_wrap_of_the_timestamp() {
        let s = secrets(&[SECRET]);
        let ip: IpAddr = "192.0.2.1".parse().expect("address");
        let client = [7u8; 8];
        for (stamped, now, valid) in [
            (1000u32, 1000 + LIFETIME, true),
            (1000, 1000 + LIFETIME + 1, false),
            (1000 + SKEW, 1000, true),
            (1000 + SKEW + 1, 1000, false),
            (u32::MAX - 100, 1000, true),
            (u32::MAX - 100, LIFETIME, false),
        ] {
            let mut option = client.to_vec();
            option.extend_from_slice(&make(&s.0[0], &client, ip, stamped));
            let expected = if valid { Verdict::Valid } else { Verdict::Invalid };
            assert_eq!(reply_of(check(&s, &option, ip, u64::from(now))).0, expected, "{stamped} at {now}");
        }
    }

    #[test]
    fn another_address_or_a_changed_byte_or_a_foreign_size_is_invalid() {
        let s = secrets(&[SECRET]);
        let ip: IpAddr = "192.0.2.1".parse().expect("address");
        let client = [9u8; 8];
        let mut option = client.to_vec();
        option.extend_from_slice(&make(&s.0[0], &client, ip, 5000));
        assert_eq!(reply_of(check(&s, &option, ip, 5000)).0, Verdict::Valid);
        assert_eq!(reply_of(check(&s, &option, "192.0.2.2".parse().expect("address"), 5000)).0, Verdict::Invalid);
        let mut flipped = option.clone();
        flipped[20] ^= 1;
        assert_eq!(reply_of(check(&s, &flipped, ip, 5000)).0, Verdict::Invalid);
        let mut v2 = option.clone();
        v2[8] = 2;
        assert_eq!(reply_of(check(&s, &v2, ip, 5000)).0, Verdict::Invalid, "unknown version");
        let eight = [client.as_slice(), &[1; 8]].concat();
        assert_eq!(
            reply_of(check(&s, &eight, ip, 5000)).0,
            Verdict::Invalid,
            "an 8-byte server cookie of another make"
        );
    }

    #[test]
    fn lengths_other_than_rfc_7873_allows_are_malformed() {
        let s = secrets(&[SECRET]);
        let ip: IpAddr = "192.0.2.1".parse().expect("address");
        for len in [0, 1, 7, 9, 15, 41, 60] {
            assert_eq!(check(&s, &vec![0; len], ip, 1), Presented::Malformed, "{len} bytes");
        }
        for len in [8, 16, 24, 40] {
            assert_ne!(check(&s, &vec![0; len], ip, 1), Presented::Malformed, "{len} bytes");
        }
    }

    #[test]
    fn a_secrets_file_says_which_line_is_wrong() {
        let parsed = Secrets::parse(
            "# made by dnsbl\n\ne5e973e5a6b2a43f48e7dc849e37bfcf\n445536bcd2513298075a5d379663c962 # next\n",
        );
        assert_eq!(parsed.map(|s| s.len()), Ok(2));
        let err = Secrets::parse("e5e973e5a6b2a43f48e7dc849e37bfcf\nnot-hex\n").expect_err("refused");
        assert_eq!(err.line, 2);
        assert!(Secrets::parse("# nothing\n").is_err());
        assert!(Secrets::parse("e5e973e5a6b2a43f48e7dc849e37bfc").is_err(), "31 digits");
        assert!(Secrets::parse("é5e973e5a6b2a43f48e7dc849e37bfc").is_err(), "not ASCII");
        assert_eq!(to_hex(&Secrets::parse(SECRET).expect("secret").0[0]), SECRET);
    }
}
