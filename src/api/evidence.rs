//! Evidence: `POST /v1/evidence` with one abuse report (ARF) or an mbox of them as the body (at
//! most [`MAX_UPLOAD_BYTES`]); with `?kind=trap`, messages that reached spam traps; as
//! `application/json`, evidence records (one, an array, or one per line): trap hits
//! `{"kind": "trap", "ip", "at"?, "recipient", "id"?}` and daily volume
//! `{"kind": "volume", "ip", "day": "YYYY-MM-DD", "messages"}`; by a reporter with its own token, or by the operator for a reporter
//! (`?reporter=NAME`); each is read, checked and stored, and the policies list what they say to
//! list before the call returns. Operator only: `GET /v1/evidence/{ip}` (every piece of evidence
//! about an address, oldest first) and the reporters (`GET`/`POST /v1/reporters`,
//! `DELETE /v1/reporters/{name}`; the token is shown once, only its hash is kept).

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;

use super::auth::Caller;
use super::error::{bad, change_error, internal, store_error, ApiError};
use super::state::ApiState;
use super::wire::{EvidenceView, IngestResponse, PolicyListingView, RefusedReport, ReporterRequest, ReporterView};
use crate::clock::unix_now;
use crate::evidence::{
    arf, parse_day, split_mbox, valid_reporter_name, EvidenceKind, IpFrom, Reporter, Submission, TrapHit, Volume,
};

/// Largest upload of reports.
pub const MAX_UPLOAD_BYTES: usize = 16 << 20;

#[derive(Debug, Deserialize)]
pub struct IngestQuery {
    reporter: Option<String>,
    /// `report` (the default: feedback reports) or `trap` (every message reached a trap).
    kind: Option<String>,
}

/// A JSON evidence record: `{"kind": "trap", "ip", "at"?, "recipient", "id"?}` or
/// `{"kind": "volume", "ip", "day", "messages"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRecord {
    kind: String,
    ip: String,
    /// Unix seconds.
    at: Option<u64>,
    recipient: Option<String>,
    id: Option<String>,
    /// `YYYY-MM-DD` (UTC).
    day: Option<String>,
    messages: Option<u64>,
}

/// The submissions in a body, each with its 1-based position, and those that gave none and why.
fn read_body(body: &[u8], kind: &str, json: bool) -> (Vec<(usize, Submission)>, Vec<RefusedReport>) {
    let (mut out, mut refused) = (Vec::new(), Vec::new());
    if json {
        // One record, an array of them, or a stream (one per line).
        let mut records: Vec<serde_json::Value> = Vec::new();
        for value in serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>() {
            match value {
                Ok(serde_json::Value::Array(all)) => records.extend(all),
                Ok(one) => records.push(one),
                Err(e) => {
                    refused.push(RefusedReport { message: records.len() + 1, error: format!("not JSON: {e}") });
                    break;
                }
            }
        }
        for (i, value) in records.into_iter().enumerate() {
            match json_record(value) {
                Ok(s) => out.push((i + 1, s)),
                Err(error) => refused.push(RefusedReport { message: i + 1, error }),
            }
        }
        return (out, refused);
    }
    for (i, message) in split_mbox(body).into_iter().enumerate() {
        let read = match kind {
            "trap" => arf::trap_hit(message).map(Submission::Trap),
            _ => arf::parse(message).map(Submission::Report),
        };
        match read {
            Ok(s) => out.push((i + 1, s)),
            Err(e) => refused.push(RefusedReport { message: i + 1, error: e.to_string() }),
        }
    }
    (out, refused)
}

fn json_record(value: serde_json::Value) -> Result<Submission, String> {
    let r: JsonRecord = serde_json::from_value(value).map_err(|e| format!("not an evidence record: {e}"))?;
    let source_ip = r.ip.parse().map_err(|_| format!("{:?} is not an IP address", r.ip))?;
    match r.kind.as_str() {
        "trap" => {
            let recipient = r
                .recipient
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| t.contains('@'))
                .ok_or("a trap record needs the trap address as recipient")?;
            Ok(Submission::Trap(TrapHit {
                source_ip,
                ip_from: IpFrom::SourceIpField,
                recipient,
                at: r.at,
                message_id: r.id,
            }))
        }
        "volume" => {
            let day = r.day.ok_or("a volume record needs the day (YYYY-MM-DD, UTC)")?;
            let messages = r.messages.ok_or("a volume record needs messages (the day's count)")?;
            Ok(Submission::Volume(Volume { source_ip, day: parse_day(&day)?, messages }))
        }
        other => Err(format!("unknown evidence kind {other:?} (trap, volume)")),
    }
}

pub async fn ingest(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<IngestResponse>, ApiError> {
    let kind = q.kind.unwrap_or_else(|| "report".into());
    if !matches!(kind.as_str(), "report" | "trap") {
        return Err(bad(format!("kind is report or trap, not {kind:?}")));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let reporter = match (caller, q.reporter) {
        (Caller::Reporter(me), None) => me,
        (Caller::Reporter(me), Some(named)) if named == me => me,
        (Caller::Reporter(_), Some(_)) => {
            return Err(ApiError(StatusCode::FORBIDDEN, "a reporter sends evidence in its own name only".into()))
        }
        (_, Some(named)) => named,
        (_, None) => return Err(bad("say which reporter the reports come from: ?reporter=NAME")),
    };
    let (reports, mut refused) = tokio::task::spawn_blocking(move || read_body(&body, &kind, json))
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
                zone: l.zone,
                policy: l.policy.to_string(),
                summary: l.summary,
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
                kind: e.kind.as_str().to_string(),
                messages: (e.kind == EvidenceKind::Volume).then_some(e.messages),
                about: e.about,
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
