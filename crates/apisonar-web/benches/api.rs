//! Dashboard API benchmark (not a test): response times of the inventory, detail, overview and
//! alert routes on a sled store with 10,000 endpoints and 100,000 alerts. Run with
//! `cargo bench -p apisonar-web` (release profile).

use std::sync::Arc;
use std::time::Instant;

use apisonar_engine::{Alert, AlertMerge, AlertState, Changes, Endpoint, Severity};
use apisonar_store::{SledOptions, SledStore, Store};
use apisonar_web::{auth, router, AppState};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

const ENDPOINTS: usize = 10_000;
const ALERTS: usize = 100_000;

fn fill(store: &SledStore) {
    let mut upserts = Vec::new();
    for i in 0..ENDPOINTS {
        let mut e = Endpoint {
            host: format!("api{}.example.test", i % 50),
            method: ["GET", "POST", "PUT", "DELETE"][i % 4].into(),
            path: format!("/api/v1/res{}/{{id}}/sub{}", i / 4, i % 7),
            hits: (i as u64 * 7919) % 10_000 + 1,
            first_seen: 1_700_000_000_000_000,
            last_seen: 1_700_000_000_000_000 + i as i64 * 1_000_000,
            cleartext: (i % 3) as u64,
            encrypted: 10,
            why: vec!["segment 4 is an integer".into()],
            ..Endpoint::default()
        };
        e.status_codes.insert(200, e.hits);
        for h in 0..24 {
            e.hourly.insert(472_222 + h, 3);
        }
        upserts.push(e);
    }
    store.apply(&Changes { upserts, ..Changes::default() }).expect("endpoints");
    for i in 0..ALERTS {
        let a = Alert {
            id: 0,
            kind: ["cleartext_credentials", "injection_attempt", "enumeration", "bola"][i % 4].into(),
            subtype: None,
            severity: [Severity::Low, Severity::Medium, Severity::High, Severity::Critical][i % 4],
            title: format!("alert {i}"),
            host: format!("api{}.example.test", i % 50),
            method: "GET".into(),
            path: format!("/api/v1/res{}/{{id}}/sub{}", (i % ENDPOINTS) / 4, i % 7),
            client: Some(format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)),
            count: 1,
            first_seen: i as i64,
            last_seen: i as i64,
            state: AlertState::Open,
            evidence: "masked".into(),
            clients: Default::default(),
            top_clients: Vec::new(),
            samples: Vec::new(),
            example: None,
            history: Vec::new(),
            assignee: None,
            comments: Vec::new(),
        };
        store.upsert_alert(&a, AlertMerge::Add).expect("alert");
    }
    store.flush().expect("flush");
}

fn main() {
    let dir = std::env::temp_dir().join(format!("apisonar-web-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SledStore::open(&dir, &SledOptions::default()).expect("store");
    let started = Instant::now();
    fill(&store);
    println!("filled {ENDPOINTS} endpoints and {ALERTS} alerts in {:.1} s", started.elapsed().as_secs_f64());
    let new = auth::NewToken {
        name: "bench",
        scopes: vec![auth::Scope::Read],
        created: "2026-11-30T00:00:00Z".into(),
        expires: None,
    };
    let (token, _) = auth::create_token(&store, new).expect("token");
    let store: Arc<dyn apisonar_store::Store + Send + Sync> = Arc::new(store);
    let (commands, _core) =
        apisonar_app::spawn_serving(store.clone(), Default::default(), Box::new(|| false)).expect("core");
    let app = router(AppState::new(store, commands, None, true));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let id = apisonar_web::views::endpoint_id("api1.example.test", "POST", "/api/v1/res0/{id}/sub1");
    let routes = [
        "/api/v1/endpoints".to_string(),
        "/api/v1/endpoints?sort=hits&order=desc&page=20".into(),
        "/api/v1/endpoints?state=undocumented&encrypted=false&q=res12".into(),
        format!("/api/v1/endpoints/{id}"),
        "/api/v1/overview".into(),
        "/api/v1/hosts".into(),
        "/api/v1/alerts".into(),
        "/api/v1/alerts?severity=critical&page=100".into(),
        "/api/v1/alerts/99999".into(),
    ];
    println!(
        "Reads of the whole inventory and alert list are kept for {:?}: the first request after",
        apisonar_web::api::SNAPSHOT_TTL
    );
    println!("that reads the store (cold), the next ones reuse it (warm).");
    println!("{:<40} {:>10} {:>10} {:>10}", "route", "cold ms", "warm ms", "bytes");
    for route in routes {
        let mut best = f64::MAX;
        let mut cold = 0.0;
        let mut bytes = 0;
        std::thread::sleep(apisonar_web::api::SNAPSHOT_TTL);
        for i in 0..5 {
            let request = Request::get(&route).header("authorization", format!("Bearer {token}")).body(Body::empty());
            let t = Instant::now();
            let response = runtime.block_on(app.clone().oneshot(request.expect("request"))).expect("response");
            assert!(response.status().is_success(), "{route}: {}", response.status());
            let body = runtime.block_on(response.into_body().collect()).expect("body").to_bytes();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if i == 0 {
                cold = ms;
            } else {
                best = best.min(ms);
            }
            bytes = body.len();
        }
        let shown: String = route.chars().take(40).collect();
        println!("{shown:<40} {cold:>10.1} {best:>10.1} {bytes:>10}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
