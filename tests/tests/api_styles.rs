//! API styles beyond HTTP/1 REST in the inventory, from captures of real software: gRPC methods
//! (grpcio) with their statuses, streaming kinds and protobuf message shapes, and HTTP/2
//! endpoints (hypercorn) beside HTTP/1 ones, each with its protocol.

use std::collections::BTreeMap;

use apisonar_tests::{apisonar, repo_root, scratch};

fn inventory(tag: &str, captures: &[&str]) -> Vec<serde_json::Value> {
    let db = scratch("api-styles", tag);
    let db = db.display().to_string();
    let mut args = vec!["analyze", "--db", &db];
    args.extend_from_slice(captures);
    let run = apisonar(&args);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let list = apisonar(&["inventory", "--db", &db, "--format", "json"]);
    assert_eq!(list.status.code(), Some(0), "{}", String::from_utf8_lossy(&list.stderr));
    serde_json::from_slice(&list.stdout).unwrap()
}

/// Per method (path): statuses by name, the most messages per request and per response, from
/// captures/expect/grpc-shop.pcap.grpc.tsv (tshark's gRPC dissector, checked by hand).
fn expected_grpc() -> BTreeMap<String, (BTreeMap<String, u64>, u64, u64)> {
    let text = std::fs::read_to_string(repo_root().join("captures/expect/grpc-shop.pcap.grpc.tsv")).unwrap();
    let mut out: BTreeMap<String, (BTreeMap<String, u64>, u64, u64)> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (path, req, resp, status) = (cols[2], cols[3].parse().unwrap(), cols[4].parse().unwrap(), cols[5]);
        let name = match status {
            "-" => "none",
            "0" => "OK",
            "4" => "DEADLINE_EXCEEDED",
            "5" => "NOT_FOUND",
            "16" => "UNAUTHENTICATED",
            other => panic!("status {other} not in this test's table"),
        };
        let e = out.entry(path.to_string()).or_default();
        *e.0.entry(name.to_string()).or_default() += 1;
        e.1 = e.1.max(req);
        e.2 = e.2.max(resp);
    }
    out
}

#[test]
fn grpc_methods_show_statuses_streaming_kinds_and_sensitive_data_inside_protobuf() {
    let rows = inventory("grpc", &["captures/grpc-shop.pcap"]);
    let expected = expected_grpc();
    assert_eq!(rows.len(), expected.len(), "one endpoint per method: {rows:#?}");
    for row in &rows {
        let path = row["path"].as_str().unwrap();
        let (statuses, req, resp) = &expected[path];
        let g = &row["grpc"];
        let ours: BTreeMap<String, u64> = serde_json::from_value(g["statuses"].clone()).unwrap();
        assert_eq!(&ours, statuses, "{path}");
        assert_eq!(
            (g["max_request_messages"].as_u64(), g["max_response_messages"].as_u64()),
            (Some(*req), Some(*resp)),
            "{path}"
        );
        let kind = match (*req > 1, *resp > 1) {
            (false, false) => "unary",
            (true, false) => "client_streaming",
            (false, true) => "server_streaming",
            (true, true) => "bidi_streaming",
        };
        assert_eq!(g["kind"], kind, "{path}");
        assert_eq!(row["method"], "POST");
        assert_eq!(row["protocols"], serde_json::json!(["grpc", "h2"]), "{path}");
        let (service, method) = path.trim_start_matches('/').split_once('/').unwrap();
        assert_eq!((g["service"].as_str(), g["method"].as_str()), (Some(service), Some(method)));
    }
    let by_path = |p: &str| rows.iter().find(|r| r["path"] == p).unwrap();
    // Personal data inside protobuf strings: the user's e-mail, phone and card number, and the
    // e-mail that only exists inside a gzip-compressed message.
    let user = by_path("/shop.v1.UserService/GetUser");
    let classes: Vec<String> = user["sensitive"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(at, _)| at.starts_with("response.grpc"))
        .flat_map(|(_, f)| f["classes"].as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    for class in ["email", "phone", "card_number"] {
        assert!(classes.iter().any(|c| c.starts_with(class)), "{class} not in {classes:?}");
    }
    let create = by_path("/shop.v1.OrderService/CreateOrder");
    assert!(create["sensitive"].as_object().unwrap().keys().any(|k| k.starts_with("request.grpc")), "{create:#}");
    // Message shapes: the order's line items are a repeated nested message.
    let order = &by_path("/shop.v1.OrderService/GetOrder")["response_schemas"]["200"];
    assert_eq!(order["properties"]["3"]["type"], "array", "{order:#}");
    assert_eq!(order["properties"]["3"]["items"]["properties"]["1"]["type"], "string", "{order:#}");
    // The bearer token is seen as auth, never stored.
    assert!(user["auth"].as_array().unwrap().iter().any(|a| a.as_str().unwrap().starts_with("jwt")));
}

#[test]
fn http2_and_http1_endpoints_sit_side_by_side_with_their_protocols() {
    let rows = inventory("h2", &["captures/h2c-api.pcap", "captures/python-api-keepalive.pcap"]);
    let protocols = |host_port: &str| -> Vec<serde_json::Value> {
        rows.iter()
            .filter(|r| r["host"].as_str().unwrap().ends_with(host_port))
            .map(|r| r["protocols"].clone())
            .collect()
    };
    let h2 = protocols(":8200");
    assert!(h2.len() >= 8, "{rows:#?}");
    assert!(h2.iter().all(|p| p == &serde_json::json!(["h2"])), "{h2:?}");
    let h1 = protocols(":5000");
    assert!(!h1.is_empty() && h1.iter().all(|p| p == &serde_json::json!(["http/1"])), "{h1:?}");
    // The h2c upgrade request (stream 1 of curl's connection) counts as HTTP/2.
    let user = rows.iter().find(|r| r["path"] == "/api/v2/users/{user_id}").unwrap();
    assert_eq!(user["hits"], 2);
}
