//! The API's contract: every request and response body, written once and used by both sides —
//! the handlers serialize them, the CLI deserializes them — so a renamed field fails to compile
//! instead of printing an empty column. serde only: nothing here knows about HTTP or axum.
//!
//! Requests refuse unknown fields (a typo is an error, not a silently ignored option); responses
//! accept them, so an older CLI keeps working against a newer server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An error answer: `{"error": "what went wrong and what to do"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

// ---- zones, listings, exclusions, history ----------------------------------------------------

/// `GET /v1/zones` (a list of these) and the zones of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneInfo {
    pub zone: String,
    pub serial: u32,
    /// The zone's datasets, `operator` first (left out where an answer names zones only for their serials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<String>,
}

/// `DELETE /v1/zones/{zone}/datasets/{name}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRemoved {
    pub zone: String,
    pub dataset: String,
    pub serial: u32,
}

/// `POST /v1/zones/{zone}/listings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingRequest {
    pub prefix: String,
    /// Full (`127.0.0.3`) or short (`3`) return codes.
    pub codes: Vec<String>,
    pub reason: Option<String>,
    /// A duration from now (`30d`, `12h`) or an RFC 3339 time.
    pub expires: Option<String>,
    /// The dataset changed; `operator` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// `POST /v1/zones/{zone}/exclusions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionRequest {
    pub prefix: String,
    pub reason: Option<String>,
    /// The dataset changed; `operator` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// `?prefix=` (and, for the DELETE endpoints, `&dataset=`, `operator` when absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixQuery {
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// The answer to a listing or exclusion change: the zone's serial that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeResponse {
    pub zone: String,
    pub dataset: String,
    pub prefix: String,
    pub serial: u32,
}

/// One change in `GET /v1/history?prefix=` (oldest first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub zone: String,
    /// The dataset changed (`operator` for registry actions, which protect it).
    pub dataset: String,
    pub prefix: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// `add-listing`, `remove-listing`, `expired`, `import`, `register`, …
    pub action: String,
    pub actor: String,
    pub source: String,
    pub codes: Vec<String>,
    pub reason: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<u64>,
}

// ---- lookup ----------------------------------------------------------------------------------

/// `GET /v1/lookup/{ip}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupResponse {
    pub ip: String,
    pub zones: Vec<ZoneLookup>,
}

/// What one zone answers for the address, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneLookup {
    pub zone: String,
    /// The DNS answer now: listed codes (empty = NXDOMAIN), the first TXT and every TXT (one per
    /// distinct text of the datasets that list the address).
    pub listed: bool,
    pub codes: Vec<String>,
    pub txt: Option<String>,
    pub txts: Vec<String>,
    /// Why, in one sentence per dataset that lists the address (or the operator's when none does).
    pub explanation: String,
    /// The deciding entry, then the other entries covering the address (most specific first), in
    /// the first dataset that lists the address (the operator's when none does).
    pub decided_by: Option<EntryView>,
    pub also_covering: Vec<EntryView>,
    /// Each code of the answer and the datasets that give it.
    pub code_sources: Vec<CodeSource>,
    /// Every dataset's own verdict, the operator's first.
    pub datasets: Vec<DatasetLookup>,
}

/// A code of a zone's answer and the datasets that list the address with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSource {
    pub code: String,
    pub datasets: Vec<String>,
}

/// What one dataset says about the address on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetLookup {
    pub dataset: String,
    pub listed: bool,
    pub codes: Vec<String>,
    pub txt: Option<String>,
    pub explanation: String,
    pub decided_by: Option<EntryView>,
    pub also_covering: Vec<EntryView>,
}

/// What kind of entry covers an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    #[serde(rename = "listing")]
    Listing,
    #[serde(rename = "exclusion")]
    Exclusion,
    #[serde(rename = "declared sender")]
    DeclaredSender,
    #[serde(rename = "registered network")]
    RegisteredNetwork,
    #[serde(rename = "built-in RFC 5782 test point")]
    TestPoint,
}

impl EntryKind {
    /// The name people read (the same as on the wire).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Listing => "listing",
            EntryKind::Exclusion => "exclusion",
            EntryKind::DeclaredSender => "declared sender",
            EntryKind::RegisteredNetwork => "registered network",
            EntryKind::TestPoint => "built-in RFC 5782 test point",
        }
    }
}

/// One entry covering a looked-up address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryView {
    pub prefix: String,
    /// The prefix length (orders entries; not sent).
    #[serde(skip)]
    pub len: u8,
    pub kind: EntryKind,
    pub codes: Vec<String>,
    /// The entry's reason, `$` expanded to the looked-up address (as the DNS TXT says it).
    pub reason: Option<String>,
    /// Unix seconds.
    pub added_at: Option<u64>,
    pub expires_at: Option<u64>,
}

// ---- administration --------------------------------------------------------------------------

/// `POST /v1/backups`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupResponse {
    /// Where the copy is (on the server's machine).
    pub path: String,
    pub zones: Vec<ZoneInfo>,
}

/// `POST /v1/zones/{zone}/import`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportResponse {
    pub zone: String,
    pub listings: u64,
    pub exclusions: u64,
    pub lines: u64,
    pub serial: u32,
    /// Each dataset replaced.
    pub datasets: Vec<DatasetCount>,
}

/// What an import put into one dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetCount {
    pub dataset: String,
    pub listings: u64,
    pub exclusions: u64,
}

impl DatasetCount {
    /// An import report's (dataset, listings, exclusions), as sent.
    pub fn list(replaced: &[(crate::name::DatasetName, u64, u64)]) -> Vec<DatasetCount> {
        replaced
            .iter()
            .map(|(d, listings, exclusions)| DatasetCount {
                dataset: d.to_string(),
                listings: *listings,
                exclusions: *exclusions,
            })
            .collect()
    }
}

/// `GET /v1/stats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResponse {
    pub udp: TransportStats,
    pub tcp: TransportStats,
    pub uptime_seconds: u64,
    pub udp_workers: usize,
    pub zones: Vec<ZoneStats>,
    pub marketers: usize,
    /// About how many evidence records (and counted-report marks) are stored.
    #[serde(default)]
    pub evidence_records: u64,
    /// Zone transfers served and NOTIFYs sent, by outcome (`whole`, `incremental`, `current`,
    /// `refused`, `notify_sent`, `notify_answered`, `notify_unanswered`).
    #[serde(default)]
    pub transfers: BTreeMap<String, u64>,
}

/// Query counters of one transport since the server started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportStats {
    pub queries: u64,
    pub dropped: u64,
    /// Replies by response code name (`NOERROR`, `NXDOMAIN`, …).
    pub responses: BTreeMap<String, u64>,
    pub with_answers: u64,
    pub truncated: u64,
    pub full_path: u64,
    pub send_errors: u64,
    /// Response rate limiting: replies dropped, sent truncated, or (`log-only`) that would have
    /// been limited.
    #[serde(default)]
    pub rrl_dropped: u64,
    #[serde(default)]
    pub rrl_slipped: u64,
    #[serde(default)]
    pub rrl_would_limit: u64,
    /// DNS cookies: queries with a client cookie alone, with a valid server cookie, and with one
    /// that is not ours.
    #[serde(default)]
    pub cookies_client_only: u64,
    #[serde(default)]
    pub cookies_valid: u64,
    #[serde(default)]
    pub cookies_invalid: u64,
}

/// One zone as it is served now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneStats {
    pub zone: String,
    pub serial: u32,
    /// Disjoint address ranges (listed or not) in the prefix tables, IPv4 and IPv6.
    pub segments_v4: usize,
    pub segments_v6: usize,
    /// Live changes on top of the tables since they were last folded.
    pub patches: usize,
}

// ---- marketers (operator) --------------------------------------------------------------------

/// A marketer account as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketerView {
    pub id: String,
    pub legal_name: String,
    pub registration_number: String,
    pub contact: String,
    pub status: MarketerStatus,
    pub suspended_reason: Option<String>,
    pub networks: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
    pub declared: usize,
}

/// Whether a marketer's networks are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarketerStatus {
    Active,
    Suspended,
}

impl MarketerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MarketerStatus::Active => "active",
            MarketerStatus::Suspended => "suspended",
        }
    }
}

/// `POST /v1/marketers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMarketer {
    pub id: String,
    pub legal_name: String,
    pub registration_number: String,
    pub contact: String,
    #[serde(default)]
    pub networks: Vec<String>,
}

/// An account with its new token (`POST /v1/marketers`, `.../rotate-token`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithToken {
    pub marketer: MarketerView,
    /// Shown once: only its SHA-256 is stored.
    pub token: String,
}

/// `GET /v1/marketers/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketerDetail {
    #[serde(flatten)]
    pub marketer: MarketerView,
    pub declarations: Vec<DeclarationView>,
    pub history: Vec<EventView>,
}

/// `POST /v1/marketers/{id}/suspend`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}

/// `POST /v1/marketers/{id}/networks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRequest {
    pub prefix: String,
}

/// A declared sender, with what the DNS answers for it now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclarationView {
    pub prefix: String,
    /// Unix seconds.
    pub added_at: u64,
    pub reason: Option<String>,
    /// What the DNS answers now for the prefix's first address, per zone.
    pub answers: Vec<ZoneAnswer>,
    /// Evidence against the declared addresses in the last 30 days: feedback-loop complaints
    /// and spam-trap hits (what may list them with 127.0.0.4).
    #[serde(default)]
    pub complaints_30d: usize,
    #[serde(default)]
    pub trap_hits_30d: usize,
    /// The messages reporters said they received from the declared addresses in the last 30
    /// days, and the complaints of those reporters as a share of them (`"0.35 %"`; senders aim
    /// below 0.2 %, the `complaint-rate` policy lists above 1 %). No rate without volume.
    #[serde(default)]
    pub messages_30d: u64,
    #[serde(default)]
    pub complaint_rate_30d: Option<String>,
}

/// One zone's answer: codes (empty = NXDOMAIN) and TXT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneAnswer {
    pub zone: String,
    pub codes: Vec<String>,
    pub txt: Option<String>,
}

/// One entry of a marketer's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// RFC 3339, UTC.
    pub at: String,
    pub action: String,
    pub actor: String,
    pub source: String,
    pub reason: Option<String>,
}

// ---- registrations (marketer) ----------------------------------------------------------------

/// `GET /v1/registrations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registrations {
    pub marketer: MarketerView,
    pub registrations: Vec<DeclarationView>,
}

/// `POST /v1/registrations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclareRequest {
    pub prefixes: Vec<String>,
    pub reason: Option<String>,
}

/// `DELETE /v1/registrations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    pub prefixes: Vec<String>,
}

/// The answer to a registration or withdrawal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclareResponse {
    /// Prefixes this request added (those declared already are not repeated).
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub serials: Vec<ZoneInfo>,
}

// ---- access keys and registered resolvers ----------------------------------------------------

/// `POST /v1/access/keys`: a new access key; the server makes the key unless one is given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRequest {
    pub name: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// An access key and its queries since the server started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyView {
    pub name: String,
    /// The label queries carry: `<reversed ip>.<key>.<zone>`.
    pub key: String,
    pub enabled: bool,
    /// Unix seconds.
    pub created_at: u64,
    pub note: Option<String>,
    /// Queries answered with the key, and those refused while it was disabled.
    pub queries: u64,
    pub refused: u64,
}

/// `POST /v1/access/resolvers`: register a resolver's source prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolverRequest {
    pub prefix: String,
    pub name: String,
}

/// A registered resolver and its queries since the server started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolverView {
    pub prefix: String,
    pub name: String,
    /// Unix seconds.
    pub created_at: u64,
    pub queries: u64,
}

/// `GET /v1/access/resolvers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolversResponse {
    /// `[server] registered-resolvers-only`: other sources get REFUSED.
    pub registered_resolvers_only: bool,
    pub resolvers: Vec<ResolverView>,
}

/// One audit record of an access change (`GET /v1/access/history`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessHistoryRecord {
    /// RFC 3339.
    pub at: String,
    /// `add-key`, `disable-key`, `enable-key`, `remove-key`, `add-resolver`, `remove-resolver`.
    pub action: String,
    pub actor: String,
    pub source: String,
    /// The key's name or the resolver's prefix.
    pub subject: String,
    pub detail: Option<String>,
}

/// What a `DELETE` of an access key or a resolver removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub removed: String,
}

// ---- evidence --------------------------------------------------------------------------------

/// `POST /v1/evidence?reporter=NAME`: what the reports did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Reports stored as evidence, and reports counted before (same reporter and report id).
    pub accepted: usize,
    pub duplicates: usize,
    /// Messages that gave no evidence: their position in the upload (1-based) and why.
    pub refused: Vec<RefusedReport>,
    /// Addresses a policy lists now, with code 127.0.0.4.
    pub listed: Vec<PolicyListingView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedReport {
    pub message: usize,
    pub error: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyListingView {
    pub ip: String,
    #[serde(default)]
    pub zone: String,
    pub policy: String,
    /// What counted, in words ("complaints about 3 mailings from 2 reporters").
    pub summary: String,
    /// When the listing ends by itself, Unix seconds.
    pub until: u64,
}

/// One piece of evidence about an address (`GET /v1/evidence/{ip}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceView {
    /// Unix seconds.
    pub at: u64,
    pub reporter: String,
    /// `complaint`, `trap` or `volume`.
    pub kind: String,
    /// The mailing a complaint is about, the trap address a trap hit went to, the day
    /// (`YYYY-MM-DD`) a volume figure counts.
    pub about: String,
    pub report_id: Option<String>,
    /// The messages a volume figure counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
}

/// `POST /v1/reporters`: a reporter of evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReporterRequest {
    pub name: String,
    pub contact: String,
}

/// A reporter (`GET /v1/reporters`); `token` only in the answer that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReporterView {
    pub name: String,
    pub contact: String,
    /// Unix seconds.
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

// ---- removal requests ------------------------------------------------------------------------

/// A removal request as the operator sees it (`GET /v1/delisting`, `GET /v1/delisting/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalView {
    pub id: u64,
    pub prefix: String,
    pub contact: String,
    pub text: String,
    /// Unix seconds.
    pub created: u64,
    /// `unconfirmed`, `confirmed`, `approved`, `rejected`.
    pub state: String,
    /// The prefix excluded (approved), or the reason (rejected), and who decided.
    pub approved_prefix: Option<String>,
    pub rejected_reason: Option<String>,
    pub decided_by: Option<String>,
    /// `not yet`, `sent`, or why it failed.
    pub mail: String,
    pub events: Vec<RemovalEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalEvent {
    /// Unix seconds.
    pub at: u64,
    pub what: String,
}

/// `POST /v1/delisting/{id}/approve`: exclude the request's prefix, or `prefix` instead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    pub prefix: Option<String>,
}

/// `POST /v1/delisting/{id}/reject`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    pub reason: String,
}
