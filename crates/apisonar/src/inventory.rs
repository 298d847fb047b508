//! `apisonar inventory`: the discovered endpoints, as a table or JSON.

use std::io::{self, Write};

use anyhow::{Context, Result};
use apisonar_engine::Endpoint;
use apisonar_store::{SledOptions, SledStore, Store};
use serde::Serialize;

use crate::cli::{InventoryArgs, ListFormat};
use crate::output::rfc3339_micros;

#[derive(Serialize)]
struct Param<'a> {
    name: &'a str,
    #[serde(rename = "in")]
    location: &'static str,
    #[serde(rename = "type")]
    value_type: &'a str,
    count: u64,
}

#[derive(Serialize)]
struct Latency {
    p50_us: Option<i64>,
    p95_us: Option<i64>,
    p99_us: Option<i64>,
}

#[derive(Serialize)]
struct Row<'a> {
    host: &'a str,
    method: &'a str,
    path: &'a str,
    state: &'static str,
    /// The spec (and operation) the endpoint was matched to, and why it has its state.
    spec: Option<String>,
    operation: Option<String>,
    state_reason: String,
    /// For documented endpoints: what traffic shows beyond the spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<apisonar_engine::Drift>,
    hits: u64,
    first_seen: String,
    last_seen: String,
    clients: usize,
    status_codes: &'a std::collections::BTreeMap<u16, u64>,
    auth: Vec<String>,
    /// True when any of the traffic was seen encrypted; `cleartext_hits` says how much was not.
    encrypted: bool,
    cleartext_hits: u64,
    params: Vec<Param<'a>>,
    latency: Latency,
    request_content_types: &'a std::collections::BTreeMap<String, u64>,
    response_content_types: &'a std::collections::BTreeMap<String, u64>,
    request_bytes: &'a apisonar_engine::stats::SizeStats,
    response_bytes: &'a apisonar_engine::stats::SizeStats,
    /// Inferred JSON schemas (JSON Schema 2020-12), request and per response status.
    request_schema: Option<serde_json::Value>,
    response_schemas: std::collections::BTreeMap<u16, serde_json::Value>,
    /// For TLS rows: versions, ciphers, ALPN, JA3/JA3S/JA4, certificate, weaknesses.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<&'a apisonar_engine::tlsposture::TlsHost>,
    /// Sensitive data by location: classes with counts, and a mask.
    sensitive: &'a std::collections::BTreeMap<String, apisonar_engine::catalog::SensitiveField>,
    why: &'a [String],
}

fn row<'a>(e: &'a Endpoint, specs: &[apisonar_engine::Spec], orphan: bool) -> Row<'a> {
    let mut verdict = apisonar_engine::posture::classify(specs, e);
    if orphan {
        verdict.state = apisonar_engine::State::Orphan;
        verdict.reason = "documented, never seen".into();
        verdict.drift = None;
    }
    let mut params = Vec::new();
    for (location, map) in [("path", &e.path_params), ("query", &e.query_params), ("form", &e.form_fields)] {
        for (name, p) in map {
            params.push(Param { name, location, value_type: p.dominant_type(), count: p.count });
        }
    }
    Row {
        host: &e.host,
        method: &e.method,
        path: &e.path,
        state: verdict.state.as_str(),
        spec: verdict.spec,
        operation: verdict.operation,
        state_reason: verdict.reason,
        drift: verdict.drift,
        hits: e.hits,
        first_seen: rfc3339_micros(e.first_seen),
        last_seen: rfc3339_micros(e.last_seen),
        clients: e.clients.count(),
        status_codes: &e.status_codes,
        auth: e.auth.iter().map(|a| a.scheme.label()).collect(),
        encrypted: e.encrypted > 0,
        cleartext_hits: e.cleartext,
        params,
        latency: Latency {
            p50_us: e.latency_quantile(0.5),
            p95_us: e.latency_quantile(0.95),
            p99_us: e.latency_quantile(0.99),
        },
        request_content_types: &e.request_content_types,
        response_content_types: &e.response_content_types,
        request_bytes: &e.request_bytes,
        response_bytes: &e.response_bytes,
        request_schema: e.request_schema.as_ref().map(apisonar_engine::openapi::json_schema),
        response_schemas: e
            .response_schemas
            .iter()
            .map(|(s, sc)| (*s, apisonar_engine::openapi::json_schema(sc)))
            .collect(),
        sensitive: &e.sensitive,
        tls: None,
        why: &e.why,
    }
}

pub fn run(args: &InventoryArgs) -> Result<u8> {
    if !args.db.exists() {
        anyhow::bail!(
            "no store at {} (fill one with `apisonar analyze --db {} CAPTURE...`)",
            args.db.display(),
            args.db.display()
        );
    }
    let store = SledStore::open(&args.db, &SledOptions::default())?;
    let mut endpoints = store.endpoints().context("cannot read the inventory")?;
    let specs = store.specs().context("cannot read the specs")?;
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
    let tls_hosts = store.tls_hosts().context("cannot read the TLS hosts")?;
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
    if let Some(host) = &args.host {
        listed.retain(|(_, e)| e.host.eq_ignore_ascii_case(host) || e.host == "*");
    }
    listed.sort_by(|(_, a), (_, b)| (&a.host, &a.path, &a.method).cmp(&(&b.host, &b.path, &b.method)));
    let rows: Vec<Row<'_>> = listed
        .iter()
        .map(|(orphan, e)| {
            let mut r = row(e, &specs, *orphan);
            if e.method == "TLS" {
                r.tls = tls_by_host.get(e.host.as_str()).copied();
                r.state = "undocumented";
                r.state_reason = "TLS sessions (encrypted; not matched against specs)".into();
            }
            r
        })
        .collect();
    let mut out = io::stdout().lock();
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            writeln!(
                out,
                "{:<28} {:<7} {:<44} {:<13} {:>7} {:>7} {:<24} STATUS",
                "HOST", "METHOD", "PATH", "STATE", "HITS", "P95ms", "AUTH"
            )?;
            for r in &rows {
                let status: Vec<String> = r.status_codes.iter().map(|(s, n)| format!("{s}:{n}")).collect();
                let p95 = r.latency.p95_us.map_or("-".to_string(), |us| format!("{:.1}", us as f64 / 1000.0));
                writeln!(
                    out,
                    "{:<28} {:<7} {:<44} {:<13} {:>7} {:>7} {:<24} {}",
                    r.host,
                    r.method,
                    r.path,
                    r.state,
                    r.hits,
                    p95,
                    r.auth.join(","),
                    status.join(" ")
                )?;
            }
            writeln!(out, "{} endpoints", rows.len())?;
        }
    }
    Ok(0)
}
