//! Fuzz target: arbitrary requests, with and without credentials, through the dashboard's router
//! over an in-memory store.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| apisonar_web::fuzzing::requests(data));
