#!/usr/bin/env bash
# Benchmark: apisonar analyze against tshark and the cost of just reading the file (tcpdump).
#
#   scripts/bench.sh [MEGABYTES]      (default 500 per capture; needs tshark and tcpdump)
#
# Generates two captures with the testkit (deterministic, realistic JSON API traffic in
# 1500-byte frames): keep-alive (64 concurrent connections, 1000 transactions each) and short
# connections (one transaction per connection). For each, in the same run, it times
#   - tcpdump -r FILE -w /dev/null          (reading the file: the ceiling)
#   - apisonar analyze FILE                 (single-threaded, release build)
#   - tshark -r FILE -Y http.request ...    (HTTP dissection with TCP reassembly)
# and prints packets/s, Gbit/s, transactions/s, peak memory and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-500}
OUT=bench-out
mkdir -p "$OUT"
for tool in tshark tcpdump /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install tshark tcpdump time)" >&2; exit 2; }
done
cargo build --release -q -p apisonar -p apisonar-testkit

measure() { # name command... -> prints "seconds peak_kib" of the command
  local log="$OUT/time.$1"; shift
  /usr/bin/time -f "%e %M" -o "$log" "$@" >"$log.out" 2>"$log.err" || { echo "failed: $*" >&2; cat "$log.err" >&2; exit 1; }
  cat "$log"
}

printf "%-10s %-9s %9s %12s %9s %12s %9s\n" capture tool seconds packets/s Gbit/s txn/s peak_MB
for kind in keepalive short; do
  file="$OUT/$kind-$MB.pcap"
  [ -s "$file" ] || ./target/release/make-bench-capture "$kind" "$MB" "$file" >/dev/null
  read -r packets bytes < <(./target/release/apisonar analyze --summary json "$file" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["packets"], s["bytes"])')
  cat "$file" >/dev/null  # warm the page cache so every tool reads from memory
  read -r t_read m_read < <(measure read tcpdump -r "$file" -w /dev/null)
  read -r t_ours m_ours < <(measure ours ./target/release/apisonar analyze --summary json "$file")
  txns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["transactions"])' "$OUT/time.ours.out")
  read -r t_tshark m_tshark < <(measure tshark tshark -n -r "$file" -o tcp.desegment_tcp_streams:TRUE -o http.desegment_body:TRUE \
      -d tcp.port==8080,http -Y http.request -T fields -e http.request.method -e http.request.uri)
  txns_tshark=$(wc -l < "$OUT/time.tshark.out")
  row() { python3 -c "import sys; n,t,p,b,x,m=sys.argv[1:]; t=max(float(t),1e-3); print('%-10s %-9s %9.2f %12.0f %9.3f %12s %9.1f' % ('$kind', n, t, float(p)/t, float(b)*8/t/1e9, ('%.0f' % (float(x)/t)) if x!='-' else '-', float(m)/1024))" "$@"; }
  row tcpdump "$t_read" "$packets" "$bytes" - "$m_read"
  row apisonar "$t_ours" "$packets" "$bytes" "$txns" "$m_ours"
  row tshark "$t_tshark" "$packets" "$bytes" "$txns_tshark" "$m_tshark"
  python3 -c "import sys; r,o,t=map(float,sys.argv[1:]); print('%-10s apisonar is %.1fx tshark, at %.0f%% of the read-only ceiling' % ('$kind', t/o, 100*r/o))" "$t_read" "$t_ours" "$t_tshark"
done
