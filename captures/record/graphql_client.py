#!/usr/bin/env python3
"""GraphQL client for graphql-api.pcap: python http.client, ONE keep-alive connection.

Usage: graphql_client.py [PORT]   (default 8300)

REQUESTS below, in order. Each POST body is JSON (application/json); the GET carries
query, variables and operationName in the URL. The automatic persisted query is sent
the way Apollo Client does it: first the sha256 of the query without the query text,
then, since the server does not know the hash, again with the query text.
REQUESTS is module-level so that the expectation script can check the capture
against it.
"""
import hashlib
import http.client
import json
import sys
import urllib.parse

from graphql import get_introspection_query

GET_USER = "query GetUser($id: ID!) { user(id: $id) { id name email } }"
DASHBOARD = "query Dashboard { orders(first: 5) { id total } me { name } }"
ADD_ORDER = "mutation AddOrder($input: OrderInput!) { addOrder(input: $input) { id } }"
ANONYMOUS = "{ me { name } }"
GET_USER_NAME = "query GetUserName($id: ID!) { user(id: $id) { name } }"
RECENT_ORDERS = "query RecentOrders { orders(first: 2) { id total } }"
APQ_QUERY = "query GetUserEmail($id: ID!) { user(id: $id) { email } }"
APQ_HASH = hashlib.sha256(APQ_QUERY.encode()).hexdigest()
APQ_EXT = {"persistedQuery": {"version": 1, "sha256Hash": APQ_HASH}}
INTROSPECTION = get_introspection_query(descriptions=True)
SYNTAX_ERROR = 'query Broken { user(id: "1") { id name }'
BAD_FIELD = "query GetUserSsn($id: ID!) { user(id: $id) { id ssn } }"

ORDER_INPUT = {
    "customerEmail": "carol@example.com",
    "lines": [{"sku": "SKU-000456", "qty": 2}, {"sku": "SKU-000789", "qty": 1}],
    "shipping": {"street": "1 Main Street", "city": "Springfield", "zip": "12345"},
}

# (method, body object for POST or query parameters for GET)
REQUESTS = [
    ("POST", {"query": GET_USER, "operationName": "GetUser", "variables": {"id": "2"}}),
    ("POST", {"query": DASHBOARD, "operationName": "Dashboard"}),
    ("POST", {"query": ADD_ORDER, "operationName": "AddOrder",
              "variables": {"input": ORDER_INPUT}}),
    ("POST", {"query": ANONYMOUS}),
    ("GET", {"query": GET_USER_NAME, "variables": json.dumps({"id": "3"}),
             "operationName": "GetUserName"}),
    ("POST", [{"query": GET_USER, "operationName": "GetUser", "variables": {"id": "3"}},
              {"query": RECENT_ORDERS, "operationName": "RecentOrders"}]),
    ("POST", {"operationName": "GetUserEmail", "variables": {"id": "1"},
              "extensions": APQ_EXT}),
    ("POST", {"query": APQ_QUERY, "operationName": "GetUserEmail", "variables": {"id": "1"},
              "extensions": APQ_EXT}),
    ("POST", {"query": INTROSPECTION, "operationName": "IntrospectionQuery"}),
    ("POST", {"query": SYNTAX_ERROR, "operationName": "Broken"}),
    ("POST", {"query": BAD_FIELD, "operationName": "GetUserSsn", "variables": {"id": "1"}}),
]

HEADERS = {
    "Accept": "application/graphql-response+json, application/json",
    "User-Agent": "apisonar-graphql-client/1.0",
}


def request_target(method, payload):
    if method == "GET":
        return "/graphql?" + urllib.parse.urlencode(payload, quote_via=urllib.parse.quote)
    return "/graphql"


def main(port):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for method, payload in REQUESTS:
        uri = request_target(method, payload)
        if method == "GET":
            conn.request("GET", uri, headers=HEADERS)
        else:
            body = json.dumps(payload, separators=(",", ":"))
            conn.request("POST", uri, body=body,
                         headers=dict(HEADERS, **{"Content-Type": "application/json"}))
        resp = conn.getresponse()
        data = resp.read()
        print("%s %s -> %d %s" % (method, uri[:60], resp.status, data[:100]))
    conn.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8300)
