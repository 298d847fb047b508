#!/usr/bin/env python3
"""Traffic for django-newsroom.pcap: usage client.py PORT REQUEST_LOG

Actors (interleaved, seeded), each on its own keep-alive connection(s):
  readers   127.0.0.2  browser UAs, anonymous: article lists (tag, search,
                       ordering, page), articles, comments, new comments
                       (some invalid: DRF answers 400), tags
  writers   127.0.0.3  CMS app UA: token + session cookie, /authors/me/,
                       create / replace / delete articles, own profile;
                       403 on other people's articles and on publish
  editors   127.0.0.3  CMS app UA: author admin (list/search/get/patch),
                       publish, comment moderation (get/delete)
  partner   127.0.0.1  X-API-Key: partner feeds
  ops       127.0.0.1  health checks, /stats/ with HTTP Basic
Never called (orphans): PATCH /api/v1/articles/{slug}/,
GET /api/v1/tags/{name}/.
"""
import base64
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from traffic import Client, main_log_arg, run_actors  # noqa: E402

P = "/api/v1"
R = random.Random(8080)
BROWSERS = ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
            "Safari/537.36 Edg/126.0.0.0",
            "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"]
CMS = "NewsroomCMS/5.2.0 (Electron 30.1; Windows 10)"
API_KEY = "nr_partner_7d3f0c2b9a8e4f6d"
TAGS = ["politics", "science", "sport", "culture", "business", "technology", "climate", "health", "europe", "asia",
        "elections", "ai", "football", "music", "markets"]
AUTHORS = {}      # handle -> author (from the editor's listing)
SLUGS = []        # published article slugs seen so far


def login(c, handle, password=None):
    st, _, b = c.call("POST", P + "/auth/token/", json_body={"handle": handle, "password": password or "pw-" + handle},
                      expect=(200, 401))
    return {"Authorization": "Bearer " + b["access"]} if st == 200 else None


def bootstrap(port):
    """An editor logs in and pages through the authors (the other actors
    learn the author handles and ids from this)."""
    c = Client("editor-boot", port, "127.0.0.3", CMS)
    h = login(c, "ana.souza")
    page = 1
    while True:
        _, _, b = c.call("GET", P + "/authors/", query={"page": page, "page_size": 20}, headers=h, expect=200)
        for a in b["results"]:
            AUTHORS[a["handle"]] = a
        if not b["next"]:
            break
        page += 1
    c.close()


def reader(port, n):
    c = Client("reader-%d" % n, port, "127.0.0.2", BROWSERS[n % 3],
               headers={"Accept": "application/json", "Accept-Language": R.choice(["en-US,en;q=0.9", "fr-FR,fr;q=0.8"]),
                        "Accept-Encoding": "gzip, deflate, br, zstd"})
    if n % 3 == 0:
        c.call("GET", P + "/tags/", expect=200)
        yield
    for _ in range(R.randrange(1, 3)):
        q = R.choice([{}, {"tag": R.choice(TAGS)}, {"search": R.choice(["city", "study", "heat", "deal", "final"])},
                      {"ordering": R.choice(["title", "-published_at", "created_at"])}, {"page": R.randrange(2, 5)},
                      {"tag": R.choice(TAGS), "page_size": 5}, {"author": R.choice(list(AUTHORS.values()))["id"]}])
        _, _, b = c.call("GET", P + "/articles/", query=q, expect=200)
        for a in b["results"]:
            if a["slug"] not in SLUGS:
                SLUGS.append(a["slug"])
        yield
    for slug in R.sample(SLUGS, min(len(SLUGS), R.randrange(2, 5))):
        st, _, _ = c.call("GET", P + "/articles/{slug}/", {"slug": slug}, expect=(200, 404))  # 404: deleted meanwhile
        yield
        if st == 404:
            continue
        _, _, cm = c.call("GET", P + "/articles/{article_slug}/comments/", {"article_slug": slug},
                          query=R.choice([None, {"page_size": 5}]), expect=200)
        yield
        if R.random() < 0.35:
            body = {"author_name": R.choice(["Jan", "reader_77", "Marie L.", "kim"]),
                    "email": "reader%d@mail.example" % R.randrange(10000),
                    "text": R.choice(["Well written.", "Where is the data from?", "Thanks for covering this!"])}
            if cm["results"] and R.random() < 0.5:
                body["in_reply_to"] = cm["results"][0]["id"]
            c.call("POST", P + "/articles/{article_slug}/comments/", {"article_slug": slug}, json_body=body, expect=201)
            yield
    if n % 5 == 2 and SLUGS:
        c.call("POST", P + "/articles/{article_slug}/comments/", {"article_slug": R.choice(SLUGS)},
               json_body={"author_name": "spam", "email": "not-an-email", "text": ""}, expect=400)
        yield
        c.call("GET", P + "/articles/{slug}/", {"slug": "this-story-was-unpublished"}, expect=404)
        yield
    c.close()


def writer(port, handle, n):
    c = Client("writer-" + handle, port, "127.0.0.3", CMS, headers={"X-Requested-With": "NewsroomCMS"})
    me = AUTHORS[handle]
    c.call("GET", P + "/authors/me/", expect=401)
    yield
    h = login(c, handle)
    yield
    c.call("GET", P + "/authors/me/", expect=200)
    yield
    mine = []
    for i in range(R.randrange(1, 4)):
        title = R.choice(["Council approves", "Scientists warn about", "Fans celebrate", "Markets react to",
                          "Inside the"]) + " " + R.choice(["new tram line", "river pollution", "cup win",
                                                           "rate cut", "jazz festival", "AI lab"])
        body = {"title": title, "body": "First paragraph.\n\nSecond paragraph.", "tags": R.sample(TAGS, 2)}
        if i % 2 == 0:
            body["summary"] = "What you need to know about %s." % title.lower()
            body["hero_image"] = "https://img.newsroom.example/up/%d.jpg" % R.randrange(10 ** 5)
        if i == 1:
            body["seo"] = {"title": title[:60], "description": "Read more about " + title.lower(),
                           "canonical_url": "https://newsroom.example/%s" % title.lower().replace(" ", "-")}
        _, _, a = c.call("POST", P + "/articles/", json_body=body, headers=h, expect=201)
        mine.append(a)
        yield
    for a in mine[:2]:
        c.call("GET", P + "/articles/{slug}/", {"slug": a["slug"]}, headers=h, expect=(200, 404))
        yield
        body = {"title": a["title"] + " (updated)", "body": "Rewritten body.", "tags": a["tags"],
                "summary": "Updated at 14:00.", "seo": {"title": a["title"][:60]}}
        c.call("PUT", P + "/articles/{slug}/", {"slug": a["slug"]}, json_body=body, headers=h, expect=(200, 404))
        yield
    c.call("PATCH", P + "/authors/{id}/", {"id": me["id"]},
           json_body=R.choice([{"bio": "Covers city hall."}, {"website": "https://%s.example.net" % handle.split(".")[0]},
                               {"name": me["name"] + " Jr."}]), headers=h, expect=200)
    yield
    others = [s for s in SLUGS if s not in [a["slug"] for a in mine]]
    if others and n % 2 == 0:
        c.call("PUT", P + "/articles/{slug}/", {"slug": R.choice(others)}, json_body={"title": "Hijack", "body": "x"},
               headers=h, expect=(403, 404))
        yield
    if n % 3 == 0:
        c.call("POST", P + "/articles/{slug}/publish/", {"slug": mine[0]["slug"]}, headers=h, expect=(403, 404))
        yield
    if n % 3 == 1 and len(mine) > 1:
        c.call("DELETE", P + "/articles/{slug}/", {"slug": mine[-1]["slug"]}, headers=h, expect=(204, 404))
        yield
    if n == 2:
        c.call("POST", P + "/articles/", json_body={"title": "", "tags": ["weather"]}, headers=h, expect=400)
        yield
        c.call("PATCH", P + "/authors/{id}/", {"id": R.choice([a["id"] for a in AUTHORS.values() if a["id"] != me["id"]])},
               json_body={"bio": "x"}, headers=h, expect=403)
        yield
        c.call("POST", P + "/articles/", json_body={"title": "t", "body": "b"}, expect=401)
        yield
    c.call("POST", P + "/auth/logout/", expect=204)
    c.close()
    yield


def editor(port, handle, n):
    c = Client("editor-" + handle, port, "127.0.0.3", CMS, headers={"X-Requested-With": "NewsroomCMS"})
    h = login(c, handle)
    yield
    for q in R.sample([{"search": "an"}, {"role": "editor"}, {"role": "writer", "page": 2}, {"search": "el"},
                       {"page_size": 5, "page": 3}], 2):
        c.call("GET", P + "/authors/", query=q, headers=h, expect=200)
        yield
    ids = [a["id"] for a in AUTHORS.values()]
    for aid in R.sample(ids, 14) + ([999, 100] if n == 0 else []):
        c.call("GET", P + "/authors/{id}/", {"id": aid}, headers=h, expect=(200, 404))
        yield
    for aid in R.sample(ids, 3):
        c.call("PATCH", P + "/authors/{id}/", {"id": aid}, json_body={"bio": "Staff writer since %d." % R.randrange(2010, 2024)},
               headers=h, expect=200)
        yield
    # moderation: look at comments of a few articles, delete some
    for slug in R.sample(SLUGS, min(len(SLUGS), 6)):
        st, _, cm = c.call("GET", P + "/articles/{article_slug}/comments/", {"article_slug": slug}, headers=h, expect=(200, 404))
        yield
        if st != 200:
            continue
        for com in cm["results"][:2]:
            c.call("GET", P + "/articles/{article_slug}/comments/{id}/", {"article_slug": slug, "id": com["id"]},
                   headers=h, expect=(200, 404))
            yield
            if R.random() < 0.4:
                c.call("DELETE", P + "/articles/{article_slug}/comments/{id}/", {"article_slug": slug, "id": com["id"]},
                       headers=h, expect=(204, 404))
                yield
    # publish drafts written by the writers
    _, _, b = c.call("GET", P + "/articles/", query={"ordering": "-created_at", "page_size": 3}, headers=h, expect=200)
    yield
    for slug in R.sample(SLUGS, min(len(SLUGS), 3)):
        c.call("POST", P + "/articles/{slug}/publish/", {"slug": slug}, headers=h, expect=(200, 404))
        yield
    if n == 1:
        c.call("DELETE", P + "/articles/{article_slug}/comments/{id}/",
               {"article_slug": SLUGS[0], "id": "5b0e6a51-3c1d-4e2f-9a8b-7c6d5e4f3a2b"}, headers=h, expect=404)
        yield
        c.call("DELETE", P + "/articles/{slug}/", {"slug": SLUGS[-1]}, headers=h, expect=(204, 404))
        yield
    c.close()


def partner(port):
    c = Client("partner", port, "127.0.0.1", "WireAgency-Fetcher/2.1 (+https://wire.example.com/bot)",
               headers={"X-API-Key": API_KEY})
    for p, q in [("wire-agency", {"limit": 10}), ("aggregator-one", {"since": "2024-01-18T00:00:00+00:00"}),
                 ("radio-north", {"limit": 5}), ("wire-agency", {"since": "2024-01-20T00:00:00+00:00", "limit": 20}),
                 ("aggregator-one", {"limit": 3}), ("radio-north", None)]:
        c.call("GET", P + "/partners/{partner}/feed/", {"partner": p}, query=q, expect=200)
        yield
        yield
    c.call("GET", P + "/partners/{partner}/feed/", {"partner": "unknown-co"}, expect=404)
    yield
    c.call("GET", P + "/partners/{partner}/feed/", {"partner": "wire-agency"}, headers={"X-API-Key": None}, expect=401)
    yield
    c.call("GET", P + "/partners/{partner}/feed/", {"partner": "wire-agency"}, headers={"X-API-Key": "nr_revoked"}, expect=403)
    c.close()
    yield


def ops(port):
    hc = Client("health", port, "127.0.0.1", "Consul Health Check", headers={"Accept": "text/plain, */*"})
    st = Client("stats", port, "127.0.0.1", "Prometheus/2.53.0")
    good = "Basic " + base64.b64encode(b"metrics:Newsr00m-stats").decode()
    st.call("GET", P + "/stats/", expect=401)
    yield
    for i in range(10):
        hc.call("GET", P + "/health/", expect=200)
        hc.close()
        yield
        if i % 2:
            st.call("GET", P + "/stats/", headers={"Authorization": good}, expect=200)
            yield
        yield
    st.call("GET", P + "/stats/", headers={"Authorization": "Basic " + base64.b64encode(b"metrics:x").decode()}, expect=401)
    st.close()
    yield


def main():
    port = main_log_arg()
    bootstrap(port)
    handles = sorted(AUTHORS)
    editors = [h for h in handles if AUTHORS[h]["role"] == "editor"][:3]
    writers = R.sample([h for h in handles if AUTHORS[h]["role"] == "writer"], 12)
    actors = [reader(port, i) for i in range(20)]
    actors += [writer(port, h, i) for i, h in enumerate(writers)]
    actors += [editor(port, h, i) for i, h in enumerate(editors)]
    actors += [partner(port), ops(port)]
    run_actors(actors, seed=11)


if __name__ == "__main__":
    main()
