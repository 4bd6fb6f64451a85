//! Removal requests through the single writer: filing one (only for what an operator listing
//! covers, one open request per address), the confirmation mail's outcome, confirmation (with
//! the auto-approval rule), and the operator's decision. Approving writes an exclusion in the
//! operator's dataset of every zone whose operator listing covers the prefix, reason
//! "removal request ID", audited like any change; every step is also an event of the request.

use super::{Change, ChangeError, Origin, Publisher};
use crate::delisting::{self, Event, Mail, NewRequest, RemovalRequest, State, AUTO_APPROVAL};
use crate::model::Prefix;
use crate::name::{DatasetName, DomainName};
use crate::store::StoredEntry;

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

impl Publisher {
    /// The most specific operator listing covering `prefix` in `zone`, unless an exclusion
    /// more specific than it keeps the prefix out already.
    fn operator_listing_over(&self, zone: &DomainName, prefix: Prefix) -> Result<Option<Prefix>, ChangeError> {
        let covering = self.store.covering(zone, &DatasetName::operator(), prefix)?;
        // Most specific last; an exclusion at the same prefix as a listing wins.
        let decides =
            covering.iter().rev().find(|(_, e)| matches!(e, StoredEntry::Listing(_) | StoredEntry::Exclusion(_)));
        Ok(match decides {
            Some((p, StoredEntry::Listing(_))) => Some(*p),
            _ => None,
        })
    }

    /// The zones whose operator listing covers `prefix`, with that listing's prefix.
    fn listed_by_operator(&self, prefix: Prefix) -> Result<Vec<(DomainName, Prefix)>, ChangeError> {
        let zones: Vec<DomainName> = self.shared.load().zones.iter().map(|z| z.config.origin.clone()).collect();
        let mut out = Vec::new();
        for zone in zones {
            if let Some(by) = self.operator_listing_over(&zone, prefix)? {
                out.push((zone, by));
            }
        }
        Ok(out)
    }

    /// Files a checked request (its confirmation key's hash given); refused when no operator
    /// listing covers the prefix or a request for it is open.
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
        if let Some(open) = self.store.open_request_of(new.prefix)? {
            return Err(ChangeError::RequestOpen(open));
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
        r.state = State::Confirmed;
        r.events.push(Event { at: now, what: "confirmed by its contact".into() });
        self.store.write_request(&r)?;
        let listed_by = self.listed_by_operator(r.prefix)?.first().map(|(_, by)| *by);
        let network = delisting::network_of(r.prefix);
        let recent = self.store.requests(100_000)?;
        let auto_approved = recent
            .iter()
            .filter(|o| o.created + 30 * DAY > now && network.contains(o.prefix.first_address()))
            .filter(|o| matches!(&o.state, State::Approved { by, .. } if by == AUTO_APPROVAL))
            .count();
        if delisting::auto_approvable(&r, listed_by, auto_approved, per_network) {
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
                for (zone, _) in &zones {
                    let change = Change::AddExclusion { prefix, reason: Some(reason.clone()) };
                    let origin = Origin { actor, source: "removal request" };
                    self.apply(zone, &DatasetName::operator(), change, origin, now)?;
                }
                let zones: Vec<String> = zones.iter().map(|(z, _)| z.to_string()).collect();
                let what = match zones.is_empty() {
                    true => format!("approved by {actor}: no operator listing covered {prefix} any more"),
                    false => format!("approved by {actor}: {prefix} excluded in {}", zones.join(", ")),
                };
                r.events.push(Event { at: now, what });
                r.state = State::Approved { prefix, by: actor.to_string() };
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
