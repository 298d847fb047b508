//! The on-disk store, on sled 0.34 (unmaintained upstream: every use of it stays in this file and
//! in `migrate.rs` below it).

mod migrate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use apisonar_engine::suppression::Suppression;
use apisonar_engine::tlsposture::TlsHost;
use apisonar_engine::{Alert, AlertChange, AlertMerge, Changes, Endpoint, EndpointKey, EndpointMove, Overflow, Spec};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::records::{decode, encode, endpoint_key, override_key};
use crate::{merge_alert, refiled, Store, StoreError, TemplateOverride, Upserted, SCHEMA_VERSION};

const META_TREE: &str = "meta";
const ENDPOINTS_TREE: &str = "endpoints";
const OVERRIDES_TREE: &str = "overrides";
const SPECS_TREE: &str = "specs";
const ALERTS_TREE: &str = "alerts";
const TLS_HOSTS_TREE: &str = "tls_hosts";
const SUPPRESSIONS_TREE: &str = "suppressions";
/// Dedup key -> alert id (big-endian u64), changed only together with `alerts`, in one transaction.
const ALERT_KEYS_TREE: &str = "alert_keys";
const SETTINGS_TREE: &str = "settings";
const OVERFLOW_TREE: &str = "overflow";
const SCHEMA_KEY: &[u8] = b"schema_version";

/// Tuning of the sled database.
#[derive(Clone, Debug)]
pub struct SledOptions {
    /// Page cache size in bytes.
    pub cache_bytes: u64,
    /// sled flushes on its own at this interval, so a killed process loses at most this much.
    pub flush_every_ms: u64,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions { cache_bytes: 64 * 1024 * 1024, flush_every_ms: 1000 }
    }
}

/// Cloning shares the open store (the capture thread writes while the dashboard reads).
#[derive(Clone)]
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    endpoints: sled::Tree,
    overrides: sled::Tree,
    specs: sled::Tree,
    alerts: sled::Tree,
    alert_keys: sled::Tree,
    tls_hosts: sled::Tree,
    suppressions: sled::Tree,
    settings: sled::Tree,
    /// Traffic over the inventory's caps, by host.
    overflow: sled::Tree,
}

fn io(e: sled::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

/// A transaction's error: the `StoreError` it aborted with, or sled's.
fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => io(e),
    }
}

/// Aborts a transaction with a `StoreError` (a record that does not decode or encode).
fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// Alerts removed per retention transaction: short enough to hold sled's transaction lock briefly.
const PRUNE_ALERTS_PER_TRANSACTION: usize = 256;

/// The schema version in `meta`, if there is one.
fn schema_version(meta: &sled::Tree) -> Result<Option<u32>, StoreError> {
    let Some(v) = meta.get(SCHEMA_KEY).map_err(io)? else { return Ok(None) };
    let bytes: [u8; 4] = v.as_ref().try_into().map_err(|_| StoreError::Damaged("schema version record".into()))?;
    Ok(Some(u32::from_be_bytes(bytes)))
}

/// Whether opening failed only because another handle holds the store's lock. sled reports it
/// as an `Other` error naming the lock, with the `WouldBlock` of the system call in its text.
fn lock_is_held(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().starts_with("could not acquire lock")
}

impl SledStore {
    /// Opens (or creates) the store in `dir`. Another process holding it is waited for briefly.
    pub fn open(dir: &Path, options: &SledOptions) -> Result<SledStore, StoreError> {
        let shown = dir.display().to_string();
        if dir.exists() && !dir.is_dir() {
            return Err(StoreError::Open { path: shown, reason: "not a directory".into() });
        }
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(options.cache_bytes)
            .flush_every_ms(Some(options.flush_every_ms));
        let mut attempt = 0;
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                // The lock of a process (or a just-dropped handle whose flusher thread is still
                // finishing) that is going away: retry for up to five seconds.
                Err(sled::Error::Io(e)) if lock_is_held(&e) && attempt < 50 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(sled::Error::Corruption { .. }) => {
                    return Err(StoreError::Damaged(format!("{shown}: sled reports corruption")));
                }
                Err(e) => return Err(StoreError::Open { path: shown, reason: e.to_string() }),
            }
        };
        let meta = db.open_tree(META_TREE).map_err(io)?;
        match schema_version(&meta)? {
            Some(found) if found > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema { path: shown, found, supported: SCHEMA_VERSION });
            }
            Some(SCHEMA_VERSION) => {}
            // Interrupted migrations run again from the start (see `migrate.rs`).
            Some(1) => migrate::version_1_to_2(&db, &meta)?,
            Some(other) => return Err(StoreError::Damaged(format!("{shown}: unknown schema version {other}"))),
            None => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes()).map_err(io)?;
            }
        }
        let endpoints = db.open_tree(ENDPOINTS_TREE).map_err(io)?;
        let overrides = db.open_tree(OVERRIDES_TREE).map_err(io)?;
        let specs = db.open_tree(SPECS_TREE).map_err(io)?;
        let alerts = db.open_tree(ALERTS_TREE).map_err(io)?;
        let alert_keys = db.open_tree(ALERT_KEYS_TREE).map_err(io)?;
        let tls_hosts = db.open_tree(TLS_HOSTS_TREE).map_err(io)?;
        let suppressions = db.open_tree(SUPPRESSIONS_TREE).map_err(io)?;
        let settings = db.open_tree(SETTINGS_TREE).map_err(io)?;
        let overflow = db.open_tree(OVERFLOW_TREE).map_err(io)?;
        Ok(SledStore {
            path: dir.to_path_buf(),
            db,
            endpoints,
            overrides,
            specs,
            alerts,
            alert_keys,
            tls_hosts,
            suppressions,
            settings,
            overflow,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refiles the alerts of moved endpoints (see `Store::apply`): one scan of the alerts, then
    /// one transaction per alert to move.
    fn refile_alerts(&self, moves: &[EndpointMove]) -> Result<(), StoreError> {
        if moves.is_empty() {
            return Ok(());
        }
        let targets = apisonar_engine::catalog::final_keys(moves);
        let mut to_move = Vec::new();
        for item in self.alerts.iter() {
            let (id, v) = item.map_err(io)?;
            let alert: Alert = decode(&v)?;
            let key = EndpointKey { host: alert.host, method: alert.method, path: alert.path };
            if let Some(to) = targets.get(&key) {
                to_move.push((id, to.clone()));
            }
        }
        for (id, to) in to_move {
            (&self.alerts, &self.alert_keys)
                .transaction(|(alerts, keys)| {
                    // Read again inside the transaction: retention or a state change may have
                    // come in between.
                    let Some(value) = alerts.get(&id)? else { return Ok(()) };
                    let alert: Alert = decode(&value).map_err(abort)?;
                    keys.remove(alert.dedup_key().as_bytes())?;
                    let moved = refiled(alert, &to);
                    let key = moved.dedup_key();
                    if let Some(target_id) = keys.get(key.as_bytes())? {
                        if let Some(target) = alerts.get(&target_id)? {
                            let mut target: Alert = decode(&target).map_err(abort)?;
                            target.absorb(&moved, AlertMerge::Add);
                            alerts.insert(&target_id, encode(&target).map_err(abort)?)?;
                            alerts.remove(&id)?;
                            return Ok(());
                        }
                    }
                    alerts.insert(&id, encode(&moved).map_err(abort)?)?;
                    keys.insert(key.as_bytes(), &id)?;
                    Ok(())
                })
                .map_err(tx_error)?;
        }
        Ok(())
    }
}

impl Store for SledStore {
    fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.endpoints.iter().values().map(|v| decode(&v.map_err(io)?)).collect()
    }

    fn apply(&self, changes: &Changes) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for k in &changes.removed {
            batch.remove(endpoint_key(k));
        }
        for e in &changes.upserts {
            batch.insert(endpoint_key(&e.key()), encode(e)?);
        }
        self.endpoints.apply_batch(batch).map_err(io)?;
        // Only the inventory's writer adds overflow: read, add, write needs no transaction.
        for o in &changes.overflow {
            let mut total = match self.overflow.get(o.host.as_bytes()).map_err(io)? {
                Some(v) => decode::<Overflow>(&v)?,
                None => Overflow { host: o.host.clone(), ..Default::default() },
            };
            total.merge(o);
            self.overflow.insert(o.host.as_bytes(), encode(&total)?).map_err(io)?;
        }
        self.refile_alerts(&changes.moved)
    }

    fn overflow(&self) -> Result<Vec<Overflow>, StoreError> {
        self.overflow.iter().values().map(|v| decode(&v.map_err(io)?)).collect()
    }

    fn has_alert(&self, dedup_key: &str) -> Result<bool, StoreError> {
        self.alert_keys.contains_key(dedup_key.as_bytes()).map_err(io)
    }

    fn alert_by_key(&self, dedup_key: &str) -> Result<Option<Alert>, StoreError> {
        let Some(id) = self.alert_keys.get(dedup_key.as_bytes()).map_err(io)? else { return Ok(None) };
        // Retention may remove the alert between the two reads: then it is not stored.
        self.alerts.get(id).map_err(io)?.map(|v| decode(&v)).transpose()
    }

    fn prune_alerts(&self, cutoff: i64) -> Result<usize, StoreError> {
        let mut old = Vec::new();
        for item in self.alerts.iter() {
            let (id, v) = item.map_err(io)?;
            if decode::<Alert>(&v)?.last_seen < cutoff {
                old.push(id);
            }
        }
        let mut n = 0;
        for ids in old.chunks(PRUNE_ALERTS_PER_TRANSACTION) {
            let removed = (&self.alerts, &self.alert_keys)
                .transaction(|(alerts, keys)| {
                    let mut removed = 0;
                    for id in ids {
                        // Seen again since the scan: kept.
                        let Some(v) = alerts.get(id)? else { continue };
                        let alert: Alert = decode(&v).map_err(abort)?;
                        if alert.last_seen >= cutoff {
                            continue;
                        }
                        alerts.remove(id)?;
                        let key = alert.dedup_key();
                        if keys.get(key.as_bytes())?.as_ref() == Some(id) {
                            keys.remove(key.as_bytes())?;
                        }
                        removed += 1;
                    }
                    Ok(removed)
                })
                .map_err(tx_error)?;
            n += removed;
        }
        Ok(n)
    }

    fn prune(&self, cutoff: i64) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in self.endpoints.iter() {
            let (k, v) = item.map_err(io)?;
            if decode::<Endpoint>(&v)?.last_seen < cutoff {
                batch.remove(k);
                n += 1;
            }
        }
        self.endpoints.apply_batch(batch).map_err(io)?;
        Ok(n)
    }

    fn overrides(&self) -> Result<Vec<TemplateOverride>, StoreError> {
        self.overrides.iter().values().map(|v| decode(&v.map_err(io)?)).collect()
    }

    fn add_override(&self, o: &TemplateOverride) -> Result<(), StoreError> {
        self.overrides.insert(override_key(o), encode(o)?).map(|_| ()).map_err(io)
    }

    fn remove_override(&self, o: &TemplateOverride) -> Result<bool, StoreError> {
        self.overrides.remove(override_key(o)).map(|old| old.is_some()).map_err(io)
    }

    fn specs(&self) -> Result<Vec<Spec>, StoreError> {
        self.specs.iter().values().map(|v| decode(&v.map_err(io)?)).collect()
    }

    fn put_spec(&self, spec: &Spec) -> Result<(), StoreError> {
        self.specs.insert(spec.name.as_bytes(), encode(spec)?).map(|_| ()).map_err(io)
    }

    fn remove_spec(&self, name: &str) -> Result<bool, StoreError> {
        self.specs.remove(name.as_bytes()).map(|old| old.is_some()).map_err(io)
    }

    fn tls_hosts(&self) -> Result<Vec<TlsHost>, StoreError> {
        self.tls_hosts.iter().values().map(|v| decode(&v.map_err(io)?)).collect()
    }

    fn put_tls_hosts(&self, hosts: &[TlsHost]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for h in hosts {
            batch.insert(h.host.as_bytes(), encode(h)?);
        }
        self.tls_hosts.apply_batch(batch).map_err(io)
    }

    fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        self.suppressions.iter().values().map(|v| decode(&v.map_err(io)?)).collect()
    }

    fn put_suppressions(&self, rules: &[Suppression]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let kept: std::collections::BTreeSet<[u8; 8]> = rules.iter().map(|r| r.id.to_be_bytes()).collect();
        for key in self.suppressions.iter().keys() {
            let key = key.map_err(io)?;
            if !<[u8; 8]>::try_from(key.as_ref()).is_ok_and(|k| kept.contains(&k)) {
                batch.remove(key);
            }
        }
        for r in rules {
            batch.insert(&r.id.to_be_bytes(), encode(r)?);
        }
        self.suppressions.apply_batch(batch).map_err(io)
    }

    fn alerts(&self) -> Result<Vec<Alert>, StoreError> {
        self.alerts.iter().values().map(|v| decode(&v.map_err(io)?)).collect()
    }

    fn upsert_alert(&self, draft: &Alert, merge: AlertMerge) -> Result<Upserted, StoreError> {
        let key = draft.dedup_key();
        // Both trees in one transaction: two writers of the same new key make one alert, and an
        // update cannot interleave with a state change or retention of the same alert.
        (&self.alerts, &self.alert_keys)
            .transaction(|(alerts, keys)| {
                if let Some(id) = keys.get(key.as_bytes())? {
                    if let Some(value) = alerts.get(&id)? {
                        let before: Alert = decode(&value).map_err(abort)?;
                        let mut existing = before.clone();
                        merge_alert(&mut existing, draft, merge);
                        alerts.insert(&id, encode(&existing).map_err(abort)?)?;
                        return Ok(Upserted { alert: existing, before: Some(before) });
                    }
                }
                // Ids increase with time, so big-endian keys list alerts oldest first.
                let id = alerts.generate_id()? + 1;
                let alert = Alert { id, ..draft.clone() };
                alerts.insert(&id.to_be_bytes(), encode(&alert).map_err(abort)?)?;
                keys.insert(key.as_bytes(), &id.to_be_bytes())?;
                Ok(Upserted { alert, before: None })
            })
            .map_err(tx_error)
    }

    fn change_alert(&self, id: u64, change: &AlertChange, by: &str, at: i64) -> Result<Option<Alert>, StoreError> {
        self.alerts
            .transaction(|alerts| {
                let Some(value) = alerts.get(id.to_be_bytes())? else { return Ok(None) };
                let mut alert: Alert = decode(&value).map_err(abort)?;
                if !alert.change(change, by, at) {
                    return Ok(Some(alert));
                }
                alerts.insert(&id.to_be_bytes(), encode(&alert).map_err(abort)?)?;
                Ok(Some(alert))
            })
            .map_err(tx_error)
    }

    fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.settings.get(name.as_bytes()).map_err(io)?.map(|v| v.to_vec()))
    }

    fn put_setting(&self, name: &str, expected: Option<Option<&[u8]>>, value: &[u8]) -> Result<bool, StoreError> {
        match expected {
            None => self.settings.insert(name.as_bytes(), value).map(|_| true).map_err(io),
            Some(old) => Ok(self.settings.compare_and_swap(name.as_bytes(), old, Some(value)).map_err(io)?.is_ok()),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(io)
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        let _ = self.db.flush();
    }
}
