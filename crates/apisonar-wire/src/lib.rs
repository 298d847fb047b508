//! apisonar-wire: stateless decoding of untrusted bytes.
//!
//! Owns: link layers (Ethernet with any depth of 802.1Q/802.1ad tags, Linux SLL and SLL2, raw IP,
//! BSD null/loopback, NFLOG, PPPoE, 802.11 data frames alone or behind radiotap or PPI), mirror
//! tunnels (VXLAN, Geneve, GRE, ERSPAN II/III, Teredo), IPv4/IPv6/TCP via etherparse, HTTP/1
//! message heads via httparse, content sniffing (HTTP/1, TLS records, the HTTP/2 preface), and
//! classic pcap files' headers and records (as libpcap reads them).
//!
//! Must not know: state, I/O, clocks, logging, or any other apisonar crate. Every function here is
//! a pure function of its input bytes; malformed input yields a value describing what was wrong
//! (see [`WireAnomaly`]), never a panic.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    clippy::arithmetic_side_effects
)]

mod anomaly;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
mod link;
mod packet;
pub mod savefile;
pub mod sniff;
pub mod tls;
mod tunnel;
mod wifi;

pub use anomaly::WireAnomaly;
pub use link::LinkType;
pub use packet::{
    decode_frame, decode_ip_payload, route_key, Decoded, FragKey, IpFragment, RouteKey, TcpFlags, TcpSegment,
};
