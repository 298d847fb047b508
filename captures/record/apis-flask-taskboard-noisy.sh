#!/bin/bash
# apis/flask-taskboard-noisy.pcap: the flask-taskboard app (Flask +
# flask-smorest on waitress, 127.0.0.1:5000) under the same ordinary traffic
# as apis/flask-taskboard.pcap (apis/flask/client.py, 127.0.0.1-.3) with a
# scanner running beside it (apis/scanner.py from 127.0.0.9: content
# discovery, junk ids, traversal, injection; mostly answered 404). Also writes
# flask-taskboard-noisy.requests.tsv (the ordinary client's log) and
# flask-taskboard-noisy.scanner.tsv (the scanner's). The route table stays
# flask-taskboard.truth.tsv (see record_noisy in apis/lib.sh). Installs the
# pinned packages into apis/flask/.venv first (needs PyPI).
. "$(dirname "$0")/lib.sh"
. "$REC_DIR/apis/lib.sh"
if [ -z "${APISONAR_IN_NETNS:-}" ]; then ensure_venv flask; fi
enter_netns "$@"
setup_lo

NAME=flask-taskboard
PORT=5000
V=$APIS_DIR/flask/.venv/bin
mkdir -p "$API_OUT"
bg "$V/python" "$APIS_DIR/flask/app.py" $PORT
wait_port $PORT
record_noisy $NAME $PORT http://127.0.0.1:$PORT/openapi.json \
    "$V/python" "$APIS_DIR/flask/client.py"
