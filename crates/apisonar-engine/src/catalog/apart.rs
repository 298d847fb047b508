//! Spec parameters do not hide shadow routes. A spec's `/users/{id}` matches `/users/export`, but
//! if `export` is a word (not an id, a number, a hash...) and its successful JSON answers carry
//! other fields than the operation's (as the spec documents them, or as its other values answer),
//! it is an undocumented route beside the documented one: it is kept as its own endpoint (pinned
//! as a literal template, so it stays apart) and posture classifies it shadow, saying why.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{Catalog, Endpoint, EndpointKey};
use crate::schema::Schema;
use crate::segment::classify;
use crate::spec::SpecOperation;
use crate::template::{escape_literal, percent_decode, split_path};

/// Routes kept apart per host, at most: each is one more known template that every path of the
/// host is matched against.
pub const MAX_KEPT_APART_PER_HOST: usize = 64;

/// Why an endpoint a spec template matches is not filed under it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptApart {
    /// The spec template whose parameter matches the path (`/users/{id}`).
    pub template: String,
    /// What differs, e.g. `its answers carry {format, rows} where GET /users/{id} (documented)
    /// answers {email, id, name}`.
    pub reason: String,
}

/// What specs document that successful answers of their operations are: content types and
/// top-level field names by (method, template), per covered host (`None`: every host).
#[derive(Debug, Default)]
pub(super) struct Documented {
    answers: HashMap<(String, String), Vec<HostShape>>,
}

/// A covered host (`None`: every host) and the shape documented there.
type HostShape = (Option<String>, Shape);

/// What answers look like: content types (main types) and top-level JSON field names (of the
/// object, or of an array's objects).
#[derive(Clone, Debug, Default)]
pub(super) struct Shape {
    content_types: BTreeSet<String>,
    fields: BTreeSet<String>,
}

impl Shape {
    fn is_empty(&self) -> bool {
        self.content_types.is_empty() && self.fields.is_empty()
    }

    /// How `self` (one route's answers) differs from `expected` (an operation's), if it does:
    /// another kind of content (CSV where JSON is expected), or JSON objects sharing less than
    /// half of the smaller set of fields.
    fn differs(&self, expected: &Shape) -> Option<(String, String)> {
        let family = |ct: &String| if ct.contains("json") { "json".to_string() } else { ct.clone() };
        let theirs: BTreeSet<String> = expected.content_types.iter().map(family).collect();
        let mine: BTreeSet<String> = self.content_types.iter().map(family).collect();
        if !mine.is_empty() && !theirs.is_empty() && mine.is_disjoint(&theirs) {
            return Some((listed(&self.content_types), listed(&expected.content_types)));
        }
        let (a, b) = (&self.fields, &expected.fields);
        let few_shared = a.intersection(b).count().saturating_mul(2) < a.len().min(b.len());
        (!a.is_empty() && !b.is_empty() && few_shared).then(|| (listed(a), listed(b)))
    }
}

/// `{a, b, c}`, at most six names.
fn listed(names: &BTreeSet<String>) -> String {
    let mut shown: Vec<&str> = names.iter().take(6).map(String::as_str).collect();
    if names.len() > 6 {
        shown.push("…");
    }
    format!("{{{}}}", shown.join(", "))
}

/// `template` with the words of `path` at its parameter positions written back as literals;
/// `None` when every parameter holds a value (an id, a number, a parameter of `path` itself).
pub(super) fn with_words(template: &str, path: &str) -> Option<String> {
    let (t, p) = (split_path(template), split_path(path));
    if t.len() != p.len() {
        return None;
    }
    let mut words = false;
    let mut out = String::new();
    for (ts, ps) in t.iter().zip(&p) {
        out.push('/');
        if ts.starts_with('{') && !ps.starts_with('{') && !classify(&percent_decode(ps)).is_value() {
            words = true;
            out.push_str(&escape_literal(ps));
        } else {
            out.push_str(ts);
        }
    }
    words.then_some(out)
}

/// The shape of one successful answer.
pub(super) fn answer_shape(content_type: Option<&str>, schema: Option<&Schema>) -> Shape {
    Shape {
        content_types: content_type.map(str::to_string).into_iter().collect(),
        fields: schema.map(|s| s.top_level_fields().cloned().collect()).unwrap_or_default(),
    }
}

/// The shape of an endpoint's answers: its most frequent content type, and the fields of its
/// successful JSON answers.
fn endpoint_shape(e: &Endpoint, every_type: bool) -> Shape {
    let content_types = if every_type {
        e.response_content_types.keys().cloned().collect()
    } else {
        e.response_content_types.iter().max_by_key(|(_, n)| **n).map(|(ct, _)| ct.clone()).into_iter().collect()
    };
    Shape { content_types, fields: e.success_fields() }
}

impl Catalog {
    /// Records what a spec documents that successful answers of `op` on `host` (`None`: every
    /// host the spec covers) are, to keep apart the words its parameters match whose answers
    /// differ. Call before pinning the spec's templates.
    pub fn document_responses(&mut self, host: Option<&str>, op: &SpecOperation) {
        let shape = Shape {
            content_types: op.response_content_types.iter().cloned().collect(),
            fields: op.response_fields.clone().unwrap_or_default(),
        };
        let key = (op.method.clone(), crate::template::normalize_template(&op.path));
        let hosts = self.documented.answers.entry(key).or_default();
        match hosts.iter_mut().find(|(h, _)| h.as_deref() == host) {
            Some((_, known)) => *known = shape,
            None => hosts.push((host.map(str::to_string), shape)),
        }
    }

    /// What answers of `method template` on `host` look like, and where that comes from: the
    /// spec, else what the endpoint has answered.
    fn expected_shape(&self, host: &str, method: &str, template: &str) -> Option<(Shape, &'static str)> {
        let documented = self.documented.answers.get(&(method.to_string(), template.to_string())).and_then(|hosts| {
            hosts
                .iter()
                .find(|(h, _)| h.as_deref().is_some_and(|h| crate::spec::same_host(h, host)))
                .or_else(|| hosts.iter().find(|(h, _)| h.is_none()))
        });
        if let Some((_, shape)) = documented.filter(|(_, s)| !s.is_empty()) {
            return Some((shape.clone(), "documented"));
        }
        let key = EndpointKey { host: host.to_string(), method: method.to_string(), path: template.to_string() };
        let seen = endpoint_shape(self.endpoints.get(&key)?, true);
        (!seen.is_empty()).then_some((seen, "as its other values answer"))
    }

    /// Whether `path`, which the known template `template` matches through a parameter holding a
    /// word, answers (`answer`: its successful answers' shape, made only for such a word: this
    /// runs on every answered request of a specified route) unlike the operation: then the
    /// literal route is pinned and returned with the reason. Bounded per host.
    pub(super) fn keep_apart(
        &mut self,
        host: &str,
        method: &str,
        path: &str,
        template: &str,
        answer: impl FnOnce() -> Shape,
    ) -> Option<(String, KeptApart)> {
        let literal = with_words(template, path)?;
        let kept = self.kept_apart.get(host).copied().unwrap_or(0);
        let answer = answer();
        if kept >= MAX_KEPT_APART_PER_HOST || answer.is_empty() {
            return None;
        }
        let (expected, source) = self.expected_shape(host, method, template)?;
        let (mine, theirs) = answer.differs(&expected)?;
        let reason = format!("it answers {mine} where {method} {template} ({source}) answers {theirs}");
        self.templater.add_known(Some(host), &literal);
        self.kept_apart.insert(host.to_string(), kept.saturating_add(1));
        Some((literal, KeptApart { template: template.to_string(), reason }))
    }

    /// For a stored endpoint that a newly pinned `template` would swallow: whether to keep it
    /// apart (see [`Catalog::keep_apart`]), judged on the answers it has had.
    pub(super) fn keep_stored_apart(&mut self, key: &EndpointKey, template: &str) -> Option<(String, KeptApart)> {
        let answers = endpoint_shape(self.endpoints.get(key)?, false);
        self.keep_apart(&key.host, &key.method, &key.path, template, || answers)
    }

    /// Pins the routes of loaded endpoints that were kept apart, so they stay apart.
    pub(super) fn repin_kept_apart(&mut self, host: &str, path: &str) {
        let kept = self.kept_apart.entry(host.to_string()).or_insert(0);
        *kept = kept.saturating_add(1);
        self.templater.add_known(Some(host), path);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::observation::Observation;
    use crate::posture::{classify, State};
    use crate::test_values::Observe;
    use crate::{Catalog, TemplateConfig};

    fn get(path: &str, body: &str) -> Observation {
        crate::test_values::answered(path, 200, "application/json", body)
    }

    const USER: &str = r#"{"id": 1, "name": "Ann", "email": "ann@example.test"}"#;
    const EXPORT: &str = r#"{"format": "csv", "rows": 120, "url": "/files/users.csv"}"#;

    fn spec() -> crate::Spec {
        crate::spec::parse(
            "users.json",
            r#"{"openapi": "3.0.0", "info": {"title": "Users", "version": "1"},
                "paths": {"/users/{id}": {"get": {"responses": {"200": {"description": "a user",
                  "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"}}}}}}}}},
                          "/users": {"get": {"responses": {"200": {"description": "users"}}}}}}"#,
        )
        .unwrap()
    }

    fn apply(c: &mut Catalog, spec: &crate::Spec) {
        for op in &spec.operations {
            c.document_responses(None, op);
        }
        let templates: Vec<String> = spec.operations.iter().map(|o| o.path.clone()).collect();
        c.pin_all(None, &templates);
    }

    fn paths(c: &Catalog) -> Vec<(String, u64)> {
        c.endpoints().map(|e| (e.path.clone(), e.hits)).collect()
    }

    #[test]
    fn a_word_answering_another_shape_than_documented_is_a_shadow_route() {
        let spec = spec();
        let mut c = Catalog::new(TemplateConfig::default());
        apply(&mut c, &spec);
        // The first call already differs from what the spec documents.
        for target in ["/users/export", "/users/1", "/users/ann", "/users/export?format=csv", "/users/2"] {
            c.observe(&get(target, if target.starts_with("/users/export") { EXPORT } else { USER }));
        }
        assert_eq!(paths(&c), [("/users/export".to_string(), 2), ("/users/{id}".to_string(), 3)]);
        let export = c.endpoints().find(|e| e.path == "/users/export").unwrap();
        let kept = export.kept_apart.as_ref().unwrap();
        assert_eq!(kept.template, "/users/{id}");
        assert_eq!(
            kept.reason,
            "it answers {format, rows, url} where GET /users/{id} (documented) answers {email, id, name}"
        );
        let verdict = classify(std::slice::from_ref(&spec), export);
        assert_eq!(verdict.state, State::Shadow);
        assert!(verdict.reason.contains("only through its parameter") && verdict.reason.contains(&kept.reason));
        // A word that answers like a user (`ann`) is a value of the parameter, documented.
        let user = c.endpoints().find(|e| e.path == "/users/{id}").unwrap();
        assert_eq!(classify(std::slice::from_ref(&spec), user).state, State::Documented);
    }

    #[test]
    fn without_a_documented_answer_the_other_values_answers_are_the_reference() {
        let mut spec = spec();
        spec.operations.iter_mut().for_each(|o| (o.response_fields, o.response_content_types) = (None, vec![]));
        let mut c = Catalog::new(TemplateConfig::default());
        apply(&mut c, &spec);
        for (target, body) in [("/users/1", USER), ("/users/export", EXPORT), ("/users/me", USER)] {
            c.observe(&get(target, body));
        }
        assert_eq!(paths(&c), [("/users/export".to_string(), 1), ("/users/{id}".to_string(), 2)]);
        let export = c.endpoints().find(|e| e.path == "/users/export").unwrap();
        assert!(export
            .kept_apart
            .as_ref()
            .unwrap()
            .reason
            .ends_with("(as its other values answer) answers {email, id, name}"));
    }

    #[test]
    fn a_spec_added_later_does_not_swallow_a_route_seen_before_and_loading_keeps_it_apart() {
        let spec = spec();
        let mut c = Catalog::new(TemplateConfig::default());
        for (target, body) in [("/users/1", USER), ("/users/2", USER), ("/users/export", EXPORT)] {
            c.observe(&get(target, body));
        }
        apply(&mut c, &spec);
        let listed = paths(&c);
        assert!(listed.contains(&("/users/export".to_string(), 1)), "{listed:?}");
        assert!(c.endpoints().find(|e| e.path == "/users/export").unwrap().kept_apart.is_some());
        // A later run loads the store: the route stays apart.
        let mut again = Catalog::new(TemplateConfig::default());
        again.load(c.endpoints().cloned().collect::<Vec<_>>());
        apply(&mut again, &spec);
        again.observe(&get("/users/export", EXPORT));
        assert_eq!(again.endpoints().find(|e| e.path == "/users/export").unwrap().hits, 2);
    }

    #[test]
    fn values_and_same_shaped_words_stay_with_the_parameter_and_the_pins_are_bounded() {
        assert_eq!(with_words("/users/{id}", "/users/42"), None);
        assert_eq!(with_words("/users/{id}", "/users/{user}"), None);
        assert_eq!(
            with_words("/users/{id}/files/{name}", "/users/7/files/export"),
            Some("/users/{id}/files/export".into())
        );
        let spec = spec();
        let mut c = Catalog::new(TemplateConfig::default());
        apply(&mut c, &spec);
        for i in 0..(MAX_KEPT_APART_PER_HOST + 10) {
            c.observe(&get(&format!("/users/word{}", "x".repeat(i % 7 + 1) + &"y".repeat(i / 7)), EXPORT));
        }
        c.observe(&get("/users/1", USER));
        let apart = c.endpoints().filter(|e| e.kept_apart.is_some()).count();
        assert_eq!(apart, MAX_KEPT_APART_PER_HOST);
    }
}
