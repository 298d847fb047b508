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
