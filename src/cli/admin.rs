//! `dnsbl stats` and `dnsbl backup`: operator commands about the running server itself.

use super::client::{print_json, ClientArgs};
use crate::api::wire::{BackupResponse, StatsResponse};

/// Show the running server's query counters and zone sizes (operator).
///
/// The same numbers are at GET /metrics in the Prometheus text format.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run_stats(args: StatsArgs) -> anyhow::Result<()> {
    let c = args.client.connect()?;
    let s: StatsResponse = c.get("/v1/stats")?;
    if args.client.json {
        return print_json(&s);
    }
    let uptime = std::time::Duration::from_secs(s.uptime_seconds);
    println!("up {}, {} UDP worker(s)", humantime::format_duration(uptime), s.udp_workers);
    for (transport, t) in [("udp", &s.udp), ("tcp", &s.tcp)] {
        let codes: Vec<String> = t.responses.iter().filter(|(_, &v)| v > 0).map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{transport}: {} queries, {} dropped; replies: {}; {} with answers, {} truncated, {} by the general path, {} send errors",
            t.queries,
            t.dropped,
            if codes.is_empty() { "none".to_string() } else { codes.join(", ") },
            t.with_answers,
            t.truncated,
            t.full_path,
            t.send_errors,
        );
    }
    for z in &s.zones {
        println!(
            "zone {}: serial {}, {} IPv4 and {} IPv6 ranges, {} live change(s) not yet folded",
            z.zone, z.serial, z.segments_v4, z.segments_v6, z.patches,
        );
    }
    println!("{} registered marketer(s)", s.marketers);
    Ok(())
}

/// Write a consistent copy of the running server's database (every zone, the marketer registry,
/// the audit trail) to <data-dir>/backups/<time> on the server's machine (operator).
///
/// The copy shares unchanged files with the database (hard links), so copy it to other storage
/// and then delete it. To restore: stop the server and serve with --data-dir pointing at a copy
/// of the backup (a new operator token is written there on first start).
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct BackupArgs {
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    let c = args.client.connect()?;
    let answer: BackupResponse = c.post_empty("/v1/backups")?;
    if args.client.json {
        return print_json(&answer);
    }
    println!("backup written to {} (on the server's machine)", answer.path);
    for z in &answer.zones {
        println!("  zone {} at serial {}", z.zone, z.serial);
    }
    println!("copy it to other storage, then delete it: it shares files with the live database");
    Ok(())
}
