//! The inventory's caps: hosts, endpoints per host and methods per host stay within their
//! limits, traffic over them is counted per host, and retention deletes old endpoints.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::*;
use crate::observation::ObservedResponse;
use crate::test_values::Observe;

fn obs(host: &str, method: &str, target: &str, ts: i64) -> Observation {
    Observation {
        ts,
        client: std::net::IpAddr::from([10, 0, 0, 7]),
        server: std::net::SocketAddr::from(([10, 0, 0, 1], 80)),
        host: Some(host.into()),
        method: method.into(),
        target: target.into(),
        request_headers: vec![],
        request_body: vec![],
        request_body_len: 0,
        response: Some(ObservedResponse { status: 200, headers: vec![], body: vec![], body_len: 0, latency_micros: 1 }),
        encrypted: false,
    }
}

fn small() -> Catalog {
    let limits =
        InventoryLimits { max_hosts: 3, max_endpoints_per_host: 4, max_methods_per_host: 2, ..Default::default() };
    Catalog::with_limits(TemplateConfig::default(), limits)
}

fn overflow_of(changes: &Changes, host: &str) -> BTreeMap<OverflowReason, u64> {
    changes.overflow.iter().find(|o| o.host == host).map(|o| o.counts.clone()).unwrap_or_default()
}

#[test]
fn hosts_beyond_the_cap_are_counted_together() {
    let mut c = small();
    for i in 0..100 {
        c.observe(&obs(&format!("h{i}.test"), "GET", "/", i));
    }
    let changes = c.take_changes();
    assert_eq!(c.endpoints().map(|e| e.host.as_str()).collect::<BTreeSet<_>>().len(), 3);
    assert_eq!(overflow_of(&changes, OTHER_HOSTS), BTreeMap::from([(OverflowReason::Hosts, 97)]));
    let other = changes.overflow.iter().find(|o| o.host == OTHER_HOSTS).unwrap();
    assert_eq!((other.first_seen, other.last_seen), (3, 99));
    // Admitted hosts still count their traffic.
    assert!(c.observe(&obs("h0.test", "GET", "/", 200)).is_some());
    assert_eq!(c.overflow_totals()[&OverflowReason::Hosts], 97);
}

#[test]
fn endpoints_and_methods_per_host_are_capped_and_counted_under_the_host() {
    let mut c = small();
    for name in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"] {
        c.observe(&obs("a.test", "GET", &format!("/{name}"), 1));
    }
    assert!(c.observe(&obs("a.test", "POST", "/alpha", 2)).is_none(), "the host is full: a new endpoint is refused");
    // Known endpoints keep counting.
    assert!(c.observe(&obs("a.test", "GET", "/alpha", 3)).is_some());
    let mut d = small();
    d.observe(&obs("b.test", "GET", "/", 1));
    d.observe(&obs("b.test", "POST", "/", 1));
    assert!(d.observe(&obs("b.test", "FOO", "/", 1)).is_none(), "a third method");
    assert!(d.observe(&obs("b.test", "POST", "/", 1)).is_some());
    let (cc, dc) = (c.take_changes(), d.take_changes());
    assert_eq!(c.len(), 4);
    assert_eq!(overflow_of(&cc, "a.test"), BTreeMap::from([(OverflowReason::Endpoints, 3)]));
    assert_eq!(overflow_of(&dc, "b.test"), BTreeMap::from([(OverflowReason::Methods, 1)]));
    // Overflow is handed over once.
    assert!(c.take_changes().overflow.is_empty());
}

#[test]
fn merged_templates_free_their_slots_and_retention_deletes_old_endpoints() {
    let mut c = Catalog::with_limits(
        TemplateConfig::default(),
        InventoryLimits { max_endpoints_per_host: 3, ..Default::default() },
    );
    c.observe(&obs("a.test", "GET", "/users/1", 10));
    c.observe(&obs("a.test", "GET", "/users/2", 10));
    c.observe(&obs("a.test", "GET", "/health", 20));
    c.observe(&obs("a.test", "GET", "/status", 30));
    assert_eq!(c.len(), 3, "ids share one template: three endpoints");
    assert_eq!(c.prune(25), 2);
    let changes = c.take_changes();
    assert_eq!(changes.removed.len(), 2);
    assert_eq!(c.len(), 1);
    // The freed slots take new endpoints again.
    assert!(c.observe(&obs("a.test", "GET", "/metrics", 40)).is_some());
    assert!(c.observe(&obs("a.test", "GET", "/ready", 40)).is_some());
    assert!(c.observe(&obs("a.test", "GET", "/live", 40)).is_none());
}
