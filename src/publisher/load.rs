//! Reading a zone from the store: the list in address-range parts by one thread per core
//! (RocksDB iteration is most of a load), the registry's entries merged in, one table built.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::merge::RegistryMerge;
use super::ZoneLoad;
use crate::config::ZoneConfig;
use crate::model::{Entry, Listing, Prefix};
use crate::name::{DatasetName, DomainName};
use crate::snapshot::{Dataset, ZoneBuilder, ZoneSnapshot};
use crate::store::encoding::decode_answer;
use crate::store::{Store, StoreError};
use crate::trie::ValueId;

/// Listings that expire: when, and where.
pub(super) type Expiry = (u64, DomainName, DatasetName, Prefix);

/// One zone read from the store.
pub(super) struct LoadedZone {
    pub(super) zone: ZoneSnapshot,
    /// Per dataset, the value index live changes intern into.
    pub(super) indexes: Vec<(DatasetName, HashMap<Listing, ValueId>)>,
    pub(super) expiries: Vec<Expiry>,
    pub(super) report: ZoneLoad,
}

/// The zone as the list in `store` and the registry entries `registry` (sorted by prefix) give
/// it, at `serial`, leaving out what expired at or before `now`. Reads only, so it works on a
/// read-only store while a server runs (exports use it).
pub fn build_zone(
    store: &Store,
    config: Arc<ZoneConfig>,
    serial: u32,
    now: u64,
    registry: &[(Prefix, Entry)],
) -> Result<ZoneSnapshot, StoreError> {
    Ok(load_zone(store, config, serial, now, registry)?.zone)
}

pub(super) fn load_zone(
    store: &Store,
    config: Arc<ZoneConfig>,
    serial: u32,
    now: u64,
    registry: &[(Prefix, Entry)],
) -> Result<LoadedZone, StoreError> {
    let started = Instant::now();
    let origin = config.origin.clone();
    let operator = load_dataset(store, &config, serial, now, &DatasetName::operator(), registry)?;
    let (mut entries, mut expired) = (operator.entries, operator.expired);
    let mut expiries = operator.expiries;
    let mut indexes = vec![(DatasetName::operator(), operator.index)];
    let mut feeds = Vec::new();
    for name in store.datasets(&origin)?.into_iter().filter(|d| !d.is_operator()) {
        let feed = load_dataset(store, &config, serial, now, &name, &[])?;
        entries += feed.entries;
        expired += feed.expired;
        expiries.extend(feed.expiries);
        indexes.push((name, feed.index));
        feeds.push(feed.dataset);
    }
    let zone = ZoneSnapshot::new(config, serial, operator.dataset, feeds);
    let segments = zone.datasets().map(Dataset::segments).sum();
    let report = ZoneLoad {
        zone: origin.to_string(),
        serial,
        entries,
        expired,
        segments,
        elapsed_ms: started.elapsed().as_millis(),
    };
    Ok(LoadedZone { zone, indexes, expiries, report })
}

/// One dataset read from the store and built.
pub(super) struct LoadedDataset {
    pub(super) dataset: Dataset,
    /// The value index live changes intern into.
    pub(super) index: HashMap<Listing, ValueId>,
    pub(super) expiries: Vec<Expiry>,
    pub(super) entries: usize,
    pub(super) expired: usize,
}

/// One dataset of a zone as the store and the registry entries `registry` (sorted by prefix;
/// the operator's dataset has them, the others none) give it.
pub(super) fn load_dataset(
    store: &Store,
    config: &Arc<ZoneConfig>,
    serial: u32,
    now: u64,
    name: &DatasetName,
    registry: &[(Prefix, Entry)],
) -> Result<LoadedDataset, StoreError> {
    let read = read_dataset(store, config, serial, now, name, registry)?;
    let mut builder = read.builder;
    let mut merge = RegistryMerge::new(registry);
    merge.met = read.met;
    for (prefix, entry) in merge.finish() {
        builder.add(prefix, entry);
    }
    let entries = builder.entries();
    let (dataset, index) = builder.build_dataset(name.clone());
    Ok(LoadedDataset { dataset, index, expiries: read.expiries, entries, expired: read.expired })
}

/// One dataset read from the store.
struct DatasetLoad {
    builder: ZoneBuilder,
    expired: usize,
    expiries: Vec<Expiry>,
    /// Stored entries at a registry prefix, held back for the registry merge.
    met: Vec<(Prefix, Entry)>,
}

/// Reads one dataset in address-range parts by one thread per core (RocksDB iteration is most
/// of a load), then puts the parts' entries and values together.
fn read_dataset(
    store: &Store,
    config: &Arc<ZoneConfig>,
    serial: u32,
    now: u64,
    dataset: &DatasetName,
    registry: &[(Prefix, Entry)],
) -> Result<DatasetLoad, StoreError> {
    let origin = &config.origin;
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
            part.read(store, origin, dataset, from, to, now)?;
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
    let mut out = DatasetLoad {
        builder: ZoneBuilder::new(config.clone(), serial),
        expired: 0,
        expiries: Vec::new(),
        met: Vec::new(),
    };
    for part in loaded {
        let part = part?;
        out.builder.absorb(part.builder);
        out.expired += part.expired;
        out.expiries.extend(part.expiries);
        out.met.extend(part.merge.met);
    }
    Ok(out)
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
    expiries: Vec<Expiry>,
    /// Stored entries at a registry prefix are held back here and combined at the end.
    merge: RegistryMerge<'a>,
}

impl PartLoad<'_> {
    fn read(
        &mut self,
        store: &Store,
        origin: &DomainName,
        dataset: &DatasetName,
        from: Option<Prefix>,
        to: Option<Prefix>,
        now: u64,
    ) -> Result<(), StoreError> {
        store.for_each_raw_between(origin, dataset, from, to, |prefix, head| {
            if head.as_ref().is_some_and(|h| h.expired(now)) {
                self.expired += 1;
                return Ok(());
            }
            if let Some(t) = head.as_ref().and_then(|h| h.expires_at) {
                self.expiries.push((t, origin.clone(), dataset.clone(), prefix));
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
