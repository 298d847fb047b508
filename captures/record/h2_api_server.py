#!/usr/bin/env python3
"""Small JSON API as a plain ASGI app (no framework), served by hypercorn on
cleartext HTTP/2 (h2c) and HTTP/1.1. Used to record h2c-api.pcap.

usage: h2_api_server.py [PORT [BIND_ADDR]]     (default 8200 127.0.0.1)

hypercorn accepts h2c both with prior knowledge (the connection starts with
"PRI * HTTP/2.0") and through the HTTP/1.1 "Upgrade: h2c" mechanism (a 101,
then HTTP/2 with the response on stream 1). Routes:

  GET    /api/v2/users?limit=N          -> 200 list
  GET    /api/v2/users/{id}             -> 200 / 404
  POST   /api/v2/orders                 -> 201 + location (JSON body in and out)
  GET    /api/v2/orders/{uuid}          -> 200 / 404
  DELETE /api/v2/orders/{uuid}          -> 204
  GET    /api/v2/catalog                -> 200, ~40 KB of JSON in 8 KB pieces (several
                                           DATA frames, interleaved with other streams')
  GET    /api/v2/reports/daily          -> 200, content-encoding: gzip if accepted
  GET    /api/v2/admin/{anything}       -> 401 without "authorization: Bearer ...", else 200
  GET    /api/v2/stream-with-trailers   -> 200, NDJSON body, trailer field x-checksum
                                           (hypercorn sends trailers only if the request
                                           carried "te: trailers")
  GET    /api/v2/exports/slow           -> waits up to 2 s before answering; answers
                                           nothing if the client resets the stream first
  anything else                         -> 404
"""
import asyncio
import gzip
import hashlib
import json
import random
import re
import sys
import uuid
from urllib.parse import parse_qs

from hypercorn.asyncio import serve
from hypercorn.config import Config

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoiYWRtaW4ifQ.c2lnbmF0dXJl"
NAMES = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan",
         "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Uma"]
USERS = {i: {"id": i, "name": n, "email": "%s@example.com" % n.lower(),
             "active": i % 5 != 0}
         for i, n in enumerate(NAMES, start=1)}
ORDERS = {
    "3f1c9a2e-7b4d-4e8a-9c61-2d5e8f0a1b37": {
        "order_id": "3f1c9a2e-7b4d-4e8a-9c61-2d5e8f0a1b37", "user_id": 1,
        "status": "shipped", "currency": "EUR", "total": "59.90",
        "lines": [{"sku": "SKU-000123", "qty": 2}, {"sku": "SKU-000456", "qty": 1}]},
    "a8e0d6c4-1f2b-4c3d-8e9f-0a1b2c3d4e5f": {
        "order_id": "a8e0d6c4-1f2b-4c3d-8e9f-0a1b2c3d4e5f", "user_id": 2,
        "status": "pending", "currency": "EUR", "total": "12.00",
        "lines": [{"sku": "SKU-000789", "qty": 1}]},
}
# New order ids come from a seeded generator, so re-recordings are identical.
ORDER_IDS = random.Random(8200)
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def make_catalog():
    rnd = random.Random(4040)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
             "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
    items = [{"id": i, "sku": "SKU-%06d" % rnd.randrange(10 ** 6),
              "name": " ".join(rnd.choice(words) for _ in range(3)),
              "price": round(rnd.uniform(1, 500), 2), "stock": rnd.randrange(0, 900),
              "tags": rnd.sample(words, 2)}
             for i in range(1, 371)]
    return dumps({"items": items, "total": len(items)})


CATALOG = make_catalog()  # about 40 KB


def daily_report():
    rows = [{"day": "2024-01-%02d" % d, "requests": 1000 + d * 37, "errors": d % 4,
             "p50_ms": 12 + d % 5, "p99_ms": 80 + d * 3} for d in range(1, 32)]
    return dumps({"report": "daily", "rows": rows})


async def read_body(receive):
    body = b""
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        body += msg.get("body", b"")
        if not msg.get("more_body", False):
            return body


async def reply(send, status, body=b"", ctype=b"application/json", headers=()):
    hdrs = [] if status == 204 else [(b"content-type", ctype),
                                      (b"content-length", str(len(body)).encode())]
    hdrs += list(headers)
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def reply_json(send, status, obj, headers=()):
    await reply(send, status, dumps(obj), headers=headers)


async def catalog(send):
    # Written in 8 KB pieces, yielding to the event loop in between, so the
    # DATA frames of concurrent streams on the same connection interleave.
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(CATALOG)).encode())]})
    for i in range(0, len(CATALOG), 8192):
        await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": CATALOG[i:i + 8192],
                    "more_body": i + 8192 < len(CATALOG)})


async def stream_with_trailers(scope, send):
    trailers = "http.response.trailers" in scope.get("extensions", {})
    await send({"type": "http.response.start", "status": 200, "trailers": trailers,
                "headers": [(b"content-type", b"application/x-ndjson"),
                            (b"trailer", b"x-checksum")]})
    h = hashlib.sha256()
    for i in range(4):
        line = dumps({"seq": i, "event": "order.updated", "user_id": (i % 3) + 1}) + b"\n"
        h.update(line)
        await send({"type": "http.response.body", "body": line, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    if trailers:
        await send({"type": "http.response.trailers",
                    "headers": [(b"x-checksum", b"sha256=" + h.hexdigest().encode())],
                    "more_trailers": False})


async def slow_export(receive, send):
    # A client that gives up (RST_STREAM) makes hypercorn deliver http.disconnect.
    try:
        while True:
            msg = await asyncio.wait_for(receive(), timeout=2.0)
            if msg["type"] == "http.disconnect":
                return
    except asyncio.TimeoutError:
        await reply_json(send, 200, {"export": "full", "rows": 0})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    method, path = scope["method"], scope["path"]
    query = parse_qs(scope["query_string"].decode())
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}

    if path.startswith("/api/v2/admin/"):
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return await reply_json(send, 401, {"error": "unauthorized"},
                                    headers=[(b"www-authenticate", b'Bearer realm="api"')])
        if auth != "Bearer " + TOKEN:
            return await reply_json(send, 403, {"error": "forbidden"})
        if method == "GET" and path == "/api/v2/admin/stats":
            return await reply_json(send, 200, {"requests": 1234, "errors": 5, "p99_ms": 87.5})
        return await reply_json(send, 404, {"error": "no route for %s %s" % (method, path)})

    if path == "/api/v2/users" and method == "GET":
        limit = int(query.get("limit", ["5"])[0])
        users = [USERS[i] for i in sorted(USERS)[:limit]]
        return await reply_json(send, 200, {"users": users, "limit": limit,
                                            "total": len(USERS)})
    m = re.fullmatch(r"/api/v2/users/(\d+)", path)
    if m and method == "GET":
        uid = int(m.group(1))
        if uid in USERS:
            return await reply_json(send, 200, USERS[uid])
        return await reply_json(send, 404, {"error": "user %d not found" % uid})

    if path == "/api/v2/orders" and method == "POST":
        body = await read_body(receive)
        if body is None:
            return
        try:
            order = json.loads(body)
        except ValueError:
            return await reply_json(send, 400, {"error": "body is not JSON"})
        oid = str(uuid.UUID(int=ORDER_IDS.getrandbits(128), version=4))
        ORDERS[oid] = dict(order, order_id=oid, status="pending")
        return await reply_json(send, 201, ORDERS[oid],
                                headers=[(b"location", b"/api/v2/orders/" + oid.encode())])
    m = re.fullmatch(r"/api/v2/orders/(%s)" % UUID_RE, path)
    if m and method in ("GET", "DELETE"):
        oid = m.group(1)
        if oid not in ORDERS:
            return await reply_json(send, 404, {"error": "order %s not found" % oid})
        if method == "GET":
            return await reply_json(send, 200, ORDERS[oid])
        del ORDERS[oid]
        return await reply(send, 204)

    if path == "/api/v2/catalog" and method == "GET":
        return await catalog(send)
    if path == "/api/v2/reports/daily" and method == "GET":
        raw = daily_report()
        vary = [(b"vary", b"accept-encoding")]
        if "gzip" in headers.get("accept-encoding", ""):
            return await reply(send, 200, gzip.compress(raw, mtime=0),
                               headers=[(b"content-encoding", b"gzip")] + vary)
        return await reply(send, 200, raw, headers=vary)
    if path == "/api/v2/stream-with-trailers" and method == "GET":
        return await stream_with_trailers(scope, send)
    if path == "/api/v2/exports/slow" and method == "GET":
        return await slow_export(receive, send)

    if method in ("POST", "PUT", "PATCH") and await read_body(receive) is None:
        return
    return await reply_json(send, 404, {"error": "no route for %s %s" % (method, path)})


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8200
    addr = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    config = Config()
    config.bind = ["%s:%d" % (addr, port)]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    asyncio.run(serve(app, config))
