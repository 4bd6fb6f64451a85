//! Abuse Reporting Format (RFC 5965) reports → [`Report`]: a `multipart/report` with
//! `report-type=feedback-report`, whose `message/feedback-report` part holds the fields
//! (`Feedback-Type`, `User-Agent`, `Version`, `Source-IP`, `Arrival-Date`, `Reported-Domain`…)
//! and whose third part is the reported message (`message/rfc822`) or its headers
//! (`text/rfc822-headers`). MIME is `mail-parser`'s; the rules of the module above are ours.

use std::net::IpAddr;

use mail_parser::{DateTime, HeaderName, HeaderValue, Host, Message, MessageParser, MimeHeaders, PartType};

use super::{IpFrom, Mailing, Original, Report, ReportError, TrapHit, MAX_REPORT_BYTES};

/// Reads one feedback report.
pub fn parse(bytes: &[u8]) -> Result<Report, ReportError> {
    if bytes.len() > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge);
    }
    let message = MessageParser::new().parse(bytes).ok_or(ReportError::NotMime)?;
    let is_report = message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct.attribute("report-type").is_some_and(|t| t.eq_ignore_ascii_case("feedback-report"))
    });
    if !is_report {
        let shown = message
            .content_type()
            .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")))
            .unwrap_or_else(|| "text/plain (no Content-Type)".into());
        return Err(ReportError::NotArf(format!("it is {shown}, not multipart/report; report-type=feedback-report")));
    }
    let mut fields = None;
    let mut original = None;
    for part in message.parts.iter().skip(1) {
        let body: Option<&[u8]> = match &part.body {
            PartType::Text(t) | PartType::Html(t) => Some(t.as_bytes()),
            PartType::Binary(b) | PartType::InlineBinary(b) => Some(b),
            _ => None,
        };
        if part.is_content_type("message", "feedback-report") && fields.is_none() {
            fields = body.and_then(|b| MessageParser::new().parse(b));
        } else if let (PartType::Message(m), None) = (&part.body, &original) {
            original = Some((m.clone(), Original::Message));
        } else if part.is_content_type("text", "rfc822-headers") && original.is_none() {
            original = body.and_then(|b| MessageParser::new().parse(b)).map(|m| (m, Original::HeadersOnly));
        }
    }
    let fields = fields.ok_or_else(|| ReportError::Malformed("no message/feedback-report part".into()))?;
    let feedback_type = field(&fields, "Feedback-Type")
        .map(|t| t.to_ascii_lowercase())
        .ok_or_else(|| ReportError::Malformed("no Feedback-Type field".into()))?;
    let arrival =
        field(&fields, "Arrival-Date").or_else(|| field(&fields, "Received-Date")).and_then(|d| timestamp(&d));
    let (original, kind) = original
        .ok_or_else(|| ReportError::Malformed("neither the reported message nor its headers are attached".into()))?;
    let (source_ip, ip_from) = match field(&fields, "Source-IP") {
        Some(text) => {
            let ip = parse_ip(&text)
                .ok_or_else(|| ReportError::NoSourceIp(format!("Source-IP {text:?} is not an address")))?;
            (ip, IpFrom::SourceIpField)
        }
        None => sender_from_received(&original)?,
    };
    Ok(Report {
        feedback_type,
        source_ip,
        ip_from,
        arrival,
        reported_domain: field(&fields, "Reported-Domain").map(|d| d.to_ascii_lowercase()),
        user_agent: field(&fields, "User-Agent"),
        report_id: message.message_id().map(str::to_string),
        mailing: mailing(&original, arrival),
        original: kind,
    })
}

/// Reads a message that was delivered to a spam trap: its sender by the `Received` rule, the trap
/// address from `Delivered-To`, `X-Original-To` or `To` (the first there is).
pub fn trap_hit(bytes: &[u8]) -> Result<TrapHit, ReportError> {
    if bytes.len() > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge);
    }
    let message = MessageParser::new().parse(bytes).ok_or(ReportError::NotMime)?;
    if message.headers().is_empty() {
        return Err(ReportError::NotMime);
    }
    let (source_ip, ip_from) = sender_from_received(&message)?;
    let recipient = ["Delivered-To", "X-Original-To"]
        .iter()
        .find_map(|name| field(&message, name))
        .or_else(|| message.to().and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_string))
        .map(|r| r.trim_matches(|c| c == '<' || c == '>' || c == ' ').to_ascii_lowercase())
        .filter(|r| r.contains('@'))
        .ok_or_else(|| ReportError::Malformed("no trap address (Delivered-To, X-Original-To or To)".into()))?;
    let newest = message.headers().iter().find_map(|h| match &h.value {
        HeaderValue::Received(r) if h.name == HeaderName::Received => r.date.as_ref().map(|d| d.to_timestamp()),
        _ => None,
    });
    let at = newest.or_else(|| message.date().map(|d| d.to_timestamp())).and_then(|t| u64::try_from(t).ok());
    Ok(TrapHit { source_ip, ip_from, recipient, at, message_id: message.message_id().map(str::to_string) })
}

/// The first value of a header field, unfolded and trimmed; `None` when absent or empty.
fn field(m: &Message<'_>, name: &str) -> Option<String> {
    let header = m.headers().iter().find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    // Header offsets count from the start of the message's own buffer (`raw_message()` may start later).
    let raw = m.raw_message.get(header.offset_start as usize..header.offset_end as usize)?;
    let text: String = String::from_utf8_lossy(raw).split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

fn timestamp(text: &str) -> Option<u64> {
    u64::try_from(DateTime::parse_rfc822(text)?.to_timestamp()).ok()
}

/// An address as reports write it: bare, in brackets, or as `IPv6:…`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_start_matches('[').trim_end_matches(']');
    let t = t.strip_prefix("IPv6:").or_else(|| t.strip_prefix("ipv6:")).unwrap_or(t);
    t.parse().ok()
}

/// The sender's address from the `Received` headers, newest first: internal hops are passed
/// over, the first public `from` address is the answer, nothing below it is read.
fn sender_from_received(original: &Message<'_>) -> Result<(IpAddr, IpFrom), ReportError> {
    let received = original.headers().iter().filter(|h| h.name == HeaderName::Received);
    let mut seen = 0;
    for (at, header) in received.enumerate() {
        seen += 1;
        let HeaderValue::Received(r) = &header.value else { continue };
        let ip = r.from_ip.or(match &r.from {
            Some(Host::IpAddr(ip)) => Some(*ip),
            _ => None,
        });
        match ip {
            Some(ip) if !internal(ip) => return Ok((ip, IpFrom::Received(at))),
            _ => continue,
        }
    }
    Err(ReportError::NoSourceIp(match seen {
        0 => "no Source-IP field and no Received header".into(),
        n => format!("no Source-IP field, and none of the {n} Received headers names a public address"),
    }))
}

/// Addresses of a receiving site's own hops (never a sender on the Internet).
fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || (o[0] == 100 && o[1] & 0xc0 == 64)
        }
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => internal(IpAddr::V4(v4)),
            None => {
                let first = a.segments()[0];
                a.is_loopback() || a.is_unspecified() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
            }
        },
    }
}

/// The mailing of the reported message (see the module above for the rule).
fn mailing(original: &Message<'_>, arrival: Option<u64>) -> Mailing {
    if let Some(id) = field(original, "Feedback-ID") {
        return Mailing::FeedbackId(id);
    }
    if let Some(list) = field(original, "List-Id") {
        // `Description <list.id>`: the part in angle brackets names the list.
        let id = match (list.rfind('<'), list.rfind('>')) {
            (Some(open), Some(close)) if open < close => &list[open + 1..close],
            _ => list.as_str(),
        };
        return Mailing::ListId(id.trim().to_ascii_lowercase());
    }
    let domain = original
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .and_then(|a| a.rsplit_once('@'))
        .map_or_else(|| "unknown".to_string(), |(_, d)| d.trim().to_ascii_lowercase());
    let sent = original.date().and_then(|d| u64::try_from(d.to_timestamp()).ok()).or(arrival);
    let day = sent.map_or_else(
        || "unknown".to_string(),
        |t| {
            let d = DateTime::from_timestamp(t as i64);
            format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
        },
    );
    let subject = original.subject().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    Mailing::Campaign { domain, day, subject }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arf").join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn a_full_report_gives_its_source_ip_field_and_the_mailing_s_feedback_id() {
        let r = parse(&fixture("abuse-source-ip.eml")).expect("a report");
        assert_eq!(r.feedback_type, "abuse");
        assert_eq!(r.source_ip, "45.67.8.9".parse::<IpAddr>().expect("ip"));
        assert_eq!(r.ip_from, IpFrom::SourceIpField);
        assert_eq!(r.arrival, Some(1_796_032_680), "Mon, 30 Nov 2026 09:58:00 +0000");
        assert_eq!(r.reported_domain.as_deref(), Some("shop.example"));
        assert_eq!(r.report_id.as_deref(), Some("fbl-20261130-0001@isp-a.example"));
        assert_eq!(r.mailing, Mailing::FeedbackId("2026-48:weekly:shop:esp-x".into()));
        assert_eq!(r.original, Original::Message);
    }

    #[test]
    fn without_source_ip_the_newest_public_received_hop_is_the_sender_and_forged_hops_are_not_read() {
        let r = parse(&fixture("headers-only-forged-hops.eml")).expect("a report");
        // Top down: an internal filter hop (10.20.0.3), then the reporter's MX saying it got the
        // message from 45.67.8.10; the two hops below were written by the sender and may be forged.
        assert_eq!(r.source_ip, "45.67.8.10".parse::<IpAddr>().expect("ip"));
        assert_eq!(r.ip_from, IpFrom::Received(1));
        assert_eq!(r.original, Original::HeadersOnly);
        let expected = Mailing::Campaign {
            domain: "promo.example".into(),
            day: "2026-12-01".into(),
            subject: "black friday is here".into(),
        };
        assert_eq!(r.mailing, expected, "no Feedback-ID or List-Id: domain, day and subject");
        assert_eq!(r.arrival, Some(1_796_107_200), "Received-Date, Tue, 1 Dec 2026 07:40:00 +0100");
    }

    #[test]
    fn what_is_not_a_usable_report_says_why() {
        let err = |name: &str| parse(&fixture(name)).expect_err(name).to_string();
        assert!(err("not-arf.eml").contains("not a feedback report (ARF): it is text/plain"), "{}", err("not-arf.eml"));
        assert!(err("no-source-ip.eml").contains("none of the 1 Received headers names a public address"));
        assert!(err("no-feedback-type.eml").contains("no Feedback-Type"));
        assert_eq!(parse(&vec![b'a'; MAX_REPORT_BYTES + 1]), Err(ReportError::TooLarge));
        let mut bad_ip = fixture("abuse-source-ip.eml");
        let at = bad_ip.windows(19).position(|w| w == b"Source-IP: 45.67.8.").expect("field");
        bad_ip[at + 11..at + 13].copy_from_slice(b"xx");
        assert!(parse(&bad_ip).expect_err("bad ip").to_string().contains("is not an address"));
    }

    #[test]
    fn list_ids_are_read_from_their_angle_brackets() {
        let with_list = String::from_utf8(fixture("abuse-source-ip.eml"))
            .expect("utf-8")
            .replace("Feedback-ID: 2026-48:weekly:shop:esp-x\n", "");
        let r = parse(with_list.as_bytes()).expect("a report");
        assert_eq!(r.mailing, Mailing::ListId("weekly.shop.example".into()));
        assert_eq!(r.mailing.to_string(), "list-id:weekly.shop.example");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]
        #[test]
        fn damaged_reports_are_refused_or_read_never_a_panic(
            cuts in proptest::collection::vec((0usize..4000, proptest::prelude::any::<u8>()), 0..8),
            keep in 0usize..4000,
        ) {
            for name in ["abuse-source-ip.eml", "headers-only-forged-hops.eml"] {
                let mut bytes = fixture(name);
                for &(at, byte) in &cuts {
                    let i = at % bytes.len();
                    bytes[i] = byte;
                }
                bytes.truncate(keep.max(1));
                let _ = parse(&bytes);
            }
        }
    }

    #[test]
    fn a_trap_hit_names_its_sender_by_the_received_rule_and_its_trap_address() {
        let hit = trap_hit(&fixture("trap-hit.eml")).expect("a trap hit");
        assert_eq!(hit.source_ip, "45.67.8.30".parse::<IpAddr>().expect("ip"));
        assert_eq!(hit.ip_from, IpFrom::Received(1), "the local delivery hop is passed over");
        assert_eq!(hit.recipient, "trap7@traps.example", "Delivered-To, not the To the sender wrote");
        assert_eq!(hit.at, Some(1_796_110_805), "the newest Received header's date");
        assert_eq!(hit.message_id.as_deref(), Some("trap-hit-1@promo.example"));
        assert!(trap_hit(b"not a message at all").is_err());
    }

    #[test]
    fn internal_hops_are_told_from_senders() {
        for ip in ["10.1.2.3", "192.168.0.1", "127.0.0.1", "100.64.0.1", "169.254.1.1", "fd00::1", "fe80::1", "::1"] {
            assert!(internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["45.67.8.9", "100.128.0.1", "2001:db8::1", "::ffff:45.67.8.9"] {
            assert!(!internal(ip.parse().expect("ip")), "{ip}");
        }
    }
}
