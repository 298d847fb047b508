//! Which of several flow engines a frame belongs to. Each engine owns its flows outright (no
//! state is shared), so the choice must send both directions of a connection, and every
//! fragment of a datagram, to the same engine: a hash of the address pair that does not depend
//! on direction. Ports are left out on purpose: fragments after the first carry none.

use std::net::IpAddr;

use apisonar_wire::{address_pair, LinkType};

fn addr_hash(a: &IpAddr) -> u64 {
    match a {
        IpAddr::V4(v4) => u64::from(u32::from(*v4)),
        IpAddr::V6(v6) => {
            let n = u128::from(*v6);
            (n as u64) ^ ((n >> 64) as u64)
        }
    }
}

/// The engine (of `engines`) for this frame; frames without IP go to the first.
pub fn engine_for(link: LinkType, frame: &[u8], engines: usize) -> usize {
    let Some((a, b)) = address_pair(link, frame) else { return 0 };
    let (x, y) = (addr_hash(&a), addr_hash(&b));
    let h = (x ^ y).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ x.min(y).rotate_left(17);
    h.checked_rem(engines as u64).unwrap_or(0) as usize
}
