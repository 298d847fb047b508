#!/usr/bin/env python3
"""HTTP/2 client for h2c-api.pcap: the python "h2" library (protocol state
machine and HPACK) over one plain TCP socket, cleartext with prior knowledge
(connection preface "PRI * HTTP/2.0" + SETTINGS, no Upgrade).

usage: h2_client.py [PORT [HOST]]     (default 8200 127.0.0.1)

Everything goes over ONE connection, client streams 1, 3, 5, ...:
  1      GET    /api/v2/users/1                       (cookie)
  3,5,7  three GETs whose HEADERS go out together before any response is read:
         /api/v2/catalog (~40 KB, several DATA frames), /api/v2/users?limit=10,
         /api/v2/orders/{uuid}; the responses interleave
  9      POST   /api/v2/orders, Bearer token, JSON body in 2 DATA frames
         (2 writes) -> 201
  11     GET    /api/v2/admin/stats without authorization -> 401
  13     GET    /api/v2/admin/stats with authorization: Bearer -> 200
  15     GET    /api/v2/reports/daily, accept-encoding: gzip -> gzip JSON
  17     GET    /api/v2/orders/{new uuid} -> 200
  19     DELETE /api/v2/orders/{new uuid} -> 204
  21     GET    /api/v2/no/such/thing -> 404
  23     GET    /api/v2/stream-with-trailers, te: trailers -> 200 + trailer x-checksum
  25     GET    /api/v2/exports/slow, then at once RST_STREAM (CANCEL): no response
then GOAWAY (NO_ERROR). The same header fields recur on every request, so h2's
HPACK encoder serves them from the dynamic table; the cookie header is split
into one field per crumb, and h2 sends authorization and the short crumb
(< 20 bytes) as never-indexed literals. Prints one line per stream to stderr.
"""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8200
HOST = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
AUTHORITY = "%s:%d" % (HOST, PORT)
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoiYWRtaW4ifQ.c2lnbmF0dXJl"
COOKIE = "session=sess-7f3a9c2e41d8a6b5; theme=dark"
ORDER = "3f1c9a2e-7b4d-4e8a-9c61-2d5e8f0a1b37"


class Client:
    def __init__(self):
        self.sock = socket.create_connection((HOST, PORT))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # split_outbound_cookies: one "cookie" field per crumb (RFC 9113 8.2.3), as
        # browsers do for better compression
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        split_outbound_cookies=True)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.streams = {}
        self.conn.initiate_connection()  # preface + SETTINGS
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def headers(self, method, path, extra=(), end_stream=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "http"), (":authority", AUTHORITY),
                (":path", path), ("user-agent", "apisonar-h2-client/1.0"),
                ("accept", "application/json"), ("cookie", COOKIE)] + list(extra)
        self.conn.send_headers(sid, hdrs, end_stream=end_stream)
        self.streams[sid] = {"method": method, "path": path, "status": None,
                             "headers": {}, "body": b"", "trailers": None,
                             "done": False, "reset": None}
        return sid

    def wait(self, *sids):
        """Read frames until all the given streams are finished."""
        while not all(self.streams[s]["done"] for s in sids):
            data = self.sock.recv(65536)
            if not data:
                raise SystemExit("server closed the connection")
            for ev in self.conn.receive_data(data):
                st = self.streams.get(getattr(ev, "stream_id", None))
                if isinstance(ev, h2.events.ResponseReceived):
                    st["headers"] = dict(ev.headers)
                    st["status"] = st["headers"][":status"]
                elif isinstance(ev, h2.events.DataReceived):
                    st["body"] += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length,
                                                        ev.stream_id)
                elif isinstance(ev, h2.events.TrailersReceived):
                    st["trailers"] = dict(ev.headers)
                elif isinstance(ev, h2.events.StreamEnded):
                    st["done"] = True
                elif isinstance(ev, h2.events.StreamReset):
                    st["done"], st["reset"] = True, ev.error_code
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    raise SystemExit("GOAWAY from server: %r" % ev)
            self.flush()
        for s in sids:
            self.log(s)

    def log(self, sid):
        st = self.streams[sid]
        print("stream %d: %s %s -> %s, %d body bytes%s%s" % (
            sid, st["method"], st["path"], st["status"] or "-", len(st["body"]),
            ", content-encoding %s" % st["headers"]["content-encoding"]
            if "content-encoding" in st["headers"] else "",
            ", trailers %s" % st["trailers"] if st["trailers"] else ""), file=sys.stderr)

    def get(self, path, extra=()):
        sid = self.headers("GET", path, extra)
        self.flush()
        self.wait(sid)
        return self.streams[sid]


def main():
    c = Client()
    bearer = [("authorization", "Bearer " + TOKEN)]
    c.get("/api/v2/users/1")

    # three streams opened before reading any response: one write, 3 HEADERS frames
    trio = [c.headers("GET", "/api/v2/catalog"),
            c.headers("GET", "/api/v2/users?limit=10"),
            c.headers("GET", "/api/v2/orders/" + ORDER)]
    c.flush()
    c.wait(*trio)

    # POST with its JSON body split over two DATA frames, sent in two writes
    body = json.dumps({"user_id": 3, "currency": "EUR",
                       "lines": [{"sku": "SKU-000123", "qty": 1},
                                 {"sku": "SKU-000789", "qty": 4}],
                       "note": "leave at the door"}, separators=(",", ":")).encode()
    sid = c.headers("POST", "/api/v2/orders", bearer + [
        ("content-type", "application/json"), ("content-length", str(len(body)))],
        end_stream=False)
    half = len(body) // 2
    c.conn.send_data(sid, body[:half])
    c.flush()
    time.sleep(0.05)
    c.conn.send_data(sid, body[half:], end_stream=True)
    c.flush()
    c.wait(sid)
    new_order = json.loads(c.streams[sid]["body"])["order_id"]

    c.get("/api/v2/admin/stats")            # no authorization: 401
    c.get("/api/v2/admin/stats", bearer)    # 200
    c.get("/api/v2/reports/daily", [("accept-encoding", "gzip, deflate")])
    c.get("/api/v2/orders/" + new_order)
    sid = c.headers("DELETE", "/api/v2/orders/" + new_order, bearer)
    c.flush()
    c.wait(sid)
    c.get("/api/v2/no/such/thing")
    c.get("/api/v2/stream-with-trailers", [("te", "trailers")])

    # a stream the client gives up on right after its HEADERS
    sid = c.headers("GET", "/api/v2/exports/slow")
    c.flush()
    c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    c.flush()
    print("stream %d: GET /api/v2/exports/slow -> reset by the client (CANCEL)" % sid,
          file=sys.stderr)
    time.sleep(0.3)

    c.conn.close_connection()  # GOAWAY, NO_ERROR
    c.flush()
    c.sock.settimeout(2.0)
    try:
        while c.sock.recv(65536):
            pass
    except socket.timeout:
        print("server did not close after GOAWAY", file=sys.stderr)
    c.sock.close()


if __name__ == "__main__":
    main()
