//! Export: OpenAPI documents (valid 3.1 by openapi-spec-validator; Redocly's recommended rules
//! and Spectral's `oas` rules report no error and only the warnings listed below) and Postman
//! collections (valid against the format's JSON Schema, and read back by an independent
//! implementation), from the command line and from the dashboard's download routes, following
//! the inventory filters.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use apisonar_tests::{apisonar, curl, repo_root, serve, shop_store_with_a_shadow};

fn temp(name: &str) -> String {
    apisonar_tests::scratch("export", name).to_string_lossy().into_owned()
}

fn validate(path: &str) {
    let out = Command::new("openapi-spec-validator")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("openapi-spec-validator not found ({e}): run scripts/setup-debian.sh"));
    assert!(
        out.status.success(),
        "{path} invalid:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Warnings the linters may give, and why each is right for a document of observed traffic:
/// a sensor does not know the API's licence or owner (`info-license`, `info-contact`), and an
/// operation whose clients never got a 4xx answer, or never a 2xx one, has none to document
/// (`operation-4xx-response`, `operation-2xx-response`: inventing one would describe traffic
/// that was not seen); and `no-ambiguous-paths` when the API really has such routes (the shop's
/// `/users/by-name/{name}` beside `/users/{id}/orders`; FastAPI's own document of it gets the
/// same warning).
const JUSTIFIED_WARNINGS: &[&str] =
    &["info-license", "info-contact", "operation-4xx-response", "operation-2xx-response", "no-ambiguous-paths"];

fn e2e_bin(name: &str) -> PathBuf {
    let bin = repo_root().join("tests/e2e/node_modules/.bin").join(name);
    assert!(bin.exists(), "{} missing: run `npm ci --prefix tests/e2e` (scripts/setup-debian.sh does)", bin.display());
    bin
}

/// Rules each linter reported on `path`, errors apart from warnings.
fn lint(path: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let e2e = repo_root().join("tests/e2e");
    let (mut errors, mut warnings) = (BTreeSet::new(), BTreeSet::new());
    let redocly = Command::new(e2e_bin("redocly"))
        .args(["lint", "--config", &e2e.join("redocly.yaml").display().to_string(), "--format", "json", path])
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&redocly.stdout)
        .unwrap_or_else(|e| panic!("redocly: {e}\n{}", String::from_utf8_lossy(&redocly.stderr)));
    for p in report["problems"].as_array().unwrap() {
        let rule = format!("redocly:{}", p["ruleId"].as_str().unwrap());
        if p["severity"] == "error" {
            errors.insert(rule)
        } else {
            warnings.insert(rule)
        };
    }
    let spectral = Command::new(e2e_bin("spectral"))
        .args(["lint", "-r", &e2e.join("spectral.yaml").display().to_string(), "-f", "json", "--quiet", path])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&spectral.stdout)
        .unwrap_or_else(|e| panic!("spectral: {e}\n{}", String::from_utf8_lossy(&spectral.stderr)));
    for p in report.as_array().unwrap() {
        let rule = format!("spectral:{}", p["code"].as_str().unwrap());
        // Spectral: 0 error, 1 warning, 2 information, 3 hint.
        if p["severity"] == 0 {
            errors.insert(rule)
        } else {
            warnings.insert(rule)
        };
    }
    (errors, warnings)
}

/// Valid, and the linters find nothing but justified warnings.
fn check_openapi(path: &str) {
    validate(path);
    let (errors, warnings) = lint(path);
    assert!(errors.is_empty(), "{path}: lint errors {errors:?}");
    let unexplained: Vec<&String> =
        warnings.iter().filter(|w| !JUSTIFIED_WARNINGS.iter().any(|j| w.ends_with(&format!(":{j}")))).collect();
    assert!(unexplained.is_empty(), "{path}: warnings {unexplained:?}");
}

#[test]
fn the_linters_catch_what_the_export_avoids() {
    // A document as the export made it before: no tags, no descriptions, no security.
    let path = temp("bare.json");
    let bare = serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "http://h"}],
        "paths": {"/x": {"get": {"operationId": "get_x", "responses": {"200": {"description": "OK"}}}}},
        "components": {"securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}}}
    });
    std::fs::write(&path, bare.to_string()).unwrap();
    let (errors, warnings) = lint(&path);
    assert!(errors.contains("redocly:security-defined"), "{errors:?}");
    assert!(warnings.contains("spectral:operation-tags") && warnings.contains("spectral:operation-description"));
}

#[test]
fn exported_documents_are_valid_lint_clean_and_describe_the_traffic() {
    let db = temp("db");
    let run = apisonar(&[
        "analyze",
        "--db",
        &db,
        "captures/python-api-keepalive.pcap",
        "captures/nginx-static.pcap",
        "captures/ipv6.pcap",
    ]);
    assert_eq!(run.status.code(), Some(0));

    let several = apisonar(&["export", "openapi", "--db", &db]);
    assert_eq!(several.status.code(), Some(1), "several hosts need --host or --out");

    let yaml = apisonar(&["export", "openapi", "--db", &db, "--host", "127.0.0.1:5000"]);
    assert_eq!(yaml.status.code(), Some(0));
    let yaml_path = format!("{db}/api.yaml");
    std::fs::write(&yaml_path, &yaml.stdout).unwrap_or_else(|e| panic!("{e}"));
    check_openapi(&yaml_path);

    let out_dir = temp("out");
    let files = apisonar(&["export", "openapi", "--db", &db, "--format", "json", "--out", &out_dir]);
    assert_eq!(files.status.code(), Some(0));
    let mut written: Vec<_> = std::fs::read_dir(&out_dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    written.sort();
    assert!(written.len() >= 2, "{written:?}");
    for path in &written {
        check_openapi(&path.to_string_lossy());
    }
    let api = written
        .iter()
        .find(|p| p.to_string_lossy().contains("127.0.0.1_5000"))
        .unwrap_or_else(|| panic!("{written:?}"));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(api).unwrap_or_default()).unwrap_or_default();
    assert_eq!(doc["openapi"], "3.1.0");
    let user = &doc["paths"]["/api/v1/users/{user_id}"];
    assert!(user["get"].is_object() && user["put"].is_object() && user["delete"].is_object(), "{user}");
    assert_eq!(user["get"]["parameters"][0]["schema"]["type"], "integer");
    assert_eq!(user["get"]["tags"], serde_json::json!(["users"]));
    let login = &doc["paths"]["/api/v1/login"]["post"];
    assert_eq!(
        login["requestBody"]["content"]["application/json"]["schema"]["properties"]["password"]["type"],
        "string"
    );
    assert_eq!(login["security"], serde_json::json!([]), "the login was seen without credentials");
    assert!(doc["components"]["securitySchemes"]["bearerJwt"].is_object());
    let described = user["get"]["description"].as_str().unwrap_or_default();
    assert!(described.contains("Inventory state: undocumented") && described.contains("First seen 20"), "{described}");
}

/// The JSON Schema of Postman collections v2.1, as the `postman_collection` crate ships it.
fn postman_schema() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(repo_root().join("Cargo.toml"))
        .output()
        .unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "postman_collection")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("postman_collection is a dev-dependency of the tests");
    Path::new(manifest).parent().unwrap().join("tests/fixtures/schema/postman-collection-v2.1.0.json")
}

/// The JSON Schema errors of the collection at `path` (python-jsonschema, Draft 7).
fn postman_schema_errors(path: &str) -> Vec<String> {
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))\n\
                  for e in jsonschema.Draft7Validator(schema).iter_errors(doc): print(e.message[:200], list(e.path))\n";
    let out = Command::new("python3").args(["-c", script]).arg(postman_schema()).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

fn check_postman(path: &str) -> serde_json::Value {
    let errors = postman_schema_errors(path);
    assert!(errors.is_empty(), "{path}: {errors:?}");
    let bytes = std::fs::read(path).unwrap();
    match postman_collection::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}")) {
        postman_collection::PostmanCollection::V2_1_0(_) => {}
        _ => panic!("{path}: read back as another version"),
    }
    serde_json::from_slice(&bytes).unwrap()
}

/// Requests in a collection, at any folder depth: their names.
fn requests(items: &serde_json::Value, out: &mut Vec<String>) {
    for item in items.as_array().into_iter().flatten() {
        if item["request"].is_object() {
            out.push(item["name"].as_str().unwrap_or_default().to_string());
        }
        requests(&item["item"], out);
    }
}

/// `unzip -l`-like: the names and texts of a zip's files (read by Python's zipfile).
fn unzip(path: &str) -> Vec<(String, String)> {
    let script = "import json, sys, zipfile\n\
                  z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None\n\
                  print(json.dumps([[n, z.read(n).decode()] for n in z.namelist()]))\n";
    let out = Command::new("python3").args(["-c", script, path]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_dashboard_downloads_openapi_and_postman_of_what_the_filters_select() {
    let db = shop_store_with_a_shadow("export", "routes");
    let token = String::from_utf8(apisonar(&["token", "create", "--db", &db, "--name", "ci"]).stdout).unwrap();
    let auth = format!("Authorization: Bearer {}", token.trim());
    let server = serve(&db);
    let get = |query: &str, file: &str| {
        let (code, body) =
            curl(&["-H", &auth, "-D", &format!("{file}.head"), "-o", file, &format!("{}{query}", server.url)]);
        let head = std::fs::read_to_string(format!("{file}.head")).unwrap_or_default();
        (code, head, body)
    };

    // One host, JSON: a valid, lint-clean document of every seen endpoint.
    let host = "127.0.0.1:8000";
    let file = temp("host.json");
    let (code, head, _) = get(&format!("/api/v1/export/openapi?host={host}&format=json"), &file);
    assert_eq!(code, 200);
    assert!(head.contains("attachment; filename=\"127.0.0.1_8000-"), "{head}");
    check_openapi(&file);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let operations: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    let (_, listing) = curl(&["-H", &auth, &format!("{}/api/v1/endpoints?host={host}&per_page=500", server.url)]);
    let listing: serde_json::Value = serde_json::from_str(&listing).unwrap();
    let seen = listing["items"].as_array().unwrap().iter().filter(|r| r["state"] != "orphan").count();
    assert_eq!(operations, seen, "one operation per seen endpoint");
    let metrics = &doc["paths"]["/api/v1/admin/metrics"]["get"];
    assert!(metrics["description"].as_str().unwrap().contains("Inventory state: shadow"), "{metrics}");

    // Only shadow endpoints, every host: a zip of YAML documents holding just the shadow one.
    let zip = temp("shadow.zip");
    let (code, head, _) = get("/api/v1/export/openapi?state=shadow", &zip);
    assert_eq!(code, 200);
    assert!(head.contains("application/zip"), "{head}");
    let files = unzip(&zip);
    assert_eq!(files.len(), 1, "{:?}", files.iter().map(|f| &f.0).collect::<Vec<_>>());
    let yaml = temp("shadow.yaml");
    std::fs::write(&yaml, &files[0].1).unwrap();
    check_openapi(&yaml);
    assert!(files[0].1.contains("\"/api/v1/admin/metrics\":") && !files[0].1.contains("\"/api/v1/users\":"));

    // Postman: every seen endpoint, valid, and read back; the shadow filter keeps one request.
    let all = temp("all.postman.json");
    let (code, head, _) = get("/api/v1/export/postman", &all);
    assert_eq!(code, 200);
    assert!(head.contains("apisonar.postman_collection.json"), "{head}");
    let collection = check_postman(&all);
    let mut names = Vec::new();
    requests(&collection["item"], &mut names);
    assert_eq!(names.len(), seen, "{names:?}");
    // Credentials are variables, never a value from the capture.
    let text = std::fs::read_to_string(&all).unwrap();
    assert!(text.contains("\"shop_session={{cookie_shop_session}}\""), "the session cookie is a variable");
    assert_eq!(text.matches("shop_session=").count(), text.matches("shop_session={{cookie_shop_session}}").count());
    let shadow = temp("shadow.postman.json");
    let (code, _, _) = get("/api/v1/export/postman?state=shadow", &shadow);
    assert_eq!(code, 200);
    let mut names = Vec::new();
    requests(&check_postman(&shadow)["item"], &mut names);
    assert_eq!(names, ["GET /api/v1/admin/metrics"]);

    // Refusals: an unknown format, a filter nothing matches.
    let (code, _) = curl(&["-H", &auth, &format!("{}/api/v1/export/openapi?format=xml", server.url)]);
    assert_eq!(code, 400);
    let (code, _) = curl(&["-H", &auth, &format!("{}/api/v1/export/postman?host=nowhere.test", server.url)]);
    assert_eq!(code, 404);
    // Without credentials, nothing.
    let (code, body) = curl(&[&format!("{}/api/v1/export/postman", server.url)]);
    assert_eq!(code, 401, "{body}");

    // The command line (once the dashboard let go of the store) gives the same collection.
    drop(server);
    let cli = apisonar(&["export", "postman", "--db", &db, "--state", "shadow"]);
    assert_eq!(cli.status.code(), Some(0), "{}", String::from_utf8_lossy(&cli.stderr));
    let from_cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(from_cli, serde_json::from_slice::<serde_json::Value>(&std::fs::read(&shadow).unwrap()).unwrap());
}

#[test]
fn the_postman_schema_check_rejects_a_broken_collection() {
    let path = temp("broken.postman.json");
    std::fs::write(&path, r#"{"info": {"name": "x"}, "item": [{"name": "r", "request": {"method": 7}}]}"#).unwrap();
    let errors = postman_schema_errors(&path);
    assert!(errors.iter().any(|e| e.contains("'schema' is a required property")), "{errors:?}");
}

/// The dashboard API's own description (web/openapi.json, served at /api/v1/openapi.json) is a
/// valid document too.
#[test]
fn the_dashboard_api_document_is_valid() {
    validate(&apisonar_tests::repo_root().join("web/openapi.json").display().to_string());
}
