//! The full path: any DNS request in, its response out, wire bytes to wire bytes, via
//! hickory-proto (the only file that uses it).
//!
//! Protocol hygiene lives here: responses (QR=1) and runts are dropped before parsing
//! ([`super::request::dropped_unread`]); what does not parse, and malformed EDNS options, get
//! FORMERR; so does a malformed COOKIE option, and a server cookie that is not ours gets BADCOOKIE
//! over UDP (DNS cookies, [`crate::cookie`]); a TSIG-signed request gets NOTAUTH with TSIG BADKEY (no keys are configured);
//! opcodes other than QUERY get NOTIMP (RD and CD not echoed); EDNS is echoed, version > 0 gets BADVERS; zone transfers over UDP and non-IN classes are REFUSED (AXFR and IXFR over TCP are [`transfer`]); UDP replies over the client's limit
//! (512 without EDNS, else its size capped by `max-udp-payload`) are truncated honestly (TC=1,
//! question only). The answer itself comes from [`crate::query::resolve`]. Common queries are
//! answered by [`super::lean`] first ([`super::respond::respond`] picks the path).

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::tsig::{make_tsig_record, TsigError};
use hickory_proto::rr::rdata::{A, AAAA, NS, NULL, SOA, TSIG, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use crate::cookie::{self, Presented, Verdict};
use crate::name::DomainName;
use crate::query::{self, Answer, Data, Owner, Rr};
use crate::snapshot::Snapshot;

use super::journal::Since;
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

/// Records per message of a zone transfer (each message stays far below 64 KiB: a record is at
/// most a name of 75 bytes and a TXT of 255).
const TRANSFER_RECORDS_PER_MESSAGE: usize = 100;

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
    /// REFUSED, FORMERR or SERVFAIL, and why.
    Refused(&'static str),
}

/// The messages of a zone transfer over TCP, and what they are:
///
/// - AXFR (RFC 5936): the zone's SOA, its NS and glue, every name of its record form
///   ([`crate::served`]), the SOA again;
/// - IXFR (RFC 1995): the newest SOA, then per step of the history since the secondary's serial
///   (the SOA of the request's authority section) the old SOA, the records that go, the new
///   SOA, the records that come; then the newest SOA. The newest SOA alone when the secondary
///   is current; the whole zone as for AXFR when the history does not reach back to its serial.
///
/// REFUSED for a zone not served here, a client outside the zone's `allow-transfer`, or
/// anything but a plain IN query; FORMERR for an IXFR without the secondary's SOA; SERVFAIL
/// when the zone has more names than its `transfer-max-names`. `None` (drop) for what does
/// not parse. The zone's history catches up with the served snapshot first.
pub fn transfer(
    snapshot: &Snapshot,
    journal: &super::journal::Journal,
    packet: &[u8],
    peer: std::net::IpAddr,
) -> Option<(Vec<Vec<u8>>, Sent)> {
    if dropped_unread(packet) {
        return None;
    }
    let request = Message::from_vec(packet).ok()?;
    let limits = Limits { max_udp_payload: 65_535 };
    let mut response = reply_to(&request, &limits);
    response.edns = None;
    let single = |mut m: Message, code, why| {
        m.metadata.response_code = code;
        encode(&m).map(|b| (vec![b], Sent::Refused(why)))
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
    let theirs = match query.query_type() {
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
    let zone = journal.catch_up(zone);
    response.metadata.authoritative = true;
    let since = theirs.map(|serial| (serial, journal.since(&zone.config.origin, serial)));
    let (records, sent) = match since {
        Some((_, Since::Current)) => {
            let soa = Record::from_rdata(name(&zone.config.origin).ok()?, zone.config.soa.ttl, soa(&zone).ok()?);
            (vec![soa], Sent::Current { serial: zone.serial })
        }
        Some((from, Since::Steps(steps))) => {
            let Ok(records) = incremental_records(&zone, &steps) else {
                return single(response, ResponseCode::ServFail, "a name that does not encode");
            };
            let changed = steps.iter().map(|s| s.removed.len() + s.added.len()).sum();
            (records, Sent::Incremental { from, to: zone.serial, steps: steps.len(), records: changed })
        }
        Some((_, Since::Whole)) | None => {
            let Ok(served) = crate::served::records_of(&zone, zone.config.transfer_max_names) else {
                return single(response, ResponseCode::ServFail, "more names than transfer-max-names");
            };
            let Ok(records) = transfer_records(&zone, &served) else {
                return single(response, ResponseCode::ServFail, "a name that does not encode");
            };
            let count = served.records.len();
            (records, Sent::Whole { serial: zone.serial, records: count })
        }
    };
    let mut out = Vec::new();
    for (i, chunk) in records.chunks(TRANSFER_RECORDS_PER_MESSAGE).enumerate() {
        let mut m = response.clone();
        if i > 0 {
            m.queries.clear();
        }
        m.answers = chunk.to_vec();
        out.push(encode(&m)?);
    }
    Some((out, sent))
}

/// The records of an incremental transfer in order (RFC 1995 §4).
fn incremental_records(
    zone: &crate::snapshot::ZoneSnapshot,
    steps: &[Arc<super::journal::Step>],
) -> Result<Vec<Record>, NameError> {
    let config = &zone.config;
    let origin = name(&config.origin)?;
    let soa_at = |serial| -> Result<Record, NameError> {
        Ok(Record::from_rdata(origin.clone(), config.soa.ttl, soa_with(zone, serial)?))
    };
    let rr = |r: &super::journal::Rr| -> Result<Record, NameError> {
        let owner = Name::from_ascii(format!("{}.{}.", r.owner, config.origin)).map_err(|_| NameError)?;
        Ok(Record::from_rdata(owner, config.ttl, rdata(&r.data)))
    };
    let mut out = vec![soa_at(zone.serial)?];
    for step in steps {
        out.push(soa_at(step.from)?);
        for r in &step.removed {
            out.push(rr(r)?);
        }
        out.push(soa_at(step.to)?);
        for r in &step.added {
            out.push(rr(r)?);
        }
    }
    out.push(soa_at(zone.serial)?);
    Ok(out)
}

/// The record data of a record-form record.
fn rdata(data: &crate::served::Data) -> RData {
    match data {
        crate::served::Data::A(ip) => RData::A(A(*ip)),
        crate::served::Data::Txt(t) => RData::TXT(TXT::new(vec![t.clone()])),
        crate::served::Data::Placeholder => {
            RData::Unknown { code: RecordType::Unknown(65280), rdata: NULL::with(vec![0]) }
        }
    }
}

/// The records of a transfer in order: SOA, NS and glue, the record form, SOA.
fn transfer_records(
    zone: &crate::snapshot::ZoneSnapshot,
    served: &crate::served::ServedRecords,
) -> Result<Vec<Record>, NameError> {
    let config = &zone.config;
    let origin = name(&config.origin)?;
    let soa = Record::from_rdata(origin.clone(), config.soa.ttl, soa(zone)?);
    let mut out = vec![soa.clone()];
    for ns in &config.ns {
        out.push(Record::from_rdata(origin.clone(), ns.ttl, RData::NS(NS(name(&ns.name)?))));
        for ip in &ns.addresses {
            let data = match ip {
                std::net::IpAddr::V4(v4) => RData::A(A(*v4)),
                std::net::IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
            };
            out.push(Record::from_rdata(name(&ns.name)?, ns.ttl, data));
        }
    }
    for r in &served.records {
        let owner = Name::from_ascii(format!("{}.{}.", r.owner(), config.origin)).map_err(|_| NameError)?;
        for data in served.data(r) {
            out.push(Record::from_rdata(owner.clone(), config.ttl, rdata(&data)));
        }
    }
    out.push(soa);
    Ok(out)
}

/// The zone's SOA record data, with its current serial.
fn soa(zone: &crate::snapshot::ZoneSnapshot) -> Result<RData, NameError> {
    soa_with(zone, zone.serial)
}

/// The zone's SOA record data at `serial`.
fn soa_with(zone: &crate::snapshot::ZoneSnapshot, serial: u32) -> Result<RData, NameError> {
    let s = &zone.config.soa;
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
