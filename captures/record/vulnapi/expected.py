#!/usr/bin/env python3
"""expected.py REQUESTS_TSV OUT: write vulnapi-attack.expected.tsv, the
alerts a security analyzer is expected to raise for vulnapi-attack.pcap,
with request counts and statuses taken from the client's log."""
import collections
import re
import sys

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if not l.startswith("#")]


def tmpl(method, uri):
    p = uri.split("?", 1)[0]
    p = re.sub(r"^/api/(users|orders)/[^/]+$", r"/api/\1/{id}", p)
    return p


# (kind, subtype, client, method, path_template) -> statuses
groups = collections.OrderedDict()
for src, method, uri, status, label in rows:
    if label == "benign":
        continue
    kind = label.split(":", 1)[1]
    kind, _, sub = kind.partition("/")
    key = (kind, sub or "-", src, method, tmpl(method, uri))
    if kind == "scanner":
        key = (kind, "-", src, "*", "*")
    groups.setdefault(key, collections.Counter())[status] += 1

NOTES = {
    ("sql_injection", "/api/search"): "q=: ' OR 1=1--, UNION SELECT, SLEEP()/WAITFOR/pg_sleep/BENCHMARK, ORDER BY, stacked DROP; "
                                      "plus +-encoded, double-encoded (%2527), %u0027, fullwidth U+FF07 and U+02BC apostrophes, "
                                      "mixed case, /**/ comments; UNION payloads return the users table (200), syntax errors 500",
    ("xss", "/api/search"): "q=: <script>, onerror=, onload=, javascript:, ontoggle=; double-encoded, %u003C, HTML entities",
    ("xss", "/api/render"): "name= reflected unescaped in text/html: <script>, onerror=, javascript:, double-encoded, %u003C, "
                            "entities, jav%09ascript:, fullwidth <>",
    ("path_traversal", "/api/files"): "path=: ../../etc/passwd, ..%2f, %2e%2e%2f, %252e (double), ....//, ..%5c, %00, ..%c0%af, "
                                      "..;/, absolute /etc/passwd, file://; 200 = fake /etc/passwd, /etc/hosts, config.ini, environ",
    ("command_injection", "/api/ping"): "JSON body host: ; cat /etc/passwd, && id, $(id), `whoami`, | nc -e, newline, ${IFS}, "
                                        "|| curl | sh, sleep; the app only echoes (all 200)",
    ("ssrf", "/api/fetch"): "url=: 169.254.169.254 (AWS/GCP), metadata.google.internal, 100.100.100.200, localhost:6379, "
                            "127.0.0.1:22, [::1], 0x7f000001, 2130706433, 127.1, file://, gopher://, dict://, ldap://, "
                            "10.x/192.168.x, *.nip.io; app fetches nothing (all 200)",
    ("template_injection", "/api/render"): "name=: {{7*7}} (rendered as 49), ${7*7}, #{7*7}, <%= %>, *{}, {{config.items()}}, "
                                           "${T(java.lang.Runtime)...}, ${jndi:ldap://...} and ${${lower:j}ndi:...}",
    ("template_injection", "/api/search"): "JNDI (Log4Shell) ${jndi:ldap|dns://...} and ${${::-j}...} in the User-Agent header "
                                           "(q=desk is benign) and once in q=",
    ("template_injection", "/health"): "JNDI ${jndi:...} in User-Agent and X-Api-Version headers",
    ("enumeration", "/api/users/{id}"): "logged in as mallory (id 7); ids 1..200 in order within ~1 s",
    ("brute_force", "/api/login"): "60 wrong passwords for username dave, identical 401 body, then the right one (200)",
    ("bola", "/api/orders/{id}"): "logged in as eve (id 6); reads 30 orders of other users, all 200 (plus 1 own profile read)",
    ("scanner", "*"): "Nikto/2.1.6 User-Agent (Test:NNNNNN), GET and HEAD on admin/VCS/backup/config/actuator/swagger paths; "
                      "no injection payloads in the paths",
    ("rate_anomaly", "/health"): "400 GETs on one keep-alive connection in well under 1 s, after the benign baseline",
}
with open(sys.argv[2], "w") as f:
    f.write("# vulnapi-attack.pcap: expected security alerts, one row per (kind, subtype, client, method, path template).\n"
            "# Server 127.0.0.1:8080. Attackers 127.0.0.10-20, each doing ONE kind of attack.\n"
            "# Benign clients 127.0.0.2, 127.0.0.3, 127.0.0.4 (labelled benign in vulnapi-attack.requests.tsv) must get NO\n"
            "# attack alert: their searches include near-misses (\"select committee\", \"union station\", \"O'Brien\" -- which\n"
            "# makes this SQL-injectable app answer 500 --, https://docs.example.com/), https link-preview URLs in\n"
            "# /api/fetch, and host names in /api/ping.\n"
            "# Tolerated extra alerts (not required, not false positives): rate_anomaly for the fast enumeration (.16),\n"
            "# scanner (.19) and brute-force (.17) bursts. Any other alert is a false positive.\n"
            "# note: requests=N and the status counts come from the client's log.\n"
            "# kind\tsubtype\tclient\tmethod\tpath_template\tnote\n")
    for (kind, sub, src, method, path), st in sorted(groups.items(), key=lambda kv: tuple(map(int, kv[0][2].split(".")))):
        if kind == "bola" and path != "/api/orders/{id}":
            continue  # login and own-profile read of the BOLA actor
        if kind in ("enumeration",) and path == "/api/login":
            continue
        note = NOTES.get((sub if kind == "injection_attempt" else kind, path), "")
        stat = ",".join("%s:%d" % kv for kv in sorted(st.items()))
        f.write("%s\t%s\t%s\t%s\t%s\trequests=%d (%s); %s\n" % (kind, sub, src, method, path, sum(st.values()), stat, note))
