#!/usr/bin/env python3
"""WebSocket client written by hand (RFC 6455): one plain GET, then the
Upgrade handshake on the SAME connection, masked client frames (text,
binary, ping, close), reads the server's unmasked replies, checks
Sec-WebSocket-Accept. Masks and the key are fixed so the capture is
reproducible.

usage: ws_client.py PORT
"""
import base64
import hashlib
import socket
import struct
import sys

port = int(sys.argv[1])
KEY = base64.b64encode(b"apisonar-ws-key!")  # 16 bytes -> 24 chars
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MASKS = [b"\x37\xfa\x21\x3d", b"\x12\x34\x56\x78", b"\xa1\xb2\xc3\xd4", b"\x0f\x1e\x2d\x3c"]


def client_frame(opcode, payload, mask):
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    else:
        hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


buf = b""


def recv_until(s, marker):
    global buf
    while marker not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf += d
    i = buf.index(marker) + len(marker)
    out, buf = buf[:i], buf[i:]
    return out


def recv_n(s, n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf += d
    out, buf = buf[:n], buf[n:]
    return out


def read_frame(s):
    b0, b1 = recv_n(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_n(s, 2))[0]
    return b0 & 0x0F, recv_n(s, n)


s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
host = "127.0.0.1:%d" % port
s.sendall(("GET /health HTTP/1.1\r\nHost: %s\r\nUser-Agent: apisonar-ws-test/0.1\r\n"
           "Accept: application/json\r\n\r\n" % host).encode())
head = recv_until(s, b"\r\n\r\n")
n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
recv_n(s, n)

s.sendall(("GET /ws/echo?room=lobby HTTP/1.1\r\nHost: %s\r\n"
           "User-Agent: apisonar-ws-test/0.1\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           "Origin: http://%s\r\n\r\n" % (host, KEY.decode(), host)).encode())
head = recv_until(s, b"\r\n\r\n")
expected = base64.b64encode(hashlib.sha1(KEY + GUID).digest())
assert b" 101 " in head.split(b"\r\n")[0], head
assert b"Sec-WebSocket-Accept: " + expected in head, head

msgs = [(1, b'{"type":"subscribe","channel":"orders"}'),
        (2, bytes(range(40))),
        (9, b"ping-1")]
for (op, payload), mask in zip(msgs, MASKS):
    s.sendall(client_frame(op, payload, mask))
    rop, rpayload = read_frame(s)
    print("sent op %d (%d bytes), got op %d (%d bytes)" % (op, len(payload), rop, len(rpayload)),
          file=sys.stderr)
s.sendall(client_frame(8, struct.pack("!H", 1000) + b"bye", MASKS[3]))
rop, rpayload = read_frame(s)
print("close -> op %d %r" % (rop, rpayload), file=sys.stderr)
s.close()
