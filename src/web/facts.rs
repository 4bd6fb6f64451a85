//! What the public pages say about an address: per zone, listed or not, each code and its
//! published meaning, what lists the address (or keeps it out), since when, and how it ends;
//! built from the API's lookup minus what is the operator's own (no actors, no internal ids, no
//! evidence records, no other requests).

use std::net::IpAddr;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::WebState;
use crate::api::lookup::explain;
use crate::api::wire::{EntryKind, EntryView, ZoneLookup};
use crate::publisher::policy_named_in;
use crate::snapshot::Snapshot;

/// What the public lookup says about an address (`/lookup.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicLookup {
    pub ip: String,
    pub zones: Vec<PublicZone>,
}

/// One zone's answer and what gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicZone {
    pub zone: String,
    pub listed: bool,
    /// The codes of the DNS answer, each with its published meaning.
    pub codes: Vec<PublicCode>,
    /// The TXT answers.
    pub txts: Vec<String>,
    /// What lists the address (or, when nothing does, what keeps it out).
    pub entries: Vec<PublicEntry>,
    /// When the address is listed again after a removal request took it out: which request,
    /// and when it was removed.
    pub returned_after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicCode {
    pub code: String,
    pub meaning: String,
}

/// An entry that decides the address's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicEntry {
    /// `operator listing`, `declared sender`, `evidence listing`, `test point`, `exclusion`.
    pub kind: String,
    pub prefix: String,
    pub codes: Vec<String>,
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub since: Option<String>,
    /// When it ends by itself (RFC 3339, UTC).
    pub ends: Option<String>,
    /// The marketer that declared the address (legal name and registration number, public by
    /// design).
    pub marketer: Option<PublicMarketer>,
    /// The policy that listed the address from evidence.
    pub policy: Option<String>,
    /// How the entry ends, in words.
    pub removal: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicMarketer {
    pub legal_name: String,
    pub registration_number: String,
}

/// The kind of entry a removal request can end.
pub const OPERATOR_LISTING: &str = "operator listing";

/// The public facts about `asked`, or the status and why not.
pub async fn find(state: &WebState, asked: &str) -> Result<PublicLookup, (StatusCode, String)> {
    let shown: String = asked.chars().take(64).collect();
    let ip: IpAddr = asked.parse().map_err(|_| (StatusCode::BAD_REQUEST, format!("{shown:?} is not an IP address")))?;
    let (store, shared) = (state.store.clone(), state.shared.clone());
    let zones = tokio::task::spawn_blocking(move || {
        let zones = explain(&store, &shared, ip)?;
        let removed: Vec<Option<String>> = zones.iter().map(|z| removed_before(&store, z, ip)).collect();
        Ok::<_, crate::api::error::ApiError>((zones, removed))
    })
    .await
    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        tracing::warn!(error = %e.1, "a public lookup failed");
        (StatusCode::SERVICE_UNAVAILABLE, "the lookup is not available right now".to_string())
    })?;
    let snap = state.shared.load_full();
    let (zones, removed) = zones;
    let zones = zones
        .into_iter()
        .zip(removed)
        .map(|(z, removed)| PublicZone { returned_after: removed.filter(|_| z.listed), ..public_zone(&snap, ip, z) })
        .collect();
    Ok(PublicLookup { ip: ip.to_string(), zones })
}

/// The last removal request that excluded an address covering `ip` in the zone's operator
/// dataset, and when ("removal request 3 on 2026-12-01T10:00:00Z"), from the audit trail.
fn removed_before(store: &crate::store::Store, z: &ZoneLookup, ip: IpAddr) -> Option<String> {
    let zone = crate::name::DomainName::parse(&z.zone).ok()?;
    let history = store.history(&zone, crate::model::Prefix::host(ip)).ok()?;
    let (_, record) = history.iter().rev().find(|(p, r)| {
        p.contains(ip) && r.action == crate::model::AuditAction::AddExclusion && r.source == "removal request"
    })?;
    let at = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_micros(record.at_us));
    Some(format!("{} on {at}", record.reason.as_deref().unwrap_or("a removal request")))
}

fn public_zone(snap: &Snapshot, ip: IpAddr, z: ZoneLookup) -> PublicZone {
    let contact = snap
        .zones
        .iter()
        .find(|s| s.config.origin.to_string() == z.zone)
        .map(|s| contact(&s.config.soa.rname.to_string()))
        .unwrap_or_default();
    let mut entries = Vec::new();
    for d in &z.datasets {
        let Some(e) = &d.decided_by else { continue };
        if !d.listed && e.kind != EntryKind::Exclusion && e.kind != EntryKind::RegisteredNetwork {
            continue;
        }
        entries.push(public_entry(snap, ip, e, d.dataset == "operator", &contact));
    }
    PublicZone {
        codes: codes_of(snap, &z.zone, Some(&z.codes)),
        zone: z.zone,
        listed: z.listed,
        txts: z.txts,
        entries,
        returned_after: None,
    }
}

fn public_entry(snap: &Snapshot, ip: IpAddr, e: &EntryView, operator: bool, contact: &str) -> PublicEntry {
    let time = |t: u64| humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t));
    let mut out = PublicEntry {
        kind: String::new(),
        prefix: e.prefix.clone(),
        codes: e.codes.clone(),
        reason: e.reason.clone(),
        since: e.added_at.map(|t| time(t).to_string()),
        ends: e.expires_at.map(|t| time(t).to_string()),
        marketer: None,
        policy: None,
        removal: String::new(),
    };
    let policy = e.reason.as_deref().and_then(policy_named_in).map(str::to_string);
    match e.kind {
        EntryKind::DeclaredSender => {
            let declared = snap.registry.declarations_covering(ip);
            let by = declared.iter().find(|(_, p, _)| p.to_string() == e.prefix).map(|(a, _, d)| (a, d));
            out.kind = "declared sender".into();
            out.reason = by.and_then(|(_, d)| d.reason.clone());
            out.marketer = by.map(|(a, _)| PublicMarketer {
                legal_name: a.marketer.legal_name.clone(),
                registration_number: a.marketer.registration_number.clone(),
            });
            out.removal =
                "The marketer declared this address as one it sends email marketing from; the listing ends when it withdraws the declaration.".into();
        }
        EntryKind::RegisteredNetwork => {
            out.kind = "registered network".into();
            out.reason = None;
            out.removal = "Inside a registered marketer's network: only the addresses it declares are listed.".into();
        }
        EntryKind::TestPoint => {
            out.kind = "test point".into();
            out.removal = "A permanent test entry (RFC 5782) that every DNSBL answers.".into();
        }
        EntryKind::Exclusion => {
            out.kind = "exclusion".into();
            out.removal = "The operator keeps this address out of wider listings.".into();
        }
        EntryKind::Listing if policy.is_some() => {
            out.kind = "evidence listing".into();
            out.policy = policy;
            out.removal = match &out.ends {
                Some(ends) => format!(
                    "Listed automatically from evidence; it ends by itself at {ends} unless new evidence arrives. There is nothing to request and nothing to pay."
                ),
                None => "Listed automatically from evidence; it ends by itself.".into(),
            };
        }
        EntryKind::Listing => {
            out.kind = if operator { OPERATOR_LISTING.into() } else { "listing".into() };
            out.removal = match operator {
                true => "If this address does not send email marketing, request its removal below. Removal is free.".into(),
                false => format!(
                    "If this address does not send email marketing, ask for its removal at {contact}, naming the address. Removal is free."
                ),
            };
        }
    }
    out
}

/// The zone's published codes (all of them, or those in `only`) with their meanings.
pub fn codes_of(snap: &Snapshot, zone: &str, only: Option<&[String]>) -> Vec<PublicCode> {
    let Some(z) = snap.zones.iter().find(|z| z.config.origin.to_string() == zone) else { return Vec::new() };
    let codes =
        z.config.codes.iter().map(|(code, meaning)| PublicCode { code: code.to_string(), meaning: meaning.clone() });
    let mut out: Vec<PublicCode> = codes.filter(|c| only.is_none_or(|o| o.contains(&c.code))).collect();
    for code in only.unwrap_or_default() {
        if !out.iter().any(|c| &c.code == code) {
            out.push(PublicCode { code: code.clone(), meaning: "no published meaning".into() });
        }
    }
    out
}

/// The SOA responsible mailbox as an address: `hostmaster.bl.example.org` → `hostmaster@bl.example.org`.
pub fn contact(rname: &str) -> String {
    let rname = rname.trim_end_matches('.');
    match rname.split_once('.') {
        Some((local, domain)) => format!("{local}@{domain}"),
        None => rname.to_string(),
    }
}
