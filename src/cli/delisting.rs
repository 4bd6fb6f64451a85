//! `dnsbl delisting`: the removal requests people file on the public pages (operator).

use super::client::{print_json, ClientArgs};
use super::format_unix;
use crate::api::wire::{ApproveRequest, RejectRequest, RemovalView};

#[derive(Debug, clap::Subcommand)]
pub enum DelistingCommand {
    /// List removal requests, newest first.
    ///
    /// Example: dnsbl delisting list --state open
    #[command(verbatim_doc_comment)]
    List {
        /// Only requests in this state: unconfirmed, confirmed, approved, rejected, open.
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a request with its history.
    Show {
        id: u64,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Approve a request: exclude its prefix (or --prefix) from the operator's listings, in DNS
    /// when the command returns.
    ///
    /// Example: dnsbl delisting approve 12
    ///          dnsbl delisting approve 12 --prefix 45.67.8.9
    #[command(verbatim_doc_comment)]
    Approve {
        id: u64,
        /// Exclude this prefix instead of the one asked for.
        #[arg(long)]
        prefix: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Reject a request, with the reason its requester sees.
    ///
    /// Example: dnsbl delisting reject 12 --reason "marketing from this address on 2026-11-30"
    #[command(verbatim_doc_comment)]
    Reject {
        id: u64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub fn run(cmd: DelistingCommand) -> anyhow::Result<()> {
    let (answer, client) = match cmd {
        DelistingCommand::List { state, client } => {
            let path = match &state {
                Some(s) => format!("/v1/delisting?state={s}"),
                None => "/v1/delisting".to_string(),
            };
            let all: Vec<RemovalView> = client.connect()?.get(&path)?;
            if client.json {
                return print_json(&all);
            }
            if all.is_empty() {
                println!("no removal requests");
            }
            for r in &all {
                println!(
                    "{:>6}  {:<11} {:<20} {:<32} filed {}  mail {}",
                    r.id,
                    r.state,
                    r.prefix,
                    r.contact,
                    format_unix(r.created),
                    r.mail
                );
            }
            return Ok(());
        }
        DelistingCommand::Show { id, client } => (client.connect()?.get(&format!("/v1/delisting/{id}"))?, client),
        DelistingCommand::Approve { id, prefix, client } => {
            let body = ApproveRequest { prefix };
            (client.connect()?.post(&format!("/v1/delisting/{id}/approve"), &body)?, client)
        }
        DelistingCommand::Reject { id, reason, client } => {
            let body = RejectRequest { reason };
            (client.connect()?.post(&format!("/v1/delisting/{id}/reject"), &body)?, client)
        }
    };
    let r: RemovalView = answer;
    if client.json {
        return print_json(&r);
    }
    println!("request {}: {} {}", r.id, r.state, r.prefix);
    println!("  contact: {}  (mail {})", r.contact, r.mail);
    if !r.text.is_empty() {
        println!("  text:    {}", r.text.replace('\n', "\n           "));
    }
    for e in &r.events {
        println!("  {}  {}", format_unix(e.at), e.what);
    }
    Ok(())
}
