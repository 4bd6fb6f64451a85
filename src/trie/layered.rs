//! Live changes without rebuilding the table: an immutable base [`PrefixTable`] plus sorted,
//! disjoint [`Patch`]es, each the exact segments of one prefix's address range recomputed from
//! the entries that lie inside or cover it. Publishing a change clones two `Arc`s and a short patch
//! list; [`LayeredTable::merged`] folds the patches into a new base in one linear pass when the
//! list grows, and [`LayeredTable::rebased`] puts such a base under the patches made while it was
//! being built (so the fold can run off the writer's path). Pure: the caller finds the entries (in the store) and publishes the result.

use std::sync::Arc;

use super::{flatten, Addr, PrefixTable, Segments, ValueId, Verdict, UNLISTED};

/// The segments of one address range, replacing the base table there.
#[derive(Clone, Debug)]
pub struct Patch<A: Addr> {
    first: A,
    last: A,
    /// Segment starts inside the range; the first is `first`.
    starts: Box<[A]>,
    values: Box<[ValueId]>,
}

impl<A: Addr> Patch<A> {
    /// The patch for `first..=last`, computed from every entry that lies inside the range or
    /// covers it (entries elsewhere do not matter and may be left out).
    pub fn build(first: A, last: A, entries: Vec<(A, u8, Verdict)>) -> Patch<A> {
        let all = flatten(entries);
        let from = all.starts.partition_point(|&s| s <= first).saturating_sub(1);
        let to = all.starts.partition_point(|&s| s <= last);
        let mut starts: Vec<A> = all.starts[from..to].to_vec();
        starts[0] = first;
        Patch { first, last, starts: starts.into(), values: all.values[from..to].into() }
    }

    fn segment_of(&self, addr: A) -> usize {
        self.starts.partition_point(|&s| s <= addr).saturating_sub(1)
    }

    fn lookup(&self, addr: A) -> Option<ValueId> {
        let v = self.values[self.segment_of(addr)];
        (v != UNLISTED).then_some(v)
    }

    /// Any listed address in `first..=last`, a sub-range of the patch.
    fn any_listed(&self, first: A, last: A) -> bool {
        let i = self.segment_of(first);
        self.values[i] != UNLISTED || self.starts.get(i + 1).is_some_and(|&s| s <= last)
    }
}

/// A base table with patches on top; cheap to clone and to extend.
#[derive(Clone, Debug)]
pub struct LayeredTable<A: Addr> {
    base: Arc<PrefixTable<A>>,
    /// Sorted by range, disjoint. Shared, so a new table copies pointers, not segments.
    patches: Arc<Vec<Arc<Patch<A>>>>,
}

impl<A: Addr> Default for LayeredTable<A> {
    fn default() -> Self {
        LayeredTable::new(PrefixTable::default())
    }
}

impl<A: Addr> LayeredTable<A> {
    pub fn new(base: PrefixTable<A>) -> LayeredTable<A> {
        LayeredTable { base: Arc::new(base), patches: Arc::new(Vec::new()) }
    }

    /// The value deciding `addr`, if it is listed.
    #[inline]
    pub fn lookup(&self, addr: A) -> Option<ValueId> {
        match self.patch_at(addr) {
            Some(p) => p.lookup(addr),
            None => self.base.lookup(addr),
        }
    }

    fn patch_at(&self, addr: A) -> Option<&Patch<A>> {
        if self.patches.is_empty() {
            return None;
        }
        let i = self.patches.partition_point(|p| p.first <= addr);
        self.patches.get(i.checked_sub(1)?).map(|p| &**p).filter(|p| addr <= p.last)
    }

    /// True when any address in `first..=last` is listed.
    pub fn any_listed(&self, first: A, last: A) -> bool {
        let mut cursor = first;
        let start = self.patches.partition_point(|p| p.last < first);
        for p in &self.patches[start..] {
            if p.first > last {
                break;
            }
            if cursor < p.first && self.base.any_listed(cursor, before(p.first)) {
                return true;
            }
            if p.any_listed(cursor.max(p.first), last.min(p.last)) {
                return true;
            }
            match p.last.checked_next() {
                Some(next) => cursor = next,
                None => return false,
            }
        }
        cursor <= last && self.base.any_listed(cursor, last)
    }

    /// The range a change to `first..=last` must recompute: an existing patch that contains it,
    /// or the range itself (prefix ranges are nested or disjoint, never partly overlapping).
    pub fn patch_range(&self, first: A, last: A) -> (A, A) {
        match self.patch_at(first) {
            Some(p) if last <= p.last => (p.first, p.last),
            _ => (first, last),
        }
    }

    /// A new table with `patch` in place of any patches inside its range.
    pub fn with_patch(&self, patch: Patch<A>) -> LayeredTable<A> {
        let mut patches: Vec<Arc<Patch<A>>> =
            self.patches.iter().filter(|p| p.last < patch.first || p.first > patch.last).cloned().collect();
        let at = patches.partition_point(|p| p.first < patch.first);
        patches.insert(at, Arc::new(patch));
        LayeredTable { base: self.base.clone(), patches: Arc::new(patches) }
    }

    /// Number of patches on top of the base.
    pub fn patch_count(&self) -> usize {
        self.patches.len()
    }

    /// The base with every patch folded in (one linear pass).
    pub fn merged(&self) -> PrefixTable<A> {
        let mut out = Segments { starts: vec![A::ZERO], values: vec![UNLISTED] };
        let mut base = self.base.segment_iter().peekable();
        // The value of the last base segment passed: it decides the address after a patch.
        let mut current = UNLISTED;
        let mut base_done = false;
        for p in self.patches.iter() {
            while let Some((s, v)) = base.next_if(|&(s, _)| s < p.first) {
                out.set(s, v);
                current = v;
            }
            for (&s, &v) in p.starts.iter().zip(p.values.iter()) {
                out.set(s, v);
            }
            let Some(after) = p.last.checked_next() else {
                base_done = true;
                break;
            };
            while let Some((_, v)) = base.next_if(|&(s, _)| s <= after) {
                current = v;
            }
            out.set(after, current);
        }
        if !base_done {
            for (s, v) in base {
                out.set(s, v);
            }
        }
        PrefixTable::from_segments(out.starts, out.values)
    }

    /// `folded` (a table made from `from.merged()`) under the patches this table gained since `from`:
    /// the same answers as `self` with fewer patches. `None` when `self` does not descend from
    /// `from` by patches alone (its base was replaced meanwhile).
    pub fn rebased(&self, from: &LayeredTable<A>, folded: &LayeredTable<A>) -> Option<LayeredTable<A>> {
        if !Arc::ptr_eq(&self.base, &from.base) || !folded.patches.is_empty() {
            return None;
        }
        // A patch still here from `from` is folded into the new base already; every other one
        // is newer and replaces the base over its whole range, whatever the base says there.
        let patches =
            self.patches.iter().filter(|p| !from.patches.iter().any(|q| Arc::ptr_eq(p, q))).cloned().collect();
        Some(LayeredTable { base: folded.base.clone(), patches: Arc::new(patches) })
    }

    /// The base table (for sizes and statistics).
    pub fn base(&self) -> &PrefixTable<A> {
        &self.base
    }
}

/// The address before `a` (callers guarantee `a` is not zero).
fn before<A: Addr>(a: A) -> A {
    a.checked_prev().unwrap_or(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mask32;
    use proptest::prelude::*;

    /// The rule, the slow way: most specific wins, exclusion wins a tie.
    fn naive(entries: &[(u32, u8, Verdict)], addr: u32) -> Option<ValueId> {
        entries
            .iter()
            .filter(|(net, len, _)| addr & mask32(*len) == *net)
            .max_by_key(|(_, len, v)| (*len, matches!(v, Verdict::Excluded)))
            .and_then(|(_, _, v)| match v {
                Verdict::Listed(id) => Some(*id),
                Verdict::Excluded => None,
            })
    }

    fn prefix() -> impl Strategy<Value = (u32, u8)> {
        (0u32..4, any::<u32>(), 0u8..=32)
            .prop_map(|(hi, lo, len)| (((hi << 30) | (lo & 0x00ff_00ff)) & mask32(len), len))
    }

    fn verdict() -> impl Strategy<Value = Verdict> {
        prop_oneof![3 => (0u32..5).prop_map(Verdict::Listed), 1 => Just(Verdict::Excluded)]
    }

    /// Applies a change to the entry set the way the store does: one listing and one exclusion
    /// per prefix at most.
    fn apply(entries: &mut Vec<(u32, u8, Verdict)>, net: u32, len: u8, change: Option<Verdict>) {
        let kind = |v: &Verdict| matches!(v, Verdict::Excluded);
        match change {
            Some(v) => {
                entries.retain(|e| !(e.0 == net && e.1 == len && kind(&e.2) == kind(&v)));
                entries.push((net, len, v));
            }
            None => entries.retain(|e| !(e.0 == net && e.1 == len)),
        }
    }

    /// What the publisher does: recompute the affected range from the entries inside or covering it.
    fn patch_for(table: &LayeredTable<u32>, entries: &[(u32, u8, Verdict)], net: u32, len: u8) -> Patch<u32> {
        let (first, last) = table.patch_range(net, net.last_in(len));
        let relevant = entries
            .iter()
            .filter(|(n, l, _)| {
                let (ef, el) = (*n, n.last_in(*l));
                (ef >= first && el <= last) || (ef <= first && el >= last)
            })
            .copied()
            .collect();
        Patch::build(first, last, relevant)
    }

    proptest! {
        #[test]
        fn patched_tables_match_a_fresh_build(
            base in prop::collection::vec((prefix(), verdict()), 0..30),
            changes in prop::collection::vec((prefix(), prop::option::of(verdict())), 1..25),
            probes in prop::collection::vec(any::<u32>(), 0..30),
        ) {
            let mut entries: Vec<(u32, u8, Verdict)> = Vec::new();
            for ((net, len), v) in base {
                apply(&mut entries, net, len, Some(v));
            }
            let mut table = LayeredTable::new(PrefixTable::build(entries.clone()));
            for ((net, len), change) in changes {
                apply(&mut entries, net, len, change);
                let patch = patch_for(&table, &entries, net, len);
                table = table.with_patch(patch);
                let mut points: Vec<u32> = probes.iter().map(|p| p & 0xc0ff_00ff).collect();
                for &(n, l, _) in &entries {
                    points.extend([n, n.last_in(l), n.wrapping_sub(1), n.last_in(l).wrapping_add(1)]);
                }
                for &addr in &points {
                    prop_assert_eq!(table.lookup(addr), naive(&entries, addr), "addr {:#x}", addr);
                }
                let merged = LayeredTable::new(table.merged());
                for &addr in &points {
                    prop_assert_eq!(merged.lookup(addr), naive(&entries, addr), "merged, addr {:#x}", addr);
                }
                for w in points.windows(2) {
                    let (a, b) = (w[0].min(w[1]), w[0].max(w[1]));
                    let expect = points.iter().any(|&p| p >= a && p <= b && naive(&entries, p).is_some())
                        || naive(&entries, a).is_some();
                    // any_listed may also find listed addresses between the probe points.
                    if expect {
                        prop_assert!(table.any_listed(a, b), "any_listed({:#x}, {:#x})", a, b);
                    }
                    prop_assert_eq!(table.any_listed(a, b), merged.any_listed(a, b));
                }
            }
        }

        #[test]
        fn a_fold_started_midway_rebases_the_later_patches(
            base in prop::collection::vec((prefix(), verdict()), 0..30),
            changes in prop::collection::vec((prefix(), prop::option::of(verdict())), 1..25),
            fold_at in 0usize..25,
            probes in prop::collection::vec(any::<u32>(), 0..30),
        ) {
            let mut entries: Vec<(u32, u8, Verdict)> = Vec::new();
            for ((net, len), v) in base {
                apply(&mut entries, net, len, Some(v));
            }
            let mut table = LayeredTable::new(PrefixTable::build(entries.clone()));
            let mut from = table.clone();
            for (i, ((net, len), change)) in changes.into_iter().enumerate() {
                if i == fold_at {
                    from = table.clone();
                }
                apply(&mut entries, net, len, change);
                table = table.with_patch(patch_for(&table, &entries, net, len));
            }
            let folded = LayeredTable::new(from.merged());
            let rebased = table.rebased(&from, &folded).expect("same base");
            prop_assert!(rebased.patch_count() <= table.patch_count());
            prop_assert!(Arc::ptr_eq(&rebased.base, &folded.base));
            let mut points: Vec<u32> = probes.iter().map(|p| p & 0xc0ff_00ff).collect();
            for &(n, l, _) in &entries {
                points.extend([n, n.last_in(l), n.wrapping_sub(1), n.last_in(l).wrapping_add(1)]);
            }
            for &addr in &points {
                prop_assert_eq!(rebased.lookup(addr), naive(&entries, addr), "addr {:#x}", addr);
            }
            // A table whose base was replaced since does not take the fold.
            let rebuilt = LayeredTable::new(PrefixTable::build(entries.clone()));
            prop_assert!(rebuilt.rebased(&from, &folded).is_none());
        }
    }
}
