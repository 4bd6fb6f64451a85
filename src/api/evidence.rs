//! Evidence (operator): `POST /v1/evidence?reporter=NAME` with one abuse report (ARF) or an mbox
//! of them as the body (at most [`MAX_UPLOAD_BYTES`]); each is read, checked and stored, and the
//! policies list what they say to list before the call returns. `GET /v1/evidence/{ip}`: every
//! piece of evidence about an address, oldest first.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;

use super::error::{bad, change_error, internal, store_error, ApiError};
use super::state::ApiState;
use super::wire::{EvidenceView, IngestResponse, PolicyListingView, RefusedReport};
use crate::access::KeyName;
use crate::clock::unix_now;
use crate::evidence::{arf, split_mbox};

/// Largest upload of reports.
pub const MAX_UPLOAD_BYTES: usize = 16 << 20;

#[derive(Debug, Deserialize)]
pub struct IngestQuery {
    reporter: String,
}

pub async fn ingest(
    State(state): State<ApiState>,
    Query(q): Query<IngestQuery>,
    body: Bytes,
) -> Result<Json<IngestResponse>, ApiError> {
    // Reporter names follow the rules of access key names.
    let reporter = KeyName::parse(&q.reporter).map_err(|e| bad(e.to_string().replace("access key", "reporter")))?;
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
    let name = reporter.to_string();
    let done = state.writer.run(move |p| p.ingest_evidence(&name, reports, unix_now())).await.map_err(change_error)?;
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
