# Helpers for the API capture scripts (record/apis-*.sh). Sourced after
# record/lib.sh. The dependency installs need the package registries, so
# they run before enter_netns (outside the namespace); everything that makes
# traffic runs inside it.

APIS_DIR=$REC_DIR/apis
API_OUT=${API_OUT:-$CAP_DIR/apis}  # another folder to try a recording without touching the committed one

# ensure_venv FW: make (or re-make, when requirements.txt changed)
# apis/FW/.venv from apis/FW/requirements.txt (pinned). Needs PyPI.
ensure_venv() {
    local d=$APIS_DIR/$1 stamp
    stamp=$(sha256sum "$d/requirements.txt" | cut -c1-16)
    if [ "$(cat "$d/.venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$d/.venv"
        "$PY" -m venv "$d/.venv"
        "$d/.venv/bin/pip" install -q --disable-pip-version-check -r "$d/requirements.txt"
        echo "$stamp" >"$d/.venv/.stamp"
    fi
}

# ensure_node_modules FW: npm ci in apis/FW (package-lock.json pins all).
ensure_node_modules() {
    local d=$APIS_DIR/$1 stamp
    stamp=$(cat "$d/package.json" "$d/package-lock.json" | sha256sum | cut -c1-16)
    if [ "$(cat "$d/node_modules/.stamp" 2>/dev/null)" != "$stamp" ]; then
        (cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$stamp" >"$d/node_modules/.stamp"
    fi
}

# save_spec URL FILE: fetch the OpenAPI document the running app serves and
# store it pretty-printed (2-space indent, key order kept).
save_spec() {
    curl -sSf -H 'Accept: application/json' "$1" | "$PY" -c '
import json, sys
json.dump(json.load(sys.stdin), open(sys.argv[1], "w"), indent=2, ensure_ascii=False)
open(sys.argv[1], "a").write("\n")' "$2"
}

# finish_api_capture NAME PORT: after stop_capture. Writes NAME.truth.tsv
# (make_truth.py cross-checks the client's request log against tshark) and
# NAME.requests.tsv (the client's log: one row per request). Fails first
# if check.sh finds a problem (e.g. a retransmission) in the capture.
finish_api_capture() {
    local name=$1 port=$2 out=$API_OUT/$1
    bash "$REC_DIR/check.sh" "$out.pcap"
    "$PY" "$APIS_DIR/make_truth.py" "$name" "$out.openapi.json" "$TMP/requests.log" "$out.pcap" "$port" "$out.truth.tsv"
    {
        printf '# %s: every request the traffic client sent, in order\n' "$name"
        printf '# method\tpath_template\turi\tstatus\tclient\n'
        cat "$TMP/requests.log"
    } >"$out.requests.tsv"
    report "$out.pcap"
    local size
    size=$(stat -c %s "$out.pcap")
    if [ "$size" -gt 1600000 ]; then echo "WARNING: $out.pcap is $size bytes (> 1.5 MB)" >&2; fi
}

# Scanner of the noisy captures (record/apis-*-noisy.sh): its own client
# address and its seed.
SCANNER_ADDR=127.0.0.9
SCANNER_SEED=1337

# record_noisy NAME PORT SPEC_URL CLIENT_CMD...: with the app already
# listening on PORT, records apis/NAME-noisy.pcap: CLIENT_CMD (the clean
# capture's traffic client, given PORT and its log file as arguments) and
# apis/scanner.py (seed SCANNER_SEED, from SCANNER_ADDR, as fast as the app
# answers, learning the API from NAME.openapi.json and NAME.truth.tsv),
# started together and running at the same time. The app must serve the committed NAME.openapi.json
# (checked first). After check.sh, check_noisy.py cross-checks both logs with
# tshark and against NAME.requests.tsv / NAME.truth.tsv and writes
# NAME-noisy.requests.tsv and NAME-noisy.scanner.tsv. NAME.truth.tsv stays the
# route table of the noisy capture; nothing of the clean capture is rewritten.
record_noisy() {
    local name=$1 port=$2 spec_url=$3 out=$API_OUT/$1-noisy scanner
    shift 3
    save_spec "$spec_url" "$TMP/spec.json"
    if ! cmp -s "$TMP/spec.json" "$API_OUT/$name.openapi.json"; then
        echo "ERROR: the app's spec differs from $API_OUT/$name.openapi.json: re-record $name first" >&2
        return 1
    fi
    # No tail loss probes in this namespace: the scanner runs flat out, and on
    # a loaded 2-core machine it is now and then descheduled for longer than
    # the probe timeout (~2 RTT + a few ms on loopback), so the server would
    # resend a response tail the scanner had received but not yet ACKed (a
    # delayed ACK). Real losses would still be resent (RTO) and check.sh
    # still rejects any retransmission.
    sysctl -qw net.ipv4.tcp_early_retrans=0
    start_capture "$out.pcap" -i lo tcp port "$port"
    bg "$PY" "$APIS_DIR/scanner.py" "$port" "$API_OUT/$name.openapi.json" "$API_OUT/$name.truth.tsv" \
        "$TMP/scanner.log" --seed $SCANNER_SEED --source $SCANNER_ADDR
    scanner=${PIDS[-1]}
    "$@" "$port" "$TMP/requests.log"
    wait "$scanner"
    stop_capture
    bash "$REC_DIR/check.sh" "$out.pcap"
    "$PY" "$APIS_DIR/check_noisy.py" "$name" "$out.pcap" "$port" $SCANNER_ADDR "$TMP/requests.log" "$TMP/scanner.log"
    report "$out.pcap"
    local size
    size=$(stat -c %s "$out.pcap")
    if [ "$size" -gt 3000000 ]; then echo "WARNING: $out.pcap is $size bytes (> 3 MB)" >&2; fi
}

# record_api NAME PORT SPEC_URL CLIENT_CMD...: with the app already listening
# on PORT, records apis/NAME.pcap (the app's spec saved first, then
# CLIENT_CMD given PORT and its log file, then finish_api_capture), or, with
# NOISY=1 in the environment (the record/apis-*-noisy.sh scripts),
# apis/NAME-noisy.pcap through record_noisy.
record_api() {
    local name=$1 port=$2 spec_url=$3
    shift 3
    if [ -n "${NOISY:-}" ]; then
        record_noisy "$name" "$port" "$spec_url" "$@"
        return
    fi
    save_spec "$spec_url" "$API_OUT/$name.openapi.json"
    start_capture "$API_OUT/$name.pcap" -i lo tcp port "$port"
    "$@" "$port" "$TMP/requests.log"
    stop_capture
    finish_api_capture "$name" "$port"
}
