//! What each protocol's parser costs (a benchmark, not a test): the same JSON API exchanges
//! carried as HTTP/1.1 keep-alive, as HTTP/2 streams (HPACK with its dynamic table), as gRPC
//! calls (protobuf messages, trailers), as GraphQL queries, as MCP JSON-RPC calls answered with
//! Server-Sent Events, and as WebSocket messages (permessage-deflate off), in 1500-byte frames;
//! criterion times the packet path (frames to transactions, or to messages) and the worker's
//! analysis (sampled, as the sensor runs it) of each.
//!
//!   cargo bench -p apisonar --bench protocols [-- FILTER]     (PROTOCOL_CALLS=N, default 5000)
//!
//! Throughput is in transactions per second (`thrpt`, elem/s).

mod common;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use apisonar_app::Analyser;
use apisonar_engine::sensitive::MaskKey;
use apisonar_engine::Observation;
use apisonar_testkit::h2::{self, Encoder};
use apisonar_testkit::{Conversation, Side};
use common::{observe, packet_path};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const CLIENT: ([u8; 4], u16) = ([10, 1, 0, 1], 41000);
const SERVER: ([u8; 4], u16) = ([10, 1, 0, 2], 8080);

fn user_json(i: u32) -> String {
    format!(
        r#"{{"id":{i},"name":"user {i}","email":"user{i}@example.com","active":true,"tags":["a","b"],"score":{}.5}}"#,
        i % 97
    )
}

fn frames(c: Conversation) -> Vec<(i64, Vec<u8>)> {
    c.frames.into_iter().map(|f| (f.ts, f.bytes)).collect()
}

fn http1(calls: u32) -> Vec<(i64, Vec<u8>)> {
    let mut c = Conversation::new(CLIENT, SERVER, 1_700_000_000_000_000).with_step(20);
    c.handshake();
    for i in 0..calls {
        let request = format!(
            "GET /api/v2/users/{i} HTTP/1.1\r\nHost: api.bench\r\nUser-Agent: bench/1\r\nAccept: application/json\r\n\r\n"
        );
        c.send(Side::Client, request.as_bytes());
        let body = user_json(i);
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        c.send(Side::Server, response.as_bytes());
    }
    c.close();
    frames(c)
}

/// A connection past its handshake and both prefaces, with each side's HPACK encoder.
fn h2_connection() -> (Conversation, Encoder, Encoder) {
    let mut c = Conversation::new(CLIENT, SERVER, 1_700_000_000_000_000).with_step(20);
    c.handshake();
    let mut preface = h2::PREFACE.to_vec();
    preface.extend(h2::settings());
    c.send(Side::Client, &preface);
    c.send(Side::Server, &h2::settings());
    (c, Encoder::default(), Encoder::default())
}

fn http2(calls: u32) -> Vec<(i64, Vec<u8>)> {
    let (mut c, mut client, mut server) = h2_connection();
    for i in 0..calls {
        let stream = 1 + 2 * i;
        let path = format!("/api/v2/users/{i}");
        let block = client.block(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "api.bench"),
            (":path", &path),
            ("user-agent", "bench/1"),
            ("accept", "application/json"),
        ]);
        c.send(Side::Client, &h2::headers(stream, &block, true));
        let mut bytes =
            h2::headers(stream, &server.block(&[(":status", "200"), ("content-type", "application/json")]), false);
        bytes.extend(h2::data(stream, user_json(i).as_bytes(), true, None));
        c.send(Side::Server, &bytes);
    }
    c.close();
    frames(c)
}

fn protobuf_string(field: u8, s: &str, out: &mut Vec<u8>) {
    out.push(field << 3 | 2);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

fn grpc(calls: u32) -> Vec<(i64, Vec<u8>)> {
    let (mut c, mut client, mut server) = h2_connection();
    for i in 0..calls {
        let stream = 1 + 2 * i;
        let block = client.block(&[
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "api.bench"),
            (":path", "/bench.v1.UserService/GetUser"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("user-agent", "grpc-bench/1"),
        ]);
        let mut bytes = h2::headers(stream, &block, false);
        bytes.extend(h2::data(stream, &grpc_frame(&[0x08, (i % 128) as u8]), true, None));
        c.send(Side::Client, &bytes);
        let mut message = vec![0x08, (i % 128) as u8];
        protobuf_string(2, &format!("user {i}"), &mut message);
        protobuf_string(3, &format!("user{i}@example.com"), &mut message);
        message.extend_from_slice(&[0x20, 1, 0x2a, 2, b'a', b'b']);
        let mut bytes =
            h2::headers(stream, &server.block(&[(":status", "200"), ("content-type", "application/grpc")]), false);
        bytes.extend(h2::data(stream, &grpc_frame(&message), false, None));
        bytes.extend(h2::headers(stream, &server.block(&[("grpc-status", "0"), ("grpc-message", "")]), true));
        c.send(Side::Server, &bytes);
    }
    c.close();
    frames(c)
}

fn http1_post(
    path: &str,
    calls: u32,
    body: impl Fn(u32) -> String,
    answer: impl Fn(u32) -> (String, &'static str),
) -> Vec<(i64, Vec<u8>)> {
    let mut c = Conversation::new(CLIENT, SERVER, 1_700_000_000_000_000).with_step(20);
    c.handshake();
    for i in 0..calls {
        let b = body(i);
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: api.bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        );
        c.send(Side::Client, request.as_bytes());
        let (a, ct) = answer(i);
        let response = format!("HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n{a}", a.len());
        c.send(Side::Server, response.as_bytes());
    }
    c.close();
    frames(c)
}

fn graphql(calls: u32) -> Vec<(i64, Vec<u8>)> {
    http1_post(
        "/graphql",
        calls,
        |i| {
            serde_json::json!({"query": "query GetUser($id: ID!) { user(id: $id) { id name email } }",
                               "operationName": "GetUser", "variables": {"id": i.to_string()}})
            .to_string()
        },
        |i| (format!(r#"{{"data":{{"user":{}}}}}"#, user_json(i)), "application/json"),
    )
}

fn mcp(calls: u32) -> Vec<(i64, Vec<u8>)> {
    http1_post(
        "/mcp",
        calls,
        |i| {
            serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                               "params": {"name": "lookup_customer", "arguments": {"id": i}}})
            .to_string()
        },
        |i| {
            let result = serde_json::json!({"jsonrpc": "2.0", "id": i, "result": {"content": [{"type": "text", "text": user_json(i)}]}});
            (format!("event: message\r\ndata: {result}\r\n\r\n"), "text/event-stream")
        },
    )
}

/// One WebSocket connection: the upgrade, then `calls` JSON messages each way (client frames
/// masked).
fn websocket(calls: u32) -> Vec<(i64, Vec<u8>)> {
    let mut c = Conversation::new(CLIENT, SERVER, 1_700_000_000_000_000).with_step(20);
    c.handshake();
    c.send(Side::Client, b"GET /ws/users HTTP/1.1\r\nHost: api.bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    c.send(Side::Server, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    let frame = |payload: &[u8], mask: Option<[u8; 4]>| {
        let mut f = vec![0x81];
        let bit = if mask.is_some() { 0x80 } else { 0 };
        if payload.len() < 126 {
            f.push(bit | payload.len() as u8);
        } else {
            f.push(bit | 126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        let mut body = payload.to_vec();
        if let Some(key) = mask {
            f.extend_from_slice(&key);
            body.iter_mut().enumerate().for_each(|(i, b)| *b ^= key[i % 4]);
        }
        f.extend(body);
        f
    };
    for i in 0..calls {
        let ask = format!(r#"{{"type":"get_user","id":{i}}}"#);
        c.send(Side::Client, &frame(ask.as_bytes(), Some([1, 2, 3, 4])));
        c.send(Side::Server, &frame(user_json(i).as_bytes(), None));
    }
    c.close();
    frames(c)
}

/// The packet path to WebSocket messages.
#[derive(Default)]
struct Messages(Vec<apisonar_flow::StreamMessage>);

impl apisonar_flow::EventSink for Messages {
    fn on_transaction(&mut self, _txn: apisonar_flow::HttpTransaction) {}
    fn on_message(&mut self, message: apisonar_flow::StreamMessage) {
        self.0.push(message);
    }
}

fn message_path(frames: &[(i64, Vec<u8>)]) -> Vec<apisonar_flow::StreamMessage> {
    let mut engine = apisonar_flow::FlowEngine::new(apisonar_flow::Limits::default());
    let mut out = Messages::default();
    for (ts, frame) in frames {
        engine.frame(
            apisonar_wire::LinkType::Ethernet,
            apisonar_flow::Timestamp(*ts),
            frame,
            frame.len() as u32,
            &mut out,
        );
    }
    engine.finish(&mut out);
    out.0
}

fn sampled(observations: Vec<Observation>, key: MaskKey) -> usize {
    let mut analyser = Analyser::new(key);
    observations.into_iter().map(|o| analyser.analyse(o)).count()
}

fn protocols(c: &mut Criterion) {
    let calls: u32 = std::env::var("PROTOCOL_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    let key = MaskKey::new([7; 32]);
    let workloads = [
        ("http/1.1", http1(calls)),
        ("h2", http2(calls)),
        ("grpc", grpc(calls)),
        ("graphql", graphql(calls)),
        ("mcp", mcp(calls)),
    ];
    for (name, frames) in workloads {
        let transactions = packet_path(&frames);
        assert_eq!(transactions.len() as u32, calls, "{name}: every call is a transaction");
        let observations: Vec<Observation> = transactions.iter().map(observe::observation).collect();
        let mut group = c.benchmark_group(format!("{name} ({calls} calls)"));
        group.throughput(Throughput::Elements(u64::from(calls)));
        group.sample_size(10);
        group.bench_function("packet path", |b| b.iter(|| packet_path(&frames).len()));
        group.bench_function("analysis, sampled", |b| {
            b.iter_batched(|| observations.clone(), |o| sampled(o, key), BatchSize::LargeInput)
        });
        group.finish();
    }
    // WebSocket: two messages per call, each its own unit of work.
    let frames = websocket(calls);
    let messages = message_path(&frames);
    assert_eq!(messages.len() as u32, 2 * calls, "websocket: every message");
    let observations: Vec<_> = messages.iter().map(observe::message_observation).collect();
    let mut group = c.benchmark_group(format!("websocket ({} messages)", messages.len()));
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.sample_size(10);
    group.bench_function("packet path", |b| b.iter(|| message_path(&frames).len()));
    group.bench_function("analysis, sampled", |b| {
        b.iter_batched(
            || observations.clone(),
            |o| {
                let mut analyser = Analyser::new(key);
                o.into_iter().map(|m| analyser.analyse_message(m, (0, 0))).count()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, protocols);
criterion_main!(benches);
