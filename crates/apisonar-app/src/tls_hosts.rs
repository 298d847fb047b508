//! The TLS record of every server name: loaded from the store, updated with each handshake,
//! written with the next write (so a running sensor shows them within a second), capped.

use std::collections::{BTreeMap, BTreeSet};

use apisonar_engine::tlsposture::{TlsHost, TlsObservation};

#[derive(Default)]
pub(crate) struct TlsHosts {
    hosts: BTreeMap<String, TlsHost>,
    /// Changed since the last `take_changed`.
    dirty: BTreeSet<String>,
    max: usize,
}

impl TlsHosts {
    pub(crate) fn new(stored: Vec<TlsHost>, max: usize) -> TlsHosts {
        let hosts = stored.into_iter().map(|h| (h.host.clone(), h)).collect();
        TlsHosts { hosts, dirty: BTreeSet::new(), max }
    }

    /// Adds a handshake to its server name's record; `false` when the name is new and the cap
    /// is reached (the caller counts it as overflow).
    pub(crate) fn add(&mut self, observation: &TlsObservation) -> bool {
        let name = observation.sni.clone().unwrap_or_else(|| observation.server.clone());
        if !self.hosts.contains_key(&name) && self.hosts.len() >= self.max {
            return false;
        }
        self.hosts.entry(name.clone()).or_default().add(observation);
        self.dirty.insert(name);
        true
    }

    /// The records changed since the last call, whole (the store replaces them).
    pub(crate) fn take_changed(&mut self) -> Vec<TlsHost> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty.iter().filter_map(|h| self.hosts.get(h).cloned()).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.hosts.len()
    }
}
