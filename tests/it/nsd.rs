//! The zone's record form (`dnsbl zone export --format bind`) served by a real NSD answers every
//! probe as dnsbl does: ranges as wildcards, exclusions, nested entries of other codes, a second
//! dataset, IPv6, IPv4-mapped IPv6 names and the addresses IPv6 names share with IPv4 names.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dnsbl::model::{Listing, ListingCode, Prefix};
use dnsbl::publisher::Change;
use hickory_proto::rr::RecordType;

use crate::harness::*;

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

fn nsd(dir: &Path, zonefile: &Path) -> Nsd {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let d = dir.display();
    let conf = format!(
        "server:\n  ip-address: 127.0.0.1@{port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
         pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  zonelistfile: \"{d}/zone.list\"\n  \
         database: \"\"\n  logfile: \"{d}/nsd.log\"\n  verbosity: 1\n  server-count: 1\n  \
         reuseport: no\nremote-control:\n  control-enable: no\nzone:\n  name: bl.localhost\n  zonefile: \"{}\"\n",
        zonefile.display()
    );
    let path = dir.join("nsd.conf");
    std::fs::write(&path, conf).expect("nsd.conf");
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
    let child = Command::new("nsd")
        .args(["-d", "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start nsd ({e}); `make test` installs it"));
    let server = Nsd { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let soa = udp_raw(
            server.addr,
            &question("bl.localhost", RecordType::SOA, None).to_vec().expect("q"),
            Duration::from_millis(200),
        );
        if soa.is_some() {
            break;
        }
        let log = std::fs::read_to_string(dir.join("nsd.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "nsd did not answer: {log}");
    }
    server
}

fn listing(code: &str, reason: Option<&str>) -> Listing {
    Listing::new(vec![code.parse::<ListingCode>().expect("code")], reason.map(str::to_string)).expect("listing")
}

/// The codes of `name` (empty for NXDOMAIN or no A records).
fn answer(addr: SocketAddr, name: &str) -> Vec<String> {
    let mut codes = a_records(&ask(addr, name, RecordType::A));
    codes.sort();
    codes
}

#[test]
fn nsd_serving_the_record_form_answers_every_probe_like_dnsbl() {
    let (dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let add = |dataset: &str, prefix: &str, code: &str, reason: Option<&str>| {
        let change = Change::AddListing {
            prefix: prefix.parse().expect("prefix"),
            listing: listing(code, reason),
            expires_at: None,
        };
        s.apply_to("bl.localhost", dataset, change).expect("add");
    };
    let exclude = |prefix: &str| {
        s.apply("bl.localhost", Change::AddExclusion { prefix: prefix.parse().expect("prefix"), reason: None })
            .expect("exclude");
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

    let zonefile = dir.path().join("bl.localhost.zone");
    let out = Command::new(env!("CARGO_BIN_EXE_dnsbl"))
        .args(["zone", "export", "--format", "bind", "--data-dir"])
        .arg(&data)
        .output()
        .expect("export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&zonefile, &out.stdout).expect("zone file");
    let records =
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with(';') && !l.starts_with('$')).count();
    let nsd_dir = dir.path().join("nsd");
    std::fs::create_dir_all(&nsd_dir).expect("nsd dir");
    let n = nsd(&nsd_dir, &zonefile);

    // Every boundary of every entry, a step either side, and addresses in between.
    let mut v4: Vec<u32> = Vec::new();
    for p in [
        "45.67.0.0/16",
        "45.67.8.9/32",
        "45.67.9.0/24",
        "45.67.9.128/25",
        "45.67.10.77/32",
        "1.2.0.0/16",
        "1.2.3.4/32",
        "127.0.0.0/24",
        "203.0.113.5/32",
    ] {
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
    let mut names: Vec<String> = v4
        .iter()
        .map(|&a| {
            format!("{}.bl.localhost", a.to_be_bytes().iter().rev().map(u8::to_string).collect::<Vec<_>>().join("."))
        })
        .collect();
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
        let (ours, theirs) = (answer(s.addr, name), answer(n.addr, name));
        assert_eq!(theirs, ours, "{name}: NSD answers {theirs:?}, dnsbl {ours:?}");
        checked += 1;
        listed += usize::from(!ours.is_empty());
    }
    assert!(listed > 100 && listed + 100 < checked, "listed and unlisted probes both: {listed} of {checked}");
    // A listed name's TXT is there too; the apex answers SOA.
    let txt = txt_records(&ask(n.addr, "1.0.67.45.bl.localhost", RecordType::TXT));
    assert_eq!(txt, ["net 45.67.0.0/16"], "a wildcard's TXT names its network");
    let txt = txt_records(&ask(n.addr, "9.8.67.45.bl.localhost", RecordType::TXT));
    assert!(txt.contains(&"policy 45.67.8.9".to_string()), "{txt:?}");
    assert!(checked > 400 && records < 2000, "{checked} probes, {records} records");
}
