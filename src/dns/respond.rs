//! The dispatcher between the two answer paths: common queries take the allocation-free
//! [`super::lean`] path, everything else the hickory-proto [`super::full`] path, which gives the
//! same answers (a differential property test holds the two together).

use crate::snapshot::Snapshot;

use super::request::{dropped_unread, Limits, Route, Transport};
use super::{full, lean};

/// Writes the reply to one request into `out` and says which path wrote it; `None` when the
/// packet must be dropped silently.
pub fn respond(
    snapshot: &Snapshot,
    packet: &[u8],
    transport: Transport,
    limits: &Limits,
    out: &mut Vec<u8>,
) -> Option<Route> {
    if dropped_unread(packet) {
        return None;
    }
    if lean::answer(snapshot, packet, transport, limits, out) {
        return Some(Route::Lean);
    }
    let bytes = full::respond(snapshot, packet, transport, limits)?;
    out.clear();
    out.extend_from_slice(&bytes);
    Some(Route::Full)
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
