//! Response rate limiting (RRL) for UDP: a fixed-size table of token buckets, one per client
//! prefix and kind of response, that decides whether a response is sent, dropped, or "slipped"
//! (sent truncated, so a real client retries over TCP, which cannot be spoofed).
//!
//! Keys, as BIND's `rate-limit` keeps them: a positive answer by (client prefix, question name,
//! type), so one source repeating a listed TXT or an ANY is limited while a resolver asking many
//! different listed addresses is not; NXDOMAIN, NODATA and errors by (client prefix, kind), so
//! random names do not escape. Each bucket earns its rate per second, holds at most one second's
//! worth, and owes at most `window` seconds' worth: a source that kept flooding stays limited
//! until it has been quiet that long. The table never grows: a key hashes to one slot, and a new
//! key takes a slot from the old (an attacker with many sources evicts rather than allocates).
//! Pure: the caller passes the time.

use std::net::IpAddr;
use std::sync::Mutex;

use crate::access::ClientRules;
use crate::model::Prefix;

/// Settings of `[server.rrl]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrlSettings {
    /// Positive answers per second per (client prefix, name, type).
    pub responses_per_second: u32,
    pub nxdomains_per_second: u32,
    pub nodata_per_second: u32,
    /// REFUSED, FORMERR, SERVFAIL, NOTIMP and the like.
    pub errors_per_second: u32,
    /// Seconds of debt a bucket may run up (how long a flooding source must be quiet).
    pub window: u32,
    /// Every `slip`-th suppressed response is sent truncated; 0 never.
    pub slip: u32,
    pub ipv4_prefix_length: u8,
    pub ipv6_prefix_length: u8,
    /// Clients never limited.
    pub exempt_clients: Vec<Prefix>,
    /// Count what would be limited, limit nothing.
    pub log_only: bool,
    /// Buckets in the table.
    pub table_size: usize,
}

/// What a response is, for its bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Positive,
    NxDomain,
    NoData,
    Error,
}

impl Kind {
    /// The kind of a reply, from its header.
    pub fn of_reply(reply: &[u8]) -> Kind {
        let rcode = reply.get(3).map_or(2, |b| b & 0x0f);
        let answers = reply.get(6..8).is_some_and(|a| a != [0, 0]);
        match (rcode, answers) {
            (0, true) => Kind::Positive,
            (0, false) => Kind::NoData,
            (3, _) => Kind::NxDomain,
            _ => Kind::Error,
        }
    }
}

/// What to do with a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Send,
    Drop,
    /// Send it truncated (TC=1, question only).
    Slip,
    /// `log-only`: it would have been limited; it is sent.
    WouldLimit,
}

/// One slot: whose it is (a fingerprint of the key), its balance in thousandths of a response,
/// when it was last charged, and how many responses it has suppressed.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    key: u64,
    balance_milli: i64,
    at_ms: u64,
    suppressed: u32,
}

/// Shards of the table, each behind its own lock, so UDP workers rarely wait for each other.
const SHARDS: usize = 16;

/// The rate limiter of one configuration.
#[derive(Debug)]
pub struct RateLimiter {
    settings: RrlSettings,
    exempt: ClientRules,
    /// Keyed with random keys at start, so sources cannot choose keys that share a slot.
    hasher: ahash::RandomState,
    shards: Vec<Mutex<Vec<Bucket>>>,
}

impl RateLimiter {
    pub fn new(settings: RrlSettings) -> RateLimiter {
        let per_shard = settings.table_size.div_ceil(SHARDS).max(1);
        let exempt = ClientRules::new(&settings.exempt_clients, &[]);
        RateLimiter {
            settings,
            exempt,
            hasher: ahash::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(vec![Bucket::default(); per_shard])).collect(),
        }
    }

    pub fn settings(&self) -> &RrlSettings {
        &self.settings
    }

    /// Decides on one response of `kind` to `client`; `question` is the question section (name
    /// and type, any case) and counts for positive answers only. `now_ms`: milliseconds on a
    /// clock that does not go back.
    pub fn check(&self, client: IpAddr, kind: Kind, question: &[u8], now_ms: u64) -> Action {
        // The exempt prefixes are the one list of these rules: any verdict but Answer means "in it".
        if self.exempt.verdict(client) != crate::access::ClientVerdict::Answer {
            return Action::Send;
        }
        let s = &self.settings;
        let rate = match kind {
            Kind::Positive => s.responses_per_second,
            Kind::NxDomain => s.nxdomains_per_second,
            Kind::NoData => s.nodata_per_second,
            Kind::Error => s.errors_per_second,
        };
        let prefix = match Prefix::host(client) {
            Prefix::V4 { bits, .. } => Prefix::masked_v4(bits, s.ipv4_prefix_length),
            p @ Prefix::V6 { .. } => p.truncated(s.ipv6_prefix_length),
        };
        // The key's bytes in one buffer, hashed with one call: kind, family, length, address, then
        // (positive answers) the question in lower case.
        let mut buf = [0u8; 3 + 16 + 260];
        buf[0] = kind as u8;
        let mut n = 19;
        match prefix {
            Prefix::V4 { bits, len } => {
                (buf[1], buf[2]) = (4, len);
                buf[3..7].copy_from_slice(&bits.to_be_bytes());
            }
            Prefix::V6 { bits, len } => {
                (buf[1], buf[2]) = (6, len);
                buf[3..19].copy_from_slice(&bits.to_be_bytes());
            }
        }
        if kind == Kind::Positive {
            let q = &question[..question.len().min(buf.len() - n)];
            for (to, &b) in buf[n..].iter_mut().zip(q) {
                *to = b.to_ascii_lowercase();
            }
            n += q.len();
        }
        // Never 0, so an empty slot is never taken for a key.
        let key = self.hasher.hash_one(&buf[..n]) | 1;
        let shard = &self.shards[(key as usize >> 8) % SHARDS];
        let Ok(mut buckets) = shard.lock() else { return Action::Send };
        let len = buckets.len();
        let bucket = &mut buckets[(key as usize) % len];
        let full = i64::from(rate) * 1000;
        if bucket.key != key {
            *bucket = Bucket { key, balance_milli: full, at_ms: now_ms, suppressed: 0 };
        }
        let elapsed = now_ms.saturating_sub(bucket.at_ms).min(3_600_000) as i64;
        bucket.at_ms = now_ms.max(bucket.at_ms);
        bucket.balance_milli = (bucket.balance_milli + elapsed * i64::from(rate)).min(full) - 1000;
        if bucket.balance_milli >= 0 {
            bucket.suppressed = 0;
            return Action::Send;
        }
        bucket.balance_milli = bucket.balance_milli.max(-full * i64::from(s.window));
        if s.log_only {
            return Action::WouldLimit;
        }
        bucket.suppressed = bucket.suppressed.wrapping_add(1);
        if s.slip > 0 && bucket.suppressed % s.slip == 0 {
            Action::Slip
        } else {
            Action::Drop
        }
    }
}

/// The truncated form of `reply` (TC=1, the question only, no records), written into `out`;
/// `false` when the reply has no whole question to keep.
pub fn slipped(reply: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(end) = question_end(reply) else { return false };
    out.clear();
    out.extend_from_slice(&reply[..end]);
    out[2] |= 0x02;
    out[4..6].copy_from_slice(&1u16.to_be_bytes());
    out[6..12].fill(0);
    true
}

/// Where the single question of a message ends (header, name, type, class).
pub fn question_end(message: &[u8]) -> Option<usize> {
    if message.get(4..6)? != [0, 1] {
        return None;
    }
    let mut pos = 12;
    loop {
        let len = *message.get(pos)?;
        match len {
            0 => break,
            l if l <= 63 => pos += 1 + usize::from(l),
            _ => return None,
        }
    }
    let end = pos + 1 + 4;
    (end <= message.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RrlSettings {
        RrlSettings {
            responses_per_second: 5,
            nxdomains_per_second: 5,
            nodata_per_second: 5,
            errors_per_second: 5,
            window: 2,
            slip: 2,
            ipv4_prefix_length: 24,
            ipv6_prefix_length: 56,
            exempt_clients: vec!["192.0.2.53/32".parse().expect("prefix")],
            log_only: false,
            table_size: 1024,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_repeated_answer_is_limited_per_prefix_and_slips() {
        let r = RateLimiter::new(settings());
        let q = b"\x03txt\x00\x00\x10\x00\x01";
        let actions: Vec<Action> = (0..10).map(|_| r.check(ip("198.51.100.1"), Kind::Positive, q, 1000)).collect();
        assert_eq!(&actions[..5], &[Action::Send; 5], "a second's worth is sent");
        assert_eq!(&actions[5..], &[Action::Drop, Action::Slip, Action::Drop, Action::Slip, Action::Drop]);
        // The same /24, another address: the same bucket. The same name in another case too.
        assert_eq!(r.check(ip("198.51.100.200"), Kind::Positive, b"\x03TXT\x00\x00\x10\x00\x01", 1000), Action::Slip);
        // Another name, another kind, another prefix, an exempt client: buckets of their own.
        assert_eq!(r.check(ip("198.51.100.1"), Kind::Positive, b"\x01a\x00\x00\x10\x00\x01", 1000), Action::Send);
        assert_eq!(r.check(ip("198.51.100.1"), Kind::NxDomain, q, 1000), Action::Send);
        assert_eq!(r.check(ip("198.51.101.1"), Kind::Positive, q, 1000), Action::Send);
        for _ in 0..20 {
            assert_eq!(r.check(ip("192.0.2.53"), Kind::Positive, q, 1000), Action::Send);
        }
    }

    #[test]
    fn negative_answers_share_a_bucket_whatever_the_name() {
        let r = RateLimiter::new(settings());
        let sent = (0..50u8)
            .filter(|&i| r.check(ip("203.0.113.9"), Kind::NxDomain, &[1, b'a' + i % 26, 0], 5000) == Action::Send)
            .count();
        assert_eq!(sent, 5, "random names do not escape");
    }

    #[test]
    fn a_flooding_source_must_be_quiet_for_the_window() {
        let r = RateLimiter::new(settings());
        let q = b"\x01x\x00\x00\x01\x00\x01";
        let client = ip("2001:db8::1");
        // 100 responses in one second: 5 sent, the debt capped at window × rate (10).
        assert_eq!((0..100).filter(|_| r.check(client, Kind::Positive, q, 0) == Action::Send).count(), 5);
        // Another address in the same /56.
        let neighbour = ip("2001:db8:0:ff::1");
        assert_ne!(r.check(neighbour, Kind::Positive, q, 1000), Action::Send, "still owing after 1 s");
        assert_eq!(r.check(neighbour, Kind::Positive, q, 4000), Action::Send, "paid off after the window");
    }

    #[test]
    fn log_only_limits_nothing_and_says_what_it_would() {
        let r = RateLimiter::new(RrlSettings { log_only: true, ..settings() });
        let actions: Vec<Action> = (0..7).map(|_| r.check(ip("198.51.100.1"), Kind::Error, b"", 0)).collect();
        assert_eq!(actions[4], Action::Send);
        assert_eq!(actions[5], Action::WouldLimit);
    }

    #[test]
    fn a_slipped_reply_keeps_the_header_and_question_only() {
        // id 0xabcd, QR AA, NOERROR, 1 question, 1 answer; `a.` TXT IN; then an answer record.
        let mut reply = vec![0xab, 0xcd, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1, 1, b'a', 0, 0, 16, 0, 1];
        reply.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2, 1, b'x']);
        let mut out = Vec::new();
        assert!(slipped(&reply, &mut out));
        assert_eq!(out, [0xab, 0xcd, 0x86, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 16, 0, 1]);
        assert!(!slipped(&reply[..15], &mut out), "no whole question");
        assert_eq!(Kind::of_reply(&reply), Kind::Positive);
        assert_eq!(Kind::of_reply(&out), Kind::NoData);
    }
}
