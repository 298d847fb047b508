//! The inventory: what makes an endpoint (evidence, probes), and its caps: hosts, endpoints per
//! host and methods per host stay within their limits, traffic over them is counted per host, and
//! retention deletes old endpoints.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::*;
use crate::test_values::Observe;

fn obs(host: &str, method: &str, target: &str, ts: i64) -> Observation {
    crate::test_values::request(host, method, target, ts)
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

fn answered(host: &str, method: &str, target: &str, status: u16) -> Observation {
    let mut o = obs(host, method, target, 1);
    if let Some(r) = o.response.as_mut() {
        r.status = status;
    }
    o
}

fn paths(c: &Catalog) -> BTreeSet<String> {
    c.endpoints().map(|e| format!("{} {}", e.method, e.path)).collect()
}

#[test]
fn error_answers_on_unknown_paths_are_probes_and_make_no_endpoint() {
    let mut c = Catalog::new(TemplateConfig::default());
    for path in ["/.git/config", "/wp-login.php", "/admin/backup.zip", "/api/v9/x"] {
        let r = c.observe(&answered("a.test", "GET", path, 404)).unwrap();
        assert_eq!(r.probe.as_deref(), Some(path));
        assert_eq!((r.key.method.as_str(), r.key.path.as_str()), ("*", "*"));
    }
    for status in [400, 405, 422, 500] {
        assert!(c.observe(&answered("a.test", "POST", "/nothing", status)).unwrap().probe.is_some());
    }
    assert!(c.is_empty(), "{:?}", paths(&c));
    let changes = c.take_changes();
    let probes = changes.overflow.iter().find(|o| o.host == OTHER_HOSTS).unwrap();
    assert_eq!(probes.counts[&OverflowReason::Probes], 8);
    assert!(probes.examples.iter().any(|e| e == "/.git/config"), "{:?}", probes.examples);
}

#[test]
fn an_established_route_counts_its_error_answers() {
    let mut c = Catalog::new(TemplateConfig::default());
    for id in 1..=3 {
        c.observe(&answered("a.test", "GET", &format!("/users/{id}"), 200));
    }
    let missing = c.observe(&answered("a.test", "GET", "/users/999", 404)).unwrap();
    assert_eq!((missing.key.path.as_str(), missing.probe.as_deref()), ("/users/{user_id}", None));
    // Another method on the same path has no route of its own yet: a probe.
    assert!(c.observe(&answered("a.test", "DELETE", "/users/4", 405)).unwrap().probe.is_some());
    assert_eq!(c.endpoints().next().unwrap().hits, 4);
    assert_eq!(paths(&c), BTreeSet::from(["GET /users/{user_id}".to_string()]));
}

#[test]
fn challenges_make_endpoints_only_under_an_established_prefix() {
    let mut c = Catalog::new(TemplateConfig::default());
    c.observe(&answered("a.test", "GET", "/api/items", 200));
    assert!(c.observe(&answered("a.test", "GET", "/api/admin", 401)).unwrap().probe.is_none());
    assert!(c.observe(&answered("a.test", "GET", "/internal/admin", 403)).unwrap().probe.is_some());
    assert!(c.observe(&answered("a.test", "GET", "/secret", 401)).unwrap().probe.is_some());
    assert_eq!(paths(&c), BTreeSet::from(["GET /api/admin".to_string(), "GET /api/items".to_string()]));
}

#[test]
fn scanners_make_no_endpoints_except_documented_ones() {
    let mut c = Catalog::new(TemplateConfig::default());
    c.pin_all(Some("a.test"), &["/v1/orders/{order}".to_string()]);
    let facts = |o: &Observation| TransactionFacts::new(o, &crate::sensitive::MaskKey::default());
    let probe = answered("a.test", "GET", "/admin", 200);
    assert!(c.record(&probe, facts(&probe), true).unwrap().probe.is_some(), "a scanner's 200 is no evidence");
    let documented = answered("a.test", "GET", "/v1/orders/7", 404);
    assert_eq!(c.record(&documented, facts(&documented), true).unwrap().key.path, "/v1/orders/{order}");
    // A known endpoint counts a scanner's hits too.
    assert!(c.record(&documented, facts(&documented), true).unwrap().probe.is_none());
    assert_eq!(paths(&c), BTreeSet::from(["GET /v1/orders/{order}".to_string()]));
}

#[test]
fn unanswered_requests_are_evidence_only_on_hosts_that_never_answer() {
    let mut c = Catalog::new(TemplateConfig::default());
    let mut one_way = obs("tap.test", "GET", "/orders", 1);
    one_way.response = None;
    assert!(c.observe(&one_way).unwrap().probe.is_none(), "a one-way tap still builds an inventory");
    c.observe(&answered("b.test", "GET", "/items", 200));
    let mut lost = obs("b.test", "GET", "/.env", 1);
    lost.response = None;
    assert!(c.observe(&lost).unwrap().probe.is_some(), "a host that answers must answer");
    assert_eq!(paths(&c).len(), 2);
}

#[test]
fn probes_do_not_shape_templates_and_paths_are_normalised() {
    let mut c = Catalog::new(TemplateConfig::default());
    for (path, status) in
        [("/api/v2/products/1", 200), ("/api/v2/products/2", 200), ("/api/v2/customers/3/addresses", 200)]
    {
        c.observe(&answered("a.test", "GET", path, status));
    }
    for word in ["admin", "backup", "config", "test", "old", "debug", "private", "tmp", "logs", "data", "x1", "x2"] {
        c.observe(&answered("a.test", "GET", &format!("/api/{word}"), 404));
        c.observe(&answered("a.test", "GET", &format!("/api/v2/{word}/1"), 404));
    }
    let traversal = c.observe(&answered("a.test", "GET", "/api/v2/customers/3/../../../../etc/passwd", 404)).unwrap();
    assert_eq!(traversal.probe.as_deref(), Some("/etc/passwd"));
    let dotted = c.observe(&answered("a.test", "GET", "/api/v2/./products//%2e%2e/products/5", 200)).unwrap();
    assert_eq!(dotted.key.path, "/api/v2/products/{product_id}");
    assert_eq!(
        paths(&c),
        BTreeSet::from([
            "GET /api/v2/customers/{customer_id}/addresses".to_string(),
            "GET /api/v2/products/{product_id}".to_string(),
        ])
    );
}

#[test]
fn probe_examples_keep_no_secrets_and_are_bounded() {
    let mut c = Catalog::new(TemplateConfig::default());
    let token = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    for path in [
        format!("/reset/{token}"),
        "/users/alice@example.com/delete".to_string(),
        "/pay/4111111111111111".to_string(),
        format!("/{}", "a".repeat(500)),
    ] {
        c.observe(&answered("a.test", "GET", &path, 404));
    }
    for i in 0..20 {
        c.observe(&answered("a.test", "GET", &format!("/wordlist-{i}"), 404));
    }
    let changes = c.take_changes();
    let examples = &changes.overflow[0].examples;
    assert_eq!(examples.len(), MAX_PROBE_EXAMPLES);
    let text = examples.join(" ");
    for secret in [token, "alice@example.com", "4111111111111111"] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(text.contains("/reset/{") && text.contains("/users/{email}/delete"), "{text}");
    assert!(examples.iter().all(|e| e.chars().count() <= 120), "{examples:?}");
}

#[test]
fn content_types_are_named_in_lower_case_without_their_parameters() {
    let of = |value: &str| content_type(&crate::observation::Headers::from([("content-type", value)]));
    assert_eq!(of("Application/JSON; charset=utf-8").as_deref(), Some("application/json"));
    assert!(matches!(of("application/json"), Some(Cow::Borrowed(_))), "a common type is not copied");
    assert_eq!(of(" Application/Vnd.Api+JSON ;v=2").as_deref(), Some("application/vnd.api+json"));
    assert_eq!(of("TEXT/EVENT-STREAM").as_deref(), Some("text/event-stream"));
    assert_eq!(of("; charset=utf-8"), None);
    assert_eq!(of(""), None);
    assert_eq!(content_type(&crate::observation::Headers::default()), None);
}

#[test]
fn a_rename_moves_the_paths_under_its_prefix_on_its_host_only() {
    let mut c = Catalog::new(TemplateConfig::default());
    let all = [
        ("a.test", "GET", "/files/x"),
        ("a.test", "PUT", "/files/x"),
        ("a.test", "GET", "/files/x/meta"),
        ("a.test", "GET", "/files/xy"),
        ("a.test", "GET", "/files"),
        ("b.test", "GET", "/files/x"),
    ];
    for (host, method, path) in all {
        c.observe(&obs(host, method, path, 1));
    }
    let keys = |c: &Catalog| c.endpoints().map(|e| format!("{} {} {}", e.host, e.method, e.path)).collect::<Vec<_>>();
    // In key order (host, method, path), whatever order the map keeps them in.
    let before = keys(&c);
    let mut sorted = before.clone();
    sorted.sort();
    assert_eq!(before, sorted);
    c.take_changes();

    c.rename("a.test", "/files/x", "/files/{name}");
    assert_eq!(
        keys(&c),
        [
            "a.test GET /files",
            "a.test GET /files/xy",
            "a.test GET /files/{name}",
            "a.test GET /files/{name}/meta",
            "a.test PUT /files/{name}",
            "b.test GET /files/x",
        ]
    );
    let changes = c.take_changes();
    let moved: Vec<String> =
        changes.moved.iter().map(|m| format!("{} {} -> {}", m.from.method, m.from.path, m.to.path)).collect();
    assert_eq!(
        moved,
        ["GET /files/x -> /files/{name}", "GET /files/x/meta -> /files/{name}/meta", "PUT /files/x -> /files/{name}"],
        "in key order"
    );
    // The host's index followed: the new paths are found by the next rename, the old ones gone.
    c.rename("a.test", "/files/{name}", "/files/{id}");
    assert_eq!(paths(&c).iter().filter(|p| p.contains("{id}")).count(), 3);
    c.rename("a.test", "/files/x", "/files/gone");
    assert!(!paths(&c).iter().any(|p| p.contains("gone")));
    assert_eq!(
        c.hosts.get("a.test").map(|h| h.paths.len()),
        Some(c.endpoints().filter(|e| e.host == "a.test").count())
    );
}

#[test]
fn a_transaction_recorded_on_the_route_its_hold_check_found_is_recorded_as_if_routed_again() {
    // Hits, new routes, error answers on known and unknown paths, a challenge, a scanner, a
    // pinned template: two catalogs, one recording on the hold check's route, one routing again.
    let mut checked = Catalog::new(TemplateConfig::default());
    let mut routed_again = Catalog::new(TemplateConfig::default());
    for c in [&mut checked, &mut routed_again] {
        c.pin(Some("a.test"), "/orders/{order}");
    }
    let mut held = 0;
    for i in 0..400u32 {
        let (path, status) = match i % 9 {
            0 => (format!("/users/{}", i % 37), 200),
            1 => (format!("/users/{}", i % 37), 404),
            2 => (format!("/users/{}/posts", i % 5), 200),
            3 => (format!("/nothing/{i}"), 404),
            4 => ("/account".to_string(), 401),
            5 => (format!("/users/{}/secret", i % 3), 401),
            6 => (format!("/orders/{i}"), 500),
            7 => ("/health".to_string(), 200),
            _ => (format!("/v{}/items", i % 4), 200),
        };
        let scanner = i % 13 == 0;
        let mut o = answered("a.test", if i % 7 == 0 { "POST" } else { "GET" }, &path, status);
        o.ts = i64::from(i);
        let facts = || TransactionFacts::new(&o, &crate::sensitive::MaskKey::default());
        let (mut one, mut two) = (facts(), facts());
        let a = match checked.hold_check(&o, &one, scanner) {
            HoldCheck::Hold => {
                held += 1;
                checked.record_from(&o, &mut one, scanner)
            }
            HoldCheck::Merge(routed) => checked.record_routed(&o, &mut one, scanner, routed),
        };
        let b = routed_again.record_from(&o, &mut two, scanner);
        let key = |r: &Option<Recorded>| r.as_ref().map(|r| (r.key.clone(), r.probe.clone()));
        assert_eq!(key(&a), key(&b), "{path} {status}");
    }
    assert!(held > 0, "some were tentative");
    let state = |c: &Catalog| c.endpoints().map(|e| (e.key(), e.hits, e.path_params.clone())).collect::<Vec<_>>();
    assert_eq!(state(&checked), state(&routed_again));
    assert!(checked.len() > 4);
}
