//! The HTTP API for operators and marketers (axum; the only module that uses it). JSON under
//! `/v1`, every body typed once in [`wire`] (the CLI reads the same types).
//!
//! Every request needs `Authorization: Bearer <token>` ([`auth`], [`token`]); a wrong or missing
//! token gets 401 and changes nothing, a token of the wrong role 403. A write is validated
//! completely before anything is written, and is acknowledged only after it is durable and
//! published (read-your-writes): changes run through the single [`Writer`](crate::publisher::Writer).
//! With a certificate configured the API speaks HTTPS ([`tls`]).
//!
//! Resources, one file each:
//! - [`listings`]: zones, listings, exclusions, history (operator).
//! - [`lookup`]: `GET /v1/lookup/{ip}` — the answer the DNS gives now and why (operator and marketers).
//! - [`registry`]: marketer accounts (operator) and registrations (a marketer's own token).
//! - [`admin`]: backups and whole-list imports (operator).
//! - [`access`]: access keys and registered resolvers, with their counters and audit trail (operator).
//! - [`evidence`]: abuse reports in (a reporter's token, or the operator for a reporter), policy
//!   listings out; the evidence about an address and the reporters (operator).
//! - [`metrics`]: `GET /v1/stats` (JSON) and `GET /metrics` (Prometheus text) (operator).
//!
//! Around them: [`state`] (what handlers share), [`error`] (statuses and messages), [`limiter`]
//! (failed authentications per address).

pub mod access;
pub mod admin;
pub mod auth;
pub mod delisting;
pub mod error;
pub mod evidence;
pub mod limiter;
pub mod listings;
pub mod lookup;
pub mod metrics;
pub mod registry;
pub mod state;
pub mod tls;
pub mod token;
pub mod wire;

pub use error::ApiError;
pub use state::ApiState;

use axum::middleware;
use axum::routing::{delete, get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;

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
        .route("/v1/zones", get(listings::zones))
        .route("/v1/zones/{zone}/listings", post(listings::add_listing).delete(listings::remove_listing))
        .route("/v1/zones/{zone}/exclusions", post(listings::add_exclusion).delete(listings::remove_exclusion))
        .route("/v1/zones/{zone}/datasets/{dataset}", delete(listings::remove_dataset))
        .route("/v1/history", get(listings::history))
        .route(
            "/v1/zones/{zone}/import",
            // The import bounds the upload itself (admin::MAX_IMPORT_BYTES, idle time).
            post(admin::import_list).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/v1/marketers", get(registry::list_marketers).post(registry::add_marketer))
        .route("/v1/marketers/{id}", get(registry::show_marketer))
        .route("/v1/marketers/{id}/suspend", post(registry::suspend))
        .route("/v1/marketers/{id}/resume", post(registry::resume))
        .route("/v1/marketers/{id}/rotate-token", post(registry::rotate_token))
        .route("/v1/marketers/{id}/networks", post(registry::add_network).delete(registry::remove_network))
        .route("/v1/access/keys", get(access::list_keys).post(access::add_key))
        .route("/v1/access/keys/{name}", delete(access::remove_key))
        .route("/v1/access/keys/{name}/disable", post(access::disable_key))
        .route("/v1/access/keys/{name}/enable", post(access::enable_key))
        .route(
            "/v1/access/resolvers",
            get(access::list_resolvers).post(access::add_resolver).delete(access::remove_resolver),
        )
        .route("/v1/access/history", get(access::history))
        .route("/v1/evidence/{ip}", get(evidence::show))
        .route("/v1/reporters", get(evidence::list_reporters).post(evidence::add_reporter))
        .route("/v1/reporters/{name}", delete(evidence::remove_reporter))
        .route("/v1/delisting", get(delisting::list))
        .route("/v1/delisting/{id}", get(delisting::show))
        .route("/v1/delisting/{id}/approve", post(delisting::approve))
        .route("/v1/delisting/{id}/reject", post(delisting::reject))
        .route("/v1/backups", post(admin::backup))
        .route("/v1/stats", get(metrics::stats))
        .route("/metrics", get(metrics::prometheus))
        .layer(middleware::from_fn(auth::operator_only));
    let reporting = Router::new()
        .route(
            "/v1/evidence",
            post(evidence::ingest).layer(axum::extract::DefaultBodyLimit::max(evidence::MAX_UPLOAD_BYTES)),
        )
        .layer(middleware::from_fn(auth::operator_or_reporter));
    let marketer = Router::new()
        .route("/v1/registrations", get(registry::registrations).post(registry::register).delete(registry::unregister))
        .layer(middleware::from_fn(auth::marketer_only));
    Router::new()
        .route("/v1/lookup/{ip}", get(lookup::lookup))
        .merge(operator)
        .merge(reporting)
        .merge(marketer)
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .with_state(state)
}
