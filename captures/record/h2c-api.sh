#!/bin/bash
# h2c-api.pcap: cleartext HTTP/2 (h2c) to a JSON API: h2_api_server.py (plain
# ASGI app) served by hypercorn on 127.0.0.1:8200.
#   1. h2_client.py (python h2 library over a raw socket): ONE prior-knowledge
#      connection (preface + SETTINGS), 13 streams: three opened before any
#      response is read (interleaved responses, one ~40 KB over several DATA
#      frames), a POST whose JSON body is split over 2 DATA frames, 401 without
#      and 200 with a Bearer token, cookie, query string, gzip, 204, 404,
#      response trailers (x-checksum), a stream the client cancels with
#      RST_STREAM (CANCEL) right after its HEADERS, then GOAWAY.
#   2. curl --http2: HTTP/1.1 GET with "Upgrade: h2c" + HTTP2-Settings ->
#      "101 Switching Protocols", then HTTP/2 on the same connection with the
#      response on stream 1.
#   3. curl --http2-prior-knowledge: a JSON POST (201) on its own connection.
# Needs hypercorn and h2 in $PY (pip install hypercorn h2).
. "$(dirname "$0")/lib.sh"
need_python "hypercorn, h2" "hypercorn h2"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/h2c-api.pcap}
bg "$PY" "$REC_DIR/h2_api_server.py" 8200
wait_port 8200

start_capture "$OUT" -i lo
"$PY" "$REC_DIR/h2_client.py" 8200
curl -sS -o /dev/null --http2 http://127.0.0.1:8200/api/v2/users/7
curl -sS -o /dev/null --http2-prior-knowledge -H 'content-type: application/json' \
    -d '{"user_id":7,"currency":"EUR","lines":[{"sku":"SKU-000456","qty":2}]}' \
    http://127.0.0.1:8200/api/v2/orders
stop_capture
report "$OUT"
