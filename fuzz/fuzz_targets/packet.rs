//! Any bytes as a DNS query, through both answer paths on a zone with listings, exclusions,
//! several datasets and a marketer-style registered code: no panic, and every reply decodes and
//! respects the UDP size limit. When the lean path answers, the full path answers the same.
//! DNS cookies are on: any COOKIE option in the bytes is checked as the transport loop does.
#![no_main]

use std::sync::{Arc, LazyLock};

use dnsbl::config::Config;
use dnsbl::cookie::Secrets;
use dnsbl::dns::respond::cookie_of;
use dnsbl::dns::{lean, respond, respond_full, Limits, Transport};
use dnsbl::model::{Entry, Listing, ListingCode, Prefix};
use dnsbl::name::DatasetName;
use dnsbl::snapshot::{Snapshot, ZoneBuilder, ZoneSnapshot};
use hickory_proto::op::Message;
use hickory_proto::rr::Record;
use libfuzzer_sys::fuzz_target;

static SNAPSHOT: LazyLock<Snapshot> = LazyLock::new(|| {
    let config = Config::embedded_default().expect("default config");
    let zone = Arc::new(config.zones[0].clone());
    let listing = |code: u8, reason: Option<&str>| {
        let code = ListingCode::new(std::net::Ipv4Addr::new(127, 0, 0, code)).expect("code");
        Listing::new(vec![code], reason.map(str::to_string)).expect("listing")
    };
    let mut operator = ZoneBuilder::new(zone.clone(), 7);
    for (prefix, entry) in [
        ("198.51.100.0/24", Entry::Listed(listing(3, Some("marketing from $")))),
        ("198.51.100.7/32", Entry::Excluded),
        ("203.0.113.9/32", Entry::Listed(listing(2, None))),
        ("2001:db8::/32", Entry::Listed(listing(3, Some("v6 $")))),
        ("10.0.0.0/8", Entry::Listed(listing(4, Some(&"x".repeat(250))))),
    ] {
        operator.add(prefix.parse::<Prefix>().expect("prefix"), entry);
    }
    let operator = operator.build().operator;
    let mut feed = ZoneBuilder::new(zone.clone(), 7);
    feed.add("198.51.100.0/25".parse::<Prefix>().expect("prefix"), Entry::Listed(listing(4, Some("feed"))));
    let (feed, _) = feed.build_dataset(DatasetName::parse("feed").expect("name"));
    let mut snapshot = Snapshot::new(vec![ZoneSnapshot::new(zone, 7, operator, vec![feed])]);
    snapshot.cookies = Some(Arc::new(Secrets::new([7; 16], [[9; 16]])));
    snapshot
});

/// A reply as text, names in lower case (the lean path keeps the question's 0x20 case).
fn canonical(bytes: &[u8]) -> String {
    let m = Message::from_vec(bytes).expect("a reply decodes");
    let rr = |r: &Record| {
        format!("{} {} {} {} {}", r.name.to_ascii().to_lowercase(), r.ttl, r.dns_class, r.record_type(), r.data)
    };
    let section = |rs: &[Record]| rs.iter().map(rr).collect::<Vec<_>>().join("\n");
    format!(
        "{:?}\nQ {:?}\nAN {}\nNS {}\nAR {}\nOPT {:?}",
        m.metadata,
        m.queries,
        section(&m.answers),
        section(&m.authorities),
        section(&m.additionals),
        m.edns
    )
}

fuzz_target!(|data: &[u8]| {
    let snap = &*SNAPSHOT;
    let limits = Limits { max_udp_payload: 1232 };
    let mut out = Vec::new();
    let cookie = cookie_of(snap, data, std::net::Ipv4Addr::new(192, 0, 2, 1).into(), 1_700_000_000);
    for transport in [Transport::Udp, Transport::Tcp] {
        if respond(snap, data, transport, &limits, cookie.as_ref(), &mut out).is_some() {
            let m = Message::from_vec(&out).expect("a reply decodes");
            if transport == Transport::Udp {
                let limit = m.edns.as_ref().map_or(512, |_| 1232);
                assert!(out.len() <= limit, "{} bytes over UDP", out.len());
            }
        }
        let mut lean_out = Vec::new();
        if data.len() >= 12 && data[2] & 0x80 == 0 && lean::answer(snap, data, transport, &limits, None, &mut lean_out) {
            let full =
                respond_full(snap, data, transport, &limits, None).expect("the full path answers what the lean one does");
            assert_eq!(canonical(&lean_out), canonical(&full), "lean and full answers differ");
        }
    }
});
