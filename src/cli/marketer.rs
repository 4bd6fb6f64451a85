//! `dnsbl marketer ...` (operator: accounts, networks, suspension, tokens) and `dnsbl register`,
//! `unregister`, `registrations` (a marketer, with its own token, from its own machine).

use serde_json::{json, Value};

use super::client::ClientArgs;

#[derive(Debug, clap::Subcommand)]
pub enum MarketerCommand {
    /// Register a marketer and print its API token (shown once; only a hash is stored).
    ///
    /// Example:
    ///   dnsbl marketer add acme --legal-name "Acme Mailing Ltd" --registration-number GB-1234567 \
    ///         --contact abuse@acme.example --network 198.51.100.0/24 --network 2001:db8:acme::/48
    #[command(verbatim_doc_comment)]
    Add {
        /// Short id: 1-32 of a-z, 0-9 and -.
        id: String,
        #[arg(long)]
        legal_name: String,
        #[arg(long)]
        registration_number: String,
        /// Abuse or compliance contact.
        #[arg(long)]
        contact: String,
        /// A network verified as the marketer's (repeatable); its addresses are not listed by
        /// wider listings unless declared.
        #[arg(long = "network", value_name = "PREFIX")]
        networks: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List marketers.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a marketer: networks, declarations (with the DNS answer now) and history.
    Show {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Suspend a marketer: its networks lose their protection, its declared senders stay listed.
    Suspend {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Resume a suspended marketer.
    Resume {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Replace a marketer's token; the old one stops working at once. Prints the new one.
    RotateToken {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add or remove a verified network.
    #[command(subcommand)]
    Network(NetworkCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Example: dnsbl marketer network add acme 198.51.101.0/25
    Add {
        id: String,
        prefix: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Example: dnsbl marketer network remove acme 198.51.101.0/25
    Remove {
        id: String,
        prefix: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub fn run_marketer(cmd: MarketerCommand) -> anyhow::Result<()> {
    match cmd {
        MarketerCommand::Add { id, legal_name, registration_number, contact, networks, client } => {
            let body = json!({ "id": id, "legal_name": legal_name, "registration_number": registration_number,
                               "contact": contact, "networks": networks });
            let answer = client.connect()?.post("/v1/marketers", body)?;
            if client.json {
                println!("{answer}");
            } else {
                print_marketer(&answer["marketer"]);
                print_token(&answer);
            }
        }
        MarketerCommand::List { client } => {
            let answer = client.connect()?.get("/v1/marketers")?;
            if client.json {
                println!("{answer}");
            } else {
                for m in answer.as_array().into_iter().flatten() {
                    println!(
                        "{:<20} {:<9} {:>5} declared  {}  [{}]",
                        text(&m["id"]),
                        text(&m["status"]),
                        m["declared"],
                        text(&m["legal_name"]),
                        strings(&m["networks"]).join(", ")
                    );
                }
            }
        }
        MarketerCommand::Show { id, client } => {
            let answer = client.connect()?.get(&format!("/v1/marketers/{id}"))?;
            if client.json {
                println!("{answer}");
            } else {
                print_marketer(&answer);
                print_declarations(&answer["declarations"]);
                println!("history:");
                for e in answer["history"].as_array().into_iter().flatten() {
                    let reason = e["reason"].as_str().map(|r| format!(" — {r}")).unwrap_or_default();
                    println!("  {}  {:<14} by {}{reason}", text(&e["at"]), text(&e["action"]), text(&e["actor"]));
                }
            }
        }
        MarketerCommand::Suspend { id, reason, client } => {
            let answer = client.connect()?.post(&format!("/v1/marketers/{id}/suspend"), json!({ "reason": reason }))?;
            done(client.json, &answer, "suspended")?;
        }
        MarketerCommand::Resume { id, client } => {
            let answer = client.connect()?.post(&format!("/v1/marketers/{id}/resume"), json!({}))?;
            done(client.json, &answer, "resumed")?;
        }
        MarketerCommand::RotateToken { id, client } => {
            let answer = client.connect()?.post(&format!("/v1/marketers/{id}/rotate-token"), json!({}))?;
            if client.json {
                println!("{answer}");
            } else {
                print_token(&answer);
            }
        }
        MarketerCommand::Network(NetworkCommand::Add { id, prefix, client }) => {
            let answer =
                client.connect()?.post(&format!("/v1/marketers/{id}/networks"), json!({ "prefix": prefix }))?;
            done(client.json, &answer, "networks now")?;
        }
        MarketerCommand::Network(NetworkCommand::Remove { id, prefix, client }) => {
            let answer = client.connect()?.delete(&format!("/v1/marketers/{id}/networks"), &[("prefix", &prefix)])?;
            done(client.json, &answer, "networks now")?;
        }
    }
    Ok(())
}

/// `dnsbl register`: declare sending addresses (the marketer's own token).
#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// Addresses or CIDR prefixes inside your verified networks.
    #[arg(required = true, value_name = "PREFIX")]
    prefixes: Vec<String>,
    /// A note kept with the declaration ("newsletter MTA pool").
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// `dnsbl unregister`: withdraw declarations.
#[derive(Debug, clap::Args)]
pub struct UnregisterArgs {
    #[arg(required = true, value_name = "PREFIX")]
    prefixes: Vec<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// `dnsbl registrations`: what is declared and what the DNS answers for it.
#[derive(Debug, clap::Args)]
pub struct RegistrationsArgs {
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run_register(args: RegisterArgs) -> anyhow::Result<()> {
    let body = json!({ "prefixes": args.prefixes, "reason": args.reason });
    let answer = args.client.connect()?.post("/v1/registrations", body)?;
    report_change(args.client.json, &answer, "registered", "added")
}

pub fn run_unregister(args: UnregisterArgs) -> anyhow::Result<()> {
    let answer = args.client.connect()?.delete_json("/v1/registrations", json!({ "prefixes": args.prefixes }))?;
    report_change(args.client.json, &answer, "unregistered", "removed")
}

pub fn run_registrations(args: RegistrationsArgs) -> anyhow::Result<()> {
    let answer = args.client.connect()?.get("/v1/registrations")?;
    if args.client.json {
        println!("{answer}");
    } else {
        print_marketer(&answer["marketer"]);
        print_declarations(&answer["registrations"]);
    }
    Ok(())
}

fn report_change(json: bool, answer: &Value, verb: &str, field: &str) -> anyhow::Result<()> {
    if json {
        println!("{answer}");
        return Ok(());
    }
    let changed = strings(&answer[field]);
    if changed.is_empty() {
        println!("nothing to change: already so");
    } else {
        println!("{verb} {}", changed.join(" "));
    }
    for s in answer["serials"].as_array().into_iter().flatten() {
        println!("  {} serial {} (live in DNS now)", text(&s["zone"]), s["serial"]);
    }
    Ok(())
}

fn done(json: bool, answer: &Value, what: &str) -> anyhow::Result<()> {
    if json {
        println!("{answer}");
    } else {
        println!(
            "{} {what}: {} [{}]",
            text(&answer["id"]),
            text(&answer["status"]),
            strings(&answer["networks"]).join(", ")
        );
    }
    Ok(())
}

fn print_marketer(m: &Value) {
    println!("{} — {} ({})", text(&m["id"]), text(&m["legal_name"]), text(&m["registration_number"]));
    println!("  contact:  {}", text(&m["contact"]));
    let status = match m["suspended_reason"].as_str() {
        Some(r) => format!("suspended: {r}"),
        None => text(&m["status"]).to_string(),
    };
    println!("  status:   {status}");
    println!("  networks: {}", strings(&m["networks"]).join(", "));
}

fn print_declarations(list: &Value) {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    println!("declared senders: {}", items.len());
    for d in items {
        let since = d["added_at"].as_u64().map(super::format_unix);
        let answers: Vec<String> = d["answers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let codes = strings(&a["codes"]);
                let what = if codes.is_empty() { "NXDOMAIN".to_string() } else { codes.join(",") };
                format!("{} → {what}", text(&a["zone"]))
            })
            .collect();
        let reason = d["reason"].as_str().map(|r| format!("  ({r})")).unwrap_or_default();
        println!("  {:<20} since {}  {}{reason}", text(&d["prefix"]), since.unwrap_or_default(), answers.join("; "));
    }
}

fn print_token(answer: &Value) {
    println!("token: {}", text(&answer["token"]));
    println!("  (shown once: give it to the marketer over a safe channel; it goes in DNSBL_TOKEN_FILE)");
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
}
