//! apisonar-flow: from decoded packets to HTTP transactions.
//!
//! Owns: IP defragmentation, the flow table, TCP reassembly per direction, protocol sniffing per
//! connection, HTTP/1 framing and request/response pairing, body sampling and decoding. Every
//! memory-holding structure is bounded by one [`Limits`] value; at a limit something is evicted or
//! truncated, an [`Anomaly`] is counted, and processing goes on.
//!
//! Must not know: pcap, files, tokio, sled, axum, or the wall clock. Time is the packet
//! timestamp handed in with each frame, so replaying a capture twice gives identical output.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    clippy::arithmetic_side_effects
)]

mod anomaly;
mod defrag;
mod engine;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
mod limits;
mod reassembly;
mod shard;
mod stats;
mod table;
mod time;
mod tls;

pub use anomaly::Anomaly;
pub use engine::{ConnectionSummary, EndReason, EventSink, FlowEngine, TlsHandshake};
pub use http::{AppProtocol, Body, HttpRequest, HttpResponse, HttpTransaction, MessageKind, StreamMessage};
pub use limits::Limits;
pub use shard::{connection_engine, engine_for, HeldFrame, Route, Router};
pub use stats::Stats;
pub use time::Timestamp;
pub use tls::TlsSession;
