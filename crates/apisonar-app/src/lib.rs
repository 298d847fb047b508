//! apisonar-app: the application core, the one writer of the store.
//!
//! Owns: applying analysed transactions and TLS handshakes to the catalog, the alert policy
//! (per-group client caps, aggregation, dedup), the inventory's caps and overflow counts, TLS
//! host records, specs and template pins (re-templating and posture at once, also in a running
//! sensor), retention, and persistence through one store-writer thread. The CLI commands, the
//! daemon and the dashboard all change the store through it: the dashboard and the command line
//! send `Command`s, which run on the thread that owns the core, in order with the traffic.
//!
//! Must not know: packets, pcap, the flow layer, sockets, HTTP, tokio or sled (the store is a
//! `Store`). Packet time comes with the data; the wall clock only paces writes and periodic jobs.

mod alert_policy;
mod analysis;
mod commands;
mod core;
mod held;
mod posture;
mod tls_hosts;
mod writer;

pub use analysis::{analyse, AnalysedMessage, AnalysedTransaction, Analyser};
pub use commands::{command_channel, Command, CommandQueue, Commands, Outcome, COMMAND_TIMEOUT};
pub use core::{spawn_serving, AlertStream, Core, CoreOptions, CoreStats, Leftover};
pub use posture::apply_specs;
pub use writer::STALL_AFTER;

/// What the core can fail with. Traffic never makes it fail; the store can.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] apisonar_store::StoreError),
    #[error("the store writer stopped: {0}")]
    Writer(String),
    #[error("{0}")]
    Refused(String),
    #[error("the application core is not running")]
    Gone,
    #[error("cannot make a random key: {0}")]
    Random(String),
}
