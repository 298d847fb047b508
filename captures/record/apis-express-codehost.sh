#!/bin/bash
# apis/express-codehost.pcap: a GitHub-like code hosting API built with
# Express 5 (Node's http server) on 127.0.0.1:3000, driven by
# apis/express/client.py (several actors on keep-alive connections from
# 127.0.0.1, .2 and .3). Also writes express-codehost.openapi.json (the
# hand-written document, apis/express/openapi.js, as the app serves it at
# /openapi.json, fetched before the capture starts; the server refuses to
# start if its routes differ from it), express-codehost.truth.tsv and
# express-codehost.requests.tsv.
# Installs the locked npm packages into apis/express/node_modules first
# (needs the npm registry).
. "$(dirname "$0")/lib.sh"
. "$REC_DIR/apis/lib.sh"
if [ -z "${APISONAR_IN_NETNS:-}" ]; then ensure_node_modules express; fi
enter_netns "$@"
setup_lo

NAME=express-codehost
PORT=3000
mkdir -p "$API_OUT"
bg node "$APIS_DIR/express/server.js" $PORT
wait_port $PORT
record_api $NAME $PORT http://127.0.0.1:$PORT/openapi.json \
    "$PY" "$APIS_DIR/express/client.py"
