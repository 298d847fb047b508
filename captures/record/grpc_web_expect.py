#!/usr/bin/env python3
"""Writes expect/grpc-web.pcap.grpcweb.tsv: one row per HTTP request in grpc-web.pcap
(gRPC-Web over HTTP/1.1), from tshark's HTTP view and this script's own reading of
the gRPC-Web frames in the bodies.

Usage: grpc_web_expect.py [CAPTURE [OUT]]
  (defaults: captures/grpc-web.pcap, captures/expect/grpc-web.pcap.grpcweb.tsv)

tshark (two-pass, -d tcp.port==8500,http, PDML) gives each request's method, URI,
content-type and body, and the response tshark links to it (http.request_in): status
code, content-type, header lines and body. Bodies are http.file_data (tshark removes
the chunked transfer coding). Each body is cut into gRPC-Web frames here: 1 flag byte,
4-byte big-endian length, payload; flag bit 0x80 marks the trailer frame (payload =
"name: value\\r\\n" lines), every other frame is a message. The frames must cover the
body exactly, a trailer frame must be the last frame of a response, and a request must
have no trailer frame, else the script fails and writes nothing.

grpc-status is taken from a "grpc-status" line of the response's trailer frame, or else
from a grpc-status response header; the last column says which. "-" if neither holds
one (a note line then says what the trailer frame holds).
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

REC_DIR = os.path.dirname(os.path.abspath(__file__))
CAP_DIR = os.path.dirname(REC_DIR)
PORT = 8500


def fields(packet):
    f = {}
    for x in packet.iter("field"):
        f.setdefault(x.get("name"), []).append(x)
    return f


def show(f, name, default="-"):
    return f[name][0].get("show") if name in f else default


def body_of(f):
    v = f["http.file_data"][0].get("value") if "http.file_data" in f else None
    return bytes.fromhex(v) if v else b""


def frames(body, where):
    out, pos = [], 0
    while pos < len(body):
        if pos + 5 > len(body):
            raise SystemExit("%s: truncated gRPC-Web frame header at offset %d" % (where, pos))
        flag, length = body[pos], int.from_bytes(body[pos + 1:pos + 5], "big")
        data = body[pos + 5:pos + 5 + length]
        if len(data) != length:
            raise SystemExit("%s: gRPC-Web frame cut short at offset %d" % (where, pos))
        out.append((flag, data))
        pos += 5 + length
    return out


def main():
    cap = sys.argv[1] if len(sys.argv) > 1 else os.path.join(CAP_DIR, "grpc-web.pcap")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        CAP_DIR, "expect", os.path.basename(cap) + ".grpcweb.tsv")
    cmd = ["tshark", "-r", cap, "-2", "-d", "tcp.port==%d,http" % PORT, "-Y", "http", "-T", "pdml"]
    pdml = subprocess.run(cmd, check=True, capture_output=True).stdout
    version = subprocess.run(["tshark", "--version"], check=True,
                             capture_output=True).stdout.decode().splitlines()[0]
    requests, responses = [], {}
    for packet in ET.fromstring(pdml).iter("packet"):
        f = fields(packet)
        num = int(show(f, "frame.number"))
        if "http.request.method" in f:
            requests.append({"frame": num, "method": show(f, "http.request.method"),
                             "uri": show(f, "http.request.uri"),
                             "ctype": show(f, "http.content_type"), "body": body_of(f)})
        elif "http.response.code" in f:
            hdrs = {}
            for line in f.get("http.response.line", []):
                name, _, value = line.get("show").partition(":")
                hdrs[name.strip().lower()] = value.strip()
            responses[int(show(f, "http.request_in"))] = {
                "status": show(f, "http.response.code"), "ctype": show(f, "http.content_type"),
                "headers": hdrs, "body": body_of(f)}

    rows, notes = [], []
    for req in requests:
        where = "frame %d %s %s" % (req["frame"], req["method"], req["uri"])
        resp = responses.get(req["frame"])
        if resp is None:
            raise SystemExit("%s: no response" % where)
        if resp["ctype"] != req["ctype"]:
            raise SystemExit("%s: request content-type %s, response %s"
                             % (where, req["ctype"], resp["ctype"]))
        req_frames = frames(req["body"], where + " request")
        if any(flag & 0x80 for flag, _ in req_frames):
            raise SystemExit("%s: trailer frame in the request" % where)
        resp_frames = frames(resp["body"], where + " response")
        trailer_idx = [i for i, (flag, _) in enumerate(resp_frames) if flag & 0x80]
        if trailer_idx and trailer_idx != [len(resp_frames) - 1]:
            raise SystemExit("%s: trailer frame not (only) at the end" % where)
        status, loc = "-", "-"
        if trailer_idx:
            text = resp_frames[-1][1].decode("latin-1")
            for line in text.split("\r\n"):
                name, sep, value = line.partition(":")
                if sep and name.strip().lower() == "grpc-status":
                    status, loc = value.strip(), "trailer-frame"
            if status == "-":
                notes.append("# note: %s: the response's trailer frame (flag 0x80, %d bytes) holds "
                             "%r: no \"grpc-status\" line (sonora 0.2.3 grpcASGI writes the unary "
                             "trailers from bytes tuples with str formatting)"
                             % (where, len(resp_frames[-1][1]), text))
        if status == "-" and "grpc-status" in resp["headers"]:
            status, loc = resp["headers"]["grpc-status"], "headers"
        nmsg = sum(1 for flag, _ in resp_frames if not flag & 0x80)
        rows.append((req["method"], req["uri"], resp["status"], resp["ctype"],
                     len(req_frames), nmsg, status, loc))

    with open(out, "w") as fh:
        fh.write("# method\turi\tstatus\tcontent-type\trequest messages\tresponse messages\t"
                 "grpc-status\twhere the status was (trailer-frame|headers)\n")
        fh.write("# %s: gRPC-Web calls over HTTP/1.1 as seen by %s\n"
                 % (os.path.basename(cap), version))
        fh.write("# generated by captures/record/grpc_web_expect.py from: %s\n"
                 % " ".join(cmd[:2] + [os.path.basename(cap)] + cmd[3:]))
        fh.write("# one row per HTTP request, in capture order; messages = gRPC-Web frames without "
                 "the 0x80 flag in the (de-chunked) request / response body; the trailer frame "
                 "(flag 0x80) is not counted; grpc-status from its \"grpc-status\" line, else "
                 "from a grpc-status response header; '-' if neither\n")
        fh.write("".join(n + "\n" for n in notes))
        for r in rows:
            fh.write("\t".join(str(x) for x in r) + "\n")
    print("%s: %d requests, %d request and %d response messages" % (
        out, len(rows), sum(r[4] for r in rows), sum(r[5] for r in rows)))


if __name__ == "__main__":
    main()
