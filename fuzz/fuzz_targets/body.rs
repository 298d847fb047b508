//! Fuzz target: body framing (Content-Length, chunked, close) and decoding (gzip, deflate, br)
//! in apisonar-flow, with the sample and decoded-size limits.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| apisonar_flow::fuzzing::body(data));
