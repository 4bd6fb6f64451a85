#!/usr/bin/env bash
# Peer benchmark: rbldnsd and dnsbl, one after the other, on the same data, the same loopback port
# and the same dnsperf commands. Prints a Markdown table (see README "Performance").
#
#   make bench-peer                       # full dataset (1.22M entries, 300k queries), ~3 minutes
#   BENCH_SCALE=10 make bench-peer        # a tenth of everything, for a quick look
#   scripts/bench-peer.sh change          # dnsbl only: change-to-visible latency of 1000 API adds
#                                         # while dnsperf sends BENCH_RATE qps
#   scripts/bench-peer.sh load            # dnsbl only: start to first answer on a 10M-entry list
#                                         # (written and imported once, ~1.5 GB in BENCH_DIR), 3 runs
#   scripts/bench-peer.sh rrl             # dnsbl only: BENCH_ROUNDS (5) alternating rounds without
#                                         # and with rate limiting (at a rate nothing reaches), the
#                                         # batched generator at full speed; qps and answers per
#                                         # server CPU second per round, and the paired ratios
#   scripts/bench-peer.sh evidence        # dnsbl only, on an empty data directory: evidence ingest
#                                         # throughput (API and `dnsbl evidence ingest`), and report
#                                         # to DNS answer before and after preloading BENCH_EVIDENCE
#                                         # (1,000,000) evidence records (scripts/bench-evidence.py)
#   scripts/bench-peer.sh transfer        # dnsbl only, scale-out: a primary on the bench list with
#                                         # a dnsbl secondary and an NSD secondary (both NOTIFYed);
#                                         # AXFR time and size, each secondary's first copy and
#                                         # memory, and change to answered on each for BENCH_CHANGES
#                                         # (1000) API adds at BENCH_CHANGE_RATE (10) per second
#                                         # (scripts/bench-transfer.py; BENCH_NOTIFY_INTERVAL, 1)
#   scripts/bench-peer.sh instructions [BINARY]
#                                         # dnsbl only: user-space instructions per query under
#                                         # callgrind (40,000 queries at 2,000 qps, counted after the
#                                         # load); the same count on every run, so it compares two
#                                         # builds where timings drift (BINARY: default this tree's)
#
# Settings (environment): BENCH_DIR (target/bench-peer), BENCH_PORT (5399), BENCH_SECONDS per
# dnsperf run (10), BENCH_RATE for the fixed-rate dnsperf latency run (50000 qps),
# BENCH_LATENCY_RATE for the paced-probe latency run (default: half of dnsbl's max qps with the
# batched generator in the same run), BENCH_SCALE (1), BENCH_LAYOUT: how dnsbl holds the data,
# `datasets` (default: the same three datasets rbldnsd serves, one per file) or `one` (the three
# files merged into one list, as before zones were made of datasets). BENCH_RRL=1 serves dnsbl
# with response rate limiting on at a rate nothing reaches (every reply is checked, none limited),
# to measure what the check costs (BENCH_RRL_TABLE: its table-size, default the configuration's).
# Every run is bounded by BENCH_SECONDS; the servers this script starts are stopped on exit.
set -euo pipefail
[ -n "${BENCH_TRACE:-}" ] && set -x
cd "$(dirname "$0")/.."

OUT=${BENCH_DIR:-target/bench-peer}
PORT=${BENCH_PORT:-5399}
SECS=${BENCH_SECONDS:-10}
RATE=${BENCH_RATE:-50000}
SCALE=${BENCH_SCALE:-1}
ZONE=bl.bench
LAYOUT=${BENCH_LAYOUT:-datasets}
DATA=$OUT/dnsbl-data-$LAYOUT
# dnsbl's configuration: the embedded default, or with rate limiting (BENCH_RRL=1).
CONFIG_ARGS=()
if [ -n "${BENCH_RRL:-}" ]; then
  mkdir -p "$OUT"
fi
# The embedded default with `[server.rrl]` at a rate nothing reaches (every reply checked).
rrl_config() {
  mkdir -p "$OUT"
  local table=${BENCH_RRL_TABLE:+\\ntable-size = $BENCH_RRL_TABLE}
  sed "s/^registered-resolvers-only = false\$/registered-resolvers-only = false\\n[server.rrl]\\nresponses-per-second = 1000000$table/" \
    config/dnsbl.toml >"$OUT/rrl.toml"
  grep -q '^\[server.rrl\]' "$OUT/rrl.toml" || { echo "cannot add [server.rrl] to config/dnsbl.toml" >&2; exit 1; }
}
if [ -n "${BENCH_RRL:-}" ]; then
  rrl_config
  CONFIG_ARGS=(--config "$OUT/rrl.toml")
fi
HZ=$(getconf CLK_TCK)
SERVER_PID=""

cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

need=()
tools="rbldnsd:rbldnsd dnsperf:dnsperf dig:dnsutils taskset:util-linux python3:python3"
[ "${1:-}" = instructions ] && tools="$tools valgrind:valgrind callgrind_control:valgrind"
for tool in $tools; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
cargo build --release --locked -q
cargo build --release --locked -q --example loadgen
DNSBL=$PWD/target/release/dnsbl
LOADGEN=$PWD/target/release/examples/loadgen

# Evidence ingest and report-to-answer times (dnsbl only; needs none of the peer data).
if [ "${1:-}" = evidence ]; then
  EDATA=$OUT/evidence-data
  rm -rf "$EDATA"
  mkdir -p "$OUT"
  api_port=$((PORT + 1))
  DNSBL_LOG=warn "$DNSBL" serve --data-dir "$EDATA" --listen "127.0.0.1:$PORT" --web-listen 127.0.0.1:0 \
      --api-listen "127.0.0.1:$api_port" >"$OUT/dnsbl-evidence.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 600); do
    dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 2.0.0.127.bl.localhost A 2>/dev/null | grep -q '^127\.' && break
    sleep 0.1
  done
  timeout 1800 python3 scripts/bench-evidence.py --api "http://127.0.0.1:$api_port" \
      --token-file "$EDATA/operator.token" --dns "127.0.0.1:$PORT" --zone bl.localhost --cli "$DNSBL" \
      --preload "${BENCH_EVIDENCE:-1000000}"
  echo "data directory after the run: $(du -sh "$EDATA" | cut -f1)"
  exit 0
fi

if [ ! -f "$OUT/scale-$SCALE" ]; then
  rm -rf "$OUT"; mkdir -p "$OUT"
  python3 scripts/bench-data.py "$OUT" "$ZONE" "$SCALE"
  touch "$OUT/scale-$SCALE"
fi
chmod -R a+rX "$OUT"   # rbldnsd reads the files as user rbldns
PROBE=$(grep -m1 ' A$' "$OUT/queries.txt" | cut -d' ' -f1)

LISTED=$(sed -n 3p "$OUT/v4set.rbldnsd" | awk -F. '{print $4"."$3"."$2"."$1}').$ZONE

# Writes dnsbl's data directory for the layout, with the binary $1 (default this tree's).
import_data() {
  rm -rf "$DATA"
  case $LAYOUT in
    datasets) "${1:-$DNSBL}" zone import --data-dir "$DATA" --rbldnsd "$ZONE:ip4set:$OUT/v4set.rbldnsd" \
                --rbldnsd "$ZONE:ip4trie:$OUT/v4trie.rbldnsd" --rbldnsd "$ZONE:ip6trie:$OUT/v6.rbldnsd" ;;
    one) "${1:-$DNSBL}" zone import "$OUT/all.rbldnsd" --zone "$ZONE" --data-dir "$DATA" ;;
    *) echo "BENCH_LAYOUT is datasets or one" >&2; exit 2 ;;
  esac >/dev/null
}

# Scale-out: transfers to a dnsbl secondary and to NSD (dnsbl only).
if [ "${1:-}" = transfer ]; then
  command -v nsd >/dev/null || { SUDO=$([ "$(id -u)" = 0 ] || echo sudo); DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nsd; }
  [ -d "$DATA" ] || import_data
  timeout 1800 python3 scripts/bench-transfer.py --dnsbl "$DNSBL" --data "$DATA" --zone "$ZONE" \
      --out "$OUT/transfer" --changes "${BENCH_CHANGES:-1000}" --rate "${BENCH_CHANGE_RATE:-10}" \
      --notify-interval "${BENCH_NOTIFY_INTERVAL:-1}"
  exit 0
fi

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# Starts a server on cores $2 ("rbldnsd" or "dnsbl" in $1); sets SERVER_PID and LOAD_S.
start_server() {
  local t0; t0=$(date +%s.%N)
  case $1 in
    rbldnsd) taskset -c "$2" rbldnsd -n -a -b "127.0.0.1/$PORT" -w "$PWD/$OUT" -u rbldns \
               "$ZONE:ip4set:v4set.rbldnsd" "$ZONE:ip4trie:v4trie.rbldnsd" "$ZONE:ip6trie:v6.rbldnsd" \
               >"$OUT/rbldnsd.log" 2>&1 & ;;
    dnsbl) DNSBL_LOG=warn taskset -c "$2" "$DNSBL" serve "${CONFIG_ARGS[@]}" --zone "$ZONE" --data-dir "$DATA" \
               --listen "127.0.0.1:$PORT" --web-listen 127.0.0.1:0 >"$OUT/dnsbl.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 600); do
    # dig +short prints errors to stdout too, so wait for an actual 127.0.0.x answer.
    if dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 "$LISTED" A 2>/dev/null | grep -q '^127\.'; then
      LOAD_S=$(echo "$(date +%s.%N) - $t0" | bc); return 0
    fi
    sleep 0.1
  done
  echo "$1 did not answer within 60 s" >&2; exit 1
}

stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

# Max-rate run: prints "qps lost% cpu_seconds".
max_rate() {
  local c0 c1 out
  c0=$(cpu_ticks "$SERVER_PID")
  out=$(timeout $((SECS + 20)) taskset -c "$1" dnsperf -s 127.0.0.1 -p "$PORT" -d "$OUT/queries.txt" \
        -l "$SECS" -c 4 -q 500 2>&1)
  c1=$(cpu_ticks "$SERVER_PID")
  echo "$(echo "$out" | awk '/Queries per second/ {printf "%.0f", $4}') \
$(echo "$out" | awk -F'[()]' '/Queries lost/ {print $2}') \
$(echo "scale=2; ($c1 - $c0) / $HZ" | bc)"
}

# Max-rate run with the batched generator (examples/loadgen.rs): prints "qps lost% cpu_seconds".
loadgen_rate() {
  local c0 c1 out
  c0=$(cpu_ticks "$SERVER_PID")
  out=$(timeout $((SECS + 20)) taskset -c "$1" "$LOADGEN" "127.0.0.1:$PORT" "$OUT/queries.txt" "$SECS" 4 256)
  c1=$(cpu_ticks "$SERVER_PID")
  echo "$out" | awk -v cpu="$(echo "scale=2; ($c1 - $c0) / $HZ" | bc)" \
    '{printf "%s %.2f%% %s", $NF, ($2 ? 100 * $6 / $2 : 0), cpu}'
}

# Fixed-rate run with the paced probe (loadgen --rate $2): prints "p50 p99 p99.9 max lost% lag"
# (milliseconds; lag is how far the probe fell behind its own schedule at worst).
paced_rate() {
  local out
  out=$(timeout $((SECS + 20)) taskset -c "$1" "$LOADGEN" "127.0.0.1:$PORT" "$OUT/queries.txt" "$SECS" 4 256 --rate "$2")
  echo "$out" | awk '{printf "%s %s %s %s %.2f%% %s", $10, $12, $14, $16, ($2 ? 100 * $6 / $2 : 0), $18}'
}

# Fixed-rate run: prints "p50_ms p99_ms lost%".
fixed_rate() {
  local out
  out=$(timeout $((SECS + 20)) taskset -c "$1" dnsperf -s 127.0.0.1 -p "$PORT" -d "$OUT/queries.txt" \
        -l "$SECS" -Q "$RATE" -c 4 -q 500 -v 2>&1)
  echo "$(echo "$out" | awk '/^> / {print $NF}' | sort -n | awk '{a[NR]=$1} END {printf "%.3f %.3f", a[int(NR*0.5)]*1000, a[int(NR*0.99)]*1000}') \
$(echo "$out" | awk -F'[()]' '/Queries lost/ {print $2}')"
}

declare -A R
run() {
  local name=$1
  start_server "$name" 0
  R[$name,load]=$LOAD_S
  read -r R[$name,qps] R[$name,lost] R[$name,cpu] <<<"$(max_rate 1)"
  read -r R[$name,gqps] R[$name,glost] R[$name,gcpu] <<<"$(loadgen_rate 1)"
  read -r R[$name,p50] R[$name,p99] R[$name,flost] <<<"$(fixed_rate 1)"
  R[$name,rss]=$(rss_mb "$SERVER_PID")
  stop_server
  start_server "$name" 0,1
  read -r R[$name,qps2] R[$name,lost2] R[$name,cpu2] <<<"$(max_rate 0,1)"
  stop_server
}

# Change-to-visible latency under load (dnsbl only; rbldnsd has no live changes).
change_mode() {
  local api_port=$((PORT + 1)) out
  [ -d "$DATA" ] || import_data
  DNSBL_LOG=warn "$DNSBL" serve --zone "$ZONE" --data-dir "$DATA" --listen "127.0.0.1:$PORT" --web-listen 127.0.0.1:0 \
      --api-listen "127.0.0.1:$api_port" >"$OUT/dnsbl.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 600); do
    dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 "$LISTED" A 2>/dev/null | grep -q '^127\.' && break
    sleep 0.1
  done
  timeout $((SECS + 40)) dnsperf -s 127.0.0.1 -p "$PORT" -d "$OUT/queries.txt" -l $((SECS + 20)) -Q "$RATE" \
      -c 4 -q 500 >"$OUT/dnsperf-change.log" 2>&1 &
  local load_pid=$!
  sleep 1
  python3 scripts/bench-change.py --api "http://127.0.0.1:$api_port" --token-file "$DATA/operator.token" \
      --dns "127.0.0.1:$PORT" --zone "$ZONE" -n 1000 --base "100.$((64 + RANDOM % 32)).0.0"
  wait "$load_pid" || true
  echo "dnsperf meanwhile at $RATE qps: $(grep -E 'Queries (completed|lost)' "$OUT/dnsperf-change.log" | tr -s ' ' | tr '\n' ' ')"
  stop_server
}
# Start to first answer on a 10M-entry list, three times (dnsbl only).
load_mode() {
  local dir=$OUT/load10m t0 t1
  mkdir -p "$dir"
  [ -f "$dir/list.rbldnsd" ] || python3 scripts/bench-load-data.py "$dir/list.rbldnsd"
  if [ ! -d "$dir/data" ]; then
    echo "importing $(wc -l <"$dir/list.rbldnsd") lines" >&2
    "$DNSBL" zone import "$dir/list.rbldnsd" --zone "$ZONE" --data-dir "$dir/data" >/dev/null
  fi
  for run in 1 2 3; do
    t0=$(date +%s.%N)
    DNSBL_LOG=warn "$DNSBL" serve --zone "$ZONE" --data-dir "$dir/data" --listen "127.0.0.1:$PORT" --web-listen 127.0.0.1:0 >"$OUT/dnsbl.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 600); do
      dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 "2.0.0.127.$ZONE" A 2>/dev/null | grep -q '^127\.' && break
      sleep 0.05
    done
    t1=$(date +%s.%N)
    echo "run $run: first answer after $(echo "$t1 - $t0" | bc) s, peak RSS $(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$SERVER_PID/status") MB, RSS $(rss_mb "$SERVER_PID") MB"
    stop_server
  done
}
# User-space instructions per query of the whole server process, under callgrind (dnsbl only).
instructions_mode() {
  local bin=${1:-$DNSBL} out=$OUT/callgrind.out pid queries total
  [ -d "$DATA" ] || import_data
  rm -f "$out"*
  DNSBL_LOG=warn valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$bin" serve "${CONFIG_ARGS[@]}" --zone "$ZONE" \
      --data-dir "$DATA" --listen "127.0.0.1:$PORT" --api-listen 127.0.0.1:0 >"$OUT/callgrind.log" 2>&1 &
  pid=$!
  SERVER_PID=$pid
  for _ in $(seq 1200); do
    dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 "$LISTED" A 2>/dev/null | grep -q '^127\.' && break
    sleep 0.1
  done
  callgrind_control -i on "$pid" >/dev/null
  queries=$(timeout 60 dnsperf -s 127.0.0.1 -p "$PORT" -d "$OUT/queries.txt" -l 20 -Q 2000 -c 4 2>&1 \
            | awk '/Queries completed/ {print $3}')
  callgrind_control -i off "$pid" >/dev/null
  stop_server
  total=$(cat "$out"* | awk '/^totals:/ {s += $2} END {print s}')
  echo "$bin: $total instructions for $queries queries, $(echo "$total / $queries" | bc) per query"
}
# Alternating rounds without and with rate limiting (dnsbl only).
rrl_mode() {
  local rounds=${BENCH_ROUNDS:-5} off on q c ratios=() rows=()
  [ -d "$DATA" ] || import_data
  rrl_config
  for round in $(seq "$rounds"); do
    # The order alternates too, so neither side always runs first.
    local order="off on"; [ $((round % 2)) = 0 ] && order="on off"
    for mode in $order; do
      if [ $mode = on ]; then CONFIG_ARGS=(--config "$OUT/rrl.toml"); else CONFIG_ARGS=(); fi
      start_server dnsbl 0
      read -r q _ c <<<"$(loadgen_rate 1)"
      stop_server
      printf -v "$mode" '%s %s' "$q" "$(echo "scale=0; $q * $SECS / $c" | bc)"
    done
    read -r qoff coff <<<"$off"; read -r qon con <<<"$on"
    rows+=("| $round | $qoff | $qon | $coff | $con |")
    ratios+=("$(echo "scale=3; $qon / $qoff" | bc) $(echo "scale=3; $con / $coff" | bc)")
  done
  echo "| round | qps without | qps with RRL | answers per CPU s without | with RRL |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  printf '%s\n' "${ratios[@]}" | sort -n -k1 | awk '{a[NR]=$1} END {print "median qps ratio with/without: " a[int((NR+1)/2)]}'
  printf '%s\n' "${ratios[@]}" | sort -n -k2 | awk '{a[NR]=$2} END {print "median answers-per-CPU-second ratio with/without: " a[int((NR+1)/2)]}'
}

case "${1:-}" in
  change) change_mode; exit 0 ;;
  rrl) rrl_mode; exit 0 ;;
  load) load_mode; exit 0 ;;
  instructions) instructions_mode "${2:-}"; exit 0 ;;
esac

echo "dataset: $(grep -vc '^[#:$!]' "$OUT/all.rbldnsd") entries + $(grep -c '^!' "$OUT/all.rbldnsd") exclusions, $(wc -l <"$OUT/queries.txt") queries" >&2
t0=$(date +%s.%N)
import_data
IMPORT_S=$(echo "scale=1; ($(date +%s.%N) - $t0) / 1" | bc)
run rbldnsd
run dnsbl
# Latency at half of dnsbl's capacity, for both servers, with the paced probe.
LRATE=${BENCH_LATENCY_RATE:-$(( ${R[dnsbl,gqps]} / 2 ))}
for name in rbldnsd dnsbl; do
  start_server "$name" 0
  read -r R[$name,lp50] R[$name,lp99] R[$name,lp999] R[$name,lmax] R[$name,llost] R[$name,llag] <<<"$(paced_rate 1 "$LRATE")"
  stop_server
done

ratio() { echo "scale=2; $1 / $2" | bc; }
per_cpu() { echo "scale=0; ${R[$1,qps]} * $SECS / ${R[$1,cpu]}" | bc; }
per_cpu_gen() { echo "scale=0; ${R[$1,gqps]} * $SECS / ${R[$1,gcpu]}" | bc; }
cat <<TABLE
| measure | rbldnsd | dnsbl | dnsbl / rbldnsd |
|---|---|---|---|
| max qps, server on 1 core, dnsperf on the other | ${R[rbldnsd,qps]} | ${R[dnsbl,qps]} | $(ratio "${R[dnsbl,qps]}" "${R[rbldnsd,qps]}") |
| lost at max rate | ${R[rbldnsd,lost]} | ${R[dnsbl,lost]} | |
| server CPU seconds in that run (${SECS} s) | ${R[rbldnsd,cpu]} | ${R[dnsbl,cpu]} | $(ratio "${R[dnsbl,cpu]}" "${R[rbldnsd,cpu]}") |
| answers per server CPU second | $(per_cpu rbldnsd) | $(per_cpu dnsbl) | $(ratio "$(per_cpu dnsbl)" "$(per_cpu rbldnsd)") |
| max qps, server on 1 core, batched generator (examples/loadgen) on the other | ${R[rbldnsd,gqps]} | ${R[dnsbl,gqps]} | $(ratio "${R[dnsbl,gqps]}" "${R[rbldnsd,gqps]}") |
| lost in that run | ${R[rbldnsd,glost]} | ${R[dnsbl,glost]} | |
| answers per server CPU second in that run | $(per_cpu_gen rbldnsd) | $(per_cpu_gen dnsbl) | $(ratio "$(per_cpu_gen dnsbl)" "$(per_cpu_gen rbldnsd)") |
| p50 / p99 latency at ${RATE} qps (ms) | ${R[rbldnsd,p50]} / ${R[rbldnsd,p99]} | ${R[dnsbl,p50]} / ${R[dnsbl,p99]} | |
| lost at ${RATE} qps | ${R[rbldnsd,flost]} | ${R[dnsbl,flost]} | |
| p50 / p99 / p99.9 / max latency at ${LRATE} qps, paced probe (loadgen --rate) on the other core (ms) | ${R[rbldnsd,lp50]} / ${R[rbldnsd,lp99]} / ${R[rbldnsd,lp999]} / ${R[rbldnsd,lmax]} | ${R[dnsbl,lp50]} / ${R[dnsbl,lp99]} / ${R[dnsbl,lp999]} / ${R[dnsbl,lmax]} | |
| lost at ${LRATE} qps; the probe's worst lag behind its schedule (ms) | ${R[rbldnsd,llost]}; ${R[rbldnsd,llag]} | ${R[dnsbl,llost]}; ${R[dnsbl,llag]} | |
| max qps, server on both cores (shared with dnsperf) | ${R[rbldnsd,qps2]} | ${R[dnsbl,qps2]} | $(ratio "${R[dnsbl,qps2]}" "${R[rbldnsd,qps2]}") |
| RSS after the runs (MB) | ${R[rbldnsd,rss]} | ${R[dnsbl,rss]} | |
| start to first answer (s) | ${R[rbldnsd,load]} (from text) | ${R[dnsbl,load]} (from RocksDB) | |
| import of the text file (s) | — | ${IMPORT_S} | |
TABLE
echo "change-to-visible latency under load: scripts/bench-peer.sh change"
