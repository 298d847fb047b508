#!/bin/bash
# mcp-tools.pcap: MCP (Model Context Protocol) over the Streamable HTTP transport,
# official `mcp` Python SDK on both sides: mcp_server.py (MCPServer, served by the
# SDK's uvicorn/starlette app) on 127.0.0.1:8400, endpoint /mcp; mcp_client.py
# (SDK Client, legacy initialize handshake): initialize,
# notifications/initialized, tools/list, two tools/call, resources/list,
# resources/read, prompts/list, prompts/get, then the SDK closes the session.
# JSON-RPC requests are POSTs answered with text/event-stream (SSE); the session
# id travels in the mcp-session-id header.
# Needs mcp in $PY (pip install mcp).
. "$(dirname "$0")/lib.sh"
need_python "mcp.server" "mcp"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/mcp-tools.pcap}
bg "$PY" "$REC_DIR/mcp_server.py" 8400
wait_port 8400

start_capture "$OUT" -i lo
"$PY" "$REC_DIR/mcp_client.py" 8400
stop_capture
report "$OUT"
