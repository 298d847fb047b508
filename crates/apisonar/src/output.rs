//! JSON records written by `analyze`: one per transaction, one per connection.

use apisonar_flow::{ConnectionSummary, HttpTransaction, Timestamp};
use serde::Serialize;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn opt_text(bytes: Option<&[u8]>) -> Option<String> {
    bytes.map(text)
}

/// RFC 3339, UTC, microseconds.
pub fn rfc3339(ts: Timestamp) -> String {
    rfc3339_micros(ts.micros())
}

/// RFC 3339, UTC, microseconds, from microseconds since the epoch.
pub fn rfc3339_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_else(|| format!("@{micros}us"))
}

#[derive(Serialize)]
pub struct FlowRecord {
    pub src_ip: String,
    pub src_port: u16,
    pub dst_ip: String,
    pub dst_port: u16,
}

#[derive(Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub uri: String,
    pub version: &'static str,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub body_len: u64,
    pub complete: bool,
}

#[derive(Serialize)]
pub struct ResponseRecord {
    pub ts: String,
    pub status: Option<u16>,
    pub reason: String,
    pub version: &'static str,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub transfer_encoding: Option<String>,
    pub body_len: u64,
    /// Length of the decoded body sample, when the body was content-encoded.
    pub decoded_len: Option<usize>,
    pub interim: Vec<u16>,
    pub complete: bool,
}

#[derive(Serialize)]
pub struct TransactionRecord {
    pub ts: String,
    pub connection: u64,
    pub index: u32,
    pub flow: FlowRecord,
    pub request: RequestRecord,
    pub response: Option<ResponseRecord>,
    /// From the first request byte to the last response byte, in microseconds.
    pub duration_us: Option<i64>,
    pub anomalies: Vec<&'static str>,
}

impl TransactionRecord {
    pub fn new(t: &HttpTransaction) -> TransactionRecord {
        let req = &t.request;
        let response = t.response.as_ref().map(|r| ResponseRecord {
            ts: rfc3339(r.ts),
            status: r.head.status(),
            reason: text(r.head.reason()),
            version: r.head.version().as_str(),
            content_type: opt_text(r.head.header("content-type")),
            content_encoding: opt_text(r.head.header("content-encoding")),
            transfer_encoding: opt_text(r.head.header("transfer-encoding")),
            body_len: r.body.wire_len,
            decoded_len: r.body.decoded.as_ref().map(Vec::len),
            interim: r.interim.clone(),
            complete: r.complete,
        });
        TransactionRecord {
            ts: rfc3339(req.ts),
            connection: t.connection_id,
            index: t.index_in_connection,
            flow: FlowRecord {
                src_ip: t.client.ip().to_string(),
                src_port: t.client.port(),
                dst_ip: t.server.ip().to_string(),
                dst_port: t.server.port(),
            },
            request: RequestRecord {
                method: text(req.head.method()),
                uri: text(req.head.target()),
                version: req.head.version().as_str(),
                host: opt_text(t.host()),
                user_agent: opt_text(req.head.header("user-agent")),
                content_type: opt_text(req.head.header("content-type")),
                content_encoding: opt_text(req.head.header("content-encoding")),
                body_len: req.body.wire_len,
                complete: req.complete,
            },
            duration_us: t.response.as_ref().map(|r| r.end_ts.micros() - req.ts.micros()),
            response,
            anomalies: t.anomalies.iter().map(|a| a.as_str()).collect(),
        }
    }
}

#[derive(Serialize)]
pub struct ConnectionRecord {
    pub connection: u64,
    pub start: String,
    pub end: String,
    pub flow: FlowRecord,
    pub protocol: &'static str,
    pub packets: u64,
    pub client_bytes: u64,
    pub server_bytes: u64,
    pub end_reason: &'static str,
}

impl ConnectionRecord {
    pub fn new(c: &ConnectionSummary) -> ConnectionRecord {
        ConnectionRecord {
            connection: c.connection_id,
            start: rfc3339(c.start),
            end: rfc3339(c.end),
            flow: FlowRecord {
                src_ip: c.client.ip().to_string(),
                src_port: c.client.port(),
                dst_ip: c.server.ip().to_string(),
                dst_port: c.server.port(),
            },
            protocol: c.protocol.as_str(),
            packets: c.packets,
            client_bytes: c.client_bytes,
            server_bytes: c.server_bytes,
            end_reason: c.end_reason.as_str(),
        }
    }
}
