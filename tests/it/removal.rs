//! Removal requests over real HTTP: filed on the public pages with a CSRF token, confirmed
//! through the link a sendmail stand-in captured, auto-approved within limits or decided by the
//! operator through the API; every refusal says why; the mail command failing or hanging leaves
//! the request filed; a restart keeps everything.

use std::path::{Path, PathBuf};

use dnsbl::model::{Listing, ListingCode};
use dnsbl::publisher::Change;
use serde_json::{json, Value};

use crate::harness::*;

/// A browser-like client: keeps the CSRF cookie the pages set.
struct Visitor {
    web: String,
    cookie: Option<String>,
}

impl Visitor {
    fn new(web: &str) -> Visitor {
        Visitor { web: web.to_string(), cookie: None }
    }

    fn take_cookie(&mut self, r: &ureq::Response) {
        if let Some(set) = r.header("set-cookie") {
            self.cookie = set.split(';').next().map(str::to_string);
        }
    }

    fn get(&mut self, path: &str) -> (u16, String) {
        let mut req = ureq::get(&format!("{}{path}", self.web));
        if let Some(c) = &self.cookie {
            req = req.set("Cookie", c);
        }
        let r = match req.call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{path}: {e}"),
        };
        self.take_cookie(&r);
        (r.status(), r.into_string().expect("body"))
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let mut req = ureq::post(&format!("{}{path}", self.web));
        if let Some(c) = &self.cookie {
            req = req.set("Cookie", c);
        }
        let r = match req.send_form(form) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{path}: {e}"),
        };
        (r.status(), r.into_string().expect("body"))
    }
}

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no {name} field in {html}")) + marker.len();
    html[at..].split('"').next().unwrap_or_default().to_string()
}

/// A sendmail stand-in that stores each message in `dir` (mail-PID).
pub fn capture_to(dir: &Path) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), "cat > \"$1/mail-$$\"".into(), "sendmail".into(), dir.display().to_string()]
}

/// The messages captured in `dir`, oldest first.
pub fn mails(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("mail dir").filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    files.iter().map(|f| std::fs::read_to_string(f).expect("mail")).collect()
}

/// The confirmation link's path (`/requests/ID?key=K`) in a message.
pub fn link_in(mail: &str) -> String {
    let url = mail.split_whitespace().find(|w| w.contains("/requests/")).expect("a link");
    let at = url.find("/requests/").expect("path");
    url[at..].to_string()
}

pub fn list_network(s: &TestServer) {
    let listing =
        Listing::new(vec![ListingCode::OPERATOR], Some("marketing seen from this network".into())).expect("l");
    s.apply(
        "bl.localhost",
        Change::AddListing { prefix: "45.67.8.0/24".parse().expect("p"), listing, expires_at: None },
    )
    .expect("list");
}

fn server(data: &Path, mail_dir: &Path, edit: impl FnOnce(&mut dnsbl::config::Config)) -> TestServer {
    let mut config = test_config(data);
    config.web.sendmail = capture_to(mail_dir);
    edit(&mut config);
    TestServer::start(config)
}

/// A server whose operator lists 45.67.8.0/24 with mail captured in a directory, `edit`ed
/// configuration, and a visitor of its pages.
fn listed_network(
    edit: impl FnOnce(&mut dnsbl::config::Config),
) -> (tempfile::TempDir, PathBuf, PathBuf, TestServer, Visitor) {
    let (dir, data) = temp_data();
    let mail_dir = dir.path().join("mail");
    std::fs::create_dir_all(&mail_dir).expect("mail dir");
    let s = server(&data, &mail_dir, edit);
    list_network(&s);
    let v = Visitor::new(&s.web());
    (dir, data, mail_dir, s, v)
}

/// Files a request for `prefix` from the lookup page of `ip`; the status and the page.
fn file(v: &mut Visitor, ip: &str, prefix: &str, contact: &str, text: &str) -> (u16, String) {
    let (status, page) = v.get(&format!("/lookup?ip={ip}"));
    assert_eq!(status, 200, "{page}");
    let csrf = hidden(&page, "csrf");
    v.post(
        "/requests",
        &[("csrf", &csrf), ("prefix", prefix), ("contact", contact), ("statement", "on"), ("text", text)],
    )
}

#[test]
fn a_request_is_confirmed_by_its_link_and_one_address_out_of_a_network_goes_at_once() {
    let (_dir, data, mail_dir, s, mut v) = listed_network(|_| {});

    // The lookup page of an address an operator listing covers has the form, with its token.
    let (_, page) = v.get("/lookup?ip=45.67.8.9");
    assert!(page.contains("Request removal") && page.contains("<label for=\"contact\">"), "{page}");
    let csrf = hidden(&page, "csrf");
    assert_eq!(csrf.len(), 32);
    assert!(v.cookie.as_deref().is_some_and(|c| c == format!("dnsbl_csrf={csrf}")), "{:?}", v.cookie);

    // Without the cookie's token: refused, nothing filed.
    let (status, body) = v.post(
        "/requests",
        &[("csrf", "0123"), ("prefix", "45.67.8.9"), ("contact", "a@b.example"), ("statement", "on")],
    );
    assert!(status == 403 && body.contains("Form expired"), "{status} {body}");

    let (status, body) = file(&mut v, "45.67.8.9", "45.67.8.9", "owner@shop.example", "our <b>shop</b> server");
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("Request 1 is filed. We sent a link to owner@shop.example"), "{body}");
    let sent = mails(&mail_dir);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].contains("To: owner@shop.example\r\n")
            && sent[0].contains("Subject: Confirm removal request 1 for 45.67.8.9/32"),
        "{}",
        sent[0]
    );
    let link = link_in(&sent[0]);
    assert!(link.starts_with("/requests/1?key=") && link.len() == "/requests/1?key=".len() + 32, "{link}");

    // The link shows the request and a button; a wrong key and an unknown id look the same.
    let (status, page) = v.get(&link);
    assert_eq!(status, 200);
    assert!(page.contains("id=\"state\">unconfirmed") && page.contains("Confirm the request"), "{page}");
    let wrong = format!("{}0", &link[..link.len() - 1]);
    let (s1, p1) = v.get(&wrong);
    let (s2, p2) = v.get("/requests/99?key=00000000000000000000000000000000");
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(p1, p2, "a wrong key says no more than an unknown request");
    assert!(codes(&s, "9.8.67.45") == ["127.0.0.3"], "nothing happens before the confirmation");

    // Confirmed: one address out of a network listing is approved at once (auto-approve = 2).
    let key = hidden(&page, "key");
    let csrf = hidden(&page, "csrf");
    let (status, page) = v.post("/requests/1/confirm", &[("csrf", &csrf), ("key", &key)]);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"state\">approved") && page.contains("Confirmed and approved"), "{page}");
    assert!(codes(&s, "9.8.67.45").is_empty(), "NXDOMAIN when the confirmation returns");
    assert_eq!(codes(&s, "10.8.67.45"), ["127.0.0.3"], "the rest of the network stays listed");
    let (_, lookup) = v.get("/lookup?ip=45.67.8.9");
    assert!(
        lookup.contains("45.67.8.9 in bl.localhost: not listed") && lookup.contains("exclusion 45.67.8.9/32"),
        "{lookup}"
    );
    assert!(lookup.contains("removal request 1"), "{lookup}");

    // The operator sees it all, and the exclusion is audited as the request's.
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let (_, request) = api.call("GET", "/v1/delisting/1", None, None);
    assert_eq!(
        (request["state"].clone(), request["decided_by"].clone()),
        (json!("approved"), json!("auto-approval")),
        "{request}"
    );
    assert_eq!(request["text"], "our <b>shop</b> server");
    let (_, history) = api.call("GET", "/v1/history?prefix=45.67.8.9", None, None);
    let last = history.as_array().and_then(|h| h.last()).cloned().expect("history");
    assert_eq!(
        (last["action"].clone(), last["actor"].clone(), last["source"].clone(), last["reason"].clone()),
        (json!("add-exclusion"), json!("auto-approval"), json!("removal request"), json!("removal request 1"))
    );

    // A second address of the /24 also goes at once; the third waits for the operator.
    for (ip, id) in [("45.67.8.10", 2), ("45.67.8.11", 3)] {
        let (status, _) = file(&mut v, ip, ip, "owner@shop.example", "");
        assert_eq!(status, 201);
        let (_, page) = v.get(&link_in(mails(&mail_dir).last().expect("mail")));
        let (key, csrf) = (hidden(&page, "key"), hidden(&page, "csrf"));
        let (_, page) = v.post(&format!("/requests/{id}/confirm"), &[("csrf", &csrf), ("key", &key)]);
        let expected = if id == 2 { "approved" } else { "confirmed" };
        assert!(page.contains(&format!("id=\"state\">{expected}")), "request {id}: {page}");
    }
    assert!(codes(&s, "10.8.67.45").is_empty());
    assert_eq!(codes(&s, "11.8.67.45"), ["127.0.0.3"], "past the network's allowance: the operator decides");
    let (_, open) = api.call("GET", "/v1/delisting?state=open", None, None);
    assert_eq!(open.as_array().map(|a| a.iter().map(|r| r["id"].clone()).collect::<Vec<_>>()), Some(vec![json!(3)]));
    let (status, done) = api.call("POST", "/v1/delisting/3/approve", None, Some(json!({})));
    assert_eq!((status, done["state"].clone()), (200, json!("approved")), "{done}");
    assert!(codes(&s, "11.8.67.45").is_empty(), "in DNS when the call returns");
    let (status, again) = api.call("POST", "/v1/delisting/3/reject", None, Some(json!({"reason": "changed my mind"})));
    assert_eq!(status, 409, "{again}");
    // Listed again later (the operator removes the exclusion): the lookup says so.
    let (status, _) = api.call("DELETE", "/v1/zones/bl.localhost/exclusions?prefix=45.67.8.11/32", None, None);
    assert_eq!(status, 200);
    assert_eq!(codes(&s, "11.8.67.45"), ["127.0.0.3"]);
    let (_, lookup) = v.get("/lookup?ip=45.67.8.11");
    assert!(lookup.contains("Listed again after it was removed by removal request 3 on 20"), "{lookup}");
    let (_, found) = v.get("/lookup.json?ip=45.67.8.11");
    assert!(found.contains("\"returned_after\":\"removal request 3 on"), "{found}");

    // A restart keeps the requests; the status page shows the decision.
    let third = link_in(mails(&mail_dir).last().expect("mail"));
    s.stop();
    let s = server(&data, &mail_dir, |_| {});
    let mut v = Visitor::new(&s.web());
    let (status, page) = v.get(&third);
    assert_eq!(status, 200);
    assert!(page.contains("id=\"state\">approved") && page.contains("45.67.8.11/32 is removed"), "{page}");
    assert!(!page.contains("by operator"), "who decided stays the operator's: {page}");
}

#[test]
fn refused_requests_say_why_and_record_nothing() {
    let (_dir, data, mail_dir, s, mut v) = listed_network(|c| c.web.auto_approve = 0);
    let payload = "<script>alert(1)</script>";
    let cases = [
        ("45.67.8.0/23", "a@b.example", "at most a /24 per request"),
        ("45.67.8.9", "not an address <script>", "give an email address you can read"),
        ("45.67.9.1", "a@b.example", "no operator listing covers 45.67.9.1/32"),
        (payload, "a@b.example", "is not an IP address or a CIDR prefix"),
    ];
    for (prefix, contact, why) in cases {
        let (status, page) = file(&mut v, "45.67.8.9", prefix, contact, payload);
        assert!(status == 400 || status == 409, "{prefix}: {status}");
        assert!(page.contains(why), "{prefix}: {page}");
        assert!(!page.contains("<script"), "escaped: {page}");
        assert!(page.contains("&#60;script&#62;alert(1)"), "the form keeps what was typed, escaped: {page}");
    }
    // The statement is required.
    let (_, page) = v.get("/lookup?ip=45.67.8.9");
    let csrf = hidden(&page, "csrf");
    let (status, page) = v.post("/requests", &[("csrf", &csrf), ("prefix", "45.67.8.9"), ("contact", "a@b.example")]);
    assert!(status == 400 && page.contains("say that the address does not send email marketing"), "{page}");
    assert!(mails(&mail_dir).is_empty(), "no mail for a refused request");
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    assert_eq!(api.call("GET", "/v1/delisting", None, None).1, json!([]));

    // One open request per address range: the same address, a network around it.
    assert_eq!(file(&mut v, "45.67.8.9", "45.67.8.9", "a@b.example", "").0, 201);
    for prefix in ["45.67.8.9", "45.67.8.0/24"] {
        let (status, page) = file(&mut v, "45.67.8.9", prefix, "c@d.example", "");
        assert!(status == 409 && page.contains("request 1 for this address is still open"), "{prefix}: {page}");
    }
    // The operator rejects it; the requester's page shows the reason.
    let (status, _) =
        api.call("POST", "/v1/delisting/1/reject", None, Some(json!({"reason": format!("seen sending {payload}")})));
    assert_eq!(status, 200);
    let (_, page) = v.get(&link_in(&mails(&mail_dir)[0]));
    assert!(
        page.contains("Rejected: seen sending &#60;script&#62;") && !page.contains("Confirm the request"),
        "{page}"
    );
    assert_eq!(codes(&s, "9.8.67.45"), ["127.0.0.3"]);
    let (status, _) = api.call("POST", "/v1/delisting/7/approve", None, Some(json!({})));
    assert_eq!(status, 404);
}

#[test]
fn a_failing_or_hanging_mail_command_leaves_the_request_filed_for_the_operator() {
    let (dir, data) = temp_data();
    let mail_dir = dir.path().join("mail");
    std::fs::create_dir_all(&mail_dir).expect("mail dir");
    for (command, why) in [
        (
            vec!["/bin/sh".to_string(), "-c".into(), "echo 'no route to relay' >&2; exit 75".into()],
            "exited with exit status: 75: no route to relay",
        ),
        (vec!["/bin/sleep".to_string(), "30".into()], "did not finish within 1 s"),
        (vec!["/nonexistent/sendmail".to_string()], "cannot run /nonexistent/sendmail"),
    ] {
        let (_d, data) = temp_data();
        let s = server(&data, &mail_dir, |c| {
            c.web.sendmail = command.clone();
            c.web.sendmail_timeout_secs = 1;
        });
        list_network(&s);
        let mut v = Visitor::new(&s.web());
        let (status, page) = file(&mut v, "45.67.8.9", "45.67.8.9", "a@b.example", "");
        assert_eq!(status, 201, "{page}");
        assert!(page.contains("the confirmation mail could not be sent. It waits for the operator"), "{page}");
        assert!(
            !page.contains(why) && page.contains("confirmation mail not sent"),
            "the mail system's words stay the operator's: {page}"
        );
        let (base, token) = s.api(&data);
        let (_, request) = Api { base, token }.call("GET", "/v1/delisting/1", None, None);
        assert_eq!(request["state"], "unconfirmed");
        assert!(request["mail"].as_str().is_some_and(|m| m.contains(why)), "{command:?}: {request}");
    }
    drop(data);
}

#[test]
fn removal_requests_from_one_network_are_limited_per_hour() {
    let (_dir, data, _mail, s, mut v) = listed_network(|c| c.web.requests_per_hour = 1);
    assert_eq!(file(&mut v, "45.67.8.9", "45.67.8.9", "a@b.example", "").0, 201);
    let (status, page) = file(&mut v, "45.67.8.10", "45.67.8.10", "a@b.example", "");
    assert!(status == 429 && page.contains("Too many removal requests"), "{page}");
    let value: Value = Api { base: s.api(&data).0, token: s.api(&data).1 }.call("GET", "/v1/delisting", None, None).1;
    assert_eq!(value.as_array().map(Vec::len), Some(1));
}

#[test]
fn an_unconfirmed_request_gives_way_after_two_days_and_a_network_request_ends_the_listings_inside() {
    let (_dir, data, mail_dir, s, mut v) = listed_network(|c| c.web.auto_approve = 0);
    assert_eq!(file(&mut v, "45.67.8.9", "45.67.8.9", "squatter@x.example", "").0, 201);
    // Two days later, still unconfirmed: a new request for the address closes it.
    let new = dnsbl::delisting::NewRequest {
        prefix: "45.67.8.9/32".parse().expect("p"),
        contact: "owner@shop.example".into(),
        text: String::new(),
    };
    let later = dnsbl::clock::unix_now() + 2 * 86_400 + 1;
    let filed = s.with_publisher(|p| p.file_removal(new, [7; 32], later)).expect("filed");
    assert_eq!(filed.id, 2);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let (_, first) = api.call("GET", "/v1/delisting/1", None, None);
    assert_eq!(
        (first["state"].clone(), first["rejected_reason"].clone()),
        (json!("rejected"), json!("not confirmed within 48 hours"))
    );
    // Its link no longer confirms anything.
    let (_, page) = v.get(&link_in(&mails(&mail_dir)[0]));
    assert!(page.contains("id=\"state\">rejected") && !page.contains("Confirm the request"), "{page}");

    // A /24 request where the operator lists only a /25 inside it: approving ends that listing.
    let listing = Listing::new(vec![ListingCode::OPERATOR], None).expect("l");
    s.apply(
        "bl.localhost",
        Change::AddListing { prefix: "45.67.9.128/25".parse().expect("p"), listing, expires_at: None },
    )
    .expect("list");
    assert_eq!(file(&mut v, "45.67.9.200", "45.67.9.0/24", "noc@isp.example", "our customers' network").0, 201);
    let (status, done) = api.call("POST", "/v1/delisting/3/approve", None, Some(json!({})));
    assert_eq!((status, done["state"].clone()), (200, json!("approved")), "{done}");
    let events: Vec<&str> =
        done["events"].as_array().expect("events").iter().filter_map(|e| e["what"].as_str()).collect();
    assert!(events.iter().any(|e| e.contains("excluded 45.67.9.128/25 in bl.localhost")), "{events:?}");
    assert!(codes(&s, "200.9.67.45").is_empty());
}
