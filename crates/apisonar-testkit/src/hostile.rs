//! Hostile captures for the adversarial suite and its memory benchmark: what a sensor in front
//! of the internet must survive. Each generator streams frames to a pcap writer (some are
//! large: a million SYNs, 100,000 hosts), at a fixed packet clock so files are reproducible.

use std::io::{self, Write};

use etherparse::PacketBuilder;

use crate::conv::{Conversation, Side};
use crate::pcap::{PcapWriter, LINKTYPE_ETHERNET};
use crate::synthetic::EPOCH;
use crate::workload::Rng;

/// The hostile captures: name, what it holds.
pub const CAPTURES: &[(&str, &str)] = &[
    ("multibyte-values", "multi-byte characters at every position of every value length 1-40 in every field"),
    ("many-hosts", "100,000 requests, each with a distinct Host header"),
    ("random-404", "100,000 requests for random paths on one host, all answered 404"),
    ("many-methods", "10,000 requests with random methods on one host"),
    ("tls-16mib", "TLS handshakes whose second message declares 16 MiB, then 2 MiB of records"),
    ("decompression-bombs", "gzip, zlib and chunked gzip responses that inflate to 64 MiB each"),
    ("huge-headers", "2,000 connections whose requests send 64 KiB of header lines and never end the head"),
    ("million-syns", "1,000,000 SYNs from distinct client ports and addresses"),
    ("query-secrets", "requests carrying passwords, tokens and card numbers in query strings"),
    ("random-requests", "10,000 requests with random characters (multi-byte, %, {, }) in paths, hosts and bodies"),
    (
        "fragment-flood",
        "15,000 IPv4 datagrams of one address pair sent without their first fragment (44 MB that never completes), around 200 requests on that pair",
    ),
];

/// Writes the hostile capture `name` to `out`; `Ok(false)` if there is no such capture.
pub fn write(name: &str, out: impl Write) -> io::Result<bool> {
    let mut w = PcapWriter::new(io::BufWriter::with_capacity(1 << 20, out), LINKTYPE_ETHERNET, 65535)?;
    match name {
        "multibyte-values" => multibyte_values(&mut w)?,
        "many-hosts" => many_hosts(&mut w, 100_000)?,
        "random-404" => random_404(&mut w, 100_000)?,
        "many-methods" => many_methods(&mut w, 10_000)?,
        "tls-16mib" => tls_16mib(&mut w)?,
        "decompression-bombs" => decompression_bombs(&mut w, 64)?,
        "huge-headers" => huge_headers(&mut w, 2_000)?,
        "million-syns" => syns(&mut w, 1_000_000)?,
        "query-secrets" => query_secrets(&mut w)?,
        "random-requests" => random_requests(&mut w, 10_000)?,
        "fragment-flood" => fragment_flood(&mut w, 15_000)?,
        _ => return Ok(false),
    }
    w.into_inner().flush()?;
    Ok(true)
}

/// The secrets `query-secrets` carries (tests look for them in outputs).
pub const QUERY_SECRETS: &[&str] =
    &["hunter2-in-the-query", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "4111111111111111"];

type Out<'a, W> = &'a mut PcapWriter<W>;

fn flush<W: Write>(w: Out<'_, W>, c: &mut Conversation) -> io::Result<()> {
    for f in c.frames.drain(..) {
        w.write(f.ts, &f.bytes)?;
    }
    Ok(())
}

/// Client address number `n` in 10.x.y.z, and a connection from it.
fn client(n: u32) -> [u8; 4] {
    let [_, a, b, c] = n.to_be_bytes();
    [10, a, b, c.max(1)]
}

fn connection(n: u32, start: i64) -> Conversation {
    let mut c =
        Conversation::new((client(n), 40_000u16.wrapping_add((n % 20_000) as u16)), ([192, 0, 2, 1], 80), start)
            .with_step(20);
    c.handshake();
    c
}

const NOT_FOUND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{\"error\":\"not found\"}";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";

/// Values of every length 1..=40 with `ch` at every position; the other characters follow a
/// pattern that classifiers look at (digits, with a letter at the end like an id number).
pub fn multibyte_samples() -> Vec<String> {
    let mut out = Vec::new();
    for ch in ['é', '€', '𝄞'] {
        for len in 1..=40usize {
            for at in 0..len {
                let v: String = (0..len)
                    .map(|i| {
                        if i == at {
                            ch
                        } else if i + 1 == len {
                            'Z'
                        } else {
                            char::from(b'0' + (i % 10) as u8)
                        }
                    })
                    .collect();
                out.push(v);
            }
        }
    }
    out
}

fn multibyte_values<W: Write>(w: Out<'_, W>) -> io::Result<()> {
    let samples = multibyte_samples();
    for (n, batch) in samples.chunks(100).enumerate() {
        let mut c = connection(n as u32, EPOCH + n as i64 * 1_000_000);
        for v in batch {
            let json = format!(r#"{{"dni":"{v}","email":"{v}","card":"{v}","items":["{v}"]}}"#);
            let form = format!("dni={v}&card={v}&password={v}");
            let req = format!(
                "POST /v/{v}/x?q={v}&iban={v}&{v}={v} HTTP/1.1\r\nHost: {v}.example.test\r\nX-Value: {v}\r\n\
                 Authorization: Bearer {v}\r\nCookie: sid={v}; {v}={v}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{json}",
                json.len()
            );
            c.send(Side::Client, req.as_bytes());
            let body = format!(r#"{{"echo":"{v}","phone":"{v}"}}"#);
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: session={v}\r\nX-Echo: {v}\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            c.send(Side::Server, resp.as_bytes());
            let req = format!(
                "POST /f HTTP/1.1\r\nHost: api.example.test\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: {}\r\n\r\n{form}",
                form.len()
            );
            c.send(Side::Client, req.as_bytes());
            c.send(Side::Server, OK);
        }
        c.close();
        flush(w, &mut c)?;
    }
    Ok(())
}

fn many_hosts<W: Write>(w: Out<'_, W>, hosts: u32) -> io::Result<()> {
    let per_connection = 1_000;
    for n in 0..hosts.div_ceil(per_connection) {
        let mut c = connection(n, EPOCH + i64::from(n) * 1_000_000);
        for i in 0..per_connection {
            let host = n * per_connection + i;
            let req = format!("GET /api/items HTTP/1.1\r\nHost: h{host}.example.test\r\nUser-Agent: testkit\r\n\r\n");
            c.send(Side::Client, req.as_bytes());
            c.send(Side::Server, OK);
        }
        c.close();
        flush(w, &mut c)?;
    }
    Ok(())
}

fn random_404<W: Write>(w: Out<'_, W>, requests: u32) -> io::Result<()> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let per_connection = 1_000;
    for n in 0..requests.div_ceil(per_connection) {
        let mut c = connection(n % 4, EPOCH + i64::from(n) * 1_000_000);
        for _ in 0..per_connection {
            let depth = 1 + rng.below(4) as usize;
            let path: String = (0..depth)
                .map(|_| {
                    let len = 3 + rng.below(10) as usize;
                    format!("/{}", rng.word(len))
                })
                .collect();
            let req = format!("GET {path} HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: testkit\r\n\r\n");
            c.send(Side::Client, req.as_bytes());
            c.send(Side::Server, NOT_FOUND);
        }
        c.close();
        flush(w, &mut c)?;
    }
    Ok(())
}

fn many_methods<W: Write>(w: Out<'_, W>, requests: u32) -> io::Result<()> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut c = connection(1, EPOCH);
    for i in 0..requests {
        let method = rng.word(6).to_ascii_uppercase();
        let req = format!("{method} /api/items/{} HTTP/1.1\r\nHost: api.example.test\r\n\r\n", i % 7);
        c.send(Side::Client, req.as_bytes());
        c.send(Side::Server, OK);
    }
    c.close();
    flush(w, &mut c)
}

fn tls_16mib<W: Write>(w: Out<'_, W>) -> io::Result<()> {
    for n in 0..4u32 {
        let mut c = Conversation::new((client(n), 50_000), ([192, 0, 2, 1], 443), EPOCH + i64::from(n) * 1_000_000);
        c.handshake();
        let hello = crate::tls::handshake(1, &crate::tls::client_hello("victim.example.test"));
        c.send(Side::Client, &crate::tls::records(22, &hello));
        let mut huge = crate::tls::handshake(2, &crate::tls::server_hello());
        huge.extend_from_slice(&crate::tls::handshake_header(11, 16 * 1024 * 1024 - 1));
        huge.extend(std::iter::repeat_n(0x41u8, 2 * 1024 * 1024));
        c.send(Side::Server, &crate::tls::records(22, &huge));
        c.close();
        flush(w, &mut c)?;
    }
    Ok(())
}

fn decompression_bombs<W: Write>(w: Out<'_, W>, mebibytes: usize) -> io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let gzip = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..mebibytes {
            e.write_all(&zeros)?;
        }
        e.finish()?
    };
    let zlib = {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..mebibytes {
            e.write_all(&zeros)?;
        }
        e.finish()?
    };
    let responses: Vec<Vec<u8>> = vec![
        [
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", gzip.len()).into_bytes(),
            gzip.clone(),
        ]
        .concat(),
        [
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: deflate\r\nContent-Length: {}\r\n\r\n", zlib.len()).into_bytes(),
            zlib,
        ]
        .concat(),
        {
            let mut chunked = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for chunk in gzip.chunks(4096) {
                chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                chunked.extend_from_slice(chunk);
                chunked.extend_from_slice(b"\r\n");
            }
            chunked.extend_from_slice(b"0\r\n\r\n");
            chunked
        },
    ];
    for (n, resp) in responses.iter().enumerate() {
        let mut c = connection(n as u32, EPOCH + n as i64 * 1_000_000);
        c.send(
            Side::Client,
            b"GET /api/export HTTP/1.1\r\nHost: api.example.test\r\nAccept-Encoding: gzip, deflate\r\n\r\n",
        );
        c.send(Side::Server, resp);
        c.close();
        flush(w, &mut c)?;
    }
    Ok(())
}

fn huge_headers<W: Write>(w: Out<'_, W>, connections: u32) -> io::Result<()> {
    let line = format!("X-Filler: {}\r\n", "A".repeat(1000));
    let mut head = b"GET /api/items HTTP/1.1\r\nHost: api.example.test\r\n".to_vec();
    while head.len() < 64 * 1024 {
        head.extend_from_slice(line.as_bytes());
    }
    // All connections open and send their heads before any closes: the sensor holds them at once.
    let mut open: Vec<Conversation> = (0..connections).map(|n| connection(n, EPOCH + i64::from(n) * 100)).collect();
    for c in &mut open {
        c.send(Side::Client, &head);
        flush(w, c)?;
    }
    for c in &mut open {
        c.close();
        flush(w, c)?;
    }
    Ok(())
}

fn syns<W: Write>(w: Out<'_, W>, count: u32) -> io::Result<()> {
    let mut frame = Vec::with_capacity(64);
    for n in 0..count {
        frame.clear();
        let [_, a, b, c] = n.to_be_bytes();
        let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, a, b, c], [192, 0, 2, 1], 64)
            .tcp(1024u16.wrapping_add((n % 60_000) as u16), 80, n.wrapping_mul(2_654_435_761), 65535)
            .syn();
        builder.write(&mut frame, &[]).map_err(io::Error::other)?;
        w.write(EPOCH + i64::from(n) * 10, &frame)?;
    }
    Ok(())
}

/// `datagrams` fragmented TCP segments between one address pair, each missing its first
/// fragment (so none completes and the reassembly limits must hold), with a keep-alive
/// connection of the same pair answering a request every 75 datagrams.
fn fragment_flood<W: Write>(w: Out<'_, W>, datagrams: u32) -> io::Result<()> {
    let mut api = Conversation::new(([10, 9, 0, 1], 40_000), ([10, 9, 0, 2], 80), EPOCH);
    api.handshake();
    flush(w, &mut api)?;
    let junk = Conversation::new(([10, 9, 0, 1], 41_000), ([10, 9, 0, 2], 80), EPOCH);
    let payload = vec![b'x'; 2900];
    for n in 0..datagrams {
        let segment = junk.frame(Side::Client, n.wrapping_mul(2900), "PA", &payload);
        let id = (n % 65_536) as u16;
        for piece in crate::synthetic::fragment_ipv4_with_id(&segment, 1400, id).into_iter().skip(1) {
            w.write(EPOCH + i64::from(n) * 20, &piece)?;
        }
        if n % 75 == 0 {
            api.send(Side::Client, format!("GET /api/items/{n} HTTP/1.1\r\nHost: frag.test\r\n\r\n").as_bytes());
            api.send(Side::Server, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
            flush(w, &mut api)?;
        }
    }
    api.close();
    flush(w, &mut api)
}

/// Characters a careless parser or output trips on: multi-byte text, percent signs, braces,
/// quotes, and the punctuation URLs allow.
const NASTY: &[char] = &[
    'a', 'b', 'z', '0', '7', '9', '-', '_', '.', '~', '%', '{', '}', '\'', '"', '(', ')', '*', '+', ',', ';', '=', ':',
    '@', '!', '$', '&', '[', ']', '|', '^', '`', '<', '>', 'é', '€', '𝄞', 'ß', 'ı', '\u{202e}',
];

fn nasty(rng: &mut Rng, len: usize) -> String {
    (0..len).filter_map(|_| NASTY.get(rng.below(NASTY.len() as u64) as usize)).collect()
}

fn random_requests<W: Write>(w: Out<'_, W>, requests: u32) -> io::Result<()> {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    // Odd host names, a few of them (one document is exported per host).
    let odd_hosts: Vec<String> = (0..20).map(|_| format!("{}.example.test", nasty(&mut rng, 4))).collect();
    let per_connection = 500;
    for n in 0..requests.div_ceil(per_connection) {
        let mut c = connection(n, EPOCH + i64::from(n) * 1_000_000);
        for _ in 0..per_connection {
            let depth = 1 + rng.below(4) as usize;
            let path: String = (0..depth)
                .map(|_| {
                    let len = 1 + rng.below(12) as usize;
                    format!("/{}", nasty(&mut rng, len))
                })
                .collect();
            // A few hosts, some of them odd, so documents are made per host.
            let host = match rng.below(4) {
                0 => odd_hosts.get(rng.below(20) as usize).cloned().unwrap_or_default(),
                _ => format!("api{}.example.test", rng.below(30)),
            };
            let body = format!(r#"{{"{}":"{}","n":[{}]}}"#, nasty(&mut rng, 5), nasty(&mut rng, 9), rng.below(1000));
            let method = ["GET", "POST", "PUT", "DELETE"][rng.below(4) as usize];
            let req = format!(
                "{method} {path}?{}={} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                nasty(&mut rng, 3),
                nasty(&mut rng, 6),
                body.len()
            );
            c.send(Side::Client, req.as_bytes());
            let status = [200, 201, 301, 400, 401, 404, 422, 500][rng.below(8) as usize];
            let echo = format!(r#"{{"{}":"{}"}}"#, nasty(&mut rng, 4), nasty(&mut rng, 8));
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{echo}",
                echo.len()
            );
            c.send(Side::Server, resp.as_bytes());
        }
        c.close();
        flush(w, &mut c)?;
    }
    Ok(())
}

fn query_secrets<W: Write>(w: Out<'_, W>) -> io::Result<()> {
    let [password, token, card] = [QUERY_SECRETS[0], QUERY_SECRETS[1], QUERY_SECRETS[2]];
    let mut c = connection(7, EPOCH);
    for target in [
        format!("/login?user=alice&password={password}"),
        format!("/oauth/callback?access_token={token}&state=xyz"),
        format!("/pay?card={card}&amount=10"),
        "/search?q=shoes".to_string(),
    ] {
        c.send(Side::Client, format!("GET {target} HTTP/1.1\r\nHost: api.example.test\r\n\r\n").as_bytes());
        c.send(Side::Server, OK);
    }
    c.close();
    flush(w, &mut c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capture_is_made_and_readable() {
        for (name, _) in CAPTURES.iter().filter(|(n, _)| !matches!(*n, "million-syns" | "many-hosts" | "random-404")) {
            let mut bytes = Vec::new();
            assert!(write(name, &mut bytes).unwrap(), "{name}");
            let (linktype, frames) = crate::pcap::read_pcap(&bytes).unwrap();
            assert_eq!(linktype, LINKTYPE_ETHERNET);
            assert!(frames.len() > 10, "{name}: {} frames", frames.len());
        }
        assert!(!write("nothing", Vec::new()).unwrap());
        assert_eq!(multibyte_samples().len(), 3 * (1..=40).sum::<usize>());
    }
}
