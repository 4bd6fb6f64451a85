//! `dnsbl evidence ...`: abuse reports from feedback loops. `parse` reads reports (single
//! messages, mbox files, Maildirs, stdin) and shows what each says — the source address and
//! where it was read, the feedback type, the mailing it counts toward — or why it is not a usable
//! report, recording nothing: the check to run on a new feed before it is wired in. `ingest`
//! sends them to the running server for a reporter (each file in one request), where the
//! policies list what they say to list; `show` lists the evidence about an address.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

use super::client::{print_json, ClientArgs};
use super::format_unix;
use crate::api::wire::{EvidenceView, IngestResponse, Removed, ReporterRequest, ReporterView};
use crate::evidence::{arf, split_mbox, Report};

#[derive(Debug, clap::Subcommand)]
pub enum EvidenceCommand {
    /// Show what abuse reports (ARF) say, without recording anything.
    ///
    /// Each PATH is a message, an mbox file, a Maildir (its new/ and cur/), a directory of
    /// messages, or - for standard input.
    ///
    /// Example: dnsbl evidence parse reports/*.eml fbl.mbox
    #[command(verbatim_doc_comment)]
    Parse {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Print one JSON object per message.
        #[arg(long)]
        json: bool,
    },
    /// Record abuse reports for a reporter on the running server; policies list what they say.
    ///
    /// Examples: dnsbl evidence ingest --reporter isp-a reports/*.eml fbl.mbox Maildir/
    ///           dnsbl evidence ingest --reporter traps --kind trap trapbox/
    ///           dnsbl evidence ingest --reporter isp-a --kind records volume.jsonl
    ///
    /// Records (JSON: one, an array, or one per line) are daily volume
    /// {"kind":"volume","ip":"45.67.8.9","day":"2026-11-30","messages":1200} and trap hits
    /// {"kind":"trap","ip":"45.67.8.9","at":1795996800,"recipient":"trap@example.net"}.
    #[command(verbatim_doc_comment)]
    Ingest {
        /// The reporter the reports come from (`dnsbl reporter add`).
        #[arg(long)]
        reporter: String,
        /// `report` (feedback reports, the default), `trap` (every message reached a spam trap) or
        /// `records` (JSON evidence records: volume figures and trap hits).
        #[arg(long, default_value = "report", value_parser = ["report", "trap", "records"])]
        kind: String,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Every piece of evidence about an address, oldest first.
    Show {
        ip: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ReporterCommand {
    /// Add a reporter of evidence and print its API token (shown once; only a hash is kept).
    ///
    /// Example: dnsbl reporter add isp-a --contact fbl@isp-a.example
    #[command(verbatim_doc_comment)]
    Add {
        /// 1-64 of a-z, 0-9, -, _ and .
        name: String,
        /// Who to write to about its reports.
        #[arg(long)]
        contact: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List the reporters.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a reporter (its token stops working; the evidence it sent stays).
    Remove {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub fn run_reporter(cmd: ReporterCommand) -> anyhow::Result<()> {
    match cmd {
        ReporterCommand::Add { name, contact, client } => {
            let answer: ReporterView = client.connect()?.post("/v1/reporters", &ReporterRequest { name, contact })?;
            if client.json {
                return print_json(&answer);
            }
            println!("reporter {} ({})", answer.name, answer.contact);
            println!("token: {}", answer.token.as_deref().unwrap_or(""));
        }
        ReporterCommand::List { client } => {
            let all: Vec<ReporterView> = client.connect()?.get("/v1/reporters")?;
            if client.json {
                return print_json(&all);
            }
            for r in &all {
                println!("{:<24} {:<40} since {}", r.name, r.contact, format_unix(r.created_at));
            }
        }
        ReporterCommand::Remove { name, client } => {
            let answer: Removed = client.connect()?.delete(&format!("/v1/reporters/{name}"), &[])?;
            if client.json {
                return print_json(&answer);
            }
            println!("removed reporter {}", answer.removed);
        }
    }
    Ok(())
}

/// One message read, for `--json`.
#[derive(Debug, Default, Serialize)]
struct Parsed {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    feedback_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mailing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arrival: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(cmd: EvidenceCommand) -> anyhow::Result<()> {
    let (paths, json) = match cmd {
        EvidenceCommand::Parse { paths, json } => (paths, json),
        EvidenceCommand::Ingest { reporter, kind, paths, client } => return ingest(&reporter, &kind, &paths, &client),
        EvidenceCommand::Show { ip, client } => return show(&ip, &client),
    };
    let (mut total, mut bad) = (0, 0);
    for path in &paths {
        for (source, bytes) in messages(path)? {
            total += 1;
            let parsed = match arf::parse(&bytes) {
                Ok(r) => shown(source, &r),
                Err(e) => {
                    bad += 1;
                    Parsed { source, error: Some(e.to_string()), ..Parsed::default() }
                }
            };
            if json {
                println!("{}", serde_json::to_string(&parsed)?);
            } else {
                print_line(&parsed);
            }
        }
    }
    if bad > 0 {
        bail!("{bad} of {total} messages are not usable reports");
    }
    Ok(())
}

fn shown(source: String, r: &Report) -> Parsed {
    Parsed {
        source,
        feedback_type: Some(r.feedback_type.clone()),
        source_ip: Some(r.source_ip.to_string()),
        ip_from: Some(r.ip_from.to_string()),
        mailing: Some(r.mailing.to_string()),
        arrival: r.arrival,
        report_id: r.report_id.clone(),
        error: None,
    }
}

fn print_line(p: &Parsed) {
    if let Some(e) = &p.error {
        println!("{}: {e}", p.source);
        return;
    }
    let arrived = p.arrival.map(|t| format!("; arrived {}", format_unix(t))).unwrap_or_default();
    let id = p.report_id.as_ref().map(|i| format!("; report <{i}>")).unwrap_or_default();
    println!(
        "{}: {} from {} ({}); mailing {}{arrived}{id}",
        p.source,
        p.feedback_type.as_deref().unwrap_or(""),
        p.source_ip.as_deref().unwrap_or(""),
        p.ip_from.as_deref().unwrap_or(""),
        p.mailing.as_deref().unwrap_or(""),
    );
}

/// The messages at `path`, each with the name it is shown under (`FILE#N` for the N-th message
/// of an mbox).
fn messages(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    Ok(files(path)?.iter().flat_map(|(shown, bytes)| split(shown, bytes)).collect())
}

fn split(shown: &str, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let parts = split_mbox(bytes);
    let many = parts.len() > 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, m)| (if many { format!("{shown}#{}", i + 1) } else { shown.to_string() }, m.to_vec()))
        .collect()
}

fn ingest(reporter: &str, kind: &str, paths: &[PathBuf], client: &ClientArgs) -> anyhow::Result<()> {
    let api = client.connect()?;
    let (mut accepted, mut duplicates, mut refused) = (0, 0, 0);
    for path in paths {
        for (source, bytes) in files(path)? {
            let answer: IngestResponse = match kind {
                "records" => api.post_bytes("/v1/evidence", &[("reporter", reporter)], "application/json", &bytes)?,
                _ => api.post_bytes(
                    "/v1/evidence",
                    &[("reporter", reporter), ("kind", kind)],
                    "application/mbox",
                    &bytes,
                )?,
            };
            if client.json {
                print_json(&answer)?;
                continue;
            }
            accepted += answer.accepted;
            duplicates += answer.duplicates;
            refused += answer.refused.len();
            for r in &answer.refused {
                println!("{source} message {}: {}", r.message, r.error);
            }
            for l in &answer.listed {
                println!(
                    "{} listed in {} by policy {} ({}) until {}",
                    l.ip,
                    l.zone,
                    l.policy,
                    l.summary,
                    format_unix(l.until)
                );
            }
        }
    }
    if !client.json {
        println!("{accepted} recorded, {duplicates} already counted, {refused} refused");
    }
    Ok(())
}

fn show(ip: &str, client: &ClientArgs) -> anyhow::Result<()> {
    let found: Vec<EvidenceView> = client.connect()?.get(&format!("/v1/evidence/{ip}"))?;
    if client.json {
        return print_json(&found);
    }
    if found.is_empty() {
        println!("no evidence about {ip}");
    }
    for e in &found {
        let id = e.report_id.as_ref().map(|i| format!(" report <{i}>")).unwrap_or_default();
        let what = match (e.kind.as_str(), e.messages) {
            ("volume", Some(n)) => format!("{n} messages on {}", e.about),
            ("trap", _) => format!("trap address {}", e.about),
            _ => format!("mailing {}", e.about),
        };
        println!("{}  {} from {}: {what}{id}", format_unix(e.at), e.kind, e.reporter);
    }
    Ok(())
}

/// The files at `path` as they are (an mbox or a message each; a Maildir's or directory's files).
fn files(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let shown = path.display().to_string();
    if shown == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).context("cannot read standard input")?;
        return Ok(vec![(shown, bytes)]);
    }
    if !path.is_dir() {
        return Ok(vec![(shown.clone(), std::fs::read(path).with_context(|| format!("cannot read {shown}"))?)]);
    }
    let maildir = ["new", "cur"].iter().any(|d| path.join(d).is_dir());
    let dirs: Vec<PathBuf> = match maildir {
        true => ["new", "cur"].iter().map(|d| path.join(d)).filter(|d| d.is_dir()).collect(),
        false => vec![path.to_path_buf()],
    };
    let mut out = Vec::new();
    for dir in dirs {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        for file in names {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            out.push((file.display().to_string(), bytes));
        }
    }
    Ok(out)
}
