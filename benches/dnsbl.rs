//! Criterion benchmarks: trie lookups at 10k / 1M / 10M prefixes (the cost should stay flat),
//! the lean path's steps (question parse, classification with the table lookup, answer encode)
//! and the lean and full query paths whole, the table build of
//! a load, and publishing after a change on a 10M list: the patched snapshot one change makes,
//! and the merge that folds 256 patches into new tables; and what a report costs the evidence
//! policies with 1M evidence records stored. `cargo bench` runs them at full size;
//! under `cargo test` they run once at small sizes so the test suite stays quick.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use dnsbl::config::Config;
use dnsbl::dns::{lean, respond_full, Limits, Transport};
use dnsbl::model::{Entry, Listing, ListingCode, Prefix};
use dnsbl::name::DatasetName;
use dnsbl::query;
use dnsbl::snapshot::{Snapshot, ZoneBuilder, ZoneSnapshot};
use dnsbl::trie::{Patch, PrefixTable, Verdict};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};

fn full_size() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A deterministic generator (xorshift) so every run measures the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `n` entries: 90 % /32s, 9 % CIDRs /16-/31, 1 % exclusions.
fn entries(n: usize, rng: &mut Rng) -> Vec<(u32, u8, Verdict)> {
    (0..n)
        .map(|i| {
            let r = rng.next();
            let addr = (r >> 32) as u32;
            match i % 100 {
                0 => (addr, 32, Verdict::Excluded),
                1..=9 => {
                    let len = 16 + (r % 16) as u8;
                    (addr & dnsbl::model::mask32(len), len, Verdict::Listed((r % 7) as u32))
                }
                _ => (addr, 32, Verdict::Listed((r % 7) as u32)),
            }
        })
        .collect()
}

fn trie_lookup(c: &mut Criterion) {
    let sizes: &[usize] = if full_size() { &[10_000, 1_000_000, 10_000_000] } else { &[10_000] };
    // "warm": the same 1024 addresses every iteration, so the table lines they touch stay in the
    // CPU caches (the best case). "cold": a million distinct addresses walked 1024 at a time, so
    // most lookups miss the caches and the TLB as a server's lookups for unrelated clients do.
    let cold_probes = if full_size() { 1 << 20 } else { 1 << 12 };
    let mut group = c.benchmark_group("trie_lookup");
    group.throughput(Throughput::Elements(1024));
    for &n in sizes {
        let mut rng = Rng(0x5782);
        let table = PrefixTable::build(entries(n, &mut rng));
        eprintln!(
            "trie {n} prefixes: {} segments, {:.1} bytes/prefix",
            table.segments(),
            table.heap_bytes() as f64 / n as f64
        );
        let probes: Vec<u32> = (0..cold_probes).map(|_| (rng.next() >> 32) as u32).collect();
        group.bench_with_input(BenchmarkId::new("warm", n), &table, |b, t| {
            b.iter(|| probes[..1024].iter().filter(|&&p| t.lookup(black_box(p)).is_some()).count())
        });
        let mut offset = 0;
        group.bench_with_input(BenchmarkId::new("cold", n), &table, |b, t| {
            b.iter(|| {
                offset = (offset + 1024) % probes.len();
                probes[offset..offset + 1024].iter().filter(|&&p| t.lookup(black_box(p)).is_some()).count()
            })
        });
        // "cold, batched": the same walk, 32 at a time as the UDP loop answers a full batch: the
        // batch's table lines are loaded first (PrefixTable::warm), then the lookups run.
        let mut offset = 0;
        group.bench_with_input(BenchmarkId::new("cold_batched", n), &table, |b, t| {
            b.iter(|| {
                offset = (offset + 1024) % probes.len();
                let mut listed = 0;
                for chunk in probes[offset..offset + 1024].chunks(32) {
                    let mut batch: [Option<(&PrefixTable<u32>, u32)>; 32] = [None; 32];
                    for (slot, &p) in batch.iter_mut().zip(chunk) {
                        *slot = Some((t, black_box(p)));
                    }
                    black_box(PrefixTable::warm(&batch));
                    listed += chunk.iter().filter(|&&p| t.lookup(p).is_some()).count();
                }
                listed
            })
        });
    }
    group.finish();
}

fn table_build(c: &mut Criterion) {
    let n = if full_size() { 10_000_000 } else { 10_000 };
    let mut rng = Rng(0x2308);
    let input = entries(n, &mut rng);
    let mut group = c.benchmark_group("table_build");
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter_batched(|| input.clone(), |e| PrefixTable::build(black_box(e)), BatchSize::LargeInput)
    });
    group.finish();
}

/// A zone of `n` IPv4 entries (as [`entries`]) and a few distinct listings.
fn big_zone(n: usize) -> ZoneSnapshot {
    let config = Config::embedded_default().expect("default config");
    let mut b = ZoneBuilder::new(Arc::new(config.zones[0].clone()), 1);
    let listings: Vec<Listing> = (0..7)
        .map(|code| {
            Listing::new(
                vec![ListingCode::new(std::net::Ipv4Addr::new(127, 0, 0, 3 + code)).expect("code")],
                Some("marketing from $".into()),
            )
            .expect("listing")
        })
        .collect();
    for (addr, len, verdict) in entries(n, &mut Rng(0x0bad)) {
        let prefix = Prefix::masked_v4(addr, len);
        match verdict {
            Verdict::Listed(v) => b.add(prefix, Entry::Listed(listings[v as usize].clone())),
            Verdict::Excluded => b.add(prefix, Entry::Excluded),
        }
    }
    b.build()
}

/// The in-memory part of publishing one change (the store write and read are not included):
/// the patch for the changed /32, the next zone snapshot, and the snapshot the workers load.
/// And the merge the publisher runs every 256 changes, on a table with 256 patches.
fn publish(c: &mut Criterion) {
    let n = if full_size() { 10_000_000 } else { 10_000 };
    let zone = big_zone(n);
    let mut group = c.benchmark_group("publish");
    let mut rng = Rng(0x7e57);
    let mut serial = 2;
    group.bench_function(BenchmarkId::new("one_change", n), |b| {
        b.iter(|| {
            let addr = (rng.next() >> 32) as u32;
            let (first, last) = zone.operator.v4.patch_range(addr, addr);
            let patch = Patch::build(first, last, vec![(addr, 32, Verdict::Listed(0))]);
            serial += 1;
            Arc::new(Snapshot::new(vec![zone.changed(serial, &DatasetName::operator(), Some(patch), None, Vec::new())]))
        })
    });
    let mut patched = zone.clone();
    for i in 0..256 {
        let addr = (rng.next() >> 32) as u32;
        let (first, last) = patched.operator.v4.patch_range(addr, addr);
        let patch = Patch::build(first, last, vec![(addr, 32, Verdict::Listed(i % 7))]);
        patched = patched.changed(serial + i, &DatasetName::operator(), Some(patch), None, Vec::new());
    }
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("merge_256_patches", n), |b| b.iter(|| patched.merged()));
    group.finish();
}

/// What a zone's answer costs with more datasets: 1024 random IPv4 lookups (each gathering every
/// dataset's listing) in a zone of `n` operator entries alone, and the same zone with two more
/// datasets of `n / 10` entries each over the same address space.
fn dataset_lookup(c: &mut Criterion) {
    let n = if full_size() { 10_000_000 } else { 10_000 };
    let one = big_zone(n);
    let feed = |name: &str, seed: u64| {
        let mut b = ZoneBuilder::new(one.config.clone(), 1);
        let listing = Listing::new(vec![ListingCode::new(std::net::Ipv4Addr::new(127, 0, 0, 4)).expect("code")], None)
            .expect("listing");
        for (addr, len, verdict) in entries(n / 10, &mut Rng(seed)) {
            let entry = match verdict {
                Verdict::Listed(_) => Entry::Listed(listing.clone()),
                Verdict::Excluded => Entry::Excluded,
            };
            b.add(Prefix::masked_v4(addr, len), entry);
        }
        b.build_dataset(DatasetName::parse(name).expect("name")).0
    };
    let three =
        ZoneSnapshot::new(one.config.clone(), 1, one.operator.clone(), vec![feed("a", 0xfeed), feed("b", 0xbeef)]);
    let mut rng = Rng(0xda7a);
    let addrs: Vec<u32> = (0..1024).map(|_| (rng.next() >> 32) as u32).collect();
    let mut group = c.benchmark_group("dataset_lookup");
    group.throughput(Throughput::Elements(1024));
    for (name, zone) in [("one_dataset", &one), ("three_datasets", &three)] {
        group.bench_with_input(BenchmarkId::new(name, n), zone, |b, z| {
            b.iter(|| addrs.iter().map(|&a| query::lookup_v4(z, black_box(a)).iter().count()).sum::<usize>())
        });
    }
    group.finish();
}

fn snapshot() -> Snapshot {
    let config = Config::embedded_default().expect("default config");
    let mut b = ZoneBuilder::new(Arc::new(config.zones[0].clone()), 1);
    let mut rng = Rng(0x1035);
    for _ in 0..100_000 {
        let addr = (rng.next() >> 32) as u32;
        let listing = Listing::new(vec![ListingCode::OPERATOR], Some("marketing from $".into())).expect("listing");
        b.add(Prefix::masked_v4(addr, 32), Entry::Listed(listing));
    }
    b.add(
        "198.51.100.7/32".parse().expect("prefix"),
        Entry::Listed(Listing::new(vec![ListingCode::REGISTERED], None).expect("listing")),
    );
    Snapshot::new(vec![b.build()])
}

fn query(name: &str, t: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), t));
    m.to_vec().expect("encode")
}

fn query_paths(c: &mut Criterion) {
    let snap = snapshot();
    let limits = Limits { max_udp_payload: 1232 };
    let reply = lean::Reply { transport: Transport::Udp, limits: &limits, cookie: None };
    let cases = [
        ("listed_a", query("7.100.51.198.bl.localhost.", RecordType::A)),
        ("listed_txt", query("7.100.51.198.bl.localhost.", RecordType::TXT)),
        ("unlisted_a", query("9.9.9.9.bl.localhost.", RecordType::A)),
        ("ipv6_unlisted_a", query(&format!("{}bl.localhost.", "1.".repeat(32)), RecordType::A)),
    ];
    let mut group = c.benchmark_group("query");
    let mut out = Vec::with_capacity(1232);
    // The lean path's three steps on their own: question parse, classification (zone, address,
    // table lookup), answer encode.
    for (name, packet) in &cases {
        let q = lean::Question::parse(packet).expect("common shape");
        group.bench_function(format!("step/parse/{name}"), |b| {
            b.iter(|| lean::Question::parse(black_box(packet)).map(|q| q.labels().len()))
        });
        group.bench_function(format!("step/classify/{name}"), |b| {
            b.iter(|| query::classify(&snap, black_box(q.labels())).is_some())
        });
        let found = query::classify(&snap, q.labels());
        group.bench_function(format!("step/encode/{name}"), |b| {
            b.iter(|| lean::encode(&q, black_box(found), &reply, &mut out))
        });
    }
    for (name, packet) in &cases {
        group.bench_function(format!("lean/{name}"), |b| {
            b.iter(|| lean::answer(&snap, black_box(packet), Transport::Udp, &limits, None, &mut out))
        });
        group.bench_function(format!("full/{name}"), |b| {
            b.iter(|| respond_full(&snap, black_box(packet), Transport::Udp, &limits, None))
        });
    }
    group.finish();
}

/// What the policies cost per report with `n` evidence records stored (RocksDB in a temporary
/// directory, 10 records per address: complaints from three reporters about four mailings, trap
/// hits, volume): reading the address's evidence and deciding, for an address with evidence and
/// for a new one; and storing one report (a synced write, as an upload of one report does).
fn evidence_policy(c: &mut Criterion) {
    use dnsbl::evidence::{policy, Evidence, EvidenceKind};
    let n: u32 = if full_size() { 1_000_000 } else { 10_000 };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dnsbl::store::Store::open(dir.path()).expect("store");
    let now = 1_800_000_000u64;
    let addresses = n / 10;
    let ip = |i: u32| std::net::IpAddr::from(std::net::Ipv4Addr::from(0x2d00_0000 + i * 7));
    let piece = |i: u32, j: u32| {
        let (kind, about, messages) = match j {
            0..=5 => (EvidenceKind::Complaint, format!("feedback-id:m{}", j % 4), 0),
            6 | 7 => (EvidenceKind::Trap, format!("t{j}@traps.example"), 0),
            _ => (EvidenceKind::Volume, dnsbl::evidence::day_of(now - u64::from(j - 8) * 86_400), 5_000),
        };
        let at = if kind == EvidenceKind::Volume {
            now - now % 86_400 - u64::from(j - 8) * 86_400
        } else {
            now - u64::from(j) * 3_600
        };
        let reporter = format!("isp-{}", (i + j) % 3);
        (ip(i), Evidence { at, reporter, kind, about, report_id: None, messages })
    };
    for chunk in (0..addresses).collect::<Vec<_>>().chunks(1_000) {
        let pieces: Vec<_> =
            chunk.iter().flat_map(|&i| (0..10).map(move |j| (i, j))).map(|(i, j)| piece(i, j)).collect();
        store.add_evidence(&pieces).expect("load evidence");
    }
    let policies = Config::embedded_default().expect("config").zones[0].evidence;
    let mut group = c.benchmark_group("evidence_policy");
    let mut rng = Rng(0xe71d);
    group.bench_function(BenchmarkId::new("read_and_decide", n), |b| {
        b.iter(|| {
            let found = store.evidence_of(ip((rng.next() % u64::from(addresses)) as u32)).expect("read");
            black_box(policy::decide(&found, now, &policies))
        })
    });
    group.bench_function(BenchmarkId::new("read_and_decide_new_address", n), |b| {
        b.iter(|| {
            let found = store.evidence_of(ip(addresses + (rng.next() % 1_000_000) as u32)).expect("read");
            black_box(policy::decide(&found, now, &policies))
        })
    });
    group.sample_size(20);
    let mut k = 0;
    group.bench_function(BenchmarkId::new("store_one_report", n), |b| {
        b.iter(|| {
            k += 1;
            let (ip, mut e) = piece(addresses + k, 0);
            e.report_id = Some(format!("bench-{k}@isp"));
            store.add_evidence(&[(ip, e)]).expect("store")
        })
    });
    group.finish();
}

criterion_group!(benches, trie_lookup, table_build, publish, dataset_lookup, query_paths, evidence_policy);
criterion_main!(benches);
