//! The `evidence` column family: what reporters sent about addresses.
//!
//! Keys:
//! - `0x01 · family · address · 128|32 · at:u64 · seq:u16` → one piece of evidence:
//!   `1 · kind:u8 · reporter · about (mailing, trap address or day) · report id`, and for a
//!   volume record `· messages:u64` (strings as `len:u8 · bytes`, the report id as a reason);
//!   a reporter has one volume record per address and day (the latest figure);
//! - `0x02 · reporter-len:u8 · reporter · report id` → `at:u64`: the reports already counted,
//!   so the same report sent twice counts once;
//! - `0x03 · name` → reporter: `1 · token SHA-256 (32 bytes) · created:u64 · contact`.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use rocksdb::{ReadOptions, WriteBatch};

use super::encoding::{
    self, check_version, push_prefix, push_short_text, short_text, DecodeError, Reader, VALUE_VERSION,
};
use super::{synced, Store, StoreError, CF_EVIDENCE};
use crate::evidence::{Evidence, EvidenceKind, Reporter};
use crate::model::Prefix;

const RECORD: u8 = 1;
const SEEN: u8 = 2;
const REPORTER: u8 = 3;

impl Store {
    /// Stores the evidence about `ip` that is new, in one synced batch; returns, for each piece,
    /// whether it was new (a report already counted, by reporter and report id, is not; a
    /// volume figure replaces the reporter's earlier figure for that address and day, and is
    /// not new when it is the same).
    pub fn add_evidence(&self, pieces: &[(IpAddr, Evidence)]) -> Result<Vec<bool>, StoreError> {
        let cf = self.cf(CF_EVIDENCE)?;
        let mut batch = WriteBatch::default();
        let mut fresh = Vec::with_capacity(pieces.len());
        let mut seen_now: Vec<Vec<u8>> = Vec::new();
        // Volume records written by this batch: address, day, reporter, messages, key.
        let mut volumes_now: Vec<(IpAddr, u64, &str, u64, Vec<u8>)> = Vec::new();
        for (ip, e) in pieces {
            if e.kind == EvidenceKind::Volume {
                let earlier = match volumes_now.iter().position(|v| v.0 == *ip && v.1 == e.at && v.2 == e.reporter) {
                    Some(i) => Some((volumes_now[i].4.clone(), volumes_now.swap_remove(i).3)),
                    None => self.stored_volume(*ip, e)?.map(|(key, stored)| (key, stored.messages)),
                };
                let key = match earlier {
                    Some((key, messages)) if messages == e.messages => {
                        volumes_now.push((*ip, e.at, e.reporter.as_str(), messages, key));
                        fresh.push(false);
                        continue;
                    }
                    // A new figure overwrites the record under its key.
                    Some((key, _)) => key,
                    None => record_key(*ip, e.at, self.audit_seq.fetch_add(1, Ordering::Relaxed)),
                };
                batch.put_cf(cf, &key, encode(e));
                volumes_now.push((*ip, e.at, e.reporter.as_str(), e.messages, key));
                fresh.push(true);
                continue;
            }
            if let Some(id) = &e.report_id {
                let key = seen_key(&e.reporter, id);
                let known = seen_now.contains(&key)
                    || self.db.get_cf(cf, &key).map_err(|err| self.err("reading evidence", err))?.is_some();
                if known {
                    fresh.push(false);
                    continue;
                }
                batch.put_cf(cf, &key, e.at.to_be_bytes());
                seen_now.push(key);
            }
            let seq = self.audit_seq.fetch_add(1, Ordering::Relaxed);
            batch.put_cf(cf, record_key(*ip, e.at, seq), encode(e));
            fresh.push(true);
        }
        if fresh.iter().any(|&f| f) {
            self.writable()?;
            self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("writing evidence", e))?;
        }
        Ok(fresh)
    }

    /// Every piece of evidence about the addresses inside `prefix`, in address order.
    pub fn evidence_in(&self, prefix: Prefix) -> Result<Vec<Evidence>, StoreError> {
        let Some(cf) = self.db.cf_handle(CF_EVIDENCE) else { return Ok(Vec::new()) };
        let from = ip_prefix(prefix.first_address());
        // Host keys carry their length (32 or 128) after the address, always below 0xff.
        let mut to = vec![RECORD];
        push_prefix(&mut to, &prefix.last_host());
        if let Some(len) = to.last_mut() {
            *len = 0xff;
        }
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(to);
        let mut it = self.db.raw_iterator_cf_opt(cf, ro);
        it.seek(&from);
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let at = record_time(k).ok_or_else(|| self.corrupt(CF_EVIDENCE, k, DecodeError::Key))?;
            out.push(decode(at, v).map_err(|why| self.corrupt(CF_EVIDENCE, k, why))?);
            it.next();
        }
        it.status().map_err(|e| self.err("reading evidence", e))?;
        Ok(out)
    }

    /// The reporter's stored volume record for the address and day of `volume`, with its key.
    fn stored_volume(&self, ip: IpAddr, volume: &Evidence) -> Result<Option<(Vec<u8>, Evidence)>, StoreError> {
        let cf = self.cf(CF_EVIDENCE)?;
        let mut from = ip_prefix(ip);
        from.extend_from_slice(&volume.at.to_be_bytes());
        let mut to = from.clone();
        to.extend_from_slice(&[0xff, 0xff, 0xff]);
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(to);
        let mut it = self.db.raw_iterator_cf_opt(cf, ro);
        it.seek(&from);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let e = decode(volume.at, v).map_err(|why| self.corrupt(CF_EVIDENCE, k, why))?;
            if e.kind == EvidenceKind::Volume && e.reporter == volume.reporter {
                return Ok(Some((k.to_vec(), e)));
            }
            it.next();
        }
        it.status().map_err(|e| self.err("reading evidence", e))?;
        Ok(None)
    }

    /// Every piece of evidence about `ip`, oldest first.
    pub fn evidence_of(&self, ip: IpAddr) -> Result<Vec<Evidence>, StoreError> {
        self.evidence_in(Prefix::host(ip))
    }
}

/// The time in an evidence record's key: the 8 bytes before the sequence number that ends it.
fn record_time(key: &[u8]) -> Option<u64> {
    let at = key.len().checked_sub(10)?;
    key.get(at..at + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes)
}

impl Store {
    /// Deletes the evidence dated before `before`, and the record of reports counted before it;
    /// returns how many pieces of evidence went.
    pub fn drop_evidence_before(&self, before: u64) -> Result<usize, StoreError> {
        let cf = self.cf(CF_EVIDENCE)?;
        let mut batch = WriteBatch::default();
        let mut dropped = 0;
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek([RECORD]);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let at = match k.first() {
                Some(&RECORD) => record_time(k),
                Some(&SEEN) => <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes),
                _ => break,
            };
            let at = at.ok_or_else(|| self.corrupt(CF_EVIDENCE, k, DecodeError::Key))?;
            if at < before {
                batch.delete_cf(cf, k);
                dropped += usize::from(k.first() == Some(&RECORD));
            }
            it.next();
        }
        it.status().map_err(|e| self.err("reading evidence", e))?;
        if !batch.is_empty() {
            self.writable()?;
            self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("dropping old evidence", e))?;
        }
        Ok(dropped)
    }

    /// About how many keys the evidence column family holds (RocksDB's estimate; cheap).
    pub fn evidence_estimate(&self) -> u64 {
        let Some(cf) = self.db.cf_handle(CF_EVIDENCE) else { return 0 };
        self.db.property_int_value_cf(cf, "rocksdb.estimate-num-keys").ok().flatten().unwrap_or(0)
    }

    /// Every reporter.
    pub fn load_reporters(&self) -> Result<Vec<Reporter>, StoreError> {
        let Some(cf) = self.db.cf_handle(CF_EVIDENCE) else { return Ok(Vec::new()) };
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek([REPORTER]);
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.first() != Some(&REPORTER) {
                break;
            }
            out.push(decode_reporter(&k[1..], v).map_err(|why| self.corrupt(CF_EVIDENCE, k, why))?);
            it.next();
        }
        it.status().map_err(|e| self.err("reading reporters", e))?;
        Ok(out)
    }

    /// Stores a reporter (new or with a new token), or deletes one (`None`), synced.
    pub fn write_reporter(&self, name: &str, reporter: Option<&Reporter>) -> Result<(), StoreError> {
        let cf = self.cf(CF_EVIDENCE)?;
        let mut key = vec![REPORTER];
        key.extend_from_slice(name.as_bytes());
        let mut batch = WriteBatch::default();
        match reporter {
            Some(r) => batch.put_cf(cf, key, encode_reporter(r)),
            None => batch.delete_cf(cf, key),
        }
        self.writable()?;
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("writing a reporter", e))
    }
}

fn encode_reporter(r: &Reporter) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    out.extend_from_slice(&r.token_hash);
    out.extend_from_slice(&r.created.to_be_bytes());
    push_short_text(&mut out, &r.contact);
    out
}

fn decode_reporter(name: &[u8], v: &[u8]) -> Result<Reporter, DecodeError> {
    let name = std::str::from_utf8(name).map_err(|_| DecodeError::Key)?.to_string();
    let mut r = Reader(v);
    check_version(r.u8()?)?;
    let token_hash = <[u8; 32]>::try_from(r.take(32)?).map_err(|_| DecodeError::Value("token hash"))?;
    let created = r.u64()?;
    let contact = short_text(&mut r)?;
    r.end()?;
    Ok(Reporter { name, contact, token_hash, created })
}

fn ip_prefix(ip: IpAddr) -> Vec<u8> {
    let mut k = vec![RECORD];
    push_prefix(&mut k, &Prefix::host(ip));
    k
}

fn record_key(ip: IpAddr, at: u64, seq: u16) -> Vec<u8> {
    let mut k = ip_prefix(ip);
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn seen_key(reporter: &str, report_id: &str) -> Vec<u8> {
    let mut k = vec![SEEN];
    push_short_text(&mut k, reporter);
    k.extend_from_slice(report_id.as_bytes());
    k
}

fn encode(e: &Evidence) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION, e.kind as u8];
    push_short_text(&mut out, &e.reporter);
    push_short_text(&mut out, &e.about);
    encoding::encode_reason(&mut out, e.report_id.as_deref());
    if e.kind == EvidenceKind::Volume {
        out.extend_from_slice(&e.messages.to_be_bytes());
    }
    out
}

fn decode(at: u64, v: &[u8]) -> Result<Evidence, DecodeError> {
    let mut r = Reader(v);
    check_version(r.u8()?)?;
    let kind = match r.u8()? {
        1 => EvidenceKind::Complaint,
        2 => EvidenceKind::Trap,
        3 => EvidenceKind::Volume,
        _ => return Err(DecodeError::Value("unknown evidence kind")),
    };
    let (reporter, about) = (short_text(&mut r)?, short_text(&mut r)?);
    let report_id = encoding::decode_reason(&mut r)?;
    let messages = if kind == EvidenceKind::Volume { r.u64()? } else { 0 };
    r.end()?;
    Ok(Evidence { at, reporter, kind, about, report_id, messages })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_its_bytes_stay_as_they_are() {
        let e = Evidence {
            at: 7,
            reporter: "isp-a".into(),
            kind: EvidenceKind::Complaint,
            about: "list-id:x".into(),
            report_id: Some("r@a".into()),
            messages: 0,
        };
        let bytes = encode(&e);
        assert_eq!(bytes, [&[1u8, 1, 5][..], b"isp-a", &[9], b"list-id:x", &[1, 0, 3], b"r@a"].concat());
        assert_eq!(decode(7, &bytes), Ok(e.clone()));
        assert_eq!(&record_key("45.67.8.9".parse().expect("ip"), 1, 2)[..7], &[1, 4, 45, 67, 8, 9, 32]);
        let v =
            Evidence { kind: EvidenceKind::Volume, about: "2026-11-30".into(), report_id: None, messages: 258, ..e };
        let bytes = encode(&v);
        assert_eq!(bytes, [&[1u8, 3, 5][..], b"isp-a", &[10], b"2026-11-30", &[0], &[0, 0, 0, 0, 0, 0, 1, 2]].concat());
        assert_eq!(decode(7, &bytes), Ok(v));
    }

    #[test]
    fn a_later_volume_figure_replaces_the_earlier_and_the_same_figure_is_not_new() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let ip: IpAddr = "45.67.8.9".parse().expect("ip");
        let day = 1_795_996_800;
        let v = |reporter: &str, messages: u64| Evidence {
            at: day,
            reporter: reporter.into(),
            kind: EvidenceKind::Volume,
            about: "2026-11-30".into(),
            report_id: None,
            messages,
        };
        let pieces = [(ip, v("a", 100)), (ip, v("b", 7)), (ip, v("a", 150))];
        assert_eq!(store.add_evidence(&pieces).expect("add"), [true, true, true]);
        let figures = |store: &Store| {
            let mut all: Vec<(String, u64)> =
                store.evidence_of(ip).expect("read").into_iter().map(|e| (e.reporter, e.messages)).collect();
            all.sort();
            all
        };
        assert_eq!(figures(&store), [("a".to_string(), 150), ("b".to_string(), 7)]);
        assert_eq!(store.add_evidence(&[(ip, v("a", 150))]).expect("add"), [false]);
        assert_eq!(store.add_evidence(&[(ip, v("a", 170))]).expect("add"), [true]);
        assert_eq!(figures(&store), [("a".to_string(), 170), ("b".to_string(), 7)]);
    }
}
