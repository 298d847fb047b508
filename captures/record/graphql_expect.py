#!/usr/bin/env python3
"""Writes expect/graphql-api.pcap.graphql.tsv: one row per GraphQL operation in
graphql-api.pcap (a batch gives one row per operation, with the same method, URI and
status), from tshark's HTTP view and graphql-core's parser.

Usage: graphql_expect.py [CAPTURE [OUT]]
  (defaults: captures/graphql-api.pcap, captures/expect/graphql-api.pcap.graphql.tsv)

tshark (two-pass, -d tcp.port==8300,http, PDML) gives each request's method, URI and
body (http.file_data, taken from the field's raw bytes) and the status of the
response that tshark links to it (http.request_in). The GraphQL request is read from
the JSON body (an object, or an array for a batch) or, for GET, from the URL's query,
variables, operationName and extensions parameters; the document is parsed with
graphql-core (an independent parser). The rows are checked against
graphql_client.REQUESTS (same requests, same order) and each APQ hash against the
sha256 of the query text when both are sent. Fails (writing nothing) on a mismatch.
"""
import hashlib
import json
import os
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET

import graphql
from graphql import language as gl

REC_DIR = os.path.dirname(os.path.abspath(__file__))
CAP_DIR = os.path.dirname(REC_DIR)
PORT = 8300


def tshark(*args):
    return subprocess.run(["tshark", *args], check=True, capture_output=True).stdout


def http_messages(cap):
    pdml = tshark("-r", cap, "-2", "-d", "tcp.port==%d,http" % PORT, "-Y", "http",
                  "-T", "pdml")
    requests, responses = [], {}
    for packet in ET.fromstring(pdml).iter("packet"):
        f = {}
        for x in packet.iter("field"):
            f.setdefault(x.get("name"), []).append(x)
        num = int(f["frame.number"][0].get("show"))
        body = bytes.fromhex(f["http.file_data"][0].get("value")) if "http.file_data" in f else b""
        if "http.request.method" in f:
            requests.append({"frame": num, "method": f["http.request.method"][0].get("show"),
                             "uri": f["http.request.uri"][0].get("show"), "body": body})
        elif "http.response.code" in f:
            responses[int(f["http.request_in"][0].get("show"))] = {
                "status": int(f["http.response.code"][0].get("show")),
                "content_type": f["http.content_type"][0].get("show") if "http.content_type" in f else "-",
                "body": body}
    return requests, responses


def graphql_payload(req):
    """The request's GraphQL payload: a dict, or a list of dicts for a batch."""
    if req["method"] == "GET":
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(req["uri"]).query))
        for key in ("variables", "extensions"):
            if key in params:
                params[key] = json.loads(params[key])
        return params
    return json.loads(req["body"])


def root_fields(selection_set, fragments):
    names = []
    for sel in selection_set.selections:
        if isinstance(sel, gl.FieldNode):
            names.append(sel.name.value)
        elif isinstance(sel, gl.InlineFragmentNode):
            names += root_fields(sel.selection_set, fragments)
        elif isinstance(sel, gl.FragmentSpreadNode):
            names += root_fields(fragments[sel.name.value].selection_set, fragments)
    return list(dict.fromkeys(names))


def describe(op):
    """(type, name, root fields, variable names, hash, introspection, note) of one operation."""
    query = op.get("query")
    sent_vars = list((op.get("variables") or {}).keys())
    ext = op.get("extensions") or {}
    pq = ext.get("persistedQuery", {}).get("sha256Hash", "-")
    if pq != "-" and query is not None and hashlib.sha256(query.encode()).hexdigest() != pq:
        raise SystemExit("APQ hash does not match the query text")
    if query is None:
        return ("-", op.get("operationName") or "-", "-", ",".join(sent_vars) or "-", pq,
                "no", "no query text (persisted query hash only)")
    try:
        doc = graphql.parse(query)
    except graphql.GraphQLError as e:
        return ("-", op.get("operationName") or "-", "-", ",".join(sent_vars) or "-", pq,
                "no", "document does not parse: " + e.message)
    ops = [d for d in doc.definitions if isinstance(d, gl.OperationDefinitionNode)]
    fragments = {d.name.value: d for d in doc.definitions
                 if isinstance(d, gl.FragmentDefinitionNode)}
    wanted = op.get("operationName")
    chosen = [d for d in ops if wanted is None or (d.name and d.name.value == wanted)]
    if len(chosen) != 1:
        raise SystemExit("cannot select the operation %r" % wanted)
    d = chosen[0]
    declared = [v.variable.name.value for v in d.variable_definitions or ()]
    if sent_vars and sorted(sent_vars) != sorted(declared):
        raise SystemExit("variables sent %s differ from those declared %s" % (sent_vars, declared))
    fields = root_fields(d.selection_set, fragments)
    intro = "yes" if any(f in ("__schema", "__type") for f in fields) else "no"
    return (d.operation.value, d.name.value if d.name else "-", ",".join(fields),
            ",".join(declared) or "-", pq, intro, None)


def response_note(resp):
    if resp is None:
        return "no response"
    if not resp["content_type"].startswith("application/json"):
        return "%s body %r" % (resp["content_type"], resp["body"].decode())
    body = json.loads(resp["body"])
    parts = []
    for item in body if isinstance(body, list) else [body]:
        if item.get("errors"):
            parts.append("errors: " + "; ".join(e["message"] for e in item["errors"]))
        else:
            parts.append("data: " + ",".join(item.get("data") or {}))
    return " | ".join(parts)


def main():
    cap = sys.argv[1] if len(sys.argv) > 1 else os.path.join(CAP_DIR, "graphql-api.pcap")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        CAP_DIR, "expect", os.path.basename(cap) + ".graphql.tsv")
    sys.path.insert(0, REC_DIR)
    import graphql_client as client

    requests, responses = http_messages(cap)
    if len(requests) != len(client.REQUESTS):
        raise SystemExit("%d requests in the capture, %d sent" % (len(requests), len(client.REQUESTS)))
    version = tshark("--version").decode().split("\n")[0].rstrip(".")
    lines = ["# method\turi\tstatus\toperation_type\toperation_name\troot_fields\t"
             "variables\tpersisted_query_hash\tintrospection",
             "# %s; graphql-core %s; tshark -r CAPTURE -2 -d tcp.port==%d,http -T pdml "
             "(http.request.method, http.request.uri, http.file_data, http.response.code via "
             "http.request_in); documents parsed by graphql-core" % (
                 version, graphql.__version__, PORT),
             "# one row per operation (a batch: one row per array element, same method/uri/"
             "status); operation_type/root_fields: from the parsed document, '-' when there is "
             "no document or it does not parse; operation_name: the selected operation's name "
             "('-' if anonymous), or the request's operationName when there is no parsable "
             "document; variables: names declared by the operation (they equal the keys of "
             "the variables sent), or the keys sent when there is no parsable document; "
             "introspection: a root field is __schema or __type",
             "# all requests on one keep-alive connection, checked against "
             "record/graphql_client.py"]
    rows = []
    for n, (req, (method, sent)) in enumerate(zip(requests, client.REQUESTS), 1):
        payload = graphql_payload(req)
        expected = sent if method == "POST" else dict(
            sent, variables=json.loads(sent["variables"]))
        if req["method"] != method or payload != expected or req["uri"] != client.request_target(method, sent):
            raise SystemExit("request %d differs from graphql_client.REQUESTS" % n)
        resp = responses.get(req["frame"])
        status = str(resp["status"]) if resp else "-"
        ops = payload if isinstance(payload, list) else [payload]
        notes = []
        for op in ops:
            t, name, fields, variables, pq, intro, note = describe(op)
            if note:
                notes.append(note)
            rows.append("\t".join([req["method"], req["uri"], status, t, name, fields,
                                   variables, pq, intro]))
        lines.append("# request %d (frame %d)%s: %s -> %s; %s" % (
            n, req["frame"], " batch of %d" % len(ops) if isinstance(payload, list) else "",
            req["method"], status, "; ".join(notes + [response_note(resp)])[:300]))
    with open(out, "w") as f:
        f.write("\n".join(lines + rows) + "\n")
    print("wrote %s: %d rows" % (out, len(rows)))


if __name__ == "__main__":
    main()
