//! Who is answered at all: the configured client prefixes that are refused or ignored
//! (`[server] refuse-clients`, `ignore-clients`). Pure; the rules travel in the published
//! snapshot, so a configuration reload changes them between two batches of queries.

use std::net::IpAddr;

use crate::model::Prefix;
use crate::trie::{PrefixTable, Verdict};

/// What to do with a query from a client address ([`ClientRules::verdict`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientVerdict {
    Answer,
    /// Answer REFUSED (the client learns it is not served).
    Refuse,
    /// Drop the query without a reply.
    Ignore,
}

/// The configured client prefixes that are refused or ignored (`[server] refuse-clients`,
/// `ignore-clients`), as prefix tables: the most specific prefix decides, so a small ignored
/// network can sit inside a refused one. An empty set costs one branch per query.
#[derive(Debug, Default)]
pub struct ClientRules {
    v4: Option<PrefixTable<u32>>,
    v6: Option<PrefixTable<u128>>,
}

const CLIENT_REFUSE: u32 = 1;
const CLIENT_IGNORE: u32 = 2;

impl ClientRules {
    /// Rules from the two lists; a prefix in both is ignored.
    pub fn new(refuse: &[Prefix], ignore: &[Prefix]) -> ClientRules {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let tagged = refuse.iter().map(|p| (p, CLIENT_REFUSE)).chain(ignore.iter().map(|p| (p, CLIENT_IGNORE)));
        for (prefix, value) in tagged {
            match *prefix {
                Prefix::V4 { bits, len } => v4.push((bits, len, Verdict::Listed(value))),
                Prefix::V6 { bits, len } => v6.push((bits, len, Verdict::Listed(value))),
            }
        }
        // Sorted so that at an equal prefix the ignore entry (added last) is the one kept.
        v4.sort_by_key(|&(b, l, v)| (b, l, matches!(v, Verdict::Listed(CLIENT_IGNORE))));
        v6.sort_by_key(|&(b, l, v)| (b, l, matches!(v, Verdict::Listed(CLIENT_IGNORE))));
        ClientRules {
            v4: (!v4.is_empty()).then(|| PrefixTable::build(v4)),
            v6: (!v6.is_empty()).then(|| PrefixTable::build(v6)),
        }
    }

    /// True when every client is answered.
    pub fn is_empty(&self) -> bool {
        self.v4.is_none() && self.v6.is_none()
    }

    /// What to do with a query from `ip` (IPv4-mapped IPv6 sources count as IPv4).
    #[inline]
    pub fn verdict(&self, ip: IpAddr) -> ClientVerdict {
        if self.is_empty() {
            return ClientVerdict::Answer;
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let found = match ip {
            IpAddr::V4(a) => self.v4.as_ref().and_then(|t| t.lookup(u32::from(a))),
            IpAddr::V6(a) => self.v6.as_ref().and_then(|t| t.lookup(u128::from(a))),
        };
        match found {
            Some(CLIENT_IGNORE) => ClientVerdict::Ignore,
            Some(_) => ClientVerdict::Refuse,
            None => ClientVerdict::Answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_rules_pick_the_most_specific_prefix() {
        let p = |t: &str| t.parse::<Prefix>().expect("prefix");
        let rules = ClientRules::new(
            &[p("192.0.2.0/24"), p("2001:db8::/32"), p("198.51.100.7/32")],
            &[p("192.0.2.128/25"), p("198.51.100.7/32")],
        );
        let v = |ip: &str| rules.verdict(ip.parse().expect("ip"));
        assert_eq!(v("192.0.2.1"), ClientVerdict::Refuse);
        assert_eq!(v("192.0.2.200"), ClientVerdict::Ignore);
        assert_eq!(v("::ffff:192.0.2.1"), ClientVerdict::Refuse, "IPv4-mapped sources count as IPv4");
        assert_eq!(v("198.51.100.7"), ClientVerdict::Ignore, "in both lists: ignored");
        assert_eq!(v("2001:db8::53"), ClientVerdict::Refuse);
        assert_eq!(v("203.0.113.1"), ClientVerdict::Answer);
        assert!(ClientRules::new(&[], &[]).is_empty());
        assert_eq!(ClientRules::default().verdict("192.0.2.1".parse().expect("ip")), ClientVerdict::Answer);
    }
}
