#!/usr/bin/env python3
"""WebSocket client for websocket-deflate.pcap, built on the `websockets` library.

Usage: ws_deflate_client.py [PORT]   (default 8766)

Three connections, one after the other, each waiting for the server's answer
before sending the next message (so the frame order is fixed):
  0. /ws/chat?room=lobby, permessage-deflate as the library offers it by
     default (context takeover): CHAT below, in order; the repeated order
     message compresses to a few bytes the second time; the ~70 KB
     bulk_upload message is sent as 5 fragments (text frame + 4
     continuation frames); a ping (the server answers with a pong); close 1000.
  1. /ws/feed, permessage-deflate with client_no_context_takeover and
     server_no_context_takeover offered: FEED below; close 1000.
  2. /ws/plain, compression disabled (no Sec-WebSocket-Extensions offered):
     PLAIN below; close 1000.
The message lists are module-level so that the expectation script can check
the capture against them. Everything is deterministic except the masking keys.
"""
import asyncio
import json
import random
import sys

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

ORDER = '{"type":"order","id":17,"email":"bob@example.com"}'


def bulk_message():
    rnd = random.Random(8766)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
             "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
    items = []
    while True:
        i = len(items)
        items.append({"sku": "SKU-%06d" % rnd.randrange(10**6),
                      "name": " ".join(rnd.choice(words) for _ in range(3)),
                      "qty": rnd.randrange(1, 50), "price": round(rnd.uniform(1, 500), 2),
                      "warehouse": "wh-%02d" % rnd.randrange(20), "line": i})
        text = json.dumps({"type": "bulk_upload", "items": items}, separators=(",", ":"))
        if len(text) >= 70000:
            return text


BULK = bulk_message()
BULK_FRAGMENT = 16384  # characters (ASCII) per fragment -> 5 fragments

# (kind, payload): kind is "text", "binary", "fragmented" (text in fragments) or "ping"
CHAT = [
    ("text", '{"type":"subscribe","channel":"orders"}'),
    ("text", '{"type":"login","user":"alice","password":"hunter2"}'),
    ("text", ORDER),
    ("text", ORDER),
    ("binary", bytes(range(32)) + b"apisonar-binary-payload" + bytes(range(255, 223, -1))),
    ("fragmented", BULK),
    ("ping", b"chat-ping-1"),
]
FEED = [
    ("text", '{"type":"subscribe","feed":"prices"}'),
    ("text", '{"type":"quote","symbol":"ACME"}'),
    ("text", '{"type":"quote","symbol":"ACME"}'),
]
PLAIN = [
    ("text", '{"type":"hello","seq":1,"client":"plain-client"}'),
    ("text", '{"type":"note","seq":2,"text":"no compression here"}'),
]

# (path, extensions offered or None for the library default, compression, messages)
CONNECTIONS = [
    ("/ws/chat?room=lobby", None, "deflate", CHAT),
    ("/ws/feed", [ClientPerMessageDeflateFactory(client_no_context_takeover=True,
                                                 server_no_context_takeover=True,
                                                 compress_settings={"memLevel": 5})],
     "deflate", FEED),
    ("/ws/plain", None, None, PLAIN),
]


async def run(port, path, extensions, compression, messages):
    async with connect("ws://127.0.0.1:%d%s" % (port, path), extensions=extensions,
                       compression=compression, proxy=None, ping_interval=None,
                       max_size=4 * 1024 * 1024) as ws:
        print("%s: Sec-WebSocket-Extensions: %s" % (
            path, ws.response.headers.get("Sec-WebSocket-Extensions", "-")))
        for kind, payload in messages:
            if kind == "ping":
                waiter = await ws.ping(payload)
                await waiter
                continue
            if kind == "fragmented":
                await ws.send([payload[i:i + BULK_FRAGMENT]
                               for i in range(0, len(payload), BULK_FRAGMENT)])
            else:
                await ws.send(payload)
            answer = await ws.recv()
            print("  sent %s %d bytes, got %s" % (kind, len(payload), answer))
        await ws.close()  # code 1000


async def main(port):
    for path, extensions, compression, messages in CONNECTIONS:
        await run(port, path, extensions, compression, messages)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8766))
