//! What both answer paths need to know about a request: how it arrived, the size limits of a
//! reply, which path wrote it, which packets are dropped before either path reads them, and
//! whether its EDNS options are well formed (RFC 6891 §6.1.2; a malformed one is FORMERR on both
//! paths, where the codec alone would drop the options and answer), and its COOKIE option.

/// Length of the DNS header.
pub const HEADER_LEN: usize = 12;

/// How the request arrived; UDP replies are size-limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Size limits for replies.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest UDP reply to an EDNS client (and the size we advertise).
    pub max_udp_payload: u16,
}

/// Which path wrote a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The allocation-free [`super::lean`] path.
    Lean,
    /// The hickory-proto path ([`super::full`]).
    Full,
}

/// Responses (QR=1) and runts: dropped before anything reads them.
pub fn dropped_unread(packet: &[u8]) -> bool {
    packet.len() < HEADER_LEN || packet[2] & 0x80 != 0
}

/// The type of an OPT record.
pub const TYPE_OPT: u16 = 41;

/// Whether the options in an OPT record's RDATA are well formed: `code:u16 · length:u16 · data`
/// one after another, each inside the RDATA and nothing left over.
pub fn edns_options_well_formed(mut rdata: &[u8]) -> bool {
    while !rdata.is_empty() {
        let Some(head) = rdata.get(..4) else { return false };
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        match rdata.get(4 + len..) {
            Some(rest) => rdata = rest,
            None => return false,
        }
    }
    true
}

/// The RDATA of the request's OPT record (the first in its additional section), found by walking
/// the packet; `None` when it has none or cannot be walked (the codec then says what it is).
pub fn opt_rdata(p: &[u8]) -> Option<&[u8]> {
    let be16 = |at: usize| -> Option<usize> { Some(usize::from(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))) };
    let (questions, answers, authority, additional) = (be16(4)?, be16(6)?, be16(8)?, be16(10)?);
    let mut pos = HEADER_LEN;
    for _ in 0..questions {
        pos = skip_name(p, pos)? + 4;
    }
    // Every record moves `pos` on by at least 11 bytes, so the walk ends within the packet.
    for i in 0..answers + authority + additional {
        pos = skip_name(p, pos)?;
        let (rtype, rdlen) = (be16(pos)?, be16(pos + 8)?);
        let rdata = p.get(pos + 10..pos + 10 + rdlen)?;
        if i >= answers + authority && rtype == usize::from(TYPE_OPT) {
            return Some(rdata);
        }
        pos += 10 + rdlen;
    }
    None
}

/// The data of the first COOKIE option in the request's OPT record (RFC 7873 §5.2: later ones
/// are ignored), if there is one. Cheap for the common query without additional records.
pub fn cookie_option(packet: &[u8]) -> Option<&[u8]> {
    if packet.get(10..12)? == [0, 0] {
        return None;
    }
    let mut rdata = opt_rdata(packet)?;
    while let Some(head) = rdata.get(..4) {
        let (code, len) = (u16::from_be_bytes([head[0], head[1]]), usize::from(u16::from_be_bytes([head[2], head[3]])));
        let data = rdata.get(4..4 + len)?;
        if code == crate::cookie::OPTION_CODE {
            return Some(data);
        }
        rdata = &rdata[4 + len..];
    }
    None
}

/// The labels of the question name, left to right, when it is written without compression;
/// returns how many.
pub fn question_labels<'p>(p: &'p [u8], out: &mut [&'p [u8]; 128]) -> Option<usize> {
    if p.len() < HEADER_LEN || p[4..6] != [0, 1] {
        return None;
    }
    let (mut pos, mut count) = (HEADER_LEN, 0);
    loop {
        let len = usize::from(*p.get(pos)?);
        if len == 0 {
            return Some(count);
        }
        if len > 63 || count == out.len() {
            return None;
        }
        out[count] = p.get(pos + 1..pos + 1 + len)?;
        count += 1;
        pos += 1 + len;
    }
}

/// The position after the (possibly compressed) name at `pos`.
fn skip_name(p: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *p.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => return p.get(pos + 1).map(|_| pos + 2),
            l if l <= 63 => pos += 1 + usize::from(l),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edns_options_are_checked_against_their_rdata() {
        assert!(edns_options_well_formed(&[]));
        assert!(edns_options_well_formed(&[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]), "a client cookie");
        assert!(edns_options_well_formed(&[0, 3, 0, 0, 0, 12, 0, 1, 0]), "NSID, then padding of one byte");
        assert!(!edns_options_well_formed(&[0, 10, 0, 8, 1, 2, 3, 4]), "the length runs past the RDATA");
        assert!(!edns_options_well_formed(&[0, 10, 0]), "a truncated option header");
        assert!(!edns_options_well_formed(&[0, 10, 0, 0, 7]), "bytes left over");
    }

    #[test]
    fn the_opt_record_is_found_behind_questions_and_records() {
        // id, flags, 1 question, 0, 0, 1 additional; question `a.` A IN; OPT with a 4-byte option.
        let mut p = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, b'a', 0, 0, 1, 0, 1];
        p.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 4, 0, 8, 0, 0]);
        assert_eq!(opt_rdata(&p), Some(&[0, 8, 0, 0][..]));
        assert_eq!(opt_rdata(&p[..p.len() - 1]), None, "RDATA cut short: the codec decides");
        let no_opt = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1];
        assert_eq!(opt_rdata(&no_opt), None);
        let pointer_loop = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0xc0, 12, 0, 1, 0, 1];
        assert_eq!(opt_rdata(&pointer_loop), None);
    }
}
