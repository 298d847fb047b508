//! Router tests with `oneshot`: access control on every route, login, sessions, CSRF, API
//! tokens, security headers, and the API's filters on a small in-memory store.

use super::*;
use apisonar_engine::{Alert, AlertMerge, AlertState, Changes, Endpoint, Severity};
use apisonar_store::MemoryStore;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Fake;

impl Sensor for Fake {
    fn metrics(&self) -> Vec<Metric> {
        vec![Metric::counter("apisonar_capture_packets_total", "Frames captured.").sample(&[("source", "eth0")], 42.0)]
    }
    fn health(&self) -> Health {
        Health { ok: true, problems: vec![] }
    }
}

struct Lab {
    app: Router,
    password: String,
    token: String,
    store: Arc<MemoryStore>,
    state: AppState,
}

fn endpoint(host: &str, method: &str, path: &str, hits: u64, cleartext: u64) -> Endpoint {
    Endpoint {
        host: host.into(),
        method: method.into(),
        path: path.into(),
        hits,
        cleartext,
        encrypted: hits - cleartext,
        first_seen: 1_700_000_000_000_000,
        last_seen: 1_700_000_000_000_000 + hits as i64,
        ..Endpoint::default()
    }
}

fn lab(tls: bool) -> Lab {
    let store = Arc::new(MemoryStore::default());
    store
        .apply(&Changes {
            upserts: vec![
                endpoint("shop.test", "GET", "/api/users/{id}", 50, 50),
                endpoint("shop.test", "POST", "/api/login", 9, 0),
                endpoint("admin.test", "GET", "/metrics", 3, 3),
            ],
            ..Changes::default()
        })
        .unwrap();
    let draft = Alert {
        id: 0,
        kind: "cleartext_credentials".into(),
        subtype: None,
        severity: Severity::High,
        title: "Credentials sent in cleartext".into(),
        host: "shop.test".into(),
        method: "GET".into(),
        path: "/api/users/{id}".into(),
        client: Some("10.0.0.7".into()),
        count: 3,
        first_seen: 1,
        last_seen: 2,
        state: AlertState::Open,
        evidence: "bearer jwt(HS256) ****".into(),
        clients: Default::default(),
        top_clients: vec![apisonar_engine::alert::ClientCount { client: "10.0.0.7".into(), count: 3 }],
        samples: vec!["bearer jwt(HS256) ****".into()],
        example: None,
        history: Vec::new(),
        assignee: None,
        comments: Vec::new(),
    };
    store.upsert_alert(&draft, AlertMerge::Add).unwrap();
    let password = auth::ensure_admin(store.as_ref()).unwrap().unwrap();
    let (token, _) = auth::create_token(store.as_ref(), new_token("ci", &[auth::Scope::Admin])).unwrap();
    let state = AppState::new(store.clone(), serving(store.clone()), Some(Arc::new(Fake)), tls);
    Lab { app: router(state.clone()), password, token, store, state }
}

/// An application core serving commands on `store` on its own thread (until the test's handles
/// are gone), as `apisonar serve` runs it.
fn serving(store: Arc<MemoryStore>) -> apisonar_app::Commands {
    let (commands, _thread) = apisonar_app::spawn_serving(store, Default::default(), Box::new(|| false)).unwrap();
    commands
}

fn new_token(name: &'static str, scopes: &[auth::Scope]) -> auth::NewToken<'static> {
    auth::NewToken { name, scopes: scopes.to_vec(), created: "2026-11-30T00:00:00Z".into(), expires: None }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// A login form post, to finish with `.body(...)`.
fn login_form() -> axum::http::request::Builder {
    Request::post("/login").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
}

/// Signs in as admin with the right password.
async fn sign_in(lab: &Lab) -> Reply {
    let form = format!("user=admin&password={}", lab.password);
    send(&lab.app, login_form().body(Body::from(form)).unwrap()).await
}

async fn login(lab: &Lab) -> (String, String) {
    let reply = sign_in(lab).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let set_cookie = reply.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let session =
        send(&lab.app, Request::get("/api/v1/session").header(header::COOKIE, &cookie).body(Body::empty()).unwrap())
            .await;
    let csrf = session.json()["csrf"].as_str().unwrap().to_string();
    (cookie, csrf)
}

/// The routes outside the API (the page, logout, metrics).
const PAGE_ROUTES: &[(&str, &str)] = &[("GET", "/"), ("POST", "/logout"), ("GET", "/metrics")];

/// Every route of the router with a method and an example path: the API's from the table the
/// router is built from, so that a new route is covered without editing this list.
fn all_routes() -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = PAGE_ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    for r in api::route_table() {
        let example =
            r.path.replace("{id}", if r.path.starts_with("/endpoints") { "00" } else { "1" }).replace("{name}", "x");
        for method in r.methods {
            let query = if r.path == "/specs" && *method == "POST" { "?name=x" } else { "" };
            routes.push((method.to_string(), format!("/api/v1{example}{query}")));
        }
    }
    routes
}

#[test]
fn the_openapi_document_describes_every_api_route() {
    let doc: serde_json::Value = serde_json::from_str(include_str!("../../../web/openapi.json")).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let table = api::route_table();
    assert!(table.len() >= 13);
    for r in &table {
        let item = paths.get(r.path).unwrap_or_else(|| panic!("{} is not in web/openapi.json", r.path));
        for method in r.methods {
            assert!(item.get(method.to_ascii_lowercase()).is_some(), "{method} {} is not in web/openapi.json", r.path);
        }
        // And nothing documented that the router does not answer.
        let documented: Vec<String> =
            item.as_object().unwrap().keys().filter(|k| *k != "parameters").cloned().collect();
        for m in documented {
            assert!(r.methods.contains(&m.to_ascii_uppercase().as_str()), "{m} {} documented but not routed", r.path);
        }
    }
    assert_eq!(paths.len(), table.len(), "every documented path is routed");
}

#[tokio::test]
async fn nothing_but_login_assets_and_health_answers_without_credentials() {
    let lab = lab(true);
    for (method, path) in all_routes() {
        let request = Request::builder().method(method.as_str()).uri(&path).body(Body::empty()).unwrap();
        let reply = send(&lab.app, request).await;
        let refused = reply.status == StatusCode::UNAUTHORIZED
            || (reply.status == StatusCode::SEE_OTHER
                && reply.headers.get(header::LOCATION).map(|v| v.as_bytes()) == Some(b"/login"));
        assert!(refused, "{method} {path} answered {} without credentials: {}", reply.status, reply.body);
        assert!(!reply.body.contains("shop.test") && !reply.body.contains("apisonar_capture"), "{method} {path}");
    }
    // A wrong token and a forged cookie are refused too.
    let bad = Request::get("/api/v1/endpoints").header(header::AUTHORIZATION, "Bearer aps_nope").body(Body::empty());
    assert_eq!(send(&lab.app, bad.unwrap()).await.status, StatusCode::UNAUTHORIZED);
    let forged =
        Request::get("/api/v1/endpoints").header(header::COOKIE, "__Host-apisonar_session=abc").body(Body::empty());
    assert_eq!(send(&lab.app, forged.unwrap()).await.status, StatusCode::UNAUTHORIZED);
    for open in ["/healthz", "/login", "/assets/app.css"] {
        assert_eq!(send(&lab.app, get(open)).await.status, StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn every_listed_route_exists_for_a_signed_in_user() {
    let lab = lab(false);
    for (method, path) in all_routes() {
        let request = Request::builder()
            .method(method.as_str())
            .uri(&path)
            .header(header::AUTHORIZATION, format!("Bearer {}", lab.token))
            .body(Body::empty())
            .unwrap();
        let reply = send(&lab.app, request).await;
        // Known routes answer (404 only for a missing object, with its own message).
        assert!(
            reply.status != StatusCode::METHOD_NOT_ALLOWED && !reply.body.contains("no such API route"),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_session_needs_its_csrf_token_for_changes() {
    let lab = lab(true);
    let (cookie, csrf) = login(&lab).await;
    let ack = |csrf: Option<&str>| {
        let mut r = Request::post("/api/v1/alerts/1/ack").header(header::COOKIE, &cookie);
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.body(Body::empty()).unwrap()
    };
    assert_eq!(send(&lab.app, ack(None)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&lab.app, ack(Some("0000"))).await.status, StatusCode::FORBIDDEN);
    let done = send(&lab.app, ack(Some(&csrf))).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json()["state"], "acknowledged");
    // An API token needs no CSRF token (it is not sent by browsers on their own).
    let resolve = Request::post("/api/v1/alerts/1/resolve")
        .header(header::AUTHORIZATION, format!("Bearer {}", lab.token))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&lab.app, resolve).await.json()["state"], "resolved");
    // Logging out ends the session.
    let out =
        Request::post("/logout").header(header::COOKIE, &cookie).header("x-csrf-token", &csrf).body(Body::empty());
    assert_eq!(send(&lab.app, out.unwrap()).await.status, StatusCode::SEE_OTHER);
    let after = Request::get("/api/v1/alerts").header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
    assert_eq!(send(&lab.app, after).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_session_cookie_is_secure_httponly_and_strict() {
    let lab = lab(true);
    let reply = sign_in(&lab).await;
    let cookie = reply.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    for part in ["__Host-apisonar_session=", "HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    // Wrong passwords: refused, then rate limited per address.
    let wrong = || {
        login_form()
            .extension(ClientAddr("192.0.2.9:5000".parse().unwrap()))
            .body(Body::from("user=admin&password=guess"))
            .unwrap()
    };
    for _ in 0..auth::MAX_FAILURES {
        assert_eq!(send(&lab.app, wrong()).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(send(&lab.app, wrong()).await.status, StatusCode::TOO_MANY_REQUESTS);
    // A login form posted from another site is refused.
    let cross = login_form()
        .header(header::HOST, "sensor.example:8443")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from(format!("user=admin&password={}", lab.password)))
        .unwrap();
    assert_eq!(send(&lab.app, cross).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let tls = lab(true);
    for path in ["/login", "/healthz", "/api/v1/endpoints", "/nowhere"] {
        let reply = send(&tls.app, get(path)).await;
        let csp = reply.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
                && csp.contains("frame-ancestors 'none'")
        );
        assert_eq!(reply.headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        assert_eq!(reply.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        assert!(reply.headers.get(header::STRICT_TRANSPORT_SECURITY).is_some(), "HSTS over TLS");
    }
    let plain = lab(false);
    assert!(send(&plain.app, get("/login")).await.headers.get(header::STRICT_TRANSPORT_SECURITY).is_none());
}

async fn api(lab: &Lab, path: &str) -> Reply {
    let request = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {}", lab.token)).body(Body::empty());
    send(&lab.app, request.unwrap()).await
}

#[tokio::test]
async fn endpoints_filter_sort_and_paginate() {
    let lab = lab(false);
    let all = api(&lab, "/api/v1/endpoints").await.json();
    assert_eq!(all["total"], 3);
    let shop = api(&lab, "/api/v1/endpoints?host=shop.test&sort=hits&order=desc").await.json();
    assert_eq!(shop["total"], 2);
    assert_eq!(shop["items"][0]["path"], "/api/users/{id}");
    let cleartext = api(&lab, "/api/v1/endpoints?encrypted=false").await.json();
    let paths: Vec<&str> = cleartext["items"].as_array().unwrap().iter().filter_map(|i| i["path"].as_str()).collect();
    assert_eq!(paths, ["/metrics", "/api/users/{id}"]);
    let page = api(&lab, "/api/v1/endpoints?per_page=1&page=2").await.json();
    assert_eq!((page["total"].as_u64(), page["items"].as_array().unwrap().len()), (Some(3), 1));
    let search = api(&lab, "/api/v1/endpoints?q=LOGIN").await.json();
    assert_eq!(search["items"][0]["method"], "POST");
    assert_eq!(api(&lab, "/api/v1/endpoints?sort=evil").await.status, StatusCode::BAD_REQUEST);
    // Detail by id, and ids that are not ids.
    let id = search["items"][0]["id"].as_str().unwrap().to_string();
    let detail = api(&lab, &format!("/api/v1/endpoints/{id}")).await.json();
    assert_eq!((detail["host"].as_str(), detail["hits"].as_u64()), (Some("shop.test"), Some(9)));
    assert_eq!(api(&lab, "/api/v1/endpoints/zz").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(api(&lab, "/api/v1/endpoints/00").await.status, StatusCode::NOT_FOUND);
    let hosts = api(&lab, "/api/v1/hosts").await.json();
    assert_eq!(hosts[1]["host"], "shop.test");
    assert_eq!(hosts[1]["endpoints"], 2);
}

#[tokio::test]
async fn alerts_filter_and_metrics_need_a_token() {
    let lab = lab(false);
    let open = api(&lab, "/api/v1/alerts?state=open&kind=cleartext_credentials").await.json();
    assert_eq!(open["total"], 1);
    assert_eq!(open["items"][0]["client"], "10.0.0.7");
    assert_eq!(api(&lab, "/api/v1/alerts?state=resolved").await.json()["total"], 0);
    assert_eq!(api(&lab, "/api/v1/alerts/999").await.status, StatusCode::NOT_FOUND);
    let metrics = api(&lab, "/metrics").await;
    assert!(metrics.body.contains("apisonar_capture_packets_total{source=\"eth0\"} 42"), "{}", metrics.body);
    let status = api(&lab, "/api/v1/status").await.json();
    assert_eq!(status["capturing"], true);
}

#[tokio::test]
async fn the_overview_counts_states_alerts_cleartext_and_hours() {
    let lab = lab(false);
    let o = api(&lab, "/api/v1/overview").await.json();
    assert_eq!(o["endpoints"], 3);
    assert_eq!(o["by_state"]["undocumented"], 3);
    assert_eq!(o["open_alerts_by_severity"]["high"], 1);
    assert_eq!((o["hits"].as_u64(), o["cleartext_hits"].as_u64()), (Some(62), Some(53)));
    assert!((o["unencrypted_share"].as_f64().unwrap() - 53.0 / 62.0).abs() < 1e-9);
    assert_eq!(o["capturing"], true);
}

#[tokio::test]
async fn specs_upload_classify_and_delete() {
    let lab = lab(false);
    let spec = r#"{"openapi": "3.0.0", "info": {"title": "Shop", "version": "1"},
        "servers": [{"url": "http://shop.test"}],
        "paths": {"/api/login": {"post": {"responses": {"200": {"description": "ok"}}}}}}"#;
    let upload = |body: &str, name: &str| {
        Request::post(format!("/api/v1/specs?name={name}"))
            .header(header::AUTHORIZATION, format!("Bearer {}", lab.token))
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let bad = send(&lab.app, upload("{\"openapi\": \"3.0.0\", \"paths\": [", "broken.json")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(send(&lab.app, upload(spec, "a/b")).await.status, StatusCode::BAD_REQUEST);
    let made = send(&lab.app, upload(spec, "shop.json")).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let list = api(&lab, "/api/v1/specs").await.json();
    assert_eq!(list[0]["name"], "shop.json");
    assert_eq!((list[0]["documented"].as_u64(), list[0]["shadow"].as_u64()), (Some(1), Some(1)));
    // The shadow endpoint raised its alert at once.
    let shadow = api(&lab, "/api/v1/alerts?kind=shadow_api").await.json();
    assert_eq!(shadow["items"][0]["path"], "/api/users/{id}");
    let delete = Request::delete("/api/v1/specs/shop.json")
        .header(header::AUTHORIZATION, format!("Bearer {}", lab.token))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&lab.app, delete).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api(&lab, "/api/v1/specs").await.json().as_array().map(Vec::len), Some(0));
}

fn with_token(request: axum::http::request::Builder, token: &str) -> Request<Body> {
    request.header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn token_scopes_limit_what_a_token_can_do() {
    let lab = lab(false);
    let (metrics, _) = auth::create_token(lab.store.as_ref(), new_token("prom", &[auth::Scope::Metrics])).unwrap();
    let (read, _) = auth::create_token(lab.store.as_ref(), new_token("ci", &[auth::Scope::Read])).unwrap();
    let status = |r: Reply| r.status;
    // A metrics token reads /metrics only.
    assert_eq!(status(send(&lab.app, with_token(Request::get("/metrics"), &metrics)).await), StatusCode::OK);
    let denied = send(&lab.app, with_token(Request::get("/api/v1/endpoints"), &metrics)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(!denied.body.contains("shop.test"));
    // A read token reads the API but changes nothing and cannot read /metrics.
    assert_eq!(status(send(&lab.app, with_token(Request::get("/api/v1/alerts"), &read)).await), StatusCode::OK);
    assert_eq!(status(send(&lab.app, with_token(Request::get("/metrics"), &read)).await), StatusCode::FORBIDDEN);
    let ack = send(&lab.app, with_token(Request::post("/api/v1/alerts/1/ack"), &read)).await;
    assert_eq!(ack.status, StatusCode::FORBIDDEN);
    assert_eq!(api(&lab, "/api/v1/alerts/1").await.json()["state"], "open", "nothing changed");
    let session = send(&lab.app, with_token(Request::get("/api/v1/session"), &read)).await.json();
    assert_eq!(session["scopes"], serde_json::json!(["read"]));
    // The admin token does everything; a revoked token nothing.
    assert_eq!(
        status(send(&lab.app, with_token(Request::post("/api/v1/alerts/1/ack"), &lab.token)).await),
        StatusCode::OK
    );
    auth::revoke_token(lab.store.as_ref(), "ci").unwrap();
    assert_eq!(
        status(send(&lab.app, with_token(Request::get("/api/v1/alerts"), &read)).await),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn login_bodies_are_small_and_slow_requests_time_out() {
    let mut lab = lab(false);
    // A login form is a few dozen bytes; 4 KiB is plenty, more is refused before parsing.
    let big = format!("user=admin&password={}", "x".repeat(MAX_LOGIN_BODY_BYTES));
    assert_eq!(send(&lab.app, login_form().body(Body::from(big)).unwrap()).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // A body that never finishes is cut off.
    lab.state.request_timeout = std::time::Duration::from_millis(200);
    let app = router(lab.state.clone());
    let never = Body::from_stream(futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>());
    let started = std::time::Instant::now();
    let reply = send(&app, login_form().body(never).unwrap()).await;
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn the_overflow_router_answers_health_only() {
    let lab = lab(false);
    let app = overflow_router(lab.state.clone());
    assert_eq!(send(&app, get("/healthz")).await.status, StatusCode::OK);
    let busy = send(&app, with_token(Request::get("/api/v1/endpoints"), &lab.token)).await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!busy.body.contains("shop.test"));
}

/// Found by the `dashboard` fuzz target: the method router and the extractors answered /api/
/// requests with an empty body (405) or plain text (400), not JSON.
#[tokio::test]
async fn api_errors_made_by_axum_itself_are_json() {
    let lab = lab(false);
    for (request, status) in [
        (with_token(Request::get("/api/v1/alerts/0/ack"), &lab.token), StatusCode::METHOD_NOT_ALLOWED),
        (with_token(Request::put("/api/v1/specs"), &lab.token), StatusCode::METHOD_NOT_ALLOWED),
        (with_token(Request::get("/api/v1/alerts/abc"), &lab.token), StatusCode::BAD_REQUEST),
        (with_token(Request::get("/api/v1/endpoints?page=x"), &lab.token), StatusCode::BAD_REQUEST),
        (with_token(Request::post("/api/v1/specs"), &lab.token), StatusCode::BAD_REQUEST),
    ] {
        let reply = send(&lab.app, request).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        assert!(reply.json().get("error").is_some_and(|e| e.is_string()), "{}", reply.body);
        assert!(reply.headers.get(header::CONTENT_TYPE).is_some_and(|c| c == "application/json"));
    }
    let reply = send(&lab.app, with_token(Request::put("/api/v1/specs"), &lab.token)).await;
    assert!(reply.headers.get(header::ALLOW).is_some(), "405 keeps its Allow header");
}

#[tokio::test]
async fn hostile_specs_are_refused_with_their_place_and_change_nothing() {
    let lab = lab(false);
    let upload = |body: String| {
        Request::post("/api/v1/specs?name=bomb.yaml")
            .header(header::AUTHORIZATION, format!("Bearer {}", lab.token))
            .body(Body::from(body))
            .unwrap()
    };
    // A YAML alias bomb: nine levels of nine aliases each.
    let mut bomb = String::from(
        "openapi: 3.0.0\ninfo: {title: b, version: '1'}\npaths: {}\nx0: &a0 [x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!("x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    let started = std::time::Instant::now();
    let reply = send(&lab.app, upload(bomb)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    assert!(reply.body.contains("detail"), "{}", reply.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(api(&lab, "/api/v1/specs").await.json().as_array().map(Vec::len), Some(0));
    // One parse at a time: with the turn taken, an upload is told to come back.
    let _busy = lab.state.spec_parsing.clone().try_acquire_owned().unwrap();
    let spec = r#"{"openapi": "3.0.0", "info": {"title": "S", "version": "1"}, "paths": {}}"#;
    assert_eq!(send(&lab.app, upload(spec.to_string())).await.status, StatusCode::SERVICE_UNAVAILABLE);
}

/// Two days apart: what the store had (`DAY_ONE`) and what came after (`DAY_THREE`).
const DAY_ONE: i64 = 1_764_460_800_000_000; // 2025-11-30T00:00:00Z
const DAY_THREE: i64 = DAY_ONE + 2 * 86_400_000_000;

/// A store with an endpoint that gained a query parameter, a response field and a sensitive
/// class on day three, one unchanged since day one, one new on day three, a documented operation
/// never seen (an orphan), and TLS sessions to a host with HTTP endpoints and to one without.
fn inventory_lab() -> Lab {
    use apisonar_engine::catalog::SensitiveField;
    use apisonar_engine::params::ParamInfo;
    use apisonar_engine::schema::Schema;
    use apisonar_engine::sensitive::Class;
    use apisonar_engine::tlsposture::TlsHost;
    let store = Arc::new(MemoryStore::default());
    let param = |first_seen| ParamInfo { count: 1, types: [("integer".to_string(), 1)].into(), first_seen };
    let mut items = endpoint("shop.test", "GET", "/api/items", 4, 4);
    items.last_seen = DAY_THREE;
    items.query_params = [("limit".to_string(), param(DAY_ONE)), ("cursor".to_string(), param(DAY_THREE))].into();
    let mut schema = Schema::of_at(&serde_json::json!({"items": [{"id": 1}]}), DAY_ONE);
    schema.merge(&Schema::of_at(&serde_json::json!({"items": [{"id": 2, "email": "a@b.test"}]}), DAY_THREE));
    items.response_schemas = [(200, schema)].into();
    items.sensitive = [(
        "response.json.items[].email".to_string(),
        SensitiveField {
            classes: [(Class::Email, 1)].into(),
            mask: "a…@b.test".into(),
            first_seen: [(Class::Email, DAY_THREE)].into(),
        },
    )]
    .into();
    let mut unchanged = endpoint("shop.test", "GET", "/api/health", 2, 2);
    unchanged.last_seen = DAY_THREE;
    let mut fresh = endpoint("shop.test", "GET", "/api/orders", 1, 1);
    (fresh.first_seen, fresh.last_seen) = (DAY_THREE, DAY_THREE);
    for e in [&mut items, &mut unchanged] {
        e.first_seen = DAY_ONE;
    }
    store.apply(&Changes { upserts: vec![items, unchanged, fresh], ..Changes::default() }).unwrap();
    let spec = r#"{"openapi": "3.0.0", "info": {"title": "Shop", "version": "1"},
        "servers": [{"url": "http://shop.test"}],
        "paths": {"/api/items": {"get": {"responses": {"200": {"description": "ok"}}}},
                  "/api/health": {"get": {"responses": {"200": {"description": "ok"}}}},
                  "/api/orders": {"get": {"responses": {"200": {"description": "ok"}}}},
                  "/api/never": {"delete": {"responses": {"204": {"description": "gone"}}}}}}"#;
    store.put_spec(&apisonar_engine::spec::parse("shop.json", spec).unwrap()).unwrap();
    let tls = |host: &str| TlsHost {
        host: host.into(),
        sessions: 5,
        first_seen: DAY_ONE,
        last_seen: DAY_ONE + 1,
        ..TlsHost::default()
    };
    store.put_tls_hosts(&[tls("shop.test"), tls("vault.test")]).unwrap();
    let password = auth::ensure_admin(store.as_ref()).unwrap().unwrap();
    let (token, _) = auth::create_token(store.as_ref(), new_token("ci", &[auth::Scope::Read])).unwrap();
    let state = AppState::new(store.clone(), serving(store.clone()), None, false);
    Lab { app: router(state.clone()), password, token, store, state }
}

fn find<'a>(page: &'a serde_json::Value, method: &str, host: &str, path: &str) -> &'a serde_json::Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["method"] == method && i["host"] == host && i["path"] == path)
        .unwrap_or_else(|| panic!("no {method} {host}{path} in {page}"))
}

#[tokio::test]
async fn orphans_read_never_seen_and_tls_only_hosts_are_marked() {
    let lab = inventory_lab();
    let all = api(&lab, "/api/v1/endpoints?per_page=500").await.json();
    let orphan = find(&all, "DELETE", "shop.test", "/api/never");
    assert_eq!(orphan["state"], "orphan");
    for field in ["first_seen", "last_seen", "encrypted"] {
        assert!(orphan[field].is_null(), "{field}: {orphan}");
    }
    let detail = api(&lab, &format!("/api/v1/endpoints/{}", orphan["id"].as_str().unwrap())).await.json();
    for field in ["first_seen", "last_seen", "encrypted"] {
        assert!(detail[field].is_null(), "{field}: {detail}");
    }
    assert_eq!(detail["state_reason"], "documented, never seen");
    // An endpoint seen has its times and its transport.
    let seen = find(&all, "GET", "shop.test", "/api/health");
    assert_eq!(
        (seen["last_seen"].as_str(), seen["encrypted"].as_bool()),
        (Some("2025-12-02T00:00:00.000000Z"), Some(false))
    );
    assert_eq!(seen["tls_only"], false);
    // TLS rows: the host with HTTP endpoints is not TLS only; the other one is, and says so.
    assert_eq!(find(&all, "TLS", "shop.test", "*")["tls_only"], false);
    let vault = find(&all, "TLS", "vault.test", "*");
    assert_eq!((vault["tls_only"].as_bool(), vault["encrypted"].as_bool()), (Some(true), Some(true)));
    let detail = api(&lab, &format!("/api/v1/endpoints/{}", vault["id"].as_str().unwrap())).await.json();
    assert!(detail["state_reason"].as_str().unwrap().starts_with("TLS only (no HTTP seen)"), "{detail}");
    // Filtering on transport leaves orphans out either way.
    for encrypted in ["true", "false"] {
        let page = api(&lab, &format!("/api/v1/endpoints?encrypted={encrypted}")).await.json();
        assert!(page["items"].as_array().unwrap().iter().all(|i| i["state"] != "orphan"), "{page}");
    }
}

#[tokio::test]
async fn endpoints_filter_on_what_appeared_since() {
    let lab = inventory_lab();
    let new_of = |page: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    format!(
                        "{} {}{}",
                        i["method"].as_str().unwrap(),
                        i["host"].as_str().unwrap(),
                        i["path"].as_str().unwrap()
                    ),
                    i["new"].clone(),
                )
            })
            .collect()
    };
    let expected = vec![
        (
            "GET shop.test/api/items".to_string(),
            serde_json::json!([
                "query:cursor",
                "response 200: $.items[].email",
                "sensitive: response.json.items[].email email"
            ]),
        ),
        ("GET shop.test/api/orders".to_string(), serde_json::json!(["endpoint"])),
    ];
    // A day back from the newest traffic, and the same time written out.
    for since in ["1d", "24h", "2025-12-01T00:00:00Z", "2025-12-01T01:00:00%2B01:00"] {
        let page = api(&lab, &format!("/api/v1/endpoints?since={since}")).await;
        assert_eq!(page.status, StatusCode::OK, "{since}: {}", page.body);
        assert_eq!(new_of(&page.json()), expected, "{since}");
    }
    // Further back: everything seen is new (the orphan never is); TLS hosts say what they are.
    let week = api(&lab, "/api/v1/endpoints?since=7d&per_page=500").await.json();
    assert_eq!(week["total"], 5, "{week}");
    assert_eq!(find(&week, "TLS", "vault.test", "*")["new"], serde_json::json!(["tls host"]));
    assert_eq!(find(&week, "GET", "shop.test", "/api/items")["new"], serde_json::json!(["endpoint"]));
    // Without `since`, no `new`; an empty `since` is no filter.
    let all = api(&lab, "/api/v1/endpoints?since=&per_page=500").await.json();
    assert_eq!(all["total"], 6, "{all}");
    assert!(all["items"][0].get("new").is_none(), "{all}");
    for bad in ["yesterday", "7", "d", "-1d", "99999999999999999999d", "9999999999999w", &"1".repeat(100)] {
        let reply = api(&lab, &format!("/api/v1/endpoints?since={bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", reply.body);
        assert!(reply.json()["error"].as_str().unwrap().starts_with("since must be"), "{}", reply.body);
    }
    // Newest first.
    let sorted = api(&lab, "/api/v1/endpoints?sort=first_seen&order=desc").await.json();
    assert_eq!(sorted["items"][0]["path"], "/api/orders");
}

/// A JSON request with the API token.
fn json_request(method: &str, path: &str, token: &str, body: serde_json::Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn alert_triage_records_who_did_what_and_links_the_endpoint() {
    let lab = lab(false);
    let post = |path: &str, body: serde_json::Value| json_request("POST", path, &lab.token, body);
    let assigned = send(&lab.app, post("/api/v1/alerts/1/assign", serde_json::json!({"assignee": " alice "}))).await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    let commented =
        send(&lab.app, post("/api/v1/alerts/1/comments", serde_json::json!({"text": "rotating the token"}))).await;
    assert_eq!(commented.status, StatusCode::CREATED, "{}", commented.body);
    for action in ["ack", "resolve", "reopen"] {
        let r = send(&lab.app, with_token(Request::post(format!("/api/v1/alerts/1/{action}")), &lab.token)).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
    }
    let a = api(&lab, "/api/v1/alerts/1").await.json();
    assert_eq!(a["assignee"], "alice");
    assert_eq!(a["comments"][0]["text"], "rotating the token");
    assert_eq!(a["comments"][0]["by"], "token:ci");
    let history: Vec<(&str, &str)> = a["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["state"].as_str().unwrap(), h["by"].as_str().unwrap()))
        .collect();
    assert_eq!(history, [("acknowledged", "token:ci"), ("resolved", "token:ci"), ("open", "token:ci")]);
    assert!(a["history"][0]["at"].as_str().unwrap().starts_with("20"), "{}", a["history"]);
    assert_eq!(a["guidance"]["owasp"]["id"], "API2:2023");
    assert!(a["guidance"]["why"].as_str().unwrap().contains("without TLS"));
    // The alert links to an endpoint the inventory has, and the endpoint lists it.
    let id = a["endpoint_id"].as_str().unwrap();
    let endpoint = api(&lab, &format!("/api/v1/endpoints/{id}")).await.json();
    assert_eq!((endpoint["method"].as_str(), endpoint["path"].as_str()), (Some("GET"), Some("/api/users/{id}")));
    assert_eq!(api(&lab, &format!("/api/v1/alerts?endpoint={id}")).await.json()["total"], 1);
    let other = views::endpoint_id("shop.test", "POST", "/api/login");
    assert_eq!(api(&lab, &format!("/api/v1/alerts?endpoint={other}")).await.json()["total"], 0);
    assert_eq!(api(&lab, "/api/v1/alerts?endpoint=zz").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(api(&lab, "/api/v1/alerts?assignee=alice").await.json()["total"], 1);
    assert_eq!(api(&lab, "/api/v1/alerts?assignee=none").await.json()["total"], 0);
    // Refused: an empty comment, a long name, an alert that does not exist.
    let empty = send(&lab.app, post("/api/v1/alerts/1/comments", serde_json::json!({"text": "  "}))).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let long = send(&lab.app, post("/api/v1/alerts/1/assign", serde_json::json!({"assignee": "x".repeat(101)}))).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    let missing = send(&lab.app, post("/api/v1/alerts/999/comments", serde_json::json!({"text": "x"}))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // Unassigning.
    send(&lab.app, post("/api/v1/alerts/1/assign", serde_json::json!({"assignee": null}))).await;
    assert_eq!(api(&lab, "/api/v1/alerts?assignee=none").await.json()["total"], 1);
}

#[tokio::test]
async fn suppression_rules_are_checked_listed_and_removed() {
    let lab = lab(false);
    let post = |body: serde_json::Value| json_request("POST", "/api/v1/suppressions", &lab.token, body);
    let id = views::endpoint_id("shop.test", "GET", "/api/users/{id}");
    let added = send(
        &lab.app,
        post(serde_json::json!({"kind": "cleartext_credentials", "endpoint_id": id, "expires": "7d", "reason": "test rig"})),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let rule = added.json();
    assert_eq!(
        (rule["id"].as_u64(), rule["host"].as_str(), rule["active"].as_bool()),
        (Some(1), Some("shop.test"), Some(true))
    );
    assert_eq!(rule["created_by"], "token:ci");
    let client = send(
        &lab.app,
        post(serde_json::json!({"kind": "scanner", "client": "10.0.0.9", "expires": "2020-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(client.status, StatusCode::CREATED, "{}", client.body);
    let listed = api(&lab, "/api/v1/suppressions").await.json();
    let summary: Vec<(u64, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_u64().unwrap(), r["active"].as_bool().unwrap()))
        .collect();
    assert_eq!(summary, [(1, true), (2, false)], "the second expired already");
    assert_eq!(listed[0]["endpoint_id"], id.as_str());
    for (body, why) in [
        (serde_json::json!({"kind": "scanner"}), "a rule needs a scope"),
        (serde_json::json!({"kind": "", "host": "h"}), "a rule needs a kind"),
        (serde_json::json!({"kind": "scanner", "host": "h", "path": "/x"}), "an endpoint needs"),
        (serde_json::json!({"kind": "scanner", "host": "h", "expires": "soon"}), "expires must be"),
        (serde_json::json!({"kind": "scanner", "endpoint_id": "zz"}), "malformed endpoint id"),
    ] {
        let refused = send(&lab.app, post(body.clone())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(refused.body.contains(why), "{body}: {}", refused.body);
    }
    let delete = |n: u64| with_token(Request::delete(format!("/api/v1/suppressions/{n}")), &lab.token);
    assert_eq!(send(&lab.app, delete(2)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&lab.app, delete(2)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api(&lab, "/api/v1/suppressions").await.json().as_array().map(Vec::len), Some(1));
    assert_eq!(lab.store.suppressions().unwrap().len(), 1, "the store has what the list shows");
}

#[tokio::test]
async fn risk_orders_the_inventory_and_names_the_riskiest_on_the_overview() {
    let lab = lab(false);
    let page = api(&lab, "/api/v1/endpoints?sort=risk&order=desc").await.json();
    let order: Vec<(&str, u64)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["risk"].as_u64().unwrap()))
        .collect();
    // Unauthenticated and in cleartext, with an open alert for the credentials that crossed so;
    // unauthenticated and in cleartext; unauthenticated.
    assert_eq!(order, [("/api/users/{id}", 45), ("/metrics", 30), ("/api/login", 20)]);
    assert_eq!(page["items"][0]["risk_level"], "medium");
    let id = page["items"][0]["id"].as_str().unwrap();
    let detail = api(&lab, &format!("/api/v1/endpoints/{id}")).await.json();
    let reasons: Vec<&str> =
        detail["risk"]["reasons"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["cleartext", "unauthenticated"]);
    let overview = api(&lab, "/api/v1/overview").await.json();
    assert_eq!(overview["riskiest"][0]["path"], "/api/users/{id}");
    assert_eq!(overview["riskiest"].as_array().map(Vec::len), Some(3));
}

#[test]
fn endpoint_ids_name_their_endpoint_and_nothing_else() {
    let id = views::endpoint_id("héllo.test:80", "GET", "/a/{b}\u{1F600}");
    assert_eq!(views::endpoint_of_id(&id), Some(("héllo.test:80".into(), "GET".into(), "/a/{b}\u{1F600}".into())));
    for bad in ["zz", "0", "", "6869", "ff00ff00ff"] {
        assert_eq!(views::endpoint_of_id(bad), None, "{bad}");
    }
}
