#!/bin/bash
# ipv6.pcap: nginx on [::1]:80, curl -6.
#   - three GETs on one keep-alive connection
#   - a JSON POST (nginx 'return 201' with a JSON body) followed by a GET on
#     the same connection
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/ipv6.pcap}
make_docroot "$TMP/www"
nginx_conf "$TMP/nginx" "
    server {
        listen [::1]:80;
        server_name localhost;
        root $TMP/www;
        location = /api/v1/events {
            default_type application/json;
            return 201 '{\"accepted\":true,\"id\":\"evt-0001\"}\n';
        }
    }"
start_nginx "$TMP/nginx"
wait_port 80 ::1

start_capture "$OUT" -i lo
curl -6 -sS -o /dev/null -o /dev/null -o /dev/null \
    'http://[::1]/' 'http://[::1]/api/status.json' 'http://[::1]/static/style.css'
curl -6 -sS -o /dev/null -o /dev/null \
    -H 'Content-Type: application/json' -d '{"type":"page_view","path":"/","ts":1705320000}' \
    'http://[::1]/api/v1/events' --next -sS -o /dev/null 'http://[::1]/api/items.json'
stop_capture
report "$OUT"
