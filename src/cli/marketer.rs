//! `dnsbl marketer ...` (operator: accounts, networks, suspension, tokens) and `dnsbl register`,
//! `unregister`, `registrations` (a marketer, with its own token, from its own machine).

use super::client::{print_json, ClientArgs};
use crate::api::wire::{
    DeclarationView, DeclareRequest, DeclareResponse, MarketerDetail, MarketerView, NetworkRequest, NewMarketer,
    Reason, Registrations, WithToken, WithdrawRequest,
};

#[derive(Debug, clap::Subcommand)]
pub enum MarketerCommand {
    /// Register a marketer and print its API token (shown once; only a hash is stored).
    ///
    /// Example:
    ///   dnsbl marketer add acme --legal-name "Acme Mailing Ltd" --registration-number GB-1234567 \
    ///         --contact abuse@acme.example --network 192.88.99.0/24 --network 3fff:0:ac3e::/48
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
    /// Example: dnsbl marketer network add acme 3fff:0:ac3f::/48
    Add {
        id: String,
        prefix: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Example: dnsbl marketer network remove acme 3fff:0:ac3f::/48
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
            let body = NewMarketer { id, legal_name, registration_number, contact, networks };
            let answer: WithToken = client.connect()?.post("/v1/marketers", &body)?;
            if client.json {
                return print_json(&answer);
            }
            print_marketer(&answer.marketer);
            print_token(&answer);
        }
        MarketerCommand::List { client } => {
            let answer: Vec<MarketerView> = client.connect()?.get("/v1/marketers")?;
            if client.json {
                return print_json(&answer);
            }
            for m in answer {
                println!(
                    "{:<20} {:<9} {:>5} declared  {}  [{}]",
                    m.id,
                    m.status.as_str(),
                    m.declared,
                    m.legal_name,
                    m.networks.join(", ")
                );
            }
        }
        MarketerCommand::Show { id, client } => {
            let answer: MarketerDetail = client.connect()?.get(&format!("/v1/marketers/{id}"))?;
            if client.json {
                return print_json(&answer);
            }
            print_marketer(&answer.marketer);
            print_declarations(&answer.declarations);
            println!("history:");
            for e in &answer.history {
                let reason = e.reason.as_ref().map(|r| format!(" — {r}")).unwrap_or_default();
                println!("  {}  {:<14} by {}{reason}", e.at, e.action, e.actor);
            }
        }
        MarketerCommand::Suspend { id, reason, client } => {
            let answer = client.connect()?.post(&format!("/v1/marketers/{id}/suspend"), &Reason { reason })?;
            done(client.json, &answer, "suspended")?;
        }
        MarketerCommand::Resume { id, client } => {
            let answer = client.connect()?.post_empty(&format!("/v1/marketers/{id}/resume"))?;
            done(client.json, &answer, "resumed")?;
        }
        MarketerCommand::RotateToken { id, client } => {
            let answer: WithToken = client.connect()?.post_empty(&format!("/v1/marketers/{id}/rotate-token"))?;
            if client.json {
                return print_json(&answer);
            }
            print_token(&answer);
        }
        MarketerCommand::Network(NetworkCommand::Add { id, prefix, client }) => {
            let answer = client.connect()?.post(&format!("/v1/marketers/{id}/networks"), &NetworkRequest { prefix })?;
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
    let body = DeclareRequest { prefixes: args.prefixes, reason: args.reason };
    let answer = args.client.connect()?.post("/v1/registrations", &body)?;
    report_change(args.client.json, &answer, "registered", |a| &a.added)
}

pub fn run_unregister(args: UnregisterArgs) -> anyhow::Result<()> {
    let body = WithdrawRequest { prefixes: args.prefixes };
    let answer = args.client.connect()?.delete_json("/v1/registrations", &body)?;
    report_change(args.client.json, &answer, "unregistered", |a| &a.removed)
}

pub fn run_registrations(args: RegistrationsArgs) -> anyhow::Result<()> {
    let answer: Registrations = args.client.connect()?.get("/v1/registrations")?;
    if args.client.json {
        return print_json(&answer);
    }
    print_marketer(&answer.marketer);
    print_declarations(&answer.registrations);
    Ok(())
}

fn report_change(
    json: bool,
    answer: &DeclareResponse,
    verb: &str,
    changed: impl Fn(&DeclareResponse) -> &Vec<String>,
) -> anyhow::Result<()> {
    if json {
        return print_json(answer);
    }
    let changed = changed(answer);
    if changed.is_empty() {
        println!("nothing to change: already so");
    } else {
        println!("{verb} {}", changed.join(" "));
    }
    for s in &answer.serials {
        println!("  {} serial {} (live in DNS now)", s.zone, s.serial);
    }
    Ok(())
}

fn done(json: bool, answer: &MarketerView, what: &str) -> anyhow::Result<()> {
    if json {
        return print_json(answer);
    }
    println!("{} {what}: {} [{}]", answer.id, answer.status.as_str(), answer.networks.join(", "));
    Ok(())
}

fn print_marketer(m: &MarketerView) {
    println!("{} — {} ({})", m.id, m.legal_name, m.registration_number);
    println!("  contact:  {}", m.contact);
    let status = match &m.suspended_reason {
        Some(r) => format!("suspended: {r}"),
        None => m.status.as_str().to_string(),
    };
    println!("  status:   {status}");
    println!("  networks: {}", m.networks.join(", "));
}

fn print_declarations(items: &[DeclarationView]) {
    println!("declared senders: {}", items.len());
    for d in items {
        let answers: Vec<String> = d
            .answers
            .iter()
            .map(|a| {
                let what = if a.codes.is_empty() { "NXDOMAIN".to_string() } else { a.codes.join(",") };
                format!("{} → {what}", a.zone)
            })
            .collect();
        let reason = d.reason.as_ref().map(|r| format!("  ({r})")).unwrap_or_default();
        let rate = match &d.complaint_rate_30d {
            Some(r) => format!(", complaint rate {r} of {} messages (aim: below 0.2 %)", d.messages_30d),
            None => String::new(),
        };
        let evidence = match (d.complaints_30d, d.trap_hits_30d, rate.is_empty()) {
            (0, 0, true) => String::new(),
            (c, t, _) => format!("  [last 30 days: {c} complaints, {t} trap hits{rate}]"),
        };
        println!(
            "  {:<20} since {}  {}{reason}{evidence}",
            d.prefix,
            super::format_unix(d.added_at),
            answers.join("; ")
        );
    }
}

fn print_token(answer: &WithToken) {
    println!("token: {}", answer.token);
    println!("  (shown once: give it to the marketer over a safe channel; it goes in DNSBL_TOKEN_FILE)");
}
