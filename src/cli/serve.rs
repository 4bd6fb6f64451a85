//! `dnsbl serve`: run the DNS server in the foreground.

use std::net::SocketAddr;

use anyhow::Context;

use super::ConfigArgs;
use crate::daemon::RunningServer;

/// Serve the configured zones.
///
/// Examples:
///   dnsbl serve                                   # bl.localhost on 127.0.0.1:5353, data in ./data
///   dnsbl serve --config /etc/dnsbl/dnsbl.toml
///   dnsbl serve --zone bl.example.org --listen 0.0.0.0:53 --listen [::]:53 --data-dir /var/lib/dnsbl
///   dnsbl serve --api-listen 127.0.0.1:8053
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
    /// Serve only this configured zone, or rename the single configured zone to it.
    #[arg(long, value_name = "NAME")]
    zone: Option<String>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.config.load(args.zone.as_deref())?;
    if !args.listen.is_empty() {
        config.server.listen = args.listen;
    }
    if let Some(api) = args.api_listen {
        config.api.listen = api;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let server = RunningServer::start(config).await?;
        let token = server.shutdown_token();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping");
            token.cancel();
        });
        server.run_until_stopped().await;
        tracing::info!("stopped");
        Ok(())
    })
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
