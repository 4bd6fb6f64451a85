//! Reader for rbldnsd data files (`ip4set`, `ip4trie`, `ip6trie`), one line at a time.
//!
//! Pure and streaming: the caller feeds lines and gets [`Item`]s back, so a 10M-line file never
//! sits in memory. Accepted syntax (see `man rbldnsd`): CIDR prefixes, partial addresses
//! (`127.0.0` = /24), `a.b.c.d-e.f.g.h` and short ranges (`127.0.0.1-255`), IPv6 with or without
//! `::` (trailing groups may be left out), `:A:TXT` values with short codes (`:3:`), default-value
//! lines (`:3:text`), `!` exclusions, `$SOA`, `$NS`, `$TTL`, `$MAXRANGE4`, `$TIMESTAMP`,
//! `$1`..`$9` variables, the `$=` base template, and `#`/`;` comments. A line that cannot be read
//! is an error naming the line; nothing is guessed.

use std::net::Ipv6Addr;

use crate::model::{mask128, mask32, validate_txt, Listing, ListingCode, Prefix};
use crate::name::DatasetName;

/// Which rbldnsd dataset type the file is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataset {
    /// IPv4 and IPv6 lines, ranges allowed (the union of the three types below).
    Auto,
    /// IPv4 prefixes and ranges.
    Ip4Set,
    /// IPv4 CIDR prefixes only.
    Ip4Trie,
    /// IPv6 CIDR prefixes only.
    Ip6Trie,
}

impl Dataset {
    /// The type's name, as `--type` and an import part's name give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Auto => "auto",
            Dataset::Ip4Set => "ip4set",
            Dataset::Ip4Trie => "ip4trie",
            Dataset::Ip6Trie => "ip6trie",
        }
    }
}

impl std::str::FromStr for Dataset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Dataset::Auto),
            "ip4set" => Ok(Dataset::Ip4Set),
            "ip4trie" => Ok(Dataset::Ip4Trie),
            "ip6trie" => Ok(Dataset::Ip6Trie),
            other => Err(format!("unknown dataset type {other:?} (auto, ip4set, ip4trie, ip6trie)")),
        }
    }
}

/// What one data line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// These prefixes (one CIDR, or the CIDRs covering a range) are listed with this value.
    Listed { prefixes: Vec<Prefix>, listing: Listing },
    /// These prefixes are excluded.
    Excluded { prefixes: Vec<Prefix> },
    /// The entry is wider than `$MAXRANGE4` allows and is skipped, as rbldnsd does.
    SkippedWide { prefixes: Vec<Prefix> },
    /// A `$DATASET type[:name] @` line of a `combined` file: the lines that follow belong to a
    /// dataset of their own, named by `name` (lowercased) when the line gives one.
    Section { name: Option<DatasetName> },
}

/// `$SOA`, `$NS` and `$TTL` values met in the file (the first of each counts, as in rbldnsd).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    /// `ttl origin-dn person-dn serial refresh retry expire minttl`, times in seconds.
    pub soa: Option<(u32, String, String, u32, [u32; 4])>,
    /// `ttl` and name server names.
    pub ns: Option<(u32, Vec<String>)>,
    pub ttl: Option<u32>,
}

/// Reads lines of one file, keeping the scope rbldnsd keeps (default value, variables).
#[derive(Debug)]
pub struct Parser {
    dataset: Dataset,
    initial_code: ListingCode,
    default_code: ListingCode,
    default_txt: Option<String>,
    vars: [Option<String>; 10],
    base: Option<String>,
    max_range4: u8,
    /// Directives seen so far.
    pub directives: Directives,
}

type LineResult<T> = Result<T, String>;

enum TxtSpec {
    Inherit,
    NoText,
    Text(String),
}

impl Parser {
    /// A parser for `dataset`; entries without an A value get `default_code` until a
    /// default-value line says otherwise.
    pub fn new(dataset: Dataset, default_code: ListingCode) -> Parser {
        Parser {
            dataset,
            initial_code: default_code,
            default_code,
            default_txt: None,
            vars: Default::default(),
            base: None,
            max_range4: 0,
            directives: Directives::default(),
        }
    }

    /// Reads one line. `Ok(None)` for blank lines, comments, directives and default-value lines.
    pub fn line(&mut self, line: &str) -> LineResult<Option<Item>> {
        let line = line.trim_end_matches(['\r', '\n']).trim();
        if let Some(rest) = line.strip_prefix('$') {
            return self.directive(rest, true);
        }
        if let Some(rest) = line.strip_prefix("#$").or_else(|| line.strip_prefix(";$")) {
            return self.directive(rest, false);
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            return Ok(None);
        }
        if let Some(value) = line.strip_prefix(':').filter(|_| !self.starts_with_v6(line)) {
            let (code, txt) = parse_value(&format!(":{value}"))?;
            self.default_code = code.unwrap_or(self.default_code);
            self.default_txt = match txt {
                TxtSpec::Text(t) => Some(t),
                TxtSpec::NoText | TxtSpec::Inherit => None,
            };
            return Ok(None);
        }
        if let Some(rest) = line.strip_prefix('!') {
            let (prefixes, _) = self.address(rest.trim_start())?;
            return Ok(Some(Item::Excluded { prefixes }));
        }
        let (prefixes, value) = self.address(line)?;
        if self.too_wide(&prefixes) {
            return Ok(Some(Item::SkippedWide { prefixes }));
        }
        let listing = self.value(value)?;
        Ok(Some(Item::Listed { prefixes, listing }))
    }

    /// `::1` is an address, `::text` or `:2:text` a default value.
    fn starts_with_v6(&self, line: &str) -> bool {
        let token = line.split_whitespace().next().unwrap_or("");
        line.starts_with("::") && !matches!(self.dataset, Dataset::Ip4Set | Dataset::Ip4Trie) && parse_v6(token).is_ok()
    }

    fn directive(&mut self, rest: &str, strict: bool) -> LineResult<Option<Item>> {
        let mut words = rest.split_whitespace();
        let keyword = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        match keyword {
            "SOA" => {
                if args.len() != 8 {
                    return Err("$SOA needs: ttl origin-dn person-dn serial refresh retry expire minttl".into());
                }
                let ttl = parse_time(args[0])?;
                let serial = args[3].parse().map_err(|_| format!("$SOA serial {:?} is not a number", args[3]))?;
                let times = [parse_time(args[4])?, parse_time(args[5])?, parse_time(args[6])?, parse_time(args[7])?];
                self.directives.soa.get_or_insert((ttl, args[1].to_string(), args[2].to_string(), serial, times));
            }
            "NS" => {
                if args.len() < 2 {
                    return Err("$NS needs: ttl nameserver...".into());
                }
                let ttl = parse_time(args[0])?;
                let names = args[1..].iter().filter(|n| !n.starts_with('-')).map(|n| n.to_string()).collect();
                self.directives.ns.get_or_insert((ttl, names));
            }
            "TTL" => match args.as_slice() {
                [t] => self.directives.ttl = Some(parse_time(t)?),
                _ => return Err("$TTL needs one time value".into()),
            },
            "MAXRANGE4" => match args.as_slice() {
                [r] => {
                    let len = parse_maxrange(r)?;
                    // Can be narrowed but never widened again, as in rbldnsd.
                    self.max_range4 = self.max_range4.max(len);
                }
                _ => return Err("$MAXRANGE4 needs one value (/24 or 256)".into()),
            },
            "TIMESTAMP" => {}
            // A `combined` file: each section is its own dataset with its own defaults.
            "DATASET" => {
                let (kind, subzones) = args.split_first().ok_or("$DATASET needs a type and subzones")?;
                if subzones.is_empty() || subzones.iter().any(|z| *z != "@") {
                    return Err("only $DATASET sections for the zone itself (@) can be imported".into());
                }
                let (kind, name) = kind.split_once(':').map_or((*kind, None), |(k, n)| (k, Some(n)));
                self.dataset = match kind {
                    "ip4set" | "ip4tset" => Dataset::Ip4Set,
                    "ip4trie" => Dataset::Ip4Trie,
                    "ip6trie" | "ip6tset" => Dataset::Ip6Trie,
                    other => return Err(format!("dataset type {other:?} is not supported (ip4set, ip4trie, ip6trie)")),
                };
                let name = match name.filter(|n| !n.is_empty()) {
                    None => None,
                    Some(n) => Some(DatasetName::parse(&n.to_ascii_lowercase()).map_err(|e| e.to_string())?),
                };
                self.default_code = self.initial_code;
                self.default_txt = None;
                self.vars = Default::default();
                self.base = None;
                self.max_range4 = 0;
                return Ok(Some(Item::Section { name }));
            }
            "=" => self.base = Some(args.join(" ")),
            k if k.len() == 1 && k.as_bytes()[0].is_ascii_digit() => {
                self.vars[usize::from(k.as_bytes()[0] - b'0')] = Some(args.join(" "));
            }
            _ if !strict => {}
            other => return Err(format!("unknown special entry ${other}")),
        }
        Ok(None)
    }

    /// Parses the address part; returns the prefixes and the rest of the line.
    fn address<'l>(&self, line: &'l str) -> LineResult<(Vec<Prefix>, &'l str)> {
        let token_end = line.find(char::is_whitespace).unwrap_or(line.len());
        let token = &line[..token_end];
        let is_v4 = match (token.find('.'), token.find(':')) {
            (_, None) => true,
            (Some(dot), Some(colon)) => dot < colon,
            (None, Some(_)) => false,
        };
        if is_v4 {
            let end = token.find(':').unwrap_or(token_end);
            if self.dataset == Dataset::Ip6Trie {
                return Err(format!("{:?} is an IPv4 entry in an ip6trie file", &line[..end]));
            }
            Ok((self.v4_entry(&line[..end])?, line[end..].trim_start()))
        } else {
            if matches!(self.dataset, Dataset::Ip4Set | Dataset::Ip4Trie) {
                return Err(format!("{token:?} is an IPv6 entry in an IPv4 file"));
            }
            Ok((vec![parse_v6(token)?], line[token_end..].trim_start()))
        }
    }

    fn v4_entry(&self, text: &str) -> LineResult<Vec<Prefix>> {
        if let Some((lo, hi)) = text.split_once('-') {
            if self.dataset == Dataset::Ip4Trie {
                return Err(format!("ranges like {text:?} are not allowed in ip4trie files; use CIDR"));
            }
            let (first, n) = parse_octets(lo)?;
            let last = parse_range_end(&first[..n], hi)?;
            let (first, last) = (u32::from_be_bytes(first), u32::from_be_bytes(last));
            if last < first {
                return Err(format!("range {text:?} ends before it starts"));
            }
            return Ok(range_to_prefixes(first, last));
        }
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let (octets, n) = parse_octets(addr)?;
        let len = match len {
            None => (n * 8) as u8,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= 32 && l.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(format!("bad prefix length in {text:?}")),
            },
        };
        let bits = u32::from_be_bytes(octets);
        if bits & !mask32(len) != 0 {
            return Err(host_bits(text, Prefix::masked_v4(bits, len)));
        }
        Ok(vec![Prefix::masked_v4(bits, len)])
    }

    fn too_wide(&self, prefixes: &[Prefix]) -> bool {
        self.max_range4 > 0
            && prefixes.iter().any(|p| matches!(p, Prefix::V4 { .. }))
            && range_size_log2(prefixes) > 32 - u32::from(self.max_range4)
    }

    fn value(&self, value: &str) -> LineResult<Listing> {
        let (code, txt) = if value.is_empty() || value.starts_with('#') || value.starts_with(';') {
            (None, TxtSpec::Inherit)
        } else {
            parse_value(value)?
        };
        let text = match txt {
            TxtSpec::Inherit => self.default_txt.clone(),
            TxtSpec::NoText => None,
            TxtSpec::Text(t) => Some(t),
        };
        let text = text.map(|t| self.expand_vars(&t)).filter(|t| !t.is_empty());
        if let Some(t) = &text {
            validate_txt(t).map_err(|e| format!("TXT template: {e}"))?;
        }
        Listing::new(vec![code.unwrap_or(self.default_code)], text).map_err(|e| e.to_string())
    }

    /// Applies the `$=` base template and `$1`..`$9`; leaves `$` and `$$` for query time.
    fn expand_vars(&self, text: &str) -> String {
        let text = match (&self.base, text.strip_prefix('=')) {
            (_, Some(own)) => own.to_string(),
            (Some(base), None) => base.replace("$=", if text.is_empty() { "$" } else { text }),
            (None, None) => text.to_string(),
        };
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek().copied()) {
                ('$', Some('$')) => {
                    chars.next();
                    out.push_str("$$");
                }
                ('$', Some(d)) if d.is_ascii_digit() => {
                    chars.next();
                    let i = d as usize - '0' as usize;
                    out.push_str(self.vars[i].as_deref().unwrap_or(""));
                }
                _ => out.push(c),
            }
        }
        out
    }
}

/// `:A:TXT`, `:A`, `:A:`, or plain text.
fn parse_value(value: &str) -> LineResult<(Option<ListingCode>, TxtSpec)> {
    let Some(rest) = value.strip_prefix(':') else {
        return Ok((None, TxtSpec::Text(value.to_string())));
    };
    let (a, txt) = match rest.split_once(':') {
        Some((a, t)) => (a.trim(), Some(t.trim_start())),
        None => (rest.trim(), None),
    };
    let code =
        if a.is_empty() { None } else { Some(ListingCode::parse_short(a).map_err(|e| format!("A value {a:?}: {e}"))?) };
    let txt = match txt {
        None => TxtSpec::Inherit,
        Some("") => TxtSpec::NoText,
        Some(t) => TxtSpec::Text(t.to_string()),
    };
    Ok((code, txt))
}

/// 1 to 4 dotted decimal octets; missing ones are zero. Returns the octets and how many were given.
fn parse_octets(text: &str) -> LineResult<([u8; 4], usize)> {
    let mut out = [0u8; 4];
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return Err(format!("{text:?} has more than four octets"));
    }
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{text:?} is not an IPv4 address or prefix"));
        }
        out[i] = p.parse().map_err(|_| format!("octet {p:?} in {text:?} is over 255"))?;
    }
    Ok((out, parts.len()))
}

/// The last address of a range: `hi` completed with 255s; a single octet replaces the last
/// octet given in the first boundary (`127.16-31` = 127.16.0.0-127.31.255.255).
fn parse_range_end(first: &[u8], hi: &str) -> LineResult<[u8; 4]> {
    let (mut octets, n) = parse_octets(hi)?;
    if n == 1 && first.len() > 1 {
        let v = octets[0];
        octets = [0; 4];
        octets[..first.len()].copy_from_slice(first);
        octets[first.len() - 1] = v;
        octets[first.len()..].fill(255);
    } else {
        octets[n..].fill(255);
    }
    Ok(octets)
}

/// IPv6 as rbldnsd reads it: `::` forms, or up to eight groups with trailing zero groups left
/// out (`2001:db8:1` = 2001:db8:1::/48 when no length is given).
fn parse_v6(text: &str) -> LineResult<Prefix> {
    let bad = || format!("{text:?} is not an IPv6 address or prefix");
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok().filter(|&l| l <= 128).ok_or_else(bad)?)),
        None => (text, None),
    };
    if addr.contains("::") || addr.contains('.') {
        let ip: Ipv6Addr = addr.parse().map_err(|_| bad())?;
        return v6_prefix(text, u128::from(ip), len.unwrap_or(128));
    }
    let groups: Vec<&str> = addr.split(':').collect();
    if groups.is_empty() || groups.len() > 8 {
        return Err(bad());
    }
    let mut bits: u128 = 0;
    for (i, g) in groups.iter().enumerate() {
        if g.is_empty() || g.len() > 4 {
            return Err(bad());
        }
        let v = u16::from_str_radix(g, 16).map_err(|_| bad())?;
        bits |= u128::from(v) << (112 - 16 * i);
    }
    v6_prefix(text, bits, len.unwrap_or((groups.len() * 16) as u8))
}

fn v6_prefix(text: &str, bits: u128, len: u8) -> LineResult<Prefix> {
    if bits & !mask128(len) != 0 {
        return Err(host_bits(text, Prefix::masked_v6(bits, len)));
    }
    Ok(Prefix::masked_v6(bits, len))
}

/// rbldnsd ignores such entries with a warning (unless run with -e) to catch typos; we refuse them.
fn host_bits(text: &str, network: Prefix) -> String {
    format!("host bits are set in {text:?}; the network is {network} (rbldnsd ignores such lines)")
}

/// The fewest CIDR prefixes covering exactly `first..=last`.
pub fn range_to_prefixes(first: u32, last: u32) -> Vec<Prefix> {
    crate::model::range_blocks(u128::from(first), u128::from(last), 32)
        .map(|(start, len)| Prefix::masked_v4(start as u32, len))
        .collect()
}

/// log2 of the number of addresses the prefixes cover (rounded up).
fn range_size_log2(prefixes: &[Prefix]) -> u32 {
    let total: u64 = prefixes.iter().map(|p| 1u64 << (32 - u32::from(p.len().min(32)))).sum();
    64 - (total - 1).leading_zeros()
}

/// `/24` or a host count (`256`) as a prefix length.
fn parse_maxrange(text: &str) -> LineResult<u8> {
    if let Some(l) = text.strip_prefix('/') {
        return l.parse::<u8>().ok().filter(|&l| l <= 32).ok_or_else(|| format!("bad $MAXRANGE4 {text:?}"));
    }
    let n: u64 = text.parse().map_err(|_| format!("bad $MAXRANGE4 {text:?}"))?;
    if n == 0 || n > 1 << 32 {
        return Err(format!("bad $MAXRANGE4 {text:?}"));
    }
    Ok((32 - (64 - (n - 1).leading_zeros())).min(32) as u8)
}

/// A time value: seconds, or a number with unit s, m, h, d or w.
fn parse_time(text: &str) -> LineResult<u32> {
    let (num, mult) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1),
        Some((i, 'm')) => (&text[..i], 60),
        Some((i, 'h')) => (&text[..i], 3600),
        Some((i, 'd')) => (&text[..i], 86_400),
        Some((i, 'w')) => (&text[..i], 604_800),
        _ => (text, 1),
    };
    num.parse::<u32>().ok().and_then(|n| n.checked_mul(mult)).ok_or_else(|| format!("bad time value {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        Prefix::parse_masking(s).expect("prefix")
    }

    fn listed(parser: &mut Parser, line: &str) -> (Vec<Prefix>, Listing) {
        match parser.line(line) {
            Ok(Some(Item::Listed { prefixes, listing })) => (prefixes, listing),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn parser() -> Parser {
        Parser::new(Dataset::Auto, ListingCode::OPERATOR)
    }

    #[test]
    fn ip4_forms_from_the_manual() {
        let mut ps = parser();
        for form in ["127.0.0.0/24", "127.0.0", "127/24", "127-127.0.0", "127.0.0.0-127.0.0.255"] {
            assert_eq!(listed(&mut ps, form).0, vec![p("127.0.0.0/24")], "{form}");
        }
        for form in [
            "127.16.0.0-127.31.255.255",
            "127.16.0-127.31.255",
            "127.16-127.31",
            "127.16-31",
            "127.16.0.0/12",
            "127.16/12",
        ] {
            assert_eq!(listed(&mut ps, form).0, vec![p("127.16.0.0/12")], "{form}");
        }
        assert_eq!(listed(&mut ps, "127.16.0-31").0, vec![p("127.16.0.0/19")]);
        assert_eq!(listed(&mut ps, "127.0.0.1-255").0.len(), 8);
        assert!(ps.line("10.0.0.1/8").expect_err("host bits").contains("the network is 10.0.0.0/8"));
        assert!(ps.line("2001:db8::1/32").expect_err("host bits").contains("the network is 2001:db8::/32"));
    }

    #[test]
    fn ip6_forms_from_the_manual() {
        let mut ps = parser();
        assert_eq!(listed(&mut ps, "2001:21ab:c000/36").0, vec![p("2001:21ab:c000::/36")]);
        assert_eq!(
            listed(&mut ps, "2001:21ab:def7:4242 :127.0.1.3: This one smells funny").0,
            vec![p("2001:21ab:def7:4242::/64")]
        );
        assert_eq!(listed(&mut ps, "2605:6001:42::/52").0, vec![p("2605:6001:42::/52")]);
        assert_eq!(listed(&mut ps, "::1   # localhost").0, vec![p("::1/128")]);
        assert_eq!(
            ps.line("!2605:6001:42::bead   # exclusion"),
            Ok(Some(Item::Excluded { prefixes: vec![p("2605:6001:42::bead/128")] }))
        );
    }

    #[test]
    fn values_and_defaults_follow_rbldnsd() {
        let mut ps = parser();
        assert_eq!(ps.line(":127.0.0.2:IP address $ is listed"), Ok(None));
        let l = |ps: &mut Parser, line| listed(ps, line).1;
        let a = l(&mut ps, "127.0.0.4");
        assert_eq!((a.codes()[0].to_string(), a.reason()), ("127.0.0.2".into(), Some("IP address $ is listed")));
        let b = l(&mut ps, "127.0.0.5 :5");
        assert_eq!((b.codes()[0].to_string(), b.reason()), ("127.0.0.5".into(), Some("IP address $ is listed")));
        let c = l(&mut ps, "127.0.0.6 :6:");
        assert_eq!((c.codes()[0].to_string(), c.reason()), ("127.0.0.6".into(), None));
        let d = l(&mut ps, "127.0.0.7 IP address $ running an open relay");
        assert_eq!(
            (d.codes()[0].to_string(), d.reason()),
            ("127.0.0.2".into(), Some("IP address $ running an open relay"))
        );
        let e = l(&mut ps, "127.0.0.8:4:compact");
        assert_eq!((e.codes()[0].to_string(), e.reason()), ("127.0.0.4".into(), Some("compact")));
        let f = l(&mut ps, "127/8 ; loopback network");
        assert_eq!(f.codes()[0].to_string(), "127.0.0.2");
        // Without any default line, the parser's default code applies and there is no text.
        let g = l(&mut parser(), "192.0.2.1");
        assert_eq!((g.codes()[0], g.reason()), (ListingCode::OPERATOR, None));
    }

    #[test]
    fn variables_and_base_template() {
        let mut ps = parser();
        for line in ["$1 See http://www.example.com/bl", "$2 for details"] {
            assert_eq!(ps.line(line), Ok(None));
        }
        assert_eq!(
            listed(&mut ps, "127.0.0.2  $1/spammer/$ $2").1.reason(),
            Some("See http://www.example.com/bl/spammer/$ for details")
        );
        assert_eq!(
            listed(&mut ps, "127.0.0.4  This spammer wants some $$$$.  $1/$").1.reason(),
            Some("This spammer wants some $$$$.  See http://www.example.com/bl/$")
        );
        let mut ps = parser();
        assert_eq!(ps.line("$= See http://www.example.com/bl?$= ($) for details"), Ok(None));
        assert_eq!(
            listed(&mut ps, "127.0.0.2    r123").1.reason(),
            Some("See http://www.example.com/bl?r123 ($) for details")
        );
        assert_eq!(
            listed(&mut ps, "127.0.0.4    =See other blocklists for details about $").1.reason(),
            Some("See other blocklists for details about $")
        );
    }

    #[test]
    fn directives() {
        let mut ps = parser();
        assert_eq!(ps.line("$SOA 1w ns1.ex.com admin.ex.com 0 2h 2h 1w 1h"), Ok(None));
        assert_eq!(ps.line("$NS 1w ns1.ex.com -ns0.ex.com ns2.ex.com"), Ok(None));
        assert_eq!(ps.line("$TTL 300"), Ok(None));
        assert_eq!(ps.line("#$ this is a plain comment"), Ok(None));
        assert_eq!(
            ps.directives.soa,
            Some((604_800, "ns1.ex.com".into(), "admin.ex.com".into(), 0, [7200, 7200, 604_800, 3600]))
        );
        assert_eq!(ps.directives.ns, Some((604_800, vec!["ns1.ex.com".into(), "ns2.ex.com".into()])));
        assert_eq!(ps.directives.ttl, Some(300));
        assert!(ps.line("$SOA 1w ns1").is_err());
        assert!(ps.line("$TTL soon").is_err());
        assert!(ps.line("$BOGUS 1").is_err());
    }

    #[test]
    fn combined_files_switch_dataset_and_scope() {
        let mut ps = parser();
        assert_eq!(ps.line("$DATASET ip4trie @"), Ok(Some(Item::Section { name: None })));
        assert_eq!(ps.line(":4:four"), Ok(None));
        assert_eq!(listed(&mut ps, "10.0.0.0/8").1.codes()[0].to_string(), "127.0.0.4");
        assert!(ps.line("2001:db8::/32").expect_err("v6 in ip4trie").contains("IPv6 entry"));
        let six = DatasetName::parse("six").ok();
        assert_eq!(ps.line("$DATASET ip6trie:Six @"), Ok(Some(Item::Section { name: six })), "names are lowercased");
        let (p6, l6) = listed(&mut ps, "2001:db8::/32");
        assert_eq!(
            (p6[0], l6.codes()[0], l6.reason()),
            (p("2001:db8::/32"), ListingCode::OPERATOR, None),
            "scope reset"
        );
        assert!(ps.line("$DATASET ip4set proxies").expect_err("subzone").contains("(@)"));
        assert!(ps.line("$DATASET generic @").expect_err("type").contains("not supported"));
        assert!(ps.line("$DATASET ip4set:a/b @").expect_err("name").contains("not a dataset name"));
    }

    #[test]
    fn maxrange_skips_wide_entries() {
        let mut ps = parser();
        assert_eq!(ps.line("$MAXRANGE4 /24"), Ok(None));
        assert!(matches!(ps.line("10.0.0.0/16"), Ok(Some(Item::SkippedWide { .. }))));
        assert!(matches!(ps.line("10.0.0.0/24"), Ok(Some(Item::Listed { .. }))));
        assert_eq!(parse_maxrange("256"), Ok(24));
        assert_eq!(parse_maxrange("257"), Ok(23));
    }

    #[test]
    fn bad_lines_say_why() {
        let mut ps = parser();
        for (line, why) in [
            ("300.1.2.3", "over 255"),
            ("1.2.3.4.5", "more than four"),
            ("1.2.3.4/33", "bad prefix length"),
            ("1.2.3.4 :1:x", "reserved"),
            ("1.2.3.4 :10.0.0.2:x", "outside 127.0.0.0/8"),
            ("1.2.3.9-1.2.3.1", "ends before"),
            ("2001:db8::zz", "not an IPv6"),
            ("hello", "not an IPv4"),
        ] {
            let err = ps.line(line).expect_err(line);
            assert!(err.contains(why), "{line}: {err}");
        }
        let long = format!("1.2.3.4 {}", "x".repeat(300));
        assert!(ps.line(&long).expect_err("long").contains("255"));
        let mut trie = Parser::new(Dataset::Ip4Trie, ListingCode::OPERATOR);
        assert!(trie.line("1.2.3.0-1.2.3.9").expect_err("range").contains("not allowed in ip4trie"));
        assert!(trie.line("2001:db8::1").expect_err("v6").contains("IPv6 entry"));
        let mut six = Parser::new(Dataset::Ip6Trie, ListingCode::OPERATOR);
        assert!(six.line("1.2.3.4").expect_err("v4").contains("IPv4 entry"));
    }

    #[test]
    fn ranges_split_into_minimal_cidrs() {
        assert_eq!(range_to_prefixes(0, u32::MAX), vec![p("0.0.0.0/0")]);
        let got = range_to_prefixes(u32::from_be_bytes([10, 0, 0, 1]), u32::from_be_bytes([10, 0, 0, 6]));
        assert_eq!(got, vec![p("10.0.0.1/32"), p("10.0.0.2/31"), p("10.0.0.4/31"), p("10.0.0.6/32")]);
    }
}
