//! The `replica` column family: the records of secondary zones, as their primaries sent them.
//!
//! Keys: the zone's name in wire form · [`crate::replica::name_key`] of the record's name →
//! [`crate::replica::RrSet::encode`]. The zone's serial and when it last heard from its primary
//! are in `meta` under `replica/<zone>`: `serial:u32 · refreshed:u64` (Unix seconds). A whole
//! transfer removes that key first and writes it last, so a copy cut short by a crash is no copy.

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
        let (serial, refreshed) =
            v.split_at_checked(4).ok_or_else(|| self.corrupt(CF_META, &key, DecodeError::Value("replica state")))?;
        let serial = <[u8; 4]>::try_from(serial).map(u32::from_be_bytes);
        let refreshed = <[u8; 8]>::try_from(refreshed).map(u64::from_be_bytes);
        match (serial, refreshed) {
            (Ok(serial), Ok(refreshed)) => Ok(Some(ReplicaState { serial, refreshed })),
            _ => Err(self.corrupt(CF_META, &key, DecodeError::Value("replica state"))),
        }
    }

    /// Starts replacing `zone`'s records (a whole transfer): the copy is removed, so that one
    /// cut short is no copy; [`Store::replica_put`] then adds records and
    /// [`Store::replica_commit`] makes them the copy.
    pub fn replica_begin(&self, zone: &DomainName) -> Result<(), StoreError> {
        let (cf, meta) = (self.cf(CF_REPLICA)?, self.cf(CF_META)?);
        self.writable()?;
        let (from, to) = zone_range(zone);
        let mut batch = WriteBatch::default();
        batch.delete_cf(meta, meta_key("replica/", zone));
        batch.delete_range_cf(cf, &from, &to);
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("clearing a secondary zone", e))
    }

    /// Adds records (key, value) to a replacement begun by [`Store::replica_begin`].
    pub fn replica_put(&self, zone: &DomainName, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        let cf = self.cf(CF_REPLICA)?;
        let (from, _) = zone_range(zone);
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

    /// Ends a replacement: the records put since [`Store::replica_begin`] are the copy at
    /// `state` (synced).
    pub fn replica_commit(&self, zone: &DomainName, state: ReplicaState) -> Result<(), StoreError> {
        self.replica_apply(zone, state, &[])
    }

    /// Sets (`Some`) or removes (`None`) records of `zone` and its state, in one synced write.
    pub fn replica_apply(
        &self,
        zone: &DomainName,
        state: ReplicaState,
        changes: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), StoreError> {
        let (cf, meta) = (self.cf(CF_REPLICA)?, self.cf(CF_META)?);
        let (from, _) = zone_range(zone);
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

    /// The value at `key` of `zone`.
    pub fn replica_get(&self, zone: &DomainName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let (mut k, _) = zone_range(zone);
        k.extend_from_slice(key);
        self.db.get_cf(self.cf(CF_REPLICA)?, &k).map_err(|e| self.err("reading a secondary zone", e))
    }

    /// Every record of `zone` whose key starts with `prefix`, in key order.
    pub fn replica_scan(
        &self,
        zone: &DomainName,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), StoreError> {
        let (mut start, _) = zone_range(zone);
        start.extend_from_slice(prefix);
        let skip = zone.wire().len();
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

/// The keys of `zone`: its wire name, and the bound past its last key.
fn zone_range(zone: &DomainName) -> (Vec<u8>, Vec<u8>) {
    let from = zone.wire().to_vec();
    // A wire name ends with the root's zero byte; one more there is past every key of the zone.
    let mut to = from.clone();
    if let Some(last) = to.last_mut() {
        *last = 1;
    }
    (from, to)
}

fn state_bytes(state: ReplicaState) -> Vec<u8> {
    let mut v = state.serial.to_be_bytes().to_vec();
    v.extend_from_slice(&state.refreshed.to_be_bytes());
    v
}
