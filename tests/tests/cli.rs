//! The command line: input errors that name the file and where it broke, several files, output
//! files. (Usage errors are tested in crates/apisonar/tests/usage.rs.)

use apisonar_tests::{analyze, apisonar, repo_root};

fn temp_file(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("apisonar-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_default();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    path.to_string_lossy().into_owned()
}

#[test]
fn a_missing_file_is_an_input_error_naming_it() {
    let out = apisonar(&["analyze", "captures/no-such-file.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("captures/no-such-file.pcap"), "{stderr}");
}

#[test]
fn a_corrupt_file_is_an_input_error_naming_it() {
    let path = temp_file("corrupt.pcap", b"this is not a capture file at all, just text");
    let out = apisonar(&["analyze", &path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corrupt.pcap") && stderr.contains("cannot open capture"), "{stderr}");
}

#[test]
fn a_truncated_file_reports_where_it_broke_and_keeps_what_was_read() {
    let source = repo_root().join("captures/synthetic/missing-segment.pcap");
    let bytes = std::fs::read(source).unwrap_or_default();
    // Cut inside the last packet record.
    let path = temp_file("truncated.pcap", &bytes[..bytes.len() - 20]);
    let (txns, summary, code) = analyze(&[&path]);
    assert_eq!(code, 1);
    assert_eq!(txns.len(), 2, "transactions before the damage are still reported");
    let file = &summary["files"][0];
    assert_eq!(file["packets"], 16);
    assert!(file["error"].as_str().unwrap_or_default().contains("truncated"), "{file}");
    let out = apisonar(&["analyze", &path]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("truncated.pcap: after packet 16"), "{stderr}");
}

#[test]
fn several_files_are_read_in_order_and_errors_do_not_stop_the_rest() {
    let (txns, summary, code) = analyze(&[
        "captures/synthetic/out-of-order.pcap",
        "captures/missing.pcap",
        "captures/synthetic/midstream-start.pcap",
    ]);
    assert_eq!(code, 1);
    let uris: Vec<&str> = txns.iter().map(|t| t["request"]["uri"].as_str().unwrap_or_default()).collect();
    assert_eq!(uris, ["/api/v1/users/42", "/api/v1/health", "/api/v1/version"]);
    assert_eq!(summary["files"].as_array().map(Vec::len), Some(3));
}

#[test]
fn transactions_can_go_to_a_file_with_the_documented_fields() {
    let path = temp_file("out.jsonl", b"");
    let out = apisonar(&["analyze", "--transactions", &path, "captures/synthetic/out-of-order.pcap"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("transactions  1"), "{stdout}");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let t: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
    assert_eq!(t["ts"], "2024-01-01T00:00:40.001500Z");
    for (object, fields) in [
        ("flow", &["src_ip", "src_port", "dst_ip", "dst_port"][..]),
        ("request", &["method", "uri", "version", "host", "user_agent", "content_type", "body_len"][..]),
        ("response", &["status", "version", "content_type", "content_encoding", "body_len"][..]),
    ] {
        for f in fields {
            assert!(t[object].get(f).is_some(), "{object}.{f} missing in {t}");
        }
    }
    assert!(t["anomalies"].is_array());
    assert_eq!(t["request"]["host"], "api.example.test");
}

#[test]
fn transactions_written_beside_a_store_are_the_ones_written_without() {
    // With a store the worker moves the body samples into the analysis; the transaction
    // records (body and decoded lengths among them) must not notice.
    let captures = ["captures/nginx-static.pcap", "captures/python-api-keepalive.pcap", "captures/grpc-shop.pcap"];
    let store = apisonar_tests::scratch("cli", "beside-a-store");
    let _ = std::fs::remove_dir_all(&store);
    let run = |db: Option<&str>| {
        let mut args = vec!["analyze", "--transactions", "-"];
        if let Some(db) = db {
            args.extend(["--db", db]);
        }
        args.extend_from_slice(&captures);
        let out = apisonar(&args);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (without, with) = (run(None), run(store.to_str()));
    assert!(without.contains("\"decoded_len\":") && without.lines().count() > 20, "{without}");
    assert!(
        without.lines().any(|l| l.contains("\"decoded_len\":") && !l.contains("\"decoded_len\":null")),
        "a content-encoded answer is among them"
    );
    assert_eq!(without, with);
}

#[test]
fn several_workers_give_the_same_results_as_one() {
    let captures = [
        "captures/apis/fastapi-shop.pcap",
        "captures/synthetic/ip-fragments.pcap",
        "captures/synthetic/out-of-order.pcap",
        "captures/tls/tls-versions.pcap",
        "captures/pipelined.pcap",
    ];
    let run = |workers: &str| {
        let mut args = vec!["analyze", "--workers", workers, "--summary", "json", "--transactions", "-"];
        args.extend_from_slice(&captures);
        let out = apisonar(&args);
        assert_eq!(out.status.code(), Some(0));
        // The summary (on stderr, as stdout carries the transactions) names each pipeline
        // thread with the CPU it used.
        let summary: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap_or_default();
        let threads: Vec<(String, f64)> = summary["threads"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| (t["thread"].as_str().unwrap_or("").to_string(), t["cpu_secs"].as_f64().unwrap_or(-1.0)))
                    .collect()
            })
            .unwrap_or_default();
        let mut names: Vec<&str> = threads.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        let n: usize = workers.parse().unwrap_or(0);
        let mut expected: Vec<String> = (0..n).map(|i| format!("flow-{i}")).collect();
        expected.extend(["events".to_string(), "reader".to_string()]);
        if n == 1 {
            // With one worker the split is not reported (summaries stay comparable run to run).
            expected.clear();
        }
        expected.sort();
        assert_eq!(names, expected, "{summary}");
        // Every thread did some work, and no thread used more CPU than the run took.
        let elapsed = summary["elapsed_secs"].as_f64().unwrap_or(0.0);
        assert!(threads.iter().all(|(_, cpu)| *cpu > 0.0 && *cpu <= elapsed + 0.05), "{threads:?} in {elapsed} s");
        let mut rows: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let mut t: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                // Connection numbers depend on which worker saw the connection.
                t["connection"] = serde_json::Value::Null;
                t.to_string()
            })
            .collect();
        rows.sort();
        rows
    };
    let one = run("1");
    assert!(one.len() > 500);
    assert_eq!(run("2"), one);
    assert_eq!(run("3"), one);
}

/// SIGTERM in the middle of a long run: reading stops, what was read is analysed and stored
/// (every transaction counted in the summary is in the inventory), exit status 130.
#[test]
fn a_signal_stops_the_run_cleanly_and_keeps_what_was_read() {
    use apisonar_testkit::pcap::{PcapWriter, LINKTYPE_ETHERNET};
    use apisonar_testkit::workload::{generate, Addresses, Pattern};

    let dir = std::env::temp_dir().join(format!("apisonar-cli-signal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("long.pcap");
    let file = std::io::BufWriter::new(std::fs::File::create(&capture).unwrap());
    let mut writer = PcapWriter::new(file, LINKTYPE_ETHERNET, 65535).unwrap();
    let (frames, _) =
        generate(Pattern::KeepAlive, Addresses::ManyPairs, 20_000_000, |ts, frame| writer.write(ts, frame).unwrap());
    drop(writer);
    let db = dir.join("db");
    let child = std::process::Command::new(apisonar_tests::apisonar_bin())
        .args(["analyze", "--summary", "json", "--db"])
        .args([&db, &capture])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The store is opened after the handlers are installed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !db.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["interrupted"], true);
    let packets = summary["packets"].as_u64().unwrap();
    assert!(packets > 0 && packets < frames, "{packets} of {frames}");
    let transactions = summary["transactions"].as_u64().unwrap();
    assert!(transactions > 0);
    let db = db.to_string_lossy().into_owned();
    let inventory = apisonar(&["inventory", "--db", &db, "--format", "json"]);
    let endpoints: Vec<serde_json::Value> = serde_json::from_slice(&inventory.stdout).unwrap();
    let hits: u64 = endpoints.iter().filter(|e| e["method"] != "TLS").map(|e| e["hits"].as_u64().unwrap_or(0)).sum();
    assert_eq!(hits, transactions);
    let _ = std::fs::remove_dir_all(&dir);
}
