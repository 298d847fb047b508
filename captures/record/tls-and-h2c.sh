#!/bin/bash
# tls-and-h2c.pcap: traffic an HTTP/1.x analyzer must NOT mistake for HTTP/1:
#   1. TLS: openssl s_server -www on 127.0.0.1:8443 (fresh self-signed RSA
#      cert, CN=localhost), curl -k https://127.0.0.1:8443/ (full TLS
#      handshake, encrypted HTTP/1.1 inside).
#   2. h2c: nginx 'listen 127.0.0.1:8082 http2;' (cleartext HTTP/2, prior
#      knowledge), two curl --http2-prior-knowledge connections: connection
#      preface "PRI * HTTP/2.0", SETTINGS, HEADERS, DATA...
#   3. plain HTTP/1.1: one GET to nginx on 127.0.0.1:8081.
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/tls-and-h2c.pcap}
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 30 \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
# -www: answers "GET /" with an HTML status page, then closes
(cd "$TMP" && exec openssl s_server -quiet -accept 127.0.0.1:8443 \
    -cert cert.pem -key key.pem -www) </dev/null >/dev/null 2>&1 &
PIDS+=($!)

make_docroot "$TMP/www"
nginx_conf "$TMP/nginx" "
    server {
        listen 127.0.0.1:8082 http2;
        server_name localhost;
        root $TMP/www;
    }
    server {
        listen 127.0.0.1:8081;
        server_name localhost;
        root $TMP/www;
    }"
start_nginx "$TMP/nginx"
wait_port 8443
wait_port 8082
wait_port 8081

start_capture "$OUT" -i lo
curl -sS -k -o /dev/null https://127.0.0.1:8443/
# (two invocations: curl 7.88 fails with "Error in the HTTP2 framing layer"
# when it reuses a prior-knowledge h2c connection for a second URL)
curl -sS -o /dev/null --http2-prior-knowledge http://127.0.0.1:8082/
curl -sS -o /dev/null --http2-prior-knowledge http://127.0.0.1:8082/api/status.json
curl -sS -o /dev/null http://127.0.0.1:8081/api/items.json
stop_capture
report "$OUT"
