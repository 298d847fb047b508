//! Alerts from sensitive data: credentials and personal data in cleartext, and responses that
//! hand out secrets or personal data in bulk. Evidence is classes, locations and masks only.

use std::collections::BTreeMap;

use crate::alert::{Alert, Severity};
use crate::catalog::EndpointKey;
use crate::json::{Json, JsonTree, Node};
use crate::observation::Observation;
use crate::sensitive::{Class, Finding};

/// A response with at least this many e-mail addresses, or this many card numbers or national
/// identifiers, is a bulk exposure.
const BULK_EMAILS: usize = 10;
const BULK_IDENTIFIERS: usize = 3;

fn draft(
    obs: &Observation,
    key: &EndpointKey,
    kind: &str,
    subtype: &str,
    severity: Severity,
    title: String,
    evidence: String,
) -> Alert {
    let mut a = Alert::occurrence(key, &obs.client.to_string(), obs.ts, kind, Some(subtype), severity, title, evidence);
    a.example = Some(crate::alert::Exchange::of(obs, key));
    a
}

fn describe(findings: &[&Finding]) -> String {
    let mut parts: Vec<String> =
        findings.iter().map(|f| format!("{} at {} ({})", f.class.as_str(), f.location, f.mask)).collect();
    parts.dedup();
    parts.truncate(8);
    parts.join("; ")
}

/// The sensitive-data alerts one observation raises, asking `counted(kind, subtype)` before
/// drafting each one: a caller that already holds this endpoint and client's alert of that kind
/// counts the occurrence there and answers true, and the title and evidence are not written again.
pub fn data_alerts(
    obs: &Observation,
    key: &EndpointKey,
    findings: &[Finding],
    counted: &mut dyn FnMut(&str, &str) -> bool,
) -> Vec<Alert> {
    let mut out = Vec::new();
    if !obs.encrypted {
        // The classes found, in their order; most transactions have one or two, and most are
        // counted in an alert already: nothing is gathered until one is drafted.
        // Discriminants follow the declaration, which is also the order of `Ord`.
        let mut present = findings.iter().fold(0u64, |set, f| set | class_bit(f.class));
        while present != 0 {
            let bit = present & present.wrapping_neg();
            present &= present.wrapping_sub(1);
            let Some(class) = findings.iter().map(|f| f.class).find(|c| class_bit(*c) == bit) else { continue };
            let of_class = || findings.iter().filter(move |f| f.class == class);
            // Credentials the client sends, or a session the server hands out, over cleartext.
            // A client's WebSocket message is sent like a request body.
            let credential = class.is_credential()
                && of_class().any(|f| {
                    f.location.starts_with("request.")
                        || f.location.starts_with("message.client.")
                        || f.location.contains("set-cookie")
                });
            let (kind, high) = if credential {
                ("cleartext_credentials", matches!(class, Class::Password | Class::BasicAuth | Class::PrivateKey))
            } else if !class.is_credential() {
                let high = matches!(
                    class,
                    Class::CardNumber
                        | Class::UsSsn
                        | Class::Iban
                        | Class::SpanishDni
                        | Class::DutchBsn
                        | Class::BrazilCpf
                );
                ("cleartext_sensitive_data", high)
            } else {
                continue;
            };
            if counted(kind, class.as_str()) {
                continue;
            }
            let title = if credential {
                format!("{} sent in cleartext to {} {} on {}", class.as_str(), key.method, key.path, key.host)
            } else {
                format!("{} in cleartext on {} {} on {}", class.as_str(), key.method, key.path, key.host)
            };
            let severity = if high { Severity::High } else { Severity::Medium };
            let fs: Vec<&Finding> = of_class().collect();
            out.push(draft(
                obs,
                key,
                kind,
                class.as_str(),
                severity,
                title,
                format!("server {}; {}", obs.server, describe(&fs)),
            ));
        }
    }
    // Bulk exposure in a response, encrypted or not.
    let response = || findings.iter().filter(|f| f.location.starts_with("response.json"));
    let count =
        |classes: &[Class]| response().filter(|f| classes.contains(&f.class)).map(|f| f.count as usize).sum::<usize>();
    let secrets = count(&[
        Class::Password,
        Class::PrivateKey,
        Class::ApiKey,
        Class::CloudAccessKey,
        Class::SourceHostToken,
        Class::PaymentProviderKey,
    ]);
    let emails = count(&[Class::Email]);
    let ids =
        count(&[Class::CardNumber, Class::UsSsn, Class::Iban, Class::SpanishDni, Class::DutchBsn, Class::BrazilCpf]);
    let subtype = if secrets > 0 {
        Some("secrets")
    } else if ids >= BULK_IDENTIFIERS {
        Some("identifiers")
    } else if emails >= BULK_EMAILS {
        Some("emails")
    } else {
        None
    };
    if let Some(subtype) = subtype.filter(|s| !counted("sensitive_data_exposure", s)) {
        out.push(draft(
            obs,
            key,
            "sensitive_data_exposure",
            subtype,
            Severity::High,
            format!(
                "{} {} on {} returns {subtype} ({} secrets, {ids} identifiers, {} e-mail addresses)",
                key.method, key.path, key.host, secrets, emails
            ),
            describe(&response().collect::<Vec<_>>()),
        ));
    }
    out
}

/// A class's bit in a set of classes.
fn class_bit(class: Class) -> u64 {
    1u64.checked_shl(class as u32).unwrap_or(0)
}

/// Most input values inspected per request.
const MAX_INPUTS: usize = 256;

/// Every input of a request worth inspecting for injection: (location, raw value). `json` is the
/// request body already parsed, if it was (else it is parsed here).
/// `searched_header(name, value)` says whether a header value is to be searched at all (a
/// worker skips the values it remembers clean before anything is copied).
fn request_inputs(
    obs: &Observation,
    json: Option<&Json<'_>>,
    mut searched_header: impl FnMut(&str, &str) -> bool,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    // Values that cannot hold an attempt are left out before anything is allocated for them.
    let plain = crate::injection::is_plain;
    for (i, seg) in obs.path().split('/').filter(|s| !s.is_empty()).enumerate() {
        if !plain(seg) {
            out.push((format!("request.path[{i}]"), seg.to_string()));
        }
    }
    if let Some(q) = obs.query() {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !plain(value) {
                out.push((format!("request.query.{}", crate::params::form_decode(name)), value.to_string()));
            }
        }
    }
    for (name, value) in &obs.request_headers {
        // Headers applications log or reflect; any header for JNDI-style payloads (log4shell).
        if (matches!(name, "user-agent" | "referer" | "x-forwarded-for" | "cookie" | "x-api-version")
            || opens_expression(value))
            && !plain(value)
            && searched_header(name, value)
        {
            out.push((format!("request.header.{name}"), value.to_string()));
        }
    }
    let ct = obs.request_header("content-type").unwrap_or_default();
    let form = "application/x-www-form-urlencoded";
    if ct.get(..form.len()).is_some_and(|head| head.eq_ignore_ascii_case(form)) {
        let body = String::from_utf8_lossy(&obs.request_body);
        for pair in body.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !plain(value) {
                out.push((format!("request.form.{}", crate::params::form_decode(name)), value.to_string()));
            }
        }
    } else if let Some(v) = json.map(std::borrow::Cow::Borrowed).or_else(|| {
        // Most requests have no body: not even a failed parse (its error is an allocation).
        let body = (!obs.request_body.is_empty()).then_some(&obs.request_body)?;
        Json::parse(body).map(std::borrow::Cow::Owned)
    }) {
        let mut path = String::from("request.json");
        json_inputs(v.as_ref(), &mut path, 0, &mut out);
    }
    out.truncate(MAX_INPUTS);
    out
}

/// Whether `value` holds `${` (a lookup expression, as JNDI payloads use). Read for nearly every
/// header: a search for the rare `$` first is cheaper than a substring search.
fn opens_expression(value: &str) -> bool {
    let bytes = value.as_bytes();
    memchr::memchr_iter(b'$', bytes).any(|i| bytes.get(i.saturating_add(1)) == Some(&b'{'))
}

/// The JSON strings of a request worth searching, with their locations (made only for those):
/// members last to first, depth first, and nothing more once `MAX_INPUTS` are found or a value
/// lies deeper than 16. False once it stopped.
fn json_inputs<J: JsonTree>(value: &J, path: &mut String, depth: usize, out: &mut Vec<(String, String)>) -> bool {
    if out.len() >= MAX_INPUTS || depth > 16 {
        return false;
    }
    let len = path.len();
    let mut go = true;
    match value.node() {
        Node::Object(entries) => {
            for (k, v) in entries.rev() {
                path.push('.');
                path.push_str(k);
                go = json_inputs(v, path, depth.saturating_add(1), out);
                path.truncate(len);
                if !go {
                    break;
                }
            }
        }
        Node::Array(a) => {
            path.push_str("[]");
            for v in a.iter().take(100).rev() {
                go = json_inputs(v, path, depth.saturating_add(1), out);
                if !go {
                    break;
                }
            }
            path.truncate(len);
        }
        Node::String(s) if !crate::injection::is_plain(s) => out.push((path.clone(), s.to_owned())),
        Node::String(_) | Node::Number(_) | Node::Bool(_) | Node::Null => {}
    }
    go
}

/// Injection attempts in one request, grouped by kind: the stateless (and costly) part of
/// `injection_alerts`, which can run where the transaction is.
pub type Attempts = BTreeMap<crate::injection::Injection, Vec<crate::injection::Attempt>>;

pub fn injection_attempts(obs: &Observation) -> Attempts {
    InjectionSearch::default().attempts(obs)
}

/// Header values a search remembers as clean, before it forgets them all.
const MAX_CLEAN_HEADERS: usize = 4096;

/// A flow worker's injection search: header values it found clean (user agents, referers and
/// cookies repeat from request to request) are remembered by a keyed hash, so each is
/// normalised and searched once rather than on every request. Everything else is searched
/// every time.
#[derive(Default)]
pub struct InjectionSearch {
    clean: std::collections::HashSet<u64, foldhash::fast::RandomState>,
    keys: foldhash::fast::RandomState,
}

impl InjectionSearch {
    /// Injection attempts in one request, grouped by kind.
    pub fn attempts(&mut self, obs: &Observation) -> Attempts {
        self.attempts_in(obs, None)
    }

    /// As [`InjectionSearch::attempts`], with the request body already parsed as JSON (when it
    /// was: the transaction's facts parse it too).
    pub fn attempts_in(&mut self, obs: &Observation, request_json: Option<&Json<'_>>) -> Attempts {
        use std::hash::BuildHasher;
        let mut by_kind: Attempts = BTreeMap::new();
        let (keys, clean) = (&self.keys, &self.clean);
        let inputs = request_inputs(obs, request_json, |name, value| !clean.contains(&keys.hash_one((name, value))));
        for (location, value) in inputs {
            let id = location.strip_prefix("request.header.").map(|name| self.keys.hash_one((name, value.as_str())));
            // URLs in headers (Referer) and paths are normal; SSRF means a URL the app is asked to fetch.
            let parameter = location.starts_with("request.query")
                || location.starts_with("request.form")
                || location.starts_with("request.json");
            let mut found = false;
            for attempt in crate::injection::inspect(&location, &value) {
                if attempt.kind != crate::injection::Injection::Ssrf || parameter {
                    found = true;
                    by_kind.entry(attempt.kind).or_default().push(attempt);
                }
            }
            if let Some(id) = id.filter(|_| !found) {
                if self.clean.len() >= MAX_CLEAN_HEADERS {
                    self.clean.clear();
                }
                self.clean.insert(id);
            }
        }
        by_kind
    }
}

/// A GraphQL introspection query: the client asked the API for its whole schema. Production
/// APIs usually turn introspection off; an attacker uses it to list every operation and field.
pub fn introspection_alert(obs: &Observation, key: &EndpointKey) -> Alert {
    let answered = obs.response.as_ref().is_some_and(|r| (200..300).contains(&r.status));
    let evidence = if answered {
        "the request asked for __schema or __type and the answer was a success: introspection is on".to_string()
    } else {
        "the request asked for __schema or __type; the answer was not a success".to_string()
    };
    let severity = if answered { Severity::Medium } else { Severity::Low };
    let title = format!("GraphQL introspection query to {} {} on {}", key.method, key.path, key.host);
    draft(obs, key, "graphql_introspection", "introspection", severity, title, evidence)
}

/// The `injection_attempt` alerts (one per kind) for attempts found by `injection_attempts`, on
/// the endpoint `key`.
pub fn injection_alerts(obs: &Observation, key: &EndpointKey, by_kind: Attempts) -> Vec<Alert> {
    if by_kind.is_empty() {
        return Vec::new();
    }
    let status = obs.response.as_ref().map_or_else(|| "no response".to_string(), |r| format!("status {}", r.status));
    by_kind
        .into_iter()
        .map(|(kind, attempts)| {
            let mut places: Vec<String> = attempts
                .iter()
                .map(|a| format!("{} (matched `{}`)", a.location, a.signature.escape_default()))
                .collect();
            places.dedup();
            places.truncate(4);
            draft(
                obs,
                key,
                "injection_attempt",
                kind.as_str(),
                Severity::High,
                format!("{} attempt on {} {} on {}", kind.as_str().replace('_', " "), key.method, key.path, key.host),
                format!("{}; {status}", places.join("; ")),
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_values::Observe;
    use crate::{Catalog, TemplateConfig};

    #[test]
    fn expressions_are_found_wherever_they_open() {
        for (value, opens) in [
            ("${jndi:ldap://x/a}", true),
            ("a$b${", true),
            ("$$${x}", true),
            ("price $5 {note}", false),
            ("$", false),
            ("", false),
            ("€${", true),
        ] {
            assert_eq!(opens_expression(value), value.contains("${"), "{value}");
            assert_eq!(opens_expression(value), opens, "{value}");
        }
    }

    fn obs(method: &str, target: &str, headers: &[(&str, &str)], body: &str, encrypted: bool) -> Observation {
        Observation {
            request_headers: headers.iter().copied().collect(),
            request_body: body.as_bytes().to_vec(),
            request_body_len: body.len() as u64,
            encrypted,
            ..crate::test_values::request("app.test", method, target, 5)
        }
    }

    fn kinds(alerts: &[Alert]) -> Vec<(String, String)> {
        let mut k: Vec<(String, String)> =
            alerts.iter().map(|a| (a.kind.clone(), a.subtype.clone().unwrap_or_default())).collect();
        k.sort();
        k
    }

    #[test]
    fn multi_byte_characters_anywhere_in_a_request_are_analysed_without_panicking() {
        for shape in crate::test_values::SHAPES {
            analyse_with_multi_byte(shape);
        }
    }

    /// Every request part of a run of observations holds a multi-byte variant of `shape`.
    fn analyse_with_multi_byte(shape: &str) {
        // A catalog per shape: each value is a host of its own, and hosts are what makes the
        // catalog's periodic whole-trie pass slow in an unoptimised build.
        let mut catalog = Catalog::new(TemplateConfig { word_threshold: 3, ..TemplateConfig::default() });
        let mut behavior = crate::behavior::Behavior::default();
        for (i, v) in crate::test_values::with_one_multi_byte_per_position(shape).enumerate() {
            let json = serde_json::json!({ "email": v, "dni": v, v.as_str(): [v, { "password": v }] }).to_string();
            let form = format!("a={v}&{v}={v}&password={v}");
            let (content_type, body) = if i % 2 == 0 {
                ("application/json", json.as_str())
            } else {
                ("application/x-www-form-urlencoded", form.as_str())
            };
            let target = format!("/users/{v}/items/{i}?q={v}&{v}={v}&{v}");
            let headers = [
                ("user-agent", v.clone()),
                ("referer", v.clone()),
                ("cookie", format!("sessionid={v}; {v}={v}")),
                ("authorization", format!("Bearer {v}")),
                ("x-api-key", v.clone()),
                ("x-custom", format!("${{{v}}}")),
                ("content-type", content_type.to_string()),
            ];
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, value)| (*n, value.as_str())).collect();
            let mut o = obs("POST", &target, &headers, body, i % 3 == 0);
            o.host = Some(v.clone());
            if let Some(r) = o.response.as_mut() {
                r.headers = [("set-cookie", format!("sid={v}").as_str()), ("content-type", "application/json")].into();
                r.body = json.clone().into_bytes();
            }
            let Some(seen) = catalog.observe(&o) else { continue };
            let _ = data_alerts(&o, &seen.key, &seen.findings, &mut |_, _| false);
            let _ = injection_alerts(&o, &seen.key, injection_attempts(&o));
            let _ = behavior.observe(&o, &seen.key);
        }
        let changes = catalog.take_changes();
        for e in &changes.upserts {
            let _ = crate::openapi::document(&e.host, &[e]);
        }
    }

    #[test]
    fn cleartext_versus_encrypted_credentials() {
        let mut c = Catalog::new(TemplateConfig::default());
        let o = obs(
            "POST",
            "/login",
            &[("content-type", "application/json")],
            "{\"user\":\"a\",\"password\":\"pw12345\"}",
            false,
        );
        let seen = c.observe(&o).unwrap();
        assert_eq!(
            kinds(&data_alerts(&o, &seen.key, &seen.findings, &mut |_, _| false)),
            vec![("cleartext_credentials".into(), "password".into())]
        );
        let tls = Observation { encrypted: true, ..o };
        let seen = c.observe(&tls).unwrap();
        assert!(
            data_alerts(&tls, &seen.key, &seen.findings, &mut |_, _| false).is_empty(),
            "no cleartext alert for encrypted traffic"
        );
    }

    #[test]
    fn injections_by_input_kind_and_none_for_benign_requests() {
        let key = EndpointKey { host: "app.test".into(), method: "GET".into(), path: "/search".into() };
        let attack = obs(
            "GET",
            "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--&next=http://169.254.169.254/",
            &[("user-agent", "${jndi:ldap://x/a}")],
            "",
            false,
        );
        assert_eq!(
            kinds(&injection_alerts(&attack, &key, injection_attempts(&attack))),
            vec![
                ("injection_attempt".into(), "sql_injection".into()),
                ("injection_attempt".into(), "ssrf".into()),
                ("injection_attempt".into(), "template_injection".into())
            ]
        );
        let json = obs(
            "POST",
            "/ping",
            &[("content-type", "application/json")],
            "{\"host\":\"127.0.0.1; cat /etc/passwd\"}",
            false,
        );
        let got = kinds(&injection_alerts(&json, &key, injection_attempts(&json)));
        assert!(got.contains(&("injection_attempt".into(), "command_injection".into())), "{got:?}");
        let benign = obs(
            "GET",
            "/search?q=O%27Brien&page=2",
            &[("referer", "http://192.168.1.10/home"), ("user-agent", "Mozilla/5.0")],
            "",
            false,
        );
        assert!(injection_alerts(&benign, &key, injection_attempts(&benign)).is_empty());
    }
}

#[cfg(test)]
mod input_order {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
    use super::*;

    /// The walk as a stack of every member with its location (the earlier form): the order and
    /// limits the recursive walk must keep, since alert evidence lists attempts in this order.
    fn by_stack(v: &serde_json::Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![(String::from("request.json"), v, 0usize)];
        while let Some((path, value, depth)) = stack.pop() {
            if out.len() >= MAX_INPUTS || depth > 16 {
                break;
            }
            match value {
                serde_json::Value::Object(m) => {
                    stack.extend(m.iter().map(|(k, v)| (format!("{path}.{k}"), v, depth + 1)))
                }
                serde_json::Value::Array(a) => {
                    stack.extend(a.iter().take(100).map(|v| (format!("{path}[]"), v, depth + 1)))
                }
                serde_json::Value::String(s) if !crate::injection::is_plain(s) => out.push((path, s.clone())),
                _ => {}
            }
        }
        out
    }

    fn recursive(v: &serde_json::Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        json_inputs(v, &mut String::from("request.json"), 0, &mut out);
        out
    }

    #[test]
    fn json_inputs_come_in_the_stack_walks_order_within_its_limits() {
        let nested = r#"{"a":"x'1","b":{"c":["p-1",{"d":"q;2"},"r<3"],"e":"plain"},"f":["s|4"],"g":7}"#;
        let mut deep = String::from(r#""z'9""#);
        for i in 0..20 {
            deep = format!(r#"{{"k{i}":{deep},"s{i}":"v'{i}"}}"#);
        }
        let wide = format!("[{}]", (0..300).map(|i| format!(r#"{{"n":"o'{i}"}}"#)).collect::<Vec<_>>().join(","));
        let many = format!("{{{}}}", (0..400).map(|i| format!(r#""m{i:03}":"w'{i}""#)).collect::<Vec<_>>().join(","));
        for text in [nested, &deep, &wide, &many] {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            let (old, new) = (by_stack(&v), recursive(&v));
            assert!(!old.is_empty());
            assert_eq!(old, new, "{text}");
        }
    }
}
