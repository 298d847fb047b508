//! Hostile test inputs: ASCII values shaped like what the engine looks for, with a multi-byte
//! character at every position, so that no code may take a byte offset for a character boundary.

#![allow(clippy::arithmetic_side_effects)]

/// One character of each multi-byte UTF-8 length: 2, 3 and 4 bytes.
pub const MULTI_BYTE: [char; 3] = ['é', '€', '𝄞'];

/// Longest value built, in characters.
pub const MAX_CHARS: usize = 40;

/// ASCII values that pass (or nearly pass) a classifier, decoder or parser of the engine: a
/// multi-byte character put into them reaches the deepest byte offsets of that code.
pub const SHAPES: &[&str] = &[
    "12345678Z",
    "X1234567L",
    "123-45-6789",
    "111222333",
    "529.982.247-25",
    "4111 1111 1111 1111",
    "DE89370400440532013000",
    "+31 20 123 4567",
    "alice@example.com",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln",
    "3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c1d",
    "2024-01-31T10:00:00Z",
    "507f1f77bcf86cd799439011",
    "%27%20OR%201%3D1--%u0027+%2",
    "' OR 1=1--<script>../../etc/passwd",
    "http://169.254.169.254/latest/meta-data",
    "${jndi:ldap://x/a}{{7*7}}&#39;/**/",
    "a=1&b=%41&c&d=x+y",
    "name=\"f\"; filename=\"a.txt\"",
    "how-to-10-things-work-x",
    "v1.2/users/{id}/orders",
];

/// Every value of 1..=`MAX_CHARS` characters cut from `shape` (repeated as needed), with each of
/// its characters in turn replaced by each of `MULTI_BYTE`.
pub fn with_multi_byte(shape: &str) -> impl Iterator<Item = String> + '_ {
    (1..=MAX_CHARS).flat_map(move |len| {
        (0..len).flat_map(move |at| {
            MULTI_BYTE.iter().map(move |&wide| {
                shape.chars().cycle().take(len).enumerate().map(|(i, c)| if i == at { wide } else { c }).collect()
            })
        })
    })
}

/// `with_multi_byte` with one of the characters at each length and position, taking turns: a
/// third of the values, for tests that cost much per value.
pub fn with_one_multi_byte_per_position(shape: &str) -> impl Iterator<Item = String> + '_ {
    with_multi_byte(shape)
        .enumerate()
        .filter(|(i, _)| i % MULTI_BYTE.len() == (i / MULTI_BYTE.len()) % MULTI_BYTE.len())
        .map(|(_, v)| v)
}

/// `with_multi_byte` of every shape.
pub fn all() -> impl Iterator<Item = String> {
    SHAPES.iter().flat_map(|shape| with_multi_byte(shape))
}

#[test]
fn every_length_position_and_width_is_generated() {
    let values: Vec<String> = with_multi_byte("12345678Z").collect();
    assert_eq!(values.len(), MULTI_BYTE.len() * (1..=MAX_CHARS).sum::<usize>());
    assert!(values.iter().any(|v| v == "1234567é"), "a 2-byte character across byte 8");
    assert!(values.iter().all(|v| v.chars().filter(|c| !c.is_ascii()).count() == 1));
    assert!(values.iter().any(|v| v.chars().count() == MAX_CHARS && v.ends_with('𝄞')));
}

/// What production does with an observation (its facts made on a worker, then merged by the
/// core), in one call for tests.
pub trait Observe {
    fn observe(&mut self, o: &crate::Observation) -> Option<crate::Recorded>;
}

impl Observe for crate::Catalog {
    fn observe(&mut self, o: &crate::Observation) -> Option<crate::Recorded> {
        self.record(o, crate::catalog::TransactionFacts::new(o, &crate::sensitive::MaskKey::default()), false)
    }
}

/// `method target` on `host` from 10.0.0.7 at `ts`, with no header or body, answered 200 with
/// nothing.
pub fn request(host: &str, method: &str, target: &str, ts: i64) -> crate::Observation {
    crate::Observation {
        ts,
        client: std::net::IpAddr::from([10, 0, 0, 7]),
        server: std::net::SocketAddr::from(([10, 0, 0, 1], 80)),
        host: Some(host.into()),
        method: method.into(),
        target: target.into(),
        request_headers: Default::default(),
        request_body: Vec::new(),
        request_body_len: 0,
        response: Some(crate::ObservedResponse {
            status: 200,
            headers: Default::default(),
            body: Vec::new(),
            body_len: 0,
            latency_micros: 1,
        }),
        encrypted: false,
        protocol: Default::default(),
    }
}

/// A GET of `path` on `api.test` from 10.0.0.7, answered `status` with a `content_type` body.
pub fn answered(path: &str, status: u16, content_type: &str, body: &str) -> crate::Observation {
    crate::Observation {
        ts: 1_000,
        client: std::net::IpAddr::from([10, 0, 0, 7]),
        server: std::net::SocketAddr::from(([10, 0, 0, 1], 80)),
        host: Some("api.test".into()),
        method: "GET".into(),
        target: path.into(),
        request_headers: Default::default(),
        request_body: Vec::new(),
        request_body_len: 0,
        response: Some(crate::ObservedResponse {
            status,
            headers: [("content-type", content_type)].into(),
            body: body.as_bytes().to_vec(),
            body_len: body.len() as u64,
            latency_micros: 1,
        }),
        encrypted: false,
        protocol: Default::default(),
    }
}

/// A JSON exchange on `shop.test` from 10.0.0.1: `method target` with a JSON `body` and one more
/// request header (`auth`: name and value, credentials usually), answered `status` with `resp`.
pub fn json_exchange(
    method: &str,
    target: &str,
    auth: (&str, &str),
    body: &str,
    status: u16,
    resp: &str,
) -> crate::Observation {
    crate::Observation {
        ts: 1,
        client: std::net::IpAddr::from([10, 0, 0, 1]),
        server: std::net::SocketAddr::from(([10, 0, 0, 2], 80)),
        host: Some("shop.test".into()),
        method: method.into(),
        target: target.into(),
        request_headers: [("content-type", "application/json"), auth].into(),
        request_body: body.as_bytes().to_vec(),
        request_body_len: body.len() as u64,
        response: Some(crate::ObservedResponse {
            status,
            headers: [("content-type", "application/json")].into(),
            body: resp.as_bytes().to_vec(),
            body_len: resp.len() as u64,
            latency_micros: 100,
        }),
        encrypted: false,
        protocol: Default::default(),
    }
}
