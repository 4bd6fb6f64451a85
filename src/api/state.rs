//! What every handler shares: the writer for changes, the store and the published snapshot for
//! reads, the tokens, the counters.

use std::sync::Arc;

use crate::dns::stats::DnsStats;
use crate::publisher::Writer;
use crate::snapshot::SharedSnapshot;
use crate::store::Store;

use super::limiter::FailureLimiter;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct ApiState {
    /// The single writer every change goes through.
    pub writer: Writer,
    /// For reads that the snapshot does not hold (history, entries behind an answer).
    pub store: Arc<Store>,
    pub shared: Arc<SharedSnapshot>,
    pub operator_token: Arc<str>,
    pub failures: Arc<FailureLimiter>,
    /// The DNS workers' query counters.
    pub stats: Arc<DnsStats>,
}
