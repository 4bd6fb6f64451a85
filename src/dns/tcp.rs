//! The TCP front end: our own accept loop with a connection cap, per-connection idle timeout
//! and length-prefixed messages (RFC 1035 §4.2.2, RFC 7766). Accept errors (EMFILE when
//! descriptors run out, aborted handshakes) never end the listener: it pauses, doubling the pause
//! from 10 ms up to 500 ms while they go on (so it neither spins nor waits long once descriptors
//! are free again), and logs them once per 10 s with a count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::full::{Asked, Sent};
use super::journal::Journal;
use super::request::{Limits, Transport};
use super::respond::{cookie_of, refuse, respond};
use super::stats::{DnsStats, Tally, Transfer};
use crate::access::ClientVerdict;
use crate::cookie::Presented;
use crate::snapshot::SharedSnapshot;

/// TCP settings.
#[derive(Clone, Copy, Debug)]
pub struct TcpSettings {
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// Accepts connections until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<SharedSnapshot>,
    limits: Limits,
    settings: TcpSettings,
    stats: Arc<DnsStats>,
    journal: Arc<Journal>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let mut failures = AcceptFailures::default();
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                failures.succeeded();
                let verdict = shared.load().clients.verdict(peer.ip());
                if verdict == ClientVerdict::Ignore {
                    stats.tcp().add(&Tally { dropped: 1, ..Tally::default() });
                    continue;
                }
                let (shared, shutdown, stats, journal) =
                    (shared.clone(), shutdown.clone(), stats.clone(), journal.clone());
                let conn = Connection {
                    limits,
                    idle: settings.idle_timeout,
                    refused: verdict == ClientVerdict::Refuse,
                    peer: peer.ip(),
                };
                tokio::spawn(async move {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = connection(stream, &shared, conn, &stats, &journal) => {}
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                let pause = failures.failed(&e, Instant::now());
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// Shortest and longest pause after a failed accept.
const ACCEPT_PAUSE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(500));

/// Accept failures are logged at most once per this interval.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Failed accepts in a row: the next pause, and what is still to be logged.
#[derive(Debug, Default)]
struct AcceptFailures {
    /// Zero while accepts succeed.
    pause: Duration,
    unlogged: u64,
    last_logged: Option<Instant>,
    /// Failures since the last success.
    streak: u64,
}

impl AcceptFailures {
    /// Records a failure; returns how long to pause before the next accept.
    fn failed(&mut self, error: &std::io::Error, now: Instant) -> Duration {
        self.unlogged += 1;
        self.streak += 1;
        if self.last_logged.is_none_or(|at| now.duration_since(at) >= ACCEPT_LOG_INTERVAL) {
            tracing::warn!(%error, failures = self.unlogged, "tcp accept failing; pausing between attempts (logged once per 10 s)");
            self.unlogged = 0;
            self.last_logged = Some(now);
        }
        self.pause = (self.pause * 2).clamp(ACCEPT_PAUSE.0, ACCEPT_PAUSE.1);
        self.pause
    }

    fn succeeded(&mut self) {
        if self.streak > 0 {
            tracing::info!(failures = self.streak, "tcp accept works again");
        }
        *self = AcceptFailures { last_logged: self.last_logged, ..AcceptFailures::default() };
    }
}

/// How one connection is served.
#[derive(Clone, Copy)]
struct Connection {
    limits: Limits,
    idle: Duration,
    /// The client is in `refuse-clients`: every message gets REFUSED.
    refused: bool,
    /// The client's address (DNS cookies are made for it).
    peer: std::net::IpAddr,
}

/// Answers messages on one connection, in order, until the client closes it or idles out.
async fn connection(
    mut stream: TcpStream,
    shared: &SharedSnapshot,
    conn: Connection,
    stats: &DnsStats,
    journal: &Arc<Journal>,
) {
    let Connection { limits, idle, refused, peer } = conn;
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut reply = Vec::with_capacity(4096);
    let mut framed = Vec::with_capacity(4096);
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let n = usize::from(u16::from_be_bytes(len));
        buf.resize(n, 0);
        match tokio::time::timeout(idle, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let mut tally = Tally { queries: 1, ..Tally::default() };
        // A zone transfer (a refused client is refused below, as for any query): written off
        // the runtime's threads (a large zone takes seconds) and sent message by message as
        // it is written.
        if !refused && super::full::asks_transfer(&buf) && shared.load().access.admit(peer) != ClientVerdict::Refuse {
            match transfer(&mut stream, &mut framed, shared, &buf, peer, journal, stats).await {
                Some(true) => continue,
                Some(false) => return,
                None => {
                    tally.dropped = 1;
                    stats.tcp().add(&tally);
                    continue;
                }
            }
        }
        let snapshot = shared.load();
        let answered = if refused || snapshot.access.admit(peer) == ClientVerdict::Refuse {
            refuse(&buf, &limits, &mut reply)
        } else {
            let unix_time = if snapshot.cookies.is_some() { crate::clock::unix_now() } else { 0 };
            let cookie = cookie_of(&snapshot, &buf, peer, unix_time);
            if let Some(Presented::Checked { verdict, .. }) = cookie {
                tally.cookie(Some(verdict));
            }
            respond(&snapshot, &buf, Transport::Tcp, &limits, cookie.as_ref(), &mut reply)
        };
        drop(snapshot);
        match answered {
            Some(route) => tally.reply(&reply, route),
            None => tally.dropped = 1,
        }
        stats.tcp().add(&tally);
        if tally.dropped != 0 {
            continue;
        }
        if !send(&mut stream, &mut framed, &reply).await {
            return;
        }
    }
}

/// Serves one zone transfer request on the connection: `Some(true)` to go on reading,
/// `Some(false)` when the connection must close (the client went away, or the transfer was
/// cut short so that the secondary discards it), `None` when the request is dropped.
async fn transfer(
    stream: &mut TcpStream,
    framed: &mut Vec<u8>,
    shared: &SharedSnapshot,
    packet: &[u8],
    peer: std::net::IpAddr,
    journal: &Arc<Journal>,
    stats: &DnsStats,
) -> Option<bool> {
    let mut tally = Tally { queries: 1, ..Tally::default() };
    let asked = super::full::transfer_request(&shared.load(), packet, peer, crate::clock::unix_now())?;
    let ask = match asked {
        Asked::Answer(message, why) => {
            tally.reply(&message, super::request::Route::Full);
            stats.tcp().add(&tally);
            stats.transfer(Transfer::Refused);
            tracing::info!(%peer, why, "zone transfer refused");
            return Some(send(stream, framed, &message).await);
        }
        Asked::Transfer(ask) => ask,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(TRANSFER_QUEUE);
    let history = journal.clone();
    let writer = tokio::task::spawn_blocking(move || {
        super::xfr::stream(&ask, &history, &mut |message| tx.blocking_send(message).is_ok())
    });
    let (mut messages, mut open) = (0usize, true);
    while let Some(message) = rx.recv().await {
        if messages == 0 {
            tally.reply(&message, super::request::Route::Full);
        }
        messages += 1;
        if !send(stream, framed, &message).await {
            open = false;
            break;
        }
    }
    // Dropping the receiver stops the writer at its next message.
    drop(rx);
    let sent = writer.await.unwrap_or(Sent::Gone);
    stats.tcp().add(&tally);
    match &sent {
        Sent::Whole { .. } => stats.transfer(Transfer::Whole),
        Sent::Incremental { .. } => stats.transfer(Transfer::Incremental),
        Sent::Current { .. } => stats.transfer(Transfer::Current),
        Sent::Refused(_) | Sent::Aborted(_) | Sent::Gone => stats.transfer(Transfer::Refused),
    }
    match &sent {
        Sent::Aborted(why) => tracing::warn!(%peer, why, messages, "zone transfer cut short"),
        Sent::Gone => tracing::info!(%peer, messages, "zone transfer: the secondary went away"),
        _ => tracing::info!(%peer, ?sent, messages, "zone transfer"),
    }
    Some(open && !matches!(sent, Sent::Aborted(_) | Sent::Gone))
}

/// Messages of a zone transfer written ahead of the connection (so the writer neither waits
/// for each send nor runs far ahead of a slow secondary).
const TRANSFER_QUEUE: usize = 16;

/// Writes `message` with its two-byte length (in `framed`, one write); false when it cannot go
/// (longer than a TCP message may be, or the connection failed).
async fn send(stream: &mut TcpStream, framed: &mut Vec<u8>, message: &[u8]) -> bool {
    let Ok(len) = u16::try_from(message.len()) else { return false };
    framed.clear();
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(framed).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_back_off_and_reset() {
        let mut f = AcceptFailures::default();
        let error = std::io::Error::from_raw_os_error(24);
        let start = Instant::now();
        let pauses: Vec<u128> =
            (0..8).map(|i| f.failed(&error, start + Duration::from_millis(i)).as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 500, 500]);
        assert_eq!(f.unlogged, 7, "only the first of them was logged");
        f.failed(&error, start + ACCEPT_LOG_INTERVAL);
        assert_eq!(f.unlogged, 0, "logged again after the interval, with the count");
        f.succeeded();
        assert_eq!((f.pause, f.streak), (Duration::ZERO, 0));
        assert_eq!(f.failed(&error, start + ACCEPT_LOG_INTERVAL).as_millis(), 10, "the pause starts short again");
    }
}
