#!/usr/bin/env python3
"""Raw-socket HTTP/1.1 pipelining client.

usage: pipeline_client.py PORT [HOST]

Connection 1: four requests (GET, GET 404, HEAD, GET + Connection: close)
              written with ONE send() -> one TCP segment.
Connection 2: three requests pipelined across segments: request boundaries
              fall in the middle of segments (send 1 = req1 + first part of
              req2, send 2 = rest of req2 + req3 head, send 3 = rest of req3).
Both connections read until the server closes (last request says close).
"""
import socket
import sys
import time

port = int(sys.argv[1])
host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
UA = "apisonar-pipeline-test/0.1"


def req(method, path, close=False):
    r = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: %s\r\nAccept: */*\r\n" % (
        method, path, host, port, UA)
    if close:
        r += "Connection: close\r\n"
    return (r + "\r\n").encode()


def read_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def connect():
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


# --- connection 1: everything in one send() ---
s = connect()
batch = (req("GET", "/api/status.json") + req("GET", "/nope") +
         req("HEAD", "/index.html") + req("GET", "/api/items.json", close=True))
s.send(batch)
data = read_all(s)
s.close()
print("conn1: sent %d bytes in one send, got %d bytes, %d status lines" %
      (len(batch), len(data), data.count(b"HTTP/1.1 ")), file=sys.stderr)

# --- connection 2: pipelined, request boundaries inside segments ---
s = connect()
r1, r2, r3 = (req("GET", "/health"), req("GET", "/static/style.css"),
              req("GET", "/api/status.json?v=2", close=True))
parts = [r1 + r2[:40], r2[40:] + r3[:25], r3[25:]]
for p in parts:
    s.send(p)
    time.sleep(0.05)
data = read_all(s)
s.close()
print("conn2: sent %s, got %d bytes, %d status lines" %
      ([len(p) for p in parts], len(data), data.count(b"HTTP/1.1 ")), file=sys.stderr)
