//! Discovery against ground truth: recorded traffic of real API servers (FastAPI, Flask, Express,
//! Django REST framework), each with the framework's own OpenAPI document. The operations the
//! client exercised (captures/apis/<name>.truth.tsv) are compared endpoint by endpoint with the
//! inventory; precision and recall are printed and must stay above a floor. The same APIs with a
//! scanner beside the clients (captures/apis/<name>-noisy.pcap) must give the same inventory.

use std::collections::BTreeSet;

use apisonar_tests::{apisonar, normalize_template, repo_root};

fn truth(name: &str) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join(format!("captures/apis/{name}.truth.tsv"))).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?.to_string(), normalize_template(cols.next()?)))
        })
        .collect()
}

struct Score {
    precision: f64,
    recall: f64,
    missed: Vec<(String, String)>,
    extra: Vec<(String, String)>,
    /// The store analysed into.
    db: String,
}

/// Analyses `captures/apis/<capture>.pcap` into a fresh store and scores its inventory against
/// `<name>.truth.tsv`.
fn score(name: &str, capture: &str) -> Score {
    let db = apisonar_tests::scratch("discovery", capture).to_string_lossy().into_owned();
    let pcap = format!("captures/apis/{capture}.pcap");
    assert_eq!(apisonar(&["analyze", "--db", &db, &pcap]).status.code(), Some(0));
    let out = apisonar(&["inventory", "--db", &db, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let found: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap_or_default().to_string(),
                normalize_template(r["path"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    let expected = truth(name);
    assert!(!expected.is_empty(), "no ground truth for {name}");
    let hits = found.intersection(&expected).count() as f64;
    Score {
        precision: hits / found.len().max(1) as f64,
        recall: hits / expected.len() as f64,
        missed: expected.difference(&found).cloned().collect(),
        extra: found.difference(&expected).cloned().collect(),
        db,
    }
}

#[test]
fn discovered_endpoints_match_the_frameworks_own_specs() {
    let mut failures = Vec::new();
    let (mut p_sum, mut r_sum, mut n) = (0.0, 0.0, 0.0);
    for name in ["fastapi-shop", "flask-taskboard", "express-codehost", "django-newsroom"] {
        let s = score(name, name);
        println!("{name:<18} precision {:.2} recall {:.2}", s.precision, s.recall);
        for m in &s.missed {
            println!("    missed: {} {}", m.0, m.1);
        }
        for e in &s.extra {
            println!("    extra:  {} {}", e.0, e.1);
        }
        let out = apisonar(&["alerts", "--db", &s.db, "--format", "json"]);
        let alerts: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        failures.extend(alerts_off_the_inventory(&s.db, &alerts).into_iter().map(|a| format!("{name}: {a}")));
        p_sum += s.precision;
        r_sum += s.recall;
        n += 1.0;
        if s.precision < 0.9 || s.recall < 0.9 {
            failures.push(format!("{name}: precision {:.2}, recall {:.2}", s.precision, s.recall));
        }
    }
    println!("mean               precision {:.2} recall {:.2}", p_sum / n, r_sum / n);
    assert!(failures.is_empty(), "{}", failures.join("; "));
}

/// Alerts that name an endpoint the inventory does not list (host-wide alerts, path `*`, name
/// none).
fn alerts_off_the_inventory(db: &str, alerts: &[serde_json::Value]) -> Vec<String> {
    let out = apisonar(&["inventory", "--db", db, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let listed: BTreeSet<(String, String, String)> = rows
        .iter()
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (field("host"), field("method"), field("path"))
        })
        .collect();
    alerts
        .iter()
        .filter(|a| a["path"] != "*")
        .filter(|a| {
            let field = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            !listed.contains(&(field("host"), field("method"), field("path")))
        })
        .map(|a| {
            format!("alert on an endpoint the inventory does not list: {} {} {}", a["kind"], a["method"], a["path"])
        })
        .collect()
}

/// The scanner in the noisy captures (captures/record/apis/scanner.py).
const SCANNER: &str = "127.0.0.9";

#[test]
fn a_scanner_beside_the_clients_leaves_the_inventory_as_the_route_table() {
    let mut failures = Vec::new();
    for name in ["fastapi-shop", "flask-taskboard", "express-codehost", "django-newsroom"] {
        let capture = format!("{name}-noisy");
        let s = score(name, &capture);
        println!("{capture:<24} precision {:.2} recall {:.2}", s.precision, s.recall);
        if !s.missed.is_empty() || !s.extra.is_empty() {
            failures.push(format!("{capture}: missed {:?}, extra {:?}", s.missed, s.extra));
        }
        // The ordinary clients attack nothing: every attack alert is the scanner's.
        let out = apisonar(&["alerts", "--db", &s.db, "--format", "json"]);
        let alerts: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert!(!alerts.is_empty(), "{capture}: no alerts at all");
        for a in &alerts {
            let kind = a["kind"].as_str().unwrap_or_default();
            let attack = ["injection_attempt", "scanner", "enumeration", "brute_force"];
            // An alert about one client names it; one about an endpoint lists its clients.
            let only_scanner = match a["client"].as_str() {
                Some(client) => client == SCANNER,
                None => {
                    a["clients"] == 1
                        && a["top_clients"].as_array().is_some_and(|t| t.iter().all(|c| c["client"] == SCANNER))
                }
            };
            if attack.contains(&kind) && !only_scanner {
                failures.push(format!("{capture}: {kind} alert on an ordinary client: {a}"));
            }
        }
        let scanner: Vec<&serde_json::Value> = alerts.iter().filter(|a| a["kind"] == "scanner").collect();
        assert_eq!(scanner.len(), 1, "{capture}: the scanner is one alert: {scanner:?}");
        assert_eq!(scanner[0]["client"], SCANNER, "{capture}");
        let evidence = scanner[0]["evidence"].as_str().unwrap_or_default();
        assert!(evidence.contains(" probes of paths no route answered, e.g. /"), "{capture}: {evidence}");
        failures.extend(alerts_off_the_inventory(&s.db, &alerts).into_iter().map(|a| format!("{capture}: {a}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
