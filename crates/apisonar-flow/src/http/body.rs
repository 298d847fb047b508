//! Message bodies: a bounded sample of the bytes, and its decoding (gzip, deflate, br) with a
//! hard output limit so that a decompression bomb costs at most `max_decoded_body_bytes`.

use std::io::Read;

use crate::{Anomaly, Limits};

/// What was kept of one message body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    /// Body bytes seen on the wire after de-chunking (gap bytes included).
    pub wire_len: u64,
    /// The first `Limits::body_sample_bytes` bytes of the (still encoded) body.
    pub sample: Vec<u8>,
    /// True when the body was longer than the sample, or a gap fell inside the sample.
    pub sample_truncated: bool,
    /// The sample decoded per Content-Encoding, when the message had one that was understood.
    pub decoded: Option<Vec<u8>>,
    /// Bytes lost to capture gaps inside the body.
    pub gap_bytes: u64,
}

impl Body {
    pub(crate) fn push(&mut self, data: &[u8], limits: &Limits) {
        self.push_expecting(data, 0, limits);
    }

    /// [`Body::push`], when the framing says `more` bytes are still to come. The sample makes
    /// room for some of them now, so that a body in two segments is copied once, not grown
    /// and copied again; but for no more than twice the bytes that did come (a length header
    /// alone, without the bytes, must not reserve memory).
    pub(crate) fn push_expecting(&mut self, data: &[u8], more: u64, limits: &Limits) {
        self.wire_len = self.wire_len.saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
        let room = limits.body_sample_bytes.saturating_sub(self.sample.len());
        if room == 0 {
            self.sample_truncated |= !data.is_empty();
            return;
        }
        let take = room.min(data.len());
        let ahead = usize::try_from(more).unwrap_or(usize::MAX).min(take);
        self.sample.reserve(take.saturating_add(ahead).min(room));
        self.sample.extend_from_slice(data.get(..take).unwrap_or_default());
        self.sample_truncated |= take < data.len();
    }

    pub(crate) fn gap(&mut self, len: u32) {
        self.wire_len = self.wire_len.saturating_add(u64::from(len));
        self.gap_bytes = self.gap_bytes.saturating_add(u64::from(len));
        // Bytes after a hole would be misplaced in the sample: stop sampling.
        self.sample_truncated = true;
    }

    /// The body as the application sees it: decoded if it was encoded, else the raw sample.
    pub fn content(&self) -> &[u8] {
        self.decoded.as_deref().unwrap_or(&self.sample)
    }

    /// Decodes the sample according to the Content-Encoding value(s), outermost last.
    pub(crate) fn decode(
        &mut self,
        content_encoding: Option<&[u8]>,
        limits: &Limits,
        anomalies: &mut dyn FnMut(Anomaly),
    ) {
        let Some(encoding) = content_encoding else { return };
        if self.sample.is_empty() {
            return;
        }
        let mut codings: Vec<Coding> = Vec::new();
        for token in encoding.split(|&b| b == b',') {
            let token = token.trim_ascii();
            match Coding::parse(token) {
                Some(Coding::Identity) => {}
                Some(c) => codings.push(c),
                None => {
                    anomalies(Anomaly::ContentDecodingError);
                    return;
                }
            }
        }
        if codings.is_empty() {
            return;
        }
        let mut input_complete = !self.sample_truncated;
        let mut decoded: Option<Vec<u8>> = None;
        for coding in codings.iter().rev() {
            let source = decoded.as_ref().unwrap_or(&self.sample);
            match coding.decode(source, limits.max_decoded_body_bytes) {
                Ok((out, hit_limit)) => {
                    if hit_limit {
                        anomalies(Anomaly::DecompressionLimit);
                        input_complete = false;
                    }
                    decoded = Some(out);
                }
                Err(truncated_input) if truncated_input && !input_complete => {
                    // A sample cut mid-stream decodes as far as it goes; that is expected.
                    decoded = Some(coding.decode_prefix(source, limits.max_decoded_body_bytes));
                }
                Err(_) => {
                    anomalies(Anomaly::ContentDecodingError);
                    decoded = None;
                    break;
                }
            }
        }
        self.decoded = decoded;
    }
}

/// The gRPC message prefix: a flags byte and a big-endian length.
const GRPC_PREFIX: usize = 5;
/// Flag bit of a compressed gRPC message.
const GRPC_COMPRESSED: u8 = 0x01;

impl Body {
    /// Undoes gRPC per-message compression (`grpc-encoding`): `decoded` then holds the same
    /// length-prefixed framing with every message uncompressed. Left `None` when no message was
    /// compressed. The output is bounded by `max_decoded_body_bytes`; a message cut by the end
    /// of the sample is kept as far as it goes.
    pub(crate) fn decode_grpc(
        &mut self,
        grpc_encoding: Option<&[u8]>,
        limits: &Limits,
        anomalies: &mut dyn FnMut(Anomaly),
    ) {
        let coding = grpc_encoding.map_or(Some(Coding::Identity), |e| Coding::parse(e.trim_ascii()));
        let mut rest = self.sample.as_slice();
        let mut out: Vec<u8> = Vec::new();
        let mut changed = false;
        while let Some((prefix, after)) = rest.split_first_chunk::<GRPC_PREFIX>() {
            let [flags, l0, l1, l2, l3] = *prefix;
            let len = usize::try_from(u32::from_be_bytes([l0, l1, l2, l3])).unwrap_or(usize::MAX);
            let message = after.get(..len).unwrap_or(after);
            rest = after.get(len..).unwrap_or_default();
            let room = limits.max_decoded_body_bytes.saturating_sub(out.len()).saturating_sub(GRPC_PREFIX);
            let plain = if flags & GRPC_COMPRESSED != 0 && message.len() == len {
                match coding {
                    Some(c @ (Coding::Gzip | Coding::Deflate | Coding::Brotli)) => match c.decode(message, room) {
                        Ok((plain, hit_limit)) => {
                            if hit_limit {
                                anomalies(Anomaly::DecompressionLimit);
                            }
                            changed = true;
                            Some(plain)
                        }
                        Err(_) => {
                            anomalies(Anomaly::ContentDecodingError);
                            None
                        }
                    },
                    // Compressed with no (or an unknown) encoding: nothing to undo it with.
                    _ => {
                        anomalies(Anomaly::ContentDecodingError);
                        None
                    }
                }
            } else {
                None
            };
            let (flags, bytes) = match &plain {
                Some(p) => (flags & !GRPC_COMPRESSED, p.as_slice()),
                None => (flags, message),
            };
            if bytes.len() > room {
                anomalies(Anomaly::DecompressionLimit);
                break;
            }
            out.push(flags);
            // A message cut by the sample keeps the length it declared.
            let declared = match plain {
                Some(_) => u32::try_from(bytes.len()).unwrap_or(u32::MAX),
                None => u32::from_be_bytes([l0, l1, l2, l3]),
            };
            out.extend_from_slice(&declared.to_be_bytes());
            out.extend_from_slice(bytes);
        }
        if changed {
            self.decoded = Some(out);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
}

impl Coding {
    fn parse(token: &[u8]) -> Option<Coding> {
        let lower = token.to_ascii_lowercase();
        Some(match lower.as_slice() {
            b"" | b"identity" => Coding::Identity,
            b"gzip" | b"x-gzip" => Coding::Gzip,
            b"deflate" => Coding::Deflate,
            b"br" => Coding::Brotli,
            _ => return None,
        })
    }

    fn reader<'a>(self, input: &'a [u8]) -> Box<dyn Read + 'a> {
        match self {
            Coding::Identity => Box::new(input),
            Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            // "deflate" means zlib-wrapped, but many servers send raw deflate: look at the header.
            Coding::Deflate if looks_like_zlib(input) => Box::new(flate2::read::ZlibDecoder::new(input)),
            Coding::Deflate => Box::new(flate2::read::DeflateDecoder::new(input)),
            Coding::Brotli => Box::new(brotli_decompressor::Decompressor::new(input, 4096)),
        }
    }

    /// Decodes all of `input` up to `limit` output bytes. `Ok((out, hit_limit))`, or
    /// `Err(is_truncation)` when the stream is corrupt (`false`) or merely ends early (`true`).
    fn decode(self, input: &[u8], limit: usize) -> Result<(Vec<u8>, bool), bool> {
        let mut out = Vec::new();
        // One byte over the limit tells a body that hit it from one that fits exactly.
        let mut reader = self.reader(input).take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1));
        match reader.read_to_end(&mut out) {
            Ok(_) => {
                let hit = out.len() > limit;
                out.truncate(limit);
                Ok((out, hit))
            }
            Err(e) => Err(e.kind() == std::io::ErrorKind::UnexpectedEof),
        }
    }

    /// Decodes as much of a cut-off stream as possible.
    fn decode_prefix(self, input: &[u8], limit: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut reader = self.reader(input).take(limit as u64);
        let mut chunk = [0u8; 4096];
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        out
    }
}

fn looks_like_zlib(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(encoding: &str, bytes: &[u8], limits: &Limits) -> (Body, Vec<Anomaly>) {
        let mut body = Body::default();
        body.push(bytes, limits);
        let mut seen = Vec::new();
        body.decode(Some(encoding.as_bytes()), limits, &mut |a| seen.push(a));
        (body, seen)
    }

    #[test]
    fn samples_make_room_for_what_is_announced_but_never_more_than_twice_what_came() {
        let limits = Limits::default();
        // 1,946 bytes in two segments: room for all of them at the first.
        let mut body = Body::default();
        body.push_expecting(&[b'a'; 1350], 596, &limits);
        let room = body.sample.capacity();
        assert!(room >= 1946, "{room}");
        body.push_expecting(&[b'b'; 596], 0, &limits);
        assert_eq!(body.sample.capacity(), room, "grown again");
        assert_eq!(body.sample.len(), 1946);
        // A length that claims a megabyte after ten bytes reserves for twenty.
        let mut liar = Body::default();
        liar.push_expecting(b"0123456789", 1 << 20, &limits);
        assert!(liar.sample.capacity() <= 20, "{}", liar.sample.capacity());
        assert_eq!(liar.sample, b"0123456789");
        // And never past the sample's limit.
        let small = Limits { body_sample_bytes: 12, ..Limits::default() };
        let mut capped = Body::default();
        capped.push_expecting(b"0123456789", 100, &small);
        assert!(capped.sample.capacity() <= 12, "{}", capped.sample.capacity());
        capped.push_expecting(b"abcdef", 0, &small);
        assert_eq!(capped.sample, b"0123456789ab");
        assert!(capped.sample_truncated);
    }

    #[test]
    fn gzip_deflate_raw_deflate() {
        let l = Limits::default();
        let (b, a) = decode("gzip", &gzip(b"hello"), &l);
        assert_eq!((b.content(), a.len()), (&b"hello"[..], 0));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"zlib body").unwrap();
        assert_eq!(decode("deflate", &z.finish().unwrap(), &l).0.content(), b"zlib body");
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(b"raw body").unwrap();
        assert_eq!(decode("deflate", &d.finish().unwrap(), &l).0.content(), b"raw body");
    }

    fn grpc_frame(flags: u8, message: &[u8]) -> Vec<u8> {
        let mut out = vec![flags];
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(message);
        out
    }

    #[test]
    fn grpc_messages_are_uncompressed_one_by_one_and_keep_their_framing() {
        let l = Limits::default();
        let mut wire = grpc_frame(1, &gzip(b"\x0a\x03abc"));
        wire.extend(grpc_frame(0, b"\x08\x01"));
        let mut body = Body::default();
        body.push(&wire, &l);
        let mut seen = Vec::new();
        body.decode_grpc(Some(b"gzip"), &l, &mut |a| seen.push(a));
        let mut plain = grpc_frame(0, b"\x0a\x03abc");
        plain.extend(grpc_frame(0, b"\x08\x01"));
        assert_eq!((body.content(), seen.as_slice()), (plain.as_slice(), &[][..]));
        // Nothing compressed: nothing decoded.
        let mut body = Body::default();
        body.push(&grpc_frame(0, b"\x08\x01"), &l);
        body.decode_grpc(None, &l, &mut |a| seen.push(a));
        assert!(body.decoded.is_none() && seen.is_empty());
        // Compressed without an encoding, or with garbage, is an anomaly and kept as it came.
        let mut body = Body::default();
        body.push(&grpc_frame(1, b"garbage"), &l);
        body.decode_grpc(Some(b"gzip"), &l, &mut |a| seen.push(a));
        body.decode_grpc(None, &l, &mut |a| seen.push(a));
        assert_eq!(seen, [Anomaly::ContentDecodingError, Anomaly::ContentDecodingError]);
        // A bomb inside a message stops at the limit.
        let small = Limits { max_decoded_body_bytes: 1000, ..Limits::default() };
        let mut body = Body::default();
        body.push(&grpc_frame(1, &gzip(&vec![0u8; 1_000_000])), &small);
        let mut seen = Vec::new();
        body.decode_grpc(Some(b"gzip"), &small, &mut |a| seen.push(a));
        assert!(seen.contains(&Anomaly::DecompressionLimit));
        assert!(body.content().len() <= 1000);
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let l = Limits { max_decoded_body_bytes: 1000, ..Limits::default() };
        let bomb = gzip(&vec![0u8; 10_000_000]);
        assert!(bomb.len() < 20_000);
        let (b, a) = decode("gzip", &bomb, &l);
        assert_eq!((b.content().len(), a), (1000, vec![Anomaly::DecompressionLimit]));
    }

    #[test]
    fn garbage_and_unknown_codings_are_anomalies() {
        let l = Limits::default();
        let (b, a) = decode("gzip", b"not gzip at all", &l);
        assert_eq!((b.decoded, a), (None, vec![Anomaly::ContentDecodingError]));
        let (_, a) = decode("compress", b"x", &l);
        assert_eq!(a, vec![Anomaly::ContentDecodingError]);
    }

    #[test]
    fn truncated_sample_decodes_its_prefix() {
        let l = Limits { body_sample_bytes: 40, ..Limits::default() };
        let text: Vec<u8> = (0..2000u32).flat_map(|i| i.to_string().into_bytes()).collect();
        let (b, a) = decode("gzip", &gzip(&text), &l);
        assert!(a.is_empty(), "{a:?}");
        assert!(b.sample_truncated);
        assert!(text.starts_with(b.content()));
    }
}
