//! Marketer registration over HTTP.
//!
//! Operator (operator token):
//! - `GET  /v1/marketers`; `POST /v1/marketers` `{id, legal_name, registration_number, contact,
//!   networks}` → the account and its token (shown once; only its hash is stored);
//! - `GET  /v1/marketers/{id}` — account, declarations, history;
//! - `POST /v1/marketers/{id}/suspend` `{reason}`, `.../resume`, `.../rotate-token` → new token;
//! - `POST /v1/marketers/{id}/networks` `{prefix}`; `DELETE .../networks?prefix=`.
//!
//! Marketer (its own token; reaches only its own account):
//! - `GET /v1/registrations` — what is declared, since when, and what the DNS answers for each;
//! - `POST /v1/registrations` `{prefixes, reason?}`; `DELETE /v1/registrations` `{prefixes}`.
//!
//! Every change is planned against the registry's rules first (nothing is written when any part
//! is refused), then stored and published before the response (read-your-writes).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::Caller;
use super::error::{bad, change_error, internal, registry_error, store_error, ApiError};
use super::listings::parse_prefix;
use super::lookup::{answer_in, format_time};
use super::state::ApiState;
use super::token;
use super::wire::{
    DeclarationView, DeclareRequest, DeclareResponse, EventView, MarketerDetail, MarketerStatus, MarketerView,
    NetworkRequest, NewMarketer, PrefixQuery, Reason, Registrations, WithToken, WithdrawRequest, ZoneAnswer, ZoneInfo,
};
use crate::clock::unix_now;
use crate::evidence::{policy, EvidenceKind};
use crate::model::Prefix;
use crate::publisher::{Origin, RegistryOutcome};
use crate::registry::{Account, Marketer, MarketerId, RegistryError, Request, Status};
use crate::store::AuditRecord;

fn marketer_view(a: &Account) -> MarketerView {
    let m = &a.marketer;
    let (status, suspended_reason) = match &m.status {
        Status::Active => (MarketerStatus::Active, None),
        Status::Suspended { reason } => (MarketerStatus::Suspended, Some(reason.clone())),
    };
    MarketerView {
        id: m.id.to_string(),
        legal_name: m.legal_name.clone(),
        registration_number: m.registration_number.clone(),
        contact: m.contact.clone(),
        status,
        suspended_reason,
        networks: m.networks.iter().map(ToString::to_string).collect(),
        created_at: a.created_at,
        declared: a.declared.len(),
    }
}

fn event_view(r: AuditRecord) -> EventView {
    EventView {
        at: format_time(r.at_us),
        action: r.action.as_str().to_string(),
        actor: r.actor,
        source: r.source,
        reason: r.reason,
    }
}

fn declarations(state: &ApiState, account: &Account) -> Vec<DeclarationView> {
    let snap = state.shared.load_full();
    let since = unix_now().saturating_sub(30 * 86_400);
    // Evidence against a declaration; a store that cannot be read shows none (the rest answers).
    let now = unix_now();
    let evidence = |prefix: Prefix| {
        let found = state.store.evidence_in(prefix).unwrap_or_default();
        let count = |kind| found.iter().filter(|e| e.kind == kind && e.at >= since).count();
        (count(EvidenceKind::Complaint), count(EvidenceKind::Trap), policy::rate(&found, now, 30))
    };
    account
        .declared
        .iter()
        .map(|(prefix, d)| (prefix, d, evidence(*prefix)))
        .map(|(prefix, d, (complaints_30d, trap_hits_30d, rate))| DeclarationView {
            complaints_30d,
            trap_hits_30d,
            messages_30d: rate.messages,
            complaint_rate_30d: (rate.messages > 0).then(|| policy::percent(rate.complaints, rate.messages)),
            prefix: prefix.to_string(),
            added_at: d.added_at,
            reason: d.reason.clone(),
            answers: snap
                .zones
                .iter()
                .filter(|z| snap.registry_applies_to(&z.config.origin))
                .map(|z| {
                    let (codes, txts) = answer_in(&snap, z, prefix.first_address());
                    ZoneAnswer { zone: z.config.origin.to_string(), codes, txt: txts.into_iter().next() }
                })
                .collect(),
        })
        .collect()
}

// ---- operator -------------------------------------------------------------------------------

pub async fn list_marketers(State(state): State<ApiState>) -> Json<Vec<MarketerView>> {
    Json(state.shared.load().registry.accounts().map(marketer_view).collect())
}

pub async fn add_marketer(
    State(state): State<ApiState>,
    body: Result<Json<NewMarketer>, JsonRejection>,
) -> Result<(StatusCode, Json<WithToken>), ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let id = MarketerId::parse(&req.id).map_err(|e| registry_error(&e))?;
    let networks = req.networks.iter().map(|n| parse_prefix(n)).collect::<Result<Vec<_>, _>>()?;
    let token = token::new_marketer_token().map_err(|e| internal(e.to_string()))?;
    let marketer = Marketer {
        id,
        legal_name: req.legal_name,
        registration_number: req.registration_number,
        contact: req.contact,
        networks,
        status: Status::Active,
    };
    let request = Request::AddMarketer { marketer, token_hash: token::hash(&token) };
    let outcome = run(&state, request, "operator".into()).await?;
    tracing::info!(marketer = %outcome.plan.account.marketer.id, "marketer added");
    Ok((StatusCode::CREATED, Json(WithToken { marketer: marketer_view(&outcome.plan.account), token })))
}

pub async fn show_marketer(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<MarketerDetail>, ApiError> {
    let id = MarketerId::parse(&id).map_err(|e| registry_error(&e))?;
    let snap = state.shared.load_full();
    let account = snap.registry.get(&id).ok_or_else(|| registry_error(&RegistryError::UnknownMarketer(id.clone())))?;
    let store = state.store.clone();
    let history = tokio::task::spawn_blocking(move || store.marketer_history(&id))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(store_error)?;
    Ok(Json(MarketerDetail {
        marketer: marketer_view(account),
        declarations: declarations(&state, account),
        history: history.into_iter().map(event_view).collect(),
    }))
}

pub async fn suspend(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Result<Json<Reason>, JsonRejection>,
) -> Result<Json<MarketerView>, ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let id = MarketerId::parse(&id).map_err(|e| registry_error(&e))?;
    let outcome = run(&state, Request::Suspend { id, reason: req.reason }, "operator".into()).await?;
    Ok(Json(marketer_view(&outcome.plan.account)))
}

pub async fn resume(State(state): State<ApiState>, Path(id): Path<String>) -> Result<Json<MarketerView>, ApiError> {
    let id = MarketerId::parse(&id).map_err(|e| registry_error(&e))?;
    let outcome = run(&state, Request::Resume { id }, "operator".into()).await?;
    Ok(Json(marketer_view(&outcome.plan.account)))
}

pub async fn rotate_token(State(state): State<ApiState>, Path(id): Path<String>) -> Result<Json<WithToken>, ApiError> {
    let id = MarketerId::parse(&id).map_err(|e| registry_error(&e))?;
    let token = token::new_marketer_token().map_err(|e| internal(e.to_string()))?;
    let request = Request::RotateToken { id, token_hash: token::hash(&token) };
    let outcome = run(&state, request, "operator".into()).await?;
    Ok(Json(WithToken { marketer: marketer_view(&outcome.plan.account), token }))
}

pub async fn add_network(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Result<Json<NetworkRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<MarketerView>), ApiError> {
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let id = MarketerId::parse(&id).map_err(|e| registry_error(&e))?;
    let network = parse_prefix(&req.prefix)?;
    let outcome = run(&state, Request::AddNetwork { id, network }, "operator".into()).await?;
    Ok((StatusCode::CREATED, Json(marketer_view(&outcome.plan.account))))
}

pub async fn remove_network(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<MarketerView>, ApiError> {
    let id = MarketerId::parse(&id).map_err(|e| registry_error(&e))?;
    let network = parse_prefix(&q.prefix)?;
    let outcome = run(&state, Request::RemoveNetwork { id, network }, "operator".into()).await?;
    Ok(Json(marketer_view(&outcome.plan.account)))
}

// ---- marketer -------------------------------------------------------------------------------

pub async fn registrations(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Registrations>, ApiError> {
    let id = marketer_of(&caller)?;
    let snap = state.shared.load_full();
    let account = snap.registry.get(&id).ok_or_else(|| registry_error(&RegistryError::UnknownMarketer(id)))?;
    Ok(Json(Registrations { marketer: marketer_view(account), registrations: declarations(&state, account) }))
}

fn declare_response(outcome: &RegistryOutcome) -> DeclareResponse {
    DeclareResponse {
        added: outcome.plan.added.iter().map(|(p, _)| p.to_string()).collect(),
        removed: outcome.plan.removed.iter().map(ToString::to_string).collect(),
        serials: outcome
            .serials
            .iter()
            .map(|(z, s)| ZoneInfo { zone: z.to_string(), serial: *s, datasets: Vec::new() })
            .collect(),
    }
}

pub async fn register(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<DeclareRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<DeclareResponse>), ApiError> {
    let id = marketer_of(&caller)?;
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let prefixes = parse_list(&req.prefixes)?;
    let actor = format!("marketer {id}");
    let outcome = run(&state, Request::Declare { id, prefixes, reason: req.reason }, actor).await?;
    Ok((StatusCode::CREATED, Json(declare_response(&outcome))))
}

pub async fn unregister(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<WithdrawRequest>, JsonRejection>,
) -> Result<Json<DeclareResponse>, ApiError> {
    let id = marketer_of(&caller)?;
    let Json(req) = body.map_err(|e| bad(e.body_text()))?;
    let prefixes = parse_list(&req.prefixes)?;
    let actor = format!("marketer {id}");
    let outcome = run(&state, Request::Undeclare { id, prefixes }, actor).await?;
    Ok(Json(declare_response(&outcome)))
}

// ---- shared ---------------------------------------------------------------------------------

fn marketer_of(caller: &Caller) -> Result<MarketerId, ApiError> {
    match caller {
        Caller::Marketer(id) => Ok(id.clone()),
        Caller::Operator | Caller::Reporter(_) => {
            Err(ApiError(StatusCode::FORBIDDEN, "this endpoint is for marketers".into()))
        }
    }
}

fn parse_list(texts: &[String]) -> Result<Vec<Prefix>, ApiError> {
    if texts.is_empty() {
        return Err(bad("give at least one address or prefix"));
    }
    texts.iter().map(|t| parse_prefix(t)).collect()
}

/// Runs a registry change on the single writer.
async fn run(state: &ApiState, request: Request, actor: String) -> Result<RegistryOutcome, ApiError> {
    state
        .writer
        .run(move |p| p.change_registry(request, Origin { actor: &actor, source: "api" }, unix_now()))
        .await
        .map_err(change_error)
}
