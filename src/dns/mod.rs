//! The DNS front end: sockets, framing and the request → response step. The only module that
//! uses hickory-proto.
//!
//! - [`message`]: one request's bytes → one response's bytes (protocol hygiene + encoding).
//! - [`lean`]: the allocation-free path for common queries (A/TXT under a zone), same answers.
//! - [`udp`]: one task per `SO_REUSEPORT` socket: receive, answer, send.
//! - [`tcp`]: our own accept loop (connection cap, idle timeout, never gives up on errors).
//! - [`listen`]: binds the sockets for each listen address, UDP and TCP on the same port.
//! - [`stats`]: query counters per worker, summed for the API's `/metrics` and `/v1/stats`.

pub mod lean;
pub mod listen;
pub mod message;
pub mod stats;
pub mod tcp;
pub mod udp;

pub use message::{respond, respond_full, Limits, Route, Transport};
