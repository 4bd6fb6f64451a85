//! The change history of zone transfers: per zone, the snapshot the newest transfer is built
//! from and the record differences between the serials before it, for incremental transfers
//! (IXFR, RFC 1995).
//!
//! A zone's journal catches up with the served snapshot when a transfer is asked for and when
//! a NOTIFY is about to go out ([`Journal::catch_up`]): the difference between the last serial
//! it holds and the served one is computed from the two snapshots' record forms
//! ([`crate::served::diff`]): the answer ranges of both serials are read whole (about 0.45 s
//! each at 1.22M entries), then the walk through the record form enters only the blocks whose
//! answers changed. Several
//! serials the journal never saw (changes made between two catch-ups) become one step. The
//! history is bounded by [`JOURNAL_MAX_RECORDS`]; a serial older than it holds, a difference
//! larger than that, or new zone settings (SOA, NS, TTL, templates) send the whole zone instead,
//! as RFC 1995 allows.
//!
//! Held in memory only: after a restart every secondary gets one full transfer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::name::DomainName;
use crate::served::{self, Data};
use crate::snapshot::ZoneSnapshot;

/// Records (in all steps together) a zone's history keeps at most; the oldest steps go first.
/// A record is a name's A or TXT or placeholder, about 100 bytes here.
pub const JOURNAL_MAX_RECORDS: usize = 500_000;

/// One record of a step: its owner name relative to the zone (`*.8.67.45`) and its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rr {
    pub owner: String,
    pub data: Data,
}

/// The difference from serial `from` to serial `to`.
#[derive(Debug, PartialEq, Eq)]
pub struct Step {
    pub from: u32,
    pub to: u32,
    pub removed: Vec<Rr>,
    pub added: Vec<Rr>,
}

impl Step {
    fn records(&self) -> usize {
        self.removed.len() + self.added.len()
    }
}

/// What an incremental transfer from a serial sends.
#[derive(Debug)]
pub enum Since {
    /// The secondary has this serial or a newer one: the current SOA alone.
    Current,
    /// The steps from its serial to the newest.
    Steps(Vec<Arc<Step>>),
    /// The journal does not reach back to its serial: the whole zone.
    Whole,
}

/// The histories of every zone that is transferred.
#[derive(Debug, Default)]
pub struct Journal {
    zones: Mutex<HashMap<DomainName, Arc<Mutex<ZoneHistory>>>>,
}

#[derive(Debug)]
struct ZoneHistory {
    /// The zone as of the newest step: transfers are built from it.
    latest: Arc<ZoneSnapshot>,
    steps: VecDeque<Arc<Step>>,
    records: usize,
}

impl Journal {
    /// Brings the history of `zone`'s origin up to `zone` (the served snapshot) and returns the
    /// snapshot transfers are built from (`zone` itself, unless it is older than what the
    /// history holds).
    pub fn catch_up(&self, zone: &Arc<ZoneSnapshot>) -> Arc<ZoneSnapshot> {
        let history = self.history(zone);
        let mut h = lock(&history);
        if h.latest.serial == zone.serial || serial_newer(h.latest.serial, zone.serial) {
            return h.latest.clone();
        }
        let settings_same = h.latest.config.same_records(&zone.config);
        let diff = match settings_same {
            true => served::diff(&h.latest, zone, JOURNAL_MAX_RECORDS).ok(),
            false => None,
        };
        match diff {
            Some(d) => {
                let rrs = |records: &[crate::zoneform::Record]| -> Vec<Rr> {
                    let mut out = Vec::new();
                    for r in records {
                        let owner = r.owner();
                        out.extend(d.data(r).into_iter().map(|data| Rr { owner: owner.clone(), data }));
                    }
                    out
                };
                let step =
                    Step { from: h.latest.serial, to: zone.serial, removed: rrs(&d.removed), added: rrs(&d.added) };
                h.records += step.records();
                h.steps.push_back(Arc::new(step));
                while h.records > JOURNAL_MAX_RECORDS {
                    let Some(old) = h.steps.pop_front() else { break };
                    h.records -= old.records();
                }
            }
            None => {
                h.steps.clear();
                h.records = 0;
            }
        }
        h.latest = zone.clone();
        zone.clone()
    }

    /// What a transfer from `serial` to `to` (the serial [`Journal::catch_up`] returned; the
    /// history may have moved on since) of `origin` sends.
    pub fn since(&self, origin: &DomainName, serial: u32, to: u32) -> Since {
        let Some(history) = lock(&self.zones).get(origin).cloned() else {
            return Since::Whole;
        };
        let h = lock(&history);
        if serial == to || serial_newer(serial, to) {
            return Since::Current;
        }
        let Some(at) = h.steps.iter().position(|s| s.from == serial) else { return Since::Whole };
        let mut steps = Vec::new();
        for step in h.steps.iter().skip(at) {
            steps.push(step.clone());
            if step.to == to {
                return Since::Steps(steps);
            }
        }
        Since::Whole
    }

    fn history(&self, zone: &Arc<ZoneSnapshot>) -> Arc<Mutex<ZoneHistory>> {
        lock(&self.zones)
            .entry(zone.config.origin.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(ZoneHistory { latest: zone.clone(), steps: VecDeque::new(), records: 0 }))
            })
            .clone()
    }
}

/// Whether serial `a` is newer than `b` in serial number arithmetic (RFC 1982).
pub fn serial_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < (1 << 31)
}

/// A poisoned lock still guards consistent data (the histories here, the NOTIFY wake-ups of
/// [`super::notify::Kicks`]: every change to them is made whole before anything can panic), so
/// it is used as it is.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(serial_newer(2, 1));
        assert!(!serial_newer(1, 2));
        assert!(serial_newer(0, u32::MAX), "0 follows 4294967295");
        assert!(!serial_newer(5, 5));
    }
}
