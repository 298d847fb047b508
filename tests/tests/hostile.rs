//! Hostile input end to end: a bug in one transaction's analysis costs that transaction only.
//! (Debug builds of apisonar have a test trigger, `APISONAR_TEST_PANIC=STAGE:MARKER`, that makes
//! the analysis or the merge panic for requests whose target contains MARKER.)

use std::collections::BTreeMap;
use std::process::Command;

use apisonar_tests::{apisonar, apisonar_bin, repo_root, scratch};

const CAPTURE: &str = "captures/apis/fastapi-shop.pcap";

/// Hits per endpoint (`METHOD path`) in the store at `db`.
fn hits(db: &str) -> BTreeMap<String, u64> {
    let out = apisonar(&["inventory", "--db", db, "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    rows.iter()
        .filter(|r| r["method"] != "TLS")
        .map(|r| {
            (
                format!("{} {}", r["method"].as_str().unwrap_or(""), r["path"].as_str().unwrap_or("")),
                r["hits"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Runs `apisonar ARGS` with the panic trigger set; returns the exit code and the JSON summary.
fn run_with_trigger(trigger: Option<&str>, args: &[&str]) -> (i32, serde_json::Value) {
    let mut cmd = Command::new(apisonar_bin());
    cmd.args(args).current_dir(repo_root());
    if let Some(t) = trigger {
        cmd.env("APISONAR_TEST_PANIC", t);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run apisonar: {e}"));
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The log names where it panicked, never what the request carried.
    assert!(!stderr.contains("test trigger"), "panic message leaked: {stderr}");
    (out.status.code().unwrap_or(-1), summary)
}

#[test]
fn a_panic_in_analysis_or_merge_costs_only_that_transaction() {
    let base = scratch("hostile", "contain-base");
    let base = base.to_string_lossy();
    let (code, _) = run_with_trigger(None, &["analyze", "--summary", "json", "--db", &base, CAPTURE]);
    assert_eq!(code, 0);
    let expected = hits(&base);
    let health = expected.get("GET /api/v1/health").copied().unwrap_or(0);
    assert!(health >= 10, "the capture has health checks to lose: {expected:?}");
    let mut rest = expected.clone();
    rest.remove("GET /api/v1/health");

    for (stage, command) in [
        ("analysis", &["analyze", "--workers", "1"][..]),
        ("analysis", &["analyze", "--workers", "2"][..]),
        ("merge", &["analyze", "--workers", "1"][..]),
        ("merge", &["analyze", "--workers", "2"][..]),
        ("analysis", &["run", "--workers", "2", "--status-interval", "0"][..]),
    ] {
        let db = scratch("hostile", &format!("contain-{stage}-{}", command.join("-")));
        let db = db.to_string_lossy();
        let mut args = command.to_vec();
        args.extend(["--summary", "json", "--db", &db]);
        if command[0] == "run" {
            args.push("-r");
        }
        args.push(CAPTURE);
        let (code, summary) = run_with_trigger(Some(&format!("{stage}:/api/v1/health")), &args);
        assert_eq!(code, 0, "{stage} {command:?}: {summary}");
        assert_eq!(summary["anomalies"]["analysis_panic"], health, "{stage} {command:?}: {summary}");
        assert_eq!(hits(&db), rest, "{stage} {command:?}: every other transaction is in the inventory");
    }
}

/// Makes the hostile capture `name` (testkit) in this test run's scratch space.
fn hostile_capture(name: &str) -> String {
    let path = scratch("hostile", &format!("{name}.pcap"));
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(apisonar_testkit::hostile::write(name, file).unwrap_or_else(|e| panic!("{e}")), "{name}");
    path.to_string_lossy().into_owned()
}

/// `analyze --summary json --db DB EXTRA... CAPTURE`: exit code and summary.
fn analyze_into(db: &str, extra: &[&str], capture: &str) -> (i32, serde_json::Value) {
    let mut args = vec!["analyze", "--summary", "json", "--db", db];
    args.extend_from_slice(extra);
    args.push(capture);
    let out = apisonar(&args);
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), summary)
}

fn inventory_rows(db: &str) -> Vec<serde_json::Value> {
    let out = apisonar(&["inventory", "--db", db, "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("inventory JSON: {e}"))
}

fn count(summary: &serde_json::Value, section: &str, key: &str) -> u64 {
    summary[section][key].as_u64().unwrap_or(0)
}

#[test]
fn multi_byte_characters_anywhere_in_any_field_stop_nothing() {
    let capture = hostile_capture("multibyte-values");
    let db = scratch("hostile", "multibyte-db").to_string_lossy().into_owned();
    let (code, summary) = analyze_into(&db, &[], &capture);
    assert_eq!(code, 0, "{summary}");
    let samples = apisonar_testkit::hostile::multibyte_samples().len() as u64;
    assert_eq!(summary["transactions"], 2 * samples, "every request is a transaction");
    assert_eq!(count(&summary, "anomalies", "analysis_panic"), 0, "{summary}");
    // Every value reached the classifiers: findings were stored, and the listings are valid.
    let rows = inventory_rows(&db);
    assert!(rows.len() > 100, "{} rows", rows.len());
    let alerts = apisonar(&["alerts", "--db", &db, "--format", "json"]);
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&alerts.stdout).unwrap_or_default();
    assert!(alerts.iter().any(|a| a["kind"] == "cleartext_credentials"), "{} alerts", alerts.len());
}

#[test]
fn distinct_hosts_beyond_the_cap_are_counted_not_kept() {
    let capture = hostile_capture("many-hosts");
    let db = scratch("hostile", "hosts-db").to_string_lossy().into_owned();
    let (code, summary) = analyze_into(&db, &[], &capture);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["transactions"], 100_000);
    let max_hosts = 5_000;
    assert_eq!(summary["endpoints"], max_hosts, "{summary}");
    assert_eq!(count(&summary, "overflow", "hosts"), 100_000 - max_hosts, "{summary}");
    let rows = inventory_rows(&db);
    assert_eq!(
        rows.iter().map(|r| r["host"].as_str().unwrap_or("")).collect::<std::collections::BTreeSet<_>>().len(),
        max_hosts as usize
    );
    let table = apisonar(&["inventory", "--db", &db]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(
            "not catalogued on (hosts not in the inventory): 95000 requests: hosts 95000 (over the [inventory] caps)"
        ),
        "{}",
        text.lines().last().unwrap_or("")
    );
    // A second run on the same store: the cap holds across runs, the counts add up.
    let (code, again) = analyze_into(&db, &[], &capture);
    assert_eq!((code, again["endpoints"].as_u64()), (0, Some(max_hosts)));
    assert_eq!(count(&again, "overflow", "hosts"), 100_000 - max_hosts);
}

#[test]
fn random_paths_and_methods_do_not_grow_the_inventory() {
    let db = scratch("hostile", "paths-db").to_string_lossy().into_owned();
    let (code, summary) = analyze_into(&db, &[], &hostile_capture("random-404"));
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["transactions"], 100_000);
    let endpoints = summary["endpoints"].as_u64().unwrap_or(u64::MAX);
    assert!(endpoints <= 2_000, "{endpoints} endpoints for one host: {summary}");
    let db = scratch("hostile", "methods-db").to_string_lossy().into_owned();
    let (code, summary) = analyze_into(&db, &[], &hostile_capture("many-methods"));
    assert_eq!(code, 0, "{summary}");
    let rows = inventory_rows(&db);
    let methods: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["method"].as_str().unwrap_or("")).collect();
    assert_eq!(methods.len(), 16, "{methods:?}");
    // Nothing is lost: every request is either a hit of an endpoint or counted as overflow.
    let hits: u64 = rows.iter().map(|r| r["hits"].as_u64().unwrap_or(0)).sum();
    assert_eq!(hits + count(&summary, "overflow", "methods"), 10_000, "{summary}");
}

#[test]
fn tls_messages_decompression_bombs_and_huge_heads_stay_within_their_limits() {
    let db = scratch("hostile", "limits-db").to_string_lossy().into_owned();
    let (code, summary) = analyze_into(&db, &[], &hostile_capture("tls-16mib"));
    assert_eq!(code, 0, "{summary}");
    assert_eq!(count(&summary, "anomalies", "tls_handshake_too_large"), 4, "{summary}");
    let (code, summary) = analyze_into(&db, &[], &hostile_capture("decompression-bombs"));
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["transactions"], 3);
    assert_eq!(count(&summary, "anomalies", "decompression_limit"), 3, "{summary}");
    let (code, summary) = analyze_into(&db, &[], &hostile_capture("huge-headers"));
    assert_eq!(code, 0, "{summary}");
    assert_eq!(count(&summary, "anomalies", "head_too_large"), 2_000, "{summary}");
}

#[test]
fn a_million_syns_are_bounded_by_the_flow_table() {
    let capture = hostile_capture("million-syns");
    let out = apisonar(&["analyze", "--summary", "json", &capture]);
    assert_eq!(out.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(summary["packets"], 1_000_000);
    assert_eq!(summary["flows"], 1_000_000, "{summary}");
    // 262,144 flows at most: the rest made room by evicting the least recently active.
    assert!(summary["flows_evicted"].as_u64().unwrap_or(0) >= 1_000_000 - 262_144, "{summary}");
    assert!(count(&summary, "anomalies", "flow_limit") > 0, "{summary}");
}

#[test]
fn fragments_that_never_complete_are_bounded_and_the_pair_s_traffic_goes_on() {
    let capture = hostile_capture("fragment-flood");
    for workers in ["1", "2"] {
        let db = scratch("hostile", &format!("fragment-flood-{workers}")).to_string_lossy().into_owned();
        let (code, summary) = analyze_into(&db, &["--workers", workers], &capture);
        assert_eq!(code, 0, "{summary}");
        // Every frame reached a worker once (the router holds fragments, then lets them go).
        assert_eq!(summary["ip_fragments"], 30_000, "{summary}");
        assert_eq!(summary["ip_datagrams_reassembled"], 0, "{summary}");
        assert!(count(&summary, "anomalies", "ip_fragment_limit") > 0, "{summary}");
        // The requests of the same address pair are all analysed.
        assert_eq!(summary["transactions"], 200, "{summary}");
        let rows = inventory_rows(&db);
        let hits: u64 = rows.iter().filter(|r| r["host"] == "frag.test").map(|r| r["hits"].as_u64().unwrap_or(0)).sum();
        assert_eq!(hits, 200);
    }
}

#[test]
fn transaction_records_mask_query_secrets_unless_asked_and_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let capture = hostile_capture("query-secrets");
    let masked = scratch("hostile", "masked.jsonl");
    let raw = scratch("hostile", "raw.jsonl");
    let (m, r) = (masked.to_string_lossy().into_owned(), raw.to_string_lossy().into_owned());
    assert!(apisonar(&["analyze", "--transactions", &m, &capture]).status.success());
    assert!(apisonar(&["analyze", "--transactions", &r, "--raw-transactions", &capture]).status.success());
    let (masked_text, raw_text) =
        (std::fs::read_to_string(&masked).unwrap_or_default(), std::fs::read_to_string(&raw).unwrap_or_default());
    assert_eq!(masked_text.lines().count(), 4);
    for secret in apisonar_testkit::hostile::QUERY_SECRETS {
        assert!(!masked_text.contains(secret), "{secret} in {masked_text}");
        assert!(raw_text.contains(secret), "{secret} missing from the raw output");
    }
    assert!(masked_text.contains("/search?q=shoes"), "plain values stay");
    for file in [&masked, &raw] {
        let mode = std::fs::metadata(file).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}

#[test]
fn exports_and_listings_stay_valid_whatever_the_requests_held() {
    let db = scratch("hostile", "random-db").to_string_lossy().into_owned();
    let (code, summary) = analyze_into(&db, &[], &hostile_capture("random-requests"));
    assert_eq!(code, 0, "{summary}");
    assert!(summary["transactions"].as_u64().unwrap_or(0) >= 9_000, "{summary}");
    let rows = inventory_rows(&db);
    assert!(rows.len() > 50);
    for r in &rows {
        let path = r["path"].as_str().unwrap_or("");
        // Braces only around parameter names.
        for seg in path.split('/') {
            let param = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            assert!(
                param.is_some_and(|n| !n.is_empty() && !n.contains(['{', '}'])) || !seg.contains(['{', '}']),
                "{path}"
            );
        }
    }
    let out_dir = scratch("hostile", "random-export");
    for format in ["json", "yaml"] {
        let out =
            apisonar(&["export", "openapi", "--db", &db, "--format", format, "--out", &out_dir.to_string_lossy()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() > 40, "{} documents", files.len());
    let check = Command::new("openapi-spec-validator")
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("openapi-spec-validator not found ({e}): run scripts/setup-debian.sh"));
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
            .lines()
            .filter(|l| !l.ends_with(": OK"))
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Table output shows no raw control or bidirectional characters.
    let table = apisonar(&["inventory", "--db", &db]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(!text.contains('\u{202e}') && !text.chars().any(|c| c.is_control() && c != '\n'));
}

#[test]
fn api_tokens_are_scoped_listed_expire_and_can_be_revoked() {
    let db = scratch("hostile", "tokens-db").to_string_lossy().into_owned();
    let made =
        apisonar(&["token", "create", "--db", &db, "--name", "prometheus", "--scope", "metrics", "--expires", "30d"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let token = String::from_utf8_lossy(&made.stdout).trim().to_string();
    assert!(token.starts_with("aps_"));
    assert!(apisonar(&["token", "create", "--db", &db, "--name", "ci"]).status.success());
    let bad = apisonar(&["token", "create", "--db", &db, "--scope", "root"]);
    assert_eq!(bad.status.code(), Some(1));
    let listed = apisonar(&["token", "list", "--db", &db, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap_or_default();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["scopes"], serde_json::json!(["metrics"]));
    assert_eq!(rows[1]["scopes"], serde_json::json!(["read", "metrics"]), "the default: read and metrics, not admin");
    assert!(rows[0]["expires"].as_str().is_some_and(|e| e > "2026"));
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&token), "listings never show tokens");
    let id = rows[1]["id"].as_str().unwrap_or_default().to_string();
    assert!(apisonar(&["token", "revoke", "--db", &db, &id]).status.success());
    assert!(apisonar(&["token", "revoke", "--db", &db, "prometheus"]).status.success());
    assert_eq!(apisonar(&["token", "revoke", "--db", &db, "prometheus"]).status.code(), Some(1));
    let listed = apisonar(&["token", "list", "--db", &db, "--format", "json"]);
    assert_eq!(serde_json::from_slice::<Vec<serde_json::Value>>(&listed.stdout).unwrap_or_default().len(), 0);
}

#[test]
fn the_certificate_is_never_written_through_a_symbolic_link() {
    let db = scratch("hostile", "symlink-db");
    let elsewhere = scratch("hostile", "symlink-target");
    std::fs::create_dir_all(&db).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(&elsewhere).unwrap_or_else(|e| panic!("{e}"));
    // The service user owns the store directory and points tls/ at a directory of its choice.
    std::os::unix::fs::symlink(&elsewhere, db.join("tls")).unwrap_or_else(|e| panic!("{e}"));
    let out = apisonar(&["serve", "--db", &db.to_string_lossy(), "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_dir(&elsewhere).map(|d| d.count()).unwrap_or(1), 0, "nothing written through the link");
    // And a key file that is a link is refused too.
    std::fs::remove_file(db.join("tls")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(db.join("tls")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(elsewhere.join("stolen.pem"), db.join("tls/key.pem")).unwrap_or_else(|e| panic!("{e}"));
    let out = apisonar(&["serve", "--db", &db.to_string_lossy(), "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!elsewhere.join("stolen.pem").exists());
}
