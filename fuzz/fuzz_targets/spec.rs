//! Fuzz target: `spec::parse` and `spec::yaml_documents` on arbitrary text (seeds: the real specs
//! in corpus/spec; dictionary: dicts/spec.dict).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| apisonar_engine::fuzzing::spec(data));
