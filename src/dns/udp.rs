//! The UDP loop: one OS thread per `SO_REUSEPORT` socket receives up to [`BATCH`] datagrams with
//! one `recvmmsg`, answers them from one snapshot load into reused buffers, and sends the replies
//! with one `sendmmsg`. Before answering, it loads the table lines the batch's IPv4 lookups need
//! ([`PrefixTable::warm`]), so their cache misses overlap instead of following one another. No
//! per-query allocation and no per-query logging; the batch is counted on the stack and added to
//! the worker's own [`Counters`] once. An error on one datagram never stops the loop. The
//! socket's receive timeout bounds how long a stop takes.

use std::io::{IoSlice, IoSliceMut};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage};
use tokio_util::sync::CancellationToken;

use super::lean;
use super::notify::Kicks;
use super::request::{Limits, Transport, HEADER_LEN};
use super::respond::{cookie_of, refuse, respond};
use super::stats::{Counters, Tally};
use crate::access::ClientVerdict;
use crate::cookie::{Presented, Verdict};
use crate::rrl::{question_end, slipped, Action, Kind};
use crate::snapshot::SharedSnapshot;
use crate::trie::PrefixTable;

/// The origin of the rate limiter's clock, shared by every worker.
static RRL_EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

/// Datagrams handled per system call.
pub const BATCH: usize = 32;
/// Batches at least this large get their table lines loaded before they are answered.
const WARM_MIN_BATCH: usize = 8;
/// Largest query we read; longer datagrams are dropped (no DNS query needs more).
const MAX_QUERY: usize = 4096;
/// How often a blocked worker checks for shutdown.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// Serves one socket on the calling thread until `shutdown` is cancelled.
pub fn serve(
    socket: UdpSocket,
    shared: Arc<SharedSnapshot>,
    limits: Limits,
    counters: &Counters,
    kicks: Arc<Kicks>,
    shutdown: CancellationToken,
) {
    let kicks = &*kicks;
    if let Err(e) = socket.set_nonblocking(false).and_then(|()| socket.set_read_timeout(Some(STOP_CHECK))) {
        tracing::error!(error = %e, "cannot configure UDP socket; this worker stops");
        return;
    }
    let fd = socket.as_raw_fd();
    let mut queries = vec![[0u8; MAX_QUERY]; BATCH];
    let mut replies: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1232)).collect();
    let mut received: [(usize, Option<SockaddrStorage>); BATCH] = [(0, None); BATCH];
    let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    // The buffer a rate-limited reply is truncated into.
    let mut scratch = Vec::with_capacity(512);
    while !shutdown.is_cancelled() {
        let count = receive(fd, &mut recv_headers, &mut queries, &mut received);
        if count == 0 {
            continue;
        }
        let snapshot = shared.load();
        let clients = &snapshot.clients;
        let clock_ms = if snapshot.rrl.is_some() { RRL_EPOCH.elapsed().as_millis() as u64 } else { 0 };
        let unix_time = if snapshot.cookies.is_some() { crate::clock::unix_now() } else { 0 };
        // Load the table lines the batch's lookups need together, so their cache misses overlap.
        // Small batches (a server that keeps up) skip it: there is little to overlap, and
        // finding the lines parses each question a second time.
        if count >= WARM_MIN_BATCH {
            let mut located: [Option<(&PrefixTable<u32>, u32)>; BATCH] = [None; BATCH];
            for ((slot, &(len, _)), query) in located.iter_mut().zip(&received[..count]).zip(&queries) {
                *slot = lean::locate_v4(&snapshot, &query[..len]);
            }
            std::hint::black_box(PrefixTable::warm(&located[..count]));
        }
        let mut to: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
        let mut ready = 0;
        let mut tally = Tally { queries: count as u64, ..Tally::default() };
        for i in 0..count {
            let (len, peer) = received[i];
            if !peer.as_ref().is_some_and(valid_peer) {
                tally.dropped += 1;
                continue;
            }
            let reply = &mut replies[ready];
            let query = &queries[i][..len];
            let verdict = match (&peer, clients.is_empty()) {
                (Some(addr), false) => clients.verdict(peer_ip(addr)),
                _ => ClientVerdict::Answer,
            };
            // Registered resolvers: counted, and the only ones answered when so configured.
            let verdict = match (&peer, verdict) {
                (Some(addr), ClientVerdict::Answer) => snapshot.access.admit(peer_ip(addr)),
                (_, other) => other,
            };
            let cookie = match (&peer, verdict) {
                (Some(addr), ClientVerdict::Answer) => cookie_of(&snapshot, query, peer_ip(addr), unix_time),
                _ => None,
            };
            let answered = match verdict {
                ClientVerdict::Answer if super::full::is_notify(query) => {
                    notify_in(&snapshot, query, peer.as_ref().map(peer_ip), kicks, reply)
                }
                ClientVerdict::Answer => respond(&snapshot, query, Transport::Udp, &limits, cookie.as_ref(), reply),
                ClientVerdict::Refuse => refuse(query, &limits, reply),
                ClientVerdict::Ignore => None,
            };
            let Some(route) = answered else {
                tally.dropped += 1;
                continue;
            };
            let cookie_verdict = match cookie {
                Some(Presented::Checked { verdict, .. }) => Some(verdict),
                _ => None,
            };
            tally.cookie(cookie_verdict);
            // A valid server cookie proves the source address: nothing to reflect (RFC 7873 §5.2.5).
            let proven = cookie_verdict == Some(Verdict::Valid);
            if let (Some(rrl), Some(addr), false) = (&snapshot.rrl, &peer, proven) {
                // Only positive answers are keyed by their question.
                let kind = Kind::of_reply(reply);
                let question = match kind {
                    Kind::Positive => query.get(HEADER_LEN..question_end(query).unwrap_or(HEADER_LEN)).unwrap_or(&[]),
                    _ => &[],
                };
                match rrl.check(peer_ip(addr), kind, question, clock_ms) {
                    Action::Send => {}
                    Action::WouldLimit => tally.rrl_would_limit += 1,
                    Action::Drop => {
                        tally.rrl_dropped += 1;
                        continue;
                    }
                    Action::Slip => {
                        if !slipped(reply, &mut scratch) {
                            tally.rrl_dropped += 1;
                            continue;
                        }
                        std::mem::swap(reply, &mut scratch);
                        tally.rrl_slipped += 1;
                    }
                }
            }
            tally.reply(reply, route);
            to[ready] = peer;
            ready += 1;
        }
        drop(snapshot);
        // Counted before the replies leave, so a client that has its answer sees it counted.
        counters.add(&tally);
        let refused = send(fd, &mut send_headers, &replies[..ready], &to[..ready]);
        if refused > 0 {
            counters.add(&Tally { send_errors: refused, ..Tally::default() });
        }
    }
}

/// Receives at least one datagram (or times out); returns how many, with their lengths and peers.
/// Truncated datagrams (longer than [`MAX_QUERY`]) are reported with length 0 and no peer.
fn receive(
    fd: i32,
    headers: &mut MultiHeaders<SockaddrStorage>,
    queries: &mut [[u8; MAX_QUERY]],
    received: &mut [(usize, Option<SockaddrStorage>); BATCH],
) -> usize {
    let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] = iovs_for(queries);
    match recvmmsg(fd, headers, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
        Ok(results) => {
            let mut n = 0;
            for msg in results {
                received[n] =
                    if msg.flags.contains(MsgFlags::MSG_TRUNC) { (0, None) } else { (msg.bytes, msg.address) };
                n += 1;
            }
            n
        }
        Err(Errno::EAGAIN | Errno::EINTR) => 0,
        Err(e) => {
            // ICMP errors from earlier sends surface here (ECONNREFUSED); keep serving.
            tracing::debug!(error = %e, "udp receive failed");
            0
        }
    }
}

fn iovs_for(queries: &mut [[u8; MAX_QUERY]]) -> [[IoSliceMut<'_>; 1]; BATCH] {
    let mut it = queries.iter_mut();
    std::array::from_fn(|_| match it.next() {
        Some(q) => [IoSliceMut::new(q)],
        None => [IoSliceMut::new(&mut [])],
    })
}

/// Sends the replies, retrying the rest after a partial send; drops what the kernel refuses and
/// returns how many that was.
fn send(
    fd: i32,
    headers: &mut MultiHeaders<SockaddrStorage>,
    replies: &[Vec<u8>],
    to: &[Option<SockaddrStorage>],
) -> u64 {
    let mut refused = 0;
    let mut start = 0;
    while start < replies.len() {
        let pending = &replies[start..];
        let slices: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|i| [IoSlice::new(pending.get(i).map_or(&[][..], |r| r))]);
        let none: [ControlMessage<'_>; 0] = [];
        match sendmmsg(fd, headers, slices[..pending.len()].iter(), &to[start..], none, MsgFlags::empty()) {
            Ok(results) => {
                let sent = results.count();
                start += sent.max(1);
            }
            Err(Errno::EINTR) => {}
            Err(e) => {
                tracing::debug!(error = %e, "udp send failed");
                // Skip the datagram the kernel refused and go on with the rest.
                start += 1;
                refused += 1;
            }
        }
    }
    refused
}

/// The source address of a datagram (only called for IPv4 and IPv6 peers, see [`valid_peer`]).
/// Answers a NOTIFY and wakes the transfer task of the secondary zone it comes for (when it
/// comes from that zone's primary).
fn notify_in(
    snapshot: &crate::snapshot::Snapshot,
    query: &[u8],
    peer: Option<std::net::IpAddr>,
    kicks: &Kicks,
    reply: &mut Vec<u8>,
) -> Option<super::request::Route> {
    let (bytes, zone) = super::full::notify_in(snapshot, query, peer?)?;
    if let Some(zone) = zone {
        tracing::debug!(%zone, "NOTIFY from the primary");
        kicks.kick(&zone);
    }
    reply.clear();
    reply.extend_from_slice(&bytes);
    Some(super::request::Route::Full)
}

fn peer_ip(addr: &SockaddrStorage) -> std::net::IpAddr {
    match (addr.as_sockaddr_in(), addr.as_sockaddr_in6()) {
        (Some(v4), _) => std::net::IpAddr::V4(v4.ip()),
        (_, Some(v6)) => std::net::IpAddr::V6(v6.ip()),
        _ => std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

/// Drops spoofing-prone sources: port 0 and unspecified addresses.
fn valid_peer(addr: &SockaddrStorage) -> bool {
    if let Some(v4) = addr.as_sockaddr_in() {
        return v4.port() != 0 && v4.ip() != std::net::Ipv4Addr::UNSPECIFIED;
    }
    if let Some(v6) = addr.as_sockaddr_in6() {
        return v6.port() != 0 && !v6.ip().is_unspecified();
    }
    false
}
