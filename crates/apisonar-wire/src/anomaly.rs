//! Anomalies the decoder can report about a single frame.

/// What was wrong with a frame that could not be decoded completely.
///
/// Decoding never fails hard: a frame that is malformed yields `Decoded::Malformed` with one of
/// these, and callers count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireAnomaly {
    /// The frame is shorter than its link-layer header.
    TruncatedLink,
    /// More VLAN tags than the decoder follows.
    TooManyVlanTags,
    /// The IP header is malformed or cut short.
    MalformedIp,
    /// The TCP header is malformed or cut short.
    MalformedTcp,
    /// The capture cut the packet before its end (snaplen); the payload is partial.
    SnaplenTruncated,
    /// The link type is not one this decoder understands.
    UnsupportedLinkType,
    /// An NFLOG, PPPoE, radiotap or PPI wrapper that does not parse.
    MalformedEncapsulation,
    /// An encrypted (protected) 802.11 data frame: its packet cannot be read.
    ProtectedWifiFrame,
}

impl WireAnomaly {
    /// Stable snake_case name used in counters and output.
    pub fn as_str(self) -> &'static str {
        match self {
            WireAnomaly::TruncatedLink => "truncated_link_header",
            WireAnomaly::TooManyVlanTags => "too_many_vlan_tags",
            WireAnomaly::MalformedIp => "malformed_ip",
            WireAnomaly::MalformedTcp => "malformed_tcp",
            WireAnomaly::SnaplenTruncated => "snaplen_truncated",
            WireAnomaly::UnsupportedLinkType => "unsupported_link_type",
            WireAnomaly::MalformedEncapsulation => "malformed_encapsulation",
            WireAnomaly::ProtectedWifiFrame => "protected_wifi_frame",
        }
    }
}
