//! The dispatcher between the two answer paths: common queries take the allocation-free
//! [`super::lean`] path, everything else the hickory-proto [`super::full`] path, which gives the
//! same answers (a differential property test holds the two together).
//!
//! DNS cookies are checked once, before either path ([`cookie_of`]): the transport loop needs
//! the verdict too (a valid server cookie exempts its client from rate limiting). The lean path
//! answers with a cookie; a malformed COOKIE option (FORMERR) and a server cookie that is not
//! ours over UDP (BADCOOKIE, with a fresh cookie to retry with) take the full path. Queries in
//! zones that require an access key are counted for the key they name.

use std::net::IpAddr;

use crate::cookie::{self, Presented, Verdict};
use crate::query;
use crate::snapshot::Snapshot;

use super::request::{cookie_option, dropped_unread, question_labels, Limits, Route, Transport};
use super::{full, lean};

/// Writes the reply to one request into `out` and says which path wrote it; `None` when the
/// packet must be dropped silently. `cookie` is the request's COOKIE option as [`cookie_of`]
/// found it.
pub fn respond(
    snapshot: &Snapshot,
    packet: &[u8],
    transport: Transport,
    limits: &Limits,
    cookie: Option<&Presented>,
    out: &mut Vec<u8>,
) -> Option<Route> {
    if dropped_unread(packet) {
        return None;
    }
    let lean_cookie = match cookie {
        None => Some(None),
        Some(Presented::Checked { verdict, reply })
            if !(*verdict == Verdict::Invalid && transport == Transport::Udp) =>
        {
            Some(Some(reply))
        }
        Some(_) => None,
    };
    let lean = lean_cookie.is_some_and(|c| lean::answer(snapshot, packet, transport, limits, c, out));
    let route = match lean {
        true => Route::Lean,
        false => {
            let bytes = full::respond(snapshot, packet, transport, limits, cookie)?;
            out.clear();
            out.extend_from_slice(&bytes);
            Route::Full
        }
    };
    if snapshot.access.has_keys() {
        count_key(snapshot, packet);
    }
    Some(route)
}

/// Counts the query for the access key it names, if it is in a zone that requires one.
fn count_key(snapshot: &Snapshot, packet: &[u8]) {
    let mut labels = [&[][..]; 128];
    let Some(n) = question_labels(packet, &mut labels) else { return };
    if let Some(key) = query::key_label(snapshot, &labels[..n]) {
        snapshot.access.count_key(key);
    }
}

/// REFUSED for a query from a client the configuration refuses (`refuse-clients`), written into
/// `out` by the full path; `None` (drop) for responses, runts, what does not parse, and a reply
/// that would be larger than the query.
pub fn refuse(packet: &[u8], limits: &Limits, out: &mut Vec<u8>) -> Option<Route> {
    let bytes = full::refuse(packet, limits)?;
    out.clear();
    out.extend_from_slice(&bytes);
    Some(Route::Full)
}

/// The request's COOKIE option checked against the served secrets, for a query from `client` at
/// Unix time `now`; `None` when cookies are not answered or the request carries none.
pub fn cookie_of(snapshot: &Snapshot, packet: &[u8], client: IpAddr, now: u64) -> Option<Presented> {
    let secrets = snapshot.cookies.as_deref()?;
    Some(cookie::check(secrets, cookie_option(packet)?, client, now))
}
