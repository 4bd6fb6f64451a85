//! Removal requests on the public pages: `POST /requests` files one (from the form on the
//! lookup page of an address an operator listing covers), `GET /requests/ID?key=K` shows where it
//! stands, `POST /requests/ID/confirm` confirms it (a button, so that mail scanners that fetch
//! links confirm nothing).
//!
//! Every form carries a CSRF token that must equal its cookie ([`super::csrf`]); keys are 128 random bits, stored only as their SHA-256 and compared in constant
//! time; an unknown request and a wrong key get the same answer; keys are never logged.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::csrf::{csrf_of, csrf_ok};
use super::view::{message, render, request_view, FormPage, FormView, StatusPage};
use super::{mail, WebState};
use crate::api::token;
use crate::clock::unix_now;
use crate::delisting::{self, Largest, Mail, RemovalRequest, State as RequestState};
use crate::publisher::ChangeError;
/// A form's fields: the request's, and the CSRF token.
#[derive(Debug, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: delisting::Form,
}

#[derive(Debug, Deserialize)]
pub struct KeyQuery {
    #[serde(default)]
    key: String,
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

fn refused(status: StatusCode, title: &str, text: String) -> Response {
    (status, message(title, text)).into_response()
}

fn csrf_refused() -> Response {
    refused(
        StatusCode::FORBIDDEN,
        "Form expired",
        "The form was not sent from this site's page, or its session has ended. Open the lookup page again and send the form from there.".into(),
    )
}

pub async fn file(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<RequestForm>,
) -> Response {
    if !csrf_ok(&headers, state.secure(), &form.csrf) {
        return csrf_refused();
    }
    let web = &state.config;
    let largest = Largest { ipv4: web.largest_ipv4_request, ipv6: web.largest_ipv6_request };
    let again = |error: String, status: StatusCode| {
        let f = &form.fields;
        let form = FormView {
            csrf: form.csrf.clone(),
            prefix: f.prefix.chars().take(64).collect(),
            contact: f.contact.chars().take(254).collect(),
            text: f.text.chars().take(delisting::MAX_TEXT_CHARS).collect(),
            largest_v4: web.largest_ipv4_request,
        };
        (status, render(&FormPage { error, form })).into_response()
    };
    let new = match form.fields.check(largest) {
        Ok(new) => new,
        Err(e) => return again(e.to_string(), StatusCode::BAD_REQUEST),
    };
    // Counted once the form is right (a typo does not use up the allowance).
    if let Err(wait) = state.request_limiter.check(peer.ip(), std::time::Instant::now()) {
        let mut page = refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            format!("Too many removal requests from your network; try again in {} minutes.", wait.div_ceil(60)),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            page.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return page;
    }
    let Ok(key) = token::random_hex(16) else {
        return refused(StatusCode::INTERNAL_SERVER_ERROR, "Not filed", "No randomness for the key; try later.".into());
    };
    let key_hash = token::hash(&key);
    let filed = state.writer.run(move |p| p.file_removal(new, key_hash, unix_now())).await;
    let request = match filed {
        Ok(r) => r,
        Err(e @ (ChangeError::NothingToRemove(_) | ChangeError::RequestOpen(_))) => {
            return again(e.to_string(), StatusCode::CONFLICT)
        }
        Err(e) => {
            tracing::error!(error = %e, "a removal request was not filed");
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not filed",
                "The request could not be stored; try later.".into(),
            );
        }
    };
    tracing::info!(id = request.id, prefix = %request.prefix, "removal request filed");
    // The mail and its record run on their own task: a visitor who goes away meanwhile does
    // not kill the mail command or lose the outcome.
    let message = mail::confirmation(web, &request, &key);
    let (config, writer, id) = (state.config.clone(), state.writer.clone(), request.id);
    let outcome = tokio::spawn(async move {
        let sent = mail::send(&config, message).await;
        if let Err(why) = &sent {
            tracing::warn!(id, error = %why, "confirmation mail not sent");
        }
        writer.run(move |p| p.note_mail(id, sent, unix_now())).await
    });
    let request = match outcome.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(error = %e, id, "the mail outcome was not recorded");
            request
        }
        Err(e) => {
            tracing::error!(error = %e, id, "the mail task failed");
            request
        }
    };
    let notice = match &request.mail {
        Mail::Sent => format!(
            "Request {} is filed. We sent a link to {}: open it to confirm the request.",
            request.id, request.contact
        ),
        _ => format!(
            "Request {} is filed, but the confirmation mail could not be sent. It waits for the operator.",
            request.id
        ),
    };
    let page = StatusPage {
        request: request_view(&request, unix_now()),
        key: String::new(),
        csrf: form.csrf,
        notice: Some(notice),
    };
    (StatusCode::CREATED, render(&page)).into_response()
}

/// The request `id` if `key` is its key; the same `None` for an unknown id and a wrong key.
async fn with_key(state: &WebState, id: u64, key: &str) -> Option<RemovalRequest> {
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.request(id)).await.ok()?.ok()??;
    token::same_bytes(&token::hash(key), &found.key_hash).then_some(found)
}

fn no_such_request() -> Response {
    refused(
        StatusCode::NOT_FOUND,
        "No such request",
        "There is no request with this number and key. Use the link from the mail as it is.".into(),
    )
}

pub async fn status(
    State(state): State<WebState>,
    Path(id): Path<u64>,
    Query(q): Query<KeyQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(request) = with_key(&state, id, &q.key).await else { return no_such_request() };
    let (csrf, set) = csrf_of(&headers, state.secure());
    let page = StatusPage { request: request_view(&request, unix_now()), key: q.key, csrf, notice: None };
    let mut response = render(&page);
    if let Some(set) = set {
        response.headers_mut().insert(header::SET_COOKIE, set);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn confirm(
    State(state): State<WebState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if !csrf_ok(&headers, state.secure(), &form.csrf) {
        return csrf_refused();
    }
    let Some(before) = with_key(&state, id, &form.key).await else { return no_such_request() };
    let per_network = state.config.auto_approve;
    let confirmed = state.writer.run(move |p| p.confirm_removal(id, per_network, unix_now())).await;
    match confirmed {
        Ok(request) => {
            tracing::info!(id, state = request.state.as_str(), "removal request confirmed");
            let notice = match (&before.state, &request.state) {
                (RequestState::Unconfirmed, RequestState::Approved { .. }) => {
                    "Confirmed and approved: the address is removed now.".to_string()
                }
                (RequestState::Unconfirmed, RequestState::Confirmed) => {
                    "Confirmed. The operator decides next; this page shows the decision.".to_string()
                }
                (RequestState::Unconfirmed, RequestState::Unconfirmed) => {
                    "Too late: requests are confirmed within 48 hours. File a new one from the lookup page.".to_string()
                }
                (_, now) => format!("Nothing to confirm: the request is {} already.", now.as_str()),
            };
            let page = StatusPage {
                request: request_view(&request, unix_now()),
                key: form.key,
                csrf: form.csrf,
                notice: Some(notice),
            };
            let mut response = render(&page);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, id, "a removal request was not confirmed");
            refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not confirmed",
                "The confirmation could not be stored; try again later.".into(),
            )
        }
    }
}
