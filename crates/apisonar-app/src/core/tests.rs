//! The core's promises: changes from the dashboard and the sensor's own writes never undo each
//! other, posture alerts reach the stream once per change, specs change templating at once, TLS
//! records are written as they come, retention runs on the stored inventory.

use std::sync::Arc;
use std::time::Duration;

use apisonar_engine::{AlertChange, AlertState, Observation, ObservedResponse};
use apisonar_store::{MemoryStore, Store};

use super::*;
use crate::writer::tests::Collected;
use crate::{command_channel, Command, Outcome};

const DAY: i64 = 86_400 * 1_000_000;

fn transaction(core: &Core, method: &str, target: &str, status: u16, ts: i64) -> AnalysedTransaction {
    let observation = Observation {
        ts,
        client: std::net::IpAddr::from([10, 0, 0, 7]),
        server: std::net::SocketAddr::from(([10, 0, 0, 1], 80)),
        host: Some("api.test".into()),
        method: method.into(),
        target: target.into(),
        request_headers: Default::default(),
        request_body: vec![],
        request_body_len: 0,
        response: Some(ObservedResponse {
            status,
            headers: [("content-type", "application/json")].into(),
            body: br#"{"id":1}"#.to_vec(),
            body_len: 8,
            latency_micros: 10,
        }),
        encrypted: false,
        protocol: Default::default(),
    };
    crate::analyse(observation, &core.mask_key())
}

/// Waits until the writer has done everything handed to it so far (a command is answered in
/// order after the writes before it).
fn settle(core: &mut Core) {
    core.execute(Command::ChangeAlert {
        id: u64::MAX,
        change: AlertChange::State(AlertState::Open),
        by: "t".into(),
        at: 0,
    })
    .unwrap();
}

fn spec(paths: &[&str]) -> Spec {
    let ops: Vec<String> = paths
        .iter()
        .map(|p| format!(r#""{p}": {{"get": {{"responses": {{"200": {{"description": "ok"}}}}}}}}"#))
        .collect();
    let text = format!(
        r#"{{"openapi": "3.0.0", "info": {{"title": "T", "version": "1"}}, "servers": [{{"url": "http://api.test"}}], "paths": {{{}}}}}"#,
        ops.join(",")
    );
    apisonar_engine::spec::parse("api.json", &text).unwrap()
}

fn open(store: &Arc<MemoryStore>, stream: Option<Collected>) -> Core {
    let stream = stream.map(|s| Box::new(s) as Box<dyn AlertStream>);
    Core::open(store.clone(), CoreOptions::default(), stream).unwrap()
}

#[test]
fn an_acknowledgement_survives_an_alert_that_keeps_firing() {
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    let (commands, queue) = command_channel();
    // A password in the query string: a cleartext-credentials alert on every request.
    let fire = |core: &Core, i: i64| transaction(core, "GET", "/login?password=hunter2-fires", 200, i);
    core.apply(fire(&core, 1));
    core.write();
    let acknowledger = std::thread::spawn(move || {
        let id = loop {
            // The alert is stored by the first write; acknowledge it as a person would.
            match commands.run(Command::ChangeAlert {
                id: 1,
                change: AlertChange::State(AlertState::Acknowledged),
                by: "t".into(),
                at: 0,
            }) {
                Ok(Outcome::Alert(Some(a))) => break a.id,
                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("{e}"),
            }
        };
        id
    });
    let mut sent = 1;
    while !acknowledger.is_finished() || sent < 400 {
        sent += 1;
        core.apply(fire(&core, sent));
        core.serve(&queue);
        if sent % 25 == 0 {
            // What `tick` does once a second: the sensor's writes keep coming.
            core.write();
        }
    }
    assert_eq!(acknowledger.join().unwrap(), 1);
    core.finish().unwrap();
    let alerts = store.alerts().unwrap();
    let fired: Vec<&Alert> = alerts.iter().filter(|a| a.kind == "cleartext_credentials").collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].state, AlertState::Acknowledged, "the sensor's writes did not undo it");
    assert_eq!(fired[0].count, sent as u64, "and no occurrence was lost");
}

#[test]
fn a_spec_upload_racing_the_posture_job_makes_one_alert_and_streams_it_once() {
    let store = Arc::new(MemoryStore::default());
    let stream = Collected::default();
    let mut core = open(&store, Some(stream.clone()));
    core.apply(transaction(&core, "GET", "/admin/debug", 200, DAY));
    core.apply(transaction(&core, "GET", "/items/7", 200, DAY));
    core.write();
    let (commands, queue) = command_channel();
    let upload = std::thread::spawn(move || commands.run(Command::AddSpec(Box::new(spec(&["/items/{item_id}"])))));
    // The periodic shadow/zombie sync keeps running while the upload is handled.
    while !upload.is_finished() {
        core.serve(&queue);
        core.sync_posture();
    }
    let outcome = upload.join().unwrap().unwrap();
    assert_eq!(outcome, Outcome::Posture { operations: 1, alerts: 1 });
    for _ in 0..3 {
        core.apply(transaction(&core, "GET", "/admin/debug", 200, 2 * DAY));
        core.sync_posture();
    }
    core.finish().unwrap();
    let shadow: Vec<Alert> = store.alerts().unwrap().into_iter().filter(|a| a.kind == "shadow_api").collect();
    assert_eq!(shadow.len(), 1, "{shadow:?}");
    assert_eq!(shadow[0].path, "/admin/debug");
    // The stream carried it once; more hits and more syncs are not news.
    let streamed = stream.0.lock().unwrap();
    assert_eq!(streamed.iter().filter(|a| a.kind == "shadow_api").count(), 1);
}

#[test]
fn a_resolved_posture_alert_that_comes_back_is_streamed_again() {
    let store = Arc::new(MemoryStore::default());
    store.put_spec(&spec(&["/items/{item_id}"])).unwrap();
    let stream = Collected::default();
    let mut core = open(&store, Some(stream.clone()));
    core.apply(transaction(&core, "GET", "/admin/debug", 200, DAY));
    core.sync_posture();
    let id = {
        settle(&mut core);
        let alerts = core.store().alerts().unwrap();
        alerts.iter().find(|a| a.kind == "shadow_api").map(|a| a.id).unwrap()
    };
    assert!(matches!(
        core.execute(Command::ChangeAlert {
            id,
            change: AlertChange::State(AlertState::Resolved),
            by: "t".into(),
            at: 0
        }),
        Ok(Outcome::Alert(Some(_)))
    ));
    core.sync_posture();
    core.apply(transaction(&core, "GET", "/admin/debug", 200, 3 * DAY));
    core.write();
    core.sync_posture();
    core.finish().unwrap();
    let states: Vec<AlertState> =
        stream.0.lock().unwrap().iter().filter(|a| a.kind == "shadow_api").map(|a| a.state).collect();
    assert_eq!(states, [AlertState::Open, AlertState::Open], "raised, then reopened by new traffic");
    let stored = store.alerts().unwrap().into_iter().find(|a| a.id == id).unwrap();
    assert_eq!(stored.state, AlertState::Open);
}

#[test]
fn a_spec_added_while_running_changes_templating_at_once() {
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    // Without a spec, `/orders/me` and `/orders/42` are two endpoints; the spec says `me` is a
    // value of `{order}` here (it documents only the parameter).
    let outcome = core.execute(Command::AddSpec(Box::new(spec(&["/orders/{order}"])))).unwrap();
    assert_eq!(outcome, Outcome::Posture { operations: 1, alerts: 0 });
    core.apply(transaction(&core, "GET", "/orders/me", 200, DAY));
    core.apply(transaction(&core, "GET", "/orders/42", 200, DAY));
    core.finish().unwrap();
    let paths: Vec<String> = store.endpoints().unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(paths, ["/orders/{order}"]);
}

#[test]
fn tls_records_are_written_with_the_next_write() {
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    let observation = apisonar_engine::tlsposture::TlsObservation {
        ts: DAY,
        client: "10.0.0.7".into(),
        server: "10.0.0.1:443".into(),
        sni: Some("secure.api.test".into()),
        offered_versions: vec![0x0303],
        negotiated_version: Some(0x0303),
        ..Default::default()
    };
    core.apply_tls(&observation);
    assert!(store.tls_hosts().unwrap().is_empty());
    settle(&mut core);
    let hosts = store.tls_hosts().unwrap();
    assert_eq!(hosts.iter().map(|h| (h.host.as_str(), h.sessions)).collect::<Vec<_>>(), [("secure.api.test", 1)]);
    core.finish().unwrap();
}

#[test]
fn retention_deletes_endpoints_and_alerts_not_seen_for_the_period() {
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    core.apply(transaction(&core, "GET", "/old?password=hunter2-retained", 200, DAY));
    core.apply(transaction(&core, "GET", "/new?password=hunter2-retained", 200, 10 * DAY));
    core.write();
    // Both raised a cleartext password alert; retention keeps what was seen in the last 5 days.
    assert_eq!(core.retain(5), 1);
    assert_eq!(core.finish().unwrap().endpoints, 1);
    let paths: Vec<String> = store.endpoints().unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(paths, ["/new"]);
    let alerts = store.alerts().unwrap();
    assert_eq!(alerts.iter().map(|a| a.path.as_str()).collect::<Vec<_>>(), ["/new"], "{alerts:?}");
}

#[test]
fn an_error_answer_handed_over_before_its_route_is_established_still_counts_there() {
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    // Another worker's batch with the 200s comes after the batch with the 404.
    core.apply(transaction(&core, "GET", "/users/999", 404, DAY));
    core.apply(transaction(&core, "GET", "/.env", 404, DAY));
    core.apply(transaction(&core, "GET", "/users/1", 200, DAY + 1));
    core.apply(transaction(&core, "GET", "/users/2", 200, DAY + 2));
    let stats = core.finish().unwrap();
    assert_eq!((stats.endpoints, stats.overflow.get(&OverflowReason::Probes)), (1, Some(&1)));
    let endpoints = store.endpoints().unwrap();
    let hits: Vec<(String, u64)> = endpoints.into_iter().map(|e| (e.path, e.hits)).collect();
    assert_eq!(hits, [("/users/{user_id}".to_string(), 3)]);
    let probes: u64 =
        store.overflow().unwrap().iter().map(|o| o.counts.get(&OverflowReason::Probes).copied().unwrap_or(0)).sum();
    assert_eq!(probes, 1, "only /.env was a probe");
}

#[test]
fn alerts_follow_their_endpoints_when_templating_merges_them() {
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj"];
    for (i, name) in names.iter().enumerate() {
        let target = format!("/notes/{name}-notes-{i}?password=hunter2-{i}");
        core.apply(transaction(&core, "GET", &target, 200, DAY + i as i64));
        // Written while the paths are still literal: the stored alerts must move too.
        if i % 3 == 0 {
            core.write();
        }
    }
    core.finish().unwrap();
    let endpoints: Vec<(String, String)> = store.endpoints().unwrap().into_iter().map(|e| (e.method, e.path)).collect();
    assert_eq!(endpoints, [("GET".to_string(), "/notes/{note}".to_string())]);
    let alerts = store.alerts().unwrap();
    let on: Vec<(&str, &str, u64, usize)> =
        alerts.iter().map(|a| (a.kind.as_str(), a.path.as_str(), a.count, a.clients.count())).collect();
    assert_eq!(on, [("cleartext_credentials", "/notes/{note}", names.len() as u64, 1)]);
}

fn rule(kind: &str) -> apisonar_engine::suppression::Suppression {
    apisonar_engine::suppression::Suppression {
        id: 0,
        kind: kind.into(),
        host: Some("api.test".into()),
        method: Some("GET".into()),
        path: Some("/login".into()),
        client: None,
        expires: None,
        reason: "the test rig's own password".into(),
        created_by: "alice".into(),
        created_at: 1,
        suppressed: 0,
        last_suppressed: None,
    }
}

#[test]
fn a_suppression_rule_drops_its_occurrences_counts_them_and_outlives_a_restart() {
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    let fire =
        |core: &Core, path: &str, i: i64| transaction(core, "GET", &format!("{path}?password=hunter2-fires"), 200, i);
    let added = core.execute(Command::AddSuppression(Box::new(rule("cleartext_credentials")))).unwrap();
    assert!(matches!(added, Outcome::Suppression(ref r) if r.id == 1), "{added:?}");
    for i in 1..=30 {
        core.apply(fire(&core, "/login", i));
        core.apply(fire(&core, "/logout", i));
    }
    settle(&mut core);
    let alerts = store.alerts().unwrap();
    let fired: Vec<(&str, u64)> =
        alerts.iter().filter(|a| a.kind == "cleartext_credentials").map(|a| (a.path.as_str(), a.count)).collect();
    assert_eq!(fired, [("/logout", 30)], "the muted endpoint raised nothing, the other everything");
    let example = alerts.iter().find_map(|a| a.example.clone()).unwrap_or_default();
    assert_eq!(example.request.first().map(String::as_str), Some("GET /logout?password=… HTTP/1.1"));
    assert_eq!(example.response.first().map(String::as_str), Some("HTTP/1.1 200 OK"));
    assert!(!format!("{example:?}").contains("hunter2"), "{example:?}");
    let stored = store.suppressions().unwrap();
    assert_eq!(stored.iter().map(|r| (r.id, r.suppressed, r.last_suppressed)).collect::<Vec<_>>(), [(1, 30, Some(30))]);
    assert_eq!(core.stats().alerts_suppressed, 30);
    core.finish().unwrap();

    // After a restart the rule still holds; removed, the endpoint alerts again.
    let mut core = open(&store, None);
    core.apply(fire(&core, "/login", 31));
    settle(&mut core);
    assert!(store.alerts().unwrap().iter().all(|a| a.path != "/login"));
    assert_eq!(core.execute(Command::RemoveSuppression(1)).unwrap(), Outcome::Removed(true));
    assert_eq!(core.execute(Command::RemoveSuppression(1)).unwrap(), Outcome::Removed(false));
    core.apply(fire(&core, "/login", 32));
    settle(&mut core);
    assert!(store.alerts().unwrap().iter().any(|a| a.path == "/login"));
    assert!(store.suppressions().unwrap().is_empty());
    // A rule that names no scope is refused.
    let unscoped =
        apisonar_engine::suppression::Suppression { host: None, method: None, path: None, ..rule("scanner") };
    assert!(matches!(core.execute(Command::AddSuppression(Box::new(unscoped))), Err(CoreError::Refused(_))));
    core.finish().unwrap();
}

#[test]
fn a_muted_shadow_endpoint_raises_no_posture_alert() {
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    core.apply(transaction(&core, "GET", "/documented", 200, 1));
    core.apply(transaction(&core, "GET", "/login", 200, 2));
    let muted = apisonar_engine::suppression::Suppression { ..rule("shadow_api") };
    core.execute(Command::AddSuppression(Box::new(muted))).unwrap();
    core.execute(Command::AddSpec(Box::new(spec(&["/documented"])))).unwrap();
    let shadows: Vec<String> =
        store.alerts().unwrap().iter().filter(|a| a.kind == "shadow_api").map(|a| a.path.clone()).collect();
    assert!(shadows.is_empty(), "{shadows:?}");
    core.execute(Command::RemoveSuppression(1)).unwrap();
    core.sync_posture();
    settle(&mut core);
    let shadows: Vec<String> =
        store.alerts().unwrap().iter().filter(|a| a.kind == "shadow_api").map(|a| a.path.clone()).collect();
    assert_eq!(shadows, ["/login"]);
    core.finish().unwrap();
}

#[test]
fn merged_transactions_are_handed_back_once_and_stay_bounded_when_nobody_takes_them() {
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    for i in 0..3 {
        core.apply(transaction(&core, "GET", &format!("/items/{i}"), 200, DAY + i));
    }
    let mut back = Vec::new();
    core.hand_back(&mut back);
    assert_eq!(back.len(), 3);
    core.hand_back(&mut back);
    assert_eq!(back.len(), 3, "what was handed back is not handed back again");
    let many = MAX_LEFTOVERS + 100;
    for i in 0..many {
        core.apply(transaction(&core, "GET", &format!("/items/{i}"), 200, DAY + i as i64));
    }
    back.clear();
    core.hand_back(&mut back);
    assert_eq!(back.len(), MAX_LEFTOVERS);
    core.finish().unwrap();
    assert_eq!(store.endpoints().unwrap().len(), 1, "every transaction was merged all the same");
}

#[test]
fn a_login_answered_with_the_same_failure_page_is_brute_force_when_a_flow_worker_analysed_it() {
    // The worker frees the bodies of what it analysed, but for the POSTs that carry credentials
    // whose answers the brute-force check compares: a failure page served with 200.
    let store = Arc::new(MemoryStore::default());
    let mut core = open(&store, None);
    let mut worker = crate::Analyser::new(core.mask_key());
    for i in 0..12 {
        let mut observation = transaction(&core, "POST", "/api/login", 200, i).observation;
        observation.request_body = b"user=admin&password=guess".to_vec();
        observation.request_body_len = 25;
        if let Some(r) = observation.response.as_mut() {
            r.body = br#"{"ok":false}"#.to_vec();
        }
        let analysed = worker.analyse(observation);
        assert!(!analysed.observation.request_body.is_empty(), "a login's bodies stay for the merge");
        core.apply(analysed);
    }
    settle(&mut core);
    let kinds: Vec<String> = store.alerts().unwrap().iter().map(|a| a.kind.clone()).collect();
    assert!(kinds.iter().any(|k| k == "brute_force"), "{kinds:?}");
    core.finish().unwrap();
}
