//! `dnsbl config check`: validate a configuration file.

use std::path::PathBuf;

use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file and say what is wrong, with file:line:column.
    ///
    /// Example: dnsbl config check config/dnsbl.toml
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Check { file } => {
            let config = Config::load(&file)?;
            let zones: Vec<&str> = config.zones.iter().map(|z| z.origin.as_str()).collect();
            println!("{}: ok ({} zone(s): {})", file.display(), zones.len(), zones.join(", "));
            Ok(())
        }
    }
}
