//! The engine's input: one HTTP exchange, already decoded by whoever captured it.

use std::net::{IpAddr, SocketAddr};

/// The HTTP version that carried an exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    #[default]
    Http1,
    /// HTTP/2, cleartext (h2c) or decrypted; an h2c upgrade request counts as HTTP/2.
    Http2,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::Http1, Protocol::Http2];

    /// The name used in the inventory and its filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http1 => "http/1",
            Protocol::Http2 => "h2",
        }
    }
}

/// One message of a WebSocket connection, as the engine needs it.
#[derive(Clone, Debug)]
pub struct MessageObservation {
    /// Microseconds since the Unix epoch (packet time).
    pub ts: i64,
    pub client: IpAddr,
    pub server: SocketAddr,
    pub from_client: bool,
    /// `text`, `binary`, `close`, `ping` or `pong`.
    pub kind: &'static str,
    /// The payload (unmasked, inflated), a sample.
    pub payload: Vec<u8>,
    pub wire_len: u64,
}

impl MessageObservation {
    /// A request-shaped view of a client's text message, for the checks that read requests
    /// (injection, sensitive data in cleartext): its payload is the body of a request to
    /// `target` on `host`.
    pub fn as_request(&self, method: &str, host: &str, target: &str) -> Observation {
        Observation {
            ts: self.ts,
            client: self.client,
            server: self.server,
            host: Some(host.to_string()),
            method: method.to_string(),
            target: target.to_string(),
            request_headers: Headers::from([("content-type", "application/json")]),
            request_body: self.payload.clone(),
            request_body_len: self.wire_len,
            response: None,
            encrypted: false,
            protocol: Protocol::Http1,
        }
    }
}

/// The header fields of one message, names lower-cased, in the order sent, kept in one buffer:
/// a message's fields are made and dropped together (and often on two threads), so one
/// allocation for all of them rather than two per field. The buffer may be the message's whole
/// head as received ([`Headers::from_head`]), the fields then cut from it where they are.
#[derive(Clone, Default)]
pub struct Headers {
    text: String,
    /// Per field, where its name and its value are in `text` (start, end).
    fields: Vec<(Span, Span)>,
}

/// A byte range of [`Headers`]' text.
pub type Span = (u32, u32);

impl Headers {
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Room for `fields` fields of `bytes` bytes of names and values in all.
    pub fn with_capacity(fields: usize, bytes: usize) -> Headers {
        Headers { text: String::with_capacity(bytes), fields: Vec::with_capacity(fields) }
    }

    /// The fields of a message head, taken as they are: `head` is its text, and `fields` where
    /// each field's name and value are in it. Names are lower-cased in place (ASCII); a field
    /// whose spans are not ranges of whole characters of `head` is left out.
    pub fn from_head(mut head: String, mut fields: Vec<(Span, Span)>) -> Headers {
        fields.retain(|&(name, value)| {
            let Some(name) = head.get_mut(name.0 as usize..name.1 as usize) else { return false };
            name.make_ascii_lowercase();
            head.get(value.0 as usize..value.1 as usize).is_some()
        });
        Headers { text: head, fields }
    }

    /// Adds a field, its name as given. A field that would take the buffer past 4 GiB is left
    /// out (no message head comes near it).
    pub fn push(&mut self, name: &str, value: &str) {
        self.push_with(name, value, false);
    }

    /// Adds a field, its name lower-cased (ASCII).
    pub fn push_lowercase_name(&mut self, name: &str, value: &str) {
        self.push_with(name, value, true);
    }

    fn push_with(&mut self, name: &str, value: &str, lowercase: bool) {
        let start = self.text.len();
        let name_end = start.saturating_add(name.len());
        let Ok(value_end) = u32::try_from(name_end.saturating_add(value.len())) else { return };
        let (Ok(start), Ok(name_end)) = (u32::try_from(start), u32::try_from(name_end)) else { return };
        self.text.push_str(name);
        if lowercase {
            if let Some(written) = self.text.get_mut(start as usize..) {
                written.make_ascii_lowercase();
            }
        }
        self.text.push_str(value);
        self.fields.push(((start, name_end), (name_end, value_end)));
    }

    /// The fields, in order.
    pub fn iter(&self) -> HeaderIter<'_> {
        HeaderIter { text: &self.text, fields: self.fields.iter() }
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The value of the first field named `name` (lower case).
    pub fn get(&self, name: &str) -> Option<&str> {
        // Only the names are cut out until one matches (several lookups a transaction).
        let &(_, value) = self.fields.iter().find(|&&(n, _)| cut_span(&self.text, n) == name)?;
        Some(cut_span(&self.text, value))
    }

    /// Bytes of the buffer the fields are kept in: their names and values, and for fields
    /// taken from a head ([`Headers::from_head`]) the rest of the head too (what it holds in
    /// memory).
    pub fn buffer_len(&self) -> usize {
        self.text.len()
    }

    /// Bytes of names and values in all.
    pub fn text_len(&self) -> usize {
        self.iter().map(|(n, v)| n.len().saturating_add(v.len())).fold(0, usize::saturating_add)
    }
}

/// The part of a fields' buffer a span marks (empty should one not fit).
fn cut_span(text: &str, (start, end): Span) -> &str {
    text.get(start as usize..end as usize).unwrap_or_default()
}

/// Equal when the fields are, wherever in their buffers they are kept.
impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

/// The fields of [`Headers`], as (name, value).
#[derive(Clone)]
pub struct HeaderIter<'h> {
    text: &'h str,
    fields: std::slice::Iter<'h, (Span, Span)>,
}

impl<'h> Iterator for HeaderIter<'h> {
    type Item = (&'h str, &'h str);

    fn next(&mut self) -> Option<(&'h str, &'h str)> {
        let &(name, value) = self.fields.next()?;
        Some((cut_span(self.text, name), cut_span(self.text, value)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.fields.size_hint()
    }
}

impl ExactSizeIterator for HeaderIter<'_> {}

impl<'h> IntoIterator for &'h Headers {
    type Item = (&'h str, &'h str);
    type IntoIter = HeaderIter<'h>;

    fn into_iter(self) -> HeaderIter<'h> {
        self.iter()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(fields: I) -> Headers {
        let mut headers = Headers::new();
        for (n, v) in fields {
            headers.push(n.as_ref(), v.as_ref());
        }
        headers
    }
}

impl<N: AsRef<str>, V: AsRef<str>> From<Vec<(N, V)>> for Headers {
    fn from(fields: Vec<(N, V)>) -> Headers {
        fields.into_iter().collect()
    }
}

impl<N: AsRef<str>, V: AsRef<str>, const K: usize> From<[(N, V); K]> for Headers {
    fn from(fields: [(N, V); K]) -> Headers {
        fields.into_iter().collect()
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One request and its response (if seen), as the engine needs it.
#[derive(Clone, Debug)]
pub struct Observation {
    /// Microseconds since the Unix epoch (packet time).
    pub ts: i64,
    pub client: IpAddr,
    pub server: SocketAddr,
    /// Host header (or :authority), as sent.
    pub host: Option<String>,
    pub method: String,
    /// Request target as sent (origin-form or absolute-form).
    pub target: String,
    /// Request header fields, names lower-cased.
    pub request_headers: Headers,
    /// Decoded request body sample.
    pub request_body: Vec<u8>,
    pub request_body_len: u64,
    pub response: Option<ObservedResponse>,
    /// True when the exchange was seen inside TLS (decrypted elsewhere); false for cleartext.
    pub encrypted: bool,
    pub protocol: Protocol,
}

#[derive(Clone, Debug)]
pub struct ObservedResponse {
    pub status: u16,
    pub headers: Headers,
    /// Decoded response body sample.
    pub body: Vec<u8>,
    pub body_len: u64,
    /// From the first request byte to the last response byte.
    pub latency_micros: i64,
}

impl Observation {
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers.get(name)
    }

    /// The endpoint's host: the Host header without a default port, lower-cased; the server
    /// address when there is none.
    pub fn endpoint_host(&self) -> String {
        let from_target = || {
            self.target
                .strip_prefix("http://")
                .or_else(|| self.target.strip_prefix("https://"))
                .map(|rest| before_any(rest, b"/?"))
        };
        match self.host.as_deref().filter(|h| !h.trim().is_empty()).or_else(from_target) {
            Some(h) => {
                // Ports are digits: stripping the default one before lower-casing is the same.
                let h = h.trim();
                let default_port = if self.encrypted { ":443" } else { ":80" };
                let h = h.strip_suffix(default_port).unwrap_or(h);
                let mut host = first_chars(h, 255).to_string();
                host.make_ascii_lowercase();
                host
            }
            None => self.server.to_string(),
        }
    }

    /// The path of the target, without query or fragment ("/" when empty).
    pub fn path(&self) -> &str {
        let t = self.target.as_str();
        let t = match t.strip_prefix("http://").or_else(|| t.strip_prefix("https://")) {
            Some(rest) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"),
            None => t,
        };
        let p = before_any(t, b"?#");
        if p.is_empty() {
            "/"
        } else {
            p
        }
    }

    /// The path as a router sees it: dot segments resolved (RFC 3986 section 5.2.4, also when
    /// written `%2e`), empty segments (`//`) dropped. `/api/v2/../../etc/passwd` is `/etc/passwd`.
    pub fn normalized_path(&self) -> std::borrow::Cow<'_, str> {
        normalize_path(self.path())
    }

    /// The query string, if any.
    pub fn query(&self) -> Option<&str> {
        // Byte searches (`before_any`), not a char pattern's.
        let path = before_any(&self.target, b"?");
        let q = self.target.get(path.len()..)?.strip_prefix('?')?;
        Some(before_any(q, b"#"))
    }
}

/// The first `max` characters of `text` (all of it when shorter), borrowed.
pub fn first_chars(text: &str, max: usize) -> &str {
    // No more bytes than `max`, so no more chars: most texts, found without decoding one.
    if text.len() <= max {
        return text;
    }
    match text.char_indices().nth(max) {
        Some((cut, _)) => text.get(..cut).unwrap_or(text),
        None => text,
    }
}

/// `text` up to the first of the ASCII bytes `stops` (all of it without one). A byte search: a
/// pattern of several chars decodes every char, and paths are cut several times in every
/// transaction.
pub fn before_any<'a>(text: &'a str, stops: &[u8]) -> &'a str {
    let bytes = text.as_bytes();
    // One vectorised search for up to three stops (a byte loop comparing each byte with each
    // stop was 1.3% of a worker's time).
    let found = match *stops {
        [a] => memchr::memchr(a, bytes),
        [a, b] => memchr::memchr2(a, b, bytes),
        [a, b, c] => memchr::memchr3(a, b, c, bytes),
        _ => bytes.iter().position(|b| stops.contains(b)),
    };
    let end = found.unwrap_or(text.len());
    // An ASCII byte is never inside a multi-byte char: `end` is a char boundary.
    text.get(..end).unwrap_or(text)
}

/// Whether `text` ends with `suffix`, ASCII letters compared without case (and without a
/// lower-cased copy).
pub(crate) fn ends_with_ignore_ascii_case(text: &str, suffix: &str) -> bool {
    text.len()
        .checked_sub(suffix.len())
        .and_then(|at| text.as_bytes().get(at..))
        .is_some_and(|end| end.eq_ignore_ascii_case(suffix.as_bytes()))
}

/// See [`Observation::normalized_path`].
pub fn normalize_path(path: &str) -> std::borrow::Cow<'_, str> {
    let dot = |seg: &str| seg.eq_ignore_ascii_case("%2e") || seg == ".";
    let dotdot = |seg: &str| ["..", "%2e%2e", ".%2e", "%2e."].iter().any(|d| seg.eq_ignore_ascii_case(d));
    // Most paths have nothing to normalise: no dot or escape that could spell one, and no
    // empty segment. Those are borrowed without splitting, told in one pass over the bytes.
    let mut previous = 0u8;
    let nothing_to_do = path.bytes().all(|b| {
        let plain = b != b'.' && b != b'%' && !(b == b'/' && previous == b'/');
        previous = b;
        plain
    });
    if path.starts_with('/') && !path.ends_with('/') && nothing_to_do {
        return std::borrow::Cow::Borrowed(path);
    }
    let segments: Vec<&str> = path.split('/').collect();
    let plain = segments.iter().skip(1).all(|s| !s.is_empty() && !dot(s) && !dotdot(s));
    if plain && path.starts_with('/') {
        return std::borrow::Cow::Borrowed(path);
    }
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for seg in segments {
        if seg.is_empty() || dot(seg) {
            continue;
        }
        if dotdot(seg) {
            out.pop();
            continue;
        }
        out.push(seg);
    }
    std::borrow::Cow::Owned(format!("/{}", out.join("/")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_before_any_stop_is_what_a_char_search_finds() {
        for text in ["/a/b?x=1#f", "/a#f?x", "/é?ü", "€#", "/plain", "", "?", "/%3F?q", "/ü/?/#"] {
            let by_chars = text.split(['?', '#']).next().unwrap_or_default();
            assert_eq!(super::before_any(text, b"?#"), by_chars, "{text:?}");
        }
        assert_eq!(super::before_any("host:80/x?y", b"/?"), "host:80");
        // One to four stops, in texts long enough for the vectorised search.
        let long = format!("/{}é/{}?q=1&r#{}", "a".repeat(40), "€".repeat(12), "z".repeat(33));
        for stops in [&b"?"[..], b"?#", b"/?#", b"&#?=", b""] {
            for text in [long.as_str(), long.get(1..).unwrap_or_default(), "&", "€€€€€€€€€€€€€€€€€€€€€€€€#"]
            {
                let chars: Vec<char> = stops.iter().map(|&b| char::from(b)).collect();
                let by_chars = text.split(chars.as_slice()).next().unwrap_or_default();
                assert_eq!(super::before_any(text, stops), by_chars, "{text:?} {stops:?}");
            }
        }
    }

    #[test]
    fn header_fields_come_back_in_order_whatever_their_text() {
        let fields = [
            ("Content-Type", "application/json"),
            ("", ""),
            ("X-Ünïcode", "välue €"),
            ("set-cookie", "a=1"),
            ("SET-COOKIE", "b=2"),
            ("empty", ""),
        ];
        let mut headers = super::Headers::with_capacity(1, 4);
        for (n, v) in fields {
            headers.push_lowercase_name(n, v);
        }
        let expected: Vec<(String, String)> =
            fields.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect();
        let got: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        assert_eq!(got, expected);
        assert_eq!(headers.len(), 6);
        assert_eq!(headers.iter().len(), 6);
        assert_eq!(headers.get("content-type"), Some("application/json"));
        assert_eq!(headers.get("set-cookie"), Some("a=1"), "the first of two");
        assert_eq!(headers.get("x-Ünïcode"), Some("välue €"), "only ASCII is lower-cased");
        assert_eq!(headers.get("missing"), None);
        assert_eq!(headers.text_len(), fields.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>());
        let same: super::Headers = fields.iter().map(|(n, v)| (n.to_ascii_lowercase(), *v)).collect();
        assert_eq!(same, headers);
        assert_eq!(format!("{same:?}"), format!("{:?}", expected));
        assert!(super::Headers::new().is_empty() && super::Headers::new().iter().next().is_none());
    }

    #[test]
    fn first_chars_cuts_at_character_boundaries() {
        assert_eq!(first_chars("héllo", 2), "hé");
        assert_eq!(first_chars("héllo", 9), "héllo");
        assert_eq!(first_chars("héllo", 5), "héllo", "more bytes than max, as many chars");
        assert_eq!(first_chars("héllo", 6), "héllo");
        assert_eq!(first_chars("ééé", 2), "éé", "fewer chars than bytes, cut at a char");
        assert_eq!(first_chars("", 3), "");
        assert_eq!(first_chars("日本語", 1), "日");
        assert_eq!(first_chars("abc", 0), "");
    }

    use super::*;

    fn obs(host: Option<&str>, target: &str) -> Observation {
        Observation {
            ts: 0,
            client: "10.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            server: SocketAddr::from(([10, 0, 0, 2], 8080)),
            host: host.map(str::to_string),
            method: "GET".into(),
            target: target.into(),
            request_headers: Headers::new(),
            request_body: Vec::new(),
            request_body_len: 0,
            response: None,
            encrypted: false,
            protocol: Default::default(),
        }
    }

    #[test]
    fn paths_are_normalised_like_a_router_does() {
        for (raw, want) in [
            ("/api/v1/users", "/api/v1/users"),
            ("/", "/"),
            ("/api//v1///users/", "/api/v1/users"),
            ("/api/v2/../../../etc/passwd", "/etc/passwd"),
            ("/api/v2/customers/1/%2e%2e/%2E%2E/x", "/api/v2/x"),
            ("/a/./b/.%2e/c", "/a/c"),
            ("/..", "/"),
            ("*", "/*"),
            ("/a//b", "/a/b"),
            ("/a/b.json", "/a/b.json"),
        ] {
            assert_eq!(normalize_path(raw), want, "{raw}");
        }
        assert!(matches!(normalize_path("/api/v1/users/7"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn the_query_is_what_follows_the_first_question_mark_up_to_a_fragment() {
        for target in ["/a?x=1#f", "/a#f?x", "/a", "/a?", "?#", "/é?ü=€#x", "/a?b?c", "#?q#r"] {
            let by_split = target.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or(q));
            assert_eq!(obs(None, target).query(), by_split, "{target:?}");
        }
    }

    /// A head's fields taken where they are: names lower-cased in the head's own text, fields
    /// whose spans are not whole characters of it left out, equal to the same fields pushed.
    #[test]
    #[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
    fn fields_taken_from_a_head_read_as_fields_pushed() {
        let head = "GET /x HTTP/1.1\r\nHost: a.test\r\nX-Ünï: välue €\r\nACCEPT: */*\r\n\r\n".to_string();
        let span = |part: &str| {
            let at = head.find(part).unwrap() as u32;
            (at, at + part.len() as u32)
        };
        let mut fields =
            vec![(span("Host"), span("a.test")), (span("X-Ünï"), span("välue €")), (span("ACCEPT"), span("*/*"))];
        let pushed: super::Headers =
            [("host", "a.test"), ("x-Ünï", "välue €"), ("accept", "*/*")].into_iter().collect();
        // Past the end, inside a character, and backwards: left out.
        let (u, len) = (span("Ü").0, head.len() as u32);
        fields.extend([((len, len + 4), span("a.test")), ((u + 1, u + 2), span("*/*")), (span("Host"), (9, 3))]);
        let taken = super::Headers::from_head(head.clone(), fields);
        assert_eq!(taken, pushed);
        assert_eq!(taken.get("accept"), Some("*/*"));
        assert_eq!(taken.get("x-Ünï"), Some("välue €"));
        assert_eq!(taken.len(), 3);
        assert_eq!(taken.text_len(), pushed.text_len());
        assert_eq!((taken.buffer_len(), pushed.buffer_len()), (head.len(), pushed.text_len()));
        // Fields pushed after (a response's trailers) follow the taken ones.
        let mut more = taken.clone();
        more.push_lowercase_name("Grpc-Status", "0");
        assert_eq!(more.iter().last(), Some(("grpc-status", "0")));
        assert_ne!(more, pushed);
    }

    #[test]
    fn host_path_query() {
        assert_eq!(obs(Some("API.Example.com:80"), "/a?b=1").endpoint_host(), "api.example.com");
        assert_eq!(obs(Some("api:8080"), "/").endpoint_host(), "api:8080");
        assert_eq!(obs(None, "/x").endpoint_host(), "10.0.0.2:8080");
        assert_eq!(obs(None, "http://proxy.test/a/b?x=1").endpoint_host(), "proxy.test");
        assert_eq!(obs(None, "http://proxy.test/a/b?x=1").path(), "/a/b");
        assert_eq!(obs(None, "http://proxy.test").path(), "/");
        assert_eq!(obs(None, "/p?x=1&y=2#frag").query(), Some("x=1&y=2"));
        assert_eq!(obs(None, "*").path(), "*");
        assert_eq!(obs(None, "").path(), "/");
    }
}
