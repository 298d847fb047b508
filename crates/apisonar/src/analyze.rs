//! `apisonar analyze`: capture files in, transactions and a summary out.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use apisonar_engine::{Catalog, TemplateConfig};
use apisonar_flow::{ConnectionSummary, EventSink, FlowEngine, HttpTransaction, Stats};
use apisonar_store::{SledOptions, SledStore, Store};
use serde::Serialize;

use crate::capture::read_file;
use crate::cli::{AnalyzeArgs, SummaryFormat};
use crate::output::{ConnectionRecord, TransactionRecord};

fn open_output(path: &Path) -> Result<Box<dyn Write>> {
    if path == Path::new("-") {
        Ok(Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())))
    } else {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Box::new(BufWriter::with_capacity(1 << 16, file)))
    }
}

struct Writers {
    transactions: Option<Box<dyn Write>>,
    connections: Option<Box<dyn Write>>,
    tls: Option<Box<dyn Write>>,
    error: Option<io::Error>,
    inventory: Option<Inventory>,
}

/// The catalog being filled and the store it is written to, at most `WRITE_INTERVAL` apart, so
/// that a killed process loses at most that much.
struct Inventory {
    catalog: Catalog,
    store: SledStore,
    last_write: Instant,
    error: Option<apisonar_store::StoreError>,
    /// Alert occurrences since the last write, aggregated by dedup key.
    pending_alerts: std::collections::BTreeMap<String, apisonar_engine::Alert>,
    /// Where alerts are streamed as JSON lines.
    alert_stream: Option<Box<dyn Write>>,
    /// Abuse detectors with memory across requests.
    behavior: apisonar_engine::behavior::Behavior,
    /// TLS per server name, merged into the store at the end.
    tls_hosts: std::collections::BTreeMap<String, apisonar_engine::tlsposture::TlsHost>,
}

const WRITE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl Inventory {
    fn open(dir: &Path, new_specs: Vec<apisonar_engine::Spec>) -> Result<Inventory> {
        let store = SledStore::open(dir, &SledOptions::default())?;
        for spec in &new_specs {
            store.put_spec(spec)?;
        }
        let mut catalog = Catalog::new(TemplateConfig::default());
        catalog.load(store.endpoints().context("cannot read the existing inventory")?);
        for o in store.overrides().context("cannot read the template overrides")? {
            let _ = catalog.pin(o.host.as_deref(), &o.template);
        }
        crate::posture::apply_specs(&mut catalog, &store.specs().context("cannot read the specs")?);
        Ok(Inventory {
            catalog,
            store,
            last_write: Instant::now(),
            error: None,
            pending_alerts: Default::default(),
            alert_stream: None,
            behavior: Default::default(),
            tls_hosts: Default::default(),
        })
    }

    fn observe(&mut self, txn: &HttpTransaction) {
        let obs = crate::observe::observation(txn);
        let observed = self.catalog.observe(&obs);
        let data = apisonar_engine::findings::data_alerts(&obs, &observed.key, &observed.findings);
        let injections = apisonar_engine::findings::injection_alerts(&obs, &observed.key);
        let abuse = self.behavior.observe(&obs, &observed.key);
        for a in data.into_iter().chain(injections).chain(abuse) {
            self.pending(a);
        }
        if self.last_write.elapsed() >= WRITE_INTERVAL {
            self.write();
        }
    }

    /// Adds an alert occurrence to the aggregate written at the next write.
    fn pending(&mut self, a: apisonar_engine::Alert) {
        match self.pending_alerts.get_mut(&a.dedup_key()) {
            Some(p) => {
                p.count += 1;
                p.last_seen = p.last_seen.max(a.last_seen);
                p.first_seen = p.first_seen.min(a.first_seen);
            }
            None => {
                self.pending_alerts.insert(a.dedup_key(), a);
            }
        }
    }

    fn write(&mut self) {
        self.last_write = Instant::now();
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.store.apply(&self.catalog.take_changes()) {
            self.error = Some(e);
            return;
        }
        for (_, a) in std::mem::take(&mut self.pending_alerts) {
            match self.store.upsert_alert(&a, apisonar_engine::AlertMerge::Add) {
                Ok((stored, _)) => self.stream(&stored),
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
    }

    fn stream(&mut self, alert: &apisonar_engine::Alert) {
        if let Some(w) = &mut self.alert_stream {
            let line = serde_json::to_string(&crate::alerts::AlertRecord::new(alert)).unwrap_or_default();
            if writeln!(w, "{line}").is_err() {
                self.alert_stream = None;
            }
        }
    }

    fn finish(mut self, retention_days: Option<u32>) -> Result<usize> {
        self.write();
        if let Some(e) = self.error.take() {
            return Err(e).context("cannot write the inventory");
        }
        let mut hosts = std::mem::take(&mut self.tls_hosts);
        for stored in self.store.tls_hosts().context("cannot read the TLS hosts")? {
            if let Some(h) = hosts.get_mut(&stored.host) {
                let mut merged = stored.clone();
                merged.merge(h);
                *h = merged;
            }
        }
        let hosts: Vec<_> = hosts.into_values().collect();
        self.store.put_tls_hosts(&hosts).context("cannot write the TLS hosts")?;
        let mut count = self.catalog.len();
        if let Some(days) = retention_days {
            // Packet time, not the wall clock: replaying old captures must not erase them.
            let newest = self.catalog.endpoints().map(|e| e.last_seen).max().unwrap_or(0);
            let cutoff = newest.saturating_sub(i64::from(days) * 86_400 * 1_000_000);
            count -= self.store.prune(cutoff).context("cannot apply the retention")?;
        }
        for a in crate::posture::sync_alerts(&self.store).context("cannot update the alerts")? {
            self.stream(&a);
        }
        if let Some(w) = &mut self.alert_stream {
            w.flush().context("cannot write the alert stream")?;
        }
        self.store.flush().context("cannot flush the inventory")?;
        Ok(count)
    }
}

impl Writers {
    fn record(out: &mut Option<Box<dyn Write>>, error: &mut Option<io::Error>, value: &impl Serialize) {
        let Some(w) = out else { return };
        let result = serde_json::to_writer(&mut *w, value).map_err(io::Error::from).and_then(|()| w.write_all(b"\n"));
        if let Err(e) = result {
            // Keep the first error; stop writing (e.g. a closed pipe) but keep analysing.
            error.get_or_insert(e);
            *out = None;
        }
    }
}

impl EventSink for Writers {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        if let Some(inventory) = &mut self.inventory {
            inventory.observe(&txn);
        }
        if self.transactions.is_some() {
            Writers::record(&mut self.transactions, &mut self.error, &TransactionRecord::new(&txn));
        }
    }

    fn on_tls(&mut self, record: apisonar_flow::TlsRecord) {
        let (observation, output) = crate::output::tls_records(&record);
        if let Some(inventory) = &mut self.inventory {
            for a in apisonar_engine::tlsposture::weak_tls_alerts(&observation) {
                inventory.pending(a);
            }
            let facts = apisonar_engine::tlsposture::TlsFacts {
                version: output.version.clone(),
                cipher: output.cipher.clone(),
                alpn: output.alpn.clone(),
                ja3: output.ja3.clone(),
                ja4: output.ja4.clone(),
                ja3s: output.ja3s.clone(),
                certificate: record.session.certificate.as_ref().map(|c| apisonar_engine::tlsposture::TlsCertificate {
                    subject: c.subject.clone(),
                    issuer: c.issuer.clone(),
                    not_before: c.not_before,
                    not_after: c.not_after,
                    key: format!("{} {}", c.key_type, c.key_bits),
                }),
            };
            let host = observation.sni.clone().unwrap_or_else(|| observation.server.clone());
            if inventory.tls_hosts.len() < 100_000 || inventory.tls_hosts.contains_key(&host) {
                inventory.tls_hosts.entry(host).or_default().add(&observation, &facts);
            }
        }
        if self.tls.is_some() {
            Writers::record(&mut self.tls, &mut self.error, &output);
        }
    }

    fn on_connection(&mut self, summary: ConnectionSummary) {
        if self.connections.is_some() {
            Writers::record(&mut self.connections, &mut self.error, &ConnectionRecord::new(&summary));
        }
    }
}

#[derive(Serialize)]
struct FileReport {
    path: String,
    packets: u64,
    error: Option<String>,
}

#[derive(Serialize)]
struct Summary {
    files: Vec<FileReport>,
    packets: u64,
    bytes: u64,
    tcp_segments: u64,
    tcp_payload_bytes: u64,
    flows: u64,
    flows_expired: u64,
    flows_evicted: u64,
    connections: serde_json::Map<String, serde_json::Value>,
    transactions: u64,
    transactions_without_response: u64,
    tcp_retransmitted_segments: u64,
    tcp_out_of_order_segments: u64,
    tcp_gaps: u64,
    tcp_gap_bytes: u64,
    ip_fragments: u64,
    ip_datagrams_reassembled: u64,
    anomalies: serde_json::Map<String, serde_json::Value>,
    /// Endpoints in the inventory after this run (with `--db`).
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoints: Option<usize>,
    /// A signal stopped reading before the end of the input.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
    elapsed_secs: f64,
    packets_per_sec: f64,
    gbit_per_sec: f64,
}

impl Summary {
    fn new(files: Vec<FileReport>, s: &Stats, elapsed_secs: f64) -> Summary {
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
            anomalies: s.anomalies().map(|(a, n)| (a.as_str().to_string(), n.into())).collect(),
            endpoints: None,
            interrupted: false,
            elapsed_secs,
            packets_per_sec: per_sec(s.packets as f64),
            gbit_per_sec: per_sec(s.bytes as f64 * 8.0 / 1e9),
        }
    }

    fn write_text(&self, w: &mut dyn Write) -> io::Result<()> {
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
        if self.interrupted {
            writeln!(w, "interrupted   by a signal: the rest of the input was not read")?;
        }
        writeln!(
            w,
            "elapsed       {:.3} s ({:.0} packets/s, {:.3} Gbit/s)",
            self.elapsed_secs, self.packets_per_sec, self.gbit_per_sec
        )
    }
}

/// The environment, skipping variables that are not UTF-8 (`std::env::vars` would panic on them).
fn utf8_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

/// Detector thresholds: the configuration file's, then `--threshold NAME=VALUE` flags.
fn thresholds(config: &crate::config::Config, flags: &[String]) -> Result<apisonar_engine::behavior::Thresholds> {
    let mut t = config.thresholds();
    for flag in flags {
        let (name, value) =
            flag.split_once('=').with_context(|| format!("--threshold {flag:?}: expected NAME=VALUE"))?;
        let int =
            || value.parse::<u64>().with_context(|| format!("--threshold {name}: {value:?} is not a whole number"));
        let float = || value.parse::<f64>().with_context(|| format!("--threshold {name}: {value:?} is not a number"));
        match name {
            "enumeration_values" => t.enumeration_values = int()? as usize,
            "enumeration_error_share" => t.enumeration_error_share = float()?,
            "brute_force_failures" => t.brute_force_failures = int()? as usize,
            "bola_objects" => t.bola_objects = int()? as usize,
            "scanner_404_paths" => t.scanner_404_paths = int()? as usize,
            "rate_multiplier" => t.rate_multiplier = float()?,
            "rate_min" => t.rate_min = int()?,
            "error_multiplier" => t.error_multiplier = float()?,
            "error_min" => t.error_min = int()?,
            "window_secs" => t.window_secs = u32::try_from(int()?).unwrap_or(u32::MAX),
            other => anyhow::bail!("--threshold: unknown name {other:?}"),
        }
    }
    Ok(t)
}

pub fn run(args: &AnalyzeArgs) -> Result<u8> {
    let started = Instant::now();
    let config = crate::config::load(args.config.as_deref(), utf8_env())?;
    crate::capture::stop_on_signals()?;
    let limits = args.limits(&config);
    let mut writers = Writers {
        transactions: args.transactions.as_deref().map(open_output).transpose()?,
        connections: args.connections.as_deref().map(open_output).transpose()?,
        tls: args.tls.as_deref().map(open_output).transpose()?,
        error: None,
        inventory: match args.db.as_deref() {
            Some(dir) => {
                // Every spec is parsed before anything is written: a bad one changes nothing.
                let specs = args.specs.iter().map(|s| crate::posture::load_spec_arg(s)).collect::<Result<Vec<_>>>()?;
                let mut inventory = Inventory::open(dir, specs)?;
                inventory.behavior = apisonar_engine::behavior::Behavior::new(thresholds(&config, &args.thresholds)?);
                inventory.alert_stream = args.alerts.as_deref().map(open_output).transpose()?;
                Some(inventory)
            }
            None => None,
        },
    };
    let mut files = Vec::new();
    let mut input_errors = 0;
    let mut report = |shown: String, result: Result<std::result::Result<u64, crate::capture::ReadError>>| match result {
        Ok(Ok(packets)) => FileReport { path: shown, packets, error: None },
        Ok(Err(e)) => {
            input_errors += 1;
            eprintln!("apisonar: error: {shown}: after packet {}: {}", e.packets_read, e.message);
            FileReport { path: shown, packets: e.packets_read, error: Some(e.message) }
        }
        Err(e) => {
            input_errors += 1;
            eprintln!("apisonar: error: {shown}: {e:#}");
            FileReport { path: shown, packets: 0, error: Some(format!("{e:#}")) }
        }
    };
    let stats = if args.workers > 1 {
        let mut stats = Stats::default();
        let results = crate::pipeline::run(args.captures.clone(), &limits, args.workers, |event| match event {
            crate::pipeline::Event::Transaction(t) => writers.on_transaction(t),
            crate::pipeline::Event::Connection(c) => writers.on_connection(c),
            crate::pipeline::Event::Tls(t) => writers.on_tls(t),
            crate::pipeline::Event::Finished(s) => stats.merge(&s),
        });
        for (path, result) in results {
            files.push(report(path.display().to_string(), result));
        }
        stats
    } else {
        let mut engine = FlowEngine::new(limits.clone());
        for path in &args.captures {
            let result =
                read_file(path, |link, frame| engine.frame(link, frame.ts, frame.data, frame.wire_len, &mut writers));
            files.push(report(path.display().to_string(), result));
        }
        engine.finish(&mut writers);
        engine.stats().clone()
    };
    for w in [writers.transactions.as_mut(), writers.connections.as_mut(), writers.tls.as_mut()].into_iter().flatten() {
        if let Err(e) = w.flush() {
            writers.error.get_or_insert(e);
        }
    }
    if let Some(e) = writers.error.take() {
        return Err(e).context("cannot write output");
    }
    let endpoints = writers.inventory.take().map(|i| i.finish(args.retention_days)).transpose()?;
    let mut summary = Summary::new(files, &stats, started.elapsed().as_secs_f64());
    summary.endpoints = endpoints;
    summary.interrupted = crate::capture::stopped();
    let to_stdout =
        [&args.transactions, &args.connections, &args.alerts].iter().all(|p| p.as_deref() != Some(Path::new("-")));
    let mut out: Box<dyn Write> = if to_stdout { Box::new(io::stdout().lock()) } else { Box::new(io::stderr().lock()) };
    match args.summary {
        SummaryFormat::Text => summary.write_text(&mut out)?,
        SummaryFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &summary)?;
            writeln!(out)?;
        }
    }
    Ok(if summary.interrupted {
        crate::EXIT_INTERRUPTED
    } else if input_errors > 0 {
        crate::EXIT_INPUT_ERROR
    } else {
        0
    })
}
