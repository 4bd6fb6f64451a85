//! The `replica` column family: the records of secondary zones, as their primaries sent them.
//!
//! Keys: the zone's name in wire form · generation:u32 · [`crate::replica::name_key`] of the
//! record's name → [`crate::replica::RrSet::encode`]. The zone's serial and when it last heard
//! from its primary are in `meta` under `replica/<zone>` (`serial:u32 · refreshed:u64`, Unix
//! seconds), the generation holding its copy under `replica-generation/<zone>`. A whole transfer
//! writes the next generation and switches to it in one synced batch that also drops the old
//! one: a transfer cut short (a network error, a crash) leaves the last copy as it was.

use rocksdb::WriteBatch;

use super::encoding::DecodeError;
use super::{meta_key, synced, Store, StoreError, CF_META, CF_REPLICA, STAGING_CHUNK};
use crate::name::DomainName;

/// A secondary zone's copy: the serial and when the primary last confirmed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaState {
    pub serial: u32,
    pub refreshed: u64,
}

impl Store {
    /// The copy of `zone` this store holds, if it holds a whole one.
    pub fn replica_state(&self, zone: &DomainName) -> Result<Option<ReplicaState>, StoreError> {
        let key = meta_key("replica/", zone);
        let Some(v) = self.db.get_cf(self.cf(CF_META)?, &key).map_err(|e| self.err("reading metadata", e))? else {
            return Ok(None);
        };
        let bad = || self.corrupt(CF_META, &key, DecodeError::Value("replica state"));
        let (serial, refreshed) = v.split_at_checked(4).ok_or_else(bad)?;
        let serial = <[u8; 4]>::try_from(serial).map(u32::from_be_bytes).map_err(|_| bad())?;
        let refreshed = <[u8; 8]>::try_from(refreshed).map(u64::from_be_bytes).map_err(|_| bad())?;
        Ok(Some(ReplicaState { serial, refreshed }))
    }

    /// The generation holding `zone`'s copy (0 before the first).
    fn replica_generation(&self, zone: &DomainName) -> Result<u32, StoreError> {
        Ok(self.meta_u32(&meta_key("replica-generation/", zone), "replica generation")?.unwrap_or(0))
    }

    /// Starts a whole transfer of `zone`: returns the generation it writes into (emptied of
    /// what an earlier transfer cut short left there). The copy served stays as it is until
    /// [`Store::replica_commit`].
    pub fn replica_begin(&self, zone: &DomainName) -> Result<u32, StoreError> {
        let next = self.replica_generation(zone)?.wrapping_add(1);
        let (from, to) = generation_range(zone, next);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.cf(CF_REPLICA)?, &from, &to);
        self.writable()?;
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("preparing a secondary zone", e))?;
        Ok(next)
    }

    /// Adds records (key, value) to `generation` of `zone` (a whole transfer in progress).
    pub fn replica_put(
        &self,
        zone: &DomainName,
        generation: u32,
        records: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let cf = self.cf(CF_REPLICA)?;
        let (from, _) = generation_range(zone, generation);
        for chunk in records.chunks(STAGING_CHUNK) {
            let mut batch = WriteBatch::default();
            for (key, value) in chunk {
                let mut k = from.clone();
                k.extend_from_slice(key);
                batch.put_cf(cf, k, value);
            }
            self.writable()?;
            self.db.write(batch).map_err(|e| self.write_err("writing a secondary zone", e))?;
        }
        Ok(())
    }

    /// Ends a whole transfer: `generation` becomes `zone`'s copy at `state` and the old one is
    /// dropped, in one synced write.
    pub fn replica_commit(&self, zone: &DomainName, generation: u32, state: ReplicaState) -> Result<(), StoreError> {
        let (cf, meta) = (self.cf(CF_REPLICA)?, self.cf(CF_META)?);
        let old = self.replica_generation(zone)?;
        let mut batch = WriteBatch::default();
        if old != generation {
            let (from, to) = generation_range(zone, old);
            batch.delete_range_cf(cf, &from, &to);
        }
        batch.put_cf(meta, meta_key("replica-generation/", zone), generation.to_be_bytes());
        batch.put_cf(meta, meta_key("replica/", zone), state_bytes(state));
        self.writable()?;
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("switching a secondary zone", e))
    }

    /// Sets (`Some`) or removes (`None`) records of `zone`'s copy and its state, in one synced
    /// write.
    pub fn replica_apply(
        &self,
        zone: &DomainName,
        state: ReplicaState,
        changes: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), StoreError> {
        let (cf, meta) = (self.cf(CF_REPLICA)?, self.cf(CF_META)?);
        let (from, _) = generation_range(zone, self.replica_generation(zone)?);
        let mut batch = WriteBatch::default();
        for (key, value) in changes {
            let mut k = from.clone();
            k.extend_from_slice(key);
            match value {
                Some(v) => batch.put_cf(cf, k, v),
                None => batch.delete_cf(cf, k),
            }
        }
        batch.put_cf(meta, meta_key("replica/", zone), state_bytes(state));
        self.writable()?;
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("updating a secondary zone", e))
    }

    /// Records the time the primary last confirmed `zone`'s copy.
    pub fn replica_refreshed(&self, zone: &DomainName, state: ReplicaState) -> Result<(), StoreError> {
        self.replica_apply(zone, state, &[])
    }

    /// The value at `key` of `zone`'s copy.
    pub fn replica_get(&self, zone: &DomainName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let (mut k, _) = generation_range(zone, self.replica_generation(zone)?);
        k.extend_from_slice(key);
        self.db.get_cf(self.cf(CF_REPLICA)?, &k).map_err(|e| self.err("reading a secondary zone", e))
    }

    /// Every record of `zone`'s copy whose key starts with `prefix`, in key order.
    pub fn replica_scan(
        &self,
        zone: &DomainName,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), StoreError> {
        let (mut start, _) = generation_range(zone, self.replica_generation(zone)?);
        let skip = start.len();
        start.extend_from_slice(prefix);
        let mut it = self.db.raw_iterator_cf(self.cf(CF_REPLICA)?);
        it.seek(&start);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(&start) {
                break;
            }
            f(&k[skip..], v);
            it.next();
        }
        it.status().map_err(|e| self.err("reading a secondary zone", e))
    }
}

/// The keys of one generation of `zone`: their prefix, and the bound past the last.
fn generation_range(zone: &DomainName, generation: u32) -> (Vec<u8>, Vec<u8>) {
    let mut from = zone.wire().to_vec();
    from.extend_from_slice(&generation.to_be_bytes());
    let mut to = zone.wire().to_vec();
    match generation.checked_add(1) {
        Some(next) => to.extend_from_slice(&next.to_be_bytes()),
        None => {
            // Past the last generation: past every key of the zone.
            if let Some(last) = to.last_mut() {
                *last = 1;
            }
        }
    }
    (from, to)
}

fn state_bytes(state: ReplicaState) -> Vec<u8> {
    let mut v = state.serial.to_be_bytes().to_vec();
    v.extend_from_slice(&state.refreshed.to_be_bytes());
    v
}
