#!/usr/bin/env bash
# Soak benchmark of the live sensor: tcpreplay replays a generated capture at full speed, looping
# with new addresses each pass (so every pass opens new connections), into a veth pair between
# two network namespaces made here, while `apisonar run -i` (release build) captures the other
# end. Every INTERVAL seconds it prints, from the sensor's /metrics: frames captured, the rate,
# drops by reason, limit hits, active flows, transactions, endpoints and resident memory (with
# its split from /proc: heap, and what is mapped: the kernel's packet ring of `buffer_mib`, the
# store's files, the binary); at the end the sensor's exit summary and whether memory stayed
# flat.
#
#   sudo scripts/soak.sh [SECONDS] [INTERVAL] [KIND] [WORKERS]
#       defaults: 300 s, every 15 s, KIND=short (one transaction per connection; or keepalive),
#       WORKERS = the cores available
#   SOAK_ARGS="..." adds flags to `apisonar run` (default: --idle-timeout 30).
#
# Memory plateaus once connections start to expire: connections cut by drops only end at the
# idle timeout, so the plateau is (new connections per second x idle timeout) flows. The
# default 30 s timeout reaches it within the first minute; with the 300 s default it takes
# five minutes longer and sits higher.
#
# Needs root, iproute2, tcpreplay, curl (scripts/setup-debian.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-300}
INTERVAL=${2:-15}
KIND=${3:-short}
WORKERS=${4:-$(nproc)}
OUT=bench-out
mkdir -p "$OUT"
cargo build --release -q -p apisonar-testkit
# The profile-guided build users deploy (see scripts/bench.sh).
BIN=./$(scripts/build-pgo.sh --or-plain)
CAP="$OUT/soak-$KIND-50.pcap"
[ -s "$CAP" ] || ./target/release/make-bench-capture "$KIND" 50 "$CAP" >/dev/null

TX=apisonar-soak-tx RX=apisonar-soak-rx
cleanup() {
  [ -n "${SENSOR:-}" ] && kill -TERM "$SENSOR" 2>/dev/null || true
  [ -n "${REPLAY:-}" ] && kill "$REPLAY" 2>/dev/null || true
  sleep 1
  ip netns del $TX 2>/dev/null || true
  ip netns del $RX 2>/dev/null || true
}
trap cleanup EXIT
for ns in $TX $RX; do
  ip netns del $ns 2>/dev/null || true
  ip netns add $ns
  ip netns exec $ns sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n $ns link set lo up
done
ip link add soak-tx netns $TX type veth peer name soak-rx netns $RX
ip -n $TX link set soak-tx mtu 9000 up
ip -n $RX link set soak-rx mtu 9000 up

DB=$(mktemp -d /tmp/apisonar-soak.XXXXXX)
TOKEN=$("$BIN" token create --db "$DB" --name soak)
ip netns exec $RX "$BIN" run -i soak-rx --db "$DB" --listen 127.0.0.1:9464 \
  --workers "$WORKERS" --status-interval 0 --summary json ${SOAK_ARGS:---idle-timeout 30} >"$OUT/soak.summary.json" 2>"$OUT/soak.log" &
SENSOR=$!
for _ in $(seq 50); do
  grep -q "capture started" "$OUT/soak.log" 2>/dev/null && break
  sleep 0.2
done
metrics() { ip netns exec $RX curl -sk --max-time 2 -H "Authorization: Bearer $TOKEN" https://127.0.0.1:9464/metrics; }
value() { # metric-prefix -> sum of matching samples (of the last fetch, in $M)
  awk -v p="$1" 'index($0, p) == 1 { s += $NF } END { printf "%.0f", s }' <<<"$M"
}

ip netns exec $TX tcpreplay -q --topspeed --loop=0 --unique-ip --duration="$SECS" -i soak-tx "$CAP" \
  >"$OUT/soak.tcpreplay.log" 2>&1 &
REPLAY=$!
printf "%6s %12s %9s %8s %10s %10s %9s %8s %11s %9s %7s %s\n" \
  secs frames kpkt/s Mbit/s drop_kern drop_queue limit_hit flows txns endpoints rss_MB "(heap/ring+files MB)"
start=$(date +%s); last_frames=0; last_bytes=0; last_t=$start; rss=()
while kill -0 $REPLAY 2>/dev/null; do
  sleep "$INTERVAL"
  M=$(metrics) || continue
  now=$(date +%s); dt=$((now - last_t)); [ $dt -gt 0 ] || dt=1
  frames=$(value 'apisonar_capture_packets_total{'); bytes=$(value 'apisonar_capture_bytes_total{')
  r=$(value process_resident_memory_bytes); rss+=("$r")
  # Resident memory split: anonymous (heap, stacks) and mapped (the kernel's packet ring,
  # sled's files, the binary).
  split=$(awk '/^RssAnon/ { a = $2 } /^RssFile/ { f = $2 } /^RssShmem/ { s = $2 } END { printf "%.0f/%.0f", a / 1024, (f + s) / 1024 }' /proc/$SENSOR/status 2>/dev/null || echo "?")
  printf "%6d %12d %9.1f %8.0f %10d %10d %9d %8d %11d %9d %7.1f %s\n" $((now - start)) "$frames" \
    "$(echo "($frames - $last_frames) / $dt / 1000" | bc -l)" "$(echo "($bytes - $last_bytes) * 8 / $dt / 1000000" | bc -l)" \
    "$(value 'apisonar_dropped_packets_total{source="soak-rx",reason="kernel"}')" \
    "$(value 'apisonar_dropped_packets_total{source="soak-rx",reason="queue_full"}')" \
    "$(value apisonar_limit_hits_total)" "$(value 'apisonar_flows_active ')" \
    "$(value 'apisonar_http_transactions_total ')" "$(value 'apisonar_endpoints ')" "$(echo "$r / 1048576" | bc -l)" "$split"
  last_frames=$frames; last_bytes=$bytes; last_t=$now
done
kill -TERM $SENSOR; wait $SENSOR || true; SENSOR=
echo "tcpreplay: $(grep -E 'Actual|Rated' "$OUT/soak.tcpreplay.log" | tr -s ' ' | paste -sd' ')"
python3 - "$OUT/soak.summary.json" "${rss[@]}" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["capture"]
print(f"summary: frames {c['frames']}, transactions {s['transactions']}, endpoints {s.get('endpoints')}, "
      f"dropped kernel {c['dropped_kernel']} interface {c['dropped_interface']} queue_full {c['dropped_queue_full']}, "
      f"limit hits {c['limit_hits']}")
rss = [int(x) for x in sys.argv[2:]]
if len(rss) >= 4:
    # The first half fills queues, caches and detector tables up to their limits; memory must
    # not keep growing in the second half.
    half, last, peak = rss[len(rss) // 2], rss[-1], max(rss)
    growth = (last - half) / half * 100
    print(f"memory: first sample {rss[0]/2**20:.1f} MB, at half time {half/2**20:.1f} MB, last {last/2**20:.1f} MB, "
          f"peak {peak/2**20:.1f} MB; second-half growth {growth:+.1f}% -> {'flat' if abs(growth) < 5 else 'NOT flat'}")
EOF
rm -rf "$DB"
