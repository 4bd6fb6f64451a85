//! Marketer registration rules: who may declare which sending addresses, and what that means
//! for the list. Pure: values in, values out; the caller stores and publishes.
//!
//! A marketer has verified networks (set by the operator) and declared senders (set by the
//! marketer, inside those networks). For the DNS this becomes two kinds of entries:
//! - each declared prefix is listed with code 127.0.0.2 and a TXT naming the marketer;
//! - each verified network of an *active* marketer is a protection: an exclusion at the network
//!   prefix, so wider operator listings do not reach the marketer's other addresses, while
//!   operator listings more specific than the network still win (the table's usual rule).
//!
//! Suspension lifts the protections and keeps the declared senders listed.
//! [`Registry`] (in `book`) holds every marketer's account and turns requests into [`Plan`]s:
//! what to store, what to audit and which prefixes' answers change.

mod book;

use std::fmt;

pub use book::{Account, Declaration, Event, Plan, Registry, Request, TokenHash};

use crate::model::{mask128, mask32, Entry, Listing, ListingCode, Prefix};

/// A marketer's short id: 1..=32 of `a-z`, `0-9`, `-`, not starting with `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MarketerId(String);

impl MarketerId {
    pub fn parse(text: &str) -> Result<MarketerId, RegistryError> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && !text.starts_with('-')
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(MarketerId(text.to_string()))
        } else {
            Err(RegistryError::BadId(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MarketerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a marketer's networks are protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Suspended { reason: String },
}

/// A registered marketer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marketer {
    pub id: MarketerId,
    pub legal_name: String,
    pub registration_number: String,
    pub contact: String,
    /// Verified by the operator; never overlapping another marketer's.
    pub networks: Vec<Prefix>,
    pub status: Status,
}

/// Limits on what marketers may declare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Ranges nobody may declare (private, loopback, link-local, documentation by default).
    pub denied: Vec<Prefix>,
    /// IPv4 addresses one marketer may have declared in all.
    pub max_ipv4_addresses: u64,
    /// IPv6 prefixes one marketer may have declared (each at most a /64 by default).
    pub max_ipv6_prefixes: u64,
    /// Shortest declarable prefix: IPv4 and IPv6.
    pub shortest_v4: u8,
    pub shortest_v6: u8,
    /// URL in the TXT of declared senders; `$` becomes the address.
    pub lookup_url: String,
}

impl Default for Policy {
    fn default() -> Self {
        let denied = [
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.2.0/24",
            "192.168.0.0/16",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "224.0.0.0/3",
            "::/8",
            "2001:db8::/32",
            "fc00::/7",
            "fe80::/10",
            "ff00::/8",
        ];
        Policy {
            denied: denied.iter().filter_map(|p| p.parse().ok()).collect(),
            max_ipv4_addresses: 4096,
            max_ipv6_prefixes: 1024,
            shortest_v4: 24,
            shortest_v6: 64,
            lookup_url: "http://bl.localhost:8080/lookup?ip=$".into(),
        }
    }
}

/// Why a registry request is refused (nothing of it is applied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("{0:?} is not a marketer id (1-32 of a-z, 0-9 and -)")]
    BadId(String),
    #[error("marketer {0} is not registered")]
    UnknownMarketer(MarketerId),
    #[error("{prefix} is not inside a network verified for {marketer}")]
    OutsideNetworks { prefix: Prefix, marketer: MarketerId },
    #[error("{prefix} lies in the denied range {denied}")]
    Denied { prefix: Prefix, denied: Prefix },
    #[error("{prefix} is wider than /{shortest}, the shortest prefix that may be declared")]
    TooWide { prefix: Prefix, shortest: u8 },
    #[error("declaring these would give {marketer} {total} {what}; the limit is {limit}")]
    TooMany { marketer: MarketerId, total: u64, limit: u64, what: &'static str },
    #[error("network {prefix} overlaps {other_network} of marketer {other}")]
    Overlap { prefix: Prefix, other: MarketerId, other_network: Prefix },
    #[error("marketer {0} already exists")]
    Exists(MarketerId),
    #[error("{prefix} is not declared by {marketer}")]
    NotDeclared { prefix: Prefix, marketer: MarketerId },
    #[error("{prefix} is not a network of {marketer}")]
    NoSuchNetwork { prefix: Prefix, marketer: MarketerId },
    #[error("network {prefix} is already verified for {marketer}")]
    NetworkExists { prefix: Prefix, marketer: MarketerId },
    #[error("marketer {0} is suspended; declarations can be added but not withdrawn until the operator resumes it")]
    Suspended(MarketerId),
    #[error("marketer {0} is not suspended")]
    NotSuspended(MarketerId),
    #[error("{field}: {why}")]
    Field { field: &'static str, why: String },
}

/// Checks a declaration request: every prefix inside one of the marketer's networks, outside the
/// denied ranges, not wider than allowed, and the marketer's total within the limit. Returns the
/// prefixes to add (those not declared already), or the first reason to refuse all of them.
pub fn plan_declare(
    marketer: &Marketer,
    requested: &[Prefix],
    declared: &[Prefix],
    policy: &Policy,
) -> Result<Vec<Prefix>, RegistryError> {
    let mut new = Vec::new();
    for &prefix in requested {
        let shortest = if matches!(prefix, Prefix::V4 { .. }) { policy.shortest_v4 } else { policy.shortest_v6 };
        if prefix.len() < shortest {
            return Err(RegistryError::TooWide { prefix, shortest });
        }
        if let Some(&denied) = policy.denied.iter().find(|d| overlaps(**d, prefix)) {
            return Err(RegistryError::Denied { prefix, denied });
        }
        if !marketer.networks.iter().any(|n| covers(*n, prefix)) {
            return Err(RegistryError::OutsideNetworks { prefix, marketer: marketer.id.clone() });
        }
        if !declared.contains(&prefix) && !new.contains(&prefix) {
            new.push(prefix);
        }
    }
    let all = || declared.iter().chain(&new);
    let v4: u64 = all()
        .filter_map(|p| match p {
            Prefix::V4 { len, .. } => Some(1u64 << (32 - u32::from(*len))),
            Prefix::V6 { .. } => None,
        })
        .sum();
    if v4 > policy.max_ipv4_addresses {
        let (marketer, limit) = (marketer.id.clone(), policy.max_ipv4_addresses);
        return Err(RegistryError::TooMany { marketer, total: v4, limit, what: "IPv4 addresses" });
    }
    let v6 = all().filter(|p| matches!(p, Prefix::V6 { .. })).count() as u64;
    if v6 > policy.max_ipv6_prefixes {
        let (marketer, limit) = (marketer.id.clone(), policy.max_ipv6_prefixes);
        return Err(RegistryError::TooMany { marketer, total: v6, limit, what: "IPv6 prefixes" });
    }
    Ok(new)
}

/// Checks a network the operator verifies for `marketer` against every other marketer's.
pub fn check_network(marketer: &MarketerId, network: Prefix, others: &[Marketer]) -> Result<(), RegistryError> {
    for other in others.iter().filter(|m| &m.id != marketer) {
        if let Some(&n) = other.networks.iter().find(|n| overlaps(**n, network)) {
            return Err(RegistryError::Overlap { prefix: network, other: other.id.clone(), other_network: n });
        }
    }
    Ok(())
}

/// The list entries a marketer contributes: protections for an active marketer's networks and a
/// code-2 listing per declared prefix, naming the marketer. One entry per prefix: a declaration
/// of a whole network is a listing, not a protection.
pub fn entries(marketer: &Marketer, declared: &[Prefix], policy: &Policy) -> Vec<(Prefix, Entry)> {
    let mut out = Vec::new();
    if marketer.status == Status::Active {
        out.extend(marketer.networks.iter().filter(|n| !declared.contains(n)).map(|n| (*n, Entry::Excluded)));
    }
    let text = sender_text(marketer, policy);
    if let Ok(listing) = Listing::new(vec![ListingCode::REGISTERED], Some(text)) {
        out.extend(declared.iter().map(|p| (*p, Entry::Listed(listing.clone()))));
    }
    out
}

/// The one entry at a prefix that has both an operator entry and a registry entry:
/// - a protection (a verified network) beats an operator listing of exactly that network;
/// - a declaration beats an operator exclusion of exactly that prefix (the marketer says it sends
///   marketing from there), and joins an operator listing: both codes, the marketer's TXT.
///
/// Operator entries more or less specific than the registry's keep the table's usual rule.
pub fn combine(operator: &Entry, registry: &Entry) -> Entry {
    match (operator, registry) {
        (Entry::Listed(op), Entry::Listed(reg)) => {
            let codes = op.codes().iter().chain(reg.codes()).copied().collect();
            Listing::new(codes, reg.reason().map(str::to_string)).map_or_else(|_| registry.clone(), Entry::Listed)
        }
        _ => registry.clone(),
    }
}

/// "Registered email-marketing sender: Acme Mailing Ltd (GB-1234567) - https://…", cut to fit
/// one TXT string (the URL is kept whole; the name is shortened first). ASCII punctuation only:
/// mail servers copy the TXT into SMTP replies, which should be ASCII.
pub fn sender_text(marketer: &Marketer, policy: &Policy) -> String {
    let tail = format!(" ({}) - {}", marketer.registration_number, policy.lookup_url);
    let head = "Registered email-marketing sender: ";
    // Leave room for `$` growing into an IPv6 address (39 characters).
    let room = crate::model::MAX_TXT_BYTES.saturating_sub(head.len() + tail.len() + 38);
    let mut name = marketer.legal_name.clone();
    while name.len() > room {
        name.pop();
    }
    format!("{head}{name}{tail}")
}

/// True when the two prefixes share any address.
pub fn overlaps(a: Prefix, b: Prefix) -> bool {
    covers(a, b) || covers(b, a)
}

/// True when `outer` contains all of `inner`.
pub fn covers(outer: Prefix, inner: Prefix) -> bool {
    match (outer, inner) {
        (Prefix::V4 { bits: o, len: ol }, Prefix::V4 { bits: i, len: il }) => ol <= il && i & mask32(ol) == o,
        (Prefix::V6 { bits: o, len: ol }, Prefix::V6 { bits: i, len: il }) => ol <= il && i & mask128(ol) == o,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().expect("prefix")
    }

    /// The scenario uses documentation ranges; a policy that allows them.
    fn policy() -> Policy {
        Policy { denied: vec![p("10.0.0.0/8"), p("127.0.0.0/8")], ..Policy::default() }
    }

    fn acme() -> Marketer {
        Marketer {
            id: MarketerId::parse("acme").expect("id"),
            legal_name: "Acme Mailing Ltd".into(),
            registration_number: "GB-1234567".into(),
            contact: "abuse@acme.example".into(),
            networks: vec![p("198.51.100.0/24"), p("2001:db8:ac3e::/48")],
            status: Status::Active,
        }
    }

    #[test]
    fn declarations_must_lie_in_verified_networks_and_within_limits() {
        let m = acme();
        let ok = plan_declare(&m, &[p("198.51.100.7"), p("198.51.100.32/29"), p("198.51.100.7")], &[], &policy());
        assert_eq!(ok, Ok(vec![p("198.51.100.7/32"), p("198.51.100.32/29")]));
        assert_eq!(plan_declare(&m, &[p("198.51.100.7")], &[p("198.51.100.7")], &policy()), Ok(vec![]), "idempotent");
        assert!(matches!(
            plan_declare(&m, &[p("198.51.101.7")], &[], &policy()),
            Err(RegistryError::OutsideNetworks { .. })
        ));
        assert!(matches!(
            plan_declare(&m, &[p("198.51.100.0/23")], &[], &policy()),
            Err(RegistryError::TooWide { .. })
        ));
        assert!(matches!(
            plan_declare(&m, &[p("2001:db8:ac3e::/56")], &[], &policy()),
            Err(RegistryError::TooWide { .. })
        ));
        assert!(plan_declare(&m, &[p("2001:db8:ac3e::7")], &[], &policy()).is_ok());
        let tight = Policy { max_ipv4_addresses: 8, max_ipv6_prefixes: 1, ..policy() };
        assert!(matches!(
            plan_declare(&m, &[p("198.51.100.0/28")], &[], &tight),
            Err(RegistryError::TooMany { total: 16, .. })
        ));
        assert!(plan_declare(&m, &[p("2001:db8:ac3e::7")], &[], &tight).is_ok());
        assert!(matches!(
            plan_declare(&m, &[p("2001:db8:ac3e::7")], &[p("2001:db8:ac3e:1::/64")], &tight),
            Err(RegistryError::TooMany { what: "IPv6 prefixes", .. })
        ));
        // One bad prefix refuses the whole request.
        assert!(plan_declare(&m, &[p("198.51.100.7"), p("192.0.2.1")], &[], &policy()).is_err());
    }

    #[test]
    fn denied_ranges_win_even_inside_a_network() {
        let mut m = acme();
        m.networks.push(p("10.1.0.0/16"));
        let err = plan_declare(&m, &[p("10.1.2.3")], &[], &policy()).expect_err("denied");
        assert_eq!(err, RegistryError::Denied { prefix: p("10.1.2.3/32"), denied: p("10.0.0.0/8") });
        // The default policy denies documentation ranges.
        assert!(matches!(
            plan_declare(&acme(), &[p("198.51.100.7")], &[], &Policy::default()),
            Err(RegistryError::Denied { .. })
        ));
    }

    #[test]
    fn networks_of_two_marketers_may_not_overlap() {
        let other = MarketerId::parse("globex").expect("id");
        assert!(check_network(&other, p("198.51.100.128/25"), &[acme()]).is_err());
        assert!(check_network(&other, p("198.51.0.0/16"), &[acme()]).is_err());
        assert!(check_network(&other, p("198.51.101.0/24"), &[acme()]).is_ok());
        assert!(check_network(&acme().id, p("198.51.100.0/25"), &[acme()]).is_ok(), "its own networks may change");
    }

    #[test]
    fn entries_protect_active_networks_and_list_declared_senders() {
        let m = acme();
        let e = entries(&m, &[p("198.51.100.7")], &policy());
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], (p("198.51.100.0/24"), Entry::Excluded));
        let Entry::Listed(l) = &e[2].1 else { panic!("listing expected") };
        assert_eq!(l.codes(), &[ListingCode::REGISTERED]);
        assert!(l
            .reason()
            .is_some_and(|r| r.starts_with("Registered email-marketing sender: Acme Mailing Ltd (GB-1234567)")));
        let suspended = Marketer { status: Status::Suspended { reason: "complaints".into() }, ..m };
        let e = entries(&suspended, &[p("198.51.100.7")], &policy());
        assert_eq!(e.len(), 1, "suspension lifts protection, keeps declared senders");
        let whole = entries(&acme(), &[p("198.51.100.0/24")], &policy());
        assert!(
            matches!(whole.as_slice(), [(_, Entry::Excluded), (n, Entry::Listed(_))] if *n == p("198.51.100.0/24"))
        );
    }

    #[test]
    fn same_prefix_entries_combine() {
        let op = Entry::Listed(Listing::new(vec![ListingCode::OPERATOR], Some("seen".into())).expect("listing"));
        let reg = entries(&acme(), &[p("198.51.100.7")], &policy()).pop().expect("declared").1;
        let Entry::Listed(both) = combine(&op, &reg) else { panic!("listed") };
        assert_eq!(both.codes(), &[ListingCode::REGISTERED, ListingCode::OPERATOR]);
        assert!(both.reason().is_some_and(|r| r.contains("Acme Mailing Ltd")));
        assert_eq!(combine(&Entry::Excluded, &reg), reg, "a declaration beats an exclusion at the same prefix");
        assert_eq!(combine(&op, &Entry::Excluded), Entry::Excluded, "a protection beats a listing of the network");
    }

    #[test]
    fn sender_text_fits_one_txt_string() {
        let mut m = acme();
        m.legal_name = "A".repeat(400);
        let text = sender_text(&m, &policy());
        assert!(text.len() + 38 <= crate::model::MAX_TXT_BYTES, "{}", text.len());
        assert!(text.ends_with("http://bl.localhost:8080/lookup?ip=$"));
        assert!(
            MarketerId::parse("Acme").is_err()
                && MarketerId::parse("-x").is_err()
                && MarketerId::parse("acme-2").is_ok()
        );
    }
}
