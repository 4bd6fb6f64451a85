//! Integration tests: the real server on port 0 with a real RocksDB in a temp dir, queried over
//! real UDP and TCP sockets. One test binary (each extra binary relinks RocksDB).

mod access;
mod answers;
mod api;
mod architecture;
mod browser;
mod cli;
mod compliance;
mod cookies;
mod datasets;
mod differential;
mod evidence;
mod export;
mod harness;
mod hygiene;
mod live;
mod nsd;
mod readme;
mod registry;
mod removal;
mod resolver;
mod rrl;
mod secondary;
pub mod transfer;
mod web;
