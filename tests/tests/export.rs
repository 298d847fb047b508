//! OpenAPI export: valid 3.1 documents (checked by openapi-spec-validator), one per host, that
//! parse back with the discovered paths.

use std::process::Command;

use apisonar_tests::apisonar;

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

#[test]
fn exported_documents_are_valid_and_describe_the_traffic() {
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
    validate(&yaml_path);

    let out_dir = temp("out");
    let files = apisonar(&["export", "openapi", "--db", &db, "--format", "json", "--out", &out_dir]);
    assert_eq!(files.status.code(), Some(0));
    let mut written: Vec<_> = std::fs::read_dir(&out_dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    written.sort();
    assert!(written.len() >= 2, "{written:?}");
    for path in &written {
        validate(&path.to_string_lossy());
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
    let login = &doc["paths"]["/api/v1/login"]["post"];
    assert_eq!(
        login["requestBody"]["content"]["application/json"]["schema"]["properties"]["password"]["type"],
        "string"
    );
    assert!(doc["components"]["securitySchemes"]["bearerJwt"].is_object());
}

/// The dashboard API's own description (web/openapi.json, served at /api/v1/openapi.json) is a
/// valid document too.
#[test]
fn the_dashboard_api_document_is_valid() {
    validate(&apisonar_tests::repo_root().join("web/openapi.json").display().to_string());
}
