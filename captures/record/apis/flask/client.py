#!/usr/bin/env python3
"""Traffic for flask-taskboard.pcap: usage client.py PORT REQUEST_LOG

Actors (interleaved, seeded), each on its own keep-alive connection(s):
  bootstrap  127.0.0.1  the admin's CLI: login, list all projects (names of
                        members come from there)
  web        127.0.0.2  Chrome UA: session cookie + JWT, projects, tasks,
                        comments, search, member profiles, logout
  cli        127.0.0.3  tb-cli (Go) UA: JWT; task updates/deletes, project
                        create/patch, errors (403, 404, 409, 422)
  ci         127.0.0.1  GitHub-Hookshot UA: X-API-Key events to integrations
  auditor    127.0.0.1  curl UA: audit log with HTTP Basic
Never called (orphans): DELETE /api/v2/projects/{project_key},
GET /api/v2/tasks/{task_id}/history.
"""
import base64
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from traffic import Client, main_log_arg, run_actors  # noqa: E402

P = "/api/v2"
R = random.Random(777)
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")
CLI = "tb-cli/0.9.2 (linux; amd64) Go-http-client/1.1"
HOOKSHOT = "GitHub-Hookshot/8f2d1c4"
API_KEY = "tbk_9c1e55aa03f04b7e8d2c6b1a"
PROJECTS = {}   # key -> project (from the listing)
MEMBERS = []
ADMIN = "jdoe-dev"


def login(c, username, password=None):
    st, _, body = c.call("POST", P + "/session", json_body={"username": username, "password": password or "pw-" + username},
                         expect=(200, 401))
    return {"Authorization": "Bearer " + body["token"]} if st == 200 else None


def tasks_of(c, h, key, **q):
    _, _, rows = c.call("GET", P + "/projects/{project_key}/tasks", {"project_key": key}, query=q or None,
                        headers=h, expect=200)
    return rows


def new_task(i):
    w = R.choice(["Add", "Fix", "Refactor", "Document", "Investigate"])
    t = {"title": "%s %s %s" % (w, R.choice(["flaky", "slow", "missing", "new"]),
                                R.choice(["export", "sso login", "invoice PDF", "search index", "webhook retries"]))}
    if i % 2 == 0:
        t["description"] = "Reported by support, ticket #%d." % R.randrange(1000, 9999)
    if i % 3 == 0:
        t["labels"] = R.sample(["bug", "feature", "chore", "ux", "backend"], 2)
        t["priority"] = R.choice(["high", "urgent"])
    if i % 4 == 1:
        t["checklist"] = [{"text": "write test"}, {"text": "update docs", "done": True}]
        t["due"] = "2024-02-%02dT17:00:00+00:00" % R.randrange(1, 28)
    if i % 5 == 2:
        t["assignee"] = R.choice(MEMBERS)
    return t


def bootstrap(port):
    c = Client("admin-cli", port, "127.0.0.1", CLI)
    h = login(c, ADMIN)
    for off in (0, 10):
        _, _, rows = c.call("GET", P + "/projects", query={"limit": 10, "offset": off, "sort": "key"}, headers=h, expect=200)
        for p in rows:
            PROJECTS[p["key"]] = p
            for m in p["members"]:
                if m not in MEMBERS:
                    MEMBERS.append(m)
    MEMBERS.sort()
    c.close()


def web(port, user, n):
    c = Client("web-" + user, port, "127.0.0.2", CHROME,
               headers={"Accept": "application/json", "Accept-Language": "de-DE,de;q=0.9,en;q=0.8",
                        "Accept-Encoding": "gzip, deflate, br, zstd",
                        "Origin": "https://taskboard.example", "Referer": "https://taskboard.example/board"})
    c.call("GET", P + "/members/me", expect=401)
    yield
    if n % 5 == 4:
        login(c, user, "forgotten-password")
        yield
    h = login(c, user)
    yield
    c.call("GET", P + "/members/me", expect=200)
    yield
    _, _, projects = c.call("GET", P + "/projects", query=R.choice([{}, {"q": "a"}, {"sort": "-created_at", "limit": 5}]),
                            headers=h, expect=200)
    yield
    mine = [k for k, p in PROJECTS.items() if user in p["members"]] or [R.choice(list(PROJECTS))]
    for key in mine[:2]:
        c.call("GET", P + "/projects/{project_key}", {"project_key": key}, headers=h, expect=200)
        yield
        q = R.choice([{}, {"page": 1, "page_size": 5}, {"status": R.choice(["todo", "in_progress", "review"])},
                      {"assignee": user}, {"sort": "-updated_at", "page": 2, "page_size": 4}])
        rows = tasks_of(c, h, key, **q)
        yield
        for t in rows[:3]:
            c.call("GET", P + "/projects/{project_key}/tasks/{task_number}", {"project_key": key, "task_number": t["number"]},
                   headers=h, expect=(200, 404))  # 404: deleted meanwhile by a cli actor
            yield
            c.call("GET", P + "/tasks/{task_id}/comments", {"task_id": t["id"]}, headers=h, expect=(200, 404))
            yield
        if rows:
            t = R.choice(rows)
            body = {"body": R.choice(["Looks good to me.", "Can you add a test?", "Blocked by the infra change.",
                                      "@%s could you take a look?" % R.choice(MEMBERS)])}
            if "@" in body["body"]:
                body["mentions"] = [body["body"].split("@")[1].split()[0]]
            c.call("POST", P + "/tasks/{task_id}/comments", {"task_id": t["id"]}, json_body=body, headers=h, expect=(201, 404))
            yield
    key = mine[0]
    _, _, t = c.call("POST", P + "/projects/{project_key}/tasks", {"project_key": key}, json_body=new_task(n),
                     headers=h, expect=201)
    yield
    c.call("GET", P + "/tasks/{task_id}", {"task_id": t["id"]}, headers=h, expect=(200, 404))
    yield
    upd = {"title": t["title"], "status": "in_progress", "priority": t["priority"], "assignee": user,
           "labels": t["labels"] + ["triaged"], "checklist": t["checklist"]}
    c.call("PUT", P + "/projects/{project_key}/tasks/{task_number}", {"project_key": key, "task_number": t["number"]},
           json_body=upd, headers=h, expect=(200, 404))
    yield
    c.call("GET", P + "/tasks/search", query={"q": R.choice(["fix", "cache", "login", "export", "sso", "timeout"]),
                                               **R.choice([{}, {"status": "todo"}, {"limit": 5}])}, headers=h, expect=200)
    yield
    for m in R.sample(MEMBERS, 2):
        c.call("GET", P + "/members/{username}", {"username": m}, headers=h, expect=200)
        yield
    if n % 4 == 3:
        c.call("GET", P + "/projects/{project_key}", {"project_key": "LEGACY"}, headers=h, expect=404)
        yield
        c.call("GET", P + "/members/{username}", {"username": "former-employee"}, headers=h, expect=404)
        yield
    c.call("DELETE", P + "/session", expect=204)
    c.close()
    yield


def cli(port, user, n):
    c = Client("cli-" + user, port, "127.0.0.3", CLI)
    h = login(c, user)
    yield
    keys = sorted(PROJECTS)
    for key in R.sample(keys, 3):
        rows = tasks_of(c, h, key, page_size=50, sort=R.choice(["number", "-number", "due"]))
        yield
        for t in R.sample(rows, min(3, len(rows))):
            c.call("GET", P + "/tasks/{task_id}", {"task_id": t["id"]}, headers=h, expect=(200, 404))
            yield
            body = {"title": t["title"], "status": R.choice(["in_progress", "review", "done"]),
                    "priority": t["priority"], "labels": t["labels"], "assignee": t["assignee"]}
            if R.random() < 0.5:
                body["description"] = "Updated from the CLI."
            c.call("PUT", P + "/projects/{project_key}/tasks/{task_number}", {"project_key": key, "task_number": t["number"]},
                   json_body=body, headers=h, expect=(200, 404))
            yield
        # delete one task: allowed only to the author or the project owner
        if rows and n % 2 == 0:
            t = rows[-1]
            st, _, _ = c.call("DELETE", P + "/projects/{project_key}/tasks/{task_number}",
                              {"project_key": key, "task_number": t["number"]}, headers=h, expect=(204, 403))
            yield
            if st == 204:
                c.call("GET", P + "/projects/{project_key}/tasks/{task_number}",
                       {"project_key": key, "task_number": t["number"]}, headers=h, expect=404)
                yield
    own = [k for k, p in PROJECTS.items() if p["owner"] == user]
    other = [k for k, p in PROJECTS.items() if p["owner"] != user]
    for key in own[:1] + other[:1]:
        body = R.choice([{"description": "Roadmap Q1 2024"}, {"settings": {"default_priority": "high", "notify": False}},
                         {"members": PROJECTS[key]["members"] + [R.choice(MEMBERS)],
                          "settings": {"webhook_url": "https://hooks.example.com/tb/%s" % key.lower()}}])
        c.call("PATCH", P + "/projects/{project_key}", {"project_key": key}, json_body=body, headers=h,
               expect=200 if key in own else 403)
        yield
    if n < 3:
        key = ["ZEPHYR", "COMET", "MAPLE"][n]
        body = {"key": key, "name": key.capitalize() + " service", "members": R.sample(MEMBERS, 3),
                "settings": {"default_priority": "normal", "notify": True, "webhook_url": None}}
        c.call("POST", P + "/projects", json_body=body, headers=h, expect=201)
        yield
        for i in range(3):
            c.call("POST", P + "/projects/{project_key}/tasks", {"project_key": key}, json_body=new_task(i + n),
                   headers=h, expect=201)
            yield
        c.call("GET", P + "/projects/{project_key}", {"project_key": key}, headers=h, expect=200)
        yield
    if n == 3:
        c.call("POST", P + "/projects", json_body={"key": "APOLLO", "name": "Apollo again"}, headers=h, expect=409)
        yield
        c.call("POST", P + "/projects", json_body={"key": "bad key", "name": "x"}, headers=h, expect=422)
        yield
        c.call("POST", P + "/projects/{project_key}/tasks", {"project_key": "VEGA"},
               json_body={"title": "", "priority": "asap"}, headers=h, expect=422)
        yield
        c.call("PUT", P + "/projects/{project_key}/tasks/{task_number}", {"project_key": "VEGA", "task_number": 999},
               json_body={"title": "ghost"}, headers=h, expect=404)
        yield
        c.call("GET", P + "/tasks/{task_id}", {"task_id": "6f1d9a4e-0c1b-4f7e-9a3d-2b8c5e7f0a11"}, headers=h, expect=404)
        yield
    if n == 4:
        c.call("GET", P + "/projects", headers={"Authorization": "Bearer " + h["Authorization"][7:-4] + "XXXX"}, expect=401)
        yield
        c.call("GET", P + "/tasks/search", headers=h, expect=422)  # q is required
        yield
    c.close()


def ci(port):
    c = Client("ci", port, "127.0.0.1", HOOKSHOT, headers={"X-API-Key": API_KEY, "X-GitHub-Delivery": None})
    keys = sorted(PROJECTS)
    events = 0
    for integ in ["github", "gitlab-ci", "jenkins-main", "sentry", "pagerduty", "circleci"]:
        for i in range(R.randrange(2, 5)):
            typ = {"sentry": "alert", "pagerduty": "alert", "jenkins-main": "pipeline"}.get(integ, R.choice(["push", "deployment"]))
            body = {"type": typ, "task_refs": ["%s-%d" % (R.choice(keys), R.randrange(1, 12)) for _ in range(R.randrange(0, 3))]}
            if typ in ("push", "pipeline", "deployment"):
                body["ref"] = R.choice(["refs/heads/main", "refs/heads/release-2.1", "refs/tags/v2.1.%d" % i])
                body["commit"] = "%040x" % R.getrandbits(160)
            if typ == "alert":
                body["payload"] = {"level": R.choice(["error", "warning"]), "count": R.randrange(1, 50),
                                   "environment": {"name": "production", "region": "eu-west-1"}}
                body["source_ip"] = "192.0.2.%d" % R.randrange(1, 255)
            c.call("POST", P + "/integrations/{integration_id}/events", {"integration_id": integ}, json_body=body,
                   headers={"X-GitHub-Delivery": "%032x" % R.getrandbits(128)} if integ == "github" else None, expect=202)
            events += 1
            yield
        if integ == "jenkins-main":
            c.close()  # Jenkins reconnects
    c.call("POST", P + "/integrations/{integration_id}/events", {"integration_id": "bitbucket"},
           json_body={"type": "push"}, expect=404)
    yield
    c.call("POST", P + "/integrations/{integration_id}/events", {"integration_id": "github"},
           json_body={"type": "push"}, headers={"X-API-Key": None}, expect=401)
    yield
    c.call("POST", P + "/integrations/{integration_id}/events", {"integration_id": "sentry"},
           json_body={"type": "alert"}, headers={"X-API-Key": "tbk_expired_0000"}, expect=403)
    yield
    c.call("POST", P + "/integrations/{integration_id}/events", {"integration_id": "gitlab-ci"},
           json_body={"type": "merge", "commit": "xyz"}, expect=422)
    c.close()
    yield


def auditor(port):
    c = Client("auditor", port, "127.0.0.1", "curl/8.5.0", headers={"Accept": "*/*"})
    good = "Basic " + base64.b64encode(b"auditor:Aud1t-2024!").decode()
    c.call("GET", P + "/admin/audit-log", expect=401)
    yield
    for q in [{}, {"limit": 5}, {"since": "2024-01-15T15:00:00+00:00"}, {"since": "2024-01-15T18:30:00Z", "limit": 10},
              {"limit": 50}]:
        c.call("GET", P + "/admin/audit-log", query=q, headers={"Authorization": good}, expect=200)
        c.close()  # curl: one connection per invocation
        yield
    c.call("GET", P + "/admin/audit-log", headers={"Authorization": "Basic " + base64.b64encode(b"auditor:guess").decode()},
           expect=401)
    c.close()
    yield


def main():
    port = main_log_arg()
    bootstrap(port)
    others = [m for m in MEMBERS if m != ADMIN]
    web_users = R.sample(others, 16)
    cli_users = R.sample([m for m in others if m not in web_users], 6)
    for p in PROJECTS.values():  # two project owners, so some deletes/patches succeed
        if p["owner"] not in web_users + cli_users + [ADMIN] and len(cli_users) < 8:
            cli_users.append(p["owner"])
    actors = [web(port, u, i) for i, u in enumerate(web_users)]
    actors += [cli(port, u, i) for i, u in enumerate(cli_users)]
    actors += [ci(port), auditor(port)]
    run_actors(actors, seed=123)


if __name__ == "__main__":
    main()
