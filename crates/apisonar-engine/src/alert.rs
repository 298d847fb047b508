//! Alerts: what users review. One alert per fact: kind (with subtype or data class) and
//! endpoint, every client together, except for kinds that are about one client (a scanner, a
//! brute force...), which stay one per client. Evidence is always masked by whoever builds it.

use serde::{Deserialize, Serialize};

use crate::catalog::Endpoint;
use crate::posture::{Classification, State};
use crate::stats::ClientSet;

/// Busiest clients kept per alert.
pub const TOP_CLIENTS: usize = 8;
/// Evidence samples kept per alert.
pub const MAX_SAMPLES: usize = 5;

/// Kinds whose alert is about what one client does (kept per client); every other kind is about
/// an endpoint, whoever triggers it.
pub fn is_per_client(kind: &str) -> bool {
    matches!(kind, "scanner" | "brute_force" | "enumeration" | "bola" | "rate_anomaly")
}

/// A client and how many occurrences it caused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCount {
    pub client: String,
    pub count: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }
}

/// One alert, aggregated over every occurrence with the same dedup key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Assigned by the store.
    pub id: u64,
    pub kind: String,
    pub subtype: Option<String>,
    pub severity: Severity,
    pub title: String,
    pub host: String,
    pub method: String,
    /// Endpoint template.
    pub path: String,
    /// The client, when the alert is about one (an address, never a credential).
    pub client: Option<String>,
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub state: AlertState,
    /// Masked evidence of the latest occurrence: classes, masks and hashes, never a secret.
    pub evidence: String,
    /// Distinct clients of every occurrence.
    #[serde(default)]
    pub clients: ClientSet,
    /// The busiest clients, busiest first (at most `TOP_CLIENTS`; counted space-saving style, so
    /// a count may be over by what the client it replaced had).
    #[serde(default)]
    pub top_clients: Vec<ClientCount>,
    /// Masked evidence of different occurrences, the first ones (at most `MAX_SAMPLES`).
    #[serde(default)]
    pub samples: Vec<String>,
    /// The latest occurrence's request and response lines, masked (`Exchange::of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Exchange>,
    /// Who changed the state and when, oldest first (at most `MAX_HISTORY`, the oldest dropped);
    /// the sensor reopening a resolved alert that recurs is an entry too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<StateChange>,
    /// Who is looking into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
}

/// State changes kept per alert.
pub const MAX_HISTORY: usize = 64;
/// Comments kept per alert (the oldest dropped).
pub const MAX_COMMENTS: usize = 64;
/// Characters kept of a comment, an assignee or a name.
pub const MAX_COMMENT_CHARS: usize = 2000;
pub const MAX_NAME_CHARS: usize = 100;
/// Who a change is recorded as when the sensor made it.
pub const BY_SENSOR: &str = "sensor";

/// A state change: to what, by whom (a user, `token:NAME`, or `sensor`), when (microseconds
/// since the epoch: wall time for people, packet time for the sensor), and why if said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub at: i64,
    pub by: String,
    pub state: AlertState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A comment on an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub at: i64,
    pub by: String,
    pub text: String,
}

/// A change a person makes to an alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertChange {
    State(AlertState),
    /// `None` unassigns.
    Assign(Option<String>),
    Comment(String),
}

/// The request and response lines of one occurrence, masked: the endpoint's template for the
/// path, query parameter names without values, header values only for headers that carry no
/// data of the user (content type, length, user agent...), the scheme of an `Authorization`
/// header and the names of cookies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub request: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response: Vec<String>,
}

/// Header lines an example keeps.
const EXAMPLE_HEADERS: usize = 16;
/// Headers whose values an example shows (truncated).
const SHOWN_HEADERS: &[&str] = &[
    "host",
    ":authority",
    "content-type",
    "content-length",
    "accept",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "upgrade",
    "server",
    "grpc-status",
];

/// Text from traffic for an example line: control characters out, at most `max` characters.
fn plain(text: &str, max: usize) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// `name=…` for a cookie whose name is a plain token; `…` for anything else (a cookie without
/// `=` is all value).
fn cookie_name(pair: &str) -> String {
    match pair.trim().split_once('=') {
        Some((name, _))
            if !name.is_empty()
                && name.len() <= 40
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+.^_`|~-".contains(&b)) =>
        {
            format!("{name}=…")
        }
        _ => "…".to_string(),
    }
}

fn masked_header(name: &str, value: &str) -> String {
    let name = plain(name, 64);
    let lower = name.to_ascii_lowercase();
    // Even a header that carries no user data is shown only if nothing in it reads as sensitive.
    let clean = || crate::sensitive::classify_field(&lower, value).is_empty();
    let shown = match lower.as_str() {
        // The product token names the client (a scanner names itself); the rest may be anything.
        "user-agent" if clean() => plain(value.split(' ').next().unwrap_or_default(), 40),
        n if SHOWN_HEADERS.contains(&n) && clean() => plain(value, 120),
        // The scheme, when it is a scheme word before the credential.
        "authorization" | "proxy-authorization" => match value.trim().split_once(' ') {
            Some((scheme, _))
                if scheme.len() <= 20 && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                format!("{scheme} …")
            }
            _ => "…".to_string(),
        },
        "cookie" => value.split(';').map(cookie_name).take(8).collect::<Vec<_>>().join("; "),
        "set-cookie" => cookie_name(value.split(';').next().unwrap_or_default()),
        _ => "…".to_string(),
    };
    format!("{name}: {shown}")
}

impl Exchange {
    /// The masked lines of `obs`, filed under the endpoint `key`.
    pub fn of(obs: &crate::Observation, key: &crate::catalog::EndpointKey) -> Exchange {
        let version = match obs.protocol {
            crate::Protocol::Http1 => "HTTP/1.1",
            crate::Protocol::Http2 => "HTTP/2",
        };
        let names: Vec<String> = obs
            .target
            .split_once('?')
            .map(|(_, q)| {
                q.split('&')
                    .filter_map(|p| p.split('=').next())
                    .map(|n| format!("{}=…", plain(n, 40)))
                    .take(8)
                    .collect()
            })
            .unwrap_or_default();
        let query = if names.is_empty() { String::new() } else { format!("?{}", names.join("&")) };
        let mut request = vec![format!("{} {}{query} {version}", plain(&obs.method, 16), plain(&key.path, 200))];
        request.extend(obs.request_headers.iter().take(EXAMPLE_HEADERS).map(|(n, v)| masked_header(n, v)));
        let response = obs
            .response
            .as_ref()
            .map(|r| {
                let mut lines = vec![format!("{version} {} {}", r.status, crate::openapi::reason(r.status))];
                lines.extend(r.headers.iter().take(EXAMPLE_HEADERS).map(|(n, v)| masked_header(n, v)));
                lines
            })
            .unwrap_or_default();
        Exchange { request, response }
    }
}

impl Alert {
    /// One occurrence (count 1) on an endpoint by a client at `ts`, to be aggregated.
    #[allow(clippy::too_many_arguments)]
    pub fn occurrence(
        key: &crate::catalog::EndpointKey,
        client: &str,
        ts: i64,
        kind: &str,
        subtype: Option<&str>,
        severity: Severity,
        title: String,
        evidence: String,
    ) -> Alert {
        let mut clients = ClientSet::default();
        clients.add(client);
        Alert {
            id: 0,
            kind: kind.into(),
            subtype: subtype.map(str::to_string),
            severity,
            title,
            host: key.host.clone(),
            method: key.method.clone(),
            path: key.path.clone(),
            client: is_per_client(kind).then(|| client.to_string()),
            count: 1,
            first_seen: ts,
            last_seen: ts,
            state: AlertState::Open,
            samples: vec![evidence.clone()],
            evidence,
            clients,
            top_clients: vec![ClientCount { client: client.to_string(), count: 1 }],
            example: None,
            history: Vec::new(),
            assignee: None,
            comments: Vec::new(),
        }
    }

    /// Records a person's change made at `at` (wall time) by `by`; says whether anything changed.
    pub fn change(&mut self, change: &AlertChange, by: &str, at: i64) -> bool {
        let by: String = by.chars().take(MAX_NAME_CHARS).collect();
        match change {
            AlertChange::State(state) => {
                if self.state == *state {
                    return false;
                }
                self.state = *state;
                self.record_state(StateChange { at, by, state: *state, note: None });
            }
            AlertChange::Assign(who) => {
                let who = who.as_ref().map(|w| w.trim().chars().take(MAX_NAME_CHARS).collect::<String>());
                let who = who.filter(|w| !w.is_empty());
                if self.assignee == who {
                    return false;
                }
                self.assignee = who;
            }
            AlertChange::Comment(text) => {
                let text: String = text.trim().chars().take(MAX_COMMENT_CHARS).collect();
                if text.is_empty() {
                    return false;
                }
                if self.comments.len() >= MAX_COMMENTS {
                    self.comments.remove(0);
                }
                self.comments.push(Comment { at, by, text });
            }
        }
        true
    }

    fn record_state(&mut self, entry: StateChange) {
        if self.history.len() >= MAX_HISTORY {
            self.history.remove(0);
        }
        self.history.push(entry);
    }

    /// One more occurrence by `client` at `ts` (without drafting it: no new evidence).
    pub fn count_occurrence(&mut self, client: &str, ts: i64) {
        self.count = self.count.saturating_add(1);
        self.first_seen = self.first_seen.min(ts);
        self.last_seen = self.last_seen.max(ts);
        self.clients.add(client);
        count_client(&mut self.top_clients, client, 1);
    }

    /// Combines `other` (of the same dedup key) into this alert: with `Add` its occurrences add
    /// to these, with `Replace` its count and first sighting are the totals. `other`'s title and
    /// evidence replace these (it was drafted later, knowing more: a scanner's probe count);
    /// severity is the higher; a resolved alert seen again (later in packet time) reopens.
    pub fn absorb(&mut self, other: &Alert, merge: AlertMerge) {
        let newer = other.last_seen > self.last_seen;
        match merge {
            AlertMerge::Replace => {
                self.count = other.count;
                self.first_seen = other.first_seen;
            }
            AlertMerge::Add => {
                self.count = self.count.saturating_add(other.count);
                self.first_seen = self.first_seen.min(other.first_seen);
            }
        }
        self.title.clone_from(&other.title);
        self.evidence.clone_from(&other.evidence);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.severity = self.severity.max(other.severity);
        self.subtype.clone_from(&other.subtype);
        self.clients.merge(&other.clients);
        for c in &other.top_clients {
            count_client(&mut self.top_clients, &c.client, c.count);
        }
        for s in &other.samples {
            if self.samples.len() < MAX_SAMPLES && !self.samples.contains(s) {
                self.samples.push(s.clone());
            }
        }
        if other.example.is_some() && (newer || self.example.is_none()) {
            self.example.clone_from(&other.example);
        }
        if self.state == AlertState::Resolved && newer {
            self.state = AlertState::Open;
            let note = Some("it recurred".to_string());
            self.record_state(StateChange { at: other.last_seen, by: BY_SENSOR.into(), state: AlertState::Open, note });
        }
    }

    /// The deduplication key: kind (with subtype), endpoint and client.
    pub fn dedup_key(&self) -> String {
        let group = group_key(&self.kind, self.subtype.as_deref(), &self.host, &self.method, &self.path);
        dedup_key(&group, self.client.as_deref())
    }
}

/// An alert group: kind (with subtype) and endpoint, every client together.
pub fn group_key(kind: &str, subtype: Option<&str>, host: &str, method: &str, path: &str) -> String {
    [kind, subtype.unwrap_or(""), host, method, path].join("\0")
}

/// The deduplication key of the alert for `client` in a group (see `Alert::dedup_key`).
pub fn dedup_key(group: &str, client: Option<&str>) -> String {
    [group, client.unwrap_or("")].join("\0")
}

/// Adds `n` occurrences of `client` to a top-clients list (space-saving: when the list is full,
/// a new client takes the place of the least busy one and its count).
fn count_client(top: &mut Vec<ClientCount>, client: &str, n: u64) {
    if let Some(c) = top.iter_mut().find(|c| c.client == client) {
        c.count = c.count.saturating_add(n);
    } else if top.len() < TOP_CLIENTS {
        top.push(ClientCount { client: client.to_string(), count: n });
    } else if let Some(least) = top.iter_mut().min_by_key(|c| c.count) {
        least.client = client.to_string();
        least.count = least.count.saturating_add(n);
    }
    top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.client.cmp(&b.client)));
}

/// How a new occurrence combines with an existing alert of the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertMerge {
    /// The draft's count and times are totals (posture alerts recomputed from the inventory).
    Replace,
    /// The draft's count adds to the existing one (detections).
    Add,
}

/// The alert a shadow or zombie endpoint raises, if any.
pub fn posture_alert(e: &Endpoint, c: &Classification) -> Option<Alert> {
    let (kind, subtype, what) = match c.state {
        State::Shadow => ("shadow_api", None, "Shadow API"),
        State::Zombie if c.reason.contains("deprecated") => ("zombie_api", Some("deprecated"), "Zombie API"),
        State::Zombie => ("zombie_api", Some("superseded"), "Zombie API"),
        _ => return None,
    };
    Some(Alert {
        id: 0,
        kind: kind.to_string(),
        subtype: subtype.map(str::to_string),
        severity: Severity::Medium,
        title: format!("{what}: {} {} on {}", e.method, e.path, e.host),
        host: e.host.clone(),
        method: e.method.clone(),
        path: e.path.clone(),
        client: None,
        count: e.hits,
        first_seen: e.first_seen,
        last_seen: e.last_seen,
        state: AlertState::Open,
        evidence: format!("{}; {} requests from {} clients", c.reason, e.hits, e.clients.count()),
        clients: e.clients.clone(),
        top_clients: Vec::new(),
        samples: Vec::new(),
        example: None,
        history: Vec::new(),
        assignee: None,
        comments: Vec::new(),
    })
}

/// A `shadow_api` alert for a GraphQL operation the endpoint's schema does not document
/// (subtype: the operation's label).
pub fn shadow_operation_alert(e: &Endpoint, label: &str, op: &crate::catalog::OperationStats, reason: &str) -> Alert {
    Alert {
        id: 0,
        kind: "shadow_api".to_string(),
        subtype: Some(label.chars().take(80).collect()),
        severity: Severity::Medium,
        title: format!("Shadow GraphQL operation: {label} on {} {} on {}", e.method, e.path, e.host),
        host: e.host.clone(),
        method: e.method.clone(),
        path: e.path.clone(),
        client: None,
        count: op.hits,
        first_seen: op.first_seen,
        last_seen: op.last_seen,
        state: AlertState::Open,
        evidence: format!("{reason}; {} calls", op.hits),
        clients: e.clients.clone(),
        top_clients: Vec::new(),
        samples: Vec::new(),
        example: None,
        history: Vec::new(),
        assignee: None,
        comments: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

    use std::collections::BTreeSet;

    use super::*;
    use crate::catalog::EndpointKey;

    fn occurrence(kind: &str, client: &str, ts: i64, evidence: &str) -> Alert {
        let key = EndpointKey { host: "h".into(), method: "GET".into(), path: "/me".into() };
        Alert::occurrence(&key, client, ts, kind, Some("jwt"), Severity::Medium, "t".into(), evidence.into())
    }

    #[test]
    fn an_alert_about_an_endpoint_groups_its_clients_and_one_about_a_client_does_not() {
        let grouped: BTreeSet<String> =
            (1..=8).map(|i| occurrence("cleartext_credentials", &format!("10.0.0.{i}"), i, "e").dedup_key()).collect();
        assert_eq!(grouped.len(), 1, "eight clients, one fact");
        let per_client: BTreeSet<String> =
            (1..=8).map(|i| occurrence("brute_force", &format!("10.0.0.{i}"), i, "e").dedup_key()).collect();
        assert_eq!(per_client.len(), 8);
    }

    #[test]
    fn absorbing_counts_clients_keeps_the_busiest_and_a_few_samples() {
        let mut a = occurrence("cleartext_credentials", "10.0.0.1", 5, "mask 1");
        for i in 0..30u64 {
            // 10.0.0.2 is the busiest; twenty one-off clients pass by.
            let client = if i % 3 == 0 { "10.0.0.2".to_string() } else { format!("10.0.1.{i}") };
            a.absorb(
                &occurrence("cleartext_credentials", &client, 10 + i as i64, &format!("mask {i}")),
                AlertMerge::Add,
            );
        }
        a.count_occurrence("10.0.0.2", 2);
        assert_eq!(a.count, 32);
        assert_eq!((a.first_seen, a.last_seen), (2, 39));
        assert_eq!(a.clients.count(), 22);
        assert!(a.top_clients.len() <= TOP_CLIENTS);
        assert_eq!((a.top_clients[0].client.as_str(), a.top_clients[0].count), ("10.0.0.2", 11));
        assert_eq!(a.samples.len(), MAX_SAMPLES);
        assert_eq!(a.samples[0], "mask 1", "the first samples stay");
        assert_eq!(a.evidence, "mask 29", "the latest evidence shows");
    }

    #[test]
    fn a_resolved_alert_seen_again_reopens_and_severity_only_rises() {
        let mut a = occurrence("injection_attempt", "10.0.0.1", 5, "e");
        a.state = AlertState::Resolved;
        a.severity = Severity::High;
        let mut later = occurrence("injection_attempt", "10.0.0.1", 9, "e");
        later.severity = Severity::Low;
        a.absorb(&later, AlertMerge::Add);
        assert_eq!((a.state, a.severity), (AlertState::Open, Severity::High));
        let mut b = occurrence("injection_attempt", "10.0.0.1", 5, "e");
        b.state = AlertState::Resolved;
        b.absorb(&occurrence("injection_attempt", "10.0.0.1", 4, "e"), AlertMerge::Add);
        assert_eq!(b.state, AlertState::Resolved, "an older occurrence does not reopen");
    }
}
