//! `GET /v1/lookup/{ip}`: what the DNS answers now for an address, per zone, the entry that
//! decides it, the others covering it, and a sentence saying why (operator and marketer tokens).

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::Json;

use super::error::{bad, internal, store_error, ApiError};
use super::state::ApiState;
use super::wire::{EntryKind, EntryView, LookupResponse, ZoneLookup};
use crate::clock::unix_now;
use crate::config::RegistryConfig;
use crate::model::Prefix;
use crate::query::{self, Lookup};
use crate::snapshot::SharedSnapshot;
use crate::store::{Store, StoredEntry};

pub async fn lookup(State(state): State<ApiState>, Path(ip): Path<String>) -> Result<Json<LookupResponse>, ApiError> {
    let ip: IpAddr = ip.parse().map_err(|_| bad(format!("{ip:?} is not an IP address")))?;
    let store = state.store.clone();
    let shared = state.shared.clone();
    let registry_config = state.registry_config.clone();
    let zones = tokio::task::spawn_blocking(move || explain(&store, &shared, &registry_config, ip))
        .await
        .map_err(|e| internal(e.to_string()))??;
    Ok(Json(LookupResponse { ip: ip.to_string(), zones }))
}

fn explain(
    store: &Store,
    shared: &SharedSnapshot,
    registry_config: &RegistryConfig,
    ip: IpAddr,
) -> Result<Vec<ZoneLookup>, ApiError> {
    let snap = shared.load_full();
    let host = Prefix::host(ip);
    let now = unix_now();
    let mut out = Vec::new();
    for zone in &snap.zones {
        let (codes, txt) = answer_in(&snap, zone, ip);
        let mut entries: Vec<EntryView> = store
            .covering(&zone.config.origin, host)
            .map_err(store_error)?
            .into_iter()
            .filter(|(_, e)| !matches!(e, StoredEntry::Listing(l) if l.expired(now)))
            .map(|(p, e)| view(p, e, ip))
            .collect();
        // Reversed, the list is most specific first with an exclusion before a listing at the
        // same prefix: exactly the order in which entries decide.
        entries.reverse();
        let mut note = None;
        if registry_config.applies_to(&zone.config.origin) {
            note = registry_views(&snap.registry, ip, &mut entries);
        }
        let decided_by = if query::is_test_point(host) {
            Some(EntryView {
                prefix: host.to_string(),
                len: host.len(),
                kind: EntryKind::TestPoint,
                codes: codes.clone(),
                reason: None,
                added_at: None,
                expires_at: None,
            })
        } else if entries.is_empty() {
            None
        } else {
            Some(entries.remove(0))
        };
        let mut explanation = explanation(ip, decided_by.as_ref(), &codes);
        if let Some(note) = note {
            explanation.push_str("; ");
            explanation.push_str(&note);
        }
        out.push(ZoneLookup {
            zone: zone.config.origin.to_string(),
            listed: !codes.is_empty(),
            codes,
            txt,
            explanation,
            decided_by,
            also_covering: entries,
        });
    }
    Ok(out)
}

/// Adds the registry's entries covering `ip` to `entries` (most specific first; at the same
/// prefix the registry's entry decides). Returns a note when the address is in the network of a
/// suspended marketer (listed for reference only: it protects nothing).
fn registry_views(registry: &crate::registry::Registry, ip: IpAddr, entries: &mut Vec<EntryView>) -> Option<String> {
    use crate::registry::Status;
    let mut found: Vec<EntryView> = Vec::new();
    let mut note = None;
    for (account, prefix, d) in registry.declarations_covering(ip) {
        let m = &account.marketer;
        let reason = match &d.reason {
            Some(r) => format!("{} ({}): {r}", m.legal_name, m.id),
            None => format!("{} ({})", m.legal_name, m.id),
        };
        let view = EntryView {
            prefix: prefix.to_string(),
            len: prefix.len(),
            kind: EntryKind::DeclaredSender,
            codes: vec![crate::model::ListingCode::REGISTERED.to_string()],
            reason: Some(reason),
            added_at: Some(d.added_at),
            expires_at: None,
        };
        found.push(view);
    }
    if let Some((account, network)) = registry.network_of(ip) {
        let m = &account.marketer;
        match &m.status {
            Status::Active if !account.declared.contains_key(&network) => {
                let view = EntryView {
                    prefix: network.to_string(),
                    len: network.len(),
                    kind: EntryKind::RegisteredNetwork,
                    codes: Vec::new(),
                    reason: Some(format!("{} ({})", m.legal_name, m.id)),
                    added_at: Some(account.created_at),
                    expires_at: None,
                };
                found.push(view);
            }
            Status::Active => {}
            Status::Suspended { reason } => {
                note = Some(format!(
                    "{}'s registered network {network} is not protected while the marketer is suspended ({reason})",
                    m.legal_name
                ));
            }
        }
    }
    for view in found {
        let at = entries.iter().position(|e| e.len <= view.len);
        entries.insert(at.unwrap_or(entries.len()), view);
    }
    note
}

/// One sentence on why the DNS answers as it does.
fn explanation(ip: IpAddr, decided_by: Option<&EntryView>, codes: &[String]) -> String {
    let Some(d) = decided_by else {
        return "not listed: no entry covers this address".into();
    };
    let reason = d.reason.as_deref().unwrap_or("");
    let since = d.added_at.map(|t| format_time(t.saturating_mul(1_000_000))).unwrap_or_default();
    match d.kind {
        EntryKind::DeclaredSender => format!(
            "listed ({}): declared as an email-marketing sender by {reason} in {} since {since}",
            codes.join(", "),
            d.prefix
        ),
        EntryKind::RegisteredNetwork => format!(
            "not listed: inside {}'s registered network {}; declared senders are listed separately",
            reason.rsplit_once(" (").map_or(reason, |(name, _)| name),
            d.prefix
        ),
        EntryKind::Listing => format!("listed ({}) by the operator's listing {}", codes.join(", "), d.prefix),
        EntryKind::Exclusion => format!("not listed: the operator excluded {} from wider listings", d.prefix),
        EntryKind::TestPoint => format!("listed ({}): {ip} is an RFC 5782 test point", codes.join(", ")),
    }
}

/// The DNS answer for `ip` in `zone` now: the codes (empty = NXDOMAIN) and the TXT.
pub fn answer_in(
    snap: &crate::snapshot::Snapshot,
    zone: &crate::snapshot::ZoneSnapshot,
    ip: IpAddr,
) -> (Vec<String>, Option<String>) {
    let rev = reversed_labels(Prefix::host(ip));
    let mut labels: Vec<&[u8]> = rev.iter().map(|l| l.as_bytes()).collect();
    labels.extend(zone.config.origin.labels().map(str::as_bytes));
    match query::classify(snap, &labels) {
        Some((z, _, Lookup::Listed(hits, addr))) => (
            hits.codes().map(|c| c.to_string()).collect(),
            hits.templates(z).next().map(|t| crate::model::expand_txt(t, addr)),
        ),
        _ => (Vec::new(), None),
    }
}

/// Microseconds since the epoch as RFC 3339 UTC.
pub fn format_time(at_us: u64) -> String {
    humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + std::time::Duration::from_micros(at_us)).to_string()
}

/// A stored entry as the lookup of `ip` shows it: a listing's reason expanded for `ip`, as the
/// DNS TXT is.
fn view(prefix: Prefix, entry: StoredEntry, ip: IpAddr) -> EntryView {
    match entry {
        StoredEntry::Listing(l) => EntryView {
            prefix: prefix.to_string(),
            len: prefix.len(),
            kind: EntryKind::Listing,
            codes: l.listing.codes().iter().map(ToString::to_string).collect(),
            reason: l.listing.reason().map(|r| crate::model::expand_txt(r, ip)),
            added_at: Some(l.added_at),
            expires_at: l.expires_at,
        },
        StoredEntry::Exclusion(x) => EntryView {
            prefix: prefix.to_string(),
            len: prefix.len(),
            kind: EntryKind::Exclusion,
            codes: Vec::new(),
            reason: x.reason,
            added_at: Some(x.added_at),
            expires_at: None,
        },
    }
}

/// The reversed labels of a host address (octets for IPv4, 32 nibbles for IPv6).
fn reversed_labels(host: Prefix) -> Vec<String> {
    match host {
        Prefix::V4 { bits, .. } => bits.to_be_bytes().iter().rev().map(u8::to_string).collect(),
        Prefix::V6 { bits, .. } => (0..32).map(|i| format!("{:x}", (bits >> (4 * i)) & 0xf)).collect(),
    }
}
