//! What the zone says about a question: the DNSBL answer logic, independent of any wire format.
//!
//! [`resolve`] takes the question's labels and type and a [`Snapshot`] and returns an [`Answer`]
//! (sections of abstract records) or `None` for names outside every served zone (REFUSED).
//! Rules, from docs/protocol.md: reversed IPv4 octets or 32 reversed IPv6 nibbles under a zone;
//! IPv4-mapped IPv6 names are looked up as IPv4; the RFC 5782 test points (127.0.0.2 listed,
//! 127.0.0.1 never) hold whatever the data says; a strict prefix of a reversed address is an
//! empty non-terminal (NODATA) when something below it is listed, else NXDOMAIN (RFC 8020); any
//! other shape is NXDOMAIN. Octet labels with leading zeros ("01") are not addresses. Pure.
//!
//! A zone answers from all its datasets at once, as rbldnsd does: each dataset decides on its own
//! (most specific prefix inside it, its exclusions hide only its listings), and the answer unites
//! them ([`Hits`]): one A record per distinct code, one TXT per distinct text, NXDOMAIN only when
//! no dataset lists the address.
//!

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use crate::access::KeyCheck;
use crate::config::NameServer;
use crate::model::{expand_txt, mask128, mask32, Listing, ListingCode, Prefix, V4_MAPPED_PREFIX};
use crate::name::{DomainName, MAX_DATASETS};
use crate::snapshot::{Dataset, Snapshot, ZoneSnapshot};
use crate::trie::{PrefixTable, ValueId};

/// Query types the answer logic distinguishes (RFC 1035 / 3596 numbers).
pub mod qtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const SOA: u16 = 6;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const ANY: u16 = 255;
}

/// The RFC 5782 IPv4 test point that is always listed.
pub const TEST_LISTED_V4: u32 = 0x7f00_0002;
/// The RFC 5782 IPv4 test point that is never listed.
pub const TEST_UNLISTED_V4: u32 = 0x7f00_0001;

static TEST_LISTING: LazyLock<Listing> = LazyLock::new(|| {
    Listing::new(vec![ListingCode::REGISTERED], Some("RFC 5782 test point: $ is always listed".to_string()))
        .unwrap_or_else(|_| unreachable!("the built-in test listing is valid"))
});

/// Whose name a record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'s> {
    /// The name exactly as the client asked it (keeps its 0x20 case).
    Qname,
    /// The zone apex.
    Apex,
    /// Another name (glue for an in-zone name server).
    Name(&'s DomainName),
}

/// Record data, rendered to wire format by the DNS layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data<'s> {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Txt(String),
    /// The zone's SOA (fields from its config, serial from the snapshot).
    Soa,
    Ns(&'s DomainName),
}

/// One resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rr<'s> {
    pub owner: Owner<'s>,
    pub ttl: u32,
    pub data: Data<'s>,
}

/// An authoritative answer from one zone.
#[derive(Debug)]
pub struct Answer<'s> {
    pub zone: &'s ZoneSnapshot,
    /// NXDOMAIN when true, NOERROR otherwise.
    pub nxdomain: bool,
    /// SERVFAIL: the zone has no copy to answer from (a secondary before its first transfer).
    pub unavailable: bool,
    pub answers: Vec<Rr<'s>>,
    pub authority: Vec<Rr<'s>>,
    pub additional: Vec<Rr<'s>>,
}

impl<'s> Answer<'s> {
    fn empty(zone: &'s ZoneSnapshot, nxdomain: bool) -> Answer<'s> {
        let soa = &zone.config.soa;
        Answer {
            zone,
            nxdomain,
            unavailable: false,
            answers: Vec::new(),
            // RFC 2308: negative answers carry the SOA, its TTL capped by MINIMUM.
            authority: vec![Rr { owner: Owner::Apex, ttl: soa.ttl.min(soa.minimum), data: Data::Soa }],
            additional: Vec::new(),
        }
    }

    fn positive(zone: &'s ZoneSnapshot, answers: Vec<Rr<'s>>) -> Answer<'s> {
        if answers.is_empty() {
            return Answer::empty(zone, false);
        }
        Answer { zone, nxdomain: false, unavailable: false, answers, authority: Vec::new(), additional: Vec::new() }
    }
}

/// Where a name lands in the served data, before any records are built (no allocation).
#[derive(Clone, Copy, Debug)]
pub enum Lookup<'s> {
    /// The zone apex.
    Apex,
    /// An in-zone name server's own name (`Some`), or an empty non-terminal above one (`None`).
    NameServer(Option<&'s NameServer>),
    /// A listed address: the listing of each dataset that lists it and the address (IPv4 for
    /// mapped IPv6 names).
    Listed(Hits<'s>, IpAddr),
    /// An empty non-terminal above listed addresses: NODATA.
    Below,
    /// Not listed, or not an address at all: NXDOMAIN.
    Nothing,
    /// A secondary zone without a copy to answer from: SERVFAIL.
    Unavailable,
}

/// The listings that decide an address, one per dataset that lists it (the operator's first),
/// gathered without allocating.
#[derive(Clone, Copy, Debug)]
pub struct Hits<'s> {
    items: [Option<&'s Listing>; MAX_DATASETS],
    len: usize,
}

impl<'s> Hits<'s> {
    fn new() -> Hits<'s> {
        Hits { items: [None; MAX_DATASETS], len: 0 }
    }

    /// One listing alone.
    pub fn one(listing: &'s Listing) -> Hits<'s> {
        let mut hits = Hits::new();
        hits.push(listing);
        hits
    }

    /// The listings of `zone`'s datasets, given how a dataset's table is read for the address:
    /// the operator's first, then each other dataset's.
    #[inline]
    fn gather(zone: &'s ZoneSnapshot, in_feed: impl Fn(&Dataset) -> Option<ValueId>) -> Hits<'s> {
        let mut hits = Hits::new();
        if let Some(l) = in_feed(&zone.operator).and_then(|id| zone.operator.value(id)) {
            hits.push(l);
        }
        for feed in zone.feeds() {
            if let Some(l) = in_feed(feed).and_then(|id| feed.value(id)) {
                hits.push(l);
            }
        }
        hits
    }

    fn push(&mut self, listing: &'s Listing) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = Some(listing);
            self.len += 1;
        }
    }

    /// The listings, in dataset order.
    pub fn iter(&self) -> impl Iterator<Item = &'s Listing> + Clone + '_ {
        self.items[..self.len].iter().flatten().copied()
    }

    /// The listing when exactly one dataset lists the address (the common case).
    #[inline]
    pub fn single(&self) -> Option<&'s Listing> {
        if self.len == 1 {
            self.items[0]
        } else {
            None
        }
    }

    /// The distinct codes of all listings, in order of first appearance.
    pub fn codes(&self) -> impl Iterator<Item = ListingCode> + Clone + '_ {
        self.iter().enumerate().flat_map(move |(i, l)| {
            l.codes().iter().copied().filter(move |c| !self.iter().take(i).any(|earlier| earlier.codes().contains(c)))
        })
    }

    /// The distinct TXT templates (a listing's reason, else the zone's), in dataset order.
    pub fn templates<'z: 's>(&self, zone: &'z ZoneSnapshot) -> impl Iterator<Item = &'s str> + Clone + '_ {
        self.iter().enumerate().filter_map(move |(i, l)| {
            let t = txt_template(zone, l);
            (!self.iter().take(i).any(|earlier| txt_template(zone, earlier) == t)).then_some(t)
        })
    }
}

/// Finds the zone of a name (labels left to right, no root) and what the name is in it.
/// Returns the zone, the number of labels of its origin, and the lookup; `None` outside our zones.
#[inline]
/// In a zone with `require-key`, the label above the apex is an access key and is stripped
/// before the address is read; a name without an enabled key is `None` (REFUSED). The apex and
/// the name servers' names need no key.
pub fn classify<'s>(snapshot: &'s Snapshot, labels: &[&[u8]]) -> Option<(&'s ZoneSnapshot, usize, Lookup<'s>)> {
    let (zone, depth) = find_zone(snapshot, labels)?;
    if !zone.serving {
        return Some((zone, depth, Lookup::Unavailable));
    }
    let rel = &labels[..labels.len() - depth];
    if rel.is_empty() {
        return Some((zone, depth, Lookup::Apex));
    }
    if let Some(ns) = name_server_match(zone, depth, rel) {
        return Some((zone, depth, Lookup::NameServer(ns)));
    }
    let rel = match zone.config.require_key {
        false => rel,
        true => {
            let (key, below) = rel.split_last()?;
            if !matches!(snapshot.access.key(key), KeyCheck::Enabled(_)) {
                return None;
            }
            if below.is_empty() {
                // The key's own name: an empty non-terminal above the addresses.
                return Some((zone, depth, Lookup::Below));
            }
            below
        }
    };
    Some((zone, depth, address(zone, rel)))
}

/// The key label of a name in a zone with `require-key` (any key, known or not); `None` for
/// other names. The DNS layer counts queries per key with it.
pub fn key_label<'p>(snapshot: &Snapshot, labels: &[&'p [u8]]) -> Option<&'p [u8]> {
    let (zone, depth) = find_zone(snapshot, labels)?;
    let rel = &labels[..labels.len() - depth];
    if !zone.config.require_key || rel.is_empty() || name_server_match(zone, depth, rel).is_some() {
        return None;
    }
    rel.last().copied()
}

/// The IPv4 table and address a lookup of this name reads, for [`PrefixTable::warm`]; `None`
/// for other names (they are not warmed).
pub fn locate_v4<'s>(snapshot: &'s Snapshot, labels: &[&[u8]]) -> Option<(&'s PrefixTable<u32>, u32)> {
    let (zone, depth) = find_zone(snapshot, labels)?;
    let rel = &labels[..labels.len() - depth];
    let rel = if zone.config.require_key { rel.split_last()?.1 } else { rel };
    match parse_v4_labels(rel)? {
        (addr, 4) => Some((zone.operator.v4.base(), addr)),
        _ => None,
    }
}

/// Answers a question given as labels (left to right, no root) and a query type; `None` when the
/// name is in no served zone.
pub fn resolve<'s>(snapshot: &'s Snapshot, labels: &[&[u8]], qtype: u16) -> Option<Answer<'s>> {
    let (zone, _, lookup) = classify(snapshot, labels)?;
    Some(match lookup {
        Lookup::Apex => apex(zone, qtype),
        Lookup::NameServer(Some(ns)) => Answer::positive(zone, glue(ns, Owner::Qname, qtype).collect()),
        Lookup::NameServer(None) | Lookup::Below => Answer::empty(zone, false),
        Lookup::Listed(hits, ip) => listed(zone, &hits, ip, qtype),
        Lookup::Nothing => Answer::empty(zone, true),
        Lookup::Unavailable => Answer { unavailable: true, authority: Vec::new(), ..Answer::empty(zone, false) },
    })
}

/// The served zone with the longest origin that is a suffix of the name, and its label count.
fn find_zone<'s>(snapshot: &'s Snapshot, labels: &[&[u8]]) -> Option<(&'s ZoneSnapshot, usize)> {
    let mut best: Option<(&ZoneSnapshot, usize)> = None;
    for z in &snapshot.zones {
        let n = z.config.origin.label_count();
        if n > labels.len() || best.is_some_and(|(_, b)| b >= n) {
            continue;
        }
        let matches =
            z.config.origin.labels().rev().zip(labels.iter().rev()).all(|(o, l)| o.as_bytes().eq_ignore_ascii_case(l));
        if matches {
            best = Some((z, n));
        }
    }
    best
}

fn apex(zone: &ZoneSnapshot, qtype: u16) -> Answer<'_> {
    let soa = || Rr { owner: Owner::Apex, ttl: zone.config.soa.ttl, data: Data::Soa };
    let ns = || zone.config.ns.iter().map(|n| Rr { owner: Owner::Apex, ttl: n.ttl, data: Data::Ns(&n.name) });
    let mut answer = match qtype {
        qtype::SOA => Answer::positive(zone, vec![soa()]),
        qtype::NS => Answer::positive(zone, ns().collect()),
        qtype::ANY => Answer::positive(zone, std::iter::once(soa()).chain(ns()).collect()),
        _ => return Answer::empty(zone, false),
    };
    if matches!(qtype, qtype::NS | qtype::ANY) {
        answer.additional = zone.config.ns.iter().flat_map(|n| glue(n, Owner::Name(&n.name), qtype::ANY)).collect();
    }
    answer
}

/// Address records of an in-zone name server.
fn glue<'s>(ns: &'s NameServer, owner: Owner<'s>, qtype: u16) -> impl Iterator<Item = Rr<'s>> + 's {
    ns.addresses.iter().filter_map(move |ip| {
        let data = match ip {
            IpAddr::V4(v4) if matches!(qtype, qtype::A | qtype::ANY) => Data::A(*v4),
            IpAddr::V6(v6) if matches!(qtype, qtype::AAAA | qtype::ANY) => Data::Aaaa(*v6),
            _ => return None,
        };
        Some(Rr { owner, ttl: ns.ttl, data })
    })
}

/// `Some(Some(ns))` for an in-zone name server's name, `Some(None)` for a name above one.
fn name_server_match<'s>(zone: &'s ZoneSnapshot, depth: usize, rel: &[&[u8]]) -> Option<Option<&'s NameServer>> {
    let mut above = false;
    for ns in &zone.config.ns {
        let own = ns.name.label_count().saturating_sub(depth);
        if own < rel.len() {
            continue;
        }
        let matches =
            ns.name.labels().rev().skip(depth).zip(rel.iter().rev()).all(|(a, b)| a.as_bytes().eq_ignore_ascii_case(b));
        if matches && own == rel.len() {
            return Some(Some(ns));
        }
        above |= matches;
    }
    above.then_some(None)
}

fn address<'s>(zone: &'s ZoneSnapshot, rel: &[&[u8]]) -> Lookup<'s> {
    let v4 = parse_v4_labels(rel);
    let v6 = parse_v6_labels(rel);
    if let Some((addr, 4)) = v4 {
        let hits = lookup_v4(zone, addr);
        if hits.len > 0 {
            return Lookup::Listed(hits, IpAddr::V4(Ipv4Addr::from(addr)));
        }
    }
    if let Some((addr, 32)) = v6 {
        let (hits, ip) = if addr & !0xffff_ffff == V4_MAPPED_PREFIX {
            (lookup_v4(zone, addr as u32), IpAddr::V4(Ipv4Addr::from(addr as u32)))
        } else {
            (lookup_v6(zone, addr), IpAddr::V6(Ipv6Addr::from(addr)))
        };
        if hits.len > 0 {
            return Lookup::Listed(hits, ip);
        }
    }
    let below_v4 = v4.is_some_and(|(a, n)| n < 4 && any_listed_v4(zone, a, a | !mask32(n * 8)));
    let below_v6 = v6.is_some_and(|(a, n)| n < 32 && any_listed_v6(zone, a, a | !mask128(n * 4)));
    if below_v4 || below_v6 {
        Lookup::Below
    } else {
        Lookup::Nothing
    }
}

fn listed<'s>(zone: &'s ZoneSnapshot, hits: &Hits<'s>, ip: IpAddr, qtype: u16) -> Answer<'s> {
    let ttl = zone.config.ttl;
    let mut answers = Vec::new();
    if matches!(qtype, qtype::A | qtype::ANY) {
        answers.extend(hits.codes().map(|c| Rr { owner: Owner::Qname, ttl, data: Data::A(c.addr()) }));
    }
    if matches!(qtype, qtype::TXT | qtype::ANY) {
        answers.extend(hits.templates(zone).map(|t| Rr {
            owner: Owner::Qname,
            ttl,
            data: Data::Txt(expand_txt(t, ip)),
        }));
    }
    Answer::positive(zone, answers)
}

/// True for the RFC 5782 test points themselves (127.0.0.2/32, 127.0.0.1/32): built in, and never
/// changed by data.
pub fn is_test_point(prefix: Prefix) -> bool {
    matches!(prefix, Prefix::V4 { bits: TEST_LISTED_V4 | TEST_UNLISTED_V4, len: 32 })
}

/// The built-in listing of 127.0.0.2.
pub fn test_listing() -> &'static Listing {
    &TEST_LISTING
}

/// The TXT template a listed name answers with: its own reason, else the zone's default.
pub fn txt_template<'s>(zone: &'s ZoneSnapshot, listing: &'s Listing) -> &'s str {
    listing.reason().unwrap_or(&zone.config.txt_template)
}

/// The listings deciding an IPv4 address in every dataset, with the test points fixed (no
/// dataset changes them).
pub fn lookup_v4(zone: &ZoneSnapshot, addr: u32) -> Hits<'_> {
    match addr {
        TEST_LISTED_V4 => Hits::one(&TEST_LISTING),
        TEST_UNLISTED_V4 => Hits::new(),
        _ => Hits::gather(zone, |d| d.v4.lookup(addr)),
    }
}

/// The listing that decides `ip` in one dataset on its own (the test points answer from the
/// operator's alone, as in the union).
pub fn listing_in(dataset: &Dataset, ip: IpAddr) -> Option<&Listing> {
    match Prefix::host(ip) {
        Prefix::V4 { bits: TEST_LISTED_V4, .. } => dataset.name.is_operator().then_some(&*TEST_LISTING),
        Prefix::V4 { bits: TEST_UNLISTED_V4, .. } => None,
        Prefix::V4 { bits, .. } => dataset.v4.lookup(bits).and_then(|id| dataset.value(id)),
        Prefix::V6 { bits, .. } => dataset.v6.lookup(bits).and_then(|id| dataset.value(id)),
    }
}

/// The listings deciding an IPv6 address (not IPv4-mapped) in every dataset.
pub fn lookup_v6(zone: &ZoneSnapshot, addr: u128) -> Hits<'_> {
    Hits::gather(zone, |d| d.v6.lookup(addr))
}

fn any_listed_v4(zone: &ZoneSnapshot, first: u32, last: u32) -> bool {
    (first..=last).contains(&TEST_LISTED_V4) || zone.datasets().any(|d| d.v4.any_listed(first, last))
}

fn any_listed_v6(zone: &ZoneSnapshot, first: u128, last: u128) -> bool {
    let (lo, hi) = (first.max(V4_MAPPED_PREFIX), last.min(V4_MAPPED_PREFIX | 0xffff_ffff));
    (lo <= hi && any_listed_v4(zone, lo as u32, hi as u32)) || zone.datasets().any(|d| d.v6.any_listed(first, last))
}

/// 1 to 4 reversed decimal octets → (address with the given octets on top, octet count).
fn parse_v4_labels(rel: &[&[u8]]) -> Option<(u32, u8)> {
    if rel.is_empty() || rel.len() > 4 {
        return None;
    }
    let mut bits = 0u32;
    for (i, label) in rel.iter().rev().enumerate() {
        bits |= u32::from(parse_octet(label)?) << (24 - 8 * i);
    }
    Some((bits, rel.len() as u8))
}

fn parse_octet(label: &[u8]) -> Option<u8> {
    match label {
        [] => None,
        [b'0', _, ..] => None,
        _ if label.len() > 3 || !label.iter().all(u8::is_ascii_digit) => None,
        _ => label
            .iter()
            .try_fold(0u16, |acc, d| Some(acc * 10 + u16::from(d - b'0')))
            .and_then(|v| u8::try_from(v).ok()),
    }
}

/// 1 to 32 reversed nibble labels → (address with the given nibbles on top, nibble count).
fn parse_v6_labels(rel: &[&[u8]]) -> Option<(u128, u8)> {
    if rel.is_empty() || rel.len() > 32 {
        return None;
    }
    let mut bits = 0u128;
    for (i, label) in rel.iter().rev().enumerate() {
        let nibble = match label {
            [c] => (*c as char).to_digit(16)?,
            _ => return None,
        };
        bits |= u128::from(nibble) << (124 - 4 * i);
    }
    Some((bits, rel.len() as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::{Entry, Prefix};
    use crate::snapshot::ZoneBuilder;
    use std::sync::Arc;

    const MX: u16 = 15;

    fn snapshot(entries: &[(&str, Option<&str>)]) -> Snapshot {
        let config = Config::embedded_default().expect("config");
        let mut b = ZoneBuilder::new(Arc::new(config.zones[0].clone()), 7);
        for (prefix, reason) in entries {
            let p: Prefix = prefix.parse().expect("prefix");
            let e = match reason {
                Some(r) => {
                    Entry::Listed(Listing::new(vec![ListingCode::OPERATOR], Some(r.to_string())).expect("listing"))
                }
                None => Entry::Excluded,
            };
            b.add(p, e);
        }
        Snapshot::new(vec![b.build()])
    }

    fn ask<'s>(s: &'s Snapshot, name: &str, t: u16) -> Option<Answer<'s>> {
        let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
        resolve(s, &labels, t)
    }

    fn v6_name(ip: &str) -> String {
        let bits = u128::from(ip.parse::<Ipv6Addr>().expect("v6"));
        let mut out: Vec<String> = (0..32).map(|i| format!("{:x}", (bits >> (4 * i)) & 0xf)).collect();
        out.push("bl.localhost".into());
        out.join(".")
    }

    #[test]
    fn test_points_hold_whatever_the_data() {
        let s = snapshot(&[("127.0.0.0/8", Some("loopback")), ("127.0.0.2/32", None)]);
        let a = ask(&s, "2.0.0.127.bl.localhost", qtype::A).expect("ours");
        assert_eq!(a.answers[0].data, Data::A(Ipv4Addr::new(127, 0, 0, 2)));
        let t = ask(&s, "2.0.0.127.BL.localhost", qtype::TXT).expect("ours");
        assert_eq!(t.answers[0].data, Data::Txt("RFC 5782 test point: 127.0.0.2 is always listed".into()));
        assert!(ask(&s, "1.0.0.127.bl.localhost", qtype::A).expect("ours").nxdomain);
        let v6 = ask(&s, &v6_name("::ffff:7f00:2"), qtype::A).expect("ours");
        assert_eq!(v6.answers.len(), 1);
        assert!(ask(&s, &v6_name("::ffff:7f00:1"), qtype::A).expect("ours").nxdomain);
    }

    #[test]
    fn listings_exclusions_and_shapes() {
        let s =
            snapshot(&[("198.51.100.0/24", Some("net $")), ("198.51.100.77/32", None), ("2001:db8::/32", Some("six"))]);
        let hit = ask(&s, "7.100.51.198.bl.localhost", qtype::TXT).expect("ours");
        assert_eq!(hit.answers[0].data, Data::Txt("net 198.51.100.7".into()));
        assert!(ask(&s, "77.100.51.198.bl.localhost", qtype::A).expect("ours").nxdomain);
        let nodata = ask(&s, "7.100.51.198.bl.localhost", MX).expect("ours");
        assert!(!nodata.nxdomain && nodata.answers.is_empty() && nodata.authority[0].data == Data::Soa);
        assert_eq!(ask(&s, &v6_name("2001:db8::1"), qtype::A).expect("ours").answers.len(), 1);
        for bad in ["256.1.1.1", "01.100.51.198", "1.1.1.1.1", "x.100.51.198", "ab.8.b.d.0.1.0.0.2"] {
            let a = ask(&s, &format!("{bad}.bl.localhost"), qtype::A).expect("ours");
            assert!(a.nxdomain, "{bad}");
        }
        assert!(ask(&s, "7.100.51.198.bl.example", qtype::A).is_none(), "outside our zones");
    }

    #[test]
    fn empty_non_terminals() {
        let s = snapshot(&[("198.51.100.7/32", Some("x")), ("2001:db8::1/128", Some("y"))]);
        for ent in ["100.51.198", "51.198", "198", "0.0.127", "127"] {
            let a = ask(&s, &format!("{ent}.bl.localhost"), qtype::A).expect("ours");
            assert!(!a.nxdomain && a.answers.is_empty(), "{ent} has a listed address below it");
        }
        for none in ["101.51.198", "199", "1.0.127"] {
            assert!(ask(&s, &format!("{none}.bl.localhost"), qtype::A).expect("ours").nxdomain, "{none}");
        }
        let full = v6_name("2001:db8::1");
        let ent6 = full.splitn(10, '.').last().expect("tail");
        assert!(!ask(&s, ent6, qtype::A).expect("ours").nxdomain);
        assert!(ask(&s, "f.f.f.f.bl.localhost", qtype::A).expect("ours").nxdomain);
    }

    #[test]
    fn apex_and_name_servers() {
        let s = snapshot(&[]);
        let soa = ask(&s, "bl.localhost", qtype::SOA).expect("ours");
        assert_eq!(soa.answers[0].data, Data::Soa);
        let ns = ask(&s, "bl.localhost", qtype::NS).expect("ours");
        assert!(matches!(ns.answers[0].data, Data::Ns(_)));
        assert_eq!(ns.additional[0].data, Data::A(Ipv4Addr::new(127, 0, 0, 1)));
        let a = ask(&s, "bl.localhost", qtype::A).expect("ours");
        assert!(!a.nxdomain && a.answers.is_empty(), "no 127/8 A at the apex");
        let host = ask(&s, "NS1.bl.localhost", qtype::A).expect("ours");
        assert_eq!(host.answers[0].owner, Owner::Qname);
    }
}
