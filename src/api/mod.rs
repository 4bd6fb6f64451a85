//! The operator HTTP API (axum; the only module that uses it). JSON under `/v1`.
//!
//! - `GET  /v1/zones` — served zones and their serials.
//! - `POST /v1/zones/{zone}/listings` `{prefix, codes, reason?, expires?}`; `DELETE ...?prefix=`.
//! - `POST /v1/zones/{zone}/exclusions` `{prefix, reason?}`; `DELETE ...?prefix=`.
//! - `GET  /v1/lookup/{ip}` — the answer the DNS gives now, per zone, and the entries behind it.
//! - `GET  /v1/history?prefix=` — every change that affected an address or prefix, oldest first.
//! - `POST /v1/zones/{zone}/import?type=&default_code=&name=` — an rbldnsd file as the body:
//!   replaces the zone's list in one atomic change and one publish.
//!
//! Every request needs `Authorization: Bearer <operator token>` ([`token`]); a wrong or missing
//! token gets 401 and changes nothing. A write is validated completely before anything is written,
//! and is acknowledged only after it is durable and published (read-your-writes).

pub mod limiter;
pub mod token;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::DomainName;
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
}

/// Serves the API on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: tokio::net::TcpListener, state: ApiState, shutdown: CancellationToken) {
    let app = router(state);
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await;
    if let Err(e) = result {
        tracing::error!(error = %e, "operator API stopped");
    }
}

fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/zones", get(zones))
        .route("/v1/zones/{zone}/listings", post(add_listing).delete(remove_listing))
        .route("/v1/zones/{zone}/exclusions", post(add_exclusion).delete(remove_exclusion))
        .route("/v1/lookup/{ip}", get(lookup))
        .route("/v1/history", get(history))
        .route(
            "/v1/zones/{zone}/import",
            post(import_list).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .layer(middleware::from_fn_with_state(state.clone(), require_operator))
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

async fn require_operator(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = std::time::Instant::now();
    if state.failures.blocked(peer, now) {
        return ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed authentications from this address; wait a minute".into(),
        )
        .into_response();
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !token::matches(given, &state.operator_token) {
        state.failures.failed(peer, now);
        // Never log the token itself.
        tracing::warn!(%peer, path = %request.uri().path(), "refused API request: missing or wrong operator token");
        return ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()).into_response();
    }
    next.run(request).await
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
struct PrefixQuery {
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
        ChangeError::TestPoint(_) => StatusCode::FORBIDDEN,
        ChangeError::Store(err) => {
            tracing::error!(error = %err, "change not written");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    ApiError(status, e.to_string())
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
    /// Why: the deciding entry, then the other entries covering the address (most specific first).
    decided_by: Option<EntryView>,
    also_covering: Vec<EntryView>,
}

#[derive(Serialize, Clone)]
struct EntryView {
    prefix: String,
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
    let zones = tokio::task::spawn_blocking(move || explain(&store, &shared, ip))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(LookupResponse { ip: ip.to_string(), zones }))
}

fn explain(store: &Store, shared: &SharedSnapshot, ip: IpAddr) -> Result<Vec<ZoneLookup>, ApiError> {
    let snap = shared.load_full();
    let host = Prefix::host(ip);
    let rev = reversed_labels(host);
    let now = unix_now();
    let mut out = Vec::new();
    for zone in &snap.zones {
        let mut labels: Vec<&[u8]> = rev.iter().map(|l| l.as_bytes()).collect();
        labels.extend(zone.config.origin.labels().map(str::as_bytes));
        let (codes, txt) = match query::classify(&snap, &labels) {
            Some((z, _, Lookup::Listed(listing, addr))) => (
                listing.codes().iter().map(ToString::to_string).collect(),
                Some(crate::model::expand_txt(query::txt_template(z, listing), addr)),
            ),
            _ => (Vec::new(), None),
        };
        let mut entries: Vec<EntryView> = store
            .covering(&zone.config.origin, host)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .into_iter()
            .filter(|(_, e)| !matches!(e, StoredEntry::Listing(l) if l.expired(now)))
            .map(|(p, e)| view(p, e))
            .collect();
        entries.reverse();
        let builtin = query::is_test_point(host);
        let decided_by = if builtin {
            Some(EntryView {
                prefix: host.to_string(),
                kind: "built-in RFC 5782 test point",
                codes: codes.clone(),
                reason: None,
                added_at: None,
                expires_at: None,
            })
        } else if entries.is_empty() {
            None
        } else {
            // Reversed, the list is most specific first with an exclusion before a listing at the
            // same prefix: exactly the order in which entries decide.
            Some(entries.remove(0))
        };
        out.push(ZoneLookup {
            zone: zone.config.origin.to_string(),
            listed: !codes.is_empty(),
            codes,
            txt,
            decided_by,
            also_covering: entries,
        });
    }
    Ok(out)
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
            out.extend(found.into_iter().map(|(p, r)| {
                HistoryRecord {
                    zone: zone.to_string(),
                    prefix: p.to_string(),
                    at: humantime::format_rfc3339_micros(
                        std::time::UNIX_EPOCH + std::time::Duration::from_micros(r.at_us),
                    )
                    .to_string(),
                    action: r.action.as_str(),
                    actor: r.actor,
                    source: r.source,
                    codes: r.codes.iter().map(ToString::to_string).collect(),
                    reason: r.reason,
                    expires_at: r.expires_at,
                }
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
            kind: "listing",
            codes: l.listing.codes().iter().map(ToString::to_string).collect(),
            reason: l.listing.reason().map(str::to_string),
            added_at: Some(l.added_at),
            expires_at: l.expires_at,
        },
        StoredEntry::Exclusion(x) => EntryView {
            prefix: prefix.to_string(),
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
