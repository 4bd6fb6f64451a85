//! Removal requests, for the operator: `GET /v1/delisting[?state=S]` (newest first),
//! `GET /v1/delisting/{id}`, `POST /v1/delisting/{id}/approve` (`{prefix?}`: the exclusion is
//! written in the operator's dataset of every zone whose operator listing covers it, in DNS
//! when the call returns) and `POST /v1/delisting/{id}/reject` (`{reason}`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;

use super::error::{bad, change_error, ApiError};
use super::listings::parse_prefix;
use super::state::ApiState;
use super::wire::{ApproveRequest, RejectRequest, RemovalEvent, RemovalView};
use crate::clock::unix_now;
use crate::delisting::{Mail, RemovalRequest, State as RequestState};
use crate::publisher::Decision;

/// At most this many requests in one list.
const LIST_LIMIT: usize = 10_000;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
}

pub fn view(r: RemovalRequest) -> RemovalView {
    let (approved_prefix, rejected_reason, decided_by) = match &r.state {
        RequestState::Approved { prefix, by, .. } => (Some(prefix.to_string()), None, Some(by.clone())),
        RequestState::Rejected { reason, by } => (None, Some(reason.clone()), Some(by.clone())),
        _ => (None, None, None),
    };
    RemovalView {
        id: r.id,
        prefix: r.prefix.to_string(),
        contact: r.contact,
        text: r.text,
        created: r.created,
        state: r.state.as_str().to_string(),
        approved_prefix,
        rejected_reason,
        decided_by,
        mail: match r.mail {
            Mail::NotYet => "not yet".into(),
            Mail::Sent => "sent".into(),
            Mail::Failed { why } => format!("failed: {why}"),
        },
        events: r.events.into_iter().map(|e| RemovalEvent { at: e.at, what: e.what }).collect(),
    }
}

pub async fn list(
    State(state): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<RemovalView>>, ApiError> {
    if let Some(s) = &q.state {
        if !["unconfirmed", "confirmed", "approved", "rejected", "open"].contains(&s.as_str()) {
            return Err(bad(format!("state is unconfirmed, confirmed, approved, rejected or open, not {s:?}")));
        }
    }
    let all = state.store.requests(LIST_LIMIT).map_err(super::error::store_error)?;
    let wanted = |r: &RemovalRequest| match q.state.as_deref() {
        None => true,
        Some("open") => r.state.is_open(),
        Some(s) => r.state.as_str() == s,
    };
    Ok(Json(all.into_iter().filter(wanted).map(view).collect()))
}

pub async fn show(State(state): State<ApiState>, Path(id): Path<u64>) -> Result<Json<RemovalView>, ApiError> {
    let found = state.store.request(id).map_err(super::error::store_error)?;
    found.map(|r| Json(view(r))).ok_or_else(|| change_error(crate::publisher::ChangeError::NoRequest(id)))
}

pub async fn approve(
    State(state): State<ApiState>,
    Path(id): Path<u64>,
    body: Result<Json<ApproveRequest>, JsonRejection>,
) -> Result<Json<RemovalView>, ApiError> {
    let req = match body {
        Ok(Json(r)) => r,
        Err(JsonRejection::MissingJsonContentType(_)) => ApproveRequest::default(),
        Err(e) => return Err(bad(e.body_text())),
    };
    let prefix = req.prefix.as_deref().map(parse_prefix).transpose()?;
    let decision = Decision::Approve { prefix };
    let done = state.writer.run(move |p| p.decide_removal(id, decision, "operator", unix_now())).await;
    Ok(Json(view(done.map_err(change_error)?)))
}

pub async fn reject(
    State(state): State<ApiState>,
    Path(id): Path<u64>,
    body: Result<Json<RejectRequest>, JsonRejection>,
) -> Result<Json<RemovalView>, ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let reason = req.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(bad("a reason is 1 to 500 characters without control characters"));
    }
    let decision = Decision::Reject { reason };
    let done = state.writer.run(move |p| p.decide_removal(id, decision, "operator", unix_now())).await;
    Ok(Json(view(done.map_err(change_error)?)))
}
