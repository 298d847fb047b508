#!/bin/bash
# tls/tls-versions.pcap: TLS handshakes at different protocol versions and
# ciphers, one connection per port, openssl s_server -www / s_client (OpenSSL
# 3.0) on 127.0.0.1 inside a private network namespace. Every connection
# has SNI; some offer ALPN. The client sends "GET /" and reads the page.
# Then regenerates tls/expected.tsv (tls/tls_expected.py) from the TLS captures.
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo
. "$REC_DIR/tls/lib.sh"
OUT=${1:-$CAP_DIR/tls/tls-versions.pcap}
mkdir -p "$TLS_OUT"
tls_init
mkcert srv "tls.example.test" rsa:2048 20240101000000Z 20340101000000Z ca
L0="DEFAULT:@SECLEVEL=0"
# port  server options                                        | client options
serve 8441 srv -alpn h2,http/1.1
serve 8442 srv -tls1_2 -alpn http/1.1
serve 8443 srv -tls1_2 -cipher "AES128-SHA:@SECLEVEL=0"
serve 8444 srv -tls1_2 -cipher "NULL-SHA:@SECLEVEL=0"
serve 8445 srv -tls1_1 -cipher "$L0"
serve 8446 srv -tls1 -cipher "$L0"
serve 8447 srv -tls1_3
serve 8448 srv
for p in 8441 8442 8443 8444 8445 8446 8447 8448; do wait_port $p; done

start_capture "$OUT" -i lo 'tcp portrange 8441-8448'
hello 8441 v13.example.test -alpn h2,http/1.1
hello 8442 v12.example.test -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -alpn h2,http/1.1
hello 8443 v12-aes128-sha.example.test -tls1_2 -cipher "AES128-SHA:@SECLEVEL=0"
hello 8444 v12-null.example.test -tls1_2 -cipher "NULL-SHA:@SECLEVEL=0"
hello 8445 v11.example.test -tls1_1 -cipher "$L0"
hello 8446 v10.example.test -tls1 -cipher "$L0"
hello 8447 only13.example.test -tls1_2
hello 8448 v10-refused.example.test -tls1 -cipher "$L0"
stop_capture
cp "$CERTINFO" "$TLS_OUT/.tls-versions.certinfo"
bash "$REC_DIR/check.sh" "$OUT"
grep -h -E '^(New|Protocol|    Cipher|ALPN|No ALPN)|alert|error' "$TMP"/s_client.*.log | sort | uniq -c >&2 || true
report "$OUT"
# tls/expected.tsv covers both TLS captures: regenerate it from those present
(cd "$TLS_OUT" && "$PY" "$REC_DIR/tls/tls_expected.py" expected.tsv $(ls tls-versions.pcap tls-certs.pcap 2>/dev/null))
