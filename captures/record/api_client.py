#!/usr/bin/env python3
"""Python http.client client: many requests over ONE keep-alive connection.

usage: api_client.py PORT [HOST]
"""
import json
import sys
import http.client

port = int(sys.argv[1])
host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
BASE = {"User-Agent": "apisonar-test-client/0.1 (python http.client)",
        "Accept": "application/json"}

conn = http.client.HTTPConnection(host, port, timeout=5)


def call(method, path, body=None, headers=None):
    h = dict(BASE)
    h.update(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    print("%s %s -> %d (%d bytes)" % (method, path, r.status, len(data)), file=sys.stderr)
    return r, data


auth = {"Authorization": "Bearer " + TOKEN}
r, _ = call("POST", "/api/v1/login", {"username": "alice", "password": "wonderland"})
cookie = r.getheader("Set-Cookie").split(";")[0]
call("GET", "/api/v1/me", headers={"Cookie": cookie})
call("GET", "/api/v1/users")
call("GET", "/api/v1/users?limit=10&offset=20")
call("GET", "/api/v1/users/3")
call("GET", "/api/v1/users/999")
call("POST", "/api/v1/users", {"name": "Oscar", "email": "oscar@example.com"}, headers=auth)
call("PUT", "/api/v1/users/31", {"name": "Oscar", "email": "oscar@example.org"}, headers=auth)
call("GET", "/api/v1/orders/3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c13")
call("GET", "/api/v1/events", headers={"Accept": "application/x-ndjson"})
call("GET", "/api/v1/reports/summary", headers={"Accept-Encoding": "gzip"})
call("GET", "/api/v1/reports/daily", headers={"Accept-Encoding": "deflate"})
call("DELETE", "/api/v1/users/31", headers=auth)
call("DELETE", "/api/v1/users/2")  # no token -> 401
call("GET", "/api/v1/users/31")   # deleted -> 404
conn.close()
