//! Checkers of the `frames`, `http_conversation` and `http_head` fuzz targets, shared with the
//! unit tests: they drive the flow layer with arbitrary bytes and assert its invariants (no
//! panic, memory within limits).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use apisonar_wire::LinkType;

use crate::engine::EventSink;
use crate::http::{HttpConn, HttpTransaction};
use crate::{FlowEngine, Limits, Stats, Timestamp};

/// Small limits so that fuzzing reaches them quickly.
pub fn tight_limits() -> Limits {
    Limits {
        max_flows: 16,
        max_ooo_bytes: 4096,
        max_ooo_segments: 8,
        max_pending_transactions: 4,
        max_head_bytes: 2048,
        max_headers: 16,
        body_sample_bytes: 1024,
        max_decoded_body_bytes: 4096,
        max_resync_scan_bytes: 4096,
        max_fragment_datagrams: 4,
        max_fragment_bytes: 16 * 1024,
        max_tls_handshake_bytes: 4096,
        // Below what 16 flows may hold each, so that the budget is reached too.
        max_buffered_bytes: 48 * 1024,
        ..Limits::default()
    }
}

struct Count(usize);

impl EventSink for Count {
    fn on_message(&mut self, message: crate::StreamMessage) {
        assert!(message.payload.len() <= tight_limits().body_sample_bytes);
    }
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.0 = self.0.saturating_add(1);
        // Every emitted transaction respects the sample limits.
        assert!(txn.request.body.sample.len() <= tight_limits().body_sample_bytes);
        if let Some(r) = &txn.response {
            assert!(r.body.decoded.as_ref().map_or(0, Vec::len) <= tight_limits().max_decoded_body_bytes);
        }
    }
}

fn sum(parts: &[usize]) -> usize {
    parts.iter().copied().fold(0, usize::saturating_add)
}

/// Generous bound on what one connection may hold (growing vectors may reach twice their
/// contents), given data delivered in pieces of at most `piece` bytes.
pub(crate) fn connection_bound(l: &Limits, piece: usize) -> usize {
    let direction = sum(&[
        8192,
        l.max_head_bytes.saturating_mul(2),
        // Records (twice the limit once grown) and handshake messages (the limit plus a record).
        l.max_tls_handshake_bytes.saturating_mul(6),
        l.overlap_check_bytes.next_power_of_two(),
        l.max_ooo_bytes,
        piece,
    ]);
    let message = sum(&[l.body_sample_bytes, l.max_head_bytes, l.max_headers.saturating_mul(16), 64]);
    // HTTP/2, per direction: the HPACK table, a buffered frame and a header block being put
    // together (each may have grown to twice its contents).
    let h2_frame = l.max_head_bytes.max(crate::http::h2::MAX_CONTROL_FRAME);
    let h2 =
        sum(&[crate::http::hpack::MAX_TABLE_BYTES, h2_frame.saturating_mul(2), l.max_head_bytes.saturating_mul(2)]);
    // WebSocket, per direction: the inflater's state and a message sample.
    let ws = sum(&[48 * 1024, l.body_sample_bytes.saturating_mul(2), 256]);
    sum(&[
        direction.saturating_mul(4),
        h2.saturating_mul(2),
        ws.saturating_mul(2),
        message.saturating_mul(2).saturating_mul(l.max_pending_transactions.saturating_add(1)),
        l.max_tls_handshake_bytes.saturating_mul(2),
    ])
}

/// Input: a sequence of `[link selector][length hi][length lo][frame bytes]` records.
pub fn frames(data: &[u8]) {
    frames_counted(data);
}

/// Link types of the frames checker, picked by the selector byte modulo their number.
const LINKS: [LinkType; 9] = [
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Nflog,
    LinkType::Ieee80211,
    LinkType::Ieee80211Radiotap,
    LinkType::Ppi,
];

/// [`frames`], returning the engine's counters.
fn frames_counted(data: &[u8]) -> Stats {
    let limits = tight_limits();
    // The budget is enforced after every frame; fragments have their own, smaller limit.
    let bound = limits.max_buffered_bytes.max(limits.max_fragment_bytes);
    // The same frames through the worker router: each reaches exactly one engine, once.
    let mut router = crate::Router::new(&limits, 3);
    let (mut frames, mut delivered) = (0usize, 0usize);
    let mut engine = FlowEngine::new(limits.clone());
    let mut out = Count(0);
    let mut rest = data;
    let mut ts = 0i64;
    while let [selector, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (frame, next) = tail.split_at(len);
        let link = LINKS.get(usize::from(*selector).checked_rem(LINKS.len()).unwrap_or(0)).copied();
        ts = ts.saturating_add(i64::from(*selector).saturating_mul(1000));
        // Odd selectors say the capture cut 10 bytes off the frame.
        let wire_len = u32::try_from(frame.len()).unwrap_or(u32::MAX).saturating_add(u32::from(*selector & 1) * 10);
        engine.frame(link.unwrap_or(LinkType::Raw), Timestamp(ts), frame, wire_len, &mut out);
        frames = frames.saturating_add(1);
        if let crate::Route::To(to) = router.route(link.unwrap_or(LinkType::Raw), Timestamp(ts), frame, wire_len) {
            assert!(to < 3);
            delivered = delivered.saturating_add(1);
        }
        delivered = delivered.saturating_add(router.released().inspect(|(to, _)| assert!(*to < 3)).count());
        assert!(router.held_bytes() <= limits.max_fragment_bytes, "router holds {}", router.held_bytes());
        let buffered = engine.buffered_bytes();
        assert!(buffered <= bound, "buffered {buffered} > {bound}");
        assert_eq!(buffered, engine.measure_buffered_bytes(), "the running byte account drifted");
        assert_eq!(engine.tombstoned_live_flows(), 0, "a live flow kept a tombstone");
        rest = next;
    }
    router.release_all();
    delivered = delivered.saturating_add(router.released().count());
    assert_eq!(delivered, frames, "the router lost or duplicated frames");
    assert_eq!(router.held_bytes(), 0);
    engine.finish(&mut out);
    assert_eq!(engine.active_flows(), 0);
    assert_eq!(engine.buffered_bytes(), engine.measure_buffered_bytes());
    engine.stats().clone()
}

/// Input: a sequence of `[direction and length byte][bytes]` chunks fed to one HTTP connection;
/// the high bit picks the direction, the rest the length (0 means a gap of 100 bytes).
pub fn http_conversation(data: &[u8]) {
    let limits = tight_limits();
    let bound = connection_bound(&limits, 127);
    let endpoints = [
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80),
    ];
    let mut conn = HttpConn::new(0, endpoints);
    let mut stats = Stats::default();
    let mut out = Count(0);
    let mut rest = data;
    let mut ts = 0i64;
    while let [header, tail @ ..] = rest {
        let dir = usize::from(header >> 7);
        let len = usize::from(header & 0x7f).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        ts = ts.saturating_add(1);
        if len == 0 {
            conn.gap(dir, 100, Timestamp(ts), &limits, &mut stats, &mut out);
        } else {
            conn.data(dir, chunk, Timestamp(ts), &limits, &mut stats, &mut out);
        }
        assert!(conn.buffered_bytes() <= bound, "connection holds {} > {bound}", conn.buffered_bytes());
        rest = next;
    }
    conn.end(Timestamp(ts), &limits, &mut stats, &mut out);
    assert_eq!(stats.transactions as usize, out.0);
}

/// HTTP/2 frame types and flags the structured checker picks from (the unknown 0x42 too).
const H2_TYPES: [u8; 11] = [0x0, 0x1, 0x1, 0x1, 0x9, 0x3, 0x4, 0x5, 0x7, 0x8, 0x42];

/// A small HPACK block from the input: indexed fields, literals with and without indexing,
/// size updates, and raw bytes now and then.
fn hpack_block(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut out = Vec::new();
    let pseudo: [&[u8]; 6] = [b":method", b":path", b":status", b":authority", b"content-type", b"grpc-status"];
    for _ in 0..u.int_in_range(0..=6u8)? {
        match u.choose_index(6)? {
            0 => out.push(0x80 | u.int_in_range(1..=70u8)?),
            1 => out.push(0x20 | u.int_in_range(0..=31u8)?),
            2 => {
                let n = u.int_in_range(0..=6usize)?;
                out.extend(u.bytes(n)?);
            }
            kind => {
                out.push(if kind == 3 { 0x40 } else { 0x00 });
                let name = *u.choose(&pseudo)?;
                let n = u.int_in_range(0..=12usize)?;
                let value: &[u8] = u.bytes(n)?;
                for s in [name, value] {
                    out.push(u8::try_from(s.len()).unwrap_or(0x7f).min(0x7f));
                    out.extend_from_slice(s);
                }
            }
        }
    }
    Ok(out)
}

/// One connection driven by a structured checker: bytes in chosen pieces (or as gaps), the
/// memory bound asserted after each, every transaction counted at the end.
struct Driven {
    conn: HttpConn,
    limits: Limits,
    bound: usize,
    stats: Stats,
    out: Count,
    ts: i64,
}

impl Driven {
    fn new() -> Driven {
        let limits = tight_limits();
        let bound = connection_bound(&limits, 4096);
        let conn = HttpConn::new(
            0,
            [
                SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80),
            ],
        );
        Driven { conn, limits, bound, stats: Stats::default(), out: Count(0), ts: 0 }
    }

    fn deliver(&mut self, dir: usize, bytes: &[u8], piece: usize, gap: bool) {
        for chunk in bytes.chunks(piece.max(1)) {
            self.ts = self.ts.saturating_add(1);
            let ts = Timestamp(self.ts);
            if gap {
                let len = u32::try_from(chunk.len()).unwrap_or(0);
                self.conn.gap(dir, len, ts, &self.limits, &mut self.stats, &mut self.out);
            } else {
                self.conn.data(dir, chunk, ts, &self.limits, &mut self.stats, &mut self.out);
            }
            let held = self.conn.buffered_bytes();
            assert!(held <= self.bound, "connection holds {held} > {}", self.bound);
        }
    }

    fn finish(mut self) {
        self.conn.end(Timestamp(self.ts), &self.limits, &mut self.stats, &mut self.out);
        assert_eq!(self.stats.transactions as usize, self.out.0);
    }
}

/// Input: a structured HTTP/2 connection (prior knowledge, or after an h2c upgrade): frames of
/// chosen types, flags, streams and lengths (true or lying), HPACK blocks, delivered in chunks
/// with gaps. Checks no panic, memory within the connection bound, and that every transaction
/// emitted is counted.
pub fn http2_conversation(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let mut driven = Driven::new();
    let mut wire: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    if u.ratio(1, 4).unwrap_or(false) {
        wire[0].extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n");
        wire[1].extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n");
    }
    wire[0].extend_from_slice(crate::http::h2::PREFACE);
    while !u.is_empty() {
        let dir = usize::from(u.ratio(1, 2).unwrap_or(false));
        let kind = u.choose(&H2_TYPES).copied().unwrap_or(0);
        let flags = u.arbitrary::<u8>().unwrap_or(0);
        let stream = u32::from(u.int_in_range(0..=9u8).unwrap_or(1));
        let payload = match kind {
            0x1 | 0x5 | 0x9 => hpack_block(&mut u).unwrap_or_default(),
            _ => {
                let n = u.int_in_range(0..=40usize).unwrap_or(0);
                u.bytes(n).map(<[u8]>::to_vec).unwrap_or_default()
            }
        };
        let len = if u.ratio(1, 16).unwrap_or(false) {
            u.arbitrary::<u16>().map(usize::from).unwrap_or(0)
        } else {
            payload.len()
        };
        let Some(side) = wire.get_mut(dir) else { break };
        side.extend_from_slice(&u32::try_from(len).unwrap_or(0).to_be_bytes()[1..]);
        side.extend_from_slice(&[kind, flags]);
        side.extend_from_slice(&stream.to_be_bytes());
        side.extend_from_slice(&payload);
        // Deliver what is written now and then, in a chosen piece size, sometimes as a gap.
        if u.ratio(1, 3).unwrap_or(true) {
            let piece = usize::from(u.int_in_range(1..=255u8).unwrap_or(255));
            let gap = u.ratio(1, 20).unwrap_or(false);
            let bytes = std::mem::take(side);
            driven.deliver(dir, &bytes, piece, gap);
        }
    }
    for (dir, bytes) in wire.iter().enumerate() {
        driven.deliver(dir, bytes, bytes.len(), false);
    }
    driven.finish();
}

/// Input: a WebSocket connection after its handshake (with or without permessage-deflate,
/// with or without context takeover): frames of chosen opcodes, flags, masks and lengths (true or
/// lying), payloads raw or deflated, delivered in chunks with gaps. Checks no panic, memory within
/// the connection bound, samples within their limit.
pub fn websocket_conversation(data: &[u8]) {
    use std::io::Write;
    let mut u = arbitrary::Unstructured::new(data);
    let mut driven = Driven::new();
    let extensions = *u
        .choose(&[
            "",
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
            "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n",
        ])
        .unwrap_or(&"");
    let upgrade = b"GET /ws HTTP/1.1
Host: a
Upgrade: websocket
Connection: Upgrade

";
    driven.deliver(0, upgrade, upgrade.len(), false);
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols
Upgrade: websocket
{extensions}
"
    );
    driven.deliver(1, answer.as_bytes(), answer.len(), false);
    while !u.is_empty() {
        let dir = usize::from(u.ratio(1, 2).unwrap_or(false));
        let opcode = *u.choose(&[0x1u8, 0x1, 0x2, 0x0, 0x8, 0x9, 0xa, 0x3]).unwrap_or(&1);
        let fin = u.ratio(3, 4).unwrap_or(true);
        let n = u.int_in_range(0..=300usize).unwrap_or(0);
        let mut payload = u.bytes(n).map(<[u8]>::to_vec).unwrap_or_default();
        let deflated = u.ratio(1, 2).unwrap_or(false);
        if deflated {
            let mut w = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = w.write_all(&payload);
            payload = w.finish().unwrap_or_default();
        }
        let masked = if u.ratio(1, 8).unwrap_or(false) { dir == 1 } else { dir == 0 };
        let mut frame = vec![u8::from(fin) << 7 | u8::from(deflated) << 6 | opcode];
        let len = if u.ratio(1, 16).unwrap_or(false) {
            u.arbitrary::<u16>().map(usize::from).unwrap_or(0)
        } else {
            payload.len()
        };
        let mask_bit = if masked { 0x80 } else { 0 };
        match len {
            0..=125 => frame.push(mask_bit | u8::try_from(len).unwrap_or(0)),
            126..=65535 => {
                frame.push(mask_bit | 126);
                frame.extend_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
            }
            _ => {
                frame.push(mask_bit | 127);
                frame.extend_from_slice(&u64::try_from(len).unwrap_or(0).to_be_bytes());
            }
        }
        if masked {
            let key: [u8; 4] = u.arbitrary().unwrap_or_default();
            frame.extend_from_slice(&key);
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key.get(i % 4).copied().unwrap_or(0);
            }
        }
        frame.extend_from_slice(&payload);
        let piece = usize::from(u.int_in_range(1..=255u8).unwrap_or(255));
        let gap = u.ratio(1, 30).unwrap_or(false);
        driven.deliver(dir, &frame, piece, gap);
    }
    driven.finish();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects)]
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

        #[test]
        fn arbitrary_frames_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            super::frames(&data);
        }

        #[test]
        fn arbitrary_http_conversations_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            super::http_conversation(&data);
        }

        #[test]
        fn arbitrary_http2_conversations_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            super::http2_conversation(&data);
        }

        #[test]
        fn arbitrary_websocket_conversations_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            super::websocket_conversation(&data);
        }

        #[test]
        fn mutated_monitor_mode_frames_never_panic(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..24),
            ppi in any::<bool>(),
        ) {
            use apisonar_testkit::synthetic;
            let (capture, link) = if ppi {
                (synthetic::wifi_ppi(), apisonar_wire::LinkType::Ppi)
            } else {
                (synthetic::wifi_radiotap(), apisonar_wire::LinkType::Ieee80211Radiotap)
            };
            let mut frames = capture.frames;
            let count = frames.len();
            for (at, byte) in edits {
                if let Some(f) = frames.get_mut(at % count) {
                    // Every other edit lands in the headers (radio, 802.11, LLC, IP, TCP).
                    let len = if at % 2 == 0 { f.bytes.len().min(96) } else { f.bytes.len() };
                    if let Some(b) = f.bytes.get_mut((at / count) % len) {
                        *b = byte;
                    }
                }
            }
            let selector = super::LINKS.iter().position(|&l| l == link).unwrap_or(0) as u8;
            super::frames(&records(selector, &frames));
        }

        #[test]
        fn http_like_conversations_never_panic(parts in proptest::collection::vec(
            prop_oneof![
                Just(b"GET / HTTP/1.1\r\n".to_vec()),
                Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
                Just(b"Content-Length: 5\r\n".to_vec()),
                Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(b"5\r\nhello\r\n0\r\n\r\n".to_vec()),
                Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
                Just(b"HTTP/1.1 101 Switching\r\n\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..20),
            ], 0..40),
            dirs in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let mut data = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                for piece in part.chunks(127) {
                    let dir = if dirs.get(i).copied().unwrap_or(false) { 0x80 } else { 0 };
                    data.push(dir | piece.len() as u8);
                    data.extend_from_slice(piece);
                }
            }
            super::http_conversation(&data);
        }
    }

    /// A checker input: each frame behind `selector`.
    fn records(selector: u8, frames: &[apisonar_testkit::conv::Frame]) -> Vec<u8> {
        let mut data = Vec::new();
        for f in frames {
            data.push(selector);
            data.extend_from_slice(&(f.bytes.len() as u16).to_be_bytes());
            data.extend_from_slice(&f.bytes);
        }
        data
    }

    #[test]
    fn the_frames_checker_reaches_every_link_decoder() {
        use apisonar_testkit::synthetic;
        use apisonar_wire::LinkType;
        let at = |link: LinkType| super::LINKS.iter().position(|&l| l == link).unwrap_or(usize::MAX) as u8;
        let plain = synthetic::out_of_order().frames;
        for (link, frames) in [
            (LinkType::Ethernet, plain.clone()),
            (LinkType::Ieee80211Radiotap, synthetic::wifi_radiotap().frames),
            (LinkType::Ppi, synthetic::wifi_ppi().frames),
        ] {
            // Selectors one round further pick the same link type (an even one: no frame cut).
            let selector = at(link) + if at(link) % 2 == 1 { super::LINKS.len() as u8 } else { 0 };
            let stats = super::frames_counted(&records(selector, &frames));
            assert_eq!(stats.tcp_segments, plain.len() as u64, "{link:?}");
            assert_eq!(stats.transactions, 1, "{link:?}");
        }
        // Plain 802.11: the radiotap frames without their 23-byte header and 4-byte FCS.
        let bare: Vec<_> = synthetic::wifi_radiotap()
            .frames
            .into_iter()
            .map(|mut f| {
                f.bytes.truncate(f.bytes.len() - 4);
                f.bytes.drain(..23);
                f
            })
            .collect();
        let stats = super::frames_counted(&records(at(LinkType::Ieee80211), &bare));
        assert_eq!((stats.tcp_segments, stats.transactions), (plain.len() as u64, 1));
    }

    #[test]
    fn known_crash_inputs() {
        // Inputs found by fuzzing are kept here as ordinary tests.
        super::frames(&[]);
        super::http_conversation(&[0x00, 0x80]);
    }
}
