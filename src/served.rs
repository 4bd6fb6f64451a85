//! What a zone answers, as DNS records a stock name server serves alike: the zone snapshot's
//! answer ranges (every dataset united, the test points, IPv4-mapped IPv6 names answering as
//! IPv4) turned into [`crate::zoneform`] records with their A and TXT data. The BIND export
//! writes them as text; zone transfers send them. Pure.

use std::net::Ipv4Addr;
use std::ops::ControlFlow;

use crate::model::{expand_txt, expand_txt_with};
use crate::query::{lookup_v4, lookup_v6, Hits, TEST_LISTED_V4, TEST_UNLISTED_V4};
use crate::snapshot::ZoneSnapshot;
use crate::trie::Addr;
use crate::zoneform::{self, Content, Record, TooLarge, WILDCARD};

/// A zone's records and the answers they carry.
#[derive(Debug)]
pub struct ServedRecords {
    answers: Answers,
    pub records: Vec<Record>,
}

/// One record's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    A(Ipv4Addr),
    Txt(String),
    /// A private-use record (TYPE65280, one zero byte) that makes a name exist with no A or TXT.
    Placeholder,
}

/// The records of what `zone` answers, at most `limit` names.
pub fn records_of(zone: &ZoneSnapshot, limit: usize) -> Result<ServedRecords, TooLarge> {
    let mut answers = Answers::default();
    let (v4, v6) = pieces_of(zone, &mut answers);
    let records = zoneform::records(&v4, &v6, limit)?;
    Ok(ServedRecords { answers, records })
}

/// Each record of what `zone` answers with its data, handed to `sink` as it is made (see
/// [`zoneform::each_record`]), at most `limit`; returns how many there were (`None`: the sink
/// broke off).
pub fn each_record(
    zone: &ZoneSnapshot,
    limit: usize,
    sink: &mut dyn FnMut(&Record, Vec<Data>) -> ControlFlow<()>,
) -> Result<Option<usize>, TooLarge> {
    let mut answers = Answers::default();
    let (v4, v6) = pieces_of(zone, &mut answers);
    zoneform::each_record(&v4, &v6, limit, &mut |r| {
        let data = answers.data(&r);
        sink(&r, data)
    })
}

/// The records that go and come between what `old` and `new` answer (two serials of one zone
/// under the same settings), at most `limit` of them: what an incremental transfer sends.
pub fn diff(old: &ZoneSnapshot, new: &ZoneSnapshot, limit: usize) -> Result<ServedDiff, TooLarge> {
    // One numbering of the answers for both sides, so that equal answers compare equal.
    let mut answers = Answers::default();
    let (old4, old6) = pieces_of(old, &mut answers);
    let (new4, new6) = pieces_of(new, &mut answers);
    let zoneform::Diff { removed, added } = zoneform::diff((&old4, &old6), (&new4, &new6), limit)?;
    Ok(ServedDiff { answers, removed, added })
}

/// What changed between two serials of a zone, as records.
#[derive(Debug)]
pub struct ServedDiff {
    answers: Answers,
    pub removed: Vec<Record>,
    pub added: Vec<Record>,
}

impl ServedDiff {
    /// The data of a removed or added record (as [`ServedRecords::data`]).
    pub fn data(&self, record: &Record) -> Vec<Data> {
        self.answers.data(record)
    }
}

/// The answer pieces of a zone in both families, numbered in `answers`.
fn pieces_of(zone: &ZoneSnapshot, answers: &mut Answers) -> (Vec<zoneform::Piece>, Vec<zoneform::Piece>) {
    // The ranges are read from the base tables: fold live changes (patches) into them first.
    let zone = &zone.merged();
    // The test points are cut out of any range around them (they answer on their own).
    let tests = [(TEST_UNLISTED_V4, TEST_UNLISTED_V4), (TEST_LISTED_V4, TEST_LISTED_V4)];
    let v4_ranges = zone.datasets().flat_map(|d| d.v4.base().listed_ranges().map(|(a, b, _)| (a, b)));
    let mut v4 = Vec::new();
    for (first, last) in pieces(v4_ranges.chain(tests)) {
        answers.add(&mut v4, u128::from(first), u128::from(last), &lookup_v4(zone, first), zone);
    }
    // IPv6: the tables' ranges outside ::ffff:0:0/96, and that range answering as IPv4.
    let mapped = |p: &zoneform::Piece| zoneform::Piece { first: V4_MAPPED | p.first, last: V4_MAPPED | p.last, ..*p };
    let mut v6 = Vec::new();
    for (first, last) in pieces(zone.datasets().flat_map(|d| d.v6.base().listed_ranges().map(|(a, b, _)| (a, b)))) {
        for (lo, hi) in outside_mapped(first, last) {
            answers.add(&mut v6, lo, hi, &lookup_v6(zone, lo), zone);
        }
    }
    v6.extend(v4.iter().map(mapped));
    v6.sort_by_key(|p| p.first);
    // Neighbours with one answer are one piece (a wildcard needs its block in one piece).
    v6.dedup_by(|next, before| {
        let joined = before.answer == next.answer && before.last.checked_add(1) == Some(next.first);
        if joined {
            before.last = next.last;
        }
        joined
    });
    (v4, v6)
}

impl ServedRecords {
    /// The data of `record`: its A records and TXTs (`$` expanded: the address for an address
    /// name, the network for a wildcard), or the placeholder.
    pub fn data(&self, record: &Record) -> Vec<Data> {
        self.answers.data(record)
    }
}

/// ::ffff:0:0/96, the IPv4-mapped IPv6 addresses (answered as IPv4).
const V4_MAPPED: u128 = 0xffff << 32;

/// The parts of `first..=last` outside ::ffff:0:0/96.
fn outside_mapped(first: u128, last: u128) -> Vec<(u128, u128)> {
    let (lo, hi) = (V4_MAPPED, V4_MAPPED | 0xffff_ffff);
    let mut out = Vec::new();
    if first < lo {
        out.push((first, last.min(lo - 1)));
    }
    if last > hi {
        out.push((first.max(hi + 1), last));
    }
    out
}

/// The distinct answers of an export (codes and TXT templates), numbered from 1 for
/// [`crate::zoneform`], with the pieces that give them.
#[derive(Debug, Default)]
struct Answers {
    all: Vec<(Vec<Ipv4Addr>, Vec<String>)>,
    ids: std::collections::HashMap<(Vec<Ipv4Addr>, Vec<String>), u32>,
}

impl Answers {
    /// The data of `record` (see [`ServedRecords::data`]).
    fn data(&self, record: &Record) -> Vec<Data> {
        let id = match record.content {
            Content::Placeholder => return vec![Data::Placeholder],
            Content::Answer(id) => id,
        };
        let Some((codes, templates)) = (id as usize).checked_sub(1).and_then(|i| self.all.get(i)) else {
            return Vec::new();
        };
        let wildcard = record.path.last() == Some(&WILDCARD);
        let mut out: Vec<Data> = codes.iter().map(|c| Data::A(*c)).collect();
        for template in templates {
            let txt = match (wildcard, record.block) {
                (false, Some(block)) => expand_txt(template, block.first_address()),
                (_, Some(block)) => expand_txt_with(template, &block.to_string()),
                (_, None) => expand_txt_with(template, ""),
            };
            out.push(Data::Txt(txt));
        }
        out
    }

    /// Adds `first..=last` answering `hits` to `pieces` (merged with the piece before when it
    /// ends right before and answers the same; nothing for no codes).
    fn add(
        &mut self,
        pieces: &mut Vec<zoneform::Piece>,
        first: u128,
        last: u128,
        hits: &Hits<'_>,
        zone: &ZoneSnapshot,
    ) {
        let codes: Vec<Ipv4Addr> = hits.codes().map(|c| c.addr()).collect();
        if codes.is_empty() {
            return;
        }
        let templates: Vec<String> = hits.templates(zone).map(str::to_string).collect();
        let key = (codes, templates);
        let id = match self.ids.get(&key) {
            Some(&id) => id,
            None => {
                self.all.push(key.clone());
                let id = self.all.len() as u32;
                self.ids.insert(key, id);
                id
            }
        };
        match pieces.last_mut() {
            Some(p) if p.answer == id && p.last.checked_add(1) == Some(first) => p.last = last,
            _ => pieces.push(zoneform::Piece { first, last, answer: id }),
        }
    }
}

/// Listed ranges of several datasets cut at every dataset's range boundaries, sorted: disjoint
/// pieces whose union is the addresses any of them lists, each inside or outside every range.
fn pieces<A: Addr>(ranges: impl Iterator<Item = (A, A)>) -> Vec<(A, A)> {
    // A sweep over range starts (+1) and the addresses after range ends (-1).
    let mut events: Vec<(A, i32)> = Vec::new();
    let mut highest = None;
    for (first, last) in ranges {
        events.push((first, 1));
        match last.checked_next() {
            Some(after) => events.push((after, -1)),
            None => highest = Some(last),
        }
    }
    // Each dataset's events are sorted already: a stable sort merges the runs.
    events.sort_by_key(|&(at, _)| at);
    let mut out = Vec::new();
    let mut active = 0;
    let mut i = 0;
    while let Some(&(at, _)) = events.get(i) {
        while let Some(&(_, delta)) = events.get(i).filter(|(a, _)| *a == at) {
            active += delta;
            i += 1;
        }
        if active > 0 {
            // The piece ends before the next event; without one it runs to the address space's
            // end (a range ended there).
            let end = match events.get(i) {
                Some(&(next, _)) => next.checked_prev(),
                None => highest,
            };
            out.extend(end.map(|end| (at, end)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_txt_names_its_network_and_fits_a_txt_string() {
        assert_eq!(expand_txt_with("see $ ($$5)", "45.67.8.0/24"), "see 45.67.8.0/24 ($5)");
        let long = format!("{}é $", "x".repeat(244));
        assert_eq!(expand_txt_with(&long, "45.67.8.0/24"), format!("{}é 45.67.8.", "x".repeat(244)), "255 bytes");
        let split = format!("{}é$", "x".repeat(254));
        assert_eq!(expand_txt_with(&split, "1.2.3.0/24"), "x".repeat(254), "not inside a character");
        assert_eq!(outside_mapped(0, u128::MAX), [(0, V4_MAPPED - 1), ((V4_MAPPED | 0xffff_ffff) + 1, u128::MAX)]);
        assert_eq!(outside_mapped(V4_MAPPED + 5, V4_MAPPED + 9), []);
    }
}
