//! The public web pages (`[web]`): what the list is (`/`), the lookup every TXT answer links to
//! (`/lookup?ip=`, `/lookup.json?ip=` for scripts), and removal requests (`/requests`). Anyone
//! may use them and they have no operator powers: they read the published snapshot and the
//! store, and the only changes they make are filing and confirming removal requests (and an
//! approval when `[web] auto-approve` allows it).
//!
//! - [`facts`]: what the pages say about an address (the API's lookup minus the operator's own).
//! - [`pages`]: `/`, `/lookup`, `/lookup.json`.
//! - [`view`]: the askama templates (`templates/`) and their values, every value escaped.
//! - [`csrf`]: the forms' CSRF tokens.
//! - [`requests`]: removal requests (file, confirm, status), CSRF tokens, confirmation keys.
//! - [`mail`]: the confirmation mail through the configured sendmail command, time-limited.
//! - [`limit`]: lookups and requests per source network and window (429 with Retry-After).
//!
//! Every answer carries a strict Content-Security-Policy (no scripts at all, styles from this
//! origin only, forms post here only), `nosniff`, no framing and no referrer; request bodies are
//! limited to [`MAX_BODY_BYTES`].

mod csrf;
mod facts;
mod limit;
mod mail;
mod pages;
mod requests;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

pub use limit::Limiter;

use crate::config::WebConfig;
use crate::publisher::Writer;
use crate::snapshot::SharedSnapshot;
use crate::store::Store;

/// Largest request body the web listener reads.
pub const MAX_BODY_BYTES: usize = 16 << 10;

/// The Content-Security-Policy of every page: nothing runs, nothing loads from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// What the pages read, and the writer for removal requests (the only changes they make).
#[derive(Clone, Debug)]
pub struct WebState {
    pub store: Arc<Store>,
    pub shared: Arc<SharedSnapshot>,
    pub writer: Writer,
    pub config: Arc<WebConfig>,
    pub limiter: Arc<Limiter>,
    pub request_limiter: Arc<Limiter>,
}

impl WebState {
    /// Whether people reach the pages over https (cookies are then Secure).
    pub fn secure(&self) -> bool {
        self.config.public_url.starts_with("https://")
    }

    pub fn new(store: Arc<Store>, shared: Arc<SharedSnapshot>, writer: Writer, config: &WebConfig) -> WebState {
        let minute = std::time::Duration::from_secs(60);
        WebState {
            store,
            shared,
            writer,
            limiter: Arc::new(Limiter::new(config.lookups_per_minute, minute)),
            request_limiter: Arc::new(Limiter::new(config.requests_per_hour, minute * 60)),
            config: Arc::new(config.clone()),
        }
    }
}

/// Serves the pages on `listener` until `shutdown`.
pub async fn serve(listener: tokio::net::TcpListener, state: WebState, shutdown: CancellationToken) {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await;
    if let Err(e) = result {
        tracing::error!(error = %e, "web pages stopped");
    }
}

fn router(state: WebState) -> Router {
    let limited = Router::new()
        .route("/lookup", get(pages::lookup))
        .route("/lookup.json", get(pages::lookup_json))
        .route("/requests/{id}", get(requests::status))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .route("/", get(pages::index))
        .route("/requests", axum::routing::post(requests::file))
        .route("/requests/{id}/confirm", axum::routing::post(requests::confirm))
        .route("/style.css", get(pages::style))
        .merge(limited)
        .fallback(pages::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// Lookups beyond the source network's allowance get 429 with Retry-After.
async fn rate_limit(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match state.limiter.check(peer.ip(), std::time::Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let mut response = pages::too_many(wait).into_response();
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response
        }
    }
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
