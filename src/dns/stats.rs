//! Query counters. Each UDP worker counts a batch on the stack ([`Tally`]) and adds it to its
//! own cache-line-aligned block of relaxed atomics ([`Counters`]) once per batch; the TCP front
//! end shares one block. Readers sum the blocks ([`DnsStats::totals`]). No locks, and workers
//! never write to the same cache line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::request::Route;

/// Response codes counted by name (the header's 4 bits); the rest are counted as `other`.
/// Extended codes carried in the OPT record (BADVERS) count under their header bits (NOERROR).
pub const RCODE_NAMES: [&str; 6] = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/// What happened to the queries of one batch (or one TCP message), before it is added up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Queries received (datagrams or TCP messages).
    pub queries: u64,
    /// Queries that got no reply: responses (QR=1), runts, over-long datagrams, spoofing-prone
    /// sources.
    pub dropped: u64,
    /// Replies by header response code (0..=5 by name, 6.. together).
    pub rcodes: [u64; RCODE_NAMES.len() + 1],
    /// Replies with at least one answer record (a listed name, or the apex's SOA/NS).
    pub with_answers: u64,
    /// Replies sent with TC=1 (too large for UDP; the client retries over TCP).
    pub truncated: u64,
    /// Replies written by the full (hickory) path instead of the lean one.
    pub full_path: u64,
    /// Replies the kernel refused to send.
    pub send_errors: u64,
    /// Replies response rate limiting dropped, sent truncated instead, or (`log-only`) would
    /// have limited (UDP only).
    pub rrl_dropped: u64,
    pub rrl_slipped: u64,
    pub rrl_would_limit: u64,
    /// Queries with a DNS cookie: a client cookie alone, a valid server cookie of ours, and a
    /// server cookie that is not (BADCOOKIE over UDP).
    pub cookies_client_only: u64,
    pub cookies_valid: u64,
    pub cookies_invalid: u64,
}

impl Tally {
    /// Counts the COOKIE option of one query.
    #[inline]
    pub fn cookie(&mut self, verdict: Option<crate::cookie::Verdict>) {
        use crate::cookie::Verdict;
        match verdict {
            None => {}
            Some(Verdict::ClientOnly) => self.cookies_client_only += 1,
            Some(Verdict::Valid) => self.cookies_valid += 1,
            Some(Verdict::Invalid) => self.cookies_invalid += 1,
        }
    }

    /// Counts one reply as written by `route` into `reply`.
    #[inline]
    pub fn reply(&mut self, reply: &[u8], route: Route) {
        let (Some(&flags), Some(&code)) = (reply.get(2), reply.get(3)) else { return };
        self.rcodes[usize::from(code & 0x0f).min(RCODE_NAMES.len())] += 1;
        self.truncated += u64::from(flags & 0x02 != 0);
        self.with_answers += u64::from(reply.get(6..8).is_some_and(|a| a != [0, 0]));
        self.full_path += u64::from(route == Route::Full);
    }
}

/// One worker's running totals.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Counters {
    queries: AtomicU64,
    dropped: AtomicU64,
    rcodes: [AtomicU64; RCODE_NAMES.len() + 1],
    with_answers: AtomicU64,
    truncated: AtomicU64,
    full_path: AtomicU64,
    send_errors: AtomicU64,
    rrl_dropped: AtomicU64,
    rrl_slipped: AtomicU64,
    rrl_would_limit: AtomicU64,
    cookies_client_only: AtomicU64,
    cookies_valid: AtomicU64,
    cookies_invalid: AtomicU64,
}

impl Counters {
    /// Adds a tally (relaxed: the numbers are statistics, not synchronisation).
    pub fn add(&self, t: &Tally) {
        let add = |c: &AtomicU64, v: u64| {
            if v != 0 {
                c.fetch_add(v, Ordering::Relaxed);
            }
        };
        add(&self.queries, t.queries);
        add(&self.dropped, t.dropped);
        for (c, &v) in self.rcodes.iter().zip(&t.rcodes) {
            add(c, v);
        }
        add(&self.with_answers, t.with_answers);
        add(&self.truncated, t.truncated);
        add(&self.full_path, t.full_path);
        add(&self.send_errors, t.send_errors);
        add(&self.rrl_dropped, t.rrl_dropped);
        add(&self.rrl_slipped, t.rrl_slipped);
        add(&self.rrl_would_limit, t.rrl_would_limit);
        add(&self.cookies_client_only, t.cookies_client_only);
        add(&self.cookies_valid, t.cookies_valid);
        add(&self.cookies_invalid, t.cookies_invalid);
    }

    fn read(&self, into: &mut Tally) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        into.queries += get(&self.queries);
        into.dropped += get(&self.dropped);
        for (v, c) in into.rcodes.iter_mut().zip(&self.rcodes) {
            *v += get(c);
        }
        into.with_answers += get(&self.with_answers);
        into.truncated += get(&self.truncated);
        into.full_path += get(&self.full_path);
        into.send_errors += get(&self.send_errors);
        into.rrl_dropped += get(&self.rrl_dropped);
        into.rrl_slipped += get(&self.rrl_slipped);
        into.rrl_would_limit += get(&self.rrl_would_limit);
        into.cookies_client_only += get(&self.cookies_client_only);
        into.cookies_valid += get(&self.cookies_valid);
        into.cookies_invalid += get(&self.cookies_invalid);
    }
}

/// Zone transfers served and NOTIFYs sent, by outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// A whole zone (AXFR, or an IXFR the history could not serve incrementally).
    Whole,
    /// An incremental transfer (IXFR).
    Incremental,
    /// An IXFR from a secondary already current (the SOA alone).
    Current,
    /// A transfer refused (or FORMERR, SERVFAIL).
    Refused,
    /// A NOTIFY sent for the first time (retransmissions are not counted).
    NotifySent,
    /// A NOTIFY a secondary answered.
    NotifyAnswered,
    /// A NOTIFY given up after every retransmission.
    NotifyUnanswered,
}

impl Transfer {
    pub const ALL: [Transfer; 7] = [
        Transfer::Whole,
        Transfer::Incremental,
        Transfer::Current,
        Transfer::Refused,
        Transfer::NotifySent,
        Transfer::NotifyAnswered,
        Transfer::NotifyUnanswered,
    ];

    /// The name in the statistics.
    pub fn name(self) -> &'static str {
        match self {
            Transfer::Whole => "whole",
            Transfer::Incremental => "incremental",
            Transfer::Current => "current",
            Transfer::Refused => "refused",
            Transfer::NotifySent => "notify_sent",
            Transfer::NotifyAnswered => "notify_answered",
            Transfer::NotifyUnanswered => "notify_unanswered",
        }
    }
}

/// The counters of every DNS worker of a server.
#[derive(Debug)]
pub struct DnsStats {
    udp: Vec<Counters>,
    tcp: Counters,
    transfers: [AtomicU64; Transfer::ALL.len()],
    started: Instant,
}

/// Totals since the server started, per transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub udp: Tally,
    pub tcp: Tally,
    pub uptime_seconds: u64,
    pub udp_workers: usize,
    /// By [`Transfer`], in the order of [`Transfer::ALL`].
    pub transfers: [u64; Transfer::ALL.len()],
}

impl DnsStats {
    /// Counters for `udp_workers` UDP workers and the TCP front end.
    pub fn new(udp_workers: usize) -> DnsStats {
        let udp = (0..udp_workers.max(1)).map(|_| Counters::default()).collect();
        DnsStats { udp, tcp: Counters::default(), transfers: Default::default(), started: Instant::now() }
    }

    /// Counts one zone transfer or NOTIFY.
    pub fn transfer(&self, what: Transfer) {
        self.transfers[what as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// UDP worker `i`'s block (the last one for any larger `i`, so a miscount cannot panic).
    pub fn udp(&self, i: usize) -> &Counters {
        &self.udp[i.min(self.udp.len() - 1)]
    }

    /// The TCP front end's block.
    pub fn tcp(&self) -> &Counters {
        &self.tcp
    }

    /// The sums so far.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals {
            uptime_seconds: self.started.elapsed().as_secs(),
            udp_workers: self.udp.len(),
            ..Totals::default()
        };
        for c in &self.udp {
            c.read(&mut totals.udp);
        }
        self.tcp.read(&mut totals.tcp);
        for (total, c) in totals.transfers.iter_mut().zip(&self.transfers) {
            *total = c.load(Ordering::Relaxed);
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_counted_by_code_size_and_path() {
        let mut t = Tally::default();
        // NXDOMAIN, no answers; NOERROR with one answer; TC=1; rcode 9 (NOTAUTH) counts as other.
        t.reply(&[0, 0, 0x84, 0x03, 0, 1, 0, 0, 0, 1, 0, 0], Route::Lean);
        t.reply(&[0, 0, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0], Route::Lean);
        t.reply(&[0, 0, 0x86, 0x00, 0, 1, 0, 0, 0, 0, 0, 0], Route::Full);
        t.reply(&[0, 0, 0x80, 0x09, 0, 1, 0, 0, 0, 0, 0, 0], Route::Full);
        t.reply(&[0, 0], Route::Full);
        assert_eq!(t.rcodes, [2, 0, 0, 1, 0, 0, 1]);
        assert_eq!((t.with_answers, t.truncated, t.full_path), (1, 1, 2));
        let stats = DnsStats::new(2);
        stats.udp(0).add(&t);
        stats.udp(7).add(&Tally { queries: 3, dropped: 1, ..Tally::default() });
        stats.tcp().add(&Tally { queries: 1, ..Tally::default() });
        let totals = stats.totals();
        assert_eq!((totals.udp.queries, totals.udp.dropped, totals.udp.rcodes[0]), (3, 1, 2));
        assert_eq!((totals.tcp.queries, totals.udp_workers), (1, 2));
    }
}
