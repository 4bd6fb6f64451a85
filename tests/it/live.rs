//! Live changes through the publisher: visible over DNS when the call returns, durable, exact.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dnsbl::model::{Listing, ListingCode, Prefix};
use dnsbl::publisher::{Change, ChangeError};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use proptest::prelude::*;

use crate::harness::*;

const ZONE: &str = "bl.localhost";

fn listing(code: &str, reason: &str) -> Listing {
    Listing::new(vec![code.parse::<ListingCode>().expect("code")], Some(reason.to_string())).expect("listing")
}

fn add(prefix: &str, code: &str, reason: &str) -> Change {
    Change::AddListing { prefix: prefix.parse().expect("prefix"), listing: listing(code, reason), expires_at: None }
}

fn serial(s: &TestServer) -> u32 {
    soa_serial(s.addr, ZONE)
}

#[test]
fn changes_are_visible_when_apply_returns() {
    let (_dir, data) = temp_data();
    seed(&data, ZONE, &[("198.51.0.0/16", Seed::Listed(&["127.0.0.3"], Some("wide $")))]);
    let s = TestServer::in_dir(&data);
    let s0 = serial(&s);
    let s1 = s.apply(ZONE, add("203.0.113.0/24", "127.0.0.3", "net $")).expect("add");
    assert!(s1 > s0);
    assert_eq!(serial(&s), s1, "SOA serial follows the change");
    assert_eq!(codes(&s, "9.113.0.203"), ["127.0.0.3"]);
    assert_eq!(txt_records(&ask(s.addr, "9.113.0.203.bl.localhost", RecordType::TXT)), ["net 203.0.113.9"]);

    let excl = Change::AddExclusion { prefix: "203.0.113.77".parse().expect("p"), reason: Some("own MTA".into()) };
    let s2 = s.apply(ZONE, excl).expect("exclude");
    assert!(s2 > s1);
    assert!(codes(&s, "77.113.0.203").is_empty());
    assert_eq!(codes(&s, "78.113.0.203"), ["127.0.0.3"]);
    // A more specific listing inside an existing one, then the outer one goes away.
    s.apply(ZONE, add("198.51.100.7", "127.0.0.2", "declared $")).expect("add host");
    assert_eq!(codes(&s, "7.100.51.198"), ["127.0.0.2"]);
    assert_eq!(codes(&s, "8.100.51.198"), ["127.0.0.3"]);
    s.apply(ZONE, Change::RemoveListing { prefix: "198.51.0.0/16".parse().expect("p") }).expect("remove");
    assert_eq!(codes(&s, "7.100.51.198"), ["127.0.0.2"]);
    assert!(codes(&s, "8.100.51.198").is_empty());
    let ent = ask(s.addr, "100.51.198.bl.localhost", RecordType::A);
    assert_eq!(ent.metadata.response_code, ResponseCode::NoError, "empty non-terminal above the host");
    s.apply(ZONE, Change::RemoveExclusion { prefix: "203.0.113.77".parse().expect("p") }).expect("unexclude");
    assert_eq!(codes(&s, "77.113.0.203"), ["127.0.0.3"]);

    // IPv6.
    s.apply(ZONE, add("2001:db8:1::/48", "127.0.0.3", "six $")).expect("add v6");
    assert_eq!(a_records(&ask(s.addr, &v6_name("2001:db8:1::5", ZONE), RecordType::A)), ["127.0.0.3"]);

    // Durable: a restart serves the same.
    let last = serial(&s);
    s.stop();
    let s = TestServer::in_dir(&data);
    assert_eq!(serial(&s), last);
    assert_eq!(codes(&s, "7.100.51.198"), ["127.0.0.2"]);
    assert!(codes(&s, "8.100.51.198").is_empty());
    assert_eq!(codes(&s, "77.113.0.203"), ["127.0.0.3"]);
    assert_eq!(a_records(&ask(s.addr, &v6_name("2001:db8:1::5", ZONE), RecordType::A)), ["127.0.0.3"]);
}

#[test]
fn refused_changes_write_nothing() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let before = serial(&s);
    let err = s.apply(ZONE, Change::RemoveListing { prefix: "192.0.2.1".parse().expect("p") }).expect_err("absent");
    assert!(matches!(err, ChangeError::NotFound(_)), "{err}");
    for point in ["127.0.0.2", "127.0.0.1", "::ffff:127.0.0.2"] {
        let err = s
            .apply(ZONE, Change::AddExclusion { prefix: point.parse().expect("p"), reason: None })
            .expect_err("test point");
        assert!(matches!(err, ChangeError::TestPoint(_)), "{point}: {err}");
    }
    let err = s.apply("bl.example.org", add("192.0.2.1", "127.0.0.3", "x")).expect_err("zone");
    assert!(matches!(err, ChangeError::UnknownZone(_)), "{err}");
    assert_eq!(serial(&s), before);
    assert_eq!(codes(&s, "2.0.0.127"), ["127.0.0.2"]);
}

#[test]
fn many_changes_merge_and_stay_exact() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    s.apply(ZONE, add("198.51.100.0/23", "127.0.0.4", "net $")).expect("add net");
    s.apply(ZONE, Change::AddExclusion { prefix: "198.51.101.128/25".parse().expect("p"), reason: None })
        .expect("excl");
    // More changes than MERGE_AFTER, each in its own /24 so each is a patch of its own: the
    // patches are folded into the base at least once.
    let hosts = dnsbl::publisher::MERGE_AFTER as u32 + 44;
    for i in 0..hosts {
        let prefix = Prefix::masked_v4(0x0a00_0001 + (i << 8), 32).to_string();
        s.apply(ZONE, add(&prefix, "127.0.0.3", "host $")).expect("add");
    }
    s.apply(ZONE, add("198.51.100.7/32", "127.0.0.3", "host $")).expect("add");
    let check = |s: &TestServer, when: &str| {
        for i in [0u32, 1, 100, 255, 256, hosts - 1] {
            let rev = format!("1.{}.{}.10", i % 256, i / 256);
            assert_eq!(codes(s, &rev), ["127.0.0.3"], "{when}: host {i}");
            assert_eq!(codes(s, &format!("2.{}.{}.10", i % 256, i / 256)), Vec::<String>::new(), "{when}: next to {i}");
        }
        assert_eq!(codes(s, &format!("1.{}.{}.10", hosts % 256, hosts / 256)), Vec::<String>::new(), "{when}: past");
        assert_eq!(codes(s, "7.100.51.198"), ["127.0.0.3"], "{when}: a /32 in the /23 is more specific");
        assert_eq!(codes(s, "44.101.51.198"), ["127.0.0.4"], "{when}: the /23");
        for i in [128u32, 200, 255] {
            assert_eq!(codes(s, &format!("{i}.101.51.198")), Vec::<String>::new(), "{when}: excluded {i}");
        }
    };
    check(&s, "right after the changes");
    // The fold started at change MERGE_AFTER + 1 runs on its own thread; a later change or the
    // expiry tick puts its tables under the patches made since.
    eventually(Duration::from_secs(20), "fold not installed", || {
        let patches = s.patches(ZONE);
        holds(patches <= 100, || format!("{patches} patches"))
    });
    check(&s, "after the fold");
    s.apply(ZONE, Change::RemoveListing { prefix: "198.51.100.7/32".parse().expect("p") }).expect("remove");
    assert_eq!(codes(&s, "7.100.51.198"), ["127.0.0.4"], "a change after the fold");
}

#[test]
fn readers_see_old_or_new_answers_during_a_stream_of_changes() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let addr = s.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut answered = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for rev in ["1.2.0.192", "2.2.0.192", "9.9.9.9", "2.0.0.127"] {
                    let m = ask(addr, &format!("{rev}.{ZONE}"), RecordType::A);
                    let rcode = m.metadata.response_code;
                    assert!(rcode == ResponseCode::NoError || rcode == ResponseCode::NXDomain, "{rev}: {rcode}");
                    if rev == "2.0.0.127" {
                        assert_eq!(a_records(&m), ["127.0.0.2"]);
                    }
                    if rev == "9.9.9.9" {
                        assert_eq!(rcode, ResponseCode::NXDomain);
                    }
                    answered += 1;
                }
            }
            answered
        })
    };
    for round in 0..60 {
        let change = if round % 2 == 0 {
            add("192.0.2.0/24", "127.0.0.3", "net")
        } else {
            Change::RemoveListing { prefix: "192.0.2.0/24".parse().expect("p") }
        };
        s.apply(ZONE, change).expect("change");
        let listed = round % 2 == 0;
        assert_eq!(codes(&s, "1.2.0.192").is_empty(), !listed, "round {round}: read-your-writes");
    }
    stop.store(true, Ordering::Relaxed);
    let answered = reader.join().expect("reader thread");
    assert!(answered > 0);
}

fn change_strategy(lens: &'static [u8]) -> impl Strategy<Value = (u32, u8, u8, usize)> {
    // (address, length, action): addresses in two /16s so changes nest and collide.
    // A small pool of prefixes, so the same prefix is added, excluded and removed again.
    let lo = prop::sample::select(vec![0x0000u32, 0x0007, 0x0100, 0x0107, 0x64f0, 0x64f7, 0xff00, 0xfff7]);
    (0u32..2, lo, prop::sample::select(lens), 0u8..4, any::<usize>()).prop_map(|(hi, lo, len, action, pick)| {
        ((0xc633_0000 | (hi << 16) | lo) & dnsbl::model::mask32(len), len, action, pick)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn live_changes_match_a_naive_model(
        // Loaded entries are mostly wide and live changes narrow, so live changes often land
        // inside loaded entries that no earlier change has patched over.
        base in prop::collection::vec(change_strategy(&[16, 20, 24, 28]), 0..12),
        changes in prop::collection::vec(change_strategy(&[20, 24, 28, 32]), 1..30),
        probes in prop::collection::vec(any::<u32>(), 8),
    ) {
        let (_dir, data) = temp_data();
        // The model: (prefix, listed code) and exclusions, most specific wins, exclusion wins a tie.
        let mut listings: Vec<(u32, u8, u8)> = Vec::new();
        let mut exclusions: Vec<(u32, u8)> = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        // Part of the list is loaded at start (the base tables), the rest changes live on top.
        let mut seeds: Vec<(String, bool)> = Vec::new();
        for (bits, len, action, _) in base {
            let text = Prefix::masked_v4(bits, len).to_string();
            if action % 2 == 0 {
                listings.retain(|l| (l.0, l.1) != (bits, len));
                listings.push((bits, len, 3));
                seeds.retain(|(t, listed)| !(t == &text && *listed));
                seeds.push((text, true));
            } else if !exclusions.contains(&(bits, len)) {
                exclusions.push((bits, len));
                seeds.push((text, false));
            }
        }
        let seed_list: Vec<(&str, Seed<'_>)> = seeds
            .iter()
            .map(|(t, listed)| (t.as_str(), if *listed { Seed::Listed(&["127.0.0.3"], Some("x")) } else { Seed::Excluded }))
            .collect();
        seed(&data, ZONE, &seed_list);
        let s = TestServer::in_dir(&data);
        for (bits, len, action, pick) in changes {
            // Removals mostly pick an entry that exists (loaded or added live).
            let (bits, len) = match action {
                2 if !listings.is_empty() && pick % 4 != 0 => { let l = listings[pick % listings.len()]; (l.0, l.1) }
                3 if !exclusions.is_empty() && pick % 4 != 0 => exclusions[pick % exclusions.len()],
                _ => (bits, len),
            };
            touched.extend([bits, bits | !dnsbl::model::mask32(len)]);
            let prefix = Prefix::masked_v4(bits, len);
            let code = 3 + (bits % 2) as u8;
            let change = match action {
                0 => { listings.retain(|l| (l.0, l.1) != (bits, len)); listings.push((bits, len, code));
                       add(&prefix.to_string(), &format!("127.0.0.{code}"), "x") }
                1 => { if !exclusions.contains(&(bits, len)) { exclusions.push((bits, len)); }
                       Change::AddExclusion { prefix, reason: None } }
                2 => { listings.retain(|l| (l.0, l.1) != (bits, len)); Change::RemoveListing { prefix } }
                _ => { exclusions.retain(|e| *e != (bits, len)); Change::RemoveExclusion { prefix } }
            };
            match s.apply(ZONE, change) {
                Ok(_) | Err(ChangeError::NotFound(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        let expect = |addr: u32| -> Option<u8> {
            let best_listing = listings.iter().filter(|l| addr & dnsbl::model::mask32(l.1) == l.0).max_by_key(|l| l.1);
            let best_excl = exclusions.iter().filter(|e| addr & dnsbl::model::mask32(e.1) == e.0).map(|e| e.1).max();
            match (best_listing, best_excl) {
                (Some(l), Some(e)) if e >= l.1 => None,
                (Some(l), _) => Some(l.2),
                _ => None,
            }
        };
        let mut points: Vec<u32> = probes.iter().map(|p| 0xc633_0000 | (p & 0x0001_ffff)).collect();
        for l in &listings { points.push(l.0); points.push(l.0 | !dnsbl::model::mask32(l.1)); }
        for e in &exclusions { points.push(e.0); }
        points.extend(touched);
        for addr in points {
            let o = addr.to_be_bytes();
            let got = codes(&s, &format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0]));
            let want: Vec<String> = expect(addr).map(|c| format!("127.0.0.{c}")).into_iter().collect();
            prop_assert_eq!(got, want, "{:#x}", addr);
        }
    }
}

#[test]
fn removing_an_inner_entry_uncovers_the_loaded_outer_one() {
    let (_dir, data) = temp_data();
    seed(
        &data,
        ZONE,
        &[("198.51.0.0/16", Seed::Listed(&["127.0.0.3"], Some("wide"))), ("198.51.7.0/24", Seed::Excluded)],
    );
    let s = TestServer::in_dir(&data);
    s.apply(ZONE, add("198.51.100.7", "127.0.0.2", "declared")).expect("add");
    assert_eq!(codes(&s, "7.100.51.198"), ["127.0.0.2"]);
    s.apply(ZONE, Change::RemoveListing { prefix: "198.51.100.7".parse().expect("p") }).expect("remove");
    assert_eq!(codes(&s, "7.100.51.198"), ["127.0.0.3"], "the loaded /16 decides again");
    s.apply(ZONE, add("198.51.7.9", "127.0.0.2", "declared")).expect("add in exclusion");
    s.apply(ZONE, Change::RemoveListing { prefix: "198.51.7.9".parse().expect("p") }).expect("remove");
    assert!(codes(&s, "9.7.51.198").is_empty(), "the loaded exclusion decides again");
}

#[test]
fn removing_a_loaded_inner_exclusion_uncovers_the_loaded_listing() {
    let (_dir, data) = temp_data();
    seed(
        &data,
        ZONE,
        &[("198.51.0.0/16", Seed::Listed(&["127.0.0.3"], Some("wide"))), ("198.51.7.0/24", Seed::Excluded)],
    );
    let s = TestServer::in_dir(&data);
    assert!(codes(&s, "9.7.51.198").is_empty());
    s.apply(ZONE, Change::RemoveExclusion { prefix: "198.51.7.0/24".parse().expect("p") }).expect("remove");
    assert_eq!(codes(&s, "9.7.51.198"), ["127.0.0.3"]);
}

#[test]
fn listings_expire_without_any_command() {
    let (_dir, data) = temp_data();
    {
        // One listing that expired while the server was down.
        std::fs::create_dir_all(&data).expect("dir");
        let store = dnsbl::store::Store::open(&data).expect("store");
        let zone = dnsbl::name::DomainName::parse(ZONE).expect("zone");
        let mut batch = store.replace_zone(&zone).expect("batch");
        let value =
            dnsbl::store::StoredListing { listing: listing("127.0.0.3", "old"), added_at: 1, expires_at: Some(1_000) };
        batch.put_listing(&"192.0.2.1".parse().expect("p"), &value).expect("put");
        batch.commit(1_700_000_000).expect("commit");
    }
    let s = TestServer::in_dir(&data);
    assert!(codes(&s, "1.2.0.192").is_empty(), "expired before the start");
    let now = dnsbl::clock::unix_now();
    let change = Change::AddListing {
        prefix: "192.0.2.2".parse().expect("p"),
        listing: listing("127.0.0.3", "soon"),
        expires_at: Some(now + 2),
    };
    let added = s.apply(ZONE, change).expect("add");
    s.apply(ZONE, add("192.0.2.3", "127.0.0.3", "stays")).expect("add");
    assert_eq!(codes(&s, "2.2.0.192"), ["127.0.0.3"]);
    // Wait on the DNS answer itself, with a generous deadline.
    eventually(Duration::from_secs(10), "the listing did not expire", || {
        let now = codes(&s, "2.2.0.192");
        holds(now.is_empty(), || format!("still {now:?}"))
    });
    assert!(dnsbl::clock::unix_now() >= now + 2, "not before its time");
    assert!(serial(&s) > added, "expiry is a change: the serial moved");
    assert_eq!(codes(&s, "3.2.0.192"), ["127.0.0.3"], "other listings stay");
}

#[test]
fn a_load_reads_the_entries_at_the_edges_of_its_parallel_parts_once() {
    // The list is read in parts split at 16.0.0.0, 32.0.0.0, ... 240.0.0.0, ::, 2400::, 2800::
    // and 2c00::; entries on both sides of those edges, and wider ones spanning them.
    let (_dir, data) = temp_data();
    seed(
        &data,
        ZONE,
        &[
            ("8.0.0.0/5", Seed::Listed(&["127.0.0.5"], Some("wide $"))),
            ("15.255.255.255", Seed::Listed(&["127.0.0.3"], Some("edge $"))),
            ("16.0.0.0/4", Seed::Listed(&["127.0.0.4"], Some("part $"))),
            ("16.0.0.0", Seed::Excluded),
            ("240.0.0.0/4", Seed::Listed(&["127.0.0.6"], Some("edge $"))),
            ("255.255.255.255", Seed::Excluded),
            ("23ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Seed::Listed(&["127.0.0.3"], Some("edge $"))),
            ("2400::/6", Seed::Listed(&["127.0.0.7"], Some("v6 $"))),
            ("2c00::/8", Seed::Listed(&["127.0.0.8"], Some("part $"))),
            ("2c00::/16", Seed::Excluded),
        ],
    );
    let s = TestServer::in_dir(&data);
    let txt = |name: &str| txt_records(&ask(s.addr, &format!("{name}.{ZONE}"), RecordType::TXT));
    assert_eq!(codes(&s, "1.0.0.12"), ["127.0.0.5"]);
    assert_eq!(codes(&s, "255.255.255.15"), ["127.0.0.3"]);
    assert_eq!(txt("255.255.255.15"), ["edge 15.255.255.255"]);
    assert_eq!(codes(&s, "254.255.255.15"), ["127.0.0.5"]);
    assert_eq!(codes(&s, "0.0.0.16"), Vec::<String>::new());
    assert_eq!(codes(&s, "1.0.0.16"), ["127.0.0.4"]);
    assert_eq!(txt("1.0.0.16"), ["part 16.0.0.1"]);
    assert_eq!(codes(&s, "0.0.0.32"), Vec::<String>::new());
    assert_eq!(codes(&s, "254.255.255.255"), ["127.0.0.6"]);
    assert_eq!(codes(&s, "255.255.255.255"), Vec::<String>::new());
    assert_eq!(codes(&s, "255.255.255.239"), Vec::<String>::new());
    let v6 = |ip: &str| a_records(&ask(s.addr, &v6_name(ip, ZONE), RecordType::A));
    assert_eq!(v6("23ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ["127.0.0.3"]);
    assert_eq!(v6("23ff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), Vec::<String>::new());
    assert_eq!(v6("2400::1"), ["127.0.0.7"]);
    assert_eq!(v6("27ff::1"), ["127.0.0.7"]);
    assert_eq!(v6("2800::1"), Vec::<String>::new());
    assert_eq!(v6("2c00::1"), Vec::<String>::new());
    assert_eq!(v6("2c01::1"), ["127.0.0.8"]);
    assert_eq!(v6("2d00::1"), Vec::<String>::new());
}
