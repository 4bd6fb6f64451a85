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
    /// Encoded answers already seen (see [`ZoneBuilder::add_encoded`]), and the last one.
    by_bytes: HashMap<Box<[u8]>, ValueId>,
    last: Option<(Vec<u8>, ValueId)>,
}

impl ZoneBuilder {
    pub fn new(config: Arc<ZoneConfig>, serial: u32) -> ZoneBuilder {
        ZoneBuilder {
            config,
            serial,
            v4: Vec::new(),
            v6: Vec::new(),
            values: Vec::new(),
            interned: HashMap::new(),
            by_bytes: HashMap::new(),
            last: None,
        }
    }

    /// Adds one entry.
    pub fn add(&mut self, prefix: Prefix, entry: Entry) {
        let verdict = match entry {
            Entry::Excluded => Verdict::Excluded,
            Entry::Listed(listing) => Verdict::Listed(self.intern(listing)),
        };
        self.push(prefix, verdict);
    }

    /// Adds a listing given by its encoded answer; `decode` runs only for an encoding not seen
    /// before (big lists share a few answers, so most entries skip decoding and allocation).
    pub fn add_encoded<E>(
        &mut self,
        prefix: Prefix,
        encoded: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<Listing, E>,
    ) -> Result<(), E> {
        let id = match &self.last {
            Some((bytes, id)) if bytes.as_slice() == encoded => *id,
            _ => {
                let id = match self.by_bytes.get(encoded) {
                    Some(&id) => id,
                    None => {
                        let id = self.intern(decode(encoded)?);
                        self.by_bytes.insert(encoded.into(), id);
                        id
                    }
                };
                let mut bytes = self.last.take().map(|(b, _)| b).unwrap_or_default();
                bytes.clear();
                bytes.extend_from_slice(encoded);
                self.last = Some((bytes, id));
                id
            }
        };
        self.push(prefix, Verdict::Listed(id));
        Ok(())
    }

    fn push(&mut self, prefix: Prefix, verdict: Verdict) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::ListingCode;

    #[test]
    fn encoded_answers_are_decoded_once_each() {
        let config = Config::embedded_default().expect("config");
        let mut b = ZoneBuilder::new(Arc::new(config.zones[0].clone()), 1);
        let mut decodes = 0;
        for i in 0..100u32 {
            let encoded: &[u8] = if i % 3 == 0 { b"first" } else { b"second" };
            b.add_encoded(Prefix::masked_v4(i, 32), encoded, |bytes| {
                decodes += 1;
                Listing::new(vec![ListingCode::OPERATOR], Some(String::from_utf8_lossy(bytes).into_owned()))
            })
            .expect("valid");
        }
        assert_eq!(decodes, 2);
        let failed = b.add_encoded(Prefix::masked_v4(200, 32), b"bad", |_| Err("corrupt"));
        assert_eq!(failed, Err("corrupt"));
        let zone = b.build();
        assert_eq!(zone.distinct_values(), 2);
        let id = zone.v4.lookup(3).expect("listed");
        assert_eq!(zone.value(id).and_then(Listing::reason), Some("first"));
        assert_eq!(zone.v4.lookup(200), None, "a failed entry is not added");
    }
}
