//! 802.11 frames as a monitor-mode capture holds them: Ethernet frames turned into 802.11 data
//! frames (LLC/SNAP), behind a radiotap or PPI header, plus the other frames a radio sees.

/// Which way a data frame crosses the access point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WifiDirection {
    /// From a station to the access point (ToDS).
    ToAp,
    /// From the access point to a station (FromDS).
    FromAp,
    /// Between two access points (ToDS and FromDS: four addresses).
    Bridge,
}

/// The access point's address.
pub const BSSID: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 0x01];

/// The 802.11 frame control bytes (QoS data or data; ToDS/FromDS as `dir` says).
fn frame_control(dir: WifiDirection, qos: bool, protected: bool) -> [u8; 2] {
    let fc0 = if qos { 0x88 } else { 0x08 };
    let mut fc1 = match dir {
        WifiDirection::ToAp => 0x01,
        WifiDirection::FromAp => 0x02,
        WifiDirection::Bridge => 0x03,
    };
    if protected {
        fc1 |= 0x40;
    }
    [fc0, fc1]
}

/// The MAC header of a data frame between `src` and `dst`.
fn mac_header(dir: WifiDirection, qos: bool, protected: bool, src: [u8; 6], dst: [u8; 6], seq: u16) -> Vec<u8> {
    let mut h = frame_control(dir, qos, protected).to_vec();
    h.extend_from_slice(&[0x2c, 0x00]); // duration
    let (a1, a2, a3) = match dir {
        WifiDirection::ToAp => (BSSID, src, dst),
        WifiDirection::FromAp => (dst, BSSID, src),
        WifiDirection::Bridge => (BSSID, BSSID, dst),
    };
    for a in [a1, a2, a3] {
        h.extend_from_slice(&a);
    }
    // Sequence number in the upper 12 bits, fragment number 0.
    h.extend_from_slice(&(seq << 4).to_le_bytes());
    if dir == WifiDirection::Bridge {
        h.extend_from_slice(&src);
    }
    if qos {
        h.extend_from_slice(&[0x00, 0x00]); // TID 0, no A-MSDU
    }
    h
}

/// Turns an Ethernet II frame into an 802.11 data frame carrying the same packet after an
/// LLC/SNAP header.
pub fn data_frame(ethernet: &[u8], dir: WifiDirection, qos: bool, seq: u16) -> Vec<u8> {
    let dst: [u8; 6] = ethernet.get(..6).and_then(|b| b.try_into().ok()).unwrap_or_default();
    let src: [u8; 6] = ethernet.get(6..12).and_then(|b| b.try_into().ok()).unwrap_or_default();
    let ethertype = ethernet.get(12..14).unwrap_or_default();
    let mut f = mac_header(dir, qos, false, src, dst, seq);
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00]);
    f.extend_from_slice(ethertype);
    f.extend_from_slice(ethernet.get(14..).unwrap_or_default());
    f
}

/// A CCMP-protected QoS data frame: CCMP header, ciphertext and MIC (bytes nobody can read).
pub fn protected_data_frame(src: [u8; 6], dst: [u8; 6], seq: u16) -> Vec<u8> {
    let mut f = mac_header(WifiDirection::ToAp, true, true, src, dst, seq);
    f.extend_from_slice(&[0x01, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00]);
    f.extend((0u8..64).map(|i| i.wrapping_mul(37) ^ 0x5a));
    f
}

/// A beacon of the access point (management frame).
pub fn beacon(seq: u16) -> Vec<u8> {
    let mut f = vec![0x80, 0x00, 0x00, 0x00];
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&BSSID);
    f.extend_from_slice(&BSSID);
    f.extend_from_slice(&(seq << 4).to_le_bytes());
    f.extend_from_slice(&[0; 8]); // timestamp
    f.extend_from_slice(&[0x64, 0x00, 0x11, 0x04]); // interval 100 TU, capabilities
    f.extend_from_slice(&[0x00, 0x08]);
    f.extend_from_slice(b"apisonar");
    f
}

/// A null-function data frame (a station's power-save signal: no data).
pub fn null_frame(src: [u8; 6], seq: u16) -> Vec<u8> {
    let mut f = vec![0x48, 0x11, 0x2c, 0x00];
    f.extend_from_slice(&BSSID);
    f.extend_from_slice(&src);
    f.extend_from_slice(&BSSID);
    f.extend_from_slice(&(seq << 4).to_le_bytes());
    f
}

/// IEEE CRC-32 of the frame, as the FCS carries it (little endian on the air).
fn fcs(frame: &[u8]) -> [u8; 4] {
    let mut crc = flate2::Crc::new();
    crc.update(frame);
    crc.sum().to_le_bytes()
}

/// Radiotap header as Linux mac80211 writes it (TSFT, Flags, Rate, Channel, signal), then the
/// frame and its FCS (the Flags field says the FCS is there).
pub fn radiotap(frame: &[u8], tsft_micros: u64) -> Vec<u8> {
    const PRESENT: u32 = 0b10_1111; // TSFT, Flags, Rate, Channel, dBm antenna signal
    const FLAG_FCS_AT_END: u8 = 0x10;
    let mut h = vec![0u8, 0];
    h.extend_from_slice(&23u16.to_le_bytes());
    h.extend_from_slice(&PRESENT.to_le_bytes());
    h.extend_from_slice(&tsft_micros.to_le_bytes());
    h.push(FLAG_FCS_AT_END);
    h.push(108); // 54 Mbit/s in 500 kbit/s units
    h.extend_from_slice(&2437u16.to_le_bytes()); // channel 6
    h.extend_from_slice(&0x00c0u16.to_le_bytes()); // 2 GHz, OFDM
    h.push(0xc4); // -60 dBm
    h.extend_from_slice(frame);
    h.extend_from_slice(&fcs(frame));
    h
}

/// PPI header with an 802.11-Common field, then the 802.11 frame (link type 105, no FCS).
pub fn ppi(frame: &[u8], tsft_micros: u64) -> Vec<u8> {
    let mut common = Vec::with_capacity(20);
    common.extend_from_slice(&tsft_micros.to_le_bytes());
    common.extend_from_slice(&0u16.to_le_bytes()); // flags: no FCS
    common.extend_from_slice(&108u16.to_le_bytes()); // rate
    common.extend_from_slice(&2437u16.to_le_bytes());
    common.extend_from_slice(&0x00c0u16.to_le_bytes());
    common.extend_from_slice(&[0, 0, 0xc4, 0xa6]); // FHSS hopset/pattern, signal, noise
    let len = 8 + 4 + common.len();
    let mut h = vec![0u8, 0];
    h.extend_from_slice(&(len as u16).to_le_bytes());
    h.extend_from_slice(&105u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes()); // field type: 802.11-Common
    h.extend_from_slice(&(common.len() as u16).to_le_bytes());
    h.extend_from_slice(&common);
    h.extend_from_slice(frame);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_frames_carry_the_ethernet_payload_after_snap() {
        let mut eth = vec![1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x08, 0x00];
        eth.extend_from_slice(b"IP");
        let f = data_frame(&eth, WifiDirection::ToAp, true, 5);
        assert_eq!(&f[..2], &[0x88, 0x01]);
        assert_eq!(&f[10..16], &[2; 6], "source address");
        assert_eq!(&f[26..36], &[0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00, b'I', b'P']);
        let f = data_frame(&eth, WifiDirection::Bridge, false, 5);
        assert_eq!(f.len(), 30 + 8 + 2);
        let r = radiotap(&f, 1);
        assert_eq!((r.len(), u16::from_le_bytes([r[2], r[3]])), (23 + f.len() + 4, 23));
        let p = ppi(&f, 1);
        assert_eq!(&p[32..], &f[..]);
    }

    #[test]
    fn fcs_is_the_ieee_crc32() {
        assert_eq!(u32::from_le_bytes(fcs(b"123456789")), 0xcbf4_3926);
    }
}
