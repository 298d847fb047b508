//! The on-disk store, on sled 0.34 (unmaintained upstream: every use of it stays in this file).

use std::path::{Path, PathBuf};
use std::time::Duration;

use apisonar_engine::{Changes, Endpoint};

use crate::records::{decode, encode};
use crate::records::{decode_endpoint, decode_override, encode_endpoint, encode_override, endpoint_key, override_key};
use crate::{merge_alert, Store, StoreError, TemplateOverride, SCHEMA_VERSION};
use apisonar_engine::{Alert, AlertMerge, AlertState, Spec};

const META_TREE: &str = "meta";
const ENDPOINTS_TREE: &str = "endpoints";
const OVERRIDES_TREE: &str = "overrides";
const SPECS_TREE: &str = "specs";
const ALERTS_TREE: &str = "alerts";
const TLS_HOSTS_TREE: &str = "tls_hosts";
/// Dedup key -> alert id (big-endian u64).
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
    settings: sled::Tree,
    /// Traffic over the inventory's caps, by host.
    overflow: sled::Tree,
}

fn io(e: sled::Error) -> StoreError {
    StoreError::Io(e.to_string())
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
                Err(sled::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock && attempt < 50 => {
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
        match meta.get(SCHEMA_KEY).map_err(io)? {
            Some(v) => {
                let bytes: [u8; 4] =
                    v.as_ref().try_into().map_err(|_| StoreError::Damaged("schema version record".into()))?;
                let found = u32::from_be_bytes(bytes);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema { path: shown, found, supported: SCHEMA_VERSION });
                }
            }
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
            settings,
            overflow,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for SledStore {
    fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.endpoints.iter().values().map(|v| decode_endpoint(&v.map_err(io)?)).collect()
    }

    fn apply(&self, changes: &Changes) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for k in &changes.removed {
            batch.remove(endpoint_key(k));
        }
        for e in &changes.upserts {
            batch.insert(endpoint_key(&e.key()), encode_endpoint(e)?);
        }
        self.endpoints.apply_batch(batch).map_err(io)?;
        // Only the inventory's writer adds overflow: read, add, write needs no transaction.
        for o in &changes.overflow {
            let mut total = match self.overflow.get(o.host.as_bytes()).map_err(io)? {
                Some(v) => decode::<apisonar_engine::Overflow>(&v, "overflow")?,
                None => apisonar_engine::Overflow { host: o.host.clone(), ..Default::default() },
            };
            total.merge(o);
            self.overflow.insert(o.host.as_bytes(), encode(&total)?).map_err(io)?;
        }
        Ok(())
    }

    fn overflow(&self) -> Result<Vec<apisonar_engine::Overflow>, StoreError> {
        self.overflow.iter().values().map(|v| decode(&v.map_err(io)?, "overflow")).collect()
    }

    fn has_alert(&self, dedup_key: &str) -> Result<bool, StoreError> {
        self.alert_keys.contains_key(dedup_key.as_bytes()).map_err(io)
    }

    fn prune_alerts(&self, cutoff: i64) -> Result<usize, StoreError> {
        let mut n = 0;
        for item in self.alerts.iter() {
            let (id, v) = item.map_err(io)?;
            let alert: Alert = decode(&v, "alert")?;
            if alert.last_seen < cutoff {
                self.alert_keys.remove(alert.dedup_key().as_bytes()).map_err(io)?;
                self.alerts.remove(id).map_err(io)?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn prune(&self, cutoff: i64) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in self.endpoints.iter() {
            let (k, v) = item.map_err(io)?;
            if decode_endpoint(&v)?.last_seen < cutoff {
                batch.remove(k);
                n += 1;
            }
        }
        self.endpoints.apply_batch(batch).map_err(io)?;
        Ok(n)
    }

    fn overrides(&self) -> Result<Vec<TemplateOverride>, StoreError> {
        self.overrides.iter().values().map(|v| decode_override(&v.map_err(io)?)).collect()
    }

    fn add_override(&self, o: &TemplateOverride) -> Result<(), StoreError> {
        self.overrides.insert(override_key(o), encode_override(o)?).map(|_| ()).map_err(io)
    }

    fn remove_override(&self, o: &TemplateOverride) -> Result<bool, StoreError> {
        self.overrides.remove(override_key(o)).map(|old| old.is_some()).map_err(io)
    }

    fn specs(&self) -> Result<Vec<Spec>, StoreError> {
        self.specs.iter().values().map(|v| decode(&v.map_err(io)?, "spec")).collect()
    }

    fn put_spec(&self, spec: &Spec) -> Result<(), StoreError> {
        self.specs.insert(spec.name.as_bytes(), encode(spec)?).map(|_| ()).map_err(io)
    }

    fn remove_spec(&self, name: &str) -> Result<bool, StoreError> {
        self.specs.remove(name.as_bytes()).map(|old| old.is_some()).map_err(io)
    }

    fn tls_hosts(&self) -> Result<Vec<apisonar_engine::tlsposture::TlsHost>, StoreError> {
        self.tls_hosts.iter().values().map(|v| decode(&v.map_err(io)?, "tls host")).collect()
    }

    fn put_tls_hosts(&self, hosts: &[apisonar_engine::tlsposture::TlsHost]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for h in hosts {
            batch.insert(h.host.as_bytes(), encode(h)?);
        }
        self.tls_hosts.apply_batch(batch).map_err(io)
    }

    fn alerts(&self) -> Result<Vec<Alert>, StoreError> {
        self.alerts.iter().values().map(|v| decode(&v.map_err(io)?, "alert")).collect()
    }

    fn upsert_alert(&self, draft: &Alert, merge: AlertMerge) -> Result<(Alert, bool), StoreError> {
        let key = draft.dedup_key();
        if let Some(id) = self.alert_keys.get(key.as_bytes()).map_err(io)? {
            if let Some(value) = self.alerts.get(&id).map_err(io)? {
                let mut existing: Alert = decode(&value, "alert")?;
                merge_alert(&mut existing, draft, merge);
                self.alerts.insert(&id, encode(&existing)?).map_err(io)?;
                return Ok((existing, false));
            }
        }
        // Ids increase with time, so big-endian keys list alerts oldest first.
        let id = self.db.generate_id().map_err(io)? + 1;
        let alert = Alert { id, ..draft.clone() };
        let mut batch = sled::Batch::default();
        batch.insert(&id.to_be_bytes(), encode(&alert)?);
        self.alerts.apply_batch(batch).map_err(io)?;
        self.alert_keys.insert(key.as_bytes(), &id.to_be_bytes()).map_err(io)?;
        Ok((alert, true))
    }

    fn set_alert_state(&self, id: u64, state: AlertState) -> Result<Option<Alert>, StoreError> {
        let Some(value) = self.alerts.get(id.to_be_bytes()).map_err(io)? else { return Ok(None) };
        let mut alert: Alert = decode(&value, "alert")?;
        alert.state = state;
        self.alerts.insert(id.to_be_bytes(), encode(&alert)?).map_err(io)?;
        Ok(Some(alert))
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
