//! Registry changes on the single writer: plan (pure), store in one synced batch, then recompute
//! the affected ranges of every registry zone and publish them with the new registry at once.

use std::sync::Arc;

use super::{zone_index, ChangeError, Origin, Publisher};
use crate::clock::unix_now_us;
use crate::model::AuditAction;
use crate::model::{ListingCode, Prefix};
use crate::name::{DatasetName, DomainName};
use crate::registry::{Event, Plan, Policy, Registry, Request};
use crate::snapshot::Snapshot;
use crate::store::{AuditRecord, RegistryAudit};

/// What a stored registry change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryOutcome {
    pub plan: Plan,
    /// The new serial of each zone whose answers registrations change.
    pub serials: Vec<(DomainName, u32)>,
}

impl Publisher {
    /// The marketer registry as it is now.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registration rules in force.
    pub fn policy(&self) -> &Policy {
        &self.registry_config.policy
    }

    /// Checks, stores and publishes one registry change. When it returns `Ok`, DNS answers follow it.
    pub fn change_registry(
        &mut self,
        request: Request,
        origin: Origin<'_>,
        now: u64,
    ) -> Result<RegistryOutcome, ChangeError> {
        let plan = self.registry.plan(request, &self.registry_config.policy, now)?;
        let current = self.install_folds(self.shared.load_full());
        // Zones whose answers may change: their serials advance and they get the audit records.
        let zones: Vec<DomainName> = current
            .zones
            .iter()
            .map(|z| z.config.origin.clone())
            .filter(|z| !plan.affected.is_empty() && self.registry_config.applies_to(z))
            .collect();
        let audit = audit_records(&plan, origin);
        let serials = self.store.write_registry(&plan, &zones, &audit, now)?;
        self.registry.apply(&plan);
        self.registry_entries = self.registry.entries(&self.registry_config.policy);

        let mut next = Snapshot::clone(&current);
        next.registry = Arc::new(self.registry.clone());
        let ranges = patch_ranges(&plan.affected);
        for (zone, &serial) in zones.iter().zip(&serials) {
            let at = zone_index(&current, zone)?;
            let mut z = current.zones[at].as_ref().clone();
            z.serial = serial;
            for &range in &ranges {
                z = self.patched(&z, &DatasetName::operator(), serial, range, now)?;
            }
            next.zones[at] = Arc::new(self.fold_if_due(z));
        }
        self.shared.publish(next);
        Ok(RegistryOutcome { plan, serials: zones.into_iter().zip(serials).collect() })
    }
}

/// The ranges to recompute for a change at `affected`: declarations grouped by /24 (IPv4) or
/// /48 (IPv6), so that thousands of declared addresses cost a few patches, not thousands.
fn patch_ranges(affected: &[Prefix]) -> Vec<Prefix> {
    let mut ranges: Vec<Prefix> = affected
        .iter()
        .map(|p| match p {
            Prefix::V4 { len, .. } => p.truncated((*len).min(24)),
            Prefix::V6 { len, .. } => p.truncated((*len).min(48)),
        })
        .collect();
    ranges.sort_by_key(|p| (p.len(), *p));
    let mut out: Vec<Prefix> = Vec::with_capacity(ranges.len());
    for r in ranges {
        if !out.iter().any(|o| crate::registry::covers(*o, r)) {
            out.push(r);
        }
    }
    out
}

/// The audit records of a plan: one per event, by `origin`.
fn audit_records(plan: &Plan, origin: Origin<'_>) -> Vec<RegistryAudit> {
    let at_us = unix_now_us();
    plan.events
        .iter()
        .map(|Event { prefix, kind, detail }| {
            let codes = if *kind == AuditAction::Register { vec![ListingCode::REGISTERED] } else { Vec::new() };
            let reason = match (kind, detail) {
                (AuditAction::Register | AuditAction::Unregister, d) => {
                    let who = format!("{} ({})", plan.account.marketer.id, plan.account.marketer.legal_name);
                    Some(d.as_ref().map_or(who.clone(), |d| format!("{who}: {d}")))
                }
                (_, d) => d.clone(),
            };
            let record = AuditRecord {
                at_us,
                action: *kind,
                actor: origin.actor.to_string(),
                source: origin.source.to_string(),
                codes,
                reason,
                expires_at: None,
                dataset: DatasetName::operator(),
            };
            (*prefix, record)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_patched_in_groups() {
        let p = |s: &str| s.parse::<Prefix>().expect("prefix");
        let affected =
            [p("198.51.100.7"), p("198.51.100.8"), p("198.51.101.0/25"), p("198.51.0.0/16"), p("2001:db8::1")];
        assert_eq!(patch_ranges(&affected), vec![p("198.51.0.0/16"), p("2001:db8::/48")]);
        assert_eq!(patch_ranges(&[p("203.0.113.9")]), vec![p("203.0.113.0/24")]);
    }
}
