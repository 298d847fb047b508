//! One TCP connection's application layer: sniff each direction, then frame HTTP/1 messages
//! and pair requests with responses (FIFO, as HTTP/1 requires, which also covers pipelining).

use std::collections::VecDeque;
use std::net::SocketAddr;

use apisonar_wire::http::{HttpVersion, MessageHead};
use apisonar_wire::sniff::{find_request_start, find_response_start, sniff, Sniff};

use super::h2::{Cx, H2Conn};
use super::parser::{Framing, MessageParser, MessageSink, Role};
use super::ws::{Deflate, WsConn};
use crate::anomaly::AnomalyList;
use crate::engine::EventSink;
use crate::http::{AppProtocol, Body, HttpRequest, HttpResponse, HttpTransaction};
use crate::stats;
use crate::table::other_side;
use crate::{Anomaly, Limits, Stats, Timestamp};

/// Bytes buffered while a direction's protocol is still unknown.
const MAX_SNIFF_BYTES: usize = 8192;
/// Interim (1xx) status codes kept per request; real servers send one or two.
pub(super) const MAX_INTERIM_RESPONSES: usize = 8;

/// Bytes a message held in memory takes: its head (bytes and field positions) and body sample.
pub(super) fn message_bytes(head: &MessageHead, body: &Body) -> usize {
    let fields = head.header_count().saturating_mul(std::mem::size_of::<[(u32, u32); 2]>());
    head.raw().len().saturating_add(fields).saturating_add(body.sample.capacity())
}

enum DirState {
    /// Protocol not known yet; bytes so far.
    Sniffing(Vec<u8>),
    /// First bytes were not recognisable; scanning for any HTTP start line.
    Scanning(Vec<u8>, usize),
    // Boxed: most connections a sensor tracks never get this far (scans, SYN floods), and the
    // parsers are most of a connection's size.
    Parsing(Box<MessageParser>),
    /// A TLS handshake being read.
    Tls(Box<crate::tls::TlsReader>),
    /// HTTP/2 frames, read by the connection's [`H2Conn`].
    Http2,
    /// WebSocket frames after a 101, read by the connection's [`WsConn`].
    WebSocket,
    Done,
}

pub(super) struct PendingRequest {
    pub(super) index: u32,
    pub(super) request: HttpRequest,
    pub(super) interim: Vec<u16>,
    pub(super) anomalies: AnomalyList,
    /// The final response, when it ended before the request did (an early answer, or a body
    /// cut by the capture): the transaction is emitted once the request ends too.
    pub(super) response: Option<Box<ResponseInProgress>>,
    /// The HTTP/2 stream, for requests that are one.
    pub(super) stream: Option<u32>,
}

pub(super) struct ResponseInProgress {
    /// Index of the request answered; `None` for a response without a request.
    pub(super) answers: Option<u32>,
    pub(super) interim: bool,
    pub(super) ts: Timestamp,
    pub(super) end_ts: Timestamp,
    pub(super) complete: bool,
    pub(super) head: MessageHead,
    pub(super) body: Body,
    pub(super) anomalies: AnomalyList,
    pub(super) trailers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ResponseInProgress {
    /// A final response whose head arrived at `ts`, answering request `answers`.
    pub(super) fn new(answers: Option<u32>, ts: Timestamp, head: MessageHead, anomalies: AnomalyList) -> Self {
        ResponseInProgress {
            answers,
            interim: false,
            ts,
            end_ts: ts,
            complete: false,
            head,
            body: Body::default(),
            anomalies,
            trailers: Vec::new(),
        }
    }
}

pub(super) struct Pairing {
    connection_id: u64,
    /// Endpoints by direction index (0 = the lower endpoint of the flow key).
    endpoints: [SocketAddr; 2],
    client_dir: Option<usize>,
    protocol: AppProtocol,
    pending: VecDeque<PendingRequest>,
    pub(super) next_index: u32,
    request_in_progress: Option<u32>,
    response: Option<Box<ResponseInProgress>>,
    tunnel: bool,
    /// Transport anomalies seen between messages, by role (request, response): they are
    /// attached to the next message so that the evidence travels with a transaction.
    pub(super) carried: [AnomalyList; 2],
    /// A 101 to WebSocket: the upgrade request's index and the extensions the answer agreed.
    websocket: Option<(u32, Deflate)>,
}

pub(crate) struct HttpConn {
    dirs: [DirState; 2],
    pairing: Pairing,
    /// The TLS handshake, when the connection (or a CONNECT tunnel in it) carries TLS.
    tls: Option<Box<crate::TlsSession>>,
    /// Anomalies on a direction whose role is not known yet.
    unassigned: [AnomalyList; 2],
    /// Both directions' HTTP/2 state, once the connection speaks it.
    h2: Option<Box<H2Conn>>,
    /// Both directions' WebSocket state, after a 101 to it.
    ws: Option<Box<WsConn>>,
}

impl HttpConn {
    pub(crate) fn new(connection_id: u64, endpoints: [SocketAddr; 2]) -> HttpConn {
        HttpConn {
            dirs: [DirState::Sniffing(Vec::new()), DirState::Sniffing(Vec::new())],
            pairing: Pairing {
                connection_id,
                endpoints,
                client_dir: None,
                protocol: AppProtocol::Empty,
                pending: VecDeque::new(),
                next_index: 0,
                request_in_progress: None,
                response: None,
                tunnel: false,
                carried: [AnomalyList::default(), AnomalyList::default()],
                websocket: None,
            },
            unassigned: [AnomalyList::default(), AnomalyList::default()],
            tls: None,
            h2: None,
            ws: None,
        }
    }

    /// The TCP handshake says which side is the client; content may still override it.
    pub(crate) fn client_hint(&mut self, dir: usize) {
        if self.pairing.client_dir.is_none() {
            self.pairing.client_dir = Some(dir);
        }
    }

    pub(crate) fn client_dir(&self) -> Option<usize> {
        self.pairing.client_dir
    }

    pub(crate) fn protocol(&self) -> AppProtocol {
        self.pairing.protocol
    }

    /// Bytes this connection holds: stream buffers, requests waiting for their response, the
    /// response being read, and the TLS facts gathered so far.
    /// (Summed part by part, not as one chain of iterators: it runs after every segment, and the
    /// chain's fold took a worker 1%.)
    pub(crate) fn buffered_bytes(&self) -> usize {
        let mut sum = 0usize;
        for d in &self.dirs {
            sum = sum.saturating_add(match d {
                DirState::Sniffing(b) | DirState::Scanning(b, _) => b.capacity(),
                DirState::Parsing(p) => p.buffered_bytes(),
                DirState::Tls(r) => r.buffered_bytes(),
                DirState::Http2 | DirState::WebSocket | DirState::Done => 0,
            });
        }
        for p in &self.pairing.pending {
            sum = sum
                .saturating_add(message_bytes(&p.request.head, &p.request.body))
                .saturating_add(p.interim.capacity().saturating_mul(std::mem::size_of::<u16>()))
                .saturating_add(p.response.as_ref().map_or(0, |r| message_bytes(&r.head, &r.body)));
        }
        if let Some(r) = &self.pairing.response {
            sum = sum.saturating_add(message_bytes(&r.head, &r.body));
        }
        if let Some(t) = &self.tls {
            sum = sum.saturating_add(t.held_bytes());
        }
        if let Some(h) = &self.h2 {
            sum = sum.saturating_add(h.buffered_bytes());
        }
        if let Some(w) = &self.ws {
            sum = sum.saturating_add(w.buffered_bytes());
        }
        sum
    }

    /// True when a response has ended while the request in progress on `dir` has not: bytes of
    /// that request the peer acknowledges but the capture never showed will not come.
    pub(crate) fn response_waits_for_request(&self, dir: usize) -> bool {
        self.pairing.client_dir == Some(dir)
            && self
                .pairing
                .request_in_progress
                .and_then(|idx| self.pairing.pending.iter().find(|p| p.index == idx))
                .is_some_and(|p| p.response.is_some())
    }

    /// The connection is closed before its end (evicted): every message still open carries
    /// `anomaly`, so the transactions it yields say why they are cut short.
    pub(crate) fn mark_unfinished(&mut self, anomaly: Anomaly) {
        for p in &mut self.pairing.pending {
            p.anomalies.add(anomaly);
        }
        if let Some(r) = &mut self.pairing.response {
            r.anomalies.add(anomaly);
        }
        if let Some(h2) = &mut self.h2 {
            h2.mark_open_streams(anomaly);
        }
    }

    /// With no handshake seen and no content to tell: the side on the higher port is taken for
    /// the client (ephemeral ports are high, services listen low).
    fn ephemeral_side(&self) -> usize {
        let port = |d: usize| crate::table::side(&self.pairing.endpoints, d).port();
        if port(0) >= port(1) {
            0
        } else {
            1
        }
    }

    /// The role index (0 requests, 1 responses) of direction `dir`.
    fn role_of(&self, dir: usize) -> usize {
        usize::from(self.pairing.client_dir.is_some_and(|c| c != dir))
    }

    pub(crate) fn data(
        &mut self,
        dir: usize,
        bytes: &[u8],
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        let mut known = None;
        let Some(state) = self.dirs.get_mut(dir) else { return };
        let mut sink = PairingSink { pairing: &mut self.pairing, out, limits };
        match state {
            DirState::Parsing(parser) => {
                let used = parser.feed(bytes, ts, limits, stats, &mut sink);
                if self.pairing.tunnel {
                    self.enter_tunnel(dir, bytes.get(used..).unwrap_or_default(), ts, limits, stats, out);
                }
                return;
            }
            DirState::Tls(reader) => {
                reader.feed(bytes, ts, self.tls.get_or_insert_with(Box::default), limits, stats);
                return;
            }
            DirState::WebSocket => {
                let role = usize::from(self.pairing.client_dir.is_some_and(|c| c != dir));
                if let Some(ws) = &mut self.ws {
                    ws.feed(role, bytes, ts, limits, stats, out);
                }
                return;
            }
            DirState::Http2 => {
                let role = usize::from(self.pairing.client_dir.is_some_and(|c| c != dir));
                if let Some(h2) = &mut self.h2 {
                    h2.feed(role, bytes, ts, &mut Cx { pairing: &mut self.pairing, limits, stats, out });
                }
                return;
            }
            DirState::Done => return,
            DirState::Sniffing(buf) if buf.is_empty() && bytes.len() <= MAX_SNIFF_BYTES => {
                // A direction's first bytes nearly always tell HTTP/1 on their own: parsed where
                // they are instead of copied into the sniffing buffer first (a copy and an
                // allocation a direction, every short connection). Anything else is buffered.
                let verdict = sniff(bytes);
                let role = match verdict {
                    Sniff::Http1Request => Some(Role::Request),
                    Sniff::Http1Response => Some(Role::Response),
                    _ => None,
                };
                if let Some(role) = role {
                    return self.start_http(dir, role, bytes, ts, limits, stats, out);
                }
                buf.extend_from_slice(bytes);
                // The buffer holds just these bytes: their verdict is the buffer's.
                known = Some(verdict);
            }
            DirState::Sniffing(buf) | DirState::Scanning(buf, _) => buf.extend_from_slice(bytes),
        }
        self.classify(dir, known, ts, limits, stats, out);
    }

    /// The connection left HTTP/1. A CONNECT tunnel is sniffed afresh (it often carries plain
    /// HTTP, or TLS); after a 101 to h2c both directions read HTTP/2, the upgrade request being
    /// stream 1; after another 101 upgrade (WebSocket) parsing stops.
    #[allow(clippy::too_many_arguments)]
    fn enter_tunnel(
        &mut self,
        dir: usize,
        rest: &[u8],
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        if self.pairing.protocol == AppProtocol::Http2 {
            self.pairing.tunnel = false;
            self.pairing.request_in_progress = None;
            self.pairing.response = None;
            // The upgrade request waits, with its 101, for its answer on stream 1.
            let upgrade = self.pairing.pending.iter().position(|p| p.interim.contains(&101));
            let h2 = match upgrade.and_then(|at| self.pairing.pending.remove(at)) {
                Some(mut request) => {
                    request.stream = Some(1);
                    H2Conn::upgraded(request)
                }
                None => H2Conn::new(),
            };
            self.h2 = Some(Box::new(h2));
            self.dirs = [DirState::Http2, DirState::Http2];
            if !rest.is_empty() {
                self.data(dir, rest, ts, limits, stats, out);
            }
            return;
        }
        if let (AppProtocol::WebSocket, Some((parent, deflate))) = (self.pairing.protocol, self.pairing.websocket) {
            self.pairing.tunnel = false;
            let client = self.pairing.client_dir.unwrap_or(0);
            let endpoint = |d: usize| *crate::table::side(&self.pairing.endpoints, d);
            let ws = WsConn::new(
                self.pairing.connection_id,
                parent,
                endpoint(client),
                endpoint(other_side(client)),
                deflate,
            );
            self.ws = Some(Box::new(ws));
            self.dirs = [DirState::WebSocket, DirState::WebSocket];
            if !rest.is_empty() {
                self.data(dir, rest, ts, limits, stats, out);
            }
            return;
        }
        if self.pairing.protocol != AppProtocol::Tunnel {
            self.dirs = [DirState::Done, DirState::Done];
            return;
        }
        self.pairing.tunnel = false;
        self.pairing.request_in_progress = None;
        self.pairing.response = None;
        self.dirs = [DirState::Sniffing(Vec::new()), DirState::Sniffing(Vec::new())];
        if !rest.is_empty() {
            self.data(dir, rest, ts, limits, stats, out);
        }
    }

    /// Decides what a direction carries once enough bytes are buffered (`known`: what sniffing
    /// the buffered bytes says, when the caller already asked).
    fn classify(
        &mut self,
        dir: usize,
        known: Option<Sniff>,
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        let Some(state) = self.dirs.get_mut(dir) else { return };
        let (role, buffered) = match state {
            DirState::Sniffing(buf) => {
                let verdict =
                    known.unwrap_or_else(|| if buf.len() > MAX_SNIFF_BYTES { Sniff::Other } else { sniff(buf) });
                match verdict {
                    Sniff::NeedMore => return,
                    Sniff::Http1Request => (Role::Request, std::mem::take(buf)),
                    Sniff::Http1Response => (Role::Response, std::mem::take(buf)),
                    Sniff::Http2ServerSettings => {
                        // The server spoke first; the client's preface is still to come.
                        self.pairing.protocol = AppProtocol::Http2;
                        return self.start_http2(other_side(dir), ts, limits, stats, out);
                    }
                    Sniff::Http2Frames => {
                        // Picked up after the start: no preface, tables only partly known.
                        self.pairing.protocol = AppProtocol::Http2;
                        let client = self.pairing.client_dir.unwrap_or_else(|| self.ephemeral_side());
                        self.h2 = Some(Box::new(H2Conn::midstream()));
                        return self.start_http2(client, ts, limits, stats, out);
                    }
                    Sniff::Tls | Sniff::Http2Preface => {
                        let p = if verdict == Sniff::Tls { AppProtocol::Tls } else { AppProtocol::Http2 };
                        if matches!(self.pairing.protocol, AppProtocol::Empty | AppProtocol::Other) {
                            self.pairing.protocol = p;
                        }
                        if p == AppProtocol::Http2 || self.pairing.client_dir.is_none() {
                            self.pairing.client_dir = Some(dir);
                        }
                        if p == AppProtocol::Http2 {
                            return self.start_http2(dir, ts, limits, stats, out);
                        }
                        // Both directions now read TLS records; bytes buffered so far go first.
                        let mine = std::mem::take(buf);
                        let other = match self.dirs.get_mut(other_side(dir)) {
                            Some(DirState::Sniffing(b) | DirState::Scanning(b, _)) => std::mem::take(b),
                            _ => Vec::new(),
                        };
                        self.dirs = [DirState::Tls(Box::default()), DirState::Tls(Box::default())];
                        let session = self.tls.get_or_insert_with(Box::default);
                        for (d, bytes) in [(dir, mine), (other_side(dir), other)] {
                            if let Some(DirState::Tls(r)) = self.dirs.get_mut(d) {
                                if !bytes.is_empty() {
                                    r.feed(&bytes, ts, session, limits, stats);
                                }
                            }
                        }
                        return;
                    }
                    Sniff::Other => {
                        let buf = std::mem::take(buf);
                        *state = DirState::Scanning(buf, 0);
                        return self.classify(dir, None, ts, limits, stats, out);
                    }
                }
            }
            DirState::Scanning(buf, scanned) => {
                // HTTP/2 frames after a pickup in the middle of a frame.
                if let Some(at) = apisonar_wire::sniff::h2_resync(buf, buf.len()) {
                    buf.drain(..at);
                    self.pairing.protocol = AppProtocol::Http2;
                    let client = self.pairing.client_dir.unwrap_or_else(|| self.ephemeral_side());
                    self.h2 = Some(Box::new(H2Conn::midstream()));
                    return self.start_http2(client, ts, limits, stats, out);
                }
                let req = find_request_start(buf);
                let resp = find_response_start(buf);
                let found = match (req, resp) {
                    (Some(a), Some(b)) if b < a => Some((Role::Response, b)),
                    (Some(a), _) => Some((Role::Request, a)),
                    (None, Some(b)) => Some((Role::Response, b)),
                    (None, None) => None,
                };
                let Some((role, at)) = found else {
                    *scanned = scanned.saturating_add(buf.len());
                    if *scanned > limits.max_resync_scan_bytes {
                        stats.anomaly(Anomaly::NotHttp);
                        if self.pairing.protocol == AppProtocol::Empty {
                            self.pairing.protocol = AppProtocol::Other;
                        }
                        *state = DirState::Done;
                    } else {
                        let keep = apisonar_wire::sniff::resync_keep(buf).min(MAX_SNIFF_BYTES);
                        let drop = buf.len().saturating_sub(keep);
                        buf.drain(..drop);
                    }
                    if self.pairing.protocol == AppProtocol::Empty {
                        self.pairing.protocol = AppProtocol::Other;
                    }
                    return;
                };
                stats.anomaly(Anomaly::NotHttp);
                let rest = buf.split_off(at);
                (role, rest)
            }
            DirState::Parsing(_) | DirState::Tls(_) | DirState::Http2 | DirState::WebSocket | DirState::Done => return,
        };
        self.start_http(dir, role, &buffered, ts, limits, stats, out);
    }

    /// The connection speaks HTTP/2 with prior knowledge, `dir` being the client's direction
    /// (it began with the client preface, or the other began with a server's SETTINGS): both
    /// directions read frames from here, the bytes buffered so far first.
    fn start_http2(&mut self, dir: usize, ts: Timestamp, limits: &Limits, stats: &mut Stats, out: &mut dyn EventSink) {
        let mut take = |d: usize| match self.dirs.get_mut(d) {
            Some(DirState::Sniffing(b) | DirState::Scanning(b, _)) => std::mem::take(b),
            _ => Vec::new(),
        };
        let (mine, other) = (take(dir), take(other_side(dir)));
        self.pairing.client_dir = Some(dir);
        if self.h2.is_none() {
            self.h2 = Some(Box::new(H2Conn::new()));
        }
        self.dirs = [DirState::Http2, DirState::Http2];
        for (d, bytes) in [(dir, mine), (other_side(dir), other)] {
            if !bytes.is_empty() {
                self.data(d, &bytes, ts, limits, stats, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_http(
        &mut self,
        dir: usize,
        role: Role,
        buffered: &[u8],
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        let client = if role == Role::Request { dir } else { other_side(dir) };
        self.pairing.client_dir = Some(client);
        for (d, list) in self.unassigned.iter_mut().enumerate() {
            let slot = usize::from(d != client);
            for a in std::mem::take(list).into_vec() {
                crate::table::side_mut(&mut self.pairing.carried, slot).add(a);
            }
        }
        if matches!(self.pairing.protocol, AppProtocol::Empty | AppProtocol::Other) {
            self.pairing.protocol = AppProtocol::Http1;
        }
        let other = other_side(dir);
        let other_role = if role == Role::Request { Role::Response } else { Role::Request };
        if let Some(DirState::Sniffing(_) | DirState::Scanning(..)) = self.dirs.get(other) {
            let pending = match self.dirs.get_mut(other) {
                Some(DirState::Sniffing(b) | DirState::Scanning(b, _)) => std::mem::take(b),
                _ => Vec::new(),
            };
            if let Some(slot) = self.dirs.get_mut(other) {
                *slot = DirState::Parsing(Box::new(MessageParser::new(other_role)));
            }
            if !pending.is_empty() {
                // The other side spoke first (capture order); its role is now known.
                self.data(other, &pending, ts, limits, stats, out);
            }
        }
        if let Some(slot) = self.dirs.get_mut(dir) {
            *slot = DirState::Parsing(Box::new(MessageParser::new(role)));
        }
        self.data(dir, buffered, ts, limits, stats, out);
    }

    pub(crate) fn gap(
        &mut self,
        dir: usize,
        len: u32,
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        let mut sink = PairingSink { pairing: &mut self.pairing, out, limits };
        match self.dirs.get_mut(dir) {
            Some(DirState::Parsing(parser)) => parser.gap(len, ts, stats, &mut sink),
            Some(DirState::Sniffing(buf)) if !buf.is_empty() => {
                // What was buffered cannot continue across the hole: scan afresh for a start line.
                let kept = std::mem::take(buf);
                if let Some(slot) = self.dirs.get_mut(dir) {
                    *slot = DirState::Scanning(kept, 0);
                }
            }
            Some(DirState::Scanning(buf, _)) => buf.clear(),
            Some(DirState::Http2) => {
                let role = self.role_of(dir);
                if let Some(h2) = &mut self.h2 {
                    h2.gap(role, len, stats);
                }
            }
            Some(DirState::WebSocket) => {
                let role = self.role_of(dir);
                if let Some(ws) = &mut self.ws {
                    ws.gap(role, stats);
                }
            }
            _ => {}
        }
    }

    /// A transport-level anomaly on `dir`, attached to the message being parsed there.
    pub(crate) fn anomaly(&mut self, dir: usize, anomaly: Anomaly, stats: &mut Stats) {
        let role = match (self.dirs.get(dir), self.pairing.client_dir) {
            (Some(DirState::Parsing(p)), _) => Some(p.role()),
            (_, Some(client)) => Some(if client == dir { Role::Request } else { Role::Response }),
            _ => None,
        };
        match (role, self.unassigned.get_mut(dir)) {
            (Some(role), _) => self.pairing.attach(role, anomaly),
            (None, Some(list)) => list.add(anomaly),
            (None, None) => {}
        }
        stats.anomaly(anomaly);
    }

    /// One direction reached its FIN: a close-delimited message in it is now complete.
    pub(crate) fn end_direction(
        &mut self,
        dir: usize,
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        let mut sink = PairingSink { pairing: &mut self.pairing, out, limits };
        if let Some(DirState::Parsing(parser)) = self.dirs.get_mut(dir) {
            parser.end(ts, stats, &mut sink);
        }
    }

    /// The connection is over: finish what can be finished and emit every pending request.
    pub(crate) fn end(&mut self, ts: Timestamp, limits: &Limits, stats: &mut Stats, out: &mut dyn EventSink) {
        // Requests first, so that a close-delimited response is paired with a finished request.
        let order = match self.pairing.client_dir {
            Some(c) => [c, other_side(c)],
            None => [0, 1],
        };
        for dir in order {
            let mut sink = PairingSink { pairing: &mut self.pairing, out, limits };
            if let Some(DirState::Parsing(parser)) = self.dirs.get_mut(dir) {
                parser.end(ts, stats, &mut sink);
            }
            if let Some(slot) = self.dirs.get_mut(dir) {
                *slot = DirState::Done;
            }
        }
        while let Some(p) = self.pairing.pending.pop_front() {
            self.pairing.emit(p, limits, stats, out);
        }
        if let Some(mut h2) = self.h2.take() {
            h2.finish(&mut Cx { pairing: &mut self.pairing, limits, stats, out });
        }
        if let Some(session) = self.tls.take() {
            // The side that sent the ClientHello is the client, whatever the handshake said.
            let client = self.pairing.client_dir.unwrap_or(0);
            let endpoint = |d: usize| *crate::table::side(&self.pairing.endpoints, d);
            out.on_tls(crate::TlsHandshake {
                connection_id: self.pairing.connection_id,
                client: endpoint(client),
                server: endpoint(other_side(client)),
                session: *session,
            });
        }
    }
}

/// Where a direction's parser hands its messages: the connection's pairing of requests and
/// responses, which emits transactions to `out`.
struct PairingSink<'a> {
    pairing: &'a mut Pairing,
    out: &'a mut dyn EventSink,
    limits: &'a Limits,
}

impl Pairing {
    fn request_mut(&mut self, index: Option<u32>) -> Option<&mut PendingRequest> {
        let index = index?;
        self.pending.iter_mut().rev().find(|p| p.index == index)
    }

    /// The oldest request that no final response has answered yet: the one the next response
    /// answers (FIFO).
    fn unanswered(&self) -> Option<&PendingRequest> {
        self.pending.iter().find(|p| p.response.is_none())
    }

    /// Emits every request up to and including the one numbered `index`, each with the
    /// response it holds, if any.
    fn emit_through(&mut self, index: u32, limits: &Limits, stats: &mut Stats, out: &mut dyn EventSink) {
        let Some(pos) = self.pending.iter().position(|q| q.index == index) else { return };
        for _ in 0..=pos {
            if let Some(done) = self.pending.pop_front() {
                self.emit(done, limits, stats, out);
            }
        }
    }

    fn attach(&mut self, role: Role, anomaly: Anomaly) {
        match role {
            Role::Request => match self.request_in_progress {
                Some(idx) => {
                    if let Some(p) = self.request_mut(Some(idx)) {
                        p.anomalies.add(anomaly);
                    }
                }
                None => self.carried[0].add(anomaly),
            },
            Role::Response => match &mut self.response {
                Some(r) => r.anomalies.add(anomaly),
                None => self.carried[1].add(anomaly),
            },
        }
    }

    pub(super) fn emit(
        &mut self,
        pending: PendingRequest,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        let PendingRequest { index, mut request, interim, mut anomalies, response, stream } = pending;
        if !request.complete {
            // Cut by the capture (snaplen, lost segments), the connection's end or an eviction.
            anomalies.add(Anomaly::IncompleteRequestBody);
            stats.anomaly(Anomaly::IncompleteRequestBody);
        }
        let mut decode_anomalies = Vec::new();
        let grpc = is_grpc(&request.head);
        request.body.decode(request.head.header("content-encoding"), limits, &mut |a| decode_anomalies.push(a));
        if grpc {
            request.body.decode_grpc(request.head.header("grpc-encoding"), limits, &mut |a| decode_anomalies.push(a));
        }
        let response = response.map(|r| {
            let mut body = r.body;
            body.decode(r.head.header("content-encoding"), limits, &mut |a| decode_anomalies.push(a));
            if grpc {
                body.decode_grpc(r.head.header("grpc-encoding"), limits, &mut |a| decode_anomalies.push(a));
            }
            for a in r.anomalies.into_vec() {
                anomalies.add(a);
            }
            HttpResponse {
                ts: r.ts,
                end_ts: r.end_ts,
                head: r.head,
                body,
                complete: r.complete,
                interim,
                trailers: r.trailers,
            }
        });
        for a in decode_anomalies {
            anomalies.add(a);
            stats.anomaly(a);
        }
        let client_dir = self.client_dir.unwrap_or(0);
        let endpoint = |d: usize| *crate::table::side(&self.endpoints, d);
        stats::add(&mut stats.transactions, 1);
        if response.is_none() {
            stats::add(&mut stats.transactions_without_response, 1);
        }
        out.on_transaction(HttpTransaction {
            connection_id: self.connection_id,
            index_in_connection: index,
            stream_id: stream,
            client: endpoint(client_dir),
            server: endpoint(other_side(client_dir)),
            request,
            response,
            anomalies: anomalies.into_vec(),
        });
    }
}

impl MessageSink for PairingSink<'_> {
    fn head(&mut self, role: Role, head: MessageHead, ts: Timestamp, stats: &mut Stats) -> Framing {
        let p = &mut *self.pairing;
        match role {
            Role::Request => {
                let mut anomalies = std::mem::take(&mut p.carried[0]);
                let framing = request_framing(&head, &mut |a| {
                    anomalies.add(a);
                    stats.anomaly(a);
                });
                let index = p.next_index;
                p.next_index = p.next_index.wrapping_add(1);
                if p.pending.len() >= self.limits.max_pending_transactions {
                    if let Some(mut oldest) = p.pending.pop_front() {
                        oldest.anomalies.add(Anomaly::PendingLimit);
                        stats.anomaly(Anomaly::PendingLimit);
                        p.emit(oldest, self.limits, stats, self.out);
                    }
                }
                p.pending.push_back(PendingRequest {
                    index,
                    request: HttpRequest { ts, end_ts: ts, head, body: Body::default(), complete: false },
                    interim: Vec::new(),
                    anomalies,
                    response: None,
                    stream: None,
                });
                p.request_in_progress = Some(index);
                framing
            }
            Role::Response => {
                let status = head.status();
                if let Some(code @ 100..=199) = status {
                    if code != 101 {
                        if let Some(front) = p.pending.iter_mut().find(|q| q.response.is_none()) {
                            // Endless 1xx responses must not grow memory.
                            if front.interim.len() < MAX_INTERIM_RESPONSES {
                                front.interim.push(code);
                            }
                        }
                        let mut interim = ResponseInProgress::new(None, ts, head, AnomalyList::default());
                        interim.interim = true;
                        p.response = Some(Box::new(interim));
                        return Framing::None;
                    }
                }
                let answered = p.unanswered();
                // Only HEAD and CONNECT change a response's framing: told apart here, where
                // the request can be read, rather than its method copied out of it.
                let method: Option<&'static [u8]> = answered.map(|a| match a.request.head.method() {
                    b"HEAD" => b"HEAD".as_slice(),
                    b"CONNECT" => b"CONNECT".as_slice(),
                    _ => b"".as_slice(),
                });
                let answers = answered.map(|a| a.index);
                let upgrade = answered.and_then(|a| a.request.head.header("upgrade")).map(<[u8]>::to_ascii_lowercase);
                let mut anomalies = std::mem::take(&mut p.carried[1]);
                if answers.is_none() {
                    anomalies.add(Anomaly::ResponseWithoutRequest);
                    stats.anomaly(Anomaly::ResponseWithoutRequest);
                }
                let framing = response_framing(&head, method, &mut |a| {
                    anomalies.add(a);
                    stats.anomaly(a);
                });
                if framing == Framing::Tunnel {
                    p.tunnel = true;
                    p.protocol = match upgrade.as_deref() {
                        Some(u) if status == Some(101) && u.starts_with(b"websocket") => AppProtocol::WebSocket,
                        Some(u) if status == Some(101) && u.starts_with(b"h2c") => AppProtocol::Http2,
                        _ => AppProtocol::Tunnel,
                    };
                    if p.protocol == AppProtocol::WebSocket {
                        let extensions = head.header("sec-websocket-extensions").unwrap_or_default();
                        p.websocket = answers.map(|index| (index, Deflate::negotiated(extensions)));
                    }
                }
                p.response = Some(Box::new(ResponseInProgress::new(answers, ts, head, anomalies)));
                framing
            }
        }
    }

    fn body(&mut self, role: Role, data: &[u8], more: u64) {
        let limits = self.limits;
        match role {
            Role::Request => {
                let idx = self.pairing.request_in_progress;
                if let Some(p) = self.pairing.request_mut(idx) {
                    p.request.body.push_expecting(data, more, limits);
                }
            }
            Role::Response => {
                if let Some(r) = &mut self.pairing.response {
                    r.body.push_expecting(data, more, limits);
                }
            }
        }
    }

    fn body_gap(&mut self, role: Role, len: u32) {
        match role {
            Role::Request => {
                let idx = self.pairing.request_in_progress;
                if let Some(p) = self.pairing.request_mut(idx) {
                    p.request.body.gap(len);
                }
            }
            Role::Response => {
                if let Some(r) = &mut self.pairing.response {
                    r.body.gap(len);
                }
            }
        }
    }

    fn end(&mut self, role: Role, ts: Timestamp, complete: bool, stats: &mut Stats) {
        let p = &mut *self.pairing;
        match role {
            Role::Request => {
                let idx = p.request_in_progress.take();
                let Some(req) = p.request_mut(idx) else { return };
                req.request.end_ts = ts;
                req.request.complete = complete;
                if req.response.is_some() {
                    // Its response came first and was waiting for it.
                    let index = req.index;
                    p.emit_through(index, self.limits, stats, self.out);
                }
            }
            Role::Response => {
                let Some(mut response) = p.response.take() else { return };
                response.end_ts = ts;
                response.complete = complete;
                if response.interim {
                    return;
                }
                let Some(answers) = response.answers else { return };
                if p.tunnel && p.protocol == AppProtocol::Http2 {
                    // h2c: the 101 is an interim answer; the final one comes on stream 1.
                    if let Some(request) = p.request_mut(Some(answers)) {
                        request.interim.push(101);
                    }
                    return;
                }
                let Some(request) = p.request_mut(Some(answers)) else { return };
                request.response = Some(response);
                if p.request_in_progress == Some(answers) {
                    // The request's body is still arriving (or was cut by the capture): emit
                    // the pair when the request ends.
                    return;
                }
                // Requests before the answered one (lost to a gap) end without a response.
                p.emit_through(answers, self.limits, stats, self.out);
            }
        }
    }

    fn anomaly(&mut self, role: Role, anomaly: Anomaly, stats: &mut Stats) {
        stats.anomaly(anomaly);
        self.pairing.attach(role, anomaly);
    }

    fn expects_http09_response(&self) -> bool {
        self.pairing.unanswered().is_some_and(|p| p.request.head.version() == HttpVersion::HTTP_09)
    }

    fn is_tunnel(&self) -> bool {
        self.pairing.tunnel
    }
}

/// gRPC (and gRPC-Web) requests: their bodies are length-prefixed messages.
fn is_grpc(head: &MessageHead) -> bool {
    head.header("content-type")
        .is_some_and(|ct| ct.len() >= 16 && ct.get(..16).is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc")))
}

/// Content-Length: every value (repeated fields, comma lists) must be the same decimal number.
enum ContentLength {
    Absent,
    Valid(u64),
    Invalid,
    Conflict,
}

fn content_length(head: &MessageHead) -> ContentLength {
    let mut found: Option<u64> = None;
    for value in head.header_all("content-length") {
        for part in value.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                return ContentLength::Invalid;
            }
            let Some(n) = part
                .iter()
                .try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(char::from(d).to_digit(10)?)))
            else {
                return ContentLength::Invalid;
            };
            match found {
                Some(prev) if prev != n => return ContentLength::Conflict,
                _ => found = Some(n),
            }
        }
    }
    found.map_or(ContentLength::Absent, ContentLength::Valid)
}

/// `Some(true)` when Transfer-Encoding is present and ends in chunked, `Some(false)` when present
/// otherwise, `None` when absent.
fn chunked(head: &MessageHead) -> Option<bool> {
    let mut last: Option<&[u8]> = None;
    for value in head.header_all("transfer-encoding") {
        for part in value.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if !part.is_empty() {
                last = Some(part);
            }
        }
    }
    last.map(|l| l.eq_ignore_ascii_case(b"chunked"))
}

fn request_framing(head: &MessageHead, anomaly: &mut dyn FnMut(Anomaly)) -> Framing {
    if head.version() == HttpVersion::HTTP_09 {
        return Framing::None;
    }
    let cl = content_length(head);
    if let Some(is_chunked) = chunked(head) {
        if !matches!(cl, ContentLength::Absent) {
            anomaly(Anomaly::TransferEncodingWithContentLength);
        }
        if is_chunked {
            return Framing::Chunked;
        }
        anomaly(Anomaly::UnknownTransferEncoding);
        return Framing::None;
    }
    match cl {
        ContentLength::Absent => Framing::None,
        ContentLength::Valid(n) => Framing::Length(n),
        ContentLength::Invalid => {
            anomaly(Anomaly::BadContentLength);
            Framing::None
        }
        ContentLength::Conflict => {
            anomaly(Anomaly::ContentLengthConflict);
            Framing::None
        }
    }
}

fn response_framing(head: &MessageHead, request_method: Option<&[u8]>, anomaly: &mut dyn FnMut(Anomaly)) -> Framing {
    let status = head.status().unwrap_or(200);
    if status == 101 {
        return Framing::Tunnel;
    }
    if request_method == Some(b"CONNECT") && (200..300).contains(&status) {
        return Framing::Tunnel;
    }
    if request_method == Some(b"HEAD") || status == 204 || status == 304 || (100..200).contains(&status) {
        return Framing::None;
    }
    if head.version() == HttpVersion::HTTP_09 {
        return Framing::UntilClose;
    }
    let cl = content_length(head);
    if let Some(is_chunked) = chunked(head) {
        if !matches!(cl, ContentLength::Absent) {
            anomaly(Anomaly::TransferEncodingWithContentLength);
        }
        return if is_chunked { Framing::Chunked } else { Framing::UntilClose };
    }
    match cl {
        ContentLength::Absent => Framing::UntilClose,
        ContentLength::Valid(n) => Framing::Length(n),
        ContentLength::Invalid => {
            anomaly(Anomaly::BadContentLength);
            Framing::UntilClose
        }
        ContentLength::Conflict => {
            anomaly(Anomaly::ContentLengthConflict);
            Framing::UntilClose
        }
    }
}
