//! Which of several flow engines a frame belongs to. Each engine owns its flows outright (no
//! state is shared), so the choice must send both directions of a connection, and every
//! fragment of a datagram, to the same engine. The choice is per connection (a hash of both
//! endpoints, addresses and ports, that does not depend on direction), so that one busy address
//! pair, the normal case behind a load balancer, spreads over every engine.
//!
//! Fragments after the first carry no ports, and a datagram's fragments may come in any order,
//! so the [`Router`] holds a fragmented datagram's frames until it is whole, reads its
//! connection from the reassembled payload, and then hands every one of its frames, in the order
//! they came, to that connection's engine (which reassembles them again, counting what it
//! counts for any fragment). A datagram that never completes (a limit, a timeout, a malformed
//! fragment) goes, frames and all, to the engine its address pair picks, where it is counted.

use std::collections::HashMap;
use std::net::IpAddr;

use apisonar_wire::{decode_ip_payload, route_key, Decoded, FragKey, LinkType, RouteKey};

use crate::defrag::Defragmenter;
use crate::{Limits, Stats, Timestamp};

fn addr_hash(a: &IpAddr) -> u64 {
    match a {
        IpAddr::V4(v4) => u64::from(u32::from(*v4)),
        IpAddr::V6(v6) => {
            let n = u128::from(*v6);
            (n as u64) ^ ((n >> 64) as u64)
        }
    }
}

fn endpoint_hash((addr, port): (IpAddr, u16)) -> u64 {
    addr_hash(&addr).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(port)
}

/// Mixes two symmetric inputs into a well-spread engine number.
fn pick(x: u64, y: u64, engines: usize) -> usize {
    let h = (x ^ y).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ x.min(y).rotate_left(17);
    let h = h ^ (h >> 29);
    h.checked_rem(engines as u64).unwrap_or(0) as usize
}

/// The engine (of `engines`) for a TCP connection between `a` and `b`, either way round.
pub fn connection_engine(a: (IpAddr, u16), b: (IpAddr, u16), engines: usize) -> usize {
    pick(endpoint_hash(a), endpoint_hash(b), engines)
}

/// The engine for a datagram whose connection is unknown: by its address pair alone.
fn pair_engine(a: &IpAddr, b: &IpAddr, engines: usize) -> usize {
    pick(addr_hash(a), addr_hash(b), engines)
}

/// The engine (of `engines`) for one frame, fragments aside (they need a [`Router`]: a
/// fragment goes by its address pair here). Frames without TCP go to the first engine.
pub fn engine_for(link: LinkType, frame: &[u8], engines: usize) -> usize {
    match route_key(link, frame) {
        RouteKey::Tcp(a, b) => connection_engine(a, b, engines),
        RouteKey::Fragment(f) => pair_engine(&f.key.src, &f.key.dst, engines),
        RouteKey::Other => 0,
    }
}

/// A frame the router held back, with what the engine needs to process it.
#[derive(Clone, Debug)]
pub struct HeldFrame {
    pub link: LinkType,
    pub ts: Timestamp,
    pub wire_len: u32,
    pub data: Vec<u8>,
}

/// Where a frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// To this engine, now.
    To(usize),
    /// Held back (a fragment); it comes out of [`Router::released`] later.
    Held,
}

struct HeldDatagram {
    first_seen: Timestamp,
    frames: Vec<HeldFrame>,
}

/// Picks each frame's engine, holding fragments until their datagram shows its connection.
/// Memory is bounded by the fragment limits: held frames by `max_fragment_bytes` (plus the
/// reassembly copy, bounded the same) and `max_fragment_datagrams`, each for at most
/// `fragment_timeout_secs` of capture time.
pub struct Router {
    engines: usize,
    limits: Limits,
    defrag: Defragmenter,
    /// The reassembly's counters: the engines count the same fragments again, for real.
    scratch: Stats,
    held: HashMap<FragKey, HeldDatagram>,
    held_bytes: usize,
    released: Vec<(usize, HeldFrame)>,
    now: Timestamp,
    next_sweep: Option<Timestamp>,
}

impl Router {
    pub fn new(limits: &Limits, engines: usize) -> Router {
        Router {
            engines: engines.max(1),
            limits: limits.clone(),
            defrag: Defragmenter::reporting_drops(),
            scratch: Stats::default(),
            held: HashMap::new(),
            held_bytes: 0,
            released: Vec::new(),
            now: Timestamp::default(),
            next_sweep: None,
        }
    }

    /// Where `frame` goes. Held frames, this one's datagram or others given up on, are then in
    /// [`Router::released`].
    pub fn route(&mut self, link: LinkType, ts: Timestamp, frame: &[u8], wire_len: u32) -> Route {
        if self.engines == 1 {
            return Route::To(0);
        }
        self.advance_time(ts);
        match route_key(link, frame) {
            RouteKey::Tcp(a, b) => Route::To(connection_engine(a, b, self.engines)),
            RouteKey::Other => Route::To(0),
            RouteKey::Fragment(fragment) => {
                let key = fragment.key;
                let payload = self.defrag.add(&fragment, ts, &self.limits, &mut self.scratch);
                let held = self.held.entry(key).or_insert_with(|| HeldDatagram { first_seen: ts, frames: Vec::new() });
                held.frames.push(HeldFrame { link, ts, wire_len, data: frame.to_vec() });
                self.held_bytes = self.held_bytes.saturating_add(frame.len());
                match payload {
                    Some(payload) => {
                        let engine = match decode_ip_payload(key.src, key.dst, key.proto, &payload) {
                            Decoded::Tcp(seg) => {
                                connection_engine((seg.src, seg.src_port), (seg.dst, seg.dst_port), self.engines)
                            }
                            _ => pair_engine(&key.src, &key.dst, self.engines),
                        };
                        self.release(&key, Some(engine));
                    }
                    // Refused outright (too large, say): nothing will complete it.
                    None if !self.defrag.is_pending(&key) => self.release(&key, None),
                    None => {}
                }
                self.release_dropped();
                while self.held_bytes > self.limits.max_fragment_bytes {
                    let Some(oldest) = self.held.iter().map(|(k, d)| (d.first_seen, *k)).min() else { break };
                    self.defrag.drop_datagram(&oldest.1);
                    self.release_dropped();
                    // Held frames whose reassembly already gave up (nothing pending) go too.
                    self.release(&oldest.1, None);
                }
                Route::Held
            }
        }
    }

    /// Whether frames were let go since the last [`Router::released`].
    pub fn has_released(&self) -> bool {
        !self.released.is_empty()
    }

    /// Frames let go since the last call, each with its engine, in the order they came.
    pub fn released(&mut self) -> std::vec::Drain<'_, (usize, HeldFrame)> {
        self.released.drain(..)
    }

    /// End of input: every frame still held goes to its address pair's engine.
    pub fn release_all(&mut self) {
        let mut keys: Vec<(Timestamp, FragKey)> = self.held.iter().map(|(k, d)| (d.first_seen, *k)).collect();
        keys.sort();
        for (_, key) in keys {
            self.defrag.drop_datagram(&key);
            self.release(&key, None);
        }
        self.defrag.take_dropped();
    }

    /// Bytes of frames held back (what `max_fragment_bytes` bounds).
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Datagrams held back and awaiting reassembly (both bounded by `max_fragment_datagrams`).
    pub fn held_datagrams(&self) -> (usize, usize) {
        (self.held.len(), self.defrag.pending_datagrams())
    }

    fn advance_time(&mut self, ts: Timestamp) {
        if ts > self.now {
            self.now = ts;
        }
        let due = *self.next_sweep.get_or_insert(self.now.plus_secs(1));
        if self.now >= due {
            self.defrag.expire(self.now, &self.limits, &mut self.scratch);
            self.release_dropped();
            self.next_sweep = Some(self.now.plus_secs(1));
        }
    }

    fn release_dropped(&mut self) {
        for key in self.defrag.take_dropped() {
            self.release(&key, None);
        }
    }

    /// Lets a datagram's frames go to `engine`, or to its address pair's engine.
    fn release(&mut self, key: &FragKey, engine: Option<usize>) {
        let Some(datagram) = self.held.remove(key) else { return };
        let engine = engine.unwrap_or_else(|| pair_engine(&key.src, &key.dst, self.engines));
        for frame in datagram.frames {
            self.held_bytes = self.held_bytes.saturating_sub(frame.data.len());
            self.released.push((engine, frame));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    use super::*;

    fn frame(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
        Conversation::new((src, sp), (dst, dp), 0).frame(Side::Client, 1, "PA", b"x")
    }

    #[test]
    fn both_directions_of_a_connection_reach_the_same_engine_and_one_pair_spreads() {
        for n in 2..6 {
            let mut used = vec![0usize; n];
            for i in 0..200u16 {
                let a = frame([10, 0, 0, 1], [10, 1, 0, 1], 40000 + i, 80);
                let b = frame([10, 1, 0, 1], [10, 0, 0, 1], 80, 40000 + i);
                let e = engine_for(LinkType::Ethernet, &a, n);
                assert_eq!(e, engine_for(LinkType::Ethernet, &b, n));
                used[e] += 1;
            }
            // One address pair, 200 connections: every engine gets a fair share.
            assert!(used.iter().all(|&u| u * n * 2 >= 200), "{n} engines: {used:?}");
        }
    }

    use crate::{EventSink, FlowEngine, HttpTransaction};
    use apisonar_testkit::conv::{Conversation, Side};
    use apisonar_testkit::synthetic::fragment_ipv4_with_id;

    #[derive(Default)]
    struct Requests(Vec<(u16, String)>);

    impl EventSink for Requests {
        fn on_transaction(&mut self, txn: HttpTransaction) {
            let target = String::from_utf8_lossy(txn.request.head.target()).into_owned();
            self.0.push((txn.client.port(), target));
        }
    }

    /// 60 connections of one address pair, each request in IPv4 fragments in reverse order.
    fn fragmented_connections() -> Vec<(i64, Vec<u8>)> {
        let mut frames = Vec::new();
        for i in 0..60u16 {
            let mut c = Conversation::new(([10, 0, 0, 1], 41000 + i), ([10, 0, 0, 2], 80), i64::from(i) * 1000);
            c.handshake();
            let req = format!("POST /upload/{i} HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\n{}", "7".repeat(900));
            for (_, frame) in c.segments(Side::Client, req.as_bytes(), req.len()) {
                let mut pieces = fragment_ipv4_with_id(&frame, 256, i);
                pieces.reverse();
                pieces.into_iter().for_each(|f| c.push(f));
            }
            c.ack(Side::Client);
            c.send(Side::Server, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
            c.close();
            frames.extend(c.frames.drain(..).map(|f| (f.ts, f.bytes)));
        }
        frames
    }

    /// Routes `frames` over `n` engines; returns each engine's requests and frame count.
    fn through_router(frames: &[(i64, Vec<u8>)], n: usize, limits: &Limits) -> Vec<(Requests, u64)> {
        let mut engines: Vec<(FlowEngine, Requests)> =
            (0..n).map(|i| (FlowEngine::shard(limits.clone(), i as u64, n as u64), Requests::default())).collect();
        let mut router = Router::new(limits, n);
        let deliver = |engines: &mut Vec<(FlowEngine, Requests)>, e: usize, f: &HeldFrame| {
            let (engine, out) = &mut engines[e];
            engine.frame(f.link, f.ts, &f.data, f.wire_len, out);
        };
        for (ts, data) in frames {
            let held = HeldFrame {
                link: LinkType::Ethernet,
                ts: Timestamp(*ts),
                wire_len: data.len() as u32,
                data: data.clone(),
            };
            if let Route::To(e) = router.route(held.link, held.ts, data, held.wire_len) {
                deliver(&mut engines, e, &held);
            }
            let released: Vec<_> = router.released().collect();
            released.iter().for_each(|(e, f)| deliver(&mut engines, *e, f));
            assert!(router.held_bytes() <= limits.max_fragment_bytes);
        }
        router.release_all();
        let released: Vec<_> = router.released().collect();
        released.iter().for_each(|(e, f)| deliver(&mut engines, *e, f));
        assert_eq!(router.held_bytes(), 0);
        engines
            .into_iter()
            .map(|(mut engine, mut out)| {
                engine.finish(&mut out);
                (out, engine.stats().packets)
            })
            .collect()
    }

    #[test]
    fn fragmented_connections_of_one_pair_spread_and_every_fragment_meets_its_flow() {
        let frames = fragmented_connections();
        let limits = Limits::default();
        let mut alone = through_router(&frames, 1, &limits).remove(0).0 .0;
        alone.sort();
        assert_eq!(alone.len(), 60);
        for n in [2, 3] {
            let shards = through_router(&frames, n, &limits);
            assert!(shards.iter().all(|(r, _)| !r.0.is_empty()), "{n} engines: one idle");
            assert_eq!(shards.iter().map(|(_, p)| p).sum::<u64>(), frames.len() as u64);
            let mut spread: Vec<_> = shards.into_iter().flat_map(|(r, _)| r.0).collect();
            spread.sort();
            assert_eq!(spread, alone, "{n} engines");
        }
    }

    #[test]
    fn fragments_that_never_complete_are_bounded_and_still_delivered() {
        // Only the fragments after the first of each datagram: nothing completes.
        let frames: Vec<(i64, Vec<u8>)> = fragmented_connections()
            .into_iter()
            .filter(|(_, f)| {
                let flags = u16::from_be_bytes([f[20], f[21]]);
                flags & 0x3fff != 0 && flags & 0x1fff != 0
            })
            .collect();
        assert!(frames.len() > 100);
        let limits = Limits { max_fragment_bytes: 4096, max_fragment_datagrams: 8, ..Limits::default() };
        let shards = through_router(&frames, 3, &limits);
        assert_eq!(shards.iter().map(|(_, p)| p).sum::<u64>(), frames.len() as u64);
        assert!(shards.iter().all(|(r, _)| r.0.is_empty()));
    }
}
