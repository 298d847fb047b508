#!/usr/bin/env python3
"""Userspace 802.1Q / 802.1ad (QinQ) tagging for VLAN captures.

This machine's kernel has no 8021q module (no `ip link ... type vlan`) and no
tc vlan action, so VLAN sub-interfaces are emulated here: for each side, the
host's IP stack sits on an (untagged) tap device, and this process moves its
frames to a veth "trunk", pushing the VLAN tag(s) on the way out and popping
them on the way in -- exactly what a kernel VLAN sub-interface on the trunk
would do. The frames on the trunk veth pair are real, tagged Ethernet frames
and are what tcpdump records.

usage: vlan_switch.py MODE READYFILE TAP:TRUNK [TAP:TRUNK ...]
  MODE = vlan  -> one 802.1Q tag, VID 100
  MODE = qinq  -> 802.1ad S-tag VID 200 (TPID 0x88a8) + 802.1Q C-tag VID 100
The tap devices must exist (ip tuntap add ... mode tap); they are attached
here and may then be moved to other network namespaces.
"""
import fcntl
import os
import select
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_AUXDATA = 263, 8
TP_STATUS_VLAN_VALID = 1 << 4
PACKET_OUTGOING = 4
VLAN_TPIDS = (0x8100, 0x88A8)

mode, readyfile = sys.argv[1], sys.argv[2]
if mode == "vlan":
    TAGS = [(0x8100, 100)]
elif mode == "qinq":
    TAGS = [(0x88A8, 200), (0x8100, 100)]
else:
    sys.exit("bad mode")
TAG_BYTES = b"".join(struct.pack("!HH", tpid, vid) for tpid, vid in TAGS)


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def open_trunk(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((name, 0))
    return s


def push(frame):
    # dst(6) src(6) | tags | ethertype...
    return frame[:12] + TAG_BYTES + frame[12:]


def pop(frame):
    # the kernel may already have moved the outer tag into metadata
    # (auxdata); strip whatever tags are still in-band
    while len(frame) >= 18 and struct.unpack("!H", frame[12:14])[0] in VLAN_TPIDS:
        frame = frame[:12] + frame[16:]
    return frame


pairs = []
for spec in sys.argv[3:]:
    tap, trunk = spec.split(":")
    pairs.append((open_tap(tap), open_trunk(trunk)))

with open(readyfile, "w") as f:
    f.write("ready\n")

tap_to_trunk = {tfd: sock for tfd, sock in pairs}
trunk_to_tap = {sock.fileno(): (sock, tfd) for tfd, sock in pairs}
watch = list(tap_to_trunk) + list(trunk_to_tap)
while True:
    ready, _, _ = select.select(watch, [], [])
    for fd in ready:
        if fd in tap_to_trunk:
            frame = os.read(fd, 65536)
            try:
                tap_to_trunk[fd].send(push(frame))
            except OSError as e:
                print("vlan_switch: send of %d-byte frame failed: %s" % (len(frame), e),
                      file=sys.stderr, flush=True)
        else:
            sock, tfd = trunk_to_tap[fd]
            data, anc, _, addr = sock.recvmsg(65536, socket.CMSG_SPACE(64))
            if addr[2] == PACKET_OUTGOING:
                continue
            os.write(tfd, pop(data))
