//! IPv4 and IPv6 fragment reassembly, bounded in datagrams, bytes and time.
//!
//! Overlapping fragments keep the bytes that arrived first (an anomaly is counted when a later
//! copy differs). Datagrams whose fragments never all arrive are dropped after a timeout.

use std::collections::HashMap;

use apisonar_wire::{FragKey, IpFragment};

use crate::stats;
use crate::{Anomaly, Limits, Stats, Timestamp};

/// Largest reassembled IP payload (the IPv4 total-length field is 16 bits).
const MAX_DATAGRAM: u32 = 65_535;

struct Datagram {
    first_seen: Timestamp,
    /// Sorted by offset, non-overlapping.
    pieces: Vec<(u32, Vec<u8>)>,
    total_len: Option<u32>,
    bytes: usize,
}

#[derive(Default)]
pub(crate) struct Defragmenter {
    pending: HashMap<FragKey, Datagram>,
    bytes: usize,
    /// Datagrams given up on (limits, timeouts, refusals), when someone asked to know
    /// ([`Defragmenter::reporting_drops`]): the worker router then releases their fragments.
    dropped: Option<Vec<FragKey>>,
}

impl Defragmenter {
    /// A defragmenter that lists the datagrams it gives up on (see [`Defragmenter::take_dropped`]).
    pub(crate) fn reporting_drops() -> Defragmenter {
        Defragmenter { dropped: Some(Vec::new()), ..Defragmenter::default() }
    }

    /// The datagrams given up on since the last call.
    pub(crate) fn take_dropped(&mut self) -> Vec<FragKey> {
        self.dropped.as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub(crate) fn is_pending(&self, key: &FragKey) -> bool {
        self.pending.contains_key(key)
    }

    pub(crate) fn pending_datagrams(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a fragment; returns the whole payload once every fragment is in.
    pub(crate) fn add(
        &mut self,
        frag: &IpFragment<'_>,
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
    ) -> Option<Vec<u8>> {
        stats::add(&mut stats.ip_fragments, 1);
        let end = frag.offset.saturating_add(u32::try_from(frag.payload.len()).unwrap_or(u32::MAX));
        if end > MAX_DATAGRAM {
            stats.anomaly(Anomaly::FragmentTooLarge);
            self.drop_datagram(&frag.key);
            return None;
        }
        if !self.pending.contains_key(&frag.key) {
            while self.pending.len() >= limits.max_fragment_datagrams.max(1) {
                self.evict_oldest(stats);
            }
        }
        let datagram = self.pending.entry(frag.key).or_insert_with(|| Datagram {
            first_seen: ts,
            pieces: Vec::new(),
            total_len: None,
            bytes: 0,
        });
        if !frag.more_fragments {
            if datagram.total_len.is_some_and(|t| t != end) {
                stats.anomaly(Anomaly::FragmentOverlap);
            }
            datagram.total_len.get_or_insert(end);
        }
        let added = insert_first_wins(&mut datagram.pieces, frag.offset, frag.payload, stats);
        datagram.bytes = datagram.bytes.saturating_add(added);
        self.bytes = self.bytes.saturating_add(added);
        let complete = datagram.total_len.is_some_and(|total| covers(&datagram.pieces, total));
        if complete {
            let datagram = self.pending.remove(&frag.key)?;
            self.bytes = self.bytes.saturating_sub(datagram.bytes);
            let total = datagram.total_len.unwrap_or(0) as usize;
            let mut out = Vec::with_capacity(total);
            for (_, piece) in datagram.pieces {
                out.extend_from_slice(&piece);
            }
            out.truncate(total);
            stats::add(&mut stats.ip_datagrams_reassembled, 1);
            return Some(out);
        }
        while self.bytes > limits.max_fragment_bytes && !self.pending.is_empty() {
            self.evict_oldest(stats);
        }
        None
    }

    /// Drops datagrams older than the fragment timeout.
    pub(crate) fn expire(&mut self, now: Timestamp, limits: &Limits, stats: &mut Stats) {
        let mut expired: Vec<(Timestamp, FragKey)> = self
            .pending
            .iter()
            .filter(|(_, d)| d.first_seen.plus_secs(limits.fragment_timeout_secs) < now)
            .map(|(k, d)| (d.first_seen, *k))
            .collect();
        expired.sort();
        for (_, key) in expired {
            stats.anomaly(Anomaly::FragmentTimeout);
            self.drop_datagram(&key);
        }
    }

    fn evict_oldest(&mut self, stats: &mut Stats) {
        let oldest = self.pending.iter().map(|(k, d)| (d.first_seen, *k)).min();
        if let Some((_, key)) = oldest {
            stats.anomaly(Anomaly::FragmentLimit);
            self.drop_datagram(&key);
        }
    }

    pub(crate) fn drop_datagram(&mut self, key: &FragKey) {
        if let Some(d) = self.pending.remove(key) {
            self.bytes = self.bytes.saturating_sub(d.bytes);
            if let Some(dropped) = self.dropped.as_mut() {
                dropped.push(*key);
            }
        }
    }
}

/// Inserts `data` at `offset`, keeping existing bytes where they overlap. Returns bytes added.
/// Offsets and lengths stay below `MAX_DATAGRAM` (checked by the caller), so the `usize`
/// arithmetic here cannot overflow; the saturating forms only make that explicit.
fn insert_first_wins(pieces: &mut Vec<(u32, Vec<u8>)>, offset: u32, data: &[u8], stats: &mut Stats) -> usize {
    let start = offset as usize;
    let end = start.saturating_add(data.len());
    let mut cursor = start;
    let mut new_pieces: Vec<(usize, usize)> = Vec::new();
    let mut conflict = false;
    for (ps, piece) in pieces.iter() {
        let ps = *ps as usize;
        let pe = ps.saturating_add(piece.len());
        if pe <= cursor || ps >= end {
            continue;
        }
        if ps > cursor {
            new_pieces.push((cursor, ps.min(end)));
        }
        let (os, oe) = (cursor.max(ps), end.min(pe));
        let new = data.get(os.saturating_sub(start)..oe.saturating_sub(start));
        let old = piece.get(os.saturating_sub(ps)..oe.saturating_sub(ps));
        conflict |= new != old;
        cursor = cursor.max(pe);
    }
    if cursor < end {
        new_pieces.push((cursor, end));
    }
    if conflict {
        stats.anomaly(Anomaly::FragmentOverlap);
    }
    let mut added = 0usize;
    for (s, e) in new_pieces {
        let Some(bytes) = data.get(s.saturating_sub(start)..e.saturating_sub(start)) else { continue };
        let Ok(piece_offset) = u32::try_from(s) else { continue };
        let at = pieces.partition_point(|(ps, _)| *ps < piece_offset);
        pieces.insert(at, (piece_offset, bytes.to_vec()));
        added = added.saturating_add(bytes.len());
    }
    added
}

fn covers(pieces: &[(u32, Vec<u8>)], total: u32) -> bool {
    let mut expect = 0usize;
    for (offset, piece) in pieces {
        if *offset as usize != expect {
            return false;
        }
        expect = expect.saturating_add(piece.len());
    }
    expect >= total as usize
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn frag(offset: u32, more: bool, payload: &[u8]) -> IpFragment<'_> {
        let a = IpAddr::V4(Ipv4Addr::LOCALHOST);
        IpFragment { key: FragKey { src: a, dst: a, id: 7, proto: 6 }, offset, more_fragments: more, payload }
    }

    #[test]
    fn reassembles_in_any_order() {
        let l = Limits::default();
        let mut s = Stats::default();
        let mut d = Defragmenter::default();
        assert_eq!(d.add(&frag(16, false, b"cc"), Timestamp(0), &l, &mut s), None);
        assert_eq!(d.add(&frag(0, true, b"aaaaaaaa"), Timestamp(0), &l, &mut s), None);
        let out = d.add(&frag(8, true, b"bbbbbbbb"), Timestamp(0), &l, &mut s).unwrap();
        assert_eq!(out, b"aaaaaaaabbbbbbbbcc");
        assert_eq!((d.held_bytes(), s.ip_datagrams_reassembled), (0, 1));
    }

    #[test]
    fn overlaps_keep_first_and_count() {
        let l = Limits::default();
        let mut s = Stats::default();
        let mut d = Defragmenter::default();
        d.add(&frag(0, true, b"aaaaaaaa"), Timestamp(0), &l, &mut s);
        let out = d.add(&frag(0, false, b"XXXXXXXXYY"), Timestamp(0), &l, &mut s).unwrap();
        assert_eq!(out, b"aaaaaaaaYY");
        assert_eq!(s.anomaly_count(Anomaly::FragmentOverlap), 1);
    }

    #[test]
    fn limits_and_timeouts_bound_memory() {
        let l = Limits { max_fragment_datagrams: 2, ..Limits::default() };
        let mut s = Stats::default();
        let mut d = Defragmenter::default();
        for id in 0..10u32 {
            let mut f = frag(0, true, b"aaaaaaaa");
            f.key.id = id;
            d.add(&f, Timestamp(i64::from(id)), &l, &mut s);
        }
        assert_eq!(d.pending.len(), 2);
        assert_eq!(s.anomaly_count(Anomaly::FragmentLimit), 8);
        d.expire(Timestamp(100_000_000), &l, &mut s);
        assert_eq!((d.pending.len(), d.held_bytes()), (0, 0));
        assert!(d.add(&frag(65_530, false, b"0123456789"), Timestamp(0), &l, &mut s).is_none());
        assert_eq!(s.anomaly_count(Anomaly::FragmentTooLarge), 1);
    }
}
