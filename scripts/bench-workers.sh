#!/usr/bin/env bash
# Benchmark: how throughput scales with the number of flow workers.
#
#   scripts/bench-workers.sh [MAX_WORKERS] [REPEATS] [one-pair|many-pairs]
#       defaults: MAX_WORKERS = max(4, cores), REPEATS = 3 (the fastest run of each is kept),
#       one-pair (every connection between one client and one server address; workers are
#       chosen per connection, so it spreads like many pairs)
#
# Two generated captures (testkit, deterministic): keep-alive (200 MB: long connections, the
# packet path dominates) and short (50 MB: one transaction per connection, per-transaction
# analysis dominates). For each, and each worker count N, in the same run:
#   analyze --workers N FILE          packet path only: reader, N flow workers, event thread
#                                     (N = 1 is the single-threaded path without the pipeline)
#   run -r FILE --db DIR --workers N  the whole sensor: reader, N workers (which also make each
#                                     transaction's stateless analysis), the inventory thread
#                                     and the store writer, into a fresh sled store
# and prints seconds, Gbit/s, transactions/s, the speed-up over N = 1, the cores the run kept
# busy, and the CPU seconds of each pipeline thread (from the exit summary). The thread that
# used the most CPU is the stage that limits throughput once there are cores for every thread:
# "bound" is the rate it allows (bytes / that thread's CPU time). On a machine with fewer cores
# than threads the wall-clock speed-up stops at the core count; the CPU split still shows how
# the work divides over the workers.
set -euo pipefail
cd "$(dirname "$0")/.."
CORES=$(nproc)
MAX=${1:-$(( CORES > 4 ? CORES : 4 ))}
REPEATS=${2:-3}
MIX=${3:-one-pair}
OUT=bench-out
mkdir -p "$OUT"
cargo build --release -q -p apisonar-testkit
# The profile-guided build users deploy (see scripts/bench.sh).
BIN=./$(scripts/build-pgo.sh --or-plain)
DB=$(mktemp -d)
trap 'rm -rf "$DB"' EXIT

echo "machine: $CORES cores; workers 1..$MAX; best of $REPEATS; $MIX"
printf "%-9s %-8s %3s %8s %8s %9s %8s %6s  %s\n" capture mode N seconds Gbit/s txn/s speedup cores "cpu seconds by thread (bound Gbit/s)"
for spec in keepalive:200 short:50; do
  kind=${spec%%:*}; mb=${spec##*:}
  file="$OUT/workers-$kind-$mb-$MIX.pcap"
  [ -s "$file" ] || ./target/release/make-bench-capture "$kind" "$mb" "$file" "$MIX" >/dev/null
  cat "$file" >/dev/null  # page cache: every run reads from memory
  for mode in analyze run; do
    base=""
    for n in $(seq 1 "$MAX"); do
      best=""
      for _ in $(seq 1 "$REPEATS"); do
        rm -rf "$DB/store"
        if [ "$mode" = analyze ]; then
          json=$("$BIN" analyze --workers "$n" --summary json "$file")
        else
          json=$("$BIN" run -r "$file" --db "$DB/store" --workers "$n" --status-interval 0 --summary json 2>/dev/null)
        fi
        best=$(python3 - "$best" "$json" <<'EOF'
import json, sys
best, new = sys.argv[1], json.loads(sys.argv[2])
if not best or new["elapsed_secs"] < json.loads(best)["elapsed_secs"]:
    print(json.dumps(new))
else:
    print(best)
EOF
)
      done
      line=$(python3 - "$best" "$base" "$kind" "$mode" "$n" <<'EOF'
import json, sys
s = json.loads(sys.argv[1]); base = sys.argv[2]; kind, mode, n = sys.argv[3:6]
t = max(s["elapsed_secs"], 1e-6)
first = float(base) if base else t
threads = s.get("threads", [])
cpu = sum(x["cpu_secs"] for x in threads)
split = ", ".join("%s %.2f" % (x["thread"], x["cpu_secs"]) for x in threads) or "single thread"
if threads:
    top = max(threads, key=lambda x: x["cpu_secs"])
    split += "  (%s limits: %.2f)" % (top["thread"], s["bytes"] * 8 / max(top["cpu_secs"], 1e-6) / 1e9)
cores = ("%.2f" % (cpu / t)) if threads else "1"
print("%-9s %-8s %3s %8.3f %8.3f %9.0f %7.2fx %6s  %s" % (kind, mode, n, t, s["bytes"] * 8 / t / 1e9,
      s["transactions"] / t, first / t, cores, split))
print("BASE=%f" % (first if base else t))
EOF
)
      echo "$line" | grep -v '^BASE='
      base=$(echo "$line" | sed -n 's/^BASE=//p')
    done
  done
done
