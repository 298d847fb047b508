//! Alert policy between detection and the store: occurrences are aggregated by dedup key until
//! the next write (one alert per kind, subtype and endpoint; per client too for the kinds about
//! one client), and a group of per-client alerts gives its own alert to at most
//! `max_clients_per_alert` clients; further clients are counted together under `MANY_CLIENTS`.
//! Pending alerts follow their endpoints when templating refiles them.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use apisonar_engine::alert::is_per_client;
use apisonar_engine::suppression::Suppressions;
use apisonar_engine::{Alert, AlertMerge, EndpointKey, EndpointMove};

/// Stands for "every client beyond the per-alert limit".
pub const MANY_CLIENTS: &str = "*";

type Hashed<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Alert groups and deduplication keys as 64-bit hashes of their parts, seeded per process: a
/// lookup builds no key and compares no strings. (Two keys that collide would share an alert;
/// at the few thousand keys pending between writes that is about one chance in 10^12, and the
/// seed is not known outside the process, so no traffic can aim for it.)
#[derive(Default)]
struct Keys(foldhash::fast::RandomState);

impl Keys {
    /// The group of [`apisonar_engine::alert::group_key`] (no subtype and an empty one are one).
    fn group(&self, kind: &str, subtype: Option<&str>, host: &str, method: &str, path: &str) -> u64 {
        self.0.hash_one((kind, subtype.unwrap_or(""), host, method, path))
    }

    fn group_of(&self, a: &Alert) -> u64 {
        self.group(&a.kind, a.subtype.as_deref(), &a.host, &a.method, &a.path)
    }

    /// The deduplication key of [`Alert::dedup_key`]: the group and the client it is filed under.
    fn dedup(&self, group: u64, client: Option<&str>) -> u64 {
        self.0.hash_one((group, client.unwrap_or("")))
    }

    fn dedup_of(&self, a: &Alert) -> u64 {
        self.dedup(self.group_of(a), a.client.as_deref())
    }

    fn client(&self, client: &str) -> u64 {
        self.0.hash_one(client)
    }
}

/// Which clients have an alert of their own in each alert group (by hashes, see [`Keys`]).
#[derive(Default)]
struct AlertClients {
    groups: Hashed<u64, HashSet<u64>>,
}

impl AlertClients {
    /// Whether `client` has (or now gets, while the group has fewer than `limit`) its own alert.
    fn own(&mut self, group: u64, client: u64, limit: usize) -> bool {
        let clients = self.groups.entry(group).or_default();
        clients.contains(&client) || (clients.len() < limit && clients.insert(client))
    }
}

#[derive(Default)]
pub(crate) struct AlertPolicy {
    /// Occurrences since the last write, by dedup key (hashed, see [`Keys`]: the keys share long
    /// prefixes, which made ordered-map lookups the inventory thread's biggest cost, and building
    /// them for every transaction with sensitive data was a tenth of its time after that).
    pending: Hashed<u64, Alert>,
    keys: Keys,
    clients: AlertClients,
    pub(crate) max_clients: usize,
    /// Occurrences raised since start.
    pub(crate) raised: u64,
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

impl AlertPolicy {
    pub(crate) fn new(max_clients: usize, stored: &[Alert], rules: Suppressions) -> AlertPolicy {
        let mut policy = AlertPolicy { max_clients, rules, ..AlertPolicy::default() };
        for a in stored {
            if let Some(client) = &a.client {
                let (group, client) = (policy.keys.group_of(a), policy.keys.client(client));
                policy.clients.own(group, client, usize::MAX);
            }
        }
        policy
    }

    /// The client an occurrence in `group` is filed under.
    fn file_client(&mut self, group: u64, client: &str) -> String {
        if self.clients.own(group, self.keys.client(client), self.max_clients) {
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
        // Called for every transaction with sensitive data: keys are hashed from their parts.
        let group = self.keys.group(kind, Some(subtype), &key.host, &key.method, &key.path);
        let filed = match is_per_client(kind) {
            true if self.clients.own(group, self.keys.client(client), self.max_clients) => Some(client),
            true => Some(MANY_CLIENTS),
            false => None,
        };
        match self.pending.get_mut(&self.keys.dedup(group, filed)) {
            Some(p) => {
                p.count_occurrence(client, ts);
                self.raised = self.raised.saturating_add(1);
                true
            }
            None => false,
        }
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
        let group = self.keys.group_of(&a);
        if let Some(client) = a.client.take() {
            a.client = Some(self.file_client(group, &client));
        }
        self.merge_pending(self.keys.dedup(group, a.client.as_deref()), a);
    }

    /// Occurrences an alert stands for (a drafted occurrence is one).
    fn count_of(&self, a: &Alert) -> u64 {
        a.count.max(1)
    }

    /// Adds `a` to what is pending under `dedup` (its [`Keys::dedup`]).
    fn merge_pending(&mut self, dedup: u64, a: Alert) {
        match self.pending.entry(dedup) {
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
        let moving: Vec<(u64, EndpointKey)> = self
            .pending
            .iter()
            .filter_map(|(k, a)| {
                let at = EndpointKey { host: a.host.clone(), method: a.method.clone(), path: a.path.clone() };
                targets.get(&at).map(|to| (*k, to.clone()))
            })
            .collect();
        for (k, to) in moving {
            if let Some(mut a) = self.pending.remove(&k) {
                a.host = to.host;
                a.method = to.method;
                a.path = to.path;
                self.merge_pending(self.keys.dedup_of(&a), a);
            }
        }
    }

    /// The pending occurrences, in dedup-key order (so alert ids are given out the same way on
    /// every run).
    pub(crate) fn take(&mut self) -> Vec<Alert> {
        let mut alerts: Vec<(String, Alert)> =
            std::mem::take(&mut self.pending).into_values().map(|a| (a.dedup_key(), a)).collect();
        alerts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        alerts.into_iter().map(|(_, a)| a).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apisonar_engine::Severity;

    fn key(path: &str) -> EndpointKey {
        EndpointKey { host: "api.example".into(), method: "POST".into(), path: path.into() }
    }

    fn drafted(kind: &str, subtype: &str, path: &str, client: &str, ts: i64) -> Alert {
        Alert::occurrence(&key(path), client, ts, kind, Some(subtype), Severity::Medium, "t".into(), "e".into())
    }

    /// `add` files a drafted alert under a key made from the alert, `count_repeat` looks it up
    /// by a key made from its parts: both must find the same alert, and no other.
    #[test]
    fn a_repeat_is_counted_on_the_alert_drafted_for_the_same_parts_and_no_other() {
        let mut policy = AlertPolicy::new(2, &[], Suppressions::default());
        let kind = "cleartext_credentials";
        assert!(!policy.count_repeat(kind, "password", &key("/login"), "10.0.0.1", 1), "nothing pending yet");
        policy.add(drafted(kind, "password", "/login", "10.0.0.1", 1));
        // Not about one client: another client's occurrence is counted on the same alert.
        assert!(policy.count_repeat(kind, "password", &key("/login"), "10.0.0.2", 2));
        for (subtype, path) in [("api_key", "/login"), ("password", "/login/x"), ("password", "/logi")] {
            assert!(!policy.count_repeat(kind, subtype, &key(path), "10.0.0.1", 3), "{subtype} {path}");
        }
        // About one client: each of the first two clients has its own alert, later ones share one.
        for client in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            policy.add(drafted("brute_force", "", "/login", client, 4));
        }
        assert!(policy.count_repeat("brute_force", "", &key("/login"), "10.0.0.2", 5));
        assert!(policy.count_repeat("brute_force", "", &key("/login"), "10.0.0.9", 5), "filed under many clients");
        let alerts = policy.take();
        let count = |kind: &str, client: Option<&str>| {
            alerts.iter().find(|a| a.kind == kind && a.client.as_deref() == client).map(|a| a.count)
        };
        assert_eq!(count(kind, None), Some(2));
        assert_eq!(count("brute_force", Some("10.0.0.1")), Some(1));
        assert_eq!(count("brute_force", Some("10.0.0.2")), Some(2));
        assert_eq!(count("brute_force", Some(MANY_CLIENTS)), Some(2));
        assert_eq!(alerts.len(), 4);
        assert!(alerts.windows(2).all(|w| w[0].dedup_key() < w[1].dedup_key()), "handed out in key order");
    }
}
