//! A configuration reload (SIGHUP): zones added, removed or given new settings, client rules,
//! rate limiting, DNS cookie secrets and registry rules replaced, the data shared where nothing changed, all in one
//! publish.

use std::sync::Arc;

use super::load::{load_dataset, load_zone, Expiry};
use super::{ChangeError, Publisher};
use crate::access::ClientRules;
use crate::config::{Config, ZoneConfig};
use crate::cookie::Secrets;
use crate::name::{DatasetName, DomainName};
use crate::rrl::RateLimiter;
use crate::snapshot::Snapshot;

/// What a reload changed, for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconfigured {
    pub zones_added: Vec<String>,
    pub zones_removed: Vec<String>,
    /// Zones whose settings (TTL, SOA, NS, TXT template, codes) changed: they get a new serial.
    pub zones_changed: Vec<String>,
    pub clients_changed: bool,
    pub registry_changed: bool,
    pub rrl_changed: bool,
    pub cookies_changed: bool,
}

impl Publisher {
    /// Serves `config`'s zones, client rules and registry rules from now on. A zone whose
    /// settings are the same keeps everything; one whose settings changed keeps its tables and
    /// gets a new serial; a new zone is read from the store; a removed one stops being served
    /// (its data stays in the store). Listen addresses, the data directory and the API are the
    /// daemon's, not the publisher's.
    /// `cookies` are the DNS cookie secrets read again (`None`: cookies are not answered).
    pub fn reconfigure(
        &mut self,
        config: &Config,
        cookies: Option<Secrets>,
        now: u64,
    ) -> Result<Reconfigured, ChangeError> {
        let current = self.install_folds(self.shared.load_full());
        let mut report =
            Reconfigured { registry_changed: config.registry != self.registry_config, ..Reconfigured::default() };
        let registry_entries = match report.registry_changed {
            true => self.registry.entries(&config.registry.policy),
            false => self.registry_entries.clone(),
        };
        // Everything that can fail happens first; the writer's own state changes only after.
        let mut indexes = Vec::new();
        let mut expiries: Vec<(DomainName, Option<DatasetName>, Vec<Expiry>)> = Vec::new();
        let mut zones = Vec::with_capacity(config.zones.len());
        for settings in &config.zones {
            let origin = &settings.origin;
            let running = current.zones.iter().find(|z| &z.config.origin == origin);
            // Whether a zone is a secondary, and of which primary, changes at a restart (its
            // transfer task starts with the server); a new secondary zone waits for it too.
            let kept;
            let settings = match running {
                Some(old) if old.config.primary != settings.primary => {
                    kept = ZoneConfig { primary: old.config.primary, ..settings.clone() };
                    &kept
                }
                None if settings.primary.is_some() => continue,
                _ => settings,
            };
            if settings.primary.is_some() {
                // A secondary's data is its primary's: new settings keep the copy and its serial.
                let old = current.zones.iter().find(|z| &z.config.origin == origin);
                match old {
                    Some(old) => {
                        if *old.config != *settings {
                            report.zones_changed.push(origin.to_string());
                        }
                        zones.push(Arc::new(old.with_config(Arc::new(settings.clone()), old.serial)));
                    }
                    None => {
                        let (zone, loaded) =
                            super::replica::load_replica(&self.store, Arc::new(settings.clone()), now)?;
                        indexes.extend(loaded.into_iter().map(|(d, index)| ((origin.clone(), d), index)));
                        zones.push(Arc::new(zone));
                        report.zones_added.push(origin.to_string());
                    }
                }
                continue;
            }
            let extra = config.registry.entries_for(&registry_entries, origin);
            let Some(old) = current.zones.iter().find(|z| &z.config.origin == origin) else {
                let serial = self.store.ensure_serial(origin, now)?;
                let loaded = load_zone(&self.store, Arc::new(settings.clone()), serial, now, extra)?;
                indexes.extend(loaded.indexes.into_iter().map(|(d, index)| ((origin.clone(), d), index)));
                expiries.push((origin.clone(), None, loaded.expiries));
                zones.push(Arc::new(loaded.zone));
                report.zones_added.push(origin.to_string());
                continue;
            };
            let settings_changed = *old.config != *settings;
            if !settings_changed && !report.registry_changed {
                zones.push(old.clone());
                continue;
            }
            let serial = if settings_changed { self.store.advance_serial(origin, now)? } else { old.serial };
            let mut next = old.with_config(Arc::new(settings.clone()), serial);
            if report.registry_changed {
                // Registry entries are merged into the operator's dataset: read it again.
                let operator = DatasetName::operator();
                let loaded = load_dataset(&self.store, &next.config, serial, now, &operator, extra)?;
                indexes.push(((origin.clone(), operator.clone()), loaded.index));
                expiries.push((origin.clone(), Some(operator), loaded.expiries));
                next = next.with_dataset(loaded.dataset);
            }
            if settings_changed {
                report.zones_changed.push(origin.to_string());
            }
            zones.push(Arc::new(next));
        }
        if report.registry_changed {
            self.registry_config = config.registry.clone();
            self.registry_entries = registry_entries;
        }
        for gone in current.zones.iter().filter(|z| !config.zones.iter().any(|c| c.origin == z.config.origin)) {
            let origin = &gone.config.origin;
            self.interned.retain(|(z, _), _| z != origin);
            self.expiries.retain(|(_, z, _, _)| z != origin);
            self.folds.remove(origin);
            report.zones_removed.push(origin.to_string());
        }
        for ((zone, dataset), index) in indexes {
            // A fold of tables read again no longer applies.
            self.folds.remove(&zone);
            self.interned.insert((zone, dataset), index);
        }
        for (zone, dataset, due) in expiries {
            self.expiries.retain(|(_, z, d, _)| !(z == &zone && dataset.as_ref().is_none_or(|only| d == only)));
            self.expiries.extend(due);
        }
        let lists = (config.server.refuse_clients.clone(), config.server.ignore_clients.clone());
        report.clients_changed = self.client_lists != lists;
        self.client_lists = lists;
        let mut next = Snapshot::clone(&current);
        next.zones = zones;
        next.clients = Arc::new(ClientRules::new(&config.server.refuse_clients, &config.server.ignore_clients));
        next.registry_config = Some(Arc::new(self.registry_config.clone()));
        // A limiter with the same settings keeps its table (sources being limited stay limited).
        next.rrl = match (&current.rrl, &config.server.rrl) {
            (Some(running), Some(wanted)) if running.settings() == wanted => Some(running.clone()),
            (_, wanted) => wanted.clone().map(|w| Arc::new(RateLimiter::new(w))),
        };
        report.rrl_changed = current.rrl.as_ref().map(|r| r.settings()) != config.server.rrl.as_ref();
        report.cookies_changed = current.cookies.as_deref() != cookies.as_ref();
        next.cookies = cookies.map(Arc::new);
        if current.access.resolvers_only != config.server.registered_resolvers_only {
            next.access = Arc::new(self.access_table(config.server.registered_resolvers_only, &current.access));
        }
        self.evidence_config = config.evidence.clone();
        self.shared.publish(next);
        Ok(report)
    }
}
