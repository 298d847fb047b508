#!/usr/bin/env python3
"""MCP server for mcp-tools.pcap, built on the official `mcp` Python SDK (2.x: the
former FastMCP is `mcp.server.MCPServer`), Streamable HTTP transport.

Usage: mcp_server.py [PORT]   (default 8400; endpoint http://127.0.0.1:PORT/mcp)

Two tools (get_weather, lookup_customer: returns an e-mail address and a phone
number), one resource (config://app), one prompt (summarize_ticket). The transport
keeps its defaults: sessions (mcp-session-id) and SSE answers to POSTs
(json_response=False). Data is fixed.
"""
import json
import sys

from mcp.server import MCPServer

mcp = MCPServer("apisonar-demo", version="1.0.0",
                instructions="Weather and customer lookups for the apisonar test capture.",
                log_level="WARNING")

WEATHER = {"Paris": (14.5, "light rain"), "Berlin": (9.0, "cloudy"), "Lisbon": (21.0, "sunny")}
CUSTOMERS = {
    "dana@example.com": {"name": "Dana Scully", "email": "dana@example.com",
                         "phone": "+1-202-555-0147", "tier": "gold"},
}


@mcp.tool()
def get_weather(city: str) -> str:
    """Current weather for a city."""
    temp, sky = WEATHER.get(city, (18.0, "clear"))
    return "%s: %.1f C, %s" % (city, temp, sky)


@mcp.tool()
def lookup_customer(email: str) -> dict:
    """Look up a customer record by e-mail address."""
    return CUSTOMERS.get(email, {"error": "not found"})


@mcp.resource("config://app", mime_type="application/json")
def app_config() -> str:
    """Application configuration."""
    return json.dumps({"region": "eu-west-1", "feature_flags": ["beta-search"], "max_items": 50})


@mcp.prompt()
def summarize_ticket(ticket_id: str) -> str:
    """Summarize a support ticket."""
    return "Summarize support ticket %s in three bullet points for the on-call engineer." % ticket_id


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8400
    mcp.run(transport="streamable-http", host="127.0.0.1", port=port, streamable_http_path="/mcp")
