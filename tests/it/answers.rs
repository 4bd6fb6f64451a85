//! docs/protocol.md "Answers", "Query names" and "Test points", row by row, over real sockets.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::harness::*;

const ZONE: &str = "bl.localhost";

/// A server with a small list covering ranges, exclusions, several codes and IPv6.
fn server() -> (tempfile::TempDir, TestServer) {
    let (dir, data) = temp_data();
    seed(
        &data,
        ZONE,
        &[
            ("198.51.100.7", Seed::Listed(&["127.0.0.2"], Some("Registered sender $"))),
            ("198.51.100.9", Seed::Listed(&["127.0.0.3", "127.0.0.4"], None)),
            ("10.0.0.0/8", Seed::Listed(&["127.0.0.3"], Some("network $"))),
            ("10.1.0.0/16", Seed::Excluded),
            ("10.1.2.3", Seed::Listed(&["127.0.0.4"], Some("host $"))),
            ("2001:db8:ac3e::/48", Seed::Listed(&["127.0.0.3"], Some("six $"))),
            ("2001:db8:ac3e::25", Seed::Excluded),
            // Data cannot override the test points.
            ("127.0.0.0/8", Seed::Listed(&["127.0.0.4"], Some("loopback"))),
            ("127.0.0.2", Seed::Excluded),
        ],
    );
    let server = TestServer::in_dir(&data);
    (dir, server)
}

fn soa_minimum(m: &Message) -> Option<(u32, u32)> {
    m.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some((r.ttl, soa.minimum)),
        _ => None,
    })
}

fn assert_nxdomain(m: &Message, why: &str) {
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{why}");
    assert!(m.metadata.authoritative, "{why}: AA");
    assert!(m.answers.is_empty(), "{why}");
    assert_eq!(soa_minimum(m), Some((60, 60)), "{why}: SOA with its negative TTL in authority");
}

fn assert_nodata(m: &Message, why: &str) {
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{why}");
    assert!(m.metadata.authoritative, "{why}: AA");
    assert!(m.answers.is_empty(), "{why}: no data");
    assert!(soa_minimum(m).is_some(), "{why}: SOA in authority");
}

#[test]
fn test_points_answer_whatever_the_data() {
    let (_dir, s) = server();
    let a = ask(s.addr, "2.0.0.127.bl.localhost", RecordType::A);
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.metadata.authoritative);
    assert_eq!(a_records(&a), ["127.0.0.2"]);
    assert_eq!(a.answers[0].ttl, 300);
    let t = ask(s.addr, "2.0.0.127.bl.localhost", RecordType::TXT);
    assert_eq!(txt_records(&t), ["RFC 5782 test point: 127.0.0.2 is always listed"]);
    assert_nxdomain(&ask(s.addr, "1.0.0.127.bl.localhost", RecordType::A), "127.0.0.1 is never listed");
    let v6 = ask(s.addr, &v6_name("::ffff:7f00:2", ZONE), RecordType::A);
    assert_eq!(a_records(&v6), ["127.0.0.2"]);
    assert_nxdomain(&ask(s.addr, &v6_name("::ffff:7f00:1", ZONE), RecordType::A), "::ffff:7f00:1");
}

#[test]
fn listed_addresses_answer_one_a_per_code_and_a_txt() {
    let (_dir, s) = server();
    let cases: &[(&str, &[&str], &str)] = &[
        ("7.100.51.198", &["127.0.0.2"], "Registered sender 198.51.100.7"),
        (
            "9.100.51.198",
            &["127.0.0.3", "127.0.0.4"],
            "Listed in bl.localhost, see http://bl.localhost:8080/lookup?ip=198.51.100.9",
        ),
        ("9.9.9.10", &["127.0.0.3"], "network 10.9.9.9"),
        ("3.2.1.10", &["127.0.0.4"], "host 10.1.2.3"),
        ("5.5.5.127", &["127.0.0.4"], "loopback"),
    ];
    for (rev, codes, txt) in cases {
        let name = format!("{rev}.{ZONE}");
        let a = ask(s.addr, &name, RecordType::A);
        let mut got = a_records(&a);
        got.sort();
        assert_eq!(got, *codes, "{name}");
        assert!(a.metadata.authoritative && !a.metadata.recursion_available, "{name}: AA, no RA");
        let t = ask(s.addr, &name, RecordType::TXT);
        assert_eq!(txt_records(&t), [txt.to_string()], "{name}");
        let both = ask(s.addr, &name, RecordType::ANY);
        assert_eq!(both.answers.len(), codes.len() + 1, "{name}: ANY gives A and TXT");
    }
}

#[test]
fn unlisted_excluded_and_malformed_names_are_nxdomain() {
    let (_dir, s) = server();
    let nibbles33 = format!("{}0", "0.".repeat(32));
    for rev in [
        "8.100.51.198",   // not listed
        "9.9.1.10",       // inside the excluded /16
        "4.2.1.10",       // next to a listed host in the exclusion
        "1.0.0.256",      // octet > 255
        "7.100.51.198.1", // five labels
        "07.100.51.198",  // leading zero
        "ab.0.0.0",       // two-letter label
        "x.100.51.198",   // not a number
        &nibbles33,
    ] {
        assert_nxdomain(&ask(s.addr, &format!("{rev}.{ZONE}"), RecordType::A), rev);
    }
    assert_nxdomain(&ask(s.addr, &v6_name("2001:db8:ac3e::25", ZONE), RecordType::A), "excluded IPv6 host");
    assert_nxdomain(&ask(s.addr, &v6_name("2001:db8:acf0::1", ZONE), RecordType::A), "unlisted IPv6");
}

#[test]
fn ipv6_listings() {
    let (_dir, s) = server();
    let name = v6_name("2001:db8:ac3e::1", ZONE);
    assert_eq!(a_records(&ask(s.addr, &name, RecordType::A)), ["127.0.0.3"]);
    assert_eq!(txt_records(&ask(s.addr, &name, RecordType::TXT)), ["six 2001:db8:ac3e::1"]);
}

#[test]
fn other_types_at_a_listed_name_are_nodata() {
    let (_dir, s) = server();
    for t in [RecordType::AAAA, RecordType::MX, RecordType::NS, RecordType::SOA] {
        assert_nodata(&ask(s.addr, "7.100.51.198.bl.localhost", t), &format!("{t}"));
    }
}

#[test]
fn empty_non_terminals_for_qname_minimisation() {
    let (_dir, s) = server();
    for ent in ["100.51.198", "51.198", "198", "0.0.127", "127", "10", "1.10"] {
        assert_nodata(&ask(s.addr, &format!("{ent}.{ZONE}"), RecordType::A), ent);
    }
    for nothing in ["101.51.198", "199", "11"] {
        assert_nxdomain(&ask(s.addr, &format!("{nothing}.{ZONE}"), RecordType::A), nothing);
    }
    // Nibble prefixes of a listed IPv6 network.
    let full = v6_name("2001:db8:ac3e::1", ZONE);
    let top12: Vec<&str> = full.split('.').skip(20).collect();
    assert_nodata(&ask(s.addr, &top12.join("."), RecordType::A), "IPv6 nibble prefix");
}

#[test]
fn apex_has_soa_and_ns_with_glue_but_no_a() {
    let (_dir, s) = server();
    let soa = ask(s.addr, ZONE, RecordType::SOA);
    assert!(soa.metadata.authoritative);
    let RData::SOA(data) = &soa.answers[0].data else { panic!("SOA expected: {soa:?}") };
    assert_eq!(
        (data.mname.to_ascii(), data.rname.to_ascii(), data.minimum),
        ("ns1.bl.localhost.".into(), "hostmaster.bl.localhost.".into(), 60)
    );
    assert!(data.serial >= 1_700_000_000, "serial from the store");
    let ns = ask(s.addr, ZONE, RecordType::NS);
    assert!(matches!(&ns.answers[0].data, RData::NS(n) if n.0.to_ascii() == "ns1.bl.localhost."));
    assert_eq!(ns.additionals.iter().filter(|r| r.record_type() == RecordType::A).count(), 1, "glue");
    assert_nodata(&ask(s.addr, ZONE, RecordType::A), "no 127/8 A record at the apex");
    assert_eq!(a_records(&ask(s.addr, "ns1.bl.localhost", RecordType::A)), ["127.0.0.1"]);
}

#[test]
fn names_outside_our_zones_are_refused() {
    let (_dir, s) = server();
    for name in ["2.0.0.127.bl.example.org", "localhost", "xbl.localhost", "example.com"] {
        let m = ask(s.addr, name, RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{name}");
        assert!(!m.metadata.authoritative && m.answers.is_empty(), "{name}");
    }
}

#[test]
fn question_case_is_echoed() {
    let (_dir, s) = server();
    let name = "7.100.51.198.Bl.LoCalHost.";
    let m = ask(s.addr, name, RecordType::A);
    assert_eq!(m.queries[0].name().to_ascii(), name);
    assert_eq!(m.answers[0].name.to_ascii(), name, "answer owner keeps the 0x20 case");
    assert_eq!(a_records(&m), ["127.0.0.2"]);
}

#[test]
fn tcp_answers_the_same_as_udp() {
    let (_dir, s) = server();
    for (name, t) in [
        ("7.100.51.198.bl.localhost", RecordType::A),
        ("9.100.51.198.bl.localhost", RecordType::TXT),
        ("8.100.51.198.bl.localhost", RecordType::A),
        ("bl.localhost", RecordType::NS),
        ("example.com", RecordType::A),
    ] {
        let q = question(name, t, None);
        let (u, mut tc) = (udp(s.addr, &q), tcp(s.addr, &q));
        tc.metadata.id = u.metadata.id;
        assert_eq!(u, tc, "{name} {t}");
    }
}

#[test]
fn restart_keeps_data() {
    let (_dir, data) = temp_data();
    seed(&data, ZONE, &[("192.0.2.1", Seed::Listed(&["127.0.0.3"], None))]);
    let first = TestServer::in_dir(&data);
    let serial = |s: &TestServer| soa_serial(s.addr, ZONE);
    assert_eq!(a_records(&ask(first.addr, "1.2.0.192.bl.localhost", RecordType::A)), ["127.0.0.3"]);
    let before = serial(&first);
    first.stop();
    let second = TestServer::in_dir(&data);
    assert_eq!(a_records(&ask(second.addr, "1.2.0.192.bl.localhost", RecordType::A)), ["127.0.0.3"]);
    assert_eq!(serial(&second), before, "a restart is not a change");
}

#[test]
fn serves_ipv4_and_ipv6_listen_addresses_on_udp_and_tcp() {
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    config.server.listen = vec!["127.0.0.1:0".parse().expect("addr"), "[::1]:0".parse().expect("addr")];
    let s = TestServer::start(config);
    let addrs = s.local_addrs();
    assert_eq!(addrs.len(), 2);
    for addr in addrs {
        let q = question("2.0.0.127.bl.localhost", RecordType::A, None);
        assert_eq!(a_records(&udp(addr, &q)), ["127.0.0.2"], "UDP {addr}");
        assert_eq!(a_records(&tcp(addr, &q)), ["127.0.0.2"], "TCP {addr}");
    }
}
