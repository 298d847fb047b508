//! One direction of an HTTP/1 connection: a streaming framer.
//!
//! `feed` takes reassembled bytes in order and reports message heads, body bytes and message
//! ends to a [`MessageSink`]; the sink decides how each body is framed (it knows the request
//! method a response answers). Body bytes are never buffered here, only heads, chunk-size lines
//! and resync scans, each bounded by [`Limits`]. After a gap or unparseable bytes the framer
//! scans for the next start line and resumes there.

use apisonar_wire::http::{
    find_head_end, head_scan_resume, http09_request_line, parse_request_head, parse_response_head, HeadError,
    MessageHead,
};
use apisonar_wire::sniff::{find_request_start, find_response_start, resync_keep};

use crate::{Anomaly, Limits, Stats, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Request,
    Response,
}

/// How the body after a head is delimited (RFC 9112 section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
    /// The connection leaves HTTP (CONNECT, 101): stop parsing both directions.
    Tunnel,
}

/// Receives what the framer finds.
pub(crate) trait MessageSink {
    fn head(&mut self, role: Role, head: MessageHead, ts: Timestamp, stats: &mut Stats) -> Framing;
    /// Body bytes; `more` is how many more the framing says are still to come in this message
    /// (as far as it knows: the rest of the declared length or of the current chunk).
    fn body(&mut self, role: Role, data: &[u8], more: u64);
    fn body_gap(&mut self, role: Role, len: u32);
    fn end(&mut self, role: Role, ts: Timestamp, complete: bool, stats: &mut Stats);
    fn anomaly(&mut self, role: Role, anomaly: Anomaly, stats: &mut Stats);
    /// True when the next response answers an HTTP/0.9 request (no status line, body to close).
    fn expects_http09_response(&self) -> bool;
    /// True once the connection has left HTTP.
    fn is_tunnel(&self) -> bool;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between messages, or inside a head being buffered.
    Head,
    Body(u64),
    Chunked(Chunk),
    UntilClose,
    /// Looking for the next start line after garbage or a gap.
    Resync,
    /// Given up on this direction (tunnel, or never HTTP).
    Ignore,
}

pub(crate) struct MessageParser {
    role: Role,
    state: State,
    buf: Vec<u8>,
    scan_from: usize,
    head_ts: Option<Timestamp>,
    /// Set once any message parsed; a stream that never parses is given up after a bounded scan.
    synced_once: bool,
    resync_scanned: usize,
}

/// Longest chunk-size line (with extensions) accepted.
const MAX_CHUNK_LINE: usize = 1024;

impl MessageParser {
    pub(crate) fn new(role: Role) -> MessageParser {
        MessageParser {
            role,
            state: State::Head,
            buf: Vec::new(),
            scan_from: 0,
            head_ts: None,
            synced_once: false,
            resync_scanned: 0,
        }
    }

    pub(crate) fn role(&self) -> Role {
        self.role
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.buf.capacity()
    }

    pub(crate) fn ignore_rest(&mut self) {
        self.state = State::Ignore;
        self.buf = Vec::new();
    }

    /// Feeds in-order bytes. Returns how many were consumed: all of them, unless the connection
    /// left HTTP (CONNECT, 101) part way, in which case the rest belongs to the tunnel.
    pub(crate) fn feed(
        &mut self,
        data: &[u8],
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        sink: &mut dyn MessageSink,
    ) -> usize {
        let total = data.len();
        let mut data = data;
        while !data.is_empty() {
            if sink.is_tunnel() {
                self.ignore_rest();
                return total.saturating_sub(data.len());
            }
            let before = self.state;
            let used = match self.state {
                State::Head => self.feed_head(data, ts, limits, stats, sink),
                State::Body(remaining) => {
                    let take = remaining.min(data.len() as u64) as usize;
                    let more = remaining.saturating_sub(take as u64);
                    sink.body(self.role, data.get(..take).unwrap_or_default(), more);
                    if take as u64 == remaining {
                        self.finish_message(ts, true, stats, sink);
                    } else {
                        self.state = State::Body(remaining.saturating_sub(take as u64));
                    }
                    take
                }
                State::Chunked(chunk) => self.feed_chunked(chunk, data, ts, limits, stats, sink),
                State::UntilClose => {
                    sink.body(self.role, data, 0);
                    data.len()
                }
                State::Resync => self.feed_resync(data, limits, stats, sink),
                State::Ignore => data.len(),
            };
            // Zero means "state changed, look again"; without a state change it would loop forever.
            let used = if used == 0 && self.state == before { 1 } else { used };
            data = data.get(used.min(data.len())..).unwrap_or_default();
        }
        total
    }

    fn feed_head(
        &mut self,
        data: &[u8],
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        sink: &mut dyn MessageSink,
    ) -> usize {
        if self.buf.is_empty() {
            // Blank lines between messages are allowed (RFC 9112 section 2.2).
            let blank = data.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            if blank > 0 {
                return blank;
            }
            self.head_ts = Some(ts);
            if self.role == Role::Response && sink.expects_http09_response() && !data.starts_with(b"HTTP/") {
                return self.start_http09_response(ts, stats, sink);
            }
        }
        let old_len = self.buf.len();
        let (found, window): (Option<usize>, &[u8]) = if old_len == 0 {
            (find_head_end(data, 0), data)
        } else {
            self.buf.extend_from_slice(data);
            (find_head_end(&self.buf, self.scan_from), &self.buf)
        };
        let http09 = if self.role == Role::Request { http09_request_line(window) } else { None };
        let end = match (found, http09) {
            (_, Some(line)) => Some(line),
            (Some(end), None) => Some(end),
            (None, None) => None,
        };
        let Some(end) = end else {
            if old_len == 0 {
                self.buf.extend_from_slice(data);
            }
            self.scan_from = head_scan_resume(&self.buf);
            if self.buf.len() > limits.max_head_bytes {
                self.report(Anomaly::HeadTooLarge, stats, sink);
                self.buf.clear();
                self.enter_resync();
            }
            return data.len();
        };
        let head_ts = self.head_ts.take().unwrap_or(ts);
        let consumed = end.saturating_sub(old_len);
        let parsed = {
            let head_bytes = window.get(..end).unwrap_or_default();
            if head_bytes.len() > limits.max_head_bytes {
                Err(None)
            } else {
                match self.role {
                    Role::Request => parse_request_head(head_bytes, limits.max_headers),
                    Role::Response => parse_response_head(head_bytes, limits.max_headers),
                }
                .map_err(Some)
            }
        };
        self.buf.clear();
        self.scan_from = 0;
        match parsed {
            Ok(head) => {
                if head.is_nonconforming() {
                    self.report(Anomaly::NonconformingHead, stats, sink);
                }
                self.synced_once = true;
                let framing = sink.head(self.role, head, head_ts, stats);
                self.start_body(framing, ts, stats, sink);
            }
            Err(reason) => {
                let anomaly = match (reason, self.role) {
                    (None, _) => Anomaly::HeadTooLarge,
                    (Some(HeadError::TooManyHeaders), _) => Anomaly::TooManyHeaders,
                    (Some(HeadError::BadStartLine), Role::Request) => Anomaly::MalformedRequestHead,
                    (Some(HeadError::BadStartLine), Role::Response) => Anomaly::MalformedResponseHead,
                };
                self.report(anomaly, stats, sink);
                self.enter_resync();
            }
        }
        consumed
    }

    fn start_http09_response(&mut self, ts: Timestamp, stats: &mut Stats, sink: &mut dyn MessageSink) -> usize {
        let head = MessageHead::http09_response();
        let framing = sink.head(self.role, head, ts, stats);
        self.start_body(framing, ts, stats, sink);
        0
    }

    fn start_body(&mut self, framing: Framing, ts: Timestamp, stats: &mut Stats, sink: &mut dyn MessageSink) {
        self.state = match framing {
            Framing::None | Framing::Length(0) => {
                self.finish_message(ts, true, stats, sink);
                return;
            }
            Framing::Length(n) => State::Body(n),
            Framing::Chunked => State::Chunked(Chunk::Size),
            Framing::UntilClose => State::UntilClose,
            Framing::Tunnel => {
                sink.end(self.role, ts, true, stats);
                State::Ignore
            }
        };
    }

    fn finish_message(&mut self, ts: Timestamp, complete: bool, stats: &mut Stats, sink: &mut dyn MessageSink) {
        self.state = State::Head;
        self.buf.clear();
        self.scan_from = 0;
        sink.end(self.role, ts, complete, stats);
    }

    fn feed_chunked(
        &mut self,
        chunk: Chunk,
        data: &[u8],
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        sink: &mut dyn MessageSink,
    ) -> usize {
        match chunk {
            Chunk::Data(remaining) => {
                let take = remaining.min(data.len() as u64) as usize;
                let more = remaining.saturating_sub(take as u64);
                sink.body(self.role, data.get(..take).unwrap_or_default(), more);
                self.state = State::Chunked(if take as u64 == remaining {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(remaining.saturating_sub(take as u64))
                });
                take
            }
            Chunk::DataEnd => match data {
                [b'\r', b'\n', ..] => {
                    self.state = State::Chunked(Chunk::Size);
                    2
                }
                [b'\r'] => 1,
                [b'\n', ..] => {
                    self.state = State::Chunked(Chunk::Size);
                    1
                }
                _ => {
                    // Missing CRLF after chunk data: lenient, read the next size line right here.
                    self.report(Anomaly::BadChunk, stats, sink);
                    self.state = State::Chunked(Chunk::Size);
                    0
                }
            },
            Chunk::Size | Chunk::Trailer => {
                let Some(nl) = memchr::memchr(b'\n', data) else {
                    self.buf.extend_from_slice(data);
                    let limit = if chunk == Chunk::Size { MAX_CHUNK_LINE } else { limits.max_head_bytes };
                    if self.buf.len() > limit {
                        self.report(Anomaly::BadChunk, stats, sink);
                        self.abandon_message(ts, stats, sink);
                    }
                    return data.len();
                };
                self.buf.extend_from_slice(data.get(..nl).unwrap_or_default());
                let line = std::mem::take(&mut self.buf);
                let line = line.strip_suffix(b"\r").unwrap_or(&line);
                if chunk == Chunk::Trailer {
                    if line.is_empty() {
                        self.finish_message(ts, true, stats, sink);
                    }
                } else {
                    match parse_chunk_size(line) {
                        Some(0) => self.state = State::Chunked(Chunk::Trailer),
                        Some(n) => self.state = State::Chunked(Chunk::Data(n)),
                        None => {
                            self.report(Anomaly::BadChunk, stats, sink);
                            self.abandon_message(ts, stats, sink);
                        }
                    }
                }
                nl.saturating_add(1)
            }
        }
    }

    /// The current message cannot be framed any further: end it and look for the next one.
    fn abandon_message(&mut self, ts: Timestamp, stats: &mut Stats, sink: &mut dyn MessageSink) {
        self.buf.clear();
        sink.end(self.role, ts, false, stats);
        self.enter_resync();
    }

    fn enter_resync(&mut self) {
        self.state = State::Resync;
        self.buf.clear();
        self.scan_from = 0;
    }

    fn feed_resync(&mut self, data: &[u8], limits: &Limits, stats: &mut Stats, sink: &mut dyn MessageSink) -> usize {
        let carried = self.buf.len();
        self.buf.extend_from_slice(data);
        let found = match self.role {
            Role::Request => find_request_start(&self.buf),
            Role::Response => find_response_start(&self.buf),
        };
        if let Some(at) = found {
            if at > 0 {
                self.report(Anomaly::ResyncSkippedBytes, stats, sink);
            }
            self.state = State::Head;
            self.resync_scanned = 0;
            self.scan_from = 0;
            if at < carried {
                // The start line begins in carried-over bytes: keep those, re-read `data` as head.
                self.buf.truncate(carried);
                self.buf.drain(..at);
                return 0;
            }
            self.buf.clear();
            return at.saturating_sub(carried);
        }
        self.resync_scanned = self.resync_scanned.saturating_add(data.len());
        if !self.synced_once && self.resync_scanned > limits.max_resync_scan_bytes {
            self.report(Anomaly::NotHttp, stats, sink);
            self.ignore_rest();
            return data.len();
        }
        let keep = resync_keep(&self.buf).min(limits.max_head_bytes);
        let drop = self.buf.len().saturating_sub(keep);
        self.buf.drain(..drop);
        data.len()
    }

    /// `len` bytes of this direction were lost.
    pub(crate) fn gap(&mut self, len: u32, ts: Timestamp, stats: &mut Stats, sink: &mut dyn MessageSink) {
        match self.state {
            State::Body(remaining) if u64::from(len) < remaining => {
                sink.body_gap(self.role, len);
                self.state = State::Body(remaining.saturating_sub(u64::from(len)));
            }
            State::Body(remaining) if u64::from(len) == remaining => {
                sink.body_gap(self.role, len);
                self.finish_message(ts, false, stats, sink);
            }
            State::UntilClose => sink.body_gap(self.role, len),
            State::Ignore => {}
            State::Head if self.buf.is_empty() => self.enter_resync(),
            State::Head | State::Resync => {
                self.report(Anomaly::TruncatedMessage, stats, sink);
                self.enter_resync();
            }
            State::Body(_) | State::Chunked(_) => {
                self.report(Anomaly::TruncatedMessage, stats, sink);
                self.abandon_message(ts, stats, sink);
            }
        }
    }

    /// The direction ended (FIN, RST, timeout or end of input).
    pub(crate) fn end(&mut self, ts: Timestamp, stats: &mut Stats, sink: &mut dyn MessageSink) {
        match self.state {
            State::UntilClose => self.finish_message(ts, true, stats, sink),
            State::Body(_) | State::Chunked(_) => {
                self.report(Anomaly::TruncatedMessage, stats, sink);
                self.finish_message(ts, false, stats, sink);
            }
            State::Head if !self.buf.iter().all(|b| b.is_ascii_whitespace()) => {
                self.report(Anomaly::TruncatedMessage, stats, sink);
            }
            _ => {}
        }
        self.state = State::Ignore;
        self.buf = Vec::new();
    }

    fn report(&self, anomaly: Anomaly, stats: &mut Stats, sink: &mut dyn MessageSink) {
        sink.anomaly(self.role, anomaly, stats);
    }
}

/// Parses a chunk-size line: hex digits, optional extensions after ';'. `None` when malformed or
/// larger than 2^62 (a smuggling attempt, never a real chunk).
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let digits_end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = line.get(..digits_end)?.trim_ascii();
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        let v = (d as char).to_digit(16)?;
        n = n.checked_mul(16)?.checked_add(u64::from(v))?;
    }
    (n < 1 << 62).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::parse_chunk_size;

    #[test]
    fn chunk_sizes() {
        let check = |s: &str, want: Option<u64>| assert_eq!(parse_chunk_size(s.as_bytes()), want, "{s:?}");
        check("1a", Some(26));
        check("1A;name=value", Some(26));
        check(" 10 ", Some(16));
        check("0", Some(0));
        check("", None);
        check("xyz", None);
        check("-5", None);
        check("10000000000000000", None);
        check("ffffffffffffffff", None);
    }
}
