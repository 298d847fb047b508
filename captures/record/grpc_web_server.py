#!/usr/bin/env python3
"""gRPC-Web server for grpc-web.pcap: shop.v1.OrderService and shop.v1.UserService
from record/grpc/shop.proto (the services of grpc-shop.pcap) as a sonora ASGI app
(sonora.asgi.grpcASGI) served by uvicorn over plain HTTP/1.1 (h11), no TLS, no HTTP/2.

usage: grpc_web_server.py GENDIR [PORT [BIND_ADDR]]     (default 8500 127.0.0.1)

GENDIR holds shop_pb2.py and shop_pb2_grpc.py, generated at record time with
  python3 -m grpc_tools.protoc -I record/grpc --python_out=GENDIR --grpc_python_out=GENDIR shop.proto
The servicers are async (grpcASGI awaits unary methods and iterates streaming ones
with "async for"; in sonora's ASGI context, abort is a coroutine).

  GetOrder(order_id)      -> the order; an unknown id: await context.abort(NOT_FOUND,
                             "order <id> not found")
  ListOrders(customer_id) -> stream of that customer's orders (at most page_size)
  GetUser(user_id)        -> UNAUTHENTICATED without "authorization: Bearer <TOKEN>",
                             else the user (fake PII: e-mail, phone, test card number)
  CreateOrder, UploadItems, Chat: not implemented (the client does not call them)

All data is fixed, so a re-recording sends the same messages.
"""
import sys

GENDIR = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8500
ADDR = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
sys.path.insert(0, GENDIR)

import grpc  # noqa: E402
import uvicorn  # noqa: E402
from sonora.asgi import grpcASGI  # noqa: E402

import shop_pb2 as pb  # noqa: E402
import shop_pb2_grpc as pb_grpc  # noqa: E402

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoic2hvcCJ9.c2hvcC1zaWduYXR1cmU"
CREATED = 1705320000  # 2024-01-15 12:00:00 UTC
HOME = pb.Address(street="1600 Pennsylvania Ave NW", city="Washington", postcode="20500")

ORDERS = {
    "o-1001": pb.Order(order_id="o-1001", customer_email="alice@example.com",
                       items=[pb.LineItem(sku="SKU-000123", qty=2, price=19.99),
                              pb.LineItem(sku="SKU-000456", qty=1, price=5.5)],
                       created_unix=CREATED, paid=True, shipping=HOME),
    "o-1002": pb.Order(order_id="o-1002", customer_email="alice@example.com",
                       items=[pb.LineItem(sku="SKU-000789", qty=3, price=7.25)],
                       created_unix=CREATED + 3600, paid=False, shipping=HOME),
    # 300 line items: a ~7.5 KB message, several TCP segments (and HTTP chunks)
    "o-1003": pb.Order(order_id="o-1003", customer_email="alice@example.com",
                       items=[pb.LineItem(sku="SKU-%06d" % (2000 + 11 * i), qty=1 + i % 4,
                                          price=round(1.25 + (29 * i % 500) / 10, 2))
                              for i in range(300)],
                       created_unix=CREATED + 7200, paid=True, shipping=HOME),
}
CUSTOMERS = {"cus-alice-01": "alice@example.com"}
USERS = {42: pb.User(id=42, name="Alice Example", email="alice@example.com",
                     phone="+1-202-555-0143", card_number="4111111111111111")}


class OrderService(pb_grpc.OrderServiceServicer):
    async def GetOrder(self, request, context):
        order = ORDERS.get(request.order_id)
        if order is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "order %s not found" % request.order_id)
        return order

    async def ListOrders(self, request, context):
        email = CUSTOMERS.get(request.customer_id)
        sent = 0
        for oid in sorted(ORDERS):
            if ORDERS[oid].customer_email == email and sent < request.page_size:
                sent += 1
                yield ORDERS[oid]


class UserService(pb_grpc.UserServiceServicer):
    async def GetUser(self, request, context):
        md = dict(context.invocation_metadata())
        if md.get("authorization") != "Bearer " + TOKEN:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or bad bearer token")
        user = USERS.get(request.user_id)
        if user is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "user %d not found" % request.user_id)
        return user


def main():
    app = grpcASGI()
    pb_grpc.add_OrderServiceServicer_to_server(OrderService(), app)
    pb_grpc.add_UserServiceServicer_to_server(UserService(), app)
    uvicorn.run(app, host=ADDR, port=PORT, http="h11", lifespan="off",
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
