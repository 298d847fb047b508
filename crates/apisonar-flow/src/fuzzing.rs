//! Checker functions for the flow layer's fuzz targets (`fuzz/`) and this crate's tests: body
//! framing and decoding, and TLS record and handshake reassembly, here; frames, HTTP streams and
//! heads in `streams`. Each runs on arbitrary input and asserts the limits and equivalences it
//! must keep.
//!
//! The input is read with [`Unstructured`]: an exhausted input reads as zeros (first choices,
//! empty byte strings), so no read fails and every input makes a case.

mod streams;

pub use streams::{frames, http2_conversation, http_conversation, tight_limits, websocket_conversation};

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use arbitrary::{Result, Unstructured};

use crate::engine::EventSink;
use crate::http::{Body, HttpConn, HttpTransaction};
use crate::tls::TlsReader;
use crate::{Anomaly, Limits, Stats, Timestamp, TlsSession};

/// A big-endian `u16` of the input (lengths and positions read as the wire writes them).
fn u16_be(u: &mut Unstructured<'_>) -> Result<u16> {
    Ok(u16::from_be_bytes(u.arbitrary()?))
}

fn endpoints() -> [SocketAddr; 2] {
    [
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 443),
    ]
}

/// Collects what a connection emits.
#[derive(Default)]
struct Collect {
    transactions: Vec<HttpTransaction>,
    tls: Vec<TlsSession>,
}

impl EventSink for Collect {
    fn on_transaction(&mut self, txn: HttpTransaction) {
        self.transactions.push(txn);
    }

    fn on_tls(&mut self, record: crate::TlsHandshake) {
        self.tls.push(record.session);
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies.

/// Content-Encoding values: the first five are single codings the checker can produce itself.
const ENCODINGS: [&str; 12] =
    ["gzip", "deflate", "deflate", "x-gzip", "br", "identity", "gzip, gzip", "GZIP", "br, gzip", "compress", "", " , "];

/// What a bomb decompresses to.
const BOMB_BYTES: usize = 32 * 1024;

/// How the checker prepared the body bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prepared {
    /// The input bytes as they are: an encoded stream the fuzzer made.
    Raw,
    /// The input compressed with the encoding (gzip, zlib or raw deflate): decoding gives it back.
    Compressed,
    /// Compressed, then cut: decoding gives a prefix of it, or nothing.
    Cut,
    /// Compressed, then one byte changed: anything but a panic or a limit broken.
    Damaged,
}

/// The input compressed as encoding `index` of [`ENCODINGS`] asks; `None` when the checker has
/// no encoder for it (br) or it is not a single coding.
fn compress(index: usize, original: &[u8]) -> Option<Vec<u8>> {
    let level = flate2::Compression::fast();
    let written = match index {
        0 | 3 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
            e.write_all(original).and_then(|()| e.finish())
        }
        1 => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
            e.write_all(original).and_then(|()| e.finish())
        }
        2 => {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
            e.write_all(original).and_then(|()| e.finish())
        }
        _ => return None,
    };
    written.ok()
}

/// One body as the checker made it, with what decoding it must give.
struct Case {
    encoding: &'static str,
    prepared: Prepared,
    original: Vec<u8>,
    encoded: Vec<u8>,
}

fn case(u: &mut Unstructured<'_>) -> Result<Case> {
    let index = u.choose_index(ENCODINGS.len())?;
    let encoding = ENCODINGS.get(index).copied().unwrap_or("gzip");
    let how = u.arbitrary::<u8>()?;
    let cut_at = usize::from(u16_be(u)?);
    let flip_at = usize::from(u16_be(u)?);
    let bomb = how & 0xe0 == 0xe0 && how & 3 != 0;
    let (original, compressed) = if bomb {
        // 32 KiB of zeros (over every decoded limit here) compress to little; made once.
        static BOMBS: std::sync::OnceLock<Vec<Option<Vec<u8>>>> = std::sync::OnceLock::new();
        let bombs = BOMBS.get_or_init(|| (0..ENCODINGS.len()).map(|i| compress(i, &[0; BOMB_BYTES])).collect());
        (vec![0; BOMB_BYTES], bombs.get(index).cloned().flatten())
    } else {
        let original = u.bytes(u.len())?.to_vec();
        let compressed = compress(index, &original);
        (original, compressed)
    };
    let (prepared, encoded) = match (how & 3, compressed) {
        (0, _) | (_, None) => (Prepared::Raw, original.clone()),
        (1, Some(c)) => (Prepared::Compressed, c),
        (2, Some(mut c)) => {
            c.truncate(cut_at.checked_rem(c.len().max(1)).unwrap_or(0));
            (Prepared::Cut, c)
        }
        (_, Some(mut c)) => {
            let len = c.len();
            if let Some(b) = flip_at.checked_rem(len).and_then(|at| c.get_mut(at)) {
                *b ^= 0x5a;
            }
            (Prepared::Damaged, c)
        }
    };
    Ok(Case { encoding, prepared, original, encoded })
}

/// Limits small enough to be reached, from two input bytes (0xff gives zero).
fn body_limits(u: &mut Unstructured<'_>) -> Result<Limits> {
    Ok(Limits {
        body_sample_bytes: usize::from(u.arbitrary::<u8>()?.wrapping_add(1)).saturating_mul(37),
        max_decoded_body_bytes: usize::from(u.arbitrary::<u8>()?.wrapping_add(1)).saturating_mul(97),
        ..streams::tight_limits()
    })
}

/// A body's limits and (for bodies the checker compressed) its decoding.
fn check_body(body: &Body, c: &Case, limits: &Limits, anomalies: &[Anomaly]) {
    assert!(
        body.sample.len() <= limits.body_sample_bytes,
        "sample {} > {}",
        body.sample.len(),
        limits.body_sample_bytes
    );
    let decoded = body.decoded.as_ref().map_or(0, Vec::len);
    assert!(decoded <= limits.max_decoded_body_bytes, "decoded {decoded} > {}", limits.max_decoded_body_bytes);
    if body.gap_bytes > 0 {
        return;
    }
    assert!(c.encoded.starts_with(&body.sample), "the sample is not the start of the body");
    let truncated = c.encoded.len() > limits.body_sample_bytes;
    assert_eq!(body.sample_truncated, truncated, "sample_truncated");
    let limit = limits.max_decoded_body_bytes;
    match c.prepared {
        Prepared::Compressed if !truncated && !body.sample.is_empty() => {
            let want = c.original.get(..limit.min(c.original.len())).unwrap_or_default();
            assert!(body.decoded.as_deref() == Some(want), "decoding does not give the body back");
            assert_eq!(
                anomalies.contains(&Anomaly::DecompressionLimit),
                c.original.len() > limit,
                "decompression limit anomaly"
            );
            assert!(!anomalies.contains(&Anomaly::ContentDecodingError), "a valid body is a decoding error");
        }
        Prepared::Compressed | Prepared::Cut => {
            if let Some(d) = &body.decoded {
                assert!(c.original.starts_with(d), "a cut body decodes to something else than its start");
            }
        }
        Prepared::Raw | Prepared::Damaged => {}
    }
}

/// The request or response framing of the HTTP path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Content-Length equal to the body: framed exactly.
    Length,
    /// Well-formed chunked encoding (sizes from the input, maybe extensions and a trailer).
    Chunked,
    /// A Content-Length from the input.
    AnyLength,
    /// Chunked with sizes from the input that need not match the data.
    AnyChunked,
    /// No framing header (a request then has no body; a response runs to the close).
    Nothing,
}

fn framing(choice: u8) -> Framing {
    match choice & 7 {
        0..=2 => Framing::Length,
        3 | 4 => Framing::Chunked,
        5 => Framing::AnyLength,
        6 => Framing::AnyChunked,
        _ => Framing::Nothing,
    }
}

/// Whether a framing delimits the body exactly (the transaction must carry it whole).
fn exact(f: Framing, response: bool) -> bool {
    matches!(f, Framing::Length | Framing::Chunked) || (response && f == Framing::Nothing)
}

fn message(start: &str, encoding: &str, f: Framing, body: &[u8], u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let mut out = format!("{start}\r\nHost: fuzz.test\r\nContent-Encoding: {encoding}\r\n").into_bytes();
    let chunk = usize::from(u.arbitrary::<u8>()?).saturating_add(1);
    let extras = u.arbitrary::<u8>()?;
    match f {
        Framing::Length => out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()),
        Framing::AnyLength => out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", u16_be(u)?).as_bytes()),
        Framing::Chunked | Framing::AnyChunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n"),
        Framing::Nothing => out.extend_from_slice(b"\r\n"),
    }
    match f {
        Framing::Chunked | Framing::AnyChunked => {
            for piece in body.chunks(chunk) {
                // Sizes off by what the input says (nothing, once it is used up).
                let size = if f == Framing::AnyChunked {
                    piece.len() ^ usize::from(u.arbitrary::<u8>()?)
                } else {
                    piece.len()
                };
                let extension = if extras & 1 == 1 { ";name=\"v\"" } else { "" };
                out.extend_from_slice(format!("{size:x}{extension}\r\n").as_bytes());
                out.extend_from_slice(piece);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(if extras & 2 == 2 { b"0\r\nX-Trailer: 1\r\n\r\n" } else { b"0\r\n\r\n" });
        }
        _ => out.extend_from_slice(body),
    }
    Ok(out)
}

/// The `body` fuzz target: one body, decoded directly and carried by a request and its
/// response on an HTTP connection. Input: the two limits, the framings, piece size, gap, six
/// framing choices, encoding, preparation, cut and flip positions, then the body (the rest).
pub fn body(data: &[u8]) {
    let read = body_case(&mut Unstructured::new(data));
    assert!(read.is_ok(), "a read failed: {read:?}");
}

fn body_case(u: &mut Unstructured<'_>) -> Result<()> {
    let limits = body_limits(u)?;
    let framings = u.arbitrary::<u8>()?;
    let (request_framing, response_framing) = (framing(framings), framing(framings >> 4));
    let piece_choice = usize::from(u.arbitrary::<u8>()?).saturating_add(1);
    let gap = u.arbitrary::<u8>()?;
    // The framing choices (chunk sizes, extensions, lengths) are read from these bytes.
    let mut choices = Unstructured::new(u.bytes(u.len().min(6))?);
    let c = case(u)?;
    // At most about 128 pieces per body (every piece costs a bound check of the connection).
    let piece = piece_choice.max(c.encoded.len().div_ceil(128));

    // Directly.
    let mut direct = Body::default();
    for p in c.encoded.chunks(piece) {
        direct.push(p, &limits);
    }
    let mut anomalies = Vec::new();
    direct.decode(Some(c.encoding.as_bytes()), &limits, &mut |a| anomalies.push(a));
    check_body(&direct, &c, &limits, &anomalies);

    // In a request and its response.
    let request = message("POST /upload HTTP/1.1", c.encoding, request_framing, &c.encoded, &mut choices)?;
    let response = message("HTTP/1.1 200 OK", c.encoding, response_framing, &c.encoded, &mut choices)?;
    let mut conn = HttpConn::new(1, endpoints());
    let mut stats = Stats::default();
    let mut out = Collect::default();
    let bound = streams::connection_bound(&limits, piece);
    for (dir, bytes) in [(0usize, &request), (1, &response)] {
        for (i, p) in bytes.chunks(piece).enumerate() {
            // A gap instead of one piece, when asked: then only the limits are checked.
            if gap != 0 && i == usize::from(gap) {
                conn.gap(dir, u32::try_from(p.len()).unwrap_or(0), Timestamp(1), &limits, &mut stats, &mut out);
            } else {
                conn.data(dir, p, Timestamp(1), &limits, &mut stats, &mut out);
            }
            assert!(conn.buffered_bytes() <= bound, "connection holds {} > {bound}", conn.buffered_bytes());
        }
    }
    conn.end(Timestamp(2), &limits, &mut stats, &mut out);
    for t in &out.transactions {
        let bodies = std::iter::once(&t.request.body).chain(t.response.as_ref().map(|r| &r.body));
        for b in bodies {
            assert!(b.sample.len() <= limits.body_sample_bytes);
            assert!(b.decoded.as_ref().map_or(0, Vec::len) <= limits.max_decoded_body_bytes);
        }
    }
    let gapped = gap != 0 && usize::from(gap) < request.len().max(response.len()).div_ceil(piece);
    if !gapped && exact(request_framing, false) && exact(response_framing, true) {
        // Framed exactly: one transaction, both bodies as if pushed directly.
        assert_eq!(out.transactions.len(), 1, "one request, one response");
        if let Some(t) = out.transactions.first() {
            assert!(t.request.complete, "the request is complete");
            assert!(t.request.body == direct, "the request body differs from the body pushed directly");
            let response = t.response.as_ref();
            assert!(response.is_some_and(|r| r.complete), "the response is complete");
            assert!(response.is_some_and(|r| r.body == direct), "the response body differs");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// TLS.

/// Record content types and handshake message types the framed mode uses.
const CONTENT_TYPES: [u8; 6] = [22, 22, 22, 21, 20, 23];
const HANDSHAKE_TYPES: [u8; 8] = [1, 2, 11, 11, 14, 4, 12, 16];

/// Checks one direction's reader after a feed.
fn check_reader(reader: &TlsReader, session: &TlsSession, limits: &Limits) {
    let limit = limits.max_tls_handshake_bytes;
    // Records and messages each within the limit (a record's payload may complete a message
    // held whole), and growth at most doubling either.
    assert!(reader.buffered_bytes() <= limit.saturating_mul(6), "reader holds {}", reader.buffered_bytes());
    assert!(session.alerts.len() <= 8, "{} alerts", session.alerts.len());
    assert!(session.chain_length <= 16, "chain of {}", session.chain_length);
    // Facts come from messages within the limit (names may grow threefold in lossy UTF-8).
    assert!(session.held_bytes() <= limit.saturating_mul(12), "session holds {}", session.held_bytes());
}

/// The `tls` fuzz target's flow half: TLS bytes per direction, as the input gives them or
/// wrapped by the checker into handshake messages and records, into one session's readers and
/// into an HTTP connection that sniffs them.
///
/// Input: a settings byte, then chunks `[direction bit and length][bytes]`. In framed mode each
/// chunk is `[content type][handshake type][record size][body]`.
pub fn tls_session(data: &[u8]) {
    let read = tls_chunks(&mut Unstructured::new(data));
    assert!(read.is_ok(), "a read failed: {read:?}");
}

fn tls_chunks(u: &mut Unstructured<'_>) -> Result<()> {
    let settings = u.arbitrary::<u8>()?;
    let framed = settings & 1 == 1;
    let limits =
        Limits { max_tls_handshake_bytes: if settings & 2 == 2 { 64 * 1024 } else { 512 }, ..streams::tight_limits() };
    let mut readers = [TlsReader::default(), TlsReader::default()];
    let mut session = TlsSession::default();
    let mut stats = Stats::default();
    let mut conn = HttpConn::new(7, endpoints());
    let mut conn_stats = Stats::default();
    let mut out = Collect::default();
    let mut ts = 0i64;
    while !u.is_empty() {
        let header = u16_be(u)?;
        let dir = usize::from(header >> 15);
        let chunk = u.bytes(u.len().min(usize::from(header & 0x7fff)))?;
        let bytes = if framed { frame(chunk)? } else { chunk.to_vec() };
        ts = ts.saturating_add(1);
        if let Some(reader) = readers.get_mut(dir) {
            reader.feed(&bytes, Timestamp(ts), &mut session, &limits, &mut stats);
            check_reader(reader, &session, &limits);
        }
        conn.data(dir, &bytes, Timestamp(ts), &limits, &mut conn_stats, &mut out);
        let bound = streams::connection_bound(&limits, bytes.len());
        assert!(conn.buffered_bytes() <= bound, "connection holds {} > {bound}", conn.buffered_bytes());
    }
    conn.end(Timestamp(ts), &limits, &mut conn_stats, &mut out);
    for s in &out.tls {
        assert!(s.alerts.len() <= 8 && s.chain_length <= 16);
    }
    Ok(())
}

/// Wraps one framed-mode chunk: a handshake message (or another record type) split into records.
fn frame(chunk: &[u8]) -> Result<Vec<u8>> {
    let mut u = Unstructured::new(chunk);
    let content = *u.choose(&CONTENT_TYPES)?;
    let kind = *u.choose(&HANDSHAKE_TYPES)?;
    let record = usize::from(u16_be(&mut u)?).clamp(1, 16 * 1024);
    let body = u.take_rest();
    let payload = if content == 22 {
        let len = u32::try_from(body.len()).unwrap_or(0).to_be_bytes();
        let mut m = vec![kind, len[1], len[2], len[3]];
        m.extend_from_slice(body);
        m
    } else {
        body.to_vec()
    };
    let mut out = Vec::new();
    for piece in payload.chunks(record) {
        out.extend_from_slice(&[content, 3, 3]);
        out.extend_from_slice(&u16::try_from(piece.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(piece);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing, clippy::unwrap_used)]

    use apisonar_testkit::workload::Rng;

    use super::*;

    /// A body input: limits, framings, piece, gap, 6 framing bytes, encoding, preparation, cut
    /// and flip positions, then the body.
    fn body_input(sample: u8, decoded: u8, framings: [u8; 2], encoding: u8, how: u8, body: &[u8]) -> Vec<u8> {
        let mut data = vec![sample, decoded, framings[0] | (framings[1] << 4), 50, 0];
        data.extend([3u8; 6]);
        data.extend([encoding, how, 0, 10, 0, 20]);
        data.extend_from_slice(body);
        data
    }

    #[test]
    fn compressed_bodies_come_back_whole_or_at_the_limit() {
        let text = b"{\"items\":[1,2,3],\"name\":\"a fairly compressible body body body body\"}".repeat(20);
        for encoding in 0..5 {
            for framings in [[0, 0], [3, 3], [0, 7], [3, 7]] {
                // Room for everything; then a decoded limit below the body's size; then a bomb;
                // a small sample; cut and damaged bodies; limits of zero.
                body(&body_input(254, 254, framings, encoding, 1, &text));
                body(&body_input(254, 3, framings, encoding, 1, &text));
                body(&body_input(254, 20, framings, encoding, 0xe1, &text));
                body(&body_input(2, 254, framings, encoding, 1, &text));
                body(&body_input(254, 254, framings, encoding, 2, &text));
                body(&body_input(254, 254, framings, encoding, 3, &text));
                body(&body_input(255, 255, framings, encoding, 1, &text));
            }
        }
    }

    #[test]
    fn pseudo_random_bodies_keep_the_limits() {
        for seed in 0..300 {
            body(&Rng::seeded(seed).bytes((seed as usize * 13) % 700));
        }
        for data in [&b""[..], &[0xff; 100], &[0; 100]] {
            body(data);
        }
    }

    #[test]
    fn framed_handshakes_reach_the_parsers() {
        use apisonar_testkit::tls::{certificate, certificate_body, client_hello, server_hello};
        // Client: a ClientHello; server: ServerHello and a certificate, each in framed mode.
        let mut data = vec![1u8];
        for (dir, kind, body) in [
            (0u16, 0u8, client_hello("fuzz.example")),
            (1, 1, server_hello()),
            (1, 2, certificate_body(&[certificate("fuzz.example", "CA", 10)])),
        ] {
            let mut chunk = vec![0u8, kind, 0, 100];
            chunk.extend(body);
            data.extend(((dir << 15) | chunk.len() as u16).to_be_bytes());
            data.extend(chunk);
        }
        let mut conn = HttpConn::new(1, endpoints());
        let mut out = Collect::default();
        let limits = Limits::default();
        let mut rest = &data[1..];
        while rest.len() >= 2 {
            let header = u16::from_be_bytes([rest[0], rest[1]]);
            let len = usize::from(header & 0x7fff);
            conn.data(
                usize::from(header >> 15),
                &frame(&rest[2..2 + len]).unwrap(),
                Timestamp(1),
                &limits,
                &mut Stats::default(),
                &mut out,
            );
            rest = &rest[2 + len..];
        }
        conn.end(Timestamp(2), &limits, &mut Stats::default(), &mut out);
        let session = out.tls.first().cloned().unwrap_or_default();
        assert_eq!(session.client_hello.and_then(|c| c.sni), Some("fuzz.example".to_string()));
        assert_eq!(session.certificate.map(|c| c.subject), Some("CN=fuzz.example".to_string()));
        tls_session(&data);
    }

    #[test]
    fn pseudo_random_tls_keeps_the_limits() {
        for seed in 0..300 {
            tls_session(&Rng::seeded(seed).bytes((seed as usize * 29) % 3000));
        }
        tls_session(&[]);
        tls_session(&[1, 0x80, 0x05, 0, 0, 0xff, 0xff, 0xff]);
    }
}
