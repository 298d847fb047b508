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
            Some(_) => Sniff::Other,
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
    let has_version = contains(line, b" HTTP/1") || contains(line, b" HTTP/0.9");
    if has_version || is_known_method(method) || is_method_like(method) {
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
