//! Each detector fires on its pattern and stays quiet on ordinary traffic.

#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use super::*;
use crate::ObservedResponse;

fn obs(
    client: u8,
    ts_secs: i64,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    status: u16,
    body: &str,
) -> Observation {
    Observation {
        ts: ts_secs * 1_000_000,
        client: std::net::IpAddr::from([10, 0, 0, client]),
        server: std::net::SocketAddr::from(([10, 0, 0, 1], 80)),
        host: Some("app.test".into()),
        method: method.into(),
        target: path.into(),
        request_headers: headers.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
        request_body: vec![],
        request_body_len: 0,
        response: Some(ObservedResponse {
            status,
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
            body_len: body.len() as u64,
            latency_micros: 1,
        }),
        encrypted: false,
        protocol: Default::default(),
    }
}

fn key(method: &str, path: &str) -> EndpointKey {
    EndpointKey { host: "app.test".into(), method: method.into(), path: path.into() }
}

fn kinds(alerts: &[Alert]) -> BTreeSet<String> {
    alerts
        .iter()
        .map(|a| format!("{}{}", a.kind, a.subtype.as_deref().map(|s| format!(":{s}")).unwrap_or_default()))
        .collect()
}

#[test]
fn enumeration_of_ids_with_mostly_404() {
    let mut b = Behavior::default();
    let k = key("GET", "/api/users/{user_id}");
    let mut raised = BTreeSet::new();
    for id in 1..=40 {
        let status = if id % 10 == 0 { 200 } else { 404 };
        raised.extend(kinds(&b.observe(&obs(9, id, "GET", &format!("/api/users/{id}"), &[], status, ""), &k)));
    }
    assert_eq!(raised, BTreeSet::from(["enumeration".to_string()]));
}

#[test]
fn brute_force_by_status_and_by_repeated_failure_body() {
    let mut b = Behavior::default();
    let k = key("POST", "/api/login");
    let mut raised = BTreeSet::new();
    for i in 0..12 {
        raised.extend(kinds(
            &b.observe(&obs(7, i, "POST", "/api/login", &[], 401, "{\"error\":\"bad credentials\"}"), &k),
        ));
    }
    assert_eq!(raised, BTreeSet::from(["brute_force".to_string()]));
    let mut b = Behavior::default();
    let mut raised = BTreeSet::new();
    for i in 0..12 {
        let mut o = obs(7, i, "POST", "/api/login", &[], 200, "{\"ok\":false}");
        o.request_body = b"user=admin&password=guess".to_vec();
        raised.extend(kinds(&b.observe(&o, &k)));
    }
    assert_eq!(raised, BTreeSet::from(["brute_force".to_string()]));
}

#[test]
fn bola_reading_other_principals_objects() {
    let mut b = Behavior::default();
    let k = key("GET", "/api/orders/{order_id}");
    // Alice's and Bob's own orders.
    for id in 1..=10 {
        b.observe(
            &obs(2, id, "GET", &format!("/api/orders/{id}"), &[("authorization", "Basic YWxpY2U6eA==")], 200, "{}"),
            &k,
        );
        b.observe(
            &obs(3, id, "GET", &format!("/api/orders/{}", id + 100), &[("authorization", "Basic Ym9iOnk=")], 200, "{}"),
            &k,
        );
    }
    // Mallory reads objects of Alice and of Bob.
    let mut raised = BTreeSet::new();
    for id in [1, 2, 101, 102, 3] {
        raised.extend(kinds(&b.observe(
            &obs(
                66,
                20 + id,
                "GET",
                &format!("/api/orders/{id}"),
                &[("authorization", "Basic bWFsbG9yeTp6")],
                200,
                "{}",
            ),
            &k,
        )));
    }
    assert_eq!(raised, BTreeSet::from(["bola".to_string()]));
}

/// The share of private objects is kept over every object of the endpoint as principals come
/// (an object read by a second principal stops being private), not counted from a sample.
#[test]
fn bola_weighs_the_private_share_of_every_object_of_the_endpoint() {
    let k = key("GET", "/api/orders/{order_id}");
    let read = |b: &mut Behavior, who: &str, id: usize, at: i64| {
        let auth = format!("Bearer {who}-0123456789abcdef");
        kinds(&b.observe(
            &obs(2, at, "GET", &format!("/api/orders/{id}"), &[("authorization", auth.as_str())], 200, "{}"),
            &k,
        ))
    };
    let mallory = |b: &mut Behavior| {
        let mut raised = BTreeSet::new();
        for id in [1, 2, 3, 4, 5] {
            raised.extend(read(b, "mallory", id, 100));
        }
        raised
    };
    // 2,000 orders, each read by its owner alone: private; Mallory reading five of them is
    // reaching across.
    let mut b = Behavior::default();
    for id in 0..2000 {
        read(&mut b, &format!("owner{id}"), id, 1);
    }
    assert_eq!(mallory(&mut b), BTreeSet::from(["bola".to_string()]));
    // The same 2,000, and 1,000 more that their owners share with a colleague: 2,000 private
    // of 3,000 (two thirds, under seven tenths), so sharing is how this endpoint is used.
    let mut b = Behavior::default();
    for id in 0..3000 {
        read(&mut b, &format!("owner{id}"), id, 1);
        if id >= 2000 {
            read(&mut b, &format!("colleague{id}"), id, 2);
        }
    }
    assert!(mallory(&mut b).is_empty());
    // With 600 of them shared instead: 2,400 private of 3,000 (eight tenths).
    let mut b = Behavior::default();
    for id in 0..3000 {
        read(&mut b, &format!("owner{id}"), id, 1);
        if id >= 2400 {
            read(&mut b, &format!("colleague{id}"), id, 2);
        }
    }
    assert_eq!(mallory(&mut b), BTreeSet::from(["bola".to_string()]));
}

#[test]
fn shared_resources_are_not_bola() {
    let mut b = Behavior::default();
    let k = key("GET", "/api/products/{sku}");
    let mut raised = BTreeSet::new();
    for round in 0..20 {
        for (client, user) in [(2u8, "YWxpY2U6eA=="), (3, "Ym9iOnk="), (4, "Y2Fyb2w6eg==")] {
            let sku = (round * 7 + i64::from(client)) % 15;
            let auth = format!("Basic {user}");
            raised.extend(kinds(&b.observe(
                &obs(client, round, "GET", &format!("/api/products/{sku}"), &[("authorization", &auth)], 200, "{}"),
                &k,
            )));
        }
    }
    assert!(raised.is_empty(), "{raised:?}");
}

#[test]
fn scanners_by_agent_and_by_404_burst() {
    let mut b = Behavior::default();
    let raised = kinds(
        &b.observe(&obs(5, 1, "GET", "/", &[("user-agent", "Mozilla/5.00 (Nikto/2.1.6)")], 200, ""), &key("GET", "/")),
    );
    assert_eq!(raised, BTreeSet::from(["scanner".to_string()]));
    let mut raised = Vec::new();
    for (i, p) in (0..40).map(|i| (i, format!("/probe{i}.php"))) {
        raised.extend(b.observe_probe(&obs(6, i, "GET", &p, &[], 404, ""), "api.test", &p));
    }
    // One alert per client and host, whatever gave it away, with its probes.
    let keys: BTreeSet<String> = raised.iter().map(Alert::dedup_key).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let last = &raised[raised.len() - 1];
    assert_eq!((last.kind.as_str(), last.path.as_str(), last.client.as_deref()), ("scanner", "*", Some("10.0.0.6")));
    assert!(last.evidence.contains("40 probes") && last.evidence.contains("/probe0.php"), "{}", last.evidence);
}

#[test]
fn a_scanner_with_a_tool_agent_and_a_burst_is_one_alert() {
    let mut b = Behavior::default();
    let mut raised = Vec::new();
    for i in 0..40 {
        let p = format!("/admin{i}");
        raised.extend(b.observe_probe(
            &obs(7, i, "GET", &p, &[("user-agent", "gobuster/3.6")], 404, ""),
            "api.test",
            &p,
        ));
    }
    let keys: BTreeSet<String> = raised.iter().map(Alert::dedup_key).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let last = &raised[raised.len() - 1];
    assert!(last.title.contains("gobuster"), "{}", last.title);
    assert!(
        last.evidence.contains("user agent names gobuster") && last.evidence.contains("answered 404"),
        "{}",
        last.evidence
    );
}

#[test]
fn rate_and_error_spikes_against_the_baseline() {
    let mut b = Behavior::default();
    let k = key("GET", "/health");
    // Baseline: 5 requests per 10 s for 2 minutes.
    for s in 0..120 {
        if s % 2 == 0 {
            assert!(b.observe(&obs(2, s, "GET", "/health", &[], 200, ""), &k).is_empty());
        }
    }
    let mut raised = BTreeSet::new();
    for i in 0..150 {
        raised.extend(kinds(&b.observe(&obs(20, 125, "GET", "/health", &[], if i < 60 { 200 } else { 503 }, ""), &k)));
        let _ = i;
    }
    assert_eq!(raised, BTreeSet::from(["rate_anomaly".to_string(), "error_spike".to_string()]));
}

#[test]
fn ordinary_use_raises_nothing() {
    let mut b = Behavior::default();
    let mut raised = BTreeSet::new();
    for round in 0..30 {
        for client in 2..5u8 {
            let user = ["YWxpY2U6eA==", "Ym9iOnk=", "Y2Fyb2w6eg=="][usize::from(client - 2)];
            let auth = format!("Basic {user}");
            let own = u32::from(client) * 100 + round % 5;
            let ts = i64::from(round) * 10 + i64::from(client);
            raised.extend(kinds(&b.observe(
                &obs(client, ts, "GET", &format!("/api/orders/{own}"), &[("authorization", &auth)], 200, "{}"),
                &key("GET", "/api/orders/{order_id}"),
            )));
            raised.extend(kinds(&b.observe(
                &obs(client, ts, "GET", "/api/search?q=shoes", &[("authorization", &auth)], 200, "[]"),
                &key("GET", "/api/search"),
            )));
            if round % 10 == 0 {
                raised.extend(kinds(&b.observe(
                    &obs(
                        client,
                        ts,
                        "POST",
                        "/api/login",
                        &[],
                        if round == 0 { 401 } else { 200 },
                        &format!("{{\"token\":\"t{round}{client}\"}}"),
                    ),
                    &key("POST", "/api/login"),
                )));
            }
            raised.extend(kinds(&b.observe(
                &obs(client, ts, "GET", "/api/users/999", &[("authorization", &auth)], 404, ""),
                &key("GET", "/api/users/{user_id}"),
            )));
        }
    }
    assert!(raised.is_empty(), "{raised:?}");
}

#[test]
fn packet_times_at_the_ends_of_the_range_do_not_overflow_the_windows() {
    let mut b = Behavior::default();
    for ts in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX, i64::MIN] {
        for status in [401, 404, 500] {
            let mut o = obs(1, 0, "POST", "/api/login", &[("authorization", "Basic dTpw")], status, "no");
            o.ts = ts;
            b.observe(&o, &key("POST", "/api/login"));
        }
    }
}

#[test]
fn the_distinct_404_window_counts_like_a_recount() {
    let mut window = DistinctWindow::default();
    let mut rng = apisonar_testkit::workload::Rng::seeded(7);
    let mut all: Vec<(i64, u64)> = Vec::new();
    let mut ts = 0i64;
    for i in 0..12_000usize {
        // About 5,000 in a second on average, fewer or more at times: both the time window and
        // the count bound cut in.
        ts += rng.below(if (i / 3_000) % 2 == 0 { 100 } else { 700 }) as i64;
        let (hash, start) = (rng.below(3_000), ts - 1_000_000);
        all.push((ts, hash));
        let distinct = window.push(ts, hash, start);
        if i % 10 == 0 {
            let kept: Vec<&(i64, u64)> = all.iter().filter(|(t, _)| *t >= start).collect();
            let kept = &kept[kept.len().saturating_sub(DISTINCT_WINDOW_MAX)..];
            let recount = kept.iter().map(|(_, h)| *h).collect::<BTreeSet<u64>>().len();
            assert_eq!(distinct, recount, "at {i}");
        }
    }
    assert!(window.seen.len() <= DISTINCT_WINDOW_MAX && window.counts.len() <= window.seen.len());
}

#[test]
fn distinct_sets_count_each_value_once_few_or_many_and_stop_at_their_cap() {
    let mut set = DistinctSet::default();
    let values: Vec<u64> = (0..200u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect();
    for (n, v) in values.iter().enumerate() {
        set.insert(*v, 150);
        set.insert(*v, 150);
        assert_eq!(set.len(), (n + 1).min(150), "after {} values", n + 1);
        if n < FEW_VALUES {
            assert!(matches!(set, DistinctSet::Few(_)), "a few values stay a sorted vector");
        } else {
            assert!(matches!(set, DistinctSet::Many(_)), "many values become a hash set");
        }
    }
    assert!(values.iter().take(150).all(|v| set.contains(*v)));
    assert!(!values.iter().skip(150).any(|v| set.contains(*v)), "nothing past the cap");
}

#[test]
fn clients_that_never_probe_or_miss_keep_no_scanner_state() {
    let mut b = Behavior::new(Thresholds::default());
    let k = key("GET", "/items/{id}");
    for client in 0..200u8 {
        b.observe(&obs(client, 1, "GET", &format!("/items/{client}"), &[], 200, "{}"), &k);
    }
    assert_eq!(b.clients.len(), 0, "answered requests need no scanner state");
    b.observe(&obs(7, 2, "GET", "/items/999", &[], 404, "{}"), &k);
    b.observe(&obs(8, 2, "GET", "/items/1", &[("user-agent", "sqlmap/1.7")], 200, "{}"), &k);
    assert_eq!(b.clients.len(), 2, "a miss and a tool's name start one each");
    // A later ordinary request still refreshes the client's place against eviction.
    b.observe(&obs(7, 9, "GET", "/items/7", &[], 200, "{}"), &k);
    let id = b.keys.hash_one((&std::net::IpAddr::from([10, 0, 0, 7]), "app.test"));
    assert_eq!(b.clients.get(&id).map(|c| c.last_seen), Some(9_000_000));
}

#[test]
fn only_endpoints_with_parameters_or_a_login_keep_state_per_client() {
    let mut b = Behavior::new(Thresholds::default());
    for client in 0..200u8 {
        b.observe(&obs(client, 1, "GET", "/health", &[], 200, "{}"), &key("GET", "/health"));
    }
    assert_eq!(b.pairs.len(), 0, "nothing to count per client on /health");
    b.observe(&obs(1, 1, "GET", "/items/5", &[], 200, "{}"), &key("GET", "/items/{id}"));
    b.observe(&obs(1, 1, "POST", "/login", &[], 401, "{}"), &key("POST", "/login"));
    assert_eq!(b.pairs.len(), 2, "enumeration and brute force count per client");
}

#[test]
fn remembered_user_agents_name_the_scanner_the_search_names() {
    let agents = [
        "sqlmap/1.7.2#stable (https://sqlmap.org)".to_string(),
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".to_string(),
        "curl/8.5.0".to_string(),
        "Mozilla/5.0 (compatible; Nmap Scripting Engine)".to_string(),
        format!("{}nikto", "x".repeat(300)),
        "x".repeat(300),
        String::new(),
    ];
    let mut memory = AgentMemory::default();
    for round in 0..3 {
        for agent in &agents {
            let mut o = crate::test_values::answered("/", 200, "application/json", "{}");
            o.request_headers = [("user-agent", agent.as_str())].into();
            assert_eq!(memory.scanner_tool(&o), scanner_tool(&o), "round {round}: {agent}");
        }
    }
    assert!(memory.scanner_tool(&crate::test_values::answered("/", 200, "text/plain", "")).is_none());
    // Long agents are not kept; the others are, once each.
    assert_eq!(memory.len(), 5);
    for i in 0..MAX_AGENTS + 10 {
        let mut o = crate::test_values::answered("/", 200, "application/json", "{}");
        o.request_headers = [("user-agent", format!("client/{i}").as_str())].into();
        assert_eq!(memory.scanner_tool(&o), None);
    }
    assert!(memory.len() <= MAX_AGENTS);
}
