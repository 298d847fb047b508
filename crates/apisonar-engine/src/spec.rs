//! API specifications: OpenAPI 3.0 and 3.1 (YAML or JSON) and Swagger 2.0, reduced to what
//! posture analysis needs: which operations exist on which hosts, and what each documents.
//!
//! Specs are untrusted input too: size, nesting, YAML aliases (see `yaml`) and `$ref` chains are
//! bounded, `$ref` cycles are cut, and every error names the place in the document. All the work
//! a spec causes after parsing (`$ref` links followed, schema nodes visited, fields collected,
//! operations built) is counted against [`MAX_SCHEMA_NODES`], a deterministic time budget: this
//! crate reads no clock.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::template::{normalize_template, split_path};

pub mod graphql;
mod yaml;

pub use yaml::{yaml_documents, MAX_YAML_COPIED_NODES, MAX_YAML_DEPTH};

/// Largest spec accepted, in MiB.
const MAX_SPEC_MIB: usize = 32;
/// Largest spec accepted, in bytes.
pub const MAX_SPEC_BYTES: usize = MAX_SPEC_MIB * 1024 * 1024;
/// Most operations kept from one spec.
const MAX_OPERATIONS: usize = 50_000;
/// Longest `$ref` chain followed.
const MAX_REF_DEPTH: usize = 32;
/// Most work units one spec may cost: one per schema node visited, `$ref` link followed, field
/// name collected, and per parameter, response and field of each operation built (long `$ref`s
/// and server URLs count one more per 64 bytes). GitHub's 13 MB spec takes 55,000, the specs
/// under captures/apis about 1,000; `allOf` explosions that would take billions are refused.
pub const MAX_SCHEMA_NODES: usize = 4_000_000;
/// Longest server URL after its variables are substituted.
const MAX_URL_BYTES: usize = 4096;

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
    /// A GraphQL SDL: the root fields its schema offers (no HTTP operations then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql: Option<graphql::GraphqlRoots>,
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
///
/// Pure CPU work, bounded for any input: at most [`MAX_SPEC_BYTES`] of text nested at most
/// [`MAX_YAML_DEPTH`] deep, at most [`MAX_YAML_COPIED_NODES`] copied by YAML aliases and at most
/// [`MAX_SCHEMA_NODES`] units of `$ref` and schema expansion; past a bound the spec is refused
/// with a [`SpecError`] naming the place. Being deterministic, it can run on a blocking thread
/// with a timeout as a second guard (the dashboard does).
pub fn parse(name: &str, text: &str) -> Result<Spec, SpecError> {
    parse_metered(name, text, MAX_SCHEMA_NODES).map(|(spec, _)| spec)
}

/// [`parse`] with the work budget given; answers the work spent too.
fn parse_metered(name: &str, text: &str, budget: usize) -> Result<(Spec, usize), SpecError> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(err("document", format!("larger than {MAX_SPEC_MIB} MiB")));
    }
    if graphql::looks_like_sdl(name, text) {
        return graphql::parse(name, text).map(|spec| (spec, 0));
    }
    let root: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map_err(|e| err(format!("line {} column {}", e.line(), e.column()), e.to_string()))?
    } else {
        yaml::yaml_document(text)?
    };
    let Some(obj) = root.as_object() else {
        return Err(err("document", "not an object: a spec starts with `openapi:` or `swagger:`"));
    };
    let (format, swagger) = match (obj.get("openapi"), obj.get("swagger")) {
        (Some(Value::String(v)), _) if v.starts_with("3.") => (format!("openapi {v}"), false),
        (_, Some(Value::String(v))) if v == "2.0" => ("swagger 2.0".to_string(), true),
        (Some(v), _) => return Err(err("openapi", format!("unsupported version {} (3.0 and 3.1 are)", describe(v)))),
        (_, Some(v)) => return Err(err("swagger", format!("unsupported version {} (2.0 is)", describe(v)))),
        _ => return Err(err("document", "neither `openapi` nor `swagger` is set")),
    };
    let title = root.pointer("/info/title").and_then(Value::as_str).unwrap_or(name).chars().take(200).collect();
    let mut walk = Walk::new(&root, budget);
    let (hosts, bases) = if swagger { swagger_servers(&root) } else { openapi_servers(&mut walk)? };
    let schemes = security_schemes(&mut walk, swagger)?;
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
        let item = walk.resolve(item, &place)?;
        let Some(item) = item.as_object() else { return Err(err(place, "a path item must be an object")) };
        let shared_params = item.get("parameters");
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let op_place = format!("{place}.{method}");
            let op = walk.resolve(op, &op_place)?;
            if !op.is_object() {
                return Err(err(op_place, "an operation must be an object"));
            }
            // Built once, copied under each base path.
            let built = operation(
                &mut walk,
                op,
                shared_params,
                method,
                swagger,
                &schemes,
                global_security.as_ref(),
                &op_place,
            )?;
            for base in &bases {
                if operations.len() >= MAX_OPERATIONS {
                    return Err(err("paths", format!("more than {MAX_OPERATIONS} operations")));
                }
                walk.charge(built.weight(), &op_place)?;
                operations.push(SpecOperation { path: normalize_template(&format!("{base}/{path}")), ..built.clone() });
            }
        }
    }
    operations.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    operations.dedup_by(|a, b| a.path == b.path && a.method == b.method);
    Ok((Spec { name: name.to_string(), title, format, hosts, operations, graphql: None }, walk.spent))
}

/// A value as an error message quotes it: short, whatever its size.
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{:?}", s.chars().take(40).collect::<String>()),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// Work units for handling a string of `len` bytes: one, and one more per 64 bytes (YAML copies
/// are weighed the same way).
fn text_cost(len: usize) -> usize {
    len.checked_div(64).unwrap_or_default().saturating_add(1)
}

/// The document and the work spent on it. Every walk through `$ref`s and schemas goes through
/// here, so that one budget bounds them all.
struct Walk<'a> {
    root: &'a Value,
    budget: usize,
    spent: usize,
    /// Field sets of schemas already expanded, by the schema's address in `root` (which does not
    /// move while it is borrowed).
    fields: HashMap<*const Value, Option<BTreeSet<String>>>,
}

impl<'a> Walk<'a> {
    fn new(root: &'a Value, budget: usize) -> Self {
        Walk { root, budget, spent: 0, fields: HashMap::new() }
    }

    fn charge(&mut self, units: usize, place: &str) -> Result<(), SpecError> {
        self.spent = self.spent.saturating_add(units);
        if self.spent > self.budget {
            return Err(err(
                place,
                format!(
                    "the spec expands to more than {} schema nodes (through $ref, allOf, oneOf, anyOf)",
                    self.budget
                ),
            ));
        }
        Ok(())
    }

    /// Follows `$ref` (local JSON pointers only) up to `MAX_REF_DEPTH` links; a cycle is an error.
    fn resolve(&mut self, v: &'a Value, place: &str) -> Result<&'a Value, SpecError> {
        self.follow(v, place)?
    }

    /// [`Walk::resolve`] with its two kinds of error apart: the outer one is the budget, which
    /// ends the parse; the inner one a broken reference, which a schema walk skips.
    fn follow(&mut self, v: &'a Value, place: &str) -> Result<Result<&'a Value, SpecError>, SpecError> {
        let mut current = v;
        let mut seen: Vec<*const Value> = Vec::new();
        for _ in 0..MAX_REF_DEPTH {
            let Some(r) = current.get("$ref").and_then(Value::as_str) else { return Ok(Ok(current)) };
            self.charge(text_cost(r.len()), place)?;
            let Some(pointer) = r.strip_prefix('#') else {
                return Ok(Err(err(
                    place,
                    format!("external $ref {r:?} is not supported: bundle the spec into one file"),
                )));
            };
            let Some(target) = self.root.pointer(pointer) else {
                return Ok(Err(err(place, format!("$ref {r:?} points nowhere"))));
            };
            let address = std::ptr::from_ref(target);
            if seen.contains(&address) {
                return Ok(Err(err(place, format!("$ref cycle through {r:?}"))));
            }
            seen.push(address);
            current = target;
        }
        Ok(Err(err(place, format!("$ref chain longer than {MAX_REF_DEPTH}"))))
    }

    /// Top-level property names of a schema, through `$ref`, `allOf`, `oneOf`, `anyOf` and array
    /// items: the union over every schema reachable that way, each visited once (so recursive
    /// schemas are cut); `None` when none of them lists properties. Memoised per schema, so a
    /// schema that many operations share, or that `allOf` reaches twice, costs its expansion once.
    fn schema_fields(&mut self, schema: &'a Value, place: &str) -> Result<Option<BTreeSet<String>>, SpecError> {
        let Ok(start) = self.follow(schema, place)? else { return Ok(None) };
        let key = std::ptr::from_ref(start);
        if let Some(known) = self.fields.get(&key) {
            let cost = known.as_ref().map_or(0, BTreeSet::len).saturating_add(1);
            self.charge(cost, place)?;
            return Ok(self.fields.get(&key).cloned().flatten());
        }
        let mut seen = HashSet::from([key]);
        let mut todo = vec![start];
        let mut out: Option<BTreeSet<String>> = None;
        while let Some(node) = todo.pop() {
            self.charge(1, place)?;
            if let Some(props) = node.get("properties").and_then(Value::as_object) {
                self.charge(props.len(), place)?;
                out.get_or_insert_with(BTreeSet::new).extend(props.keys().cloned());
            }
            let parts = ["allOf", "oneOf", "anyOf"]
                .into_iter()
                .flat_map(|c| node.get(c).and_then(Value::as_array).into_iter().flatten())
                .chain(node.get("items"));
            for part in parts {
                if let Ok(part) = self.follow(part, place)? {
                    if seen.insert(std::ptr::from_ref(part)) {
                        todo.push(part);
                    }
                }
            }
        }
        self.fields.insert(key, out.clone());
        Ok(out)
    }
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

fn openapi_servers(walk: &mut Walk<'_>) -> Result<(Vec<String>, Vec<String>), SpecError> {
    let mut hosts = BTreeSet::new();
    let mut bases = BTreeSet::new();
    for (i, server) in walk.root.get("servers").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let place = format!("servers[{i}].url");
        let Some(mut url) = server.get("url").and_then(Value::as_str).map(str::to_string) else {
            return Err(err(place, "missing"));
        };
        // Server variables take their defaults. A default may name another variable, so each
        // substitution can multiply the length: it is bounded after each one.
        for (name, var) in server.get("variables").and_then(Value::as_object).into_iter().flatten() {
            walk.charge(text_cost(url.len()), &place)?;
            let default = var.get("default").and_then(Value::as_str).unwrap_or_default();
            url = url.replace(&format!("{{{name}}}"), default);
            if url.len() > MAX_URL_BYTES {
                return Err(err(
                    place,
                    format!("longer than {MAX_URL_BYTES} bytes once its variables are substituted"),
                ));
            }
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
fn security_schemes(walk: &mut Walk<'_>, swagger: bool) -> Result<BTreeMap<String, String>, SpecError> {
    let root = walk.root;
    let defs = if swagger { root.get("securityDefinitions") } else { root.pointer("/components/securitySchemes") };
    let mut out = BTreeMap::new();
    for (name, def) in defs.and_then(Value::as_object).into_iter().flatten() {
        let Ok(def) = walk.follow(def, "securitySchemes")? else { continue };
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
    Ok(out)
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

impl SpecOperation {
    /// What one more copy of this operation costs, in work units.
    fn weight(&self) -> usize {
        [
            self.params.len(),
            self.request_content_types.len(),
            self.request_fields.as_ref().map_or(0, BTreeSet::len),
            self.responses.len(),
            self.response_content_types.len(),
            self.response_fields.as_ref().map_or(0, BTreeSet::len),
            self.security.len(),
        ]
        .into_iter()
        .fold(1, usize::saturating_add)
    }
}

/// One operation, its `path` left empty for the caller to fill in.
#[allow(clippy::too_many_arguments)]
fn operation<'a>(
    walk: &mut Walk<'a>,
    op: &'a Value,
    shared_params: Option<&'a Value>,
    method: &str,
    swagger: bool,
    schemes: &BTreeMap<String, String>,
    global_security: Option<&Vec<String>>,
    place: &str,
) -> Result<SpecOperation, SpecError> {
    let root = walk.root;
    let mut params: Vec<SpecParam> = Vec::new();
    let mut request_fields = None;
    let mut request_content_types: BTreeSet<String> = BTreeSet::new();
    let lists = [shared_params, op.get("parameters")];
    for (i, p) in lists.iter().flatten().flat_map(|l| l.as_array().into_iter().flatten()).enumerate() {
        let p_place = format!("{place}.parameters[{i}]");
        walk.charge(1, &p_place)?;
        let p = walk.resolve(p, &p_place)?;
        let (Some(name), Some(location)) = (p.get("name").and_then(Value::as_str), p.get("in").and_then(Value::as_str))
        else {
            return Err(err(p_place, "a parameter needs `name` and `in`"));
        };
        if swagger && location == "body" {
            if let Some(schema) = p.get("schema") {
                request_fields = walk.schema_fields(schema, &p_place)?;
            }
            continue;
        }
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(location == "path");
        params.push(SpecParam { name: name.to_string(), location: location.to_string(), required });
    }
    // Operation-level parameters override path-level ones of the same name and location: the
    // last of each stays, in the order of those last ones (one pass, however many there are).
    let mut kept = HashSet::new();
    let mut params: Vec<SpecParam> =
        params.into_iter().rev().filter(|p| kept.insert((p.name.clone(), p.location.clone()))).collect();
    params.reverse();
    if swagger {
        for ct in op.get("consumes").or_else(|| root.get("consumes")).and_then(Value::as_array).into_iter().flatten() {
            if let Some(ct) = ct.as_str() {
                walk.charge(1, place)?;
                request_content_types.insert(main_type(ct));
            }
        }
    } else if let Some(body) = op.get("requestBody") {
        let body_place = format!("{place}.requestBody");
        let body = walk.resolve(body, &body_place)?;
        for (ct, media) in body.get("content").and_then(Value::as_object).into_iter().flatten() {
            walk.charge(1, &body_place)?;
            request_content_types.insert(main_type(ct));
            if let Some(schema) = media.get("schema") {
                if let Some(fields) = walk.schema_fields(schema, &body_place)? {
                    request_fields.get_or_insert_with(BTreeSet::new).extend(fields);
                }
            }
        }
    }
    let mut responses = Vec::new();
    let mut response_content_types: BTreeSet<String> = BTreeSet::new();
    let mut response_fields: Option<BTreeSet<String>> = None;
    let responses_place = format!("{place}.responses");
    let Some(resp) = op.get("responses") else { return Err(err(responses_place, "missing")) };
    let resp = walk.resolve(resp, &responses_place)?;
    for (status, r) in resp.as_object().into_iter().flatten() {
        let r_place = format!("{responses_place}.{status}");
        walk.charge(1, &r_place)?;
        responses.push(status.clone());
        let r = walk.resolve(r, &r_place)?;
        let success = status.starts_with('2') || status == "default";
        if swagger {
            if let (true, Some(schema)) = (success, r.get("schema")) {
                if let Some(fields) = walk.schema_fields(schema, &r_place)? {
                    response_fields.get_or_insert_with(BTreeSet::new).extend(fields);
                }
            }
        } else {
            for (ct, media) in r.get("content").and_then(Value::as_object).into_iter().flatten() {
                walk.charge(1, &r_place)?;
                response_content_types.insert(main_type(ct));
                if let (true, Some(schema)) = (success, media.get("schema")) {
                    if let Some(fields) = walk.schema_fields(schema, &r_place)? {
                        response_fields.get_or_insert_with(BTreeSet::new).extend(fields);
                    }
                }
            }
        }
    }
    // Swagger's `produces` holds for every response: read once, when there is one.
    if swagger && !responses.is_empty() {
        for ct in op.get("produces").or_else(|| root.get("produces")).and_then(Value::as_array).into_iter().flatten() {
            if let Some(ct) = ct.as_str() {
                walk.charge(1, &responses_place)?;
                response_content_types.insert(main_type(ct));
            }
        }
    }
    let security = match op.get("security") {
        Some(s) => security_labels(s, schemes),
        None => global_security.cloned().unwrap_or_default(),
    };
    Ok(SpecOperation {
        method: method.to_ascii_uppercase(),
        path: String::new(),
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
