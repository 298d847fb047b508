//! The inventory: `analyze --db` fills a sled store, `inventory` lists it, runs merge, and no
//! secret from the traffic reaches the store's files.

use apisonar_tests::apisonar;

fn temp_db(name: &str) -> String {
    apisonar_tests::scratch("inv", name).to_string_lossy().into_owned()
}

fn inventory(db: &str) -> Vec<serde_json::Value> {
    let out = apisonar(&["inventory", "--db", db, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("inventory JSON: {e}"))
}

fn find<'a>(rows: &'a [serde_json::Value], method: &str, path: &str) -> &'a serde_json::Value {
    rows.iter().find(|r| r["method"] == method && r["path"] == path).unwrap_or_else(|| {
        panic!(
            "no {method} {path} in {:?}",
            rows.iter().map(|r| format!("{} {}", r["method"], r["path"])).collect::<Vec<_>>()
        )
    })
}

#[test]
fn analyze_fills_the_inventory_and_a_second_run_merges() {
    let db = temp_db("merge");
    let capture = "captures/python-api-keepalive.pcap";
    assert_eq!(apisonar(&["analyze", "--db", &db, capture]).status.code(), Some(0));
    let first = inventory(&db);
    let users = find(&first, "GET", "/api/v1/users/{user_id}");
    for field in [
        "host",
        "method",
        "path",
        "state",
        "hits",
        "first_seen",
        "last_seen",
        "status_codes",
        "auth",
        "encrypted",
        "params",
    ] {
        assert!(users.get(field).is_some(), "field {field} missing: {users}");
    }
    assert_eq!(users["state"], "undocumented");
    assert_eq!(users["host"], "127.0.0.1:5000");
    assert_eq!(users["encrypted"], false);
    assert_eq!(users["params"][0]["name"], "user_id");
    assert_eq!(users["params"][0]["in"], "path");
    assert_eq!(users["params"][0]["type"], "integer");
    let created = find(&first, "POST", "/api/v1/users");
    assert_eq!(created["auth"], serde_json::json!(["jwt(HS256)"]));
    find(&first, "GET", "/api/v1/orders/{order_id}");
    let listing = find(&first, "GET", "/api/v1/users");
    let names: Vec<&str> =
        listing["params"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
    assert!(names.contains(&"limit") && names.contains(&"offset"), "{names:?}");

    assert_eq!(apisonar(&["analyze", "--db", &db, capture]).status.code(), Some(0));
    let second = inventory(&db);
    assert_eq!(second.len(), first.len(), "same endpoints after the same traffic again");
    for row in &first {
        let again = find(&second, row["method"].as_str().unwrap_or_default(), row["path"].as_str().unwrap_or_default());
        assert_eq!(again["hits"].as_u64(), row["hits"].as_u64().map(|h| h * 2), "hits add up: {}", row["path"]);
        assert_eq!(again["first_seen"], row["first_seen"]);
        assert_eq!(again["last_seen"], row["last_seen"]);
    }
}

#[test]
fn inventory_filters_by_host_and_prints_a_table() {
    let db = temp_db("table");
    assert_eq!(
        apisonar(&["analyze", "--db", &db, "captures/python-api-keepalive.pcap", "captures/nginx-static.pcap"])
            .status
            .code(),
        Some(0)
    );
    let all = inventory(&db);
    let out = apisonar(&["inventory", "--db", &db, "--format", "json", "--host", "127.0.0.1:5000"]);
    let one: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(!one.is_empty() && one.len() < all.len());
    assert!(one.iter().all(|r| r["host"] == "127.0.0.1:5000"));
    let table = apisonar(&["inventory", "--db", &db]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("/api/v1/users/{user_id}") && text.contains(&format!("{} endpoints", all.len())), "{text}");
}

#[test]
fn a_missing_store_is_an_error() {
    let out = apisonar(&["inventory", "--db", &temp_db("missing")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store"));
}

#[test]
fn secrets_from_the_traffic_never_reach_the_store() {
    let db = temp_db("secrets");
    assert_eq!(apisonar(&["analyze", "--db", &db, "captures/python-api-keepalive.pcap"]).status.code(), Some(0));
    // Planted in the recorded traffic: a password, a bearer token, a session cookie, e-mails.
    let secrets = ["wonderland", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9", "sess-7f3a9c2e41d8", "oscar@example.com"];
    let mut files = 0;
    let mut stack = vec![std::path::PathBuf::from(&db)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap_or_default();
            for s in secrets {
                assert!(memchr_find(&bytes, s.as_bytes()).is_none(), "{s} found in {}", path.display());
            }
        }
    }
    assert!(files > 0);
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn pinned_templates_are_followed_and_survive_later_runs() {
    let db = temp_db("pin");
    let capture = "captures/apis/express-codehost.pcap";
    assert_eq!(apisonar(&["analyze", "--db", &db, capture]).status.code(), Some(0));
    let out = apisonar(&["template", "pin", "--db", &db, "--host", "127.0.0.1:3000", "/api/v3/repos/{owner}/{repo}"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(apisonar(&["template", "pin", "--db", &db, "/bad/{template"]).status.code(), Some(1));
    let listed = apisonar(&["template", "list", "--db", &db]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "127.0.0.1:3000\t/api/v3/repos/{owner}/{repo}\n");
    let check = |rows: &[serde_json::Value]| {
        let repo_paths: Vec<&str> =
            rows.iter().filter_map(|r| r["path"].as_str()).filter(|p| p.starts_with("/api/v3/repos/")).collect();
        assert!(!repo_paths.is_empty());
        assert!(repo_paths.iter().all(|p| p.starts_with("/api/v3/repos/{owner}/{repo}")), "{repo_paths:?}");
        find(rows, "GET", "/api/v3/repos/{owner}/{repo}/issues/{issue_id}/comments");
    };
    check(&inventory(&db));
    // Another run: automatic templating must not undo the override.
    assert_eq!(apisonar(&["analyze", "--db", &db, capture]).status.code(), Some(0));
    check(&inventory(&db));
    assert_eq!(
        apisonar(&["template", "unpin", "--db", &db, "--host", "127.0.0.1:3000", "/api/v3/repos/{owner}/{repo}"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(apisonar(&["template", "unpin", "--db", &db, "/api/v3/repos/{owner}/{repo}"]).status.code(), Some(1));
}

#[test]
fn retention_forgets_endpoints_not_seen_for_days() {
    let db = temp_db("retention");
    // Recorded in 2026 and in 2024 (synthetic): a 30-day retention keeps only the newest traffic.
    let run = apisonar(&[
        "analyze",
        "--db",
        &db,
        "captures/synthetic/out-of-order.pcap",
        "captures/python-api-keepalive.pcap",
    ]);
    assert_eq!(run.status.code(), Some(0));
    assert!(inventory(&db).iter().any(|r| r["path"] == "/api/v1/users/{user_id}" && r["host"] == "api.example.test"));
    let again = apisonar(&["analyze", "--db", &db, "--retention-days", "30", "captures/python-api-keepalive.pcap"]);
    assert_eq!(again.status.code(), Some(0));
    let rows = inventory(&db);
    assert!(rows.iter().all(|r| r["host"] != "api.example.test"), "old endpoints kept");
    assert!(rows.iter().any(|r| r["host"] == "127.0.0.1:5000"));
    let schema = &find(&rows, "POST", "/api/v1/login")["request_schema"];
    assert_eq!(schema["properties"]["password"]["type"], "string", "{schema}");
}

/// Where `actual` differs from `expected` (`path: expected vs actual`): every field of `expected`
/// must be in `actual` with the same value; fields only in `actual` are new, and allowed.
fn differences(expected: &serde_json::Value, actual: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(got) => differences(v, got, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (v, got)) in e.iter().zip(a).enumerate() {
                differences(v, got, &format!("{path}[{i}]"), out);
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!("{path}: {expected} vs {actual}")),
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())).flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

/// What the inventory listing of the release that wrote the fixture showed and this one shows
/// otherwise on purpose (issue 14): an orphan, never seen, has no times (it showed 1970-01-01) and
/// no transport (it showed `encrypted: false`); a server name seen only over TLS says so.
fn corrected_since_the_release(row: &mut serde_json::Value) {
    if row["state"] == "orphan" {
        for field in ["first_seen", "last_seen", "encrypted"] {
            row[field] = serde_json::Value::Null;
        }
    }
    if row["method"] == "TLS" && row["state_reason"] == "TLS sessions (encrypted; not matched against specs)" {
        row["state_reason"] =
            "TLS only (no HTTP seen): encrypted sessions to this server name; no endpoint behind them is known".into();
    }
}

/// `listing` of `db` as JSON rows, compared row by row (by `id`), field by field, with the same
/// listing made by the release that wrote the store.
fn lists_as_before(db: &str, listing: &str, before: &str) {
    let out = apisonar(&[listing, "--db", db, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{listing} JSON: {e}"));
    let fixtures = apisonar_tests::repo_root().join("crates/apisonar-store/tests/fixtures");
    let text = std::fs::read_to_string(fixtures.join(before)).unwrap_or_else(|e| panic!("{before}: {e}"));
    let mut expected: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{before}: {e}"));
    if listing == "inventory" {
        expected.iter_mut().for_each(corrected_since_the_release);
    }
    assert!(!expected.is_empty());
    assert_eq!(rows.len(), expected.len(), "{listing}: rows");
    let by_id = |rows: &[serde_json::Value]| -> std::collections::BTreeMap<String, serde_json::Value> {
        rows.iter().map(|r| (r["id"].to_string(), r.clone())).collect()
    };
    let (rows, expected) = (by_id(&rows), by_id(&expected));
    assert_eq!(rows.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{listing}: the same rows");
    let mut diffs = Vec::new();
    for (id, e) in &expected {
        differences(e, &rows[id], &format!("{listing}[id {id}]"), &mut diffs);
    }
    assert!(diffs.is_empty(), "{} differences from {before}:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn a_store_of_the_previous_release_is_migrated_and_lists_as_before() {
    // Schema version 1, made by the binary of commit 6fe0c66: crates/apisonar-store/tests/fixtures/README.md.
    let fixture = apisonar_tests::repo_root().join("crates/apisonar-store/tests/fixtures/v1-store");
    let db = temp_db("v1-store");
    copy_dir(&fixture, std::path::Path::new(&db));
    lists_as_before(&db, "inventory", "v1-store.inventory.json");
    lists_as_before(&db, "alerts", "v1-store.alerts.json");
    // Once migrated, the store opens as it is.
    lists_as_before(&db, "inventory", "v1-store.inventory.json");
}

/// A capture of one keep-alive connection to shop.test starting at `start` (microseconds since
/// the epoch), carrying these (request, response) exchanges.
fn shop_capture(path: &std::path::Path, start: i64, exchanges: &[(String, String)]) {
    use apisonar_testkit::pcap::{PcapWriter, LINKTYPE_ETHERNET};
    use apisonar_testkit::{Conversation, Side};
    let mut c = Conversation::new(([10, 2, 0, 9], 41000), ([10, 2, 0, 1], 80), start);
    c.handshake();
    for (request, response) in exchanges {
        c.send(Side::Client, request.as_bytes());
        c.send(Side::Server, response.as_bytes());
    }
    c.close();
    let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, 65535).unwrap_or_else(|e| panic!("{e}"));
    for f in &c.frames {
        w.write(f.ts, &f.bytes).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, w.into_inner()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn get(target: &str, body: &str) -> (String, String) {
    (
        format!("GET {target} HTTP/1.1\r\nHost: shop.test\r\n\r\n"),
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()),
    )
}

fn login() -> (String, String) {
    let form = "user=alice&remember=1";
    (
        format!(
            "POST /api/login HTTP/1.1\r\nHost: shop.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}".into(),
    )
}

#[test]
fn inventory_since_lists_what_appeared_after_a_time() {
    let db = temp_db("since");
    let dir = apisonar_tests::scratch("inv", "since-captures");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    // 2025-11-30T08:00:00Z, then two days later: the same API, with a new query parameter, a
    // new response field carrying an e-mail address, and a new endpoint.
    let day_one = 1_764_489_600_000_000;
    let day_three = day_one + 2 * 86_400_000_000;
    let (first, second) = (dir.join("day-one.pcap"), dir.join("day-three.pcap"));
    shop_capture(
        &first,
        day_one,
        &[
            get("/api/items?limit=5", r#"{"items":[{"id":1,"name":"a"}]}"#),
            login(),
            get("/api/health", r#"{"up":true}"#),
        ],
    );
    shop_capture(
        &second,
        day_three,
        &[
            get("/api/items?limit=5&cursor=abc", r#"{"items":[{"id":2,"name":"b","email":"carol@example.org"}]}"#),
            login(),
            get("/api/health", r#"{"up":true}"#),
            get("/api/orders", r#"{"orders":[]}"#),
        ],
    );
    for capture in [&first, &second] {
        let run = apisonar(&["analyze", "--db", &db, &capture.to_string_lossy()]);
        assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    }
    let since = |time: &str| -> Vec<(String, serde_json::Value)> {
        let out = apisonar(&["inventory", "--db", &db, "--format", "json", "--since", time]);
        assert_eq!(out.status.code(), Some(0), "{time}: {}", String::from_utf8_lossy(&out.stderr));
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
        rows.iter()
            .map(|r| {
                (
                    format!("{} {}", r["method"].as_str().unwrap_or(""), r["path"].as_str().unwrap_or("")),
                    r["new"].clone(),
                )
            })
            .collect()
    };
    let between = vec![
        (
            "GET /api/items".to_string(),
            serde_json::json!([
                "query:cursor",
                "response 200: $.items[].email",
                "sensitive: response.json.items[].email email"
            ]),
        ),
        ("GET /api/orders".to_string(), serde_json::json!(["endpoint"])),
    ];
    // Between the two captures, as a time and as a duration back from the newest traffic.
    assert_eq!(since("2025-12-01T00:00:00Z"), between);
    assert_eq!(since("1d"), between);
    assert_eq!(since("24h"), between);
    // Before the first: every endpoint is new; after the second: nothing is.
    let everything = since("2025-11-30T00:00:00Z");
    assert_eq!(everything.len(), 4, "{everything:?}");
    assert!(everything.iter().all(|(_, new)| *new == serde_json::json!(["endpoint"])), "{everything:?}");
    assert!(since("2025-12-03T00:00:00Z").is_empty());
    // The full listing says when each parameter first appeared, and has no `new`.
    let rows = inventory(&db);
    let items = find(&rows, "GET", "/api/items");
    assert!(items.get("new").is_none());
    let param = |name: &str| items["params"].as_array().and_then(|p| p.iter().find(|p| p["name"] == name)).cloned();
    assert_eq!(param("limit").map(|p| p["first_seen"].clone()), Some(items["first_seen"].clone()), "{items}");
    assert!(
        param("cursor").is_some_and(|p| p["first_seen"].as_str().is_some_and(|t| t.starts_with("2025-12-02T08:00")))
    );
    // The table says what is new under each row.
    let table = apisonar(&["inventory", "--db", &db, "--since", "1d"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(
            "    new: query:cursor, response 200: $.items[].email, sensitive: response.json.items[].email email"
        ),
        "{text}"
    );
    assert!(
        text.contains("    new: endpoint")
            && text.contains("2 endpoints new or with something new since 2025-12-01T08:00:00.0"),
        "{text}"
    );
    for bad in ["yesterday", "7", "-1d"] {
        let out = apisonar(&["inventory", "--db", &db, &format!("--since={bad}")]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
