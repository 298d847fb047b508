//! Link layers: from a captured frame to the network-layer bytes it carries.

use crate::WireAnomaly;

/// Link-layer header types (libpcap DLT values) the decoder understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// DLT_EN10MB.
    Ethernet,
    /// DLT_NULL: 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT_LOOP: 4-byte address family in network byte order (OpenBSD).
    Loop,
    /// DLT_RAW / LINKTYPE_RAW: the frame starts with an IPv4 or IPv6 header.
    Raw,
    /// LINKTYPE_IPV4.
    Ipv4,
    /// LINKTYPE_IPV6.
    Ipv6,
    /// DLT_LINUX_SLL: Linux cooked capture v1 (`tcpdump -i any` on older libpcap).
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux cooked capture v2 (`tcpdump -i any`).
    LinuxSll2,
    /// DLT_NFLOG: Linux netfilter log messages.
    Nflog,
    /// DLT_IEEE802_11: 802.11 frames as received (monitor mode without a radio header).
    Ieee80211,
    /// DLT_IEEE802_11_RADIO: 802.11 frames after a radiotap header (Linux monitor mode).
    Ieee80211Radiotap,
    /// DLT_PPI: Per-Packet Information header, then a frame of the link type it names.
    Ppi,
}

impl LinkType {
    /// Maps a libpcap data-link type to a supported link type.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            // DLT_RAW is 12 on most systems, 14 on OpenBSD; LINKTYPE_RAW is 101.
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            105 => LinkType::Ieee80211,
            127 => LinkType::Ieee80211Radiotap,
            192 => LinkType::Ppi,
            239 => LinkType::Nflog,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }

    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ethernet",
            LinkType::Null => "null",
            LinkType::Loop => "loop",
            LinkType::Raw => "raw",
            LinkType::Ipv4 => "ipv4",
            LinkType::Ipv6 => "ipv6",
            LinkType::LinuxSll => "linux_sll",
            LinkType::LinuxSll2 => "linux_sll2",
            LinkType::Nflog => "nflog",
            LinkType::Ieee80211 => "ieee802_11",
            LinkType::Ieee80211Radiotap => "ieee802_11_radiotap",
            LinkType::Ppi => "ppi",
        }
    }
}

/// The network layer found under the link layer.
pub(crate) enum NetLayer<'a> {
    /// IPv4 or IPv6 bytes (the version nibble tells which).
    Ip(&'a [u8]),
    /// Something that is not IP (ARP, LLDP, ...): not an anomaly, just not ours.
    NotIp,
}

pub(crate) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Deeper tag stacks than this are not seen on real networks; stop instead of looping.
const MAX_VLAN_TAGS: usize = 8;

/// The big-endian `u16` at `at`, if the bytes are there.
pub(crate) fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// Strips the link layer of `frame`.
pub(crate) fn strip_link(link: LinkType, frame: &[u8]) -> Result<NetLayer<'_>, WireAnomaly> {
    match link {
        LinkType::Ethernet => ethernet(frame),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Ok(NetLayer::Ip(frame)),
        LinkType::Null | LinkType::Loop => {
            let family: [u8; 4] = frame.get(..4).and_then(|f| f.try_into().ok()).ok_or(WireAnomaly::TruncatedLink)?;
            let le = u32::from_le_bytes(family);
            let be = u32::from_be_bytes(family);
            // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24, 28 or 30 (BSDs, macOS).
            // The capturing host's byte order is unknown for DLT_NULL, so accept both.
            let is_ip = |af: u32| matches!(af, 2 | 10 | 24 | 28 | 30);
            let body = frame.get(4..).unwrap_or_default();
            if is_ip(le) || is_ip(be) {
                Ok(NetLayer::Ip(body))
            } else {
                Ok(NetLayer::NotIp)
            }
        }
        LinkType::LinuxSll => {
            let proto = be16(frame, 14).ok_or(WireAnomaly::TruncatedLink)?;
            ethertype(proto, frame.get(16..).unwrap_or_default(), 0)
        }
        LinkType::LinuxSll2 => {
            if frame.len() < 20 {
                return Err(WireAnomaly::TruncatedLink);
            }
            let proto = be16(frame, 0).ok_or(WireAnomaly::TruncatedLink)?;
            ethertype(proto, frame.get(20..).unwrap_or_default(), 0)
        }
        LinkType::Nflog => nflog(frame),
        LinkType::Ieee80211 => crate::wifi::plain(frame),
        LinkType::Ieee80211Radiotap => crate::wifi::radiotap(frame),
        LinkType::Ppi => crate::wifi::ppi(frame),
    }
}

fn ethernet(frame: &[u8]) -> Result<NetLayer<'_>, WireAnomaly> {
    let proto = be16(frame, 12).ok_or(WireAnomaly::TruncatedLink)?;
    ethertype(proto, frame.get(14..).unwrap_or_default(), 0)
}

pub(crate) fn ethertype(proto: u16, body: &[u8], tags: usize) -> Result<NetLayer<'_>, WireAnomaly> {
    match proto {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(NetLayer::Ip(body)),
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
            if tags >= MAX_VLAN_TAGS {
                return Err(WireAnomaly::TooManyVlanTags);
            }
            let inner = be16(body, 2).ok_or(WireAnomaly::TruncatedLink)?;
            ethertype(inner, body.get(4..).unwrap_or_default(), tags.saturating_add(1))
        }
        ETHERTYPE_PPPOE_SESSION => {
            // PPPoE header (6 bytes) then the PPP protocol number: 2 bytes, or 1 byte when
            // compressed (RFC 1661 section 6.5: an odd first byte ends the field).
            let first = *body.get(6).ok_or(WireAnomaly::MalformedEncapsulation)?;
            let (ppp, skip) = if first & 1 == 1 {
                (u16::from(first), 7)
            } else {
                (be16(body, 6).ok_or(WireAnomaly::MalformedEncapsulation)?, 8)
            };
            let payload = body.get(skip..).unwrap_or_default();
            match ppp {
                0x0021 | 0x0057 => Ok(NetLayer::Ip(payload)),
                _ => Ok(NetLayer::NotIp),
            }
        }
        _ => Ok(NetLayer::NotIp),
    }
}

/// NFLOG: 4-byte header, then TLVs whose length and type are in host byte order (little endian
/// on every capture host we know of); the packet is the NFULA_PAYLOAD (type 9) attribute.
fn nflog(frame: &[u8]) -> Result<NetLayer<'_>, WireAnomaly> {
    let family = *frame.first().ok_or(WireAnomaly::TruncatedLink)?;
    let mut rest = frame.get(4..).unwrap_or_default();
    while let [l0, l1, k0, k1, ..] = *rest {
        let len = usize::from(u16::from_le_bytes([l0, l1]));
        let kind = u16::from_le_bytes([k0, k1]);
        if len < 4 {
            return Err(WireAnomaly::MalformedEncapsulation);
        }
        if kind == 9 {
            let payload = rest.get(4..len).ok_or(WireAnomaly::MalformedEncapsulation)?;
            return match family {
                2 | 10 => Ok(NetLayer::Ip(payload)),
                _ => Ok(NetLayer::NotIp),
            };
        }
        // TLVs are padded to 4 bytes; `len` is at most 65535, so rounding up cannot overflow.
        let padded = len.next_multiple_of(4);
        rest = rest.get(padded..).unwrap_or_default();
    }
    Err(WireAnomaly::MalformedEncapsulation)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
    use super::*;

    fn ip_of(link: LinkType, frame: &[u8]) -> Option<Vec<u8>> {
        match strip_link(link, frame) {
            Ok(NetLayer::Ip(b)) => Some(b.to_vec()),
            _ => None,
        }
    }

    #[test]
    fn ethernet_with_stacked_tags() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0, 200, 0x81, 0x00, 0, 100, 0x08, 0x00, 0x45]);
        assert_eq!(ip_of(LinkType::Ethernet, &f), Some(vec![0x45]));
    }

    #[test]
    fn vlan_loop_is_bounded() {
        let mut f = vec![0u8; 12];
        for _ in 0..20 {
            f.extend_from_slice(&[0x81, 0x00, 0, 1]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        assert!(matches!(strip_link(LinkType::Ethernet, &f), Err(WireAnomaly::TooManyVlanTags)));
    }

    #[test]
    fn short_frames_are_anomalies() {
        for link in [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null] {
            assert!(strip_link(link, &[1, 2, 3]).is_err(), "{link:?}");
        }
    }

    #[test]
    fn null_accepts_both_byte_orders() {
        assert_eq!(ip_of(LinkType::Null, &[2, 0, 0, 0, 0x45]), Some(vec![0x45]));
        assert_eq!(ip_of(LinkType::Null, &[0, 0, 0, 30, 0x60]), Some(vec![0x60]));
        assert_eq!(ip_of(LinkType::Null, &[7, 0, 0, 0, 0x60]), None);
    }

    #[test]
    fn sll2_protocol_is_first() {
        let mut f = vec![0x86, 0xdd];
        f.extend_from_slice(&[0u8; 18]);
        f.push(0x60);
        assert_eq!(ip_of(LinkType::LinuxSll2, &f), Some(vec![0x60]));
    }

    #[test]
    fn pppoe_with_full_and_compressed_protocol() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0x64, 0x11, 0, 0, 0x2d, 0, 0x3d, 0x00, 0x21, 0x45]);
        assert_eq!(ip_of(LinkType::Ethernet, &f), Some(vec![0x45]));
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0x64, 0x11, 0, 0, 0x2d, 0, 0x3d, 0x21, 0x45]);
        assert_eq!(ip_of(LinkType::Ethernet, &f), Some(vec![0x45]));
    }

    #[test]
    fn nflog_finds_payload_tlv() {
        let mut f = vec![2, 0, 0, 0];
        f.extend_from_slice(&[8, 0, 1, 0, 0, 0, 0, 0]); // some other TLV
        f.extend_from_slice(&[5, 0, 9, 0, 0x45, 0, 0, 0]); // payload TLV, padded
        assert_eq!(ip_of(LinkType::Nflog, &f), Some(vec![0x45]));
        assert!(strip_link(LinkType::Nflog, &[2, 0, 0, 0, 1, 0, 9, 0]).is_err());
    }
}
