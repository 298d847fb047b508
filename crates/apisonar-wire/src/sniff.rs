//! Content sniffing: what protocol a stream carries, judged by its bytes, never by its port.

/// What the first bytes of a stream direction look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff {
    /// An HTTP/1 request line.
    Http1Request,
    /// An HTTP/1 status line.
    Http1Response,
    /// A TLS (or SSLv2-compatible) handshake record.
    Tls,
    /// The HTTP/2 connection preface.
    Http2Preface,
    /// A SETTINGS frame on stream 0: an HTTP/2 server's preface, which some servers (grpc)
    /// send before the client's arrives.
    Http2ServerSettings,
    /// HTTP/2 frames without a preface: a connection picked up after its start.
    Http2Frames,
    /// Too few bytes to tell yet.
    NeedMore,
    /// None of the above.
    Other,
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// A request line longer than this without a line end is not taken for HTTP.
const MAX_SNIFF_LINE: usize = 8192;

/// Methods recognised even without an HTTP version on the line (HTTP/0.9, broken clients) and
/// as resynchronisation points after a gap.
const KNOWN_METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"PUT",
    b"DELETE",
    b"HEAD",
    b"OPTIONS",
    b"PATCH",
    b"TRACE",
    b"CONNECT",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"QUERY",
    b"MKCALENDAR",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"PURGE",
];

/// RFC 9110 tchar.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub fn is_known_method(m: &[u8]) -> bool {
    KNOWN_METHODS.contains(&m)
}

/// Extension methods in practice are upper-case words, sometimes with '_' or '-' (CCM_POST).
fn is_method_like(m: &[u8]) -> bool {
    m.len() >= 3 && m.len() <= 20 && m.iter().all(|&b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
}

/// Classifies the first bytes of a stream direction.
pub fn sniff(buf: &[u8]) -> Sniff {
    let Some(&first) = buf.first() else { return Sniff::NeedMore };
    if first == 0x16 || first & 0x80 != 0 {
        return sniff_tls(buf);
    }
    if first == b'P' && prefix_state(buf, H2_PREFACE) != Prefix::No {
        return if buf.len() >= H2_PREFACE.len() { Sniff::Http2Preface } else { Sniff::NeedMore };
    }
    if first == 0 {
        return match buf.get(..9) {
            // Length a multiple of 6 (one 6-byte entry per setting), type 4, no flags, stream 0.
            Some([0, hi, lo, 4, 0, 0, 0, 0, 0]) if (u16::from(*hi) << 8 | u16::from(*lo)) % 6 == 0 => {
                Sniff::Http2ServerSettings
            }
            Some(_) => h2_frames(buf),
            None => Sniff::NeedMore,
        };
    }
    match prefix_state(buf, b"HTTP/") {
        Prefix::Yes => {
            return match buf.get(5) {
                Some(d) if d.is_ascii_digit() => Sniff::Http1Response,
                Some(_) => Sniff::Other,
                None => Sniff::NeedMore,
            }
        }
        Prefix::Partial => return Sniff::NeedMore,
        Prefix::No => {}
    }
    request_line_state(buf)
}

#[derive(PartialEq, Eq)]
enum Prefix {
    Yes,
    Partial,
    No,
}

fn prefix_state(buf: &[u8], prefix: &[u8]) -> Prefix {
    let n = buf.len().min(prefix.len());
    if buf.get(..n) != prefix.get(..n) {
        Prefix::No
    } else if n == prefix.len() {
        Prefix::Yes
    } else {
        Prefix::Partial
    }
}

/// The default SETTINGS_MAX_FRAME_SIZE: frames seen at a pickup are taken for HTTP/2 only
/// within it.
const H2_DEFAULT_MAX_FRAME: usize = 16_384;
/// Bytes of a first frame's payload that, with a valid header, are enough to call it HTTP/2.
const H2_SNIFF_PAYLOAD: usize = 512;

/// A frame header as RFC 9113 allows it: a known type, its flags, its length and stream rules.
fn h2_header(h: &[u8; 9]) -> Option<usize> {
    let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = *h;
    let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
    let stream = u32::from_be_bytes([s0, s1, s2, s3]);
    if len > H2_DEFAULT_MAX_FRAME || stream & 0x8000_0000 != 0 {
        return None;
    }
    let (allowed_flags, on_stream, len_ok) = match kind {
        0x0 => (0x09, Some(true), true),
        0x1 => (0x2d, Some(true), true),
        0x2 => (0x00, Some(true), len == 5),
        0x3 => (0x00, Some(true), len == 4),
        0x4 => (0x01, Some(false), len % 6 == 0),
        0x5 => (0x0c, Some(true), len >= 4),
        0x6 => (0x01, Some(false), len == 8),
        0x7 => (0x00, Some(false), len >= 8),
        0x8 => (0x00, None, len == 4),
        0x9 => (0x04, Some(true), true),
        _ => return None,
    };
    let stream_ok = on_stream.is_none_or(|needs| needs == (stream != 0));
    (flags & !allowed_flags == 0 && stream_ok && len_ok).then_some(len)
}

/// Whether `buf` starts with HTTP/2 frames: two whole valid frames, one that ends exactly where
/// the buffer does, or one valid header followed by enough of its payload.
pub fn h2_frames(buf: &[u8]) -> Sniff {
    let mut at = 0usize;
    let mut whole = 0usize;
    loop {
        let Some(header) = buf.get(at..).and_then(|rest| rest.first_chunk::<9>()) else {
            return match (whole, buf.len().saturating_sub(at)) {
                (1.., 0) => Sniff::Http2Frames,
                (2.., _) => Sniff::Http2Frames,
                _ => Sniff::NeedMore,
            };
        };
        let Some(len) = h2_header(header) else {
            return if whole >= 2 { Sniff::Http2Frames } else { Sniff::Other };
        };
        let end = at.saturating_add(9).saturating_add(len);
        if end > buf.len() {
            let have = buf.len().saturating_sub(at.saturating_add(9));
            return if whole >= 1 || have >= H2_SNIFF_PAYLOAD.min(len) && have > 0 {
                Sniff::Http2Frames
            } else {
                Sniff::NeedMore
            };
        }
        whole = whole.saturating_add(1);
        if whole >= 2 {
            return Sniff::Http2Frames;
        }
        at = end;
    }
}

/// Where the first run of HTTP/2 frames starts in `buf` (after a gap cut a stream of them),
/// looking at most at `limit` offsets.
pub fn h2_resync(buf: &[u8], limit: usize) -> Option<usize> {
    (0..buf.len().min(limit)).find(|&i| {
        let rest = buf.get(i..).unwrap_or_default();
        rest.first() == Some(&0) && h2_frames(rest) == Sniff::Http2Frames
    })
}

fn sniff_tls(buf: &[u8]) -> Sniff {
    match buf {
        // TLS record: handshake, version 3.x (SSLv3 .. TLS 1.3 record layer).
        [0x16, 0x03, minor, ..] if *minor <= 0x04 => Sniff::Tls,
        [0x16] | [0x16, 0x03] => Sniff::NeedMore,
        // SSLv2-compatible ClientHello: 2-byte length with the high bit, msg type 1, version 2 or 3.
        [len_hi, _, 0x01, 0x00 | 0x03, ..] if len_hi & 0x80 != 0 => Sniff::Tls,
        [len_hi, ..] if len_hi & 0x80 != 0 && buf.len() < 4 => Sniff::NeedMore,
        _ => Sniff::Other,
    }
}

fn request_line_state(buf: &[u8]) -> Sniff {
    let line_end = memchr::memchr(b'\n', buf);
    let line = match line_end {
        Some(nl) => buf.get(..nl).unwrap_or_default(),
        None => buf,
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let method_len = line.iter().take_while(|&&b| is_token_byte(b)).count();
    if method_len == 0 || method_len > 32 {
        return Sniff::Other;
    }
    let Some(method) = line.get(..method_len) else { return Sniff::Other };
    match line.get(method_len) {
        Some(b' ') => {}
        Some(_) => return Sniff::Other,
        // A bare known method on its own line ("OPTIONS\n"), as scanners send.
        None if line_end.is_some() && is_known_method(method) => return Sniff::Http1Request,
        None => {
            return if line_end.is_none() && method_len < 32 { Sniff::NeedMore } else { Sniff::Other };
        }
    }
    if line_end.is_none() {
        return if buf.len() > MAX_SNIFF_LINE || line.iter().any(|&b| b < 0x09) {
            Sniff::Other
        } else {
            Sniff::NeedMore
        };
    }
    // The method first: a known one settles it without searching the line for a version.
    let has_version = || contains(line, b" HTTP/1") || contains(line, b" HTTP/0.9");
    if is_known_method(method) || is_method_like(method) || has_version() {
        Sniff::Http1Request
    } else {
        Sniff::Other
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Finds the next plausible start of an HTTP/1 request at a line start in `buf`, for resynchronising
/// after a gap or garbage. Only complete request lines with an HTTP/1 version count.
pub fn find_request_start(buf: &[u8]) -> Option<usize> {
    line_starts(buf).find(|&at| {
        let rest = buf.get(at..).unwrap_or_default();
        let Some(nl) = memchr::memchr(b'\n', rest) else { return false };
        let line = rest.get(..nl).unwrap_or_default();
        let method_len = line.iter().take_while(|&&b| is_token_byte(b)).count();
        line.get(method_len) == Some(&b' ')
            && line.get(..method_len).is_some_and(|m| is_known_method(m) || is_method_like(m))
            && contains(line, b" HTTP/1.")
    })
}

/// Finds the next plausible start of an HTTP/1 status line at a line start in `buf`.
pub fn find_response_start(buf: &[u8]) -> Option<usize> {
    line_starts(buf).find(|&at| {
        let rest = buf.get(at..).unwrap_or_default();
        matches!(rest, [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'0' | b'1', b' ', d1, d2, d3, ..]
            if d1.is_ascii_digit() && d2.is_ascii_digit() && d3.is_ascii_digit())
    })
}

fn line_starts(buf: &[u8]) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', buf).map(|nl| nl.saturating_add(1)))
        .filter(move |&at| at < buf.len())
}

/// Bytes a resync scan must keep from a buffer in which nothing was found, because a start line
/// may begin in them and end in data not yet seen.
pub fn resync_keep(buf: &[u8]) -> usize {
    match memchr::memrchr(b'\n', buf) {
        Some(nl) => buf.len().saturating_sub(nl.saturating_add(1)),
        None => buf.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::indexing_slicing)]
    fn frame(len: usize, kind: u8, flags: u8, stream: u32) -> Vec<u8> {
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend(std::iter::repeat_n(0xaa, len));
        f
    }

    #[test]
    #[allow(clippy::indexing_slicing)]
    fn http2_frames_without_a_preface_are_recognised_strictly() {
        let headers = frame(20, 1, 0x04, 7);
        let data = frame(30, 0, 0x01, 7);
        let both = [headers.clone(), data.clone()].concat();
        assert_eq!(h2_frames(&both), Sniff::Http2Frames);
        // One frame that ends exactly where the segment does.
        assert_eq!(h2_frames(&headers), Sniff::Http2Frames);
        // A header alone, or a little of its payload: more is needed.
        assert_eq!(h2_frames(&headers[..9]), Sniff::NeedMore);
        assert_eq!(h2_frames(&frame(4000, 0, 0, 1)[..100]), Sniff::NeedMore);
        assert_eq!(h2_frames(&frame(4000, 0, 0, 1)[..700]), Sniff::Http2Frames);
        // Rules of the types: SETTINGS on a stream, DATA on stream 0, unknown flags, lengths.
        for bad in
            [frame(6, 4, 0, 1), frame(4, 0, 0, 0), frame(4, 0, 0x80, 1), frame(5, 8, 0, 0), frame(20_000, 0, 0, 1)]
        {
            assert_eq!(h2_frames(&bad), Sniff::Other, "{:?}", &bad[..9]);
        }
        // Found again after bytes that are not frames.
        let mut cut = vec![0x61; 37];
        cut.extend(&both);
        assert_eq!(h2_resync(&cut, cut.len()), Some(37));
        assert_eq!(h2_resync(b"GET / HTTP/1.1\r\n\r\n", 64), None);
    }

    #[test]
    fn sniffs() {
        let check = |b: &[u8], want: Sniff| assert_eq!(sniff(b), want, "{:?}", String::from_utf8_lossy(b));
        check(b"GET / HTTP/1.1\r\n", Sniff::Http1Request);
        check(b"GET /", Sniff::NeedMore);
        check(b"GE", Sniff::NeedMore);
        check(b"GET /nover\r\n", Sniff::Http1Request);
        check(b"QUERY /q HTTP/1.1\r\n", Sniff::Http1Request);
        check(b"frob /x\r\n", Sniff::Other);
        check(b"CCM_POST /HTTP/1.1\n", Sniff::Http1Request);
        check(b"OPTIONS\nHost: x\n", Sniff::Http1Request);
        check(b"HTTP/1.1 200 OK\r\n", Sniff::Http1Response);
        check(b"HTT", Sniff::NeedMore);
        check(b"\x16\x03\x01\x02\x00", Sniff::Tls);
        check(b"\x80\x2e\x01\x00\x02", Sniff::Tls);
        check(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Sniff::Http2Preface);
        check(b"PRI * HTTP/2", Sniff::NeedMore);
        check(b"SSH-2.0-OpenSSH_9.2\r\n", Sniff::Other);
        check(b"\x00\x01\x02garbage", Sniff::Other);
        check(b"", Sniff::NeedMore);
    }

    #[test]
    fn resync_points() {
        assert_eq!(find_request_start(b"xx\r\nGET /a HTTP/1.1\r\n"), Some(4));
        assert_eq!(find_request_start(b"body GET /a HTTP/1.1\r\n"), None);
        assert_eq!(find_request_start(b"junk\nGET /a HTTP/1.1"), None);
        assert_eq!(find_response_start(b"tail\r\nHTTP/1.1 200 OK\r\n"), Some(6));
        assert_eq!(find_response_start(b"HTTP/1.1 2"), None);
        assert_eq!(resync_keep(b"abc\nde"), 2);
    }
}
