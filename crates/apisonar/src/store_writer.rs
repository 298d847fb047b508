//! The one thread that writes the inventory to the store. The inventory thread hands it each
//! second's endpoint changes and alert occurrences and goes on merging transactions; sled's
//! work (encoding, tree updates, alert merges) and the alert stream happen here.

use std::io::Write;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use apisonar_engine::{Alert, AlertMerge, Changes};
use apisonar_store::{SledStore, Store, StoreError};

use crate::sink::Output;

/// Writes waiting for the writer. Small: a writer that falls behind slows the inventory thread
/// (and through it the workers) instead of holding seconds of changes in memory.
const QUEUE: usize = 4;

enum Job {
    /// Endpoint changes and alert occurrences (aggregated by dedup key), in that order.
    Write(Changes, Vec<Alert>),
    /// Raise or update shadow/zombie alerts from what is stored (after the writes before it).
    Posture,
}

pub struct StoreWriter {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<Option<Output>>>,
    /// The first write that failed; later jobs are skipped (nothing half-written on top).
    error: Arc<Mutex<Option<StoreError>>>,
}

impl StoreWriter {
    pub fn spawn(store: SledStore, mut stream: Option<Output>) -> StoreWriter {
        let (jobs, rx) = sync_channel::<Job>(QUEUE);
        let error: Arc<Mutex<Option<StoreError>>> = Arc::default();
        let failed = error.clone();
        let thread = std::thread::Builder::new().name("apisonar-store".into()).spawn(move || {
            for job in rx {
                if failed.lock().map(|e| e.is_some()).unwrap_or(true) {
                    continue;
                }
                if let Err(e) = run(&store, job, &mut stream) {
                    if let Ok(mut slot) = failed.lock() {
                        slot.get_or_insert(e);
                    }
                }
            }
            stream
        });
        match thread {
            Ok(thread) => StoreWriter { jobs: Some(jobs), thread: Some(thread), error },
            Err(e) => {
                let error = Arc::new(Mutex::new(Some(StoreError::Io(format!("cannot start the store writer: {e}")))));
                StoreWriter { jobs: None, thread: None, error }
            }
        }
    }

    pub fn write(&self, changes: Changes, alerts: Vec<Alert>) {
        self.send(Job::Write(changes, alerts));
    }

    pub fn sync_posture(&self) {
        self.send(Job::Posture);
    }

    fn send(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }

    /// The first failure, if any (the writer stops writing after it).
    pub fn failed(&self) -> Option<String> {
        self.error.lock().ok()?.as_ref().map(|e| e.to_string())
    }

    /// Waits for every queued job; returns the alert stream and the first failure.
    pub fn finish(mut self) -> (Option<Output>, Option<StoreError>) {
        self.jobs = None;
        let stream = self.thread.take().and_then(|t| t.join().ok()).flatten();
        let error = self.error.lock().ok().and_then(|mut e| e.take());
        (stream, error)
    }
}

fn run(store: &SledStore, job: Job, stream: &mut Option<Output>) -> Result<(), StoreError> {
    let stored = match job {
        Job::Write(changes, alerts) => {
            store.apply(&changes)?;
            let mut stored = Vec::with_capacity(alerts.len());
            for a in alerts {
                stored.push(store.upsert_alert(&a, AlertMerge::Add)?.0);
            }
            stored
        }
        Job::Posture => apisonar_web::views::sync_posture_alerts(store)?,
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

    #[test]
    fn writes_land_in_order_and_stored_alerts_are_streamed() {
        let dir = std::env::temp_dir().join(format!("apisonar-store-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let stream = Shared::default();
        let writer = StoreWriter::spawn(store.clone(), Some(Box::new(stream.clone())));
        let key = EndpointKey { host: "api.test".into(), method: "GET".into(), path: "/users/{id}".into() };
        let endpoint = Endpoint {
            host: key.host.clone(),
            method: key.method.clone(),
            path: key.path.clone(),
            hits: 3,
            ..Endpoint::default()
        };
        let alert = Alert::occurrence(&key, "10.0.0.1", 1, "test_kind", None, Severity::Low, "t".into(), "e".into());
        writer.write(Changes { upserts: vec![endpoint], removed: Vec::new() }, vec![alert.clone()]);
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
