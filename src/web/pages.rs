//! The pages' handlers: `/` (what the list is and how to use it), `/lookup?ip=` (the facts of
//! [`super::facts`], with the removal form when an operator listing covers the address) and
//! `/lookup.json?ip=` (the same facts for scripts).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::csrf::csrf_of;
use super::facts::{codes_of, contact, find, OPERATOR_LISTING};
use super::view::{message, render, FormView, IndexPage, LookupPage, ZoneSummary};
use super::WebState;

#[derive(Debug, Deserialize)]
pub struct LookupQuery {
    ip: Option<String>,
}

pub async fn index(State(state): State<WebState>) -> Response {
    let snap = state.shared.load_full();
    let zones = snap
        .zones
        .iter()
        .map(|z| ZoneSummary {
            zone: z.config.origin.to_string(),
            codes: codes_of(&snap, &z.config.origin.to_string(), None),
            contact: contact(&z.config.soa.rname.to_string()),
        })
        .collect();
    render(&IndexPage { zones, example: "192.0.2.1" })
}

pub async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../templates/style.css")).into_response()
}

pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, message("Not found", "There is no such page. The lookup is at /lookup.".into()))
        .into_response()
}

/// The page for a source over its allowance.
pub fn too_many(wait: u64) -> Response {
    let text = format!("Too many lookups from your network; try again in {wait} seconds.");
    message("Too many lookups", text)
}

pub async fn lookup(State(state): State<WebState>, Query(q): Query<LookupQuery>, headers: HeaderMap) -> Response {
    let asked = q.ip.unwrap_or_default().trim().to_string();
    if asked.is_empty() {
        return render(&LookupPage { asked, error: None, found: None, form: None });
    }
    match find(&state, &asked).await {
        Ok(found) => {
            let removable = found.zones.iter().flat_map(|z| &z.entries).any(|e| e.kind == OPERATOR_LISTING);
            if !removable {
                return render(&LookupPage { asked, error: None, found: Some(found), form: None });
            }
            let (csrf, set) = csrf_of(&headers, state.secure());
            let form = FormView {
                csrf,
                prefix: found.ip.clone(),
                contact: String::new(),
                text: String::new(),
                largest_v4: state.config.largest_ipv4_request,
            };
            let mut response = render(&LookupPage { asked, error: None, found: Some(found), form: Some(form) });
            if let Some(set) = set {
                response.headers_mut().insert(header::SET_COOKIE, set);
            }
            response
        }
        Err((status, error)) => {
            let page = render(&LookupPage { asked, error: Some(error), found: None, form: None });
            (status, page).into_response()
        }
    }
}

pub async fn lookup_json(State(state): State<WebState>, Query(q): Query<LookupQuery>) -> Response {
    let asked = q.ip.unwrap_or_default();
    match find(&state, asked.trim()).await {
        Ok(found) => Json(found).into_response(),
        Err((status, error)) => (status, Json(serde_json::json!({ "error": error }))).into_response(),
    }
}
