//! Response rate limiting against a reflection probe: one forged source asking the same large
//! answers at 2,000 qps gets back fewer bytes than it sent, while an exempt resolver asking as
//! many distinct names is answered every time. `cargo test --test it rrl:: -- --nocapture` prints
//! the figures.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnsbl::rrl::RrlSettings;
use hickory_proto::rr::RecordType;

use crate::harness::*;

/// What a probe sent and got back.
#[derive(Debug)]
struct Probe {
    sent: u64,
    sent_bytes: u64,
    replies: u64,
    reply_bytes: u64,
}

/// Sends `queries` from `source` at `rate` per second (paced in steps of 10 ms), counting every
/// reply that arrives until 300 ms after the last query.
fn probe(source: &str, server: SocketAddr, queries: &[Vec<u8>], rate: u64) -> Probe {
    let socket = UdpSocket::bind(format!("{source}:0")).expect("bind the probe's source");
    socket.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
    let reader = socket.try_clone().expect("clone");
    let done = Arc::new(AtomicBool::new(false));
    let (replies, reply_bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let counting = {
        let (done, replies, reply_bytes) = (done.clone(), replies.clone(), reply_bytes.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !done.load(Ordering::Relaxed) {
                if let Ok(n) = reader.recv(&mut buf) {
                    replies.fetch_add(1, Ordering::Relaxed);
                    reply_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        })
    };
    let start = Instant::now();
    let per_step = (rate / 100).max(1) as usize;
    let mut sent_bytes = 0;
    for (i, chunk) in queries.chunks(per_step).enumerate() {
        for q in chunk {
            socket.send_to(q, server).expect("send");
            sent_bytes += q.len() as u64;
        }
        let due = start + Duration::from_millis(10 * (i as u64 + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(300));
    done.store(true, Ordering::Relaxed);
    counting.join().expect("reader");
    Probe {
        sent: queries.len() as u64,
        sent_bytes,
        replies: replies.load(Ordering::Relaxed),
        reply_bytes: reply_bytes.load(Ordering::Relaxed),
    }
}

fn rrl() -> RrlSettings {
    RrlSettings {
        responses_per_second: 20,
        nxdomains_per_second: 20,
        nodata_per_second: 20,
        errors_per_second: 20,
        window: 15,
        slip: 2,
        ipv4_prefix_length: 24,
        ipv6_prefix_length: 56,
        exempt_clients: vec!["127.0.53.0/24".parse().expect("prefix")],
        log_only: false,
        table_size: 1 << 16,
    }
}

fn queries(name: &str, rtype: RecordType, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut q = question(name, rtype, None);
            q.metadata.id = i as u16;
            q.to_vec().expect("encode")
        })
        .collect()
}

#[test]
fn a_reflection_probe_gets_back_less_than_it_sends_and_an_exempt_resolver_everything() {
    let (_dir, data) = temp_data();
    let reason = "Email marketing seen from this network; see https://bl.localhost/lookup?ip=$ for details";
    seed(&data, "bl.localhost", &[("198.51.100.0/24", Seed::Listed(&["127.0.0.3"], Some(reason)))]);
    let mut config = test_config(&data);
    config.server.rrl = Some(rrl());
    let s = TestServer::start(config);
    let (_dir2, data2) = temp_data();
    seed(&data2, "bl.localhost", &[("198.51.100.0/24", Seed::Listed(&["127.0.0.3"], Some(reason)))]);
    let open = TestServer::in_dir(&data2);

    // Without rate limiting the same probes reflect more than they send.
    let txt = queries("7.100.51.198.bl.localhost", RecordType::TXT, 2000);
    let any = queries("bl.localhost", RecordType::ANY, 2000);
    for (what, qs) in [("repeated TXT", &txt), ("ANY at the apex", &any)] {
        let p = probe("127.0.0.9", open.addr, qs, 2000);
        let ratio = p.reply_bytes as f64 / p.sent_bytes as f64;
        eprintln!("{what} without RRL: {p:?}, reflected {ratio:.2}x the query bytes");
        assert!(ratio > 1.0, "{what} without RRL: {p:?}");
        let p = probe("127.0.0.9", s.addr, qs, 2000);
        let ratio = p.reply_bytes as f64 / p.sent_bytes as f64;
        eprintln!("{what}: {p:?}, reflected {ratio:.2}x the query bytes");
        assert!(ratio <= 1.0, "{what}: reflected {ratio:.2}x ({p:?})");
        assert!(p.replies > 20, "{what}: slipped replies still reach a real client ({p:?})");
    }
    // A resolver in exempt-clients asking 2,000 distinct unlisted names a second: all answered.
    let distinct: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| {
            let mut q = question(&format!("{}.{}.0.10.bl.localhost", i % 256, i / 256), RecordType::A, None);
            q.metadata.id = i as u16;
            q.to_vec().expect("encode")
        })
        .collect();
    let p = probe("127.0.53.1", s.addr, &distinct, 2000);
    assert_eq!(p.replies, p.sent, "the exempt resolver: {p:?}");
    // The limiter's work is counted.
    let (base, token) = s.api(&data);
    let (status, stats) = Api { base, token }.call("GET", "/v1/stats", None, None);
    assert_eq!(status, 200);
    let (dropped, slipped) = (stats["udp"]["rrl_dropped"].as_u64(), stats["udp"]["rrl_slipped"].as_u64());
    assert!(dropped > Some(1000) && slipped > Some(500), "{stats}");
}

#[test]
fn a_client_that_returns_a_valid_cookie_is_not_rate_limited() {
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    config.server.rrl = Some(rrl());
    let s = TestServer::start(config);
    let client = [9u8; 8];
    let name = "2.0.0.127.bl.localhost";
    // The cookie is made for the address that learns it.
    let learner = UdpSocket::bind("127.0.0.9:0").expect("bind");
    learner.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    learner.send_to(&with_cookie(name, RecordType::TXT, &client).to_vec().expect("encode"), s.addr).expect("send");
    let mut buf = [0u8; 4096];
    let n = learner.recv(&mut buf).expect("reply");
    let cookie = cookie_of(&hickory_proto::op::Message::from_vec(&buf[..n]).expect("reply")).expect("cookie");
    drop(learner);
    let asking = |cookie: &[u8]| -> Vec<Vec<u8>> {
        (0..1000)
            .map(|i| {
                let mut q = with_cookie(name, RecordType::TXT, cookie);
                q.metadata.id = i as u16;
                q.to_vec().expect("encode")
            })
            .collect()
    };
    let proven = probe("127.0.0.9", s.addr, &asking(&cookie), 2000);
    assert_eq!(proven.replies, proven.sent, "a valid cookie proves the source: {proven:?}");
    let unproven = probe("127.0.1.9", s.addr, &asking(&client), 2000);
    assert!(unproven.replies < unproven.sent * 3 / 4, "a client cookie alone proves nothing: {unproven:?}");
}
