//! Fuzz target: arbitrary byte chunks, both directions and gaps, into one HTTP connection.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| apisonar_flow::fuzzing::http_conversation(data));
