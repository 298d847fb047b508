#!/bin/bash
# apis/fastapi-shop.pcap: a shop API built with FastAPI, served by uvicorn
# (h11) on 127.0.0.1:8000, driven by apis/fastapi/client.py (several actors
# on keep-alive connections from 127.0.0.1, .2 and .3). Also writes
# fastapi-shop.openapi.json (FastAPI's /openapi.json, fetched before the
# capture starts), fastapi-shop.truth.tsv and fastapi-shop.requests.tsv.
# Installs the pinned packages into apis/fastapi/.venv first (needs PyPI).
. "$(dirname "$0")/lib.sh"
. "$REC_DIR/apis/lib.sh"
if [ -z "${APISONAR_IN_NETNS:-}" ]; then ensure_venv fastapi; fi
enter_netns "$@"
setup_lo

NAME=fastapi-shop
PORT=8000
V=$APIS_DIR/fastapi/.venv/bin
mkdir -p "$API_OUT"
bg "$V/uvicorn" --app-dir "$APIS_DIR/fastapi" app:app --host 127.0.0.1 --port $PORT \
    --timeout-keep-alive 30 --no-access-log --log-level warning
wait_port $PORT
record_api $NAME $PORT http://127.0.0.1:$PORT/openapi.json \
    "$V/python" -W ignore "$APIS_DIR/fastapi/client.py"
