# Common helpers for the capture recording scripts. Sourced, not run.
#
# Every record script re-executes itself inside a private network namespace
# (unshare -n), so all traffic stays on that namespace's loopback (or on veth
# pairs created inside it) and nothing ever leaves this machine.

set -euo pipefail

REC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CAP_DIR=$(cd "$REC_DIR/.." && pwd)
PY=${PYTHON:-python3}

# Fixed mtime for every served file, so Last-Modified / ETag are stable.
FIXED_MTIME='2024-01-15 12:00:00 UTC'

# Runs a recording script (with its arguments) up to 3 times, each within TIMEOUT seconds:
# check.sh rejects a capture with a retransmission or drops, which a busy machine can cause.
run_with_retries() {
    local limit=$1 try
    shift
    for try in 1 2 3; do
        echo "--- $* (try $try)" >&2
        if timeout "$limit" bash "$@"; then return 0; fi
    done
    echo "FAILED: $*" >&2
    return 1
}

# Re-exec the calling script inside a new network namespace (once), then
# set up the per-run temp dir and the cleanup trap.
enter_netns() {
    if [ -z "${APISONAR_IN_NETNS:-}" ]; then
        exec unshare -n env APISONAR_IN_NETNS=1 bash "$0" "$@"
    fi
    TMP=$(mktemp -d /tmp/apisonar-rec.XXXXXX)
    trap cleanup EXIT
}

# Loopback with a real Ethernet-sized MTU and no segmentation offloads, so
# TCP segments in the capture are <= 1500-byte IP packets (1514-byte frames).
setup_lo() {
    ip link set lo up
    ip link set lo mtu 1500
    command -v ethtool >/dev/null || { echo "ethtool is required (apt-get install ethtool)" >&2; exit 1; }
    ethtool -K lo tso off gso off gro off >/dev/null
}

PIDS=()
TMP=
CAP_PID=

cleanup() {
    local p
    if [ -n "$CAP_PID" ]; then kill -INT "$CAP_PID" 2>/dev/null || true; fi
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -n "$TMP" ]; then rm -rf "$TMP"; fi
}

# bg CMD...: start a background process and remember its pid for cleanup.
bg() {
    "$@" &
    PIDS+=($!)
}

# wait_port PORT [HOST]: wait until something accepts TCP connections.
wait_port() {
    local port=$1 host=${2:-127.0.0.1} i
    for i in $(seq 1 100); do
        if "$PY" - "$host" "$port" <<'EOF' 2>/dev/null; then return 0; fi
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.2)
s.close()
EOF
        sleep 0.1
    done
    echo "port $host:$port never opened" >&2
    return 1
}

# start_capture OUTFILE [tcpdump args...]: tcpdump on lo by default.
# --immediate-mode is needed: without it, TPACKET_V3 block buffering can lose
# everything when tcpdump is stopped soon after the traffic.
# -B 65536 (64 MiB ring): with -s 0 each ring slot is ~256 KiB, and on
# "-i any" the kernel puts both copies of every loopback packet in the ring
# (libpcap drops the outgoing copy only in userspace), so the 2 MiB default
# ring overflows on bursts and tcpdump reports "packets dropped by kernel".
start_capture() {
    local out=$1; shift
    local args=("$@")
    if [ ${#args[@]} -eq 0 ]; then args=(-i lo); fi
    rm -f "$out"
    tcpdump -s 0 -B 65536 -U --immediate-mode -Z root -w "$out" "${args[@]}" 2>"$TMP/tcpdump.err" &
    CAP_PID=$!
    # wait until tcpdump is actually listening
    local i
    for i in $(seq 1 50); do
        grep -q listening "$TMP/tcpdump.err" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.3
}

stop_capture() {
    sleep 0.7
    kill -INT "$CAP_PID"
    wait "$CAP_PID" || true
    CAP_PID=
    cat "$TMP/tcpdump.err" >&2
    if ! grep -q '^0 packets dropped by kernel' "$TMP/tcpdump.err"; then
        echo "ERROR: tcpdump lost packets, capture is incomplete" >&2
        return 1
    fi
}

# Static document root with fixed content and mtimes.
make_docroot() {
    local root=$1
    mkdir -p "$root/static" "$root/api"
    cat >"$root/index.html" <<'EOF'
<!DOCTYPE html>
<html>
<head><title>apisonar test site</title><link rel="stylesheet" href="/static/style.css"></head>
<body><h1>apisonar test site</h1><p>Static content served by nginx.</p><script src="/static/app.js"></script></body>
</html>
EOF
    # ~2.5 KB of CSS: compresses well
    {
        echo "/* apisonar test stylesheet */"
        for i in $(seq 1 40); do
            echo ".item-$i { margin: ${i}px; padding: 4px 8px; color: #333; }"
        done
    } >"$root/static/style.css"
    # ~4 KB of JS
    {
        echo "// apisonar test script"
        for i in $(seq 1 60); do
            echo "function handler$i(evt) { console.log('handler $i', evt.type); return $i; }"
        done
    } >"$root/static/app.js"
    echo '{"status":"ok","version":"1.4.2","uptime_seconds":86400}' >"$root/api/status.json"
    echo '{"items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"}],"total":2}' >"$root/api/items.json"
    # 8 KB deterministic text for range requests
    "$PY" - "$root/big.txt" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(128):
        f.write("line %04d: the quick brown fox jumps over the lazy dog 0123456789\n" % i)
EOF
    # ~16 KB JSON of deterministic pseudo-random records: gzips to several
    # segments / several chunks
    "$PY" - "$root/static/catalog.json" <<'EOF'
import json, random, sys
rnd = random.Random(1234)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
items = []
for i in range(160):
    items.append({"id": i, "sku": "SKU-%06d" % rnd.randrange(10**6),
                  "name": " ".join(rnd.choice(words) for _ in range(3)),
                  "price": round(rnd.uniform(1, 500), 2),
                  "tags": rnd.sample(words, 2)})
with open(sys.argv[1], "w") as f:
    json.dump({"items": items}, f, separators=(",", ":"))
EOF
    echo "ok" >"$root/health"
    find "$root" -exec touch -d "$FIXED_MTIME" {} +
}

# nginx_conf DIR SERVER_BLOCKS: write DIR/nginx.conf with the given server
# blocks inside http {}; everything (pid, logs, temp paths) lives in DIR.
nginx_conf() {
    local dir=$1 servers=$2
    mkdir -p "$dir/logs" "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
events { worker_connections 64; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    types {
        text/html html;
        text/css css;
        application/javascript js;
        application/json json;
        text/plain txt;
    }
    default_type application/octet-stream;
    sendfile off;
    keepalive_timeout 30s;
    server_tokens on;
$servers
}
EOF
}

start_nginx() {
    local dir=$1
    nginx -t -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >/dev/null 2>&1 || nginx -t -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
    bg nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
}

# Print a summary of a finished capture.
report() {
    local f=$1
    echo "== $(basename "$f"): $(capinfos -c -E -M "$f" | awk -F': *' '/Number of packets|encapsulation/ {printf "%s; ", $2}')$(stat -c %s "$f") bytes"
}

# need_python "IMPORTS" "PACKAGES": stops, saying what to install, when $PY cannot import them.
need_python() {
    "$PY" -c "import $1" 2>/dev/null \
        || { echo "python modules $2 are required (pip install $2)" >&2; exit 1; }
}

# Generates the Python modules of record/grpc/shop.proto (the gRPC captures' services) into
# $TMP/gen: nothing generated is kept in the repository.
gen_shop_proto() {
    mkdir -p "$TMP/gen"
    "$PY" -m grpc_tools.protoc -I "$REC_DIR/grpc" --python_out="$TMP/gen" \
        --grpc_python_out="$TMP/gen" "$REC_DIR/grpc/shop.proto"
}
