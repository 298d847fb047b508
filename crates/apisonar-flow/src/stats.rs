//! Counters for everything the flow layer does, drops and notices.

use crate::http::AppProtocol;
use crate::Anomaly;

/// Adds `n` to a counter. Counters stop at the maximum rather than wrap: a long-running sensor
/// must never report a small number for a huge one.
pub(crate) fn add(counter: &mut u64, n: u64) {
    *counter = counter.saturating_add(n);
}

/// Monotonic counters; a snapshot is cheap to clone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets: u64,
    /// Bytes on the wire (original frame lengths).
    pub bytes: u64,
    pub tcp_segments: u64,
    pub tcp_payload_bytes: u64,
    pub non_tcp_packets: u64,
    pub ip_fragments: u64,
    pub ip_datagrams_reassembled: u64,
    pub flows_created: u64,
    pub flows_closed: u64,
    pub flows_expired: u64,
    pub flows_evicted: u64,
    pub tcp_retransmitted_segments: u64,
    pub tcp_out_of_order_segments: u64,
    pub tcp_gaps: u64,
    pub tcp_gap_bytes: u64,
    /// Keep-alive probes (one old byte at the start of a mid-stream pickup) left out of the stream.
    pub tcp_keepalive_probes: u64,
    /// Connections closed because the bytes buffered over all connections passed
    /// `Limits::max_buffered_bytes`.
    pub flows_evicted_buffer_budget: u64,
    pub transactions: u64,
    pub transactions_without_response: u64,
    protocols: Counters<{ AppProtocol::ALL.len() }>,
    anomalies: Counters<{ Anomaly::ALL.len() }>,
}

/// Counters indexed by an enum's discriminant (a plain array has no `Default` beyond 32).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Counters<const N: usize>([u64; N]);

impl<const N: usize> Default for Counters<N> {
    fn default() -> Self {
        Counters([0; N])
    }
}

impl Stats {
    /// Adds another shard's counters to these.
    pub fn merge(&mut self, o: &Stats) {
        let Stats {
            packets,
            bytes,
            tcp_segments,
            tcp_payload_bytes,
            non_tcp_packets,
            ip_fragments,
            ip_datagrams_reassembled,
            flows_created,
            flows_closed,
            flows_expired,
            flows_evicted,
            tcp_retransmitted_segments,
            tcp_out_of_order_segments,
            tcp_gaps,
            tcp_gap_bytes,
            tcp_keepalive_probes,
            flows_evicted_buffer_budget,
            transactions,
            transactions_without_response,
            protocols,
            anomalies,
        } = o;
        add(&mut self.packets, *packets);
        add(&mut self.bytes, *bytes);
        add(&mut self.tcp_segments, *tcp_segments);
        add(&mut self.tcp_payload_bytes, *tcp_payload_bytes);
        add(&mut self.non_tcp_packets, *non_tcp_packets);
        add(&mut self.ip_fragments, *ip_fragments);
        add(&mut self.ip_datagrams_reassembled, *ip_datagrams_reassembled);
        add(&mut self.flows_created, *flows_created);
        add(&mut self.flows_closed, *flows_closed);
        add(&mut self.flows_expired, *flows_expired);
        add(&mut self.flows_evicted, *flows_evicted);
        add(&mut self.tcp_retransmitted_segments, *tcp_retransmitted_segments);
        add(&mut self.tcp_out_of_order_segments, *tcp_out_of_order_segments);
        add(&mut self.tcp_gaps, *tcp_gaps);
        add(&mut self.tcp_gap_bytes, *tcp_gap_bytes);
        add(&mut self.tcp_keepalive_probes, *tcp_keepalive_probes);
        add(&mut self.flows_evicted_buffer_budget, *flows_evicted_buffer_budget);
        add(&mut self.transactions, *transactions);
        add(&mut self.transactions_without_response, *transactions_without_response);
        for (mine, theirs) in self.protocols.0.iter_mut().zip(&protocols.0) {
            add(mine, *theirs);
        }
        for (mine, theirs) in self.anomalies.0.iter_mut().zip(&anomalies.0) {
            add(mine, *theirs);
        }
    }

    pub fn anomaly(&mut self, a: Anomaly) {
        if let Some(c) = self.anomalies.0.get_mut(a as usize) {
            add(c, 1);
        }
    }

    pub fn anomaly_count(&self, a: Anomaly) -> u64 {
        self.anomalies.0.get(a as usize).copied().unwrap_or(0)
    }

    /// Non-zero anomaly counters, in declaration order.
    pub fn anomalies(&self) -> impl Iterator<Item = (Anomaly, u64)> + '_ {
        Anomaly::ALL.iter().map(|&a| (a, self.anomaly_count(a))).filter(|&(_, n)| n > 0)
    }

    pub(crate) fn protocol(&mut self, p: AppProtocol) {
        if let Some(c) = self.protocols.0.get_mut(p as usize) {
            add(c, 1);
        }
    }

    /// Finished connections by application protocol (non-zero only).
    pub fn protocols(&self) -> impl Iterator<Item = (AppProtocol, u64)> + '_ {
        AppProtocol::ALL
            .iter()
            .map(|&p| (p, self.protocols.0.get(p as usize).copied().unwrap_or(0)))
            .filter(|&(_, n)| n > 0)
    }
}
