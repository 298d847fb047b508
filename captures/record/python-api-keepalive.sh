#!/bin/bash
# python-api-keepalive.pcap: JSON API (api_server.py, Python http.server,
# HTTP/1.1, ThreadingHTTPServer) on 127.0.0.1:5000.
#   - api_client.py: 15 requests over ONE keep-alive http.client connection
#     (login + Set-Cookie/Cookie, query string, 201/204/401/404, PUT/DELETE,
#     Bearer auth, chunked response with trailer, gzip, deflate)
#   - curl: Basic auth 401 then 200, a JSON POST, a GET with a query string
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/python-api-keepalive.pcap}
bg "$PY" "$REC_DIR/api_server.py" 5000
wait_port 5000

start_capture "$OUT" -i lo
"$PY" "$REC_DIR/api_client.py" 5000
C=(curl -sS -o /dev/null -H 'Accept: application/json')
"${C[@]}" http://127.0.0.1:5000/api/v1/admin/stats
"${C[@]}" -u admin:s3cret http://127.0.0.1:5000/api/v1/admin/stats
"${C[@]}" -X POST -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl' \
    -d '{"name":"Peggy","email":"peggy@example.com","roles":["viewer"]}' \
    http://127.0.0.1:5000/api/v1/users
"${C[@]}" 'http://127.0.0.1:5000/api/v1/users?limit=2&offset=0&sort=name'
stop_capture
report "$OUT"
