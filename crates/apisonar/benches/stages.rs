//! Per-stage budget (a benchmark, not a test): the microseconds each stage of the sensor spends
//! per transaction on the benchmark workload (testkit: JSON API traffic in 1500-byte frames,
//! the captures `scripts/bench.sh` writes), each stage alone on one core, best of three.
//!
//!   cargo bench -p apisonar --bench stages [-- MEGABYTES]   (default 50; one address pair)
//!
//! Stages: the packet path (frames to HTTP transactions: decode, reassembly, HTTP parsing; its
//! transactions freed a few hundred later, as a worker's are); a flow worker's whole work (the
//! packet path with each transaction observed, copied into the engine's form, and analysed as
//! it comes, sampled), so the analysis's cost in a worker is the difference; the observation
//! and the analysis alone, each over a batch of transactions made beforehand (sampled, as a
//! worker analyses from its start, learning the answers' shapes; once learnt, the same batch
//! again through a worker that has seen it, the steady state of a long capture; and in full,
//! as before sampling, with the injection search alone beside it); and the inventory thread's merge (catalog, detectors and alert policy; the store is
//! written on another thread). `STAGES_SAMPLED_ONLY=1` leaves out the full analysis (to profile what the
//! sensor runs).

mod common;

// The sensor's allocator, so the figures are the sensor's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::Instant;

use apisonar_app::{analyse, AnalysedTransaction, Analyser, Core, CoreOptions};
use apisonar_engine::sensitive::MaskKey;
use apisonar_engine::Observation;
use common::{observe, packet_path, packet_path_in_flight, worker_path, workload};

/// The best of three runs of `f`, in seconds.
fn best<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    best_of(|| (), |()| f())
}

/// The best of three runs of `f` on what `setup` makes (made outside the timing), in seconds.
fn best_of<S, T>(mut setup: impl FnMut() -> S, mut f: impl FnMut(S) -> T) -> (f64, T) {
    let mut out = None;
    let mut fastest = f64::MAX;
    for _ in 0..3 {
        let input = setup();
        let started = Instant::now();
        let value = f(input);
        fastest = fastest.min(started.elapsed().as_secs_f64());
        out = Some(value);
    }
    (fastest, out.expect("three runs"))
}

/// Every observation of a batch analysed by a worker that has learnt them: its own function,
/// so that a profiler can be pointed at the steady state alone
/// (`valgrind --tool=callgrind --toggle-collect='stages::analyse_learnt'`).
#[inline(never)]
fn analyse_learnt(analyser: &mut Analyser, batch: Vec<Observation>) -> Vec<AnalysedTransaction> {
    let mut out = Vec::with_capacity(batch.len());
    for o in batch {
        out.push(analyser.analyse(std::hint::black_box(o)));
    }
    out
}

fn main() {
    let mb: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(50);
    let frames = workload(mb);
    let key = MaskKey::new([7; 32]);
    println!("per-stage budget, keep-alive workload, {mb} MB, one address pair; best of 3");

    let transactions = packet_path(&frames);
    let n = transactions.len().max(1) as f64;
    let (packet_secs, made) = best(|| packet_path_in_flight(&frames));
    assert_eq!(made, transactions.len(), "the packet path made every transaction");
    // A worker's whole work, each transaction analysed as it comes: what the analysis costs a
    // worker is this less the packet path alone. (The stages after it take batches made
    // beforehand, each stage alone.)
    let (worker_secs, by_worker) = best(|| worker_path(&frames, key));
    assert_eq!(by_worker, transactions.len(), "the worker path analysed every transaction");
    // As the sensor observes: the bodies are moved, not copied (copies are made outside the timing).
    let (observe_secs, observations) = best_of(
        || transactions.clone(),
        |batch| batch.into_iter().map(|mut t| observe::observation_taking_all(&mut t)).collect::<Vec<Observation>>(),
    );
    // The analyses take their observations: copies are made outside the timing.
    let (sampled_secs, (analysed, counts)) = best_of(
        || observations.to_vec(),
        |batch| {
            let mut analyser = Analyser::new(key);
            let out: Vec<AnalysedTransaction> = batch.into_iter().map(|o| analyser.analyse(o)).collect();
            (out, analyser.counts())
        },
    );
    // The same batch again through a worker that has analysed it once: the steady state of a
    // long capture, where the answers' shapes are learnt (audits still analyse some in full).
    let mut learnt = Analyser::new(key);
    for o in observations.iter().cloned() {
        learnt.analyse(o);
    }
    let learning_counts = learnt.counts();
    let (learnt_secs, _) = best_of(|| observations.to_vec(), |batch| analyse_learnt(&mut learnt, batch));
    let only_sampled = std::env::var_os("STAGES_SAMPLED_ONLY").is_some();
    let full_secs = if only_sampled {
        0.0
    } else {
        best_of(|| observations.to_vec(), |batch| batch.into_iter().map(|o| analyse(o, &key)).collect::<Vec<_>>()).0
    };
    // As a worker searches: one search for the whole run, so header values found clean are
    // searched once. (Request bodies are parsed again here; the analysis parses them once.)
    let injection_secs = best(|| {
        let mut search = apisonar_engine::findings::InjectionSearch::default();
        observations.iter().map(|o| search.attempts(o).len()).sum::<usize>()
    })
    .0;
    // The merge consumes what it merges: the first run takes what the sampled analysis made,
    // the others make it again first, outside the timing.
    let mut merge_secs = f64::MAX;
    let mut first = Some(analysed);
    for _ in 0..3 {
        let batch = first.take().unwrap_or_else(|| {
            let mut analyser = Analyser::new(key);
            observations.iter().cloned().map(|o| analyser.analyse(o)).collect()
        });
        let store = Arc::new(apisonar_store::MemoryStore::default());
        let mut core = Core::open(store, CoreOptions::default(), None).expect("a memory store opens");
        let started = Instant::now();
        for t in batch {
            core.apply(t);
        }
        merge_secs = merge_secs.min(started.elapsed().as_secs_f64());
        let _ = core.finish();
    }
    let us = |secs: f64| secs * 1e6 / n;
    println!("{:<52} {:>10}", "stage", "µs/txn");
    println!("{:<52} {:>10.2}", "packet path (frames -> transactions)", us(packet_secs));
    println!("{:<52} {:>10.2}", "flow worker (packet path, observation, analysis)", us(worker_secs));
    println!("{:<52} {:>10.2}", "  observation and analysis in the worker", us(worker_secs - packet_secs));
    println!("{:<52} {:>10.2}", "observation, of a batch", us(observe_secs));
    println!("{:<52} {:>10.2}", "analysis of a batch, sampled (as a worker)", us(sampled_secs));
    println!("{:<52} {:>10.2}", "analysis of a batch, once learnt", us(learnt_secs));
    println!("{:<52} {:>10.2}", "analysis of a batch, in full (no sampling)", us(full_secs));
    println!("{:<52} {:>10.2}", "  of which injection search", us(injection_secs));
    println!("{:<52} {:>10.2}", "merge (inventory thread)", us(merge_secs));
    println!(
        "{} transactions; response bodies analysed in full {} and reused {}",
        transactions.len(),
        counts.0,
        counts.1
    );
    let learnt_counts = learnt.counts();
    println!(
        "once learnt (three runs): analysed in full {} and reused {}",
        learnt_counts.0 - learning_counts.0,
        learnt_counts.1 - learning_counts.1
    );
}
