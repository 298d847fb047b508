//! Classic pcap files (the 2.4 format), decoded as libpcap decodes them: a 24-byte file header,
//! then records of a 16-byte header and the captured bytes. The caller reads the file and hands
//! over the bytes it has from a record's start; this says what they hold, or how many it needs.
//!
//! Only the common files are taken (2.4, either byte order, micro- or nanosecond stamps, link
//! types whose headers libpcap hands over untouched); anything else is libpcap's to read or to
//! refuse. The binary's tests and the `savefile` fuzz target hold this to libpcap itself.

use crate::LinkType;

/// libpcap's largest capture length for the link types taken here (`MAXIMUM_SNAPLEN`).
pub const MAX_CAPLEN: u32 = 262_144;
/// Bytes of a record's header.
pub const RECORD_HEADER: usize = 16;

/// How a classic pcap file is written, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Savefile {
    big_endian: bool,
    nanoseconds: bool,
    /// The file's snapshot length as libpcap adjusts it (a bogus one becomes the maximum).
    snapshot: u32,
    link: LinkType,
}

/// What the bytes at a record's start hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// At least this many bytes from the record's start are needed to tell.
    Needs(usize),
    /// A frame: its stamp as libpcap gives it (seconds and microseconds, neither normalised),
    /// its captured bytes (cut to the snapshot length), its length on the wire, and the bytes
    /// its record takes in the file.
    Frame { secs: i64, micros: i64, data: &'a [u8], wire_len: u32, len: usize },
    /// The file ends here, cleanly.
    End,
    /// The file is damaged here: libpcap's words for it.
    Damaged(String),
}

impl Savefile {
    /// Bytes of the file header.
    pub const HEADER: usize = 24;

    /// How the file whose first bytes are `header` is written, if it is a file taken here.
    pub fn of(header: &[u8]) -> Option<Savefile> {
        let (big_endian, nanoseconds) = match u32_at(header, 0, false)? {
            0xa1b2_c3d4 => (false, false),
            0xd4c3_b2a1 => (true, false),
            0xa1b2_3c4d => (false, true),
            0x4d3c_b2a1 => (true, true),
            // The modified format (0xa1b2cd34) has longer record headers; pcapng is another
            // format.
            _ => return None,
        };
        let u16_at = |at: usize| {
            let bytes: [u8; 2] = header.get(at..at.checked_add(2)?)?.try_into().ok()?;
            Some(if big_endian { u16::from_be_bytes(bytes) } else { u16::from_le_bytes(bytes) })
        };
        // Versions before 2.4 may have their lengths swapped (libpcap guesses).
        if (u16_at(4)?, u16_at(6)?) != (2, 4) {
            return None;
        }
        let snaplen = u32_at(header, 16, big_endian)?;
        // The link type is the low 16 bits (the rest says whether frames end in an FCS).
        let link = match u32_at(header, 20, big_endian)? & 0xffff {
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
        let snapshot = if snaplen == 0 || snaplen > i32::MAX.unsigned_abs() { MAX_CAPLEN } else { snaplen };
        Some(Savefile { big_endian, nanoseconds, snapshot, link })
    }

    /// The frames' link type.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// What the record at the start of `bytes` is; `ended` says that the file has no bytes
    /// after them (else a record they cut short is [`Record::Needs`]).
    pub fn record<'a>(&self, bytes: &'a [u8], ended: bool) -> Record<'a> {
        let Some(header) = bytes.get(..RECORD_HEADER) else {
            return match (bytes.len(), ended) {
                (_, false) => Record::Needs(RECORD_HEADER),
                (0, true) => Record::End,
                (got, true) => Record::Damaged(format!(
                    "truncated dump file; tried to read {RECORD_HEADER} header bytes, only got {got}"
                )),
            };
        };
        let field = |at| u32_at(header, at, self.big_endian).unwrap_or_default();
        // Stamps as libpcap reads them: signed 32-bit fields in the host's byte order, unsigned
        // once it swaps them; nanoseconds scaled down by C's division (toward zero).
        let swapped = self.big_endian != cfg!(target_endian = "big");
        let stamp = |v: u32| if swapped { i64::from(v) } else { i64::from(v as i32) };
        let (secs, fraction) = (stamp(field(0)), stamp(field(4)));
        let micros = if self.nanoseconds { fraction.wrapping_div(1000) } else { fraction };
        let (caplen, wire_len) = (field(8), field(12));
        if caplen > MAX_CAPLEN {
            return Record::Damaged(if caplen > self.snapshot {
                format!("invalid packet capture length {caplen}, bigger than snaplen of {}", self.snapshot)
            } else {
                format!("invalid packet capture length {caplen}, bigger than maximum of {MAX_CAPLEN}")
            });
        }
        // A frame longer than the snapshot length is cut to it, the rest skipped.
        let kept = caplen.min(self.snapshot);
        let len = RECORD_HEADER.saturating_add(caplen as usize);
        let from = RECORD_HEADER;
        match bytes.get(..len) {
            Some(record) => Record::Frame {
                secs,
                micros,
                data: record.get(from..from.saturating_add(kept as usize)).unwrap_or_default(),
                wire_len,
                len,
            },
            None if !ended => Record::Needs(len),
            None => {
                // libpcap reads the kept bytes, then skips the rest: its words say which fell short.
                let got = bytes.len().saturating_sub(RECORD_HEADER);
                let wanted = if got < kept as usize { kept } else { caplen };
                Record::Damaged(format!("truncated dump file; tried to read {wanted} captured bytes, only got {got}"))
            }
        }
    }
}

/// The 32-bit field at `at`, in the file's byte order.
fn u32_at(bytes: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian { u32::from_be_bytes(word) } else { u32::from_le_bytes(word) })
}

#[cfg(any(test, feature = "fuzzing"))]
/// Every frame of a whole file held in memory, and how it ends (`Ok` with the frame count, or
/// the damage after the frames): the fuzz target's reading, and a model for readers in blocks.
pub fn read_all(file: &[u8]) -> Option<(Savefile, Vec<Record<'_>>)> {
    let format = Savefile::of(file.get(..Savefile::HEADER)?)?;
    let mut rest = file.get(Savefile::HEADER..).unwrap_or_default();
    let mut records = Vec::new();
    loop {
        let record = format.record(rest, true);
        match &record {
            Record::Frame { len, .. } => rest = rest.get(*len..).unwrap_or_default(),
            // With the whole file at hand nothing more is needed; a record says so only if
            // the decoder were wrong, which the fuzz target would catch as a difference.
            Record::Needs(_) | Record::End | Record::Damaged(_) => {
                records.push(record);
                return Some((format, records));
            }
        }
        records.push(record);
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    /// A little-endian file: its header, then records of (seconds, fraction, caplen, wire length, data).
    fn file(magic: u32, snaplen: u32, linktype: u32, records: &[(u32, u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [magic, 0x0004_0002, 0, 0, snaplen, linktype] {
            out.extend(v.to_le_bytes());
        }
        // The version is two 16-bit fields: 2, then 4.
        out.splice(4..8, [2, 0, 4, 0]);
        for (secs, fraction, caplen, len, data) in records {
            for v in [secs, fraction, caplen, len] {
                out.extend(v.to_le_bytes());
            }
            out.extend(*data);
        }
        out
    }

    #[test]
    fn records_are_told_as_libpcap_tells_them() {
        let f = file(0xa1b2_c3d4, 0, 1, &[(1, 2, 3, 60, b"abc"), (0xffff_ffff, 0x8000_0000, 2, 2, b"de")]);
        let (format, records) = read_all(&f).unwrap_or_else(|| unreachable!());
        assert_eq!(format.link(), LinkType::Ethernet);
        assert_eq!(records[0], Record::Frame { secs: 1, micros: 2, data: b"abc", wire_len: 60, len: 19 });
        // In the host's byte order the stamp's fields are signed.
        assert_eq!(records[1], Record::Frame { secs: -1, micros: -2_147_483_648, data: b"de", wire_len: 2, len: 18 });
        assert_eq!(records[2], Record::End);
        // Nanoseconds are scaled down; a snapshot length cuts frames.
        let f = file(0xa1b2_3c4d, 2, 101, &[(1, 1_999, 3, 3, b"abc")]);
        let (format, records) = read_all(&f).unwrap_or_else(|| unreachable!());
        assert_eq!(format.link(), LinkType::Raw);
        assert_eq!(records[0], Record::Frame { secs: 1, micros: 1, data: b"ab", wire_len: 3, len: 19 });
        // Cut short: in the header, in the kept bytes, in the skipped ones.
        let cut = |f: &[u8], n: usize| read_all(&f[..f.len() - n]).map(|(_, r)| r.last().map(|r| format!("{r:?}")));
        assert!(cut(&f, 10)
            .unwrap_or_default()
            .unwrap_or_default()
            .contains("tried to read 16 header bytes, only got 9"));
        assert!(cut(&f, 2)
            .unwrap_or_default()
            .unwrap_or_default()
            .contains("tried to read 2 captured bytes, only got 1"));
        assert!(cut(&f, 1)
            .unwrap_or_default()
            .unwrap_or_default()
            .contains("tried to read 3 captured bytes, only got 2"));
        // Not taken: other versions, the modified format, pcapng, other link types.
        assert!(Savefile::of(&file(0xa1b2_cd34, 0, 1, &[])).is_none());
        assert!(Savefile::of(&file(0x0a0d_0d0a, 0, 1, &[])).is_none());
        assert!(Savefile::of(&file(0xa1b2_c3d4, 0, 147, &[])).is_none());
        let mut old = file(0xa1b2_c3d4, 0, 1, &[]);
        old[6] = 3;
        assert!(Savefile::of(&old).is_none());
    }

    #[test]
    fn records_read_in_pieces_are_the_records_of_the_whole_file() {
        let f = file(0xa1b2_c3d4, 0, 1, &[(1, 2, 3, 60, b"abc"), (5, 6, 40, 40, &[7; 40]), (8, 9, 1, 1, b"x")]);
        for step in [1u16, 2, 7, 16, 17, 100] {
            for cut in 0..12 {
                let mut data = step.to_le_bytes().to_vec();
                data.extend(&f[..f.len() - cut]);
                crate::fuzzing::savefile_in_pieces(&data);
            }
        }
    }
}
