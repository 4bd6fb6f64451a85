//! `GET /v1/lookup/{ip}`: what the DNS answers now for an address, per zone: the union, which
//! datasets give each code, and per dataset the entry that decides it, the others covering it,
//! and a sentence saying why (operator and marketer tokens).

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::Json;

use super::error::{bad, internal, store_error, ApiError};
use super::state::ApiState;
use super::wire::{CodeSource, DatasetLookup, EntryKind, EntryView, LookupResponse, ZoneLookup};
use crate::clock::unix_now;
use crate::model::Prefix;
use crate::name::DatasetName;
use crate::query::{self, Lookup};
use crate::registry::Registry;
use crate::snapshot::{Dataset, SharedSnapshot, Snapshot, ZoneSnapshot};
use crate::store::{Store, StoredEntry};

pub async fn lookup(State(state): State<ApiState>, Path(ip): Path<String>) -> Result<Json<LookupResponse>, ApiError> {
    let ip: IpAddr = ip.parse().map_err(|_| bad(format!("{ip:?} is not an IP address")))?;
    let store = state.store.clone();
    let shared = state.shared.clone();
    let zones = tokio::task::spawn_blocking(move || explain(&store, &shared, ip))
        .await
        .map_err(|e| internal(e.to_string()))??;
    Ok(Json(LookupResponse { ip: ip.to_string(), zones }))
}

/// What the DNS answers for `ip` in every zone and why (also the public lookup page's source).
pub fn explain(store: &Store, shared: &SharedSnapshot, ip: IpAddr) -> Result<Vec<ZoneLookup>, ApiError> {
    let snap = shared.load_full();
    let mut out = Vec::new();
    for zone in &snap.zones {
        let (codes, txts) = answer_in(&snap, zone, ip);
        let mut datasets = Vec::new();
        for dataset in zone.datasets() {
            let registry = dataset.name.is_operator() && snap.registry_applies_to(&zone.config.origin);
            datasets.push(explain_dataset(store, zone, dataset, registry.then_some(&*snap.registry), ip)?);
        }
        let code_sources = codes
            .iter()
            .map(|code| CodeSource {
                code: code.clone(),
                datasets: datasets.iter().filter(|d| d.codes.contains(code)).map(|d| d.dataset.clone()).collect(),
            })
            .collect();
        let listing: Vec<&DatasetLookup> = datasets.iter().filter(|d| d.listed).collect();
        let explanation = match listing.as_slice() {
            [] => datasets.first().map(|d| d.explanation.clone()).unwrap_or_default(),
            [one] => one.explanation.clone(),
            several => several.iter().map(|d| d.explanation.as_str()).collect::<Vec<_>>().join("; "),
        };
        let first = listing.first().copied().or(datasets.first());
        out.push(ZoneLookup {
            zone: zone.config.origin.to_string(),
            listed: !codes.is_empty(),
            codes,
            txt: txts.first().cloned(),
            txts,
            explanation,
            decided_by: first.and_then(|d| d.decided_by.clone()),
            also_covering: first.map(|d| d.also_covering.clone()).unwrap_or_default(),
            code_sources,
            datasets,
        });
    }
    Ok(out)
}

/// One dataset's own verdict on `ip`: its stored entries covering the address (and, for the
/// operator's, the registry's).
fn explain_dataset(
    store: &Store,
    zone: &ZoneSnapshot,
    dataset: &Dataset,
    registry: Option<&Registry>,
    ip: IpAddr,
) -> Result<DatasetLookup, ApiError> {
    let host = Prefix::host(ip);
    let now = unix_now();
    let listing = query::listing_in(dataset, ip);
    let codes: Vec<String> = listing.map(|l| l.codes().iter().map(ToString::to_string).collect()).unwrap_or_default();
    let txt = listing.map(|l| crate::model::expand_txt(query::txt_template(zone, l), ip));
    let mut entries: Vec<EntryView> = store
        .covering(&zone.config.origin, &dataset.name, host)
        .map_err(store_error)?
        .into_iter()
        .filter(|(_, e)| !matches!(e, StoredEntry::Listing(l) if l.expired(now)))
        .map(|(p, e)| view(p, e, ip))
        .collect();
    // Reversed, the list is most specific first with an exclusion before a listing at the same
    // prefix: exactly the order in which entries decide.
    entries.reverse();
    let note = registry.and_then(|r| registry_views(r, ip, &mut entries));
    let decided_by = if query::is_test_point(host) {
        dataset.name.is_operator().then(|| EntryView {
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
    let mut explanation = explanation(ip, &dataset.name, decided_by.as_ref(), &codes);
    if let Some(note) = note {
        explanation.push_str("; ");
        explanation.push_str(&note);
    }
    Ok(DatasetLookup {
        dataset: dataset.name.to_string(),
        listed: listing.is_some(),
        codes,
        txt,
        explanation,
        decided_by,
        also_covering: entries,
    })
}

/// Adds the registry's entries covering `ip` to `entries` (most specific first; at the same
/// prefix the registry's entry decides). Returns a note when the address is in the network of a
/// suspended marketer (listed for reference only: it protects nothing).
fn registry_views(registry: &Registry, ip: IpAddr, entries: &mut Vec<EntryView>) -> Option<String> {
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

/// One sentence on why a dataset answers as it does.
fn explanation(ip: IpAddr, dataset: &DatasetName, decided_by: Option<&EntryView>, codes: &[String]) -> String {
    let Some(d) = decided_by else {
        return match dataset.is_operator() {
            true => "not listed: no entry covers this address".into(),
            false => format!("not listed in dataset {dataset}: no entry of it covers this address"),
        };
    };
    let reason = d.reason.as_deref().unwrap_or("");
    let since = d.added_at.map(|t| format_time(t.saturating_mul(1_000_000))).unwrap_or_default();
    let codes = codes.join(", ");
    match d.kind {
        EntryKind::DeclaredSender => {
            format!("listed ({codes}): declared as an email-marketing sender by {reason} in {} since {since}", d.prefix)
        }
        EntryKind::RegisteredNetwork => format!(
            "not listed: inside {}'s registered network {}; declared senders are listed separately",
            reason.rsplit_once(" (").map_or(reason, |(name, _)| name),
            d.prefix
        ),
        EntryKind::Listing if dataset.is_operator() => {
            format!("listed ({codes}) by the operator's listing {}", d.prefix)
        }
        EntryKind::Listing => format!("listed ({codes}) by dataset {dataset}'s listing {}", d.prefix),
        EntryKind::Exclusion if dataset.is_operator() => {
            format!("not listed: the operator excluded {} from wider listings", d.prefix)
        }
        EntryKind::Exclusion => {
            format!("not listed in dataset {dataset}: it excludes {} from its wider listings", d.prefix)
        }
        EntryKind::TestPoint => format!("listed ({codes}): {ip} is an RFC 5782 test point"),
    }
}

/// The DNS answer for `ip` in `zone` now: the codes (empty = NXDOMAIN) and the TXTs.
pub fn answer_in(snap: &Snapshot, zone: &ZoneSnapshot, ip: IpAddr) -> (Vec<String>, Vec<String>) {
    let rev = reversed_labels(Prefix::host(ip));
    let mut labels: Vec<&[u8]> = rev.iter().map(|l| l.as_bytes()).collect();
    labels.extend(zone.config.origin.labels().map(str::as_bytes));
    match query::classify(snap, &labels) {
        Some((z, _, Lookup::Listed(hits, addr))) => (
            hits.codes().map(|c| c.to_string()).collect(),
            hits.templates(z).map(|t| crate::model::expand_txt(t, addr)).collect(),
        ),
        _ => (Vec::new(), Vec::new()),
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
