//! Sensitive data in cleartext: the exact alerts a capture with planted secrets raises, and a
//! search of every file of the store, the alert stream and the process output for the secrets.

use std::collections::BTreeSet;

use apisonar_testkit::synthetic::PLANTED_SECRETS;
use apisonar_tests::apisonar;

fn temp(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("apisonar-findings-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    p
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
        assert_eq!(a["client"], "10.1.0.2");
        assert!(
            a["evidence"].as_str().unwrap_or_default().contains("10.1.0.1:80")
                || a["kind"] == "sensitive_data_exposure"
        );
    }
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
