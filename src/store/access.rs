//! The `access` column family: access keys, registered resolvers and their audit trail.
//!
//! Keys:
//! - `0x01 · name` → access key: `1 · enabled:u8 · created:u64 · secret (len:u8 · bytes) · note`;
//! - `0x02 · family · address · prefix-len` → registered resolver: `1 · created:u64 · name (len:u8 · bytes)`;
//! - `0x03 · at_us:u64 · seq:u16` → audit record: `1 · at_us:u64 · actor · source · action ·
//!   subject · detail`, strings as `len:u8 · bytes`, the detail as a reason.
//!
//! A change and its audit record are one synced batch.

use std::sync::atomic::Ordering;

use rocksdb::WriteBatch;

use super::encoding::{
    self, check_version, decode_entry_key, push_prefix, push_short_text, short_text, DecodeError, Reader, VALUE_VERSION,
};
use super::{synced, Store, StoreError, CF_ACCESS};
use crate::access::{AccessKey, KeyName, KeySecret, RegisteredResolver};
use crate::model::Prefix;

const KEY: u8 = 1;
const RESOLVER: u8 = 2;
const AUDIT: u8 = 3;

/// One change of the access data.
#[derive(Clone, Copy, Debug)]
pub enum AccessWrite<'a> {
    PutKey(&'a AccessKey),
    DeleteKey(&'a KeyName),
    PutResolver(&'a RegisteredResolver),
    DeleteResolver(&'a Prefix),
}

/// One audit record of an access change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRecord {
    /// Microseconds since the Unix epoch.
    pub at_us: u64,
    pub actor: String,
    pub source: String,
    /// `add-key`, `disable-key`, `enable-key`, `remove-key`, `add-resolver`, `remove-resolver`.
    pub action: String,
    /// The key's name or the resolver's prefix.
    pub subject: String,
    /// The resolver's name, the key's note.
    pub detail: Option<String>,
}

impl Store {
    /// Every access key (in name order) and registered resolver (in prefix order).
    pub fn load_access(&self) -> Result<(Vec<AccessKey>, Vec<RegisteredResolver>), StoreError> {
        let Some(cf) = self.db.cf_handle(CF_ACCESS) else {
            // A database opened read-only that no server has opened since access keys exist.
            return Ok((Vec::new(), Vec::new()));
        };
        let (mut keys, mut resolvers) = (Vec::new(), Vec::new());
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek([KEY]);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            match k.first() {
                Some(&KEY) => keys.push(decode_key(&k[1..], v).map_err(|why| self.corrupt(CF_ACCESS, k, why))?),
                Some(&RESOLVER) => {
                    resolvers.push(decode_resolver(&k[1..], v).map_err(|why| self.corrupt(CF_ACCESS, k, why))?)
                }
                _ => break,
            }
            it.next();
        }
        it.status().map_err(|e| self.err("reading access keys and resolvers", e))?;
        Ok((keys, resolvers))
    }

    /// Writes one access change and its audit record in one synced batch.
    pub fn write_access(&self, write: AccessWrite<'_>, record: &AccessRecord) -> Result<(), StoreError> {
        let cf = self.cf(CF_ACCESS)?;
        let mut batch = WriteBatch::default();
        match write {
            AccessWrite::PutKey(key) => batch.put_cf(cf, key_key(&key.name), encode_key(key)),
            AccessWrite::DeleteKey(name) => batch.delete_cf(cf, key_key(name)),
            AccessWrite::PutResolver(r) => batch.put_cf(cf, resolver_key(&r.prefix), encode_resolver(r)),
            AccessWrite::DeleteResolver(prefix) => batch.delete_cf(cf, resolver_key(prefix)),
        }
        let seq = self.audit_seq.fetch_add(1, Ordering::Relaxed);
        let mut k = vec![AUDIT];
        k.extend_from_slice(&record.at_us.to_be_bytes());
        k.extend_from_slice(&seq.to_be_bytes());
        batch.put_cf(cf, k, encode_record(record));
        self.writable()?;
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("writing an access change", e))
    }

    /// The last `limit` audit records of access changes, oldest first.
    pub fn access_history(&self, limit: usize) -> Result<Vec<AccessRecord>, StoreError> {
        let Some(cf) = self.db.cf_handle(CF_ACCESS) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek_to_last();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.first() != Some(&AUDIT) || out.len() == limit {
                break;
            }
            out.push(decode_record(v).map_err(|why| self.corrupt(CF_ACCESS, k, why))?);
            it.prev();
        }
        it.status().map_err(|e| self.err("reading the access history", e))?;
        out.reverse();
        Ok(out)
    }
}

fn key_key(name: &KeyName) -> Vec<u8> {
    let mut k = vec![KEY];
    k.extend_from_slice(name.as_str().as_bytes());
    k
}

fn resolver_key(prefix: &Prefix) -> Vec<u8> {
    let mut k = vec![RESOLVER];
    push_prefix(&mut k, prefix);
    k
}

fn encode_key(key: &AccessKey) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION, u8::from(key.enabled)];
    out.extend_from_slice(&key.created.to_be_bytes());
    push_short_text(&mut out, key.secret.as_str());
    encoding::encode_reason(&mut out, key.note.as_deref());
    out
}

fn decode_key(name: &[u8], v: &[u8]) -> Result<AccessKey, DecodeError> {
    let name = std::str::from_utf8(name).ok().and_then(|n| KeyName::parse(n).ok()).ok_or(DecodeError::Key)?;
    let mut r = Reader(v);
    check_version(r.u8()?)?;
    let enabled = r.u8()? != 0;
    let created = r.u64()?;
    let secret = KeySecret::parse(&short_text(&mut r)?).map_err(|_| DecodeError::Value("access key"))?;
    let note = encoding::decode_reason(&mut r)?;
    r.end()?;
    Ok(AccessKey { name, secret, enabled, created, note })
}

fn encode_resolver(r: &RegisteredResolver) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    out.extend_from_slice(&r.created.to_be_bytes());
    push_short_text(&mut out, &r.name);
    out
}

fn decode_resolver(key: &[u8], v: &[u8]) -> Result<RegisteredResolver, DecodeError> {
    let prefix = decode_entry_key(key, 0)?;
    let mut r = Reader(v);
    check_version(r.u8()?)?;
    let created = r.u64()?;
    let name = short_text(&mut r)?;
    r.end()?;
    Ok(RegisteredResolver { prefix, name, created })
}

fn encode_record(rec: &AccessRecord) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    out.extend_from_slice(&rec.at_us.to_be_bytes());
    for s in [&rec.actor, &rec.source, &rec.action, &rec.subject] {
        push_short_text(&mut out, s);
    }
    encoding::encode_reason(&mut out, rec.detail.as_deref());
    out
}

fn decode_record(v: &[u8]) -> Result<AccessRecord, DecodeError> {
    let mut r = Reader(v);
    check_version(r.u8()?)?;
    let at_us = r.u64()?;
    let (actor, source, action, subject) =
        (short_text(&mut r)?, short_text(&mut r)?, short_text(&mut r)?, short_text(&mut r)?);
    let detail = encoding::decode_reason(&mut r)?;
    r.end()?;
    Ok(AccessRecord { at_us, actor, source, action, subject, detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_their_bytes_stay_as_they_are() {
        let key = AccessKey {
            name: KeyName::parse("isp-a").expect("name"),
            secret: KeySecret::parse("abcdefghijklmnop").expect("secret"),
            enabled: true,
            created: 0x0102,
            note: Some("contract 7".into()),
        };
        let bytes = encode_key(&key);
        let mut golden = vec![1, 1, 0, 0, 0, 0, 0, 0, 1, 2, 16];
        golden.extend_from_slice(b"abcdefghijklmnop");
        golden.extend_from_slice(&[1, 0, 10]);
        golden.extend_from_slice(b"contract 7");
        assert_eq!(bytes, golden);
        assert_eq!(decode_key(b"isp-a", &bytes), Ok(key));
        let r = RegisteredResolver { prefix: "192.0.2.0/24".parse().expect("prefix"), name: "isp".into(), created: 5 };
        let k = resolver_key(&r.prefix);
        assert_eq!(k, [2, 4, 192, 0, 2, 0, 24]);
        assert_eq!(decode_resolver(&k[1..], &encode_resolver(&r)), Ok(r));
        let rec = AccessRecord {
            at_us: 9,
            actor: "operator".into(),
            source: "api".into(),
            action: "add-key".into(),
            subject: "isp-a".into(),
            detail: None,
        };
        assert_eq!(decode_record(&encode_record(&rec)), Ok(rec));
        assert!(decode_key(b"Bad Name", &bytes).is_err());
        assert!(decode_key(b"isp-a", &bytes[..bytes.len() - 1]).is_err());
    }
}
