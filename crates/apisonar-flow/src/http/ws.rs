//! WebSocket (RFC 6455) after a 101: frames per direction, masking, fragmented messages,
//! control frames, and permessage-deflate (RFC 7692) with or without context takeover.
//!
//! Each message becomes a [`StreamMessage`] that points at the upgrade request's transaction.
//! A message keeps a sample of its (inflated) payload within `body_sample_bytes`; compressed
//! messages are inflated in full all the same, because with context takeover the next message
//! needs the window this one leaves, but the output beyond the sample is dropped, so a
//! decompression bomb costs time within the frame sizes, never memory.

use std::net::SocketAddr;

use flate2::{Decompress, FlushDecompress, Status};

use crate::engine::EventSink;
use crate::http::Body;
use crate::{Anomaly, Limits, Stats, Timestamp};

/// What kind of message a WebSocket frame sequence (or an SSE event, later) carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MessageKind {
    Text,
    Binary,
    /// A close frame, with its status code when it has one.
    Close(Option<u16>),
    Ping,
    Pong,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Binary => "binary",
            MessageKind::Close(_) => "close",
            MessageKind::Ping => "ping",
            MessageKind::Pong => "pong",
        }
    }
}

/// One message of a connection that left HTTP (WebSocket), tied to the transaction that
/// upgraded it.
#[derive(Clone, Debug)]
pub struct StreamMessage {
    pub connection_id: u64,
    /// `index_in_connection` of the upgrade request's transaction.
    pub parent_index: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub from_client: bool,
    pub kind: MessageKind,
    /// Time of the packet that completed the message.
    pub ts: Timestamp,
    /// The payload (unmasked, inflated), at most `body_sample_bytes`.
    pub payload: Vec<u8>,
    /// Payload bytes on the wire, all frames together.
    pub wire_len: u64,
    /// Sent compressed (permessage-deflate).
    pub compressed: bool,
    /// Cut: longer than the sample, or inflating stopped early.
    pub truncated: bool,
    pub anomalies: Vec<Anomaly>,
}

/// What the 101's `Sec-WebSocket-Extensions` agreed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deflate {
    pub(crate) enabled: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_no_context_takeover: bool,
}

impl Deflate {
    /// Reads the extension list of a 101 answer.
    pub(crate) fn negotiated(extensions: &[u8]) -> Deflate {
        let text = String::from_utf8_lossy(extensions).to_ascii_lowercase();
        let Some(params) = text.split(',').find(|e| e.trim_start().starts_with("permessage-deflate")) else {
            return Deflate::default();
        };
        let has = |p: &str| params.split(';').any(|x| x.trim() == p);
        Deflate {
            enabled: true,
            client_no_context_takeover: has("client_no_context_takeover"),
            server_no_context_takeover: has("server_no_context_takeover"),
        }
    }
}

/// Largest control frame payload (RFC 6455 section 5.5).
const MAX_CONTROL_PAYLOAD: u64 = 125;
/// The bytes permessage-deflate takes off the end of each message (section 7.2.1).
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

#[derive(Debug)]
enum Reading {
    /// Collecting a frame header (2 to 14 bytes).
    Header,
    Payload {
        opcode: u8,
        fin: bool,
        left: u64,
        mask: Option<[u8; 4]>,
        at: usize,
    },
}

struct Message {
    kind: MessageKind,
    compressed: bool,
    /// The (inflated) payload, sampled as an HTTP body is.
    body: Body,
    /// Payload bytes on the wire (compressed, when they were).
    wire_len: u64,
    anomalies: Vec<Anomaly>,
}

impl Message {
    fn new(kind: MessageKind, compressed: bool, anomalies: Vec<Anomaly>) -> Message {
        Message { kind, compressed, body: Body::default(), wire_len: 0, anomalies }
    }
}

struct Side {
    from_client: bool,
    header: Vec<u8>,
    reading: Reading,
    message: Option<Message>,
    /// The current control frame (it may come between the fragments of a data message).
    control: Vec<u8>,
    inflater: Option<Box<Decompress>>,
    no_context_takeover: bool,
    lost: bool,
}

impl Side {
    fn new(from_client: bool, deflate: Deflate) -> Side {
        Side {
            from_client,
            header: Vec::with_capacity(14),
            reading: Reading::Header,
            message: None,
            control: Vec::new(),
            inflater: deflate.enabled.then(|| Box::new(Decompress::new(false))),
            no_context_takeover: if from_client {
                deflate.client_no_context_takeover
            } else {
                deflate.server_no_context_takeover
            },
            lost: false,
        }
    }
}

/// Both directions of a WebSocket connection.
pub(crate) struct WsConn {
    connection_id: u64,
    parent_index: u32,
    client: SocketAddr,
    server: SocketAddr,
    sides: [Side; 2],
}

impl WsConn {
    /// `client_dir` is the direction index of the client; sides are kept by role.
    pub(crate) fn new(
        connection_id: u64,
        parent_index: u32,
        client: SocketAddr,
        server: SocketAddr,
        deflate: Deflate,
    ) -> WsConn {
        WsConn {
            connection_id,
            parent_index,
            client,
            server,
            sides: [Side::new(true, deflate), Side::new(false, deflate)],
        }
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.sides
            .iter()
            .map(|s| {
                let inflater = if s.inflater.is_some() { 48 * 1024 } else { 0 };
                s.header
                    .capacity()
                    .saturating_add(s.control.capacity())
                    .saturating_add(s.message.as_ref().map_or(0, |m| m.body.sample.capacity()))
                    .saturating_add(inflater)
            })
            .fold(0, usize::saturating_add)
    }

    /// Bytes of direction `role` (0 client, 1 server).
    pub(crate) fn feed(
        &mut self,
        role: usize,
        mut bytes: &[u8],
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        out: &mut dyn EventSink,
    ) {
        let (connection_id, parent_index, client, server) =
            (self.connection_id, self.parent_index, self.client, self.server);
        let Some(side) = self.sides.get_mut(role) else { return };
        let emit = |side: &Side, m: Message, out: &mut dyn EventSink| {
            out.on_message(StreamMessage {
                connection_id,
                parent_index,
                client,
                server,
                from_client: side.from_client,
                kind: m.kind,
                ts,
                payload: m.body.sample,
                wire_len: m.wire_len,
                compressed: m.compressed,
                truncated: m.body.sample_truncated,
                anomalies: m.anomalies,
            });
        };
        while !bytes.is_empty() && !side.lost {
            match side.reading {
                Reading::Header => {
                    let need = header_len(&side.header).saturating_sub(side.header.len());
                    let n = need.min(bytes.len());
                    side.header.extend_from_slice(bytes.get(..n).unwrap_or_default());
                    bytes = bytes.get(n..).unwrap_or_default();
                    if side.header.len() < header_len(&side.header) {
                        continue;
                    }
                    let Some(frame) = parse_header(&side.header) else {
                        side.lost = true;
                        stats.anomaly(Anomaly::WebSocketProtocolError);
                        return;
                    };
                    side.header.clear();
                    if let Some(problem) = start_frame(side, &frame) {
                        stats.anomaly(problem);
                        if problem == Anomaly::WebSocketProtocolError {
                            side.lost = true;
                            return;
                        }
                    }
                    side.reading = Reading::Payload {
                        opcode: frame.opcode,
                        fin: frame.fin,
                        left: frame.len,
                        mask: frame.mask,
                        at: 0,
                    };
                    if frame.len == 0 {
                        if let Some(m) = end_frame(side, frame.opcode, frame.fin, limits, stats) {
                            emit(side, m, out);
                        }
                    }
                }
                Reading::Payload { opcode, fin, left, mask, at } => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    let mut chunk = bytes.get(..n).unwrap_or_default().to_vec();
                    bytes = bytes.get(n..).unwrap_or_default();
                    if let Some(key) = mask {
                        for (i, b) in chunk.iter_mut().enumerate() {
                            *b ^= key.get(at.wrapping_add(i) % 4).copied().unwrap_or(0);
                        }
                    }
                    payload(side, opcode, &chunk, limits, stats);
                    let left = left.saturating_sub(u64::try_from(n).unwrap_or(u64::MAX));
                    side.reading = Reading::Payload { opcode, fin, left, mask, at: at.wrapping_add(n) };
                    if left == 0 {
                        if let Some(m) = end_frame(side, opcode, fin, limits, stats) {
                            emit(side, m, out);
                        }
                    }
                }
            }
        }
    }

    /// A gap: frame boundaries (and, with compression, the inflater's window) are lost for
    /// this direction.
    pub(crate) fn gap(&mut self, role: usize, stats: &mut Stats) {
        if let Some(side) = self.sides.get_mut(role) {
            if !side.lost {
                side.lost = true;
                stats.anomaly(Anomaly::WebSocketFramingLost);
            }
        }
    }
}

struct FrameHeader {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
}

/// How long the header that starts `h` is (2 until the length byte is known).
fn header_len(h: &[u8]) -> usize {
    let Some(&b1) = h.get(1) else { return 2 };
    let ext = match b1 & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    2usize.saturating_add(ext).saturating_add(mask)
}

fn parse_header(h: &[u8]) -> Option<FrameHeader> {
    let (&b0, rest) = h.split_first()?;
    let (&b1, mut rest) = rest.split_first()?;
    let len = match b1 & 0x7f {
        126 => {
            let (l, r) = rest.split_first_chunk::<2>()?;
            rest = r;
            u64::from(u16::from_be_bytes(*l))
        }
        127 => {
            let (l, r) = rest.split_first_chunk::<8>()?;
            rest = r;
            u64::from_be_bytes(*l)
        }
        n => u64::from(n),
    };
    if len >> 63 != 0 {
        return None;
    }
    let mask = if b1 & 0x80 != 0 { Some(*rest.first_chunk::<4>()?) } else { None };
    Some(FrameHeader { fin: b0 & 0x80 != 0, rsv1: b0 & 0x40 != 0, opcode: b0 & 0x0f, mask, len })
}

/// Opens the frame's message (or control frame); returns an anomaly to count.
fn start_frame(side: &mut Side, f: &FrameHeader) -> Option<Anomaly> {
    let mut problem = None;
    if side.from_client != f.mask.is_some() {
        // Clients mask every frame, servers none (section 5.1).
        problem = Some(Anomaly::WebSocketMasking);
    }
    match f.opcode {
        0x8..=0xa => {
            if f.len > MAX_CONTROL_PAYLOAD || !f.fin {
                return Some(Anomaly::WebSocketProtocolError);
            }
            side.control.clear();
        }
        0x1 | 0x2 => {
            if side.message.is_some() {
                // A new message before the last one finished.
                return Some(Anomaly::WebSocketProtocolError);
            }
            let compressed = f.rsv1 && side.inflater.is_some();
            let kind = if f.opcode == 1 { MessageKind::Text } else { MessageKind::Binary };
            side.message = Some(Message::new(kind, compressed, problem.into_iter().collect()));
        }
        0x0 => {
            if side.message.is_none() {
                return Some(Anomaly::WebSocketProtocolError);
            }
        }
        _ => return Some(Anomaly::WebSocketProtocolError),
    }
    problem
}

/// Payload bytes (unmasked) of the current frame.
fn payload(side: &mut Side, opcode: u8, data: &[u8], limits: &Limits, stats: &mut Stats) {
    if opcode >= 0x8 {
        side.control.extend_from_slice(data);
        return;
    }
    let Some(m) = side.message.as_mut() else { return };
    m.wire_len = m.wire_len.saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
    if m.compressed {
        if let Some(inflater) = side.inflater.as_mut() {
            inflate(inflater, data, m, limits, stats);
        }
    } else {
        m.body.push(data, limits);
    }
}

/// Runs `input` through the direction's inflater; output past the sample is dropped.
fn inflate(inflater: &mut Decompress, mut input: &[u8], m: &mut Message, limits: &Limits, stats: &mut Stats) {
    let mut buf = [0u8; 8192];
    while !input.is_empty() {
        let before_in = inflater.total_in();
        let before_out = inflater.total_out();
        let status = inflater.decompress(input, &mut buf, FlushDecompress::Sync);
        let used = usize::try_from(inflater.total_in().saturating_sub(before_in)).unwrap_or(0);
        let made = usize::try_from(inflater.total_out().saturating_sub(before_out)).unwrap_or(0);
        m.body.push(buf.get(..made).unwrap_or_default(), limits);
        input = input.get(used..).unwrap_or_default();
        match status {
            Ok(Status::Ok) if used > 0 || made > 0 => {}
            Ok(Status::StreamEnd) => {
                // A final block: the next message starts a fresh stream.
                inflater.reset(false);
            }
            Ok(_) => break,
            Err(_) => {
                m.body.sample_truncated = true;
                m.anomalies.push(Anomaly::ContentDecodingError);
                stats.anomaly(Anomaly::ContentDecodingError);
                inflater.reset(false);
                break;
            }
        }
    }
}

/// The frame ended: a control frame or the last fragment of a message gives a message.
fn end_frame(side: &mut Side, opcode: u8, fin: bool, limits: &Limits, stats: &mut Stats) -> Option<Message> {
    side.reading = Reading::Header;
    if opcode >= 0x8 {
        let control = std::mem::take(&mut side.control);
        let kind = match opcode {
            0x8 => {
                let code = control.first_chunk::<2>().map(|c| u16::from_be_bytes(*c));
                MessageKind::Close(code)
            }
            0x9 => MessageKind::Ping,
            _ => MessageKind::Pong,
        };
        let mut m = Message::new(kind, false, Vec::new());
        m.wire_len = u64::try_from(control.len()).unwrap_or(0);
        // A close frame's reason may carry anything: only its code is kept.
        if !matches!(kind, MessageKind::Close(_)) {
            m.body.sample = control;
        }
        return Some(m);
    }
    if !fin {
        return None;
    }
    let mut m = side.message.take()?;
    if m.compressed {
        if let Some(inflater) = side.inflater.as_mut() {
            inflate(inflater, &DEFLATE_TAIL, &mut m, limits, stats);
            if side.no_context_takeover {
                inflater.reset(false);
            }
        }
    }
    Some(m)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn extensions_say_whether_and_how_to_inflate() {
        let d = Deflate::negotiated(b"permessage-deflate; server_max_window_bits=12; client_max_window_bits=12");
        assert_eq!((d.enabled, d.client_no_context_takeover, d.server_no_context_takeover), (true, false, false));
        let d =
            Deflate::negotiated(b"x-webkit, permessage-deflate; client_no_context_takeover;server_no_context_takeover");
        assert_eq!((d.enabled, d.client_no_context_takeover, d.server_no_context_takeover), (true, true, true));
        assert!(!Deflate::negotiated(b"").enabled);
    }

    #[test]
    fn headers_of_every_length_form_parse_and_lies_do_not() {
        assert_eq!(header_len(&[0x81]), 2);
        assert_eq!(header_len(&[0x81, 0xfe]), 8);
        assert_eq!(header_len(&[0x82, 0x7f]), 10);
        let h = parse_header(&[0x81, 0xfe, 0x01, 0x00, 1, 2, 3, 4]).unwrap();
        assert_eq!((h.fin, h.opcode, h.len, h.mask), (true, 1, 256, Some([1, 2, 3, 4])));
        assert!(parse_header(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]).is_none(), "a length with the top bit");
    }
}
