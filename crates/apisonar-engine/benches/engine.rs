//! Engine benchmark (not a test): observations per second through the catalog, and memory per
//! endpoint. Run with `cargo bench -p apisonar-engine` (release profile).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use apisonar_engine::catalog::TransactionFacts;
use apisonar_engine::sensitive::MaskKey;
use apisonar_engine::{Catalog, Observation, ObservedResponse, TemplateConfig};

fn rss_kib() -> u64 {
    apisonar_testkit::resident_kib().unwrap_or(0)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A realistic observation on one of `resources` resource kinds of one of `hosts` hosts.
fn observation(rng: &mut Rng, hosts: u64, resources: u64) -> Observation {
    let host = format!("api{}.example.test", rng.next() % hosts);
    let resource = format!("res{}", rng.next() % resources);
    let id = rng.next() % 100_000;
    let (method, target, body) = match rng.next() % 6 {
        0 => ("GET", format!("/api/v1/{resource}?limit=20&offset={}", id % 100), String::new()),
        1 | 2 => ("GET", format!("/api/v1/{resource}/{id}"), String::new()),
        3 => (
            "POST",
            format!("/api/v1/{resource}"),
            format!(
                "{{\"name\":\"n{id}\",\"email\":\"u{id}@ex.test\",\"tags\":[\"a\",\"b\"],\"meta\":{{\"n\":{id}}}}}"
            ),
        ),
        4 => ("PUT", format!("/api/v1/{resource}/{id}"), format!("{{\"name\":\"n{id}\",\"active\":true}}")),
        _ => ("GET", format!("/api/v1/{resource}/{id}/items/{}", id % 7), String::new()),
    };
    // Each resource kind answers with its own shape, as real APIs do.
    let response = format!("{{\"{resource}_id\":{id},\"name\":\"n{id}\",\"email\":\"u{id}@ex.test\",\"created\":\"2024-01-01T00:00:00Z\",\"owner\":{{\"id\":{},\"uuid\":\"3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c1d\"}}}}", id % 13);
    Observation {
        ts: 1_700_000_000_000_000 + (rng.next() % 1_000_000) as i64,
        client: IpAddr::from([10, 0, (rng.next() % 200) as u8, (rng.next() % 250) as u8]),
        server: SocketAddr::from(([10, 9, 0, 1], 443)),
        host: Some(host),
        method: method.into(),
        target,
        request_headers: [
            ("content-type", "application/json"),
            ("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIiwiaXNzIjoiYXV0aCJ9.c2ln"),
            ("user-agent", "bench/1"),
        ]
        .into(),
        request_body: body.clone().into_bytes(),
        request_body_len: body.len() as u64,
        response: Some(ObservedResponse {
            status: 200,
            headers: [("content-type", "application/json")].into(),
            body: response.clone().into_bytes(),
            body_len: response.len() as u64,
            latency_micros: (rng.next() % 50_000) as i64,
        }),
        encrypted: false,
        protocol: Default::default(),
    }
}

/// What a browser sends to a web application's API: analytics, preferences, consent, a CSRF
/// token and a session.
const BROWSER_COOKIES: &str = "_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; \
theme=dark; lang=en-GB; consent=necessary%2Canalytics; tz=Europe%2FLondon; \
csrftoken=Zk3q9XcV7mN2pL8rT4wY6uB1; _fbp=fb.1.1700000000000.1234567890; cart_id=8f14e45fceea167a; \
last_seen=2024-11-30T12%3A00%3A00Z; ab_test=variant_b; sessionid=q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3";

fn main() {
    // Memory first, in a fresh process: a catalog of about 10,000 endpoints.
    let mut rng = Rng(7);
    let before = rss_kib();
    let mut big = Catalog::new(TemplateConfig::default());
    for _ in 0..150_000 {
        let o = observation(&mut rng, 100, 30);
        big.record(&o, TransactionFacts::new(&o, &MaskKey::default()), false);
    }
    let after = rss_kib();
    let per_endpoint = (after.saturating_sub(before)) as f64 * 1024.0 / big.len().max(1) as f64;
    println!(
        "memory: {} endpoints, RSS grew {} KiB = {:.0} bytes per endpoint",
        big.len(),
        after - before,
        per_endpoint
    );
    drop(big);

    // Throughput: many observations over a realistic number of endpoints.
    let mut rng = Rng(42);
    let inputs: Vec<Observation> = (0..200_000).map(|_| observation(&mut rng, 4, 25)).collect();
    // A flow worker's part alone, as the sensor runs it: one sampler (its memories of answers,
    // clean header fields, user agents and Authorization values) for the whole run, best of 3.
    let worker_facts = |inputs: &[Observation]| {
        let mut fastest = f64::MAX;
        for _ in 0..3 {
            let mut sampler = apisonar_engine::catalog::ResponseSampler::default();
            let started = Instant::now();
            let facts = inputs.iter().map(|o| TransactionFacts::sampled(o, &MaskKey::default(), &mut sampler)).count();
            fastest = fastest.min(started.elapsed().as_secs_f64());
            assert_eq!(facts, inputs.len());
        }
        fastest * 1e6 / inputs.len() as f64
    };
    println!(
        "worker facts, sampled: {:.2} µs per observation (every request with the same JWT bearer token)",
        worker_facts(&inputs)
    );
    // The same requests as a browser sends them: a session cookie among a dozen others.
    let browser: Vec<Observation> = inputs
        .iter()
        .take(100_000)
        .cloned()
        .map(|mut o| {
            o.request_headers.push("cookie", BROWSER_COOKIES);
            o
        })
        .collect();
    println!("worker facts, sampled, with browser cookies: {:.2} µs per observation", worker_facts(&browser));
    let mut catalog = Catalog::new(TemplateConfig::default());
    let started = Instant::now();
    for o in &inputs {
        catalog.record(o, TransactionFacts::new(o, &MaskKey::default()), false);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "throughput: {} observations in {:.3} s = {:.0} observations/s ({} endpoints)",
        inputs.len(),
        secs,
        inputs.len() as f64 / secs,
        catalog.len()
    );
}
