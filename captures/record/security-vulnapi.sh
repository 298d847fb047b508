#!/bin/bash
# security/vulnapi-normal.pcap or security/vulnapi-attack.pcap:
# a deliberately vulnerable JSON API (record/vulnapi/app.py: stdlib
# http.server + in-memory sqlite, 127.0.0.1:8080) used by three benign
# clients (127.0.0.2-4), and in "attack" mode also by one attacker per
# address 127.0.0.10-20 (record/vulnapi/client.py). Nothing leaves the
# private network namespace; the app executes and fetches nothing and
# "reads" traversal targets from a fake in-memory filesystem.
# usage: security-vulnapi.sh normal|attack
# Writes security/vulnapi-MODE.pcap and vulnapi-MODE.requests.tsv (the
# client's log), and for attack vulnapi-attack.expected.tsv (vulnapi/expected.py);
# check.sh and vulnapi/verify.py (tshark vs the log) must pass.
. "$(dirname "$0")/lib.sh"
MODE=${1:?usage: security-vulnapi.sh normal|attack}
enter_netns "$@"
setup_lo
# the client binds these source addresses (all of 127/8 is on lo)
PORT=8080
OUT_DIR=$CAP_DIR/security
OUT=$OUT_DIR/vulnapi-$MODE.pcap
mkdir -p "$OUT_DIR"
bg "$PY" "$REC_DIR/vulnapi/app.py" $PORT
wait_port $PORT

start_capture "$OUT" -i lo tcp port $PORT
"$PY" "$REC_DIR/vulnapi/client.py" "$MODE" $PORT "$TMP/requests.log"
stop_capture
bash "$REC_DIR/check.sh" "$OUT"
"$PY" "$REC_DIR/vulnapi/verify.py" "$OUT" "$TMP/requests.log" $PORT
{
    printf '# vulnapi-%s.pcap: every request the traffic client sent, in order\n' "$MODE"
    printf '# client\tmethod\turi\tstatus\tlabel\n'
    cat "$TMP/requests.log"
} >"$OUT_DIR/vulnapi-$MODE.requests.tsv"
if [ "$MODE" = attack ]; then
    "$PY" "$REC_DIR/vulnapi/expected.py" "$OUT_DIR/vulnapi-attack.requests.tsv" "$OUT_DIR/vulnapi-attack.expected.tsv"
fi
report "$OUT"
size=$(stat -c %s "$OUT")
if [ "$size" -gt 2000000 ]; then echo "ERROR: $OUT is $size bytes (> 2 MB)" >&2; exit 1; fi
