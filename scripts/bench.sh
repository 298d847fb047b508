#!/usr/bin/env bash
# Benchmark: the whole sensor (with its store) against reading the file and against tshark, in
# one run, as ratios.
#
#   scripts/bench.sh [MEGABYTES] [one-pair|many-pairs] [array|envelope|nested]
#                    (default 500 per capture, one-pair, array; needs tshark, tcpdump and GNU time)
#
# Two captures are generated with the testkit (deterministic JSON API traffic in 1500-byte
# frames): keep-alive (64 concurrent connections, 1000 transactions each) and short connections
# (one transaction per connection). Addresses: one-pair puts every connection between one
# client and one server address (behind a load balancer or a sidecar: a split by address pair
# would give one worker everything); many-pairs draws a client address per connection. Answers:
# array answers bare arrays of records, envelope the same arrays in an envelope of scalars
# (`{"data":[...],"total":n,"has_more":false}`), as many APIs page lists, nested the records
# with an array of scalars and an object more (`"roles":[...],"address":{...}`). For each
# capture, in the same run:
#   tcpdump -r FILE -w /dev/null            reading the file: the ceiling
#   apisonar analyze FILE                   transaction layer only (reassembly, HTTP; no store)
#   apisonar analyze --db DIR FILE          the whole sensor as a user runs it: one flow worker,
#                                           analysis, inventory, alerts and the sled store
#   apisonar run -r FILE --db DIR --workers N, N = 1 .. max(2, cores): scaling over workers
#   tshark -r FILE -Y http.request ...      HTTP dissection with TCP reassembly
# and prints seconds, Gbit/s, transactions/s, peak memory, the share of the read ceiling, the
# ratio to tshark and, for `run`, the speed-up over one worker and CPU seconds per thread.
# Every line but tshark's is the fastest of BENCH_RUNS runs (default 3): on a shared machine a
# single run can be a third slower than the next one.
# The sensor measured is the profile-guided build users are told to deploy (scripts/build-pgo.sh,
# trained on captures/, never on these generated captures); without llvm-profdata, or with
# APISONAR_BUILD=plain, the plain release build. The first line says which.
# The per-stage budget (microseconds per transaction per stage) is `cargo bench -p apisonar
# --bench stages` (one table) or `--bench stage_budget` (criterion).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-500}
MIX=${2:-one-pair}
ANSWERS=${3:-array}
RUNS=${BENCH_RUNS:-3}
OUT=bench-out
mkdir -p "$OUT"
for tool in tshark tcpdump /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install tshark tcpdump time)" >&2; exit 2; }
done
cargo build --release -q -p apisonar-testkit
BIN=./$(scripts/build-pgo.sh --or-plain)
DB=$(mktemp -d)
trap 'rm -rf "$DB"' EXIT
CORES=$(nproc)
MAXW=$(( CORES > 2 ? CORES : 2 ))

measure() { # name command... -> prints "seconds peak_kib" of the command
  local log="$OUT/time.$1"; shift
  rm -rf "$DB/store"
  /usr/bin/time -f "%e %M" -o "$log" "$@" >"$log.out" 2>"$log.err" || { echo "failed: $*" >&2; cat "$log.err" >&2; exit 1; }
  cat "$log"
}

fastest() { # name command... -> "seconds peak_kib" of the fastest of $RUNS runs; its output is kept
  local name=$1; shift
  local best="" t m
  for _ in $(seq "$RUNS"); do
    read -r t m < <(measure "$name.try" "$@")
    if [ -z "$best" ] || python3 -c 'import sys; sys.exit(float(sys.argv[1]) >= float(sys.argv[2]))' "$t" "${best%% *}"; then
      best="$t $m"
      cp "$OUT/time.$name.try.out" "$OUT/time.$name.out"
    fi
  done
  echo "$best"
}

echo "machine: $CORES cores; captures: $MB MB each, $MIX, $ANSWERS answers; sensor: $BIN"
printf "%-10s %-22s %8s %8s %9s %8s %8s %8s  %s\n" capture tool seconds Gbit/s txn/s peak_MB ceiling vs_tshark "notes"
for kind in keepalive short; do
  file="$OUT/$kind-$MB-$MIX.pcap"
  [ "$ANSWERS" = array ] || file="$OUT/$kind-$MB-$MIX-$ANSWERS.pcap"
  [ -s "$file" ] || ./target/release/make-bench-capture "$kind" "$MB" "$file" "$MIX" "$ANSWERS" >/dev/null
  cat "$file" >/dev/null  # warm the page cache so every tool reads from memory
  read -r t_read m_read < <(fastest read tcpdump -r "$file" -w /dev/null)
  read -r t_tshark m_tshark < <(measure tshark tshark -n -r "$file" -o tcp.desegment_tcp_streams:TRUE -o http.desegment_body:TRUE \
      -d tcp.port==8080,http -Y http.request -T fields -e http.request.method -e http.request.uri)
  txns_tshark=$(wc -l < "$OUT/time.tshark.out")
  read -r t_layer m_layer < <(fastest layer "$BIN" analyze --summary json "$file")
  read -r bytes txns < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["bytes"], s["transactions"])' "$OUT/time.layer.out")
  read -r t_db m_db < <(fastest db "$BIN" analyze --db "$DB/store" --summary json "$file")
  row() { # tool seconds peak_kib transactions notes
    python3 - "$kind" "$@" "$bytes" "$t_read" "$t_tshark" <<'PY'
import sys
kind, tool, t, m, x, notes, b, read, tshark = sys.argv[1:]
t = max(float(t), 1e-3)
print('%-10s %-22s %8.2f %8.3f %9.0f %8.1f %7.1f%% %7.1fx  %s' % (
    kind, tool, t, float(b) * 8 / t / 1e9, float(x) / t, float(m) / 1024, 100 * float(read) / t, float(tshark) / t, notes))
PY
  }
  row "tcpdump (read)" "$t_read" "$m_read" "$txns" "the ceiling"
  row "tshark" "$t_tshark" "$m_tshark" "$txns_tshark" "$txns_tshark requests"
  row "analyze (no store)" "$t_layer" "$m_layer" "$txns" "transaction layer"
  row "analyze --db" "$t_db" "$m_db" "$txns" "whole sensor, 1 worker"
  base=""
  for n in $(seq 1 "$MAXW"); do
    read -r t_run m_run < <(fastest run "$BIN" run -r "$file" --db "$DB/store" --workers "$n" --status-interval 0 --summary json)
    threads=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(" ".join("%s=%.2f" % (t["thread"], t["cpu_secs"]) for t in s.get("threads", [])))' "$OUT/time.run.out")
    base=${base:-$t_run}
    speedup=$(python3 -c "import sys; print('%.2fx' % (float(sys.argv[1]) / max(float(sys.argv[2]), 1e-3)))" "$base" "$t_run")
    row "run --workers $n" "$t_run" "$m_run" "$txns" "$speedup; cpu s: $threads"
  done
done
