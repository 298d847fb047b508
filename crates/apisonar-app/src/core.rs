//! The core: the catalog, the detectors, the alert policy and the TLS records of one store, fed
//! analysed transactions and commands on one thread, written by one writer thread.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apisonar_engine::behavior::{Behavior, Thresholds};
use apisonar_engine::catalog::{EndpointKey, HoldCheck, Recorded, Routed, OTHER_HOSTS};
use apisonar_engine::sensitive::MaskKey;
use apisonar_engine::tlsposture::TlsObservation;
use apisonar_engine::{Alert, Catalog, InventoryLimits, OverflowReason, Spec, TemplateConfig};
use apisonar_store::Store;

use crate::alert_policy::AlertPolicy;
use crate::analysis::{AnalysedMessage, AnalysedTransaction};
use crate::commands::{Command, CommandQueue, Outcome};
use crate::held::HeldProbes;
use crate::posture::apply_specs;
use crate::tls_hosts::TlsHosts;
use crate::writer::{AlertCap, Job, Reply, SharedStore, Writer};
use crate::CoreError;

/// What changes reach the store at most this far apart: a killed process loses at most this much.
const WRITE_EVERY: Duration = Duration::from_secs(1);
/// Shadow/zombie alerts are re-derived from the whole inventory this often (and after changes
/// to specs).
const POSTURE_EVERY: Duration = Duration::from_secs(60);
/// With a retention period, old endpoints and alerts are deleted this often.
const RETENTION_EVERY: Duration = Duration::from_secs(600);
const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// Where stored alerts are streamed (`--alerts`): each write's alerts as stored.
pub trait AlertStream: Send {
    fn stored(&mut self, alerts: &[Alert]) -> std::io::Result<()>;
    fn flush(&mut self) -> std::io::Result<()>;
}

/// How the core is set up.
#[derive(Debug, Default)]
pub struct CoreOptions {
    pub limits: InventoryLimits,
    pub thresholds: Thresholds,
    /// Delete endpoints and alerts not seen for this many days (packet time).
    pub retention_days: Option<u32>,
    /// Specs to store (or replace) as the core opens (given on the command line).
    pub specs: Vec<Spec>,
}

/// Counters for the status line, `/metrics` and the summary.
#[derive(Debug, Clone, Default)]
pub struct CoreStats {
    pub endpoints: usize,
    pub alerts_raised: u64,
    /// Occurrences suppression rules dropped.
    pub alerts_suppressed: u64,
    /// Traffic the caps kept out, by reason.
    pub overflow: std::collections::BTreeMap<OverflowReason, u64>,
    /// Why the store is no longer written to, once a write failed or hung.
    pub store_failure: Option<String>,
}

pub struct Core {
    store: SharedStore,
    catalog: Catalog,
    behavior: Behavior,
    alerts: AlertPolicy,
    /// Would-be probes waiting to be judged (see `held`).
    held: HeldProbes,
    tls: TlsHosts,
    /// The stored specs (the core changes them, so its copy is current).
    specs: Vec<Spec>,
    mask_key: MaskKey,
    writer: Writer,
    alerts_overflowed: Arc<AtomicU64>,
    retention_days: Option<u32>,
    last_write: Instant,
    last_posture: Instant,
    last_retention: Instant,
    /// Open WebSocket connections: (connection, upgrade request) to the endpoint of the upgrade,
    /// at most `MAX_WEBSOCKETS` (beyond, the oldest are forgotten and their messages counted
    /// nowhere).
    websockets: HashMap<(u64, u32), EndpointKey>,
    websocket_order: VecDeque<(u64, u32)>,
    /// The last client address written out as text (alerts name clients as text; behind a load
    /// balancer one address sends most transactions).
    client_text: Option<(std::net::IpAddr, String)>,
    /// What merges left, for the flow workers that made it to free (`hand_back`).
    leftovers: Vec<Leftover>,
}

/// What a merge leaves of a transaction: the transaction and what the catalog recorded, both
/// made on a flow worker. Freeing them there rather than here spares both threads: a block
/// freed on another thread goes back through an atomic list that its own thread must then
/// collect (about 5% of each thread's time on the benchmark captures). For the same reason the
/// one part made here, the endpoint key's template, is freed here (`merge`).
pub struct Leftover {
    _transaction: Box<AnalysedTransaction>,
    _recorded: Option<Recorded>,
}

/// What the hold check found for a transaction merged right after it: whether its client is a
/// scanner, and the route (`None`: a cap keeps it out).
struct Checked {
    scanner: bool,
    routed: Option<Routed>,
}

/// Leftovers kept for `hand_back` at most; more are freed here (a core whose caller never
/// takes them stays bounded).
const MAX_LEFTOVERS: usize = 1024;

/// WebSocket connections whose endpoint the core remembers for their messages.
const MAX_WEBSOCKETS: usize = 65_536;

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("endpoints", &self.catalog.len()).finish_non_exhaustive()
    }
}

/// The store's mask key: made at random on first use and kept in its settings, so that masks
/// of one store stay comparable across runs and mean nothing without the store.
fn mask_key(store: &dyn Store) -> Result<MaskKey, CoreError> {
    const SETTING: &str = "sensitive.mask_key";
    loop {
        if let Some(bytes) = store.setting(SETTING)? {
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| CoreError::Refused("the store's mask key is damaged (not 32 bytes)".into()))?;
            return Ok(MaskKey::new(key));
        }
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| CoreError::Random(e.to_string()))?;
        // Compare-and-swap: of two first starts, one key stays.
        store.put_setting(SETTING, Some(None), &fresh)?;
    }
}

impl Core {
    /// Loads the inventory of `store` and starts its writer; `stream` receives stored alerts.
    pub fn open(
        store: SharedStore,
        options: CoreOptions,
        stream: Option<Box<dyn AlertStream>>,
    ) -> Result<Core, CoreError> {
        let mask_key = mask_key(store.as_ref())?;
        for spec in &options.specs {
            store.put_spec(spec)?;
        }
        let mut catalog = Catalog::with_limits(TemplateConfig::default(), options.limits.clone());
        catalog.load(store.endpoints()?);
        for o in store.overrides()? {
            catalog.pin(o.host.as_deref(), &o.template);
        }
        let specs = store.specs()?;
        apply_specs(&mut catalog, &specs);
        let stored_alerts = store.alerts()?;
        let rules = apisonar_engine::suppression::Suppressions::new(store.suppressions()?);
        let alerts = AlertPolicy::new(options.thresholds.max_clients_per_alert, &stored_alerts, rules);
        let tls = TlsHosts::new(store.tls_hosts()?, options.limits.max_tls_hosts);
        let alerts_overflowed = Arc::new(AtomicU64::new(0));
        let cap = AlertCap {
            max: options.limits.max_alerts,
            stored: stored_alerts.len(),
            overflowed: alerts_overflowed.clone(),
        };
        let writer = Writer::spawn(store.clone(), stream, cap);
        let now = Instant::now();
        Ok(Core {
            store,
            catalog,
            behavior: Behavior::new(options.thresholds),
            alerts,
            held: HeldProbes::default(),
            tls,
            specs,
            mask_key,
            writer,
            alerts_overflowed,
            retention_days: options.retention_days,
            last_write: now,
            last_posture: now,
            last_retention: now,
            websockets: HashMap::new(),
            websocket_order: VecDeque::new(),
            client_text: None,
            leftovers: Vec::new(),
        })
    }

    /// The key the workers mask sensitive values with.
    pub fn mask_key(&self) -> MaskKey {
        self.mask_key
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Merges one analysed transaction: the catalog, sensitive-data and injection alerts, and
    /// the abuse detectors. One whose place in the catalog is not certain yet (a probe, so far)
    /// is held back a little (see `held`).
    pub fn apply(&mut self, transaction: impl Into<Box<AnalysedTransaction>>) {
        let transaction = transaction.into();
        self.held.count();
        let scanner = self.behavior.is_scanner_as(transaction.observation.client, transaction.facts.scanner_tool());
        match self.catalog.hold_check(&transaction.observation, &transaction.facts, scanner) {
            HoldCheck::Hold => self.held.hold(transaction),
            // Merged at once: on what the check found (a held one is judged again when due).
            HoldCheck::Merge(routed) => self.merge_routed(transaction, Some(Checked { scanner, routed })),
        }
        while let Some(due) = self.held.due() {
            self.merge(due);
        }
    }

    /// Judges every held transaction now, on templates consolidated first (sibling words that
    /// became a parameter take the error answers of their other values).
    fn release_held(&mut self) {
        self.catalog.consolidate();
        while let Some(t) = self.held.pop() {
            self.merge(t);
        }
    }

    /// Moves what merges left since the last call into `into` (see [`Leftover`]).
    pub fn hand_back(&mut self, into: &mut Vec<Leftover>) {
        into.append(&mut self.leftovers);
    }

    fn merge(&mut self, transaction: Box<AnalysedTransaction>) {
        self.merge_routed(transaction, None);
    }

    /// Merges a transaction, on what the hold check found just before, if it ran.
    fn merge_routed(&mut self, mut transaction: Box<AnalysedTransaction>, checked: Option<Checked>) {
        let mut recorded = self.record(&mut transaction, checked);
        if let Some(recorded) = recorded.as_mut() {
            // The templater made it on this thread: freed here, the free is a local one.
            drop(std::mem::take(&mut recorded.key.path));
        }
        if self.leftovers.len() < MAX_LEFTOVERS {
            self.leftovers.push(Leftover { _transaction: transaction, _recorded: recorded });
        }
    }

    /// Merges one transaction (see `apply`); what the catalog recorded, if it did.
    fn record(&mut self, transaction: &mut AnalysedTransaction, checked: Option<Checked>) -> Option<Recorded> {
        // Read in place, not moved: the transaction (a large value) stays in its box, which goes
        // back to the worker that made it; the catalog takes out only what it keeps.
        let attempts = std::mem::take(&mut transaction.attempts);
        let AnalysedTransaction { observation: obs, facts, upgrade, .. } = transaction;
        let upgrade = *upgrade;
        let tool = facts.scanner_tool();
        let Checked { scanner, routed } =
            checked.unwrap_or_else(|| Checked { scanner: self.behavior.is_scanner_as(obs.client, tool), routed: None });
        let Some(recorded) = self.catalog.record_routed(obs, facts, scanner, routed) else {
            // Over a cap: counted as overflow by the catalog.
            return None;
        };
        if let Some(path) = &recorded.probe {
            // A probe of the host: only the scanner detectors look at it (its payloads are
            // aimed at no route the inventory lists).
            for a in self.behavior.observe_probe(obs, &recorded.key.host, path) {
                self.alerts.add(a);
            }
            return Some(recorded);
        }
        if let Some(exchange) = upgrade {
            if self.websocket_order.len() >= MAX_WEBSOCKETS {
                if let Some(old) = self.websocket_order.pop_front() {
                    self.websockets.remove(&old);
                }
            }
            self.websockets.insert(exchange, recorded.key.clone());
            self.websocket_order.push_back(exchange);
        }
        // Written out only for a transaction with sensitive data.
        let (policy, cached) = (&mut self.alerts, &mut self.client_text);
        let data =
            apisonar_engine::findings::data_alerts(obs, &recorded.key, &recorded.findings, &mut |kind, subtype| {
                if cached.as_ref().is_none_or(|(ip, _)| *ip != obs.client) {
                    *cached = Some((obs.client, obs.client.to_string()));
                }
                let client = cached.as_ref().map_or("", |(_, text)| text.as_str());
                policy.count_repeat(kind, subtype, &recorded.key, client, obs.ts)
            });
        let injections = apisonar_engine::findings::injection_alerts(obs, &recorded.key, attempts);
        if recorded.introspection {
            self.alerts.add(apisonar_engine::findings::introspection_alert(obs, &recorded.key));
        }
        let abuse = self.behavior.observe_as(obs, &recorded.key, facts.path(), recorded.principal, tool);
        for a in data.into_iter().chain(injections).chain(abuse) {
            self.alerts.add(a);
        }
        Some(recorded)
    }

    /// Merges one WebSocket message into the endpoint its connection was upgraded on: counts,
    /// schemas, sensitive data (with the cleartext alerts a request body would raise), and
    /// injection attempts in what the client sent.
    pub fn apply_message(&mut self, message: AnalysedMessage) {
        let AnalysedMessage { observation: obs, parent, facts, attempts } = message;
        let Some(key) = self.websockets.get(&parent).cloned() else { return };
        if !self.catalog.record_message(&key, &facts, obs.ts) {
            return;
        }
        let request = obs.as_request(&key.method, &key.host, &key.path);
        let policy = &mut self.alerts;
        let client = obs.client.to_string();
        let data = apisonar_engine::findings::data_alerts(&request, &key, facts.findings(), &mut |kind, subtype| {
            policy.count_repeat(kind, subtype, &key, &client, obs.ts)
        });
        let injections = apisonar_engine::findings::injection_alerts(&request, &key, attempts);
        for a in data.into_iter().chain(injections) {
            self.alerts.add(a);
        }
    }

    /// Merges one TLS handshake: weak-TLS alerts and its server name's record.
    pub fn apply_tls(&mut self, observation: &TlsObservation) {
        for a in apisonar_engine::tlsposture::weak_tls_alerts(observation) {
            self.alerts.add(a);
        }
        if !self.tls.add(observation) {
            let name = observation.sni.as_deref().unwrap_or(OTHER_HOSTS);
            self.catalog.count_overflow(name, OverflowReason::TlsHosts, observation.ts);
        }
    }

    /// Periodic work, paced by the wall clock: the write each second, the shadow/zombie sync each
    /// minute, retention every ten minutes. Call it often (after each batch of events).
    pub fn tick(&mut self) {
        while let Some(due) = self.held.due() {
            self.merge(due);
        }
        if self.last_write.elapsed() >= WRITE_EVERY {
            self.write();
        }
        if self.last_posture.elapsed() >= POSTURE_EVERY {
            self.sync_posture();
        }
        if let Some(days) = self.retention_days.filter(|_| self.last_retention.elapsed() >= RETENTION_EVERY) {
            self.last_retention = Instant::now();
            let pruned = self.retain(days);
            if pruned > 0 {
                tracing::info!(
                    endpoints = pruned,
                    days,
                    "retention: endpoints not seen for the retention period deleted"
                );
            }
        }
    }

    /// Has shadow/zombie alerts raised or updated for the whole inventory (after what is merged
    /// so far is written).
    pub fn sync_posture(&mut self) {
        self.release_held();
        self.write();
        self.last_posture = Instant::now();
        self.writer.send(Job::Posture(None));
    }

    /// Hands what changed since the last write to the writer.
    fn write(&mut self) {
        self.last_write = Instant::now();
        let changes = self.catalog.take_changes();
        // Alerts belong to endpoints: those pending on a refiled endpoint go with it (the
        // writer refiles the stored ones with the changes).
        self.alerts.follow(&changes.moved);
        let alerts = self.alerts.take();
        let tls_hosts = self.tls.take_changed();
        let suppressions = self.alerts.rules.take_changed();
        if changes.upserts.is_empty()
            && changes.removed.is_empty()
            && changes.moved.is_empty()
            && changes.overflow.is_empty()
            && alerts.is_empty()
            && tls_hosts.is_empty()
            && suppressions.is_none()
        {
            return;
        }
        self.writer.send(Job::Write { changes, alerts, tls_hosts, suppressions });
    }

    /// Retention: endpoints and alerts not seen for `days` (packet time: replaying an old capture
    /// must not erase it) are deleted; returns the endpoints deleted.
    pub fn retain(&mut self, days: u32) -> usize {
        let newest = self.catalog.last_seen();
        let cutoff = newest.saturating_sub(i64::from(days).saturating_mul(MICROS_PER_DAY));
        let pruned = self.catalog.prune(cutoff);
        self.write();
        self.writer.send(Job::PruneAlerts(cutoff));
        pruned
    }

    /// Takes the commands waiting in `queue` and runs them; their outcomes go straight to the
    /// callers when the store has them, so this thread never waits for the store.
    pub fn serve(&mut self, queue: &CommandQueue) {
        while let Some((command, reply)) = queue.try_next() {
            self.handle(command, reply);
        }
    }

    /// Runs `command` and waits for its outcome (for the command line, which owns the core).
    pub fn execute(&mut self, command: Command) -> Result<Outcome, CoreError> {
        let (reply, outcome) = channel();
        self.handle(command, reply);
        outcome.recv().map_err(|_| CoreError::Gone)?
    }

    /// Serves commands until every handle is gone (a dashboard without capture), doing the
    /// periodic work between them.
    pub fn run_commands(&mut self, queue: &CommandQueue, stop: &dyn Fn() -> bool) {
        while !stop() {
            match queue.next_within(Duration::from_millis(200)) {
                Ok((command, reply)) => self.handle(command, reply),
                Err(true) => return,
                Err(false) => {}
            }
            self.tick();
        }
    }

    fn handle(&mut self, command: Command, reply: Reply) {
        // Traffic merged so far goes first: a command acts on the inventory as it is now.
        self.write();
        match command {
            Command::ChangeAlert { id, change, by, at } => {
                self.writer.send(Job::ChangeAlert { id, change, by, at, reply })
            }
            Command::AddSuppression(rule) => match self.alerts.rules.add(*rule) {
                Ok(added) => {
                    self.write();
                    self.writer.send(Job::Answer { reply, outcome: Outcome::Suppression(Box::new(added)) });
                }
                Err(e) => {
                    let _ = reply.send(Err(CoreError::Refused(e.to_string())));
                }
            },
            Command::RemoveSuppression(id) => {
                let removed = self.alerts.rules.remove(id);
                self.write();
                self.writer.send(Job::Answer { reply, outcome: Outcome::Removed(removed) });
            }
            Command::AddSpec(spec) => {
                let operations = spec.operations.len();
                self.store_spec(*spec);
                self.after_spec_change(reply, operations);
            }
            Command::RemoveSpec(name) => {
                // Templates the spec pinned stay until the next start: traffic already follows them.
                self.specs.retain(|s| s.name != name);
                self.writer.send(Job::RemoveSpec { name, reply });
            }
            Command::Pin(rule) => {
                let folded = self.catalog.pin(rule.host.as_deref(), &rule.template);
                self.write();
                self.writer.send(Job::AddOverride { rule, folded, reply });
            }
            Command::Unpin(rule) => self.writer.send(Job::RemoveOverride { rule, reply }),
            Command::Reload { thresholds, specs } => {
                self.behavior.thresholds = *thresholds;
                self.alerts.max_clients = self.behavior.thresholds.max_clients_per_alert;
                let operations = specs.iter().map(|s| s.operations.len()).sum();
                for spec in specs {
                    self.store_spec(spec);
                }
                self.after_spec_change(reply, operations);
            }
        }
    }

    fn store_spec(&mut self, spec: Spec) {
        apply_specs(&mut self.catalog, std::slice::from_ref(&spec));
        self.specs.retain(|s| s.name != spec.name);
        self.specs.push(spec.clone());
        self.writer.send(Job::PutSpec(Box::new(spec)));
    }

    /// After specs changed: the re-templated endpoints, then shadow/zombie alerts, then the reply.
    fn after_spec_change(&mut self, reply: Reply, operations: usize) {
        self.write();
        self.last_posture = Instant::now();
        self.writer.send(Job::Posture(Some((reply, operations))));
    }

    pub fn stats(&self) -> CoreStats {
        CoreStats {
            endpoints: self.catalog.len(),
            alerts_raised: self.alerts.raised,
            alerts_suppressed: self.alerts.suppressed,
            overflow: self.overflow(),
            store_failure: self.writer.failed(),
        }
    }

    /// Traffic kept out of the inventory so far, by reason.
    fn overflow(&self) -> std::collections::BTreeMap<OverflowReason, u64> {
        let mut overflow = self.catalog.overflow_totals().clone();
        let alerts = self.alerts_overflowed.load(Ordering::Relaxed);
        if alerts > 0 {
            overflow.insert(OverflowReason::Alerts, alerts);
        }
        overflow
    }

    /// The stored specs (as the core knows them).
    pub fn specs(&self) -> &[Spec] {
        &self.specs
    }

    /// TLS server names with a record.
    pub fn tls_hosts(&self) -> usize {
        self.tls.len()
    }

    /// The last writes, retention, a final shadow/zombie sync, the alert stream flushed and the
    /// store made durable; returns the final counters (after the held transactions are judged).
    pub fn finish(mut self) -> Result<CoreStats, CoreError> {
        self.release_held();
        if let Some(days) = self.retention_days {
            self.retain(days);
        }
        self.write();
        self.writer.send(Job::Posture(None));
        let mut stats = CoreStats {
            endpoints: self.catalog.len(),
            alerts_raised: self.alerts.raised,
            alerts_suppressed: self.alerts.suppressed,
            overflow: self.catalog.overflow_totals().clone(),
            store_failure: None,
        };
        let (stream, error) = self.writer.finish();
        if let Some(e) = error {
            return Err(CoreError::Writer(e.to_string()));
        }
        if let Some(mut s) = stream {
            s.flush().map_err(|e| CoreError::Writer(format!("cannot write the alert stream: {e}")))?;
        }
        self.store.flush()?;
        // The last writes may have met the alert cap.
        let alerts = self.alerts_overflowed.load(Ordering::Relaxed);
        if alerts > 0 {
            stats.overflow.insert(OverflowReason::Alerts, alerts);
        }
        Ok(stats)
    }
}

/// A core on a thread of its own that serves commands (the dashboard without capture) until
/// every `Commands` handle is gone or `stop` says so, then finishes; the thread's result is
/// `finish`'s. The core is opened here, so that a store that cannot be read is reported at once.
pub fn spawn_serving(
    store: SharedStore,
    options: CoreOptions,
    stop: Box<dyn Fn() -> bool + Send>,
) -> Result<(crate::Commands, std::thread::JoinHandle<Result<CoreStats, CoreError>>), CoreError> {
    let mut core = Core::open(store, options, None)?;
    let (commands, queue) = crate::commands::command_channel();
    let thread = std::thread::Builder::new()
        .name("apisonar-core".into())
        .spawn(move || {
            core.run_commands(&queue, stop.as_ref());
            core.finish()
        })
        .map_err(|e| CoreError::Writer(format!("cannot start the core: {e}")))?;
    Ok((commands, thread))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests;
