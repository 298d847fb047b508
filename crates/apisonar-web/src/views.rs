//! What the CLI listings and the REST API show (read only: changes go through the application
//! core). Inventory rows: every endpoint with its state against the specs, drift, parameters, schemas,
//! latency, auth, sensitive fields (classes and masks only), TLS facts; plus documented
//! operations never seen (orphans) and servers seen only over TLS. Alert records. Shared by the
//! `inventory` and `alerts` commands, the alert stream and the REST API.

use std::collections::BTreeMap;

use apisonar_engine::catalog::Appearance;
use apisonar_engine::sensitive::Class;
use apisonar_engine::Endpoint;
use apisonar_store::{Store, StoreError};
use serde::Serialize;

/// Microseconds since the epoch as RFC 3339.
pub fn rfc3339_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_else(|| format!("@{micros}us"))
}

#[derive(Serialize, Clone)]
pub struct Param {
    pub name: String,
    #[serde(rename = "in")]
    pub location: &'static str,
    #[serde(rename = "type")]
    pub value_type: String,
    pub count: u64,
    /// When it was first carried (RFC 3339).
    pub first_seen: String,
}

/// Sensitive data at one location: classes with counts, a mask, and when each class first
/// appeared there (RFC 3339).
#[derive(Serialize, Clone)]
pub struct SensitiveView {
    pub classes: BTreeMap<Class, u64>,
    pub mask: String,
    pub first_seen: BTreeMap<Class, String>,
}

#[derive(Serialize, Clone)]
pub struct Latency {
    pub p50_us: Option<i64>,
    pub p95_us: Option<i64>,
    pub p99_us: Option<i64>,
}

#[derive(Serialize, Clone)]
pub struct EndpointRow {
    /// Stable id for URLs: hex of host, method and path.
    pub id: String,
    pub host: String,
    pub method: String,
    pub path: String,
    pub state: &'static str,
    /// The spec (and operation) the endpoint was matched to, and why it has its state.
    pub spec: Option<String>,
    pub operation: Option<String>,
    pub state_reason: String,
    /// For documented endpoints: what traffic shows beyond the spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<apisonar_engine::Drift>,
    pub hits: u64,
    /// RFC 3339; `None` (null) for an orphan, which was never seen.
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub clients: usize,
    pub status_codes: std::collections::BTreeMap<u16, u64>,
    pub auth: Vec<String>,
    /// True when any of the traffic was seen encrypted; `cleartext_hits` says how much was not.
    /// `None` (null) for an orphan: no traffic, no transport.
    pub encrypted: Option<bool>,
    pub cleartext_hits: u64,
    /// Protocols the endpoint's traffic came in ("http/1", "h2"); empty for an orphan or a
    /// TLS-only row.
    pub protocols: Vec<String>,
    /// For a gRPC method: its service and method, streaming kind, statuses and message counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcView>,
    /// GraphQL operations and JSON-RPC (MCP) methods called through this endpoint, most
    /// called first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<OperationView>,
    /// For a WebSocket endpoint: message counts by side and kind, bytes, and the JSON schemas
    /// of each side's text messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websocket: Option<WebSocketView>,
    /// A row of TLS sessions to a server name with no HTTP endpoint under it: TLS only, no HTTP
    /// seen (encrypted traffic whose requests are unknown), not an endpoint without traffic.
    pub tls_only: bool,
    pub params: Vec<Param>,
    pub latency: Latency,
    pub request_content_types: std::collections::BTreeMap<String, u64>,
    pub response_content_types: std::collections::BTreeMap<String, u64>,
    pub request_bytes: apisonar_engine::stats::SizeStats,
    pub response_bytes: apisonar_engine::stats::SizeStats,
    /// Inferred JSON schemas (JSON Schema 2020-12), request and per response status.
    pub request_schema: Option<serde_json::Value>,
    pub response_schemas: std::collections::BTreeMap<u16, serde_json::Value>,
    /// For TLS rows: versions, ciphers, ALPN, JA3/JA3S/JA4, certificate, weaknesses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<apisonar_engine::tlsposture::TlsHost>,
    /// Sensitive data by location: classes with counts, and a mask.
    pub sensitive: BTreeMap<String, SensitiveView>,
    /// Where to look first: a score with its reasons (`apisonar_engine::risk`).
    pub risk: apisonar_engine::risk::Risk,
    pub why: Vec<String>,
    /// What appeared since the time asked for (see [`EndpointRow::new_since`]): `endpoint`, or
    /// the parameters, fields and sensitive classes that did. Only in listings of what is new.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Vec<String>>,
    /// When each part first appeared (for `new`).
    #[serde(skip)]
    pub appeared: Vec<Appearance>,
    /// First and last seen, microseconds since the epoch; `None` for an orphan.
    #[serde(skip)]
    pub seen: Option<(i64, i64)>,
}

/// The messages of a WebSocket endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct WebSocketView {
    pub client_messages: u64,
    pub server_messages: u64,
    pub kinds: BTreeMap<String, u64>,
    pub bytes: u64,
    pub client_schema: Option<serde_json::Value>,
    pub server_schema: Option<serde_json::Value>,
    pub last_seen: String,
}

/// A GraphQL operation or JSON-RPC method of an endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct OperationView {
    /// `query GetUser`, `mutation AddOrder`, `tools/call get_weather`...
    pub label: String,
    /// `graphql`, `jsonrpc` or `mcp`.
    pub style: String,
    pub kind: String,
    pub hits: u64,
    pub errors: u64,
    pub introspection: u64,
    pub root_fields: Vec<String>,
    /// `name: Type`.
    pub variables: Vec<String>,
    pub first_seen: String,
    pub last_seen: String,
    /// Against a GraphQL schema covering the host: `documented` or `shadow`; absent without
    /// one (or for an operation whose fields are unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
}

fn operations(e: &apisonar_engine::Endpoint, specs: &[apisonar_engine::Spec]) -> Vec<OperationView> {
    let mut out: Vec<OperationView> = e
        .operations
        .iter()
        .map(|(label, o)| {
            let state = apisonar_engine::posture::operation_state(specs, e, o);
            OperationView {
                label: label.clone(),
                style: o.style.clone(),
                kind: o.kind.clone(),
                hits: o.hits,
                errors: o.errors,
                introspection: o.introspection,
                root_fields: o.root_fields.iter().cloned().collect(),
                variables: o.variables.iter().map(|(n, t)| format!("{n}: {t}")).collect(),
                first_seen: rfc3339_micros(o.first_seen),
                last_seen: rfc3339_micros(o.last_seen),
                state: state.as_ref().map(|(s, _)| s.as_str()),
                state_reason: state.map(|(_, r)| r),
            }
        })
        .collect();
    out.sort_by(|a, b| b.hits.cmp(&a.hits).then_with(|| a.label.cmp(&b.label)));
    out
}

/// A gRPC method as the inventory shows it.
#[derive(Clone, Debug, Serialize)]
pub struct GrpcView {
    /// `package.Service` and `Method`, from the path `/package.Service/Method`.
    pub service: String,
    pub method: String,
    /// `unary`, `client_streaming`, `server_streaming` or `bidi_streaming`, as the traffic shows.
    pub kind: &'static str,
    /// Calls by `grpc-status` name.
    pub statuses: BTreeMap<String, u64>,
    pub max_request_messages: u32,
    pub max_response_messages: u32,
}

impl GrpcView {
    fn new(path: &str, g: &apisonar_engine::catalog::GrpcStats) -> GrpcView {
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        GrpcView {
            service: parts.next().unwrap_or_default().to_string(),
            method: parts.next().unwrap_or_default().to_string(),
            kind: g.kind(),
            statuses: g.statuses.clone(),
            max_request_messages: g.max_request_messages,
            max_response_messages: g.max_response_messages,
        }
    }
}

/// The protocols of an endpoint's traffic; records from before HTTP/2 was read have none
/// counted and were all HTTP/1.
fn protocols(e: &apisonar_engine::Endpoint) -> Vec<String> {
    if e.protocols.is_empty() && e.hits > 0 {
        return vec![apisonar_engine::Protocol::Http1.as_str().to_string()];
    }
    e.protocols.keys().cloned().collect()
}

/// The label of a TLS row among what is new.
pub const NEW_TLS_HOST: &str = "tls host";

impl EndpointRow {
    /// What of this row appeared at or after `since` (microseconds since the epoch):
    /// `["endpoint"]` for an endpoint first seen then, else its query and form parameters,
    /// request and response fields and sensitive classes first seen then (`query:limit`,
    /// `response 200: $.items[].email`, `sensitive: response.json.items[].email email`);
    /// `["tls host"]` for a server name first seen over TLS then; empty when nothing is new.
    pub fn new_since(&self, since: i64) -> Vec<String> {
        apisonar_engine::catalog::new_since(&self.appeared, since)
    }
}

/// The newest traffic of these rows (their latest last seen), microseconds since the epoch.
pub fn newest_seen(rows: &[EndpointRow]) -> Option<i64> {
    rows.iter().filter_map(|r| r.seen.map(|(_, last)| last)).max()
}

/// The rows with something new at or after `since`, each with its `new` list.
pub fn new_since(rows: Vec<EndpointRow>, since: i64) -> Vec<EndpointRow> {
    rows.into_iter()
        .filter_map(|mut r| {
            let new = r.new_since(since);
            (!new.is_empty()).then(|| {
                r.new = Some(new);
                r
            })
        })
        .collect()
}

/// Why a `since` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a time must be RFC 3339 (2026-11-30T08:00:00Z) or a duration back from the newest traffic (30m, 24h, 7d, 2w)")]
pub struct SinceError;

/// A time given as RFC 3339, or as a duration (`30m`, `24h`, `7d`, `2w`) counted back from
/// `newest` (the newest traffic in the store: under live capture, now; for a store of old
/// captures, the end of their traffic), in microseconds since the epoch.
pub fn parse_since(text: &str, newest: i64) -> Result<i64, SinceError> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_micros());
    }
    newest.checked_sub(parse_duration(text)?).ok_or(SinceError)
}

/// A duration (`30m`, `24h`, `7d`, `2w`) in microseconds.
pub fn parse_duration(text: &str) -> Result<i64, SinceError> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or(SinceError)?;
    let (digits, unit) = (text.get(..unit_at).ok_or(SinceError)?, text.get(unit_at..).ok_or(SinceError)?);
    let n: i64 = digits.parse().map_err(|_| SinceError)?;
    let unit_micros: i64 = match unit {
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        "w" => 604_800_000_000,
        _ => return Err(SinceError),
    };
    n.checked_mul(unit_micros).ok_or(SinceError)
}

fn row(e: &Endpoint, specs: &[apisonar_engine::Spec], orphan: bool, alerts: &[&apisonar_engine::Alert]) -> EndpointRow {
    let mut verdict = apisonar_engine::posture::classify(specs, e);
    if orphan {
        verdict.state = apisonar_engine::State::Orphan;
        verdict.reason = "documented, never seen".into();
        verdict.drift = None;
    }
    let risk = if orphan {
        apisonar_engine::risk::Risk::default()
    } else {
        apisonar_engine::risk::assess(e, verdict.state, alerts)
    };
    let mut params = Vec::new();
    for (location, map) in [("path", &e.path_params), ("query", &e.query_params), ("form", &e.form_fields)] {
        for (name, p) in map {
            params.push(Param {
                name: name.clone(),
                location,
                value_type: p.dominant_type().to_string(),
                count: p.count,
                // A time not recorded (older stores) is the endpoint's own.
                first_seen: rfc3339_micros(p.first_seen.max(e.first_seen)),
            });
        }
    }
    let sensitive = e
        .sensitive
        .iter()
        .map(|(location, f)| {
            let first_seen = f
                .classes
                .keys()
                .map(|c| (*c, rfc3339_micros(f.first_seen.get(c).copied().unwrap_or(0).max(e.first_seen))))
                .collect();
            (location.clone(), SensitiveView { classes: f.classes.clone(), mask: f.mask.clone(), first_seen })
        })
        .collect();
    // An orphan was never seen: no times, no transport.
    let seen = (!orphan).then_some((e.first_seen, e.last_seen));
    EndpointRow {
        id: endpoint_id(&e.host, &e.method, &e.path),
        host: e.host.clone(),
        method: e.method.clone(),
        path: e.path.clone(),
        state: verdict.state.as_str(),
        spec: verdict.spec,
        operation: verdict.operation,
        state_reason: verdict.reason,
        drift: verdict.drift,
        hits: e.hits,
        first_seen: seen.map(|(first, _)| rfc3339_micros(first)),
        last_seen: seen.map(|(_, last)| rfc3339_micros(last)),
        clients: e.clients.count(),
        status_codes: e.status_codes.clone(),
        auth: e.auth.iter().map(|a| a.scheme.label()).collect(),
        encrypted: seen.map(|_| e.encrypted > 0),
        cleartext_hits: e.cleartext,
        protocols: protocols(e),
        grpc: e.grpc.as_ref().map(|g| GrpcView::new(&e.path, g)),
        operations: operations(e, specs),
        websocket: e.websocket.as_ref().map(|w| WebSocketView {
            client_messages: w.client_messages,
            server_messages: w.server_messages,
            kinds: w.kinds.clone(),
            bytes: w.bytes,
            client_schema: w.client_schema.as_ref().map(apisonar_engine::openapi::json_schema),
            server_schema: w.server_schema.as_ref().map(apisonar_engine::openapi::json_schema),
            last_seen: rfc3339_micros(w.last_seen),
        }),
        tls_only: false,
        params,
        latency: Latency {
            p50_us: e.latency_quantile(0.5),
            p95_us: e.latency_quantile(0.95),
            p99_us: e.latency_quantile(0.99),
        },
        request_content_types: e.request_content_types.clone(),
        response_content_types: e.response_content_types.clone(),
        request_bytes: e.request_bytes.clone(),
        response_bytes: e.response_bytes.clone(),
        request_schema: e.request_schema.as_ref().map(apisonar_engine::openapi::json_schema),
        response_schemas: e
            .response_schemas
            .iter()
            .map(|(s, sc)| (*s, apisonar_engine::openapi::json_schema(sc)))
            .collect(),
        sensitive,
        risk,
        tls: None,
        why: e.why.clone(),
        new: None,
        appeared: if orphan { Vec::new() } else { e.appearances() },
        seen,
    }
}

/// The id used in URLs for an endpoint: lowercase hex of `host\0method\0path`.
pub fn endpoint_id(host: &str, method: &str, path: &str) -> String {
    let mut out =
        String::with_capacity(host.len().saturating_add(method.len()).saturating_add(path.len()).saturating_mul(2));
    for b in [host.as_bytes(), b"\0", method.as_bytes(), b"\0", path.as_bytes()].concat() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The host, method and path an endpoint id names (`None` for text that is not one).
pub fn endpoint_of_id(id: &str) -> Option<(String, String, String)> {
    let bytes: Option<Vec<u8>> = id
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.splitn(3, '\0');
    Some((parts.next()?.to_string(), parts.next()?.to_string(), parts.next()?.to_string()))
}

/// Every inventory row, sorted by host, path and method.
pub fn rows(store: &dyn Store) -> Result<Vec<EndpointRow>, StoreError> {
    rows_of(store, store.endpoints()?)
}

/// The rows of these endpoints (read from `store`), with the store's specs and TLS hosts.
pub fn rows_of(store: &dyn Store, mut endpoints: Vec<Endpoint>) -> Result<Vec<EndpointRow>, StoreError> {
    let specs = store.specs()?;
    // Documented operations never seen are listed too, as orphans.
    let orphans: Vec<Endpoint> = apisonar_engine::posture::orphans(&specs, &endpoints)
        .into_iter()
        .map(|(host, spec, op)| Endpoint {
            host,
            method: op.method.clone(),
            path: op.path.clone(),
            why: vec![format!("documented in {}", spec.name)],
            ..Endpoint::default()
        })
        .collect();
    // Hosts seen over TLS are listed too (one row per server name, method `TLS`), so that a host
    // known only from encrypted traffic still appears with its SNI.
    let tls_hosts = store.tls_hosts()?;
    let tls_rows: Vec<Endpoint> = tls_hosts
        .iter()
        .map(|h| Endpoint {
            host: h.host.clone(),
            method: "TLS".into(),
            path: "*".into(),
            hits: h.sessions,
            first_seen: h.first_seen,
            last_seen: h.last_seen,
            encrypted: h.sessions,
            why: vec!["TLS sessions to this server name".into()],
            ..Endpoint::default()
        })
        .collect();
    let tls_by_host: std::collections::BTreeMap<&str, &apisonar_engine::tlsposture::TlsHost> =
        tls_hosts.iter().map(|h| (h.host.as_str(), h)).collect();
    // Alerts by the endpoint they are filed under, for the risk of each row.
    let alerts = store.alerts()?;
    let mut alerts_of: std::collections::HashMap<(&str, &str, &str), Vec<&apisonar_engine::Alert>> =
        std::collections::HashMap::new();
    for a in &alerts {
        alerts_of.entry((a.host.as_str(), a.method.as_str(), a.path.as_str())).or_default().push(a);
    }
    // Server names with HTTP endpoints (by name: an endpoint's host may carry a port).
    let http_names: std::collections::BTreeSet<String> =
        endpoints.iter().map(|e| host_name(&e.host).to_ascii_lowercase()).collect();
    endpoints.extend(tls_rows);
    let seen = endpoints.len();
    endpoints.extend(orphans);
    let mut listed: Vec<(bool, &Endpoint)> = endpoints.iter().enumerate().map(|(i, e)| (i >= seen, e)).collect();
    listed.sort_by(|(_, a), (_, b)| (&a.host, &a.path, &a.method).cmp(&(&b.host, &b.path, &b.method)));
    let rows: Vec<EndpointRow> = listed
        .iter()
        .map(|(orphan, e)| {
            let filed = alerts_of.get(&(e.host.as_str(), e.method.as_str(), e.path.as_str()));
            let mut r = row(e, &specs, *orphan, filed.map(Vec::as_slice).unwrap_or_default());
            if e.method == "TLS" {
                r.tls = tls_by_host.get(e.host.as_str()).map(|h| (*h).clone());
                // Sessions to a server name are not an endpoint: TLS weaknesses are alerts of their own.
                r.risk = apisonar_engine::risk::Risk::default();
                r.state = "undocumented";
                r.tls_only = !http_names.contains(&host_name(&e.host).to_ascii_lowercase());
                r.state_reason = if r.tls_only {
                    "TLS only (no HTTP seen): encrypted sessions to this server name; no endpoint behind them is known"
                } else {
                    "TLS sessions to this server name (its HTTP endpoints are listed under the host)"
                }
                .into();
                r.appeared = vec![Appearance { at: e.first_seen, what: NEW_TLS_HOST.into() }];
            }
            r
        })
        .collect();
    Ok(rows)
}

/// A host without its port (`api.test:8443`, `[::1]:443`, `10.0.0.1:80` → the name or address).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(host, |(address, _)| address);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The JSON form of an alert.
#[derive(Serialize, Debug, Clone)]
pub struct AlertRecord {
    pub id: u64,
    pub kind: String,
    pub subtype: Option<String>,
    pub severity: &'static str,
    pub state: &'static str,
    pub title: String,
    pub host: String,
    pub method: String,
    pub path: String,
    /// The client, for kinds about one client (`*`: every client past the per-alert limit).
    pub client: Option<String>,
    /// Occurrences.
    pub count: u64,
    /// Distinct clients (estimated past 64).
    pub clients: usize,
    /// The busiest clients, busiest first.
    pub top_clients: Vec<ClientCountView>,
    pub first_seen: String,
    pub last_seen: String,
    /// Masked evidence of the latest occurrence.
    pub evidence: String,
    /// Masked evidence of different occurrences.
    pub samples: Vec<String>,
    /// The endpoint's id (`/endpoints/{id}`); `None` for an alert about a whole host (path `*`).
    pub endpoint_id: Option<String>,
    /// Why the kind matters, what to do, and its OWASP API Security Top 10 (2023) category.
    pub guidance: apisonar_engine::guidance::Guidance,
    /// The latest occurrence's request and response lines, masked.
    pub example: Option<apisonar_engine::alert::Exchange>,
    /// State changes, oldest first: by whom (a user, `token:NAME`, `cli:USER`, `sensor`) and when.
    pub history: Vec<StateChangeView>,
    pub assignee: Option<String>,
    pub comments: Vec<CommentView>,
}

/// A state change of an alert, its time as RFC 3339.
#[derive(Serialize, Debug, Clone)]
pub struct StateChangeView {
    pub at: String,
    pub by: String,
    pub state: &'static str,
    pub note: Option<String>,
}

/// A comment on an alert, its time as RFC 3339.
#[derive(Serialize, Debug, Clone)]
pub struct CommentView {
    pub at: String,
    pub by: String,
    pub text: String,
}

/// A client of an alert and its occurrences.
#[derive(Serialize, Debug, Clone)]
pub struct ClientCountView {
    pub client: String,
    pub count: u64,
}

impl AlertRecord {
    pub fn new(a: &apisonar_engine::Alert) -> AlertRecord {
        AlertRecord {
            id: a.id,
            kind: a.kind.clone(),
            subtype: a.subtype.clone(),
            severity: a.severity.as_str(),
            state: a.state.as_str(),
            title: a.title.clone(),
            host: a.host.clone(),
            method: a.method.clone(),
            path: a.path.clone(),
            client: a.client.clone(),
            count: a.count,
            clients: a.clients.count(),
            top_clients: a
                .top_clients
                .iter()
                .map(|c| ClientCountView { client: c.client.clone(), count: c.count })
                .collect(),
            first_seen: rfc3339_micros(a.first_seen),
            last_seen: rfc3339_micros(a.last_seen),
            evidence: a.evidence.clone(),
            samples: a.samples.clone(),
            endpoint_id: (a.path != "*").then(|| endpoint_id(&a.host, &a.method, &a.path)),
            guidance: apisonar_engine::guidance::for_kind(&a.kind),
            example: a.example.clone(),
            history: a
                .history
                .iter()
                .map(|h| StateChangeView {
                    at: rfc3339_micros(h.at),
                    by: h.by.clone(),
                    state: h.state.as_str(),
                    note: h.note.clone(),
                })
                .collect(),
            assignee: a.assignee.clone(),
            comments: a
                .comments
                .iter()
                .map(|c| CommentView { at: rfc3339_micros(c.at), by: c.by.clone(), text: c.text.clone() })
                .collect(),
        }
    }
}
