//! `dnsbl zone import` and `dnsbl zone export`: rbldnsd data into the store and back out.

use std::path::PathBuf;

use anyhow::bail;

use super::ConfigArgs;
use crate::api::wire::{DatasetCount, ImportResponse};
use crate::clock::unix_now;
use crate::importer::{import_sources, ImportOptions, Source};
use crate::model::ListingCode;
use crate::name::{DatasetName, DomainName};
use crate::store::{Store, StoreError};
use crate::zonefile::Dataset;

use super::client::Client;

#[derive(Debug, clap::Subcommand)]
pub enum ZoneCommand {
    /// Replace datasets of a zone with the contents of rbldnsd data files, atomically.
    ///
    /// Reads ip4set, ip4trie and ip6trie files (CIDRs, ranges, :A:TXT values, ! exclusions,
    /// $SOA/$NS/$TTL) and combined files. The files together replace one dataset (--dataset,
    /// `operator` by default); a combined file's `$DATASET type:name @` sections replace the
    /// datasets they name (unnamed sections go to --dataset). The zone's other datasets keep
    /// answering as they are. A bad line is reported as FILE:LINE: reason and nothing is imported.
    /// While the server runs, the files are streamed to it through the API (--server,
    /// --token-file) and the zone switches in one step, live; otherwise the data directory is
    /// written directly.
    ///
    /// --rbldnsd takes rbldnsd's own command-line datasets (ZONE:TYPE:FILE[,FILE...]), one
    /// dataset each, named after its first file (`networks.txt` → `networks`).
    ///
    /// Examples:
    ///   dnsbl zone import zones/example.bl.rbldnsd
    ///   dnsbl zone import ip4.zone ip6.zone --zone bl.example.org
    ///   dnsbl zone import traps.txt --dataset traps --type ip4set
    ///   dnsbl zone import --rbldnsd bl.example.org:ip4set:marketers.txt --rbldnsd bl.example.org:ip6trie:v6.txt
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
    /// Write a zone's current list to standard output, as rbldnsd data or a BIND master file.
    ///
    /// Reads the data directory directly (read-only), so it works while the server runs.
    /// The rbldnsd output is one `combined` dataset: load it with rbldnsd as ZONE:combined:FILE.
    /// By default it is the operator's list as stored (it reads back into dnsbl with `dnsbl zone
    /// import`; marketer declarations and protections are not in it). With --served it is what
    /// the DNS answers, registrations applied, for mirrors that must answer the same. BIND output
    /// is always what the DNS answers, as names and wildcards a stock name server serves alike.
    ///
    /// Examples:
    ///   dnsbl zone export --format rbldnsd > list.rbldnsd
    ///   dnsbl zone export --format rbldnsd --served > mirror.rbldnsd
    ///   dnsbl zone export --format bind --max-records 5000000 > bl.example.org.zone
    #[command(verbatim_doc_comment)]
    Export(ExportArgs),
    /// List a zone's datasets (read-only on the data directory, so it works while the server runs).
    ///
    /// Example: dnsbl zone datasets
    Datasets(DatasetsArgs),
    /// Remove a dataset and all its entries from a zone, in one change (not `operator`: import an
    /// empty file into it to empty it). Through the running server when it runs.
    ///
    /// Example: dnsbl zone remove-dataset traps
    RemoveDataset(RemoveDatasetArgs),
}

#[derive(Debug, clap::Args)]
pub struct DatasetsArgs {
    /// Zone (default: the only configured zone).
    #[arg(long, value_name = "NAME")]
    zone: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct RemoveDatasetArgs {
    /// The dataset to remove.
    dataset: DatasetName,
    /// Zone (default: the only configured zone).
    #[arg(long, value_name = "NAME")]
    zone: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
    /// While the server runs, the removal goes through its API at this address.
    #[arg(long, value_name = "URL", env = "DNSBL_SERVER", default_value = "http://127.0.0.1:8053")]
    server: String,
    /// Token for that (default: operator.token in the data directory).
    #[arg(long, value_name = "FILE", env = "DNSBL_TOKEN_FILE")]
    token_file: Option<std::path::PathBuf>,
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
    /// BIND only: refuse when the zone needs more names than this.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    max_records: u64,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The rbldnsd data file(s): together they replace the dataset.
    #[arg(value_name = "FILE", required_unless_present = "rbldnsd")]
    files: Vec<PathBuf>,
    /// An rbldnsd command-line dataset, ZONE:TYPE:FILE[,FILE...] (repeat for several); each
    /// replaces a dataset named after its first file.
    #[arg(long, value_name = "ZONE:TYPE:FILE", conflicts_with_all = ["files", "dataset", "kind"])]
    rbldnsd: Vec<String>,
    /// The dataset to replace; the zone's other datasets keep answering as they are.
    #[arg(long, value_name = "NAME")]
    dataset: Option<DatasetName>,
    /// Zone to replace (default: the only configured zone).
    #[arg(long, value_name = "NAME")]
    zone: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
    /// rbldnsd dataset type the files are written for: auto, ip4set, ip4trie, ip6trie.
    #[arg(long = "type", value_name = "TYPE", value_parser = ["auto", "ip4set", "ip4trie", "ip6trie"])]
    kind: Option<String>,
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
        ZoneCommand::Datasets(args) => run_datasets(args),
        ZoneCommand::RemoveDataset(args) => run_remove_dataset(args),
    }
}

fn run_datasets(args: DatasetsArgs) -> anyhow::Result<()> {
    let config = args.config.load(args.zone.as_deref())?;
    let [zone] = config.zones.as_slice() else {
        bail!("several zones are configured; say which one with --zone");
    };
    let store = Store::open_read_only(&config.server.data_dir)?;
    for dataset in store.datasets(&zone.origin)? {
        println!("{dataset}");
    }
    Ok(())
}

fn run_remove_dataset(args: RemoveDatasetArgs) -> anyhow::Result<()> {
    let config = args.config.load(args.zone.as_deref())?;
    let [zone] = config.zones.as_slice() else {
        bail!("several zones are configured; say which one with --zone");
    };
    writable(zone)?;
    let data_dir = &config.server.data_dir;
    let serial = match Store::open(data_dir) {
        Ok(store) => {
            let audit = crate::store::AuditRecord {
                at_us: crate::clock::unix_now_us(),
                action: crate::model::AuditAction::RemoveDataset,
                actor: "operator".into(),
                source: "cli".into(),
                codes: Vec::new(),
                reason: None,
                expires_at: None,
                dataset: args.dataset.clone(),
            };
            store
                .remove_dataset(&zone.origin, &audit, unix_now())?
                .ok_or_else(|| anyhow::anyhow!("zone {} has no dataset {}", zone.origin, args.dataset))?
        }
        Err(StoreError::InUse(_)) => {
            let token = args.token_file.clone().unwrap_or_else(|| crate::config::operator_token_path(data_dir));
            let client = Client::new(&args.server, &token)?;
            let path = format!("/v1/zones/{}/datasets/{}", zone.origin, args.dataset);
            let answer: crate::api::wire::DatasetRemoved = client.delete(&path, &[])?;
            answer.serial
        }
        Err(e) => return Err(e.into()),
    };
    println!("removed dataset {} from zone {} (serial {serial})", args.dataset, zone.origin);
    Ok(())
}

fn run_import(args: ImportArgs) -> anyhow::Result<()> {
    let (zone_name, sources) = if args.rbldnsd.is_empty() {
        let kind: Dataset = args.kind.as_deref().unwrap_or("auto").parse().map_err(anyhow::Error::msg)?;
        let into = args.dataset.clone().unwrap_or_else(DatasetName::operator);
        let sources = args.files.iter().map(|f| Source { path: f.clone(), kind, into: into.clone() }).collect();
        (args.zone.clone(), sources)
    } else {
        let (zone, sources) = rbldnsd_sources(&args.rbldnsd)?;
        if args.zone.as_deref().is_some_and(|z| DomainName::parse(z).ok().as_ref() != Some(&zone)) {
            bail!("--rbldnsd names zone {zone}, --zone another");
        }
        (Some(zone.to_string()), sources)
    };
    let config = args.config.load(zone_name.as_deref())?;
    let [zone] = config.zones.as_slice() else {
        bail!("several zones are configured; say which one with --zone");
    };
    writable(zone)?;
    std::fs::create_dir_all(&config.server.data_dir)?;
    let store = match Store::open(&config.server.data_dir) {
        Ok(mut store) => {
            store.set_min_free_disk(config.server.min_free_disk);
            store
        }
        // The server owns the database: send the files to it instead.
        Err(StoreError::InUse(_)) => {
            return import_through_server(&args, &sources, &config.server.data_dir, &zone.origin)
        }
        Err(e) => return Err(e.into()),
    };
    let opts = ImportOptions {
        dataset: Dataset::Auto,
        default_code: args.default_code,
        now: unix_now(),
        zone_template: Some(zone.txt_template.clone()),
        into: DatasetName::operator(),
        actor: "operator".into(),
        source: "import".into(),
    };
    let report = import_sources(&store, &zone.origin, &sources, &opts)?;
    let s = report.summary;
    let datasets = DatasetCount::list(&report.datasets);
    if args.json {
        return super::client::print_json(&ImportResponse {
            zone: zone.origin.to_string(),
            listings: s.listings,
            exclusions: s.exclusions,
            lines: report.lines,
            serial: s.serial,
            datasets,
        });
    }
    let files: Vec<String> = sources.iter().map(|f| f.path.display().to_string()).collect();
    println!(
        "imported {} listing(s) and {} exclusion(s) into zone {} from {} ({} lines); serial is now {}",
        s.listings,
        s.exclusions,
        zone.origin,
        files.join(", "),
        report.lines,
        s.serial
    );
    print_datasets(&datasets);
    if report.skipped_wide > 0 {
        println!("skipped {} prefix(es) wider than the file's $MAXRANGE4", report.skipped_wide);
    }
    let d = &report.directives;
    if d.soa.is_some() || d.ns.is_some() || d.ttl.is_some() {
        println!("note: $SOA/$NS/$TTL lines were checked but not applied; the zone's SOA, NS and TTL come from its configuration");
    }
    Ok(())
}

/// A secondary zone's data is its primary's: the server refuses local changes to it (HTTP 409),
/// and written offline they would sit in the data directory unserved. Both writers refuse here,
/// before anything is opened.
fn writable(zone: &crate::config::ZoneConfig) -> anyhow::Result<()> {
    match zone.primary {
        Some(primary) => bail!("zone {} is a secondary of {primary}: change it on the primary", zone.origin),
        None => Ok(()),
    }
}

/// One line per dataset replaced, when there are several or it is not the operator's.
fn print_datasets(datasets: &[DatasetCount]) {
    if let [only] = datasets {
        if only.dataset == DatasetName::OPERATOR {
            return;
        }
    }
    for d in datasets {
        println!("  dataset {}: {} listing(s), {} exclusion(s)", d.dataset, d.listings, d.exclusions);
    }
}

/// rbldnsd's command-line datasets (`zone:type:file[,file...]`) as import sources, one dataset
/// each, named after its first file; all must name one zone.
fn rbldnsd_sources(specs: &[String]) -> anyhow::Result<(DomainName, Vec<Source>)> {
    let mut zone: Option<DomainName> = None;
    let mut sources = Vec::new();
    let mut names: Vec<DatasetName> = Vec::new();
    for spec in specs {
        let mut fields = spec.splitn(3, ':');
        let (Some(z), Some(kind), Some(files)) = (fields.next(), fields.next(), fields.next()) else {
            bail!("--rbldnsd {spec:?}: expected ZONE:TYPE:FILE[,FILE...]");
        };
        let z = DomainName::parse(z).map_err(|e| anyhow::anyhow!("--rbldnsd {spec:?}: {e}"))?;
        match &zone {
            Some(first) if *first != z => bail!("--rbldnsd names zones {first} and {z}; import one zone at a time"),
            _ => zone = Some(z),
        }
        let kind = match kind {
            "ip4set" | "ip4tset" => Dataset::Ip4Set,
            "ip4trie" => Dataset::Ip4Trie,
            "ip6trie" | "ip6tset" => Dataset::Ip6Trie,
            "combined" => Dataset::Auto,
            other => bail!("--rbldnsd {spec:?}: dataset type {other:?} is not supported (ip4set, ip4tset, ip4trie, ip6trie, ip6tset, combined)"),
        };
        let files: Vec<PathBuf> = files.split(',').filter(|f| !f.is_empty()).map(PathBuf::from).collect();
        let Some(first) = files.first() else { bail!("--rbldnsd {spec:?} names no file") };
        let into = unique(dataset_name_for(first), &names);
        names.push(into.clone());
        sources.extend(files.iter().map(|f| Source { path: f.clone(), kind, into: into.clone() }));
    }
    let zone = zone.ok_or_else(|| anyhow::anyhow!("--rbldnsd needs at least one ZONE:TYPE:FILE"))?;
    Ok((zone, sources))
}

/// A dataset name from a file's name: its stem, lowercased, other characters as `-`.
fn dataset_name_for(file: &std::path::Path) -> DatasetName {
    let stem = file.file_stem().map(|s| s.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let cleaned: String =
        stem.chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' { c } else { '-' }).collect();
    let cleaned = cleaned.trim_start_matches(['-', '_']);
    let cleaned: String = cleaned.chars().take(28).collect();
    DatasetName::parse(&cleaned)
        .unwrap_or_else(|_| DatasetName::parse("rbldnsd").unwrap_or_else(|_| DatasetName::operator()))
}

/// `name`, or `name-2`, `name-3`, … when it is taken already.
fn unique(name: DatasetName, taken: &[DatasetName]) -> DatasetName {
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = DatasetName::parse(&format!("{name}-{n}")).unwrap_or_else(|_| name.clone());
        n += 1;
    }
    candidate
}

fn import_through_server(
    args: &ImportArgs,
    sources: &[Source],
    data_dir: &std::path::Path,
    zone: &DomainName,
) -> anyhow::Result<()> {
    let token = args.token_file.clone().unwrap_or_else(|| crate::config::operator_token_path(data_dir));
    let client = Client::new(&args.server, &token)?;
    let code = args.default_code.to_string();
    let parts: Vec<(String, PathBuf)> =
        sources.iter().map(|s| (format!("{}:{}", s.into, s.kind.as_str()), s.path.clone())).collect();
    let query = [("default_code", code.as_str())];
    let answer: ImportResponse = client.post_files(&format!("/v1/zones/{zone}/import"), &query, &parts)?;
    if args.json {
        return super::client::print_json(&answer);
    }
    println!(
        "imported {} listing(s) and {} exclusion(s) into zone {zone} through the running server ({} lines); serial is now {}",
        answer.listings, answer.exclusions, answer.lines, answer.serial
    );
    print_datasets(&answer.datasets);
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
