#!/bin/bash
# tshark-expect.sh [CAPTURE...]
#
# Writes captures/expect/<capture-file-name>.tsv: tshark's view of the
# HTTP/1.x transactions in each capture, the oracle the apisonar tests
# compare against.
#
# Format (tab-separated, UTF-8, '\n' line ends):
#   line 1:  "# method<TAB>uri<TAB>status"
#   "#" lines: comments. "# tshark: ..." comments explain a row where the
#             raw tshark output was wrong or incomplete and what was done.
#   rows:    method, request-target exactly as sent, status code of the FINAL
#            response to that request (1xx interim responses such as
#            "100 Continue" are skipped; "101 Switching Protocols" is final),
#            or "-" if there is none.
#   One row per HTTP/1.x request, ordered by the frame in which tshark
#   completes the request (the last segment of its headers/body), then by
#   position within that frame (pipelined requests sharing a segment).
#   HTTP/2 (h2c) and TLS-encrypted requests are not HTTP/1.x rows.
#
# How the status is found, and checked:
#   1. tshark (two-pass, with TCP/HTTP reassembly and de-chunking) links each
#      request to a response frame (http.response_in / http.request_in).
#   2. Independently, requests and final responses of each TCP connection are
#      paired in order (HTTP/1.x answers in request order).
#   A row is "suspicious" when the two disagree, when several requests share
#   one frame (tshark links frames, not messages), when a connection has
#   unparsed HTTP data ("Continuation"), or when request and response counts
#   of a connection differ. Every suspicious row must have an entry in the
#   FIXES table below (checked by hand against the bytes of the capture),
#   else this script fails: it never silently writes a doubtful row.
#   3. Requests inside a successful CONNECT tunnel are not dissected by
#      tshark 4.0 (it only tags the bytes with http.proxy_connect_host/port).
#      They are taken from a second tshark run over a copy of the capture
#      without the frames of that connection up to the "200 Connection
#      established" response, so tshark parses the tunnel as plain HTTP.
set -euo pipefail
cd "$(dirname "$0")"

DEFAULT=(nginx-static.pcap python-api-keepalive.pcap pipelined.pcap
         curl-100-continue.pcap http10-close.pcap ipv6.pcap vlan.pcap qinq.pcap
         nginx-keepalive.pcapng linux-sll.pcap linux-sll2.pcap
         websocket-upgrade.pcap connect-proxy.pcap tls-and-h2c.pcap)
# Non-standard HTTP ports used by the captures (80, 3128, 8080 and 8088 are
# in tshark's default HTTP port range already).
PORTS=(5000 8090 9000 8765 8081)

if [ $# -eq 0 ]; then set -- "${DEFAULT[@]}"; fi
mkdir -p expect

# FIXES: capture|method|uri|occurrence|tshark-status|true-status|explanation
# occurrence: 1 for the first request with this method and uri in the file.
# tshark-status is what the raw tshark linking gives (checked, so a change in
# tshark or in a re-recorded capture is noticed); true-status is what the
# server really sent, verified with `tshark -r F -x` / `tcpdump -A`.
FIXES=$(cat <<'EOF'
pipelined.pcap|GET|/api/status.json|1|200|200|4 requests arrive pipelined in ONE segment; tshark links all 4 to the first response frame (the 200 for this request): right here by luck of order
pipelined.pcap|GET|/nope|1|200|404|pipelined (one segment with 3 others): tshark links it to the first response (200); nginx's 2nd response is 404 Not Found
pipelined.pcap|HEAD|/index.html|1|200|200|pipelined (one segment with 3 others): tshark links it to the first response; nginx's 3rd response is 200 OK (headers only, HEAD). tshark does not know this response answers a HEAD, so it reads the next response (the 4th) as this one's Content-Length body and shows its tail as "Continuation"
pipelined.pcap|GET|/api/items.json|1|200|200|pipelined (one segment with 3 others): tshark links it to the first response; its real response (nginx's 4th, 200 OK, Connection: close) is swallowed by tshark as the body of the HEAD response before it
EOF
)

# NOTES: capture|text -- extra "# note:" lines for the reader of a file.
NOTES=$(cat <<'EOF'
nginx-static.pcap|nginx on 127.0.0.1:80; the first 4 requests share one keep-alive connection; 304s answer If-Modified-Since / If-None-Match; gzip responses are chunked; 206 = Range
python-api-keepalive.pcap|Python http.server API on 127.0.0.1:5000; the first 15 requests share ONE keep-alive connection (http.client); GET /api/v1/events is chunked with a trailer; reports are gzip / deflate encoded
pipelined.pcap|nginx on 127.0.0.1:8080; connection 1: 4 requests in one segment; connection 2: 3 requests pipelined across segment boundaries
curl-100-continue.pcap|Python http.server on 127.0.0.1:8090; the "HTTP/1.1 100 Continue" interim responses (before the POST and PUT bodies) are not final statuses and give no rows; PUT and 2nd POST have chunked request bodies
http10-close.pcap|HTTP/1.0 on 127.0.0.1:9000; responses have no Content-Length, the body ends when the server closes the connection
ipv6.pcap|nginx on [::1]:80; 3 GETs on one connection, then POST + GET on a second one
vlan.pcap|802.1Q VLAN 100; nginx on 10.99.100.1:80 (private namespaces only)
qinq.pcap|802.1ad S-VLAN 200 + 802.1Q C-VLAN 100; nginx on 10.99.200.1:8080 (private namespaces only)
nginx-keepalive.pcapng|pcapng (dumpcap); nginx on 127.0.0.1:8088
linux-sll.pcap|Linux cooked v1 (tcpdump -i any -y LINUX_SLL); nginx on 127.0.0.1:80
linux-sll2.pcap|Linux cooked v2 (tcpdump -i any); nginx on 127.0.0.1:8080
websocket-upgrade.pcap|127.0.0.1:8765; after the 101 the connection carries WebSocket frames (text, binary, ping/pong, close), not HTTP
connect-proxy.pcap|proxy 127.0.0.1:3128, nginx 127.0.0.1:8080; each tunnelled or proxied request appears twice: once on the client<->proxy connection, once on the proxy<->nginx connection (origin-form)
tls-and-h2c.pcap|no rows for the TLS connection (127.0.0.1:8443, encrypted) nor for the two HTTP/2 prior-knowledge (h2c) connections to 127.0.0.1:8082 (GET / and GET /api/status.json, both 200 in HTTP/2); only the plain HTTP/1.1 GET on 127.0.0.1:8081 is a row
EOF
)

fail=0
for cap in "$@"; do
    cap=$(basename "$cap")
    [ -f "$cap" ] || { echo "missing capture $cap" >&2; fail=1; continue; }
    python3 - "$cap" "expect/$cap.tsv" "$FIXES" "$NOTES" "${PORTS[@]}" <<'PYEOF' || fail=1
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

cap, out, fixes_text, notes_text = sys.argv[1:5]
ports = sys.argv[5:]
PREFS = ["-o", "tcp.desegment_tcp_streams:TRUE", "-o", "http.desegment_headers:TRUE",
         "-o", "http.desegment_body:TRUE", "-o", "http.dechunk_body:TRUE"]
DECODE = [a for p in ports for a in ("-d", "tcp.port==%s,http" % p)]


def tshark_version():
    v = subprocess.run(["tshark", "-v"], capture_output=True, text=True).stdout
    return v.splitlines()[0]


def run_pdml(path):
    """Return list of packets: {num, stream, http: [msg...]}."""
    xml = subprocess.run(["tshark", "-r", path, "-2", "-T", "pdml"] + PREFS + DECODE,
                         capture_output=True, check=True).stdout
    pkts = []
    for pkt in ET.fromstring(xml).iter("packet"):
        num, stream, msgs = None, None, []
        for proto in pkt.findall("proto"):
            name = proto.get("name")
            if name == "frame":
                num = int(proto.find("field[@name='frame.number']").get("show"))
            elif name == "tcp":
                f = proto.find("field[@name='tcp.stream']")
                if f is not None:
                    stream = int(f.get("show"))
            elif name == "http":
                m = {}
                for f in proto.iter("field"):
                    n = f.get("name")
                    if n in ("http.request.method", "http.request.uri", "http.response.code",
                             "http.response_in", "http.request_in",
                             "http.proxy_connect_host") and n not in m:
                        m[n] = f.get("show")
                msgs.append(m)
        pkts.append({"num": num, "stream": stream, "http": msgs})
    return pkts


def messages(pkts, frame_map=None):
    """Flatten to requests/responses/other with (frame, idx)."""
    out = []
    for p in pkts:
        num = frame_map[p["num"]] if frame_map else p["num"]
        for i, m in enumerate(p["http"]):
            d = {"frame": num, "idx": i, "stream": p["stream"]}
            if "http.request.method" in m:
                d.update(kind="req", method=m["http.request.method"],
                         uri=m.get("http.request.uri", ""),
                         response_in=m.get("http.response_in"))
                if frame_map and d["response_in"]:
                    d["response_in"] = str(frame_map[int(d["response_in"])])
            elif "http.response.code" in m:
                d.update(kind="resp", code=int(m["http.response.code"]),
                         request_in=m.get("http.request_in"))
                if frame_map and d["request_in"]:
                    d["request_in"] = str(frame_map[int(d["request_in"])])
            elif "http.proxy_connect_host" in m:
                d.update(kind="tunnel")
            else:
                d.update(kind="continuation")
            out.append(d)
    return out


pkts = run_pdml(cap)
msgs = messages(pkts)
comments = []

# --- CONNECT tunnels: re-dissect them without the CONNECT exchange --------
tunnels = {}  # stream -> frame of the 2xx answer to CONNECT
for m in msgs:
    if m["kind"] == "req" and m["method"] == "CONNECT" and m["response_in"]:
        rf = int(m["response_in"])
        for r in msgs:
            if r["kind"] == "resp" and r["frame"] == rf and 200 <= r["code"] < 300:
                tunnels[m["stream"]] = rf
if tunnels:
    drop = {p["num"] for p in pkts
            if p["stream"] in tunnels and p["num"] <= tunnels[p["stream"]]}
    keep = [p["num"] for p in pkts if p["num"] not in drop]
    with tempfile.TemporaryDirectory() as td:
        cut = os.path.join(td, "cut.pcap")
        subprocess.run(["editcap", "-F", "pcap", cap, cut] + [str(n) for n in sorted(drop)],
                       check=True, capture_output=True)
        fmap = {i + 1: n for i, n in enumerate(keep)}
        cut_msgs = messages(run_pdml(cut), fmap)
    # stream numbers differ in the cut file: pick messages by frame
    frame_stream = {p["num"]: p["stream"] for p in pkts}
    inner = [m for m in cut_msgs
             if frame_stream[m["frame"]] in tunnels and m["frame"] > tunnels[frame_stream[m["frame"]]]]
    for m in inner:
        m["stream"] = frame_stream[m["frame"]]
        m["tunnel"] = True
    msgs = [m for m in msgs if not (m["stream"] in tunnels and m["kind"] in ("tunnel", "continuation"))]
    msgs += inner
    msgs.sort(key=lambda m: (m["frame"], m["idx"]))
    for s, f in sorted(tunnels.items()):
        n = sum(1 for m in inner if m["stream"] == s and m["kind"] == "req")
        comments.append("# tshark: TCP stream %d is a CONNECT tunnel (200 in frame %d); tshark 4.0 "
                        "does not dissect the HTTP inside it. Its %d tunnelled request(s), marked "
                        "below, are tshark's view of a copy of the capture without that stream's "
                        "frames up to %d (then the tunnel bytes parse as plain HTTP)." % (s, f, n, f))

reqs = [m for m in msgs if m["kind"] == "req"]
resps = [m for m in msgs if m["kind"] == "resp"]

# --- tshark's own linking ---------------------------------------------------
frame_reqs = {}
for r in reqs:
    frame_reqs.setdefault(r["frame"], []).append(r)
for r in reqs:
    r["tshark"] = "-"
    r["why"] = []
    if r["response_in"]:
        rf = int(r["response_in"])
        cands = [x for x in resps if x["frame"] == rf and x["request_in"] == str(r["frame"])]
        if not cands:
            cands = [x for x in resps if x["frame"] == rf]
        if cands:
            r["tshark"] = str(cands[0]["code"])
            if 100 <= cands[0]["code"] < 200 and cands[0]["code"] != 101:
                r["why"].append("tshark links it to an interim 1xx response")
    if len(frame_reqs[r["frame"]]) > 1:
        r["why"].append("%d requests share frame %d" % (len(frame_reqs[r["frame"]]), r["frame"]))

# --- positional pairing per TCP connection -----------------------------------
streams = {}
for m in msgs:
    streams.setdefault(m["stream"], []).append(m)
for s, ms in streams.items():
    sreqs = [m for m in ms if m["kind"] == "req"]
    finals = [m for m in ms if m["kind"] == "resp" and (m["code"] >= 200 or m["code"] == 101)]
    for i, r in enumerate(sreqs):
        r["positional"] = str(finals[i]["code"]) if i < len(finals) else "-"
    bad = []
    if any(m["kind"] == "continuation" for m in ms):
        bad.append("TCP stream %d has HTTP data tshark could not parse (Continuation)" % s)
    if len(sreqs) != len(finals):
        bad.append("TCP stream %d: %d requests but %d final responses" % (s, len(sreqs), len(finals)))
    for r in sreqs:
        r["why"] += bad
        if r["positional"] != r["tshark"]:
            r["why"].append("tshark links status %s, in-order pairing gives %s" % (r["tshark"], r["positional"]))
        if r["tshark"] == "-":
            r["why"].append("no response linked")

# --- apply FIXES -----------------------------------------------------------
fixes = {}
for line in fixes_text.splitlines():
    if not line.strip():
        continue
    c, meth, uri, occ, ts, true, why = line.split("|", 6)
    if c == cap:
        fixes[(meth, uri, int(occ))] = (ts, true, why)
seen, used, errors, rows = {}, set(), [], []
for r in reqs:
    key = (r["method"], r["uri"])
    seen[key] = seen.get(key, 0) + 1
    fkey = key + (seen[key],)
    status, pre = r["tshark"], []
    if r.get("tunnel"):
        pre.append("# tshark: inside the CONNECT tunnel of TCP stream %d (frame %d): row from the "
                   "re-dissection described above" % (r["stream"], r["frame"]))
    if fkey in fixes:
        ts, true, why = fixes[fkey]
        used.add(fkey)
        if ts != r["tshark"]:
            errors.append("FIX for %s %s #%d expects tshark status %s, tshark now says %s"
                          % (fkey + (ts, r["tshark"])))
        pre.append("# tshark: %s (frame %d: tshark says %s, true status %s)"
                   % (why, r["frame"], r["tshark"], true))
        status = true
    elif r["why"]:
        errors.append("unverified suspicious row: frame %d %s %s (tshark %s, in-order %s): %s"
                      % (r["frame"], r["method"], r["uri"], r["tshark"], r["positional"],
                         "; ".join(r["why"])))
    rows += pre + ["\t".join((r["method"], r["uri"], status))]
for k in fixes:
    if k not in used:
        errors.append("FIX for %s %s #%d matches no request" % k)
if errors:
    if os.path.exists(out):
        os.unlink(out)
    print("%s: NOT written:\n  %s" % (cap, "\n  ".join(errors)), file=sys.stderr)
    sys.exit(1)

notes = [n.split("|", 1)[1] for n in notes_text.splitlines() if n.startswith(cap + "|")]
head = ["# method\turi\tstatus",
        "# %s: HTTP/1.x requests as seen by %s" % (cap, tshark_version()),
        "# generated by captures/tshark-expect.sh (tshark %s %s)" % (" ".join(PREFS[1::2]),
                                                                     " ".join(DECODE[1::2])),
        "# one row per request, in order of the frame completing it; status = final response"]
head += ["# note: " + n for n in notes]
with open(out, "w") as f:
    f.write("\n".join(head + comments + rows) + "\n")
print("%s: %d requests -> %s" % (cap, len(reqs), out), file=sys.stderr)
PYEOF
done
exit $fail
