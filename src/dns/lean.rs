//! The fast path for the common query: read the question in place, write the answer into a
//! reused buffer. No hickory, no allocation.
//!
//! It takes only this shape: a QUERY with one question of class IN and type A or TXT, no answer
//! or authority records, at most one additional record which is a plain EDNS(0) OPT, nothing after
//! it, and a name that is an address under a served zone (listed, not listed, or an empty
//! non-terminal) or outside every zone (REFUSED). Everything else — apex and name-server names,
//! other types, EDNS versions above 0, compressed question names, replies that would need
//! truncation — returns `false` and goes to the full path in [`super::full`], which gives
//! the same answers (a differential property test holds the two together).

use std::net::IpAddr;

use crate::cookie::ReplyCookie;
use crate::query::{self, qtype, Lookup};
use crate::snapshot::{Snapshot, ZoneSnapshot};
use crate::trie::PrefixTable;

use super::request::{edns_options_well_formed, Limits, Transport, HEADER_LEN, TYPE_OPT};

const MAX_LABELS: usize = 64;
const CLASS_IN: u16 = 1;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_REFUSED: u8 = 5;

/// The question of a query in the common shape, borrowed from the packet ([`Question::parse`]).
#[derive(Debug)]
pub struct Question<'p> {
    /// The whole query (header and question are copied into the reply).
    packet: &'p [u8],
    labels: [&'p [u8]; MAX_LABELS],
    count: usize,
    /// End of the question section.
    end: usize,
    qtype: u16,
    /// The client's EDNS payload size, if it sent an OPT.
    edns: Option<u16>,
}

/// Writes the reply to `packet` into `out` and returns `true`, or returns `false` when the query
/// is not in the common shape (the caller then uses the full path). The caller has already
/// dropped responses (QR=1) and runts. Three steps: [`Question::parse`], [`query::classify`],
/// [`encode`] (public so the benchmarks can time each).
/// `cookie` is the COOKIE option the reply carries, if any.
pub fn answer(
    snapshot: &Snapshot,
    packet: &[u8],
    transport: Transport,
    limits: &Limits,
    cookie: Option<&ReplyCookie>,
    out: &mut Vec<u8>,
) -> bool {
    let Some(q) = Question::parse(packet) else {
        return false;
    };
    let reply = Reply { transport, limits, cookie };
    encode(&q, query::classify(snapshot, q.labels()), &reply, out)
}

/// What the reply to a question depends on besides the answer: the transport's size limit, our
/// limits and the COOKIE option it carries.
#[derive(Clone, Copy, Debug)]
pub struct Reply<'a> {
    pub transport: Transport,
    pub limits: &'a Limits,
    pub cookie: Option<&'a ReplyCookie>,
}

/// Where an IPv4 lookup for this query will read ([`query::locate_v4`]), if it is one.
pub fn locate_v4<'s>(snapshot: &'s Snapshot, packet: &[u8]) -> Option<(&'s PrefixTable<u32>, u32)> {
    query::locate_v4(snapshot, Question::parse(packet)?.labels())
}

/// Writes the reply to the question `q`, classified as `found`, into `out`; `false` when it needs
/// the full path.
pub fn encode(
    q: &Question<'_>,
    found: Option<(&ZoneSnapshot, usize, Lookup<'_>)>,
    reply: &Reply<'_>,
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let (packet, labels) = (q.packet, q.labels());
    let Some((zone, depth, lookup)) = found else {
        write_header(out, packet, RCODE_REFUSED, false, 0, 0, q.edns.is_some());
        out.extend_from_slice(&packet[HEADER_LEN..q.end]);
        return finish(out, q, reply);
    };
    match lookup {
        Lookup::Listed(hits, ip) => {
            let ttl = zone.config.ttl;
            // One dataset listing the address is the common case: its codes and text as they are,
            // without the union's de-duplication.
            let written = match (hits.single(), q.qtype == qtype::A) {
                (Some(l), true) => write_listed(out, q, ttl, l.codes().len(), l.codes().iter().copied().map(Data::A)),
                (Some(l), false) => {
                    write_listed(out, q, ttl, 1, std::iter::once(Data::Txt(query::txt_template(zone, l), ip)))
                }
                (None, true) => write_listed(out, q, ttl, hits.codes().count(), hits.codes().map(Data::A)),
                (None, false) => {
                    let count = hits.templates(zone).count();
                    write_listed(out, q, ttl, count, hits.templates(zone).map(|t| Data::Txt(t, ip)))
                }
            };
            if !written {
                return false;
            }
        }
        Lookup::Below | Lookup::Nothing => {
            let rcode = if matches!(lookup, Lookup::Nothing) { RCODE_NXDOMAIN } else { 0 };
            write_header(out, packet, rcode, true, 0, 1, q.edns.is_some());
            out.extend_from_slice(&packet[HEADER_LEN..q.end]);
            let apex_offset = HEADER_LEN + labels[..q.count - depth].iter().map(|l| l.len() + 1).sum::<usize>();
            write_soa(out, zone, apex_offset);
        }
        Lookup::Apex | Lookup::NameServer(_) | Lookup::Unavailable => return false,
    }
    finish(out, q, reply)
}

impl<'p> Question<'p> {
    /// Parses the common query shape, or `None`.
    pub fn parse(p: &'p [u8]) -> Option<Question<'p>> {
        let be16 = |at: usize| -> Option<u16> { Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?])) };
        // Opcode QUERY; one question; nothing in answer/authority; at most the OPT in additional.
        if p.len() < HEADER_LEN || (p[2] >> 3) & 0x0f != 0 {
            return None;
        }
        if be16(4)? != 1 || be16(6)? != 0 || be16(8)? != 0 || be16(10)? > 1 {
            return None;
        }
        let mut labels: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
        let mut count = 0;
        let mut pos = HEADER_LEN;
        loop {
            let len = usize::from(*p.get(pos)?);
            if len == 0 {
                pos += 1;
                break;
            }
            // Compression pointers and extended label types go to the full path.
            if len > 63 || count == MAX_LABELS {
                return None;
            }
            labels[count] = p.get(pos + 1..pos + 1 + len)?;
            count += 1;
            pos += 1 + len;
        }
        if pos - HEADER_LEN > 255 {
            return None;
        }
        let (qtype, qclass) = (be16(pos)?, be16(pos + 2)?);
        let end = pos + 4;
        if qclass != CLASS_IN || !matches!(qtype, qtype::A | qtype::TXT) {
            return None;
        }
        let edns = match be16(10)? {
            1 => Some(parse_opt(p, end)?),
            _ if p.len() == end => None,
            _ => return None,
        };
        Some(Question { packet: p, labels, count, end, qtype, edns })
    }

    /// The question name's labels, first (leftmost) first.
    pub fn labels(&self) -> &[&'p [u8]] {
        &self.labels[..self.count]
    }
}

/// A plain OPT record at `at` that ends the packet: returns its payload size; `None` for anything
/// else (including EDNS versions above 0, which get BADVERS from the full path, and malformed
/// options, which get FORMERR there).
fn parse_opt(p: &[u8], at: usize) -> Option<u16> {
    let rec = p.get(at..at + 11)?;
    let (rtype, payload) = (u16::from_be_bytes([rec[1], rec[2]]), u16::from_be_bytes([rec[3], rec[4]]));
    let (version, rdlen) = (rec[6], usize::from(u16::from_be_bytes([rec[9], rec[10]])));
    if rec[0] != 0 || rtype != TYPE_OPT || version != 0 || at + 11 + rdlen != p.len() {
        return None;
    }
    if rdlen > 0 && !edns_options_well_formed(&p[at + 11..]) {
        return None;
    }
    Some(payload)
}

/// One record of a listed name's answer.
#[derive(Clone, Copy)]
enum Data<'t> {
    A(crate::model::ListingCode),
    /// A TXT template, expanded for the address.
    Txt(&'t str, IpAddr),
}

/// The NOERROR answer with the `count` `records` (owner: the question name); `false` when
/// there are too many to count in a header.
fn write_listed<'t>(
    out: &mut Vec<u8>,
    q: &Question<'_>,
    ttl: u32,
    count: usize,
    records: impl Iterator<Item = Data<'t>>,
) -> bool {
    let Ok(count) = u16::try_from(count) else { return false };
    write_header(out, q.packet, 0, true, count, 0, q.edns.is_some());
    out.extend_from_slice(&q.packet[HEADER_LEN..q.end]);
    for record in records {
        match record {
            Data::A(code) => {
                write_rr_head(out, qtype::A, ttl);
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(&code.addr().octets());
            }
            Data::Txt(template, ip) => {
                write_rr_head(out, qtype::TXT, ttl);
                let rdlen_at = out.len();
                out.extend_from_slice(&[0, 0, 0]);
                crate::model::expand_txt_into(template, ip, out);
                let text_len = out.len() - rdlen_at - 3;
                // expand_txt_into caps the text at 255 bytes.
                out[rdlen_at..rdlen_at + 2].copy_from_slice(&((text_len + 1) as u16).to_be_bytes());
                out[rdlen_at + 2] = text_len as u8;
            }
        }
    }
    true
}

/// Header of a response to `req`: QR, AA as given, RD and CD copied, RA/AD/Z clear.
fn write_header(out: &mut Vec<u8>, req: &[u8], rcode: u8, aa: bool, answers: u16, authority: u16, opt: bool) {
    out.extend_from_slice(&req[..2]);
    out.push(0x80 | if aa { 0x04 } else { 0 } | (req[2] & 0x01));
    out.push((req[3] & 0x10) | rcode);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&authority.to_be_bytes());
    out.extend_from_slice(&u16::from(opt).to_be_bytes());
}

/// Owner (a pointer to the question name), type, class IN and TTL of a record.
fn write_rr_head(out: &mut Vec<u8>, rtype: u16, ttl: u32) {
    out.extend_from_slice(&[0xc0, HEADER_LEN as u8]);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
}

/// The zone's SOA for a negative answer; the owner points at the apex inside the question.
fn write_soa(out: &mut Vec<u8>, zone: &ZoneSnapshot, apex_offset: usize) {
    let soa = &zone.config.soa;
    // Question names are at most 255 bytes, so the apex offset fits a 14-bit pointer.
    out.extend_from_slice(&(0xc000 | apex_offset as u16).to_be_bytes());
    out.extend_from_slice(&6u16.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&soa.ttl.min(soa.minimum).to_be_bytes());
    let rdlen_at = out.len();
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(soa.mname.wire());
    out.extend_from_slice(soa.rname.wire());
    for v in [
        zone.serial,
        soa.refresh.min(i32::MAX as u32),
        soa.retry.min(i32::MAX as u32),
        soa.expire.min(i32::MAX as u32),
        soa.minimum,
    ] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let rdlen = (out.len() - rdlen_at - 2) as u16;
    out[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
}

/// Appends the OPT (if the query had one), with the COOKIE option, and checks the size limit.
fn finish(out: &mut Vec<u8>, q: &Question<'_>, reply: &Reply<'_>) -> bool {
    let ours = reply.limits.max_udp_payload.max(512);
    if q.edns.is_some() {
        out.push(0);
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&ours.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        match reply.cookie {
            None => out.extend_from_slice(&[0, 0]),
            Some(cookie) => {
                out.extend_from_slice(&(4 + cookie.len() as u16).to_be_bytes());
                out.extend_from_slice(&crate::cookie::OPTION_CODE.to_be_bytes());
                out.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
                out.extend_from_slice(cookie);
            }
        }
    }
    let max = match (reply.transport, q.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(client)) => usize::from(client.clamp(512, ours)),
    };
    // Replies that need truncation take the full path, which truncates.
    out.len() <= max
}
