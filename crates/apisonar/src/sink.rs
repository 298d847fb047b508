//! Where flow events go: JSON-lines outputs and the inventory (catalog, detectors, alerts) that
//! is written to the store at most a second apart. Shared by `analyze` and `run`.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use apisonar_engine::sensitive::MaskKey;
use apisonar_engine::{Catalog, TemplateConfig};
use apisonar_flow::{ConnectionSummary, EventSink, HttpTransaction};
use apisonar_store::{SledOptions, SledStore, Store};
use serde::Serialize;

use crate::output::{ConnectionRecord, TransactionRecord};
use crate::store_writer::StoreWriter;

/// A JSON-lines output (a file or stdout); `Send` so that the store writer can own the alert stream.
pub type Output = Box<dyn Write + Send>;

pub fn open_output(path: &Path) -> Result<Output> {
    if path == Path::new("-") {
        Ok(Box::new(BufWriter::with_capacity(1 << 16, io::stdout())))
    } else {
        // Owner-only: transactions and alerts describe traffic (masked, but still private).
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Box::new(BufWriter::with_capacity(1 << 16, file)))
    }
}

pub struct Writers {
    pub transactions: Option<Output>,
    /// How request targets are written to `transactions`.
    pub targets: crate::output::Targets,
    pub connections: Option<Output>,
    pub tls: Option<Output>,
    pub error: Option<io::Error>,
    pub inventory: Option<Inventory>,
}

/// The catalog being filled and the store it is written to, at most `WRITE_INTERVAL` apart, so
/// that a killed process loses at most that much. The writes happen on the store writer's
/// thread, started at the first write.
pub struct Inventory {
    pub catalog: Catalog,
    pub store: SledStore,
    pub last_write: Instant,
    writer: Option<StoreWriter>,
    /// Alert occurrences since the last write, aggregated by dedup key (hashed: the keys share
    /// long prefixes, which made ordered-map lookups the inventory thread's biggest cost).
    pub pending_alerts: std::collections::HashMap<String, apisonar_engine::Alert, foldhash::fast::RandomState>,
    /// Where stored alerts are streamed as JSON lines (set before the first write).
    pub alert_stream: Option<Output>,
    /// Abuse detectors with memory across requests.
    pub behavior: apisonar_engine::behavior::Behavior,
    /// TLS per server name, merged into the store at the end.
    pub tls_hosts: std::collections::BTreeMap<String, apisonar_engine::tlsposture::TlsHost>,
    /// Alert occurrences raised so far (for the sensor's counters).
    pub alerts_raised: u64,
    /// Per alert group (kind, subtype, endpoint): the clients that have an alert of their own.
    alert_clients: AlertClients,
    /// The key of the hashes in this store's masks.
    pub mask_key: MaskKey,
    /// Server names with a TLS record in the store (for the TLS host cap).
    stored_tls_hosts: std::collections::HashSet<String>,
    /// Alerts in the store when it was opened (the writer counts on from there).
    stored_alerts: usize,
    /// Alert occurrences the alert cap kept out (counted by the writer).
    alerts_overflowed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Which clients have an alert of their own in each alert group, by 64-bit hashes of the group
/// and client (seeded per process): a lookup touches no string memory.
#[derive(Default)]
struct AlertClients {
    keys: foldhash::fast::RandomState,
    groups: std::collections::HashMap<u64, std::collections::HashSet<u64>, foldhash::fast::RandomState>,
}

impl AlertClients {
    /// Whether `client` has (or now gets, while the group has fewer than `limit`) its own alert.
    fn own(&mut self, group: &str, client: &str, limit: usize) -> bool {
        use std::hash::BuildHasher;
        let (g, c) = (self.keys.hash_one(group), self.keys.hash_one(client));
        let clients = self.groups.entry(g).or_default();
        clients.contains(&c) || (clients.len() < limit && clients.insert(c))
    }
}

/// The per-transaction work that needs no shared state: the observation, parsed bodies, sensitive
/// findings and injection attempts. Flow workers make it, so the inventory thread only merges.
pub struct Analysis {
    obs: apisonar_engine::Observation,
    prepared: apisonar_engine::catalog::Prepared,
    attempts: apisonar_engine::findings::Attempts,
}

/// A transaction's analysis as it travels with the transaction.
pub enum Analysed {
    /// Not made yet (the single-threaded path makes it where it merges).
    Later,
    Done(Box<Analysis>),
    /// The analysis panicked (counted by `contain`): the transaction is not merged.
    Failed,
}

impl Analysed {
    /// The analysis, made under containment.
    pub fn make(txn: &HttpTransaction, key: &MaskKey) -> Analysed {
        match crate::contain::contained("analysis", || Analysis::new(txn, key)) {
            Some(a) => Analysed::Done(Box::new(a)),
            None => Analysed::Failed,
        }
    }
}

impl Analysis {
    pub fn new(txn: &HttpTransaction, key: &MaskKey) -> Analysis {
        #[cfg(debug_assertions)]
        test_trigger::check("analysis", txn);
        let obs = crate::observe::observation(txn);
        let prepared = apisonar_engine::catalog::Prepared::new(&obs, key);
        let attempts = apisonar_engine::findings::injection_attempts(&obs);
        Analysis { obs, prepared, attempts }
    }
}

/// How `--transactions` writes targets: raw when asked, else masked with the store's key (or,
/// without a store, a key of this run only).
pub fn targets(raw: bool, inventory: Option<&Inventory>) -> crate::output::Targets {
    if raw {
        return crate::output::Targets::Raw;
    }
    let key = inventory.map(|i| i.mask_key).unwrap_or_else(|| {
        let mut fresh = [0u8; 32];
        // Without randomness the fixed default key still masks; it only makes hashes linkable.
        let _ = getrandom::fill(&mut fresh);
        MaskKey::new(fresh)
    });
    crate::output::Targets::Masked(key)
}

/// The store's mask key: made at random on first use and kept in its settings, so that masks
/// of one store stay comparable across runs and mean nothing without the store.
pub fn mask_key(store: &dyn Store) -> Result<MaskKey> {
    const SETTING: &str = "sensitive.mask_key";
    loop {
        if let Some(bytes) = store.setting(SETTING)? {
            let key: [u8; 32] =
                bytes.try_into().map_err(|_| anyhow::anyhow!("the store's mask key is damaged (not 32 bytes)"))?;
            return Ok(MaskKey::new(key));
        }
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| anyhow::anyhow!("cannot make a mask key: {e}"))?;
        // Compare-and-swap: a concurrent first start keeps one key.
        store.put_setting(SETTING, Some(None), &fresh)?;
    }
}

/// Stands for "every client beyond the per-alert limit".
pub const MANY_CLIENTS: &str = "*";

/// An alert's dedup key without its client.
fn alert_group(a: &apisonar_engine::Alert) -> String {
    apisonar_engine::alert::group_key(&a.kind, a.subtype.as_deref(), &a.host, &a.method, &a.path)
}

/// One more occurrence, seen from `first_seen` to `last_seen`, folded into a pending alert.
fn count_occurrence(pending: &mut apisonar_engine::Alert, first_seen: i64, last_seen: i64) {
    pending.count += 1;
    pending.first_seen = pending.first_seen.min(first_seen);
    pending.last_seen = pending.last_seen.max(last_seen);
}

const WRITE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl Inventory {
    pub fn open(
        dir: &Path,
        new_specs: Vec<apisonar_engine::Spec>,
        limits: apisonar_engine::InventoryLimits,
    ) -> Result<Inventory> {
        let store = SledStore::open(dir, &SledOptions::default())?;
        let mask_key = mask_key(&store)?;
        for spec in &new_specs {
            store.put_spec(spec)?;
        }
        let stored_tls_hosts: std::collections::HashSet<String> =
            store.tls_hosts().context("cannot read the TLS hosts")?.into_iter().map(|h| h.host).collect();
        let mut catalog = Catalog::with_limits(TemplateConfig::default(), limits);
        catalog.load(store.endpoints().context("cannot read the existing inventory")?);
        for o in store.overrides().context("cannot read the template overrides")? {
            let _ = catalog.pin(o.host.as_deref(), &o.template);
        }
        crate::posture::apply_specs(&mut catalog, &store.specs().context("cannot read the specs")?);
        let mut alert_clients = AlertClients::default();
        let alerts = store.alerts().context("cannot read the alerts")?;
        for a in &alerts {
            if let Some(client) = &a.client {
                alert_clients.own(&alert_group(a), client, usize::MAX);
            }
        }
        Ok(Inventory {
            catalog,
            store,
            last_write: Instant::now(),
            writer: None,
            pending_alerts: Default::default(),
            alert_stream: None,
            behavior: Default::default(),
            tls_hosts: Default::default(),
            alerts_raised: 0,
            alert_clients,
            mask_key,
            stored_tls_hosts,
            stored_alerts: alerts.len(),
            alerts_overflowed: Default::default(),
        })
    }

    /// Traffic kept out of the inventory by its caps since start, by reason.
    pub fn overflow_totals(&self) -> BTreeMap<apisonar_engine::OverflowReason, u64> {
        let mut totals = self.catalog.overflow_totals().clone();
        let alerts = self.alerts_overflowed.load(std::sync::atomic::Ordering::Relaxed);
        if alerts > 0 {
            totals.insert(apisonar_engine::OverflowReason::Alerts, alerts);
        }
        totals
    }

    /// Retention while running: endpoints and alerts not seen for `days` (packet time: replaying
    /// an old capture must not erase it) are deleted; returns the endpoints deleted.
    pub fn retain(&mut self, days: u32) -> usize {
        let newest = self.catalog.endpoints().map(|e| e.last_seen).max().unwrap_or(0);
        let cutoff = newest.saturating_sub(i64::from(days).saturating_mul(86_400 * 1_000_000));
        let pruned = self.catalog.prune(cutoff);
        self.write();
        self.writer().prune_alerts(cutoff);
        pruned
    }

    /// Merges a transaction whose stateless analysis was done (possibly on a flow worker).
    pub fn observe_analysed(&mut self, analysis: Analysis) {
        let Analysis { obs, prepared, attempts } = analysis;
        #[cfg(debug_assertions)]
        test_trigger::check_target("merge", &obs.target);
        let Some(observed) = self.catalog.observe_prepared(&obs, prepared) else {
            // Over a cap: counted as overflow by the catalog.
            self.tick();
            return;
        };
        let client = obs.client.to_string();
        let data = apisonar_engine::findings::data_alerts_unless(
            &obs,
            &observed.key,
            &observed.findings,
            &mut |kind, subtype| self.count_repeat(kind, subtype, &observed.key, &client, obs.ts),
        );
        let injections = apisonar_engine::findings::injection_alerts_of(&obs, &observed.key, attempts);
        let abuse = self.behavior.observe(&obs, &observed.key);
        for a in data.into_iter().chain(injections).chain(abuse) {
            self.pending(a);
        }
        self.tick();
    }

    /// Writes what changed if the last write is older than the write interval (for quiet links,
    /// where no transaction arrives to trigger it).
    pub fn tick(&mut self) {
        if self.last_write.elapsed() >= WRITE_INTERVAL {
            self.write();
        }
    }

    /// The client an occurrence in `group` is filed under: its own, until as many clients as
    /// `max_clients_per_alert` have their own alert in the group; then `MANY_CLIENTS`.
    fn file_client(&mut self, group: &str, client: &str) -> String {
        let limit = self.behavior.thresholds.max_clients_per_alert;
        if self.alert_clients.own(group, client, limit) {
            client.to_string()
        } else {
            MANY_CLIENTS.to_string()
        }
    }

    /// Counts one more occurrence of an alert already pending for this endpoint and client, and
    /// says whether there was one (else the caller drafts the alert and hands it to `pending`).
    fn count_repeat(
        &mut self,
        kind: &str,
        subtype: &str,
        key: &apisonar_engine::EndpointKey,
        client: &str,
        ts: i64,
    ) -> bool {
        let group = apisonar_engine::alert::group_key(kind, Some(subtype), &key.host, &key.method, &key.path);
        let client = self.file_client(&group, client);
        let Some(p) = self.pending_alerts.get_mut(&apisonar_engine::alert::dedup_key(&group, Some(&client))) else {
            return false;
        };
        count_occurrence(p, ts, ts);
        self.alerts_raised += 1;
        true
    }

    /// Adds an alert occurrence to the aggregate written at the next write.
    pub fn pending(&mut self, mut a: apisonar_engine::Alert) {
        self.alerts_raised += 1;
        let group = alert_group(&a);
        if let Some(client) = a.client.take() {
            a.client = Some(self.file_client(&group, &client));
        }
        match self.pending_alerts.entry(apisonar_engine::alert::dedup_key(&group, a.client.as_deref())) {
            std::collections::hash_map::Entry::Occupied(mut p) => {
                count_occurrence(p.get_mut(), a.first_seen, a.last_seen)
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(a);
            }
        }
    }

    /// Hands what changed since the last write to the store writer.
    pub fn write(&mut self) {
        self.last_write = Instant::now();
        let changes = self.catalog.take_changes();
        // In key order, so that alert ids are given out the same way on every run.
        let mut alerts: Vec<(String, apisonar_engine::Alert)> =
            std::mem::take(&mut self.pending_alerts).into_iter().collect();
        alerts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let alerts = alerts.into_iter().map(|(_, a)| a).collect();
        self.writer().write(changes, alerts);
    }

    fn writer(&mut self) -> &StoreWriter {
        self.writer.get_or_insert_with(|| {
            let cap = crate::store_writer::AlertCap {
                max: self.catalog.limits().max_alerts,
                stored: self.stored_alerts,
                overflowed: self.alerts_overflowed.clone(),
            };
            StoreWriter::spawn(self.store.clone(), self.alert_stream.take(), cap)
        })
    }

    /// Writes, then has shadow/zombie alerts raised or updated for the whole inventory (on the
    /// store writer, after the write).
    pub fn sync_posture(&mut self) {
        self.write();
        self.writer().sync_posture();
    }

    /// Why the store is no longer written to, once a write failed.
    pub fn failure(&self) -> Option<String> {
        self.writer.as_ref()?.failed()
    }

    pub fn finish(mut self, retention_days: Option<u32>) -> Result<usize> {
        if let Some(days) = retention_days {
            self.retain(days);
        }
        self.write();
        let (mut stream, error) = match self.writer.take() {
            Some(writer) => writer.finish(),
            None => (self.alert_stream.take(), None),
        };
        if let Some(e) = error {
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
        let count = self.catalog.len();
        let changed = apisonar_web::views::sync_posture_alerts(&self.store).context("cannot update the alerts")?;
        crate::store_writer::stream_alerts(&mut stream, &changed);
        if let Some(w) = &mut stream {
            w.flush().context("cannot write the alert stream")?;
        }
        self.store.flush().context("cannot flush the inventory")?;
        Ok(count)
    }
}

impl Writers {
    fn record(out: &mut Option<Output>, error: &mut Option<io::Error>, value: &impl Serialize) {
        let Some(w) = out else { return };
        let result = serde_json::to_writer(&mut *w, value).map_err(io::Error::from).and_then(|()| w.write_all(b"\n"));
        if let Err(e) = result {
            // Keep the first error; stop writing (e.g. a closed pipe) but keep analysing.
            error.get_or_insert(e);
            *out = None;
        }
    }
}

impl Writers {
    /// A transaction from a flow worker, analysed there when the inventory is kept.
    pub fn on_analysed(&mut self, txn: HttpTransaction, analysis: Analysed) {
        if let Some(inventory) = &mut self.inventory {
            // Made here when no flow worker made it (the single-threaded path).
            let analysis = match analysis {
                Analysed::Later => Analysed::make(&txn, &inventory.mask_key),
                other => other,
            };
            if let Analysed::Done(a) = analysis {
                crate::contain::contained("merge", || inventory.observe_analysed(*a));
            }
        }
        if self.transactions.is_some() {
            Writers::record(&mut self.transactions, &mut self.error, &TransactionRecord::new(&txn, self.targets));
        }
    }
}

impl EventSink for Writers {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.on_analysed(txn, Analysed::Later);
    }

    fn on_tls(&mut self, record: apisonar_flow::TlsRecord) {
        let (observation, output) = crate::output::tls_records(&record);
        if let Some(inventory) = &mut self.inventory {
            crate::contain::contained("merge", || inventory.observe_tls(&record, &observation, &output));
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

impl Inventory {
    /// Merges a TLS handshake: weak-TLS alerts and the server name's TLS record.
    fn observe_tls(
        &mut self,
        record: &apisonar_flow::TlsRecord,
        observation: &apisonar_engine::tlsposture::TlsObservation,
        output: &crate::output::TlsOutput,
    ) {
        let inventory = self;
        {
            for a in apisonar_engine::tlsposture::weak_tls_alerts(observation) {
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
            let known = inventory.tls_hosts.contains_key(&host) || inventory.stored_tls_hosts.contains(&host);
            let held = inventory.tls_hosts.len().saturating_add(inventory.stored_tls_hosts.len());
            if known || held < inventory.catalog.limits().max_tls_hosts {
                inventory.tls_hosts.entry(host).or_default().add(observation, &facts);
            } else {
                let ts = record.session.ts.micros();
                inventory.catalog.count_overflow(&host, apisonar_engine::OverflowReason::TlsHosts, ts);
            }
        }
    }
}

/// The environment, skipping variables that are not UTF-8 (`std::env::vars` would panic on them).
pub fn utf8_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

/// Detector thresholds: the configuration file's, then `--threshold NAME=VALUE` flags.
pub fn thresholds(config: &crate::config::Config, flags: &[String]) -> Result<apisonar_engine::behavior::Thresholds> {
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
            "max_clients_per_alert" => t.max_clients_per_alert = int()? as usize,
            other => anyhow::bail!("--threshold: unknown name {other:?}"),
        }
    }
    Ok(t)
}

/// Debug builds only: `APISONAR_TEST_PANIC=STAGE:MARKER` makes the analysis (`analysis`, on the
/// workers) or the merge (`merge`, on the inventory thread) panic for every request whose target
/// contains MARKER, so tests can show that containment costs only those transactions.
#[cfg(debug_assertions)]
mod test_trigger {
    use std::sync::OnceLock;

    fn setting() -> Option<&'static (String, String)> {
        static SETTING: OnceLock<Option<(String, String)>> = OnceLock::new();
        SETTING
            .get_or_init(|| {
                let v = std::env::var("APISONAR_TEST_PANIC").ok()?;
                let (stage, marker) = v.split_once(':')?;
                Some((stage.to_string(), marker.to_string()))
            })
            .as_ref()
    }

    pub fn check(stage: &str, txn: &apisonar_flow::HttpTransaction) {
        check_target(stage, &String::from_utf8_lossy(txn.request.head.target()));
    }

    pub fn check_target(stage: &str, target: &str) {
        if let Some((s, marker)) = setting() {
            if s == stage && target.contains(marker.as_str()) {
                panic!("test trigger in {stage}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(path: &str, ts: i64, key: &MaskKey) -> Analysis {
        let obs = apisonar_engine::Observation {
            ts,
            client: std::net::IpAddr::from([10, 0, 0, 7]),
            server: std::net::SocketAddr::from(([10, 0, 0, 1], 80)),
            host: Some("api.test".into()),
            method: "GET".into(),
            target: format!("{path}?password=hunter2-retained"),
            request_headers: vec![],
            request_body: vec![],
            request_body_len: 0,
            response: None,
            encrypted: false,
        };
        let prepared = apisonar_engine::catalog::Prepared::new(&obs, key);
        let attempts = apisonar_engine::findings::injection_attempts(&obs);
        Analysis { obs, prepared, attempts }
    }

    #[test]
    fn retention_deletes_endpoints_and_alerts_not_seen_for_the_period() {
        let dir = std::env::temp_dir().join(format!("apisonar-sink-retention-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        const DAY: i64 = 86_400 * 1_000_000;
        let mut inventory = Inventory::open(&dir, vec![], Default::default()).unwrap_or_else(|e| panic!("{e:#}"));
        let key = inventory.mask_key;
        inventory.observe_analysed(analysis("/old", DAY, &key));
        inventory.observe_analysed(analysis("/new", 10 * DAY, &key));
        inventory.write();
        // Both raised a cleartext password alert; retention keeps what was seen in the last 5 days.
        assert_eq!(inventory.retain(5), 1);
        let count = inventory.finish(None).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(count, 1);
        let store = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let paths: Vec<String> = store.endpoints().unwrap_or_default().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["/new"]);
        let alerts = store.alerts().unwrap_or_default();
        assert_eq!(alerts.iter().map(|a| a.path.as_str()).collect::<Vec<_>>(), ["/new"], "{alerts:?}");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
