#!/usr/bin/env python3
"""Traffic for fastapi-shop.pcap: usage client.py PORT REQUEST_LOG

Actors (interleaved, seeded), each on its own keep-alive connection(s):
  admin      127.0.0.1  python-requests UA: login, user admin (list/search/
                        get/by-name/create/patch/delete), metrics (Basic)
  shoppers   127.0.0.2  Firefox UA: login (cookie + JWT), /users/me by cookie,
                        catalog browsing, own orders, new orders, logout
  mobile     127.0.0.3  okhttp UA: JWT only, own orders, cancel, profile
  backoffice 127.0.0.3  X-API-Key: orders export (CSV), orders by UUID,
                        product updates
  probe      127.0.0.1  kube-probe UA: /health
Never called (orphans): DELETE /api/v1/orders/{order_id},
POST /api/v1/webhooks/{webhook_id}/test.
"""
import base64
import csv
import io
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from traffic import Client, main_log_arg, run_actors  # noqa: E402

P = "/api/v1"
R = random.Random(4242)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
OKHTTP = "AcmeShop/3.4.1 (Android 14; Pixel 7) okhttp/4.12.0"
REQUESTS = "python-requests/2.32.3"
BACKOFFICE = "acme-backoffice-sync/2.3.0 (+https://ops.example.com/sync)"
API_KEY = "sk_live_4f9a1c2e8b7d6a5f3e2d1c0b"

USERS = {}      # username -> id (from the admin's listing)
SKUS = []
CATEGORIES = []


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def login(c, username, password=None, remember=False):
    st, _, body = c.call("POST", P + "/auth/login",
                         json_body={"username": username, "password": password or "pw-" + username,
                                    "remember_me": remember}, expect=(200, 401))
    return body["access_token"] if st == 200 else None


def address(city):
    a = {"street": "%d Harbour Road" % R.randrange(1, 99), "city": city,
         "postal_code": "%05d" % R.randrange(10000, 99999), "country": R.choice(["DE", "FR", "NL"])}
    if R.random() < 0.4:
        a["line2"] = "Apt %d" % R.randrange(1, 40)
    return a


def bootstrap(port):
    """The admin's first steps, before the other actors start: log in and
    page through all users (they discover the user names from this)."""
    c = Client("admin", port, "127.0.0.1", REQUESTS)
    tok = login(c, "alice")
    h = bearer(tok)
    c.call("GET", P + "/users", headers={}, expect=401)  # forgot the token
    off = 0
    while True:
        _, _, page = c.call("GET", P + "/users", query={"limit": 15, "offset": off}, headers=h, expect=200)
        for u in page["items"]:
            USERS[u["username"]] = u["id"]
        off += 15
        if off >= page["total"]:
            break
    _, _, cat = c.call("GET", P + "/products", query={"limit": 50}, expect=200)
    for p in cat["items"]:
        SKUS.append(p["sku"])
        if p["category"] not in CATEGORIES:
            CATEGORIES.append(p["category"])
    return c, tok


def admin(c, tok):
    h = bearer(tok)
    names = sorted(USERS)
    for q in ["an", "li", "example.com", "zz", "o"]:
        c.call("GET", P + "/users", query={"q": q, "limit": 10}, headers=h, expect=200)
        yield
    for s in ["username", "-created_at", "-id", "created_at"]:
        c.call("GET", P + "/users", query={"sort": s, "limit": R.choice([5, 10, 20]), "offset": R.choice([0, 5, 10])},
               headers=h, expect=200)
        yield
    ids = list(range(1, 41)) + [41, 57, 99, 404, 1234]
    R.shuffle(ids)
    for uid in ids:
        c.call("GET", P + "/users/{user_id}", {"user_id": uid}, headers=h, expect=(200, 404))
        yield
    lookups = R.sample(names, 16) + ["nobody", "ghost.user"]
    for n in lookups:
        c.call("GET", P + "/users/by-name/{username}", {"username": n}, headers=h, expect=(200, 404))
        yield
    created = []
    for i, n in enumerate(["marta.r", "kofi", "svetlana_p", "jonas-b", "amara", "tariq.h", "lena99"]):
        body = {"username": n, "email": "%s@example.org" % n, "password": "Secr3t-pass-%d" % i}
        if i % 2:
            body["full_name"] = n.split(".")[0].split("_")[0].capitalize() + " Test"
        if i % 3 == 0:
            body["address"] = address(R.choice(["Ghent", "Aarhus", "Tartu"]))
        if i == 4:
            body["tags"] = ["b2b", "wholesale"]
            body["marketing_opt_in"] = True
        st, _, u = c.call("POST", P + "/users", json_body=body, headers=h, expect=201)
        created.append(u["id"])
        yield
    # invalid bodies -> 422
    for bad in [{"username": "x", "email": "not-an-email", "password": "short"},
                {"username": "valid_name", "email": "valid@example.org"},
                {"username": "Upper Case", "email": "u@example.org", "password": "longenough1"}]:
        c.call("POST", P + "/users", json_body=bad, headers=h, expect=422)
        yield
    for uid in R.sample(range(2, 41), 14) + created[:3]:
        body = R.choice([{"full_name": "Updated Name %d" % uid},
                         {"tags": ["vip"], "email": "user%d@mail.example.net" % uid},
                         {"address": address("Bergen"), "avatar_url": "https://cdn.example.com/avatars/u%d.webp" % uid}])
        c.call("PATCH", P + "/users/{user_id}", {"user_id": uid}, json_body=body, headers=h, expect=200)
        yield
    c.call("PATCH", P + "/users/{user_id}", {"user_id": 777}, json_body={"full_name": "Nobody"}, headers=h, expect=404)
    yield
    c.call("PATCH", P + "/users/{user_id}", {"user_id": 5}, json_body={"email": "bad@"}, headers=h, expect=422)
    yield
    for uid in R.sample(range(2, 41), 10):
        c.call("GET", P + "/users/{user_id}/orders", {"user_id": uid},
               query=R.choice([{}, {"status": "shipped"}, {"limit": 5, "offset": 0}]), headers=h, expect=200)
        yield
    for uid in created[3:] + [created[0], 9999]:
        c.call("DELETE", P + "/users/{user_id}", {"user_id": uid}, headers=h, expect=(204, 404))
        yield
    c.close()  # new connection for the metrics scraper part
    ops = base64.b64encode(b"ops:m3trics-Pa55").decode()
    for i in range(6):
        auth = "Basic " + (ops if i != 2 else base64.b64encode(b"ops:wrong").decode())
        c.call("GET", P + "/admin/metrics", headers={"Authorization": auth if i != 4 else None},
               expect=(200, 401))
        yield


def shopper(port, username, n):
    c = Client("web-%s" % username, port, "127.0.0.2", FIREFOX,
               headers={"Accept": "application/json, text/plain, */*", "Accept-Language": "en-US,en;q=0.5",
                        "Accept-Encoding": "gzip, deflate, br, zstd",
                        "Referer": "https://shop.example.com/"})
    uid = USERS[username]
    c.call("GET", P + "/users/me", expect=401)  # not logged in yet
    yield
    tok = login(c, username, remember=n % 2 == 0)
    h = bearer(tok)
    yield
    c.call("GET", P + "/users/me", expect=200)
    yield
    for _ in range(R.randrange(1, 4)):
        q = R.choice([{"category": R.choice(CATEGORIES)}, {"q": R.choice(["pro", "mini", "air", "cable"])},
                      {"sort": R.choice(["price", "-price", "-updated_at"]), "limit": 5}, {"offset": 10, "limit": 10}])
        c.call("GET", P + "/products", query=q, expect=200)
        yield
    for cat in R.sample(CATEGORIES, R.randrange(1, 3)):
        c.call("GET", P + "/categories/{slug}/products", {"slug": cat}, query=R.choice([{}, {"limit": 3}]), expect=200)
        yield
    seen = R.sample(SKUS, R.randrange(2, 5))
    for sku in seen:
        c.call("GET", P + "/products/{sku}", {"sku": sku}, expect=200)
        yield
    if n % 5 == 3:
        c.call("GET", P + "/products/{sku}", {"sku": "discontinued-widget-1"}, expect=404)
        c.call("GET", P + "/categories/{slug}/products", {"slug": "garden"}, expect=404)
        yield
    _, _, page = c.call("GET", P + "/users/{user_id}/orders", {"user_id": uid}, headers=h, expect=200)
    yield
    for o in page["items"][:2]:
        c.call("GET", P + "/users/{user_id}/orders/{order_id}", {"user_id": uid, "order_id": o["id"]},
               headers=h, expect=200)
        yield
    body = {"items": [{"sku": s, "quantity": R.randrange(1, 3)} for s in seen[:R.randrange(1, 3)]]}
    if n % 3 == 0:
        body["shipping_address"] = address(R.choice(["Lille", "Gouda", "Braga"]))
    if n % 4 == 1:
        body["coupon"] = "WINTER24"
        body["note"] = "Please leave the parcel with the neighbour."
    _, _, o = c.call("POST", P + "/users/{user_id}/orders", {"user_id": uid}, json_body=body, headers=h, expect=201)
    yield
    c.call("GET", P + "/users/{user_id}/orders/{order_id}", {"user_id": uid, "order_id": o["id"]}, headers=h, expect=200)
    yield
    if n % 4 == 2:  # peeks at someone else's orders
        other = R.choice([i for i in USERS.values() if i != uid])
        c.call("GET", P + "/users/{user_id}/orders", {"user_id": other}, headers=h, expect=403)
        yield
    if n % 3 == 1:
        c.call("POST", P + "/users/{user_id}/orders", {"user_id": uid}, json_body={"items": []}, headers=h, expect=422)
        yield
    c.call("POST", P + "/auth/logout", expect=204)
    yield
    c.call("GET", P + "/users/me", expect=401)
    c.close()
    yield


def mobile(port, username, n):
    c = Client("app-%s" % username, port, "127.0.0.3", OKHTTP,
               headers={"Accept": "application/json", "X-Client-Version": "3.4.1"})
    uid = USERS[username]
    if n % 4 == 0:
        login(c, username, password="wrong-password")
        yield
    tok = login(c, username)
    c.cookies.clear()  # the app ignores cookies and uses the JWT
    h = bearer(tok)
    yield
    c.call("GET", P + "/users/{user_id}", {"user_id": uid}, headers=h, expect=200)
    yield
    _, _, page = c.call("GET", P + "/users/{user_id}/orders", {"user_id": uid},
                        query={"limit": 20, "offset": 0}, headers=h, expect=200)
    yield
    for o in page["items"]:
        c.call("GET", P + "/users/{user_id}/orders/{order_id}", {"user_id": uid, "order_id": o["id"]},
               headers=h, expect=200)
        yield
    if n % 3 == 0 and page["items"]:
        c.call("POST", P + "/orders/{order_id}/cancel", {"order_id": page["items"][0]["id"]},
               json_body={"reason": "ordered by mistake", "notify_customer": n % 2 == 0}, headers=h, expect=200)
        yield
    if n % 3 == 1:
        c.call("PATCH", P + "/users/{user_id}", {"user_id": uid},
               json_body={"full_name": username.capitalize() + " App", "tags": ["newsletter"]}, headers=h, expect=200)
        yield
        c.call("PATCH", P + "/users/{user_id}", {"user_id": uid % 40 + 1}, json_body={"full_name": "Hacker"},
               headers=h, expect=403)
        yield
    if n % 5 == 2:
        c.call("GET", P + "/users/{user_id}", {"user_id": uid},
               headers={"Authorization": "Bearer " + tok[:-6] + "AAAAAA"}, expect=401)
        yield
    c.call("GET", P + "/products", query={"q": R.choice(["pro", "lite", "max"]), "limit": 5}, expect=200)
    yield
    c.close()


def backoffice(port):
    c = Client("backoffice", port, "127.0.0.3", BACKOFFICE, headers={"X-API-Key": API_KEY})
    c.call("GET", P + "/orders/export", headers={"X-API-Key": None}, expect=401)
    yield
    c.call("GET", P + "/orders/export", headers={"X-API-Key": "sk_live_revoked000000"}, expect=403)
    yield
    uuids = []
    for q in [{"limit": 100}, {"since": "2024-01-20", "status": "paid"}, {"status": "shipped", "limit": 10},
              {"since": "2024-01-16"}]:
        _, _, data = c.call("GET", P + "/orders/export", query=q, headers={"Accept": "text/csv"}, expect=200)
        for row in list(csv.DictReader(io.StringIO(data.decode())))[:40]:
            if row["id"] not in uuids:
                uuids.append(row["id"])
        yield
    for oid in R.sample(uuids, 24) + ["00000000-0000-4000-8000-000000000000", "3fa85f64-5717-4562-b3fc-2c963f66afa6"]:
        c.call("GET", P + "/orders/{order_id}", {"order_id": oid}, expect=(200, 404))
        yield
    for sku in R.sample(SKUS, 10):
        body = {"name": sku.replace("-", " ").title() + " (2024)", "category": sku.split("-")[0] + "s",
                "price": round(R.uniform(9, 300), 2), "stock": R.randrange(0, 300),
                "image_url": "https://cdn.example.com/products/%s-v2.jpg" % sku}
        c.call("PUT", P + "/products/{sku}", {"sku": sku}, json_body=body, expect=200)
        yield
    c.call("PUT", P + "/products/{sku}", {"sku": SKUS[0]}, json_body={"name": "x", "price": -1}, expect=422)
    yield
    c.call("PUT", P + "/products/{sku}", {"sku": "no-such-sku-1"},
           json_body={"name": "X", "category": "mice", "price": 1.0, "stock": 1,
                      "image_url": "https://cdn.example.com/x.jpg"}, expect=404)
    c.close()
    yield


def probe(port):
    c = Client("probe", port, "127.0.0.1", "kube-probe/1.29", headers={"Accept": "*/*", "Accept-Encoding": None})
    for _ in range(12):
        c.call("GET", P + "/health", expect=200)
        c.close()  # kubelet probes use a new connection each time
        yield
        yield


def main():
    port = main_log_arg()
    adm, tok = bootstrap(port)
    names = sorted(USERS)
    shoppers = R.sample([n for n in names if n != "alice"], 14)
    rest = [n for n in names if n not in shoppers and n != "alice"]
    apps = R.sample(rest, 12)
    actors = [admin(adm, tok), backoffice(port), probe(port)]
    actors += [shopper(port, n, i) for i, n in enumerate(shoppers)]
    actors += [mobile(port, n, i) for i, n in enumerate(apps)]
    run_actors(actors, seed=99)


if __name__ == "__main__":
    main()
