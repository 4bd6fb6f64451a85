//! docs/protocol.md "Protocol hygiene": EDNS, truncation, malformed and hostile packets.

use std::time::Duration;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};

use crate::harness::*;

const ZONE: &str = "bl.localhost";

/// A listing with so many codes that its A answer exceeds 512 and 1232 bytes.
fn big_server() -> (tempfile::TempDir, TestServer) {
    let (dir, data) = temp_data();
    let codes: Vec<String> = (2..=101).map(|i| format!("127.0.1.{i}")).collect();
    let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    seed(&data, ZONE, &[("192.0.2.1", Seed::Listed(&code_refs, None))]);
    let s = TestServer::in_dir(&data);
    (dir, s)
}

fn server() -> (tempfile::TempDir, TestServer) {
    let (dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    (dir, s)
}

#[test]
fn edns_is_echoed_only_when_asked() {
    let (_dir, s) = server();
    let plain = ask(s.addr, "2.0.0.127.bl.localhost", RecordType::A);
    assert!(plain.edns.is_none(), "no OPT without one in the query");
    let with = udp(s.addr, &question("2.0.0.127.bl.localhost", RecordType::A, Some(edns(4096, 0))));
    let opt = with.edns.as_ref().expect("OPT echoed");
    assert_eq!((opt.version(), opt.max_payload()), (0, 1232));
    assert_eq!(a_records(&with), ["127.0.0.2"]);
}

#[test]
fn edns_version_above_zero_gets_badvers() {
    let (_dir, s) = server();
    let m = udp(s.addr, &question("2.0.0.127.bl.localhost", RecordType::A, Some(edns(1232, 1))));
    // BADVERS is 16 (RFC 6891); hickory decodes 16 as its twin BADSIG.
    assert_eq!(u16::from(m.metadata.response_code), u16::from(ResponseCode::BADVERS));
    assert_eq!(m.edns.as_ref().map(|e| e.version()), Some(0));
    assert!(m.answers.is_empty());
}

#[test]
fn udp_replies_are_truncated_honestly() {
    let (_dir, s) = big_server();
    let name = "1.2.0.192.bl.localhost";
    // No EDNS: 512 bytes.
    let q = question(name, RecordType::A, None);
    let bytes = udp_raw(s.addr, &q.to_vec().expect("encode"), Duration::from_secs(2)).expect("reply");
    assert!(bytes.len() <= 512);
    let m = Message::from_vec(&bytes).expect("decode");
    assert!(m.metadata.truncation && m.answers.is_empty(), "TC=1 and no partial answer");
    assert_eq!(m.queries, q.queries);
    // EDNS 4096 is capped at our 1232.
    let q = question(name, RecordType::A, Some(edns(4096, 0)));
    let bytes = udp_raw(s.addr, &q.to_vec().expect("encode"), Duration::from_secs(2)).expect("reply");
    assert!(bytes.len() <= 1232);
    assert!(Message::from_vec(&bytes).expect("decode").metadata.truncation);
    // TCP gets everything.
    let full = tcp(s.addr, &question(name, RecordType::A, None));
    assert!(!full.metadata.truncation);
    assert_eq!(a_records(&full).len(), 100);
    // A small answer with EDNS is not truncated.
    let small = udp(s.addr, &question("2.0.0.127.bl.localhost", RecordType::A, Some(edns(512, 0))));
    assert!(!small.metadata.truncation);
}

#[test]
fn responses_are_dropped_even_when_they_do_not_parse() {
    let (_dir, s) = server();
    let mut response = question("2.0.0.127.bl.localhost", RecordType::A, None).to_vec().expect("encode");
    response[2] |= 0x80; // QR=1
    assert_eq!(udp_raw(s.addr, &response, Duration::from_millis(300)), None);
    let garbage = [0x12, 0x34, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
    assert_eq!(udp_raw(s.addr, &garbage, Duration::from_millis(300)), None);
    assert_eq!(udp_raw(s.addr, &[1, 2, 3], Duration::from_millis(300)), None, "runt");
    // Still serving.
    assert_eq!(a_records(&ask(s.addr, "2.0.0.127.bl.localhost", RecordType::A)), ["127.0.0.2"]);
}

#[test]
fn malformed_queries_get_formerr() {
    let (_dir, s) = server();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("label runs past the end", vec![0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f, b'a']),
        ("no question", vec![0xab, 0xcd, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("two questions", {
            let mut q = question("a.bl.localhost", RecordType::A, None);
            q.add_query(q.queries[0].clone());
            q.metadata.id = 0xabcd;
            q.to_vec().expect("encode")
        }),
    ];
    for (why, packet) in cases {
        let reply = udp_raw(s.addr, &packet, Duration::from_secs(2)).unwrap_or_else(|| panic!("{why}: no reply"));
        let m = Message::from_vec(&reply).expect("decode");
        assert_eq!(m.metadata.id, 0xabcd, "{why}");
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr, "{why}");
    }
    assert_eq!(a_records(&ask(s.addr, "2.0.0.127.bl.localhost", RecordType::A)), ["127.0.0.2"]);
}

/// `name rtype` with EDNS whose RDATA is `options`.
fn with_options(name: &str, rtype: RecordType, options: &[u8]) -> Vec<u8> {
    let mut q = question(name, rtype, Some(edns(1232, 0)));
    q.metadata.id = 0xabcd;
    let mut bytes = q.to_vec().expect("encode");
    let n = bytes.len();
    bytes[n - 2..].copy_from_slice(&(options.len() as u16).to_be_bytes());
    bytes.extend_from_slice(options);
    bytes
}

#[test]
fn malformed_edns_options_get_formerr() {
    let (_dir, s) = server();
    let cookie = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    // A query the fast path takes, and one it leaves to the full path (AAAA).
    for (name, rtype) in [("2.0.0.127.bl.localhost", RecordType::A), ("2.0.0.127.bl.localhost", RecordType::AAAA)] {
        let reply = udp_raw(s.addr, &with_options(name, rtype, &cookie), Duration::from_secs(2)).expect("reply");
        let m = Message::from_vec(&reply).expect("decode");
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name} {rtype}: a well-formed option");
        for (why, options) in [("length past the RDATA", &[0u8, 10, 0, 8, 1, 2, 3, 4][..]), ("cut header", &[0, 10, 0])]
        {
            for transport in ["udp", "tcp"] {
                let packet = with_options(name, rtype, options);
                let reply = match transport {
                    "udp" => udp_raw(s.addr, &packet, Duration::from_secs(2)),
                    _ => tcp_raw(s.addr, &packet, Duration::from_secs(2)),
                };
                let m = Message::from_vec(&reply.unwrap_or_else(|| panic!("{why}: no reply"))).expect("decode");
                assert_eq!(m.metadata.id, 0xabcd, "{name} {rtype} {why} {transport}");
                assert_eq!(m.metadata.response_code, ResponseCode::FormErr, "{name} {rtype} {why} {transport}");
            }
        }
    }
}

#[test]
fn tsig_with_an_unknown_key_gets_notauth_and_badkey() {
    let (_dir, s) = server();
    let mut q = question("2.0.0.127.bl.localhost", RecordType::A, None);
    q.signature = Some(Box::new(crate::differential::tsig_record("unknown-key.example.")));
    let m = udp(s.addr, &q);
    assert_eq!(m.metadata.response_code, ResponseCode::NotAuth);
    assert!(m.answers.is_empty());
    // Without hickory's DNSSEC features the codec leaves a TSIG among the additional records.
    let (key, tsig) = m
        .additionals
        .iter()
        .find_map(|r| match &r.data {
            hickory_proto::rr::RData::TSIG(t) => Some((r.name.to_ascii(), t.clone())),
            _ => None,
        })
        .expect("an unsigned TSIG in the reply");
    assert_eq!(key, "unknown-key.example.");
    assert_eq!(tsig.error, Some(hickory_proto::rr::rdata::tsig::TsigError::BadKey));
    assert!(tsig.mac.is_empty(), "the error reply is unsigned");
    assert_eq!(tsig.oid, 0xabcd);
    // A real client: dig signs with a key the server does not know and is told so.
    let out = std::process::Command::new("dig")
        .args(["+tries=1", "+time=2", "-p", &s.addr.port().to_string(), "@127.0.0.1"])
        .args(["-y", "hmac-sha256:unknown-key:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "2.0.0.127.bl.localhost", "A"])
        .output()
        .expect("dig (installed by make deps)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOTAUTH") || text.contains("BADKEY"), "{text}");
}

#[test]
fn unknown_opcodes_get_notimp() {
    let (_dir, s) = server();
    for op in [OpCode::Status, OpCode::Update, OpCode::Unknown(9)] {
        let mut q = question("2.0.0.127.bl.localhost", RecordType::A, None);
        q.metadata.op_code = op;
        let m = udp(s.addr, &q);
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp, "{op:?}");
    }
    // NOTIFY (RFC 1996): acknowledged for a zone served here (it changes nothing unless it comes
    // from a secondary zone's primary), NOTAUTH for any other name.
    for (name, code) in [("bl.localhost", ResponseCode::NoError), ("2.0.0.127.bl.localhost", ResponseCode::NotAuth)] {
        let mut q = question(name, RecordType::SOA, None);
        q.metadata.op_code = OpCode::Notify;
        let m = udp(s.addr, &q);
        assert_eq!((m.metadata.op_code, m.metadata.response_code), (OpCode::Notify, code), "NOTIFY {name}");
    }
}

#[test]
fn zone_transfers_and_other_classes_are_refused() {
    let (_dir, s) = server();
    for t in [RecordType::AXFR, RecordType::IXFR] {
        let m = tcp(s.addr, &question(ZONE, t, None));
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{t} over TCP");
        assert!(m.answers.is_empty());
    }
    let mut chaos = question("version.bind", RecordType::TXT, None);
    chaos.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(udp(s.addr, &chaos).metadata.response_code, ResponseCode::Refused);
}

#[test]
fn tcp_connection_carries_several_queries_and_survives_garbage() {
    use std::io::{Read, Write};
    let (_dir, s) = server();
    let mut conn = std::net::TcpStream::connect(s.addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    for i in 0..3u16 {
        let mut q = question("2.0.0.127.bl.localhost", RecordType::A, None);
        q.metadata.id = i;
        let bytes = q.to_vec().expect("encode");
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        conn.write_all(&framed).expect("write");
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).expect("length");
        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
        conn.read_exact(&mut body).expect("body");
        let m = Message::from_vec(&body).expect("decode");
        assert_eq!((m.metadata.id, a_records(&m)), (i, vec!["127.0.0.2".to_string()]));
    }
    // A half message followed by a hang-up must not hurt the server.
    conn.write_all(&[0, 40, 1, 2, 3]).expect("write");
    drop(conn);
    assert_eq!(a_records(&tcp(s.addr, &question("2.0.0.127.bl.localhost", RecordType::A, None))), ["127.0.0.2"]);
}

#[test]
fn random_bytes_never_stop_the_server() {
    let (_dir, s) = server();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 80) as usize;
        let packet: Vec<u8> = (0..len).map(|i| (seed >> (i % 8 * 8)) as u8 ^ i as u8).collect();
        sock.send_to(&packet, s.addr).expect("send");
    }
    assert_eq!(a_records(&ask(s.addr, "2.0.0.127.bl.localhost", RecordType::A)), ["127.0.0.2"]);
}

#[test]
fn tcp_idle_connections_are_closed_and_connections_are_capped() {
    use std::io::{Read, Write};
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    config.server.tcp_idle_timeout = Duration::from_secs(1);
    config.server.max_tcp_connections = 2;
    let s = TestServer::start(config);
    let query = {
        let bytes = question("2.0.0.127.bl.localhost", RecordType::A, None).to_vec().expect("encode");
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        framed
    };
    let answered = |conn: &mut std::net::TcpStream, wait: Duration| -> bool {
        conn.set_read_timeout(Some(wait)).expect("timeout");
        if conn.write_all(&query).is_err() {
            return false;
        }
        let mut len = [0u8; 2];
        if conn.read_exact(&mut len).is_err() {
            return false;
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        conn.read_exact(&mut body).is_ok()
    };
    // Two connections take both slots; a third waits in the kernel's queue, unanswered.
    let mut first = std::net::TcpStream::connect(s.addr).expect("connect");
    let mut second = std::net::TcpStream::connect(s.addr).expect("connect");
    assert!(answered(&mut first, Duration::from_secs(5)));
    assert!(answered(&mut second, Duration::from_secs(5)));
    let mut third = std::net::TcpStream::connect(s.addr).expect("connect");
    assert!(!answered(&mut third, Duration::from_millis(300)), "over the cap");
    // Idle connections are closed after the timeout, which frees the slots.
    let mut buf = [0u8; 1];
    first.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    assert_eq!(first.read(&mut buf).expect("closed, not timed out"), 0, "server closed the idle connection");
    // The queued connection is served now (its query was already sent).
    third.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut len = [0u8; 2];
    third.read_exact(&mut len).expect("answered once a slot is free");
}

/// One query from a socket bound to `source` (any 127/8 address is local on Linux).
fn udp_from(source: &str, server: std::net::SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let sock = std::net::UdpSocket::bind((source, 0)).expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
    sock.send_to(packet, server).expect("send");
    let mut buf = [0u8; 4096];
    sock.recv_from(&mut buf).ok().map(|(n, _)| buf[..n].to_vec())
}

#[test]
fn configured_clients_are_refused_or_ignored_and_the_rest_answered() {
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    config.server.refuse_clients = vec!["127.0.0.2/32".parse().expect("prefix")];
    config.server.ignore_clients = vec!["127.0.0.3/32".parse().expect("prefix")];
    let s = TestServer::start(config);
    let q = question("2.0.0.127.bl.localhost", RecordType::A, None);
    let packet = q.to_vec().expect("encode");

    let answered = Message::from_vec(&udp_from("127.0.0.1", s.addr, &packet).expect("answered")).expect("parse");
    assert_eq!(a_records(&answered), ["127.0.0.2"]);
    let refused = udp_from("127.0.0.2", s.addr, &packet).expect("a REFUSED reply");
    assert!(refused.len() <= packet.len(), "no amplification");
    let refused = Message::from_vec(&refused).expect("parse");
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    assert_eq!(refused.metadata.id, q.metadata.id);
    assert_eq!(refused.queries, q.queries);
    assert!(refused.answers.is_empty());
    assert!(udp_from("127.0.0.3", s.addr, &packet).is_none(), "ignored: no reply");

    // TCP: the refused client gets REFUSED on its connection, the ignored one is hung up on.
    let tcp_from = |source: &str| -> Option<Vec<u8>> {
        use std::io::{Read, Write};
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        sock.bind(&std::net::SocketAddr::from((source.parse::<std::net::Ipv4Addr>().expect("ip"), 0)).into())
            .expect("bind");
        sock.connect(&s.addr.into()).expect("connect");
        let mut stream: std::net::TcpStream = sock.into();
        stream.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&packet);
        stream.write_all(&framed).ok()?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).ok()?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut reply).ok()?;
        Some(reply)
    };
    let refused = Message::from_vec(&tcp_from("127.0.0.2").expect("reply")).expect("parse");
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    assert!(tcp_from("127.0.0.3").is_none(), "ignored over TCP too");
    let answered = Message::from_vec(&tcp_from("127.0.0.1").expect("reply")).expect("parse");
    assert_eq!(a_records(&answered), ["127.0.0.2"]);
}
