//! Access changes: access keys added, disabled, enabled or removed, resolvers registered or
//! removed. Each is one synced write with its audit record, then a snapshot with the rebuilt
//! [`AccessTable`] (the other keys' and resolvers' counters carry on).

use std::sync::Arc;

use super::{ChangeError, Origin, Publisher};
use crate::access::{AccessKey, AccessTable, KeyName, KeySecret, RegisteredResolver};
use crate::clock::unix_now_us;
use crate::model::Prefix;
use crate::snapshot::Snapshot;
use crate::store::{AccessRecord, AccessWrite};

/// One change of who may query.
#[derive(Clone, Debug)]
pub enum AccessChange {
    AddKey { name: KeyName, secret: KeySecret, note: Option<String> },
    SetKeyEnabled { name: KeyName, enabled: bool },
    RemoveKey { name: KeyName },
    AddResolver { prefix: Prefix, name: String },
    RemoveResolver { prefix: Prefix },
}

/// The access keys and registered resolvers the writer keeps (sorted: keys by name, resolvers
/// by prefix), as stored.
#[derive(Clone, Debug, Default)]
pub struct AccessData {
    pub keys: Vec<AccessKey>,
    pub resolvers: Vec<RegisteredResolver>,
}

impl Publisher {
    /// Applies one access change: stored with its audit record, then served.
    pub fn change_access(&mut self, change: AccessChange, origin: Origin<'_>, now: u64) -> Result<(), ChangeError> {
        let mut data = self.access.clone();
        let record = |action: &str, subject: String, detail: Option<String>| AccessRecord {
            at_us: unix_now_us(),
            actor: origin.actor.to_string(),
            source: origin.source.to_string(),
            action: action.to_string(),
            subject,
            detail,
        };
        let key_at = |data: &AccessData, name: &KeyName| data.keys.iter().position(|k| &k.name == name);
        match change {
            AccessChange::AddKey { name, secret, note } => {
                if key_at(&data, &name).is_some() {
                    return Err(ChangeError::AccessKeyExists(name.to_string()));
                }
                if data.keys.iter().any(|k| k.secret == secret) {
                    return Err(ChangeError::AccessKeyInUse);
                }
                let key = AccessKey { name: name.clone(), secret, enabled: true, created: now, note: note.clone() };
                self.store.write_access(AccessWrite::PutKey(&key), &record("add-key", name.to_string(), note))?;
                let at = data.keys.partition_point(|k| k.name < name);
                data.keys.insert(at, key);
            }
            AccessChange::SetKeyEnabled { name, enabled } => {
                let at = key_at(&data, &name).ok_or_else(|| ChangeError::NoAccessKey(name.to_string()))?;
                data.keys[at].enabled = enabled;
                let action = if enabled { "enable-key" } else { "disable-key" };
                self.store
                    .write_access(AccessWrite::PutKey(&data.keys[at]), &record(action, name.to_string(), None))?;
            }
            AccessChange::RemoveKey { name } => {
                let at = key_at(&data, &name).ok_or_else(|| ChangeError::NoAccessKey(name.to_string()))?;
                self.store
                    .write_access(AccessWrite::DeleteKey(&name), &record("remove-key", name.to_string(), None))?;
                data.keys.remove(at);
            }
            AccessChange::AddResolver { prefix, name } => {
                if data.resolvers.iter().any(|r| r.prefix == prefix) {
                    return Err(ChangeError::ResolverExists(prefix));
                }
                let resolver = RegisteredResolver { prefix, name: name.clone(), created: now };
                let rec = record("add-resolver", prefix.to_string(), Some(name));
                self.store.write_access(AccessWrite::PutResolver(&resolver), &rec)?;
                let at = data.resolvers.partition_point(|r| r.prefix < prefix);
                data.resolvers.insert(at, resolver);
            }
            AccessChange::RemoveResolver { prefix } => {
                let at =
                    data.resolvers.iter().position(|r| r.prefix == prefix).ok_or(ChangeError::NoResolver(prefix))?;
                let rec = record("remove-resolver", prefix.to_string(), Some(data.resolvers[at].name.clone()));
                self.store.write_access(AccessWrite::DeleteResolver(&prefix), &rec)?;
                data.resolvers.remove(at);
            }
        }
        self.access = data;
        let current = self.shared.load_full();
        let mut next = Snapshot::clone(&current);
        next.access = Arc::new(self.access_table(current.access.resolvers_only, &current.access));
        self.shared.publish(next);
        Ok(())
    }

    /// The access table of the writer's keys and resolvers.
    pub(super) fn access_table(&self, resolvers_only: bool, previous: &AccessTable) -> AccessTable {
        AccessTable::new(&self.access.keys, &self.access.resolvers, resolvers_only, previous)
    }
}
