//! Response rate limiting (RRL) for UDP: a fixed-size table of token buckets, one per client
//! prefix and kind of response, that decides whether a response is sent, dropped, or "slipped"
//! (sent truncated, so a real client retries over TCP, which cannot be spoofed).
//!
//! Keys, as BIND's `rate-limit` keeps them: a positive answer by (client prefix, question name,
//! type), so one source repeating a listed TXT or an ANY is limited while a resolver asking many
//! different listed addresses is not; NXDOMAIN, NODATA and errors by (client prefix, kind), so
//! random names do not escape. Each bucket earns its rate per second, holds at most one second's
//! worth, and owes at most `window` seconds' worth: a source that kept flooding stays limited
//! until it has been quiet that long. The table never grows: a key hashes to a pair of slots in
//! one cache line, and a new key takes the one closest to being paid off, so a
//! source being limited keeps its bucket while one-off keys come and go (an attacker with many
//! sources evicts rather than allocates). A small table keeps the memory every reply touches
//! small: at saturation a 1M-bucket table cost ~11 % of the queries per second through cache
//! misses, 16k buckets nothing measurable.
//! Pure: the caller passes the time.

use std::hash::{BuildHasher, Hasher};
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

/// One slot (32 bytes, two to a cache line): whose it is (a fingerprint of the key), its balance
/// in thousandths of a response, when it was last charged (milliseconds, modulo 2^32), and how
/// many responses it has suppressed.
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(32))]
struct Bucket {
    key: u64,
    balance_milli: i64,
    at_ms: u32,
    suppressed: u32,
}

/// A part of the table (a power of two of buckets) behind its own lock, so UDP workers rarely
/// wait for each other.
type Shard = Mutex<Box<[Bucket]>>;

/// Shards of the table.
const SHARDS: usize = 16;

/// The bucket a response is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    hash: u64,
    kind: Kind,
}

/// The rate limiter of one configuration.
#[derive(Debug)]
pub struct RateLimiter {
    settings: RrlSettings,
    exempt: ClientRules,
    /// Keyed with random keys at start, so sources cannot choose keys that share a slot.
    hasher: ahash::RandomState,
    shards: Vec<Shard>,
}

impl RateLimiter {
    pub fn new(settings: RrlSettings) -> RateLimiter {
        let per_shard = settings.table_size.div_ceil(SHARDS).max(2).next_power_of_two();
        let exempt = ClientRules::new(&settings.exempt_clients, &[]);
        RateLimiter {
            settings,
            exempt,
            hasher: ahash::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(vec![Bucket::default(); per_shard].into_boxed_slice())).collect(),
        }
    }

    pub fn settings(&self) -> &RrlSettings {
        &self.settings
    }

    /// Decides on one response of `kind` to `client`; `question` is the question section (name
    /// and type, any case) and counts for positive answers only. `now_ms`: milliseconds on a
    /// clock that does not go back.
    pub fn check(&self, client: IpAddr, kind: Kind, question: &[u8], now_ms: u64) -> Action {
        match self.key(client, kind, question) {
            None => Action::Send,
            Some(key) => self.decide(key, now_ms),
        }
    }

    /// The bucket a response is charged to; `None` for an exempt client.
    fn key(&self, client: IpAddr, kind: Kind, question: &[u8]) -> Option<Key> {
        // The exempt prefixes are the one list of these rules: any verdict but Answer means "in it".
        if self.exempt.verdict(client) != crate::access::ClientVerdict::Answer {
            return None;
        }
        let s = &self.settings;
        let prefix = match Prefix::host(client) {
            Prefix::V4 { bits, .. } => Prefix::masked_v4(bits, s.ipv4_prefix_length),
            p @ Prefix::V6 { .. } => p.truncated(s.ipv6_prefix_length),
        };
        // Kind, family, length and address in one word each, then (positive answers only) the
        // question in lower case, hashed in chunks with one hasher.
        let mut h = self.hasher.build_hasher();
        let head = u64::from(kind as u8) << 48;
        match prefix {
            Prefix::V4 { bits, len } => h.write_u64(head | 4 << 40 | u64::from(len) << 32 | u64::from(bits)),
            Prefix::V6 { bits, len } => {
                h.write_u64(head | 6 << 40 | u64::from(len) << 32);
                h.write_u128(bits);
            }
        }
        if kind == Kind::Positive {
            let mut chunk = [0u8; 64];
            for part in question.chunks(chunk.len()) {
                let lower = &mut chunk[..part.len()];
                lower.copy_from_slice(part);
                lower.make_ascii_lowercase();
                h.write(lower);
            }
        }
        // Never 0, so an empty slot is never taken for a key.
        Some(Key { hash: h.finish() | 1, kind })
    }

    /// The shard and the first of the two slots (one cache line) a key may use.
    fn slot(&self, key: &Key) -> (&Shard, usize) {
        (&self.shards[(key.hash as usize >> 8) % SHARDS], (key.hash as usize >> 12) & !1)
    }

    /// Charges one response to its bucket and says what to do with it.
    fn decide(&self, key: Key, now_ms: u64) -> Action {
        let s = &self.settings;
        let rate = match key.kind {
            Kind::Positive => s.responses_per_second,
            Kind::NxDomain => s.nxdomains_per_second,
            Kind::NoData => s.nodata_per_second,
            Kind::Error => s.errors_per_second,
        };
        let (shard, first) = self.slot(&key);
        let Ok(mut buckets) = shard.lock() else { return Action::Send };
        // Shards hold a power of two of buckets: the slot is a mask, not a division.
        let first = first & (buckets.len() - 1);
        let full = i64::from(rate) * 1000;
        let now = now_ms as u32;
        let pair = &mut buckets[first..first + 2];
        let at = match pair.iter().position(|b| b.key == key.hash) {
            Some(mine) => mine,
            None => {
                // A new key takes the slot that matters less: the one closest to being paid off
                // (its balance now, with what it has earned since). So a source being limited
                // keeps its bucket while many one-off keys come and go.
                let standing = |b: &Bucket| {
                    let elapsed = i64::from(now.wrapping_sub(b.at_ms).min(3_600_000));
                    (b.balance_milli + elapsed * i64::from(rate)).min(full)
                };
                let free = usize::from(standing(&pair[0]) < standing(&pair[1]));
                pair[free] = Bucket { key: key.hash, balance_milli: full, at_ms: now, suppressed: 0 };
                free
            }
        };
        let bucket = &mut pair[at];
        // Workers read the clock at slightly different moments: a time a little behind the
        // bucket's counts as no time at all.
        let elapsed = match now.wrapping_sub(bucket.at_ms) {
            e if e < 1 << 31 => {
                bucket.at_ms = now;
                i64::from(e.min(3_600_000))
            }
            _ => 0,
        };
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
    fn a_source_being_limited_keeps_its_bucket_while_one_off_keys_pass_through() {
        // 64 buckets and 10,000 distinct answers: every slot is taken again and again, but the
        // limited source's bucket is in debt and the one-off keys' are not.
        let r = RateLimiter::new(RrlSettings { table_size: 64, ..settings() });
        let q = b"\x03txt\x00\x00\x10\x00\x01";
        let flooder = ip("198.51.100.1");
        for _ in 0..20 {
            r.check(flooder, Kind::Positive, q, 1000);
        }
        for i in 0..10_000u32 {
            let name = format!("\x04{:04}\x00\x00\x01\x00\x01", i % 10_000);
            r.check(ip("203.0.113.7"), Kind::Positive, name.as_bytes(), 1000);
        }
        assert_ne!(r.check(flooder, Kind::Positive, q, 1100), Action::Send, "still limited");
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
