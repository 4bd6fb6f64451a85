//! Test helpers: a server started in-process on 127.0.0.1:0, seeding the store, a small DNS client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dnsbl::config::Config;
use dnsbl::daemon::RunningServer;
use dnsbl::model::{Listing, ListingCode, Prefix};
use dnsbl::name::DomainName;
use dnsbl::store::{Store, StoredExclusion, StoredListing};
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};
use serde_json::Value;

/// What to put in the store before a server starts.
pub enum Seed<'a> {
    Listed(&'a [&'a str], Option<&'a str>),
    Excluded,
}

/// Writes `entries` as the whole list of `zone` in the data directory `data`.
pub fn seed(data: &Path, zone: &str, entries: &[(&str, Seed<'_>)]) {
    std::fs::create_dir_all(data).expect("data dir");
    let store = Store::open(data).expect("open store");
    let zone = DomainName::parse(zone).expect("zone");
    let mut batch = store.replace_zone(&zone).expect("batch");
    for (prefix, seed) in entries {
        let prefix: Prefix = prefix.parse().expect("prefix");
        match seed {
            Seed::Listed(codes, reason) => {
                let codes = codes.iter().map(|c| c.parse::<ListingCode>().expect("code")).collect();
                let listing = Listing::new(codes, reason.map(str::to_string)).expect("listing");
                batch.put_listing(&prefix, &StoredListing { listing, added_at: 1, expires_at: None }).expect("put");
            }
            Seed::Excluded => {
                batch.put_exclusion(&prefix, &StoredExclusion { reason: None, added_at: 1 }).expect("put")
            }
        }
    }
    batch.commit(1_700_000_000).expect("commit");
}

/// A running server and the runtime that drives it.
pub struct TestServer {
    pub addr: SocketAddr,
    server: Option<RunningServer>,
    runtime: tokio::runtime::Runtime,
}

/// The embedded default configuration on 127.0.0.1:0 with its data in `data`.
pub fn test_config(data: &Path) -> Config {
    let mut config = Config::embedded_default().expect("default config");
    config.server.listen = vec!["127.0.0.1:0".parse().expect("addr")];
    config.server.data_dir = data.to_path_buf();
    config.server.udp_workers = 2;
    config.api.listen = "127.0.0.1:0".parse().expect("addr");
    config.web.listen = "127.0.0.1:0".parse().expect("addr");
    config
}

impl TestServer {
    pub fn start(config: Config) -> TestServer {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let server = runtime.block_on(RunningServer::start(config)).expect("server starts");
        let addr = server.local_addrs()[0];
        TestServer { addr, server: Some(server), runtime }
    }

    /// Starts the default configuration with its data in `data`.
    pub fn in_dir(data: &Path) -> TestServer {
        TestServer::start(test_config(data))
    }

    /// Applies a live change to the operator's dataset through the server's publisher, as the
    /// operator API does.
    pub fn apply(&self, zone: &str, change: dnsbl::publisher::Change) -> Result<u32, dnsbl::publisher::ChangeError> {
        self.apply_to(zone, "operator", change)
    }

    /// Applies a live change to one dataset.
    pub fn apply_to(
        &self,
        zone: &str,
        dataset: &str,
        change: dnsbl::publisher::Change,
    ) -> Result<u32, dnsbl::publisher::ChangeError> {
        let server = self.server.as_ref().expect("running");
        let origin = dnsbl::publisher::Origin { actor: "test", source: "test" };
        let zone = DomainName::parse(zone).expect("zone");
        let dataset = dnsbl::name::DatasetName::parse(dataset).expect("dataset");
        server.writer().run_blocking(|p| p.apply(&zone, &dataset, change, origin, dnsbl::clock::unix_now()))
    }

    /// Patches on top of `zone`'s base tables in the published snapshot.
    pub fn patches(&self, zone: &str) -> usize {
        let server = self.server.as_ref().expect("running");
        let snapshot = server.snapshot().load_full();
        let z = snapshot.zones.iter().find(|z| z.config.origin.to_string() == zone).expect("zone");
        z.patch_count()
    }

    /// Runs `f` on the server's publisher (the single writer), e.g. with a `now` of its own.
    pub fn with_publisher<T>(
        &self,
        f: impl FnOnce(&mut dnsbl::publisher::Publisher) -> Result<T, dnsbl::publisher::ChangeError>,
    ) -> Result<T, dnsbl::publisher::ChangeError> {
        self.server.as_ref().expect("running").writer().run_blocking(f)
    }

    /// Applies a registry change through the server's publisher, as the API does.
    pub fn registry(
        &self,
        request: dnsbl::registry::Request,
    ) -> Result<dnsbl::publisher::RegistryOutcome, dnsbl::publisher::ChangeError> {
        let server = self.server.as_ref().expect("running");
        let origin = dnsbl::publisher::Origin { actor: "test", source: "test" };
        server.writer().run_blocking(|p| p.change_registry(request, origin, dnsbl::clock::unix_now()))
    }

    /// Reloads the configuration, as SIGHUP does.
    pub fn reload(&self, config: Config) -> Result<dnsbl::publisher::Reconfigured, dnsbl::daemon::ReloadError> {
        let server = self.server.as_ref().expect("running");
        self.runtime.block_on(server.reloader().reload(config))
    }

    /// The operator API's base URL and token.
    pub fn api(&self, data: &Path) -> (String, String) {
        let server = self.server.as_ref().expect("running");
        let token = std::fs::read_to_string(data.join("operator.token")).expect("token file");
        (format!("http://{}", server.api_addr()), token.trim().to_string())
    }

    /// The public web pages' base URL.
    pub fn web(&self) -> String {
        let server = self.server.as_ref().expect("running");
        format!("http://{}", server.web_addr().expect("web pages on"))
    }

    /// Every bound listen address.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.server.as_ref().map(|s| s.local_addrs().to_vec()).unwrap_or_default()
    }

    pub fn stop(mut self) {
        if let Some(s) = self.server.take() {
            self.runtime.block_on(s.stop());
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.runtime.block_on(s.stop());
        }
    }
}

/// A fresh temp dir and the data directory inside it.
/// Waits until `done` holds, checking every 50 ms; fails the test with `what` (and what `done`
/// last said) after `within`. For things that happen on their own clock (expiry, folds).
pub fn eventually(within: Duration, what: &str, mut done: impl FnMut() -> Result<(), String>) {
    let deadline = std::time::Instant::now() + within;
    loop {
        match done() {
            Ok(()) => return,
            Err(last) if std::time::Instant::now() >= deadline => panic!("{what} within {within:?}: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// `Ok` when `cond` holds, else `Err(why)`.
pub fn holds(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(why())
    }
}

/// The A records the default zone (`bl.localhost`) answers for a reversed address (`9.2.0.192`).
pub fn codes(s: &TestServer, rev: &str) -> Vec<String> {
    a_records(&ask(s.addr, &format!("{rev}.bl.localhost"), RecordType::A))
}

pub fn temp_data() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    (dir, data)
}

/// A query message for `name`/`rtype`, optionally with an EDNS OPT.
pub fn question(name: &str, rtype: RecordType, edns: Option<Edns>) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    let fqdn = if name.ends_with('.') { name.to_string() } else { format!("{name}.") };
    m.add_query(Query::query(Name::from_ascii(fqdn).expect("name"), rtype));
    m.edns = edns;
    m
}

/// EDNS with this payload size and version.
pub fn edns(payload: u16, version: u8) -> Edns {
    let mut e = Edns::new();
    e.set_max_payload(payload);
    e.set_version(version);
    e
}

/// A query with a COOKIE option carrying `cookie` (client cookie, then any server cookie).
pub fn with_cookie(name: &str, rtype: RecordType, cookie: &[u8]) -> Message {
    let mut e = edns(1232, 0);
    e.options_mut().insert(EdnsOption::Unknown(10, cookie.to_vec()));
    question(name, rtype, Some(e))
}

/// The COOKIE option of a reply.
pub fn cookie_of(m: &Message) -> Option<Vec<u8>> {
    match m.edns.as_ref()?.option(EdnsCode::Cookie)? {
        EdnsOption::Unknown(_, data) => Some(data.clone()),
        other => panic!("unexpected cookie option {other:?}"),
    }
}

/// Sends raw bytes over UDP; the reply, or `None` after `wait`.
pub fn udp_raw(addr: SocketAddr, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind(if addr.is_ipv6() { "[::1]:0" } else { "127.0.0.1:0" }).expect("bind");
    sock.set_read_timeout(Some(wait)).expect("timeout");
    sock.send_to(packet, addr).expect("send");
    let mut buf = vec![0u8; 65_535];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// Sends raw bytes as one TCP message; the reply message, or `None` if the server sent none.
pub fn tcp_raw(addr: SocketAddr, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(wait)).expect("timeout");
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    s.write_all(&framed).expect("write");
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

/// Sends a message over UDP and decodes the reply (retries twice on loss).
pub fn udp(addr: SocketAddr, m: &Message) -> Message {
    let bytes = m.to_vec().expect("encode");
    for _ in 0..3 {
        if let Some(reply) = udp_raw(addr, &bytes, Duration::from_secs(2)) {
            let reply = Message::from_vec(&reply).expect("decodable reply");
            assert_eq!(reply.metadata.id, m.metadata.id);
            return reply;
        }
    }
    panic!("no UDP reply from {addr}");
}

/// Sends a message over TCP and decodes the reply.
pub fn tcp(addr: SocketAddr, m: &Message) -> Message {
    let reply = tcp_raw(addr, &m.to_vec().expect("encode"), Duration::from_secs(5)).expect("TCP reply");
    Message::from_vec(&reply).expect("decodable reply")
}

/// Asks `name`/`rtype` over UDP without EDNS.
pub fn ask(addr: SocketAddr, name: &str, rtype: RecordType) -> Message {
    udp(addr, &question(name, rtype, None))
}

/// The A addresses of the answer section, as text.
pub fn a_records(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

/// The TXT strings of the answer section.
pub fn txt_records(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect()),
            _ => None,
        })
        .collect()
}

/// The reversed-nibble query name of an IPv6 address under `zone`.
pub fn v6_name(ip: &str, zone: &str) -> String {
    let bits = u128::from(ip.parse::<std::net::Ipv6Addr>().expect("v6"));
    let mut labels: Vec<String> = (0..32).map(|i| format!("{:x}", (bits >> (4 * i)) & 0xf)).collect();
    labels.push(zone.to_string());
    labels.join(".")
}

/// The SOA serial a zone answers with.
pub fn soa_serial(addr: SocketAddr, zone: &str) -> u32 {
    soa_serial_if_any(addr, zone).unwrap_or_else(|| panic!("SOA expected for {zone}"))
}

/// The zone's SOA serial, if `addr` answers one.
pub fn soa_serial_if_any(addr: SocketAddr, zone: &str) -> Option<u32> {
    match &ask(addr, zone, RecordType::SOA).answers.first().map(|r| r.data.clone()) {
        Some(RData::SOA(soa)) => Some(soa.serial),
        _ => None,
    }
}

/// A loopback port free for both UDP and TCP right now (for servers a test configures with
/// a fixed port: unbound, NSD).
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits (at most 30 s) until `addr` serves `serial` for `zone`; `what` names the server in
/// the failure, with `log` (a server's log, read then) if given.
pub fn wait_for_serial(addr: SocketAddr, zone: &str, serial: u32, what: &str, log: Option<&Path>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = soa_serial_if_any(addr, zone);
        if got == Some(serial) {
            return;
        }
        if std::time::Instant::now() > deadline {
            let log = log.map(|p| std::fs::read_to_string(p).unwrap_or_default()).unwrap_or_default();
            panic!("{what} did not reach serial {serial} (it has {got:?}) {log}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A JSON client for the HTTP API.
pub struct Api {
    pub base: String,
    pub token: String,
}

impl Api {
    /// Adds the marketer `acme` (`legal_name`, registration number `registration`, network
    /// 192.88.99.0/24) and declares `declared` with its token; returns the token.
    pub fn acme_declaring(&self, legal_name: &str, registration: &str, declared: &str) -> String {
        let marketer = serde_json::json!({
            "id": "acme", "legal_name": legal_name, "registration_number": registration,
            "contact": "abuse@acme.example", "networks": ["192.88.99.0/24"]
        });
        let (status, made) = self.call("POST", "/v1/marketers", None, Some(marketer));
        assert_eq!(status, 201, "{made}");
        let token = made["token"].as_str().expect("token").to_string();
        let body = serde_json::json!({"prefixes": [declared]});
        let (status, said) = self.call("POST", "/v1/registrations", Some(&token), Some(body));
        assert!(status < 300, "{said}");
        token
    }

    /// Calls `method path` with `token` (default: the Api's token; "" sends none); returns the
    /// status and the JSON body.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(t) = token.or(Some(self.token.as_str())).filter(|t| !t.is_empty()) {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match result {
            Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("transport error: {e}"),
        }
    }
}

/// A running rbldnsd, stopped when dropped (also when a test fails half-way).
#[derive(Debug)]
pub struct Rbldnsd(std::process::Child);

impl Drop for Rbldnsd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// rbldnsd on a free loopback port serving `bl.localhost` from `datasets` — (rbldnsd type, file
/// name, contents) — written to `dir/share`, where it can read them as user rbldns; returned once
/// it answers.
pub fn serve_datasets_with_rbldnsd(dir: &Path, datasets: &[(&str, &str, &[u8])]) -> (Rbldnsd, SocketAddr) {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    let share = dir.join("share");
    std::fs::create_dir_all(&share).expect("dir");
    for dir in [dir, share.as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for (_, name, contents) in datasets {
        std::fs::write(share.join(name), contents).expect("write");
        std::fs::set_permissions(share.join(name), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    if Command::new("rbldnsd").arg("-h").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        panic!("rbldnsd is not installed; `make test` installs it");
    }
    let port = UdpSocket::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut cmd = Command::new("rbldnsd");
    cmd.args(["-n", "-a", "-b", &format!("127.0.0.1/{port}"), "-w"]).arg(&share);
    // rbldnsd refuses to run as root without -u; the Debian package creates user rbldns.
    if Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false) {
        cmd.args(["-u", "rbldns"]);
    }
    for (kind, name, _) in datasets {
        cmd.arg(format!("bl.localhost:{kind}:{name}"));
    }
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn rbldnsd");
    let rbl = Rbldnsd(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let q = question("2.0.0.127.bl.localhost", RecordType::A, None).to_vec().expect("encode");
    let ready = (0..100).any(|_| udp_raw(addr, &q, Duration::from_millis(100)).is_some());
    assert!(ready, "rbldnsd did not start");
    (rbl, addr)
}
