//! What both per-stage benchmarks (`stages`, `stage_budget`) start from: the benchmark workload's
//! frames and the packet path that turns them into transactions.

// The benches use the transaction half of it.
#[allow(dead_code)]
#[path = "../../src/observe.rs"]
pub mod observe;

use apisonar_app::{AnalysedTransaction, Analyser};
use apisonar_engine::sensitive::MaskKey;
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

/// Keeps the last `IN_FLIGHT` transactions of the packet path, freeing the older ones, as
/// [`worker_path`] keeps what it made.
struct KeepInFlight {
    kept: Vec<HttpTransaction>,
    made: usize,
}

/// Keeps `made` among the last `IN_FLIGHT` things made, freeing the older ones all at once (as
/// they come back to a worker a batch at a time).
fn keep_in_flight<T>(kept: &mut Vec<T>, made: T) {
    if kept.len() == IN_FLIGHT {
        kept.clear();
    }
    kept.push(made);
}

impl EventSink for KeepInFlight {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        keep_in_flight(&mut self.kept, txn);
        self.made += 1;
    }
}

/// The packet path with its transactions freed as [`worker_path`] frees what it makes: the
/// figure to take from the worker path's. (Collecting every transaction, as [`packet_path`]
/// does to give later stages a batch, writes hundreds of megabytes of fresh memory, and the
/// page faults came to a third of its time in some runs and not in others.) Returns how many
/// transactions it made.
// Not every bench that shares this module measures it.
#[allow(dead_code)]
pub fn packet_path_in_flight(frames: &[(i64, Vec<u8>)]) -> usize {
    let mut engine = FlowEngine::new(Limits::default());
    let mut out = KeepInFlight { kept: Vec::with_capacity(IN_FLIGHT), made: 0 };
    for (ts, frame) in frames {
        engine.frame(LinkType::Ethernet, Timestamp(*ts), frame, frame.len() as u32, &mut out);
    }
    engine.finish(&mut out);
    out.made
}

/// Observes and analyses each transaction as it comes out of the packet path, as a flow worker
/// does. A worker hands what it made to the inventory thread and frees it when it comes back,
/// a couple of event batches later: so does this (kept for the whole run, each would be fresh
/// memory, which the sensor's are not).
struct Analyse {
    analyser: Analyser,
    handed_on: Vec<AnalysedTransaction>,
    analysed: usize,
}

/// Transactions in flight between a worker and the inventory thread, about (the pipeline's
/// event queue holds two batches of 128 per worker).
const IN_FLIGHT: usize = 256;

impl EventSink for Analyse {
    fn on_transaction(&mut self, mut txn: HttpTransaction) {
        let observation = observe::observation_taking_all(&mut txn);
        keep_in_flight(&mut self.handed_on, self.analyser.analyse(observation));
        self.analysed += 1;
    }
}

/// A flow worker's work: the packet path with each transaction observed and analysed at once,
/// while its bytes are still in the cache (a worker that has seen nothing yet: the figure
/// includes learning the answers' shapes). Returns how many it analysed.
// Not every bench that shares this module measures it.
#[allow(dead_code)]
pub fn worker_path(frames: &[(i64, Vec<u8>)], key: MaskKey) -> usize {
    let mut engine = FlowEngine::new(Limits::default());
    let mut sink = Analyse { analyser: Analyser::new(key), handed_on: Vec::with_capacity(IN_FLIGHT), analysed: 0 };
    for (ts, frame) in frames {
        engine.frame(LinkType::Ethernet, Timestamp(*ts), frame, frame.len() as u32, &mut sink);
    }
    engine.finish(&mut sink);
    sink.analysed
}
