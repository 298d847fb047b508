//! HTTP/2 (RFC 9113) over a reassembled connection: frames, header blocks, streams as
//! transactions.
//!
//! Each direction is read frame by frame. DATA payload goes straight to the stream's body
//! sample, so a large body costs no buffering; other frames are buffered up to a bound and then
//! handled whole. Header blocks (HEADERS or PUSH_PROMISE plus CONTINUATION) are decoded with the
//! direction's HPACK context in wire order, including blocks of streams that limits make the
//! sensor drop, so the dynamic table stays in step. A stream becomes one transaction when both
//! sides have ended it, when either side resets it, or when the connection ends.

use std::collections::BTreeMap;

use apisonar_wire::http::{FieldStart, HttpVersion, MessageHead};

use super::conn::{Pairing, PendingRequest, ResponseInProgress};
use super::hpack::{self, Field};
use crate::anomaly::AnomalyList;
use crate::engine::EventSink;
use crate::http::{Body, HttpRequest};
use crate::{Anomaly, Limits, Stats, Timestamp};

/// The client connection preface (section 3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER_LEN: usize = 9;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const PUSH_PROMISE: u8 = 0x5;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// Control frames (SETTINGS, PING, GOAWAY, ...) are small; a larger one is skipped unread.
pub(crate) const MAX_CONTROL_FRAME: usize = 16 * 1024;
/// CONTINUATION frames in one header block; real encoders need one or two. More is the
/// CONTINUATION flood (CVE-2024-27316 and kin): the block is abandoned.
const MAX_CONTINUATIONS: u32 = 64;
/// Streams the client resets before any response, per connection, that make a rapid reset
/// (CVE-2023-44487) rather than a client changing its mind.
const RAPID_RESET_STREAMS: u32 = 100;

/// The two directions, by role.
const CLIENT: usize = 0;
const SERVER: usize = 1;

#[derive(Clone, Copy, Debug)]
struct FrameHeader {
    len: usize,
    kind: u8,
    flags: u8,
    stream: u32,
}

impl FrameHeader {
    fn parse(b: &[u8; FRAME_HEADER_LEN]) -> FrameHeader {
        let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = *b;
        FrameHeader {
            len: usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2),
            kind,
            flags,
            stream: u32::from_be_bytes([s0 & 0x7f, s1, s2, s3]),
        }
    }
}

/// Where a direction is inside the current frame.
#[derive(Debug)]
enum Reading {
    /// Between frames: this many bytes of the next frame header are in `header`.
    Header(usize),
    /// A DATA frame whose pad length byte comes next.
    DataPadLength(FrameHeader, usize),
    /// Bytes after a gap, kept until a run of frames shows where framing starts again.
    Resync,
    /// Body bytes of a DATA frame, then padding to skip.
    Data { frame: FrameHeader, data_left: usize, pad_left: usize },
    /// Any other frame: its payload is buffered (or skipped when `skip`).
    Payload { frame: FrameHeader, left: usize, skip: bool },
}

/// A header block being put together from HEADERS or PUSH_PROMISE and CONTINUATION frames.
#[derive(Debug)]
struct Block {
    stream: u32,
    end_stream: bool,
    /// The stream a PUSH_PROMISE reserves.
    promised: Option<u32>,
    bytes: Vec<u8>,
    frames: u32,
    too_large: bool,
    flood: bool,
}

#[derive(Debug)]
struct Side {
    /// Preface bytes still expected (the client's only, at the start of a connection).
    preface_left: usize,
    header: [u8; FRAME_HEADER_LEN],
    reading: Reading,
    payload: Vec<u8>,
    block: Option<Block>,
    hpack: hpack::Decoder,
    /// Frame boundaries were lost and could not be found again within the resync budget:
    /// nothing more is read.
    lost: bool,
    /// Bytes held while looking for frames again after a gap (`Reading::Resync`).
    resync: Vec<u8>,
    /// Bytes looked at since the gap.
    resync_scanned: usize,
}

impl Side {
    fn new(preface: bool) -> Side {
        Side {
            preface_left: if preface { PREFACE.len() } else { 0 },
            header: [0; FRAME_HEADER_LEN],
            reading: Reading::Header(0),
            payload: Vec::new(),
            block: None,
            hpack: hpack::Decoder::default(),
            lost: false,
            resync: Vec::new(),
            resync_scanned: 0,
        }
    }

    fn held_bytes(&self) -> usize {
        self.payload
            .capacity()
            .saturating_add(self.resync.capacity())
            .saturating_add(self.block.as_ref().map_or(0, |b| b.bytes.capacity()))
            .saturating_add(self.hpack.held_bytes())
    }
}

struct Stream {
    pending: PendingRequest,
    response: Option<Box<ResponseInProgress>>,
    request_ended: bool,
    response_ended: bool,
}

impl Stream {
    fn held_bytes(&self) -> usize {
        super::conn::message_bytes(&self.pending.request.head, &self.pending.request.body)
            .saturating_add(self.response.as_ref().map_or(0, |r| super::conn::message_bytes(&r.head, &r.body)))
    }
}

/// What handling a frame may touch beyond the connection: the pairing that numbers and emits
/// transactions, the limits, the counters and the sink.
pub(super) struct Cx<'a> {
    pub(super) pairing: &'a mut Pairing,
    pub(super) limits: &'a Limits,
    pub(super) stats: &'a mut Stats,
    pub(super) out: &'a mut dyn EventSink,
}

/// One HTTP/2 connection's state, both directions.
pub(super) struct H2Conn {
    sides: [Side; 2],
    streams: BTreeMap<u32, Stream>,
    client_resets: u32,
}

impl H2Conn {
    /// A connection that starts with the client preface (prior knowledge, or after a 101).
    pub(super) fn new() -> H2Conn {
        H2Conn { sides: [Side::new(true), Side::new(false)], streams: BTreeMap::new(), client_resets: 0 }
    }

    /// A connection picked up after its start (no preface seen): both HPACK tables are only
    /// partly known, so fields that refer to older entries are marked undecodable.
    pub(super) fn midstream() -> H2Conn {
        let mut conn = H2Conn::new();
        for side in &mut conn.sides {
            side.preface_left = 0;
            side.hpack.lose_sync();
            // Either side may start inside a frame: each finds its first run of frames.
            side.reading = Reading::Resync;
        }
        conn
    }

    /// After an `Upgrade: h2c` request answered by 101: the request is stream 1 (section 3.2),
    /// its response comes as HTTP/2 frames on that stream.
    pub(super) fn upgraded(request: PendingRequest) -> H2Conn {
        let mut conn = H2Conn::new();
        let request_ended = request.request.complete;
        conn.streams.insert(1, Stream { pending: request, response: None, request_ended, response_ended: false });
        conn
    }

    pub(super) fn buffered_bytes(&self) -> usize {
        let sides = self.sides.iter().map(Side::held_bytes);
        let streams = self.streams.values().map(Stream::held_bytes);
        sides.chain(streams).fold(0, usize::saturating_add)
    }

    /// Adds `anomaly` to every stream still open (the connection is cut short).
    pub(super) fn mark_open_streams(&mut self, anomaly: Anomaly) {
        for s in self.streams.values_mut() {
            s.pending.anomalies.add(anomaly);
        }
    }

    pub(super) fn feed(&mut self, role: usize, mut bytes: &[u8], ts: Timestamp, cx: &mut Cx<'_>) {
        while !bytes.is_empty() {
            let Some(side) = self.sides.get_mut(role) else { return };
            if side.lost {
                return;
            }
            if side.preface_left > 0 {
                let expected = PREFACE.get(PREFACE.len().saturating_sub(side.preface_left)..).unwrap_or_default();
                let n = expected.len().min(bytes.len());
                if bytes.get(..n) != expected.get(..n) {
                    side.lost = true;
                    cx.stats.anomaly(Anomaly::Http2ProtocolError);
                    return;
                }
                side.preface_left = side.preface_left.saturating_sub(n);
                bytes = bytes.get(n..).unwrap_or_default();
                continue;
            }
            let used = self.step(role, bytes, ts, cx);
            bytes = bytes.get(used.max(1)..).unwrap_or_default();
        }
    }

    /// Reads what it can of the current frame from `bytes`; returns the bytes used.
    fn step(&mut self, role: usize, bytes: &[u8], ts: Timestamp, cx: &mut Cx<'_>) -> usize {
        let Some(side) = self.sides.get_mut(role) else { return bytes.len() };
        match side.reading {
            Reading::Header(have) => {
                let want = FRAME_HEADER_LEN.saturating_sub(have);
                let n = want.min(bytes.len());
                if let (Some(dst), Some(src)) = (side.header.get_mut(have..have.saturating_add(n)), bytes.get(..n)) {
                    dst.copy_from_slice(src);
                }
                let have = have.saturating_add(n);
                side.reading = Reading::Header(have);
                if have == FRAME_HEADER_LEN {
                    let frame = FrameHeader::parse(&side.header);
                    self.start_frame(role, frame, ts, cx);
                }
                n
            }
            Reading::Resync => {
                side.resync.extend_from_slice(bytes);
                side.resync_scanned = side.resync_scanned.saturating_add(bytes.len());
                match apisonar_wire::sniff::h2_resync(&side.resync, side.resync.len()) {
                    Some(at) => {
                        // Frames again: read them from here (the bytes before are lost).
                        let found = side.resync.split_off(at);
                        side.resync = Vec::new();
                        side.resync_scanned = 0;
                        side.reading = Reading::Header(0);
                        cx.stats.anomaly(Anomaly::ResyncSkippedBytes);
                        self.feed_resynced(role, &found, ts, cx);
                    }
                    None if side.resync_scanned > cx.limits.max_resync_scan_bytes => {
                        side.lost = true;
                        side.resync = Vec::new();
                        cx.stats.anomaly(Anomaly::Http2FramingLost);
                    }
                    None => {
                        // Keep only what may still begin a run of frames.
                        let keep = side.resync.len().min(MAX_CONTROL_FRAME);
                        let drop = side.resync.len().saturating_sub(keep);
                        side.resync.drain(..drop);
                    }
                }
                bytes.len()
            }
            Reading::DataPadLength(frame, left) => {
                let pad = usize::from(bytes.first().copied().unwrap_or(0));
                let left = left.saturating_sub(1);
                if pad > left {
                    cx.stats.anomaly(Anomaly::Http2ProtocolError);
                }
                side.reading = Reading::Data { frame, data_left: left.saturating_sub(pad), pad_left: pad.min(left) };
                self.after_data(role, frame, ts, cx);
                1
            }
            Reading::Data { frame, data_left, pad_left } => {
                let n;
                if data_left > 0 {
                    n = data_left.min(bytes.len());
                    let chunk = bytes.get(..n).unwrap_or_default();
                    side.reading = Reading::Data { frame, data_left: data_left.saturating_sub(n), pad_left };
                    self.body(role, frame.stream, chunk, ts, cx.limits);
                } else {
                    n = pad_left.min(bytes.len());
                    side.reading = Reading::Data { frame, data_left, pad_left: pad_left.saturating_sub(n) };
                }
                self.after_data(role, frame, ts, cx);
                n
            }
            Reading::Payload { frame, left, skip } => {
                let n = left.min(bytes.len());
                if !skip {
                    side.payload.extend_from_slice(bytes.get(..n).unwrap_or_default());
                }
                let left = left.saturating_sub(n);
                side.reading = Reading::Payload { frame, left, skip };
                if left == 0 {
                    side.reading = Reading::Header(0);
                    let payload = std::mem::take(&mut side.payload);
                    if !skip {
                        self.frame(role, frame, &payload, ts, cx);
                    }
                    if let Some(side) = self.sides.get_mut(role) {
                        // Keep the buffer for the next frame, unless it grew large.
                        if payload.capacity() <= MAX_CONTROL_FRAME {
                            side.payload = payload;
                            side.payload.clear();
                        }
                    }
                }
                n
            }
        }
    }

    /// A frame header was read: decide how its payload is read.
    fn start_frame(&mut self, role: usize, frame: FrameHeader, ts: Timestamp, cx: &mut Cx<'_>) {
        let Some(side) = self.sides.get_mut(role) else { return };
        if side.block.as_ref().is_some_and(|b| frame.kind != CONTINUATION || frame.stream != b.stream) {
            // A header block must be followed by its CONTINUATION frames and nothing else.
            cx.stats.anomaly(Anomaly::Http2ProtocolError);
            side.block = None;
            side.hpack.lose_sync();
        }
        if frame.kind == DATA {
            side.reading = if frame.flags & PADDED != 0 && frame.len > 0 {
                Reading::DataPadLength(frame, frame.len)
            } else {
                Reading::Data { frame, data_left: frame.len, pad_left: 0 }
            };
            self.after_data(role, frame, ts, cx);
            return;
        }
        let cap = match frame.kind {
            HEADERS | PUSH_PROMISE | CONTINUATION => cx.limits.max_head_bytes.max(MAX_CONTROL_FRAME),
            _ => MAX_CONTROL_FRAME,
        };
        let skip = frame.len > cap;
        if skip {
            cx.stats.anomaly(Anomaly::Http2FrameTooLarge);
            if matches!(frame.kind, HEADERS | PUSH_PROMISE | CONTINUATION) {
                // The block cannot be decoded, and the table loses what it would have added.
                side.block = None;
                side.hpack.lose_sync();
                self.attach(role, frame.stream, Anomaly::HeadTooLarge, cx.stats);
            }
        }
        let Some(side) = self.sides.get_mut(role) else { return };
        side.reading = Reading::Payload { frame, left: frame.len, skip };
        if frame.len == 0 {
            side.reading = Reading::Header(0);
            if !skip {
                self.frame(role, frame, &[], ts, cx);
            }
        }
    }

    /// After DATA bytes: when the frame is complete, go back to reading headers and end the
    /// stream's side if the frame says so.
    fn after_data(&mut self, role: usize, frame: FrameHeader, ts: Timestamp, cx: &mut Cx<'_>) {
        let Some(side) = self.sides.get_mut(role) else { return };
        if !matches!(side.reading, Reading::Data { data_left: 0, pad_left: 0, .. }) {
            return;
        }
        side.reading = Reading::Header(0);
        if frame.flags & END_STREAM != 0 {
            self.end_side(role, frame.stream, ts, true, cx);
        }
    }

    fn body(&mut self, role: usize, stream: u32, data: &[u8], ts: Timestamp, limits: &Limits) {
        let Some(s) = self.streams.get_mut(&stream) else { return };
        if role == CLIENT {
            s.pending.request.body.push(data, limits);
            s.pending.request.end_ts = ts;
        } else if let Some(r) = &mut s.response {
            r.body.push(data, limits);
            r.end_ts = ts;
        }
    }

    /// A whole non-DATA frame.
    fn frame(&mut self, role: usize, frame: FrameHeader, payload: &[u8], ts: Timestamp, cx: &mut Cx<'_>) {
        match frame.kind {
            HEADERS | PUSH_PROMISE => {
                let Some(mut fragment) = unpad(frame, payload) else {
                    cx.stats.anomaly(Anomaly::Http2ProtocolError);
                    self.lose_table(role);
                    return;
                };
                if frame.kind == HEADERS && frame.flags & PRIORITY != 0 {
                    fragment = fragment.get(5..).unwrap_or_default();
                }
                let mut promised = None;
                if frame.kind == PUSH_PROMISE {
                    let Some((id, rest)) = fragment.split_first_chunk::<4>() else {
                        cx.stats.anomaly(Anomaly::Http2ProtocolError);
                        self.lose_table(role);
                        return;
                    };
                    promised = Some(u32::from_be_bytes(*id) & 0x7fff_ffff);
                    fragment = rest;
                }
                let block = Block {
                    stream: frame.stream,
                    end_stream: frame.kind == HEADERS && frame.flags & END_STREAM != 0,
                    promised,
                    bytes: fragment.to_vec(),
                    frames: 1,
                    too_large: fragment.len() > cx.limits.max_head_bytes,
                    flood: false,
                };
                self.continue_block(role, block, frame.flags, ts, cx);
            }
            CONTINUATION => {
                let Some(side) = self.sides.get_mut(role) else { return };
                let Some(mut block) = side.block.take() else {
                    cx.stats.anomaly(Anomaly::Http2ProtocolError);
                    return;
                };
                block.frames = block.frames.saturating_add(1);
                if block.frames > MAX_CONTINUATIONS && !block.flood {
                    block.flood = true;
                    cx.stats.anomaly(Anomaly::Http2ContinuationFlood);
                }
                if block.bytes.len().saturating_add(payload.len()) > cx.limits.max_head_bytes {
                    block.too_large = true;
                }
                if !block.too_large && !block.flood {
                    block.bytes.extend_from_slice(payload);
                }
                self.continue_block(role, block, frame.flags, ts, cx);
            }
            RST_STREAM => self.reset(role, frame.stream, ts, cx),
            GOAWAY => {}
            // SETTINGS, PING, PRIORITY, WINDOW_UPDATE and unknown types say nothing about
            // transactions.
            _ => {}
        }
    }

    fn lose_table(&mut self, role: usize) {
        if let Some(side) = self.sides.get_mut(role) {
            side.hpack.lose_sync();
        }
    }

    fn continue_block(&mut self, role: usize, block: Block, flags: u8, ts: Timestamp, cx: &mut Cx<'_>) {
        if flags & END_HEADERS == 0 {
            if let Some(side) = self.sides.get_mut(role) {
                side.block = Some(block);
            }
            return;
        }
        self.header_block(role, block, ts, cx);
    }

    /// A complete header block: decode it, then open, answer or end its stream.
    fn header_block(&mut self, role: usize, block: Block, ts: Timestamp, cx: &mut Cx<'_>) {
        let Some(side) = self.sides.get_mut(role) else { return };
        let mut anomalies = AnomalyList::default();
        let mut fields = Vec::new();
        if block.too_large || block.flood {
            side.hpack.lose_sync();
            anomalies.add(if block.flood { Anomaly::Http2ContinuationFlood } else { Anomaly::HeadTooLarge });
            if !block.flood {
                cx.stats.anomaly(Anomaly::HeadTooLarge);
            }
        } else {
            match side.hpack.decode_block(&block.bytes, cx.limits.max_headers, cx.limits.max_head_bytes, &mut fields) {
                Ok(report) => {
                    if report.undecodable > 0 {
                        anomalies.add(Anomaly::Http2UndecodableHeaders);
                        cx.stats.anomaly(Anomaly::Http2UndecodableHeaders);
                    }
                    if report.dropped > 0 {
                        anomalies.add(Anomaly::TooManyHeaders);
                        cx.stats.anomaly(Anomaly::TooManyHeaders);
                    }
                }
                Err(_) => {
                    anomalies.add(Anomaly::Http2HeaderDecodeError);
                    cx.stats.anomaly(Anomaly::Http2HeaderDecodeError);
                }
            }
        }
        if role == CLIENT {
            self.request_block(block, fields, anomalies, ts, cx);
        } else if let Some(promised) = block.promised {
            // A pushed response's request, made up by the server; its request side is over.
            if !self.streams.contains_key(&promised) {
                self.open_stream(promised, fields, anomalies, ts, true, cx);
            }
        } else {
            self.response_block(block, fields, anomalies, ts, cx);
        }
    }

    fn request_block(
        &mut self,
        block: Block,
        fields: Vec<Field>,
        anomalies: AnomalyList,
        ts: Timestamp,
        cx: &mut Cx<'_>,
    ) {
        if let Some(s) = self.streams.get_mut(&block.stream) {
            // Trailers of a request (or a repeat): the request side may end here.
            for a in anomalies.into_vec() {
                s.pending.anomalies.add(a);
            }
            if block.end_stream {
                self.end_side(CLIENT, block.stream, ts, true, cx);
            }
            return;
        }
        self.open_stream(block.stream, fields, anomalies, ts, block.end_stream, cx);
    }

    fn open_stream(
        &mut self,
        id: u32,
        fields: Vec<Field>,
        mut anomalies: AnomalyList,
        ts: Timestamp,
        ended: bool,
        cx: &mut Cx<'_>,
    ) {
        if id == 0 {
            cx.stats.anomaly(Anomaly::Http2ProtocolError);
            return;
        }
        if self.streams.len() >= cx.limits.max_pending_transactions {
            // Too many open streams: the oldest goes out now, as HTTP/1 does with its queue.
            if let Some((_, mut oldest)) = self.streams.pop_first() {
                oldest.pending.anomalies.add(Anomaly::PendingLimit);
                cx.stats.anomaly(Anomaly::PendingLimit);
                emit(oldest, cx);
            }
        }
        for a in std::mem::take(&mut cx.pairing.carried[0]).into_vec() {
            anomalies.add(a);
        }
        let head = request_head(&fields, &mut anomalies, cx.stats);
        let index = cx.pairing.next_index;
        cx.pairing.next_index = cx.pairing.next_index.wrapping_add(1);
        let request = HttpRequest { ts, end_ts: ts, head, body: Body::default(), complete: false };
        let pending =
            PendingRequest { index, request, interim: Vec::new(), anomalies, response: None, stream: Some(id) };
        self.streams.insert(id, Stream { pending, response: None, request_ended: false, response_ended: false });
        if ended {
            self.end_side(CLIENT, id, ts, true, cx);
        }
    }

    fn response_block(
        &mut self,
        block: Block,
        fields: Vec<Field>,
        mut anomalies: AnomalyList,
        ts: Timestamp,
        cx: &mut Cx<'_>,
    ) {
        let Some(s) = self.streams.get_mut(&block.stream) else {
            cx.stats.anomaly(Anomaly::ResponseWithoutRequest);
            return;
        };
        for a in std::mem::take(&mut cx.pairing.carried[1]).into_vec() {
            anomalies.add(a);
        }
        if let Some(r) = &mut s.response {
            // A second block after the final response head: trailers.
            r.trailers = fields.into_iter().map(|f| (f.name, f.value)).collect();
            for a in anomalies.into_vec() {
                r.anomalies.add(a);
            }
        } else {
            let status = pseudo(&fields, b":status").and_then(parse_status);
            let Some(status) = status else {
                s.pending.anomalies.add(Anomaly::MalformedResponseHead);
                cx.stats.anomaly(Anomaly::MalformedResponseHead);
                if block.end_stream {
                    self.end_side(SERVER, block.stream, ts, false, cx);
                }
                return;
            };
            if (100..200).contains(&status) {
                if s.pending.interim.len() < super::conn::MAX_INTERIM_RESPONSES {
                    s.pending.interim.push(status);
                }
                return;
            }
            let regular = fields.iter().filter(|f| !f.name.starts_with(b":"));
            let head = MessageHead::from_fields(
                FieldStart::Response { status },
                HttpVersion::HTTP_2,
                regular.map(|f| (f.name.as_slice(), f.value.as_slice())),
            );
            s.response = Some(Box::new(ResponseInProgress::new(Some(s.pending.index), ts, head, anomalies)));
        }
        if block.end_stream {
            self.end_side(SERVER, block.stream, ts, true, cx);
        }
    }

    /// One side of a stream ended (END_STREAM); the stream is emitted once both have.
    fn end_side(&mut self, role: usize, id: u32, ts: Timestamp, complete: bool, cx: &mut Cx<'_>) {
        let Some(s) = self.streams.get_mut(&id) else { return };
        if role == CLIENT {
            s.request_ended = true;
            s.pending.request.complete = complete;
            s.pending.request.end_ts = ts;
        } else {
            s.response_ended = true;
            if let Some(r) = &mut s.response {
                r.complete = complete;
                r.end_ts = ts;
            }
        }
        if s.request_ended && s.response_ended {
            if let Some(done) = self.streams.remove(&id) {
                emit(done, cx);
            }
        }
    }

    /// RST_STREAM: the stream is over, whatever was still to come.
    fn reset(&mut self, role: usize, id: u32, _ts: Timestamp, cx: &mut Cx<'_>) {
        let Some(mut s) = self.streams.remove(&id) else { return };
        s.pending.anomalies.add(Anomaly::Http2StreamReset);
        cx.stats.anomaly(Anomaly::Http2StreamReset);
        if role == CLIENT && s.response.is_none() {
            self.client_resets = self.client_resets.saturating_add(1);
            if self.client_resets >= RAPID_RESET_STREAMS {
                s.pending.anomalies.add(Anomaly::Http2RapidReset);
                if self.client_resets == RAPID_RESET_STREAMS {
                    cx.stats.anomaly(Anomaly::Http2RapidReset);
                }
            }
        }
        if !s.request_ended {
            // The request was cut by the reset, not by the capture.
            s.pending.request.complete = true;
        }
        emit(s, cx);
    }

    fn attach(&mut self, role: usize, stream: u32, anomaly: Anomaly, stats: &mut Stats) {
        stats.anomaly(anomaly);
        if let Some(s) = self.streams.get_mut(&stream) {
            match (&mut s.response, role) {
                (Some(r), SERVER) => r.anomalies.add(anomaly),
                _ => s.pending.anomalies.add(anomaly),
            }
        }
    }

    /// A gap of `len` bytes in one direction. Inside a DATA frame's body the frame boundaries
    /// are still known and only the body has a hole; anywhere else framing is lost for this
    /// direction, and its table with it.
    pub(super) fn gap(&mut self, role: usize, len: u32, stats: &mut Stats) {
        let Some(side) = self.sides.get_mut(role) else { return };
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if let Reading::Data { frame, data_left, pad_left } = side.reading {
            if len_usize <= data_left {
                side.reading = Reading::Data { frame, data_left: data_left.saturating_sub(len_usize), pad_left };
                if let Some(s) = self.streams.get_mut(&frame.stream) {
                    if role == CLIENT {
                        s.pending.request.body.gap(len);
                    } else if let Some(r) = &mut s.response {
                        r.body.gap(len);
                    }
                }
                return;
            }
        }
        if side.lost {
            return;
        }
        if !matches!(side.reading, Reading::Resync) {
            // Framing is lost here: look for frames again in what follows, with a table that
            // is only partly known from now on.
            side.reading = Reading::Resync;
            side.block = None;
            side.payload.clear();
            side.hpack.lose_sync();
            stats.anomaly(Anomaly::Http2FramingLost);
        }
        // What was held before this hole cannot continue across it.
        side.resync.clear();
    }

    /// Bytes found to start with frames again after a gap.
    fn feed_resynced(&mut self, role: usize, mut bytes: &[u8], ts: Timestamp, cx: &mut Cx<'_>) {
        while !bytes.is_empty() {
            let used = self.step(role, bytes, ts, cx);
            bytes = bytes.get(used.max(1)..).unwrap_or_default();
        }
    }

    /// The connection is over: every stream still open becomes a transaction, as far as seen.
    pub(super) fn finish(&mut self, cx: &mut Cx<'_>) {
        while let Some((_, s)) = self.streams.pop_first() {
            emit(s, cx);
        }
    }
}

fn emit(stream: Stream, cx: &mut Cx<'_>) {
    let Stream { mut pending, response, response_ended, .. } = stream;
    pending.response = response.map(|mut r| {
        r.complete &= response_ended;
        r
    });
    cx.pairing.emit(pending, cx.limits, cx.stats, cx.out);
}

/// The header block fragment of a HEADERS or PUSH_PROMISE payload, without its padding.
fn unpad(frame: FrameHeader, payload: &[u8]) -> Option<&[u8]> {
    if frame.flags & PADDED == 0 {
        return Some(payload);
    }
    let (&pad, rest) = payload.split_first()?;
    rest.get(..rest.len().checked_sub(usize::from(pad))?)
}

fn pseudo<'f>(fields: &'f [Field], name: &[u8]) -> Option<&'f [u8]> {
    fields.iter().find(|f| f.name == name).map(|f| f.value.as_slice())
}

fn parse_status(value: &[u8]) -> Option<u16> {
    if value.len() != 3 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The request head from a decoded header list: the method and path from their pseudo-header
/// fields (`:authority` for CONNECT), every other field (`:authority`, `:scheme`, `:protocol`
/// included) as a header field.
fn request_head(fields: &[Field], anomalies: &mut AnomalyList, stats: &mut Stats) -> MessageHead {
    let method = pseudo(fields, b":method").unwrap_or_default();
    let target = pseudo(fields, b":path").or_else(|| pseudo(fields, b":authority")).unwrap_or_default();
    if method.is_empty() || target.is_empty() {
        anomalies.add(Anomaly::MalformedRequestHead);
        stats.anomaly(Anomaly::MalformedRequestHead);
    }
    let rest = fields.iter().filter(|f| f.name != b":method" && f.name != b":path");
    MessageHead::from_fields(
        FieldStart::Request { method, target },
        HttpVersion::HTTP_2,
        rest.map(|f| (f.name.as_slice(), f.value.as_slice())),
    )
}
