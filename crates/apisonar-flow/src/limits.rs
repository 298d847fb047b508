//! The one value that bounds every buffer, table and queue in the flow layer.

/// Hard limits. Each one, when reached, evicts or truncates and counts an [`crate::Anomaly`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Concurrent TCP connections tracked (over all shards: `FlowEngine::shard` gives each its
    /// share); beyond it the least recently active are evicted.
    pub max_flows: usize,
    /// A connection with no packet for this long (packet time) is closed.
    pub idle_timeout_secs: u32,
    /// How long a closed connection is remembered so that late ACKs and FINs do not open a new one.
    pub closed_linger_secs: u32,
    /// Out-of-order bytes buffered per direction before a gap is declared.
    pub max_ooo_bytes: usize,
    /// Separate out-of-order segments (holes) buffered per direction before a gap is declared.
    pub max_ooo_segments: usize,
    /// Recently delivered bytes kept per direction to detect retransmissions with different
    /// content (rounded up to a power of two; 0 disables the check).
    pub overlap_check_bytes: usize,
    /// Requests waiting for a response on one connection.
    pub max_pending_transactions: usize,
    /// Largest request or response head (start line plus header fields).
    pub max_head_bytes: usize,
    /// Most header fields in one head.
    pub max_headers: usize,
    /// Body bytes (after de-chunking, before decoding) kept per message for analysis.
    pub body_sample_bytes: usize,
    /// Largest decoded (decompressed) body sample; stops decompression bombs.
    pub max_decoded_body_bytes: usize,
    /// Non-HTTP bytes scanned for a request or status line before a stream is given up.
    pub max_resync_scan_bytes: usize,
    /// IP datagrams being reassembled at once.
    pub max_fragment_datagrams: usize,
    /// Bytes held in IP fragments awaiting reassembly, over all datagrams.
    pub max_fragment_bytes: usize,
    /// Incomplete IP datagrams are dropped after this long.
    pub fragment_timeout_secs: u32,
    /// TLS bytes buffered per direction while a handshake is read (records, then handshake
    /// messages); a record or message declaring more stops reading that direction.
    pub max_tls_handshake_bytes: usize,
    /// Bytes buffered over all connections (out-of-order segments, heads, body samples of
    /// pending requests, sniffing and TLS buffers; shared out over shards like `max_flows`).
    /// Beyond it the least recently active connections are closed until the total is under it.
    pub max_buffered_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 262_144,
            idle_timeout_secs: 300,
            closed_linger_secs: 10,
            max_ooo_bytes: 256 * 1024,
            max_ooo_segments: 64,
            overlap_check_bytes: 2048,
            max_pending_transactions: 64,
            max_head_bytes: 32 * 1024,
            max_headers: 128,
            body_sample_bytes: 64 * 1024,
            max_decoded_body_bytes: 256 * 1024,
            max_resync_scan_bytes: 64 * 1024,
            max_fragment_datagrams: 4096,
            max_fragment_bytes: 16 * 1024 * 1024,
            fragment_timeout_secs: 30,
            max_tls_handshake_bytes: 64 * 1024,
            max_buffered_bytes: 128 * 1024 * 1024,
        }
    }
}
