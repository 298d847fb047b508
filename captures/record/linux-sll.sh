#!/bin/bash
# linux-sll.sh sll|sll2 [OUTFILE]
#   sll : tcpdump -i any -y LINUX_SLL  (Linux cooked capture v1, DLT 113)
#         nginx on 127.0.0.1:80                     -> linux-sll.pcap
#   sll2: tcpdump -i any               (default: LINUX_SLL2, DLT 276)
#         nginx on 127.0.0.1:8080                   -> linux-sll2.pcap
# Traffic: two GETs on one keep-alive connection, then a JSON POST.
. "$(dirname "$0")/lib.sh"
MODE=${1:?usage: linux-sll.sh sll|sll2 [OUTFILE]}
enter_netns "$@"
setup_lo

case $MODE in
    sll) OUT=${2:-$CAP_DIR/linux-sll.pcap}; PORT=80; DLT=(-y LINUX_SLL) ;;
    sll2) OUT=${2:-$CAP_DIR/linux-sll2.pcap}; PORT=8080; DLT=() ;;
    *) echo "bad mode $MODE" >&2; exit 2 ;;
esac

make_docroot "$TMP/www"
nginx_conf "$TMP/nginx" "
    server {
        listen 127.0.0.1:$PORT;
        server_name localhost;
        root $TMP/www;
        location = /api/v1/login {
            default_type application/json;
            return 200 '{\"token\":\"abc123\"}\n';
        }
    }"
start_nginx "$TMP/nginx"
wait_port "$PORT"

start_capture "$OUT" -i any "${DLT[@]}"
U=http://127.0.0.1:$PORT
curl -sS -o /dev/null -o /dev/null "$U/" "$U/api/status.json"
curl -sS -o /dev/null -H 'Content-Type: application/json' \
    -d '{"username":"alice","password":"wonderland"}' "$U/api/v1/login"
stop_capture
report "$OUT"
