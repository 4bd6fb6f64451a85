//! The EDNS compliance checks that ISC's `genreport` makes of an authoritative server (its EDNS
//! and FULL groups, the BIND 9.11 query shapes and the well-known-key TSIG query), written here
//! as our own test: each case is built byte by byte, sent to the running server over UDP or TCP,
//! and the reply is parsed byte by byte (not through the codec the server uses) and held to the
//! same rules: opcode and rcode, OPT presence, version and must-be-zero flags, no echo of an
//! unknown option, the SOA where it belongs, AA/RA/RD/AD/CD/Z, size under a 512-byte buffer,
//! the client cookie returned, and the TSIG of a NOTAUTH reply. A failure names every broken
//! rule of every case.

use std::net::SocketAddr;
use std::time::Duration;

use crate::harness::*;

const ZONE: &str = "bl.localhost";
const SOA: u16 = 6;
const DNSKEY: u16 = 48;
const OPT: u16 = 41;
const TSIG: u16 = 250;
const DO: u16 = 0x8000;
const CLIENT_COOKIE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// One query shape: header flags, EDNS (buffer size 0 = none), options, transport.
#[derive(Clone, Copy, Default)]
struct Case {
    name: &'static str,
    opcode: u8,
    qtype: u16,
    /// `aa`, `tc`, `rd`, `ra`, `z`, `ad`, `cd` set in the query.
    flags: &'static str,
    udp_size: u16,
    edns_flags: u16,
    version: u8,
    options: &'static [u8],
    tcp: bool,
    /// Sends a client cookie (the reply must return it).
    cookie: bool,
    /// A TC reply is read as it is (the size is checked instead).
    ignore_tc: bool,
    /// Signed with the well-known TSIG key (".", hmac-sha256).
    tsig: bool,
}

const OPT_100: &[u8] = &[0, 100, 0, 0];
const NSID: &[u8] = &[0, 3, 0, 0];
const ECS: &[u8] = &[0, 8, 0, 4, 0, 1, 0, 0];
const EXPIRE: &[u8] = &[0, 9, 0, 0];
const COOKIE: &[u8] = &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
const OPTLIST: &[u8] = &[0, 3, 0, 0, 0, 8, 0, 4, 0, 1, 0, 0, 0, 9, 0, 0, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];

fn cases() -> Vec<Case> {
    let plain = Case { qtype: SOA, ..Case::default() };
    let edns = Case { udp_size: 4096, ..plain };
    let edns1 = Case { version: 1, ..edns };
    vec![
        Case { name: "dns", ..plain },
        Case { name: "aa", flags: "aa", ..plain },
        Case { name: "ad", flags: "ad", ..plain },
        Case { name: "cd", flags: "cd", ..plain },
        Case { name: "ra", flags: "ra", ..plain },
        Case { name: "rd", flags: "rd", ..plain },
        Case { name: "tc", flags: "tc", ..plain },
        Case { name: "zflag", flags: "z", ..plain },
        Case { name: "opcode", opcode: 15, qtype: 0, ..plain },
        Case { name: "opcodeflg", opcode: 15, qtype: 0, flags: "aa tc rd ra z ad cd", ..plain },
        Case { name: "type666", qtype: 666, ..plain },
        Case { name: "tcp", tcp: true, ..plain },
        Case { name: "edns", ..edns },
        Case { name: "edns1", ..edns1 },
        Case { name: "edns@512", qtype: DNSKEY, udp_size: 512, edns_flags: DO, ignore_tc: true, ..edns },
        Case { name: "ednsopt", options: OPT_100, ..edns },
        Case { name: "edns1opt", options: OPT_100, ..edns1 },
        Case { name: "do", edns_flags: DO, ..edns },
        Case { name: "docd", edns_flags: DO, flags: "cd", ..edns },
        Case { name: "edns1do", edns_flags: DO, ..edns1 },
        Case { name: "ednsflags", edns_flags: 0x0080, ..edns },
        Case { name: "optlist", options: OPTLIST, cookie: true, ..edns },
        Case { name: "ednsnsid", options: NSID, ..edns },
        Case { name: "ednscookie", options: COOKIE, cookie: true, ..edns },
        Case { name: "ednsexpire", options: EXPIRE, ..edns },
        Case { name: "ednssubnet", options: ECS, ..edns },
        Case { name: "edns1nsid", options: NSID, ..edns1 },
        Case { name: "edns1cookie", options: COOKIE, cookie: true, ..edns1 },
        Case { name: "edns1expire", options: EXPIRE, ..edns1 },
        Case { name: "edns1subnet", options: ECS, ..edns1 },
        Case { name: "ednstcp", qtype: DNSKEY, udp_size: 512, edns_flags: DO, tcp: true, ..edns },
        Case { name: "bind11", options: COOKIE, cookie: true, edns_flags: DO, ..edns },
        Case { name: "dig11", options: COOKIE, cookie: true, flags: "rd ad", ..edns },
        Case { name: "dnswkk", tsig: true, ..plain },
    ]
}

fn push_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn has(flags: &str, flag: &str) -> bool {
    flags.split_whitespace().any(|f| f == flag)
}

/// The query of a case, as bytes.
fn query(c: &Case, id: u16, now: u64) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    let f = |name: &str, bit: u8| if has(c.flags, name) { bit } else { 0 };
    p.push(c.opcode << 3 | f("aa", 0x04) | f("tc", 0x02) | f("rd", 0x01));
    p.push(f("ra", 0x80) | f("z", 0x40) | f("ad", 0x20) | f("cd", 0x10));
    let questions = u16::from(c.qtype != 0);
    let additional = u16::from(c.udp_size != 0) + u16::from(c.tsig);
    for n in [questions, 0, 0, additional] {
        p.extend_from_slice(&n.to_be_bytes());
    }
    if c.qtype != 0 {
        push_name(&mut p, ZONE);
        p.extend_from_slice(&c.qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
    }
    if c.udp_size != 0 {
        p.push(0);
        p.extend_from_slice(&OPT.to_be_bytes());
        p.extend_from_slice(&c.udp_size.to_be_bytes());
        p.extend_from_slice(&[0, c.version]);
        p.extend_from_slice(&c.edns_flags.to_be_bytes());
        p.extend_from_slice(&(c.options.len() as u16).to_be_bytes());
        p.extend_from_slice(c.options);
    }
    if c.tsig {
        // Key ".", class ANY, TTL 0; RDATA: algorithm, time (48 bits), fudge, MAC, original id,
        // error, other length. The MAC's value does not matter to a server without the key.
        p.extend_from_slice(&[0]);
        p.extend_from_slice(&TSIG.to_be_bytes());
        p.extend_from_slice(&255u16.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        let mut rdata = Vec::new();
        push_name(&mut rdata, "hmac-sha256");
        rdata.extend_from_slice(&now.to_be_bytes()[2..]);
        rdata.extend_from_slice(&300u16.to_be_bytes());
        rdata.extend_from_slice(&32u16.to_be_bytes());
        rdata.extend_from_slice(&[0; 32]);
        rdata.extend_from_slice(&id.to_be_bytes());
        rdata.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        p.extend_from_slice(&rdata);
    }
    p
}

/// What a reply says, read from its bytes.
#[derive(Debug, Default)]
struct Reply {
    opcode: u8,
    rcode: u16,
    aa: bool,
    rd: bool,
    ra: bool,
    z: bool,
    ad: bool,
    cd: bool,
    counts: [u16; 4],
    soa_in_answer: bool,
    opt: Option<Opt>,
    tsig: Option<Tsig>,
    size: usize,
}

/// A reply's OPT record.
#[derive(Debug)]
struct Opt {
    version: u8,
    flags: u16,
    /// (code, data)
    options: Vec<(u16, Vec<u8>)>,
}

/// A reply's TSIG record.
#[derive(Debug)]
struct Tsig {
    last: bool,
    class: u16,
    ttl: u32,
    key: String,
    algorithm: String,
    time: u64,
    fudge: u16,
    error: u16,
}

struct Bytes<'a>(&'a [u8], usize);

impl Bytes<'_> {
    fn u8(&mut self) -> Result<u8, String> {
        let b = *self.0.get(self.1).ok_or("reply ends early")?;
        self.1 += 1;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from(self.u16()?) << 16 | u32::from(self.u16()?))
    }
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let s = self.0.get(self.1..self.1 + n).ok_or("reply ends early")?;
        self.1 += n;
        Ok(s)
    }
    /// A name at the cursor (pointers followed, at most 64 of them), lower case.
    fn name(&mut self) -> Result<String, String> {
        let (mut labels, mut at, mut jumps, mut end) = (Vec::new(), self.1, 0, None);
        loop {
            let len = *self.0.get(at).ok_or("name runs past the reply")?;
            match len {
                0 => break,
                l if l & 0xc0 == 0xc0 => {
                    let to = usize::from(u16::from_be_bytes([l & 0x3f, *self.0.get(at + 1).ok_or("cut pointer")?]));
                    end.get_or_insert(at + 2);
                    jumps += 1;
                    if jumps > 64 {
                        return Err("pointer loop".into());
                    }
                    at = to;
                }
                l if l <= 63 => {
                    let label = self.0.get(at + 1..at + 1 + usize::from(l)).ok_or("label runs past the reply")?;
                    labels.push(String::from_utf8_lossy(label).to_lowercase());
                    at += 1 + usize::from(l);
                }
                _ => return Err("bad label type".into()),
            }
        }
        self.1 = end.unwrap_or(at + 1);
        Ok(labels.join("."))
    }
}

fn parse(bytes: &[u8]) -> Result<Reply, String> {
    let mut b = Bytes(bytes, 0);
    let _id = b.u16()?;
    let (f1, f2) = (b.u8()?, b.u8()?);
    let mut r = Reply {
        opcode: (f1 >> 3) & 0x0f,
        aa: f1 & 0x04 != 0,
        rd: f1 & 0x01 != 0,
        ra: f2 & 0x80 != 0,
        z: f2 & 0x40 != 0,
        ad: f2 & 0x20 != 0,
        cd: f2 & 0x10 != 0,
        rcode: u16::from(f2 & 0x0f),
        size: bytes.len(),
        ..Reply::default()
    };
    for c in &mut r.counts {
        *c = b.u16()?;
    }
    for _ in 0..r.counts[0] {
        b.name()?;
        b.take(4)?;
    }
    let records = r.counts[1] + r.counts[2] + r.counts[3];
    for i in 0..records {
        let owner = b.name()?;
        let (rtype, class, ttl, rdlen) = (b.u16()?, b.u16()?, b.u32()?, b.u16()?);
        let start = b.1;
        let in_answer = i < r.counts[1];
        let in_additional = i >= r.counts[1] + r.counts[2];
        if in_answer && rtype == SOA && owner == ZONE {
            r.soa_in_answer = true;
        }
        if in_additional && rtype == OPT {
            if r.opt.is_some() {
                return Err("two OPT records".into());
            }
            let mut options = Vec::new();
            let mut o = Bytes(b.take(usize::from(rdlen))?, 0);
            while o.1 < o.0.len() {
                let (code, len) = (o.u16()?, o.u16()?);
                options.push((code, o.take(usize::from(len))?.to_vec()));
            }
            r.rcode |= ((ttl >> 24) as u16) << 4;
            r.opt = Some(Opt { version: ((ttl >> 16) & 0xff) as u8, flags: (ttl & 0xffff) as u16, options });
        } else if in_additional && rtype == TSIG {
            let algorithm = b.name()?;
            let time = u64::from(b.u16()?) << 32 | u64::from(b.u32()?);
            let fudge = b.u16()?;
            let mac_len = b.u16()?;
            b.take(usize::from(mac_len))?;
            let (_original_id, error, other) = (b.u16()?, b.u16()?, b.u16()?);
            b.take(usize::from(other))?;
            let last = i + 1 == records;
            r.tsig = Some(Tsig { last, class, ttl, key: owner, algorithm, time, fudge, error });
        } else {
            b.take(usize::from(rdlen))?;
        }
        if b.1 != start + usize::from(rdlen) {
            return Err(format!("record {i}: RDATA length {rdlen} does not match its contents"));
        }
    }
    if b.1 != bytes.len() {
        return Err("bytes after the last record".into());
    }
    Ok(r)
}

/// Every rule the reply to `c` breaks (empty: compliant).
fn broken(c: &Case, r: &Reply, now: u64) -> Vec<String> {
    let mut bad = Vec::new();
    let mut rule = |ok: bool, what: &str| {
        if !ok {
            bad.push(what.to_string());
        }
    };
    const NOERROR: u16 = 0;
    const NOTIMP: u16 = 4;
    const NOTAUTH: u16 = 9;
    const BADVERS: u16 = 16;
    const BADCOOKIE: u16 = 23;
    let query = c.opcode == 0;
    rule(r.opcode == c.opcode, "opcode not echoed");
    if !query {
        rule(r.rcode == NOTIMP, "unknown opcode: not NOTIMP");
        rule(r.counts == [0, 0, 0, 0], "unknown opcode: sections not empty");
    } else if c.version != 0 {
        rule(r.rcode == BADVERS, "EDNS version 1: not BADVERS");
    } else if c.tsig {
        rule(r.rcode == NOTAUTH, "TSIG with an unknown key: not NOTAUTH");
    } else {
        rule(r.rcode == NOERROR || (c.cookie && r.rcode == BADCOOKIE), "rcode not NOERROR");
    }
    match (&r.opt, c.udp_size) {
        (None, 0) => {}
        (None, _) => rule(false, "no OPT in the reply to an EDNS query"),
        (Some(_), 0) => rule(false, "OPT in the reply to a query without EDNS"),
        (Some(Opt { version, flags, options }), _) => {
            rule(*version == 0, "OPT version not 0");
            rule(flags & 0x7fff == 0, "must-be-zero EDNS flags set");
            rule(!options.iter().any(|(code, _)| *code == 100), "unknown option echoed");
            let cookie = options.iter().find(|(code, _)| *code == 10).map(|(_, d)| d);
            if c.cookie {
                let ok = cookie.is_some_and(|d| (16..=40).contains(&d.len()) && d[..8] == CLIENT_COOKIE);
                rule(ok, "the client cookie did not come back with a server cookie");
            }
        }
    }
    if c.qtype == SOA && c.version == 0 && !c.tsig && r.rcode == NOERROR {
        rule(r.soa_in_answer, "no SOA in the answer");
    }
    if c.qtype == SOA && (c.version != 0 || r.rcode != NOERROR) {
        rule(!r.soa_in_answer, "SOA in the answer of an error");
    }
    if query && c.version == 0 && r.rcode == NOERROR {
        rule(r.aa, "AA not set");
    }
    if !query {
        rule(!r.aa, "AA set for an unknown opcode");
        rule(!r.ra, "RA set for an unknown opcode");
    }
    rule(!(r.rd && (!query || !has(c.flags, "rd"))), "RD set but not asked for (or not a QUERY)");
    rule(!(!r.rd && has(c.flags, "rd") && query), "RD not echoed");
    rule(!(r.ad && (!query || (!has(c.flags, "ad") && c.edns_flags & DO == 0))), "AD set");
    rule(!(r.cd && (!query || !has(c.flags, "cd"))), "CD set but not asked for (or not a QUERY)");
    rule(!r.z, "Z set");
    if c.ignore_tc {
        rule(r.size <= usize::from(if c.udp_size != 0 { c.udp_size } else { 512 }), "reply larger than the buffer");
    }
    if c.tsig {
        match &r.tsig {
            None => rule(false, "no TSIG in the reply"),
            Some(t) => {
                rule(t.last, "TSIG not the last record");
                rule(t.class == 255 && t.ttl == 0, "TSIG class or TTL");
                rule(t.key.is_empty(), "TSIG key name not echoed");
                rule(t.algorithm == "hmac-sha256", "TSIG algorithm not echoed");
                rule(t.fudge != 0 && t.time.abs_diff(now) <= u64::from(t.fudge), "TSIG time outside its fudge");
                rule(t.error == 17, "TSIG error not BADKEY");
            }
        }
    }
    bad
}

fn send(addr: SocketAddr, c: &Case, packet: &[u8]) -> Option<Vec<u8>> {
    let wait = Duration::from_secs(2);
    let udp = |p: &[u8]| (0..3).find_map(|_| udp_raw(addr, p, wait));
    match c.tcp {
        true => tcp_raw(addr, packet, wait),
        false => match udp(packet) {
            // A truncated reply is asked again over TCP, unless the case reads it as it is.
            Some(reply) if reply.get(2).is_some_and(|f| f & 0x02 != 0) && !c.ignore_tc => tcp_raw(addr, packet, wait),
            other => other,
        },
    }
}

#[test]
fn every_genreport_style_check_passes() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let mut failures = Vec::new();
    let all = cases();
    for (i, c) in all.iter().enumerate() {
        let packet = query(c, 0x4000 + i as u16, now);
        let verdict = match send(s.addr, c, &packet).map(|bytes| parse(&bytes)) {
            None => vec!["no reply".to_string()],
            Some(Err(e)) => vec![format!("malformed reply: {e}")],
            Some(Ok(reply)) => broken(c, &reply, now),
        };
        if !verdict.is_empty() {
            failures.push(format!("{}: {}", c.name, verdict.join("; ")));
        }
    }
    eprintln!("{} of {} compliance checks passed", all.len() - failures.len(), all.len());
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_checks_catch_what_they_check() {
    // A reply that breaks rules must be reported: the checker is not a rubber stamp.
    let c = Case { name: "edns", qtype: SOA, udp_size: 4096, ..Case::default() };
    let opt = Opt { version: 1, flags: 0x0001, options: vec![(100, vec![])] };
    let reply = Reply { rcode: 0, aa: false, z: true, opt: Some(opt), ..Reply::default() };
    let found = broken(&c, &reply, 0);
    for expected in
        ["OPT version not 0", "must-be-zero EDNS flags set", "unknown option echoed", "no SOA", "AA not set", "Z set"]
    {
        assert!(found.iter().any(|f| f.contains(expected)), "{expected}: {found:?}");
    }
    let notimp = Case { name: "opcodeflg", opcode: 15, flags: "rd cd", ..Case::default() };
    let echoed = Reply { opcode: 15, rcode: 4, rd: true, cd: true, ..Reply::default() };
    assert_eq!(broken(&notimp, &echoed, 0).len(), 2, "RD and CD echoed for an unknown opcode");
}
