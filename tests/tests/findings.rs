//! Sensitive data in cleartext: the exact alerts a capture with planted secrets raises, and a
//! search of every file of the store, the alert stream and the process output for the secrets.

use std::collections::BTreeSet;

use apisonar_testkit::synthetic::PLANTED_SECRETS;
use apisonar_tests::apisonar;

fn temp(name: &str) -> std::path::PathBuf {
    apisonar_tests::scratch("findings", name)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn alerts(db: &str) -> Vec<serde_json::Value> {
    let out = apisonar(&["alerts", "--db", db, "--format", "json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

#[test]
fn planted_secrets_raise_the_expected_alerts_and_never_reach_disk() {
    let db = temp("db");
    let stream = temp("alerts.jsonl");
    let (db_s, stream_s) = (db.to_string_lossy().into_owned(), stream.to_string_lossy().into_owned());
    let run =
        apisonar(&["analyze", "--db", &db_s, "--alerts", &stream_s, "captures/synthetic/secrets-in-cleartext.pcap"]);
    assert_eq!(run.status.code(), Some(0));
    let got: BTreeSet<(String, String, String, String)> = alerts(&db_s)
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("kind"), s("subtype"), s("method"), s("path"))
        })
        .collect();
    let expect = |k: &str, s: &str, m: &str, p: &str| (k.to_string(), s.to_string(), m.to_string(), p.to_string());
    let expected: BTreeSet<_> = [
        expect("cleartext_credentials", "password", "POST", "/login"),
        expect("cleartext_credentials", "session_cookie", "POST", "/login"),
        expect("cleartext_credentials", "basic_auth", "GET", "/api/me"),
        expect("cleartext_credentials", "session_cookie", "GET", "/api/me"),
        expect("cleartext_credentials", "jwt", "GET", "/api/orders"),
        expect("cleartext_credentials", "api_key", "GET", "/api/orders"),
        expect("cleartext_sensitive_data", "card_number", "POST", "/api/payments"),
        expect("cleartext_sensitive_data", "us_ssn", "POST", "/api/payments"),
        expect("cleartext_sensitive_data", "iban", "POST", "/api/payments"),
        expect("cleartext_sensitive_data", "email", "GET", "/api/users"),
        expect("sensitive_data_exposure", "emails", "GET", "/api/users"),
        expect("sensitive_data_exposure", "secrets", "GET", "/api/debug/config"),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected);
    for a in alerts(&db_s) {
        // Alerts about an endpoint count their clients: here one.
        assert!(a["client"].is_null(), "{a}");
        assert_eq!((a["clients"].as_u64(), &a["top_clients"][0]["client"]), (Some(1), &serde_json::json!("10.1.0.2")));
        assert!(
            a["evidence"].as_str().unwrap_or_default().contains("10.1.0.1:80")
                || a["kind"] == "sensitive_data_exposure"
        );
    }
    // The table names the one client of each alert.
    let table = apisonar(&["alerts", "--db", &db_s]);
    let table = String::from_utf8_lossy(&table.stdout);
    let rows: Vec<&str> = table.lines().filter(|l| l.contains(" open ")).collect();
    assert_eq!(rows.len(), expected.len(), "{table}");
    assert!(rows.iter().all(|l| l.split_whitespace().nth(5) == Some("10.1.0.2")), "{table}");
    let streamed = std::fs::read_to_string(&stream).unwrap_or_default();
    assert_eq!(streamed.lines().count(), expected.len(), "one JSON line per alert raised");

    // Every file of the store, the alert stream, and everything the processes printed.
    let inventory = apisonar(&["inventory", "--db", &db_s, "--format", "json"]);
    let listing = apisonar(&["alerts", "--db", &db_s, "--format", "json"]);
    let mut blobs: Vec<(String, Vec<u8>)> = vec![
        ("analyze stdout".into(), run.stdout.clone()),
        ("analyze stderr".into(), run.stderr.clone()),
        ("inventory output".into(), inventory.stdout.clone()),
        ("alerts output".into(), listing.stdout.clone()),
        ("alert stream".into(), streamed.into_bytes()),
    ];
    let mut stack = vec![db.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                blobs.push((path.display().to_string(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    assert!(blobs.len() > 6);
    for (name, bytes) in &blobs {
        for secret in PLANTED_SECRETS {
            assert!(!contains(bytes, secret), "{secret} found in {name}");
        }
    }
    // The sensitive fields are still described, by class and mask.
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&inventory.stdout).unwrap_or_default();
    let payments = rows.iter().find(|r| r["path"] == "/api/payments").unwrap_or_else(|| panic!("no payments"));
    assert_eq!(payments["sensitive"]["request.json.card"]["classes"]["card_number"], 1);
    assert!(payments["sensitive"]["request.json.card"]["mask"]
        .as_str()
        .unwrap_or_default()
        .starts_with("************1111"));
}

#[test]
fn benign_traffic_raises_no_credential_alerts() {
    let db = temp("benign").to_string_lossy().into_owned();
    for capture in ["captures/nginx-static.pcap", "captures/pipelined.pcap", "captures/ipv6.pcap"] {
        assert_eq!(apisonar(&["analyze", "--db", &db, capture]).status.code(), Some(0));
    }
    let kinds: Vec<String> = alerts(&db).iter().map(|a| a["kind"].as_str().unwrap_or_default().to_string()).collect();
    assert!(kinds.is_empty(), "{kinds:?}");
}

/// Thousands of clients sending credentials in cleartext to the same endpoints: one alert per
/// fact (kind, subtype, endpoint) whatever the number of clients, counting its clients and keeping
/// the busiest few and a few masked samples; `max_clients_per_alert` (which bounds the per-client
/// kinds) does not split them, and no occurrence is lost.
#[test]
fn many_clients_do_not_flood_the_alert_store() {
    use apisonar_testkit::pcap::{PcapWriter, LINKTYPE_ETHERNET};
    use apisonar_testkit::workload::{generate, Addresses, Pattern};
    let capture = temp("many-clients.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&capture).unwrap(), LINKTYPE_ETHERNET, 65535).unwrap();
    generate(Pattern::ShortConnections, Addresses::ManyPairs, 3_000_000, |ts, frame| w.write(ts, frame).unwrap());
    drop(w);
    let capture_s = capture.to_string_lossy().into_owned();
    let run_with = |name: &str, limit: &str| -> Vec<serde_json::Value> {
        let db = temp(name);
        let db_s = db.to_string_lossy().into_owned();
        let threshold = format!("max_clients_per_alert={limit}");
        let run = apisonar(&["analyze", "--db", &db_s, "--threshold", &threshold, &capture_s]);
        assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
        let stored = alerts(&db_s);
        let _ = std::fs::remove_dir_all(&db);
        stored
    };
    let limited = 5u64;
    let stored = run_with("many-clients-db", &limited.to_string());
    let mut groups: std::collections::BTreeMap<String, Vec<&serde_json::Value>> = Default::default();
    for a in &stored {
        let key = format!("{} {} {} {} {}", a["kind"], a["subtype"], a["host"], a["method"], a["path"]);
        groups.entry(key).or_default().push(a);
    }
    let mut crowded = 0;
    for (group, alerts) in &groups {
        let per_client = ["scanner", "brute_force", "enumeration", "bola", "rate_anomaly"]
            .contains(&alerts[0]["kind"].as_str().unwrap_or_default());
        if per_client {
            assert!(alerts.len() as u64 <= limited + 1, "{group}: {} alerts", alerts.len());
            assert!(alerts.iter().filter(|a| a["client"] == "*").count() <= 1, "{group}");
            continue;
        }
        assert_eq!(alerts.len(), 1, "{group}: one alert per fact");
        let a = alerts[0];
        assert!(a["client"].is_null(), "{a}");
        let clients = a["clients"].as_u64().unwrap_or(0);
        let top = a["top_clients"].as_array().cloned().unwrap_or_default();
        let top_total: u64 = top.iter().map(|c| c["count"].as_u64().unwrap_or(0)).sum();
        assert!(!top.is_empty() && top.len() <= 8 && top.len() as u64 <= clients, "{a}");
        assert!(top_total <= a["count"].as_u64().unwrap_or(0), "{a}");
        assert!(top.windows(2).all(|w| w[0]["count"].as_u64() >= w[1]["count"].as_u64()), "busiest first: {a}");
        let samples = a["samples"].as_array().map_or(0, Vec::len);
        assert!((1..=5).contains(&samples), "{a}");
        if clients > limited {
            crowded += 1;
        }
    }
    assert!(crowded > 0, "the workload has endpoints with more clients than the limit: {groups:#?}");
    // The same run with a limit never reached: the same alerts, the same occurrences.
    let unlimited = run_with("many-clients-db2", "1000000");
    let total = |alerts: &[serde_json::Value], kind: &str| -> u64 {
        alerts.iter().filter(|a| a["kind"] == kind).map(|a| a["count"].as_u64().unwrap_or(0)).sum()
    };
    for kind in ["cleartext_credentials", "cleartext_sensitive_data"] {
        assert!(total(&stored, kind) > 0, "{kind}");
        assert_eq!(total(&stored, kind), total(&unlimited, kind), "{kind}: occurrences are kept, only grouped");
        let of = |alerts: &[serde_json::Value]| alerts.iter().filter(|a| a["kind"] == kind).count();
        assert_eq!(of(&stored), of(&unlimited), "{kind}");
    }
    let _ = std::fs::remove_file(&capture);
}

/// Repeats of an alert already pending are counted without drafting it again: every occurrence
/// the sensor raised (its `alerts_raised` counter) is in the stored counts, no more, no fewer,
/// with several workers and with one.
#[test]
fn every_raised_occurrence_is_in_the_stored_counts() {
    let captures = ["captures/security/vulnapi-attack.pcap", "captures/apis/fastapi-shop.pcap"];
    for workers in ["1", "2"] {
        let db = temp(&format!("raised-{workers}"));
        let db_s = db.to_string_lossy().into_owned();
        let mut args = vec!["run", "--db", &db_s, "--workers", workers, "--status-interval", "0", "--summary", "json"];
        for c in &captures {
            args.extend(["-r", c]);
        }
        let out = apisonar(&args);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let raised = summary["capture"]["alerts_raised"].as_u64().unwrap_or(0);
        let stored = alerts(&db_s);
        let counted: u64 = stored.iter().map(|a| a["count"].as_u64().unwrap_or(0)).sum();
        assert!(raised > 100, "{summary}");
        assert_eq!(counted, raised, "workers {workers}: {} alerts stored", stored.len());
        // Repeats really happened: fewer alerts than occurrences.
        assert!((stored.len() as u64) < raised);
    }
}
