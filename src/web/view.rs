//! The pages' askama templates (`templates/`) and their values; every value is escaped by
//! the templates (HTML is the default escaper of `.html` templates). The only user of askama.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::facts::{PublicCode, PublicLookup};
use crate::delisting::{Mail, RemovalRequest, State as RequestState};

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage<'a> {
    pub zones: Vec<ZoneSummary>,
    pub example: &'a str,
}

pub struct ZoneSummary {
    pub zone: String,
    pub codes: Vec<PublicCode>,
    pub contact: String,
}

#[derive(Template)]
#[template(path = "lookup.html")]
pub struct LookupPage {
    /// What was typed, shown back in the form.
    pub asked: String,
    /// Why it is not an address, when it is not.
    pub error: Option<String>,
    pub found: Option<PublicLookup>,
    /// The removal form, when an operator listing lists the address.
    pub form: Option<FormView>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub text: String,
}

/// A page of one paragraph.
pub fn message(title: &str, text: String) -> Response {
    render(&MessagePage { title, text })
}

pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a web page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be made").into_response()
        }
    }
}

/// The removal form, to be filled in again after an error.
pub struct FormView {
    pub csrf: String,
    pub prefix: String,
    pub contact: String,
    pub text: String,
    pub largest_v4: u8,
}

#[derive(Template)]
#[template(path = "request_form.html")]
pub struct FormPage {
    pub error: String,
    pub form: FormView,
}

#[derive(Template)]
#[template(path = "request.html")]
pub struct StatusPage {
    pub request: RequestView,
    pub key: String,
    pub csrf: String,
    /// What just happened, if anything.
    pub notice: Option<String>,
}

/// A request as its requester sees it.
pub struct RequestView {
    pub id: u64,
    pub prefix: String,
    pub contact: String,
    pub state: &'static str,
    /// In words.
    pub status: String,
    pub events: Vec<(String, String)>,
    pub unconfirmed: bool,
}

/// A request as its status page shows it.
pub fn request_view(r: &RemovalRequest, now: u64) -> RequestView {
    let late = r.created + crate::delisting::CONFIRM_WITHIN <= now;
    let status = match &r.state {
        RequestState::Unconfirmed if late => {
            "Not confirmed within 48 hours: it no longer counts. File a new request from the lookup page.".to_string()
        }
        RequestState::Unconfirmed => match &r.mail {
            Mail::Failed { .. } => {
                "Filed. The confirmation mail could not be sent; the request waits for the operator.".to_string()
            }
            _ => "Filed. Confirm it with the button below (the link in the mail brought you here).".to_string(),
        },
        RequestState::Confirmed => "Confirmed. It waits for the operator's decision.".to_string(),
        RequestState::Approved { prefix, .. } => {
            format!("Approved: {prefix} is removed from the operator's listings.")
        }
        RequestState::Rejected { reason, .. } => format!("Rejected: {reason}"),
    };
    let time = |t: u64| humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t));
    // Events name who decided ("by operator") and why a mail failed (the mail system's own
    // words); the public page says what happened, not who or how.
    let public = |what: &str| match what.split_once(':') {
        Some((head, _)) if head.starts_with("confirmation mail not sent") => head.to_string(),
        _ => what.split(" by ").next().unwrap_or(what).to_string(),
    };
    let events = r.events.iter().map(|e| (time(e.at).to_string(), public(&e.what))).collect();
    RequestView {
        id: r.id,
        prefix: r.prefix.to_string(),
        contact: r.contact.clone(),
        state: r.state.as_str(),
        status,
        events,
        unconfirmed: r.state == RequestState::Unconfirmed && !late,
    }
}
