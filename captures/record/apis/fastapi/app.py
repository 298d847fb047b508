"""Shop API (FastAPI + uvicorn) used to record captures/apis/fastapi-shop.pcap.

Run: uvicorn app:app --host 127.0.0.1 --port 8000
The OpenAPI document is FastAPI's own (/openapi.json). All data is made
from a fixed seed, so every run serves the same content.

Auth: Bearer HS256 JWT from POST /api/v1/auth/login (PyJWT), the
shop_session cookie set by the same login, an X-API-Key header for the
back office (/orders/..., PUT /products/...), HTTP Basic on /admin/metrics.
"""
import datetime as dt
import hashlib
import random
import secrets
import uuid
from enum import Enum
from ipaddress import IPv4Address
from typing import Annotated, Optional

import jwt
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Response, Security
from fastapi.responses import PlainTextResponse
from fastapi.security import (APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials,
                              HTTPBasic, HTTPBasicCredentials, HTTPBearer)
from pydantic import BaseModel, EmailStr, Field, HttpUrl

SECRET = "apisonar-shop-hs256-secret-key-0001"
ISSUED_AT = 1705320000   # 2024-01-15T12:00:00Z, fixed so tokens are reproducible
EXPIRES_AT = 1893456000  # 2030-01-01T00:00:00Z
API_KEYS = {"sk_live_4f9a1c2e8b7d6a5f3e2d1c0b": "backoffice"}
BASIC = ("ops", "m3trics-Pa55")
EPOCH = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.timezone.utc)

app = FastAPI(title="Acme Shop API", version="1.4.0",
              description="Users, orders and products of a small web shop.")

# ---------------------------------------------------------------- models


class Address(BaseModel):
    street: str
    city: str
    postal_code: str
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    line2: Optional[str] = None


class User(BaseModel):
    id: int
    username: str
    email: EmailStr
    full_name: Optional[str] = None
    role: str = "customer"
    avatar_url: Optional[HttpUrl] = None
    last_login_ip: Optional[IPv4Address] = None
    created_at: dt.datetime
    address: Optional[Address] = None
    tags: list[str] = []


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=32, pattern=r"^[a-z0-9_.-]+$")
    email: EmailStr
    full_name: Optional[str] = None
    password: str = Field(min_length=8)
    address: Optional[Address] = None
    tags: list[str] = []
    marketing_opt_in: bool = False


class UserUpdate(BaseModel):
    email: Optional[EmailStr] = None
    full_name: Optional[str] = None
    avatar_url: Optional[HttpUrl] = None
    address: Optional[Address] = None
    tags: Optional[list[str]] = None


class UserPage(BaseModel):
    items: list[User]
    total: int
    limit: int
    offset: int


class OrderStatus(str, Enum):
    pending = "pending"
    paid = "paid"
    shipped = "shipped"
    cancelled = "cancelled"


class OrderItem(BaseModel):
    sku: str
    quantity: int = Field(ge=1, le=99)
    unit_price: Optional[float] = None


class OrderCreate(BaseModel):
    items: list[OrderItem] = Field(min_length=1)
    shipping_address: Optional[Address] = None
    coupon: Optional[str] = None
    note: Optional[str] = Field(default=None, max_length=500)


class Order(BaseModel):
    id: uuid.UUID
    user_id: int
    status: OrderStatus
    created_at: dt.datetime
    items: list[OrderItem]
    total: float
    currency: str = "EUR"
    shipping_address: Optional[Address] = None
    tracking_url: Optional[HttpUrl] = None


class OrderPage(BaseModel):
    items: list[Order]
    total: int
    limit: int
    offset: int


class CancelRequest(BaseModel):
    reason: str
    notify_customer: bool = True


class Product(BaseModel):
    sku: str
    name: str
    category: str
    price: float
    currency: str = "EUR"
    stock: int
    image_url: HttpUrl
    updated_at: dt.datetime


class ProductUpdate(BaseModel):
    name: str
    category: str
    price: float = Field(gt=0)
    stock: int = Field(ge=0)
    image_url: HttpUrl


class ProductPage(BaseModel):
    items: list[Product]
    total: int


class LoginRequest(BaseModel):
    username: str
    password: str
    remember_me: bool = False


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime
    user_id: int


class Metrics(BaseModel):
    requests_total: int
    orders_total: int
    users_total: int
    uptime_seconds: int


class Health(BaseModel):
    status: str
    version: str


class Error(BaseModel):
    detail: str

# ------------------------------------------------------------------ data


rnd = random.Random(20240115)
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "uma", "victor",
         "walter", "xena", "yuri", "zoe", "quentin", "liam", "mia", "noah", "ava", "ethan",
         "lucas", "emma", "oliver", "sofia", "mateo", "chloe", "leo", "nora", "hugo",
         "ines", "tomas"]
CITIES = [("Berlin", "DE"), ("Lyon", "FR"), ("Porto", "PT"), ("Utrecht", "NL"),
          ("Graz", "AT"), ("Bologna", "IT"), ("Krakow", "PL"), ("Leeds", "GB")]
USERS: dict[int, dict] = {}
BY_NAME: dict[str, int] = {}
for i, name in enumerate(FIRST, start=1):
    uname = name if i % 3 else "%s.%s" % (name, rnd.choice(["k", "m", "w", "s"]))
    city, cc = rnd.choice(CITIES)
    USERS[i] = {
        "id": i, "username": uname, "email": "%s@example.com" % uname,
        "full_name": name.capitalize() + " " + rnd.choice(["Meyer", "Dubois", "Silva", "Jansen", "Rossi", "Nowak"]),
        "role": "admin" if i == 1 else "customer",
        "avatar_url": "https://cdn.example.com/avatars/%d.png" % i,
        "last_login_ip": "198.51.100.%d" % rnd.randrange(1, 255),
        "created_at": (EPOCH - dt.timedelta(days=rnd.randrange(30, 900), seconds=rnd.randrange(86400))).isoformat(),
        "address": {"street": "%d %s Street" % (rnd.randrange(1, 200), rnd.choice(["Oak", "Elm", "Birch", "Lime"])),
                    "city": city, "postal_code": "%05d" % rnd.randrange(10000, 99999), "country": cc},
        "tags": rnd.sample(["vip", "newsletter", "b2b", "wholesale", "beta"], rnd.randrange(0, 3)),
        "password": "pw-" + uname,
    }
    BY_NAME[uname] = i
NEXT_USER = [len(USERS) + 1]

CATEGORIES = ["keyboards", "mice", "monitors", "cables", "audio", "storage"]
PRODUCTS: dict[str, dict] = {}
for c in CATEGORIES:
    for n in range(5):
        sku = "%s-%s-%d" % (c[:-1] if c.endswith("s") else c, rnd.choice(["pro", "lite", "max", "mini", "air"]), 100 + n * 7)
        PRODUCTS[sku] = {"sku": sku, "name": sku.replace("-", " ").title(), "category": c,
                         "price": round(rnd.uniform(5, 400), 2), "currency": "EUR",
                         "stock": rnd.randrange(0, 500),
                         "image_url": "https://cdn.example.com/products/%s.jpg" % sku,
                         "updated_at": (EPOCH - dt.timedelta(hours=rnd.randrange(1, 2000))).isoformat()}

ORDERS: dict[str, dict] = {}


def _uuid():
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _order(uid, items, address=None, status=None):
    oid = _uuid()
    lines = [{"sku": it["sku"], "quantity": it["quantity"], "unit_price": PRODUCTS[it["sku"]]["price"]} for it in items]
    o = {"id": oid, "user_id": uid, "status": status or "pending",
         "created_at": (EPOCH + dt.timedelta(minutes=len(ORDERS) * 13)).isoformat(),
         "items": lines, "total": round(sum(x["unit_price"] * x["quantity"] for x in lines), 2),
         "currency": "EUR", "shipping_address": address or USERS[uid]["address"],
         "tracking_url": "https://track.example.net/p/%s" % oid[:8]}
    ORDERS[oid] = o
    return o


SKUS = sorted(PRODUCTS)
for uid in USERS:
    for _ in range(rnd.randrange(1, 4)):
        _order(uid, [{"sku": rnd.choice(SKUS), "quantity": rnd.randrange(1, 4)}],
               status=rnd.choice(["paid", "shipped", "shipped", "pending"]))

SESSIONS: dict[str, int] = {}
COUNTERS = {"requests": 0}

# ------------------------------------------------------------------ auth

bearer_scheme = HTTPBearer(auto_error=False, bearerFormat="JWT")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)
session_scheme = APIKeyCookie(name="shop_session", auto_error=False)
basic_scheme = HTTPBasic(realm="metrics")


def unauthorized(detail="Not authenticated", scheme="Bearer"):
    return HTTPException(401, detail, headers={"WWW-Authenticate": scheme})


def current_user(cred: Annotated[Optional[HTTPAuthorizationCredentials], Security(bearer_scheme)]) -> dict:
    if cred is None:
        raise unauthorized()
    try:
        claims = jwt.decode(cred.credentials, SECRET, algorithms=["HS256"], audience="shop-api")
    except jwt.PyJWTError:
        raise unauthorized("Invalid token", 'Bearer error="invalid_token"')
    user = USERS.get(int(claims["sub"]))
    if user is None:
        raise unauthorized("Unknown subject")
    return user


def session_user(sid: Annotated[Optional[str], Security(session_scheme)]) -> dict:
    uid = SESSIONS.get(sid or "")
    if uid is None:
        raise unauthorized("No valid session", 'Cookie realm="shop"')
    return USERS[uid]


def backoffice(key: Annotated[Optional[str], Security(api_key_scheme)]) -> str:
    if key is None:
        raise unauthorized("Missing API key", 'ApiKey header="X-API-Key"')
    if key not in API_KEYS:
        raise HTTPException(403, "Invalid API key")
    return API_KEYS[key]


def ops_user(cred: Annotated[HTTPBasicCredentials, Depends(basic_scheme)]) -> str:
    ok_u = secrets.compare_digest(cred.username, BASIC[0])
    ok_p = secrets.compare_digest(cred.password, BASIC[1])
    if not (ok_u and ok_p):
        raise unauthorized("Bad credentials", 'Basic realm="metrics"')
    return cred.username


def require_admin(user: dict):
    if user["role"] != "admin":
        raise HTTPException(403, "Admin role required")


def public(u: dict) -> dict:
    return {k: v for k, v in u.items() if k != "password"}


def get_user_or_404(user_id: int) -> dict:
    u = USERS.get(user_id)
    if u is None:
        raise HTTPException(404, "User %d not found" % user_id)
    return u


def get_order_or_404(order_id: uuid.UUID) -> dict:
    o = ORDERS.get(str(order_id))
    if o is None:
        raise HTTPException(404, "Order %s not found" % order_id)
    return o


ERR = {401: {"model": Error}, 404: {"model": Error}}
ERR403 = {401: {"model": Error}, 403: {"model": Error}, 404: {"model": Error}}
P = "/api/v1"
Bearer = Annotated[dict, Depends(current_user)]
UserId = Annotated[int, Path(ge=1, description="Numeric user id")]
OrderId = Annotated[uuid.UUID, Path(description="Order UUID")]
Sku = Annotated[str, Path(pattern=r"^[a-z0-9-]+$", description="Product SKU slug")]

# ---------------------------------------------------------------- routes


@app.post(P + "/auth/login", response_model=Token, tags=["auth"], responses={401: {"model": Error}})
def login(body: LoginRequest, response: Response):
    uid = BY_NAME.get(body.username)
    if uid is None or USERS[uid]["password"] != body.password:
        raise unauthorized("Invalid username or password")
    token = jwt.encode({"sub": str(uid), "name": body.username, "role": USERS[uid]["role"],
                        "aud": "shop-api", "iss": "https://shop.example.com",
                        "iat": ISSUED_AT, "exp": EXPIRES_AT}, SECRET, algorithm="HS256")
    sid = hashlib.sha256(("%s:%d" % (body.username, len(SESSIONS))).encode()).hexdigest()[:32]
    SESSIONS[sid] = uid
    response.set_cookie("shop_session", sid, httponly=True, samesite="lax", path="/",
                        max_age=30 * 86400 if body.remember_me else None)
    return {"access_token": token, "expires_at": dt.datetime.fromtimestamp(EXPIRES_AT, dt.timezone.utc), "user_id": uid}


@app.post(P + "/auth/logout", status_code=204, tags=["auth"], responses={401: {"model": Error}})
def logout(response: Response, user: Annotated[dict, Depends(session_user)],
           sid: Annotated[Optional[str], Security(session_scheme)]):
    SESSIONS.pop(sid, None)
    response.delete_cookie("shop_session", path="/")
    response.status_code = 204
    return None


@app.get(P + "/users", response_model=UserPage, tags=["users"], responses=ERR)
def list_users(user: Bearer,
               limit: Annotated[int, Query(ge=1, le=100)] = 20,
               offset: Annotated[int, Query(ge=0)] = 0,
               q: Annotated[Optional[str], Query(description="Substring of username or email")] = None,
               sort: Annotated[str, Query(pattern=r"^-?(id|username|created_at)$")] = "id"):
    rows = [public(u) for u in USERS.values() if not q or q in u["username"] or q in u["email"]]
    key = sort.lstrip("-")
    rows.sort(key=lambda u: u[key], reverse=sort.startswith("-"))
    return {"items": rows[offset:offset + limit], "total": len(rows), "limit": limit, "offset": offset}


@app.post(P + "/users", response_model=User, status_code=201, tags=["users"], responses=ERR403)
def create_user(body: UserCreate, user: Bearer, response: Response):
    require_admin(user)
    uid = NEXT_USER[0]
    NEXT_USER[0] += 1
    u = body.model_dump(mode="json", exclude={"marketing_opt_in"})
    u.update(id=uid, role="customer", created_at=(EPOCH + dt.timedelta(days=uid)).isoformat(),
             avatar_url=None, last_login_ip=None)
    USERS[uid] = u
    BY_NAME[u["username"]] = uid
    response.headers["Location"] = "%s/users/%d" % (P, uid)
    return public(u)


@app.get(P + "/users/me", response_model=User, tags=["users"], responses={401: {"model": Error}})
def get_me(user: Annotated[dict, Depends(session_user)]):
    return public(user)


@app.get(P + "/users/by-name/{username}", response_model=User, tags=["users"], responses=ERR)
def get_user_by_name(username: Annotated[str, Path(min_length=3, max_length=32)], user: Bearer):
    uid = BY_NAME.get(username)
    if uid is None or uid not in USERS:
        raise HTTPException(404, "No user named %s" % username)
    return public(USERS[uid])


@app.get(P + "/users/{user_id}", response_model=User, tags=["users"], responses=ERR)
def get_user(user_id: UserId, user: Bearer):
    return public(get_user_or_404(user_id))


@app.patch(P + "/users/{user_id}", response_model=User, tags=["users"], responses=ERR403)
def update_user(user_id: UserId, body: UserUpdate, user: Bearer):
    u = get_user_or_404(user_id)
    if user["id"] != user_id and user["role"] != "admin":
        raise HTTPException(403, "Cannot modify another user")
    u.update(body.model_dump(mode="json", exclude_unset=True))
    return public(u)


@app.delete(P + "/users/{user_id}", status_code=204, tags=["users"], responses=ERR403)
def delete_user(user_id: UserId, user: Bearer):
    require_admin(user)
    u = get_user_or_404(user_id)
    del USERS[user_id]
    BY_NAME.pop(u["username"], None)
    return Response(status_code=204)


@app.get(P + "/users/{user_id}/orders", response_model=OrderPage, tags=["orders"], responses=ERR403)
def list_user_orders(user_id: UserId, user: Bearer,
                     limit: Annotated[int, Query(ge=1, le=50)] = 10,
                     offset: Annotated[int, Query(ge=0)] = 0,
                     status: Optional[OrderStatus] = None):
    get_user_or_404(user_id)
    if user["id"] != user_id and user["role"] != "admin":
        raise HTTPException(403, "Not your orders")
    rows = [o for o in ORDERS.values() if o["user_id"] == user_id and (status is None or o["status"] == status.value)]
    return {"items": rows[offset:offset + limit], "total": len(rows), "limit": limit, "offset": offset}


@app.post(P + "/users/{user_id}/orders", response_model=Order, status_code=201, tags=["orders"], responses=ERR403)
def create_order(user_id: UserId, body: OrderCreate, user: Bearer, response: Response):
    get_user_or_404(user_id)
    if user["id"] != user_id:
        raise HTTPException(403, "Orders can only be placed by their owner")
    for it in body.items:
        if it.sku not in PRODUCTS:
            raise HTTPException(404, "Unknown SKU %s" % it.sku)
    o = _order(user_id, [it.model_dump() for it in body.items],
               body.shipping_address.model_dump() if body.shipping_address else None)
    response.headers["Location"] = "%s/users/%d/orders/%s" % (P, user_id, o["id"])
    return o


@app.get(P + "/users/{user_id}/orders/{order_id}", response_model=Order, tags=["orders"], responses=ERR403)
def get_user_order(user_id: UserId, order_id: OrderId, user: Bearer):
    if user["id"] != user_id and user["role"] != "admin":
        raise HTTPException(403, "Not your order")
    o = get_order_or_404(order_id)
    if o["user_id"] != user_id:
        raise HTTPException(404, "Order %s not found" % order_id)
    return o


@app.get(P + "/orders/export", response_class=PlainTextResponse, tags=["backoffice"],
         responses={200: {"content": {"text/csv": {}}}, 401: {"model": Error}, 403: {"model": Error}})
def export_orders(client: Annotated[str, Depends(backoffice)],
                  since: Annotated[Optional[dt.date], Query()] = None,
                  status: Optional[OrderStatus] = None,
                  limit: Annotated[int, Query(ge=1, le=100)] = 25):
    rows = [o for o in ORDERS.values()
            if (since is None or o["created_at"][:10] >= since.isoformat())
            and (status is None or o["status"] == status.value)][:limit]
    lines = ["id,user_id,status,total,created_at"] + [
        "%s,%d,%s,%.2f,%s" % (o["id"], o["user_id"], o["status"], o["total"], o["created_at"]) for o in rows]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/csv",
                             headers={"Content-Disposition": 'attachment; filename="orders.csv"'})


@app.get(P + "/orders/{order_id}", response_model=Order, tags=["backoffice"], responses=ERR403)
def get_order(order_id: OrderId, client: Annotated[str, Depends(backoffice)]):
    return get_order_or_404(order_id)


@app.delete(P + "/orders/{order_id}", status_code=204, tags=["backoffice"], responses=ERR403)
def delete_order(order_id: OrderId, client: Annotated[str, Depends(backoffice)]):
    get_order_or_404(order_id)
    del ORDERS[str(order_id)]
    return Response(status_code=204)


@app.post(P + "/orders/{order_id}/cancel", response_model=Order, tags=["orders"], responses=ERR403)
def cancel_order(order_id: OrderId, body: CancelRequest, user: Bearer):
    o = get_order_or_404(order_id)
    if o["user_id"] != user["id"] and user["role"] != "admin":
        raise HTTPException(403, "Not your order")
    o["status"] = "cancelled"
    return o


@app.get(P + "/products", response_model=ProductPage, tags=["catalog"])
def list_products(q: Optional[str] = None, category: Optional[str] = None,
                  limit: Annotated[int, Query(ge=1, le=50)] = 10,
                  offset: Annotated[int, Query(ge=0)] = 0,
                  sort: Annotated[str, Query(pattern=r"^-?(price|name|updated_at)$")] = "name"):
    rows = [p for p in PRODUCTS.values()
            if (not q or q.lower() in p["name"].lower()) and (not category or p["category"] == category)]
    rows.sort(key=lambda p: p[sort.lstrip("-")], reverse=sort.startswith("-"))
    return {"items": rows[offset:offset + limit], "total": len(rows)}


@app.get(P + "/products/{sku}", response_model=Product, tags=["catalog"], responses={404: {"model": Error}})
def get_product(sku: Sku):
    p = PRODUCTS.get(sku)
    if p is None:
        raise HTTPException(404, "No product %s" % sku)
    return p


@app.put(P + "/products/{sku}", response_model=Product, tags=["backoffice"], responses=ERR403)
def put_product(sku: Sku, body: ProductUpdate, client: Annotated[str, Depends(backoffice)]):
    p = PRODUCTS.get(sku)
    if p is None:
        raise HTTPException(404, "No product %s" % sku)
    p.update(body.model_dump(mode="json"))
    p["updated_at"] = (EPOCH + dt.timedelta(days=1)).isoformat()
    return p


@app.get(P + "/categories/{slug}/products", response_model=ProductPage, tags=["catalog"],
         responses={404: {"model": Error}})
def category_products(slug: Annotated[str, Path(pattern=r"^[a-z0-9-]+$")],
                      limit: Annotated[int, Query(ge=1, le=50)] = 10,
                      offset: Annotated[int, Query(ge=0)] = 0):
    if slug not in CATEGORIES:
        raise HTTPException(404, "No category %s" % slug)
    rows = [p for p in PRODUCTS.values() if p["category"] == slug]
    return {"items": rows[offset:offset + limit], "total": len(rows)}


@app.get(P + "/admin/metrics", response_model=Metrics, tags=["admin"], responses={401: {"model": Error}})
def metrics(who: Annotated[str, Depends(ops_user)]):
    return {"requests_total": 15234, "orders_total": len(ORDERS), "users_total": len(USERS),
            "uptime_seconds": 86400}


@app.post(P + "/webhooks/{webhook_id}/test", status_code=202, tags=["admin"], responses={401: {"model": Error}})
def test_webhook(webhook_id: uuid.UUID, who: Annotated[str, Depends(ops_user)]):
    return {"webhook_id": str(webhook_id), "queued": True}


@app.get(P + "/health", response_model=Health, tags=["meta"])
def health():
    return {"status": "ok", "version": "1.4.0"}
