#!/bin/bash
# Re-record every capture in captures/ and regenerate captures/expect/.
# Needs root (network namespaces, tcpdump), tcpdump, dumpcap/tshark/capinfos,
# nginx (nginx-light), curl, python3, openssl, iproute2, ethtool.
# All traffic stays inside private network namespaces created by the
# individual scripts (loopback, or veth/tap links inside them).
set -euo pipefail
cd "$(dirname "$0")"

# each recording is retried (up to 3 tries) if it fails, e.g. because the
# capture tool reported dropped packets
source lib.sh
run() { run_with_retries 300 "$@"; }

run nginx-static.sh
run python-api-keepalive.sh
run pipelined.sh
run curl-100-continue.sh
run http10-close.sh
run ipv6.sh
run vlan.sh vlan
run vlan.sh qinq
run nginx-keepalive-pcapng.sh
run linux-sll.sh sll
run linux-sll.sh sll2
run websocket-upgrade.sh
run connect-proxy.sh
run tls-and-h2c.sh

bash ./check.sh ../*.pcap ../*.pcapng
bash ../tshark-expect.sh
(cd .. && python3 record/crosscheck.py *.pcap *.pcapng)
