//! A route's record template: the signature of answers that repeat one record, read by
//! matching the record's bytes instead of walking the body.
//!
//! Most list endpoints answer an array of records that all spell the same keys in the same
//! order (`[{"id":1,"name":"a"},{"id":2,"name":"b"}]`), many wrap that array in an envelope
//! (`{"data":[...],"total":2}`), and most item endpoints answer one such record. Learnt from one
//! answer whose signature the walk worked out, a template is the record's bytes between its
//! values (`{"id":`, `,"name":`, `}`; the braces, keys and colons of objects nested in it are
//! bytes between values too) and the kind of each value (a scalar's, or an array of scalars,
//! whose elements hold no key whatever their number), and for an envelope its bytes
//! and value kinds before and after the records. A body that is exactly that (records of those
//! bytes, each with values of those kinds: strings, numbers with or without a fraction,
//! `true`/`false`, `null`; the envelope's, if any) holds exactly the template's keys at the
//! template's depths with the same value kinds, so it has the signature the walk found, and
//! each key occurs as often outside the records and in each record as in the template.
//! Anything else (another key, a value of another kind, an array of objects inside a record,
//! other bytes between records) fails the match and the body is walked as before: the fast path gives the
//! walk's answer or none.

use super::{key_at, lanes_at, skip_space, BodyKeys, KeyId, NUMBER, STRING, VALUE_START};

/// The most bytes between values a template keeps, and the most values: a record larger than
/// this is walked (a route's memory stays small: `MAX_ROUTES` routes per worker).
const MAX_TEMPLATE_BYTES: usize = 768;
const MAX_TEMPLATE_VALUES: usize = 40;

/// A template's kind of value for an array of scalars (`["a","b"]`, `[]`): its elements have no
/// keys, so the walk counts none whatever their number and kinds (the array's own key has the
/// walk's kind `ARRAY`, a byte of the piece before it). Not one of the walk's kinds.
const SCALARS: u8 = 0x80;

/// Where a template's records are in a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// The body is one record.
    One,
    /// The body is an array of records.
    Array,
    /// The body is an object of scalars and one array of records (`head` and `tail`).
    Envelope,
}

/// Bytes between values (of the template's `bytes`), each with the kind of the value after it:
/// one piece more than values, a piece before the first value and one after the last.
#[derive(Debug, Default)]
struct Run {
    pieces: Vec<Piece>,
}

/// One record's bytes between values, and its values' kinds.
#[derive(Debug)]
pub(crate) struct RecordTemplate {
    layout: Layout,
    /// Every run's pieces, one after another.
    bytes: Vec<u8>,
    /// One record: opens with `{` and closes with `}`.
    record: Run,
    /// An envelope's object before its records (up to the `[` that opens them) and after them
    /// (from the `]` that closes them); empty for other layouts.
    head: Run,
    tail: Run,
    /// The signature of a body of these records, and its distinct keys in the walk's order
    /// with how often each occurs outside the records (an envelope's keys) and in one record.
    signature: u64,
    keys: Vec<(KeyId, u32, u32)>,
    /// Values in all runs (bounded by `MAX_TEMPLATE_VALUES`).
    values: usize,
}

impl RecordTemplate {
    /// The template of `body`'s records, if they hold no arrays but of scalars, are all alike
    /// and small enough, and the body is nothing else, or an envelope without another array of
    /// objects around them; `signature` and `keys` are what the walk found for `body` (with
    /// `hasher`'s key ids).
    pub(crate) fn learn(
        body: &[u8],
        signature: u64,
        keys: &[(KeyId, u32)],
        hasher: &foldhash::fast::FixedState,
    ) -> Option<RecordTemplate> {
        let start = skip_space(body, 0);
        let empty = |layout| RecordTemplate {
            layout,
            bytes: Vec::new(),
            record: Run::default(),
            head: Run::default(),
            tail: Run::default(),
            signature,
            keys: Vec::new(),
            values: 0,
        };
        // The envelope's keys (at their depths), counted once whatever the number of records.
        let mut outside = Vec::new();
        let mut template = empty(Layout::Array);
        if body.get(start) == Some(&b'[') {
            template.read_record(body, skip_space(body, start.checked_add(1)?))?;
        } else {
            template = empty(Layout::One);
            if template.read_record(body, start).is_none() {
                // What the attempt at one record kept is dropped.
                template = empty(Layout::Envelope);
                outside = template.read_envelope(body, start, hasher)?;
            }
        }
        // Every record of the body must be the template's: the walk's counts are then the
        // envelope's plus a whole number of times the record's.
        let records = u32::try_from(template.records(body)?).ok().filter(|n| *n > 0)?;
        template.keys = keys
            .iter()
            .map(|(id, count)| {
                let once = u32::try_from(outside.iter().filter(|k| *k == id).count()).ok()?;
                let in_records = count.checked_sub(once)?;
                (in_records.checked_rem(records) == Some(0)).then_some((*id, once, in_records.checked_div(records)?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(template)
    }

    /// Reads the record that opens at `at` into `record`; where it ends.
    fn read_record(&mut self, body: &[u8], at: usize) -> Option<usize> {
        let (end, record, _) = self.read_object(body, at, None)?;
        self.record = record;
        Some(end)
    }

    /// Reads the envelope that opens at `at`, into `head`, `record` and `tail`; the ids of its
    /// keys, at their depths.
    fn read_envelope(&mut self, body: &[u8], at: usize, hasher: &foldhash::fast::FixedState) -> Option<Vec<KeyId>> {
        let mut ids = Vec::new();
        let (_, head, tail) = self.read_object(body, at, Some((hasher, &mut ids)))?;
        // No records: not an envelope (one record is read as such).
        if tail.pieces.is_empty() {
            return None;
        }
        (self.head, self.tail) = (head, tail);
        Some(ids)
    }

    /// Reads the object that opens at `at`, whose values are scalars, arrays of scalars or
    /// objects of such values: a nested object's braces, keys and colons are bytes of the pieces
    /// around its values, so a body that matches the pieces has the nested keys too (an array
    /// of objects or arrays holds keys or depths that vary with its length: an object holding
    /// one is not read, but for the envelope's records). For an envelope (`ids` given, to
    /// collect its keys' ids), the first array holds the records: the first run ends with the
    /// bracket that opens them, the second starts with the one that closes them. Where the
    /// object ends, and its runs.
    fn read_object(
        &mut self,
        body: &[u8],
        at: usize,
        mut ids: Option<(&foldhash::fast::FixedState, &mut Vec<KeyId>)>,
    ) -> Option<(usize, Run, Run)> {
        if body.get(at) != Some(&b'{') {
            return None;
        }
        let (mut first, mut second) = (Run::default(), Run::default());
        let mut after_records = false;
        let mut piece = at;
        // Objects open: this one and those nested in it.
        let mut open = 1u32;
        let mut at = skip_space(body, at.checked_add(1)?);
        if body.get(at) == Some(&b'}') {
            // An empty record: its signature has no key, and the walk's is as cheap.
            return None;
        }
        loop {
            // A key, a colon, and the value's first byte.
            let (key_open, key_close, colon) = key_colon(body, at)?;
            if let Some((hasher, ids)) = ids.as_mut() {
                ids.push(key_at(body, key_open, key_close, colon, open, hasher));
            }
            at = skip_space(body, colon.checked_add(1)?);
            let run = if after_records { &mut second } else { &mut first };
            match body.get(at) {
                Some(b'{') => {
                    let inside = skip_space(body, at.checked_add(1)?);
                    if body.get(inside) != Some(&b'}') {
                        // A nested object: its first key follows.
                        open = open.checked_add(1)?;
                        at = inside;
                        continue;
                    }
                    // An empty one is a value without keys.
                    at = inside.checked_add(1)?;
                }
                Some(b'[')
                    if ids.is_some()
                        && !after_records
                        && body.get(skip_space(body, at.checked_add(1)?)) == Some(&b'{') =>
                {
                    self.push_piece(run, body.get(piece..=at)?)?;
                    let records = skip_space(body, at.checked_add(1)?);
                    self.read_record(body, records)?;
                    let (_, close) = self.array_records(body, records)?;
                    after_records = true;
                    piece = close;
                    at = close.checked_add(1)?;
                }
                _ => {
                    self.push_piece(run, body.get(piece..at)?)?;
                    let (kind, end) = match scalar(body, at) {
                        Some(found) => found,
                        // An empty array says nothing of what the route's arrays hold (an
                        // empty page of records): not learnt from; matched, it may be empty.
                        None if body.get(skip_space(body, at.saturating_add(1))) == Some(&b']') => return None,
                        None => (SCALARS, scalars_end(body, at)?),
                    };
                    self.push_kind(run, kind)?;
                    piece = end;
                    at = end;
                }
            }
            // After a value: the next key, or the ends of the objects it closes.
            loop {
                at = skip_space(body, at);
                match body.get(at) {
                    Some(b',') => {
                        at = skip_space(body, at.checked_add(1)?);
                        break;
                    }
                    Some(b'}') => {
                        open = open.checked_sub(1)?;
                        at = at.checked_add(1)?;
                        if open == 0 {
                            let run = if after_records { &mut second } else { &mut first };
                            self.push_piece(run, body.get(piece..at)?)?;
                            return Some((at, first, second));
                        }
                    }
                    _ => return None,
                }
            }
        }
    }

    /// How many of the template's records `body` is made of, if it is made of nothing else
    /// (spaces aside) but the template's envelope, if it has one.
    fn records(&self, body: &[u8]) -> Option<usize> {
        let mut at = skip_space(body, 0);
        let records = match self.layout {
            Layout::One => {
                at = self.run_end(&self.record, body, at)?;
                1
            }
            Layout::Array => {
                if body.get(at) != Some(&b'[') {
                    return None;
                }
                let (records, close) = self.array_records(body, skip_space(body, at.checked_add(1)?))?;
                at = close.checked_add(1)?;
                records
            }
            Layout::Envelope => {
                at = self.run_end(&self.head, body, at)?;
                let (records, close) = self.array_records(body, skip_space(body, at))?;
                at = self.run_end(&self.tail, body, close)?;
                records
            }
        };
        (skip_space(body, at) == body.len()).then_some(records)
    }

    /// The template's records, one or more, from the first at `at` to the `]` after the last:
    /// how many, and where that bracket is.
    fn array_records(&self, body: &[u8], mut at: usize) -> Option<(usize, usize)> {
        let mut records = 0usize;
        loop {
            at = skip_space(body, self.run_end(&self.record, body, at)?);
            records = records.checked_add(1)?;
            match body.get(at) {
                Some(b',') => at = skip_space(body, at.checked_add(1)?),
                Some(b']') => return Some((records, at)),
                _ => return None,
            }
        }
    }

    /// Adds a piece to `run`, unless the template would hold more than `MAX_TEMPLATE_BYTES`.
    fn push_piece(&mut self, run: &mut Run, piece: &[u8]) -> Option<()> {
        if self.bytes.len().saturating_add(piece.len()) > MAX_TEMPLATE_BYTES {
            return None;
        }
        run.pieces.push(Piece::of(self.bytes.len(), piece));
        self.bytes.extend_from_slice(piece);
        Some(())
    }

    /// Adds a value's kind to `run`, after its last piece, unless the template would hold more
    /// than `MAX_TEMPLATE_VALUES` values.
    fn push_kind(&mut self, run: &mut Run, kind: u8) -> Option<()> {
        if self.values >= MAX_TEMPLATE_VALUES {
            return None;
        }
        self.values = self.values.saturating_add(1);
        run.pieces.last_mut()?.value = kind;
        Some(())
    }

    /// Where `run` ends in `body` if it is there from `at`: each piece, and a value of each kind
    /// between pieces.
    #[inline(always)]
    fn run_end(&self, run: &Run, body: &[u8], mut at: usize) -> Option<usize> {
        for piece in &run.pieces {
            if !piece.is_at(&self.bytes, body, at) {
                return None;
            }
            // The piece is in the body: `at` plus its length is at most the body's length.
            at = at.wrapping_add(piece.len);
            if piece.value != NO_VALUE {
                at = value_end(body, at, piece.value)?;
            }
        }
        Some(at)
    }

    /// The signature of `body` if it is made of the template's records (and envelope), with
    /// its keys counted into `keys` as the walk counts them; `None` (and `keys` left as they
    /// were) otherwise.
    pub(crate) fn signature(&self, body: &[u8], keys: &mut BodyKeys) -> Option<u64> {
        let records = u32::try_from(self.records(body)?).ok()?;
        keys.set(self.keys.iter().map(|(id, once, each)| (*id, once.saturating_add(each.saturating_mul(records)))));
        Some(self.signature)
    }

    /// The bytes the template holds (for the sampler's memory bound).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// The key whose opening quote is at `at`: where its quotes are, and the colon after it.
fn key_colon(body: &[u8], at: usize) -> Option<(usize, usize, usize)> {
    if body.get(at) != Some(&b'"') {
        return None;
    }
    let end = string_end(body, at)?;
    let colon = skip_space(body, end);
    (body.get(colon) == Some(&b':')).then_some((at, end.checked_sub(1)?, colon))
}

/// Where one piece of a template is in its bytes, and its first and last eight bytes as words
/// (most pieces are `,"name":`, 6 to 16 bytes: two word compares, where a call to compare
/// bytes cost more than the comparison).
#[derive(Debug)]
struct Piece {
    start: usize,
    len: usize,
    head: u64,
    tail: u64,
    /// The bits of a word that a piece shorter than one covers (all for longer pieces).
    keep: u64,
    /// The kind of the value after the piece (`NO_VALUE` after a run's last piece).
    value: u8,
}

/// A piece's `value` when no value follows it (not one of the walk's kinds).
const NO_VALUE: u8 = 0;

/// The eight bytes of `bytes` at `at`, if there are eight.
#[inline(always)]
fn word(bytes: &[u8], at: usize) -> Option<u64> {
    let end = at.checked_add(8)?;
    bytes.get(at..end).and_then(|w| <[u8; 8]>::try_from(w).ok()).map(u64::from_le_bytes)
}

impl Piece {
    fn of(start: usize, piece: &[u8]) -> Piece {
        let len = piece.len();
        // Shorter than a word: the bytes in the low end of `head`, the rest zero.
        let padded = piece.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b));
        let head = word(piece, 0).unwrap_or(padded);
        let tail = word(piece, len.saturating_sub(8)).unwrap_or(padded);
        let keep = u64::MAX >> (64usize.saturating_sub(len.saturating_mul(8)) & 63);
        Piece { start, len, head, tail, keep, value: NO_VALUE }
    }

    /// Whether `body` holds the piece (of the template's `bytes`) at `at`.
    #[inline(always)]
    fn is_at(&self, bytes: &[u8], body: &[u8], at: usize) -> bool {
        let len = self.len;
        match len {
            1..=7 => {
                if let Some(w) = word(body, at) {
                    return w & self.keep == self.head;
                }
            }
            8..=16 => {
                // The piece's span of the body, then its first and last words within it.
                let Some(span) = at.checked_add(len).and_then(|end| body.get(at..end)) else { return false };
                return word(span, 0) == Some(self.head) && word(span, len.wrapping_sub(8)) == Some(self.tail);
            }
            _ => {}
        }
        // Near the body's end, or a long piece.
        let piece = self.start.checked_add(len).and_then(|end| bytes.get(self.start..end));
        let there = at.checked_add(len).and_then(|end| body.get(at..end));
        piece.is_some() && piece == there
    }
}

/// Just past the string that opens with the quote at `at`: the walk's rule, a backslash escapes
/// the byte after it. Sixteen bytes at a time.
#[inline(always)]
fn string_end(body: &[u8], at: usize) -> Option<usize> {
    use wide::u8x16;
    let (quote, backslash) = (u8x16::splat(b'"'), u8x16::splat(b'\\'));
    let mut at = at.checked_add(1)?;
    loop {
        let found = match lanes_at(body, at) {
            Some(lanes) => {
                let marks = (lanes.simd_eq(quote) | lanes.simd_eq(backslash)).to_bitmask();
                if marks == 0 {
                    at = at.checked_add(16)?;
                    continue;
                }
                marks.trailing_zeros() as usize
            }
            None => body.get(at..)?.iter().position(|&b| b == b'"' || b == b'\\')?,
        };
        at = at.checked_add(found)?;
        if body.get(at) == Some(&b'"') {
            return at.checked_add(1);
        }
        at = at.checked_add(2)?;
    }
}

/// Where the value of kind `expected` at `at` ends, if there is one there. As [`scalar`], but
/// led by the kind the template expects: a branch per kind that follows the record's order of
/// values (a `match` on the kind found was an indirect jump, mispredicted every few values).
#[inline(always)]
fn value_end(body: &[u8], at: usize, expected: u8) -> Option<usize> {
    let first = *body.get(at)?;
    let found = VALUE_START.get(usize::from(first)).copied().unwrap_or(0);
    if expected == STRING {
        return if found == STRING { string_end(body, at) } else { None };
    }
    if expected == NUMBER || expected == super::NUMBER_WITH_FRACTION {
        if found != NUMBER {
            return None;
        }
        let (kind, end) = super::number(body, at);
        return (kind == expected).then_some(end);
    }
    if expected == SCALARS {
        return scalars_end(body, at);
    }
    if found != expected {
        return None;
    }
    Some(letters_end(body, at))
}

/// Where the array of scalars that opens at `at` ends (after its `]`), if it is one.
fn scalars_end(body: &[u8], at: usize) -> Option<usize> {
    if body.get(at) != Some(&b'[') {
        return None;
    }
    let mut at = skip_space(body, at.checked_add(1)?);
    if body.get(at) == Some(&b']') {
        return at.checked_add(1);
    }
    loop {
        let (_, end) = scalar(body, at)?;
        at = skip_space(body, end);
        match body.get(at) {
            Some(b',') => at = skip_space(body, at.checked_add(1)?),
            Some(b']') => return at.checked_add(1),
            _ => return None,
        }
    }
}

/// Where the letters from `at` end (`true`, `false`, `null`: the walk reads only their first
/// byte, and none of the letters is a byte it looks at).
///
/// Sixteen bytes at a time where there are sixteen (a byte loop was a sixth of a record's time
/// in records of a few values with one `true`).
#[inline(always)]
fn letters_end(body: &[u8], at: usize) -> usize {
    use wide::u8x16;
    if let Some(lanes) = lanes_at(body, at) {
        // Setting bit 5 maps `A`..=`Z` onto `a`..=`z` and no other byte into that range.
        let folded = lanes | u8x16::splat(0x20);
        let letters = folded.max(u8x16::splat(b'a')).simd_eq(folded) & folded.min(u8x16::splat(b'z')).simd_eq(folded);
        let end = (!letters.to_bitmask()).trailing_zeros();
        if end < 16 {
            return at.saturating_add(end as usize);
        }
    }
    let rest = body.get(at..).unwrap_or_default();
    at.saturating_add(rest.iter().position(|b| !b.is_ascii_alphabetic()).unwrap_or(rest.len()))
}

/// The kind of the scalar value at `at` (as the walk's `value_kind` tells it) and where it ends;
/// `None` for an object, an array or anything that is not a value. A number runs over the
/// bytes the walk reads as a number's, a `true`, `false` or `null` over letters: the walk reads
/// only their first byte, so any letters after it are the same to it, and none of them is a
/// byte the walk looks at.
#[inline(always)]
fn scalar(body: &[u8], at: usize) -> Option<(u8, usize)> {
    let first = *body.get(at)?;
    let kind = VALUE_START.get(usize::from(first)).copied().unwrap_or(0);
    match kind {
        STRING => Some((STRING, string_end(body, at)?)),
        NUMBER => Some(super::number(body, at)),
        0 | super::OBJECT | super::ARRAY => None,
        // `true`, `false`, `null`.
        _ => Some((kind, letters_end(body, at))),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used)]
mod tests {
    use super::super::{signature, BodyKeys, ResponseSampler};
    use super::*;

    /// A random scalar of `kind`: strings full of what the walk looks for (quotes and
    /// backslashes escaped, brackets, colons, commas), numbers of every form.
    /// Kinds of nested values: an object of two scalars, one in an object of its own, and `{}`.
    const NESTED: u8 = 0xe0;
    const EMPTY_OBJECT: u8 = 0xe1;
    const ARRAY_OF_SCALARS: u8 = 0xe2;
    const ARRAY_OF_RECORDS: u8 = 0xe3;
    fn value(random: &mut dyn FnMut(u64) -> u64, kind: u8) -> String {
        let pieces = ["a", "{", "]", ":", ",", "\\\"", "\\\\", "\\n", "é", " ", "[", "}"];
        match kind {
            STRING => format!("\"{}\"", (0..random(12)).map(|_| pieces[random(12) as usize]).collect::<String>()),
            NUMBER => ["0", "17", "-4", "123456789012345678901"][random(4) as usize].to_string(),
            super::super::NUMBER_WITH_FRACTION => {
                ["1.5", "-0.25", "2e3", "1E-2", "123456789012345678.5"][random(5) as usize].to_string()
            }
            super::super::TRUE_OR_FALSE => ["true", "false"][random(2) as usize].to_string(),
            NESTED => format!("{{\"k\":{},\"n\" : {{\"id\":{}}}}}", value(random, NUMBER), value(random, STRING)),
            EMPTY_OBJECT => "{ }".to_string(),
            ARRAY_OF_RECORDS => format!("[{{\"x\":{}}}]", value(random, NUMBER)),
            ARRAY_OF_SCALARS => {
                let scalars = [STRING, NUMBER, super::super::NUMBER_WITH_FRACTION, super::super::NULL];
                let items: Vec<String> = (0..random(4))
                    .map(|_| {
                        let kind = scalars[random(4) as usize];
                        value(random, kind)
                    })
                    .collect();
                format!("[{}]", items.join([",", " , "][random(2) as usize]))
            }
            _ => "null".to_string(),
        }
    }

    fn walked(body: &str) -> (Option<u64>, Vec<(KeyId, u32)>) {
        let hasher = ResponseSampler::default().hasher;
        let mut keys = BodyKeys::default();
        let signature = signature(body.as_bytes(), &hasher, &mut keys);
        let mut list = keys.list.clone();
        list.sort_by_key(|(k, _)| (k.word, k.meta));
        (signature, list)
    }

    #[test]
    fn letters_end_where_the_byte_loop_does() {
        let mut rng = apisonar_testkit::workload::Rng::seeded(0x01e7_7e25);
        let alphabet = b"aAzZtruefalsenul@[`{\x7f,}] 0\xc1\xe1\xfa";
        for _ in 0..20_000 {
            let len = rng.below(40) as usize;
            let body: Vec<u8> = (0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]).collect();
            for at in 0..=len + 1 {
                let rest = body.get(at..).unwrap_or_default();
                let expected = at + rest.iter().position(|b| !b.is_ascii_alphabetic()).unwrap_or(rest.len());
                assert_eq!(letters_end(&body, at), expected, "{body:?} from {at}");
            }
        }
    }

    #[test]
    fn a_template_signs_a_body_as_the_walk_does_or_not_at_all() {
        let mut rng = apisonar_testkit::workload::Rng::seeded(0x007e_3a11);
        let mut random = move |n: u64| rng.below(n);
        // Keys alike up to their last bytes too: a piece must match to its end.
        let names = [
            "id",
            "name",
            "email_address",
            "a\\\"b",
            "",
            "é",
            "k",
            "a_key_longer_than_sixteen_bytes",
            "abcdefgh1",
            "abcdefgh2",
            "abcde1",
            "abcde2",
        ];
        // Scalars first (an envelope's members draw from them), then nested objects.
        let kinds = [
            STRING,
            NUMBER,
            super::super::NUMBER_WITH_FRACTION,
            super::super::TRUE_OR_FALSE,
            super::super::NULL,
            NESTED,
            EMPTY_OBJECT,
            ARRAY_OF_SCALARS,
            ARRAY_OF_RECORDS,
        ];
        let (mut signed, mut declined, mut learnt, mut enveloped, mut signed_envelopes) = (0, 0, 0, 0, 0);
        for _ in 0..800 {
            // A record: distinct keys (or, now and then, one twice), each with a kind.
            let width = 1 + random(6) as usize;
            let mut fields: Vec<(&str, u8)> = Vec::new();
            for _ in 0..width {
                let name = names[random(names.len() as u64) as usize];
                if random(8) == 0 || !fields.iter().any(|(n, _)| *n == name) {
                    fields.push((name, kinds[random(kinds.len() as u64) as usize]));
                }
            }
            let spaced = random(4) == 0;
            let array = random(5) != 0;
            // An envelope of scalars around the array: keys before it and after it (the names
            // of the records' keys too: a key's depth tells them apart).
            let envelope = array && random(3) == 0;
            let mut outer = |count: u64| -> Vec<(&str, u8)> {
                (0..random(count))
                    .map(|_| (names[random(names.len() as u64) as usize], kinds[random(kinds.len() as u64) as usize]))
                    .collect()
            };
            let (before, after, wrapper) = (outer(3), outer(3), names[random(names.len() as u64) as usize]);
            // The records one object deeper in, beside a member of their own.
            let deep = random(3) == 0;
            let gap = if spaced { " " } else { "" };
            let fields_text = move |random: &mut dyn FnMut(u64) -> u64, fields: &[(&str, u8)]| -> Vec<String> {
                fields.iter().map(|(n, k)| format!("\"{n}\"{gap}:{gap}{}", value(random, *k))).collect()
            };
            let record = |random: &mut dyn FnMut(u64) -> u64, fields: &[(&str, u8)]| {
                format!("{{{}}}", fields_text(random, fields).join(&format!(",{gap}")))
            };
            let body = |random: &mut dyn FnMut(u64) -> u64, fields: &[(&str, u8)], n: usize| {
                if array {
                    let records: Vec<String> = (0..n).map(|_| record(random, fields)).collect();
                    let mut list = format!("[{}]", records.join(","));
                    if envelope && deep {
                        list = format!("{{\"list\":{list},\"n\":1}}");
                    }
                    if envelope {
                        let mut members = fields_text(random, &before);
                        members.push(format!("\"{wrapper}\"{gap}:{gap}{list}"));
                        members.extend(fields_text(random, &after));
                        format!("{{{}}}", members.join(&format!(",{gap}")))
                    } else {
                        list
                    }
                } else {
                    record(random, fields)
                }
            };
            let records = 1 + random(5) as usize;
            let base = body(&mut random, &fields, records);
            let (Some(sig), _) = walked(&base) else { continue };
            let hasher = ResponseSampler::default().hasher;
            let mut keys = BodyKeys::default();
            signature(base.as_bytes(), &hasher, &mut keys);
            let Some(template) = RecordTemplate::learn(base.as_bytes(), sig, &keys.list, &hasher) else { continue };
            learnt += 1;
            enveloped += usize::from(template.layout == Layout::Envelope);
            assert!(template.len() <= MAX_TEMPLATE_BYTES);
            for _ in 0..12 {
                // The same records with other values, or a body changed in one place.
                let mut variant = fields.clone();
                let n = 1 + random(30) as usize;
                let mut text = body(&mut random, &variant, n);
                let change = random(12);
                match change {
                    0 => {
                        let i = random(variant.len() as u64) as usize;
                        variant[i].1 = kinds[random(kinds.len() as u64) as usize];
                        text = body(&mut random, &variant, n);
                    }
                    1 => {
                        variant.push((
                            names[random(names.len() as u64) as usize],
                            kinds[random(kinds.len() as u64) as usize],
                        ));
                        text = body(&mut random, &variant, n);
                    }
                    2 if variant.len() > 1 => {
                        variant.swap(0, 1);
                        // Only one record of the body in the other order.
                        let other = record(&mut random, &variant);
                        text = match (array, envelope) {
                            (true, false) => format!("[{other},{}]", text.trim_start_matches('[')),
                            (true, true) => text.replacen(":[", &format!(":[{other},"), 1).replacen(
                                ": [",
                                &format!(": [{other},"),
                                1,
                            ),
                            _ => other,
                        };
                    }
                    3 => text = text.replacen(':', ":{\"x\":[1]},\"y\":", 1),
                    4 => text = format!("{text} x"),
                    5 => text = text.replacen("},{", "} , {", 1),
                    6 => text = text.replacen("},{", "},{\"z\":1},{", 1),
                    7 => {
                        let cut = random(text.len() as u64) as usize;
                        text = text.get(..cut).unwrap_or_default().to_string();
                    }
                    8 => {
                        let i = random(variant.len() as u64) as usize;
                        variant[i].0 = names[random(names.len() as u64) as usize];
                        text = body(&mut random, &variant, n);
                    }
                    // The envelope's records under another key, or the envelope with a member
                    // more.
                    10 if envelope => {
                        let key = format!("\"{wrapper}\"{gap}:{gap}[");
                        text = text.replacen(&key, &format!("\"{wrapper}x\"{gap}:{gap}["), 1);
                    }
                    11 if envelope => {
                        text = text.replacen('{', &format!("{{\"more\":{},", value(&mut random, NUMBER)), 1)
                    }
                    _ => {}
                }
                let mut fast = BodyKeys::default();
                let matched = template.signature(text.as_bytes(), &mut fast);
                let (walk, mut walk_keys) = walked(&text);
                match matched {
                    Some(found) => {
                        assert_eq!(Some(found), walk, "{base}\n{text}");
                        let mut listed = fast.list.clone();
                        listed.sort_by_key(|(k, _)| (k.word, k.meta));
                        walk_keys.sort_by_key(|(k, _)| (k.word, k.meta));
                        assert_eq!(listed, walk_keys, "{base}\n{text}");
                        signed += 1;
                        signed_envelopes += usize::from(template.layout == Layout::Envelope);
                    }
                    // Records of the template with other values are always signed.
                    None => {
                        let unchanged = change == 9 || (change >= 10 && !envelope) || (change == 2 && fields.len() < 2);
                        assert!(!unchanged, "{base}\n{text}");
                        declined += 1;
                    }
                }
            }
        }
        // The template must sign most bodies that are its records, and see through none of
        // the changes: both are counted so that neither side can pass by doing nothing.
        assert!(learnt > 500 && signed > 1500 && declined > 3000, "{learnt} {signed} {declined}");
        assert!(enveloped > 80 && signed_envelopes > 250, "{enveloped} envelopes learnt, {signed_envelopes} signed");
    }

    #[test]
    fn an_envelope_key_that_is_also_a_record_key_counts_once_an_answer() {
        // `id` at depth 3 both in the envelope (`a.b.id`) and in each record (`list[].id`):
        // one key id, counted once for the envelope and once a record.
        let hasher = ResponseSampler::default().hasher;
        let learnt = r#"{"a":{"b":{"id":1}},"list":[{"id":2},{"id":3}]}"#;
        let mut keys = BodyKeys::default();
        let sig = signature(learnt.as_bytes(), &hasher, &mut keys).unwrap();
        let template = RecordTemplate::learn(learnt.as_bytes(), sig, &keys.list, &hasher).unwrap();
        for n in 1..6 {
            let records: Vec<String> = (0..n).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
            let body = format!(r#"{{"a":{{"b":{{"id":7}}}},"list":[{}]}}"#, records.join(","));
            let mut matched = BodyKeys::default();
            assert_eq!(template.signature(body.as_bytes(), &mut matched), Some(sig));
            assert_eq!(walked(&body).1, {
                let mut list = matched.list.clone();
                list.sort_by_key(|(k, _)| (k.word, k.meta));
                list
            });
            assert!(matched.list.iter().any(|(_, count)| *count == n + 1), "{:?}", matched.list);
        }
    }

    #[test]
    fn only_records_of_scalars_and_objects_make_a_template() {
        let learn = |body: &str| {
            let hasher = ResponseSampler::default().hasher;
            let mut keys = BodyKeys::default();
            let sig = signature(body.as_bytes(), &hasher, &mut keys)?;
            RecordTemplate::learn(body.as_bytes(), sig, &keys.list, &hasher)
        };
        assert!(learn(r#"[{"id":1,"name":"a"},{"id":2,"name":"b"}]"#).is_some());
        assert!(learn(r#"{"id":1,"name":"a"}"#).is_some());
        // Nested values, records unlike each other, an empty record, what is not JSON.
        assert!(learn(r#"[{"id":1,"tags":["a"]}]"#).is_some(), "an array of scalars is a value");
        assert!(learn(r#"[{"id":1,"items":[{"a":1}]}]"#).is_none(), "an array of records in a record");
        assert!(learn(r#"[{"id":1,"tags":[ ]}]"#).is_none(), "an empty array: of what?");
        assert!(learn(r#"[{"id":1,"m":[[1]]}]"#).is_none(), "an array in an array");
        // Objects nested in a record are bytes of its pieces; arrays are not.
        assert!(learn(r#"{"user":{"id":1}}"#).is_some());
        assert!(
            learn(r#"[{"id":1,"owner":{"login":"a","site":{}}},{"id":2,"owner":{"login":"b","site":{}}}]"#).is_some()
        );
        assert!(learn(r#"[{"id":1,"owner":{"tags":["a", 2, null]}}]"#).is_some());
        assert!(learn(r#"[{"id":1},{"id":2,"x":3}]"#).is_none());
        assert!(learn(r#"[{}]"#).is_none());
        assert!(learn(r#"[1,2,3]"#).is_none());
        // An envelope of scalars around one array of such records, and nothing else.
        let envelope = learn(r#"{"total":2,"data":[{"id":1},{"id":2}],"next":null}"#);
        assert_eq!(envelope.map(|t| t.layout), Some(Layout::Envelope));
        assert!(learn(r#"{"data":[{"id":1}]}"#).is_some());
        assert!(learn(r#"{"total":0,"data":[]}"#).is_none(), "no record to learn");
        assert!(learn(r#"{"data":[{"id":1}],"more":[{"id":2}]}"#).is_none(), "two arrays");
        assert!(learn(r#"{"meta":{"page":1,"links":{}},"data":[{"id":1}]}"#).is_some(), "objects around the records");
        assert!(learn(r#"{"result":{"items":[{"id":1}],"total":1}}"#).is_some(), "records deeper in");
        assert!(learn(r#"{"meta":{"tags":["a"]},"data":[{"id":1}]}"#).is_some(), "an array of scalars beside");
        assert!(learn(r#"{"meta":{"rows":[{"a":1}]},"data":[{"id":1}]}"#).is_none(), "another array of records");
        assert!(learn(r#"{"data":[1,2]}"#).is_some(), "one record holding an array of scalars");
        assert!(learn(r#"{"data":[{"id":1},{"id":2,"x":3}]}"#).is_none());
        let wide: Vec<String> = (0..MAX_TEMPLATE_VALUES + 1).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(learn(&format!("{{{}}}", wide.join(","))).is_none(), "too many values to keep");
        // Bytes between values count against the bound wherever they are, the last piece too.
        let spaced = format!("{{\"id\":1{}}}", " ".repeat(MAX_TEMPLATE_BYTES));
        assert!(learn(&spaced).is_none(), "too many bytes to keep");
        assert!(learn(&format!("{{\"id\":1{}}}", " ".repeat(MAX_TEMPLATE_BYTES - 8))).is_some());
    }
}
