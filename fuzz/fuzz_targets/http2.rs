//! Fuzz target: a structured HTTP/2 connection (frames, HPACK blocks, lies, gaps) into one
//! connection, prior knowledge or after an h2c upgrade.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| apisonar_flow::fuzzing::http2_conversation(data));
