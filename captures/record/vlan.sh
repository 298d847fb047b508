#!/bin/bash
# vlan.sh vlan|qinq [OUTFILE]
#
# Two private network namespaces (server: this script's own, client: a
# 'sleep' process started with unshare -n, driven through nsenter).
#   vlan: 802.1Q VLAN 100          (10.99.100.1 <-> 10.99.100.2),
#         nginx on 10.99.100.1:80                               -> vlan.pcap
#   qinq: 802.1ad S-tag VLAN 200, inside it 802.1Q C-tag VLAN 100
#         (10.99.200.1 <-> 10.99.200.2), nginx on 10.99.200.1:8080 -> qinq.pcap
# The kernel here has no 8021q support, so the VLAN sub-interfaces are
# emulated by vlan_switch.py (tap <-> tagged veth trunk, see its header).
# tcpdump records the server-side trunk veth: real tagged Ethernet frames,
# both directions, including the ARP exchange. IP MTU is 1500 on both hosts
# (1518-byte frames with one tag, 1522 with two). The 10.99.x.x addresses
# exist only inside these two namespaces.
. "$(dirname "$0")/lib.sh"
MODE=${1:?usage: vlan.sh vlan|qinq [OUTFILE]}
enter_netns "$@"
setup_lo

case $MODE in
    vlan) OUT=${2:-$CAP_DIR/vlan.pcap}; NET=10.99.100; PORT=80 ;;
    qinq) OUT=${2:-$CAP_DIR/qinq.pcap}; NET=10.99.200; PORT=8080 ;;
    *) echo "bad mode $MODE" >&2; exit 2 ;;
esac

# no IPv6 on the new links: keeps router solicitations / MLD noise out
sysctl -qw net.ipv6.conf.default.disable_ipv6=1
sysctl -qw net.ipv6.conf.all.disable_ipv6=1

# client namespace
bg unshare -n sleep 600
CLI=${PIDS[-1]}
for i in $(seq 1 50); do
    [ "$(readlink /proc/$CLI/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
    sleep 0.1
done
inc() { nsenter -t "$CLI" -n "$@"; }
inc sysctl -qw net.ipv6.conf.default.disable_ipv6=1
inc sysctl -qw net.ipv6.conf.all.disable_ipv6=1
inc ip link set lo up

# trunk: a veth pair carrying the tagged frames (this is where we capture)
# endpoints: one tap per side holding the IP address, untagged; the
# vlan_switch.py process does the VLAN sub-interface work (see its header:
# this kernel has no 8021q module) between each tap and its trunk end.
# (AF_PACKET only allows 4 bytes over the MTU, and only for 0x8100 frames:
# the QinQ trunk needs a "baby giant" MTU of 1508 for 1522-byte frames)
if [ "$MODE" = vlan ]; then TRUNK_MTU=1500; else TRUNK_MTU=1508; fi
ip link add trunksrv type veth peer name trunkcli
ip tuntap add dev tapsrv mode tap
ip tuntap add dev tapcli mode tap
for dev in trunksrv trunkcli; do
    ip link set "$dev" mtu "$TRUNK_MTU"
    ethtool -K "$dev" tso off gso off gro off tx off rx off sg off rxvlan off txvlan off \
        tx-vlan-stag-hw-insert off rx-vlan-stag-hw-parse off >/dev/null 2>&1 || true
    ip link set "$dev" up
done
ip link set trunksrv address 02:00:5e:00:01:fe
ip link set trunkcli address 02:00:5e:00:02:fe
bg "$PY" "$REC_DIR/vlan_switch.py" "$MODE" "$TMP/switch.ready" tapsrv:trunksrv tapcli:trunkcli
for i in $(seq 1 50); do [ -f "$TMP/switch.ready" ] && break; sleep 0.1; done
ip link set tapcli netns "$CLI"
ip link set tapsrv address 02:00:5e:00:01:01
inc ip link set tapcli address 02:00:5e:00:02:01
ip link set tapsrv mtu 1500
inc ip link set tapcli mtu 1500
ip addr add "$NET.1/24" dev tapsrv
inc ip addr add "$NET.2/24" dev tapcli
ip link set tapsrv up
inc ip link set tapcli up

make_docroot "$TMP/www"
nginx_conf "$TMP/nginx" "
    server {
        listen $NET.1:$PORT;
        server_name localhost;
        root $TMP/www;
        location = /api/v1/metrics {
            default_type application/json;
            return 201 '{\"stored\":true}\n';
        }
    }"
start_nginx "$TMP/nginx"
wait_port "$PORT" "$NET.1"
# (wait_port connected locally inside the server namespace; flush the
# neighbour caches anyway so the capture starts with an ARP exchange)
inc ip neigh flush all >/dev/null 2>&1 || true
ip neigh flush all >/dev/null 2>&1 || true

start_capture "$OUT" -i trunksrv
U=http://$NET.1:$PORT
inc curl -m 20 -sS -o /dev/null -o /dev/null -o /dev/null \
    "$U/" "$U/api/status.json" "$U/static/catalog.json"
inc curl -m 20 -sS -o /dev/null -H 'Content-Type: application/json' \
    -d '{"host":"web-01","cpu":0.42,"mem":0.61}' "$U/api/v1/metrics"
inc curl -m 20 -sS -o /dev/null "$U/does-not-exist"
stop_capture
report "$OUT"
