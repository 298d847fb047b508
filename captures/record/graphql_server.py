#!/usr/bin/env python3
"""GraphQL API for graphql-api.pcap: a strawberry-graphql schema served by uvicorn.

Usage: graphql_server.py [PORT]          serve on 127.0.0.1:PORT (default 8300), HTTP/1.1
       graphql_server.py --print-schema  print the schema as SDL (strawberry's printer,
                                         the one `strawberry export-schema` uses)

Endpoint: /graphql, POST (application/json, also batches: a JSON array of up to 5
operations) and GET (?query=...&variables=...&operationName=...; queries only).
The GraphiQL page is off. Data is fixed, so every recording gets the same answers.
"""
import sys
from typing import List, Optional

import strawberry
from strawberry.schema.config import StrawberryConfig

USERS = {
    "1": ("Alice Example", "alice@example.com"),
    "2": ("Bob Builder", "bob@example.com"),
    "3": ("Carol Danvers", "carol@example.com"),
}
ORDERS = [("ord-%04d" % i, round(19.99 * i, 2)) for i in range(1, 9)]


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    email: str


@strawberry.type
class Order:
    id: strawberry.ID
    total: float
    status: str


@strawberry.input
class OrderLineInput:
    sku: str
    qty: int


@strawberry.input
class AddressInput:
    street: str
    city: str
    zip: str


@strawberry.input
class OrderInput:
    customer_email: str
    lines: List[OrderLineInput]
    shipping: Optional[AddressInput] = None


def make_user(uid):
    name, email = USERS[uid]
    return User(id=strawberry.ID(uid), name=name, email=email)


@strawberry.type
class Query:
    @strawberry.field
    def user(self, id: strawberry.ID) -> Optional[User]:
        return make_user(id) if id in USERS else None

    @strawberry.field
    def me(self) -> User:
        return make_user("1")

    @strawberry.field
    def orders(self, first: int = 10) -> List[Order]:
        return [Order(id=strawberry.ID(i), total=t, status="paid") for i, t in ORDERS[:first]]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def add_order(self, input: OrderInput) -> Order:
        total = round(sum(9.5 * line.qty for line in input.lines), 2)
        return Order(id=strawberry.ID("ord-%04d" % (len(ORDERS) + 1)), total=total,
                     status="created")

    @strawberry.mutation
    def cancel_order(self, id: strawberry.ID) -> bool:
        return any(i == id for i, _ in ORDERS)


schema = strawberry.Schema(query=Query, mutation=Mutation,
                           config=StrawberryConfig(batching_config={"max_operations": 5}))


def main():
    if sys.argv[1:] == ["--print-schema"]:
        from strawberry.printer import print_schema
        print(print_schema(schema))
        return
    import uvicorn
    from strawberry.asgi import GraphQL

    app = GraphQL(schema, graphql_ide=None, allow_queries_via_get=True)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8300
    uvicorn.run(app, host="127.0.0.1", port=port, http="h11", log_level="warning",
                server_header=True, date_header=True)


if __name__ == "__main__":
    main()
