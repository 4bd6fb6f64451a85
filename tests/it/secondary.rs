//! dnsbl as a secondary of a dnsbl primary, over real sockets: the first copy by AXFR, then the
//! primary's NOTIFY brings each batch of changes by IXFR, applied as live patches; the secondary
//! answers every probe of `nsd.rs` (ranges, exclusions, two datasets, IPv6, names both families
//! share) as the primary does, TXT included; it refuses local changes; it keeps serving when
//! the primary is gone; without a copy it answers SERVFAIL.

use std::time::Duration;

use dnsbl::model::{Listing, ListingCode};
use dnsbl::publisher::{Change, ChangeError};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::*;
use crate::nsd::{agree, answer, change_batch, populate};

/// Waits until `addr` serves `serial` for bl.localhost.
fn reaches(addr: std::net::SocketAddr, serial: u32) {
    wait_for_serial(addr, "bl.localhost", serial, "the secondary", None);
}

fn same_txt(a: std::net::SocketAddr, b: std::net::SocketAddr, names: &[&str]) {
    for name in names {
        let (mut x, mut y) = (txt_records(&ask(a, name, RecordType::TXT)), txt_records(&ask(b, name, RecordType::TXT)));
        x.sort();
        y.sort();
        assert_eq!(y, x, "{name} TXT");
    }
}

#[test]
fn a_dnsbl_secondary_follows_its_primary_by_axfr_then_ixfr_and_answers_alike() {
    let (_pdir, pdata) = temp_data();
    let mut primary_config = test_config(&pdata);
    primary_config.zones[0].allow_transfer = vec!["127.0.0.1/32".parse().expect("prefix")];
    let primary = TestServer::start(primary_config.clone());
    populate(&primary);
    let (_sdir, sdata) = temp_data();
    let mut config = test_config(&sdata);
    config.zones[0].primary = Some(primary.addr);
    let secondary = TestServer::start(config);
    // The primary tells the secondary of new serials from now on.
    primary_config.zones[0].notify = vec![secondary.addr];
    primary.reload(primary_config).expect("reload");
    reaches(secondary.addr, soa_serial(primary.addr, "bl.localhost"));
    assert!(agree(primary.addr, secondary.addr) > 400);
    let texts =
        ["1.0.67.45.bl.localhost", "9.8.67.45.bl.localhost", "5.113.0.203.bl.localhost", "4.3.2.1.bl.localhost"];
    same_txt(primary.addr, secondary.addr, &texts);
    let (base, token) = primary.api(&pdata);
    let api = Api { base, token };
    let transfers = |outcome: &str| -> u64 {
        let (_, stats) = api.call("GET", "/v1/stats", None, None);
        stats["transfers"][outcome].as_u64().unwrap_or(0)
    };
    assert_eq!(transfers("whole"), 1);
    // Changes: NOTIFY, IXFR, patches.
    change_batch(&primary);
    reaches(secondary.addr, soa_serial(primary.addr, "bl.localhost"));
    assert!(transfers("incremental") >= 1, "the change came by IXFR");
    assert_eq!(transfers("whole"), 1, "no second whole transfer");
    assert!(agree(primary.addr, secondary.addr) > 400);
    for name in
        ["5.11.67.45.bl.localhost", "200.9.67.45.bl.localhost", "4.3.2.1.bl.localhost", "1.12.67.45.bl.localhost"]
    {
        assert_eq!(answer(secondary.addr, name), answer(primary.addr, name), "{name}");
    }
    same_txt(primary.addr, secondary.addr, &texts);
    // More, one by one: each arrives.
    for i in 0..5 {
        let listing = Listing::new(vec!["127.0.0.2".parse::<ListingCode>().expect("code")], None).expect("listing");
        let prefix = format!("100.64.{i}.1").parse().expect("prefix");
        primary.apply("bl.localhost", Change::AddListing { prefix, listing, expires_at: None }).expect("add");
        reaches(secondary.addr, soa_serial(primary.addr, "bl.localhost"));
        assert_eq!(answer(secondary.addr, &format!("1.{i}.64.100.bl.localhost")), ["127.0.0.2"]);
    }
    // A secondary's data is its primary's.
    let refused = secondary.apply("bl.localhost", Change::RemoveListing { prefix: "45.67.0.0/16".parse().expect("p") });
    assert!(matches!(refused, Err(ChangeError::Secondary { .. })), "{refused:?}");
    // The primary gone: the copy is still served.
    drop(primary);
    assert_eq!(answer(secondary.addr, "1.0.64.100.bl.localhost"), ["127.0.0.2"]);
}

#[test]
fn a_secondary_without_a_copy_answers_servfail() {
    let (_dir, data) = temp_data();
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = nobody.local_addr().expect("addr");
    drop(nobody);
    let mut config = test_config(&data);
    config.zones[0].primary = Some(addr);
    let s = TestServer::start(config);
    let m = ask(s.addr, "2.0.0.127.bl.localhost", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn with_a_transfer_key_the_secondary_signs_and_checks_and_a_wrong_key_gets_nothing() {
    use crate::transfer::{tsig_key, KEY_SECRET};
    let (_pdir, pdata) = temp_data();
    let mut primary_config = test_config(&pdata);
    primary_config.zones[0].allow_transfer = vec!["127.0.0.1/32".parse().expect("prefix")];
    primary_config.zones[0].transfer_key = Some(tsig_key(KEY_SECRET));
    let primary = TestServer::start(primary_config);
    populate(&primary);
    let secondary_with = |secret: &str| {
        let (dir, data) = temp_data();
        let mut config = test_config(&data);
        config.zones[0].primary = Some(primary.addr);
        config.zones[0].transfer_key = Some(tsig_key(secret));
        (dir, TestServer::start(config))
    };
    let (_d1, good) = secondary_with(KEY_SECRET);
    reaches(good.addr, soa_serial(primary.addr, "bl.localhost"));
    assert!(agree(primary.addr, good.addr) > 400);
    let (_d2, wrong) = secondary_with("d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0=");
    std::thread::sleep(Duration::from_millis(500));
    let m = ask(wrong.addr, "2.0.0.127.bl.localhost", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "no copy with a wrong key");
}

#[test]
fn a_whole_transfer_cut_short_leaves_the_stored_copy_as_it_was() {
    use dnsbl::store::{ReplicaState, Store};
    let (_dir, data) = temp_data();
    let store = Store::open(&data).expect("store");
    let zone = dnsbl::name::DomainName::parse("bl.localhost").expect("zone");
    let copy = |store: &Store| {
        let mut keys = Vec::new();
        store.replica_scan(&zone, &[], &mut |k, v| keys.push((k.to_vec(), v.to_vec()))).expect("scan");
        keys
    };
    let first = store.replica_begin(&zone).expect("begin");
    store.replica_put(&zone, first, &[(vec![0, 46], vec![1, 0, 0])]).expect("put");
    store.replica_commit(&zone, first, ReplicaState { serial: 7, refreshed: 100 }).expect("commit");
    assert_eq!(copy(&store), [(vec![0, 46], vec![1, 0, 0])]);
    // A second transfer writes, then fails before its commit: the copy is the first one.
    let second = store.replica_begin(&zone).expect("begin");
    store.replica_put(&zone, second, &[(vec![0, 47], vec![1, 0, 0])]).expect("put");
    assert_eq!(store.replica_state(&zone).expect("state").map(|s| s.serial), Some(7));
    assert_eq!(copy(&store), [(vec![0, 46], vec![1, 0, 0])]);
    // The next attempt starts that generation afresh and, committed, replaces the copy whole.
    let third = store.replica_begin(&zone).expect("begin");
    assert_eq!(third, second);
    store.replica_put(&zone, third, &[(vec![0, 48], vec![1, 0, 0])]).expect("put");
    store.replica_commit(&zone, third, ReplicaState { serial: 9, refreshed: 200 }).expect("commit");
    assert_eq!(copy(&store), [(vec![0, 48], vec![1, 0, 0])]);
    assert_eq!(store.replica_state(&zone).expect("state").map(|s| s.serial), Some(9));
}
