#!/bin/bash
# tshark-expect-grpc.sh [CAPTURE...]     (default: grpc-shop.pcap)
#
# tshark's view of the gRPC calls in cleartext HTTP/2 (h2c) captures, for
# checking a gRPC framing / protobuf decoder. Writes two files per capture:
#
#   expect/<capture>.grpc.tsv
#     line 1: "# connection<TAB>stream<TAB>path<TAB>request messages<TAB>response messages<TAB>grpc-status<TAB>grpc-message<TAB>grpc-encoding"
#     "#" lines: comments (tshark version and command, notes).
#     rows:   one per gRPC call (HTTP/2 request stream with content-type
#             application/grpc*), sorted by connection then stream id:
#             tcp.stream index, HTTP/2 stream id, :path, the number of gRPC
#             messages (5-byte length-prefixed) the client sent and the
#             server sent on the stream as tshark's gRPC dissector finds them
#             (grpc.message_length fields), grpc-status and grpc-message from
#             the response HEADERS that carry grpc-status (trailers, or the
#             single HEADERS of a Trailers-Only response), and grpc-encoding
#             as "<request>/<response>" (the grpc-encoding field of the
#             request HEADERS and of the response HEADERS). "-" stands for a
#             field that is absent, or (grpc-message) present but empty, as
#             in the trailers of a successful call.
#   expect/<capture>.protobuf.txt
#     for each call, its first request and first response message: a "##"
#     line (connection, stream, path, direction, sizes, compressed flag, the
#     message bytes in hex, decompressed when the compressed flag is set),
#     then what "protoc --decode_raw" prints for those bytes: the reference
#     for a schema-less protobuf decoder.
#
# Two independent readings must agree or the script fails and writes nothing
# for the capture:
#   * tshark: two-pass PDML (-2, TCP desegmentation, the server port decoded
#     as http2) gives per stream the request :path, the header fields and the
#     gRPC messages (its gRPC dissector reassembles a message that spans DATA
#     frames and gunzips compressed ones; each "grpc" proto element follows
#     the "http2" element of the DATA frame that completed it).
#   * this script's own reading of the bytes: the TCP payloads of each
#     direction (tshark -T fields -e tcp.payload, in capture order; the
#     sequence numbers must be contiguous, which record/check.sh also
#     guarantees), minus the 24-byte client connection preface, cut into
#     HTTP/2 frames (9-byte frame header; PADDED DATA frames stripped of
#     their padding); the DATA payloads of each stream and direction are
#     concatenated and cut into gRPC messages (1-byte compressed flag,
#     4-byte big-endian length, message); compressed messages are gunzipped
#     with Python's gzip module (only grpc-encoding gzip is accepted).
#   The message counts, the compressed flags, the wire lengths and the
#   (decompressed) message bytes must be equal in both readings. The bytes
#   that go to protoc are those of the second reading.
set -euo pipefail
cd "$(dirname "$0")"

DEFAULT=(grpc-shop.pcap)

# decode_for CAPTURE: the "Decode As" rule for the capture's gRPC server port
decode_for() {
    case "$(basename "$1")" in
        *) echo 'tcp.port==50051,http2' ;;
    esac
}

if [ $# -eq 0 ]; then set -- "${DEFAULT[@]}"; fi
command -v protoc >/dev/null \
    || { echo "protoc is required (apt-get install protobuf-compiler)" >&2; exit 1; }
mkdir -p expect

VERSION=$(tshark --version 2>/dev/null | head -1)
PROTOC_VERSION=$(protoc --version)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for cap in "$@"; do
    OPTS=(-2 -o tcp.desegment_tcp_streams:TRUE -d "$(decode_for "$cap")" -T pdml -Y http2)
    tshark -r "$cap" "${OPTS[@]}" >"$WORK/pdml" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
    tshark -r "$cap" -Y 'tcp.len > 0' -T fields -e tcp.stream -e ip.src -e tcp.srcport \
        -e ip.dst -e tcp.dstport -e tcp.seq_raw -e tcp.len -e tcp.payload \
        >"$WORK/payloads" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
    python3 - "$cap" "$VERSION" "$PROTOC_VERSION" "$WORK" "${OPTS[@]}" <<'EOF'
import gzip
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

cap, version, protoc_version, work = sys.argv[1:5]
cmd = " ".join(shlex.quote(a) for a in ["tshark", "-r", cap] + sys.argv[5:])
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def first(elem, name, default=None):
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f.get("show")
    return default


def field_value(elem, name):
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f.get("value")
    return None


# ---- reading 1: tshark's HTTP/2 + gRPC dissectors (PDML) ----
calls = {}  # (conn, sid) -> dict


def call(conn, sid):
    return calls.setdefault((conn, sid), {
        "path": None, "ctype": None, "req_enc": None, "resp_enc": None,
        "status": None, "message": None, "msgs": {"req": [], "resp": []}, "rst": None})


server_port = {}  # conn -> server port (the side that receives the :method HEADERS)
for _, pkt in ET.iterparse("%s/pdml" % work):
    if pkt.tag != "packet":
        continue
    conn = int(first(pkt, "tcp.stream"))
    frame = int(first(pkt, "frame.number"))
    sport, dport = int(first(pkt, "tcp.srcport")), int(first(pkt, "tcp.dstport"))
    last_data_sid = None
    for proto in pkt.findall("proto"):
        if proto.get("name") == "http2":
            for st in proto.iter("field"):
                if st.get("name") != "http2.stream":
                    continue
                ftype = first(st, "http2.type")
                if ftype is None:
                    continue
                sid = int(first(st, "http2.streamid"))
                if ftype == "0":
                    last_data_sid = sid
                elif ftype == "3":
                    call(conn, sid)["rst"] = (frame, first(st, "http2.rst_stream.error"))
                elif ftype == "1":
                    hdrs = [(h.find("field[@name='http2.header.name']").get("show"),
                             h.find("field[@name='http2.header.value']").get("show"))
                            for h in st.iter("field") if h.get("name") == "http2.header"]
                    get = dict(hdrs)
                    c = call(conn, sid)
                    if ":method" in get:
                        server_port[conn] = dport
                        c["path"], c["ctype"] = get.get(":path"), get.get("content-type")
                        c["req_enc"] = get.get("grpc-encoding")
                    else:
                        if "grpc-encoding" in get:
                            c["resp_enc"] = get["grpc-encoding"]
                        if "grpc-status" in get:
                            c["status"] = get["grpc-status"]
                            c["message"] = get.get("grpc-message")
                            c["trailers_only"] = (":status" in get and
                                                  first(st, "http2.flags.end_stream") == "1")
        elif proto.get("name") == "grpc":
            if last_data_sid is None:
                raise SystemExit("frame %d: gRPC message without a DATA frame before it" % frame)
            d = "resp" if sport == server_port.get(conn) else "req"
            call(conn, last_data_sid)["msgs"][d].append({
                "frame": frame,
                "flag": int(first(proto, "grpc.compressed_flag")),
                "length": int(first(proto, "grpc.message_length")),
                "data": bytes.fromhex(field_value(proto, "grpc.message_data") or "")})
    pkt.clear()

# ---- reading 2: HTTP/2 frames and gRPC messages from the raw TCP payloads ----
flows = {}  # (conn, "req"|"resp") -> bytearray
nextseq = {}
for line in open("%s/payloads" % work):
    conn, src, sport, dst, dport, seq, length, payload = line.rstrip("\n").split("\t")
    conn, sport, seq, length = int(conn), int(sport), int(seq), int(length)
    d = "resp" if sport == server_port.get(conn) else "req"
    key = (conn, d)
    if key in nextseq and nextseq[key] != seq:
        raise SystemExit("connection %d %s: sequence gap or reordering at seq %d" % (conn, d, seq))
    nextseq[key] = (seq + length) & 0xFFFFFFFF
    flows.setdefault(key, bytearray()).extend(bytes.fromhex(payload))

raw = {}  # (conn, sid, dir) -> bytes of the DATA payloads, concatenated
for (conn, d), buf in flows.items():
    pos = 0
    if d == "req":
        if bytes(buf[:24]) != PREFACE:
            raise SystemExit("connection %d: no client connection preface" % conn)
        pos = 24
    while pos < len(buf):
        if pos + 9 > len(buf):
            raise SystemExit("connection %d %s: truncated frame header" % (conn, d))
        flen = int.from_bytes(buf[pos:pos + 3], "big")
        ftype, flags = buf[pos + 3], buf[pos + 4]
        sid = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
        body = bytes(buf[pos + 9:pos + 9 + flen])
        if len(body) != flen:
            raise SystemExit("connection %d %s: truncated frame" % (conn, d))
        pos += 9 + flen
        if ftype == 0:  # DATA
            if flags & 0x08:  # PADDED
                body = body[1:len(body) - body[0]]
            raw.setdefault((conn, sid, d), bytearray()).extend(body)

mine = {}  # (conn, sid, dir) -> [(flag, wire length, message bytes)]
for key, data in raw.items():
    msgs, pos = [], 0
    while pos < len(data):
        flag, length = data[pos], int.from_bytes(data[pos + 1:pos + 5], "big")
        body = bytes(data[pos + 5:pos + 5 + length])
        if len(body) != length:
            raise SystemExit("connection %d stream %d %s: gRPC message cut short" % key)
        msgs.append((flag, length, body))
        pos += 5 + length
    mine[key] = msgs

# ---- compare the two readings ----
problems, rows, decoded = [], [], []
for (conn, sid), c in sorted(calls.items()):
    if sid == 0 or c["path"] is None:
        continue
    if not (c["ctype"] or "").startswith("application/grpc"):
        continue
    for d in ("req", "resp"):
        enc = c["req_enc"] if d == "req" else c["resp_enc"]
        theirs, ours = c["msgs"][d], mine.get((conn, sid, d), [])
        if len(theirs) != len(ours):
            problems.append("connection %d stream %d %s: tshark finds %d gRPC messages, the bytes %d"
                            % (conn, sid, d, len(theirs), len(ours)))
            continue
        for i, (t, (flag, length, body)) in enumerate(zip(theirs, ours)):
            if flag:
                if enc != "gzip":
                    problems.append("connection %d stream %d %s message %d: compressed flag set, "
                                    "grpc-encoding %r" % (conn, sid, d, i + 1, enc))
                    continue
                body = gzip.decompress(body)
            if (t["flag"], t["length"], t["data"]) != (flag, length, body):
                problems.append("connection %d stream %d %s message %d: tshark and the bytes differ "
                                "(flag %d/%d, length %d/%d, data %s)"
                                % (conn, sid, d, i + 1, t["flag"], flag, t["length"], length,
                                   "equal" if t["data"] == body else "differs"))
            if i == 0:
                decoded.append((conn, sid, c["path"], d, len(ours), flag, length, body,
                                t["frame"]))
    if c["status"] is None and c["rst"] is None:
        problems.append("connection %d stream %d: no grpc-status and no RST_STREAM" % (conn, sid))
    rows.append((conn, sid, c))

if problems:
    print("tshark-expect-grpc.sh: %s: %s" % (cap, "; ".join(problems)), file=sys.stderr)
    sys.exit(1)


def dash(v):
    return v if v else "-"


conns = sorted({r[0] for r in rows})
nreq = sum(len(c["msgs"]["req"]) for _, _, c in rows)
nresp = sum(len(c["msgs"]["resp"]) for _, _, c in rows)
notes = []
for conn, sid, c in rows:
    if c["status"] is None:
        notes.append("# note: connection %d stream %d (%s) has no grpc-status: the stream was reset "
                     "(RST_STREAM error code %s in frame %d) before the server answered"
                     % (conn, sid, c["path"], c["rst"][1], c["rst"][0]))
    elif c.get("trailers_only"):
        notes.append("# note: connection %d stream %d (%s): Trailers-Only response (one HEADERS "
                     "frame with :status, grpc-status %s and END_STREAM; no DATA)"
                     % (conn, sid, c["path"], c["status"]))
with open("expect/%s.grpc.tsv" % cap, "w") as f:
    f.write("# connection\tstream\tpath\trequest messages\tresponse messages\tgrpc-status\t"
            "grpc-message\tgrpc-encoding\n")
    f.write("# %s: gRPC calls as seen by %s\n" % (cap, version))
    f.write("# generated by captures/tshark-expect-grpc.sh: %s\n" % cmd)
    f.write("# %d gRPC calls on %d connection%s, %d request and %d response messages; one row per "
            "call (HTTP/2 request stream with content-type application/grpc), sorted by connection "
            "(tcp.stream) then stream id; messages = gRPC length-prefixed messages found by "
            "tshark's gRPC dissector in each direction (checked against the script's own reading "
            "of the HTTP/2 DATA frames); grpc-status/grpc-message from the response HEADERS that "
            "carry grpc-status, '-' if absent (grpc-message also '-' if empty); grpc-encoding = "
            "<request>/<response> grpc-encoding header, '-' if absent\n"
            % (len(rows), len(conns), "" if len(conns) == 1 else "s", nreq, nresp))
    f.write("".join(n + "\n" for n in notes))
    for conn, sid, c in rows:
        f.write("%d\t%d\t%s\t%d\t%d\t%s\t%s\t%s/%s\n" % (
            conn, sid, c["path"], len(c["msgs"]["req"]), len(c["msgs"]["resp"]),
            dash(c["status"]), dash(c["message"]), dash(c["req_enc"]), dash(c["resp_enc"])))

with open("expect/%s.protobuf.txt" % cap, "w") as f:
    f.write("# %s: the first request and the first response message of each gRPC call, as "
            "\"protoc --decode_raw\" (%s) prints them\n" % (cap, protoc_version))
    f.write("# generated by captures/tshark-expect-grpc.sh (tshark: %s)\n" % version)
    f.write("# How the bytes were extracted: the TCP payloads of each direction of the connection "
            "(tshark -T fields -e tcp.payload, in order, sequence numbers contiguous), minus the "
            "24-byte client preface, cut into HTTP/2 frames; the DATA frame payloads of the "
            "stream and direction concatenated and cut into gRPC messages (1-byte compressed "
            "flag, 4-byte big-endian length); a message with the compressed flag set is gunzipped "
            "(grpc-encoding: gzip). These bytes equal tshark's grpc.message_data (which tshark "
            "decompresses too), in the PDML of: %s\n" % cmd)
    f.write("# Each block: a '## ' line (connection, stream, path, direction, number of messages "
            "in that direction, compressed flag, length on the wire (the gRPC length prefix), "
            "length decoded, frame where tshark completes the message, the message bytes in hex), "
            "then protoc's output for those bytes; a blank line before each block. A call without a response "
            "message has no response block. protoc prints fixed64 fields (here: proto double) as "
            "hex, e.g. 0x4033fd70a3d70a3d for 19.99.\n")
    for conn, sid, path, d, count, flag, length, body, frame in decoded:
        out = subprocess.run(["protoc", "--decode_raw"], input=body, capture_output=True,
                             check=True).stdout.decode()
        f.write("\n## connection %d stream %d %s %s message 1 of %d: compressed flag %d, "
                "%d bytes on the wire, %d bytes decoded, frame %d\n## hex %s\n%s" % (
                    conn, sid, path, "request" if d == "req" else "response", count, flag,
                    length, len(body), frame, body.hex() or "(empty)", out))
print("%s: %d gRPC calls on %d connection%s, %d request and %d response messages, %d messages "
      "decoded" % (cap, len(rows), len(conns), "" if len(conns) == 1 else "s", nreq, nresp,
                   len(decoded)))
EOF
done
