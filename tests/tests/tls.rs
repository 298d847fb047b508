//! TLS handshakes recorded with openssl at several versions, ciphers and certificates
//! (captures/tls/): versions, JA3/JA3S (tshark's values), certificate key sizes and the weak-TLS
//! findings listed in captures/tls/expected.tsv, and the `weak_tls` alerts they raise.

use std::collections::{BTreeMap, BTreeSet};

use apisonar_tests::{apisonar, repo_root};

#[test]
fn handshakes_match_the_expected_table() {
    let out = apisonar(&["analyze", "--tls", "-", "captures/tls/tls-versions.pcap", "captures/tls/tls-certs.pcap"]);
    assert_eq!(out.status.code(), Some(0));
    let ours: BTreeMap<u64, serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|t| (t["flow"]["dst_port"].as_u64().unwrap_or(0), t))
        .collect();
    let text = std::fs::read_to_string(repo_root().join("captures/tls/expected.tsv")).unwrap_or_default();
    let mut rows = 0;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let c: Vec<&str> = line.split('\t').collect();
        let col = |i: usize| c.get(i).copied().unwrap_or_default();
        let port: u64 = col(1).parse().unwrap_or(0);
        let t = ours.get(&port).unwrap_or_else(|| panic!("no handshake on port {port}"));
        rows += 1;
        assert_eq!(t["sni"], col(2), "{port} sni");
        let negotiated = if col(6) == "refused" { serde_json::Value::Null } else { col(6).into() };
        assert_eq!(t["version"], negotiated, "{port} version");
        assert_eq!(t["ja3"], col(16), "{port} ja3");
        let ja3s = if col(17) == "-" { serde_json::Value::Null } else { col(17).into() };
        assert_eq!(t["ja3s"], ja3s, "{port} ja3s");
        let expected: BTreeSet<String> =
            col(18).split(',').filter(|w| *w != "none" && !w.is_empty()).map(str::to_string).collect();
        let got: BTreeSet<String> =
            t["weaknesses"].as_array().into_iter().flatten().filter_map(|w| w.as_str().map(str::to_string)).collect();
        assert_eq!(got, expected, "{port} weaknesses");
        if col(14) == "cleartext" {
            let bits: u64 = col(12).split_whitespace().find_map(|w| w.parse().ok()).unwrap_or(0);
            assert_eq!(t["certificate"]["key_bits"].as_u64(), Some(bits), "{port} key bits");
            let cn = col(8).split(',').find_map(|p| p.strip_prefix("CN=")).unwrap_or_default();
            assert!(
                t["certificate"]["subject"].as_str().unwrap_or_default().contains(&format!("CN={cn}")),
                "{port} subject"
            );
        }
    }
    assert_eq!(rows, 14);
    assert_eq!(ours.len(), 14, "one handshake per connection");
}

#[test]
fn weak_handshakes_raise_weak_tls_alerts() {
    let db = apisonar_tests::scratch("tls", "db").to_string_lossy().into_owned();
    assert_eq!(apisonar(&["analyze", "--db", &db, "captures/tls/tls-certs.pcap"]).status.code(), Some(0));
    let out = apisonar(&["alerts", "--db", &db, "--kind", "weak_tls", "--format", "json"]);
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let got: BTreeSet<(String, String)> = alerts
        .iter()
        .map(|a| {
            (a["host"].as_str().unwrap_or_default().to_string(), a["subtype"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("expired.example.test", "cert_expired"),
        ("notyet.example.test", "cert_not_yet_valid"),
        ("rsa1024.example.test", "rsa_key_lt_2048"),
        ("selfsigned.example.test", "self_signed"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn hosts_seen_only_over_tls_are_in_the_inventory_with_their_sni() {
    let db = apisonar_tests::scratch("tls", "inv").to_string_lossy().into_owned();
    for _ in 0..2 {
        assert_eq!(apisonar(&["analyze", "--db", &db, "captures/tls/tls-versions.pcap"]).status.code(), Some(0));
    }
    let out = apisonar(&["inventory", "--db", &db, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let tls: Vec<&serde_json::Value> = rows.iter().filter(|r| r["method"] == "TLS").collect();
    assert_eq!(tls.len(), 8, "one row per server name");
    let v12 = tls.iter().find(|r| r["host"] == "v12.example.test").unwrap_or_else(|| panic!("no v12 row"));
    assert_eq!(v12["hits"], 2, "a second run merges");
    assert_eq!(v12["encrypted"], true);
    assert_eq!(v12["tls"]["versions"]["TLS1.2"], 2);
    assert_eq!(v12["tls"]["ja3s"], serde_json::json!(["4ef1b297bb817d8212165a86308bac5f"]));
    assert!(v12["tls"]["certificate"]["subject"].as_str().unwrap_or_default().contains("CN=tls.example.test"));
    let v10 = tls.iter().find(|r| r["host"] == "v10.example.test").unwrap_or_else(|| panic!("no v10 row"));
    assert_eq!(v10["tls"]["weaknesses"]["tls1.0_negotiated"], 2);
    // No HTTP was seen to these names: each row says it is TLS only, not an endpoint without traffic.
    for r in &tls {
        assert_eq!(r["tls_only"], true, "{r}");
        assert!(r["state_reason"].as_str().unwrap_or_default().starts_with("TLS only (no HTTP seen)"), "{r}");
    }
    let table = apisonar(&["inventory", "--db", &db]);
    let table = String::from_utf8_lossy(&table.stdout);
    let v12 = table.lines().find(|l| l.starts_with("v12.example.test ")).unwrap_or_else(|| panic!("{table}"));
    assert!(v12.contains(" TLS only "), "{v12}");
    assert!(table.contains("TLS only: encrypted sessions to a server name with no HTTP seen"), "{table}");
}
