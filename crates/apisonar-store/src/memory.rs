//! The in-memory twin of the sled store, for tests and for runs without `--db`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use apisonar_engine::suppression::Suppression;
use apisonar_engine::tlsposture::TlsHost;
use apisonar_engine::{Alert, AlertChange, AlertMerge, Changes, Endpoint, EndpointKey, EndpointMove, Spec};

use crate::records::{decode, encode, endpoint_key, override_key};
use crate::{merge_alert, refiled, Store, StoreError, TemplateOverride, Upserted};

/// Records are kept encoded, as the sled store keeps them, so both go through the same record
/// types and conversions (the overflow counts, added up on every `apply`, are kept decoded).
#[derive(Default)]
pub struct MemoryStore {
    endpoints: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    overrides: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    specs: Mutex<BTreeMap<String, Vec<u8>>>,
    alerts: Mutex<BTreeMap<u64, Vec<u8>>>,
    tls_hosts: Mutex<BTreeMap<String, Vec<u8>>>,
    suppressions: Mutex<BTreeMap<u64, Vec<u8>>>,
    settings: Mutex<BTreeMap<String, Vec<u8>>>,
    overflow: Mutex<BTreeMap<String, apisonar_engine::Overflow>>,
    /// The last alert id given out: ids are never reused, even after retention.
    last_alert_id: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryStore {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.endpoints.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refiles the alerts of moved endpoints (see `Store::apply`).
    fn refile_alerts(&self, moves: &[EndpointMove]) -> Result<(), StoreError> {
        if moves.is_empty() {
            return Ok(());
        }
        let targets = apisonar_engine::catalog::final_keys(moves);
        let mut alerts = lock(&self.alerts);
        let ids: Vec<u64> = alerts.keys().copied().collect();
        for id in ids {
            let Some(value) = alerts.get(&id) else { continue };
            let alert: Alert = decode(value)?;
            let key = EndpointKey { host: alert.host.clone(), method: alert.method.clone(), path: alert.path.clone() };
            let Some(to) = targets.get(&key) else { continue };
            let moved = refiled(alert, to);
            let dedup = moved.dedup_key();
            let mut target = None;
            for (other_id, other) in alerts.iter() {
                let other: Alert = decode(other)?;
                if *other_id != id && other.dedup_key() == dedup {
                    target = Some((*other_id, other));
                    break;
                }
            }
            match target {
                Some((target_id, mut other)) => {
                    other.absorb(&moved, AlertMerge::Add);
                    alerts.insert(target_id, encode(&other)?);
                    alerts.remove(&id);
                }
                None => {
                    alerts.insert(id, encode(&moved)?);
                }
            }
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.map().values().map(|v| decode(v)).collect()
    }

    fn apply(&self, changes: &Changes) -> Result<(), StoreError> {
        let encoded: Vec<(Vec<u8>, Vec<u8>)> = changes
            .upserts
            .iter()
            .map(|e| Ok((endpoint_key(&e.key()), encode(e)?)))
            .collect::<Result<_, StoreError>>()?;
        let mut map = self.map();
        for k in &changes.removed {
            map.remove(&endpoint_key(k));
        }
        map.extend(encoded);
        let mut overflow = lock(&self.overflow);
        for o in &changes.overflow {
            overflow
                .entry(o.host.clone())
                .or_insert_with(|| apisonar_engine::Overflow { host: o.host.clone(), ..Default::default() })
                .merge(o);
        }
        drop(overflow);
        drop(map);
        self.refile_alerts(&changes.moved)
    }

    fn overflow(&self) -> Result<Vec<apisonar_engine::Overflow>, StoreError> {
        Ok(lock(&self.overflow).values().cloned().collect())
    }

    fn has_alert(&self, dedup_key: &str) -> Result<bool, StoreError> {
        for value in lock(&self.alerts).values() {
            if decode::<Alert>(value)?.dedup_key() == dedup_key {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn alert_by_key(&self, dedup_key: &str) -> Result<Option<Alert>, StoreError> {
        for value in lock(&self.alerts).values() {
            let alert: Alert = decode(value)?;
            if alert.dedup_key() == dedup_key {
                return Ok(Some(alert));
            }
        }
        Ok(None)
    }

    fn prune_alerts(&self, cutoff: i64) -> Result<usize, StoreError> {
        let mut alerts = lock(&self.alerts);
        let mut old = Vec::new();
        for (id, value) in alerts.iter() {
            if decode::<Alert>(value)?.last_seen < cutoff {
                old.push(*id);
            }
        }
        for id in &old {
            alerts.remove(id);
        }
        Ok(old.len())
    }

    fn prune(&self, cutoff: i64) -> Result<usize, StoreError> {
        let mut map = self.map();
        let mut old = Vec::new();
        for (k, v) in map.iter() {
            if decode::<Endpoint>(v)?.last_seen < cutoff {
                old.push(k.clone());
            }
        }
        for k in &old {
            map.remove(k);
        }
        Ok(old.len())
    }

    fn overrides(&self) -> Result<Vec<TemplateOverride>, StoreError> {
        let map = self.overrides.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.values().map(|v| decode(v)).collect()
    }

    fn add_override(&self, o: &TemplateOverride) -> Result<(), StoreError> {
        let value = encode(o)?;
        self.overrides.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(override_key(o), value);
        Ok(())
    }

    fn remove_override(&self, o: &TemplateOverride) -> Result<bool, StoreError> {
        Ok(self.overrides.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&override_key(o)).is_some())
    }

    fn specs(&self) -> Result<Vec<Spec>, StoreError> {
        lock(&self.specs).values().map(|v| decode(v)).collect()
    }

    fn put_spec(&self, spec: &Spec) -> Result<(), StoreError> {
        let value = encode(spec)?;
        lock(&self.specs).insert(spec.name.clone(), value);
        Ok(())
    }

    fn remove_spec(&self, name: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.specs).remove(name).is_some())
    }

    fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        lock(&self.suppressions).values().map(|v| decode(v)).collect()
    }

    fn put_suppressions(&self, rules: &[Suppression]) -> Result<(), StoreError> {
        let encoded =
            rules.iter().map(|r| Ok((r.id, encode(r)?))).collect::<Result<BTreeMap<u64, Vec<u8>>, StoreError>>()?;
        *lock(&self.suppressions) = encoded;
        Ok(())
    }

    fn tls_hosts(&self) -> Result<Vec<TlsHost>, StoreError> {
        lock(&self.tls_hosts).values().map(|v| decode(v)).collect()
    }

    fn put_tls_hosts(&self, hosts: &[TlsHost]) -> Result<(), StoreError> {
        let encoded: Vec<(String, Vec<u8>)> =
            hosts.iter().map(|h| Ok((h.host.clone(), encode(h)?))).collect::<Result<_, StoreError>>()?;
        lock(&self.tls_hosts).extend(encoded);
        Ok(())
    }

    fn alerts(&self) -> Result<Vec<Alert>, StoreError> {
        lock(&self.alerts).values().map(|v| decode(v)).collect()
    }

    fn upsert_alert(&self, draft: &Alert, merge: AlertMerge) -> Result<Upserted, StoreError> {
        let mut alerts = lock(&self.alerts);
        let key = draft.dedup_key();
        for value in alerts.values_mut() {
            let before: Alert = decode(value)?;
            if before.dedup_key() == key {
                let mut existing = before.clone();
                merge_alert(&mut existing, draft, merge);
                *value = encode(&existing)?;
                return Ok(Upserted { alert: existing, before: Some(before) });
            }
        }
        let mut last = lock(&self.last_alert_id);
        let id = alerts.keys().next_back().copied().unwrap_or(0).max(*last).saturating_add(1);
        *last = id;
        let alert = Alert { id, ..draft.clone() };
        alerts.insert(id, encode(&alert)?);
        Ok(Upserted { alert, before: None })
    }

    fn change_alert(&self, id: u64, change: &AlertChange, by: &str, at: i64) -> Result<Option<Alert>, StoreError> {
        let mut alerts = lock(&self.alerts);
        let Some(value) = alerts.get_mut(&id) else { return Ok(None) };
        let mut alert: Alert = decode(value)?;
        if alert.change(change, by, at) {
            *value = encode(&alert)?;
        }
        Ok(Some(alert))
    }

    fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.settings).get(name).cloned())
    }

    fn put_setting(&self, name: &str, expected: Option<Option<&[u8]>>, value: &[u8]) -> Result<bool, StoreError> {
        let mut settings = lock(&self.settings);
        if let Some(old) = expected {
            if settings.get(name).map(Vec::as_slice) != old {
                return Ok(false);
            }
        }
        settings.insert(name.to_string(), value.to_vec());
        Ok(true)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
