//! Through a real recursive resolver: unbound with a stub zone pointing at the server, as an ISP
//! runs it, with QNAME minimisation in strict mode. The resolver walks down the reversed address
//! label by label and takes an NXDOMAIN on the way as the end of that branch (RFC 8020), so empty
//! non-terminals must answer NOERROR or listed addresses next to unlisted ones go missing. (In
//! its default relaxed mode unbound retries the full name after such an NXDOMAIN, which would
//! hide the error; this test fails if the server answers NXDOMAIN for empty non-terminals.)

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::harness::*;

const ZONE: &str = "bl.localhost";

/// unbound in the foreground on `port`, with `zone` stubbed to `server`; killed on drop.
struct Unbound(Child);

impl Unbound {
    fn start(dir: &Path, port: u16, server: SocketAddr) -> Unbound {
        let conf = dir.join("unbound.conf");
        let text = format!(
            r#"server:
    interface: 127.0.0.1
    port: {port}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    do-ip6: no
    do-not-query-localhost: no
    local-zone: "localhost." nodefault
    qname-minimisation: yes
    qname-minimisation-strict: yes
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
stub-zone:
    name: "{ZONE}"
    stub-addr: {ip}@{server_port}
"#,
            dir = dir.display(),
            ip = server.ip(),
            server_port = server.port(),
        );
        std::fs::write(&conf, text).expect("write unbound.conf");
        let child = Command::new("unbound")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("unbound is not installed ({e}); `make test` installs it"));
        Unbound(child)
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn v4(ip: &str) -> String {
    let o: Vec<&str> = ip.split('.').rev().collect();
    format!("{}.{ZONE}", o.join("."))
}

#[test]
fn unbound_with_qname_minimisation_resolves_through_the_server() {
    let (dir, data) = temp_data();
    seed(
        &data,
        ZONE,
        &[
            ("203.0.113.7", Seed::Listed(&["127.0.0.3"], Some("seen sending marketing from $"))),
            ("198.51.100.0/24", Seed::Listed(&["127.0.0.3"], None)),
            ("198.51.100.9", Seed::Excluded),
            ("2001:db8::7", Seed::Listed(&["127.0.0.4"], None)),
        ],
    );
    let server = TestServer::in_dir(&data);
    let (base, token) = server.api(&data);
    let api = Api { base, token };
    let port = free_port();
    let _unbound = Unbound::start(dir.path(), port, server.addr);
    let resolver: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let probe = question(&v4("127.0.0.2"), RecordType::A, None).to_vec().expect("encode");
    let ready = (0..100).any(|_| udp_raw(resolver, &probe, Duration::from_millis(100)).is_some());
    assert!(ready, "unbound did not start");
    let (_, before) = api.call("GET", "/v1/stats", None, None);

    // Unlisted neighbours first, so a wrong NXDOMAIN higher up would hide the listed ones.
    let cases: [(String, RecordType, Option<&str>); 9] = [
        (v4("203.0.113.8"), RecordType::A, None),
        (v4("203.0.113.7"), RecordType::A, Some("127.0.0.3")),
        (v4("203.0.113.7"), RecordType::TXT, Some("seen sending marketing from 203.0.113.7")),
        (v4("198.51.100.9"), RecordType::A, None),
        (v4("198.51.100.10"), RecordType::A, Some("127.0.0.3")),
        (v4("192.0.2.1"), RecordType::A, None),
        (v4("127.0.0.2"), RecordType::A, Some("127.0.0.2")),
        (v6_name("2001:db8::8", ZONE), RecordType::A, None),
        (v6_name("2001:db8::7", ZONE), RecordType::A, Some("127.0.0.4")),
    ];
    for (name, rtype, want) in &cases {
        let m = udp(resolver, &question(name, *rtype, None));
        match want {
            None => assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name} {rtype}"),
            Some(value) => {
                assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name} {rtype}");
                let got = if *rtype == RecordType::A { a_records(&m) } else { txt_records(&m) };
                assert_eq!(got, [value.to_string()], "{name} {rtype}");
            }
        }
    }
    // The resolver asked for the labels on the way down (minimisation), not just the full names.
    let (_, after) = api.call("GET", "/v1/stats", None, None);
    let asked = |v: &Value| v["udp"]["queries"].as_u64().unwrap_or(0) + v["tcp"]["queries"].as_u64().unwrap_or(0);
    assert!(asked(&after) - asked(&before) > cases.len() as u64, "before {before}\nafter {after}");
}
