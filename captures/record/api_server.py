#!/usr/bin/env python3
"""Small JSON API server (http.server, HTTP/1.1, keep-alive) used to record
python-api-keepalive.pcap and curl-100-continue.pcap.

usage: api_server.py PORT [BIND_ADDR]

Routes:
  POST   /api/v1/login              -> 200 + Set-Cookie session=...
  GET    /api/v1/users              -> 200 list (honours ?limit=&offset=)
  GET    /api/v1/users/{id}         -> 200 / 404
  POST   /api/v1/users              -> 201 + Location (needs Bearer token)
  PUT    /api/v1/users/{id}         -> 200 (needs Bearer token)
  DELETE /api/v1/users/{id}         -> 204 (needs Bearer token)
  GET    /api/v1/orders/{uuid}      -> 200
  GET    /api/v1/events             -> 200, Transfer-Encoding: chunked, trailer X-Checksum
  GET    /api/v1/reports/summary    -> 200, Content-Encoding: gzip (if accepted)
  GET    /api/v1/reports/daily      -> 200, Content-Encoding: deflate (if accepted)
  GET    /api/v1/admin/stats        -> 401 without auth, 200 with Basic admin:s3cret
  GET    /api/v1/me                 -> 200 with session cookie, else 401
  POST   /upload                    -> 200, reads Content-Length or chunked body
  PUT    /upload/{name}             -> 201, same
Every response carries Content-Length except the chunked one and 204.
"""
import base64
import gzip
import hashlib
import json
import re
import sys
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
SESSION = "sess-7f3a9c2e41d8"

USERS = {
    i: {"id": i, "name": n, "email": "%s@example.com" % n.lower()}
    for i, n in enumerate(["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace",
                           "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia",
                           "Peggy", "Rupert", "Sybil", "Trent", "Uma", "Victor",
                           "Walter", "Xena", "Yuri", "Zoe", "Quentin", "Liam",
                           "Mia", "Noah", "Ava", "Ethan", "Lucas"], start=1)
}
NEXT_ID = [len(USERS) + 1]
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "apisonar-testapi/1.0"
    sys_version = "Python/3"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    # -- helpers ---------------------------------------------------------
    def reply(self, code, body=b"", ctype="application/json", headers=()):
        self.send_response(code)
        if code != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def json(self, code, obj, headers=()):
        self.reply(code, dumps(obj), headers=headers)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers until empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()  # CRLF after chunk
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def bearer_ok(self):
        return self.headers.get("Authorization", "") == "Bearer " + TOKEN

    def unauthorized(self, scheme='Bearer realm="api"'):
        self.json(401, {"error": "unauthorized"}, headers=[("WWW-Authenticate", scheme)])

    # -- routing -----------------------------------------------------------
    def route(self):
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        m = self.command
        if m == "POST" and path == "/api/v1/login":
            body = json.loads(self.read_body() or b"{}")
            return self.json(200, {"user": body.get("username"), "token": TOKEN},
                             headers=[("Set-Cookie", "session=%s; Path=/; HttpOnly; SameSite=Lax" % SESSION)])
        if path == "/api/v1/me":
            if ("session=" + SESSION) in self.headers.get("Cookie", ""):
                return self.json(200, USERS[1])
            return self.unauthorized('Cookie realm="api"')
        if path == "/api/v1/users":
            if m == "GET":
                limit = int(query.get("limit", ["5"])[0])
                offset = int(query.get("offset", ["0"])[0])
                ids = sorted(USERS)[offset:offset + limit]
                return self.json(200, {"users": [USERS[i] for i in ids], "limit": limit,
                                       "offset": offset, "total": len(USERS)})
            if m == "POST":
                if not self.bearer_ok():
                    self.read_body()
                    return self.unauthorized()
                body = json.loads(self.read_body())
                uid = NEXT_ID[0]
                NEXT_ID[0] += 1
                USERS[uid] = dict(body, id=uid)
                return self.json(201, USERS[uid], headers=[("Location", "/api/v1/users/%d" % uid)])
        mm = re.fullmatch(r"/api/v1/users/(\d+)", path)
        if mm:
            uid = int(mm.group(1))
            if m == "GET":
                if uid in USERS:
                    return self.json(200, USERS[uid])
                return self.json(404, {"error": "user %d not found" % uid})
            if m in ("PUT", "DELETE") and not self.bearer_ok():
                self.read_body()
                return self.unauthorized()
            if m == "PUT":
                body = json.loads(self.read_body())
                USERS[uid] = dict(body, id=uid)
                return self.json(200, USERS[uid])
            if m == "DELETE":
                USERS.pop(uid, None)
                return self.reply(204)
        mm = re.fullmatch(r"/api/v1/orders/(%s)" % UUID_RE, path)
        if mm and m == "GET":
            return self.json(200, {"order_id": mm.group(1), "status": "shipped",
                                   "lines": [{"sku": "SKU-000123", "qty": 2},
                                             {"sku": "SKU-000456", "qty": 1}],
                                   "total": "59.90", "currency": "EUR"})
        if path == "/api/v1/events" and m == "GET":
            return self.chunked_events()
        if path == "/api/v1/reports/summary" and m == "GET":
            return self.report("gzip")
        if path == "/api/v1/reports/daily" and m == "GET":
            return self.report("deflate")
        if path == "/api/v1/admin/stats" and m == "GET":
            expect = "Basic " + base64.b64encode(b"admin:s3cret").decode()
            if self.headers.get("Authorization") != expect:
                return self.unauthorized('Basic realm="admin"')
            return self.json(200, {"requests": 1234, "errors": 5, "p99_ms": 87.5})
        if path.startswith("/upload") and m in ("POST", "PUT"):
            data = self.read_body()
            code = 201 if m == "PUT" else 200
            return self.json(code, {"received_bytes": len(data),
                                    "sha256": hashlib.sha256(data).hexdigest()})
        if m in ("POST", "PUT"):
            self.read_body()
        return self.json(404, {"error": "no route for %s %s" % (m, path)})

    def chunked_events(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Trailer", "X-Checksum")
        self.end_headers()
        h = hashlib.sha256()
        for i in range(5):
            line = dumps({"seq": i, "event": "user.updated", "user_id": (i % 3) + 1}) + b"\n"
            h.update(line)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
        self.wfile.write(b"0\r\nX-Checksum: sha256=%s\r\n\r\n" % h.hexdigest().encode())

    def report(self, coding):
        rows = [{"day": "2024-01-%02d" % d, "requests": 1000 + d * 37, "errors": d % 4,
                 "p50_ms": 12 + d % 5, "p99_ms": 80 + d * 3} for d in range(1, 31)]
        raw = dumps({"report": coding == "gzip" and "summary" or "daily", "rows": rows})
        accepted = self.headers.get("Accept-Encoding", "")
        if coding in accepted:
            if coding == "gzip":
                body = gzip.compress(raw, mtime=0)
            else:
                body = zlib.compress(raw)  # HTTP "deflate" = zlib format
            return self.reply(200, body, headers=[("Content-Encoding", coding),
                                                  ("Vary", "Accept-Encoding")])
        return self.reply(200, raw, headers=[("Vary", "Accept-Encoding")])

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = route


if __name__ == "__main__":
    port = int(sys.argv[1])
    addr = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    ThreadingHTTPServer((addr, port), Handler).serve_forever()
