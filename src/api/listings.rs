//! The operator's list through HTTP: zones, listings, exclusions, and the history of a prefix.
//!
//! - `GET  /v1/zones` — served zones, their serials and datasets.
//! - `DELETE /v1/zones/{zone}/datasets/{name}` — a dataset and all its entries (not `operator`).
//! - `POST /v1/zones/{zone}/listings` [`ListingRequest`]; `DELETE ...?prefix=[&dataset=]`.
//! - `POST /v1/zones/{zone}/exclusions` [`ExclusionRequest`]; `DELETE ...?prefix=[&dataset=]`.
//!
//! A change goes to the dataset the request names (`operator` when it names none); an addition
//! to a dataset the zone does not have yet creates it.
//! - `GET  /v1/history?prefix=` — every change that affected an address or prefix, oldest first.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

use super::error::{bad, change_error, internal, store_error, ApiError};
use super::lookup::format_time;
use super::state::ApiState;
use super::wire::{
    ChangeResponse, DatasetRemoved, ExclusionRequest, HistoryRecord, ListingRequest, PrefixQuery, ZoneInfo,
};
use crate::clock::unix_now;
use crate::model::{Listing, ListingCode, Prefix};
use crate::name::{DatasetName, DomainName};
use crate::publisher::{Change, Origin};

pub async fn zones(State(state): State<ApiState>) -> Json<Vec<ZoneInfo>> {
    let snap = state.shared.load();
    Json(
        snap.zones
            .iter()
            .map(|z| ZoneInfo {
                zone: z.config.origin.to_string(),
                serial: z.serial,
                datasets: z.datasets().map(|d| d.name.to_string()).collect(),
            })
            .collect(),
    )
}

/// `DELETE /v1/zones/{zone}/datasets/{name}`: the dataset and all its entries, gone in one change.
pub async fn remove_dataset(
    State(state): State<ApiState>,
    Path((zone, dataset)): Path<(String, String)>,
) -> Result<Json<DatasetRemoved>, ApiError> {
    let name = parse_zone(&zone)?;
    let dataset = parse_dataset(Some(&dataset))?;
    let target = dataset.clone();
    let serial = state
        .writer
        .run(move |p| p.remove_dataset(&name, &target, Origin::OPERATOR_API, unix_now()))
        .await
        .map_err(change_error)?;
    Ok(Json(DatasetRemoved { zone, dataset: dataset.to_string(), serial }))
}

pub async fn add_listing(
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
    let dataset = parse_dataset(req.dataset.as_deref())?;
    let change = Change::AddListing { prefix, listing, expires_at };
    Ok((StatusCode::CREATED, Json(apply(&state, zone, dataset, change).await?)))
}

pub async fn remove_listing(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<ChangeResponse>, ApiError> {
    let prefix = parse_prefix(&q.prefix)?;
    let dataset = parse_dataset(q.dataset.as_deref())?;
    Ok(Json(apply(&state, zone, dataset, Change::RemoveListing { prefix }).await?))
}

pub async fn add_exclusion(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    body: Result<Json<ExclusionRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ChangeResponse>), ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let prefix = parse_prefix(&req.prefix)?;
    if let Some(r) = &req.reason {
        crate::model::validate_txt(r).map_err(|e| bad(e.to_string()))?;
    }
    let dataset = parse_dataset(req.dataset.as_deref())?;
    let change = Change::AddExclusion { prefix, reason: req.reason };
    Ok((StatusCode::CREATED, Json(apply(&state, zone, dataset, change).await?)))
}

pub async fn remove_exclusion(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<ChangeResponse>, ApiError> {
    let prefix = parse_prefix(&q.prefix)?;
    let dataset = parse_dataset(q.dataset.as_deref())?;
    Ok(Json(apply(&state, zone, dataset, Change::RemoveExclusion { prefix }).await?))
}

pub async fn history(
    State(state): State<ApiState>,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<Vec<HistoryRecord>>, ApiError> {
    let prefix = parse_prefix(&q.prefix)?;
    let zones: Vec<DomainName> = state.shared.load().zones.iter().map(|z| z.config.origin.clone()).collect();
    let store = state.store.clone();
    let records = tokio::task::spawn_blocking(move || -> Result<Vec<HistoryRecord>, ApiError> {
        let mut out = Vec::new();
        for zone in zones {
            let found = store.history(&zone, prefix).map_err(store_error)?;
            out.extend(found.into_iter().map(|(p, r)| HistoryRecord {
                zone: zone.to_string(),
                dataset: r.dataset.to_string(),
                prefix: p.to_string(),
                at: format_time(r.at_us),
                action: r.action.as_str().to_string(),
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
    .map_err(|e| internal(e.to_string()))??;
    Ok(Json(records))
}

/// An address or CIDR prefix from a request.
pub fn parse_prefix(text: &str) -> Result<Prefix, ApiError> {
    text.parse::<Prefix>().map_err(|e| bad(format!("invalid prefix: {e}")))
}

/// A zone named in a path: 404 when it is not a name at all.
pub fn parse_zone(text: &str) -> Result<DomainName, ApiError> {
    DomainName::parse(text).map_err(|e| ApiError(StatusCode::NOT_FOUND, e.to_string()))
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

/// A dataset named in a request; `operator` when none is.
pub fn parse_dataset(text: Option<&str>) -> Result<DatasetName, ApiError> {
    text.map_or(Ok(DatasetName::operator()), |t| DatasetName::parse(t).map_err(|e| bad(e.to_string())))
}

/// Runs a change to one dataset on the single writer.
async fn apply(
    state: &ApiState,
    zone: String,
    dataset: DatasetName,
    change: Change,
) -> Result<ChangeResponse, ApiError> {
    let name = parse_zone(&zone)?;
    let prefix = change.prefix();
    let target = dataset.clone();
    let serial = state
        .writer
        .run(move |p| p.apply(&name, &target, change, Origin::OPERATOR_API, unix_now()))
        .await
        .map_err(change_error)?;
    Ok(ChangeResponse { zone, dataset: dataset.to_string(), prefix: prefix.to_string(), serial })
}
