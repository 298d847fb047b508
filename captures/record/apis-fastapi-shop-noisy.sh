#!/bin/bash
# apis/fastapi-shop-noisy.pcap: the fastapi-shop app (FastAPI on uvicorn,
# 127.0.0.1:8000) under the same ordinary traffic as apis/fastapi-shop.pcap
# (apis/fastapi/client.py, 127.0.0.1-.3) with a scanner running beside it
# (apis/scanner.py from 127.0.0.9: content discovery, junk ids, traversal,
# injection; mostly answered 404). Also writes fastapi-shop-noisy.requests.tsv
# (the ordinary client's log) and fastapi-shop-noisy.scanner.tsv (the
# scanner's). The route table stays fastapi-shop.truth.tsv (see
# record_noisy in apis/lib.sh). Installs the pinned packages into
# apis/fastapi/.venv first (needs PyPI).
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
record_noisy $NAME $PORT http://127.0.0.1:$PORT/openapi.json \
    "$V/python" -W ignore "$APIS_DIR/fastapi/client.py"
