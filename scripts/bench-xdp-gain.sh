#!/usr/bin/env bash
# AF_XDP gain measurement: what bypassing the kernel's UDP stack would save per answer, measured
# before any of it is built into dnsbl. Two network namespaces joined by a veth pair (198.18.0.1
# serves, 198.18.0.2 sends; RFC 2544's benchmarking range), the sender on CPU 0, the server on
# CPU 1. See README "Past the kernel's UDP stack".
#
#   make bench-xdp-gain                  # ~15 minutes; root (namespaces, XDP); installs clang,
#                                        # libxdp-dev, libbpf-dev, ethtool if missing
#   BENCH_RATES="100000" BENCH_ROUNDS=1 scripts/bench-xdp-gain.sh   # a quick look
#
# Receivers, each behind 198.18.0.1:PORT in turn, fed the same queries at the same fixed rates:
#   drop     an XDP program that drops everything: what receiving alone costs the server's core
#   xdp-tx   the fixed reply sent by the XDP program itself (XDP_TX): no user space at all, the
#            floor of anything built on XDP
#   xsk      scripts/xdp/xdptool.c: the smallest AF_XDP responder (copy mode, the only mode a veth
#            has), answering each query with a fixed reply built in place
#   socket   scripts/xdp/sockresp.c: the same fixed reply through recvmmsg/sendmmsg
#   dnsbl    dnsbl serve on the bench list (the data of make bench-peer; made here if missing)
#   rbldnsd  rbldnsd on the same list
# The sender (scripts/xdp/blast.c) sends in 200 µs ticks and never reads; the replies are counted
# and dropped by an XDP sink on its own interface, so its cost is the same whoever answers.
#
# Server CPU per answer = CPU 1's busy time during the run / answers. Each side's receive work
# runs on its own core: GRO on and threaded NAPI on both veth ends, napi/xs0 pinned to CPU 1 with
# the server and napi/xc0 to CPU 0 with the sender (a veth otherwise does the receiving side's
# work on the sending core, inside the sender's system calls). Busy time is wall time less the
# kernel's idle time, which NO_HZ kernels measure exactly (user and system time are sampled at
# the tick and miss a paced load's short bursts). Rounds take the receivers in turn so that the
# machine's drift falls on all alike; the table gives each round and the medians.
#
# Settings: BENCH_RATES ("100000 200000 300000 400000" queries per second), BENCH_SECONDS per run
# (5), BENCH_ROUNDS (5), BENCH_PORT (5399), BENCH_DIR (target/bench-peer), BENCH_SCALE (1, for
# data made here).
set -euo pipefail
cd "$(dirname "$0")/.."

RATES=${BENCH_RATES:-100000 200000 300000 400000}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-5}
PORT=${BENCH_PORT:-5399}
DATA_DIR=${BENCH_DIR:-target/bench-peer}
ZONE=bl.bench
OUT=target/xdp-gain
NS_S=dnsbl-xg-s-$$
NS_C=dnsbl-xg-c-$$
HZ=$(getconf CLK_TCK)

[ "$(id -u)" = 0 ] || { echo "bench-xdp-gain needs root (network namespaces, XDP)" >&2; exit 1; }
need=()
for tool in clang:clang gcc:gcc rbldnsd:rbldnsd dig:bind9-dnsutils taskset:util-linux bc:bc python3:python3; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
command -v ethtool >/dev/null || need+=(ethtool)
[ -f /usr/include/xdp/xsk.h ] || need+=(libxdp-dev)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
cargo build --release --locked -q
DNSBL=$PWD/target/release/dnsbl
# The data of make bench-peer (scripts/bench-peer.sh), made the same way when missing.
if [ ! -f "$DATA_DIR/queries.txt" ]; then
  mkdir -p "$DATA_DIR"
  python3 scripts/bench-data.py "$DATA_DIR" "$ZONE" "${BENCH_SCALE:-1}"
  touch "$DATA_DIR/scale-${BENCH_SCALE:-1}"
fi
chmod -R a+rX "$DATA_DIR"   # rbldnsd reads the files as user rbldns
if [ ! -d "$DATA_DIR/dnsbl-data-datasets" ]; then
  "$DNSBL" zone import --data-dir "$DATA_DIR/dnsbl-data-datasets" --rbldnsd "$ZONE:ip4set:$DATA_DIR/v4set.rbldnsd" \
    --rbldnsd "$ZONE:ip4trie:$DATA_DIR/v4trie.rbldnsd" --rbldnsd "$ZONE:ip6trie:$DATA_DIR/v6.rbldnsd" >/dev/null
fi

mkdir -p "$OUT"
clang -O2 -g -target bpf -DPORT="$PORT" -I"/usr/include/$(gcc -print-multiarch)" -c scripts/xdp/xdp.bpf.c -o "$OUT/xdp.bpf.o"
gcc -O2 -Wall -o "$OUT/xdptool" scripts/xdp/xdptool.c -lxdp -lbpf
gcc -O2 -Wall -o "$OUT/blast" scripts/xdp/blast.c
gcc -O2 -Wall -o "$OUT/sockresp" scripts/xdp/sockresp.c

# The processes of ours still running (a server, a sink), stopped on any exit.
PIDS=()
forget() { local keep=() p; for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; PIDS=("${keep[@]}"); }
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$NS_S" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add xs0 netns "$NS_S" type veth peer name xc0 netns "$NS_C"
ip -n "$NS_S" addr add 198.18.0.1/24 dev xs0
ip -n "$NS_C" addr add 198.18.0.2/24 dev xc0
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set xs0 up
ip -n "$NS_C" link set xc0 up
# Each side's receive work runs on its own core, as a NIC's interrupt would be steered: veth
# receives through NAPI when GRO is on, and threaded NAPI gives that work a kernel thread per
# interface (napi/xs0-N on CPU 1 with the server, napi/xc0-N on CPU 0 with the sender). Without
# this a veth does the receiving side's work on the sending CPU, inside the sender's system calls.
ip netns exec "$NS_S" ethtool -K xs0 gro on >/dev/null
ip netns exec "$NS_C" ethtool -K xc0 gro on >/dev/null
ip netns exec "$NS_S" sh -c 'echo 1 > /sys/class/net/xs0/threaded'
ip netns exec "$NS_C" sh -c 'echo 1 > /sys/class/net/xc0/threaded'
pin_napi() {
  local pid
  for pid in $(pgrep '^napi/xs0-'); do taskset -p -c 1 "$pid" >/dev/null; done
  for pid in $(pgrep '^napi/xc0-'); do taskset -p -c 0 "$pid" >/dev/null; done
}
# Static neighbours: the XDP sinks drop ARP too.
mac() { ip -n "$1" -br link show "$2" | awk '{print $3}'; }
ip -n "$NS_S" neigh replace 198.18.0.2 lladdr "$(mac "$NS_C" xc0)" dev xs0 nud permanent
ip -n "$NS_C" neigh replace 198.18.0.1 lladdr "$(mac "$NS_S" xs0)" dev xc0 nud permanent
# (Started directly, not through a shell function, so that $! is the process itself.)
in_c() { ip netns exec "$NS_C" "$@"; }

SERVER=""
start() {
  case $1 in
    drop) ip netns exec "$NS_S" taskset -c 1 "$OUT/xdptool" sink "$OUT/xdp.bpf.o" xs0 100000 >"$OUT/drop.log" 2>&1 & ;;
    xdp-tx) ip netns exec "$NS_S" taskset -c 1 "$OUT/xdptool" tx "$OUT/xdp.bpf.o" xs0 >"$OUT/xdp-tx.log" 2>&1 & ;;
    xsk) ip netns exec "$NS_S" taskset -c 1 "$OUT/xdptool" respond "$OUT/xdp.bpf.o" xs0 >"$OUT/xsk.log" 2>&1 & ;;
    socket) ip netns exec "$NS_S" taskset -c 1 "$OUT/sockresp" 198.18.0.1 "$PORT" >"$OUT/socket.log" 2>&1 & ;;
    dnsbl) DNSBL_LOG=warn ip netns exec "$NS_S" taskset -c 1 "$DNSBL" serve --zone "$ZONE" --data-dir "$DATA_DIR/dnsbl-data-datasets" \
             --listen "198.18.0.1:$PORT" --web-listen 127.0.0.1:0 >"$OUT/dnsbl.log" 2>&1 & ;;
    rbldnsd) ip netns exec "$NS_S" taskset -c 1 rbldnsd -n -a -b "198.18.0.1/$PORT" -w "$PWD/$DATA_DIR" -u rbldns \
               "$ZONE:ip4set:v4set.rbldnsd" "$ZONE:ip4trie:v4trie.rbldnsd" "$ZONE:ip6trie:v6.rbldnsd" \
               >"$OUT/rbldnsd.log" 2>&1 & ;;
  esac
  SERVER=$!
  PIDS+=("$SERVER")
  case $1 in
    drop | xdp-tx)  # (xdp-tx replies reach only an XDP program on xc0: no dig)
      sleep 1
      kill -0 "$SERVER" 2>/dev/null && ip -n "$NS_S" link show xs0 | grep -q ' xdp' && return
      echo "$1: the XDP program is not attached: $(cat "$OUT/$1.log")" >&2; exit 1 ;;
  esac
  for _ in $(seq 900); do
    in_c dig +time=1 +tries=1 -p "$PORT" @198.18.0.1 "2.0.0.127.$ZONE" A 2>/dev/null | grep -q 'status:' && return
    sleep 0.1
  done
  echo "$1 did not answer within 90 s" >&2; exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; forget "$SERVER"; SERVER=""; }

# Idle, iowait and steal time of cores 0 and 1, in USER_HZ ticks. With NO_HZ idle (Debian's
# kernels) the kernel measures idle time exactly, while user and system time are sampled at the
# tick, which misses the short bursts of a paced load: so busy time is the wall time less these
# (steal: time the hypervisor gave the vCPU to others).
idle() { awk '/^cpu0 / {a = $5 + $6 + $9} /^cpu1 / {b = $5 + $6 + $9} END {print a, b}' /proc/stat; }
now() { date +%s.%N; }

# One run at rate $2 against receiver $1: sets RESULT to "sent answered cpu0_busy_s cpu1_busy_s".
# (The sender's figure includes its start: reading the queries file.)
RESULT=""
measure() {
  ip netns exec "$NS_C" "$OUT/xdptool" sink "$OUT/xdp.bpf.o" xc0 $((SECS + 2)) >"$OUT/sink.out" 2>"$OUT/sink.err" &
  local sink=$!
  PIDS+=("$sink")
  sleep 0.5
  pin_napi
  local a0 a1 b0 b1 t0 t1 sent answered
  t0=$(now); read -r a0 b0 <<<"$(idle)"
  sent=$(in_c taskset -c 0 "$OUT/blast" 198.18.0.1 "$PORT" "$DATA_DIR/queries.txt" "$2" "$SECS" | awk '{print $2}')
  t1=$(now); read -r a1 b1 <<<"$(idle)"
  wait "$sink" || true
  forget "$sink"
  answered=$(cat "$OUT/sink.out")
  [[ $sent =~ ^[0-9]+$ && $answered =~ ^[0-9]+$ ]] || {
    echo "$1 at $2 qps: no count (sent '$sent', answered '$answered'): $(cat "$OUT/sink.err")" >&2; exit 1; }
  [ "$1" = drop ] && answered=0
  RESULT="$sent $answered $(echo "scale=3; ($t1 - $t0) - ($a1 - $a0) / $HZ" | bc) $(echo "scale=3; ($t1 - $t0) - ($b1 - $b0) / $HZ" | bc)"
}

RECEIVERS="drop xdp-tx xsk socket dnsbl rbldnsd"
declare -A R
for round in $(seq "$ROUNDS"); do
  for r in $RECEIVERS; do
    start "$r"
    for rate in $RATES; do
      measure "$r" "$rate"
      R[$round,$r,$rate]=$RESULT
      echo "round $round $r $rate: ${R[$round,$r,$rate]}" >&2
    done
    stop
  done
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# µs of core $3 (1: the server's, 0: the sender's) per answer (per query sent for drop) in round $1 for
# receiver $2 at rate $4.
per_answer() {
  local sent ans c0 c1 n
  read -r sent ans c0 c1 <<<"${R[$1,$2,$4]}"
  n=$([ "$2" = drop ] && echo "$sent" || echo "$ans")
  [ "${n:-0}" -gt 0 ] || { echo nan; return; }
  echo "scale=3; $([ "$3" = 1 ] && echo "$c1" || echo "$c0") * 1000000 / $n" | bc
}
ratio() { echo "scale=2; $1 / $2" | bc; }
echo
echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)."
echo "veth between two namespaces; sender and napi/xc0 on CPU 0, server and napi/xs0 on CPU 1;"
echo "$SECS s per run, $ROUNDS rounds. Server CPU µs per answer (CPU 1 busy time / answers), median of"
echo "the rounds, each round in brackets; drop is per query received. Answered: of sent."
echo
echo '| offered qps | sender µs/query | drop | xdp-tx | xsk | socket | dnsbl | rbldnsd | answered, median (xdp-tx xsk socket dnsbl rbldnsd) | socket/xsk | dnsbl on AF_XDP, projected | gain | rbldnsd/dnsbl |'
echo '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |'
OWN="" OWN_AT=""
for rate in $RATES; do
  declare -A M=() A=()
  senders=""
  cells=""
  for round in $(seq "$ROUNDS"); do senders="$senders $(per_answer "$round" drop 0 "$rate")"; done
  for r in drop xdp-tx xsk socket dnsbl rbldnsd; do
    vals=""
    shares=""
    for round in $(seq "$ROUNDS"); do
      vals="$vals $(per_answer "$round" "$r" 1 "$rate")"
      read -r sent ans _ _ <<<"${R[$round,$r,$rate]}"
      shares="$shares $(echo "scale=1; 100 * $ans / $sent" | bc)"
    done
    M[$r]=$(echo "$vals" | tr ' ' '\n' | grep . | median)
    A[$r]=$(echo "$shares" | tr ' ' '\n' | grep . | median)
    cells="$cells | ${M[$r]} [$(echo $vals | tr ' ' '/')]"
  done
  # dnsbl's own work is what it costs beyond the fixed-reply socket responder, taken where neither
  # is saturated (both answer at least 99 %); past that, per-answer figures are 1 / capacity and
  # the difference is not the work, so the last unsaturated value is used. On AF_XDP dnsbl would
  # cost the fixed-reply AF_XDP responder plus that.
  if [ "$(echo "${A[socket]} >= 99 && ${A[dnsbl]} >= 99" | bc)" = 1 ]; then
    OWN=$(echo "scale=3; ${M[dnsbl]} - ${M[socket]}" | bc); OWN_AT=$rate
  fi
  if [ -n "$OWN" ]; then
    projected="$(echo "scale=3; ${M[xsk]} + $OWN" | bc) µs (own work $OWN at $OWN_AT)"
    gain="$(ratio "${M[dnsbl]}" "$(echo "scale=3; ${M[xsk]} + $OWN" | bc)")×"
  else
    projected="—" gain="—"
  fi
  echo "| $rate | $(echo "$senders" | tr ' ' '\n' | grep . | median)$cells | ${A[xdp-tx]}% ${A[xsk]}% ${A[socket]}% ${A[dnsbl]}% ${A[rbldnsd]}% | $(ratio "${M[socket]}" "${M[xsk]}") | $projected | $gain | $(ratio "${M[rbldnsd]}" "${M[dnsbl]}") |"
done
