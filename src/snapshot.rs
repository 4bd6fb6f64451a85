//! Immutable snapshots of everything the DNS path reads, and their lock-free publication.
//!
//! A [`Snapshot`] holds, per served zone, its configuration, SOA serial and its datasets. Each
//! [`Dataset`] has two layered prefix tables (IPv4, IPv6) whose values index a table of interned
//! [`Listing`]s; the operator's dataset (with the marketer registry applied) is always there, the
//! others (imported feeds, lists fed by policies) follow by name. [`SharedSnapshot`] is the one
//! place that owns `arc-swap`: DNS workers `load()` without locking; the publisher replaces the
//! whole snapshot at once, so a query sees either the old list or the new one, never a mix. A
//! change shares everything it does not touch (`Arc`s) with the previous snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::access::{AccessTable, ClientRules};
use crate::config::{RegistryConfig, ZoneConfig};
use crate::cookie::Secrets;
use crate::evidence::Reporters;
use crate::model::{Entry, Listing, Prefix};
use crate::name::DatasetName;
use crate::registry::Registry;
use crate::rrl::RateLimiter;
use crate::trie::{LayeredTable, Patch, PrefixTable, ValueId, Verdict};

/// One zone as the DNS path sees it.
#[derive(Clone, Debug)]
pub struct ZoneSnapshot {
    pub config: Arc<ZoneConfig>,
    pub serial: u32,
    /// The operator's dataset, with the marketer registry applied.
    pub operator: Dataset,
    /// The zone's other datasets by name, each answering on its own.
    feeds: Arc<Vec<Dataset>>,
    /// False for a secondary zone without a copy (none transferred yet, or past its SOA
    /// expire): its queries get SERVFAIL.
    pub serving: bool,
}

/// One dataset of a zone: its tables and the listings their values refer to. Patched by live
/// changes, folded into new base tables now and then.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: DatasetName,
    pub v4: LayeredTable<u32>,
    pub v6: LayeredTable<u128>,
    values: ValueTable,
}

/// Listing values: a shared base and the few added by live changes since the last merge.
#[derive(Clone, Debug, Default)]
struct ValueTable {
    base: Arc<Vec<Listing>>,
    added: Arc<Vec<Listing>>,
}

impl Dataset {
    /// A dataset with no entries.
    pub fn empty(name: DatasetName) -> Dataset {
        Dataset { name, v4: LayeredTable::default(), v6: LayeredTable::default(), values: ValueTable::default() }
    }

    /// The listing a table value refers to.
    #[inline]
    pub fn value(&self, id: ValueId) -> Option<&Listing> {
        let id = id as usize;
        match id.checked_sub(self.values.base.len()) {
            None => self.values.base.get(id),
            Some(i) => self.values.added.get(i),
        }
    }

    /// Distinct listing values (codes + reason) in the dataset.
    pub fn distinct_values(&self) -> usize {
        self.values.base.len() + self.values.added.len()
    }

    /// Patches on top of the two base tables.
    pub fn patch_count(&self) -> usize {
        self.v4.patch_count() + self.v6.patch_count()
    }

    /// Segments of the two base tables.
    pub fn segments(&self) -> usize {
        self.v4.base().segments() + self.v6.base().segments()
    }

    /// The dataset after a change: patched tables and values appended.
    pub fn changed(&self, v4: Option<Patch<u32>>, v6: Option<Patch<u128>>, new_values: Vec<Listing>) -> Dataset {
        let mut next = self.clone();
        if let Some(p) = v4 {
            next.v4 = next.v4.with_patch(p);
        }
        if let Some(p) = v6 {
            next.v6 = next.v6.with_patch(p);
        }
        if !new_values.is_empty() {
            let mut added = Vec::with_capacity(self.values.added.len() + new_values.len());
            added.extend(self.values.added.iter().cloned());
            added.extend(new_values);
            next.values.added = Arc::new(added);
        }
        next
    }

    /// The same dataset with patches folded into new base tables and added values into the base
    /// (itself, shared, when it has neither).
    pub fn merged(&self) -> Dataset {
        if self.patch_count() == 0 && self.values.added.is_empty() {
            return self.clone();
        }
        let mut base = Vec::with_capacity(self.distinct_values());
        base.extend(self.values.base.iter().cloned());
        base.extend(self.values.added.iter().cloned());
        Dataset {
            name: self.name.clone(),
            v4: LayeredTable::new(self.v4.merged()),
            v6: LayeredTable::new(self.v6.merged()),
            values: ValueTable { base: Arc::new(base), added: Arc::default() },
        }
    }

    /// `folded` (made by `from.merged()`) with the patches and values this dataset gained since
    /// `from` on top; `None` when it does not descend from `from` by changes alone.
    fn rebased(&self, from: &Dataset, folded: &Dataset) -> Option<Dataset> {
        if !Arc::ptr_eq(&self.values.base, &from.values.base) {
            return None;
        }
        // Between merges values are only appended, so ids stay valid on the folded base.
        let added = self.values.added.get(from.values.added.len()..)?;
        Some(Dataset {
            name: self.name.clone(),
            v4: self.v4.rebased(&from.v4, &folded.v4)?,
            v6: self.v6.rebased(&from.v6, &folded.v6)?,
            values: ValueTable { base: folded.values.base.clone(), added: Arc::new(added.to_vec()) },
        })
    }
}

impl ZoneSnapshot {
    /// A zone of the operator's dataset and `feeds` (any order; kept by name).
    pub fn new(config: Arc<ZoneConfig>, serial: u32, operator: Dataset, mut feeds: Vec<Dataset>) -> ZoneSnapshot {
        feeds.sort_by(|a, b| a.name.cmp(&b.name));
        ZoneSnapshot { config, serial, operator, feeds: Arc::new(feeds), serving: true }
    }

    /// The datasets other than the operator's, by name.
    #[inline]
    pub fn feeds(&self) -> &[Dataset] {
        &self.feeds
    }

    /// Every dataset: the operator's first, then the others by name.
    pub fn datasets(&self) -> impl Iterator<Item = &Dataset> + '_ {
        std::iter::once(&self.operator).chain(self.feeds.iter())
    }

    /// The dataset of that name, if the zone has it.
    pub fn dataset(&self, name: &DatasetName) -> Option<&Dataset> {
        self.datasets().find(|d| &d.name == name)
    }

    /// Patches over all datasets.
    pub fn patch_count(&self) -> usize {
        self.datasets().map(Dataset::patch_count).sum()
    }

    /// The next snapshot after a change to one dataset (created empty first if the zone has
    /// none of that name): new serial, patched tables, values appended.
    pub fn changed(
        &self,
        serial: u32,
        dataset: &DatasetName,
        v4: Option<Patch<u32>>,
        v6: Option<Patch<u128>>,
        new_values: Vec<Listing>,
    ) -> ZoneSnapshot {
        let empty;
        let before = match self.dataset(dataset) {
            Some(d) => d,
            None => {
                empty = Dataset::empty(dataset.clone());
                &empty
            }
        };
        let mut next = self.with_dataset(before.changed(v4, v6, new_values));
        next.serial = serial;
        next
    }

    /// The same data under new settings (after a configuration reload), at `serial`.
    pub fn with_config(&self, config: Arc<ZoneConfig>, serial: u32) -> ZoneSnapshot {
        ZoneSnapshot { config, serial, ..self.clone() }
    }

    /// The zone with `dataset` in place of the one of its name (or added, by name).
    pub fn with_dataset(&self, dataset: Dataset) -> ZoneSnapshot {
        let mut next = self.clone();
        if dataset.name.is_operator() {
            next.operator = dataset;
            return next;
        }
        let mut feeds = Vec::clone(&self.feeds);
        match feeds.binary_search_by(|d| d.name.cmp(&dataset.name)) {
            Ok(at) => feeds[at] = dataset,
            Err(at) => feeds.insert(at, dataset),
        }
        next.feeds = Arc::new(feeds);
        next
    }

    /// The zone without the dataset of that name (never the operator's), at a new serial.
    pub fn without(&self, serial: u32, dataset: &DatasetName) -> ZoneSnapshot {
        let mut next = self.clone();
        next.serial = serial;
        next.feeds = Arc::new(self.feeds.iter().filter(|d| &d.name != dataset).cloned().collect());
        next
    }

    /// The same zone with every dataset's patches folded into new base tables.
    pub fn merged(&self) -> ZoneSnapshot {
        ZoneSnapshot {
            config: self.config.clone(),
            serial: self.serial,
            operator: self.operator.merged(),
            feeds: Arc::new(self.feeds.iter().map(Dataset::merged).collect()),
            serving: self.serving,
        }
    }

    /// `folded` (made by `from.merged()`, off the writer's path) with the patches and values this
    /// zone gained since `from` on top: the same answers as `self`, fewer patches. `None` when
    /// this zone does not descend from `from` by changes alone (it was reloaded or merged since).
    /// A dataset created since `from` is kept as it is.
    pub fn rebased(&self, from: &ZoneSnapshot, folded: &ZoneSnapshot) -> Option<ZoneSnapshot> {
        let mut feeds = Vec::with_capacity(self.feeds.len());
        for feed in self.feeds.iter() {
            let before = from.feeds.iter().position(|d| d.name == feed.name);
            feeds.push(match before {
                None => feed.clone(),
                Some(i) => feed.rebased(&from.feeds[i], folded.feeds.get(i)?)?,
            });
        }
        Some(ZoneSnapshot {
            config: self.config.clone(),
            serial: self.serial,
            operator: self.operator.rebased(&from.operator, &folded.operator)?,
            feeds: Arc::new(feeds),
            serving: self.serving,
        })
    }
}

/// Collects one dataset's entries, interning identical values, then builds its tables.
#[derive(Debug)]
pub struct ZoneBuilder {
    config: Arc<ZoneConfig>,
    serial: u32,
    v4: Vec<(u32, u8, Verdict)>,
    v6: Vec<(u128, u8, Verdict)>,
    values: Vec<Listing>,
    interned: HashMap<Listing, ValueId>,
    /// Encoded answers already seen (see [`ZoneBuilder::add_encoded`]), and the last one.
    by_bytes: HashMap<Box<[u8]>, ValueId>,
    last: Option<(Vec<u8>, ValueId)>,
}

impl ZoneBuilder {
    pub fn new(config: Arc<ZoneConfig>, serial: u32) -> ZoneBuilder {
        ZoneBuilder {
            config,
            serial,
            v4: Vec::new(),
            v6: Vec::new(),
            values: Vec::new(),
            interned: HashMap::new(),
            by_bytes: HashMap::new(),
            last: None,
        }
    }

    /// Adds one entry.
    pub fn add(&mut self, prefix: Prefix, entry: Entry) {
        let verdict = match entry {
            Entry::Excluded => Verdict::Excluded,
            Entry::Listed(listing) => Verdict::Listed(self.intern(listing)),
        };
        self.push(prefix, verdict);
    }

    /// Adds a listing given by its encoded answer; `decode` runs only for an encoding not seen
    /// before (big lists share a few answers, so most entries skip decoding and allocation).
    pub fn add_encoded<E>(
        &mut self,
        prefix: Prefix,
        encoded: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<Listing, E>,
    ) -> Result<(), E> {
        let id = match &self.last {
            Some((bytes, id)) if bytes.as_slice() == encoded => *id,
            _ => {
                let id = match self.by_bytes.get(encoded) {
                    Some(&id) => id,
                    None => {
                        let id = self.intern(decode(encoded)?);
                        self.by_bytes.insert(encoded.into(), id);
                        id
                    }
                };
                let mut bytes = self.last.take().map(|(b, _)| b).unwrap_or_default();
                bytes.clear();
                bytes.extend_from_slice(encoded);
                self.last = Some((bytes, id));
                id
            }
        };
        self.push(prefix, Verdict::Listed(id));
        Ok(())
    }

    fn push(&mut self, prefix: Prefix, verdict: Verdict) {
        match prefix {
            Prefix::V4 { bits, len } => self.v4.push((bits, len, verdict)),
            Prefix::V6 { bits, len } => self.v6.push((bits, len, verdict)),
        }
    }

    fn intern(&mut self, listing: Listing) -> ValueId {
        if let Some(&id) = self.interned.get(&listing) {
            return id;
        }
        let id = self.values.len() as ValueId;
        self.values.push(listing.clone());
        self.interned.insert(listing, id);
        id
    }

    /// Adds everything `other` collected (a list read in parts by several threads).
    pub fn absorb(&mut self, other: ZoneBuilder) {
        let ids: Vec<ValueId> = other.values.into_iter().map(|listing| self.intern(listing)).collect();
        let remap = |verdict| match verdict {
            Verdict::Listed(id) => Verdict::Listed(ids[id as usize]),
            Verdict::Excluded => Verdict::Excluded,
        };
        self.v4.extend(other.v4.into_iter().map(|(addr, len, v)| (addr, len, remap(v))));
        self.v6.extend(other.v6.into_iter().map(|(addr, len, v)| (addr, len, remap(v))));
    }

    /// Entries added so far.
    pub fn entries(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// The zone with these entries as its operator's dataset and no other.
    pub fn build(self) -> ZoneSnapshot {
        let (config, serial) = (self.config.clone(), self.serial);
        let (operator, _) = self.build_dataset(DatasetName::operator());
        ZoneSnapshot::new(config, serial, operator, Vec::new())
    }

    /// Builds the entries as one dataset, and returns the value index live changes intern into.
    pub fn build_dataset(self, name: DatasetName) -> (Dataset, HashMap<Listing, ValueId>) {
        let dataset = Dataset {
            name,
            v4: LayeredTable::new(PrefixTable::build(self.v4)),
            v6: LayeredTable::new(PrefixTable::build(self.v6)),
            values: ValueTable { base: Arc::new(self.values), added: Arc::default() },
        };
        (dataset, self.interned)
    }
}

/// Everything served, at one moment: the zones' tables, the marketer registry they were built
/// with (the API reads the registry from here, lock-free and consistent with the answers) and
/// the client rules (so a configuration reload changes them between two batches of queries).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub zones: Vec<Arc<ZoneSnapshot>>,
    pub registry: Arc<Registry>,
    /// The registry's rules (which zones it applies to, its policy); `None`: every zone.
    pub registry_config: Option<Arc<RegistryConfig>>,
    pub clients: Arc<ClientRules>,
    /// Response rate limiting of UDP replies, when configured (its table lives as long as its
    /// settings: a reload with the same settings keeps it).
    pub rrl: Option<Arc<RateLimiter>>,
    /// The DNS cookie secrets, when cookies are answered (a reload reads them again).
    pub cookies: Option<Arc<Secrets>>,
    /// Access keys and registered resolvers, with their query counters.
    pub access: Arc<AccessTable>,
    /// Who may send evidence, found by token (the API reads them from here).
    pub reporters: Arc<Reporters>,
}

impl Snapshot {
    pub fn new(zones: Vec<ZoneSnapshot>) -> Snapshot {
        Snapshot { zones: zones.into_iter().map(Arc::new).collect(), ..Snapshot::default() }
    }

    /// True when registrations change the answers of `zone`.
    pub fn registry_applies_to(&self, zone: &crate::name::DomainName) -> bool {
        self.registry_config.as_ref().is_none_or(|c| c.applies_to(zone))
    }
}

/// The current snapshot, shared by all DNS workers.
#[derive(Debug)]
pub struct SharedSnapshot(ArcSwap<Snapshot>);

impl SharedSnapshot {
    pub fn new(first: Snapshot) -> SharedSnapshot {
        SharedSnapshot(ArcSwap::from_pointee(first))
    }

    /// The current snapshot (lock-free).
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.0.load()
    }

    /// The current snapshot as an owned `Arc` (for the writer, which keeps it across a change).
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    /// Replaces the snapshot; later `load()`s see the new one. Only the publisher calls this.
    pub(crate) fn publish(&self, next: Snapshot) {
        self.0.store(Arc::new(next));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::ListingCode;

    #[test]
    fn encoded_answers_are_decoded_once_each() {
        let config = Config::embedded_default().expect("config");
        let mut b = ZoneBuilder::new(Arc::new(config.zones[0].clone()), 1);
        let mut decodes = 0;
        for i in 0..100u32 {
            let encoded: &[u8] = if i % 3 == 0 { b"first" } else { b"second" };
            b.add_encoded(Prefix::masked_v4(i, 32), encoded, |bytes| {
                decodes += 1;
                Listing::new(vec![ListingCode::OPERATOR], Some(String::from_utf8_lossy(bytes).into_owned()))
            })
            .expect("valid");
        }
        assert_eq!(decodes, 2);
        let failed = b.add_encoded(Prefix::masked_v4(200, 32), b"bad", |_| Err("corrupt"));
        assert_eq!(failed, Err("corrupt"));
        let zone = b.build();
        assert_eq!(zone.operator.distinct_values(), 2);
        let id = zone.operator.v4.lookup(3).expect("listed");
        assert_eq!(zone.operator.value(id).and_then(Listing::reason), Some("first"));
        assert_eq!(zone.operator.v4.lookup(200), None, "a failed entry is not added");
    }

    #[test]
    fn a_fold_keeps_the_values_added_while_it_ran() {
        let config = Config::embedded_default().expect("config");
        let listing = |text: &str| Listing::new(vec![ListingCode::OPERATOR], Some(text.into())).expect("listing");
        let mut b = ZoneBuilder::new(Arc::new(config.zones[0].clone()), 1);
        b.add(Prefix::masked_v4(10, 32), Entry::Listed(listing("base")));
        let zone = b.build();
        let add_to = |zone: &ZoneSnapshot, dataset: &str, addr: u32, text: &str| {
            let dataset = DatasetName::parse(dataset).expect("name");
            let id = zone.dataset(&dataset).map_or(0, Dataset::distinct_values) as ValueId;
            let patch = Patch::build(addr, addr, vec![(addr, 32, Verdict::Listed(id))]);
            zone.changed(zone.serial + 1, &dataset, Some(patch), None, vec![listing(text)])
        };
        let add = |zone: &ZoneSnapshot, addr: u32, text: &str| add_to(zone, "operator", addr, text);
        let before = add(&zone, 20, "before the fold");
        let folded = before.merged();
        let after = add(&add(&before, 30, "while folding"), 40, "later still");
        let after = add_to(&after, "evidence", 50, "a dataset made while folding");
        let rebased = after.rebased(&before, &folded).expect("same lineage");
        assert_eq!(rebased.serial, after.serial);
        assert_eq!(rebased.operator.v4.patch_count(), 2, "only the patches made while folding");
        for (addr, text) in [(10, "base"), (20, "before the fold"), (30, "while folding"), (40, "later still")] {
            let id = rebased.operator.v4.lookup(addr).expect("listed");
            assert_eq!(rebased.operator.value(id).and_then(Listing::reason), Some(text), "{addr}");
        }
        let evidence = &rebased.feeds()[0];
        let id = evidence.v4.lookup(50).expect("listed in the new dataset");
        assert_eq!(evidence.value(id).and_then(Listing::reason), Some("a dataset made while folding"));
        assert_eq!(evidence.v4.lookup(10), None, "datasets answer on their own");
        assert!(zone.rebased(&before, &folded).is_none(), "a zone older than the fold's start");
        assert!(folded.rebased(&before, &folded).is_none(), "a zone merged since does not take the fold");
    }
}
