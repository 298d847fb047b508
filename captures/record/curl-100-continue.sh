#!/bin/bash
# curl-100-continue.pcap: api_server.py (Python http.server, HTTP/1.1) on
# 127.0.0.1:8090.
#   1. curl POST with 'Expect: 100-continue' and a 3 KB body:
#      request headers -> "HTTP/1.1 100 Continue" -> body -> 200
#   2. curl PUT upload with a chunked request body
#      (-T file -H 'Transfer-Encoding: chunked'; curl adds Expect too)
#   3. curl POST with a chunked JSON request body and no Expect
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/curl-100-continue.pcap}
"$PY" - "$TMP/payload.csv" "$TMP/upload.txt" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,name,email,score\n")
    i = 0
    while f.tell() < 3000:
        f.write("%d,user%03d,user%03d@example.com,%d\n" % (i, i, i, (i * 37) % 100))
        i += 1
with open(sys.argv[2], "w") as f:
    for i in range(60):
        f.write("upload line %02d: lorem ipsum dolor sit amet\n" % i)
EOF
bg "$PY" "$REC_DIR/api_server.py" 8090
wait_port 8090

start_capture "$OUT" -i lo
curl -sS -o /dev/null -H 'Expect: 100-continue' -H 'Content-Type: text/csv' \
    --data-binary @"$TMP/payload.csv" http://127.0.0.1:8090/upload
curl -sS -o /dev/null -T "$TMP/upload.txt" -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: text/plain' http://127.0.0.1:8090/upload/upload.txt
printf '{"name":"chunky","items":[1,2,3]}' | curl -sS -o /dev/null -X POST \
    -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' -H 'Expect:' \
    --data-binary @- http://127.0.0.1:8090/upload
stop_capture
report "$OUT"
