//! Per-stage budget, measured by criterion (a benchmark, not a test): each stage of the sensor
//! alone on one core, over the transactions of the benchmark workload (testkit: JSON API traffic
//! in 1500-byte frames, one address pair, keep-alive: the captures `scripts/bench.sh` writes).
//!
//!   cargo bench -p apisonar --bench stage_budget [-- FILTER]     (STAGE_MB=N: workload size, 30)
//!
//! Criterion reports each stage's time for the whole workload and its throughput in
//! transactions per second (`thrpt`, elem/s): a stage's budget per transaction is one over it.
//! `cargo bench -p apisonar --bench stages` prints the same stages as microseconds per
//! transaction in one table, best of three, for a quick look.

mod common;

// The sensor's allocator, so the figures are the sensor's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use apisonar_app::{analyse, AnalysedTransaction, Analyser, Core, CoreOptions};
use apisonar_engine::findings::injection_attempts;
use apisonar_engine::sensitive::MaskKey;
use apisonar_engine::Observation;
use common::{observe, packet_path, workload};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// A flow worker's analysis of every observation, from a worker that has seen nothing yet
/// (so the figure includes learning the answers' shapes, as at a sensor's start).
fn sampled(observations: Vec<Observation>, key: MaskKey) -> Vec<AnalysedTransaction> {
    let mut analyser = Analyser::new(key);
    observations.into_iter().map(|o| analyser.analyse(o)).collect()
}

fn stages(c: &mut Criterion) {
    let mb: u64 = std::env::var("STAGE_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let frames = workload(mb);
    let transactions = packet_path(&frames);
    let observations: Vec<Observation> = transactions.iter().map(observe::observation).collect();
    let key = MaskKey::new([7; 32]);
    assert!(!observations.is_empty(), "the workload made no transactions");

    let mut group = c.benchmark_group(format!("stage ({} transactions)", transactions.len()));
    group.throughput(Throughput::Elements(transactions.len() as u64));
    group.sample_size(10);
    group.bench_function("packet path", |b| b.iter(|| packet_path(&frames).len()));
    group.bench_function("observation", |b| b.iter(|| transactions.iter().map(observe::observation).count()));
    group.bench_function("analysis, sampled", |b| {
        b.iter_batched(|| observations.clone(), |o| sampled(o, key), BatchSize::LargeInput)
    });
    group.bench_function("analysis, in full", |b| {
        b.iter_batched(
            || observations.clone(),
            |o| o.into_iter().map(|o| analyse(o, &key)).collect::<Vec<_>>(),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("injection search", |b| {
        b.iter(|| observations.iter().map(|o| injection_attempts(o).len()).sum::<usize>())
    });
    // The inventory thread: catalog, detectors and alert policy (the store is written on
    // another thread, outside this figure).
    group.bench_function("merge", |b| {
        b.iter_batched(
            || {
                let store = Arc::new(apisonar_store::MemoryStore::default());
                let core = Core::open(store, CoreOptions::default(), None).expect("a memory store opens");
                (sampled(observations.clone(), key), core)
            },
            |(batch, mut core)| {
                for t in batch {
                    core.apply(t);
                }
                core
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
