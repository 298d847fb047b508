//! TCP reassembly for one direction of a connection.
//!
//! In-order data is handed straight to the consumer without copying into a stream buffer; only
//! out-of-order segments are buffered. Policy on overlaps: **the first bytes seen for a sequence
//! number win** (like the "first" policy of BSD-derived stacks). When a later copy of those bytes
//! differs, an `Anomaly::TcpOverlapConflict` is recorded; for bytes already delivered this can be
//! checked only within the last `Limits::overlap_check_bytes`.
//!
//! A hole is skipped (a gap handed to the consumer) when the peer acknowledges data beyond it,
//! when the out-of-order buffer reaches its limits, or when the connection ends.

use crate::stats;
use crate::{Anomaly, Limits, Stats, Timestamp};

/// Receives the reassembled byte stream of one direction.
pub(crate) trait StreamSink {
    fn data(&mut self, bytes: &[u8], ts: Timestamp, stats: &mut Stats);
    fn gap(&mut self, len: u32, stats: &mut Stats);
    fn anomaly(&mut self, anomaly: Anomaly, stats: &mut Stats);
}

struct Pending {
    seq: u32,
    data: Vec<u8>,
    ts: Timestamp,
}

impl Pending {
    fn end(&self) -> u32 {
        seq_plus(self.seq, self.data.len())
    }
}

/// A FIN further than this beyond the next expected byte is not believed.
const MAX_FIN_DISTANCE: i64 = 1 << 30;

/// Signed distance from `from` to `to` in sequence space (RFC 793 modular arithmetic).
fn dist(from: u32, to: u32) -> i64 {
    i64::from(to.wrapping_sub(from) as i32)
}

/// The sequence number `len` bytes after `seq`. Sequence space wraps, so lengths count modulo
/// 2^32 (no segment comes near that).
fn seq_plus(seq: u32, len: usize) -> u32 {
    seq.wrapping_add(len as u32)
}

/// `seq` moved by a signed distance, as produced by [`dist`].
fn seq_offset(seq: u32, distance: i64) -> u32 {
    seq.wrapping_add(distance as u32)
}

#[derive(Default)]
pub(crate) struct Reassembler {
    /// Next sequence number expected; `None` until the first SYN or data segment.
    next: Option<u32>,
    /// Sequence number just past the FIN, once seen.
    fin_at: Option<u32>,
    finished: bool,
    /// Out-of-order segments, sorted by sequence, never overlapping each other.
    pending: Vec<Pending>,
    pending_bytes: usize,
    /// The last delivered bytes. Until `overlap_check_bytes` (rounded up to a power of two)
    /// have been delivered since the last gap they are kept in order, exactly the
    /// `recent_valid` bytes before `next` (most directions of short connections never carry
    /// more: no full-size ring made and zeroed for them); then in a ring of that size, indexed
    /// by `seq & (len - 1)`.
    recent: Vec<u8>,
    /// `recent` is the full-size ring.
    recent_ring: bool,
    /// How many bytes before `next` are kept.
    recent_valid: u32,
    /// A mid-stream pickup began with a single byte at this sequence number, which was held
    /// back: it may be a keep-alive probe (one old byte at `snd_nxt - 1`), not data. Cleared by
    /// the first delivery after it.
    probe_candidate: Option<u32>,
}

impl Reassembler {
    pub(crate) fn syn(&mut self, seq: u32) {
        if self.next.is_none() {
            self.next = Some(seq.wrapping_add(1));
            // A FIN "seen" before the SYN was forged or stale.
            self.fin_at = None;
        }
    }

    pub(crate) fn has_started(&self) -> bool {
        self.next.is_some()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.pending_bytes.saturating_add(self.recent.capacity())
    }

    /// A FIN was sent with its sequence number just after `seq_end`'s last byte.
    pub(crate) fn fin(&mut self, seq_end: u32) -> bool {
        let plausible = self.next.is_none_or(|next| (0..MAX_FIN_DISTANCE).contains(&dist(next, seq_end)));
        if self.fin_at.is_none() && plausible {
            self.fin_at = Some(seq_end);
        }
        self.check_fin()
    }

    fn check_fin(&mut self) -> bool {
        if !self.finished && self.fin_at.is_some() && self.fin_at == self.next && self.pending.is_empty() {
            self.finished = true;
        }
        self.finished
    }

    /// Handles one data segment. Returns true if the stream reached its FIN.
    pub(crate) fn segment(
        &mut self,
        seq: u32,
        data: &[u8],
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        sink: &mut dyn StreamSink,
    ) -> bool {
        if data.is_empty() || self.finished {
            return self.finished;
        }
        if self.next.is_none() && data.len() == 1 {
            // Mid-stream pickup on a single byte: hold it back until the next segment says
            // whether it was a keep-alive probe.
            self.next = Some(seq.wrapping_add(1));
            self.probe_candidate = Some(seq);
            return self.finished;
        }
        if let Some(probe_seq) = self.probe_candidate {
            if seq == probe_seq && data.len() > 1 {
                // The held byte starts a longer segment: it was data after all.
                self.next = Some(probe_seq);
                self.probe_candidate = None;
            }
        }
        let next = *self.next.get_or_insert(seq);
        let offset = dist(next, seq);
        if offset <= 0 {
            let already = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            if already >= data.len() {
                stats::add(&mut stats.tcp_retransmitted_segments, 1);
                // A one-byte segment just below the window edge is a keep-alive probe: its byte
                // is filler, so comparing it would only raise false conflicts.
                if !(data.len() == 1 && offset == -1) && self.differs_from_recent(seq, data) {
                    sink.anomaly(Anomaly::TcpOverlapConflict, stats);
                }
                return self.finished;
            }
            let (old, new) = data.split_at(already);
            if self.differs_from_recent(seq, old) {
                sink.anomaly(Anomaly::TcpOverlapConflict, stats);
            }
            self.deliver(new, ts, limits, sink, stats);
            self.drain(limits, sink, stats);
        } else {
            stats::add(&mut stats.tcp_out_of_order_segments, 1);
            self.insert(seq, data, ts, sink, stats);
            self.enforce_limits(limits, sink, stats);
        }
        self.check_fin()
    }

    /// The peer acknowledged everything before `ack`: bytes we never saw before a buffered
    /// segment are lost to the capture, so skip them. With `unseen_is_lost` (the consumer knows
    /// the bytes will not come: their answer is complete), acknowledged bytes past the last
    /// delivered one are skipped even when nothing is buffered.
    pub(crate) fn peer_ack(
        &mut self,
        ack: u32,
        unseen_is_lost: bool,
        limits: &Limits,
        stats: &mut Stats,
        sink: &mut dyn StreamSink,
    ) -> bool {
        let Some(next) = self.next else { return self.finished };
        match self.pending.first() {
            Some(first) if dist(next, ack) >= dist(next, first.seq) => {
                self.skip_to_first_pending(limits, sink, stats);
                self.drain(limits, sink, stats);
            }
            None if unseen_is_lost && !self.finished && (1..MAX_FIN_DISTANCE).contains(&dist(next, ack)) => {
                // A FIN takes a sequence number that is no data.
                let end = if self.fin_at.is_some_and(|fin| dist(fin, ack) >= 0) { self.fin_at } else { Some(ack) };
                if let Some(end) = end.filter(|&end| dist(next, end) > 0) {
                    let missing = u32::try_from(dist(next, end)).unwrap_or(u32::MAX);
                    stats::add(&mut stats.tcp_gaps, 1);
                    stats::add(&mut stats.tcp_gap_bytes, u64::from(missing));
                    self.probe_candidate = None;
                    sink.gap(missing, stats);
                    self.next = Some(end);
                    self.forget_recent();
                }
            }
            _ => {}
        }
        self.check_fin()
    }

    /// End of the connection: hand over everything buffered, skipping holes.
    pub(crate) fn flush(&mut self, limits: &Limits, stats: &mut Stats, sink: &mut dyn StreamSink) {
        while !self.pending.is_empty() {
            self.skip_to_first_pending(limits, sink, stats);
            self.drain(limits, sink, stats);
        }
        self.finished = true;
    }

    fn deliver(&mut self, bytes: &[u8], ts: Timestamp, limits: &Limits, sink: &mut dyn StreamSink, stats: &mut Stats) {
        let Some(next) = self.next else { return };
        if self.probe_candidate.take().is_some() {
            stats::add(&mut stats.tcp_keepalive_probes, 1);
        }
        sink.data(bytes, ts, stats);
        self.remember(next, bytes, limits);
        self.next = Some(seq_plus(next, bytes.len()));
    }

    fn remember(&mut self, seq: u32, bytes: &[u8], limits: &Limits) {
        if limits.overlap_check_bytes == 0 {
            return;
        }
        let size = limits.overlap_check_bytes.next_power_of_two();
        if !self.recent_ring {
            let filled = self.recent.len().saturating_add(bytes.len());
            if filled < size {
                // Grown by doubling, never past the ring's size.
                if filled > self.recent.capacity() {
                    let grown = filled.max(self.recent.capacity().saturating_mul(2)).min(size);
                    self.recent.reserve_exact(grown.saturating_sub(self.recent.len()));
                }
                self.recent.extend_from_slice(bytes);
                self.recent_valid = u32::try_from(self.recent.len()).unwrap_or(u32::MAX);
                return;
            }
            // The ring's size is reached: the bytes kept so far (just before `seq`) go first.
            let kept = std::mem::replace(&mut self.recent, vec![0; size]);
            self.recent_ring = true;
            self.recent_valid = 0;
            self.write_ring(seq.wrapping_sub(u32::try_from(kept.len()).unwrap_or(u32::MAX)), &kept);
        }
        self.write_ring(seq, bytes);
    }

    /// Writes `bytes` delivered at `seq` into the full-size ring.
    fn write_ring(&mut self, seq: u32, bytes: &[u8]) {
        let cap = self.recent.len();
        let mask = cap.saturating_sub(1);
        let keep = bytes.len().min(cap);
        let skipped = bytes.len().saturating_sub(keep);
        let tail = bytes.get(skipped..).unwrap_or_default();
        let at = seq_plus(seq, skipped) as usize & mask;
        let first = keep.min(cap.saturating_sub(at));
        let (a, b) = tail.split_at(first);
        if let Some(dst) = self.recent.get_mut(at..at.saturating_add(a.len())) {
            dst.copy_from_slice(a);
        }
        if let Some(dst) = self.recent.get_mut(..b.len()) {
            dst.copy_from_slice(b);
        }
        let valid = (self.recent_valid as usize).saturating_add(bytes.len()).min(cap);
        self.recent_valid = u32::try_from(valid).unwrap_or(u32::MAX);
    }

    /// Nothing delivered so far can be compared any more (a gap: `next` jumped).
    fn forget_recent(&mut self) {
        self.recent_valid = 0;
        if !self.recent_ring {
            self.recent.clear();
        }
    }

    /// Compares bytes at `seq` (all before `next`) with what was delivered, as far as remembered.
    fn differs_from_recent(&self, seq: u32, bytes: &[u8]) -> bool {
        let Some(next) = self.next else { return false };
        if self.recent_valid == 0 {
            return false;
        }
        let mask = self.recent.len().saturating_sub(1);
        let oldest = next.wrapping_sub(self.recent_valid);
        bytes.iter().enumerate().any(|(i, &b)| {
            let s = seq_plus(seq, i);
            if dist(oldest, s) < 0 || dist(s, next) <= 0 {
                return false;
            }
            // In order, the oldest byte kept first; or in the ring by sequence number.
            let at = if self.recent_ring { Some(s as usize & mask) } else { usize::try_from(dist(oldest, s)).ok() };
            at.and_then(|at| self.recent.get(at)).is_some_and(|&old| old != b)
        })
    }

    /// Inserts an out-of-order segment, keeping the bytes already buffered where they overlap.
    /// Positions are distances from `next` (within +-2^31, so i64 sums cannot overflow).
    fn insert(&mut self, seq: u32, data: &[u8], ts: Timestamp, sink: &mut dyn StreamSink, stats: &mut Stats) {
        let Some(next) = self.next else { return };
        let key = |s: u32| dist(next, s);
        let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let (start, end) = (key(seq), key(seq).saturating_add(len));
        // Index into `data` of a position.
        let at = |pos: i64| usize::try_from(pos.saturating_sub(start)).unwrap_or(0);
        let mut cursor = start;
        let mut pieces: Vec<(i64, i64)> = Vec::new();
        let mut conflict = false;
        for p in &self.pending {
            let (ps, pe) = (key(p.seq), key(p.end()));
            if pe <= cursor || ps >= end {
                continue;
            }
            if ps > cursor {
                pieces.push((cursor, ps.min(end)));
            }
            let (os, oe) = (cursor.max(ps), end.min(pe));
            let in_old = |pos: i64| usize::try_from(pos.saturating_sub(ps)).unwrap_or(0);
            let new_part = data.get(at(os)..at(oe));
            let old_part = p.data.get(in_old(os)..in_old(oe));
            conflict |= new_part != old_part;
            cursor = cursor.max(pe);
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        if conflict {
            sink.anomaly(Anomaly::TcpOverlapConflict, stats);
        }
        for (ps, pe) in pieces {
            let Some(bytes) = data.get(at(ps)..at(pe)) else { continue };
            let piece_seq = seq_offset(next, ps);
            let index = self.pending.partition_point(|p| key(p.seq) < ps);
            self.pending.insert(index, Pending { seq: piece_seq, data: bytes.to_vec(), ts });
            self.pending_bytes = self.pending_bytes.saturating_add(bytes.len());
        }
    }

    /// Delivers buffered segments that have become contiguous.
    fn drain(&mut self, limits: &Limits, sink: &mut dyn StreamSink, stats: &mut Stats) {
        while let (Some(next), Some(first)) = (self.next, self.pending.first()) {
            let offset = dist(next, first.seq);
            if offset > 0 {
                break;
            }
            let p = self.pending.remove(0);
            self.pending_bytes = self.pending_bytes.saturating_sub(p.data.len());
            let already = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            if let Some(rest) = p.data.get(already..) {
                if !rest.is_empty() {
                    self.deliver(rest, p.ts, limits, sink, stats);
                }
            }
        }
    }

    fn skip_to_first_pending(&mut self, limits: &Limits, sink: &mut dyn StreamSink, stats: &mut Stats) {
        let (Some(next), Some(first)) = (self.next, self.pending.first()) else { return };
        let missing = dist(next, first.seq);
        if missing > 0 {
            let missing = u32::try_from(missing).unwrap_or(u32::MAX);
            stats::add(&mut stats.tcp_gaps, 1);
            stats::add(&mut stats.tcp_gap_bytes, u64::from(missing));
            // A held keep-alive candidate says nothing about data after a hole.
            self.probe_candidate = None;
            sink.gap(missing, stats);
            self.next = Some(first.seq);
            // Bytes before the gap can no longer be compared with what comes after it.
            self.forget_recent();
        }
        self.drain(limits, sink, stats);
    }

    fn enforce_limits(&mut self, limits: &Limits, sink: &mut dyn StreamSink, stats: &mut Stats) {
        while !self.pending.is_empty()
            && (self.pending_bytes > limits.max_ooo_bytes || self.pending.len() > limits.max_ooo_segments)
        {
            sink.anomaly(Anomaly::TcpReassemblyLimit, stats);
            self.skip_to_first_pending(limits, sink, stats);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::arithmetic_side_effects)]
    use super::*;

    #[derive(Default)]
    struct Collect {
        out: Vec<u8>,
        gaps: Vec<u32>,
        anomalies: Vec<Anomaly>,
    }

    impl StreamSink for Collect {
        fn data(&mut self, bytes: &[u8], _: Timestamp, _: &mut Stats) {
            self.out.extend_from_slice(bytes);
        }
        fn gap(&mut self, len: u32, _: &mut Stats) {
            self.gaps.push(len);
            self.out.extend(std::iter::repeat_n(b'_', len as usize));
        }
        fn anomaly(&mut self, a: Anomaly, _: &mut Stats) {
            self.anomalies.push(a);
        }
    }

    /// Feeds (seq offset, bytes) segments after a SYN at `isn` and returns what came out.
    fn run(isn: u32, segs: &[(u32, &str)], limits: &Limits) -> Collect {
        let mut r = Reassembler::default();
        let mut c = Collect::default();
        let mut stats = Stats::default();
        r.syn(isn);
        for &(off, s) in segs {
            let seq = isn.wrapping_add(1).wrapping_add(off);
            r.segment(seq, s.as_bytes(), Timestamp(0), limits, &mut stats, &mut c);
        }
        r.flush(limits, &mut stats, &mut c);
        c
    }

    fn text(c: &Collect) -> String {
        String::from_utf8(c.out.clone()).unwrap()
    }

    #[test]
    fn in_order_out_of_order_and_retransmitted() {
        let l = Limits::default();
        let check = |segs: &[(u32, &str)], want: &str| {
            for isn in [0, u32::MAX - 3] {
                let c = run(isn, segs, &l);
                assert_eq!(text(&c), want, "isn {isn} {segs:?}");
                assert!(c.anomalies.is_empty(), "{:?}", c.anomalies);
            }
        };
        check(&[(0, "abc"), (3, "def")], "abcdef");
        check(&[(3, "def"), (0, "abc")], "abcdef");
        check(&[(6, "ghi"), (3, "def"), (0, "abc")], "abcdefghi");
        check(&[(0, "abc"), (0, "abc"), (3, "def"), (1, "bcde")], "abcdef");
        check(&[(4, "ef"), (2, "cdef"), (0, "ab")], "abcdef");
    }

    #[test]
    fn conflicting_overlaps_keep_first_bytes() {
        let l = Limits::default();
        let c = run(100, &[(0, "abc"), (0, "XYZ"), (3, "def")], &l);
        assert_eq!((text(&c), c.anomalies.as_slice()), ("abcdef".into(), &[Anomaly::TcpOverlapConflict][..]));
        let c = run(100, &[(3, "def"), (2, "Xdefg"), (0, "ab")], &l);
        assert_eq!(text(&c), "abXdefg");
        assert_eq!(c.anomalies, vec![]);
        let c = run(100, &[(3, "def"), (3, "DEF"), (0, "abc")], &l);
        assert_eq!((text(&c), c.anomalies.len()), ("abcdef".into(), 1));
    }

    #[test]
    fn holes_become_gaps_at_flush_and_at_limits() {
        let c = run(7, &[(0, "ab"), (5, "fg")], &Limits::default());
        assert_eq!((text(&c), c.gaps.as_slice()), ("ab___fg".into(), &[3][..]));
        let tight = Limits { max_ooo_segments: 1, ..Limits::default() };
        let c = run(7, &[(0, "a"), (2, "c"), (4, "e"), (1, "b")], &tight);
        assert_eq!(text(&c), "a_c_e");
        assert_eq!(c.anomalies, vec![Anomaly::TcpReassemblyLimit]);
    }

    #[test]
    fn peer_ack_past_a_hole_skips_it() {
        let l = Limits::default();
        let mut r = Reassembler::default();
        let (mut c, mut s) = (Collect::default(), Stats::default());
        r.syn(0);
        r.segment(1, b"ab", Timestamp(0), &l, &mut s, &mut c);
        r.segment(6, b"fg", Timestamp(0), &l, &mut s, &mut c);
        r.peer_ack(4, false, &l, &mut s, &mut c);
        assert_eq!(text(&c), "ab");
        r.peer_ack(8, false, &l, &mut s, &mut c);
        assert_eq!(text(&c), "ab___fg");
        assert_eq!((s.tcp_gaps, s.tcp_gap_bytes), (1, 3));
    }

    /// Feeds (seq, bytes) segments without a SYN (a mid-stream pickup).
    fn pickup(segs: &[(u32, &str)]) -> (Collect, Stats) {
        let l = Limits::default();
        let (mut r, mut c, mut stats) = (Reassembler::default(), Collect::default(), Stats::default());
        for &(seq, s) in segs {
            r.segment(seq, s.as_bytes(), Timestamp(0), &l, &mut stats, &mut c);
        }
        r.flush(&l, &mut stats, &mut c);
        (c, stats)
    }

    /// Retransmissions of delivered bytes, some with one byte changed, compared with a model
    /// of what the reassembler must still remember: the bytes delivered since the last gap,
    /// at most the ring's size of them. Covers the bytes kept in order (before the ring's size
    /// is reached), the move into the ring, the ring, and gaps in both.
    #[test]
    fn retransmissions_conflict_exactly_where_a_remembered_byte_differs() {
        let l = Limits::default();
        let size = l.overlap_check_bytes.next_power_of_two();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next_random = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound.max(1) as u64) as usize
        };
        let (mut checked, mut conflicts) = (0, 0);
        for case in 0..400 {
            let isn = next_random(usize::MAX) as u32;
            let (mut r, mut c, mut stats) = (Reassembler::default(), Collect::default(), Stats::default());
            r.syn(isn);
            // The stream as delivered (a gap's bytes as zeros), and where remembering restarted.
            let (mut stream, mut since): (Vec<u8>, usize) = (Vec::new(), 0);
            let seq_at = |at: usize| isn.wrapping_add(1).wrapping_add(at as u32);
            for _ in 0..next_random(14) {
                if next_random(8) == 0 && !stream.is_empty() {
                    // A hole the peer acknowledges: a gap, after which nothing before is compared.
                    let hole = 1 + next_random(400);
                    r.peer_ack(seq_at(stream.len() + hole), true, &l, &mut stats, &mut c);
                    stream.resize(stream.len() + hole, 0);
                    since = stream.len();
                }
                let data: Vec<u8> = (0..1 + next_random(1500)).map(|_| next_random(256) as u8).collect();
                r.segment(seq_at(stream.len()), &data, Timestamp(0), &l, &mut stats, &mut c);
                stream.extend_from_slice(&data);
                let start = next_random(stream.len());
                let len = 1 + next_random((stream.len() - start).min(300));
                let mut again = stream[start..start + len].to_vec();
                let changed = (next_random(2) == 0).then(|| next_random(len));
                if let Some(k) = changed {
                    again[k] ^= 1 + next_random(255) as u8;
                }
                let remembered = since.max(stream.len().saturating_sub(size))..stream.len();
                let probe = len == 1 && start + 1 == stream.len();
                let want = changed.is_some_and(|k| remembered.contains(&(start + k))) && !probe;
                let before = c.anomalies.len();
                r.segment(seq_at(start), &again, Timestamp(0), &l, &mut stats, &mut c);
                let got = c.anomalies[before..].contains(&Anomaly::TcpOverlapConflict);
                assert_eq!(got, want, "case {case}: {len} bytes at {start} of {}, changed {changed:?}", stream.len());
                checked += 1;
                conflicts += usize::from(got);
                // Bytes kept in order stay within the ring's size, and the ring is that size.
                assert!(r.recent.capacity() <= size || r.recent_ring);
                assert_eq!(r.recent_ring, r.recent.len() == size);
            }
        }
        assert!(checked > 2000 && conflicts > 500, "{checked} checked, {conflicts} conflicts");
    }

    #[test]
    fn keepalive_probe_at_a_pickup_is_left_out() {
        let check = |segs: &[(u32, &str)], want: &str, probes: u64| {
            let (c, stats) = pickup(segs);
            assert_eq!((text(&c).as_str(), stats.tcp_keepalive_probes), (want, probes), "{segs:?}");
            assert!(c.anomalies.is_empty() && c.gaps.is_empty(), "{segs:?}: {:?} {:?}", c.anomalies, c.gaps);
        };
        // Probe at seq - 1, repeated, then the data at seq (also across the wrap of sequence space).
        check(&[(99, "\0"), (100, "GET /")], "GET /", 1);
        check(&[(99, "x"), (99, "x"), (100, "GET /")], "GET /", 1);
        check(&[(u32::MAX, "\0"), (0, "GET /")], "GET /", 1);
        // The data arrives out of order after the probe.
        check(&[(99, "\0"), (102, "T /"), (100, "GE")], "GET /", 1);
        // The single byte starts a longer segment sent again: it was data.
        check(&[(100, "G"), (100, "GET /")], "GET /", 0);
        // A lone byte and nothing after it says nothing.
        check(&[(100, "G")], "", 0);
        // Not at a pickup: one byte is data like any other.
        let c = run(7, &[(0, "G"), (1, "ET /")], &Limits::default());
        assert_eq!(text(&c), "GET /");
    }

    #[test]
    fn acknowledged_bytes_never_seen_are_a_gap_only_when_the_consumer_says_so() {
        let l = Limits::default();
        for unseen_is_lost in [false, true] {
            let (mut r, mut c, mut s) = (Reassembler::default(), Collect::default(), Stats::default());
            r.syn(0);
            r.segment(1, b"ab", Timestamp(0), &l, &mut s, &mut c);
            r.peer_ack(6, unseen_is_lost, &l, &mut s, &mut c);
            let want = if unseen_is_lost { "ab___" } else { "ab" };
            assert_eq!((text(&c).as_str(), s.tcp_gap_bytes), (want, if unseen_is_lost { 3 } else { 0 }));
            // An ACK behind what was delivered, or absurdly far ahead, skips nothing.
            r.peer_ack(2, unseen_is_lost, &l, &mut s, &mut c);
            r.peer_ack(1 << 31, unseen_is_lost, &l, &mut s, &mut c);
            assert_eq!(text(&c).as_str(), want);
        }
    }

    #[test]
    fn fin_finishes_after_all_bytes() {
        let l = Limits::default();
        let mut r = Reassembler::default();
        let (mut c, mut s) = (Collect::default(), Stats::default());
        r.syn(0);
        r.segment(4, b"def", Timestamp(0), &l, &mut s, &mut c);
        assert!(!r.fin(7));
        assert!(r.segment(1, b"abc", Timestamp(0), &l, &mut s, &mut c));
    }
}
