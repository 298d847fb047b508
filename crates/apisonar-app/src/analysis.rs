//! The part of a transaction's analysis that needs no shared state, made where the transaction
//! is (a flow worker) so that the thread owning the core only merges.

use apisonar_engine::catalog::{MessageFacts, ResponseSampler, TransactionFacts};
use apisonar_engine::findings::{injection_attempts, Attempts, InjectionSearch};
use apisonar_engine::sensitive::MaskKey;
use apisonar_engine::{MessageObservation, Observation};

/// One transaction as the engine sees it, with what could be learnt from it alone: parsed
/// bodies reduced to schemas, the response shape, sensitive findings (masked with the store's
/// key) and injection attempts.
#[derive(Debug)]
pub struct AnalysedTransaction {
    /// What was observed; its bodies are freed once analysed, but for a transaction whose
    /// bodies the merge reads (see [`shed_bodies`]).
    pub observation: Observation,
    pub(crate) facts: TransactionFacts,
    pub(crate) attempts: Attempts,
    /// The connection and position of a transaction that opened a WebSocket: its messages,
    /// which follow, name it.
    pub upgrade: Option<(u64, u32)>,
}

impl AnalysedTransaction {
    /// What the merge reads first, read ahead (see [`TransactionFacts::touch`]), with the
    /// boxed transaction's own first line (its observation's time).
    pub fn touch(&self) -> u64 {
        self.facts.touch().wrapping_add(u64::from(self.observation.ts as u8))
    }
}

/// One WebSocket message with what could be learnt from it alone.
#[derive(Debug)]
pub struct AnalysedMessage {
    pub observation: MessageObservation,
    /// The connection and position of the upgrade request.
    pub parent: (u64, u32),
    pub(crate) facts: MessageFacts,
    /// Injection attempts in a client's text message.
    pub(crate) attempts: Attempts,
}

/// Analyses `observation`, masking with `key`.
pub fn analyse(mut observation: Observation, key: &MaskKey) -> AnalysedTransaction {
    let facts = TransactionFacts::new(&observation, key);
    let attempts = injection_attempts(&observation);
    shed_bodies(&mut observation);
    AnalysedTransaction { observation, facts, attempts, upgrade: None }
}

/// Frees the bodies of an analysed observation unless the merge reads them
/// ([`apisonar_engine::behavior::reads_bodies`]; their lengths stay). On a flow worker the
/// blocks are still in its cache and the next body reuses them; handed on, they would travel
/// through the queues and come back cold to be freed.
fn shed_bodies(observation: &mut Observation) {
    if apisonar_engine::behavior::reads_bodies(observation) {
        return;
    }
    observation.request_body = Vec::new();
    if let Some(response) = observation.response.as_mut() {
        response.body = Vec::new();
    }
}

/// A flow worker's analysis: as [`analyse`], but each response body is analysed in full only
/// while the worker is still learning its shape (`ResponseSampler`; settled answers reuse what
/// their last full analysis found), and header values found clean of injection are not
/// searched again (`InjectionSearch`).
pub struct Analyser {
    key: MaskKey,
    sampler: ResponseSampler,
    injections: InjectionSearch,
}

impl Analyser {
    pub fn new(key: MaskKey) -> Analyser {
        Analyser { key, sampler: ResponseSampler::default(), injections: InjectionSearch::default() }
    }

    pub fn analyse(&mut self, mut observation: Observation) -> AnalysedTransaction {
        let (facts, request_json) =
            TransactionFacts::sampled_with_request_json(&observation, &self.key, &mut self.sampler);
        let attempts = self.injections.attempts_in(&observation, request_json.as_ref());
        shed_bodies(&mut observation);
        AnalysedTransaction { observation, facts, attempts, upgrade: None }
    }

    /// A WebSocket message: its JSON schema and sensitive values, and for a client's text
    /// message the injection search a request body gets.
    pub fn analyse_message(&mut self, observation: MessageObservation, parent: (u64, u32)) -> AnalysedMessage {
        let facts = MessageFacts::new(&observation, &self.key);
        let attempts = if observation.from_client && observation.kind == "text" {
            injection_attempts(&observation.as_request("GET", "", "/"))
        } else {
            Attempts::default()
        };
        AnalysedMessage { observation, parent, facts, attempts }
    }

    /// Response bodies analysed in full and reused so far.
    pub fn counts(&self) -> (u64, u64) {
        self.sampler.counts()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use apisonar_engine::ObservedResponse;

    use super::*;

    fn observation(method: &str, headers: &[(&str, &str)], request_body: &[u8]) -> Observation {
        Observation {
            ts: 1,
            client: std::net::IpAddr::from([10, 0, 0, 7]),
            server: std::net::SocketAddr::from(([10, 0, 0, 1], 80)),
            host: Some("api.test".into()),
            method: method.into(),
            target: "/api/users/7".into(),
            request_headers: headers.to_vec().into(),
            request_body: request_body.to_vec(),
            request_body_len: request_body.len() as u64,
            response: Some(ObservedResponse {
                status: 200,
                headers: [("content-type", "application/json")].into(),
                body: br#"{"id":7,"email":"someone@example.com"}"#.to_vec(),
                body_len: 38,
                latency_micros: 10,
            }),
            encrypted: false,
            protocol: Default::default(),
        }
    }

    #[test]
    fn an_analysed_transaction_keeps_only_the_bodies_the_merge_reads() {
        let json = [("content-type", "application/json")];
        let bearer = [("authorization", "Bearer abc.def.ghi")];
        /// Method, request headers and body, and whether the bodies stay.
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u8], bool);
        let cases: [Case; 5] = [
            ("GET", &json, b"", false),
            ("PUT", &json, br#"{"name":"x"}"#, false),
            ("POST", &[], b"", false),
            ("POST", &json, br#"{"user":"a","password":"b"}"#, true),
            ("post", &bearer, b"", true),
        ];
        for (method, headers, body, kept) in cases {
            let case = format!("{method} {headers:?} {body:?}");
            for analysed in [
                Analyser::new(MaskKey::default()).analyse(observation(method, headers, body)),
                analyse(observation(method, headers, body), &MaskKey::default()),
            ] {
                let o = &analysed.observation;
                let response = o.response.as_ref().unwrap();
                assert_eq!(!response.body.is_empty(), kept, "{case}");
                assert_eq!(o.request_body.len(), if kept { body.len() } else { 0 }, "{case}");
                assert_eq!((o.request_body_len, response.body_len), (body.len() as u64, 38), "{case}: lengths stay");
                // What the analysis found in the body before it was freed.
                let classes: Vec<_> = analysed.facts.findings().iter().map(|f| f.class).collect();
                assert!(classes.contains(&apisonar_engine::sensitive::Class::Email), "{case}: {classes:?}");
            }
        }
    }
}
