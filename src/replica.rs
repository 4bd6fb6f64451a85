//! A secondary zone's data: the record form a primary sends by zone transfer
//! ([`crate::zoneform`]) turned back into prefix entries, so a dnsbl secondary answers from the
//! same prefix tables as a primary, at the same memory per entry. Pure.
//!
//! The records are kept by name (in the store, in the order [`name_key`] gives: a name, then
//! its wildcard, then its children); the entries are what an RFC 4592 resolver over them
//! answers, name by name ([`derive`]):
//!
//! - an address name (4 labels for IPv4, 32 for IPv6) is its address: its A records, or not
//!   listed (a placeholder);
//! - every other name that exists (it has records, or names below it) is its block (`4.3.2`
//!   is 2.3.4.0/24, and for IPv6 2340::/12): its wildcard's answer, or not listed when it has
//!   no wildcard (a query below it that meets no name gets NXDOMAIN);
//! - a name of digits only is a name of both families, and gives an entry in each.
//!
//! The longest prefix then answers exactly as the resolver: the nearest existing name above an
//! address decides. IPv4-mapped IPv6 names (`::ffff:0:0/96`) are left out: dnsbl answers them
//! from its IPv4 table. Several TXT records at one name (the primary's datasets) become one
//! dataset each: the first TXT rides with the codes in the first, the k-th in the k-th.

use std::net::Ipv4Addr;

use crate::model::{Entry, Listing, ListingCode, Prefix};
use crate::served::Data;
use crate::zoneform::{Family, Label, WILDCARD};

/// The records at one name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RrSet {
    pub codes: Vec<Ipv4Addr>,
    pub txts: Vec<String>,
    pub placeholder: bool,
}

/// The version byte of an encoded [`RrSet`].
const RRSET_VERSION: u8 = 1;

impl RrSet {
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty() && self.txts.is_empty() && !self.placeholder
    }

    /// Adds one record (a duplicate is one record, as in DNS).
    pub fn add(&mut self, data: &Data) {
        match data {
            Data::A(ip) if !self.codes.contains(ip) => self.codes.push(*ip),
            Data::Txt(t) if !self.txts.contains(t) => self.txts.push(t.clone()),
            Data::Placeholder => self.placeholder = true,
            _ => {}
        }
    }

    /// Removes one record, if it is there.
    pub fn remove(&mut self, data: &Data) {
        match data {
            Data::A(ip) => self.codes.retain(|c| c != ip),
            Data::Txt(t) => self.txts.retain(|x| x != t),
            Data::Placeholder => self.placeholder = false,
        }
    }

    /// `1 · placeholder:u8 · n:u8 · n×4 code bytes · (len:u8 · TXT)*`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![RRSET_VERSION, u8::from(self.placeholder), self.codes.len().min(255) as u8];
        for c in self.codes.iter().take(255) {
            out.extend_from_slice(&c.octets());
        }
        for t in &self.txts {
            let b = &t.as_bytes()[..t.len().min(255)];
            out.push(b.len() as u8);
            out.extend_from_slice(b);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<RrSet> {
        let (&[version, placeholder, n], rest) = bytes.split_first_chunk::<3>()?;
        if version != RRSET_VERSION {
            return None;
        }
        let (codes, mut rest) = rest.split_at_checked(4 * usize::from(n))?;
        let codes = codes.chunks_exact(4).map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3])).collect();
        let mut txts = Vec::new();
        while let Some((&len, tail)) = rest.split_first() {
            let (t, tail) = tail.split_at_checked(usize::from(len))?;
            txts.push(String::from_utf8_lossy(t).into_owned());
            rest = tail;
        }
        Some(RrSet { codes, txts, placeholder: placeholder != 0 })
    }
}

/// The labels (top down) of a name below the zone given by its labels left to right
/// (`["*", "8", "67", "45"]`), if every one is a record-form label: `*` first only, decimal
/// 0..=255 without leading zeros, or a nibble a-f. Other names (a name server's) are not
/// address names and are left alone.
pub fn path_of(labels: &[&[u8]]) -> Option<Vec<Label>> {
    let mut path = Vec::with_capacity(labels.len());
    for (i, l) in labels.iter().rev().enumerate() {
        let label = match *l {
            b"*" if i + 1 == labels.len() => WILDCARD,
            [c @ b'a'..=b'f'] | [c @ b'A'..=b'F'] => 256 + Label::from(c.to_ascii_lowercase() - b'a'),
            [b'0'] => 0,
            [b'1'..=b'9', ..] if l.len() <= 3 && l.iter().all(u8::is_ascii_digit) => {
                let v = l.iter().fold(0u16, |v, d| v * 10 + u16::from(d - b'0'));
                if v > 255 {
                    return None;
                }
                v
            }
            _ => return None,
        };
        path.push(label);
    }
    Some(path)
}

/// The store key of a name: each label as two bytes, the label plus one, and `*` as zero, so
/// keys sort a name first, then its wildcard, then its children in order.
pub fn name_key(path: &[Label]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * path.len());
    for &l in path {
        let v = if l == WILDCARD { 0 } else { l + 1 };
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

/// The name of a store key (see [`name_key`]).
pub fn key_path(key: &[u8]) -> Option<Vec<Label>> {
    if key.len() % 2 != 0 {
        return None;
    }
    key.chunks_exact(2)
        .map(|c| match u16::from_be_bytes([c[0], c[1]]) {
            0 => Some(WILDCARD),
            v if v <= 262 => Some(v - 1),
            _ => None,
        })
        .collect()
}

/// Whether a name lies under ::ffff:0:0/96 (IPv4-mapped IPv6; answered from the IPv4 table).
pub fn mapped(path: &[Label]) -> bool {
    const F: Label = 261;
    path.len() >= 24 && path[..20].iter().all(|&l| l == 0) && path[20..24].iter().all(|&l| l == F)
}

/// The block a name stands for in `family`, if all its labels are that family's and it is not
/// deeper than an address.
pub fn block_of(family: Family, path: &[Label]) -> Option<Prefix> {
    if path.len() > family.depth() {
        return None;
    }
    match family {
        Family::V4 => {
            let mut bits: u32 = 0;
            for (i, &l) in path.iter().enumerate() {
                if l > 255 {
                    return None;
                }
                bits |= u32::from(l) << (24 - 8 * i);
            }
            Some(Prefix::V4 { bits, len: 8 * path.len() as u8 })
        }
        Family::V6 => {
            let mut bits: u128 = 0;
            for (i, &l) in path.iter().enumerate() {
                let v = match l {
                    0..=9 => u128::from(l),
                    256..=261 => u128::from(l - 246),
                    _ => return None,
                };
                bits |= v << (124 - 4 * i);
            }
            Some(Prefix::V6 { bits, len: 4 * path.len() as u8 })
        }
    }
}

/// How many datasets a zone needs for these records: one per TXT of its most-TXT name.
pub fn datasets_for(set: &RrSet) -> usize {
    set.txts.len().max(1)
}

/// A name being read and what is known of it so far.
#[derive(Debug)]
struct Open {
    path: Vec<Label>,
    own: Option<RrSet>,
    wildcard: Option<RrSet>,
}

/// Turns records (names in [`name_key`] order with their records, given one by one to
/// [`Deriver::push`]) into entries: `sink(k, prefix, entry)` for dataset `k` of `datasets`.
/// Records at the apex and names below ::ffff:0:0/96 are skipped. Holds only the names above
/// the current one.
#[derive(Debug)]
pub struct Deriver {
    datasets: usize,
    open: Vec<Open>,
    /// The most TXT records one name had.
    pub most_txts: usize,
}

impl Deriver {
    pub fn new(datasets: usize) -> Deriver {
        Deriver { datasets, open: Vec::new(), most_txts: 1 }
    }

    pub fn push(&mut self, path: &[Label], set: RrSet, sink: &mut dyn FnMut(usize, Prefix, Entry)) {
        self.most_txts = self.most_txts.max(datasets_for(&set));
        let wildcard = path.last() == Some(&WILDCARD);
        let name = if wildcard { &path[..path.len() - 1] } else { path };
        if name.is_empty() {
            return;
        }
        while self.open.last().is_some_and(|o| !name.starts_with(&o.path)) {
            if let Some(o) = self.open.pop() {
                emit(&o, self.datasets, sink);
            }
        }
        let have = self.open.last().map_or(0, |o| o.path.len());
        for len in have + 1..=name.len() {
            self.open.push(Open { path: name[..len].to_vec(), own: None, wildcard: None });
        }
        if let Some(o) = self.open.last_mut() {
            match wildcard {
                true => o.wildcard = Some(set),
                false => o.own = Some(set),
            }
        }
    }

    /// The entries of the names still open.
    pub fn finish(mut self, sink: &mut dyn FnMut(usize, Prefix, Entry)) -> usize {
        while let Some(o) = self.open.pop() {
            emit(&o, self.datasets, sink);
        }
        self.most_txts
    }
}

/// [`Deriver`] over a whole sequence of records; returns the most TXT records one name had.
pub fn derive(
    records: impl Iterator<Item = (Vec<Label>, RrSet)>,
    datasets: usize,
    sink: &mut dyn FnMut(usize, Prefix, Entry),
) -> usize {
    let mut d = Deriver::new(datasets);
    for (path, set) in records {
        d.push(&path, set, sink);
    }
    d.finish(sink)
}

/// The entries of one existing name, in each family it belongs to.
fn emit(name: &Open, datasets: usize, sink: &mut dyn FnMut(usize, Prefix, Entry)) {
    for family in [Family::V4, Family::V6] {
        if family == Family::V6 && mapped(&name.path) {
            continue;
        }
        let Some(block) = block_of(family, &name.path) else { continue };
        // Where the primary's template had `$`, its TXT names the address (an address name) or
        // the network (a wildcard).
        let (set, named) = match name.path.len() == family.depth() {
            true => (name.own.as_ref(), block.first_address().to_string()),
            false => (name.wildcard.as_ref(), block.to_string()),
        };
        for k in 0..datasets {
            sink(k, block, entry(set, k, &named));
        }
    }
}

/// Dataset `k`'s entry for a name answering `set`: its codes with its k-th TXT (the first
/// dataset also without one), or not listed. Where the TXT has `named` (the address, or a
/// wildcard's network: what the primary's template had `$` for), it becomes `$` again, so that
/// this server names each address as the primary does, and the listings of a list share one
/// template (as on the primary) instead of one text per address.
fn entry(set: Option<&RrSet>, k: usize, named: &str) -> Entry {
    let Some(set) = set.filter(|s| !s.codes.is_empty() && (k == 0 || s.txts.len() > k)) else {
        return Entry::Excluded;
    };
    let codes: Vec<ListingCode> = set.codes.iter().filter_map(|&c| ListingCode::new(c).ok()).collect();
    // The TXT is served as sent: `$` doubled, so that expanding it gives it back.
    let reason = set.txts.get(k).map(|t| t.replace('$', "$$").replace(named, "$"));
    match Listing::new(codes, reason) {
        Ok(listing) => Entry::Listed(listing),
        Err(_) => Entry::Excluded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoneform::{records, Content, Piece};

    fn set(codes: &[u8], txt: &[&str]) -> RrSet {
        RrSet {
            codes: codes.iter().map(|&c| Ipv4Addr::new(127, 0, 0, c)).collect(),
            txts: txt.iter().map(|t| t.to_string()).collect(),
            placeholder: false,
        }
    }

    #[test]
    fn names_and_keys_round_trip_and_sort_wildcards_first() {
        let path = path_of(&[b"*", b"3", b"2", b"1"]).expect("path");
        assert_eq!(path, [1, 2, 3, WILDCARD]);
        assert_eq!(key_path(&name_key(&path)), Some(path));
        assert_eq!(path_of(&[b"ns1"]), None);
        assert_eq!(path_of(&[b"256"]), None);
        assert_eq!(path_of(&[b"01"]), None);
        assert_eq!(path_of(&[b"b", b"a"]), Some(vec![256, 257]));
        let (name, wild, child) = (name_key(&[1, 2]), name_key(&[1, 2, WILDCARD]), name_key(&[1, 2, 0]));
        assert!(name < wild && wild < child);
        let s = set(&[2, 3], &["a $ b", "c"]);
        assert_eq!(RrSet::decode(&s.encode()), Some(s));
        assert_eq!(RrSet::decode(&[9, 0, 0]), None);
        assert_eq!(RrSet::decode(&[1, 0, 2, 127]), None, "truncated");
    }

    /// The answer of `addr` over entries, longest prefix first (exclusion wins a tie).
    fn answer(entries: &[(Prefix, Entry)], addr: std::net::IpAddr) -> Option<Listing> {
        entries
            .iter()
            .filter(|(p, _)| p.contains(addr))
            .max_by_key(|(p, e)| (p.len(), matches!(e, Entry::Excluded)))
            .and_then(|(_, e)| match e {
                Entry::Listed(l) => Some(l.clone()),
                Entry::Excluded => None,
            })
    }

    #[test]
    fn the_record_form_read_back_answers_like_the_pieces() {
        // 45.67.0.0/16 answer 1 with 45.67.8.9 answer 2 and the hole 45.67.9.0/24; 1.2.3.4.
        let v4 = [
            Piece { first: 0x0102_0304, last: 0x0102_0304, answer: 2 },
            Piece { first: 0x2d43_0000, last: 0x2d43_0808, answer: 1 },
            Piece { first: 0x2d43_0809, last: 0x2d43_0809, answer: 2 },
            Piece { first: 0x2d43_080a, last: 0x2d43_08ff, answer: 1 },
            Piece { first: 0x2d43_0a00, last: 0x2d43_ffff, answer: 1 },
        ];
        let v6 = [Piece { first: 0x2001_0db8 << 96, last: (0x2001_0db8 << 96) | ((1 << 96) - 1), answer: 1 }];
        let form = records(&v4, &v6, 100_000).expect("small");
        let sets = |content: Content| match content {
            Content::Answer(1) => set(&[3], &["one"]),
            Content::Answer(_) => set(&[2], &["two"]),
            Content::Placeholder => RrSet { placeholder: true, ..RrSet::default() },
        };
        let mut named: Vec<(Vec<u8>, Vec<Label>, RrSet)> =
            form.iter().map(|r| (name_key(&r.path), r.path.clone(), sets(r.content))).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut entries = Vec::new();
        derive(named.into_iter().map(|(_, p, s)| (p, s)), 1, &mut |_, p, e| entries.push((p, e)));
        let code = |a: &str| answer(&entries, a.parse().expect("address")).map(|l| l.codes()[0].to_string());
        for (addr, want) in [
            ("45.67.8.8", Some("127.0.0.3")),
            ("45.67.8.9", Some("127.0.0.2")),
            ("45.67.9.1", None),
            ("45.67.200.1", Some("127.0.0.3")),
            ("45.68.0.1", None),
            ("1.2.3.4", Some("127.0.0.2")),
            ("1.2.3.5", None),
            ("2001:db8::1", Some("127.0.0.3")),
            ("2001:db9::1", None),
            ("1234::1", None),
        ] {
            assert_eq!(code(addr).as_deref(), want, "{addr}");
        }
    }
}
