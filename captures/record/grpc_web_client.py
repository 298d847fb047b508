#!/usr/bin/env python3
"""gRPC-Web client for grpc-web.pcap: sonora's synchronous client
(sonora.client.insecure_web_channel, urllib3 underneath) against grpc_web_server.py.
Each call is an HTTP/1.1 POST with content-type application/grpc-web+proto and one
length-prefixed request message:

  OrderService/GetOrder    o-1001                           -> OK (1 message + trailer frame)
  OrderService/GetOrder    o-404                            -> NOT_FOUND "order o-404 not found"
  OrderService/ListOrders  page_size 3, cus-alice-01        -> 3 messages + trailer frame
  UserService/GetUser      42 with "authorization: Bearer"  -> OK (fake PII)

The generated stubs pass _registered_method=True to channel.unary_unary, which sonora's
WebChannel does not accept, so the multicallables are made here from the method paths
and the generated message classes.

usage: grpc_web_client.py GENDIR [URL]     (default http://127.0.0.1:8500)
Prints one line per call to stderr; exits 1 if a call does not end as planned.
"""
import sys

GENDIR = sys.argv[1]
URL = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8500"
sys.path.insert(0, GENDIR)

import grpc  # noqa: E402
import sonora.client  # noqa: E402

import shop_pb2 as pb  # noqa: E402

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoic2hvcCJ9.c2hvcC1zaWduYXR1cmU"
failures = []


def log(call, result, expected):
    print("%-24s %s%s" % (call, result, "" if result == expected else "  (expected %s)" % expected),
          file=sys.stderr)
    if result != expected:
        failures.append(call)


def outcome(fn):
    try:
        return "OK " + fn()
    except grpc.RpcError as e:
        return "%s %r" % (e.code().name, e.details())


def main():
    with sonora.client.insecure_web_channel(URL) as channel:
        get_order = channel.unary_unary("/shop.v1.OrderService/GetOrder",
                                        pb.GetOrderRequest.SerializeToString,
                                        pb.Order.FromString)
        list_orders = channel.unary_stream("/shop.v1.OrderService/ListOrders",
                                           pb.ListOrdersRequest.SerializeToString,
                                           pb.Order.FromString)
        get_user = channel.unary_unary("/shop.v1.UserService/GetUser",
                                       pb.GetUserRequest.SerializeToString,
                                       pb.User.FromString)

        log("GetOrder o-1001",
            outcome(lambda: get_order(pb.GetOrderRequest(order_id="o-1001")).customer_email),
            "OK alice@example.com")
        log("GetOrder o-404",
            outcome(lambda: get_order(pb.GetOrderRequest(order_id="o-404")).order_id),
            "NOT_FOUND 'order o-404 not found'")
        log("ListOrders cus-alice-01",
            outcome(lambda: " ".join(o.order_id for o in list_orders(
                pb.ListOrdersRequest(page_size=3, customer_id="cus-alice-01")))),
            "OK o-1001 o-1002 o-1003")
        log("GetUser 42",
            outcome(lambda: "%s %s %s" % (lambda u: (u.email, u.phone, u.card_number))(get_user(
                pb.GetUserRequest(user_id=42),
                metadata=[("authorization", "Bearer " + TOKEN)]))),
            "OK alice@example.com +1-202-555-0143 4111111111111111")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
