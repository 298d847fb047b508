#!/usr/bin/env python3
"""Writes expect/mcp-tools.pcap.jsonrpc.tsv: one row per JSON-RPC message the MCP
client sent in mcp-tools.pcap (and one row, jsonrpc method '-', per HTTP request that
carries none: the GET that opens the server-to-client SSE stream, the DELETE that ends
the session), in the order of the request frames.

Usage: mcp_expect.py [CAPTURE [OUT]]
  (defaults: captures/mcp-tools.pcap, captures/expect/mcp-tools.pcap.jsonrpc.tsv)

Method, URI, status and content type come from tshark (-d tcp.port==8400,http with
http.desegment_body off: most SSE responses never end with the last chunk, because the
SDK client closes the connection as soon as it has the answer, and with body
desegmentation on tshark then never shows those responses at all). Bodies are read from
tshark's raw stream bytes (-z follow,tcp,raw): requests by Content-Length, responses by
Content-Length or de-chunked here (a body cut by the end of the connection is kept as
far as it goes), then SSE events (blocks ended by a blank line; only blocks with an
event or data field count) and JSON-RPC messages. The request headers, statuses and
content types parsed from the raw bytes must equal tshark's, and the JSON-RPC methods
must be those of mcp_client.py, in order. Fails (writing nothing) otherwise.
"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

REC_DIR = os.path.dirname(os.path.abspath(__file__))
CAP_DIR = os.path.dirname(REC_DIR)
PORT = 8400


def tshark(*args):
    return subprocess.run(["tshark", *args], check=True, capture_output=True).stdout


def tshark_http(cap):
    """[(frame, stream, method, uri)], {request frame: (status, content type)}"""
    pdml = tshark("-r", cap, "-2", "-o", "http.desegment_body:FALSE",
                  "-d", "tcp.port==%d,http" % PORT, "-Y", "http.request or http.response",
                  "-T", "pdml")
    reqs, resps = [], {}
    for packet in ET.fromstring(pdml).iter("packet"):
        f = {}
        for x in packet.iter("field"):
            f.setdefault(x.get("name"), []).append(x.get("show"))
        num, stream = int(f["frame.number"][0]), int(f["tcp.stream"][0])
        if "http.request.method" in f:
            reqs.append((num, stream, f["http.request.method"][0], f["http.request.uri"][0]))
        if "http.response.code" in f:
            resps[int(f["http.request_in"][0])] = (int(f["http.response.code"][0]),
                                                   f.get("http.content_type", ["-"])[0])
    return reqs, resps


def follow_raw(cap, stream):
    text = tshark("-r", cap, "-q", "-z", "follow,tcp,raw,%d" % stream).decode()
    client, server = bytearray(), bytearray()
    for line in text.split("\n"):
        if re.fullmatch(r"\t?[0-9a-f]+", line):
            (server if line.startswith("\t") else client).extend(bytes.fromhex(line.strip()))
    return bytes(client), bytes(server)


def parse_messages(data, is_request):
    """HTTP/1.x messages in one direction: dicts with start, headers, body, complete."""
    out, pos = [], 0
    while pos < len(data):
        end = data.index(b"\r\n\r\n", pos)
        head = data[pos:end].decode("latin-1").split("\r\n")
        pos = end + 4
        headers = [tuple(x.strip() for x in h.split(":", 1)) for h in head[1:]]
        hd = {k.lower(): v for k, v in headers}
        msg = {"start": head[0].split(" ", 2), "headers": headers, "h": hd, "complete": True}
        if hd.get("transfer-encoding", "").lower() == "chunked":
            if is_request:
                raise SystemExit("chunked request: not expected")
            body = bytearray()
            while True:
                nl = data.find(b"\r\n", pos)
                if nl < 0:
                    msg["complete"] = False
                    break
                size = int(data[pos:nl].split(b";")[0], 16)
                pos = nl + 2
                if size == 0:
                    pos = data.index(b"\r\n", pos) + 2  # no trailers here
                    break
                body += data[pos:pos + size]
                pos += size + 2
                if pos > len(data):
                    msg["complete"] = False
                    break
            msg["body"] = bytes(body)
        else:
            n = int(hd.get("content-length", "0"))
            msg["body"] = data[pos:pos + n]
            pos += n
        out.append(msg)
    return out


def sse_events(body):
    """JSON payloads of the SSE events in a text/event-stream body, and the event count."""
    events, payloads = 0, []
    for block in re.split(r"\r\n\r\n|\n\n|\r\r", body.decode("utf-8")):
        lines = [l for l in re.split(r"\r\n|\n|\r", block) if l and not l.startswith(":")]
        fields = [l.split(":", 1)[0] for l in lines]
        if not any(f in ("event", "data") for f in fields):
            continue
        events += 1
        data = "\n".join(l.split(":", 1)[1].lstrip(" ") if ":" in l else ""
                         for l in lines if l.split(":", 1)[0] == "data")
        if data:
            payloads.append(json.loads(data))
    return events, payloads


def main():
    cap = sys.argv[1] if len(sys.argv) > 1 else os.path.join(CAP_DIR, "mcp-tools.pcap")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        CAP_DIR, "expect", os.path.basename(cap) + ".jsonrpc.tsv")
    sys.path.insert(0, REC_DIR)
    import mcp_client as client

    treqs, tresps = tshark_http(cap)
    raw = {}
    for s in sorted({r[1] for r in treqs}):
        c, srv = follow_raw(cap, s)
        raw[s] = (parse_messages(c, True), parse_messages(srv, False))
    problems = []
    per_stream_index = {}
    rows, notes, sent_methods = [], [], []
    session_ids = set()
    for num, stream, method, uri in treqs:
        i = per_stream_index.get(stream, 0)
        per_stream_index[stream] = i + 1
        req = raw[stream][0][i]
        resp = raw[stream][1][i] if i < len(raw[stream][1]) else None
        if req["start"][:2] != [method, uri]:
            problems.append("frame %d: tshark %s %s, raw %s" % (num, method, uri, req["start"]))
        status, ctype = tresps.get(num, ("-", "-"))
        if resp is None or (int(resp["start"][1]), resp["h"].get("content-type", "-")) != (status, ctype):
            problems.append("frame %d: response differs between tshark and the raw bytes" % num)
        sse = ctype.startswith("text/event-stream")
        events, answers = sse_events(resp["body"]) if sse else (None, [])
        if not sse and resp["body"]:
            answers = [json.loads(resp["body"])]
        answers = [a for x in answers for a in (x if isinstance(x, list) else [x])]
        sid_req = req["h"].get("mcp-session-id")
        sid_resp = resp["h"].get("mcp-session-id")
        session_ids.update(x for x in (sid_req, sid_resp) if x)
        first = num == treqs[0][0]
        if bool(sid_req) == first or not sid_resp:
            problems.append("frame %d: unexpected mcp-session-id use" % num)
        msgs = json.loads(req["body"]) if req["body"] else []
        msgs = msgs if isinstance(msgs, list) else [msgs]
        notes.append("# frame %d, tcp.stream %d: %s %s -> %s %s%s; request mcp-session-id: %s; "
                     "response mcp-session-id: %s; request mcp-protocol-version: %s%s" % (
                         num, stream, method, uri, status, ctype,
                         ", %d SSE event(s)" % events if sse else "",
                         "yes" if sid_req else "no", "yes" if sid_resp else "no",
                         req["h"].get("mcp-protocol-version", "-"),
                         "" if resp["complete"] else
                         "; chunked body cut: the connection closed before the last chunk"))
        for m in msgs or [None]:
            if m is None:
                jmethod, jid, name, outcome = "-", "-", "-", "-"
            else:
                jmethod = m.get("method", "-")
                jid = str(m["id"]) if "id" in m else "-"
                params = m.get("params") or {}
                name = params.get("name") or params.get("uri") or "-"
                outcome = "-"
                if "id" in m:
                    match = [a for a in answers if a.get("id") == m["id"]]
                    if len(match) != 1:
                        problems.append("frame %d: %d answers for id %s" % (num, len(match), jid))
                    else:
                        outcome = "error" if "error" in match[0] else "result"
                sent_methods.append((jmethod, name))
            rows.append("\t".join([method, uri, str(status), ctype, jmethod, jid, name, outcome,
                                   str(events) if sse else "-"]))
    expected = [("initialize", "-"), ("notifications/initialized", "-")]
    for method, arg in client.CALLS:
        name = arg[0] if isinstance(arg, tuple) else (arg or "-")
        expected.append((method, name))
    if sent_methods != expected:
        problems.append("JSON-RPC messages differ from mcp_client.CALLS: %s" % sent_methods)
    if len(session_ids) != 1:
        problems.append("expected one mcp-session-id, found %d" % len(session_ids))
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        sys.exit(1)
    version = tshark("--version").decode().split("\n")[0].rstrip(".")
    lines = ["# http_method\turi\tstatus\tresponse_content_type\tjsonrpc_method\tid\tname\t"
             "outcome\tsse_events",
             "# %s; tshark -r CAPTURE -2 -o http.desegment_body:FALSE -d tcp.port==%d,http "
             "-T pdml (method, uri, status via http.request_in, content type); bodies from "
             "tshark -z follow,tcp,raw, parsed by record/mcp_expect.py" % (version, PORT),
             "# one row per JSON-RPC message sent by the client, or per HTTP request without "
             "one (jsonrpc_method '-'); id '-' for notifications; name: params.name "
             "(tools/call, prompts/get) or params.uri (resources/read); outcome: the answer "
             "with the same id has result or error ('-' for notifications and requests "
             "without JSON-RPC); sse_events: number of SSE events in a text/event-stream "
             "response ('-' for other content types)",
             "# mcp-session-id (checked): the initialize response sets it (the initialize "
             "request has none); every later request, the GET and the DELETE included, "
             "carries it, and every response repeats it; one session id in the capture"] + notes
    with open(out, "w") as f:
        f.write("\n".join(lines + rows) + "\n")
    print("wrote %s: %d rows" % (out, len(rows)))


if __name__ == "__main__":
    main()
