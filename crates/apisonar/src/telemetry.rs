//! Counters shared by the capture, worker and inventory threads, read by the status line and
//! `/metrics`. Capture threads own atomics; workers publish a copy of their flow counters about
//! once a second, so reading never stops the packet path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use apisonar_flow::{Anomaly, Stats};
use apisonar_web::{Health, Metric};

/// One capture source (an interface, or the files of `-r`).
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub name: String,
    /// Frames handed to us by libpcap, and their bytes on the wire.
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    /// libpcap's statistics: dropped because the kernel buffer was full, and by the interface.
    pub kernel_dropped: AtomicU64,
    pub interface_dropped: AtomicU64,
    /// Dropped because the flow workers were behind (their queues were full).
    pub queue_full_dropped: AtomicU64,
    pub running: AtomicBool,
    /// Why capture stopped before it was asked to.
    pub failure: Mutex<Option<String>>,
}

impl SourceCounters {
    /// Frames refused by a full worker queue.
    pub fn dropped(&self, frames: u64) {
        if frames > 0 {
            self.queue_full_dropped.fetch_add(frames, Ordering::Relaxed);
        }
    }
}

/// Frames and bytes a reader counts locally and publishes now and then, so that the packet path
/// does no atomic operation per frame.
#[derive(Debug, Default)]
pub struct Tally {
    frames: u64,
    bytes: u64,
}

impl Tally {
    pub fn add(&mut self, wire_len: u32, counters: &SourceCounters) {
        self.frames += 1;
        self.bytes += u64::from(wire_len);
        if self.frames.is_multiple_of(256) {
            self.publish(counters);
        }
    }

    pub fn publish(&self, counters: &SourceCounters) {
        counters.frames.store(self.frames, Ordering::Relaxed);
        counters.bytes.store(self.bytes, Ordering::Relaxed);
    }
}

/// What one flow worker last published.
#[derive(Debug, Default, Clone)]
pub struct WorkerSnapshot {
    pub stats: Stats,
    pub active_flows: usize,
    pub buffered_bytes: usize,
}

/// Anomalies that mean a configured limit cut analysis short (data was dropped on purpose).
pub const LIMIT_ANOMALIES: &[Anomaly] = &[
    Anomaly::FlowLimit,
    Anomaly::TcpReassemblyLimit,
    Anomaly::FragmentLimit,
    Anomaly::PendingLimit,
    Anomaly::HeadTooLarge,
    Anomaly::TooManyHeaders,
    Anomaly::DecompressionLimit,
    Anomaly::TlsHandshakeTooLarge,
    Anomaly::BufferBudgetEviction,
];

#[derive(Debug)]
pub struct Telemetry {
    pub started: Instant,
    pub sources: Vec<SourceCounters>,
    pub workers: Vec<Mutex<WorkerSnapshot>>,
    /// Endpoints in the catalog, alert occurrences raised, writes to the store that failed.
    pub endpoints: AtomicU64,
    pub alerts_raised: AtomicU64,
    /// Alert occurrences suppression rules dropped.
    pub alerts_suppressed: AtomicU64,
    /// Delivery counts of the `[notify]` destinations, once they are started.
    pub notifications: std::sync::OnceLock<crate::notify::Stats>,
    pub store_failure: Mutex<Option<String>>,
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    /// Traffic the inventory's caps kept out, by reason (set by the inventory thread).
    pub overflow: Mutex<std::collections::BTreeMap<apisonar_engine::OverflowReason, u64>>,
    /// CPU time of each pipeline thread, recorded as it ends (for the exit summary).
    pub threads: Mutex<Vec<ThreadCpu>>,
}

/// How much CPU one thread used: tells which stage of the pipeline limits throughput.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThreadCpu {
    pub thread: String,
    pub cpu_secs: f64,
}

/// CPU time used so far by the calling thread.
pub fn thread_cpu_secs() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
        .unwrap_or(0.0)
}

/// CPU time of every thread of this process now, by thread name (Linux /proc; empty elsewhere).
pub fn process_threads_cpu() -> Vec<ThreadCpu> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100).max(1) as f64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    let mut by_name: std::collections::BTreeMap<String, f64> = Default::default();
    for task in tasks.flatten() {
        let (Ok(comm), Ok(stat)) =
            (std::fs::read_to_string(task.path().join("comm")), std::fs::read_to_string(task.path().join("stat")))
        else {
            continue;
        };
        // The name in parentheses may hold spaces; the fields after it are utime, stime at 12, 13.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        *by_name.entry(comm.trim().to_string()).or_default() += (tick(11) + tick(12)) / ticks;
    }
    by_name.into_iter().map(|(thread, cpu_secs)| ThreadCpu { thread, cpu_secs }).collect()
}

/// Totals at one moment, for the status line and the exit summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Totals {
    pub frames: u64,
    pub bytes: u64,
    pub dropped_kernel: u64,
    pub dropped_interface: u64,
    pub dropped_queue_full: u64,
    pub limit_hits: u64,
    pub active_flows: u64,
    pub transactions: u64,
    pub endpoints: u64,
    pub alerts_raised: u64,
    pub resident_bytes: u64,
}

impl Telemetry {
    pub fn new(sources: &[String], workers: usize) -> Telemetry {
        Telemetry {
            started: Instant::now(),
            sources: sources.iter().map(|n| SourceCounters { name: n.clone(), ..Default::default() }).collect(),
            workers: (0..workers.max(1)).map(|_| Mutex::new(WorkerSnapshot::default())).collect(),
            endpoints: AtomicU64::new(0),
            alerts_raised: AtomicU64::new(0),
            alerts_suppressed: AtomicU64::new(0),
            notifications: std::sync::OnceLock::new(),
            store_failure: Mutex::new(None),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            overflow: Mutex::new(Default::default()),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// Records the calling thread's CPU time under `name` (call it as the thread ends).
    pub fn record_thread(&self, name: &str) {
        if let Ok(mut threads) = self.threads.lock() {
            threads.push(ThreadCpu { thread: name.to_string(), cpu_secs: thread_cpu_secs() });
        }
    }

    /// The CPU time recorded by the pipeline threads that have ended.
    pub fn thread_cpu(&self) -> Vec<ThreadCpu> {
        self.threads.lock().map(|t| t.clone()).unwrap_or_default()
    }

    pub fn publish(&self, worker: usize, snapshot: WorkerSnapshot) {
        if let Some(slot) = self.workers.get(worker) {
            if let Ok(mut s) = slot.lock() {
                *s = snapshot;
            }
        }
    }

    /// The workers' flow counters added up, with active flows and buffered bytes.
    pub fn flow_totals(&self) -> WorkerSnapshot {
        let mut total = WorkerSnapshot::default();
        for w in &self.workers {
            if let Ok(s) = w.lock() {
                total.stats.merge(&s.stats);
                total.active_flows += s.active_flows;
                total.buffered_bytes += s.buffered_bytes;
            }
        }
        total
    }

    pub fn totals(&self) -> Totals {
        let load = |f: fn(&SourceCounters) -> &AtomicU64| -> u64 {
            self.sources.iter().map(|s| f(s).load(Ordering::Relaxed)).sum()
        };
        let flows = self.flow_totals();
        Totals {
            frames: load(|s| &s.frames),
            bytes: load(|s| &s.bytes),
            dropped_kernel: load(|s| &s.kernel_dropped),
            dropped_interface: load(|s| &s.interface_dropped),
            dropped_queue_full: load(|s| &s.queue_full_dropped),
            limit_hits: LIMIT_ANOMALIES.iter().map(|&a| flows.stats.anomaly_count(a)).sum(),
            active_flows: flows.active_flows as u64,
            transactions: flows.stats.transactions,
            endpoints: self.endpoints.load(Ordering::Relaxed),
            alerts_raised: self.alerts_raised.load(Ordering::Relaxed),
            resident_bytes: resident_bytes().unwrap_or(0),
        }
    }

    pub fn health(&self) -> Health {
        let mut problems = Vec::new();
        for s in &self.sources {
            if let Some(why) = s.failure.lock().ok().and_then(|f| f.clone()) {
                problems.push(format!("capture on {} stopped: {why}", s.name));
            }
        }
        if let Some(why) = self.store_failure.lock().ok().and_then(|f| f.clone()) {
            problems.push(format!("store: {why}"));
        }
        Health { ok: problems.is_empty(), problems }
    }

    pub fn metrics(&self) -> Vec<Metric> {
        let mut frames = Metric::counter("apisonar_capture_packets_total", "Frames received from libpcap.");
        let mut bytes = Metric::counter("apisonar_capture_bytes_total", "Bytes on the wire of the frames received.");
        let mut drops =
            Metric::counter("apisonar_dropped_packets_total", "Frames lost before analysis, by source and reason.");
        let mut up = Metric::gauge("apisonar_capture_running", "1 while the source is being read.");
        for s in &self.sources {
            let name = s.name.as_str();
            let iface = [("source", name)];
            frames.push(&iface, s.frames.load(Ordering::Relaxed) as f64);
            bytes.push(&iface, s.bytes.load(Ordering::Relaxed) as f64);
            for (reason, counter) in [
                ("kernel", &s.kernel_dropped),
                ("interface", &s.interface_dropped),
                ("queue_full", &s.queue_full_dropped),
            ] {
                drops.push(&[("source", name), ("reason", reason)], counter.load(Ordering::Relaxed) as f64);
            }
            up.push(&iface, if s.running.load(Ordering::Relaxed) { 1.0 } else { 0.0 });
        }
        let flows = self.flow_totals();
        let st = &flows.stats;
        let mut limits =
            Metric::counter("apisonar_limit_hits_total", "Times a configured limit cut analysis short, by limit.");
        for &a in LIMIT_ANOMALIES {
            limits.push(&[("limit", a.as_str())], st.anomaly_count(a) as f64);
        }
        let mut anomalies = Metric::counter("apisonar_anomalies_total", "Unusual traffic seen, by kind.");
        for (a, n) in st.anomalies() {
            anomalies.push(&[("kind", a.as_str())], n as f64);
        }
        // Always listed, so that an alert rule on it has a series to watch.
        anomalies.push(&[("kind", crate::contain::ANALYSIS_PANIC)], crate::contain::analysis_panics() as f64);
        let mut connections = Metric::counter("apisonar_connections_total", "Connections by what they carried.");
        for (p, n) in st.protocols() {
            connections.push(&[("protocol", p.as_str())], n as f64);
        }
        let mut flow_events = Metric::counter("apisonar_flows_total", "TCP flows by what happened to them.");
        for (event, n) in [
            ("created", st.flows_created),
            ("closed", st.flows_closed),
            ("expired", st.flows_expired),
            ("evicted", st.flows_evicted),
        ] {
            flow_events.push(&[("event", event)], n as f64);
        }
        let mut overflow = Metric::counter(
            "apisonar_inventory_overflow_total",
            "Requests (TLS handshakes, alert occurrences) the inventory's caps kept out, by cap.",
        );
        let counted = self.overflow.lock().map(|o| o.clone()).unwrap_or_default();
        for reason in apisonar_engine::OverflowReason::ALL {
            overflow.push(&[("reason", reason.as_str())], counted.get(&reason).copied().unwrap_or(0) as f64);
        }
        let mut cpu = Metric::counter("apisonar_thread_cpu_seconds_total", "CPU time by thread (name).");
        for t in process_threads_cpu() {
            cpu.push(&[("thread", t.thread.as_str())], t.cpu_secs);
        }
        let mut notified = Metric::counter(
            "apisonar_notifications_total",
            "Alerts sent to each [notify] destination, by outcome: sent, failed (after the retries), dropped (queue full).",
        );
        for d in self.notifications.get().map(|s| s.iter()).into_iter().flatten() {
            for (outcome, n) in [("sent", &d.counts.sent), ("failed", &d.counts.failed), ("dropped", &d.counts.dropped)]
            {
                notified
                    .push(&[("destination", d.name.as_str()), ("outcome", outcome)], n.load(Ordering::Relaxed) as f64);
            }
        }
        let plain = |m: Metric, v: u64| m.sample(&[], v as f64);
        vec![
            notified,
            frames,
            bytes,
            drops,
            up,
            limits,
            plain(Metric::counter("apisonar_packets_analysed_total", "Frames the flow workers processed."), st.packets),
            plain(Metric::counter("apisonar_tcp_segments_total", "TCP segments."), st.tcp_segments),
            plain(Metric::counter("apisonar_tcp_gaps_total", "Holes in TCP streams."), st.tcp_gaps),
            plain(Metric::counter("apisonar_http_transactions_total", "HTTP requests seen."), st.transactions),
            flow_events,
            connections,
            anomalies,
            overflow,
            plain(Metric::gauge("apisonar_flows_active", "TCP flows tracked now."), flows.active_flows as u64),
            plain(
                Metric::gauge("apisonar_flow_buffered_bytes", "Bytes held for reassembly and parsing."),
                flows.buffered_bytes as u64,
            ),
            plain(Metric::gauge("apisonar_workers", "Flow worker threads."), self.workers.len() as u64),
            plain(
                Metric::gauge("apisonar_endpoints", "Endpoints in the inventory."),
                self.endpoints.load(Ordering::Relaxed),
            ),
            plain(
                Metric::counter("apisonar_alerts_raised_total", "Alert occurrences raised."),
                self.alerts_raised.load(Ordering::Relaxed),
            ),
            plain(
                Metric::counter("apisonar_alerts_suppressed_total", "Alert occurrences suppression rules dropped."),
                self.alerts_suppressed.load(Ordering::Relaxed),
            ),
            plain(
                Metric::counter("apisonar_config_reloads_total", "SIGHUP reloads that succeeded."),
                self.reloads.load(Ordering::Relaxed),
            ),
            plain(
                Metric::counter("apisonar_config_reload_failures_total", "SIGHUP reloads refused (old settings kept)."),
                self.reload_failures.load(Ordering::Relaxed),
            ),
            cpu,
            plain(Metric::gauge("process_resident_memory_bytes", "Resident memory."), resident_bytes().unwrap_or(0)),
            Metric::gauge("apisonar_uptime_seconds", "Seconds since start.")
                .sample(&[], self.started.elapsed().as_secs_f64()),
        ]
    }
}

impl apisonar_web::Sensor for Telemetry {
    fn metrics(&self) -> Vec<Metric> {
        Telemetry::metrics(self)
    }
    fn health(&self) -> Health {
        Telemetry::health(self)
    }
}

/// Resident memory from /proc (Linux); None elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_name_every_source_and_drop_reason() {
        let t = Telemetry::new(&["eth1".into(), "eth2".into()], 2);
        t.sources[1].queue_full_dropped.store(5, Ordering::Relaxed);
        let text = apisonar_web::render_prometheus(&t.metrics());
        assert!(text.contains("apisonar_dropped_packets_total{source=\"eth2\",reason=\"queue_full\"} 5\n"), "{text}");
        assert!(text.contains("apisonar_dropped_packets_total{source=\"eth1\",reason=\"kernel\"} 0\n"), "{text}");
        assert!(text.contains("apisonar_workers 2\n"), "{text}");
        // This test's own thread is listed with the CPU it used.
        assert!(text.contains("apisonar_thread_cpu_seconds_total{thread=\""), "{text}");
        assert!(resident_bytes().unwrap_or(0) > 0);
        assert_eq!(t.totals().dropped_queue_full, 5);
    }

    #[test]
    fn a_failed_source_makes_the_sensor_unhealthy() {
        let t = Telemetry::new(&["eth1".into()], 1);
        assert!(t.health().ok);
        *t.sources[0].failure.lock().unwrap() = Some("device went away".into());
        let h = t.health();
        assert!(!h.ok && h.problems[0].contains("eth1") && h.problems[0].contains("device went away"));
    }
}
