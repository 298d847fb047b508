#!/bin/bash
# pipelined.pcap: pipeline_client.py against nginx on 127.0.0.1:8080.
#   connection 1: 4 requests in one segment (GET, GET->404, HEAD, GET+close)
#   connection 2: 3 requests pipelined with boundaries inside segments
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/pipelined.pcap}
make_docroot "$TMP/www"
nginx_conf "$TMP/nginx" "
    server {
        listen 127.0.0.1:8080;
        server_name localhost;
        root $TMP/www;
    }"
start_nginx "$TMP/nginx"
wait_port 8080

start_capture "$OUT" -i lo
"$PY" "$REC_DIR/pipeline_client.py" 8080
stop_capture
report "$OUT"
