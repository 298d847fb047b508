//! apisonar-engine: pure API discovery.
//!
//! Owns: path templating, the endpoint catalog, parameter and schema inference, auth
//! classification. Its input is its own [`Observation`] type; its output is catalog state that
//! the caller persists.
//!
//! Must not know: packets, pcap, the flow layer, tokio, sled, axum, any I/O, or the wall clock
//! (time comes in with each observation).

// Every input is attacker-controlled: no operation that can panic may be reachable from one.
// Test modules opt out of what they need.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod segment;
pub mod template;
pub mod tlsposture;

pub mod alert;
pub mod auth;
pub mod behavior;
pub mod catalog;
pub mod findings;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod grpc;
pub mod guidance;
pub mod injection;
pub mod json;
mod memo;
pub mod observation;
pub mod openapi;
pub mod operations;
pub mod params;
pub mod postman;
pub mod posture;
pub mod risk;
pub mod schema;
pub mod sensitive;
pub mod signatures;
pub mod spec;
pub mod stats;
pub mod suppression;
#[cfg(test)]
mod test_values;

pub use alert::{Alert, AlertChange, AlertMerge, AlertState, Severity};
pub use catalog::{
    Catalog, Changes, Endpoint, EndpointKey, EndpointMove, InventoryLimits, KeptApart, Overflow, OverflowReason,
    Recorded,
};
pub use observation::{Headers, MessageObservation, Observation, ObservedResponse, Protocol};
pub use posture::{Classification, Drift, State};
pub use spec::{Spec, SpecError, SpecOperation};
pub use template::{TemplateConfig, Templater};
