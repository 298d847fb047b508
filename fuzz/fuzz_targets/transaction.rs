//! Fuzz target: observations decoded from the input through the whole per-transaction analysis
//! of apisonar-engine (catalog, findings, detectors, changes, OpenAPI, posture).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    apisonar_engine::fuzzing::transactions(data);
});
