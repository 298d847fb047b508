"""Taskboard API (Flask + flask-smorest/apispec/marshmallow, served by
waitress) used to record captures/apis/flask-taskboard.pcap.

Run: python app.py PORT  (127.0.0.1:PORT). The OpenAPI document is the one
flask-smorest generates, served at /openapi.json. All data comes from a
fixed seed, so every run serves the same content.

Auth: POST /api/v2/session checks a password and returns an HS256 JWT (PyJWT)
and sets Flask's signed session cookie (tb_session); most routes need the
Bearer JWT, /members/me and DELETE /session the cookie, the integrations
webhook an X-API-Key header, /admin/audit-log HTTP Basic.
"""
import base64
import datetime as dt
import functools
import ipaddress
import random
import sys
import uuid

import jwt
import marshmallow as ma
from flask import Flask, g, request, session
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from waitress import serve

SECRET = "apisonar-taskboard-hs256-secret-key-02"
ISSUED_AT = 1705320000   # fixed: reproducible tokens
EXPIRES_AT = 1893456000
API_KEYS = {"tbk_9c1e55aa03f04b7e8d2c6b1a": "ci"}
BASIC = ("auditor", "Aud1t-2024!")
EPOCH = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.timezone.utc)

app = Flask(__name__)
app.config.update(
    API_TITLE="Taskboard API", API_VERSION="2.1.0", OPENAPI_VERSION="3.0.3",
    OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
    SECRET_KEY="apisonar-taskboard-flask-session-key", SESSION_COOKIE_NAME="tb_session",
    SESSION_COOKIE_SAMESITE="Lax", JSON_SORT_KEYS=False,
)
api = Api(app, spec_kwargs={"info": {"description": "Projects, tasks and comments of a small team tracker."}})
api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
api.spec.components.security_scheme("sessionCookie", {"type": "apiKey", "in": "cookie", "name": "tb_session"})
api.spec.components.security_scheme("apiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"})
api.spec.components.security_scheme("basicAuth", {"type": "http", "scheme": "basic"})

# ---------------------------------------------------------------- schemas


class MemberSchema(ma.Schema):
    username = ma.fields.String(required=True)
    email = ma.fields.Email(required=True)
    display_name = ma.fields.String()
    avatar_url = ma.fields.Url()
    last_seen_ip = ma.fields.IPv4()
    joined_at = ma.fields.DateTime()
    timezone = ma.fields.String()
    role = ma.fields.String()


class LoginSchema(ma.Schema):
    username = ma.fields.String(required=True)
    password = ma.fields.String(required=True, load_only=True)
    otp = ma.fields.String(load_default=None, validate=ma.validate.Regexp(r"^\d{6}$"))


class SessionSchema(ma.Schema):
    token = ma.fields.String(required=True)
    expires_at = ma.fields.DateTime()
    member = ma.fields.Nested(MemberSchema)


class ProjectSettingsSchema(ma.Schema):
    default_priority = ma.fields.String(validate=ma.validate.OneOf(["low", "normal", "high", "urgent"]))
    notify = ma.fields.Boolean()
    webhook_url = ma.fields.Url(allow_none=True)


class ProjectSchema(ma.Schema):
    key = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[A-Z][A-Z0-9]{1,9}$"))
    id = ma.fields.UUID(dump_only=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    owner = ma.fields.String(dump_only=True)
    members = ma.fields.List(ma.fields.String())
    settings = ma.fields.Nested(ProjectSettingsSchema)
    created_at = ma.fields.DateTime(dump_only=True)
    open_tasks = ma.fields.Integer(dump_only=True)


class ProjectPatchSchema(ma.Schema):
    name = ma.fields.String()
    description = ma.fields.String()
    members = ma.fields.List(ma.fields.String())
    settings = ma.fields.Nested(ProjectSettingsSchema)


class ProjectListArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(1, 100))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0))
    q = ma.fields.String()
    sort = ma.fields.String(load_default="key", validate=ma.validate.OneOf(["key", "-key", "name", "-created_at"]))


class ChecklistItemSchema(ma.Schema):
    text = ma.fields.String(required=True)
    done = ma.fields.Boolean(load_default=False)


STATUSES = ["todo", "in_progress", "review", "done"]
PRIORITIES = ["low", "normal", "high", "urgent"]


class TaskSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    number = ma.fields.Integer(dump_only=True)
    project = ma.fields.String(dump_only=True)
    title = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    description = ma.fields.String()
    status = ma.fields.String(load_default="todo", validate=ma.validate.OneOf(STATUSES))
    priority = ma.fields.String(load_default="normal", validate=ma.validate.OneOf(PRIORITIES))
    assignee = ma.fields.String(allow_none=True)
    due = ma.fields.DateTime(allow_none=True)
    labels = ma.fields.List(ma.fields.String(), load_default=list)
    checklist = ma.fields.List(ma.fields.Nested(ChecklistItemSchema), load_default=list)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)
    url = ma.fields.Url(dump_only=True)


class TaskListArgs(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    assignee = ma.fields.String()
    sort = ma.fields.String(load_default="number", validate=ma.validate.OneOf(["number", "-number", "due", "-updated_at"]))


class TaskSearchArgs(ma.Schema):
    q = ma.fields.String(required=True)
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    limit = ma.fields.Integer(load_default=10, validate=ma.validate.Range(1, 50))


class CommentSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    author = ma.fields.String(dump_only=True)
    body = ma.fields.String(required=True, validate=ma.validate.Length(1, 5000))
    mentions = ma.fields.List(ma.fields.String(), load_default=list)
    created_at = ma.fields.DateTime(dump_only=True)


class EventSchema(ma.Schema):
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(["push", "pipeline", "deployment", "alert"]))
    ref = ma.fields.String()
    commit = ma.fields.String(validate=ma.validate.Regexp(r"^[0-9a-f]{7,40}$"))
    task_refs = ma.fields.List(ma.fields.String())
    source_ip = ma.fields.IPv4()
    payload = ma.fields.Dict()


class EventAckSchema(ma.Schema):
    event_id = ma.fields.UUID()
    integration = ma.fields.String()
    linked_tasks = ma.fields.Integer()


class AuditArgs(ma.Schema):
    since = ma.fields.DateTime()
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(1, 100))


class AuditEntrySchema(ma.Schema):
    at = ma.fields.DateTime()
    actor = ma.fields.String()
    action = ma.fields.String()
    ip = ma.fields.IPv4()


# ------------------------------------------------------------------- data

rnd = random.Random(2401)
FIRST = ["jdoe", "mgarcia", "kwame", "lchen", "apatel", "snakamura", "omar", "ingrid", "pierre", "yuki",
         "fatima", "diego", "hana", "lars", "amelie", "raj", "zofia", "tobias", "nadia", "marco",
         "elena", "kenji", "sara", "bruno", "aisha", "felix", "greta", "ivo", "julia", "mehmet",
         "nina", "oscar", "paula", "quinn", "rosa", "stefan", "tara", "ugo", "vera", "wes",
         "xavier", "yara", "zane", "ada", "boris"]
MEMBERS = {}
for i, n in enumerate(FIRST):
    uname = n if i % 4 else "%s-%s" % (n, rnd.choice(["dev", "ops", "qa"]))
    MEMBERS[uname] = {
        "username": uname, "email": "%s@taskboard.example" % uname.replace("-", "."),
        "display_name": n.capitalize(), "avatar_url": "https://avatars.taskboard.example/%s.png" % uname,
        "last_seen_ip": ipaddress.IPv4Address("203.0.113.%d" % rnd.randrange(1, 255)),
        "joined_at": EPOCH - dt.timedelta(days=rnd.randrange(10, 1500)),
        "timezone": rnd.choice(["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]),
        "role": "admin" if i == 0 else "member", "password": "pw-" + uname,
    }
NAMES = list(MEMBERS)
PROJECTS = {}
TASKS = {}          # uuid -> task
COMMENTS = {}       # task uuid -> [comment]
WORDS = ["login", "cache", "export", "invoice", "search", "upload", "billing", "sso", "report", "mobile",
         "api", "docs", "timeout", "crash", "dark mode", "i18n", "onboarding", "audit", "webhook", "quota"]


def _uuid():
    return uuid.UUID(int=rnd.getrandbits(128), version=4)


def _task(pkey, data, author):
    p = PROJECTS[pkey]
    p["_next"] += 1
    t = {"id": _uuid(), "number": p["_next"], "project": pkey, "description": "", "assignee": None,
         "due": None, "labels": [], "checklist": [], "status": "todo", "priority": "normal",
         "created_at": EPOCH + dt.timedelta(hours=len(TASKS) * 3),
         "updated_at": EPOCH + dt.timedelta(hours=len(TASKS) * 3 + 1), "author": author}
    t.update(data)
    t["url"] = "https://taskboard.example/%s/%d" % (pkey, t["number"])
    TASKS[t["id"]] = t
    COMMENTS[t["id"]] = []
    return t


for key, name in [("APOLLO", "Apollo web app"), ("ORION", "Orion mobile"), ("VEGA", "Vega billing"),
                  ("LYRA", "Lyra data platform"), ("ATLAS", "Atlas infra"), ("NOVA", "Nova onboarding"),
                  ("HELIX", "Helix search"), ("KITE", "Kite SDK"), ("EMBER", "Ember design system"),
                  ("QUARK", "Quark API gateway"), ("TIDE", "Tide analytics"), ("PIXEL", "Pixel CMS")]:
    owner = rnd.choice(NAMES[:12])
    PROJECTS[key] = {"key": key, "id": _uuid(), "name": name, "description": name + " project",
                     "owner": owner, "members": [owner] + rnd.sample(NAMES, 5),
                     "settings": {"default_priority": "normal", "notify": True, "webhook_url": None},
                     "created_at": EPOCH - dt.timedelta(days=rnd.randrange(30, 600)), "_next": 0}
    for _ in range(rnd.randrange(8, 16)):
        w = rnd.sample(WORDS, 2)
        _task(key, {"title": "%s: fix %s" % (w[0].capitalize(), w[1]),
                    "status": rnd.choice(STATUSES), "priority": rnd.choice(PRIORITIES),
                    "assignee": rnd.choice(PROJECTS[key]["members"]), "labels": rnd.sample(["bug", "feature", "chore", "ux"], 1)},
              owner)
AUDIT = [{"at": EPOCH + dt.timedelta(minutes=7 * i), "actor": rnd.choice(NAMES),
          "action": rnd.choice(["login", "project.update", "task.delete", "member.invite"]),
          "ip": ipaddress.IPv4Address("192.0.2.%d" % rnd.randrange(1, 255))} for i in range(60)]

# ------------------------------------------------------------------- auth

_doc = Blueprint("_doc", __name__)  # only used for its blp.doc decorator


def auth(kind):
    """Enforce and document one auth scheme: bearer, cookie, apikey, basic."""
    scheme = {"bearer": "bearerAuth", "cookie": "sessionCookie", "apikey": "apiKey", "basic": "basicAuth"}[kind]

    def deco(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            if kind == "bearer":
                h = request.headers.get("Authorization", "")
                if not h.startswith("Bearer "):
                    abort(401, message="Bearer token required", headers={"WWW-Authenticate": "Bearer"})
                try:
                    claims = jwt.decode(h[7:], SECRET, algorithms=["HS256"], audience="taskboard")
                except jwt.PyJWTError as e:
                    abort(401, message="Invalid token: %s" % e, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
                g.me = MEMBERS[claims["sub"]]
            elif kind == "cookie":
                if session.get("user") not in MEMBERS:
                    abort(401, message="Login required")
                g.me = MEMBERS[session["user"]]
            elif kind == "apikey":
                key = request.headers.get("X-API-Key")
                if key is None:
                    abort(401, message="X-API-Key header required")
                if key not in API_KEYS:
                    abort(403, message="Unknown API key")
            elif kind == "basic":
                a = request.authorization
                if a is None or a.type != "basic" or (a.username, a.password) != BASIC:
                    abort(401, message="Authentication required", headers={"WWW-Authenticate": 'Basic realm="audit"'})
            return f(*args, **kwargs)
        return _doc.alt_response(401, response="UNAUTHORIZED")(_doc.doc(security=[{scheme: []}])(wrapper))
    return deco


def token_for(member):
    return jwt.encode({"sub": member["username"], "role": member["role"], "aud": "taskboard",
                       "iss": "https://taskboard.example", "iat": ISSUED_AT, "exp": EXPIRES_AT},
                      SECRET, algorithm="HS256")


def project_or_404(key):
    p = PROJECTS.get(key)
    if p is None:
        abort(404, message="Project %s not found" % key)
    return p


def task_or_404(key, number):
    project_or_404(key)
    for t in TASKS.values():
        if t["project"] == key and t["number"] == number:
            return t
    abort(404, message="Task %s-%d not found" % (key, number))


def with_open(p):
    return dict(p, open_tasks=sum(1 for t in TASKS.values() if t["project"] == p["key"] and t["status"] != "done"))

# ----------------------------------------------------------------- routes


auth_blp = Blueprint("session", __name__, url_prefix="/api/v2/session", description="Login and logout")


@auth_blp.route("")
class SessionView(MethodView):
    @auth_blp.arguments(LoginSchema)
    @auth_blp.response(200, SessionSchema)
    @auth_blp.alt_response(401, response="UNAUTHORIZED")
    def post(self, creds):
        """Log in: returns a JWT and sets the session cookie"""
        m = MEMBERS.get(creds["username"])
        if m is None or m["password"] != creds["password"]:
            abort(401, message="Invalid username or password")
        session["user"] = m["username"]
        return {"token": token_for(m), "expires_at": dt.datetime.fromtimestamp(EXPIRES_AT, dt.timezone.utc), "member": m}

    @auth_blp.response(204)
    @auth("cookie")
    def delete(self):
        """Log out"""
        session.clear()


members_blp = Blueprint("members", __name__, url_prefix="/api/v2/members", description="Team members")


@members_blp.route("/me")
class MeView(MethodView):
    @members_blp.response(200, MemberSchema)
    @auth("cookie")
    def get(self):
        """The logged-in member (session cookie)"""
        return g.me


@members_blp.route("/<string:username>")
class MemberView(MethodView):
    @members_blp.response(200, MemberSchema)
    @members_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def get(self, username):
        """A member by user name"""
        if username not in MEMBERS:
            abort(404, message="No member %s" % username)
        return MEMBERS[username]


projects_blp = Blueprint("projects", __name__, url_prefix="/api/v2/projects", description="Projects and their tasks")


@projects_blp.route("")
class ProjectsView(MethodView):
    @projects_blp.arguments(ProjectListArgs, location="query")
    @projects_blp.response(200, ProjectSchema(many=True))
    @auth("bearer")
    def get(self, args):
        """List projects"""
        rows = [with_open(p) for p in PROJECTS.values()
                if not args.get("q") or args["q"].lower() in p["name"].lower()]
        s = args["sort"]
        rows.sort(key=lambda p: p[s.lstrip("-")], reverse=s.startswith("-"))
        return rows[args["offset"]:args["offset"] + args["limit"]]

    @projects_blp.arguments(ProjectSchema)
    @projects_blp.response(201, ProjectSchema)
    @projects_blp.alt_response(409, response="CONFLICT")
    @auth("bearer")
    def post(self, data):
        """Create a project"""
        if data["key"] in PROJECTS:
            abort(409, message="Project key %s is taken" % data["key"])
        p = {"description": "", "settings": {"default_priority": "normal", "notify": True, "webhook_url": None}}
        p.update(data, id=_uuid(), owner=g.me["username"], created_at=EPOCH + dt.timedelta(days=30), _next=0)
        p["members"] = sorted(set(p.get("members", [])) | {g.me["username"]})
        PROJECTS[p["key"]] = p
        return with_open(p), 201, {"Location": "/api/v2/projects/" + p["key"]}


@projects_blp.route("/<string:project_key>")
class ProjectView(MethodView):
    @projects_blp.response(200, ProjectSchema)
    @projects_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def get(self, project_key):
        """A project"""
        return with_open(project_or_404(project_key))

    @projects_blp.arguments(ProjectPatchSchema)
    @projects_blp.response(200, ProjectSchema)
    @projects_blp.alt_response(403, response="FORBIDDEN")
    @projects_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def patch(self, data, project_key):
        """Update some fields of a project (owner only)"""
        p = project_or_404(project_key)
        if p["owner"] != g.me["username"] and g.me["role"] != "admin":
            abort(403, message="Only the owner can change %s" % project_key)
        if "settings" in data:
            p["settings"] = dict(p["settings"], **data.pop("settings"))
        p.update(data)
        return with_open(p)

    @projects_blp.response(204)
    @projects_blp.alt_response(403, response="FORBIDDEN")
    @projects_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def delete(self, project_key):
        """Delete a project and its tasks (owner only)"""
        p = project_or_404(project_key)
        if p["owner"] != g.me["username"]:
            abort(403, message="Only the owner can delete %s" % project_key)
        del PROJECTS[project_key]


@projects_blp.route("/<string:project_key>/tasks")
class ProjectTasksView(MethodView):
    @projects_blp.arguments(TaskListArgs, location="query")
    @projects_blp.response(200, TaskSchema(many=True))
    @projects_blp.paginate()
    @projects_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def get(self, args, project_key, pagination_parameters):
        """List a project's tasks (page / page_size pagination, X-Pagination header)"""
        project_or_404(project_key)
        rows = [t for t in TASKS.values() if t["project"] == project_key
                and args.get("status", t["status"]) == t["status"]
                and args.get("assignee", t["assignee"]) == t["assignee"]]
        s = args["sort"]
        rows.sort(key=lambda t: (t[s.lstrip("-")] is None, t[s.lstrip("-")] or 0), reverse=s.startswith("-"))
        pagination_parameters.item_count = len(rows)
        first = pagination_parameters.first_item
        return rows[first:first + pagination_parameters.page_size]

    @projects_blp.arguments(TaskSchema)
    @projects_blp.response(201, TaskSchema)
    @projects_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def post(self, data, project_key):
        """Create a task in a project"""
        project_or_404(project_key)
        if data.get("assignee") and data["assignee"] not in MEMBERS:
            abort(422, message="Unknown assignee %s" % data["assignee"])
        t = _task(project_key, data, g.me["username"])
        return t, 201, {"Location": "/api/v2/projects/%s/tasks/%d" % (project_key, t["number"])}


@projects_blp.route("/<string:project_key>/tasks/<int:task_number>")
class ProjectTaskView(MethodView):
    @projects_blp.response(200, TaskSchema)
    @projects_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def get(self, project_key, task_number):
        """A task by project key and number"""
        return task_or_404(project_key, task_number)

    @projects_blp.arguments(TaskSchema)
    @projects_blp.response(200, TaskSchema)
    @projects_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def put(self, data, project_key, task_number):
        """Replace a task"""
        t = task_or_404(project_key, task_number)
        for k in ("description", "assignee", "due"):
            t[k] = data.get(k, "" if k == "description" else None)
        t.update(data)
        t["updated_at"] = t["updated_at"] + dt.timedelta(hours=2)
        return t

    @projects_blp.response(204)
    @projects_blp.alt_response(403, response="FORBIDDEN")
    @projects_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def delete(self, project_key, task_number):
        """Delete a task (its author or the project owner)"""
        t = task_or_404(project_key, task_number)
        if g.me["username"] not in (t["author"], PROJECTS[project_key]["owner"]):
            abort(403, message="Not allowed to delete %s-%d" % (project_key, task_number))
        del TASKS[t["id"]]


tasks_blp = Blueprint("tasks", __name__, url_prefix="/api/v2/tasks", description="Tasks by id, comments, search")


@tasks_blp.route("/search")
class TaskSearchView(MethodView):
    @tasks_blp.arguments(TaskSearchArgs, location="query")
    @tasks_blp.response(200, TaskSchema(many=True))
    @auth("bearer")
    def get(self, args):
        """Full-text search over task titles"""
        q = args["q"].lower()
        return [t for t in TASKS.values() if q in t["title"].lower()
                and args.get("status", t["status"]) == t["status"]][:args["limit"]]


@tasks_blp.route("/<uuid:task_id>")
class TaskView(MethodView):
    @tasks_blp.response(200, TaskSchema)
    @tasks_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def get(self, task_id):
        """A task by its UUID"""
        if task_id not in TASKS:
            abort(404, message="Task %s not found" % task_id)
        return TASKS[task_id]


@tasks_blp.route("/<uuid:task_id>/history")
class TaskHistoryView(MethodView):
    @tasks_blp.response(200, AuditEntrySchema(many=True))
    @tasks_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def get(self, task_id):
        """Change history of a task"""
        if task_id not in TASKS:
            abort(404, message="Task %s not found" % task_id)
        return AUDIT[:3]


@tasks_blp.route("/<uuid:task_id>/comments")
class CommentsView(MethodView):
    @tasks_blp.response(200, CommentSchema(many=True))
    @tasks_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def get(self, task_id):
        """Comments on a task"""
        if task_id not in TASKS:
            abort(404, message="Task %s not found" % task_id)
        return COMMENTS[task_id]

    @tasks_blp.arguments(CommentSchema)
    @tasks_blp.response(201, CommentSchema)
    @tasks_blp.alt_response(404, response="NOT_FOUND")
    @auth("bearer")
    def post(self, data, task_id):
        """Comment on a task"""
        if task_id not in TASKS:
            abort(404, message="Task %s not found" % task_id)
        c = dict(data, id=_uuid(), author=g.me["username"],
                 created_at=EPOCH + dt.timedelta(days=2, minutes=sum(len(v) for v in COMMENTS.values())))
        COMMENTS[task_id].append(c)
        return c


integrations_blp = Blueprint("integrations", __name__, url_prefix="/api/v2/integrations",
                             description="Inbound events from CI and monitoring")
INTEGRATIONS = ["github", "gitlab-ci", "jenkins-main", "sentry", "pagerduty", "circleci"]


@integrations_blp.route("/<string:integration_id>/events")
class EventsView(MethodView):
    @integrations_blp.arguments(EventSchema)
    @integrations_blp.response(202, EventAckSchema)
    @integrations_blp.alt_response(403, response="FORBIDDEN")
    @integrations_blp.alt_response(404, response="NOT_FOUND")
    @auth("apikey")
    def post(self, data, integration_id):
        """Receive an event from an integration"""
        if integration_id not in INTEGRATIONS:
            abort(404, message="No integration %s" % integration_id)
        linked = sum(1 for r in data.get("task_refs", []) if "-" in r and r.split("-")[0] in PROJECTS)
        return {"event_id": _uuid(), "integration": integration_id, "linked_tasks": linked}


admin_blp = Blueprint("admin", __name__, url_prefix="/api/v2/admin", description="Administration")


@admin_blp.route("/audit-log")
class AuditView(MethodView):
    @admin_blp.arguments(AuditArgs, location="query")
    @admin_blp.response(200, AuditEntrySchema(many=True))
    @auth("basic")
    def get(self, args):
        """Audit log (HTTP Basic)"""
        rows = [a for a in AUDIT if "since" not in args or a["at"] >= args["since"]]
        return rows[:args["limit"]]


for b in (auth_blp, members_blp, projects_blp, tasks_blp, integrations_blp, admin_blp):
    api.register_blueprint(b)

if __name__ == "__main__":
    serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=4, channel_timeout=120, ident="waitress")
