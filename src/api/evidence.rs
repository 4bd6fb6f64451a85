//! Evidence: `POST /v1/evidence` with one abuse report (ARF) or an mbox of them as the body (at
//! most [`MAX_UPLOAD_BYTES`]), by a reporter with its own token, or by the operator for a reporter
//! (`?reporter=NAME`); each is read, checked and stored, and the policies list what they say to
//! list before the call returns. Operator only: `GET /v1/evidence/{ip}` (every piece of evidence
//! about an address, oldest first) and the reporters (`GET`/`POST /v1/reporters`,
//! `DELETE /v1/reporters/{name}`; the token is shown once, only its hash is kept).

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::auth::Caller;
use super::error::{bad, change_error, internal, store_error, ApiError};
use super::state::ApiState;
use super::wire::{EvidenceView, IngestResponse, PolicyListingView, RefusedReport, ReporterRequest, ReporterView};
use crate::clock::unix_now;
use crate::evidence::{arf, split_mbox, valid_reporter_name, Reporter};

/// Largest upload of reports.
pub const MAX_UPLOAD_BYTES: usize = 16 << 20;

#[derive(Debug, Deserialize)]
pub struct IngestQuery {
    reporter: Option<String>,
}

pub async fn ingest(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<IngestQuery>,
    body: Bytes,
) -> Result<Json<IngestResponse>, ApiError> {
    let reporter = match (caller, q.reporter) {
        (Caller::Reporter(me), None) => me,
        (Caller::Reporter(me), Some(named)) if named == me => me,
        (Caller::Reporter(_), Some(_)) => {
            return Err(ApiError(StatusCode::FORBIDDEN, "a reporter sends evidence in its own name only".into()))
        }
        (_, Some(named)) => named,
        (_, None) => return Err(bad("say which reporter the reports come from: ?reporter=NAME")),
    };
    let (reports, mut refused) = tokio::task::spawn_blocking(move || {
        let mut reports = Vec::new();
        let mut refused = Vec::new();
        for (i, message) in split_mbox(&body).into_iter().enumerate() {
            match arf::parse(message) {
                Ok(r) => reports.push((i + 1, r)),
                Err(e) => refused.push(RefusedReport { message: i + 1, error: e.to_string() }),
            }
        }
        (reports, refused)
    })
    .await
    .map_err(|e| internal(e.to_string()))?;
    let done =
        state.writer.run(move |p| p.ingest_evidence(&reporter, reports, unix_now())).await.map_err(change_error)?;
    refused.extend(done.refused.into_iter().map(|(message, error)| RefusedReport { message, error }));
    refused.sort_by_key(|r| r.message);
    Ok(Json(IngestResponse {
        accepted: done.accepted,
        duplicates: done.duplicates,
        refused,
        listed: done
            .listed
            .into_iter()
            .map(|l| PolicyListingView {
                ip: l.ip.to_string(),
                policy: l.policy.to_string(),
                mailings: l.mailings,
                reporters: l.reporters,
                until: l.until,
            })
            .collect(),
    }))
}

pub async fn show(State(state): State<ApiState>, Path(ip): Path<String>) -> Result<Json<Vec<EvidenceView>>, ApiError> {
    let ip: IpAddr = ip.parse().map_err(|_| bad(format!("{ip:?} is not an IP address")))?;
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.evidence_of(ip))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(store_error)?;
    Ok(Json(
        found
            .into_iter()
            .map(|e| EvidenceView {
                at: e.at,
                reporter: e.reporter,
                kind: "complaint".into(),
                mailing: e.mailing,
                report_id: e.report_id,
            })
            .collect(),
    ))
}

pub async fn list_reporters(State(state): State<ApiState>) -> Json<Vec<ReporterView>> {
    let snapshot = state.shared.load();
    Json(
        snapshot
            .reporters
            .iter()
            .map(|r| ReporterView {
                name: r.name.clone(),
                contact: r.contact.clone(),
                created_at: r.created,
                token: None,
            })
            .collect(),
    )
}

pub async fn add_reporter(
    State(state): State<ApiState>,
    body: Result<Json<ReporterRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ReporterView>), ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    if !valid_reporter_name(&req.name) {
        return Err(bad(format!(
            "{:?} is not a reporter name (1 to 64 of a-z, 0-9, -, _ and ., starting with a letter or digit)",
            req.name
        )));
    }
    let contact = req.contact.trim().to_string();
    if contact.is_empty() || contact.len() > 255 || contact.chars().any(char::is_control) {
        return Err(bad("a contact is 1 to 255 bytes of text without control characters"));
    }
    let token = super::token::new_reporter_token().map_err(|e| internal(e.to_string()))?;
    let now = unix_now();
    let reporter = Reporter {
        name: req.name.clone(),
        contact: contact.clone(),
        token_hash: super::token::hash(&token),
        created: now,
    };
    let name = req.name.clone();
    state.writer.run(move |p| p.change_reporter(&name, Some(reporter))).await.map_err(change_error)?;
    Ok((StatusCode::CREATED, Json(ReporterView { name: req.name, contact, created_at: now, token: Some(token) })))
}

pub async fn remove_reporter(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<super::wire::Removed>, ApiError> {
    let target = name.clone();
    state.writer.run(move |p| p.change_reporter(&target, None)).await.map_err(change_error)?;
    Ok(Json(super::wire::Removed { removed: name }))
}
