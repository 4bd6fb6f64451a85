//! `dnsbl lookup IP`: what the DNS answers now for an address, and which entries decide it.

use super::client::{print_json, ClientArgs};
use crate::api::wire::{EntryView, HistoryRecord, LookupResponse};

/// Explain the current answer for an address, per zone.
///
/// Examples:
///   dnsbl lookup 203.0.113.9
///   dnsbl lookup 2001:db8::1 --json
///
/// With several datasets it shows which datasets give each code and every dataset's verdict.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct LookupArgs {
    /// IPv4 or IPv6 address.
    ip: String,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: LookupArgs) -> anyhow::Result<()> {
    let c = args.client.connect()?;
    let answer: LookupResponse = c.get(&format!("/v1/lookup/{}", args.ip))?;
    if args.client.json {
        return print_json(&answer);
    }
    for z in &answer.zones {
        if z.listed {
            println!("{}: listed, {} — {}", z.zone, z.codes.join(" "), z.txts.join(" | "));
        } else {
            println!("{}: not listed", z.zone);
        }
        println!("  {}", z.explanation);
        if z.datasets.len() == 1 {
            print_entries("  ", &z.decided_by, &z.also_covering);
            continue;
        }
        for source in &z.code_sources {
            println!("  {} from {}", source.code, source.datasets.join(", "));
        }
        for d in &z.datasets {
            match d.listed {
                true => println!(
                    "  dataset {}: listed, {} — {}",
                    d.dataset,
                    d.codes.join(" "),
                    d.txt.as_deref().unwrap_or("")
                ),
                false => println!("  dataset {}: not listed", d.dataset),
            }
            println!("    {}", d.explanation);
            print_entries("    ", &d.decided_by, &d.also_covering);
        }
    }
    Ok(())
}

fn print_entries(indent: &str, decided_by: &Option<EntryView>, also_covering: &[EntryView]) {
    if let Some(d) = decided_by {
        println!("{indent}decided by {} {}{}", d.kind.as_str(), d.prefix, entry_details(d));
    }
    for e in also_covering {
        println!("{indent}also covering: {} {}{}", e.kind.as_str(), e.prefix, entry_details(e));
    }
}

fn entry_details(e: &EntryView) -> String {
    let mut out = String::new();
    if let Some(r) = &e.reason {
        out.push_str(&format!(" ({r})"));
    }
    if let Some(t) = e.added_at {
        out.push_str(&format!(", since {}", super::format_unix(t)));
    }
    if let Some(t) = e.expires_at {
        out.push_str(&format!(", expires {}", super::format_unix(t)));
    }
    out
}

/// Every change that ever affected an address or prefix, oldest first (removals and expiries too).
///
/// Examples:
///   dnsbl history 203.0.113.9
///   dnsbl history 203.0.113.0/24 --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct HistoryArgs {
    /// IPv4 or IPv6 address, or CIDR prefix.
    prefix: String,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run_history(args: HistoryArgs) -> anyhow::Result<()> {
    let c = args.client.connect()?;
    let records: Vec<HistoryRecord> = c.get_query("/v1/history", &[("prefix", &args.prefix)])?;
    if args.client.json {
        return print_json(&records);
    }
    if records.is_empty() {
        println!("no changes recorded for {}", args.prefix);
    }
    for r in records {
        let zone = match r.dataset.as_str() {
            crate::name::DatasetName::OPERATOR => r.zone.clone(),
            dataset => format!("{}/{dataset}", r.zone),
        };
        let mut line = format!("{} {zone} {} {} by {} via {}", r.at, r.action, r.prefix, r.actor, r.source);
        if !r.codes.is_empty() {
            line.push_str(&format!(" codes {}", r.codes.join(" ")));
        }
        if let Some(reason) = &r.reason {
            line.push_str(&format!(" ({reason})"));
        }
        println!("{line}");
    }
    Ok(())
}
