#!/usr/bin/env python3
"""gRPC server (grpcio) for grpc-shop.pcap: shop.v1.OrderService and
shop.v1.UserService from record/grpc/shop.proto, on an insecure port, i.e.
cleartext HTTP/2 with prior knowledge (h2c).

usage: grpc_server.py GENDIR [PORT [BIND_ADDR]]     (default 50051 127.0.0.1)

GENDIR holds shop_pb2.py and shop_pb2_grpc.py, generated at record time with
  python3 -m grpc_tools.protoc -I record/grpc --python_out=GENDIR --grpc_python_out=GENDIR shop.proto

  GetOrder(order_id)      -> the order; an unknown id: aborts with NOT_FOUND
                             "order <id> not found" (Trailers-Only); "o-slow": a call
                             with a deadline is aborted with DEADLINE_EXCEEDED 100 ms
                             before the deadline, one without waits until the client
                             cancels it (at most 3 s)
  CreateOrder(Order)      -> the order with an id and creation time, the response
                             gzip-compressed (context.set_compression)
  ListOrders(customer_id) -> stream of that customer's orders (at most page_size)
  UploadItems(stream)     -> UploadSummary with the number of items received
  Chat(stream)            -> one reply per message, as it arrives
  GetUser(user_id)        -> UNAUTHENTICATED without "authorization: Bearer <TOKEN>"
                             metadata, else the user (fake PII: e-mail, phone, test card)

All data is fixed, so a re-recording sends the same messages.
"""
import sys
import time
from concurrent import futures

GENDIR = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 50051
ADDR = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
sys.path.insert(0, GENDIR)

import grpc  # noqa: E402

import shop_pb2 as pb  # noqa: E402
import shop_pb2_grpc as pb_grpc  # noqa: E402

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoic2hvcCJ9.c2hvcC1zaWduYXR1cmU"
CREATED = 1705320000  # 2024-01-15 12:00:00 UTC

ALICE_HOME = pb.Address(street="1600 Pennsylvania Ave NW", city="Washington", postcode="20500")
BOB_HOME = pb.Address(street="221B Baker Street", city="London", postcode="NW1 6XE")

ORDERS = {
    "o-1001": pb.Order(order_id="o-1001", customer_email="alice@example.com",
                       items=[pb.LineItem(sku="SKU-000123", qty=2, price=19.99),
                              pb.LineItem(sku="SKU-000456", qty=1, price=5.5)],
                       created_unix=CREATED, paid=True, shipping=ALICE_HOME),
    "o-1002": pb.Order(order_id="o-1002", customer_email="alice@example.com",
                       items=[pb.LineItem(sku="SKU-000789", qty=3, price=7.25)],
                       created_unix=CREATED + 3600, paid=False, shipping=ALICE_HOME),
    # a bulk order: 800 line items, a ~20 KB message (over the 16 KB default HTTP/2
    # frame size, so it needs 2 DATA frames and many TCP segments)
    "o-1003": pb.Order(order_id="o-1003", customer_email="alice@example.com",
                       items=[pb.LineItem(sku="SKU-%06d" % (1000 + 7 * i), qty=1 + i % 5,
                                          price=round(0.5 + (37 * i % 1000) / 10, 2))
                              for i in range(800)],
                       created_unix=CREATED + 7200, paid=True, shipping=ALICE_HOME),
    "o-1004": pb.Order(order_id="o-1004", customer_email="bob@example.com",
                       items=[pb.LineItem(sku="SKU-000999", qty=1, price=249.0)],
                       created_unix=CREATED + 86400, paid=True, shipping=BOB_HOME),
}
CUSTOMERS = {"cus-alice-01": "alice@example.com", "cus-bob-02": "bob@example.com"}
USERS = {
    42: pb.User(id=42, name="Alice Example", email="alice@example.com",
                phone="+1-202-555-0143", card_number="4111111111111111"),
    43: pb.User(id=43, name="Bob Example", email="bob@example.com",
                phone="+1-202-555-0178", card_number="5555555555554444"),
}
NEXT_ORDER = [2001]


class OrderService(pb_grpc.OrderServiceServicer):
    def GetOrder(self, request, context):
        if request.order_id == "o-slow":
            # A slow lookup. With a deadline (grpc-timeout), give up 100 ms before it
            # and answer DEADLINE_EXCEEDED, as a server propagating deadlines to its
            # backends does: this way the server's answer always comes before the
            # client's and the server's own deadline timers fire (they race).
            # Without a deadline, wait until the client cancels (at most 3 s).
            end = time.monotonic() + 3.0
            while context.is_active() and time.monotonic() < end:
                left = context.time_remaining()
                if left is not None and left < 0.1:
                    context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                  "deadline exceeded while looking up order o-slow")
                time.sleep(0.01)
            return pb.Order(order_id="o-slow")
        order = ORDERS.get(request.order_id)
        if order is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "order %s not found" % request.order_id)
        return order

    def CreateOrder(self, request, context):
        context.set_compression(grpc.Compression.Gzip)
        order = pb.Order()
        order.CopyFrom(request)
        order.order_id = "o-%d" % NEXT_ORDER[0]
        NEXT_ORDER[0] += 1
        order.created_unix = CREATED + 172800
        ORDERS[order.order_id] = order
        return order

    def ListOrders(self, request, context):
        email = CUSTOMERS.get(request.customer_id)
        sent = 0
        for oid in sorted(ORDERS):
            if ORDERS[oid].customer_email == email and sent < request.page_size:
                sent += 1
                yield ORDERS[oid]

    def UploadItems(self, request_iterator, context):
        return pb.UploadSummary(count=sum(1 for _ in request_iterator))

    def Chat(self, request_iterator, context):
        for msg in request_iterator:
            yield pb.ChatMessage(user="support-bot",
                                 text="Hi %s, got it: %s" % (msg.user, msg.text))


class UserService(pb_grpc.UserServiceServicer):
    def GetUser(self, request, context):
        md = dict(context.invocation_metadata())
        if md.get("authorization") != "Bearer " + TOKEN:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or bad bearer token")
        user = USERS.get(request.user_id)
        if user is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "user %d not found" % request.user_id)
        return user


def main():
    options = [
        ("grpc.http2.bdp_probe", 0),          # no BDP PINGs
        ("grpc.keepalive_time_ms", 3600000),  # no keepalive PINGs during the recording
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
    pb_grpc.add_OrderServiceServicer_to_server(OrderService(), server)
    pb_grpc.add_UserServiceServicer_to_server(UserService(), server)
    server.add_insecure_port("%s:%d" % (ADDR, PORT))
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
