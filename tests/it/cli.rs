//! The `dnsbl` binary: serve with signals, zone import with its errors, config check, exit codes.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::*;

fn dnsbl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dnsbl")).args(args).env("DNSBL_LOG", "info").output().expect("run dnsbl")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// Starts `dnsbl serve` on 127.0.0.1:0 and waits for the addresses it logs (DNS, then API).
fn spawn_server(data: &Path) -> (Child, SocketAddr, mpsc::Receiver<String>) {
    let (child, addr, _api, rx) = spawn_server_with_api(data);
    (child, addr, rx)
}

/// `dnsbl serve` with DNS, the API and the web pages on free loopback ports.
const SERVE_ON_FREE_PORTS: [&str; 7] =
    ["serve", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0"];

fn spawn_server_with_api(data: &Path) -> (Child, SocketAddr, SocketAddr, mpsc::Receiver<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dnsbl"));
    cmd.args(SERVE_ON_FREE_PORTS).arg("--data-dir").arg(data);
    spawn_logged(cmd)
}

/// Starts `cmd` (a `dnsbl serve` on port 0 for DNS and the API) with its log piped, and waits for
/// the two addresses it logs (DNS, then API).
fn spawn_logged(mut cmd: Command) -> (Child, SocketAddr, SocketAddr, mpsc::Receiver<String>) {
    let mut child =
        cmd.env("DNSBL_LOG", "info").stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("spawn dnsbl serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut found: Vec<SocketAddr> = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        if let Some(addr) = line.split_whitespace().find_map(|w| w.strip_prefix("addr=")) {
            if let Ok(addr) = addr.parse() {
                found.push(addr);
                if found.len() == 2 {
                    return (child, found[0], found[1], rx);
                }
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("dnsbl serve did not log its addresses");
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let mut stopped = None;
    eventually(Duration::from_secs(5), "server did not stop on SIGTERM", || {
        stopped = child.try_wait().expect("wait");
        holds(stopped.is_some(), || "still running".into())
    });
    stopped.expect("stopped")
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm() {
    let (_dir, data) = temp_data();
    let (mut child, addr, logs) = spawn_server(&data);
    assert_eq!(a_records(&ask(addr, "2.0.0.127.bl.localhost", RecordType::A)), ["127.0.0.2"]);
    for _ in 0..50 {
        ask(addr, "9.9.9.9.bl.localhost", RecordType::A);
    }
    let status = terminate(&mut child);
    assert!(status.success(), "exit status {status}");
    let lines: Vec<String> = logs.try_iter().collect();
    assert!(lines.iter().any(|l| l.contains("stopped")), "{lines:?}");
    assert!(lines.len() < 10, "no log line per query: {lines:?}");
}

#[test]
fn import_example_zone_then_serve_it() {
    let (_dir, data) = temp_data();
    let data_arg = data.to_str().expect("utf-8 path");
    let out = dnsbl(&["zone", "import", "zones/example.bl.rbldnsd", "--data-dir", data_arg, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(
        (report["zone"].as_str(), report["listings"].as_u64(), report["exclusions"].as_u64()),
        (Some("bl.localhost"), Some(6), Some(2))
    );
    let s = TestServer::in_dir(&data);
    let q = |name: &str, t| ask(s.addr, &format!("{name}.bl.localhost"), t);
    assert_eq!(a_records(&q("1.113.0.203", RecordType::A)), ["127.0.0.3"]);
    assert_eq!(
        txt_records(&q("1.113.0.203", RecordType::TXT)),
        ["Email marketing seen from 203.0.113.1, see https://bl.localhost/lookup?ip=203.0.113.1"]
    );
    assert!(q("77.113.0.203", RecordType::A).answers.is_empty(), "exclusion");
    assert_eq!(a_records(&q("8.100.51.198", RecordType::A)), ["127.0.0.4"]);
    assert_eq!(a_records(&q("20.2.0.192", RecordType::A)), ["127.0.0.3"], "range");
    assert!(q("32.2.0.192", RecordType::A).answers.is_empty(), "past the range");
    let six = v6_name("2001:db8:ac3e::1", "bl.localhost");
    assert_eq!(a_records(&ask(s.addr, &six, RecordType::A)), ["127.0.0.3"]);
    assert!(ask(s.addr, &v6_name("2001:db8:ac3e::25", "bl.localhost"), RecordType::A).answers.is_empty());
}

#[test]
fn bad_lines_are_reported_with_line_numbers_and_nothing_is_imported() {
    let (dir, data) = temp_data();
    let data_arg = data.to_str().expect("utf-8 path");
    let good = dir.path().join("good.rbldnsd");
    std::fs::write(&good, "192.0.2.1\n").expect("write");
    assert!(dnsbl(&["zone", "import", good.to_str().expect("path"), "--data-dir", data_arg]).status.success());

    let bad = dir.path().join("bad.rbldnsd");
    std::fs::write(&bad, "# header\n192.0.2.2\n300.1.1.1\n192.0.2.3 :1:x\n2001:db8::/200\n192.0.2.4\n").expect("write");
    let out = dnsbl(&["zone", "import", bad.to_str().expect("path"), "--data-dir", data_arg]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let shown = bad.display().to_string();
    for line in [3, 4, 5] {
        assert!(err.contains(&format!("{shown}:{line}: ")), "line {line} missing in: {err}");
    }
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(!err.contains(&format!("{shown}:2:")), "{err}");

    let s = TestServer::in_dir(&data);
    assert_eq!(a_records(&ask(s.addr, "1.2.0.192.bl.localhost", RecordType::A)), ["127.0.0.3"], "old data kept");
    assert!(ask(s.addr, "2.2.0.192.bl.localhost", RecordType::A).answers.is_empty(), "bad file not applied");
}

#[test]
fn import_while_serving_goes_through_the_server_in_one_change() {
    let (dir, data) = temp_data();
    let (mut child, addr, api, _logs) = spawn_server_with_api(&data);
    let server = format!("http://{api}");
    let data_arg = data.to_str().expect("path");
    let file = dir.path().join("list.rbldnsd");
    std::fs::write(&file, ":3:imported $\n192.0.2.0/24\n!192.0.2.7\n2001:db8::/32\n").expect("write");
    let out = dnsbl(&["zone", "import", file.to_str().expect("path"), "--data-dir", data_arg, "--server", &server]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("through the running server"), "{}", text(&out.stdout));
    assert_eq!(
        a_records(&ask(addr, "1.2.0.192.bl.localhost", RecordType::A)),
        ["127.0.0.3"],
        "visible when the command returns"
    );
    assert!(ask(addr, "7.2.0.192.bl.localhost", RecordType::A).answers.is_empty());

    // A bad file through the server: line numbers with the file's own name, nothing changed.
    let bad = dir.path().join("bad.rbldnsd");
    std::fs::write(&bad, "198.51.100.1\n300.1.1.1\n").expect("write");
    let out = dnsbl(&["zone", "import", bad.to_str().expect("path"), "--data-dir", data_arg, "--server", &server]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("bad.rbldnsd:2: "), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("uploads"), "no server paths in messages: {}", text(&out.stderr));
    assert!(ask(addr, "1.100.51.198.bl.localhost", RecordType::A).answers.is_empty());
    assert_eq!(a_records(&ask(addr, "1.2.0.192.bl.localhost", RecordType::A)), ["127.0.0.3"], "old list kept");

    let history = dnsbl(&["history", "192.0.2.1", "--server", &server, "--data-dir", data_arg]);
    assert!(
        text(&history.stdout).contains(
            "import 0.0.0.0/0 by operator via import (replaced the list: 2 listings, 1 exclusions from list.rbldnsd)"
        ),
        "{}",
        text(&history.stdout)
    );
    assert!(terminate(&mut child).success());
}

#[test]
fn import_refuses_unknown_zone() {
    let (_dir, data) = temp_data();
    let config = Path::new("config/dnsbl.toml");
    let out = dnsbl(&[
        "zone",
        "import",
        "zones/example.bl.rbldnsd",
        "--config",
        config.to_str().expect("path"),
        "--zone",
        "bad..name",
        "--data-dir",
        data.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a domain name"), "{}", text(&out.stderr));
}

#[test]
fn import_and_dataset_removal_refuse_a_secondary_zone() {
    let (dir, data) = temp_data();
    let config = dir.path().join("secondary.toml");
    let base = std::fs::read_to_string("config/dnsbl.toml").expect("read");
    std::fs::write(&config, base.replace("[[zone]]\n", "[[zone]]\nprimary = \"127.0.0.1:5300\"\n")).expect("write");
    let (config, data) = (config.to_str().expect("path"), data.to_str().expect("path"));
    for args in [
        &["zone", "import", "zones/example.bl.rbldnsd", "--config", config, "--data-dir", data][..],
        &["zone", "remove-dataset", "operator", "--config", config, "--data-dir", data][..],
    ] {
        let out = dnsbl(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("zone bl.localhost is a secondary of 127.0.0.1:5300: change it on the primary"),
            "{args:?}: {err}"
        );
    }
    assert!(!Path::new(data).join("CURRENT").exists(), "no database was written");
}

#[test]
fn config_check_names_file_and_line() {
    let (dir, _data) = temp_data();
    let ok = dnsbl(&["config", "check", "config/dnsbl.toml"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("ok (1 zone(s): bl.localhost)"));

    let bad = dir.path().join("bad.toml");
    let content = std::fs::read_to_string("config/dnsbl.toml").expect("read").replace("ttl = 300", "ttl = \"long\"");
    std::fs::write(&bad, &content).expect("write");
    let line = content.lines().position(|l| l.starts_with("ttl = \"long\"")).expect("line") + 1;
    let out = dnsbl(&["config", "check", bad.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:{line}:", bad.display())), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(dnsbl(&["serve", "--listen", "not-an-address"]).status.code(), Some(2));
    assert_eq!(dnsbl(&["frobnicate"]).status.code(), Some(2));
    assert!(dnsbl(&["zone", "import", "--help"]).status.success());
}

/// Starts `dnsbl serve --config CONFIG --data-dir DATA` on 127.0.0.1:0, behind `wrapper` (a
/// command and its arguments) when one is given; returns its DNS address.
fn spawn_configured(wrapper: &[&str], config: &Path, data: &Path) -> (Child, SocketAddr, mpsc::Receiver<String>) {
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(env!("CARGO_BIN_EXE_dnsbl"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_dnsbl")),
    };
    cmd.args(SERVE_ON_FREE_PORTS).arg("--config").arg(config).arg("--data-dir").arg(data);
    let (child, addr, _api, logs) = spawn_logged(cmd);
    (child, addr, logs)
}

/// One TCP query with its own timeouts; `None` when it is not answered.
fn tcp_try(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

#[test]
fn tcp_comes_back_within_an_idle_timeout_after_descriptors_run_out() {
    let (dir, data) = temp_data();
    let config = dir.path().join("dnsbl.toml");
    let text = std::fs::read_to_string("config/dnsbl.toml")
        .expect("default config")
        .replace("tcp-idle-timeout = 10", "tcp-idle-timeout = 3")
        .replace("max-tcp-connections = 512", "max-tcp-connections = 4000");
    std::fs::write(&config, text).expect("write config");
    // Few descriptors (prlimit, util-linux), so squatters exhaust them long before the cap.
    let (mut child, addr, logs) = spawn_configured(&["prlimit", "--nofile=160:160"], &config, &data);
    let query = question("2.0.0.127.bl.localhost", RecordType::A, None).to_vec().expect("encode");
    assert!(tcp_try(addr, &query).is_some(), "TCP answers at first");
    // Squatters: connections that send nothing, until the server cannot accept any more.
    let mut squatters = Vec::new();
    for _ in 0..400 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => squatters.push(s),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(tcp_try(addr, &query).is_none(), "descriptors are exhausted ({} squatters)", squatters.len());
    assert_eq!(a_records(&ask(addr, "2.0.0.127.bl.localhost", RecordType::A)), ["127.0.0.2"], "UDP still answers");
    std::thread::sleep(Duration::from_secs(2));
    let failing: Vec<String> = logs.try_iter().filter(|l| l.contains("tcp accept failing")).collect();
    assert!(!failing.is_empty() && failing.len() <= 2, "logged once per interval, not per attempt: {failing:?}");
    // The squatters leave: TCP answers again within one idle timeout (3 s).
    let left = std::time::Instant::now();
    drop(squatters);
    eventually(Duration::from_secs(3), "TCP did not come back within the idle timeout", || {
        holds(tcp_try(addr, &query).is_some(), || format!("after {:?}", left.elapsed()))
    });
    let status = terminate(&mut child);
    assert!(status.success(), "exit status {status}");
    let lines: Vec<String> = logs.try_iter().collect();
    assert!(lines.iter().any(|l| l.contains("tcp accept works again")), "{lines:?}");
}

/// A thread asking one question over UDP again and again until stopped: (sent, answered).
fn steady_load(
    addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(u64, u64)> {
    std::thread::spawn(move || {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
        let mut q = question("2.0.0.127.bl.localhost", RecordType::A, None);
        let (mut sent, mut answered) = (0u64, 0u64);
        let mut buf = [0u8; 1500];
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            q.metadata.id = (sent % 65536) as u16;
            socket.send_to(&q.to_vec().expect("encode"), addr).expect("send");
            sent += 1;
            // A reply to this query (late replies to earlier ones are skipped).
            while let Ok((n, _)) = socket.recv_from(&mut buf) {
                if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == q.metadata.id {
                    answered += 1;
                    break;
                }
            }
        }
        (sent, answered)
    })
}

fn hangup(child: &Child) {
    let status = Command::new("kill").args(["-HUP", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

#[test]
fn sighup_reloads_the_configuration_under_load_without_losing_a_query() {
    let (dir, data) = temp_data();
    let config = dir.path().join("dnsbl.toml");
    let base = std::fs::read_to_string("config/dnsbl.toml").expect("default config");
    std::fs::write(&config, &base).expect("write config");
    let (mut child, addr, logs) = spawn_configured(&[], &config, &data);
    let wait_log = |what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while std::time::Instant::now() < deadline {
            if let Ok(line) = logs.recv_timeout(Duration::from_millis(100)) {
                if line.contains(what) {
                    return line;
                }
                seen.push(line);
            }
        }
        panic!("no log line with {what:?}: {seen:?}");
    };
    let ttl = |name: &str| ask(addr, name, RecordType::A).answers.first().map(|r| r.ttl);
    let serial = soa_serial(addr, "bl.localhost");
    assert_eq!(ttl("2.0.0.127.bl.localhost"), Some(300));
    assert_eq!(ask(addr, "2.0.0.127.two.localhost", RecordType::A).metadata.response_code, ResponseCode::Refused);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = steady_load(addr, stop.clone());

    // New zone settings and a second zone.
    let second = &base[base.find("\n[[zone]]\n").expect("a zone")..];
    let changed = base.replace("ttl = 300", "ttl = 77") + "\n" + &second.replace("bl.localhost", "two.localhost");
    std::fs::write(&config, &changed).expect("write config");
    hangup(&child);
    let line = wait_log("configuration reloaded");
    assert!(line.contains("two.localhost") && line.contains("changed=bl.localhost"), "{line}");
    assert_eq!(ttl("2.0.0.127.bl.localhost"), Some(77));
    assert_eq!(a_records(&ask(addr, "2.0.0.127.two.localhost", RecordType::A)), ["127.0.0.2"]);
    assert!(soa_serial(addr, "bl.localhost") > serial, "new settings, new serial");

    // A file that does not load is refused with its line, and nothing changes.
    std::fs::write(&config, changed.replacen("ttl = 77", "ttl = \"long\"", 1)).expect("write config");
    hangup(&child);
    let line = wait_log("reload refused");
    assert!(line.contains("dnsbl.toml:"), "names the file and line: {line}");
    assert_eq!(ttl("2.0.0.127.bl.localhost"), Some(77));

    // Client rules, and a setting that needs a restart (named, not applied).
    let refusing = changed
        .replace("refuse-clients = []", "refuse-clients = [\"127.0.0.0/8\"]")
        .replace("max-tcp-connections = 512", "max-tcp-connections = 600");
    std::fs::write(&config, refusing).expect("write config");
    hangup(&child);
    let line = wait_log("next restart");
    assert!(line.contains("max-tcp-connections"), "{line}");
    wait_log("configuration reloaded");
    assert_eq!(ask(addr, "2.0.0.127.bl.localhost", RecordType::A).metadata.response_code, ResponseCode::Refused);

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (sent, answered) = load.join().expect("load thread");
    assert!(sent > 50, "the load ran ({sent} queries)");
    assert_eq!(answered, sent, "every query during the reloads was answered");
    let status = terminate(&mut child);
    assert!(status.success(), "exit status {status}");
}

#[test]
fn no_acknowledged_write_is_lost_when_the_server_is_killed() {
    let (_dir, data) = temp_data();
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..3u32 {
        let (mut child, addr, api, _logs) = spawn_server_with_api(&data);
        // Every write acknowledged so far is served after the restart.
        for prefix in &acknowledged {
            let ip = prefix.trim_end_matches("/32");
            let name = format!("{}.bl.localhost", ip.split('.').rev().collect::<Vec<_>>().join("."));
            assert_eq!(
                a_records(&ask(addr, &name, RecordType::A)),
                ["127.0.0.3"],
                "round {round}: {prefix} was acknowledged"
            );
        }
        let token = std::fs::read_to_string(data.join("operator.token")).expect("token");
        let client = Api { base: format!("http://{api}"), token: token.trim().to_string() };
        // A stream of adds, killed part-way: some acknowledged, maybe one in flight.
        let writer = std::thread::spawn(move || {
            let mut done = Vec::new();
            for i in 0..400u32 {
                let prefix = format!("10.{round}.{}.{}/32", i / 250, i % 250);
                let body = serde_json::json!({ "prefix": prefix, "codes": ["3"] });
                let request = ureq::post(&format!("{}/v1/zones/bl.localhost/listings", client.base))
                    .set("Authorization", &format!("Bearer {}", client.token))
                    .timeout(Duration::from_secs(5));
                match request.send_json(body) {
                    Ok(r) if r.status() == 201 => done.push(prefix),
                    _ => break,
                }
            }
            done
        });
        std::thread::sleep(Duration::from_millis(300 + 200 * u64::from(round)));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let done = writer.join().expect("writer");
        assert!(!done.is_empty(), "round {round}: writes were acknowledged before the kill");
        acknowledged.extend(done);
    }
    assert!(acknowledged.len() > 30, "enough writes to matter: {}", acknowledged.len());
    let (mut child, addr, _api, _logs) = spawn_server_with_api(&data);
    for prefix in &acknowledged {
        let ip = prefix.trim_end_matches("/32");
        let name = format!("{}.bl.localhost", ip.split('.').rev().collect::<Vec<_>>().join("."));
        assert_eq!(a_records(&ask(addr, &name, RecordType::A)), ["127.0.0.3"], "{prefix} was acknowledged");
    }
    assert!(terminate(&mut child).success());
}

fn arf_fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arf").join(name)
}

#[test]
fn evidence_parse_reads_messages_mboxes_maildirs_and_stdin_and_says_why_a_message_is_no_report() {
    let (dir, _) = temp_data();
    let one = arf_fixture("abuse-source-ip.eml");
    let out = dnsbl(&["evidence", "parse", one.to_str().expect("path")]);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}{}", text(&out.stderr));
    assert!(
        shown.contains(
            "abuse from 45.67.8.9 (Source-IP); mailing feedback-id:2026-48:weekly:shop:esp-x; \
             arrived 2026-11-30T09:58:00Z; report <fbl-20261130-0001@isp-a.example>"
        ),
        "{shown}"
    );

    // An mbox of two reports, and a Maildir holding one in new/ and one in cur/.
    let (a, b) =
        (std::fs::read(&one).expect("read"), std::fs::read(arf_fixture("headers-only-forged-hops.eml")).expect("read"));
    let mut mbox = b"From fbl@isp-a.example Mon Nov 30 10:05:00 2026\n".to_vec();
    mbox.extend_from_slice(&a);
    mbox.extend_from_slice(b"\nFrom abuse@isp-b.example Tue Dec  1 08:00:00 2026\n");
    mbox.extend_from_slice(&b);
    let mbox_path = dir.path().join("fbl.mbox");
    std::fs::write(&mbox_path, &mbox).expect("write");
    let maildir = dir.path().join("Maildir");
    for (sub, bytes) in [("new", &a), ("cur", &b)] {
        std::fs::create_dir_all(maildir.join(sub)).expect("dir");
        std::fs::write(maildir.join(sub).join("1.host:2,"), bytes).expect("write");
    }
    let out = dnsbl(&["evidence", "parse", mbox_path.to_str().expect("path"), maildir.to_str().expect("path")]);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}{}", text(&out.stderr));
    assert!(shown.contains("fbl.mbox#1: abuse from 45.67.8.9 (Source-IP)"), "{shown}");
    assert!(shown.contains("fbl.mbox#2: abuse from 45.67.8.10 (Received header 2 from the top)"), "{shown}");
    assert!(shown.contains("mailing campaign:promo.example/2026-12-01/black friday is here"), "{shown}");
    assert_eq!(shown.lines().count(), 4, "{shown}");

    // A message that is no report is named with the reason, and the command fails.
    let not_arf = arf_fixture("not-arf.eml");
    let out = dnsbl(&["evidence", "parse", "--json", one.to_str().expect("path"), not_arf.to_str().expect("path")]);
    assert!(!out.status.success());
    let lines: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines[0]["source_ip"], "45.67.8.9");
    assert!(lines[1]["error"].as_str().is_some_and(|e| e.contains("not a feedback report")), "{lines:?}");
    assert!(text(&out.stderr).contains("1 of 2 messages are not usable reports"), "{}", text(&out.stderr));

    // Standard input.
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnsbl"))
        .args(["evidence", "parse", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &b).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(text(&out.stdout).starts_with("-: abuse from 45.67.8.10"), "{}", text(&out.stdout));
}

#[test]
fn evidence_ingest_and_show_go_through_the_running_server() {
    let (dir, data) = temp_data();
    let (mut child, addr, api, _logs) = spawn_server_with_api(&data);
    let server = format!("http://{api}");
    let token = data.join("operator.token");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dnsbl"))
            .args(args)
            .args(["--server", &server, "--token-file", token.to_str().expect("path")])
            .output()
            .expect("run dnsbl")
    };
    let report = |feedback_id: &str, id: &str| {
        std::fs::read_to_string(arf_fixture("abuse-source-ip.eml"))
            .expect("fixture")
            .replace("2026-48:weekly:shop:esp-x", feedback_id)
            .replace("fbl-20261130-0001@isp-a.example", id)
            .replace("Arrival-Date: Mon, 30 Nov 2026 09:58:00 +0000\n", "")
    };
    for name in ["isp-a", "isp-b"] {
        let out = run(&["reporter", "add", name, "--contact", "fbl@x.example"]);
        assert!(text(&out.stdout).contains("token: dnsbl_rp_"), "{}{}", text(&out.stdout), text(&out.stderr));
    }
    let (a, b) = (dir.path().join("a.eml"), dir.path().join("b.eml"));
    std::fs::write(&a, report("m1", "1@a") + "\n").expect("write");
    std::fs::write(
        &b,
        format!(
            "From x Tue Dec  1 10:00:00 2026\n{}\nFrom y Tue Dec  1 10:00:00 2026\n{}",
            report("m2", "2@a"),
            report("m2", "2@a")
        ),
    )
    .expect("write");
    let out = run(&["evidence", "ingest", "--reporter", "isp-a", a.to_str().expect("path"), b.to_str().expect("path")]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("2 recorded, 1 already counted, 0 refused"), "{}", text(&out.stdout));
    let c = dir.path().join("c.eml");
    std::fs::write(&c, report("m3", "3@b")).expect("write");
    let out = run(&["evidence", "ingest", "--reporter", "isp-b", c.to_str().expect("path")]);
    assert!(
        text(&out.stdout)
            .contains("45.67.8.9 listed in bl.localhost by policy three-strikes (complaints about 3 mailings from 2 reporters) until"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(a_records(&ask(addr, "9.8.67.45.bl.localhost", RecordType::A)), ["127.0.0.4"]);
    let out = run(&["evidence", "show", "45.67.8.9"]);
    let shown = text(&out.stdout);
    assert_eq!(shown.lines().count(), 3, "{shown}");
    assert!(shown.contains("complaint from isp-b: mailing feedback-id:m3 report <3@b>"), "{shown}");
    // Volume figures as JSON records, one per line.
    let records = dir.path().join("volume.jsonl");
    let day = dnsbl::evidence::day_of(dnsbl::clock::unix_now());
    std::fs::write(
        &records,
        format!(
            "{{\"kind\":\"volume\",\"ip\":\"45.67.8.9\",\"day\":\"{day}\",\"messages\":1200}}\n\
             {{\"kind\":\"volume\",\"ip\":\"45.67.8.9\",\"day\":\"yesterday\",\"messages\":1}}\n"
        ),
    )
    .expect("write");
    let out = run(&["evidence", "ingest", "--reporter", "isp-a", "--kind", "records", records.to_str().expect("path")]);
    let said = text(&out.stdout);
    assert!(
        said.contains("message 2: \"yesterday\" is not a day")
            && said.contains("1 recorded, 0 already counted, 1 refused"),
        "{said}"
    );
    let shown = text(&run(&["evidence", "show", "45.67.8.9"]).stdout);
    assert!(shown.contains(&format!("volume from isp-a: 1200 messages on {day}")), "{shown}");
    let status = terminate(&mut child);
    assert!(status.success());
}
