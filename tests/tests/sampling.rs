//! Sampled response-body analysis (what the flow workers run) against full analysis, on every
//! recorded capture replayed until the sampler has settled on its answers: the inventory has
//! the same endpoints, every schema field path with its types and every sensitive class at its
//! location that full analysis finds. The guarantee the sampler states, tested on real traffic.
//! (Sampling may find more: an answer the sampler is still learning is merged whatever the
//! endpoint's own schema sampling says, so a field that only some answers carry is not skipped.)

#[path = "../../crates/apisonar/src/observe.rs"]
#[allow(dead_code)]
mod observe;

use std::collections::BTreeMap;
use std::sync::Arc;

use apisonar_app::{analyse, AnalysedTransaction, Analyser, Core, CoreOptions};
use apisonar_engine::catalog::Endpoint;
use apisonar_engine::schema::Schema;
use apisonar_engine::sensitive::MaskKey;
use apisonar_engine::Observation;
use apisonar_flow::{EventSink, FlowEngine, HttpTransaction, Limits, Timestamp};
use apisonar_store::{MemoryStore, Store};
use apisonar_wire::LinkType;

#[derive(Default)]
struct Collect(Vec<HttpTransaction>);

impl EventSink for Collect {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.0.push(txn);
    }
}

fn observations(file: &std::path::Path) -> Vec<Observation> {
    let (dlt, frames) =
        apisonar_testkit::pcap::read_pcap(&std::fs::read(apisonar_tests::repo_root().join(file)).unwrap()).unwrap();
    let link = LinkType::from_dlt(dlt as i32).unwrap();
    let mut engine = FlowEngine::new(Limits::default());
    let mut out = Collect::default();
    for (ts, frame) in &frames {
        engine.frame(link, Timestamp(*ts), frame, frame.len() as u32, &mut out);
    }
    engine.finish(&mut out);
    out.0.iter().map(observe::observation).collect()
}

/// Paths and types of a schema: `.items[].name: string`.
fn fields(schema: &Schema, at: &str, out: &mut Vec<String>) {
    let types: Vec<&str> = schema.types.keys().collect();
    out.push(format!("{at}: {}", types.join("|")));
    for (name, property) in &schema.properties {
        fields(property, &format!("{at}.{name}"), out);
    }
    if let Some(items) = &schema.items {
        fields(items, &format!("{at}[]"), out);
    }
}

/// What the guarantee covers, per endpoint.
fn summary(endpoints: Vec<Endpoint>) -> BTreeMap<String, Vec<String>> {
    endpoints
        .into_iter()
        .map(|e| {
            let mut facts = Vec::new();
            for (status, schema) in &e.response_schemas {
                fields(schema, &format!("response {status}"), &mut facts);
            }
            if let Some(schema) = &e.request_schema {
                fields(schema, "request", &mut facts);
            }
            for (location, field) in &e.sensitive {
                facts.push(format!("{location}: {:?}", field.classes.keys().collect::<Vec<_>>()));
            }
            (format!("{} {} {}", e.host, e.method, e.path), facts)
        })
        .collect()
}

fn inventory(transactions: impl Iterator<Item = AnalysedTransaction>) -> BTreeMap<String, Vec<String>> {
    let store = Arc::new(MemoryStore::default());
    let mut core = Core::open(store.clone(), CoreOptions::default(), None).unwrap();
    transactions.for_each(|t| core.apply(t));
    core.finish().unwrap();
    summary(store.endpoints().unwrap())
}

#[test]
fn sampled_answers_keep_every_field_path_and_sensitive_class_of_the_recorded_captures() {
    // Each capture replayed this many times (an hour apart): far more answers per shape than
    // the sampler needs to settle.
    const PASSES: i64 = 12;
    let key = MaskKey::new([3; 32]);
    let (mut analysed, mut reused) = (0, 0);
    let files: Vec<_> = apisonar_tests::captures()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "pcap"))
        .filter(|f| f.parent().is_some_and(|d| d.ends_with("apis") || d.ends_with("security")))
        .collect();
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let once = observations(&file);
        let replayed: Vec<Observation> = (0..PASSES)
            .flat_map(|pass| {
                once.iter().cloned().map(move |mut o| {
                    o.ts += pass * 3_600_000_000;
                    o
                })
            })
            .collect();
        let full = inventory(replayed.iter().cloned().map(|o| analyse(o, &key)));
        let mut analyser = Analyser::new(key);
        let sampled = inventory(replayed.into_iter().map(|o| analyser.analyse(o)).collect::<Vec<_>>().into_iter());
        let (a, r) = analyser.counts();
        analysed += a;
        reused += r;
        assert_eq!(full.keys().collect::<Vec<_>>(), sampled.keys().collect::<Vec<_>>(), "{file:?}");
        for (endpoint, facts) in &full {
            let kept = sampled.get(endpoint).cloned().unwrap_or_default();
            let missed: Vec<&String> = facts.iter().filter(|f| !kept.contains(f)).collect();
            assert!(missed.is_empty(), "{file:?}: {endpoint}: sampling missed {missed:?}");
            // Sensitive classes are exactly the same.
            let sensitive = |facts: &[String]| {
                facts.iter().filter(|f| f.starts_with("re") && f.contains(": [")).cloned().collect::<Vec<_>>()
            };
            assert_eq!(sensitive(facts), sensitive(&kept), "{file:?}: {endpoint}");
        }
    }
    // The sampler did settle on many answers (not all: an answer whose sensitive findings vary
    // from message to message never settles, and is analysed in full every time).
    assert!(reused * 5 > analysed + reused, "analysed in full {analysed}, reused {reused}");
}
