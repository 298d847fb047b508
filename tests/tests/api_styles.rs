//! API styles beyond HTTP/1 REST in the inventory, from captures of real software: gRPC methods
//! (grpcio) with their statuses, streaming kinds and protobuf message shapes, and HTTP/2
//! endpoints (hypercorn) beside HTTP/1 ones, each with its protocol.

use std::collections::BTreeMap;

use apisonar_tests::{apisonar, repo_root, scratch};

/// The store of one test (the same path for every call with `tag` in this process).
fn scratch_db(tag: &str) -> String {
    std::env::temp_dir().join(format!("apisonar-api-styles-{}-{tag}", std::process::id())).display().to_string()
}

fn inventory(tag: &str, captures: &[&str]) -> Vec<serde_json::Value> {
    let db = scratch("api-styles", tag);
    let db = db.display().to_string();
    assert_eq!(db, scratch_db(tag));
    let mut args = vec!["analyze", "--db", &db];
    args.extend_from_slice(captures);
    let run = apisonar(&args);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let list = apisonar(&["inventory", "--db", &db, "--format", "json"]);
    assert_eq!(list.status.code(), Some(0), "{}", String::from_utf8_lossy(&list.stderr));
    serde_json::from_slice(&list.stdout).unwrap()
}

/// The sensitive classes an inventory row found at locations starting with `prefix`.
fn classes_at(row: &serde_json::Value, prefix: &str) -> Vec<String> {
    row["sensitive"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(at, _)| at.starts_with(prefix))
        .flat_map(|(_, f)| f["classes"].as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect()
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
    let classes = classes_at(user, "response.grpc");
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

fn expectation_rows(file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(repo_root().join("captures/expect").join(file)).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn operations(row: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    row["operations"].as_array().map_or_else(BTreeMap::new, |ops| {
        ops.iter().map(|o| (o["label"].as_str().unwrap().to_string(), o.clone())).collect()
    })
}

/// GraphQL operations of a strawberry server against graphql-core's reading of the same
/// requests (captures/expect/graphql-api.pcap.graphql.tsv): labels, calls, root fields,
/// variables, persisted queries, introspection (which raises an alert), failed calls.
#[test]
fn graphql_operations_match_an_independent_parser_and_introspection_raises_an_alert() {
    let rows = inventory("graphql", &["captures/graphql-api.pcap"]);
    let mut expected: BTreeMap<String, (u64, Vec<String>, Vec<String>, u64)> = BTreeMap::new();
    for r in expectation_rows("graphql-api.pcap.graphql.tsv") {
        let (kind, name, fields, vars, hash, intro) = (&r[3], &r[4], &r[5], &r[6], &r[7], &r[8]);
        let label = match (kind.as_str(), hash.as_str(), name.as_str()) {
            // No document the server could run: graphql-core could not parse it.
            ("-", "-", _) => "invalid document".to_string(),
            ("-", h, n) => format!("persisted {n} {}", &h[..16]),
            (k, _, "-") => format!("{k} {{{}}}", fields.replace(',', " ")),
            (k, _, n) => format!("{k} {n}"),
        };
        let e = expected.entry(label).or_default();
        e.0 += 1;
        if kind != "-" {
            e.1 = fields.split(',').map(str::to_string).collect();
            e.1.sort();
            e.2 = if vars == "-" { Vec::new() } else { vars.split(',').map(str::to_string).collect() };
        }
        e.3 += u64::from(intro == "yes");
    }
    let mut ours: BTreeMap<String, (u64, Vec<String>, Vec<String>, u64)> = BTreeMap::new();
    for row in &rows {
        assert!(row["protocols"].as_array().unwrap().iter().any(|p| p == "graphql"), "{row:#}");
        for (label, o) in operations(row) {
            let e = ours.entry(label).or_default();
            e.0 += o["hits"].as_u64().unwrap();
            e.1 = o["root_fields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
            e.1.sort();
            e.2 = o["variables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().split(':').next().unwrap().to_string())
                .collect();
            e.3 += o["introspection"].as_u64().unwrap();
        }
    }
    assert_eq!(ours, expected);
    // The validation error (an unknown field) came back as `errors`: a failed call.
    let post = rows.iter().find(|r| r["method"] == "POST").unwrap();
    let ops = operations(post);
    assert_eq!(ops["query GetUserSsn"]["errors"], 1);
    assert_eq!(ops["query GetUser"]["errors"], 0);
    assert_eq!(ops["mutation AddOrder"]["variables"], serde_json::json!(["input: OrderInput!"]));
    let alerts = apisonar(&["alerts", "--db", &scratch_db("graphql"), "--format", "json"]);
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&alerts.stdout).unwrap();
    let intro: Vec<_> = alerts.iter().filter(|a| a["kind"] == "graphql_introspection").collect();
    assert_eq!(intro.len(), 1, "{alerts:#?}");
    assert_eq!(intro[0]["severity"], "medium", "introspection answered: it is on");
}

/// MCP over streamable HTTP (the official Python SDK): every JSON-RPC method the client sent,
/// labelled with its tool, prompt or resource scheme, the endpoint marked as MCP, the answers
/// read from their Server-Sent Events.
#[test]
fn mcp_methods_are_operations_of_an_endpoint_marked_mcp() {
    let rows = inventory("mcp", &["captures/mcp-tools.pcap"]);
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for r in expectation_rows("mcp-tools.pcap.jsonrpc.tsv") {
        let (method, name) = (&r[4], &r[6]);
        if method == "-" {
            continue;
        }
        let label = match name.as_str() {
            "-" => method.clone(),
            n if n.contains("://") => format!("{method} {}://", n.split("://").next().unwrap()),
            n => format!("{method} {n}"),
        };
        *expected.entry(label).or_default() += 1;
    }
    let post = rows.iter().find(|r| r["method"] == "POST").unwrap();
    let ours: BTreeMap<String, u64> =
        operations(post).into_iter().map(|(l, o)| (l, o["hits"].as_u64().unwrap())).collect();
    assert_eq!(ours, expected);
    assert!(operations(post).values().all(|o| o["style"] == "mcp" && o["errors"] == 0));
    assert_eq!(operations(post)["notifications/initialized"]["kind"], "notification");
    // Every endpoint of the MCP server is marked, the GET (event stream) and DELETE too.
    for row in &rows {
        assert!(row["protocols"].as_array().unwrap().iter().any(|p| p == "mcp"), "{row:#}");
    }
}

/// WebSocket endpoints from the `websockets` library's traffic: the messages after each 101
/// counted on the upgrade's endpoint by side and kind (against tshark's frames grouped into
/// messages), JSON message schemas, sensitive data inside messages, and the password a client
/// sent in a message raising the alert a request body would.
#[test]
fn websocket_messages_are_counted_read_and_checked_on_their_endpoint() {
    let rows = inventory("websocket", &["captures/websocket-deflate.pcap"]);
    // Messages per connection path and side, from the expectation (continuations are frames
    // of the message before them).
    let paths = ["/ws/chat", "/ws/feed", "/ws/plain"];
    let mut expected: BTreeMap<(String, bool), u64> = BTreeMap::new();
    for r in expectation_rows("websocket-deflate.pcap.ws.tsv") {
        if r[2] != "continuation" {
            let path = paths[r[0].parse::<usize>().unwrap()].to_string();
            *expected.entry((path, r[1] == "client")).or_default() += 1;
        }
    }
    for path in paths {
        let row = rows.iter().find(|r| r["path"] == path).unwrap_or_else(|| panic!("{path} not in {rows:#?}"));
        let ws = &row["websocket"];
        assert_eq!(ws["client_messages"].as_u64(), Some(expected[&(path.to_string(), true)]), "{path}");
        assert_eq!(ws["server_messages"].as_u64(), Some(expected[&(path.to_string(), false)]), "{path}");
        assert!(row["protocols"].as_array().unwrap().iter().any(|p| p == "websocket"), "{path}");
        // The handshake nonce is not an API key.
        assert!(!row["sensitive"].as_object().unwrap().keys().any(|k| k.contains("sec-websocket")), "{row:#}");
    }
    let chat = rows.iter().find(|r| r["path"] == "/ws/chat").unwrap();
    assert_eq!(chat["websocket"]["kinds"]["binary"], 1);
    assert_eq!(chat["websocket"]["kinds"]["ping"], 1);
    let fields = chat["websocket"]["client_schema"]["properties"].as_object().unwrap();
    // (The 70 KB bulk message is cut at the 64 KiB sample: it gives no schema.)
    for f in ["type", "user", "password", "email", "channel"] {
        assert!(fields.contains_key(f), "{f} not in {fields:?}");
    }
    let sensitive = chat["sensitive"].as_object().unwrap();
    assert!(sensitive["message.client.json.password"]["classes"]["password"].as_u64() == Some(1), "{sensitive:#?}");
    assert!(sensitive.contains_key("message.server.json.notify"), "{sensitive:#?}");
    let alerts = apisonar(&["alerts", "--db", &scratch_db("websocket"), "--format", "json"]);
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&alerts.stdout).unwrap();
    assert!(
        alerts.iter().any(|a| a["kind"] == "cleartext_credentials"
            && a["subtype"] == "password"
            && a["path"] == "/ws/chat"
            && a["evidence"].as_str().unwrap().contains("message.client.json.password")),
        "{alerts:#?}"
    );
    assert!(alerts.iter().all(|a| !a["title"].as_str().unwrap().contains("api_key")), "{alerts:#?}");
}

/// A GraphQL SDL loaded like an OpenAPI spec (captures/graphql/schema.graphql lacks
/// `Mutation.addOrder`): the operation that calls it is a shadow operation with a `shadow_api`
/// alert, every other one is documented, and the endpoint itself is documented.
#[test]
fn a_graphql_schema_makes_undocumented_operations_shadow() {
    let db = scratch("api-styles", "graphql-sdl");
    let db = db.display().to_string();
    let run =
        apisonar(&["analyze", "--db", &db, "--spec", "captures/graphql/schema.graphql", "captures/graphql-api.pcap"]);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let list = apisonar(&["inventory", "--db", &db, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    let post = rows.iter().find(|r| r["method"] == "POST").unwrap();
    assert_eq!(post["state"], "documented", "{post:#}");
    let ops = operations(post);
    assert_eq!(ops["mutation AddOrder"]["state"], "shadow");
    assert!(ops["mutation AddOrder"]["state_reason"].as_str().unwrap().contains("addOrder"));
    for (label, o) in &ops {
        if label.starts_with("query ") {
            assert_eq!(o["state"], "documented", "{label}");
        } else if label != "mutation AddOrder" {
            assert!(o.get("state").is_none(), "{label}: persisted and invalid ones have no fields to judge");
        }
    }
    let alerts = apisonar(&["alerts", "--db", &db, "--format", "json"]);
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&alerts.stdout).unwrap();
    let shadow: Vec<_> = alerts.iter().filter(|a| a["kind"] == "shadow_api").collect();
    assert_eq!(shadow.len(), 1, "{alerts:#?}");
    assert_eq!(shadow[0]["subtype"], "mutation AddOrder");
}

/// gRPC-Web over HTTP/1.1 (sonora, a Python gRPC-Web implementation): the same methods as gRPC,
/// statuses from the trailer frame at the end of the body (or the headers), message counts
/// without that frame, personal data inside protobuf strings.
#[test]
fn grpc_web_calls_over_http1_are_grpc_methods_with_their_trailer_frame_statuses() {
    let rows = inventory("grpc-web", &["captures/grpc-web.pcap"]);
    let mut expected: BTreeMap<String, (BTreeMap<String, u64>, u64)> = BTreeMap::new();
    for r in expectation_rows("grpc-web.pcap.grpcweb.tsv") {
        let name = match r[6].as_str() {
            "-" => "none",
            "0" => "OK",
            "5" => "NOT_FOUND",
            "16" => "UNAUTHENTICATED",
            other => panic!("status {other} not in this test's table"),
        };
        let e = expected.entry(r[1].clone()).or_default();
        *e.0.entry(name.to_string()).or_default() += 1;
        e.1 = e.1.max(r[5].parse().unwrap());
    }
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for row in &rows {
        let path = row["path"].as_str().unwrap();
        let (statuses, resp) = &expected[path];
        let ours: BTreeMap<String, u64> = serde_json::from_value(row["grpc"]["statuses"].clone()).unwrap();
        assert_eq!(&ours, statuses, "{path}");
        assert_eq!(row["grpc"]["max_response_messages"].as_u64(), Some(*resp), "{path}");
        assert!(row["protocols"].as_array().unwrap().iter().any(|p| p == "grpc"), "{path}");
    }
    let user = rows.iter().find(|r| r["path"] == "/shop.v1.UserService/GetUser").unwrap();
    let classes = classes_at(user, "response.grpc");
    for class in ["email", "card_number"] {
        assert!(classes.iter().any(|c| c.starts_with(class)), "{class} not in {classes:?}");
    }
}
