//! Fuzz target: the TLS handshake parsers and fingerprints of apisonar-wire, and the flow layer's
//! per-direction TLS record and handshake reassembly, on the same input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    apisonar_wire::fuzzing::tls(data);
    apisonar_flow::fuzzing::tls_session(data);
});
