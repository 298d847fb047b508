#!/usr/bin/env python3
"""Acceptance check against third-party captures (../shared/corpus): run `apisonar analyze` on
each capture and count how many of the expected HTTP/1 transactions it reproduces.

Expected transactions come from tshark's ground truth (`<capture>.tshark.tsv`, proto=http/1);
for captures where tshark is known to miss requests (unknown methods, HTTP/0.9, request lines
without a version) and Zeek ships an http.log baseline with more rows, the Zeek baseline is used
instead (its URIs are percent-decoded, so both sides are decoded before comparing).

A transaction agrees when one of ours has the same client/server endpoints, method and URI, and
the same final status code (or both have none). Not part of the test command: it needs the
shared corpus, which CI does not guarantee. Usage:

    scripts/corpus-check.py [--bin target/release/apisonar] [--corpus ../shared/corpus] [-v]
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def read_tsv(path):
    with open(path, newline="") as f:
        lines = f.read().split("\n")
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line]


def tshark_expected(path):
    rows = []
    for r in read_tsv(path):
        if r["proto"] != "http/1":
            continue
        codes = [c for c in r["status_codes"].split(",") if c]
        final = next((c for c in reversed(codes) if not c.startswith("1") or c == "101"), codes[-1] if codes else "")
        rows.append(((r["src"], r["sport"], r["dst"], r["dport"]), r["method"], r["uri"], final))
    return rows


def zeek_expected(path):
    rows = []
    for r in read_tsv(path):
        if r.get("method", "-") in ("-", ""):
            continue
        uri = "" if r["uri"] == "-" else r["uri"]
        status = "" if r["status_code"] in ("-", "0") else r["status_code"]
        rows.append(((r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"]), r["method"], uri, status))
    return rows


def ours(binary, capture):
    proc = subprocess.run([binary, "analyze", "--summary", "json", "--transactions", "-", capture],
                          capture_output=True, text=True)
    rows = []
    for line in proc.stdout.splitlines():
        t = json.loads(line)
        f = t["flow"]
        status = t["response"]["status"] if t["response"] and t["response"]["status"] is not None else ""
        rows.append(((f["src_ip"], str(f["src_port"]), f["dst_ip"], str(f["dst_port"])),
                     t["request"]["method"], t["request"]["uri"], str(status)))
    return rows, proc.returncode, proc.stderr


def norm_ip(ip):
    import ipaddress
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip


def key(row, decode, with_flow=True):
    flow, method, uri, _ = row
    flow = (norm_ip(flow[0]), flow[1], norm_ip(flow[2]), flow[3]) if with_flow else ()
    if decode:
        uri = urllib.parse.unquote(uri, errors="replace")
    return (flow, method, uri)


def compare(expected, got, decode):
    # Some baselines (scapy-made Zeek captures) carry no addresses: match on method and URI.
    with_flow = all(e[0][0] for e in expected)
    pool = collections.defaultdict(list)
    for g in got:
        pool[key(g, decode, with_flow)].append(g[3])
    agree, problems = 0, []
    for e in expected:
        statuses = pool.get(key(e, decode, with_flow))
        if not statuses:
            problems.append(("missing", e))
            continue
        if e[3] in statuses:
            statuses.remove(e[3])
            agree += 1
        else:
            problems.append(("status %s != expected %s" % (statuses[0], e[3] or "none"), e))
            statuses.pop(0)
    extra = sum(len(v) for v in pool.values())
    return agree, problems, extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "apisonar"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(args.bin):
        alt = os.path.join(ROOT, "target", "debug", "apisonar")
        if os.path.exists(alt):
            args.bin = alt
        else:
            sys.exit("build apisonar first (cargo build --release)")
    total_expected = total_agree = total_extra = 0
    print("%-62s %6s %6s %6s  %s" % ("capture", "expect", "agree", "extra", "truth"))
    for source in sorted(os.listdir(args.corpus)):
        folder = os.path.join(args.corpus, source)
        if not os.path.isdir(folder) or source == "LICENSES":
            continue
        for name in sorted(os.listdir(folder)):
            if not (name.endswith(".pcap") or name.endswith(".pcapng")):
                continue
            capture = os.path.join(folder, name)
            expected = tshark_expected(capture + ".tshark.tsv")
            truth, decode = "tshark", False
            zeek = capture + ".zeek-http.tsv"
            if os.path.exists(zeek):
                z = zeek_expected(zeek)
                if len(z) > len(expected):
                    expected, truth, decode = z, "zeek", True
            got, rc, err = ours(args.bin, capture)
            agree, problems, extra = compare(expected, got, decode)
            total_expected += len(expected)
            total_agree += agree
            total_extra += extra
            print("%-62s %6d %6d %6d  %s%s" % (source + "/" + name, len(expected), agree, extra, truth,
                                                "" if rc == 0 else "  (exit %d)" % rc))
            if args.verbose:
                for what, row in problems[:10]:
                    print("    %s: %s %s %s" % (what, row[1], row[2][:80], row[0]))
    pct = 100.0 * total_agree / total_expected if total_expected else 100.0
    print("total: %d of %d expected transactions agree (%.1f%%), %d extra" % (total_agree, total_expected, pct, total_extra))


if __name__ == "__main__":
    main()
