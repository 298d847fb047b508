//! Migration of a version-1 store (the engine's types as JSON) to version 2 (the store's own
//! records), in place, when it is opened.
//!
//! Crash safety: first every record is read and converted without writing anything, so a damaged
//! store is refused as it is. Then each tree is rewritten in one atomic sled batch (a record
//! already in format 2, left by an interrupted run, is checked and kept), the alert index is
//! rebuilt from the alerts, everything is flushed, and only then is the schema version set to 2
//! and flushed. A crash anywhere before that leaves version 1, each tree wholly in one format or
//! the other, and the next open runs the migration again to the same result.

use std::collections::BTreeMap;

use apisonar_engine::Alert;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{io, ALERTS_TREE, ALERT_KEYS_TREE, ENDPOINTS_TREE, OVERFLOW_TREE, OVERRIDES_TREE, SCHEMA_KEY};
use super::{SPECS_TREE, TLS_HOSTS_TREE};
use crate::records::{decode_format, decode_record, encode_record, v1, v2, RECORD_FORMAT_V1, RECORD_FORMAT_V2};
use crate::StoreError;

/// A value (and the tree's name, for errors) to `None` if it is already format 2 (and decodes),
/// or to the format-2 value of a format-1 one.
pub(super) type Upgrade = fn(&[u8], &str) -> Result<Option<Vec<u8>>, StoreError>;

/// A tree of records, and how one of its values becomes a format-2 record.
pub(super) struct RecordTree {
    pub(super) name: &'static str,
    pub(super) upgrade: Upgrade,
}

/// Every tree whose values changed format. `settings` (opaque values), `meta` and `alert_keys`
/// (ids) did not; `alert_keys` is rebuilt.
pub(super) const RECORD_TREES: [RecordTree; 6] = [
    RecordTree { name: ENDPOINTS_TREE, upgrade: upgrade::<v1::EndpointV1, v2::EndpointRecord> },
    RecordTree { name: OVERRIDES_TREE, upgrade: upgrade::<v1::OverrideV1, v2::OverrideRecord> },
    RecordTree { name: SPECS_TREE, upgrade: upgrade::<v1::SpecV1, v2::SpecRecord> },
    RecordTree { name: ALERTS_TREE, upgrade: upgrade::<v1::AlertV1, v2::AlertRecord> },
    RecordTree { name: TLS_HOSTS_TREE, upgrade: upgrade::<v1::TlsHostV1, v2::TlsHostRecord> },
    RecordTree { name: OVERFLOW_TREE, upgrade: upgrade::<v1::OverflowV1, v2::OverflowRecord> },
];

fn upgrade<Old, New>(value: &[u8], what: &str) -> Result<Option<Vec<u8>>, StoreError>
where
    Old: DeserializeOwned,
    New: From<Old> + Serialize + DeserializeOwned,
{
    match value.first() {
        Some(&RECORD_FORMAT_V2) => decode_record::<New>(value, what).map(|_| None),
        _ => {
            let old: Old = decode_format(value, RECORD_FORMAT_V1, what)?;
            encode_record(&New::from(old)).map(Some)
        }
    }
}

/// Migrates the store behind `db` (schema version 1 in `meta`) to version 2.
pub(super) fn version_1_to_2(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    // Trees that do not exist are not made before the store is known to be readable.
    let names = db.tree_names();
    let open_existing = |name: &str| -> Result<Option<sled::Tree>, StoreError> {
        match names.iter().any(|n| n.as_ref() == name.as_bytes()) {
            true => db.open_tree(name).map(Some).map_err(io),
            false => Ok(None),
        }
    };
    let mut trees = Vec::new();
    for t in &RECORD_TREES {
        if let Some(tree) = open_existing(t.name)? {
            trees.push((t, tree));
        }
    }
    for (t, tree) in &trees {
        for item in tree.iter() {
            let (_, value) = item.map_err(io)?;
            (t.upgrade)(&value, t.name)?;
        }
    }
    let alerts = open_existing(ALERTS_TREE)?;
    let keys = open_existing(ALERT_KEYS_TREE)?;
    let index = match &alerts {
        Some(alerts) => alert_index(alerts, keys.as_ref())?,
        None => BTreeMap::new(),
    };
    // Everything reads: from here on the store is written.
    for (t, tree) in &trees {
        upgrade_tree(t, tree)?;
    }
    if alerts.is_some() || keys.is_some() {
        let keys = match keys {
            Some(keys) => keys,
            None => db.open_tree(ALERT_KEYS_TREE).map_err(io)?,
        };
        write_alert_index(&keys, &index)?;
    }
    db.flush().map_err(io)?;
    meta.insert(SCHEMA_KEY, &2u32.to_be_bytes()).map_err(io)?;
    db.flush().map_err(io)?;
    Ok(())
}

/// Rewrites the format-1 values of one tree as format 2, in one atomic batch.
pub(super) fn upgrade_tree(t: &RecordTree, tree: &sled::Tree) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for item in tree.iter() {
        let (key, value) = item.map_err(io)?;
        if let Some(upgraded) = (t.upgrade)(&value, t.name)? {
            batch.insert(key, upgraded);
        }
    }
    tree.apply_batch(batch).map_err(io)
}

/// Dedup key -> alert id, from the alerts (in either format). Version 1 wrote the two trees
/// separately, so its index can miss an alert or name one that is gone; where two alerts share
/// a key (two writers that both created it), the one the index named stays named, else the newest.
fn alert_index(alerts: &sled::Tree, keys: Option<&sled::Tree>) -> Result<BTreeMap<String, [u8; 8]>, StoreError> {
    let mut newest = BTreeMap::new();
    let mut named = BTreeMap::new();
    // Ids are big-endian keys: visited oldest first.
    for item in alerts.iter() {
        let (id, value) = item.map_err(io)?;
        let id: [u8; 8] =
            id.as_ref().try_into().map_err(|_| StoreError::Damaged(format!("alert key of {} bytes", id.len())))?;
        let record: v2::AlertRecord = match value.first() {
            Some(&RECORD_FORMAT_V2) => decode_record(&value, "alert")?,
            _ => decode_format::<v1::AlertV1>(&value, RECORD_FORMAT_V1, "alert")?,
        };
        let key = Alert::from(record).dedup_key();
        let current = keys.map(|keys| keys.get(key.as_bytes())).transpose().map_err(io)?.flatten();
        if current.is_some_and(|current| current.as_ref() == id) {
            named.insert(key.clone(), id);
        }
        newest.insert(key, id);
    }
    newest.extend(named);
    Ok(newest)
}

fn write_alert_index(keys: &sled::Tree, index: &BTreeMap<String, [u8; 8]>) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for item in keys.iter() {
        let (key, id) = item.map_err(io)?;
        let wanted = std::str::from_utf8(&key).ok().and_then(|k| index.get(k));
        if wanted.is_none_or(|w| w.as_slice() != id.as_ref()) {
            batch.remove(key);
        }
    }
    for (key, id) in index {
        if keys.get(key.as_bytes()).map_err(io)?.is_none_or(|current| current.as_ref() != id.as_slice()) {
            batch.insert(key.as_bytes(), id.as_slice());
        }
    }
    keys.apply_batch(batch).map_err(io)
}

#[cfg(test)]
mod tests;
