//! `dnsbl zone import`: load rbldnsd data into the store.

use std::path::PathBuf;

use anyhow::bail;

use super::ConfigArgs;
use crate::api::wire::ImportResponse;
use crate::clock::unix_now;
use crate::importer::{import_files, ImportOptions};
use crate::model::ListingCode;
use crate::name::DatasetName;
use crate::store::{Store, StoreError};

use super::client::Client;

#[derive(Debug, clap::Subcommand)]
pub enum ZoneCommand {
    /// Replace a zone's list with the contents of an rbldnsd data file, atomically.
    ///
    /// Reads ip4set, ip4trie and ip6trie files (CIDRs, ranges, :A:TXT values, ! exclusions,
    /// $SOA/$NS/$TTL). A bad line is reported as FILE:LINE: reason and nothing is imported.
    /// While the server runs, the file is streamed to it through the API (--server, --token-file)
    /// and the zone switches to the new list in one step, live; otherwise the data directory is
    /// written directly.
    ///
    /// Examples:
    ///   dnsbl zone import zones/example.bl.rbldnsd
    ///   dnsbl zone import list.txt --zone bl.example.org --config /etc/dnsbl/dnsbl.toml --type ip4set
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
    /// Write a zone's current list to standard output, as rbldnsd data or a BIND master file.
    ///
    /// Reads the data directory directly (read-only), so it works while the server runs.
    /// The rbldnsd output is one `combined` dataset: load it with rbldnsd as ZONE:combined:FILE.
    /// By default it is the operator's list as stored (it reads back into dnsbl with `dnsbl zone
    /// import`; marketer declarations and protections are not in it). With --served it is what
    /// the DNS answers, registrations applied, for mirrors that must answer the same. BIND output
    /// is always what the DNS answers, every listed address expanded.
    ///
    /// Examples:
    ///   dnsbl zone export --format rbldnsd > list.rbldnsd
    ///   dnsbl zone export --format rbldnsd --served > mirror.rbldnsd
    ///   dnsbl zone export --format bind --max-records 5000000 > bl.example.org.zone
    #[command(verbatim_doc_comment)]
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// rbldnsd or bind.
    #[arg(long, value_name = "FORMAT", default_value = "rbldnsd", value_parser = ["rbldnsd", "bind"])]
    format: String,
    /// Zone to export (default: the only configured zone).
    #[arg(long, value_name = "NAME")]
    zone: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
    /// rbldnsd: write what the DNS answers (marketer declarations and protections applied, for
    /// mirrors) instead of the operator's list.
    #[arg(long)]
    served: bool,
    /// BIND only: refuse when the expansion would write more names than this.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    max_records: u64,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The rbldnsd data file(s): together they replace the dataset.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The dataset to replace; the zone's other datasets keep answering as they are.
    #[arg(long, value_name = "NAME", default_value = "operator")]
    dataset: DatasetName,
    /// Zone to replace (default: the only configured zone).
    #[arg(long, value_name = "NAME")]
    zone: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
    /// rbldnsd dataset type the file is written for: auto, ip4set, ip4trie, ip6trie.
    #[arg(long = "type", value_name = "TYPE", default_value = "auto", value_parser = ["auto", "ip4set", "ip4trie", "ip6trie"])]
    kind: String,
    /// Return code for entries whose file gives no A value (rbldnsd itself would use 127.0.0.2,
    /// which our published map reserves for registered marketers).
    #[arg(long, value_name = "CODE", default_value = "127.0.0.3")]
    default_code: ListingCode,
    /// While the server runs, the file goes through its API at this address.
    #[arg(long, value_name = "URL", env = "DNSBL_SERVER", default_value = "http://127.0.0.1:8053")]
    server: String,
    /// Token for that (default: operator.token in the data directory).
    #[arg(long, value_name = "FILE", env = "DNSBL_TOKEN_FILE")]
    token_file: Option<std::path::PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: ZoneCommand) -> anyhow::Result<()> {
    match cmd {
        ZoneCommand::Import(args) => run_import(args),
        ZoneCommand::Export(args) => run_export(args),
    }
}

fn run_import(args: ImportArgs) -> anyhow::Result<()> {
    let config = args.config.load(args.zone.as_deref())?;
    let [zone] = config.zones.as_slice() else {
        bail!("several zones are configured; say which one with --zone");
    };
    std::fs::create_dir_all(&config.server.data_dir)?;
    let store = match Store::open(&config.server.data_dir) {
        Ok(mut store) => {
            store.set_min_free_disk(config.server.min_free_disk);
            store
        }
        // The server owns the database: send the file to it instead.
        Err(StoreError::InUse(_)) => return import_through_server(&args, &config.server.data_dir, &zone.origin),
        Err(e) => return Err(e.into()),
    };
    let opts = ImportOptions {
        dataset: args.kind.parse().map_err(anyhow::Error::msg)?,
        default_code: args.default_code,
        now: unix_now(),
        zone_template: Some(zone.txt_template.clone()),
        into: args.dataset.clone(),
        actor: "operator".into(),
        source: "import".into(),
    };
    let report = import_files(&store, &zone.origin, &args.files, &opts)?;
    let s = report.summary;
    if args.json {
        let answer = serde_json::json!({
            "zone": zone.origin.to_string(), "dataset": args.dataset.to_string(), "listings": s.listings,
            "exclusions": s.exclusions, "lines": report.lines, "serial": s.serial, "skipped_wide": report.skipped_wide,
        });
        println!("{answer}");
        return Ok(());
    }
    let into = if args.dataset.is_operator() { String::new() } else { format!(", dataset {}", args.dataset) };
    println!(
        "imported {} listing(s) and {} exclusion(s) into zone {}{into} from {} ({} lines); serial is now {}",
        s.listings,
        s.exclusions,
        zone.origin,
        args.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
        report.lines,
        s.serial
    );
    if report.skipped_wide > 0 {
        println!("skipped {} prefix(es) wider than the file's $MAXRANGE4", report.skipped_wide);
    }
    let d = &report.directives;
    if d.soa.is_some() || d.ns.is_some() || d.ttl.is_some() {
        println!("note: $SOA/$NS/$TTL lines were checked but not applied; the zone's SOA, NS and TTL come from its configuration");
    }
    Ok(())
}

fn import_through_server(
    args: &ImportArgs,
    data_dir: &std::path::Path,
    zone: &crate::name::DomainName,
) -> anyhow::Result<()> {
    let token = args.token_file.clone().unwrap_or_else(|| crate::config::operator_token_path(data_dir));
    let [file] = args.files.as_slice() else {
        bail!(
            "the running server takes one file per import for now; stop it to import several files into one \
             dataset at once, or import each into a dataset of its own (--dataset NAME)"
        );
    };
    let client = Client::new(&args.server, &token)?;
    let name = file.file_name().map_or_else(|| "upload".to_string(), |n| n.to_string_lossy().into_owned());
    let code = args.default_code.to_string();
    let query = [
        ("type", args.kind.as_str()),
        ("default_code", code.as_str()),
        ("name", name.as_str()),
        ("dataset", args.dataset.as_str()),
    ];
    let answer: ImportResponse = client.post_file(&format!("/v1/zones/{zone}/import"), &query, file)?;
    if args.json {
        return super::client::print_json(&answer);
    }
    println!(
        "imported {} listing(s) and {} exclusion(s) into zone {zone} through the running server ({} lines); serial is now {}",
        answer.listings, answer.exclusions, answer.lines, answer.serial
    );
    Ok(())
}

fn run_export(args: ExportArgs) -> anyhow::Result<()> {
    let config = args.config.load(args.zone.as_deref())?;
    let [zone] = config.zones.as_slice() else {
        bail!("several zones are configured; say which one with --zone");
    };
    let store = Store::open_read_only(&config.server.data_dir)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let bind = args.format == "bind";
    let report = if bind || args.served {
        let served = crate::exporter::served_zone(&store, &config, zone, unix_now())?;
        if bind {
            crate::exporter::bind(&served, args.max_records, &mut out)?
        } else {
            crate::exporter::rbldnsd_served(&served, &mut out)?
        }
    } else {
        crate::exporter::rbldnsd(&store, zone, unix_now(), &mut out)?
    };
    std::io::Write::flush(&mut out)?;
    eprintln!("exported zone {} ({} lines)", zone.origin, report.lines);
    if report.codes_dropped > 0 {
        eprintln!(
            "note: {} entries carry several return codes; an rbldnsd line holds one, so only the lowest was written",
            report.codes_dropped
        );
    }
    Ok(())
}
