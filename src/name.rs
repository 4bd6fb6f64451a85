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

/// Datasets one zone may have, `operator` included. Kept small: an answer unites every dataset
/// that lists the address, collected without allocating.
pub const MAX_DATASETS: usize = 16;

/// The name of one of a zone's datasets: 1 to 32 of `a-z`, `0-9`, `-`, `_`, starting with a
/// letter or digit. A zone answers from all its datasets at once (README, "Datasets"); the
/// operator's own list is [`DatasetName::operator`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatasetName(String);

/// Why a text is not a dataset name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a dataset name (1 to 32 of a-z, 0-9, - and _, starting with a letter or digit)")]
pub struct DatasetNameError(pub String);

impl DatasetName {
    /// The dataset live changes and imports go to unless another is named.
    pub const OPERATOR: &'static str = "operator";

    pub fn parse(text: &str) -> Result<DatasetName, DatasetNameError> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && text.as_bytes()[0].is_ascii_alphanumeric();
        if ok {
            Ok(DatasetName(text.to_string()))
        } else {
            Err(DatasetNameError(text.to_string()))
        }
    }

    /// The operator's own list (`operator`).
    pub fn operator() -> DatasetName {
        DatasetName(DatasetName::OPERATOR.to_string())
    }

    pub fn is_operator(&self) -> bool {
        self.0 == DatasetName::OPERATOR
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for DatasetName {
    type Err = DatasetNameError;
    fn from_str(s: &str) -> Result<DatasetName, DatasetNameError> {
        DatasetName::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_names() {
        assert!(DatasetName::parse("operator").expect("valid").is_operator());
        assert_eq!(DatasetName::parse("spamtrap-2").expect("valid").as_str(), "spamtrap-2");
        for bad in ["", "Upper", "-lead", "a/b", "a b", &"x".repeat(33)] {
            assert!(DatasetName::parse(bad).is_err(), "{bad:?}");
        }
    }

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
