//! API posture: each endpoint classified against the specs (documented, shadow, zombie,
//! undocumented), spec operations never seen (orphan), and what documented traffic shows beyond
//! its spec (drift). Definitions are those of DESIGN.md.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::catalog::Endpoint;
use crate::segment::is_version;
use crate::spec::{path_fits, Spec, SpecOperation};
use crate::template::split_path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Matches an operation of a spec that covers the host.
    Documented,
    /// On a host a spec covers, matching no operation of it.
    Shadow,
    /// Matches a deprecated operation, or is a version superseded by a documented newer one.
    Zombie,
    /// Documented, never seen.
    Orphan,
    /// No spec covers the host.
    Undocumented,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Documented => "documented",
            State::Shadow => "shadow",
            State::Zombie => "zombie",
            State::Orphan => "orphan",
            State::Undocumented => "undocumented",
        }
    }
}

/// What documented traffic shows beyond its spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_fields: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_fields: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_codes: Vec<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth: Vec<String>,
    /// Parameters the spec marks required that some requests omitted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_required: Vec<String>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        *self == Drift::default()
    }
}

/// The verdict for one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub state: State,
    /// The spec and operation path it was matched to (or superseded by).
    pub spec: Option<String>,
    pub operation: Option<String>,
    pub reason: String,
    pub drift: Option<Drift>,
}

/// A segment-by-segment preference: at the first position where two spec paths differ, a
/// literal beats a parameter.
fn more_specific(a: &str, b: &str) -> bool {
    for (x, y) in split_path(a).iter().zip(split_path(b).iter()) {
        match (x.starts_with('{'), y.starts_with('{')) {
            (false, true) => return true,
            (true, false) => return false,
            _ => {}
        }
    }
    false
}

fn method_fits(op: &SpecOperation, method: &str) -> bool {
    // HEAD is served by GET handlers in practice.
    op.method == method || (method == "HEAD" && op.method == "GET")
}

/// The best matching operation among the specs covering `host`.
pub fn find_operation<'a>(
    specs: &'a [Spec],
    host: &str,
    method: &str,
    template: &str,
) -> Option<(&'a Spec, &'a SpecOperation)> {
    let mut best: Option<(&Spec, &SpecOperation)> = None;
    for spec in specs.iter().filter(|s| s.covers(host)) {
        for op in &spec.operations {
            if method_fits(op, method) && path_fits(&op.path, template) {
                let better = match best {
                    None => true,
                    Some((_, b)) => more_specific(&op.path, &b.path) || (b.method != method && op.method == method),
                };
                if better {
                    best = Some((spec, op));
                }
            }
        }
    }
    best
}

fn version_number(segment: &str) -> Option<u32> {
    if !is_version(segment) {
        return None;
    }
    segment.get(1..)?.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

/// A documented operation that is a newer version of `template` (`/v1/x` -> `/v2/x`).
fn newer_sibling<'a>(
    specs: &'a [Spec],
    host: &str,
    method: &str,
    template: &str,
) -> Option<(&'a Spec, &'a SpecOperation)> {
    let segs = split_path(template);
    for (i, seg) in segs.iter().enumerate() {
        let Some(mine) = version_number(seg) else { continue };
        for spec in specs.iter().filter(|s| s.covers(host)) {
            for op in spec.operations.iter().filter(|op| method_fits(op, method)) {
                let theirs = split_path(&op.path);
                if theirs.len() != segs.len() {
                    continue;
                }
                let newer = theirs.get(i).and_then(|s| version_number(s)).is_some_and(|v| v > mine);
                let rest_fits =
                    theirs.iter().zip(&segs).enumerate().all(|(j, (s, t))| j == i || s.starts_with('{') || s == t);
                if newer && rest_fits {
                    return Some((spec, op));
                }
            }
        }
    }
    None
}

/// Whether a GraphQL operation of `e` is in a schema that covers its host: `documented`, or
/// `shadow` with the root fields the schema lacks; `None` with no schema, or for an operation
/// whose fields are unknown (persisted by hash, invalid) or that is not GraphQL.
pub fn operation_state(specs: &[Spec], e: &Endpoint, op: &crate::catalog::OperationStats) -> Option<(State, String)> {
    if op.style != "graphql" {
        return None;
    }
    let (sdl, roots) = specs.iter().filter(|s| s.covers(&e.host)).find_map(|s| s.graphql.as_ref().map(|r| (s, r)))?;
    let missing = crate::spec::graphql::documents(roots, &op.kind, &op.root_fields)?;
    let name = &sdl.name;
    Some(if missing.is_empty() {
        (State::Documented, format!("every root field is in the schema {name}"))
    } else {
        (State::Shadow, format!("{} {} not in the schema {name}", op.kind, missing.join(", ")))
    })
}

/// Classifies one endpoint against the specs.
pub fn classify(specs: &[Spec], e: &Endpoint) -> Classification {
    // A GraphQL schema documents the endpoint its operations come through; the operations
    // themselves are judged one by one (`operation_state`).
    if let Some(sdl) = specs.iter().find(|s| s.graphql.is_some() && s.covers(&e.host)) {
        if e.operations.values().any(|o| o.style == "graphql") {
            return Classification {
                state: State::Documented,
                spec: Some(sdl.name.clone()),
                operation: None,
                reason: format!("a GraphQL endpoint: its operations are checked against the schema {}", sdl.name),
                drift: None,
            };
        }
    }
    // GraphQL schemas say nothing of HTTP routes.
    if !specs.iter().any(|s| s.graphql.is_none() && s.covers(&e.host)) {
        return Classification {
            state: State::Undocumented,
            spec: None,
            operation: None,
            reason: "no spec covers this host".into(),
            drift: None,
        };
    }
    let found = find_operation(specs, &e.host, &e.method, &e.path);
    // Kept apart from a spec template: documented only if a spec names the route itself.
    if let (Some(apart), Some((spec, op))) = (&e.kept_apart, found) {
        let through_parameter = split_path(&op.path)
            .iter()
            .zip(split_path(&e.path))
            .any(|(o, p)| o.starts_with('{') && !p.starts_with('{'));
        if through_parameter {
            return Classification {
                state: State::Shadow,
                spec: Some(spec.name.clone()),
                operation: Some(op.path.clone()),
                reason: format!(
                    "{} {} in {} matches this path only through its parameter, and {}: an undocumented route beside the documented one",
                    op.method, op.path, spec.name, apart.reason
                ),
                drift: None,
            };
        }
    }
    if let Some((spec, op)) = found {
        let drift = Some(drift(op, e));
        if op.deprecated {
            return Classification {
                state: State::Zombie,
                spec: Some(spec.name.clone()),
                operation: Some(op.path.clone()),
                reason: format!("{} {} is marked deprecated in {}", op.method, op.path, spec.name),
                drift,
            };
        }
        return Classification {
            state: State::Documented,
            spec: Some(spec.name.clone()),
            operation: Some(op.path.clone()),
            reason: format!("matches {} {} in {}", op.method, op.path, spec.name),
            drift,
        };
    }
    if let Some((spec, op)) = newer_sibling(specs, &e.host, &e.method, &e.path) {
        return Classification {
            state: State::Zombie,
            spec: Some(spec.name.clone()),
            operation: Some(op.path.clone()),
            reason: format!("superseded by {} {} in {}", op.method, op.path, spec.name),
            drift: None,
        };
    }
    Classification {
        state: State::Shadow,
        spec: None,
        operation: None,
        reason: "matches no operation of the specs covering this host".into(),
        drift: None,
    }
}

fn covered_status(responses: &[String], status: u16) -> bool {
    let s = status.to_string();
    let class = |r: &str| s.chars().next().is_some_and(|first| r.starts_with(first));
    responses.iter().any(|r| {
        r == &s
            || r == "default"
            || (r.len() == 3 && r.ends_with("XX") && class(r))
            || (r.len() == 3 && r.ends_with("xx") && class(r))
    })
}

/// What `e`'s traffic shows beyond `op`.
pub fn drift(op: &SpecOperation, e: &Endpoint) -> Drift {
    let mut d = Drift::default();
    let documented_query: BTreeSet<&str> =
        op.params.iter().filter(|p| p.location == "query").map(|p| p.name.as_str()).collect();
    d.query_params = e.query_params.keys().filter(|q| !documented_query.contains(q.as_str())).cloned().collect();
    if let (Some(fields), Some(schema)) = (&op.request_fields, &e.request_schema) {
        d.request_fields = schema.properties.keys().filter(|k| !fields.contains(*k)).cloned().collect();
    }
    if let Some(fields) = &op.response_fields {
        d.response_fields = e.success_fields().into_iter().filter(|k| !fields.contains(k)).collect();
    }
    d.status_codes = e.status_codes.keys().filter(|s| !covered_status(&op.responses, **s)).copied().collect();
    let mut cts = BTreeSet::new();
    if !op.request_content_types.is_empty() {
        cts.extend(e.request_content_types.keys().filter(|c| !op.request_content_types.contains(c)).cloned());
    }
    if !op.response_content_types.is_empty() {
        cts.extend(e.response_content_types.keys().filter(|c| !op.response_content_types.contains(c)).cloned());
    }
    d.content_types = cts.into_iter().collect();
    let accepted: BTreeSet<String> = op.security.iter().cloned().collect();
    let open = accepted.is_empty() || accepted.contains("none");
    for a in &e.auth {
        let label = a.scheme.label();
        let fits = match &a.scheme {
            crate::auth::AuthScheme::None => open,
            // A JWT is a bearer token; a spec that says `bearer` accepts it.
            crate::auth::AuthScheme::Jwt { .. } => accepted.contains("jwt") || accepted.contains("bearer"),
            crate::auth::AuthScheme::ApiKeyHeader { name } => accepted.contains(&format!("api_key_header({name})")),
            _ => accepted.contains(&label),
        };
        if !fits {
            d.auth.push(label);
        }
    }
    for p in op.params.iter().filter(|p| p.required && p.location == "query") {
        let seen = e.query_params.get(&p.name).map_or(0, |q| q.count);
        if seen < e.hits {
            d.missing_required.push(p.name.clone());
        }
    }
    d
}

/// Spec operations that no endpoint matches: (host it covers or `*`, spec name, operation).
pub fn orphans<'a>(specs: &'a [Spec], endpoints: &[Endpoint]) -> Vec<(String, &'a Spec, &'a SpecOperation)> {
    let mut out = Vec::new();
    for spec in specs {
        let host = spec.hosts.first().cloned().unwrap_or_else(|| "*".to_string());
        for op in &spec.operations {
            let used = endpoints.iter().any(|e| {
                spec.covers(&e.host)
                    && find_operation(std::slice::from_ref(spec), &e.host, &e.method, &e.path)
                        .is_some_and(|(_, o)| o == op)
            });
            if !used {
                // Listed once, under the first host the spec names (`*`: every host).
                out.push((host.clone(), spec, op));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
