//! A minimal classic-pcap writer and reader (microsecond timestamps), enough for any link type.

use std::io::{self, Write};

/// libpcap link types used by the testkit.
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
pub const LINKTYPE_IEEE802_11: u32 = 105;
pub const LINKTYPE_IEEE802_11_RADIOTAP: u32 = 127;
pub const LINKTYPE_PPI: u32 = 192;

/// Writes a pcap file header, then records.
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W, linktype: u32, snaplen: u32) -> io::Result<PcapWriter<W>> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        out.write_all(&linktype.to_le_bytes())?;
        Ok(PcapWriter { out, snaplen })
    }

    /// Writes one frame captured at `ts_micros`, cut to the snaplen like a real capture.
    pub fn write(&mut self, ts_micros: i64, frame: &[u8]) -> io::Result<()> {
        let caplen = frame.len().min(self.snaplen as usize);
        let secs = ts_micros.div_euclid(1_000_000) as u32;
        let micros = ts_micros.rem_euclid(1_000_000) as u32;
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&micros.to_le_bytes())?;
        self.out.write_all(&(caplen as u32).to_le_bytes())?;
        self.out.write_all(&(frame.len() as u32).to_le_bytes())?;
        self.out.write_all(&frame[..caplen])
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Frames with their capture time in microseconds.
pub type TimedFrames = Vec<(i64, Vec<u8>)>;

/// Reads a classic pcap file (either byte order, microsecond or nanosecond stamps): its link
/// type and its frames as (timestamp in microseconds, bytes).
pub fn read_pcap(bytes: &[u8]) -> io::Result<(u32, TimedFrames)> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let header = bytes.get(..24).ok_or_else(|| bad("short pcap header"))?;
    let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => return Err(bad("not a classic pcap file")),
    };
    let u32_at = |b: &[u8], at: usize| -> io::Result<u32> {
        let w: [u8; 4] = b.get(at..at + 4).and_then(|s| s.try_into().ok()).ok_or_else(|| bad("truncated"))?;
        Ok(if le { u32::from_le_bytes(w) } else { u32::from_be_bytes(w) })
    };
    let linktype = u32_at(header, 20)?;
    let mut frames = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let secs = i64::from(u32_at(bytes, at)?);
        let frac = i64::from(u32_at(bytes, at + 4)?);
        let caplen = u32_at(bytes, at + 8)? as usize;
        let data = bytes.get(at + 16..at + 16 + caplen).ok_or_else(|| bad("truncated record"))?;
        frames.push((secs * 1_000_000 + if nanos { frac / 1000 } else { frac }, data.to_vec()));
        at += 16 + caplen;
    }
    Ok((linktype, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, 65535).unwrap();
        w.write(1_700_000_000_123_456, b"frame one").unwrap();
        w.write(1_700_000_001_000_000, b"two").unwrap();
        let (link, frames) = read_pcap(&w.into_inner()).unwrap();
        assert_eq!(link, LINKTYPE_ETHERNET);
        assert_eq!(
            frames,
            vec![(1_700_000_000_123_456, b"frame one".to_vec()), (1_700_000_001_000_000, b"two".to_vec())]
        );
        assert!(read_pcap(b"short").is_err());
    }
}
