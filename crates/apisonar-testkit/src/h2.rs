//! HTTP/2 bytes for tests: frames and header blocks written by hand, independently of the
//! sensor's parser, so edge cases (padding, CONTINUATION, resets, floods, dynamic-table reuse)
//! can be made on purpose.

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;

/// One frame: 9-byte header and payload.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An empty SETTINGS frame (what most peers open with, give or take parameters).
pub fn settings() -> Vec<u8> {
    frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100])
}

/// A DATA frame, padded with `pad` zero bytes when `pad` is given.
pub fn data(stream: u32, body: &[u8], end: bool, pad: Option<u8>) -> Vec<u8> {
    let mut flags = if end { END_STREAM } else { 0 };
    let mut payload = Vec::new();
    if let Some(p) = pad {
        flags |= PADDED;
        payload.push(p);
    }
    payload.extend_from_slice(body);
    payload.resize(payload.len() + usize::from(pad.unwrap_or(0)), 0);
    frame(DATA, flags, stream, &payload)
}

pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// A small HPACK encoder: static-table names, literal values with incremental indexing, and
/// indexed references to what it inserted before, so decoding needs the dynamic table.
/// Strings are written raw (no Huffman).
#[derive(Default)]
pub struct Encoder {
    /// Entries it inserted, newest first, as the decoder's dynamic table holds them.
    table: Vec<(Vec<u8>, Vec<u8>)>,
}

const STATIC_NAMES: [&str; 61] = [
    ":authority",
    ":method",
    ":method",
    ":path",
    ":path",
    ":scheme",
    ":scheme",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "accept",
    "access-control-allow-origin",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-range",
    "content-type",
    "cookie",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "link",
    "location",
    "max-forwards",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "refresh",
    "retry-after",
    "server",
    "set-cookie",
    "strict-transport-security",
    "transfer-encoding",
    "user-agent",
    "vary",
    "via",
    "www-authenticate",
];

fn integer(out: &mut Vec<u8>, first: u8, prefix_bits: u32, mut value: usize) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    integer(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

impl Encoder {
    /// The header block for `fields`, in order.
    pub fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(name, value) in fields {
            let (n, v) = (name.as_bytes().to_vec(), value.as_bytes().to_vec());
            if let Some(i) = self.table.iter().position(|e| e.0 == n && e.1 == v) {
                integer(&mut out, 0x80, 7, 62 + i);
                continue;
            }
            match STATIC_NAMES.iter().position(|s| *s == name) {
                Some(i) => integer(&mut out, 0x40, 6, i + 1),
                None => {
                    out.push(0x40);
                    string(&mut out, &n);
                }
            }
            string(&mut out, &v);
            self.table.insert(0, (n, v));
        }
        out
    }
}

/// A HEADERS frame holding all of `block`.
pub fn headers(stream: u32, block: &[u8], end_stream: bool) -> Vec<u8> {
    frame(HEADERS, END_HEADERS | if end_stream { END_STREAM } else { 0 }, stream, block)
}

/// A HEADERS frame with the first `first` bytes of `block`, then CONTINUATION frames of
/// `piece` bytes each.
pub fn headers_continued(stream: u32, block: &[u8], end_stream: bool, first: usize, piece: usize) -> Vec<u8> {
    let first = first.min(block.len());
    let mut out = frame(HEADERS, if end_stream { END_STREAM } else { 0 }, stream, &block[..first]);
    let rest = &block[first..];
    let pieces: Vec<&[u8]> = if rest.is_empty() { vec![&[][..]] } else { rest.chunks(piece.max(1)).collect() };
    for (i, p) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        out.extend(frame(CONTINUATION, if last { END_HEADERS } else { 0 }, stream, p));
    }
    out
}
