//! `dnsbl zone export`: rbldnsd output loads in the real rbldnsd and answers like dnsbl, reads
//! back into the same list; the served export answers like dnsbl with marketer registrations;
//! BIND output expands within its limit; the running server's mirror export is rewritten after
//! changes in a stable order and rbldnsd serves it alike.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dnsbl::model::Listing;
use dnsbl::name::DomainName;
use dnsbl::publisher::Change;
use dnsbl::store::{Store, StoredEntry};
use hickory_proto::rr::RecordType;

use crate::harness::*;

const ZONE: &str = "bl.localhost";

fn dnsbl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dnsbl")).args(args).output().expect("run dnsbl")
}

fn sample_list(data: &Path) {
    seed(
        data,
        ZONE,
        &[
            ("203.0.113.0/24", Seed::Listed(&["127.0.0.3"], Some("marketing from $"))),
            ("203.0.113.77", Seed::Excluded),
            ("203.0.113.78/31", Seed::Listed(&["127.0.0.4"], None)),
            ("198.51.100.0/22", Seed::Listed(&["127.0.0.3"], None)),
            ("198.51.101.0/24", Seed::Excluded),
            ("198.51.101.9", Seed::Listed(&["127.0.0.2"], Some("declared sender $"))),
            ("2001:db8:1::/48", Seed::Listed(&["127.0.0.3"], Some("six $"))),
            ("2001:db8:1::25", Seed::Excluded),
        ],
    );
}

fn entries(data: &Path) -> Vec<String> {
    let store = Store::open_read_only(data).expect("open");
    let mut out = Vec::new();
    store
        .for_each_entry(&DomainName::parse(ZONE).expect("zone"), |p, e| {
            out.push(match e {
                StoredEntry::Listing(l) => format!("{p} listed {:?} {:?}", l.listing.codes(), l.listing.reason()),
                StoredEntry::Exclusion(_) => format!("{p} excluded"),
            })
        })
        .expect("scan");
    out
}

fn export(data: &Path, format: &str) -> std::process::Output {
    dnsbl(&["zone", "export", "--format", format, "--data-dir", data.to_str().expect("path")])
}

#[test]
fn rbldnsd_export_reads_back_into_the_same_list() {
    let (dir, data) = temp_data();
    sample_list(&data);
    let out = export(&data, "rbldnsd");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = dir.path().join("export.rbldnsd");
    std::fs::write(&file, &out.stdout).expect("write");
    let copy = dir.path().join("copy");
    let imported = dnsbl(&["zone", "import", file.to_str().expect("path"), "--data-dir", copy.to_str().expect("path")]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    assert_eq!(entries(&copy), entries(&data));
}

#[test]
fn rbldnsd_serves_the_export_with_the_same_answers() {
    let (dir, data) = temp_data();
    sample_list(&data);
    let out = export(&data, "rbldnsd");
    assert!(out.status.success());
    let (_rbl, rbl_addr) = serve_with_rbldnsd(dir.path(), &out.stdout);
    let ours = TestServer::in_dir(&data);
    same_answers(
        ours.addr,
        rbl_addr,
        &[
            "203.0.113.1",
            "203.0.113.77",
            "203.0.113.78",
            "203.0.113.79",
            "203.0.113.80",
            "198.51.100.5",
            "198.51.101.5",
            "198.51.101.9",
            "198.51.102.200",
            "198.51.104.1",
            "192.0.2.1",
        ],
        &["2001:db8:1::1", "2001:db8:1::25", "2001:db8:1:ffff::1", "2001:db8:2::1"],
    );
}

/// Starts rbldnsd on `export` as one combined dataset and returns it once it answers.
fn serve_with_rbldnsd(dir: &Path, export: &[u8]) -> (Rbldnsd, std::net::SocketAddr) {
    serve_datasets_with_rbldnsd(dir, &[("combined", "export.rbldnsd", export)])
}

/// Asks both servers the same A and TXT questions and compares rcode, codes and texts.
fn same_answers(ours: std::net::SocketAddr, theirs: std::net::SocketAddr, v4: &[&str], v6: &[&str]) {
    let mut names: Vec<String> = v4
        .iter()
        .map(|ip| {
            let o: Vec<&str> = ip.split('.').rev().collect();
            format!("{}.{ZONE}", o.join("."))
        })
        .collect();
    names.extend(v6.iter().map(|ip| v6_name(ip, ZONE)));
    for name in &names {
        for t in [RecordType::A, RecordType::TXT] {
            let q = question(name, t, None);
            let (a, b) = (udp(ours, &q), udp(theirs, &q));
            assert_eq!(a.metadata.response_code, b.metadata.response_code, "{name} {t}");
            let (mut x, mut y) = (a_records(&a), a_records(&b));
            x.sort();
            y.sort();
            assert_eq!(x, y, "{name} A");
            assert_eq!(txt_records(&a), txt_records(&b), "{name} TXT");
        }
    }
}

#[test]
fn served_export_answers_like_the_server_with_registrations() {
    let (dir, data) = temp_data();
    sample_list(&data);
    let mut config = test_config(&data);
    // The scenario uses documentation ranges, which the default registry policy denies.
    config.registry.policy.denied = vec!["10.0.0.0/8".parse().expect("prefix")];
    let ours = TestServer::start(config);
    let (base, token) = ours.api(&data);
    let api = Api { base, token };
    // Acme's network lies inside the operator's 198.51.100.0/22; it declares two senders.
    let body = serde_json::json!({ "id": "acme", "legal_name": "Acme Mailing Ltd", "registration_number": "GB-1",
                                   "contact": "abuse@acme.example", "networks": ["198.51.100.0/24", "2001:db8:1:5::/64"] });
    let (status, answer) = api.call("POST", "/v1/marketers", None, Some(body));
    assert_eq!(status, 201, "{answer}");
    let marketer = answer["token"].as_str().expect("token").to_string();
    let body = serde_json::json!({ "prefixes": ["198.51.100.7", "198.51.100.64/27", "2001:db8:1:5::7"] });
    let (status, answer) = api.call("POST", "/v1/registrations", Some(&marketer), Some(body));
    assert_eq!(status, 201, "{answer}");

    // The export reads the database while the server runs.
    let data_dir = data.to_str().expect("path");
    let out = dnsbl(&["zone", "export", "--format", "rbldnsd", "--served", "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.lines().any(|l| l.starts_with("198.51.100.0/22")), "the protected network is cut out:\n{text}");
    let (_rbl, rbl_addr) = serve_with_rbldnsd(dir.path(), &out.stdout);
    same_answers(
        ours.addr,
        rbl_addr,
        &[
            "127.0.0.1",
            "127.0.0.2",
            "198.51.100.5",
            "198.51.100.7",
            "198.51.100.8",
            "198.51.100.70",
            "198.51.100.200",
            "198.51.101.9",
            "198.51.102.200",
            "203.0.113.1",
            "203.0.113.77",
            "203.0.113.79",
            "192.0.2.1",
        ],
        &["2001:db8:1::1", "2001:db8:1::25", "2001:db8:1:5::7", "2001:db8:1:5::8", "2001:db8:1:6::1"],
    );
    // The list export, by contrast, is the operator's list: the /22 is there whole.
    let out = export(&data, "rbldnsd");
    assert!(String::from_utf8_lossy(&out.stdout).lines().any(|l| l.starts_with("198.51.100.0/22")));
}

#[test]
fn bind_export_writes_wildcards_and_refuses_too_much() {
    let (_dir, data) = temp_data();
    seed(
        &data,
        ZONE,
        &[
            ("192.0.2.0/30", Seed::Listed(&["127.0.0.3"], Some("x $"))),
            ("192.0.2.2", Seed::Excluded),
            ("198.51.100.0/24", Seed::Listed(&["127.0.0.3"], Some("net $"))),
        ],
    );
    let out = export(&data, "bind");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("$ORIGIN bl.localhost."));
    assert!(text.contains("0.2.0.192 IN A 127.0.0.3") && text.contains("3.2.0.192 IN TXT \"x 192.0.2.3\""), "{text}");
    assert!(!text.contains("2.2.0.192 IN A"), "excluded address is not written");
    assert!(text.contains("*.100.51.198 IN A 127.0.0.3"), "a /24 is one wildcard: {text}");
    assert!(text.contains("*.100.51.198 IN TXT \"net 198.51.100.0/24\""), "{text}");
    assert!(text.contains("2.0.0.127 IN A 127.0.0.2"), "test point");
    let (_dir2, big) = temp_data();
    let many: Vec<String> = (0..2000).map(|i| format!("10.{}.{}.1", i / 200, i % 200)).collect();
    let entries: Vec<(&str, Seed<'_>)> =
        many.iter().map(|p| (p.as_str(), Seed::Listed(&["127.0.0.3"], None))).collect();
    seed(&big, ZONE, &entries);
    let out = dnsbl(&[
        "zone",
        "export",
        "--format",
        "bind",
        "--max-records",
        "1000",
        "--data-dir",
        big.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("needs more than --max-records 1000 names"), "{said}");
}

#[test]
fn the_mirror_export_is_rewritten_after_changes_and_rbldnsd_serves_it_like_the_server() {
    let (dir, data) = temp_data();
    let mut config = test_config(&data);
    config.zones[0].mirror_export = Some(dnsbl::config::MirrorExport {
        path: "mirror/bl.localhost.rbldnsd".into(),
        every: Duration::from_secs(1),
        expires: Duration::from_secs(3600),
    });
    std::fs::create_dir_all(data.join("mirror")).expect("mirror dir");
    let s = TestServer::start(config);
    let file = data.join("mirror/bl.localhost.rbldnsd");
    let add = |prefix: &str, code: &str| {
        let listing = Listing::new(vec![code.parse().expect("code")], Some("mirrored $".into())).expect("listing");
        s.apply(
            "bl.localhost",
            Change::AddListing { prefix: prefix.parse().expect("prefix"), listing, expires_at: None },
        )
        .expect("add");
    };
    add("45.67.0.0/16", "127.0.0.3");
    add("2001:db8:1::/48", "127.0.0.2");
    s.apply("bl.localhost", Change::AddExclusion { prefix: "45.67.9.0/24".parse().expect("prefix"), reason: None })
        .expect("exclude");
    // Within `every` of the last change the file holds it (the serial is in its head).
    let serial = soa_serial(s.addr, "bl.localhost");
    let written = |serial: u32| -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if text.contains(&format!("serial {serial};")) {
                return text;
            }
            assert!(Instant::now() < deadline, "no export of serial {serial}:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let text = written(serial);
    assert!(text.starts_with("$TIMESTAMP "), "{text}");
    assert!(!data.join("mirror/bl.localhost.rbldnsd.writing").exists(), "the temporary file is renamed");
    let (_rbl, rbl) = serve_with_rbldnsd(dir.path(), text.as_bytes());
    let v4 = ["45.67.8.1", "45.67.9.1", "45.68.0.1", "127.0.0.2", "127.0.0.1"];
    same_answers(s.addr, rbl, &v4, &["2001:db8:1::9", "2001:db8:2::1"]);
    // A change: the file is replaced with it, the lines before it keep their order.
    add("198.51.100.0/24", "127.0.0.2");
    let serial = soa_serial(s.addr, "bl.localhost");
    let after = written(serial);
    let body = |t: &str| -> Vec<String> {
        let head = ["$TIMESTAMP", "#", "$SOA"];
        t.lines().filter(|l| !head.iter().any(|h| l.starts_with(h))).map(str::to_string).collect()
    };
    let (old, new) = (body(&text), body(&after));
    assert_eq!(new.len(), old.len() + 1, "one line more");
    assert!(new.iter().any(|l| l.starts_with("198.51.100.0/24")), "{after}");
    let kept: Vec<&String> = new.iter().filter(|l| !l.starts_with("198.51.100.0/24")).collect();
    assert_eq!(kept, old.iter().collect::<Vec<_>>(), "stable order: small rsync deltas");
}
