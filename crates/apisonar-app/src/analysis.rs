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
pub fn analyse(observation: Observation, key: &MaskKey) -> AnalysedTransaction {
    let facts = TransactionFacts::new(&observation, key);
    let attempts = injection_attempts(&observation);
    AnalysedTransaction { observation, facts, attempts, upgrade: None }
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

    pub fn analyse(&mut self, observation: Observation) -> AnalysedTransaction {
        let (facts, request_json) =
            TransactionFacts::sampled_with_request_json(&observation, &self.key, &mut self.sampler);
        let attempts = self.injections.attempts_in(&observation, request_json.as_ref());
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
