//! Captures that lose or add bytes the application never sent: keep-alive probes at a mid-stream
//! pickup, request bodies cut by the capture, answers that come before the request ends, and
//! 802.11 monitor-mode framing around the same conversation.

mod common;

use apisonar_flow::{Anomaly, EventSink, FlowEngine, HttpTransaction, Limits, Stats, Timestamp};
use apisonar_testkit::conv::Frame;
use apisonar_testkit::{synthetic, Conversation, Side};
use apisonar_wire::LinkType;

fn lines(txns: &[HttpTransaction]) -> Vec<String> {
    txns.iter().map(|t| format!("{} complete={}", common::render(t), t.request.complete)).collect()
}

#[test]
fn a_keepalive_probe_at_a_pickup_does_not_hide_the_request() {
    let s = synthetic::keepalive_midstream();
    assert_eq!(
        lines(&common::run(&s.frames, Limits::default())),
        [
            "GET /api/v1/after-keepalive -> 200 (req 0, resp 14) complete=true",
            "GET /api/v1/second -> 200 (req 0, resp 2) complete=true"
        ]
    );
}

#[test]
fn a_request_body_cut_by_the_capture_keeps_its_response() {
    let s = synthetic::request_body_cut();
    let txns = common::run(&s.frames, Limits::default());
    assert_eq!(
        lines(&txns),
        [
            "POST /api/v1/orders -> 201 (req 5291, resp 12) [tcp_gap, incomplete_request_body] complete=false",
            "GET /api/v1/orders/o-1 -> 200 (req 0, resp 12) complete=true",
        ]
    );
    // The two segments never captured: 1448 bytes and the last 1057.
    assert_eq!(txns.first().map(|t| t.request.body.gap_bytes), Some(1448 + 1057));
}

#[test]
fn an_early_answer_waits_for_the_end_of_the_request_body() {
    let mut c = Conversation::new(([10, 0, 0, 1], 44000), ([10, 0, 0, 2], 80), 0);
    c.handshake();
    let mut req = b"PUT /big HTTP/1.1\r\nHost: api.test\r\nContent-Length: 6000\r\n\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'p', 6000));
    let mut chunks = req.chunks(1448);
    if let Some(first) = chunks.next() {
        c.send_segment(Side::Client, first);
    }
    // The server refuses at once (acknowledging what it has); the client goes on sending.
    c.send(Side::Server, b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    for chunk in chunks {
        c.send_segment(Side::Client, chunk);
    }
    c.ack(Side::Client);
    c.send(Side::Client, b"GET /after HTTP/1.1\r\nHost: api.test\r\n\r\n");
    c.send(Side::Server, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    assert_eq!(
        lines(&common::run(&c.frames, Limits::default())),
        ["PUT /big -> 401 (req 6000, resp 0) complete=true", "GET /after -> 200 (req 0, resp 0) complete=true"]
    );
}

#[derive(Default)]
struct Collect(Vec<HttpTransaction>);

impl EventSink for Collect {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.0.push(txn);
    }
}

fn run_link(link: LinkType, frames: &[Frame]) -> (Vec<HttpTransaction>, Stats) {
    let mut engine = FlowEngine::new(Limits::default());
    let mut out = Collect::default();
    for f in frames {
        engine.frame(link, Timestamp(f.ts), &f.bytes, f.bytes.len() as u32, &mut out);
    }
    engine.finish(&mut out);
    (out.0, engine.stats().clone())
}

#[test]
fn monitor_mode_captures_give_the_transactions_of_the_plain_capture() {
    let plain = synthetic::out_of_order();
    let (expected, plain_stats) = run_link(LinkType::Ethernet, &plain.frames);
    assert_eq!(lines(&expected), ["GET /api/v1/users/42 -> 200 (req 0, resp 3019) complete=true"]);
    for (capture, link) in
        [(synthetic::wifi_radiotap(), LinkType::Ieee80211Radiotap), (synthetic::wifi_ppi(), LinkType::Ppi)]
    {
        let (txns, stats) = run_link(link, &capture.frames);
        assert_eq!(lines(&txns), lines(&expected), "{}", capture.name);
        assert_eq!(stats.tcp_segments, plain_stats.tcp_segments, "{}: every data frame decoded", capture.name);
        assert_eq!(stats.anomaly_count(Anomaly::ProtectedWifiFrame), 1, "{}", capture.name);
        assert_eq!(stats.non_tcp_packets, 2, "{}: the beacon and the null frame", capture.name);
    }
}

/// Runs `frames` through one engine; the transactions and how many flows were opened.
fn opened(frames: &[Frame]) -> (Vec<HttpTransaction>, u64) {
    let mut engine = FlowEngine::new(Limits::default());
    let mut out = common::Collect::default();
    for f in frames {
        engine.frame(LinkType::Ethernet, Timestamp(f.ts), &f.bytes, f.bytes.len() as u32, &mut out);
        // Live flows are looked up before tombstones: a key must never be both.
        assert_eq!(engine.tombstoned_live_flows(), 0);
    }
    engine.finish(&mut out);
    (out.0, engine.stats().flows_created)
}

#[test]
fn late_packets_of_a_closed_connection_open_nothing_until_its_tombstone_expires() {
    let exchange = |start: i64| {
        let mut c = Conversation::new(([10, 0, 0, 1], 44000), ([10, 0, 0, 2], 80), start);
        c.handshake();
        c.send(Side::Client, b"GET /one HTTP/1.1\r\nHost: api.test\r\n\r\n");
        c.send(Side::Server, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        c.close();
        c.frames
    };
    let mut frames = exchange(0);
    let last = frames.last().cloned().unwrap();
    let late = |frame: &Frame, after_micros: i64| Frame { ts: frame.ts + after_micros, bytes: frame.bytes.clone() };
    // The last ACK again, a second later: absorbed by the closed connection's tombstone.
    frames.push(late(&last, 1_000_000));
    let (txns, flows) = opened(&frames);
    assert_eq!((txns.len(), flows), (1, 1));
    // A new connection on the same addresses and ports opens a flow of its own.
    let mut again = frames.clone();
    again.extend(exchange(3_000_000));
    let (txns, flows) = opened(&again);
    assert_eq!((txns.len(), flows), (2, 2));
    // Past the linger time (10 s after it was last seen) the tombstone is gone: the same late
    // packet is taken for a connection picked up mid-stream.
    let mut expired = frames;
    expired.push(late(&last, 12_000_000));
    let (txns, flows) = opened(&expired);
    assert_eq!((txns.len(), flows), (1, 2));
}
