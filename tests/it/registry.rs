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

#[test]
fn registry_entries_survive_imports_and_follow_network_changes() {
    let (_dir, data) = temp_data();
    seed(&data, ZONE, &[NET_LISTING]);
    let s = TestServer::start(registry_config(&data));
    let api = operator(&s, &data);
    let token = add_marketer(&api, "acme", "Acme Mailing Ltd", &["198.51.100.0/24"]);
    assert_eq!(register(&api, &token, &["198.51.100.7", "198.51.100.20"]).0, 201);

    // A whole-list import rebuilds the zone; the registry is merged in again.
    let list = "198.51.0.0/16 :3:network seen sending marketing\n!198.51.100.20\n";
    let url = format!("{}/v1/zones/{ZONE}/import?type=ip4set", api.base);
    let response = ureq::post(&url).set("Authorization", &format!("Bearer {}", api.token)).send_string(list);
    assert_eq!(response.map(|r| r.status()).ok(), Some(200));
    assert!(codes(&s, "198.51.100.8").is_empty(), "protection after the import");
    assert_eq!(codes(&s, "198.51.100.7"), ["127.0.0.2"]);
    assert_eq!(codes(&s, "198.51.100.20"), ["127.0.0.2"], "a declaration beats an exclusion of that address");
    assert_eq!(codes(&s, "198.51.101.1"), ["127.0.0.3"]);

    // A second network is protected at once; removing it lifts the protection at once.
    let (status, answer) =
        api.call("POST", "/v1/marketers/acme/networks", None, Some(json!({ "prefix": "198.51.101.0/25" })));
    assert_eq!(status, 201, "{answer}");
    assert!(codes(&s, "198.51.101.1").is_empty());
    assert_eq!(codes(&s, "198.51.101.200"), ["127.0.0.3"]);
    let (status, answer) = api.call("DELETE", "/v1/marketers/acme/networks?prefix=198.51.101.0/25", None, None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(codes(&s, "198.51.101.1"), ["127.0.0.3"]);
}

mod model {
    //! Random operator and registry changes against a naive model of the combination rules.

    use dnsbl::model::{mask32, Prefix};
    use dnsbl::publisher::Change;
    use dnsbl::registry::{Marketer, MarketerId, Request, Status};
    use proptest::prelude::*;

    use super::*;

    type P = (u32, u8);

    fn covers(p: P, addr: u32) -> bool {
        addr & mask32(p.1) == p.0
    }

    fn prefix(p: P) -> Prefix {
        Prefix::masked_v4(p.0, p.1)
    }

    /// Marketer `m`'s pool of networks: two /24s, in different /16s per marketer.
    fn network(m: usize, pick: usize) -> P {
        let base = [0xc633_0000u32, 0xc634_0000][m];
        (base | if pick % 2 == 0 { 0x0000 } else { 0x6400 }, 24)
    }

    #[derive(Default)]
    struct Model {
        listings: Vec<(P, u8)>,
        exclusions: Vec<P>,
        networks: [Vec<P>; 2],
        active: [bool; 2],
        declared: [Vec<P>; 2],
    }

    impl Model {
        fn expect(&self, addr: u32) -> Vec<String> {
            let reg_len = (0..2)
                .flat_map(|m| {
                    let nets = self.networks[m].iter().filter(move |_| self.active[m]);
                    nets.chain(&self.declared[m]).copied()
                })
                .filter(|p| covers(*p, addr))
                .map(|p| p.1)
                .max();
            let op_len = self
                .listings
                .iter()
                .map(|l| l.0)
                .chain(self.exclusions.iter().copied())
                .filter(|p| covers(*p, addr))
                .map(|p| p.1)
                .max();
            let codes: Vec<u8> = match (reg_len, op_len) {
                (Some(r), o) if o.is_none_or(|o| r >= o) => {
                    let declared = (0..2).flat_map(|m| self.declared[m].iter()).find(|p| p.1 == r && covers(**p, addr));
                    match declared {
                        Some(d) => {
                            let mut c = vec![2];
                            c.extend(self.listings.iter().filter(|l| l.0 == *d).map(|l| l.1));
                            c
                        }
                        None => vec![],
                    }
                }
                (_, Some(o)) => {
                    if self.exclusions.iter().any(|e| e.1 == o && covers(*e, addr)) {
                        vec![]
                    } else {
                        self.listings.iter().filter(|l| l.0 .1 == o && covers(l.0, addr)).map(|l| l.1).collect()
                    }
                }
                _ => vec![],
            };
            let mut codes = codes;
            codes.sort();
            codes.dedup();
            codes.iter().map(|c| format!("127.0.0.{c}")).collect()
        }
    }

    fn id(m: usize) -> MarketerId {
        MarketerId::parse(["acme", "globex"][m]).expect("id")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn operator_and_registry_changes_match_a_naive_model(
            ops in prop::collection::vec((0u8..8, 0usize..2, any::<u32>(), 0usize..4), 1..40),
            probes in prop::collection::vec(any::<u32>(), 16),
        ) {
            let (_dir, data) = temp_data();
            seed(&data, ZONE, &[("198.51.0.0/16", Seed::Listed(&["127.0.0.3"], None))]);
            let mut s = TestServer::start(registry_config(&data));
            let mut model = Model { listings: vec![((0xc633_0000, 16), 3)], active: [true; 2], ..Model::default() };
            for m in 0..2 {
                let marketer = Marketer {
                    id: id(m), legal_name: format!("M{m}"), registration_number: "1".into(), contact: "c".into(),
                    networks: vec![prefix(network(m, 0))], status: Status::Active,
                };
                s.registry(Request::AddMarketer { marketer, token_hash: [m as u8; 32] }).expect("add");
                model.networks[m].push(network(m, 0));
            }
            let mut points = Vec::new();
            let restart_at = ops.len() / 2;
            for (i, (op, m, r, pick)) in ops.into_iter().enumerate() {
                if i == restart_at {
                    // Half the changes reach the base tables through a restart (the load path),
                    // the rest are patched on top of them.
                    s.stop();
                    s = TestServer::start(registry_config(&data));
                }
                // An address in one of the four /24 networks (or next to them).
                let net = network(m, pick);
                let lens = [16u8, 24, 28, 32];
                let len = lens[(r as usize >> 8) % 4];
                let fresh: P = ((net.0 | (r & 0x1ff)) & mask32(len), len);
                // Often reuse a prefix that already has an entry, so changes meet at one prefix
                // and removals find something to remove.
                let existing: Vec<P> = model.listings.iter().map(|l| l.0).chain(model.exclusions.iter().copied())
                    .chain(model.declared.iter().flatten().copied()).filter(|p| p.1 >= 24).collect();
                let p = if pick >= 2 && !existing.is_empty() { existing[(r as usize) % existing.len()] } else { fresh };
                points.extend([p.0, p.0 | !mask32(p.1), p.0 & mask32(24), p.0 | !mask32(24)]);
                let ok = match op {
                    0 => {
                        let code = 3 + (r % 2) as u8;
                        let listing = dnsbl::model::Listing::new(vec![format!("127.0.0.{code}").parse().expect("code")], None).expect("listing");
                        s.apply(ZONE, Change::AddListing { prefix: prefix(p), listing, expires_at: None }).expect("add");
                        model.listings.retain(|l| l.0 != p);
                        model.listings.push((p, code));
                        true
                    }
                    1 => {
                        s.apply(ZONE, Change::AddExclusion { prefix: prefix(p), reason: None }).expect("exclude");
                        if !model.exclusions.contains(&p) { model.exclusions.push(p); }
                        true
                    }
                    2 => {
                        if s.apply(ZONE, Change::RemoveListing { prefix: prefix(p) }).is_ok() { model.listings.retain(|l| l.0 != p); }
                        true
                    }
                    3 | 4 => {
                        let ok = s.registry(Request::Declare { id: id(m), prefixes: vec![prefix(p)], reason: None }).is_ok();
                        if ok && !model.declared[m].contains(&p) { model.declared[m].push(p); }
                        ok
                    }
                    5 => {
                        let ok = s.registry(Request::Undeclare { id: id(m), prefixes: vec![prefix(p)] }).is_ok();
                        if ok { model.declared[m].retain(|d| *d != p); }
                        ok
                    }
                    6 => {
                        let request = if model.active[m] {
                            Request::Suspend { id: id(m), reason: "r".into() }
                        } else {
                            Request::Resume { id: id(m) }
                        };
                        s.registry(request).expect("suspend/resume");
                        model.active[m] = !model.active[m];
                        true
                    }
                    _ => {
                        let has = model.networks[m].contains(&net);
                        let request = if has {
                            Request::RemoveNetwork { id: id(m), network: prefix(net) }
                        } else {
                            Request::AddNetwork { id: id(m), network: prefix(net) }
                        };
                        s.registry(request).expect("network");
                        if has { model.networks[m].retain(|n| *n != net); } else { model.networks[m].push(net); }
                        true
                    }
                };
                let _ = ok;
            }
            points.extend(probes.iter().map(|p| [0xc633_0000u32, 0xc634_0000][(p >> 31) as usize] | (p & 0x64ff)));
            for addr in points {
                let o = addr.to_be_bytes();
                let got = codes(&s, &format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3]));
                prop_assert_eq!(got, model.expect(addr), "{:#x}", addr);
            }
        }
    }
}

#[test]
fn removing_an_operator_listing_inside_a_loaded_network_restores_its_protection() {
    let (_dir, data) = temp_data();
    seed(&data, ZONE, &[NET_LISTING]);
    let s = TestServer::start(registry_config(&data));
    let api = operator(&s, &data);
    add_marketer(&api, "acme", "Acme Mailing Ltd", &["198.51.100.0/24"]);
    s.stop();
    // After a restart the network is in the base tables, with no patch over it.
    let s = TestServer::start(registry_config(&data));
    let api = operator(&s, &data);
    let body = json!({ "prefix": "198.51.100.16/28", "codes": ["3"] });
    assert_eq!(api.call("POST", "/v1/zones/bl.localhost/listings", None, Some(body)).0, 201);
    assert_eq!(codes(&s, "198.51.100.17"), ["127.0.0.3"]);
    assert_eq!(api.call("DELETE", "/v1/zones/bl.localhost/listings?prefix=198.51.100.16/28", None, None).0, 200);
    assert!(codes(&s, "198.51.100.17").is_empty(), "the network's protection covers the range again");
}

#[test]
fn a_reload_with_new_registry_rules_recomputes_what_registrations_give() {
    use dnsbl::registry::{Marketer, MarketerId, Request, Status};
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    let s = TestServer::start(config.clone());
    let id = MarketerId::parse("acme").expect("id");
    let marketer = Marketer {
        id: id.clone(),
        legal_name: "Acme Mailing Ltd".into(),
        registration_number: "GB-1234567".into(),
        contact: "abuse@acme.example".into(),
        networks: vec!["192.88.99.0/24".parse().expect("prefix")],
        status: Status::Active,
    };
    s.registry(Request::AddMarketer { marketer, token_hash: [1; 32] }).expect("add");
    s.registry(Request::Declare { id, prefixes: vec!["192.88.99.7".parse().expect("prefix")], reason: None })
        .expect("declare");
    assert_eq!(codes(&s, "192.88.99.7"), ["127.0.0.2"]);
    // Registrations now apply to no served zone: the declaration stops being listed at once.
    config.registry.zones = Some(Vec::new());
    let report = s.reload(config.clone()).expect("reload");
    assert!(report.registry_changed && report.zones_changed.is_empty(), "{report:?}");
    assert!(codes(&s, "192.88.99.7").is_empty());
    // And back.
    config.registry.zones = None;
    s.reload(config).expect("reload");
    assert_eq!(codes(&s, "192.88.99.7"), ["127.0.0.2"]);
}

#[test]
fn a_reload_serves_a_renewed_api_certificate_and_refuses_a_mismatched_one() {
    let (dir, data) = temp_data();
    let (cert, key) = (dir.path().join("api.pem"), dir.path().join("api.key"));
    std::fs::copy(fixture("api.pem"), &cert).expect("copy");
    std::fs::copy(fixture("api.key"), &key).expect("copy");
    let mut config = registry_config(&data);
    config.api.tls = Some(dnsbl::config::TlsFiles { certificate: cert.clone(), key: key.clone() });
    let s = TestServer::start(config.clone());
    let (http_base, _) = s.api(&data);
    let server = http_base.replace("http://", "https://");
    let op_token = data.join("operator.token");
    let stats_with = |ca: &Path| {
        dnsbl(
            &["stats", "--json"],
            &[("DNSBL_SERVER", Path::new(&server)), ("DNSBL_TOKEN_FILE", &op_token), ("DNSBL_CA_FILE", ca)],
        )
    };
    let (old_ca, new_ca) = (fixture("ca.pem"), fixture("ca2.pem"));
    stdout(&stats_with(&old_ca));
    assert!(!stats_with(&new_ca).status.success(), "not yet the renewed certificate");

    // A renewal writes the new files in place (as certbot does); the reload reads them.
    std::fs::copy(fixture("api2.pem"), &cert).expect("copy");
    std::fs::copy(fixture("api2.key"), &key).expect("copy");
    s.reload(config.clone()).expect("reload");
    stdout(&stats_with(&new_ca));
    let refused = stats_with(&old_ca);
    assert!(!refused.status.success(), "the old certificate is no longer served");

    // A certificate whose key is not its own is refused, and the running one stays.
    std::fs::copy(fixture("api.pem"), &cert).expect("copy");
    let err = s.reload(config).expect_err("mismatched key refused").to_string();
    assert!(err.contains("do not work together"), "{err}");
    stdout(&stats_with(&new_ca));
}
