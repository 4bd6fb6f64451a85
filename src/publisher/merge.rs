//! How registry entries join the stored list: a stream of stored entries in prefix order meets
//! the registry's (sorted) entries; where both have an entry at one prefix,
//! [`crate::registry::combine`] decides. Pure: no store, no snapshot.

use crate::model::{Entry, Prefix};
use crate::registry::combine;

/// Merges registry entries into a stream of stored entries that comes in prefix order (possibly
/// several passes, e.g. listings then exclusions): stored entries at a registry prefix are held
/// back ([`RegistryMerge::hit`]) and combined with the registry's at the end.
pub(super) struct RegistryMerge<'a> {
    registry: &'a [(Prefix, Entry)],
    cursor: usize,
    last: Option<Prefix>,
    pub(super) met: Vec<(Prefix, Entry)>,
}

impl<'a> RegistryMerge<'a> {
    pub(super) fn new(registry: &'a [(Prefix, Entry)]) -> RegistryMerge<'a> {
        RegistryMerge { registry, cursor: 0, last: None, met: Vec::new() }
    }

    /// True when the registry has an entry at `prefix`. Cheap for input in prefix order.
    pub(super) fn hit(&mut self, prefix: Prefix) -> bool {
        if self.registry.is_empty() {
            return false;
        }
        if self.last.is_some_and(|l| prefix < l) {
            self.cursor = 0;
        }
        self.last = Some(prefix);
        while self.registry.get(self.cursor).is_some_and(|(p, _)| *p < prefix) {
            self.cursor += 1;
        }
        self.registry.get(self.cursor).is_some_and(|(p, _)| *p == prefix)
    }

    /// The registry's entries, each combined with the stored ones held back at its prefix.
    pub(super) fn finish(self) -> Vec<(Prefix, Entry)> {
        let met = self.met;
        self.registry
            .iter()
            .map(|(prefix, reg)| {
                let entry = met.iter().filter(|(p, _)| p == prefix).fold(reg.clone(), |acc, (_, op)| combine(op, &acc));
                (*prefix, entry)
            })
            .collect()
    }
}

/// The registry entries inside or covering `range` (sorted input, sorted output).
pub(super) fn registry_affecting(registry: &[(Prefix, Entry)], range: Prefix) -> Vec<(Prefix, Entry)> {
    let mut out: Vec<(Prefix, Entry)> = (0..range.len())
        .filter_map(|len| {
            let outer = range.truncated(len);
            registry.binary_search_by_key(&outer, |(p, _)| *p).ok().map(|i| registry[i].clone())
        })
        .collect();
    let start = registry.partition_point(|(p, _)| *p < range);
    let last = range.last_host();
    out.extend(registry[start..].iter().take_while(|(p, _)| *p <= last).cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Listing, ListingCode};
    use crate::registry::covers;
    use proptest::prelude::*;

    fn p(s: &str) -> Prefix {
        s.parse().expect("prefix")
    }

    fn listed(code: ListingCode, reason: &str) -> Entry {
        Entry::Listed(Listing::new(vec![code], Some(reason.into())).expect("listing"))
    }

    /// Streams `stored` (in order) through a merge with `registry`; returns what passes through
    /// and what `finish` gives, as one list in prefix order.
    fn merged(registry: &[(Prefix, Entry)], stored: &[(Prefix, Entry)]) -> Vec<(Prefix, Entry)> {
        let mut merge = RegistryMerge::new(registry);
        let mut out = Vec::new();
        for (prefix, entry) in stored {
            if merge.hit(*prefix) {
                merge.met.push((*prefix, entry.clone()));
            } else {
                out.push((*prefix, entry.clone()));
            }
        }
        out.extend(merge.finish());
        out.sort_by_key(|(p, _)| *p);
        out
    }

    /// The rule written out plainly: stored entries where the registry has none stay; at a
    /// registry prefix the registry's entry, combined with each stored one there in turn.
    fn naive(registry: &[(Prefix, Entry)], stored: &[(Prefix, Entry)]) -> Vec<(Prefix, Entry)> {
        let mut out: Vec<(Prefix, Entry)> =
            stored.iter().filter(|(s, _)| !registry.iter().any(|(r, _)| r == s)).cloned().collect();
        for (r, reg) in registry {
            let entry = stored.iter().filter(|(s, _)| s == r).fold(reg.clone(), |acc, (_, op)| combine(op, &acc));
            out.push((*r, entry));
        }
        out.sort_by_key(|(p, _)| *p);
        out
    }

    #[test]
    fn a_declaration_joins_an_operator_listing_at_its_prefix_and_beats_an_exclusion() {
        let declared = listed(ListingCode::REGISTERED, "Acme");
        let registry = vec![(p("192.88.99.7"), declared.clone()), (p("192.88.99.8"), declared.clone())];
        let stored = vec![
            (p("192.88.99.0/24"), listed(ListingCode::OPERATOR, "wide")),
            (p("192.88.99.7"), listed(ListingCode::OPERATOR, "op")),
            // Exclusions come in a second pass, in prefix order again.
            (p("192.88.99.8"), Entry::Excluded),
        ];
        let out = merged(&registry, &stored);
        assert_eq!(out[0], stored[0], "an entry the registry has nothing at passes through");
        let Entry::Listed(joined) = &out[1].1 else { panic!("listed: {out:?}") };
        assert_eq!(joined.codes(), [ListingCode::REGISTERED, ListingCode::OPERATOR]);
        assert_eq!(joined.reason(), Some("Acme"), "the marketer's text");
        assert_eq!(out[2], (p("192.88.99.8"), declared), "a declaration beats an exclusion of exactly it");
        assert_eq!(out, naive(&registry, &stored));
    }

    #[test]
    fn a_protected_network_is_not_listed_by_an_operator_listing_of_exactly_it() {
        let registry = vec![(p("192.88.99.0/24"), Entry::Excluded)];
        let stored = vec![(p("192.88.99.0/24"), listed(ListingCode::OPERATOR, "op"))];
        assert_eq!(merged(&registry, &stored), vec![(p("192.88.99.0/24"), Entry::Excluded)]);
    }

    #[test]
    fn registry_entries_affecting_a_range_are_those_covering_it_or_inside_it() {
        let e = Entry::Excluded;
        let registry: Vec<(Prefix, Entry)> =
            ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "10.1.3.0/24", "10.2.0.0/16"]
                .iter()
                .map(|s| (p(s), e.clone()))
                .collect();
        let got: Vec<Prefix> = registry_affecting(&registry, p("10.1.2.0/24")).into_iter().map(|(p, _)| p).collect();
        assert_eq!(got, [p("10.0.0.0/8"), p("10.1.0.0/16"), p("10.1.2.0/24"), p("10.1.2.3")]);
    }

    fn prefix() -> impl Strategy<Value = Prefix> {
        // A small space, so that prefixes meet, nest and repeat.
        (0u32..4, 0u32..4, prop_oneof![Just(8u8), Just(16), Just(24), Just(32)])
            .prop_map(|(a, b, len)| Prefix::masked_v4(0x0a00_0000 | (a << 16) | (b << 8), len))
    }

    fn entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            Just(Entry::Excluded),
            (2u8..6, "[a-c]").prop_map(|(c, r)| listed(ListingCode::new([127, 0, 0, c].into()).expect("code"), &r)),
        ]
    }

    proptest! {
        #[test]
        fn merging_a_stream_in_two_passes_follows_the_rule(
            registry in proptest::collection::btree_map(prefix(), entry(), 0..6),
            listings in proptest::collection::btree_map(prefix(), entry(), 0..8),
            exclusions in proptest::collection::btree_set(prefix(), 0..6),
        ) {
            let registry: Vec<(Prefix, Entry)> = registry.into_iter().collect();
            let mut stored: Vec<(Prefix, Entry)> =
                listings.into_iter().filter(|(_, e)| matches!(e, Entry::Listed(_))).collect();
            stored.extend(exclusions.into_iter().map(|p| (p, Entry::Excluded)));
            prop_assert_eq!(merged(&registry, &stored), naive(&registry, &stored));
        }

        #[test]
        fn registry_affecting_is_a_sorted_filter(
            registry in proptest::collection::btree_map(prefix(), entry(), 0..10),
            range in prefix(),
        ) {
            let registry: Vec<(Prefix, Entry)> = registry.into_iter().collect();
            let want: Vec<(Prefix, Entry)> = registry
                .iter()
                .filter(|(p, _)| covers(*p, range) || covers(range, *p))
                .cloned()
                .collect();
            prop_assert_eq!(registry_affecting(&registry, range), want);
        }
    }
}
