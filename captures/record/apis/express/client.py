#!/usr/bin/env python3
"""Traffic for express-codehost.pcap: usage client.py PORT REQUEST_LOG

Actors (interleaved, seeded), each on its own keep-alive connection(s):
  scim       127.0.0.1  X-API-Key sync bot: org member lists (bootstrap: the
                        other actors learn user logins from them)
  web        127.0.0.2  Safari UA: login, /users/me by cookie, profiles,
                        repos, issues, comments, branches, commits, gists
                        (gist ids come from links in issue bodies)
  gh         127.0.0.3  gh CLI UA: JWT; create/patch/delete repos, issues,
                        comments, search; errors (401/403/404/422/400)
  monitor    127.0.0.1  /meta probes and /admin/stats with HTTP Basic
Never called (orphans): DELETE /api/v3/gists/{gist_id},
PUT /api/v3/repos/{owner}/{repo}/branches/{branch}/protection.
"""
import base64
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from traffic import Client, main_log_arg, run_actors  # noqa: E402

P = "/api/v3"
R = random.Random(31337)
SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Safari/605.1.15")
GH = "gh/2.52.0 (linux; amd64)"
SCIM = "codehost-scim-sync/1.4.0 (+https://it.example.com/scim)"
API_KEY = "chk_live_51f0e2d9a8b7c6d5e4f3a2b1"
ORGS = ["acme-corp", "open-tools", "data-lab", "infra-team"]
LOGINS = []
GISTS = []
GIST_RE = re.compile(r"/gist/([0-9a-f-]{36})")


def login(c, user, password=None):
    st, _, b = c.call("POST", P + "/login", json_body={"login": user, "password": password or "pw-" + user},
                      expect=(200, 401))
    return {"Authorization": "Bearer " + b["token"]} if st == 200 else None


def scim_bootstrap(port):
    c = Client("scim", port, "127.0.0.1", SCIM, headers={"X-API-Key": API_KEY})
    for org in ORGS:
        page = 1
        while True:
            _, hdrs, rows = c.call("GET", P + "/orgs/{org}/members", {"org": org}, query={"per_page": 5, "page": page},
                                   expect=200)
            for m in rows:
                if m["login"] not in LOGINS:
                    LOGINS.append(m["login"])
            if "next" not in (hdrs.get("Link") or ""):
                break
            page += 1
    return c


def scim_rest(c):
    for org in ORGS:
        c.call("GET", P + "/orgs/{org}/members", {"org": org}, query={"role": "admin"}, expect=200)
        yield
    c.call("GET", P + "/orgs/{org}/members", {"org": "ghost-org"}, expect=404)
    yield
    c.call("GET", P + "/orgs/{org}/members", {"org": "acme-corp"}, headers={"X-API-Key": None}, expect=401)
    yield
    c.call("GET", P + "/orgs/{org}/members", {"org": "data-lab"}, headers={"X-API-Key": "chk_test_000"}, expect=403)
    c.close()
    yield


def web(port, user, n):
    c = Client("web-" + user, port, "127.0.0.2", SAFARI,
               headers={"Accept": "application/vnd.codehost+json", "Accept-Language": "en-GB,en;q=0.9",
                        "Accept-Encoding": "gzip, deflate, br",
                        "Referer": "https://code.example.com/"})
    c.call("GET", P + "/users/me", expect=401)
    yield
    login(c, user)
    yield
    c.call("GET", P + "/users/me", expect=200)
    yield
    for other in [user] + R.sample(LOGINS, 2):
        c.call("GET", P + "/users/{username}", {"username": other}, expect=200)
        yield
        _, _, repos = c.call("GET", P + "/users/{username}/repos", {"username": other},
                             query=R.choice([{}, {"sort": "pushed"}, {"sort": "created", "per_page": 2}]), expect=200)
        yield
        # only long-standing repos: ones the gh actors create now may be deleted under our feet
        for r in [r for r in repos if r["created_at"] < "2024-01-15"][:R.randrange(1, 3)]:
            owner, name = r["full_name"].split("/")
            pp = {"owner": owner, "repo": name}
            st, _, repo = c.call("GET", P + "/repos/{owner}/{repo}", pp, expect=(200, 404))  # 404: deleted by a gh actor
            yield
            if st == 404:
                continue
            _, _, issues = c.call("GET", P + "/repos/{owner}/{repo}/issues", pp,
                                  query=R.choice([{}, {"state": "all"}, {"state": "closed"}, {"labels": "bug"},
                                                  {"sort": "updated", "direction": "asc", "per_page": 5}]), expect=200)
            yield
            for i in R.sample(issues, min(2, len(issues))):
                ip = dict(pp, issue_number=i["number"])
                _, _, full = c.call("GET", P + "/repos/{owner}/{repo}/issues/{issue_number}", ip, expect=200)
                yield
                c.call("GET", P + "/repos/{owner}/{repo}/issues/{issue_number}/comments", ip, expect=200)
                yield
                m = GIST_RE.search(full.get("body") or "")
                if m:
                    GISTS.append(m.group(1))
                    c.call("GET", P + "/gists/{gist_id}", {"gist_id": m.group(1)}, expect=200)
                    yield
            branch = R.choice(repo.get("recent_branches") or ["main"])
            _, _, b = c.call("GET", P + "/repos/{owner}/{repo}/branches/{branch}", dict(pp, branch=branch), expect=200)
            yield
            sha = b["commit"]["sha"]
            c.call("GET", P + "/repos/{owner}/{repo}/commits/{sha}", dict(pp, sha=sha if n % 2 else sha[:7]), expect=200)
            yield
    if n % 4 == 1:
        c.call("GET", P + "/users/{username}", {"username": "no-such-user-%d" % n}, expect=404)
        yield
        c.call("GET", P + "/repos/{owner}/{repo}", {"owner": user, "repo": "deleted-repo"}, expect=404)
        yield
        c.call("GET", P + "/gists/{gist_id}", {"gist_id": "0d5a3e9c-7b1f-4c2a-8e6d-93f0a1b2c3d4"}, expect=404)
        yield
    c.close()


def gh(port, user, n):
    c = Client("gh-" + user, port, "127.0.0.3", GH, headers={"Accept": "application/vnd.codehost.v3+json"})
    if n == 2:
        login(c, user, "hunter2")
        yield
    h = login(c, user)
    yield
    for q in R.sample([{"q": "cli"}, {"q": "sdk language:go", "sort": "stars"}, {"q": "docs", "per_page": 5},
                       {"q": "infra", "sort": "updated", "order": "asc"}, {"q": "api language:rust"},
                       {"q": "pipeline"}, {"q": "playground", "page": 2, "per_page": 2}], 2):
        _, _, res = c.call("GET", P + "/search/repositories", query=q, expect=200)
        yield
    name = R.choice(["new-service", "scratch", "hackday-2024", "notes", "aoc-2023"]) + "-%d" % n
    body = {"name": name, "description": "Created with gh", "private": n % 3 == 0}
    if n % 2:
        body.update(auto_init=True, topics=["cli", "tooling"], homepage="https://%s.example.dev" % user.lower())
    _, _, repo = c.call("POST", P + "/user/repos", json_body=body, headers=h, expect=201)
    yield
    pp = {"owner": user, "repo": name}
    c.call("PATCH", P + "/repos/{owner}/{repo}", pp, headers=h,
           json_body=R.choice([{"description": "Now with a description"}, {"topics": ["demo"], "homepage": "https://example.org"},
                               {"security_and_analysis": {"secret_scanning": {"status": "enabled"}}}]), expect=200)
    yield
    nums = []
    for i in range(R.randrange(2, 5)):
        ib = {"title": R.choice(["Set up CI", "Write README", "Add license", "Fix build on macOS", "Add tests"])}
        if i % 2:
            ib.update(body="Tracking issue.\n\n- [ ] step one\n- [ ] step two", labels=["chore"], assignees=[user])
        _, _, iss = c.call("POST", P + "/repos/{owner}/{repo}/issues", pp, json_body=ib, headers=h, expect=201)
        nums.append(iss["number"])
        yield
    for num in nums[:2]:
        ip = dict(pp, issue_number=num)
        c.call("POST", P + "/repos/{owner}/{repo}/issues/{issue_number}/comments", ip,
               json_body={"body": R.choice(["Working on it.", "Done in abc1234.", "LGTM :+1:"])}, headers=h, expect=201)
        yield
        c.call("PATCH", P + "/repos/{owner}/{repo}/issues/{issue_number}", ip,
               json_body={"state": "closed", "state_reason": "completed"}, headers=h, expect=200)
        yield
    c.call("GET", P + "/repos/{owner}/{repo}/issues", pp, query={"state": "all"}, expect=200)
    yield
    # comment on and relabel someone else's existing issue
    other = R.choice([lg for lg in LOGINS if lg != user])
    _, _, repos = c.call("GET", P + "/users/{username}/repos", {"username": other}, expect=200)
    yield
    if repos:
        o, r = repos[0]["full_name"].split("/")
        st, _, issues = c.call("GET", P + "/repos/{owner}/{repo}/issues", {"owner": o, "repo": r}, expect=(200, 404))
        yield
        if st == 404:  # deleted meanwhile by its owner's gh actor
            c.close()
            return
        if issues:
            ip = {"owner": o, "repo": r, "issue_number": issues[0]["number"]}
            c.call("POST", P + "/repos/{owner}/{repo}/issues/{issue_number}/comments", ip,
                   json_body={"body": "Same here on v%d.%d" % (R.randrange(1, 4), R.randrange(0, 10))}, headers=h, expect=201)
            yield
            c.call("PATCH", P + "/repos/{owner}/{repo}/issues/{issue_number}", ip,
                   json_body={"labels": issues[0]["labels"] + ["needs-triage"]}, headers=h, expect=200)
            yield
        c.call("PATCH", P + "/repos/{owner}/{repo}", {"owner": o, "repo": r}, json_body={"description": "pwned"},
               headers=h, expect=403)
        yield
        if n % 3 == 1:
            c.call("DELETE", P + "/repos/{owner}/{repo}", {"owner": o, "repo": r}, headers=h, expect=403)
            yield
    if n % 2 == 0:
        c.call("DELETE", P + "/repos/{owner}/{repo}", pp, headers=h, expect=204)
        yield
        c.call("GET", P + "/repos/{owner}/{repo}", pp, expect=404)
        yield
    if n == 1:
        c.call("POST", P + "/user/repos", json_body={"name": name}, headers=h, expect=422)  # exists
        yield
        c.call("POST", P + "/user/repos", json_body={"name": "bad name!"}, headers=h, expect=422)
        yield
        c.call("POST", P + "/repos/{owner}/{repo}/issues", pp, json_body={"body": "no title"}, headers=h, expect=422)
        yield
        c.call("GET", P + "/search/repositories", query={"q": ""}, expect=422)
        yield
    if n == 3:
        c.call("POST", P + "/user/repos", json_body={"name": "x"}, expect=401)
        yield
        c.call("POST", P + "/repos/{owner}/{repo}/issues", pp, raw_body=b'{"title": "broken json",',
               content_type="application/json", headers=h, expect=400)
        yield
        c.call("PATCH", P + "/repos/{owner}/{repo}/issues/{issue_number}", dict(pp, issue_number=nums[0]),
               json_body={"state": "reopened"}, headers=h, expect=422)
        yield
        c.call("GET", P + "/repos/{owner}/{repo}/commits/{sha}", dict(pp, sha="HEAD"), expect=422)
        yield
        c.call("GET", P + "/repos/{owner}/{repo}/branches/{branch}", dict(pp, branch="gh-pages"), expect=404)
        yield
        c.call("PATCH", P + "/repos/{owner}/{repo}", pp, json_body={"private": True},
               headers={"Authorization": h["Authorization"][:-3] + "abc"}, expect=401)
        yield
    c.close()


def monitor(port):
    c = Client("monitor", port, "127.0.0.1", "check_http/v2.4.9 (monitoring-plugins 2.4.9)", headers={"Accept": "*/*"})
    stats = Client("stats", port, "127.0.0.1", "codehost-stats-exporter/0.3.1")
    good = "Basic " + base64.b64encode(b"siteadmin:St4ts-only!").decode()
    stats.call("GET", P + "/admin/stats", expect=401)
    yield
    for i in range(8):
        c.call("GET", P + "/meta", expect=200)
        c.close()
        yield
        if i % 2 == 0:
            stats.call("GET", P + "/admin/stats", headers={"Authorization": good}, expect=200)
            yield
        yield
    stats.call("GET", P + "/admin/stats", headers={"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()},
               expect=401)
    stats.close()
    yield


def main():
    port = main_log_arg()
    scim = scim_bootstrap(port)
    LOGINS.sort()
    users = R.sample(LOGINS, len(LOGINS))
    actors = [scim_rest(scim), monitor(port)]
    actors += [web(port, u, i) for i, u in enumerate(users[:14])]
    actors += [gh(port, u, i) for i, u in enumerate(users[14:24])]
    run_actors(actors, seed=5)


if __name__ == "__main__":
    main()
