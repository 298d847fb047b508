//! The dashboard end to end: the real binary serves a store filled from a recorded capture
//! over HTTPS, and headless Chromium (Debian's chromium through playwright-core,
//! tests/e2e/dashboard.mjs) signs in, finds a shadow endpoint, opens its detail by keyboard and
//! acknowledges an alert, with no console errors. Screenshots are kept in
//! target/e2e-artifacts/. Also: every API route refuses a client without credentials over real
//! TLS, and an API token reads the inventory.

use std::process::Command;
use std::time::{Duration, Instant};

use apisonar_tests::{analyzed_into, apisonar, curl, repo_root, serve};

fn temp(name: &str) -> std::path::PathBuf {
    apisonar_tests::scratch("dashboard", name)
}

fn filled_store(tag: &str) -> String {
    apisonar_tests::shop_store_with_a_shadow("dashboard", tag)
}

/// Serves `db` and runs the browser script `script` (tests/e2e) against it with the admin's
/// first password; what the script saw (its last line, JSON).
fn browse(script: &str, db: &str) -> serde_json::Value {
    let server = serve(db);
    let password_file = std::path::Path::new(db).join("initial-admin-password");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !password_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let password = std::fs::read_to_string(&password_file).unwrap().trim().to_string();
    let artifacts = repo_root().join("target/e2e-artifacts");
    let out = Command::new("node")
        .arg(repo_root().join("tests/e2e").join(script))
        .args([&server.url, &password, &artifacts.display().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

#[test]
fn over_real_tls_nothing_answers_without_credentials_and_a_token_reads_the_inventory() {
    let db = filled_store("tls");
    let token = String::from_utf8(apisonar(&["token", "create", "--db", &db, "--name", "ci"]).stdout).unwrap();
    let token = token.trim().to_string();
    let reset = apisonar(&["token", "reset-admin", "--db", &db]);
    let password = String::from_utf8(reset.stdout).unwrap().trim().to_string();
    assert_eq!(password.len(), 24, "a new random password");
    let server = serve(&db);
    // The reset password signs in (a redirect to the dashboard with a session cookie).
    let (code, _) = curl(&["-d", &format!("user=admin&password={password}"), &format!("{}/login", server.url)]);
    assert_eq!(code, 303);
    for path in
        ["/", "/metrics", "/api/v1/endpoints", "/api/v1/alerts", "/api/v1/overview", "/api/v1/specs", "/api/v1/status"]
    {
        let (code, body) = curl(&[&format!("{}{path}", server.url)]);
        assert!(code == 401 || code == 303, "{path}: {code} {body}");
        assert!(!body.contains("/api/v1/users"), "{path} leaked inventory");
    }
    let (code, _) = curl(&[&format!("{}/healthz", server.url)]);
    assert_eq!(code, 200);
    let auth = format!("Authorization: Bearer {token}");
    let (code, body) = curl(&["-H", &auth, &format!("{}/api/v1/endpoints?state=shadow", server.url)]);
    assert_eq!(code, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["items"][0]["path"], "/api/v1/admin/metrics");
    // The server speaks TLS 1.2 or 1.3 only.
    let (code, _) = curl(&["--tls-max", "1.1", &format!("{}/healthz", server.url)]);
    assert_eq!(code, 0, "TLS 1.1 must be refused");
}

#[test]
fn a_browser_signs_in_finds_a_shadow_endpoint_and_acknowledges_an_alert() {
    let e2e = repo_root().join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/e2e` first (scripts/setup-debian.sh does)"
    );
    let db = filled_store("browser");
    let seen = browse("dashboard.mjs", &db);
    assert_eq!(seen["wrong_password_message"], "Wrong user or password.", "{seen}");
    assert!(seen["overview_endpoints"].as_u64().unwrap_or(0) >= 15, "{seen}");
    assert!(seen["chart_bars"].as_u64().unwrap_or(0) >= 1, "{seen}");
    assert!(seen["inventory_rows"].as_u64().unwrap_or(0) >= 15, "{seen}");
    assert_eq!((seen["shadow_rows"].as_u64(), seen["shadow_states"].as_u64()), (Some(1), Some(1)), "{seen}");
    assert_eq!(seen["detail_title"], "GET /api/v1/admin/metrics", "{seen}");
    assert_eq!(seen["detail_state"], "shadow", "{seen}");
    // Orphans read "never" and claim no transport.
    let orphans = seen["orphan_rows"].as_u64().unwrap_or(0);
    assert!(orphans >= 2, "{seen}");
    assert_eq!(seen["orphan_last_seen"], serde_json::json!(vec!["never"; orphans as usize]), "{seen}");
    assert_eq!(seen["orphan_transport"], serde_json::json!(vec!["never seen"; orphans as usize]), "{seen}");
    assert_eq!(seen["orphan_protocols"], serde_json::json!(vec![""; orphans as usize]), "{seen}");
    // Every endpoint with traffic came over HTTP/1: the protocol filter keeps exactly those.
    assert_eq!(seen["http1_rows"].as_u64(), seen["inventory_rows"].as_u64().map(|n| n - orphans), "{seen}");
    assert_eq!(seen["http1_protocols"], serde_json::json!(["http/1"]), "{seen}");
    assert_eq!(seen["h2_rows"], 0, "{seen}");
    for (key, shown) in [("First seen", "never"), ("Last seen", "never"), ("Transport", "none: never seen")] {
        assert_eq!(seen["orphan_detail"][key], shown, "{seen}");
    }
    // "New since": the capture lasts seconds, so every endpoint seen is new in the last hour, each
    // marked as such; orphans never are.
    assert_eq!(seen["new_rows"].as_u64(), seen["inventory_rows"].as_u64().map(|n| n - orphans), "{seen}");
    assert_eq!(seen["new_cells"], serde_json::json!(["endpoint"]), "{seen}");
    assert!(seen["new_caption"].as_str().unwrap_or("").ends_with("endpoints new or with something new"), "{seen}");
    assert_eq!(seen["alert_state_after"], "acknowledged", "{seen}");
    assert_eq!(seen["specs_rows"], 1, "{seen}");
    assert_eq!(seen["console_errors"], serde_json::json!([]), "{seen}");
    for shot in [
        "01-login",
        "02-overview",
        "03-inventory-shadow",
        "04-endpoint-detail",
        "05-alert-acknowledged",
        "08-inventory-new",
    ] {
        let png = std::fs::read(repo_root().join("target/e2e-artifacts").join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5000, "{shot}");
    }
    // The acknowledgement reached the store (the server is gone: `browse` stopped it).
    let alert_id = seen["alert_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let listed = apisonar(&["alerts", "--db", &db, "--format", "json"]);
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let alert_id: u64 = alert_id.parse().unwrap();
    let acked = alerts.iter().find(|a| a["id"].as_u64() == Some(alert_id)).unwrap();
    assert_eq!(acked["state"], "acknowledged");
}

/// The pages of the other API styles, in a real browser over the real server: a store from the
/// gRPC, GraphQL (with its SDL) and WebSocket captures, filtered by protocol and opened.
#[test]
fn a_browser_filters_by_protocol_and_reads_grpc_graphql_and_websocket_pages() {
    let e2e = repo_root().join("tests/e2e");
    assert!(e2e.join("node_modules/playwright-core").exists(), "run `npm ci --prefix tests/e2e` first");
    let db = analyzed_into(
        &temp("api-styles-db"),
        &[
            "--spec",
            "captures/graphql/schema.graphql",
            "captures/grpc-shop.pcap",
            "captures/graphql-api.pcap",
            "captures/websocket-deflate.pcap",
        ],
    );
    let seen = browse("api-styles.mjs", &db);
    assert_eq!(seen["grpc_rows"].as_array().map(Vec::len), Some(6), "{seen}");
    let grpc = &seen["grpc_page"];
    assert!(grpc["headings"].as_array().unwrap().iter().any(|h| h == "gRPC operation"), "{grpc}");
    assert_eq!(grpc["kv"]["Service"], "shop.v1.OrderService", "{grpc}");
    assert_eq!(grpc["kv"]["Method"], "ListOrders", "{grpc}");
    assert_eq!(grpc["kv"]["Streaming"], "server streaming", "{grpc}");
    assert!(grpc["tables"].as_array().unwrap().iter().any(|t| t == &serde_json::json!([["OK", "1"]])), "{grpc}");
    let graphql = &seen["graphql_page"];
    let ops = graphql["tables"].as_array().unwrap().iter().find(|t| t[0][1] == "graphql").unwrap();
    let row = |label: &str| ops.as_array().unwrap().iter().find(|r| r[0] == label).unwrap().clone();
    assert_eq!(row("mutation AddOrder")[2], "shadow", "{graphql}");
    assert_eq!(row("query GetUser")[2], "documented", "{graphql}");
    assert_eq!(row("query GetUser")[3], "2", "{graphql}");
    let ws = &seen["websocket_page"];
    assert!(ws["headings"].as_array().unwrap().iter().any(|h| h == "WebSocket messages"), "{ws}");
    assert_eq!(ws["kv"]["From clients"], "8", "{ws}");
    for page in [grpc, graphql, ws] {
        assert_eq!(page["unrendered"], false, "{page}");
        // Response schemas render as schemas.
        assert!(page["headings"].as_array().unwrap().iter().any(|h| h == "Schemas"), "{page}");
    }
    assert_eq!(seen["console_errors"], serde_json::json!([]), "{seen}");
}

/// A security team's workflow in a real browser over the real server: the riskiest endpoints,
/// the inventory by risk, downloads of the discovered API, an alert triaged (guidance, example,
/// endpoint, assignment, comment, acknowledgement, a suppression rule), and axe-core finding
/// no serious or critical accessibility violation on any page.
#[test]
fn a_browser_triages_an_alert_downloads_the_api_and_every_page_passes_axe() {
    let db = filled_store("triage");
    let seen = browse("triage.mjs", &db);
    assert_eq!(seen["console_errors"], serde_json::json!([]), "{seen}");
    for (page, violations) in seen["axe"].as_object().unwrap() {
        assert_eq!(violations, &serde_json::json!([]), "axe on {page}");
    }
    assert_eq!(
        seen["axe"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["alert", "alerts", "endpoint", "inventory", "login", "overview", "rules", "sensor", "specs"]
    );
    // The capture lasts a minute: one bar, one label under it (two labels on one bar overlapped).
    assert_eq!(seen["chart_labels"].as_array().map(Vec::len), Some(1), "{seen}");
    // Riskiest first, scores descending in the inventory.
    let riskiest = seen["riskiest"].as_array().unwrap();
    assert!(!riskiest.is_empty() && riskiest.len() <= 5, "{seen}");
    let scores: Vec<u64> = seen["risk_column"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]) && scores[0] > 0, "{scores:?}");
    assert_eq!(riskiest[0][0].as_str().unwrap().split(' ').next().unwrap().parse::<u64>().unwrap(), scores[0]);
    // Downloads: a YAML OpenAPI document and a Postman collection of the host.
    assert!(seen["openapi"]["file"].as_str().unwrap().ends_with(".openapi.yaml"), "{seen}");
    assert!(seen["openapi"]["head"].as_str().unwrap().starts_with("\"openapi\": \"3.1.0\""), "{seen}");
    assert!(seen["postman"]["file"].as_str().unwrap().ends_with(".postman_collection.json"), "{seen}");
    assert_eq!(seen["postman"]["schema"], "https://schema.getpostman.com/json/collection/v2.1.0/collection.json");
    // The alert: its category, why and what to do, a masked example, its endpoint.
    assert_eq!(seen["kv"]["OWASP API Top 10"], "API2:2023 Broken Authentication", "{seen}");
    let guidance = seen["guidance"].as_str().unwrap();
    assert!(
        guidance.contains("Why it matters") && guidance.contains("What to do") && guidance.contains("TLS"),
        "{guidance}"
    );
    // The example is the alert's endpoint, credentials masked.
    let endpoint = seen["kv"]["Endpoint"].as_str().unwrap();
    let (method, url) = endpoint.split_once(' ').unwrap();
    let path = &url[url.find('/').unwrap()..];
    let example = seen["example"].as_str().unwrap();
    assert!(example.starts_with(&format!("{method} {path}")) && example.contains("\nHTTP/1.1 "), "{example}");
    for line in example.lines().filter(|l| l.starts_with("authorization:") || l.starts_with("cookie:")) {
        assert!(line.ends_with('…') && !line.contains("=x"), "{line}");
    }
    let history = seen["history"].as_array().unwrap();
    assert!(history.len() == 1 && history[0].as_str().unwrap().contains("acknowledged by admin"), "{seen}");
    assert!(seen["comments"][0].as_str().unwrap().starts_with("admin"), "{seen}");
    assert_eq!(seen["kv"]["Assigned to"], "nobody", "read before assigning");
    // The rule is listed with its scope, expiry and author; the endpoint lists the alert.
    let rule = seen["rules"][0].as_array().unwrap();
    assert_eq!(rule[0], "cleartext_credentials");
    assert!(rule[1].as_str().unwrap().contains(path) && rule[4] == "admin", "{rule:?}");
    assert_ne!(rule[2], "never");
    let on_endpoint = seen["endpoint_alerts"].as_array().unwrap();
    assert!(on_endpoint.iter().any(|r| r[2] == "API2:2023" && r[3] == "acknowledged"), "{on_endpoint:?}");
    assert!(on_endpoint.iter().all(|r| r[1].as_str().unwrap().contains(path)), "{on_endpoint:?}");
    // What the browser did reached the store.
    let listed = apisonar(&["alerts", "--db", &db, "--format", "json"]);
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let id: u64 = seen["alert_url"].as_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
    let triaged = alerts.iter().find(|a| a["id"].as_u64() == Some(id)).unwrap();
    assert_eq!((triaged["state"].as_str(), triaged["assignee"].as_str()), (Some("acknowledged"), Some("alice")));
}
