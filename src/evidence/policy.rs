//! Policies: whether an address's evidence lists it, and until when. Pure: the evidence and the
//! time come in, a [`Listed`] (or nothing) goes out; the publisher stores and serves it.

use super::{Evidence, EvidenceKind};
use crate::config::ThreeStrikes;

const DAY: u64 = 86_400;

/// A policy's decision to list an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub policy: &'static str,
    /// The distinct mailings and reporters that counted.
    pub mailings: usize,
    pub reporters: usize,
    /// The last evidence that counted, and when the listing ends by itself.
    pub last: u64,
    pub until: u64,
}

/// `three-strikes`: complaints about at least `mailings` distinct mailings from at least
/// `reporters` distinct reporters within the last `window_days` before `now`. The listing lasts
/// until `listed_days` after the last complaint in that window.
pub fn three_strikes(evidence: &[Evidence], now: u64, t: &ThreeStrikes) -> Option<Listed> {
    let from = now.saturating_sub(u64::from(t.window_days) * DAY);
    let counted: Vec<&Evidence> =
        evidence.iter().filter(|e| e.kind == EvidenceKind::Complaint && e.at > from && e.at <= now).collect();
    let mut mailings: Vec<&str> = counted.iter().map(|e| e.mailing.as_str()).collect();
    mailings.sort_unstable();
    mailings.dedup();
    let mut reporters: Vec<&str> = counted.iter().map(|e| e.reporter.as_str()).collect();
    reporters.sort_unstable();
    reporters.dedup();
    if mailings.len() < t.mailings as usize || reporters.len() < t.reporters as usize {
        return None;
    }
    let last = counted.iter().map(|e| e.at).max()?;
    Some(Listed {
        policy: "three-strikes",
        mailings: mailings.len(),
        reporters: reporters.len(),
        last,
        until: last + u64::from(t.listed_days) * DAY,
    })
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
            mailing: mailing.into(),
            report_id: None,
        }
    }

    #[test]
    fn three_mailings_from_two_reporters_list_and_one_reporter_or_two_mailings_do_not() {
        let three = [complaint(NOW - 10, "a", "m1"), complaint(NOW - 5, "a", "m2"), complaint(NOW - 1, "b", "m3")];
        let listed = three_strikes(&three, NOW, &T).expect("listed");
        assert_eq!((listed.mailings, listed.reporters, listed.last), (3, 2, NOW - 1));
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
            let mailings: std::collections::BTreeSet<&str> = inside.iter().map(|e| e.mailing.as_str()).collect();
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
