//! HTTP/2 connections built frame by frame: prior knowledge and h2c upgrade, interleaved
//! streams, padding, CONTINUATION, trailers, resets, floods and gaps.

mod common;

use apisonar_flow::{HttpTransaction, Limits};
use apisonar_testkit::h2::{self, Encoder};
use apisonar_testkit::{Conversation, Side};

const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 8200);

fn conversation() -> Conversation {
    let mut c = Conversation::new(CLIENT, SERVER, 1_700_000_000_000_000);
    c.handshake();
    c
}

fn request(enc: &mut Encoder, method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut fields = vec![(":method", method), (":scheme", "http"), (":authority", "api.test:8200"), (":path", path)];
    fields.extend_from_slice(extra);
    enc.block(&fields)
}

fn lines(txns: &[HttpTransaction]) -> Vec<String> {
    txns.iter().map(|t| format!("{} stream={:?}", common::render(t), t.stream_id)).collect()
}

fn header<'t>(t: &'t HttpTransaction, name: &str) -> Option<&'t [u8]> {
    t.request.head.header(name)
}

#[test]
fn interleaved_streams_become_transactions_with_bodies_trailers_and_the_dynamic_table() {
    let (mut client, mut server) = (Encoder::default(), Encoder::default());
    let mut c = conversation();
    let mut bytes = h2::PREFACE.to_vec();
    bytes.extend(h2::settings());
    let ua = [("user-agent", "apisonar-test/1"), ("authorization", "Bearer t0k3n")];
    bytes.extend(h2::headers(1, &request(&mut client, "GET", "/api/v2/users/7", &ua), true));
    bytes.extend(h2::headers(3, &request(&mut client, "POST", "/api/v2/orders", &ua), false));
    bytes.extend(h2::data(3, br#"{"item":"#, false, None));
    bytes.extend(h2::data(3, br#""book","qty":2}"#, true, Some(7)));
    c.send(Side::Client, &bytes);

    let mut bytes = h2::settings();
    let json = [("content-type", "application/json")];
    bytes.extend(h2::headers(3, &server.block(&[(":status", "201"), json[0]]), false));
    bytes.extend(h2::headers(1, &server.block(&[(":status", "200"), json[0]]), false));
    bytes.extend(h2::data(1, br#"{"id":7,"name":"alice"}"#, true, None));
    bytes.extend(h2::data(3, br#"{"order":1}"#, false, Some(3)));
    bytes.extend(h2::headers(3, &server.block(&[("grpc-status", "0"), ("x-checksum", "abc")]), true));
    c.send(Side::Server, &bytes);
    c.close();

    let txns = common::run(&c.frames, Limits::default());
    assert_eq!(
        lines(&txns),
        [
            "GET /api/v2/users/7 -> 200 (req 0, resp 23) stream=Some(1)",
            "POST /api/v2/orders -> 201 (req 23, resp 11) stream=Some(3)",
        ]
    );
    let (get, post) = (&txns[0], &txns[1]);
    assert_eq!(get.request.head.version().as_str(), "2.0");
    assert_eq!(get.host(), Some(&b"api.test:8200"[..]));
    // The second request's fields came from the dynamic table (indexed references).
    assert_eq!(header(post, "authorization"), Some(&b"Bearer t0k3n"[..]));
    assert_eq!(header(post, "user-agent"), Some(&b"apisonar-test/1"[..]));
    assert_eq!(post.request.body.sample, br#"{"item":"book","qty":2}"#);
    assert_eq!((post.index_in_connection, get.index_in_connection), (1, 0));
    let response = post.response.as_ref().unwrap();
    assert_eq!(response.head.header("content-type"), Some(&b"application/json"[..]));
    assert_eq!(
        response.trailers,
        [(b"grpc-status".to_vec(), b"0".to_vec()), (b"x-checksum".to_vec(), b"abc".to_vec())]
    );
    assert!(response.complete && post.request.complete);
}

#[test]
fn an_h2c_upgrade_makes_the_http1_request_stream_1_with_its_101_as_interim() {
    let mut server = Encoder::default();
    let mut c = conversation();
    c.send(
        Side::Client,
        b"GET /api/v2/users/9 HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade, HTTP2-Settings\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
    );
    let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec();
    bytes.extend(h2::settings());
    c.send(Side::Server, &bytes);
    let mut bytes = h2::PREFACE.to_vec();
    bytes.extend(h2::settings());
    c.send(Side::Client, &bytes);
    let mut bytes = h2::headers(1, &server.block(&[(":status", "200")]), false);
    bytes.extend(h2::data(1, b"{}", true, None));
    c.send(Side::Server, &bytes);
    let mut client = Encoder::default();
    c.send(Side::Client, &h2::headers(3, &request(&mut client, "GET", "/api/v2/users", &[]), true));
    c.send(Side::Server, &h2::headers(3, &server.block(&[(":status", "404")]), true));
    c.close();

    let txns = common::run(&c.frames, Limits::default());
    assert_eq!(
        lines(&txns),
        [
            "GET /api/v2/users/9 -> 200 interim [101] (req 0, resp 2) stream=Some(1)",
            "GET /api/v2/users -> 404 (req 0, resp 0) stream=Some(3)",
        ]
    );
    assert_eq!(txns[0].request.head.version().as_str(), "1.1");
}

#[test]
fn resets_are_transactions_and_a_hundred_before_any_answer_are_a_rapid_reset() {
    let mut client = Encoder::default();
    let mut c = conversation();
    let mut bytes = h2::PREFACE.to_vec();
    bytes.extend(h2::settings());
    for i in 0..150u32 {
        let id = 1 + 2 * i;
        bytes.extend(h2::headers(id, &request(&mut client, "GET", "/api/v2/expensive", &[]), true));
        bytes.extend(h2::rst_stream(id, 8));
    }
    c.send(Side::Client, &bytes);
    c.close();
    let txns = common::run(&c.frames, Limits::default());
    assert_eq!(txns.len(), 150);
    let rapid = |t: &HttpTransaction| t.anomalies.iter().any(|a| a.as_str() == "http2_rapid_reset");
    let reset = |t: &HttpTransaction| t.anomalies.iter().any(|a| a.as_str() == "http2_stream_reset");
    assert!(txns.iter().all(|t| reset(t) && t.response.is_none()));
    assert_eq!(txns.iter().filter(|t| rapid(t)).count(), 51, "the 100th reset and after");
    assert!(!rapid(&txns[98]) && rapid(&txns[99]));
}

#[test]
fn continuation_floods_and_oversized_blocks_are_anomalies_and_later_streams_still_decode() {
    let mut client = Encoder::default();
    let mut c = conversation();
    let mut bytes = h2::PREFACE.to_vec();
    bytes.extend(h2::settings());
    let pad = "a".repeat(100);
    let block = request(&mut client, "GET", "/api/v2/flood", &[("x-pad", &pad)]);
    // A one-byte CONTINUATION frame per byte of the block: well over a hundred.
    bytes.extend(h2::headers_continued(1, &block, true, 1, 1));
    // A block split normally into three frames decodes.
    let mut fresh = Encoder::default();
    let block = request(&mut fresh, "GET", "/api/v2/split", &[]);
    // The flood made the decoder lose its table; a size update to 0 brings it back in step.
    let mut synced = vec![0x20];
    synced.extend(&block);
    bytes.extend(h2::headers_continued(3, &synced, true, 10, 10));
    c.send(Side::Client, &bytes);
    let mut server = Encoder::default();
    let mut bytes = h2::settings();
    bytes.extend(h2::headers(3, &server.block(&[(":status", "200")]), true));
    c.send(Side::Server, &bytes);
    c.close();
    let txns = common::run(&c.frames, Limits::default());
    let got = lines(&txns);
    assert!(got.contains(&"GET /api/v2/split -> 200 (req 0, resp 0) stream=Some(3)".to_string()), "{got:?}");
    assert!(got.iter().any(|l| l.contains("stream=Some(1)") && l.contains("http2_continuation_flood")), "{got:?}");
}

#[test]
fn a_gap_inside_a_data_frame_is_a_body_gap_and_one_across_frames_stops_the_direction() {
    let (mut client, mut server) = (Encoder::default(), Encoder::default());
    let mut c = conversation();
    let mut bytes = h2::PREFACE.to_vec();
    bytes.extend(h2::settings());
    bytes.extend(h2::headers(1, &request(&mut client, "GET", "/api/v2/big", &[]), true));
    bytes.extend(h2::headers(3, &request(&mut client, "GET", "/api/v2/after", &[]), true));
    c.send(Side::Client, &bytes);
    let mut bytes = h2::settings();
    bytes.extend(h2::headers(1, &server.block(&[(":status", "200")]), false));
    bytes.extend(h2::data(1, &vec![b'x'; 5000], true, None));
    bytes.extend(h2::headers(3, &server.block(&[(":status", "204")]), true));
    // Segments of 1000 bytes; the third falls inside the 5000-byte DATA payload.
    let segments = c.segments(Side::Server, &bytes, 1000);
    for (i, (_, frame)) in segments.into_iter().enumerate() {
        if i != 2 {
            c.push(frame);
        }
    }
    c.ack(Side::Server);
    c.close();
    let txns = common::run(&c.frames, Limits::default());
    let got = lines(&txns);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("GET /api/v2/big -> 200 (req 0, resp 5000)"), "{got:?}");
    assert_eq!(txns[0].response.as_ref().unwrap().body.gap_bytes, 1000);
    assert!(got[1].starts_with("GET /api/v2/after -> 204"), "{got:?}");

    // The same with the gap over the frame headers after the DATA frame: the rest of the
    // server direction cannot be framed, so stream 3 ends without a response.
    let mut c = conversation();
    let (mut client, mut server) = (Encoder::default(), Encoder::default());
    let mut bytes = h2::PREFACE.to_vec();
    bytes.extend(h2::headers(1, &request(&mut client, "GET", "/api/v2/big", &[]), true));
    bytes.extend(h2::headers(3, &request(&mut client, "GET", "/api/v2/after", &[]), true));
    c.send(Side::Client, &bytes);
    let mut bytes = h2::headers(1, &server.block(&[(":status", "200")]), false);
    bytes.extend(h2::data(1, &[b'x'; 100], true, None));
    bytes.extend(h2::headers(3, &server.block(&[(":status", "204")]), true));
    bytes.extend(vec![0; 200]);
    let segments = c.segments(Side::Server, &bytes, 100);
    for (i, (_, frame)) in segments.into_iter().enumerate() {
        if i != 1 {
            c.push(frame);
        }
    }
    c.ack(Side::Server);
    c.close();
    let got = lines(&common::run(&c.frames, Limits::default()));
    assert!(got[1].starts_with("GET /api/v2/after -> none"), "{got:?}");
}

#[test]
fn more_open_streams_than_the_limit_push_the_oldest_out() {
    let mut client = Encoder::default();
    let mut c = conversation();
    let mut bytes = h2::PREFACE.to_vec();
    for i in 0..10u32 {
        bytes.extend(h2::headers(1 + 2 * i, &request(&mut client, "GET", &format!("/api/v2/s/{i}"), &[]), true));
    }
    c.send(Side::Client, &bytes);
    c.close();
    let limits = Limits { max_pending_transactions: 4, ..Limits::default() };
    let txns = common::run(&c.frames, limits);
    assert_eq!(txns.len(), 10);
    let limited = txns.iter().filter(|t| t.anomalies.iter().any(|a| a.as_str() == "pending_transaction_limit"));
    assert_eq!(limited.count(), 6);
}

/// Real software (hypercorn, python h2, curl) against tshark's decoding: every request header
/// name of every stream, the HPACK dynamic table included (50 of its 119 request fields are
/// indexed references, 16 never-indexed literals).
#[test]
fn the_recorded_h2c_capture_decodes_every_request_header_as_tshark_does() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bytes = std::fs::read(root.join("captures/h2c-api.pcap")).unwrap();
    let (_, frames) = apisonar_testkit::pcap::read_pcap(&bytes).unwrap();
    let frames: Vec<_> = frames.into_iter().map(|(ts, bytes)| apisonar_testkit::conv::Frame { ts, bytes }).collect();
    let txns = common::run(&frames, Limits::default());
    let expect = std::fs::read_to_string(root.join("captures/expect/h2c-api.pcap.h2-headers.tsv")).unwrap();
    let mut expected: Vec<(u32, String)> = Vec::new();
    let mut connections: Vec<String> = Vec::new();
    for line in expect.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        if !connections.contains(&cols[0].to_string()) {
            connections.push(cols[0].to_string());
        }
        expected.push((cols[1].parse().unwrap(), format!("{}/{}", cols[0], cols[2])));
    }
    let mut ids: Vec<u64> = txns.iter().map(|t| t.connection_id).collect();
    ids.dedup();
    ids.sort_unstable();
    ids.dedup();
    let mut ours: Vec<(u32, String)> = txns
        .iter()
        .map(|t| {
            let mut names: Vec<String> =
                t.request.head.headers().map(|(n, _)| String::from_utf8_lossy(n).to_ascii_lowercase()).collect();
            if t.request.head.version().as_str() == "2.0" {
                names.extend([":method".to_string(), ":path".to_string()]);
            }
            names.sort();
            let rank = ids.iter().position(|&i| i == t.connection_id).unwrap();
            (t.stream_id.unwrap(), format!("{}/{}", connections[rank], names.join(",")))
        })
        .collect();
    ours.sort();
    expected.sort();
    assert_eq!(ours, expected);
    // No stream lost a header to an unknown table entry.
    assert!(txns.iter().all(|t| !t.anomalies.iter().any(|a| a.as_str().starts_with("http2_undecodable"))));
    // The trailers and the gzip body arrived.
    let trailers = txns.iter().find(|t| t.request.head.target() == b"/api/v2/stream-with-trailers").unwrap();
    assert_eq!(trailers.response.as_ref().unwrap().trailers.first().map(|f| f.0.as_slice()), Some(&b"x-checksum"[..]));
    let gzip = txns.iter().find(|t| t.request.head.target() == b"/api/v2/reports/daily").unwrap();
    assert!(gzip.response.as_ref().unwrap().body.decoded.as_ref().is_some_and(|d| d.starts_with(b"{")));
}

#[test]
fn a_pushed_response_is_a_transaction_of_its_promised_stream() {
    let (mut client, mut server) = (Encoder::default(), Encoder::default());
    let mut c = conversation();
    let mut bytes = h2::PREFACE.to_vec();
    bytes.extend(h2::settings());
    bytes.extend(h2::headers(1, &request(&mut client, "GET", "/index.html", &[]), true));
    c.send(Side::Client, &bytes);
    // PUSH_PROMISE on stream 1 reserving stream 2 for /app.js, then both answers.
    let promised =
        server.block(&[(":method", "GET"), (":scheme", "http"), (":authority", "api.test:8200"), (":path", "/app.js")]);
    let mut payload = 2u32.to_be_bytes().to_vec();
    payload.extend(&promised);
    let mut bytes = h2::settings();
    bytes.extend(h2::frame(h2::PUSH_PROMISE, h2::END_HEADERS, 1, &payload));
    bytes.extend(h2::headers(1, &server.block(&[(":status", "200")]), false));
    bytes.extend(h2::data(1, b"<html>", true, None));
    bytes.extend(h2::headers(2, &server.block(&[(":status", "200"), ("content-type", "text/javascript")]), false));
    bytes.extend(h2::data(2, b"go()", true, None));
    c.send(Side::Server, &bytes);
    c.close();
    let txns = common::run(&c.frames, Limits::default());
    assert_eq!(
        lines(&txns),
        ["GET /index.html -> 200 (req 0, resp 6) stream=Some(1)", "GET /app.js -> 200 (req 0, resp 4) stream=Some(2)"]
    );
    assert_eq!(txns[1].host(), Some(&b"api.test:8200"[..]));
}

#[test]
fn after_a_gap_across_frames_reading_resumes_at_the_next_run_of_frames() {
    let (mut client, mut server) = (Encoder::default(), Encoder::default());
    let mut c = conversation();
    let mut bytes = h2::PREFACE.to_vec();
    bytes.extend(h2::headers(1, &request(&mut client, "GET", "/api/v2/a", &[]), true));
    bytes.extend(h2::headers(3, &request(&mut client, "GET", "/api/v2/b", &[]), true));
    bytes.extend(h2::headers(5, &request(&mut client, "GET", "/api/v2/c", &[]), true));
    c.send(Side::Client, &bytes);
    // The server's first answer is lost across its frame boundaries; the next ones follow.
    let mut lost = h2::headers(1, &server.block(&[(":status", "200")]), false);
    lost.extend(h2::data(1, &[b'x'; 300], true, None));
    let mut after = h2::headers(3, &server.block(&[(":status", "201")]), false);
    after.extend(h2::data(3, b"{}", true, None));
    after.extend(h2::headers(5, &server.block(&[(":status", "404")]), true));
    let mut all = lost.clone();
    all.extend(&after);
    // Segments of 100 bytes; the second one (inside the lost answer) is never captured, and the
    // resync has to find the frames in the segments after it.
    for (i, (_, frame)) in c.segments(Side::Server, &all, 100).into_iter().enumerate() {
        if i != 1 {
            c.push(frame);
        }
    }
    c.ack(Side::Server);
    c.close();
    let txns = common::run(&c.frames, Limits::default());
    let got = lines(&txns);
    // Stream 1 lost its end; 3 and 5 were found again (their status literals decode even with
    // a table that is only partly known).
    assert!(got.iter().any(|l| l.starts_with("GET /api/v2/b -> 201")), "{got:?}");
    assert!(got.iter().any(|l| l.starts_with("GET /api/v2/c -> 404")), "{got:?}");
}

#[test]
fn a_connection_picked_up_mid_stream_is_read_and_unknown_table_entries_are_marked() {
    let (mut client, mut server) = (Encoder::default(), Encoder::default());
    let mut c = Conversation::new(CLIENT, SERVER, 1_700_000_000_000_000);
    // What went before the capture started: the preface and a first exchange that filled the
    // tables (never captured).
    let _ = request(&mut client, "GET", "/api/v2/early", &[("authorization", "Bearer t")]);
    let _ = server.block(&[(":status", "200"), ("content-type", "application/json")]);
    // Captured: a request that reuses a table entry (its authorization) and new literals.
    let block = request(&mut client, "GET", "/api/v2/late", &[("authorization", "Bearer t")]);
    let mut bytes = h2::headers(7, &block, true);
    bytes.extend(h2::headers(9, &request(&mut client, "POST", "/api/v2/next", &[]), false));
    bytes.extend(h2::data(9, b"{}", true, None));
    c.send(Side::Client, &bytes);
    let mut bytes = h2::headers(7, &server.block(&[(":status", "200"), ("content-type", "application/json")]), false);
    bytes.extend(h2::data(7, b"{}", true, None));
    bytes.extend(h2::headers(9, &server.block(&[(":status", "201")]), true));
    c.send(Side::Server, &bytes);
    c.close();
    let txns = common::run(&c.frames, Limits::default());
    let got = lines(&txns);
    assert_eq!(got.len(), 2, "{got:?}");
    // The first request's method and authorization, and its answer's status, were table
    // entries made before the capture: they are marked undecodable, not guessed; its new path
    // literal decodes. An answer without a status is no answer.
    let late = txns.iter().find(|t| t.stream_id == Some(7)).unwrap();
    assert!(late.anomalies.iter().any(|a| a.as_str() == "http2_undecodable_headers"), "{got:?}");
    assert_eq!((late.request.head.method(), late.request.head.target()), (&b""[..], &b"/api/v2/late"[..]));
    assert!(late.response.is_none(), "{got:?}");
    let next = txns.iter().find(|t| t.stream_id == Some(9)).unwrap();
    assert_eq!(next.request.head.method(), b"POST", "{got:?}");
    assert_eq!(next.request.head.target(), b"/api/v2/next", "{got:?}");
}

/// grpcio's connection with its first packets never captured (a sensor started late): calls
/// after the pickup are read, fields that refer to table entries made before are marked, and no
/// decoded path is one the client did not send.
#[test]
fn a_real_grpc_connection_picked_up_late_never_guesses() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bytes = std::fs::read(root.join("captures/grpc-shop.pcap")).unwrap();
    let (_, frames) = apisonar_testkit::pcap::read_pcap(&bytes).unwrap();
    let sent: Vec<String> = std::fs::read_to_string(root.join("captures/expect/grpc-shop.pcap.h2.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').nth(3).unwrap().to_string())
        .collect();
    for skip in [12, 20, 30] {
        let late: Vec<_> = frames
            .iter()
            .skip(skip)
            .map(|(ts, b)| apisonar_testkit::conv::Frame { ts: *ts, bytes: b.clone() })
            .collect();
        let txns = common::run(&late, Limits::default());
        assert!(!txns.is_empty(), "skip {skip}: nothing read");
        for t in &txns {
            let path = String::from_utf8_lossy(t.request.head.target()).into_owned();
            assert!(path.is_empty() || sent.contains(&path), "skip {skip}: {path} was never sent");
        }
        let undecodable = txns.iter().filter(|t| t.anomalies.iter().any(|a| a.as_str() == "http2_undecodable_headers"));
        assert!(undecodable.count() > 0, "skip {skip}: {:?}", lines(&txns));
    }
}
