//! A risk score per endpoint, with its reasons: where an operator with hundreds of endpoints
//! should look first. The score adds the points of each reason that holds, capped at 100:
//!
//! | reason | points | when |
//! |---|---|---|
//! | `unauthenticated` | 20 | no request carried credentials |
//! | `optional_auth` | 10 | some requests carried credentials, some none |
//! | `sensitive_response` | 25 / 20 / 10 | responses carry secrets / identifiers (card, IBAN, national ids) / other personal data |
//! | `cleartext` | 10, or 25 | requests without TLS; 25 when credentials or personal data travelled so |
//! | `shadow` | 15 | on a host a spec covers, not in it |
//! | `zombie` | 20 | deprecated or superseded, still called |
//! | `attacked` | 15, +5 per further kind, at most 25 | unresolved injection, brute-force, enumeration, rate or error-spike alerts |
//! | `broken_authorization` | 25 | an unresolved `bola` alert |
//!
//! Levels: `high` from 60, `medium` from 30, `low` above 0, `none` at 0. Only unresolved alerts
//! filed under the endpoint itself count (a scanner's alert on a host, path `*`, is about the
//! client, not an endpoint).

use serde::Serialize;

use crate::alert::{Alert, AlertState};
use crate::auth::AuthScheme;
use crate::catalog::Endpoint;
use crate::posture::State;
use crate::sensitive::Class;

/// One reason an endpoint is risky, and what it adds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskReason {
    /// Stable name (`unauthenticated`, `cleartext`...).
    pub reason: &'static str,
    pub points: u32,
    /// What showed it, in words.
    pub detail: String,
}

/// An endpoint's risk: the score (0 to 100), its level and its reasons, most points first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Risk {
    pub score: u32,
    pub level: &'static str,
    pub reasons: Vec<RiskReason>,
}

impl Default for Risk {
    fn default() -> Risk {
        Risk { score: 0, level: level(0), reasons: Vec::new() }
    }
}

/// The most a score can be.
pub const MAX_SCORE: u32 = 100;

fn level(score: u32) -> &'static str {
    match score {
        60.. => "high",
        30.. => "medium",
        1.. => "low",
        0 => "none",
    }
}

fn secret(c: Class) -> bool {
    matches!(
        c,
        Class::Password
            | Class::PrivateKey
            | Class::ApiKey
            | Class::CloudAccessKey
            | Class::SourceHostToken
            | Class::PaymentProviderKey
            | Class::BearerToken
            | Class::Jwt
            | Class::JwtAlgNone
            | Class::BasicAuth
            | Class::SessionCookie
    )
}

fn identifier(c: Class) -> bool {
    matches!(c, Class::CardNumber | Class::Iban | Class::UsSsn | Class::SpanishDni | Class::DutchBsn | Class::BrazilCpf)
}

/// Alert kinds that say someone attacks the endpoint.
const ATTACKS: &[&str] = &["injection_attempt", "brute_force", "enumeration", "rate_anomaly", "error_spike"];

/// The risk of `e`, in state `state`, given the alerts filed under it (any state; resolved ones
/// are not counted).
pub fn assess(e: &Endpoint, state: State, alerts: &[&Alert]) -> Risk {
    let mut reasons = Vec::new();
    let mut add =
        |reason: &'static str, points: u32, detail: String| reasons.push(RiskReason { reason, points, detail });
    let without = e.auth.iter().filter(|a| a.scheme == AuthScheme::None).map(|a| a.count).sum::<u64>();
    let with = e.auth.iter().filter(|a| a.scheme != AuthScheme::None).map(|a| a.count).sum::<u64>();
    if e.hits > 0 && with == 0 {
        add("unauthenticated", 20, format!("none of {} requests carried credentials", e.hits));
    } else if with > 0 && without > 0 {
        add("optional_auth", 10, format!("{without} requests carried no credentials, {with} did"));
    }
    let response_classes: std::collections::BTreeSet<Class> = e
        .sensitive
        .iter()
        .filter(|(location, _)| location.starts_with("response"))
        .flat_map(|(_, f)| f.classes.keys().copied())
        .collect();
    let names = |pick: fn(Class) -> bool| {
        response_classes.iter().filter(|c| pick(**c)).map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
    };
    if response_classes.iter().any(|c| secret(*c)) {
        add("sensitive_response", 25, format!("responses carry secrets: {}", names(secret)));
    } else if response_classes.iter().any(|c| identifier(*c)) {
        add("sensitive_response", 20, format!("responses carry identifiers: {}", names(identifier)));
    } else if !response_classes.is_empty() {
        add("sensitive_response", 10, format!("responses carry personal data: {}", names(|_| true)));
    }
    let open: Vec<&&Alert> = alerts.iter().filter(|a| a.state != AlertState::Resolved && a.path != "*").collect();
    if e.cleartext > 0 {
        let exposed: Vec<&str> = open
            .iter()
            .filter_map(|a| match a.kind.as_str() {
                "cleartext_credentials" => Some(a.subtype.as_deref().unwrap_or("credentials")),
                "cleartext_sensitive_data" => Some(a.subtype.as_deref().unwrap_or("personal data")),
                _ => None,
            })
            .collect();
        if exposed.is_empty() {
            add("cleartext", 10, format!("{} requests without TLS", e.cleartext));
        } else {
            add("cleartext", 25, format!("{} requests without TLS, carrying {}", e.cleartext, exposed.join(", ")));
        }
    }
    match state {
        State::Shadow => add("shadow", 15, "not in the spec that covers the host".into()),
        State::Zombie => add("zombie", 20, "deprecated or superseded, still called".into()),
        _ => {}
    }
    let mut attacks: Vec<&str> = open.iter().map(|a| a.kind.as_str()).filter(|k| ATTACKS.contains(k)).collect();
    attacks.sort_unstable();
    attacks.dedup();
    if let Some(more) = attacks.len().checked_sub(1) {
        let points = 15u32.saturating_add(5u32.saturating_mul(u32::try_from(more).unwrap_or(u32::MAX))).min(25);
        add("attacked", points, format!("unresolved alerts: {}", attacks.join(", ")));
    }
    if open.iter().any(|a| a.kind == "bola") {
        add("broken_authorization", 25, "one principal reached other principals' objects".into());
    }
    reasons.sort_by(|a, b| b.points.cmp(&a.points).then_with(|| a.reason.cmp(b.reason)));
    let score = reasons.iter().fold(0u32, |n, r| n.saturating_add(r.points)).min(MAX_SCORE);
    Risk { score, level: level(score), reasons }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use crate::catalog::{AuthCount, SensitiveField};

    fn endpoint() -> Endpoint {
        Endpoint { host: "h".into(), method: "GET".into(), path: "/u/{id}".into(), hits: 10, ..Endpoint::default() }
    }

    fn alert(kind: &str, subtype: Option<&str>, state: AlertState) -> Alert {
        let key = endpoint().key();
        let mut a =
            Alert::occurrence(&key, "10.0.0.1", 1, kind, subtype, crate::Severity::High, "t".into(), "e".into());
        a.state = state;
        a
    }

    fn reasons(r: &Risk) -> Vec<(&'static str, u32)> {
        r.reasons.iter().map(|x| (x.reason, x.points)).collect()
    }

    #[test]
    fn a_quiet_authenticated_documented_endpoint_has_no_risk() {
        let mut e = endpoint();
        e.auth.push(AuthCount { scheme: AuthScheme::Bearer, count: 10 });
        let r = assess(&e, State::Documented, &[]);
        assert_eq!((r.score, r.level, r.reasons.len()), (0, "none", 0));
    }

    #[test]
    fn each_reason_adds_its_points_and_the_score_is_capped() {
        let mut e = endpoint();
        e.auth.push(AuthCount { scheme: AuthScheme::None, count: 10 });
        e.cleartext = 4;
        let mut f = SensitiveField::default();
        f.add(Class::Email, 3, 1);
        e.sensitive.insert("response.json.email".into(), f.clone());
        let r = assess(&e, State::Undocumented, &[]);
        assert_eq!(reasons(&r), [("unauthenticated", 20), ("cleartext", 10), ("sensitive_response", 10)]);
        assert_eq!((r.score, r.level), (40, "medium"));

        let cleartext = alert("cleartext_sensitive_data", Some("email"), AlertState::Open);
        let injection = alert("injection_attempt", Some("sql_injection"), AlertState::Acknowledged);
        let brute = alert("brute_force", None, AlertState::Open);
        let resolved_bola = alert("bola", None, AlertState::Resolved);
        let r = assess(&e, State::Shadow, &[&cleartext, &injection, &brute, &resolved_bola]);
        assert_eq!(
            reasons(&r),
            [("cleartext", 25), ("attacked", 20), ("unauthenticated", 20), ("shadow", 15), ("sensitive_response", 10)]
        );
        assert_eq!(r.reasons[0].detail, "4 requests without TLS, carrying email");
        assert_eq!((r.score, r.level), (90, "high"));

        f.add(Class::Password, 1, 1);
        e.sensitive.insert("response.json.password".into(), f);
        let bola = alert("bola", None, AlertState::Open);
        let r = assess(&e, State::Zombie, &[&cleartext, &injection, &brute, &bola]);
        assert_eq!(r.score, MAX_SCORE);
        assert!(reasons(&r).contains(&("sensitive_response", 25)) && reasons(&r).contains(&("zombie", 20)));
    }

    #[test]
    fn optional_credentials_count_half_and_host_wide_alerts_not_at_all() {
        let mut e = endpoint();
        e.auth.push(AuthCount { scheme: AuthScheme::None, count: 2 });
        e.auth.push(AuthCount { scheme: AuthScheme::Basic, count: 8 });
        let mut scanner = alert("enumeration", None, AlertState::Open);
        scanner.path = "*".into();
        let r = assess(&e, State::Documented, &[&scanner]);
        assert_eq!(reasons(&r), [("optional_auth", 10)]);
        assert_eq!(r.reasons[0].detail, "2 requests carried no credentials, 8 did");
    }
}
