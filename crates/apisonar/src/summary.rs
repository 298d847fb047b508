//! The end-of-run summary: counters of the flow layer, per-file results, speed.

use std::io::{self, Write};

use apisonar_flow::Stats;
use serde::Serialize;

#[derive(Serialize)]
pub struct FileReport {
    pub path: String,
    pub packets: u64,
    pub error: Option<String>,
}

impl FileReport {
    /// What reading one file came to; errors are also printed to standard error.
    pub fn from_result(
        shown: String,
        result: anyhow::Result<std::result::Result<u64, crate::capture::ReadError>>,
    ) -> FileReport {
        match result {
            Ok(Ok(packets)) => FileReport { path: shown, packets, error: None },
            Ok(Err(e)) => {
                eprintln!("apisonar: error: {shown}: after packet {}: {}", e.packets_read, e.message);
                FileReport { path: shown, packets: e.packets_read, error: Some(e.message) }
            }
            Err(e) => {
                eprintln!("apisonar: error: {shown}: {e:#}");
                FileReport { path: shown, packets: 0, error: Some(format!("{e:#}")) }
            }
        }
    }
}

#[derive(Serialize)]
pub struct Summary {
    pub files: Vec<FileReport>,
    pub packets: u64,
    pub bytes: u64,
    pub tcp_segments: u64,
    pub tcp_payload_bytes: u64,
    pub flows: u64,
    pub flows_expired: u64,
    pub flows_evicted: u64,
    pub connections: serde_json::Map<String, serde_json::Value>,
    pub transactions: u64,
    pub transactions_without_response: u64,
    pub tcp_retransmitted_segments: u64,
    pub tcp_out_of_order_segments: u64,
    pub tcp_gaps: u64,
    pub tcp_gap_bytes: u64,
    pub ip_fragments: u64,
    pub ip_datagrams_reassembled: u64,
    pub anomalies: serde_json::Map<String, serde_json::Value>,
    /// Endpoints in the inventory after this run (with `--db`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<usize>,
    /// Traffic kept out of the inventory in this run, by reason: probes, or a cap (with `--db`).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub overflow: serde_json::Map<String, serde_json::Value>,
    /// Live capture counters: frames, drops by reason, limit hits, memory (`run` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<crate::telemetry::Totals>,
    /// CPU seconds of each pipeline thread (with several workers): which stage limits throughput.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<crate::telemetry::ThreadCpu>,
    /// Alerts sent to each destination of `[notify]`: sent, failed, dropped, retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<serde_json::Value>,
    /// A signal stopped reading before the end of the input.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub elapsed_secs: f64,
    pub packets_per_sec: f64,
    pub gbit_per_sec: f64,
}

/// Overflow counts by reason, as the summary lists them.
pub fn overflow_map(
    totals: &std::collections::BTreeMap<apisonar_engine::OverflowReason, u64>,
) -> serde_json::Map<String, serde_json::Value> {
    totals.iter().filter(|(_, n)| **n > 0).map(|(r, n)| (r.as_str().to_string(), (*n).into())).collect()
}

impl Summary {
    pub fn new(files: Vec<FileReport>, s: &Stats, elapsed_secs: f64) -> Summary {
        let per_sec = |n: f64| if elapsed_secs > 0.0 { n / elapsed_secs } else { 0.0 };
        Summary {
            files,
            packets: s.packets,
            bytes: s.bytes,
            tcp_segments: s.tcp_segments,
            tcp_payload_bytes: s.tcp_payload_bytes,
            flows: s.flows_created,
            flows_expired: s.flows_expired,
            flows_evicted: s.flows_evicted,
            connections: s.protocols().map(|(p, n)| (p.as_str().to_string(), n.into())).collect(),
            transactions: s.transactions,
            transactions_without_response: s.transactions_without_response,
            tcp_retransmitted_segments: s.tcp_retransmitted_segments,
            tcp_out_of_order_segments: s.tcp_out_of_order_segments,
            tcp_gaps: s.tcp_gaps,
            tcp_gap_bytes: s.tcp_gap_bytes,
            ip_fragments: s.ip_fragments,
            ip_datagrams_reassembled: s.ip_datagrams_reassembled,
            anomalies: s
                .anomalies()
                .map(|(a, n)| (a.as_str().to_string(), n))
                .chain(crate::contain::panic_anomaly())
                .map(|(a, n)| (a, n.into()))
                .collect(),
            endpoints: None,
            overflow: Default::default(),
            capture: None,
            threads: Vec::new(),
            notifications: None,
            interrupted: false,
            elapsed_secs,
            packets_per_sec: per_sec(s.packets as f64),
            gbit_per_sec: per_sec(s.bytes as f64 * 8.0 / 1e9),
        }
    }

    pub fn write_text(&self, w: &mut dyn Write) -> io::Result<()> {
        let list = |m: &serde_json::Map<String, serde_json::Value>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
            }
        };
        for f in &self.files {
            match &f.error {
                None => writeln!(w, "file          {} ({} packets)", f.path, f.packets)?,
                Some(e) => writeln!(w, "file          {} ({} packets, then error: {e})", f.path, f.packets)?,
            }
        }
        writeln!(w, "packets       {} ({} bytes, {} TCP segments)", self.packets, self.bytes, self.tcp_segments)?;
        writeln!(w, "flows         {} (expired {}, evicted {})", self.flows, self.flows_expired, self.flows_evicted)?;
        writeln!(w, "connections   {}", list(&self.connections))?;
        writeln!(w, "transactions  {} ({} without response)", self.transactions, self.transactions_without_response)?;
        writeln!(
            w,
            "tcp           retransmitted {}, out of order {}, gaps {} ({} bytes)",
            self.tcp_retransmitted_segments, self.tcp_out_of_order_segments, self.tcp_gaps, self.tcp_gap_bytes
        )?;
        writeln!(w, "anomalies     {}", list(&self.anomalies))?;
        if let Some(n) = self.endpoints {
            writeln!(w, "endpoints     {n} in the inventory")?;
        }
        let mut capped = self.overflow.clone();
        if let Some(probes) = capped.remove(apisonar_engine::OverflowReason::Probes.as_str()) {
            writeln!(
                w,
                "probes        {probes} requests no route answered (not catalogued; `inventory` lists examples)"
            )?;
        }
        if !capped.is_empty() {
            writeln!(w, "overflow      {} (not catalogued: over the [inventory] caps)", list(&capped))?;
        }
        if let Some(c) = &self.capture {
            writeln!(
                w,
                "capture       {} frames; dropped: kernel {}, interface {}, queue full {}; limit hits {}",
                c.frames, c.dropped_kernel, c.dropped_interface, c.dropped_queue_full, c.limit_hits
            )?;
        }
        for (destination, n) in self.notifications.as_ref().and_then(|v| v.as_object()).into_iter().flatten() {
            writeln!(
                w,
                "notified      {destination}: {} sent, {} failed, {} dropped, {} retries",
                n["sent"], n["failed"], n["dropped"], n["retries"]
            )?;
        }
        if !self.threads.is_empty() {
            let cpu: Vec<String> = self.threads.iter().map(|t| format!("{} {:.2} s", t.thread, t.cpu_secs)).collect();
            writeln!(w, "cpu           {}", cpu.join(", "))?;
        }
        if self.interrupted {
            writeln!(w, "interrupted   by a signal; everything read before it was analysed and stored")?;
        }
        writeln!(
            w,
            "elapsed       {:.3} s ({:.0} packets/s, {:.3} Gbit/s)",
            self.elapsed_secs, self.packets_per_sec, self.gbit_per_sec
        )
    }
}
