//! What the CLI listings and the REST API show (read only: changes go through the application
//! core). Inventory rows: every endpoint with its state against the specs, drift, parameters, schemas,
//! latency, auth, sensitive fields (classes and masks only), TLS facts; plus documented
//! operations never seen (orphans) and servers seen only over TLS. Alert records. Shared by the
//! `inventory` and `alerts` commands, the alert stream and the REST API.

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
    pub first_seen: String,
    pub last_seen: String,
    pub clients: usize,
    pub status_codes: std::collections::BTreeMap<u16, u64>,
    pub auth: Vec<String>,
    /// True when any of the traffic was seen encrypted; `cleartext_hits` says how much was not.
    pub encrypted: bool,
    pub cleartext_hits: u64,
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
    pub sensitive: std::collections::BTreeMap<String, apisonar_engine::catalog::SensitiveField>,
    pub why: Vec<String>,
}

fn row(e: &Endpoint, specs: &[apisonar_engine::Spec], orphan: bool) -> EndpointRow {
    let mut verdict = apisonar_engine::posture::classify(specs, e);
    if orphan {
        verdict.state = apisonar_engine::State::Orphan;
        verdict.reason = "documented, never seen".into();
        verdict.drift = None;
    }
    let mut params = Vec::new();
    for (location, map) in [("path", &e.path_params), ("query", &e.query_params), ("form", &e.form_fields)] {
        for (name, p) in map {
            params.push(Param {
                name: name.clone(),
                location,
                value_type: p.dominant_type().to_string(),
                count: p.count,
            });
        }
    }
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
        first_seen: rfc3339_micros(e.first_seen),
        last_seen: rfc3339_micros(e.last_seen),
        clients: e.clients.count(),
        status_codes: e.status_codes.clone(),
        auth: e.auth.iter().map(|a| a.scheme.label()).collect(),
        encrypted: e.encrypted > 0,
        cleartext_hits: e.cleartext,
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
        sensitive: e.sensitive.clone(),
        tls: None,
        why: e.why.clone(),
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
    endpoints.extend(tls_rows);
    let seen = endpoints.len();
    endpoints.extend(orphans);
    let mut listed: Vec<(bool, &Endpoint)> = endpoints.iter().enumerate().map(|(i, e)| (i >= seen, e)).collect();
    listed.sort_by(|(_, a), (_, b)| (&a.host, &a.path, &a.method).cmp(&(&b.host, &b.path, &b.method)));
    let rows: Vec<EndpointRow> = listed
        .iter()
        .map(|(orphan, e)| {
            let mut r = row(e, &specs, *orphan);
            if e.method == "TLS" {
                r.tls = tls_by_host.get(e.host.as_str()).map(|h| (*h).clone());
                r.state = "undocumented";
                r.state_reason = "TLS sessions (encrypted; not matched against specs)".into();
            }
            r
        })
        .collect();
    Ok(rows)
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
    pub client: Option<String>,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub evidence: String,
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
            first_seen: rfc3339_micros(a.first_seen),
            last_seen: rfc3339_micros(a.last_seen),
            evidence: a.evidence.clone(),
        }
    }
}
