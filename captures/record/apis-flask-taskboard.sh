#!/bin/bash
# apis/flask-taskboard.pcap: a team task tracker API built with Flask +
# flask-smorest (apispec, marshmallow), served by waitress on 127.0.0.1:5000,
# driven by apis/flask/client.py (several actors on keep-alive connections
# from 127.0.0.1, .2 and .3). Also writes flask-taskboard.openapi.json (the
# document flask-smorest serves at /openapi.json, fetched before the capture
# starts), flask-taskboard.truth.tsv and flask-taskboard.requests.tsv.
# Installs the pinned packages into apis/flask/.venv first (needs PyPI).
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
record_api $NAME $PORT http://127.0.0.1:$PORT/openapi.json \
    "$V/python" "$APIS_DIR/flask/client.py"
