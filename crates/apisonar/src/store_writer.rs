//! The one thread that writes the inventory to the store. The inventory thread hands it each
//! second's endpoint changes and alert occurrences and goes on merging transactions; sled's
//! work (encoding, tree updates, alert merges) and the alert stream happen here.

use std::io::Write;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use apisonar_engine::{Alert, AlertMerge, Changes};
use apisonar_store::{SledStore, Store, StoreError};

use crate::sink::Output;

/// Writes waiting for the writer. Small: a writer that falls behind slows the inventory thread
/// (and through it the workers) instead of holding seconds of changes in memory.
const QUEUE: usize = 4;

/// A write still running after this long is taken for a stuck store. sled 0.34 can deadlock
/// under heavy write load (its flusher's garbage collection against a writer waiting for a new
/// segment, spacejam/sled#1412; seen here once on a loaded machine): rather than hang, the sensor
/// then stops saving, reports the store as failed (/healthz turns 503, so a supervisor restarts
/// it) and still exits when asked.
pub const STALL_AFTER: Duration = Duration::from_secs(60);

/// The cap on stored alerts: how many there may be, how many there were at start, and where
/// occurrences of alerts it kept out are counted.
pub struct AlertCap {
    pub max: usize,
    pub stored: usize,
    pub overflowed: Arc<std::sync::atomic::AtomicU64>,
}

enum Job {
    /// Endpoint changes and alert occurrences (aggregated by dedup key), in that order.
    Write(Changes, Vec<Alert>),
    /// Retention: delete alerts last seen before this time.
    PruneAlerts(i64),
    /// Raise or update shadow/zombie alerts from what is stored (after the writes before it).
    Posture,
    /// Holds the writer this long (tests: a store that stops answering).
    #[cfg(test)]
    Stall(Duration),
}

pub struct StoreWriter {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<Option<Output>>>,
    /// The first write that failed; later jobs are skipped (nothing half-written on top).
    error: Arc<Mutex<Option<StoreError>>>,
    /// When the job now running started.
    busy_since: Arc<Mutex<Option<Instant>>>,
    stall_after: Duration,
}

impl StoreWriter {
    pub fn spawn(store: SledStore, stream: Option<Output>, cap: AlertCap) -> StoreWriter {
        StoreWriter::with_stall_limit(store, stream, cap, STALL_AFTER)
    }

    fn with_stall_limit(
        store: SledStore,
        mut stream: Option<Output>,
        mut cap: AlertCap,
        stall_after: Duration,
    ) -> StoreWriter {
        let (jobs, rx) = sync_channel::<Job>(QUEUE);
        let error: Arc<Mutex<Option<StoreError>>> = Arc::default();
        let busy_since: Arc<Mutex<Option<Instant>>> = Arc::default();
        let (failed, busy) = (error.clone(), busy_since.clone());
        let thread = std::thread::Builder::new().name("apisonar-store".into()).spawn(move || {
            for job in rx {
                if failed.lock().map(|e| e.is_some()).unwrap_or(true) {
                    continue;
                }
                set(&busy, Some(Instant::now()));
                let result = run(&store, job, &mut stream, &mut cap);
                set(&busy, None);
                if let Err(e) = result {
                    if let Ok(mut slot) = failed.lock() {
                        slot.get_or_insert(e);
                    }
                }
            }
            stream
        });
        match thread {
            Ok(thread) => StoreWriter { jobs: Some(jobs), thread: Some(thread), error, busy_since, stall_after },
            Err(e) => {
                let error = Arc::new(Mutex::new(Some(StoreError::Io(format!("cannot start the store writer: {e}")))));
                StoreWriter { jobs: None, thread: None, error, busy_since, stall_after }
            }
        }
    }

    pub fn write(&self, changes: Changes, alerts: Vec<Alert>) {
        self.send(Job::Write(changes, alerts));
    }

    pub fn sync_posture(&self) {
        self.send(Job::Posture);
    }

    pub fn prune_alerts(&self, cutoff: i64) {
        self.send(Job::PruneAlerts(cutoff));
    }

    /// Queues a job, waiting while the queue is full, unless the writer is stuck (then the job
    /// is dropped: the failure is reported by `failed`).
    fn send(&self, mut job: Job) {
        let Some(jobs) = &self.jobs else { return };
        loop {
            match jobs.try_send(job) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    if self.stuck_for().is_some() {
                        return;
                    }
                    job = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    /// How long the job now running has run, if that is past the stall limit.
    fn stuck_for(&self) -> Option<Duration> {
        let since = (*self.busy_since.lock().ok()?)?;
        Some(since.elapsed()).filter(|d| *d >= self.stall_after)
    }

    /// Why nothing more is saved, if that is so: the first failed write, or a stuck one.
    pub fn failed(&self) -> Option<String> {
        if let Some(e) = self.error.lock().ok()?.as_ref() {
            return Some(e.to_string());
        }
        self.stuck_for().map(stuck)
    }

    /// Waits for every queued job; returns the alert stream and the first failure. A stuck
    /// writer is left behind (its thread cannot be stopped) and reported as the failure.
    pub fn finish(mut self) -> (Option<Output>, Option<StoreError>) {
        self.jobs = None;
        let Some(thread) = self.thread.take() else {
            return (None, self.error.lock().ok().and_then(|mut e| e.take()));
        };
        while !thread.is_finished() {
            if let Some(d) = self.stuck_for() {
                return (None, Some(StoreError::Io(stuck(d))));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let stream = thread.join().ok().flatten();
        let error = self.error.lock().ok().and_then(|mut e| e.take());
        (stream, error)
    }
}

fn stuck(running: Duration) -> String {
    format!("a store write has not finished in {} s; nothing more is saved", running.as_secs())
}

fn set(slot: &Mutex<Option<Instant>>, value: Option<Instant>) {
    if let Ok(mut s) = slot.lock() {
        *s = value;
    }
}

fn run(store: &SledStore, job: Job, stream: &mut Option<Output>, cap: &mut AlertCap) -> Result<(), StoreError> {
    let stored = match job {
        Job::Write(changes, alerts) => {
            store.apply(&changes)?;
            let mut stored = Vec::with_capacity(alerts.len());
            let mut refused: std::collections::BTreeMap<String, apisonar_engine::Overflow> = Default::default();
            for a in &alerts {
                // A full alert store still updates the alerts it has; new ones are counted.
                if cap.stored >= cap.max && !store.has_alert(&a.dedup_key())? {
                    let o = refused
                        .entry(a.host.clone())
                        .or_insert_with(|| apisonar_engine::Overflow { host: a.host.clone(), ..Default::default() });
                    o.count(apisonar_engine::OverflowReason::Alerts, a.count, a.last_seen);
                    cap.overflowed.fetch_add(a.count, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                let (alert, new) = store.upsert_alert(a, AlertMerge::Add)?;
                cap.stored = cap.stored.saturating_add(usize::from(new));
                stored.push(alert);
            }
            if !refused.is_empty() {
                store.apply(&Changes { overflow: refused.into_values().collect(), ..Changes::default() })?;
            }
            stored
        }
        Job::PruneAlerts(cutoff) => {
            let pruned = store.prune_alerts(cutoff)?;
            cap.stored = cap.stored.saturating_sub(pruned);
            Vec::new()
        }
        Job::Posture => apisonar_web::views::sync_posture_alerts(store)?,
        #[cfg(test)]
        Job::Stall(d) => {
            std::thread::sleep(d);
            Vec::new()
        }
    };
    stream_alerts(stream, &stored);
    Ok(())
}

/// Writes alerts to the stream; a stream that fails (a closed pipe) is dropped, analysis goes on.
pub fn stream_alerts(stream: &mut Option<Output>, alerts: &[Alert]) {
    let Some(w) = stream else { return };
    for alert in alerts {
        let line = serde_json::to_string(&crate::alerts::AlertRecord::new(alert)).unwrap_or_default();
        if writeln!(w, "{line}").is_err() {
            *stream = None;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apisonar_engine::{Endpoint, EndpointKey, Severity};
    use apisonar_store::SledOptions;

    /// An alert stream the test can read after the writer is done with it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn no_cap() -> AlertCap {
        AlertCap { max: usize::MAX, stored: 0, overflowed: Arc::default() }
    }

    #[test]
    fn a_full_alert_store_updates_its_alerts_and_counts_new_ones() {
        let dir = std::env::temp_dir().join(format!("apisonar-store-alert-cap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let overflowed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer =
            StoreWriter::spawn(store.clone(), None, AlertCap { max: 2, stored: 0, overflowed: overflowed.clone() });
        let alert = |path: &str| {
            let key = EndpointKey { host: "api.test".into(), method: "GET".into(), path: path.into() };
            Alert::occurrence(&key, "10.0.0.1", 1, "test_kind", None, Severity::Low, "t".into(), "e".into())
        };
        writer.write(Changes::default(), vec![alert("/a"), alert("/b"), alert("/c")]);
        writer.write(Changes::default(), vec![alert("/a"), alert("/d")]);
        writer.prune_alerts(0);
        let (_, error) = writer.finish();
        assert!(error.is_none());
        let alerts = store.alerts().unwrap_or_else(|e| panic!("{e}"));
        let paths: Vec<(&str, u64)> = alerts.iter().map(|a| (a.path.as_str(), a.count)).collect();
        assert_eq!(paths, [("/a", 2), ("/b", 1)]);
        assert_eq!(overflowed.load(std::sync::atomic::Ordering::Relaxed), 2);
        let overflow = store.overflow().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(overflow.iter().map(|o| (o.host.as_str(), o.total())).collect::<Vec<_>>(), [("api.test", 2)]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stuck_store_is_reported_and_does_not_hang_the_sensor() {
        let dir = std::env::temp_dir().join(format!("apisonar-store-stall-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let writer = StoreWriter::with_stall_limit(store, None, no_cap(), Duration::from_millis(300));
        let started = Instant::now();
        writer.send(Job::Stall(Duration::from_secs(5)));
        assert!(writer.failed().is_none(), "not stuck yet");
        // More writes than the queue holds: sending gives up once the writer is stuck.
        for _ in 0..QUEUE + 3 {
            writer.write(Changes::default(), Vec::new());
        }
        let why = writer.failed().unwrap_or_default();
        assert!(why.contains("has not finished"), "{why}");
        let (_, error) = writer.finish();
        assert!(error.is_some_and(|e| e.to_string().contains("nothing more is saved")));
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    }

    #[test]
    fn writes_land_in_order_and_stored_alerts_are_streamed() {
        let dir = std::env::temp_dir().join(format!("apisonar-store-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let stream = Shared::default();
        let writer = StoreWriter::spawn(store.clone(), Some(Box::new(stream.clone())), no_cap());
        let key = EndpointKey { host: "api.test".into(), method: "GET".into(), path: "/users/{id}".into() };
        let endpoint = Endpoint {
            host: key.host.clone(),
            method: key.method.clone(),
            path: key.path.clone(),
            hits: 3,
            ..Endpoint::default()
        };
        let alert = Alert::occurrence(&key, "10.0.0.1", 1, "test_kind", None, Severity::Low, "t".into(), "e".into());
        writer.write(Changes { upserts: vec![endpoint], ..Changes::default() }, vec![alert.clone()]);
        writer.write(Changes::default(), vec![alert]);
        assert!(writer.failed().is_none());
        let (returned, error) = writer.finish();
        assert!(error.is_none() && returned.is_some());
        let endpoints = store.endpoints().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(endpoints.iter().map(|e| (e.path.as_str(), e.hits)).collect::<Vec<_>>(), [("/users/{id}", 3)]);
        let alerts = store.alerts().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].count, 2, "the second occurrence merged into the first");
        // Each write streamed the alert as stored: first with one occurrence, then two.
        let text = String::from_utf8(stream.0.lock().map(|b| b.clone()).unwrap_or_default()).unwrap_or_default();
        let counts: Vec<u64> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).ok().and_then(|v| v["count"].as_u64()).unwrap_or(0))
            .collect();
        assert_eq!(counts, [1, 2], "{text}");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
