//! Failed authentications per source address: after [`MAX_FAILURES`] within [`WINDOW`], the
//! address gets 429 until the window has passed. Bounded memory: old windows are dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed per address and window.
pub const MAX_FAILURES: u32 = 10;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at most; beyond it, expired windows are swept.
const MAX_TRACKED: usize = 10_000;

/// Counts failures per source address.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailureLimiter {
    /// True when `ip` used up its failures in the current window.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        let Ok(seen) = self.seen.lock() else { return false };
        seen.get(&ip).is_some_and(|&(start, count)| now.duration_since(start) < WINDOW && count >= MAX_FAILURES)
    }

    /// Records one failed authentication from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let Ok(mut seen) = self.seen.lock() else { return };
        if seen.len() >= MAX_TRACKED {
            seen.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_passes() {
        let l = FailureLimiter::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().expect("ip"), "192.0.2.2".parse().expect("ip"));
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert!(!l.blocked(a, t0));
            l.failed(a, t0);
        }
        assert!(l.blocked(a, t0));
        assert!(!l.blocked(b, t0), "other addresses are not affected");
        assert!(!l.blocked(a, t0 + WINDOW), "a new window starts");
    }
}
