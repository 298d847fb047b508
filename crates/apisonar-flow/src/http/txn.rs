//! What the flow layer emits: HTTP transactions and the protocol a connection carried.

use std::net::SocketAddr;

use apisonar_wire::http::MessageHead;

use crate::http::Body;
use crate::{Anomaly, Timestamp};

/// The application protocol a connection turned out to carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppProtocol {
    /// No payload was seen.
    Empty,
    Http1,
    /// HTTP/1 upgraded to WebSocket (101).
    WebSocket,
    /// HTTP/1 CONNECT tunnel or another 101 upgrade.
    Tunnel,
    Tls,
    Http2,
    /// Payload that is none of the above.
    Other,
}

impl AppProtocol {
    pub const ALL: [AppProtocol; 7] = [
        AppProtocol::Empty,
        AppProtocol::Http1,
        AppProtocol::WebSocket,
        AppProtocol::Tunnel,
        AppProtocol::Tls,
        AppProtocol::Http2,
        AppProtocol::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppProtocol::Empty => "empty",
            AppProtocol::Http1 => "http/1",
            AppProtocol::WebSocket => "websocket",
            AppProtocol::Tunnel => "tunnel",
            AppProtocol::Tls => "tls",
            AppProtocol::Http2 => "h2",
            AppProtocol::Other => "other",
        }
    }
}

/// A request as seen on the wire.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// Time of the packet that carried the first byte of the head.
    pub ts: Timestamp,
    /// Time of the packet that carried the last byte of the message.
    pub end_ts: Timestamp,
    pub head: MessageHead,
    pub body: Body,
    /// The message ended (complete body) rather than being cut by a gap or the connection end.
    pub complete: bool,
}

/// A final response, with the status codes of any interim (1xx) responses before it.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub ts: Timestamp,
    pub end_ts: Timestamp,
    pub head: MessageHead,
    pub body: Body,
    pub complete: bool,
    pub interim: Vec<u16>,
    /// Trailer fields (HTTP/2 trailers, as gRPC sends its status in), in order.
    pub trailers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One request and its response, if one was seen.
#[derive(Clone, Debug)]
pub struct HttpTransaction {
    /// Identifies the connection (unique within one run, in creation order).
    pub connection_id: u64,
    /// Position of this request on its connection, from 0.
    pub index_in_connection: u32,
    /// The HTTP/2 stream that carried the exchange; `None` for HTTP/1.
    pub stream_id: Option<u32>,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub request: HttpRequest,
    pub response: Option<HttpResponse>,
    /// Anomalies seen while this transaction's messages were parsed, sorted, without repeats.
    pub anomalies: Vec<Anomaly>,
}

impl HttpTransaction {
    /// The Host header, the HTTP/2 `:authority`, or the authority of an absolute-form target.
    pub fn host(&self) -> Option<&[u8]> {
        if let Some(h) = self.request.head.header("host").or_else(|| self.request.head.header(":authority")) {
            return Some(h);
        }
        let target = self.request.head.target();
        let rest = target.strip_prefix(b"http://").or_else(|| target.strip_prefix(b"https://"))?;
        let end = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
        rest.get(..end)
    }
}
