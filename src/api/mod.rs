//! The HTTP API for operators and marketers (axum; the only module that uses it). JSON under `/v1`.
//!
//! Operator endpoints:
//! - `GET  /v1/zones` — served zones and their serials.
//! - `POST /v1/zones/{zone}/listings` `{prefix, codes, reason?, expires?}`; `DELETE ...?prefix=`.
//! - `POST /v1/zones/{zone}/exclusions` `{prefix, reason?}`; `DELETE ...?prefix=`.
//! - `GET  /v1/lookup/{ip}` — the answer the DNS gives now, per zone, and the entries behind it.
//! - `GET  /v1/history?prefix=` — every change that affected an address or prefix, oldest first.
//! - `POST /v1/zones/{zone}/import?type=&default_code=&name=` — an rbldnsd file as the body:
//!   replaces the zone's list in one atomic change and one publish.
//! - marketers and their networks: see [`registry`]; `GET /v1/lookup/{ip}` is open to marketers too.
//! - `GET  /v1/stats` (JSON) and `GET /metrics` (Prometheus text): query counters per transport
//!   and response code, zone serials and table sizes ([`metrics`]).
//!
//! Marketer endpoints (`/v1/registrations`): see [`registry`].
//!
//! Every request needs `Authorization: Bearer <token>` ([`auth`], [`token`]); a wrong or missing
//! token gets 401 and changes nothing, a token of the wrong role 403. A write is validated
//! completely before anything is written, and is acknowledged only after it is durable and
//! published (read-your-writes). With a certificate configured the API speaks HTTPS ([`tls`]).

pub mod auth;
pub mod limiter;
pub mod metrics;
pub mod registry;
pub mod tls;
pub mod token;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::{DomainName, RegistryConfig};
use crate::daemon::unix_now;
use crate::model::{Listing, ListingCode, Prefix};
use crate::publisher::{Change, ChangeError, Publisher};
use crate::query::{self, Lookup};
use crate::snapshot::SharedSnapshot;
use crate::store::{Store, StoredEntry};

/// Largest rbldnsd file accepted by `POST .../import` (the body is held in memory once).
const MAX_IMPORT_BYTES: usize = 4 << 30;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct ApiState {
    pub publisher: Arc<Mutex<Publisher>>,
    pub store: Arc<Store>,
    pub shared: Arc<SharedSnapshot>,
    pub operator_token: Arc<str>,
    pub failures: Arc<limiter::FailureLimiter>,
    pub registry_config: Arc<RegistryConfig>,
    /// The DNS workers' query counters.
    pub stats: Arc<crate::dns::stats::DnsStats>,
}

/// Serves the API on `listener` until `shutdown` is cancelled: HTTPS when `tls` is given.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    tls: Option<tls::Acceptor>,
    shutdown: CancellationToken,
) {
    let app = router(state);
    if let Some(acceptor) = tls {
        tls::serve(listener, acceptor, app, shutdown).await;
        return;
    }
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await;
    if let Err(e) = result {
        tracing::error!(error = %e, "API stopped");
    }
}

fn router(state: ApiState) -> Router {
    let operator = Router::new()
        .route("/v1/zones", get(zones))
        .route("/v1/zones/{zone}/listings", post(add_listing).delete(remove_listing))
        .route("/v1/zones/{zone}/exclusions", post(add_exclusion).delete(remove_exclusion))
        .route("/v1/history", get(history))
        .route(
            "/v1/zones/{zone}/import",
            post(import_list).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/v1/marketers", get(registry::list_marketers).post(registry::add_marketer))
        .route("/v1/marketers/{id}", get(registry::show_marketer))
        .route("/v1/marketers/{id}/suspend", post(registry::suspend))
        .route("/v1/marketers/{id}/resume", post(registry::resume))
        .route("/v1/marketers/{id}/rotate-token", post(registry::rotate_token))
        .route("/v1/marketers/{id}/networks", post(registry::add_network).delete(registry::remove_network))
        .route("/v1/stats", get(metrics::stats))
        .route("/metrics", get(metrics::prometheus))
        .layer(middleware::from_fn(auth::operator_only));
    let marketer = Router::new()
        .route("/v1/registrations", get(registry::registrations).post(registry::register).delete(registry::unregister))
        .layer(middleware::from_fn(auth::marketer_only));
    Router::new()
        .route("/v1/lookup/{ip}", get(lookup))
        .merge(operator)
        .merge(marketer)
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .with_state(state)
}

/// An error answer: status and a message that says what to do.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

#[derive(Serialize)]
struct ZoneInfo {
    zone: String,
    serial: u32,
}

async fn zones(State(state): State<ApiState>) -> Json<Vec<ZoneInfo>> {
    let snap = state.shared.load();
    Json(snap.zones.iter().map(|z| ZoneInfo { zone: z.config.origin.to_string(), serial: z.serial }).collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListingRequest {
    prefix: String,
    codes: Vec<String>,
    reason: Option<String>,
    /// A duration from now (`30d`, `12h`) or an RFC 3339 time.
    expires: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExclusionRequest {
    prefix: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct PrefixQuery {
    prefix: String,
}

#[derive(Serialize)]
struct ChangeResponse {
    zone: String,
    prefix: String,
    serial: u32,
}

async fn add_listing(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    body: Result<Json<ListingRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ChangeResponse>), ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let prefix = parse_prefix(&req.prefix)?;
    let codes = req
        .codes
        .iter()
        .map(|c| ListingCode::parse_short(c).map_err(|e| bad(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let listing = Listing::new(codes, req.reason).map_err(|e| bad(e.to_string()))?;
    let now = unix_now();
    let expires_at = req.expires.as_deref().map(|e| parse_expiry(e, now)).transpose()?;
    let serial = apply(&state, &zone, Change::AddListing { prefix, listing, expires_at }).await?;
    Ok((StatusCode::CREATED, Json(ChangeResponse { zone, prefix: prefix.to_string(), serial })))
}

async fn remove_listing(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<ChangeResponse>, ApiError> {
    let prefix = parse_prefix(&q.prefix)?;
    let serial = apply(&state, &zone, Change::RemoveListing { prefix }).await?;
    Ok(Json(ChangeResponse { zone, prefix: prefix.to_string(), serial }))
}

async fn add_exclusion(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    body: Result<Json<ExclusionRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ChangeResponse>), ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let prefix = parse_prefix(&req.prefix)?;
    if let Some(r) = &req.reason {
        crate::model::validate_txt(r).map_err(|e| bad(e.to_string()))?;
    }
    let serial = apply(&state, &zone, Change::AddExclusion { prefix, reason: req.reason }).await?;
    Ok((StatusCode::CREATED, Json(ChangeResponse { zone, prefix: prefix.to_string(), serial })))
}

async fn remove_exclusion(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<ChangeResponse>, ApiError> {
    let prefix = parse_prefix(&q.prefix)?;
    let serial = apply(&state, &zone, Change::RemoveExclusion { prefix }).await?;
    Ok(Json(ChangeResponse { zone, prefix: prefix.to_string(), serial }))
}

fn parse_prefix(text: &str) -> Result<Prefix, ApiError> {
    text.parse::<Prefix>().map_err(|e| bad(format!("invalid prefix: {e}")))
}

/// `30d`, `12h 30m` (from now) or an RFC 3339 time; it must lie in the future.
fn parse_expiry(text: &str, now: u64) -> Result<u64, ApiError> {
    let at = match humantime::parse_duration(text) {
        Ok(d) => now.saturating_add(d.as_secs()),
        Err(_) => humantime::parse_rfc3339_weak(text)
            .map_err(|_| bad(format!("expires {text:?} is neither a duration (30d, 12h) nor an RFC 3339 time")))?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    if at <= now {
        return Err(bad(format!("expires {text:?} is not in the future")));
    }
    Ok(at)
}

/// Runs a change on the single writer, off the async workers.
async fn apply(state: &ApiState, zone: &str, change: Change) -> Result<u32, ApiError> {
    let zone = DomainName::parse(zone).map_err(|e| ApiError(StatusCode::NOT_FOUND, e))?;
    let publisher = state.publisher.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut p =
            publisher.lock().map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "writer poisoned".into()))?;
        p.apply(&zone, change, crate::publisher::Origin::OPERATOR_API, unix_now()).map_err(change_error)
    })
    .await;
    result.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

fn change_error(e: ChangeError) -> ApiError {
    let status = match &e {
        ChangeError::UnknownZone(_) | ChangeError::NotFound(_) => StatusCode::NOT_FOUND,
        ChangeError::Registry(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ChangeError::TestPoint(_) => StatusCode::FORBIDDEN,
        ChangeError::Store(err) => {
            tracing::error!(error = %err, "change not written");
            store_status(err)
        }
    };
    ApiError(status, e.to_string())
}

/// 507 when the store keeps its disk's last free space, 503 after a failed write (until restart),
/// else 500.
fn store_status(e: &crate::store::StoreError) -> StatusCode {
    match e {
        crate::store::StoreError::DiskFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
        crate::store::StoreError::WriteFailed { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[derive(Serialize)]
struct LookupResponse {
    ip: String,
    zones: Vec<ZoneLookup>,
}

#[derive(Serialize)]
struct ZoneLookup {
    zone: String,
    /// The DNS answer now: listed codes (empty = NXDOMAIN) and TXT.
    listed: bool,
    codes: Vec<String>,
    txt: Option<String>,
    /// Why, in one sentence.
    explanation: String,
    /// Why: the deciding entry, then the other entries covering the address (most specific first).
    decided_by: Option<EntryView>,
    also_covering: Vec<EntryView>,
}

#[derive(Serialize, Clone)]
struct EntryView {
    prefix: String,
    /// The prefix length (orders entries; not sent).
    #[serde(skip)]
    len: u8,
    kind: &'static str,
    codes: Vec<String>,
    reason: Option<String>,
    added_at: Option<u64>,
    expires_at: Option<u64>,
}

async fn lookup(State(state): State<ApiState>, Path(ip): Path<String>) -> Result<Json<LookupResponse>, ApiError> {
    let ip: IpAddr = ip.parse().map_err(|_| bad(format!("{ip:?} is not an IP address")))?;
    let store = state.store.clone();
    let shared = state.shared.clone();
    let registry_config = state.registry_config.clone();
    let zones = tokio::task::spawn_blocking(move || explain(&store, &shared, &registry_config, ip))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
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
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .into_iter()
            .filter(|(_, e)| !matches!(e, StoredEntry::Listing(l) if l.expired(now)))
            .map(|(p, e)| view(p, e))
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
                kind: "built-in RFC 5782 test point",
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
            kind: "declared sender",
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
                    kind: "registered network",
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
        "declared sender" => format!(
            "listed ({}): declared as an email-marketing sender by {reason} in {} since {since}",
            codes.join(", "),
            d.prefix
        ),
        "registered network" => format!(
            "not listed: inside {}'s registered network {}; declared senders are listed separately",
            reason.rsplit_once(" (").map_or(reason, |(name, _)| name),
            d.prefix
        ),
        "listing" => format!("listed ({}) by the operator's listing {}", codes.join(", "), d.prefix),
        "exclusion" => format!("not listed: the operator excluded {} from wider listings", d.prefix),
        _ => format!("listed ({}): {ip} is an RFC 5782 test point", codes.join(", ")),
    }
}

/// The DNS answer for `ip` in `zone` now: the codes (empty = NXDOMAIN) and the TXT.
pub(crate) fn answer_in(
    snap: &crate::snapshot::Snapshot,
    zone: &crate::snapshot::ZoneSnapshot,
    ip: IpAddr,
) -> (Vec<String>, Option<String>) {
    let rev = reversed_labels(Prefix::host(ip));
    let mut labels: Vec<&[u8]> = rev.iter().map(|l| l.as_bytes()).collect();
    labels.extend(zone.config.origin.labels().map(str::as_bytes));
    match query::classify(snap, &labels) {
        Some((z, _, Lookup::Listed(listing, addr))) => (
            listing.codes().iter().map(ToString::to_string).collect(),
            Some(crate::model::expand_txt(query::txt_template(z, listing), addr)),
        ),
        _ => (Vec::new(), None),
    }
}

/// Microseconds since the epoch as RFC 3339 UTC.
pub(crate) fn format_time(at_us: u64) -> String {
    humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + std::time::Duration::from_micros(at_us)).to_string()
}

#[derive(Serialize)]
struct HistoryRecord {
    zone: String,
    prefix: String,
    /// RFC 3339, UTC.
    at: String,
    action: &'static str,
    actor: String,
    source: String,
    codes: Vec<String>,
    reason: Option<String>,
    expires_at: Option<u64>,
}

async fn history(
    State(state): State<ApiState>,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<Vec<HistoryRecord>>, ApiError> {
    let prefix = parse_prefix(&q.prefix)?;
    let zones: Vec<DomainName> = state.shared.load().zones.iter().map(|z| z.config.origin.clone()).collect();
    let store = state.store.clone();
    let records = tokio::task::spawn_blocking(move || -> Result<Vec<HistoryRecord>, ApiError> {
        let mut out = Vec::new();
        for zone in zones {
            let found =
                store.history(&zone, prefix).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            out.extend(found.into_iter().map(|(p, r)| HistoryRecord {
                zone: zone.to_string(),
                prefix: p.to_string(),
                at: format_time(r.at_us),
                action: r.action.as_str(),
                actor: r.actor,
                source: r.source,
                codes: r.codes.iter().map(ToString::to_string).collect(),
                reason: r.reason,
                expires_at: r.expires_at,
            }));
        }
        out.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(out)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(records))
}

#[derive(Deserialize)]
struct ImportQuery {
    #[serde(rename = "type", default = "default_dataset")]
    dataset: String,
    default_code: Option<String>,
    /// The file's name, used in error messages.
    name: Option<String>,
}

fn default_dataset() -> String {
    "auto".into()
}

#[derive(Serialize)]
struct ImportResponse {
    zone: String,
    listings: u64,
    exclusions: u64,
    lines: u64,
    serial: u32,
}

async fn import_list(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> Result<Json<ImportResponse>, ApiError> {
    let zone = DomainName::parse(&zone).map_err(|e| ApiError(StatusCode::NOT_FOUND, e))?;
    let template = {
        let snap = state.shared.load();
        let z = snap.zones.iter().find(|z| z.config.origin == zone);
        z.map(|z| z.config.txt_template.clone())
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("zone {zone} is not served here")))?
    };
    let opts = crate::importer::ImportOptions {
        dataset: q.dataset.parse().map_err(bad)?,
        default_code: q
            .default_code
            .as_deref()
            .map_or(Ok(ListingCode::OPERATOR), ListingCode::parse_short)
            .map_err(|e| bad(e.to_string()))?,
        now: unix_now(),
        zone_template: Some(template),
        actor: "operator".into(),
        source: "import".into(),
    };
    let name = q.name.unwrap_or_else(|| "upload".into()).replace(['/', '\\'], "_");
    let publisher = state.publisher.clone();
    let result = tokio::task::spawn_blocking(move || import_blocking(&publisher, &zone, &name, &body, &opts)).await;
    result.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?.map(Json)
}

/// Writes the upload next to the database, imports it while holding the writer (so no live change
/// interleaves with the switch), then republishes the zone.
fn import_blocking(
    publisher: &Mutex<Publisher>,
    zone: &DomainName,
    name: &str,
    body: &[u8],
    opts: &crate::importer::ImportOptions,
) -> Result<ImportResponse, ApiError> {
    let internal = |e: String| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e);
    let mut p = publisher.lock().map_err(|_| internal("writer poisoned".into()))?;
    // uploads/<random>/<the client's file name>, so messages and the audit trail name the file.
    let dir = p.store().path().join("uploads").join(token::random_hex(8).map_err(|e| internal(e.to_string()))?);
    std::fs::create_dir_all(&dir).map_err(|e| internal(e.to_string()))?;
    let path = dir.join(name);
    std::fs::write(&path, body).map_err(|e| internal(format!("cannot store the upload: {e}")))?;
    let store = p.store().clone();
    let imported = crate::importer::import(&store, zone, &path, opts);
    let _ = std::fs::remove_dir_all(&dir);
    let report = imported.map_err(|e| {
        let msg = e.to_string().replace(&path.display().to_string(), name);
        match e {
            crate::importer::ImportError::Lines(_) => bad(msg),
            crate::importer::ImportError::Store(ref err) => ApiError(store_status(err), msg),
            _ => internal(msg),
        }
    })?;
    p.reload_zone(zone, opts.now).map_err(change_error)?;
    tracing::info!(%zone, listings = report.summary.listings, exclusions = report.summary.exclusions, serial = report.summary.serial, "imported a list through the API");
    Ok(ImportResponse {
        zone: zone.to_string(),
        listings: report.summary.listings,
        exclusions: report.summary.exclusions,
        lines: report.lines,
        serial: report.summary.serial,
    })
}

fn view(prefix: Prefix, entry: StoredEntry) -> EntryView {
    match entry {
        StoredEntry::Listing(l) => EntryView {
            prefix: prefix.to_string(),
            len: prefix.len(),
            kind: "listing",
            codes: l.listing.codes().iter().map(ToString::to_string).collect(),
            reason: l.listing.reason().map(str::to_string),
            added_at: Some(l.added_at),
            expires_at: l.expires_at,
        },
        StoredEntry::Exclusion(x) => EntryView {
            prefix: prefix.to_string(),
            len: prefix.len(),
            kind: "exclusion",
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
