//! Operations inside one HTTP endpoint: GraphQL operations and JSON-RPC 2.0 methods (MCP's
//! among them), read from request bodies (and, for GraphQL over GET, the query string), with
//! their outcome read from the answer (a JSON body, or Server-Sent Events).
//!
//! Everything here reads attacker-controlled text: documents are parsed with `apollo-parser`
//! under recursion and token limits, names are cut to [`MAX_NAME`] characters and kept only when
//! they look like identifiers, and at most [`MAX_OPERATIONS`] operations are read per request.

use apollo_parser::cst::{self, CstNode};
use serde_json::Value;

/// Operations read from one request (a batch keeps its first ones).
const MAX_OPERATIONS: usize = 16;
/// Characters kept of a name (operation, method, tool, field).
pub const MAX_NAME: usize = 64;
/// Root fields and variables kept per operation.
const MAX_FIELDS: usize = 32;
/// GraphQL documents longer than this are not parsed (their operation is still counted).
const MAX_DOCUMENT: usize = 64 * 1024;
const GRAPHQL_RECURSION_LIMIT: usize = 64;
const GRAPHQL_TOKEN_LIMIT: usize = 20_000;

/// GraphQL documents remembered per worker: clients send the same few documents with different
/// variables, and parsing is most of an operation's cost.
const MAX_CACHED_DOCUMENTS: usize = 1024;

/// What a worker has parsed: GraphQL operations by the hash of their document and operation
/// name. Cleared when full (a client sending endless distinct documents costs parsing, not
/// memory).
#[derive(Debug, Default)]
pub struct DocumentCache {
    parsed: std::collections::HashMap<u64, Option<Operation>>,
}

impl DocumentCache {
    fn graphql(&mut self, document: &str, operation_name: Option<&str>) -> Option<Operation> {
        let key = crate::stats::stable_hash_more(
            crate::stats::stable_hash(document.as_bytes()),
            operation_name.unwrap_or("\0").as_bytes(),
        );
        crate::memo::remembered(&mut self.parsed, key, MAX_CACHED_DOCUMENTS, || graphql(document, operation_name))
    }
}

/// Parses with the cache when there is one.
fn parse_with(
    cache: &mut Option<&mut DocumentCache>,
    document: &str,
    operation_name: Option<&str>,
) -> Option<Operation> {
    match cache {
        Some(c) => c.graphql(document, operation_name),
        None => graphql(document, operation_name),
    }
}

/// The API style an operation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Style {
    GraphQl,
    JsonRpc,
    /// JSON-RPC spoken by a Model Context Protocol client and server.
    Mcp,
}

impl Style {
    pub fn as_str(self) -> &'static str {
        match self {
            Style::GraphQl => "graphql",
            Style::JsonRpc => "jsonrpc",
            Style::Mcp => "mcp",
        }
    }
}

/// One operation of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Operation {
    pub style: Option<Style>,
    /// GraphQL: `query`, `mutation`, `subscription`, `persisted` (a hash without a document),
    /// or `invalid` (a document that does not parse);
    /// JSON-RPC: `request` or `notification`.
    pub kind: &'static str,
    /// What the inventory lists it by: `query GetUser`, `query {me}` for an anonymous one,
    /// `persisted 5d00b356…`, `tools/call get_weather`.
    pub label: String,
    /// GraphQL root fields (aliases resolved to field names).
    pub root_fields: Vec<String>,
    /// GraphQL variables and their declared types (`id: ID!`).
    pub variables: Vec<(String, String)>,
    /// A GraphQL document that asks for the schema (`__schema`, `__type`).
    pub introspection: bool,
    /// The answer said it failed: GraphQL `errors`, a JSON-RPC `error`.
    pub error: bool,
}

/// Keeps a name if it looks like one (letters, digits and `_ . / : -`), cut to [`MAX_NAME`].
fn name(text: &str) -> Option<String> {
    let t = text.trim();
    let ok = !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || "_./:-".contains(c));
    ok.then(|| t.chars().take(MAX_NAME).collect())
}

/// A syntax node's text, trimmed (a name's node may carry the whitespace after it).
pub(crate) fn text_of(node: &impl CstNode) -> String {
    node.syntax().text().to_string().trim().to_string()
}

/// The operations of a request: GraphQL when the endpoint or the content type says so, or the
/// JSON body has a GraphQL `query`; JSON-RPC when the body has `"jsonrpc": "2.0"`.
pub fn of_request(
    path: &str,
    content_type: Option<&str>,
    headers: &crate::observation::Headers,
    body: &[u8],
    json: Option<&Value>,
    query_pairs: &[(String, String)],
    mut cache: Option<&mut DocumentCache>,
) -> Vec<Operation> {
    // Looked for without an allocation: this runs for every transaction.
    let graphql_path = path.as_bytes().windows(7).any(|w| w.eq_ignore_ascii_case(b"graphql"));
    if content_type == Some("application/graphql") {
        let text = String::from_utf8_lossy(body);
        return parse_with(&mut cache, &text, None).into_iter().collect();
    }
    if let Some(v) = json {
        let items: Vec<&Value> = match v {
            Value::Array(items) => items.iter().take(MAX_OPERATIONS).collect(),
            one => vec![one],
        };
        let rpc: Vec<Operation> = items.iter().filter_map(|item| json_rpc(item, headers)).collect();
        if !rpc.is_empty() {
            return rpc;
        }
        let gql: Vec<Operation> =
            items.iter().filter_map(|item| graphql_request(item, graphql_path, &mut cache)).collect();
        if !gql.is_empty() {
            return gql;
        }
    }
    if graphql_path {
        if let Some((_, q)) = query_pairs.iter().find(|(n, _)| n == "query") {
            let op_name = query_pairs.iter().find(|(n, _)| n == "operationName").map(|(_, v)| v.as_str());
            return parse_with(&mut cache, q, op_name).into_iter().collect();
        }
    }
    Vec::new()
}

/// Whether a JSON request body may hold operations ([`of_request`] finds none in one that does
/// not): an object, or one of an array's first `MAX_OPERATIONS`, with a `jsonrpc`, `query` or
/// `extensions` key. Most bodies have none, and are not read as a `Value` for it.
pub fn may_name_operations(json: &crate::json::Json<'_>) -> bool {
    use crate::json::Json;
    let names = |item: &Json<'_>| match item {
        Json::Object(entries) => {
            entries.iter().any(|(key, _)| matches!(key.as_ref(), "jsonrpc" | "query" | "extensions"))
        }
        _ => false,
    };
    match json {
        Json::Array(items) => items.iter().take(MAX_OPERATIONS).any(names),
        one => names(one),
    }
}

/// A GraphQL request object: `query` (with `operationName`), or a persisted query's hash.
fn graphql_request(item: &Value, graphql_path: bool, cache: &mut Option<&mut DocumentCache>) -> Option<Operation> {
    let obj = item.as_object()?;
    let query = obj.get("query").and_then(Value::as_str);
    let op_name = obj.get("operationName").and_then(Value::as_str);
    if let Some(q) = query {
        // Outside a /graphql path, a `query` text must look like a document.
        if !graphql_path && !q.contains('{') {
            return None;
        }
        return parse_with(cache, q, op_name);
    }
    let hash = obj.get("extensions")?.get("persistedQuery")?.get("sha256Hash")?.as_str()?;
    let hex: String = hash.chars().filter(char::is_ascii_hexdigit).take(16).collect();
    if hex.is_empty() {
        return None;
    }
    let label = match op_name.and_then(name) {
        Some(n) => format!("persisted {n} {hex}"),
        None => format!("persisted {hex}"),
    };
    Some(Operation { style: Some(Style::GraphQl), kind: "persisted", label, ..Operation::default() })
}

/// The operation a GraphQL document runs: the one `operation_name` names, else the first.
pub fn graphql(document: &str, operation_name: Option<&str>) -> Option<Operation> {
    if document.len() > MAX_DOCUMENT {
        return Some(Operation {
            style: Some(Style::GraphQl),
            kind: "query",
            label: "query (too large to read)".into(),
            ..Operation::default()
        });
    }
    let tree = apollo_parser::Parser::new(document)
        .recursion_limit(GRAPHQL_RECURSION_LIMIT)
        .token_limit(GRAPHQL_TOKEN_LIMIT)
        .parse();
    if tree.errors().len() > 0 {
        // Not a document the server can run: one bucket, whatever name it claims, so that
        // junk cannot fill the endpoint with operations.
        return Some(Operation {
            style: Some(Style::GraphQl),
            kind: "invalid",
            label: "invalid document".into(),
            ..Operation::default()
        });
    }
    let ops: Vec<cst::OperationDefinition> = tree
        .document()
        .definitions()
        .filter_map(|d| match d {
            cst::Definition::OperationDefinition(op) => Some(op),
            _ => None,
        })
        .collect();
    let wanted = operation_name.map(str::trim);
    let op = ops
        .iter()
        .find(|op| wanted.is_some() && op.name().map(|n| text_of(&n)).as_deref() == wanted)
        .or_else(|| ops.first())?;
    let kind = match op.operation_type() {
        Some(t) if t.mutation_token().is_some() => "mutation",
        Some(t) if t.subscription_token().is_some() => "subscription",
        _ => "query",
    };
    let root_fields: Vec<String> = op
        .selection_set()
        .map(|set| {
            set.selections()
                .filter_map(|s| match s {
                    cst::Selection::Field(f) => f.name().and_then(|n| name(&text_of(&n))),
                    _ => None,
                })
                .take(MAX_FIELDS)
                .collect()
        })
        .unwrap_or_default();
    let variables: Vec<(String, String)> = op
        .variable_definitions()
        .map(|defs| {
            defs.variable_definitions()
                .filter_map(|d| {
                    let var = name(&text_of(&d.variable()?.name()?))?;
                    let ty: String = text_of(&d.ty()?).split_whitespace().collect::<String>();
                    Some((var, ty.chars().take(MAX_NAME).collect()))
                })
                .take(MAX_FIELDS)
                .collect()
        })
        .unwrap_or_default();
    let op_name = op.name().and_then(|n| name(&text_of(&n)));
    let label = match &op_name {
        Some(n) => format!("{kind} {n}"),
        None => format!("{kind} {{{}}}", root_fields.join(" ")),
    };
    let introspection = root_fields.iter().any(|f| f == "__schema" || f == "__type");
    Some(Operation { style: Some(Style::GraphQl), kind, label, root_fields, variables, introspection, error: false })
}

/// MCP methods (the Model Context Protocol's JSON-RPC vocabulary).
const MCP_METHODS: [&str; 12] = [
    "initialize",
    "notifications/initialized",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
];

/// The request carries MCP's session or protocol-version header (streamable HTTP transport).
pub fn is_mcp_session(headers: &crate::observation::Headers) -> bool {
    headers.iter().any(|(n, _)| n == "mcp-session-id" || n == "mcp-protocol-version")
}

/// A JSON-RPC 2.0 request or notification. MCP's are labelled with what they act on: the tool,
/// prompt, or resource scheme (`tools/call get_weather`).
fn json_rpc(item: &Value, headers: &crate::observation::Headers) -> Option<Operation> {
    let obj = item.as_object()?;
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return None;
    }
    let method = name(obj.get("method")?.as_str()?)?;
    let mcp = is_mcp_session(headers) || MCP_METHODS.contains(&method.as_str());
    let params = obj.get("params");
    let target = match method.as_str() {
        "tools/call" | "prompts/get" => params.and_then(|p| p.get("name")).and_then(Value::as_str).and_then(name),
        // A resource URI may carry anything: only its scheme is kept.
        "resources/read" | "resources/subscribe" => params
            .and_then(|p| p.get("uri"))
            .and_then(Value::as_str)
            .and_then(|u| u.split_once("://").map(|(scheme, _)| format!("{scheme}://")))
            .and_then(|s| name(&s)),
        _ => None,
    };
    let label = match target {
        Some(t) => format!("{method} {t}"),
        None => method,
    };
    let kind = if obj.contains_key("id") { "request" } else { "notification" };
    Some(Operation { style: Some(if mcp { Style::Mcp } else { Style::JsonRpc }), kind, label, ..Operation::default() })
}

/// The JSON values of a Server-Sent Events body (`text/event-stream`): each event's `data`
/// lines joined, kept when they parse as JSON.
pub fn sse_values(body: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    let mut data = String::new();
    let flush = |data: &mut String, out: &mut Vec<Value>| {
        if !data.is_empty() && out.len() < MAX_OPERATIONS {
            if let Ok(v) = serde_json::from_str::<Value>(data) {
                out.push(v);
            }
        }
        data.clear();
    };
    // Lines end in CR, LF or CRLF; an empty line dispatches the event.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    for line in text.split('\n') {
        if line.is_empty() {
            flush(&mut data, &mut out);
        } else if let Some(rest) = line.strip_prefix("data") {
            if let Some(value) = rest.strip_prefix(':').map(|v| v.strip_prefix(' ').unwrap_or(v)) {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            } else if rest.is_empty() {
                data.push('\n');
            }
        }
    }
    flush(&mut data, &mut out);
    out
}

/// Marks the operations the answer says failed: GraphQL `errors` (per batch item), JSON-RPC
/// `error` (matched by position, which is how batches and single calls answer).
pub fn read_outcome(ops: &mut [Operation], answer: &[Value]) {
    let answers: Vec<&Value> = match answer {
        [Value::Array(items)] => items.iter().collect(),
        many => many.iter().collect(),
    };
    let responses: Vec<&Value> = answers
        .into_iter()
        .filter(|v| v.get("id").is_some() || v.get("data").is_some() || v.get("errors").is_some())
        .collect();
    for (op, v) in ops.iter_mut().filter(|o| o.kind != "notification").zip(responses) {
        op.error = match op.style {
            Some(Style::GraphQl) => v.get("errors").and_then(Value::as_array).is_some_and(|e| !e.is_empty()),
            _ => v.get("error").is_some(),
        };
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(path: &str, body: &Value) -> Vec<Operation> {
        of_request(path, Some("application/json"), &Default::default(), &[], Some(body), &[], None)
    }

    #[test]
    fn a_body_said_to_name_no_operation_has_none() {
        let bodies = [
            r#"{"query":"query Q { a }"}"#,
            r#"{"query":"no braces"}"#,
            r#"{"extensions":{"persistedQuery":{"sha256Hash":"abc123"}}}"#,
            r#"{"jsonrpc":"2.0","method":"tools/list","id":1}"#,
            r#"[{"a":1},{"jsonrpc":"2.0","method":"m"}]"#,
            r#"[1,2,{"query":"{ a }"}]"#,
            r#"{"customer":1,"items":[{"query":"{ a }"}]}"#,
            r#"{"Query":"{ a }","JSONRPC":"2.0"}"#,
            r#"[]"#,
            r#""query""#,
            r#"{}"#,
        ];
        for body in bodies {
            let json = crate::json::Json::parse(body.as_bytes()).unwrap();
            let value = json.to_value();
            for path in ["/graphql", "/api/orders"] {
                let with_value = ops(path, &value);
                if !may_name_operations(&json) {
                    let without = of_request(path, Some("application/json"), &Default::default(), &[], None, &[], None);
                    assert_eq!(with_value, without, "{body} on {path}");
                }
            }
        }
    }

    #[test]
    fn graphql_operations_have_kinds_names_root_fields_and_variable_types() {
        let q = json!({"query": "query GetUser($id: ID!, $full: Boolean = false) { user(id: $id) { id name } me { name } }",
                       "variables": {"id": "7"}});
        let got = ops("/graphql", &q);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].label, "query GetUser");
        assert_eq!(got[0].root_fields, ["user", "me"]);
        assert_eq!(got[0].variables, [("id".into(), "ID!".into()), ("full".into(), "Boolean".into())]);
        let anon = ops("/graphql", &json!({"query": "{ me { name } }"}));
        assert_eq!(anon[0].label, "query {me}");
        let two =
            json!({"query": "query A { a } mutation B($x: [Int!]!) { addB(x: $x) { id } }", "operationName": "B"});
        let got = ops("/api", &two);
        assert_eq!((got[0].label.as_str(), got[0].kind), ("mutation B", "mutation"));
        assert_eq!(got[0].variables, [("x".into(), "[Int!]!".into())]);
        let intro = ops("/graphql", &json!({"query": "query IntrospectionQuery { __schema { types { name } } }"}));
        assert!(intro[0].introspection);
        // Batches, persisted queries.
        let batch = json!([{"query": "query A { a }"}, {"query": "mutation M { m }"}]);
        assert_eq!(
            ops("/graphql", &batch).iter().map(|o| o.label.clone()).collect::<Vec<_>>(),
            ["query A", "mutation M"]
        );
        let apq = json!({"operationName": "GetUser", "extensions": {"persistedQuery": {"version": 1,
            "sha256Hash": "5d00b356e2f3b3ef0a9f1d2a7b9c33aa1c0e4f5b6a7d8e9f0a1b2c3d4e5f6a7b"}}});
        assert_eq!(ops("/graphql", &apq)[0].label, "persisted GetUser 5d00b356e2f3b3ef");
        // GET with the document in the query string.
        let pairs = [("query".to_string(), "{ me { id } }".to_string())];
        assert_eq!(of_request("/graphql", None, &Default::default(), &[], None, &pairs, None)[0].label, "query {me}");
        // The cache answers as the parser does.
        let mut cache = DocumentCache::default();
        let q = json!({"query": "query GetUser($id: ID!) { user(id: $id) { id } }"});
        let direct = ops("/graphql", &q);
        for _ in 0..3 {
            let cached = of_request(
                "/graphql",
                Some("application/json"),
                &Default::default(),
                &[],
                Some(&q),
                &[],
                Some(&mut cache),
            );
            assert_eq!(cached, direct);
        }
        assert_eq!(cache.parsed.len(), 1);
        // A REST body with a `query` word is not GraphQL.
        assert!(ops("/search", &json!({"query": "red shoes"})).is_empty());
    }

    #[test]
    fn json_rpc_and_mcp_methods_are_labelled_by_what_they_act_on() {
        let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_weather", "arguments": {"city": "Oslo"}}});
        let got = ops("/mcp", &call);
        assert_eq!(
            (got[0].label.as_str(), got[0].style, got[0].kind),
            ("tools/call get_weather", Some(Style::Mcp), "request")
        );
        let read = json!({"jsonrpc": "2.0", "id": 4, "method": "resources/read", "params": {"uri": "file:///home/alice/secret.txt"}});
        assert_eq!(ops("/mcp", &read)[0].label, "resources/read file://");
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(ops("/mcp", &note)[0].kind, "notification");
        let plain = json!([{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": []},
                           {"jsonrpc": "2.0", "id": 2, "method": "bad name!"}]);
        let got = ops("/rpc", &plain);
        assert_eq!(got.len(), 1, "a method that is not a name is left out");
        assert_eq!((got[0].label.as_str(), got[0].style), ("eth_getBalance", Some(Style::JsonRpc)));
        let mut got = ops("/rpc", &json!({"jsonrpc": "2.0", "id": 1, "method": "x"}));
        read_outcome(&mut got, &[json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no"}})]);
        assert!(got[0].error);
    }

    #[test]
    fn server_sent_events_are_framed_into_their_json_data() {
        let body = b": comment\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\r\ndata: \"result\":{}}\r\n\r\nevent: x\ndata: not json\n\ndata:{\"a\":1}\n";
        assert_eq!(sse_values(body), [json!({"jsonrpc": "2.0", "id": 1, "result": {}}), json!({"a": 1})]);
    }

    #[test]
    fn hostile_documents_are_bounded() {
        let deep = format!("query {}{}", "{ a ".repeat(5000), "}".repeat(5000));
        let _ = graphql(&deep, None);
        let long = format!("query {{ {} }}", "f ".repeat(100_000));
        assert_eq!(graphql(&long, None).unwrap().label, "query (too large to read)");
        let many = format!("query Q {{ {} }}", (0..1000).map(|i| format!("f{i}")).collect::<Vec<_>>().join(" "));
        assert_eq!(graphql(&many, None).unwrap().root_fields.len(), MAX_FIELDS);
        assert_eq!(name(&"x".repeat(500)).unwrap().len(), MAX_NAME);
        assert_eq!(graphql("", None).unwrap().label, "invalid document");
        assert_eq!(graphql("query Broken { user(id: ", None).unwrap().label, "invalid document");
    }
}
