//! The `registrations` column family: marketer accounts, their declarations and their history.
//!
//! Keys (all big-endian, so a marketer's declarations are contiguous and in address order):
//! - `0x01 · id` → account (version 1, see [`encode_account`]);
//! - `0x02 · id-len:u8 · id · family · address · prefix-len` → declaration ([`encode_declaration`]);
//! - `0x03 · id-len:u8 · id · at_us:u64 · seq:u16` → an audit record about the marketer.
//!
//! A registry change is one synced batch: the account, its declarations, the audit records (in
//! the marketer's history and, for each event at a prefix, in every registry zone's trail) and
//! the new serial of every registry zone.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use rocksdb::{ReadOptions, WriteBatch};

use super::encoding::{
    self, check_version, decode_dated_reason, decode_entry_key, encode_dated_reason, push_prefix, DecodeError, Reader,
    VALUE_VERSION,
};
use super::{meta_key, next_serial, synced, AuditRecord, Store, StoreError, CF_AUDIT, CF_META, CF_REGISTRATIONS};
use crate::model::Prefix;
use crate::name::DomainName;
use crate::registry::{Account, Declaration, Marketer, MarketerId, Plan, Status};

const ACCOUNT: u8 = 1;
const DECLARATION: u8 = 2;
const HISTORY: u8 = 3;

/// One audit record of a registry change: at a prefix (in every registry zone), or about the
/// marketer only (`None`). Every record also goes to the marketer's own history.
pub type RegistryAudit = (Option<Prefix>, AuditRecord);

impl Store {
    /// Every stored marketer account with its declarations.
    pub fn load_registry(&self) -> Result<Vec<Account>, StoreError> {
        let cf = self.cf(CF_REGISTRATIONS)?;
        let mut accounts = BTreeMap::new();
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek([ACCOUNT]);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.first() != Some(&ACCOUNT) {
                break;
            }
            let account = decode_account(&k[1..], v).map_err(|why| self.corrupt(CF_REGISTRATIONS, k, why))?;
            accounts.insert(account.marketer.id.clone(), account);
            it.next();
        }
        it.seek([DECLARATION]);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.first() != Some(&DECLARATION) {
                break;
            }
            let (id, prefix) = decode_declaration_key(k).map_err(|why| self.corrupt(CF_REGISTRATIONS, k, why))?;
            let declaration = decode_declaration(v).map_err(|why| self.corrupt(CF_REGISTRATIONS, k, why))?;
            let account = accounts
                .get_mut(&id)
                .ok_or_else(|| self.corrupt(CF_REGISTRATIONS, k, DecodeError::Value("declaration without account")))?;
            account.declared.insert(prefix, declaration);
            it.next();
        }
        it.status().map_err(|e| self.err("reading the registry", e))?;
        Ok(accounts.into_values().collect())
    }

    /// Stores a registry plan in one synced batch and advances the serial of every zone in
    /// `zones` (those whose answers registrations change). Returns the new serials.
    pub fn write_registry(
        &self,
        plan: &Plan,
        zones: &[DomainName],
        audit: &[RegistryAudit],
        now: u64,
    ) -> Result<Vec<u32>, StoreError> {
        let cf = self.cf(CF_REGISTRATIONS)?;
        let id = &plan.account.marketer.id;
        let mut batch = WriteBatch::default();
        batch.put_cf(cf, account_key(id), encode_account(&plan.account));
        for (prefix, d) in &plan.added {
            batch.put_cf(cf, declaration_key(id, prefix), encode_declaration(d));
        }
        for prefix in &plan.removed {
            batch.delete_cf(cf, declaration_key(id, prefix));
        }
        for (prefix, record) in audit {
            let seq = self.audit_seq.fetch_add(1, Ordering::Relaxed);
            batch.put_cf(cf, history_key(id, record.at_us, seq), encoding::encode_audit(record));
            if let Some(prefix) = prefix {
                for zone in zones {
                    let seq = self.audit_seq.fetch_add(1, Ordering::Relaxed);
                    let key = encoding::audit_key(zone, prefix, record.at_us, seq);
                    batch.put_cf(self.cf(CF_AUDIT)?, key, encoding::encode_audit(record));
                }
            }
        }
        let mut serials = Vec::with_capacity(zones.len());
        for zone in zones {
            let serial = next_serial(self.serial(zone)?, now);
            batch.put_cf(self.cf(CF_META)?, meta_key("serial/", zone), serial.to_be_bytes());
            serials.push(serial);
        }
        self.writable()?;
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("writing a registry change", e))?;
        Ok(serials)
    }

    /// The audit records about one marketer, oldest first.
    pub fn marketer_history(&self, id: &MarketerId) -> Result<Vec<AuditRecord>, StoreError> {
        let from = history_prefix(id);
        let mut to = from.clone();
        to.push(0xff);
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(to);
        let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_REGISTRATIONS)?, ro);
        it.seek(&from);
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            out.push(encoding::decode_audit(v).map_err(|why| self.corrupt(CF_REGISTRATIONS, k, why))?);
            it.next();
        }
        it.status().map_err(|e| self.err("reading a marketer's history", e))?;
        Ok(out)
    }
}

fn account_key(id: &MarketerId) -> Vec<u8> {
    [&[ACCOUNT][..], id.as_str().as_bytes()].concat()
}

fn with_id(kind: u8, id: &MarketerId) -> Vec<u8> {
    let id = id.as_str().as_bytes();
    // Marketer ids are at most 32 bytes.
    [&[kind, id.len() as u8][..], id].concat()
}

fn declaration_key(id: &MarketerId, prefix: &Prefix) -> Vec<u8> {
    let mut k = with_id(DECLARATION, id);
    push_prefix(&mut k, prefix);
    k
}

fn decode_declaration_key(key: &[u8]) -> Result<(MarketerId, Prefix), DecodeError> {
    let len = usize::from(*key.get(1).ok_or(DecodeError::Key)?);
    let id = key.get(2..2 + len).ok_or(DecodeError::Key)?;
    let id = std::str::from_utf8(id).ok().and_then(|s| MarketerId::parse(s).ok()).ok_or(DecodeError::Key)?;
    Ok((id, decode_entry_key(key, 2 + len)?))
}

fn history_prefix(id: &MarketerId) -> Vec<u8> {
    with_id(HISTORY, id)
}

fn history_key(id: &MarketerId, at_us: u64, seq: u16) -> Vec<u8> {
    let mut k = history_prefix(id);
    k.extend_from_slice(&at_us.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Encodes an account without its declarations (version 1): `1 · created_at:u64 ·
/// token_hash:[u8;32] · status:u8 (0 active, 1 suspended · reason) · legal_name ·
/// registration_number · contact · n:u16 · n × (family · address · prefix-len)`; text as
/// `len:u16 · UTF-8`.
pub fn encode_account(a: &Account) -> Vec<u8> {
    let m = &a.marketer;
    let mut out = Vec::with_capacity(128);
    out.push(VALUE_VERSION);
    out.extend_from_slice(&a.created_at.to_be_bytes());
    out.extend_from_slice(&a.token_hash);
    match &m.status {
        Status::Active => out.push(0),
        Status::Suspended { reason } => {
            out.push(1);
            push_text(&mut out, reason);
        }
    }
    for text in [&m.legal_name, &m.registration_number, &m.contact] {
        push_text(&mut out, text);
    }
    out.extend_from_slice(&(m.networks.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    for n in m.networks.iter().take(usize::from(u16::MAX)) {
        push_prefix(&mut out, n);
    }
    out
}

/// Decodes an account stored under `id` (the key without its kind byte).
pub fn decode_account(id: &[u8], bytes: &[u8]) -> Result<Account, DecodeError> {
    let id = std::str::from_utf8(id).ok().and_then(|s| MarketerId::parse(s).ok()).ok_or(DecodeError::Key)?;
    let mut r = Reader(bytes);
    check_version(r.u8()?)?;
    let created_at = r.u64()?;
    let token_hash: [u8; 32] = r.take(32)?.try_into().map_err(|_| DecodeError::Value("token hash"))?;
    let status = match r.u8()? {
        0 => Status::Active,
        1 => Status::Suspended { reason: read_text(&mut r)? },
        _ => return Err(DecodeError::Value("unknown marketer status")),
    };
    let (legal_name, registration_number, contact) = (read_text(&mut r)?, read_text(&mut r)?, read_text(&mut r)?);
    let n = u16::from_be_bytes([r.u8()?, r.u8()?]);
    let mut networks = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let width = match r.0.first() {
            Some(4) => 6,
            Some(6) => 18,
            _ => return Err(DecodeError::Value("bad network family")),
        };
        networks.push(decode_entry_key(r.take(width)?, 0).map_err(|_| DecodeError::Value("bad network"))?);
    }
    r.end()?;
    let marketer = Marketer { id, legal_name, registration_number, contact, networks, status };
    Ok(Account { marketer, token_hash, created_at, declared: BTreeMap::new() })
}

/// Encodes a declaration (version 1): `1 · added_at:u64 · reason`, the layout of exclusions.
pub fn encode_declaration(d: &Declaration) -> Vec<u8> {
    encode_dated_reason(d.added_at, d.reason.as_deref())
}

pub fn decode_declaration(bytes: &[u8]) -> Result<Declaration, DecodeError> {
    let (added_at, reason) = decode_dated_reason(bytes)?;
    Ok(Declaration { added_at, reason })
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    // Registry texts are validated to at most 200 bytes before they get here.
    let b = &text.as_bytes()[..text.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn read_text(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    let n = u16::from_be_bytes([r.u8()?, r.u8()?]);
    String::from_utf8(r.take(usize::from(n))?.to_vec()).map_err(|_| DecodeError::Value("text is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AuditAction;
    use crate::registry::{Policy, Registry, Request};

    fn account() -> Account {
        Account {
            marketer: Marketer {
                id: MarketerId::parse("acme").expect("id"),
                legal_name: "Acme".into(),
                registration_number: "GB-1".into(),
                contact: "a@b".into(),
                networks: vec!["198.51.100.0/24".parse().expect("prefix")],
                status: Status::Suspended { reason: "x".into() },
            },
            token_hash: [7; 32],
            created_at: 2,
            declared: BTreeMap::new(),
        }
    }

    #[test]
    fn golden_account_and_declaration() {
        let bytes = encode_account(&account());
        let want = [
            &[1u8][..],
            &[0, 0, 0, 0, 0, 0, 0, 2],
            &[7; 32],
            &[1, 0, 1],
            b"x",
            &[0, 4],
            b"Acme",
            &[0, 4],
            b"GB-1",
            &[0, 3],
            b"a@b",
            &[0, 1, 4, 198, 51, 100, 0, 24],
        ]
        .concat();
        assert_eq!(bytes, want);
        assert_eq!(decode_account(b"acme", &bytes), Ok(account()));
        assert_eq!(decode_account(b"acme", &bytes[..bytes.len() - 1]), Err(DecodeError::Value("value ends early")));
        assert_eq!(decode_account(b"Acme!", &bytes), Err(DecodeError::Key));

        let d = Declaration { added_at: 3, reason: Some("pool".into()) };
        let bytes = encode_declaration(&d);
        assert_eq!(bytes, [&[1u8][..], &[0, 0, 0, 0, 0, 0, 0, 3], &[1, 0, 4], b"pool"].concat());
        assert_eq!(decode_declaration(&bytes), Ok(d));
        let id = MarketerId::parse("acme").expect("id");
        let p: Prefix = "198.51.100.7".parse().expect("prefix");
        let key = declaration_key(&id, &p);
        assert_eq!(key, [&[2u8, 4][..], b"acme", &[4, 198, 51, 100, 7, 32]].concat());
        assert_eq!(decode_declaration_key(&key), Ok((id.clone(), p)));
        assert_eq!(history_key(&id, 1, 2), [&[3u8, 4][..], b"acme", &[0, 0, 0, 0, 0, 0, 0, 1, 0, 2]].concat());
    }

    #[test]
    fn registry_round_trips_through_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let zone = DomainName::parse("bl.test").expect("zone");
        let policy = Policy { denied: vec![], ..Policy::default() };
        let mut registry = Registry::default();
        let mut account = account();
        account.marketer.status = Status::Active;
        let add = Request::AddMarketer { marketer: account.marketer.clone(), token_hash: [7; 32] };
        let declare = Request::Declare {
            id: account.marketer.id.clone(),
            prefixes: vec!["198.51.100.7".parse().expect("prefix")],
            reason: Some("pool".into()),
        };
        for request in [add, declare] {
            let plan = registry.plan(request, &policy, 5).expect("plan");
            let record = AuditRecord {
                at_us: 9,
                action: AuditAction::Register,
                actor: "acme".into(),
                source: "api".into(),
                codes: vec![],
                reason: None,
                expires_at: None,
                dataset: crate::name::DatasetName::operator(),
            };
            let audit = vec![(plan.affected.first().copied(), record)];
            let serials =
                store.write_registry(&plan, std::slice::from_ref(&zone), &audit, 1_700_000_000).expect("write");
            assert_eq!(serials.len(), 1);
            registry.apply(&plan);
        }
        let loaded = Registry::from_accounts(store.load_registry().expect("load"));
        assert_eq!(loaded, registry);
        assert_eq!(store.marketer_history(&account.marketer.id).expect("history").len(), 2);
        let p: Prefix = "198.51.100.7".parse().expect("prefix");
        assert_eq!(store.history(&zone, p).expect("zone history").len(), 2, "network and declaration");
    }
}
