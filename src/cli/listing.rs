//! `dnsbl listing add|remove` and `dnsbl exclusion add|remove`: live changes through the API.

use super::client::{print_json, Client, ClientArgs};
use crate::api::wire::{ChangeResponse, ExclusionRequest, ListingRequest};

/// Which server, zone and dataset a change goes to.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Zone to change (default: the only zone the server serves).
    #[arg(long, value_name = "NAME")]
    zone: Option<String>,
    /// Dataset to change; adding to one the zone does not have creates it.
    #[arg(long, value_name = "NAME", default_value = "operator")]
    dataset: String,
    #[command(flatten)]
    client: ClientArgs,
}

impl Target {
    /// The API client and the zone's name.
    fn open(&self) -> anyhow::Result<(Client, String)> {
        let client = self.client.connect()?;
        let zone = client.zone(self.zone.as_deref())?;
        Ok((client, zone))
    }

    /// The dataset as a request names it (`None` for the operator's, the server's default).
    fn dataset(&self) -> Option<String> {
        Some(self.dataset.clone()).filter(|d| d != crate::name::DatasetName::OPERATOR)
    }

    /// The query of a removal: the prefix, and the dataset unless it is the operator's.
    fn removal<'a>(&'a self, prefix: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut query = vec![("prefix", prefix)];
        if self.dataset != crate::name::DatasetName::OPERATOR {
            query.push(("dataset", self.dataset.as_str()));
        }
        query
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum ListingCommand {
    /// List a prefix. Visible in DNS when the command returns.
    ///
    /// Examples:
    ///   dnsbl listing add 203.0.113.0/24 --code 3 --reason "marketing campaigns seen from this network"
    ///   dnsbl listing add 192.0.2.7 --code 3 --code 4 --reason "complaints" --expires 30d
    ///   dnsbl listing add 198.51.100.23 --code 4 --dataset traps --expires 7d
    #[command(verbatim_doc_comment)]
    Add {
        /// Address or CIDR prefix (host bits must be zero).
        prefix: String,
        /// Return code: full (127.0.0.3) or short (3); repeat for several.
        #[arg(long = "code", value_name = "CODE", default_value = "127.0.0.3")]
        codes: Vec<String>,
        /// TXT text; `$` becomes the queried address. Default: the zone's txt-template.
        #[arg(long)]
        reason: Option<String>,
        /// Stop listing after a duration (30d, 12h) or at an RFC 3339 time.
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Remove the listing at exactly this prefix.
    ///
    /// Examples:
    ///   dnsbl listing remove 203.0.113.0/24
    ///   dnsbl listing remove 198.51.100.23 --dataset traps
    #[command(verbatim_doc_comment)]
    Remove {
        prefix: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ExclusionCommand {
    /// Exclude a prefix from wider listings (more specific listings inside it still apply).
    ///
    /// Example: dnsbl exclusion add 203.0.113.77 --reason "customer's own mail server, verified"
    Add {
        prefix: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Remove the exclusion at exactly this prefix.
    ///
    /// Example: dnsbl exclusion remove 203.0.113.77
    Remove {
        prefix: String,
        #[command(flatten)]
        target: Target,
    },
}

pub fn run_listing(cmd: ListingCommand) -> anyhow::Result<()> {
    match cmd {
        ListingCommand::Add { prefix, codes, reason, expires, target } => {
            let (c, zone) = target.open()?;
            let body = ListingRequest { prefix, codes, reason, expires, dataset: target.dataset() };
            let answer = c.post(&format!("/v1/zones/{zone}/listings"), &body)?;
            report(target.client.json, &answer, "listed")
        }
        ListingCommand::Remove { prefix, target } => {
            let (c, zone) = target.open()?;
            let answer = c.delete(&format!("/v1/zones/{zone}/listings"), &target.removal(&prefix))?;
            report(target.client.json, &answer, "removed the listing of")
        }
    }
}

pub fn run_exclusion(cmd: ExclusionCommand) -> anyhow::Result<()> {
    match cmd {
        ExclusionCommand::Add { prefix, reason, target } => {
            let (c, zone) = target.open()?;
            let body = ExclusionRequest { prefix, reason, dataset: target.dataset() };
            let answer = c.post(&format!("/v1/zones/{zone}/exclusions"), &body)?;
            report(target.client.json, &answer, "excluded")
        }
        ExclusionCommand::Remove { prefix, target } => {
            let (c, zone) = target.open()?;
            let answer = c.delete(&format!("/v1/zones/{zone}/exclusions"), &target.removal(&prefix))?;
            report(target.client.json, &answer, "removed the exclusion of")
        }
    }
}

fn report(json: bool, answer: &ChangeResponse, verb: &str) -> anyhow::Result<()> {
    if json {
        return print_json(answer);
    }
    if answer.dataset == crate::name::DatasetName::OPERATOR {
        println!("{verb} {} in {} (serial {})", answer.prefix, answer.zone, answer.serial);
    } else {
        println!("{verb} {} in {}, dataset {} (serial {})", answer.prefix, answer.zone, answer.dataset, answer.serial);
    }
    Ok(())
}
