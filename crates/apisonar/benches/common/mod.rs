//! What both per-stage benchmarks (`stages`, `stage_budget`) start from: the benchmark workload's
//! frames and the packet path that turns them into transactions.

// The benches use the transaction half of it.
#[allow(dead_code)]
#[path = "../../src/observe.rs"]
pub mod observe;

use apisonar_flow::{EventSink, FlowEngine, HttpTransaction, Limits, Timestamp};
use apisonar_testkit::workload::{generate, Addresses, Pattern};
use apisonar_wire::LinkType;

/// The frames of `mb` megabytes of the keep-alive workload between one address pair (testkit:
/// JSON API traffic in 1500-byte frames, the captures `scripts/bench.sh` writes).
// Not every bench that shares this module uses the workload.
#[allow(dead_code)]
pub fn workload(mb: u64) -> Vec<(i64, Vec<u8>)> {
    let mut frames = Vec::new();
    generate(Pattern::KeepAlive, Addresses::OnePair, mb * 1_000_000, |ts, f| frames.push((ts, f.to_vec())));
    frames
}

#[derive(Default)]
struct Collect(Vec<HttpTransaction>);

impl EventSink for Collect {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.0.push(txn);
    }
}

/// The packet path: frames to HTTP transactions (decoding, reassembly, HTTP parsing).
pub fn packet_path(frames: &[(i64, Vec<u8>)]) -> Vec<HttpTransaction> {
    let mut engine = FlowEngine::new(Limits::default());
    let mut out = Collect::default();
    for (ts, frame) in frames {
        engine.frame(LinkType::Ethernet, Timestamp(*ts), frame, frame.len() as u32, &mut out);
    }
    engine.finish(&mut out);
    out.0
}
