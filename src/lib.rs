//! # dnsbl — an authoritative DNS blocklist server
//!
//! Mail servers ask `7.100.51.198.bl.example.org A`; a listed address answers `127.0.0.x` (one A
//! record per return code) and a TXT reason, an unlisted one NXDOMAIN with the zone's SOA.
//!
//! ## Architecture map
//!
//! Layers depend only downward.
//!
//! ```text
//! pure core      model · trie · query · zonefile · config · registry   no tokio/rocksdb/hickory/clap, no logging
//! one system     store (rocksdb) · dns (hickory-proto, sockets) · api (axum, rustls) · snapshot (arc-swap)
//! orchestration  publisher (store → snapshot) · importer (file → store) · exporter (store, or the zone as served, → file)
//!                · daemon (start, run, stop)
//! entry          cli (clap; one file per subcommand) · main.rs
//! ```
//!
//! ## Data flow
//!
//! ```text
//! rbldnsd file ──zonefile──▶ importer ──streamed batches, one switch──▶ RocksDB (source of truth)
//!                                                                        │
//! live change ──▶ Publisher::apply ──one synced WriteBatch──────────────▶┤
//! registry request ──▶ Registry::plan (pure) ──▶ change_registry ───────▶┤
//!                      │ recompute the changed ranges (Patches) from     │ at start: Publisher::load
//!                      ▼ stored + registry entries inside/covering them  ▼
//!            SharedSnapshot::publish ◀── Snapshot { per zone: config, serial, LayeredTable v4/v6,
//!                                                   values; the marketer registry }
//!                                                      │ SharedSnapshot::load() (lock-free)
//! UDP/TCP packet ──dns (lean, else hickory)──▶ query::classify/resolve ──▶ encoded reply
//!                  └─ counted per worker (dns::stats) ──▶ api /v1/stats, /metrics
//! ```
//!
//! - [`model`]: prefixes, return codes, listings (parsed at the edge, never wrong afterwards).
//! - [`trie`]: longest-prefix match flattened into sorted segments (exclusions cut holes) under a
//!   bucket index, one word per IPv4 segment, with patches on top for live changes.
//! - [`query`]: the DNSBL answer rules (test points, empty non-terminals, apex, NS glue) and the
//!   client rules (`refuse-clients`, `ignore-clients`).
//! - [`zonefile`]: streaming rbldnsd data reader.
//! - [`registry`]: marketer accounts and the registration rules (declarations, limits, protections,
//!   how registry and operator entries combine); plans changes, the publisher stores and applies them.
//! - [`config`]: TOML file → validated [`config::Config`]; `config/dnsbl.toml` is the embedded default.
//! - [`store`]: RocksDB column families and the versioned byte layout ([`store::encoding`]).
//! - [`snapshot`]: immutable per-zone tables and their lock-free publication.
//! - [`dns`]: sockets, framing, protocol hygiene, encoding, per-worker query counters.
//! - [`api`]: the HTTP(S) API for operators and marketers (bearer tokens, roles, JSON, read-your-writes),
//!   and the statistics (`/v1/stats`, `/metrics`).
//! - [`publisher`]: the single writer (parallel load at start, live changes with read-your-writes,
//!   patch folds on a thread of their own).
//! - [`importer`], [`exporter`], [`daemon`]: the steps that join the pieces.
//! - [`cli`]: the `dnsbl` command.

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod exporter;
pub mod importer;
pub mod model;
pub mod name;
pub mod publisher;
pub mod query;
pub mod registry;
pub mod snapshot;
pub mod store;
pub mod trie;
pub mod zonefile;
