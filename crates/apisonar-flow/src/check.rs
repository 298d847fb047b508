//! Checker functions shared by the fuzz targets (`fuzz/`) and the unit tests: they drive the
//! flow layer with arbitrary bytes and assert its invariants (no panic, memory within limits).

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
        ..Limits::default()
    }
}

struct Count(usize);

impl EventSink for Count {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.0 += 1;
        // Every emitted transaction respects the sample limits.
        assert!(txn.request.body.sample.len() <= tight_limits().body_sample_bytes);
        if let Some(r) = &txn.response {
            assert!(r.body.decoded.as_ref().map_or(0, Vec::len) <= tight_limits().max_decoded_body_bytes);
        }
    }
}

/// Generous bound on what the engine may hold with `tight_limits()`.
fn memory_bound(l: &Limits) -> usize {
    l.max_flows * 2 * (l.max_ooo_bytes + l.overlap_check_bytes.next_power_of_two() + 8192 + l.max_head_bytes * 2)
        + l.max_flows * l.max_pending_transactions * (l.body_sample_bytes + l.max_head_bytes)
        + l.max_fragment_bytes
        + 65_536
}

/// Input: a sequence of `[link selector][length hi][length lo][frame bytes]` records.
pub fn frames(data: &[u8]) {
    const LINKS: [LinkType; 6] =
        [LinkType::Ethernet, LinkType::Raw, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null, LinkType::Nflog];
    let limits = tight_limits();
    let bound = memory_bound(&limits);
    let mut engine = FlowEngine::new(limits);
    let mut out = Count(0);
    let mut rest = data;
    let mut ts = 0i64;
    while let [selector, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (frame, next) = tail.split_at(len);
        let link = LINKS.get(usize::from(*selector) % LINKS.len()).copied().unwrap_or(LinkType::Raw);
        ts += i64::from(*selector) * 1000;
        engine.frame(link, Timestamp(ts), frame, frame.len() as u32 + u32::from(*selector & 1) * 10, &mut out);
        assert!(engine.buffered_bytes() <= bound, "buffered {} > {bound}", engine.buffered_bytes());
        rest = next;
    }
    engine.finish(&mut out);
    assert_eq!(engine.active_flows(), 0);
}

/// Input: a sequence of `[direction and length byte][bytes]` chunks fed to one HTTP connection;
/// the high bit picks the direction, the rest the length (0 means a gap of 100 bytes).
pub fn http_conversation(data: &[u8]) {
    let limits = tight_limits();
    let endpoints = [
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80),
    ];
    let mut conn = HttpConn::new(0, endpoints);
    let mut stats = Stats::default();
    let mut out = Count(0);
    let mut rest = data;
    let mut ts = 0;
    while let [header, tail @ ..] = rest {
        let dir = usize::from(header >> 7);
        let len = usize::from(header & 0x7f).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        ts += 1;
        if len == 0 {
            conn.gap(dir, 100, Timestamp(ts), &limits, &mut stats, &mut out);
        } else {
            conn.data(dir, chunk, Timestamp(ts), &limits, &mut stats, &mut out);
        }
        assert!(conn.buffered_bytes() <= memory_bound(&limits));
        rest = next;
    }
    conn.end(Timestamp(ts), &limits, &mut stats, &mut out);
    assert_eq!(stats.transactions as usize, out.0);
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn known_crash_inputs() {
        // Inputs found by fuzzing are kept here as ordinary tests.
        super::frames(&[]);
        super::http_conversation(&[0x00, 0x80]);
    }
}
