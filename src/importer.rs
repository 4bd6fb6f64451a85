//! `dnsbl zone import`: streams an rbldnsd file into one atomic replacement of a zone.
//!
//! Lines are read one at a time (a 10M-line file is never held as text); entries go straight into
//! the store's write batch. Every bad line is reported as `file:line: reason` (up to
//! [`MAX_REPORTED`]); if there is any, nothing of the file is committed.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::model::AuditAction;
use crate::model::{Listing, ListingCode};
use crate::name::{DatasetName, DomainName};
use crate::store::{AuditRecord, ReplaceSummary, Store, StoreError, StoredExclusion, StoredListing, ZoneReplacement};
use crate::zonefile::{Dataset, Directives, Item, Parser};

/// Bad lines reported before the import stops reading.
pub const MAX_REPORTED: usize = 20;

/// One bad line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", path.display())]
pub struct LineError {
    pub path: PathBuf,
    pub line: u64,
    pub reason: String,
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} bad line(s){}; nothing was imported:\n{}", .0.len(), if .0.len() >= MAX_REPORTED { " (stopped reading)" } else { "" }, .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Lines(Vec<LineError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub lines: u64,
    pub summary: ReplaceSummary,
    /// Entries wider than `$MAXRANGE4`, skipped as rbldnsd skips them.
    pub skipped_wide: u64,
    pub directives: Directives,
}

/// Options of one import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub dataset: Dataset,
    /// Return code for entries whose file gives none.
    pub default_code: ListingCode,
    /// Unix seconds, recorded as the entries' time of listing.
    pub now: u64,
    /// The zone's TXT template: entries whose text equals it are stored without a reason of their
    /// own (as an export writes them), so they follow the zone's template.
    pub zone_template: Option<String>,
    /// The dataset the file replaces (`operator` unless another is named).
    pub into: DatasetName,
    /// Who imports, through what (recorded in the audit trail).
    pub actor: String,
    pub source: String,
}

/// Replaces `zone`'s dataset `opts.into` with the contents of the file at `path`.
pub fn import(
    store: &Store,
    zone: &DomainName,
    path: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    import_files(store, zone, &[path.to_path_buf()], opts)
}

/// Replaces `zone`'s dataset `opts.into` with the contents of all `paths` together, in one
/// switch: the dataset answers as one list made of every file (the zone's other datasets are not
/// touched). A bad line in any file and nothing is imported.
pub fn import_files(
    store: &Store,
    zone: &DomainName,
    paths: &[PathBuf],
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let mut import = Import::start(store, zone, opts)?;
    for path in paths {
        let file = File::open(path).map_err(|source| ImportError::Read { path: path.to_path_buf(), source })?;
        if !import.read(file, path, opts)? {
            break;
        }
    }
    import.finish(paths, opts)
}

/// Replaces `zone`'s dataset `opts.into` with what `input` holds (a file, an upload being
/// received), read line by line; `path` names it in messages and in the audit trail.
pub fn import_reader(
    store: &Store,
    zone: &DomainName,
    input: impl Read,
    path: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let mut import = Import::start(store, zone, opts)?;
    import.read(input, path, opts)?;
    import.finish(&[path.to_path_buf()], opts)
}

/// One replacement being filled from one or more inputs.
struct Import<'s> {
    batch: ZoneReplacement<'s>,
    errors: Vec<LineError>,
    lines: u64,
    skipped_wide: u64,
    directives: Directives,
}

impl<'s> Import<'s> {
    fn start(store: &'s Store, zone: &DomainName, opts: &ImportOptions) -> Result<Import<'s>, ImportError> {
        Ok(Import {
            batch: store.replace_dataset(zone, &opts.into)?,
            errors: Vec::new(),
            lines: 0,
            skipped_wide: 0,
            directives: Directives::default(),
        })
    }

    /// Reads one input into the replacement; `false` once enough bad lines were seen to stop.
    fn read(&mut self, input: impl Read, path: &Path, opts: &ImportOptions) -> Result<bool, ImportError> {
        let read_err = |source| ImportError::Read { path: path.to_path_buf(), source };
        let mut reader = BufReader::with_capacity(1 << 20, input);
        let mut parser = Parser::new(opts.dataset, opts.default_code);
        let (batch, errors) = (&mut self.batch, &mut self.errors);
        let (mut line_no, mut skipped_wide) = (0u64, 0u64);
        let mut raw = Vec::with_capacity(256);
        loop {
            raw.clear();
            if reader.read_until(b'\n', &mut raw).map_err(read_err)? == 0 {
                break;
            }
            line_no += 1;
            let bad = |reason: String| LineError { path: path.to_path_buf(), line: line_no, reason };
            let item = match std::str::from_utf8(&raw) {
                Err(_) => Err(bad("line is not valid UTF-8".into())),
                Ok(text) => parser.line(text).map_err(bad),
            };
            match item {
                Err(e) => {
                    errors.push(e);
                    if errors.len() >= MAX_REPORTED {
                        break;
                    }
                }
                Ok(None) => {}
                Ok(Some(Item::Listed { prefixes, listing })) if errors.is_empty() => {
                    let listing = match (listing.reason(), &opts.zone_template) {
                        (Some(r), Some(t)) if r == t => Listing::new(listing.codes().to_vec(), None).unwrap_or(listing),
                        _ => listing,
                    };
                    let value = StoredListing { listing, added_at: opts.now, expires_at: None };
                    for p in &prefixes {
                        batch.put_listing(p, &value)?;
                    }
                }
                Ok(Some(Item::Excluded { prefixes })) if errors.is_empty() => {
                    let value = StoredExclusion { reason: None, added_at: opts.now };
                    for p in &prefixes {
                        batch.put_exclusion(p, &value)?;
                    }
                }
                Ok(Some(Item::SkippedWide { prefixes })) => skipped_wide += prefixes.len() as u64,
                // After the first error only syntax is checked; nothing will be written.
                Ok(Some(_)) => {}
            }
        }
        self.lines += line_no;
        self.skipped_wide += skipped_wide;
        let d = parser.directives;
        self.directives.soa = self.directives.soa.take().or(d.soa);
        self.directives.ns = self.directives.ns.take().or(d.ns);
        self.directives.ttl = self.directives.ttl.or(d.ttl);
        Ok(self.errors.len() < MAX_REPORTED)
    }

    fn finish(self, paths: &[PathBuf], opts: &ImportOptions) -> Result<ImportReport, ImportError> {
        if !self.errors.is_empty() {
            return Err(ImportError::Lines(self.errors));
        }
        let (listings, exclusions) = self.batch.counts();
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned()))
            .collect();
        let what = if opts.into.is_operator() { "the list".to_string() } else { format!("dataset {}", opts.into) };
        let audit = AuditRecord {
            at_us: crate::clock::unix_now_us(),
            action: AuditAction::Import,
            actor: opts.actor.clone(),
            source: opts.source.clone(),
            codes: Vec::new(),
            reason: Some(format!(
                "replaced {what}: {listings} listings, {exclusions} exclusions from {}",
                names.join(", ")
            )),
            expires_at: None,
        };
        let summary = self.batch.commit_audited(opts.now, Some(&audit))?;
        Ok(ImportReport { lines: self.lines, summary, skipped_wide: self.skipped_wide, directives: self.directives })
    }
}
