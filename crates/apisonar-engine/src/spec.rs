//! API specifications: OpenAPI 3.0 and 3.1 (YAML or JSON) and Swagger 2.0, reduced to what
//! posture analysis needs: which operations exist on which hosts, and what each documents.
//!
//! Specs are untrusted input too: size, nesting and `$ref` chains are bounded, `$ref` cycles are
//! cut, and every error names the place in the document.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::template::{normalize_template, split_path};

/// Largest spec accepted, in bytes.
pub const MAX_SPEC_BYTES: usize = 32 * 1024 * 1024;
/// Most operations kept from one spec.
const MAX_OPERATIONS: usize = 50_000;
/// Longest `$ref` chain followed.
const MAX_REF_DEPTH: usize = 32;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Why a spec was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// Where in the document: `line 3 column 7`, or a path such as `paths./users.get.responses`.
    pub place: String,
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

impl std::error::Error for SpecError {}

fn err(place: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError { place: place.into(), message: message.into() }
}

/// A documented parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecParam {
    pub name: String,
    /// `path`, `query`, `header`, `cookie`, `formData`.
    pub location: String,
    pub required: bool,
}

/// One documented operation, its path already under the spec's base path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecOperation {
    pub method: String,
    pub path: String,
    pub deprecated: bool,
    pub params: Vec<SpecParam>,
    pub request_content_types: Vec<String>,
    /// Top-level request body fields; `None` when the schema does not say (free-form).
    pub request_fields: Option<BTreeSet<String>>,
    /// Response status keys as written: `200`, `4XX`, `default`.
    pub responses: Vec<String>,
    pub response_content_types: Vec<String>,
    /// Top-level fields of successful responses; `None` when the schema does not say.
    pub response_fields: Option<BTreeSet<String>>,
    /// Accepted auth, as inventory labels (`basic`, `bearer`, `api_key_header(x-api-key)`, ...);
    /// an empty list means no authentication.
    pub security: Vec<String>,
}

/// A parsed spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// Where it came from (file name), used to name it in lists and errors.
    pub name: String,
    pub title: String,
    /// `openapi 3.1.0`, `swagger 2.0`.
    pub format: String,
    /// Hosts it covers (from `servers` or `host`, or given explicitly); empty = every host.
    pub hosts: Vec<String>,
    pub operations: Vec<SpecOperation>,
}

impl Spec {
    /// True when this spec covers traffic of `host`.
    pub fn covers(&self, host: &str) -> bool {
        self.hosts.is_empty() || self.hosts.iter().any(|h| same_host(h, host))
    }
}

/// Hosts compare without case and without a default port.
pub fn same_host(a: &str, b: &str) -> bool {
    let strip = |h: &str| {
        let h = h.to_ascii_lowercase();
        h.strip_suffix(":80").or_else(|| h.strip_suffix(":443")).map(str::to_string).unwrap_or(h)
    };
    strip(a) == strip(b)
}

/// Parses a spec document (JSON or YAML).
pub fn parse(name: &str, text: &str) -> Result<Spec, SpecError> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(err("document", format!("larger than {} MiB", MAX_SPEC_BYTES / (1024 * 1024))));
    }
    let root: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map_err(|e| err(format!("line {} column {}", e.line(), e.column()), e.to_string()))?
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            let place =
                e.location().map(|l| format!("line {} column {}", l.line(), l.column())).unwrap_or("document".into());
            err(place, e.to_string())
        })?
    };
    let Some(obj) = root.as_object() else {
        return Err(err("document", "not an object: a spec starts with `openapi:` or `swagger:`"));
    };
    let (format, swagger) = match (obj.get("openapi"), obj.get("swagger")) {
        (Some(Value::String(v)), _) if v.starts_with("3.") => (format!("openapi {v}"), false),
        (_, Some(Value::String(v))) if v == "2.0" => ("swagger 2.0".to_string(), true),
        (Some(v), _) => return Err(err("openapi", format!("unsupported version {v} (3.0 and 3.1 are)"))),
        (_, Some(v)) => return Err(err("swagger", format!("unsupported version {v} (2.0 is)"))),
        _ => return Err(err("document", "neither `openapi` nor `swagger` is set")),
    };
    let title = root.pointer("/info/title").and_then(Value::as_str).unwrap_or(name).chars().take(200).collect();
    let (hosts, bases) = if swagger { swagger_servers(&root) } else { openapi_servers(&root)? };
    let schemes = security_schemes(&root, swagger);
    let global_security = root.get("security").map(|s| security_labels(s, &schemes));
    let paths = match root.get("paths") {
        Some(Value::Object(p)) => p,
        Some(_) => return Err(err("paths", "must be an object")),
        None => return Err(err("paths", "missing")),
    };
    let mut operations = Vec::new();
    for (path, item) in paths {
        let place = format!("paths.{path}");
        if !path.starts_with('/') {
            return Err(err(place, "a path must start with '/'"));
        }
        let item = resolve(&root, item, &place)?;
        let Some(item) = item.as_object() else { return Err(err(place, "a path item must be an object")) };
        let shared_params = item.get("parameters");
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let op_place = format!("{place}.{method}");
            let op = resolve(&root, op, &op_place)?;
            if !op.is_object() {
                return Err(err(op_place, "an operation must be an object"));
            }
            for base in &bases {
                if operations.len() >= MAX_OPERATIONS {
                    return Err(err("paths", format!("more than {MAX_OPERATIONS} operations")));
                }
                let full = normalize_template(&format!("{base}/{path}"));
                operations.push(operation(
                    &root,
                    op,
                    shared_params,
                    method,
                    full,
                    swagger,
                    &schemes,
                    global_security.as_ref(),
                    &op_place,
                )?);
            }
        }
    }
    operations.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    operations.dedup_by(|a, b| a.path == b.path && a.method == b.method);
    Ok(Spec { name: name.to_string(), title, format, hosts, operations })
}

/// Follows `$ref` (local JSON pointers only) up to `MAX_REF_DEPTH` links; a cycle is an error.
fn resolve<'a>(root: &'a Value, v: &'a Value, place: &str) -> Result<&'a Value, SpecError> {
    let mut current = v;
    let mut seen = BTreeSet::new();
    for _ in 0..MAX_REF_DEPTH {
        let Some(r) = current.get("$ref").and_then(Value::as_str) else { return Ok(current) };
        let Some(pointer) = r.strip_prefix('#') else {
            return Err(err(place, format!("external $ref {r:?} is not supported: bundle the spec into one file")));
        };
        if !seen.insert(pointer.to_string()) {
            return Err(err(place, format!("$ref cycle through {r:?}")));
        }
        current = root.pointer(pointer).ok_or_else(|| err(place, format!("$ref {r:?} points nowhere")))?;
    }
    Err(err(place, format!("$ref chain longer than {MAX_REF_DEPTH}")))
}

/// Top-level property names of a schema, through `$ref`, `allOf`, `oneOf`, `anyOf` and array
/// items; `None` when the schema does not list them. Recursive schemas are cut.
fn schema_fields(root: &Value, schema: &Value, depth: usize) -> Option<BTreeSet<String>> {
    if depth > MAX_REF_DEPTH {
        return None;
    }
    let schema = resolve(root, schema, "schema").ok()?;
    let mut out: Option<BTreeSet<String>> = None;
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        out.get_or_insert_with(BTreeSet::new).extend(props.keys().cloned());
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        for part in schema.get(combinator).and_then(Value::as_array).into_iter().flatten() {
            if let Some(fields) = schema_fields(root, part, depth + 1) {
                out.get_or_insert_with(BTreeSet::new).extend(fields);
            }
        }
    }
    if let Some(items) = schema.get("items") {
        if let Some(fields) = schema_fields(root, items, depth + 1) {
            out.get_or_insert_with(BTreeSet::new).extend(fields);
        }
    }
    // Free-form objects document no field list.
    if schema.get("additionalProperties").is_some_and(|a| a != &Value::Bool(false)) && out.is_none() {
        return None;
    }
    out
}

fn url_host_and_base(url: &str) -> (Option<String>, String) {
    let (rest, has_scheme) = match url.split_once("://") {
        Some((_, rest)) => (rest, true),
        None => (url, false),
    };
    if has_scheme || url.starts_with("//") {
        let rest = rest.trim_start_matches('/');
        let (authority, path) =
            rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, String::new()));
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        (Some(authority.to_ascii_lowercase()).filter(|a| !a.is_empty()), path)
    } else {
        (None, url.to_string())
    }
}

fn openapi_servers(root: &Value) -> Result<(Vec<String>, Vec<String>), SpecError> {
    let mut hosts = BTreeSet::new();
    let mut bases = BTreeSet::new();
    for (i, server) in root.get("servers").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let Some(mut url) = server.get("url").and_then(Value::as_str).map(str::to_string) else {
            return Err(err(format!("servers[{i}].url"), "missing"));
        };
        // Server variables take their defaults.
        for (name, var) in server.get("variables").and_then(Value::as_object).into_iter().flatten() {
            let default = var.get("default").and_then(Value::as_str).unwrap_or_default();
            url = url.replace(&format!("{{{name}}}"), default);
        }
        let (host, base) = url_host_and_base(&url);
        if let Some(h) = host.filter(|h| !h.contains('{')) {
            hosts.insert(h);
        }
        bases.insert(normalize_template(&base));
    }
    if bases.is_empty() {
        bases.insert(String::from("/"));
    }
    Ok((hosts.into_iter().collect(), bases.into_iter().map(|b| if b == "/" { String::new() } else { b }).collect()))
}

fn swagger_servers(root: &Value) -> (Vec<String>, Vec<String>) {
    let hosts = root.get("host").and_then(Value::as_str).map(|h| vec![h.to_ascii_lowercase()]).unwrap_or_default();
    let base = root.get("basePath").and_then(Value::as_str).map(normalize_template).unwrap_or_default();
    (hosts, vec![if base == "/" { String::new() } else { base }])
}

/// Security scheme name -> inventory label.
fn security_schemes(root: &Value, swagger: bool) -> BTreeMap<String, String> {
    let defs = if swagger { root.get("securityDefinitions") } else { root.pointer("/components/securitySchemes") };
    let mut out = BTreeMap::new();
    for (name, def) in defs.and_then(Value::as_object).into_iter().flatten() {
        let Ok(def) = resolve(root, def, "securitySchemes") else { continue };
        let kind = def.get("type").and_then(Value::as_str).unwrap_or_default();
        let label = match kind {
            "http" => match def.get("scheme").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase().as_str()
            {
                "basic" => "basic".to_string(),
                "bearer"
                    if def
                        .get("bearerFormat")
                        .and_then(Value::as_str)
                        .is_some_and(|f| f.eq_ignore_ascii_case("jwt")) =>
                {
                    "jwt".to_string()
                }
                "bearer" => "bearer".to_string(),
                other => format!("other({other})"),
            },
            "basic" => "basic".to_string(),
            "apiKey" => {
                let param = def.get("name").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
                match def.get("in").and_then(Value::as_str).unwrap_or_default() {
                    "header" => format!("api_key_header({param})"),
                    "query" => format!("api_key_query({param})"),
                    "cookie" => format!("session_cookie({param})"),
                    _ => "api_key".to_string(),
                }
            }
            "oauth2" | "openIdConnect" => "bearer".to_string(),
            "mutualTLS" => "mtls".to_string(),
            other => format!("other({other})"),
        };
        out.insert(name.clone(), label);
    }
    out
}

fn security_labels(requirements: &Value, schemes: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for req in requirements.as_array().into_iter().flatten() {
        match req.as_object() {
            Some(o) if o.is_empty() => {
                out.insert("none".to_string());
            }
            Some(o) => {
                for name in o.keys() {
                    out.insert(schemes.get(name).cloned().unwrap_or_else(|| format!("other({name})")));
                }
            }
            None => {}
        }
    }
    out.into_iter().collect()
}

fn main_type(ct: &str) -> String {
    ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

#[allow(clippy::too_many_arguments)]
fn operation(
    root: &Value,
    op: &Value,
    shared_params: Option<&Value>,
    method: &str,
    path: String,
    swagger: bool,
    schemes: &BTreeMap<String, String>,
    global_security: Option<&Vec<String>>,
    place: &str,
) -> Result<SpecOperation, SpecError> {
    let mut params: Vec<SpecParam> = Vec::new();
    let mut request_fields = None;
    let mut request_content_types: BTreeSet<String> = BTreeSet::new();
    let lists = [shared_params, op.get("parameters")];
    for (i, p) in lists.iter().flatten().flat_map(|l| l.as_array().into_iter().flatten()).enumerate() {
        let p_place = format!("{place}.parameters[{i}]");
        let p = resolve(root, p, &p_place)?;
        let (Some(name), Some(location)) = (p.get("name").and_then(Value::as_str), p.get("in").and_then(Value::as_str))
        else {
            return Err(err(p_place, "a parameter needs `name` and `in`"));
        };
        if swagger && location == "body" {
            if let Some(schema) = p.get("schema") {
                request_fields = schema_fields(root, schema, 0);
            }
            continue;
        }
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(location == "path");
        // Operation-level parameters override path-level ones of the same name and location.
        params.retain(|q| !(q.name == name && q.location == location));
        params.push(SpecParam { name: name.to_string(), location: location.to_string(), required });
    }
    if swagger {
        for ct in op.get("consumes").or_else(|| root.get("consumes")).and_then(Value::as_array).into_iter().flatten() {
            if let Some(ct) = ct.as_str() {
                request_content_types.insert(main_type(ct));
            }
        }
    } else if let Some(body) = op.get("requestBody") {
        let body = resolve(root, body, &format!("{place}.requestBody"))?;
        for (ct, media) in body.get("content").and_then(Value::as_object).into_iter().flatten() {
            request_content_types.insert(main_type(ct));
            if let Some(schema) = media.get("schema") {
                if let Some(fields) = schema_fields(root, schema, 0) {
                    request_fields.get_or_insert_with(BTreeSet::new).extend(fields);
                }
            }
        }
    }
    let mut responses = Vec::new();
    let mut response_content_types: BTreeSet<String> = BTreeSet::new();
    let mut response_fields: Option<BTreeSet<String>> = None;
    let Some(resp) = op.get("responses").map(|r| resolve(root, r, &format!("{place}.responses"))).transpose()? else {
        return Err(err(format!("{place}.responses"), "missing"));
    };
    for (status, r) in resp.as_object().into_iter().flatten() {
        responses.push(status.clone());
        let r = resolve(root, r, &format!("{place}.responses.{status}"))?;
        let success = status.starts_with('2') || status == "default";
        if swagger {
            for ct in
                op.get("produces").or_else(|| root.get("produces")).and_then(Value::as_array).into_iter().flatten()
            {
                if let Some(ct) = ct.as_str() {
                    response_content_types.insert(main_type(ct));
                }
            }
            if let (true, Some(schema)) = (success, r.get("schema")) {
                if let Some(fields) = schema_fields(root, schema, 0) {
                    response_fields.get_or_insert_with(BTreeSet::new).extend(fields);
                }
            }
        } else {
            for (ct, media) in r.get("content").and_then(Value::as_object).into_iter().flatten() {
                response_content_types.insert(main_type(ct));
                if let (true, Some(schema)) = (success, media.get("schema")) {
                    if let Some(fields) = schema_fields(root, schema, 0) {
                        response_fields.get_or_insert_with(BTreeSet::new).extend(fields);
                    }
                }
            }
        }
    }
    let security = match op.get("security") {
        Some(s) => security_labels(s, schemes),
        None => global_security.cloned().unwrap_or_default(),
    };
    Ok(SpecOperation {
        method: method.to_ascii_uppercase(),
        path,
        deprecated: op.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
        params,
        request_content_types: request_content_types.into_iter().collect(),
        request_fields,
        responses,
        response_content_types: response_content_types.into_iter().collect(),
        response_fields,
        security,
    })
}

/// True when `template` (an observed endpoint template) is an instance of `spec_path`: literal
/// segments equal, a spec parameter standing for anything.
pub fn path_fits(spec_path: &str, template: &str) -> bool {
    let (a, b) = (split_path(spec_path), split_path(template));
    a.len() == b.len() && a.iter().zip(&b).all(|(s, t)| s.starts_with('{') || s == t)
}

#[cfg(test)]
mod tests;
