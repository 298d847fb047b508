//! Alerts from sensitive data: credentials and personal data in cleartext, and responses that
//! hand out secrets or personal data in bulk. Evidence is classes, locations and masks only.

use std::collections::BTreeMap;

use crate::alert::{Alert, AlertState, Severity};
use crate::catalog::EndpointKey;
use crate::observation::Observation;
use crate::sensitive::{Class, Finding};

/// A response with at least this many e-mail addresses, or this many card numbers or national
/// identifiers, is a bulk exposure.
const BULK_EMAILS: usize = 10;
const BULK_IDENTIFIERS: usize = 3;

fn draft(
    obs: &Observation,
    key: &EndpointKey,
    kind: &str,
    subtype: &str,
    severity: Severity,
    title: String,
    evidence: String,
) -> Alert {
    Alert {
        id: 0,
        kind: kind.into(),
        subtype: Some(subtype.into()),
        severity,
        title,
        host: key.host.clone(),
        method: key.method.clone(),
        path: key.path.clone(),
        client: Some(obs.client.to_string()),
        count: 1,
        first_seen: obs.ts,
        last_seen: obs.ts,
        state: AlertState::Open,
        evidence,
    }
}

fn describe(findings: &[&Finding]) -> String {
    let mut parts: Vec<String> =
        findings.iter().map(|f| format!("{} at {} ({})", f.class.as_str(), f.location, f.mask)).collect();
    parts.dedup();
    parts.truncate(8);
    parts.join("; ")
}

/// The alerts one observation raises.
pub fn data_alerts(obs: &Observation, key: &EndpointKey, findings: &[Finding]) -> Vec<Alert> {
    let mut out = Vec::new();
    let server = obs.server.to_string();
    if !obs.encrypted {
        let mut by_class: BTreeMap<Class, Vec<&Finding>> = BTreeMap::new();
        for f in findings {
            by_class.entry(f.class).or_default().push(f);
        }
        for (class, fs) in by_class {
            // Credentials the client sends, or a session the server hands out, over cleartext.
            let credential = class.is_credential()
                && fs.iter().any(|f| f.location.starts_with("request.") || f.location.contains("set-cookie"));
            if credential {
                let severity = if matches!(class, Class::Password | Class::BasicAuth | Class::PrivateKey) {
                    Severity::High
                } else {
                    Severity::Medium
                };
                out.push(draft(
                    obs,
                    key,
                    "cleartext_credentials",
                    class.as_str(),
                    severity,
                    format!("{} sent in cleartext to {} {} on {}", class.as_str(), key.method, key.path, key.host),
                    format!("server {server}; {}", describe(&fs)),
                ));
            } else if !class.is_credential() {
                let severity = if matches!(
                    class,
                    Class::CardNumber
                        | Class::UsSsn
                        | Class::Iban
                        | Class::SpanishDni
                        | Class::DutchBsn
                        | Class::BrazilCpf
                ) {
                    Severity::High
                } else {
                    Severity::Medium
                };
                out.push(draft(
                    obs,
                    key,
                    "cleartext_sensitive_data",
                    class.as_str(),
                    severity,
                    format!("{} in cleartext on {} {} on {}", class.as_str(), key.method, key.path, key.host),
                    format!("server {server}; {}", describe(&fs)),
                ));
            }
        }
    }
    // Bulk exposure in a response, encrypted or not.
    let response: Vec<&Finding> = findings.iter().filter(|f| f.location.starts_with("response.json")).collect();
    let count = |classes: &[Class]| {
        response.iter().filter(|f| classes.contains(&f.class)).map(|f| f.count as usize).sum::<usize>()
    };
    let secrets = count(&[
        Class::Password,
        Class::PrivateKey,
        Class::ApiKey,
        Class::CloudAccessKey,
        Class::SourceHostToken,
        Class::PaymentProviderKey,
    ]);
    let emails = count(&[Class::Email]);
    let ids =
        count(&[Class::CardNumber, Class::UsSsn, Class::Iban, Class::SpanishDni, Class::DutchBsn, Class::BrazilCpf]);
    let subtype = if secrets > 0 {
        Some("secrets")
    } else if ids >= BULK_IDENTIFIERS {
        Some("identifiers")
    } else if emails >= BULK_EMAILS {
        Some("emails")
    } else {
        None
    };
    if let Some(subtype) = subtype {
        out.push(draft(
            obs,
            key,
            "sensitive_data_exposure",
            subtype,
            Severity::High,
            format!(
                "{} {} on {} returns {subtype} ({} secrets, {ids} identifiers, {} e-mail addresses)",
                key.method, key.path, key.host, secrets, emails
            ),
            describe(&response),
        ));
    }
    out
}
