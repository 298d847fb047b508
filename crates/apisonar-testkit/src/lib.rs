//! apisonar-testkit: development-only helpers to build traffic for tests and benchmarks.
//!
//! Owns: a classic pcap writer, TCP conversation builders that produce real Ethernet/IP/TCP
//! frames (via etherparse), 802.11 monitor-mode framing (radiotap, PPI), TLS handshake bytes and
//! small certificates, the generators of the synthetic captures in `captures/synthetic`, and the
//! hostile captures of the adversarial suite (made at test time: some are large).
//!
//! Must not know: anything of apisonar's own crates; it is never a normal dependency, only a
//! dev-dependency or a tool, so that tests check apisonar against bytes it did not produce.

pub mod conv;
pub mod h2;
pub mod hostile;
pub mod pcap;
pub mod synthetic;
pub mod tls;
pub mod wifi;
pub mod workload;

pub use conv::{Conversation, Side};
pub use pcap::PcapWriter;
