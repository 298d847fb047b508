//! Mirror and overlay encapsulations: VXLAN (AWS VPC Traffic Mirroring, UDP 4789), Geneve (GCP
//! Packet Mirroring, Azure vTAP, UDP 6081), GRE with transparent Ethernet or IP, ERSPAN type II
//! and III (switch mirrors over GRE), and Teredo (IPv6 in UDP 3544). Each returns the inner
//! frame so that the decoder handles it as if it had been captured directly.

use crate::link::{be16, ETHERTYPE_IPV4, ETHERTYPE_IPV6};

/// What an encapsulation carries.
pub(crate) enum Inner<'a> {
    Ethernet(&'a [u8]),
    Ip(&'a [u8]),
}

const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;
const TEREDO_PORT: u16 = 3544;
const ETHERTYPE_TEB: u16 = 0x6558;
const ERSPAN_II: u16 = 0x88be;
const ERSPAN_III: u16 = 0x22eb;

/// The inner frame of a UDP datagram (`udp` includes the 8-byte UDP header), if it is a tunnel.
pub(crate) fn udp(udp: &[u8]) -> Option<Inner<'_>> {
    let (src, dst) = (be16(udp, 0)?, be16(udp, 2)?);
    let payload = udp.get(8..)?;
    if dst == VXLAN_PORT {
        // Flags (the I bit says the VNI is valid), reserved, VNI, reserved: 8 bytes.
        if payload.first()? & 0x08 == 0 {
            return None;
        }
        return Some(Inner::Ethernet(payload.get(8..)?));
    }
    if dst == GENEVE_PORT {
        // At most 63 words of options: the sum cannot overflow.
        let options = usize::from(payload.first()? & 0x3f).saturating_mul(4);
        let inner = payload.get(options.saturating_add(8)..)?;
        return match be16(payload, 2)? {
            ETHERTYPE_TEB => Some(Inner::Ethernet(inner)),
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(Inner::Ip(inner)),
            _ => None,
        };
    }
    if src == TEREDO_PORT || dst == TEREDO_PORT {
        // Skip Teredo authentication (0x0001) and origin indication (0x0000) headers.
        let mut p = payload;
        for _ in 0..2 {
            match p {
                [0x00, 0x01, id_len, au_len, rest @ ..] => {
                    p = rest.get(usize::from(*id_len).saturating_add(usize::from(*au_len)).saturating_add(9)..)?
                }
                [0x00, 0x00, rest @ ..] => p = rest.get(6..)?,
                _ => break,
            }
        }
        return (p.first()? >> 4 == 6).then_some(Inner::Ip(p));
    }
    None
}

/// The inner frame of a GRE packet.
pub(crate) fn gre(gre: &[u8]) -> Option<Inner<'_>> {
    let flags = be16(gre, 0)?;
    let proto = be16(gre, 2)?;
    let sequence = flags & 0x1000 != 0;
    // Each present optional field (checksum + reserved, key, sequence number) is 4 bytes.
    let optional_fields = [0x8000u16, 0x2000, 0x1000].iter().filter(|&&bit| flags & bit != 0).count();
    let payload = gre.get(optional_fields.saturating_mul(4).saturating_add(4)..)?;
    match proto {
        ETHERTYPE_TEB => Some(Inner::Ethernet(payload)),
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(Inner::Ip(payload)),
        // ERSPAN type I has no header (and no sequence number); type II has 8 bytes.
        ERSPAN_II if !sequence => Some(Inner::Ethernet(payload)),
        ERSPAN_II => Some(Inner::Ethernet(payload.get(8..)?)),
        ERSPAN_III => {
            // 12-byte header; the O flag (last bit of byte 11) adds an 8-byte platform subheader.
            let optional = payload.get(11)? & 0x01 != 0;
            Some(Inner::Ethernet(payload.get(if optional { 20 } else { 12 }..)?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    fn inner_eth(i: Option<Inner<'_>>) -> Option<Vec<u8>> {
        match i {
            Some(Inner::Ethernet(b)) => Some(b.to_vec()),
            _ => None,
        }
    }

    #[test]
    fn vxlan_geneve_gre_erspan() {
        let mut v = vec![0x30, 0x39, 0x12, 0xb5, 0, 0, 0, 0, 0x08, 0, 0, 0, 0, 0, 1, 0];
        v.push(0xaa);
        assert_eq!(inner_eth(udp(&v)), Some(vec![0xaa]));
        v[8] = 0;
        assert!(udp(&v).is_none(), "VXLAN without the I flag");
        let g = [0x30, 0x39, 0x17, 0xc1, 0, 0, 0, 0, 0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 9, 9, 9, 9, 0xbb];
        assert_eq!(inner_eth(udp(&g)), Some(vec![0xbb]));
        let gre_teb = [0x20, 0, 0x65, 0x58, 1, 2, 3, 4, 0xcc];
        assert_eq!(inner_eth(gre(&gre_teb)), Some(vec![0xcc]));
        let erspan2 = [0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0, 0, 1, 0, 0, 0, 0, 0xdd];
        assert_eq!(inner_eth(gre(&erspan2)), Some(vec![0xdd]));
        let erspan3 = [0x10, 0, 0x22, 0xeb, 0, 0, 0, 1, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xee];
        assert_eq!(inner_eth(gre(&erspan3)), Some(vec![0xee]));
        for n in 0..erspan3.len() {
            let _ = gre(&erspan3[..n]);
            let _ = udp(&g[..n.min(g.len())]);
        }
    }
}
