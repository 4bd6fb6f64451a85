//! `dnsbl zone export`: rbldnsd output loads in the real rbldnsd and answers like dnsbl, reads
//! back into the same list; the served export answers like dnsbl with marketer registrations;
//! BIND output expands within its limit.

use std::path::Path;
use std::process::Command;

use dnsbl::name::DomainName;
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
