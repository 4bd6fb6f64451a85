//! Evidence in, listings out: what a reporter sent is checked (no test points, no denied
//! ranges, complaints only, volume figures for past days), stored (a report already counted
//! counts once), and every address with new evidence is held to each zone's policies; one that
//! trips a policy is listed with 127.0.0.4 in that zone's evidence dataset, until the policy's
//! end (the expiry timer removes it then), audited with actor `policy NAME`. A later qualifying
//! report moves the end.

use std::net::IpAddr;
use std::sync::Arc;

use super::{Change, ChangeError, Origin, Publisher};
use crate::evidence::{day_of, policy, Evidence, EvidenceKind, Reporter, Reporters, Submission, MAX_DAILY_MESSAGES};
use crate::model::{Listing, ListingCode, Prefix};
use crate::query::is_test_point;
use crate::snapshot::Snapshot;
use crate::store::StoredEntry;

/// How the reason of every policy listing begins: this, the policy's name and a colon.
pub const POLICY_REASON: &str = "Listed automatically by policy ";

/// The policy a listing's reason names, when a policy made the listing.
pub fn policy_named_in(reason: &str) -> Option<&str> {
    reason.strip_prefix(POLICY_REASON)?.split_once(':').map(|(name, _)| name)
}

/// What an ingest did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Reports stored as evidence, and reports already counted before.
    pub accepted: usize,
    pub duplicates: usize,
    /// Reports refused: their position in the request and why.
    pub refused: Vec<(usize, String)>,
    /// Addresses a policy lists now.
    pub listed: Vec<PolicyListing>,
}

/// An address a policy lists in a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyListing {
    pub ip: IpAddr,
    pub zone: String,
    pub policy: &'static str,
    /// What counted, in words.
    pub summary: String,
    /// When the listing ends by itself, Unix seconds.
    pub until: u64,
}

impl Publisher {
    /// How many listings of `ip` in `zone`'s evidence dataset ended by themselves within the
    /// retention (from the audit trail).
    fn ended_policy_listings(&self, zone: &crate::name::DomainName, ip: IpAddr, now: u64) -> Result<u32, ChangeError> {
        let since_us = now.saturating_sub(u64::from(self.evidence_config.retention_days) * 86_400) * 1_000_000;
        let history = self.store.history(zone, Prefix::host(ip))?;
        let ended = history.iter().filter(|(_, r)| {
            r.action == crate::model::AuditAction::Expired
                && r.dataset == self.evidence_config.dataset
                && r.at_us >= since_us
        });
        Ok(ended.count() as u32)
    }

    /// Drops the evidence older than the retention; returns how many pieces went.
    pub fn expire_evidence(&mut self, now: u64) -> Result<usize, ChangeError> {
        let retention = u64::from(self.evidence_config.retention_days) * 86_400;
        Ok(self.store.drop_evidence_before(now.saturating_sub(retention))?)
    }

    /// Adds a reporter (`Some`) or removes one (`None` for `reporter`); the evidence it sent stays.
    pub fn change_reporter(&mut self, name: &str, reporter: Option<Reporter>) -> Result<(), ChangeError> {
        let current = self.shared.load_full();
        let known = current.reporters.get(name).is_some();
        match (&reporter, known) {
            (Some(_), true) => return Err(ChangeError::ReporterExists(name.to_string())),
            (None, false) => return Err(ChangeError::NoReporter(name.to_string())),
            _ => {}
        }
        self.store.write_reporter(name, reporter.as_ref())?;
        let mut all: Vec<Reporter> = current.reporters.iter().filter(|r| r.name != name).cloned().collect();
        all.extend(reporter);
        let mut next = Snapshot::clone(&current);
        next.reporters = Arc::new(Reporters::new(all));
        self.shared.publish(next);
        Ok(())
    }

    /// Records the reports `reporter` sent (each with its position) and lists what the policies
    /// say to list.
    pub fn ingest_evidence(
        &mut self,
        reporter: &str,
        reports: Vec<(usize, Submission)>,
        now: u64,
    ) -> Result<Ingested, ChangeError> {
        if self.shared.load().reporters.get(reporter).is_none() {
            return Err(ChangeError::NoReporter(reporter.to_string()));
        }
        let mut out = Ingested::default();
        let mut pieces = Vec::new();
        for (at, submitted) in reports {
            let source = submitted.source_ip();
            let ip = crate::model::unmapped(source);
            let host = Prefix::host(ip);
            if is_test_point(host) {
                out.refused.push((at, format!("{ip} is an RFC 5782 test point")));
                continue;
            }
            if let Some(denied) = self.registry_config.policy.denied.iter().find(|d| d.contains(ip)) {
                out.refused.push((at, format!("{ip} is in the denied range {denied}")));
                continue;
            }
            let (kind, about, id, when, messages) = match submitted {
                Submission::Report(r) if !r.is_complaint() => {
                    out.refused
                        .push((at, format!("a {} report is not a complaint; nothing recorded", r.feedback_type)));
                    continue;
                }
                Submission::Report(r) => (EvidenceKind::Complaint, r.mailing.to_string(), r.report_id, r.arrival, 0),
                Submission::Trap(t) => (EvidenceKind::Trap, t.recipient, t.message_id, t.at, 0),
                Submission::Volume(v) if v.day > now => {
                    out.refused.push((at, format!("volume for {}, a day that has not begun", day_of(v.day))));
                    continue;
                }
                Submission::Volume(v) if v.messages > MAX_DAILY_MESSAGES => {
                    out.refused.push((at, format!("{} messages in a day from one address", v.messages)));
                    continue;
                }
                Submission::Volume(v) => (EvidenceKind::Volume, day_of(v.day), None, Some(v.day), v.messages),
            };
            // Evidence dated in the future (a wrong clock) counts as received now.
            let when = when.filter(|&a| a <= now).unwrap_or(now);
            let retention = u64::from(self.evidence_config.retention_days) * 86_400;
            if when + retention < now {
                out.refused.push((
                    at,
                    format!(
                        "dated {}, older than the evidence retention ({} days); nothing recorded",
                        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(when)),
                        self.evidence_config.retention_days
                    ),
                ));
                continue;
            }
            let evidence = Evidence { at: when, reporter: reporter.to_string(), kind, about, report_id: id, messages };
            pieces.push((ip, evidence));
        }
        let fresh = self.store.add_evidence(&pieces)?;
        let mut touched: Vec<IpAddr> = Vec::new();
        for ((ip, _), new) in pieces.iter().zip(&fresh) {
            if *new {
                out.accepted += 1;
                if !touched.contains(ip) {
                    touched.push(*ip);
                }
            } else {
                out.duplicates += 1;
            }
        }
        let zones: Vec<_> =
            self.shared.load().zones.iter().map(|z| (z.config.origin.clone(), z.config.evidence)).collect();
        for ip in touched {
            let evidence = self.store.evidence_of(ip)?;
            for (zone, policies) in &zones {
                if let Some(listed) = self.list_by_policy(zone, policies, ip, &evidence, now)? {
                    out.listed.push(listed);
                }
            }
        }
        Ok(out)
    }

    /// Holds `ip`'s evidence to `zone`'s policies and lists it there when one trips.
    fn list_by_policy(
        &mut self,
        zone: &crate::name::DomainName,
        policies: &crate::config::Policies,
        ip: IpAddr,
        evidence: &[Evidence],
        now: u64,
    ) -> Result<Option<PolicyListing>, ChangeError> {
        let Some(mut listed) = policy::decide(evidence, now, policies) else { return Ok(None) };
        // A repeat offender stays listed longer: count the policy listings of this address that
        // ended within the retention.
        let repeats = self.ended_policy_listings(zone, ip, now)?;
        let days = policy::escalated(listed.days, repeats, self.evidence_config.longest_listing_days);
        listed.until = listed.last + u64::from(days) * 86_400;
        if listed.until <= now {
            return Ok(None);
        }
        // An operator exclusion in the evidence dataset (a shared forwarder) covers the address:
        // the policy does not list it.
        let dataset = self.evidence_config.dataset.clone();
        let covering = self.store.covering(zone, &dataset, Prefix::host(ip))?;
        if covering.iter().any(|(_, e)| matches!(e, StoredEntry::Exclusion(_))) {
            return Ok(None);
        }
        let ends =
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(listed.until));
        let reason = format!(
            "{POLICY_REASON}{}: {}; ends by itself {} unless new evidence; {}",
            listed.policy,
            listed.summary(),
            ends,
            self.registry_config.policy.lookup_url
        );
        let reason: String = reason.chars().take(200).collect();
        let listing = Listing::new(vec![ListingCode::EVIDENCE], Some(reason))
            .map_err(|e| ChangeError::Evidence(e.to_string()))?;
        let actor = format!("policy {}", listed.policy);
        let change = Change::AddListing { prefix: Prefix::host(ip), listing, expires_at: Some(listed.until) };
        self.apply(zone, &dataset, change, Origin { actor: &actor, source: "evidence" }, now)?;
        Ok(Some(PolicyListing {
            ip,
            zone: zone.to_string(),
            policy: listed.policy,
            summary: listed.summary(),
            until: listed.until,
        }))
    }
}
