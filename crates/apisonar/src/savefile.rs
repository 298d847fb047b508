//! Classic pcap files read in large blocks, frame for frame as libpcap reads them.
//!
//! libpcap reads a capture file through stdio, whose buffer is the file's block size (4 KB
//! here): the kernel's read path for every 4 KB was half of the file reader's time, and each
//! frame was copied twice before the pipeline copied it again. This reader takes the common
//! files (pcap 2.4, either byte order, micro- or nanosecond stamps, link types whose headers
//! libpcap hands over untouched), reads a megabyte at a time and hands frames out of its
//! buffer. Everything else (pcapng, older versions, the modified format, other link types)
//! goes to libpcap, which stays the reference: the tests compare both, frame for frame and
//! error for error, on every recorded capture and on damaged copies of them.
#![deny(
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

use apisonar_flow::Timestamp;
use apisonar_wire::LinkType;

use crate::capture::{stopped, Frame, ReadError};

/// The buffer, read into as far as it has room: it holds the largest record, and what a read
/// brings in is still in the core's cache when the frames are copied out of it.
const BLOCK: usize = 384 << 10;
/// libpcap's largest capture length for the link types read here (`MAXIMUM_SNAPLEN`).
const MAX_CAPLEN: u32 = 262_144;
const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;

/// An open classic pcap file.
pub struct ClassicPcap {
    blocks: Blocks,
    big_endian: bool,
    nanoseconds: bool,
    /// The file's snapshot length as libpcap adjusts it (a bogus one becomes the maximum).
    snapshot: u32,
    link: LinkType,
}

impl ClassicPcap {
    /// The file at `path` if it is one this reader takes; `None` for anything else, which is
    /// libpcap's to read or to refuse (with its own words).
    pub fn open(path: &Path) -> Option<ClassicPcap> {
        let mut file = File::open(path).ok()?;
        let mut header = [0u8; FILE_HEADER];
        file.read_exact(&mut header).ok()?;
        let (big_endian, nanoseconds) = match u32_at(&header, 0, false)? {
            0xa1b2_c3d4 => (false, false),
            0xd4c3_b2a1 => (true, false),
            0xa1b2_3c4d => (false, true),
            0x4d3c_b2a1 => (true, true),
            // The modified format (0xa1b2cd34) has longer record headers; pcapng is another
            // format: libpcap's.
            _ => return None,
        };
        let u16_at = |at: usize| {
            let bytes = [*header.get(at)?, *header.get(at.checked_add(1)?)?];
            Some(if big_endian { u16::from_be_bytes(bytes) } else { u16::from_le_bytes(bytes) })
        };
        // Versions before 2.4 may have their lengths swapped (libpcap guesses).
        if (u16_at(4)?, u16_at(6)?) != (2, 4) {
            return None;
        }
        let snaplen = u32_at(&header, 16, big_endian)?;
        // The link type is the low 16 bits (the rest says whether frames end in an FCS).
        let linktype = u32_at(&header, 20, big_endian)? & 0xffff;
        let link = match linktype {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            101 => LinkType::Raw,
            108 => LinkType::Loop,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            // libpcap rewrites these headers' fields in files of the other byte order.
            113 if !big_endian => LinkType::LinuxSll,
            276 if !big_endian => LinkType::LinuxSll2,
            _ => return None,
        };
        // As libpcap: a snapshot length of zero or past `i32::MAX` means the maximum.
        let snapshot = if snaplen == 0 || snaplen > i32::MAX as u32 { MAX_CAPLEN } else { snaplen };
        Some(ClassicPcap { blocks: Blocks::new(file), big_endian, nanoseconds, snapshot, link })
    }

    /// The same file read `block` bytes at a time (records then straddle the buffer's refills
    /// at other places); `block` must hold the largest record.
    #[cfg(test)]
    fn with_block(mut self, block: usize) -> ClassicPcap {
        self.blocks.buffer = vec![0; block];
        self
    }

    /// Reads every frame, calling `each` for it: the packet count, or the error that stopped
    /// reading after the frames already handed over. Stops early, as at the end, on a signal.
    pub fn read(mut self, mut each: impl FnMut(LinkType, Frame<'_>)) -> Result<u64, ReadError> {
        let link = self.link;
        let mut packets = 0u64;
        loop {
            // Checked every 64 frames, as the libpcap reader does.
            if packets.is_multiple_of(64) && stopped() {
                return Ok(packets);
            }
            match self.next_frame() {
                Ok(Some(frame)) => {
                    packets = packets.saturating_add(1);
                    each(link, frame);
                }
                Ok(None) => return Ok(packets),
                Err(message) => return Err(ReadError { packets_read: packets, message }),
            }
        }
    }

    /// The next frame; `None` at the end of the file; an error in libpcap's words.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, String> {
        let have = self.blocks.fill(RECORD_HEADER).map_err(read_error)?;
        if have == 0 {
            return Ok(None);
        }
        if have < RECORD_HEADER {
            return Err(format!("truncated dump file; tried to read {RECORD_HEADER} header bytes, only got {have}"));
        }
        let header = self.blocks.available();
        let field = |at| u32_at(header, at, self.big_endian).unwrap_or_default();
        // Stamps as libpcap reads them: signed 32-bit fields in the host's byte order, unsigned
        // once it swaps them; nanoseconds scaled down by C's division (toward zero).
        let swapped = self.big_endian != cfg!(target_endian = "big");
        let stamp = |v: u32| if swapped { i64::from(v) } else { i64::from(v as i32) };
        let (secs, fraction) = (stamp(field(0)), stamp(field(4)));
        let micros = if self.nanoseconds { fraction.wrapping_div(1000) } else { fraction };
        let (caplen, wire_len) = (field(8), field(12));
        if caplen > MAX_CAPLEN {
            return Err(if caplen > self.snapshot {
                format!("invalid packet capture length {caplen}, bigger than snaplen of {}", self.snapshot)
            } else {
                format!("invalid packet capture length {caplen}, bigger than maximum of {MAX_CAPLEN}")
            });
        }
        // A frame longer than the snapshot length is cut to it, the rest skipped.
        let kept = caplen.min(self.snapshot);
        let record = RECORD_HEADER.saturating_add(caplen as usize);
        let data = self.blocks.fill(record).map_err(read_error)?.saturating_sub(RECORD_HEADER);
        if data < kept as usize {
            return Err(format!("truncated dump file; tried to read {kept} captured bytes, only got {data}"));
        }
        if data < caplen as usize {
            return Err(format!("truncated dump file; tried to read {caplen} captured bytes, only got {data}"));
        }
        let frame = self.blocks.take(record, kept as usize);
        Ok(Some(Frame { ts: Timestamp::from_secs_micros(secs, micros), data: frame, wire_len }))
    }
}

fn read_error(e: std::io::Error) -> String {
    format!("error reading dump file: {e}")
}

/// The 32-bit field at `at`, in the file's byte order.
fn u32_at(bytes: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian { u32::from_be_bytes(word) } else { u32::from_le_bytes(word) })
}

/// A file read a block at a time: the bytes not yet taken are `buffer[start..end]`.
struct Blocks {
    file: File,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

impl Blocks {
    fn new(file: File) -> Blocks {
        Blocks { file, buffer: vec![0; BLOCK], start: 0, end: 0 }
    }

    fn available(&self) -> &[u8] {
        self.buffer.get(self.start..self.end).unwrap_or_default()
    }

    /// Makes `want` bytes (at most the buffer's size) available, fewer only at the end of the
    /// file: how many are.
    fn fill(&mut self, want: usize) -> std::io::Result<usize> {
        let have = self.end.saturating_sub(self.start);
        if have >= want {
            return Ok(have);
        }
        // What is left moves to the front; the rest of the buffer is read into at once.
        self.buffer.copy_within(self.start..self.end, 0);
        (self.start, self.end) = (0, have);
        while self.end < want {
            let Some(room) = self.buffer.get_mut(self.end..) else { break };
            if room.is_empty() {
                break;
            }
            match self.file.read(room) {
                Ok(0) => break,
                Ok(n) => self.end = self.end.saturating_add(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end.saturating_sub(self.start))
    }

    /// Takes a record of `len` bytes (available): its `kept` bytes after the record header.
    fn take(&mut self, len: usize, kept: usize) -> &[u8] {
        let at = self.start;
        self.start = self.start.saturating_add(len).min(self.end);
        let from = at.saturating_add(RECORD_HEADER);
        self.buffer.get(from..from.saturating_add(kept)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
