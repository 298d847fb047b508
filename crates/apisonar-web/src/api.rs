//! The REST API under `/api/v1` (JSON): the inventory with filters, sorting and pages, endpoint
//! detail, hosts, alerts with their lifecycle, the session and sensor status.

use std::collections::BTreeMap;

use apisonar_engine::{AlertChange, AlertState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::views::{self, AlertRecord, EndpointRow};
use crate::{ApiError, AppState};

/// Largest request body accepted (spec uploads are the biggest).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
const DEFAULT_PER_PAGE: usize = 50;
const MAX_PER_PAGE: usize = 500;

/// One route of the API: its path under `/api/v1`, the methods it answers and their handlers.
pub struct ApiRoute {
    pub path: &'static str,
    pub methods: &'static [&'static str],
    handlers: axum::routing::MethodRouter<AppState>,
}

fn route(
    path: &'static str,
    methods: &'static [&'static str],
    handlers: axum::routing::MethodRouter<AppState>,
) -> ApiRoute {
    ApiRoute { path, methods, handlers }
}

/// Every API route. The router is built from this list, and the tests check the published
/// OpenAPI document (web/openapi.json) and access control against it.
pub fn route_table() -> Vec<ApiRoute> {
    vec![
        route("/session", &["GET"], get(session)),
        route("/status", &["GET"], get(status)),
        route("/endpoints", &["GET"], get(endpoints)),
        route("/endpoints/{id}", &["GET"], get(endpoint)),
        route("/hosts", &["GET"], get(hosts)),
        route("/alerts", &["GET"], get(alerts)),
        route("/alerts/{id}", &["GET"], get(alert)),
        route("/alerts/{id}/ack", &["POST"], set_state(AlertState::Acknowledged)),
        route("/alerts/{id}/resolve", &["POST"], set_state(AlertState::Resolved)),
        route("/alerts/{id}/reopen", &["POST"], set_state(AlertState::Open)),
        route("/alerts/{id}/assign", &["POST"], post(assign)),
        route("/alerts/{id}/comments", &["POST"], post(comment)),
        route("/suppressions", &["GET", "POST"], get(suppressions).post(add_suppression)),
        route("/suppressions/{id}", &["DELETE"], axum::routing::delete(remove_suppression)),
        route("/overview", &["GET"], get(overview)),
        route("/specs", &["GET", "POST"], get(specs).post(upload_spec)),
        route("/specs/{name}", &["DELETE"], axum::routing::delete(delete_spec)),
        route("/openapi.json", &["GET"], get(openapi)),
        route("/export/openapi", &["GET"], get(export_openapi)),
        route("/export/postman", &["GET"], get(export_postman)),
    ]
}

pub fn routes() -> Router<AppState> {
    route_table()
        .into_iter()
        .fold(Router::new(), |router, r| router.route(r.path, r.handlers))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such API route") })
        .layer(axum::middleware::map_response(json_errors))
}

/// The API answers JSON, errors included: the method router (405, empty) and the extractors'
/// rejections (400, 413, 415, 422: plain text that may quote the request) answer otherwise, so
/// their errors are replaced by an `ApiError` with the status's own reason (and `Allow` kept).
async fn json_errors(response: axum::response::Response) -> axum::response::Response {
    use axum::http::header::{ALLOW, CONTENT_TYPE};
    use axum::response::IntoResponse;
    let status = response.status();
    let json = response.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let mut replaced = ApiError(status, status.canonical_reason().unwrap_or("the request failed")).into_response();
    if let Some(allow) = response.headers().get(ALLOW) {
        replaced.headers_mut().insert(ALLOW, allow.clone());
    }
    replaced
}

/// How long a read of the whole inventory or alert list is reused. The store changes every
/// second under capture; a page a moment old is fine, and 10,000 endpoints or 100,000 alerts
/// are then read and decoded once per interval instead of once per request.
pub const SNAPSHOT_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// The inventory as the API shows it, with the totals the overview needs.
pub struct InventorySnapshot {
    pub rows: Vec<EndpointRow>,
    /// Requests per hour over every endpoint.
    pub hourly: BTreeMap<i64, u64>,
    pub hits: u64,
    pub cleartext_hits: u64,
}

/// One store read kept for `SNAPSHOT_TTL`.
type Slot<T> = tokio::sync::Mutex<Option<(std::time::Instant, std::sync::Arc<T>)>>;

/// Reads of the store kept for `SNAPSHOT_TTL`; writes made through the API drop them.
#[derive(Default)]
pub struct Snapshots {
    inventory: Slot<InventorySnapshot>,
    /// Newest activity first.
    alerts: Slot<Vec<apisonar_engine::Alert>>,
}

impl Snapshots {
    pub async fn invalidate(&self) {
        *self.inventory.lock().await = None;
        *self.alerts.lock().await = None;
    }
}

/// The slot's value if it is recent enough, else `read` from the store (off the async threads).
async fn cached<T: Send + Sync + 'static>(
    state: &AppState,
    slot: &Slot<T>,
    read: impl FnOnce(&dyn apisonar_store::Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<std::sync::Arc<T>, ApiError> {
    // Held while reading, so concurrent requests wait for one read instead of each reading.
    let mut slot = slot.lock().await;
    if let Some((at, value)) = slot.as_ref() {
        if at.elapsed() < SNAPSHOT_TTL {
            return Ok(value.clone());
        }
    }
    let value = std::sync::Arc::new(blocking(state, read).await?);
    *slot = Some((std::time::Instant::now(), value.clone()));
    Ok(value)
}

async fn inventory_snapshot(state: &AppState) -> Result<std::sync::Arc<InventorySnapshot>, ApiError> {
    cached(state, &state.snapshots.inventory, |store| {
        let endpoints = store.endpoints()?;
        let mut hourly = BTreeMap::new();
        for e in &endpoints {
            for (hour, n) in &e.hourly {
                let slot = hourly.entry(*hour).or_insert(0u64);
                *slot = slot.saturating_add(*n);
            }
        }
        Ok(InventorySnapshot {
            hits: endpoints.iter().map(|e| e.hits).sum(),
            cleartext_hits: endpoints.iter().map(|e| e.cleartext).sum(),
            rows: views::rows_of(store, endpoints)?,
            hourly,
        })
    })
    .await
}

async fn alerts_snapshot(state: &AppState) -> Result<std::sync::Arc<Vec<apisonar_engine::Alert>>, ApiError> {
    cached(state, &state.snapshots.alerts, |store| {
        let mut list = store.alerts()?;
        list.sort_by_key(|a| std::cmp::Reverse((a.last_seen, a.severity, a.id)));
        Ok(list)
    })
    .await
}

/// A change a person made: run by the application core (in order with the sensor's own writes,
/// so neither undoes the other), off the async threads, durable when it answers; the snapshots
/// are dropped so the next page shows it.
async fn change_of(state: &AppState, command: apisonar_app::Command) -> Result<apisonar_app::Outcome, ApiError> {
    let commands = state.commands.clone();
    let result = tokio::task::spawn_blocking(move || commands.run(command))
        .await
        .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "the change failed"))?;
    state.snapshots.invalidate().await;
    result.map_err(|e| match e {
        apisonar_app::CoreError::Gone => ApiError(StatusCode::SERVICE_UNAVAILABLE, "the sensor is stopping"),
        apisonar_app::CoreError::Refused(_) => {
            ApiError(StatusCode::CONFLICT, "the change was refused: a limit was reached")
        }
        _ => ApiError(StatusCode::INTERNAL_SERVER_ERROR, "the change could not be saved"),
    })
}

/// Runs a store read off the async threads.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn apisonar_store::Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "the request failed"))?
}

#[derive(Serialize)]
struct SessionInfo {
    user: String,
    /// Send it back in `X-CSRF-Token` with every state change.
    csrf: Option<String>,
    via: &'static str,
    /// What this principal may do: `read`, `metrics`, `admin`.
    scopes: Vec<&'static str>,
}

async fn session(Extension(principal): Extension<Principal>) -> Json<SessionInfo> {
    Json(match principal {
        Principal::Session(s) => SessionInfo {
            user: s.user,
            csrf: Some(s.csrf),
            via: "session",
            scopes: crate::auth::Scope::ALL.iter().map(|s| s.as_str()).collect(),
        },
        Principal::Token { name, scopes } => {
            SessionInfo { user: name, csrf: None, via: "token", scopes: scopes.iter().map(|s| s.as_str()).collect() }
        }
    })
}

async fn status(State(state): State<AppState>) -> Json<serde_json::Value> {
    let Some(sensor) = &state.sensor else {
        return Json(serde_json::json!({ "capturing": false, "health": { "ok": true, "problems": [] } }));
    };
    let health = sensor.health();
    let metrics: BTreeMap<String, serde_json::Value> = sensor
        .metrics()
        .into_iter()
        .map(|m| {
            let samples: Vec<serde_json::Value> = m
                .samples
                .iter()
                .map(|(labels, v)| {
                    let labels: BTreeMap<&str, &str> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    serde_json::json!({ "labels": labels, "value": v })
                })
                .collect();
            (m.name.to_string(), serde_json::Value::Array(samples))
        })
        .collect();
    Json(serde_json::json!({ "capturing": true, "health": health, "metrics": metrics }))
}

/// A page of results.
#[derive(Serialize)]
pub struct Page<T> {
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub items: Vec<T>,
}

fn paginate<T>(items: Vec<T>, page: Option<usize>, per_page: Option<usize>) -> Page<T> {
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE).clamp(1, MAX_PER_PAGE);
    let page = page.unwrap_or(1).max(1);
    let total = items.len();
    let items = items.into_iter().skip(page.saturating_sub(1).saturating_mul(per_page)).take(per_page).collect();
    Page { total, page, per_page, items }
}

#[derive(Deserialize, Default)]
pub struct EndpointQuery {
    pub host: Option<String>,
    pub state: Option<String>,
    /// An auth scheme label (`none`, `bearer`, `jwt(HS256)`...), or a prefix of one.
    pub auth: Option<String>,
    pub encrypted: Option<bool>,
    pub sensitive: Option<bool>,
    /// A protocol the endpoint's traffic came in: `http/1` or `h2`.
    pub protocol: Option<String>,
    /// Text searched in host and path.
    pub q: Option<String>,
    /// Only what appeared at or after this time (RFC 3339, or `1h`, `24h`, `7d`... back from the
    /// newest traffic): new endpoints, and endpoints with a new parameter, field or sensitive
    /// class, each with its `new` list.
    pub since: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

/// One line of the inventory table.
#[derive(Serialize)]
pub struct EndpointSummary {
    id: String,
    host: String,
    method: String,
    path: String,
    state: &'static str,
    hits: u64,
    /// `None` (null) for an orphan: never seen.
    first_seen: Option<String>,
    last_seen: Option<String>,
    auth: Vec<String>,
    /// `None` (null) for an orphan: no traffic, no transport.
    encrypted: Option<bool>,
    cleartext_hits: u64,
    protocols: Vec<String>,
    /// TLS sessions to a server name with no HTTP seen (not an endpoint).
    tls_only: bool,
    sensitive: Vec<String>,
    p95_us: Option<i64>,
    /// The risk score (0 to 100) and its level; the reasons are on the endpoint.
    risk: u32,
    risk_level: &'static str,
    /// With `since`: what appeared since then.
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<Vec<String>>,
}

fn summary(r: &EndpointRow, since: Option<i64>) -> EndpointSummary {
    let classes: std::collections::BTreeSet<String> =
        r.sensitive.values().flat_map(|f| f.classes.keys().map(|c| c.as_str().to_string())).collect();
    EndpointSummary {
        id: r.id.clone(),
        host: r.host.clone(),
        method: r.method.clone(),
        path: r.path.clone(),
        state: r.state,
        hits: r.hits,
        first_seen: r.first_seen.clone(),
        last_seen: r.last_seen.clone(),
        auth: r.auth.clone(),
        encrypted: r.encrypted,
        cleartext_hits: r.cleartext_hits,
        protocols: r.protocols.clone(),
        tls_only: r.tls_only,
        sensitive: classes.into_iter().collect(),
        p95_us: r.latency.p95_us,
        risk: r.risk.score,
        risk_level: r.risk.level,
        new: since.map(|s| r.new_since(s)),
    }
}

/// Whether an inventory row passes the filters of a query (not its `since`, sort or page).
pub fn matches_endpoint(r: &EndpointRow, q: &EndpointQuery) -> bool {
    let auth_ok = |want: &str| {
        if want == "none" {
            r.auth.is_empty() || r.auth.iter().any(|a| a == "none")
        } else {
            r.auth.iter().any(|a| a.starts_with(want))
        }
    };
    q.host.as_deref().is_none_or(|h| r.host.eq_ignore_ascii_case(h))
        && q.state.as_deref().is_none_or(|s| r.state == s)
        && q.auth.as_deref().is_none_or(auth_ok)
        && q.encrypted.is_none_or(|e| {
            if e {
                r.cleartext_hits == 0 && r.encrypted == Some(true)
            } else {
                r.cleartext_hits > 0
            }
        })
        && q.sensitive.is_none_or(|s| s != r.sensitive.is_empty())
        && q.protocol.as_deref().is_none_or(|p| r.protocols.iter().any(|have| have.eq_ignore_ascii_case(p)))
        && q.q.as_deref().is_none_or(|text| {
            let text = text.to_ascii_lowercase();
            r.path.to_ascii_lowercase().contains(&text) || r.host.to_ascii_lowercase().contains(&text)
        })
}

async fn endpoints(
    State(state): State<AppState>,
    Query(q): Query<EndpointQuery>,
) -> Result<Json<Page<EndpointSummary>>, ApiError> {
    let sort = q.sort.clone().unwrap_or_else(|| "host".into());
    if !matches!(sort.as_str(), "host" | "path" | "method" | "hits" | "first_seen" | "last_seen" | "state" | "risk") {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "sort must be host, path, method, hits, first_seen, last_seen, state or risk",
        ));
    }
    if q.since.as_ref().is_some_and(|s| s.len() > 64) {
        return Err(ApiError(StatusCode::BAD_REQUEST, SINCE_FORMAT));
    }
    let snap = inventory_snapshot(&state).await?;
    let since = match q.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => {
            let newest = views::newest_seen(&snap.rows).unwrap_or(0);
            Some(views::parse_since(text, newest).map_err(|_| ApiError(StatusCode::BAD_REQUEST, SINCE_FORMAT))?)
        }
    };
    let mut rows: Vec<&EndpointRow> = snap
        .rows
        .iter()
        .filter(|r| matches_endpoint(r, &q) && since.is_none_or(|s| !r.new_since(s).is_empty()))
        .collect();
    rows.sort_by(|a, b| match sort.as_str() {
        "hits" => a.hits.cmp(&b.hits),
        // Equal scores: the busier endpoint is the riskier.
        "risk" => (a.risk.score, a.hits).cmp(&(b.risk.score, b.hits)),
        "first_seen" => a.seen.map(|(f, _)| f).cmp(&b.seen.map(|(f, _)| f)),
        "last_seen" => a.seen.map(|(_, l)| l).cmp(&b.seen.map(|(_, l)| l)),
        "state" => a.state.cmp(b.state),
        "method" => a.method.cmp(&b.method),
        "path" => a.path.cmp(&b.path),
        _ => (&a.host, &a.path, &a.method).cmp(&(&b.host, &b.path, &b.method)),
    });
    if q.order.as_deref() == Some("desc") {
        rows.reverse();
    }
    let page = paginate(rows, q.page, q.per_page);
    Ok(Json(Page {
        total: page.total,
        page: page.page,
        per_page: page.per_page,
        items: page.items.into_iter().map(|r| summary(r, since)).collect(),
    }))
}

/// What a `since` parameter may be.
const SINCE_FORMAT: &str =
    "since must be RFC 3339 (2026-11-30T08:00:00Z) or a duration back from the newest traffic (30m, 24h, 7d, 2w)";

async fn endpoint(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<EndpointRow>, ApiError> {
    if id.len() > 8192 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError(StatusCode::BAD_REQUEST, "malformed endpoint id"));
    }
    let snap = inventory_snapshot(&state).await?;
    snap.rows.iter().find(|r| r.id == id).cloned().map(Json).ok_or(ApiError(StatusCode::NOT_FOUND, "no such endpoint"))
}

#[derive(Serialize)]
struct HostSummary {
    host: String,
    endpoints: usize,
    hits: u64,
    cleartext_hits: u64,
    shadow: usize,
    zombie: usize,
}

async fn hosts(State(state): State<AppState>) -> Result<Json<Vec<HostSummary>>, ApiError> {
    let snap = inventory_snapshot(&state).await?;
    let mut by_host: BTreeMap<String, HostSummary> = BTreeMap::new();
    for r in &snap.rows {
        let h = by_host.entry(r.host.clone()).or_insert_with(|| HostSummary {
            host: r.host.clone(),
            endpoints: 0,
            hits: 0,
            cleartext_hits: 0,
            shadow: 0,
            zombie: 0,
        });
        h.endpoints = h.endpoints.saturating_add(1);
        h.hits = h.hits.saturating_add(r.hits);
        h.cleartext_hits = h.cleartext_hits.saturating_add(r.cleartext_hits);
        h.shadow = h.shadow.saturating_add(usize::from(r.state == "shadow"));
        h.zombie = h.zombie.saturating_add(usize::from(r.state == "zombie"));
    }
    Ok(Json(by_host.into_values().collect()))
}

#[derive(Deserialize, Default)]
pub struct AlertQuery {
    kind: Option<String>,
    state: Option<String>,
    severity: Option<String>,
    host: Option<String>,
    /// The alerts filed under one endpoint (its id).
    endpoint: Option<String>,
    /// Assigned to this name; `none` for unassigned.
    assignee: Option<String>,
    q: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

async fn alerts(
    State(state): State<AppState>,
    Query(q): Query<AlertQuery>,
) -> Result<Json<Page<AlertRecord>>, ApiError> {
    let snap = alerts_snapshot(&state).await?;
    let endpoint = match q.endpoint.as_deref() {
        Some(id) => Some(views::endpoint_of_id(id).ok_or(ApiError(StatusCode::BAD_REQUEST, "malformed endpoint id"))?),
        None => None,
    };
    let list: Vec<&apisonar_engine::Alert> = snap
        .iter()
        .filter(|a| {
            q.kind.as_deref().is_none_or(|k| a.kind == k)
                && q.state.as_deref().is_none_or(|s| a.state.as_str() == s)
                && q.severity.as_deref().is_none_or(|s| a.severity.as_str() == s)
                && q.host.as_deref().is_none_or(|h| a.host.eq_ignore_ascii_case(h))
                && endpoint.as_ref().is_none_or(|(h, m, p)| (&a.host, &a.method, &a.path) == (h, m, p))
                && q.assignee.as_deref().is_none_or(|who| match who {
                    "none" => a.assignee.is_none(),
                    _ => a.assignee.as_deref() == Some(who),
                })
                && q.q.as_deref().is_none_or(|t| {
                    let t = t.to_ascii_lowercase();
                    a.title.to_ascii_lowercase().contains(&t) || a.path.to_ascii_lowercase().contains(&t)
                })
        })
        .collect();
    // Newest activity first, then the most severe (the snapshot's order).
    let page = paginate(list, q.page, q.per_page);
    Ok(Json(Page {
        total: page.total,
        page: page.page,
        per_page: page.per_page,
        items: page.items.into_iter().map(AlertRecord::new).collect(),
    }))
}

async fn alert(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Json<AlertRecord>, ApiError> {
    let snap = alerts_snapshot(&state).await?;
    snap.iter()
        .find(|a| a.id == id)
        .map(|a| Json(AlertRecord::new(a)))
        .ok_or(ApiError(StatusCode::NOT_FOUND, "no such alert"))
}

/// Who a change is recorded as: the signed-in user, or `token:NAME`.
fn actor(principal: &Principal) -> String {
    match principal {
        Principal::Session(s) => s.user.clone(),
        Principal::Token { name, .. } => format!("token:{name}"),
    }
}

async fn change_alert(
    state: &AppState,
    principal: &Principal,
    id: u64,
    change: AlertChange,
) -> Result<Json<AlertRecord>, ApiError> {
    let at = chrono::Utc::now().timestamp_micros();
    match change_of(state, apisonar_app::Command::ChangeAlert { id, change, by: actor(principal), at }).await? {
        apisonar_app::Outcome::Alert(Some(a)) => Ok(Json(AlertRecord::new(&a))),
        _ => Err(ApiError(StatusCode::NOT_FOUND, "no such alert")),
    }
}

/// The route that moves an alert to `to` (acknowledge, resolve, reopen).
fn set_state(to: AlertState) -> axum::routing::MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>, Extension(principal): Extension<Principal>, Path(id): Path<u64>| async move {
            change_alert(&state, &principal, id, AlertChange::State(to)).await
        },
    )
}

#[derive(Deserialize)]
struct Assignment {
    /// A name; `null` or empty unassigns.
    assignee: Option<String>,
}

async fn assign(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<u64>,
    Json(body): Json<Assignment>,
) -> Result<Json<AlertRecord>, ApiError> {
    if body.assignee.as_ref().is_some_and(|a| a.chars().count() > apisonar_engine::alert::MAX_NAME_CHARS) {
        return Err(ApiError(StatusCode::BAD_REQUEST, "assignee must be at most 100 characters"));
    }
    change_alert(&state, &principal, id, AlertChange::Assign(body.assignee)).await
}

#[derive(Deserialize)]
struct NewComment {
    text: String,
}

async fn comment(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<u64>,
    Json(body): Json<NewComment>,
) -> Result<(StatusCode, Json<AlertRecord>), ApiError> {
    let length = body.text.trim().chars().count();
    if length == 0 || length > apisonar_engine::alert::MAX_COMMENT_CHARS {
        return Err(ApiError(StatusCode::BAD_REQUEST, "a comment must be 1 to 2000 characters"));
    }
    Ok((StatusCode::CREATED, change_alert(&state, &principal, id, AlertChange::Comment(body.text)).await?))
}

/// A suppression rule as the API shows it: times as RFC 3339, and whether it is in force.
#[derive(Serialize)]
pub struct SuppressionView {
    id: u64,
    kind: String,
    host: Option<String>,
    method: Option<String>,
    path: Option<String>,
    /// The endpoint's id when the rule names one.
    endpoint_id: Option<String>,
    client: Option<String>,
    expires: Option<String>,
    active: bool,
    reason: String,
    created_by: String,
    created_at: String,
    /// Occurrences it dropped, and when the latest happened (packet time).
    suppressed: u64,
    last_suppressed: Option<String>,
}

impl SuppressionView {
    fn new(r: &apisonar_engine::suppression::Suppression, now: i64) -> SuppressionView {
        let endpoint_id = match (&r.host, &r.method, &r.path) {
            (Some(h), Some(m), Some(p)) => Some(views::endpoint_id(h, m, p)),
            _ => None,
        };
        SuppressionView {
            id: r.id,
            kind: r.kind.clone(),
            host: r.host.clone(),
            method: r.method.clone(),
            path: r.path.clone(),
            endpoint_id,
            client: r.client.clone(),
            expires: r.expires.map(views::rfc3339_micros),
            active: r.active(now),
            reason: r.reason.clone(),
            created_by: r.created_by.clone(),
            created_at: views::rfc3339_micros(r.created_at),
            suppressed: r.suppressed,
            last_suppressed: r.last_suppressed.map(views::rfc3339_micros),
        }
    }
}

async fn suppressions(State(state): State<AppState>) -> Result<Json<Vec<SuppressionView>>, ApiError> {
    let rules = blocking(&state, |store| Ok(store.suppressions()?)).await?;
    let now = chrono::Utc::now().timestamp_micros();
    Ok(Json(rules.iter().map(|r| SuppressionView::new(r, now)).collect()))
}

#[derive(Deserialize)]
struct NewSuppression {
    kind: String,
    /// Mute the kind on this endpoint (an inventory id), or name `host` (and `method` and
    /// `path`) directly.
    endpoint_id: Option<String>,
    host: Option<String>,
    method: Option<String>,
    path: Option<String>,
    client: Option<String>,
    /// RFC 3339, or a duration from now (`1h`, `7d`, `2w`); absent: until removed.
    expires: Option<String>,
    #[serde(default)]
    reason: String,
}

async fn add_suppression(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<NewSuppression>,
) -> Result<(StatusCode, Json<SuppressionView>), ApiError> {
    let now = chrono::Utc::now().timestamp_micros();
    let (mut host, mut method, mut path) = (body.host, body.method, body.path);
    if let Some(id) = &body.endpoint_id {
        let (h, m, p) = views::endpoint_of_id(id).ok_or(ApiError(StatusCode::BAD_REQUEST, "malformed endpoint id"))?;
        (host, method, path) = (Some(h), Some(m), Some(p));
    }
    let expires = match body.expires.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(text) if text.len() <= 64 => Some(match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.timestamp_micros(),
            Err(_) => views::parse_duration(text)
                .ok()
                .and_then(|d| now.checked_add(d))
                .ok_or(ApiError(StatusCode::BAD_REQUEST, EXPIRES_FORMAT))?,
        }),
        Some(_) => return Err(ApiError(StatusCode::BAD_REQUEST, EXPIRES_FORMAT)),
    };
    let rule = apisonar_engine::suppression::Suppression {
        id: 0,
        kind: body.kind.trim().to_string(),
        host,
        method,
        path,
        client: body.client.map(|c| c.trim().to_string()).filter(|c| !c.is_empty()),
        expires,
        reason: body.reason.trim().to_string(),
        created_by: actor(&principal),
        created_at: now,
        suppressed: 0,
        last_suppressed: None,
    };
    if let Err(e) = rule.validate() {
        return Err(ApiError(StatusCode::BAD_REQUEST, e.message()));
    }
    match change_of(&state, apisonar_app::Command::AddSuppression(Box::new(rule))).await {
        Ok(apisonar_app::Outcome::Suppression(r)) => Ok((StatusCode::CREATED, Json(SuppressionView::new(&r, now)))),
        Ok(_) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, "the change could not be saved")),
        Err(e) => Err(e),
    }
}

/// What an `expires` value may be.
const EXPIRES_FORMAT: &str = "expires must be RFC 3339 (2026-12-31T00:00:00Z) or a duration from now (1h, 7d, 2w)";

async fn remove_suppression(State(state): State<AppState>, Path(id): Path<u64>) -> Result<StatusCode, ApiError> {
    match change_of(&state, apisonar_app::Command::RemoveSuppression(id)).await? {
        apisonar_app::Outcome::Removed(true) => Ok(StatusCode::NO_CONTENT),
        _ => Err(ApiError(StatusCode::NOT_FOUND, "no such rule")),
    }
}

#[derive(Deserialize)]
struct ExportFormat {
    /// `yaml` (the default) or `json`.
    format: Option<String>,
}

/// The selection of an export, read off the async threads; an empty one is a 404 (nothing to
/// describe is not a document).
async fn export_selection(state: &AppState, filter: EndpointQuery) -> Result<crate::export::Selection, ApiError> {
    if filter.since.as_ref().is_some_and(|s| s.len() > 64) {
        return Err(ApiError(StatusCode::BAD_REQUEST, SINCE_FORMAT));
    }
    let selection = blocking(state, move |store| {
        crate::export::Selection::read(store, &filter).map_err(|e| match e {
            crate::export::SelectError::Store(e) => ApiError::from(e),
            crate::export::SelectError::Since(_) => ApiError(StatusCode::BAD_REQUEST, SINCE_FORMAT),
        })
    })
    .await?;
    if selection.endpoints.is_empty() {
        return Err(ApiError(StatusCode::NOT_FOUND, "no seen endpoints match the filters"));
    }
    Ok(selection)
}

/// A download: the body with its media type and a file name.
fn attachment(media_type: &'static str, file: &str, body: Vec<u8>) -> axum::response::Response {
    use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
    use axum::response::IntoResponse;
    // The name is made of plain characters (`export::file_stem`), so it needs no quoting rules.
    let disposition = format!("attachment; filename=\"{file}\"");
    let mut response = ([(CONTENT_TYPE, media_type)], body).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(CONTENT_DISPOSITION, value);
    }
    response
}

/// OpenAPI 3.1 of the endpoints the inventory filters select: with `host`, that host's
/// document; without, a zip with one document per host.
async fn export_openapi(
    State(state): State<AppState>,
    Query(filter): Query<EndpointQuery>,
    Query(format): Query<ExportFormat>,
) -> Result<axum::response::Response, ApiError> {
    let format = match format.format.as_deref() {
        None | Some("yaml") => crate::export::Format::Yaml,
        Some("json") => crate::export::Format::Json,
        Some(_) => return Err(ApiError(StatusCode::BAD_REQUEST, "format must be yaml or json")),
    };
    let one_host = filter.host.clone();
    let selection = export_selection(&state, filter).await?;
    match one_host.as_deref().and_then(|h| selection.hosts().into_iter().find(|s| s.eq_ignore_ascii_case(h))) {
        Some(host) => {
            let text = format.render(&selection.openapi(host));
            let file = format!("{}.openapi.{}", crate::export::file_stem(host), format.extension());
            Ok(attachment(format.media_type(), &file, text.into_bytes()))
        }
        None => {
            let zip = tokio::task::spawn_blocking(move || crate::export::openapi_zip(&selection, format))
                .await
                .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "the export failed"))?
                .map_err(|_| ApiError(StatusCode::PAYLOAD_TOO_LARGE, "the export is too large for a zip file"))?;
            Ok(attachment("application/zip", "apisonar-openapi.zip", zip))
        }
    }
}

/// A Postman collection (v2.1) of the endpoints the inventory filters select.
async fn export_postman(
    State(state): State<AppState>,
    Query(filter): Query<EndpointQuery>,
) -> Result<axum::response::Response, ApiError> {
    let name = filter.host.clone();
    let selection = export_selection(&state, filter).await?;
    let (title, file) = match name.as_deref() {
        Some(h) => (format!("{h} (discovered by apisonar)"), crate::export::file_stem(h)),
        None => ("Discovered APIs (apisonar)".to_string(), "apisonar".to_string()),
    };
    let body = serde_json::to_vec_pretty(&selection.postman(&title)).unwrap_or_default();
    Ok(attachment("application/json", &format!("{file}.postman_collection.json"), body))
}

/// This API described as OpenAPI 3.1 (web/openapi.json, embedded).
async fn openapi() -> axum::response::Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("../../../web/openapi.json"))
        .into_response()
}

#[derive(Serialize)]
struct Overview {
    endpoints: usize,
    hosts: usize,
    by_state: BTreeMap<&'static str, usize>,
    open_alerts_by_severity: BTreeMap<&'static str, usize>,
    alerts: usize,
    hits: u64,
    cleartext_hits: u64,
    /// Share of requests seen without TLS, 0 to 1.
    unencrypted_share: f64,
    /// Requests per hour (RFC 3339 hour, count), oldest first.
    requests_per_hour: Vec<(String, u64)>,
    capturing: bool,
    /// Traffic the inventory's caps kept out: the total, and the hosts with the most (`*` for
    /// hosts over the host cap).
    overflow_total: u64,
    overflow: Vec<apisonar_engine::Overflow>,
    /// The endpoints to look at first: the highest risk scores (above 0), with their reasons.
    riskiest: Vec<RiskyEndpoint>,
}

/// An endpoint on the overview's list of the riskiest.
#[derive(Serialize)]
struct RiskyEndpoint {
    id: String,
    host: String,
    method: String,
    path: String,
    state: &'static str,
    risk: apisonar_engine::risk::Risk,
}

/// Endpoints listed as the riskiest on the overview.
const RISKIEST_SHOWN: usize = 5;

/// Hosts listed with their overflow in the overview.
const OVERFLOW_SHOWN: usize = 20;

async fn overview(State(state): State<AppState>) -> Result<Json<Overview>, ApiError> {
    let capturing = state.sensor.is_some();
    let inventory = inventory_snapshot(&state).await?;
    let alerts = alerts_snapshot(&state).await?;
    let mut by_state = BTreeMap::new();
    let mut hosts = std::collections::BTreeSet::new();
    for r in inventory.rows.iter().filter(|r| r.method != "TLS") {
        let n = by_state.entry(r.state).or_insert(0usize);
        *n = n.saturating_add(1);
        hosts.insert(r.host.as_str());
    }
    let mut by_severity = BTreeMap::new();
    for a in alerts.iter().filter(|a| a.state == AlertState::Open) {
        let n = by_severity.entry(a.severity.as_str()).or_insert(0usize);
        *n = n.saturating_add(1);
    }
    // The latest week that has traffic.
    let newest = inventory.hourly.keys().next_back().copied().unwrap_or(0);
    let requests_per_hour = inventory
        .hourly
        .range(newest.saturating_sub(apisonar_engine::catalog::HOURLY_BUCKETS as i64).saturating_add(1)..)
        .map(|(h, n)| (views::rfc3339_micros(h.saturating_mul(3_600_000_000)), *n))
        .collect();
    let (hits, cleartext_hits) = (inventory.hits, inventory.cleartext_hits);
    let mut overflow = blocking(&state, |store| Ok(store.overflow()?)).await?;
    overflow.sort_by_key(|o| std::cmp::Reverse(o.total()));
    let overflow_total = overflow.iter().fold(0u64, |n, o| n.saturating_add(o.total()));
    overflow.truncate(OVERFLOW_SHOWN);
    let mut risky: Vec<&EndpointRow> = inventory.rows.iter().filter(|r| r.risk.score > 0).collect();
    risky.sort_by_key(|r| std::cmp::Reverse((r.risk.score, r.hits)));
    let riskiest = risky
        .into_iter()
        .take(RISKIEST_SHOWN)
        .map(|r| RiskyEndpoint {
            id: r.id.clone(),
            host: r.host.clone(),
            method: r.method.clone(),
            path: r.path.clone(),
            state: r.state,
            risk: r.risk.clone(),
        })
        .collect();
    Ok(Json(Overview {
        endpoints: inventory.rows.iter().filter(|r| r.method != "TLS" && r.state != "orphan").count(),
        hosts: hosts.len(),
        by_state,
        open_alerts_by_severity: by_severity,
        alerts: alerts.len(),
        hits,
        cleartext_hits,
        unencrypted_share: if hits > 0 { cleartext_hits as f64 / hits as f64 } else { 0.0 },
        requests_per_hour,
        capturing,
        overflow_total,
        overflow,
        riskiest,
    }))
}

#[derive(Serialize)]
struct SpecSummary {
    name: String,
    title: String,
    format: String,
    hosts: Vec<String>,
    operations: usize,
    /// How the inventory's endpoints on the hosts it covers are classified.
    documented: usize,
    shadow: usize,
    zombie: usize,
    orphan: usize,
    /// Documented endpoints whose traffic drifts from the spec.
    drifting: usize,
}

async fn specs(State(state): State<AppState>) -> Result<Json<Vec<SpecSummary>>, ApiError> {
    let specs = blocking(&state, |store| Ok(store.specs()?)).await?;
    let rows = &inventory_snapshot(&state).await?.rows;
    Ok(Json(
        specs
            .into_iter()
            .map(|s| {
                let mine: Vec<&EndpointRow> = rows
                    .iter()
                    .filter(|r| r.spec.as_deref() == Some(s.name.as_str()) || (r.spec.is_none() && s.covers(&r.host)))
                    .collect();
                let count = |st: &str| mine.iter().filter(|r| r.state == st).count();
                SpecSummary {
                    documented: count("documented"),
                    shadow: count("shadow"),
                    zombie: count("zombie"),
                    orphan: count("orphan"),
                    drifting: mine.iter().filter(|r| r.drift.as_ref().is_some_and(|d| !d.is_empty())).count(),
                    operations: s.operations.len(),
                    name: s.name,
                    title: s.title,
                    format: s.format,
                    hosts: s.hosts,
                }
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
struct SpecUpload {
    name: String,
    /// The spec covers this host (instead of its own servers).
    host: Option<String>,
}

/// Stores a spec sent as the request body (YAML or JSON); the inventory is classified against
/// it at once. A spec that does not parse changes nothing and the error says where.
async fn upload_spec(
    State(state): State<AppState>,
    Query(q): Query<SpecUpload>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), axum::response::Response> {
    use axum::response::IntoResponse;
    let name = q.name.trim().to_string();
    if name.is_empty() || name.len() > 200 || name.contains(['/', '\\', '\0']) {
        return Err(
            ApiError(StatusCode::BAD_REQUEST, "name must be 1 to 200 characters, without slashes").into_response()
        );
    }
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return Err(ApiError(StatusCode::BAD_REQUEST, "the spec must be UTF-8 text (YAML or JSON)").into_response());
    };
    let mut spec = match parse_spec(&state, name.clone(), text).await {
        Ok(Ok(s)) => s,
        // The parser's message names the place in the document, never anything else.
        Ok(Err(e)) => {
            let body = serde_json::json!({ "error": "the spec cannot be read", "detail": e.to_string() });
            return Err((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
        }
        Err(refused) => return Err(refused.into_response()),
    };
    if let Some(h) = q.host.filter(|h| !h.trim().is_empty()) {
        spec.hosts = vec![h.trim().to_ascii_lowercase()];
    }
    let operations = spec.operations.len();
    let outcome =
        change_of(&state, apisonar_app::Command::AddSpec(Box::new(spec))).await.map_err(|e| e.into_response())?;
    let alerts = match outcome {
        apisonar_app::Outcome::Posture { alerts, .. } => alerts,
        _ => 0,
    };
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "name": name, "operations": operations, "posture_alerts": alerts })),
    ))
}

/// How long a spec upload may take to parse (its work is bounded by the parser's budgets; this
/// keeps a client waiting no longer than that, even on a slow machine).
pub const SPEC_PARSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Parses an uploaded spec off the async threads, one at a time (a parse may use the parser's
/// whole budget of memory), within `SPEC_PARSE_TIMEOUT`.
async fn parse_spec(
    state: &AppState,
    name: String,
    text: String,
) -> Result<Result<apisonar_engine::Spec, apisonar_engine::SpecError>, ApiError> {
    let Ok(turn) = state.spec_parsing.clone().try_acquire_owned() else {
        return Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, "another spec is being read; try again"));
    };
    let parse = tokio::task::spawn_blocking(move || {
        // Held until the parse really ends, also when the client was answered earlier.
        let _turn = turn;
        apisonar_engine::spec::parse(&name, &text)
    });
    match tokio::time::timeout(SPEC_PARSE_TIMEOUT, parse).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(_)) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, "the spec could not be read")),
        Err(_) => Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, "the spec took too long to read")),
    }
}

async fn delete_spec(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    let removed = change_of(&state, apisonar_app::Command::RemoveSpec(name)).await?;
    if removed == apisonar_app::Outcome::Removed(true) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError(StatusCode::NOT_FOUND, "no such spec"))
    }
}
