# Helpers for the API capture scripts (record/apis-*.sh). Sourced after
# record/lib.sh. The dependency installs need the package registries, so
# they run before enter_netns (outside the namespace); everything that makes
# traffic runs inside it.

APIS_DIR=$REC_DIR/apis
API_OUT=$CAP_DIR/apis

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
