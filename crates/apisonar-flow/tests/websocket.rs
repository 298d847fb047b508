//! WebSocket after a 101, against tshark and Python zlib on a capture of the `websockets`
//! library (captures/expect/websocket-deflate.pcap.ws.tsv): permessage-deflate with and without
//! context takeover, a plain connection, fragmentation, masking, control frames.

use apisonar_flow::{EventSink, FlowEngine, HttpTransaction, Limits, MessageKind, StreamMessage, Timestamp};
use apisonar_wire::LinkType;

#[derive(Default)]
struct Collect {
    transactions: Vec<HttpTransaction>,
    messages: Vec<StreamMessage>,
}

impl EventSink for Collect {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.transactions.push(txn);
    }
    fn on_message(&mut self, message: StreamMessage) {
        self.messages.push(message);
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

#[test]
fn messages_of_a_real_websocket_capture_match_tshark_and_zlib() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bytes = std::fs::read(root.join("captures/websocket-deflate.pcap")).unwrap();
    let (_, frames) = apisonar_testkit::pcap::read_pcap(&bytes).unwrap();
    let limits = Limits::default();
    let mut engine = FlowEngine::new(limits.clone());
    let mut out = Collect::default();
    for (ts, f) in &frames {
        engine.frame(LinkType::Ethernet, Timestamp(*ts), f, f.len() as u32, &mut out);
    }
    engine.finish(&mut out);

    // Expected messages: frames grouped into messages per connection and direction.
    let text = std::fs::read_to_string(root.join("captures/expect/websocket-deflate.pcap.ws.tsv")).unwrap();
    let mut expected: Vec<(String, bool, String, u64, Option<String>)> = Vec::new();
    let mut open: std::collections::HashMap<(String, bool), usize> = Default::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let c: Vec<&str> = line.split('\t').collect();
        let (conn, from_client, opcode, fin, len) =
            (c[0].to_string(), c[1] == "client", c[2], c[3] == "1", c[4].parse::<u64>().unwrap());
        let text = (c[5] != "-").then(|| unescape(c[5]));
        let at = if opcode == "continuation" {
            open[&(conn.clone(), from_client)]
        } else {
            expected.push((conn.clone(), from_client, opcode.to_string(), 0, None));
            expected.len() - 1
        };
        expected[at].3 += len;
        if fin {
            expected[at].4 = text;
            open.remove(&(conn, from_client));
        } else {
            open.insert((conn, from_client), at);
        }
    }
    // Connections by first appearance.
    let mut ids: Vec<u64> = out.messages.iter().map(|m| m.connection_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let ours: Vec<(String, bool, String, u64, Option<String>)> = out
        .messages
        .iter()
        .map(|m| {
            let conn = ids.iter().position(|&i| i == m.connection_id).unwrap().to_string();
            let text = (m.kind == MessageKind::Text).then(|| String::from_utf8_lossy(&m.payload).into_owned());
            (conn, m.from_client, m.kind.as_str().to_string(), m.wire_len, text)
        })
        .collect();
    let sorted = |mut v: Vec<(String, bool, String, u64, Option<String>)>| {
        // Messages of one direction keep their order; directions interleave by capture time.
        v.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
        v
    };
    let (ours, expected) = (sorted(ours), sorted(expected));
    assert_eq!(ours.len(), expected.len(), "{ours:#?}");
    for (o, e) in ours.iter().zip(&expected) {
        assert_eq!((&o.0, o.1, &o.2, o.3), (&e.0, e.1, &e.2, e.3), "{o:?} vs {e:?}");
        match (&o.4, &e.4) {
            // The 70 KB message is kept up to the sample limit.
            (Some(a), Some(b)) if b.len() > limits.body_sample_bytes => {
                assert!(b.starts_with(a.as_str()) && a.len() == limits.body_sample_bytes, "{}", a.len());
            }
            (a, b) if e.2 == "text" => assert_eq!(a, b),
            _ => {}
        }
    }
    // Every message points at its upgrade request, which came with its 101.
    for m in &out.messages {
        let parent = out
            .transactions
            .iter()
            .find(|t| t.connection_id == m.connection_id && t.index_in_connection == m.parent_index)
            .unwrap();
        assert_eq!(parent.response.as_ref().and_then(|r| r.head.status()), Some(101));
    }
    assert!(out.messages.iter().filter(|m| m.compressed).count() >= 10);
    assert!(out.messages.iter().any(|m| m.kind == MessageKind::Close(Some(1000))));
    assert!(
        out.messages.iter().all(|m| m.anomalies.is_empty()),
        "{:?}",
        out.messages.iter().map(|m| &m.anomalies).collect::<Vec<_>>()
    );
}
