//! RocksDB, the source of truth. The only module that touches the `rocksdb` crate.
//!
//! Column families: `listings` and `exclusions` (entry key → versioned value, see [`encoding`]),
//! `meta` (schema version, per-zone SOA serial and list generation), `audit` (one record per
//! change, keyed by zone, prefix and time, written in the change's own batch), and
//! `registrations`: marketer accounts, declarations and history (see `registrations.rs`), and
//! `access`: access keys, registered resolvers and their audit trail (see `access.rs`), and
//! `evidence`: what reporters sent about addresses (see `evidence.rs`), and `replica`: the
//! records of secondary zones as their primaries sent them (see `replica.rs`). A change becomes visible in one
//! `WriteBatch` with a synced WAL. A zone replacement streams the new list into the next
//! generation in bounded chunks (constant memory), then switches generation, bumps the serial and
//! drops the old generation in that one synced batch; an interrupted import leaves only an
//! unreferenced generation, cleared by the next one.
//! A zone's list is made of named datasets (the operator's own, `operator`, and one per imported
//! feed): each is a pointer in `meta` (`dataset/<zone>/<name>`) to the generation that holds its
//! entries, and each is replaced on its own. Schema 1 had one list per zone
//! (`generation/<zone>`); opening such a database for writing turns that list into the zone's
//! `operator` dataset (the entries stay where they are) and records schema 2.
//! A database written by a newer schema, or a value that does not decode, is refused with a
//! clear error; nothing here panics on stored bytes.

mod access;
mod delisting;
pub mod encoding;
mod evidence;
mod registrations;
mod replica;

pub use replica::ReplicaState;

use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, Options, ReadOptions, WriteBatch, WriteOptions, DB};

use crate::model::Prefix;
use crate::name::{DatasetName, DomainName};
pub use access::{AccessRecord, AccessWrite};
pub use encoding::{AuditRecord, DecodeError, StoredExclusion, StoredListing};
pub use registrations::RegistryAudit;

/// Schema version written by this build; a database with a higher one is refused.
pub const SCHEMA_VERSION: u32 = 2;

const CF_LISTINGS: &str = "listings";
const CF_EXCLUSIONS: &str = "exclusions";
const CF_META: &str = "meta";
const CF_REGISTRATIONS: &str = "registrations";
const CF_AUDIT: &str = "audit";
const CF_ACCESS: &str = "access";
const CF_EVIDENCE: &str = "evidence";
const CF_DELISTING: &str = "delisting";
const CF_REPLICA: &str = "replica";
const ALL_CFS: [&str; 9] =
    [CF_LISTINGS, CF_EXCLUSIONS, CF_META, CF_REGISTRATIONS, CF_AUDIT, CF_ACCESS, CF_EVIDENCE, CF_DELISTING, CF_REPLICA];

const KEY_SCHEMA: &[u8] = b"schema-version";

/// Entries staged per unsynced write while a replacement streams in.
const STAGING_CHUNK: usize = 50_000;

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {0} is in use by the server (or another dnsbl process); stop it first")]
    InUse(PathBuf),
    #[error("database {path} has schema version {found}, newer than this dnsbl ({supported}); upgrade dnsbl")]
    NewerSchema { path: PathBuf, found: u32, supported: u32 },
    #[error("database is corrupt: {cf} key {key}: {why}")]
    Corrupt { cf: &'static str, key: String, why: DecodeError },
    #[error("database {path}: {context}: {source}")]
    Db { path: PathBuf, context: &'static str, source: rocksdb::Error },
    #[error("database {path}: only {free} bytes are free on its disk and at least {keep} are kept free (server.min-free-disk); nothing was written: free some space and try again")]
    DiskFull { path: PathBuf, free: u64, keep: u64 },
    #[error("database {path}: an earlier write failed ({first}); nothing more is written until dnsbl restarts (the list being served stays as it was)")]
    WriteFailed { path: PathBuf, first: String },
    #[error("cannot create {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("zone {0} has {max} datasets already; remove one first", max = crate::name::MAX_DATASETS)]
    TooManyDatasets(DomainName),
    #[error("an entry for zone {0} came before any dataset was chosen for it")]
    NoDatasetSelected(DomainName),
    #[error("the operator's dataset cannot be removed; import an empty file into it to empty it")]
    OperatorDataset,
}

/// A copy of the database written by [`Store::backup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// Where the copy is (absolute when it can be made so).
    pub path: PathBuf,
    /// Each zone's serial as read back from the copy itself.
    pub serials: Vec<(DomainName, u32)>,
}

/// One change to one entry of a zone's list.
#[derive(Clone, Copy, Debug)]
pub enum EntryChange<'a> {
    PutListing(&'a StoredListing),
    DeleteListing,
    PutExclusion(&'a StoredExclusion),
    DeleteExclusion,
}

/// One stored entry of a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredEntry {
    Listing(StoredListing),
    Exclusion(StoredExclusion),
}

/// An open database.
pub struct Store {
    db: DB,
    path: PathBuf,
    /// Tells apart audit records written in the same microsecond.
    audit_seq: std::sync::atomic::AtomicU16,
    /// Writes are refused while less than this is free on the database's disk.
    min_free: u64,
    /// The first write that failed: after it, no more writes are attempted.
    failed: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database in `path` for reading and writing.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // Keep column families this build does not know (a newer schema) so the check below can
        // refuse the database instead of RocksDB failing with a less helpful message.
        let mut names: Vec<String> = DB::list_cf(&opts, path).unwrap_or_default();
        for cf in ALL_CFS {
            if !names.iter().any(|n| n == cf) {
                names.push(cf.to_string());
            }
        }
        let cfs = names.iter().map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| open_error(path, e))?;
        let store = Store::new(db, path);
        store.check_schema()?;
        Ok(store)
    }

    /// Opens an existing database read-only; works while a server has it open (it then sees the
    /// state as of the server's last flush plus its write-ahead log).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let opts = Options::default();
        let names = DB::list_cf(&opts, path).map_err(|e| open_error(path, e))?;
        let db = DB::open_cf_for_read_only(&opts, path, &names, false).map_err(|e| open_error(path, e))?;
        let store = Store::new(db, path);
        let meta = store.cf(CF_META)?;
        if let Some(v) = store.db.get_cf(meta, KEY_SCHEMA).map_err(|e| store.err("reading schema version", e))? {
            let found = <[u8; 4]>::try_from(v.as_slice()).map(u32::from_be_bytes).unwrap_or(u32::MAX);
            if found > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema { path: path.to_path_buf(), found, supported: SCHEMA_VERSION });
            }
        }
        Ok(store)
    }

    fn new(db: DB, path: &Path) -> Store {
        Store {
            db,
            path: path.to_path_buf(),
            audit_seq: std::sync::atomic::AtomicU16::new(0),
            min_free: crate::config::DEFAULT_MIN_FREE_DISK,
            failed: std::sync::OnceLock::new(),
        }
    }

    /// Keep at least `bytes` free on the database's disk: writes that would start below it are
    /// refused ([`StoreError::DiskFull`]).
    pub fn set_min_free_disk(&mut self, bytes: u64) {
        self.min_free = bytes;
    }

    /// The directory of the database.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks before a write: no earlier write failed, and the disk has the space we keep free.
    fn writable(&self) -> Result<(), StoreError> {
        if let Some(first) = self.failed.get() {
            return Err(StoreError::WriteFailed { path: self.path.clone(), first: first.clone() });
        }
        // If free space cannot be read, let the write try (and fail on its own if it must).
        if let Ok(stat) = nix::sys::statvfs::statvfs(&self.path) {
            // Both are narrower than u64 on some 32-bit targets.
            #[allow(clippy::useless_conversion)]
            let free = u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size()));
            if free < self.min_free {
                return Err(StoreError::DiskFull { path: self.path.clone(), free, keep: self.min_free });
            }
        }
        Ok(())
    }

    /// Writes a consistent copy of the whole database (every zone's list, the registry, the audit
    /// trail, serials) to `dir`, which must not exist yet: hard links to the immutable table files
    /// when `dir` is on the same filesystem, copies otherwise. The server keeps serving and
    /// accepting changes meanwhile.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), StoreError> {
        // A checkpoint flushes recent changes to a table file first: a write like any other.
        self.writable()?;
        let checkpoint =
            rocksdb::checkpoint::Checkpoint::new(&self.db).map_err(|e| self.err("preparing a backup", e))?;
        checkpoint.create_checkpoint(dir).map_err(|e| self.err("writing a backup", e))
    }

    /// Writes a [`Store::checkpoint`] to `<parent>/<UTC time of now>` (`-2`, `-3`, … when that
    /// exists) and reads the serials of `zones` back from the copy, so the answer says exactly
    /// what it holds.
    pub fn backup(&self, parent: &Path, zones: &[DomainName], now: u64) -> Result<Backup, StoreError> {
        std::fs::create_dir_all(parent)
            .map_err(|source| StoreError::CreateDir { path: parent.to_path_buf(), source })?;
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now);
        let stamp = humantime::format_rfc3339_seconds(at).to_string().replace(':', "");
        let mut dir = parent.join(&stamp);
        for n in 2.. {
            if !dir.exists() {
                break;
            }
            dir = parent.join(format!("{stamp}-{n}"));
        }
        self.checkpoint(&dir)?;
        let copy = Store::open_read_only(&dir)?;
        let serials = zones
            .iter()
            .map(|zone| Ok((zone.clone(), copy.serial(zone)?.unwrap_or(0))))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let path = std::fs::canonicalize(&dir).unwrap_or(dir);
        Ok(Backup { path, serials })
    }

    /// The error for a failed write; later writes are refused (RocksDB stops accepting writes
    /// after an I/O error, and a build with assertions may abort on the next one).
    fn write_err(&self, context: &'static str, source: rocksdb::Error) -> StoreError {
        let _ = self.failed.set(format!("{context}: {source}"));
        self.err(context, source)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let meta = self.cf(CF_META)?;
        match self.db.get_cf(meta, KEY_SCHEMA).map_err(|e| self.err("reading schema version", e))? {
            None => self
                .db
                .put_cf_opt(meta, KEY_SCHEMA, SCHEMA_VERSION.to_be_bytes(), &synced())
                .map_err(|e| self.write_err("writing schema version", e)),
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_slice()).map(u32::from_be_bytes).map_err(|_| {
                    self.corrupt(CF_META, KEY_SCHEMA, DecodeError::Value("schema version is not 4 bytes"))
                })?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema { path: self.path.clone(), found, supported: SCHEMA_VERSION });
                }
                if found < 2 {
                    self.migrate_to_datasets()?;
                }
                Ok(())
            }
        }
    }

    /// Schema 1 → 2: each zone's one list (`generation/<zone>`) becomes its `operator` dataset,
    /// in one synced write; the entries themselves do not move.
    fn migrate_to_datasets(&self) -> Result<(), StoreError> {
        let meta = self.cf(CF_META)?;
        let mut batch = WriteBatch::default();
        let mut zones = 0;
        for item in self.db.prefix_iterator_cf(meta, encoding::LEGACY_GENERATION) {
            let (key, value) = item.map_err(|e| self.err("reading metadata", e))?;
            let Some(zone) = key.strip_prefix(encoding::LEGACY_GENERATION) else { break };
            let zone = std::str::from_utf8(zone)
                .ok()
                .and_then(|z| DomainName::parse(z).ok())
                .ok_or_else(|| self.corrupt(CF_META, &key, DecodeError::Key))?;
            let generation = <[u8; 4]>::try_from(&value[..])
                .map(u32::from_be_bytes)
                .map_err(|_| self.corrupt(CF_META, &key, DecodeError::Value("generation")))?;
            batch.put_cf(
                meta,
                encoding::dataset_key(&zone, &DatasetName::operator()),
                encoding::encode_dataset(generation),
            );
            batch.delete_cf(meta, &key);
            zones += 1;
        }
        batch.put_cf(meta, KEY_SCHEMA, SCHEMA_VERSION.to_be_bytes());
        self.writable()?;
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("migrating to schema 2", e))?;
        tracing::info!(zones, "database migrated to schema 2: each zone's list is now its operator dataset");
        Ok(())
    }

    /// Calls `f` for every listing and then every exclusion of `zone`'s operator dataset, in
    /// address order.
    pub fn for_each_entry(&self, zone: &DomainName, f: impl FnMut(Prefix, StoredEntry)) -> Result<(), StoreError> {
        self.for_each_entry_of(zone, &DatasetName::operator(), f)
    }

    /// Calls `f` for every listing and then every exclusion of one dataset, in address order.
    pub fn for_each_entry_of(
        &self,
        zone: &DomainName,
        dataset: &DatasetName,
        mut f: impl FnMut(Prefix, StoredEntry),
    ) -> Result<(), StoreError> {
        let Some(generation) = self.generation_of(zone, dataset)? else { return Ok(()) };
        self.scan(CF_LISTINGS, zone, generation, (None, None), |p, v| {
            f(p, StoredEntry::Listing(encoding::decode_listing(v)?));
            Ok(())
        })?;
        self.scan(CF_EXCLUSIONS, zone, generation, (None, None), |p, v| {
            f(p, StoredEntry::Exclusion(encoding::decode_exclusion(v)?));
            Ok(())
        })
    }

    /// Like [`Store::for_each_entry`] without decoding listing answers: `f` gets each listing's
    /// head (times and raw answer bytes, decoded by the caller once per distinct answer) and
    /// returns an error for answers that do not decode; exclusions come as `None`.
    pub fn for_each_raw(
        &self,
        zone: &DomainName,
        f: impl FnMut(Prefix, Option<encoding::ListingHead<'_>>) -> Result<(), DecodeError>,
    ) -> Result<(), StoreError> {
        self.for_each_raw_between(zone, &DatasetName::operator(), None, None, f)
    }

    /// [`Store::for_each_raw`] for the part of the list from `from` (inclusive) up to `to`
    /// (exclusive) in key order, which is (family, address, length): the parts of a split at
    /// network addresses hold every entry exactly once, so parts can be read in parallel.
    pub fn for_each_raw_between(
        &self,
        zone: &DomainName,
        dataset: &DatasetName,
        from: Option<Prefix>,
        to: Option<Prefix>,
        mut f: impl FnMut(Prefix, Option<encoding::ListingHead<'_>>) -> Result<(), DecodeError>,
    ) -> Result<(), StoreError> {
        let Some(generation) = self.generation_of(zone, dataset)? else { return Ok(()) };
        self.scan(CF_LISTINGS, zone, generation, (from, to), |p, v| f(p, Some(encoding::listing_head(v)?)))?;
        self.scan(CF_EXCLUSIONS, zone, generation, (from, to), |p, v| {
            encoding::decode_exclusion(v)?;
            f(p, None)
        })
    }

    /// Scans one column family's entries of `zone` from `bounds.0` (inclusive, the list's start
    /// when `None`) up to `bounds.1` (exclusive, its end when `None`).
    fn scan(
        &self,
        cf_name: &'static str,
        zone: &DomainName,
        generation: u32,
        bounds: (Option<Prefix>, Option<Prefix>),
        f: impl FnMut(Prefix, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<(), StoreError> {
        let list = encoding::list_prefix(zone, generation);
        let start = bounds.0.map_or_else(|| list.clone(), |p| encoding::entry_key(zone, generation, &p));
        let end = bounds
            .1
            .map_or_else(|| encoding::list_end(zone, generation), |p| encoding::entry_key(zone, generation, &p));
        // A whole-list scan: read ahead, and do not push the block cache's hot entries out.
        self.scan_keys(cf_name, list.len(), &start, end, true, f)
    }

    /// Calls `f` for every key in `from..to` (exclusive) of a list generation whose prefix is
    /// `prefix_len` bytes.
    fn scan_keys(
        &self,
        cf_name: &'static str,
        prefix_len: usize,
        from: &[u8],
        to: Vec<u8>,
        bulk: bool,
        mut f: impl FnMut(Prefix, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<(), StoreError> {
        let cf = self.cf(cf_name)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(to);
        if bulk {
            ro.set_readahead_size(4 << 20);
            ro.fill_cache(false);
        }
        let mut it = self.db.raw_iterator_cf_opt(cf, ro);
        it.seek(from);
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            let prefix = encoding::decode_entry_key(key, prefix_len).map_err(|why| self.corrupt(cf_name, key, why))?;
            f(prefix, value).map_err(|why| self.corrupt(cf_name, key, why))?;
            it.next();
        }
        it.status().map_err(|e| self.err("scanning entries", e))
    }

    /// Calls `f` for every entry of one dataset of `zone` that lies inside `range` or covers it, the entries a
    /// change inside `range` needs to recompute that part of the list. Listings come with their
    /// head (see [`Store::for_each_raw`]), exclusions as `None`.
    pub fn for_each_affecting(
        &self,
        zone: &DomainName,
        dataset: &DatasetName,
        range: Prefix,
        mut f: impl FnMut(Prefix, Option<encoding::ListingHead<'_>>) -> Result<(), DecodeError>,
    ) -> Result<(), StoreError> {
        let Some(generation) = self.generation_of(zone, dataset)? else { return Ok(()) };
        let prefix_len = encoding::list_prefix(zone, generation).len();
        // Inside: keys from the range's own key up to the last address's host key.
        let from = encoding::entry_key(zone, generation, &range);
        let last = range.last_host();
        let mut to = encoding::entry_key(zone, generation, &last);
        to.push(0);
        self.scan_keys(CF_LISTINGS, prefix_len, &from, to.clone(), false, |p, v| {
            f(p, Some(encoding::listing_head(v)?))
        })?;
        self.scan_keys(CF_EXCLUSIONS, prefix_len, &from, to, false, |p, v| {
            encoding::decode_exclusion(v)?;
            f(p, None)
        })?;
        // Covering: every shorter prefix of the range's first address.
        for len in 0..range.len() {
            let outer = range.truncated(len);
            let key = encoding::entry_key(zone, generation, &outer);
            if let Some(v) =
                self.db.get_pinned_cf(self.cf(CF_LISTINGS)?, &key).map_err(|e| self.err("reading an entry", e))?
            {
                f(outer, Some(encoding::listing_head(&v).map_err(|why| self.corrupt(CF_LISTINGS, &key, why))?))
                    .map_err(|why| self.corrupt(CF_LISTINGS, &key, why))?;
            }
            if let Some(v) =
                self.db.get_pinned_cf(self.cf(CF_EXCLUSIONS)?, &key).map_err(|e| self.err("reading an entry", e))?
            {
                encoding::decode_exclusion(&v).map_err(|why| self.corrupt(CF_EXCLUSIONS, &key, why))?;
                f(outer, None).map_err(|why| self.corrupt(CF_EXCLUSIONS, &key, why))?;
            }
        }
        Ok(())
    }

    /// The listing of one dataset at exactly `prefix`, if any.
    pub fn listing_at(
        &self,
        zone: &DomainName,
        dataset: &DatasetName,
        prefix: &Prefix,
    ) -> Result<Option<StoredListing>, StoreError> {
        let Some(generation) = self.generation_of(zone, dataset)? else { return Ok(None) };
        let key = encoding::entry_key(zone, generation, prefix);
        match self.db.get_pinned_cf(self.cf(CF_LISTINGS)?, &key).map_err(|e| self.err("reading an entry", e))? {
            None => Ok(None),
            Some(v) => encoding::decode_listing(&v).map(Some).map_err(|why| self.corrupt(CF_LISTINGS, &key, why)),
        }
    }

    /// Every entry of one dataset of `zone` at `prefix` or covering it, shortest prefix first.
    pub fn covering(
        &self,
        zone: &DomainName,
        dataset: &DatasetName,
        prefix: Prefix,
    ) -> Result<Vec<(Prefix, StoredEntry)>, StoreError> {
        let Some(generation) = self.generation_of(zone, dataset)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for len in 0..=prefix.len() {
            let outer = prefix.truncated(len);
            let key = encoding::entry_key(zone, generation, &outer);
            let get = |cf| self.db.get_pinned_cf(cf, &key).map_err(|e| self.err("reading an entry", e));
            if let Some(v) = get(self.cf(CF_LISTINGS)?)? {
                let l = encoding::decode_listing(&v).map_err(|why| self.corrupt(CF_LISTINGS, &key, why))?;
                out.push((outer, StoredEntry::Listing(l)));
            }
            if let Some(v) = get(self.cf(CF_EXCLUSIONS)?)? {
                let x = encoding::decode_exclusion(&v).map_err(|why| self.corrupt(CF_EXCLUSIONS, &key, why))?;
                out.push((outer, StoredEntry::Exclusion(x)));
            }
        }
        Ok(out)
    }

    /// Applies one change to a dataset of `zone` (`audit.dataset`) and advances the zone's serial,
    /// in one synced write; an addition to a dataset the zone does not have yet creates it.
    /// Returns the new serial, or `None` (and writes nothing) when a removal finds no entry.
    pub fn change_entry(
        &self,
        zone: &DomainName,
        prefix: &Prefix,
        change: EntryChange<'_>,
        audit: &AuditRecord,
        now: u64,
    ) -> Result<Option<u32>, StoreError> {
        let dataset = &audit.dataset;
        let mut batch = WriteBatch::default();
        let generation = match self.generation_of(zone, dataset)? {
            Some(g) => g,
            None if matches!(change, EntryChange::DeleteListing | EntryChange::DeleteExclusion) => return Ok(None),
            None => {
                self.writable()?;
                let slot = self.free_slot(zone, [])?;
                // Leftovers of an interrupted replacement may live in a free slot.
                self.drop_generation(zone, slot)?;
                batch.put_cf(self.cf(CF_META)?, encoding::dataset_key(zone, dataset), encoding::encode_dataset(slot));
                slot
            }
        };
        let key = encoding::entry_key(zone, generation, prefix);
        match change {
            EntryChange::PutListing(v) => batch.put_cf(self.cf(CF_LISTINGS)?, &key, encoding::encode_listing(v)),
            EntryChange::PutExclusion(v) => batch.put_cf(self.cf(CF_EXCLUSIONS)?, &key, encoding::encode_exclusion(v)),
            EntryChange::DeleteListing | EntryChange::DeleteExclusion => {
                let cf =
                    self.cf(if matches!(change, EntryChange::DeleteListing) { CF_LISTINGS } else { CF_EXCLUSIONS })?;
                if self.db.get_pinned_cf(cf, &key).map_err(|e| self.err("reading an entry", e))?.is_none() {
                    return Ok(None);
                }
                batch.delete_cf(cf, &key);
            }
        }
        let serial = next_serial(self.serial(zone)?, now);
        batch.put_cf(self.cf(CF_META)?, meta_key("serial/", zone), serial.to_be_bytes());
        self.writable()?;
        let seq = self.audit_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        batch.put_cf(
            self.cf(CF_AUDIT)?,
            encoding::audit_key(zone, prefix, audit.at_us, seq),
            encoding::encode_audit(audit),
        );
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("writing a change", e))?;
        Ok(Some(serial))
    }

    /// Every audit record of `zone` for `prefix`, the prefixes covering it and those inside it,
    /// oldest first. Records outlive the entries they describe.
    pub fn history(&self, zone: &DomainName, prefix: Prefix) -> Result<Vec<(Prefix, AuditRecord)>, StoreError> {
        let zone_len = zone.as_str().len();
        let mut out = Vec::new();
        let mut read = |from: Vec<u8>, to: Vec<u8>| -> Result<(), StoreError> {
            let mut ro = ReadOptions::default();
            ro.set_iterate_upper_bound(to);
            let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_AUDIT)?, ro);
            it.seek(&from);
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                let p = encoding::decode_audit_key_prefix(k, zone_len).map_err(|why| self.corrupt(CF_AUDIT, k, why))?;
                out.push((p, encoding::decode_audit(v).map_err(|why| self.corrupt(CF_AUDIT, k, why))?));
                it.next();
            }
            it.status().map_err(|e| self.err("reading the audit trail", e))
        };
        for len in 0..prefix.len() {
            let outer = prefix.truncated(len);
            let from = encoding::audit_prefix_key(zone, &outer);
            let mut to = from.clone();
            to.extend_from_slice(&[0xff; 11]);
            read(from, to)?;
        }
        // The prefix itself and everything inside it.
        let last = prefix.last_host();
        let mut to = encoding::audit_prefix_key(zone, &last);
        to.pop();
        to.extend_from_slice(&[0xff; 12]);
        read(encoding::audit_prefix_key(zone, &prefix), to)?;
        out.sort_by_key(|(_, r)| r.at_us);
        Ok(out)
    }

    /// The zone's SOA serial, if one was ever stored.
    pub fn serial(&self, zone: &DomainName) -> Result<Option<u32>, StoreError> {
        self.meta_u32(&meta_key("serial/", zone), "serial")
    }

    /// The generation holding a dataset's entries; `None` for a dataset the zone does not have.
    /// A schema-1 database opened read-only still has its list under `generation/<zone>`.
    fn generation_of(&self, zone: &DomainName, dataset: &DatasetName) -> Result<Option<u32>, StoreError> {
        let key = encoding::dataset_key(zone, dataset);
        let v = self.db.get_cf(self.cf(CF_META)?, &key).map_err(|e| self.err("reading metadata", e))?;
        match v {
            Some(bytes) => encoding::decode_dataset(&bytes).map(Some).map_err(|why| self.corrupt(CF_META, &key, why)),
            // Every zone has an operator dataset: generation 0 until its first import.
            None if dataset.is_operator() => {
                Ok(Some(self.meta_u32(&meta_key("generation/", zone), "generation")?.unwrap_or(0)))
            }
            None => Ok(None),
        }
    }

    /// The zone's datasets: `operator` first (every zone has it, empty or not), then the others
    /// by name.
    pub fn datasets(&self, zone: &DomainName) -> Result<Vec<DatasetName>, StoreError> {
        let prefix = encoding::dataset_key_prefix(zone);
        let mut out = vec![DatasetName::operator()];
        for item in self.db.prefix_iterator_cf(self.cf(CF_META)?, &prefix) {
            let (key, _) = item.map_err(|e| self.err("reading metadata", e))?;
            let Some(name) = key.strip_prefix(prefix.as_slice()) else { break };
            let name = std::str::from_utf8(name)
                .ok()
                .and_then(|n| DatasetName::parse(n).ok())
                .ok_or_else(|| self.corrupt(CF_META, &key, DecodeError::Key))?;
            if !name.is_operator() {
                out.push(name);
            }
        }
        Ok(out)
    }

    fn meta_u32(&self, key: &[u8], what: &'static str) -> Result<Option<u32>, StoreError> {
        let v = self.db.get_cf(self.cf(CF_META)?, key).map_err(|e| self.err("reading metadata", e))?;
        v.map(|b| {
            <[u8; 4]>::try_from(b.as_slice())
                .map(u32::from_be_bytes)
                .map_err(|_| self.corrupt(CF_META, key, DecodeError::Value(what)))
        })
        .transpose()
    }

    /// Advances the zone's serial without changing its entries (its settings changed); returns it.
    pub fn advance_serial(&self, zone: &DomainName, now: u64) -> Result<u32, StoreError> {
        let serial = next_serial(self.serial(zone)?, now);
        self.writable()?;
        self.db
            .put_cf_opt(self.cf(CF_META)?, meta_key("serial/", zone), serial.to_be_bytes(), &synced())
            .map_err(|e| self.write_err("writing serial", e))?;
        Ok(serial)
    }

    /// The zone's serial, storing a first one (`now`, Unix seconds) if it has none yet.
    pub fn ensure_serial(&self, zone: &DomainName, now: u64) -> Result<u32, StoreError> {
        if let Some(s) = self.serial(zone)? {
            return Ok(s);
        }
        let serial = next_serial(None, now);
        // Serials come from the clock, so one that cannot be stored now (a full disk) is still
        // below the next; the zone's first change stores one.
        if self.writable().is_err() {
            return Ok(serial);
        }
        self.db
            .put_cf_opt(self.cf(CF_META)?, meta_key("serial/", zone), serial.to_be_bytes(), &synced())
            .map_err(|e| self.write_err("writing serial", e))?;
        Ok(serial)
    }

    /// Starts replacing every entry of the zone's operator dataset; nothing is visible until
    /// [`ZoneReplacement::commit`].
    pub fn replace_zone(&self, zone: &DomainName) -> Result<ZoneReplacement<'_>, StoreError> {
        self.replace_dataset(zone, &DatasetName::operator())
    }

    /// Starts replacing every entry of one dataset of `zone` (creating it if the zone has none of
    /// that name); the zone's other datasets are not touched. Nothing is visible until
    /// [`ZoneReplacement::commit`].
    pub fn replace_dataset(&self, zone: &DomainName, dataset: &DatasetName) -> Result<ZoneReplacement<'_>, StoreError> {
        let mut replacement = self.replace_datasets(zone)?;
        replacement.select(dataset)?;
        Ok(replacement)
    }

    /// Starts replacing datasets of `zone`: each [`ZoneReplacement::select`]ed one is replaced
    /// whole, all of them in one switch at [`ZoneReplacement::commit`]; the others are untouched.
    pub fn replace_datasets(&self, zone: &DomainName) -> Result<ZoneReplacement<'_>, StoreError> {
        self.writable()?;
        Ok(ZoneReplacement {
            store: self,
            zone: zone.clone(),
            targets: Vec::new(),
            current: None,
            batch: WriteBatch::default(),
            staged: 0,
            done: false,
        })
    }

    /// Removes a dataset of `zone` with all its entries and advances the zone's serial, in one
    /// synced write with `audit` (recorded at 0.0.0.0/0 and ::/0). Returns the new serial, or
    /// `None` when the zone has no such dataset. The operator's dataset cannot be removed (an
    /// empty import empties it).
    pub fn remove_dataset(&self, zone: &DomainName, audit: &AuditRecord, now: u64) -> Result<Option<u32>, StoreError> {
        let dataset = &audit.dataset;
        if dataset.is_operator() {
            return Err(StoreError::OperatorDataset);
        }
        let Some(generation) = self.generation_of(zone, dataset)? else { return Ok(None) };
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_META)?, encoding::dataset_key(zone, dataset));
        let (from, to) = (encoding::list_prefix(zone, generation), encoding::list_end(zone, generation));
        for cf in [CF_LISTINGS, CF_EXCLUSIONS] {
            batch.delete_range_cf(self.cf(cf)?, &from, &to);
        }
        let serial = next_serial(self.serial(zone)?, now);
        batch.put_cf(self.cf(CF_META)?, meta_key("serial/", zone), serial.to_be_bytes());
        for everything in [Prefix::V4 { bits: 0, len: 0 }, Prefix::V6 { bits: 0, len: 0 }] {
            let seq = self.audit_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            batch.put_cf(
                self.cf(CF_AUDIT)?,
                encoding::audit_key(zone, &everything, audit.at_us, seq),
                encoding::encode_audit(audit),
            );
        }
        // Removing frees space, so it runs below `min-free-disk` too (but not after a failed write).
        if let Some(first) = self.failed.get() {
            return Err(StoreError::WriteFailed { path: self.path.clone(), first: first.clone() });
        }
        self.db.write_opt(batch, &synced()).map_err(|e| self.write_err("removing a dataset", e))?;
        Ok(Some(serial))
    }

    /// The first generation of a slot that no dataset of `zone` uses and that is not among
    /// `taken` (generations handed out but not switched to yet).
    fn free_slot(&self, zone: &DomainName, taken: impl IntoIterator<Item = u32>) -> Result<u32, StoreError> {
        let mut used: Vec<u32> = taken.into_iter().collect();
        for d in self.datasets(zone)? {
            used.extend(self.generation_of(zone, &d)?);
        }
        encoding::free_slot(&used).ok_or_else(|| StoreError::TooManyDatasets(zone.clone()))
    }

    /// Deletes a list generation. It frees space, so it runs below `min-free-disk` too; after a
    /// failed write it is left for the next replacement to clear.
    fn drop_generation(&self, zone: &DomainName, generation: u32) -> Result<(), StoreError> {
        if self.failed.get().is_some() {
            return Ok(());
        }
        let (from, to) = (encoding::list_prefix(zone, generation), encoding::list_end(zone, generation));
        for cf in [CF_LISTINGS, CF_EXCLUSIONS] {
            self.db
                .delete_range_cf(self.cf(cf)?, &from, &to)
                .map_err(|e| self.write_err("clearing a list generation", e))?;
        }
        Ok(())
    }

    fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db.cf_handle(name).ok_or_else(|| StoreError::Corrupt {
            cf: name,
            key: String::new(),
            why: DecodeError::Value("column family missing"),
        })
    }

    fn err(&self, context: &'static str, source: rocksdb::Error) -> StoreError {
        StoreError::Db { path: self.path.clone(), context, source }
    }

    fn corrupt(&self, cf: &'static str, key: &[u8], why: DecodeError) -> StoreError {
        StoreError::Corrupt { cf, key: hex(key), why }
    }
}

/// New lists of some of a zone's datasets, each streamed into its next generation and all
/// switched to atomically on commit. Dropped without commit, it removes what it staged; the served
/// lists never change.
pub struct ZoneReplacement<'s> {
    store: &'s Store,
    zone: DomainName,
    targets: Vec<Target>,
    /// The target entries go to.
    current: Option<usize>,
    batch: WriteBatch,
    staged: usize,
    done: bool,
}

/// One dataset being replaced.
#[derive(Debug)]
struct Target {
    dataset: DatasetName,
    old: Option<u32>,
    new: u32,
    listings: u64,
    exclusions: u64,
}

impl std::fmt::Debug for ZoneReplacement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneReplacement").field("zone", &self.zone).field("targets", &self.targets).finish()
    }
}

/// What a committed replacement wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplaceSummary {
    pub listings: u64,
    pub exclusions: u64,
    pub serial: u32,
}

impl ZoneReplacement<'_> {
    /// Sends the entries that follow to `dataset`, which is replaced whole (an empty dataset if
    /// nothing follows). Selecting one again goes on adding to it.
    pub fn select(&mut self, dataset: &DatasetName) -> Result<(), StoreError> {
        if let Some(at) = self.targets.iter().position(|t| &t.dataset == dataset) {
            self.current = Some(at);
            return Ok(());
        }
        let store = self.store;
        let old = store.generation_of(&self.zone, dataset)?;
        let new = match old {
            Some(g) => encoding::next_generation(g),
            // A dataset the zone does not have yet gets a slot of its own.
            None => store.free_slot(&self.zone, self.targets.iter().map(|t| t.new))?,
        };
        // Leftovers of an interrupted replacement live in `new`; start it empty.
        store.drop_generation(&self.zone, new)?;
        self.targets.push(Target { dataset: dataset.clone(), old, new, listings: 0, exclusions: 0 });
        self.current = Some(self.targets.len() - 1);
        Ok(())
    }

    /// The datasets selected so far, with the (listings, exclusions) staged for each.
    pub fn datasets(&self) -> impl Iterator<Item = (&DatasetName, u64, u64)> + '_ {
        self.targets.iter().map(|t| (&t.dataset, t.listings, t.exclusions))
    }

    fn target(&mut self) -> Result<&mut Target, StoreError> {
        let zone = &self.zone;
        self.current.and_then(|at| self.targets.get_mut(at)).ok_or_else(|| StoreError::NoDatasetSelected(zone.clone()))
    }

    /// Adds (or, for a prefix given twice, replaces) a listing of the selected dataset.
    pub fn put_listing(&mut self, prefix: &Prefix, value: &StoredListing) -> Result<(), StoreError> {
        let cf = self.store.cf(CF_LISTINGS)?;
        let new = {
            let target = self.target()?;
            target.listings += 1;
            target.new
        };
        let key = encoding::entry_key(&self.zone, new, prefix);
        self.batch.put_cf(cf, key, encoding::encode_listing(value));
        self.staged_one()
    }

    /// Adds (or replaces) an exclusion of the selected dataset.
    pub fn put_exclusion(&mut self, prefix: &Prefix, value: &StoredExclusion) -> Result<(), StoreError> {
        let cf = self.store.cf(CF_EXCLUSIONS)?;
        let new = {
            let target = self.target()?;
            target.exclusions += 1;
            target.new
        };
        let key = encoding::entry_key(&self.zone, new, prefix);
        self.batch.put_cf(cf, key, encoding::encode_exclusion(value));
        self.staged_one()
    }

    fn staged_one(&mut self) -> Result<(), StoreError> {
        self.staged += 1;
        if self.staged >= STAGING_CHUNK {
            self.write_staged()?;
        }
        Ok(())
    }

    /// Writes staged entries without syncing: the commit's synced write covers them (WAL order).
    fn write_staged(&mut self) -> Result<(), StoreError> {
        self.store.writable()?;
        let batch = std::mem::take(&mut self.batch);
        self.staged = 0;
        self.store.db.write(batch).map_err(|e| self.store.write_err("staging the new list", e))
    }

    /// Switches the datasets to their new lists (WAL synced), advances the zone's serial and
    /// drops the old lists.
    pub fn commit(self, now: u64) -> Result<ReplaceSummary, StoreError> {
        self.commit_audited(now, &[])
    }

    /// Entries staged so far over all datasets: (listings, exclusions).
    pub fn counts(&self) -> (u64, u64) {
        self.targets.iter().fold((0, 0), |(l, x), t| (l + t.listings, x + t.exclusions))
    }

    /// Like [`ZoneReplacement::commit`], recording each of `audit` for 0.0.0.0/0 and ::/0 in the
    /// same write.
    pub fn commit_audited(mut self, now: u64, audit: &[AuditRecord]) -> Result<ReplaceSummary, StoreError> {
        self.write_staged()?;
        let store = self.store;
        let serial = next_serial(store.serial(&self.zone)?, now);
        let meta = store.cf(CF_META)?;
        let mut switch = WriteBatch::default();
        for a in audit {
            for everything in [Prefix::V4 { bits: 0, len: 0 }, Prefix::V6 { bits: 0, len: 0 }] {
                let seq = store.audit_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                switch.put_cf(
                    store.cf(CF_AUDIT)?,
                    encoding::audit_key(&self.zone, &everything, a.at_us, seq),
                    encoding::encode_audit(a),
                );
            }
        }
        let mut dropped = Vec::new();
        for t in &self.targets {
            switch.put_cf(meta, encoding::dataset_key(&self.zone, &t.dataset), encoding::encode_dataset(t.new));
            if let Some(old) = t.old {
                let (from, to) = (encoding::list_prefix(&self.zone, old), encoding::list_end(&self.zone, old));
                for cf in [CF_LISTINGS, CF_EXCLUSIONS] {
                    switch.delete_range_cf(store.cf(cf)?, &from, &to);
                }
                dropped.push((old, t.new));
            } else {
                dropped.push((t.new, t.new));
            }
        }
        switch.put_cf(meta, meta_key("serial/", &self.zone), serial.to_be_bytes());
        store.writable()?;
        store.db.write_opt(switch, &synced()).map_err(|e| store.write_err("switching to the new list", e))?;
        self.done = true;
        // One sorted run without the old generation's tombstones: the next start-up scans it
        // several times faster than the freshly written levels.
        for (old, new) in dropped {
            let (from, to) = (encoding::list_prefix(&self.zone, old), encoding::list_end(&self.zone, new));
            for cf in [CF_LISTINGS, CF_EXCLUSIONS] {
                store.db.compact_range_cf(store.cf(cf)?, Some(&from), Some(&to));
            }
        }
        let (listings, exclusions) = self.counts();
        Ok(ReplaceSummary { listings, exclusions, serial })
    }
}

impl Drop for ZoneReplacement<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Best effort; the next replacement clears these generations anyway.
            for t in &self.targets {
                let _ = self.store.drop_generation(&self.zone, t.new);
            }
        }
    }
}

/// The serial after a change: greater than the old one, and the current time when that is larger
/// (so serials read as timestamps where possible). Wraps per RFC 1982 arithmetic if ever needed.
pub fn next_serial(old: Option<u32>, now: u64) -> u32 {
    let now = u32::try_from(now).unwrap_or(u32::MAX);
    match old {
        None => now.max(1),
        Some(old) => {
            let bumped = old.wrapping_add(1);
            if now > bumped {
                now
            } else {
                bumped
            }
        }
    }
}

pub(crate) fn meta_key(kind: &str, zone: &DomainName) -> Vec<u8> {
    let mut k = kind.as_bytes().to_vec();
    k.extend_from_slice(zone.as_str().as_bytes());
    k
}

pub(crate) fn synced() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

fn open_error(path: &Path, e: rocksdb::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("lock") || text.contains("Resource temporarily unavailable") {
        StoreError::InUse(path.to_path_buf())
    } else {
        StoreError::Db { path: path.to_path_buf(), context: "opening", source: e }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AuditAction, Listing, ListingCode};

    fn zone(name: &str) -> DomainName {
        DomainName::parse(name).expect("name")
    }

    fn listing(reason: &str) -> StoredListing {
        StoredListing {
            listing: Listing::new(vec![ListingCode::OPERATOR], Some(reason.into())).expect("listing"),
            added_at: 1,
            expires_at: None,
        }
    }

    fn entries(store: &Store, z: &DomainName) -> Vec<(Prefix, StoredEntry)> {
        let mut out = Vec::new();
        store.for_each_entry(z, |p, e| out.push((p, e))).expect("scan");
        out
    }

    #[test]
    fn replace_is_atomic_per_zone_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (zone("a.test"), zone("b.test"));
        {
            let store = Store::open(dir.path()).expect("open");
            let mut r = store.replace_zone(&a).expect("replace");
            r.put_listing(&"10.0.0.0/8".parse().expect("p"), &listing("a1")).expect("put");
            r.put_exclusion(&"10.1.0.0/16".parse().expect("p"), &StoredExclusion { reason: None, added_at: 2 })
                .expect("put");
            let s = r.commit(1000).expect("commit");
            assert_eq!((s.listings, s.exclusions, s.serial), (1, 1, 1000));
            let mut r = store.replace_zone(&b).expect("replace");
            r.put_listing(&"2001:db8::/32".parse().expect("p"), &listing("b1")).expect("put");
            r.commit(1000).expect("commit");
            // Uncommitted replacement changes nothing.
            let r = store.replace_zone(&a).expect("replace");
            drop(r);
        }
        let store = Store::open(dir.path()).expect("reopen");
        let got = entries(&store, &a);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], ("10.0.0.0/8".parse().expect("p"), StoredEntry::Listing(listing("a1"))));
        assert_eq!(entries(&store, &b).len(), 1);
        assert_eq!(store.serial(&a).expect("serial"), Some(1000));
        // Replacing a zone drops its old entries only.
        let mut r = store.replace_zone(&a).expect("replace");
        r.put_listing(&"192.0.2.1/32".parse().expect("p"), &listing("a2")).expect("put");
        assert_eq!(r.commit(5).expect("commit").serial, 1001, "serial always grows");
        assert_eq!(entries(&store, &a).len(), 1);
        assert_eq!(entries(&store, &b).len(), 1);
    }

    #[test]
    fn large_replacements_stream_and_abandoned_ones_leave_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let z = zone("a.test");
        let store = Store::open(dir.path()).expect("open");
        let mut r = store.replace_zone(&z).expect("replace");
        r.put_listing(&"192.0.2.1/32".parse().expect("p"), &listing("kept")).expect("put");
        r.commit(10).expect("commit");
        // More than one staging chunk, then abandoned: the served list is untouched.
        let mut r = store.replace_zone(&z).expect("replace");
        for i in 0..(STAGING_CHUNK as u32 + 10) {
            r.put_listing(&Prefix::masked_v4(0x0a00_0000 + i, 32), &listing("staged")).expect("put");
        }
        drop(r);
        assert_eq!(entries(&store, &z).len(), 1);
        // A crash mid-import leaves staged keys in the next generation; the next import clears them.
        let cf = store.cf(CF_LISTINGS).expect("cf");
        let stray = encoding::entry_key(&z, 2, &"10.9.9.9/32".parse().expect("p"));
        store.db.put_cf(cf, &stray, encoding::encode_listing(&listing("stray"))).expect("put");
        let mut r = store.replace_zone(&z).expect("replace");
        for i in 0..(STAGING_CHUNK as u32 + 10) {
            r.put_listing(&Prefix::masked_v4(0x0b00_0000 + i, 32), &listing("new")).expect("put");
        }
        r.commit(11).expect("commit");
        let got = entries(&store, &z);
        assert_eq!(got.len(), STAGING_CHUNK + 10);
        assert!(got.iter().all(|(p, _)| p.to_string().starts_with("11.")), "no stray or old entries");
        // The old generation is gone from disk, not just hidden.
        let old = encoding::entry_key(&z, 1, &"192.0.2.1/32".parse().expect("p"));
        assert_eq!(store.db.get_cf(cf, old).expect("get"), None);
    }

    #[test]
    fn second_open_reports_in_use() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = Store::open(dir.path()).expect("open");
        let second = Store::open(dir.path()).expect_err("locked");
        assert!(matches!(second, StoreError::InUse(_)), "{second}");
    }

    #[test]
    fn newer_schema_and_corrupt_values_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let z = zone("a.test");
        {
            let store = Store::open(dir.path()).expect("open");
            let cf = store.cf(CF_LISTINGS).expect("cf");
            store.db.put_cf(cf, encoding::entry_key(&z, 0, &"10.0.0.0/8".parse().expect("p")), [7u8, 1]).expect("put");
            let mut out = Vec::new();
            let err = store.for_each_entry(&z, |p, _| out.push(p)).expect_err("corrupt");
            assert!(err.to_string().contains("newer than this dnsbl"), "{err}");
            let err = store.for_each_raw(&z, |_, _| Ok(())).expect_err("corrupt");
            assert!(err.to_string().contains("newer than this dnsbl"), "{err}");
            let meta = store.cf(CF_META).expect("cf");
            store.db.put_cf(meta, KEY_SCHEMA, 99u32.to_be_bytes()).expect("put");
        }
        let err = Store::open(dir.path()).expect_err("newer schema");
        assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }), "{err}");
    }

    /// The audit record of a test's listing in `dataset`.
    fn listing_audit(dataset: DatasetName) -> AuditRecord {
        AuditRecord {
            at_us: 1,
            action: AuditAction::AddListing,
            actor: "test".into(),
            source: "test".into(),
            codes: vec![ListingCode::OPERATOR],
            reason: None,
            expires_at: None,
            dataset,
        }
    }

    #[test]
    fn a_checkpoint_opens_as_the_same_database_and_does_not_follow_later_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let z = zone("bl.example.org");
        let p: Prefix = "192.0.2.0/24".parse().expect("prefix");
        let audit = listing_audit(DatasetName::operator());
        store.change_entry(&z, &p, EntryChange::PutListing(&listing("a")), &audit, 1_700_000_000).expect("write");
        let copy = dir.path().join("copy");
        store.checkpoint(&copy).expect("checkpoint");
        assert!(store.checkpoint(&copy).is_err(), "an existing directory is refused");
        store.change_entry(&z, &p, EntryChange::DeleteListing, &audit, 1_700_000_001).expect("delete");
        drop(store);
        let restored = Store::open(&copy).expect("open the copy");
        assert_eq!(entries(&restored, &z).len(), 1, "the copy keeps the state it was taken at");
        assert!(restored.serial(&z).expect("serial").is_some());
    }

    #[test]
    fn serials_grow() {
        assert_eq!(next_serial(None, 1_700_000_000), 1_700_000_000);
        assert_eq!(next_serial(Some(5), 1_700_000_000), 1_700_000_000);
        assert_eq!(next_serial(Some(1_800_000_000), 1_700_000_000), 1_800_000_001);
        assert_eq!(next_serial(Some(u32::MAX), 0), 0);
    }

    #[test]
    fn live_changes_and_replacements_name_their_datasets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let z = zone("bl.example.org");
        let traps = DatasetName::parse("traps").expect("name");
        let p: Prefix = "192.0.2.0/24".parse().expect("prefix");
        let audit = listing_audit(traps.clone());
        assert_eq!(store.change_entry(&z, &p, EntryChange::DeleteListing, &audit, 10).expect("remove"), None);
        assert_eq!(store.datasets(&z).expect("datasets"), [DatasetName::operator()], "a removal creates nothing");
        store.change_entry(&z, &p, EntryChange::PutListing(&listing("trap")), &audit, 10).expect("add");
        assert_eq!(store.datasets(&z).expect("datasets"), [DatasetName::operator(), traps.clone()]);
        assert!(store.listing_at(&z, &traps, &p).expect("read").is_some());
        assert!(store.listing_at(&z, &DatasetName::operator(), &p).expect("read").is_none(), "only in its dataset");
        assert_eq!(store.history(&z, p).expect("history")[0].1.dataset, traps);
        // One replacement of two datasets: both switch, the third is untouched.
        let mut r = store.replace_datasets(&z).expect("replace");
        assert!(matches!(r.put_listing(&p, &listing("x")), Err(StoreError::NoDatasetSelected(_))));
        let feed = DatasetName::parse("feed").expect("name");
        r.select(&DatasetName::operator()).expect("select");
        r.put_listing(&p, &listing("op")).expect("put");
        r.select(&feed).expect("select");
        r.put_exclusion(&p, &StoredExclusion { reason: None, added_at: 1 }).expect("put");
        r.select(&DatasetName::operator()).expect("select again");
        r.put_listing(&"10.0.0.0/8".parse().expect("prefix"), &listing("op")).expect("put");
        let summary = r.commit(20).expect("commit");
        assert_eq!((summary.listings, summary.exclusions), (2, 1));
        assert_eq!(store.datasets(&z).expect("datasets"), [DatasetName::operator(), feed.clone(), traps.clone()]);
        let count = |d: &DatasetName| {
            let mut n = 0;
            store.for_each_entry_of(&z, d, |_, _| n += 1).expect("scan");
            n
        };
        assert_eq!((count(&DatasetName::operator()), count(&feed), count(&traps)), (2, 1, 1));
    }
}
