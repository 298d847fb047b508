//! Round trips between the engine's types and the records: exact, for every field and variant.

use std::collections::{BTreeMap, BTreeSet};

use apisonar_engine::auth::AuthScheme;
use apisonar_engine::catalog::{AuthCount, SensitiveField};
use apisonar_engine::params::ParamInfo;
use apisonar_engine::schema::{Schema, TypeCounts, JSON_TYPES};
use apisonar_engine::sensitive::Class;
use apisonar_engine::spec::SpecParam;
use apisonar_engine::stats::{ClientSet, Histogram, SizeStats};
use apisonar_engine::tlsposture::{TlsCertificate, TlsHost};
use apisonar_engine::{
    Alert, AlertState, Catalog, Endpoint, Overflow, OverflowReason, Severity, Spec, SpecOperation, TemplateConfig,
};
use serde_json::json;

use crate::records::{decode, encode, v2, Persisted};
use crate::TemplateOverride;

/// `value -> record -> value` and `value -> bytes -> value` both give `value` back.
fn round_trips<T: Persisted + PartialEq + std::fmt::Debug + Clone>(value: &T) {
    let record = T::Record::from(value);
    assert_eq!(&record.into(), value, "through the record");
    let bytes = encode(value).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bytes.first(), Some(&2), "format byte");
    assert_eq!(&decode::<T>(&bytes).unwrap_or_else(|e| panic!("{e}")), value, "through the bytes");
}

const CLASSES: [Class; 19] = [
    Class::Password,
    Class::BasicAuth,
    Class::BearerToken,
    Class::Jwt,
    Class::JwtAlgNone,
    Class::ApiKey,
    Class::CloudAccessKey,
    Class::SourceHostToken,
    Class::PaymentProviderKey,
    Class::PrivateKey,
    Class::SessionCookie,
    Class::Email,
    Class::Phone,
    Class::CardNumber,
    Class::Iban,
    Class::UsSsn,
    Class::SpanishDni,
    Class::DutchBsn,
    Class::BrazilCpf,
];

fn schema() -> Schema {
    let mut s = Schema::of_at(
        &json!({
            "id": 1, "ratio": 1.5, "ok": true, "gone": null, "tags": ["x", 2, {"deep": [[]]}],
            "email": "a@b.test", "uuid": "123e4567-e89b-12d3-a456-426614174000",
            "when": "2024-01-01T00:00:00Z", "day": "2024-01-01", "v4": "10.0.0.1", "v6": "::1",
            "site": "https://example.test/a", "name": "plain"
        }),
        1_700_000_000_000_000,
    );
    s.merge(&Schema::of_at(&json!({"id": "now a string", "extra": {"a": 1}}), -7));
    s.truncated = 3;
    s
}

fn param(types: &[(&str, u64)]) -> ParamInfo {
    ParamInfo {
        count: types.iter().map(|(_, n)| n).sum(),
        types: types.iter().map(|(t, n)| (t.to_string(), *n)).collect(),
        first_seen: 1_700_000_000_000_000 - types.len() as i64,
    }
}

/// An endpoint with every field set and every variant of what it holds.
fn full_endpoint(clients: ClientSet) -> Endpoint {
    let schemes = [
        AuthScheme::None,
        AuthScheme::Basic,
        AuthScheme::Bearer,
        AuthScheme::Jwt { alg: "HS256".into(), iss: Some("https://issuer.test".into()) },
        AuthScheme::Jwt { alg: "none".into(), iss: None },
        AuthScheme::ApiKeyHeader { name: "x-api-key".into() },
        AuthScheme::ApiKeyQuery { name: "api_key".into() },
        AuthScheme::SessionCookie { name: "sessionid".into() },
        AuthScheme::Other { name: "Digest".into() },
    ];
    let mut latency = Histogram::default();
    let mut sizes = SizeStats::default();
    for v in [3, 900, 120_000, 7_200_000_000] {
        latency.add(v);
        sizes.add(v as u64);
    }
    Endpoint {
        host: "api.test:8443".into(),
        method: "PATCH".into(),
        path: "/orgs/{org}/users/{user_id}".into(),
        hits: 1234,
        first_seen: -5,
        last_seen: 1_700_000_000_000_000,
        clients,
        status_codes: BTreeMap::from([(200, 1000), (404, 34), (500, 200)]),
        latency,
        request_bytes: sizes.clone(),
        response_bytes: SizeStats { count: 1, min: 7, max: 7, total: 7 },
        request_content_types: BTreeMap::from([("application/json".into(), 10)]),
        response_content_types: BTreeMap::from([("text/html".into(), 1), ("application/json".into(), 9)]),
        path_params: BTreeMap::from([
            ("org".into(), param(&[("string", 3)])),
            ("user_id".into(), param(&[("integer", 9)])),
        ]),
        query_params: BTreeMap::from([("limit".into(), param(&[("integer", 2), ("empty", 1)]))]),
        form_fields: BTreeMap::from([("title".into(), param(&[("string", 1)]))]),
        request_schema: Some(schema()),
        response_schemas: BTreeMap::from([(200, schema()), (404, Schema::of(&json!("missing")))]),
        auth: schemes.into_iter().zip(1..).map(|(scheme, count)| AuthCount { scheme, count }).collect(),
        cleartext: 1000,
        encrypted: 234,
        protocols: BTreeMap::from([("h2".into(), 34), ("http/1".into(), 1200)]),
        grpc: Some(apisonar_engine::catalog::GrpcStats {
            statuses: BTreeMap::from([("OK".into(), 30), ("NOT_FOUND".into(), 4)]),
            max_request_messages: 1,
            max_response_messages: 3,
        }),
        websocket: Some(apisonar_engine::catalog::WebSocketStats {
            client_messages: 7,
            server_messages: 9,
            kinds: BTreeMap::from([("text".into(), 14), ("close".into(), 2)]),
            bytes: 4096,
            client_schema: Some(schema()),
            server_schema: None,
            last_seen: 1_700_000_200_000_000,
        }),
        operations: BTreeMap::from([(
            "query GetUser".into(),
            apisonar_engine::catalog::OperationStats {
                style: "graphql".into(),
                kind: "query".into(),
                hits: 12,
                errors: 2,
                introspection: 0,
                root_fields: ["user".to_string(), "me".to_string()].into(),
                variables: BTreeMap::from([("id".into(), "ID!".into())]),
                first_seen: 1_700_000_000_000_000,
                last_seen: 1_700_000_100_000_000,
            },
        )]),
        sensitive: BTreeMap::from([
            (
                "request.json.secret".into(),
                SensitiveField {
                    classes: CLASSES.iter().zip(1..).map(|(c, n)| (*c, n)).collect(),
                    mask: "ab…yz".into(),
                    first_seen: CLASSES.iter().zip(1..).map(|(c, n)| (*c, 1_700_000_000_000_000 + n)).collect(),
                },
            ),
            (
                "response.json[].email".into(),
                SensitiveField {
                    classes: BTreeMap::from([(Class::Email, 2)]),
                    mask: String::new(),
                    first_seen: BTreeMap::new(),
                },
            ),
        ]),
        why: vec!["user_id: integer values".into(), "org: 40 distinct words".into()],
        hourly: BTreeMap::from([(472_222, 10), (472_223, 1224)]),
        kept_apart: Some(apisonar_engine::KeptApart {
            template: "/orgs/{org}/users/{id}".into(),
            reason: "its answers carry {a} where PATCH /orgs/{org}/users/{id} (documented) answers {b}".into(),
        }),
    }
}

#[test]
fn endpoints_round_trip_with_every_field_and_variant() {
    let mut few = ClientSet::default();
    let mut many = ClientSet::default();
    for i in 0..500 {
        many.add(&format!("10.0.{}.{}", i / 256, i % 256));
        if i < 10 {
            few.add(&format!("10.0.0.{i}"));
        }
    }
    assert!(!few.hashes.is_empty() && few.registers.is_empty());
    assert!(many.hashes.is_empty() && !many.registers.is_empty());
    // Not a state the engine makes, but a value all the same: it comes back as it went.
    let both = ClientSet { hashes: BTreeSet::from([1, u64::MAX]), registers: vec![0, 1, 255] };
    for clients in [ClientSet::default(), few, many, both] {
        round_trips(&full_endpoint(clients));
    }
    round_trips(&Endpoint::default());
}

#[test]
fn every_json_type_keeps_its_place() {
    for (i, ty) in JSON_TYPES.iter().enumerate() {
        let mut counts = TypeCounts::default();
        counts.add(ty, i as u64 + 1);
        let record = v2::TypeCountsRecord::from(&counts);
        let written = serde_json::to_value(&record).unwrap_or_default();
        assert_eq!(written, json!({ *ty: i + 1 }), "{ty}");
        assert_eq!(TypeCounts::from(record), counts, "{ty}");
    }
}

#[test]
fn alerts_specs_tls_hosts_overflow_and_overrides_round_trip() {
    let severities = [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];
    let states = [AlertState::Open, AlertState::Acknowledged, AlertState::Resolved];
    for (i, (severity, state)) in severities.iter().flat_map(|s| states.iter().map(move |t| (*s, *t))).enumerate() {
        round_trips(&Alert {
            id: i as u64 + 1,
            kind: "weak_tls".into(),
            subtype: (i % 2 == 0).then(|| "tls1.0_offered".into()),
            severity,
            title: "weak TLS".into(),
            host: "h.test".into(),
            method: "TLS".into(),
            path: "*".into(),
            client: (i % 3 == 0).then(|| "10.0.0.1".into()),
            count: u64::MAX - i as u64,
            first_seen: i64::MIN,
            last_seen: i64::MAX,
            state,
            evidence: "server 10.0.0.2:443".into(),
            clients: {
                let mut c = apisonar_engine::stats::ClientSet::default();
                for n in 0..(i * 10) {
                    c.add(&format!("10.0.{n}.1"));
                }
                c
            },
            top_clients: (0..i % 4)
                .map(|n| apisonar_engine::alert::ClientCount { client: format!("10.0.0.{n}"), count: n as u64 })
                .collect(),
            samples: (0..i % 3).map(|n| format!("sample {n}")).collect(),
            example: (i % 2 == 1).then(|| apisonar_engine::alert::Exchange {
                request: vec!["GET /x?q=… HTTP/1.1".into(), "cookie: sid=…".into()],
                response: if i % 4 == 1 { vec!["HTTP/1.1 200 OK".into()] } else { Vec::new() },
            }),
            history: (0..i % 3)
                .map(|n| apisonar_engine::alert::StateChange {
                    at: n as i64,
                    by: format!("user{n}"),
                    state: states[n % 3],
                    note: (n == 1).then(|| "it recurred".into()),
                })
                .collect(),
            assignee: (i % 2 == 0).then(|| "alice".into()),
            comments: (0..i % 4)
                .map(|n| apisonar_engine::alert::Comment {
                    at: -(n as i64),
                    by: "bob".into(),
                    text: format!("note {n}"),
                })
                .collect(),
        });
    }
    let operation = |deprecated: bool, fields: Option<BTreeSet<String>>| SpecOperation {
        method: "GET".into(),
        path: "/v1/users/{id}".into(),
        deprecated,
        params: vec![
            SpecParam { name: "id".into(), location: "path".into(), required: true },
            SpecParam { name: "expand".into(), location: "query".into(), required: false },
        ],
        request_content_types: vec!["application/json".into()],
        request_fields: fields.clone(),
        responses: vec!["200".into(), "4XX".into(), "default".into()],
        response_content_types: vec![],
        response_fields: fields,
        security: vec!["bearer".into(), "api_key_header(x-api-key)".into()],
    };
    round_trips(&Spec {
        name: "users.yaml".into(),
        title: "Users".into(),
        format: "openapi 3.1.0".into(),
        hosts: vec!["api.test".into()],
        operations: vec![operation(false, None), operation(true, Some(BTreeSet::from(["id".into(), "name".into()])))],
        graphql: None,
    });
    round_trips(&Spec {
        name: "schema.graphql".into(),
        title: "schema.graphql".into(),
        format: "graphql sdl".into(),
        hosts: vec![],
        operations: vec![],
        graphql: Some(apisonar_engine::spec::graphql::GraphqlRoots {
            query: BTreeSet::from(["user".into(), "me".into()]),
            mutation: BTreeSet::from(["addOrder".into()]),
            subscription: BTreeSet::new(),
        }),
    });
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
    let counts = |items: &[(&str, u64)]| items.iter().map(|(k, n)| (k.to_string(), *n)).collect::<BTreeMap<_, _>>();
    let host = TlsHost {
        host: "tls.test".into(),
        sessions: 9,
        first_seen: 1,
        last_seen: 2,
        servers: set(&["10.0.0.2:443", "[::1]:443"]),
        versions: counts(&[("TLS1.2", 3), ("TLS1.3", 6)]),
        ciphers: counts(&[("TLS_AES_128_GCM_SHA256", 6)]),
        alpn: counts(&[("h2", 5), ("http/1.1", 4)]),
        ja3: set(&["871a754af286dfb70c1b53c6887c62e0"]),
        ja4: set(&["t13d1516h2_8daaf6152771_e5627efa2ab1"]),
        ja3s: set(&["15af977ce25de452b96affa2addb1036"]),
        certificate: Some(TlsCertificate {
            subject: "CN=tls.test".into(),
            issuer: "CN=Test CA".into(),
            not_before: 1_600_000_000,
            not_after: 1_900_000_000,
            key: "rsa 1024".into(),
        }),
        weaknesses: counts(&[("rsa_key_lt_2048", 9)]),
    };
    round_trips(&host);
    round_trips(&TlsHost { certificate: None, ..host });
    let mut overflow = Overflow { host: "*".into(), ..Overflow::default() };
    for (i, reason) in OverflowReason::ALL.iter().enumerate() {
        overflow.count(*reason, i as u64 + 1, 100 - i as i64);
    }
    assert_eq!(overflow.counts.len(), OverflowReason::ALL.len());
    round_trips(&overflow);
    round_trips(&TemplateOverride { host: Some("api.test".into()), template: "/users/me".into() });
    round_trips(&TemplateOverride { host: None, template: "/repos/{owner}/{repo}".into() });
}

#[test]
fn a_model_runs_catalog_round_trips() {
    let mut seen = BTreeSet::new();
    for seed in 1..12 {
        let mut catalog = Catalog::new(TemplateConfig { word_threshold: 3, ..TemplateConfig::default() });
        for obs in crate::contract::model_observations(seed, true) {
            let facts = apisonar_engine::catalog::TransactionFacts::new(&obs, &Default::default());
            catalog.record(&obs, facts, false);
        }
        for e in catalog.endpoints() {
            round_trips(e);
            let filled = [
                ("registers", !e.clients.registers.is_empty()),
                ("hashes", !e.clients.hashes.is_empty()),
                ("request schema", e.request_schema.is_some()),
                ("response schema", !e.response_schemas.is_empty()),
                ("formats", e.response_schemas.values().any(|s| s.properties.values().any(|p| !p.formats.is_empty()))),
                ("query", !e.query_params.is_empty()),
                ("form", !e.form_fields.is_empty()),
                ("jwt", e.auth.iter().any(|a| matches!(a.scheme, AuthScheme::Jwt { .. }))),
                ("sensitive", !e.sensitive.is_empty()),
                ("latency", e.latency.count > 0),
                ("encrypted", e.encrypted > 0),
                ("hourly", e.hourly.len() > 1),
                ("first seen", {
                    let times: BTreeSet<i64> = e.appearances().iter().map(|a| a.at).collect();
                    times.len() > 1
                }),
            ];
            seen.extend(filled.iter().filter(|(_, yes)| *yes).map(|(what, _)| *what));
        }
    }
    assert_eq!(seen.len(), 13, "the model's traffic fills every part of an endpoint; filled: {seen:?}");
}

/// The disk format is the records' JSON: pinned here, so that changing a record type by accident
/// (rather than in a new format with a migration) fails a test.
#[test]
fn format_2_is_pinned() {
    let e = Endpoint {
        host: "h".into(),
        method: "GET".into(),
        path: "/p".into(),
        hits: 1,
        auth: vec![AuthCount { scheme: AuthScheme::Jwt { alg: "HS256".into(), iss: None }, count: 1 }],
        query_params: BTreeMap::from([("q".into(), param(&[("string", 1)]))]),
        request_schema: Some(Schema::of_at(&json!({"e": "a@b.test"}), 5)),
        sensitive: BTreeMap::from([(
            "request.json.e".into(),
            SensitiveField {
                classes: BTreeMap::from([(Class::SpanishDni, 1)]),
                mask: "m".into(),
                first_seen: BTreeMap::from([(Class::SpanishDni, 6)]),
            },
        )]),
        ..Endpoint::default()
    };
    let bytes = encode(&e).unwrap_or_else(|err| panic!("{err}"));
    let expected = concat!(
        "\u{2}",
        r#"{"host":"h","method":"GET","path":"/p","hits":1,"first_seen":0,"last_seen":0,"clients":{},"#,
        r#""status_codes":{},"latency":{"count":0,"buckets":{}},"request_bytes":{"count":0,"min":0,"max":0,"total":0},"#,
        r#""response_bytes":{"count":0,"min":0,"max":0,"total":0},"request_content_types":{},"response_content_types":{},"#,
        r#""path_params":{},"query_params":{"q":{"count":1,"types":{"string":1},"first_seen":1699999999999999}},"#,
        r#""form_fields":{},"request_schema":{"samples":1,"types":{"object":1},"#,
        r#""properties":{"e":{"samples":1,"types":{"string":1},"formats":{"email":1},"first_seen":5}},"objects":1,"#,
        r#""first_seen":5},"response_schemas":{},"auth":[{"scheme":{"kind":"jwt","alg":"HS256","iss":null},"count":1}],"#,
        r#""cleartext":0,"encrypted":0,"sensitive":{"request.json.e":{"classes":{"spanish_dni":1},"mask":"m","#,
        r#""first_seen":{"spanish_dni":6}}},"why":[],"hourly":{}}"#
    );
    assert_eq!(String::from_utf8_lossy(&bytes), expected);
    // Written before first-seen times were kept: it reads, with no times (as old as its endpoint).
    let before = expected
        .replace(r#","first_seen":1699999999999999"#, "")
        .replace(r#","first_seen":5"#, "")
        .replace(r#","first_seen":{"spanish_dni":6}"#, "");
    assert!(!before.contains("first_seen\":5") && before.matches("first_seen").count() == 1, "{before}");
    let mut untimed = e.clone();
    untimed.query_params.values_mut().for_each(|p| p.first_seen = 0);
    untimed.request_schema = Some(Schema::of(&json!({"e": "a@b.test"})));
    untimed.sensitive.values_mut().for_each(|f| f.first_seen.clear());
    assert_eq!(decode::<Endpoint>(before.as_bytes()).unwrap_or_else(|err| panic!("{err}")), untimed);
}
