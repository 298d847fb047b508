//! Fuzz target: the head parsers and sniffers of apisonar-wire on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = apisonar_wire::sniff::sniff(data);
    let _ = apisonar_wire::sniff::find_request_start(data);
    let _ = apisonar_wire::sniff::find_response_start(data);
    if let Some(end) = apisonar_wire::http::find_head_end(data, 0) {
        let head = &data[..end];
        if let Ok(h) = apisonar_wire::http::parse_request_head(head, 64) {
            assert!(h.header_count() <= 64);
            let _ = (h.method(), h.target(), h.header("host"));
        }
        if let Ok(h) = apisonar_wire::http::parse_response_head(head, 64) {
            let _ = (h.status(), h.reason(), h.header("content-length"));
        }
    }
});
