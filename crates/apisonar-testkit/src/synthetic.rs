//! Synthetic adversarial captures and the benchmark workload, each a function returning frames.

use std::io::Write;

use crate::conv::{Conversation, Frame, Side};
use crate::pcap::{LINKTYPE_ETHERNET, LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_PPI};
use crate::wifi::{self, WifiDirection};

const CLIENT: [u8; 4] = [10, 1, 0, 2];
const SERVER: [u8; 4] = [10, 1, 0, 1];
/// 2024-01-01T00:00:00Z, so that snapshots show a fixed, readable date.
pub const EPOCH: i64 = 1_704_067_200_000_000;

fn get(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: testkit/1\r\nAccept: application/json\r\n\r\n"
    )
    .into_bytes()
}

fn ok_json(body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        .into_bytes()
}

fn conv(port: u16) -> Conversation {
    let mut c = Conversation::new((CLIENT, port), (SERVER, 80), EPOCH + i64::from(port) * 1000);
    c.handshake();
    c
}

/// A named synthetic capture.
pub struct Synthetic {
    pub name: &'static str,
    pub what: &'static str,
    pub snaplen: u32,
    /// The pcap link type of the frames.
    pub linktype: u32,
    pub frames: Vec<Frame>,
}

impl Synthetic {
    /// The capture file's bytes (classic pcap).
    pub fn pcap(&self) -> std::io::Result<Vec<u8>> {
        let mut w = crate::pcap::PcapWriter::new(Vec::new(), self.linktype, self.snaplen)?;
        for f in &self.frames {
            w.write(f.ts, &f.bytes)?;
        }
        Ok(w.into_inner())
    }
}

/// Every synthetic Ethernet capture, in a fixed order.
pub fn all() -> Vec<Synthetic> {
    vec![
        out_of_order(),
        retransmission_different_bytes(),
        overlapping_segments(),
        missing_segment(),
        midstream_start(),
        huge_header_line(),
        decompression_bomb(),
        garbage_on_port_80(),
        snaplen_truncated(),
        ip_fragments(),
        secrets_in_cleartext(),
        tunnel(
            "tunnel-vxlan",
            Tunnel::Vxlan,
            "the out-of-order conversation inside VXLAN (UDP 4789), as AWS VPC Traffic Mirroring sends it",
        ),
        tunnel(
            "tunnel-geneve",
            Tunnel::Geneve,
            "the out-of-order conversation inside Geneve (UDP 6081), as GCP Packet Mirroring sends it",
        ),
        tunnel(
            "tunnel-gre-erspan2",
            Tunnel::ErspanII,
            "the out-of-order conversation inside GRE/ERSPAN type II, as a switch RSPAN/ERSPAN session sends it",
        ),
        tunnel(
            "tunnel-vlan-erspan3",
            Tunnel::ErspanIII,
            "the out-of-order conversation inside GRE/ERSPAN type III under an 802.1Q tag",
        ),
        keepalive_midstream(),
        request_body_cut(),
    ]
}

/// Every synthetic capture of another link type than Ethernet, in a fixed order.
pub fn other_link_types() -> Vec<Synthetic> {
    vec![wifi_radiotap(), wifi_ppi()]
}

/// Every synthetic capture.
pub fn everything() -> Vec<Synthetic> {
    let mut all = all();
    all.extend(other_link_types());
    all
}

/// Mirror encapsulations the testkit can wrap frames in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tunnel {
    Vxlan,
    Geneve,
    ErspanII,
    ErspanIII,
    /// Plain GRE carrying Ethernet (transparent Ethernet bridging, 0x6558), as Linux gretap and
    /// many switches' remote mirror sessions send it.
    GreEthernet,
}

/// Wraps one Ethernet frame as a mirror collector would receive it (outer 10.99.0.1 -> 10.99.0.2).
pub fn encapsulate(kind: Tunnel, frame: &[u8], seq: u32) -> Vec<u8> {
    use etherparse::{Ethernet2Header, IpNumber, Ipv4Header, PacketBuilder, SingleVlanHeader, VlanId};
    let (src, dst) = ([10, 99, 0, 1], [10, 99, 0, 2]);
    let mut out = Vec::with_capacity(frame.len() + 64);
    match kind {
        Tunnel::Vxlan | Tunnel::Geneve => {
            let mut payload = match kind {
                Tunnel::Vxlan => vec![0x08, 0, 0, 0, 0, 0x12, 0x34, 0],
                _ => vec![0x00, 0x00, 0x65, 0x58, 0, 0x12, 0x34, 0],
            };
            payload.extend_from_slice(frame);
            let port = if kind == Tunnel::Vxlan { 4789 } else { 6081 };
            let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 10])
                .ipv4(src, dst, 64)
                .udp(49152 + (seq % 1000) as u16, port);
            let _ = b.write(&mut out, &payload);
        }
        Tunnel::ErspanII | Tunnel::ErspanIII | Tunnel::GreEthernet => {
            let mut gre = vec![0x10, 0x00];
            let proto = match kind {
                Tunnel::ErspanII => 0x88beu16,
                Tunnel::ErspanIII => 0x22eb,
                _ => 0x6558,
            };
            gre.extend_from_slice(&proto.to_be_bytes());
            gre.extend_from_slice(&seq.to_be_bytes());
            if kind == Tunnel::ErspanII {
                gre.extend_from_slice(&[0x10, 0x00, 0x00, 0x01, 0, 0, 0, 0]);
            } else if kind == Tunnel::ErspanIII {
                gre.extend_from_slice(&[0x20, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
            }
            gre.extend_from_slice(frame);
            let ip = Ipv4Header::new(gre.len() as u16, 64, IpNumber::GRE, src, dst).unwrap_or_default();
            let mut ip = ip;
            ip.header_checksum = ip.calc_header_checksum();
            if kind == Tunnel::ErspanIII {
                let eth = Ethernet2Header {
                    source: [2, 0, 0, 0, 0, 9],
                    destination: [2, 0, 0, 0, 0, 10],
                    ether_type: etherparse::EtherType::VLAN_TAGGED_FRAME,
                };
                let _ = eth.write(&mut out);
                let vlan = SingleVlanHeader {
                    pcp: etherparse::VlanPcp::ZERO,
                    drop_eligible_indicator: false,
                    vlan_id: VlanId::try_new(300).unwrap_or_default(),
                    ether_type: etherparse::EtherType::IPV4,
                };
                let _ = vlan.write(&mut out);
            } else {
                let eth = Ethernet2Header {
                    source: [2, 0, 0, 0, 0, 9],
                    destination: [2, 0, 0, 0, 0, 10],
                    ether_type: etherparse::EtherType::IPV4,
                };
                let _ = eth.write(&mut out);
            }
            let _ = ip.write(&mut out);
            out.extend_from_slice(&gre);
        }
    }
    out
}

fn tunnel(name: &'static str, kind: Tunnel, what: &'static str) -> Synthetic {
    let plain = out_of_order();
    let frames = plain
        .frames
        .iter()
        .enumerate()
        .map(|(i, f)| Frame { ts: f.ts, bytes: encapsulate(kind, &f.bytes, i as u32) })
        .collect();
    Synthetic { name, what, snaplen: 65535, linktype: LINKTYPE_ETHERNET, frames }
}

/// Station addresses of the monitor-mode captures.
const WIFI_CLIENT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const WIFI_OTHER_STATION: [u8; 6] = [0x02, 0, 0, 0, 0, 0x33];

/// The out-of-order conversation as a monitor-mode radio sees it: every frame an 802.11 data
/// frame (client frames QoS data to the AP, server frames plain data from the AP, or four-address
/// frames between access points with `bridged`), and around them a beacon, a null frame and a
/// protected frame of another station.
fn wifi_frames(bridged: bool) -> Vec<Frame> {
    let plain = out_of_order();
    let mut seq = 0u16;
    let mut next_seq = || {
        seq = seq.wrapping_add(1) & 0x0fff;
        seq
    };
    let first_ts = plain.frames.first().map_or(EPOCH, |f| f.ts);
    let mut out = vec![
        Frame { ts: first_ts - 500, bytes: wifi::beacon(next_seq()) },
        Frame { ts: first_ts - 400, bytes: wifi::null_frame(WIFI_CLIENT, next_seq()) },
        Frame { ts: first_ts - 300, bytes: wifi::protected_data_frame(WIFI_OTHER_STATION, wifi::BSSID, next_seq()) },
    ];
    for f in &plain.frames {
        // IPv4 source address: the client (10.1.0.2) sends to the AP, the server's answers come from it.
        let from_client = f.bytes.get(26..30) == Some(&CLIENT[..]);
        let (dir, qos) = match (from_client, bridged) {
            (true, _) => (WifiDirection::ToAp, true),
            (false, false) => (WifiDirection::FromAp, false),
            (false, true) => (WifiDirection::Bridge, true),
        };
        out.push(Frame { ts: f.ts, bytes: wifi::data_frame(&f.bytes, dir, qos, next_seq()) });
    }
    out
}

/// The out-of-order conversation captured on an 802.11 monitor interface (radiotap, FCS kept).
pub fn wifi_radiotap() -> Synthetic {
    let frames = wifi_frames(false)
        .into_iter()
        .map(|f| Frame { ts: f.ts, bytes: wifi::radiotap(&f.bytes, (f.ts - EPOCH) as u64) })
        .collect();
    Synthetic {
        name: "wifi-radiotap",
        what: "the out-of-order conversation in 802.11 data frames behind radiotap headers",
        snaplen: 65535,
        linktype: LINKTYPE_IEEE802_11_RADIOTAP,
        frames,
    }
}

/// The same behind PPI headers, the server's frames in the four-address form.
pub fn wifi_ppi() -> Synthetic {
    let frames = wifi_frames(true)
        .into_iter()
        .map(|f| Frame { ts: f.ts, bytes: wifi::ppi(&f.bytes, (f.ts - EPOCH) as u64) })
        .collect();
    Synthetic {
        name: "wifi-ppi",
        what: "the out-of-order conversation in 802.11 data frames behind PPI headers",
        snaplen: 65535,
        linktype: LINKTYPE_PPI,
        frames,
    }
}

/// The capture starts on an idle keep-alive connection: the client's first segment is a TCP
/// keep-alive probe (one old byte at the next sequence number minus one), then the requests.
pub fn keepalive_midstream() -> Synthetic {
    let mut c = Conversation::new((CLIENT, 40013), (SERVER, 80), EPOCH + 40_013_000);
    let probe_seq = c.seq(Side::Client).wrapping_sub(1);
    let probe = c.frame(Side::Client, probe_seq, "A", &[0]);
    c.push(probe);
    c.ack(Side::Client);
    c.advance(45_000_000);
    let probe = c.frame(Side::Client, probe_seq, "A", &[0]);
    c.push(probe);
    c.ack(Side::Client);
    c.send(Side::Client, &get("/api/v1/after-keepalive"));
    c.send(Side::Server, &ok_json("{\"alive\":true}"));
    c.send(Side::Client, &get("/api/v1/second"));
    c.send(Side::Server, &ok_json("{}"));
    c.close();
    finish(
        "keepalive-midstream",
        "no handshake; the client's first segments are keep-alive probes (one byte at seq-1), then two requests",
        c,
    )
}

/// A POST whose last body segments the capture missed, while the server's answer (which
/// acknowledges the whole body) arrives; then a second request on the same connection.
pub fn request_body_cut() -> Synthetic {
    let mut c = conv(40014);
    let body = format!("{{\"items\":[{}]}}", vec!["{\"sku\":\"A-1\",\"qty\":2}"; 240].join(","));
    let mut req = format!(
        "POST /api/v1/orders HTTP/1.1\r\nHost: api.example.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body.as_bytes());
    let segs = c.segments(Side::Client, &req, 1448);
    let kept = segs.len().saturating_sub(2);
    for (_, f) in segs.into_iter().take(kept) {
        c.push(f);
    }
    c.ack(Side::Client);
    c.send(
        Side::Server,
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"id\":\"o-1\"}",
    );
    c.send(Side::Client, &get("/api/v1/orders/o-1"));
    c.send(Side::Server, &ok_json("{\"id\":\"o-1\"}"));
    c.close();
    finish(
        "request-body-cut",
        "the capture missed the last two segments of a POST body; the 201 acknowledging all of it arrives, then a GET",
        c,
    )
}

/// Values planted in `secrets_in_cleartext`, which must never reach the store or the logs.
pub const PLANTED_SECRETS: &[&str] = &[
    "Tr0ub4dor-planted",
    "YWxpY2U6VHIwdWI0ZG9yLXBsYW50ZWQ=",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkLWFsaWNlIn0.cGxhbnRlZC1zaWduYXR1cmU",
    "planted-session-cookie-7781",
    "planted-api-key-1234567890abcdef",
    "4111111111111111",
    "123-45-6789",
    "DE89370400440532013000",
    "hunter2-planted",
    "planted.user07@example.org",
];

/// A small shop API over cleartext HTTP carrying every kind of secret: a form login, Basic and
/// Bearer (JWT) auth, a session cookie, an API key, card/SSN/IBAN in a JSON body, a user list
/// with many e-mail addresses, and a response that hands out a password.
pub fn secrets_in_cleartext() -> Synthetic {
    let mut c = conv(40012);
    let send = |c: &mut Conversation, req: String, resp: String| {
        c.send(Side::Client, req.as_bytes());
        c.send(Side::Server, resp.as_bytes());
    };
    let json = |body: &str| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
    };
    let form = "username=alice&password=Tr0ub4dor-planted";
    send(
        &mut c,
        format!("POST /login HTTP/1.1\r\nHost: shop.example.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}", form.len()),
        "HTTP/1.1 302 Found\r\nLocation: /home\r\nSet-Cookie: sessionid=planted-session-cookie-7781; HttpOnly\r\nContent-Length: 0\r\n\r\n".into(),
    );
    send(
        &mut c,
        "GET /api/me HTTP/1.1\r\nHost: shop.example.test\r\nAuthorization: Basic YWxpY2U6VHIwdWI0ZG9yLXBsYW50ZWQ=\r\nCookie: theme=dark; sessionid=planted-session-cookie-7781\r\n\r\n".into(),
        json("{\"name\":\"alice\"}"),
    );
    send(
        &mut c,
        "GET /api/orders HTTP/1.1\r\nHost: shop.example.test\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkLWFsaWNlIn0.cGxhbnRlZC1zaWduYXR1cmU\r\nX-API-Key: planted-api-key-1234567890abcdef\r\n\r\n".into(),
        json("[]"),
    );
    let payment =
        "{\"card\":\"4111111111111111\",\"ssn\":\"123-45-6789\",\"iban\":\"DE89370400440532013000\",\"amount\":12.5}";
    send(
        &mut c,
        format!("POST /api/payments HTTP/1.1\r\nHost: shop.example.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payment}", payment.len()),
        json("{\"status\":\"accepted\"}"),
    );
    let users: Vec<String> =
        (0..12).map(|i| format!("{{\"id\":{i},\"email\":\"planted.user{i:02}@example.org\"}}")).collect();
    send(
        &mut c,
        "GET /api/users HTTP/1.1\r\nHost: shop.example.test\r\n\r\n".into(),
        json(&format!("[{}]", users.join(","))),
    );
    send(
        &mut c,
        "GET /api/debug/config HTTP/1.1\r\nHost: shop.example.test\r\n\r\n".into(),
        json("{\"db_user\":\"shop\",\"db_password\":\"hunter2-planted\"}"),
    );
    c.close();
    finish(
        "secrets-in-cleartext",
        "credentials, card/SSN/IBAN and bulk e-mails over cleartext HTTP (planted values)",
        c,
    )
}

fn finish(name: &'static str, what: &'static str, c: Conversation) -> Synthetic {
    Synthetic { name, what, snaplen: 65535, linktype: LINKTYPE_ETHERNET, frames: c.frames }
}

/// Request and response segments delivered in shuffled order.
pub fn out_of_order() -> Synthetic {
    let mut c = conv(40001);
    let req = get("/api/v1/users/42");
    let mut segs = c.segments(Side::Client, &req, 30);
    segs.swap(0, 2);
    segs.reverse();
    for (_, f) in segs {
        c.push(f);
    }
    c.ack(Side::Client);
    let body = format!("{{\"id\":42,\"name\":\"{}\"}}", "x".repeat(3000));
    let resp = ok_json(&body);
    let mut segs = c.segments(Side::Server, &resp, 1000);
    segs.swap(1, 3);
    for (_, f) in segs {
        c.push(f);
    }
    c.ack(Side::Server);
    c.close();
    finish("out-of-order", "request and response segments arrive out of order", c)
}

/// A retransmitted segment whose bytes differ from the original (an evasion attempt).
pub fn retransmission_different_bytes() -> Synthetic {
    let mut c = conv(40002);
    let req = get("/api/v1/orders");
    let segs = c.segments(Side::Client, &req, 20);
    let (seq0, first) = segs[0].clone();
    c.push(first);
    let forged = c.frame(Side::Client, seq0, "PA", b"GET /admin/secrets  ");
    c.push(forged);
    for (_, f) in segs.into_iter().skip(1) {
        c.push(f);
    }
    c.ack(Side::Client);
    c.send(Side::Server, &ok_json("[]"));
    c.close();
    finish("retransmission-different-bytes", "a retransmission of the first request segment carries other bytes", c)
}

/// Out-of-order segments that overlap each other, once with the same bytes, once with others.
pub fn overlapping_segments() -> Synthetic {
    let mut c = conv(40003);
    let req = get("/api/v1/items?page=2");
    let base = c.seq(Side::Client);
    let _ = c.segments(Side::Client, &req, req.len());
    let at = |off: usize| base.wrapping_add(off as u32);
    // [10..40) first, then [30..60) agreeing on 30..40, then [35..45) disagreeing, then [0..10).
    let f1 = c.frame(Side::Client, at(10), "PA", &req[10..40]);
    let f2 = c.frame(Side::Client, at(30), "PA", &req[30..60]);
    let mut bad = req[35..45].to_vec();
    bad.iter_mut().for_each(|b| *b = b'Z');
    let f3 = c.frame(Side::Client, at(35), "PA", &bad);
    let f4 = c.frame(Side::Client, at(0), "PA", &req[0..10]);
    let f5 = c.frame(Side::Client, at(60), "PA", &req[60..]);
    for f in [f1, f2, f3, f4, f5] {
        c.push(f);
    }
    c.ack(Side::Client);
    c.send(Side::Server, &ok_json("{\"items\":[]}"));
    c.close();
    finish("overlapping-segments", "overlapping out-of-order segments, one overlap with conflicting bytes", c)
}

/// A response segment never captured; the next request/response pair must still be parsed.
pub fn missing_segment() -> Synthetic {
    let mut c = conv(40004);
    c.send(Side::Client, &get("/api/v1/reports/1"));
    let body = "r".repeat(4000);
    let resp = ok_json(&body);
    let segs = c.segments(Side::Server, &resp, 1000);
    for (i, (_, f)) in segs.into_iter().enumerate() {
        if i != 2 {
            c.push(f);
        }
    }
    c.ack(Side::Server);
    c.send(Side::Client, &get("/api/v1/reports/2"));
    let chunked = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n3\r\n10}\r\n0\r\n\r\n";
    c.send(Side::Server, chunked.as_bytes());
    c.close();
    finish("missing-segment", "one response segment is missing (gap inside a Content-Length body)", c)
}

/// The capture starts mid-connection: no handshake, the first bytes are the middle of a body.
pub fn midstream_start() -> Synthetic {
    let mut c = Conversation::new((CLIENT, 40005), (SERVER, 8080), EPOCH + 40_005_000);
    c.send(Side::Server, b"tail of an earlier response body}\r\n");
    c.send(Side::Client, &get("/api/v1/health"));
    c.send(Side::Server, &ok_json("{\"status\":\"ok\"}"));
    c.send(Side::Client, &get("/api/v1/version"));
    c.send(Side::Server, &ok_json("{\"version\":\"1.2.3\"}"));
    finish("midstream-start", "no handshake; the stream starts inside an earlier body on port 8080", c)
}

/// A 64 KiB header line (beyond the head limit), then a normal request on the same connection.
pub fn huge_header_line() -> Synthetic {
    let mut c = conv(40006);
    let mut req = b"GET /api/v1/big HTTP/1.1\r\nHost: api.example.test\r\nX-Filler: ".to_vec();
    req.extend(std::iter::repeat_n(b'A', 64 * 1024));
    req.extend_from_slice(b"\r\n\r\n");
    c.send(Side::Client, &req);
    c.send(Side::Server, b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n");
    c.send(Side::Client, &get("/api/v1/small"));
    c.send(Side::Server, &ok_json("{}"));
    c.close();
    finish("huge-header-line", "a request with a 64 KiB header line, then a normal request", c)
}

/// A gzip response that inflates to 100 MB.
pub fn decompression_bomb() -> Synthetic {
    let mut c = conv(40007);
    c.send(Side::Client, &get("/api/v1/export"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        let _ = gz.write_all(&zeros);
    }
    let body = gz.finish().unwrap_or_default();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(&body);
    c.send(Side::Server, &resp);
    c.close();
    finish("decompression-bomb", "a gzip body of about 100 KB that inflates to 100 MB", c)
}

/// Binary garbage on port 80 followed by nothing HTTP-like, and a second connection where
/// garbage precedes a valid request.
pub fn garbage_on_port_80() -> Synthetic {
    let mut c = conv(40008);
    let mut state = 0x1234_5678u32;
    let garbage: Vec<u8> = (0..3000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    c.send(Side::Client, &garbage);
    c.send(Side::Server, &garbage[..500]);
    c.close();
    let mut d = Conversation::new((CLIENT, 40009), (SERVER, 80), c.now() + 1000);
    d.handshake();
    let mut req = garbage[..200].to_vec();
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(&get("/after/garbage"));
    d.send(Side::Client, &req);
    d.send(Side::Server, &ok_json("{}"));
    d.close();
    let mut frames = c.frames;
    frames.extend(d.frames);
    Synthetic {
        name: "garbage-on-port-80",
        what: "random bytes on port 80; then garbage before a valid request",
        snaplen: 65535,
        linktype: LINKTYPE_ETHERNET,
        frames,
    }
}

/// Captured with a 200-byte snaplen: heads survive, bodies are cut.
pub fn snaplen_truncated() -> Synthetic {
    let mut c = conv(40010);
    c.send(Side::Client, &get("/api/v1/users"));
    let body = format!("[{}]", vec!["{\"id\":1}"; 200].join(","));
    c.send(Side::Server, &ok_json(&body));
    c.send(Side::Client, &get("/api/v1/users/1"));
    c.send(Side::Server, &ok_json("{\"id\":1}"));
    c.close();
    Synthetic {
        name: "snaplen-truncated",
        what: "captured with snaplen 200: every long segment is cut",
        snaplen: 200,
        linktype: LINKTYPE_ETHERNET,
        frames: c.frames,
    }
}

/// A request carried in IPv4 fragments, out of order.
pub fn ip_fragments() -> Synthetic {
    let mut c = conv(40011);
    let mut req = b"POST /api/v1/upload HTTP/1.1\r\nHost: api.example.test\r\nContent-Type: application/json\r\nContent-Length: 1200\r\n\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'7', 1200));
    let segs = c.segments(Side::Client, &req, req.len());
    for (_, frame) in segs {
        let mut frags = fragment_ipv4(&frame, 512);
        frags.reverse();
        for f in frags {
            c.push(f);
        }
    }
    c.ack(Side::Client);
    c.send(Side::Server, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    c.close();
    finish("ip-fragments", "a request segment split into IPv4 fragments delivered in reverse order", c)
}

/// Splits an Ethernet+IPv4 frame into IPv4 fragments carrying at most `max` payload bytes each.
pub fn fragment_ipv4(frame: &[u8], max: usize) -> Vec<Vec<u8>> {
    fragment_ipv4_with_id(frame, max, 0x4242)
}

/// [`fragment_ipv4`] with this IP identification (datagrams of one address pair need their own).
pub fn fragment_ipv4_with_id(frame: &[u8], max: usize, id: u16) -> Vec<Vec<u8>> {
    let (eth, ip) = frame.split_at(14);
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let (header, payload) = ip.split_at(ihl);
    let step = (max / 8).max(1) * 8;
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < payload.len() {
        let end = (offset + step).min(payload.len());
        let mut h = header.to_vec();
        let total = (ihl + end - offset) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&id.to_be_bytes());
        let more = if end < payload.len() { 0x2000 } else { 0 };
        let flags = more | (offset / 8) as u16;
        h[6..8].copy_from_slice(&flags.to_be_bytes());
        h[10..12].copy_from_slice(&[0, 0]);
        let sum = checksum(&h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        let mut f = eth.to_vec();
        f.extend_from_slice(&h);
        f.extend_from_slice(&payload[offset..end]);
        out.push(f);
        offset = end;
    }
    out
}

fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    /// tests/tests/synthetic.rs checks the Ethernet captures; these are written with their own
    /// link types.
    #[test]
    fn committed_captures_of_other_link_types_are_up_to_date() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures/synthetic");
        for s in super::other_link_types() {
            let path = dir.join(format!("{}.pcap", s.name));
            let committed = std::fs::read(&path).unwrap_or_default();
            let generated = s.pcap().unwrap_or_default();
            assert!(
                committed == generated,
                "{} is stale: run `cargo run -p apisonar-testkit --bin make-captures`",
                path.display()
            );
        }
    }

    #[test]
    fn every_capture_has_a_distinct_name() {
        let mut names: Vec<&str> = super::everything().iter().map(|s| s.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
