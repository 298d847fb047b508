//! Spec parsing: versions, servers and base paths, `$ref`s, security, and hostile documents.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use serde_json::json;

use super::*;

const OPENAPI_30: &str = r##"
openapi: 3.0.3
info: { title: Shop, version: "1" }
servers:
  - url: https://api.shop.test/v2
  - url: "{scheme}://staging.shop.test:8443/v2"
    variables: { scheme: { default: https } }
security: [ { bearer: [] } ]
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer, bearerFormat: JWT }
    key: { type: apiKey, in: header, name: X-API-Key }
  parameters:
    Limit: { name: limit, in: query, required: true, schema: { type: integer } }
  schemas:
    User:
      type: object
      properties: { id: { type: integer }, email: { type: string }, manager: { $ref: "#/components/schemas/User" } }
    NewUser:
      allOf:
        - $ref: "#/components/schemas/User"
        - properties: { password: { type: string } }
paths:
  /users:
    get:
      parameters: [ { $ref: "#/components/parameters/Limit" } ]
      responses:
        "200": { description: ok, content: { application/json: { schema: { type: array, items: { $ref: "#/components/schemas/User" } } } } }
    post:
      security: [ { key: [] }, {} ]
      requestBody: { content: { application/json: { schema: { $ref: "#/components/schemas/NewUser" } } } }
      responses: { "201": { description: created }, 4XX: { description: bad } }
  /users/{id}:
    parameters: [ { name: id, in: path, required: true, schema: { type: integer } } ]
    get:
      deprecated: true
      responses: { default: { description: any } }
"##;

#[test]
fn openapi_30_with_servers_refs_and_security() {
    let spec = parse("shop.yaml", OPENAPI_30).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.format, "openapi 3.0.3");
    assert_eq!(spec.hosts, vec!["api.shop.test", "staging.shop.test:8443"]);
    let ops: Vec<(String, String)> = spec.operations.iter().map(|o| (o.method.clone(), o.path.clone())).collect();
    assert_eq!(
        ops,
        vec![
            ("GET".into(), "/v2/users".into()),
            ("POST".into(), "/v2/users".into()),
            ("GET".into(), "/v2/users/{id}".into())
        ]
    );
    let list = &spec.operations[0];
    assert_eq!(list.params, vec![SpecParam { name: "limit".into(), location: "query".into(), required: true }]);
    assert_eq!(list.security, vec!["jwt"]);
    assert_eq!(list.response_fields, Some(["email", "id", "manager"].iter().map(|s| s.to_string()).collect()));
    let create = &spec.operations[1];
    assert_eq!(create.security, vec!["api_key_header(x-api-key)", "none"]);
    assert_eq!(
        create.request_fields,
        Some(["email", "id", "manager", "password"].iter().map(|s| s.to_string()).collect())
    );
    assert_eq!(create.responses, vec!["201", "4XX"]);
    assert!(spec.operations[2].deprecated);
    assert_eq!(spec.operations[2].params[0].name, "id");
}

#[test]
fn swagger_20_with_base_path() {
    let doc = r#"{"swagger":"2.0","host":"legacy.test","basePath":"/api/","info":{"title":"L","version":"1"},
      "securityDefinitions":{"b":{"type":"basic"}},
      "paths":{"/orders/{id}":{"get":{"security":[{"b":[]}],"parameters":[{"name":"id","in":"path","required":true,"type":"integer"}],
        "responses":{"200":{"description":"ok","schema":{"type":"object","properties":{"total":{"type":"number"}}}}}},
        "put":{"parameters":[{"name":"body","in":"body","schema":{"properties":{"note":{"type":"string"}}}}],"consumes":["application/json"],"responses":{"204":{"description":"x"}}}}}}"#;
    let spec = parse("legacy.json", doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((spec.format.as_str(), spec.hosts.clone()), ("swagger 2.0", vec!["legacy.test".to_string()]));
    assert_eq!(spec.operations[0].path, "/api/orders/{id}");
    assert_eq!(spec.operations[0].security, vec!["basic"]);
    assert_eq!(spec.operations[1].request_fields, Some(["note".to_string()].into_iter().collect()));
    assert_eq!(spec.operations[1].request_content_types, vec!["application/json"]);
}

#[test]
fn errors_name_the_place() {
    let e = parse("x.json", "{\"openapi\": \"3.0.0\", \"paths\": [1,}").unwrap_err();
    assert!(e.place.starts_with("line 1 column"), "{e}");
    let e = parse("x.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get: [unclosed\n").unwrap_err();
    assert!(e.place.starts_with("line "), "{e}");
    let e = parse("x.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get: {}\n").unwrap_err();
    assert_eq!(e.place, "paths./a.get.responses");
    let e = parse("x.yaml", "openapi: 3.1.0\npaths:\n  a: {}\n").unwrap_err();
    assert_eq!(e.place, "paths.a");
    assert_eq!(parse("x.yaml", "openapi: 4.0.0\npaths: {}\n").unwrap_err().place, "openapi");
    assert_eq!(parse("x.yaml", "title: nothing\n").unwrap_err().place, "document");
    assert_eq!(parse("x.yaml", "- a\n- b\n").unwrap_err().place, "document");
    let e = parse(
        "x.yaml",
        "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      parameters: [{name: q}]\n      responses: {}\n",
    )
    .unwrap_err();
    assert_eq!(e.place, "paths./a.get.parameters[0]");
}

#[test]
fn hostile_specs_are_refused_or_bounded() {
    // Recursive $ref between path items: an error, not a hang.
    let cyclic = r##"{"openapi":"3.0.0","paths":{"/a":{"$ref":"#/paths/~1b"},"/b":{"$ref":"#/paths/~1a"}}}"##;
    let e = parse("c.json", cyclic).unwrap_err();
    assert!(e.message.contains("cycle"), "{e}");
    // Deep nesting: the parser's recursion limit answers with a place.
    let deep = format!("{{\"openapi\":\"3.0.0\",\"paths\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(parse("d.json", &deep).is_err());
    let deep_yaml = format!("openapi: 3.0.0\npaths: {}{}\n", "[".repeat(5_000), "]".repeat(5_000));
    assert!(parse("d.yaml", &deep_yaml).is_err());
    // YAML alias bombs are refused while aliases are expanded.
    let mut bomb = String::from("openapi: 3.0.0\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    bomb.push_str("paths: {}\n");
    let e = parse("bomb.yaml", &bomb).unwrap_err();
    assert!(e.message.contains("aliases expand to more than"), "{e}");
    // Too big.
    let huge = " ".repeat(MAX_SPEC_BYTES + 1);
    assert_eq!(parse("h.json", &huge).unwrap_err().place, "document");
    // A self-referencing schema is cut, not followed forever.
    let self_ref = r##"{"openapi":"3.0.0","paths":{"/n":{"get":{"responses":{"200":{"description":"x","content":{"application/json":{"schema":{"$ref":"#/components/schemas/N"}}}}}}}},
      "components":{"schemas":{"N":{"properties":{"next":{"$ref":"#/components/schemas/N"}},"allOf":[{"$ref":"#/components/schemas/N"}]}}}}"##;
    let spec = parse("n.json", self_ref).unwrap_or_else(|e| panic!("{e}"));
    assert!(spec.operations[0].response_fields.as_ref().is_some_and(|f| f.contains("next")));
}

#[test]
fn many_operations_stay_bounded() {
    let mut doc = String::from("{\"openapi\":\"3.0.0\",\"paths\":{");
    for i in 0..2000 {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!("\"/r{i}/{{id}}\":{{\"get\":{{\"responses\":{{\"200\":{{\"description\":\"x\"}}}}}}}}"));
    }
    doc.push_str("}}");
    assert_eq!(parse("many.json", &doc).map(|s| s.operations.len()).unwrap_or(0), 2000);
}

/// A spec whose schema `S0` lists `S1` twice in `allOf`, `S1` lists `S2` twice, and so on: read
/// naively, `levels` levels cost 2^levels schema visits.
fn all_of_ladder(levels: usize, json: bool) -> String {
    let schema = |i: usize| {
        let next = format!("{{\"$ref\": \"#/components/schemas/S{}\"}}", i + 1);
        let all_of = if i < levels { format!(", \"allOf\": [{next}, {next}]") } else { String::new() };
        format!("\"S{i}\": {{\"properties\": {{\"f{i}\": {{}}}}{all_of}}}")
    };
    let schemas: Vec<String> = (0..=levels).map(schema).collect();
    let op = r##"{"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}}}}}"##;
    if json {
        format!(
            "{{\"openapi\": \"3.0.0\", \"paths\": {{\"/x\": {op}}}, \"components\": {{\"schemas\": {{{}}}}}}}",
            schemas.join(", ")
        )
    } else {
        let lines: Vec<String> = schemas.iter().map(|s| format!("    {{{s}}}").replacen('{', "", 1)).collect();
        let lines: Vec<String> = lines.iter().map(|l| l.strip_suffix('}').unwrap_or(l).to_string()).collect();
        format!("openapi: 3.0.0\npaths:\n  /x: {op}\ncomponents:\n  schemas:\n{}\n", lines.join("\n"))
    }
}

#[test]
fn exponential_all_of_costs_linear_work_and_a_budget_refuses_more() {
    for json in [true, false] {
        let doc = all_of_ladder(30, json);
        let (spec, spent) = parse_metered("ladder", &doc, MAX_SCHEMA_NODES).unwrap_or_else(|e| panic!("{e}"));
        let fields = spec.operations[0].response_fields.clone().unwrap();
        assert_eq!(fields.len(), 31, "every level's field, json={json}");
        assert!(fields.contains("f0") && fields.contains("f30"));
        // Each schema is expanded once: a few units per level, not 2^30.
        assert!(spent < 300, "spent {spent} work units, json={json}");
        let e = parse_metered("ladder", &doc, 50).unwrap_err();
        assert_eq!(e.place, "paths./x.get.responses.200");
        assert!(e.message.contains("expands to more than 50 schema nodes"), "{e}");
    }
}

#[test]
fn recursive_schemas_collect_every_reachable_field_once() {
    // A and B reach each other through allOf, C through items: one cycle, every field, no hang.
    let doc = r##"{"openapi":"3.0.0","paths":{
      "/a":{"get":{"responses":{"200":{"description":"x","content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}},
      "/b":{"get":{"responses":{"200":{"description":"x","content":{"application/json":{"schema":{"$ref":"#/components/schemas/B"}}}}}}}},
      "components":{"schemas":{
        "A":{"properties":{"a":{}},"allOf":[{"$ref":"#/components/schemas/B"}]},
        "B":{"properties":{"b":{}},"anyOf":[{"$ref":"#/components/schemas/A"},{"items":{"$ref":"#/components/schemas/C"}}]},
        "C":{"properties":{"c":{}},"oneOf":[{"$ref":"#/components/schemas/nowhere"}]}}}}"##;
    let spec = parse("r.json", doc).unwrap_or_else(|e| panic!("{e}"));
    let want: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    for op in &spec.operations {
        assert_eq!(op.response_fields.as_ref(), Some(&want), "{}", op.path);
    }
}

#[test]
fn yaml_alias_bombs_are_refused_with_the_place() {
    // Wide rather than deep: 1500 copies of a 1500-item list, 2.25 million nodes from 10 KB.
    let items = vec!["x"; 1500].join(", ");
    let aliases = vec!["*a"; 1500].join(", ");
    let doc = format!("openapi: 3.0.0\na: &a [{items}]\nb: [{aliases}]\npaths: {{}}\n");
    let e = parse("wide.yaml", &doc).unwrap_err();
    assert!(e.message.contains(&format!("aliases expand to more than {MAX_YAML_COPIED_NODES} nodes")), "{e}");
    assert!(e.place.starts_with("line 3 column "), "{e}");
    // Few aliases of one long string: counted by what they copy, not one node each.
    let doc =
        format!("openapi: 3.0.0\na: &a {}\nb: [{}]\npaths: {{}}\n", "x".repeat(64_000), vec!["*a"; 2_100].join(", "));
    let e = parse("long.yaml", &doc).unwrap_err();
    assert!(e.message.contains("aliases expand to more than"), "{e}");
    // An alias inside its own anchor cannot be expanded at all.
    let e = parse("self.yaml", "openapi: 3.0.0\na: &a [1, *a]\npaths: {}\n").unwrap_err();
    assert_eq!(e.place, "line 2 column 11");
}

#[test]
fn yaml_with_a_few_anchors_still_parses() {
    let doc = r##"
openapi: 3.0.0
info: { title: Anchors, version: "1" }
x-error: &error
  description: failed
  content:
    application/json:
      schema: { properties: { code: { type: integer }, message: { type: string } } }
paths:
  /a:
    get:
      responses:
        "200": { description: ok, content: { application/json: { schema: &item { properties: { id: {}, name: {} } } } } }
        "400": *error
  /b:
    get:
      responses:
        "200": { description: ok, content: { application/json: { schema: *item } } }
        "500": *error
"##;
    let spec = parse("anchors.yaml", doc).unwrap_or_else(|e| panic!("{e}"));
    let b = &spec.operations[1];
    assert_eq!((b.path.as_str(), b.responses.clone()), ("/b", vec!["200".to_string(), "500".to_string()]));
    assert_eq!(b.response_fields, Some(["id", "name"].iter().map(|s| s.to_string()).collect()));
    assert_eq!(b.response_content_types, vec!["application/json"]);
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let refused = |name: &str, doc: &str, wanted: &str| {
        let e = parse(name, doc).unwrap_err();
        assert!(e.place.starts_with("line "), "{name}: {e}");
        assert!(e.message.contains(wanted), "{name}: {e}");
    };
    // Block sequences, one level per "- ", far deeper than any stack would take recursively.
    refused("block.yaml", &format!("openapi: 3.0.0\npaths:\n{}x\n", "- ".repeat(100_000)), "nested deeper than 128");
    refused("flow.yaml", &format!("openapi: 3.0.0\npaths: {}\n", "{a: ".repeat(5_000)), "");
    // An alias can nest as deep as its anchor: a 100-deep anchor under 100 levels is too deep.
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let doc = format!("openapi: 3.0.0\nd: &d {deep}\nx: {}*d{}\npaths: {{}}\n", "[".repeat(100), "]".repeat(100));
    refused("alias.yaml", &doc, "through an alias");
    let json = format!("{{\"openapi\":\"3.0.0\",\"paths\":{}1{}}}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    refused("deep.json", &json, "recursion limit");
}

#[test]
fn yaml_scalars_read_as_the_core_schema() {
    let cases = [
        ("a: 1", json!({"a": 1})),
        ("a: -7", json!({"a": -7})),
        ("a: +5", json!({"a": 5})),
        ("a: 0x1F", json!({"a": 31})),
        ("a: 0o17", json!({"a": 15})),
        ("a: 0x-1", json!({"a": "0x-1"})),
        ("a: 1.5e3", json!({"a": 1500.0})),
        ("a: .5", json!({"a": 0.5})),
        ("a: 18446744073709551616", json!({"a": 18_446_744_073_709_551_616.0})),
        ("a: 007", json!({"a": "007"})),
        ("a: 1_000", json!({"a": "1_000"})),
        ("a: 3.0.3", json!({"a": "3.0.3"})),
        ("a: '1'", json!({"a": "1"})),
        ("a: !!str 12", json!({"a": "12"})),
        ("a: ~", json!({"a": null})),
        ("a:", json!({"a": null})),
        ("a: True", json!({"a": true})),
        ("a: no", json!({"a": "no"})),
        ("a: .inf", json!({"a": null})),
        ("a: nan", json!({"a": "nan"})),
        ("a: |\n  text\n", json!({"a": "text\n"})),
        ("200: ok", json!({"200": "ok"})),
        ("a: 1\na: 2", json!({"a": 2})),
    ];
    for (yaml, want) in cases {
        assert_eq!(yaml_documents(yaml).unwrap(), vec![want], "{yaml:?}");
    }
    let e = yaml_documents("? [a]\n: b\n").unwrap_err();
    assert!(e.message.contains("mapping key"), "{e}");
}

#[test]
fn yaml_streams_and_single_spec_documents() {
    let docs = yaml_documents("kind: A\n---\nkind: B\n").unwrap();
    assert_eq!(docs, vec![json!({"kind": "A"}), json!({"kind": "B"})]);
    let e = parse("two.yaml", "openapi: 3.0.0\npaths: {}\n---\nopenapi: 3.0.0\npaths: {}\n").unwrap_err();
    assert_eq!(e.place, "line 3 column 1");
    assert!(e.message.contains("more than one YAML document"), "{e}");
}

#[test]
fn server_variables_cannot_grow_a_url_without_bound() {
    // Each default names the next variable 64 times: 64^4 copies of `{v4}` from a short spec.
    let mut vars = Vec::new();
    for i in 0..4 {
        vars.push(format!("\"v{i}\": {{\"default\": \"{}\"}}", format!("{{v{}}}", i + 1).repeat(64)));
    }
    let doc = format!(
        "{{\"openapi\":\"3.0.0\",\"servers\":[{{\"url\":\"https://h.test/{{v0}}\",\"variables\":{{{}}}}}],\"paths\":{{}}}}",
        vars.join(",")
    );
    let e = parse("vars.json", &doc).unwrap_err();
    assert_eq!(e.place, "servers[0].url");
    assert!(e.message.contains(&format!("longer than {MAX_URL_BYTES} bytes")), "{e}");
}

#[test]
fn operation_parameters_override_path_parameters() {
    let doc = r#"{"openapi":"3.0.0","paths":{"/p":{"parameters":[{"name":"q","in":"query"},{"name":"h","in":"header"}],
      "get":{"parameters":[{"name":"q","in":"query","required":true},{"name":"q","in":"header"}],"responses":{}}}}}"#;
    let spec = parse("p.json", doc).unwrap_or_else(|e| panic!("{e}"));
    let params: Vec<(&str, &str, bool)> =
        spec.operations[0].params.iter().map(|p| (p.name.as_str(), p.location.as_str(), p.required)).collect();
    assert_eq!(params, [("h", "header", false), ("q", "query", true), ("q", "header", false)]);
}
