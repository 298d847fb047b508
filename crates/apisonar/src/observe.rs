//! Turns the flow layer's transactions into the engine's observations.

use apisonar_engine::{MessageObservation, Observation, ObservedResponse, Protocol};
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
    String::from_utf8_lossy(b).into_owned()
}

/// A header name in lower case, made in one allocation.
fn name(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

fn headers(head: &MessageHead) -> Vec<(String, String)> {
    head.headers().map(|(n, v)| (name(n), text(v))).collect()
}

pub fn observation(t: &HttpTransaction) -> Observation {
    let req = &t.request;
    Observation {
        ts: req.ts.micros(),
        client: t.client.ip(),
        server: t.server,
        host: t.host().map(text),
        method: text(req.head.method()),
        target: text(req.head.target()),
        request_headers: headers(&req.head),
        request_body: req.body.content().to_vec(),
        request_body_len: req.body.wire_len,
        response: t.response.as_ref().and_then(|r| {
            Some(ObservedResponse {
                status: r.head.status()?,
                // Trailers are header fields sent late (gRPC's status comes in them).
                headers: headers(&r.head)
                    .into_iter()
                    .chain(r.trailers.iter().map(|(n, v)| (name(n), text(v))))
                    .collect(),
                body: r.body.content().to_vec(),
                body_len: r.body.wire_len,
                latency_micros: r.end_ts.micros() - req.ts.micros(),
            })
        }),
        // What the flow layer reads is cleartext by definition (HTTP/1, h2c).
        encrypted: false,
        protocol: if t.stream_id.is_some() { Protocol::Http2 } else { Protocol::Http1 },
    }
}
