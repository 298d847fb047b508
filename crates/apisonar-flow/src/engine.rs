//! The flow layer's front door: frames in, HTTP transactions and connection summaries out.

use std::net::SocketAddr;

use apisonar_wire::{decode_frame, decode_ip_payload, Decoded, LinkType};

use crate::defrag::Defragmenter;
use crate::http::{AppProtocol, HttpTransaction};
use crate::stats;
use crate::table::FlowTable;
use crate::{Anomaly, Limits, Stats, Timestamp};

/// Receives what the flow layer produces, in a deterministic order for a given input.
pub trait EventSink {
    fn on_transaction(&mut self, txn: HttpTransaction);
    fn on_connection(&mut self, _summary: ConnectionSummary) {}
    fn on_tls(&mut self, _tls: TlsHandshake) {}
    /// A message of a connection that left HTTP (WebSocket), after its upgrade transaction.
    fn on_message(&mut self, _message: crate::StreamMessage) {}
}

/// A TLS handshake seen on a connection, reported when the connection ends.
#[derive(Clone, Debug)]
pub struct TlsHandshake {
    pub connection_id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub session: crate::TlsSession,
}

/// Why a connection stopped being tracked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Both sides sent FIN.
    Fin,
    Rst,
    /// No packet for `Limits::idle_timeout_secs`.
    Idle,
    /// Evicted because the flow table was full or the buffered bytes passed their budget.
    Evicted,
    /// A new connection (SYN) reused the same addresses and ports.
    Reused,
    EndOfInput,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::Idle => "idle",
            EndReason::Evicted => "evicted",
            EndReason::Reused => "reused",
            EndReason::EndOfInput => "end_of_input",
        }
    }
}

/// One finished TCP connection.
#[derive(Clone, Debug)]
pub struct ConnectionSummary {
    pub connection_id: u64,
    /// The side that opened the connection or sent requests (the lower endpoint if unknown).
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub protocol: AppProtocol,
    pub start: Timestamp,
    pub end: Timestamp,
    pub packets: u64,
    pub client_bytes: u64,
    pub server_bytes: u64,
    pub end_reason: EndReason,
}

/// Turns captured frames into events. Single-threaded; run one per flow shard.
pub struct FlowEngine {
    limits: Limits,
    table: FlowTable,
    defrag: Defragmenter,
    stats: Stats,
    now: Timestamp,
    next_sweep: Option<Timestamp>,
}

/// Idle flows and stale fragments are looked for this often (packet time).
const SWEEP_INTERVAL_SECS: u32 = 1;

impl FlowEngine {
    pub fn new(limits: Limits) -> FlowEngine {
        FlowEngine {
            limits,
            table: FlowTable::default(),
            defrag: Defragmenter::default(),
            stats: Stats::default(),
            now: Timestamp::default(),
            next_sweep: None,
        }
    }

    /// An engine for shard `shard` of `shards`: connection ids stay unique across shards, and the
    /// sensor-wide limits (flows, buffered bytes, fragments) are shared out, so that memory is
    /// bounded by the configuration whatever the number of workers.
    pub fn shard(limits: Limits, shard: u64, shards: u64) -> FlowEngine {
        let n = usize::try_from(shards.max(1)).unwrap_or(usize::MAX);
        let share = |total: usize| total.checked_div(n).unwrap_or(total).max(1);
        let limits = Limits {
            max_flows: share(limits.max_flows),
            max_buffered_bytes: share(limits.max_buffered_bytes),
            max_fragment_datagrams: share(limits.max_fragment_datagrams),
            max_fragment_bytes: share(limits.max_fragment_bytes),
            ..limits
        };
        let mut engine = FlowEngine::new(limits);
        engine.table.number_from(shard, shards);
        engine
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn active_flows(&self) -> usize {
        self.table.len()
    }

    /// Approximate bytes held in buffers (reassembly, heads, samples, sniffing and TLS buffers,
    /// fragments): what `Limits::max_buffered_bytes` bounds.
    pub fn buffered_bytes(&self) -> usize {
        self.table.buffered_bytes().saturating_add(self.defrag.held_bytes())
    }

    /// [`FlowEngine::buffered_bytes`] measured afresh by walking every flow; the two agree
    /// unless the running account missed a change (checks compare them).
    pub fn measure_buffered_bytes(&self) -> usize {
        self.table.measure_buffered_bytes().saturating_add(self.defrag.held_bytes())
    }

    /// Live flows that also have a tombstone: none, ever (checks assert it; the table asks the
    /// tombstones only about packets no live flow takes).
    pub fn tombstoned_live_flows(&self) -> usize {
        self.table.tombstoned_live_flows()
    }

    /// Processes one captured frame. `frame` is what was captured, `wire_len` the original length.
    pub fn frame(&mut self, link: LinkType, ts: Timestamp, frame: &[u8], wire_len: u32, out: &mut dyn EventSink) {
        let captured_len = u64::try_from(frame.len()).unwrap_or(u64::MAX);
        let cut_by_snaplen = captured_len < u64::from(wire_len);
        stats::add(&mut self.stats.packets, 1);
        stats::add(&mut self.stats.bytes, captured_len.max(u64::from(wire_len)));
        self.advance_time(ts, out);
        if cut_by_snaplen {
            self.stats.anomaly(Anomaly::SnaplenTruncated);
        }
        match decode_frame(link, frame) {
            Decoded::Tcp(seg) => self.table.segment(&seg, ts, &self.limits, &mut self.stats, out),
            Decoded::Fragment(frag) => {
                if let Some(payload) = self.defrag.add(&frag, ts, &self.limits, &mut self.stats) {
                    let key = frag.key;
                    match decode_ip_payload(key.src, key.dst, key.proto, &payload) {
                        Decoded::Tcp(seg) => self.table.segment(&seg, ts, &self.limits, &mut self.stats, out),
                        Decoded::Malformed(a) => self.stats.anomaly(a.into()),
                        Decoded::Fragment(_) | Decoded::Other => stats::add(&mut self.stats.non_tcp_packets, 1),
                    }
                }
            }
            Decoded::Other => stats::add(&mut self.stats.non_tcp_packets, 1),
            // A cut frame was already counted above; do not count it twice.
            Decoded::Malformed(apisonar_wire::WireAnomaly::SnaplenTruncated) if cut_by_snaplen => {}
            Decoded::Malformed(a) => self.stats.anomaly(a.into()),
        }
        self.table.enforce_budget(self.defrag.held_bytes(), &self.limits, &mut self.stats, out);
    }

    /// Counts a frame whose link type cannot be decoded.
    pub fn unsupported_frame(&mut self, wire_len: u32) {
        stats::add(&mut self.stats.packets, 1);
        stats::add(&mut self.stats.bytes, u64::from(wire_len));
        self.stats.anomaly(Anomaly::UnsupportedLinkType);
    }

    /// Lets time pass without a packet (a live capture's idle tick).
    pub fn tick(&mut self, ts: Timestamp, out: &mut dyn EventSink) {
        self.advance_time(ts, out);
    }

    fn advance_time(&mut self, ts: Timestamp, out: &mut dyn EventSink) {
        // Captures are not always in time order; time only moves forward.
        if ts > self.now {
            self.now = ts;
        }
        let due = *self.next_sweep.get_or_insert(self.now.plus_secs(SWEEP_INTERVAL_SECS));
        if self.now >= due {
            self.table.expire_idle(self.now, &self.limits, &mut self.stats, out);
            self.defrag.expire(self.now, &self.limits, &mut self.stats);
            self.next_sweep = Some(self.now.plus_secs(SWEEP_INTERVAL_SECS));
        }
    }

    /// End of input: closes every connection, in the order they were opened.
    pub fn finish(&mut self, out: &mut dyn EventSink) {
        self.table.close_all(&self.limits, &mut self.stats, out);
    }
}
