//! The committed synthetic captures are exactly what the testkit generates, and each shows
//! the behaviour it was made for.

use apisonar_testkit::pcap::{PcapWriter, LINKTYPE_ETHERNET};
use apisonar_testkit::synthetic;
use apisonar_tests::{analyze, repo_root};

#[test]
fn committed_synthetic_captures_are_up_to_date() {
    for s in synthetic::all() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, s.snaplen).unwrap_or_else(|e| panic!("{e}"));
        for f in &s.frames {
            w.write(f.ts, &f.bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        let path = repo_root().join(format!("captures/synthetic/{}.pcap", s.name));
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == w.into_inner(),
            "{} is stale: run `cargo run -p apisonar-testkit --bin make-captures`",
            path.display()
        );
    }
}

fn anomaly(summary: &serde_json::Value, name: &str) -> u64 {
    summary["anomalies"][name].as_u64().unwrap_or(0)
}

fn uris(txns: &[serde_json::Value]) -> Vec<(String, Option<u64>)> {
    txns.iter()
        .map(|t| (t["request"]["uri"].as_str().unwrap_or_default().to_string(), t["response"]["status"].as_u64()))
        .collect()
}

#[test]
fn out_of_order_segments_are_reassembled() {
    let (txns, summary, _) = analyze(&["captures/synthetic/out-of-order.pcap"]);
    assert_eq!(uris(&txns), vec![("/api/v1/users/42".to_string(), Some(200))]);
    assert_eq!(txns[0]["response"]["body_len"], 3019);
    assert!(summary["tcp_out_of_order_segments"].as_u64().unwrap_or(0) > 0);
    assert_eq!(summary["anomalies"], serde_json::json!({}));
}

#[test]
fn conflicting_retransmission_and_overlap_keep_first_bytes_and_are_flagged() {
    for capture in
        ["captures/synthetic/retransmission-different-bytes.pcap", "captures/synthetic/overlapping-segments.pcap"]
    {
        let (txns, summary, _) = analyze(&[capture]);
        assert_eq!(anomaly(&summary, "tcp_overlap_conflict"), 1, "{capture}");
        assert_eq!(txns.len(), 1, "{capture}");
        assert_eq!(txns[0]["anomalies"], serde_json::json!(["tcp_overlap_conflict"]), "{capture}");
        let uri = txns[0]["request"]["uri"].as_str().unwrap_or_default();
        assert!(!uri.contains("admin") && !uri.contains('Z'), "{capture}: later bytes won: {uri}");
    }
}

#[test]
fn a_missing_segment_is_a_gap_and_parsing_resumes() {
    let (txns, summary, _) = analyze(&["captures/synthetic/missing-segment.pcap"]);
    assert_eq!(uris(&txns), vec![("/api/v1/reports/1".into(), Some(200)), ("/api/v1/reports/2".into(), Some(200))]);
    assert_eq!(summary["tcp_gap_bytes"], 1000);
    assert_eq!(txns[0]["anomalies"], serde_json::json!(["tcp_gap"]));
    assert_eq!(txns[1]["response"]["body_len"], 8);
}

#[test]
fn mid_stream_start_finds_the_next_request() {
    let (txns, _, _) = analyze(&["captures/synthetic/midstream-start.pcap"]);
    assert_eq!(uris(&txns), vec![("/api/v1/health".into(), Some(200)), ("/api/v1/version".into(), Some(200))]);
    assert_eq!(txns[0]["flow"]["dst_port"], 8080);
}

#[test]
fn oversized_head_is_refused_and_the_connection_recovers() {
    let (txns, summary, _) = analyze(&["captures/synthetic/huge-header-line.pcap"]);
    assert_eq!(anomaly(&summary, "head_too_large"), 1);
    assert_eq!(uris(&txns), vec![("/api/v1/small".into(), Some(200))]);
}

#[test]
fn decompression_bomb_stops_at_the_limit() {
    let (txns, summary, _) = analyze(&["captures/synthetic/decompression-bomb.pcap"]);
    assert_eq!(anomaly(&summary, "decompression_limit"), 1);
    assert_eq!(txns[0]["response"]["decoded_len"], 256 * 1024);
}

#[test]
fn garbage_is_not_http_and_a_later_request_is_found() {
    let (txns, summary, _) = analyze(&["captures/synthetic/garbage-on-port-80.pcap"]);
    assert_eq!(uris(&txns), vec![("/after/garbage".into(), Some(200))]);
    assert!(anomaly(&summary, "not_http") >= 1);
    assert_eq!(summary["connections"]["other"], 1);
}

#[test]
fn snaplen_cut_packets_are_counted_not_fatal() {
    let (txns, summary, code) = analyze(&["captures/synthetic/snaplen-truncated.pcap"]);
    assert_eq!(code, 0);
    assert!(anomaly(&summary, "snaplen_truncated") >= 1);
    assert_eq!(uris(&txns), vec![("/api/v1/users".into(), Some(200)), ("/api/v1/users/1".into(), Some(200))]);
}

#[test]
fn ip_fragments_are_reassembled() {
    let (txns, summary, _) = analyze(&["captures/synthetic/ip-fragments.pcap"]);
    assert_eq!(summary["ip_datagrams_reassembled"], 1);
    assert_eq!(uris(&txns), vec![("/api/v1/upload".into(), Some(201))]);
    assert_eq!(txns[0]["request"]["body_len"], 1200);
}

#[test]
fn mirror_tunnels_are_decapsulated() {
    let (plain, plain_summary, _) = analyze(&["captures/synthetic/out-of-order.pcap"]);
    let strip = |txns: &[serde_json::Value]| -> Vec<serde_json::Value> {
        txns.iter().map(|t| serde_json::json!([t["flow"], t["request"], t["response"], t["anomalies"]])).collect()
    };
    for tunnel in ["tunnel-vxlan", "tunnel-geneve", "tunnel-gre-erspan2", "tunnel-vlan-erspan3"] {
        let (txns, summary, _) = analyze(&[&format!("captures/synthetic/{tunnel}.pcap")]);
        assert_eq!(strip(&txns), strip(&plain), "{tunnel}: inner traffic analysed as if captured directly");
        assert_eq!(summary["tcp_segments"], plain_summary["tcp_segments"], "{tunnel}: every inner segment decoded");
    }
}
