//! The wall clock, read in one place. Pure code never reads it: the edges (API handlers, the
//! expiry timer, the CLI) read it once and pass `now` down, so planning and answering stay
//! functions of their inputs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 on a clock set before 1970).
pub fn unix_now() -> u64 {
    since_epoch().as_secs()
}

/// Microseconds since the Unix epoch, for audit records (ordered by time).
pub fn unix_now_us() -> u64 {
    u64::try_from(since_epoch().as_micros()).unwrap_or(u64::MAX)
}

fn since_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}
