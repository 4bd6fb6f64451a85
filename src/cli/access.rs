//! `dnsbl access-key ...` and `dnsbl resolver ...` (operator): who may query a running server,
//! live through the API, audited (`dnsbl access-history`), counted since the server started.

use super::client::{print_json, ClientArgs};
use super::format_unix;
use crate::api::wire::{
    AccessHistoryRecord, AccessKeyRequest, AccessKeyView, Removed, ResolverRequest, ResolverView, ResolversResponse,
};

#[derive(Debug, clap::Subcommand)]
pub enum AccessKeyCommand {
    /// Make an access key and print it: queries to zones with `require-key = true` carry it as
    /// `<reversed ip>.<key>.<zone>`.
    ///
    /// Example: dnsbl access-key add isp-a --note "contract 2026-14"
    Add {
        /// The operator's name for the key: 1-64 of a-z, 0-9, -, _ and .
        name: String,
        /// Use this key (16-63 letters and digits) instead of a new random one, e.g. a
        /// customer's key from another system.
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List the keys with their queries since the server started.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop answering a key's queries (REFUSED) until it is enabled again.
    Disable {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Answer a disabled key's queries again.
    Enable {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a key.
    Remove {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ResolverCommand {
    /// Register a resolver's source prefix: with `registered-resolvers-only = true` only these
    /// are answered.
    ///
    /// Example: dnsbl resolver add 192.0.2.53/32 --name "ISP A resolvers"
    Add {
        prefix: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List registered resolvers with their queries since the server started.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a registered resolver.
    Remove {
        prefix: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `dnsbl access-history`: the audit trail of access keys and registered resolvers.
#[derive(Debug, clap::Args)]
pub struct AccessHistoryArgs {
    /// How many of the latest changes.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    #[command(flatten)]
    client: ClientArgs,
}

fn print_key(k: &AccessKeyView) {
    let state = if k.enabled { "enabled" } else { "DISABLED" };
    let note = k.note.as_ref().map(|n| format!("  ({n})")).unwrap_or_default();
    println!(
        "{:<20} {}  {state:<8}  {} queries, {} refused  since {}{note}",
        k.name,
        k.key,
        k.queries,
        k.refused,
        format_unix(k.created_at)
    );
}

pub fn run_access_key(cmd: AccessKeyCommand) -> anyhow::Result<()> {
    match cmd {
        AccessKeyCommand::Add { name, key, note, client } => {
            let answer: AccessKeyView =
                client.connect()?.post("/v1/access/keys", &AccessKeyRequest { name, key, note })?;
            if client.json {
                return print_json(&answer);
            }
            println!("key: {}", answer.key);
            println!("queries: <reversed ip>.{}.<zone>   e.g. 2.0.0.127.{}.<zone>", answer.key, answer.key);
        }
        AccessKeyCommand::List { client } => {
            let keys: Vec<AccessKeyView> = client.connect()?.get("/v1/access/keys")?;
            if client.json {
                return print_json(&keys);
            }
            keys.iter().for_each(print_key);
        }
        AccessKeyCommand::Disable { name, client } => set_enabled(&name, "disable", &client)?,
        AccessKeyCommand::Enable { name, client } => set_enabled(&name, "enable", &client)?,
        AccessKeyCommand::Remove { name, client } => {
            let answer: Removed = client.connect()?.delete(&format!("/v1/access/keys/{name}"), &[])?;
            if client.json {
                return print_json(&answer);
            }
            println!("removed access key {}", answer.removed);
        }
    }
    Ok(())
}

fn set_enabled(name: &str, verb: &str, client: &ClientArgs) -> anyhow::Result<()> {
    let answer: AccessKeyView = client.connect()?.post_empty(&format!("/v1/access/keys/{name}/{verb}"))?;
    if client.json {
        return print_json(&answer);
    }
    print_key(&answer);
    Ok(())
}

pub fn run_resolver(cmd: ResolverCommand) -> anyhow::Result<()> {
    match cmd {
        ResolverCommand::Add { prefix, name, client } => {
            let answer: ResolverView =
                client.connect()?.post("/v1/access/resolvers", &ResolverRequest { prefix, name })?;
            if client.json {
                return print_json(&answer);
            }
            println!("registered resolver {} ({})", answer.prefix, answer.name);
        }
        ResolverCommand::List { client } => {
            let answer: ResolversResponse = client.connect()?.get("/v1/access/resolvers")?;
            if client.json {
                return print_json(&answer);
            }
            let mode = match answer.registered_resolvers_only {
                true => "only these are answered (registered-resolvers-only = true)",
                false => "everyone is answered (registered-resolvers-only = false)",
            };
            println!("{mode}");
            for r in &answer.resolvers {
                println!("{:<24} {:<30} {} queries  since {}", r.prefix, r.name, r.queries, format_unix(r.created_at));
            }
        }
        ResolverCommand::Remove { prefix, client } => {
            let answer: Removed = client.connect()?.delete("/v1/access/resolvers", &[("prefix", &prefix)])?;
            if client.json {
                return print_json(&answer);
            }
            println!("removed resolver {}", answer.removed);
        }
    }
    Ok(())
}

pub fn run_access_history(args: AccessHistoryArgs) -> anyhow::Result<()> {
    let limit = args.limit.to_string();
    let records: Vec<AccessHistoryRecord> =
        args.client.connect()?.get_query("/v1/access/history", &[("limit", &limit)])?;
    if args.client.json {
        return print_json(&records);
    }
    for r in &records {
        let detail = r.detail.as_ref().map(|d| format!(" — {d}")).unwrap_or_default();
        println!("{}  {:<16} {:<24} by {} ({}){detail}", r.at, r.action, r.subject, r.actor, r.source);
    }
    Ok(())
}
