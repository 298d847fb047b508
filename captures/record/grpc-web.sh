#!/bin/bash
# grpc-web.pcap: gRPC-Web (application/grpc-web+proto, binary) over plain HTTP/1.1
# on 127.0.0.1:8500. Server: grpc_web_server.py, the shop.v1 services of
# record/grpc/shop.proto as a sonora ASGI app (sonora.asgi.grpcASGI) on uvicorn
# (h11). Client: grpc_web_client.py, sonora's synchronous client (urllib3). The
# Python modules are generated into the temp dir with grpc_tools.protoc at every
# recording (no generated code is kept). 4 calls: GetOrder OK, GetOrder NOT_FOUND,
# server-streaming ListOrders (3 messages), GetUser with a bearer token (fake PII).
# Needs sonora, grpcio, grpcio-tools and uvicorn in $PY
# (pip install sonora grpcio grpcio-tools uvicorn).
. "$(dirname "$0")/lib.sh"
need_python "sonora.asgi, sonora.client, grpc, grpc_tools.protoc, uvicorn" "sonora grpcio grpcio-tools uvicorn"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/grpc-web.pcap}
gen_shop_proto
bg "$PY" "$REC_DIR/grpc_web_server.py" "$TMP/gen" 8500
wait_port 8500

start_capture "$OUT" -i lo
"$PY" "$REC_DIR/grpc_web_client.py" "$TMP/gen" http://127.0.0.1:8500
stop_capture
report "$OUT"
