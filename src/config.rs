//! Configuration: the TOML file model and the validated, immutable [`Config`].
//!
//! Two steps: serde reads a [`ConfigFile`] (unknown keys refused), then [`Config::from_file`]
//! checks what serde cannot (duplicate zones, glue, ranges) and reports `file:line:column: why`.
//! The documented `config/dnsbl.toml` is compiled in as the default. No I/O beyond reading the
//! file named by the caller.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::model::{validate_txt, Entry, ListingCode, Prefix};
use crate::name::{DatasetName, DomainName};
use crate::registry::Policy;
use crate::rrl::RrlSettings;

/// The embedded default configuration (also shipped as `config/dnsbl.toml`).
pub const DEFAULT_TOML: &str = include_str!("../config/dnsbl.toml");

/// Free space the store keeps on its disk unless configured otherwise (`min-free-disk`): room
/// for RocksDB's flushes and compactions, which it must never be denied (RocksDB builds with
/// assertions abort the process when a write fails for lack of space).
pub const DEFAULT_MIN_FREE_DISK: u64 = 128 << 20;

/// File name of the operator's API token inside the data directory.
pub const OPERATOR_TOKEN_FILE: &str = "operator.token";

/// Where the operator's API token lives in a data directory (the server writes it, the CLI
/// reads it).
/// The DNS cookie secrets file's default name, in the data directory.
pub const COOKIE_SECRET_FILE: &str = "cookie.secret";

pub fn operator_token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(OPERATOR_TOKEN_FILE)
}

/// A configuration error with its position in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file, or `<embedded default>`.
    pub origin: String,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.origin, line, col, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// A return code as a TOML table key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct CodeKey(ListingCode);

impl<'de> Deserialize<'de> for CodeKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(CodeKey).map_err(serde::de::Error::custom)
    }
}

// ---- the file model -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ConfigFile {
    version: Spanned<u32>,
    server: ServerFile,
    #[serde(default)]
    api: ApiFile,
    #[serde(default)]
    web: WebFile,
    #[serde(default)]
    registry: RegistryFile,
    #[serde(default)]
    evidence: EvidenceFile,
    #[serde(rename = "zone")]
    zones: Vec<Spanned<ZoneFile>>,
    #[serde(default, rename = "tsig-key")]
    tsig_keys: Vec<Spanned<TsigKeyFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TsigKeyFile {
    name: DomainName,
    algorithm: String,
    secret: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ServerFile {
    listen: Spanned<Vec<SocketAddr>>,
    data_dir: PathBuf,
    #[serde(default)]
    udp_workers: usize,
    #[serde(default = "default_rcvbuf")]
    udp_receive_buffer: usize,
    #[serde(default = "default_payload")]
    max_udp_payload: Spanned<u16>,
    #[serde(default = "default_tcp_idle")]
    tcp_idle_timeout: u64,
    #[serde(default = "default_tcp_conns")]
    max_tcp_connections: Spanned<usize>,
    #[serde(default = "default_min_free_disk")]
    min_free_disk: u64,
    #[serde(default)]
    refuse_clients: Vec<Spanned<String>>,
    #[serde(default)]
    ignore_clients: Vec<Spanned<String>>,
    /// Response rate limiting; off without the table.
    rrl: Option<Spanned<RrlFile>>,
    #[serde(default)]
    cookies: CookiesFile,
    #[serde(default)]
    registered_resolvers_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CookiesFile {
    #[serde(default = "yes")]
    answer: bool,
    #[serde(default = "default_cookie_secret_file")]
    secret_file: PathBuf,
}

impl Default for CookiesFile {
    fn default() -> Self {
        CookiesFile { answer: true, secret_file: default_cookie_secret_file() }
    }
}

fn yes() -> bool {
    true
}

fn default_cookie_secret_file() -> PathBuf {
    PathBuf::from(COOKIE_SECRET_FILE)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RrlFile {
    #[serde(default = "default_rrl_rate")]
    responses_per_second: u32,
    nxdomains_per_second: Option<u32>,
    nodata_per_second: Option<u32>,
    errors_per_second: Option<u32>,
    #[serde(default = "default_rrl_window")]
    window: u32,
    #[serde(default = "default_rrl_slip")]
    slip: u32,
    #[serde(default = "default_rrl_v4")]
    ipv4_prefix_length: u8,
    #[serde(default = "default_rrl_v6")]
    ipv6_prefix_length: u8,
    #[serde(default)]
    exempt_clients: Vec<Spanned<String>>,
    #[serde(default)]
    log_only: bool,
    #[serde(default = "default_rrl_table")]
    table_size: usize,
}

fn default_rrl_rate() -> u32 {
    20
}
fn default_rrl_window() -> u32 {
    15
}
fn default_rrl_slip() -> u32 {
    2
}
fn default_rrl_v4() -> u8 {
    24
}
fn default_rrl_v6() -> u8 {
    56
}
fn default_rrl_table() -> usize {
    1 << 16
}

fn default_rcvbuf() -> usize {
    8 << 20
}
fn default_payload() -> Spanned<u16> {
    Spanned::new(0..0, 1232)
}
fn default_tcp_idle() -> u64 {
    10
}
fn default_tcp_conns() -> Spanned<usize> {
    Spanned::new(0..0, 512)
}
fn default_min_free_disk() -> u64 {
    DEFAULT_MIN_FREE_DISK
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ApiFile {
    #[serde(default = "default_api_listen")]
    listen: SocketAddr,
    #[serde(default)]
    allow_plain_http: bool,
    tls_certificate: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct WebFile {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default = "default_web_listen")]
    listen: SocketAddr,
    #[serde(default = "default_lookups_per_minute")]
    lookups_per_minute: u32,
    public_url: Option<String>,
    sendmail: Option<Vec<String>>,
    sendmail_timeout: Option<u64>,
    mail_from: Option<String>,
    requests_per_hour: Option<u32>,
    largest_ipv4_request: Option<u8>,
    largest_ipv6_request: Option<u8>,
    auto_approve: Option<u32>,
}

impl Default for WebFile {
    fn default() -> Self {
        WebFile {
            enabled: true,
            listen: default_web_listen(),
            lookups_per_minute: default_lookups_per_minute(),
            public_url: None,
            sendmail: None,
            sendmail_timeout: None,
            mail_from: None,
            requests_per_hour: None,
            largest_ipv4_request: None,
            largest_ipv6_request: None,
            auto_approve: None,
        }
    }
}

fn default_web_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_lookups_per_minute() -> u32 {
    60
}

impl Default for ApiFile {
    fn default() -> Self {
        ApiFile { listen: default_api_listen(), allow_plain_http: false, tls_certificate: None, tls_key: None }
    }
}

/// `[evidence]`, and a zone's `[zone.evidence]`: which policies the zone uses (all three
/// without the key) and thresholds that differ from `[evidence.*]`. The dataset and the day
/// counts belong to `[evidence]`, `policies` to a zone (checked in validation).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct EvidenceFile {
    dataset: Option<String>,
    retention_days: Option<u32>,
    longest_listing_days: Option<u32>,
    policies: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    three_strikes: ThreeStrikesFile,
    #[serde(default)]
    complaint_rate: ComplaintRateFile,
    #[serde(default)]
    trap_hits: TrapHitsFile,
}

// Every threshold is optional: a zone's table overrides `[evidence.*]`, which overrides the
// defaults in `policies` (documented in config/dnsbl.toml and README "Listing policy").

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ThreeStrikesFile {
    mailings: Option<u32>,
    reporters: Option<u32>,
    window_days: Option<u32>,
    listed_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ComplaintRateFile {
    percent: Option<f64>,
    messages: Option<u64>,
    window_days: Option<u32>,
    listed_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TrapHitsFile {
    hits: Option<u32>,
    traps: Option<u32>,
    window_days: Option<u32>,
    listed_days: Option<u32>,
}

/// The policies' names, as `[zone.evidence] policies` and actors (`policy NAME`) spell them.
pub const POLICY_NAMES: [&str; 3] = ["three-strikes", "complaint-rate", "trap-hits"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RegistryFile {
    zones: Option<Spanned<Vec<DomainName>>>,
    #[serde(default = "default_lookup_url")]
    lookup_url: Spanned<String>,
    #[serde(default = "default_max_v4")]
    max_ipv4_addresses: u64,
    #[serde(default = "default_max_v6")]
    max_ipv6_prefixes: u64,
    #[serde(default = "default_shortest_v4")]
    shortest_ipv4: Spanned<u8>,
    #[serde(default = "default_shortest_v6")]
    shortest_ipv6: Spanned<u8>,
    denied: Option<Vec<Spanned<String>>>,
}

impl Default for RegistryFile {
    fn default() -> Self {
        RegistryFile {
            zones: None,
            lookup_url: default_lookup_url(),
            max_ipv4_addresses: default_max_v4(),
            max_ipv6_prefixes: default_max_v6(),
            shortest_ipv4: default_shortest_v4(),
            shortest_ipv6: default_shortest_v6(),
            denied: None,
        }
    }
}

fn default_lookup_url() -> Spanned<String> {
    Spanned::new(0..0, Policy::default().lookup_url)
}
fn default_max_v4() -> u64 {
    Policy::default().max_ipv4_addresses
}
fn default_max_v6() -> u64 {
    Policy::default().max_ipv6_prefixes
}
fn default_shortest_v4() -> Spanned<u8> {
    Spanned::new(0..0, Policy::default().shortest_v4)
}
fn default_shortest_v6() -> Spanned<u8> {
    Spanned::new(0..0, Policy::default().shortest_v6)
}

fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8053))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ZoneFile {
    name: Spanned<DomainName>,
    ttl: u32,
    txt_template: Spanned<String>,
    soa: SoaFile,
    #[serde(default)]
    ns: Vec<Spanned<NsFile>>,
    #[serde(default)]
    codes: BTreeMap<CodeKey, String>,
    #[serde(default)]
    require_key: bool,
    #[serde(default)]
    allow_transfer: Vec<Spanned<String>>,
    transfer_max_names: Option<usize>,
    #[serde(default)]
    notify: Vec<Spanned<String>>,
    notify_interval: Option<u64>,
    mirror_export: Option<Spanned<MirrorExportFile>>,
    primary: Option<Spanned<String>>,
    transfer_key: Option<Spanned<DomainName>>,
    #[serde(default)]
    evidence: EvidenceFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MirrorExportFile {
    path: PathBuf,
    every: Option<u64>,
    expires: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SoaFile {
    mname: DomainName,
    rname: DomainName,
    ttl: u32,
    refresh: u32,
    retry: u32,
    expire: u32,
    minimum: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct NsFile {
    name: DomainName,
    #[serde(default)]
    addresses: Vec<IpAddr>,
    ttl: Option<u32>,
}

// ---- the validated configuration ------------------------------------------------------------

/// The validated configuration of a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub server: ServerConfig,
    pub api: ApiConfig,
    pub web: WebConfig,
    pub registry: RegistryConfig,
    pub evidence: EvidenceConfig,
    pub zones: Vec<ZoneConfig>,
}

/// Listing from evidence (`[evidence]`): the dataset evidence listings go into in every zone,
/// how long evidence is kept, and how long repeat listings may last. The policies are per zone
/// ([`ZoneConfig::evidence`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceConfig {
    pub dataset: DatasetName,
    /// Evidence older than this many days is dropped (and refused when it arrives).
    pub retention_days: u32,
    /// A repeat listing lasts twice as long as the one before, up to this many days.
    pub longest_listing_days: u32,
}

/// The policies that list from evidence in a zone; `None` is a policy the zone does not use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policies {
    pub three_strikes: Option<ThreeStrikes>,
    pub complaint_rate: Option<ComplaintRate>,
    pub trap_hits: Option<TrapHits>,
}

impl Policies {
    /// The names of the policies in use.
    pub fn names(&self) -> Vec<&'static str> {
        let used = [self.three_strikes.is_some(), self.complaint_rate.is_some(), self.trap_hits.is_some()];
        POLICY_NAMES.iter().zip(used).filter(|(_, u)| *u).map(|(n, _)| *n).collect()
    }

    /// The longest window of the policies in use, in days (0 without any).
    pub fn longest_window(&self) -> u32 {
        let windows = [
            self.three_strikes.map(|t| t.window_days),
            self.complaint_rate.map(|c| c.window_days),
            self.trap_hits.map(|t| t.window_days),
        ];
        windows.into_iter().flatten().max().unwrap_or(0)
    }
}

/// The `trap-hits` policy: at least `hits` trap hits to at least `traps` distinct trap addresses
/// within `window_days` list the address until `listed_days` after the last of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrapHits {
    pub hits: u32,
    pub traps: u32,
    pub window_days: u32,
    pub listed_days: u32,
}

/// The `three-strikes` policy: complaints about at least `mailings` distinct mailings from at
/// least `reporters` distinct reporters within `window_days` list the address until
/// `listed_days` after the last of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreeStrikes {
    pub mailings: u32,
    pub reporters: u32,
    pub window_days: u32,
    pub listed_days: u32,
}

/// The `complaint-rate` policy: complaints above `basis_points` hundredths of a percent (100:
/// 1 %) of the messages the same reporters received from the address, measured over at least
/// `messages` messages within `window_days`, list it until `listed_days` after the last
/// complaint that counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComplaintRate {
    pub basis_points: u32,
    pub messages: u64,
    pub window_days: u32,
    pub listed_days: u32,
}

/// The HTTP API for operators and marketers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// Serve plain HTTP on a non-loopback address anyway (tokens then cross the network in clear).
    pub allow_plain_http: bool,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<TlsFiles>,
}

/// The public web pages (`[web]`): the lookup page every TXT answer links to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
    /// Lookups one source network (IPv4 /24, IPv6 /48) may make per minute.
    pub lookups_per_minute: u32,
    /// The pages' address as people reach them (the links in confirmation mail), without a
    /// trailing slash.
    pub public_url: String,
    /// The sendmail-compatible command that mails confirmation links (the message on its
    /// standard input, recipients from its headers), and how long it may take.
    pub sendmail: Vec<String>,
    pub sendmail_timeout_secs: u64,
    pub mail_from: String,
    /// Removal requests one source network may file per hour.
    pub requests_per_hour: u32,
    /// The largest prefixes one removal request may cover.
    pub largest_ipv4_request: u8,
    pub largest_ipv6_request: u8,
    /// Confirmed requests for one address out of an operator network listing approved without
    /// the operator, per /24 (or /48) and 30 days; 0: every request waits for the operator.
    pub auto_approve: u32,
}

/// PEM files of the API's TLS certificate chain and private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// Marketer registration: which zones it changes and the rules for declarations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Zones whose answers registrations change; `None` = every served zone.
    pub zones: Option<Vec<DomainName>>,
    pub policy: Policy,
}

impl RegistryConfig {
    /// True when registrations change the answers of `zone`.
    pub fn applies_to(&self, zone: &DomainName) -> bool {
        self.zones.as_ref().is_none_or(|z| z.contains(zone))
    }

    /// The registry entries that change `zone`'s answers: all of `entries`, or none when
    /// registrations do not apply to it.
    pub fn entries_for<'a>(&self, entries: &'a [(Prefix, Entry)], zone: &DomainName) -> &'a [(Prefix, Entry)] {
        if self.applies_to(zone) {
            entries
        } else {
            &[]
        }
    }
}

impl Config {
    /// The settings that differ in `new` and take effect only at a restart (sockets, the data
    /// directory, the API's address and whether it has TLS), as the configuration names them. A
    /// reload applies the rest: zones, client rules, rate limiting, cookie secrets, registry
    /// rules, access settings and the API's certificate and key.
    pub fn restart_needed_for(&self, new: &Config) -> Vec<&'static str> {
        let (a, b) = (&self.server, &new.server);
        let checks = [
            (a.listen != b.listen, "[server] listen"),
            (a.data_dir != b.data_dir, "[server] data-dir"),
            (a.udp_workers != b.udp_workers, "[server] udp-workers"),
            (a.udp_receive_buffer != b.udp_receive_buffer, "[server] udp-receive-buffer"),
            (a.max_udp_payload != b.max_udp_payload, "[server] max-udp-payload"),
            (a.tcp_idle_timeout != b.tcp_idle_timeout, "[server] tcp-idle-timeout"),
            (a.max_tcp_connections != b.max_tcp_connections, "[server] max-tcp-connections"),
            (a.min_free_disk != b.min_free_disk, "[server] min-free-disk"),
            // New certificate and key files are read by the reload; turning TLS on or off is not.
            (
                self.api.listen != new.api.listen
                    || self.api.allow_plain_http != new.api.allow_plain_http
                    || self.api.tls.is_some() != new.api.tls.is_some(),
                "[api]",
            ),
            (self.web != new.web, "[web]"),
            // Each secondary zone has its transfer task from the start.
            (secondaries(self) != secondaries(new), "[[zone]] primary"),
        ];
        checks.into_iter().filter(|(changed, _)| *changed).map(|(_, name)| name).collect()
    }
}

impl ApiConfig {
    /// Refuses a plain-HTTP API on a non-loopback address unless explicitly allowed.
    pub fn check_exposure(&self) -> Result<(), ExposureError> {
        if self.listen.ip().is_loopback() || self.allow_plain_http || self.tls.is_some() {
            return Ok(());
        }
        Err(ExposureError(self.listen))
    }
}

/// A plain-HTTP API on a non-loopback address that the configuration does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to serve the API over plain HTTP on {0} (bearer tokens would cross the network in clear); \
     set tls-certificate and tls-key in [api], listen on a loopback address, or set allow-plain-http = true \
     if a TLS proxy or a private network protects it"
)]
pub struct ExposureError(pub SocketAddr);

/// `--zone NAME` names no configured zone, and there are several to choose from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("zone {name} is not configured (configured: {})", configured.join(", "))]
pub struct UnknownZone {
    pub name: DomainName,
    pub configured: Vec<String>,
}

/// Listener and storage settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: Vec<SocketAddr>,
    pub data_dir: PathBuf,
    /// UDP sockets per listen address (resolved: never 0).
    pub udp_workers: usize,
    pub udp_receive_buffer: usize,
    pub max_udp_payload: u16,
    pub tcp_idle_timeout: Duration,
    pub max_tcp_connections: usize,
    /// Bytes kept free on the database's disk: changes are refused below it.
    pub min_free_disk: u64,
    /// Clients whose queries are answered REFUSED, and those whose queries are dropped.
    pub refuse_clients: Vec<Prefix>,
    pub ignore_clients: Vec<Prefix>,
    /// Response rate limiting of UDP replies; `None`: off.
    pub rrl: Option<RrlSettings>,
    /// The DNS cookie secrets file as configured (relative paths are in the data directory), when
    /// cookies are answered; `None`: cookies are ignored. [`ServerConfig::cookie_secret_path`]
    /// resolves it.
    pub cookie_secret_file: Option<PathBuf>,
    /// Only sources in the resolver registry (`dnsbl resolver add`) are answered; others REFUSED.
    pub registered_resolvers_only: bool,
}

impl ServerConfig {
    /// Where the DNS cookie secrets are read from, when cookies are answered.
    pub fn cookie_secret_path(&self) -> Option<PathBuf> {
        self.cookie_secret_file.as_ref().map(|f| self.data_dir.join(f))
    }
}

/// One served zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneConfig {
    pub origin: DomainName,
    pub ttl: u32,
    pub txt_template: String,
    pub soa: Soa,
    pub ns: Vec<NameServer>,
    pub codes: BTreeMap<ListingCode, String>,
    /// Names carry an access key: `<reversed ip>.<key>.<zone>`; without an enabled key, REFUSED.
    pub require_key: bool,
    /// The policies that list from evidence in this zone.
    pub evidence: Policies,
    /// Who may transfer the zone (AXFR and IXFR over TCP); nobody without an entry.
    pub allow_transfer: Vec<Prefix>,
    /// Names and wildcards a whole transfer of the zone may carry at most (SERVFAIL beyond).
    pub transfer_max_names: usize,
    /// Secondaries told of new serials (NOTIFY, RFC 1996).
    pub notify: Vec<SocketAddr>,
    /// At most one NOTIFY round per this interval (changes in between are told together).
    pub notify_interval: Duration,
    /// The rbldnsd file written for rsync mirrors, if any.
    pub mirror_export: Option<MirrorExport>,
    /// A secondary zone's primary: its data comes by zone transfer from there (AXFR, then IXFR
    /// on NOTIFY and at the SOA refresh) and cannot be changed here.
    pub primary: Option<SocketAddr>,
    /// The TSIG key of transfers: a primary answers only requests signed with it (and signs
    /// its answers); a secondary signs its requests with it and checks the answers.
    pub transfer_key: Option<crate::tsig::Key>,
}

/// `mirror-export = { path, every, expires }`: what the zone serves, written as an rbldnsd
/// `combined` file for mirrors to rsync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorExport {
    /// The file (relative paths are under the data directory), replaced whole each time.
    pub path: PathBuf,
    /// How often it is written when the zone changed.
    pub every: Duration,
    /// How long after it was written a mirror's rbldnsd stops answering from it (`$TIMESTAMP`).
    pub expires: Duration,
}

impl ZoneConfig {
    /// Whether `other` gives the zone's records the same form: the same TTL, TXT template,
    /// SOA (but the serial) and NS. Transfer and notify settings do not change the records.
    pub fn same_records(&self, other: &ZoneConfig) -> bool {
        (&self.origin, self.ttl, &self.txt_template, &self.soa, &self.ns)
            == (&other.origin, other.ttl, &other.txt_template, &other.soa, &other.ns)
    }
}

/// The default of `transfer-max-names`: the record form of a list is a few names per entry
/// (3.5 for the benchmark list), so this is a list of about 5M entries; beyond that, mirror the
/// rbldnsd files instead (`mirror-export`) or raise it knowing each name costs a stock
/// secondary about 500 bytes.
pub const DEFAULT_TRANSFER_MAX_NAMES: usize = 20_000_000;

/// SOA fields except the serial, which lives in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    pub mname: DomainName,
    pub rname: DomainName,
    pub ttl: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

/// An NS record at the apex, with glue addresses for in-zone names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameServer {
    pub name: DomainName,
    pub addresses: Vec<IpAddr>,
    pub ttl: u32,
}

/// The secondary zones and their primaries.
fn secondaries(config: &Config) -> Vec<(&DomainName, SocketAddr)> {
    config.zones.iter().filter_map(|z| z.primary.map(|p| (&z.origin, p))).collect()
}

impl Config {
    /// The embedded default (`config/dnsbl.toml`).
    pub fn embedded_default() -> Result<Config, ConfigError> {
        Config::parse(DEFAULT_TOML, "<embedded default>")
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            position: None,
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, &origin)
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let at = |span: Option<std::ops::Range<usize>>, message: String| ConfigError {
            origin: origin.to_string(),
            position: span.filter(|s| s.end > 0).map(|s| line_col(text, s.start)),
            message,
        };
        let file: ConfigFile = toml::from_str(text).map_err(|e| at(e.span(), e.message().to_string()))?;
        Config::validate(file).map_err(|(span, msg)| at(span, msg))
    }

    fn validate(file: ConfigFile) -> Result<Config, (Option<std::ops::Range<usize>>, String)> {
        if *file.version.get_ref() != 1 {
            return Err((
                Some(file.version.span()),
                format!("unsupported config version {}; this dnsbl reads version 1", file.version.get_ref()),
            ));
        }
        let server = validate_server(file.server)?;
        if file.zones.is_empty() {
            return Err((None, "no [[zone]] configured; a server needs at least one zone".into()));
        }
        let evidence = validate_evidence(&file.evidence)?;
        let mut keys: Vec<crate::tsig::Key> = Vec::new();
        for spanned in &file.tsig_keys {
            let span = spanned.span();
            let k = spanned.get_ref();
            if !k.algorithm.eq_ignore_ascii_case(crate::tsig::ALGORITHM) {
                return Err((
                    Some(span),
                    format!(
                        "tsig-key {}: algorithm {:?} is not supported (use {:?})",
                        k.name,
                        k.algorithm,
                        crate::tsig::ALGORITHM
                    ),
                ));
            }
            use base64::Engine as _;
            let secret = base64::engine::general_purpose::STANDARD
                .decode(k.secret.trim())
                .map_err(|e| (Some(span.clone()), format!("tsig-key {}: secret is not base64: {e}", k.name)))?;
            if secret.len() < 16 {
                return Err((Some(span), format!("tsig-key {}: secret of {} bytes is too short (at least 16; `openssl rand -base64 32` makes one)", k.name, secret.len())));
            }
            if keys.iter().any(|x| x.name == k.name) {
                return Err((Some(span), format!("tsig-key {} is defined twice", k.name)));
            }
            keys.push(crate::tsig::Key::new(k.name.clone(), secret));
        }
        let mut zones: Vec<ZoneConfig> = Vec::new();
        for spanned in file.zones {
            let span = spanned.span();
            let zone = validate_zone(spanned.into_inner(), &file.evidence, &keys)?;
            if zones.iter().any(|z| z.origin == zone.origin) {
                return Err((Some(span), format!("zone {} is configured twice", zone.origin)));
            }
            zones.push(zone);
        }
        let tls = match (file.api.tls_certificate, file.api.tls_key) {
            (Some(certificate), Some(key)) => Some(TlsFiles { certificate, key }),
            (None, None) => None,
            _ => return Err((None, "[api] needs both tls-certificate and tls-key, or neither".into())),
        };
        let api = ApiConfig { listen: file.api.listen, allow_plain_http: file.api.allow_plain_http, tls };
        let web = validate_web(file.web)?;
        let registry = validate_registry(file.registry, &zones)?;
        let longest = zones.iter().map(|z| z.evidence.longest_window()).max().unwrap_or(0);
        if evidence.retention_days < longest {
            return Err((
                None,
                format!(
                    "[evidence] retention-days {} must cover the longest policy window ({longest} days)",
                    evidence.retention_days
                ),
            ));
        }
        Ok(Config { server, api, web, registry, evidence, zones })
    }

    /// Applies `dnsbl serve --zone NAME`: keep only that zone, or rename the single zone to it.
    pub fn select_zone(&mut self, name: &DomainName) -> Result<(), UnknownZone> {
        if self.zones.iter().any(|z| &z.origin == name) {
            self.zones.retain(|z| &z.origin == name);
            return Ok(());
        }
        match self.zones.as_mut_slice() {
            [zone] => {
                if let Some(z) = self.registry.zones.as_mut().and_then(|z| z.iter_mut().find(|z| **z == zone.origin)) {
                    *z = name.clone();
                }
                zone.rename(name);
                Ok(())
            }
            _ => Err(UnknownZone {
                name: name.clone(),
                configured: self.zones.iter().map(|z| z.origin.to_string()).collect(),
            }),
        }
    }

    /// The configured zone with this name.
    pub fn zone(&self, name: &DomainName) -> Option<&ZoneConfig> {
        self.zones.iter().find(|z| &z.origin == name)
    }
}

impl ZoneConfig {
    fn rename(&mut self, to: &DomainName) {
        let from = self.origin.clone();
        self.soa.mname = self.soa.mname.rebase(&from, to);
        self.soa.rname = self.soa.rname.rebase(&from, to);
        for ns in &mut self.ns {
            ns.name = ns.name.rebase(&from, to);
        }
        self.txt_template = self.txt_template.replace(from.as_str(), to.as_str());
        self.origin = to.clone();
    }
}

fn validate_server(s: ServerFile) -> Result<ServerConfig, (Option<std::ops::Range<usize>>, String)> {
    if s.listen.get_ref().is_empty() {
        return Err((Some(s.listen.span()), "listen needs at least one address".into()));
    }
    let payload = *s.max_udp_payload.get_ref();
    if !(512..=4096).contains(&payload) {
        return Err((Some(s.max_udp_payload.span()), format!("max-udp-payload {payload} must be within 512..=4096")));
    }
    if *s.max_tcp_connections.get_ref() == 0 {
        return Err((Some(s.max_tcp_connections.span()), "max-tcp-connections must be at least 1".into()));
    }
    let workers =
        if s.udp_workers == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { s.udp_workers };
    Ok(ServerConfig {
        listen: s.listen.into_inner(),
        data_dir: s.data_dir,
        udp_workers: workers,
        udp_receive_buffer: s.udp_receive_buffer,
        max_udp_payload: payload,
        tcp_idle_timeout: Duration::from_secs(s.tcp_idle_timeout.max(1)),
        max_tcp_connections: *s.max_tcp_connections.get_ref(),
        min_free_disk: s.min_free_disk,
        refuse_clients: client_prefixes("refuse-clients", s.refuse_clients)?,
        ignore_clients: client_prefixes("ignore-clients", s.ignore_clients)?,
        rrl: s.rrl.map(validate_rrl).transpose()?,
        cookie_secret_file: s.cookies.answer.then_some(s.cookies.secret_file),
        registered_resolvers_only: s.registered_resolvers_only,
    })
}

fn validate_web(w: WebFile) -> Result<WebConfig, (Option<std::ops::Range<usize>>, String)> {
    if !(1..=100_000).contains(&w.lookups_per_minute) {
        return Err((None, format!("[web] lookups-per-minute {} must be within 1..=100000", w.lookups_per_minute)));
    }
    let public_url =
        w.public_url.unwrap_or_else(|| "http://bl.localhost:8080".into()).trim_end_matches('/').to_string();
    let scheme_ok = public_url.starts_with("http://") || public_url.starts_with("https://");
    if !scheme_ok || public_url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err((None, format!("[web] public-url {public_url:?} must be an http:// or https:// URL")));
    }
    let sendmail = w.sendmail.unwrap_or_else(|| vec!["/usr/sbin/sendmail".into(), "-t".into(), "-i".into()]);
    if sendmail.first().is_none_or(|c| c.is_empty()) {
        return Err((
            None,
            "[web] sendmail is a command and its arguments, e.g. [\"/usr/sbin/sendmail\", \"-t\", \"-i\"]".into(),
        ));
    }
    let sendmail_timeout_secs = w.sendmail_timeout.unwrap_or(10);
    if !(1..=300).contains(&sendmail_timeout_secs) {
        return Err((None, format!("[web] sendmail-timeout {sendmail_timeout_secs} must be within 1..=300 seconds")));
    }
    let mail_from = w.mail_from.unwrap_or_else(|| "hostmaster@bl.localhost".into());
    if !mail_from.contains('@') || mail_from.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err((None, format!("[web] mail-from {mail_from:?} must be a plain email address")));
    }
    let requests_per_hour = w.requests_per_hour.unwrap_or(5);
    if !(1..=10_000).contains(&requests_per_hour) {
        return Err((None, format!("[web] requests-per-hour {requests_per_hour} must be within 1..=10000")));
    }
    let largest_ipv4_request = w.largest_ipv4_request.unwrap_or(24);
    let largest_ipv6_request = w.largest_ipv6_request.unwrap_or(48);
    if !(16..=32).contains(&largest_ipv4_request) || !(32..=128).contains(&largest_ipv6_request) {
        return Err((
            None,
            "[web] largest-ipv4-request is within 16..=32, largest-ipv6-request within 32..=128".into(),
        ));
    }
    Ok(WebConfig {
        enabled: w.enabled,
        listen: w.listen,
        lookups_per_minute: w.lookups_per_minute,
        public_url,
        sendmail,
        sendmail_timeout_secs,
        mail_from,
        requests_per_hour,
        largest_ipv4_request,
        largest_ipv6_request,
        auto_approve: w.auto_approve.unwrap_or(2).min(1000),
    })
}

fn validate_evidence(file: &EvidenceFile) -> Result<EvidenceConfig, (Option<std::ops::Range<usize>>, String)> {
    let dataset = match &file.dataset {
        None => DatasetName::parse("evidence").map_err(|e| (None, e.to_string()))?,
        Some(name) => DatasetName::parse(name).map_err(|e| (None, format!("[evidence] dataset: {e}")))?,
    };
    if dataset.is_operator() {
        return Err((None, "[evidence] dataset must not be the operator's own dataset".into()));
    }
    if let Some(p) = &file.policies {
        return Err((Some(p.span()), "policies are chosen per zone, in [zone.evidence]".into()));
    }
    // The tables alone, so that a bad threshold is reported where it is written.
    policies(&file.three_strikes, &file.complaint_rate, &file.trap_hits, &EvidenceFile::default())
        .map_err(|e| (None, format!("[evidence.{e}")))?;
    let retention_days = file.retention_days.unwrap_or(90);
    if !(1..=3650).contains(&retention_days) {
        return Err((None, format!("[evidence] retention-days {retention_days} must be within 1..=3650")));
    }
    let longest_listing_days = file.longest_listing_days.unwrap_or(56);
    if !(1..=3650).contains(&longest_listing_days) {
        return Err((None, format!("[evidence] longest-listing-days {longest_listing_days} must be within 1..=3650")));
    }
    Ok(EvidenceConfig { dataset, retention_days, longest_listing_days })
}

/// A zone's policies: its `[zone.evidence]` over the `[evidence.*]` tables over the defaults
/// (three-strikes 3 mailings, 2 reporters, 30 days; complaint-rate 1 % of at least 1,000
/// messages in 7 days; trap-hits 5 hits to 2 traps in 7 days; each listed 7 days). The error
/// names the table (`three-strikes] ...`), for the caller to prefix.
fn policies(
    strikes: &ThreeStrikesFile,
    rate: &ComplaintRateFile,
    traps: &TrapHitsFile,
    zone: &EvidenceFile,
) -> Result<Policies, String> {
    let within = |v: u32, r: std::ops::RangeInclusive<u32>| r.contains(&v);
    let (s, z) = (strikes, &zone.three_strikes);
    let three_strikes = ThreeStrikes {
        mailings: z.mailings.or(s.mailings).unwrap_or(3),
        reporters: z.reporters.or(s.reporters).unwrap_or(2),
        window_days: z.window_days.or(s.window_days).unwrap_or(30),
        listed_days: z.listed_days.or(s.listed_days).unwrap_or(7),
    };
    let t = &three_strikes;
    let days_ok = within(t.window_days, 1..=365) && within(t.listed_days, 1..=365);
    if !(within(t.mailings, 1..=100) && within(t.reporters, 1..=100) && days_ok) {
        return Err(
            "three-strikes] mailings and reporters are within 1..=100, window-days and listed-days within 1..=365"
                .into(),
        );
    }
    let (r, z) = (rate, &zone.complaint_rate);
    let percent = z.percent.or(r.percent).unwrap_or(1.0);
    if !(0.01..=100.0).contains(&percent) {
        return Err(format!("complaint-rate] percent {percent} must be within 0.01..=100"));
    }
    let complaint_rate = ComplaintRate {
        basis_points: (percent * 100.0).round() as u32,
        messages: z.messages.or(r.messages).unwrap_or(1000),
        window_days: z.window_days.or(r.window_days).unwrap_or(7),
        listed_days: z.listed_days.or(r.listed_days).unwrap_or(7),
    };
    let c = &complaint_rate;
    if !(1..=1_000_000_000).contains(&c.messages) || !within(c.window_days, 1..=365) || !within(c.listed_days, 1..=365)
    {
        return Err("complaint-rate] messages is within 1..=1000000000, window-days and listed-days 1..=365".into());
    }
    let (h, z) = (traps, &zone.trap_hits);
    let trap_hits = TrapHits {
        hits: z.hits.or(h.hits).unwrap_or(5),
        traps: z.traps.or(h.traps).unwrap_or(2),
        window_days: z.window_days.or(h.window_days).unwrap_or(7),
        listed_days: z.listed_days.or(h.listed_days).unwrap_or(7),
    };
    let t = &trap_hits;
    let days_ok = within(t.window_days, 1..=365) && within(t.listed_days, 1..=365);
    if !(within(t.hits, 1..=1000) && within(t.traps, 1..=100) && days_ok) {
        return Err("trap-hits] hits is within 1..=1000, traps 1..=100, window-days and listed-days 1..=365".into());
    }
    let used = |name: &str| zone.policies.as_ref().is_none_or(|p| p.get_ref().iter().any(|n| n == name));
    Ok(Policies {
        three_strikes: used("three-strikes").then_some(three_strikes),
        complaint_rate: used("complaint-rate").then_some(complaint_rate),
        trap_hits: used("trap-hits").then_some(trap_hits),
    })
}

fn validate_rrl(file: Spanned<RrlFile>) -> Result<RrlSettings, (Option<std::ops::Range<usize>>, String)> {
    let span = file.span();
    let r = file.into_inner();
    let bad = |why: String| Err((Some(span.clone()), why));
    let rates = [Some(r.responses_per_second), r.nxdomains_per_second, r.nodata_per_second, r.errors_per_second];
    if rates.iter().flatten().any(|&n| n == 0 || n > 1_000_000) {
        return bad("[server.rrl] rates must be within 1..=1000000 per second".into());
    }
    if !(1..=3600).contains(&r.window) {
        return bad(format!("[server.rrl] window {} must be within 1..=3600 seconds", r.window));
    }
    if r.slip > 10 {
        return bad(format!("[server.rrl] slip {} must be within 0..=10", r.slip));
    }
    if r.ipv4_prefix_length > 32 || r.ipv6_prefix_length > 128 {
        return bad("[server.rrl] ipv4-prefix-length is at most 32, ipv6-prefix-length at most 128".into());
    }
    if !(1024..=(1 << 26)).contains(&r.table_size) {
        return bad(format!("[server.rrl] table-size {} must be within 1024..=67108864", r.table_size));
    }
    Ok(RrlSettings {
        responses_per_second: r.responses_per_second,
        nxdomains_per_second: r.nxdomains_per_second.unwrap_or(r.responses_per_second),
        nodata_per_second: r.nodata_per_second.unwrap_or(r.responses_per_second),
        errors_per_second: r.errors_per_second.unwrap_or(r.responses_per_second),
        window: r.window,
        slip: r.slip,
        ipv4_prefix_length: r.ipv4_prefix_length,
        ipv6_prefix_length: r.ipv6_prefix_length,
        exempt_clients: client_prefixes("exempt-clients", r.exempt_clients)?,
        log_only: r.log_only,
        table_size: r.table_size,
    })
}

fn client_prefixes(
    key: &str,
    list: Vec<Spanned<String>>,
) -> Result<Vec<Prefix>, (Option<std::ops::Range<usize>>, String)> {
    list.into_iter()
        .map(|s| {
            Prefix::parse_strict(s.get_ref()).map_err(|e| (Some(s.span()), format!("{key}: {}: {e}", s.get_ref())))
        })
        .collect()
}

fn validate_registry(
    r: RegistryFile,
    zones: &[ZoneConfig],
) -> Result<RegistryConfig, (Option<std::ops::Range<usize>>, String)> {
    if let Some(names) = &r.zones {
        if let Some(missing) = names.get_ref().iter().find(|n| !zones.iter().any(|z| &z.origin == *n)) {
            return Err((Some(names.span()), format!("registry zone {missing} is not a configured [[zone]]")));
        }
        if let Some(secondary) =
            names.get_ref().iter().find(|n| zones.iter().any(|z| &z.origin == *n && z.primary.is_some()))
        {
            return Err((
                Some(names.span()),
                format!("registry zone {secondary} is a secondary: registrations apply on its primary"),
            ));
        }
    }
    // Registrations apply on the primaries; by default to every zone this server is primary for.
    let has_secondaries = zones.iter().any(|z| z.primary.is_some());
    let default_zones = || zones.iter().filter(|z| z.primary.is_none()).map(|z| z.origin.clone()).collect();
    validate_txt(r.lookup_url.get_ref()).map_err(|e| (Some(r.lookup_url.span()), format!("lookup-url: {e}")))?;
    if *r.shortest_ipv4.get_ref() > 32 {
        return Err((Some(r.shortest_ipv4.span()), "shortest-ipv4 must be within 0..=32".into()));
    }
    if *r.shortest_ipv6.get_ref() > 128 {
        return Err((Some(r.shortest_ipv6.span()), "shortest-ipv6 must be within 0..=128".into()));
    }
    let denied = match r.denied {
        None => Policy::default().denied,
        Some(list) => list
            .into_iter()
            .map(|s| {
                Prefix::parse_strict(s.get_ref()).map_err(|e| (Some(s.span()), format!("denied: {}: {e}", s.get_ref())))
            })
            .collect::<Result<_, _>>()?,
    };
    let policy = Policy {
        denied,
        max_ipv4_addresses: r.max_ipv4_addresses,
        max_ipv6_prefixes: r.max_ipv6_prefixes,
        shortest_v4: r.shortest_ipv4.into_inner(),
        shortest_v6: r.shortest_ipv6.into_inner(),
        lookup_url: r.lookup_url.into_inner(),
    };
    let zones = match (r.zones, has_secondaries) {
        (Some(names), _) => Some(names.into_inner()),
        (None, true) => Some(default_zones()),
        (None, false) => None,
    };
    Ok(RegistryConfig { zones, policy })
}

fn validate_zone(
    z: ZoneFile,
    evidence: &EvidenceFile,
    keys: &[crate::tsig::Key],
) -> Result<ZoneConfig, (Option<std::ops::Range<usize>>, String)> {
    let origin = z.name.get_ref().clone();
    let e = &z.evidence;
    if e.dataset.is_some() || e.retention_days.is_some() || e.longest_listing_days.is_some() {
        return Err((
            Some(z.name.span()),
            format!(
                "zone {origin}: dataset, retention-days and longest-listing-days are set in [evidence] for every zone"
            ),
        ));
    }
    if let Some(names) = &z.evidence.policies {
        if let Some(unknown) = names.get_ref().iter().find(|n| !POLICY_NAMES.contains(&n.as_str())) {
            return Err((
                Some(names.span()),
                format!("zone {origin}: unknown evidence policy {unknown:?} (known: {})", POLICY_NAMES.join(", ")),
            ));
        }
    }
    let mut allow_transfer = Vec::new();
    for spanned in &z.allow_transfer {
        let text = spanned.get_ref();
        let prefix = match text.parse::<IpAddr>() {
            Ok(ip) => Prefix::host(ip),
            Err(_) => {
                text.parse::<Prefix>().map_err(|e| (Some(spanned.span()), format!("allow-transfer {text:?}: {e}")))?
            }
        };
        allow_transfer.push(prefix);
    }
    let transfer_max_names = z.transfer_max_names.unwrap_or(DEFAULT_TRANSFER_MAX_NAMES);
    if transfer_max_names == 0 {
        return Err((Some(z.name.span()), format!("zone {origin}: transfer-max-names must be at least 1")));
    }
    let mut notify = Vec::new();
    for spanned in &z.notify {
        let text = spanned.get_ref();
        let target = match text.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, 53),
            Err(_) => text.parse::<SocketAddr>().map_err(|_| {
                (
                    Some(spanned.span()),
                    format!("notify {text:?}: not an address or address:port (\"192.0.2.1\", \"[2001:db8::1]:5353\")"),
                )
            })?,
        };
        notify.push(target);
    }
    let mirror_export = match z.mirror_export {
        None => None,
        Some(m) => {
            let span = m.span();
            let m = m.into_inner();
            let every = m.every.unwrap_or(60);
            if !(1..=86_400).contains(&every) {
                return Err((
                    Some(span),
                    format!("zone {origin}: mirror-export every {every} must be within 1..=86400 seconds"),
                ));
            }
            let expires = m.expires.unwrap_or(u64::from(z.soa.expire));
            if expires > 10 * 366 * 86_400 {
                return Err((
                    Some(span),
                    format!("zone {origin}: mirror-export expires {expires} must be at most ten years"),
                ));
            }
            if expires <= every {
                return Err((
                    Some(span),
                    format!("zone {origin}: mirror-export expires {expires} must be longer than every {every}"),
                ));
            }
            if m.path.as_os_str().is_empty() {
                return Err((Some(span), format!("zone {origin}: mirror-export needs a path")));
            }
            Some(MirrorExport {
                path: m.path,
                every: Duration::from_secs(every),
                expires: Duration::from_secs(expires),
            })
        }
    };
    let primary = match &z.primary {
        None => None,
        Some(spanned) => {
            let text = spanned.get_ref();
            let addr = match text.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, 53),
                Err(_) => text
                    .parse::<SocketAddr>()
                    .map_err(|_| (Some(spanned.span()), format!("primary {text:?}: not an address or address:port")))?,
            };
            Some(addr)
        }
    };
    let transfer_key = match &z.transfer_key {
        None => None,
        Some(name) => Some(keys.iter().find(|k| &k.name == name.get_ref()).cloned().ok_or_else(|| {
            (Some(name.span()), format!("transfer-key {}: no [[tsig-key]] of that name", name.get_ref()))
        })?),
    };
    let notify_interval = z.notify_interval.unwrap_or(1);
    if notify_interval > 3600 {
        return Err((
            Some(z.name.span()),
            format!("zone {origin}: notify-interval {notify_interval} must be within 0..=3600 seconds"),
        ));
    }
    let policies = policies(&evidence.three_strikes, &evidence.complaint_rate, &evidence.trap_hits, &z.evidence)
        .map_err(|e| (None, format!("zone {origin}: [zone.evidence.{e}")))?;
    validate_txt(z.txt_template.get_ref()).map_err(|e| (Some(z.txt_template.span()), format!("txt-template: {e}")))?;
    let mut ns = Vec::new();
    for spanned in z.ns {
        let span = spanned.span();
        let n = spanned.into_inner();
        let inside = n.name.is_within(&origin);
        if inside && n.addresses.is_empty() {
            return Err((
                Some(span),
                format!("name server {} is inside zone {origin}; give its glue addresses", n.name),
            ));
        }
        if !inside && !n.addresses.is_empty() {
            return Err((
                Some(span),
                format!("name server {} is outside zone {origin}; glue addresses are only for in-zone names", n.name),
            ));
        }
        if n.name == origin {
            return Err((Some(span), "a name server may not be the zone apex itself".into()));
        }
        ns.push(NameServer { name: n.name, addresses: n.addresses, ttl: n.ttl.unwrap_or(z.soa.ttl) });
    }
    let soa = Soa {
        mname: z.soa.mname,
        rname: z.soa.rname,
        ttl: z.soa.ttl,
        refresh: z.soa.refresh,
        retry: z.soa.retry,
        expire: z.soa.expire,
        minimum: z.soa.minimum,
    };
    let codes = z.codes.into_iter().map(|(k, v)| (k.0, v)).collect();
    Ok(ZoneConfig {
        origin,
        ttl: z.ttl,
        txt_template: z.txt_template.into_inner(),
        soa,
        ns,
        codes,
        require_key: z.require_key,
        allow_transfer,
        transfer_max_names,
        notify,
        notify_interval: Duration::from_secs(notify_interval),
        mirror_export,
        // A secondary's evidence listings come with its data from the primary: its own policies
        // (the default configuration names some) do not run.
        evidence: match primary {
            Some(_) => Policies { three_strikes: None, complaint_rate: None, trap_hits: None },
            None => policies,
        },
        primary,
        transfer_key,
    })
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_names_what_needs_a_restart() {
        let running = Config::embedded_default().expect("default");
        let mut new = running.clone();
        assert!(running.restart_needed_for(&new).is_empty());
        new.zones[0].ttl = 77;
        new.server.refuse_clients = vec!["192.0.2.0/24".parse().expect("prefix")];
        assert!(running.restart_needed_for(&new).is_empty(), "zones and client rules reload");
        new.server.max_tcp_connections += 1;
        new.api.allow_plain_http = !new.api.allow_plain_http;
        assert_eq!(running.restart_needed_for(&new), ["[server] max-tcp-connections", "[api]"]);
    }

    #[test]
    fn embedded_default_is_valid_and_documented() {
        let c = Config::embedded_default().expect("default config parses");
        assert_eq!(c.server.listen, vec!["127.0.0.1:5353".parse::<SocketAddr>().expect("addr")]);
        assert_eq!(c.server.data_dir, PathBuf::from("./data"));
        assert_eq!(c.zones.len(), 1);
        let z = &c.zones[0];
        assert_eq!(z.origin.as_str(), "bl.localhost");
        assert_eq!(z.soa.minimum, 60);
        assert_eq!(z.ns[0].addresses, vec!["127.0.0.1".parse::<IpAddr>().expect("ip")]);
        assert_eq!(z.codes.len(), 3);
        assert!(c.server.udp_workers >= 1);
        assert_eq!(c.registry.policy, Policy::default(), "the file shows the built-in registry defaults");
        assert!(c.registry.applies_to(&z.origin));
        assert_eq!(c.api.tls, None);
        assert_eq!(c.server.rrl, None, "rate limiting is off by default");
        assert_eq!(c.server.cookie_secret_path(), Some(c.server.data_dir.join("cookie.secret")), "cookies are on");
        assert!(!c.server.registered_resolvers_only && !z.require_key, "the default zone is public");
    }

    #[test]
    fn rate_limiting_settings_take_their_defaults_and_limits() {
        let base = include_str!("../config/dnsbl.toml");
        let anchor = "registered-resolvers-only = false\n";
        let with = |table: &str| base.replace(anchor, &format!("{anchor}{table}\n"));
        let c = Config::parse(&with("[server.rrl]\nexempt-clients = [\"192.0.2.53\"]"), "t.toml").expect("valid");
        let rrl = c.server.rrl.expect("on");
        assert_eq!((rrl.responses_per_second, rrl.nxdomains_per_second, rrl.window, rrl.slip), (20, 20, 15, 2));
        assert_eq!((rrl.ipv4_prefix_length, rrl.ipv6_prefix_length, rrl.table_size), (24, 56, 1 << 16));
        assert_eq!(rrl.exempt_clients, ["192.0.2.53/32".parse::<Prefix>().expect("prefix")]);
        for (bad, why) in [("window = 0", "window"), ("responses-per-second = 0", "rates"), ("slip = 11", "slip")] {
            let e = Config::parse(&with(&format!("[server.rrl]\n{bad}")), "t.toml").expect_err(bad);
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn registry_section_is_checked() {
        let other = DEFAULT_TOML.replace("# zones = [\"bl.localhost\"]", "zones = [\"bl.other\"]");
        assert!(err(&other).contains("registry zone bl.other is not a configured [[zone]]"));
        let wide = DEFAULT_TOML.replace("shortest-ipv4 = 24", "shortest-ipv4 = 40");
        assert!(err(&wide).contains("0..=32"));
        let bad = DEFAULT_TOML.replace("\"0.0.0.0/8\", ", "\"0.0.0.1/8\", ");
        assert!(err(&bad).contains("denied: 0.0.0.1/8"));
        let half_tls = DEFAULT_TOML.replace("# tls-key = ", "tls-key = ");
        assert!(err(&half_tls).contains("both tls-certificate and tls-key"));
    }

    #[test]
    fn evidence_policies_are_per_zone_over_the_shared_tables() {
        let c = Config::embedded_default().expect("default");
        let p = c.zones[0].evidence;
        assert_eq!(p.names(), POLICY_NAMES, "every policy is on by default");
        assert_eq!(p.three_strikes, Some(ThreeStrikes { mailings: 3, reporters: 2, window_days: 30, listed_days: 7 }));
        assert_eq!(
            p.complaint_rate,
            Some(ComplaintRate { basis_points: 100, messages: 1000, window_days: 7, listed_days: 7 })
        );
        assert_eq!(p.trap_hits, Some(TrapHits { hits: 5, traps: 2, window_days: 7, listed_days: 7 }));
        assert_eq!((c.evidence.retention_days, c.evidence.longest_listing_days), (90, 56));
        let anchor = "policies = [\"three-strikes\", \"complaint-rate\", \"trap-hits\"]";
        let zone = |table: &str| DEFAULT_TOML.replace(anchor, table);
        let strict = zone("policies = [\"complaint-rate\"]\n[zone.evidence.complaint-rate]\npercent = 0.5");
        let c = Config::parse(&strict, "t.toml").expect("valid");
        let p = c.zones[0].evidence;
        assert_eq!(
            (p.names(), p.complaint_rate.map(|r| (r.basis_points, r.messages))),
            (vec!["complaint-rate"], Some((50, 1000)))
        );
        let none = Config::parse(&zone("policies = []"), "t.toml").expect("valid");
        assert_eq!(none.zones[0].evidence, Policies::default());
        let shared =
            DEFAULT_TOML.replace("[evidence.three-strikes]\nmailings = 3", "[evidence.three-strikes]\nmailings = 4");
        let c = Config::parse(&shared, "t.toml").expect("valid");
        assert_eq!(c.zones[0].evidence.three_strikes.map(|t| t.mailings), Some(4));
        assert!(err(&zone("policies = [\"two-strikes\"]")).contains("unknown evidence policy \"two-strikes\""));
        assert!(err(&zone("retention-days = 9")).contains("set in [evidence] for every zone"));
        let global = DEFAULT_TOML.replace("dataset = \"evidence\"", "dataset = \"evidence\"\npolicies = []");
        assert!(err(&global).contains("policies are chosen per zone"));
        assert!(
            err(&zone("[zone.evidence.trap-hits]\nhits = 0")).contains("zone bl.localhost: [zone.evidence.trap-hits]")
        );
        assert!(
            err(&DEFAULT_TOML.replace("percent = 1.0", "percent = 0.0")).contains("[evidence.complaint-rate] percent")
        );
        let long = zone("[zone.evidence.three-strikes]\nwindow-days = 120");
        assert!(err(&long).contains("retention-days 90 must cover the longest policy window (120 days)"));
        let whole = DEFAULT_TOML.replace("percent = 1.0", "percent = 2");
        let c = Config::parse(&whole, "t.toml").expect("an integer percent");
        assert_eq!(c.zones[0].evidence.complaint_rate.map(|r| r.basis_points), Some(200));
    }

    fn err(text: &str) -> String {
        Config::parse(text, "t.toml").expect_err("must fail").to_string()
    }

    #[test]
    fn errors_name_file_line_and_reason() {
        let bad_code = DEFAULT_TOML.replace("\"127.0.0.4\" =", "\"10.0.0.4\" =");
        let line = DEFAULT_TOML.lines().position(|l| l.starts_with("\"127.0.0.4\"")).expect("line") + 1;
        let e = err(&bad_code);
        assert!(e.starts_with(&format!("t.toml:{line}:")), "{e}");
        assert!(e.contains("outside 127.0.0.0/8"), "{e}");

        let unknown = DEFAULT_TOML.replace("ttl = 300", "ttl = 300\ncolour = \"red\"");
        assert!(err(&unknown).contains("unknown field `colour`"));

        let no_glue = DEFAULT_TOML.replace("addresses = [\"127.0.0.1\"]", "");
        assert!(err(&no_glue).contains("give its glue addresses"));

        let bad_name = DEFAULT_TOML.replace("name = \"bl.localhost\"", "name = \"bl..localhost\"");
        assert!(err(&bad_name).contains("not a domain name"));

        let v2 = DEFAULT_TOML.replace("version = 1", "version = 2");
        assert!(err(&v2).contains("unsupported config version 2"));

        let payload = DEFAULT_TOML.replace("max-udp-payload = 1232", "max-udp-payload = 100");
        assert!(err(&payload).contains("512..=4096"));
    }

    #[test]
    fn plain_http_api_stays_on_loopback_unless_allowed() {
        let mut c = Config::embedded_default().expect("default");
        assert_eq!(c.api.check_exposure(), Ok(()));
        c.api.listen = "0.0.0.0:8053".parse().expect("addr");
        assert!(c.api.check_exposure().expect_err("exposed").to_string().contains("allow-plain-http"));
        c.api.allow_plain_http = true;
        assert_eq!(c.api.check_exposure(), Ok(()));
        c.api.allow_plain_http = false;
        c.api.tls = Some(TlsFiles { certificate: "c.pem".into(), key: "k.pem".into() });
        assert_eq!(c.api.check_exposure(), Ok(()), "HTTPS may listen anywhere");
    }

    #[test]
    fn transfer_settings_are_checked() {
        let with = |zone_lines: &str, tail: &str| {
            let text = DEFAULT_TOML.replace("allow-transfer = []", &format!("allow-transfer = []\n{zone_lines}"));
            Config::parse(&format!("{text}\n{tail}"), "t.toml")
        };
        let key = "[[tsig-key]]\nname = \"xfr.bl.localhost\"\nalgorithm = \"hmac-sha256\"\nsecret = \"c2VjcmV0LXRzaWcta2V5LWZvci10cmFuc2ZlcnMtMzI=\"";
        let c = with("transfer-key = \"xfr.bl.localhost\"\nprimary = \"192.0.2.1\"", key).expect("valid");
        let z = &c.zones[0];
        assert_eq!(z.primary, Some("192.0.2.1:53".parse().expect("addr")));
        assert_eq!(z.transfer_key.as_ref().map(|k| k.name.as_str()), Some("xfr.bl.localhost"));
        assert!(z.evidence.names().is_empty(), "a secondary runs no policies");
        assert_eq!(c.registry.zones, Some(Vec::new()), "registrations apply on primaries only");
        let err = |r: Result<Config, ConfigError>| r.expect_err("refused").to_string();
        assert!(err(with("transfer-key = \"nope\"", key)).contains("no [[tsig-key]] of that name"));
        let short = key.replace("c2VjcmV0LXRzaWcta2V5LWZvci10cmFuc2ZlcnMtMzI=", "c2hvcnQ=");
        assert!(err(with("", &short)).contains("too short"));
        assert!(err(with("", &key.replace("c2VjcmV0", "!!"))).contains("not base64"));
        assert!(err(with("", &key.replace("hmac-sha256", "hmac-md5"))).contains("not supported"));
        assert!(err(with("notify = [\"nowhere\"]", "")).contains("notify"));
        assert!(err(with("primary = \"x:y\"", "")).contains("primary"));
        assert!(err(with("mirror-export = { path = \"m\", every = 60, expires = 30 }", "")).contains("expires"));
    }

    #[test]
    fn select_zone_renames_single_zone() {
        let mut c = Config::embedded_default().expect("default");
        let name = DomainName::parse("bl.example.org").expect("name");
        c.select_zone(&name).expect("rename");
        let z = &c.zones[0];
        assert_eq!(z.origin, name);
        assert_eq!(z.soa.mname.as_str(), "ns1.bl.example.org");
        assert_eq!(z.ns[0].name.as_str(), "ns1.bl.example.org");
        assert!(z.txt_template.contains("bl.example.org"));
    }
}
