#!/bin/bash
# Re-record every capture in captures/ and regenerate captures/expect/.
# Needs root (network namespaces, tcpdump), tcpdump, dumpcap/tshark/capinfos,
# nginx (nginx-light), curl, python3 (with hypercorn and h2 for h2c-api.sh:
# pip install hypercorn h2; grpcio and grpcio-tools for grpc-shop.sh: pip
# install grpcio grpcio-tools), protoc (protobuf-compiler, for
# tshark-expect-grpc.sh), openssl, iproute2, ethtool.
# Also websockets, strawberry-graphql, uvicorn, graphql-core and mcp in python3
# for websocket-deflate.sh, graphql-api.sh and mcp-tools.sh, and sonora (with
# grpcio, grpcio-tools, uvicorn) for grpc-web.sh (pip install ...).
# All traffic stays inside private network namespaces created by the
# individual scripts (loopback, or veth/tap links inside them).
set -euo pipefail
cd "$(dirname "$0")"

# each recording is retried (up to 3 tries) if it fails, e.g. because the
# capture tool reported dropped packets
source lib.sh
run() { run_with_retries 300 "$@"; }

run nginx-static.sh
run python-api-keepalive.sh
run pipelined.sh
run curl-100-continue.sh
run http10-close.sh
run ipv6.sh
run vlan.sh vlan
run vlan.sh qinq
run nginx-keepalive-pcapng.sh
run linux-sll.sh sll
run linux-sll.sh sll2
run websocket-upgrade.sh
run connect-proxy.sh
run tls-and-h2c.sh
run h2c-api.sh
run grpc-shop.sh
run websocket-deflate.sh
run graphql-api.sh
run mcp-tools.sh
run grpc-web.sh

bash ./check.sh ../*.pcap ../*.pcapng
bash ../tshark-expect.sh
bash ../tshark-expect-h2.sh
bash ../tshark-expect-grpc.sh
# WebSocket frames, GraphQL operations, MCP JSON-RPC messages (expect/<capture>.ws.tsv,
# .graphql.tsv, .jsonrpc.tsv); these captures have no HTTP/1.x <capture>.tsv
python3 ws_deflate_expect.py
python3 graphql_expect.py
python3 mcp_expect.py
python3 grpc_web_expect.py
# h2c-api.pcap and grpc-shop.pcap are HTTP/2 (their expectation files are
# expect/<capture>.h2*.tsv, made by tshark-expect-h2.sh, and for grpc-shop.pcap
# also .grpc.tsv and .protobuf.txt, made by tshark-expect-grpc.sh);
# crosscheck.py only knows HTTP/1.x
(cd .. && python3 record/crosscheck.py $(ls *.pcap *.pcapng | grep -vx -e h2c-api.pcap -e grpc-shop.pcap \
    -e websocket-deflate.pcap -e graphql-api.pcap -e mcp-tools.pcap \
    -e grpc-web.pcap))
