"""Shared helpers for the API traffic clients (apis/*/client.py).

A Client is one HTTP/1.1 keep-alive connection (http.client, stdlib only)
bound to a chosen loopback source address, with a User-Agent, default
headers and a small cookie jar. Every request is logged to the request log
(one TSV row: method, path template as in the OpenAPI spec, request URI,
status, client name); make_truth.py derives the ground truth from that log
and cross-checks it against tshark's view of the capture.

run_actors() interleaves several actors (generators that yield after each
request) in a seeded pseudo-random order, so the capture holds several
clients' connections side by side, as a real server sees them.
"""
import gzip
import http.client
import json
import random
import socket
import sys
from urllib.parse import quote, urlencode

LOG = None


def open_log(path):
    global LOG
    LOG = open(path, "w")


class ExpectError(Exception):
    pass


class OneSendHTTPConnection(http.client.HTTPConnection):
    """http.client sends the header block and the body with two send()
    calls, so a POST goes out as two segments. With two segments in flight
    Linux's tail loss probe fires after ~2 RTTs (a few ms on loopback), and
    a server that is briefly descheduled on this busy 2-core machine does
    not ACK in time: the capture then holds a retransmission. One send()
    (like curl or Go's net/http for small bodies) keeps the probe timeout
    above the 200 ms delayed-ACK limit."""

    def _send_output(self, message_body=None, encode_chunked=False):
        self._buffer.extend((b"", b""))
        msg = b"\r\n".join(self._buffer)
        del self._buffer[:]
        self.send(msg + (message_body or b""))


class Client:
    def __init__(self, name, port, source="127.0.0.1", ua="python-requests/2.32.3",
                 host="127.0.0.1", headers=None, host_header=None):
        self.name = name
        self.port = port
        self.host = host
        self.source = source
        self.headers = {"User-Agent": ua, "Accept": "application/json",
                        "Accept-Encoding": "gzip, deflate"}
        if host_header:
            self.headers["Host"] = host_header
        self.headers.update(headers or {})
        self.cookies = {}
        self.conn = None
        self.count = 0

    def _connect(self):
        self.conn = OneSendHTTPConnection(self.host, self.port, timeout=10,
                                               source_address=(self.source, 0))

    def close(self):
        """End the keep-alive connection; the next request opens a new one."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, method, template, params=None, query=None, json_body=None,
             headers=None, expect=None, raw_body=None, content_type=None):
        """Send one request. template uses the spec's {name} placeholders;
        params fills them (each value percent-encoded as one path segment).
        expect: int or tuple of acceptable statuses (anything else raises).
        Returns (status, headers, parsed JSON body or raw bytes)."""
        path = template
        for k, v in (params or {}).items():
            path = path.replace("{%s}" % k, quote(str(v), safe="-._~@!$&'()*+,;=:"))
        if "{" in path:
            raise ValueError("unfilled path parameter in %s" % path)
        uri = path
        if query:
            uri += "?" + urlencode(query, doseq=True)
        hdrs = dict(self.headers)
        if self.cookies:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        elif raw_body is not None:
            body = raw_body
            hdrs["Content-Type"] = content_type or "application/octet-stream"
        if body is not None or method in ("POST", "PUT", "PATCH"):
            hdrs["Content-Length"] = str(len(body or b""))
        hdrs.update(headers or {})
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        if self.conn is None:
            self._connect()
        self.conn.request(method, uri, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        # ACK the response now instead of after the delayed-ACK timer: on a
        # busy 2-core machine the server's tail loss probe (a few ms on
        # loopback) otherwise fires first and the capture gets a
        # retransmission of the response's last segment.
        if self.conn.sock is not None:
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        self.count += 1
        LOG.write("%s\t%s\t%s\t%d\t%s\n" % (method, template, uri, resp.status, self.name))
        LOG.flush()
        for sc in resp.headers.get_all("Set-Cookie") or []:
            kv = sc.split(";", 1)[0]
            k, _, v = kv.partition("=")
            if v in ("", '""') or "max-age=0" in sc.lower() or "expires=thu, 01 jan 1970" in sc.lower():
                self.cookies.pop(k.strip(), None)
            else:
                self.cookies[k.strip()] = v.strip()
        if resp.will_close:
            self.close()
        if expect is not None:
            ok = expect if isinstance(expect, (tuple, list, set)) else (expect,)
            if resp.status not in ok:
                raise ExpectError("%s %s -> %d (expected %s): %r" % (method, uri, resp.status, expect, data[:300]))
        if resp.headers.get("Content-Encoding") == "gzip":  # none of the apps compresses today
            data = gzip.decompress(data)
        ctype = resp.headers.get("Content-Type", "")
        if data and "json" in ctype:
            return resp.status, resp.headers, json.loads(data)
        return resp.status, resp.headers, data


def run_actors(actors, seed):
    """Run generator actors interleaved: at each step pick a random live
    actor (seeded) and advance it by one request."""
    rnd = random.Random(seed)
    live = list(actors)
    while live:
        a = rnd.choice(live)
        try:
            next(a)
        except StopIteration:
            live.remove(a)


def main_log_arg():
    if len(sys.argv) < 3:
        sys.exit("usage: client.py PORT REQUEST_LOG")
    open_log(sys.argv[2])
    return int(sys.argv[1])
