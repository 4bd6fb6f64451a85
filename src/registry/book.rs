//! The registry's state: every marketer's account and declarations, and the planning of changes.
//!
//! [`Registry::plan`] checks a [`Request`] against the current state and the [`Policy`] and returns
//! a [`Plan`]: the account after the change, the declarations to add and remove, the audit events
//! and the prefixes whose DNS answers may change. Nothing is changed until the caller has stored
//! the plan and calls [`Registry::apply`]. Pure: no I/O.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use super::{check_network, entries, overlaps, plan_declare, Marketer, MarketerId, Policy, RegistryError, Status};
use crate::model::{AuditAction, Entry, Prefix};

/// SHA-256 of a marketer's API token (the token itself is never stored).
pub type TokenHash = [u8; 32];

/// A marketer and what it has declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub marketer: Marketer,
    pub token_hash: TokenHash,
    /// Unix seconds.
    pub created_at: u64,
    pub declared: BTreeMap<Prefix, Declaration>,
}

/// One declared sending prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// Unix seconds.
    pub added_at: u64,
    /// The marketer's note ("newsletter MTA pool").
    pub reason: Option<String>,
}

/// A change to the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    AddMarketer { marketer: Marketer, token_hash: TokenHash },
    Suspend { id: MarketerId, reason: String },
    Resume { id: MarketerId },
    RotateToken { id: MarketerId, token_hash: TokenHash },
    AddNetwork { id: MarketerId, network: Prefix },
    RemoveNetwork { id: MarketerId, network: Prefix },
    Declare { id: MarketerId, prefixes: Vec<Prefix>, reason: Option<String> },
    Undeclare { id: MarketerId, prefixes: Vec<Prefix> },
}

/// One audit event: at a prefix (recorded in every registry zone), or about the marketer only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub prefix: Option<Prefix>,
    pub kind: AuditAction,
    pub detail: Option<String>,
}

/// A checked change, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The account after the change (its `declared` already updated).
    pub account: Account,
    pub added: Vec<(Prefix, Declaration)>,
    pub removed: Vec<Prefix>,
    pub events: Vec<Event>,
    /// Prefixes whose answers may change.
    pub affected: Vec<Prefix>,
}

/// Every marketer's account. Accounts are shared (`Arc`), so the copy published with each
/// snapshot costs a map of pointers, not every declaration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registry {
    accounts: BTreeMap<MarketerId, Arc<Account>>,
    by_token: HashMap<TokenHash, MarketerId>,
}

/// Longest legal name, registration number and contact accepted.
const MAX_FIELD: usize = 200;

impl Registry {
    /// Builds the registry from stored accounts.
    pub fn from_accounts(accounts: impl IntoIterator<Item = Account>) -> Registry {
        let mut r = Registry::default();
        for a in accounts {
            r.put(a);
        }
        r
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values().map(|a| a.as_ref())
    }

    pub fn get(&self, id: &MarketerId) -> Option<&Account> {
        self.accounts.get(id).map(|a| a.as_ref())
    }

    /// The marketer whose token hashes to `hash`.
    pub fn by_token(&self, hash: &TokenHash) -> Option<&Account> {
        self.by_token.get(hash).and_then(|id| self.get(id))
    }

    /// The account whose verified network contains `ip`, and that network.
    pub fn network_of(&self, ip: IpAddr) -> Option<(&Account, Prefix)> {
        self.accounts().find_map(|a| a.marketer.networks.iter().find(|n| n.contains(ip)).map(|n| (a, *n)))
    }

    /// Declarations covering `ip`, with their marketer, most specific first.
    pub fn declarations_covering(&self, ip: IpAddr) -> Vec<(&Account, Prefix, &Declaration)> {
        let mut out: Vec<_> = self
            .accounts()
            .flat_map(|a| a.declared.iter().filter(|(p, _)| p.contains(ip)).map(move |(p, d)| (a, *p, d)))
            .collect();
        out.sort_by_key(|(_, p, _)| std::cmp::Reverse(p.len()));
        out
    }

    /// Every list entry the registry contributes, sorted by prefix.
    pub fn entries(&self, policy: &Policy) -> Vec<(Prefix, Entry)> {
        let mut out: Vec<(Prefix, Entry)> = self
            .accounts()
            .flat_map(|a| entries(&a.marketer, &a.declared.keys().copied().collect::<Vec<_>>(), policy))
            .collect();
        out.sort_by_key(|(p, _)| *p);
        out
    }

    /// Checks `request`; returns what to store, or why nothing is.
    pub fn plan(&self, request: Request, policy: &Policy, now: u64) -> Result<Plan, RegistryError> {
        match request {
            Request::AddMarketer { marketer, token_hash } => self.plan_add(marketer, token_hash, policy, now),
            Request::Suspend { id, reason } => {
                check_field("reason", &reason, true)?;
                let mut account = self.account(&id)?.clone();
                account.marketer.status = Status::Suspended { reason: reason.clone() };
                Ok(networks_event(account, AuditAction::Suspend, Some(reason)))
            }
            Request::Resume { id } => {
                let mut account = self.account(&id)?.clone();
                if account.marketer.status == Status::Active {
                    return Err(RegistryError::NotSuspended(id));
                }
                account.marketer.status = Status::Active;
                Ok(networks_event(account, AuditAction::Resume, None))
            }
            Request::RotateToken { id, token_hash } => {
                let mut account = self.account(&id)?.clone();
                account.token_hash = token_hash;
                let events = vec![Event { prefix: None, kind: AuditAction::RotateToken, detail: None }];
                Ok(Plan { account, added: vec![], removed: vec![], events, affected: vec![] })
            }
            Request::AddNetwork { id, network } => self.plan_network(id, network, policy, true),
            Request::RemoveNetwork { id, network } => self.plan_network(id, network, policy, false),
            Request::Declare { id, prefixes, reason } => {
                if let Some(r) = &reason {
                    check_field("reason", r, false)?;
                }
                let mut account = self.account(&id)?.clone();
                let declared: Vec<Prefix> = account.declared.keys().copied().collect();
                let new = plan_declare(&account.marketer, &prefixes, &declared, policy)?;
                let added: Vec<(Prefix, Declaration)> =
                    new.iter().map(|p| (*p, Declaration { added_at: now, reason: reason.clone() })).collect();
                account.declared.extend(added.iter().cloned());
                let events = new
                    .iter()
                    .map(|p| Event { prefix: Some(*p), kind: AuditAction::Register, detail: reason.clone() })
                    .collect();
                Ok(Plan { account, added, removed: vec![], events, affected: new })
            }
            Request::Undeclare { id, prefixes } => {
                let mut account = self.account(&id)?.clone();
                if account.marketer.status != Status::Active {
                    return Err(RegistryError::Suspended(id));
                }
                let mut removed = Vec::new();
                for p in prefixes {
                    if account.declared.remove(&p).is_none() {
                        if removed.contains(&p) {
                            continue;
                        }
                        return Err(RegistryError::NotDeclared { prefix: p, marketer: id });
                    }
                    removed.push(p);
                }
                let events = removed
                    .iter()
                    .map(|p| Event { prefix: Some(*p), kind: AuditAction::Unregister, detail: None })
                    .collect();
                Ok(Plan { account, added: vec![], affected: removed.clone(), removed, events })
            }
        }
    }

    /// Makes a stored plan the registry's state.
    pub fn apply(&mut self, plan: &Plan) {
        self.put(plan.account.clone());
    }

    fn put(&mut self, account: Account) {
        if let Some(old) = self.accounts.get(&account.marketer.id) {
            self.by_token.remove(&old.token_hash);
        }
        self.by_token.insert(account.token_hash, account.marketer.id.clone());
        self.accounts.insert(account.marketer.id.clone(), Arc::new(account));
    }

    fn account(&self, id: &MarketerId) -> Result<&Account, RegistryError> {
        self.get(id).ok_or_else(|| RegistryError::UnknownMarketer(id.clone()))
    }

    fn others(&self) -> Vec<Marketer> {
        self.accounts().map(|a| a.marketer.clone()).collect()
    }

    fn plan_add(
        &self,
        marketer: Marketer,
        token_hash: TokenHash,
        policy: &Policy,
        now: u64,
    ) -> Result<Plan, RegistryError> {
        if self.accounts.contains_key(&marketer.id) {
            return Err(RegistryError::Exists(marketer.id));
        }
        check_field("legal name", &marketer.legal_name, true)?;
        check_field("registration number", &marketer.registration_number, true)?;
        check_field("contact", &marketer.contact, true)?;
        let others = self.others();
        for (i, &n) in marketer.networks.iter().enumerate() {
            check_network_policy(n, policy)?;
            check_network(&marketer.id, n, &others)?;
            if let Some(&other) = marketer.networks[..i].iter().find(|o| overlaps(**o, n)) {
                return Err(RegistryError::Overlap { prefix: n, other: marketer.id.clone(), other_network: other });
            }
        }
        let mut events =
            vec![Event { prefix: None, kind: AuditAction::AddMarketer, detail: Some(marketer.legal_name.clone()) }];
        events.extend(marketer.networks.iter().map(|n| Event {
            prefix: Some(*n),
            kind: AuditAction::AddNetwork,
            detail: Some(format!("verified for {} ({})", marketer.id, marketer.legal_name)),
        }));
        let affected = marketer.networks.clone();
        let account = Account { marketer, token_hash, created_at: now, declared: BTreeMap::new() };
        Ok(Plan { account, added: vec![], removed: vec![], events, affected })
    }

    fn plan_network(&self, id: MarketerId, network: Prefix, policy: &Policy, add: bool) -> Result<Plan, RegistryError> {
        let mut account = self.account(&id)?.clone();
        let networks = &mut account.marketer.networks;
        let kind = if add {
            check_network_policy(network, policy)?;
            check_network(&id, network, &self.others())?;
            if networks.contains(&network) {
                return Err(RegistryError::NetworkExists { prefix: network, marketer: id });
            }
            if let Some(&own) = networks.iter().find(|o| overlaps(**o, network)) {
                return Err(RegistryError::Overlap { prefix: network, other: id, other_network: own });
            }
            networks.push(network);
            networks.sort();
            AuditAction::AddNetwork
        } else {
            let before = networks.len();
            networks.retain(|n| *n != network);
            if networks.len() == before {
                return Err(RegistryError::NoSuchNetwork { prefix: network, marketer: id });
            }
            AuditAction::RemoveNetwork
        };
        let detail = Some(format!("{} ({})", account.marketer.id, account.marketer.legal_name));
        let events = vec![Event { prefix: Some(network), kind, detail }];
        Ok(Plan { account, added: vec![], removed: vec![], events, affected: vec![network] })
    }
}

/// A network may not touch a denied range (private, loopback, ...).
fn check_network_policy(network: Prefix, policy: &Policy) -> Result<(), RegistryError> {
    match policy.denied.iter().find(|d| overlaps(**d, network)) {
        Some(&denied) => Err(RegistryError::Denied { prefix: network, denied }),
        None => Ok(()),
    }
}

/// One event at each of the account's networks (suspend, resume): their protection changes.
fn networks_event(account: Account, kind: AuditAction, detail: Option<String>) -> Plan {
    let networks = account.marketer.networks.clone();
    let mut events = vec![Event { prefix: None, kind, detail: detail.clone() }];
    events.extend(networks.iter().map(|n| Event { prefix: Some(*n), kind, detail: detail.clone() }));
    Plan { account, added: vec![], removed: vec![], events, affected: networks }
}

/// Text fields: printable, at most [`MAX_FIELD`] bytes, and present when `required`.
fn check_field(field: &'static str, value: &str, required: bool) -> Result<(), RegistryError> {
    let why = if required && value.trim().is_empty() {
        "must not be empty"
    } else if value.len() > MAX_FIELD {
        "is longer than 200 bytes"
    } else if value.chars().any(char::is_control) {
        "contains control characters"
    } else {
        return Ok(());
    };
    Err(RegistryError::Field { field, why: why.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().expect("prefix")
    }

    fn policy() -> Policy {
        Policy { denied: vec![p("10.0.0.0/8")], ..Policy::default() }
    }

    fn marketer(id: &str, networks: &[&str]) -> Marketer {
        Marketer {
            id: MarketerId::parse(id).expect("id"),
            legal_name: format!("{id} Ltd"),
            registration_number: "GB-1".into(),
            contact: "abuse@example.com".into(),
            networks: networks.iter().map(|n| p(n)).collect(),
            status: Status::Active,
        }
    }

    fn registry() -> Registry {
        let mut r = Registry::default();
        let add = Request::AddMarketer { marketer: marketer("acme", &["198.51.100.0/24"]), token_hash: [1; 32] };
        let plan = r.plan(add, &policy(), 10).expect("add");
        r.apply(&plan);
        r
    }

    fn id(s: &str) -> MarketerId {
        MarketerId::parse(s).expect("id")
    }

    #[test]
    fn adding_marketers_checks_fields_and_overlap() {
        let r = registry();
        assert_eq!(r.by_token(&[1; 32]).map(|a| a.marketer.id.as_str()), Some("acme"));
        assert!(r.by_token(&[2; 32]).is_none());
        let again = Request::AddMarketer { marketer: marketer("acme", &[]), token_hash: [2; 32] };
        assert!(matches!(r.plan(again, &policy(), 1), Err(RegistryError::Exists(_))));
        let overlap =
            Request::AddMarketer { marketer: marketer("globex", &["198.51.100.128/25"]), token_hash: [2; 32] };
        assert!(matches!(r.plan(overlap, &policy(), 1), Err(RegistryError::Overlap { .. })));
        let denied = Request::AddMarketer { marketer: marketer("globex", &["10.1.0.0/16"]), token_hash: [2; 32] };
        assert!(matches!(r.plan(denied, &policy(), 1), Err(RegistryError::Denied { .. })));
        let mut nameless = marketer("globex", &[]);
        nameless.legal_name = " ".into();
        let e = r.plan(Request::AddMarketer { marketer: nameless, token_hash: [2; 32] }, &policy(), 1);
        assert!(matches!(e, Err(RegistryError::Field { field: "legal name", .. })));
    }

    #[test]
    fn declarations_suspension_and_undeclare() {
        let mut r = registry();
        let declare =
            Request::Declare { id: id("acme"), prefixes: vec![p("198.51.100.7"), p("198.51.100.32/29")], reason: None };
        let plan = r.plan(declare, &policy(), 20).expect("declare");
        assert_eq!(plan.affected, vec![p("198.51.100.7"), p("198.51.100.32/29")]);
        r.apply(&plan);
        let ip: IpAddr = "198.51.100.33".parse().expect("ip");
        assert_eq!(r.declarations_covering(ip).len(), 1);
        assert_eq!(r.network_of(ip).map(|(_, n)| n), Some(p("198.51.100.0/24")));

        let suspend = r.plan(Request::Suspend { id: id("acme"), reason: "complaints".into() }, &policy(), 30);
        let plan = suspend.expect("suspend");
        assert_eq!(plan.affected, vec![p("198.51.100.0/24")]);
        r.apply(&plan);
        assert_eq!(r.entries(&policy()).len(), 2, "protection lifted, declarations kept");
        let undeclare = Request::Undeclare { id: id("acme"), prefixes: vec![p("198.51.100.7")] };
        assert!(matches!(r.plan(undeclare.clone(), &policy(), 31), Err(RegistryError::Suspended(_))));
        let plan = r.plan(Request::Resume { id: id("acme") }, &policy(), 32).expect("resume");
        r.apply(&plan);
        assert!(matches!(
            r.plan(Request::Resume { id: id("acme") }, &policy(), 33),
            Err(RegistryError::NotSuspended(_))
        ));
        let plan = r.plan(undeclare.clone(), &policy(), 34).expect("undeclare");
        r.apply(&plan);
        assert!(matches!(r.plan(undeclare, &policy(), 35), Err(RegistryError::NotDeclared { .. })));
    }

    #[test]
    fn networks_are_added_and_removed() {
        let mut r = registry();
        let add = Request::AddNetwork { id: id("acme"), network: p("198.51.101.0/25") };
        let plan = r.plan(add.clone(), &policy(), 1).expect("add network");
        r.apply(&plan);
        assert!(matches!(r.plan(add, &policy(), 1), Err(RegistryError::NetworkExists { .. })));
        let inner = Request::AddNetwork { id: id("acme"), network: p("198.51.101.0/26") };
        assert!(matches!(r.plan(inner, &policy(), 1), Err(RegistryError::Overlap { .. })));
        let remove = Request::RemoveNetwork { id: id("acme"), network: p("198.51.101.0/25") };
        r.apply(&r.plan(remove.clone(), &policy(), 2).expect("remove"));
        assert!(matches!(r.plan(remove, &policy(), 3), Err(RegistryError::NoSuchNetwork { .. })));
        let rotate =
            r.plan(Request::RotateToken { id: id("acme"), token_hash: [9; 32] }, &policy(), 4).expect("rotate");
        r.apply(&rotate);
        assert!(r.by_token(&[1; 32]).is_none(), "the old token stops working");
        assert!(r.by_token(&[9; 32]).is_some());
    }
}
