//! A zone's answers as DNS records a stock name server can serve: names and wildcards on label
//! boundaries (octets for IPv4, nibbles for IPv6) such that an RFC 4592 resolver over them
//! answers every address as the prefix tables do. Pure: answer ranges in, records out.
//!
//! The address names of both families share one namespace under the zone: `4.3.2.1.zone` is the
//! IPv4 address 1.2.3.4 and also an empty non-terminal above the IPv6 names under 1234::/16, so a
//! wildcard on a name whose labels are all digits answers for both families. The records are
//! therefore built over the merged tree, top down. At each name:
//!
//! - nothing is needed when everything under it (in both families) answers what the nearest
//!   wildcard above gives it anyway;
//! - otherwise the name must exist: it gets a wildcard with the answer most of its children
//!   share (`*.P`), and every child that answers otherwise is built the same way; an IPv4
//!   address name (4 labels) gets that address's own records; a name that must exist to stop a
//!   wildcard above from applying, and has nothing else, gets a placeholder record (a
//!   private-use type, so that A and TXT queries find no data there).
//!
//! That is the closest-encloser rule made safe: a name that exists (because something below it
//! differs) stops every wildcard above it, so it carries its own wildcard for the rest. The zone
//! apex never gets a wildcard. A property test holds a naive RFC 4592 resolver over the records
//! to the answers, for random data in both families.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use crate::model::Prefix;

/// A label: 0..=255 are decimal labels (IPv4 octets; 0..=9 are also the IPv6 nibbles 0-9),
/// 256..=261 the nibbles a-f, [`WILDCARD`] the `*` label.
pub type Label = u16;

/// The `*` label.
pub const WILDCARD: Label = 999;

/// Addresses `first..=last` of one family answering `answer` (an id the caller keeps; 0 is "not
/// listed" and never appears in a piece).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub first: u128,
    pub last: u128,
    pub answer: u32,
}

/// The address family of a piece list: IPv4 (32 bits, 4 labels of 8 bits) or IPv6 (128 bits,
/// 32 labels of 4 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
    fn stride(self) -> u32 {
        match self {
            Family::V4 => 8,
            Family::V6 => 4,
        }
    }
    pub fn depth(self) -> usize {
        (self.bits() / self.stride()) as usize
    }
    fn children(self) -> u128 {
        1 << self.stride()
    }
    /// The label of a child value.
    pub fn label(self, value: u128) -> Label {
        match (self, value) {
            (Family::V6, v) if v >= 10 => 256 + (v as Label - 10),
            (_, v) => v as Label,
        }
    }
    /// The child value a label stands for in this family, if it is one of its labels.
    fn value(self, label: Label) -> Option<u128> {
        match self {
            Family::V4 => (label < 256).then_some(u128::from(label)),
            Family::V6 if label < 10 => Some(u128::from(label)),
            Family::V6 => (256..262).contains(&label).then(|| u128::from(label - 246)),
        }
    }
    /// The labels of an address, top down (the first octet or nibble first).
    pub fn labels(self, address: u128) -> Vec<Label> {
        let (stride, depth) = (self.stride(), self.depth());
        (0..depth)
            .map(|i| self.label((address >> (self.bits() - stride * (i as u32 + 1))) & ((1 << stride) - 1)))
            .collect()
    }
}

/// What a record set at a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// The records of an answer (its A and TXT records).
    Answer(u32),
    /// A private-use record that makes the name exist with no A or TXT.
    Placeholder,
}

/// A name with its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Top down from the zone; a wildcard ends with [`WILDCARD`].
    pub path: Vec<Label>,
    pub content: Content,
    /// The addresses the name stands for (the address itself for an address name; for a
    /// wildcard the block of the family whose answer it carries), for expanding `$` in TXT.
    pub block: Option<Prefix>,
}

impl Record {
    /// The owner name relative to the zone (`*.8.67.45`, `9.8.67.45`).
    pub fn owner(&self) -> String {
        self.path.iter().rev().map(|&l| label_text(l)).collect::<Vec<_>>().join(".")
    }
}

/// A label as text: `*`, a decimal number, or a nibble a-f.
pub fn label_text(label: Label) -> String {
    match label {
        WILDCARD => "*".to_string(),
        l if l < 256 => l.to_string(),
        l => char::from(b'a' + (l - 256) as u8).to_string(),
    }
}

/// The zone would need more names than allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the zone's record form needs more than {limit} names")]
pub struct TooLarge {
    pub limit: usize,
}

/// One family's part of a name: the block of addresses under it and the pieces meeting it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Part<'a> {
    family: Family,
    depth: usize,
    lo: u128,
    hi: u128,
    pieces: &'a [Piece],
}

impl<'a> Part<'a> {
    fn root(family: Family, pieces: &'a [Piece]) -> Part<'a> {
        let hi = if family == Family::V4 { u128::from(u32::MAX) } else { u128::MAX };
        Part { family, depth: 0, lo: 0, hi, pieces }
    }

    fn is_leaf(&self) -> bool {
        self.depth == self.family.depth()
    }

    /// The one answer of the whole block, if it has one.
    fn uniform(&self) -> Option<u32> {
        match self.pieces {
            [] => Some(0),
            [p] if p.first <= self.lo && p.last >= self.hi => Some(p.answer),
            _ => None,
        }
    }

    /// The answer covering most of the block (0 counts the addresses no piece covers).
    fn default_answer(&self) -> u32 {
        // When the pieces span less than half the block, the addresses no piece covers are
        // the most (a long chain of names above a few pieces, as ::ffff:0:0/96 is).
        if let (Some(first), Some(last)) = (self.pieces.first(), self.pieces.last()) {
            let span = last.last.min(self.hi) - first.first.max(self.lo);
            if span < (self.hi - self.lo) / 2 {
                return 0;
            }
        }
        let mut cover: BTreeMap<u32, u128> = BTreeMap::new();
        let mut listed: u128 = 0;
        for p in self.pieces {
            let n = (p.last.min(self.hi) - p.first.max(self.lo)).saturating_add(1);
            let c = cover.entry(p.answer).or_default();
            *c = c.saturating_add(n);
            listed = listed.saturating_add(n);
        }
        let gap = (self.hi - self.lo).saturating_add(1).saturating_sub(listed);
        cover.into_iter().fold((0, gap), |best, (answer, n)| if n > best.1 { (answer, n) } else { best }).0
    }

    /// The part under child `value`.
    fn child(&self, value: u128) -> Part<'a> {
        let shift = self.family.bits() - self.family.stride() * (self.depth as u32 + 1);
        let lo = self.lo + (value << shift);
        let hi = lo + ((1u128 << shift) - 1);
        let start = self.pieces.partition_point(|p| p.last < lo);
        let end = self.pieces.partition_point(|p| p.first <= hi);
        Part { family: self.family, depth: self.depth + 1, lo, hi, pieces: &self.pieces[start..end.max(start)] }
    }

    /// The children some piece meets, in order (a child's pieces are skipped by a search, so
    /// this costs the children met, not the pieces).
    fn touched(&self) -> Vec<u128> {
        let shift = self.family.bits() - self.family.stride() * (self.depth as u32 + 1);
        let mut out: Vec<u128> = Vec::new();
        let mut at = 0;
        while let Some(p) = self.pieces.get(at) {
            let from = (p.first.max(self.lo) - self.lo) >> shift;
            let to = (p.last.min(self.hi) - self.lo) >> shift;
            let from = if out.last() == Some(&from) { from + 1 } else { from };
            out.extend(from..=to);
            // The next piece that reaches past child `to`.
            let end = self.lo + (to << shift) + ((1u128 << shift) - 1);
            if end >= self.hi {
                break;
            }
            at = (at + 1).max(self.pieces.partition_point(|q| q.last <= end));
        }
        out
    }

    fn prefix(&self) -> Option<Prefix> {
        let len = (self.family.stride() * self.depth as u32) as u8;
        let text = match self.family {
            Family::V4 => format!("{}/{len}", std::net::Ipv4Addr::from(self.lo as u32)),
            Family::V6 => format!("{}/{len}", std::net::Ipv6Addr::from(self.lo)),
        };
        text.parse().ok()
    }
}

/// The records that answer `v4` and `v6` (each sorted by address, disjoint, answers non-zero),
/// at most `limit` of them.
pub fn records(v4: &[Piece], v6: &[Piece], limit: usize) -> Result<Vec<Record>, TooLarge> {
    let mut out = Vec::new();
    each_record(v4, v6, limit, &mut keep_into(&mut out))?;
    Ok(out)
}

/// A sink that keeps every record in `out`.
fn keep_into(out: &mut Vec<Record>) -> impl FnMut(Record) -> ControlFlow<()> + '_ {
    |r| {
        out.push(r);
        ControlFlow::Continue(())
    }
}

/// The records of [`records`], each handed to `sink` as it is made (nothing is kept: a zone's
/// records are streamed in the memory of its deepest name); returns how many there were, or
/// `None` when the sink broke off the walk (a transfer's receiver went away). `TooLarge` stops at
/// the record past `limit`, after `limit` went to the sink.
pub fn each_record(
    v4: &[Piece],
    v6: &[Piece],
    limit: usize,
    sink: &mut dyn FnMut(Record) -> ControlFlow<()>,
) -> Result<Option<usize>, TooLarge> {
    let mut builder = Builder { sink, count: 0, limit };
    let walked = builder.node(&mut Vec::new(), Some(Part::root(Family::V4, v4)), Some(Part::root(Family::V6, v6)), 0);
    match walked {
        Ok(_) => Ok(Some(builder.count)),
        Err(Halt::Sink) => Ok(None),
        Err(Halt::Limit) => Err(TooLarge { limit }),
    }
}

/// The records to delete and to add to turn `records(old)` into `records(new)`, at most `limit`
/// of them together. The two forms are walked side by side: a name whose pieces and inherited
/// wildcard are the same on both sides has the same records under it and is not entered, so the
/// work follows what changed, not the size of the zone.
pub fn diff(old: (&[Piece], &[Piece]), new: (&[Piece], &[Piece]), limit: usize) -> Result<Diff, TooLarge> {
    let (changed4, changed6) = (changed_ranges(old.0, new.0), changed_ranges(old.1, new.1));
    let mut differ = Differ { diff: Diff::default(), limit, changed4, changed6 };
    differ.node(&mut Vec::new(), Side::root(old), Side::root(new))?;
    Ok(differ.diff)
}

/// Records that go and records that come.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub removed: Vec<Record>,
    pub added: Vec<Record>,
}

/// What a name that is built holds: its wildcard, its own answers and the children to visit.
struct Plan<'a> {
    wild: u32,
    wild_block: Option<Prefix>,
    own: [Option<(u32, Option<Prefix>)>; 2],
    inner4: Option<Part<'a>>,
    inner6: Option<Part<'a>>,
    /// Sorted, distinct.
    labels: Vec<Label>,
}

/// Whether the name with parts `p4` and `p6`, under a wildcard answering `inherited`, is built
/// (the apex always is; any other name when something under it answers otherwise).
fn built(apex: bool, p4: &Option<Part<'_>>, p6: &Option<Part<'_>>, inherited: u32) -> bool {
    let differs = |p: &Option<Part<'_>>| p.is_some_and(|p| p.uniform() != Some(inherited));
    apex || differs(p4) || differs(p6)
}

impl<'a> Plan<'a> {
    /// The plan of a name, or `None` when it is not built.
    fn of(apex: bool, p4: Option<Part<'a>>, p6: Option<Part<'a>>, inherited: u32) -> Option<Plan<'a>> {
        if !built(apex, &p4, &p6, inherited) {
            return None;
        }
        // The records of the name itself: an address name answers its address.
        let leaf = |p: Option<Part<'a>>| p.filter(|p| p.is_leaf()).map(|p| (p.uniform().unwrap_or(0), p.prefix()));
        let own = [leaf(p4), leaf(p6)];
        let inner4 = p4.filter(|p| !p.is_leaf());
        let inner6 = p6.filter(|p| !p.is_leaf());
        // The wildcard: the answer most children share, in the family whose choice needs fewer
        // children built (none at the apex).
        let candidates: Vec<(u32, Option<Prefix>)> =
            [inner4, inner6].iter().flatten().map(|p| (p.default_answer(), p.prefix())).collect();
        let (wild, wild_block) = match (apex, candidates.as_slice()) {
            (true, _) | (false, []) => (0, None),
            (false, [one]) => *one,
            (false, [a, b]) if a.0 == b.0 => *a,
            (false, _) => {
                // Both families below, wanting different wildcards (rare: names of digits only).
                let cost = |answer| children_to_build(inner4, inner6, answer);
                candidates.iter().copied().min_by_key(|&(answer, _)| cost(answer)).unwrap_or((0, None))
            }
        };
        // Children, merged by label across the families.
        let mut labels: Vec<Label> = Vec::new();
        for p in [inner4, inner6].iter().flatten() {
            let values: Vec<u128> = match wild {
                0 => p.touched(),
                _ => (0..p.family.children()).collect(),
            };
            labels.extend(values.into_iter().map(|v| p.family.label(v)));
        }
        labels.sort_unstable();
        labels.dedup();
        Some(Plan { wild, wild_block, own, inner4, inner6, labels })
    }

    /// The child under `label`, as a name under this one's wildcard.
    fn child(&self, label: Label) -> Side<'a> {
        let part = |p: Option<Part<'a>>| p.and_then(|p| p.family.value(label).map(|v| p.child(v)));
        Side { p4: part(self.inner4), p6: part(self.inner6), inherited: self.wild }
    }

    /// The name's own records, in order: its wildcard, its address answer, or (when nothing
    /// else makes it exist, `below` saying whether a child does) a placeholder.
    fn records(&self, path: &[Label], below: bool) -> Vec<Record> {
        let mut out = Vec::new();
        if self.wild != 0 {
            let mut wildcard = path.to_vec();
            wildcard.push(WILDCARD);
            out.push(Record { path: wildcard, content: Content::Answer(self.wild), block: self.wild_block });
        }
        for (answer, block) in self.own.iter().flatten() {
            if *answer != 0 {
                out.push(Record { path: path.to_vec(), content: Content::Answer(*answer), block: *block });
            }
        }
        if out.is_empty() && !below && !path.is_empty() {
            out.push(Record { path: path.to_vec(), content: Content::Placeholder, block: None });
        }
        out
    }
}

/// How many children of a name would be built under a wildcard answering `wild`.
fn children_to_build(p4: Option<Part<'_>>, p6: Option<Part<'_>>, wild: u32) -> usize {
    let mut count = 0;
    for p in [p4, p6].iter().flatten() {
        for v in 0..p.family.children() {
            if p.child(v).uniform() != Some(wild) {
                count += 1;
            }
        }
    }
    count
}

/// A name's parts in both families and the wildcard answer above it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Side<'a> {
    p4: Option<Part<'a>>,
    p6: Option<Part<'a>>,
    inherited: u32,
}

impl<'a> Side<'a> {
    fn root((v4, v6): (&'a [Piece], &'a [Piece])) -> Side<'a> {
        Side { p4: Some(Part::root(Family::V4, v4)), p6: Some(Part::root(Family::V6, v6)), inherited: 0 }
    }
}

struct Builder<'s> {
    sink: &'s mut dyn FnMut(Record) -> ControlFlow<()>,
    count: usize,
    limit: usize,
}

/// Why a [`Builder`] stopped before the end.
enum Halt {
    /// The record past the limit.
    Limit,
    /// The sink asked to stop.
    Sink,
}

impl Builder<'_> {
    fn push(&mut self, record: Record) -> Result<(), Halt> {
        if self.count >= self.limit {
            return Err(Halt::Limit);
        }
        self.count += 1;
        match (self.sink)(record) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(Halt::Sink),
        }
    }

    /// Builds the name `path` whose parts are `p4` and `p6`, where a query below it that finds
    /// no name gets `inherited` (the nearest wildcard above); returns whether the name exists.
    fn node(
        &mut self,
        path: &mut Vec<Label>,
        p4: Option<Part<'_>>,
        p6: Option<Part<'_>>,
        inherited: u32,
    ) -> Result<bool, Halt> {
        let Some(plan) = Plan::of(path.is_empty(), p4, p6, inherited) else {
            return Ok(false);
        };
        let mut below = false;
        for &label in &plan.labels {
            let child = plan.child(label);
            path.push(label);
            below |= self.node(path, child.p4, child.p6, child.inherited)?;
            path.pop();
        }
        for record in plan.records(path, below) {
            self.push(record)?;
        }
        Ok(true)
    }
}

struct Differ {
    diff: Diff,
    limit: usize,
    /// Where the two sides answer differently, per family (sorted, disjoint).
    changed4: Vec<(u128, u128)>,
    changed6: Vec<(u128, u128)>,
}

/// The address ranges where `a` and `b` (sorted, disjoint pieces) answer differently.
fn changed_ranges(a: &[Piece], b: &[Piece]) -> Vec<(u128, u128)> {
    // Every piece boundary of either side, with the answer of each side from there on.
    let mut cuts: Vec<u128> = Vec::with_capacity(2 * (a.len() + b.len()));
    for p in a.iter().chain(b) {
        cuts.push(p.first);
        if let Some(after) = p.last.checked_add(1) {
            cuts.push(after);
        }
    }
    // Two sorted runs: a stable sort merges them.
    cuts.sort();
    cuts.dedup();
    let answer_at = |list: &[Piece], i: &mut usize, x: u128| -> u32 {
        while list.get(*i).is_some_and(|p| p.last < x) {
            *i += 1;
        }
        list.get(*i).filter(|p| p.first <= x).map_or(0, |p| p.answer)
    };
    let (mut i, mut j) = (0, 0);
    let mut out: Vec<(u128, u128)> = Vec::new();
    for (k, &at) in cuts.iter().enumerate() {
        let end = cuts.get(k + 1).map_or(u128::MAX, |n| n - 1);
        if answer_at(a, &mut i, at) != answer_at(b, &mut j, at) {
            match out.last_mut() {
                Some(last) if last.1.checked_add(1) == Some(at) => last.1 = end,
                _ => out.push((at, end)),
            }
        }
    }
    out
}

/// Whether the block of `part` meets one of `ranges`.
fn meets(ranges: &[(u128, u128)], part: &Option<Part<'_>>) -> bool {
    let Some(p) = part else { return false };
    let i = ranges.partition_point(|r| r.1 < p.lo);
    ranges.get(i).is_some_and(|r| r.0 <= p.hi)
}

impl Differ {
    fn room(&self) -> usize {
        self.limit.saturating_sub(self.diff.removed.len() + self.diff.added.len())
    }

    /// All records under a name that exists on one side only.
    fn whole(&mut self, path: &mut Vec<Label>, side: Side<'_>, removed: bool) -> Result<bool, TooLarge> {
        let mut out = Vec::new();
        let exists = Builder { sink: &mut keep_into(&mut out), count: 0, limit: self.room() }
            .node(path, side.p4, side.p6, side.inherited)
            .map_err(|_| TooLarge { limit: self.limit })?;
        match removed {
            true => self.diff.removed.append(&mut out),
            false => self.diff.added.append(&mut out),
        }
        Ok(exists)
    }

    /// Compares the name `path` on both sides; returns whether it exists on each.
    fn node(&mut self, path: &mut Vec<Label>, old: Side<'_>, new: Side<'_>) -> Result<(bool, bool), TooLarge> {
        let apex = path.is_empty();
        // Same wildcard above and the same answers below: the same records.
        let same = old.inherited == new.inherited && !meets(&self.changed4, &old.p4) && !meets(&self.changed6, &old.p6);
        if same {
            let exists = built(apex, &old.p4, &old.p6, old.inherited);
            return Ok((exists, exists));
        }
        let before = Plan::of(apex, old.p4, old.p6, old.inherited);
        let after = Plan::of(apex, new.p4, new.p6, new.inherited);
        let (before, after) = match (before, after) {
            (None, None) => return Ok((false, false)),
            (Some(_), None) => return Ok((self.whole(path, old, true)?, false)),
            (None, Some(_)) => return Ok((false, self.whole(path, new, false)?)),
            (Some(b), Some(a)) => (b, a),
        };
        let mut labels: Vec<Label> = before.labels.iter().chain(&after.labels).copied().collect();
        labels.sort_unstable();
        labels.dedup();
        let (mut below_before, mut below_after) = (false, false);
        for label in labels {
            let was = before.labels.binary_search(&label).is_ok().then(|| before.child(label));
            let is = after.labels.binary_search(&label).is_ok().then(|| after.child(label));
            path.push(label);
            let (b, a) = match (was, is) {
                (Some(was), Some(is)) => self.node(path, was, is)?,
                (Some(was), None) => (self.whole(path, was, true)?, false),
                (None, Some(is)) => (false, self.whole(path, is, false)?),
                (None, None) => (false, false),
            };
            path.pop();
            below_before |= b;
            below_after |= a;
        }
        let (gone, come) = (before.records(path, below_before), after.records(path, below_after));
        if self.room() < gone.len() + come.len() {
            return Err(TooLarge { limit: self.limit });
        }
        self.diff.removed.extend(gone.iter().filter(|r| !come.contains(r)).cloned());
        self.diff.added.extend(come.iter().filter(|r| !gone.contains(r)).cloned());
        Ok((true, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashMap};

    /// A naive RFC 4592 resolver over `records`: the answer of the address's name (0 for no data,
    /// NXDOMAIN or a placeholder).
    struct Naive {
        names: HashMap<Vec<Label>, Content>,
        existing: BTreeSet<Vec<Label>>,
    }

    impl Naive {
        fn new(records: &[Record]) -> Naive {
            let mut names = HashMap::new();
            let mut existing = BTreeSet::new();
            for r in records {
                assert!(names.insert(r.path.clone(), r.content).is_none(), "one record set per name: {}", r.owner());
                for i in 0..=r.path.len() {
                    existing.insert(r.path[..i].to_vec());
                }
            }
            Naive { names, existing }
        }

        fn answer(&self, labels: &[Label]) -> u32 {
            let of = |c: Option<&Content>| match c {
                Some(Content::Answer(a)) => *a,
                _ => 0,
            };
            if self.existing.contains(labels) {
                return of(self.names.get(labels));
            }
            let encloser = (0..labels.len()).rev().find(|&i| self.existing.contains(&labels[..i])).unwrap_or(0);
            let mut wildcard = labels[..encloser].to_vec();
            wildcard.push(WILDCARD);
            of(self.names.get(&wildcard))
        }
    }

    fn answer_of(pieces: &[Piece], a: u128) -> u32 {
        pieces.iter().find(|p| p.first <= a && a <= p.last).map_or(0, |p| p.answer)
    }

    /// Disjoint sorted pieces painted from (first, last, answer) ranges: a later range wins
    /// where ranges overlap (a /16 with other answers inside it, holes of answer 0).
    fn paint(ranges: &[(u128, u128, u32)]) -> Vec<Piece> {
        let mut cuts: Vec<u128> = ranges.iter().flat_map(|&(f, l, _)| [Some(f), l.checked_add(1)]).flatten().collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut out: Vec<Piece> = Vec::new();
        for (i, &first) in cuts.iter().enumerate() {
            let last = cuts.get(i + 1).map_or(u128::MAX, |n| n - 1);
            let answer = ranges.iter().rev().find(|&&(f, l, _)| f <= first && first <= l).map_or(0, |r| r.2);
            if answer == 0 {
                continue;
            }
            match out.last_mut() {
                Some(p) if p.answer == answer && p.last.checked_add(1) == Some(first) => p.last = last,
                _ => out.push(Piece { first, last, answer }),
            }
        }
        out
    }

    fn check(v4: &[Piece], v6: &[Piece], extra: &[(Family, u128)]) {
        let records = records(v4, v6, 10_000_000).expect("within the limit");
        let naive = Naive::new(&records);
        let mut probes: Vec<(Family, u128)> = extra.to_vec();
        for (family, list) in [(Family::V4, v4), (Family::V6, v6)] {
            let max = if family == Family::V4 { u128::from(u32::MAX) } else { u128::MAX };
            for p in list {
                for a in [
                    p.first.wrapping_sub(1),
                    p.first,
                    p.first + (p.last - p.first) / 2,
                    p.last,
                    p.last.saturating_add(1),
                ] {
                    probes.push((family, a.min(max)));
                }
            }
        }
        for (family, a) in probes {
            let list = if family == Family::V4 { v4 } else { v6 };
            let got = naive.answer(&family.labels(a));
            assert_eq!(
                got,
                answer_of(list, a),
                "{family:?} {a:#x}: records {:?}",
                records.iter().map(Record::owner).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn the_closest_encloser_case_and_the_shared_namespace() {
        // 1.2.0.0/16 listed with 1, 1.2.3.4 with 2: without `*.3.2.1`, 1.2.3.9 would be NXDOMAIN.
        let v4 = [
            Piece { first: 0x0102_0000, last: 0x0102_0303, answer: 1 },
            Piece { first: 0x0102_0304, last: 0x0102_0304, answer: 2 },
            Piece { first: 0x0102_0305, last: 0x0102_ffff, answer: 1 },
        ];
        // (1.2.x.x are digit labels: IPv6 names under 12xx::/8 share them, and are kept out of
        // the IPv4 wildcards by placeholders, which is most of the count.)
        let records = records(&v4, &[], 1000).expect("small");
        let owners: BTreeSet<String> = records.iter().map(Record::owner).collect();
        assert!(owners.contains("*.2.1") && owners.contains("*.3.2.1") && owners.contains("4.3.2.1"), "{owners:?}");
        check(&v4, &[], &[(Family::V4, 0x0102_0309), (Family::V4, 0x0103_0000)]);
        // IPv6 under 1234::/16 shares the names 1.2.3.4… with IPv4 1.2.3.4's: a v4 wildcard must
        // not answer for it, nor a v6 one for v4.
        let v6 = [Piece { first: 0x1234 << 112, last: (0x1234 << 112) | ((1 << 112) - 1), answer: 3 }];
        check(&v4, &v6, &[(Family::V6, (0x1234 << 112) | 0x1_0000), (Family::V6, 0x1200 << 112)]);
        let wide4 = [Piece { first: 0x0100_0000, last: 0x01ff_ffff, answer: 1 }];
        check(&wide4, &v6, &[(Family::V6, 0x1000 << 112), (Family::V6, 0x1234 << 112)]);
        // Exclusions: holes in a listed /24 answer nothing.
        let holes = [
            Piece { first: 0x2d43_0800, last: 0x2d43_0808, answer: 1 },
            Piece { first: 0x2d43_080a, last: 0x2d43_08ff, answer: 1 },
        ];
        check(&holes, &[], &[(Family::V4, 0x2d43_0809)]);
    }

    #[test]
    fn too_many_names_are_refused() {
        let v4: Vec<Piece> =
            (0..100).map(|i| Piece { first: 0x0a00_0000 + 2 * i, last: 0x0a00_0000 + 2 * i, answer: 1 }).collect();
        assert_eq!(records(&v4, &[], 10), Err(TooLarge { limit: 10 }));
    }

    #[test]
    fn a_sink_that_breaks_off_ends_the_walk() {
        let v4: Vec<Piece> =
            (0..100).map(|i| Piece { first: 0x0a00_0000 + 2 * i, last: 0x0a00_0000 + 2 * i, answer: 1 }).collect();
        let mut seen = 0;
        let walked = each_record(&v4, &[], 1000, &mut |_| {
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!((walked, seen), (Ok(None), 3));
        let all = each_record(&v4, &[], 1000, &mut |_| ControlFlow::Continue(()));
        assert_eq!(all, Ok(Some(records(&v4, &[], 1000).expect("small").len())));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Random IPv4 and IPv6 data around a few bases whose labels are digits (so the families
        /// share names): whole /8, /16 and /24 blocks and IPv6 /4 to /16 blocks, with smaller
        /// ranges and holes (answer 0) painted over them. The naive resolver answers every
        /// boundary address and random ones, including IPv6 names under the IPv4 blocks, as
        /// the pieces do.
        #[test]
        fn a_naive_resolver_over_the_records_answers_like_the_tables(
            blocks4 in proptest::collection::vec((0usize..4, 0u8..3, 0u128..256, 1u32..4), 0..5),
            raw4 in proptest::collection::vec((0usize..4, 0u128..0x1_0000, 0u128..0x400, 0u32..4), 0..20),
            blocks6 in proptest::collection::vec((0usize..3, 1u32..5, 1u32..4), 0..4),
            raw6 in proptest::collection::vec((0usize..3, 0u128..0x1_0000, 0u128..0x1_0000, 0u32..4), 0..10),
            probes in proptest::collection::vec((0usize..4, 0u128..0x1_0000, 0u128..0x1000), 0..32),
        ) {
            let bases4 = [0x0102_0000u128, 0x0305_0000, 0x2d43_0000, 0x7f00_0000];
            let mut r4: Vec<(u128, u128, u32)> = blocks4
                .iter()
                .map(|&(b, kind, sub, a)| {
                    let base = bases4[b];
                    match kind {
                        0 => (base & 0xff00_0000, base | 0x00ff_ffff, a),
                        1 => (base, base | 0xffff, a),
                        _ => (base | (sub << 8), base | (sub << 8) | 0xff, a),
                    }
                })
                .collect();
            r4.extend(raw4.iter().map(|&(b, off, len, a)| (bases4[b] + off, (bases4[b] + off + len).min(u128::from(u32::MAX)), a)));
            let v4 = paint(&r4);
            let bases6 = [0x1234u128 << 112, 0x2001u128 << 112, 0x1020u128 << 112];
            let mut r6: Vec<(u128, u128, u32)> = blocks6
                .iter()
                .map(|&(b, nibbles, a)| {
                    let keep = 4 * nibbles;
                    let first = bases6[b] & !(u128::MAX >> keep);
                    (first, first | (u128::MAX >> keep), a)
                })
                .collect();
            r6.extend(raw6.iter().map(|&(b, off, len, a)| (bases6[b] + (off << 64), bases6[b] + (off << 64) + (len << 60), a)));
            let v6 = paint(&r6);
            let extra: Vec<(Family, u128)> = probes
                .iter()
                .flat_map(|&(b, off, high)| {
                    [
                        (Family::V4, bases4[b] + off),
                        (Family::V6, bases6[b % 3] + (off << 64)),
                        (Family::V6, (bases6[b % 3] & !(0xfffu128 << 104)) | (high << 104)),
                        (Family::V6, (bases4[b] << 96) | off),
                    ]
                })
                .collect();
            check(&v4, &v6, &extra);
        }

    }

    /// `records(old)` with `diff` applied, as sorted debug text (records have no order).
    fn applied(old: &[Record], diff: &Diff) -> Vec<String> {
        let text = |r: &Record| format!("{r:?}");
        let mut out: Vec<String> = old.iter().map(text).collect();
        for gone in &diff.removed {
            let at = out.iter().position(|r| *r == text(gone));
            assert!(at.is_some(), "removed record {} was not there", gone.owner());
            out.swap_remove(at.unwrap_or(0));
        }
        out.extend(diff.added.iter().map(text));
        out.sort();
        out
    }

    fn sorted(records: &[Record]) -> Vec<String> {
        let mut out: Vec<String> = records.iter().map(|r| format!("{r:?}")).collect();
        out.sort();
        out
    }

    #[test]
    fn a_diff_touches_only_what_changed() {
        // 45.67.0.0/16 listed; then 45.67.89.12 listed otherwise: the address and the copy
        // `*.89.67.45` come (the closest-encloser rule), nothing goes.
        let old4 = [Piece { first: 0x2d43_0000, last: 0x2d43_ffff, answer: 1 }];
        let new4 = [
            Piece { first: 0x2d43_0000, last: 0x2d43_590b, answer: 1 },
            Piece { first: 0x2d43_590c, last: 0x2d43_590c, answer: 2 },
            Piece { first: 0x2d43_590d, last: 0x2d43_ffff, answer: 1 },
        ];
        let d = diff((&old4, &[]), (&new4, &[]), 1000).expect("small");
        assert!(d.removed.is_empty(), "{:?}", d.removed);
        let added: BTreeSet<String> = d.added.iter().map(Record::owner).collect();
        assert_eq!(added, BTreeSet::from(["*.89.67.45".to_string(), "12.89.67.45".to_string()]));
        let old = records(&old4, &[], 1000).expect("small");
        assert_eq!(applied(&old, &d), sorted(&records(&new4, &[], 1000).expect("small")));
        assert_eq!(diff((&new4, &[]), (&new4, &[]), 1000), Ok(Diff::default()));
        assert_eq!(diff((&old4, &[]), (&new4, &[]), 1), Err(TooLarge { limit: 1 }));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Random data in both families, then random ranges painted over it: the old records
        /// with the diff applied are the new records, and the diff deletes only what was there.
        #[test]
        fn the_old_records_with_the_diff_applied_are_the_new_ones(
            base4 in proptest::collection::vec((0usize..3, 0u128..0x2_0000, 0u128..0x2_0000, 0u32..4), 0..12),
            change4 in proptest::collection::vec((0usize..3, 0u128..0x2_0000, 0u128..0x400, 0u32..4), 0..6),
            base6 in proptest::collection::vec((0usize..2, 0u128..0x100, 1u32..6, 0u32..4), 0..6),
            change6 in proptest::collection::vec((0usize..2, 0u128..0x100, 1u32..8, 0u32..4), 0..4),
        ) {
            let bases4 = [0x0102_0000u128, 0x2d43_0000, 0x7f00_0000];
            let bases6 = [0x1234u128 << 112, 0x2001u128 << 112];
            let r4 = |v: &[(usize, u128, u128, u32)]| -> Vec<(u128, u128, u32)> {
                v.iter().map(|&(b, off, len, a)| (bases4[b] + off, (bases4[b] + off + len).min(u128::from(u32::MAX)), a)).collect()
            };
            let r6 = |v: &[(usize, u128, u32, u32)]| -> Vec<(u128, u128, u32)> {
                v.iter()
                    .map(|&(b, off, nibbles, a)| {
                        let first = bases6[b] + (off << 100);
                        let first = first & !(u128::MAX >> (4 * nibbles));
                        (first, first | (u128::MAX >> (4 * nibbles)), a)
                    })
                    .collect()
            };
            let (old4, old6) = (paint(&r4(&base4)), paint(&r6(&base6)));
            let new4 = paint(&[r4(&base4), r4(&change4)].concat());
            let new6 = paint(&[r6(&base6), r6(&change6)].concat());
            let old = records(&old4, &old6, 10_000_000).expect("within the limit");
            let new = records(&new4, &new6, 10_000_000).expect("within the limit");
            let d = diff((&old4, &old6), (&new4, &new6), 10_000_000).expect("within the limit");
            prop_assert_eq!(applied(&old, &d), sorted(&new));
            for r in &d.added {
                prop_assert!(!d.removed.contains(r), "{} both removed and added", r.owner());
            }
        }
    }
}
