//! The single writer: builds the first snapshot from the store, then applies live changes.
//!
//! A change is written to RocksDB first (one synced batch with the new serial); then only the
//! part of the list it touches is recomputed (a [`Patch`] over the changed prefix's range, from
//! the entries inside or covering it) and a new snapshot that shares everything else is
//! published. When a change returns, the DNS path already answers from it (read-your-writes).
//! When a zone has more than [`MERGE_AFTER`] patches, a thread folds them into new base tables
//! (a linear pass: ~0.24 s at 10M entries) while changes go on being published; the next change
//! or expiry tick puts the folded tables under the patches made meanwhile
//! ([`ZoneSnapshot::rebased`]). No change waits for a fold.
//!
//! The marketer registry (`registry` below) is applied the same way: its entries (protected
//! networks, declared senders) are merged with the stored list at load and in every recomputed
//! range, with [`crate::registry::combine`] deciding where both have an entry at one prefix.

mod registry;

pub use registry::RegistryOutcome;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::config::{Config, DomainName, RegistryConfig, ZoneConfig};
use crate::model::{Entry, Listing, Prefix};
use crate::query::is_test_point;
use crate::registry::combine;
use crate::registry::{Registry, RegistryError};
use crate::snapshot::{SharedSnapshot, Snapshot, ZoneBuilder, ZoneSnapshot};
use crate::store::encoding::{decode_answer, DecodeError, ListingHead};
use crate::store::{AuditAction, AuditRecord, EntryChange, Store, StoreError, StoredExclusion, StoredListing};
use crate::trie::{Addr, Patch, ValueId, Verdict};

/// Patches per zone before they are merged into new base tables.
pub const MERGE_AFTER: usize = 256;

/// Per-zone numbers from a load, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneLoad {
    pub zone: String,
    pub serial: u32,
    pub entries: usize,
    pub expired: usize,
    pub segments: usize,
    pub elapsed_ms: u128,
}

/// One change to a zone's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    AddListing { prefix: Prefix, listing: Listing, expires_at: Option<u64> },
    RemoveListing { prefix: Prefix },
    AddExclusion { prefix: Prefix, reason: Option<String> },
    RemoveExclusion { prefix: Prefix },
}

impl Change {
    pub fn prefix(&self) -> Prefix {
        match self {
            Change::AddListing { prefix, .. }
            | Change::RemoveListing { prefix }
            | Change::AddExclusion { prefix, .. }
            | Change::RemoveExclusion { prefix } => *prefix,
        }
    }
}

/// Who makes a change and through what, for the audit trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    /// "operator", a marketer id, "expiry".
    pub actor: &'a str,
    /// "api", "import", "expiry".
    pub source: &'a str,
}

impl Origin<'static> {
    /// An operator through the HTTP API.
    pub const OPERATOR_API: Origin<'static> = Origin { actor: "operator", source: "api" };
    /// The server's own expiry timer.
    pub const EXPIRY: Origin<'static> = Origin { actor: "expiry", source: "expiry" };
}

/// Why a change was not applied (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("zone {0} is not served here")]
    UnknownZone(String),
    #[error("{0} is an RFC 5782 test point; it is built in and cannot be changed")]
    TestPoint(Prefix),
    #[error("there is no such entry at {0}")]
    NotFound(Prefix),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Owns the write side: the store and the published snapshot.
#[derive(Debug)]
pub struct Publisher {
    store: Arc<Store>,
    shared: Arc<SharedSnapshot>,
    /// Per zone: listing value → id in the zone's value table.
    interned: HashMap<DomainName, HashMap<Listing, ValueId>>,
    /// Listings with an expiry time, soonest first. Entries may be stale (the listing was removed
    /// or replaced); [`Publisher::expire_due`] checks the store before removing anything.
    expiries: BTreeSet<(u64, DomainName, Prefix)>,
    /// Marketer accounts (also published in the snapshot), the rules, and the entries they give
    /// each registry zone, sorted by prefix.
    registry: Registry,
    registry_config: RegistryConfig,
    registry_entries: Vec<(Prefix, Entry)>,
    /// Folds running off this thread, per zone: the zone as it was when the fold started, and
    /// the thread that returns it merged.
    folds: HashMap<DomainName, (ZoneSnapshot, JoinHandle<ZoneSnapshot>)>,
}

impl Publisher {
    /// Reads every configured zone from the store and publishes the first snapshot. Entries whose
    /// expiry time (Unix seconds) is at or before `now` are left out.
    pub fn load(store: Arc<Store>, config: &Config, now: u64) -> Result<(Publisher, Vec<ZoneLoad>), StoreError> {
        let mut zones = Vec::with_capacity(config.zones.len());
        let mut report = Vec::new();
        let mut interned = HashMap::new();
        let mut expiries = BTreeSet::new();
        let registry = Registry::from_accounts(store.load_registry()?);
        let registry_entries = registry.entries(&config.registry.policy);
        for zone in &config.zones {
            let extra = registry_entries_for(&config.registry, &registry_entries, &zone.origin);
            let serial = store.ensure_serial(&zone.origin, now)?;
            let loaded = load_zone(&store, Arc::new(zone.clone()), serial, now, extra)?;
            report.push(loaded.report);
            interned.insert(zone.origin.clone(), loaded.index);
            expiries.extend(loaded.expiries);
            zones.push(loaded.zone);
        }
        let mut first = Snapshot::new(zones);
        first.registry = Arc::new(registry.clone());
        let shared = Arc::new(SharedSnapshot::new(first));
        let registry_config = config.registry.clone();
        let folds = HashMap::new();
        Ok((
            Publisher { store, shared, interned, expiries, registry, registry_config, registry_entries, folds },
            report,
        ))
    }

    /// Rebuilds one zone from the store (after a whole-list import) and publishes it.
    pub fn reload_zone(&mut self, zone: &DomainName, now: u64) -> Result<ZoneLoad, ChangeError> {
        let current = self.shared.load_full();
        let at = zone_index(&current, zone)?;
        let extra = registry_entries_for(&self.registry_config, &self.registry_entries, zone);
        let serial = self.store.ensure_serial(zone, now)?;
        let loaded = load_zone(&self.store, current.zones[at].config.clone(), serial, now, extra)?;
        // A fold of the old tables no longer applies (and is dropped when it ends).
        self.folds.remove(zone);
        self.interned.insert(zone.clone(), loaded.index);
        self.expiries.retain(|(_, z, _)| z != zone);
        self.expiries.extend(loaded.expiries);
        let mut next = Snapshot::clone(&current);
        next.zones[at] = Arc::new(loaded.zone);
        self.shared.publish(next);
        Ok(loaded.report)
    }

    /// The store the writer owns (for whole-list imports, which must hold the writer).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The snapshot the DNS path reads.
    pub fn shared(&self) -> &Arc<SharedSnapshot> {
        &self.shared
    }

    /// Writes one change durably, then publishes it; returns the zone's new serial.
    pub fn apply(
        &mut self,
        zone: &DomainName,
        change: Change,
        origin: Origin<'_>,
        now: u64,
    ) -> Result<u32, ChangeError> {
        let current = self.shared.load_full();
        let at = zone_index(&current, zone)?;
        let prefix = change.prefix();
        if is_test_point(prefix) {
            return Err(ChangeError::TestPoint(prefix));
        }
        let serial = self.write(zone, &change, origin, now)?.ok_or(ChangeError::NotFound(prefix))?;
        if let Change::AddListing { expires_at: Some(t), .. } = change {
            self.expiries.insert((t, zone.clone(), prefix));
        }
        let current = self.install_folds(current);
        let next_zone = self.patched(&current.zones[at], serial, prefix, now)?;
        let next_zone = self.fold_if_due(next_zone);
        let mut next = Snapshot::clone(&current);
        next.zones[at] = Arc::new(next_zone);
        self.shared.publish(next);
        Ok(serial)
    }

    /// Starts folding `zone`'s patches on another thread when it has more than [`MERGE_AFTER`]
    /// and no fold of it is running; returns the zone to publish now (folded here only when no
    /// thread can be started).
    fn fold_if_due(&mut self, zone: ZoneSnapshot) -> ZoneSnapshot {
        if zone.v4.patch_count() + zone.v6.patch_count() <= MERGE_AFTER || self.folds.contains_key(&zone.config.origin)
        {
            return zone;
        }
        let from = zone.clone();
        match std::thread::Builder::new().name("dnsbl-fold".into()).spawn(move || from.merged()) {
            Ok(handle) => {
                self.folds.insert(zone.config.origin.clone(), (zone.clone(), handle));
                zone
            }
            Err(e) => {
                tracing::warn!(error = %e, zone = %zone.config.origin, "cannot start a fold thread; folding in place");
                zone.merged()
            }
        }
    }

    /// Puts every finished fold under the patches its zone gained meanwhile and publishes the
    /// result if any; returns the snapshot to build on. A fold whose zone was reloaded since is
    /// dropped.
    fn install_folds(&mut self, current: Arc<Snapshot>) -> Arc<Snapshot> {
        let done: Vec<DomainName> =
            self.folds.iter().filter(|(_, (_, handle))| handle.is_finished()).map(|(zone, _)| zone.clone()).collect();
        if done.is_empty() {
            return current;
        }
        let mut next = Snapshot::clone(&current);
        let mut changed = false;
        for zone in done {
            let Some((from, handle)) = self.folds.remove(&zone) else { continue };
            let Ok(folded) = handle.join() else {
                tracing::error!(%zone, "folding patches failed; will try again at the next change");
                continue;
            };
            let Ok(at) = zone_index(&next, &zone) else { continue };
            if let Some(rebased) = next.zones[at].rebased(&from, &folded) {
                next.zones[at] = Arc::new(rebased);
                changed = true;
            }
        }
        if !changed {
            return current;
        }
        self.shared.publish(next);
        self.shared.load_full()
    }

    /// Removes every listing whose expiry time is at or before `now`; returns what it removed.
    /// Also installs finished folds (this runs every expiry tick).
    pub fn expire_due(&mut self, now: u64) -> Result<Vec<(DomainName, Prefix)>, ChangeError> {
        self.install_folds(self.shared.load_full());
        let mut removed = Vec::new();
        while let Some((at, zone, prefix)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            // Only if the listing there is still the one that expires now.
            if self.store.listing_at(&zone, &prefix)?.is_some_and(|l| l.expires_at == Some(at)) {
                match self.apply(&zone, Change::RemoveListing { prefix }, Origin::EXPIRY, now) {
                    Ok(_) | Err(ChangeError::NotFound(_)) => removed.push((zone, prefix)),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    fn write(
        &self,
        zone: &DomainName,
        change: &Change,
        origin: Origin<'_>,
        now: u64,
    ) -> Result<Option<u32>, StoreError> {
        let prefix = change.prefix();
        let mut audit = AuditRecord {
            at_us: unix_now_us(),
            action: AuditAction::RemoveListing,
            actor: origin.actor.to_string(),
            source: origin.source.to_string(),
            codes: Vec::new(),
            reason: None,
            expires_at: None,
        };
        match change {
            Change::AddListing { listing, expires_at, .. } => {
                audit.action = AuditAction::AddListing;
                audit.codes = listing.codes().to_vec();
                audit.reason = listing.reason().map(str::to_string);
                audit.expires_at = *expires_at;
                let value = StoredListing { listing: listing.clone(), added_at: now, expires_at: *expires_at };
                self.store.change_entry(zone, &prefix, EntryChange::PutListing(&value), &audit, now)
            }
            Change::AddExclusion { reason, .. } => {
                audit.action = AuditAction::AddExclusion;
                audit.reason = reason.clone();
                let value = StoredExclusion { reason: reason.clone(), added_at: now };
                self.store.change_entry(zone, &prefix, EntryChange::PutExclusion(&value), &audit, now)
            }
            Change::RemoveListing { .. } => {
                if origin == Origin::EXPIRY {
                    audit.action = AuditAction::Expired;
                }
                self.store.change_entry(zone, &prefix, EntryChange::DeleteListing, &audit, now)
            }
            Change::RemoveExclusion { .. } => {
                audit.action = AuditAction::RemoveExclusion;
                self.store.change_entry(zone, &prefix, EntryChange::DeleteExclusion, &audit, now)
            }
        }
    }

    /// The zone after a change at `prefix`: the affected range recomputed from the store.
    fn patched(
        &mut self,
        zone: &ZoneSnapshot,
        serial: u32,
        prefix: Prefix,
        now: u64,
    ) -> Result<ZoneSnapshot, StoreError> {
        let extra = registry_entries_for(&self.registry_config, &self.registry_entries, &zone.config.origin);
        let index = self.interned.entry(zone.config.origin.clone()).or_default();
        let mut values = ValueSink { index, first_new: zone.distinct_values(), added: Vec::new() };
        Ok(match prefix {
            Prefix::V4 { bits, len } => {
                let (first, last) = zone.v4.patch_range(bits, bits.last_in(len));
                let range = Prefix::masked_v4(first, 32 - (last - first).count_ones() as u8);
                let entries =
                    affecting(&self.store, &zone.config.origin, range, now, extra, &mut values, |p| match p {
                        Prefix::V4 { bits, len } => Some((bits, len)),
                        Prefix::V6 { .. } => None,
                    })?;
                let patch = Patch::build(first, last, entries);
                zone.changed(serial, Some(patch), None, values.added)
            }
            Prefix::V6 { bits, len } => {
                let (first, last) = zone.v6.patch_range(bits, bits.last_in(len));
                let range = Prefix::V6 { bits: first, len: 128 - (last - first).count_ones() as u8 };
                let entries =
                    affecting(&self.store, &zone.config.origin, range, now, extra, &mut values, |p| match p {
                        Prefix::V6 { bits, len } => Some((bits, len)),
                        Prefix::V4 { .. } => None,
                    })?;
                let patch = Patch::build(first, last, entries);
                zone.changed(serial, None, Some(patch), values.added)
            }
        })
    }
}

/// The registry entries that apply to `zone` (none when registrations do not change it).
fn registry_entries_for<'a>(
    config: &RegistryConfig,
    entries: &'a [(Prefix, Entry)],
    zone: &DomainName,
) -> &'a [(Prefix, Entry)] {
    if config.applies_to(zone) {
        entries
    } else {
        &[]
    }
}

/// Where `zone` is in the snapshot's zone list.
fn zone_index(snapshot: &Snapshot, zone: &DomainName) -> Result<usize, ChangeError> {
    snapshot
        .zones
        .iter()
        .position(|z| &z.config.origin == zone)
        .ok_or_else(|| ChangeError::UnknownZone(zone.to_string()))
}

/// One zone read from the store.
struct LoadedZone {
    zone: ZoneSnapshot,
    index: HashMap<Listing, ValueId>,
    expiries: Vec<(u64, DomainName, Prefix)>,
    report: ZoneLoad,
}

/// The zone as a server started on `store` now would serve it (the operator's list with the
/// registry's declarations and protections applied), read without writing anything, so it works
/// on a read-only store while the server runs. For exports.
pub fn served_zone(store: &Store, config: &Config, zone: &ZoneConfig, now: u64) -> Result<ZoneSnapshot, StoreError> {
    let registry = Registry::from_accounts(store.load_registry()?);
    let entries = registry.entries(&config.registry.policy);
    let extra = registry_entries_for(&config.registry, &entries, &zone.origin);
    let serial = store.serial(&zone.origin)?.unwrap_or(0);
    Ok(load_zone(store, Arc::new(zone.clone()), serial, now, extra)?.zone)
}

fn load_zone(
    store: &Store,
    config: Arc<ZoneConfig>,
    serial: u32,
    now: u64,
    registry: &[(Prefix, Entry)],
) -> Result<LoadedZone, StoreError> {
    let started = Instant::now();
    let origin = config.origin.clone();
    // The list is read in address-range parts by one thread per core (RocksDB iteration is most
    // of a load), then the parts' entries and values are put together.
    let parts = load_parts();
    let next = AtomicUsize::new(0);
    let work = || -> Result<PartLoad<'_>, StoreError> {
        let mut part = PartLoad {
            builder: ZoneBuilder::new(config.clone(), serial),
            expired: 0,
            expiries: Vec::new(),
            merge: RegistryMerge::new(registry),
        };
        while let Some(&(from, to)) = parts.get(next.fetch_add(1, Ordering::Relaxed)) {
            part.read(store, &origin, from, to, now)?;
        }
        Ok(part)
    };
    let helpers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8) - 1;
    let loaded: Vec<Result<PartLoad<'_>, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..helpers)
            .filter_map(|_| std::thread::Builder::new().name("dnsbl-load".into()).spawn_scoped(scope, work).ok())
            .collect();
        let mut loaded = vec![work()];
        for handle in handles {
            loaded.push(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        loaded
    });
    let mut builder = ZoneBuilder::new(config, serial);
    let (mut expired, mut expiries, mut met) = (0, Vec::new(), Vec::new());
    for part in loaded {
        let part = part?;
        builder.absorb(part.builder);
        expired += part.expired;
        expiries.extend(part.expiries);
        met.extend(part.merge.met);
    }
    let mut merge = RegistryMerge::new(registry);
    merge.met = met;
    for (prefix, entry) in merge.finish() {
        builder.add(prefix, entry);
    }
    let entries = builder.entries();
    let (zone, index) = builder.build_with_index();
    let report = ZoneLoad {
        zone: origin.to_string(),
        serial,
        entries,
        expired,
        segments: zone.v4.base().segments() + zone.v6.base().segments(),
        elapsed_ms: started.elapsed().as_millis(),
    };
    Ok(LoadedZone { zone, index, expiries, report })
}

/// The address ranges a load reads in parallel: sixteen for IPv4 (by the top four bits), four
/// for IPv6 (most public addresses are in 2000::/3, so split there).
fn load_parts() -> Vec<(Option<Prefix>, Option<Prefix>)> {
    let v4 = (1..16u32).map(|top| Prefix::V4 { bits: top << 28, len: 0 });
    let v6 = [0u128, 0x2400, 0x2800, 0x2c00].into_iter().map(|top| Prefix::V6 { bits: top << 112, len: 0 });
    let bounds: Vec<Prefix> = v4.chain(v6).collect();
    let mut parts = Vec::with_capacity(bounds.len() + 1);
    let mut from = None;
    for bound in bounds {
        parts.push((from, Some(bound)));
        from = Some(bound);
    }
    parts.push((from, None));
    parts
}

/// What one loading thread collected from the parts it read.
struct PartLoad<'a> {
    builder: ZoneBuilder,
    expired: usize,
    expiries: Vec<(u64, DomainName, Prefix)>,
    /// Stored entries at a registry prefix are held back here and combined at the end.
    merge: RegistryMerge<'a>,
}

impl PartLoad<'_> {
    fn read(
        &mut self,
        store: &Store,
        origin: &DomainName,
        from: Option<Prefix>,
        to: Option<Prefix>,
        now: u64,
    ) -> Result<(), StoreError> {
        store.for_each_raw_between(origin, from, to, |prefix, head| {
            if head.as_ref().is_some_and(|h| h.expired(now)) {
                self.expired += 1;
                return Ok(());
            }
            if let Some(t) = head.as_ref().and_then(|h| h.expires_at) {
                self.expiries.push((t, origin.clone(), prefix));
            }
            if self.merge.hit(prefix) {
                let entry = match head {
                    Some(h) => Entry::Listed(decode_answer(h.answer)?),
                    None => Entry::Excluded,
                };
                self.merge.met.push((prefix, entry));
                return Ok(());
            }
            match head {
                Some(h) => self.builder.add_encoded(prefix, h.answer, decode_answer),
                None => {
                    self.builder.add(prefix, Entry::Excluded);
                    Ok(())
                }
            }
        })
    }
}

/// Merges registry entries into a stream of stored entries that comes in prefix order (possibly
/// several passes, e.g. listings then exclusions): stored entries at a registry prefix are held
/// back ([`RegistryMerge::hit`]) and combined with the registry's at the end.
struct RegistryMerge<'a> {
    registry: &'a [(Prefix, Entry)],
    cursor: usize,
    last: Option<Prefix>,
    met: Vec<(Prefix, Entry)>,
}

impl<'a> RegistryMerge<'a> {
    fn new(registry: &'a [(Prefix, Entry)]) -> RegistryMerge<'a> {
        RegistryMerge { registry, cursor: 0, last: None, met: Vec::new() }
    }

    /// True when the registry has an entry at `prefix`. Cheap for input in prefix order.
    fn hit(&mut self, prefix: Prefix) -> bool {
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
    fn finish(self) -> Vec<(Prefix, Entry)> {
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

/// Interns listings met while recomputing a range; new ones are appended to the zone's values.
struct ValueSink<'a> {
    index: &'a mut HashMap<Listing, ValueId>,
    first_new: usize,
    added: Vec<Listing>,
}

impl ValueSink<'_> {
    fn id(&mut self, listing: Listing) -> ValueId {
        if let Some(&id) = self.index.get(&listing) {
            return id;
        }
        let id = (self.first_new + self.added.len()) as ValueId;
        self.added.push(listing.clone());
        self.index.insert(listing, id);
        id
    }
}

/// The entries inside or covering `range`, as table entries of one address family: the stored
/// ones merged with the registry's (`registry`, sorted by prefix).
fn affecting<A: Addr>(
    store: &Store,
    zone: &DomainName,
    range: Prefix,
    now: u64,
    registry: &[(Prefix, Entry)],
    values: &mut ValueSink<'_>,
    family: impl Fn(Prefix) -> Option<(A, u8)>,
) -> Result<Vec<(A, u8, Verdict)>, StoreError> {
    let registry = registry_affecting(registry, range);
    let mut merge = RegistryMerge::new(&registry);
    let mut out = Vec::new();
    store.for_each_affecting(zone, range, |prefix, head: Option<ListingHead<'_>>| -> Result<(), DecodeError> {
        let Some((bits, len)) = family(prefix) else { return Ok(()) };
        match head {
            Some(h) if h.expired(now) => {}
            Some(h) if merge.hit(prefix) => merge.met.push((prefix, Entry::Listed(decode_answer(h.answer)?))),
            None if merge.hit(prefix) => merge.met.push((prefix, Entry::Excluded)),
            Some(h) => out.push((bits, len, Verdict::Listed(values.id(decode_answer(h.answer)?)))),
            None => out.push((bits, len, Verdict::Excluded)),
        }
        Ok(())
    })?;
    for (prefix, entry) in merge.finish() {
        let Some((bits, len)) = family(prefix) else { continue };
        let verdict = match entry {
            Entry::Listed(l) => Verdict::Listed(values.id(l)),
            Entry::Excluded => Verdict::Excluded,
        };
        out.push((bits, len, verdict));
    }
    Ok(out)
}

/// The registry entries inside or covering `range` (sorted input, sorted output).
fn registry_affecting(registry: &[(Prefix, Entry)], range: Prefix) -> Vec<(Prefix, Entry)> {
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

/// Microseconds since the Unix epoch (audit record times).
fn unix_now_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}
