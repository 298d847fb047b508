//! Frames from capture files (classic pcap read in large blocks by `savefile`, pcapng and the
//! rest by libpcap) and from live interfaces (libpcap), every link type apisonar-wire knows;
//! and the stop flag that SIGINT/SIGTERM raise.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, Context, Result};
use apisonar_flow::Timestamp;
use apisonar_wire::LinkType;

/// Set by SIGINT/SIGTERM: reading stops at the next frame and the run ends as if the input had
/// ended, so queues drain, flows are finished and the store is flushed.
static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn stop_flag() -> &'static Arc<AtomicBool> {
    STOP.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Makes SIGINT and SIGTERM stop reading cleanly; a second one exits at once (status 130).
pub fn stop_on_signals() -> Result<()> {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first so it sees the flag as it was before this delivery.
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop_flag().clone())
            .context("cannot install signal handler")?;
        signal_hook::flag::register(signal, stop_flag().clone()).context("cannot install signal handler")?;
    }
    Ok(())
}

/// Whether a signal asked the run to stop.
pub fn stopped() -> bool {
    stop_flag().load(Ordering::Relaxed)
}

/// One frame read from a file.
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub data: &'a [u8],
    pub wire_len: u32,
}

/// Where reading a file stopped early.
#[derive(Debug)]
pub struct ReadError {
    pub packets_read: u64,
    pub message: String,
}

/// Reads every frame of `path`, calling `each` for it. Returns the packet count, or the error
/// that stopped reading after the frames already handed over (which stay processed). Classic
/// pcap files are read in large blocks (`savefile`), the rest by libpcap.
pub fn read_file(path: &Path, each: impl FnMut(LinkType, Frame<'_>)) -> Result<std::result::Result<u64, ReadError>> {
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_dir() {
            return Err(anyhow!("is a directory"));
        }
    }
    match crate::savefile::ClassicPcap::open(path) {
        Some(file) => Ok(file.read(each)),
        None => read_with_libpcap(path, each),
    }
}

/// [`read_file`] by libpcap, whatever the file.
pub fn read_with_libpcap(
    path: &Path,
    mut each: impl FnMut(LinkType, Frame<'_>),
) -> Result<std::result::Result<u64, ReadError>> {
    let mut cap = pcap::Capture::from_file(path).map_err(pcap_error).context("cannot open capture")?;
    let dlt = cap.get_datalink().0;
    let link = LinkType::from_dlt(dlt).ok_or_else(|| anyhow!("unsupported link type {dlt} ({})", link_name(dlt)))?;
    let mut packets = 0u64;
    loop {
        // Checked every 64 frames: cheap, and still within microseconds of the signal.
        if packets.is_multiple_of(64) && stopped() {
            return Ok(Ok(packets));
        }
        match cap.next_packet() {
            Ok(packet) => {
                packets += 1;
                let ts = Timestamp::from_secs_micros(packet.header.ts.tv_sec, packet.header.ts.tv_usec);
                each(link, Frame { ts, data: packet.data, wire_len: packet.header.len });
            }
            Err(pcap::Error::NoMorePackets) => return Ok(Ok(packets)),
            Err(e) => return Ok(Err(ReadError { packets_read: packets, message: describe(&e) })),
        }
    }
}

/// An interface opened for live capture.
pub struct LiveSource {
    pub name: String,
    pub link: LinkType,
    pub capture: pcap::Capture<pcap::Active>,
}

/// Opens `name` for capture with these settings and applies the filter. Needs CAP_NET_RAW (and
/// CAP_NET_ADMIN for promiscuous mode on some kernels); call before dropping privileges.
pub fn open_live(name: &str, settings: &crate::config::CaptureSettings) -> Result<LiveSource> {
    let buffer_bytes = i32::try_from(u64::from(settings.buffer_mib) * 1024 * 1024).unwrap_or(i32::MAX);
    let inactive = pcap::Capture::from_device(name)
        .map_err(pcap_error)
        .with_context(|| format!("cannot open interface {name}"))?;
    let mut capture = inactive
        .promisc(settings.promisc)
        .snaplen(settings.snaplen)
        .buffer_size(buffer_bytes)
        .immediate_mode(settings.immediate)
        .timeout(i32::try_from(settings.timeout_ms.max(1)).unwrap_or(i32::MAX))
        .open()
        .and_then(|c| c.setnonblock())
        .map_err(pcap_error)
        .with_context(|| format!("cannot open interface {name}"))?;
    if let Some(filter) = &settings.filter {
        capture
            .filter(filter, true)
            .map_err(pcap_error)
            .with_context(|| format!("interface {name}: bad capture filter {filter:?}"))?;
    }
    let dlt = capture.get_datalink().0;
    let link = LinkType::from_dlt(dlt)
        .ok_or_else(|| anyhow!("interface {name}: unsupported link type {dlt} ({})", link_name(dlt)))?;
    Ok(LiveSource { name: name.to_string(), link, capture })
}

impl LiveSource {
    /// Waits up to `timeout_ms` for frames to read. The capture is non-blocking, because a
    /// blocking read on Linux may never return on a quiet link (and a stop would then hang).
    pub fn wait(&self, timeout_ms: u16) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(std::os::fd::AsFd::as_fd(&self.capture), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(timeout_ms));
    }
}

fn pcap_error(e: pcap::Error) -> anyhow::Error {
    anyhow!("{}", describe(&e))
}

pub fn describe(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(msg) => msg.clone(),
        other => other.to_string(),
    }
}

fn link_name(dlt: i32) -> String {
    pcap::Linktype(dlt).get_name().unwrap_or_else(|_| "unknown".into())
}
