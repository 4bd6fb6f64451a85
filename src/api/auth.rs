//! Who is calling: the operator (its token, compared in constant time), a marketer or a reporter
//! (looked up by the SHA-256 of their token in the published registry and reporters, so timing
//! depends only on a hash the caller cannot choose). Failures get 401, count against the source address ([`super::limiter`]) and
//! are logged without the token.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::ApiState;
use super::token;
use crate::registry::MarketerId;

/// The authenticated caller, put in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Operator,
    Marketer(MarketerId),
    /// A reporter of evidence, by name.
    Reporter(String),
}

/// Authenticates every request; the route layers below decide which callers they accept.
pub async fn authenticate(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
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
        .unwrap_or("")
        .trim();
    let caller = if token::matches(given, &state.operator_token) {
        Some(Caller::Operator)
    } else if given.is_empty() {
        None
    } else {
        let hash = token::hash(given);
        let snapshot = state.shared.load();
        let marketer = snapshot.registry.by_token(&hash).map(|a| Caller::Marketer(a.marketer.id.clone()));
        marketer.or_else(|| snapshot.reporters.by_token(&hash).map(|r| Caller::Reporter(r.name.clone())))
    };
    let Some(caller) = caller else {
        state.failures.failed(peer, now);
        // Never log the token itself.
        tracing::warn!(%peer, path = %request.uri().path(), "refused API request: missing or unknown bearer token");
        return ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()).into_response();
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Lets only the operator through.
pub async fn operator_only(request: Request, next: Next) -> Response {
    match request.extensions().get::<Caller>() {
        Some(Caller::Operator) => next.run(request).await,
        _ => ApiError(
            StatusCode::FORBIDDEN,
            "this endpoint is for the operator; a marketer's or reporter's token cannot use it".into(),
        )
        .into_response(),
    }
}

/// Lets the operator and reporters through (sending evidence).
pub async fn operator_or_reporter(request: Request, next: Next) -> Response {
    match request.extensions().get::<Caller>() {
        Some(Caller::Operator | Caller::Reporter(_)) => next.run(request).await,
        _ => ApiError(StatusCode::FORBIDDEN, "this endpoint is for the operator and reporters of evidence".into())
            .into_response(),
    }
}

/// Lets only marketers through.
pub async fn marketer_only(request: Request, next: Next) -> Response {
    match request.extensions().get::<Caller>() {
        Some(Caller::Marketer(_)) => next.run(request).await,
        _ => ApiError(
            StatusCode::FORBIDDEN,
            "this endpoint is for marketers: use the token `dnsbl marketer add` printed for you".into(),
        )
        .into_response(),
    }
}
