//! OpenAPI 3.1 documents from the catalog: one per host, with paths, operations, parameters,
//! request bodies and responses with the inferred schemas, and security schemes. Written to read
//! well in the tools people open them with (Redocly's and Spectral's rule sets): every operation
//! has a tag (from its path), an id, a summary and a description of what was observed, and a
//! security requirement (`[]` where no credentials were seen).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::auth::AuthScheme;
use crate::catalog::Endpoint;
use crate::params::ParamInfo;
use crate::schema::Schema;
use crate::stats::add_count;

/// JSON Schema (2020-12, as OpenAPI 3.1 uses it) for an inferred schema.
pub fn json_schema(s: &Schema) -> Value {
    let mut out = Map::new();
    let types: Vec<&str> = s.types.keys().collect();
    // "integer" is a subset of "number": a field seen as both is a number.
    let types: Vec<&str> =
        if types.contains(&"number") { types.into_iter().filter(|t| *t != "integer").collect() } else { types };
    match types.as_slice() {
        [] => {}
        [one] => {
            out.insert("type".into(), json!(one));
        }
        many => {
            out.insert("type".into(), json!(many));
        }
    }
    if let Some(f) = s.format() {
        out.insert("format".into(), json!(f.as_str()));
    }
    if !s.properties.is_empty() {
        let props: Map<String, Value> = s.properties.iter().map(|(k, v)| (k.clone(), json_schema(v))).collect();
        out.insert("properties".into(), Value::Object(props));
        let required = s.required();
        if !required.is_empty() {
            out.insert("required".into(), json!(required));
        }
    }
    if let Some(items) = &s.items {
        out.insert("items".into(), json_schema(items));
    }
    Value::Object(out)
}

fn param_schema(p: &ParamInfo) -> Value {
    match p.dominant_type() {
        t @ ("integer" | "number" | "boolean") => json!({ "type": t }),
        f @ ("uuid" | "email" | "date" | "date-time" | "uri" | "ipv4" | "ipv6") => {
            json!({ "type": "string", "format": f })
        }
        _ => json!({ "type": "string" }),
    }
}

fn path_param_schema(p: &ParamInfo) -> Value {
    let kinds: Vec<&str> = p.types.keys().map(String::as_str).collect();
    match kinds.as_slice() {
        ["integer"] => json!({ "type": "integer" }),
        ["uuid"] => json!({ "type": "string", "format": "uuid" }),
        ["email"] => json!({ "type": "string", "format": "email" }),
        ["date"] => json!({ "type": "string", "format": "date" }),
        _ => json!({ "type": "string" }),
    }
}

/// A name made from text seen in traffic, `prefix` first: only `[A-Za-z0-9._-]` kept (the rest
/// becomes `_`), at most 64 characters of it. OpenAPI components keys allow no more, and Postman
/// reads `{{...}}` variables up to a `}`.
pub(crate) fn plain_name(prefix: &str, name: &str) -> String {
    let mut out = String::from(prefix);
    out.extend(name.chars().take(64).map(|c| {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
            c
        } else {
            '_'
        }
    }));
    out
}

/// Name and OpenAPI definition of the security scheme for an auth scheme (`None` for no auth).
fn security_scheme(a: &AuthScheme) -> Option<(String, Value)> {
    Some(match a {
        AuthScheme::None => return None,
        AuthScheme::Basic => ("basicAuth".into(), json!({ "type": "http", "scheme": "basic" })),
        AuthScheme::Bearer => ("bearerAuth".into(), json!({ "type": "http", "scheme": "bearer" })),
        AuthScheme::Jwt { .. } => {
            ("bearerJwt".into(), json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }))
        }
        AuthScheme::ApiKeyHeader { name } => {
            (plain_name("apiKeyHeader_", name), json!({ "type": "apiKey", "in": "header", "name": name }))
        }
        AuthScheme::ApiKeyQuery { name } => {
            (plain_name("apiKeyQuery_", name), json!({ "type": "apiKey", "in": "query", "name": name }))
        }
        AuthScheme::SessionCookie { name } => {
            (plain_name("cookie_", name), json!({ "type": "apiKey", "in": "cookie", "name": name }))
        }
        // Digest, NTLM, AWS4-HMAC-SHA256...: an HTTP scheme by the name the header gave.
        AuthScheme::Other { name } => {
            let scheme = name.to_ascii_lowercase();
            (plain_name("http_", &scheme), json!({ "type": "http", "scheme": scheme }))
        }
    })
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(seg.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }));
    }
    id.replace("__", "_").trim_end_matches('_').to_string()
}

/// The reason phrase an observed status is documented with.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 | 302 | 303 | 307 | 308 => "Redirect",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500..=599 => "Server Error",
        _ => "Observed response",
    }
}

/// The path as a document key, with each parameter name used once: templating can give two
/// positions of one path the same name (`/{id}/x/{id}`), which OpenAPI forbids. Returns the
/// path and, per parameter, its name in the document and in the catalog.
fn document_path(path: &str) -> (String, Vec<(String, String)>) {
    let mut params: Vec<(String, String)> = Vec::new();
    let segments: Vec<String> = path
        .split('/')
        .map(|seg| {
            let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else { return seg.to_string() };
            let mut unique = name.to_string();
            let mut n = 1u32;
            while params.iter().any(|(used, _)| *used == unique) {
                n = n.saturating_add(1);
                unique = format!("{name}{n}");
            }
            params.push((unique.clone(), name.to_string()));
            format!("{{{unique}}}")
        })
        .collect();
    (segments.join("/"), params)
}

/// The group an endpoint is listed under: the first path segment that names something, past
/// `api`, versions and parameters (`/api/v1/users/{id}` → `users`; a gRPC path's service), or
/// `root`.
pub fn tag(path: &str) -> String {
    path.split('/')
        .find(|seg| {
            let version = seg.len() > 1
                && seg.starts_with(['v', 'V'])
                && seg.bytes().skip(1).all(|b| b.is_ascii_digit() || b == b'.');
            !seg.is_empty() && !seg.starts_with('{') && !seg.eq_ignore_ascii_case("api") && !version
        })
        .map(|seg| seg.chars().take(64).collect())
        .unwrap_or_else(|| "root".into())
}

/// What the traffic showed of an endpoint, in a sentence or a few: volume, credentials,
/// transport and the classes of sensitive data (never values).
pub fn observed(e: &Endpoint) -> String {
    let mut out = format!("Observed {} times from {} clients.", e.hits, e.clients.count());
    let schemes: Vec<String> = e.auth.iter().map(|a| a.scheme.label()).collect();
    if schemes.is_empty() || schemes.iter().all(|s| s == "none") {
        out.push_str(" No credentials were seen.");
    } else {
        out.push_str(&format!(" Credentials seen: {}.", schemes.join(", ")));
    }
    if e.cleartext > 0 {
        out.push_str(&format!(" {} of the requests were unencrypted.", e.cleartext));
    }
    let classes: std::collections::BTreeSet<&str> =
        e.sensitive.values().flat_map(|f| f.classes.keys().map(|c| c.as_str())).collect();
    if !classes.is_empty() {
        out.push_str(&format!(" Sensitive data seen: {}.", classes.into_iter().collect::<Vec<_>>().join(", ")));
    }
    out
}

fn operation(e: &Endpoint, schemes: &mut BTreeMap<String, Value>, notes: &dyn Fn(&Endpoint) -> String) -> Value {
    let mut op = Map::new();
    op.insert("tags".into(), json!([tag(&e.path)]));
    op.insert("operationId".into(), json!(operation_id(&e.method, &e.path)));
    op.insert("summary".into(), json!(format!("{} {}", e.method, e.path)));
    let mut description = observed(e);
    let extra = notes(e);
    if !extra.is_empty() {
        description.push(' ');
        description.push_str(&extra);
    }
    op.insert("description".into(), json!(description));
    let mut parameters = Vec::new();
    for (name, in_catalog) in document_path(&e.path).1 {
        let schema =
            e.path_params.get(&in_catalog).map(path_param_schema).unwrap_or_else(|| json!({ "type": "string" }));
        parameters.push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
    }
    for (name, p) in &e.query_params {
        parameters.push(json!({ "name": name, "in": "query", "required": p.count >= e.hits && e.hits > 0, "schema": param_schema(p) }));
    }
    if !parameters.is_empty() {
        op.insert("parameters".into(), Value::Array(parameters));
    }
    let mut content = Map::new();
    if let Some(schema) = &e.request_schema {
        let ct =
            e.request_content_types.keys().find(|c| c.contains("json")).cloned().unwrap_or("application/json".into());
        content.insert(ct, json!({ "schema": json_schema(schema) }));
    }
    if !e.form_fields.is_empty() {
        let props: Map<String, Value> = e.form_fields.iter().map(|(k, p)| (k.clone(), param_schema(p))).collect();
        let ct = e
            .request_content_types
            .keys()
            .find(|c| c.starts_with("application/x-www-form-urlencoded") || c.starts_with("multipart/"))
            .cloned()
            .unwrap_or("application/x-www-form-urlencoded".into());
        content.insert(ct, json!({ "schema": { "type": "object", "properties": props } }));
    }
    if !content.is_empty() {
        op.insert("requestBody".into(), json!({ "content": content }));
    }
    let mut responses = Map::new();
    for status in e.status_codes.keys() {
        let mut r = Map::new();
        r.insert("description".into(), json!(reason(*status)));
        if let Some(schema) = e.response_schemas.get(status) {
            let ct = e
                .response_content_types
                .keys()
                .find(|c| c.contains("json"))
                .cloned()
                .unwrap_or("application/json".into());
            r.insert("content".into(), json!({ ct: { "schema": json_schema(schema) } }));
        }
        responses.insert(status.to_string(), Value::Object(r));
    }
    if responses.is_empty() {
        responses.insert("default".into(), json!({ "description": "No response was observed" }));
    }
    op.insert("responses".into(), Value::Object(responses));
    let mut security = Vec::new();
    let mut anonymous = false;
    for a in &e.auth {
        match security_scheme(&a.scheme) {
            Some((name, def)) => {
                schemes.insert(name.clone(), def);
                security.push(json!({ name: [] }));
            }
            None => anonymous |= a.scheme == AuthScheme::None,
        }
    }
    if !security.is_empty() && anonymous {
        // Also seen without credentials: authentication is optional.
        security.push(json!({}));
    }
    // An empty list says no credentials were seen, rather than leaving it unsaid.
    op.insert("security".into(), Value::Array(security));
    Value::Object(op)
}

/// The OpenAPI 3.1 document for the endpoints of one host.
pub fn document(host: &str, endpoints: &[&Endpoint]) -> Value {
    document_with(host, endpoints, &|_| String::new())
}

/// [`document`], with `notes` added to each operation's description (the caller knows what the
/// catalog does not: the endpoint's state against the specs, when it was seen).
pub fn document_with(host: &str, endpoints: &[&Endpoint], notes: &dyn Fn(&Endpoint) -> String) -> Value {
    let mut tags = std::collections::BTreeSet::new();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut operation_ids = std::collections::BTreeSet::new();
    let mut schemes = BTreeMap::new();
    let mut encrypted = 0u64;
    let mut cleartext = 0u64;
    for e in endpoints.iter().filter(|e| e.host == host) {
        add_count(&mut encrypted, e.encrypted);
        add_count(&mut cleartext, e.cleartext);
        let method = e.method.to_ascii_lowercase();
        if !matches!(method.as_str(), "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace") {
            continue;
        }
        tags.insert(tag(&e.path));
        let mut op = operation(e, &mut schemes, notes);
        // Ids made from paths can coincide (`/a-b` and `/a_b`); OpenAPI wants them unique.
        if let Some(id) = op.get_mut("operationId") {
            let base = id.as_str().unwrap_or("operation").to_string();
            let mut unique = base.clone();
            let mut n = 1u32;
            while !operation_ids.insert(unique.clone()) {
                n = n.saturating_add(1);
                unique = format!("{base}_{n}");
            }
            *id = json!(unique);
        }
        paths.entry(document_path(&e.path).0).or_default().insert(method, op);
    }
    let scheme = if encrypted > cleartext { "https" } else { "http" };
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("{host} (discovered)"),
            "version": "discovered",
            "description": format!(
                "The API of {host} as apisonar saw it in passive traffic: every operation here was \
                 observed, with the parameters, bodies, answers and credentials it carried. \
                 Operations that were not called are not known."
            )
        },
        "servers": [ { "url": format!("{scheme}://{host}"), "description": "as observed" } ],
        "tags": tags
            .iter()
            .map(|t| json!({ "name": t, "description": format!("Operations whose path starts with {t}") }))
            .collect::<Vec<_>>(),
        "paths": paths,
    });
    if let Some(doc) = doc.as_object_mut().filter(|_| !schemes.is_empty()) {
        doc.insert("components".into(), json!({ "securitySchemes": schemes }));
    }
    doc
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use crate::test_values::Observe;
    use crate::{Catalog, Observation, TemplateConfig};

    fn obs(method: &str, target: &str, body: &str, status: u16, resp: &str) -> Observation {
        crate::test_values::json_exchange(method, target, ("authorization", "Basic dTpw"), body, status, resp)
    }

    #[test]
    fn document_has_paths_parameters_bodies_and_security() {
        let mut c = Catalog::new(TemplateConfig::default());
        c.observe(&obs("GET", "/items/1?limit=5", "", 200, r#"{"id":1,"email":"a@b.io"}"#));
        c.observe(&obs("GET", "/items/2", "", 404, r#"{"error":"x"}"#));
        c.observe(&obs("POST", "/items", r#"{"name":"x","price":1.5}"#, 201, r#"{"id":3}"#));
        let eps: Vec<&Endpoint> = c.endpoints().collect();
        let doc = document("shop.test", &eps);
        assert_eq!(doc["openapi"], "3.1.0");
        let get = &doc["paths"]["/items/{item_id}"]["get"];
        assert_eq!(
            get["parameters"][0],
            json!({"name":"item_id","in":"path","required":true,"schema":{"type":"integer"}})
        );
        assert_eq!(get["parameters"][1]["name"], "limit");
        assert_eq!(get["parameters"][1]["required"], false);
        assert_eq!(
            get["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["email"]["format"],
            "email"
        );
        assert!(get["responses"]["404"].is_object());
        let post = &doc["paths"]["/items"]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["properties"]["price"]["type"],
            "number"
        );
        assert_eq!(post["security"], json!([{"basicAuth": []}]));
        assert_eq!(doc["components"]["securitySchemes"]["basicAuth"]["scheme"], "basic");
        assert_eq!(get["tags"], json!(["items"]));
        assert_eq!(doc["tags"][0]["name"], "items");
        assert_eq!(get["summary"], "GET /items/{item_id}");
        let described = get["description"].as_str().unwrap_or_default();
        assert!(described.starts_with("Observed 2 times from 1 clients. Credentials seen: basic."), "{described}");
        assert!(described.contains("Sensitive data seen:"), "{described}");
    }

    #[test]
    fn tags_name_the_first_segment_past_api_and_versions() {
        for (path, want) in [
            ("/api/v1/users/{user_id}", "users"),
            ("/API/V2.1/orders", "orders"),
            ("/v1", "root"),
            ("/", "root"),
            ("/{tenant}/reports", "reports"),
            ("/shop.v1.Catalog/GetItem", "shop.v1.Catalog"),
            ("/vault/keys", "vault"),
        ] {
            assert_eq!(tag(path), want, "{path}");
        }
    }

    #[test]
    fn security_is_said_even_when_none_was_seen_and_names_are_kept_valid() {
        let mut e = Endpoint { host: "h".into(), method: "GET".into(), path: "/x".into(), ..Endpoint::default() };
        e.auth.push(crate::catalog::AuthCount { scheme: AuthScheme::None, count: 3 });
        let doc = document("h", &[&e]);
        assert_eq!(doc["paths"]["/x"]["get"]["security"], json!([]));
        e.auth.push(crate::catalog::AuthCount {
            scheme: AuthScheme::Other { name: "AWS4-HMAC-SHA256 x/y".into() },
            count: 1,
        });
        let doc = document("h", &[&e]);
        assert_eq!(doc["paths"]["/x"]["get"]["security"], json!([{"http_aws4-hmac-sha256_x_y": []}, {}]));
    }

    #[test]
    fn a_parameter_name_used_twice_in_a_path_is_numbered() {
        assert_eq!(
            document_path("/a/{id}/b/{id}/{x}/{id}"),
            (
                "/a/{id}/b/{id2}/{x}/{id3}".to_string(),
                vec![
                    ("id".into(), "id".into()),
                    ("id2".into(), "id".into()),
                    ("x".into(), "x".into()),
                    ("id3".into(), "id".into())
                ]
            )
        );
        let e = Endpoint { host: "h".into(), method: "GET".into(), path: "/u/{id}/{id}".into(), ..Endpoint::default() };
        let (a, b) = (Endpoint { path: "/a-b".into(), ..e.clone() }, Endpoint { path: "/a_b".into(), ..e.clone() });
        let doc = document("h", &[&e, &a, &b]);
        let ids: std::collections::BTreeSet<&str> = doc["paths"]
            .as_object()
            .map(|p| p.values().filter_map(|item| item["get"]["operationId"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(ids.len(), 3, "{ids:?}");
        let names: Vec<&str> = doc["paths"]["/u/{id}/{id2}"]["get"]["parameters"]
            .as_array()
            .map(|p| p.iter().filter_map(|x| x["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, ["id", "id2"]);
    }
}
