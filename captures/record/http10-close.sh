#!/bin/bash
# http10-close.pcap: curl --http1.0 against http10_server.py on 127.0.0.1:9000.
# Responses are HTTP/1.0 without Content-Length; the server closes the
# connection to end the body (5.6 KB body spans several segments).
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/http10-close.pcap}
bg "$PY" "$REC_DIR/http10_server.py" 9000
wait_port 9000

start_capture "$OUT" -i lo
curl -sS -o /dev/null --http1.0 http://127.0.0.1:9000/report.txt
curl -sS -o /dev/null --http1.0 http://127.0.0.1:9000/motd
curl -sS -o /dev/null --http1.0 http://127.0.0.1:9000/missing
stop_capture
report "$OUT"
