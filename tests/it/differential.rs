//! The lean UDP path and the full hickory path must give the same response (decoded: header,
//! sections, TTLs, rcode, TC) for every query the lean path accepts: random, adversarial,
//! IPv4 and IPv6, listed, unlisted, apex, malformed.

use std::sync::Arc;

use dnsbl::access::{AccessKey, AccessTable, KeyName, KeySecret};
use dnsbl::config::Config;
use dnsbl::cookie::{Presented, Verdict};
use dnsbl::dns::{lean, respond, respond_full, Limits, Transport};
use dnsbl::model::{Entry, Listing, ListingCode, Prefix};
use dnsbl::snapshot::{Snapshot, ZoneBuilder};
use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::rdata::tsig::{make_tsig_record, TsigAlgorithm};
use hickory_proto::rr::rdata::TSIG;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use proptest::prelude::*;

use crate::harness::{edns, question, v6_name};

fn snapshot() -> Snapshot {
    let mut config = Config::embedded_default().expect("config");
    let second = {
        let mut z = config.zones[0].clone();
        z.origin = dnsbl::name::DomainName::parse("dnsbl.example.org").expect("name");
        z.ns.clear();
        z
    };
    config.zones.push(second);
    // A keyed zone: names carry an access key (one enabled, one disabled below).
    let keyed = {
        let mut z = config.zones[0].clone();
        z.origin = dnsbl::name::DomainName::parse("keyed.example.net").expect("name");
        z.require_key = true;
        z
    };
    config.zones.push(keyed);
    let listed = |codes: &[&str], reason: Option<String>| {
        Entry::Listed(
            Listing::new(codes.iter().map(|c| c.parse::<ListingCode>().expect("code")).collect(), reason)
                .expect("listing"),
        )
    };
    let mut zones = Vec::new();
    for (i, zone) in config.zones.iter().enumerate() {
        let mut b = ZoneBuilder::new(Arc::new(zone.clone()), 2_000_000_000 + i as u32);
        let entries: Vec<(&str, Entry)> = vec![
            ("198.51.100.0/24", listed(&["127.0.0.3"], Some("net $ costs $$5".into()))),
            ("198.51.100.77/32", Entry::Excluded),
            ("198.51.100.7/32", listed(&["127.0.0.2", "127.0.0.4", "127.0.1.9"], None)),
            ("203.0.113.0/25", listed(&["127.0.0.3"], Some(format!("{}$", "é".repeat(120))))),
            ("10.0.0.0/8", listed(&["127.0.0.4"], Some("$ $ $ $ $ $ $ $ $ $ $ $ $ $ $ $ $ $ $ $ $ $ $".into()))),
            ("2001:db8::/32", listed(&["127.0.0.3"], Some("six $".into()))),
            ("2001:db8::25/128", Entry::Excluded),
        ];
        for (p, e) in entries {
            b.add(p.parse::<Prefix>().expect("prefix"), e);
        }
        zones.push(b.build());
    }
    let mut snapshot = Snapshot::new(zones);
    let key = |name: &str, secret: &str, enabled: bool| AccessKey {
        name: KeyName::parse(name).expect("name"),
        secret: KeySecret::parse(secret).expect("secret"),
        enabled,
        created: 0,
        note: None,
    };
    let keys = [key("on", "goodkey000000000", true), key("off", "stoppedkey000000", false)];
    snapshot.access = Arc::new(AccessTable::new(&keys, &[], false, &AccessTable::default()));
    snapshot
}

static SNAPSHOT: std::sync::LazyLock<Snapshot> = std::sync::LazyLock::new(snapshot);

fn name_strategy() -> impl Strategy<Value = String> {
    let zone = prop_oneof![
        Just("bl.localhost"),
        Just("dnsbl.example.org"),
        Just("example.com"),
        Just("localhost"),
        Just("goodkey000000000.keyed.example.net"),
        Just("GoodKey000000000.keyed.example.net"),
        Just("stoppedkey000000.keyed.example.net"),
        Just("keyed.example.net"),
    ];
    let v4 = prop_oneof![
        Just("7.100.51.198".to_string()),
        Just("77.100.51.198".to_string()),
        Just("2.0.0.127".to_string()),
        Just("1.0.0.127".to_string()),
        Just("1.113.0.203".to_string()),
        Just("200.113.0.203".to_string()),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| format!("{a}.{b}.0.10")),
        (any::<u32>()).prop_map(|a| {
            let o = a.to_be_bytes();
            format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
        }),
        (1usize..4).prop_map(|n| ["100", "51", "198", "1"][4 - n..].join(".")),
        Just("0.0.127".to_string()),
        Just("07.100.51.198".to_string()),
        Just("256.1.1.1".to_string()),
    ];
    let v6 = prop_oneof![
        Just("2001:db8::1"),
        Just("2001:db8::25"),
        Just("::ffff:7f00:2"),
        Just("::ffff:7f00:1"),
        Just("2001:db9::1"),
    ]
    .prop_flat_map(|ip| (Just(ip), 0usize..=32))
    .prop_map(|(ip, drop)| {
        let full = v6_name(ip, "z");
        let labels: Vec<&str> = full.split('.').collect();
        labels[drop.min(31)..32].join(".")
    });
    let label = prop_oneof![
        v4,
        v6,
        Just("ns1".to_string()),
        Just(String::new()),
        "[a-z0-9][a-z0-9-]{0,7}".prop_map(String::from)
    ];
    (label, zone, any::<u64>()).prop_map(|(l, z, case)| {
        let name = if l.is_empty() { z.to_string() } else { format!("{l}.{z}") };
        // Random 0x20 case.
        name.chars()
            .enumerate()
            .map(|(i, c)| if case >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

fn query_strategy() -> impl Strategy<Value = Vec<u8>> {
    let rtype = prop_oneof![
        6 => Just(RecordType::A),
        3 => Just(RecordType::TXT),
        1 => Just(RecordType::AAAA),
        1 => Just(RecordType::ANY),
        1 => Just(RecordType::SOA),
        1 => Just(RecordType::NS),
        1 => any::<u16>().prop_map(RecordType::from),
    ];
    let opt = prop_oneof![3 => Just(None), 3 => (0u16..5000).prop_map(Some), 1 => Just(Some(u16::MAX))];
    (name_strategy(), rtype, opt, any::<bool>(), any::<bool>(), 0u8..20, any::<bool>(), any::<u8>(), 0usize..200)
        .prop_map(|(name, rtype, opt, rd, cd, wild, edns1, byte, at)| {
            let mut m = question(&name, rtype, opt.map(|p| edns(p, if edns1 && wild == 0 { 1 } else { 0 })));
            m.metadata.recursion_desired = rd;
            m.metadata.checking_disabled = cd;
            if wild == 1 {
                m.metadata.op_code = OpCode::Notify;
            }
            if wild == 2 {
                m.queries[0].set_query_class(DNSClass::CH);
            }
            if wild == 7 {
                m.signature = Some(Box::new(tsig_record("key.example.")));
            }
            let mut bytes = m.to_vec().expect("encode");
            match wild {
                3 => bytes.truncate(at.min(bytes.len())),
                // EDNS options, well formed (a client cookie) or not (a length past the RDATA, a
                // cut header); the OPT is the last record, its RDATA length the last two bytes.
                6 if opt.is_some() => {
                    let options: &[u8] = match byte % 3 {
                        0 => &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8],
                        1 => &[0, 10, 0, 8, 1, 2, 3, 4],
                        _ => &[0, 10, 0],
                    };
                    let n = bytes.len();
                    bytes[n - 2..].copy_from_slice(&(options.len() as u16).to_be_bytes());
                    bytes.extend_from_slice(options);
                }
                4 => {
                    let i = at % bytes.len();
                    bytes[i] ^= byte;
                }
                5 => bytes.push(byte),
                _ => {}
            }
            bytes
        })
}

/// A TSIG record for a key the server does not have.
pub fn tsig_record(key: &str) -> Record<TSIG> {
    let tsig = TSIG::new(TsigAlgorithm::HmacSha256, 1_700_000_000, 300, vec![7; 32], 0xabcd, None, Vec::new());
    make_tsig_record(Name::from_ascii(key).expect("name"), tsig)
}

fn decode(bytes: &[u8]) -> Message {
    Message::from_vec(bytes).expect("reply decodes")
}

/// Everything a client sees, TTLs included (hickory's `Record` equality ignores TTLs). Names
/// compare case-insensitively: the lean path points the SOA owner into the question, so it carries
/// the client's 0x20 case.
fn canonical(bytes: &[u8]) -> String {
    let m = decode(bytes);
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
    #[test]
    fn lean_and_full_paths_agree(
        packet in query_strategy(),
        tcp in any::<bool>(),
        payload in 512u16..4096,
        cookie in prop::option::of((0u8..3, any::<[u8; 24]>())),
    ) {
        let snap = &*SNAPSHOT;
        let limits = Limits { max_udp_payload: payload };
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        // A checked COOKIE option (as the transport loop passes it): both paths attach the same
        // reply cookie; a foreign server cookie over UDP is BADCOOKIE, which only the full path writes.
        let cookie = cookie.map(|(v, reply)| {
            let verdict = [Verdict::ClientOnly, Verdict::Valid, Verdict::Invalid][usize::from(v)];
            Presented::Checked { verdict, reply }
        });
        let lean_cookie = match &cookie {
            Some(Presented::Checked { verdict: Verdict::Invalid, .. }) if !tcp => None,
            Some(Presented::Checked { reply, .. }) => Some(Some(reply)),
            _ => Some(None),
        };
        let mut out = Vec::new();
        if let Some(lean_cookie) = lean_cookie {
            if packet.len() >= 12 && packet[2] & 0x80 == 0 && lean::answer(snap, &packet, transport, &limits, lean_cookie, &mut out) {
                let full = respond_full(snap, &packet, transport, &limits, cookie.as_ref()).expect("full path answers too");
                prop_assert_eq!(canonical(&out), canonical(&full));
            }
        }
        // Whatever path is taken, a reply (if any) decodes and never exceeds the UDP limit.
        if respond(snap, &packet, transport, &limits, cookie.as_ref(), &mut out).is_some() {
            let m = decode(&out);
            if !tcp {
                let limit = m.edns.as_ref().map_or(512, |_| payload as usize);
                prop_assert!(out.len() <= limit.max(512), "{} > {}", out.len(), limit);
            }
        }
    }
}

#[test]
fn common_queries_take_the_lean_path() {
    let snap = snapshot();
    let limits = Limits { max_udp_payload: 1232 };
    let mut out = Vec::new();
    for (name, t, opt) in [
        ("7.100.51.198.bl.localhost", RecordType::A, None),
        ("7.100.51.198.Bl.LocalHost", RecordType::TXT, Some(edns(1232, 0))),
        ("9.9.9.9.bl.localhost", RecordType::A, Some(edns(4096, 0))),
        ("100.51.198.bl.localhost", RecordType::A, None),
        ("2.0.0.127.dnsbl.example.org", RecordType::TXT, None),
        ("1.2.3.4.example.com", RecordType::A, None),
        ("7.100.51.198.GOODkey000000000.keyed.example.net", RecordType::TXT, None),
        ("7.100.51.198.stoppedkey000000.keyed.example.net", RecordType::A, None),
    ] {
        let packet = question(name, t, opt).to_vec().expect("encode");
        assert!(lean::answer(&snap, &packet, Transport::Udp, &limits, None, &mut out), "{name} {t}");
        let full = respond_full(&snap, &packet, Transport::Udp, &limits, None).expect("full");
        assert_eq!(canonical(&out), canonical(&full), "{name} {t}");
    }
    for (name, t) in [
        ("bl.localhost", RecordType::SOA),
        ("ns1.bl.localhost", RecordType::A),
        ("7.100.51.198.bl.localhost", RecordType::AAAA),
    ] {
        let packet = question(name, t, None).to_vec().expect("encode");
        assert!(
            !lean::answer(&snap, &packet, Transport::Udp, &limits, None, &mut out),
            "{name} {t} goes to the full path"
        );
    }
}
