//! Checker functions for the fuzz targets (`fuzz/`) and this crate's tests: arbitrary bytes
//! decoded into observations and taken through the whole per-transaction analysis, and arbitrary
//! text through spec parsing, asserting the invariants both must keep.
//!
//! The observation decoder reads the input with [`Unstructured`] as a stream of choices: each
//! byte picks among values that make the analysis do something (JSON and form bodies, cookies,
//! Authorization headers, planted secrets, injection payloads, multi-byte text, `%`, `{`, `}`),
//! or supplies raw text. An exhausted input reads as zeros (first choices, empty text), so no
//! read fails and every byte string decodes to something.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::{Result, Unstructured};
use serde_json::{Map, Number, Value};

use crate::behavior::{Behavior, Thresholds};
use crate::catalog::{Endpoint, EndpointKey, TransactionFacts};
use crate::sensitive::{Class, MaskKey};
use crate::spec::{Spec, SpecError};
use crate::{Alert, Catalog, InventoryLimits, Observation, ObservedResponse, TemplateConfig};

/// Most observations decoded from one input.
const MAX_OBSERVATIONS: usize = 48;

/// Secrets planted in requests and responses: no mask may show one whole.
const SECRETS: [&str; 8] = [
    "correct-horse-battery-staple",
    "4111111111111111",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_1234567890abcdefghijklmnopqrstuvwxyz",
    "DE89370400440532013000",
    "hunter2hunter2hunter2",
    "eyJzZWNyZXQiOiJzZWNyZXQifQ",
];

/// The spec posture is classified against; its paths are pinned into the catalog too.
const POSTURE_SPEC: &str = r##"
openapi: 3.1.0
info: { title: Fuzz, version: "1" }
servers: [ { url: "http://api.test/api" } ]
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer, bearerFormat: JWT }
    key: { type: apiKey, in: header, name: X-API-Key }
security: [ { bearer: [] } ]
paths:
  /v2/users:
    get:
      parameters: [ { name: limit, in: query, required: true } ]
      responses: { "200": { description: ok, content: { application/json: { schema: { type: array, items: { properties: { id: {}, email: {} } } } } } } }
    post:
      security: [ { key: [] }, {} ]
      requestBody: { content: { application/json: { schema: { properties: { email: {}, password: {} } } } } }
      responses: { "201": { description: created }, 4XX: { description: bad } }
  /v2/users/{id}: { get: { responses: { "200": { description: ok } } }, delete: { responses: { "204": { description: gone } } } }
  /v2/users/me: { get: { responses: { default: { description: ok } } } }
  /v1/orders/{order}/items: { get: { deprecated: true, responses: { "200": { description: ok } } } }
  /v2/orders/{order}/items: { get: { responses: { "200": { description: ok } } } }
"##;

/// What one run of [`analyse`] produced, for tests that check the checker reaches things.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub endpoints: usize,
    pub alerts: BTreeSet<String>,
    pub documented: usize,
    pub findings: usize,
}

// ---------------------------------------------------------------------------------------------
// The choice stream.

/// Up to `max` bytes of the input (fewer once it runs out). The dashboard checker of
/// apisonar-web reads with it too.
pub fn bytes_up_to<'a>(u: &mut Unstructured<'a>, max: usize) -> Result<&'a [u8]> {
    let n = u.int_in_range(0..=max)?;
    u.bytes(n.min(u.len()))
}

/// Up to `max` bytes of the input as text (invalid UTF-8 replaced).
pub fn text_up_to(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    Ok(String::from_utf8_lossy(bytes_up_to(u, max)?).into_owned())
}

const WORDS: &[&str] = &[
    "users",
    "orders",
    "items",
    "api",
    "v1",
    "v2",
    "me",
    "search",
    "export",
    "admin",
    "login",
    "repos",
    "orgs",
    "members",
    "files",
    "",
    ".",
    "..",
    "%",
    "%2F",
    "%zz",
    "%E2%82%AC",
    "{id}",
    "%7Bid%7D",
    "{",
    "}",
    "{}",
    "ünïcødé",
    "日本語",
    "😀",
    "a b",
    "*",
    ";x=1",
    "~user",
    "index.html",
    "%F0%9F%98%80",
    "%C3",
    "{{x}}",
    "_debug",
    "status",
];

const PARAM_NAMES: &[&str] = &[
    "q",
    "id",
    "page",
    "limit",
    "api_key",
    "token",
    "access_token",
    "password",
    "email",
    "card",
    "ssn",
    "redirect",
    "url",
    "",
    "%",
    "ü",
    "a[]",
    "{x}",
    "next",
    "iban",
    "phone",
    "secret",
    "key",
    "dni",
];

const INJECTIONS: &[&str] = &[
    "' OR 1=1--",
    "1 UNION SELECT password FROM users",
    "<script>alert(1)</script>",
    "../../../etc/passwd",
    "${jndi:ldap://x/a}",
    "{{7*7}}",
    "; cat /etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "%27%20OR%201%3D1",
    "%",
    "%%",
    "%u0041",
    "${",
    "\u{0}",
    "O'Brien",
];

const OTHER_VALUES: &[&str] = &[
    "a@b.test",
    "user@example.com",
    "078-05-1120",
    "12345678Z",
    "111222333",
    "529.982.247-25",
    "+1 415 555 2671",
    "2024-02-30",
    "2024-01-02T03:04:05Z",
    "550e8400-e29b-41d4-a716-446655440000",
    "507f1f77bcf86cd799439011",
    "true",
    "-0",
    "1e400",
    "ünïcødé",
    "日本語のテキスト",
    "😀😀😀",
    "",
    " ",
    "-----BEGIN RSA PRIVATE KEY-----",
];

fn value(u: &mut Unstructured<'_>, depth: u8) -> Result<String> {
    Ok(match u.choose_index(9)? {
        0 => u.choose(&SECRETS)?.to_string(),
        1 => u.choose(INJECTIONS)?.to_string(),
        2 => u.choose(OTHER_VALUES)?.to_string(),
        3 => u.arbitrary::<u64>()?.to_string(),
        4 => format!("user{}@example.com", u.arbitrary::<u8>()?),
        5 if depth < 3 => {
            let a = value(u, depth.saturating_add(1))?;
            let b = value(u, depth.saturating_add(1))?;
            format!("{a}{b}")
        }
        6 if depth < 3 => jwt(u, depth.saturating_add(1))?,
        _ => text_up_to(u, 40)?,
    })
}

fn base64(bytes: &[u8], url: bool) -> String {
    let table: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        let sextets = chunk.len().saturating_add(1);
        for k in 0..4usize {
            if k < sextets {
                let shift = 18usize.saturating_sub(k.saturating_mul(6));
                let index = usize::try_from((n >> shift) & 63).unwrap_or(0);
                out.push(char::from(table.get(index).copied().unwrap_or(b'A')));
            } else if !url {
                out.push('=');
            }
        }
    }
    out
}

/// A JWT whose issuer may be another value, nested at most to the same depth as `value`'s (each
/// level is a third longer: unbounded, a few hundred input bytes made terabytes).
fn jwt(u: &mut Unstructured<'_>, depth: u8) -> Result<String> {
    let alg = *u.choose(&["HS256", "none", "RS256", "", "ES512", "ü"])?;
    let header = serde_json::json!({ "alg": alg, "typ": "JWT" }).to_string();
    let payload = match u.choose_index(4)? {
        0 => serde_json::json!({ "iss": value(u, depth)?, "exp": u.arbitrary::<u64>()?, "sub": "42" }).to_string(),
        1 => serde_json::json!({ "iss": "https://issuer.test/", "exp": -1 }).to_string(),
        2 => text_up_to(u, 30)?,
        _ => "{}".to_string(),
    };
    let header = if u.choose_index(8)? == 0 { text_up_to(u, 12)? } else { base64(header.as_bytes(), true) };
    Ok(format!("{header}.{}.{}", base64(payload.as_bytes(), true), base64(bytes_up_to(u, 12)?, true)))
}

fn segment(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.choose_index(10)? {
        0 => u.arbitrary::<u64>()?.checked_rem(100_000).unwrap_or(0).to_string(),
        1 => {
            let hex: String = u.arbitrary::<[u8; 16]>()?.iter().map(|b| format!("{b:02x}")).collect();
            let part = |from: usize, to: usize| hex.get(from..to).unwrap_or_default().to_string();
            format!("{}-{}-{}-{}-{}", part(0, 8), part(8, 12), part(12, 16), part(16, 20), part(20, 32))
        }
        2 => u.arbitrary::<[u8; 12]>()?.iter().map(|b| format!("{b:02x}")).collect(),
        3 => format!("user{}@example.com", u.arbitrary::<u8>()?),
        4 => format!("2024-{:02}-{:02}", u.int_in_range(0..=13)?, u.int_in_range(0..=32)?),
        5 => base64(bytes_up_to(u, 40)?, true),
        6 => text_up_to(u, 16)?,
        _ => u.choose(WORDS)?.to_string(),
    })
}

fn query(u: &mut Unstructured<'_>) -> Result<String> {
    let n = u.int_in_range(0..=5)?;
    let mut pairs = Vec::new();
    for _ in 0..n {
        let name = if u.choose_index(4)? == 0 { text_up_to(u, 10)? } else { u.choose(PARAM_NAMES)?.to_string() };
        pairs.push(match u.choose_index(4)? {
            0 => name,
            1 => format!("{name}="),
            _ => format!("{name}={}", value(u, 0)?),
        });
    }
    Ok(pairs.join(u.choose(&["&", "&&", ";", "&amp;"])?))
}

fn target(u: &mut Unstructured<'_>) -> Result<String> {
    let depth = u.int_in_range(0..=8)?;
    let mut path = String::new();
    for _ in 0..depth {
        path.push_str(u.choose(&["/", "/", "/", "//", "\\"])?);
        path.push_str(&segment(u)?);
    }
    if u.choose_index(8)? == 0 {
        path.push('/');
    }
    let path = match u.choose_index(16)? {
        0 => format!("http://{}{path}", host_text(u)?),
        1 => format!("https://{}{path}", host_text(u)?),
        2 => "*".to_string(),
        3 => path.trim_start_matches('/').to_string(),
        4 => text_up_to(u, 30)?,
        // Paths of the posture spec, with a value or a word where it has a parameter.
        5..=7 => {
            let documented = *u.choose(&[
                "/api/v2/users",
                "/api/v2/users/{}",
                "/api/v2/users/me",
                "/api/v1/orders/{}/items",
                "/api/v2/orders/{}/items",
            ])?;
            let value = segment(u)?;
            format!("{}{path}", documented.replace("{}", &value))
        }
        _ if path.is_empty() => "/".to_string(),
        _ => path,
    };
    let with_query = if u.choose_index(3)? == 0 { format!("{path}?{}", query(u)?) } else { path };
    Ok(if u.choose_index(10)? == 0 { format!("{with_query}#{}", text_up_to(u, 8)?) } else { with_query })
}

fn host_text(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.choose_index(12)? {
        0 => text_up_to(u, 20)?,
        1 => format!("{}.test", segment(u)?),
        _ => u
            .choose(&[
                "api.test",
                "API.Test:80",
                "api.test:443",
                "shop.test:8443",
                "",
                "  ",
                "ünï.test",
                "[::1]:80",
                "10.0.0.2",
                "api.test.",
            ])?
            .to_string(),
    })
}

fn authorization(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.choose_index(8)? {
        0 => format!("Basic {}", base64(format!("admin:{}", value(u, 1)?).as_bytes(), false)),
        1 => format!("Basic {}", text_up_to(u, 20)?),
        2 | 3 => format!("Bearer {}", jwt(u, 0)?),
        4 => format!("Bearer {}", value(u, 1)?),
        5 => format!("Digest username=\"{}\", realm=\"x\"", text_up_to(u, 10)?),
        6 => u.choose(&["Bearer", "Basic", "bearer  x", "", "Negotiate YII="])?.to_string(),
        _ => text_up_to(u, 30)?,
    })
}

fn cookie(u: &mut Unstructured<'_>) -> Result<String> {
    let n = u.int_in_range(0..=4)?;
    let mut parts = Vec::new();
    for _ in 0..n {
        let name = *u.choose(&["sessionid", "sid", "csrftoken", "connect.sid", "", "ü", "token"])?;
        parts.push(match u.choose_index(5)? {
            0 => name.to_string(),
            1 => text_up_to(u, 16)?,
            _ => format!("{name}={}", value(u, 1)?),
        });
    }
    Ok(parts.join(u.choose(&["; ", ";", ";;", " ; "])?))
}

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "text/plain",
    "text/html",
    "application/vnd.api+json",
    "application/problem+json",
    "",
    "APPLICATION/JSON",
    "application/grpc",
    "application/grpc+proto",
    "application/grpc-web",
    "application/graphql",
    "text/event-stream",
];

fn headers(u: &mut Unstructured<'_>, response: bool) -> Result<Vec<(String, String)>> {
    let n = u.int_in_range(0..=5)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let names: &[&str] = if response {
            &["content-type", "set-cookie", "www-authenticate", "location", "x-api-key", "server", "authorization"]
        } else {
            &[
                "authorization",
                "cookie",
                "x-api-key",
                "content-type",
                "user-agent",
                "referer",
                "x-forwarded-for",
                "x-api-version",
                "x-auth-token",
                "proxy-authorization",
            ]
        };
        let name = if u.choose_index(8)? == 0 { text_up_to(u, 12)? } else { u.choose(names)?.to_string() };
        let v = match name.as_str() {
            "authorization" | "proxy-authorization" => authorization(u)?,
            "cookie" => cookie(u)?,
            "set-cookie" => format!("{}; HttpOnly; Path=/", cookie(u)?),
            "content-type" => u.choose(CONTENT_TYPES)?.to_string(),
            "user-agent" => {
                u.choose(&["sqlmap/1.7", "Nikto", "curl/8.0", "Mozilla/5.0", "${jndi:ldap://x}", "nuclei"])?.to_string()
            }
            _ => value(u, 0)?,
        };
        out.push((name, v));
    }
    Ok(out)
}

fn json(u: &mut Unstructured<'_>, depth: u8) -> Result<Value> {
    if depth > 24 {
        return Ok(Value::String(value(u, 2)?));
    }
    Ok(match u.choose_index(10)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Number(Number::from(u.arbitrary::<u64>()?)),
        3 => Number::from_f64(f64::from_bits(u.arbitrary()?)).map_or(Value::Null, Value::Number),
        4 | 5 => Value::String(value(u, 0)?),
        6 => {
            let n = u.int_in_range(0..=4)?;
            Value::Array((0..n).map(|_| json(u, depth.saturating_add(1))).collect::<Result<_>>()?)
        }
        7 => {
            // Bulk: many records of one shape (exposure alerts, schema merging of array items).
            let n = u.int_in_range(0..=39)?;
            let field = *u.choose(&["email", "card", "ssn", "password", "iban", "name"])?;
            let item = value(u, 1)?;
            Value::Array(
                (0..n)
                    .map(|i| {
                        let mut m = Map::new();
                        m.insert("id".into(), Value::from(i));
                        m.insert(
                            field.into(),
                            Value::String(if field == "email" { format!("u{i}@x.test") } else { item.clone() }),
                        );
                        Value::Object(m)
                    })
                    .collect(),
            )
        }
        8 => {
            // Deep nesting past the schema and scan depth limits.
            let levels = u.int_in_range(0..=39)?;
            let mut v = json(u, 25)?;
            for i in 0..levels {
                v = if i & 1 == 0 {
                    Value::Array(vec![v])
                } else {
                    Value::Object(Map::from_iter([("a".to_string(), v)]))
                };
            }
            v
        }
        _ => {
            let n = u.int_in_range(0..=5)?;
            let mut m = Map::new();
            for _ in 0..n {
                let key = if u.choose_index(5)? == 0 { text_up_to(u, 12)? } else { u.choose(PARAM_NAMES)?.to_string() };
                m.insert(key, json(u, depth.saturating_add(1))?);
            }
            Value::Object(m)
        }
    })
}

fn form(u: &mut Unstructured<'_>) -> Result<String> {
    query(u)
}

fn json_body(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&json(u, 0)?).unwrap_or_default())
}

fn body(u: &mut Unstructured<'_>, content_type: Option<&str>) -> Result<Vec<u8>> {
    let kind = u.choose_index(8)?;
    Ok(match (kind, content_type) {
        (0, _) => Vec::new(),
        (1, _) => bytes_up_to(u, 64)?.to_vec(),
        (2, _) => {
            // A JSON text cut short.
            let mut b = json_body(u)?;
            b.truncate(u.int_in_range(0..=b.len())?);
            b
        }
        (3, _) => {
            let name = u.choose(PARAM_NAMES)?;
            format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"f\"\r\n\r\nx\r\n--XyZ--\r\n",
                value(u, 0)?,
                text_up_to(u, 8)?
            )
            .into_bytes()
        }
        (4, _) => {
            // A GraphQL request: a document made of the input's pieces, maybe batched.
            let pieces = [
                "query",
                "mutation",
                "{",
                "}",
                "(",
                ")",
                "$id: ID!",
                "user",
                "__schema",
                "...F",
                "fragment F on T",
                "@skip",
                "\"",
                " ",
            ];
            let mut doc = String::new();
            for _ in 0..u.int_in_range(0..=24u8)? {
                doc.push_str(u.choose(&pieces)?);
                doc.push(' ');
            }
            let op = serde_json::json!({"query": doc, "operationName": text_up_to(u, 8)?});
            let v = if u.ratio(1, 3)? {
                serde_json::json!([op, {"extensions": {"persistedQuery": {"sha256Hash": text_up_to(u, 64)?}}}])
            } else {
                op
            };
            v.to_string().into_bytes()
        }
        (5, _) => {
            // A JSON-RPC (MCP) request or notification.
            let method = *u.choose(&["tools/call", "resources/read", "initialize", "eth_call", "", "a b"])?;
            let mut v = serde_json::json!({"jsonrpc": "2.0", "method": method, "params": {"name": text_up_to(u, 12)?, "uri": text_up_to(u, 24)?}});
            if let (true, Some(obj)) = (u.ratio(1, 2)?, v.as_object_mut()) {
                obj.insert("id".into(), serde_json::json!(u.arbitrary::<u8>()?));
            }
            v.to_string().into_bytes()
        }
        (_, Some(ct)) if ct.contains("form-urlencoded") => form(u)?.into_bytes(),
        (_, Some(ct)) if ct.starts_with("application/grpc") => grpc_body(u)?,
        _ => json_body(u)?,
    })
}

/// Length-prefixed gRPC messages: protobuf made of the input's bytes (keys, varints, nested
/// lengths), a trailer frame now and then, lengths that lie.
fn grpc_body(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..u.int_in_range(0..=3u8)? {
        let mut message = Vec::new();
        for _ in 0..u.int_in_range(0..=8u8)? {
            let field: u8 = u.int_in_range(1..=15)?;
            match u.choose_index(4)? {
                0 => message.extend([field << 3, u.arbitrary::<u8>()? & 0x7f]),
                1 => {
                    let text = value(u, 0)?;
                    message.push(field << 3 | 2);
                    message.push(u8::try_from(text.len().min(127)).unwrap_or(127));
                    message.extend(text.bytes().take(127));
                }
                2 => message.extend(bytes_up_to(u, 12)?),
                _ => {
                    // A nested copy of what is there so far.
                    let inner = message.clone();
                    message.push(field << 3 | 2);
                    message.push(u8::try_from(inner.len().min(127)).unwrap_or(127));
                    message.extend(inner.into_iter().take(127));
                }
            }
        }
        let flags = *u.choose(&[0u8, 0, 0, 0x80, 1])?;
        let len = if u.ratio(1, 8)? { u.arbitrary::<u32>()? } else { u32::try_from(message.len()).unwrap_or(0) };
        out.push(flags);
        out.extend(len.to_be_bytes());
        out.extend(message);
    }
    Ok(out)
}

fn observation(u: &mut Unstructured<'_>, ts: &mut i64) -> Result<Observation> {
    *ts = match u.choose_index(32)? {
        0 => i64::MAX,
        1 => i64::MIN,
        2 => ts.saturating_sub(i64::from(u.arbitrary::<u8>()?).saturating_mul(1_000_000)),
        3 => 0,
        _ => ts.saturating_add(i64::from(u.arbitrary::<u8>()?).saturating_mul(50_000)),
    };
    let client = match u.choose_index(6)? {
        0 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(u.arbitrary::<u8>()?))),
        1 => IpAddr::V4(Ipv4Addr::from(u.arbitrary::<[u8; 4]>()?)),
        _ => IpAddr::V4(Ipv4Addr::new(10, 0, 0, u.int_in_range(0..=3)?)),
    };
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), *u.choose(&[80, 443, 8080, 0])?);
    let host = if u.choose_index(6)? == 0 { None } else { Some(host_text(u)?) };
    let method = match u.choose_index(12)? {
        0 => text_up_to(u, 40)?,
        _ => u
            .choose(&["GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", "CONNECT"])?
            .to_string(),
    };
    let target = target(u)?;
    let mut request_headers = headers(u, false)?;
    if u.arbitrary()? && !request_headers.iter().any(|(n, _)| n == "content-type") {
        request_headers.push(("content-type".into(), u.choose(CONTENT_TYPES)?.to_string()));
    }
    let ct = request_headers.iter().find(|(n, _)| n == "content-type").map(|(_, v)| v.to_ascii_lowercase());
    let request_body = body(u, ct.as_deref())?;
    let request_body_len = if u.choose_index(16)? == 0 { u.arbitrary()? } else { request_body.len() as u64 };
    let response = if u.choose_index(6)? == 0 {
        None
    } else {
        let status = match u.choose_index(8)? {
            0 => u16::from_be_bytes(u.arbitrary()?),
            _ => *u.choose(&[200, 200, 201, 204, 301, 400, 401, 403, 404, 404, 429, 500, 503, 0, 999])?,
        };
        let mut headers = headers(u, true)?;
        if u.arbitrary()? {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let ct = headers.iter().find(|(n, _)| n == "content-type").map(|(_, v)| v.to_ascii_lowercase());
        let body = body(u, ct.as_deref())?;
        let body_len = if u.choose_index(16)? == 0 { u.arbitrary()? } else { body.len() as u64 };
        let latency_micros = match u.choose_index(8)? {
            0 => u.arbitrary()?,
            _ => i64::from(u.arbitrary::<u8>()?).saturating_mul(1000),
        };
        Some(ObservedResponse { status, headers: headers.into(), body, body_len, latency_micros })
    };
    Ok(Observation {
        ts: *ts,
        client,
        server,
        host,
        method,
        target,
        request_headers: request_headers.into(),
        request_body,
        request_body_len,
        response,
        encrypted: u.choose_index(4)? == 0,
        protocol: Default::default(),
    })
}

/// Settings of one run, from the first byte of the input.
struct Settings {
    template: TemplateConfig,
    thresholds: Thresholds,
    /// Changes are taken after every `changes_every` observations.
    changes_every: usize,
    pin_spec: bool,
    /// Inventory caps (small ones when the settings byte asks).
    limits: InventoryLimits,
}

fn settings(byte: u8) -> Settings {
    let template = if byte & 1 == 1 {
        TemplateConfig {
            word_threshold: 2,
            first_segment_threshold: 3,
            max_depth: 6,
            max_literals_per_node: 8,
            max_nodes_per_host: 64,
        }
    } else {
        TemplateConfig::default()
    };
    let thresholds = if byte & 2 == 2 {
        Thresholds {
            enumeration_values: 3,
            brute_force_failures: 3,
            bola_objects: 2,
            scanner_404_paths: 3,
            rate_min: 3,
            error_min: 2,
            max_entries: 16,
            max_clients_per_alert: 2,
            window_secs: 60,
            ..Thresholds::default()
        }
    } else {
        Thresholds::default()
    };
    Settings {
        template,
        thresholds,
        changes_every: usize::from((byte >> 2) & 7).saturating_add(1),
        pin_spec: byte & 32 == 32,
        limits: if byte & 64 == 64 {
            InventoryLimits {
                max_hosts: 3,
                max_endpoints_per_host: 6,
                max_methods_per_host: 3,
                max_template_nodes_per_host: 24,
                ..InventoryLimits::default()
            }
        } else {
            InventoryLimits::default()
        },
    }
}

/// Decodes observations from arbitrary bytes (at most [`MAX_OBSERVATIONS`]).
pub fn observations(data: &[u8]) -> Vec<Observation> {
    let mut u = Unstructured::new(data);
    let mut ts = 1_700_000_000_000_000i64;
    let mut out = Vec::new();
    while !u.is_empty() && out.len() < MAX_OBSERVATIONS {
        let read = observation(&mut u, &mut ts);
        assert!(read.is_ok(), "a read failed: {read:?}");
        out.extend(read.ok());
    }
    out
}

/// The `transaction` fuzz target: the first byte chooses settings, the rest decodes into
/// observations that go through the analysis.
pub fn transactions(data: &[u8]) -> Outcome {
    let (first, rest) = data.split_first().map_or((0, data), |(f, r)| (*f, r));
    let observations = observations(rest);
    for obs in &observations {
        check_json_reader(&obs.request_body);
        if let Some(response) = &obs.response {
            check_json_reader(&response.body);
        }
    }
    analyse(&settings(first), &observations)
}

/// The bodies' JSON reader reads what `serde_json::Value` reads, or neither reads; and what it
/// reads gives the schema and shape the `Value` gives (answers are read as `Json`).
fn check_json_reader(body: &[u8]) {
    use crate::schema::Schema;
    let json = crate::json::Json::parse(body);
    let value = serde_json::from_slice::<serde_json::Value>(body).ok();
    let text = || String::from_utf8_lossy(body);
    assert_eq!(json.as_ref().map(|j| j.to_value()), value, "the JSON reader and serde_json differ on {:?}", text());
    if let (Some(j), Some(v)) = (&json, &value) {
        assert_eq!(Schema::of_at(j, 1), Schema::of_at(v, 1), "schemas differ on {:?}", text());
        assert_eq!(Schema::shape_of(j), Schema::shape_of(v), "shapes differ on {:?}", text());
    }
}

/// The spec of posture classification; parsing it cannot fail (a unit test says so).
fn posture_spec() -> &'static [Spec] {
    static SPECS: std::sync::OnceLock<Vec<Spec>> = std::sync::OnceLock::new();
    SPECS.get_or_init(|| crate::spec::parse("fuzz.yaml", POSTURE_SPEC).into_iter().collect())
}

/// Bounds of the catalog on one endpoint (catalog.rs and schema.rs).
fn check_endpoint(e: &Endpoint) {
    use crate::catalog::{HOURLY_BUCKETS, MAX_PARAMS, MAX_SCHEMA_STATUSES, MAX_SENSITIVE_LOCATIONS};
    assert!(e.path.starts_with('/'), "endpoint path {:?}", e.path);
    assert!(e.method.chars().count() <= 32, "method {:?}", e.method);
    assert!(e.host.chars().count() <= 255, "host of {} chars", e.host.chars().count());
    assert!(e.query_params.len() <= MAX_PARAMS, "{} query params", e.query_params.len());
    assert!(e.form_fields.len() <= MAX_PARAMS, "{} form fields", e.form_fields.len());
    assert!(e.path_params.len() <= MAX_PARAMS, "{} path params", e.path_params.len());
    assert!(e.response_schemas.len() <= MAX_SCHEMA_STATUSES, "{} response schemas", e.response_schemas.len());
    assert!(e.sensitive.len() <= MAX_SENSITIVE_LOCATIONS, "{} sensitive locations", e.sensitive.len());
    assert!(e.why.len() <= 16, "{} reasons", e.why.len());
    assert!(e.auth.len() <= 16, "{} auth schemes", e.auth.len());
    assert!(e.hourly.len() <= HOURLY_BUCKETS, "{} hourly buckets", e.hourly.len());
    assert!(e.hits > 0, "an endpoint without hits");
    assert!(e.first_seen <= e.last_seen, "first seen {} after last seen {}", e.first_seen, e.last_seen);
    // Every part appeared while the endpoint was seen.
    for p in e.path_params.values().chain(e.query_params.values()).chain(e.form_fields.values()) {
        assert!((e.first_seen..=e.last_seen).contains(&p.first_seen), "parameter first seen {}", p.first_seen);
    }
    for a in e.appearances() {
        assert!(a.at <= e.last_seen, "{} appeared at {} after the last hit {}", a.what, a.at, e.last_seen);
    }
    for s in e.request_schema.iter().chain(e.response_schemas.values()) {
        check_schema(s, 0);
    }
    for (location, field) in &e.sensitive {
        assert!(location.chars().count() <= 200, "location of {} chars", location.chars().count());
        check_mask(&field.mask, field.classes.keys().copied());
    }
    // The store keeps endpoints as JSON: they come back as they went.
    let text = serde_json::to_string(e);
    assert!(text.is_ok(), "endpoint does not serialise: {text:?}");
    let back: Result<Endpoint, _> = serde_json::from_str(&text.unwrap_or_default());
    assert!(back.as_ref().is_ok_and(|b| b == e), "endpoint JSON round trip differs: {back:?}");
}

fn check_schema(s: &crate::schema::Schema, depth: usize) {
    use crate::schema::{MAX_DEPTH, MAX_PROPERTIES};
    assert!(depth <= MAX_DEPTH.saturating_add(1), "schema deeper than {MAX_DEPTH}");
    assert!(s.properties.len() <= MAX_PROPERTIES, "{} properties", s.properties.len());
    for p in s.properties.values() {
        check_schema(p, depth.saturating_add(1));
    }
    if let Some(items) = &s.items {
        check_schema(items, depth.saturating_add(1));
    }
}

/// A mask never shows a planted secret whole. E-mail masks show the domain and JWT masks the
/// issuer (not secrets, and a fuzzer may put anything there), so those are not checked.
fn check_mask(mask: &str, mut classes: impl Iterator<Item = Class>) {
    if classes.any(|c| matches!(c, Class::Email | Class::Jwt | Class::JwtAlgNone)) {
        return;
    }
    for secret in SECRETS {
        assert!(!mask.contains(secret), "mask {mask:?} shows a secret");
    }
}

fn check_alert(a: &Alert, key: &EndpointKey, obs: &Observation) {
    assert!(!a.kind.is_empty());
    // The example exchange shows no credential: header values of credentials, query values.
    if let Some(example) = &a.example {
        let text = example.request.join("\n");
        // Examples show the method, the template, query names and plain headers (control
        // characters left out): a secret's text may stand there too.
        let visible = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
        let mut shown_parts = vec![visible(&obs.method), visible(&key.path)];
        // Header names are shown, each as `name: …` (only values are masked): a name, or a
        // name with the separator after it, may read like a secret's value (both undecodable
        // bytes, say, shown as the same replacement characters).
        shown_parts.extend(obs.request_headers.iter().map(|(name, _)| format!("{}: …", visible(name))));
        if let Some((_, q)) = obs.target.split_once('?') {
            shown_parts.extend(q.split('&').map(|p| visible(p.split('=').next().unwrap_or_default())));
        }
        let shown = |text: &str| shown_parts.iter().any(|part| part.contains(text));
        for (name, value) in &obs.request_headers {
            let secrets: Vec<&str> = match name {
                "cookie" => value.split(';').filter_map(|c| c.split_once('=').map(|(_, v)| v.trim())).collect(),
                "authorization" | "proxy-authorization" => {
                    vec![value.split_once(' ').map_or(value, |(_, r)| r)]
                }
                "x-api-key" => vec![value],
                _ => Vec::new(),
            };
            for secret in secrets.into_iter().filter(|v| v.chars().count() >= 8) {
                let elsewhere =
                    shown(secret) || obs.request_headers.iter().any(|(n, h)| n != name && h.contains(secret));
                assert!(elsewhere || !text.contains(secret), "the example shows {name}: {text}");
            }
        }
        if let Some((_, query)) = obs.target.split_once('?') {
            for v in query.split('&').filter_map(|p| p.split_once('=').map(|(_, v)| v)).filter(|v| v.len() >= 8) {
                let elsewhere = shown(v) || obs.request_headers.iter().any(|(_, h)| h.contains(v));
                assert!(elsewhere || !text.contains(v), "the example shows a query value: {text}");
            }
        }
        assert!(
            example.request.len() <= 17 && example.response.len() <= 17,
            "example of {} lines",
            example.request.len()
        );
    }
    assert!(a.first_seen <= a.last_seen);
    assert!(a.host == key.host, "alert host {:?} for endpoint host {:?}", a.host, key.host);
    let text = serde_json::to_string(a);
    assert!(text.is_ok(), "alert does not serialise");
    let back: Result<Alert, _> = serde_json::from_str(&text.unwrap_or_default());
    assert!(back.as_ref().is_ok_and(|b| b == a), "alert JSON round trip differs: {back:?}");
}

/// Runs observations through what a flow worker and the inventory thread do with each
/// transaction, takes changes now and then, and checks the catalog, the OpenAPI documents and
/// posture at the end.
fn analyse(settings: &Settings, observations: &[Observation]) -> Outcome {
    let specs = posture_spec();
    let key = MaskKey::default();
    let mut catalog = Catalog::with_limits(settings.template, settings.limits.clone());
    if settings.pin_spec {
        for spec in specs {
            let templates: Vec<String> = spec.operations.iter().map(|o| o.path.clone()).collect();
            for op in &spec.operations {
                catalog.document_responses(spec.hosts.first().map(String::as_str), op);
            }
            catalog.pin_all(spec.hosts.first().map(String::as_str), &templates);
        }
    }
    let mut behavior = Behavior::new(settings.thresholds);
    // Alerts pending in the inventory, by (kind, subtype, endpoint, client).
    let mut pending: BTreeSet<(String, String, EndpointKey, String)> = BTreeSet::new();
    let mut outcome = Outcome::default();
    // A flow worker's memory of answers (its signature scan reads every body).
    let mut sampler = crate::catalog::ResponseSampler::default();
    // Record templates sign answers as the signature's walk does, or not at all.
    let bodies: Vec<&[u8]> =
        observations.iter().filter_map(|o| o.response.as_ref()).map(|r| &*r.body).take(16).collect();
    crate::catalog::check_record_templates(&bodies);
    for (i, obs) in observations.iter().enumerate() {
        // On a flow worker.
        let prepared = TransactionFacts::sampled(obs, &key, &mut sampler);
        let tool = prepared.scanner_tool();
        // The detectors read parameter values from the path the template is made from.
        let path = prepared.path().to_string();
        assert_eq!(path, obs.normalized_path());
        // The scanner named on the worker is the one the detectors would name.
        assert_eq!(tool, crate::behavior::scanner_tool(obs));
        let attempts = crate::findings::injection_attempts(obs);
        // On the inventory thread.
        let scanner = behavior.is_scanner_as(obs.client, tool);
        assert_eq!(scanner, behavior.is_scanner(obs));
        let Some(observed) = catalog.record(obs, prepared, scanner) else {
            // Kept out by a cap: counted as overflow, and the caps hold.
            check_caps(&catalog);
            let overflow: u64 = catalog.overflow_totals().values().fold(0, |a, b| a.saturating_add(*b));
            assert!(overflow > 0, "an observation kept out without being counted");
            continue;
        };
        // The principal remembered per Authorization value on the worker is the one worked out.
        assert_eq!(observed.principal, crate::auth::principal(&obs.request_headers), "{obs:?}");
        if let Some(path) = &observed.probe {
            // A probe made no endpoint; only the scanner detectors see it.
            assert!(path.starts_with('/') && observed.key.path == "*", "{observed:?}");
            for a in behavior.observe_probe(obs, &observed.key.host, path) {
                assert_eq!((a.kind.as_str(), a.path.as_str()), ("scanner", "*"), "{a:?}");
            }
            continue;
        }
        assert!(observed.key.path.starts_with('/'), "template {:?} of {:?}", observed.key.path, obs.target);
        let endpoint = catalog.get(&observed.key);
        assert!(endpoint.is_some(), "the observation's endpoint {:?} is not in the catalog", observed.key);
        outcome.findings = outcome.findings.saturating_add(observed.findings.len());
        for f in &observed.findings {
            check_mask(&f.mask, std::iter::once(f.class));
        }
        let client = obs.client.to_string();
        let data = crate::findings::data_alerts(obs, &observed.key, &observed.findings, &mut |kind, subtype| {
            pending.contains(&(kind.to_string(), subtype.to_string(), observed.key.clone(), client.clone()))
        });
        let injections = crate::findings::injection_alerts(obs, &observed.key, attempts);
        for a in data.iter().chain(&injections) {
            check_alert(a, &observed.key, obs);
        }
        // The principal worked out on the worker is the one the detectors would work out.
        assert_eq!(observed.principal, crate::auth::principal(&obs.request_headers));
        let abuse = behavior.observe_as(obs, &observed.key, &path, observed.principal, tool);
        for a in data.into_iter().chain(injections).chain(abuse) {
            assert!(!a.kind.is_empty());
            pending.insert((
                a.kind.clone(),
                a.subtype.clone().unwrap_or_default(),
                observed.key.clone(),
                client.clone(),
            ));
            outcome.alerts.insert(format!("{}/{}", a.kind, a.subtype.unwrap_or_default()));
        }
        if i.checked_rem(settings.changes_every) == Some(0) {
            check_changes(&mut catalog);
            pending.clear();
        }
    }
    check_changes(&mut catalog);
    let endpoints: Vec<Endpoint> = catalog.endpoints().cloned().collect();
    for e in &endpoints {
        check_endpoint(e);
    }
    check_documents(&endpoints);
    outcome.endpoints = endpoints.len();
    outcome.documented = check_posture(specs, &endpoints);
    // A second run loads what the first stored and sees the same traffic again.
    let mut again = Catalog::new(settings.template);
    again.load(endpoints);
    for obs in observations.iter().take(8) {
        if let Some(observed) = again.record(obs, TransactionFacts::new(obs, &key), false) {
            assert!(observed.key.path.starts_with('/') || observed.probe.is_some());
        }
    }
    again.take_changes();
    for e in again.endpoints() {
        check_endpoint(e);
    }
    outcome
}

/// The inventory caps: hosts, endpoints per host, methods per host.
fn check_caps(catalog: &Catalog) {
    let limits = catalog.limits();
    let mut hosts: BTreeMap<&str, (usize, BTreeSet<&str>)> = BTreeMap::new();
    for e in catalog.endpoints() {
        let host = hosts.entry(e.host.as_str()).or_default();
        host.0 = host.0.saturating_add(1);
        host.1.insert(e.method.as_str());
    }
    assert!(hosts.len() <= limits.max_hosts, "{} hosts", hosts.len());
    for (host, (endpoints, methods)) in hosts {
        assert!(endpoints <= limits.max_endpoints_per_host, "{endpoints} endpoints on {host:?}");
        assert!(methods.len() <= limits.max_methods_per_host, "{} methods on {host:?}", methods.len());
    }
}

fn check_changes(catalog: &mut Catalog) {
    check_caps(catalog);
    let changes = catalog.take_changes();
    for o in &changes.overflow {
        assert!(o.total() > 0, "an empty overflow record");
        let known = o.host == crate::catalog::OTHER_HOSTS || catalog.endpoints().any(|e| e.host == o.host);
        assert!(known, "overflow of {:?}, a host neither catalogued nor `*`", o.host);
    }
    for e in &changes.upserts {
        assert!(catalog.get(&e.key()).is_some_and(|c| c == e), "an upsert that is not the catalog's record");
        check_endpoint(e);
    }
    for k in &changes.removed {
        assert!(catalog.get(k).is_none(), "a removed endpoint is still in the catalog: {k:?}");
    }
}

/// One OpenAPI document per host, each serialisable, with paths that start with '/'.
fn check_documents(endpoints: &[Endpoint]) {
    let mut by_host: BTreeMap<&str, Vec<&Endpoint>> = BTreeMap::new();
    for e in endpoints {
        by_host.entry(e.host.as_str()).or_default().push(e);
    }
    for (host, list) in by_host {
        let doc = crate::openapi::document(host, &list);
        let text = serde_json::to_string(&doc);
        assert!(text.is_ok(), "the OpenAPI document of {host:?} does not serialise");
        let paths = doc.get("paths").and_then(Value::as_object);
        assert!(paths.is_some(), "an OpenAPI document without paths");
        for (p, item) in paths.into_iter().flat_map(|p| p.iter()) {
            assert!(p.starts_with('/'), "OpenAPI path {p:?}");
            for op in item.as_object().into_iter().flat_map(|o| o.values()) {
                assert!(op.get("tags").and_then(Value::as_array).is_some_and(|t| t.len() == 1), "{op}");
                assert!(op.get("security").is_some_and(Value::is_array), "{op}");
            }
        }
        // The Postman collection of the same endpoints: a request each, every URL on the base
        // variable, no credential value but variables.
        let collection = crate::postman::collection(host, &list, &|_| String::new());
        let text = serde_json::to_string(&collection).unwrap_or_default();
        let mut requests = 0usize;
        let mut stack: Vec<&Value> = collection.get("item").into_iter().collect();
        while let Some(items) = stack.pop() {
            for item in items.as_array().into_iter().flatten() {
                if let Some(url) = item.pointer("/request/url/raw").and_then(Value::as_str) {
                    assert!(url.starts_with("{{baseUrl"), "{url}");
                    requests = requests.saturating_add(1);
                }
                stack.extend(item.get("item"));
            }
        }
        assert_eq!(requests, list.len(), "{text}");
        for e in &list {
            let risk = crate::risk::assess(e, crate::State::Shadow, &[]);
            assert!(risk.score <= crate::risk::MAX_SCORE && !risk.level.is_empty(), "{risk:?}");
        }
    }
}

/// Classifies every endpoint against the specs; returns how many are documented.
fn check_posture(specs: &[Spec], endpoints: &[Endpoint]) -> usize {
    let mut documented = 0usize;
    for e in endpoints {
        let c = crate::posture::classify(specs, e);
        assert_ne!(c.state, crate::State::Orphan, "an observed endpoint classified as orphan");
        match c.state {
            crate::State::Documented | crate::State::Zombie => {
                assert!(c.spec.is_some() && c.operation.is_some(), "{:?} without its operation", c.state);
                if c.state == crate::State::Documented {
                    documented = documented.saturating_add(1);
                    let op = c.operation.as_deref().unwrap_or_default();
                    assert!(crate::spec::path_fits(op, &e.path), "{} documented by {op}", e.path);
                }
            }
            crate::State::Shadow | crate::State::Undocumented => assert!(c.drift.is_none()),
            crate::State::Orphan => {}
        }
    }
    let _ = crate::posture::orphans(specs, endpoints);
    documented
}

// ---------------------------------------------------------------------------------------------
// Specs.

/// The `spec` fuzz target: `spec::parse` and `spec::yaml_documents` on arbitrary text.
pub fn spec(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = crate::spec::parse("fuzz", &text);
    match &parsed {
        Ok(spec) => check_spec(spec),
        Err(SpecError { place, message }) => assert!(!place.is_empty() && !message.is_empty(), "an empty error"),
    }
    if let Ok(docs) = crate::spec::yaml_documents(&text) {
        for doc in &docs {
            assert!(serde_json::to_string(doc).is_ok(), "a YAML document that is no JSON");
        }
        // The same document as JSON text makes the same spec.
        if let (Ok(spec), [doc]) = (&parsed, docs.as_slice()) {
            // A GraphQL SDL is no YAML spec, whatever YAML makes of its text.
            if !text.trim_start().starts_with('{') && spec.graphql.is_none() {
                let json = serde_json::to_string(doc).unwrap_or_default();
                if let Ok(again) = crate::spec::parse("fuzz", &json) {
                    assert!(&again == spec, "the JSON rendering of a YAML spec parses differently");
                }
            }
        }
    }
}

fn check_spec(spec: &Spec) {
    assert!(spec.title.chars().count() <= 200);
    let mut seen = BTreeSet::new();
    for op in &spec.operations {
        assert!(op.path.starts_with('/'), "operation path {:?}", op.path);
        assert!(["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"].contains(&op.method.as_str()));
        assert!(seen.insert((op.path.as_str(), op.method.as_str())), "{} {} twice", op.method, op.path);
    }
    // The store keeps specs as JSON.
    let text = serde_json::to_string(spec).unwrap_or_default();
    let back: Result<Spec, _> = serde_json::from_str(&text);
    assert!(back.as_ref().is_ok_and(|b| b == spec), "spec JSON round trip differs");
    // Its operations pinned into a catalog, then traffic on and beside them.
    let mut catalog = Catalog::new(TemplateConfig::default());
    let templates: Vec<String> = spec.operations.iter().take(64).map(|o| o.path.clone()).collect();
    let host = spec.hosts.first().cloned().unwrap_or_else(|| "api.test".to_string());
    for op in spec.operations.iter().take(64) {
        catalog.document_responses(spec.hosts.first().map(String::as_str), op);
    }
    catalog.pin_all(spec.hosts.first().map(String::as_str), &templates);
    for (i, op) in spec.operations.iter().take(16).enumerate() {
        let path: String = op
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { i.to_string() } else { s.to_string() })
            .collect::<Vec<_>>()
            .join("/");
        // A word where the spec has a parameter: kept apart when it answers otherwise.
        let word: String =
            op.path.split('/').map(|s| if s.starts_with('{') { "export" } else { s }).collect::<Vec<_>>().join("/");
        for target in [path.clone(), format!("{path}/extra"), format!("{path}?limit=1"), word.clone()] {
            let response = (target == word).then(|| ObservedResponse {
                status: 200,
                headers: [("content-type", "text/csv")].into(),
                body: b"id,total\n1,2\n".to_vec(),
                body_len: 13,
                latency_micros: 1,
            });
            let obs = Observation {
                ts: i64::try_from(i).unwrap_or(0),
                client: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                server: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80),
                host: Some(host.clone()),
                method: op.method.clone(),
                target,
                request_headers: Default::default(),
                request_body: Vec::new(),
                request_body_len: 0,
                response,
                encrypted: false,
                protocol: Default::default(),
            };
            if let Some(observed) = catalog.record(&obs, TransactionFacts::new(&obs, &MaskKey::default()), false) {
                assert!(observed.key.path.starts_with('/') || observed.probe.is_some());
            }
        }
    }
    catalog.take_changes();
    let endpoints: Vec<Endpoint> = catalog.endpoints().cloned().collect();
    for e in &endpoints {
        check_endpoint(e);
    }
    check_posture(std::slice::from_ref(spec), &endpoints);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

    use apisonar_testkit::workload::Rng;

    use super::*;

    /// A fixed pseudo-random byte stream, so the inputs are the same on every run.
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        Rng::seeded(seed).bytes(len)
    }

    #[test]
    fn the_posture_spec_parses() {
        let specs = posture_spec();
        assert_eq!(specs.len(), 1);
        assert!(specs[0].operations.len() >= 6, "{:?}", specs[0].operations);
    }

    #[test]
    fn pseudo_random_inputs_keep_the_invariants() {
        let mut endpoints = 0;
        let mut alerts = BTreeSet::new();
        let mut documented = 0;
        let mut findings = 0;
        for seed in 0..160 {
            let o = transactions(&bytes(seed, 200 + (seed as usize * 37) % 2000));
            endpoints += o.endpoints;
            alerts.extend(o.alerts);
            documented += o.documented;
            findings += o.findings;
        }
        // The decoder reaches the parts of the analysis it is meant to.
        assert!(endpoints > 100, "{endpoints} endpoints");
        assert!(findings > 50, "{findings} findings");
        assert!(documented > 0, "nothing documented");
        for kind in ["injection_attempt", "cleartext_credentials"] {
            assert!(alerts.iter().any(|a| a.starts_with(kind)), "no {kind} in {alerts:?}");
        }
    }

    /// The campaign's one finding (fuzz/artifacts/transaction/timeout-996aefd2…): the input
    /// builder nested JWTs in JWT issuers without a depth bound, each level a third longer, so
    /// these 294 bytes took over 30 s. Nested at most three deep now, every value stays small.
    #[test]
    fn nested_tokens_in_the_input_builder_are_bounded() {
        let hex: String = [
            "76280000ff25000000000b73766542424218181818181818181818181818181818181818181818181818181818181818",
            "181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818",
            "181818181818181818181818181618181818181818181818181818180018181818181818181818181818181818181818",
            "181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818",
            "181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818161818",
            "181818181818181818181818001818181818181818ff6318181818181818181816181818181842424242424242727300",
            "00006a61723a",
        ]
        .concat();
        let data: Vec<u8> = hex
            .as_bytes()
            .chunks(2)
            .map(|d| u8::from_str_radix(std::str::from_utf8(d).unwrap(), 16).unwrap())
            .collect();
        assert_eq!(data.len(), 294);
        let observations = observations(&data);
        assert!(!observations.is_empty());
        for o in &observations {
            let longest = o.request_headers.iter().map(|(n, v)| n.len() + v.len()).max().unwrap_or(0);
            assert!(longest < 16 * 1024 && o.target.len() < 16 * 1024, "{longest}");
        }
        transactions(&data);
    }

    #[test]
    fn crafted_inputs_keep_the_invariants() {
        for data in [&b""[..], b"\x00", b"\xff", &[0xff; 64], &[0x00; 300], &[0x01; 300], &[0x7f; 999]] {
            transactions(data);
        }
        // Inputs the fuzzer found (fuzz/regressions/transaction): a credential header whose
        // value is also the request's method, a query value inside another query name, a
        // credential whose text (undecodable bytes) reads as another header's name, and one
        // that reads as such a name with the `:` the example writes after it, all of which
        // the example rightly shows.
        transactions(include_bytes!("../../../fuzz/regressions/transaction/example-method-like-a-credential"));
        transactions(include_bytes!("../../../fuzz/regressions/transaction/example-query-value-inside-a-name"));
        transactions(include_bytes!("../../../fuzz/regressions/transaction/example-credential-like-a-header-name"));
        transactions(include_bytes!(
            "../../../fuzz/regressions/transaction/example-credential-like-a-name-and-its-colon"
        ));
    }

    #[test]
    fn the_decoder_builds_what_the_analysis_needs() {
        let all: Vec<Observation> = (0..40).flat_map(|seed| observations(&bytes(seed, 1500))).collect();
        let has = |f: &dyn Fn(&Observation) -> bool| all.iter().any(f);
        assert!(has(&|o| o.request_header("authorization").is_some_and(|a| a.starts_with("Bearer ey"))));
        assert!(has(&|o| o.request_header("cookie").is_some_and(|c| c.contains('='))));
        assert!(has(&|o| o.query().is_some_and(|q| q.contains('='))));
        assert!(has(&|o| o.path().matches('/').count() >= 3));
        assert!(has(&|o| o.target.contains('%') && o.target.contains('{')));
        assert!(has(&|o| o.request_body.starts_with(b"{") && o.request_header("content-type").is_some()));
        assert!(has(&|o| o.response.as_ref().is_some_and(|r| r.body.starts_with(b"["))));
        assert!(has(&|o| !o.target.is_ascii()));
    }

    const SPECS: [&str; 4] = [
        include_str!("../../../captures/apis/django-newsroom.openapi.json"),
        include_str!("../../../captures/apis/express-codehost.openapi.json"),
        include_str!("../../../captures/apis/fastapi-shop.openapi.json"),
        include_str!("../../../captures/apis/flask-taskboard.openapi.json"),
    ];

    #[test]
    fn real_specs_and_their_mutations_keep_the_invariants() {
        for text in SPECS {
            assert!(crate::spec::parse("real", text).is_ok());
            spec(text.as_bytes());
            let bytes = text.as_bytes();
            for (i, cut) in [7usize, 100, 1000, 5000].into_iter().enumerate() {
                spec(&bytes[..cut.min(bytes.len())]);
                let mut flipped = bytes.to_vec();
                let at = (cut * 7 + i) % flipped.len();
                flipped[at] = b"{}[]\"$:"[i % 7];
                spec(&flipped);
            }
        }
        spec(POSTURE_SPEC.as_bytes());
    }

    #[test]
    fn yaml_specs_with_anchors_keep_the_invariants() {
        let yaml = "openapi: 3.0.0\ninfo: {title: A}\nx: &r {description: ok}\npaths:\n  /a/{id}:\n    get: {responses: {'200': *r}}\n    post: &op {responses: {'201': *r}}\n  /b: {put: *op}\n";
        assert!(crate::spec::parse("a.yaml", yaml).is_ok());
        spec(yaml.as_bytes());
        spec(b"swagger: '2.0'\nhost: API.test\nbasePath: /v1/\npaths: {/x: {get: {responses: {default: {}}}}}\n");
        spec(b"--- a\n--- b\n");
        spec(b"{\"openapi\": \"3.1.0\", \"paths\": {\"/\": {\"get\": {\"responses\": {}}}}}");
    }
}
