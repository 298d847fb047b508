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

// The benchmarks (which include this file) observe the same transactions repeatedly; the sensor
// uses `observation_taking_bodies`.
#[allow(dead_code)]
pub fn observation(t: &HttpTransaction) -> Observation {
    let request_body = t.request.body.content().to_vec();
    let response_body = t.response.as_ref().map(|r| r.body.content().to_vec());
    build(t, request_body, response_body)
}

/// [`observation`], moving the body samples out of `t` instead of copying them (what the
/// sensor does: after the analysis only the bodies' lengths are written out). A body decoded
/// per Content-Encoding is copied, so its decoded length stays for the transaction record.
pub fn observation_taking_bodies(t: &mut HttpTransaction) -> Observation {
    fn take(body: &mut apisonar_flow::http::Body) -> Vec<u8> {
        match &body.decoded {
            Some(decoded) => decoded.clone(),
            None => std::mem::take(&mut body.sample),
        }
    }
    let request_body = take(&mut t.request.body);
    let response_body = t.response.as_mut().map(|r| take(&mut r.body));
    build(t, request_body, response_body)
}

fn build(t: &HttpTransaction, request_body: Vec<u8>, response_body: Option<Vec<u8>>) -> Observation {
    let req = &t.request;
    Observation {
        ts: req.ts.micros(),
        client: t.client.ip(),
        server: t.server,
        host: t.host().map(text),
        method: text(req.head.method()),
        target: text(req.head.target()),
        request_headers: headers(&req.head),
        request_body,
        request_body_len: req.body.wire_len,
        response: t.response.as_ref().zip(response_body).and_then(|(r, body)| {
            Some(ObservedResponse {
                status: r.head.status()?,
                // Trailers are header fields sent late (gRPC's status comes in them).
                headers: {
                    let mut fields = headers(&r.head);
                    push_fields(&mut fields, r.trailers.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
                    fields
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
