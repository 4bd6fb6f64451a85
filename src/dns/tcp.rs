//! The TCP front end: our own accept loop with a connection cap, per-connection idle timeout
//! and length-prefixed messages (RFC 1035 §4.2.2, RFC 7766). Accept errors (EMFILE, aborted
//! handshakes) are logged and retried after a pause; they never end the listener.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::request::{Limits, Transport};
use super::respond::{refuse, respond};
use super::stats::{DnsStats, Tally};
use crate::query::{ClientRules, ClientVerdict};
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
    clients: Arc<ClientRules>,
    stats: Arc<DnsStats>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(settings.max_connections));
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
                let verdict = clients.verdict(peer.ip());
                if verdict == ClientVerdict::Ignore {
                    stats.tcp().add(&Tally { dropped: 1, ..Tally::default() });
                    continue;
                }
                let (shared, shutdown, stats) = (shared.clone(), shutdown.clone(), stats.clone());
                let conn =
                    Connection { limits, idle: settings.idle_timeout, refused: verdict == ClientVerdict::Refuse };
                tokio::spawn(async move {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = connection(stream, &shared, conn, &stats) => {}
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// How one connection is served.
#[derive(Clone, Copy)]
struct Connection {
    limits: Limits,
    idle: Duration,
    /// The client is in `refuse-clients`: every message gets REFUSED.
    refused: bool,
}

/// Answers messages on one connection, in order, until the client closes it or idles out.
async fn connection(mut stream: TcpStream, shared: &SharedSnapshot, conn: Connection, stats: &DnsStats) {
    let Connection { limits, idle, refused } = conn;
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
        let answered = if refused {
            refuse(&buf, &limits, &mut reply)
        } else {
            respond(&shared.load(), &buf, Transport::Tcp, &limits, &mut reply)
        };
        match answered {
            Some(route) => tally.reply(&reply, route),
            None => tally.dropped = 1,
        }
        stats.tcp().add(&tally);
        if tally.dropped != 0 {
            continue;
        }
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        framed.clear();
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}
