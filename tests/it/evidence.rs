//! Evidence to listing, end to end on the running server: abuse reports (ARF) uploaded for
//! reporters through the API; three mailings' complaints from two reporters list the address
//! with 127.0.0.4 over DNS when the upload returns; two mailings, or one reporter alone, do not;
//! the same report twice counts once; refused reports say why; a restart keeps it all.

use hickory_proto::rr::RecordType;
use serde_json::{json, Value};

use crate::harness::*;

/// An ARF report about a message from `ip` in the mailing `feedback_id`, with its own id.
fn report(ip: &str, feedback_id: &str, report_id: &str) -> String {
    format!(
        "From: fbl@reporter.example\r\nTo: reports@bl.example.org\r\nSubject: FBL\r\nMessage-ID: <{report_id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n\
         --B\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: test\r\nVersion: 1\r\n\
         Source-IP: {ip}\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: news@shop.example\r\nSubject: Deals\r\n\
         Feedback-ID: {feedback_id}\r\n\r\n--B--\r\n"
    )
}

fn upload(api: &Api, reporter: &str, body: &str) -> Value {
    send(api, reporter, "message/rfc822", body)
}

/// JSON evidence records as they are sent: one, an array, or one per line.
fn upload_json(api: &Api, reporter: &str, body: &str) -> Value {
    send(api, reporter, "application/json", body)
}

fn send(api: &Api, reporter: &str, content_type: &str, body: &str) -> Value {
    let url = format!("{}/v1/evidence?reporter={reporter}", api.base);
    let resp = ureq::post(&url)
        .set("Authorization", &format!("Bearer {}", api.token))
        .set("Content-Type", content_type)
        .send_string(body);
    match resp {
        Ok(r) => r.into_json().expect("json"),
        Err(ureq::Error::Status(code, r)) => panic!("HTTP {code}: {}", r.into_string().unwrap_or_default()),
        Err(e) => panic!("{e}"),
    }
}

/// A volume record: `messages` received from `ip` on the day `days_ago` before today (UTC).
fn volume(ip: &str, days_ago: u64, messages: u64) -> String {
    let day = dnsbl::evidence::day_of(dnsbl::clock::unix_now() - days_ago * 86_400);
    json!({"kind": "volume", "ip": ip, "day": day, "messages": messages}).to_string()
}

/// A server on a fresh data directory with the named reporters added, and its operator API.
fn with_reporters(names: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, TestServer, Api) {
    let (dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    for name in names {
        let (status, made) =
            api.call("POST", "/v1/reporters", None, Some(json!({"name": name, "contact": "fbl@x.example"})));
        assert_eq!(status, 201, "{made}");
    }
    (dir, data, s, api)
}

/// Several reports as one mbox.
fn mbox(reports: &[String]) -> String {
    reports.iter().map(|r| format!("From fbl@reporter.example Tue Dec  1 10:00:00 2026\n{r}\n")).collect()
}

#[test]
fn three_mailings_from_two_reporters_list_with_127_0_0_4_when_the_upload_returns() {
    let (_dir, data, s, api) = with_reporters(&["isp-a", "isp-b"]);

    // Two mailings from two reporters: not yet.
    let first =
        upload(&api, "isp-a", &mbox(&[report("45.67.8.9", "m1:shop", "r1@a"), report("45.67.8.9", "m2:shop", "r2@a")]));
    assert_eq!((first["accepted"].clone(), first["listed"].clone()), (json!(2), json!([])), "{first}");
    assert!(codes(&s, "9.8.67.45").is_empty());
    // The same report again counts once.
    let again = upload(&api, "isp-a", &report("45.67.8.9", "m2:shop", "r2@a"));
    assert_eq!((again["accepted"].clone(), again["duplicates"].clone()), (json!(0), json!(1)), "{again}");
    // The third mailing, from a second reporter: listed, in DNS now.
    let third = upload(&api, "isp-b", &report("45.67.8.9", "m3:shop", "r3@b"));
    assert_eq!(third["listed"][0]["ip"], "45.67.8.9", "{third}");
    assert_eq!(third["listed"][0]["summary"], "complaints about 3 mailings from 2 reporters");
    assert_eq!(codes(&s, "9.8.67.45"), ["127.0.0.4"]);
    let txt = txt_records(&ask(s.addr, "9.8.67.45.bl.localhost", RecordType::TXT));
    assert!(txt[0].contains("policy three-strikes") && txt[0].contains("ends by itself"), "{txt:?}");
    let until = third["listed"][0]["until"].as_u64().expect("until");
    assert!(until > dnsbl::clock::unix_now() + 6 * 86_400, "about a week");

    // One reporter alone, however many mailings: not listed. Two mailings with many complaints: not.
    let lone: Vec<String> = (0..4).map(|i| report("45.67.8.10", &format!("m{i}"), &format!("lone{i}@a"))).collect();
    assert_eq!(upload(&api, "isp-a", &mbox(&lone))["listed"], json!([]));
    let same: Vec<String> =
        (0..4).map(|i| report("45.67.8.11", &format!("m{}", i % 2), &format!("same{i}@x"))).collect();
    upload(&api, "isp-a", &mbox(&same[..2]));
    assert_eq!(upload(&api, "isp-b", &mbox(&same[2..]))["listed"], json!([]));
    assert!(codes(&s, "10.8.67.45").is_empty() && codes(&s, "11.8.67.45").is_empty());

    // What gives no evidence is refused, with its position and why.
    let mixed = mbox(&[
        "Subject: hello\r\n\r\nnot a report\r\n".to_string(),
        report("192.0.2.1", "x", "doc@a"),
        report("127.0.0.2", "x", "tp@a"),
        report("45.67.8.12", "x", "ok@a"),
    ]);
    let answer = upload(&api, "isp-a", &mixed);
    let refused: Vec<String> = answer["refused"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| format!("{}: {}", r["message"], r["error"]))
        .collect();
    assert_eq!(answer["accepted"], 1, "{answer}");
    assert!(refused[0].starts_with("1: ") && refused[0].contains("not a feedback report"), "{refused:?}");
    assert!(refused[1].starts_with("2: ") && refused[1].contains("denied range 192.0.2.0/24"), "{refused:?}");
    assert!(refused[2].starts_with("3: ") && refused[2].contains("test point"), "{refused:?}");

    // The evidence is there with its provenance, and the history names the policy.
    let (status, evidence) = api.call("GET", "/v1/evidence/45.67.8.9", None, None);
    assert_eq!(status, 200);
    let reporters: Vec<&str> =
        evidence.as_array().expect("list").iter().filter_map(|e| e["reporter"].as_str()).collect();
    assert_eq!(reporters, ["isp-a", "isp-a", "isp-b"]);
    let (_, history) = api.call("GET", "/v1/history?prefix=45.67.8.9", None, None);
    assert_eq!(history[0]["actor"], "policy three-strikes", "{history}");
    assert_eq!(history[0]["dataset"], "evidence");

    // A restart keeps the listing and the evidence.
    s.stop();
    let s = TestServer::in_dir(&data);
    assert_eq!(codes(&s, "9.8.67.45"), ["127.0.0.4"]);
    let (base, token) = s.api(&data);
    let (_, evidence) = Api { base, token }.call("GET", "/v1/evidence/45.67.8.9", None, None);
    assert_eq!(evidence.as_array().map(Vec::len), Some(3));
}

#[test]
fn a_reporter_sends_in_its_own_name_with_its_own_token_and_nothing_else() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base: base.clone(), token };
    let (status, made) =
        api.call("POST", "/v1/reporters", None, Some(json!({"name": "isp-a", "contact": "fbl@isp-a.example"})));
    assert_eq!(status, 201);
    let own = made["token"].as_str().expect("token shown once").to_string();
    assert!(own.starts_with("dnsbl_rp_"));
    let (_, listed) = api.call("GET", "/v1/reporters", None, None);
    assert_eq!(listed[0]["name"], "isp-a");
    assert!(listed[0].get("token").is_none(), "never shown again: {listed}");

    // The status and the answer of one upload.
    let send = |token: &str, query: &str| -> (u16, Value) {
        let sent = ureq::post(&format!("{base}/v1/evidence{query}"))
            .set("Authorization", &format!("Bearer {token}"))
            .send_string(&report("45.67.8.20", "m1", "own1@a"));
        match sent {
            Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(code, _)) => (code, Value::Null),
            Err(e) => panic!("{e}"),
        }
    };
    let status = |(code, _): (u16, Value)| code;
    let (code, ok) = send(&own, "");
    assert_eq!((code, ok["accepted"].clone()), (200, json!(1)), "{ok}");
    assert_eq!(status(send(&own, "?reporter=isp-b")), 403, "not in another's name");
    assert_eq!(status(send(&api.token, "?reporter=nobody")), 404, "an unknown reporter");
    assert_eq!(status(send(&api.token, "")), 400, "the operator names the reporter");
    let (code, _) = api.call("GET", "/v1/evidence/45.67.8.20", Some(&own), None);
    assert_eq!(code, 403, "a reporter does not read the evidence");
    let (code, _) = api.call("GET", "/v1/stats", Some(&own), None);
    assert_eq!(code, 403);
    // Removed, its token stops working; what it sent stays.
    let (code, _) = api.call("DELETE", "/v1/reporters/isp-a", None, None);
    assert_eq!(code, 200);
    assert_eq!(status(send(&own, "")), 401);
    let (_, evidence) = api.call("GET", "/v1/evidence/45.67.8.20", None, None);
    assert_eq!(evidence.as_array().map(Vec::len), Some(1));
}

/// A message that reached the trap `trap` from `ip` (undated: it counts as arriving now, so
/// the test does not age out of the policy's window).
fn trap_message(ip: &str, trap: &str, id: &str) -> String {
    format!(
        "Delivered-To: {trap}\r\nReceived: from out.promo.example (out.promo.example [{ip}])\r\n\tby mx.traps.example\r\n\
         From: offers@promo.example\r\nSubject: You won\r\nMessage-ID: <{id}>\r\n\r\nClick.\r\n"
    )
}

#[test]
fn trap_hits_to_two_traps_list_by_themselves_and_json_records_count_too() {
    let (_dir, _data, s, api) = with_reporters(&["traps"]);
    // Five hits to one trap address: not listed (one mistyped address is not a pattern).
    let one: Vec<String> = (0..5).map(|i| trap_message("45.67.8.40", "t1@traps.example", &format!("a{i}@p"))).collect();
    let answer = upload(&api, "traps&kind=trap", &mbox(&one));
    assert_eq!((answer["accepted"].clone(), answer["listed"].clone()), (json!(5), json!([])), "{answer}");
    // Hits to a second trap address, two as messages and one as a JSON record: listed.
    let two: Vec<String> = (0..2).map(|i| trap_message("45.67.8.40", "t2@traps.example", &format!("b{i}@p"))).collect();
    let answer = upload(&api, "traps&kind=trap", &mbox(&two));
    assert_eq!(answer["listed"][0]["policy"], "trap-hits", "{answer}");
    assert_eq!(answer["listed"][0]["summary"], "7 trap hits to 2 trap addresses");
    assert_eq!(codes(&s, "40.8.67.45"), ["127.0.0.4"]);
    let txt = txt_records(&ask(s.addr, "40.8.67.45.bl.localhost", RecordType::TXT));
    assert!(txt[0].contains("policy trap-hits"), "{txt:?}");

    // JSON records: traps count, bad records say why.
    let now = dnsbl::clock::unix_now();
    let records = json!([
        {"kind": "trap", "ip": "45.67.8.41", "at": now - 60, "recipient": "t1@traps.example", "id": "j1"},
        {"kind": "spam", "ip": "45.67.8.41"},
        {"kind": "trap", "ip": "not-an-ip", "recipient": "t1@traps.example"},
        {"kind": "trap", "ip": "45.67.8.41"}
    ]);
    let (status, answer) = api.call("POST", "/v1/evidence?reporter=traps", None, Some(records));
    assert_eq!((status, answer["accepted"].clone()), (200, json!(1)), "{answer}");
    let errors: Vec<&str> =
        answer["refused"].as_array().expect("list").iter().filter_map(|r| r["error"].as_str()).collect();
    assert!(errors[0].contains("unknown evidence kind \"spam\" (trap, volume)"), "{errors:?}");
    assert!(errors[1].contains("is not an IP address"), "{errors:?}");
    assert!(errors[2].contains("needs the trap address"), "{errors:?}");
    let (_, evidence) = api.call("GET", "/v1/evidence/45.67.8.41", None, None);
    assert_eq!((evidence[0]["kind"].clone(), evidence[0]["about"].clone()), (json!("trap"), json!("t1@traps.example")));
}

#[test]
fn evidence_is_kept_for_its_retention_and_older_evidence_is_refused_or_dropped() {
    let (_dir, _data, s, api) = with_reporters(&["traps"]);
    let now = dnsbl::clock::unix_now();
    let day = 86_400;
    let records = json!([
        {"kind": "trap", "ip": "45.67.8.50", "at": now - 100 * day, "recipient": "t1@traps.example", "id": "old"},
        {"kind": "trap", "ip": "45.67.8.50", "at": now - 10 * day, "recipient": "t1@traps.example", "id": "recent"},
        {"kind": "trap", "ip": "45.67.8.50", "at": now - 60, "recipient": "t2@traps.example", "id": "new"}
    ]);
    let (status, answer) = api.call("POST", "/v1/evidence?reporter=traps", None, Some(records));
    assert_eq!((status, answer["accepted"].clone()), (200, json!(2)), "{answer}");
    assert!(answer["refused"][0]["error"]
        .as_str()
        .is_some_and(|e| e.contains("older than the evidence retention (90 days)")));
    let (_, stats) = api.call("GET", "/v1/stats", None, None);
    assert!(stats["evidence_records"].as_u64().is_some(), "{stats}");
    // 85 days on, the 10-day-old hit is past 90 days and goes; the newer one stays.
    let dropped = s.with_publisher(|p| p.expire_evidence(now + 85 * day)).expect("sweep");
    assert_eq!(dropped, 1);
    let (_, evidence) = api.call("GET", "/v1/evidence/45.67.8.50", None, None);
    let ids: Vec<&str> = evidence.as_array().expect("list").iter().filter_map(|e| e["report_id"].as_str()).collect();
    assert_eq!(ids, ["new"]);
    // 95 days on, the last one goes too.
    let dropped = s.with_publisher(|p| p.expire_evidence(now + 95 * day)).expect("sweep");
    assert_eq!(dropped, 1);
}

#[test]
fn a_listing_ends_by_itself_and_a_repeat_lasts_twice_as_long() {
    let (_dir, _data, s, api) = with_reporters(&["isp-a", "isp-b"]);
    upload(&api, "isp-a", &mbox(&[report("45.67.8.60", "m1", "e1@a"), report("45.67.8.60", "m2", "e2@a")]));
    let first = upload(&api, "isp-b", &report("45.67.8.60", "m3", "e3@b"));
    let now = dnsbl::clock::unix_now();
    let day = 86_400;
    let until = first["listed"][0]["until"].as_u64().expect("listed");
    assert!((now + 7 * day - 5..=now + 7 * day + 5).contains(&until), "a first listing: 7 days");
    // The lookup shows the policy and when the listing ends.
    let (_, lookup) = api.call("GET", "/v1/lookup/45.67.8.60", None, None);
    let evidence = lookup["zones"][0]["datasets"]
        .as_array()
        .expect("datasets")
        .iter()
        .find(|d| d["dataset"] == "evidence")
        .cloned();
    let evidence = evidence.unwrap_or_else(|| panic!("no evidence dataset in {lookup}"));
    assert_eq!(evidence["decided_by"]["expires_at"], until, "{evidence}");
    assert!(evidence["txt"].as_str().is_some_and(|t| t.contains("three-strikes")), "{evidence}");

    // Eight days on the listing has ended by itself (the expiry timer, with the clock moved).
    let removed = s.with_publisher(|p| p.expire_due(now + 8 * day)).expect("expiry");
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(codes(&s, "60.8.67.45").is_empty());
    let (_, history) = api.call("GET", "/v1/history?prefix=45.67.8.60", None, None);
    let last = history.as_array().and_then(|h| h.last()).cloned().expect("history");
    assert_eq!(
        (last["action"].clone(), last["actor"].clone(), last["source"].clone()),
        (json!("expired"), json!("policy three-strikes"), json!("expiry")),
        "the policy's listing ends in its name: {history}"
    );
    // A new complaint while the old ones are still inside the window: listed again, for 14 days.
    let again = upload(&api, "isp-b", &report("45.67.8.60", "m4", "e4@b"));
    let until = again["listed"][0]["until"].as_u64().expect("listed again");
    assert!((now + 14 * day - 5..=now + 14 * day + 5).contains(&until), "a repeat: 14 days ({again})");
    assert_eq!(codes(&s, "60.8.67.45"), ["127.0.0.4"]);
}

#[test]
fn a_declared_sender_that_trips_a_policy_answers_both_codes_and_its_marketer_sees_the_evidence() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    let acme = api.acme_declaring("Acme Mailing Ltd", "GB-1", "192.88.99.7");
    assert_eq!(codes(&s, "7.99.88.192"), ["127.0.0.2"]);
    for name in ["isp-a", "isp-b"] {
        api.call("POST", "/v1/reporters", None, Some(json!({"name": name, "contact": "fbl@x.example"})));
    }
    // Declared, then caught: the union answers both codes. Undeclared inside the protected
    // network, and caught: listed with 127.0.0.4 (protection covers the operator's listings only).
    for ip in ["192.88.99.7", "192.88.99.8"] {
        upload(&api, "isp-a", &mbox(&[report(ip, "m1", &format!("{ip}-1")), report(ip, "m2", &format!("{ip}-2"))]));
        upload(&api, "isp-b", &report(ip, "m3", &format!("{ip}-3")));
    }
    assert_eq!(codes(&s, "7.99.88.192"), ["127.0.0.2", "127.0.0.4"]);
    assert_eq!(codes(&s, "8.99.88.192"), ["127.0.0.4"]);
    // The marketer sees the complaints against what it declared.
    let (_, mine) = api.call("GET", "/v1/registrations", Some(&acme), None);
    let declared = &mine["registrations"][0];
    assert_eq!(
        (declared["prefix"].clone(), declared["complaints_30d"].clone()),
        (json!("192.88.99.7/32"), json!(3)),
        "{mine}"
    );
    assert_eq!(declared["trap_hits_30d"], 0);
    assert_eq!((declared["messages_30d"].clone(), declared["complaint_rate_30d"].clone()), (json!(0), json!(null)));
    // With isp-a's volume the marketer sees its complaint rate: isp-a's 2 complaints of its
    // 2,000 messages (isp-b's complaint is no share of isp-a's volume).
    upload_json(&api, "isp-a", &volume("192.88.99.7", 1, 2000));
    let (_, mine) = api.call("GET", "/v1/registrations", Some(&acme), None);
    let declared = &mine["registrations"][0];
    assert_eq!(
        (declared["messages_30d"].clone(), declared["complaint_rate_30d"].clone()),
        (json!(2000), json!("0.10 %"))
    );
}

#[test]
fn an_operator_exclusion_in_the_evidence_dataset_covers_a_shared_forwarder() {
    let (_dir, _data, s, api) = with_reporters(&["isp-a", "isp-b"]);
    let exclusion = json!({"prefix": "45.67.9.0/24", "reason": "the ISP's shared forwarders", "dataset": "evidence"});
    let (status, body) = api.call("POST", "/v1/zones/bl.localhost/exclusions", None, Some(exclusion));
    assert_eq!(status, 201, "{body}");
    upload(&api, "isp-a", &mbox(&[report("45.67.9.25", "m1", "f1"), report("45.67.9.25", "m2", "f2")]));
    let third = upload(&api, "isp-b", &report("45.67.9.25", "m3", "f3"));
    assert_eq!(third["listed"], json!([]), "{third}");
    assert!(codes(&s, "25.9.67.45").is_empty(), "the exclusion covers the address for the policy");
    let (_, history) = api.call("GET", "/v1/history?prefix=45.67.9.25", None, None);
    let actions: Vec<String> = history
        .as_array()
        .expect("list")
        .iter()
        .map(|r| format!("{} by {}", r["action"].as_str().unwrap_or(""), r["actor"].as_str().unwrap_or("")))
        .collect();
    assert!(actions.contains(&"add-exclusion by operator".to_string()), "audited: {actions:?}");
}

#[test]
fn complaints_over_one_percent_of_the_reported_volume_list_by_complaint_rate() {
    let (_dir, _data, s, api) = with_reporters(&["isp-a", "isp-b"]);
    // 1,000 messages over two days, sent one record per line; 10 complaints about one mailing
    // are exactly 1 %: not over it.
    let lines = format!("{}\n{}\n", volume("45.67.8.70", 1, 600), volume("45.67.8.70", 0, 400));
    let answer = upload_json(&api, "isp-a", &lines);
    assert_eq!((answer["accepted"].clone(), answer["refused"].clone()), (json!(2), json!([])), "{answer}");
    let ten: Vec<String> = (0..10).map(|i| report("45.67.8.70", "m1", &format!("rate{i}@a"))).collect();
    assert_eq!(upload(&api, "isp-a", &mbox(&ten))["listed"], json!([]));
    // Another reporter's complaints are no share of isp-a's volume.
    assert_eq!(upload(&api, "isp-b", &report("45.67.8.70", "m1", "rate-b@b"))["listed"], json!([]));
    assert!(codes(&s, "70.8.67.45").is_empty());
    // The eleventh complaint from isp-a: 1.10 %, listed in DNS when the upload returns.
    let answer = upload(&api, "isp-a", &report("45.67.8.70", "m1", "rate10@a"));
    let listed = &answer["listed"][0];
    assert_eq!((listed["policy"].clone(), listed["zone"].clone()), (json!("complaint-rate"), json!("bl.localhost")));
    assert_eq!(listed["summary"], "11 complaints over 1000 messages (1.10 %) from 1 reporter", "{answer}");
    assert_eq!(codes(&s, "70.8.67.45"), ["127.0.0.4"]);
    let txt = txt_records(&ask(s.addr, "70.8.67.45.bl.localhost", RecordType::TXT));
    assert!(txt[0].contains("policy complaint-rate") && txt[0].contains("(1.10 %)"), "{txt:?}");

    // A later figure for the same day replaces the earlier one; the same figure again is a
    // duplicate; one evidence record per reporter, address and day.
    let answer = upload_json(&api, "isp-a", &volume("45.67.8.71", 0, 400));
    assert_eq!(answer["accepted"], 1);
    let answer =
        upload_json(&api, "isp-a", &format!("[{}, {}]", volume("45.67.8.71", 0, 900), volume("45.67.8.71", 0, 900)));
    assert_eq!((answer["accepted"].clone(), answer["duplicates"].clone()), (json!(1), json!(1)), "{answer}");
    let (_, evidence) = api.call("GET", "/v1/evidence/45.67.8.71", None, None);
    assert_eq!(evidence.as_array().map(Vec::len), Some(1), "{evidence}");
    assert_eq!((evidence[0]["kind"].clone(), evidence[0]["messages"].clone()), (json!("volume"), json!(900)));

    // Bad volume records say why and record nothing.
    let tomorrow = dnsbl::evidence::day_of(dnsbl::clock::unix_now() + 86_400);
    let bad = json!([
        {"kind": "volume", "ip": "45.67.8.72", "day": tomorrow, "messages": 5},
        {"kind": "volume", "ip": "45.67.8.72", "day": "30.11.2026", "messages": 5},
        {"kind": "volume", "ip": "45.67.8.72", "day": "2026-11-30"},
        {"kind": "volume", "ip": "45.67.8.72", "day": "2026-11-30", "messages": 5, "colour": "red"},
        {"kind": "volume", "ip": "10.1.2.3", "day": "2026-11-30", "messages": 5}
    ]);
    let (status, answer) = api.call("POST", "/v1/evidence?reporter=isp-a", None, Some(bad));
    assert_eq!((status, answer["accepted"].clone()), (200, json!(0)), "{answer}");
    let errors: Vec<&str> =
        answer["refused"].as_array().expect("list").iter().filter_map(|r| r["error"].as_str()).collect();
    assert!(errors[0].contains("a day that has not begun"), "{errors:?}");
    assert!(errors[1].contains("is not a day (YYYY-MM-DD)"), "{errors:?}");
    assert!(errors[2].contains("needs messages"), "{errors:?}");
    assert!(errors[3].contains("unknown field `colour`"), "{errors:?}");
    assert!(errors[4].contains("denied range 10.0.0.0/8"), "{errors:?}");
    let (_, evidence) = api.call("GET", "/v1/evidence/45.67.8.72", None, None);
    assert_eq!(evidence, json!([]));
}

#[test]
fn each_zone_holds_evidence_to_its_own_policies() {
    let (_dir, data) = temp_data();
    let mut config = test_config(&data);
    let mut strict = config.zones[0].clone();
    strict.origin = dnsbl::name::DomainName::parse("bl-4.localhost").expect("name");
    // Four mailings, and no trap-hits or complaint-rate in this zone.
    let strikes = config.zones[0].evidence.three_strikes.map(|t| dnsbl::config::ThreeStrikes { mailings: 4, ..t });
    strict.evidence = dnsbl::config::Policies { three_strikes: strikes, complaint_rate: None, trap_hits: None };
    config.zones.push(strict);
    let s = TestServer::start(config);
    let (base, token) = s.api(&data);
    let api = Api { base, token };
    for name in ["isp-a", "isp-b", "traps"] {
        api.call("POST", "/v1/reporters", None, Some(json!({"name": name, "contact": "fbl@x.example"})));
    }
    let in_strict = |rev: &str| a_records(&ask(s.addr, &format!("{rev}.bl-4.localhost"), RecordType::A));
    upload(&api, "isp-a", &mbox(&[report("45.67.8.80", "m1", "z1@a"), report("45.67.8.80", "m2", "z2@a")]));
    let third = upload(&api, "isp-b", &report("45.67.8.80", "m3", "z3@b"));
    let zones: Vec<&str> =
        third["listed"].as_array().expect("list").iter().filter_map(|l| l["zone"].as_str()).collect();
    assert_eq!(zones, ["bl.localhost"], "{third}");
    assert_eq!((codes(&s, "80.8.67.45"), in_strict("80.8.67.45")), (vec!["127.0.0.4".to_string()], vec![]));
    let fourth = upload(&api, "isp-b", &report("45.67.8.80", "m4", "z4@b"));
    let zones: Vec<&str> =
        fourth["listed"].as_array().expect("list").iter().filter_map(|l| l["zone"].as_str()).collect();
    assert_eq!(zones, ["bl.localhost", "bl-4.localhost"], "{fourth}");
    assert_eq!(in_strict("80.8.67.45"), ["127.0.0.4"]);
    let (_, history) = api.call("GET", "/v1/history?prefix=45.67.8.80", None, None);
    let strict_actor =
        history.as_array().expect("list").iter().find(|h| h["zone"] == "bl-4.localhost").map(|h| h["actor"].clone());
    assert_eq!(strict_actor, Some(json!("policy three-strikes")), "{history}");
    // Trap hits list only where trap-hits is a policy.
    let hits: Vec<String> =
        (0..6).map(|i| trap_message("45.67.8.81", &format!("t{}@traps.example", i % 2), &format!("zt{i}@p"))).collect();
    let answer = upload(&api, "traps&kind=trap", &mbox(&hits));
    assert_eq!(answer["listed"].as_array().map(Vec::len), Some(1), "{answer}");
    assert_eq!((codes(&s, "81.8.67.45"), in_strict("81.8.67.45")), (vec!["127.0.0.4".to_string()], vec![]));
}

#[test]
fn an_oversized_upload_is_refused_whole_and_an_oversized_report_alone() {
    let (_dir, _data, _s, api) = with_reporters(&["isp-a"]);
    // More than 16 MiB: 413, nothing recorded.
    let mut huge = report("45.67.8.90", "m1", "huge@a");
    huge.push_str(&"x".repeat(16 << 20));
    let sent = ureq::post(&format!("{}/v1/evidence?reporter=isp-a", api.base))
        .set("Authorization", &format!("Bearer {}", api.token))
        .send_string(&huge);
    assert!(matches!(sent, Err(ureq::Error::Status(413, _))), "{sent:?}");
    // One report over 1 MiB in an mbox: that one is refused, the others count.
    let mut big = report("45.67.8.91", "m1", "big@a");
    big.push_str(&format!("{}\r\n", "y".repeat(1 << 20)));
    let answer = upload(&api, "isp-a", &mbox(&[big, report("45.67.8.92", "m1", "small@a")]));
    assert_eq!(answer["accepted"], 1, "{answer}");
    assert!(answer["refused"][0]["error"].as_str().is_some_and(|e| e.contains("larger than")), "{answer}");
    for ip in ["45.67.8.90", "45.67.8.91"] {
        let (_, evidence) = api.call("GET", &format!("/v1/evidence/{ip}"), None, None);
        assert_eq!(evidence, json!([]), "{ip}");
    }
}
