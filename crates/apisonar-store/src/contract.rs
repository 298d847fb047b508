//! One test suite for every `Store`: the sled store and its in-memory twin must agree.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;

use apisonar_engine::{
    Alert, AlertChange, AlertMerge, AlertState, Catalog, Changes, Endpoint, EndpointKey, Observation, ObservedResponse,
    TemplateConfig,
};

use crate::{MemoryStore, SledOptions, SledStore, Store, StoreError, SCHEMA_VERSION};

fn endpoint(path: &str, hits: u64, last_seen: i64) -> Endpoint {
    Endpoint {
        host: "api.test".into(),
        method: "GET".into(),
        path: path.into(),
        hits,
        first_seen: 1,
        last_seen,
        ..Endpoint::default()
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("apisonar-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn contract(store: &dyn Store) {
    assert!(store.endpoints().unwrap_or_default().is_empty());
    let a = endpoint("/a", 1, 100);
    let b = endpoint("/b/{id}", 2, 200);
    store
        .apply(&Changes { upserts: vec![a.clone(), b.clone()], ..Changes::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    let mut got = store.endpoints().unwrap_or_default();
    got.sort_by(|x, y| x.path.cmp(&y.path));
    assert_eq!(got, vec![a.clone(), b.clone()]);
    let a2 = endpoint("/a", 5, 300);
    let removed = vec![EndpointKey { host: "api.test".into(), method: "GET".into(), path: "/b/{id}".into() }];
    store
        .apply(&Changes { upserts: vec![a2.clone()], removed, ..Changes::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.endpoints().unwrap_or_default(), vec![a2.clone()]);
    store
        .apply(&Changes { upserts: vec![endpoint("/old", 1, 10)], ..Changes::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.prune(50).unwrap_or(0), 1);
    assert_eq!(store.endpoints().unwrap_or_default(), vec![a2]);
    let o = crate::TemplateOverride { host: Some("api.test".into()), template: "/repos/{owner}/{repo}".into() };
    let any = crate::TemplateOverride { host: None, template: "/users/me".into() };
    store.add_override(&o).unwrap_or_else(|e| panic!("{e}"));
    store.add_override(&o).unwrap_or_else(|e| panic!("{e}"));
    store.add_override(&any).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.overrides().unwrap_or_default(), vec![any.clone(), o.clone()]);
    assert!(store.remove_override(&o).unwrap_or(false));
    assert!(!store.remove_override(&o).unwrap_or(true));
    assert_eq!(store.overrides().unwrap_or_default(), vec![any]);
    specs_and_alerts(store);
    overflow(store);
    let h = apisonar_engine::tlsposture::TlsHost { host: "tls.test".into(), sessions: 2, ..Default::default() };
    store.put_tls_hosts(std::slice::from_ref(&h)).unwrap_or_else(|e| panic!("{e}"));
    store.put_tls_hosts(std::slice::from_ref(&h)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.tls_hosts().unwrap_or_default(), vec![h]);
    suppressions(store);
    store.flush().unwrap_or_else(|e| panic!("{e}"));
}

/// The rule list is replaced whole: kept, changed and dropped rules come back so.
fn suppressions(store: &dyn Store) {
    use apisonar_engine::suppression::Suppression;
    let rule = |id: u64, suppressed: u64| Suppression {
        id,
        kind: "scanner".into(),
        host: id.is_multiple_of(2).then(|| "h".into()),
        method: None,
        path: None,
        client: Some(format!("10.0.0.{id}")),
        expires: (id == 3).then_some(99),
        reason: "our own scan".into(),
        created_by: "alice".into(),
        created_at: 5,
        suppressed,
        last_suppressed: (suppressed > 0).then_some(7),
    };
    assert!(store.suppressions().unwrap_or_else(|e| panic!("{e}")).is_empty());
    store.put_suppressions(&[rule(1, 0), rule(2, 0), rule(300, 4)]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.suppressions().unwrap_or_default(), [rule(1, 0), rule(2, 0), rule(300, 4)]);
    store.put_suppressions(&[rule(2, 6), rule(3, 0)]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.suppressions().unwrap_or_default(), [rule(2, 6), rule(3, 0)]);
}

fn settings(store: &dyn Store) {
    assert_eq!(store.setting("auth.admin").unwrap(), None);
    assert!(store.put_setting("auth.admin", Some(None), b"hash-1").unwrap());
    // Compare-and-swap: a second creator loses, an update with the right old value wins.
    assert!(!store.put_setting("auth.admin", Some(None), b"hash-2").unwrap());
    assert!(!store.put_setting("auth.admin", Some(Some(b"other")), b"hash-2").unwrap());
    assert_eq!(store.setting("auth.admin").unwrap().as_deref(), Some(&b"hash-1"[..]));
    assert!(store.put_setting("auth.admin", Some(Some(b"hash-1")), b"hash-2").unwrap());
    assert!(store.put_setting("auth.tokens", None, b"[]").unwrap());
    assert_eq!(store.setting("auth.admin").unwrap().as_deref(), Some(&b"hash-2"[..]));
    assert_eq!(store.setting("auth.tokens").unwrap().as_deref(), Some(&b"[]"[..]));
}

fn specs_and_alerts(store: &dyn Store) {
    use apisonar_engine::{Alert, AlertMerge, AlertState, Severity, Spec};
    let spec = Spec {
        name: "shop.yaml".into(),
        title: "Shop".into(),
        format: "openapi 3.1.0".into(),
        hosts: vec![],
        operations: vec![],
        graphql: None,
    };
    store.put_spec(&spec).unwrap_or_else(|e| panic!("{e}"));
    store.put_spec(&spec).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.specs().unwrap_or_default(), vec![spec]);
    assert!(store.remove_spec("shop.yaml").unwrap_or(false));
    assert!(store.specs().unwrap_or_default().is_empty());
    let draft = Alert { count: 2, first_seen: 10, last_seen: 20, evidence: "e".into(), ..draft_template() };
    let up = store.upsert_alert(&draft, AlertMerge::Add).unwrap_or_else(|e| panic!("{e}"));
    let a = up.alert.clone();
    assert!(up.is_new() && up.is_news() && a.id > 0);
    let up = store
        .upsert_alert(&Alert { count: 3, last_seen: 30, ..draft.clone() }, AlertMerge::Add)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!up.is_new() && !up.is_news(), "more of the same is not news");
    let b = up.alert;
    assert_eq!((b.id, b.count, b.first_seen, b.last_seen), (a.id, 5, 10, 30));
    let up = store
        .upsert_alert(&Alert { severity: Severity::High, ..draft.clone() }, AlertMerge::Add)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(up.is_news(), "a higher severity is news");
    let c = store
        .upsert_alert(&Alert { count: 7, ..draft.clone() }, AlertMerge::Replace)
        .unwrap_or_else(|e| panic!("{e}"))
        .alert;
    assert_eq!((c.count, c.last_seen), (7, 30));
    let other = store
        .upsert_alert(&Alert { client: Some("10.0.0.9".into()), ..draft.clone() }, AlertMerge::Add)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(other.is_new() && other.alert.id > a.id);
    let other = (other.alert, true);
    let change = |id: u64, change: AlertChange, by: &str, at: i64| {
        store.change_alert(id, &change, by, at).unwrap_or_else(|e| panic!("{e}"))
    };
    change(a.id, AlertChange::Assign(Some("  alice ".into())), "bob", 1_000);
    change(a.id, AlertChange::Comment("looking into it".into()), "alice", 2_000);
    assert!(change(a.id, AlertChange::Comment("   ".into()), "alice", 2_500).is_some_and(|x| x.comments.len() == 1));
    let resolved = change(a.id, AlertChange::State(AlertState::Resolved), "alice", 3_000);
    assert_eq!(resolved.as_ref().map(|r| r.state), Some(AlertState::Resolved));
    let resolved = resolved.unwrap_or_else(|| panic!("no alert"));
    assert_eq!(resolved.assignee.as_deref(), Some("alice"));
    assert_eq!(
        resolved.comments,
        [apisonar_engine::alert::Comment { at: 2_000, by: "alice".into(), text: "looking into it".into() }]
    );
    assert_eq!(
        resolved.history,
        [apisonar_engine::alert::StateChange {
            at: 3_000,
            by: "alice".into(),
            state: AlertState::Resolved,
            note: None
        }]
    );
    let same = change(a.id, AlertChange::State(AlertState::Resolved), "carol", 4_000);
    assert_eq!(same.map(|x| x.history.len()), Some(1), "no change, no entry");
    assert_eq!(change(9999, AlertChange::State(AlertState::Open), "x", 0), None);
    let again =
        store.upsert_alert(&Alert { last_seen: 40, ..draft }, AlertMerge::Add).unwrap_or_else(|e| panic!("{e}"));
    assert!(again.is_news(), "reopening is news");
    let again = again.alert;
    assert_eq!(again.state, AlertState::Open, "a resolved alert that fires again reopens");
    let reopened = again.history.last().unwrap_or_else(|| panic!("no history"));
    assert_eq!((reopened.by.as_str(), reopened.at, reopened.state), ("sensor", 40, AlertState::Open));
    assert_eq!((again.assignee.as_deref(), again.comments.len()), (Some("alice"), 1), "triage outlives occurrences");
    let all = store.alerts().unwrap_or_default();
    assert_eq!(all.len(), 2);
    assert!(all[0].id < all[1].id, "listed oldest first");
    assert!(store.has_alert(&all[1].dedup_key()).unwrap());
    assert!(!store.has_alert("no such key").unwrap());
    for a in &all {
        assert_eq!(store.alert_by_key(&a.dedup_key()).unwrap().as_ref(), Some(a));
    }
    assert_eq!(store.alert_by_key("no such key").unwrap(), None);
    // Retention: the alert last seen at 20 goes, the one at 40 stays, with its key.
    assert_eq!(store.prune_alerts(30).unwrap(), 1);
    let kept = store.alerts().unwrap_or_default();
    assert_eq!(kept.iter().map(|a| a.last_seen).collect::<Vec<_>>(), [40]);
    assert!(!store.has_alert(&other.0.dedup_key()).unwrap());
    assert_eq!(store.alert_by_key(&other.0.dedup_key()).unwrap(), None, "pruned with its key");
    let renewed =
        store.upsert_alert(&Alert { client: Some("10.0.0.9".into()), ..draft_template() }, AlertMerge::Add).unwrap();
    assert!(renewed.is_new() && renewed.alert.id > other.0.id, "a pruned alert that fires again is new");
}

fn draft_template() -> apisonar_engine::Alert {
    apisonar_engine::Alert {
        id: 0,
        kind: "shadow_api".into(),
        subtype: None,
        severity: apisonar_engine::Severity::Medium,
        title: "t".into(),
        host: "h".into(),
        method: "GET".into(),
        path: "/x".into(),
        client: None,
        count: 1,
        first_seen: 50,
        last_seen: 50,
        state: apisonar_engine::AlertState::Open,
        evidence: "e".into(),
        clients: Default::default(),
        top_clients: Vec::new(),
        samples: Vec::new(),
        example: None,
        history: Vec::new(),
        assignee: None,
        comments: Vec::new(),
    }
}

/// Endpoints refiled by templating take their alerts along: renamed, or merged into an alert
/// already on the new endpoint, following chains of moves.
fn alerts_follow_moved_endpoints(store: &dyn Store) {
    use apisonar_engine::{EndpointKey, EndpointMove};
    let key = |path: &str| EndpointKey { host: "h".into(), method: "GET".into(), path: path.into() };
    let on = |path: &str, kind: &str, count: u64, state| Alert {
        kind: kind.into(),
        path: path.into(),
        count,
        state,
        ..draft_template()
    };
    let mut ids = Vec::new();
    for a in [
        on("/books/alice-notes-0", "cleartext_credentials", 2, AlertState::Open),
        on("/books/{book}", "cleartext_credentials", 5, AlertState::Acknowledged),
        on("/books/bob-notes-1", "injection_attempt", 1, AlertState::Open),
        on("/b/x", "injection_attempt", 4, AlertState::Open),
        on("/unrelated", "injection_attempt", 1, AlertState::Open),
    ] {
        ids.push(store.upsert_alert(&a, AlertMerge::Add).unwrap().alert.id);
    }
    let moved = vec![
        EndpointMove { from: key("/books/alice-notes-0"), to: key("/books/{book}") },
        EndpointMove { from: key("/books/bob-notes-1"), to: key("/b/{id}") },
        EndpointMove { from: key("/b/x"), to: key("/b/{id}") },
        EndpointMove { from: key("/b/{id}"), to: key("/books/{book}") },
    ];
    store.apply(&Changes { moved, ..Changes::default() }).unwrap();
    let all: Vec<(String, String, u64, AlertState)> =
        store.alerts().unwrap().into_iter().map(|a| (a.path, a.kind, a.count, a.state)).collect();
    assert_eq!(
        all,
        [
            ("/books/{book}".to_string(), "cleartext_credentials".to_string(), 7, AlertState::Acknowledged),
            ("/books/{book}".to_string(), "injection_attempt".to_string(), 5, AlertState::Open),
            ("/unrelated".to_string(), "injection_attempt".to_string(), 1, AlertState::Open),
        ]
    );
    // The keys follow: a new occurrence lands on the moved alert.
    let up =
        store.upsert_alert(&on("/books/{book}", "injection_attempt", 1, AlertState::Open), AlertMerge::Add).unwrap();
    assert!(!up.is_new() && up.alert.count == 6, "{up:?}");
    assert!(!store.has_alert(&on("/b/x", "injection_attempt", 1, AlertState::Open).dedup_key()).unwrap());
}

fn overflow(store: &dyn Store) {
    use apisonar_engine::{Overflow, OverflowReason};
    let record = |host: &str, reason, n, ts| {
        let mut o = Overflow { host: host.into(), ..Overflow::default() };
        o.count(reason, n, ts);
        o
    };
    let first = vec![record("a.test", OverflowReason::Endpoints, 3, 10), record("*", OverflowReason::Hosts, 5, 20)];
    store.apply(&Changes { overflow: first, ..Changes::default() }).unwrap();
    let second =
        vec![record("a.test", OverflowReason::Endpoints, 2, 5), record("a.test", OverflowReason::Methods, 1, 30)];
    store.apply(&Changes { overflow: second, ..Changes::default() }).unwrap();
    let mut got = store.overflow().unwrap();
    got.sort_by(|x, y| x.host.cmp(&y.host));
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].host.as_str(), got[0].total()), ("*", 5));
    let a = &got[1];
    assert_eq!(a.counts.get(&OverflowReason::Endpoints), Some(&5));
    assert_eq!(a.counts.get(&OverflowReason::Methods), Some(&1));
    assert_eq!((a.first_seen, a.last_seen), (5, 30));
}

/// The observations of a model run: paths that template, merge and rename. With `traffic`, each
/// also carries what fills the rest of an endpoint: answers with JSON bodies (schemas, formats),
/// query strings and forms (parameters), auth headers, sensitive values, TLS, and more distinct
/// clients than are counted exactly (HyperLogLog registers).
pub(crate) fn model_observations(seed: u64, traffic: bool) -> Vec<Observation> {
    let mut x = seed;
    let mut out = Vec::new();
    for i in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let path = match x % 4 {
            0 => format!("/users/{}", x % 50),
            1 => format!("/tags/t{}x", x % 7),
            2 => format!("/tags/t{}x/items", x % 5),
            _ => "/health".to_string(),
        };
        let mut obs = Observation {
            ts: i,
            client: std::net::IpAddr::from([10, 0, 0, (x % 5) as u8]),
            server: std::net::SocketAddr::from(([10, 0, 0, 9], 80)),
            host: Some("api.test".into()),
            method: "GET".into(),
            target: path,
            request_headers: Default::default(),
            request_body: vec![],
            request_body_len: 0,
            response: None,
            encrypted: false,
            protocol: Default::default(),
        };
        if traffic {
            with_traffic(&mut obs, i, x);
        }
        out.push(obs);
    }
    out
}

fn with_traffic(obs: &mut Observation, i: i64, x: u64) {
    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci50ZXN0In0.c2lnbmF0dXJl";
    obs.ts = 1_700_000_000_000_000 + i * 7_000_000_000;
    obs.client = std::net::IpAddr::from([10, 1, (x % 3) as u8, (x % 101) as u8]);
    obs.encrypted = x.is_multiple_of(7);
    let header = |n: &str, v: &str| apisonar_engine::Headers::from([(n, v)]);
    obs.request_headers = match x % 6 {
        0 => header("authorization", &format!("Bearer {JWT}")),
        1 => header("authorization", "Basic dXNlcjpwYXNz"),
        2 => header("x-api-key", &format!("key-{}", x % 9)),
        3 => header("cookie", &format!("sessionid=s{}", x % 11)),
        4 => header("authorization", "Bearer opaque-token-value"),
        _ => Default::default(),
    };
    if x.is_multiple_of(3) {
        obs.target.push_str(&format!("?limit={}&q=w{}&since=2024-01-0{}", x % 100, x % 4, 1 + x % 9));
    }
    if x.is_multiple_of(5) {
        obs.method = "POST".into();
        let (content_type, body) = if x.is_multiple_of(2) {
            ("application/json", format!(r#"{{"name":"n{x}","password":"hunter{x}","email":"u{x}@example.test"}}"#))
        } else {
            ("application/x-www-form-urlencoded", format!("title=t{x}&count={}&when=2024-01-01", x % 13))
        };
        obs.request_headers.push("content-type", content_type);
        obs.request_body_len = body.len() as u64;
        obs.request_body = body.into_bytes();
    }
    let body = format!(
        r#"{{"id":{x},"uuid":"123e4567-e89b-12d3-a456-42661417400{}","created":"2024-01-01T00:00:00Z","tags":["a",{}],"score":1.5,"ok":true,"none":null,"owner":{{"email":"o{}@example.test","ip":"10.0.0.{}","site":"https://example.test/{}"}}}}"#,
        x % 10,
        x % 3,
        x % 4,
        x % 250,
        x % 5
    );
    obs.response = Some(ObservedResponse {
        status: [200, 201, 200, 302, 204][(x % 5) as usize],
        headers: header("content-type", "application/json"),
        body_len: body.len() as u64,
        body: body.into_bytes(),
        latency_micros: (x % 200_000) as i64,
    });
}

/// A model test: a random sequence of catalog changes leaves both stores with the catalog's state
/// (so every endpoint the catalog makes goes through the records and back unchanged).
fn model(store: &dyn Store, seed: u64, traffic: bool) {
    let mut catalog = Catalog::new(TemplateConfig { word_threshold: 3, ..TemplateConfig::default() });
    for (i, obs) in model_observations(seed, traffic).iter().enumerate() {
        catalog.record(obs, apisonar_engine::catalog::TransactionFacts::new(obs, &Default::default()), false);
        if i % 17 == 0 {
            store.apply(&catalog.take_changes()).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    store.apply(&catalog.take_changes()).unwrap_or_else(|e| panic!("{e}"));
    let mut stored = store.endpoints().unwrap_or_default();
    stored.sort_by_key(Endpoint::key);
    let expected: Vec<Endpoint> = catalog.endpoints().cloned().collect();
    assert!(!expected.is_empty());
    assert_eq!(stored, expected);
}

/// Eight writers upsert the same new alert at once, round after round: each round makes one
/// alert, whose count is every writer's, and exactly one writer is told it is new.
fn concurrent_upserts_make_one_alert(store: &(dyn Store + Sync)) {
    const WRITERS: usize = 8;
    const ROUNDS: usize = 40;
    const EACH: u64 = 3;
    let start = Barrier::new(WRITERS);
    let created: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
    let draft = |round: usize| Alert { kind: format!("race{round}"), count: 1, ..draft_template() };
    std::thread::scope(|s| {
        for _ in 0..WRITERS {
            s.spawn(|| {
                for (round, created) in created.iter().enumerate() {
                    start.wait();
                    for _ in 0..EACH {
                        if store.upsert_alert(&draft(round), AlertMerge::Add).unwrap().is_new() {
                            created.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let all = store.alerts().unwrap();
    for (round, created) in created.iter().enumerate() {
        let kind = format!("race{round}");
        let made: Vec<&Alert> = all.iter().filter(|a| a.kind == kind).collect();
        assert_eq!(made.len(), 1, "round {round}: {made:?}");
        assert_eq!(made[0].count, WRITERS as u64 * EACH, "round {round}");
        assert_eq!(created.load(Ordering::Relaxed), 1, "round {round}: writers told the alert was new");
        assert_eq!(store.alert_by_key(&draft(round).dedup_key()).unwrap().as_ref(), Some(made[0]));
    }
}

/// A state change and upserts of the same alert at once: neither loses the other's write.
fn state_changes_and_upserts_keep_each_other(store: &(dyn Store + Sync)) {
    const STEPS: u64 = 300;
    let draft = Alert { kind: "lifecycle".into(), count: 1, ..draft_template() };
    let first = store.upsert_alert(&draft, AlertMerge::Add).unwrap().alert;
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            for _ in 0..STEPS {
                store.upsert_alert(&draft, AlertMerge::Add).unwrap();
            }
        });
        s.spawn(|| {
            start.wait();
            // Ends acknowledged.
            for step in 0..STEPS {
                let state = if step % 2 == 0 { AlertState::Open } else { AlertState::Acknowledged };
                assert!(store.change_alert(first.id, &AlertChange::State(state), "u", step as i64).unwrap().is_some());
            }
        });
    });
    let stored = store.alert_by_key(&draft.dedup_key()).unwrap().unwrap_or_else(|| panic!("no alert"));
    assert_eq!(stored.count, 1 + STEPS, "no upsert lost to a state change");
    assert_eq!(stored.state, AlertState::Acknowledged, "no state change lost to an upsert");
}

#[test]
fn memory_store_keeps_the_contract() {
    contract(&MemoryStore::default());
    settings(&MemoryStore::default());
    for seed in 1..20 {
        model(&MemoryStore::default(), seed, false);
        model(&MemoryStore::default(), seed, true);
    }
    concurrent_upserts_make_one_alert(&MemoryStore::default());
    state_changes_and_upserts_keep_each_other(&MemoryStore::default());
    alerts_follow_moved_endpoints(&MemoryStore::default());
}

#[test]
fn sled_store_keeps_the_contract() {
    let dir = temp_dir("contract");
    contract(&SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}")));
    settings(&SledStore::open(&temp_dir("settings"), &SledOptions::default()).unwrap_or_else(|e| panic!("{e}")));
    alerts_follow_moved_endpoints(
        &SledStore::open(&temp_dir("moves"), &SledOptions::default()).unwrap_or_else(|e| panic!("{e}")),
    );
    for seed in 1..5 {
        let dir = temp_dir(&format!("model{seed}"));
        model(&SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}")), seed, false);
        let dir = temp_dir(&format!("traffic{seed}"));
        model(&SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}")), seed, true);
    }
}

#[test]
fn sled_alert_upserts_are_atomic() {
    let store = SledStore::open(&temp_dir("upsert-race"), &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    concurrent_upserts_make_one_alert(&store);
    state_changes_and_upserts_keep_each_other(&store);
}

#[test]
fn reopening_keeps_data() {
    let dir = temp_dir("reopen");
    {
        let s = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        s.apply(&Changes { upserts: vec![endpoint("/kept", 3, 9)], ..Changes::default() })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let s = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.endpoints().unwrap_or_default(), vec![endpoint("/kept", 3, 9)]);
}

#[test]
fn opening_waits_for_a_handle_that_is_going_away() {
    let dir = temp_dir("held");
    let held = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(400));
        drop(held);
    });
    // The lock is held when this starts: the open waits for it instead of failing.
    let s = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.endpoints().unwrap_or_default().is_empty());
    release.join().unwrap_or_else(|_| panic!("the releasing thread panicked"));
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let dir = temp_dir("newer");
    {
        let db = sled::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        let meta = db.open_tree("meta").unwrap_or_else(|e| panic!("{e}"));
        meta.insert(b"schema_version", &(SCHEMA_VERSION + 1).to_be_bytes()).unwrap_or_else(|e| panic!("{e}"));
        db.open_tree("endpoints").and_then(|t| t.insert(b"x", b"future data")).unwrap_or_else(|e| panic!("{e}"));
        db.flush().unwrap_or_else(|e| panic!("{e}"));
    }
    match SledStore::open(&dir, &SledOptions::default()) {
        Err(StoreError::NewerSchema { found, .. }) => assert_eq!(found, SCHEMA_VERSION + 1),
        other => panic!("expected NewerSchema, got {:?}", other.err()),
    }
    let db = sled::open(&dir).unwrap_or_else(|e| panic!("{e}"));
    let kept = db.open_tree("endpoints").and_then(|t| t.get(b"x")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kept.as_deref(), Some(&b"future data"[..]));
}

#[test]
fn damaged_records_are_an_error_not_a_panic() {
    let dir = temp_dir("damaged");
    {
        let db = sled::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        db.open_tree("endpoints").and_then(|t| t.insert(b"k", b"\x01{not json")).unwrap_or_else(|e| panic!("{e}"));
        db.flush().unwrap_or_else(|e| panic!("{e}"));
    }
    let s = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(s.endpoints(), Err(StoreError::Damaged(_))));
    let file = temp_dir("not-a-dir");
    std::fs::write(&file, b"x").unwrap_or_default();
    assert!(matches!(SledStore::open(&file, &SledOptions::default()), Err(StoreError::Open { .. })));
}
