#!/bin/bash
# nginx-keepalive.pcapng: pcapng file written by dumpcap (its default format)
# on lo: nginx on 127.0.0.1:8088, keep-alive requests from curl
# (4 GETs on one connection, then a HEAD and a GET on a second one).
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/nginx-keepalive.pcapng}
make_docroot "$TMP/www"
nginx_conf "$TMP/nginx" "
    server {
        listen 127.0.0.1:8088;
        server_name localhost;
        root $TMP/www;
    }"
start_nginx "$TMP/nginx"
wait_port 8088

rm -f "$OUT"
dumpcap -q -i lo -s 0 -B 64 -w "$OUT" 2>"$TMP/dumpcap.err" &
CAP_PID=$!
for i in $(seq 1 50); do [ -s "$OUT" ] && break; sleep 0.1; done
sleep 0.5
U=http://127.0.0.1:8088
curl -sS -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
    "$U/" "$U/static/style.css" "$U/static/app.js" "$U/api/items.json"
curl -sS -o /dev/null -I "$U/api/status.json" --next -sS -o /dev/null "$U/health"
sleep 0.7
kill -INT "$CAP_PID"
wait "$CAP_PID" || true
CAP_PID=
cat "$TMP/dumpcap.err" >&2
if ! grep -Eq "received/dropped on interface .*: [0-9]+/0 " "$TMP/dumpcap.err"; then
    echo "ERROR: dumpcap lost packets, capture is incomplete" >&2
    exit 1
fi
chmod 644 "$OUT"  # dumpcap creates its file mode 0600
report "$OUT"
