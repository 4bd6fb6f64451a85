//! Immutable snapshots of everything the DNS path reads, and their lock-free publication.
//!
//! A [`Snapshot`] holds, per served zone, its configuration, SOA serial and two prefix tables
//! (IPv4, IPv6) whose values index a table of interned [`Listing`]s. [`SharedSnapshot`] is the
//! one place that owns `arc-swap`: DNS workers `load()` without locking; publishing replaces the
//! whole snapshot at once, so a query sees either the old list or the new one, never a mix
//! (live updates, which publish, arrive with the operator API).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::ZoneConfig;
use crate::model::{Entry, Listing, Prefix};
use crate::trie::{PrefixTable, ValueId, Verdict};

/// One zone as the DNS path sees it.
#[derive(Debug)]
pub struct ZoneSnapshot {
    pub config: Arc<ZoneConfig>,
    pub serial: u32,
    pub v4: PrefixTable<u32>,
    pub v6: PrefixTable<u128>,
    values: Vec<Listing>,
}

impl ZoneSnapshot {
    /// The listing a table value refers to.
    pub fn value(&self, id: ValueId) -> Option<&Listing> {
        self.values.get(id as usize)
    }

    /// Distinct listing values (codes + reason) in the zone.
    pub fn distinct_values(&self) -> usize {
        self.values.len()
    }
}

/// Collects a zone's entries, interning identical values, then builds its tables.
#[derive(Debug)]
pub struct ZoneBuilder {
    config: Arc<ZoneConfig>,
    serial: u32,
    v4: Vec<(u32, u8, Verdict)>,
    v6: Vec<(u128, u8, Verdict)>,
    values: Vec<Listing>,
    interned: HashMap<Listing, ValueId>,
}

impl ZoneBuilder {
    pub fn new(config: Arc<ZoneConfig>, serial: u32) -> ZoneBuilder {
        ZoneBuilder { config, serial, v4: Vec::new(), v6: Vec::new(), values: Vec::new(), interned: HashMap::new() }
    }

    /// Adds one entry.
    pub fn add(&mut self, prefix: Prefix, entry: Entry) {
        let verdict = match entry {
            Entry::Excluded => Verdict::Excluded,
            Entry::Listed(listing) => Verdict::Listed(self.intern(listing)),
        };
        match prefix {
            Prefix::V4 { bits, len } => self.v4.push((bits, len, verdict)),
            Prefix::V6 { bits, len } => self.v6.push((bits, len, verdict)),
        }
    }

    fn intern(&mut self, listing: Listing) -> ValueId {
        if let Some(&id) = self.interned.get(&listing) {
            return id;
        }
        let id = self.values.len() as ValueId;
        self.values.push(listing.clone());
        self.interned.insert(listing, id);
        id
    }

    /// Entries added so far.
    pub fn entries(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn build(self) -> ZoneSnapshot {
        ZoneSnapshot {
            config: self.config,
            serial: self.serial,
            v4: PrefixTable::build(self.v4),
            v6: PrefixTable::build(self.v6),
            values: self.values,
        }
    }
}

/// Everything served, at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub zones: Vec<ZoneSnapshot>,
}

/// The current snapshot, shared by all DNS workers.
#[derive(Debug)]
pub struct SharedSnapshot(ArcSwap<Snapshot>);

impl SharedSnapshot {
    pub fn new(first: Snapshot) -> SharedSnapshot {
        SharedSnapshot(ArcSwap::from_pointee(first))
    }

    /// The current snapshot (lock-free).
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.0.load()
    }
}
