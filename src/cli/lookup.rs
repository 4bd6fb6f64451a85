//! `dnsbl lookup IP`: what the DNS answers now for an address, and which entries decide it.

use super::client::ClientArgs;

/// Explain the current answer for an address, per zone.
///
/// Examples:
///   dnsbl lookup 203.0.113.9
///   dnsbl lookup 2001:db8::1 --json
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
    let answer = c.get(&format!("/v1/lookup/{}", args.ip))?;
    if args.client.json {
        println!("{answer}");
        return Ok(());
    }
    for z in answer["zones"].as_array().into_iter().flatten() {
        let zone = z["zone"].as_str().unwrap_or("?");
        if z["listed"].as_bool() == Some(true) {
            let codes: Vec<&str> = z["codes"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
            println!("{zone}: listed, {} — {}", codes.join(" "), z["txt"].as_str().unwrap_or(""));
        } else {
            println!("{zone}: not listed");
        }
        if let Some(why) = z["explanation"].as_str() {
            println!("  {why}");
        }
        if let Some(d) = z["decided_by"].as_object() {
            println!(
                "  decided by {} {}{}",
                d["kind"].as_str().unwrap_or("?"),
                d["prefix"].as_str().unwrap_or("?"),
                entry_details(d)
            );
        }
        for e in z["also_covering"].as_array().into_iter().flatten() {
            println!(
                "  also covering: {} {}{}",
                e["kind"].as_str().unwrap_or("?"),
                e["prefix"].as_str().unwrap_or("?"),
                e.as_object().map(entry_details).unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn entry_details(e: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = String::new();
    if let Some(r) = e.get("reason").and_then(|r| r.as_str()) {
        out.push_str(&format!(" ({r})"));
    }
    if let Some(t) = e.get("added_at").and_then(|t| t.as_u64()) {
        out.push_str(&format!(", since {}", super::format_unix(t)));
    }
    if let Some(t) = e.get("expires_at").and_then(|t| t.as_u64()) {
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
    let answer = c.get_query("/v1/history", &[("prefix", &args.prefix)])?;
    if args.client.json {
        println!("{answer}");
        return Ok(());
    }
    let records = answer.as_array().cloned().unwrap_or_default();
    if records.is_empty() {
        println!("no changes recorded for {}", args.prefix);
    }
    for r in records {
        let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
        let codes: Vec<&str> = r["codes"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
        let mut line =
            format!("{} {} {} {} by {} via {}", s("at"), s("zone"), s("action"), s("prefix"), s("actor"), s("source"));
        if !codes.is_empty() {
            line.push_str(&format!(" codes {}", codes.join(" ")));
        }
        if let Some(reason) = r["reason"].as_str() {
            line.push_str(&format!(" ({reason})"));
        }
        println!("{line}");
    }
    Ok(())
}
