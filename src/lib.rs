//! # dnsbl — an authoritative DNS blocklist server
//!
//! Mail servers ask `7.100.51.198.bl.example.org A`; a listed address answers `127.0.0.x` (one A
//! record per return code) and a TXT reason, an unlisted one NXDOMAIN with the zone's SOA.
//!
//! ## Architecture map
//!
//! Layers depend only downward, and no two files import each other in a circle
//! (`tests/it/architecture.rs` reads every `crate::`/`super::` path and holds the code to this).
//!
//! ```text
//! pure core      model · name · trie · zonefile · zoneform · registry · config · access · rrl · cookie
//!                · evidence · delisting · snapshot · query · served · replica · tsig
//!                no I/O, no tokio/rocksdb/hickory/axum/clap, no logging; snapshot owns arc-swap
//! one system     clock (the wall clock) · store (rocksdb) · dns (sockets; hickory-proto in dns::full)
//! orchestration  publisher (store → snapshot; the single Writer) · importer (file → store)
//!                · exporter (store, or the zone as served, → file)
//!                · secondary (a primary's zone transfers → store → the Writer)
//! front          api (axum, rustls; drives the publisher and the importer for HTTP callers;
//!                api::wire is the request/response contract, serde only)
//!                · web (axum, askama; the public pages: the API's lookup minus what is the
//!                operator's own, and removal requests through the publisher)
//! process        daemon (start, run, stop)
//! entry          cli (clap, ureq; one file per subcommand; reads api::wire) · main.rs
//! ```
//!
//! ## Data flow
//!
//! ```text
//! rbldnsd file ──zonefile──▶ importer ──streamed batches, one switch──▶ RocksDB (source of truth)
//!                                                                        │
//! live change (to a dataset) ──▶ Publisher::apply ──one synced WriteBatch▶┤
//! registry request ──▶ Registry::plan (pure) ──▶ change_registry ───────▶┤
//! ARF report ──evidence::arf──▶ ingest_evidence ─store─▶ evidence::policy ─▶ listing (127.0.0.4)┤
//! removal form ──delisting::Form──▶ file/confirm/decide_removal ─▶ exclusion ───────────────────┤
//! primary's AXFR/IXFR ──secondary──▶ records (store `replica`) ──replica::Deriver──▶ patches ──▶┤
//!                      │ recompute the changed ranges (Patches) of the    │ at start: Publisher::load
//!                      ▼ dataset from its stored entries (+ the registry's ▼ for `operator`)
//!            SharedSnapshot::publish ◀── Snapshot { per zone: config, serial, datasets (each:
//!                                                   LayeredTable v4/v6, values); the registry }
//!                                                      │ SharedSnapshot::load() (lock-free)
//! UDP/TCP packet ──dns (lean, else hickory)──▶ query::classify/resolve ──▶ encoded reply
//!                  └─ counted per worker (dns::stats) ──▶ api /v1/stats, /metrics
//! AXFR/IXFR request ──dns::xfr (history: dns::journal, served::diff)──▶ messages, as written
//! new serial ──dns::notify──▶ NOTIFY to the zone's secondaries
//! ```
//!
//! - [`model`]: prefixes, return codes, listings (parsed at the edge, never wrong afterwards).
//! - [`name`]: domain names (zone origins, name servers, parts of every store key).
//! - [`trie`]: longest-prefix match flattened into sorted segments (exclusions cut holes) under a
//!   bucket index, one word per IPv4 segment, with patches on top for live changes.
//! - [`zonefile`]: streaming rbldnsd data reader.
//! - [`served`]: what a zone snapshot answers, as [`zoneform`] records with their A and TXT data
//!   (for the BIND export and zone transfers).
//! - [`zoneform`]: a zone's answers as names and wildcards a stock name server serves alike
//!   (the closest-encloser copies, the namespace IPv4 and IPv6 names share); the difference
//!   between two serials' record forms (for IXFR).
//! - [`replica`]: the record form a primary sends turned back into prefix entries (for dnsbl as
//!   a secondary).
//! - [`tsig`]: TSIG (HMAC-SHA256) signatures on zone transfers; hmac only here.
//! - [`registry`]: marketer accounts and the registration rules (declarations, limits, protections,
//!   how registry and operator entries combine); plans changes, the publisher stores and applies them.
//! - [`config`]: TOML file → validated [`config::Config`]; `config/dnsbl.toml` is the embedded default.
//! - [`snapshot`]: immutable per-zone datasets (tables and values) and their lock-free publication.
//! - [`access`]: who is answered at all (`refuse-clients`, `ignore-clients`, access keys, registered
//!   resolvers, with their query counters), carried in the snapshot.
//! - [`rrl`]: response rate limiting for UDP (`[server.rrl]`), carried in the snapshot.
//! - [`cookie`]: DNS cookies (RFC 7873, RFC 9018 server cookies); the secrets ride in the snapshot.
//! - [`evidence`]: abuse reports (ARF) read into what they say (source address, mailing);
//!   mail-parser only in `evidence::arf`.
//! - [`delisting`]: removal requests from the public pages: the form's checks, the states, the
//!   auto-approval rule.
//! - [`query`]: the DNSBL answer rules (test points, empty non-terminals, apex, NS glue, the union
//!   of a zone's datasets).
//! - [`clock`]: the wall clock, read at the edges and passed down as `now`.
//! - [`store`]: RocksDB column families and the versioned byte layout ([`store::encoding`]).
//! - [`dns`]: sockets, framing, the lean and full answer paths, per-worker query counters, zone
//!   transfers out (AXFR, IXFR from a history of changes) and NOTIFY.
//! - [`publisher`]: the single writer (parallel load at start, live changes with read-your-writes,
//!   patch folds on a thread of their own) and [`publisher::Writer`], its shared handle.
//! - [`importer`], [`exporter`]: rbldnsd files in (several datasets in one switch), rbldnsd (one
//!   section per dataset) or BIND files out.
//! - [`api`]: the HTTP(S) API for operators and marketers (bearer tokens, roles, JSON, read-your-writes),
//!   and the statistics (`/v1/stats`, `/metrics`).
//! - [`web`]: the public pages (`/`, `/lookup?ip=`, `/lookup.json`, `/requests`): askama
//!   templates in `templates/`, a strict Content-Security-Policy, CSRF tokens, the confirmation
//!   mail through a sendmail command, lookups and requests limited per source network.
//! - [`secondary`]: dnsbl as a secondary: AXFR, then IXFR on NOTIFY and at the SOA refresh,
//!   applied as live patches; the last copy served until the SOA expire.
//! - [`daemon`]: the steps that start a server and stop it.
//! - [`cli`]: the `dnsbl` command.

pub mod access;
pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cookie;
pub mod daemon;
pub mod delisting;
pub mod dns;
pub mod evidence;
pub mod exporter;
pub mod importer;
pub mod model;
pub mod name;
pub mod publisher;
pub mod query;
pub mod registry;
pub mod replica;
pub mod rrl;
pub mod secondary;
pub mod served;
pub mod snapshot;
pub mod store;
pub mod trie;
pub mod tsig;
pub mod web;
pub mod zonefile;
pub mod zoneform;
