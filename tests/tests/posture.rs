//! Posture against real specs: each API capture with its framework's own OpenAPI document,
//! modified (an operation removed, one marked deprecated, one moved to the next API version, one
//! added that nobody calls), must give exactly the expected shadow / zombie / orphan /
//! documented classification, and the shadow and zombie endpoints must raise alerts.

use std::collections::BTreeSet;

use apisonar_tests::{apisonar, normalize_template, repo_root};
use serde_json::{json, Value};

fn temp(name: &str) -> std::path::PathBuf {
    apisonar_tests::scratch("posture", name)
}

/// A (method, spec path) pair.
type Operation = (String, String);

/// Every exercised operation, and those never called.
fn truth(name: &str) -> (Vec<Operation>, Vec<Operation>) {
    let text = std::fs::read_to_string(repo_root().join(format!("captures/apis/{name}.truth.tsv"))).unwrap_or_default();
    let mut called = Vec::new();
    let mut never = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# never called: ") {
            let mut c = rest.split('\t');
            never.push((c.next().unwrap_or_default().to_string(), c.next().unwrap_or_default().to_string()));
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let mut c = line.split('\t');
            called.push((c.next().unwrap_or_default().to_string(), c.next().unwrap_or_default().to_string()));
        }
    }
    (called, never)
}

fn bump_version(path: &str) -> Option<String> {
    let segs: Vec<String> = path.split('/').map(str::to_string).collect();
    let i =
        segs.iter().position(|s| s.len() == 2 && s.starts_with('v') && s[1..].chars().all(|c| c.is_ascii_digit()))?;
    let n: u32 = segs[i][1..].parse().ok()?;
    let mut out = segs.clone();
    out[i] = format!("v{}", n + 1);
    Some(out.join("/"))
}

fn spec_key(spec: &Value, path: &str) -> Option<String> {
    // The spec may write the path with a trailing slash (Django).
    spec["paths"].as_object()?.keys().find(|k| normalize_template(k) == normalize_template(path)).cloned()
}

#[test]
fn modified_specs_give_the_exact_expected_classification() {
    for name in ["fastapi-shop", "flask-taskboard", "express-codehost", "django-newsroom"] {
        let (called, never) = truth(name);
        let mut spec: Value = serde_json::from_slice(
            &std::fs::read(repo_root().join(format!("captures/apis/{name}.openapi.json"))).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{name} spec: {e}"));
        let paths_of = |m: &str, p: &str| (m.to_string(), normalize_template(p));
        // The moved path: the first exercised path with a version segment; all its methods move.
        let moved_path = called
            .iter()
            .map(|(_, p)| p.clone())
            .find(|p| bump_version(p).is_some())
            .unwrap_or_else(|| panic!("{name}: no versioned path"));
        let others: Vec<&(String, String)> =
            called.iter().filter(|(_, p)| normalize_template(p) != normalize_template(&moved_path)).collect();
        // Removing an operation whose paths another operation's template also covers (`/me`
        // beside `/{username}`) leaves its traffic documented by that one: pick one that is not.
        let covered_by_another = |(m, p): &(String, String)| {
            called.iter().any(|(m2, p2)| {
                m2 == m && p2 != p && {
                    let (a, b) = (normalize_template(p2), normalize_template(p));
                    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
                    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| *x == "{}" || x == y)
                }
            })
        };
        let removed = others.iter().find(|o| !covered_by_another(o)).map(|x| (*x).clone()).unwrap_or_default();
        let deprecated = others
            .iter()
            .find(|(_, p)| normalize_template(p) != normalize_template(&removed.1))
            .map(|x| (*x).clone())
            .unwrap_or_default();
        let removed_key = spec_key(&spec, &removed.1).unwrap_or_default();
        spec["paths"][&removed_key].as_object_mut().map(|o| o.remove(&removed.0.to_ascii_lowercase()));
        let deprecated_key = spec_key(&spec, &deprecated.1).unwrap_or_default();
        spec["paths"][&deprecated_key][deprecated.0.to_ascii_lowercase()]["deprecated"] = json!(true);
        let moved_key = spec_key(&spec, &moved_path).unwrap_or_default();
        let item = spec["paths"].as_object_mut().and_then(|p| p.remove(&moved_key)).unwrap_or_default();
        let new_key = bump_version(&moved_key).unwrap_or_default();
        spec["paths"][&new_key] = item.clone();
        spec["paths"]["/zz-added/never-called"] =
            json!({ "post": { "responses": { "201": { "description": "created" } } } });

        let mut expected: BTreeSet<(String, String, String)> = BTreeSet::new();
        for (m, p) in &called {
            let state = if (m, p) == (&removed.0, &removed.1) {
                "shadow"
            } else if (m, p) == (&deprecated.0, &deprecated.1)
                || normalize_template(p) == normalize_template(&moved_path)
            {
                "zombie"
            } else {
                "documented"
            };
            let (m, p) = paths_of(m, p);
            expected.insert((m, p, state.to_string()));
        }
        for (m, p) in &never {
            // A never-called operation on the moved path moved with it.
            let p = if normalize_template(p) == normalize_template(&moved_path) {
                bump_version(p).unwrap_or_default()
            } else {
                p.clone()
            };
            let (m, p) = paths_of(m, &p);
            expected.insert((m, p, "orphan".into()));
        }
        for (method, _) in item.as_object().into_iter().flatten().filter(|(k, _)| k.as_str() != "parameters") {
            let (m, p) = paths_of(&method.to_ascii_uppercase(), &new_key);
            expected.insert((m, p, "orphan".into()));
        }
        expected.insert(("POST".into(), "/zz-added/never-called".into(), "orphan".into()));

        let spec_file = temp(&format!("{name}.modified.json"));
        std::fs::write(&spec_file, serde_json::to_vec_pretty(&spec).unwrap_or_default()).unwrap_or_default();
        let db = temp(&format!("{name}.db")).to_string_lossy().into_owned();
        let capture = format!("captures/apis/{name}.pcap");
        let run = apisonar(&["analyze", "--db", &db, "--spec", &spec_file.to_string_lossy(), &capture]);
        assert_eq!(run.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&run.stderr));
        let out = apisonar(&["inventory", "--db", &db, "--format", "json"]);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let got: BTreeSet<(String, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r["method"].as_str().unwrap_or_default().to_string(),
                    normalize_template(r["path"].as_str().unwrap_or_default()),
                    r["state"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let missing: Vec<_> = expected.difference(&got).collect();
        let unexpected: Vec<_> = got.difference(&expected).collect();
        assert!(
            missing.is_empty() && unexpected.is_empty(),
            "{name}:\n  missing {missing:#?}\n  unexpected {unexpected:#?}"
        );
        // An orphan was never seen: no first or last seen (not 1970-01-01), no transport.
        for r in &rows {
            if r["state"] == "orphan" {
                assert_eq!(r["hits"], 0, "{name}: {r}");
                for field in ["first_seen", "last_seen", "encrypted"] {
                    assert!(r[field].is_null(), "{name}: orphan {field}: {r}");
                }
            } else {
                assert!(r["first_seen"].is_string() && r["last_seen"].is_string(), "{name}: {r}");
                assert!(r["encrypted"].is_boolean(), "{name}: {r}");
            }
        }
        let table = apisonar(&["inventory", "--db", &db]);
        let table = String::from_utf8_lossy(&table.stdout);
        let line = table
            .lines()
            .find(|l| l.contains(" /zz-added/never-called "))
            .unwrap_or_else(|| panic!("{name}: no orphan line in\n{table}"));
        let columns: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            columns.get(1..7),
            Some(&["POST", "/zz-added/never-called", "orphan", "0", "-", "never"][..]),
            "{line}"
        );

        // Shadow and zombie endpoints raised alerts.
        let alerts = apisonar(&["alerts", "--db", &db, "--format", "json"]);
        let alerts: Vec<Value> = serde_json::from_slice(&alerts.stdout).unwrap_or_default();
        let kinds: BTreeSet<(String, String, String)> = alerts
            .iter()
            .map(|a| {
                (
                    a["kind"].as_str().unwrap_or_default().into(),
                    a["method"].as_str().unwrap_or_default().into(),
                    normalize_template(a["path"].as_str().unwrap_or_default()),
                )
            })
            .collect();
        for (m, p, state) in &expected {
            let kind = match state.as_str() {
                "shadow" => "shadow_api",
                "zombie" => "zombie_api",
                _ => continue,
            };
            assert!(
                kinds.contains(&(kind.to_string(), m.clone(), p.clone())),
                "{name}: no {kind} alert for {m} {p}: {kinds:?}"
            );
        }
        let posture_alerts = alerts.iter().filter(|a| a["kind"] == "shadow_api" || a["kind"] == "zombie_api").count();
        assert_eq!(
            posture_alerts,
            expected.iter().filter(|(_, _, s)| s == "shadow" || s == "zombie").count(),
            "{name}: {kinds:?}"
        );
        for a in &alerts {
            for field in [
                "id",
                "kind",
                "subtype",
                "severity",
                "title",
                "host",
                "method",
                "path",
                "client",
                "count",
                "first_seen",
                "last_seen",
                "evidence",
            ] {
                assert!(a.get(field).is_some(), "{field} missing in {a}");
            }
        }
    }
}

#[test]
fn specs_can_be_added_replaced_and_removed_and_bad_ones_change_nothing() {
    let db = temp("lifecycle.db").to_string_lossy().into_owned();
    let spec = repo_root().join("captures/apis/fastapi-shop.openapi.json").to_string_lossy().into_owned();
    assert_eq!(apisonar(&["analyze", "--db", &db, "captures/apis/fastapi-shop.pcap"]).status.code(), Some(0));
    let states = |db: &str| -> BTreeSet<String> {
        let out = apisonar(&["inventory", "--db", db, "--format", "json"]);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        rows.iter().map(|r| r["state"].as_str().unwrap_or_default().to_string()).collect()
    };
    assert_eq!(states(&db), BTreeSet::from(["undocumented".to_string()]));

    // A malformed spec: a clear error naming the file and the place; the store is unchanged.
    let bad = temp("bad.yaml");
    std::fs::write(&bad, "openapi: 3.0.0\npaths:\n  /a:\n    get: {}\n").unwrap_or_default();
    let out = apisonar(&["spec", "add", "--db", &db, &bad.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml") && err.contains("paths./a.get.responses"), "{err}");
    let out = apisonar(&["analyze", "--db", &db, "--spec", &bad.to_string_lossy(), "captures/apis/fastapi-shop.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&apisonar(&["spec", "list", "--db", &db]).stdout), "");

    // Bound to another host: it covers nothing here.
    assert_eq!(apisonar(&["spec", "add", "--db", &db, "--host", "other.test", &spec]).status.code(), Some(0));
    assert_eq!(states(&db), BTreeSet::from(["undocumented".to_string(), "orphan".to_string()]));
    // Replaced by the same spec for every host: the classification is recomputed.
    assert_eq!(apisonar(&["spec", "add", "--db", &db, &spec]).status.code(), Some(0));
    assert_eq!(states(&db), BTreeSet::from(["documented".to_string(), "orphan".to_string()]));
    let list = String::from_utf8_lossy(&apisonar(&["spec", "list", "--db", &db]).stdout).into_owned();
    assert!(list.starts_with("fastapi-shop.openapi.json\topenapi 3.1.0\t*\t23 operations"), "{list}");
    assert_eq!(apisonar(&["spec", "remove", "--db", &db, "fastapi-shop.openapi.json"]).status.code(), Some(0));
    assert_eq!(states(&db), BTreeSet::from(["undocumented".to_string()]));
    assert_eq!(apisonar(&["spec", "remove", "--db", &db, "fastapi-shop.openapi.json"]).status.code(), Some(1));
}

#[test]
fn drift_is_listed_per_documented_endpoint() {
    let db = temp("drift.db").to_string_lossy().into_owned();
    let mut spec: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("captures/apis/fastapi-shop.openapi.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    // Forget the documented query parameters and the 404 of one operation.
    let op = &mut spec["paths"]["/api/v1/products/{sku}"]["get"];
    op["responses"].as_object_mut().map(|r| r.remove("404"));
    let file = temp("drift.json");
    std::fs::write(&file, serde_json::to_vec(&spec).unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        apisonar(&["analyze", "--db", &db, "--spec", &file.to_string_lossy(), "captures/apis/fastapi-shop.pcap"])
            .status
            .code(),
        Some(0)
    );
    let out = apisonar(&["inventory", "--db", &db, "--format", "json"]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let row = rows
        .iter()
        .find(|r| r["method"] == "GET" && r["path"] == "/api/v1/products/{sku}")
        .unwrap_or_else(|| panic!("no products row"));
    assert_eq!(row["state"], "documented");
    assert_eq!(row["drift"]["status_codes"], json!([404]), "{}", row["drift"]);
}

/// A spec's path parameter does not hide an undocumented sibling route (issue 14): with
/// `GET /api/v1/orders/export` taken out of the FastAPI shop's own spec, its `{order_id}` matches
/// `export`, but the export answers CSV where orders answer JSON, so it stays its own endpoint,
/// classified shadow with the reason, whether the spec is there from the start or added to a store
/// that saw the traffic first. With the full spec it is documented.
#[test]
fn a_spec_parameter_does_not_swallow_an_undocumented_sibling_route() {
    let capture = repo_root().join("captures/apis/fastapi-shop.pcap").to_string_lossy().into_owned();
    let full = repo_root().join("captures/apis/fastapi-shop.openapi.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&full).unwrap_or_default()).unwrap_or_default();
    let removed = spec["paths"].as_object_mut().and_then(|p| p.remove("/api/v1/orders/export"));
    assert!(removed.is_some(), "the spec documents the export");
    let partial = temp("shop-without-export.json");
    std::fs::write(&partial, serde_json::to_vec(&spec).unwrap_or_default()).unwrap_or_default();
    let partial = partial.to_string_lossy().into_owned();
    let rows = |db: &str| -> Vec<Value> {
        let out = apisonar(&["inventory", "--db", db, "--format", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    let row = |rows: &[Value], path: &str| -> Value {
        rows.iter().find(|r| r["method"] == "GET" && r["path"] == path).cloned().unwrap_or(Value::Null)
    };

    let from_start = temp("apart-from-start").to_string_lossy().into_owned();
    let run = apisonar(&["analyze", "--db", &from_start, "--spec", &partial, &capture]);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let later = temp("apart-later").to_string_lossy().into_owned();
    assert_eq!(apisonar(&["analyze", "--db", &later, &capture]).status.code(), Some(0));
    assert_eq!(apisonar(&["spec", "add", "--db", &later, &partial]).status.code(), Some(0));
    for db in [&from_start, &later] {
        let rows = rows(db);
        let export = row(&rows, "/api/v1/orders/export");
        assert_eq!(export["state"], "shadow", "{db}: {export}");
        // Every call of the truth file (6), none counted under the documented operation.
        assert_eq!(export["hits"], 6, "{export}");
        let reason = export["state_reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("GET /api/v1/orders/{order_id}")
                && reason.contains("only through its parameter")
                && reason.contains("answers {text/csv} where")
                && reason.contains("answers {application/json}"),
            "{reason}"
        );
        let order = row(&rows, "/api/v1/orders/{order_id}");
        assert_eq!((&order["state"], &order["hits"]), (&json!("documented"), &json!(26)), "{order}");
        let alerts = apisonar(&["alerts", "--db", db, "--kind", "shadow_api", "--format", "json"]);
        let alerts: Vec<Value> = serde_json::from_slice(&alerts.stdout).unwrap_or_default();
        let paths: Vec<&str> = alerts.iter().filter_map(|a| a["path"].as_str()).collect();
        assert_eq!(paths, ["/api/v1/orders/export"], "{db}");
    }

    let documented = temp("apart-documented").to_string_lossy().into_owned();
    let run = apisonar(&["analyze", "--db", &documented, "--spec", &full.to_string_lossy(), &capture]);
    assert_eq!(run.status.code(), Some(0));
    let export = row(&rows(&documented), "/api/v1/orders/export");
    assert_eq!((&export["state"], &export["hits"]), (&json!("documented"), &json!(6)), "{export}");
}
