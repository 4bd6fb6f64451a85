//! The DNS front end: sockets, framing and the request → response step. hickory-proto is used
//! only by [`full`].
//!
//! - [`respond`](mod@respond): picks the path for one request (lean first, else full).
//! - [`lean`]: the allocation-free path for common queries (A/TXT under a zone).
//! - [`full`]: any request through hickory-proto (protocol hygiene + encoding), same answers.
//! - [`request`]: what both paths share: transport, reply limits, which packets are dropped unread.
//! - [`udp`]: one task per `SO_REUSEPORT` socket: receive, answer, send.
//! - [`tcp`]: our own accept loop (connection cap, idle timeout, never gives up on errors).
//! - [`listen`]: binds the sockets for each listen address, UDP and TCP on the same port.
//! - [`stats`]: query counters per worker, summed for the API's `/metrics` and `/v1/stats`.
//! - [`journal`]: the history of each transferred zone's changes, for IXFR.
//! - [`notify`]: NOTIFY to each zone's secondaries after changes (coalesced, retried).
//! - [`xfr`]: zone transfers (AXFR, IXFR) written message by message as they are sent.

pub mod full;
pub mod journal;
pub mod lean;
pub mod listen;
pub mod notify;
pub mod request;
pub mod respond;
pub mod stats;
pub mod tcp;
pub mod udp;
pub mod xfr;

pub use full::respond as respond_full;
pub use request::{Limits, Route, Transport};
pub use respond::respond;
