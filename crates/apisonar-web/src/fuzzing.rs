//! Checker functions for the `dashboard` fuzz target (`fuzz/`) and this crate's tests: arbitrary
//! requests (method, path, query, headers, body; with no credentials, a token of each scope, a
//! wrong token, or a session with or without its CSRF token) through the whole router over an
//! in-memory store, asserting what every answer must satisfy.
//!
//! The input is read with [`Unstructured`] (and the engine checker's `bytes_up_to` and
//! `text_up_to`): an exhausted input reads as zeros, so no read fails.

use std::sync::{Arc, OnceLock};

use apisonar_engine::fuzzing::{bytes_up_to, text_up_to};
use apisonar_engine::{Alert, AlertMerge, AlertState, Changes, Endpoint, Severity};
use apisonar_store::{MemoryStore, Store};
use arbitrary::{Result, Unstructured};
use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use tower::ServiceExt;

use crate::{auth, router, AppState, ClientAddr};

/// The admin password of the fuzzing store (its hash uses tiny argon2 parameters).
const PASSWORD: &str = "fuzz-admin-password";

/// A host only stored data names: an answer to a request without credentials must not show it.
const SECRET_HOST: &str = "inventory-only.test";

const SPEC: &str = r#"{"openapi": "3.0.3", "info": {"title": "Shop"}, "servers": [{"url": "http://inventory-only.test/api"}],
 "paths": {"/users/{id}": {"get": {"responses": {"200": {"description": "ok"}}}},
           "/orders": {"get": {"deprecated": true, "responses": {"200": {"description": "ok"}}}}}}"#;

/// The runtime every request runs on, made once per process.
fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().ok()).as_ref()
}

/// The stored admin credential: `PASSWORD` hashed with the smallest argon2 parameters, so that
/// a login costs microseconds (verification takes the parameters from the hash).
fn credential() -> Option<&'static [u8]> {
    static CREDENTIAL: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    CREDENTIAL
        .get_or_init(|| {
            use argon2::password_hash::{PasswordHasher, SaltString};
            let params = argon2::Params::new(8, 1, 1, None).ok()?;
            let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            let salt = SaltString::encode_b64(b"fuzz-salt-fuzz-salt").ok()?;
            let hash = argon.hash_password(PASSWORD.as_bytes(), &salt).ok()?.to_string();
            serde_json::to_vec(&serde_json::json!({ "user": auth::ADMIN_USER, "hash": hash })).ok()
        })
        .as_deref()
}

/// A fresh store and router, with the credentials requests may use.
struct Lab {
    app: axum::Router,
    /// API tokens with the scopes read, metrics and admin.
    tokens: Vec<String>,
    /// A session id and its CSRF token.
    session: Option<(String, String)>,
    endpoint_ids: Vec<String>,
}

fn endpoint(host: &str, method: &str, path: &str, hits: u64) -> Endpoint {
    Endpoint {
        host: host.into(),
        method: method.into(),
        path: path.into(),
        hits,
        cleartext: hits,
        first_seen: 1_700_000_000_000_000,
        last_seen: 1_700_000_000_000_000,
        hourly: [(472_222, hits)].into_iter().collect(),
        ..Endpoint::default()
    }
}

fn lab() -> Option<Lab> {
    let store = Arc::new(MemoryStore::default());
    let endpoints = vec![
        endpoint(SECRET_HOST, "GET", "/api/users/{id}", 50),
        endpoint(SECRET_HOST, "GET", "/api/orders", 4),
        endpoint(SECRET_HOST, "POST", "/api/login", 9),
        endpoint("other.test", "TLS", "/", 1),
    ];
    let endpoint_ids = endpoints.iter().map(|e| crate::views::endpoint_id(&e.host, &e.method, &e.path)).collect();
    store.apply(&Changes { upserts: endpoints, ..Changes::default() }).ok()?;
    for (i, kind) in ["cleartext_credentials", "injection_attempt", "shadow_endpoint"].into_iter().enumerate() {
        let alert = Alert {
            id: 0,
            kind: kind.into(),
            subtype: Some("password".into()),
            severity: Severity::High,
            title: format!("{kind} on {SECRET_HOST}"),
            host: SECRET_HOST.into(),
            method: "GET".into(),
            path: "/api/users/{id}".into(),
            client: Some(format!("10.0.0.{i}")),
            count: 1,
            first_seen: 1,
            last_seen: i64::try_from(i).unwrap_or(0),
            state: AlertState::Open,
            evidence: "…(12 chars)".into(),
            clients: Default::default(),
            top_clients: Vec::new(),
            samples: Vec::new(),
            example: None,
            history: Vec::new(),
            assignee: None,
            comments: Vec::new(),
        };
        store.upsert_alert(&alert, AlertMerge::Add).ok()?;
    }
    store.put_spec(&apisonar_engine::spec::parse("shop.json", SPEC).ok()?).ok()?;
    store.put_setting(auth::ADMIN_SETTING, None, credential()?).ok()?;
    let mut tokens = Vec::new();
    for (name, scope) in
        [("reader", auth::Scope::Read), ("prometheus", auth::Scope::Metrics), ("ci", auth::Scope::Admin)]
    {
        let new = auth::NewToken { name, scopes: vec![scope], created: "2026-01-01T00:00:00Z".into(), expires: None };
        tokens.push(auth::create_token(store.as_ref(), new).ok()?.0);
    }
    let (commands, _core) = apisonar_app::spawn_serving(store.clone(), Default::default(), Box::new(|| false)).ok()?;
    let state = AppState::new(store, commands, None, false);
    let session = match state.auth.login(None, auth::ADMIN_USER, PASSWORD) {
        Ok(auth::Login::Ok(id, s)) => Some((id, s.csrf)),
        _ => None,
    };
    Some(Lab { app: router(state), tokens, session, endpoint_ids })
}

const PATHS: &[&str] = &[
    "/",
    "/healthz",
    "/login",
    "/logout",
    "/metrics",
    "/assets/app.js",
    "/assets/{}",
    "/api/v1/session",
    "/api/v1/status",
    "/api/v1/endpoints",
    "/api/v1/endpoints/{id}",
    "/api/v1/endpoints/{}",
    "/api/v1/hosts",
    "/api/v1/alerts",
    "/api/v1/alerts/{n}",
    "/api/v1/alerts/{}",
    "/api/v1/alerts/{n}/ack",
    "/api/v1/alerts/{n}/resolve",
    "/api/v1/alerts/{n}/reopen",
    "/api/v1/alerts/{n}/assign",
    "/api/v1/alerts/{n}/comments",
    "/api/v1/suppressions",
    "/api/v1/suppressions/{n}",
    "/api/v1/suppressions/{}",
    "/api/v1/export/openapi",
    "/api/v1/export/postman",
    "/api/v1/overview",
    "/api/v1/specs",
    "/api/v1/specs/{}",
    "/api/v1/specs/shop.json",
    "/api/v1/openapi.json",
    "/api/v1/{}",
    "/api/",
    "/api/v1",
    "/api/v1/",
    "/{}",
];

const QUERY_NAMES: &[&str] = &[
    "host",
    "state",
    "auth",
    "encrypted",
    "sensitive",
    "q",
    "sort",
    "order",
    "page",
    "per_page",
    "kind",
    "severity",
    "name",
    "format",
    "endpoint",
    "assignee",
    "since",
    "",
    "page[]",
];

const QUERY_VALUES: &[&str] = &[
    "true",
    "false",
    "1",
    "0",
    "-1",
    "99999999999999999999",
    "desc",
    "hits",
    "state",
    "shadow",
    "none",
    "bearer",
    "inventory-only.test",
    "%",
    "%zz",
    "%00",
    "ü",
    "",
    "+",
    "18446744073709551615",
    "1e3",
    "yaml",
    "json",
    "risk",
    "7d",
    "2026-01-01T00:00:00Z",
];

/// Public routes: answered without credentials.
fn public(path: &str) -> bool {
    matches!(path, "/healthz" | "/login" | "/assets/app.js" | "/assets/app.css")
}

fn uri(u: &mut Unstructured<'_>, lab: &Lab) -> Result<String> {
    let template = if u.choose_index(16)? == 0 { "{}" } else { u.choose(PATHS)? };
    let id = u.choose(&lab.endpoint_ids)?;
    let n = u.choose(&["1", "2", "3", "0", "99", "-1", "18446744073709551616", "1.5", " 1"])?;
    let free = {
        let raw = text_up_to(u, 24)?;
        match u.choose_index(3)? {
            0 => raw,
            1 => raw.bytes().map(|b| format!("%{b:02X}")).collect(),
            _ => raw.replace(['?', '#'], "").replace(' ', "%20"),
        }
    };
    let mut uri = template.replace("{id}", id).replace("{n}", n).replace("{}", &free);
    if u.choose_index(3)? == 0 {
        let pairs = (0..u.int_in_range(0..=4)?)
            .map(|_| {
                let name = u.choose(QUERY_NAMES)?;
                let value =
                    if u.choose_index(4)? == 0 { text_up_to(u, 12)? } else { u.choose(QUERY_VALUES)?.to_string() };
                Ok(format!("{name}={value}"))
            })
            .collect::<Result<Vec<String>>>()?;
        uri.push('?');
        uri.push_str(&pairs.join("&"));
    }
    Ok(uri)
}

/// Who a request claims to be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Credentials {
    None,
    Token(usize),
    WrongToken,
    Session,
    SessionWithCsrf,
    SessionWrongCsrf,
}

impl Credentials {
    fn authenticated(self) -> bool {
        !matches!(self, Credentials::None | Credentials::WrongToken)
    }
}

/// JSON bodies the alert and suppression routes read, with fields from the input.
fn json_body(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let text = |u: &mut Unstructured<'_>| -> Result<serde_json::Value> {
        Ok(match u.choose_index(4)? {
            0 => serde_json::Value::Null,
            1 => serde_json::Value::from(text_up_to(u, 3000)?),
            2 => serde_json::Value::from(u.choose(QUERY_VALUES)?.to_string()),
            _ => serde_json::Value::from(u.arbitrary::<i64>()?),
        })
    };
    let mut object = serde_json::Map::new();
    for name in ["kind", "host", "method", "path", "client", "expires", "reason", "endpoint_id", "assignee", "text"] {
        if u.arbitrary()? {
            object.insert(name.into(), text(u)?);
        }
    }
    Ok(serde_json::to_vec(&object).unwrap_or_default())
}

fn body(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    Ok(match u.choose_index(7)? {
        6 => json_body(u)?,
        0 => Vec::new(),
        1 => format!(
            "user={}&password={}",
            u.choose(&["admin", "root", ""])?,
            if u.arbitrary()? { PASSWORD.to_string() } else { text_up_to(u, 20)? }
        )
        .into_bytes(),
        2 => SPEC.as_bytes().to_vec(),
        3 => {
            let mut spec = SPEC.as_bytes().to_vec();
            spec.truncate(u.choose_index(spec.len())?);
            spec
        }
        _ => bytes_up_to(u, 200)?.to_vec(),
    })
}

/// Builds one request from the input; `None` when the bytes make no valid request line (a
/// server would refuse it before the router).
fn request(u: &mut Unstructured<'_>, lab: &Lab) -> Result<Option<(Request<Body>, Credentials, String)>> {
    let method = match u.choose_index(12)? {
        0 => match Method::from_bytes(bytes_up_to(u, 10)?) {
            Ok(method) => method,
            Err(_) => return Ok(None),
        },
        1..=3 => Method::POST,
        4 => Method::DELETE,
        5 => Method::HEAD,
        6 => Method::PUT,
        7 => Method::OPTIONS,
        8 => Method::PATCH,
        _ => Method::GET,
    };
    let uri = uri(u, lab)?;
    let mut builder = Request::builder().method(method).uri(&uri);
    let credentials = match u.choose_index(8)? {
        0 | 1 => Credentials::None,
        2 => Credentials::Token(0),
        3 => Credentials::Token(1),
        4 => Credentials::Token(2),
        5 => Credentials::WrongToken,
        6 => Credentials::SessionWithCsrf,
        _ => {
            if u.arbitrary()? {
                Credentials::SessionWrongCsrf
            } else {
                Credentials::Session
            }
        }
    };
    match credentials {
        Credentials::Token(i) => {
            let Some(token) = lab.tokens.get(i) else { return Ok(None) };
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        Credentials::WrongToken => builder = builder.header(header::AUTHORIZATION, "Bearer aps_0000"),
        Credentials::Session | Credentials::SessionWithCsrf | Credentials::SessionWrongCsrf => {
            let Some((id, csrf)) = lab.session.as_ref() else { return Ok(None) };
            builder = builder.header(header::COOKIE, format!("apisonar_session={id}"));
            if credentials == Credentials::SessionWithCsrf {
                builder = builder.header("x-csrf-token", csrf.as_str());
            } else if credentials == Credentials::SessionWrongCsrf {
                builder = builder.header("x-csrf-token", "0000");
            }
        }
        Credentials::None => {}
    }
    for _ in 0..u.int_in_range(0..=3)? {
        let (name, value) = match u.choose_index(6)? {
            0 => (
                "content-type",
                u.choose(&[
                    "application/json",
                    "application/x-www-form-urlencoded",
                    "application/yaml",
                    "text/plain",
                    "",
                ])?
                .to_string(),
            ),
            1 => ("origin", u.choose(&["http://localhost", "null", "http://evil.test", ""])?.to_string()),
            2 => ("sec-fetch-site", u.choose(&["same-origin", "cross-site", "none"])?.to_string()),
            3 => ("host", u.choose(&["localhost", "evil.test", ""])?.to_string()),
            4 => ("cookie", text_up_to(u, 40)?),
            _ => ("x-fuzz", text_up_to(u, 20)?),
        };
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    let Ok(mut request) = builder.body(Body::from(body(u)?)) else { return Ok(None) };
    if u.arbitrary()? {
        let addr = std::net::SocketAddr::from(([192, 0, 2, u.arbitrary()?], 40000));
        request.extensions_mut().insert(ClientAddr(addr));
    }
    Ok(Some((request, credentials, uri)))
}

/// Checks one answer.
fn check(
    status: StatusCode,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    method: &Method,
    path: &str,
    credentials: Credentials,
) {
    // The documented 5xx: a failing store (not a MemoryStore), busy logins (not one request at a
    // time), and a spec upload while an earlier parse still holds its turn (after a timeout).
    let documented = status == StatusCode::SERVICE_UNAVAILABLE && *method == Method::POST && path == "/api/v1/specs";
    assert!(!status.is_server_error() || documented, "{method} {path}: {status} {}", String::from_utf8_lossy(body));
    for h in [header::CONTENT_SECURITY_POLICY, header::X_FRAME_OPTIONS, header::X_CONTENT_TYPE_OPTIONS] {
        assert!(headers.contains_key(&h), "{method} {path}: no {h}");
    }
    let api = path.starts_with("/api/");
    if api {
        assert_eq!(
            headers.get(header::CACHE_CONTROL).map(HeaderValue::as_bytes),
            Some(&b"no-store"[..]),
            "{method} {path}"
        );
        let empty_allowed = *method == Method::HEAD || status == StatusCode::NO_CONTENT;
        // Exports are downloads: YAML, JSON or a zip, named as attachments.
        let download = status.is_success() && path.starts_with("/api/v1/export/") && *method != Method::HEAD;
        if download {
            let disposition = headers.get(header::CONTENT_DISPOSITION).map(HeaderValue::as_bytes).unwrap_or_default();
            assert!(disposition.starts_with(b"attachment; filename=\""), "{method} {path}: no attachment");
            let kind = headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes).unwrap_or_default();
            match kind {
                b"application/zip" => assert!(body.starts_with(b"PK\x03\x04"), "{method} {path}: not a zip"),
                b"application/yaml" => assert!(body.starts_with(b"\"openapi\": \"3.1.0\""), "{method} {path}"),
                _ => assert!(serde_json::from_slice::<serde_json::Value>(body).is_ok(), "{method} {path}: no JSON"),
            }
        } else if !(empty_allowed && body.is_empty()) {
            let parsed = serde_json::from_slice::<serde_json::Value>(body);
            assert!(
                parsed.is_ok(),
                "{method} {path}: {status} answered with no JSON: {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
    if !credentials.authenticated() && !public(path) {
        assert!(!status.is_success(), "{method} {path}: {status} without credentials");
        let text = String::from_utf8_lossy(body);
        assert!(!text.contains(SECRET_HOST), "{method} {path}: stored data without credentials");
    }
}

/// The `dashboard` fuzz target: up to four requests on one fresh store, in order.
pub fn requests(data: &[u8]) {
    let (runtime, lab) = (runtime(), lab());
    assert!(runtime.is_some() && lab.is_some(), "the fuzzing lab cannot be set up");
    let (Some(runtime), Some(lab)) = (runtime, lab) else { return };
    let mut u = Unstructured::new(data);
    for _ in 0..4 {
        if u.is_empty() {
            break;
        }
        let read = request(&mut u, &lab);
        assert!(read.is_ok(), "a read failed: {read:?}");
        let Ok(Some((request, credentials, uri))) = read else { continue };
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        // The query DTOs as the handlers read them.
        let _ = axum::extract::Query::<crate::api::EndpointQuery>::try_from_uri(request.uri());
        let _ = axum::extract::Query::<crate::api::AlertQuery>::try_from_uri(request.uri());
        let answer = runtime.block_on(async {
            let response = lab.app.clone().oneshot(request).await.ok()?;
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, 64 << 20).await.ok()?;
            Some((parts.status, parts.headers, bytes))
        });
        assert!(answer.is_some(), "{method} {uri}: no answer");
        if let Some((status, headers, body)) = answer {
            check(status, &headers, &body, &method, &path, credentials);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects, clippy::panic)]

    use apisonar_testkit::workload::Rng;

    use super::*;

    #[test]
    fn the_lab_has_every_credential() {
        let lab = lab().unwrap_or_else(|| panic!("no lab"));
        assert_eq!(lab.tokens.len(), 3);
        assert!(lab.session.is_some(), "the admin password opens a session");
    }

    #[test]
    fn pseudo_random_requests_get_sound_answers() {
        for seed in 0..150 {
            requests(&Rng::seeded(seed).bytes(40 + (seed as usize * 11) % 300));
        }
    }
}
