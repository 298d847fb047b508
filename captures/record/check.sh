#!/bin/bash
# check.sh FILE...: sanity checks for recorded captures (no traffic generated):
# file type, link type, packet count, size, largest frame (must be <= 1522:
# MTU 1500 plus Ethernet and up to two VLAN tags), and any TCP
# analysis problem tshark finds (segments not captured, ACKs of unseen data,
# retransmissions, out-of-order) or malformed packets.
# Exits 1 if any capture has a problem.
set -u
rc=0
FILTER='tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment || tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order || _ws.malformed'
for f in "$@"; do
    echo "=== $f"
    capinfos -t -E -c -s "$f" 2>/dev/null | sed 1d
    largest=$(tshark -r "$f" -T fields -e frame.len 2>/dev/null | sort -n | tail -1)
    echo "largest frame: $largest"
    if [ "${largest:-0}" -gt 1522 ]; then
        echo "PROBLEM: frame larger than 1522 bytes (segmentation offload left on?)"; rc=1
    fi
    if ! bad=$(tshark -r "$f" -Y "$FILTER" 2>/tmp/check.$$.err); then
        echo "tshark failed:"; cat /tmp/check.$$.err; rc=1
    elif [ -n "$bad" ]; then
        echo "PROBLEMS:"; echo "$bad"; rc=1
    else
        echo "no lost/retransmitted/out-of-order segments, no malformed packets"
    fi
    rm -f /tmp/check.$$.err
done
exit $rc
