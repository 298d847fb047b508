//! From a captured frame to a TCP segment or an IP fragment, via etherparse.

use std::net::IpAddr;

use etherparse::{IpNumber, Ipv6ExtensionSlice, LaxIpSlice, TcpSlice};

use crate::link::{strip_link, NetLayer};
use crate::{LinkType, WireAnomaly};

/// TCP flags the flow layer cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// One TCP segment, borrowed from the frame.
#[derive(Clone, Debug)]
pub struct TcpSegment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub payload: &'a [u8],
    /// Payload bytes the sender sent that the capture cut off (snaplen); they follow `payload`.
    pub missing_tail: u32,
}

/// Identifies the datagram a fragment belongs to (RFC 791 / RFC 8200).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
}

/// One fragment of an IPv4 or IPv6 datagram.
#[derive(Clone, Debug)]
pub struct IpFragment<'a> {
    pub key: FragKey,
    /// Byte offset of this fragment's data in the reassembled payload.
    pub offset: u32,
    pub more_fragments: bool,
    pub payload: &'a [u8],
}

/// What a frame turned out to be.
#[derive(Clone, Debug)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    Fragment(IpFragment<'a>),
    /// Valid, but not something apisonar analyses (UDP, ICMP, ARP, ...).
    Other,
    Malformed(WireAnomaly),
}

/// Decodes one captured frame. `frame` holds the captured bytes (possibly cut by snaplen).
pub fn decode_frame(link: LinkType, frame: &[u8]) -> Decoded<'_> {
    decode_link(link, frame, 0)
}

/// What picking a flow worker needs to know of a frame.
#[derive(Clone, Debug)]
pub enum RouteKey<'a> {
    /// A TCP segment between these two endpoints (in the frame's direction).
    Tcp((IpAddr, u16), (IpAddr, u16)),
    /// An IP fragment: its connection is known only once the datagram is whole.
    Fragment(IpFragment<'a>),
    /// Anything else: not analysed, only counted.
    Other,
}

/// The connection a frame belongs to, cheaply (straight from the IP and TCP headers) for plain
/// IPv4 and IPv6 TCP; tunnels, IPv6 extension headers and fragments take the full decode.
pub fn route_key(link: LinkType, frame: &[u8]) -> RouteKey<'_> {
    let full = || match decode_frame(link, frame) {
        Decoded::Tcp(seg) => RouteKey::Tcp((seg.src, seg.src_port), (seg.dst, seg.dst_port)),
        Decoded::Fragment(f) => RouteKey::Fragment(f),
        Decoded::Other | Decoded::Malformed(_) => RouteKey::Other,
    };
    let Ok(NetLayer::Ip(ip)) = strip_link(link, frame) else { return RouteKey::Other };
    let fixed = |from: usize| -> Option<[u8; 4]> { ip.get(from..from.checked_add(4)?)?.try_into().ok() };
    let fixed16 = |from: usize| -> Option<[u8; 16]> { ip.get(from..from.checked_add(16)?)?.try_into().ok() };
    let ports = |at: usize| -> Option<(u16, u16)> {
        let p = ip.get(at..at.checked_add(4)?)?;
        Some((u16::from_be_bytes([*p.first()?, *p.get(1)?]), u16::from_be_bytes([*p.get(2)?, *p.get(3)?])))
    };
    let fast = || -> Option<RouteKey<'_>> {
        match ip.first()? >> 4 {
            4 => {
                let header = usize::from(ip.first()? & 0x0f).checked_mul(4)?;
                let fragment_bits = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x3fff;
                if *ip.get(9)? != 6 || fragment_bits != 0 || header < 20 {
                    return None;
                }
                let (sp, dp) = ports(header)?;
                Some(RouteKey::Tcp((IpAddr::from(fixed(12)?), sp), (IpAddr::from(fixed(16)?), dp)))
            }
            6 if *ip.get(6)? == 6 => {
                let (sp, dp) = ports(40)?;
                Some(RouteKey::Tcp((IpAddr::from(fixed16(8)?), sp), (IpAddr::from(fixed16(24)?), dp)))
            }
            _ => None,
        }
    };
    fast().unwrap_or_else(full)
}

/// Nested tunnels deeper than this are not followed (a loop of encapsulations is an attack).
const MAX_TUNNEL_DEPTH: u8 = 4;

fn decode_link(link: LinkType, frame: &[u8], depth: u8) -> Decoded<'_> {
    match strip_link(link, frame) {
        Ok(NetLayer::Ip(ip)) => decode_ip(ip, depth),
        Ok(NetLayer::NotIp) => Decoded::Other,
        Err(anomaly) => Decoded::Malformed(anomaly),
    }
}

fn decode_ip(bytes: &[u8], depth: u8) -> Decoded<'_> {
    let (ip, _ext_error) = match LaxIpSlice::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return Decoded::Malformed(WireAnomaly::MalformedIp),
    };
    let (src, dst) = (ip.source_addr(), ip.destination_addr());
    let payload = ip.payload();
    let declared_len = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            usize::from(h.total_len()).saturating_sub(h.slice().len())
        }
        LaxIpSlice::Ipv6(v6) => usize::from(v6.header().payload_length()).saturating_sub(v6.extensions().slice().len()),
    };
    let missing = if payload.incomplete { declared_len.saturating_sub(payload.payload.len()) } else { 0 };
    if payload.fragmented {
        let fragment = match &ip {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                Some((u32::from(h.identification()), h.fragments_offset().byte_offset(), h.more_fragments()))
            }
            LaxIpSlice::Ipv6(v6) => v6.extensions().clone().into_iter().find_map(|ext| match ext {
                Ipv6ExtensionSlice::Fragment(f) => {
                    Some((f.identification(), f.fragment_offset().byte_offset(), f.more_fragments()))
                }
                _ => None,
            }),
        };
        let Some((id, offset, more_fragments)) = fragment else {
            return Decoded::Malformed(WireAnomaly::MalformedIp);
        };
        if missing > 0 {
            // A fragment cut by snaplen can never be reassembled correctly.
            return Decoded::Malformed(WireAnomaly::SnaplenTruncated);
        }
        return Decoded::Fragment(IpFragment {
            key: FragKey { src, dst, id, proto: payload.ip_number.0 },
            offset: u32::from(offset),
            more_fragments,
            payload: payload.payload,
        });
    }
    if depth < MAX_TUNNEL_DEPTH {
        let inner = match payload.ip_number {
            IpNumber::UDP => crate::tunnel::udp(payload.payload),
            IpNumber::GRE => crate::tunnel::gre(payload.payload),
            _ => None,
        };
        match inner {
            Some(crate::tunnel::Inner::Ethernet(f)) => {
                return decode_link(LinkType::Ethernet, f, depth.saturating_add(1))
            }
            Some(crate::tunnel::Inner::Ip(p)) => return decode_ip(p, depth.saturating_add(1)),
            None => {}
        }
    }
    transport(src, dst, payload.ip_number, payload.payload, missing)
}

/// Decodes the transport layer of a (reassembled) IP payload.
pub fn decode_ip_payload(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Decoded<'_> {
    transport(src, dst, IpNumber(proto), payload, 0)
}

fn transport(src: IpAddr, dst: IpAddr, proto: IpNumber, payload: &[u8], missing: usize) -> Decoded<'_> {
    if proto != IpNumber::TCP {
        return Decoded::Other;
    }
    let tcp = match TcpSlice::from_slice(payload) {
        Ok(tcp) => tcp,
        Err(_) if missing > 0 => return Decoded::Malformed(WireAnomaly::SnaplenTruncated),
        Err(_) => return Decoded::Malformed(WireAnomaly::MalformedTcp),
    };
    Decoded::Tcp(TcpSegment {
        src,
        dst,
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags { syn: tcp.syn(), ack: tcp.ack(), fin: tcp.fin(), rst: tcp.rst() },
        payload: tcp.payload(),
        missing_tail: u32::try_from(missing).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 1000, 65535)
            .ack(7);
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn decodes_tcp_over_ethernet() {
        let frame = tcp_frame(b"GET / HTTP/1.1\r\n\r\n");
        let Decoded::Tcp(seg) = decode_frame(LinkType::Ethernet, &frame) else { panic!() };
        assert_eq!((seg.src_port, seg.dst_port, seg.seq, seg.ack), (40000, 80, 1000, 7));
        assert_eq!(seg.payload, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(seg.missing_tail, 0);
        assert!(seg.flags.ack && !seg.flags.syn);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut frame = tcp_frame(b"x");
        frame.extend_from_slice(&[0u8; 20]);
        let Decoded::Tcp(seg) = decode_frame(LinkType::Ethernet, &frame) else { panic!() };
        assert_eq!(seg.payload, b"x");
    }

    #[test]
    fn snaplen_cut_reports_missing_tail() {
        let frame = tcp_frame(&[b'a'; 100]);
        let cut = &frame[..frame.len() - 40];
        let Decoded::Tcp(seg) = decode_frame(LinkType::Ethernet, cut) else { panic!() };
        assert_eq!((seg.payload.len(), seg.missing_tail), (60, 40));
        let header_cut = &frame[..14 + 20 + 10];
        assert!(matches!(
            decode_frame(LinkType::Ethernet, header_cut),
            Decoded::Malformed(WireAnomaly::SnaplenTruncated)
        ));
    }

    #[test]
    fn every_prefix_of_a_frame_decodes_without_panic() {
        let frame = tcp_frame(b"hello world");
        for len in 0..frame.len() {
            let _ = decode_frame(LinkType::Ethernet, &frame[..len]);
            let _ = decode_frame(LinkType::Raw, &frame[14..14 + len.min(frame.len() - 14)]);
        }
    }

    /// The Ethernet frame of `tcp_frame` as an 802.11 QoS data frame to the AP (LLC/SNAP).
    fn wifi_frame(payload: &[u8]) -> Vec<u8> {
        let eth = tcp_frame(payload);
        let mut f = vec![0x88, 0x01, 0, 0];
        f.extend_from_slice(&[0x0a; 18]);
        f.extend_from_slice(&[0x10, 0x00, 0x00, 0x00]); // sequence control, QoS control
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
        f.extend_from_slice(&eth[12..]);
        f
    }

    #[test]
    fn decodes_tcp_inside_80211_alone_and_behind_radiotap_and_ppi() {
        let wifi = wifi_frame(b"GET / HTTP/1.1\r\n\r\n");
        let mut radiotap = vec![0, 0, 8, 0, 0, 0, 0, 0];
        radiotap.extend_from_slice(&wifi);
        let mut ppi = vec![0, 0, 8, 0, 105, 0, 0, 0];
        ppi.extend_from_slice(&wifi);
        for (dlt, frame) in [(105, &wifi), (127, &radiotap), (192, &ppi)] {
            let link = LinkType::from_dlt(dlt).unwrap();
            let Decoded::Tcp(seg) = decode_frame(link, frame) else { panic!("{link:?}") };
            assert_eq!((seg.src_port, seg.dst_port, seg.payload), (40000, 80, &b"GET / HTTP/1.1\r\n\r\n"[..]));
            let RouteKey::Tcp((a, ap), (_, bp)) = route_key(link, frame) else { panic!("{link:?}") };
            assert_eq!((a.to_string(), ap, bp), ("10.0.0.1".into(), 40000, 80));
        }
        let mut protected = wifi.clone();
        protected[1] |= 0x40;
        assert!(matches!(
            decode_frame(LinkType::Ieee80211, &protected),
            Decoded::Malformed(WireAnomaly::ProtectedWifiFrame)
        ));
        assert_eq!(WireAnomaly::ProtectedWifiFrame.as_str(), "protected_wifi_frame");
    }

    #[test]
    fn ipv4_fragments_are_reported() {
        let mut frame = tcp_frame(&[b'z'; 64]);
        // Set "more fragments" on the IPv4 header (byte 6 of the IP header).
        frame[14 + 6] = 0x20;
        let Decoded::Fragment(f) = decode_frame(LinkType::Ethernet, &frame) else { panic!() };
        assert_eq!((f.offset, f.more_fragments, f.key.proto), (0, true, 6));
    }
}
