//! Alerts: what users review. Deduplicated by kind, endpoint and client; evidence is always
//! masked by whoever builds it.

use serde::{Deserialize, Serialize};

use crate::catalog::Endpoint;
use crate::posture::{Classification, State};

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
    /// Masked evidence: classes, masks and hashes, never a secret.
    pub evidence: String,
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
        Alert {
            id: 0,
            kind: kind.into(),
            subtype: subtype.map(str::to_string),
            severity,
            title,
            host: key.host.clone(),
            method: key.method.clone(),
            path: key.path.clone(),
            client: Some(client.to_string()),
            count: 1,
            first_seen: ts,
            last_seen: ts,
            state: AlertState::Open,
            evidence,
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
    let client = client.unwrap_or("");
    let mut key = String::with_capacity(group.len().saturating_add(1).saturating_add(client.len()));
    key.push_str(group);
    key.push('\0');
    key.push_str(client);
    key
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
    })
}
