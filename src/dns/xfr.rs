//! Zone transfers written as they are made: AXFR (RFC 5936) and IXFR (RFC 1995) messages
//! encoded here, without hickory (a list's record form is millions of simple records), and
//! handed one by one to the TCP connection, so a transfer holds one message at a time and not
//! the zone.
//!
//! The request was checked by [`super::full::transfer_request`] (zone, `allow-transfer`, the
//! secondary's serial); [`stream`] catches the zone's history up and writes:
//!
//! - the whole zone: SOA, NS and glue, every record of its record form ([`crate::served`]), SOA;
//! - an IXFR: the newest SOA, per step the old SOA, what goes, the new SOA, what comes; the
//!   newest SOA (the newest SOA alone for a secondary that is current).
//!
//! Messages are cut at [`MESSAGE_BYTES`]; the first carries the question. Owner names point to
//! the zone's name written once per message (name compression, RFC 1035 §4.1.4).

use std::ops::ControlFlow;
use std::sync::Arc;

use crate::served::{self, Data};
use crate::snapshot::ZoneSnapshot;
use crate::zoneform::{Label, Record, WILDCARD};

use super::full::{Sent, TransferAsk};
use super::journal::{Journal, Rr, Since};

/// A message is sent once it holds this many bytes (a record is at most ~600 bytes, so every
/// message stays far below 64 KiB).
pub const MESSAGE_BYTES: usize = 16_000;

const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const TYPE_AAAA: u16 = 28;
/// The private-use type of placeholders (see [`crate::zoneform`]).
const TYPE_PLACEHOLDER: u16 = 65280;
const CLASS_IN: u16 = 1;

/// The receiver went away (the secondary closed the connection): stop writing.
struct Gone;

/// Writes the transfer `ask` asks for, handing each message to `send` (false: stop). Returns
/// what was sent; [`Sent::Aborted`] when the zone turned out larger than its
/// `transfer-max-names` after messages went out (the connection must then be closed).
pub fn stream(ask: &TransferAsk, journal: &Journal, send: &mut dyn FnMut(Vec<u8>) -> bool) -> Sent {
    let zone = journal.catch_up(&ask.zone);
    let mut out = Messages::new(ask, &zone, send);
    let since = ask.ixfr_from.map(|serial| (serial, journal.since(&zone.config.origin, serial, zone.serial)));
    let result =
        match since {
            Some((_, Since::Current)) => {
                out.soa(zone.serial).and_then(|()| out.flush()).map(|()| Sent::Current { serial: zone.serial })
            }
            Some((from, Since::Steps(steps))) => incremental(&mut out, &zone, &steps)
                .map(|records| Sent::Incremental { from, to: zone.serial, steps: steps.len(), records }),
            Some((_, Since::Whole)) | None => whole(&mut out, &zone),
        };
    result.unwrap_or(Sent::Gone)
}

fn whole(out: &mut Messages<'_>, zone: &ZoneSnapshot) -> Result<Sent, Gone> {
    let config = &zone.config;
    out.soa(zone.serial)?;
    for ns in &config.ns {
        out.rr(&Owner::Apex, TYPE_NS, ns.ttl, ns.name.wire())?;
        for ip in &ns.addresses {
            let (rtype, data) = match ip {
                std::net::IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
                std::net::IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
            };
            out.rr(&Owner::Absolute(ns.name.wire()), rtype, ns.ttl, &data)?;
        }
    }
    // A receiver that went away stops the walk itself, not only the sends.
    let counted = served::each_record(zone, config.transfer_max_names, &mut |record, data| match data
        .iter()
        .try_for_each(|d| out.data(&Owner::Record(record), config.ttl, d))
    {
        Ok(()) => ControlFlow::Continue(()),
        Err(Gone) => ControlFlow::Break(()),
    });
    let records = match counted {
        Ok(Some(records)) => records,
        Ok(None) => return Err(Gone),
        Err(_) => return Ok(Sent::Aborted("more names than transfer-max-names")),
    };
    out.soa(zone.serial)?;
    out.flush()?;
    Ok(Sent::Whole { serial: zone.serial, records })
}

fn incremental(
    out: &mut Messages<'_>,
    zone: &ZoneSnapshot,
    steps: &[Arc<super::journal::Step>],
) -> Result<usize, Gone> {
    let ttl = zone.config.ttl;
    let mut records = 0;
    out.soa(zone.serial)?;
    for step in steps {
        out.soa(step.from)?;
        for Rr { owner, data } in &step.removed {
            out.data(&Owner::Relative(owner), ttl, data)?;
        }
        out.soa(step.to)?;
        for Rr { owner, data } in &step.added {
            out.data(&Owner::Relative(owner), ttl, data)?;
        }
        records += step.removed.len() + step.added.len();
    }
    out.soa(zone.serial)?;
    out.flush()?;
    Ok(records)
}

/// Whose record: the zone's apex, a name written out in full, a record-form name, or a name
/// relative to the zone as text (`*.8.67.45`).
enum Owner<'a> {
    Apex,
    Absolute(&'a [u8]),
    Record(&'a Record),
    Relative(&'a str),
}

/// The messages of one transfer, one being filled.
struct Messages<'a> {
    send: &'a mut dyn FnMut(Vec<u8>) -> bool,
    zone: &'a ZoneSnapshot,
    /// Header id and flags (QR, AA, the request's RD).
    id: u16,
    flags: u16,
    /// The question, for the first message only.
    question: Option<Vec<u8>>,
    buf: Vec<u8>,
    count: u16,
    /// Where this message has the zone's name (for compression pointers).
    origin_at: Option<u16>,
    /// Signing: the zone's transfer key, the MAC the next message answers, and whether the
    /// first message is still to come.
    tsig: Option<(crate::tsig::Key, Vec<u8>, bool)>,
    /// The last record-form owner written in this message, and where each of its names
    /// starts (index i: the name of its top `i + 1` labels): the next owner points to the
    /// longest name the two share.
    last_path: Vec<Label>,
    last_at: Vec<Option<u16>>,
}

impl<'a> Messages<'a> {
    fn new(ask: &TransferAsk, zone: &'a ZoneSnapshot, send: &'a mut dyn FnMut(Vec<u8>) -> bool) -> Messages<'a> {
        // QR, AA, and RD as the request had it (RCODE 0).
        let flags = 0x8400 | if ask.rd { 0x0100 } else { 0 };
        let mut m = Messages {
            send,
            zone,
            id: ask.id,
            flags,
            question: Some(ask.question.clone()),
            buf: Vec::with_capacity(MESSAGE_BYTES + 1024),
            count: 0,
            origin_at: None,
            last_path: Vec::new(),
            last_at: Vec::new(),
            tsig: zone.config.transfer_key.clone().zip(ask.request_mac.clone()).map(|(k, mac)| (k, mac, true)),
        };
        m.begin();
        m
    }

    fn begin(&mut self) {
        self.buf.clear();
        self.count = 0;
        self.origin_at = None;
        self.last_path.clear();
        self.last_at.clear();
        let question = self.question.take();
        let qdcount = u16::from(question.is_some());
        for v in [self.id, self.flags, qdcount, 0, 0, 0] {
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
        if let Some(q) = question {
            self.buf.extend_from_slice(&q);
        }
    }

    /// Sends the message being filled (if it has records) and starts the next.
    fn flush(&mut self) -> Result<(), Gone> {
        if self.count == 0 {
            return Ok(());
        }
        self.buf[6..8].copy_from_slice(&self.count.to_be_bytes());
        let mut message = std::mem::replace(&mut self.buf, Vec::with_capacity(MESSAGE_BYTES + 1024));
        if let Some((key, prior, first)) = &mut self.tsig {
            // The first message answers the request's MAC with all TSIG variables; each later
            // one the previous message's MAC, with the timers only.
            *prior = crate::tsig::sign(&mut message, key, Some(prior.as_slice()), crate::clock::unix_now(), !*first);
            *first = false;
        }
        if !(self.send)(message) {
            return Err(Gone);
        }
        self.begin();
        Ok(())
    }

    /// The zone's name: a pointer to it once it is in the message, else written out.
    fn origin(&mut self) {
        match self.origin_at {
            Some(at) => self.buf.extend_from_slice(&(0xc000 | at).to_be_bytes()),
            None => {
                if let Ok(at) = u16::try_from(self.buf.len()) {
                    if at < 0x4000 {
                        self.origin_at = Some(at);
                    }
                }
                self.buf.extend_from_slice(self.zone.config.origin.wire());
            }
        }
    }

    fn owner(&mut self, owner: &Owner<'_>) {
        match owner {
            Owner::Apex => {}
            Owner::Absolute(wire) => {
                self.buf.extend_from_slice(wire);
                return;
            }
            Owner::Record(r) => {
                // The longest name shared with the last owner whose place in this message is
                // known; the labels below it are written, then a pointer to it.
                let mut shared = r.path.iter().zip(&self.last_path).take_while(|(a, b)| a == b).count();
                while shared > 0 && self.last_at.get(shared - 1).copied().flatten().is_none() {
                    shared -= 1;
                }
                let mut at = vec![None; r.path.len()];
                at[..shared].copy_from_slice(&self.last_at[..shared]);
                for i in (shared..r.path.len()).rev() {
                    at[i] = u16::try_from(self.buf.len()).ok().filter(|&o| o < 0x4000);
                    push_label(&mut self.buf, r.path[i]);
                }
                let pointer = shared.checked_sub(1).and_then(|i| at[i]);
                self.last_path.clone_from(&r.path);
                self.last_at = at;
                if let Some(p) = pointer {
                    self.buf.extend_from_slice(&(0xc000 | p).to_be_bytes());
                    return;
                }
            }
            Owner::Relative(text) => {
                for label in text.split('.').filter(|l| !l.is_empty()) {
                    let bytes = &label.as_bytes()[..label.len().min(63)];
                    self.buf.push(bytes.len() as u8);
                    self.buf.extend_from_slice(bytes);
                }
            }
        }
        self.origin();
    }

    fn rr(&mut self, owner: &Owner<'_>, rtype: u16, ttl: u32, rdata: &[u8]) -> Result<(), Gone> {
        if self.buf.len() >= MESSAGE_BYTES {
            self.flush()?;
        }
        self.owner(owner);
        for v in [rtype, CLASS_IN] {
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let len = u16::try_from(rdata.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(&rdata[..usize::from(len)]);
        self.count += 1;
        Ok(())
    }

    fn data(&mut self, owner: &Owner<'_>, ttl: u32, data: &Data) -> Result<(), Gone> {
        match data {
            Data::A(ip) => self.rr(owner, TYPE_A, ttl, &ip.octets()),
            Data::Txt(text) => {
                // One character-string of at most 255 bytes, as the answers have.
                let bytes = &text.as_bytes()[..text.len().min(255)];
                let mut rdata = Vec::with_capacity(bytes.len() + 1);
                rdata.push(bytes.len() as u8);
                rdata.extend_from_slice(bytes);
                self.rr(owner, TYPE_TXT, ttl, &rdata)
            }
            Data::Placeholder => self.rr(owner, TYPE_PLACEHOLDER, ttl, &[0]),
        }
    }

    /// The zone's SOA at `serial`.
    fn soa(&mut self, serial: u32) -> Result<(), Gone> {
        let s = &self.zone.config.soa;
        let mut rdata = Vec::with_capacity(64);
        rdata.extend_from_slice(s.mname.wire());
        rdata.extend_from_slice(s.rname.wire());
        for v in [serial, s.refresh, s.retry, s.expire, s.minimum] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        self.rr(&Owner::Apex, TYPE_SOA, s.ttl, &rdata)
    }
}

/// Writes one record-form label (`*`, a decimal octet, a nibble a-f) in wire form.
fn push_label(buf: &mut Vec<u8>, label: Label) {
    match label {
        WILDCARD => buf.extend_from_slice(&[1, b'*']),
        l if l < 10 => buf.extend_from_slice(&[1, b'0' + l as u8]),
        l if l < 100 => buf.extend_from_slice(&[2, b'0' + (l / 10) as u8, b'0' + (l % 10) as u8]),
        l if l < 256 => {
            buf.extend_from_slice(&[3, b'0' + (l / 100) as u8, b'0' + (l / 10 % 10) as u8, b'0' + (l % 10) as u8])
        }
        l => buf.extend_from_slice(&[1, b'a' + (l - 256) as u8]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_written_as_the_text_form_spells_them() {
        for label in [0, 7, 10, 99, 100, 255, 256, 261, WILDCARD] {
            let mut buf = Vec::new();
            push_label(&mut buf, label);
            let text = crate::zoneform::label_text(label);
            assert_eq!(buf[0] as usize, text.len());
            assert_eq!(&buf[1..], text.as_bytes(), "{label}");
        }
    }
}
