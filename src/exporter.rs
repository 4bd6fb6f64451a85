//! `dnsbl zone export`: a zone as an rbldnsd data file or a BIND master file.
//!
//! rbldnsd, the list (default): one `combined` dataset (`$DATASET ip4trie @` and `$DATASET
//! ip6trie @`) with `$SOA`, `$NS`, `$TTL`, a default line carrying the zone's TXT template,
//! `prefix :code:reason` lines and `!prefix` exclusions, exactly as stored; rbldnsd loads it as
//! `ZONE:combined:FILE`, and `dnsbl zone import` reads it back to the same list. Marketer
//! declarations and protections are not in it (they live in the registry).
//!
//! rbldnsd, served ([`rbldnsd_served`]): what the DNS answers, for mirrors: every listed range
//! after the registry is applied, split into CIDR blocks with its code and text, plus the RFC 5782
//! test points. It is not meant to be imported back (it would turn declarations into operator
//! listings).
//!
//! BIND: what the DNS answers, as names and wildcards a stock name server (NSD, Knot, BIND)
//! answers alike ([`crate::zoneform`]: ranges on label boundaries as wildcards, the copies the
//! closest-encloser rule needs, placeholders where an unlisted hole must stop a wildcard),
//! IPv4-mapped IPv6 names answering as IPv4, refused above a name limit. In a wildcard's TXT,
//! `$` becomes the wildcard's network (`45.67.8.0/24`): one record answers for all of it.
//! Expired entries are left out of all three.
//!
//! Mirrors ([`mirror`]): the served rbldnsd form written periodically by the running server
//! (`[[zone]] mirror-export`), with `$TIMESTAMP`, replaced whole, for rsync.

use std::io::{self, Write};

use std::sync::Arc;

use crate::config::{Config, ZoneConfig};
use crate::model::{range_blocks, Listing, Prefix};
use crate::name::DatasetName;
use crate::publisher::load::build_zone;
use crate::query::{TEST_LISTED_V4, TEST_UNLISTED_V4};
use crate::registry::Registry;
use crate::served;
use crate::snapshot::ZoneSnapshot;
use crate::store::{Store, StoreError, StoredEntry};

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Write(#[from] io::Error),
    #[error("the BIND form needs more than --max-records {limit} names; export --format rbldnsd instead, or raise the limit")]
    TooLarge { limit: u64 },
}

/// The zone as a server started on `store` now would serve it (the operator's list with the
/// registry's declarations and protections applied), read without writing anything, so it works
/// on a read-only store while the server runs.
pub fn served_zone(store: &Store, config: &Config, zone: &ZoneConfig, now: u64) -> Result<ZoneSnapshot, StoreError> {
    let registry = Registry::from_accounts(store.load_registry()?);
    let entries = registry.entries(&config.registry.policy);
    let serial = store.serial(&zone.origin)?.unwrap_or(0);
    build_zone(store, Arc::new(zone.clone()), serial, now, config.registry.entries_for(&entries, &zone.origin))
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub lines: u64,
    /// Entries with several codes, of which only the lowest fits an rbldnsd line.
    pub codes_dropped: u64,
}

/// The `$SOA`, `$NS` and `$TTL` lines of an rbldnsd export, after a comment naming what it is.
fn rbldnsd_head(zone: &ZoneConfig, serial: u32, what: &str, out: &mut impl Write) -> io::Result<()> {
    let soa = &zone.soa;
    writeln!(
        out,
        "# dnsbl export of zone {} ({what}), serial {serial}; load with rbldnsd as {}:combined:FILE",
        zone.origin, zone.origin
    )?;
    writeln!(
        out,
        "$SOA {} {} {} {serial} {} {} {} {}",
        soa.ttl, soa.mname, soa.rname, soa.refresh, soa.retry, soa.expire, soa.minimum
    )?;
    if let Some(first) = zone.ns.first() {
        let names: Vec<&str> = zone.ns.iter().map(|n| n.name.as_str()).collect();
        writeln!(out, "$NS {} {}", first.ttl, names.join(" "))?;
    }
    writeln!(out, "$TTL {}", zone.ttl)
}

/// The `$DATASET` line of one family of one dataset: the operator's sections are unnamed (so
/// they import back into whatever dataset an import names), the others carry their name.
fn dataset_line(kind: &str, dataset: &DatasetName, out: &mut impl Write) -> io::Result<()> {
    if dataset.is_operator() {
        writeln!(out, "$DATASET {kind} @")
    } else {
        writeln!(out, "$DATASET {kind}:{dataset} @")
    }
}

/// Writes the zone's datasets in rbldnsd `combined` format, two sections (IPv4, IPv6) each.
pub fn rbldnsd(store: &Store, zone: &ZoneConfig, now: u64, out: &mut impl Write) -> Result<ExportReport, ExportError> {
    let serial = store.serial(&zone.origin)?.unwrap_or(0);
    rbldnsd_head(zone, serial, "its datasets", out)?;
    let mut report = ExportReport::default();
    for dataset in store.datasets(&zone.origin)? {
        // The store yields IPv4 keys before IPv6 ones; IPv6 lines wait for their section (IPv6
        // lists are the small part; IPv4 lines stream straight out).
        let mut v6_lines: Vec<String> = Vec::new();
        dataset_line("ip4trie", &dataset, out)?;
        writeln!(out, ":127.0.0.3:{}", zone.txt_template)?;
        let mut write_err: Option<io::Error> = None;
        store.for_each_entry_of(&zone.origin, &dataset, |prefix, entry| {
            if matches!(&entry, StoredEntry::Listing(l) if l.expired(now)) {
                return;
            }
            let line = entry_line(prefix, &entry, &mut report);
            match prefix {
                Prefix::V4 { .. } => {
                    if let Err(e) = writeln!(out, "{line}") {
                        write_err.get_or_insert(e);
                    }
                }
                Prefix::V6 { .. } => v6_lines.push(line),
            }
            report.lines += 1;
        })?;
        if let Some(e) = write_err {
            return Err(e.into());
        }
        dataset_line("ip6trie", &dataset, out)?;
        writeln!(out, ":127.0.0.3:{}", zone.txt_template)?;
        for line in v6_lines {
            writeln!(out, "{line}")?;
        }
    }
    Ok(report)
}

/// Writes what `zone` (built by [`served_zone`]) answers, in rbldnsd `combined` format: each
/// dataset's listed ranges as disjoint CIDR blocks in sections of its own (rbldnsd unites them as
/// the DNS does), and the RFC 5782 test points.
pub fn rbldnsd_served(zone: &ZoneSnapshot, out: &mut impl Write) -> Result<ExportReport, ExportError> {
    let config = &zone.config;
    rbldnsd_head(config, zone.serial, "what the DNS serves", out)?;
    let mut report = ExportReport::default();
    let mut line = |out: &mut dyn Write, block: Prefix, listing: &Listing| -> io::Result<()> {
        report.lines += 1;
        writeln!(out, "{}", listing_line(block, listing, &mut report))
    };
    for dataset in zone.datasets() {
        dataset_line("ip4trie", &dataset.name, out)?;
        writeln!(out, ":127.0.0.3:{}", config.txt_template)?;
        // The test points answer the same whatever the lists say (a listed 127.0.0.0/8
        // included): the operator's section lists 127.0.0.2, every other section excludes it.
        if dataset.name.is_operator() {
            line(out, Prefix::V4 { bits: TEST_LISTED_V4, len: 32 }, crate::query::test_listing())?;
        } else {
            writeln!(out, "!{}", Prefix::V4 { bits: TEST_LISTED_V4, len: 32 })?;
        }
        writeln!(out, "!{}", Prefix::V4 { bits: TEST_UNLISTED_V4, len: 32 })?;
        for (first, last, id) in dataset.v4.base().listed_ranges() {
            let Some(listing) = dataset.value(id) else { continue };
            for (bits, len) in range_blocks(u128::from(first), u128::from(last), 32) {
                if bits != u128::from(TEST_LISTED_V4) || len != 32 {
                    line(out, Prefix::V4 { bits: bits as u32, len }, listing)?;
                }
            }
        }
        dataset_line("ip6trie", &dataset.name, out)?;
        writeln!(out, ":127.0.0.3:{}", config.txt_template)?;
        for (first, last, id) in dataset.v6.base().listed_ranges() {
            let Some(listing) = dataset.value(id) else { continue };
            for (bits, len) in range_blocks(first, last, 128) {
                line(out, Prefix::V6 { bits, len }, listing)?;
            }
        }
    }
    Ok(report)
}

/// Writes what `zone` serves to `path` for rsync mirrors (`[[zone]] mirror-export`): a
/// `$TIMESTAMP` line (written `now`, expiring `expires` seconds later: a mirror's rbldnsd stops
/// answering from a file the primary stopped renewing), then the served form of
/// [`rbldnsd_served`], whose lines keep one order (dataset, then address) from one export to the
/// next so rsync sends small deltas. It goes to a temporary file beside `path`, is synced, and
/// is renamed over `path`: a mirror fetching it sees the old file or the new one, never half.
pub fn mirror(
    zone: &ZoneSnapshot,
    path: &std::path::Path,
    now: u64,
    expires: u64,
) -> Result<ExportReport, ExportError> {
    let zone = zone.merged();
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".writing");
    let temporary = path.with_file_name(name);
    let file = std::fs::File::create(&temporary)?;
    let mut out = io::BufWriter::new(file);
    writeln!(out, "$TIMESTAMP {} {}", rbldnsd_time(now), rbldnsd_time(now.saturating_add(expires)))?;
    let report = rbldnsd_served(&zone, &mut out)?;
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    Ok(report)
}

/// Unix seconds as rbldnsd's `$TIMESTAMP` wants them: `yyyy:mm:dd:hh:mi:ss`, UTC.
fn rbldnsd_time(unix: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
    // RFC 3339 `2026-12-01T18:00:00Z` → `2026:12:01:18:00:00`.
    humantime::format_rfc3339_seconds(at).to_string().trim_end_matches('Z').replace(['-', 'T'], ":")
}

fn entry_line(prefix: Prefix, entry: &StoredEntry, report: &mut ExportReport) -> String {
    match entry {
        StoredEntry::Exclusion(_) => format!("!{prefix}"),
        StoredEntry::Listing(l) => listing_line(prefix, &l.listing, report),
    }
}

/// `prefix :code:reason` (or `prefix :code` for the default text). An rbldnsd line holds one code:
/// the lowest is written and entries with more are counted.
fn listing_line(prefix: Prefix, listing: &Listing, report: &mut ExportReport) -> String {
    let codes = listing.codes();
    if codes.len() > 1 {
        report.codes_dropped += 1;
    }
    match listing.reason() {
        Some(reason) => format!("{prefix} :{}:{reason}", codes[0]),
        None => format!("{prefix} :{}", codes[0]),
    }
}

/// Writes what `built` (from [`served_zone`]) answers as a BIND master file in the record form
/// of [`crate::zoneform`]; refuses above `limit` names.
pub fn bind(built: &ZoneSnapshot, limit: u64, out: &mut impl Write) -> Result<ExportReport, ExportError> {
    let (zone, serial) = (&*built.config, built.serial);
    let limit_names = usize::try_from(limit).unwrap_or(usize::MAX);
    let served = served::records_of(built, limit_names).map_err(|_| ExportError::TooLarge { limit })?;
    let soa = &zone.soa;
    writeln!(out, "; dnsbl export of zone {}, serial {serial}", zone.origin)?;
    writeln!(out, "$ORIGIN {}.", zone.origin)?;
    writeln!(out, "$TTL {}", zone.ttl)?;
    writeln!(
        out,
        "@ {} IN SOA {}. {}. {serial} {} {} {} {}",
        soa.ttl, soa.mname, soa.rname, soa.refresh, soa.retry, soa.expire, soa.minimum
    )?;
    for ns in &zone.ns {
        writeln!(out, "@ {} IN NS {}.", ns.ttl, ns.name)?;
        for ip in &ns.addresses {
            let rtype = if ip.is_ipv4() { "A" } else { "AAAA" };
            writeln!(out, "{}. {} IN {rtype} {ip}", ns.name, ns.ttl)?;
        }
    }
    let mut report = ExportReport::default();
    for r in &served.records {
        let owner = r.owner();
        for data in served.data(r) {
            match data {
                served::Data::Placeholder => writeln!(out, "{owner} IN TYPE65280 \\# 1 00")?,
                served::Data::A(code) => writeln!(out, "{owner} IN A {code}")?,
                served::Data::Txt(txt) => {
                    writeln!(out, "{owner} IN TXT \"{}\"", txt.replace('\\', "\\\\").replace('"', "\\\""))?
                }
            }
            report.lines += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbldnsd_timestamps_are_utc_fields_joined_by_colons() {
        assert_eq!(rbldnsd_time(0), "1970:01:01:00:00:00");
        assert_eq!(rbldnsd_time(1_796_148_712), "2026:12:01:18:11:52");
    }
}
