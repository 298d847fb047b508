//! Several flow workers on one machine: a reader thread decodes each frame just far enough to
//! pick a worker by a symmetric hash of its IP addresses (both directions of a connection, and
//! every fragment of a datagram, reach the same worker), workers run their own `FlowEngine`, and
//! the calling thread receives every event. Queues are bounded, so a slow consumer slows the
//! reader instead of growing memory.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread;

use apisonar_flow::{ConnectionSummary, EventSink, FlowEngine, HttpTransaction, Limits, Stats, Timestamp, TlsRecord};
use apisonar_wire::{address_pair, LinkType};

use crate::capture::{read_file, ReadError};

/// Frames per batch handed to a worker (amortises channel costs).
const BATCH: usize = 256;
/// Batches queued per worker, and events queued for the consumer.
const WORKER_QUEUE: usize = 64;
const EVENT_QUEUE: usize = 8192;

/// Frames for one worker in one buffer (one allocation per batch, not per frame).
struct Batch {
    bytes: Vec<u8>,
    frames: Vec<(LinkType, Timestamp, u32, std::ops::Range<usize>)>,
}

impl Batch {
    fn new() -> Batch {
        Batch { bytes: Vec::with_capacity(BATCH * 1600), frames: Vec::with_capacity(BATCH) }
    }
}

/// What workers send back.
pub enum Event {
    Transaction(HttpTransaction),
    Connection(ConnectionSummary),
    Tls(TlsRecord),
    /// A worker is done; its counters.
    Finished(Box<Stats>),
}

struct Forward(SyncSender<Event>);

impl EventSink for Forward {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        let _ = self.0.send(Event::Transaction(txn));
    }
    fn on_connection(&mut self, summary: ConnectionSummary) {
        let _ = self.0.send(Event::Connection(summary));
    }
    fn on_tls(&mut self, tls: TlsRecord) {
        let _ = self.0.send(Event::Tls(tls));
    }
}

fn addr_hash(a: &IpAddr) -> u64 {
    match a {
        IpAddr::V4(v4) => u64::from(u32::from(*v4)),
        IpAddr::V6(v6) => {
            let n = u128::from(*v6);
            (n as u64) ^ ((n >> 64) as u64)
        }
    }
}

/// The worker for a frame: a hash of its address pair that does not depend on direction.
fn shard(link: LinkType, data: &[u8], workers: usize) -> usize {
    let Some((a, b)) = address_pair(link, data) else { return 0 };
    let (x, y) = (addr_hash(&a), addr_hash(&b));
    let h = (x ^ y).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ x.min(y).rotate_left(17);
    (h % workers as u64) as usize
}

/// Per file: packets read, or where reading stopped.
pub type FileResults = Vec<(PathBuf, anyhow::Result<Result<u64, ReadError>>)>;

/// Runs `workers` flow engines over the files; `consume` is called on this thread for every
/// event, the last ones being each worker's `Finished`.
pub fn run(files: Vec<PathBuf>, limits: &Limits, workers: usize, mut consume: impl FnMut(Event)) -> FileResults {
    let workers = workers.max(1);
    let (event_tx, event_rx): (SyncSender<Event>, Receiver<Event>) = sync_channel(EVENT_QUEUE);
    let mut frame_txs = Vec::new();
    let mut handles = Vec::new();
    for i in 0..workers {
        let (tx, rx) = sync_channel::<Batch>(WORKER_QUEUE);
        frame_txs.push(tx);
        let events = event_tx.clone();
        let limits = limits.clone();
        let handle = thread::Builder::new().name(format!("apisonar-flow-{i}")).spawn(move || {
            let mut engine = FlowEngine::shard(limits, i as u64, workers as u64);
            let mut sink = Forward(events);
            for batch in rx {
                for (link, ts, wire_len, range) in batch.frames {
                    let data = batch.bytes.get(range).unwrap_or_default();
                    engine.frame(link, ts, data, wire_len, &mut sink);
                }
            }
            engine.finish(&mut sink);
            let _ = sink.0.send(Event::Finished(Box::new(engine.stats().clone())));
        });
        if let Ok(h) = handle {
            handles.push(h);
        }
    }
    drop(event_tx);
    let reader = thread::Builder::new().name("apisonar-reader".into()).spawn(move || {
        let mut batches: Vec<Batch> = (0..workers).map(|_| Batch::new()).collect();
        let mut results = Vec::new();
        for path in files {
            let result = read_file(&path, |link, frame| {
                let w = shard(link, frame.data, workers);
                if let Some(batch) = batches.get_mut(w) {
                    let start = batch.bytes.len();
                    batch.bytes.extend_from_slice(frame.data);
                    batch.frames.push((link, frame.ts, frame.wire_len, start..batch.bytes.len()));
                    if batch.frames.len() >= BATCH {
                        let full = std::mem::replace(batch, Batch::new());
                        if let Some(tx) = frame_txs.get(w) {
                            let _ = tx.send(full);
                        }
                    }
                }
            });
            results.push((path, result));
        }
        for (w, batch) in batches.into_iter().enumerate() {
            if let Some(tx) = frame_txs.get(w) {
                let _ = tx.send(batch);
            }
        }
        results
    });
    for event in event_rx {
        consume(event);
    }
    for h in handles {
        let _ = h.join();
    }
    match reader.map(|r| r.join()) {
        Ok(Ok(results)) => results,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_reach_the_same_worker() {
        use etherparse::PacketBuilder;
        let frame = |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16| {
            let mut out = Vec::new();
            let _ =
                PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64).tcp(sp, dp, 1, 100).write(&mut out, b"x");
            out
        };
        for n in 2..6 {
            for i in 0..50u8 {
                let a = frame([10, 0, i, 1], [10, 1, 0, i], 40000 + u16::from(i), 80);
                let b = frame([10, 1, 0, i], [10, 0, i, 1], 80, 40000 + u16::from(i));
                assert_eq!(shard(LinkType::Ethernet, &a, n), shard(LinkType::Ethernet, &b, n));
            }
        }
    }
}
