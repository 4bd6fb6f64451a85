//! The full path: any DNS request in, its response out, wire bytes to wire bytes, via
//! hickory-proto (the only file that uses it).
//!
//! Protocol hygiene lives here: responses (QR=1) and runts are dropped before parsing
//! ([`super::request::dropped_unread`]); what does not parse, and malformed EDNS options, get
//! FORMERR; so does a malformed COOKIE option, and a server cookie that is not ours gets BADCOOKIE
//! over UDP (DNS cookies, [`crate::cookie`]); a TSIG-signed request gets NOTAUTH with TSIG BADKEY (no keys are configured);
//! opcodes other than QUERY get NOTIMP (RD and CD not echoed; NOTIFY over UDP is [`notify_in`]); EDNS is echoed, version > 0 gets BADVERS; zone transfers over UDP and non-IN classes are REFUSED (AXFR and IXFR over TCP are [`transfer_request`]); UDP replies over the client's limit
//! (512 without EDNS, else its size capped by `max-udp-payload`) are truncated honestly (TC=1,
//! question only). The answer itself comes from [`crate::query::resolve`]. Common queries are
//! answered by [`super::lean`] first ([`super::respond::respond`] picks the path).

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::tsig::{make_tsig_record, TsigError};
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, TSIG, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use crate::cookie::{self, Presented, Verdict};
use crate::name::DomainName;
use crate::query::{self, Answer, Data, Owner, Rr};
use crate::snapshot::Snapshot;
use crate::tsig::TsigError as Signature;

use std::sync::Arc;

use super::request::{dropped_unread, edns_options_well_formed, opt_rdata, Limits, Transport};

/// REFUSED for a query from a client the configuration refuses (`refuse-clients`): the request's
/// id, opcode, RD bit, question and EDNS, nothing else. `None` (drop) for responses, runts and
/// what does not parse, and for a reply that would be larger than the query.
pub fn refuse(packet: &[u8], limits: &Limits) -> Option<Vec<u8>> {
    if dropped_unread(packet) {
        return None;
    }
    let request = Message::from_vec(packet).ok()?;
    let mut response = reply_to(&request, limits);
    response.metadata.response_code = ResponseCode::Refused;
    encode(&response).filter(|b| b.len() <= packet.len())
}

/// A response to `request` with its id, opcode, RD and CD bits and question, RA/AD clear, and our
/// OPT when the request had one; no records, rcode NOERROR.
fn reply_to(request: &Message, limits: &Limits) -> Message {
    let mut response = Message::new(request.metadata.id, MessageType::Response, request.metadata.op_code);
    response.metadata = Metadata::response_from_request(&request.metadata);
    response.metadata.recursion_available = false;
    response.metadata.authentic_data = false;
    response.queries = request.queries.clone();
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(limits.max_udp_payload.max(512));
        edns.set_version(0);
        response.edns = Some(edns);
    }
    response
}

/// The reply through hickory-proto for any request, or `None` when it must be dropped. `cookie`
/// is the request's COOKIE option as checked by [`super::respond::cookie_of`]: malformed is
/// FORMERR, a server cookie that is not ours is BADCOOKIE over UDP (answered over TCP, whose
/// handshake already proves the address), and every reply to a cookie carries ours.
pub fn respond(
    snapshot: &Snapshot,
    packet: &[u8],
    transport: Transport,
    limits: &Limits,
    cookie: Option<&Presented>,
) -> Option<Vec<u8>> {
    if dropped_unread(packet) {
        return None;
    }
    let request = match Message::from_vec(packet) {
        Ok(m) => m,
        Err(_) => return encode(&formerr(packet)),
    };
    // The codec drops malformed EDNS options silently and answers; they are a FORMERR.
    if opt_rdata(packet).is_some_and(|rdata| !edns_options_well_formed(rdata)) {
        return encode(&formerr(packet));
    }
    let mut response = match cookie {
        Some(Presented::Malformed) => return encode(&formerr(packet)),
        Some(Presented::Checked { verdict: Verdict::Invalid, .. }) if transport == Transport::Udp => {
            let mut r = reply_to(&request, limits);
            r.metadata.response_code = ResponseCode::BADCOOKIE;
            r
        }
        _ => answer(snapshot, &request, limits),
    };
    if let (Some(Presented::Checked { reply, .. }), Some(edns)) = (cookie, response.edns.as_mut()) {
        edns.options_mut().insert(EdnsOption::Unknown(cookie::OPTION_CODE, reply.to_vec()));
    }
    let max = match (transport, &request.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(e)) => usize::from(e.max_payload().clamp(512, limits.max_udp_payload.max(512))),
    };
    let bytes = encode(&response)?;
    if bytes.len() <= max {
        return Some(bytes);
    }
    encode(&truncated(&response))
}

/// The response message for a parsed request.
fn answer(snapshot: &Snapshot, request: &Message, limits: &Limits) -> Message {
    let mut response = reply_to(request, limits);
    if request.edns.as_ref().is_some_and(|client| client.version() > 0) {
        response.metadata.response_code = ResponseCode::BADVERS;
        return response;
    }
    // No TSIG keys are configured, so every signed request names a key we do not know
    // (RFC 8945 §5.2): NOTAUTH, with an unsigned TSIG saying BADKEY.
    if let Some((key, theirs)) = tsig_of(request) {
        response.metadata.response_code = ResponseCode::NotAuth;
        let tsig = TSIG::new(
            theirs.algorithm.clone(),
            theirs.time,
            theirs.fudge,
            Vec::new(),
            theirs.oid,
            Some(TsigError::BadKey),
            Vec::new(),
        );
        response.signature = Some(Box::new(make_tsig_record(key.clone(), tsig)));
        return response;
    }
    if request.metadata.op_code != OpCode::Query {
        // RD and CD are defined for QUERY only: not echoed for other opcodes.
        response.metadata.recursion_desired = false;
        response.metadata.checking_disabled = false;
        response.metadata.response_code = ResponseCode::NotImp;
        return response;
    }
    let [query] = request.queries.as_slice() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    let refused = matches!(query.query_type(), RecordType::AXFR | RecordType::IXFR)
        || !matches!(query.query_class(), DNSClass::IN);
    let labels: Vec<&[u8]> = query.name().iter().collect();
    match (refused, query::resolve(snapshot, &labels, u16::from(query.query_type()))) {
        (false, Some(a)) => {
            if fill(&mut response, query, &a).is_err() {
                response.answers.clear();
                response.authorities.clear();
                response.additionals.clear();
                response.metadata.response_code = ResponseCode::ServFail;
            }
        }
        _ => response.metadata.response_code = ResponseCode::Refused,
    }
    response
}

/// The request's TSIG record (key name and RDATA), if it is signed. Without hickory's DNSSEC
/// features the codec leaves it among the additional records.
fn tsig_of(request: &Message) -> Option<(&Name, &TSIG)> {
    if let Some(r) = request.signature.as_deref() {
        return Some((&r.name, &r.data));
    }
    request.additionals.iter().rev().find_map(|r| match &r.data {
        RData::TSIG(tsig) => Some((&r.name, tsig)),
        _ => None,
    })
}

/// Copies an abstract answer into the message.
fn fill(response: &mut Message, query: &Query, a: &Answer<'_>) -> Result<(), NameError> {
    if a.unavailable {
        response.metadata.response_code = ResponseCode::ServFail;
        return Ok(());
    }
    let origin = name(&a.zone.config.origin)?;
    response.metadata.authoritative = true;
    response.metadata.response_code = if a.nxdomain { ResponseCode::NXDomain } else { ResponseCode::NoError };
    let record = |rr: &Rr<'_>| -> Result<Record, NameError> {
        let owner = match rr.owner {
            Owner::Qname => query.name().clone(),
            Owner::Apex => origin.clone(),
            Owner::Name(n) => name(n)?,
        };
        let data = match &rr.data {
            Data::A(ip) => RData::A(A(*ip)),
            Data::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
            Data::Txt(t) => RData::TXT(TXT::new(vec![t.clone()])),
            Data::Ns(n) => RData::NS(NS(name(n)?)),
            Data::Soa => soa(a.zone)?,
        };
        Ok(Record::from_rdata(owner, rr.ttl, data))
    };
    response.answers = a.answers.iter().map(record).collect::<Result<_, _>>()?;
    response.authorities = a.authority.iter().map(record).collect::<Result<_, _>>()?;
    response.additionals = a.additional.iter().map(record).collect::<Result<_, _>>()?;
    Ok(())
}

#[derive(Debug)]
struct NameError;

fn name(d: &DomainName) -> Result<Name, NameError> {
    Name::from_ascii(format!("{d}.")).map_err(|_| NameError)
}

/// Whether `packet` asks for a zone transfer (AXFR or IXFR): the cheap look the TCP loop takes
/// before it hands the question to [`transfer`].
pub fn asks_transfer(packet: &[u8]) -> bool {
    let mut at = 12;
    while let Some(&len) = packet.get(at) {
        if len == 0 {
            let qtype = packet.get(at + 1..at + 3).map(|b| u16::from_be_bytes([b[0], b[1]]));
            return qtype == Some(u16::from(RecordType::AXFR)) || qtype == Some(u16::from(RecordType::IXFR));
        }
        if len & 0xc0 != 0 {
            return false;
        }
        at += 1 + usize::from(len);
    }
    false
}

/// What a transfer sent, for the log and the counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The whole zone (an AXFR, or an IXFR the history could not serve), at a serial.
    Whole { serial: u32, records: usize },
    /// An incremental transfer from one serial to another, in steps.
    Incremental { from: u32, to: u32, steps: usize, records: usize },
    /// The current SOA alone (the secondary is up to date).
    Current { serial: u32 },
    /// REFUSED or FORMERR, and why.
    Refused(&'static str),
    /// Stopped part way (the connection is closed so the secondary discards it), and why.
    Aborted(&'static str),
    /// The secondary went away during the transfer.
    Gone,
}

/// A zone transfer a client may have: what [`super::xfr::stream`] writes.
#[derive(Clone, Debug)]
pub struct TransferAsk {
    pub zone: Arc<crate::snapshot::ZoneSnapshot>,
    /// The secondary's serial, for an IXFR.
    pub ixfr_from: Option<u32>,
    pub id: u16,
    /// The request's RD bit (echoed).
    pub rd: bool,
    /// The question section as the request had it.
    pub question: Vec<u8>,
    /// The MAC of the request's TSIG, when the zone has a transfer key (every message of the
    /// answer is then signed).
    pub request_mac: Option<Vec<u8>>,
}

/// What to do with a zone transfer request (see [`asks_transfer`]).
#[derive(Clone, Debug)]
pub enum Asked {
    Transfer(TransferAsk),
    /// One message instead, and why: REFUSED for a zone not served here, a client outside the
    /// zone's `allow-transfer`, anything but a plain IN query, or a request without the zone's
    /// transfer key; NOTAUTH for a bad TSIG; SERVFAIL for a secondary zone without a copy;
    /// FORMERR for an IXFR without the secondary's SOA in its authority section.
    Answer(Vec<u8>, &'static str),
}

/// Reads a zone transfer request (AXFR, RFC 5936; IXFR, RFC 1995) over TCP from `peer` at
/// `now` (Unix seconds, for its TSIG); `None` (drop) for what does not parse.
pub fn transfer_request(snapshot: &Snapshot, packet: &[u8], peer: std::net::IpAddr, now: u64) -> Option<Asked> {
    if dropped_unread(packet) {
        return None;
    }
    let request = Message::from_vec(packet).ok()?;
    let limits = Limits { max_udp_payload: 65_535 };
    let mut response = reply_to(&request, &limits);
    response.edns = None;
    let single = |mut m: Message, code, why| {
        m.metadata.response_code = code;
        encode(&m).map(|b| Asked::Answer(b, why))
    };
    let query = match request.queries.as_slice() {
        [q] if request.metadata.op_code == OpCode::Query && q.query_class() == DNSClass::IN => q,
        _ => return single(response, ResponseCode::Refused, "not a plain IN query"),
    };
    let zone = snapshot.zones.iter().find(|z| name(&z.config.origin).is_ok_and(|n| n.eq_case(query.name())));
    let Some(zone) = zone else {
        return single(response, ResponseCode::Refused, "zone not served here");
    };
    if !zone.config.allow_transfer.iter().any(|p| p.contains(peer)) {
        return single(response, ResponseCode::Refused, "client not in allow-transfer");
    }
    if !zone.serving {
        return single(response, ResponseCode::ServFail, "a secondary zone without a copy");
    }
    let ixfr_from = match query.query_type() {
        RecordType::IXFR => {
            let serial = request.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) if r.name.eq_case(query.name()) => Some(soa.serial),
                _ => None,
            });
            let Some(serial) = serial else {
                return single(response, ResponseCode::FormErr, "IXFR without the secondary's SOA");
            };
            Some(serial)
        }
        _ => None,
    };
    // With a transfer key: unsigned is REFUSED, as for a client outside allow-transfer; a bad
    // signature NOTAUTH with a TSIG saying why (RFC 8945 §5.2).
    let request_mac = match &zone.config.transfer_key {
        None => None,
        Some(key) => match crate::tsig::verify(packet, key, None, &[], now, false) {
            Ok(mac) => Some(mac),
            Err(Signature::Unsigned) => return single(response, ResponseCode::Refused, "TSIG: not signed"),
            Err(Signature::Malformed) => return single(response, ResponseCode::NotAuth, "TSIG: malformed"),
            Err(e) => {
                // With a TSIG record naming the error (RFC 8945 §5.2).
                response.metadata.response_code = ResponseCode::NotAuth;
                let mut reply = encode(&response)?;
                crate::tsig::refusal(&mut reply, packet, e, key, now);
                let why = match e {
                    Signature::BadKey => "TSIG: another key",
                    Signature::BadTime => "TSIG: bad time",
                    _ => "TSIG: bad signature",
                };
                return Some(Asked::Answer(reply, why));
            }
        },
    };
    let question = question_bytes(packet)?.to_vec();
    Some(Asked::Transfer(TransferAsk {
        zone: zone.clone(),
        ixfr_from,
        id: request.metadata.id,
        rd: request.metadata.recursion_desired,
        question,
        request_mac,
    }))
}

/// The question section of a request with one question (name, type, class), as sent.
fn question_bytes(packet: &[u8]) -> Option<&[u8]> {
    let mut at = 12;
    loop {
        let len = *packet.get(at)?;
        if len == 0 {
            return packet.get(12..at + 5);
        }
        if len & 0xc0 != 0 {
            return None;
        }
        at += 1 + usize::from(len);
    }
}

/// The zone's SOA record data, with its current serial.
fn soa(zone: &crate::snapshot::ZoneSnapshot) -> Result<RData, NameError> {
    let (s, serial) = (&zone.config.soa, zone.serial);
    let i = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let data = SOA::new(name(&s.mname)?, name(&s.rname)?, serial, i(s.refresh), i(s.retry), i(s.expire), s.minimum);
    Ok(RData::SOA(data))
}

/// A NOTIFY (RFC 1996 §3.7) for `zone` at its serial: opcode NOTIFY, AA, the question
/// `zone IN SOA`, and the SOA in the answer section as the hint of the new serial.
pub fn notify_message(zone: &crate::snapshot::ZoneSnapshot, id: u16) -> Option<Vec<u8>> {
    let origin = name(&zone.config.origin).ok()?;
    let mut m = Message::new(id, MessageType::Query, OpCode::Notify);
    m.metadata.authoritative = true;
    m.queries = vec![Query::query(origin.clone(), RecordType::SOA)];
    m.answers = vec![Record::from_rdata(origin, zone.config.soa.ttl, soa(zone).ok()?)];
    encode(&m)
}

/// Whether `packet` is the answer to our NOTIFY `id` for `zone`: a response, opcode NOTIFY,
/// NOERROR, the same id and question name.
pub fn notify_answered(packet: &[u8], id: u16, zone: &DomainName) -> bool {
    let Ok(m) = Message::from_vec(packet) else {
        return false;
    };
    let same_zone = match (m.queries.as_slice(), name(zone)) {
        ([q], Ok(n)) => q.name().eq_case(&n),
        _ => false,
    };
    m.metadata.message_type == MessageType::Response
        && m.metadata.op_code == OpCode::Notify
        && m.metadata.id == id
        && m.metadata.response_code == ResponseCode::NoError
        && same_zone
}

/// Whether `packet` is a NOTIFY request (opcode 4, QR=0): the cheap look before [`notify_in`].
pub fn is_notify(packet: &[u8]) -> bool {
    packet.get(2).is_some_and(|&b| b & 0x80 == 0 && (b >> 3) & 0x0f == 4)
}

/// The answer to a NOTIFY from `peer` (RFC 1996 §3.7), and the secondary zone it is for when
/// `peer` is that zone's primary: NOERROR with the question for a zone served here (a NOTIFY
/// from anyone else changes nothing), NOTAUTH for another zone. `None` (drop) for what does not
/// parse.
pub fn notify_in(snapshot: &Snapshot, packet: &[u8], peer: std::net::IpAddr) -> Option<(Vec<u8>, Option<DomainName>)> {
    let request = Message::from_vec(packet).ok()?;
    let mut response = reply_to(&request, &Limits { max_udp_payload: 512 });
    response.metadata.recursion_desired = false;
    response.metadata.checking_disabled = false;
    let zone = request
        .queries
        .first()
        .and_then(|q| snapshot.zones.iter().find(|z| name(&z.config.origin).is_ok_and(|n| n.eq_case(q.name()))));
    let Some(zone) = zone else {
        response.metadata.response_code = ResponseCode::NotAuth;
        return encode(&response).map(|b| (b, None));
    };
    response.metadata.authoritative = true;
    let from_primary = zone.config.primary.is_some_and(|p| p.ip() == peer);
    encode(&response).map(|b| (b, from_primary.then(|| zone.config.origin.clone())))
}

/// A zone transfer request a secondary sends: IXFR from `serial` (the zone's SOA in the
/// authority section, RFC 1995 §3), or AXFR without one.
pub fn transfer_query(zone: &crate::config::ZoneConfig, serial: Option<u32>, id: u16) -> Option<Vec<u8>> {
    let origin = name(&zone.origin).ok()?;
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    let qtype = if serial.is_some() { RecordType::IXFR } else { RecordType::AXFR };
    m.queries = vec![Query::query(origin.clone(), qtype)];
    if let Some(serial) = serial {
        let s = &zone.soa;
        let soa = SOA::new(name(&s.mname).ok()?, name(&s.rname).ok()?, serial, 0, 0, 0, 0);
        m.authorities = vec![Record::from_rdata(origin, 0, RData::SOA(soa))];
    }
    encode(&m)
}

/// One record of a zone transfer as a secondary reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// The zone's SOA, with its serial.
    Soa(u32),
    /// A record-form record: its name below the zone (labels left to right) and data.
    Data(Vec<Vec<u8>>, crate::served::Data),
    /// Anything else (NS and glue, other types, names outside the zone).
    Other,
}

/// The records of one message of a zone transfer for `zone` answering request `id`, or why it
/// is not one (another id, an error code, not a response).
pub fn transfer_message(packet: &[u8], id: u16, zone: &DomainName) -> Result<Vec<Incoming>, String> {
    let m = Message::from_vec(packet).map_err(|e| format!("a message that does not parse: {e}"))?;
    if m.metadata.id != id || m.metadata.message_type != MessageType::Response {
        return Err("not the answer to our request".into());
    }
    if m.metadata.response_code != ResponseCode::NoError {
        return Err(format!("the primary answered {}", m.metadata.response_code));
    }
    let origin = name(zone).map_err(|_| "the zone's name does not encode".to_string())?;
    let depth = usize::from(origin.num_labels());
    Ok(m.answers
        .iter()
        .map(|r| {
            if !origin.zone_of(&r.name) {
                return Incoming::Other;
            }
            let labels: Vec<Vec<u8>> = r.name.iter().map(<[u8]>::to_vec).collect();
            let rel = labels[..labels.len().saturating_sub(depth)].to_vec();
            match (&r.data, rel.is_empty()) {
                (RData::SOA(soa), true) => Incoming::Soa(soa.serial),
                (RData::A(a), false) => Incoming::Data(rel, crate::served::Data::A(a.0)),
                (RData::TXT(t), false) => {
                    let text: Vec<u8> = t.txt_data.iter().flat_map(|s| s.iter().copied()).collect();
                    Incoming::Data(rel, crate::served::Data::Txt(String::from_utf8_lossy(&text).into_owned()))
                }
                (RData::Unknown { code: RecordType::Unknown(65280), .. }, false) => {
                    Incoming::Data(rel, crate::served::Data::Placeholder)
                }
                _ => Incoming::Other,
            }
        })
        .collect())
}

/// FORMERR for a packet that did not parse, with its id, opcode and RD bit.
fn formerr(packet: &[u8]) -> Message {
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let op = OpCode::from_u8((packet[2] >> 3) & 0x0f);
    let mut m = Message::error_msg(id, op, ResponseCode::FormErr);
    m.metadata.recursion_desired = packet[2] & 0x01 != 0;
    m
}

/// The same header and question with no records and TC=1.
fn truncated(full: &Message) -> Message {
    let mut m = Message::new(full.metadata.id, MessageType::Response, full.metadata.op_code);
    m.metadata = full.metadata;
    m.metadata.truncation = true;
    m.queries = full.queries.clone();
    m.edns = full.edns.clone();
    m
}

fn encode(m: &Message) -> Option<Vec<u8>> {
    m.to_bytes().ok()
}
