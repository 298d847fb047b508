//! Flow-worker scaling benchmark (not a test): one generated capture, in memory, split over N
//! flow engines by `engine_for` exactly as the sensor's reader splits it, each engine on its own
//! thread. No reader and no consumer: this is the stage that `--workers N` multiplies, and it
//! shares nothing between engines, so it should scale with the cores.
//!
//!   cargo bench -p apisonar-flow --bench workers [-- MEGABYTES]   (default 100 per workload)

use std::time::Instant;

use apisonar_flow::{engine_for, EventSink, FlowEngine, HttpTransaction, Limits, Timestamp};
use apisonar_testkit::workload::{generate, Addresses, Pattern};
use apisonar_wire::LinkType;

/// Counts transactions and drops them.
struct Count(u64);

impl EventSink for Count {
    fn on_transaction(&mut self, _txn: HttpTransaction) {
        self.0 += 1;
    }
}

/// Runs every shard on its own engine and thread; returns (seconds, transactions).
fn run(shards: &[Vec<&(i64, Vec<u8>)>]) -> (f64, u64) {
    let n = shards.len() as u64;
    let started = Instant::now();
    let transactions = std::thread::scope(|s| {
        let handles: Vec<_> = shards
            .iter()
            .enumerate()
            .map(|(i, frames)| {
                s.spawn(move || {
                    let mut engine = FlowEngine::shard(Limits::default(), i as u64, n);
                    let mut sink = Count(0);
                    for (ts, frame) in frames {
                        let ts = Timestamp::from_secs_micros(ts / 1_000_000, ts % 1_000_000);
                        engine.frame(LinkType::Ethernet, ts, frame, frame.len() as u32, &mut sink);
                    }
                    engine.finish(&mut sink);
                    sink.0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    (started.elapsed().as_secs_f64(), transactions)
}

fn main() {
    let mb: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let max = cores.max(2);
    println!("flow workers alone, frames in memory; {cores} cores; best of 5");
    println!(
        "{:<11} {:>3} {:>8} {:>8} {:>10} {:>8} {:>9}",
        "workload", "N", "seconds", "Gbit/s", "txn", "speedup", "balance"
    );
    let workloads = [
        ("keepalive", Pattern::KeepAlive, Addresses::ManyPairs),
        ("keep-1pair", Pattern::KeepAlive, Addresses::OnePair),
        ("short", Pattern::ShortConnections, Addresses::ManyPairs),
        ("short-1pair", Pattern::ShortConnections, Addresses::OnePair),
    ];
    for (name, pattern, addresses) in workloads {
        let mut frames: Vec<(i64, Vec<u8>)> = Vec::new();
        generate(pattern, addresses, mb << 20, |ts, frame| frames.push((ts, frame.to_vec())));
        let bytes: usize = frames.iter().map(|(_, f)| f.len()).sum();
        let mut first = None;
        for n in 1..=max {
            let mut shards: Vec<Vec<&(i64, Vec<u8>)>> = vec![Vec::new(); n];
            for f in &frames {
                if let Some(shard) = shards.get_mut(engine_for(LinkType::Ethernet, &f.1, n)) {
                    shard.push(f);
                }
            }
            let (secs, txns) =
                (0..5).map(|_| run(&shards)).fold((f64::MAX, 0), |best, r| if r.0 < best.0 { r } else { best });
            let base = *first.get_or_insert(secs);
            // The busiest engine's share of frames against an even split (1.00 = even).
            let busiest = shards.iter().map(Vec::len).max().unwrap_or(0) as f64;
            let balance = busiest * n as f64 / frames.len().max(1) as f64;
            println!(
                "{name:<11} {n:>3} {secs:>8.3} {:>8.3} {txns:>10} {:>7.2}x {balance:>9.2}",
                bytes as f64 * 8.0 / secs / 1e9,
                base / secs
            );
        }
    }
}
