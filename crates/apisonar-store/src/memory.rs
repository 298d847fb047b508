//! The in-memory twin of the sled store, for tests and for runs without `--db`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use apisonar_engine::{Changes, Endpoint};

use crate::records::{decode_endpoint, decode_override, encode_endpoint, encode_override, endpoint_key, override_key};
use crate::{Store, StoreError, TemplateOverride};

#[derive(Default)]
pub struct MemoryStore {
    endpoints: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    overrides: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStore {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.endpoints.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.map().values().map(|v| decode_endpoint(v)).collect()
    }

    fn apply(&self, changes: &Changes) -> Result<(), StoreError> {
        let encoded: Vec<(Vec<u8>, Vec<u8>)> = changes
            .upserts
            .iter()
            .map(|e| Ok((endpoint_key(&e.key()), encode_endpoint(e)?)))
            .collect::<Result<_, StoreError>>()?;
        let mut map = self.map();
        for k in &changes.removed {
            map.remove(&endpoint_key(k));
        }
        map.extend(encoded);
        Ok(())
    }

    fn prune(&self, cutoff: i64) -> Result<usize, StoreError> {
        let mut map = self.map();
        let mut old = Vec::new();
        for (k, v) in map.iter() {
            if decode_endpoint(v)?.last_seen < cutoff {
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
        map.values().map(|v| decode_override(v)).collect()
    }

    fn add_override(&self, o: &TemplateOverride) -> Result<(), StoreError> {
        let value = encode_override(o)?;
        self.overrides.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(override_key(o), value);
        Ok(())
    }

    fn remove_override(&self, o: &TemplateOverride) -> Result<bool, StoreError> {
        Ok(self.overrides.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&override_key(o)).is_some())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
