//! The single writer: builds the first snapshot from the store, then applies live changes.
//!
//! A change is written to RocksDB first (one synced batch with the new serial); then only the
//! part of the list it touches is recomputed (a [`Patch`](crate::trie::Patch) over the changed
//! prefix's range, from the entries inside or covering it) and a new snapshot that shares
//! everything else is published. When a change returns, the DNS path already answers from it
//! (read-your-writes). When a zone has more than [`MERGE_AFTER`] patches, a thread folds them
//! into new base tables (a linear pass: ~0.24 s at 10M entries) while changes go on being
//! published; the next change or expiry tick puts the folded tables under the patches made
//! meanwhile ([`ZoneSnapshot::rebased`]). No change waits for a fold.
//!
//! The marketer registry is applied the same way: its entries (protected networks, declared
//! senders) are merged with the stored list at load and in every recomputed range, with
//! [`crate::registry::combine`] deciding where both have an entry at one prefix.
//!
//! One job per file:
//! - this file: the writer's state, its errors, the first load and whole-zone reloads;
//! - [`writer`]: [`Writer`], the shared handle the API and the expiry timer run changes through;
//! - `apply`: one live change → audit record, synced write, recomputed range, publish; expiry;
//! - [`load`]: a zone read from the store by one thread per core, registry entries merged in;
//! - `merge`: how registry entries join a stream of stored entries (pure; unit-tested);
//! - `fold`: patches folded into new base tables off the writer's thread;
//! - `registry`: registry changes (plan, store, recompute every registry zone, publish);
//! - `reconfigure`: a configuration reload (zones added, removed or changed, client rules);
//! - `access`: access keys and registered resolvers (stored, audited, served);
//! - `evidence`: reports in, policy listings (127.0.0.4, ending by themselves) out.

mod access;
mod apply;
mod delisting;
mod evidence;
mod fold;
pub mod load;
mod merge;
mod reconfigure;
mod registry;
mod replica;
pub mod writer;

pub use access::{AccessChange, AccessData};
pub use delisting::Decision;
pub use evidence::{policy_named_in, Ingested, PolicyListing, POLICY_REASON};
pub use fold::MERGE_AFTER;
pub use reconfigure::Reconfigured;
pub use registry::RegistryOutcome;
pub use replica::ReplicaStep;
pub use writer::{Writer, WriterError};

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::access::{AccessTable, ClientRules};
use crate::config::{Config, EvidenceConfig, RegistryConfig};
use crate::cookie::Secrets;
use crate::model::{Entry, Listing, Prefix};
use crate::name::{DatasetName, DomainName};
use crate::registry::{Registry, RegistryError};
use crate::snapshot::{SharedSnapshot, Snapshot, ZoneSnapshot};
use crate::store::{Store, StoreError};
use crate::trie::ValueId;

use load::load_zone;

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
    #[error("the zone has no dataset {0}")]
    NoDataset(DatasetName),
    #[error("there is already an access key named {0}")]
    AccessKeyExists(String),
    #[error("another access key has that key")]
    AccessKeyInUse,
    #[error("there is no access key named {0}")]
    NoAccessKey(String),
    #[error("{0} is already a registered resolver")]
    ResolverExists(Prefix),
    #[error("{0} is not a registered resolver")]
    NoResolver(Prefix),
    #[error("evidence: {0}")]
    Evidence(String),
    #[error("there is already a reporter named {0}")]
    ReporterExists(String),
    #[error("there is no reporter named {0}; add it with `dnsbl reporter add`")]
    NoReporter(String),
    #[error("{0}")]
    NothingToRemove(String),
    #[error("zone {zone} is a secondary of {primary}: change it on the primary")]
    Secondary { zone: String, primary: std::net::SocketAddr },
    #[error("request {0} for this address is still open; its status page says where it stands")]
    RequestOpen(u64),
    #[error("there is no removal request {0}")]
    NoRequest(u64),
    #[error("removal request {id} is {state} already")]
    RequestDecided { id: u64, state: &'static str },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Writer(#[from] WriterError),
}

/// Owns the write side: the store and the published snapshot.
#[derive(Debug)]
pub struct Publisher {
    store: Arc<Store>,
    shared: Arc<SharedSnapshot>,
    /// Per zone and dataset: listing value → id in the dataset's value table.
    interned: HashMap<(DomainName, DatasetName), HashMap<Listing, ValueId>>,
    /// Listings with an expiry time, soonest first. Entries may be stale (the listing was removed
    /// or replaced); [`Publisher::expire_due`] checks the store before removing anything.
    expiries: BTreeSet<load::Expiry>,
    /// Marketer accounts (also published in the snapshot), the rules, and the entries they give
    /// each registry zone, sorted by prefix.
    registry: Registry,
    registry_config: RegistryConfig,
    registry_entries: Vec<(Prefix, Entry)>,
    /// Folds running off this thread, per zone: the zone as it was when the fold started, and
    /// the thread that returns it merged.
    folds: HashMap<DomainName, (ZoneSnapshot, JoinHandle<ZoneSnapshot>)>,
    /// The `refuse-clients` and `ignore-clients` lists the published client rules were made from.
    client_lists: (Vec<Prefix>, Vec<Prefix>),
    /// Access keys and registered resolvers, as stored.
    access: AccessData,
    /// Where evidence listings go and the policies' thresholds.
    evidence_config: EvidenceConfig,
}

impl Publisher {
    /// Reads every configured zone from the store and publishes the first snapshot. Entries whose
    /// expiry time (Unix seconds) is at or before `now` are left out.
    /// `cookies` are the DNS cookie secrets the server answers with, if any.
    pub fn load(
        store: Arc<Store>,
        config: &Config,
        cookies: Option<Secrets>,
        now: u64,
    ) -> Result<(Publisher, Vec<ZoneLoad>), StoreError> {
        let mut zones = Vec::with_capacity(config.zones.len());
        let mut report = Vec::new();
        let mut interned = HashMap::new();
        let mut expiries = BTreeSet::new();
        let registry = Registry::from_accounts(store.load_registry()?);
        let registry_entries = registry.entries(&config.registry.policy);
        for zone in &config.zones {
            if zone.primary.is_some() {
                let started = std::time::Instant::now();
                let (loaded, indexes) = replica::load_replica(&store, Arc::new(zone.clone()), now)?;
                for (dataset, index) in indexes {
                    interned.insert((zone.origin.clone(), dataset), index);
                }
                report.push(ZoneLoad {
                    zone: zone.origin.to_string(),
                    serial: loaded.serial,
                    entries: 0,
                    expired: 0,
                    segments: loaded.datasets().map(crate::snapshot::Dataset::segments).sum(),
                    elapsed_ms: started.elapsed().as_millis(),
                });
                zones.push(loaded);
                continue;
            }
            let extra = config.registry.entries_for(&registry_entries, &zone.origin);
            let serial = store.ensure_serial(&zone.origin, now)?;
            let loaded = load_zone(&store, Arc::new(zone.clone()), serial, now, extra)?;
            report.push(loaded.report);
            for (dataset, index) in loaded.indexes {
                interned.insert((zone.origin.clone(), dataset), index);
            }
            expiries.extend(loaded.expiries);
            zones.push(loaded.zone);
        }
        let mut first = Snapshot::new(zones);
        first.registry = Arc::new(registry.clone());
        first.clients = Arc::new(ClientRules::new(&config.server.refuse_clients, &config.server.ignore_clients));
        first.registry_config = Some(Arc::new(config.registry.clone()));
        first.rrl = config.server.rrl.clone().map(|r| Arc::new(crate::rrl::RateLimiter::new(r)));
        first.cookies = cookies.map(Arc::new);
        first.reporters = Arc::new(crate::evidence::Reporters::new(store.load_reporters()?));
        let (keys, resolvers) = store.load_access()?;
        let access = AccessData { keys, resolvers };
        first.access = Arc::new(AccessTable::new(
            &access.keys,
            &access.resolvers,
            config.server.registered_resolvers_only,
            &AccessTable::default(),
        ));
        let shared = Arc::new(SharedSnapshot::new(first));
        let registry_config = config.registry.clone();
        let folds = HashMap::new();
        let client_lists = (config.server.refuse_clients.clone(), config.server.ignore_clients.clone());
        let publisher = Publisher {
            store,
            shared,
            interned,
            expiries,
            registry,
            registry_config,
            registry_entries,
            folds,
            client_lists,
            access,
            evidence_config: config.evidence.clone(),
        };
        Ok((publisher, report))
    }

    /// Rebuilds some datasets of one zone from the store (after an import replaced them) and
    /// publishes the zone with them; its other datasets are kept as they are.
    pub fn reload_datasets(
        &mut self,
        zone: &DomainName,
        datasets: &[DatasetName],
        now: u64,
    ) -> Result<ZoneLoad, ChangeError> {
        let started = std::time::Instant::now();
        let current = self.install_folds(self.shared.load_full());
        let at = writable_zone(&current, zone)?;
        let old = &current.zones[at];
        let serial = self.store.ensure_serial(zone, now)?;
        let mut next_zone = ZoneSnapshot::clone(old);
        next_zone.serial = serial;
        let (mut entries, mut expired) = (0, 0);
        for name in datasets {
            let registry = match name.is_operator() {
                true => self.registry_config.entries_for(&self.registry_entries, zone),
                false => &[],
            };
            let loaded = load::load_dataset(&self.store, &old.config, serial, now, name, registry)?;
            entries += loaded.entries;
            expired += loaded.expired;
            self.interned.insert((zone.clone(), name.clone()), loaded.index);
            self.expiries.retain(|(_, z, d, _)| !(z == zone && d == name));
            self.expiries.extend(loaded.expiries);
            next_zone = next_zone.with_dataset(loaded.dataset);
        }
        // A fold of the old tables no longer applies (and is dropped when it ends).
        self.folds.remove(zone);
        let report = ZoneLoad {
            zone: zone.to_string(),
            serial,
            entries,
            expired,
            segments: next_zone.datasets().map(crate::snapshot::Dataset::segments).sum(),
            elapsed_ms: started.elapsed().as_millis(),
        };
        let mut next = Snapshot::clone(&current);
        next.zones[at] = Arc::new(next_zone);
        self.shared.publish(next);
        Ok(report)
    }

    /// The store the writer owns (for whole-list imports, which must hold the writer).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The snapshot the DNS path reads.
    pub fn shared(&self) -> &Arc<SharedSnapshot> {
        &self.shared
    }
}

/// Where `zone` is in the snapshot's zone list, when it may be changed here (it is no
/// secondary).
fn writable_zone(snapshot: &Snapshot, zone: &DomainName) -> Result<usize, ChangeError> {
    let at = zone_index(snapshot, zone)?;
    match snapshot.zones[at].config.primary {
        Some(primary) => Err(ChangeError::Secondary { zone: zone.to_string(), primary }),
        None => Ok(at),
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
