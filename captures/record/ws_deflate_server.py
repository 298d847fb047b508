#!/usr/bin/env python3
"""WebSocket server for websocket-deflate.pcap, built on the `websockets` library.

Usage: ws_deflate_server.py [PORT]   (default 8766, on 127.0.0.1)

Paths (the permessage-deflate configuration is chosen per path, before the
library answers the handshake):
  /ws/chat   the library's default permessage-deflate factory (context
             takeover in both directions, 12-bit windows); answers every
             client message with a JSON message
  /ws/feed   permessage-deflate with server_no_context_takeover and
             client_no_context_takeover; answers each request with JSON
  /ws/plain  no extension at all (nothing is negotiated)
Automatic keepalive pings are off, so every frame in the capture comes from
the client script or from the server's answers to it.
"""
import asyncio
import json
import sys

from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (
    ServerPerMessageDeflateFactory,
    enable_server_permessage_deflate,
)

DEFAULT_DEFLATE = enable_server_permessage_deflate(None)
NO_TAKEOVER_DEFLATE = [
    ServerPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        compress_settings={"memLevel": 5},
    )
]


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def choose_extensions(connection, request):
    path = request.path.split("?", 1)[0]
    if path == "/ws/chat":
        connection.protocol.available_extensions = DEFAULT_DEFLATE
    elif path == "/ws/feed":
        connection.protocol.available_extensions = NO_TAKEOVER_DEFLATE
    elif path == "/ws/plain":
        connection.protocol.available_extensions = []
    else:
        return connection.respond(404, "no such WebSocket endpoint\n")
    return None


async def chat(ws):
    async for msg in ws:
        if isinstance(msg, bytes):
            await ws.send(dumps({"type": "binary_ack", "bytes": len(msg)}))
            continue
        req = json.loads(msg)
        kind = req.get("type")
        if kind == "subscribe":
            reply = {"type": "subscribed", "channel": req["channel"], "room": "lobby"}
        elif kind == "login":
            reply = {"type": "login_ok", "user": req["user"],
                     "session": "c2Vzc2lvbi1hbGljZS0wMDAx", "expires_in": 3600}
        elif kind == "order":
            reply = {"type": "order_ack", "id": req["id"], "status": "accepted",
                     "notify": req.get("email")}
        elif kind == "bulk_upload":
            reply = {"type": "bulk_ack", "items": len(req["items"]), "status": "stored"}
        else:
            reply = {"type": "error", "error": "unknown message type"}
        await ws.send(dumps(reply))


async def feed(ws):
    async for msg in ws:
        req = json.loads(msg)
        if req.get("type") == "subscribe":
            await ws.send(dumps({"type": "subscribed", "feed": req["feed"]}))
        elif req.get("type") == "quote":
            sym = req["symbol"]
            await ws.send(dumps({"type": "quote", "symbol": sym,
                                 "bid": 101.25, "ask": 101.5, "ts": 1705320000}))
        else:
            await ws.send(dumps({"type": "error", "error": "unknown message type"}))


async def plain(ws):
    async for msg in ws:
        req = json.loads(msg)
        await ws.send(dumps({"type": "echo", "seq": req.get("seq"), "ok": True}))


async def handler(ws):
    path = ws.request.path.split("?", 1)[0]
    await {"/ws/chat": chat, "/ws/feed": feed, "/ws/plain": plain}[path](ws)


async def main(port):
    async with serve(handler, "127.0.0.1", port, process_request=choose_extensions,
                     ping_interval=None, max_size=4 * 1024 * 1024) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8766))
