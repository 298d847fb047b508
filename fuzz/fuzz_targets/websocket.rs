//! Fuzz target: a WebSocket connection after its 101 (with or without permessage-deflate):
//! frames, masks, fragments, lying lengths, deflated payloads, gaps.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| apisonar_flow::fuzzing::websocket_conversation(data));
