"""Newsroom API (Django + Django REST framework, schema by drf-spectacular,
served by gunicorn's gthread worker) used to record
captures/apis/django-newsroom.pcap. A one-file Django project:

    gunicorn --chdir DIR -k gthread --threads 4 -b 127.0.0.1:8001 newsroom:application

The OpenAPI document is drf-spectacular's, served at /api/schema/. Data lives
in memory (no database) and comes from a fixed seed.

Auth: POST /api/v1/auth/token/ returns an HS256 JWT (PyJWT) and stores the
author in Django's session (signed-cookie backend, cookie "sessionid");
writes need the Bearer JWT, /authors/me/ the session cookie, the partner
feed an X-API-Key header, /stats/ HTTP Basic.
"""
import base64
import datetime as dt
import random
import re
import uuid

import django
from django.conf import settings

settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="apisonar-newsroom-django-secret-key",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
                    "rest_framework", "drf_spectacular"],
    MIDDLEWARE=["django.middleware.common.CommonMiddleware", "django.contrib.sessions.middleware.SessionMiddleware"],
    DATABASES={}, USE_TZ=True, TIME_ZONE="UTC",
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies", SESSION_COOKIE_SAMESITE="Lax",
    REST_FRAMEWORK={
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
        "DEFAULT_AUTHENTICATION_CLASSES": [],  # set per view (the classes live in this module)
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
        "UNAUTHENTICATED_USER": None,
    },
    SPECTACULAR_SETTINGS={"TITLE": "Newsroom API", "VERSION": "1.0.0",
                          "DESCRIPTION": "Authors, articles, comments and tags of an online newspaper.",
                          "SERVE_INCLUDE_SCHEMA": False, "COMPONENT_SPLIT_REQUEST": True},
)
django.setup()

import jwt  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import include, path  # noqa: E402
from drf_spectacular.extensions import OpenApiAuthenticationExtension  # noqa: E402
from drf_spectacular.types import OpenApiTypes  # noqa: E402
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer  # noqa: E402
from drf_spectacular.views import SpectacularAPIView  # noqa: E402
from rest_framework import exceptions, permissions, serializers, status, viewsets  # noqa: E402
from rest_framework.authentication import BaseAuthentication  # noqa: E402
from rest_framework.decorators import action  # noqa: E402
from rest_framework.pagination import PageNumberPagination  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.routers import SimpleRouter  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

JWT_SECRET = "apisonar-newsroom-hs256-secret-key-04"
ISSUED_AT, EXPIRES_AT = 1705320000, 1893456000  # fixed: reproducible tokens
API_KEYS = {"nr_partner_7d3f0c2b9a8e4f6d": "wire-agency"}
BASIC = ("metrics", "Newsr00m-stats")
EPOCH = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.timezone.utc)

# ------------------------------------------------------------------- data
rnd = random.Random(1515)
NAMES = ["Ana Souza", "Ben Carter", "Chiara Russo", "David Okafor", "Eva Lindqvist", "Farid Haddad", "Gemma Walsh",
         "Hiro Tanaka", "Isla Murray", "Jonas Weber", "Kavya Rao", "Luis Ortega", "Maya Cohen", "Nils Berg",
         "Olga Petrova", "Pablo Ruiz", "Qi Zhang", "Rita Moreau", "Sam Novak", "Tess Young", "Umar Siddiqui",
         "Vera Kovac", "Will Turner", "Xenia Popa", "Yusuf Demir", "Zara Ahmed", "Aidan Byrne", "Bea Fontaine",
         "Cyrus Nazari", "Dana Kim", "Elif Aydin", "Femi Adeyemi", "Greta Holm", "Hugo Lambert", "Ines Duarte",
         "Jack Reilly", "Kira Sato", "Leon Fischer"]
AUTHORS = {}
for i, n in enumerate(NAMES):
    aid = 101 + i * 3
    handle = n.lower().replace(" ", ".")
    AUTHORS[aid] = {"id": aid, "name": n, "handle": handle, "email": "%s@newsroom.example" % handle,
                    "role": "editor" if i < 4 else "writer", "bio": "Reporter covering %s." % rnd.choice(
                        ["politics", "science", "sport", "culture", "business", "technology"]),
                    "website": "https://newsroom.example/authors/%s" % handle,
                    "last_login_ip": "100.64.%d.%d" % (rnd.randrange(256), rnd.randrange(1, 255)),
                    "joined": EPOCH - dt.timedelta(days=rnd.randrange(30, 3000)), "password": "pw-" + handle}
BY_HANDLE = {a["handle"]: a for a in AUTHORS.values()}
TAGS = ["politics", "science", "sport", "culture", "business", "technology", "climate", "health", "europe", "asia",
        "elections", "ai", "football", "music", "markets"]
WORDS = ["city", "council", "votes", "new", "budget", "study", "finds", "rising", "sea", "levels", "league", "final",
         "festival", "opens", "startup", "raises", "funding", "vaccine", "trial", "results", "river", "cleanup",
         "summit", "ends", "without", "deal", "record", "heat", "museum", "reopens"]


def slugify(s):
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


ARTICLES = {}
COMMENTS = {}


def _uuid():
    return uuid.UUID(int=rnd.getrandbits(128), version=4)


def add_article(author_id, data):
    base = slugify(data["title"])
    slug, k = base, 2
    while slug in ARTICLES:
        slug, k = "%s-%d" % (base, k), k + 1
    a = {"slug": slug, "id": _uuid(), "author": author_id, "summary": "", "body": "", "tags": [], "status": "draft",
         "published_at": None, "hero_image": None, "seo": None,
         "created_at": EPOCH + dt.timedelta(minutes=len(ARTICLES) * 37),
         "updated_at": EPOCH + dt.timedelta(minutes=len(ARTICLES) * 37 + 5)}
    a.update(data)
    ARTICLES[slug] = a
    COMMENTS[slug] = []
    return a


for i in range(90):
    title = " ".join(rnd.sample(WORDS, rnd.randrange(3, 6))).capitalize()
    a = add_article(rnd.choice(list(AUTHORS)), {
        "title": title, "summary": "A short summary of: %s." % title.lower(), "body": "Lorem ipsum. " * rnd.randrange(2, 6),
        "tags": rnd.sample(TAGS, rnd.randrange(1, 4)), "status": "published" if rnd.random() < 0.8 else "draft",
        "hero_image": "https://img.newsroom.example/%d.jpg" % (5000 + i)})
    if a["status"] == "published":
        a["published_at"] = a["created_at"] + dt.timedelta(hours=2)
    for _ in range(rnd.randrange(0, 5)):
        COMMENTS[a["slug"]].append({"id": _uuid(), "author_name": rnd.choice(["reader42", "jo_m", "anon", "Kai", "Lu"]),
                                    "email": "reader%d@mail.example" % rnd.randrange(1000),
                                    "text": rnd.choice(["Great piece!", "Source?", "Interesting.", "I disagree."]),
                                    "in_reply_to": None, "created_at": a["created_at"] + dt.timedelta(hours=5)})

# ------------------------------------------------------------------- auth


class Principal:
    is_authenticated = True

    def __init__(self, author):
        self.author = author


class JWTAuthentication(BaseAuthentication):
    def authenticate(self, request):
        h = request.META.get("HTTP_AUTHORIZATION", "")
        if not h.startswith("Bearer "):
            return None
        try:
            claims = jwt.decode(h[7:], JWT_SECRET, algorithms=["HS256"], audience="newsroom")
        except jwt.PyJWTError:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        return Principal(AUTHORS[claims["uid"]]), claims

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class SessionCookieAuthentication(BaseAuthentication):
    def authenticate(self, request):
        aid = request._request.session.get("author_id")
        return (Principal(AUTHORS[aid]), None) if aid in AUTHORS else None

    def authenticate_header(self, request):
        return 'Cookie realm="newsroom"'


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        key = request.META.get("HTTP_X_API_KEY")
        if key is None:
            return None
        if key not in API_KEYS:
            raise exceptions.PermissionDenied("Unknown API key.")
        return Principal({"id": 0, "role": "partner", "handle": API_KEYS[key]}), key

    def authenticate_header(self, request):
        return 'ApiKey header="X-API-Key"'


class StatsBasicAuthentication(BaseAuthentication):
    def authenticate(self, request):
        h = request.META.get("HTTP_AUTHORIZATION", "")
        if not h.startswith("Basic "):
            return None
        user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        if (user, pw) != BASIC:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        return Principal({"id": 0, "role": "metrics", "handle": user}), None

    def authenticate_header(self, request):
        return 'Basic realm="stats"'


for cls, name, definition in [
        (JWTAuthentication, "jwtAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
        (SessionCookieAuthentication, "sessionCookie", {"type": "apiKey", "in": "cookie", "name": "sessionid"}),
        (ApiKeyAuthentication, "apiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"}),
        (StatsBasicAuthentication, "basicAuth", {"type": "http", "scheme": "basic"})]:
    type(cls.__name__ + "Scheme", (OpenApiAuthenticationExtension,), {
        "target_class": cls, "name": name,
        "get_security_definition": (lambda d: lambda self, auto_schema: d)(definition)})


class IsEditor(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.author["role"] == "editor")

# ----------------------------------------------------------- serializers


class AuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    handle = serializers.SlugField(read_only=True)
    email = serializers.EmailField()
    role = serializers.ChoiceField(["editor", "writer"], read_only=True)
    bio = serializers.CharField(required=False, allow_blank=True)
    website = serializers.URLField(required=False)
    last_login_ip = serializers.IPAddressField(protocol="IPv4", read_only=True)
    joined = serializers.DateTimeField(read_only=True)


class SeoSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=70)
    description = serializers.CharField(max_length=160, required=False)
    canonical_url = serializers.URLField(required=False)


class ArticleSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    slug = serializers.SlugField(read_only=True)
    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(required=False, allow_blank=True)
    body = serializers.CharField()
    tags = serializers.ListField(child=serializers.ChoiceField(TAGS), required=False)
    status = serializers.ChoiceField(["draft", "published"], read_only=True)
    author = serializers.IntegerField(read_only=True)
    hero_image = serializers.URLField(required=False, allow_null=True)
    seo = SeoSerializer(required=False, allow_null=True)
    published_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class CommentSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    author_name = serializers.CharField(max_length=50)
    email = serializers.EmailField(write_only=True)
    text = serializers.CharField(max_length=2000)
    in_reply_to = serializers.UUIDField(required=False, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class TagSerializer(serializers.Serializer):
    name = serializers.CharField()
    articles = serializers.IntegerField()
    url = serializers.URLField()


class LoginSerializer(serializers.Serializer):
    handle = serializers.CharField()
    password = serializers.CharField(write_only=True)


class TokenSerializer(serializers.Serializer):
    access = serializers.CharField()
    token_type = serializers.CharField()
    expires = serializers.DateTimeField()
    author = AuthorSerializer()


class Pagination(PageNumberPagination):
    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 50


def public(author):
    return {k: v for k, v in author.items() if k != "password"}


def not_found(what):
    raise exceptions.NotFound("%s not found." % what)

# ----------------------------------------------------------------- views


class TokenView(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=LoginSerializer, responses={200: TokenSerializer, 401: OpenApiTypes.OBJECT}, tags=["auth"])
    def post(self, request):
        s = LoginSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        a = BY_HANDLE.get(s.validated_data["handle"])
        if a is None or a["password"] != s.validated_data["password"]:
            raise exceptions.AuthenticationFailed("No active account found with the given credentials.")
        request._request.session["author_id"] = a["id"]
        token = jwt.encode({"uid": a["id"], "handle": a["handle"], "role": a["role"], "aud": "newsroom",
                            "iat": ISSUED_AT, "exp": EXPIRES_AT}, JWT_SECRET, algorithm="HS256")
        return Response(TokenSerializer({"access": token, "token_type": "Bearer", "author": public(a),
                                         "expires": dt.datetime.fromtimestamp(EXPIRES_AT, dt.timezone.utc)}).data)

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class LogoutView(APIView):
    authentication_classes = [SessionCookieAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        request._request.session.flush()
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("search", str, description="Name or handle contains"),
                                   OpenApiParameter("role", str, enum=["editor", "writer"])]),
)
class AuthorViewSet(viewsets.GenericViewSet):
    authentication_classes = [JWTAuthentication]
    serializer_class = AuthorSerializer
    pagination_class = Pagination
    lookup_value_converter = "int"

    def list(self, request):
        q = request.query_params.get("search", "").lower()
        role = request.query_params.get("role")
        rows = [public(a) for a in AUTHORS.values()
                if (q in a["name"].lower() or q in a["handle"]) and (not role or a["role"] == role)]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(AuthorSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(AuthorSerializer(public(AUTHORS.get(int(pk)) or not_found("Author"))).data)

    def partial_update(self, request, pk=None):
        a = AUTHORS.get(int(pk)) or not_found("Author")
        if request.user.author["id"] != a["id"] and request.user.author["role"] != "editor":
            raise exceptions.PermissionDenied("You can only edit your own profile.")
        s = AuthorSerializer(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        a.update(s.validated_data)
        return Response(AuthorSerializer(public(a)).data)

    @extend_schema(responses=AuthorSerializer)
    @action(detail=False, methods=["get"], authentication_classes=[SessionCookieAuthentication],
            permission_classes=[permissions.IsAuthenticated])
    def me(self, request):
        return Response(AuthorSerializer(public(request.user.author)).data)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("tag", str, enum=TAGS), OpenApiParameter("author", int),
                                   OpenApiParameter("search", str), OpenApiParameter("ordering", str,
                                   enum=["created_at", "-created_at", "title", "-published_at"])]),
)
class ArticleViewSet(viewsets.GenericViewSet):
    authentication_classes = [JWTAuthentication]
    serializer_class = ArticleSerializer
    pagination_class = Pagination
    lookup_field = "slug"
    lookup_value_converter = "slug"

    def get_article(self, slug):
        return ARTICLES.get(slug) or not_found("Article")

    def check_owner(self, request, a):
        if a["author"] != request.user.author["id"] and request.user.author["role"] != "editor":
            raise exceptions.PermissionDenied("Only the author or an editor may change this article.")

    def list(self, request):
        qp = request.query_params
        rows = [a for a in ARTICLES.values() if a["status"] == "published"
                and (not qp.get("tag") or qp["tag"] in a["tags"])
                and (not qp.get("author") or str(a["author"]) == qp["author"])
                and (not qp.get("search") or qp["search"].lower() in a["title"].lower())]
        o = qp.get("ordering", "-created_at")
        key = o.lstrip("-")
        if key in ("created_at", "title", "published_at"):
            rows.sort(key=lambda a: a[key], reverse=o.startswith("-"))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ArticleSerializer(page, many=True).data)

    def create(self, request):
        s = ArticleSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        a = add_article(request.user.author["id"], dict(s.validated_data))
        return Response(ArticleSerializer(a).data, status=201, headers={"Location": "/api/v1/articles/%s/" % a["slug"]})

    def retrieve(self, request, slug=None):
        return Response(ArticleSerializer(self.get_article(slug)).data)

    def update(self, request, slug=None, partial=False):
        a = self.get_article(slug)
        self.check_owner(request, a)
        s = ArticleSerializer(data=request.data, partial=partial)
        s.is_valid(raise_exception=True)
        a.update(s.validated_data)
        a["updated_at"] = a["updated_at"] + dt.timedelta(minutes=30)
        return Response(ArticleSerializer(a).data)

    def partial_update(self, request, slug=None):
        return self.update(request, slug, partial=True)

    def destroy(self, request, slug=None):
        a = self.get_article(slug)
        self.check_owner(request, a)
        del ARTICLES[slug]
        return Response(status=204)

    @extend_schema(request=None, responses={200: ArticleSerializer})
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated, IsEditor])
    def publish(self, request, slug=None):
        a = self.get_article(slug)
        if a["status"] != "published":
            a["status"], a["published_at"] = "published", a["updated_at"] + dt.timedelta(hours=1)
        return Response(ArticleSerializer(a).data)


class CommentViewSet(viewsets.GenericViewSet):
    authentication_classes = [JWTAuthentication]
    serializer_class = CommentSerializer
    pagination_class = Pagination
    lookup_value_converter = "uuid"

    def get_permissions(self):
        if self.action == "destroy":
            return [permissions.IsAuthenticated(), IsEditor()]
        if self.action == "create":
            return [permissions.AllowAny()]  # readers comment without an account
        return super().get_permissions()

    def comments(self, article_slug):
        if article_slug not in ARTICLES:
            not_found("Article")
        return COMMENTS[article_slug]

    def list(self, request, article_slug=None):
        page = self.paginate_queryset(self.comments(article_slug))
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    def create(self, request, article_slug=None):
        rows = self.comments(article_slug)
        s = CommentSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        c = dict(s.validated_data, id=_uuid(), created_at=EPOCH + dt.timedelta(days=1, seconds=len(rows)))
        rows.append(c)
        return Response(CommentSerializer(c).data, status=201)

    def find(self, article_slug, pk):
        for c in self.comments(article_slug):
            if str(c["id"]) == str(pk):
                return c
        not_found("Comment")

    def retrieve(self, request, article_slug=None, pk=None):
        return Response(CommentSerializer(self.find(article_slug, pk)).data)

    def destroy(self, request, article_slug=None, pk=None):
        self.comments(article_slug).remove(self.find(article_slug, pk))
        return Response(status=204)


class TagViewSet(viewsets.GenericViewSet):
    authentication_classes = [JWTAuthentication]
    serializer_class = TagSerializer
    lookup_field = "name"
    lookup_value_converter = "slug"

    def row(self, name):
        return {"name": name, "articles": sum(1 for a in ARTICLES.values() if name in a["tags"]),
                "url": "https://newsroom.example/tags/%s" % name}

    def list(self, request):
        return Response(TagSerializer([self.row(t) for t in TAGS], many=True).data)

    def retrieve(self, request, name=None):
        if name not in TAGS:
            not_found("Tag")
        return Response(TagSerializer(self.row(name)).data)


class PartnerFeedView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("since", OpenApiTypes.DATETIME), OpenApiParameter("limit", int)],
                   responses=ArticleSerializer(many=True), tags=["partners"])
    def get(self, request, partner):
        if partner not in ("wire-agency", "aggregator-one", "radio-north"):
            not_found("Partner")
        rows = [a for a in ARTICLES.values() if a["status"] == "published"]
        since = request.query_params.get("since")
        if since:
            rows = [a for a in rows if a["published_at"].isoformat() >= since]
        return Response(ArticleSerializer(rows[:int(request.query_params.get("limit", 20))], many=True).data)


class StatsView(APIView):
    authentication_classes = [StatsBasicAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=inline_serializer("Stats", {
        "authors": serializers.IntegerField(), "articles": serializers.IntegerField(),
        "comments": serializers.IntegerField(), "server_ip": serializers.IPAddressField(protocol="IPv4"),
        "generated_at": serializers.DateTimeField()}), tags=["ops"])
    def get(self, request):
        return Response({"authors": len(AUTHORS), "articles": len(ARTICLES),
                         "comments": sum(len(v) for v in COMMENTS.values()), "server_ip": "10.20.0.15",
                         "generated_at": EPOCH.isoformat()})


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses=inline_serializer("Health", {"status": serializers.CharField(),
                                                          "version": serializers.CharField()}), tags=["ops"])
    def get(self, request):
        return Response({"status": "ok", "version": "1.0.0"})


router = SimpleRouter(use_regex_path=False)  # no format-suffix (.json) routes, no root view
router.register("authors", AuthorViewSet, basename="author")
router.register("articles", ArticleViewSet, basename="article")
router.register("tags", TagViewSet, basename="tag")
comment_list = CommentViewSet.as_view({"get": "list", "post": "create"})
comment_detail = CommentViewSet.as_view({"get": "retrieve", "delete": "destroy"})

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/auth/token/", TokenView.as_view()),
    path("api/v1/auth/logout/", LogoutView.as_view()),
    path("api/v1/articles/<slug:article_slug>/comments/", comment_list),
    path("api/v1/articles/<slug:article_slug>/comments/<uuid:pk>/", comment_detail),
    path("api/v1/partners/<slug:partner>/feed/", PartnerFeedView.as_view()),
    path("api/v1/stats/", StatsView.as_view()),
    path("api/v1/health/", HealthView.as_view()),
    path("api/v1/", include(router.urls)),
]

application = get_wsgi_application()
