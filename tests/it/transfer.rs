//! Zone transfers on the wire, from a running server: the AXFR's shape, the three answers an
//! IXFR can get (the current SOA alone, the steps since the secondary's serial, the whole zone
//! when the history does not reach back), an IXFR without the secondary's SOA, a zone larger
//! than `transfer-max-names` (cut short, connection closed), and what NOTIFY sends and how it
//! retries until it is answered.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use dnsbl::model::{Listing, ListingCode};
use dnsbl::publisher::Change;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::harness::*;

/// Every message of one transfer, until the connection closes or the message that ends it
/// (the closing SOA of an AXFR or IXFR, or a single-SOA IXFR answer) arrives; and whether the
/// connection closed before that.
fn transfer(addr: SocketAddr, query: &Message) -> (Vec<Message>, bool) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let packet = query.to_vec().expect("encode");
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&packet);
    s.write_all(&framed).expect("write");
    let mut out: Vec<Message> = Vec::new();
    let mut soas = 0;
    loop {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            return (out, true);
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut body).expect("message body");
        let m = Message::from_vec(&body).expect("a message that decodes");
        let single = m.answers.len() == 1 && out.is_empty();
        soas += m.answers.iter().filter(|r| r.record_type() == RecordType::SOA).count();
        let refused = m.metadata.response_code != ResponseCode::NoError;
        out.push(m);
        let first_serial = serial_of(out[0].answers.first());
        let last = out.last().and_then(|m| m.answers.last());
        let closing =
            soas >= 2 && last.is_some_and(|r| r.record_type() == RecordType::SOA) && serial_of(last) == first_serial;
        if refused || single || closing {
            return (out, false);
        }
    }
}

fn serial_of(r: Option<&Record>) -> Option<u32> {
    match r.map(|r| &r.data) {
        Some(RData::SOA(soa)) => Some(soa.serial),
        _ => None,
    }
}

/// An IXFR query from a secondary at `serial`.
fn ixfr(serial: u32) -> Message {
    let mut m = question("bl.localhost", RecordType::IXFR, None);
    let zone = Name::from_ascii("bl.localhost.").expect("name");
    let soa = SOA::new(zone.clone(), zone.clone(), serial, 3600, 600, 604800, 60);
    m.authorities.push(Record::from_rdata(zone, 3600, RData::SOA(soa)));
    m
}

fn records(messages: &[Message]) -> Vec<&Record> {
    messages.iter().flat_map(|m| &m.answers).collect()
}

fn add(s: &TestServer, prefix: &str, code: &str) {
    let listing = Listing::new(vec![code.parse::<ListingCode>().expect("code")], None).expect("listing");
    s.apply("bl.localhost", Change::AddListing { prefix: prefix.parse().expect("prefix"), listing, expires_at: None })
        .expect("add");
}

fn transferring(data: &std::path::Path) -> dnsbl::config::Config {
    let mut config = test_config(data);
    config.zones[0].allow_transfer = vec!["127.0.0.1/32".parse().expect("prefix")];
    config
}

#[test]
fn an_ixfr_sends_the_current_soa_the_steps_since_or_the_whole_zone() {
    let (_dir, data) = temp_data();
    let s = TestServer::start(transferring(&data));
    add(&s, "45.67.0.0/16", "127.0.0.3");
    for i in 0..30 {
        add(&s, &format!("203.0.{i}.7"), "127.0.0.2");
    }
    let (whole, closed) = transfer(s.addr, &question("bl.localhost", RecordType::AXFR, None));
    assert!(!closed);
    let axfr = records(&whole);
    let types: Vec<RecordType> = axfr.iter().take(2).map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::SOA, RecordType::NS], "AXFR: SOA, NS, …");
    let first = serial_of(axfr.first().copied()).expect("SOA");
    assert!(axfr.iter().any(|r| r.name.to_ascii() == "*.67.45.bl.localhost."), "the /16 as a wildcard");
    // Current: the SOA alone.
    let (current, _) = transfer(s.addr, &ixfr(first));
    assert_eq!(records(&current).len(), 1);
    assert_eq!(serial_of(records(&current).first().copied()), Some(first));
    // Two changes later: the steps from the secondary's serial.
    add(&s, "45.67.8.9", "127.0.0.2");
    add(&s, "198.51.100.0/24", "127.0.0.2");
    let now = soa_serial(s.addr, "bl.localhost");
    let (steps, closed) = transfer(s.addr, &ixfr(first));
    assert!(!closed);
    let rrs = records(&steps);
    let soas: Vec<u32> = rrs.iter().filter_map(|r| serial_of(Some(r))).collect();
    assert_eq!(soas.first(), Some(&now), "newest SOA first");
    assert_eq!(soas.get(1), Some(&first), "then the secondary's");
    assert_eq!(soas.last(), Some(&now), "and the newest last");
    assert_eq!(soas.len(), 4, "one step: both serials' changes together ({soas:?})");
    let names: Vec<String> = rrs.iter().map(|r| r.name.to_ascii()).collect();
    assert!(names.contains(&"9.8.67.45.bl.localhost.".to_string()), "{names:?}");
    assert!(names.contains(&"*.100.51.198.bl.localhost.".to_string()), "{names:?}");
    assert!(rrs.len() < axfr.len(), "less than the zone: {} of {}", rrs.len(), axfr.len());
    // A serial the history never had: the whole zone, as AXFR.
    let (again, _) = transfer(s.addr, &ixfr(first.wrapping_sub(7)));
    let again = records(&again);
    assert_eq!(again.get(1).map(|r| r.record_type()), Some(RecordType::NS), "whole zone");
    // A newer serial than ours (the secondary is ahead): the SOA alone.
    let (ahead, _) = transfer(s.addr, &ixfr(now.wrapping_add(5)));
    assert_eq!(records(&ahead).len(), 1);
    // No SOA in the authority section: FORMERR.
    let (bad, _) = transfer(s.addr, &question("bl.localhost", RecordType::IXFR, None));
    assert_eq!(bad[0].metadata.response_code, ResponseCode::FormErr);
    // Over UDP: REFUSED, as any transfer.
    assert_eq!(udp(s.addr, &ixfr(first)).metadata.response_code, ResponseCode::Refused);
}

#[test]
fn a_zone_larger_than_transfer_max_names_is_cut_short_and_the_connection_closed() {
    let (_dir, data) = temp_data();
    let mut config = transferring(&data);
    config.zones[0].transfer_max_names = 3;
    let s = TestServer::start(config);
    for i in 0..10 {
        add(&s, &format!("45.67.{i}.9"), "127.0.0.2");
    }
    let (messages, closed) = transfer(s.addr, &question("bl.localhost", RecordType::AXFR, None));
    assert!(closed, "the connection closes so the secondary discards what it got");
    let soas = records(&messages).iter().filter(|r| r.record_type() == RecordType::SOA).count();
    assert!(soas <= 1, "no closing SOA");
}

#[test]
fn notify_names_the_zone_and_its_serial_and_is_sent_again_until_answered() {
    let (_dir, data) = temp_data();
    let secondary = UdpSocket::bind("127.0.0.1:0").expect("bind");
    secondary.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut config = transferring(&data);
    config.zones[0].notify = vec![secondary.local_addr().expect("addr")];
    let s = TestServer::start(config);
    let mut buf = [0u8; 1500];
    // At start the secondaries hear of the zone's serial.
    let (n, from) = secondary.recv_from(&mut buf).expect("a NOTIFY at start");
    let notify = Message::from_vec(&buf[..n]).expect("decodes");
    assert_eq!(notify.metadata.op_code, OpCode::Notify);
    assert_eq!(notify.metadata.message_type, MessageType::Query);
    assert!(notify.metadata.authoritative);
    assert_eq!(notify.queries[0].name().to_ascii(), "bl.localhost.");
    assert_eq!(notify.queries[0].query_type(), RecordType::SOA);
    assert_eq!(serial_of(notify.answers.first()), Some(soa_serial(s.addr, "bl.localhost")));
    // Unanswered, it comes again (same id) after the first retry interval.
    let started = Instant::now();
    let (n, _) = secondary.recv_from(&mut buf).expect("the NOTIFY again");
    let again = Message::from_vec(&buf[..n]).expect("decodes");
    assert_eq!(again.metadata.id, notify.metadata.id);
    assert!(started.elapsed() >= Duration::from_millis(1500), "not before the retry interval");
    let mut answer = Message::new(again.metadata.id, MessageType::Response, OpCode::Notify);
    answer.metadata.authoritative = true;
    answer.queries = again.queries.clone();
    secondary.send_to(&answer.to_vec().expect("encode"), from).expect("answer");
    // A change: one NOTIFY with the new serial (and no more of the old one).
    add(&s, "45.67.8.9", "127.0.0.2");
    let serial = soa_serial(s.addr, "bl.localhost");
    loop {
        let (n, _) = secondary.recv_from(&mut buf).expect("a NOTIFY after the change");
        let m = Message::from_vec(&buf[..n]).expect("decodes");
        if serial_of(m.answers.first()) == Some(serial) {
            break;
        }
        assert_eq!(m.metadata.id, notify.metadata.id, "only the unanswered old one may come before it");
    }
    let (base, token) = s.api(&data);
    let (_, stats) = Api { base, token }.call("GET", "/v1/stats", None, None);
    assert_eq!(stats["transfers"]["notify_answered"], 1, "{stats}");
    assert_eq!(stats["transfers"]["notify_sent"], 2, "{stats}");
}

/// The TSIG key of the tests: its name and base64 secret as dig and NSD take them.
pub const KEY_NAME: &str = "xfr.bl.localhost";
pub const KEY_SECRET: &str = "c2VjcmV0LXRzaWcta2V5LWZvci10cmFuc2ZlcnMtMzI=";

pub fn tsig_key(secret: &str) -> dnsbl::tsig::Key {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(secret).expect("base64");
    dnsbl::tsig::Key::new(dnsbl::name::DomainName::parse(KEY_NAME).expect("name"), bytes)
}

#[test]
fn with_a_transfer_key_only_signed_requests_get_the_zone_and_every_message_is_signed() {
    let (_dir, data) = temp_data();
    let mut config = transferring(&data);
    config.zones[0].transfer_key = Some(tsig_key(KEY_SECRET));
    let s = TestServer::start(config);
    for i in 0..400 {
        add(&s, &format!("45.{}.{}.9", 100 + i / 200, i % 200), "127.0.0.2");
    }
    // Unsigned: REFUSED.
    let refused = tcp(s.addr, &question("bl.localhost", RecordType::AXFR, None));
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    // dig signs the request and checks the TSIG of every message it gets.
    let dig = |secret: &str| {
        let out = std::process::Command::new("dig")
            .args(["+tcp", "+tries=1", "+time=5", "-p", &s.addr.port().to_string(), "@127.0.0.1"])
            .args(["-y", &format!("hmac-sha256:{KEY_NAME}:{secret}"), "bl.localhost", "AXFR"])
            .output()
            .expect("dig (installed by make deps)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = dig(KEY_SECRET);
    let soas = text.lines().filter(|l| l.contains("\tSOA\t")).count();
    assert_eq!(soas, 2, "the whole zone:\n{text}");
    assert!(!text.contains("failed") && !text.contains("tsig"), "every message verified:\n{text}");
    let messages = text.lines().find(|l| l.contains("XFR size")).unwrap_or_default().to_string();
    assert!(!messages.contains("messages 1,"), "more than one message was signed: {messages}");
    let wrong = dig("d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0=");
    assert!(wrong.contains("NOTAUTH") || wrong.contains("failed"), "a wrong key gets nothing:\n{wrong}");
    assert!(!wrong.lines().any(|l| l.contains("\tA\t")), "{wrong}");

    // The refusals say why in a TSIG record (RFC 8945 §5.2): BADSIG for another secret, BADTIME
    // (signed, our time in its other data) for a clock an hour off.
    use hickory_proto::rr::rdata::tsig::TsigError;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    for (secret, at, error) in [
        ("d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0=", now, TsigError::BadSig),
        (KEY_SECRET, now - 3600, TsigError::BadTime),
    ] {
        let mut request = question("bl.localhost", RecordType::AXFR, None).to_vec().expect("encode");
        dnsbl::tsig::sign(&mut request, &tsig_key(secret), None, at, false);
        let reply = tcp_raw(s.addr, &request, Duration::from_secs(5)).expect("a reply");
        let reply = Message::from_vec(&reply).expect("decodes");
        assert_eq!(reply.metadata.response_code, ResponseCode::NotAuth, "{error:?}");
        // (hickory reads a TSIG that ends a response into the additional section.)
        let errors: Vec<_> = reply
            .additionals
            .iter()
            .filter_map(|r| match &r.data {
                RData::TSIG(t) => Some(t.error),
                _ => None,
            })
            .collect();
        assert_eq!(errors, [Some(error)], "the refusal's TSIG ({error:?}): {:?}", reply.additionals);
        assert!(reply.answers.is_empty());
    }
}
