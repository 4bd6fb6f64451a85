//! Evidence about sending addresses: abuse reports (ARF, RFC 5965) as mailbox providers send them
//! from their feedback loops, messages that reached spam traps, and the daily volume a reporter
//! saw from an address. Pure: bytes in, a [`Report`] or a [`ReportError`] out.
//!
//! - [`arf`]: one message → the report it makes, or the trap hit a message delivered to a trap
//!   is (the only user of `mail-parser`).
//! - [`split_mbox`]: an mbox file → its messages.
//! - [`policy`]: an address's stored [`Evidence`] → whether a policy lists it, and until when.
//!
//! Two rules decide what a report says (docs/evidence.md has them in full):
//!
//! - **The source address** is the report's `Source-IP` field. Without one, it is read from the
//!   reported message's `Received` headers, from the top (the newest, added by the reporter's own
//!   servers) down: internal hops (private, loopback, link-local, shared and unique-local
//!   addresses) are passed over, and the first public address in a `from` clause is the sender.
//!   Everything below that header was written by the sender's side and may be forged; it is
//!   never read.
//! - **The mailing** a complaint is about (so that complaints about one mailing count once toward
//!   "three separate mailings"): the reported message's `Feedback-ID`, else its `List-Id`, else
//!   its sending domain (from `From`), its subject (lower case, spaces collapsed) and its sending
//!   day (UTC, from `Date`, else the arrival date).

pub mod arf;
pub mod policy;

use std::net::IpAddr;

/// Largest report accepted, in bytes (a feedback report with the reported message attached is
/// a few tens of kilobytes; the rest is a mistake or an attack).
pub const MAX_REPORT_BYTES: usize = 1 << 20;

/// What a feedback report says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// `Feedback-Type`, lower case: `abuse`, `fraud`, `virus`, `other`, `not-spam`, `auth-failure`.
    pub feedback_type: String,
    pub source_ip: IpAddr,
    pub ip_from: IpFrom,
    /// When the reported message arrived (`Arrival-Date` or `Received-Date`), Unix seconds.
    pub arrival: Option<u64>,
    pub reported_domain: Option<String>,
    pub user_agent: Option<String>,
    /// The report's own `Message-ID`: the same report sent twice counts once.
    pub report_id: Option<String>,
    pub mailing: Mailing,
    /// Whether the whole reported message came with the report, or only its headers.
    pub original: Original,
}

/// Where the source address of a report came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFrom {
    /// The report's `Source-IP` field.
    SourceIpField,
    /// The reported message's `Received` header at this position from the top (0: the newest).
    Received(usize),
}

/// What came with the report of the reported message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Original {
    Message,
    HeadersOnly,
}

/// The mailing a complaint is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mailing {
    FeedbackId(String),
    ListId(String),
    /// The sending domain, the sending day (`YYYY-MM-DD`, UTC) and the normalised subject.
    Campaign {
        domain: String,
        day: String,
        subject: String,
    },
}

impl std::fmt::Display for Mailing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailing::FeedbackId(id) => write!(f, "feedback-id:{id}"),
            Mailing::ListId(id) => write!(f, "list-id:{id}"),
            Mailing::Campaign { domain, day, subject } => write!(f, "campaign:{domain}/{day}/{subject}"),
        }
    }
}

impl std::fmt::Display for IpFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IpFrom::SourceIpField => f.write_str("Source-IP"),
            IpFrom::Received(0) => f.write_str("the newest Received header"),
            IpFrom::Received(n) => write!(f, "Received header {} from the top", n + 1),
        }
    }
}

impl Report {
    /// Whether the report is a complaint about unwanted mail (`abuse`, `fraud`, `virus`,
    /// `other`); `not-spam` and `auth-failure` reports are not.
    pub fn is_complaint(&self) -> bool {
        matches!(self.feedback_type.as_str(), "abuse" | "fraud" | "virus" | "other")
    }
}

/// One piece of evidence about an address, as it is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// When it happened (the report's arrival date, else when it was ingested), Unix seconds.
    pub at: u64,
    /// The reporter's name.
    pub reporter: String,
    pub kind: EvidenceKind,
    /// What it is about: the mailing of a complaint ([`Mailing`]'s text), the trap address a
    /// trap hit went to.
    pub about: String,
    pub report_id: Option<String>,
    /// The messages a volume record counts (0 for complaints and trap hits).
    pub messages: u64,
}

/// What a piece of evidence is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EvidenceKind {
    /// A feedback-loop complaint.
    Complaint = 1,
    /// A message delivered to a spam trap (an address that never asked for mail).
    Trap = 2,
    /// How many messages a reporter received from the address on one day (`about` is the day,
    /// `YYYY-MM-DD`; `at` its first second): what a complaint rate is measured against.
    Volume = 3,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Complaint => "complaint",
            EvidenceKind::Trap => "trap",
            EvidenceKind::Volume => "volume",
        }
    }
}

/// Something a reporter sent: a feedback report, a message that reached a trap, or a day's volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submission {
    Report(Report),
    Trap(TrapHit),
    Volume(Volume),
}

impl Submission {
    /// The address the submission is about.
    pub fn source_ip(&self) -> IpAddr {
        match self {
            Submission::Report(r) => r.source_ip,
            Submission::Trap(t) => t.source_ip,
            Submission::Volume(v) => v.source_ip,
        }
    }
}

/// How many messages a reporter received from an address on one day (UTC). A later figure for
/// the same reporter, address and day replaces the earlier one (a reporter may send a running
/// total).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub source_ip: IpAddr,
    /// The day's first second, Unix seconds.
    pub day: u64,
    pub messages: u64,
}

/// Most messages one volume record may count (a day's mail from one address; more is a mistake).
pub const MAX_DAILY_MESSAGES: u64 = 1_000_000_000;

/// The first second of the UTC day `YYYY-MM-DD`, or why it is not one.
pub fn parse_day(day: &str) -> Result<u64, String> {
    let b = day.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    let parsed = shaped.then(|| humantime::parse_rfc3339(&format!("{day}T00:00:00Z")).ok()).flatten();
    let at = parsed.ok_or_else(|| format!("{day:?} is not a day (YYYY-MM-DD)"))?;
    at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).map_err(|_| format!("{day} is before 1970"))
}

/// The UTC day of `at` (Unix seconds) as `YYYY-MM-DD`.
pub fn day_of(at: u64) -> String {
    let start = at - at % 86_400;
    let text = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(start));
    text.to_string()[..10].to_string()
}

/// A message that reached a spam trap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrapHit {
    pub source_ip: IpAddr,
    pub ip_from: IpFrom,
    /// The trap address it was delivered to, lower case.
    pub recipient: String,
    /// When it arrived (the newest `Received` header's date, else its `Date`), Unix seconds.
    pub at: Option<u64>,
    /// Its `Message-ID`: the same message sent twice counts once.
    pub message_id: Option<String>,
}

/// A reporter: who sends evidence (a mailbox provider's feedback loop, a trap network), with the
/// SHA-256 of its API token (the token itself is shown once and never kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reporter {
    /// 1 to 64 of a-z, 0-9, `-`, `_` and `.`, starting with a letter or digit.
    pub name: String,
    pub contact: String,
    pub token_hash: [u8; 32],
    /// Unix seconds.
    pub created: u64,
}

/// Whether `name` is a reporter name: 1 to 64 of a-z, 0-9, `-`, `_` and `.`, starting with a
/// letter or digit.
/// (The rules of access key names, [`crate::access::KeyName`].)
pub fn valid_reporter_name(name: &str) -> bool {
    crate::access::KeyName::parse(name).is_ok()
}

/// The reporters, found by the hash of their token (what API authentication reads from the
/// published snapshot).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reporters(Vec<Reporter>);

impl Reporters {
    /// Reporters in name order.
    pub fn new(mut all: Vec<Reporter>) -> Reporters {
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Reporters(all)
    }

    pub fn by_token(&self, hash: &[u8; 32]) -> Option<&Reporter> {
        self.0.iter().find(|r| &r.token_hash == hash)
    }

    pub fn get(&self, name: &str) -> Option<&Reporter> {
        self.0.iter().find(|r| r.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Reporter> {
        self.0.iter()
    }
}

/// Why a message is not a usable report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("larger than {MAX_REPORT_BYTES} bytes")]
    TooLarge,
    #[error("not a MIME message")]
    NotMime,
    #[error("not a feedback report (ARF): {0}")]
    NotArf(String),
    #[error("malformed feedback report: {0}")]
    Malformed(String),
    #[error("no usable source address: {0}")]
    NoSourceIp(String),
}

/// The messages of an mbox file: each starts at a line beginning `From ` that opens the file or
/// follows a blank line (the `From ` line itself is left out). Bytes that are not an mbox (no
/// `From ` line first) are one message.
pub fn split_mbox(bytes: &[u8]) -> Vec<&[u8]> {
    if !bytes.starts_with(b"From ") {
        return vec![bytes];
    }
    let mut starts = Vec::new();
    let mut at = 0;
    let mut previous_blank = true;
    while at < bytes.len() {
        let end = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| at + i + 1);
        let line = &bytes[at..end];
        if previous_blank && line.starts_with(b"From ") {
            starts.push((at, end));
        }
        previous_blank = line == b"\n" || line == b"\r\n";
        at = end;
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, &(_, body_start)) in starts.iter().enumerate() {
        let next = starts.get(i + 1).map_or(bytes.len(), |&(line_start, _)| line_start);
        out.push(&bytes[body_start..next]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mbox_splits_at_from_lines_after_blank_lines() {
        let mbox = b"From a@b Mon Nov 30 10:00:00 2026\nSubject: one\n\nbody\nFrom here on, text\n\nFrom c@d Mon Nov 30 10:01:00 2026\nSubject: two\n\nx\n";
        let parts = split_mbox(mbox);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].starts_with(b"Subject: one") && parts[0].ends_with(b"From here on, text\n\n"));
        assert!(parts[1].starts_with(b"Subject: two"));
        assert_eq!(split_mbox(b"Subject: alone\n\nx"), vec![&b"Subject: alone\n\nx"[..]]);
    }

    #[test]
    fn days_read_and_print_in_utc() {
        assert_eq!(parse_day("2026-11-30"), Ok(1_795_996_800));
        assert_eq!(day_of(1_795_996_800 + 86_399), "2026-11-30");
        for bad in ["2026-11-31", "2026-1-30", "30.11.2026", "2026-11-30T00:00:00Z", "", "2026-11-3x"] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }
}
