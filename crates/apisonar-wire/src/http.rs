//! HTTP/1 message heads: finding where a head ends and parsing it into an owned summary.
//!
//! httparse does the fast, strict work. Real traffic is not always conforming (scanners, old
//! clients, obsolete line folding, odd request targets), so when httparse refuses a head a small
//! lenient parser takes over and the head is marked `nonconforming`, which callers record as an
//! anomaly. Either way the result is one [`MessageHead`] that owns its bytes.

use std::ops::Range;

/// The largest header count ever parsed, whatever the configured limit says.
pub const MAX_HEADERS_CAP: usize = 256;

/// An HTTP version as written on the start line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HttpVersion {
    pub major: u8,
    pub minor: u8,
}

impl HttpVersion {
    pub const HTTP_09: HttpVersion = HttpVersion { major: 0, minor: 9 };
    pub const HTTP_10: HttpVersion = HttpVersion { major: 1, minor: 0 };
    pub const HTTP_11: HttpVersion = HttpVersion { major: 1, minor: 1 };
    pub const HTTP_2: HttpVersion = HttpVersion { major: 2, minor: 0 };

    /// "1.1", "1.0", "0.9".
    pub fn as_str(self) -> &'static str {
        match (self.major, self.minor) {
            (0, 9) => "0.9",
            (1, 0) => "1.0",
            (1, 1) => "1.1",
            (2, 0) => "2.0",
            _ => "other",
        }
    }
}

/// A byte range of a head (start, end).
pub type Span = (u32, u32);

#[derive(Clone, Debug, PartialEq, Eq)]
enum StartLine {
    Request {
        method: Span,
        target: Span,
    },
    Response {
        status: u16,
        reason: Span,
    },
    /// HTTP/0.9 has no status line: the response is the body.
    Http09Response,
}

/// Why a head could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// More header fields than the limit.
    TooManyHeaders,
    /// The start line is not an HTTP/1 request or status line.
    BadStartLine,
}

/// An owned, parsed HTTP/1 request or response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageHead {
    raw: Box<[u8]>,
    start: StartLine,
    version: HttpVersion,
    headers: Vec<(Span, Span)>,
    nonconforming: bool,
}

fn span_of(base: &[u8], part: &[u8]) -> Span {
    // Both slices come from `base`, so the pointer difference is the offset.
    let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    let start = start.min(base.len());
    let end = start.saturating_add(part.len()).min(base.len());
    (start as u32, end as u32)
}

impl MessageHead {
    /// The empty head of an HTTP/0.9 response.
    pub fn http09_response() -> MessageHead {
        MessageHead {
            raw: Box::default(),
            start: StartLine::Http09Response,
            version: HttpVersion::HTTP_09,
            headers: Vec::new(),
            nonconforming: false,
        }
    }

    fn slice(&self, span: Span) -> &[u8] {
        self.raw.get(span.0 as usize..span.1 as usize).unwrap_or_default()
    }

    /// The whole head as received, start line to blank line.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn version(&self) -> HttpVersion {
        self.version
    }

    /// True when httparse refused the head and the lenient parser produced this one.
    pub fn is_nonconforming(&self) -> bool {
        self.nonconforming
    }

    /// Request method, or empty for a response.
    pub fn method(&self) -> &[u8] {
        match self.start {
            StartLine::Request { method, .. } => self.slice(method),
            StartLine::Response { .. } | StartLine::Http09Response => b"",
        }
    }

    /// Request target, or empty for a response.
    pub fn target(&self) -> &[u8] {
        match self.start {
            StartLine::Request { target, .. } => self.slice(target),
            StartLine::Response { .. } | StartLine::Http09Response => b"",
        }
    }

    /// Status code of a response, `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } | StartLine::Http09Response => None,
        }
    }

    pub fn reason(&self) -> &[u8] {
        match self.start {
            StartLine::Response { reason, .. } => self.slice(reason),
            StartLine::Request { .. } | StartLine::Http09Response => b"",
        }
    }

    /// All header fields in order.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.headers.iter().map(|&(n, v)| (self.slice(n), self.slice(v)))
    }

    /// The header fields as text when the whole head is UTF-8 (nearly always: one check for
    /// all of them), else `None`.
    pub fn text_headers(&self) -> Option<impl Iterator<Item = (&str, &str)> + '_> {
        let text = std::str::from_utf8(&self.raw).ok()?;
        // Spans start and end at the head's ASCII delimiters, so they are character boundaries.
        let cut = move |(start, end): Span| text.get(start as usize..end as usize).unwrap_or_default();
        Some(self.headers.iter().map(move |&(n, v)| (cut(n), cut(v))))
    }

    /// Takes the head's bytes as text, with where each header field's name and value are in
    /// it, when the head is UTF-8 (else `None`, and the head is left as it was). What reads
    /// the head's bytes afterwards (start line, fields, `raw`) finds them empty: for a head
    /// that is done with once its fields are handed on.
    pub fn take_text_fields(&mut self) -> Option<(String, Vec<(Span, Span)>)> {
        let raw = std::mem::take(&mut self.raw).into_vec();
        match String::from_utf8(raw) {
            Ok(text) => Some((text, std::mem::take(&mut self.headers))),
            Err(e) => {
                self.raw = e.into_bytes().into_boxed_slice();
                None
            }
        }
    }

    /// The first header field with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// Every value of the header fields with this name, in order.
    pub fn header_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.headers().filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// True for a request head.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    pub fn header_count(&self) -> usize {
        self.headers.len()
    }
}

/// The start of a head built from a header list (HTTP/2 pseudo-header fields).
#[derive(Clone, Copy, Debug)]
pub enum FieldStart<'a> {
    Request { method: &'a [u8], target: &'a [u8] },
    Response { status: u16 },
}

impl MessageHead {
    /// A head made from a decoded header list rather than HTTP/1 bytes: HTTP/2 and later. The
    /// fields are kept in order (at most [`MAX_HEADERS_CAP`]); `raw()` then holds the names and
    /// values back to back, not a wire image.
    pub fn from_fields<'f>(
        start: FieldStart<'_>,
        version: HttpVersion,
        fields: impl Iterator<Item = (&'f [u8], &'f [u8])> + Clone,
    ) -> MessageHead {
        let fields = fields.take(MAX_HEADERS_CAP);
        let lead = match start {
            FieldStart::Request { method, target } => method.len().saturating_add(target.len()),
            FieldStart::Response { .. } => 0,
        };
        let total = fields.clone().fold(lead, |n, (a, b)| n.saturating_add(a.len()).saturating_add(b.len()));
        let mut raw = Vec::with_capacity(total.min(u32::MAX as usize));
        let put = |raw: &mut Vec<u8>, bytes: &[u8]| -> Span {
            let from = u32::try_from(raw.len()).unwrap_or(u32::MAX);
            if raw.len().saturating_add(bytes.len()) <= u32::MAX as usize {
                raw.extend_from_slice(bytes);
            }
            (from, u32::try_from(raw.len()).unwrap_or(u32::MAX))
        };
        let start = match start {
            FieldStart::Request { method, target } => {
                StartLine::Request { method: put(&mut raw, method), target: put(&mut raw, target) }
            }
            FieldStart::Response { status } => StartLine::Response { status, reason: (0, 0) },
        };
        let headers = fields.map(|(n, v)| (put(&mut raw, n), put(&mut raw, v))).collect();
        MessageHead { raw: raw.into_boxed_slice(), start, version, headers, nonconforming: false }
    }
}

/// Returns the length of the head (through its blank line) if `buf` holds a complete head.
/// `from` is where a previous scan of the same buffer stopped, so growing buffers are scanned
/// once; pass 0 for a fresh buffer. Bare LF line ends are accepted.
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.min(buf.len());
    for nl in memchr::memchr_iter(b'\n', buf.get(start..)?) {
        // `at` is an index into `buf`, so adding a few bytes to it cannot overflow.
        let at = start.saturating_add(nl);
        match buf.get(at..) {
            Some([b'\n', b'\n', ..]) => return Some(at.saturating_add(2)),
            Some([b'\n', b'\r', b'\n', ..]) => return Some(at.saturating_add(3)),
            _ => {}
        }
    }
    None
}

/// Where to resume [`find_head_end`] after it found nothing in `buf`.
pub fn head_scan_resume(buf: &[u8]) -> usize {
    buf.len().saturating_sub(2)
}

/// If the first line of `buf` is a complete request line without an HTTP version (HTTP/0.9
/// style `GET /path`), returns the length of that line including its line end.
pub fn http09_request_line(buf: &[u8]) -> Option<usize> {
    let nl = memchr::memchr(b'\n', buf)?;
    let line = trim_spaces(trim_cr(buf.get(..nl)?));
    // Two words between spaces: the method, then the target. Every request line is asked, and
    // nearly all have a third (the version): two byte searches, not a walk over the words.
    let gap = memchr::memchr(b' ', line)?;
    let (method, rest) = line.split_at(gap);
    let target = trim_spaces(rest);
    if target.is_empty() || memchr::memchr(b' ', target).is_some() || !crate::sniff::is_known_method(method) {
        return None;
    }
    Some(nl.saturating_add(1))
}

fn trim_spaces(mut s: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' '] = s {
        s = rest;
    }
    s
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r'] = s {
        s = rest;
    }
    s
}

fn lenient_config() -> httparse::ParserConfig {
    let mut config = httparse::ParserConfig::default();
    config
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .ignore_invalid_headers_in_responses(true)
        .ignore_invalid_headers_in_requests(true);
    config
}

/// Parses a complete request head (as delimited by [`find_head_end`]) or an HTTP/0.9 request line.
pub fn parse_request_head(head: &[u8], max_headers: usize) -> Result<MessageHead, HeadError> {
    let max_headers = max_headers.clamp(1, MAX_HEADERS_CAP);
    // Left uninitialised (the parser writes what it fills): filling 256 empty fields cost more
    // than parsing a head.
    let mut storage = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS_CAP];
    let fields = storage.get_mut(..max_headers).unwrap_or_default();
    let mut req = httparse::Request::new(&mut []);
    match lenient_config().parse_request_with_uninit_headers(&mut req, head, fields) {
        Ok(httparse::Status::Complete(_)) => {
            let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
                return Err(HeadError::BadStartLine);
            };
            let start =
                StartLine::Request { method: span_of(head, method.as_bytes()), target: span_of(head, path.as_bytes()) };
            let headers =
                req.headers.iter().map(|h| (span_of(head, h.name.as_bytes()), span_of(head, h.value))).collect();
            Ok(MessageHead {
                raw: head.into(),
                start,
                version: HttpVersion { major: 1, minor },
                headers,
                nonconforming: false,
            })
        }
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooManyHeaders),
        _ => lenient_request(head, max_headers),
    }
}

/// Parses a complete response head.
pub fn parse_response_head(head: &[u8], max_headers: usize) -> Result<MessageHead, HeadError> {
    let max_headers = max_headers.clamp(1, MAX_HEADERS_CAP);
    let mut storage = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS_CAP];
    let fields = storage.get_mut(..max_headers).unwrap_or_default();
    let mut resp = httparse::Response::new(&mut []);
    match lenient_config().parse_response_with_uninit_headers(&mut resp, head, fields) {
        Ok(httparse::Status::Complete(_)) => {
            let (Some(code), Some(minor)) = (resp.code, resp.version) else {
                return Err(HeadError::BadStartLine);
            };
            let reason = resp.reason.map(|r| span_of(head, r.as_bytes())).unwrap_or((0, 0));
            let headers =
                resp.headers.iter().map(|h| (span_of(head, h.name.as_bytes()), span_of(head, h.value))).collect();
            Ok(MessageHead {
                raw: head.into(),
                start: StartLine::Response { status: code, reason },
                version: HttpVersion { major: 1, minor },
                headers,
                nonconforming: false,
            })
        }
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooManyHeaders),
        _ => lenient_response(head, max_headers),
    }
}

fn first_line(head: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'\n', head) {
        Some(nl) => (trim_cr(head.get(..nl).unwrap_or_default()), head.get(nl.saturating_add(1)..).unwrap_or_default()),
        None => (trim_cr(head), b""),
    }
}

/// The value of an ASCII decimal digit (callers have checked that it is one).
fn digit_value(d: u8) -> u8 {
    d.saturating_sub(b'0')
}

fn parse_version(v: &[u8]) -> Option<HttpVersion> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major @ b'0'..=b'9', b'.', minor @ b'0'..=b'9'] => {
            Some(HttpVersion { major: digit_value(*major), minor: digit_value(*minor) })
        }
        // Truncated "HTTP/1." or "HTTP/1" from broken clients and scanners: servers treat it as 1.1.
        [b'H', b'T', b'T', b'P', b'/', b'1'] | [b'H', b'T', b'T', b'P', b'/', b'1', b'.'] => Some(HttpVersion::HTTP_11),
        _ => None,
    }
}

fn lenient_request(head: &[u8], max_headers: usize) -> Result<MessageHead, HeadError> {
    let (line, rest) = first_line(head);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').filter(|p| !p.is_empty()).collect();
    let (method, target, version) = match parts.as_slice() {
        // A bare known method ("OPTIONS") followed by header fields.
        [method] if crate::sniff::is_known_method(method) => (*method, &b""[..], HttpVersion::HTTP_10),
        [method, target] => (*method, *target, HttpVersion::HTTP_09),
        [method, middle @ .., last] if !middle.is_empty() => {
            let version = parse_version(last).ok_or(HeadError::BadStartLine)?;
            // A target with raw spaces in it: keep everything between method and version.
            let (first, final_part) =
                (middle.first().copied().unwrap_or_default(), middle.last().copied().unwrap_or_default());
            let (start, _) = span_of(head, first);
            let (_, end) = span_of(head, final_part);
            (*method, head.get(start as usize..end as usize).unwrap_or_default(), version)
        }
        _ => return Err(HeadError::BadStartLine),
    };
    if !method.iter().all(|&b| crate::sniff::is_token_byte(b)) {
        return Err(HeadError::BadStartLine);
    }
    let start = StartLine::Request { method: span_of(head, method), target: span_of(head, target) };
    let headers = lenient_headers(head, rest, max_headers)?;
    Ok(MessageHead { raw: head.into(), start, version, headers, nonconforming: true })
}

fn lenient_response(head: &[u8], max_headers: usize) -> Result<MessageHead, HeadError> {
    let (line, rest) = first_line(head);
    let (version, after) = match memchr::memchr(b' ', line) {
        Some(sp) => (line.get(..sp).unwrap_or_default(), line.get(sp.saturating_add(1)..).unwrap_or_default()),
        None => (line, &b""[..]),
    };
    let version = parse_version(version).ok_or(HeadError::BadStartLine)?;
    let after = trim_ws(after);
    let digits = after.get(..3).ok_or(HeadError::BadStartLine)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(HeadError::BadStartLine);
    }
    // Three digits: at most 999.
    let status = digits.iter().fold(0u16, |acc, d| acc.saturating_mul(10).saturating_add(u16::from(digit_value(*d))));
    let reason = trim_ws(after.get(3..).unwrap_or_default());
    let start = StartLine::Response { status, reason: span_of(head, reason) };
    let headers = lenient_headers(head, rest, max_headers)?;
    Ok(MessageHead { raw: head.into(), start, version, headers, nonconforming: true })
}

fn lenient_headers(head: &[u8], block: &[u8], max_headers: usize) -> Result<Vec<(Span, Span)>, HeadError> {
    let mut out: Vec<(Span, Span)> = Vec::new();
    for raw_line in block.split(|&b| b == b'\n') {
        let line = trim_cr(raw_line);
        if line.is_empty() {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // Obsolete line folding: the value continues on this line.
            if let Some(last) = out.last_mut() {
                let end = span_of(head, trim_ws(line)).1;
                last.1 .1 = end.max(last.1 .1);
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else { continue };
        let name = trim_ws(line.get(..colon).unwrap_or_default());
        if name.is_empty() {
            continue;
        }
        if out.len() >= max_headers {
            return Err(HeadError::TooManyHeaders);
        }
        let value = trim_ws(line.get(colon.saturating_add(1)..).unwrap_or_default());
        out.push((span_of(head, name), span_of(head, value)));
    }
    Ok(out)
}

/// A byte range inside a head, for callers that keep positions rather than slices.
pub fn range_of(span: (u32, u32)) -> Range<usize> {
    span.0 as usize..span.1 as usize
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
    use super::*;

    fn req(s: &str) -> MessageHead {
        parse_request_head(s.as_bytes(), 100).unwrap()
    }

    #[test]
    fn headers_are_text_only_when_the_whole_head_is_utf8() {
        let head = req("GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\nX-Name: Zo\u{eb} \u{1d11e}\r\nEmpty:\r\n\r\n");
        let text: Vec<(&str, &str)> = head.text_headers().unwrap().collect();
        let bytes: Vec<(&[u8], &[u8])> = head.headers().collect();
        assert_eq!(text.len(), 3);
        for ((tn, tv), (bn, bv)) in text.iter().zip(&bytes) {
            assert_eq!((tn.as_bytes(), tv.as_bytes()), (*bn, *bv));
        }
        assert_eq!(text[1], ("X-Name", "Zo\u{eb} \u{1d11e}"));
        // One byte that is not UTF-8 anywhere in the head: the fields are read one by one.
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad: \xff\xfe\r\n\r\n";
        let head = parse_request_head(raw, 100).unwrap();
        assert!(head.text_headers().is_none());
        assert_eq!(head.headers().nth(1), Some((&b"X-Bad"[..], &b"\xff\xfe"[..])));
    }

    #[test]
    fn a_utf8_heads_text_and_field_spans_are_taken_and_the_rest_left_alone() {
        let mut head = req("GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\nX-Name: Zo\u{eb}\r\n\r\n");
        let fields: Vec<(String, String)> =
            head.text_headers().unwrap().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        let (text, spans) = head.take_text_fields().unwrap();
        let cut = |(a, b): Span| text.get(a as usize..b as usize).unwrap();
        let taken: Vec<(String, String)> =
            spans.iter().map(|&(n, v)| (cut(n).to_string(), cut(v).to_string())).collect();
        assert_eq!(taken, fields);
        // Taken: its bytes and fields are gone.
        assert!(head.raw().is_empty() && head.header_count() == 0);
        assert_eq!(head.take_text_fields(), Some((String::new(), Vec::new())));
        // A head that is not UTF-8 keeps everything.
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad: \xff\r\n\r\n";
        let mut head = parse_request_head(raw, 100).unwrap();
        assert!(head.take_text_fields().is_none());
        assert_eq!((head.raw(), head.header_count(), head.target()), (&raw[..], 2, &b"/"[..]));
    }

    #[test]
    fn head_end_is_found_with_crlf_and_bare_lf() {
        let check = |s: &str, want: Option<usize>| assert_eq!(find_head_end(s.as_bytes(), 0), want, "{s:?}");
        check("GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", Some(27));
        check("GET / HTTP/1.1\nHost: a\n\nBODY", Some(24));
        check("GET / HTTP/1.1\r\nHost: a\r\n", None);
        check("GET / HTTP/1.1\r\nHost: a\r\n\r", None);
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(find_head_end(buf, head_scan_resume(&buf[..25])), Some(27));
    }

    #[test]
    fn conforming_request() {
        let h = req("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl\r\n\r\n");
        assert_eq!((h.method(), h.target(), h.version()), (&b"GET"[..], &b"/a?b=1"[..], HttpVersion::HTTP_11));
        assert_eq!(h.header("host"), Some(&b"example.com"[..]));
        assert_eq!(h.header_count(), 2);
        assert!(!h.is_nonconforming());
    }

    #[test]
    fn odd_requests_parse_leniently() {
        let h = req("GET /a b HTTP/1.0\r\nX: 1\r\n\r\n");
        assert_eq!((h.target(), h.version()), (&b"/a b"[..], HttpVersion::HTTP_10));
        let h = req("GET /\"quoted\"<x> HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n");
        assert_eq!(h.target(), b"/\"quoted\"<x>");
        assert_eq!(h.header("host").map(|v| v.starts_with(b"h")), Some(true));
        let h = req("GET / HTTP/1.\nHost: h\n\n");
        assert_eq!((h.version(), h.header("host")), (HttpVersion::HTTP_11, Some(&b"h"[..])));
        let h = req("OPTIONS\nHost: h\n\n");
        assert_eq!((h.method(), h.target()), (&b"OPTIONS"[..], &b""[..]));
        let h = req("GET /nover\r\n\r\n");
        assert_eq!(h.version(), HttpVersion::HTTP_09);
        assert_eq!(parse_request_head(b"\x16\x03\x01 junk\r\n\r\n", 100), Err(HeadError::BadStartLine));
    }

    #[test]
    fn responses() {
        let h = parse_response_head(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n", 10).unwrap();
        assert_eq!((h.status(), h.reason()), (Some(404), &b"Not Found"[..]));
        let h = parse_response_head(b"HTTP/1.0 200\r\n\r\n", 10).unwrap();
        assert_eq!(h.status(), Some(200));
        let h = parse_response_head(b"HTTP/1.1 200 OK\r\nBad Header\r\nX:  y \r\n\r\n", 10).unwrap();
        assert_eq!(h.header("x"), Some(&b"y"[..]));
        assert!(parse_response_head(b"HTTP/1.1 2x0 OK\r\n\r\n", 10).is_err());
    }

    #[test]
    fn header_limit() {
        let mut s = String::from("GET / HTTP/1.1\r\n");
        for i in 0..20 {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s.push_str("\r\n");
        assert_eq!(parse_request_head(s.as_bytes(), 10), Err(HeadError::TooManyHeaders));
        assert_eq!(parse_request_head(s.as_bytes(), 20).unwrap().header_count(), 20);
    }

    #[test]
    fn http09_lines() {
        assert_eq!(http09_request_line(b"GET /x\r\nmore"), Some(8));
        assert_eq!(http09_request_line(b"GET /x HTTP/1.1\r\n"), None);
        assert_eq!(http09_request_line(b"FOO /x\r\n"), None);
        // As the words between spaces count them: exactly a known method and a target.
        let by_words = |buf: &[u8]| {
            let nl = memchr::memchr(b'\n', buf)?;
            let line = trim_cr(&buf[..nl]);
            let words: Vec<&[u8]> = line.split(|&b| b == b' ').filter(|p| !p.is_empty()).collect();
            match words[..] {
                [method, _] if crate::sniff::is_known_method(method) => Some(nl + 1),
                _ => None,
            }
        };
        let parts = ["", " ", "  ", "GET", "POST", "get", "/x", "/a b", "HTTP/1.1", "\t", "\r", "x\ty", "é"];
        for a in parts {
            for b in parts {
                for c in parts {
                    for end in ["\n", "\r\n", "", "\r\nHost: h\r\n"] {
                        let line = format!("{a}{b}{c}{end}");
                        assert_eq!(http09_request_line(line.as_bytes()), by_words(line.as_bytes()), "{line:?}");
                    }
                }
            }
        }
    }
}
