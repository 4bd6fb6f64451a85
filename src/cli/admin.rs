//! `dnsbl stats` and `dnsbl backup`: operator commands about the running server itself.

use super::client::ClientArgs;

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
    let s = c.get("/v1/stats")?;
    if args.client.json {
        println!("{s}");
        return Ok(());
    }
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let uptime = std::time::Duration::from_secs(n(&s["uptime_seconds"]));
    println!("up {}, {} UDP worker(s)", humantime::format_duration(uptime), n(&s["udp_workers"]));
    for transport in ["udp", "tcp"] {
        let t = &s[transport];
        let codes: Vec<String> = t["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| n(v) > 0)
            .map(|(k, v)| format!("{k} {}", n(v)))
            .collect();
        println!(
            "{transport}: {} queries, {} dropped; replies: {}; {} with answers, {} truncated, {} by the general path, {} send errors",
            n(&t["queries"]),
            n(&t["dropped"]),
            if codes.is_empty() { "none".to_string() } else { codes.join(", ") },
            n(&t["with_answers"]),
            n(&t["truncated"]),
            n(&t["full_path"]),
            n(&t["send_errors"]),
        );
    }
    for z in s["zones"].as_array().into_iter().flatten() {
        println!(
            "zone {}: serial {}, {} IPv4 and {} IPv6 ranges, {} live change(s) not yet folded",
            z["zone"].as_str().unwrap_or("?"),
            n(&z["serial"]),
            n(&z["segments_v4"]),
            n(&z["segments_v6"]),
            n(&z["patches"]),
        );
    }
    println!("{} registered marketer(s)", n(&s["marketers"]));
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
    let answer = c.post("/v1/backups", serde_json::json!({}))?;
    if args.client.json {
        println!("{answer}");
        return Ok(());
    }
    println!("backup written to {} (on the server's machine)", answer["path"].as_str().unwrap_or("?"));
    for z in answer["zones"].as_array().into_iter().flatten() {
        println!("  zone {} at serial {}", z["zone"].as_str().unwrap_or("?"), z["serial"]);
    }
    println!("copy it to other storage, then delete it: it shares files with the live database");
    Ok(())
}
