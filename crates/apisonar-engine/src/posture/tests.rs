//! Classification: matching precedence, base paths, version siblings, deprecation, drift.

#![allow(clippy::panic)]

use super::*;
use crate::spec::parse;
use crate::test_values::Observe;
use crate::{Catalog, TemplateConfig};

const SPEC: &str = r##"
openapi: 3.1.0
info: { title: T, version: "1" }
servers: [ { url: "http://api.test/api" } ]
components:
  securitySchemes: { bearer: { type: http, scheme: bearer } }
paths:
  /v2/users: { get: { parameters: [ { name: limit, in: query, required: true } ], responses: { "200": { description: ok, content: { application/json: { schema: { type: array, items: { properties: { id: {}, name: {} } } } } } } } } }
  /v2/users/{id}: { get: { responses: { "200": { description: ok } } }, delete: { security: [ { bearer: [] } ], responses: { "204": { description: gone } } } }
  /v2/users/me: { get: { responses: { "200": { description: ok } } } }
  /v2/legacy/report: { get: { deprecated: true, responses: { "200": { description: ok } } } }
  /v2/never/called: { post: { responses: { "201": { description: ok } } } }
"##;

fn endpoint(method: &str, path: &str) -> Endpoint {
    Endpoint { host: "api.test".into(), method: method.into(), path: path.into(), hits: 1, ..Endpoint::default() }
}

fn state(specs: &[Spec], method: &str, path: &str) -> (State, Option<String>) {
    let c = classify(specs, &endpoint(method, path));
    (c.state, c.operation)
}

#[test]
fn precedence_base_paths_versions_and_deprecation() {
    let specs = vec![parse("t.yaml", SPEC).unwrap_or_else(|e| panic!("{e}"))];
    assert_eq!(state(&specs, "GET", "/api/v2/users/me"), (State::Documented, Some("/api/v2/users/me".into())));
    assert_eq!(state(&specs, "GET", "/api/v2/users/{user_id}"), (State::Documented, Some("/api/v2/users/{id}".into())));
    assert_eq!(state(&specs, "GET", "/api/v2/users/42x"), (State::Documented, Some("/api/v2/users/{id}".into())));
    assert_eq!(state(&specs, "HEAD", "/api/v2/users"), (State::Documented, Some("/api/v2/users".into())));
    assert_eq!(state(&specs, "GET", "/v2/users").0, State::Shadow, "the base path is part of the path");
    assert_eq!(state(&specs, "POST", "/api/v2/users").0, State::Shadow, "method not documented");
    assert_eq!(state(&specs, "GET", "/api/v2/_debug").0, State::Shadow);
    assert_eq!(state(&specs, "GET", "/api/v2/legacy/report"), (State::Zombie, Some("/api/v2/legacy/report".into())));
    assert_eq!(state(&specs, "GET", "/api/v1/users/{user_id}"), (State::Zombie, Some("/api/v2/users/{id}".into())));
    assert_eq!(state(&specs, "GET", "/api/v1/orders").0, State::Shadow, "no newer sibling documented");
    let mut other = endpoint("GET", "/anything");
    other.host = "elsewhere.test".into();
    assert_eq!(classify(&specs, &other).state, State::Undocumented);
}

#[test]
fn orphans_are_the_operations_nobody_called() {
    let specs = vec![parse("t.yaml", SPEC).unwrap_or_else(|e| panic!("{e}"))];
    let seen = vec![
        endpoint("GET", "/api/v2/users"),
        endpoint("GET", "/api/v2/users/{user_id}"),
        endpoint("GET", "/api/v2/users/me"),
    ];
    let mut orphans: Vec<String> =
        orphans(&specs, &seen).iter().map(|(h, _, op)| format!("{h} {} {}", op.method, op.path)).collect();
    orphans.sort();
    assert_eq!(
        orphans,
        vec![
            "api.test DELETE /api/v2/users/{id}",
            "api.test GET /api/v2/legacy/report",
            "api.test POST /api/v2/never/called"
        ]
    );
}

#[test]
fn drift_lists_what_traffic_shows_beyond_the_spec() {
    let specs = vec![parse("t.yaml", SPEC).unwrap_or_else(|e| panic!("{e}"))];
    let mut c = Catalog::new(TemplateConfig::default());
    let obs = |target: &str, auth: Option<&str>, status: u16, body: &str| {
        let mut o = crate::test_values::answered(target, status, "application/xml", body);
        o.request_headers = auth.map(|a| [("authorization", a)].into()).unwrap_or_default();
        o
    };
    c.observe(&obs(
        "/api/v2/users?limit=5&debug=1",
        Some("Basic dTpw"),
        200,
        "[{\"id\":1,\"name\":\"a\",\"ssn\":\"x\"}]",
    ));
    c.observe(&obs("/api/v2/users", None, 500, ""));
    let e = c.endpoints().next().cloned().unwrap_or_default();
    let verdict = classify(&specs, &e);
    assert_eq!(verdict.state, State::Documented);
    let d = verdict.drift.unwrap_or_default();
    assert_eq!(d.query_params, vec!["debug"]);
    assert_eq!(d.response_fields, vec!["ssn"]);
    assert_eq!(d.status_codes, vec![500]);
    assert_eq!(d.content_types, vec!["application/xml"]);
    assert_eq!(d.auth, vec!["basic"]);
    assert_eq!(d.missing_required, vec!["limit"]);
}
