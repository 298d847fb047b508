//! Alert policy between detection and the store: occurrences are aggregated by dedup key until
//! the next write (one alert per kind, subtype and endpoint; per client too for the kinds about
//! one client), and a group of per-client alerts gives its own alert to at most
//! `max_clients_per_alert` clients; further clients are counted together under `MANY_CLIENTS`.
//! Pending alerts follow their endpoints when templating refiles them.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use apisonar_engine::alert::{dedup_key_into, group_key, group_key_into, is_per_client};
use apisonar_engine::suppression::Suppressions;
use apisonar_engine::{Alert, AlertMerge, EndpointKey, EndpointMove};

/// Stands for "every client beyond the per-alert limit".
pub const MANY_CLIENTS: &str = "*";

type Hashed<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Which clients have an alert of their own in each alert group, by 64-bit hashes of the group
/// and client (seeded per process): a lookup touches no string memory.
#[derive(Default)]
struct AlertClients {
    keys: foldhash::fast::RandomState,
    groups: Hashed<u64, HashSet<u64>>,
}

impl AlertClients {
    /// Whether `client` has (or now gets, while the group has fewer than `limit`) its own alert.
    fn own(&mut self, group: &str, client: &str, limit: usize) -> bool {
        let (g, c) = (self.keys.hash_one(group), self.keys.hash_one(client));
        let clients = self.groups.entry(g).or_default();
        clients.contains(&c) || (clients.len() < limit && clients.insert(c))
    }
}

#[derive(Default)]
pub(crate) struct AlertPolicy {
    /// Occurrences since the last write, by dedup key (hashed: the keys share long prefixes,
    /// which made ordered-map lookups the inventory thread's biggest cost).
    pending: Hashed<String, Alert>,
    clients: AlertClients,
    pub(crate) max_clients: usize,
    /// Occurrences raised since start.
    pub(crate) raised: u64,
    /// Reused by `count_repeat` for the group and deduplication keys it looks up.
    group_buffer: String,
    dedup_buffer: String,
    /// Rules muting kinds for endpoints, clients or hosts: their occurrences are dropped here,
    /// before they are counted as raised, and counted on the rule.
    pub(crate) rules: Suppressions,
    /// Occurrences the rules dropped since start.
    pub(crate) suppressed: u64,
}

/// Wall time now, microseconds since the epoch (suppression rules expire in wall time).
pub(crate) fn wall_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn group_of(a: &Alert) -> String {
    group_key(&a.kind, a.subtype.as_deref(), &a.host, &a.method, &a.path)
}

impl AlertPolicy {
    pub(crate) fn new(max_clients: usize, stored: &[Alert], rules: Suppressions) -> AlertPolicy {
        let mut policy = AlertPolicy { max_clients, rules, ..AlertPolicy::default() };
        for a in stored {
            if let Some(client) = &a.client {
                policy.clients.own(&group_of(a), client, usize::MAX);
            }
        }
        policy
    }

    /// The client an occurrence in `group` is filed under.
    fn file_client(&mut self, group: &str, client: &str) -> String {
        if self.clients.own(group, client, self.max_clients) {
            client.to_string()
        } else {
            MANY_CLIENTS.to_string()
        }
    }

    /// Counts one more occurrence of an alert already pending for this endpoint (and client,
    /// for kinds about one client), and says whether there was one (else the caller drafts the
    /// alert and hands it to `add`).
    pub(crate) fn count_repeat(&mut self, kind: &str, subtype: &str, key: &EndpointKey, client: &str, ts: i64) -> bool {
        if self.muted(kind, key, client, ts) {
            return true;
        }
        // Called for every transaction with sensitive data: the keys are built in buffers kept
        // from call to call.
        let mut group = std::mem::take(&mut self.group_buffer);
        group_key_into(&mut group, kind, Some(subtype), &key.host, &key.method, &key.path);
        let filed = match is_per_client(kind) {
            true if self.clients.own(&group, client, self.max_clients) => Some(client),
            true => Some(MANY_CLIENTS),
            false => None,
        };
        let mut dedup = std::mem::take(&mut self.dedup_buffer);
        dedup_key_into(&mut dedup, &group, filed);
        let found = match self.pending.get_mut(dedup.as_str()) {
            Some(p) => {
                p.count_occurrence(client, ts);
                self.raised = self.raised.saturating_add(1);
                true
            }
            None => false,
        };
        (self.group_buffer, self.dedup_buffer) = (group, dedup);
        found
    }

    /// Whether a rule mutes this occurrence (counted on the rule if so).
    fn muted(&mut self, kind: &str, key: &EndpointKey, client: &str, ts: i64) -> bool {
        if self.rules.rules().is_empty() || !self.rules.suppress(kind, key, client, ts, wall_micros()) {
            return false;
        }
        self.suppressed = self.suppressed.saturating_add(1);
        true
    }

    /// Adds an occurrence to the aggregate written at the next write (unless a rule mutes it).
    pub(crate) fn add(&mut self, mut a: Alert) {
        if !self.rules.rules().is_empty() {
            let key = EndpointKey { host: a.host.clone(), method: a.method.clone(), path: a.path.clone() };
            // An occurrence names its client (an alert about one client keeps it in `client`).
            let client =
                a.client.clone().or_else(|| a.top_clients.first().map(|c| c.client.clone())).unwrap_or_default();
            if self.muted(&a.kind, &key, &client, a.last_seen) {
                return;
            }
        }
        self.raised = self.raised.saturating_add(self.count_of(&a));
        let group = group_of(&a);
        if let Some(client) = a.client.take() {
            a.client = Some(self.file_client(&group, &client));
        }
        self.merge_pending(a);
    }

    /// Occurrences an alert stands for (a drafted occurrence is one).
    fn count_of(&self, a: &Alert) -> u64 {
        a.count.max(1)
    }

    fn merge_pending(&mut self, a: Alert) {
        match self.pending.entry(a.dedup_key()) {
            std::collections::hash_map::Entry::Occupied(mut p) => p.get_mut().absorb(&a, AlertMerge::Add),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(a);
            }
        }
    }

    /// Refiles pending alerts whose endpoints templating moved.
    pub(crate) fn follow(&mut self, moves: &[EndpointMove]) {
        if moves.is_empty() {
            return;
        }
        let targets = apisonar_engine::catalog::final_keys(moves);
        let moving: Vec<(String, EndpointKey)> = self
            .pending
            .iter()
            .filter_map(|(k, a)| {
                let at = EndpointKey { host: a.host.clone(), method: a.method.clone(), path: a.path.clone() };
                targets.get(&at).map(|to| (k.clone(), to.clone()))
            })
            .collect();
        for (k, to) in moving {
            if let Some(mut a) = self.pending.remove(&k) {
                a.host = to.host;
                a.method = to.method;
                a.path = to.path;
                self.merge_pending(a);
            }
        }
    }

    /// The pending occurrences, in dedup-key order (so alert ids are given out the same way on
    /// every run).
    pub(crate) fn take(&mut self) -> Vec<Alert> {
        let mut alerts: Vec<(String, Alert)> = std::mem::take(&mut self.pending).into_iter().collect();
        alerts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        alerts.into_iter().map(|(_, a)| a).collect()
    }
}
