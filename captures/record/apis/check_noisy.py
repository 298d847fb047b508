#!/usr/bin/env python3
"""check_noisy.py NAME PCAP PORT SCANNER_ADDR CLIENT_LOG SCANNER_LOG

Checks a noisy API capture (apis/NAME-noisy.pcap: the ordinary traffic client
and apis/scanner.py side by side) and, if every check passes, writes
NAME-noisy.requests.tsv and NAME-noisy.scanner.tsv beside the capture. It makes
no truth file: the capture's route table is NAME.truth.tsv, which holds
because
  * the ordinary client's log is, row for row, the log of the clean capture
    (NAME.requests.tsv: same requests in the same order, same statuses), so
    it exercises exactly the operations (and call counts) of NAME.truth.tsv;
  * every scanner request whose path falls on a route template of the spec
    (NAME.openapi.json, same rule as make_truth.py, recomputed here) names an
    operation of NAME.truth.tsv, and no other scanner request got a 2xx
    answer: the scanner adds no operation to the route table;
  * tshark (-d tcp.port==PORT,http) finds exactly the logged requests with
    the logged statuses (client address, method, URI, status, as a
    multiset): the scanner's from SCANNER_ADDR, the client's from the others.
"""
import collections
import json
import os
import re
import subprocess
import sys

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def rows(path):
    return [line.rstrip("\n").split("\t") for line in open(path) if line.strip() and not line.startswith("#")]


def main():
    name, pcap, port, scanner_addr, client_log, scanner_log = sys.argv[1:7]
    out_dir = os.path.dirname(os.path.abspath(pcap))
    base = os.path.join(out_dir, name)
    spec = json.load(open(base + ".openapi.json"))
    ops = [(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS]
    regex = {p: re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$") for _, p in ops}
    exercised = {(r[0], r[1]) for r in rows(base + ".truth.tsv")}
    errors = []

    client = rows(client_log)
    clean = rows(base + ".requests.tsv")
    if client != clean:
        for i, (a, b) in enumerate(zip(client, clean)):
            if a != b:
                errors.append("client row %d differs from %s.requests.tsv: %s vs %s" % (i + 1, name, a, b))
                break
        if len(client) != len(clean):
            errors.append("client sent %d requests, the clean capture %d" % (len(client), len(clean)))

    scanner = rows(scanner_log)
    for method, template, uri, status, who, kind, agent in scanner:
        path = uri.split("?", 1)[0]
        segs = path.split("/")[1:]
        want = "-"
        if "" not in segs[:-1] and not any(re.sub("%2e", ".", s, flags=re.I) in (".", "..") for s in segs):
            cands = [t for m, t in ops if m == method and regex[t].match(path)]
            if cands:
                want = min(cands, key=lambda t: t.count("{"))
        if template != want:
            errors.append("scanner %s %s logged as %s, matches %s" % (method, uri, template, want))
        if template != "-" and (method, template) not in exercised:
            errors.append("scanner %s %s falls on %s, not in %s.truth.tsv" % (method, uri, template, name))
        if template == "-" and status.startswith("2"):
            errors.append("scanner %s %s got %s outside the route table" % (method, uri, status))

    # tshark: requests with their client address, and the status of the response to each
    tsh = subprocess.run(["tshark", "-r", pcap, "-d", "tcp.port==%s,http" % port, "-Y", "http",
                          "-T", "fields", "-E", "occurrence=f", "-e", "frame.number", "-e", "ip.src",
                          "-e", "http.request.method", "-e", "http.request.uri", "-e", "http.response.code",
                          "-e", "http.request_in"],
                         check=True, capture_output=True, text=True).stdout
    reqs, status_of = {}, {}
    for line in tsh.splitlines():
        frame, src, method, uri, code, req_in = line.split("\t")
        if method:
            reqs[frame] = (src, method, uri)
        if code:
            status_of[req_in] = code
    seen_scanner, seen_client = collections.Counter(), collections.Counter()
    for frame, (src, method, uri) in reqs.items():
        key = (method, uri, status_of.get(frame, "-"))
        (seen_scanner if src == scanner_addr else seen_client)[key] += 1
    for who, seen, log in [("scanner", seen_scanner, scanner), ("client", seen_client, client)]:
        logged = collections.Counter((r[0], r[2], r[3]) for r in log)
        if seen != logged:
            for k in sorted(set(seen) | set(logged)):
                if seen[k] != logged[k]:
                    errors.append("%s: tshark %d x %s, log %d" % (who, seen[k], " ".join(k), logged[k]))
    if errors:
        sys.stderr.write("\n".join(errors[:50]) + "\n")
        sys.exit("check_noisy: %d problem(s), %s-noisy.*.tsv not written" % (len(errors), name))

    statuses = collections.Counter(r[3] for r in scanner)
    kinds = collections.Counter(r[5].split("/")[0] for r in scanner)
    on_routes = sum(1 for r in scanner if r[1] != "-")
    hist = ", ".join("%s=%d" % kv for kv in sorted(statuses.items()))
    with open(base + "-noisy.requests.tsv", "w") as f:
        f.write("# %s-noisy: every request the traffic client sent, in order (the same rows as %s.requests.tsv)\n"
                % (name, name))
        f.write("# method\tpath_template\turi\tstatus\tclient\n")
        for r in client:
            f.write("\t".join(r) + "\n")
    with open(base + "-noisy.scanner.tsv", "w") as f:
        f.write("# %s-noisy: every request record/apis/scanner.py sent from %s, in order\n" % (name, scanner_addr))
        f.write("# %d requests, %d on a route of %s.truth.tsv (path_template), %d on none ('-'); statuses: %s\n"
                % (len(scanner), on_routes, name, len(scanner) - on_routes, hist))
        f.write("# method\tpath_template\turi\tstatus\tclient\tprobe\tagent\n")
        for r in scanner:
            f.write("\t".join(r) + "\n")
    print("%s-noisy: client %d requests (= %s.requests.tsv); scanner %d requests (%s), %d answered 404, "
          "%d on routes; statuses %s" % (name, len(client), name, len(scanner),
                                         ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
                                         statuses["404"], on_routes, hist))


if __name__ == "__main__":
    main()
