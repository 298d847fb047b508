//! HPACK (RFC 7541) header block decoding for a passive observer.
//!
//! A sensor may pick a connection up after its start or lose bytes to a gap, so it cannot
//! always know the peer's dynamic table. The decoder therefore knows when its table is only
//! partly known: an index past the entries it holds is then an *undecodable* field (kept, marked)
//! rather than an error, and a literal inserted under an unknown name still takes its place in
//! the table so that later indexes stay right. A table size update to zero (which encoders send
//! to start afresh) makes the whole table known again.

use std::collections::VecDeque;
use std::sync::OnceLock;

/// Per-entry overhead the RFC adds to name and value lengths (section 4.1).
const ENTRY_OVERHEAD: usize = 32;
/// The largest dynamic table kept, whatever the peer announces: bounds memory per direction.
pub(crate) const MAX_TABLE_BYTES: usize = 64 * 1024;
/// Table size before any SETTINGS_HEADER_TABLE_SIZE or size update.
const DEFAULT_TABLE_BYTES: usize = 4096;

/// RFC 7541 Appendix A.
const STATIC_TABLE: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// Code length in bits of each symbol (0..=255, then EOS) of the RFC 7541 Appendix B code. The
/// code is canonical (codes of one length are consecutive, in symbol order), so the lengths
/// are all that is needed to rebuild it.
const HUFFMAN_CODE_LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
    30,
];

const MAX_CODE_BITS: usize = 30;
const EOS: u16 = 256;

/// The canonical code rebuilt from the lengths: for each length, the first code, how many codes
/// have that length, and where their symbols start in `symbols`.
struct Huffman {
    first: [u32; MAX_CODE_BITS + 1],
    count: [u32; MAX_CODE_BITS + 1],
    offset: [u32; MAX_CODE_BITS + 1],
    symbols: Vec<u16>,
}

fn huffman() -> &'static Huffman {
    static CODE: OnceLock<Huffman> = OnceLock::new();
    CODE.get_or_init(|| {
        let mut symbols: Vec<u16> = (0..=EOS).collect();
        symbols.sort_by_key(|&s| (HUFFMAN_CODE_LENGTHS.get(usize::from(s)).copied().unwrap_or(0), s));
        let mut h = Huffman {
            first: [0; MAX_CODE_BITS + 1],
            count: [0; MAX_CODE_BITS + 1],
            offset: [0; MAX_CODE_BITS + 1],
            symbols,
        };
        for &len in &HUFFMAN_CODE_LENGTHS {
            if let Some(c) = h.count.get_mut(usize::from(len)) {
                *c = c.saturating_add(1);
            }
        }
        let (mut code, mut offset) = (0u32, 0u32);
        for len in 1..=MAX_CODE_BITS {
            let count = h.count.get(len).copied().unwrap_or(0);
            if let Some(f) = h.first.get_mut(len) {
                *f = code;
            }
            if let Some(o) = h.offset.get_mut(len) {
                *o = offset;
            }
            offset = offset.saturating_add(count);
            code = code.saturating_add(count).wrapping_shl(1);
        }
        h
    })
}

/// Decodes a Huffman-coded string; `None` when it is not valid (EOS inside, bad padding).
pub(crate) fn huffman_decode(input: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let h = huffman();
    let (mut code, mut len) = (0u32, 0usize);
    for &byte in input {
        for shift in (0..8u32).rev() {
            code = (code << 1) | u32::from(byte.wrapping_shr(shift) & 1);
            len = len.saturating_add(1);
            if len > MAX_CODE_BITS {
                return None;
            }
            let (first, count) = (h.first.get(len).copied()?, h.count.get(len).copied()?);
            let at = code.wrapping_sub(first);
            if code >= first && at < count {
                let index = h.offset.get(len).copied()?.saturating_add(at);
                let symbol = h.symbols.get(usize::try_from(index).ok()?).copied()?;
                if symbol == EOS {
                    return None;
                }
                out.push(u8::try_from(symbol).ok()?);
                code = 0;
                len = 0;
            }
        }
    }
    // Padding: fewer than 8 bits, all ones (a prefix of EOS).
    let all_ones = 1u32.wrapping_shl(u32::try_from(len).ok()?).wrapping_sub(1);
    (len < 8 && code == all_ones).then_some(())
}

/// One decoded header field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Why a header block could not be decoded to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HpackError {
    /// The block ends inside a representation.
    Truncated,
    /// An integer longer than any real encoder writes.
    BadInteger,
    /// A Huffman string that does not decode.
    BadHuffman,
    /// Index 0, or past the end of a table that is fully known.
    BadIndex,
}

/// What decoding one block found besides its fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BlockReport {
    /// Fields whose name or value refer to table entries the decoder does not know.
    pub(crate) undecodable: usize,
    /// Fields decoded but not kept because the block passed the field count or size limit.
    pub(crate) dropped: usize,
}

/// A dynamic table entry; `None` parts were inserted while the table was not fully known.
#[derive(Clone, Debug)]
struct Entry {
    name: Option<Box<[u8]>>,
    value: Option<Box<[u8]>>,
    size: usize,
}

/// One direction's decoding context.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Newest entry first (index 62).
    table: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// Entries older than those held may exist (picked up mid-connection, or after a gap).
    partial: bool,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder { table: VecDeque::new(), size: 0, max_size: DEFAULT_TABLE_BYTES, partial: false }
    }
}

/// A table lookup: known bytes, or a reference to something the decoder cannot know.
enum Looked<'a> {
    Known(&'a [u8], &'a [u8]),
    NameOnly(&'a [u8]),
    ValueOnly(&'a [u8]),
    Unknown,
}

impl Decoder {
    /// Forgets the table: the peer's state is unknown from here (a gap, or a mid-stream start).
    pub(crate) fn lose_sync(&mut self) {
        self.table.clear();
        self.size = 0;
        self.partial = true;
    }

    #[cfg(test)]
    pub(crate) fn is_partial(&self) -> bool {
        self.partial
    }

    /// Bytes the table holds (for the connection's memory account).
    pub(crate) fn held_bytes(&self) -> usize {
        self.size
    }

    fn lookup(&self, index: usize) -> Result<Looked<'_>, HpackError> {
        if index == 0 {
            return Err(HpackError::BadIndex);
        }
        if let Some(&(n, v)) = STATIC_TABLE.get(index.wrapping_sub(1)) {
            return Ok(Looked::Known(n.as_bytes(), v.as_bytes()));
        }
        let dynamic = index.saturating_sub(STATIC_TABLE.len()).saturating_sub(1);
        match self.table.get(dynamic) {
            Some(Entry { name: Some(n), value: Some(v), .. }) => Ok(Looked::Known(n, v)),
            Some(Entry { name: Some(n), value: None, .. }) => Ok(Looked::NameOnly(n)),
            Some(Entry { name: None, value: Some(v), .. }) => Ok(Looked::ValueOnly(v)),
            Some(Entry { name: None, value: None, .. }) => Ok(Looked::Unknown),
            None if self.partial => Ok(Looked::Unknown),
            None => Err(HpackError::BadIndex),
        }
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let Some(old) = self.table.pop_back() else {
                self.size = 0;
                break;
            };
            self.size = self.size.saturating_sub(old.size);
        }
    }

    fn resize(&mut self, new_max: usize) {
        self.max_size = new_max.min(MAX_TABLE_BYTES);
        self.evict_to(self.max_size);
        if new_max == 0 {
            // The encoder emptied its table: both sides agree again.
            self.partial = false;
        }
    }

    fn insert(&mut self, name: Option<&[u8]>, value: Option<&[u8]>) {
        // An unknown part counts as empty: the entry is then evicted late rather than early,
        // which keeps the indexes of newer entries right.
        let size =
            ENTRY_OVERHEAD.saturating_add(name.map_or(0, <[u8]>::len)).saturating_add(value.map_or(0, <[u8]>::len));
        if size > self.max_size {
            // Too large for the table: inserting it empties the table (section 4.4).
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max_size.saturating_sub(size));
        self.table.push_front(Entry { name: name.map(Into::into), value: value.map(Into::into), size });
        self.size = self.size.saturating_add(size);
    }

    /// Decodes one complete header block. Fields go to `out` until `max_fields` fields or
    /// `max_bytes` bytes of names and values are kept; the rest is still decoded so that the
    /// table stays in step. Undecodable fields are kept with an empty name or value (their
    /// number is reported). On an error the fields before it are in `out`, and the table is
    /// no longer trusted.
    pub(crate) fn decode_block(
        &mut self,
        mut block: &[u8],
        max_fields: usize,
        max_bytes: usize,
        out: &mut Vec<Field>,
    ) -> Result<BlockReport, HpackError> {
        let mut report = BlockReport::default();
        let mut kept_bytes = 0usize;
        let result = loop {
            let Some(&first) = block.first() else { break Ok(()) };
            let step = self.representation(first, &mut block, &mut report);
            match step {
                Ok(Some(field)) => {
                    let len = field.name.len().saturating_add(field.value.len());
                    if out.len() < max_fields && kept_bytes.saturating_add(len) <= max_bytes {
                        kept_bytes = kept_bytes.saturating_add(len);
                        out.push(field);
                    } else {
                        report.dropped = report.dropped.saturating_add(1);
                    }
                }
                Ok(None) => {}
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(()) => Ok(report),
            Err(e) => {
                self.lose_sync();
                Err(e)
            }
        }
    }

    /// Reads one representation from the front of `block`.
    fn representation(
        &mut self,
        first: u8,
        block: &mut &[u8],
        report: &mut BlockReport,
    ) -> Result<Option<Field>, HpackError> {
        if first & 0x80 != 0 {
            let index = read_integer(block, 7)?;
            let field = match self.lookup(index)? {
                Looked::Known(n, v) => Field { name: n.to_vec(), value: v.to_vec() },
                Looked::NameOnly(n) => undecodable(report, n.to_vec(), Vec::new()),
                Looked::ValueOnly(v) => undecodable(report, Vec::new(), v.to_vec()),
                Looked::Unknown => undecodable(report, Vec::new(), Vec::new()),
            };
            return Ok(Some(field));
        }
        if first & 0xe0 == 0x20 {
            let size = read_integer(block, 5)?;
            self.resize(size);
            return Ok(None);
        }
        let (prefix, indexing) = if first & 0xc0 == 0x40 { (6, true) } else { (4, false) };
        let index = read_integer(block, prefix)?;
        let name = if index == 0 {
            Some(read_string(block)?)
        } else {
            match self.lookup(index)? {
                Looked::Known(n, _) | Looked::NameOnly(n) => Some(n.to_vec()),
                Looked::ValueOnly(_) | Looked::Unknown => None,
            }
        };
        let value = read_string(block)?;
        if indexing {
            self.insert(name.as_deref(), Some(&value));
        }
        Ok(Some(match name {
            Some(name) => Field { name, value },
            None => undecodable(report, Vec::new(), value),
        }))
    }
}

fn undecodable(report: &mut BlockReport, name: Vec<u8>, value: Vec<u8>) -> Field {
    report.undecodable = report.undecodable.saturating_add(1);
    Field { name, value }
}

/// Reads a prefixed integer (section 5.1) and advances `block` past it.
fn read_integer(block: &mut &[u8], prefix_bits: u32) -> Result<usize, HpackError> {
    let (&first, mut rest) = block.split_first().ok_or(HpackError::Truncated)?;
    let max_prefix = 1u8.wrapping_shl(prefix_bits).wrapping_sub(1);
    let mut value = usize::from(first & max_prefix);
    if value == usize::from(max_prefix) {
        let mut shift = 0u32;
        loop {
            let (&b, tail) = rest.split_first().ok_or(HpackError::Truncated)?;
            rest = tail;
            // Four continuation bytes reach 2^28; no real table index, size or length is larger.
            if shift > 21 {
                return Err(HpackError::BadInteger);
            }
            value = value.saturating_add(usize::from(b & 0x7f).wrapping_shl(shift));
            shift = shift.saturating_add(7);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    *block = rest;
    Ok(value)
}

/// Reads a string literal (section 5.2) and advances `block` past it.
fn read_string(block: &mut &[u8]) -> Result<Vec<u8>, HpackError> {
    let huffman = block.first().is_some_and(|b| b & 0x80 != 0);
    let len = read_integer(block, 7)?;
    if len > block.len() {
        return Err(HpackError::Truncated);
    }
    let (bytes, rest) = block.split_at(len);
    *block = rest;
    if !huffman {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::with_capacity(len.saturating_mul(8) / 5);
    huffman_decode(bytes, &mut out).ok_or(HpackError::BadHuffman)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
    }

    fn fields(d: &mut Decoder, block: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        d.decode_block(&hex(block), 128, 1 << 20, &mut out).unwrap();
        out.into_iter().map(|f| (String::from_utf8(f.name).unwrap(), String::from_utf8(f.value).unwrap())).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn huffman_strings_of_rfc7541_appendix_c4_decode() {
        for (code, text) in [
            ("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"),
            ("a8eb 1064 9cbf", "no-cache"),
            ("25a8 49e9 5ba9 7d7f", "custom-key"),
            ("25a8 49e9 5bb8 e8b4 bf", "custom-value"),
        ] {
            let mut out = Vec::new();
            huffman_decode(&hex(code), &mut out).unwrap();
            assert_eq!(out, text.as_bytes());
        }
        // Padding longer than 7 bits, or not all ones, is refused.
        assert!(huffman_decode(&[0xff], &mut Vec::new()).is_none());
        assert!(huffman_decode(&hex("f1e3 c2e5 f23a 6ba0 ab90 f4fe"), &mut Vec::new()).is_none());
    }

    #[test]
    fn requests_of_rfc7541_appendix_c3_and_c4_fill_and_use_the_dynamic_table() {
        for blocks in [
            [
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ],
            [
                "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                "8286 84be 5886 a8eb 1064 9cbf",
                "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
            ],
        ] {
            let mut d = Decoder::default();
            let base = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
            assert_eq!(fields(&mut d, blocks[0]), pairs(&base));
            let mut second = base.to_vec();
            second.push(("cache-control", "no-cache"));
            assert_eq!(fields(&mut d, blocks[1]), pairs(&second));
            assert_eq!(
                fields(&mut d, blocks[2]),
                pairs(&[
                    (":method", "GET"),
                    (":scheme", "https"),
                    (":path", "/index.html"),
                    (":authority", "www.example.com"),
                    ("custom-key", "custom-value"),
                ])
            );
            assert_eq!(d.held_bytes(), 164);
            assert!(!d.is_partial());
        }
    }

    #[test]
    fn responses_of_rfc7541_appendix_c5_evict_from_a_256_byte_table() {
        let mut d = Decoder::default();
        // A size update to 256 first, as the appendix's encoder has a 256-byte table.
        let first = "3fe1 01 4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d";
        let got = fields(&mut d, first);
        assert_eq!(got[0], (":status".to_string(), "302".to_string()));
        assert_eq!(d.held_bytes(), 222);
        let got = fields(&mut d, "4803 3330 37c1 c0bf");
        assert_eq!(got[0], (":status".to_string(), "307".to_string()));
        assert_eq!(got[3], ("location".to_string(), "https://www.example.com".to_string()));
        // ":status: 302" was evicted to make room for "307".
        assert_eq!(d.held_bytes(), 222);
    }

    #[test]
    fn a_table_picked_up_midway_marks_unknown_entries_and_keeps_indexes_right() {
        let mut d = Decoder::default();
        d.lose_sync();
        let mut out = Vec::new();
        // Index 62 (unknown), then a literal with indexing whose name is entry 63 (unknown).
        let report = d.decode_block(&[0xbe, 0x7f, 0x00, 0x01, b'v'], 16, 1024, &mut out).unwrap();
        assert_eq!(report.undecodable, 2);
        assert_eq!(out[1].value, b"v");
        // The placeholder took index 62: the value is known, the name is not.
        let mut out = Vec::new();
        let report = d.decode_block(&[0xbe], 16, 1024, &mut out).unwrap();
        assert_eq!((report.undecodable, out[0].value.as_slice()), (1, b"v".as_slice()));
        // A size update to zero makes the table known again; a bad index is then an error.
        d.decode_block(&[0x20], 16, 1024, &mut Vec::new()).unwrap();
        assert!(!d.is_partial());
        assert_eq!(d.decode_block(&[0xbe], 16, 1024, &mut Vec::new()), Err(HpackError::BadIndex));
        assert!(d.is_partial(), "an error leaves the table untrusted");
    }

    #[test]
    fn hostile_blocks_end_in_errors_not_panics_and_limits_hold() {
        let mut d = Decoder::default();
        for block in [
            &[0x80][..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            &[0x3f],
            &[0x40, 0x7f, 0xff],
            &[0x40, 0x85, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x3f, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ] {
            assert!(d.decode_block(block, 16, 1024, &mut Vec::new()).is_err(), "{block:?}");
        }
        // A size update past the cap keeps the cap.
        let mut d = Decoder::default();
        d.decode_block(&[0x3f, 0xe1, 0xff, 0x7f], 16, 1024, &mut Vec::new()).unwrap();
        assert_eq!(d.max_size, MAX_TABLE_BYTES);
        // Fields past the limits are decoded (the table follows) but not kept.
        let mut out = Vec::new();
        let block = hex("4003 6162 6301 78 4003 6465 6601 79 be");
        let report = d.decode_block(&block, 1, 1024, &mut out).unwrap();
        assert_eq!((out.len(), report.dropped), (1, 2));
        assert_eq!(d.table.len(), 2);
    }
}
