//! The zone's record form served by a real NSD answers every probe as dnsbl does (ranges as
//! wildcards, exclusions, nested entries of other codes, a second dataset, IPv6, IPv4-mapped IPv6
//! names and the names IPv6 shares with IPv4): loaded from `dnsbl zone export --format bind`,
//! and transferred from the running server by AXFR with NSD as a secondary; after a batch of
//! changes the primary's NOTIFY brings NSD an IXFR and it answers the new data. A client
//! outside `allow-transfer` is refused.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dnsbl::model::{Listing, ListingCode, Prefix};
use dnsbl::publisher::Change;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::*;
use crate::transfer::{tsig_key, KEY_NAME, KEY_SECRET};

/// NSD serving `zonefile` for bl.localhost on a free loopback port, stopped when dropped.
struct Nsd {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How NSD gets the zone: from a file, or by transfers from a primary (signed with the TSIG
/// key of `transfer.rs` for `SignedPrimary`).
enum Source<'a> {
    File(&'a Path),
    Primary(SocketAddr),
    SignedPrimary(SocketAddr),
}

fn nsd(dir: &Path, source: Source<'_>) -> Nsd {
    nsd_on(dir, free_port(), source)
}

/// NSD on `port`; as a secondary it asks IXFR (AXFR when it has no copy yet) and takes NOTIFY
/// from the primary.
fn nsd_on(dir: &Path, port: u16, source: Source<'_>) -> Nsd {
    let d = dir.display();
    let zone = match &source {
        Source::File(zonefile) => format!("  zonefile: \"{}\"\n", zonefile.display()),
        Source::Primary(primary) => format!(
            "  zonefile: \"{d}/secondary.zone\"\n  request-xfr: {}@{} NOKEY\n  allow-notify: {} NOKEY\n",
            primary.ip(),
            primary.port(),
            primary.ip()
        ),
        Source::SignedPrimary(primary) => format!(
            "  zonefile: \"{d}/secondary.zone\"\n  request-xfr: {}@{} {KEY_NAME}\n  allow-notify: {} {KEY_NAME}\n",
            primary.ip(),
            primary.port(),
            primary.ip()
        ),
    };
    let keys = match source {
        Source::SignedPrimary(_) => {
            format!("key:\n  name: \"{KEY_NAME}\"\n  algorithm: hmac-sha256\n  secret: \"{KEY_SECRET}\"\n")
        }
        _ => String::new(),
    };
    let conf = format!(
        "server:\n  ip-address: 127.0.0.1@{port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
         pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  zonelistfile: \"{d}/zone.list\"\n  \
         database: \"\"\n  logfile: \"{d}/nsd.log\"\n  verbosity: 1\n  server-count: 1\n  \
         reuseport: no\nremote-control:\n  control-enable: no\n{keys}zone:\n  name: bl.localhost\n{zone}"
    );
    let path = dir.join("nsd.conf");
    std::fs::write(&path, conf).expect("nsd.conf");
    if let Source::File(zonefile) = source {
        let checked = Command::new("nsd-checkzone")
            .arg("bl.localhost")
            .arg(zonefile)
            .output()
            .expect("nsd-checkzone (make installs nsd)");
        assert!(
            checked.status.success(),
            "{}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    let child = Command::new("nsd")
        .args(["-d", "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start nsd ({e}); `make test` installs it"));
    let server = Nsd { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) };
    // Serving once the zone's SOA is there (a secondary answers SERVFAIL until its transfer).
    let deadline = Instant::now() + Duration::from_secs(30);
    let q = question("bl.localhost", RecordType::SOA, None).to_vec().expect("q");
    loop {
        let answered = udp_raw(server.addr, &q, Duration::from_millis(200))
            .and_then(|r| hickory_proto::op::Message::from_vec(&r).ok())
            .is_some_and(|m| !m.answers.is_empty());
        if answered {
            break;
        }
        let log = std::fs::read_to_string(dir.join("nsd.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "nsd did not serve the zone: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn listing(code: &str, reason: Option<&str>) -> Listing {
    Listing::new(vec![code.parse::<ListingCode>().expect("code")], reason.map(str::to_string)).expect("listing")
}

/// The codes of `name` (empty for NXDOMAIN or no A records).
pub fn answer(addr: SocketAddr, name: &str) -> Vec<String> {
    let mut codes = a_records(&ask(addr, name, RecordType::A));
    codes.sort();
    codes
}

/// Lists what the probes look at: nested ranges of other codes, holes, a second dataset, IPv6.
pub fn populate(s: &TestServer) {
    let add = |dataset: &str, prefix: &str, code: &str, reason: Option<&str>| {
        let change = Change::AddListing {
            prefix: prefix.parse().expect("prefix"),
            listing: listing(code, reason),
            expires_at: None,
        };
        s.apply_to("bl.localhost", dataset, change).expect("add");
    };
    let exclude = |prefix: &str| {
        let change = Change::AddExclusion { prefix: prefix.parse().expect("prefix"), reason: None };
        s.apply("bl.localhost", change).expect("exclude");
    };
    add("operator", "45.67.0.0/16", "127.0.0.3", Some("net $"));
    add("operator", "45.67.8.9", "127.0.0.2", None);
    exclude("45.67.9.0/24");
    add("operator", "45.67.9.128/25", "127.0.0.3", None);
    exclude("45.67.10.77");
    add("operator", "1.2.0.0/16", "127.0.0.3", None);
    add("operator", "1.2.3.4", "127.0.0.4", None);
    add("operator", "127.0.0.0/24", "127.0.0.3", None);
    add("evidence", "45.67.8.9", "127.0.0.4", Some("policy $"));
    add("evidence", "203.0.113.5", "127.0.0.4", None);
    add("operator", "2001:db8:1::/48", "127.0.0.3", None);
    add("operator", "2001:db8:1:5::/64", "127.0.0.4", None);
    exclude("2001:db8:1::25");
    add("operator", "1234::/16", "127.0.0.3", None);
}

/// Asks both servers about every boundary of the entries [`populate`] made, a step either side,
/// and random addresses around them; they must give the same codes. Returns the probes' count.
pub fn agree(ours: SocketAddr, theirs: SocketAddr) -> usize {
    let mut v4: Vec<u32> = Vec::new();
    let entries = [
        "45.67.0.0/16",
        "45.67.8.9/32",
        "45.67.9.0/24",
        "45.67.9.128/25",
        "45.67.10.77/32",
        "1.2.0.0/16",
        "1.2.3.4/32",
        "127.0.0.0/24",
        "203.0.113.5/32",
    ];
    for p in entries {
        let p: Prefix = p.parse().expect("prefix");
        let (Prefix::V4 { bits, .. }, Prefix::V4 { bits: last, .. }) = (p, p.last_host()) else { continue };
        v4.extend([
            bits.wrapping_sub(1),
            bits,
            bits + 1,
            bits + (last - bits) / 2,
            last.wrapping_sub(1),
            last,
            last.wrapping_add(1),
        ]);
    }
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..400 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v4.push(match x % 5 {
            0 => 0x2d43_0000 | (x >> 16),
            1 => 0x0102_0000 | (x >> 16),
            2 => 0x7f00_0000 | (x >> 24),
            3 => 0xcb00_7100 | (x >> 24),
            _ => 0x2d44_0000 | (x >> 16),
        });
    }
    let rev = |a: u32| a.to_be_bytes().iter().rev().map(u8::to_string).collect::<Vec<_>>().join(".");
    let mut names: Vec<String> = v4.iter().map(|&a| format!("{}.bl.localhost", rev(a))).collect();
    for ip in [
        "2001:db8:1::1",
        "2001:db8:1::25",
        "2001:db8:1:5::7",
        "2001:db8:1:6::1",
        "2001:db8:2::1",
        "1234::1",
        "1234:ffff::9",
        "1235::1",
        "1200::1",
        "::ffff:45.67.8.9",
        "::ffff:45.67.9.1",
        "::ffff:1.2.3.4",
        "::ffff:127.0.0.2",
        "::1",
    ] {
        names.push(v6_name(ip, "bl.localhost"));
    }
    let (mut checked, mut listed) = (0, 0);
    for name in &names {
        let (a, b) = (answer(ours, name), answer(theirs, name));
        assert_eq!(b, a, "{name}: NSD answers {b:?}, dnsbl {a:?}");
        checked += 1;
        listed += usize::from(!a.is_empty());
    }
    assert!(listed > 100 && listed + 100 < checked, "listed and unlisted probes both: {listed} of {checked}");
    checked
}

#[test]
fn nsd_serving_the_record_form_answers_every_probe_like_dnsbl() {
    let (dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    populate(&s);
    let zonefile = dir.path().join("bl.localhost.zone");
    let out = Command::new(env!("CARGO_BIN_EXE_dnsbl"))
        .args(["zone", "export", "--format", "bind", "--data-dir"])
        .arg(&data)
        .output()
        .expect("export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&zonefile, &out.stdout).expect("zone file");
    let text = String::from_utf8_lossy(&out.stdout);
    let records = text.lines().filter(|l| !l.starts_with(';') && !l.starts_with('$')).count();
    let nsd_dir = dir.path().join("nsd");
    std::fs::create_dir_all(&nsd_dir).expect("nsd dir");
    let n = nsd(&nsd_dir, Source::File(&zonefile));
    let checked = agree(s.addr, n.addr);
    // A listed name's TXT is there too.
    let txt = txt_records(&ask(n.addr, "1.0.67.45.bl.localhost", RecordType::TXT));
    assert_eq!(txt, ["net 45.67.0.0/16"], "a wildcard's TXT names its network");
    let txt = txt_records(&ask(n.addr, "9.8.67.45.bl.localhost", RecordType::TXT));
    assert!(txt.contains(&"policy 45.67.8.9".to_string()), "{txt:?}");
    assert!(checked > 400 && records < 2000, "{checked} probes, {records} records");
}

#[test]
fn nsd_as_a_secondary_transfers_the_zone_by_axfr_and_answers_like_the_primary() {
    let (dir, data) = temp_data();
    let mut config = test_config(&data);
    config.zones[0].allow_transfer = vec!["127.0.0.1/32".parse().expect("prefix")];
    let s = TestServer::start(config);
    populate(&s);
    let nsd_dir = dir.path().join("nsd");
    std::fs::create_dir_all(&nsd_dir).expect("nsd dir");
    let n = nsd(&nsd_dir, Source::Primary(s.addr));
    assert!(agree(s.addr, n.addr) > 400);
    assert_eq!(soa_serial(n.addr, "bl.localhost"), soa_serial(s.addr, "bl.localhost"), "the primary's serial");
    // The transfer's first message starts with the SOA; over UDP and for other zones: REFUSED.
    let first = tcp(s.addr, &question("bl.localhost", RecordType::AXFR, None));
    assert_eq!(first.answers.first().map(|r| r.record_type()), Some(RecordType::SOA));
    let other = tcp(s.addr, &question("example.org", RecordType::AXFR, None));
    assert_eq!(other.metadata.response_code, ResponseCode::Refused);
    let over_udp = udp(s.addr, &question("bl.localhost", RecordType::AXFR, None));
    assert_eq!(over_udp.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn a_client_outside_allow_transfer_is_refused() {
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    config.zones[0].allow_transfer = vec!["192.0.2.53/32".parse().expect("prefix")];
    let s = TestServer::start(config);
    let refused = tcp(s.addr, &question("bl.localhost", RecordType::AXFR, None));
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    assert!(refused.answers.is_empty());
    let (_dir2, data2) = temp_data();
    let s = TestServer::in_dir(&data2);
    let refused = tcp(s.addr, &question("bl.localhost", RecordType::AXFR, None));
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused, "nobody by default");
}

/// A batch of changes over every kind of entry [`populate`] made: new listings, a removed one,
/// a new exclusion inside a range, a removed exclusion, IPv6, and a new network elsewhere.
pub fn change_batch(s: &TestServer) {
    let add = |prefix: &str, code: &str| {
        let change = Change::AddListing {
            prefix: prefix.parse().expect("prefix"),
            listing: listing(code, None),
            expires_at: None,
        };
        s.apply("bl.localhost", change).expect("add");
    };
    add("45.67.11.0/24", "127.0.0.2");
    add("45.67.9.200", "127.0.0.2");
    add("198.51.100.0/26", "127.0.0.3");
    add("2001:db8:1:7::/64", "127.0.0.2");
    s.apply("bl.localhost", Change::RemoveListing { prefix: "1.2.3.4/32".parse().expect("prefix") }).expect("remove");
    s.apply("bl.localhost", Change::RemoveExclusion { prefix: "45.67.10.77/32".parse().expect("prefix") })
        .expect("remove exclusion");
    s.apply("bl.localhost", Change::AddExclusion { prefix: "45.67.12.0/23".parse().expect("prefix"), reason: None })
        .expect("exclude");
}

/// A primary that NOTIFYs an NSD secondary (signed with the test key when `key`), populated,
/// and NSD with its first copy: (temporary dir, data dir, primary, NSD, NSD's directory).
fn notified_nsd(key: bool) -> (tempfile::TempDir, std::path::PathBuf, TestServer, Nsd, std::path::PathBuf) {
    let (dir, data) = temp_data();
    let nsd_port = free_port();
    let mut config = test_config(&data);
    config.zones[0].allow_transfer = vec!["127.0.0.1/32".parse().expect("prefix")];
    config.zones[0].notify = vec![SocketAddr::from(([127, 0, 0, 1], nsd_port))];
    config.zones[0].transfer_key = key.then(|| tsig_key(KEY_SECRET));
    let s = TestServer::start(config);
    populate(&s);
    let nsd_dir = dir.path().join("nsd");
    std::fs::create_dir_all(&nsd_dir).expect("nsd dir");
    let source = if key { Source::SignedPrimary(s.addr) } else { Source::Primary(s.addr) };
    let n = nsd_on(&nsd_dir, nsd_port, source);
    agree(s.addr, n.addr);
    (dir, data, s, n, nsd_dir)
}

/// Changes on the primary, then NSD at the primary's new serial (only a NOTIFY brings it this
/// soon: NSD's own refresh is hours away).
fn changed_and_notified(s: &TestServer, n: &Nsd, nsd_dir: &Path) {
    let before = soa_serial(n.addr, "bl.localhost");
    change_batch(s);
    let serial = soa_serial(s.addr, "bl.localhost");
    assert!(serial > before);
    wait_for_serial(n.addr, "bl.localhost", serial, "NSD", Some(&nsd_dir.join("nsd.log")));
}

#[test]
fn after_changes_the_primarys_notify_brings_nsd_an_ixfr_and_it_answers_the_new_data() {
    let (_dir, data, s, n, nsd_dir) = notified_nsd(false);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let transfers = |outcome: &str| -> u64 {
        let (status, stats) = api.call("GET", "/v1/stats", None, None);
        assert_eq!(status, 200, "{stats}");
        stats["transfers"][outcome].as_u64().unwrap_or(0)
    };
    assert_eq!(transfers("whole"), 1, "the first copy is the whole zone");
    changed_and_notified(&s, &n, &nsd_dir);
    assert_eq!(transfers("incremental"), 1, "the change came by IXFR");
    assert_eq!(transfers("whole"), 1);
    assert!(transfers("notify_answered") >= 1, "NSD answered the NOTIFY");
    for name in
        ["5.11.67.45.bl.localhost", "200.9.67.45.bl.localhost", "9.100.51.198.bl.localhost", "77.10.67.45.bl.localhost"]
    {
        assert!(!answer(n.addr, name).is_empty(), "{name} is listed on NSD now");
    }
    for name in ["4.3.2.1.bl.localhost", "1.12.67.45.bl.localhost", "1.13.67.45.bl.localhost"] {
        assert_eq!(answer(n.addr, name), answer(s.addr, name), "{name}");
    }
    assert_eq!(answer(n.addr, "4.3.2.1.bl.localhost"), ["127.0.0.3"], "1.2.3.4 falls back to its /16");
    assert!(answer(n.addr, "1.12.67.45.bl.localhost").is_empty(), "the new exclusion holds on NSD");
    assert!(!answer(n.addr, &v6_name("2001:db8:1:7::9", "bl.localhost")).is_empty());
    assert!(agree(s.addr, n.addr) > 400);
}

#[test]
fn nsd_takes_the_zone_and_its_changes_signed_with_tsig() {
    let (_dir, _data, s, n, nsd_dir) = notified_nsd(true);
    changed_and_notified(&s, &n, &nsd_dir);
    assert!(agree(s.addr, n.addr) > 400);
}
