#!/bin/bash
# Re-record the security and TLS captures (captures/security/, captures/tls/;
# see the README sections "Security captures" and "TLS captures"). Needs
# tcpdump, tshark/capinfos (Wireshark 4.0), python3 (stdlib only), openssl 3.0,
# iproute2, ethtool; root (network namespaces). About a minute. Each
# recording is retried up to 3 times: check.sh rejects a capture with a
# retransmission, which a busy machine can cause.
set -euo pipefail
cd "$(dirname "$0")"

source lib.sh
run() { run_with_retries 300 "$@"; }

run security-vulnapi.sh normal
run security-vulnapi.sh attack
run tls-versions.sh
run tls-certs.sh
