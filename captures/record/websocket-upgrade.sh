#!/bin/bash
# websocket-upgrade.pcap: ws_server.py on 127.0.0.1:8765.
#   ws_client.py: GET /health (200) then, on the same connection,
#   GET /ws/echo?room=lobby with Upgrade: websocket -> 101, then masked client
#   frames (text, binary, ping, close) and the server's unmasked echoes
#   (text, binary, pong, close).
#   curl: GET /ws/echo without Upgrade -> 426 on a second connection.
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/websocket-upgrade.pcap}
bg "$PY" "$REC_DIR/ws_server.py" 8765
wait_port 8765

start_capture "$OUT" -i lo
"$PY" "$REC_DIR/ws_client.py" 8765
curl -sS -o /dev/null http://127.0.0.1:8765/ws/echo
stop_capture
report "$OUT"
