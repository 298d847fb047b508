//! Shared helpers for the flow crate's integration tests: run frames through a `FlowEngine`
//! and render transactions as one stable line each.

use apisonar_flow::{EventSink, FlowEngine, HttpTransaction, Limits, Timestamp};
use apisonar_testkit::conv::Frame;
use apisonar_wire::LinkType;

#[derive(Default)]
pub struct Collect(pub Vec<HttpTransaction>);

impl EventSink for Collect {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.0.push(txn);
    }
}

pub fn run(frames: &[Frame], limits: Limits) -> Vec<HttpTransaction> {
    let mut engine = FlowEngine::new(limits);
    let mut out = Collect::default();
    for f in frames {
        engine.frame(LinkType::Ethernet, Timestamp(f.ts), &f.bytes, f.bytes.len() as u32, &mut out);
    }
    engine.finish(&mut out);
    out.0
}

/// `METHOD URI -> STATUS [interim] (req N, resp M) anomalies`.
pub fn render(t: &HttpTransaction) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut line = format!("{} {}", text(t.request.head.method()), text(t.request.head.target()));
    match &t.response {
        Some(r) => {
            let status = r.head.status().map_or("0.9".to_string(), |s| s.to_string());
            line.push_str(&format!(" -> {status}"));
            if !r.interim.is_empty() {
                line.push_str(&format!(" interim {:?}", r.interim));
            }
            line.push_str(&format!(" (req {}, resp {}", t.request.body.wire_len, r.body.wire_len));
            if let Some(d) = &r.body.decoded {
                line.push_str(&format!(", decoded {:?}", String::from_utf8_lossy(d)));
            }
            line.push(')');
        }
        None => line.push_str(&format!(" -> none (req {})", t.request.body.wire_len)),
    }
    if !t.anomalies.is_empty() {
        let names: Vec<&str> = t.anomalies.iter().map(|a| a.as_str()).collect();
        line.push_str(&format!(" [{}]", names.join(", ")));
    }
    line
}
