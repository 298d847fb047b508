#!/bin/bash
# websocket-deflate.pcap: ws_deflate_server.py (python `websockets` library) on
# 127.0.0.1:8766, ws_deflate_client.py (same library), three connections:
#   0. /ws/chat?room=lobby with permessage-deflate and context takeover (the
#      library's default offer and answer): JSON text messages (a password
#      inside one), the same message twice, a binary message, a ~70 KB text
#      message in 5 fragments, a ping; JSON answers; close 1000.
#   1. /ws/feed with permessage-deflate, client_no_context_takeover and
#      server_no_context_takeover: 3 JSON messages each way; close 1000.
#   2. /ws/plain without compression: 2 JSON messages each way; close 1000.
# Needs websockets in $PY (pip install websockets).
. "$(dirname "$0")/lib.sh"
need_python "websockets" "websockets"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/websocket-deflate.pcap}
bg "$PY" "$REC_DIR/ws_deflate_server.py" 8766
wait_port 8766

start_capture "$OUT" -i lo
"$PY" "$REC_DIR/ws_deflate_client.py" 8766
stop_capture
report "$OUT"
