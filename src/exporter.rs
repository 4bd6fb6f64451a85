//! `dnsbl zone export`: a zone's current list as an rbldnsd data file or a BIND master file.
//!
//! rbldnsd: one `combined` dataset (`$DATASET ip4trie @` and `$DATASET ip6trie @`) with `$SOA`,
//! `$NS`, `$TTL`, a default line carrying the zone's TXT template, `prefix :code:reason` lines and
//! `!prefix` exclusions; rbldnsd loads it as `ZONE:combined:FILE`, and `dnsbl zone import` reads it
//! back to the same list. BIND: every listed address written out as A and TXT records (ranges
//! expanded), refused above a record limit. Expired entries are left out of both.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::config::ZoneConfig;
use crate::model::{expand_txt, Entry, Listing, Prefix};
use crate::query::TEST_LISTED_V4;
use crate::snapshot::ZoneBuilder;
use crate::store::{Store, StoreError, StoredEntry};

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Write(#[from] io::Error),
    #[error("the BIND expansion would write {names} names (more than --max-records {limit}); export --format rbldnsd instead, or raise the limit")]
    TooLarge { names: u128, limit: u64 },
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub lines: u64,
    /// Entries with several codes, of which only the lowest fits an rbldnsd line.
    pub codes_dropped: u64,
}

/// Writes the zone's list in rbldnsd `combined` format.
pub fn rbldnsd(store: &Store, zone: &ZoneConfig, now: u64, out: &mut impl Write) -> Result<ExportReport, ExportError> {
    let serial = store.serial(&zone.origin)?.unwrap_or(0);
    let soa = &zone.soa;
    writeln!(
        out,
        "# dnsbl export of zone {}, serial {serial}; load with rbldnsd as {}:combined:FILE",
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
    writeln!(out, "$TTL {}", zone.ttl)?;
    let mut report = ExportReport::default();
    // The store yields IPv4 keys before IPv6 ones; IPv6 lines wait for their section (IPv6 lists
    // are the small part; IPv4 lines stream straight out).
    let mut v6_lines: Vec<String> = Vec::new();
    writeln!(out, "$DATASET ip4trie @")?;
    writeln!(out, ":127.0.0.3:{}", zone.txt_template)?;
    let mut write_err: Option<io::Error> = None;
    store.for_each_entry(&zone.origin, |prefix, entry| {
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
    writeln!(out, "$DATASET ip6trie @")?;
    writeln!(out, ":127.0.0.3:{}", zone.txt_template)?;
    for line in v6_lines {
        writeln!(out, "{line}")?;
    }
    Ok(report)
}

fn entry_line(prefix: Prefix, entry: &StoredEntry, report: &mut ExportReport) -> String {
    match entry {
        StoredEntry::Exclusion(_) => format!("!{prefix}"),
        StoredEntry::Listing(l) => {
            let codes = l.listing.codes();
            if codes.len() > 1 {
                report.codes_dropped += 1;
            }
            match l.listing.reason() {
                Some(reason) => format!("{prefix} :{}:{reason}", codes[0]),
                None => format!("{prefix} :{}", codes[0]),
            }
        }
    }
}

/// Writes the zone as a BIND master file, every listed address expanded; refuses above `limit`
/// names.
pub fn bind(
    store: &Store,
    zone: &ZoneConfig,
    now: u64,
    limit: u64,
    out: &mut impl Write,
) -> Result<ExportReport, ExportError> {
    let serial = store.serial(&zone.origin)?.unwrap_or(0);
    let mut builder = ZoneBuilder::new(Arc::new(zone.clone()), serial);
    store.for_each_entry(&zone.origin, |prefix, entry| match entry {
        StoredEntry::Listing(l) if l.expired(now) => {}
        StoredEntry::Listing(l) => builder.add(prefix, Entry::Listed(l.listing)),
        StoredEntry::Exclusion(_) => builder.add(prefix, Entry::Excluded),
    })?;
    let built = builder.build();
    let names: u128 = built.v4.base().listed_ranges().map(|(a, b, _)| u128::from(b - a) + 1).sum::<u128>()
        + built.v6.base().listed_ranges().map(|(a, b, _)| (b - a).saturating_add(1)).sum::<u128>();
    if names > u128::from(limit) {
        return Err(ExportError::TooLarge { names, limit });
    }
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
    write_host(
        out,
        IpAddr::V4(Ipv4Addr::from(TEST_LISTED_V4)),
        crate::query::test_listing(),
        &zone.txt_template,
        &mut report,
    )?;
    for (first, last, id) in built.v4.base().listed_ranges() {
        let Some(listing) = built.value(id) else { continue };
        for a in first..=last {
            if a != TEST_LISTED_V4 && a != crate::query::TEST_UNLISTED_V4 {
                write_host(out, IpAddr::V4(Ipv4Addr::from(a)), listing, &zone.txt_template, &mut report)?;
            }
        }
    }
    for (first, last, id) in built.v6.base().listed_ranges() {
        let Some(listing) = built.value(id) else { continue };
        let mut a = first;
        loop {
            write_host(out, IpAddr::V6(Ipv6Addr::from(a)), listing, &zone.txt_template, &mut report)?;
            if a == last {
                break;
            }
            a += 1;
        }
    }
    Ok(report)
}

fn write_host(
    out: &mut impl Write,
    ip: IpAddr,
    listing: &Listing,
    template: &str,
    report: &mut ExportReport,
) -> io::Result<()> {
    let owner = match ip {
        IpAddr::V4(v4) => v4.octets().iter().rev().map(u8::to_string).collect::<Vec<_>>().join("."),
        IpAddr::V6(v6) => {
            (0..32).map(|i| format!("{:x}", (u128::from(v6) >> (4 * i)) & 0xf)).collect::<Vec<_>>().join(".")
        }
    };
    for code in listing.codes() {
        writeln!(out, "{owner} IN A {code}")?;
        report.lines += 1;
    }
    let txt = expand_txt(listing.reason().unwrap_or(template), ip);
    writeln!(out, "{owner} IN TXT \"{}\"", txt.replace('\\', "\\\\").replace('"', "\\\""))?;
    report.lines += 1;
    Ok(())
}
