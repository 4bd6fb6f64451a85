//! `dnsbl zone import`: streams rbldnsd files into one atomic replacement of some of a zone's
//! datasets.
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
    /// Each dataset replaced, with its (listings, exclusions).
    pub datasets: Vec<(DatasetName, u64, u64)>,
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

/// One input of an import: a file, the rbldnsd dataset type it is written for, and the dataset
/// it goes into (a `combined` file's named sections go to datasets of their own).
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub kind: Dataset,
    pub into: DatasetName,
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
/// touched, except those a `combined` file's named sections replace). A bad line in any file and
/// nothing is imported.
pub fn import_files(
    store: &Store,
    zone: &DomainName,
    paths: &[PathBuf],
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let sources: Vec<Source> =
        paths.iter().map(|p| Source { path: p.clone(), kind: opts.dataset, into: opts.into.clone() }).collect();
    import_sources(store, zone, &sources, opts)
}

/// Replaces every dataset the `sources` name with what they hold, all in one switch; files that
/// name one dataset are read as one list (as rbldnsd reads `type:file1,file2`). A bad line in
/// any file and nothing is imported.
pub fn import_sources(
    store: &Store,
    zone: &DomainName,
    sources: &[Source],
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let mut import = Import::start(store, zone)?;
    for source in sources {
        let path = &source.path;
        let file = File::open(path).map_err(|source| ImportError::Read { path: path.to_path_buf(), source })?;
        if !import.read(file, source, opts)? {
            break;
        }
    }
    import.finish(opts)
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
    let mut import = Import::start(store, zone)?;
    let source = Source { path: path.to_path_buf(), kind: opts.dataset, into: opts.into.clone() };
    import.read(input, &source, opts)?;
    import.finish(opts)
}

/// One replacement being filled from one or more inputs ([`Import::read`] each, then
/// [`Import::finish`]); dropped unfinished, it leaves the served datasets as they were.
#[derive(Debug)]
pub struct Import<'s> {
    batch: ZoneReplacement<'s>,
    errors: Vec<LineError>,
    lines: u64,
    skipped_wide: u64,
    directives: Directives,
    /// The files that fed each dataset, for the audit trail.
    fed_by: Vec<(DatasetName, Vec<String>)>,
}

impl<'s> Import<'s> {
    pub fn start(store: &'s Store, zone: &DomainName) -> Result<Import<'s>, ImportError> {
        Ok(Import {
            batch: store.replace_datasets(zone)?,
            errors: Vec::new(),
            lines: 0,
            skipped_wide: 0,
            directives: Directives::default(),
            fed_by: Vec::new(),
        })
    }

    /// Sends what follows to `dataset`, noting that `path` feeds it.
    fn select(&mut self, dataset: &DatasetName, path: &Path) -> Result<(), ImportError> {
        self.batch.select(dataset)?;
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        match self.fed_by.iter_mut().find(|(d, _)| d == dataset) {
            Some((_, files)) if files.contains(&name) => {}
            Some((_, files)) => files.push(name),
            None => self.fed_by.push((dataset.clone(), vec![name])),
        }
        Ok(())
    }

    /// Reads one input into the replacement; `false` once enough bad lines were seen to stop.
    pub fn read(&mut self, input: impl Read, source: &Source, opts: &ImportOptions) -> Result<bool, ImportError> {
        let path = source.path.as_path();
        let read_err = |source| ImportError::Read { path: path.to_path_buf(), source };
        self.select(&source.into, path)?;
        let mut reader = BufReader::with_capacity(1 << 20, input);
        let mut parser = Parser::new(source.kind, opts.default_code);
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
            let clean = self.errors.is_empty();
            match item {
                Err(e) => {
                    self.errors.push(e);
                    if self.errors.len() >= MAX_REPORTED {
                        break;
                    }
                }
                Ok(None) => {}
                Ok(Some(Item::Section { name })) => self.select(name.as_ref().unwrap_or(&source.into), path)?,
                Ok(Some(Item::Listed { prefixes, listing })) if clean => {
                    let listing = match (listing.reason(), &opts.zone_template) {
                        (Some(r), Some(t)) if r == t => Listing::new(listing.codes().to_vec(), None).unwrap_or(listing),
                        _ => listing,
                    };
                    let value = StoredListing { listing, added_at: opts.now, expires_at: None };
                    for p in &prefixes {
                        self.batch.put_listing(p, &value)?;
                    }
                }
                Ok(Some(Item::Excluded { prefixes })) if clean => {
                    let value = StoredExclusion { reason: None, added_at: opts.now };
                    for p in &prefixes {
                        self.batch.put_exclusion(p, &value)?;
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

    /// Commits every dataset read into, in one switch; with any bad line, nothing.
    pub fn finish(self, opts: &ImportOptions) -> Result<ImportReport, ImportError> {
        if !self.errors.is_empty() {
            return Err(ImportError::Lines(self.errors));
        }
        let at_us = crate::clock::unix_now_us();
        let audit: Vec<AuditRecord> = self
            .batch
            .datasets()
            .map(|(dataset, listings, exclusions)| {
                let what = if dataset.is_operator() { "the list".to_string() } else { format!("dataset {dataset}") };
                let files = self.fed_by.iter().find(|(d, _)| d == dataset).map(|(_, f)| f.join(", "));
                AuditRecord {
                    at_us,
                    action: AuditAction::Import,
                    actor: opts.actor.clone(),
                    source: opts.source.clone(),
                    codes: Vec::new(),
                    reason: Some(format!(
                        "replaced {what}: {listings} listings, {exclusions} exclusions from {}",
                        files.unwrap_or_default()
                    )),
                    expires_at: None,
                    dataset: dataset.clone(),
                }
            })
            .collect();
        let datasets = self.batch.datasets().map(|(d, l, x)| (d.clone(), l, x)).collect();
        let summary = self.batch.commit_audited(opts.now, &audit)?;
        Ok(ImportReport {
            lines: self.lines,
            summary,
            skipped_wide: self.skipped_wide,
            directives: self.directives,
            datasets,
        })
    }
}
