//! Marketer registration end to end: the operator registers marketers and their networks over the
//! API, marketers declare senders with their own tokens, and real DNS queries see every change as
//! soon as the request returns.

use std::path::Path;

use hickory_proto::rr::RecordType;
use serde_json::{json, Value};

use crate::harness::*;

const ZONE: &str = "bl.localhost";

/// The default configuration, with a registry policy that allows the documentation ranges the
/// scenarios use (the built-in default denies them).
fn registry_config(data: &Path) -> dnsbl::config::Config {
    let mut config = test_config(data);
    config.registry.policy.denied = ["10.0.0.0/8", "127.0.0.0/8", "192.168.0.0/16", "fc00::/7"]
        .iter()
        .map(|p| p.parse().expect("prefix"))
        .collect();
    config
}

/// The A codes for an IPv4 address.
fn codes(s: &TestServer, ip: &str) -> Vec<String> {
    let rev: Vec<&str> = ip.split('.').rev().collect();
    a_records(&ask(s.addr, &format!("{}.{ZONE}", rev.join(".")), RecordType::A))
}

fn txt(s: &TestServer, ip: &str) -> Vec<String> {
    let rev: Vec<&str> = ip.split('.').rev().collect();
    txt_records(&ask(s.addr, &format!("{}.{ZONE}", rev.join(".")), RecordType::TXT))
}

fn codes6(s: &TestServer, ip: &str) -> Vec<String> {
    a_records(&ask(s.addr, &v6_name(ip, ZONE), RecordType::A))
}

fn operator(s: &TestServer, data: &Path) -> Api {
    let (base, token) = s.api(data);
    Api { base, token }
}

/// Adds a marketer; returns its token.
fn add_marketer(api: &Api, id: &str, name: &str, networks: &[&str]) -> String {
    let body = json!({ "id": id, "legal_name": name, "registration_number": "GB-1234567",
                       "contact": format!("abuse@{id}.example"), "networks": networks });
    let (status, answer) = api.call("POST", "/v1/marketers", None, Some(body));
    assert_eq!(status, 201, "{answer}");
    let token = answer["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("dnsbl_mk_") && token.len() == 9 + 64, "{token}");
    token
}

fn register(api: &Api, token: &str, prefixes: &[&str]) -> (u16, Value) {
    api.call("POST", "/v1/registrations", Some(token), Some(json!({ "prefixes": prefixes })))
}

fn unregister(api: &Api, token: &str, prefixes: &[&str]) -> (u16, Value) {
    api.call("DELETE", "/v1/registrations", Some(token), Some(json!({ "prefixes": prefixes })))
}

fn lookup(api: &Api, ip: &str) -> Value {
    let (status, answer) = api.call("GET", &format!("/v1/lookup/{ip}"), None, None);
    assert_eq!(status, 200, "{answer}");
    answer["zones"][0].clone()
}

const NET_LISTING: (&str, Seed<'static>) = ("198.51.0.0/16", Seed::Listed(&["127.0.0.3"], None));

#[test]
fn declared_senders_are_listed_and_the_rest_of_the_network_is_not() {
    let (_dir, data) = temp_data();
    seed(&data, ZONE, &[NET_LISTING, ("2001:db8::/32", Seed::Listed(&["127.0.0.3"], None))]);
    let s = TestServer::start(registry_config(&data));
    let api = operator(&s, &data);
    assert_eq!(codes(&s, "198.51.100.8"), ["127.0.0.3"], "the operator's /16 listing before registration");

    let serial = soa_serial(s.addr, ZONE);
    let token = add_marketer(&api, "acme", "Acme Mailing Ltd", &["198.51.100.0/24", "2001:db8:ac3e::/48"]);
    assert!(soa_serial(s.addr, ZONE) > serial, "a new network changes the zone");
    assert!(codes(&s, "198.51.100.8").is_empty(), "the verified network is protected at once");

    let (status, answer) = register(&api, &token, &["198.51.100.7", "198.51.100.32/29", "2001:db8:ac3e::7"]);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["added"], json!(["198.51.100.7/32", "198.51.100.32/29", "2001:db8:ac3e::7/128"]));
    // Semantics 2 and 3.
    assert_eq!(codes(&s, "198.51.100.7"), ["127.0.0.2"]);
    let text = txt(&s, "198.51.100.7").join("");
    assert!(
        text.starts_with("Registered email-marketing sender: Acme Mailing Ltd (GB-1234567)")
            && text.ends_with("lookup?ip=198.51.100.7"),
        "{text}"
    );
    assert_eq!(codes(&s, "198.51.100.33"), ["127.0.0.2"]);
    assert!(codes(&s, "198.51.100.8").is_empty(), "undeclared neighbour: NXDOMAIN");
    assert_eq!(codes(&s, "198.51.101.8"), ["127.0.0.3"], "outside the network the /16 applies");
    assert_eq!(codes6(&s, "2001:db8:ac3e::7"), ["127.0.0.2"]);
    assert!(codes6(&s, "2001:db8:ac3e::8").is_empty());
    assert_eq!(codes6(&s, "2001:db8:ac3f::8"), ["127.0.0.3"]);

    // An operator listing more specific than the network wins; one at a declared prefix joins it.
    let body = json!({ "prefix": "198.51.100.9", "codes": ["3"], "reason": "undeclared marketing seen" });
    assert_eq!(api.call("POST", "/v1/zones/bl.localhost/listings", None, Some(body)).0, 201);
    assert_eq!(codes(&s, "198.51.100.9"), ["127.0.0.3"]);
    let body = json!({ "prefix": "198.51.100.7", "codes": ["3"] });
    assert_eq!(api.call("POST", "/v1/zones/bl.localhost/listings", None, Some(body)).0, 201);
    assert_eq!(codes(&s, "198.51.100.7"), ["127.0.0.2", "127.0.0.3"]);

    // Semantics 5: lookup explains.
    let why = lookup(&api, "198.51.100.8");
    assert_eq!(why["listed"], json!(false));
    let explanation = why["explanation"].as_str().unwrap_or("");
    assert!(
        explanation.contains(
            "inside Acme Mailing Ltd's registered network 198.51.100.0/24; declared senders are listed separately"
        ),
        "{why}"
    );
    let why = lookup(&api, "198.51.100.33");
    assert_eq!(why["decided_by"]["kind"], json!("declared sender"), "{why}");

    // Semantics 4: suspension lifts the protection and keeps declared senders listed.
    let (status, answer) =
        api.call("POST", "/v1/marketers/acme/suspend", None, Some(json!({ "reason": "complaints" })));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(codes(&s, "198.51.100.8"), ["127.0.0.3"]);
    assert_eq!(codes(&s, "198.51.100.33"), ["127.0.0.2"]);
    assert!(lookup(&api, "198.51.100.8")["explanation"].as_str().is_some_and(|e| e.contains("suspended")));
    let (status, answer) = unregister(&api, &token, &["198.51.100.32/29"]);
    assert_eq!(status, 403, "a suspended marketer cannot withdraw declarations: {answer}");
    assert_eq!(api.call("POST", "/v1/marketers/acme/resume", None, Some(json!({}))).0, 200);
    assert!(codes(&s, "198.51.100.8").is_empty());

    let (status, answer) = unregister(&api, &token, &["198.51.100.32/29"]);
    assert_eq!(status, 200, "{answer}");
    assert!(codes(&s, "198.51.100.33").is_empty());

    // Semantics 5: the audit trail.
    let (_, history) = api.call("GET", "/v1/history?prefix=198.51.100.33", None, None);
    let actions: Vec<&str> = history.as_array().into_iter().flatten().filter_map(|r| r["action"].as_str()).collect();
    for action in ["add-network", "register", "suspend", "resume", "unregister"] {
        assert!(actions.contains(&action), "{action} missing in {history}");
    }
    assert!(history.as_array().into_iter().flatten().any(|r| r["actor"] == json!("marketer acme")));

    // Everything survives a restart (the registry is in the store).
    s.stop();
    let s = TestServer::start(registry_config(&data));
    assert_eq!(codes(&s, "198.51.100.7"), ["127.0.0.2", "127.0.0.3"]);
    assert!(codes(&s, "198.51.100.8").is_empty());
    assert!(codes(&s, "198.51.100.33").is_empty());
    assert_eq!(codes(&s, "198.51.100.9"), ["127.0.0.3"]);
    assert_eq!(codes(&s, "198.51.101.8"), ["127.0.0.3"]);
    assert_eq!(codes6(&s, "2001:db8:ac3e::7"), ["127.0.0.2"]);
}

#[test]
fn refused_requests_change_nothing() {
    let (_dir, data) = temp_data();
    seed(&data, ZONE, &[NET_LISTING]);
    let mut config = registry_config(&data);
    config.registry.policy.max_ipv4_addresses = 16;
    let s = TestServer::start(config);
    let api = operator(&s, &data);
    let acme = add_marketer(&api, "acme", "Acme Mailing Ltd", &["198.51.100.0/24"]);
    let globex = add_marketer(&api, "globex", "Globex Corp", &["203.0.113.0/24"]);
    let serial = soa_serial(s.addr, ZONE);

    let cases: [(&[&str], u16, &str); 6] = [
        (&["203.0.113.5"], 403, "not inside a network verified for acme"),
        (&["198.51.100.7", "203.0.113.5"], 403, "not inside"),
        (&["10.1.2.3"], 403, "denied range"),
        (&["198.51.100.0/23"], 422, "shortest prefix"),
        (&["198.51.100.0/27"], 422, "limit is 16"),
        (&["198.51.100.1/24"], 400, "host bits"),
    ];
    for (prefixes, want, reason) in cases {
        let (status, answer) = register(&api, &acme, prefixes);
        assert_eq!(status, want, "{prefixes:?}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains(reason)), "{prefixes:?}: {answer}");
    }
    assert!(codes(&s, "198.51.100.7").is_empty(), "the good half of a refused request is not applied");
    assert!(codes(&s, "203.0.113.5").is_empty());
    assert_eq!(soa_serial(s.addr, ZONE), serial);

    // Tokens reach only their own role and data.
    let stolen = format!("dnsbl_mk_{}", "0".repeat(64));
    assert_eq!(register(&api, &stolen, &["198.51.100.7"]).0, 401);
    assert_eq!(api.call("GET", "/v1/marketers", Some(&acme), None).0, 403, "operator endpoint, marketer token");
    let listing = json!({ "prefix": "198.51.100.7", "codes": ["3"] });
    assert_eq!(api.call("POST", "/v1/zones/bl.localhost/listings", Some(&acme), Some(listing)).0, 403);
    assert_eq!(api.call("GET", "/v1/registrations", None, None).0, 403, "marketer endpoint, operator token");
    let (_, mine) = api.call("GET", "/v1/registrations", Some(&globex), None);
    assert_eq!(mine["marketer"]["id"], json!("globex"));
    assert_eq!(unregister(&api, &globex, &["198.51.100.7"]).0, 404, "not globex's declaration");

    // Networks of two marketers may not overlap.
    let (status, answer) =
        api.call("POST", "/v1/marketers/globex/networks", None, Some(json!({ "prefix": "198.51.100.128/25" })));
    assert_eq!(status, 409, "{answer}");
    let body = json!({ "id": "initech", "legal_name": "Initech", "registration_number": "1",
                       "contact": "x@y", "networks": ["198.51.0.0/16"] });
    assert_eq!(api.call("POST", "/v1/marketers", None, Some(body)).0, 409);
    assert_eq!(soa_serial(s.addr, ZONE), serial);

    // A rotated token replaces the old one at once.
    let (status, answer) = api.call("POST", "/v1/marketers/acme/rotate-token", None, Some(json!({})));
    assert_eq!(status, 200, "{answer}");
    let fresh = answer["token"].as_str().expect("token").to_string();
    assert_eq!(register(&api, &acme, &["198.51.100.7"]).0, 401);
    assert_eq!(register(&api, &fresh, &["198.51.100.7"]).0, 201);
    assert_eq!(codes(&s, "198.51.100.7"), ["127.0.0.2"]);
}

#[test]
fn two_marketers_registering_at_once() {
    let (_dir, data) = temp_data();
    seed(&data, ZONE, &[NET_LISTING]);
    let s = TestServer::start(registry_config(&data));
    let api = operator(&s, &data);
    let tokens = [
        add_marketer(&api, "acme", "Acme Mailing Ltd", &["198.51.100.0/24"]),
        add_marketer(&api, "globex", "Globex Corp", &["198.51.200.0/24"]),
    ];
    std::thread::scope(|scope| {
        for (token, third) in tokens.iter().zip([100, 200]) {
            let api = Api { base: api.base.clone(), token: api.token.clone() };
            scope.spawn(move || {
                for host in 1..=25 {
                    let ip = format!("198.51.{third}.{host}");
                    let (status, answer) = register(&api, token, &[&ip]);
                    assert_eq!(status, 201, "{ip}: {answer}");
                }
            });
        }
    });
    for third in [100, 200] {
        for host in 1..=25 {
            assert_eq!(codes(&s, &format!("198.51.{third}.{host}")), ["127.0.0.2"], "198.51.{third}.{host}");
        }
        assert!(codes(&s, &format!("198.51.{third}.26")).is_empty());
    }
    for token in &tokens {
        let (_, mine) = api.call("GET", "/v1/registrations", Some(token), None);
        let list = mine["registrations"].as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 25);
        assert!(list.iter().all(|d| d["answers"][0]["codes"] == json!(["127.0.0.2"])), "{mine}");
    }
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

fn dnsbl(args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dnsbl"));
    cmd.args(args).env_remove("DNSBL_SERVER").env_remove("DNSBL_TOKEN_FILE").env_remove("DNSBL_CA_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run dnsbl")
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn marketer_cli_over_https() {
    let (dir, data) = temp_data();
    seed(&data, ZONE, &[NET_LISTING]);
    let mut config = registry_config(&data);
    config.api.tls = Some(dnsbl::config::TlsFiles { certificate: fixture("api.pem"), key: fixture("api.key") });
    let s = TestServer::start(config);
    let (http_base, _) = s.api(&data);
    let server = http_base.replace("http://", "https://");
    let ca = fixture("ca.pem");
    let op_token = data.join("operator.token");

    // The operator adds a marketer over HTTPS and gets its token once.
    let out = dnsbl(
        &[
            "marketer",
            "add",
            "acme",
            "--legal-name",
            "Acme Mailing Ltd",
            "--registration-number",
            "GB-1234567",
            "--contact",
            "abuse@acme.example",
            "--network",
            "198.51.100.0/24",
            "--json",
        ],
        &[("DNSBL_SERVER", Path::new(&server)), ("DNSBL_TOKEN_FILE", &op_token), ("DNSBL_CA_FILE", &ca)],
    );
    let answer: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let token_file = dir.path().join("acme.token");
    std::fs::write(&token_file, answer["token"].as_str().expect("token")).expect("write token");

    // The marketer, from its own machine: only the server, its token and the CA.
    let env = [
        ("DNSBL_SERVER", Path::new(&server)),
        ("DNSBL_TOKEN_FILE", token_file.as_path()),
        ("DNSBL_CA_FILE", ca.as_path()),
    ];
    let out = stdout(&dnsbl(&["register", "198.51.100.7", "198.51.100.8", "--reason", "newsletter MTA pool"], &env));
    assert!(out.contains("registered 198.51.100.7/32 198.51.100.8/32"), "{out}");
    assert_eq!(codes(&s, "198.51.100.7"), ["127.0.0.2"], "visible when the command returns");
    let out = stdout(&dnsbl(&["unregister", "198.51.100.8"], &env));
    assert!(out.contains("unregistered 198.51.100.8/32"), "{out}");
    assert!(codes(&s, "198.51.100.8").is_empty());
    let out = stdout(&dnsbl(&["registrations"], &env));
    assert!(out.contains("Acme Mailing Ltd") && out.contains("198.51.100.7/32"), "{out}");
    assert!(out.contains("bl.localhost → 127.0.0.2") && out.contains("newsletter MTA pool"), "{out}");
    assert!(!out.contains("198.51.100.8/32"), "{out}");

    // Refusals are explained; a marketer cannot use operator commands.
    let out = dnsbl(&["register", "198.51.101.7"], &env);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not inside a network verified for acme (HTTP 403)"));
    let out = dnsbl(&["marketer", "list"], &env);
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 403"));

    // The operator sees the explanation and the history.
    let op = [
        ("DNSBL_SERVER", Path::new(&server)),
        ("DNSBL_TOKEN_FILE", op_token.as_path()),
        ("DNSBL_CA_FILE", ca.as_path()),
    ];
    let out = stdout(&dnsbl(&["lookup", "198.51.100.8"], &op));
    assert!(out.contains("not listed: inside Acme Mailing Ltd's registered network 198.51.100.0/24"), "{out}");
    let out = stdout(&dnsbl(&["marketer", "show", "acme"], &op));
    assert!(out.contains("add-marketer") && out.contains("register") && out.contains("unregister"), "{out}");

    // Without trusting the CA, or in plain HTTP, nothing gets through.
    let untrusted = dnsbl(&["registrations"], &env[..2]);
    assert!(!untrusted.status.success());
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("cannot reach the server"), "{untrusted:?}");
    let plain = [("DNSBL_SERVER", Path::new(&http_base)), ("DNSBL_TOKEN_FILE", token_file.as_path())];
    assert!(!dnsbl(&["registrations"], &plain).status.success());
}
