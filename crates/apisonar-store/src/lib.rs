//! apisonar-store: the only crate that names sled.
//!
//! Owns: persistence of the catalog (and, later, specs and alerts) behind the small synchronous
//! [`Store`] trait, with an on-disk sled implementation and an in-memory twin that share one test
//! suite. Records are versioned (a leading format byte, then JSON); keys are big-endian where
//! numeric; the schema version is checked at open, and a store written by a newer version or a
//! damaged one is refused without writing anything.
//!
//! Must not know: tokio, axum, pcap, the wire or flow layers.

mod memory;
mod records;
mod sled_store;

pub use memory::MemoryStore;
pub use sled_store::{SledOptions, SledStore};

use apisonar_engine::{Changes, Endpoint};
use serde::{Deserialize, Serialize};

/// A template pinned by a user: `host` `None` applies to every host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TemplateOverride {
    pub host: Option<String>,
    pub template: String,
}

/// Version of the on-disk layout. Bump it, and add a migration, when records change shape.
pub const SCHEMA_VERSION: u32 = 1;

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
    /// Writes upserts and deletions as one atomic batch.
    fn apply(&self, changes: &Changes) -> Result<(), StoreError>;
    /// Deletes endpoints last seen before `cutoff` (microseconds since the epoch); returns how many.
    fn prune(&self, cutoff: i64) -> Result<usize, StoreError>;
    /// Every template override.
    fn overrides(&self) -> Result<Vec<TemplateOverride>, StoreError>;
    /// Adds an override (idempotent).
    fn add_override(&self, o: &TemplateOverride) -> Result<(), StoreError>;
    /// Removes an override; returns whether it existed.
    fn remove_override(&self, o: &TemplateOverride) -> Result<bool, StoreError>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod contract;
