//! Policies: whether an address's evidence lists it, and until when. Pure: the evidence and the
//! time come in, a [`Listed`] (or nothing) goes out; the publisher stores and serves it.

use super::{Evidence, EvidenceKind};
use crate::config::{ThreeStrikes, TrapHits};

const DAY: u64 = 86_400;

/// A policy's decision to list an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub policy: &'static str,
    /// What counted: distinct mailings and reporters (three-strikes), trap hits and distinct
    /// trap addresses (trap-hits).
    pub count: usize,
    pub sources: usize,
    /// The last evidence that counted, and when the listing ends by itself.
    pub last: u64,
    pub until: u64,
}

impl Listed {
    /// What counted, in words.
    pub fn summary(&self) -> String {
        match self.policy {
            "trap-hits" => format!("{} trap hits to {} trap addresses", self.count, self.sources),
            _ => format!("complaints about {} mailings from {} reporters", self.count, self.sources),
        }
    }
}

/// The evidence of `kind` inside the `window_days` before `now`: how many, how many distinct
/// `about`s (mailings, trap addresses) and reporters, and the time of the last.
struct Counted {
    count: usize,
    abouts: usize,
    reporters: usize,
    last: u64,
}

fn counted(evidence: &[Evidence], kind: EvidenceKind, now: u64, window_days: u32) -> Option<Counted> {
    let from = now.saturating_sub(u64::from(window_days) * DAY);
    let inside: Vec<&Evidence> = evidence.iter().filter(|e| e.kind == kind && e.at > from && e.at <= now).collect();
    let distinct = |key: fn(&Evidence) -> &str| {
        let mut all: Vec<&str> = inside.iter().map(|e| key(e)).collect();
        all.sort_unstable();
        all.dedup();
        all.len()
    };
    Some(Counted {
        count: inside.len(),
        abouts: distinct(|e| e.about.as_str()),
        reporters: distinct(|e| e.reporter.as_str()),
        last: inside.iter().map(|e| e.at).max()?,
    })
}

/// `three-strikes`: complaints about at least `mailings` distinct mailings from at least
/// `reporters` distinct reporters within the last `window_days` before `now`. The listing lasts
/// until `listed_days` after the last complaint in that window.
pub fn three_strikes(evidence: &[Evidence], now: u64, t: &ThreeStrikes) -> Option<Listed> {
    let c = counted(evidence, EvidenceKind::Complaint, now, t.window_days)?;
    if c.abouts < t.mailings as usize || c.reporters < t.reporters as usize {
        return None;
    }
    let until = c.last + u64::from(t.listed_days) * DAY;
    Some(Listed { policy: "three-strikes", count: c.abouts, sources: c.reporters, last: c.last, until })
}

/// `trap-hits`: at least `hits` trap hits to at least `traps` distinct trap addresses within the
/// last `window_days` before `now`, listed until `listed_days` after the last of them.
pub fn trap_hits(evidence: &[Evidence], now: u64, t: &TrapHits) -> Option<Listed> {
    let c = counted(evidence, EvidenceKind::Trap, now, t.window_days)?;
    if c.count < t.hits as usize || c.abouts < t.traps as usize {
        return None;
    }
    let until = c.last + u64::from(t.listed_days) * DAY;
    Some(Listed { policy: "trap-hits", count: c.count, sources: c.abouts, last: c.last, until })
}

/// How many days a listing lasts when the address was listed by policy `repeats` times before:
/// `listed_days`, doubled for each earlier listing, never more than `longest_days` (a repeat
/// offender stays listed longer; one that stops sending is still delisted by itself).
pub fn escalated(listed_days: u32, repeats: u32, longest_days: u32) -> u32 {
    let doubled = u64::from(listed_days) << repeats.min(16);
    doubled.min(u64::from(longest_days.max(listed_days))) as u32
}

/// Every policy that lists on `evidence`, the one whose listing lasts longest: what the address
/// is listed for now.
pub fn decide(evidence: &[Evidence], now: u64, strikes: &ThreeStrikes, traps: &TrapHits) -> Option<Listed> {
    [three_strikes(evidence, now, strikes), trap_hits(evidence, now, traps)]
        .into_iter()
        .flatten()
        .max_by_key(|l| l.until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: ThreeStrikes = ThreeStrikes { mailings: 3, reporters: 2, window_days: 30, listed_days: 7 };
    const NOW: u64 = 1_800_000_000;

    fn complaint(at: u64, reporter: &str, mailing: &str) -> Evidence {
        Evidence {
            at,
            reporter: reporter.into(),
            kind: EvidenceKind::Complaint,
            about: mailing.into(),
            report_id: None,
        }
    }

    #[test]
    fn three_mailings_from_two_reporters_list_and_one_reporter_or_two_mailings_do_not() {
        let three = [complaint(NOW - 10, "a", "m1"), complaint(NOW - 5, "a", "m2"), complaint(NOW - 1, "b", "m3")];
        let listed = three_strikes(&three, NOW, &T).expect("listed");
        assert_eq!((listed.count, listed.sources, listed.last), (3, 2, NOW - 1));
        assert_eq!(listed.summary(), "complaints about 3 mailings from 2 reporters");
        assert_eq!(listed.until, NOW - 1 + 7 * DAY);
        let one_reporter =
            [complaint(NOW - 10, "a", "m1"), complaint(NOW - 5, "a", "m2"), complaint(NOW - 1, "a", "m3")];
        assert_eq!(three_strikes(&one_reporter, NOW, &T), None, "one reporter alone cannot list anyone");
        let two_mailings =
            [complaint(NOW - 10, "a", "m1"), complaint(NOW - 5, "b", "m1"), complaint(NOW - 1, "b", "m2")];
        assert_eq!(three_strikes(&two_mailings, NOW, &T), None, "many complaints about one mailing are one strike");
        let old = [complaint(NOW - 31 * DAY, "a", "m1"), complaint(NOW - 5, "a", "m2"), complaint(NOW - 1, "b", "m3")];
        assert_eq!(three_strikes(&old, NOW, &T), None, "outside the window");
    }

    #[test]
    fn repeat_listings_double_up_to_the_longest() {
        assert_eq!([0, 1, 2, 3, 9, 40].map(|n| escalated(7, n, 56)), [7, 14, 28, 56, 56, 56]);
        assert_eq!(escalated(7, 3, 5), 7, "a cap below the first listing does not shorten it");
    }

    #[test]
    fn five_hits_to_two_traps_list_and_five_to_one_do_not() {
        const H: TrapHits = TrapHits { hits: 5, traps: 2, window_days: 7, listed_days: 7 };
        let hit = |at: u64, trap: &str| Evidence { kind: EvidenceKind::Trap, ..complaint(at, "traps", trap) };
        let two: Vec<Evidence> = (0..5).map(|i| hit(NOW - i, if i % 2 == 0 { "t1@x" } else { "t2@x" })).collect();
        let listed = trap_hits(&two, NOW, &H).expect("listed");
        assert_eq!((listed.policy, listed.count, listed.sources), ("trap-hits", 5, 2));
        assert_eq!(listed.summary(), "5 trap hits to 2 trap addresses");
        let one: Vec<Evidence> = (0..9).map(|i| hit(NOW - i, "t1@x")).collect();
        assert_eq!(trap_hits(&one, NOW, &H), None);
        assert_eq!(trap_hits(&two, NOW + 8 * DAY, &H), None, "outside the window");
        // Complaints are not trap hits, and the other way round.
        assert_eq!(three_strikes(&two, NOW, &T), None);
        assert_eq!(decide(&two, NOW, &T, &H).map(|l| l.policy), Some("trap-hits"));
    }

    proptest! {
        /// Against a naive model: count distinct mailings and reporters by brute force.
        #[test]
        fn agrees_with_counting_by_hand(
            raw in proptest::collection::vec((0u64..60, 0u8..4, 0u8..5), 0..30),
            shift in 0u64..40,
        ) {
            let evidence: Vec<Evidence> = raw
                .iter()
                .map(|&(days_ago, r, m)| complaint(NOW - days_ago * DAY, &format!("r{r}"), &format!("m{m}")))
                .collect();
            let now = NOW + shift * DAY;
            let inside: Vec<&Evidence> = evidence.iter().filter(|e| e.at + 30 * DAY > now && e.at <= now).collect();
            let mailings: std::collections::BTreeSet<&str> = inside.iter().map(|e| e.about.as_str()).collect();
            let reporters: std::collections::BTreeSet<&str> = inside.iter().map(|e| e.reporter.as_str()).collect();
            let expected = mailings.len() >= 3 && reporters.len() >= 2;
            let got = three_strikes(&evidence, now, &T);
            prop_assert_eq!(got.is_some(), expected);
            if let Some(l) = got {
                let last = inside.iter().map(|e| e.at).max().expect("some");
                prop_assert_eq!(l.until, last + 7 * DAY);
                prop_assert!(l.until > now || last + 7 * DAY <= now);
            }
        }
    }
}
