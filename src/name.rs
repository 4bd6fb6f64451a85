//! Domain names as the server uses them: zone origins, name servers, parts of every store key.
//! Vocabulary shared by the configuration, the store and the DNS path; parsed once, at the edge.

use std::fmt;

use serde::Deserialize;

/// Why a text is not a domain name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{0:?} is not a domain name (1 to 253 characters)")]
    Length(String),
    #[error("{name:?} is not a domain name (bad label {label:?})")]
    Label { name: String, label: String },
}

/// A lower-case, absolute domain name without the trailing dot (`bl.example.org`). The label
/// boundaries are kept beside the text, so the DNS path walks labels without searching for dots.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName {
    name: String,
    /// End offset of each label in `name` (names are at most 253 bytes).
    ends: Box<[u8]>,
    /// The name in DNS wire format (length-prefixed labels and the root), ready to copy.
    wire: Box<[u8]>,
}

impl DomainName {
    /// Validates a host-style name: 1..=63-byte labels of letters, digits, `-` and `_`, ≤ 253 bytes.
    pub fn parse(text: &str) -> Result<DomainName, NameError> {
        let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
        if name.is_empty() || name.len() > 253 {
            return Err(NameError::Length(text.to_string()));
        }
        for label in name.split('.') {
            let ok_chars = label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if label.is_empty() || label.len() > 63 || !ok_chars {
                return Err(NameError::Label { name: text.to_string(), label: label.to_string() });
            }
        }
        Ok(DomainName::from_checked(name))
    }

    /// `name` is valid (see [`DomainName::parse`]).
    fn from_checked(name: String) -> DomainName {
        let mut ends: Vec<u8> = name.match_indices('.').map(|(i, _)| i as u8).collect();
        ends.push(name.len() as u8);
        let mut wire = Vec::with_capacity(name.len() + 2);
        for label in name.split('.') {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label.as_bytes());
        }
        wire.push(0);
        DomainName { name, ends: ends.into_boxed_slice(), wire: wire.into_boxed_slice() }
    }

    /// The name in DNS wire format: length-prefixed labels, then the root.
    #[inline]
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The name as text, lower case, no trailing dot.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Labels from left to right.
    #[inline]
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        (0..self.ends.len()).map(move |i| {
            let start = if i == 0 { 0 } else { usize::from(self.ends[i - 1]) + 1 };
            &self.name[start..usize::from(self.ends[i])]
        })
    }

    /// The number of labels.
    #[inline]
    pub fn label_count(&self) -> usize {
        self.ends.len()
    }

    /// True when `self` equals `origin` or lies below it.
    pub fn is_within(&self, origin: &DomainName) -> bool {
        self.name == origin.name || self.name.ends_with(&format!(".{}", origin.name))
    }

    /// Replaces the suffix `from` with `to` (used when `--zone` renames the zone).
    pub fn rebase(&self, from: &DomainName, to: &DomainName) -> DomainName {
        if self == from {
            return to.clone();
        }
        match self.name.strip_suffix(&format!(".{}", from.name)) {
            // Still at most 253 bytes? Otherwise keep the old name (validation reports it).
            Some(head) => DomainName::parse(&format!("{head}.{}", to.name)).unwrap_or_else(|_| self.clone()),
            None => self.clone(),
        }
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DomainName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        let n = DomainName::parse("BL.Example.ORG.").expect("valid");
        assert_eq!(n.as_str(), "bl.example.org");
        assert!(DomainName::parse("ns1.bl.example.org").expect("valid").is_within(&n));
        assert!(!DomainName::parse("xbl.example.org").expect("valid").is_within(&n));
        assert!(DomainName::parse("a b.org").is_err());
        assert!(DomainName::parse(&"a".repeat(64)).is_err());
        let labels: Vec<&str> = n.labels().collect();
        assert_eq!(labels, ["bl", "example", "org"]);
        assert_eq!(n.labels().next_back(), Some("org"));
        assert_eq!(n.label_count(), 3);
        assert_eq!(n.wire(), b"\x02bl\x07example\x03org\x00");
        assert_eq!(DomainName::parse("x").expect("valid").labels().collect::<Vec<_>>(), ["x"]);
    }
}
