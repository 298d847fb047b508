#!/bin/bash
# tshark-expect-h2.sh [CAPTURE...]     (default: h2c-api.pcap grpc-shop.pcap)
#
# tshark's view of the HTTP/2 request streams of cleartext HTTP/2 (h2c)
# captures, for checking an HTTP/2 + HPACK parser. Writes two files per
# capture:
#
#   expect/<capture>.h2.tsv
#     line 1: "# connection<TAB>stream<TAB>method<TAB>path<TAB>authority<TAB>status"
#     "#" lines: comments (tshark version and options, notes).
#     rows:   tcp.stream index of the connection, HTTP/2 stream id, :method,
#             :path, :authority of the request HEADERS, and the :status of the
#             final response HEADERS on that stream (the first one with a
#             status >= 200), or "-" if the stream got none (for example a
#             stream reset with RST_STREAM before the server answered).
#   expect/<capture>.h2-headers.tsv
#     line 1: "# connection<TAB>stream<TAB>request header names"
#     rows:   the names of all header fields of the request HEADERS block as
#             tshark's HPACK decoder (static + dynamic table) decodes them,
#             pseudo-headers included, lower case, sorted, comma-joined. A
#             name sent several times (e.g. cookie crumbs) is listed as often
#             as it was sent.
#   Both sorted by connection, then stream id.
#
# A request stream is a stream whose first HEADERS frame carries :method.
# Trailer HEADERS (no pseudo-header) do not change the status.
#
# HTTP/1.1 "Upgrade: h2c": the upgrade request (RFC 7540 3.2) is sent as
# HTTP/1.1 and is implicitly HTTP/2 stream 1, whose response HEADERS come
# after the "101 Switching Protocols". tshark shows that request only as
# HTTP/1.1 (no HTTP/2 request HEADERS exist for stream 1), so the row for
# stream 1 of such a connection takes method and path (request-target) from
# the HTTP/1.1 request line, authority from its Host header, and the status
# from the HTTP/2 response HEADERS on stream 1; its header names are the
# HTTP/1.1 request's field names, lower-cased (no pseudo-headers: none were
# sent). The file says so in a "# note:" line.
#
# tshark runs two-pass (-2), with each capture's server port decoded as set
# in decode_for below:
#   h2c-api.pcap: port 8200 as "http" (not "http2"): the HTTP/1.1 dissector
#     recognises both the HTTP/2 connection preface and the h2c upgrade and
#     hands the rest of the connection to the HTTP/2 dissector.
#     ("-d tcp.port==N,http2" would parse the HTTP/1.1 upgrade request as
#     HTTP/2 and lose that whole connection.)
#   grpc-shop.pcap: port 50051 (gRPC, prior knowledge only, no upgrade) as
#     "http2"; tshark hands "content-type: application/grpc" bodies on to its
#     gRPC (and protobuf) dissectors, which does not change these files. A
#     gRPC Trailers-Only response (one HEADERS frame with :status 200,
#     grpc-status and END_STREAM) is the final response HEADERS; the trailer
#     HEADERS after a gRPC response body carry no :status and are ignored.
#
# The script fails, writing nothing for the capture, when a request stream
# has no final status and was not reset, when a response arrives on a
# stream without a request, or when an h2c upgrade has no stream-1 response.
set -euo pipefail
cd "$(dirname "$0")"

DEFAULT=(h2c-api.pcap grpc-shop.pcap)

# decode_for CAPTURE: the "Decode As" rule for the capture's server port
decode_for() {
    case "$(basename "$1")" in
        grpc-shop.pcap) echo 'tcp.port==50051,http2' ;;
        *) echo 'tcp.port==8200,http' ;;
    esac
}

if [ $# -eq 0 ]; then set -- "${DEFAULT[@]}"; fi
mkdir -p expect

VERSION=$(tshark --version 2>/dev/null | head -1)
PDML=$(mktemp)
trap 'rm -f "$PDML"' EXIT

for cap in "$@"; do
    OPTS=(-2 -o tcp.desegment_tcp_streams:TRUE -o http.desegment_headers:TRUE
          -o http.desegment_body:TRUE -d "$(decode_for "$cap")"
          -T pdml -Y 'http2 || http')
    tshark -r "$cap" "${OPTS[@]}" >"$PDML"
    python3 - "$cap" "$VERSION" "$PDML" "${OPTS[@]}" <<'EOF'
import shlex
import sys
import xml.etree.ElementTree as ET

cap, version, pdml = sys.argv[1:4]
cmd = " ".join(shlex.quote(a) for a in ["tshark", "-r", cap] + sys.argv[4:])


def fields(elem, name):
    return [f for f in elem.iter("field") if f.get("name") == name]


def first(elem, name, default=None):
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f.get("show")
    return default


streams = {}    # (conn, sid) -> dict
upgrades = {}   # conn -> {"req": (method, uri, host, names), "101": bool}
hpack = {"dyn": 0, "never": 0, "fields": 0}

for _, pkt in ET.iterparse(pdml):
    if pkt.tag != "packet":
        continue
    conn = int(first(pkt, "tcp.stream"))
    frame = int(first(pkt, "frame.number"))
    for proto in pkt.iter("proto"):
        if proto.get("name") != "http":
            continue
        if first(proto, "http.request") == "1" and (first(proto, "http.upgrade") or "").lower() == "h2c":
            names = sorted(f.get("show").split(":", 1)[0].strip().lower()
                           for f in fields(proto, "http.request.line"))
            upgrades.setdefault(conn, {})["req"] = (
                first(proto, "http.request.method"), first(proto, "http.request.uri"),
                first(proto, "http.host") or "-", names, frame)
        if first(proto, "http.response.code") == "101" and (first(proto, "http.upgrade") or "").lower() == "h2c":
            upgrades.setdefault(conn, {})["101"] = frame
    for st in fields(pkt, "http2.stream"):
        ftype = first(st, "http2.type")
        if ftype is None:
            continue  # connection preface ("Magic")
        sid = int(first(st, "http2.streamid"))
        s = streams.setdefault((conn, sid), {"req": None, "status": None, "rst": None,
                                             "first_frame": frame})
        if ftype == "3":
            s["rst"] = (frame, first(st, "http2.rst_stream.error"))
            continue
        if ftype != "1":
            continue
        hdrs = [(h.find("field[@name='http2.header.name']").get("show"),
                 h.find("field[@name='http2.header.value']").get("show"),
                 first(h, "http2.header.repr", ""), int(first(h, "http2.header.index", "0")))
                for h in fields(st, "http2.header")]
        names = [n for n, _, _, _ in hdrs]
        if ":method" in names and s["req"] is None:
            get = dict((n, v) for n, v, _, _ in hdrs)
            s["req"] = (get[":method"], get.get(":path", "-"), get.get(":authority", "-"),
                        sorted(n.lower() for n in names), frame)
            for _, _, repr_, idx in hdrs:
                hpack["fields"] += 1
                if repr_.startswith("Indexed Header Field") and idx > 61:
                    hpack["dyn"] += 1
                if "never indexed" in repr_.lower():
                    hpack["never"] += 1
        elif ":status" in names:
            code = int(dict((n, v) for n, v, _, _ in hdrs)[":status"])
            if code >= 200 and s["status"] is None:
                s["status"] = (code, frame)
    pkt.clear()

rows, notes, problems = [], [], []
for conn, up in sorted(upgrades.items()):
    if "req" not in up or "101" not in up:
        problems.append("connection %d: h2c upgrade request without 101 (or 101 without request)" % conn)
        continue
    s = streams.get((conn, 1))
    if s is None or s["status"] is None or s["req"] is not None:
        problems.append("connection %d: no HTTP/2 response on stream 1 after the h2c upgrade" % conn)
        continue
    method, uri, host, names, frame = up["req"]
    s["req"] = (method, uri, host, names, frame)
    notes.append("# note: connection %d stream 1 is an HTTP/1.1 \"Upgrade: h2c\" request (frame %d, "
                 "101 in frame %d): method and path from the HTTP/1.1 request line, authority from "
                 "its Host header, status from the HTTP/2 HEADERS on stream 1 (frame %d); its header "
                 "names are the HTTP/1.1 field names, lower-cased"
                 % (conn, frame, up["101"], s["status"][1]))

for (conn, sid), s in sorted(streams.items()):
    if sid == 0:
        continue
    if s["req"] is None:
        if s["status"] is not None:
            problems.append("connection %d stream %d: response without request" % (conn, sid))
        continue
    method, path, authority, names, frame = s["req"]
    if s["status"] is None:
        if s["rst"] is None:
            problems.append("connection %d stream %d: no final status and no RST_STREAM" % (conn, sid))
            continue
        notes.append("# note: connection %d stream %d (%s %s, frame %d) has no response: RST_STREAM "
                     "error code %s in frame %d" % (conn, sid, method, path, frame, s["rst"][1],
                                                    s["rst"][0]))
    status = str(s["status"][0]) if s["status"] else "-"
    rows.append((conn, sid, method, path, authority, status, names))

if problems:
    print("tshark-expect-h2.sh: %s: %s" % (cap, "; ".join(problems)), file=sys.stderr)
    sys.exit(1)

conns = sorted({r[0] for r in rows})
head = ["# %s: HTTP/2 request streams as seen by %s" % (cap, version),
        "# generated by captures/tshark-expect-h2.sh: %s" % cmd,
        "# %d request streams on %d connections; one row per request stream, sorted by "
        "connection (tcp.stream) then stream id; status = :status of the final response "
        "HEADERS, '-' if none" % (len(rows), len(conns))]
with open("expect/%s.h2.tsv" % cap, "w") as f:
    f.write("# connection\tstream\tmethod\tpath\tauthority\tstatus\n")
    f.write("\n".join(head + notes) + "\n")
    for conn, sid, method, path, authority, status, _ in rows:
        f.write("%d\t%d\t%s\t%s\t%s\t%s\n" % (conn, sid, method, path, authority, status))
with open("expect/%s.h2-headers.tsv" % cap, "w") as f:
    f.write("# connection\tstream\trequest header names\n")
    f.write("\n".join(head[:2]) + "\n")
    f.write("# names of the request HEADERS fields after HPACK decoding, lower case, sorted, "
            "comma-joined, repeats kept; of the %d HTTP/2 request header fields, %d are indexed "
            "references into the HPACK dynamic table (index > 61) and %d are never-indexed "
            "literals\n" % (hpack["fields"], hpack["dyn"], hpack["never"]))
    for n in notes:
        if "Upgrade" in n:
            f.write(n + "\n")
    for conn, sid, _, _, _, _, names in rows:
        f.write("%d\t%d\t%s\n" % (conn, sid, ",".join(names)))
print("%s: %d HTTP/2 request streams on %d connections" % (cap, len(rows), len(conns)))
EOF
done
