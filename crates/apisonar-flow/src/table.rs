//! The flow table: TCP connections keyed by their address pair, each with two reassemblers
//! and an application-layer parser.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use apisonar_wire::TcpSegment;

use crate::engine::{ConnectionSummary, EndReason, EventSink};
use crate::http::HttpConn;
use crate::reassembly::{Reassembler, StreamSink};
use crate::stats;
use crate::{Anomaly, Limits, Stats, Timestamp};

/// Both endpoints, lower first, so that both directions of a connection share one key. Addresses
/// are held as integers (an IPv4 address in the low 32 bits) beside the family, hashed and
/// compared as words, where an `IpAddr` was an enum and an array of bytes (making the key and
/// comparing and hashing it were about 2% of a worker's samples). Ordered as `(IpAddr, u16)`
/// pairs are: IPv4 before IPv6, then by address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FlowKey {
    v6: bool,
    lo: (u128, u16),
    hi: (u128, u16),
}

/// An address as [`FlowKey`] holds it.
fn address_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_bits()),
        IpAddr::V6(a) => a.to_bits(),
    }
}

impl FlowKey {
    /// The key and the direction index of a segment (0 when it travels from `lo` to `hi`). Both
    /// addresses of a segment are of one family (the IP header holds both).
    fn of(seg: &TcpSegment<'_>) -> (FlowKey, usize) {
        let src = (address_bits(seg.src), seg.src_port);
        let dst = (address_bits(seg.dst), seg.dst_port);
        let v6 = seg.src.is_ipv6();
        if src <= dst {
            (FlowKey { v6, lo: src, hi: dst }, 0)
        } else {
            (FlowKey { v6, lo: dst, hi: src }, 1)
        }
    }
}

/// A connection's state (its id, last activity and reset are in its `Slot`).
struct Flow {
    endpoints: [SocketAddr; 2],
    tcp: [Reassembler; 2],
    http: App,
    first_ts: Timestamp,
    packets: u64,
    bytes: [u64; 2],
    ended_dirs: [bool; 2],
    /// What this flow buffered when last measured; the table keeps the sum over all flows, so
    /// that the engine-wide budget is checked without walking the table.
    accounted_bytes: usize,
}

impl Flow {
    fn buffered_bytes(&self) -> usize {
        let app = self.http.conn.as_ref().map_or(0, |c| c.buffered_bytes());
        self.tcp.iter().map(Reassembler::buffered_bytes).fold(app, usize::saturating_add)
    }
}

/// A connection's application layer, made at its first payload byte or stream event: most flows
/// a sensor on the internet sees (scans, SYN floods) carry none, and the parser state is half a
/// flow's size.
struct App {
    id: u64,
    endpoints: [SocketAddr; 2],
    conn: Option<Box<HttpConn>>,
    /// The client side the TCP handshake showed, until there is a connection to tell.
    hint: Option<usize>,
}

impl App {
    fn new(id: u64, endpoints: [SocketAddr; 2]) -> App {
        App { id, endpoints, conn: None, hint: None }
    }

    fn conn(&mut self) -> &mut HttpConn {
        let (id, endpoints, hint) = (self.id, self.endpoints, self.hint);
        self.conn.get_or_insert_with(|| {
            let mut conn = Box::new(HttpConn::new(id, endpoints));
            if let Some(dir) = hint {
                conn.client_hint(dir);
            }
            conn
        })
    }

    fn client_hint(&mut self, dir: usize) {
        match &mut self.conn {
            Some(conn) => conn.client_hint(dir),
            None => {
                self.hint.get_or_insert(dir);
            }
        }
    }

    fn client_dir(&self) -> Option<usize> {
        self.conn.as_ref().map_or(self.hint, |c| c.client_dir())
    }

    fn response_waits_for_request(&self, dir: usize) -> bool {
        self.conn.as_ref().is_some_and(|c| c.response_waits_for_request(dir))
    }

    fn end_direction(
        &mut self,
        dir: usize,
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        if let Some(conn) = &mut self.conn {
            conn.end_direction(dir, ts, limits, stats, out);
        }
    }

    fn mark_unfinished(&mut self, anomaly: Anomaly) {
        if let Some(conn) = &mut self.conn {
            conn.mark_unfinished(anomaly);
        }
    }

    fn end(&mut self, ts: Timestamp, limits: &Limits, stats: &mut Stats, out: &mut dyn EventSink) {
        if let Some(conn) = &mut self.conn {
            conn.end(ts, limits, stats, out);
        }
    }

    fn protocol(&self) -> crate::AppProtocol {
        self.conn.as_ref().map_or(crate::AppProtocol::Empty, |c| c.protocol())
    }
}

/// Packet-time seconds a connection stays open after a RST, waiting for packets that prove the
/// RST was not honoured.
const RST_LINGER_SECS: u32 = 1;

/// Closed connections, each kept as a keyed 64-bit hash of its addresses and ports and the time
/// it was last seen: 17 bytes a tombstone in the table where the key itself made 49. At 20,000
/// connections a second and a 10-second linger there are 200,000 of them. The hash is seeded per
/// table, so a connection cannot be crafted to match another's tombstone; an accidental match
/// (one in 2^64 per pair) would only absorb a mid-stream packet, and a SYN still opens a flow.
#[derive(Default)]
struct Tombstones {
    seed: foldhash::fast::RandomState,
    last_seen: HashMap<u64, Timestamp, foldhash::fast::RandomState>,
}

impl Tombstones {
    fn id(&self, key: &FlowKey) -> u64 {
        std::hash::BuildHasher::hash_one(&self.seed, key)
    }

    fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Timestamp> {
        // Asked for every segment: no hash while there is nothing to find.
        if self.last_seen.is_empty() {
            return None;
        }
        let id = self.id(key);
        self.last_seen.get_mut(&id)
    }

    fn contains(&self, key: &FlowKey) -> bool {
        self.last_seen.contains_key(&self.id(key))
    }

    fn remove(&mut self, key: &FlowKey) {
        let id = self.id(key);
        self.last_seen.remove(&id);
    }

    fn insert(&mut self, key: &FlowKey, ts: Timestamp) {
        let id = self.id(key);
        self.last_seen.insert(id, ts);
    }

    fn len(&self) -> usize {
        self.last_seen.len()
    }

    /// Forgets the oldest eighth (at least one).
    fn forget_oldest(&mut self) {
        let ages = self.last_seen.iter().map(|(id, t)| (*t, *id)).collect();
        if let Some(newest_going) = oldest_eighth_bound(ages) {
            self.last_seen.retain(|id, t| (*t, *id) > newest_going);
        }
    }

    /// Forgets those last seen more than `linger_secs` before `now`.
    fn expire(&mut self, now: Timestamp, linger_secs: u32) {
        self.last_seen.retain(|_, last| last.plus_secs(linger_secs) >= now);
    }
}

/// A flow in the table: what the table's scans by age read is kept beside the flow's box, not
/// in it. A full table is scanned on every eviction, and reading each flow's box for its last
/// activity was a cache miss a flow (a quarter of a worker's time in a SYN flood).
struct Slot {
    /// The connection's id, and when its last packet was seen.
    id: u64,
    last_ts: Timestamp,
    /// A RST was seen. The connection is closed only after `RST_LINGER_SECS` without further
    /// packets: a forged or out-of-window RST must not blind the sensor (an evasion).
    reset: bool,
    flow: Box<Flow>,
}

/// The newest of the oldest eighth (at least one) of `ages`: exactly that eighth is at or below
/// it when no two are alike. Found by selection, in linear time.
fn oldest_eighth_bound(mut ages: Vec<(Timestamp, u64)>) -> Option<(Timestamp, u64)> {
    let last = (ages.len() / 8).max(1).checked_sub(1).filter(|last| *last < ages.len())?;
    let (_, bound, _) = ages.select_nth_unstable(last);
    Some(*bound)
}

#[derive(Default)]
pub(crate) struct FlowTable {
    flows: HashMap<FlowKey, Slot, foldhash::fast::RandomState>,
    /// Recently closed connections and when they were last seen: late ACKs and FIN
    /// retransmissions are absorbed here instead of opening a new flow. Bounded by
    /// `Limits::max_flows` as well.
    closed: Tombstones,
    next_id: u64,
    /// Connection ids advance by this much, so that shards numbered `0..step` never collide.
    id_step: u64,
    /// Sum of `Flow::accounted_bytes` over `flows`.
    buffered: usize,
}

/// Feeds one direction's reassembled bytes to the connection's parser.
struct DirSink<'a> {
    http: &'a mut App,
    dir: usize,
    ts: Timestamp,
    limits: &'a Limits,
    out: &'a mut dyn EventSink,
}

impl StreamSink for DirSink<'_> {
    fn data(&mut self, bytes: &[u8], ts: Timestamp, stats: &mut Stats) {
        stats::add(&mut stats.tcp_payload_bytes, bytes.len() as u64);
        self.http.conn().data(self.dir, bytes, ts, self.limits, stats, self.out);
    }

    fn gap(&mut self, len: u32, stats: &mut Stats) {
        let conn = self.http.conn();
        conn.anomaly(self.dir, Anomaly::TcpGap, stats);
        conn.gap(self.dir, len, self.ts, self.limits, stats, self.out);
    }

    fn anomaly(&mut self, anomaly: Anomaly, stats: &mut Stats) {
        self.http.conn().anomaly(self.dir, anomaly, stats);
    }
}

impl FlowTable {
    /// Numbers connections `first, first + step, ...` (one shard of `step`).
    pub(crate) fn number_from(&mut self, first: u64, step: u64) {
        self.next_id = first;
        self.id_step = step.max(1);
    }

    pub(crate) fn len(&self) -> usize {
        self.flows.len()
    }

    /// Bytes buffered by all flows, as accounted after each segment.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// The same, measured afresh by walking every flow (for checks: it must equal the account).
    pub(crate) fn measure_buffered_bytes(&self) -> usize {
        self.flows.values().map(|slot| slot.flow.buffered_bytes()).fold(0, usize::saturating_add)
    }

    /// Live flows whose key also has a tombstone (for checks: always none).
    pub(crate) fn tombstoned_live_flows(&self) -> usize {
        if self.closed.len() == 0 {
            return 0;
        }
        self.flows.keys().filter(|key| self.closed.contains(key)).count()
    }

    /// Removes a flow from the table and from the byte account.
    fn take(&mut self, key: &FlowKey) -> Option<Slot> {
        let slot = self.flows.remove(key)?;
        self.buffered = self.buffered.saturating_sub(slot.flow.accounted_bytes);
        Some(slot)
    }

    /// Removes the flows `going` accepts in one pass over the table (no lookup per flow), and
    /// returns them least recently active first (last active, then id: no two alike).
    fn take_all(&mut self, going: impl Fn(&Slot) -> bool) -> Vec<(FlowKey, Slot)> {
        let mut taken: Vec<(FlowKey, Slot)> = self.flows.extract_if(|_, slot| going(slot)).collect();
        for (_, slot) in &taken {
            self.buffered = self.buffered.saturating_sub(slot.flow.accounted_bytes);
        }
        taken.sort_unstable_by_key(|(_, slot)| (slot.last_ts, slot.id));
        taken
    }

    pub(crate) fn segment(
        &mut self,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        stats::add(&mut stats.tcp_segments, 1);
        let (key, dir) = FlowKey::of(seg);
        let opening = seg.flags.syn && !seg.flags.ack;
        // Nearly every packet belongs to a live flow, found in one probe of the live table (a
        // few flows, in cache). Only a miss or a SYN asks the tombstones, which hold every
        // connection closed in the last linger seconds and were a cache miss a packet when
        // asked first (short connections). A key is never both live and a tombstone.
        let live = if opening { None } else { self.flows.get_mut(&key) };
        let slot = match live {
            Some(slot) => slot,
            None => {
                if !self.open(key, dir, seg, ts, limits, stats, out) {
                    return;
                }
                match self.flows.get_mut(&key) {
                    Some(slot) => slot,
                    None => return,
                }
            }
        };
        slot.last_ts = slot.last_ts.max(ts);
        let flow = &mut slot.flow;
        stats::add(&mut flow.packets, 1);
        stats::add(side_mut(&mut flow.bytes, dir), seg.payload.len() as u64);
        if seg.flags.syn {
            side_mut(&mut flow.tcp, dir).syn(seg.seq);
            if flow.http.client_dir().is_none() {
                flow.http.client_hint(if seg.flags.ack { other_side(dir) } else { dir });
            }
        }
        let data_seq = if seg.flags.syn { seg.seq.wrapping_add(1) } else { seg.seq };
        let (tcp, http) = (&mut flow.tcp, &mut flow.http);
        if !seg.payload.is_empty() {
            if let Some(stream) = tcp.get_mut(dir) {
                let mut sink = DirSink { http: &mut *http, dir, ts, limits, out: &mut *out };
                stream.segment(data_seq, seg.payload, ts, limits, stats, &mut sink);
            }
        }
        if seg.flags.ack {
            let peer_dir = other_side(dir);
            let unseen_is_lost = http.response_waits_for_request(peer_dir);
            if let Some(peer) = tcp.get_mut(peer_dir) {
                let mut sink = DirSink { http: &mut *http, dir: peer_dir, ts, limits, out: &mut *out };
                peer.peer_ack(seg.ack, unseen_is_lost, limits, stats, &mut sink);
            }
        }
        if seg.flags.fin {
            // Sequence numbers wrap: lengths count modulo 2^32.
            let end = data_seq.wrapping_add(seg.payload.len() as u32).wrapping_add(seg.missing_tail);
            if let Some(stream) = tcp.get_mut(dir) {
                stream.fin(end);
            }
        }
        if seg.flags.rst {
            slot.reset = true;
        }
        for d in 0..2 {
            if side(&flow.tcp, d).is_finished() && !side(&flow.ended_dirs, d) {
                *side_mut(&mut flow.ended_dirs, d) = true;
                flow.http.end_direction(d, ts, limits, stats, out);
            }
        }
        let now_buffered = flow.buffered_bytes();
        self.buffered = self.buffered.saturating_sub(flow.accounted_bytes).saturating_add(now_buffered);
        flow.accounted_bytes = now_buffered;
        if flow.ended_dirs == [true, true] {
            if let Some(mut done) = self.take(&key) {
                close(&mut done, EndReason::Fin, ts, limits, stats, out);
            }
            self.retire(key, ts, limits);
        }
    }

    /// Makes sure a packet no live flow took has its flow: false when it is a late packet of
    /// a closed connection (absorbed by its tombstone); otherwise true, the flow made if need
    /// be (a SYN reusing a port pair closes the old one first; a full table evicts first).
    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        key: FlowKey,
        dir: usize,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) -> bool {
        let opening = seg.flags.syn && !seg.flags.ack;
        if let Some(last_seen) = self.closed.get_mut(&key) {
            if !opening {
                *last_seen = (*last_seen).max(ts);
                return false;
            }
            // A new connection on the same addresses and ports.
            self.closed.remove(&key);
        }
        // Any other packet here has no flow; an opening SYN may find one, and start it again
        // when it already carried data this way (a port pair reused).
        let found = if opening {
            self.flows.get(&key).map(|slot| side(&slot.flow.tcp, dir).has_started() && *side(&slot.flow.bytes, dir) > 0)
        } else {
            None
        };
        if found == Some(true) {
            if let Some(mut old) = self.take(&key) {
                close(&mut old, EndReason::Reused, ts, limits, stats, out);
            }
        }
        if found.is_none() && self.flows.len() >= limits.max_flows.max(1) {
            self.evict(limits, stats, out);
        }
        if let Entry::Vacant(place) = self.flows.entry(key) {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(self.id_step.max(1));
            stats::add(&mut stats.flows_created, 1);
            let (src, dst) = (SocketAddr::new(seg.src, seg.src_port), SocketAddr::new(seg.dst, seg.dst_port));
            let endpoints = if dir == 0 { [src, dst] } else { [dst, src] };
            let mut flow = Box::new(Flow {
                endpoints,
                tcp: [Reassembler::default(), Reassembler::default()],
                http: App::new(id, endpoints),
                first_ts: ts,
                packets: 0,
                bytes: [0, 0],
                ended_dirs: [false, false],
                accounted_bytes: 0,
            });
            if seg.flags.syn {
                // SYN from the client, SYN-ACK from the server.
                flow.http.client_hint(if seg.flags.ack { other_side(dir) } else { dir });
            }
            place.insert(Slot { last_ts: ts, id, reset: false, flow });
        }
        true
    }

    /// Keeps the bytes buffered by all flows, plus `held_elsewhere` (IP fragments), within
    /// `Limits::max_buffered_bytes` by closing the least recently active flows.
    pub(crate) fn enforce_budget(
        &mut self,
        held_elsewhere: usize,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        let budget = limits.max_buffered_bytes;
        if self.buffered.saturating_add(held_elsewhere) <= budget {
            return;
        }
        // Go down to 7/8 of the budget: a sender that keeps pushing at the limit then costs one
        // sort of the table per eighth of the budget, not one per packet.
        let target = budget.saturating_sub(budget / 8).saturating_sub(held_elsewhere);
        let mut by_age: Vec<(Timestamp, u64, FlowKey)> =
            self.flows.iter().map(|(k, slot)| (slot.last_ts, slot.id, *k)).collect();
        by_age.sort_unstable();
        for (ts, _, key) in by_age {
            if self.buffered <= target {
                break;
            }
            if let Some(mut slot) = self.take(&key) {
                stats::add(&mut stats.flows_evicted, 1);
                stats::add(&mut stats.flows_evicted_buffer_budget, 1);
                slot.flow.http.mark_unfinished(Anomaly::BufferBudgetEviction);
                stats.anomaly(Anomaly::BufferBudgetEviction);
                close(&mut slot, EndReason::Evicted, ts, limits, stats, out);
            }
        }
    }

    /// Keeps a tombstone for a closed flow for the linger time.
    fn retire(&mut self, key: FlowKey, ts: Timestamp, limits: &Limits) {
        if limits.closed_linger_secs == 0 {
            return;
        }
        if self.closed.len() >= limits.max_flows.max(1) {
            self.closed.forget_oldest();
        }
        self.closed.insert(&key, ts);
    }

    /// Closes connections idle for too long (or reset a moment ago) and forgets tombstones
    /// after their linger time.
    pub(crate) fn expire_idle(&mut self, now: Timestamp, limits: &Limits, stats: &mut Stats, out: &mut dyn EventSink) {
        self.closed.expire(now, limits.closed_linger_secs);
        let due = self.take_all(|slot| {
            let timeout = if slot.reset { RST_LINGER_SECS } else { limits.idle_timeout_secs };
            slot.last_ts.plus_secs(timeout) < now
        });
        for (key, mut slot) in due {
            let reason = if slot.reset {
                EndReason::Rst
            } else {
                stats::add(&mut stats.flows_expired, 1);
                EndReason::Idle
            };
            close(&mut slot, reason, now, limits, stats, out);
            self.retire(key, now, limits);
        }
    }

    /// The table is full: close and forget the least recently active eighth of it.
    fn evict(&mut self, limits: &Limits, stats: &mut Stats, out: &mut dyn EventSink) {
        // Only the eighth that goes is put in order: sorting the whole table on every eviction
        // made a flood of new connections cost 1.8 µs a packet. Selecting is linear, and the
        // eighth leaves in one pass over the table.
        let ages = self.flows.values().map(|slot| (slot.last_ts, slot.id)).collect();
        let Some(newest_going) = oldest_eighth_bound(ages) else { return };
        for (_, mut slot) in self.take_all(|slot| (slot.last_ts, slot.id) <= newest_going) {
            stats::add(&mut stats.flows_evicted, 1);
            stats.anomaly(Anomaly::FlowLimit);
            let last = slot.last_ts;
            close(&mut slot, EndReason::Evicted, last, limits, stats, out);
        }
    }

    pub(crate) fn close_all(&mut self, limits: &Limits, stats: &mut Stats, out: &mut dyn EventSink) {
        let mut all: Vec<(u64, FlowKey)> = self.flows.iter().map(|(k, slot)| (slot.id, *k)).collect();
        all.sort();
        for (_, key) in all {
            if let Some(mut slot) = self.take(&key) {
                let reason = if slot.reset { EndReason::Rst } else { EndReason::EndOfInput };
                let last = slot.last_ts;
                close(&mut slot, reason, last, limits, stats, out);
            }
        }
    }
}

/// Flushes both directions, ends the parsers and reports the connection.
fn close(
    slot: &mut Slot,
    reason: EndReason,
    ts: Timestamp,
    limits: &Limits,
    stats: &mut Stats,
    out: &mut dyn EventSink,
) {
    let flow = &mut slot.flow;
    let (tcp, http) = (&mut flow.tcp, &mut flow.http);
    for (dir, stream) in tcp.iter_mut().enumerate() {
        let mut sink = DirSink { http: &mut *http, dir, ts, limits, out: &mut *out };
        stream.flush(limits, stats, &mut sink);
    }
    flow.http.end(ts, limits, stats, out);
    stats::add(&mut stats.flows_closed, 1);
    let protocol = flow.http.protocol();
    stats.protocol(protocol);
    let client_dir = flow.http.client_dir().unwrap_or(0);
    let server_dir = other_side(client_dir);
    out.on_connection(ConnectionSummary {
        connection_id: slot.id,
        client: *side(&flow.endpoints, client_dir),
        server: *side(&flow.endpoints, server_dir),
        protocol,
        start: flow.first_ts,
        end: slot.last_ts,
        packets: flow.packets,
        client_bytes: *side(&flow.bytes, client_dir),
        server_bytes: *side(&flow.bytes, server_dir),
        end_reason: reason,
    });
}

/// The direction opposite `dir` (directions are 0 and 1).
pub(crate) fn other_side(dir: usize) -> usize {
    usize::from(dir == 0)
}

/// One side of a per-direction pair: 0 is the lower endpoint, anything else the higher.
pub(crate) fn side<T>(pair: &[T; 2], dir: usize) -> &T {
    if dir == 0 {
        &pair[0]
    } else {
        &pair[1]
    }
}

pub(crate) fn side_mut<T>(pair: &mut [T; 2], dir: usize) -> &mut T {
    if dir == 0 {
        &mut pair[0]
    } else {
        &mut pair[1]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_bound_of_the_oldest_eighth_is_what_sorting_finds() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for n in 0..100u64 {
            let ages: Vec<(Timestamp, u64)> = (0..n)
                .map(|id| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    // Few distinct times: ties are broken by the id.
                    (Timestamp((rng % 5) as i64), id)
                })
                .collect();
            let mut sorted = ages.clone();
            sorted.sort_unstable();
            let expected = sorted.get((n as usize / 8).max(1) - 1).copied();
            assert_eq!(oldest_eighth_bound(ages), expected, "{n} ages");
        }
    }

    #[test]
    fn a_full_tombstone_table_forgets_exactly_its_oldest_eighth() {
        let mut tombstones = Tombstones::default();
        // Tombstone i was last seen at 1000 - i: the eight highest are the oldest.
        for i in 0..64u64 {
            tombstones.last_seen.insert(i * 7 + 1, Timestamp(1000 - i as i64));
        }
        tombstones.forget_oldest();
        assert_eq!(tombstones.len(), 56);
        for i in 0..64u64 {
            assert_eq!(tombstones.last_seen.contains_key(&(i * 7 + 1)), i < 56, "tombstone {i}");
        }
        // One alone goes too.
        let mut one = Tombstones::default();
        one.last_seen.insert(5, Timestamp(1));
        one.forget_oldest();
        assert_eq!(one.len(), 0);
    }
}
