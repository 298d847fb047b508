//! Memory stays within the limits under traffic built to grow it: pipelined requests never
//! answered, many connections holding out-of-order data, a TLS handshake message declaring
//! 16 MiB. After every frame the engine's running byte account is checked against the bound
//! and against a fresh measurement.

use apisonar_flow::{
    Anomaly, ConnectionSummary, EndReason, EventSink, FlowEngine, HttpTransaction, Limits, Timestamp, TlsHandshake,
};
use apisonar_testkit::conv::Frame;
use apisonar_testkit::tls::{client_hello, handshake, handshake_header, records, server_hello};
use apisonar_testkit::{Conversation, Side};
use apisonar_wire::LinkType;

#[derive(Default)]
struct Events {
    transactions: Vec<HttpTransaction>,
    connections: Vec<ConnectionSummary>,
    tls: Vec<TlsHandshake>,
}

impl EventSink for Events {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.transactions.push(txn);
    }
    fn on_connection(&mut self, summary: ConnectionSummary) {
        self.connections.push(summary);
    }
    fn on_tls(&mut self, tls: TlsHandshake) {
        self.tls.push(tls);
    }
}

/// Feeds `frames`; returns the most bytes buffered after any frame, which never passes `bound`.
fn feed(engine: &mut FlowEngine, frames: &[Frame], bound: usize, out: &mut Events) -> usize {
    let mut most = 0;
    for f in frames {
        engine.frame(LinkType::Ethernet, Timestamp(f.ts), &f.bytes, f.bytes.len() as u32, out);
        let buffered = engine.buffered_bytes();
        assert!(buffered <= bound, "{buffered} bytes buffered, bound {bound}");
        assert_eq!(buffered, engine.measure_buffered_bytes(), "running account drifted");
        most = most.max(buffered);
    }
    most
}

fn post(path: &str, body_len: usize) -> Vec<u8> {
    let mut r = format!("POST {path} HTTP/1.1\r\nHost: api.test\r\nContent-Length: {body_len}\r\n\r\n").into_bytes();
    r.extend(std::iter::repeat_n(b'b', body_len));
    r
}

#[test]
fn unanswered_pipelined_requests_are_bounded_by_the_pending_limit() {
    let limits = Limits::default();
    let (requests, body) = (300usize, 20_000usize);
    let mut c = Conversation::new(([10, 0, 0, 1], 41000), ([10, 0, 0, 2], 80), 0);
    c.handshake();
    for i in 0..requests {
        c.send(Side::Client, &post(&format!("/upload/{i}"), body));
    }
    // Each waiting request holds its head and a body sample (a vector at most twice its size);
    // the stream buffers hold a few KiB more.
    let per_request = 2 * body + 1024;
    let bound = limits.max_pending_transactions * per_request + 64 * 1024;
    let mut engine = FlowEngine::new(limits.clone());
    let mut out = Events::default();
    let most = feed(&mut engine, &c.frames, bound, &mut out);
    assert!(most > (limits.max_pending_transactions - 1) * body, "the pending requests were held: {most}");
    let evicted = requests - limits.max_pending_transactions;
    assert_eq!(out.transactions.len(), evicted, "the oldest requests leave as the limit is passed");
    assert_eq!(engine.stats().anomaly_count(Anomaly::PendingLimit), evicted as u64);
    for (i, t) in out.transactions.iter().enumerate() {
        assert_eq!(t.request.head.target(), format!("/upload/{i}").as_bytes());
        assert!(t.response.is_none() && t.request.complete);
        assert_eq!(t.anomalies, vec![Anomaly::PendingLimit]);
    }
    engine.finish(&mut out);
    assert_eq!(out.transactions.len(), requests);
    assert_eq!(engine.buffered_bytes(), 0);
}

/// Connection `i`: a POST whose second segment is never captured, so the rest of its body
/// waits out of order (about 7 KiB).
fn connection_with_a_hole(i: u16, start: i64) -> Conversation {
    let mut c = Conversation::new(([10, 0, 1, 1], 20000 + i), ([10, 0, 0, 2], 80), start);
    c.handshake();
    let segs = c.segments(Side::Client, &post(&format!("/conn/{i}"), 10_000), 1448);
    for (n, (_, f)) in segs.into_iter().enumerate() {
        if n != 1 {
            c.push(f);
        }
    }
    c
}

#[test]
fn the_buffer_budget_closes_the_least_recently_active_connections() {
    let budget = 512 * 1024;
    let limits = Limits { max_buffered_bytes: budget, ..Limits::default() };
    let mut engine = FlowEngine::new(limits);
    let mut out = Events::default();
    let connections = 200u16;
    for i in 0..connections {
        let c = connection_with_a_hole(i, i64::from(i) * 10_000);
        feed(&mut engine, &c.frames, budget, &mut out);
    }
    let evicted: Vec<&ConnectionSummary> =
        out.connections.iter().filter(|c| c.end_reason == EndReason::Evicted).collect();
    let stats = engine.stats();
    assert!(evicted.len() > 50, "{} evicted", evicted.len());
    assert_eq!(stats.flows_evicted_buffer_budget, evicted.len() as u64);
    assert_eq!(stats.anomaly_count(Anomaly::BufferBudgetEviction), evicted.len() as u64);
    // Least recently active first: every evicted connection is older than every survivor.
    let newest_evicted = evicted.iter().map(|c| c.client.port()).max().unwrap_or_default();
    assert_eq!(evicted.len(), usize::from(newest_evicted - 20000) + 1);
    assert_eq!(engine.active_flows(), usize::from(connections) - evicted.len());
    // What an evicted connection was reading is reported, and says why it ends there.
    assert_eq!(out.transactions.len(), evicted.len());
    for t in &out.transactions {
        assert!(t.anomalies.contains(&Anomaly::BufferBudgetEviction), "{:?}", t.anomalies);
        // Closing hands over what was buffered, with the hole as a gap.
        assert_eq!((t.request.body.wire_len, t.request.body.gap_bytes), (10_000, 1448));
    }
    engine.finish(&mut out);
    assert_eq!(out.transactions.len(), usize::from(connections));
}

#[test]
fn a_tls_handshake_message_declaring_16_mib_stays_bounded() {
    let limits = Limits::default();
    let mut c = Conversation::new(([10, 0, 0, 1], 42000), ([10, 0, 0, 2], 443), 0);
    c.handshake();
    c.send(Side::Client, &records(22, &handshake(1, &client_hello("huge.example"))));
    let mut server = records(22, &handshake(2, &server_hello()));
    let mut huge = handshake_header(11, 0xff_ffff).to_vec();
    huge.extend(std::iter::repeat_n(0x43, 2 << 20));
    server.extend(records(22, &huge));
    c.send(Side::Server, &server);
    c.close();
    // Two directions, each at most its records and messages (see tls.rs), plus stream buffers.
    let bound = 2 * 4 * limits.max_tls_handshake_bytes + 64 * 1024;
    let mut engine = FlowEngine::new(limits);
    let mut out = Events::default();
    feed(&mut engine, &c.frames, bound, &mut out);
    engine.finish(&mut out);
    assert_eq!(engine.stats().anomaly_count(Anomaly::TlsHandshakeTooLarge), 1);
    let session = out.tls.first().map(|t| t.session.clone()).unwrap_or_default();
    assert_eq!(session.client_hello.and_then(|h| h.sni), Some("huge.example".to_string()));
    assert_eq!(session.server_hello.map(|h| h.cipher), Some(0xc02f));
    assert_eq!(session.certificate, None);
}

#[test]
fn endless_interim_responses_are_not_kept() {
    let mut c = Conversation::new(([10, 0, 0, 1], 43000), ([10, 0, 0, 2], 80), 0);
    c.handshake();
    c.send(Side::Client, b"GET /slow HTTP/1.1\r\nHost: api.test\r\n\r\n");
    c.send(Side::Server, &b"HTTP/1.1 102 Processing\r\n\r\n".repeat(20_000));
    c.send(Side::Server, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    let mut engine = FlowEngine::new(Limits::default());
    let mut out = Events::default();
    feed(&mut engine, &c.frames, 64 * 1024, &mut out);
    engine.finish(&mut out);
    let interim = out.transactions.first().and_then(|t| t.response.as_ref()).map(|r| r.interim.clone());
    assert_eq!(interim, Some(vec![102; 8]));
}

#[test]
fn a_full_flow_table_closes_its_least_recently_active_eighth_oldest_first() {
    let limits = Limits { max_flows: 64, ..Limits::default() };
    let mut engine = FlowEngine::new(limits);
    let mut out = Events::default();
    // 64 connections opened one after another (port 20000 + i at 10 ms each), then the 16
    // oldest touched again in reverse order: the least recently active are now 16..24.
    let mut touched = Vec::new();
    for i in 0..64u16 {
        let mut c = Conversation::new(([10, 0, 1, 1], 20000 + i), ([10, 0, 0, 2], 80), i64::from(i) * 10_000);
        c.handshake();
        feed(&mut engine, &c.frames, usize::MAX, &mut out);
        if i < 16 {
            touched.push(c);
        }
    }
    for (n, c) in touched.iter_mut().rev().enumerate() {
        c.frames.clear();
        c.advance(1_000_000 + n as i64 * 10_000 - c.now());
        c.send(Side::Client, b"GET / HTTP/1.1\r\nHost: api.test\r\n\r\n");
        feed(&mut engine, &c.frames, usize::MAX, &mut out);
    }
    assert!(out.connections.is_empty());
    // One more connection: the table is full, an eighth of it (8) goes.
    let mut c = Conversation::new(([10, 0, 1, 2], 30000), ([10, 0, 0, 2], 80), 2_000_000);
    c.handshake();
    feed(&mut engine, &c.frames, usize::MAX, &mut out);
    let evicted: Vec<u16> = out.connections.iter().map(|c| c.client.port() - 20000).collect();
    assert_eq!(evicted, (16..24).collect::<Vec<u16>>());
    assert!(out.connections.iter().all(|c| c.end_reason == EndReason::Evicted));
    assert_eq!(engine.active_flows(), 64 - 8 + 1);
}
