#!/usr/bin/env python3
"""verify.py PCAP REQUEST_LOG PORT: check that tshark sees exactly the
requests the client logged (client address, method, URI, status; as a
multiset). Exits 1 on any difference."""
import collections
import subprocess
import sys

pcap, log, port = sys.argv[1], sys.argv[2], sys.argv[3]
out = subprocess.run(["tshark", "-r", pcap, "-2", "-d", "tcp.port==%s,http" % port,
                      "-Y", "http.response", "-T", "fields", "-E", "separator=\t",
                      "-e", "ip.dst", "-e", "http.request_in", "-e", "http.response.code"],
                     check=True, capture_output=True, text=True).stdout
req = subprocess.run(["tshark", "-r", pcap, "-2", "-d", "tcp.port==%s,http" % port,
                      "-Y", "http.request", "-T", "fields", "-E", "separator=\t",
                      "-e", "frame.number", "-e", "ip.src", "-e", "http.request.method", "-e", "http.request.uri"],
                     check=True, capture_output=True, text=True).stdout
reqs = {}
for line in req.splitlines():
    f, src, m, uri = line.split("\t")
    reqs[f] = (src, m, uri)
seen = collections.Counter()
answered = set()
for line in out.splitlines():
    dst, rin, code = line.split("\t")
    answered.add(rin)
    seen[reqs[rin] + (code,)] += 1
for f, r in reqs.items():
    if f not in answered:
        seen[r + ("-",)] += 1
logged = collections.Counter()
for line in open(log):
    src, m, uri, st, _ = line.rstrip("\n").split("\t")
    logged[(src, m, uri, st)] += 1
if seen != logged:
    print("MISMATCH tshark vs client log")
    print(" only in tshark:", list((seen - logged).items())[:10])
    print(" only in log:   ", list((logged - seen).items())[:10])
    sys.exit(1)
print("tshark agrees with the client log: %d requests" % sum(logged.values()))
