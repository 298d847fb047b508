#!/usr/bin/env python3
"""MCP client for mcp-tools.pcap, built on the official `mcp` Python SDK (2.x `Client`),
Streamable HTTP transport.

Usage: mcp_client.py [PORT]   (default 8400; endpoint http://127.0.0.1:PORT/mcp)

mode="legacy" makes the SDK use the initialize handshake (initialize, then
notifications/initialized) instead of first probing server/discover (the 2.x default
"auto" mode); the client-side response cache is off so every call reaches the server.
Then, one after the other: tools/list, tools/call get_weather, tools/call
lookup_customer, resources/list, resources/read config://app, prompts/list,
prompts/get summarize_ticket; leaving the `async with` closes the session (the SDK
sends DELETE with the mcp-session-id).
"""
import asyncio
import sys

from mcp import Client
from mcp_types import Implementation

CALLS = [
    ("tools/list", None),
    ("tools/call", ("get_weather", {"city": "Paris"})),
    ("tools/call", ("lookup_customer", {"email": "dana@example.com"})),
    ("resources/list", None),
    ("resources/read", "config://app"),
    ("prompts/list", None),
    ("prompts/get", ("summarize_ticket", {"ticket_id": "TCK-4711"})),
]


async def main(port):
    url = "http://127.0.0.1:%d/mcp" % port
    async with Client(url, mode="legacy", cache=None,
                      client_info=Implementation(name="apisonar-mcp-client", version="1.0.0")) as c:
        print("protocol version", c.protocol_version, "server", c.server_info)
        for method, arg in CALLS:
            if method == "tools/list":
                r = await c.list_tools()
            elif method == "tools/call":
                r = await c.call_tool(*arg)
            elif method == "resources/list":
                r = await c.list_resources()
            elif method == "resources/read":
                r = await c.read_resource(arg)
            elif method == "prompts/list":
                r = await c.list_prompts()
            else:
                r = await c.get_prompt(*arg)
            print(method, str(r)[:150])


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8400))
