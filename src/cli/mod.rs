//! The `dnsbl` command line (the only module that uses clap). One file per subcommand; each
//! turns flags into library calls and errors into messages that say what to do.

mod access;
mod admin;
mod client;
mod config;
mod delisting;
mod evidence;
mod listing;
mod lookup;
mod marketer;
mod serve;
mod zone;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::name::DomainName;

/// dnsbl: an authoritative DNS blocklist server for email-marketing sources.
#[derive(Debug, Parser)]
#[command(name = "dnsbl", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the configured zones over DNS (UDP and TCP) until SIGTERM or SIGINT.
    Serve(serve::ServeArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Work with a zone's data.
    #[command(subcommand)]
    Zone(zone::ZoneCommand),
    /// Add or remove listings on a running server.
    #[command(subcommand)]
    Listing(listing::ListingCommand),
    /// Add or remove exclusions on a running server.
    #[command(subcommand)]
    Exclusion(listing::ExclusionCommand),
    /// Show what the DNS answers for an address and why.
    Lookup(lookup::LookupArgs),
    /// Show every change that affected an address or prefix.
    History(lookup::HistoryArgs),
    /// Show the running server's query counters and zone sizes.
    Stats(admin::StatsArgs),
    /// Write a consistent copy of the running server's database.
    Backup(admin::BackupArgs),
    /// Manage registered email marketers (operator).
    #[command(subcommand)]
    Marketer(marketer::MarketerCommand),
    /// Declare addresses you send email marketing from (marketer token; DNSBL_TOKEN_FILE).
    ///
    /// Example: dnsbl register 192.88.99.7 192.88.99.32/29 --reason "newsletter MTA pool"
    Register(marketer::RegisterArgs),
    /// Withdraw declarations (marketer token).
    ///
    /// Example: dnsbl unregister 192.88.99.8
    Unregister(marketer::UnregisterArgs),
    /// Show what you have declared, since when, and what the DNS answers for each (marketer token).
    Registrations(marketer::RegistrationsArgs),
    /// Manage access keys for zones with `require-key` (operator).
    #[command(subcommand)]
    AccessKey(access::AccessKeyCommand),
    /// Manage registered resolvers for `registered-resolvers-only` (operator).
    #[command(subcommand)]
    Resolver(access::ResolverCommand),
    /// Show the changes to access keys and registered resolvers.
    AccessHistory(access::AccessHistoryArgs),
    /// Abuse reports from feedback loops (ARF).
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// Decide the removal requests filed on the public pages (operator).
    #[command(subcommand)]
    Delisting(delisting::DelistingCommand),
    /// Manage reporters of evidence (operator).
    #[command(subcommand)]
    Reporter(evidence::ReporterCommand),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve::run(args),
            Command::Config(cmd) => config::run(cmd),
            Command::Zone(cmd) => zone::run(cmd),
            Command::Listing(cmd) => listing::run_listing(cmd),
            Command::Exclusion(cmd) => listing::run_exclusion(cmd),
            Command::Lookup(args) => lookup::run(args),
            Command::History(args) => lookup::run_history(args),
            Command::Stats(args) => admin::run_stats(args),
            Command::Backup(args) => admin::run_backup(args),
            Command::Marketer(cmd) => marketer::run_marketer(cmd),
            Command::Register(args) => marketer::run_register(args),
            Command::Unregister(args) => marketer::run_unregister(args),
            Command::Registrations(args) => marketer::run_registrations(args),
            Command::AccessKey(cmd) => access::run_access_key(cmd),
            Command::Resolver(cmd) => access::run_resolver(cmd),
            Command::AccessHistory(args) => access::run_access_history(args),
            Command::Evidence(cmd) => evidence::run(cmd),
            Command::Delisting(cmd) => delisting::run(cmd),
            Command::Reporter(cmd) => evidence::run_reporter(cmd),
        }
    }
}

/// Flags shared by commands that need the configuration and the data directory.
#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// Configuration file (default: the embedded default, see config/dnsbl.toml).
    #[arg(long, value_name = "FILE", env = "DNSBL_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (RocksDB); overrides the configuration's data-dir.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl ConfigArgs {
    /// The configuration with `--data-dir` and `--zone` applied.
    fn load(&self, zone: Option<&str>) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::embedded_default()?,
        };
        if let Some(dir) = &self.data_dir {
            config.server.data_dir = dir.clone();
        }
        if let Some(zone) = zone {
            let name = DomainName::parse(zone)?;
            config.select_zone(&name)?;
        }
        Ok(config)
    }
}

/// Unix seconds as RFC 3339 UTC, for people.
fn format_unix(seconds: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds)).to_string()
}
