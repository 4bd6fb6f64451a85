//! Requests per source network and window (lookups per minute, removal requests per hour): an
//! IPv4 /24 or an IPv6 /48 counts as one source (one customer's addresses), in fixed windows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::Prefix;

/// Sources remembered at most; beyond, the ones whose window has passed are forgotten first.
const MAX_SOURCES: usize = 100_000;

/// Counts lookups per source network.
#[derive(Debug)]
pub struct Limiter {
    per_window: u32,
    window: Duration,
    seen: Mutex<HashMap<Prefix, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(per_window: u32, window: Duration) -> Limiter {
        Limiter { per_window, window, seen: Mutex::new(HashMap::new()) }
    }

    /// Counts a request from `ip` at `now`: `Ok` when it is within the allowance, else the
    /// seconds until the source's window ends.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let source = source_of(ip);
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.len() >= MAX_SOURCES && !seen.contains_key(&source) {
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
            if seen.len() >= MAX_SOURCES / 2 {
                // Still full of live windows (a flood from many networks): start counting
                // afresh rather than refusing every newcomer, and not scan again at once.
                seen.clear();
            }
        }
        let (start, count) = seen.entry(source).or_insert((now, 0));
        if now.duration_since(*start) >= self.window {
            (*start, *count) = (now, 0);
        }
        if *count >= self.per_window {
            let left = self.window.saturating_sub(now.duration_since(*start));
            return Err(left.as_secs().max(1));
        }
        *count += 1;
        Ok(())
    }
}

/// The network an address counts under: its /24 (IPv4, and IPv4-mapped IPv6) or /48.
fn source_of(ip: IpAddr) -> Prefix {
    let ip = crate::model::unmapped(ip);
    let len = if ip.is_ipv4() { 24 } else { 48 };
    Prefix::host(ip).truncated(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_gets_its_allowance_per_minute_and_others_theirs() {
        const WINDOW: Duration = Duration::from_secs(60);
        let l = Limiter::new(3, WINDOW);
        let t = Instant::now();
        let a: IpAddr = "198.51.100.7".parse().expect("ip");
        let same_24: IpAddr = "198.51.100.200".parse().expect("ip");
        let other: IpAddr = "198.51.101.7".parse().expect("ip");
        assert_eq!([l.check(a, t), l.check(same_24, t), l.check(a, t)], [Ok(()), Ok(()), Ok(())]);
        assert_eq!(l.check(same_24, t + Duration::from_secs(20)), Err(40));
        assert_eq!(l.check(other, t), Ok(()));
        assert_eq!(l.check(a, t + WINDOW), Ok(()), "a new minute");
        let v6: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let v6_same_48: IpAddr = "2001:db8:1:ffff::9".parse().expect("ip");
        for _ in 0..3 {
            assert_eq!(l.check(v6, t), Ok(()));
        }
        assert_eq!(l.check(v6_same_48, t), Err(60));
    }
}
