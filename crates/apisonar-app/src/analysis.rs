//! The part of a transaction's analysis that needs no shared state, made where the transaction
//! is (a flow worker) so that the thread owning the core only merges.

use apisonar_engine::catalog::{ResponseSampler, TransactionFacts};
use apisonar_engine::findings::{injection_attempts, Attempts, InjectionSearch};
use apisonar_engine::sensitive::MaskKey;
use apisonar_engine::Observation;

/// One transaction as the engine sees it, with what could be learnt from it alone: parsed
/// bodies reduced to schemas, the response shape, sensitive findings (masked with the store's
/// key) and injection attempts.
#[derive(Debug)]
pub struct AnalysedTransaction {
    pub observation: Observation,
    pub(crate) facts: TransactionFacts,
    pub(crate) attempts: Attempts,
}

/// Analyses `observation`, masking with `key`.
pub fn analyse(observation: Observation, key: &MaskKey) -> AnalysedTransaction {
    let facts = TransactionFacts::new(&observation, key);
    let attempts = injection_attempts(&observation);
    AnalysedTransaction { observation, facts, attempts }
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
        AnalysedTransaction { observation, facts, attempts }
    }

    /// Response bodies analysed in full and reused so far.
    pub fn counts(&self) -> (u64, u64) {
        self.sampler.counts()
    }
}
