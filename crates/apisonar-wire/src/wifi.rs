//! 802.11 monitor-mode captures: radiotap and PPI pseudo-headers, 802.11 data frames, LLC/SNAP.
//!
//! Only data frames that carry data are followed; management, control and null frames are not
//! ours. Protected (encrypted) frames cannot be read and are reported. Every header is stepped
//! over by its own length field, checked against the frame, so nothing here can read past it.

use crate::link::{ethertype, strip_link, NetLayer};
use crate::{LinkType, WireAnomaly};

/// The little-endian `u16` at `at`, if the bytes are there.
fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

/// The little-endian `u32` at `at`, if the bytes are there.
fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// What a pseudo-header says about the 802.11 frame after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RadioFlags {
    /// The frame ends with its 4-byte FCS.
    fcs_at_end: bool,
    /// The receiver found the FCS wrong: the frame is corrupt.
    bad_fcs: bool,
    /// Padding after the 802.11 header up to a multiple of 4 bytes.
    header_padded: bool,
}

const RADIOTAP_PRESENT_TSFT: u32 = 1 << 0;
const RADIOTAP_PRESENT_FLAGS: u32 = 1 << 1;
/// Another presence word follows this one.
const RADIOTAP_PRESENT_EXT: u32 = 1 << 31;
const RADIOTAP_FLAG_FCS_AT_END: u8 = 0x10;
const RADIOTAP_FLAG_DATA_PAD: u8 = 0x20;
const RADIOTAP_FLAG_BAD_FCS: u8 = 0x40;

/// Radiotap (DLT 127): version 0, a pad byte, the header length, then presence bitmaps and
/// fields. Only the Flags field is read (FCS and padding); the rest is skipped by the length.
pub(crate) fn radiotap(frame: &[u8]) -> Result<NetLayer<'_>, WireAnomaly> {
    let version = *frame.first().ok_or(WireAnomaly::TruncatedLink)?;
    let len = usize::from(le16(frame, 2).ok_or(WireAnomaly::TruncatedLink)?);
    if version != 0 || len < 8 {
        return Err(WireAnomaly::MalformedEncapsulation);
    }
    let header = frame.get(..len).ok_or(WireAnomaly::TruncatedLink)?;
    let wifi = frame.get(len..).unwrap_or_default();
    let flags = radiotap_flags(header).unwrap_or_default();
    let radio = RadioFlags {
        fcs_at_end: flags & RADIOTAP_FLAG_FCS_AT_END != 0,
        bad_fcs: flags & RADIOTAP_FLAG_BAD_FCS != 0,
        header_padded: flags & RADIOTAP_FLAG_DATA_PAD != 0,
    };
    data_frame(wifi, radio)
}

/// The radiotap Flags byte, if present. Fields follow the last presence word, each aligned to
/// its own size from the start of the header; TSFT (8 bytes) is the only field before Flags.
fn radiotap_flags(header: &[u8]) -> Option<u8> {
    let present = le32(header, 4)?;
    let mut at = 4usize;
    loop {
        let word = le32(header, at)?;
        at = at.checked_add(4)?;
        if word & RADIOTAP_PRESENT_EXT == 0 {
            break;
        }
    }
    if present & RADIOTAP_PRESENT_FLAGS == 0 {
        return None;
    }
    if present & RADIOTAP_PRESENT_TSFT != 0 {
        at = at.checked_next_multiple_of(8)?.checked_add(8)?;
    }
    header.get(at).copied()
}

const DLT_PPI: u32 = 192;
/// PPI header flag: fields are padded to 32 bits.
const PPI_ALIGNED: u8 = 0x01;
const PPI_FIELD_80211_COMMON: u16 = 2;
/// 802.11-Common flag: the frame ends with its FCS.
const PPI_COMMON_FCS_AT_END: u16 = 0x0001;

/// PPI (DLT 192): version 0, flags, header length, then the link type of the packet after the
/// header (802.11 in practice), all little endian. Of the PPI fields only 802.11-Common is
/// read, for its FCS flag.
pub(crate) fn ppi(frame: &[u8]) -> Result<NetLayer<'_>, WireAnomaly> {
    let (version, flags) = match frame {
        [version, flags, ..] => (*version, *flags),
        _ => return Err(WireAnomaly::TruncatedLink),
    };
    let len = usize::from(le16(frame, 2).ok_or(WireAnomaly::TruncatedLink)?);
    let dlt = le32(frame, 4).ok_or(WireAnomaly::TruncatedLink)?;
    if version != 0 || len < 8 {
        return Err(WireAnomaly::MalformedEncapsulation);
    }
    let header = frame.get(..len).ok_or(WireAnomaly::TruncatedLink)?;
    let packet = frame.get(len..).unwrap_or_default();
    // PPI inside PPI would only be a loop.
    let inner = i32::try_from(dlt).ok().filter(|_| dlt != DLT_PPI).and_then(LinkType::from_dlt);
    match inner {
        Some(LinkType::Ieee80211) => {
            let fcs_at_end =
                ppi_common_flags(header, flags & PPI_ALIGNED != 0).is_some_and(|f| f & PPI_COMMON_FCS_AT_END != 0);
            data_frame(packet, RadioFlags { fcs_at_end, ..RadioFlags::default() })
        }
        Some(link) => strip_link(link, packet),
        None => Err(WireAnomaly::UnsupportedLinkType),
    }
}

/// The flags of the 802.11-Common field among the PPI fields of `header`: each field is a type
/// and a data length, then the data (padded to 4 bytes when `aligned`).
fn ppi_common_flags(header: &[u8], aligned: bool) -> Option<u16> {
    let mut at = 8usize;
    while let (Some(kind), Some(len)) = (le16(header, at), le16(header, at.saturating_add(2))) {
        let data = at.checked_add(4)?;
        if kind == PPI_FIELD_80211_COMMON {
            // TSF timer (8 bytes), then the flags.
            return le16(header.get(data..data.checked_add(usize::from(len))?)?, 8);
        }
        let len = if aligned { usize::from(len).checked_next_multiple_of(4)? } else { usize::from(len) };
        at = data.checked_add(len)?;
    }
    None
}

/// Plain 802.11 (DLT 105): the frame as received, without a pseudo-header. Nothing says whether
/// an FCS follows; it is taken to be absent (as Wireshark does by default), and a trailing FCS
/// is harmless anyway: IP's own length ends the packet before it.
pub(crate) fn plain(frame: &[u8]) -> Result<NetLayer<'_>, WireAnomaly> {
    data_frame(frame, RadioFlags::default())
}

const FC_TYPE_DATA: u8 = 2;
const FC_TO_DS: u8 = 0x01;
const FC_FROM_DS: u8 = 0x02;
const FC_MORE_FRAGMENTS: u8 = 0x04;
const FC_PROTECTED: u8 = 0x40;
/// On a QoS data frame: an HT Control field follows the QoS Control field.
const FC_ORDER: u8 = 0x80;
/// Data subtypes with this bit (Null, CF-Ack, ...) carry no data.
const SUBTYPE_NO_DATA: u8 = 0x04;
/// Data subtypes with this bit have a QoS Control field.
const SUBTYPE_QOS: u8 = 0x08;
/// QoS Control bit: the body is an A-MSDU (several packets in one frame).
const QOS_AMSDU: u16 = 0x0080;
/// Frame control, duration, three addresses, sequence control.
const HEADER_LEN: usize = 24;
const FCS_LEN: usize = 4;

/// An 802.11 frame: its MAC header (frame control, the 4-address form, QoS and HT control)
/// is skipped to reach the LLC header of a data frame.
fn data_frame(frame: &[u8], radio: RadioFlags) -> Result<NetLayer<'_>, WireAnomaly> {
    if radio.bad_fcs {
        // The radio received it damaged; the sender will retransmit it.
        return Ok(NetLayer::NotIp);
    }
    let frame = if radio.fcs_at_end {
        let without = frame.len().checked_sub(FCS_LEN).ok_or(WireAnomaly::TruncatedLink)?;
        frame.get(..without).unwrap_or_default()
    } else {
        frame
    };
    let (&fc0, &fc1) = match frame {
        [a, b, ..] => (a, b),
        _ => return Err(WireAnomaly::TruncatedLink),
    };
    let (version, kind, subtype) = (fc0 & 0x03, (fc0 >> 2) & 0x03, fc0 >> 4);
    if version != 0 || kind != FC_TYPE_DATA || subtype & SUBTYPE_NO_DATA != 0 {
        return Ok(NetLayer::NotIp);
    }
    let four_addresses = fc1 & (FC_TO_DS | FC_FROM_DS) == FC_TO_DS | FC_FROM_DS;
    let qos = subtype & SUBTYPE_QOS != 0;
    let mut header_len = HEADER_LEN;
    if four_addresses {
        header_len = header_len.saturating_add(6);
    }
    let mut amsdu = false;
    if qos {
        let control = le16(frame, header_len).ok_or(WireAnomaly::TruncatedLink)?;
        amsdu = control & QOS_AMSDU != 0;
        header_len = header_len.saturating_add(2);
        if fc1 & FC_ORDER != 0 {
            header_len = header_len.saturating_add(4);
        }
    }
    if radio.header_padded {
        header_len = header_len.checked_next_multiple_of(4).ok_or(WireAnomaly::TruncatedLink)?;
    }
    let sequence_control = le16(frame, 22).ok_or(WireAnomaly::TruncatedLink)?;
    let body = frame.get(header_len..).ok_or(WireAnomaly::TruncatedLink)?;
    if fc1 & FC_PROTECTED != 0 {
        return Err(WireAnomaly::ProtectedWifiFrame);
    }
    if sequence_control & 0x000f != 0 || fc1 & FC_MORE_FRAGMENTS != 0 {
        // 802.11 fragments (rare since 802.11n) are not put back together: later fragments
        // start mid-packet, and a first fragment alone is a cut packet.
        return Ok(NetLayer::NotIp);
    }
    if amsdu {
        // Several packets in one frame; the decoder hands on one packet per frame.
        return Ok(NetLayer::NotIp);
    }
    llc_snap(body)
}

/// LLC with a SNAP header (AA AA 03, an OUI, an EtherType) as 802.11 carries IP.
fn llc_snap(body: &[u8]) -> Result<NetLayer<'_>, WireAnomaly> {
    match body {
        [0xaa, 0xaa, 0x03, _, _, _, t0, t1, rest @ ..] => ethertype(u16::from_be_bytes([*t0, *t1]), rest, 0),
        [0xaa, 0xaa, ..] if body.len() < 8 => Err(WireAnomaly::TruncatedLink),
        _ => Ok(NetLayer::NotIp),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    use super::*;

    const SNAP_IPV4: [u8; 8] = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];

    /// An 802.11 data frame: frame control, zeroed duration/addresses/sequence, extra header
    /// bytes, then `body`.
    fn wifi(fc0: u8, fc1: u8, extra: &[u8], body: &[u8]) -> Vec<u8> {
        let mut f = vec![fc0, fc1];
        f.extend_from_slice(&[0; 22]);
        f.extend_from_slice(extra);
        f.extend_from_slice(body);
        f
    }

    fn snap_ip(ip: &[u8]) -> Vec<u8> {
        let mut b = SNAP_IPV4.to_vec();
        b.extend_from_slice(ip);
        b
    }

    fn check(result: Result<NetLayer<'_>, WireAnomaly>, expect: Result<Option<&[u8]>, WireAnomaly>) {
        let got = result.map(|n| match n {
            NetLayer::Ip(b) => Some(b.to_vec()),
            NetLayer::NotIp => None,
        });
        assert_eq!(got, expect.map(|o| o.map(<[u8]>::to_vec)));
    }

    #[test]
    fn data_frames_of_every_header_form() {
        let ip: &[u8] = &[0x45, 1, 2];
        // Data, to the AP.
        check(plain(&wifi(0x08, 0x01, &[], &snap_ip(ip))), Ok(Some(ip)));
        // QoS data from the AP: 2 bytes of QoS control.
        check(plain(&wifi(0x88, 0x02, &[0, 0], &snap_ip(ip))), Ok(Some(ip)));
        // QoS data with +HTC: QoS control and 4 bytes of HT control.
        check(plain(&wifi(0x88, 0x82, &[0, 0, 9, 9, 9, 9], &snap_ip(ip))), Ok(Some(ip)));
        // Four addresses (WDS/mesh), QoS.
        check(plain(&wifi(0x88, 0x03, &[7; 8], &snap_ip(ip))), Ok(Some(ip)));
        // Four addresses, no QoS.
        check(plain(&wifi(0x08, 0x03, &[7; 6], &snap_ip(ip))), Ok(Some(ip)));
    }

    #[test]
    fn frames_that_are_not_ours() {
        let ip: &[u8] = &[0x45];
        // Beacon (management), ACK (control), Null data, QoS Null.
        for fc0 in [0x80, 0xd4, 0x48, 0xc8] {
            check(plain(&wifi(fc0, 0, &[0, 0], &snap_ip(ip))), Ok(None));
        }
        // ARP in SNAP, and a non-SNAP LLC.
        check(plain(&wifi(0x08, 0, &[], &[0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x06, 1])), Ok(None));
        check(plain(&wifi(0x08, 0, &[], &[0x42, 0x42, 3, 0])), Ok(None));
        // Protocol version 1.
        check(plain(&wifi(0x09, 0, &[], &snap_ip(ip))), Ok(None));
        // A later 802.11 fragment, and an A-MSDU.
        let mut later_fragment = wifi(0x08, 0, &[], &snap_ip(ip));
        later_fragment[22] = 1;
        check(plain(&later_fragment), Ok(None));
        check(plain(&wifi(0x88, 0, &[0x80, 0], &snap_ip(ip))), Ok(None));
    }

    #[test]
    fn protected_frames_are_reported() {
        check(plain(&wifi(0x88, 0x41, &[0, 0], &[1, 2, 3, 4, 5, 6, 7, 8, 9])), Err(WireAnomaly::ProtectedWifiFrame));
    }

    /// Radiotap header: version, pad, length, presence word(s), then `fields`.
    fn radiotap_header(present: &[u32], fields: &[u8]) -> Vec<u8> {
        let len = 4 + 4 * present.len() + fields.len();
        let mut h = vec![0, 0];
        h.extend_from_slice(&(len as u16).to_le_bytes());
        for p in present {
            h.extend_from_slice(&p.to_le_bytes());
        }
        h.extend_from_slice(fields);
        h
    }

    #[test]
    fn radiotap_flags_fcs_and_padding() {
        let ip: &[u8] = &[0x45, 1, 2];
        let frame = wifi(0x08, 0x01, &[], &snap_ip(ip));
        // No fields at all.
        let mut f = radiotap_header(&[0], &[]);
        f.extend_from_slice(&frame);
        check(radiotap(&f), Ok(Some(ip)));
        // TSFT (8 bytes, already aligned after one presence word) then Flags: FCS at the end.
        let mut fields = vec![0; 8];
        fields.push(RADIOTAP_FLAG_FCS_AT_END);
        let mut f = radiotap_header(&[0b11], &fields);
        f.extend_from_slice(&frame);
        f.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        check(radiotap(&f), Ok(Some(ip)));
        // Two presence words: TSFT is aligned to 8 (4 bytes of padding), then Flags: bad FCS.
        let mut fields = vec![0; 4 + 8];
        fields.push(RADIOTAP_FLAG_BAD_FCS);
        let mut f = radiotap_header(&[RADIOTAP_PRESENT_EXT | 0b11, 0], &fields);
        f.extend_from_slice(&frame);
        check(radiotap(&f), Ok(None));
        // The same with the flag byte where an unaligned reader would look: still good data.
        let mut fields = vec![0; 8];
        fields.extend_from_slice(&[RADIOTAP_FLAG_BAD_FCS, 0, 0, 0, 0]);
        let mut f = radiotap_header(&[RADIOTAP_PRESENT_EXT | 0b11, 0], &fields);
        f.extend_from_slice(&frame);
        check(radiotap(&f), Ok(Some(ip)));
        // Data padding: a QoS header of 26 bytes is padded to 28.
        let mut f = radiotap_header(&[0b10], &[RADIOTAP_FLAG_DATA_PAD]);
        f.extend_from_slice(&wifi(0x88, 0x01, &[0, 0, 0xff, 0xff], &snap_ip(ip)));
        check(radiotap(&f), Ok(Some(ip)));
    }

    #[test]
    fn ppi_carries_80211_or_ethernet() {
        let ip: &[u8] = &[0x45, 1];
        let mut f = vec![0, 0, 12, 0, 105, 0, 0, 0, 1, 2, 3, 4];
        f.extend_from_slice(&wifi(0x08, 0x02, &[], &snap_ip(ip)));
        check(ppi(&f), Ok(Some(ip)));
        // An unknown field (padded to 4: aligned header), then 802.11-Common saying FCS at end.
        let mut f = vec![0, PPI_ALIGNED, 40, 0, 105, 0, 0, 0];
        f.extend_from_slice(&[0x55, 0x55, 3, 0, 9, 9, 9, 0]);
        f.extend_from_slice(&[2, 0, 20, 0]);
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&PPI_COMMON_FCS_AT_END.to_le_bytes());
        f.extend_from_slice(&[0; 10]);
        f.extend_from_slice(&wifi(0x08, 0x02, &[], &snap_ip(ip)));
        f.extend_from_slice(&[0xfc; 4]);
        check(ppi(&f), Ok(Some(ip)));
        // The same without the aligned flag: the fields no longer line up, the FCS stays.
        f[1] = 0;
        let mut with_fcs = ip.to_vec();
        with_fcs.extend_from_slice(&[0xfc; 4]);
        check(ppi(&f), Ok(Some(&with_fcs)));
        let mut f = vec![0, 0, 8, 0, 1, 0, 0, 0];
        f.extend_from_slice(&[0; 12]);
        f.extend_from_slice(&[0x08, 0x00, 0x45, 1]);
        check(ppi(&f), Ok(Some(ip)));
        check(ppi(&[0, 0, 8, 0, 192, 0, 0, 0, 0, 0, 8, 0, 192, 0, 0, 0]), Err(WireAnomaly::UnsupportedLinkType));
    }

    #[test]
    fn lengths_beyond_the_frame_are_anomalies() {
        check(radiotap(&[0, 0, 200, 0, 0, 0, 0, 0, 1]), Err(WireAnomaly::TruncatedLink));
        check(radiotap(&[0, 0, 4, 0, 0, 0, 0, 0]), Err(WireAnomaly::MalformedEncapsulation));
        check(radiotap(&[1, 0, 8, 0, 0, 0, 0, 0]), Err(WireAnomaly::MalformedEncapsulation));
        check(ppi(&[0, 0, 255, 255, 105, 0, 0, 0]), Err(WireAnomaly::TruncatedLink));
        // A presence bitmap whose extension bit never ends stops at the header's end.
        let mut endless = radiotap_header(&[u32::MAX; 3], &[]);
        endless.extend_from_slice(&wifi(0x08, 0, &[], &snap_ip(&[0x45])));
        check(radiotap(&endless), Ok(Some(&[0x45])));
        check(plain(&[0x08]), Err(WireAnomaly::TruncatedLink));
        check(plain(&wifi(0x88, 0, &[0], &[])), Err(WireAnomaly::TruncatedLink));
        check(plain(&wifi(0x08, 0, &[], &[0xaa, 0xaa, 3])), Err(WireAnomaly::TruncatedLink));
    }

    #[test]
    fn every_prefix_and_byte_flip_decodes_without_panic() {
        let mut f = radiotap_header(&[0b11], &[0; 13]);
        f.extend_from_slice(&wifi(0x88, 0x83, &[0; 12], &snap_ip(&[0x45, 0, 0, 20])));
        for len in 0..=f.len() {
            for link in [radiotap, ppi, plain] {
                let _ = link(&f[..len]);
            }
        }
        for i in 0..f.len() {
            let mut g = f.clone();
            g[i] ^= 0xff;
            let _ = radiotap(&g);
            let _ = ppi(&g);
        }
    }
}
