//! Discovery against ground truth: recorded traffic of real API servers (FastAPI, Flask, Express,
//! Django REST framework), each with the framework's own OpenAPI document. The operations the
//! client exercised (captures/apis/<name>.truth.tsv) are compared endpoint by endpoint with the
//! inventory; precision and recall are printed and must stay above a floor.

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
}

fn score(name: &str) -> Score {
    let db = apisonar_tests::scratch("discovery", name).to_string_lossy().into_owned();
    let capture = format!("captures/apis/{name}.pcap");
    assert_eq!(apisonar(&["analyze", "--db", &db, &capture]).status.code(), Some(0));
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
    }
}

#[test]
fn discovered_endpoints_match_the_frameworks_own_specs() {
    let mut failures = Vec::new();
    let (mut p_sum, mut r_sum, mut n) = (0.0, 0.0, 0.0);
    for name in ["fastapi-shop", "flask-taskboard", "express-codehost", "django-newsroom"] {
        let s = score(name);
        println!("{name:<18} precision {:.2} recall {:.2}", s.precision, s.recall);
        for m in &s.missed {
            println!("    missed: {} {}", m.0, m.1);
        }
        for e in &s.extra {
            println!("    extra:  {} {}", e.0, e.1);
        }
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
