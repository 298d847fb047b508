//! apisonar-wire: stateless decoding of untrusted bytes.
//!
//! Owns: link layers (Ethernet with any depth of 802.1Q/802.1ad tags, Linux SLL and SLL2, raw IP,
//! BSD null/loopback, NFLOG, PPPoE), mirror tunnels (VXLAN, Geneve, GRE, ERSPAN II/III, Teredo), IPv4/IPv6/TCP via etherparse, HTTP/1 message heads via
//! httparse, and content sniffing (HTTP/1, TLS records, the HTTP/2 preface).
//!
//! Must not know: state, I/O, clocks, logging, or any other apisonar crate. Every function here is
//! a pure function of its input bytes; malformed input yields a value describing what was wrong
//! (see [`WireAnomaly`]), never a panic.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod anomaly;
pub mod http;
mod link;
mod packet;
pub mod sniff;
pub mod tls;
mod tunnel;

pub use anomaly::WireAnomaly;
pub use link::LinkType;
pub use packet::{address_pair, decode_frame, decode_ip_payload, Decoded, FragKey, IpFragment, TcpFlags, TcpSegment};
