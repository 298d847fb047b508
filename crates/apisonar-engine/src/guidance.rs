//! What an alert means for the person triaging it: per kind, why it matters, what to do, and
//! the OWASP API Security Top 10 (2023) category it falls under.

use serde::Serialize;

/// An OWASP API Security Top 10 (2023) category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Owasp {
    /// `API1:2023`...
    pub id: &'static str,
    pub name: &'static str,
}

const API1: Owasp = Owasp { id: "API1:2023", name: "Broken Object Level Authorization" };
const API2: Owasp = Owasp { id: "API2:2023", name: "Broken Authentication" };
const API3: Owasp = Owasp { id: "API3:2023", name: "Broken Object Property Level Authorization" };
const API4: Owasp = Owasp { id: "API4:2023", name: "Unrestricted Resource Consumption" };
const API8: Owasp = Owasp { id: "API8:2023", name: "Security Misconfiguration" };
const API9: Owasp = Owasp { id: "API9:2023", name: "Improper Inventory Management" };

/// Triage text for one alert kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Guidance {
    pub why: &'static str,
    pub what_to_do: &'static str,
    /// `None` for a kind no category fits.
    pub owasp: Option<Owasp>,
}

/// Every kind the sensor raises, in the order the dashboard lists them.
pub const KINDS: &[&str] = &[
    "cleartext_credentials",
    "cleartext_sensitive_data",
    "sensitive_data_exposure",
    "shadow_api",
    "zombie_api",
    "injection_attempt",
    "enumeration",
    "brute_force",
    "bola",
    "scanner",
    "rate_anomaly",
    "error_spike",
    "weak_tls",
    "graphql_introspection",
];

/// The guidance for `kind` (a kind this version does not know gets a general text).
pub fn for_kind(kind: &str) -> Guidance {
    let (why, what_to_do, owasp) = match kind {
        "cleartext_credentials" => (
            "Passwords, tokens, keys or session cookies crossed the network without TLS. Anyone on the \
             path (a shared network, a compromised router, the mirror port itself) can read them and act \
             as that user or service until the credential is changed.",
            "Serve the endpoint over HTTPS only and redirect or refuse plain HTTP; rotate the credentials \
             that were exposed; mark session cookies Secure so browsers never send them in cleartext.",
            API2,
        ),
        "cleartext_sensitive_data" => (
            "Personal data (e-mail addresses, phone numbers, card or account numbers, national \
             identifiers) travelled without TLS, readable by anyone on the path. Data-protection rules \
             usually require it to be encrypted in transit.",
            "Move the endpoint and its clients to HTTPS, refuse plain HTTP, and check whether the exposure \
             must be reported under the rules that apply to this data.",
            API8,
        ),
        "sensitive_data_exposure" => (
            "Answers hand out secrets or many records of personal data. An API that returns more than the \
             client needs turns any access, legitimate or not, into a data leak.",
            "Return only the fields each client needs (filter on the server, never in the client); never \
             return secrets; page and limit bulk answers and check who may ask for them.",
            API3,
        ),
        "shadow_api" => (
            "Traffic reaches an endpoint the host's spec does not describe. Nobody reviewed it, so its \
             authentication, input validation and data exposure are unknown, and it is easy to forget \
             when the API is secured or retired.",
            "Find its owner; document it in the spec and review it like any other endpoint, or remove it \
             if it should not exist.",
            API9,
        ),
        "zombie_api" => (
            "A deprecated or superseded version is still called. Old versions tend to miss the fixes and \
             checks the current one has, and attackers look for them.",
            "Find the clients still calling it (see the top clients), move them to the current version, \
             then retire the old one and watch that the traffic stops.",
            API9,
        ),
        "injection_attempt" => (
            "Requests carry SQL, command, template, path-traversal, SSRF or script payloads. Someone is \
             testing whether the endpoint passes input to an interpreter; a success can mean data theft \
             or control of the server.",
            "Check the endpoint's answers to these requests (an error or an unusual answer is a bad \
             sign); make sure input is validated and queries are parameterised; block the client if the \
             attempts go on.",
            API8,
        ),
        "enumeration" => (
            "One client walked through many values of an identifier. That is how records of other users \
             are harvested when the endpoint checks who may see an object too loosely.",
            "Check that every object is authorised for the caller, not only the caller's session; prefer \
             identifiers that cannot be guessed; rate-limit the client.",
            API1,
        ),
        "brute_force" => (
            "One client failed to authenticate many times. It is guessing passwords or trying stolen \
             credentials, and every success is an account taken over.",
            "Rate-limit and lock out failed sign-ins per account and per client, add a second factor, and \
             look for a success from the same client after the failures.",
            API2,
        ),
        "bola" => (
            "One principal reached objects that belong to other principals on an endpoint whose objects \
             are private. That is the most common way APIs leak data.",
            "Confirm with the endpoint's owner, then check in the server that the caller owns or may see \
             each object it asks for; review the other endpoints of the same service for the same gap.",
            API1,
        ),
        "scanner" => (
            "A client probed many paths that do not exist or named a known scanning tool. Scans map what \
             a host exposes before an attack, and find forgotten endpoints.",
            "Check whether the scan is your own; otherwise block or rate-limit the client, and make sure \
             nothing it found (see the probed paths) should have been reachable.",
            API8,
        ),
        "rate_anomaly" => (
            "A client sent far more requests than its usual rate. It may be scraping data, abusing a \
             business flow or exhausting the service.",
            "Check what the client is doing; set per-client rate limits and quotas on the endpoint.",
            API4,
        ),
        "error_spike" => (
            "Errors on the endpoint rose well above their usual level. Fuzzing and probing show up this \
             way, and detailed error answers can leak how the service works.",
            "Look at the failing requests; make errors short and generic; fix what fails.",
            API8,
        ),
        "weak_tls" => (
            "Clients and the server agreed on an old protocol version or a weak cipher, or the \
             certificate is expired, not yet valid or self-signed. The traffic may be readable or the \
             server impersonated.",
            "Allow only TLS 1.2 and 1.3 with strong ciphers, and replace the certificate with a valid one \
             from a trusted authority.",
            API8,
        ),
        "graphql_introspection" => (
            "Clients asked the GraphQL endpoint for its whole schema. Introspection left on in production \
             hands an attacker a map of every query and mutation.",
            "Turn introspection off in production unless the API is public by design, and check who asked.",
            API8,
        ),
        _ => {
            return Guidance {
                why: "The sensor saw something worth a look on this endpoint.",
                what_to_do: "Read the evidence and decide whether it is expected.",
                owasp: None,
            }
        }
    };
    Guidance { why, what_to_do, owasp: Some(owasp) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_text_and_a_category() {
        let general = for_kind("no_such_kind");
        assert_eq!(general.owasp, None);
        let mut seen = std::collections::BTreeSet::new();
        for kind in KINDS {
            let g = for_kind(kind);
            assert_ne!(g.why, general.why, "{kind}");
            assert!(g.owasp.is_some_and(|o| o.id.ends_with(":2023")), "{kind}");
            assert!(seen.insert(g.why), "{kind} shares its text");
        }
    }
}
