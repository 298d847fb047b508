//! HTTP over reassembled streams: sniffing, HTTP/1 framing and pairing, HTTP/2 frames and
//! streams, bodies.

mod body;
mod conn;
pub(crate) mod h2;
pub(crate) mod hpack;
mod parser;
mod txn;
mod ws;

pub use apisonar_wire::http::{HttpVersion, MessageHead};
pub use body::Body;
pub(crate) use conn::HttpConn;
pub use txn::{AppProtocol, HttpRequest, HttpResponse, HttpTransaction};
pub use ws::{MessageKind, StreamMessage};
