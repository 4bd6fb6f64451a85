//! CSRF tokens of the pages' forms: a random token in a cookie (HttpOnly, SameSite=Strict; on an
//! `https://` public URL also Secure and named with the `__Host-` prefix, so that no sibling
//! subdomain can set it), repeated in a hidden field of every form; a POST whose field is not
//! its cookie is refused.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::api::token;

/// The CSRF cookie's name: `__Host-dnsbl_csrf` on https (browsers require Secure for that
/// prefix), `dnsbl_csrf` on plain http.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-dnsbl_csrf"
    } else {
        "dnsbl_csrf"
    }
}

/// The CSRF token of this browser: its cookie's, or a new one (and the header that sets it).
pub fn csrf_of(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    let name = cookie_name(secure);
    if let Some(token) = cookie(headers, name).filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())) {
        return (token, None);
    }
    let token = token::random_hex(16).unwrap_or_default();
    let secure = if secure { "; Secure" } else { "" };
    let set = format!("{name}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{secure}");
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
pub fn csrf_ok(headers: &HeaderMap, secure: bool, given: &str) -> bool {
    cookie(headers, cookie_name(secure)).is_some_and(|c| token::matches(given, &c))
}
