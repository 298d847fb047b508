//! Suppression rules: an alert kind muted for an endpoint, a client or a host (a known-benign
//! scanner, a health check that sends a test password), until an optional expiry. The
//! application core drops the occurrences a rule matches before they become alerts, and counts
//! them on the rule.

use serde::{Deserialize, Serialize};

use crate::catalog::EndpointKey;

/// Rules kept at most; more are refused.
pub const MAX_RULES: usize = 1000;

/// One rule. It matches an occurrence of `kind` when every scope it names matches: `host`
/// (case-insensitive), the endpoint (`method` and `path`, which need `host`), `client`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// Given by the store's owner of the list (the core), from 1.
    pub id: u64,
    pub kind: String,
    pub host: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub client: Option<String>,
    /// Microseconds since the epoch (wall time); `None`: until removed.
    pub expires: Option<i64>,
    pub reason: String,
    pub created_by: String,
    pub created_at: i64,
    /// Occurrences it dropped, and when the latest was seen (packet time).
    pub suppressed: u64,
    pub last_suppressed: Option<i64>,
}

/// Why a rule was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum RuleError {
    NoKind,
    NoScope,
    PartialEndpoint,
    TooLong,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::NoKind => "a rule needs a kind",
            RuleError::NoScope => "a rule needs a scope: an endpoint (host, method and path), a client or a host",
            RuleError::PartialEndpoint => "an endpoint needs its host, method and path",
            RuleError::TooLong => "a field is longer than 2000 characters",
        }
    }
}

impl Suppression {
    /// Checks that the rule says what it mutes: a kind and at least one scope, an endpoint whole.
    pub fn validate(&self) -> Result<(), RuleError> {
        let fields =
            [Some(&self.kind), self.host.as_ref(), self.method.as_ref(), self.path.as_ref(), self.client.as_ref()];
        if fields.into_iter().flatten().chain([&self.reason]).any(|f| f.len() > 2000) {
            return Err(RuleError::TooLong);
        }
        if self.kind.trim().is_empty() {
            return Err(RuleError::NoKind);
        }
        if (self.method.is_some() || self.path.is_some())
            && !(self.host.is_some() && self.method.is_some() && self.path.is_some())
        {
            return Err(RuleError::PartialEndpoint);
        }
        if self.host.is_none() && self.client.is_none() {
            return Err(RuleError::NoScope);
        }
        Ok(())
    }

    /// Whether the rule is in force at `now` (wall time).
    pub fn active(&self, now: i64) -> bool {
        self.expires.is_none_or(|e| now < e)
    }

    /// Whether an occurrence of `kind` on `key` by `client` is muted at `now`.
    pub fn matches(&self, kind: &str, key: &EndpointKey, client: &str, now: i64) -> bool {
        self.kind == kind
            && self.active(now)
            && self.host.as_deref().is_none_or(|h| h.eq_ignore_ascii_case(&key.host))
            && self.method.as_deref().is_none_or(|m| m == key.method)
            && self.path.as_deref().is_none_or(|p| p == key.path)
            && self.client.as_deref().is_none_or(|c| c == client)
    }
}

/// The rules in force, with a cheap answer when there are none (the usual case).
#[derive(Clone, Debug, Default)]
pub struct Suppressions {
    rules: Vec<Suppression>,
    /// Whether a count changed since `take_changed`.
    changed: bool,
}

impl Suppressions {
    pub fn new(rules: Vec<Suppression>) -> Suppressions {
        Suppressions { rules, changed: false }
    }

    pub fn rules(&self) -> &[Suppression] {
        &self.rules
    }

    /// Whether the occurrence is muted; the first rule that matches counts it.
    pub fn suppress(&mut self, kind: &str, key: &EndpointKey, client: &str, ts: i64, now: i64) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        match self.rules.iter_mut().find(|r| r.matches(kind, key, client, now)) {
            Some(rule) => {
                rule.suppressed = rule.suppressed.saturating_add(1);
                rule.last_suppressed = Some(rule.last_suppressed.map_or(ts, |t| t.max(ts)));
                self.changed = true;
                true
            }
            None => false,
        }
    }

    /// Adds a rule (its id the next free one); the rule as stored.
    pub fn add(&mut self, mut rule: Suppression) -> Result<Suppression, AddError> {
        rule.validate().map_err(AddError::Invalid)?;
        if self.rules.len() >= MAX_RULES {
            return Err(AddError::Full);
        }
        rule.id = self.rules.iter().map(|r| r.id).max().unwrap_or(0).saturating_add(1);
        rule.suppressed = 0;
        rule.last_suppressed = None;
        self.rules.push(rule.clone());
        self.changed = true;
        Ok(rule)
    }

    /// Removes a rule; whether it existed.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.changed |= self.rules.len() != before;
        self.rules.len() != before
    }

    /// The whole list if anything changed since the last call.
    pub fn take_changed(&mut self) -> Option<Vec<Suppression>> {
        std::mem::take(&mut self.changed).then(|| self.rules.clone())
    }
}

/// Why a rule was not added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    #[error(transparent)]
    Invalid(RuleError),
    #[error("there are already 1000 rules")]
    Full,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: &str) -> Suppression {
        Suppression {
            id: 0,
            kind: kind.into(),
            host: None,
            method: None,
            path: None,
            client: None,
            expires: None,
            reason: "known".into(),
            created_by: "alice".into(),
            created_at: 1,
            suppressed: 9,
            last_suppressed: None,
        }
    }

    fn key(path: &str) -> EndpointKey {
        EndpointKey { host: "Shop.test".into(), method: "POST".into(), path: path.into() }
    }

    #[test]
    fn a_rule_mutes_its_kind_in_its_scope_until_it_expires() {
        let mut s = Suppressions::default();
        assert!(!s.suppress("scanner", &key("/"), "10.0.0.1", 5, 0), "no rules, nothing muted");
        let client = s.add(Suppression { client: Some("10.0.0.9".into()), expires: Some(100), ..rule("scanner") });
        assert_eq!(client.map(|r| (r.id, r.suppressed)), Ok((1, 0)));
        let endpoint = Suppression {
            host: Some("shop.test".into()),
            method: Some("POST".into()),
            path: Some("/login".into()),
            ..rule("cleartext_credentials")
        };
        assert_eq!(s.add(endpoint).map(|r| r.id), Ok(2));
        assert!(s.suppress("scanner", &key("/x"), "10.0.0.9", 7, 50));
        assert!(!s.suppress("scanner", &key("/x"), "10.0.0.8", 7, 50), "another client");
        assert!(!s.suppress("brute_force", &key("/x"), "10.0.0.9", 7, 50), "another kind");
        assert!(!s.suppress("scanner", &key("/x"), "10.0.0.9", 7, 100), "expired");
        assert!(s.suppress("cleartext_credentials", &key("/login"), "10.0.0.1", 3, 500));
        assert!(!s.suppress("cleartext_credentials", &key("/logout"), "10.0.0.1", 3, 500));
        let rules = s.take_changed().unwrap_or_default();
        assert_eq!(
            rules.iter().map(|r| (r.suppressed, r.last_suppressed)).collect::<Vec<_>>(),
            [(1, Some(7)), (1, Some(3))]
        );
        assert_eq!(s.take_changed(), None, "nothing new");
        assert!(s.remove(1) && !s.remove(1));
        assert_eq!(s.add(rule("scanner").clone()).map(|r| r.id), Err(AddError::Invalid(RuleError::NoScope)));
    }

    #[test]
    fn rules_say_what_they_mute() {
        assert_eq!(Suppression { host: Some("h".into()), ..rule(" ") }.validate(), Err(RuleError::NoKind));
        assert_eq!(rule("scanner").validate(), Err(RuleError::NoScope));
        let partial = Suppression { host: Some("h".into()), path: Some("/x".into()), ..rule("scanner") };
        assert_eq!(partial.validate(), Err(RuleError::PartialEndpoint));
        let long = Suppression { client: Some("c".repeat(2001)), ..rule("scanner") };
        assert_eq!(long.validate(), Err(RuleError::TooLong));
        assert_eq!(Suppression { host: Some("h".into()), ..rule("scanner") }.validate(), Ok(()));
    }
}
