//! Fuzz target: arbitrary frames of every link type through the whole flow engine.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| apisonar_flow::fuzzing::frames(data));
