//! Builds snapshots from the store. Today: the whole list at start-up; live changes (and the
//! incremental publication they need) come with the operator API.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::model::Entry;
use crate::snapshot::{Snapshot, ZoneBuilder};
use crate::store::encoding::decode_answer;
use crate::store::{Store, StoreError};

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

/// Reads every configured zone from the store into a new snapshot. Entries whose expiry time
/// (Unix seconds) is at or before `now` are left out.
pub fn load_snapshot(store: &Store, config: &Config, now: u64) -> Result<(Snapshot, Vec<ZoneLoad>), StoreError> {
    let mut zones = Vec::with_capacity(config.zones.len());
    let mut report = Vec::new();
    for zone in &config.zones {
        let started = Instant::now();
        let serial = store.ensure_serial(&zone.origin, now)?;
        let mut builder = ZoneBuilder::new(Arc::new(zone.clone()), serial);
        let mut expired = 0;
        store.for_each_raw(&zone.origin, |prefix, head| match head {
            Some(h) if h.expires_at.is_some_and(|t| t <= now) => {
                expired += 1;
                Ok(())
            }
            Some(h) => builder.add_encoded(prefix, h.answer, decode_answer),
            None => {
                builder.add(prefix, Entry::Excluded);
                Ok(())
            }
        })?;
        let entries = builder.entries();
        let built = builder.build();
        report.push(ZoneLoad {
            zone: zone.origin.to_string(),
            serial,
            entries,
            expired,
            segments: built.v4.segments() + built.v6.segments(),
            elapsed_ms: started.elapsed().as_millis(),
        });
        zones.push(built);
    }
    Ok((Snapshot { zones }, report))
}
