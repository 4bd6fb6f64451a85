//! A closed-loop UDP load generator for the peer benchmark (`scripts/bench-peer.sh`), as a second
//! measurement next to dnsperf: dnsperf sends and receives one datagram per system call and tops
//! out near what one of our servers answers on one core, so it cannot show which server is
//! faster at its own limit. This one keeps `--window` queries in flight on each of `--sockets`
//! connected sockets and moves them with `sendmmsg`/`recvmmsg` in batches of 64.
//!
//! ```text
//! cargo run --release --example loadgen -- SERVER:PORT QUERYFILE SECONDS [SOCKETS] [WINDOW]
//! ```
//!
//! QUERYFILE is dnsperf's format (`name TYPE` per line; A, TXT, AAAA, NS, SOA, ANY). Prints one
//! line: sent, answered, lost (no answer within 500 ms), answers per second. Runs exactly
//! SECONDS, then waits 500 ms for the last answers.
//!
//! With `--rate QPS` it is an open-loop latency probe instead: it sends QPS queries per second
//! on a fixed schedule (spread over the sockets, whatever is due at each turn of its loop), no
//! matter how many are unanswered, and times every answer from the moment its `sendmmsg`
//! returned to the `recvmmsg` that got it. It spins on its own core, so unlike dnsperf at a
//! high rate it does not wait for the CPU between a reply's arrival and its timestamp. Prints
//! sent, answered, lost, answers per second, latency p50 / p99 / p99.9 / max in ms, and how far
//! it fell behind its schedule at worst (`lag_ms`; a large value means the probe itself could
//! not keep the rate and the run says little).

use std::collections::VecDeque;
use std::error::Error;
use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage};

const BATCH: usize = 64;
const TIMEOUT: Duration = Duration::from_millis(500);

fn main() -> Result<(), Box<dyn Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut rate = None;
    if let Some(i) = args.iter().position(|a| a == "--rate") {
        let value = args.get(i + 1).ok_or("--rate needs queries per second")?;
        rate = Some(value.parse::<f64>().map_err(|e| format!("--rate {value}: {e}"))?);
        args.drain(i..i + 2);
    }
    if args.len() < 3 {
        return Err("usage: loadgen SERVER:PORT QUERYFILE SECONDS [SOCKETS] [WINDOW] [--rate QPS]".into());
    }
    let server: SocketAddr = args[0].parse()?;
    let queries = read_queries(&args[1])?;
    let seconds: f64 = args[2].parse()?;
    let sockets: usize = args.get(3).map_or(Ok(4), |s| s.parse())?;
    let window: usize = args.get(4).map_or(Ok(256), |s| s.parse())?;
    if queries.is_empty() || sockets == 0 || window == 0 || window > 16_384 {
        return Err("need at least one query, one socket, and a window of 1 to 16384".into());
    }
    let mut flows = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let socket = UdpSocket::bind(if server.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" })?;
        socket.connect(server)?;
        socket.set_nonblocking(true)?;
        flows.push(Flow { socket, sent_at: vec![None; 1 << 16], order: VecDeque::new(), next_id: 0, in_flight: 0 });
    }
    if let Some(rate) = rate {
        if !(1.0..=10_000_000.0).contains(&rate) {
            return Err("--rate must be between 1 and 10000000".into());
        }
        return paced(&mut flows, &queries, seconds, rate);
    }
    let mut totals = Totals::default();
    let mut next_query = 0usize;
    let mut out = vec![[0u8; 512]; BATCH];
    let mut lens = [0usize; BATCH];
    let mut inbox = vec![[0u8; 4096]; BATCH];
    let start = Instant::now();
    let stop_sending = start + Duration::from_secs_f64(seconds);
    loop {
        let now = Instant::now();
        let sending = now < stop_sending;
        if !sending && flows.iter().all(|f| f.in_flight == 0) || now > stop_sending + TIMEOUT {
            break;
        }
        for flow in &mut flows {
            if sending {
                let n = (window - flow.in_flight).min(BATCH);
                fill(&mut out[..n], &mut lens[..n], queries.as_slice(), next_query, flow.next_id);
                // Only what the kernel took is in flight.
                let sent = flow.send(&out[..n], &lens[..n]);
                for _ in 0..sent {
                    flow.sent_at[usize::from(flow.next_id)] = Some(now);
                    flow.order.push_back(flow.next_id);
                    flow.next_id = flow.next_id.wrapping_add(1);
                }
                next_query = (next_query + sent) % queries.len();
                flow.in_flight += sent;
                totals.sent += sent as u64;
            }
            for id in flow.receive(&mut inbox) {
                if flow.sent_at[usize::from(id)].take().is_some() {
                    flow.in_flight -= 1;
                    totals.answered += 1;
                }
            }
        }
        for flow in &mut flows {
            totals.lost += flow.expire(now);
        }
    }
    let elapsed = seconds.min(start.elapsed().as_secs_f64());
    println!(
        "sent {} answered {} lost {} qps {:.0}",
        totals.sent,
        totals.answered,
        totals.lost + flows.iter().map(|f| f.in_flight as u64).sum::<u64>(),
        totals.answered as f64 / elapsed
    );
    Ok(())
}

/// The open-loop latency probe (`--rate`).
fn paced(flows: &mut [Flow], queries: &[Vec<u8>], seconds: f64, rate: f64) -> Result<(), Box<dyn Error>> {
    // Latency counts per microsecond, up to the timeout.
    let mut histogram = vec![0u64; TIMEOUT.as_micros() as usize + 1];
    let mut totals = Totals::default();
    let mut out = vec![[0u8; 512]; BATCH];
    let mut lens = [0usize; BATCH];
    let mut inbox = vec![[0u8; 4096]; BATCH];
    let total = (seconds * rate) as u64;
    let mut turn = 0usize;
    let mut worst_lag = Duration::ZERO;
    let mut last_sweep = Instant::now();
    let start = Instant::now();
    loop {
        let now = Instant::now();
        let due = ((now.duration_since(start).as_secs_f64() * rate) as u64).min(total);
        if totals.sent < due {
            // How late the oldest query due now is against its schedule.
            let scheduled = start + Duration::from_secs_f64(totals.sent as f64 / rate);
            worst_lag = worst_lag.max(now.saturating_duration_since(scheduled));
            let flow = &mut flows[turn % flows.len()];
            turn += 1;
            let n = ((due - totals.sent) as usize).min(BATCH);
            fill(&mut out[..n], &mut lens[..n], queries, totals.sent as usize, flow.next_id);
            let sent = flow.send(&out[..n], &lens[..n]);
            let sent_at = Instant::now();
            for _ in 0..sent {
                // An id still waiting after 65536 newer queries on this socket counts as lost.
                if flow.sent_at[usize::from(flow.next_id)].replace(sent_at).is_some() {
                    totals.lost += 1;
                    flow.in_flight -= 1;
                }
                flow.order.push_back(flow.next_id);
                flow.next_id = flow.next_id.wrapping_add(1);
            }
            flow.in_flight += sent;
            totals.sent += sent as u64;
            if sent < n {
                // The kernel refused the rest (a full socket buffer): they are lost, not retried.
                totals.lost += (n - sent) as u64;
                totals.sent += (n - sent) as u64;
            }
        } else if totals.sent >= total && flows.iter().all(|f| f.in_flight == 0)
            || now > start + Duration::from_secs_f64(seconds) + TIMEOUT
        {
            break;
        }
        for flow in flows.iter_mut() {
            let ids = flow.receive(&mut inbox);
            if ids.is_empty() {
                continue;
            }
            let arrived = Instant::now();
            for id in ids {
                if let Some(t) = flow.sent_at[usize::from(id)].take() {
                    let micros = arrived.duration_since(t).as_micros() as usize;
                    let last = histogram.len() - 1;
                    histogram[micros.min(last)] += 1;
                    flow.in_flight -= 1;
                    totals.answered += 1;
                }
            }
        }
        if now.duration_since(last_sweep) >= Duration::from_millis(10) {
            last_sweep = now;
            for flow in flows.iter_mut() {
                totals.lost += flow.expire(now);
            }
        }
    }
    let unanswered: u64 = flows.iter().map(|f| f.in_flight as u64).sum();
    let percentile = |p: f64| -> f64 {
        let rank = ((totals.answered as f64 * p).ceil() as u64).max(1);
        let mut seen = 0;
        for (micros, &count) in histogram.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return micros as f64 / 1000.0;
            }
        }
        f64::NAN
    };
    let max = histogram.iter().rposition(|&c| c > 0).map_or(f64::NAN, |m| m as f64 / 1000.0);
    println!(
        "sent {} answered {} lost {} qps {:.0} p50_ms {:.3} p99_ms {:.3} p999_ms {:.3} max_ms {:.3} lag_ms {:.3}",
        totals.sent,
        totals.answered,
        totals.lost + unanswered,
        totals.answered as f64 / seconds,
        percentile(0.50),
        percentile(0.99),
        percentile(0.999),
        max,
        worst_lag.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// Copies queries `first..` (wrapping around the file) into `out`, with DNS ids from `first_id`.
fn fill(out: &mut [[u8; 512]], lens: &mut [usize], queries: &[Vec<u8>], first: usize, first_id: u16) {
    for (i, (buf, len)) in out.iter_mut().zip(lens.iter_mut()).enumerate() {
        let q = &queries[(first + i) % queries.len()];
        buf[..q.len()].copy_from_slice(q);
        buf[..2].copy_from_slice(&first_id.wrapping_add(i as u16).to_be_bytes());
        *len = q.len();
    }
}

#[derive(Default)]
struct Totals {
    sent: u64,
    answered: u64,
    lost: u64,
}

/// One connected socket and the queries it has in flight, by DNS id.
struct Flow {
    socket: UdpSocket,
    sent_at: Vec<Option<Instant>>,
    /// Ids in the order they were sent (answered ones are dropped when they reach the front).
    order: VecDeque<u16>,
    next_id: u16,
    in_flight: usize,
}

impl Flow {
    /// Oldest first: answered ids leave the queue, ones past the timeout are lost. Returns how
    /// many were lost.
    fn expire(&mut self, now: Instant) -> u64 {
        let mut lost = 0;
        while let Some(&id) = self.order.front() {
            match self.sent_at[usize::from(id)] {
                Some(t) if now.saturating_duration_since(t) <= TIMEOUT => break,
                Some(_) => {
                    self.sent_at[usize::from(id)] = None;
                    self.in_flight -= 1;
                    lost += 1;
                }
                None => {}
            }
            self.order.pop_front();
        }
        lost
    }

    /// Sends the datagrams; returns how many the kernel took.
    fn send(&self, bufs: &[[u8; 512]], lens: &[usize]) -> usize {
        if bufs.is_empty() {
            return 0;
        }
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(bufs.len(), None);
        let slices: Vec<[IoSlice<'_>; 1]> = bufs.iter().zip(lens).map(|(b, &l)| [IoSlice::new(&b[..l])]).collect();
        let to: Vec<Option<SockaddrStorage>> = vec![None; bufs.len()];
        let none: [ControlMessage<'_>; 0] = [];
        match sendmmsg(self.socket.as_raw_fd(), &mut headers, slices.iter(), &to, none, MsgFlags::empty()) {
            Ok(results) => results.count(),
            Err(Errno::EAGAIN | Errno::ENOBUFS | Errno::ECONNREFUSED | Errno::EINTR) => 0,
            Err(e) => {
                eprintln!("send: {e}");
                0
            }
        }
    }

    /// Receives what is waiting (up to a batch); returns the answers' DNS ids.
    fn receive(&self, inbox: &mut [[u8; 4096]]) -> Vec<u16> {
        let received: Vec<usize> = {
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(inbox.len(), None);
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = inbox.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
            match recvmmsg(self.socket.as_raw_fd(), &mut headers, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None) {
                Ok(msgs) => msgs.map(|m| m.bytes).collect(),
                Err(_) => Vec::new(),
            }
        };
        received
            .iter()
            .zip(inbox.iter())
            .filter(|(&len, _)| len >= 12)
            .map(|(_, b)| u16::from_be_bytes([b[0], b[1]]))
            .collect()
    }
}

/// Encodes each `name TYPE` line as a query (id 0, RD clear, no EDNS).
fn read_queries(path: &str) -> Result<Vec<Vec<u8>>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(rtype)) = (words.next(), words.next()) else { continue };
        let qtype: u16 = match rtype.to_ascii_uppercase().as_str() {
            "A" => 1,
            "NS" => 2,
            "SOA" => 6,
            "TXT" => 16,
            "AAAA" => 28,
            "ANY" => 255,
            other => return Err(format!("{path}:{}: unsupported type {other}", n + 1).into()),
        };
        let mut q = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.trim_end_matches('.').split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("{path}:{}: bad name {name}", n + 1).into());
            }
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        if q.len() > 512 {
            return Err(format!("{path}:{}: name too long", n + 1).into());
        }
        out.push(q);
    }
    Ok(out)
}
