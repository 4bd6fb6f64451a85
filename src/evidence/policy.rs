//! Policies: whether an address's evidence lists it, and until when. Pure: the evidence and the
//! time come in, a [`Listed`] (or nothing) goes out; the publisher stores and serves it.

use super::{Evidence, EvidenceKind};
use crate::config::{ComplaintRate, Policies, ThreeStrikes, TrapHits};

const DAY: u64 = 86_400;

/// A policy's decision to list an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub policy: &'static str,
    /// What counted: distinct mailings (three-strikes), complaints (complaint-rate) or trap hits
    /// (trap-hits); and distinct reporters (three-strikes, complaint-rate) or trap addresses.
    pub count: usize,
    pub sources: usize,
    /// The messages the complaint rate was measured against (0 for the other policies).
    pub messages: u64,
    /// The last evidence that counted, the policy's `listed-days`, and when the listing ends by
    /// itself (the last evidence plus those days, before any escalation).
    pub last: u64,
    pub days: u32,
    pub until: u64,
}

impl Listed {
    /// What counted, in words.
    pub fn summary(&self) -> String {
        let (count, sources) = (self.count, self.sources);
        match self.policy {
            "trap-hits" => format!("{} to {}", counted(count, "trap hit"), counted(sources, "trap address")),
            "complaint-rate" => format!(
                "{} over {} messages ({}) from {}",
                counted(count, "complaint"),
                self.messages,
                percent(count as u64, self.messages),
                counted(sources, "reporter")
            ),
            _ => format!("complaints about {} from {}", counted(count, "mailing"), counted(sources, "reporter")),
        }
    }
}

/// `n` and the noun, plural unless `n` is 1: "1 reporter", "2 reporters", "3 trap addresses".
fn counted(n: usize, noun: &str) -> String {
    match (n, noun.ends_with('s')) {
        (1, _) => format!("1 {noun}"),
        (_, true) => format!("{n} {noun}es"),
        _ => format!("{n} {noun}s"),
    }
}

/// `part` of `whole` as a percentage with two decimals, e.g. `1.25 %`.
pub fn percent(part: u64, whole: u64) -> String {
    let hundredths = (u128::from(part) * 10_000 + u128::from(whole) / 2) / u128::from(whole.max(1));
    format!("{}.{:02} %", hundredths / 100, hundredths % 100)
}

/// The evidence of `kind` inside the `window_days` before `now`: how many, how many distinct
/// `about`s (mailings, trap addresses) and reporters, and the time of the last.
struct Counted {
    count: usize,
    abouts: usize,
    reporters: usize,
    last: u64,
}

fn inside(e: &Evidence, now: u64, window_days: u32) -> bool {
    e.at > now.saturating_sub(u64::from(window_days) * DAY) && e.at <= now
}

fn count_inside(evidence: &[Evidence], kind: EvidenceKind, now: u64, window_days: u32) -> Option<Counted> {
    let inside: Vec<&Evidence> = evidence.iter().filter(|e| e.kind == kind && inside(e, now, window_days)).collect();
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
    let c = count_inside(evidence, EvidenceKind::Complaint, now, t.window_days)?;
    if c.abouts < t.mailings as usize || c.reporters < t.reporters as usize {
        return None;
    }
    Some(listed("three-strikes", c.abouts, c.reporters, 0, c.last, t.listed_days))
}

/// `trap-hits`: at least `hits` trap hits to at least `traps` distinct trap addresses within the
/// last `window_days` before `now`, listed until `listed_days` after the last of them.
pub fn trap_hits(evidence: &[Evidence], now: u64, t: &TrapHits) -> Option<Listed> {
    let c = count_inside(evidence, EvidenceKind::Trap, now, t.window_days)?;
    if c.count < t.hits as usize || c.abouts < t.traps as usize {
        return None;
    }
    Some(listed("trap-hits", c.count, c.abouts, 0, c.last, t.listed_days))
}

fn listed(policy: &'static str, count: usize, sources: usize, messages: u64, last: u64, days: u32) -> Listed {
    Listed { policy, count, sources, messages, last, days, until: last + u64::from(days) * DAY }
}

/// Complaints measured against volume over a window: only reporters that reported volume in
/// it count, each with its own complaints (a mailbox provider's complaints are a share of the
/// mail it received, not of somebody else's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    pub complaints: u64,
    pub messages: u64,
    pub reporters: usize,
    /// The last complaint that counted.
    pub last: Option<u64>,
}

/// The complaint rate of the evidence dated within `window_days` before `now` (volume by the
/// days that began in the window).
pub fn rate(evidence: &[Evidence], now: u64, window_days: u32) -> Rate {
    let recent: Vec<&Evidence> = evidence.iter().filter(|e| inside(e, now, window_days)).collect();
    let mut measured: Vec<&str> =
        recent.iter().filter(|e| e.kind == EvidenceKind::Volume).map(|e| e.reporter.as_str()).collect();
    measured.sort_unstable();
    measured.dedup();
    let mut out = Rate { reporters: measured.len(), ..Rate::default() };
    for e in recent.iter().filter(|e| measured.binary_search(&e.reporter.as_str()).is_ok()) {
        match e.kind {
            EvidenceKind::Volume => out.messages += e.messages,
            EvidenceKind::Complaint => {
                out.complaints += 1;
                out.last = out.last.max(Some(e.at));
            }
            EvidenceKind::Trap => {}
        }
    }
    out
}

/// `complaint-rate`: complaints above `basis_points` hundredths of a percent of the messages the
/// same reporters received from the address, over at least `messages` messages within the last
/// `window_days`; listed until `listed_days` after the last complaint that counted.
pub fn complaint_rate(evidence: &[Evidence], now: u64, c: &ComplaintRate) -> Option<Listed> {
    let r = rate(evidence, now, c.window_days);
    let over = u128::from(r.complaints) * 10_000 > u128::from(c.basis_points) * u128::from(r.messages);
    if r.messages < c.messages || !over {
        return None;
    }
    Some(listed("complaint-rate", r.complaints as usize, r.reporters, r.messages, r.last?, c.listed_days))
}

/// How many days a listing lasts when the address was listed by policy `repeats` times before:
/// `listed_days`, doubled for each earlier listing, never more than `longest_days` (a repeat
/// offender stays listed longer; one that stops sending is still delisted by itself).
pub fn escalated(listed_days: u32, repeats: u32, longest_days: u32) -> u32 {
    let doubled = u64::from(listed_days) << repeats.min(16);
    doubled.min(u64::from(longest_days.max(listed_days))) as u32
}

/// Every policy of `policies` that lists on `evidence`, the one whose listing lasts longest:
/// what the address is listed for now.
pub fn decide(evidence: &[Evidence], now: u64, policies: &Policies) -> Option<Listed> {
    let strikes = policies.three_strikes.as_ref().and_then(|t| three_strikes(evidence, now, t));
    let rate = policies.complaint_rate.as_ref().and_then(|c| complaint_rate(evidence, now, c));
    let traps = policies.trap_hits.as_ref().and_then(|t| trap_hits(evidence, now, t));
    [strikes, rate, traps].into_iter().flatten().max_by_key(|l| l.until)
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
            messages: 0,
        }
    }

    fn volume(day_start: u64, reporter: &str, messages: u64) -> Evidence {
        Evidence {
            kind: EvidenceKind::Volume,
            messages,
            about: super::super::day_of(day_start),
            ..complaint(day_start, reporter, "")
        }
    }

    const C: ComplaintRate = ComplaintRate { basis_points: 100, messages: 1000, window_days: 7, listed_days: 7 };

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
        let policies = Policies { three_strikes: Some(T), complaint_rate: Some(C), trap_hits: Some(H) };
        assert_eq!(decide(&two, NOW, &policies).map(|l| l.policy), Some("trap-hits"));
        let off = Policies { trap_hits: None, ..policies };
        assert_eq!(decide(&two, NOW, &off), None, "a zone without the policy");
    }

    #[test]
    fn a_rate_over_one_percent_of_a_thousand_messages_lists() {
        let today = NOW - NOW % DAY;
        // 1,000 messages, 11 complaints from the same reporter: 1.10 %.
        let mut e = vec![volume(today - DAY, "a", 600), volume(today, "a", 400)];
        e.extend((0..11).map(|i| complaint(NOW - 100 + i, "a", "m1")));
        let listed = complaint_rate(&e, NOW, &C).expect("listed");
        assert_eq!((listed.count, listed.messages, listed.sources, listed.last), (11, 1000, 1, NOW - 90));
        assert_eq!(listed.summary(), "11 complaints over 1000 messages (1.10 %) from 1 reporter");
        assert_eq!(listed.until, NOW - 90 + 7 * DAY);
        // Exactly 1 % is not over it; 999 messages are not enough to measure.
        assert_eq!(complaint_rate(&e[..12], NOW, &C), None, "10 of 1000");
        let few = [vec![volume(today, "a", 999)], (0..50).map(|i| complaint(NOW - i, "a", "m")).collect()].concat();
        assert_eq!(complaint_rate(&few, NOW, &C), None);
        // Another reporter's complaints are not a share of this reporter's volume.
        let mut other = vec![volume(today, "a", 1000)];
        other.extend((0..20).map(|i| complaint(NOW - i, "b", "m")));
        assert_eq!(complaint_rate(&other, NOW, &C), None);
        assert_eq!(rate(&other, NOW, 7), Rate { complaints: 0, messages: 1000, reporters: 1, last: None });
        // Old volume and complaints fall out of the window.
        assert_eq!(complaint_rate(&e, NOW + 8 * DAY, &C), None);
        assert_eq!(percent(2, 1000), "0.20 %");
        assert_eq!(percent(1, 3), "33.33 %");
        assert_eq!(percent(0, 0), "0.00 %");
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

        /// complaint-rate against a naive model: per reporter with volume in the window, its
        /// complaints over its messages.
        #[test]
        fn complaint_rate_agrees_with_counting_by_hand(
            volumes in proptest::collection::vec((0u8..3, 0u64..10, 0u64..800), 0..12),
            complaints in proptest::collection::vec((0u8..3, 0u64..(10 * DAY)), 0..40),
            shift in 0u64..(4 * DAY),
        ) {
            let start = NOW - NOW % DAY;
            let mut evidence: Vec<Evidence> =
                volumes.iter().map(|&(r, d, m)| volume(start - d * DAY, &format!("r{r}"), m)).collect();
            evidence.extend(complaints.iter().map(|&(r, ago)| complaint(NOW - ago, &format!("r{r}"), "m")));
            let now = NOW + shift;
            let window = |at: u64| at > now - 7 * DAY && at <= now;
            let measured: std::collections::BTreeSet<&str> = evidence
                .iter()
                .filter(|e| e.kind == EvidenceKind::Volume && window(e.at))
                .map(|e| e.reporter.as_str())
                .collect();
            let messages: u64 = evidence.iter().filter(|e| e.kind == EvidenceKind::Volume && window(e.at)).map(|e| e.messages).sum();
            let counted: Vec<&Evidence> = evidence
                .iter()
                .filter(|e| e.kind == EvidenceKind::Complaint && window(e.at) && measured.contains(e.reporter.as_str()))
                .collect();
            let expected = messages >= 1000 && counted.len() as u64 * 100 > messages && !counted.is_empty();
            let got = complaint_rate(&evidence, now, &C);
            prop_assert_eq!(got.is_some(), expected);
            if let Some(l) = got {
                prop_assert_eq!((l.count, l.messages), (counted.len(), messages));
                prop_assert_eq!(l.until, counted.iter().map(|e| e.at).max().expect("some") + 7 * DAY);
            }
        }

        /// A stream of complaints with the clock moving on, run as the publisher runs the
        /// policies (decide at each report, escalate by the listings that ended before, end a
        /// listing when its time passes): every listing lasts its escalated days after the last
        /// complaint that counted, never past the longest, and with no new evidence every
        /// listing ends by itself.
        #[test]
        fn listings_end_by_themselves_and_repeats_last_longer(
            stream in proptest::collection::vec((0u64..(12 * DAY), 0u8..3, 0u8..6), 1..60),
        ) {
            let policies = Policies { three_strikes: Some(T), complaint_rate: None, trap_hits: None };
            let (mut now, mut evidence, mut ended) = (NOW, Vec::new(), 0u32);
            let mut listed: Option<Listed> = None;
            for &(advance, r, m) in &stream {
                now += advance;
                if listed.as_ref().is_some_and(|l| l.until <= now) {
                    listed = None;
                    ended += 1;
                }
                evidence.push(complaint(now, &format!("r{r}"), &format!("m{m}")));
                if let Some(mut l) = decide(&evidence, now, &policies) {
                    let days = escalated(l.days, ended, 56);
                    prop_assert_eq!(days, (7u32 << ended.min(3)).min(56));
                    l.until = l.last + u64::from(days) * DAY;
                    prop_assert_eq!(l.last, now, "the complaint just sent counts");
                    prop_assert!(l.until > now && l.until <= now + 56 * DAY);
                    listed = Some(l);
                }
            }
            // No new evidence: whatever is listed ends within the longest listing.
            let later = now + 56 * DAY;
            prop_assert!(listed.is_none_or(|l| l.until <= later));
            prop_assert_eq!(decide(&evidence, now + 31 * DAY, &policies), None, "the window has passed");
        }
    }
}
