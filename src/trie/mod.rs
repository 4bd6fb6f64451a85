//! Longest-prefix match over IPv4 and IPv6 listings, flattened into sorted disjoint ranges.
//!
//! A [`PrefixTable`] is built once from a set of prefixes (listings carry a value id, exclusions
//! carry none) and is immutable afterwards. Building resolves the "most specific prefix wins, an
//! exclusion at the same prefix as a listing wins" rule ahead of time: the table is the address
//! line cut into segments, each with the value that decides it. A lookup reads one index slot and
//! searches the few segments of that bucket; it never allocates. Pure: no I/O, no locking;
//! publication is the snapshot module's job.
//!
//! Layout, chosen for lookups that miss the CPU caches (a server's lookups for unrelated clients
//! do): the index has one slot per bucket, sized so a bucket holds about [`SEGMENTS_PER_BUCKET`]
//! segments; IPv4 buckets are the top address bits, IPv6 ones cut the span between the first and
//! the last listed or excluded address evenly. For IPv4 each segment is one 32-bit word, the low 16 bits of
//! its start above its value id, so a bucket's segments and their values share one cache line
//! and a lookup touches about two lines. IPv6 keeps full starts and a separate value array.

use std::fmt;

mod layered;
pub use layered::{LayeredTable, Patch};

/// Index into the snapshot's value table (codes + TXT template).
pub type ValueId = u32;

const UNLISTED: ValueId = ValueId::MAX;

/// Segments per index bucket the index size aims at.
pub const SEGMENTS_PER_BUCKET: usize = 16;

/// An address width the table can hold: `u32` for IPv4, `u128` for IPv6.
pub trait Addr: Copy + Ord + fmt::Debug + Send + Sync + 'static {
    /// The lowest address.
    const ZERO: Self;
    /// Width in bits.
    const BITS: u8;
    /// Whether the table may use the compact layout (a 16-bit low part per segment start; only
    /// when the index takes at least the top 16 bits).
    const COMPACT: bool;
    /// The next address, or `None` past the top.
    fn checked_next(self) -> Option<Self>;
    /// The last address of the prefix starting at `self` with `len` bits.
    fn last_in(self, len: u8) -> Self;
    /// The previous address, or `None` at zero.
    fn checked_prev(self) -> Option<Self>;
    /// Buckets of the lookup index: `(self - origin) >> shift` (0 below `origin`).
    fn bucket_from(self, origin: Self, shift: u32) -> usize;
    /// The first address of a bucket: `origin + (bucket << shift)`, or `None` past the top.
    fn bucket_start_from(origin: Self, bucket: usize, shift: u32) -> Option<Self>;
    /// Bits needed to hold `last - first`.
    fn span_bits(first: Self, last: Self) -> u32;
    /// The low 16 bits (compact layout).
    fn low16(self) -> u16;
    /// The address in `bucket` (origin zero, `shift` <= 16) whose low 16 bits are `low`.
    fn from_bucket_low16(bucket: usize, shift: u32, low: u16) -> Self;
}

/// The two widths share all their arithmetic.
macro_rules! impl_addr {
    ($t:ty, $compact:expr, $mask:path) => {
        impl Addr for $t {
            const ZERO: Self = 0;
            const BITS: u8 = <$t>::BITS as u8;
            const COMPACT: bool = $compact;
            fn checked_next(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn last_in(self, len: u8) -> Self {
                self | !$mask(len)
            }
            fn checked_prev(self) -> Option<Self> {
                self.checked_sub(1)
            }
            fn bucket_from(self, origin: Self, shift: u32) -> usize {
                self.saturating_sub(origin).checked_shr(shift).unwrap_or(0) as usize
            }
            fn bucket_start_from(origin: Self, bucket: usize, shift: u32) -> Option<Self> {
                let bucket = <$t>::try_from(bucket).ok()?;
                let offset = bucket.checked_shl(shift).filter(|b| b >> shift == bucket)?;
                origin.checked_add(offset)
            }
            fn span_bits(first: Self, last: Self) -> u32 {
                <$t>::BITS - last.saturating_sub(first).leading_zeros()
            }
            fn low16(self) -> u16 {
                self as u16
            }
            fn from_bucket_low16(bucket: usize, shift: u32, low: u16) -> Self {
                let below = (1 as $t).checked_shl(shift).map_or(<$t>::MAX, |b| b - 1);
                Self::bucket_start_from(0, bucket, shift).unwrap_or(0) | (Self::from(low) & below)
            }
        }
    };
}

impl_addr!(u32, true, crate::model::mask32);
impl_addr!(u128, false, crate::model::mask128);

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
    /// A lookup's bucket is `(addr - origin) >> shift`, capped at the last one. IPv4: origin zero
    /// and the top 16 to 22 bits. IPv6: the span from the first listed or excluded address to the
    /// last, cut evenly (IPv6 lists sit in a few blocks, so the top bits alone would not spread
    /// them).
    origin: A,
    shift: u32,
    /// `index[b]` = the first segment starting at or after bucket `b`, so a lookup searches only
    /// the segments of one bucket; one extra slot at the end holds the segment count.
    index: Box<[u32]>,
    layout: Layout<A>,
}

/// The segments: starts strictly increasing, the first always zero; adjacent values differ.
#[derive(Clone)]
enum Layout<A> {
    /// One word per segment: `low16(start) << 16 | value`, where value `0xffff` is unlisted and
    /// `0xfffe` means the id is in `overflow` (ids that do not fit 16 bits; rare, as values are
    /// interned). Starts are rebuilt from the bucket and the low 16 bits.
    Compact { keys: Box<[u32]>, overflow: Box<[(u32, ValueId)]> },
    /// Full starts and values.
    Wide { starts: Box<[A]>, values: Box<[ValueId]> },
}

const KEY_UNLISTED: u32 = 0xffff;
const KEY_OVERFLOW: u32 = 0xfffe;

impl<A: Addr> fmt::Debug for PrefixTable<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrefixTable")
            .field("segments", &self.segments())
            .field("buckets", &(self.index.len() - 1))
            .finish()
    }
}

impl<A: Addr> Default for PrefixTable<A> {
    fn default() -> Self {
        PrefixTable::from_segments(vec![A::ZERO], vec![UNLISTED])
    }
}

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
    /// `starts` strictly increasing from zero, `values` the same length.
    fn from_segments(starts: Vec<A>, values: Vec<ValueId>) -> PrefixTable<A> {
        // About SEGMENTS_PER_BUCKET segments per bucket.
        let wanted = usize::BITS - (starts.len() / SEGMENTS_PER_BUCKET).leading_zeros();
        if A::COMPACT {
            // At least the top 16 bits (the compact layout keeps the low 16), at most 22 (16 MiB).
            let bits = wanted.clamp(16, 22);
            PrefixTable::with_index(starts, values, A::ZERO, u32::from(A::BITS) - bits, 1 << bits)
        } else {
            let bits = wanted.clamp(8, 20);
            let origin = starts.get(1).copied().unwrap_or(A::ZERO);
            let last = starts.last().copied().unwrap_or(A::ZERO);
            let shift = A::span_bits(origin, last).saturating_sub(bits);
            PrefixTable::with_index(starts, values, origin, shift, 1 << bits)
        }
    }

    fn with_index(starts: Vec<A>, values: Vec<ValueId>, origin: A, shift: u32, buckets: usize) -> PrefixTable<A> {
        let mut index = Vec::with_capacity(buckets + 1);
        let mut i = 0;
        for bucket in 0..buckets {
            // Buckets past the top of the address space hold nothing (no address maps to them).
            match A::bucket_start_from(origin, bucket, shift) {
                Some(first) => {
                    while i < starts.len() && starts[i] < first {
                        i += 1;
                    }
                }
                None => i = starts.len(),
            }
            // Segment counts beyond u32 would need more memory than any list we serve.
            index.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        index.push(u32::try_from(starts.len()).unwrap_or(u32::MAX));
        let layout = if A::COMPACT && origin == A::ZERO && shift <= 16 {
            let mut overflow = Vec::new();
            let mut keys = Vec::with_capacity(starts.len());
            keys.extend(starts.iter().zip(&values).enumerate().map(|(j, (&start, &value))| {
                let low = u32::from(start.low16()) << 16;
                if value == UNLISTED {
                    low | KEY_UNLISTED
                } else if value < KEY_OVERFLOW {
                    low | value
                } else {
                    overflow.push((u32::try_from(j).unwrap_or(u32::MAX), value));
                    low | KEY_OVERFLOW
                }
            }));
            Layout::Compact { keys: keys.into_boxed_slice(), overflow: overflow.into_boxed_slice() }
        } else {
            Layout::Wide { starts: starts.into_boxed_slice(), values: values.into_boxed_slice() }
        };
        PrefixTable { origin, shift, index: index.into_boxed_slice(), layout }
    }

    /// The value deciding `addr`, if it is listed.
    #[inline]
    pub fn lookup(&self, addr: A) -> Option<ValueId> {
        let v = self.value_of(self.segment_of(addr));
        (v != UNLISTED).then_some(v)
    }

    /// True when any address in `first..=last` is listed (for empty non-terminal answers).
    pub fn any_listed(&self, first: A, last: A) -> bool {
        let i = self.segment_of(first);
        if self.value_of(i) != UNLISTED {
            return true;
        }
        // Adjacent segments never share a value, so the next one (if it starts in range) is listed.
        i + 1 < self.segments() && self.start_of(i + 1) <= last
    }

    /// The listed ranges in address order: `(first, last, value)`.
    pub fn listed_ranges(&self) -> impl Iterator<Item = (A, A, ValueId)> + '_ {
        let mut segments = self.segment_iter().peekable();
        std::iter::from_fn(move || loop {
            let (start, value) = segments.next()?;
            if value == UNLISTED {
                continue;
            }
            let last = match segments.peek() {
                Some(&(next, _)) => next.checked_prev().unwrap_or(next),
                // The last segment runs to the top of the address space.
                None => A::ZERO.last_in(0),
            };
            return Some((start, last, value));
        })
    }

    /// Every segment in address order: `(start, value)`, value [`u32::MAX`] for unlisted.
    pub(crate) fn segment_iter(&self) -> impl Iterator<Item = (A, ValueId)> + '_ {
        let mut bucket = 0;
        (0..self.segments()).map(move |j| {
            while self.index[bucket + 1] as usize <= j {
                bucket += 1;
            }
            (self.start_in(bucket, j), self.value_of(j))
        })
    }

    /// Number of segments the address line is cut into.
    pub fn segments(&self) -> usize {
        match &self.layout {
            Layout::Compact { keys, .. } => keys.len(),
            Layout::Wide { starts, .. } => starts.len(),
        }
    }

    /// Heap bytes held by the table.
    pub fn heap_bytes(&self) -> usize {
        let segments = match &self.layout {
            Layout::Compact { keys, overflow } => {
                keys.len() * std::mem::size_of::<u32>() + std::mem::size_of_val::<[(u32, ValueId)]>(overflow)
            }
            Layout::Wide { starts, values } => {
                starts.len() * std::mem::size_of::<A>() + values.len() * std::mem::size_of::<ValueId>()
            }
        };
        segments + self.index.len() * std::mem::size_of::<u32>()
    }

    /// Warms the CPU caches for lookups of a batch of addresses (each in its table): reads their
    /// index slots, then the first segment of each bucket, each pass a tight loop so the batch's
    /// cache misses overlap instead of following one another. Returns a value made from what it
    /// read, for `std::hint::black_box`.
    pub fn warm(batch: &[Option<(&PrefixTable<A>, A)>]) -> u32 {
        // Only the first 64 of a batch are warmed (the UDP loop's batches are 32).
        let mut first = [0usize; 64];
        for (slot, lookup) in first.iter_mut().zip(batch) {
            if let Some((t, addr)) = lookup {
                *slot = t.index[t.bucket(*addr)] as usize;
            }
        }
        let mut seen = 0;
        for (&lo, lookup) in first.iter().zip(batch) {
            if let Some((t, _)) = lookup {
                seen ^= t.value_of(lo.min(t.segments() - 1));
            }
        }
        seen
    }

    /// The index bucket of `addr`: `(addr - origin) >> shift`, capped at the last one.
    #[inline]
    fn bucket(&self, addr: A) -> usize {
        addr.bucket_from(self.origin, self.shift).min(self.index.len() - 2)
    }

    #[inline]
    fn segment_of(&self, addr: A) -> usize {
        // The deciding segment starts in this bucket, or is the last one before it.
        let bucket = self.bucket(addr);
        let (lo, hi) = (self.index[bucket] as usize, self.index[bucket + 1] as usize);
        // The first segment starts at zero, so for bucket 0 the search finds at least one start
        // at or below addr.
        let found = match &self.layout {
            Layout::Compact { keys, .. } => {
                let probe = (u32::from(addr.low16()) << 16) | 0xffff;
                keys[lo..hi].partition_point(|&k| k <= probe)
            }
            Layout::Wide { starts, .. } => starts[lo..hi].partition_point(|&s| s <= addr),
        };
        (lo + found).saturating_sub(1)
    }

    #[inline]
    fn value_of(&self, segment: usize) -> ValueId {
        match &self.layout {
            Layout::Compact { keys, overflow } => match keys[segment] & 0xffff {
                KEY_UNLISTED => UNLISTED,
                KEY_OVERFLOW => {
                    let j = segment as u32;
                    overflow.binary_search_by_key(&j, |&(k, _)| k).map_or(UNLISTED, |i| overflow[i].1)
                }
                v => v,
            },
            Layout::Wide { values, .. } => values[segment],
        }
    }

    /// The start of segment `j`.
    fn start_of(&self, j: usize) -> A {
        match &self.layout {
            Layout::Compact { .. } => {
                // The bucket holding segment j: the last one whose first segment is at or before j.
                let bucket = self.index.partition_point(|&first| first as usize <= j) - 1;
                self.start_in(bucket, j)
            }
            Layout::Wide { starts, .. } => starts[j],
        }
    }

    /// The start of segment `j`, which lies in `bucket`.
    fn start_in(&self, bucket: usize, j: usize) -> A {
        match &self.layout {
            Layout::Compact { keys, .. } => A::from_bucket_low16(bucket, self.shift, (keys[j] >> 16) as u16),
            Layout::Wide { starts, .. } => starts[j],
        }
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

    /// The probes (squeezed into the entries' part of the address space) and every entry's
    /// edges and neighbours.
    fn probe_points(entries: &[(u32, u8, Verdict)], probes: &[u32]) -> Vec<u32> {
        let mut points: Vec<u32> = probes.iter().map(|p| p & 0xc0ff_00ff).collect();
        for &(net, len, _) in entries {
            let last = net.last_in(len);
            points.extend([net, last, net.wrapping_sub(1), last.wrapping_add(1)]);
        }
        points
    }

    /// The same segments with the index sized for a table a hundred times larger, so buckets
    /// hold few segments and many are empty.
    fn with_wide_index(t: &PrefixTable<u32>) -> PrefixTable<u32> {
        let (starts, values) = t.segment_iter().unzip();
        PrefixTable::with_index(starts, values, 0, 10, 1 << 22)
    }

    #[test]
    fn warming_reads_any_batch_without_changing_answers() {
        let empty = PrefixTable::<u32>::default();
        let t = PrefixTable::build(vec![(v4("10.0.0.0"), 8, Verdict::Listed(1)), (u32::MAX, 32, Verdict::Listed(2))]);
        let mut batch = vec![None, Some((&empty, 0)), Some((&t, u32::MAX)), Some((&t, v4("10.1.2.3")))];
        batch.extend((0..100u32).map(|i| Some((&t, i << 24))));
        PrefixTable::warm(&batch);
        PrefixTable::<u128>::warm(&[]);
        assert_eq!(t.lookup(v4("10.1.2.3")), Some(1));
        assert_eq!(t.lookup(u32::MAX), Some(2));
    }

    #[test]
    fn value_ids_beyond_16_bits_go_through_the_overflow_list() {
        let ids = [0, 0xfffd, 0xfffe, 0xffff, 0x1_0000, 70_000, u32::MAX - 1];
        let entries: Vec<(u32, u8, Verdict)> =
            ids.iter().enumerate().map(|(i, &id)| ((i as u32) << 24, 8, Verdict::Listed(id))).collect();
        for t in [PrefixTable::build(entries.clone()), with_wide_index(&PrefixTable::build(entries))] {
            for (i, &id) in ids.iter().enumerate() {
                assert_eq!(t.lookup(((i as u32) << 24) | 0x00ab_cdef), Some(id), "{t:?}");
            }
            assert_eq!(t.lookup(0xff00_0000), None);
            let ranges: Vec<ValueId> = t.listed_ranges().map(|(_, _, v)| v).collect();
            assert_eq!(ranges, ids);
        }
    }

    /// The rule for IPv6, the slow and obvious way.
    fn naive6(entries: &[(u128, u8, Verdict)], addr: u128) -> Option<ValueId> {
        let mut best: Option<(u8, bool, usize, Verdict)> = None;
        for (i, &(net, len, verdict)) in entries.iter().enumerate() {
            if addr & crate::model::mask128(len) == net {
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

    fn entry6() -> impl Strategy<Value = (u128, u8, Verdict)> {
        // Mostly inside one /12 (as real lists sit in a few blocks), some anywhere.
        (
            prop_oneof![3 => Just(0x2a00u128 << 112), 1 => any::<u128>().prop_map(|a| a & (0xffff << 112))],
            any::<u128>(),
            prop_oneof![Just(0u8), 12u8..=64, Just(128u8), 1u8..=128],
            prop_oneof![3 => (0u32..5).prop_map(Verdict::Listed), 1 => Just(Verdict::Excluded)],
        )
            .prop_map(|(block, low, len, v)| {
                let addr = block | (low & ((1u128 << 108) - 1) & 0xffff_0000_ffff_0000_00ff_00ff_00ff_00ff);
                (addr & crate::model::mask128(len), len, v)
            })
    }

    proptest! {
        #[test]
        fn ipv6_table_matches_naive_scan(entries in prop::collection::vec(entry6(), 0..40), probes in prop::collection::vec(any::<u128>(), 0..20)) {
            let table = PrefixTable::build(entries.clone());
            let mut points: Vec<u128> = probes.clone();
            points.extend(probes.iter().map(|p| (0x2a00u128 << 112) | (p & ((1u128 << 108) - 1))));
            points.extend([0, u128::MAX, 1]);
            for &(net, len, _) in &entries {
                let last = net.last_in(len);
                points.extend([net, last, net.wrapping_sub(1), last.wrapping_add(1)]);
            }
            for addr in points {
                prop_assert_eq!(table.lookup(addr), naive6(&entries, addr), "addr {:#x}", addr);
            }
            let ranges: Vec<_> = table.listed_ranges().collect();
            for w in ranges.windows(2) {
                prop_assert!(w[0].1 < w[1].0);
            }
        }

        #[test]
        fn wide_index_gives_the_same_answers(entries in prop::collection::vec(entry(), 0..40), probes in prop::collection::vec(any::<u32>(), 0..40)) {
            let table = PrefixTable::build(entries.clone());
            let wide = with_wide_index(&table);
            prop_assert_eq!(wide.index.len(), (1 << 22) + 1);
            for addr in probe_points(&entries, &probes) {
                prop_assert_eq!(wide.lookup(addr), naive(&entries, addr), "addr {:#x}", addr);
                let last = addr | 0xff;
                prop_assert_eq!(wide.any_listed(addr & !0xff, last), table.any_listed(addr & !0xff, last));
            }
            prop_assert_eq!(wide.listed_ranges().collect::<Vec<_>>(), table.listed_ranges().collect::<Vec<_>>());
        }

        #[test]
        fn table_matches_naive_scan(entries in prop::collection::vec(entry(), 0..40), probes in prop::collection::vec(any::<u32>(), 0..40)) {
            let table = PrefixTable::build(entries.clone());
            for addr in probe_points(&entries, &probes) {
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
