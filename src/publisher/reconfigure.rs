//! A configuration reload (SIGHUP): zones added, removed or given new settings, client rules,
//! rate limiting and registry rules replaced, the data shared where nothing changed, all in one
//! publish.

use std::sync::Arc;

use super::load::{load_dataset, load_zone};
use super::{ChangeError, Publisher};
use crate::access::ClientRules;
use crate::config::Config;
use crate::name::DatasetName;
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
}

impl Publisher {
    /// Serves `config`'s zones, client rules and registry rules from now on. A zone whose
    /// settings are the same keeps everything; one whose settings changed keeps its tables and
    /// gets a new serial; a new zone is read from the store; a removed one stops being served
    /// (its data stays in the store). Listen addresses, the data directory and the API are the
    /// daemon's, not the publisher's.
    pub fn reconfigure(&mut self, config: &Config, now: u64) -> Result<Reconfigured, ChangeError> {
        let current = self.install_folds(self.shared.load_full());
        let mut report =
            Reconfigured { registry_changed: config.registry != self.registry_config, ..Reconfigured::default() };
        if report.registry_changed {
            self.registry_config = config.registry.clone();
            self.registry_entries = self.registry.entries(&config.registry.policy);
        }
        let mut zones = Vec::with_capacity(config.zones.len());
        for settings in &config.zones {
            let origin = &settings.origin;
            let Some(old) = current.zones.iter().find(|z| &z.config.origin == origin) else {
                let extra = self.registry_config.entries_for(&self.registry_entries, origin);
                let serial = self.store.ensure_serial(origin, now)?;
                let loaded = load_zone(&self.store, Arc::new(settings.clone()), serial, now, extra)?;
                for (dataset, index) in loaded.indexes {
                    self.interned.insert((origin.clone(), dataset), index);
                }
                self.expiries.extend(loaded.expiries);
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
                let extra = self.registry_config.entries_for(&self.registry_entries, origin);
                let operator = DatasetName::operator();
                let loaded = load_dataset(&self.store, &next.config, serial, now, &operator, extra)?;
                self.interned.insert((origin.clone(), operator.clone()), loaded.index);
                self.expiries.retain(|(_, z, d, _)| !(z == origin && d == &operator));
                self.expiries.extend(loaded.expiries);
                next = next.with_dataset(loaded.dataset);
                self.folds.remove(origin);
            }
            if settings_changed {
                report.zones_changed.push(origin.to_string());
            }
            zones.push(Arc::new(next));
        }
        for gone in current.zones.iter().filter(|z| !config.zones.iter().any(|c| c.origin == z.config.origin)) {
            let origin = &gone.config.origin;
            self.interned.retain(|(z, _), _| z != origin);
            self.expiries.retain(|(_, z, _, _)| z != origin);
            self.folds.remove(origin);
            report.zones_removed.push(origin.to_string());
        }
        let clients = ClientRules::new(&config.server.refuse_clients, &config.server.ignore_clients);
        report.clients_changed =
            self.client_lists != (config.server.refuse_clients.clone(), config.server.ignore_clients.clone());
        self.client_lists = (config.server.refuse_clients.clone(), config.server.ignore_clients.clone());
        let mut next = Snapshot::clone(&current);
        next.zones = zones;
        next.clients = Arc::new(clients);
        next.registry_config = Some(Arc::new(self.registry_config.clone()));
        // A limiter with the same settings keeps its table (sources being limited stay limited).
        next.rrl = match (&current.rrl, &config.server.rrl) {
            (Some(running), Some(wanted)) if running.settings() == wanted => Some(running.clone()),
            (_, wanted) => wanted.clone().map(|w| Arc::new(RateLimiter::new(w))),
        };
        report.rrl_changed = current.rrl.as_ref().map(|r| r.settings()) != config.server.rrl.as_ref();
        self.shared.publish(next);
        Ok(report)
    }
}
