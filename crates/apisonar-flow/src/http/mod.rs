//! HTTP/1 over reassembled streams: sniffing, framing, pairing, bodies.

mod body;
mod conn;
mod parser;
mod txn;

pub use apisonar_wire::http::{HttpVersion, MessageHead};
pub use body::Body;
pub(crate) use conn::HttpConn;
pub use txn::{AppProtocol, HttpRequest, HttpResponse, HttpTransaction};
