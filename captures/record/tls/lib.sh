# Helpers for record/tls-*.sh. Sourced after record/lib.sh, inside the netns.
# Certificates are made per recording (fresh keys) but with FIXED validity
# dates and serials (openssl ca -startdate/-enddate; OpenSSL 3.0's req/x509
# have no -not_before/-not_after), so subjects, issuers and dates in
# captures/tls/expected.tsv stay true across re-recordings.

TLS_OUT=$CAP_DIR/tls
CA_DIR=
CERTINFO=

# tls_init: a tiny CA ("apisonar Test Root CA", RSA 2048, self-signed,
# 2024-01-01 .. 2044-01-01) in $TMP/ca.
tls_init() {
    CA_DIR=$TMP/ca
    CERTINFO=$TMP/certinfo.tsv
    export SAN=unused
    : >"$CERTINFO"
    mkdir -p "$CA_DIR/new"
    : >"$CA_DIR/index.txt"
    cat >"$CA_DIR/ca.cnf" <<CNF
[ca]
default_ca = CA_default
[CA_default]
dir = $CA_DIR
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = pol
unique_subject = no
email_in_dn = no
[pol]
commonName = supplied
organizationName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:\$ENV::SAN
CNF
    echo 1000 >"$CA_DIR/serial"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$CA_DIR/ca.key" 2>/dev/null
    openssl req -new -key "$CA_DIR/ca.key" -subj "/O=apisonar tests/CN=apisonar Test Root CA" \
        -config "$CA_DIR/ca.cnf" -out "$CA_DIR/ca.csr"
    SAN=unused openssl ca -batch -notext -config "$CA_DIR/ca.cnf" -selfsign -keyfile "$CA_DIR/ca.key" \
        -in "$CA_DIR/ca.csr" -out "$CA_DIR/ca.pem" -extensions v3_ca \
        -startdate 20240101000000Z -enddate 20440101000000Z 2>/dev/null
}

# mkcert NAME CN KEYSPEC START END signer: NAME.key/NAME.pem in $TMP.
# KEYSPEC: rsa:BITS or ec:CURVE. signer: ca or self.
mkcert() {
    local name=$1 cn=$2 keyspec=$3 start=$4 end=$5 signer=$6
    case $keyspec in
        rsa:*) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:${keyspec#rsa:} -out "$TMP/$name.key" 2>/dev/null ;;
        ec:*) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:${keyspec#ec:} -out "$TMP/$name.key" 2>/dev/null ;;
    esac
    openssl req -new -key "$TMP/$name.key" -subj "/O=apisonar tests/CN=$cn" -config "$CA_DIR/ca.cnf" -out "$TMP/$name.csr"
    if [ "$signer" = self ]; then
        SAN=$cn openssl ca -batch -notext -config "$CA_DIR/ca.cnf" -selfsign -keyfile "$TMP/$name.key" \
            -in "$TMP/$name.csr" -out "$TMP/$name.pem" -extensions v3_leaf -startdate "$start" -enddate "$end" 2>/dev/null
    else
        SAN=$cn openssl ca -batch -notext -config "$CA_DIR/ca.cnf" -cert "$CA_DIR/ca.pem" -keyfile "$CA_DIR/ca.key" \
            -in "$TMP/$name.csr" -out "$TMP/$name.pem" -extensions v3_leaf -startdate "$start" -enddate "$end" 2>/dev/null
    fi
    [ -s "$TMP/$name.pem" ] || { echo "mkcert $name failed" >&2; return 1; }
}

# serve PORT NAME [s_server args...]: openssl s_server -www on 127.0.0.1:PORT
# with certificate NAME (CA-signed ones also send the CA certificate). It
# records the certificate's details in $CERTINFO for tls_expected.py.
serve() {
    local port=$1 name=$2; shift 2
    local chain=()
    if [ "$(openssl x509 -in "$TMP/$name.pem" -noout -issuer)" != "$(openssl x509 -in "$TMP/$name.pem" -noout -subject | sed 's/^subject/issuer/')" ]; then
        chain=(-cert_chain "$CA_DIR/ca.pem")
    fi
    (cd "$TMP" && exec openssl s_server -accept 127.0.0.1:$port -cert "$name.pem" -key "$name.key" "${chain[@]}" \
        -www "$@") </dev/null >"$TMP/s_server.$port.log" 2>&1 &
    PIDS+=($!)
    local subj iss nb na key
    subj=$(openssl x509 -in "$TMP/$name.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
    iss=$(openssl x509 -in "$TMP/$name.pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')
    nb=$(openssl x509 -in "$TMP/$name.pem" -noout -startdate | sed 's/^notBefore=//')
    na=$(openssl x509 -in "$TMP/$name.pem" -noout -enddate | sed 's/^notAfter=//')
    key=$(openssl x509 -in "$TMP/$name.pem" -noout -text | sed -n 's/^ *Public Key Algorithm: //p; s/^ *Public-Key: (\(.*\))/\1/p' | paste -sd' ')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$port" "$subj" "$iss" "$nb" "$na" "$key" "$([ "$subj" = "$iss" ] && echo yes || echo no)" >>"$CERTINFO"
}

# hello PORT SNI [s_client args...]: one connection; sends "GET /" and
# reads the -www status page (or fails the handshake; that is recorded too).
hello() {
    local port=$1 sni=$2; shift 2
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect 127.0.0.1:$port -servername "$sni" \
        -ign_eof "$@" >"$TMP/s_client.$port.log" 2>&1 || true
    sleep 0.3
}
