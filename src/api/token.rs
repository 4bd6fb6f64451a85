//! API tokens. The operator token: 256 random bits, hex, created on first start in the data
//! directory with mode 0600, and compared in constant time. Marketer tokens: 256 random bits,
//! shown once when made; only their SHA-256 is stored.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::config::operator_token_path;

/// Reads the operator token, creating it (mode 0600) if the file does not exist yet.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    let path = operator_token_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {
            return Err(std::io::Error::other(format!("{} is empty; delete it to get a new token", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token = random_hex(32)?;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    file.write_all(format!("{token}\n").as_bytes())?;
    file.sync_all()?;
    Ok(token)
}

/// Fills `out` with random bytes from the kernel.
pub fn random_bytes(out: &mut [u8]) -> std::io::Result<()> {
    std::fs::File::open("/dev/urandom")?.read_exact(out)
}

/// `n` random bytes from the kernel, as lower-case hex.
pub fn random_hex(n: usize) -> std::io::Result<String> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Prefix of marketer tokens (so a leaked one is recognisable in logs and secret scanners).
pub const MARKETER_TOKEN_PREFIX: &str = "dnsbl_mk_";

/// A new marketer token: the prefix and 256 random bits in hex.
pub fn new_marketer_token() -> std::io::Result<String> {
    Ok(format!("{MARKETER_TOKEN_PREFIX}{}", random_hex(32)?))
}

/// Prefix of reporter tokens.
pub const REPORTER_TOKEN_PREFIX: &str = "dnsbl_rp_";

/// A new reporter token: the prefix and 256 random bits in hex.
pub fn new_reporter_token() -> std::io::Result<String> {
    Ok(format!("{REPORTER_TOKEN_PREFIX}{}", random_hex(32)?))
}

/// The SHA-256 of a token: what the registry stores and looks tokens up by.
pub fn hash(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// Constant-time comparison (the time does not depend on where the strings differ).
pub fn matches(given: &str, expected: &str) -> bool {
    same_bytes(given.as_bytes(), expected.as_bytes()) && !expected.is_empty()
}

/// Constant-time equality of two byte strings (the time depends on `expected`'s length only).
pub fn same_bytes(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, expected_byte) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ expected_byte);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(dir.path()).expect("create");
        assert_eq!(first.len(), 64);
        let mode = std::fs::metadata(operator_token_path(dir.path())).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(dir.path()).expect("read"), first);
    }

    #[test]
    fn marketer_tokens_are_random_and_hashed() {
        let (a, b) = (new_marketer_token().expect("token"), new_marketer_token().expect("token"));
        assert_ne!(a, b);
        assert_eq!(a.len(), MARKETER_TOKEN_PREFIX.len() + 64);
        // SHA-256("abc"), FIPS 180-2 example.
        assert_eq!(hash("abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }

    #[test]
    fn comparison() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abd", "abc"));
        assert!(!matches("ab", "abc"));
        assert!(!matches("abcd", "abc"));
        assert!(!matches("", ""));
    }
}
