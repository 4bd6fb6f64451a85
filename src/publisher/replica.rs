//! Secondary zones on the writer: a zone read from the records its primary sent (at start and
//! after a whole transfer), an incremental transfer applied as live patches, a copy marked
//! unavailable past its SOA expire. Local changes to a secondary zone are refused elsewhere
//! ([`super::ChangeError::Secondary`]).
//!
//! The records are in the store (`replica` column family, written by the transfer itself for
//! a whole zone, here for a step); the entries they stand for are [`crate::replica`]'s. An
//! incremental transfer recomputes, for each top label its names changed under (an IPv4 /8
//! and, for the digits 0-9 and a-f, an IPv6 /4), the entries of that block from the store, and
//! publishes them as one patch per table, as a live change does.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::apply::ValueSink;
use super::{zone_index, ChangeError, Publisher, ZoneLoad};
use crate::config::ZoneConfig;
use crate::model::{Entry, Listing, Prefix};
use crate::name::{DatasetName, DomainName};
use crate::replica::{self, name_key, Deriver, RrSet};
use crate::served::Data;
use crate::snapshot::{Snapshot, ZoneBuilder, ZoneSnapshot};
use crate::store::{ReplicaState, Store, StoreError};
use crate::trie::{Patch, ValueId};
use crate::zoneform::Label;

/// The records that went and came at one step of an incremental transfer, by name (top down).
#[derive(Clone, Debug, Default)]
pub struct ReplicaStep {
    pub removed: Vec<(Vec<Label>, Data)>,
    pub added: Vec<(Vec<Label>, Data)>,
}

/// The dataset holding the `k`-th TXT of a name (the first is the operator's).
fn dataset_name(k: usize) -> DatasetName {
    match k {
        0 => DatasetName::operator(),
        k => DatasetName::parse(&format!("txt{}", k + 1)).unwrap_or_else(|_| DatasetName::operator()),
    }
}

/// Each dataset's value index (listing → id), for live changes to intern into.
pub(super) type Indexes = Vec<(DatasetName, HashMap<Listing, ValueId>)>;

/// The secondary zone `config` as its stored records say, with the value index of each
/// dataset; unavailable (SERVFAIL) without a copy, or with one older than the SOA expire.
pub(super) fn load_replica(
    store: &Store,
    config: Arc<ZoneConfig>,
    now: u64,
) -> Result<(ZoneSnapshot, Indexes), StoreError> {
    let origin = config.origin.clone();
    let Some(state) = store.replica_state(&origin)? else {
        let mut zone = ZoneBuilder::new(config, 0).build();
        zone.serving = false;
        return Ok((zone, Vec::new()));
    };
    // One pass for the number of datasets (the most TXT records a name has), one to build.
    let mut most = 1;
    store.replica_scan(&origin, &[], &mut |_, v| {
        if let Some(set) = RrSet::decode(v) {
            most = most.max(replica::datasets_for(&set));
        }
    })?;
    let mut builders: Vec<ZoneBuilder> = (0..most).map(|_| ZoneBuilder::new(config.clone(), state.serial)).collect();
    let mut deriver = Deriver::new(most);
    let mut sink = |k: usize, prefix: Prefix, entry: Entry| {
        if let Some(b) = builders.get_mut(k) {
            b.add(prefix, entry);
        }
    };
    store.replica_scan(&origin, &[], &mut |k, v| {
        if let (Some(path), Some(set)) = (replica::key_path(k), RrSet::decode(v)) {
            deriver.push(&path, set, &mut sink);
        }
    })?;
    deriver.finish(&mut sink);
    let mut datasets = Vec::new();
    let mut indexes = Vec::new();
    for (k, b) in builders.into_iter().enumerate() {
        let (dataset, index) = b.build_dataset(dataset_name(k));
        indexes.push((dataset_name(k), index));
        datasets.push(dataset);
    }
    let operator = datasets.remove(0);
    let mut zone = ZoneSnapshot::new(config.clone(), state.serial, operator, datasets);
    zone.serving = !expired(&config, state, now);
    Ok((zone, indexes))
}

/// Whether a copy last confirmed at `state.refreshed` is past the zone's SOA expire at `now`.
fn expired(config: &ZoneConfig, state: ReplicaState, now: u64) -> bool {
    now.saturating_sub(state.refreshed) > u64::from(config.soa.expire)
}

impl Publisher {
    /// Reads secondary zone `origin` again from its stored records (after a whole transfer)
    /// and publishes it.
    pub fn replica_reload(&mut self, origin: &DomainName, now: u64) -> Result<ZoneLoad, ChangeError> {
        let started = std::time::Instant::now();
        let current = self.install_folds(self.shared.load_full());
        let at = zone_index(&current, origin)?;
        let (zone, indexes) = load_replica(&self.store, current.zones[at].config.clone(), now)?;
        self.interned.retain(|(z, _), _| z != origin);
        for (dataset, index) in indexes {
            self.interned.insert((origin.clone(), dataset), index);
        }
        self.folds.remove(origin);
        let report = ZoneLoad {
            zone: origin.to_string(),
            serial: zone.serial,
            entries: 0,
            expired: 0,
            segments: zone.datasets().map(crate::snapshot::Dataset::segments).sum(),
            elapsed_ms: started.elapsed().as_millis(),
        };
        let mut next = Snapshot::clone(&current);
        next.zones[at] = Arc::new(zone);
        self.shared.publish(next);
        Ok(report)
    }

    /// Applies the steps of an incremental transfer that ends at `serial`: the records to the
    /// store in one synced write, the blocks they changed to the tables as patches.
    pub fn replica_steps(
        &mut self,
        origin: &DomainName,
        serial: u32,
        steps: &[ReplicaStep],
        now: u64,
    ) -> Result<(), ChangeError> {
        let current = self.install_folds(self.shared.load_full());
        let at = zone_index(&current, origin)?;
        let mut sets: HashMap<Vec<u8>, RrSet> = HashMap::new();
        let mut tops: BTreeSet<Label> = BTreeSet::new();
        for step in steps {
            for (path, data, add) in
                step.removed.iter().map(|(p, d)| (p, d, false)).chain(step.added.iter().map(|(p, d)| (p, d, true)))
            {
                if path.is_empty() || replica::mapped(path) {
                    continue;
                }
                let key = name_key(path);
                if !sets.contains_key(&key) {
                    let stored =
                        self.store.replica_get(origin, &key)?.and_then(|v| RrSet::decode(&v)).unwrap_or_default();
                    sets.insert(key.clone(), stored);
                }
                if let Some(set) = sets.get_mut(&key) {
                    match add {
                        true => set.add(data),
                        false => set.remove(data),
                    }
                }
                tops.insert(path[0]);
            }
        }
        let needed = sets.values().map(replica::datasets_for).max().unwrap_or(1);
        let changes: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            sets.into_iter().map(|(k, s)| (k, (!s.is_empty()).then(|| s.encode()))).collect();
        self.store.replica_apply(origin, ReplicaState { serial, refreshed: now }, &changes)?;
        let zone = &current.zones[at];
        let have = 1 + zone.feeds().len();
        if needed > have {
            // A name with more TXT records than the zone has datasets: read it whole again.
            self.replica_reload(origin, now)?;
            return Ok(());
        }
        let mut next_zone = ZoneSnapshot::clone(zone);
        next_zone.serial = serial;
        for top in tops {
            next_zone = self.replica_block(&next_zone, top, have, serial)?;
        }
        next_zone.serving = true;
        let next_zone = self.fold_if_due(next_zone);
        let mut next = Snapshot::clone(&current);
        next.zones[at] = Arc::new(next_zone);
        self.shared.publish(next);
        Ok(())
    }

    /// `zone` with the blocks under top label `top` recomputed from the stored records in each
    /// of its `datasets`.
    fn replica_block(
        &mut self,
        zone: &ZoneSnapshot,
        top: Label,
        datasets: usize,
        serial: u32,
    ) -> Result<ZoneSnapshot, StoreError> {
        let origin = zone.config.origin.clone();
        let mut v4: Vec<Vec<(u32, u8, Entry)>> = vec![Vec::new(); datasets];
        let mut v6: Vec<Vec<(u128, u8, Entry)>> = vec![Vec::new(); datasets];
        let mut deriver = Deriver::new(datasets);
        let mut sink = |k: usize, prefix: Prefix, entry: Entry| match prefix {
            Prefix::V4 { bits, len } => v4[k].push((bits, len, entry)),
            Prefix::V6 { bits, len } => v6[k].push((bits, len, entry)),
        };
        self.store.replica_scan(&origin, &name_key(&[top]), &mut |k, v| {
            if let (Some(path), Some(set)) = (replica::key_path(k), RrSet::decode(v)) {
                deriver.push(&path, set, &mut sink);
            }
        })?;
        deriver.finish(&mut sink);
        let v4_block = replica::block_of(crate::zoneform::Family::V4, &[top]);
        let v6_block = replica::block_of(crate::zoneform::Family::V6, &[top]);
        let mut next = zone.clone();
        for k in 0..datasets {
            let name = dataset_name(k);
            let first_new = next.dataset(&name).map_or(0, |d| d.distinct_values());
            let index = self.interned.entry((origin.clone(), name.clone())).or_default();
            let mut values = ValueSink { index, first_new, added: Vec::new() };
            let p4 = match v4_block {
                Some(Prefix::V4 { bits, len }) => {
                    let entries =
                        std::mem::take(&mut v4[k]).into_iter().map(|(b, l, e)| (b, l, values.verdict(e))).collect();
                    Some(Patch::build(bits, bits | (u32::MAX >> len), entries))
                }
                _ => None,
            };
            let p6 = match v6_block {
                Some(Prefix::V6 { bits, len }) => {
                    let entries =
                        std::mem::take(&mut v6[k]).into_iter().map(|(b, l, e)| (b, l, values.verdict(e))).collect();
                    Some(Patch::build(bits, bits | (u128::MAX >> len), entries))
                }
                _ => None,
            };
            next = next.changed(serial, &name, p4, p6, values.added);
        }
        Ok(next)
    }

    /// The primary confirmed the copy of `origin` (its serial is current): remembered, and the
    /// zone served again if it had expired.
    pub fn replica_confirmed(&mut self, origin: &DomainName, now: u64) -> Result<(), ChangeError> {
        let Some(state) = self.store.replica_state(origin)? else { return Ok(()) };
        self.store.replica_refreshed(origin, ReplicaState { refreshed: now, ..state })?;
        let current = self.shared.load_full();
        let at = zone_index(&current, origin)?;
        if current.zones[at].serial != state.serial {
            // The store is ahead of what is served (publishing the last transfer failed).
            self.replica_reload(origin, now)?;
            return Ok(());
        }
        self.replica_set_serving(origin, true)
    }

    /// Stops answering from `origin`'s copy (past its SOA expire without the primary): SERVFAIL.
    pub fn replica_expire(&mut self, origin: &DomainName) -> Result<(), ChangeError> {
        self.replica_set_serving(origin, false)
    }

    fn replica_set_serving(&mut self, origin: &DomainName, serving: bool) -> Result<(), ChangeError> {
        let current = self.shared.load_full();
        let at = zone_index(&current, origin)?;
        if current.zones[at].serving == serving {
            return Ok(());
        }
        let mut zone = ZoneSnapshot::clone(&current.zones[at]);
        zone.serving = serving;
        let mut next = Snapshot::clone(&current);
        next.zones[at] = Arc::new(zone);
        self.shared.publish(next);
        Ok(())
    }
}
