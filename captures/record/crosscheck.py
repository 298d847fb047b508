#!/usr/bin/env python3
"""Independent cross-check of captures/expect/*.tsv (not the oracle itself).

usage: crosscheck.py CAPTURE...   (run from captures/)

Re-parses each capture without tshark's HTTP dissector: takes the raw TCP
payload bytes of every connection (tshark -T fields -e tcp.payload; the
captures have no lost or retransmitted segments, checked by check.sh), splits
them into HTTP/1.x messages with a minimal parser (Content-Length, chunked,
close-delimited, HEAD/204/304 without body, 1xx interim, 101 and CONNECT
switching the connection away from HTTP, a CONNECT tunnel's inner HTTP),
pairs requests and final responses in order, and compares the resulting
(method, uri, status) rows with the expectation file, as multisets.
Exits 1 on any difference.
"""
import re
import subprocess
import sys


def payloads(cap):
    out = subprocess.run(["tshark", "-r", cap, "-Y", "tcp.len>0", "-T", "fields",
                          "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.payload"],
                         capture_output=True, text=True, check=True).stdout
    streams, client = {}, {}
    for line in out.splitlines():
        s, sp, pl = line.split("\t")
        client.setdefault(s, sp)  # the first sender of data is the client
        d = streams.setdefault(s, {"c": b"", "s": b""})
        d["c" if sp == client[s] else "s"] += bytes.fromhex(pl)
    return streams


def parse(buf, is_req, methods=None):
    """Return (messages, end offset of the HTTP part)."""
    msgs, i = [], 0
    while i < len(buf):
        j = buf.find(b"\r\n\r\n", i)
        if j < 0:
            break
        lines = buf[i:j].decode("latin-1").split("\r\n")
        h = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            h[k.strip().lower()] = v.strip()
        i = j + 4
        if is_req:
            method, uri, _ = lines[0].split(" ", 2)
            msgs.append((method, uri))
            if method == "CONNECT":
                return msgs, i
        else:
            code = int(lines[0].split(" ")[1])
            msgs.append(code)
            if 100 <= code < 200 and code != 101:
                continue
            if code == 101:
                return msgs, i
            method = methods.pop(0) if methods else None
            if method == "CONNECT" and 200 <= code < 300:
                return msgs, i
            if method == "HEAD" or code in (204, 304):
                continue
        if h.get("transfer-encoding", "").lower() == "chunked":
            while True:
                k = buf.find(b"\r\n", i)
                size = int(buf[i:k].split(b";")[0], 16)
                i = k + 2
                if size == 0:
                    i = buf.find(b"\r\n\r\n", i - 2) + 4  # trailers
                    break
                i += size + 2
        elif "content-length" in h:
            i += int(h["content-length"])
        elif not is_req:
            i = len(buf)  # close-delimited
    return msgs, i


def rows_for(c, s):
    reqs, ci = parse(c, True)
    resps, si = parse(s, False, [m for m, _ in reqs])
    finals = [x for x in resps if x >= 200 or x == 101]
    rows = [(m, u, str(finals[n]) if n < len(finals) else "-") for n, (m, u) in enumerate(reqs)]
    if reqs and reqs[-1][0] == "CONNECT" and finals and 200 <= finals[-1] < 300:
        rows += rows_for(c[ci:], s[si:])
    return rows


def main():
    rc = 0
    for cap in sys.argv[1:]:
        got = []
        for d in payloads(cap).values():
            if re.match(rb"[A-Z]+ \S+ HTTP/1\.[01]\r\n", d["c"]):
                got += ["\t".join(r) for r in rows_for(d["c"], d["s"])]
        exp = [l for l in open("expect/%s.tsv" % cap).read().splitlines()
               if l and not l.startswith("#")]
        if sorted(got) == sorted(exp):
            print("crosscheck %s: OK (%d rows)" % (cap, len(exp)))
        else:
            rc = 1
            print("crosscheck %s: DIFFERENT\n  raw parse:   %s\n  expectation: %s"
                  % (cap, sorted(got), sorted(exp)))
    return rc


if __name__ == "__main__":
    sys.exit(main())
