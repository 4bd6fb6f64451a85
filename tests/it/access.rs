//! Keyed and registered-resolver access on the running server: a zone with `require-key`
//! answers `<ip>.<key>.<zone>` only for an enabled key, `registered-resolvers-only` answers only
//! registered source prefixes, both live through the API, audited and counted.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use serde_json::json;

use crate::harness::*;

/// Asks `name`/`rtype` over UDP from the loopback address `source`.
fn ask_from(source: &str, addr: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let socket = UdpSocket::bind(format!("{source}:0")).expect("bind the source");
    socket.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    let q = question(name, rtype, None);
    socket.send_to(&q.to_vec().expect("encode"), addr).expect("send");
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("a reply");
    Message::from_vec(&buf[..n]).expect("decodes")
}

fn rcode(m: &Message) -> ResponseCode {
    m.metadata.response_code
}

#[test]
fn a_keyed_zone_answers_only_names_that_carry_an_enabled_key() {
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    config.zones[0].require_key = true;
    let s = TestServer::start(config.clone());
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let (status, made) =
        api.call("POST", "/v1/access/keys", None, Some(json!({"name": "isp-a", "note": "contract 7"})));
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().expect("key").to_string();
    assert_eq!(key.len(), 26);
    let (status, _) = api.call(
        "POST",
        "/v1/zones/bl.localhost/listings",
        None,
        Some(json!({"prefix": "198.51.100.7", "codes": ["3"]})),
    );
    assert_eq!(status, 201);

    let keyed = |ip: &str| format!("{ip}.{key}.bl.localhost");
    assert_eq!(a_records(&ask(s.addr, &keyed("2.0.0.127"), RecordType::A)), ["127.0.0.2"]);
    assert_eq!(a_records(&ask(s.addr, &keyed("7.100.51.198"), RecordType::A)), ["127.0.0.3"]);
    assert_eq!(txt_records(&ask(s.addr, &keyed("7.100.51.198"), RecordType::TXT)).len(), 1);
    let shouted = format!("2.0.0.127.{}.bl.localhost", key.to_uppercase());
    assert_eq!(a_records(&ask(s.addr, &shouted, RecordType::A)), ["127.0.0.2"], "keys match in any case (0x20)");
    assert_eq!(a_records(&tcp(s.addr, &question(&keyed("2.0.0.127"), RecordType::A, None))), ["127.0.0.2"]);
    assert_eq!(rcode(&ask(s.addr, &keyed("1.0.0.127"), RecordType::A)), ResponseCode::NXDomain);
    assert_eq!(rcode(&ask(s.addr, &keyed("2.0.0.127"), RecordType::AAAA)), ResponseCode::NoError, "full path");
    let at_key = ask(s.addr, &format!("{key}.bl.localhost"), RecordType::A);
    assert_eq!((rcode(&at_key), at_key.answers.len()), (ResponseCode::NoError, 0), "the key's own name: NODATA");
    // Without a key, or with one the server does not have: REFUSED. The apex and the name
    // servers stay public (resolvers need them).
    assert_eq!(rcode(&ask(s.addr, "2.0.0.127.bl.localhost", RecordType::A)), ResponseCode::Refused);
    assert_eq!(
        rcode(&ask(s.addr, "2.0.0.127.abcdefghijklmnopqrstuvwxyz.bl.localhost", RecordType::A)),
        ResponseCode::Refused
    );
    assert!(soa_serial(s.addr, "bl.localhost") > 0);
    assert_eq!(rcode(&ask(s.addr, "ns1.bl.localhost", RecordType::A)), ResponseCode::NoError);

    // Disabled: REFUSED and counted as refused; enabled again: answered.
    let (status, view) = api.call("POST", "/v1/access/keys/isp-a/disable", None, None);
    assert_eq!((status, &view["enabled"]), (200, &json!(false)));
    assert_eq!(rcode(&ask(s.addr, &keyed("2.0.0.127"), RecordType::A)), ResponseCode::Refused);
    api.call("POST", "/v1/access/keys/isp-a/enable", None, None);
    assert_eq!(a_records(&ask(s.addr, &keyed("2.0.0.127"), RecordType::A)), ["127.0.0.2"]);
    let (_, keys) = api.call("GET", "/v1/access/keys", None, None);
    assert_eq!(keys[0]["name"], "isp-a");
    assert_eq!(keys[0]["queries"], 9, "{keys}");
    assert_eq!(keys[0]["refused"], 1, "{keys}");

    // A second key with a given value; the same value twice, or a digits-only one, is refused.
    let (status, _) =
        api.call("POST", "/v1/access/keys", None, Some(json!({"name": "isp-b", "key": "CustomerKey12345"})));
    assert_eq!(status, 201);
    assert_eq!(a_records(&ask(s.addr, "2.0.0.127.customerkey12345.bl.localhost", RecordType::A)), ["127.0.0.2"]);
    let (status, body) =
        api.call("POST", "/v1/access/keys", None, Some(json!({"name": "isp-c", "key": "customerkey12345"})));
    assert_eq!(status, 409, "{body}");
    let (status, body) =
        api.call("POST", "/v1/access/keys", None, Some(json!({"name": "isp-c", "key": "1234567890123456"})));
    assert_eq!(status, 400, "{body}");
    let (status, _) = api.call("POST", "/v1/access/keys", None, Some(json!({"name": "isp-a"})));
    assert_eq!(status, 409, "the name is taken");

    // Keys are stored: a restart serves them (counters start again).
    s.stop();
    let s = TestServer::start(config);
    assert_eq!(a_records(&ask(s.addr, &keyed("2.0.0.127"), RecordType::A)), ["127.0.0.2"]);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let (status, _) = api.call("DELETE", "/v1/access/keys/isp-a", None, None);
    assert_eq!(status, 200);
    assert_eq!(rcode(&ask(s.addr, &keyed("2.0.0.127"), RecordType::A)), ResponseCode::Refused);
    let (_, history) = api.call("GET", "/v1/access/history", None, None);
    let actions: Vec<&str> = history.as_array().expect("list").iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(actions, ["add-key", "disable-key", "enable-key", "add-key", "remove-key"], "{history}");
    assert_eq!(history[0]["actor"], "operator");
}

#[test]
fn with_registered_resolvers_only_other_sources_are_refused_and_each_resolver_counted() {
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    config.server.registered_resolvers_only = true;
    let s = TestServer::start(config.clone());
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let name = "2.0.0.127.bl.localhost";
    assert_eq!(rcode(&ask_from("127.0.0.53", s.addr, name, RecordType::A)), ResponseCode::Refused, "none registered");
    let (status, body) =
        api.call("POST", "/v1/access/resolvers", None, Some(json!({"prefix": "127.0.0.53/32", "name": "ISP A"})));
    assert_eq!(status, 201, "{body}");
    assert_eq!(a_records(&ask_from("127.0.0.53", s.addr, name, RecordType::A)), ["127.0.0.2"]);
    assert_eq!(rcode(&ask_from("127.0.0.54", s.addr, name, RecordType::A)), ResponseCode::Refused);
    assert_eq!(rcode(&tcp(s.addr, &question(name, RecordType::A, None))), ResponseCode::Refused, "TCP from 127.0.0.1");
    let (status, _) =
        api.call("POST", "/v1/access/resolvers", None, Some(json!({"prefix": "127.0.0.53", "name": "x"})));
    assert_eq!(status, 409, "registered already");
    let (status, _) =
        api.call("POST", "/v1/access/resolvers", None, Some(json!({"prefix": "127.0.0.1/33", "name": "x"})));
    assert_eq!(status, 400);
    let (_, list) = api.call("GET", "/v1/access/resolvers", None, None);
    assert_eq!(list["registered_resolvers_only"], true);
    assert_eq!(list["resolvers"][0]["queries"], 1, "{list}");

    // A reload turns the restriction off: everyone is answered, resolvers still counted.
    let mut open = config.clone();
    open.server.registered_resolvers_only = false;
    s.reload(open).expect("reload");
    assert_eq!(a_records(&ask_from("127.0.0.54", s.addr, name, RecordType::A)), ["127.0.0.2"]);
    assert_eq!(a_records(&ask_from("127.0.0.53", s.addr, name, RecordType::A)), ["127.0.0.2"]);
    let (_, list) = api.call("GET", "/v1/access/resolvers", None, None);
    assert_eq!(
        (list["registered_resolvers_only"].clone(), list["resolvers"][0]["queries"].clone()),
        (json!(false), json!(2))
    );
    s.reload(config).expect("reload");
    let (status, _) = api.call("DELETE", "/v1/access/resolvers?prefix=127.0.0.53/32", None, None);
    assert_eq!(status, 200);
    assert_eq!(rcode(&ask_from("127.0.0.53", s.addr, name, RecordType::A)), ResponseCode::Refused);
    let (_, history) = api.call("GET", "/v1/access/history", None, None);
    assert_eq!(history[1]["action"], "remove-resolver");
    assert_eq!((history[1]["subject"].clone(), history[1]["detail"].clone()), (json!("127.0.0.53/32"), json!("ISP A")));
}
