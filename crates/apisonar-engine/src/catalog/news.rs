//! What is new: when each part of an endpoint first appeared (the endpoint, its query and form
//! parameters, request and response fields, sensitive classes per location), for the listings of
//! what appeared since a given time.

use super::Endpoint;
use crate::schema::Schema;

/// One part of an endpoint and when it first appeared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appearance {
    /// Microseconds since the epoch (packet time); never before the endpoint's own first seen.
    pub at: i64,
    /// What: `endpoint`, `query:limit`, `form:title`, `request: $.name`,
    /// `response 200: $.items[].email`, `sensitive: response.json.items[].email email`.
    pub what: String,
}

/// The label of the endpoint itself among its appearances.
pub const ENDPOINT: &str = "endpoint";

impl Endpoint {
    /// Every part of this endpoint with the time it first appeared, the endpoint itself first;
    /// nothing for a record that was never seen (an orphan). Path parameters are not listed:
    /// they are part of the template, and a new template is a new endpoint. A part whose time was
    /// not recorded (a store written before times were kept) is as old as its endpoint. Response
    /// fields are those of sampled bodies (see `Catalog::record`).
    pub fn appearances(&self) -> Vec<Appearance> {
        if self.hits == 0 {
            return Vec::new();
        }
        let floor = self.first_seen;
        let mut out = vec![Appearance { at: floor, what: ENDPOINT.to_string() }];
        for (location, params) in [("query", &self.query_params), ("form", &self.form_fields)] {
            for (name, p) in params {
                out.push(Appearance { at: p.first_seen.max(floor), what: format!("{location}:{name}") });
            }
        }
        if let Some(schema) = &self.request_schema {
            fields(schema, &mut "$".to_string(), floor, "request", &mut out);
        }
        for (status, schema) in &self.response_schemas {
            fields(schema, &mut "$".to_string(), floor, &format!("response {status}"), &mut out);
        }
        for (location, field) in &self.sensitive {
            for class in field.classes.keys() {
                let at = field.first_seen.get(class).copied().unwrap_or(0).max(floor);
                out.push(Appearance { at, what: format!("sensitive: {location} {}", class.as_str()) });
            }
        }
        out
    }

    /// What of this endpoint appeared at or after `since` (see [`new_since`]).
    pub fn new_since(&self, since: i64) -> Vec<String> {
        new_since(&self.appearances(), since)
    }
}

/// What appeared at or after `since`: `["endpoint"]` when the endpoint itself did (everything in
/// it is new then), else the parts that did; empty when nothing did.
pub fn new_since(appearances: &[Appearance], since: i64) -> Vec<String> {
    match appearances.first() {
        Some(first) if first.what == ENDPOINT && first.at >= since => vec![ENDPOINT.to_string()],
        _ => appearances.iter().filter(|a| a.at >= since).map(|a| a.what.clone()).collect(),
    }
}

/// The properties of `schema` under `path` (`$`, `$.items[]`...), depth first. Schemas are bounded
/// in depth and width (schema.rs), so is this.
fn fields(schema: &Schema, path: &mut String, floor: i64, label: &str, out: &mut Vec<Appearance>) {
    for (name, property) in &schema.properties {
        let len = path.len();
        path.push('.');
        path.push_str(name);
        out.push(Appearance { at: property.first_seen.max(floor), what: format!("{label}: {path}") });
        fields(property, path, floor, label, out);
        path.truncate(len);
    }
    if let Some(items) = &schema.items {
        let len = path.len();
        path.push_str("[]");
        fields(items, path, floor, label, out);
        path.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::collections::BTreeMap;

    use super::*;
    use crate::observation::{Observation, ObservedResponse};
    use crate::sensitive::Class;
    use crate::test_values::Observe;
    use crate::{Catalog, TemplateConfig};

    /// `method target` on `api.test` at `ts`, with a JSON request body (if any) and a 200 JSON answer.
    fn call(method: &str, target: &str, request: Option<&str>, response: &str, ts: i64) -> Observation {
        let json = crate::Headers::from([("content-type", "application/json")]);
        Observation {
            ts,
            client: std::net::IpAddr::from([10, 0, 0, 7]),
            server: std::net::SocketAddr::from(([10, 0, 0, 1], 80)),
            host: Some("api.test".into()),
            method: method.into(),
            target: target.into(),
            request_headers: if request.is_some() { json.clone() } else { Default::default() },
            request_body: request.unwrap_or_default().as_bytes().to_vec(),
            request_body_len: request.map_or(0, |r| r.len() as u64),
            response: Some(ObservedResponse {
                status: 200,
                headers: json,
                body: response.as_bytes().to_vec(),
                body_len: response.len() as u64,
                latency_micros: 1,
            }),
            encrypted: false,
            protocol: Default::default(),
        }
    }

    fn form(target: &str, body: &str, ts: i64) -> Observation {
        let mut o = call("POST", target, None, "{}", ts);
        o.request_headers = [("content-type", "application/x-www-form-urlencoded")].into();
        o.request_body = body.as_bytes().to_vec();
        o
    }

    fn endpoint<'a>(c: &'a Catalog, method: &str, path: &str) -> &'a Endpoint {
        c.endpoints().find(|e| e.method == method && e.path == path).unwrap()
    }

    #[test]
    fn each_part_records_when_it_first_appeared() {
        let mut c = Catalog::new(TemplateConfig::default());
        c.observe(&call("GET", "/items?limit=5", None, r#"{"items": [{"id": 1}]}"#, 1_000));
        // Out of order (batches from several workers): the earlier time wins.
        c.observe(&call("GET", "/items?limit=5&cursor=a", None, r#"{"items": [{"id": 2}], "next": "b"}"#, 3_000));
        c.observe(&call("GET", "/items?cursor=b", None, r#"{"items": [{"id": 3, "email": "x@y.test"}]}"#, 2_000));
        c.observe(&form("/login", "user=a", 1_500));
        c.observe(&form("/login", "user=a&password=hunter2-planted", 2_500));
        c.observe(&call("POST", "/notes", Some(r#"{"text": "a"}"#), "{}", 1_000));
        c.observe(&call("POST", "/notes", Some(r#"{"text": "a", "tags": ["x"]}"#), "{}", 4_000));
        let items = endpoint(&c, "GET", "/items");
        assert_eq!(items.first_seen, 1_000);
        assert_eq!((items.query_params["limit"].first_seen, items.query_params["cursor"].first_seen), (1_000, 2_000));
        let root = &items.response_schemas[&200];
        let item = root.properties["items"].items.as_deref().unwrap();
        assert_eq!((item.properties["id"].first_seen, item.properties["email"].first_seen), (1_000, 2_000));
        assert_eq!(root.properties["next"].first_seen, 3_000);
        let email = &items.sensitive["response.json.items[].email"];
        assert_eq!(email.first_seen, BTreeMap::from([(Class::Email, 2_000)]));
        let login = endpoint(&c, "POST", "/login");
        assert_eq!((login.form_fields["user"].first_seen, login.form_fields["password"].first_seen), (1_500, 2_500));
        assert_eq!(login.sensitive["request.form.password"].first_seen[&Class::Password], 2_500);
        let notes = endpoint(&c, "POST", "/notes");
        let request = notes.request_schema.as_ref().unwrap();
        assert_eq!((request.properties["text"].first_seen, request.properties["tags"].first_seen), (1_000, 4_000));

        assert_eq!(items.new_since(0), vec!["endpoint"]);
        assert_eq!(
            items.new_since(1_001),
            vec![
                "query:cursor",
                "response 200: $.items[].email",
                "response 200: $.next",
                "sensitive: response.json.items[].email email",
            ]
        );
        assert_eq!(items.new_since(2_001), vec!["response 200: $.next"]);
        assert!(items.new_since(3_001).is_empty());
        assert_eq!(login.new_since(2_000), vec!["form:password", "sensitive: request.form.password password"]);
        assert_eq!(notes.new_since(1_001), vec!["request: $.tags"]);
    }

    #[test]
    fn merges_take_the_earliest_time_of_every_part() {
        let mut early = Catalog::new(TemplateConfig::default());
        early.observe(&call("GET", "/items?limit=5", None, r#"{"a": "x@y.test"}"#, 500));
        let mut late = Catalog::new(TemplateConfig::default());
        late.observe(&call("GET", "/items?limit=5&page=2", None, r#"{"a": "x@y.test", "b": 1}"#, 900));
        let (e, l) = (endpoint(&early, "GET", "/items").clone(), endpoint(&late, "GET", "/items").clone());
        for (mut into, from) in [(e.clone(), l.clone()), (l.clone(), e.clone())] {
            into.merge(&from);
            assert_eq!(into.first_seen, 500);
            assert_eq!((into.query_params["limit"].first_seen, into.query_params["page"].first_seen), (500, 900));
            let schema = &into.response_schemas[&200];
            assert_eq!(
                (schema.first_seen, schema.properties["a"].first_seen, schema.properties["b"].first_seen),
                (500, 500, 900)
            );
            assert_eq!(into.sensitive["response.json.a"].first_seen[&Class::Email], 500);
            assert_eq!(into.new_since(600), vec!["query:page", "response 200: $.b"]);
        }
        // Templating folds concrete paths into one endpoint: the earliest of each part holds.
        let mut c = Catalog::new(TemplateConfig::default());
        for (id, ts) in [(7, 900), (8, 300), (9, 600)] {
            let body = format!(r#"{{"id": {id}, "since_{id}": true}}"#);
            c.observe(&call("GET", &format!("/users/{id}?v{id}=1"), None, &body, ts));
        }
        c.consolidate();
        let users = c.endpoints().find(|e| e.path.starts_with("/users/{")).unwrap();
        assert_eq!(users.first_seen, 300);
        assert_eq!(users.response_schemas[&200].properties["id"].first_seen, 300);
        assert_eq!(users.response_schemas[&200].properties["since_7"].first_seen, 900);
        assert_eq!(users.query_params["v9"].first_seen, 600);
    }

    #[test]
    fn parts_of_records_without_times_are_as_old_as_their_endpoint() {
        let mut c = Catalog::new(TemplateConfig::default());
        c.observe(&call("GET", "/items?limit=5", None, r#"{"a": "x@y.test"}"#, 5_000));
        let mut old = endpoint(&c, "GET", "/items").clone();
        // As a store written before times were kept reads: every part's time 0.
        old.query_params.values_mut().for_each(|p| p.first_seen = 0);
        old.response_schemas.values_mut().for_each(|s| {
            s.first_seen = 0;
            s.properties.values_mut().for_each(|p| p.first_seen = 0);
        });
        old.sensitive.values_mut().for_each(|f| f.first_seen.clear());
        let appeared: Vec<i64> = old.appearances().iter().map(|a| a.at).collect();
        assert!(appeared.iter().all(|at| *at == 5_000), "{appeared:?}");
        // Traffic after the load does not make them new; a part really new is.
        let mut c = Catalog::new(TemplateConfig::default());
        c.load([old]);
        c.observe(&call("GET", "/items?limit=5&page=1", None, r#"{"a": "x@y.test", "b": 2}"#, 9_000));
        let items = endpoint(&c, "GET", "/items");
        assert_eq!(items.new_since(6_000), vec!["query:page", "response 200: $.b"]);
        // An orphan (never seen) has nothing new, whatever its times.
        assert!(Endpoint::default().appearances().is_empty());
    }
}
