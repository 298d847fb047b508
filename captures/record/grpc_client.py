#!/usr/bin/env python3
"""gRPC client (grpcio) for grpc-shop.pcap: ONE insecure channel, so ONE
cleartext HTTP/2 connection with prior knowledge, to grpc_server.py. The calls
go one after the other (client streams 1, 3, 5, ...):

   1  OrderService/GetOrder     o-1001                          -> OK
   3  OrderService/GetOrder     o-404                           -> NOT_FOUND "order o-404 not found"
   5  OrderService/CreateOrder  compression=Gzip on the call: the request message is
                                gzip-compressed (compressed flag 1, grpc-encoding: gzip);
                                the server compresses its response too   -> OK
   7  OrderService/ListOrders   page_size 3, cus-alice-01: 3 response messages, the third
                                (o-1003, 800 line items) ~20 KB: 2 DATA frames -> OK
   9  OrderService/UploadItems  4 request messages -> UploadSummary{count: 4}
  11  OrderService/Chat         2 messages each way, ping-pong (each request is sent
                                after the previous reply arrived)
  13  UserService/GetUser       42 without authorization        -> UNAUTHENTICATED
  15  UserService/GetUser       42 with "authorization: Bearer <token>" -> OK (fake PII)
  17  OrderService/GetOrder     o-slow with a 300 ms deadline (grpc-timeout: 301m): the
                                server gives up 100 ms before it -> DEADLINE_EXCEEDED
                                "deadline exceeded while looking up order o-slow"
  19  OrderService/GetOrder     o-slow without deadline, cancelled by the client after
                                200 ms: RST_STREAM CANCEL, no response at all
then the channel is closed (FIN, no GOAWAY).

usage: grpc_client.py GENDIR [PORT [HOST]]     (default 50051 127.0.0.1)
Prints one line per call to stderr; exits 1 if a call does not end as planned.
"""
import queue
import sys
import time

GENDIR = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 50051
HOST = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
sys.path.insert(0, GENDIR)

import grpc  # noqa: E402

import shop_pb2 as pb  # noqa: E402
import shop_pb2_grpc as pb_grpc  # noqa: E402

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoic2hvcCJ9.c2hvcC1zaWduYXR1cmU"
failures = []


def log(call, result, expected):
    ok = result == expected
    print("%-32s %-20s%s" % (call, result, "" if ok else "  (expected %s)" % expected),
          file=sys.stderr)
    if not ok:
        failures.append(call)


def code_of(fn):
    try:
        return "OK", fn()
    except grpc.RpcError as e:
        return e.code().name, None


def main():
    options = [
        ("grpc.http2.bdp_probe", 0),    # no BDP PINGs
        ("grpc.enable_retries", 0),     # no transparent retries
        ("grpc.keepalive_time_ms", 3600000),
    ]
    channel = grpc.insecure_channel("%s:%d" % (HOST, PORT), options=options)
    grpc.channel_ready_future(channel).result(timeout=5)
    orders = pb_grpc.OrderServiceStub(channel)
    users = pb_grpc.UserServiceStub(channel)

    code, order = code_of(lambda: orders.GetOrder(pb.GetOrderRequest(order_id="o-1001")))
    log("GetOrder o-1001", code, "OK")

    try:
        orders.GetOrder(pb.GetOrderRequest(order_id="o-404"))
        log("GetOrder o-404", "OK", "NOT_FOUND")
    except grpc.RpcError as e:
        log("GetOrder o-404", "%s %r" % (e.code().name, e.details()),
            "NOT_FOUND 'order o-404 not found'")

    # Repetitive enough that gzip makes it smaller: grpc sends a message uncompressed
    # (flag 0) when compressing would not shrink it.
    new = pb.Order(customer_email="carol.jones@example.com",
                   items=[pb.LineItem(sku="SKU-%06d" % (100 + i), qty=1 + i % 3,
                                      price=9.99 + i) for i in range(8)],
                   paid=False,
                   shipping=pb.Address(street="742 Evergreen Terrace", city="Springfield",
                                       postcode="97403"))
    code, created = code_of(lambda: orders.CreateOrder(new, compression=grpc.Compression.Gzip))
    log("CreateOrder (gzip)", code + (" " + created.order_id if created else ""), "OK o-2001")

    code, listed = code_of(lambda: [o.order_id for o in orders.ListOrders(
        pb.ListOrdersRequest(page_size=3, customer_id="cus-alice-01"))])
    log("ListOrders", "%s %s" % (code, listed), "OK ['o-1001', 'o-1002', 'o-1003']")

    items = [pb.LineItem(sku="SKU-0005%02d" % i, qty=i + 1, price=1.25 * (i + 1))
             for i in range(4)]
    code, summary = code_of(lambda: orders.UploadItems(iter(items)))
    log("UploadItems", "%s %s" % (code, summary.count if summary else None), "OK 4")

    # bidi ping-pong: the request iterator hands over the next message only after
    # the reply to the previous one has been read
    outbox = queue.Queue()
    texts = ["Where is my order o-1002?", "Thanks, please ship it to my office."]
    outbox.put(pb.ChatMessage(user="alice", text=texts[0]))

    def requests():
        while True:
            msg = outbox.get()
            if msg is None:
                return
            yield msg

    replies = []
    try:
        for reply in orders.Chat(requests()):
            replies.append(reply.text)
            outbox.put(pb.ChatMessage(user="alice", text=texts[len(replies)])
                       if len(replies) < len(texts) else None)
        log("Chat", "OK %d replies" % len(replies), "OK 2 replies")
    except grpc.RpcError as e:
        log("Chat", e.code().name, "OK")

    code, _ = code_of(lambda: users.GetUser(pb.GetUserRequest(user_id=42)))
    log("GetUser 42 (no auth)", code, "UNAUTHENTICATED")
    code, user = code_of(lambda: users.GetUser(
        pb.GetUserRequest(user_id=42), metadata=(("authorization", "Bearer " + TOKEN),)))
    log("GetUser 42 (Bearer)", code + (" " + user.email if user else ""), "OK alice@example.com")

    code, _ = code_of(lambda: orders.GetOrder(pb.GetOrderRequest(order_id="o-slow"),
                                              timeout=0.3))
    log("GetOrder o-slow (300 ms)", code, "DEADLINE_EXCEEDED")

    fut = orders.GetOrder.future(pb.GetOrderRequest(order_id="o-slow"))
    time.sleep(0.2)
    fut.cancel()
    log("GetOrder o-slow (cancelled)", "CANCELLED" if fut.cancelled() else "not cancelled",
        "CANCELLED")

    time.sleep(0.3)
    channel.close()
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
