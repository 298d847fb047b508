#!/usr/bin/env python3
"""Writes expect/websocket-deflate.pcap.ws.tsv: tshark's view of every WebSocket frame
in websocket-deflate.pcap, checked against an independent decoding and against the
messages ws_deflate_client.py sends.

Usage: ws_deflate_expect.py [CAPTURE [OUT]]
  (defaults: captures/websocket-deflate.pcap, captures/expect/websocket-deflate.pcap.ws.tsv)

1. tshark (two-pass, -d tcp.port==8766,http, PDML): per WebSocket frame the TCP
   stream, direction, opcode, FIN, payload length on the wire (7-bit length or the
   16/64-bit extended length) and the text tshark shows after unmasking and
   permessage-deflate decompression (websocket.payload.text).
2. Independent decoding: the raw bytes of each TCP stream (tshark -z follow,tcp,raw),
   the opening handshake skipped, frames parsed, unmasked and, where RSV1 is set,
   decompressed here with Python's zlib (RFC 7692: append 00 00 ff ff to the
   message's payload; one inflater per direction kept across messages unless the
   response to the handshake says <direction>_no_context_takeover).
3. Every frame must agree (opcode, FIN, length); every text message's text must agree
   except where tshark reassembled a fragmented compressed message and did not
   decompress it (tshark 4.0 shows the compressed bytes as text): there the
   independently decompressed text is used and a '# tshark:' comment says so.
4. The client's text and binary messages must be exactly those of
   ws_deflate_client.CONNECTIONS, in order.
Fails (writing nothing) on any disagreement.
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

REC_DIR = os.path.dirname(os.path.abspath(__file__))
CAP_DIR = os.path.dirname(REC_DIR)
PORT = 8766
OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def tshark(*args):
    return subprocess.run(["tshark", *args], check=True, capture_output=True).stdout


def tshark_frames(cap):
    """[(stream, direction, opcode, fin, length, text or None, frame number, fragments)]"""
    pdml = tshark("-r", cap, "-2", "-o", "tcp.desegment_tcp_streams:TRUE",
                  "-d", "tcp.port==%d,http" % PORT, "-Y", "websocket", "-T", "pdml")
    out = []
    for packet in ET.fromstring(pdml).iter("packet"):
        fields = {}
        for f in packet.iter("field"):
            fields.setdefault(f.get("name"), []).append(f)
        stream = int(fields["tcp.stream"][0].get("show"))
        direction = "server" if int(fields["tcp.srcport"][0].get("show")) == PORT else "client"
        num = int(fields["frame.number"][0].get("show"))
        for proto in packet.iter("proto"):
            if proto.get("name") != "websocket":
                continue
            pf = {}
            for f in proto.iter("field"):
                pf.setdefault(f.get("name"), f.get("show"))
            length = int(pf.get("websocket.payload_length_ext_64")
                         or pf.get("websocket.payload_length_ext_16")
                         or pf["websocket.payload_length"])
            # the reassembly tree (websocket.fragments) sits beside the websocket proto
            frags = int(pf["websocket.fin"]) and fields.get("websocket.fragment.count")
            out.append((stream, direction, int(pf["websocket.opcode"]),
                        int(pf["websocket.fin"]), length, pf.get("websocket.payload.text"),
                        num, int(frags[0].get("show")) if frags else 0))
    return out


def streams(cap):
    ids = tshark("-r", cap, "-T", "fields", "-e", "tcp.stream", "-Y", "tcp.len > 0")
    return sorted({int(x) for x in ids.split()})


def follow_raw(cap, stream):
    """(client bytes, server bytes) of one TCP stream."""
    text = tshark("-r", cap, "-q", "-z", "follow,tcp,raw,%d" % stream).decode()
    client, server = bytearray(), bytearray()
    for line in text.split("\n"):
        if not re.fullmatch(r"\t?[0-9a-f]+", line):
            continue  # header lines ("Follow:", "Node 0:", "====")
        (server if line.startswith("\t") else client).extend(bytes.fromhex(line.strip()))
    return bytes(client), bytes(server)


def split_handshake(data):
    end = data.index(b"\r\n\r\n") + 4
    head = data[:end].decode("latin-1")
    return head, data[end:]


def header(head, name):
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def parse_frames(data):
    frames, pos = [], 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        pos += 2
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(data[pos:pos + 2], "big"); pos += 2
        elif length == 127:
            length = int.from_bytes(data[pos:pos + 8], "big"); pos += 8
        key = None
        if b1 & 0x80:
            key = data[pos:pos + 4]; pos += 4
        payload = data[pos:pos + length]
        pos += length
        if len(payload) != length:
            raise SystemExit("truncated WebSocket frame")
        if key:
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        frames.append({"fin": b0 >> 7, "rsv1": (b0 >> 6) & 1, "opcode": b0 & 0x0F,
                       "length": length, "payload": payload})
    return frames


def decode_direction(frames, no_takeover):
    """Adds 'message' (bytes, on the FIN frame of a data message) and 'kind'."""
    inflater = None
    parts, compressed, kind = [], False, None
    for fr in frames:
        if fr["opcode"] >= 8:
            continue
        if fr["opcode"] != 0:
            parts, compressed, kind = [], bool(fr["rsv1"]), OPCODES[fr["opcode"]]
        parts.append(fr["payload"])
        if not fr["fin"]:
            continue
        data = b"".join(parts)
        if compressed:
            if inflater is None or no_takeover:
                inflater = zlib.decompressobj(-15)
            data = inflater.decompress(data + b"\x00\x00\xff\xff")
        fr["message"], fr["kind"], fr["parts"] = data, kind, len(parts)


def independent(cap):
    """{stream: (request head, response head, [(direction, frame dict)])}"""
    result = {}
    for s in streams(cap):
        c, srv = follow_raw(cap, s)
        req, c = split_handshake(c)
        resp, srv = split_handshake(srv)
        ext = header(resp, "Sec-WebSocket-Extensions") or ""
        params = [p.strip().split("=")[0] for p in ext.split(";")]
        cf, sf = parse_frames(c), parse_frames(srv)
        decode_direction(cf, "client_no_context_takeover" in params)
        decode_direction(sf, "server_no_context_takeover" in params)
        result[s] = (req, resp, cf, sf)
    return result


def esc(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def main():
    cap = sys.argv[1] if len(sys.argv) > 1 else os.path.join(CAP_DIR, "websocket-deflate.pcap")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        CAP_DIR, "expect", os.path.basename(cap) + ".ws.tsv")
    sys.path.insert(0, REC_DIR)
    import ws_deflate_client as client

    ts = tshark_frames(cap)
    ind = independent(cap)
    version = tshark("--version").decode().split("\n")[0].rstrip(".")
    lines = ["# connection\tdirection\topcode\tfin\tpayload_length\ttext",
             "# %s; tshark -r CAPTURE -2 -d tcp.port==%d,http -T pdml: websocket.opcode, "
             "websocket.fin, websocket.payload_length (or _ext_16/_ext_64), "
             "websocket.payload.text" % (version, PORT),
             "# connection: tcp.stream; payload_length: bytes on the wire (compressed, "
             "before unmasking); text: the whole message, decompressed, on its FIN frame, "
             "only for text messages ('-' for other frames; \\t \\n \\\\ escaped)",
             "# every close frame carries code 1000; every frame checked against an independent parse of the TCP payload "
             "(record/ws_deflate_expect.py, Python zlib) and against "
             "record/ws_deflate_client.py"]
    problems = []
    rows = []
    per_stream = {}
    for fr in ts:
        per_stream.setdefault((fr[0], fr[1]), []).append(fr)
    for s, (req, resp, cf, sf) in sorted(ind.items()):
        uri = req.split("\r\n")[0].split(" ")[1]
        lines.append("# connection %d: GET %s -> %s; offered: %s; negotiated "
                     "Sec-WebSocket-Extensions: %s" % (
                         s, uri, resp.split("\r\n")[0].split(" ", 1)[1],
                         header(req, "Sec-WebSocket-Extensions") or "(none)",
                         header(resp, "Sec-WebSocket-Extensions") or "(none)"))
        # merge the two directions in capture order using tshark's frame numbers
        seq = []
        for direction, frames in (("client", cf), ("server", sf)):
            tsf = per_stream.get((s, direction), [])
            if len(tsf) != len(frames):
                problems.append("stream %d %s: tshark %d frames, parse %d" % (
                    s, direction, len(tsf), len(frames)))
                continue
            for t, fr in zip(tsf, frames):
                seq.append((t[6], direction, t, fr))
        seq.sort(key=lambda x: x[0])
        sent = []
        for num, direction, t, fr in seq:
            if (t[2], t[3], t[4]) != (fr["opcode"], fr["fin"], fr["length"]):
                problems.append("frame %d: tshark %s, parse %s" % (
                    num, t[2:5], (fr["opcode"], fr["fin"], fr["length"])))
            if fr["opcode"] == 8 and fr["payload"][:2] != b"\x03\xe8":
                problems.append("frame %d: close code is not 1000" % num)
            text = "-"
            if "message" in fr and fr["kind"] == "text":
                text = fr["message"].decode("utf-8")
                if t[5] != text:
                    if t[7] > 1 and fr["parts"] > 1:
                        lines.append("# tshark: connection %d frame %d: tshark 4.0 reassembles "
                                     "the %d fragments but does not decompress the "
                                     "reassembled message (it shows the compressed bytes as "
                                     "text); the text is this script's decompression (%d "
                                     "bytes)" % (s, num, t[7], len(text)))
                    else:
                        problems.append("frame %d: text differs: tshark %r, parse %r" % (
                            num, t[5][:100], text[:100]))
            if direction == "client" and "message" in fr:
                sent.append((fr["kind"], fr["message"], fr["parts"]))
            if direction == "client" and fr["opcode"] == 9:
                sent.append(("ping", fr["payload"], 1))
            rows.append("%d\t%s\t%s\t%d\t%d\t%s" % (s, direction, OPCODES[fr["opcode"]],
                                                     fr["fin"], fr["length"], esc(text)))
        expected = []
        for kind, payload in client.CONNECTIONS[s][3]:
            if kind == "fragmented":
                expected.append(("text", payload.encode(),
                                 -(-len(payload) // client.BULK_FRAGMENT) + 1))
            elif kind == "text":
                expected.append(("text", payload.encode(), 1))
            else:
                expected.append((kind, payload, 1))
        if sent != expected:
            problems.append("stream %d: client messages differ from ws_deflate_client.py" % s)
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        sys.exit(1)
    with open(out, "w") as f:
        f.write("\n".join(lines + rows) + "\n")
    print("wrote %s: %d frames" % (out, len(rows)))


if __name__ == "__main__":
    main()
