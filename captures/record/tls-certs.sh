#!/bin/bash
# tls/tls-certs.pcap: TLS 1.2 handshakes (the Certificate message is in
# cleartext) showing certificate problems, one connection per port, openssl
# s_server -www / s_client (OpenSSL 3.0) on 127.0.0.1 inside a private network
# namespace: expired, not yet valid, RSA 1024 (SECLEVEL=0 on both sides),
# self-signed leaf, normal CA-signed leaf (RSA 2048), CA-signed ECDSA P-256.
# CA-signed servers also send the CA certificate. Every connection has SNI;
# some offer ALPN.
. "$(dirname "$0")/lib.sh"
enter_netns "$@"
setup_lo
. "$REC_DIR/tls/lib.sh"
OUT=${1:-$CAP_DIR/tls/tls-certs.pcap}
mkdir -p "$TLS_OUT"
tls_init
mkcert expired   expired.example.test    rsa:2048 20200101000000Z 20210101000000Z ca
mkcert future    notyet.example.test     rsa:2048 20350101000000Z 20360101000000Z ca
mkcert rsa1024   rsa1024.example.test    rsa:1024 20240101000000Z 20340101000000Z ca
mkcert selfsig   selfsigned.example.test rsa:2048 20240101000000Z 20340101000000Z self
mkcert good      good.example.test       rsa:2048 20240101000000Z 20340101000000Z ca
mkcert ecdsa     ecdsa.example.test      ec:P-256 20240101000000Z 20340101000000Z ca
serve 8451 expired -tls1_2
serve 8452 future -tls1_2 -alpn http/1.1
serve 8453 rsa1024 -tls1_2 -cipher "DEFAULT:@SECLEVEL=0"
serve 8454 selfsig -tls1_2
serve 8455 good -tls1_2 -alpn h2,http/1.1
serve 8456 ecdsa -tls1_2
for p in 8451 8452 8453 8454 8455 8456; do wait_port $p; done

start_capture "$OUT" -i lo 'tcp portrange 8451-8456'
hello 8451 expired.example.test -tls1_2
hello 8452 notyet.example.test -tls1_2 -alpn http/1.1
hello 8453 rsa1024.example.test -tls1_2 -cipher "DEFAULT:@SECLEVEL=0"
hello 8454 selfsigned.example.test -tls1_2
hello 8455 good.example.test -tls1_2 -alpn h2,http/1.1
hello 8456 ecdsa.example.test -tls1_2
stop_capture
cp "$CERTINFO" "$TLS_OUT/.tls-certs.certinfo"
bash "$REC_DIR/check.sh" "$OUT"
grep -h -E '^(New|Protocol|    Cipher|ALPN|No ALPN|Verify return code)|alert|error' "$TMP"/s_client.*.log | sort | uniq -c >&2 || true
report "$OUT"
# tls/expected.tsv covers both TLS captures: regenerate it from those present
(cd "$TLS_OUT" && "$PY" "$REC_DIR/tls/tls_expected.py" expected.tsv $(ls tls-versions.pcap tls-certs.pcap 2>/dev/null))
