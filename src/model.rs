//! The vocabulary of a DNS blocklist: address prefixes, return codes, listings and exclusions.
//!
//! Pure types parsed at the edge so the rest of the code cannot hold a wrong one: a [`Prefix`] has
//! no host bits set, a [`ListingCode`] lies inside 127.0.0.0/8 and is never 127.0.0.1. No I/O here.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Bits of an IPv4-mapped IPv6 address (`::ffff:0:0/96`) above the embedded IPv4 address.
pub const V4_MAPPED_PREFIX: u128 = 0xffff_u128 << 32;

/// An IPv4 or IPv6 network prefix with all host bits zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prefix {
    /// IPv4: address bits and prefix length 0..=32.
    V4 { bits: u32, len: u8 },
    /// IPv6: address bits and prefix length 0..=128.
    V6 { bits: u128, len: u8 },
}

/// Why a text is not a prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("not an IP address or CIDR prefix: {0:?}")]
    Syntax(String),
    #[error("prefix length /{len} is longer than the address (max /{max})")]
    Length { len: u32, max: u8 },
    #[error("host bits are set in {given}; the network is {network}")]
    HostBits { given: String, network: Prefix },
}

impl Prefix {
    /// Builds a prefix, clearing host bits. `len` must not exceed the address width.
    pub fn masked_v4(bits: u32, len: u8) -> Prefix {
        let len = len.min(32);
        Prefix::V4 { bits: bits & mask32(len), len }
    }

    /// Builds an IPv6 prefix, clearing host bits; an IPv4-mapped prefix of /96 or longer becomes IPv4.
    pub fn masked_v6(bits: u128, len: u8) -> Prefix {
        let len = len.min(128);
        let bits = bits & mask128(len);
        if len >= 96 && bits & !0xffff_ffff_u128 == V4_MAPPED_PREFIX {
            return Prefix::V4 { bits: bits as u32, len: len - 96 };
        }
        Prefix::V6 { bits, len }
    }

    /// A single address as a host prefix (/32 or /128).
    pub fn host(ip: IpAddr) -> Prefix {
        match ip {
            IpAddr::V4(v4) => Prefix::V4 { bits: u32::from(v4), len: 32 },
            IpAddr::V6(v6) => Prefix::masked_v6(u128::from(v6), 128),
        }
    }

    /// Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `v6/n`. Host bits are refused, so a typo
    /// such as `203.0.113.9/24` is not silently widened.
    pub fn parse_strict(text: &str) -> Result<Prefix, PrefixError> {
        let parsed = Prefix::parse_masking(text)?;
        let (addr, _) = text.split_once('/').unwrap_or((text, ""));
        let given: IpAddr = addr.parse().map_err(|_| PrefixError::Syntax(text.to_string()))?;
        if Prefix::host(given).first_address() != parsed.first_address() {
            return Err(PrefixError::HostBits { given: text.to_string(), network: parsed });
        }
        Ok(parsed)
    }

    /// Parses like [`Prefix::parse_strict`] but clears host bits, as rbldnsd does.
    pub fn parse_masking(text: &str) -> Result<Prefix, PrefixError> {
        let syntax = || PrefixError::Syntax(text.to_string());
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| syntax())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) && l.len() <= 3 => {
                let n: u32 = l.parse().map_err(|_| syntax())?;
                if n > u32::from(max) {
                    return Err(PrefixError::Length { len: n, max });
                }
                n as u8
            }
            Some(_) => return Err(syntax()),
        };
        Ok(match ip {
            IpAddr::V4(v4) => Prefix::masked_v4(u32::from(v4), len),
            IpAddr::V6(v6) => Prefix::masked_v6(u128::from(v6), len),
        })
    }

    /// Whether this is an IPv4 prefix.
    pub fn is_v4(&self) -> bool {
        matches!(self, Prefix::V4 { .. })
    }

    /// Prefix length in bits.
    pub fn len(&self) -> u8 {
        match *self {
            Prefix::V4 { len, .. } | Prefix::V6 { len, .. } => len,
        }
    }

    /// True for the zero-length prefix (`0.0.0.0/0`, `::/0`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lowest address inside the prefix.
    pub fn first_address(&self) -> IpAddr {
        match *self {
            Prefix::V4 { bits, .. } => IpAddr::V4(Ipv4Addr::from(bits)),
            Prefix::V6 { bits, .. } => IpAddr::V6(Ipv6Addr::from(bits)),
        }
    }

    /// The prefix of `len` bits (at most this one's) that contains this one.
    pub fn truncated(&self, len: u8) -> Prefix {
        match *self {
            Prefix::V4 { bits, len: own } => Prefix::masked_v4(bits, len.min(own)),
            Prefix::V6 { bits, len: own } => {
                let len = len.min(own);
                Prefix::V6 { bits: bits & mask128(len), len }
            }
        }
    }

    /// The last address inside the prefix, as a host prefix.
    pub fn last_host(&self) -> Prefix {
        match *self {
            Prefix::V4 { bits, len } => Prefix::V4 { bits: bits | !mask32(len), len: 32 },
            Prefix::V6 { bits, len } => Prefix::V6 { bits: bits | !mask128(len), len: 128 },
        }
    }

    /// True when `ip` lies inside this prefix (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, Prefix::host(ip)) {
            (Prefix::V4 { bits, len }, Prefix::V4 { bits: a, .. }) => a & mask32(len) == bits,
            (Prefix::V6 { bits, len }, Prefix::V6 { bits: a, .. }) => a & mask128(len) == bits,
            _ => false,
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Prefix::V4 { bits, len } => write!(f, "{}/{}", Ipv4Addr::from(bits), len),
            Prefix::V6 { bits, len } => write!(f, "{}/{}", Ipv6Addr::from(bits), len),
        }
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Prefix::parse_strict(s)
    }
}

/// As its text (`45.67.8.0/24`), in records kept as JSON.
impl serde::Serialize for Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Network mask of `len` leading one bits (IPv4).
pub fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

/// Network mask of `len` leading one bits (IPv6).
pub fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// The fewest CIDR blocks (start, prefix length) that cover `first..=last` exactly, in an address
/// space `width` bits wide (32 or 128).
pub fn range_blocks(first: u128, last: u128, width: u32) -> impl Iterator<Item = (u128, u8)> {
    let low_mask = |bits: u32| !mask128((128 - bits.min(128)) as u8);
    let mut next = Some(first).filter(|&f| f <= last);
    std::iter::from_fn(move || {
        let start = next?;
        // The largest block aligned at `start` that ends at or before `last`.
        let mut size_bits = start.trailing_zeros().min(width);
        while size_bits > 0 && (start | low_mask(size_bits)) > last {
            size_bits -= 1;
        }
        let end = start | low_mask(size_bits);
        next = if end >= last { None } else { Some(end + 1) };
        Some((start, (width - size_bits) as u8))
    })
}

/// A DNSBL return code: an address in 127.0.0.0/8, never 127.0.0.0, 127.0.0.1 or 127.255.255.0/24
/// (that range is reserved for signalling errors to clients, which we never do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListingCode(Ipv4Addr);

/// Why an address is not a usable return code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("return code {0} is not an IPv4 address")]
    Syntax(String),
    #[error("return code {0} is outside 127.0.0.0/8")]
    NotLoopback(Ipv4Addr),
    #[error("return code {0} is reserved (127.0.0.0 and 127.0.0.1 mean 'not listed' to clients)")]
    Reserved(Ipv4Addr),
    #[error("return code {0} lies in 127.255.255.0/24, which lists use to signal errors")]
    ErrorRange(Ipv4Addr),
}

impl ListingCode {
    /// The RFC 5782 test code and our "registered marketer" code.
    pub const REGISTERED: ListingCode = ListingCode(Ipv4Addr::new(127, 0, 0, 2));
    /// An operator listing of a marketing source.
    pub const OPERATOR: ListingCode = ListingCode(Ipv4Addr::new(127, 0, 0, 3));
    /// A listing from evidence under a policy.
    pub const EVIDENCE: ListingCode = ListingCode(Ipv4Addr::new(127, 0, 0, 4));

    /// Validates a return code.
    pub fn new(ip: Ipv4Addr) -> Result<ListingCode, CodeError> {
        let o = ip.octets();
        if o[0] != 127 {
            return Err(CodeError::NotLoopback(ip));
        }
        if u32::from(ip) <= u32::from(Ipv4Addr::new(127, 0, 0, 1)) {
            return Err(CodeError::Reserved(ip));
        }
        if o[1] == 255 && o[2] == 255 {
            return Err(CodeError::ErrorRange(ip));
        }
        Ok(ListingCode(ip))
    }

    /// Parses a full address (`127.0.0.3`) or rbldnsd's short forms (`3` = 127.0.0.3, `1.3` = 127.0.1.3).
    pub fn parse_short(text: &str) -> Result<ListingCode, CodeError> {
        let syntax = || CodeError::Syntax(text.to_string());
        let parts: Vec<&str> = text.split('.').collect();
        if parts.is_empty() || parts.len() > 4 {
            return Err(syntax());
        }
        let mut octets = [127u8, 0, 0, 0];
        let start = 4 - parts.len();
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            octets[start + i] = part.parse().map_err(|_| syntax())?;
        }
        ListingCode::new(Ipv4Addr::from(octets))
    }

    /// The address to put in the A record.
    pub fn addr(self) -> Ipv4Addr {
        self.0
    }
}

impl fmt::Display for ListingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ListingCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ip: Ipv4Addr = s.parse().map_err(|_| CodeError::Syntax(s.to_string()))?;
        ListingCode::new(ip)
    }
}

/// Longest TXT string a single DNS character-string can carry.
pub const MAX_TXT_BYTES: usize = 255;

/// What a listed address answers: its return codes (sorted, unique, at least one) and an optional
/// TXT template (`$` = the queried address); without one the zone's default template applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Listing {
    codes: Vec<ListingCode>,
    reason: Option<String>,
}

/// Why a listing value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error("a listing needs at least one return code")]
    NoCodes,
    #[error("reason is {0} bytes; a TXT string holds at most 255")]
    ReasonTooLong(usize),
    #[error("reason contains a control character")]
    ReasonControl,
}

impl Listing {
    /// Builds a listing; codes are sorted and de-duplicated.
    pub fn new(mut codes: Vec<ListingCode>, reason: Option<String>) -> Result<Listing, ListingError> {
        codes.sort();
        codes.dedup();
        if codes.is_empty() {
            return Err(ListingError::NoCodes);
        }
        if let Some(r) = &reason {
            validate_txt(r)?;
        }
        Ok(Listing { codes, reason })
    }

    /// The return codes, one A record each.
    pub fn codes(&self) -> &[ListingCode] {
        &self.codes
    }

    /// The entry's own TXT template, if any.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

/// Checks that a TXT template fits one character-string and has no control characters.
pub fn validate_txt(text: &str) -> Result<(), ListingError> {
    if text.len() > MAX_TXT_BYTES {
        return Err(ListingError::ReasonTooLong(text.len()));
    }
    if text.chars().any(char::is_control) {
        return Err(ListingError::ReasonControl);
    }
    Ok(())
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it carries; any other
/// address as it is.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Expands a TXT template: `$` becomes the queried address, `$$` a literal `$`. The result is cut
/// to 255 bytes at a character boundary.
pub fn expand_txt(template: &str, ip: IpAddr) -> String {
    let mut out = Vec::with_capacity(template.len() + 16);
    expand_txt_into(template, ip, &mut out);
    // Only whole UTF-8 characters are ever written, so this never replaces anything.
    String::from_utf8_lossy(&out).into_owned()
}

/// Like [`expand_txt`], appending to `out` without allocating when it has room.
pub fn expand_txt_into(template: &str, ip: IpAddr, out: &mut Vec<u8>) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    expand_into(template, out, |out| drop(write!(out, "{ip}")));
}

/// A TXT template with `$` as `text` instead of an address (a wildcard's network), `$$` a `$`,
/// cut as [`expand_txt`] cuts.
pub fn expand_txt_with(template: &str, text: &str) -> String {
    let mut out = Vec::with_capacity(template.len() + text.len());
    expand_into(template, &mut out, |out| out.extend_from_slice(text.as_bytes()));
    String::from_utf8_lossy(&out).into_owned()
}

/// The template's expansion appended to `out`, `dollar` writing what `$` stands for; cut to
/// [`MAX_TXT_BYTES`] at a character boundary.
fn expand_into(template: &str, out: &mut Vec<u8>, dollar: impl Fn(&mut Vec<u8>)) {
    let start = out.len();
    let mut rest = template.as_bytes();
    while let Some(i) = rest.iter().position(|&b| b == b'$') {
        out.extend_from_slice(&rest[..i]);
        if rest.get(i + 1) == Some(&b'$') {
            out.push(b'$');
            rest = &rest[i + 2..];
        } else {
            dollar(out);
            rest = &rest[i + 1..];
        }
    }
    out.extend_from_slice(rest);
    if out.len() - start > MAX_TXT_BYTES {
        let mut end = start + MAX_TXT_BYTES;
        // Back up to the first byte of a UTF-8 character.
        while end > start && out[end] & 0xc0 == 0x80 {
            end -= 1;
        }
        out.truncate(end);
    }
}

/// What the list says about a prefix: listed with a value, or excluded from a wider listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Listed(Listing),
    Excluded,
}

/// What a change did, for the audit trail (listings, imports, the marketer registry). The
/// discriminant is the byte stored for it (`store::encoding`): never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    AddListing = 1,
    RemoveListing = 2,
    AddExclusion = 3,
    RemoveExclusion = 4,
    Expired = 5,
    /// A whole-list replacement (recorded at 0.0.0.0/0 and ::/0, as it affects every address).
    Import = 6,
    /// A marketer declared a sending prefix.
    Register = 7,
    /// A marketer withdrew a declaration.
    Unregister = 8,
    /// The operator verified a network for a marketer.
    AddNetwork = 9,
    RemoveNetwork = 10,
    /// The operator suspended a marketer (its networks lose their protection).
    Suspend = 11,
    Resume = 12,
    AddMarketer = 13,
    RotateToken = 14,
    /// A whole dataset removed from a zone (recorded at 0.0.0.0/0 and ::/0).
    RemoveDataset = 15,
}

impl AuditAction {
    /// The action as a word for people and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::AddListing => "add-listing",
            AuditAction::RemoveListing => "remove-listing",
            AuditAction::AddExclusion => "add-exclusion",
            AuditAction::RemoveExclusion => "remove-exclusion",
            AuditAction::Expired => "expired",
            AuditAction::Import => "import",
            AuditAction::Register => "register",
            AuditAction::Unregister => "unregister",
            AuditAction::AddNetwork => "add-network",
            AuditAction::RemoveNetwork => "remove-network",
            AuditAction::Suspend => "suspend",
            AuditAction::Resume => "resume",
            AuditAction::AddMarketer => "add-marketer",
            AuditAction::RotateToken => "rotate-token",
            AuditAction::RemoveDataset => "remove-dataset",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_and_mask() {
        assert_eq!(Prefix::parse_strict("10.0.0.0/8"), Ok(Prefix::V4 { bits: 0x0a00_0000, len: 8 }));
        assert_eq!(Prefix::parse_strict("10.1.2.3"), Ok(Prefix::V4 { bits: 0x0a01_0203, len: 32 }));
        assert!(matches!(Prefix::parse_strict("10.0.0.1/8"), Err(PrefixError::HostBits { .. })));
        assert_eq!(Prefix::parse_masking("10.0.0.1/8"), Ok(Prefix::V4 { bits: 0x0a00_0000, len: 8 }));
        assert!(matches!(Prefix::parse_strict("10.0.0.0/33"), Err(PrefixError::Length { .. })));
        assert!(matches!(Prefix::parse_strict("10.0.0.0/"), Err(PrefixError::Syntax(_))));
        assert!(matches!(Prefix::parse_strict("10.0.0.0/+8"), Err(PrefixError::Syntax(_))));
        assert!(matches!(Prefix::parse_strict("nonsense"), Err(PrefixError::Syntax(_))));
        assert_eq!(Prefix::parse_strict("2001:db8::/32").map(|p| p.len()), Ok(32));
        // IPv4-mapped IPv6 is IPv4.
        assert_eq!(Prefix::parse_strict("::ffff:127.0.0.2"), Ok(Prefix::V4 { bits: 0x7f00_0002, len: 32 }));
        assert_eq!(Prefix::parse_strict("::ffff:10.0.0.0/104"), Ok(Prefix::V4 { bits: 0x0a00_0000, len: 8 }));
        assert_eq!(Prefix::parse_strict("0.0.0.0/0").map(|p| p.is_empty()), Ok(true));
    }

    #[test]
    fn prefix_display_round_trips() {
        for text in ["198.51.100.0/24", "2001:db8::/48", "0.0.0.0/0", "::/0", "1.2.3.4/32"] {
            let p: Prefix = text.parse().expect("valid");
            assert_eq!(p.to_string().parse::<Prefix>(), Ok(p));
        }
    }

    #[test]
    fn truncation_and_last_host() {
        let p: Prefix = "198.51.100.7".parse().expect("prefix");
        assert_eq!(p.truncated(24).to_string(), "198.51.100.0/24");
        assert_eq!(p.truncated(40), p);
        let six: Prefix = "2001:db8::/32".parse().expect("prefix");
        assert_eq!(six.truncated(0).to_string(), "::/0");
        assert_eq!(six.last_host().to_string(), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128");
        assert_eq!(p.truncated(24).last_host().to_string(), "198.51.100.255/32");
    }

    #[test]
    fn contains_respects_family() {
        let p: Prefix = "198.51.100.0/24".parse().expect("valid");
        assert!(p.contains("198.51.100.7".parse().expect("ip")));
        assert!(p.contains("::ffff:198.51.100.7".parse().expect("ip")));
        assert!(!p.contains("198.51.101.7".parse().expect("ip")));
        assert!(!p.contains("2001:db8::1".parse().expect("ip")));
    }

    #[test]
    fn codes_are_checked() {
        assert!(ListingCode::new(Ipv4Addr::new(127, 0, 0, 2)).is_ok());
        assert_eq!(
            ListingCode::new(Ipv4Addr::new(127, 0, 0, 1)),
            Err(CodeError::Reserved(Ipv4Addr::new(127, 0, 0, 1)))
        );
        assert!(matches!(ListingCode::new(Ipv4Addr::new(10, 0, 0, 2)), Err(CodeError::NotLoopback(_))));
        assert!(matches!(ListingCode::new(Ipv4Addr::new(127, 255, 255, 254)), Err(CodeError::ErrorRange(_))));
        assert_eq!(ListingCode::parse_short("3").map(|c| c.to_string()), Ok("127.0.0.3".into()));
        assert_eq!(ListingCode::parse_short("1.3").map(|c| c.to_string()), Ok("127.0.1.3".into()));
        assert_eq!(ListingCode::parse_short("127.0.0.4").map(|c| c.to_string()), Ok("127.0.0.4".into()));
        assert!(ListingCode::parse_short("1").is_err());
        assert!(ListingCode::parse_short("x").is_err());
        assert!(ListingCode::parse_short("1.2.3.4.5").is_err());
    }

    #[test]
    fn txt_templates_expand() {
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        assert_eq!(expand_txt("see http://x/?$", ip), "see http://x/?192.0.2.1");
        assert_eq!(expand_txt("costs $$5", ip), "costs $5");
        let long = "é".repeat(200);
        let out = expand_txt(&long, ip);
        assert!(out.len() <= 255 && out.is_char_boundary(out.len()));
    }

    #[test]
    fn listing_sorts_codes_and_checks_reason() {
        let l = Listing::new(vec![ListingCode::OPERATOR, ListingCode::REGISTERED, ListingCode::OPERATOR], None)
            .expect("valid");
        assert_eq!(l.codes(), &[ListingCode::REGISTERED, ListingCode::OPERATOR]);
        assert_eq!(Listing::new(vec![], None), Err(ListingError::NoCodes));
        assert_eq!(
            Listing::new(vec![ListingCode::OPERATOR], Some("x".repeat(256))),
            Err(ListingError::ReasonTooLong(256))
        );
        assert_eq!(Listing::new(vec![ListingCode::OPERATOR], Some("a\nb".into())), Err(ListingError::ReasonControl));
    }

    fn blocks(first: u128, last: u128, width: u32) -> Vec<(u128, u8)> {
        range_blocks(first, last, width).collect()
    }

    #[test]
    fn ranges_split_into_the_fewest_aligned_blocks() {
        assert_eq!(blocks(0, u128::from(u32::MAX), 32), [(0, 0)]);
        assert_eq!(blocks(0, u128::MAX, 128), [(0, 0)]);
        assert_eq!(blocks(u128::MAX, u128::MAX, 128), [(u128::MAX, 128)]);
        assert_eq!(blocks(7, 7, 32), [(7, 32)]);
        // 10.0.0.1 - 10.0.0.6: .1/32, .2/31, .4/31, .6/32
        let base = 0x0a00_0000;
        assert_eq!(blocks(base + 1, base + 6, 32), [(base + 1, 32), (base + 2, 31), (base + 4, 31), (base + 6, 32)]);
        assert!(blocks(5, 4, 32).is_empty());
    }

    #[test]
    fn blocks_cover_the_range_exactly() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let a = u128::from(seed as u16);
            let b = u128::from((seed >> 16) as u16);
            let (first, last) = (a.min(b), a.max(b));
            let mut at = first;
            for (start, len) in range_blocks(first, last, 32) {
                assert_eq!(start, at, "contiguous");
                let size = 1u128 << (32 - u32::from(len));
                assert_eq!(start % size, 0, "aligned");
                at = start + size;
            }
            assert_eq!(at, last + 1, "{first}..={last}");
        }
    }
}
