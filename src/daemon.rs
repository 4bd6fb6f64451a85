//! Start, run and stop a server: open the store, load the snapshot, bind, spawn the listeners
//! (UDP worker threads, the TCP accept loop, the HTTP(S) API) and the expiry task.
//!
//! Servers take their configuration, bind every socket before answering anything, and stop on a
//! cancellation token (mini-redis style), so tests start the real thing on port 0.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::unix_now;
use crate::config::Config;
use crate::cookie::Secrets;
use crate::dns::{self, stats::DnsStats, tcp::TcpSettings, Limits};
use crate::publisher::{ChangeError, Publisher, Reconfigured, Writer};
use crate::snapshot::SharedSnapshot;
use crate::store::{Store, StoreError};

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    ApiExposure(#[from] crate::config::ExposureError),
    #[error("operator token in the data directory: {0}")]
    Token(std::io::Error),
    #[error("API TLS: {0}")]
    Tls(#[from] crate::api::tls::TlsError),
    #[error("start-up task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Cookies(#[from] CookieFileError),
}

/// The DNS cookie secrets file cannot be read, parsed or created.
#[derive(Debug, thiserror::Error)]
pub enum CookieFileError {
    #[error("DNS cookie secrets {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{0}", path = .1)]
    Parse(crate::cookie::SecretsError, String),
}

/// Why a reload was refused (the running configuration stays).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Cookies(#[from] CookieFileError),
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error("API TLS: {0}")]
    Tls(#[from] crate::api::tls::TlsError),
}

/// Reads the DNS cookie secrets when cookies are answered, creating the file with one random
/// secret (mode 0600) if it does not exist.
pub fn cookie_secrets(server: &crate::config::ServerConfig) -> Result<Option<Secrets>, CookieFileError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let Some(path) = server.cookie_secret_path() else { return Ok(None) };
    let shown = path.display().to_string();
    let io = |source| CookieFileError::Io { path: shown.clone(), source };
    match std::fs::read_to_string(&path) {
        Ok(text) => return Secrets::parse(&text).map(Some).map_err(|e| CookieFileError::Parse(e, shown.clone())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let secret = crate::api::token::random_hex(16).map_err(io)?;
    let text = format!(
        "# DNS cookie secrets (RFC 9018). The first line makes cookies; every line is accepted.\n\
         # Give every server of an anycast group the same file.\n{secret}\n"
    );
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
    tracing::info!(path = %shown, "created a DNS cookie secret");
    Secrets::parse(&text).map(Some).map_err(|e| CookieFileError::Parse(e, shown))
}

/// Applies a new configuration to a running server (what SIGHUP does).
#[derive(Clone, Debug)]
pub struct Reloader {
    writer: Writer,
    /// The configuration the server started with (sockets and the API stay as it says).
    started: Arc<Config>,
    /// The API's TLS acceptor, whose certificate a reload reads again.
    tls: Option<crate::api::tls::Acceptor>,
}

impl Reloader {
    /// Serves `config`'s zones, client rules and registry rules from now on, in one publish; the
    /// settings that need a restart are left as they are and named in the log. Nothing is
    /// applied when it fails.
    pub async fn reload(&self, config: Config) -> Result<Reconfigured, ReloadError> {
        let cookies = cookie_secrets(&config.server)?;
        // The certificate is read (and checked against its key) before anything changes.
        let certificate = match (&self.tls, &config.api.tls) {
            (Some(_), Some(files)) => Some(crate::api::tls::read(files)?),
            _ => None,
        };
        let later = self.started.restart_needed_for(&config);
        if !later.is_empty() {
            tracing::warn!(settings = %later.join(", "), "changed settings take effect at the next restart");
        }
        let config = Arc::new(config);
        let report = self.writer.run(move |p| p.reconfigure(&config, cookies, unix_now())).await?;
        if let (Some(acceptor), Some(certificate)) = (&self.tls, certificate) {
            acceptor.install(certificate);
            tracing::info!("API certificate read again");
        }
        tracing::info!(
            added = %report.zones_added.join(" "),
            removed = %report.zones_removed.join(" "),
            changed = %report.zones_changed.join(" "),
            clients_changed = report.clients_changed,
            registry_changed = report.registry_changed,
            rrl_changed = report.rrl_changed,
            cookies_changed = report.cookies_changed,
            "configuration reloaded"
        );
        Ok(report)
    }
}

/// A server that is answering queries.
#[derive(Debug)]
pub struct RunningServer {
    addrs: Vec<SocketAddr>,
    api_addr: SocketAddr,
    web_addr: Option<SocketAddr>,
    shared: Arc<SharedSnapshot>,
    writer: Writer,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    udp_threads: Vec<std::thread::JoinHandle<()>>,
    config: Arc<Config>,
    tls: Option<crate::api::tls::Acceptor>,
    /// Held open (and locked) for as long as the server runs.
    _store: Arc<Store>,
}

impl RunningServer {
    /// Opens the store, loads every zone, binds every listen address and starts answering.
    /// Must be called inside a tokio runtime.
    pub async fn start(config: Config) -> Result<RunningServer, DaemonError> {
        config.api.check_exposure()?;
        let tls = config.api.tls.as_ref().map(crate::api::tls::load).transpose()?;
        let config = Arc::new(config);
        let (store, publisher) = load(config.clone()).await?;
        let shared = publisher.shared().clone();
        let writer = Writer::new(publisher);
        let bound = bind_sockets(&config)?;
        let bind_err = |source| DaemonError::Bind { addr: config.api.listen, source };
        let api_listener = tokio::net::TcpListener::bind(config.api.listen).await.map_err(bind_err)?;
        let api_addr = api_listener.local_addr().map_err(bind_err)?;
        let web_listener = match config.web.enabled {
            true => {
                let bind_err = |source| DaemonError::Bind { addr: config.web.listen, source };
                Some(tokio::net::TcpListener::bind(config.web.listen).await.map_err(bind_err)?)
            }
            false => None,
        };
        let web_addr = web_listener.as_ref().and_then(|l| l.local_addr().ok());
        let token = crate::api::token::load_or_create(&config.server.data_dir).map_err(DaemonError::Token)?;
        let shutdown = CancellationToken::new();
        let addrs = bound.iter().map(|b| b.addr).collect();
        // On failure, cancelling stops the workers that did start.
        let Workers { mut tasks, threads: udp_threads, stats, kicks } =
            spawn_tasks(&config, bound, &shared, &shutdown).inspect_err(|_| shutdown.cancel())?;
        let api_state = crate::api::ApiState {
            writer: writer.clone(),
            store: store.clone(),
            shared: shared.clone(),
            operator_token: token.into(),
            failures: Arc::default(),
            stats,
        };
        let scheme = if tls.is_some() { "HTTPS" } else { "HTTP" };
        tasks.spawn(crate::api::serve(api_listener, api_state, tls.clone(), shutdown.clone()));
        if let Some(listener) = web_listener {
            let state = crate::web::WebState::new(store.clone(), shared.clone(), writer.clone(), &config.web);
            tasks.spawn(crate::web::serve(listener, state, shutdown.clone()));
            tracing::info!(addr = ?web_addr, "web pages listening");
        }
        tasks.spawn(expire_listings(writer.clone(), shutdown.clone()));
        tasks.spawn(expire_evidence(writer.clone(), shutdown.clone()));
        tasks.spawn(mirror_exports(shared.clone(), config.server.data_dir.clone(), shutdown.clone()));
        for zone in config.zones.iter().filter(|z| z.primary.is_some()) {
            let (w, st, sh, k) = (writer.clone(), store.clone(), shared.clone(), kicks.clone());
            tasks.spawn(crate::secondary::run(zone.origin.clone(), w, st, sh, k, shutdown.clone()));
        }
        tracing::info!(addr = %api_addr, scheme, "API listening");
        Ok(RunningServer {
            addrs,
            api_addr,
            web_addr,
            shared,
            writer,
            shutdown,
            tasks,
            udp_threads,
            config,
            tls,
            _store: store,
        })
    }

    /// The addresses actually bound (UDP and TCP share each).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The address of the operator API.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The address of the public web pages, when they are on.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web_addr
    }

    /// The snapshot being served.
    pub fn snapshot(&self) -> &Arc<SharedSnapshot> {
        &self.shared
    }

    /// The writer that applies live changes (one at a time).
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// A handle that reloads the configuration.
    pub fn reloader(&self) -> Reloader {
        Reloader { writer: self.writer.clone(), started: self.config.clone(), tls: self.tls.clone() }
    }

    /// A token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops answering, waits for the listeners to end and closes the store.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        let threads = std::mem::take(&mut self.udp_threads);
        // UDP workers notice the cancellation within their receive timeout.
        let _ = tokio::task::spawn_blocking(move || threads.into_iter().for_each(|t| drop(t.join()))).await;
    }

    /// Waits until the shutdown token is cancelled, then stops.
    pub async fn run_until_stopped(self) {
        self.shutdown.cancelled().await;
        self.stop().await;
    }
}

async fn load(config: Arc<Config>) -> Result<(Arc<Store>, Publisher), DaemonError> {
    tokio::task::spawn_blocking(move || {
        let dir = &config.server.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| DaemonError::DataDir { path: dir.display().to_string(), source })?;
        let mut store = Store::open(dir)?;
        store.set_min_free_disk(config.server.min_free_disk);
        let store = Arc::new(store);
        let cookies = cookie_secrets(&config.server)?;
        let (publisher, report) = Publisher::load(store.clone(), &config, cookies, unix_now())?;
        for z in report {
            tracing::info!(zone = %z.zone, serial = z.serial, entries = z.entries, expired = z.expired, segments = z.segments, elapsed_ms = z.elapsed_ms, "loaded zone");
        }
        Ok((store, publisher))
    })
    .await?
}

/// How often due expiries are applied (so an entry stops being listed within this time).
const EXPIRY_TICK: std::time::Duration = std::time::Duration::from_millis(250);

/// Removes listings whose expiry time has come, until shutdown.
async fn expire_listings(writer: Writer, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EXPIRY_TICK) => {}
        }
        match writer.run(|p| p.expire_due(unix_now())).await {
            Ok(removed) => {
                for (zone, dataset, prefix) in removed {
                    tracing::info!(%zone, %dataset, %prefix, "listing expired");
                }
            }
            Err(e) => tracing::error!(error = %e, "expiring listings failed; will retry"),
        }
    }
}

/// How often evidence past its retention is dropped.
const EVIDENCE_SWEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// Drops evidence past its retention at start and then every hour, until shutdown.
async fn expire_evidence(writer: Writer, shutdown: CancellationToken) {
    loop {
        match writer.run(|p| p.expire_evidence(unix_now())).await {
            Ok(0) => {}
            Ok(dropped) => tracing::info!(dropped, "evidence past its retention dropped"),
            Err(e) => tracing::error!(error = %e, "dropping old evidence failed; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVIDENCE_SWEEP) => {}
        }
    }
}

/// How often the mirror exports are looked at.
const MIRROR_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes each zone's `mirror-export` file: at start, then at most once per `every` when the
/// zone's serial moved, and when half its `expires` has passed without a change (so the
/// `$TIMESTAMP` mirrors check stays fresh). Follows reloads (the settings ride in the snapshot).
async fn mirror_exports(shared: Arc<SharedSnapshot>, data_dir: std::path::PathBuf, shutdown: CancellationToken) {
    // Per zone: the serial last written and when.
    let mut written: std::collections::HashMap<crate::name::DomainName, (u32, std::time::Instant)> =
        std::collections::HashMap::new();
    loop {
        let snapshot = shared.load_full();
        for zone in &snapshot.zones {
            // A secondary without a copy (or past its expire) has nothing to give mirrors.
            let Some(mirror) = zone.config.mirror_export.clone().filter(|_| zone.serving) else { continue };
            let due = match written.get(&zone.config.origin) {
                None => true,
                Some(&(serial, at)) => {
                    let waited = at.elapsed();
                    (serial != zone.serial && waited >= mirror.every) || waited >= mirror.expires / 2
                }
            };
            if !due {
                continue;
            }
            let path = data_dir.join(&mirror.path);
            let (z, p) = (zone.clone(), path.clone());
            let started = std::time::Instant::now();
            let result = tokio::task::spawn_blocking(move || {
                crate::exporter::mirror(&z, &p, unix_now(), mirror.expires.as_secs())
            })
            .await;
            // A failure is tried again after `every`, like a change.
            written.insert(zone.config.origin.clone(), (zone.serial, std::time::Instant::now()));
            match result {
                Ok(Ok(report)) => {
                    tracing::info!(zone = %zone.config.origin, serial = zone.serial, path = %path.display(), lines = report.lines, elapsed_ms = started.elapsed().as_millis(), "mirror export written")
                }
                Ok(Err(e)) => {
                    tracing::error!(zone = %zone.config.origin, path = %path.display(), error = %e, "mirror export failed; will retry")
                }
                Err(e) => tracing::error!(zone = %zone.config.origin, error = %e, "mirror export failed; will retry"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(MIRROR_TICK) => {}
        }
    }
}

fn bind_sockets(config: &Config) -> Result<Vec<dns::listen::Bound>, DaemonError> {
    let s = &config.server;
    s.listen
        .iter()
        .map(|&addr| {
            dns::listen::bind(addr, s.udp_workers, s.udp_receive_buffer)
                .map_err(|source| DaemonError::Bind { addr, source })
        })
        .collect()
}

/// The DNS workers of every listen address, and the counters they share with the API.
struct Workers {
    tasks: JoinSet<()>,
    threads: Vec<std::thread::JoinHandle<()>>,
    stats: Arc<DnsStats>,
    /// NOTIFYs from primaries, for the secondary zones' transfer tasks.
    kicks: Arc<dns::notify::Kicks>,
}

fn spawn_tasks(
    config: &Config,
    bound: Vec<dns::listen::Bound>,
    shared: &Arc<SharedSnapshot>,
    shutdown: &CancellationToken,
) -> Result<Workers, DaemonError> {
    let limits = Limits { max_udp_payload: config.server.max_udp_payload };
    let tcp = TcpSettings {
        idle_timeout: config.server.tcp_idle_timeout,
        max_connections: config.server.max_tcp_connections,
    };
    let mut tasks = JoinSet::new();
    let mut threads = Vec::new();
    let stats = Arc::new(DnsStats::new(bound.iter().map(|b| b.udp.len()).sum()));
    // The transfer history is shared by the TCP listeners (IXFR) and the NOTIFY task.
    let journal = Arc::new(dns::journal::Journal::default());
    let kicks = Arc::new(dns::notify::Kicks::default());
    tasks.spawn(dns::notify::run(shared.clone(), journal.clone(), stats.clone(), shutdown.clone()));
    let mut worker = 0;
    for b in bound {
        let addr = b.addr;
        let bind_err = |source| DaemonError::Bind { addr, source };
        for (i, socket) in b.udp.into_iter().enumerate() {
            let (shared, shutdown, stats, kicks) = (shared.clone(), shutdown.clone(), stats.clone(), kicks.clone());
            let thread = std::thread::Builder::new()
                .name(format!("dnsbl-udp-{i}"))
                .spawn(move || dns::udp::serve(socket, shared, limits, stats.udp(worker), kicks, shutdown))
                .map_err(bind_err)?;
            threads.push(thread);
            worker += 1;
        }
        let listener = tokio::net::TcpListener::from_std(b.tcp).map_err(bind_err)?;
        let (shared, stats, journal) = (shared.clone(), stats.clone(), journal.clone());
        tasks.spawn(dns::tcp::serve(listener, shared, limits, tcp, stats, journal, shutdown.clone()));
        tracing::info!(%addr, udp_workers = config.server.udp_workers, "listening (UDP and TCP)");
    }
    Ok(Workers { tasks, threads, stats, kicks })
}
