//! Postman collections (format v2.1) from the catalog, for people who want to call what was
//! discovered: a folder per host (when there are several) and per tag (as in the OpenAPI
//! export), a request per endpoint with its path variables, query parameters, an example body
//! shaped like the inferred schema, the credentials it was seen with as variables to fill in
//! (never a captured value), and an example answer per status seen.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::auth::AuthScheme;
use crate::catalog::Endpoint;
use crate::openapi::{observed, plain_name, tag};
use crate::params::ParamInfo;
use crate::schema::{Format, Schema};

/// The collection format the documents follow.
pub const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// How deep an example body goes; inferred schemas are bounded too, this keeps the example so.
const MAX_EXAMPLE_DEPTH: usize = 16;

/// A value shaped like the schema: what a person edits before sending.
pub fn example(s: &Schema, depth: usize) -> Value {
    if depth >= MAX_EXAMPLE_DEPTH {
        return Value::Null;
    }
    if s.types.contains_key("object") || !s.properties.is_empty() {
        let fields: Map<String, Value> =
            s.properties.iter().map(|(k, v)| (k.clone(), example(v, depth.saturating_add(1)))).collect();
        return Value::Object(fields);
    }
    if s.types.contains_key("array") {
        return Value::Array(s.items.as_deref().map(|i| vec![example(i, depth.saturating_add(1))]).unwrap_or_default());
    }
    if s.types.contains_key("string") {
        return json!(match s.format() {
            Some(Format::Email) => "user@example.com",
            Some(Format::Uuid) => "00000000-0000-4000-8000-000000000000",
            Some(Format::DateTime) => "2026-01-01T00:00:00Z",
            Some(Format::Date) => "2026-01-01",
            Some(Format::Ipv4) => "192.0.2.1",
            Some(Format::Ipv6) => "2001:db8::1",
            Some(Format::Uri) => "https://example.com/",
            None => "",
        });
    }
    if s.types.contains_key("number") {
        return json!(0.0);
    }
    if s.types.contains_key("integer") {
        return json!(0);
    }
    if s.types.contains_key("boolean") {
        return json!(false);
    }
    Value::Null
}

fn param_example(p: &ParamInfo) -> &'static str {
    match p.dominant_type() {
        "integer" | "number" => "0",
        "boolean" => "false",
        "uuid" => "00000000-0000-4000-8000-000000000000",
        "email" => "user@example.com",
        "date" => "2026-01-01",
        _ => "",
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The credentials an endpoint was seen with, most used first, as Postman auth (or a header)
/// whose secret is a variable; the variables it uses are added to `needed`.
fn auth(e: &Endpoint, needed: &mut BTreeMap<String, String>) -> (Value, Vec<Value>) {
    let mut schemes: Vec<&crate::catalog::AuthCount> = e.auth.iter().filter(|a| a.scheme != AuthScheme::None).collect();
    schemes.sort_by_key(|a| std::cmp::Reverse(a.count));
    let mut need = |name: String, what: &str| {
        needed.entry(name.clone()).or_insert_with(|| what.to_string());
        format!("{{{{{name}}}}}")
    };
    let attr = |key: &str, value: String| json!({ "key": key, "value": value, "type": "string" });
    let Some(first) = schemes.first() else { return (json!({ "type": "noauth" }), Vec::new()) };
    match &first.scheme {
        AuthScheme::None => (json!({ "type": "noauth" }), Vec::new()),
        AuthScheme::Basic => (
            json!({ "type": "basic", "basic": [
                attr("username", need("basicUsername".into(), "user name for Basic authentication")),
                attr("password", need("basicPassword".into(), "password for Basic authentication")),
            ] }),
            Vec::new(),
        ),
        AuthScheme::Bearer | AuthScheme::Jwt { .. } => (
            json!({ "type": "bearer", "bearer": [attr("token", need("bearerToken".into(), "bearer token"))] }),
            Vec::new(),
        ),
        AuthScheme::ApiKeyHeader { name } | AuthScheme::ApiKeyQuery { name } => {
            let place = if matches!(first.scheme, AuthScheme::ApiKeyQuery { .. }) { "query" } else { "header" };
            let value = need(plain_name("apiKey_", name), &format!("API key sent in the {place} {name}"));
            (
                json!({ "type": "apikey", "apikey": [
                    attr("key", name.clone()), attr("value", value), attr("in", place.to_string()),
                ] }),
                Vec::new(),
            )
        }
        AuthScheme::SessionCookie { name } => {
            let value = need(plain_name("cookie_", name), &format!("session cookie {name}"));
            (json!({ "type": "noauth" }), vec![json!({ "key": "Cookie", "value": format!("{name}={value}") })])
        }
        AuthScheme::Other { name } => {
            let value = need(plain_name("authorization_", name), &format!("credentials of the {name} scheme"));
            (json!({ "type": "noauth" }), vec![json!({ "key": "Authorization", "value": format!("{name} {value}") })])
        }
    }
}

/// The URL object: `{{base}}` and the path, template parameters as Postman's `:name`.
fn url(e: &Endpoint, base: &str) -> Value {
    let mut variables = Vec::new();
    let path: Vec<String> = e
        .path
        .split('/')
        .skip(1)
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let value = e.path_params.get(name).map(param_example).unwrap_or("");
                variables.push(json!({ "key": name, "value": value }));
                format!(":{name}")
            }
            None => seg.to_string(),
        })
        .collect();
    let query: Vec<Value> = e
        .query_params
        .iter()
        .map(|(name, p)| {
            // Parameters not sent every time start unticked.
            let always = e.hits > 0 && p.count >= e.hits;
            json!({ "key": name, "value": param_example(p), "disabled": !always })
        })
        .collect();
    let mut raw = format!("{{{{{base}}}}}/{}", path.join("/"));
    let sent: Vec<String> = query
        .iter()
        .filter(|q| q["disabled"] == false)
        .map(|q| format!("{}={}", q["key"].as_str().unwrap_or_default(), q["value"].as_str().unwrap_or_default()))
        .collect();
    if !sent.is_empty() {
        raw.push('?');
        raw.push_str(&sent.join("&"));
    }
    let mut out = json!({ "raw": raw, "host": [format!("{{{{{base}}}}}")], "path": path });
    if let Some(o) = out.as_object_mut() {
        if !query.is_empty() {
            o.insert("query".into(), Value::Array(query));
        }
        if !variables.is_empty() {
            o.insert("variable".into(), Value::Array(variables));
        }
    }
    out
}

fn body(e: &Endpoint, headers: &mut Vec<Value>) -> Option<Value> {
    if let Some(schema) = &e.request_schema {
        let ct = e.request_content_types.keys().find(|c| c.contains("json")).cloned();
        headers.push(json!({ "key": "Content-Type", "value": ct.unwrap_or_else(|| "application/json".into()) }));
        return Some(json!({
            "mode": "raw",
            "raw": pretty(&example(schema, 0)),
            "options": { "raw": { "language": "json" } }
        }));
    }
    if e.form_fields.is_empty() {
        return None;
    }
    let multipart = e.request_content_types.keys().any(|c| c.starts_with("multipart/"));
    let fields: Vec<Value> = e
        .form_fields
        .iter()
        .map(|(k, p)| {
            if multipart {
                json!({ "key": k, "value": param_example(p), "type": "text" })
            } else {
                json!({ "key": k, "value": param_example(p) })
            }
        })
        .collect();
    Some(if multipart {
        json!({ "mode": "formdata", "formdata": fields })
    } else {
        json!({ "mode": "urlencoded", "urlencoded": fields })
    })
}

fn request_item(e: &Endpoint, base: &str, needed: &mut BTreeMap<String, String>, notes: &str) -> Value {
    let (auth, mut header) = auth(e, needed);
    let body = body(e, &mut header);
    let mut description = observed(e);
    if !notes.is_empty() {
        description.push(' ');
        description.push_str(notes);
    }
    let mut request = json!({
        "method": e.method,
        "header": header,
        "url": url(e, base),
        "auth": auth,
        "description": description,
    });
    if let (Some(o), Some(b)) = (request.as_object_mut(), body) {
        o.insert("body".into(), b);
    }
    let json_answers = e.response_content_types.keys().find(|c| c.contains("json")).cloned();
    let responses: Vec<Value> = e
        .status_codes
        .keys()
        .map(|status| {
            let schema = e.response_schemas.get(status);
            let mut r = json!({
                "name": format!("{status} (observed)"),
                "originalRequest": request.clone(),
                "code": status,
                "status": crate::openapi::reason(*status),
                "header": [],
                "body": schema.map(|s| pretty(&example(s, 0))).unwrap_or_default(),
            });
            if let (Some(o), Some(ct)) = (r.as_object_mut(), json_answers.as_ref().filter(|_| schema.is_some())) {
                o.insert("header".into(), json!([{ "key": "Content-Type", "value": ct }]));
                o.insert("_postman_previewlanguage".into(), json!("json"));
            }
            r
        })
        .collect();
    json!({ "name": format!("{} {}", e.method, e.path), "request": request, "response": responses })
}

/// Folders by tag, in tag order, each with its requests in path order.
fn folders(
    endpoints: &[&Endpoint],
    base: &str,
    needed: &mut BTreeMap<String, String>,
    notes: &dyn Fn(&Endpoint) -> String,
) -> Vec<Value> {
    let mut by_tag: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut sorted: Vec<&&Endpoint> = endpoints.iter().collect();
    sorted.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    for e in sorted {
        by_tag.entry(tag(&e.path)).or_default().push(request_item(e, base, needed, &notes(e)));
    }
    by_tag.into_iter().map(|(name, item)| json!({ "name": name, "item": item })).collect()
}

/// The collection of these endpoints, named `name`; `notes` adds to each request's description.
pub fn collection(name: &str, endpoints: &[&Endpoint], notes: &dyn Fn(&Endpoint) -> String) -> Value {
    let hosts: BTreeSet<&str> = endpoints.iter().map(|e| e.host.as_str()).collect();
    let mut needed: BTreeMap<String, String> = BTreeMap::new();
    let mut variables = Vec::new();
    let mut items = Vec::new();
    for host in &hosts {
        let mine: Vec<&Endpoint> = endpoints.iter().copied().filter(|e| e.host == *host).collect();
        let base = if hosts.len() == 1 { "baseUrl".to_string() } else { plain_name("baseUrl_", host) };
        let (encrypted, cleartext) = mine
            .iter()
            .fold((0u64, 0u64), |(enc, clear), e| (enc.saturating_add(e.encrypted), clear.saturating_add(e.cleartext)));
        let scheme = if encrypted > cleartext { "https" } else { "http" };
        variables.push(json!({ "key": base, "value": format!("{scheme}://{host}"), "type": "string" }));
        let folders = folders(&mine, &base, &mut needed, notes);
        if hosts.len() == 1 {
            items = folders;
        } else {
            items.push(json!({ "name": host, "item": folders }));
        }
    }
    for (key, what) in needed {
        variables.push(json!({
            "key": key,
            "value": "",
            "type": "string",
            "description": format!("{what}: not captured; fill it in"),
        }));
    }
    json!({
        "info": {
            "name": name,
            "schema": SCHEMA,
            "description": "Requests apisonar saw in passive traffic, with example values shaped like what was \
                            observed. Credentials are variables to fill in: no captured secret is included.",
        },
        "item": items,
        "variable": variables,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use crate::test_values::Observe;
    use crate::{Catalog, Observation, TemplateConfig};

    fn obs(method: &str, target: &str, auth: (&str, &str), body: &str, status: u16, resp: &str) -> Observation {
        crate::test_values::json_exchange(method, target, auth, body, status, resp)
    }

    #[test]
    fn requests_carry_variables_examples_and_no_captured_secret() {
        let mut c = Catalog::new(TemplateConfig::default());
        let token = ("authorization", "Bearer s3cr3t-t0ken-value");
        c.observe(&obs("GET", "/api/items/1?limit=5", token, "", 200, r#"{"id":1,"email":"a@b.io"}"#));
        c.observe(&obs("GET", "/api/items/2?limit=7", token, "", 404, r#"{"error":"x"}"#));
        c.observe(&obs("POST", "/api/items", ("x-api-key", "k-123456789"), r#"{"name":"x","n":[1]}"#, 201, "{}"));
        let eps: Vec<&Endpoint> = c.endpoints().collect();
        let doc = collection("shop.test", &eps, &|_| "shadow".into());
        let text = doc.to_string();
        assert!(!text.contains("s3cr3t") && !text.contains("k-123456789"), "{text}");
        assert_eq!(doc["info"]["schema"], SCHEMA);
        let items = doc["item"][0]["item"].as_array().cloned().unwrap_or_default();
        assert_eq!(doc["item"][0]["name"], "items");
        let get = items.iter().find(|i| i["name"] == "GET /api/items/{item_id}").cloned().unwrap_or_default();
        assert_eq!(get["request"]["url"]["raw"], "{{baseUrl}}/api/items/:item_id?limit=0");
        assert_eq!(get["request"]["url"]["variable"][0], json!({"key": "item_id", "value": "0"}));
        assert_eq!(get["request"]["auth"]["bearer"][0]["value"], "{{bearerToken}}");
        assert!(get["request"]["description"].as_str().unwrap_or_default().ends_with(" shadow"));
        let codes: Vec<&Value> =
            get["response"].as_array().map(|r| r.iter().map(|x| &x["code"]).collect()).unwrap_or_default();
        assert_eq!(codes, [&json!(200), &json!(404)]);
        let answer: Value =
            serde_json::from_str(get["response"][0]["body"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(answer, json!({"email": "user@example.com", "id": 0}));
        let post = items.iter().find(|i| i["name"] == "POST /api/items").cloned().unwrap_or_default();
        assert_eq!(post["request"]["auth"]["apikey"][1]["value"], "{{apiKey_x-api-key}}");
        let sent: Value =
            serde_json::from_str(post["request"]["body"]["raw"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(sent, json!({"n": [0], "name": ""}));
        let vars: Vec<&str> = doc["variable"]
            .as_array()
            .map(|v| v.iter().filter_map(|x| x["key"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(vars, ["baseUrl", "apiKey_x-api-key", "bearerToken"]);
    }

    #[test]
    fn several_hosts_get_a_folder_and_a_base_each() {
        let a = Endpoint { host: "a.test:8080".into(), method: "GET".into(), path: "/x".into(), ..Endpoint::default() };
        let b = Endpoint { host: "b.test".into(), ..a.clone() };
        let doc = collection("all", &[&b, &a], &|_| String::new());
        assert_eq!(doc["item"][0]["name"], "a.test:8080");
        assert_eq!(doc["item"][0]["item"][0]["item"][0]["request"]["url"]["raw"], "{{baseUrl_a.test_8080}}/x");
        assert_eq!(doc["variable"][1], json!({"key": "baseUrl_b.test", "value": "http://b.test", "type": "string"}));
    }

    #[test]
    fn examples_stop_at_their_depth() {
        let mut s = Schema::default();
        s.types.add("string", 1);
        for _ in 0..40 {
            let mut outer = Schema::default();
            outer.types.add("object", 1);
            outer.properties.insert("a".into(), s);
            s = outer;
        }
        let text = example(&s, 0).to_string();
        assert_eq!(text.matches("\"a\"").count(), MAX_EXAMPLE_DEPTH, "{text}");
    }
}
