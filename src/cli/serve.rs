//! `dnsbl serve`: run the DNS server in the foreground.

use std::net::SocketAddr;

use anyhow::Context;

use super::ConfigArgs;
use crate::daemon::{Reloader, RunningServer};

/// Serve the configured zones.
///
/// Examples:
///   dnsbl serve                                   # bl.localhost on 127.0.0.1:5353, data in ./data
///   dnsbl serve --config /etc/dnsbl/dnsbl.toml
///   dnsbl serve --zone bl.example.org --listen 0.0.0.0:53 --listen [::]:53 --data-dir /var/lib/dnsbl
///   dnsbl serve --api-listen 127.0.0.1:8053 --web-listen 127.0.0.1:8080
///
/// SIGHUP reloads the configuration (zones, their settings, client rules, rate limiting, cookie
/// secrets, access settings, registry rules, the API certificate); a file that does not load is
/// refused and the running configuration stays. SIGTERM and SIGINT stop.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to answer on, UDP and TCP (repeatable); replaces the configured list.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// Address of the operator HTTP API; overrides the configuration's [api] listen.
    #[arg(long, value_name = "ADDR:PORT")]
    api_listen: Option<SocketAddr>,
    /// Address of the public web pages; overrides the configuration's [web] listen.
    #[arg(long, value_name = "ADDR:PORT")]
    web_listen: Option<SocketAddr>,
    /// Serve only this configured zone, or rename the single configured zone to it.
    #[arg(long, value_name = "NAME")]
    zone: Option<String>,
}

impl ServeArgs {
    /// The configuration as the files and the command line give it now.
    fn config(&self) -> anyhow::Result<crate::config::Config> {
        let mut config = self.config.load(self.zone.as_deref())?;
        if !self.listen.is_empty() {
            config.server.listen = self.listen.clone();
        }
        if let Some(api) = self.api_listen {
            config.api.listen = api;
        }
        if let Some(web) = self.web_listen {
            config.web.listen = web;
        }
        Ok(config)
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        // Watched before the (possibly long) load, so an early SIGHUP does not end the process.
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        let server = RunningServer::start(config).await?;
        let token = server.shutdown_token();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping");
            token.cancel();
        });
        match hangups {
            Ok(hangups) => {
                tokio::spawn(reload_on_hangup(args, hangups, server.reloader()));
            }
            Err(e) => tracing::error!(error = %e, "cannot watch for SIGHUP; reloads need a restart"),
        }
        server.run_until_stopped().await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Reloads the configuration on every SIGHUP; a file that does not load is refused with its
/// reason (`file:line:column: …`) and the running configuration stays.
async fn reload_on_hangup(args: ServeArgs, mut hangups: tokio::signal::unix::Signal, reloader: Reloader) {
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the configuration");
        match args.config() {
            Ok(config) => {
                if let Err(e) = reloader.reload(config).await {
                    tracing::error!(error = %e, "reload failed; the running configuration stays");
                }
            }
            Err(e) => tracing::error!(error = format!("{e:#}"), "reload refused; the running configuration stays"),
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
