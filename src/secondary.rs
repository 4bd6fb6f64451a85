//! dnsbl as a secondary: a zone with `primary = "ADDR:PORT"` gets its data from there by zone
//! transfer and answers from the same prefix tables as a primary.
//!
//! One task per secondary zone: at start, and then when the primary's NOTIFY arrives, at the
//! SOA refresh, or at the SOA retry after a failure, it asks the primary over TCP for an IXFR
//! from the serial it holds (AXFR when it holds none). The answer is one of:
//!
//! - the current SOA alone: the copy is confirmed (its expire clock starts again);
//! - the steps since our serial: applied as live patches ([`crate::publisher::Publisher::replica_steps`]),
//!   no rebuild, no stall;
//! - the whole zone: its records stream into the store as they arrive (bounded memory), then
//!   the zone is read from them and published in one switch; queries go on being answered from
//!   the old copy meanwhile, and a transfer cut short leaves it as it was (in memory and in
//!   the store).
//!
//! While the primary cannot be reached the last good copy is served; past the SOA expire
//! without a confirmation the zone answers SERVFAIL (as NSD and BIND do) until a transfer
//! succeeds. The SOA timers are the zone's own `[zone.soa]` settings (configure them as on the
//! primary). The copy survives restarts (it is in the store).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::clock::unix_now;
use crate::config::ZoneConfig;
use crate::dns::full::{transfer_message, transfer_query, Incoming};
use crate::dns::notify::Kicks;
use crate::name::DomainName;
use crate::publisher::{ReplicaStep, Writer};
use crate::replica::{self, name_key, RrSet};
use crate::snapshot::SharedSnapshot;
use crate::store::{ReplicaState, Store};
use crate::zoneform::Label;

/// How long one step of a transfer (connecting, one message) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Records of a whole transfer written to the store at a time.
const WRITE_CHUNK: usize = 20_000;

/// What a refresh brought.
#[derive(Debug)]
enum Outcome {
    /// The copy is current.
    Current,
    /// The whole zone, at a serial, now in the store.
    Whole(u32),
    /// Steps to a serial.
    Steps(u32, Vec<ReplicaStep>),
}

/// Keeps secondary zone `origin` in step with its primary until `shutdown`.
pub async fn run(
    origin: DomainName,
    writer: Writer,
    store: Arc<Store>,
    shared: Arc<SharedSnapshot>,
    kicks: Arc<Kicks>,
    shutdown: CancellationToken,
) {
    let kicked = kicks.waiter(&origin);
    let mut last_success: Option<u64> = store.replica_state(&origin).ok().flatten().map(|s| s.refreshed);
    loop {
        let Some(config) = shared.load().zones.iter().find(|z| z.config.origin == origin).map(|z| z.config.clone())
        else {
            return;
        };
        let Some(primary) = config.primary else { return };
        let wait = match refresh(&config, primary, &store).await {
            Ok(outcome) => {
                let now = unix_now();
                let applied = match outcome {
                    Outcome::Current => writer
                        .run({
                            let o = origin.clone();
                            move |p| p.replica_confirmed(&o, now)
                        })
                        .await
                        .map(|_| "current".to_string()),
                    Outcome::Whole(serial) => writer
                        .run({
                            let o = origin.clone();
                            move |p| p.replica_reload(&o, now).map(|_| ())
                        })
                        .await
                        .map(|_| format!("whole zone at serial {serial}")),
                    Outcome::Steps(serial, steps) => {
                        let count = steps.len();
                        writer
                            .run({
                                let o = origin.clone();
                                move |p| p.replica_steps(&o, serial, &steps, now)
                            })
                            .await
                            .map(|_| format!("{count} step(s) to serial {serial}"))
                    }
                };
                match applied {
                    Ok(what) => {
                        last_success = Some(now);
                        tracing::info!(zone = %origin, %primary, what, "secondary zone refreshed");
                        Duration::from_secs(u64::from(config.soa.refresh.max(1)))
                    }
                    Err(e) => {
                        tracing::error!(zone = %origin, error = %e, "applying the transfer failed; will retry");
                        expire_if_due(&writer, &origin, &config, last_success).await;
                        Duration::from_secs(u64::from(config.soa.retry.max(1)))
                    }
                }
            }
            Err(why) => {
                tracing::warn!(zone = %origin, %primary, why, "refresh from the primary failed; serving the last copy");
                expire_if_due(&writer, &origin, &config, last_success).await;
                Duration::from_secs(u64::from(config.soa.retry.max(1)))
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = kicked.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// After a failed refresh (or a transfer that could not be applied): past the SOA expire since
/// the last success, or without a copy, the zone answers SERVFAIL.
async fn expire_if_due(writer: &Writer, origin: &DomainName, config: &ZoneConfig, last_success: Option<u64>) {
    let now = unix_now();
    if last_success.is_some_and(|t| now.saturating_sub(t) <= u64::from(config.soa.expire)) {
        return;
    }
    let o = origin.clone();
    if writer.run(move |p| p.replica_expire(&o)).await.is_ok() && last_success.is_some() {
        tracing::error!(zone = %origin, "the copy is past its SOA expire: answering SERVFAIL");
    }
}

/// One refresh: an IXFR from the serial held (AXFR without a copy), read to its end.
async fn refresh(config: &ZoneConfig, primary: SocketAddr, store: &Arc<Store>) -> Result<Outcome, String> {
    let origin = &config.origin;
    let held = store.replica_state(origin).map_err(|e| e.to_string())?;
    let id = (unix_now() as u16) ^ 0x5a5a;
    let mut query = transfer_query(config, held.map(|s| s.serial), id).ok_or("the zone's name does not encode")?;
    // With a transfer key the request is signed, and so must be every message of the answer.
    let tsig = config.transfer_key.clone().map(|key| {
        let mac = crate::tsig::sign(&mut query, &key, None, unix_now(), false);
        (key, mac, true)
    });
    let mut stream = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(primary))
        .await
        .map_err(|_| "connecting timed out".to_string())?
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&query);
    stream.write_all(&framed).await.map_err(|e| format!("sending the request: {e}"))?;
    let mut reader = Reader {
        stream,
        id,
        origin: origin.clone(),
        pending: Vec::new().into_iter(),
        tsig,
        unsigned: Vec::new(),
        unsigned_count: 0,
    };
    let Some(Incoming::Soa(newest)) = reader.next().await? else {
        return Err("the answer does not start with the zone's SOA".into());
    };
    if let Some(h) = held {
        if newest == h.serial || crate::dns::journal::serial_newer(h.serial, newest) {
            return Ok(Outcome::Current);
        }
    }
    match reader.next().await? {
        Some(Incoming::Soa(from)) if held.is_some_and(|h| h.serial == from) => {
            incremental(&mut reader, newest).await.map(|steps| Outcome::Steps(newest, steps))
        }
        first => whole(&mut reader, store, origin, newest, first).await.map(|()| Outcome::Whole(newest)),
    }
}

/// The records of a transfer one by one, reading messages as needed.
struct Reader {
    stream: TcpStream,
    id: u16,
    origin: DomainName,
    pending: std::vec::IntoIter<Incoming>,
    /// The transfer key, the MAC the next message answers, and whether it is the first.
    tsig: Option<(crate::tsig::Key, Vec<u8>, bool)>,
    /// Unsigned messages since the last signed one (covered by the next signed one), and how
    /// many.
    unsigned: Vec<u8>,
    unsigned_count: usize,
}

/// Unsigned messages a signed answer may have in a row (RFC 8945 §5.3.1).
const MOST_UNSIGNED: usize = 99;

impl Reader {
    /// Whether every message read so far is covered by a signature checked (the last message
    /// of a signed answer must be signed).
    fn all_signed(&self) -> Result<(), String> {
        match self.unsigned_count {
            0 => Ok(()),
            n => Err(format!("the answer ends with {n} unsigned message(s)")),
        }
    }

    /// The next record; `None` when the primary closed the connection.
    async fn next(&mut self) -> Result<Option<Incoming>, String> {
        loop {
            if let Some(r) = self.pending.next() {
                return Ok(Some(r));
            }
            let mut len = [0u8; 2];
            match tokio::time::timeout(STEP_TIMEOUT, self.stream.read_exact(&mut len)).await {
                Err(_) => return Err("the primary stopped sending".into()),
                Ok(Err(_)) => return Ok(None),
                Ok(Ok(_)) => {}
            }
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
            tokio::time::timeout(STEP_TIMEOUT, self.stream.read_exact(&mut body))
                .await
                .map_err(|_| "the primary stopped sending".to_string())?
                .map_err(|e| format!("reading the transfer: {e}"))?;
            // An error code is reported as such; records count only once their TSIG holds.
            let records = transfer_message(&body, self.id, &self.origin)?;
            if let Some((key, prior, first)) = &mut self.tsig {
                if !*first && !crate::tsig::is_signed(&body) {
                    // A message between signed ones: the next signature covers it.
                    self.unsigned_count += 1;
                    if self.unsigned_count > MOST_UNSIGNED {
                        return Err(format!("more than {MOST_UNSIGNED} unsigned messages in a row"));
                    }
                    self.unsigned.extend_from_slice(&body);
                } else {
                    *prior =
                        crate::tsig::verify(&body, key, Some(prior.as_slice()), &self.unsigned, unix_now(), !*first)
                            .map_err(|e| format!("the answer's TSIG: {e}"))?;
                    *first = false;
                    self.unsigned.clear();
                    self.unsigned_count = 0;
                }
            }
            self.pending = records.into_iter();
        }
    }
}

/// The name of a record's owner, if it is a record-form name (not an IPv4-mapped one).
fn path(labels: &[Vec<u8>]) -> Option<Vec<Label>> {
    let refs: Vec<&[u8]> = labels.iter().map(Vec::as_slice).collect();
    replica::path_of(&refs).filter(|p| !p.is_empty() && !replica::mapped(p))
}

/// Runs store work off the runtime's threads.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    work: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, String> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || work(&store)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())
}

/// The steps of an IXFR after its first two SOAs (the newest, and the one we hold).
async fn incremental(reader: &mut Reader, newest: u32) -> Result<Vec<ReplicaStep>, String> {
    let mut steps = vec![ReplicaStep::default()];
    let mut adding = false;
    loop {
        match reader.next().await?.ok_or("the transfer ended early")? {
            Incoming::Soa(serial) if adding && serial == newest => return reader.all_signed().map(|()| steps),
            Incoming::Soa(_) if adding => {
                steps.push(ReplicaStep::default());
                adding = false;
            }
            Incoming::Soa(_) => adding = true,
            Incoming::Data(labels, data) => {
                let Some(p) = path(&labels) else { continue };
                let step = steps.last_mut().ok_or("no step")?;
                match adding {
                    true => step.added.push((p, data)),
                    false => step.removed.push((p, data)),
                }
            }
            Incoming::Other => {}
        }
    }
}

/// A whole transfer after its first SOA (`first` is the record after it): every record into
/// the store, a name's records together, then committed at `serial`.
async fn whole(
    reader: &mut Reader,
    store: &Arc<Store>,
    origin: &DomainName,
    serial: u32,
    first: Option<Incoming>,
) -> Result<(), String> {
    let o = origin.clone();
    let generation = blocking(store, move |s| s.replica_begin(&o)).await?;
    let mut chunk: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(WRITE_CHUNK);
    let mut current: Option<(Vec<Label>, RrSet)> = None;
    let mut next = first;
    loop {
        let record = match next.take() {
            Some(r) => r,
            None => reader.next().await?.ok_or("the transfer ended before its closing SOA")?,
        };
        match record {
            Incoming::Soa(s) if s == serial => {
                reader.all_signed()?;
                break;
            }
            Incoming::Soa(_) => return Err("an SOA of another serial inside the transfer".into()),
            Incoming::Other => {}
            Incoming::Data(labels, data) => {
                let Some(p) = path(&labels) else { continue };
                match &mut current {
                    Some((name, set)) if *name == p => set.add(&data),
                    _ => {
                        if let Some((name, set)) = current.take() {
                            chunk.push((name_key(&name), set.encode()));
                        }
                        let mut set = RrSet::default();
                        set.add(&data);
                        current = Some((p, set));
                    }
                }
                if chunk.len() >= WRITE_CHUNK {
                    let (o, c) = (origin.clone(), std::mem::take(&mut chunk));
                    blocking(store, move |s| s.replica_put(&o, generation, &c)).await?;
                }
            }
        }
    }
    if let Some((name, set)) = current.take() {
        chunk.push((name_key(&name), set.encode()));
    }
    let (o, c) = (origin.clone(), chunk);
    blocking(store, move |s| s.replica_put(&o, generation, &c)).await?;
    let o = origin.clone();
    let state = ReplicaState { serial, refreshed: unix_now() };
    blocking(store, move |s| s.replica_commit(&o, generation, state)).await
}
