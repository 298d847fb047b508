//! apisonar-store: the only crate that names sled.
//!
//! Owns: persistence of the catalog, specs, alerts, TLS hosts and settings behind the small
//! synchronous [`Store`] trait, with an on-disk sled implementation and an in-memory twin that
//! share one test suite. Values are the store's own record types (`records/v2.rs`, converted to
//! and from the engine's types), behind a leading format byte, then JSON; keys are big-endian where
//! numeric; the schema version is checked at open: a version-1 store is migrated in place, and a
//! store written by a newer version or a damaged one is refused without writing anything.
//!
//! Must not know: tokio, axum, pcap, the wire or flow layers.

mod memory;
mod records;
mod sled_store;

pub use memory::MemoryStore;
pub use sled_store::{SledOptions, SledStore};

use apisonar_engine::suppression::Suppression;
use apisonar_engine::{Alert, AlertChange, AlertMerge, Changes, Endpoint, EndpointKey, Spec};
use serde::{Deserialize, Serialize};

/// A template pinned by a user: `host` `None` applies to every host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TemplateOverride {
    pub host: Option<String>,
    pub template: String,
}

/// Version of the on-disk layout. Bump it, and add a migration, when records change shape.
/// 1: the engine's types as JSON (format byte 1). 2: the store's own records (format byte 2).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the store at {path} was written by a newer apisonar (schema {found}, this version reads {supported}); it was left untouched")]
    NewerSchema { path: String, found: u32, supported: u32 },
    #[error("the store is damaged: {0}; it was left untouched")]
    Damaged(String),
    #[error("store I/O error: {0}")]
    Io(String),
}

/// What the rest of apisonar needs from persistence. Synchronous and small on purpose: the one
/// place to fix if the storage engine misbehaves.
pub trait Store {
    /// Every endpoint record.
    fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError>;
    /// Writes upserts and deletions as one atomic batch, adds the overflow counts, and refiles
    /// the alerts of moved endpoints under their new endpoint (merging with an alert already
    /// there).
    fn apply(&self, changes: &Changes) -> Result<(), StoreError>;
    /// Deletes endpoints last seen before `cutoff` (microseconds since the epoch); returns how many.
    fn prune(&self, cutoff: i64) -> Result<usize, StoreError>;
    /// Every template override.
    fn overrides(&self) -> Result<Vec<TemplateOverride>, StoreError>;
    /// Adds an override (idempotent).
    fn add_override(&self, o: &TemplateOverride) -> Result<(), StoreError>;
    /// Removes an override; returns whether it existed.
    fn remove_override(&self, o: &TemplateOverride) -> Result<bool, StoreError>;
    /// Every stored spec.
    fn specs(&self) -> Result<Vec<Spec>, StoreError>;
    /// Stores (or replaces) a spec under its name.
    fn put_spec(&self, spec: &Spec) -> Result<(), StoreError>;
    /// Removes a spec; returns whether it existed.
    fn remove_spec(&self, name: &str) -> Result<bool, StoreError>;
    /// Every TLS host record.
    fn tls_hosts(&self) -> Result<Vec<apisonar_engine::tlsposture::TlsHost>, StoreError>;
    /// Writes (replaces) TLS host records.
    fn put_tls_hosts(&self, hosts: &[apisonar_engine::tlsposture::TlsHost]) -> Result<(), StoreError>;
    /// Traffic over the inventory's caps, per host (added up by `apply`).
    fn overflow(&self) -> Result<Vec<apisonar_engine::Overflow>, StoreError>;
    /// Every alert, by id.
    fn alerts(&self) -> Result<Vec<Alert>, StoreError>;
    /// Alert suppression rules, by id.
    fn suppressions(&self) -> Result<Vec<Suppression>, StoreError>;
    /// Replaces every suppression rule with `rules` (the core owns the list and its counts).
    fn put_suppressions(&self, rules: &[Suppression]) -> Result<(), StoreError>;
    /// Whether an alert with this dedup key is stored.
    fn has_alert(&self, dedup_key: &str) -> Result<bool, StoreError>;
    /// The stored alert with this dedup key (to tell what an upsert changed).
    fn alert_by_key(&self, dedup_key: &str) -> Result<Option<Alert>, StoreError>;
    /// Deletes alerts last seen before `cutoff` (microseconds since the epoch); returns how many.
    fn prune_alerts(&self, cutoff: i64) -> Result<usize, StoreError>;
    /// Records an occurrence: a new alert, or the existing one with the same dedup key updated
    /// (a resolved alert that fires again reopens). Returns the alert as stored and as it was.
    /// Atomic: concurrent upserts of one new dedup key make one alert.
    fn upsert_alert(&self, draft: &Alert, merge: AlertMerge) -> Result<Upserted, StoreError>;
    /// A person's change to an alert (state, assignee, comment), recorded as made by `by` at `at`
    /// (microseconds since the epoch); the alert as it is now, `None` if there is no such alert.
    /// Atomic with respect to `upsert_alert` of the same alert (neither loses the other's change).
    fn change_alert(&self, id: u64, change: &AlertChange, by: &str, at: i64) -> Result<Option<Alert>, StoreError>;
    /// A small named value kept for the dashboard (the admin credential's hash, API token
    /// hashes): never traffic data.
    fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets a named value; `expected` makes it a compare-and-swap (`Ok(false)` when the current
    /// value differs), so two processes cannot both create the first admin credential.
    fn put_setting(&self, name: &str, expected: Option<Option<&[u8]>>, value: &[u8]) -> Result<bool, StoreError>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
}

/// Combines an occurrence with an existing alert (shared by every `Store`).
pub(crate) fn merge_alert(existing: &mut Alert, draft: &Alert, merge: AlertMerge) {
    existing.absorb(draft, merge);
}

/// What `upsert_alert` did.
#[derive(Clone, Debug)]
pub struct Upserted {
    /// The alert as stored now.
    pub alert: Alert,
    /// The alert as it was before; `None` when this upsert made it.
    pub before: Option<Alert>,
}

impl Upserted {
    pub fn is_new(&self) -> bool {
        self.before.is_none()
    }

    /// New, or changed in state or severity: what an alert stream reports.
    pub fn is_news(&self) -> bool {
        self.before.as_ref().is_none_or(|b| b.state != self.alert.state || b.severity != self.alert.severity)
    }
}

/// `alert` filed under the endpoint `to`.
pub(crate) fn refiled(mut alert: Alert, to: &EndpointKey) -> Alert {
    alert.host.clone_from(&to.host);
    alert.method.clone_from(&to.method);
    alert.path.clone_from(&to.path);
    alert
}

#[cfg(test)]
mod contract;
