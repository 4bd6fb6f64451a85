//! The `delisting` column family: removal requests from the public pages.
//!
//! Keys:
//! - `0x01 · id:u64` → the request: `1 · JSON` (a small record, read by id; JSON keeps its
//!   event list readable with `ldb` too);
//! - `0x02 · family · address · len` → `id:u64`: the open request of that prefix (at most one).

use rocksdb::WriteBatch;

use super::encoding::{check_version, push_prefix, DecodeError, VALUE_VERSION};
use super::{synced, Store, StoreError, CF_DELISTING};
use crate::delisting::RemovalRequest;
use crate::model::Prefix;

const REQUEST: u8 = 1;
const OPEN: u8 = 2;

impl Store {
    /// Stores `request` (new or changed) in one synced write, keeping the open-request index.
    pub fn write_request(&self, request: &RemovalRequest) -> Result<(), StoreError> {
        let cf = self.cf(CF_DELISTING)?;
        let mut batch = WriteBatch::default();
        let mut value = vec![VALUE_VERSION];
        value.extend(
            serde_json::to_vec(request).map_err(|_| self.corrupt(CF_DELISTING, b"", DecodeError::Value("request")))?,
        );
        batch.put_cf(cf, request_key(request.id), value);
        match request.state.is_open() {
            true => batch.put_cf(cf, open_key(request.prefix), request.id.to_be_bytes()),
            false => batch.delete_cf(cf, open_key(request.prefix)),
        }
        self.writable()?;
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("writing a removal request", e))
    }

    pub fn request(&self, id: u64) -> Result<Option<RemovalRequest>, StoreError> {
        let cf = self.cf(CF_DELISTING)?;
        let key = request_key(id);
        let Some(v) = self.db.get_cf(cf, &key).map_err(|e| self.err("reading a removal request", e))? else {
            return Ok(None);
        };
        decode(&v).map(Some).map_err(|why| self.corrupt(CF_DELISTING, &key, why))
    }

    /// The open request of exactly `prefix`, if there is one.
    pub fn open_request_of(&self, prefix: Prefix) -> Result<Option<u64>, StoreError> {
        let cf = self.cf(CF_DELISTING)?;
        let v = self.db.get_cf(cf, open_key(prefix)).map_err(|e| self.err("reading a removal request", e))?;
        Ok(v.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()).map(u64::from_be_bytes))
    }

    /// Every request, newest first (at most `limit`).
    pub fn requests(&self, limit: usize) -> Result<Vec<RemovalRequest>, StoreError> {
        self.requests_filed_since(0, limit)
    }

    /// The requests filed at or after `since` (Unix seconds), newest first, at most `limit`
    /// (ids grow with filing time, so the scan stops at the first older one).
    pub fn requests_filed_since(&self, since: u64, limit: usize) -> Result<Vec<RemovalRequest>, StoreError> {
        let cf = self.cf(CF_DELISTING)?;
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek_for_prev(request_key(u64::MAX));
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.first() != Some(&REQUEST) || out.len() >= limit {
                break;
            }
            let request = decode(v).map_err(|why| self.corrupt(CF_DELISTING, k, why))?;
            if request.created < since {
                break;
            }
            out.push(request);
            it.prev();
        }
        it.status().map_err(|e| self.err("reading removal requests", e))?;
        Ok(out)
    }

    /// The open requests whose prefix covers `prefix` or lies inside it.
    pub fn open_requests_overlapping(&self, prefix: Prefix) -> Result<Vec<u64>, StoreError> {
        let cf = self.cf(CF_DELISTING)?;
        let mut out = Vec::new();
        for len in 0..prefix.len() {
            out.extend(self.open_request_of(prefix.truncated(len))?);
        }
        // Inside (the prefix itself included): keys from its own up to its last address's.
        let mut to = open_key(prefix.last_host());
        to.push(0xff);
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_upper_bound(to);
        let mut it = self.db.raw_iterator_cf_opt(cf, ro);
        it.seek(open_key(prefix));
        while let (Some(_), Some(v)) = (it.key(), it.value()) {
            out.extend(<[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes));
            it.next();
        }
        it.status().map_err(|e| self.err("reading removal requests", e))?;
        Ok(out)
    }

    /// The highest request id stored (0 without any).
    pub fn last_request_id(&self) -> Result<u64, StoreError> {
        Ok(self.requests(1)?.first().map_or(0, |r| r.id))
    }
}

fn request_key(id: u64) -> Vec<u8> {
    let mut k = vec![REQUEST];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn open_key(prefix: Prefix) -> Vec<u8> {
    let mut k = vec![OPEN];
    push_prefix(&mut k, &prefix);
    k
}

fn decode(v: &[u8]) -> Result<RemovalRequest, DecodeError> {
    let (&version, json) = v.split_first().ok_or(DecodeError::Value("empty"))?;
    check_version(version)?;
    serde_json::from_slice(json).map_err(|_| DecodeError::Value("removal request"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delisting::{Mail, State};

    #[test]
    fn requests_round_trip_newest_first_and_the_open_index_follows_the_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let prefix: Prefix = "45.67.8.9/32".parse().expect("prefix");
        let mut r = RemovalRequest {
            id: 7,
            prefix,
            contact: "a@b.example".into(),
            text: "<b>hi</b>".into(),
            key_hash: [3; 32],
            created: 1,
            state: State::Unconfirmed,
            mail: Mail::NotYet,
            events: Vec::new(),
        };
        assert_eq!(store.last_request_id().expect("read"), 0);
        store.write_request(&r).expect("write");
        store
            .write_request(&RemovalRequest { id: 8, prefix: "45.67.8.10/32".parse().expect("p"), ..r.clone() })
            .expect("write");
        assert_eq!(store.request(7).expect("read"), Some(r.clone()));
        assert_eq!(store.open_request_of(prefix).expect("read"), Some(7));
        assert_eq!(store.requests(10).expect("read").iter().map(|r| r.id).collect::<Vec<_>>(), [8, 7]);
        assert_eq!(store.last_request_id().expect("read"), 8);
        r.state = State::Rejected { reason: "no".into(), by: "operator".into() };
        store.write_request(&r).expect("write");
        assert_eq!(store.open_request_of(prefix).expect("read"), None);
    }
}
