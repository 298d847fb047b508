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
            taken_fields_read_as_text_fields(h);
        }
        if let Ok(h) = apisonar_wire::http::parse_response_head(head, 64) {
            let _ = (h.status(), h.reason(), h.header("content-length"));
            taken_fields_read_as_text_fields(h);
        }
    }
});

/// A head's text and field spans, taken into the engine's header fields, read as the head's
/// text fields with names lower-cased; a head that is not UTF-8 gives nothing and keeps its bytes.
fn taken_fields_read_as_text_fields(mut head: apisonar_wire::http::MessageHead) {
    let expected: Option<Vec<(String, String)>> =
        head.text_headers().map(|fields| fields.map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect());
    let raw = head.raw().to_vec();
    match head.take_text_fields() {
        Some((text, spans)) => {
            let taken = apisonar_engine::Headers::from_head(text, spans);
            let got: Vec<(String, String)> = taken.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            assert_eq!(Some(got), expected);
        }
        None => {
            assert!(expected.is_none());
            assert_eq!(head.raw(), &raw[..]);
        }
    }
}
