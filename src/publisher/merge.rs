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
