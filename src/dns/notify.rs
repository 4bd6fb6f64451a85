//! NOTIFY (RFC 1996): tells each zone's `notify` secondaries that a new serial is ready, so
//! that they ask for it (IXFR) at once instead of at the SOA refresh.
//!
//! A task looks at the served snapshot every [`TICK`]. A zone whose serial moved gets one
//! NOTIFY round, and at most one per `notify-interval`: changes made in between are told by
//! the next round (coalesced). Before a round the zone's transfer history catches up
//! ([`super::journal::Journal::catch_up`]), so the IXFR the secondaries then ask for is ready.
//! Each secondary is sent the NOTIFY over UDP until it answers (same id, opcode NOTIFY,
//! NOERROR): again after [`FIRST_RETRY`], doubling, [`RETRIES`] times at most (RFC 1996 §3.6
//! suggests 5 retransmissions; its 60-second interval is the cap here). A newer round replaces
//! an unanswered one. A zone with a `transfer-key` signs its NOTIFYs with it (TSIG); the
//! answers are matched by id, opcode and zone, not by their signature.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::journal::Journal;
use super::stats::{DnsStats, Transfer};
use crate::name::DomainName;
use crate::snapshot::SharedSnapshot;

/// NOTIFYs received from secondary zones' primaries, waiting for each zone's transfer task.
#[derive(Debug, Default)]
pub struct Kicks {
    zones: std::sync::Mutex<HashMap<DomainName, Arc<tokio::sync::Notify>>>,
}

impl Kicks {
    /// What the transfer task of `zone` waits on.
    pub fn waiter(&self, zone: &DomainName) -> Arc<tokio::sync::Notify> {
        super::journal::lock(&self.zones).entry(zone.clone()).or_default().clone()
    }

    /// Wakes `zone`'s transfer task (or wakes it at once when it next waits).
    pub fn kick(&self, zone: &DomainName) {
        self.waiter(zone).notify_one();
    }
}

/// How often the task looks for new serials.
pub const TICK: Duration = Duration::from_millis(20);
/// The first retransmission of an unanswered NOTIFY; each next one waits twice as long.
pub const FIRST_RETRY: Duration = Duration::from_secs(2);
/// The longest wait between retransmissions.
const LONGEST_RETRY: Duration = Duration::from_secs(60);
/// Retransmissions after the first NOTIFY.
pub const RETRIES: u32 = 5;

/// One NOTIFY waiting for its answer.
struct Pending {
    id: u16,
    message: Vec<u8>,
    sent: u32,
    next: Instant,
}

/// Sends the NOTIFYs of every zone until `shutdown`.
pub async fn run(
    shared: Arc<SharedSnapshot>,
    journal: Arc<Journal>,
    stats: Arc<DnsStats>,
    shutdown: CancellationToken,
) {
    let v4 = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))).await.ok();
    let v6 = UdpSocket::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))).await.ok();
    let mut told: HashMap<DomainName, (u32, Instant)> = HashMap::new();
    let mut pending: HashMap<(DomainName, SocketAddr), Pending> = HashMap::new();
    let ids = std::collections::hash_map::RandomState::new();
    let mut counter: u64 = 0;
    let (mut buf4, mut buf6) = (vec![0u8; 4096], vec![0u8; 4096]);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(TICK) => {}
            Some((n, from)) = recv(v4.as_ref(), &mut buf4) => answered(&mut pending, buf4.get(..n).unwrap_or_default(), from, &stats),
            Some((n, from)) = recv(v6.as_ref(), &mut buf6) => answered(&mut pending, buf6.get(..n).unwrap_or_default(), from, &stats),
        }
        let snapshot = shared.load_full();
        for zone in &snapshot.zones {
            let config = &zone.config;
            if config.notify.is_empty() || !zone.serving {
                continue;
            }
            let due = match told.get(&config.origin) {
                Some(&(serial, at)) => serial != zone.serial && at.elapsed() >= config.notify_interval,
                None => true,
            };
            if !due {
                continue;
            }
            let (z, j) = (zone.clone(), journal.clone());
            let Ok(latest) = tokio::task::spawn_blocking(move || j.catch_up(&z)).await else {
                continue;
            };
            told.insert(config.origin.clone(), (latest.serial, Instant::now()));
            for &target in &config.notify {
                counter += 1;
                let mut h = ids.build_hasher();
                h.write_u64(counter);
                let id = h.finish() as u16;
                let Some(mut message) = super::full::notify_message(&latest, id) else {
                    continue;
                };
                // Signed with the zone's transfer key, so that a secondary can take NOTIFY only
                // with the key (NSD's `allow-notify: ADDR KEYNAME`). Retransmissions carry the
                // same signature: they fall well within its fudge.
                if let Some(key) = &config.transfer_key {
                    crate::tsig::sign(&mut message, key, None, crate::clock::unix_now(), false);
                }
                tracing::debug!(zone = %config.origin, serial = latest.serial, %target, "NOTIFY");
                let key = (config.origin.clone(), target);
                pending.insert(key, Pending { id, message, sent: 0, next: Instant::now() });
            }
        }
        let now = Instant::now();
        pending.retain(|(zone, target), p| {
            if p.next > now {
                return true;
            }
            if p.sent > RETRIES {
                stats.transfer(Transfer::NotifyUnanswered);
                tracing::warn!(%zone, %target, tries = p.sent, "no answer to NOTIFY; the secondary will ask at its SOA refresh");
                return false;
            }
            let socket = if target.is_ipv4() { v4.as_ref() } else { v6.as_ref() };
            if let Some(socket) = socket {
                if let Err(e) = socket.try_send_to(&p.message, *target) {
                    tracing::debug!(%zone, %target, error = %e, "NOTIFY not sent; retrying");
                }
            }
            if p.sent == 0 {
                stats.transfer(Transfer::NotifySent);
            }
            let wait = FIRST_RETRY.saturating_mul(1 << p.sent.min(8)).min(LONGEST_RETRY);
            p.sent += 1;
            p.next = now + wait;
            true
        });
    }
}

/// The next datagram on `socket`, or never when there is no socket.
async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await.ok(),
        None => std::future::pending().await,
    }
}

/// Ends the NOTIFY that `packet` from `from` answers.
fn answered(
    pending: &mut HashMap<(DomainName, SocketAddr), Pending>,
    packet: &[u8],
    from: SocketAddr,
    stats: &DnsStats,
) {
    pending.retain(|(zone, target), p| {
        let done = *target == from && super::full::notify_answered(packet, p.id, zone);
        if done {
            stats.transfer(Transfer::NotifyAnswered);
            tracing::debug!(%zone, %target, "NOTIFY answered");
        }
        !done
    });
}
