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
        /// Print {"file", "zones"} as JSON when the file is valid.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Check { file, json } => {
            let config = Config::load(&file)?;
            let zones: Vec<&str> = config.zones.iter().map(|z| z.origin.as_str()).collect();
            if json {
                println!("{}", serde_json::json!({ "file": file.display().to_string(), "zones": zones }));
            } else {
                println!("{}: ok ({} zone(s): {})", file.display(), zones.len(), zones.join(", "));
            }
            Ok(())
        }
    }
}
