//! DNS cookies (RFC 7873, RFC 9018 server cookies) on the running server: a client cookie gets a
//! server cookie, returning it is valid (and exempts the client from rate limiting), someone
//! else's gets BADCOOKIE over UDP, servers sharing the secrets file accept each other's cookies,
//! a reload reads the secrets again, and BIND's dig speaks it with us.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::*;

const LISTED: &str = "2.0.0.127.bl.localhost";

fn stats(s: &TestServer, data: &Path) -> serde_json::Value {
    let (base, token) = s.api(data);
    let (status, stats) = Api { base, token }.call("GET", "/v1/stats", None, None);
    assert_eq!(status, 200);
    stats
}

fn write_secrets(data: &Path, lines: &[&str]) {
    std::fs::create_dir_all(data).expect("data dir");
    std::fs::write(data.join("cookie.secret"), lines.join("\n") + "\n").expect("secrets");
}

const CLIENT: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const S1: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";
const S2: &str = "445536bcd2513298075a5d379663c962";

/// Asks once with the client cookie alone; the full COOKIE option the server answered.
fn learn(addr: SocketAddr) -> Vec<u8> {
    let reply = udp(addr, &with_cookie(LISTED, RecordType::A, &CLIENT));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    cookie_of(&reply).expect("a server cookie")
}

#[test]
fn a_client_cookie_gets_a_server_cookie_that_is_then_valid_on_both_paths_and_transports() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let secret = std::fs::metadata(data.join("cookie.secret")).expect("the secret file is made at start");
    assert_eq!(secret.permissions().mode() & 0o777, 0o600);

    let cookie = learn(s.addr);
    assert_eq!(cookie.len(), 24, "client cookie + RFC 9018 server cookie");
    assert_eq!(&cookie[..8], &CLIENT, "the client's own cookie comes back");
    assert_eq!(cookie[8], 1, "version 1");
    // Returned, it is valid: the reply answers and echoes it (it is fresh), on the lean path (A,
    // TXT), the full path (the apex SOA) and over TCP.
    for (name, rtype) in [(LISTED, RecordType::A), (LISTED, RecordType::TXT), ("bl.localhost", RecordType::SOA)] {
        let q = with_cookie(name, rtype, &cookie);
        for reply in [udp(s.addr, &q), tcp(s.addr, &q)] {
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{name} {rtype}");
            assert!(!reply.answers.is_empty(), "{name} {rtype}");
            assert_eq!(cookie_of(&reply).as_deref(), Some(&cookie[..]), "{name} {rtype}");
        }
    }
    // A query without a cookie gets none.
    assert_eq!(cookie_of(&udp(s.addr, &question(LISTED, RecordType::A, Some(edns(1232, 0))))), None);
    let st = stats(&s, &data);
    assert_eq!(st["udp"]["cookies_client_only"], 1, "{st}");
    assert_eq!(st["udp"]["cookies_valid"], 3, "{st}");
    assert_eq!(st["tcp"]["cookies_valid"], 3, "{st}");
}

#[test]
fn a_server_cookie_that_is_not_ours_is_badcookie_over_udp_and_answered_over_tcp() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let mut forged = learn(s.addr);
    forged[23] ^= 0xff;
    let q = with_cookie(LISTED, RecordType::A, &forged);
    let reply = udp(s.addr, &q);
    assert_eq!(reply.metadata.response_code, ResponseCode::BADCOOKIE);
    assert!(reply.answers.is_empty());
    let fresh = cookie_of(&reply).expect("BADCOOKIE carries a cookie to retry with");
    assert_ne!(fresh, forged);
    let retried = udp(s.addr, &with_cookie(LISTED, RecordType::A, &fresh));
    assert_eq!(a_records(&retried), ["127.0.0.2"], "the retry with the fresh cookie is answered");
    // TCP proves the address by its handshake: answered, with a good cookie.
    let over_tcp = tcp(s.addr, &q);
    assert_eq!(a_records(&over_tcp), ["127.0.0.2"]);
    assert_eq!(cookie_of(&over_tcp).map(|c| c[..8].to_vec()), Some(CLIENT.to_vec()));
    assert_eq!(stats(&s, &data)["udp"]["cookies_invalid"], 1);
}

#[test]
fn a_cookie_option_of_a_length_rfc_7873_does_not_allow_is_formerr() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    for len in [0, 7, 9, 15, 41] {
        let reply = udp(s.addr, &with_cookie(LISTED, RecordType::A, &vec![7; len]));
        assert_eq!(reply.metadata.response_code, ResponseCode::FormErr, "{len} bytes");
    }
}

#[test]
fn servers_sharing_the_secrets_accept_each_others_cookies_and_a_retired_secret_still_counts() {
    let dirs: Vec<_> = (0..3).map(|_| temp_data()).collect();
    write_secrets(&dirs[0].1, &[S1]);
    write_secrets(&dirs[1].1, &[&format!("# rolled {S1} -> {S2}"), S2, S1]);
    write_secrets(&dirs[2].1, &[S2]);
    let servers: Vec<TestServer> = dirs.iter().map(|(_, d)| TestServer::in_dir(d)).collect();
    let made_by_first = learn(servers[0].addr);
    let q = with_cookie(LISTED, RecordType::A, &made_by_first);
    let at_second = udp(servers[1].addr, &q);
    assert_eq!(a_records(&at_second), ["127.0.0.2"], "the second server accepts the retired secret's cookie");
    assert_eq!(stats(&servers[1], &dirs[1].1)["udp"]["cookies_valid"], 1);
    let at_third = udp(servers[2].addr, &q);
    assert_eq!(at_third.metadata.response_code, ResponseCode::BADCOOKIE, "the third never had that secret");
    // The cookie the second and third make with their shared current secret is good at both.
    let renewed = cookie_of(&at_third).expect("cookie");
    assert_eq!(a_records(&udp(servers[1].addr, &with_cookie(LISTED, RecordType::A, &renewed))), ["127.0.0.2"]);
}

#[test]
fn a_reload_reads_the_secrets_again_and_a_bad_file_keeps_the_running_ones() {
    let (_dir, data) = temp_data();
    write_secrets(&data, &[S1]);
    let s = TestServer::in_dir(&data);
    let cookie = learn(s.addr);
    let q = with_cookie(LISTED, RecordType::A, &cookie);

    write_secrets(&data, &[S1, "not a secret"]);
    let err = s.reload(test_config(&data)).expect_err("a bad secrets file is refused");
    let shown = err.to_string();
    assert!(shown.contains("cookie.secret:2: a secret is 32 hexadecimal digits"), "{shown}");
    assert_eq!(a_records(&udp(s.addr, &q)), ["127.0.0.2"], "the running secrets stay");

    write_secrets(&data, &[S2]);
    let report = s.reload(test_config(&data)).expect("reload");
    assert!(report.cookies_changed);
    assert_eq!(udp(s.addr, &q).metadata.response_code, ResponseCode::BADCOOKIE, "the old secret is gone");

    let mut off = test_config(&data);
    off.server.cookie_secret_file = None;
    s.reload(off).expect("reload");
    let reply = udp(s.addr, &q);
    assert_eq!((a_records(&reply), cookie_of(&reply)), (vec!["127.0.0.2".to_string()], None), "cookies off");
}

#[test]
fn a_bad_secrets_file_stops_the_start_with_its_line() {
    let (_dir, data) = temp_data();
    write_secrets(&data, &["# ours", "e5e973e5"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let err = runtime.block_on(dnsbl::daemon::RunningServer::start(test_config(&data))).expect_err("refused");
    assert!(err.to_string().contains("cookie.secret:2: a secret is 32 hexadecimal digits"), "{err}");
}

#[test]
fn bind_dig_learns_our_cookie_returns_it_and_retries_after_badcookie() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let dig = |extra: &[&str]| -> String {
        let out = Command::new("dig")
            .args(["@127.0.0.1", "-p", &s.addr.port().to_string(), "+time=2", "+tries=2"])
            .args(extra)
            .args([LISTED, "A"])
            .output()
            .expect("dig runs (make installs bind9-dnsutils)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = dig(&["+cookie"]);
    let line = first.lines().find(|l| l.starts_with("; COOKIE:")).unwrap_or_else(|| panic!("no cookie: {first}"));
    assert!(line.ends_with("(good)"), "{line}");
    let cookie = line.split_whitespace().nth(2).expect("hex").to_string();
    assert_eq!(cookie.len(), 48, "{line}");
    let again = dig(&[&format!("+cookie={cookie}")]);
    assert!(again.contains(&format!("; COOKIE: {cookie} (good)")) && again.contains("127.0.0.2"), "{again}");
    assert_eq!(stats(&s, &data)["udp"]["cookies_valid"], 1);
    // A cookie the server did not make: dig is told BADCOOKIE and retries with the fresh one.
    let forged = format!("{}00000000", &cookie[..40]);
    let retried = dig(&[&format!("+cookie={forged}")]);
    assert!(retried.contains(";; BADCOOKIE, retrying.") && retried.contains("127.0.0.2"), "{retried}");
    eventually(Duration::from_secs(2), "counted", || {
        let st = stats(&s, &data);
        holds(st["udp"]["cookies_invalid"] == 1 && st["udp"]["cookies_valid"] == 2, || st.to_string())
    });
}
