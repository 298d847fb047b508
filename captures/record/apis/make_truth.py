#!/usr/bin/env python3
"""make_truth.py NAME SPEC REQUEST_LOG PCAP PORT OUT_TSV

Writes the ground-truth file for one API capture from the traffic client's
request log (traffic.py format: method, template, uri, status, client), after
checking that
  * every logged template is an operation of the OpenAPI spec SPEC, and the
    logged URI's path really matches that template;
  * tshark finds exactly the same requests (method + URI, as a multiset) in
    PCAP as the client logged (tshark -d tcp.port==PORT,http).
Output: comment lines, then `method<TAB>path_template<TAB>calls` for every
exercised operation (in spec order), then a `# never called:` comment for
each spec operation the client never sent.
"""
import collections
import json
import re
import subprocess
import sys

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def main():
    name, spec_f, log_f, pcap, port, out = sys.argv[1:7]
    spec = json.load(open(spec_f))
    ops = [(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS]
    opset = set(ops)
    regex = {p: re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$") for _, p in ops}

    calls = collections.Counter()
    logged = collections.Counter()
    statuses = collections.Counter()
    clients = set()
    errors = []
    for line in open(log_f):
        method, template, uri, status, client = line.rstrip("\n").split("\t")
        if (method, template) not in opset:
            errors.append("logged operation not in spec: %s %s" % (method, template))
            continue
        path = uri.split("?", 1)[0]
        if not regex[template].match(path):
            errors.append("URI %s does not match template %s" % (uri, template))
        # a path must not match a more specific (fewer parameters) template
        # of the same method than the one logged: e.g. /users/me vs /users/{id}
        for m2, t2 in ops:
            if m2 == method and t2 != template and regex[t2].match(path) and t2.count("{") < template.count("{"):
                errors.append("URI %s logged as %s but matches static %s" % (uri, template, t2))
        calls[(method, template)] += 1
        logged[(method, uri)] += 1
        statuses[status] += 1
        clients.add(client)

    tsh = subprocess.run(["tshark", "-r", pcap, "-d", "tcp.port==%s,http" % port, "-Y", "http.request",
                          "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri"],
                         check=True, capture_output=True, text=True).stdout
    seen = collections.Counter()
    for line in tsh.splitlines():
        if line.strip():
            m, u = line.split("\t")
            seen[(m, u)] += 1
    if seen != logged:
        for k in sorted(set(seen) | set(logged)):
            if seen[k] != logged[k]:
                errors.append("tshark %d x %s %s, client log %d" % (seen[k], k[0], k[1], logged[k]))
    if errors:
        sys.stderr.write("\n".join(errors[:50]) + "\n")
        sys.exit("make_truth: %d problem(s), %s not written" % (len(errors), out))

    total = sum(calls.values())
    with open(out, "w") as f:
        f.write("# %s: ground truth for %s, spec %s\n" % (name, pcap.rsplit("/", 1)[-1], spec_f.rsplit("/", 1)[-1]))
        f.write("# %d requests from %d client actors; %d of %d spec operations exercised; "
                "tshark sees the same %d requests (method + URI).\n" % (total, len(clients), len(calls), len(ops), total))
        f.write("# statuses: %s\n" % ", ".join("%s=%d" % kv for kv in sorted(statuses.items())))
        f.write("# method\tpath_template\tcalls\n")
        for op in ops:
            if calls[op]:
                f.write("%s\t%s\t%d\n" % (op[0], op[1], calls[op]))
        for op in ops:
            if not calls[op]:
                f.write("# never called: %s\t%s\n" % op)
    print("%s: %d requests, %d/%d operations exercised, statuses %s" % (
        out, total, len(calls), len(ops), dict(sorted(statuses.items()))))


if __name__ == "__main__":
    main()
