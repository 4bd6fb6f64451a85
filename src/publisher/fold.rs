//! Folding a zone's patches into new base tables on a thread of its own, and putting the result
//! under the patches made meanwhile, so no change waits for a fold.

use std::sync::Arc;

use super::{zone_index, Publisher};
use crate::name::DomainName;
use crate::snapshot::{Snapshot, ZoneSnapshot};

/// Patches per zone before they are merged into new base tables.
pub const MERGE_AFTER: usize = 256;

impl Publisher {
    /// Starts folding `zone`'s patches on another thread when it has more than [`MERGE_AFTER`]
    /// and no fold of it is running; returns the zone to publish now (folded here only when no
    /// thread can be started).
    pub(super) fn fold_if_due(&mut self, zone: ZoneSnapshot) -> ZoneSnapshot {
        if zone.patch_count() <= MERGE_AFTER || self.folds.contains_key(&zone.config.origin) {
            return zone;
        }
        let from = zone.clone();
        match std::thread::Builder::new().name("dnsbl-fold".into()).spawn(move || from.merged()) {
            Ok(handle) => {
                self.folds.insert(zone.config.origin.clone(), (zone.clone(), handle));
                zone
            }
            Err(e) => {
                tracing::warn!(error = %e, zone = %zone.config.origin, "cannot start a fold thread; folding in place");
                zone.merged()
            }
        }
    }

    /// Puts every finished fold under the patches its zone gained meanwhile and publishes the
    /// result if any; returns the snapshot to build on. A fold whose zone was reloaded since is
    /// dropped.
    pub(super) fn install_folds(&mut self, current: Arc<Snapshot>) -> Arc<Snapshot> {
        let done: Vec<DomainName> =
            self.folds.iter().filter(|(_, (_, handle))| handle.is_finished()).map(|(zone, _)| zone.clone()).collect();
        if done.is_empty() {
            return current;
        }
        let mut next = Snapshot::clone(&current);
        let mut changed = false;
        for zone in done {
            let Some((from, handle)) = self.folds.remove(&zone) else { continue };
            let Ok(folded) = handle.join() else {
                tracing::error!(%zone, "folding patches failed; will try again at the next change");
                continue;
            };
            let Ok(at) = zone_index(&next, &zone) else { continue };
            if let Some(rebased) = next.zones[at].rebased(&from, &folded) {
                next.zones[at] = Arc::new(rebased);
                changed = true;
            }
        }
        if !changed {
            return current;
        }
        self.shared.publish(next);
        self.shared.load_full()
    }
}
