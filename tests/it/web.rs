//! The public web pages over real HTTP: the lookup page every TXT answer links to, for each kind
//! of entry; every user-supplied text escaped; the security headers; the rate limit; errors.

use dnsbl::model::{Listing, ListingCode};
use dnsbl::publisher::Change;
use hickory_proto::rr::RecordType;
use serde_json::{json, Value};

use crate::harness::*;

const SCRIPT: &str = "<script>alert(1)</script>\"'&";

/// GET `url`: the status, the headers asked for, and the body.
fn get(url: &str, headers: &[&str]) -> (u16, Vec<Option<String>>, String) {
    let response = match ureq::get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let status = response.status();
    let values = headers.iter().map(|h| response.header(h).map(str::to_string)).collect();
    (status, values, response.into_string().expect("body"))
}

fn listing(code: &str, reason: &str) -> Change {
    let listing = Listing::new(vec![code.parse::<ListingCode>().expect("code")], Some(reason.into())).expect("listing");
    Change::AddListing { prefix: "45.67.8.0/24".parse().expect("prefix"), listing, expires_at: None }
}

/// Markup a page may contain: ours, never a script or the payload unescaped.
fn assert_inert(body: &str) {
    assert!(!body.contains("<script"), "a script tag got through: {body}");
    assert!(!body.contains("alert(1)</"), "{body}");
}

#[test]
fn the_lookup_page_says_what_lists_an_address_and_how_it_ends() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let web = s.web();
    s.apply("bl.localhost", listing("127.0.0.3", &format!("marketing seen {SCRIPT}"))).expect("list");

    let (status, headers, body) = get(
        &format!("{web}/lookup?ip=45.67.8.9"),
        &["content-security-policy", "content-type", "x-content-type-options", "x-frame-options", "referrer-policy"],
    );
    assert_eq!(status, 200);
    assert_eq!(headers[0].as_deref(), Some(dnsbl::web::CONTENT_SECURITY_POLICY));
    assert!(headers[1].as_deref().is_some_and(|t| t.starts_with("text/html")), "{headers:?}");
    assert_eq!(
        (headers[2].as_deref(), headers[3].as_deref(), headers[4].as_deref()),
        (Some("nosniff"), Some("DENY"), Some("no-referrer"))
    );
    assert!(body.contains("45.67.8.9 in bl.localhost: listed"), "{body}");
    assert!(body.contains("127.0.0.3</code> — IP or range listed by the operator"), "{body}");
    assert!(body.contains("operator listing 45.67.8.0/24"), "{body}");
    assert!(body.contains("request its removal below") && body.contains("action=\"/requests\""), "{body}");
    assert!(
        body.contains("marketing seen &#60;script&#62;alert(1)&#60;/script&#62;&#34;&#39;&#38;"),
        "escaped: {body}"
    );
    assert_inert(&body);

    // Not listed; an exclusion says what keeps the address out.
    let (_, _, body) = get(&format!("{web}/lookup?ip=45.67.9.1"), &[]);
    assert!(body.contains("45.67.9.1 in bl.localhost: not listed"), "{body}");
    s.apply(
        "bl.localhost",
        Change::AddExclusion { prefix: "45.67.8.77/32".parse().expect("p"), reason: Some(SCRIPT.into()) },
    )
    .expect("exclude");
    let (_, _, body) = get(&format!("{web}/lookup?ip=45.67.8.77"), &[]);
    assert!(body.contains("not listed") && body.contains("exclusion 45.67.8.77/32"), "{body}");
    assert_inert(&body);

    // The RFC 5782 test point.
    let (_, _, body) = get(&format!("{web}/lookup?ip=127.0.0.2"), &[]);
    assert!(body.contains("test point 127.0.0.2/32") && body.contains("RFC 5782"), "{body}");

    // The same facts for scripts.
    let (status, headers, body) = get(&format!("{web}/lookup.json?ip=45.67.8.9"), &["content-type"]);
    assert_eq!((status, headers[0].as_deref()), (200, Some("application/json")));
    let found: Value = serde_json::from_str(&body).expect("json");
    let zone = &found["zones"][0];
    assert_eq!((zone["zone"].clone(), zone["listed"].clone()), (json!("bl.localhost"), json!(true)), "{found}");
    assert_eq!(zone["codes"][0]["code"], "127.0.0.3");
    assert_eq!(zone["entries"][0]["kind"], "operator listing");
    assert_eq!(zone["entries"][0]["reason"], format!("marketing seen {SCRIPT}"));
    assert!(zone["entries"][0]["since"].as_str().is_some_and(|t| t.ends_with('Z')), "{found}");
}

#[test]
fn what_users_type_is_escaped_and_bad_requests_say_why() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let web = s.web();
    let payload = "%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%3E%3Cimg%20src%3Dx%3E";
    let (status, _, body) = get(&format!("{web}/lookup?ip={payload}"), &[]);
    assert_eq!(status, 400);
    assert!(body.contains("is not an IP address"), "{body}");
    assert!(!body.contains("<img") && body.contains("&#34;&#62;&#60;img src=x&#62;"), "{body}");
    assert_inert(&body);
    let (status, _, body) = get(&format!("{web}/lookup.json?ip={payload}"), &[]);
    assert_eq!(status, 400);
    let error: Value = serde_json::from_str(&body).expect("json");
    assert!(error["error"].as_str().is_some_and(|e| e.contains("is not an IP address")), "{error}");
    // The empty form, an unknown page, a method the page does not take.
    let (status, _, body) = get(&format!("{web}/lookup"), &[]);
    assert!(status == 200 && body.contains("<label for=\"ip\">"), "{body}");
    let (status, headers, body) = get(&format!("{web}/admin"), &["content-security-policy"]);
    assert!(status == 404 && body.contains("There is no such page"), "{body}");
    assert!(headers[0].is_some(), "error pages carry the policy too");
    let posted = ureq::post(&format!("{web}/lookup")).send_string("ip=1.2.3.4");
    assert!(matches!(posted, Err(ureq::Error::Status(405, _))), "{posted:?}");
    // A body over 16 KiB is refused before it is read.
    let big = format!("csrf=x&prefix=45.67.8.9&contact=a%40b.example&statement=on&text={}", "x".repeat(20 << 10));
    let posted = ureq::post(&format!("{web}/requests"))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&big);
    assert!(matches!(posted, Err(ureq::Error::Status(413, _))), "{posted:?}");
    // No operator powers: the API's paths do not exist here, with the operator's token or not.
    let (_, token) = s.api(&data);
    for path in ["/v1/zones", "/v1/delisting", "/metrics"] {
        let got = ureq::get(&format!("{web}{path}")).set("Authorization", &format!("Bearer {token}")).call();
        assert!(matches!(got, Err(ureq::Error::Status(404, _))), "{path}: {got:?}");
    }
    let removed = ureq::delete(&format!("{web}/v1/zones/bl.localhost/listings?prefix=45.67.8.0/24"))
        .set("Authorization", &format!("Bearer {token}"))
        .call();
    assert!(matches!(removed, Err(ureq::Error::Status(404 | 405, _))), "{removed:?}");
    // The index explains the list and how to use it, per zone.
    let (status, _, body) = get(&format!("{web}/"), &[]);
    assert_eq!(status, 200);
    assert!(body.contains("reject_rbl_client bl.localhost=127.0.0.[2..4]"), "{body}");
    assert!(body.contains("receiving site's decision") && body.contains("Removal is free"), "{body}");
    let (status, headers, css) = get(&format!("{web}/style.css"), &["content-type"]);
    assert!(status == 200 && headers[0].as_deref() == Some("text/css; charset=utf-8") && css.contains("body"));
}

#[test]
fn declared_senders_name_their_marketer_and_evidence_listings_their_policy_and_end() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let web = s.web();
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    api.acme_declaring(&format!("Acme {SCRIPT}"), "GB-1234", "192.88.99.7");
    let (_, _, body) = get(&format!("{web}/lookup?ip=192.88.99.7"), &[]);
    assert!(body.contains("declared sender 192.88.99.7/32"), "{body}");
    assert!(body.contains("Acme &#60;script&#62;") && body.contains("registration number GB-1234"), "{body}");
    assert!(
        !body.contains("acme)") && !body.contains("(acme"),
        "the marketer's internal id stays the operator's: {body}"
    );
    assert_inert(&body);
    // Inside its network but not declared: not listed, and the page says why.
    let (_, _, body) = get(&format!("{web}/lookup?ip=192.88.99.8"), &[]);
    assert!(body.contains("not listed") && body.contains("registered network 192.88.99.0/24"), "{body}");

    // An evidence listing: the policy and when it ends by itself.
    let records: Vec<Value> = (0..6)
        .map(|i| json!({"kind": "trap", "ip": "45.67.8.40", "recipient": format!("t{}@traps.example", i % 2), "id": format!("w{i}")}))
        .collect();
    api.call("POST", "/v1/reporters", None, Some(json!({"name": "traps", "contact": "ops@traps.example"})));
    let (status, answer) = api.call("POST", "/v1/evidence?reporter=traps", None, Some(Value::Array(records)));
    assert_eq!((status, answer["listed"][0]["policy"].clone()), (200, json!("trap-hits")), "{answer}");
    let (_, _, json_body) = get(&format!("{web}/lookup.json?ip=45.67.8.40"), &[]);
    let found: Value = serde_json::from_str(&json_body).expect("json");
    let entry = &found["zones"][0]["entries"][0];
    assert_eq!(
        (entry["kind"].clone(), entry["policy"].clone()),
        (json!("evidence listing"), json!("trap-hits")),
        "{found}"
    );
    let ends = entry["ends"].as_str().expect("an end").to_string();
    let (_, _, body) = get(&format!("{web}/lookup?ip=45.67.8.40"), &[]);
    assert!(body.contains(&format!("ends by itself at {ends}")) && body.contains("nothing to pay"), "{body}");
}

#[test]
fn the_url_in_a_txt_answer_opens_the_lookup_of_the_address_it_names() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let web = s.web();
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    // Every kind of TXT with a URL: the zone's template (an operator entry without a reason of
    // its own), a declared sender's, and an evidence listing's.
    let plain = Listing::new(vec![ListingCode::OPERATOR], None).expect("listing");
    s.apply(
        "bl.localhost",
        Change::AddListing { prefix: "45.67.8.9/32".parse().expect("p"), listing: plain, expires_at: None },
    )
    .expect("list");
    api.acme_declaring("Acme Mailing Ltd", "GB-1", "192.88.99.7");
    api.call("POST", "/v1/reporters", None, Some(json!({"name": "traps", "contact": "ops@traps.example"})));
    let hits: Vec<Value> = (0..6)
        .map(|i| json!({"kind": "trap", "ip": "45.67.8.40", "recipient": format!("t{}@traps.example", i % 2), "id": format!("u{i}")}))
        .collect();
    api.call("POST", "/v1/evidence?reporter=traps", None, Some(Value::Array(hits)));
    for ip in ["45.67.8.9", "192.88.99.7", "45.67.8.40"] {
        let name = format!("{}.bl.localhost", ip.split('.').rev().collect::<Vec<_>>().join("."));
        let txt = txt_records(&ask(s.addr, &name, RecordType::TXT));
        let url = txt.iter().find_map(|t| t.split_whitespace().find(|w| w.starts_with("http"))).expect("a URL");
        let (host, path) = url.split_once("://").and_then(|(_, rest)| rest.split_once('/')).expect("host and path");
        assert_eq!(host, "bl.localhost:8080", "the default configuration's web listener");
        let (status, _, body) = get(&format!("{web}/{path}"), &[]);
        assert_eq!(status, 200, "{url}");
        assert!(body.contains(&format!("{ip} in bl.localhost: listed")), "{url}: {body}");
    }
}

#[test]
fn lookups_beyond_a_networks_allowance_get_429_with_retry_after() {
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    config.web.lookups_per_minute = 3;
    let s = TestServer::start(config);
    let web = s.web();
    for _ in 0..3 {
        assert_eq!(get(&format!("{web}/lookup?ip=45.67.8.9"), &[]).0, 200);
    }
    let (status, headers, body) = get(&format!("{web}/lookup.json?ip=45.67.8.9"), &["retry-after"]);
    assert_eq!(status, 429);
    let wait: u64 = headers[0].as_deref().and_then(|v| v.parse().ok()).expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(body.contains("Too many lookups"), "{body}");
    // The pages that are no lookup stay open.
    assert_eq!(get(&format!("{web}/"), &[]).0, 200);
}
