//! The HTTP API for operators and marketers (axum; the only module that uses it). JSON under `/v1`.
//!
//! Operator endpoints:
//! - `GET  /v1/zones` — served zones and their serials.
//! - `POST /v1/zones/{zone}/listings` `{prefix, codes, reason?, expires?}`; `DELETE ...?prefix=`.
//! - `POST /v1/zones/{zone}/exclusions` `{prefix, reason?}`; `DELETE ...?prefix=`.
//! - `GET  /v1/lookup/{ip}` — the answer the DNS gives now, per zone, and the entries behind it
//!   ([`lookup`]).
//! - `GET  /v1/history?prefix=` — every change that affected an address or prefix, oldest first.
//! - `POST /v1/zones/{zone}/import?type=&default_code=&name=` — an rbldnsd file as the body:
//!   replaces the zone's list in one atomic change and one publish.
//! - marketers and their networks: see [`registry`]; `GET /v1/lookup/{ip}` is open to marketers too.
//! - `POST /v1/backups` — a consistent copy of the database under `<data-dir>/backups/`.
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
pub mod lookup;
pub mod metrics;
pub mod registry;
pub mod tls;
pub mod token;

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
use crate::snapshot::SharedSnapshot;
use crate::store::Store;

use lookup::{answer_in, format_time};

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
        .route("/v1/backups", post(backup))
        .route("/v1/stats", get(metrics::stats))
        .route("/metrics", get(metrics::prometheus))
        .layer(middleware::from_fn(auth::operator_only));
    let marketer = Router::new()
        .route("/v1/registrations", get(registry::registrations).post(registry::register).delete(registry::unregister))
        .layer(middleware::from_fn(auth::marketer_only));
    Router::new()
        .route("/v1/lookup/{ip}", get(lookup::lookup))
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

#[derive(Serialize)]
struct BackupResponse {
    /// Where the copy is (on the server's machine).
    path: String,
    zones: Vec<ZoneInfo>,
}

/// Writes a consistent copy of the whole database to `<data-dir>/backups/<UTC time>`; the server
/// keeps answering and accepting changes meanwhile.
async fn backup(State(state): State<ApiState>) -> Result<(StatusCode, Json<BackupResponse>), ApiError> {
    let store = state.store.clone();
    let zones = state.shared.load().zones.iter().map(|z| z.config.origin.clone()).collect::<Vec<_>>();
    let written = tokio::task::spawn_blocking(move || -> Result<BackupResponse, ApiError> {
        let internal = |e: String| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e);
        let parent = store.path().join("backups");
        std::fs::create_dir_all(&parent).map_err(|e| internal(format!("cannot create {}: {e}", parent.display())))?;
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace(':', "");
        let mut dir = parent.join(&stamp);
        for n in 2.. {
            if !dir.exists() {
                break;
            }
            dir = parent.join(format!("{stamp}-{n}"));
        }
        store.checkpoint(&dir).map_err(|e| ApiError(store_status(&e), e.to_string()))?;
        // The serials read from the copy itself, so the answer says exactly what it holds.
        let copy = Store::open_read_only(&dir).map_err(|e| internal(format!("reading the backup back: {e}")))?;
        let mut infos = Vec::new();
        for zone in zones {
            let serial = copy.serial(&zone).map_err(|e| internal(e.to_string()))?.unwrap_or(0);
            infos.push(ZoneInfo { zone: zone.to_string(), serial });
        }
        let path = std::fs::canonicalize(&dir).unwrap_or(dir);
        Ok(BackupResponse { path: path.display().to_string(), zones: infos })
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    tracing::info!(path = %written.path, "backup written");
    Ok((StatusCode::CREATED, Json(written)))
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
