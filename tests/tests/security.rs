//! Attacks and abuse on a recorded, deliberately vulnerable API (captures/security/): the exact
//! expected alerts from `vulnapi-attack.expected.tsv`, and no attack alert for benign clients,
//! in the attack capture and in the benign-only one.

use std::collections::BTreeSet;

use apisonar_tests::{apisonar, repo_root};

/// Alerts about data in cleartext are not attacks; the clients here log in over plain HTTP.
const DATA_KINDS: &[&str] = &["cleartext_credentials", "cleartext_sensitive_data", "sensitive_data_exposure"];
const BENIGN: &[&str] = &["127.0.0.2", "127.0.0.3", "127.0.0.4"];

fn normalize(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') && s.ends_with('}') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// (kind, subtype or "-", client, method, path) of every attack alert raised on a capture.
fn attack_alerts(capture: &str) -> BTreeSet<(String, String, String, String, String)> {
    let db =
        std::env::temp_dir().join(format!("apisonar-security-{}-{}", std::process::id(), capture.replace('/', "_")));
    let _ = std::fs::remove_dir_all(&db);
    let db = db.to_string_lossy().into_owned();
    assert_eq!(apisonar(&["analyze", "--db", &db, capture]).status.code(), Some(0));
    let out = apisonar(&["alerts", "--db", &db, "--format", "json"]);
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    alerts
        .iter()
        .filter(|a| !DATA_KINDS.contains(&a["kind"].as_str().unwrap_or_default()))
        .flat_map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or("-").to_string();
            let subtype = if a["kind"] == "injection_attempt" { s("subtype") } else { "-".to_string() };
            // An alert about one client names it; one about an endpoint lists its clients (few
            // here, so all of them are among the top clients).
            let clients: Vec<String> = match a["client"].as_str() {
                Some(client) => vec![client.to_string()],
                None => {
                    let top = a["top_clients"].as_array().cloned().unwrap_or_default();
                    assert_eq!(a["clients"].as_u64(), Some(top.len() as u64), "{a}");
                    top.iter().map(|c| c["client"].as_str().unwrap_or("-").to_string()).collect()
                }
            };
            let (kind, method, path) = (s("kind"), s("method"), normalize(&s("path")));
            clients.into_iter().map(move |c| (kind.clone(), subtype.clone(), c, method.clone(), path.clone()))
        })
        .collect()
}

#[test]
fn benign_use_raises_no_attack_alert() {
    let got = attack_alerts("captures/security/vulnapi-normal.pcap");
    assert!(got.is_empty(), "{got:#?}");
}

#[test]
fn each_attacker_raises_exactly_its_alerts() {
    let text =
        std::fs::read_to_string(repo_root().join("captures/security/vulnapi-attack.expected.tsv")).unwrap_or_default();
    let expected: BTreeSet<(String, String, String, String, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| c.get(i).copied().unwrap_or_default().to_string();
            (get(0), get(1), get(2), get(3), normalize(&get(4)))
        })
        .collect();
    assert!(expected.len() >= 14, "{expected:?}");
    let got = attack_alerts("captures/security/vulnapi-attack.pcap");
    let missing: Vec<_> = expected.difference(&got).collect();
    // The expectation file tolerates a rate anomaly on the other attackers' bursts.
    let tolerated = |a: &(String, String, String, String, String)| {
        a.0 == "rate_anomaly" && ["127.0.0.16", "127.0.0.17", "127.0.0.19"].contains(&a.2.as_str())
    };
    let extra: Vec<_> = got.difference(&expected).filter(|a| !tolerated(a)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:#?}\nextra {extra:#?}");
    assert!(got.iter().all(|a| !BENIGN.contains(&a.2.as_str())), "benign clients got attack alerts");
}

#[test]
fn thresholds_come_from_flags() {
    let db = apisonar_tests::scratch("security", "thresholds").to_string_lossy().into_owned();
    let run = apisonar(&[
        "analyze",
        "--db",
        &db,
        "--threshold",
        "brute_force_failures=1000",
        "captures/security/vulnapi-attack.pcap",
    ]);
    assert_eq!(run.status.code(), Some(0));
    let out = apisonar(&["alerts", "--db", &db, "--kind", "brute_force", "--format", "json"]);
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(alerts.is_empty(), "{alerts:?}");
    let bad = apisonar(&["analyze", "--db", &db, "--threshold", "no_such=1", "captures/security/vulnapi-normal.pcap"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown name"));
}

#[test]
fn thresholds_come_from_the_config_file_the_environment_and_flags() {
    let dir = apisonar_tests::scratch("security", "config");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("apisonar.toml");
    std::fs::write(&config, "[detection]\nbrute_force_failures = 1000\n").unwrap();
    let config = config.to_string_lossy().into_owned();
    let brute_force_alerts = |db: &str, extra: &[&str]| {
        let mut args = vec!["analyze", "--db", db, "--config", &config];
        args.extend_from_slice(extra);
        args.push("captures/security/vulnapi-attack.pcap");
        assert_eq!(apisonar(&args).status.code(), Some(0));
        let out = apisonar(&["alerts", "--db", db, "--kind", "brute_force", "--format", "json"]);
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap_or_default().len()
    };
    let from_file = dir.join("db-file").to_string_lossy().into_owned();
    assert_eq!(brute_force_alerts(&from_file, &[]), 0);
    let flag_wins = dir.join("db-flag").to_string_lossy().into_owned();
    assert!(brute_force_alerts(&flag_wins, &["--threshold", "brute_force_failures=10"]) > 0);

    // The environment sits between the file and the flags.
    let from_env = dir.join("db-env").to_string_lossy().into_owned();
    let run = std::process::Command::new(apisonar_tests::apisonar_bin())
        .args(["analyze", "--db", &from_env, "captures/security/vulnapi-attack.pcap"])
        .env("APISONAR_DETECTION_BRUTE_FORCE_FAILURES", "1000")
        .current_dir(repo_root())
        .status()
        .unwrap();
    assert_eq!(run.code(), Some(0));
    let out = apisonar(&["alerts", "--db", &from_env, "--kind", "brute_force", "--format", "json"]);
    assert!(serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap_or_default().is_empty());

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[detection]\nbrute_force_failurs = 3\n").unwrap();
    let bad = bad.to_string_lossy().into_owned();
    let out = apisonar(&["analyze", "--config", &bad, "captures/security/vulnapi-normal.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml") && stderr.contains("brute_force_failurs"), "{stderr}");
}
