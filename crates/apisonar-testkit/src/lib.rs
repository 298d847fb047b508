//! apisonar-testkit: development-only helpers to build traffic for tests and benchmarks.
//!
//! Owns: a classic pcap writer, TCP conversation builders that produce real Ethernet/IP/TCP
//! frames (via etherparse), 802.11 monitor-mode framing (radiotap, PPI), TLS handshake bytes and
//! small certificates, the generators of the synthetic captures in `captures/synthetic`, and the
//! hostile captures of the adversarial suite (made at test time: some are large), and the
//! resident memory of the running test or benchmark.
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

/// Resident memory of this process in KiB (`VmRSS`, Linux); `None` where it cannot be read.
pub fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
