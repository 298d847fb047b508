//! The flow pipeline of every run (`analyze` and `run`): reader threads (one for the files, or one per live
//! interface) decode each frame just far enough to pick a worker by a symmetric hash of its
//! connection (addresses and ports: both directions of a connection reach the same worker, and
//! one busy address pair spreads over all of them; the `Router` holds IP fragments until their
//! datagram shows its connection), workers run their own `FlowEngine`, and the calling thread
//! receives every event, handing back to each worker what it made (`Returns`), to be freed
//! where it was allocated. While events flow it polls for them rather than waiting in their
//! queue, so that a worker handing a batch over wakes nobody (`CONSUMER_POLL`).
//! Queues are bounded. Files are read at full speed and a slow consumer slows the reader (which
//! polls a full queue rather than waiting in it, so that workers never wake it); live
//! capture waits for a full worker queue at most `FULL_QUEUE_WAIT` (the kernel's ring, much
//! larger than the queue, holds the packets meanwhile), then drops the batch and counts it, and
//! drops at once until a queue takes a batch again.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use apisonar_flow::{
    ConnectionSummary, EventSink, FlowEngine, HttpTransaction, Limits, Route, Router, Stats, Timestamp, TlsHandshake,
};
use apisonar_wire::LinkType;

use crate::capture::{read_file, LiveSource, ReadError};
use crate::telemetry::{SourceCounters, Tally, Telemetry, WorkerSnapshot};
/// Frames per batch handed to a worker (amortises channel costs).
const BATCH: usize = 256;
/// Batches queued per worker (each up to ~400 KB of frames: 16 hold 4,096 frames, some 20 ms at
/// 200,000 frames/s, while the kernel buffer takes longer bursts), and event batches queued for
/// the consumer per worker (256 events, some 2 ms of a worker's work). What a worker makes for a
/// transaction comes back to it to be freed once merged (`Returns`), and the next transactions
/// reuse those blocks: with few in flight they come back still in its cache. (Eight batches
/// in flight left them to be fetched again: a worker took 4-5% longer, and the consumer too.)
const WORKER_QUEUE: usize = 16;
const EVENT_QUEUE: usize = 2;
/// Live: how long the reader waits for a full worker queue before it drops the batch. A short
/// stall downstream (a large table growing, a store flush, the first seconds while workers learn
/// the answers' shapes) then costs nothing: the kernel's ring (`buffer_mib`, about a quarter of
/// a second at 1 Gbit/s with 32 MiB) holds the packets while the reader waits, where the queue
/// itself holds some 20 ms. (At 50 ms, a soak at 490,000 packets/s lost 267 frames in its first
/// seconds, and none after.)
const FULL_QUEUE_WAIT: Duration = Duration::from_millis(150);
/// Files: how often the reader looks whether a full worker queue took a batch. A full queue
/// holds some 10 ms of a worker's work on API traffic and about 4 ms on a flood of SYNs (the
/// worker never runs dry); polling every 1 ms cost the reader a little less, but would leave
/// no margin on the cheapest frames.
const FILE_QUEUE_POLL: Duration = Duration::from_micros(500);
/// Live: how often a reader looks again at a full worker queue while it waits for it.
const LIVE_QUEUE_POLL: Duration = Duration::from_micros(200);
/// Events a worker collects before handing them over (it also hands them over whenever no
/// frames wait): one channel operation, and at most one wake-up, per batch rather than per event.
const EVENT_BATCH: usize = 128;

/// Offers `batch` to a worker's queue until it is taken (or the worker is gone), looking again
/// every `poll`; gives it back if the queue is still full at `deadline`. Polling rather than
/// waiting in `send`: a worker that takes a batch then wakes nobody (a futex wake-up per batch
/// was some 2% of a worker's time).
fn offer(tx: &SyncSender<Batch>, mut batch: Batch, poll: Duration, deadline: Option<Instant>) -> Option<Batch> {
    loop {
        batch = match tx.try_send(batch) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return None,
            Err(TrySendError::Full(refused)) => refused,
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(batch);
        }
        thread::sleep(poll);
    }
}

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

/// Emptied batches on their way back from the workers to the readers: reusing the buffers
/// spares the reader an allocation and its page faults per batch.
#[derive(Clone, Default)]
struct BatchPool(Arc<std::sync::Mutex<Vec<Batch>>>);

impl BatchPool {
    /// Batches kept for reuse; more are freed.
    const KEEP: usize = WORKER_QUEUE;

    fn take(&self) -> Batch {
        self.0.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_else(Batch::new)
    }

    fn give(&self, mut batch: Batch) {
        batch.bytes.clear();
        batch.frames.clear();
        if let Ok(mut pool) = self.0.lock() {
            if pool.len() < Self::KEEP {
                pool.push(batch);
            }
        }
    }
}

/// What workers send back.
pub enum Event {
    /// A transaction, with its stateless analysis when the pipeline was asked to make it (and
    /// it did not panic: a caught panic is counted and the transaction is not merged). The
    /// transaction itself only when the consumer writes transactions out (see `run`): otherwise
    /// the worker frees it at once, while its memory is still in the worker's cache. Boxed: an
    /// event is moved into a batch, out of it and into the returns, and a transaction is 480
    /// bytes, most of which the consumer never reads.
    Transaction(Option<Box<HttpTransaction>>, Option<Box<apisonar_app::AnalysedTransaction>>),
    Connection(ConnectionSummary),
    /// Boxed as transactions are (a handshake is 464 bytes, an event otherwise 128 at most).
    Tls(Box<TlsHandshake>),
    /// A WebSocket message, analysed when the inventory is kept.
    Message(Option<Box<apisonar_app::AnalysedMessage>>),
    /// A worker is done; its counters.
    Finished(Box<Stats>),
    /// Time for periodic work: after each batch of events, and when nothing arrived for a while.
    Tick,
}

/// What the consumer hands back to the worker whose batch of events it handled: what was
/// made on that worker is freed there (see `apisonar_app::Leftover`), and the emptied buffer
/// holds the worker's next batch.
#[derive(Default)]
pub struct Returns {
    events: Vec<Event>,
    /// As they came in their events: boxed, so nothing is moved out of the box.
    #[allow(clippy::vec_box)]
    transactions: Vec<Box<HttpTransaction>>,
    leftovers: Vec<apisonar_app::Leftover>,
}

impl Returns {
    /// A transaction the consumer is done with.
    pub fn transaction(&mut self, txn: Box<HttpTransaction>) {
        self.transactions.push(txn);
    }

    /// Where the consumer puts what merges left.
    pub fn leftovers(&mut self) -> &mut Vec<apisonar_app::Leftover> {
        &mut self.leftovers
    }
}

/// Handed-back batches queued per worker; with the queue full, the consumer frees them itself.
/// A worker takes them after every batch of frames, so a few are enough.
const RETURN_QUEUE: usize = 4;

struct WorkerEvents {
    worker: usize,
    events: SyncSender<(usize, Vec<Event>)>,
    pending: Vec<Event>,
    /// An event buffer handed back, for the next batch.
    spare: Option<Vec<Event>>,
    /// Analyse transactions here (the inventory is kept), to spread that work over workers.
    analyser: Option<apisonar_app::Analyser>,
    /// Send each transaction itself to the consumer (it writes them out).
    ship_transactions: bool,
}

impl WorkerEvents {
    fn push(&mut self, event: Event) {
        self.pending.push(event);
        if self.pending.len() >= EVENT_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let next = self.spare.take().unwrap_or_else(|| Vec::with_capacity(EVENT_BATCH));
            let _ = self.events.send((self.worker, std::mem::replace(&mut self.pending, next)));
        }
    }

    /// Frees what the consumer handed back, here where it was made, and keeps a buffer.
    fn take_back(&mut self, returns: &Receiver<Returns>) {
        while let Ok(Returns { events, transactions, leftovers }) = returns.try_recv() {
            drop((transactions, leftovers));
            if self.spare.is_none() && events.capacity() >= EVENT_BATCH {
                self.spare = Some(events);
            }
        }
    }
}

impl EventSink for WorkerEvents {
    fn on_transaction(&mut self, mut txn: HttpTransaction) {
        // A request whose method or target could not be decoded (HTTP/2 picked up mid-stream)
        // is reported, but says nothing the inventory could file.
        let readable = !txn.request.head.method().is_empty() && !txn.request.head.target().is_empty();
        let ship = self.ship_transactions;
        let analysis = self.analyser.as_mut().filter(|_| readable).and_then(|analyser| {
            crate::contain::contained("analysis", || {
                #[cfg(debug_assertions)]
                crate::contain::test_trigger::check("analysis", &String::from_utf8_lossy(txn.request.head.target()));
                let upgrade =
                    crate::observe::opens_websocket(&txn).then_some((txn.connection_id, txn.index_in_connection));
                // Only the bodies' lengths are read after this: their samples move, and so do
                // the heads' bytes of a transaction that is not written out.
                let observation = if ship {
                    crate::observe::observation_taking_bodies(&mut txn)
                } else {
                    crate::observe::observation_taking_all(&mut txn)
                };
                let mut analysed = Box::new(analyser.analyse(observation));
                analysed.upgrade = upgrade;
                analysed
            })
        });
        let shipped = ship.then(|| Box::new(txn));
        self.push(Event::Transaction(shipped, analysis));
    }
    fn on_message(&mut self, message: apisonar_flow::StreamMessage) {
        // Messages matter only to the inventory.
        let Some(analyser) = self.analyser.as_mut() else { return };
        let analysis = crate::contain::contained("analysis", || {
            let parent = (message.connection_id, message.parent_index);
            Box::new(analyser.analyse_message(crate::observe::message_observation(&message), parent))
        });
        self.push(Event::Message(analysis));
    }
    fn on_connection(&mut self, summary: ConnectionSummary) {
        self.push(Event::Connection(summary));
    }
    fn on_tls(&mut self, tls: TlsHandshake) {
        self.push(Event::Tls(Box::new(tls)));
    }
}

/// Per file: packets read, or where reading stopped.
pub type FileResults = Vec<(PathBuf, anyhow::Result<Result<u64, ReadError>>)>;

/// Where frames come from.
pub enum Input {
    /// Capture files, read in order as one capture, at full speed, nothing dropped.
    Files(Vec<PathBuf>),
    /// Live interfaces, one reader thread each, until a signal stops the run.
    Live(Vec<LiveSource>),
}

/// How often workers publish their counters, and how long a live worker waits for frames
/// before letting time pass (idle connections expire even when the link is quiet).
const PUBLISH_EVERY: Duration = Duration::from_secs(1);
const IDLE_TICK: Duration = Duration::from_millis(250);
/// Partial batches of a live capture are handed over at least this often.
const LIVE_FLUSH: Duration = Duration::from_millis(50);
/// The consumer gets an `Event::Tick` when nothing arrived for this long.
const CONSUMER_TICK: Duration = Duration::from_millis(200);
/// While batches come close together (within `CONSUMER_POLL_FOR` of the last), the consumer
/// looks for the next every `CONSUMER_POLL` rather than waiting in the queue, so that a worker
/// handing one over wakes nobody: waking a thread on another core cost the worker some 20 µs
/// (about 2% of its time, a wake-up per batch). A full batch is 0.5 ms or more of a worker's
/// work and the queue holds two per worker; slower traffic (live, partial batches every
/// `LIVE_FLUSH`) is waited for, not polled for.
const CONSUMER_POLL: Duration = Duration::from_micros(200);
const CONSUMER_POLL_FOR: Duration = Duration::from_millis(2);

/// The wall clock as a packet timestamp (live capture stamps frames with it).
fn wall_clock() -> Timestamp {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_secs_micros(now.as_secs() as i64, i64::from(now.subsec_micros()))
}

/// One batch buffer per worker, and where to send them.
struct Batcher {
    router: Router,
    batches: Vec<Batch>,
    senders: Vec<SyncSender<Batch>>,
    pool: BatchPool,
    /// Live: wait for a full queue at most `FULL_QUEUE_WAIT`, then drop and count.
    drop_when_full: bool,
    /// A wait ran out and no queue has taken a batch since: drop at once (a worker that stays
    /// behind must not slow the reader by a wait per batch).
    overloaded: bool,
}

impl Batcher {
    fn new(senders: Vec<SyncSender<Batch>>, pool: BatchPool, limits: &Limits, drop_when_full: bool) -> Batcher {
        Batcher {
            router: Router::new(limits, senders.len()),
            batches: senders.iter().map(|_| pool.take()).collect(),
            senders,
            pool,
            drop_when_full,
            overloaded: false,
        }
    }

    /// Adds a frame; returns how many frames were dropped because a queue was full.
    fn push(&mut self, link: LinkType, ts: Timestamp, data: &[u8], wire_len: u32) -> u64 {
        let mut dropped = match self.router.route(link, ts, data, wire_len) {
            Route::To(w) => self.add(w, link, ts, data, wire_len),
            Route::Held => 0,
        };
        dropped += self.add_released();
        dropped
    }

    /// Frames the router let go (fragments whose datagram completed or was given up on).
    fn add_released(&mut self) -> u64 {
        // Nearly every frame: nothing was held, and nothing is gathered.
        if !self.router.has_released() {
            return 0;
        }
        let released: Vec<_> = self.router.released().collect();
        released.into_iter().map(|(w, f)| self.add(w, f.link, f.ts, &f.data, f.wire_len)).sum()
    }

    fn add(&mut self, w: usize, link: LinkType, ts: Timestamp, data: &[u8], wire_len: u32) -> u64 {
        let Some(batch) = self.batches.get_mut(w) else { return 0 };
        let start = batch.bytes.len();
        batch.bytes.extend_from_slice(data);
        batch.frames.push((link, ts, wire_len, start..batch.bytes.len()));
        if batch.frames.len() >= BATCH {
            return self.send(w);
        }
        0
    }

    fn send(&mut self, w: usize) -> u64 {
        let (Some(batch), Some(tx)) = (self.batches.get_mut(w), self.senders.get(w)) else { return 0 };
        if batch.frames.is_empty() {
            return 0;
        }
        let full = std::mem::replace(batch, self.pool.take());
        if !self.drop_when_full {
            // Files are read faster than they are analysed: the queue is full most of the time,
            // and nothing is dropped.
            let _ = offer(tx, full, FILE_QUEUE_POLL, None);
            return 0;
        }
        // Live: a full queue is waited for up to `FULL_QUEUE_WAIT`, and not at all while the
        // worker stays behind.
        let wait = if self.overloaded { Duration::ZERO } else { FULL_QUEUE_WAIT };
        match offer(tx, full, LIVE_QUEUE_POLL, Some(Instant::now() + wait)) {
            None => {
                self.overloaded = false;
                0
            }
            Some(refused) => {
                self.overloaded = true;
                let dropped = refused.frames.len() as u64;
                self.pool.give(refused);
                dropped
            }
        }
    }

    /// Hands every partial batch over; returns frames dropped.
    fn flush(&mut self) -> u64 {
        (0..self.batches.len()).map(|w| self.send(w)).sum()
    }

    /// The end: held fragments and partial batches are sent even if that means waiting.
    fn close(mut self) {
        self.drop_when_full = false;
        self.router.release_all();
        self.add_released();
        self.flush();
    }
}

fn read_files(files: Vec<PathBuf>, mut batcher: Batcher, counters: &SourceCounters) -> FileResults {
    counters.running.store(true, Ordering::Relaxed);
    let mut results = Vec::new();
    let mut tally = Tally::default();
    for path in files {
        let result = read_file(&path, |link, frame| {
            tally.add(frame.wire_len, counters);
            batcher.push(link, frame.ts, frame.data, frame.wire_len);
        });
        results.push((path, result));
    }
    tally.publish(counters);
    batcher.close();
    counters.running.store(false, Ordering::Relaxed);
    results
}

/// Reads one interface until a signal stops the run or the device fails.
fn read_live(mut source: LiveSource, mut batcher: Batcher, counters: &SourceCounters) {
    counters.running.store(true, Ordering::Relaxed);
    let mut last_flush = Instant::now();
    let mut last_stats = Instant::now();
    let mut tally = Tally::default();
    let mut n = 0u64;
    loop {
        if crate::capture::stopped() {
            break;
        }
        match source.capture.next_packet() {
            Ok(packet) => {
                n += 1;
                tally.add(packet.header.len, counters);
                let ts = Timestamp::from_secs_micros(packet.header.ts.tv_sec, packet.header.ts.tv_usec);
                counters.dropped(batcher.push(source.link, ts, packet.data, packet.header.len));
                if !n.is_multiple_of(32) {
                    continue;
                }
            }
            // Non-blocking: nothing to read now.
            Err(pcap::Error::TimeoutExpired) => source.wait(100),
            Err(e) => {
                let why = crate::capture::describe(&e);
                tracing::error!(interface = %source.name, error = %why, "capture stopped");
                if let Ok(mut f) = counters.failure.lock() {
                    *f = Some(why);
                }
                break;
            }
        }
        if last_flush.elapsed() >= LIVE_FLUSH {
            counters.dropped(batcher.flush());
            tally.publish(counters);
            last_flush = Instant::now();
        }
        if last_stats.elapsed() >= PUBLISH_EVERY {
            publish_pcap_stats(&mut source, counters);
            last_stats = Instant::now();
        }
    }
    publish_pcap_stats(&mut source, counters);
    tally.publish(counters);
    batcher.close();
    counters.running.store(false, Ordering::Relaxed);
}

fn publish_pcap_stats(source: &mut LiveSource, counters: &SourceCounters) {
    if let Ok(stat) = source.capture.stats() {
        // libpcap's counters are 32-bit and wrap; widen by tracking the low half.
        let widen = |old: u64, new: u32| {
            let low = old as u32;
            old + u64::from(new.wrapping_sub(low))
        };
        let k = counters.kernel_dropped.load(Ordering::Relaxed);
        counters.kernel_dropped.store(widen(k, stat.dropped), Ordering::Relaxed);
        let i = counters.interface_dropped.load(Ordering::Relaxed);
        counters.interface_dropped.store(widen(i, stat.if_dropped), Ordering::Relaxed);
    }
}

/// Runs `workers` flow engines over the input; `consume` is called on this thread for every
/// event, for a `Tick` after each batch of them and when the input is quiet, and last for each
/// worker's `Finished`. With
/// `analyse` (the key of the store's masks), workers also do each transaction's stateless
/// analysis for the inventory. Transaction events carry the transaction itself only with
/// `ship_transactions` (the consumer writes them out). What `consume` puts in its `Returns`
/// goes back to the worker the event came from, to be freed there.
pub fn run(
    input: Input,
    limits: &Limits,
    workers: usize,
    analyse: Option<apisonar_engine::sensitive::MaskKey>,
    ship_transactions: bool,
    telemetry: &Arc<Telemetry>,
    mut consume: impl FnMut(Event, &mut Returns),
) -> FileResults {
    let workers = workers.max(1);
    let live = matches!(input, Input::Live(_));
    // The consumer's queue is shared: each worker gets its `EVENT_QUEUE` batches of it.
    let (event_tx, event_rx) = sync_channel::<(usize, Vec<Event>)>(EVENT_QUEUE.saturating_mul(workers));
    let mut frame_txs = Vec::new();
    let mut return_txs = Vec::new();
    let mut handles = Vec::new();
    let pool = BatchPool::default();
    for i in 0..workers {
        let (tx, rx) = sync_channel::<Batch>(WORKER_QUEUE);
        frame_txs.push(tx);
        let (return_tx, returns) = sync_channel::<Returns>(RETURN_QUEUE);
        return_txs.push(return_tx);
        let events = event_tx.clone();
        let limits = limits.clone();
        let telemetry = telemetry.clone();
        let pool = pool.clone();
        let handle = thread::Builder::new().name(format!("apisonar-flow-{i}")).spawn(move || {
            let mut engine = FlowEngine::shard(limits, i as u64, workers as u64);
            let analyser = analyse.map(apisonar_app::Analyser::new);
            let mut sink = WorkerEvents {
                worker: i,
                events,
                pending: Vec::with_capacity(EVENT_BATCH),
                spare: None,
                analyser,
                ship_transactions,
            };
            let mut last_publish = Instant::now();
            loop {
                // Events go out when no frames are waiting (or `EVENT_BATCH` of them are
                // pending): each hand-over may wake the consumer, and a wake-up costs as much
                // as analysing a few transactions.
                let next = match rx.try_recv() {
                    Ok(batch) => Ok(batch),
                    Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                    Err(TryRecvError::Empty) => {
                        sink.flush();
                        rx.recv_timeout(IDLE_TICK)
                    }
                };
                match next {
                    Ok(batch) => {
                        for (link, ts, wire_len, range) in &batch.frames {
                            let data = batch.bytes.get(range.clone()).unwrap_or_default();
                            engine.frame(*link, *ts, data, *wire_len, &mut sink);
                        }
                        pool.give(batch);
                    }
                    Err(RecvTimeoutError::Timeout) if live => engine.tick(wall_clock(), &mut sink),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                sink.take_back(&returns);
                if last_publish.elapsed() >= PUBLISH_EVERY {
                    telemetry.publish(i, snapshot(&engine));
                    last_publish = Instant::now();
                }
            }
            engine.finish(&mut sink);
            telemetry.publish(i, snapshot(&engine));
            telemetry.record_thread(&format!("flow-{i}"));
            sink.push(Event::Finished(Box::new(engine.stats().clone())));
            sink.flush();
        });
        if let Ok(h) = handle {
            handles.push(h);
        }
    }
    drop(event_tx);
    let mut readers = Vec::new();
    match input {
        Input::Files(files) => {
            let batcher = Batcher::new(frame_txs, pool, limits, false);
            let telemetry = telemetry.clone();
            readers.push(thread::Builder::new().name("apisonar-reader".into()).spawn(move || {
                let counters = telemetry.sources.first();
                let results = match counters {
                    Some(c) => read_files(files, batcher, c),
                    None => read_files(files, batcher, &SourceCounters::default()),
                };
                telemetry.record_thread("reader");
                results
            }));
        }
        Input::Live(sources) => {
            for (index, source) in sources.into_iter().enumerate() {
                let batcher = Batcher::new(frame_txs.clone(), pool.clone(), limits, true);
                let telemetry = telemetry.clone();
                let name = format!("apisonar-cap-{}", source.name);
                readers.push(thread::Builder::new().name(name).spawn(move || {
                    let name = format!("capture-{}", source.name);
                    if let Some(c) = telemetry.sources.get(index) {
                        read_live(source, batcher, c);
                    }
                    telemetry.record_thread(&name);
                    FileResults::new()
                }));
            }
            drop(frame_txs);
        }
    }
    let mut last_batch = Instant::now();
    loop {
        let received = match event_rx.try_recv() {
            Ok(batch) => Ok(batch),
            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) if last_batch.elapsed() < CONSUMER_POLL_FOR => {
                thread::sleep(CONSUMER_POLL);
                continue;
            }
            Err(TryRecvError::Empty) => event_rx.recv_timeout(CONSUMER_TICK),
        };
        match received {
            Ok((worker, mut events)) => {
                last_batch = Instant::now();
                let made = events.len();
                let mut returns = Returns {
                    events: Vec::new(),
                    transactions: Vec::with_capacity(made),
                    leftovers: Vec::with_capacity(made),
                };
                // What the merges will read first, made on a worker and not in this core's
                // caches, is read ahead for the whole batch: the misses overlap.
                let touched = events.iter().fold(0u64, |sum, event| match event {
                    Event::Transaction(_, Some(analysis)) => sum.wrapping_add(analysis.touch()),
                    _ => sum,
                });
                std::hint::black_box(touched);
                for event in events.drain(..) {
                    consume(event, &mut returns);
                }
                // Periodic work once a batch, not once an event: its clock reads alone were 4%
                // of the inventory thread.
                consume(Event::Tick, &mut returns);
                returns.events = events;
                // A worker that is gone, or behind in taking its returns: freed here.
                if let Some(tx) = return_txs.get(worker) {
                    let _ = tx.try_send(returns);
                }
            }
            Err(RecvTimeoutError::Timeout) => consume(Event::Tick, &mut Returns::default()),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // This thread merges every event (into the inventory when there is one).
    telemetry.record_thread(if analyse.is_some() { "inventory" } else { "events" });
    for h in handles {
        let _ = h.join();
    }
    readers.into_iter().filter_map(|r| r.ok()?.join().ok()).flatten().collect()
}

fn snapshot(engine: &FlowEngine) -> WorkerSnapshot {
    WorkerSnapshot {
        stats: engine.stats().clone(),
        active_flows: engine.active_flows(),
        buffered_bytes: engine.buffered_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A live batcher for one worker whose queue holds one batch.
    fn live() -> (Batcher, Receiver<Batch>) {
        let (tx, rx) = sync_channel::<Batch>(1);
        (Batcher::new(vec![tx], BatchPool::default(), &Limits::default(), true), rx)
    }

    /// Puts `n` frames in the worker's batch and hands it over; the frames dropped.
    fn send(batcher: &mut Batcher, n: usize) -> u64 {
        if let Some(batch) = batcher.batches.get_mut(0) {
            batch.frames.extend((0..n).map(|_| (LinkType::Ethernet, Timestamp(0), 60, 0..0)));
        }
        batcher.send(0)
    }

    #[test]
    fn a_short_stall_of_the_worker_drops_nothing_and_a_long_one_drops_once_waited() {
        let (mut batcher, rx) = live();
        assert_eq!(send(&mut batcher, 10), 0);
        // The queue is full; the worker takes the batch 20 ms later: the reader waited.
        let worker = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            let first = rx.recv().map(|b| b.frames.len()).unwrap_or(0);
            (first, rx)
        });
        let started = Instant::now();
        assert_eq!(send(&mut batcher, 5), 0, "a stall shorter than the wait costs no frame");
        assert!(started.elapsed() >= Duration::from_millis(15));
        let (first, rx) = worker.join().unwrap_or_else(|_| panic!("worker"));
        assert_eq!(first, 10);
        // A worker that stays behind: the batch is dropped after the wait, the next at once.
        let started = Instant::now();
        assert_eq!(send(&mut batcher, 7), 7);
        assert!(started.elapsed() >= FULL_QUEUE_WAIT);
        let started = Instant::now();
        assert_eq!(send(&mut batcher, 3), 3);
        assert!(started.elapsed() < FULL_QUEUE_WAIT / 2, "no second wait while overloaded");
        // Once the worker takes a batch again, waits are back.
        assert_eq!(rx.recv().map(|b| b.frames.len()).unwrap_or(0), 5);
        assert_eq!(send(&mut batcher, 2), 0);
        assert!(!batcher.overloaded);
    }
}
