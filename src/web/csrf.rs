//! CSRF tokens of the pages' forms: a random token in the `dnsbl_csrf` cookie (HttpOnly,
//! SameSite=Strict, Secure on https), repeated in a hidden field of every form; a POST whose
//! field is not its cookie is refused.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::api::token;

/// The CSRF cookie's name.
pub const CSRF_COOKIE: &str = "dnsbl_csrf";

/// The CSRF token of this browser: its cookie's, or a new one (and the header that sets it).
pub fn csrf_of(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    if let Some(token) =
        cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return (token, None);
    }
    let token = token::random_hex(16).unwrap_or_default();
    let secure = if secure { "; Secure" } else { "" };
    let set = format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{secure}");
    (token.clone(), HeaderValue::from_str(&set).ok())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the form's token is this browser's cookie (constant time).
pub fn csrf_ok(headers: &HeaderMap, given: &str) -> bool {
    cookie(headers, CSRF_COOKIE).is_some_and(|c| token::matches(given, &c))
}
