//! Server statistics for operators: `GET /v1/stats` (JSON, what `dnsbl stats` prints) and
//! `GET /metrics` (the same numbers in the Prometheus text format). Both need the operator token.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;

use super::state::ApiState;
use super::wire::{StatsResponse, TransportStats, ZoneStats};
use crate::dns::stats::{Tally, Totals, Transfer, RCODE_NAMES};

/// Everything `/v1/stats` and `/metrics` report.
#[derive(Debug)]
pub struct Stats {
    pub dns: Totals,
    pub zones: Vec<ZoneStats>,
    pub marketers: usize,
    pub evidence_records: u64,
}

fn collect(state: &ApiState) -> Stats {
    let snapshot = state.shared.load();
    let zones = snapshot
        .zones
        .iter()
        .map(|z| ZoneStats {
            zone: z.config.origin.to_string(),
            serial: z.serial,
            segments_v4: z.datasets().map(|d| d.v4.base().segments()).sum(),
            segments_v6: z.datasets().map(|d| d.v6.base().segments()).sum(),
            patches: z.patch_count(),
        })
        .collect();
    Stats {
        dns: state.stats.totals(),
        zones,
        marketers: snapshot.registry.accounts().count(),
        evidence_records: state.store.evidence_estimate(),
    }
}

pub async fn stats(State(state): State<ApiState>) -> Json<StatsResponse> {
    let s = collect(&state);
    Json(StatsResponse {
        udp: transport(&s.dns.udp),
        tcp: transport(&s.dns.tcp),
        uptime_seconds: s.dns.uptime_seconds,
        udp_workers: s.dns.udp_workers,
        zones: s.zones,
        marketers: s.marketers,
        evidence_records: s.evidence_records,
        transfers: Transfer::ALL.iter().map(|t| (t.name().to_string(), s.dns.transfers[*t as usize])).collect(),
    })
}

fn transport(t: &Tally) -> TransportStats {
    TransportStats {
        queries: t.queries,
        dropped: t.dropped,
        responses: t
            .rcodes
            .iter()
            .enumerate()
            .map(|(i, &v)| (RCODE_NAMES.get(i).copied().unwrap_or("other").to_string(), v))
            .collect(),
        with_answers: t.with_answers,
        truncated: t.truncated,
        full_path: t.full_path,
        send_errors: t.send_errors,
        rrl_dropped: t.rrl_dropped,
        rrl_slipped: t.rrl_slipped,
        rrl_would_limit: t.rrl_would_limit,
        cookies_client_only: t.cookies_client_only,
        cookies_valid: t.cookies_valid,
        cookies_invalid: t.cookies_invalid,
    }
}

pub async fn prometheus(State(state): State<ApiState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render(&collect(&state)))
}

/// The Prometheus text exposition of `s`.
pub fn render(s: &Stats) -> String {
    let mut out = String::new();
    let transports: [(&str, &Tally); 2] = [("udp", &s.dns.udp), ("tcp", &s.dns.tcp)];
    let mut counter = |name: &str, help: &str, value: &dyn Fn(&Tally) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (transport, t) in transports {
            let _ = writeln!(out, "{name}{{transport=\"{transport}\"}} {}", value(t));
        }
    };
    counter("dnsbl_queries_total", "DNS queries received.", &|t| t.queries);
    counter(
        "dnsbl_dropped_total",
        "DNS queries that got no reply (responses, runts, over-long datagrams, spoofing-prone sources).",
        &|t| t.dropped,
    );
    counter("dnsbl_answers_total", "Replies with answer records (listed names, apex data).", &|t| t.with_answers);
    counter("dnsbl_truncated_total", "Replies sent with TC=1 (too large for UDP).", &|t| t.truncated);
    counter("dnsbl_full_path_total", "Replies written by the general (hickory) path.", &|t| t.full_path);
    counter("dnsbl_send_errors_total", "Replies the kernel refused to send.", &|t| t.send_errors);
    counter("dnsbl_rrl_dropped_total", "Replies response rate limiting dropped.", &|t| t.rrl_dropped);
    counter("dnsbl_rrl_slipped_total", "Replies response rate limiting sent truncated instead.", &|t| t.rrl_slipped);
    counter("dnsbl_rrl_would_limit_total", "Replies response rate limiting would have limited (log-only).", &|t| {
        t.rrl_would_limit
    });
    counter(
        "dnsbl_cookies_client_only_total",
        "Queries with a client cookie alone (they get a server cookie).",
        &|t| t.cookies_client_only,
    );
    counter("dnsbl_cookies_valid_total", "Queries with a valid server cookie (exempt from rate limiting).", &|t| {
        t.cookies_valid
    });
    counter(
        "dnsbl_cookies_invalid_total",
        "Queries with a server cookie that is not ours (BADCOOKIE over UDP).",
        &|t| t.cookies_invalid,
    );
    let name = "dnsbl_transfers_total";
    let _ = writeln!(out, "# HELP {name} Zone transfers served and NOTIFYs sent, by outcome.\n# TYPE {name} counter");
    for t in Transfer::ALL {
        let _ = writeln!(out, "{name}{{outcome=\"{}\"}} {}", t.name(), s.dns.transfers[t as usize]);
    }
    let name = "dnsbl_responses_total";
    let _ = writeln!(out, "# HELP {name} DNS replies by response code.\n# TYPE {name} counter");
    for (transport, t) in transports {
        for (i, &count) in t.rcodes.iter().enumerate() {
            let rcode = RCODE_NAMES.get(i).copied().unwrap_or("other");
            let _ = writeln!(out, "{name}{{transport=\"{transport}\",rcode=\"{rcode}\"}} {count}");
        }
    }
    let mut gauge = |name: &str, help: &str, rows: Vec<(String, u64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let zone = |z: &ZoneStats| format!("{{zone=\"{}\"}}", z.zone);
    gauge(
        "dnsbl_zone_serial",
        "The zone's SOA serial.",
        s.zones.iter().map(|z| (zone(z), u64::from(z.serial))).collect(),
    );
    gauge(
        "dnsbl_zone_segments",
        "Address ranges in the zone's prefix tables.",
        s.zones
            .iter()
            .flat_map(|z| {
                [
                    (format!("{{zone=\"{}\",family=\"ipv4\"}}", z.zone), z.segments_v4 as u64),
                    (format!("{{zone=\"{}\",family=\"ipv6\"}}", z.zone), z.segments_v6 as u64),
                ]
            })
            .collect(),
    );
    gauge(
        "dnsbl_zone_patches",
        "Live changes on top of the zone's tables since they were last folded.",
        s.zones.iter().map(|z| (zone(z), z.patches as u64)).collect(),
    );
    gauge("dnsbl_marketers", "Registered marketer accounts.", vec![(String::new(), s.marketers as u64)]);
    gauge(
        "dnsbl_evidence_records",
        "Evidence records stored (RocksDB's estimate), bounded by [evidence] retention-days.",
        vec![(String::new(), s.evidence_records)],
    );
    gauge(
        "dnsbl_udp_workers",
        "UDP sockets, each served by its own thread.",
        vec![(String::new(), s.dns.udp_workers as u64)],
    );
    gauge("dnsbl_uptime_seconds", "Seconds since the server started.", vec![(String::new(), s.dns.uptime_seconds)]);
    out
}
