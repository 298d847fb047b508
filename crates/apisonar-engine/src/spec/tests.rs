//! Spec parsing: versions, servers and base paths, `$ref`s, security, and hostile documents.

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
    // YAML alias bombs are refused by the YAML parser.
    let mut bomb = String::from("openapi: 3.0.0\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    bomb.push_str("paths: {}\n");
    assert!(parse("bomb.yaml", &bomb).is_err());
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
