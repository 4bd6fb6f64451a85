//! One live change on the writer: the audit record, one synced write with the new serial, the
//! affected range recomputed from the store (stored entries merged with the registry's), and the
//! new snapshot published. Expiry removes due listings the same way.

use std::collections::HashMap;
use std::sync::Arc;

use super::merge::{registry_affecting, RegistryMerge};
use super::{writable_zone, Change, ChangeError, Origin, Publisher};
use crate::clock::unix_now_us;
use crate::model::AuditAction;
use crate::model::{Entry, Listing, Prefix};
use crate::name::{DatasetName, DomainName};
use crate::query::is_test_point;
use crate::snapshot::{Dataset, Snapshot, ZoneSnapshot};
use crate::store::encoding::{decode_answer, DecodeError, ListingHead};
use crate::store::{AuditRecord, EntryChange, Store, StoreError, StoredExclusion, StoredListing};
use crate::trie::{Addr, Patch, ValueId, Verdict};

impl Publisher {
    /// Writes one change to a dataset of `zone` durably (an addition to a dataset the zone does
    /// not have creates it), then publishes it; returns the zone's new serial.
    pub fn apply(
        &mut self,
        zone: &DomainName,
        dataset: &DatasetName,
        change: Change,
        origin: Origin<'_>,
        now: u64,
    ) -> Result<u32, ChangeError> {
        let current = self.shared.load_full();
        let at = writable_zone(&current, zone)?;
        let prefix = change.prefix();
        if is_test_point(prefix) {
            return Err(ChangeError::TestPoint(prefix));
        }
        let serial = self.write(zone, dataset, &change, origin, now)?.ok_or(ChangeError::NotFound(prefix))?;
        if let Change::AddListing { expires_at: Some(t), .. } = change {
            self.expiries.insert((t, zone.clone(), dataset.clone(), prefix));
        }
        let current = self.install_folds(current);
        let next_zone = self.patched(&current.zones[at], dataset, serial, prefix, now)?;
        let next_zone = self.fold_if_due(next_zone);
        let mut next = Snapshot::clone(&current);
        next.zones[at] = Arc::new(next_zone);
        self.shared.publish(next);
        Ok(serial)
    }

    /// Removes a dataset (not the operator's) from `zone` with all its entries, durably, then
    /// publishes the zone without it; returns the zone's new serial.
    pub fn remove_dataset(
        &mut self,
        zone: &DomainName,
        dataset: &DatasetName,
        origin: Origin<'_>,
        now: u64,
    ) -> Result<u32, ChangeError> {
        let current = self.install_folds(self.shared.load_full());
        let at = writable_zone(&current, zone)?;
        let audit = audit_record(AuditAction::RemoveDataset, origin, dataset);
        let serial =
            self.store.remove_dataset(zone, &audit, now)?.ok_or_else(|| ChangeError::NoDataset(dataset.clone()))?;
        self.interned.remove(&(zone.clone(), dataset.clone()));
        self.expiries.retain(|(_, z, d, _)| !(z == zone && d == dataset));
        let mut next = Snapshot::clone(&current);
        next.zones[at] = Arc::new(current.zones[at].without(serial, dataset));
        self.shared.publish(next);
        Ok(serial)
    }

    /// Removes every listing whose expiry time is at or before `now`; returns what it removed.
    /// Also installs finished folds (this runs every expiry tick).
    pub fn expire_due(&mut self, now: u64) -> Result<Vec<(DomainName, DatasetName, Prefix)>, ChangeError> {
        self.install_folds(self.shared.load_full());
        let mut removed = Vec::new();
        while let Some((at, zone, dataset, prefix)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            // Only if the listing there is still the one that expires now.
            if self.store.listing_at(&zone, &dataset, &prefix)?.is_some_and(|l| l.expires_at == Some(at)) {
                // A policy's listing ends in the policy's name (`policy NAME`, through `expiry`).
                let policy = match dataset == self.evidence_config.dataset {
                    true => self.listed_by_policy(&zone, &dataset, prefix)?,
                    false => None,
                };
                let origin = match &policy {
                    Some(actor) => Origin { actor, source: Origin::EXPIRY.source },
                    None => Origin::EXPIRY,
                };
                match self.apply(&zone, &dataset, Change::RemoveListing { prefix }, origin, now) {
                    Ok(_) | Err(ChangeError::NotFound(_)) => removed.push((zone, dataset, prefix)),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// The policy actor (`policy NAME`) of the last listing of `prefix` in `dataset`, if a
    /// policy made it.
    fn listed_by_policy(
        &self,
        zone: &DomainName,
        dataset: &DatasetName,
        prefix: Prefix,
    ) -> Result<Option<String>, StoreError> {
        let history = self.store.history(zone, prefix)?;
        let last = history
            .into_iter()
            .rfind(|(p, r)| *p == prefix && &r.dataset == dataset && r.action == AuditAction::AddListing);
        Ok(last.map(|(_, r)| r.actor).filter(|a| a.starts_with("policy ")))
    }

    fn write(
        &self,
        zone: &DomainName,
        dataset: &DatasetName,
        change: &Change,
        origin: Origin<'_>,
        now: u64,
    ) -> Result<Option<u32>, StoreError> {
        let prefix = change.prefix();
        let mut audit = audit_record(AuditAction::RemoveListing, origin, dataset);
        match change {
            Change::AddListing { listing, expires_at, .. } => {
                audit.action = AuditAction::AddListing;
                audit.codes = listing.codes().to_vec();
                audit.reason = listing.reason().map(str::to_string);
                audit.expires_at = *expires_at;
                let value = StoredListing { listing: listing.clone(), added_at: now, expires_at: *expires_at };
                self.store.change_entry(zone, &prefix, EntryChange::PutListing(&value), &audit, now)
            }
            Change::AddExclusion { reason, .. } => {
                audit.action = AuditAction::AddExclusion;
                audit.reason = reason.clone();
                let value = StoredExclusion { reason: reason.clone(), added_at: now };
                self.store.change_entry(zone, &prefix, EntryChange::PutExclusion(&value), &audit, now)
            }
            Change::RemoveListing { .. } => {
                if origin.source == Origin::EXPIRY.source {
                    audit.action = AuditAction::Expired;
                }
                self.store.change_entry(zone, &prefix, EntryChange::DeleteListing, &audit, now)
            }
            Change::RemoveExclusion { .. } => {
                audit.action = AuditAction::RemoveExclusion;
                self.store.change_entry(zone, &prefix, EntryChange::DeleteExclusion, &audit, now)
            }
        }
    }

    /// The zone after a change at `prefix` in one dataset: the affected range of that dataset
    /// recomputed from the store (with the registry's entries for the operator's).
    pub(super) fn patched(
        &mut self,
        zone: &ZoneSnapshot,
        dataset: &DatasetName,
        serial: u32,
        prefix: Prefix,
        now: u64,
    ) -> Result<ZoneSnapshot, StoreError> {
        let origin = &zone.config.origin;
        let extra = match dataset.is_operator() {
            true => self.registry_config.entries_for(&self.registry_entries, origin),
            false => &[],
        };
        let empty = Dataset::empty(dataset.clone());
        let tables = zone.dataset(dataset).unwrap_or(&empty);
        let index = self.interned.entry((origin.clone(), dataset.clone())).or_default();
        let mut values = ValueSink { index, first_new: tables.distinct_values(), added: Vec::new() };
        let store = &self.store;
        Ok(match prefix {
            Prefix::V4 { bits, len } => {
                let (first, last) = tables.v4.patch_range(bits, bits.last_in(len));
                let range = Prefix::masked_v4(first, 32 - (last - first).count_ones() as u8);
                let entries = affecting(store, origin, dataset, range, now, extra, &mut values, |p| match p {
                    Prefix::V4 { bits, len } => Some((bits, len)),
                    Prefix::V6 { .. } => None,
                })?;
                let patch = Patch::build(first, last, entries);
                zone.changed(serial, dataset, Some(patch), None, values.added)
            }
            Prefix::V6 { bits, len } => {
                let (first, last) = tables.v6.patch_range(bits, bits.last_in(len));
                let range = Prefix::V6 { bits: first, len: 128 - (last - first).count_ones() as u8 };
                let entries = affecting(store, origin, dataset, range, now, extra, &mut values, |p| match p {
                    Prefix::V6 { bits, len } => Some((bits, len)),
                    Prefix::V4 { .. } => None,
                })?;
                let patch = Patch::build(first, last, entries);
                zone.changed(serial, dataset, None, Some(patch), values.added)
            }
        })
    }
}

/// An audit record of `action` on `dataset` by `origin`, now, with no values yet.
fn audit_record(action: AuditAction, origin: Origin<'_>, dataset: &DatasetName) -> AuditRecord {
    AuditRecord {
        at_us: unix_now_us(),
        action,
        actor: origin.actor.to_string(),
        source: origin.source.to_string(),
        codes: Vec::new(),
        reason: None,
        expires_at: None,
        dataset: dataset.clone(),
    }
}

/// Interns listings met while recomputing a range; new ones are appended to the zone's values.
pub(super) struct ValueSink<'a> {
    pub(super) index: &'a mut HashMap<Listing, ValueId>,
    /// The id the first new listing gets (the dataset's values so far).
    pub(super) first_new: usize,
    pub(super) added: Vec<Listing>,
}

impl ValueSink<'_> {
    /// The table verdict of an entry, its listing interned.
    pub(super) fn verdict(&mut self, entry: Entry) -> Verdict {
        match entry {
            Entry::Listed(l) => Verdict::Listed(self.id(l)),
            Entry::Excluded => Verdict::Excluded,
        }
    }

    fn id(&mut self, listing: Listing) -> ValueId {
        if let Some(&id) = self.index.get(&listing) {
            return id;
        }
        let id = (self.first_new + self.added.len()) as ValueId;
        self.added.push(listing.clone());
        self.index.insert(listing, id);
        id
    }
}

/// The entries inside or covering `range`, as table entries of one address family: the stored
/// ones merged with the registry's (`registry`, sorted by prefix).
#[allow(clippy::too_many_arguments)]
fn affecting<A: Addr>(
    store: &Store,
    zone: &DomainName,
    dataset: &DatasetName,
    range: Prefix,
    now: u64,
    registry: &[(Prefix, Entry)],
    values: &mut ValueSink<'_>,
    family: impl Fn(Prefix) -> Option<(A, u8)>,
) -> Result<Vec<(A, u8, Verdict)>, StoreError> {
    let registry = registry_affecting(registry, range);
    let mut merge = RegistryMerge::new(&registry);
    let mut out = Vec::new();
    store.for_each_affecting(
        zone,
        dataset,
        range,
        |prefix, head: Option<ListingHead<'_>>| -> Result<(), DecodeError> {
            let Some((bits, len)) = family(prefix) else { return Ok(()) };
            match head {
                Some(h) if h.expired(now) => {}
                Some(h) if merge.hit(prefix) => merge.met.push((prefix, Entry::Listed(decode_answer(h.answer)?))),
                None if merge.hit(prefix) => merge.met.push((prefix, Entry::Excluded)),
                Some(h) => out.push((bits, len, Verdict::Listed(values.id(decode_answer(h.answer)?)))),
                None => out.push((bits, len, Verdict::Excluded)),
            }
            Ok(())
        },
    )?;
    for (prefix, entry) in merge.finish() {
        let Some((bits, len)) = family(prefix) else { continue };
        out.push((bits, len, values.verdict(entry)));
    }
    Ok(out)
}
