#!/usr/bin/env python3
"""Minimal WebSocket echo server (RFC 6455), raw sockets, one thread per
connection.

usage: ws_server.py PORT
  GET /health        -> plain HTTP/1.1 200 (keep-alive, Content-Length)
  GET /ws/echo       -> 101 Switching Protocols with Sec-WebSocket-Accept,
                        then echoes text/binary frames (server frames are
                        unmasked), answers ping with pong, echoes close.
  GET /ws/echo without Upgrade -> 426 Upgrade Required
"""
import base64
import hashlib
import socket
import struct
import sys
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recv_exact(c, n, buf):
    while len(buf[0]) < n:
        d = c.recv(65536)
        if not d:
            raise EOFError
        buf[0] += d
    out, buf[0] = buf[0][:n], buf[0][n:]
    return out


def read_frame(c, buf):
    b0, b1 = recv_exact(c, 2, buf)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(c, 2, buf))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(c, 8, buf))[0]
    mask = recv_exact(c, 4, buf) if b1 & 0x80 else None
    payload = recv_exact(c, n, buf)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return b0 & 0x0F, payload


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return hdr + payload


def handle(c):
    buf = [b""]
    try:
        while True:
            while b"\r\n\r\n" not in buf[0]:
                d = c.recv(65536)
                if not d:
                    return
                buf[0] += d
            head, buf[0] = buf[0].split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            path = target.split("?", 1)[0]
            hdrs = {k.strip().lower(): v.strip() for k, v in
                    (l.split(":", 1) for l in lines[1:])}
            if path == "/health":
                body = b'{"status":"ok"}'
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                continue
            if path == "/ws/echo" and hdrs.get("upgrade", "").lower() == "websocket":
                key = hdrs["sec-websocket-key"].encode()
                accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
                c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                          b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
                break
            body = b"upgrade required\n"
            c.sendall(b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nContent-Type: text/plain\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        # websocket echo loop
        while True:
            op, payload = read_frame(c, buf)
            if op in (1, 2):
                c.sendall(frame(op, payload))
            elif op == 9:
                c.sendall(frame(10, payload))
            elif op == 8:
                c.sendall(frame(8, payload[:2] or struct.pack("!H", 1000)))
                break
    except (EOFError, ConnectionError):
        pass
    finally:
        c.close()


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(8)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
