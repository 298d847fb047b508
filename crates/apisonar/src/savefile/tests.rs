//! The block reader against libpcap: the same frames, stamps, lengths, link type, and the same
//! error after the same number of frames, on every recorded capture and on damaged copies.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use super::*;
use crate::capture::{read_file, read_with_libpcap};

/// What a reader made of a file.
#[derive(Debug, PartialEq)]
struct Reading {
    frames: Vec<(LinkType, i64, Vec<u8>, u32)>,
    end: Result<u64, (u64, String)>,
}

/// What a test keeps of a frame.
fn kept(link: LinkType, frame: Frame<'_>) -> (LinkType, i64, Vec<u8>, u32) {
    (link, frame.ts.micros(), frame.data.to_vec(), frame.wire_len)
}

fn reading(path: &Path, by_libpcap: bool) -> Reading {
    let mut frames = Vec::new();
    let mut each = |link, frame: Frame<'_>| frames.push(kept(link, frame));
    let result = if by_libpcap { read_with_libpcap(path, &mut each) } else { read_file(path, &mut each) };
    let end = match result {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err((e.packets_read, e.message)),
        Err(e) => Err((u64::MAX, format!("{e:#}"))),
    };
    Reading { frames, end }
}

/// Fails with the first difference (frames are long to print whole).
fn assert_same(by_blocks: &Reading, by_libpcap: &Reading, what: &str) {
    let pairs = by_blocks.frames.iter().zip(&by_libpcap.frames);
    if let Some((i, (a, b))) = pairs.enumerate().find(|(_, (a, b))| a != b) {
        panic!(
            "{what}: frame {i}: {:?} against libpcap's {:?}",
            (a.0, a.1, a.2.len(), a.3),
            (b.0, b.1, b.2.len(), b.3)
        );
    }
    assert_eq!(by_blocks.frames.len(), by_libpcap.frames.len(), "{what}: frames");
    assert_eq!(by_blocks.end, by_libpcap.end, "{what}: end");
}

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures")
}

fn pcap_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            pcap_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
            out.push(path);
        }
    }
}

/// A scratch file for one damaged copy.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apisonar-savefile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn recorded_captures_read_as_libpcap_reads_them() {
    let mut files = Vec::new();
    pcap_files(&captures(), &mut files);
    files.sort();
    let mut taken = 0;
    for path in &files {
        let by_blocks = reading(path, false);
        assert_same(&by_blocks, &reading(path, true), &path.display().to_string());
        if let Some(file) = ClassicPcap::open(path) {
            taken += 1;
            assert!(!by_blocks.frames.is_empty(), "{}", path.display());
            // Refilled every 70,001 bytes (more than any recorded frame), records straddle the
            // refills at every sort of place; the frames are the same.
            let mut frames = Vec::new();
            let end = file
                .with_block(70_001)
                .read(|link, frame| frames.push(kept(link, frame)))
                .map_err(|e| (e.packets_read, e.message));
            assert_same(&Reading { frames, end }, &by_blocks, &format!("{} in small blocks", path.display()));
        }
    }
    // Nearly every recorded capture is classic pcap (pcapng ones are libpcap's).
    assert!(files.len() > 40 && taken * 10 > files.len() * 8, "{taken} of {}", files.len());
}

/// A classic pcap file taken apart: its header and records, as written (little-endian).
struct Parts {
    header: Vec<u8>,
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

fn parts(bytes: &[u8]) -> Parts {
    assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "a little-endian microsecond file");
    let mut records = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        records.push((bytes[at..at + 16].to_vec(), bytes[at + 16..at + 16 + caplen].to_vec()));
        at += 16 + caplen;
    }
    Parts { header: bytes[..24].to_vec(), records }
}

impl Parts {
    /// The file, in either byte order (each header field swapped for big-endian).
    fn bytes(&self, big_endian: bool) -> Vec<u8> {
        let swap = |field: &[u8]| -> Vec<u8> {
            let mut f = field.to_vec();
            if big_endian {
                f.reverse();
            }
            f
        };
        let mut out = Vec::new();
        let h = &self.header;
        for (from, to) in [(0, 4), (4, 6), (6, 8), (8, 12), (12, 16), (16, 20), (20, 24)] {
            out.extend(swap(&h[from..to]));
        }
        for (header, data) in &self.records {
            for from in [0, 4, 8, 12] {
                out.extend(swap(&header[from..from + 4]));
            }
            out.extend(data);
        }
        out
    }

    fn set_header(&mut self, at: usize, value: u32) {
        self.header[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    fn set_record(&mut self, record: usize, at: usize, value: u32) {
        self.records[record].0[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }
}

#[test]
fn damaged_copies_fail_as_libpcap_fails_them() {
    let mut rng = apisonar_testkit::workload::Rng::seeded(0x5341_5645);
    let mut checked = 0;
    let mut errors = std::collections::BTreeSet::new();
    for name in ["pipelined.pcap", "vlan.pcap", "linux-sll.pcap", "ipv6.pcap"] {
        let original = std::fs::read(captures().join(name)).unwrap();
        let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
        let base = parts(&original);
        variants.push(("big-endian".into(), base.bytes(true)));
        // Nanosecond stamps (scaled down by both), some past 2^31 (signed fields).
        let mut nanos = parts(&original);
        nanos.header[..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        for (i, (header, _)) in nanos.records.iter_mut().enumerate() {
            let micros = u32::from_le_bytes(header[4..8].try_into().unwrap());
            let scaled = if i % 5 == 0 { 0x8000_0000 | micros } else { micros.wrapping_mul(1000) };
            header[4..8].copy_from_slice(&scaled.to_le_bytes());
            if i % 7 == 0 {
                header[..4].copy_from_slice(&0xf000_0000u32.to_le_bytes());
            }
        }
        variants.push(("nanoseconds".into(), nanos.bytes(false)));
        variants.push(("nanoseconds-big-endian".into(), nanos.bytes(true)));
        // Snapshot lengths: bogus ones mean the maximum; a short one cuts every longer frame.
        for snaplen in [0, 64, 200, 0x8000_0000, 300_000] {
            let mut cut = parts(&original);
            cut.set_header(16, snaplen);
            variants.push((format!("snaplen-{snaplen}"), cut.bytes(false)));
        }
        // A capture length past the maximum, with snapshot lengths above and below it.
        for (snaplen, caplen) in [(65_535, 262_145), (400_000, 300_000), (0, 262_145), (65_535, 262_144)] {
            let mut bad = parts(&original);
            bad.set_header(16, snaplen);
            let record = rng.below(bad.records.len() as u64) as usize;
            bad.set_record(record, 8, caplen);
            variants.push((format!("caplen-{caplen}-snaplen-{snaplen}"), bad.bytes(false)));
        }
        // Cut anywhere: in a record's header, its data, or the part of it a snapshot skips.
        let short = {
            let mut short = parts(&original);
            short.set_header(16, 100);
            short.bytes(false)
        };
        for copy in [original.clone(), short] {
            for _ in 0..12 {
                let at = 24 + rng.below(copy.len() as u64 - 24) as usize;
                variants.push((format!("cut-{at}"), copy[..at].to_vec()));
            }
            // Within the last record, byte by byte.
            let last = parts(&original).records.last().map(|(_, d)| d.len() + 16).unwrap();
            for back in (1..last).step_by(7) {
                variants.push((format!("cut-end-{back}"), copy[..copy.len() - back].to_vec()));
            }
        }
        // Bytes of the record headers changed at random.
        for round in 0..20 {
            let mut bytes = parts(&original);
            for _ in 0..3 {
                let record = rng.below(bytes.records.len() as u64) as usize;
                let at = rng.below(16) as usize;
                bytes.records[record].0[at] = rng.below(256) as u8;
            }
            variants.push((format!("flipped-{round}"), bytes.bytes(round % 2 == 1)));
        }
        for (variant, bytes) in variants {
            let path = scratch(&format!("{name}-{variant}"), &bytes);
            let by_blocks = reading(&path, false);
            assert_same(&by_blocks, &reading(&path, true), &format!("{name} {variant}"));
            if ClassicPcap::open(&path).is_some() {
                checked += 1;
                if let Err((_, message)) = &by_blocks.end {
                    // The message with its numbers left out.
                    let words: String = message.chars().filter(|c| !c.is_ascii_digit()).collect();
                    errors.insert(words);
                }
            }
            std::fs::remove_file(&path).unwrap();
        }
    }
    // The block reader took the damaged copies (the SLL one's big-endian copies are libpcap's)
    // and met each of libpcap's errors.
    assert!(checked > 300, "{checked}");
    for expected in [
        "truncated dump file; tried to read  header bytes, only got ",
        "truncated dump file; tried to read  captured bytes, only got ",
        "invalid packet capture length , bigger than maximum of ",
        "invalid packet capture length , bigger than snaplen of ",
    ] {
        assert!(errors.contains(expected), "{expected:?} not in {errors:?}");
    }
}

/// Whether the block reader takes a scratch file of these bytes (removed after).
fn taken(name: &str, bytes: &[u8]) -> bool {
    let path = scratch(name, bytes);
    let taken = ClassicPcap::open(&path).is_some();
    std::fs::remove_file(&path).unwrap();
    taken
}

#[test]
fn files_it_does_not_take_are_left_to_libpcap() {
    let original = std::fs::read(captures().join("linux-sll.pcap")).unwrap();
    let sll = parts(&original);
    // Linux cooked headers of the other byte order are rewritten by libpcap.
    assert!(!taken("sll-be.pcap", &sll.bytes(true)));
    assert!(taken("sll-le.pcap", &sll.bytes(false)));
    let mut other = parts(&original);
    other.set_header(4, 0x0003_0002);
    assert!(!taken("v2.3.pcap", &other.bytes(false)), "version 2.3");
    let mut modified = parts(&original);
    modified.header[..4].copy_from_slice(&0xa1b2_cd34u32.to_le_bytes());
    assert!(!taken("modified.pcap", &modified.bytes(false)));
    assert!(!taken("short.pcap", &original[..20]));
    assert!(ClassicPcap::open(&captures().join("nginx-keepalive.pcapng")).is_none(), "pcapng");
    assert!(ClassicPcap::open(Path::new("/nonexistent/x.pcap")).is_none());
    // And libpcap's words for them are what the reader reports.
    let missing = reading(Path::new("/nonexistent/x.pcap"), false);
    assert!(missing.end.as_ref().is_err_and(|(_, m)| m.contains("No such file")), "{missing:?}");
}

/// What `f` gives, failing (rather than hanging) if that takes more than a minute.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (sent, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || sent.send(f()));
    got.recv_timeout(std::time::Duration::from_secs(60)).expect("done within a minute")
}

#[test]
fn captures_through_a_pipe_are_libpcaps_whole() {
    // The reader looks only at regular files: a header it read from a pipe and did not take
    // would be lost to libpcap.
    for name in ["nginx-keepalive.pcapng", "pipelined.pcap"] {
        let fifo = std::env::temp_dir().join(format!("apisonar-savefile-fifo-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&fifo);
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR).unwrap();
        // Not even opened (which would wait for a writer).
        let path = fifo.clone();
        assert!(within(move || ClassicPcap::open(&path).is_none()), "{name}: a pipe is libpcap's");
        let writer = {
            let (fifo, source) = (fifo.clone(), captures().join(name));
            std::thread::spawn(move || std::fs::write(&fifo, std::fs::read(source).unwrap()).unwrap())
        };
        // A reader that took the pipe's writer from libpcap would leave libpcap waiting for
        // another.
        let path = fifo.clone();
        let through_pipe = within(move || reading(&path, false));
        writer.join().unwrap();
        assert_same(&through_pipe, &reading(&captures().join(name), true), name);
        assert!(!through_pipe.frames.is_empty());
        std::fs::remove_file(&fifo).unwrap();
    }
}
