//! Who is answered at all: the configured client prefixes that are refused or ignored
//! (`[server] refuse-clients`, `ignore-clients`), and the access the operator sells or grants:
//! access keys (a zone with `require-key` answers `<reversed ip>.<key>.<zone>` only for an
//! enabled key) and registered resolvers (with `registered-resolvers-only`, only their source
//! prefixes are answered). Pure; the rules and the [`AccessTable`] travel in the published
//! snapshot, so a reload or a live change takes effect between two batches of queries. Each key
//! and resolver counts its queries in [`UseCounter`]s that a rebuilt table carries over.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

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
        let ip = crate::model::unmapped(ip);
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

/// The operator's name for an access key (a customer, a contract): 1 to 64 of a-z, 0-9, `-`,
/// `_` and `.`, starting with a letter or digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

/// Why a text is not an access key name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an access key name (1 to 64 of a-z, 0-9, -, _ and ., starting with a letter or digit)")]
pub struct KeyNameError(pub String);

impl KeyName {
    pub fn parse(text: &str) -> Result<KeyName, KeyNameError> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
            && text.as_bytes()[0].is_ascii_alphanumeric();
        ok.then(|| KeyName(text.to_string())).ok_or_else(|| KeyNameError(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The label a keyed query carries: 16 to 63 of a-z and 0-9 with at least one letter (so it is
/// never read as an address octet or nibble), compared without regard to case (resolvers may
/// randomise the case of a name).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeySecret(String);

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySecret({}…)", &self.0[..4.min(self.0.len())])
    }
}

/// Why a text is not an access key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an access key: it is one DNS label of 16 to 63 letters (a-z) and digits, at least one a letter")]
pub struct KeySecretError;

/// Length of a generated access key (as Spamhaus DQS keys: 26 characters, 130 bits).
pub const KEY_LENGTH: usize = 26;

impl KeySecret {
    pub fn parse(text: &str) -> Result<KeySecret, KeySecretError> {
        let lower = text.to_ascii_lowercase();
        let ok = (16..=63).contains(&lower.len())
            && lower.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && lower.bytes().any(|b| b.is_ascii_lowercase());
        ok.then_some(KeySecret(lower)).ok_or(KeySecretError)
    }

    /// A key made from random bytes: base32 letters and digits (a-z, 2-7), 5 bits per byte,
    /// the first always a letter.
    pub fn from_random(bytes: &[u8; KEY_LENGTH]) -> KeySecret {
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut text: String = bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 31)])).collect();
        text.replace_range(..1, &char::from(ALPHABET[usize::from(bytes[0] % 26)]).to_string());
        KeySecret(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An access key as the operator made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKey {
    pub name: KeyName,
    pub secret: KeySecret,
    pub enabled: bool,
    /// Unix seconds.
    pub created: u64,
    /// Free text for the operator (a contract, a contact).
    pub note: Option<String>,
}

/// A resolver whose source prefix is answered when `registered-resolvers-only` is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredResolver {
    pub prefix: Prefix,
    pub name: String,
    /// Unix seconds.
    pub created: u64,
}

/// A query counter that many workers add to: eight cache-line-sized shards, each thread adding
/// to its own, summed when read. Relaxed: the numbers are statistics.
#[derive(Debug, Default)]
pub struct UseCounter([Shard; 8]);

#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard(AtomicU64);

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % 8;
}

impl UseCounter {
    #[inline]
    pub fn add(&self) {
        let i = SHARD.with(|s| *s);
        self.0[i].0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// One access key in the table, with its counters since the server started.
#[derive(Debug)]
pub struct KeyEntry {
    pub key: AccessKey,
    /// Queries answered with this key, and those refused because it is disabled.
    pub answered: Arc<UseCounter>,
    pub refused: Arc<UseCounter>,
}

/// One registered resolver in the table, with its query counter since the server started.
#[derive(Debug)]
pub struct ResolverEntry {
    pub resolver: RegisteredResolver,
    pub queries: Arc<UseCounter>,
}

/// What the key label of a query names.
#[derive(Clone, Copy, Debug)]
pub enum KeyCheck<'a> {
    Unknown,
    Disabled(&'a KeyEntry),
    Enabled(&'a KeyEntry),
}

/// Access keys by their label and registered resolvers by their prefix, as the DNS path reads
/// them. Empty (the default) costs a branch per query.
#[derive(Debug, Default)]
pub struct AccessTable {
    keys: HashMap<Box<[u8]>, usize>,
    key_entries: Vec<KeyEntry>,
    resolvers_v4: Option<PrefixTable<u32>>,
    resolvers_v6: Option<PrefixTable<u128>>,
    resolver_entries: Vec<ResolverEntry>,
    /// `[server] registered-resolvers-only`: other sources are answered REFUSED.
    pub resolvers_only: bool,
}

impl AccessTable {
    /// The table of `keys` and `resolvers`; counters of keys (by name) and resolvers (by prefix)
    /// that were in `previous` carry on counting.
    pub fn new(
        keys: &[AccessKey],
        resolvers: &[RegisteredResolver],
        resolvers_only: bool,
        previous: &AccessTable,
    ) -> AccessTable {
        let mut table = AccessTable { resolvers_only, ..AccessTable::default() };
        for key in keys {
            let old = previous.key_entries.iter().find(|e| e.key.name == key.name);
            table.keys.insert(key.secret.as_str().as_bytes().into(), table.key_entries.len());
            table.key_entries.push(KeyEntry {
                key: key.clone(),
                answered: old.map_or_else(Arc::default, |e| e.answered.clone()),
                refused: old.map_or_else(Arc::default, |e| e.refused.clone()),
            });
        }
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for (i, r) in resolvers.iter().enumerate() {
            let old = previous.resolver_entries.iter().find(|e| e.resolver.prefix == r.prefix);
            table.resolver_entries.push(ResolverEntry {
                resolver: r.clone(),
                queries: old.map_or_else(Arc::default, |e| e.queries.clone()),
            });
            let id = i as u32;
            match r.prefix {
                Prefix::V4 { bits, len } => v4.push((bits, len, Verdict::Listed(id))),
                Prefix::V6 { bits, len } => v6.push((bits, len, Verdict::Listed(id))),
            }
        }
        table.resolvers_v4 = (!v4.is_empty()).then(|| PrefixTable::build(v4));
        table.resolvers_v6 = (!v6.is_empty()).then(|| PrefixTable::build(v6));
        table
    }

    /// True when there is at least one access key.
    #[inline]
    pub fn has_keys(&self) -> bool {
        !self.key_entries.is_empty()
    }

    /// True when there is at least one registered resolver.
    #[inline]
    pub fn has_resolvers(&self) -> bool {
        !self.resolver_entries.is_empty()
    }

    /// What a query's key label names (in any case).
    pub fn key(&self, label: &[u8]) -> KeyCheck<'_> {
        let mut lower = [0u8; 63];
        let Some(buf) = lower.get_mut(..label.len()) else { return KeyCheck::Unknown };
        for (out, b) in buf.iter_mut().zip(label) {
            *out = b.to_ascii_lowercase();
        }
        match self.keys.get(&*buf).map(|&i| &self.key_entries[i]) {
            None => KeyCheck::Unknown,
            Some(e) if e.key.enabled => KeyCheck::Enabled(e),
            Some(e) => KeyCheck::Disabled(e),
        }
    }

    /// The registered resolver whose prefix (the most specific) holds `ip`.
    #[inline]
    pub fn resolver(&self, ip: IpAddr) -> Option<&ResolverEntry> {
        let ip = crate::model::unmapped(ip);
        let id = match ip {
            IpAddr::V4(a) => self.resolvers_v4.as_ref()?.lookup(u32::from(a))?,
            IpAddr::V6(a) => self.resolvers_v6.as_ref()?.lookup(u128::from(a))?,
        };
        self.resolver_entries.get(id as usize)
    }

    /// Whether a source that the client rules answer is answered: counted for its registered
    /// resolver; refused when only registered resolvers are answered and it is not one.
    #[inline]
    pub fn admit(&self, ip: IpAddr) -> ClientVerdict {
        if !self.resolvers_only && !self.has_resolvers() {
            return ClientVerdict::Answer;
        }
        match self.resolver(ip) {
            Some(r) => {
                r.queries.add();
                ClientVerdict::Answer
            }
            None if self.resolvers_only => ClientVerdict::Refuse,
            None => ClientVerdict::Answer,
        }
    }

    /// Counts a query that named `label` as its key (answered, or refused for a disabled key).
    pub fn count_key(&self, label: &[u8]) {
        match self.key(label) {
            KeyCheck::Enabled(e) => e.answered.add(),
            KeyCheck::Disabled(e) => e.refused.add(),
            KeyCheck::Unknown => {}
        }
    }

    /// Every key with its counters, in name order.
    pub fn keys(&self) -> impl Iterator<Item = &KeyEntry> {
        self.key_entries.iter()
    }

    /// Every registered resolver with its counter.
    pub fn resolvers(&self) -> impl Iterator<Item = &ResolverEntry> {
        self.resolver_entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, secret: &str, enabled: bool) -> AccessKey {
        AccessKey {
            name: KeyName::parse(name).expect("name"),
            secret: KeySecret::parse(secret).expect("secret"),
            enabled,
            created: 1,
            note: None,
        }
    }

    #[test]
    fn keys_match_in_any_case_and_disabled_ones_are_told_apart() {
        let keys = [key("isp-a", "aaaabbbbccccddddeeeeffffgg", true), key("isp-b", "zzzz2222zzzz2222", false)];
        let t = AccessTable::new(&keys, &[], false, &AccessTable::default());
        assert!(matches!(t.key(b"AaaaBBBBccccddddeeeeffffgg"), KeyCheck::Enabled(e) if e.key.name.as_str() == "isp-a"));
        assert!(matches!(t.key(b"zzzz2222zzzz2222"), KeyCheck::Disabled(_)));
        assert!(matches!(t.key(b"zzzz2222zzzz2223"), KeyCheck::Unknown));
        assert!(matches!(t.key(&[b'a'; 64]), KeyCheck::Unknown), "longer than a label");
        if let KeyCheck::Enabled(e) = t.key(b"aaaabbbbccccddddeeeeffffgg") {
            e.answered.add();
        }
        // A rebuilt table (a key added) keeps the counts of the keys it had.
        let more = [keys[0].clone(), keys[1].clone(), key("isp-c", "cccccccccccccccc", true)];
        let t2 = AccessTable::new(&more, &[], false, &t);
        let counts: Vec<u64> = t2.keys().map(|e| e.answered.total()).collect();
        assert_eq!(counts, [1, 0, 0]);
    }

    #[test]
    fn secrets_are_labels_with_a_letter_and_generated_ones_start_with_one() {
        assert!(KeySecret::parse("0123456789012345").is_err(), "digits only would read as an address");
        assert!(KeySecret::parse("abc").is_err(), "too short");
        assert!(KeySecret::parse("abcdefgh-ijklmnop").is_err(), "a hyphen");
        assert_eq!(KeySecret::parse("ABCDEFGHIJKLMNOP").map(|k| k.as_str().to_string()), Ok("abcdefghijklmnop".into()));
        for seed in 0..=255u8 {
            let k = KeySecret::from_random(&[seed; KEY_LENGTH]);
            assert_eq!(k.as_str().len(), KEY_LENGTH);
            assert!(k.as_str().as_bytes()[0].is_ascii_lowercase());
            assert_eq!(KeySecret::parse(k.as_str()).as_ref(), Ok(&k));
        }
        assert!(KeyName::parse("Isp").is_err() && KeyName::parse("-isp").is_err() && KeyName::parse("isp-a.2").is_ok());
    }

    #[test]
    fn resolvers_are_found_by_their_most_specific_prefix_and_keep_their_counts() {
        let p = |t: &str| t.parse::<Prefix>().expect("prefix");
        let r = |prefix: &str, name: &str| RegisteredResolver { prefix: p(prefix), name: name.into(), created: 1 };
        let list = [r("192.0.2.0/24", "isp-a"), r("192.0.2.53/32", "isp-a-main"), r("2001:db8::/48", "isp-b")];
        let t = AccessTable::new(&[], &list, true, &AccessTable::default());
        let name = |ip: &str| t.resolver(ip.parse().expect("ip")).map(|e| e.resolver.name.clone());
        assert_eq!(name("192.0.2.53").as_deref(), Some("isp-a-main"));
        assert_eq!(name("::ffff:192.0.2.7").as_deref(), Some("isp-a"));
        assert_eq!(name("2001:db8::1").as_deref(), Some("isp-b"));
        assert_eq!(name("198.51.100.1"), None);
        t.resolver("192.0.2.53".parse().expect("ip")).expect("found").queries.add();
        let t2 = AccessTable::new(&[], &list[1..], true, &t);
        assert_eq!(t2.resolvers().map(|e| e.queries.total()).collect::<Vec<_>>(), [1, 0]);
    }

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
