//! Removal requests through the single writer: filing one (only for what an operator listing
//! covers or lists inside it; one open request per address range), the confirmation mail's
//! outcome, confirmation (with the auto-approval rule), and the operator's decision. Approving
//! writes exclusions in the operator's dataset of every zone with an operator listing of it:
//! the prefix itself under a wider listing, and every listing inside it; reason "removal request
//! ID", audited like any change; every step is also an event of the request.

use super::{Change, ChangeError, Origin, Publisher};
use crate::delisting::{self, Event, Mail, NewRequest, RemovalRequest, State, AUTO_APPROVAL, CONFIRM_WITHIN};
use crate::model::Prefix;
use crate::name::{DatasetName, DomainName};

/// The operator's decision on a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Exclude the request's prefix, or this one instead.
    Approve {
        prefix: Option<Prefix>,
    },
    Reject {
        reason: String,
    },
}

const DAY: u64 = 86_400;

/// The operator listings in one zone a removal of `prefix` ends: the most specific listing
/// covering it (unless an exclusion more specific than that already keeps it out) and every
/// listing inside it.
#[derive(Debug, Default)]
struct Listed {
    covering: Option<Prefix>,
    inside: Vec<Prefix>,
}

impl Publisher {
    fn operator_listings(&self, zone: &DomainName, prefix: Prefix) -> Result<Listed, ChangeError> {
        let operator = DatasetName::operator();
        let mut out = Listed::default();
        // One scan: the entries inside the prefix (itself included), then the wider ones
        // covering it, least specific first and at one prefix the listing before the exclusion,
        // so the last covering entry is the one that decides.
        let mut decided: Option<(Prefix, bool)> = None;
        let mut inside = Vec::new();
        self.store.for_each_affecting(zone, &operator, prefix, |p, head| {
            match p.len() < prefix.len() {
                true => decided = Some((p, head.is_some())),
                false => inside.push((p, head.is_some())),
            }
            Ok(())
        })?;
        out.covering = decided.filter(|(_, listing)| *listing).map(|(p, _)| p);
        // A listing at a prefix that also has an exclusion is not listed.
        for &(p, listing) in &inside {
            if listing && !inside.iter().any(|&(q, l)| q == p && !l) {
                out.inside.push(p);
            }
        }
        if out.inside.contains(&prefix) {
            out.covering = None;
        }
        Ok(out)
    }

    /// Per zone, the operator listings a removal of `prefix` ends (zones with none left out).
    fn listed_by_operator(&self, prefix: Prefix) -> Result<Vec<(DomainName, Listed)>, ChangeError> {
        // Secondary zones follow their primaries (the request is decided there).
        let zones: Vec<DomainName> = self
            .shared
            .load()
            .zones
            .iter()
            .filter(|z| z.config.primary.is_none())
            .map(|z| z.config.origin.clone())
            .collect();
        let mut out = Vec::new();
        for zone in zones {
            let listed = self.operator_listings(&zone, prefix)?;
            if listed.covering.is_some() || !listed.inside.is_empty() {
                out.push((zone, listed));
            }
        }
        Ok(out)
    }

    /// Files a checked request (its confirmation key's hash given); refused when no operator
    /// listing covers the prefix or lies inside it, or when an open request covers it or lies
    /// inside it (an unconfirmed one older than [`CONFIRM_WITHIN`] is closed instead).
    pub fn file_removal(
        &mut self,
        new: NewRequest,
        key_hash: [u8; 32],
        now: u64,
    ) -> Result<RemovalRequest, ChangeError> {
        if self.listed_by_operator(new.prefix)?.is_empty() {
            return Err(ChangeError::NothingToRemove(format!(
                "no operator listing covers {}: there is nothing to request (evidence listings end by themselves; a declared address ends when its marketer withdraws it)",
                new.prefix
            )));
        }
        for id in self.store.open_requests_overlapping(new.prefix)? {
            let mut open = self.open_request(id)?;
            if open.state == State::Unconfirmed && open.created + CONFIRM_WITHIN <= now {
                let reason = "not confirmed within 48 hours".to_string();
                open.events.push(Event { at: now, what: format!("closed: {reason}") });
                open.state = State::Rejected { reason, by: "expiry".into() };
                self.store.write_request(&open)?;
                continue;
            }
            return Err(ChangeError::RequestOpen(id));
        }
        let request = RemovalRequest {
            id: self.store.last_request_id()? + 1,
            prefix: new.prefix,
            contact: new.contact,
            text: new.text,
            key_hash,
            created: now,
            state: State::Unconfirmed,
            mail: Mail::NotYet,
            events: vec![Event { at: now, what: "filed".into() }],
        };
        self.store.write_request(&request)?;
        Ok(request)
    }

    fn open_request(&self, id: u64) -> Result<RemovalRequest, ChangeError> {
        self.store.request(id)?.ok_or(ChangeError::NoRequest(id))
    }

    /// Records whether the confirmation mail went out.
    pub fn note_mail(&mut self, id: u64, sent: Result<(), String>, now: u64) -> Result<RemovalRequest, ChangeError> {
        let mut r = self.open_request(id)?;
        let (mail, what) = match sent {
            Ok(()) => (Mail::Sent, "confirmation mail sent".to_string()),
            Err(why) => (Mail::Failed { why: why.clone() }, format!("confirmation mail not sent: {why}")),
        };
        r.mail = mail;
        r.events.push(Event { at: now, what });
        self.store.write_request(&r)?;
        Ok(r)
    }

    /// The contact followed the link (the caller checked the key): confirmed, and approved
    /// there and then when the auto-approval rule allows (`per_network` per /24 or /48 and 30
    /// days). A request past unconfirmed stays as it is.
    pub fn confirm_removal(&mut self, id: u64, per_network: u32, now: u64) -> Result<RemovalRequest, ChangeError> {
        let mut r = self.open_request(id)?;
        if r.state != State::Unconfirmed {
            return Ok(r);
        }
        if r.created + CONFIRM_WITHIN <= now {
            // Closed already by a newer request, or about to be: the link came too late.
            return Ok(r);
        }
        r.state = State::Confirmed;
        r.events.push(Event { at: now, what: "confirmed by its contact".into() });
        self.store.write_request(&r)?;
        // Every zone's listing must be a wider network (not a listing of the address alone).
        let zones = self.listed_by_operator(r.prefix)?;
        let narrowest = match zones.iter().all(|(_, l)| l.inside.is_empty()) {
            true => zones.iter().filter_map(|(_, l)| l.covering).max_by_key(|p| p.len()),
            false => Some(r.prefix),
        };
        // Auto-approvals happen at confirmation, within CONFIRM_WITHIN of filing: the requests
        // approved so in the last 30 days were filed in the last 30 days and that.
        let network = delisting::network_of(r.prefix);
        let since = now.saturating_sub(30 * DAY + CONFIRM_WITHIN);
        let recent = self.store.requests_filed_since(since, 1_000_000)?;
        let auto_approved = recent
            .iter()
            .filter(|o| network.contains(o.prefix.first_address()))
            .filter(
                |o| matches!(&o.state, State::Approved { by, at, .. } if by == AUTO_APPROVAL && at + 30 * DAY > now),
            )
            .count();
        if delisting::auto_approvable(&r, narrowest, auto_approved, per_network) {
            return self.decide_removal(id, Decision::Approve { prefix: None }, AUTO_APPROVAL, now);
        }
        Ok(r)
    }

    /// The operator's decision (or the auto-approval's); approving excludes the prefix in the
    /// operator's dataset of every zone whose operator listing covers it.
    pub fn decide_removal(
        &mut self,
        id: u64,
        decision: Decision,
        actor: &str,
        now: u64,
    ) -> Result<RemovalRequest, ChangeError> {
        let mut r = self.open_request(id)?;
        if !r.state.is_open() {
            return Err(ChangeError::RequestDecided { id, state: r.state.as_str() });
        }
        match decision {
            Decision::Approve { prefix } => {
                let prefix = prefix.unwrap_or(r.prefix);
                let reason = format!("removal request {id}");
                let zones = self.listed_by_operator(prefix)?;
                let mut excluded = Vec::new();
                for (zone, listed) in &zones {
                    // The prefix out of the wider listing, and every listing inside it.
                    let mut at: Vec<Prefix> = listed.inside.clone();
                    if listed.covering.is_some() && !at.contains(&prefix) {
                        at.push(prefix);
                    }
                    for p in at {
                        let change = Change::AddExclusion { prefix: p, reason: Some(reason.clone()) };
                        let origin = Origin { actor, source: "removal request" };
                        self.apply(zone, &DatasetName::operator(), change, origin, now)?;
                        excluded.push(format!("{p} in {zone}"));
                    }
                }
                let what = match excluded.is_empty() {
                    true => format!("approved by {actor}: no operator listing covered {prefix} any more"),
                    false => format!("approved by {actor}: excluded {}", excluded.join(", ")),
                };
                r.events.push(Event { at: now, what });
                r.state = State::Approved { prefix, by: actor.to_string(), at: now };
            }
            Decision::Reject { reason } => {
                r.events.push(Event { at: now, what: format!("rejected by {actor}: {reason}") });
                r.state = State::Rejected { reason, by: actor.to_string() };
            }
        }
        self.store.write_request(&r)?;
        Ok(r)
    }
}
