//! Who may query (operator): access keys for zones with `require-key`, registered resolvers for
//! `registered-resolvers-only`, and the audit trail of both.
//!
//! - `GET /v1/access/keys`; `POST /v1/access/keys` `{name, key?, note?}` (201; the server makes
//!   a 26-character key unless one is given); `POST /v1/access/keys/{name}/disable` and `/enable`;
//!   `DELETE /v1/access/keys/{name}` (`{removed}`).
//! - `GET /v1/access/resolvers`; `POST /v1/access/resolvers` `{prefix, name}` (201);
//!   `DELETE /v1/access/resolvers?prefix=P`.
//! - `GET /v1/access/history?limit=N` (the last N changes, oldest first; default 100).
//!
//! A change is served when the call returns; counters are queries since the server started.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::{bad, change_error, internal, store_error, ApiError};
use super::listings::parse_prefix;
use super::lookup::format_time;
use super::state::ApiState;
use super::wire::{
    AccessHistoryRecord, AccessKeyRequest, AccessKeyView, PrefixQuery, Removed, ResolverRequest, ResolverView,
    ResolversResponse,
};
use crate::access::{KeyEntry, KeyName, KeySecret, ResolverEntry, KEY_LENGTH};
use crate::clock::unix_now;
use crate::publisher::{AccessChange, Origin};

fn key_view(e: &KeyEntry) -> AccessKeyView {
    AccessKeyView {
        name: e.key.name.to_string(),
        key: e.key.secret.as_str().to_string(),
        enabled: e.key.enabled,
        created_at: e.key.created,
        note: e.key.note.clone(),
        queries: e.answered.total(),
        refused: e.refused.total(),
    }
}

fn resolver_view(e: &ResolverEntry) -> ResolverView {
    ResolverView {
        prefix: e.resolver.prefix.to_string(),
        name: e.resolver.name.clone(),
        created_at: e.resolver.created,
        queries: e.queries.total(),
    }
}

fn parse_name(name: &str) -> Result<KeyName, ApiError> {
    KeyName::parse(name).map_err(|e| bad(e.to_string()))
}

/// Runs an access change through the writer.
async fn change(state: &ApiState, change: AccessChange) -> Result<(), ApiError> {
    state.writer.run(move |p| p.change_access(change, Origin::OPERATOR_API, unix_now())).await.map_err(change_error)
}

/// The key named `name` as served now.
fn served_key(state: &ApiState, name: &KeyName) -> Result<AccessKeyView, ApiError> {
    let snapshot = state.shared.load();
    let found = snapshot.access.keys().find(|e| &e.key.name == name).map(key_view);
    found.ok_or_else(|| internal(format!("access key {name} was written but is not served")))
}

pub async fn list_keys(State(state): State<ApiState>) -> Json<Vec<AccessKeyView>> {
    Json(state.shared.load().access.keys().map(key_view).collect())
}

pub async fn add_key(
    State(state): State<ApiState>,
    body: Result<Json<AccessKeyRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<AccessKeyView>), ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let name = parse_name(&req.name)?;
    let secret = match req.key.as_deref() {
        Some(given) => KeySecret::parse(given).map_err(|e| bad(e.to_string()))?,
        None => {
            let mut bytes = [0u8; KEY_LENGTH];
            super::token::random_bytes(&mut bytes).map_err(|e| internal(e.to_string()))?;
            KeySecret::from_random(&bytes)
        }
    };
    if req.note.as_ref().is_some_and(|n| n.len() > 255) {
        return Err(bad("a note is at most 255 bytes"));
    }
    change(&state, AccessChange::AddKey { name: name.clone(), secret, note: req.note }).await?;
    Ok((StatusCode::CREATED, Json(served_key(&state, &name)?)))
}

pub async fn disable_key(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<AccessKeyView>, ApiError> {
    set_enabled(state, name, false).await
}

pub async fn enable_key(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<AccessKeyView>, ApiError> {
    set_enabled(state, name, true).await
}

async fn set_enabled(state: ApiState, name: String, enabled: bool) -> Result<Json<AccessKeyView>, ApiError> {
    let name = parse_name(&name)?;
    change(&state, AccessChange::SetKeyEnabled { name: name.clone(), enabled }).await?;
    Ok(Json(served_key(&state, &name)?))
}

pub async fn remove_key(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Json<Removed>, ApiError> {
    change(&state, AccessChange::RemoveKey { name: parse_name(&name)? }).await?;
    Ok(Json(Removed { removed: name }))
}

pub async fn list_resolvers(State(state): State<ApiState>) -> Json<ResolversResponse> {
    let snapshot = state.shared.load();
    Json(ResolversResponse {
        registered_resolvers_only: snapshot.access.resolvers_only,
        resolvers: snapshot.access.resolvers().map(resolver_view).collect(),
    })
}

pub async fn add_resolver(
    State(state): State<ApiState>,
    body: Result<Json<ResolverRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ResolverView>), ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let prefix = parse_prefix(&req.prefix)?;
    let name = req.name.trim().to_string();
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(bad("a resolver's name is 1 to 255 bytes of text without control characters"));
    }
    change(&state, AccessChange::AddResolver { prefix, name }).await?;
    let snapshot = state.shared.load();
    let found = snapshot.access.resolvers().find(|e| e.resolver.prefix == prefix).map(resolver_view);
    Ok((StatusCode::CREATED, Json(found.ok_or_else(|| internal("resolver written but not served"))?)))
}

pub async fn remove_resolver(
    State(state): State<ApiState>,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<Removed>, ApiError> {
    let prefix = parse_prefix(&q.prefix)?;
    change(&state, AccessChange::RemoveResolver { prefix }).await?;
    Ok(Json(Removed { removed: prefix.to_string() }))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    limit: Option<usize>,
}

pub async fn history(
    State(state): State<ApiState>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<AccessHistoryRecord>>, ApiError> {
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(100).min(100_000);
    let records = tokio::task::spawn_blocking(move || store.access_history(limit))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(store_error)?;
    Ok(Json(
        records
            .into_iter()
            .map(|r| AccessHistoryRecord {
                at: format_time(r.at_us),
                action: r.action,
                actor: r.actor,
                source: r.source,
                subject: r.subject,
                detail: r.detail,
            })
            .collect(),
    ))
}
