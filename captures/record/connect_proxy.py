#!/usr/bin/env python3
"""Tiny HTTP forward proxy.

usage: connect_proxy.py PORT
  CONNECT host:port HTTP/1.1  -> "HTTP/1.1 200 Connection established", then
                                 a blind byte tunnel until either side closes
  GET http://host:port/path   -> absolute-form request: forwarded upstream in
                                 origin-form with Connection: close, response
                                 relayed back, then the client connection is
                                 closed (response says Connection: close)
Only loopback upstreams are allowed.
"""
import select
import socket
import sys
import threading
from urllib.parse import urlsplit


def pump(a, b):
    socks = [a, b]
    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            d = s.recv(65536)
            if not d:
                return
            (b if s is a else a).sendall(d)


def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d:
            return None, b""
        data += d
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def handle(c):
    try:
        head, rest = read_head(c)
        if head is None:
            return
        lines = head.split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            assert host in ("127.0.0.1", "localhost", "[::1]")
            up = socket.create_connection((host.strip("[]"), int(port)))
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                up.sendall(rest)
            pump(c, up)
            up.close()
            return
        u = urlsplit(target)
        assert u.hostname in ("127.0.0.1", "localhost")
        up = socket.create_connection((u.hostname, u.port or 80))
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        hdrs = [l for l in lines[1:]
                if l.split(":", 1)[0].lower() not in ("proxy-connection", "connection")]
        up.sendall(("%s %s %s\r\n%s\r\nConnection: close\r\n\r\n" %
                    (method, path, version, "\r\n".join(hdrs))).encode("latin-1") + rest)
        # relay the response, forcing Connection: close towards the client
        resp_head, resp_rest = read_head(up)
        rl = [l for l in resp_head.split("\r\n")
              if l.split(":", 1)[0].lower() != "connection"]
        c.sendall(("\r\n".join(rl) + "\r\nConnection: close\r\n\r\n").encode("latin-1")
                  + resp_rest)
        while True:
            d = up.recv(65536)
            if not d:
                break
            c.sendall(d)
        up.close()
    except (ConnectionError, OSError):
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
