//! The one thread that writes the store. The core hands it each second's endpoint changes, alert
//! occurrences and TLS records, and the store side of commands (alert states, specs, pins), in
//! order: a dashboard change and the sensor's writes never interleave, so none is lost.

use std::sync::mpsc::{sync_channel, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use apisonar_engine::suppression::Suppression;
use apisonar_engine::tlsposture::TlsHost;
use apisonar_engine::{Alert, AlertChange, AlertMerge, Changes, Overflow, OverflowReason, Spec};
use apisonar_store::{Store, StoreError, TemplateOverride};

use crate::core::AlertStream;
use crate::{CoreError, Outcome};

/// Writes waiting for the writer. Small: a writer that falls behind slows the core's thread
/// (and through it the workers) instead of holding seconds of changes in memory.
const QUEUE: usize = 4;

/// A write still running after this long is taken for a stuck store. sled 0.34 can deadlock
/// under heavy write load (its flusher's garbage collection against a writer waiting for a new
/// segment, spacejam/sled#1412; seen here once on a loaded machine): rather than hang, the sensor
/// then stops saving, reports the store as failed (/healthz turns 503, so a supervisor restarts
/// it) and still exits when asked.
pub const STALL_AFTER: Duration = Duration::from_secs(60);

pub(crate) type SharedStore = Arc<dyn Store + Send + Sync>;
/// Where a command's outcome goes once the store has it (durably).
pub(crate) type Reply = Sender<Result<Outcome, CoreError>>;

/// The cap on stored alerts: how many there may be, how many there are, and where occurrences
/// of alerts it kept out are counted.
pub(crate) struct AlertCap {
    pub(crate) max: usize,
    pub(crate) stored: usize,
    pub(crate) overflowed: Arc<std::sync::atomic::AtomicU64>,
}

pub(crate) enum Job {
    /// Endpoint changes, alert occurrences (aggregated by dedup key) and TLS records.
    Write {
        changes: Changes,
        alerts: Vec<Alert>,
        tls_hosts: Vec<TlsHost>,
        /// The whole rule list, when it or a count changed.
        suppressions: Option<Vec<Suppression>>,
    },
    /// Answers a command once everything sent before is durable.
    Answer {
        reply: Reply,
        outcome: Outcome,
    },
    /// Raise or update shadow/zombie alerts from what is stored; with a reply, flush and answer
    /// how many changed (and the operations of the spec that asked for it).
    Posture(Option<(Reply, usize)>),
    /// Retention: delete alerts last seen before this time.
    PruneAlerts(i64),
    ChangeAlert {
        id: u64,
        change: AlertChange,
        by: String,
        at: i64,
        reply: Reply,
    },
    PutSpec(Box<Spec>),
    /// Remove a spec, re-derive shadow/zombie alerts, flush, answer whether it existed.
    RemoveSpec {
        name: String,
        reply: Reply,
    },
    /// Store a pin, flush, answer how many endpoints it folded.
    AddOverride {
        rule: TemplateOverride,
        folded: usize,
        reply: Reply,
    },
    RemoveOverride {
        rule: TemplateOverride,
        reply: Reply,
    },
    /// Holds the writer this long (tests: a store that stops answering).
    #[cfg(test)]
    Stall(Duration),
}

pub(crate) struct Writer {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<Option<Box<dyn AlertStream>>>>,
    /// The first write that failed; later jobs are skipped (nothing half-written on top).
    error: Arc<Mutex<Option<StoreError>>>,
    /// When the job now running started.
    busy_since: Arc<Mutex<Option<Instant>>>,
    stall_after: Duration,
}

impl Writer {
    pub(crate) fn spawn(store: SharedStore, stream: Option<Box<dyn AlertStream>>, cap: AlertCap) -> Writer {
        Writer::with_stall_limit(store, stream, cap, STALL_AFTER)
    }

    fn with_stall_limit(
        store: SharedStore,
        mut stream: Option<Box<dyn AlertStream>>,
        mut cap: AlertCap,
        stall_after: Duration,
    ) -> Writer {
        let (jobs, rx) = sync_channel::<Job>(QUEUE);
        let error: Arc<Mutex<Option<StoreError>>> = Arc::default();
        let busy_since: Arc<Mutex<Option<Instant>>> = Arc::default();
        let (failed, busy) = (error.clone(), busy_since.clone());
        let thread = std::thread::Builder::new().name("apisonar-store".into()).spawn(move || {
            for job in rx {
                if let Some(e) = failed.lock().ok().and_then(|e| e.as_ref().map(ToString::to_string)) {
                    refuse(job, &e);
                    continue;
                }
                set(&busy, Some(Instant::now()));
                let result = run(store.as_ref(), job, &mut stream, &mut cap);
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
            Ok(thread) => Writer { jobs: Some(jobs), thread: Some(thread), error, busy_since, stall_after },
            Err(e) => {
                let error = Arc::new(Mutex::new(Some(StoreError::Io(format!("cannot start the store writer: {e}")))));
                Writer { jobs: None, thread: None, error, busy_since, stall_after }
            }
        }
    }

    /// Queues a job, waiting while the queue is full, unless the writer is stuck (then the job
    /// is refused: the failure is reported by `failed`).
    pub(crate) fn send(&self, mut job: Job) {
        let Some(jobs) = &self.jobs else {
            refuse(job, "the store writer is not running");
            return;
        };
        loop {
            match jobs.try_send(job) {
                Ok(()) => return,
                Err(TrySendError::Disconnected(back)) => {
                    refuse(back, "the store writer stopped");
                    return;
                }
                Err(TrySendError::Full(back)) => {
                    if let Some(d) = self.stuck_for() {
                        refuse(back, &stuck(d));
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
    pub(crate) fn failed(&self) -> Option<String> {
        if let Some(e) = self.error.lock().ok()?.as_ref() {
            return Some(e.to_string());
        }
        self.stuck_for().map(stuck)
    }

    /// Waits for every queued job; returns the alert stream and the first failure. A stuck
    /// writer is left behind (its thread cannot be stopped) and reported as the failure.
    pub(crate) fn finish(mut self) -> (Option<Box<dyn AlertStream>>, Option<StoreError>) {
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

/// Answers a job that will not run, so that nobody waits for it.
fn refuse(job: Job, why: &str) {
    let reply = match job {
        Job::Posture(Some((reply, _))) => reply,
        Job::ChangeAlert { reply, .. }
        | Job::Answer { reply, .. }
        | Job::RemoveSpec { reply, .. }
        | Job::AddOverride { reply, .. }
        | Job::RemoveOverride { reply, .. } => reply,
        _ => return,
    };
    let _ = reply.send(Err(CoreError::Writer(why.to_string())));
}

/// Makes the change durable and answers `result` (a failure also stops the writer, through
/// the caller).
fn answer(store: &dyn Store, reply: Reply, result: Result<Outcome, StoreError>) -> Result<(), StoreError> {
    match result.and_then(|outcome| store.flush().map(|()| outcome)) {
        Ok(outcome) => {
            let _ = reply.send(Ok(outcome));
            Ok(())
        }
        Err(e) => {
            let _ = reply.send(Err(CoreError::Writer(e.to_string())));
            Err(e)
        }
    }
}

fn run(
    store: &dyn Store,
    job: Job,
    stream: &mut Option<Box<dyn AlertStream>>,
    cap: &mut AlertCap,
) -> Result<(), StoreError> {
    let stored = match job {
        Job::Write { changes, alerts, tls_hosts, suppressions } => {
            store.apply(&changes)?;
            if !tls_hosts.is_empty() {
                store.put_tls_hosts(&tls_hosts)?;
            }
            if let Some(rules) = suppressions {
                store.put_suppressions(&rules)?;
            }
            write_alerts(store, alerts, cap)?
        }
        Job::Posture(reply) => {
            let changed = crate::posture::sync_posture_alerts(store);
            if let Some((reply, operations)) = reply {
                let outcome = match &changed {
                    Ok(c) => Ok(Outcome::Posture { operations, alerts: c.len() }),
                    Err(e) => Err(StoreError::Io(e.to_string())),
                };
                answer(store, reply, outcome)?;
            }
            changed?
        }
        Job::PruneAlerts(cutoff) => {
            let pruned = store.prune_alerts(cutoff)?;
            cap.stored = cap.stored.saturating_sub(pruned);
            Vec::new()
        }
        Job::Answer { reply, outcome } => {
            answer(store, reply, Ok(outcome))?;
            Vec::new()
        }
        Job::ChangeAlert { id, change, by, at, reply } => {
            answer(store, reply, store.change_alert(id, &change, &by, at).map(|a| Outcome::Alert(a.map(Box::new))))?;
            Vec::new()
        }
        Job::PutSpec(spec) => {
            store.put_spec(&spec)?;
            Vec::new()
        }
        Job::RemoveSpec { name, reply } => {
            let removed = store.remove_spec(&name)?;
            let changed = crate::posture::sync_posture_alerts(store)?;
            answer(store, reply, Ok(Outcome::Removed(removed)))?;
            changed
        }
        Job::AddOverride { rule, folded, reply } => {
            answer(store, reply, store.add_override(&rule).map(|()| Outcome::Pinned(folded)))?;
            Vec::new()
        }
        Job::RemoveOverride { rule, reply } => {
            answer(store, reply, store.remove_override(&rule).map(Outcome::Removed))?;
            Vec::new()
        }
        #[cfg(test)]
        Job::Stall(d) => {
            std::thread::sleep(d);
            Vec::new()
        }
    };
    if let Some(s) = stream {
        if s.stored(&stored).is_err() {
            // A stream that fails (a closed pipe) is dropped; analysis goes on.
            *stream = None;
        }
    }
    Ok(())
}

/// Upserts alert occurrences within the alert cap; returns the stored alerts that are news (new,
/// or changed in state or severity), for the alert stream.
fn write_alerts(store: &dyn Store, alerts: Vec<Alert>, cap: &mut AlertCap) -> Result<Vec<Alert>, StoreError> {
    let mut stored = Vec::with_capacity(alerts.len());
    let mut refused: std::collections::BTreeMap<String, Overflow> = Default::default();
    for a in &alerts {
        // A full alert store still updates the alerts it has; new ones are counted.
        if cap.stored >= cap.max && !store.has_alert(&a.dedup_key())? {
            let o = refused
                .entry(a.host.clone())
                .or_insert_with(|| Overflow { host: a.host.clone(), ..Default::default() });
            o.count(OverflowReason::Alerts, a.count, a.last_seen);
            cap.overflowed.fetch_add(a.count, std::sync::atomic::Ordering::Relaxed);
            continue;
        }
        let up = store.upsert_alert(a, AlertMerge::Add)?;
        cap.stored = cap.stored.saturating_add(usize::from(up.is_new()));
        if up.is_news() {
            stored.push(up.alert);
        }
    }
    if !refused.is_empty() {
        store.apply(&Changes { overflow: refused.into_values().collect(), ..Changes::default() })?;
    }
    Ok(stored)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use apisonar_engine::{Endpoint, EndpointKey, Severity};
    use apisonar_store::MemoryStore;

    /// An alert stream the test can read after the writer is done with it.
    #[derive(Clone, Default)]
    pub(crate) struct Collected(pub(crate) Arc<Mutex<Vec<Alert>>>);

    impl AlertStream for Collected {
        fn stored(&mut self, alerts: &[Alert]) -> std::io::Result<()> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(alerts);
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn no_cap() -> AlertCap {
        AlertCap { max: usize::MAX, stored: 0, overflowed: Arc::default() }
    }

    fn alert(path: &str) -> Alert {
        let key = EndpointKey { host: "api.test".into(), method: "GET".into(), path: path.into() };
        Alert::occurrence(&key, "10.0.0.1", 1, "test_kind", None, Severity::Low, "t".into(), "e".into())
    }

    fn write(writer: &Writer, changes: Changes, alerts: Vec<Alert>) {
        writer.send(Job::Write { changes, alerts, tls_hosts: Vec::new(), suppressions: None });
    }

    #[test]
    fn writes_land_in_order_and_news_of_alerts_is_streamed() {
        let store = Arc::new(MemoryStore::default());
        let stream = Collected::default();
        let writer = Writer::spawn(store.clone(), Some(Box::new(stream.clone())), no_cap());
        let endpoint = Endpoint {
            host: "api.test".into(),
            method: "GET".into(),
            path: "/users/{id}".into(),
            hits: 3,
            ..Endpoint::default()
        };
        write(&writer, Changes { upserts: vec![endpoint], ..Changes::default() }, vec![alert("/users/{id}")]);
        write(&writer, Changes::default(), vec![alert("/users/{id}")]);
        let higher = Alert { severity: Severity::High, ..alert("/users/{id}") };
        write(&writer, Changes::default(), vec![higher]);
        assert!(writer.failed().is_none());
        let (returned, error) = writer.finish();
        assert!(error.is_none() && returned.is_some());
        let endpoints = store.endpoints().unwrap();
        assert_eq!(endpoints.iter().map(|e| (e.path.as_str(), e.hits)).collect::<Vec<_>>(), [("/users/{id}", 3)]);
        let alerts = store.alerts().unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].count, 3, "later occurrences merged into the first");
        // The stream tells of an alert when it is new and when its state or severity changes,
        // not of every occurrence.
        let streamed: Vec<(u64, Severity)> = stream.0.lock().unwrap().iter().map(|a| (a.count, a.severity)).collect();
        assert_eq!(streamed, [(1, Severity::Low), (3, Severity::High)]);
    }

    #[test]
    fn a_full_alert_store_updates_its_alerts_and_counts_new_ones() {
        let store = Arc::new(MemoryStore::default());
        let overflowed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer = Writer::spawn(store.clone(), None, AlertCap { max: 2, stored: 0, overflowed: overflowed.clone() });
        write(&writer, Changes::default(), vec![alert("/a"), alert("/b"), alert("/c")]);
        write(&writer, Changes::default(), vec![alert("/a"), alert("/d")]);
        writer.send(Job::PruneAlerts(0));
        let (_, error) = writer.finish();
        assert!(error.is_none());
        let alerts = store.alerts().unwrap();
        let paths: Vec<(&str, u64)> = alerts.iter().map(|a| (a.path.as_str(), a.count)).collect();
        assert_eq!(paths, [("/a", 2), ("/b", 1)]);
        assert_eq!(overflowed.load(std::sync::atomic::Ordering::Relaxed), 2);
        let overflow = store.overflow().unwrap();
        assert_eq!(overflow.iter().map(|o| (o.host.as_str(), o.total())).collect::<Vec<_>>(), [("api.test", 2)]);
    }

    #[test]
    fn a_stuck_store_is_reported_refuses_commands_and_does_not_hang_the_sensor() {
        let store = Arc::new(MemoryStore::default());
        let writer = Writer::with_stall_limit(store, None, no_cap(), Duration::from_millis(300));
        let started = Instant::now();
        writer.send(Job::Stall(Duration::from_secs(5)));
        assert!(writer.failed().is_none(), "not stuck yet");
        // More writes than the queue holds: sending gives up once the writer is stuck, and a
        // command waiting for its outcome is told so instead of waiting.
        for _ in 0..QUEUE + 3 {
            write(&writer, Changes::default(), Vec::new());
        }
        let (reply, outcome) = std::sync::mpsc::channel();
        writer.send(Job::ChangeAlert {
            id: 1,
            change: AlertChange::State(apisonar_engine::AlertState::Acknowledged),
            by: "t".into(),
            at: 0,
            reply,
        });
        assert!(matches!(outcome.recv_timeout(Duration::from_secs(3)), Ok(Err(CoreError::Writer(_)))));
        let why = writer.failed().unwrap_or_default();
        assert!(why.contains("has not finished"), "{why}");
        let (_, error) = writer.finish();
        assert!(error.is_some_and(|e| e.to_string().contains("nothing more is saved")));
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    }
}
