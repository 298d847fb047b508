#!/usr/bin/env python3
"""Tiny HTTP/1.0 server whose responses have NO Content-Length: the body ends
when the server closes the connection (close-delimited body).

usage: http10_server.py PORT
  GET /report.txt -> ~5 KB text body (spans several TCP segments)
  GET /motd       -> short body
  anything else   -> 404, also close-delimited
"""
import socket
import sys
import threading

REPORT = "".join("report row %03d: status=ok latency_ms=%d\n" % (i, (i * 7) % 90)
                 for i in range(140)).encode()


def handle(c):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            c.close()
            return
        data += chunk
    method, path, _ = data.split(b"\r\n", 1)[0].decode().split(" ", 2)
    if path == "/report.txt":
        status, body = "200 OK", REPORT
    elif path == "/motd":
        status, body = "200 OK", b"Welcome to the HTTP/1.0 test server.\n"
    else:
        status, body = "404 Not Found", b"not found\n"
    head = ("HTTP/1.0 %s\r\nServer: apisonar-http10/1.0\r\n"
            "Content-Type: text/plain\r\n\r\n" % status).encode()
    c.sendall(head)
    if method != "HEAD":
        c.sendall(body)
    c.shutdown(socket.SHUT_WR)
    c.close()


def main():
    port = int(sys.argv[1])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
