//! apisonar-web: the HTTP face of the sensor, as an axum `Router` the binary serves.
//!
//! Owns: routes, access control (login, sessions, CSRF, API tokens), response shapes (one
//! `ApiError`), security headers, the Prometheus text rendering, and the web/ assets embedded
//! in the binary. Everything but the login page, its assets and `/healthz` needs a session or
//! an API token.
//!
//! Must not know: pcap, sled, the wire or flow layers, sockets or TLS (the binary listens and
//! hands connections to the router); the store is reached through the `Store` trait and the
//! running sensor through the [`Sensor`] trait.

// Requests are attacker-controlled: no panics, no slicing, no unchecked arithmetic on them.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod api;
pub mod auth;
pub mod export;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod metrics;
pub mod views;
mod yaml;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use apisonar_store::Store;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};

pub use metrics::{render_prometheus, Metric, MetricKind};

/// What the running sensor tells the web side.
pub trait Sensor: Send + Sync + 'static {
    /// Every counter and gauge, read at the time of the request.
    fn metrics(&self) -> Vec<Metric>;
    /// Whether capture and analysis are running; problems are named.
    fn health(&self) -> Health;
}

/// The answer of `/healthz`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    pub ok: bool,
    /// What is wrong, empty when healthy.
    pub problems: Vec<String>,
}

#[derive(Clone)]
pub struct AppState {
    /// The live sensor, when the dashboard runs inside `apisonar run`.
    pub sensor: Option<Arc<dyn Sensor>>,
    /// Read from directly; changed only through `commands`.
    pub store: Arc<dyn Store + Send + Sync>,
    /// Changes (alert states, specs) go to the application core, which owns the store's writes.
    pub commands: apisonar_app::Commands,
    pub auth: Arc<auth::Auth>,
    /// Served over TLS: cookies are `Secure` and HSTS is sent.
    pub tls: bool,
    /// Recent reads of the whole inventory and alert list.
    pub snapshots: Arc<api::Snapshots>,
    /// A request (body included) that takes longer is answered 408: a client sending its body
    /// a byte at a time holds a connection for this long at most.
    pub request_timeout: std::time::Duration,
    /// Spec uploads parsed at once (one).
    pub spec_parsing: Arc<tokio::sync::Semaphore>,
}

/// Default for `AppState::request_timeout`.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Largest login form (a user name and a password).
pub const MAX_LOGIN_BODY_BYTES: usize = 4096;

impl AppState {
    pub fn new(
        store: Arc<dyn Store + Send + Sync>,
        commands: apisonar_app::Commands,
        sensor: Option<Arc<dyn Sensor>>,
        tls: bool,
    ) -> AppState {
        AppState {
            sensor,
            commands,
            auth: Arc::new(auth::Auth::new(store.clone())),
            store,
            tls,
            snapshots: Default::default(),
            request_timeout: REQUEST_TIMEOUT,
            spec_parsing: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }
}

/// The peer address of a connection, added by the server for rate limiting.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

const LOGIN_PAGE: &str = include_str!("../../../web/login.html");
const INDEX_PAGE: &str = include_str!("../../../web/index.html");
/// Static files of the pages (no CDN: everything is in the binary).
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("../../../web/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../../web/app.js")),
];

fn session_cookie_name(tls: bool) -> &'static str {
    // The __Host- prefix pins the cookie to this host, path / and Secure.
    if tls {
        "__Host-apisonar_session"
    } else {
        "apisonar_session"
    }
}

/// Every route the sensor answers.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/", get(index))
        .route("/logout", post(logout))
        .route("/metrics", get(metrics_text))
        .nest("/api/v1", api::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_auth));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/login", get(login_page).post(login).layer(axum::extract::DefaultBodyLimit::max(MAX_LOGIN_BODY_BYTES)))
        .route("/assets/{file}", get(asset))
        .merge(protected)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), request_timeout))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY_BYTES))
        .with_state(state)
}

/// The router that answers only `/healthz`: served on connections beyond the connection limit,
/// so that probes get an answer while the dashboard is saturated.
pub fn overflow_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback(|| async { ApiError(StatusCode::SERVICE_UNAVAILABLE, "the dashboard is busy; try again") })
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_LOGIN_BODY_BYTES))
        .with_state(state)
}

/// Bounds how long one request (reading its body included) may take.
async fn request_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError(StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response(),
    }
}

/// The one error type of the web edge: a status and a message safe to show (internals are
/// never put in it).
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<apisonar_store::StoreError> for ApiError {
    fn from(_: apisonar_store::StoreError) -> ApiError {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "the store could not be read")
    }
}

async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
               object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on our own
    // form posts, and the login CSRF check needs the real origin.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if state.tls {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Lets a request through with a valid API token (`Authorization: Bearer`) or session cookie;
/// state changes with a session also need the session's CSRF token in `X-CSRF-Token`.
async fn require_auth(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(String::from);
    let principal = if let Some(token) = bearer {
        let auth = state.auth.clone();
        tokio::task::spawn_blocking(move || auth.token(&token)).await.ok().flatten()
    } else {
        cookie(headers, session_cookie_name(state.tls))
            .and_then(|id| state.auth.session(&id))
            .map(auth::Principal::Session)
    };
    let is_api = request.uri().path().starts_with("/api/") || request.uri().path() == "/metrics";
    let Some(principal) = principal else {
        return if is_api {
            ApiError(StatusCode::UNAUTHORIZED, "sign in or send an API token").into_response()
        } else {
            Redirect::to("/login").into_response()
        };
    };
    let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let needed = if request.uri().path() == "/metrics" {
        auth::Scope::Metrics
    } else if unsafe_method {
        auth::Scope::Admin
    } else {
        auth::Scope::Read
    };
    if !principal.allows(needed) {
        return ApiError(StatusCode::FORBIDDEN, "this token's scopes do not allow that").into_response();
    }
    if let auth::Principal::Session(session) = &principal {
        if unsafe_method {
            let sent = request.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
            if sent.is_empty() || sent != session.csrf {
                return ApiError(StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
            }
        }
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

async fn healthz(State(state): State<AppState>) -> Response {
    let health = match &state.sensor {
        Some(s) => s.health(),
        None => Health { ok: true, problems: Vec::new() },
    };
    let code = if health.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({ "status": if health.ok { "ok" } else { "unhealthy" }, "problems": health.problems });
    (code, Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let metrics = state.sensor.as_ref().map(|s| s.metrics()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render_prometheus(&metrics)).into_response()
}

async fn login_page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], LOGIN_PAGE).into_response()
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => ([(header::CONTENT_TYPE, *content_type)], *body).into_response(),
        None => not_found().await,
    }
}

#[derive(serde::Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

/// A login form posted from another site is refused (login CSRF).
fn same_origin(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    if origin == "null" {
        return fetch_site == Some("same-origin");
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").map(|(_, rest)| rest) == Some(host)
}

async fn login(
    State(state): State<AppState>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return ApiError(StatusCode::FORBIDDEN, "cross-site login refused").into_response();
    }
    let ip: Option<IpAddr> = addr.map(|Extension(ClientAddr(a))| a.ip());
    let auth = state.auth.clone();
    let outcome = tokio::task::spawn_blocking(move || auth.login(ip, &form.user, &form.password)).await;
    match outcome {
        Ok(Ok(auth::Login::Ok(id, _))) => {
            let secure = if state.tls { "; Secure" } else { "" };
            let cookie = format!(
                "{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                session_cookie_name(state.tls),
                auth::SESSION_TTL.as_secs()
            );
            let mut response = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Ok(Ok(auth::Login::Refused)) => login_page_with(StatusCode::UNAUTHORIZED, "Wrong user or password."),
        Ok(Ok(auth::Login::Limited)) => login_page_with(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins from this address; try again later.",
        ),
        Ok(Ok(auth::Login::Busy)) => {
            let mut response =
                login_page_with(StatusCode::SERVICE_UNAVAILABLE, "Other sign-ins are being checked; try again.");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        _ => ApiError(StatusCode::INTERNAL_SERVER_ERROR, "login failed").into_response(),
    }
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let name = session_cookie_name(state.tls);
    if let Some(id) = cookie(&headers, name) {
        state.auth.logout(&id);
    }
    let mut response = Redirect::to("/login").into_response();
    let secure = if state.tls { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

async fn index() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX_PAGE).into_response()
}

/// The login page again with a fixed message (never anything the client sent).
fn login_page_with(status: StatusCode, message: &'static str) -> Response {
    let page = LOGIN_PAGE.replace("<!--message-->", &format!("<p class=\"error\" role=\"alert\">{message}</p>"));
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

async fn not_found() -> Response {
    ApiError(StatusCode::NOT_FOUND, "not found").into_response()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
mod tests;
