#!/bin/bash
# nginx-static.pcap: nginx on 127.0.0.1:80 serving static files.
#   - several GETs on one keep-alive connection (one curl, several URLs)
#   - HEAD, 404, 304 (If-Modified-Since and If-None-Match)
#   - gzip-compressed + chunked response (nginx gzip output is chunked)
#   - 206 range request
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/nginx-static.pcap}
make_docroot "$TMP/www"
nginx_conf "$TMP/nginx" "
    server {
        listen 127.0.0.1:80;
        server_name localhost;
        root $TMP/www;
        gzip on;
        gzip_types *;
        gzip_min_length 1000;
        gzip_comp_level 6;
        gzip_vary on;
    }"
start_nginx "$TMP/nginx"
wait_port 80

start_capture "$OUT" -i lo
C=(curl -sS -o /dev/null)
# 1. four GETs on ONE keep-alive connection
curl -sS -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
    http://127.0.0.1/ http://127.0.0.1/api/status.json \
    http://127.0.0.1/api/items.json http://127.0.0.1/health
# 2. HEAD
"${C[@]}" -I http://127.0.0.1/index.html
# 3. 404
"${C[@]}" http://127.0.0.1/does-not-exist.html
# 4. conditional GETs -> 304
"${C[@]}" -H 'If-Modified-Since: Mon, 15 Jan 2024 12:00:00 GMT' http://127.0.0.1/static/style.css
etag=$(curl -sS -I http://127.0.0.1/static/style.css | tr -d '\r' | awk -F': ' 'tolower($1)=="etag" {print $2}')
"${C[@]}" -H "If-None-Match: $etag" http://127.0.0.1/static/style.css
# 5. gzip (chunked) responses; the second one on a keep-alive connection with a plain GET after it
"${C[@]}" -H 'Accept-Encoding: gzip' http://127.0.0.1/static/app.js
curl -sS -o /dev/null -o /dev/null --compressed http://127.0.0.1/static/catalog.json http://127.0.0.1/health
# 6. range -> 206
"${C[@]}" -r 0-499 http://127.0.0.1/big.txt
"${C[@]}" -r 7000- http://127.0.0.1/big.txt
stop_capture
report "$OUT"
