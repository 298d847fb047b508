//! Turns the flow layer's transactions into the engine's observations.

use apisonar_engine::{Headers, MessageObservation, Observation, ObservedResponse, Protocol};
use apisonar_flow::http::MessageHead;
use apisonar_flow::{HttpTransaction, StreamMessage};

/// A WebSocket message as the engine sees it.
pub fn message_observation(m: &StreamMessage) -> MessageObservation {
    MessageObservation {
        ts: m.ts.micros(),
        client: m.client.ip(),
        server: m.server,
        from_client: m.from_client,
        kind: m.kind.as_str(),
        payload: m.payload.clone(),
        wire_len: m.wire_len,
    }
}

/// True for a transaction that opened a WebSocket (its messages follow on the connection).
pub fn opens_websocket(t: &HttpTransaction) -> bool {
    t.response.as_ref().and_then(|r| r.head.status()) == Some(101)
        && t.request.head.header("upgrade").is_some_and(|u| u.trim_ascii().eq_ignore_ascii_case(b"websocket"))
}

fn text(b: &[u8]) -> String {
    as_text(b).into_owned()
}

/// The bytes as text, invalid UTF-8 replaced. Checking first is the fast way for the usual
/// valid text: the lossy conversion walks it in chunks even when nothing is replaced.
fn as_text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    std::str::from_utf8(b).map_or_else(|_| String::from_utf8_lossy(b), std::borrow::Cow::Borrowed)
}

/// The header fields, names in lower case, written into one buffer (sized by the head they are
/// cut from, which holds them all).
fn headers(head: &MessageHead) -> Headers {
    let mut out = Headers::with_capacity(head.headers().size_hint().0, head.raw().len());
    match head.text_headers() {
        Some(fields) => fields.for_each(|(n, v)| out.push_lowercase_name(n, v)),
        None => push_fields(&mut out, head.headers()),
    }
    out
}

/// Appends header fields as text, names in lower case.
fn push_fields<'a>(out: &mut Headers, fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) {
    for (n, v) in fields {
        out.push_lowercase_name(&as_text(n), &as_text(v));
    }
}

/// What an observation takes from the transaction's heads.
struct Heads {
    method: String,
    target: String,
    host: Option<String>,
    request: Headers,
    response: Option<Headers>,
}

impl Heads {
    /// The request line's parts and the host, read before any head is taken.
    fn with_fields(t: &HttpTransaction, request: Headers, response: Option<Headers>) -> Heads {
        Heads {
            method: text(t.request.head.method()),
            target: text(t.request.head.target()),
            host: t.host().map(text),
            request,
            response,
        }
    }

    /// Copied from the heads, which stay as they are.
    fn copied(t: &HttpTransaction) -> Heads {
        Heads::with_fields(t, headers(&t.request.head), t.response.as_ref().map(|r| headers(&r.head)))
    }

    /// Taken from the heads: each head's text becomes its fields' buffer (names lower-cased in
    /// it), where copying would cut every field out into a new one. The heads are left empty.
    fn taken(t: &mut HttpTransaction) -> Heads {
        fn take(head: &mut MessageHead) -> Headers {
            match head.take_text_fields() {
                Some((text, fields)) => Headers::from_head(text, fields),
                None => headers(head),
            }
        }
        // The request line and host are read first: taking the request head empties them.
        let line = Heads::with_fields(t, Headers::new(), None);
        Heads { request: take(&mut t.request.head), response: t.response.as_mut().map(|r| take(&mut r.head)), ..line }
    }
}

// The benchmarks (which include this file) observe the same transactions repeatedly; the sensor
// uses `observation_taking_all` (or `observation_taking_bodies` when it writes transactions out).
#[allow(dead_code)]
pub fn observation(t: &HttpTransaction) -> Observation {
    let request_body = t.request.body.content().to_vec();
    let response_body = t.response.as_ref().map(|r| r.body.content().to_vec());
    build(t, Heads::copied(t), request_body, response_body)
}

/// Moves the body samples out of `t` (after the analysis only the bodies' lengths are written
/// out); a body decoded per Content-Encoding is copied, so its decoded length stays for the
/// transaction record.
fn take_bodies(t: &mut HttpTransaction) -> (Vec<u8>, Option<Vec<u8>>) {
    fn take(body: &mut apisonar_flow::http::Body) -> Vec<u8> {
        match &body.decoded {
            Some(decoded) => decoded.clone(),
            None => std::mem::take(&mut body.sample),
        }
    }
    (take(&mut t.request.body), t.response.as_mut().map(|r| take(&mut r.body)))
}

/// [`observation`], moving the body samples out of `t` instead of copying them (for a
/// transaction that is written out after: its heads stay).
pub fn observation_taking_bodies(t: &mut HttpTransaction) -> Observation {
    let (request_body, response_body) = take_bodies(t);
    build(t, Heads::copied(t), request_body, response_body)
}

/// [`observation_taking_bodies`], taking the heads' text as well: for a transaction that is
/// dropped after its observation (what reads its heads must come before).
pub fn observation_taking_all(t: &mut HttpTransaction) -> Observation {
    let (request_body, response_body) = take_bodies(t);
    let heads = Heads::taken(t);
    build(t, heads, request_body, response_body)
}

fn build(t: &HttpTransaction, heads: Heads, request_body: Vec<u8>, response_body: Option<Vec<u8>>) -> Observation {
    let req = &t.request;
    let Heads { method, target, host, request: request_headers, response: response_headers } = heads;
    Observation {
        ts: req.ts.micros(),
        client: t.client.ip(),
        server: t.server,
        host,
        method,
        target,
        request_headers,
        request_body,
        request_body_len: req.body.wire_len,
        response: t.response.as_ref().zip(response_body).zip(response_headers).and_then(|((r, body), mut headers)| {
            Some(ObservedResponse {
                status: r.head.status()?,
                // Trailers are header fields sent late (gRPC's status comes in them).
                headers: {
                    push_fields(&mut headers, r.trailers.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
                    headers
                },
                body,
                body_len: r.body.wire_len,
                latency_micros: r.end_ts.micros() - req.ts.micros(),
            })
        }),
        // What the flow layer reads is cleartext by definition (HTTP/1, h2c).
        encrypted: false,
        protocol: if t.stream_id.is_some() { Protocol::Http2 } else { Protocol::Http1 },
    }
}
