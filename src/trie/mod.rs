//! Longest-prefix match over IPv4 and IPv6 listings, flattened into sorted disjoint ranges.
//!
//! A [`PrefixTable`] is built once from a set of prefixes (listings carry a value id, exclusions
//! carry none) and is immutable afterwards. Building resolves the "most specific prefix wins, an
//! exclusion at the same prefix as a listing wins" rule ahead of time: the table is the address
//! line cut into segments, each with the value that decides it. A lookup is one binary search and
//! never allocates. Pure: no I/O, no locking; publication is the snapshot module's job.

use std::fmt;

mod layered;
pub use layered::{LayeredTable, Patch};

/// Index into the snapshot's value table (codes + TXT template).
pub type ValueId = u32;

const UNLISTED: ValueId = ValueId::MAX;

/// An address width the table can hold: `u32` for IPv4, `u128` for IPv6.
pub trait Addr: Copy + Ord + fmt::Debug + Send + Sync + 'static {
    /// The lowest address.
    const ZERO: Self;
    /// Width in bits.
    const BITS: u8;
    /// The next address, or `None` past the top.
    fn checked_next(self) -> Option<Self>;
    /// The last address of the prefix starting at `self` with `len` bits.
    fn last_in(self, len: u8) -> Self;
    /// The top 16 bits (the bucket of the lookup index).
    fn top16(self) -> usize;
    /// The first address of bucket `top`.
    fn bucket_start(top: usize) -> Self;
    /// The previous address, or `None` at zero.
    fn checked_prev(self) -> Option<Self>;
}

impl Addr for u32 {
    const ZERO: Self = 0;
    const BITS: u8 = 32;
    fn checked_next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn last_in(self, len: u8) -> Self {
        self | !crate::model::mask32(len)
    }
    fn top16(self) -> usize {
        (self >> 16) as usize
    }
    fn bucket_start(top: usize) -> Self {
        (top as u32) << 16
    }
    fn checked_prev(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl Addr for u128 {
    const ZERO: Self = 0;
    const BITS: u8 = 128;
    fn checked_next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn last_in(self, len: u8) -> Self {
        self | !crate::model::mask128(len)
    }
    fn top16(self) -> usize {
        (self >> 112) as usize
    }
    fn bucket_start(top: usize) -> Self {
        (top as u128) << 112
    }
    fn checked_prev(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// What one prefix says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Listed with this value.
    Listed(ValueId),
    /// Excluded: addresses under it are not listed unless a more specific listing says so.
    Excluded,
}

/// An immutable longest-prefix-match table for one address family.
#[derive(Clone)]
pub struct PrefixTable<A: Addr> {
    /// Segment start addresses, strictly increasing; the first is always zero.
    starts: Box<[A]>,
    /// The deciding value of each segment (`UNLISTED` for none). Adjacent values differ.
    values: Box<[ValueId]>,
    /// `index[b]` = the first segment starting at or after bucket `b` (top 16 address bits), so a
    /// lookup searches only the segments of one bucket instead of the whole table.
    index: Box<[u32]>,
}

impl<A: Addr> fmt::Debug for PrefixTable<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrefixTable").field("segments", &self.starts.len()).finish()
    }
}

impl<A: Addr> Default for PrefixTable<A> {
    fn default() -> Self {
        PrefixTable::from_segments(vec![A::ZERO], vec![UNLISTED])
    }
}

const BUCKETS: usize = 1 << 16;

impl<A: Addr> PrefixTable<A> {
    /// Builds a table from `(network address, prefix length, verdict)` triples. Host bits must be
    /// zero. Several verdicts for the same prefix: an exclusion beats a listing, otherwise the
    /// later one in the input wins.
    pub fn build(entries: Vec<(A, u8, Verdict)>) -> PrefixTable<A> {
        let out = flatten(entries);
        PrefixTable::from_segments(out.starts, out.values)
    }
}

/// Cuts the address line into segments: "most specific prefix wins, exclusion wins a tie".
fn flatten<A: Addr>(mut entries: Vec<(A, u8, Verdict)>) -> Segments<A> {
    // Outer prefixes before inner ones; at the same prefix, the exclusion last (on top).
    entries.sort_by(|a, b| {
        (a.0, a.1, matches!(a.2, Verdict::Excluded)).cmp(&(b.0, b.1, matches!(b.2, Verdict::Excluded)))
    });
    let mut out = Segments { starts: vec![A::ZERO], values: vec![UNLISTED] };
    // Open prefixes, outermost first: (last address, value).
    let mut open: Vec<(A, ValueId)> = Vec::new();
    for (start, len, verdict) in entries {
        close_before(&mut open, &mut out, Some(start));
        let value = match verdict {
            Verdict::Listed(id) => id,
            Verdict::Excluded => UNLISTED,
        };
        out.set(start, value);
        open.push((start.last_in(len), value));
    }
    close_before(&mut open, &mut out, None);
    out
}

impl<A: Addr> PrefixTable<A> {
    fn from_segments(starts: Vec<A>, values: Vec<ValueId>) -> PrefixTable<A> {
        let mut index = Vec::with_capacity(BUCKETS + 1);
        let mut i = 0;
        for bucket in 0..BUCKETS {
            let first = A::bucket_start(bucket);
            while i < starts.len() && starts[i] < first {
                i += 1;
            }
            // Segment counts beyond u32 would need more memory than any list we serve.
            index.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        index.push(u32::try_from(starts.len()).unwrap_or(u32::MAX));
        PrefixTable {
            starts: starts.into_boxed_slice(),
            values: values.into_boxed_slice(),
            index: index.into_boxed_slice(),
        }
    }

    /// The value deciding `addr`, if it is listed.
    #[inline]
    pub fn lookup(&self, addr: A) -> Option<ValueId> {
        let i = self.segment_of(addr);
        let v = self.values[i];
        (v != UNLISTED).then_some(v)
    }

    /// True when any address in `first..=last` is listed (for empty non-terminal answers).
    pub fn any_listed(&self, first: A, last: A) -> bool {
        let i = self.segment_of(first);
        if self.values[i] != UNLISTED {
            return true;
        }
        // Adjacent segments never share a value, so the next one (if it starts in range) is listed.
        self.starts.get(i + 1).is_some_and(|&s| s <= last)
    }

    /// The listed ranges in address order: `(first, last, value)`.
    pub fn listed_ranges(&self) -> impl Iterator<Item = (A, A, ValueId)> + '_ {
        (0..self.starts.len()).filter(|&i| self.values[i] != UNLISTED).map(move |i| {
            let last = match self.starts.get(i + 1) {
                Some(next) => next.checked_prev().unwrap_or(*next),
                // The last segment runs to the top of the address space.
                None => A::ZERO.last_in(0),
            };
            (self.starts[i], last, self.values[i])
        })
    }

    /// Number of segments the address line is cut into.
    pub fn segments(&self) -> usize {
        self.starts.len()
    }

    /// Heap bytes held by the table.
    pub fn heap_bytes(&self) -> usize {
        self.starts.len() * std::mem::size_of::<A>()
            + self.values.len() * std::mem::size_of::<ValueId>()
            + self.index.len() * std::mem::size_of::<u32>()
    }

    #[inline]
    fn segment_of(&self, addr: A) -> usize {
        // The deciding segment starts in this bucket, or is the last one before it.
        let bucket = addr.top16();
        let (lo, hi) = (self.index[bucket] as usize, self.index[bucket + 1] as usize);
        // starts[0] is zero, so for bucket 0 the search finds at least one start <= addr.
        (lo + self.starts[lo..hi].partition_point(|&s| s <= addr)).saturating_sub(1)
    }
}

/// Segments under construction.
struct Segments<A> {
    starts: Vec<A>,
    values: Vec<ValueId>,
}

impl<A: Addr> Segments<A> {
    /// From `start` on, the deciding value is `value`.
    fn set(&mut self, start: A, value: ValueId) {
        let n = self.starts.len();
        if self.starts[n - 1] == start {
            self.values[n - 1] = value;
            if n >= 2 && self.values[n - 2] == value {
                self.starts.pop();
                self.values.pop();
            }
        } else if self.values[n - 1] != value {
            self.starts.push(start);
            self.values.push(value);
        }
    }
}

/// Closes every open prefix that ends before `next` (all of them when `next` is `None`).
fn close_before<A: Addr>(open: &mut Vec<(A, ValueId)>, out: &mut Segments<A>, next: Option<A>) {
    while let Some(&(last, _)) = open.last() {
        if next.is_some_and(|n| last >= n) {
            break;
        }
        open.pop();
        if let Some(after) = last.checked_next() {
            let parent = open.last().map_or(UNLISTED, |&(_, v)| v);
            out.set(after, parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mask32;
    use proptest::prelude::*;

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().expect("ip"))
    }

    #[test]
    fn empty_table_lists_nothing() {
        let t = PrefixTable::<u32>::default();
        assert_eq!(t.lookup(0), None);
        assert_eq!(t.lookup(u32::MAX), None);
        assert!(!t.any_listed(0, u32::MAX));
    }

    #[test]
    fn most_specific_wins_and_exclusions_cut_holes() {
        let t = PrefixTable::build(vec![
            (v4("10.0.0.0"), 8, Verdict::Listed(1)),
            (v4("10.1.0.0"), 16, Verdict::Excluded),
            (v4("10.1.2.3"), 32, Verdict::Listed(2)),
            (v4("10.2.0.0"), 16, Verdict::Listed(3)),
            (v4("10.2.0.0"), 16, Verdict::Excluded),
        ]);
        assert_eq!(t.lookup(v4("9.255.255.255")), None);
        assert_eq!(t.lookup(v4("10.0.0.0")), Some(1));
        assert_eq!(t.lookup(v4("10.1.0.0")), None);
        assert_eq!(t.lookup(v4("10.1.2.3")), Some(2));
        assert_eq!(t.lookup(v4("10.1.2.4")), None);
        assert_eq!(t.lookup(v4("10.2.9.9")), None, "exclusion at the same prefix wins");
        assert_eq!(t.lookup(v4("10.3.0.0")), Some(1));
        assert_eq!(t.lookup(v4("10.255.255.255")), Some(1));
        assert_eq!(t.lookup(v4("11.0.0.0")), None);
        assert!(t.any_listed(v4("10.1.0.0"), v4("10.1.255.255")));
        assert!(!t.any_listed(v4("10.1.3.0"), v4("10.1.255.255")));
    }

    #[test]
    fn top_of_address_space() {
        let t = PrefixTable::build(vec![(0, 0, Verdict::Listed(7)), (u32::MAX, 32, Verdict::Excluded)]);
        assert_eq!(t.lookup(u32::MAX - 1), Some(7));
        assert_eq!(t.lookup(u32::MAX), None);
        let t6 = PrefixTable::build(vec![(u128::MAX, 128, Verdict::Listed(1))]);
        assert_eq!(t6.lookup(u128::MAX), Some(1));
        assert_eq!(t6.lookup(u128::MAX - 1), None);
    }

    /// The rule, written the slow and obvious way.
    fn naive(entries: &[(u32, u8, Verdict)], addr: u32) -> Option<ValueId> {
        let mut best: Option<(u8, bool, usize, Verdict)> = None;
        for (i, &(net, len, verdict)) in entries.iter().enumerate() {
            if addr & mask32(len) == net {
                let key = (len, matches!(verdict, Verdict::Excluded), i, verdict);
                if best.is_none_or(|b| (key.0, key.1, key.2) > (b.0, b.1, b.2)) {
                    best = Some(key);
                }
            }
        }
        match best {
            Some((_, _, _, Verdict::Listed(v))) => Some(v),
            _ => None,
        }
    }

    fn entry() -> impl Strategy<Value = (u32, u8, Verdict)> {
        // Few distinct high bits so prefixes nest and collide often.
        (
            0u32..4,
            any::<u32>(),
            0u8..=32,
            prop_oneof![3 => (0u32..5).prop_map(Verdict::Listed), 1 => Just(Verdict::Excluded)],
        )
            .prop_map(|(hi, lo, len, v)| {
                let addr = (hi << 30) | (lo & 0x00ff_00ff);
                (addr & mask32(len), len, v)
            })
    }

    proptest! {
        #[test]
        fn table_matches_naive_scan(entries in prop::collection::vec(entry(), 0..40), probes in prop::collection::vec(any::<u32>(), 0..40)) {
            let table = PrefixTable::build(entries.clone());
            let mut points: Vec<u32> = probes.iter().map(|p| p & 0xc0ff_00ff).collect();
            for &(net, len, _) in &entries {
                let last = net.last_in(len);
                points.extend([net, last, net.wrapping_sub(1), last.wrapping_add(1)]);
            }
            for addr in points {
                prop_assert_eq!(table.lookup(addr), naive(&entries, addr), "addr {:#x}", addr);
            }
        }

        #[test]
        fn any_listed_matches_scan(entries in prop::collection::vec(entry(), 0..20), net in any::<u32>(), len in 8u8..=32) {
            let table = PrefixTable::build(entries.clone());
            let first = (net & 0xc0ff_00ff) & mask32(len);
            let last = first.last_in(len);
            let mut points: Vec<u32> = vec![first, last];
            for &(n, l, _) in &entries {
                points.extend([n, n.last_in(l), n.last_in(l).wrapping_add(1)]);
            }
            let expect = points.iter().any(|&a| a >= first && a <= last && naive(&entries, a).is_some());
            prop_assert_eq!(table.any_listed(first, last), expect);
        }
    }
}
