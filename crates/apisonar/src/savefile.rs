//! Classic pcap files read in large blocks, frame for frame as libpcap reads them.
//!
//! libpcap reads a capture file through stdio, whose buffer is the file's block size (4 KB
//! here): the kernel's read path for every 4 KB was half of the file reader's time, and each
//! frame was copied twice before the pipeline copied it again. The files `apisonar_wire`'s
//! `Savefile` takes (pcap 2.4, either byte order, micro- or nanosecond stamps, link types whose
//! headers libpcap hands over untouched) are read here, a buffer's room at a time, and frames
//! are handed out of the buffer. Everything else (pcapng, older versions, the modified format,
//! other link types) goes to libpcap, which stays the reference: the tests compare both, frame
//! for frame and error for error, on every recorded capture and on damaged copies of them.
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
use apisonar_wire::savefile::{Record, Savefile, MAX_CAPLEN, RECORD_HEADER};
use apisonar_wire::LinkType;

use crate::capture::{stopped, Frame, ReadError};

/// The buffer, read into as far as it has room: it holds the largest record, and what a read
/// brings in is still in the core's cache when the frames are copied out of it.
const BLOCK: usize = 384 << 10;
const _: () = assert!(BLOCK >= RECORD_HEADER + MAX_CAPLEN as usize);

/// An open classic pcap file.
pub struct ClassicPcap {
    blocks: Blocks,
    format: Savefile,
}

impl ClassicPcap {
    /// The file at `path` if it is one this reader takes; `None` for anything else, which is
    /// libpcap's to read or to refuse (with its own words). Only regular files are looked at:
    /// the header read from a pipe could not be given back to libpcap.
    pub fn open(path: &Path) -> Option<ClassicPcap> {
        // Asked before opening: opening a pipe would take its writer from libpcap.
        if !std::fs::metadata(path).ok()?.is_file() {
            return None;
        }
        let mut file = File::open(path).ok()?;
        let mut header = [0u8; Savefile::HEADER];
        file.read_exact(&mut header).ok()?;
        let format = Savefile::of(&header)?;
        Some(ClassicPcap { blocks: Blocks::new(file), format })
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
        let link = self.format.link();
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
        let mut want = RECORD_HEADER;
        loop {
            // The buffer holds any record, so fewer bytes than wanted means the file ended.
            let have = self.blocks.fill(want).map_err(|e| format!("error reading dump file: {e}"))?;
            let record = self.format.record(self.blocks.available(), have < want);
            match record {
                Record::Needs(more) if more > want => want = more,
                Record::Needs(_) => return Err("pcap record needs more bytes than its file has".into()),
                Record::End => return Ok(None),
                Record::Damaged(message) => return Err(message),
                Record::Frame { secs, micros, data, wire_len, len } => {
                    let kept = data.len();
                    let record = self.blocks.take(len);
                    // The frame's bytes follow the record header (cut to the snapshot length).
                    let data = record.get(RECORD_HEADER..RECORD_HEADER.saturating_add(kept)).unwrap_or_default();
                    return Ok(Some(Frame { ts: Timestamp::from_secs_micros(secs, micros), data, wire_len }));
                }
            }
        }
    }
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

    /// Takes the `len` bytes available at the start.
    fn take(&mut self, len: usize) -> &[u8] {
        let at = self.start;
        self.start = self.start.saturating_add(len).min(self.end);
        self.buffer.get(at..self.start).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
