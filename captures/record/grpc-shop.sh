#!/bin/bash
# grpc-shop.pcap: gRPC over cleartext HTTP/2 (h2c, prior knowledge: what grpcio
# does on an insecure channel) between real grpcio on both sides, on
# 127.0.0.1:50051. Service definitions: record/grpc/shop.proto (shop.v1
# OrderService + UserService); the Python modules are generated into the temp
# dir with grpc_tools.protoc at every recording (no generated code is kept).
# grpc_server.py serves; grpc_client.py makes 9 calls on ONE channel (ONE TCP
# connection): unary OK, NOT_FOUND with grpc-message (Trailers-Only), a
# gzip-compressed request and response (grpc-encoding: gzip), server streaming
# (3 messages), client streaming (4 messages), bidi streaming (2 + 2),
# UNAUTHENTICATED, a call with "authorization: Bearer" metadata and fake PII in
# the response, a call that hits its 300 ms deadline (the client resets the
# stream); then the channel is closed.
# Needs grpcio and grpcio-tools in $PY (pip install grpcio grpcio-tools).
. "$(dirname "$0")/lib.sh"
need_python "grpc, grpc_tools.protoc" "grpcio grpcio-tools"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/grpc-shop.pcap}
gen_shop_proto
bg "$PY" "$REC_DIR/grpc_server.py" "$TMP/gen" 50051
wait_port 50051

start_capture "$OUT" -i lo
"$PY" "$REC_DIR/grpc_client.py" "$TMP/gen" 50051
stop_capture
report "$OUT"
