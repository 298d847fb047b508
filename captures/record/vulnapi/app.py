#!/usr/bin/env python3
"""vulnapi: a deliberately VULNERABLE JSON API (stdlib only: http.server +
sqlite3), used to record captures/security/vulnapi-*.pcap. Never expose it:
the recording scripts run it on 127.0.0.1 inside a private network
namespace (unshare -n).

usage: app.py PORT

Routes (HTTP/1.1, keep-alive, ThreadingHTTPServer):
  GET  /health                 -> 200 {"status":"ok"}
  POST /api/login              JSON {username,password} -> 200 {"token": ...}
                               or 401 with the SAME body every time
  GET  /api/users/{id}         Bearer required (401); own id -> 200 (with the
                               user's order ids), other existing -> 403,
                               unknown -> 404
  GET  /api/orders/{id}        Bearer required; BOLA: returns ANY order
                               whatever the token's owner (200 / 404)
  GET  /api/search?q=          SQL injection: the query string is pasted into
                               the SQL text; syntax errors -> 500 with the
                               sqlite message, otherwise 200 with rows
  GET  /api/files[?path=]      path traversal: the path is joined to the
                               sandbox directory without checks. Resolution is
                               VIRTUAL (posixpath.normpath against
                               /srv/vulnapi/files): files outside the sandbox
                               come from a small fake filesystem (FAKE_FS), so
                               no real file of the recording machine is ever
                               read or sent.
  POST /api/ping {"host": h}   command-injection shaped: NOTHING is executed;
                               the host is echoed in a canned "ping" output
  GET  /api/fetch?url=         SSRF shaped: NOTHING is fetched; always 200
  GET  /api/render?name=       reflected XSS / template-injection shaped: the
                               name is put into HTML unescaped; "{{a*b}}" with
                               two integers is replaced by the product (a
                               regex, no template engine, no eval)
Every response is written with one write() (headers + body).
"""
import json
import posixpath
import re
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

USERS = [  # id, username, password, full name, role
    (1, "admin", "Adm1n!2024", "Site Admin", "admin"),
    (2, "alice", "wonderland-42", "Alice Martin", "user"),
    (3, "bob", "builder#77", "Bob Keller", "user"),
    (4, "carol", "c4rol-obrien", "Carol O'Brien", "user"),
    (5, "dave", "sunshine1", "Dave Novak", "user"),
    (6, "eve", "eve-secret-9", "Eve Laurent", "user"),
    (7, "mallory", "m4llory!", "Mallory Stone", "user"),
    (8, "trent", "trent-2024", "Trent Ruiz", "support"),
    (9, "peggy", "peggy-pw-55", "Peggy Olsen", "user"),
    (10, "victor", "v1ctor-x", "Victor Hugo", "user"),
    (11, "walter", "walt-33", "Walter White", "user"),
    (12, "zoe", "zoe-zoe-7", "Zoe Kim", "user"),
]
TOKENS = {"tok_%s_%08x" % (u[1], (u[0] * 2654435761) & 0xFFFFFFFF): u[0] for u in USERS}
TOKEN_OF = {uid: t for t, uid in TOKENS.items()}
ITEMS = ["usb-c cable", "standing desk", "monitor arm", "coffee beans", "notebook",
         "desk lamp", "keyboard", "headset", "webcam", "ergonomic chair"]
DOCS = [
    ("Quarterly report 2024", "Revenue grew in all regions; see the select committee notes."),
    ("Union Station office move", "The team moves to the Union Station building in March."),
    ("Shipping policy", "Orders ship within two business days. Returns within 30 days."),
    ("Meeting notes: O'Brien account", "Call with Carol O'Brien about the renewal."),
    ("Onboarding guide", "How to select your benefits and set up your laptop."),
    ("Price list", "Standing desk 399, monitor arm 89, desk lamp 35."),
    ("Release notes 1.4", "Search is faster; files can be previewed."),
    ("Security policy", "Rotate passwords every 90 days. Report phishing."),
    ("Holiday schedule", "Office closed on public holidays; support on call."),
    ("Partner integrations", "Link previews use https://cdn.example.com/ and https://docs.example.com/."),
]
SANDBOX = "/srv/vulnapi/files"
FILES = {
    "readme.txt": "Shared files for the vulnapi demo.\n",
    "report-2024.txt": "Q1 120k\nQ2 135k\nQ3 150k\nQ4 171k\n",
    "price-list.csv": "item,price\nstanding desk,399\nmonitor arm,89\ndesk lamp,35\n",
    "invoices/inv-1001.txt": "Invoice 1001: usb-c cable x2, 19.98\n",
    "invoices/inv-1002.txt": "Invoice 1002: standing desk x1, 399.00\n",
    "images/logo.txt": "(logo placeholder)\n",
}
# What a successful traversal "reads": fake, fixed contents (not the real files).
FAKE_FS = {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                   "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nvulnapi:x:1000:1000::/srv/vulnapi:/bin/sh\n",
    "/etc/hosts": "127.0.0.1 localhost\n10.0.0.5 db.internal\n",
    "/srv/vulnapi/config.ini": "[db]\npassword = hunter2-fake\n",
    "/proc/self/environ": "PATH=/usr/bin\x00SECRET_KEY=fake-secret\x00",
}
FAIL_BODY = b'{"error":"invalid username or password"}'

DB = sqlite3.connect(":memory:", check_same_thread=False)
LOCK = threading.Lock()


def init_db():
    c = DB.cursor()
    c.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT, password TEXT, name TEXT, role TEXT)")
    c.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, item TEXT, qty INTEGER, total REAL)")
    c.execute("CREATE TABLE documents (id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
    c.executemany("INSERT INTO users VALUES (?,?,?,?,?)", USERS)
    oid = 1001
    for i in range(60):  # orders 1001..1060, owners round-robin over users 2..12
        uid = 2 + (i * 7) % 11
        item = ITEMS[(i * 3) % len(ITEMS)]
        qty = 1 + i % 3
        c.execute("INSERT INTO orders VALUES (?,?,?,?,?)", (oid, uid, item, qty, round(qty * (9.99 + 7 * (i % 9)), 2)))
        oid += 1
    c.executemany("INSERT INTO documents (title, body) VALUES (?,?)", DOCS)
    DB.commit()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vulnapi/0.3"
    sys_version = "Python/3.11"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj=None, body=None, ctype="application/json"):
        if body is None:
            body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n")
        data = b"".join(self._headers_buffer) + (body if self.command != "HEAD" else b"")
        self._headers_buffer = []
        self.wfile.write(data)

    def user(self):
        h = self.headers.get("Authorization", "")
        if h.startswith("Bearer "):
            return TOKENS.get(h[7:].strip())
        return None

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        u = urlsplit(self.path)
        path, q = u.path, parse_qs(u.query, keep_blank_values=True)
        qv = lambda k: q.get(k, [""])[0]  # noqa: E731
        if path == "/health":
            return self.reply(200, {"status": "ok"})
        m = re.fullmatch(r"/api/users/([^/]+)", path)
        if m:
            me = self.user()
            if me is None:
                return self.reply(401, {"error": "authentication required"})
            if not m.group(1).isdigit():
                return self.reply(404, {"error": "not found"})
            uid = int(m.group(1))
            with LOCK:
                row = DB.execute("SELECT id, username, name, role FROM users WHERE id=?", (uid,)).fetchone()
                orders = [r[0] for r in DB.execute("SELECT id FROM orders WHERE user_id=? ORDER BY id", (uid,))]
            if row is None:
                return self.reply(404, {"error": "not found"})
            if uid != me and USERS[me - 1][4] != "admin":
                return self.reply(403, {"error": "forbidden"})
            return self.reply(200, {"id": row[0], "username": row[1], "name": row[2], "role": row[3], "order_ids": orders})
        m = re.fullmatch(r"/api/orders/([^/]+)", path)
        if m:
            if self.user() is None:
                return self.reply(401, {"error": "authentication required"})
            if not m.group(1).isdigit():
                return self.reply(404, {"error": "not found"})
            with LOCK:  # BOLA: no owner check
                row = DB.execute("SELECT id, user_id, item, qty, total FROM orders WHERE id=?", (int(m.group(1)),)).fetchone()
            if row is None:
                return self.reply(404, {"error": "not found"})
            return self.reply(200, dict(zip(("id", "user_id", "item", "qty", "total"), row)))
        if path == "/api/search":
            sql = "SELECT id, title FROM documents WHERE title LIKE '%" + qv("q") + "%' OR body LIKE '%" + qv("q") + "%'"
            try:
                with LOCK:
                    rows = DB.execute(sql).fetchall()
            except Exception as e:  # noqa: BLE001  (leaks the DB error, like many real apps)
                return self.reply(500, {"error": "database error", "detail": str(e)})
            return self.reply(200, {"q": qv("q"), "results": [{"id": r[0], "title": str(r[1])} for r in rows[:20]],
                                    "count": len(rows)})
        if path == "/api/files":
            p = qv("path")
            if p == "":
                return self.reply(200, {"files": sorted(FILES)})
            if "\x00" in p:
                return self.reply(400, {"error": "invalid path"})
            full = posixpath.normpath(posixpath.join(SANDBOX, p))
            if full.startswith(SANDBOX + "/") and full[len(SANDBOX) + 1:] in FILES:
                return self.reply(200, body=FILES[full[len(SANDBOX) + 1:]].encode(), ctype="text/plain")
            if full in FAKE_FS:
                return self.reply(200, body=FAKE_FS[full].encode(), ctype="text/plain")
            return self.reply(404, {"error": "no such file", "path": full})
        if path == "/api/fetch":
            url = qv("url")
            if not url:
                return self.reply(400, {"error": "url required"})
            return self.reply(200, {"url": url, "status": "queued", "preview": None})
        if path == "/api/render":
            name = re.sub(r"\{\{\s*(\d+)\s*\*\s*(\d+)\s*\}\}", lambda mm: str(int(mm.group(1)) * int(mm.group(2))), qv("name"))
            html = "<!DOCTYPE html><html><body><h1>Hello, %s!</h1></body></html>" % name
            return self.reply(200, body=html.encode(), ctype="text/html; charset=utf-8")
        return self.reply(404, {"error": "not found"})

    def do_HEAD(self):
        return self.reply(404, {"error": "not found"})

    def do_POST(self):
        raw = self.read_body()
        path = urlsplit(self.path).path
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return self.reply(400, {"error": "invalid JSON"})
        if path == "/api/login":
            uname, pw = str(data.get("username", "")), str(data.get("password", ""))
            for uid, un, upw, _, _ in USERS:
                if un == uname and upw == pw:
                    return self.reply(200, {"token": TOKEN_OF[uid], "token_type": "Bearer", "user_id": uid})
            return self.reply(401, body=FAIL_BODY)
        if path == "/api/ping":
            host = str(data.get("host", ""))
            if not host:
                return self.reply(400, {"error": "host required"})
            # Nothing is executed: canned output that echoes the host.
            out = "PING %s: 56 data bytes\n64 bytes: icmp_seq=0 ttl=64 time=0.041 ms\n" % host
            return self.reply(200, {"host": host, "output": out})
        return self.reply(404, {"error": "not found"})

    def do_PUT(self):
        self.read_body()
        return self.reply(404, {"error": "not found"})

    do_DELETE = do_PUT
    do_OPTIONS = do_PUT


if __name__ == "__main__":
    init_db()
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.daemon_threads = True
    srv.serve_forever()
