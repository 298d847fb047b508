//! Everything unusual the flow layer can observe, as one flat enum with stable names.

use apisonar_wire::WireAnomaly;

macro_rules! anomalies {
    ($($variant:ident => $name:literal,)*) => {
        /// An unusual condition in the traffic, or a limit that was reached.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Anomaly { $($variant,)* }

        impl Anomaly {
            /// Every anomaly, in declaration order.
            pub const ALL: &'static [Anomaly] = &[$(Anomaly::$variant,)*];

            /// Stable snake_case name used in counters and output.
            pub fn as_str(self) -> &'static str {
                match self { $(Anomaly::$variant => $name,)* }
            }
        }
    };
}

anomalies! {
    TruncatedLinkHeader => "truncated_link_header",
    TooManyVlanTags => "too_many_vlan_tags",
    MalformedIp => "malformed_ip",
    MalformedTcp => "malformed_tcp",
    SnaplenTruncated => "snaplen_truncated",
    UnsupportedLinkType => "unsupported_link_type",
    MalformedEncapsulation => "malformed_encapsulation",
    FragmentOverlap => "ip_fragment_overlap",
    FragmentTooLarge => "ip_fragment_too_large",
    FragmentTimeout => "ip_fragment_timeout",
    FragmentLimit => "ip_fragment_limit",
    TcpOverlapConflict => "tcp_overlap_conflict",
    TcpGap => "tcp_gap",
    TcpReassemblyLimit => "tcp_reassembly_limit",
    FlowLimit => "flow_limit",
    NotHttp => "not_http",
    MalformedRequestHead => "malformed_request_head",
    MalformedResponseHead => "malformed_response_head",
    NonconformingHead => "nonconforming_head",
    HeadTooLarge => "head_too_large",
    TooManyHeaders => "too_many_headers",
    BadContentLength => "bad_content_length",
    ContentLengthConflict => "content_length_conflict",
    TransferEncodingWithContentLength => "transfer_encoding_with_content_length",
    UnknownTransferEncoding => "unknown_transfer_encoding",
    BadChunk => "bad_chunk",
    TruncatedMessage => "truncated_message",
    ResponseWithoutRequest => "response_without_request",
    PendingLimit => "pending_transaction_limit",
    ContentDecodingError => "content_decoding_error",
    DecompressionLimit => "decompression_limit",
    ResyncSkippedBytes => "resync_skipped_bytes",
    TlsHandshakeTooLarge => "tls_handshake_too_large",
    BufferBudgetEviction => "buffer_budget_eviction",
    IncompleteRequestBody => "incomplete_request_body",
    ProtectedWifiFrame => "protected_wifi_frame",
    Http2ProtocolError => "http2_protocol_error",
    Http2FrameTooLarge => "http2_frame_too_large",
    Http2ContinuationFlood => "http2_continuation_flood",
    Http2HeaderDecodeError => "http2_header_decode_error",
    Http2UndecodableHeaders => "http2_undecodable_headers",
    Http2StreamReset => "http2_stream_reset",
    Http2RapidReset => "http2_rapid_reset",
    Http2FramingLost => "http2_framing_lost",
    WebSocketProtocolError => "websocket_protocol_error",
    WebSocketMasking => "websocket_masking",
    WebSocketFramingLost => "websocket_framing_lost",
}

impl From<WireAnomaly> for Anomaly {
    fn from(w: WireAnomaly) -> Anomaly {
        match w {
            WireAnomaly::TruncatedLink => Anomaly::TruncatedLinkHeader,
            WireAnomaly::TooManyVlanTags => Anomaly::TooManyVlanTags,
            WireAnomaly::MalformedIp => Anomaly::MalformedIp,
            WireAnomaly::MalformedTcp => Anomaly::MalformedTcp,
            WireAnomaly::SnaplenTruncated => Anomaly::SnaplenTruncated,
            WireAnomaly::UnsupportedLinkType => Anomaly::UnsupportedLinkType,
            WireAnomaly::MalformedEncapsulation => Anomaly::MalformedEncapsulation,
            WireAnomaly::ProtectedWifiFrame => Anomaly::ProtectedWifiFrame,
        }
    }
}

/// A small ordered set of anomalies attached to one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AnomalyList(Vec<Anomaly>);

impl AnomalyList {
    pub(crate) fn add(&mut self, a: Anomaly) {
        if !self.0.contains(&a) {
            self.0.push(a);
        }
    }

    pub(crate) fn into_vec(mut self) -> Vec<Anomaly> {
        self.0.sort();
        self.0
    }
}
