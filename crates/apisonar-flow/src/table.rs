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

/// Both endpoints, lower first, so that both directions of a connection share one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FlowKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
}

impl FlowKey {
    /// The key and the direction index of a segment (0 when it travels from `lo` to `hi`).
    fn of(seg: &TcpSegment<'_>) -> (FlowKey, usize) {
        let src = (seg.src, seg.src_port);
        let dst = (seg.dst, seg.dst_port);
        if src <= dst {
            (FlowKey { lo: src, hi: dst }, 0)
        } else {
            (FlowKey { lo: dst, hi: src }, 1)
        }
    }
}

struct Flow {
    id: u64,
    endpoints: [SocketAddr; 2],
    tcp: [Reassembler; 2],
    http: App,
    first_ts: Timestamp,
    last_ts: Timestamp,
    packets: u64,
    bytes: [u64; 2],
    /// When a RST was seen. The connection is closed only after `RST_LINGER_SECS` without
    /// further packets: a forged or out-of-window RST must not blind the sensor (an evasion).
    reset_at: Option<Timestamp>,
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
        let id = self.id(key);
        self.last_seen.get_mut(&id)
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
        let mut oldest: Vec<(Timestamp, u64)> = self.last_seen.iter().map(|(id, t)| (*t, *id)).collect();
        oldest.sort_unstable();
        for (_, id) in oldest.iter().take((oldest.len() / 8).max(1)) {
            self.last_seen.remove(id);
        }
    }

    /// Forgets those last seen more than `linger_secs` before `now`.
    fn expire(&mut self, now: Timestamp, linger_secs: u32) {
        self.last_seen.retain(|_, last| last.plus_secs(linger_secs) >= now);
    }
}

#[derive(Default)]
pub(crate) struct FlowTable {
    flows: HashMap<FlowKey, Box<Flow>, foldhash::fast::RandomState>,
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
        self.flows.values().map(|f| f.buffered_bytes()).fold(0, usize::saturating_add)
    }

    /// The flows `keep` accepts, unordered, as (last active, id, key): tuples that sort least
    /// recently active first, and no two alike (ids are unique).
    fn ages(&self, keep: impl Fn(&Flow) -> bool) -> Vec<(Timestamp, u64, FlowKey)> {
        self.flows.iter().filter(|(_, f)| keep(f)).map(|(k, f)| (f.last_ts, f.id, *k)).collect()
    }

    /// Removes a flow from the table and from the byte account.
    fn take(&mut self, key: &FlowKey) -> Option<Box<Flow>> {
        let flow = self.flows.remove(key)?;
        self.buffered = self.buffered.saturating_sub(flow.accounted_bytes);
        Some(flow)
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
        if let Some(last_seen) = self.closed.get_mut(&key) {
            if !opening {
                *last_seen = (*last_seen).max(ts);
                return;
            }
            // A new connection on the same addresses and ports.
            self.closed.remove(&key);
        }
        // Only an opening SYN can reuse a port pair; other packets look the flow up once.
        let reuse = opening
            && self
                .flows
                .get(&key)
                .is_some_and(|flow| side(&flow.tcp, dir).has_started() && *side(&flow.bytes, dir) > 0);
        if reuse {
            if let Some(mut old) = self.take(&key) {
                close(&mut old, EndReason::Reused, ts, limits, stats, out);
            }
        }
        if self.flows.len() >= limits.max_flows.max(1) && !self.flows.contains_key(&key) {
            self.evict(limits, stats, out);
        }
        let flow = match self.flows.entry(key) {
            Entry::Occupied(found) => found.into_mut(),
            Entry::Vacant(place) => {
                let id = self.next_id;
                self.next_id = self.next_id.wrapping_add(self.id_step.max(1));
                stats::add(&mut stats.flows_created, 1);
                let endpoints = [SocketAddr::from(key.lo), SocketAddr::from(key.hi)];
                let mut flow = Box::new(Flow {
                    id,
                    endpoints,
                    tcp: [Reassembler::default(), Reassembler::default()],
                    http: App::new(id, endpoints),
                    first_ts: ts,
                    last_ts: ts,
                    packets: 0,
                    bytes: [0, 0],
                    reset_at: None,
                    ended_dirs: [false, false],
                    accounted_bytes: 0,
                });
                if seg.flags.syn {
                    // SYN from the client, SYN-ACK from the server.
                    flow.http.client_hint(if seg.flags.ack { other_side(dir) } else { dir });
                }
                place.insert(flow)
            }
        };
        stats::add(&mut flow.packets, 1);
        flow.last_ts = flow.last_ts.max(ts);
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
            flow.reset_at = Some(ts);
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
        let mut by_age = self.ages(|_| true);
        by_age.sort();
        for (ts, _, key) in by_age {
            if self.buffered <= target {
                break;
            }
            if let Some(mut flow) = self.take(&key) {
                stats::add(&mut stats.flows_evicted, 1);
                stats::add(&mut stats.flows_evicted_buffer_budget, 1);
                flow.http.mark_unfinished(Anomaly::BufferBudgetEviction);
                stats.anomaly(Anomaly::BufferBudgetEviction);
                close(&mut flow, EndReason::Evicted, ts, limits, stats, out);
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
        let mut due = self.ages(|f| {
            let timeout = if f.reset_at.is_some() { RST_LINGER_SECS } else { limits.idle_timeout_secs };
            f.last_ts.plus_secs(timeout) < now
        });
        due.sort();
        for (_, _, key) in due {
            if let Some(mut flow) = self.take(&key) {
                let reason = if flow.reset_at.is_some() {
                    EndReason::Rst
                } else {
                    stats::add(&mut stats.flows_expired, 1);
                    EndReason::Idle
                };
                close(&mut flow, reason, now, limits, stats, out);
                self.retire(key, now, limits);
            }
        }
    }

    /// The table is full: close and forget the least recently active eighth of it.
    fn evict(&mut self, limits: &Limits, stats: &mut Stats, out: &mut dyn EventSink) {
        let mut all = self.ages(|_| true);
        let count = (all.len() / 8).max(1);
        // Only the eighth that goes is put in order: sorting the whole table on every eviction
        // made a flood of new connections cost 1.8 µs a packet. Selecting is linear.
        if let Some(last) = count.checked_sub(1).filter(|last| *last < all.len()) {
            all.select_nth_unstable(last);
        }
        all.truncate(count);
        all.sort_unstable();
        for (ts, _, key) in all {
            if let Some(mut flow) = self.take(&key) {
                stats::add(&mut stats.flows_evicted, 1);
                stats.anomaly(Anomaly::FlowLimit);
                close(&mut flow, EndReason::Evicted, ts, limits, stats, out);
            }
        }
    }

    pub(crate) fn close_all(&mut self, limits: &Limits, stats: &mut Stats, out: &mut dyn EventSink) {
        let mut all: Vec<(u64, FlowKey)> = self.flows.iter().map(|(k, f)| (f.id, *k)).collect();
        all.sort();
        for (_, key) in all {
            if let Some(mut flow) = self.take(&key) {
                let reason = if flow.reset_at.is_some() { EndReason::Rst } else { EndReason::EndOfInput };
                let last = flow.last_ts;
                close(&mut flow, reason, last, limits, stats, out);
            }
        }
    }
}

/// Flushes both directions, ends the parsers and reports the connection.
fn close(
    flow: &mut Flow,
    reason: EndReason,
    ts: Timestamp,
    limits: &Limits,
    stats: &mut Stats,
    out: &mut dyn EventSink,
) {
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
        connection_id: flow.id,
        client: *side(&flow.endpoints, client_dir),
        server: *side(&flow.endpoints, server_dir),
        protocol,
        start: flow.first_ts,
        end: flow.last_ts,
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
