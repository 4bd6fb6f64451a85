//! Removal requests: someone whose address an operator listing covers asks, on the public web
//! pages, for it to be removed. Pure: the form's fields in, a checked [`NewRequest`] or a
//! [`FormError`] out; the request's states and the auto-approval rule.
//!
//! A request goes `unconfirmed` (filed; a confirmation link was mailed to its contact) →
//! `confirmed` (the contact followed the link) → `approved` (an exclusion in the operator's
//! dataset, reason "removal request ID") or `rejected` (with the operator's reason). An
//! unconfirmed request may also be decided by the operator. At most one request is open
//! (unconfirmed or confirmed) for overlapping prefixes at a time; one left unconfirmed for two
//! days is closed when a new one is filed.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::Prefix;

/// The longest free text a request may carry, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// The longest contact address, in bytes (RFC 5321's path limit).
pub const MAX_CONTACT_BYTES: usize = 254;

/// A removal request as it is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalRequest {
    pub id: u64,
    pub prefix: Prefix,
    /// The requester's email address (confirmed when `state` is past `Unconfirmed`).
    pub contact: String,
    /// The free text the requester wrote.
    pub text: String,
    /// SHA-256 of the confirmation key (the key itself is only in the mail and the link).
    pub key_hash: [u8; 32],
    /// Unix seconds.
    pub created: u64,
    pub state: State,
    /// Whether the confirmation mail went out, and if not why.
    pub mail: Mail,
    /// Every change of the request, oldest first.
    pub events: Vec<Event>,
}

/// Where a request stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum State {
    /// Filed; waiting for its contact to follow the confirmation link.
    Unconfirmed,
    /// Confirmed; waiting for the operator.
    Confirmed,
    /// Removed: an exclusion of `prefix` in the operator's dataset, at `at` (Unix seconds).
    Approved {
        prefix: Prefix,
        by: String,
        #[serde(default)]
        at: u64,
    },
    Rejected {
        reason: String,
        by: String,
    },
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Unconfirmed => "unconfirmed",
            State::Confirmed => "confirmed",
            State::Approved { .. } => "approved",
            State::Rejected { .. } => "rejected",
        }
    }

    /// Unconfirmed or confirmed: nothing decided yet.
    pub fn is_open(&self) -> bool {
        matches!(self, State::Unconfirmed | State::Confirmed)
    }
}

/// The confirmation mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mail")]
pub enum Mail {
    NotYet,
    Sent,
    /// The mail command failed or did not finish in time; the request waits for the operator.
    Failed {
        why: String,
    },
}

/// One change of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unix seconds.
    pub at: u64,
    /// `filed`, `mail sent`, `mail failed: …`, `confirmed`, `approved by …`, `rejected by …: …`.
    pub what: String,
}

/// A request's fields as the form sends them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Form {
    pub prefix: String,
    pub contact: String,
    /// The "this address does not send email marketing" checkbox (`on` when checked).
    pub statement: Option<String>,
    #[serde(default)]
    pub text: String,
}

/// A checked request, before it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRequest {
    pub prefix: Prefix,
    pub contact: String,
    pub text: String,
}

/// What is wrong with a form: the field and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct FormError {
    pub field: &'static str,
    pub why: String,
}

fn wrong(field: &'static str, why: impl Into<String>) -> FormError {
    FormError { field, why: why.into() }
}

/// The largest prefixes one request may cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Largest {
    pub ipv4: u8,
    pub ipv6: u8,
}

impl Form {
    /// Checks every field; the first wrong one is the error.
    pub fn check(&self, largest: Largest) -> Result<NewRequest, FormError> {
        let text = self.prefix.trim();
        let prefix = match text.parse::<IpAddr>() {
            Ok(ip) => Prefix::host(ip),
            Err(_) => text.parse::<Prefix>().map_err(|_| {
                let shown: String = text.chars().take(64).collect();
                wrong("prefix", format!("{shown:?} is not an IP address or a CIDR prefix"))
            })?,
        };
        let shortest = if prefix.is_v4() { largest.ipv4 } else { largest.ipv6 };
        if prefix.len() < shortest {
            return Err(wrong("prefix", format!("at most a /{shortest} per request; ask for the addresses you use")));
        }
        let contact = self.contact.trim();
        check_contact(contact)?;
        if self.statement.is_none() {
            return Err(wrong("statement", "say that the address does not send email marketing"));
        }
        let text = self.text.trim();
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(wrong("text", format!("at most {MAX_TEXT_CHARS} characters")));
        }
        let text = text.replace("\r\n", "\n");
        // Control characters and bidirectional overrides could disguise the text where the
        // operator reads it.
        let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
        if text.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || bidi(c)) {
            return Err(wrong("text", "control characters and direction overrides are not allowed"));
        }
        Ok(NewRequest { prefix, contact: contact.to_string(), text })
    }
}

/// A plain mailbox address: `local@domain`, printable ASCII without spaces, quotes or angle
/// brackets, a dot in the domain, at most [`MAX_CONTACT_BYTES`]. (What is needed to mail a
/// link safely; the confirmation proves the rest.)
fn check_contact(contact: &str) -> Result<(), FormError> {
    let bad = || wrong("contact", "give an email address you can read (name@example.org)");
    if contact.len() > MAX_CONTACT_BYTES || !contact.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    if contact.bytes().any(|b| matches!(b, b'<' | b'>' | b'"' | b'\'' | b'(' | b')' | b',' | b';' | b'\\')) {
        return Err(bad());
    }
    let (local, domain) = contact.rsplit_once('@').ok_or_else(bad)?;
    let labels_ok =
        domain.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if local.is_empty() || local.contains('@') || !domain.contains('.') || !labels_ok {
        return Err(bad());
    }
    Ok(())
}

/// The IPv4 /24 (or IPv6 /48) a request's address counts under for auto-approval.
pub fn network_of(prefix: Prefix) -> Prefix {
    prefix.truncated(if prefix.is_v4() { 24 } else { 48 })
}

/// Whether a confirmed request is approved without the operator: it names one address, an
/// operator listing of a wider network lists it (not one of that address alone), and fewer
/// than `per_network` requests of its network were approved this way in the last 30 days.
pub fn auto_approvable(
    request: &RemovalRequest,
    listed_by: Option<Prefix>,
    auto_approved_recently: usize,
    per_network: u32,
) -> bool {
    let single = request.prefix.len() == if request.prefix.is_v4() { 32 } else { 128 };
    let network_listing = listed_by.is_some_and(|p| p.len() < request.prefix.len());
    single && network_listing && auto_approved_recently < per_network as usize
}

/// Seconds within which a request is confirmed; after that its link confirms nothing, and a
/// new request for its address closes it.
pub const CONFIRM_WITHIN: u64 = 2 * 86_400;

/// The actor of an auto-approval in the audit trail and the request's events.
pub const AUTO_APPROVAL: &str = "auto-approval";

#[cfg(test)]
mod tests {
    use super::*;

    const LARGEST: Largest = Largest { ipv4: 24, ipv6: 48 };

    fn form(prefix: &str, contact: &str) -> Form {
        Form { prefix: prefix.into(), contact: contact.into(), statement: Some("on".into()), text: "our shop".into() }
    }

    #[test]
    fn a_form_is_checked_field_by_field() {
        let ok = form(" 45.67.8.9 ", "owner@shop.example").check(LARGEST).expect("valid");
        assert_eq!((ok.prefix.to_string(), ok.contact.as_str()), ("45.67.8.9/32".to_string(), "owner@shop.example"));
        assert!(form("45.67.8.0/24", "a@b.example").check(LARGEST).is_ok());
        let field = |f: Form| f.check(LARGEST).map_err(|e| e.field);
        assert_eq!(field(form("45.67.8.0/23", "a@b.example")), Err("prefix"));
        assert_eq!(field(form("2001:db8::/47", "a@b.example")), Err("prefix"));
        assert_eq!(field(form("<script>", "a@b.example")), Err("prefix"));
        assert_eq!(field(form("45.67.8.1/24", "a@b.example")), Err("prefix"), "host bits set");
        for contact in [
            "",
            "a",
            "a@b",
            "a@@b.example",
            "a b@c.example",
            "a@b.example\r\nBcc: x@y.example",
            "<a@b.example>",
            "a@-.example.",
            "a@b..example",
        ] {
            assert_eq!(field(form("45.67.8.9", contact)), Err("contact"), "{contact:?}");
        }
        assert_eq!(field(Form { statement: None, ..form("45.67.8.9", "a@b.example") }), Err("statement"));
        let long = Form { text: "x".repeat(MAX_TEXT_CHARS + 1), ..form("45.67.8.9", "a@b.example") };
        assert_eq!(field(long), Err("text"));
        for bad in ["a\u{7}b", "a\rb", "a\u{202e}b"] {
            let control = Form { text: bad.into(), ..form("45.67.8.9", "a@b.example") };
            assert_eq!(field(control), Err("text"), "{bad:?}");
        }
        let lines = Form { text: "one\r\ntwo\tthree".into(), ..form("45.67.8.9", "a@b.example") };
        assert_eq!(lines.check(LARGEST).map(|n| n.text), Ok("one\ntwo\tthree".to_string()));
    }

    #[test]
    fn auto_approval_takes_one_address_out_of_a_network_listing_within_limits() {
        let req = |p: &str| RemovalRequest {
            id: 1,
            prefix: p.parse().expect("prefix"),
            contact: "a@b.example".into(),
            text: String::new(),
            key_hash: [0; 32],
            created: 0,
            state: State::Confirmed,
            mail: Mail::Sent,
            events: Vec::new(),
        };
        let net: Prefix = "45.67.8.0/24".parse().expect("prefix");
        assert!(auto_approvable(&req("45.67.8.9/32"), Some(net), 1, 2));
        assert!(!auto_approvable(&req("45.67.8.9/32"), Some(net), 2, 2), "the network's allowance is used up");
        assert!(!auto_approvable(&req("45.67.8.9/32"), Some("45.67.8.9/32".parse().expect("p")), 0, 2), "listed alone");
        assert!(!auto_approvable(&req("45.67.8.8/30"), Some(net), 0, 2), "more than one address");
        assert!(!auto_approvable(&req("45.67.8.9/32"), None, 0, 2));
        assert!(!auto_approvable(&req("45.67.8.9/32"), Some(net), 0, 0), "off");
        assert_eq!(network_of("45.67.8.9/32".parse().expect("p")).to_string(), "45.67.8.0/24");
    }
}
