//! Counters for everything the flow layer does, drops and notices.

use crate::http::AppProtocol;
use crate::Anomaly;

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
    pub transactions: u64,
    pub transactions_without_response: u64,
    protocols: [u64; AppProtocol::ALL.len()],
    anomalies: [u64; Anomaly::ALL.len()],
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
            transactions,
            transactions_without_response,
            protocols,
            anomalies,
        } = o;
        self.packets += packets;
        self.bytes += bytes;
        self.tcp_segments += tcp_segments;
        self.tcp_payload_bytes += tcp_payload_bytes;
        self.non_tcp_packets += non_tcp_packets;
        self.ip_fragments += ip_fragments;
        self.ip_datagrams_reassembled += ip_datagrams_reassembled;
        self.flows_created += flows_created;
        self.flows_closed += flows_closed;
        self.flows_expired += flows_expired;
        self.flows_evicted += flows_evicted;
        self.tcp_retransmitted_segments += tcp_retransmitted_segments;
        self.tcp_out_of_order_segments += tcp_out_of_order_segments;
        self.tcp_gaps += tcp_gaps;
        self.tcp_gap_bytes += tcp_gap_bytes;
        self.transactions += transactions;
        self.transactions_without_response += transactions_without_response;
        for (mine, theirs) in self.protocols.iter_mut().zip(protocols) {
            *mine += theirs;
        }
        for (mine, theirs) in self.anomalies.iter_mut().zip(anomalies) {
            *mine += theirs;
        }
    }

    pub fn anomaly(&mut self, a: Anomaly) {
        if let Some(c) = self.anomalies.get_mut(a as usize) {
            *c += 1;
        }
    }

    pub fn anomaly_count(&self, a: Anomaly) -> u64 {
        self.anomalies.get(a as usize).copied().unwrap_or(0)
    }

    /// Non-zero anomaly counters, in declaration order.
    pub fn anomalies(&self) -> impl Iterator<Item = (Anomaly, u64)> + '_ {
        Anomaly::ALL.iter().map(|&a| (a, self.anomaly_count(a))).filter(|&(_, n)| n > 0)
    }

    pub(crate) fn protocol(&mut self, p: AppProtocol) {
        if let Some(c) = self.protocols.get_mut(p as usize) {
            *c += 1;
        }
    }

    /// Finished connections by application protocol (non-zero only).
    pub fn protocols(&self) -> impl Iterator<Item = (AppProtocol, u64)> + '_ {
        AppProtocol::ALL
            .iter()
            .map(|&p| (p, self.protocols.get(p as usize).copied().unwrap_or(0)))
            .filter(|&(_, n)| n > 0)
    }
}
