//! The operator API and the CLI commands that use it, against the real server.

use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use serde_json::{json, Value};

use crate::harness::*;

const ZONE: &str = "bl.localhost";

fn serial(s: &TestServer) -> u32 {
    soa_serial(s.addr, ZONE)
}

#[test]
fn wrong_or_missing_token_is_401_and_changes_nothing() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let before = serial(&s);
    let body = json!({ "prefix": "192.0.2.0/24", "codes": ["127.0.0.3"] });
    for bad in ["", "not-the-token", &api.token[..10]] {
        let (status, answer) = api.call("POST", "/v1/zones/bl.localhost/listings", Some(bad), Some(body.clone()));
        assert_eq!(status, 401, "token {bad:?}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains("token")), "{answer}");
    }
    assert_eq!(api.call("GET", "/v1/lookup/192.0.2.1", Some("nope"), None).0, 401);
    assert_eq!(serial(&s), before);
    assert!(codes(&s, "1.2.0.192").is_empty());
}

#[test]
fn writes_are_visible_in_dns_when_the_request_returns() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let (status, answer) = api.call(
        "POST",
        "/v1/zones/bl.localhost/listings",
        None,
        Some(json!({ "prefix": "203.0.113.0/24", "codes": ["3"], "reason": "marketing from $", "expires": "30d" })),
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["serial"].as_u64(), Some(u64::from(serial(&s))));
    assert_eq!(codes(&s, "9.113.0.203"), ["127.0.0.3"]);
    let (status, _) = api.call(
        "POST",
        "/v1/zones/bl.localhost/exclusions",
        None,
        Some(json!({ "prefix": "203.0.113.77", "reason": "own MTA" })),
    );
    assert_eq!(status, 201);
    assert!(codes(&s, "77.113.0.203").is_empty());

    let (status, lookup) = api.call("GET", "/v1/lookup/203.0.113.77", None, None);
    assert_eq!(status, 200);
    let z = &lookup["zones"][0];
    assert_eq!(z["listed"], json!(false));
    assert_eq!(z["decided_by"]["kind"], json!("exclusion"));
    assert_eq!(z["decided_by"]["prefix"], json!("203.0.113.77/32"));
    assert_eq!(z["also_covering"][0]["prefix"], json!("203.0.113.0/24"));
    assert!(z["also_covering"][0]["expires_at"].as_u64().is_some());
    let (_, lookup) = api.call("GET", "/v1/lookup/203.0.113.9", None, None);
    assert_eq!(lookup["zones"][0]["txt"], json!("marketing from 203.0.113.9"));
    let (_, lookup) = api.call("GET", "/v1/lookup/127.0.0.2", None, None);
    assert_eq!(lookup["zones"][0]["decided_by"]["kind"], json!("built-in RFC 5782 test point"));

    let (status, _) = api.call("DELETE", "/v1/zones/bl.localhost/exclusions?prefix=203.0.113.77", None, None);
    assert_eq!(status, 200);
    assert_eq!(codes(&s, "77.113.0.203"), ["127.0.0.3"]);
    let (status, _) = api.call("DELETE", "/v1/zones/bl.localhost/listings?prefix=203.0.113.0/24", None, None);
    assert_eq!(status, 200);
    assert!(codes(&s, "9.113.0.203").is_empty());
}

#[test]
fn bad_requests_get_4xx_with_a_reason_and_change_nothing() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let before = serial(&s);
    let post = |path: &str, body: Value| api.call("POST", path, None, Some(body));
    let cases: Vec<(u16, &str, (u16, Value))> = vec![
        (
            400,
            "host bits",
            post("/v1/zones/bl.localhost/listings", json!({ "prefix": "203.0.113.9/24", "codes": ["3"] })),
        ),
        (400, "not an IP", post("/v1/zones/bl.localhost/listings", json!({ "prefix": "nonsense", "codes": ["3"] }))),
        (
            400,
            "reserved",
            post("/v1/zones/bl.localhost/listings", json!({ "prefix": "192.0.2.1", "codes": ["127.0.0.1"] })),
        ),
        (
            400,
            "outside 127.0.0.0/8",
            post("/v1/zones/bl.localhost/listings", json!({ "prefix": "192.0.2.1", "codes": ["10.0.0.3"] })),
        ),
        (
            400,
            "255",
            post(
                "/v1/zones/bl.localhost/listings",
                json!({ "prefix": "192.0.2.1", "codes": ["3"], "reason": "x".repeat(300) }),
            ),
        ),
        (
            400,
            "not in the future",
            post(
                "/v1/zones/bl.localhost/listings",
                json!({ "prefix": "192.0.2.1", "codes": ["3"], "expires": "2001-01-01T00:00:00Z" }),
            ),
        ),
        (
            400,
            "unknown field",
            post("/v1/zones/bl.localhost/listings", json!({ "prefix": "192.0.2.1", "codes": ["3"], "colour": "red" })),
        ),
        (
            400,
            "at least one return code",
            post("/v1/zones/bl.localhost/listings", json!({ "prefix": "192.0.2.1", "codes": [] })),
        ),
        (403, "test point", post("/v1/zones/bl.localhost/exclusions", json!({ "prefix": "127.0.0.2" }))),
        (
            404,
            "not served",
            post("/v1/zones/bl.example.org/listings", json!({ "prefix": "192.0.2.1", "codes": ["3"] })),
        ),
        (404, "no such entry", api.call("DELETE", "/v1/zones/bl.localhost/listings?prefix=192.0.2.1", None, None)),
        (400, "not an IP address", api.call("GET", "/v1/lookup/999.1.1.1", None, None)),
    ];
    for (want, why, (status, answer)) in cases {
        assert_eq!(status, want, "{why}: {answer}");
        let msg = answer["error"].as_str().unwrap_or_default();
        assert!(msg.contains(why), "{why}: {answer}");
    }
    assert_eq!(serial(&s), before, "nothing was written");
    assert_eq!(codes(&s, "2.0.0.127"), ["127.0.0.2"]);
}

fn dnsbl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dnsbl")).args(args).output().expect("run dnsbl")
}

#[test]
fn cli_commands_drive_the_api() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, _) = s.api(&data);
    let data_arg = data.to_str().expect("path");
    let common = ["--server", base.as_str(), "--data-dir", data_arg];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&common);
        dnsbl(&all)
    };
    let out = run(&["listing", "add", "198.51.100.0/24", "--code", "3", "--reason", "campaigns from $"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("listed 198.51.100.0/24 in bl.localhost"));
    assert_eq!(codes(&s, "7.100.51.198"), ["127.0.0.3"], "visible when the command returns");
    assert!(run(&["exclusion", "add", "198.51.100.25", "--reason", "own MTA"]).status.success());
    assert!(codes(&s, "25.100.51.198").is_empty());
    let out = run(&["lookup", "198.51.100.25"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bl.localhost: not listed") && text.contains("decided by exclusion 198.51.100.25/32"),
        "{text}"
    );
    let out = run(&["lookup", "198.51.100.7"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(campaigns from 198.51.100.7)"), "the stored reason is expanded: {text}");
    let out = run(&["lookup", "198.51.100.7", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["zones"][0]["codes"], json!(["127.0.0.3"]));
    assert!(run(&["listing", "remove", "198.51.100.0/24"]).status.success());
    assert!(codes(&s, "7.100.51.198").is_empty());

    let out = run(&["listing", "remove", "198.51.100.0/24"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such entry"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["listing", "add", "10.0.0.1/8"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("host bits"));
}

#[test]
fn cli_says_what_to_do_when_the_server_is_unreachable_or_refuses() {
    let (dir, data) = temp_data();
    std::fs::create_dir_all(&data).expect("dir");
    std::fs::write(data.join("operator.token"), "x\n").expect("token");
    // A port that nothing listens on: bind, note, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let server = format!("http://127.0.0.1:{port}");
    let out = dnsbl(&["listing", "add", "192.0.2.1", "--server", &server, "--data-dir", data.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the server") && err.contains("is `dnsbl serve` running?"), "{err}");

    let s = TestServer::in_dir(&data);
    let (base, _) = s.api(&data);
    let wrong = dir.path().join("wrong.token");
    std::fs::write(&wrong, "0000").expect("write");
    let out = dnsbl(&["lookup", "192.0.2.1", "--server", &base, "--token-file", wrong.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused the token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn history_shows_every_change_oldest_first_and_survives_removal_and_restart() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let listings = "/v1/zones/bl.localhost/listings";
    let exclusions = "/v1/zones/bl.localhost/exclusions";
    assert_eq!(
        api.call(
            "POST",
            listings,
            None,
            Some(json!({ "prefix": "203.0.113.0/24", "codes": ["3"], "reason": "campaigns" }))
        )
        .0,
        201
    );
    assert_eq!(
        api.call("POST", exclusions, None, Some(json!({ "prefix": "203.0.113.77", "reason": "own MTA" }))).0,
        201
    );
    assert_eq!(api.call("DELETE", &format!("{exclusions}?prefix=203.0.113.77"), None, None).0, 200);
    assert_eq!(api.call("DELETE", &format!("{listings}?prefix=203.0.113.0/24"), None, None).0, 200);
    assert_eq!(
        api.call("POST", listings, None, Some(json!({ "prefix": "203.0.113.77", "codes": ["4"], "expires": "1s" }))).0,
        201
    );
    assert_eq!(api.call("POST", listings, None, Some(json!({ "prefix": "198.51.100.1", "codes": ["3"] }))).0, 201);
    eventually(Duration::from_secs(10), "did not expire", || {
        let now = codes(&s, "77.113.0.203");
        holds(now.is_empty(), || format!("still {now:?}"))
    });
    let actions = |h: &Value| -> Vec<(String, String, String)> {
        h.as_array()
            .expect("array")
            .iter()
            .map(|r| {
                (
                    r["action"].as_str().unwrap_or("").into(),
                    r["prefix"].as_str().unwrap_or("").into(),
                    r["actor"].as_str().unwrap_or("").into(),
                )
            })
            .collect()
    };
    let (status, h) = api.call("GET", "/v1/history?prefix=203.0.113.77", None, None);
    assert_eq!(status, 200);
    let op = |a: &str, p: &str| (a.to_string(), p.to_string(), "operator".to_string());
    assert_eq!(
        actions(&h),
        vec![
            op("add-listing", "203.0.113.0/24"),
            op("add-exclusion", "203.0.113.77/32"),
            op("remove-exclusion", "203.0.113.77/32"),
            op("remove-listing", "203.0.113.0/24"),
            op("add-listing", "203.0.113.77/32"),
            ("expired".to_string(), "203.0.113.77/32".to_string(), "expiry".to_string()),
        ]
    );
    assert_eq!(h[0]["reason"], json!("campaigns"));
    assert_eq!(h[0]["source"], json!("api"));
    // A CIDR shows what happened inside it too; an unrelated address shows nothing.
    let (_, h24) = api.call("GET", "/v1/history?prefix=203.0.113.0/24", None, None);
    assert_eq!(actions(&h24).len(), 6);
    let (_, other) = api.call("GET", "/v1/history?prefix=203.0.113.5", None, None);
    assert_eq!(actions(&other).len(), 2, "only the /24's add and remove cover .5");
    let (_, none) = api.call("GET", "/v1/history?prefix=192.0.2.1", None, None);
    assert!(actions(&none).is_empty());

    s.stop();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base: base.clone(), token };
    let (_, again) = api.call("GET", "/v1/history?prefix=203.0.113.77", None, None);
    assert_eq!(actions(&again).len(), 6, "the audit trail is durable");
    let out = dnsbl(&["history", "203.0.113.77", "--server", &base, "--data-dir", data.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("add-exclusion 203.0.113.77/32 by operator via api (own MTA)"), "{text}");
    assert_eq!(text.lines().count(), 6, "{text}");
}

/// A raw HTTP GET from a chosen loopback source address; returns the status line.
fn get_from(source: &str, api: &str, path: &str, token: &str) -> String {
    use std::io::{Read, Write};
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let from: std::net::SocketAddr = format!("{source}:0").parse().expect("addr");
    sock.bind(&from.into()).expect("bind source");
    let to: std::net::SocketAddr = api.trim_start_matches("http://").parse().expect("api addr");
    sock.connect(&to.into()).expect("connect");
    let mut stream: std::net::TcpStream = sock.into();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: dnsbl\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    reply.lines().next().unwrap_or_default().to_string()
}

#[test]
fn failed_authentications_are_rate_limited_per_source_address() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    for i in 0..dnsbl::api::limiter::MAX_FAILURES {
        assert!(get_from("127.0.0.1", &base, "/v1/zones", "guess").contains("401"), "attempt {i}");
    }
    assert!(get_from("127.0.0.1", &base, "/v1/zones", "guess").contains("429"));
    assert!(get_from("127.0.0.1", &base, "/v1/zones", &token).contains("429"), "even the right token waits");
    assert!(get_from("127.0.0.2", &base, "/v1/zones", &token).contains("200"), "other sources are not affected");
}

/// Sends each packet from one socket (so one worker takes them in order) and returns the last
/// one's reply.
fn udp_in_order(addr: std::net::SocketAddr, packets: &[Vec<u8>]) -> Vec<u8> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_read_timeout(Some(std::time::Duration::from_secs(2))).expect("timeout");
    for p in packets {
        socket.send_to(p, addr).expect("send");
    }
    let mut buf = [0u8; 4096];
    let (n, _) = socket.recv_from(&mut buf).expect("the last packet is answered");
    buf[..n].to_vec()
}

#[test]
fn stats_count_queries_by_transport_and_response_code() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let (status, before) = api.call("GET", "/v1/stats", None, None);
    assert_eq!(status, 200, "{before}");
    assert_eq!(api.call("GET", "/v1/stats", Some(""), None).0, 401);

    let q = |name: &str, t: RecordType| question(name, t, None).to_vec().expect("encode");
    let mut response = q("2.0.0.127.bl.localhost", RecordType::A);
    response[2] |= 0x80; // QR=1: dropped without a reply
    let formerr = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'b', b'l']; // question cut short
                                                                                 // Each is answered in turn (a reply proves the worker counted everything before it).
    udp_in_order(s.addr, &[response, vec![1, 2, 3], q("2.0.0.127.bl.localhost", RecordType::A)]);
    for packet in [
        q("1.0.0.127.bl.localhost", RecordType::A),
        q("example.org", RecordType::A),
        formerr,
        q("bl.localhost", RecordType::SOA),
    ] {
        udp_in_order(s.addr, &[packet]);
    }
    let m = tcp(s.addr, &question("9.0.0.127.bl.localhost", RecordType::TXT, None));
    assert_eq!(m.metadata.response_code, hickory_proto::op::ResponseCode::NXDomain);

    let (_, after) = api.call("GET", "/v1/stats", None, None);
    let delta = |path: &[&str]| {
        let get = |v: &Value| path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0);
        get(&after) - get(&before)
    };
    assert_eq!(delta(&["udp", "queries"]), 7, "{after}");
    assert_eq!(delta(&["udp", "dropped"]), 2, "{after}");
    assert_eq!(delta(&["udp", "responses", "NOERROR"]), 2, "{after}");
    assert_eq!(delta(&["udp", "responses", "NXDOMAIN"]), 1, "{after}");
    assert_eq!(delta(&["udp", "responses", "REFUSED"]), 1, "{after}");
    assert_eq!(delta(&["udp", "responses", "FORMERR"]), 1, "{after}");
    assert_eq!(delta(&["udp", "with_answers"]), 2, "{after}");
    assert_eq!(delta(&["udp", "full_path"]), 2, "FORMERR and the apex SOA: {after}");
    assert_eq!(delta(&["tcp", "queries"]), 1, "{after}");
    assert_eq!(delta(&["tcp", "responses", "NXDOMAIN"]), 1, "{after}");
    assert_eq!(after["zones"][0]["zone"], "bl.localhost");

    let metrics = ureq::get(&format!("{}/metrics", api.base))
        .set("Authorization", &format!("Bearer {}", api.token))
        .call()
        .expect("metrics");
    assert!(metrics.content_type().starts_with("text/plain"));
    let text = metrics.into_string().expect("body");
    for line in ["# TYPE dnsbl_queries_total counter", "dnsbl_responses_total{transport=\"udp\",rcode=\"REFUSED\"} "] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    let udp_queries = after["udp"]["queries"].as_u64().unwrap_or(0);
    assert!(
        text.lines().any(|l| l.starts_with("dnsbl_queries_total{transport=\"udp\"} ")
            && l.split(' ').nth(1).and_then(|v| v.parse::<u64>().ok()) >= Some(udp_queries)),
        "{text}"
    );
    assert!(text.contains("dnsbl_zone_serial{zone=\"bl.localhost\"} "), "{text}");

    let out = dnsbl(&["stats", "--server", &api.base, "--data-dir", data.to_str().expect("path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("udp: ") && text.contains("zone bl.localhost: serial"), "{text}");
}

#[test]
fn a_full_disk_refuses_changes_clearly_and_dns_keeps_answering() {
    let (dir, data) = temp_data();
    seed(&data, ZONE, &[("192.0.2.0/24", Seed::Listed(&["127.0.0.3"], None))]);
    let mut config = test_config(&data);
    // No disk has this much free: every write is refused as it would be on a full disk.
    config.server.min_free_disk = u64::MAX;
    let s = TestServer::start(config);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let before = serial(&s);
    assert_eq!(codes(&s, "1.2.0.192"), ["127.0.0.3"]);

    let body = json!({ "prefix": "198.51.100.0/24", "codes": ["3"] });
    let (status, answer) = api.call("POST", "/v1/zones/bl.localhost/listings", None, Some(body));
    assert_eq!(status, 507, "{answer}");
    let error = answer["error"].as_str().unwrap_or("");
    assert!(error.contains("bytes are free") && error.contains("nothing was written"), "{error}");
    let (status, _) = api.call("DELETE", "/v1/zones/bl.localhost/listings?prefix=192.0.2.0/24", None, None);
    assert_eq!(status, 507);
    let body = json!({ "id": "acme", "legal_name": "Acme", "registration_number": "1", "contact": "a@acme.example",
                       "networks": ["100.128.0.0/24"] });
    assert_eq!(api.call("POST", "/v1/marketers", None, Some(body)).0, 507);

    // Nothing changed, and the server still answers.
    assert_eq!(serial(&s), before);
    assert_eq!(codes(&s, "1.2.0.192"), ["127.0.0.3"]);
    assert!(codes(&s, "1.100.51.198").is_empty());

    // The CLI says what happened, and so does a whole-list import through the server.
    let data_arg = data.to_str().expect("path");
    let out = dnsbl(&["listing", "add", "198.51.100.0/24", "--server", &api.base, "--data-dir", data_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("free some space"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.path().join("list.rbldnsd");
    std::fs::write(&file, "203.0.113.0/24\n").expect("write");
    let out = dnsbl(&["zone", "import", file.to_str().expect("path"), "--server", &api.base, "--data-dir", data_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("free some space"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(codes(&s, "1.113.0.203").is_empty());
    assert_eq!(serial(&s), before);
}

#[test]
fn a_backup_taken_while_serving_restores_the_list_registry_and_history() {
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    config.registry.policy.denied = vec!["10.0.0.0/8".parse().expect("prefix")];
    let s = TestServer::start(config);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let body = json!({ "prefix": "203.0.113.0/24", "codes": ["3"], "reason": "campaigns from $" });
    assert_eq!(api.call("POST", "/v1/zones/bl.localhost/listings", None, Some(body)).0, 201);
    let body = json!({ "id": "acme", "legal_name": "Acme Mailing Ltd", "registration_number": "GB-1",
                       "contact": "abuse@acme.example", "networks": ["203.0.113.0/25"] });
    let (status, answer) = api.call("POST", "/v1/marketers", None, Some(body));
    assert_eq!(status, 201, "{answer}");
    let marketer = answer["token"].as_str().expect("token").to_string();
    let (status, _) =
        api.call("POST", "/v1/registrations", Some(&marketer), Some(json!({ "prefixes": ["203.0.113.7"] })));
    assert_eq!(status, 201);

    let out = dnsbl(&["backup", "--server", &api.base, "--data-dir", data.to_str().expect("path"), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("json");
    let path = std::path::PathBuf::from(answer["path"].as_str().expect("path"));
    assert!(path.starts_with(data.join("backups")), "{answer}");
    assert_eq!(answer["zones"][0]["serial"].as_u64(), Some(u64::from(serial(&s))), "{answer}");
    let expected = [("7.113.0.203", vec!["127.0.0.2"]), ("8.113.0.203", vec![]), ("200.113.0.203", vec!["127.0.0.3"])];
    for (rev, want) in &expected {
        assert_eq!(codes(&s, rev), *want, "{rev} before");
    }
    // A change after the backup is not in it.
    let body = json!({ "prefix": "198.51.100.0/24", "codes": ["3"] });
    assert_eq!(api.call("POST", "/v1/zones/bl.localhost/listings", None, Some(body)).0, 201);
    s.stop();

    // Serve a copy of the backup: same answers, the marketer and the history are there.
    let (_dir2, restored) = temp_data();
    let status = Command::new("cp").arg("-a").arg(&path).arg(&restored).status().expect("cp");
    assert!(status.success());
    let mut config = test_config(&restored);
    config.registry.policy.denied = vec!["10.0.0.0/8".parse().expect("prefix")];
    let r = TestServer::start(config);
    for (rev, want) in &expected {
        assert_eq!(codes(&r, rev), *want, "{rev} restored");
    }
    assert!(codes(&r, "1.100.51.198").is_empty(), "the change after the backup is not in it");
    let (base, token) = r.api(&restored);
    let api = Api { base, token };
    let (status, account) = api.call("GET", "/v1/marketers/acme", None, None);
    assert_eq!(status, 200, "{account}");
    let (_, history) = api.call("GET", "/v1/history?prefix=203.0.113.7", None, None);
    assert!(history.as_array().is_some_and(|h| h.iter().any(|r| r["action"] == "register")), "{history}");
}

#[test]
fn an_upload_that_breaks_off_imports_nothing_and_frees_the_writer() {
    use std::io::Write;
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base: base.clone(), token: token.clone() };
    let before = serial(&s);
    // Promise 100 kB, send one line, hang up: the import sees the body end early.
    let addr = base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST /v1/zones/bl.localhost/import?name=cut.rbldnsd HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n192.0.2.0/24\n"
    );
    conn.write_all(head.as_bytes()).expect("send");
    drop(conn);
    // The next change waits for the writer, which the broken import must give back.
    let body = json!({ "prefix": "203.0.113.0/24", "codes": ["3"] });
    let (status, answer) = api.call("POST", "/v1/zones/bl.localhost/listings", None, Some(body));
    assert_eq!(status, 201, "{answer}");
    assert!(codes(&s, "1.2.0.192").is_empty(), "nothing of the broken upload is served");
    assert_eq!(codes(&s, "1.113.0.203"), ["127.0.0.3"]);
    assert!(serial(&s) > before);
    let (_, history) = api.call("GET", "/v1/history?prefix=192.0.2.1", None, None);
    assert!(!history.to_string().contains("cut.rbldnsd"), "no import in the audit trail: {history}");
}
