#!/bin/bash
# connect-proxy.pcap: curl through connect_proxy.py (127.0.0.1:3128) to nginx
# (127.0.0.1:8080).
#   1. curl -p -x: CONNECT 127.0.0.1:8080 -> 200 Connection established, then
#      two GETs tunnelled through the same CONNECT tunnel (keep-alive);
#      the proxy<->nginx leg of the tunnel is in the capture too.
#   2. curl -x (no -p): absolute-form GET http://127.0.0.1:8080/... to the
#      proxy, which forwards it upstream in origin-form.
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/connect-proxy.pcap}
make_docroot "$TMP/www"
nginx_conf "$TMP/nginx" "
    server {
        listen 127.0.0.1:8080;
        server_name localhost;
        root $TMP/www;
    }"
start_nginx "$TMP/nginx"
bg "$PY" "$REC_DIR/connect_proxy.py" 3128
wait_port 8080
wait_port 3128

start_capture "$OUT" -i lo
curl -sS -o /dev/null -o /dev/null -p -x http://127.0.0.1:3128 \
    http://127.0.0.1:8080/ http://127.0.0.1:8080/api/status.json
curl -sS -o /dev/null -x http://127.0.0.1:3128 'http://127.0.0.1:8080/api/items.json?page=2'
stop_capture
report "$OUT"
