//! Sampled response-body analysis, for the flow workers. Parsing a JSON answer, inferring its
//! schema and classifying every value is most of a transaction's cost, and an API answers the
//! same shape over and over. So each worker remembers, per route (host, method, path with its
//! value-like segments folded, status and content type), the answers it analysed in full, keyed
//! by a cheap signature of the body (every key, at its depth, with the kind of its value: one
//! pass over the bytes, no parsing, no allocation; for a route whose answers are records
//! without arrays of objects, the bytes matched against the route's record template, see
//! `records`). Once one signature's
//! full analyses have found the same facts (shape, schema structure and formats, sensitive classes and locations)
//! `SETTLE_AFTER` times in a row, its further bodies reuse those facts and are not parsed,
//! except audits, analysed in full: the first `AUDIT_EVERY` answers of the route after the
//! last audit, the gap doubling after each audit that agrees (up to `MAX_AUDIT_GAP`: a shape
//! that keeps agreeing costs ever less), back to `AUDIT_EVERY` and learning again after one
//! that differs. A new key, a key whose value changes kind, a new status or content type is a new
//! signature or route, analysed in full. Requests, headers and query strings are always
//! searched for sensitive data (credentials in cleartext are counted exactly), only request
//! body schemas are sampled per route (`request_schema_wanted`), and every request is still
//! templated, counted and checked for injection and abuse.
//!
//! What this gives up: a value of a settled field that changes sensitive class or string format
//! without any key changing is found at the next audit (at most `MAX_AUDIT_GAP` answers of the
//! route later), not at once; a reused answer carries the masks and per-message counts of the
//! last one analysed.

use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::observation::Observation;
use crate::segment;
use crate::sensitive::Finding;
use crate::template::Shape;
use records::RecordTemplate;

mod records;

/// Full analyses of one signature that must agree before its bodies are sampled: as many as the
/// catalog merges in full for a new endpoint, so a capture with fewer answers per shape is
/// analysed exactly as without sampling.
const SETTLE_AFTER: u32 = 64;
/// Once settled, a route's answers are audited (analysed in full) after this many answers, and
/// after twice as many once an audit agreed, and so on up to `MAX_AUDIT_GAP`.
const AUDIT_EVERY: u64 = 64;
const MAX_AUDIT_GAP: u64 = 1024;
/// Request bodies per route whose schema is always inferred, and then one in how many (the
/// catalog's own schema sampling: `SCHEMA_FULL_SAMPLES`, `SCHEMA_SAMPLE_EVERY`).
const REQUEST_SCHEMAS_IN_FULL: u64 = super::SCHEMA_FULL_SAMPLES;
const REQUEST_SCHEMA_EVERY: u64 = super::SCHEMA_SAMPLE_EVERY;
/// Routes one sampler remembers; past this it forgets them all and learns again.
const MAX_ROUTES: usize = 4096;
/// Signatures remembered per route (the oldest is forgotten).
const MAX_SIGNATURES: usize = 8;
/// Answers in a row a route's record template may fail to match before it is dropped.
const TEMPLATE_MISSES: u32 = 16;
/// Distinct keys a signature tells apart: a wider body is always analysed in full.
const MAX_SIGNATURE_KEYS: usize = 256;

/// What a full analysis of a response body found that a reused answer repeats.
#[derive(Clone, Debug, Default)]
pub(crate) struct AnswerFacts {
    pub(crate) shape: Option<Shape>,
    pub(crate) findings: Vec<Finding>,
    /// Per finding, the key its location ends at and how often that key occurred in the body
    /// analysed (`learn` fills it in): a reused answer scales the finding's count by how often
    /// the key occurs in its own body.
    pub(crate) keyed: Vec<Option<(KeyId, u32)>>,
    /// Shape, schema structure and formats, and sensitive classes and locations, hashed: two
    /// analyses "agree" when this is equal.
    pub(crate) summary: u64,
}

struct Known {
    signature: u64,
    agreed: u32,
    facts: AnswerFacts,
}

struct RouteMemory {
    answers: u64,
    /// The answer (by `answers`) from which the next settled one is audited, and the gap
    /// after it.
    next_audit: u64,
    audit_gap: u64,
    known: Vec<Known>,
    /// The route's record template (see `records`), with how many answers in a row it did not
    /// match, and the answers walked without one (a template is learnt from the first, second,
    /// fourth, eighth... of those).
    template: Option<RecordTemplate>,
    template_misses: u32,
    walked: u64,
}

impl RouteMemory {
    /// Counts whether the route's template signed this answer (`matched`) or was tried and did
    /// not (`tried`): one that misses `TEMPLATE_MISSES` answers in a row is dropped (the answers
    /// changed, or come in shapes it rarely fits) and learning starts over. Without a template,
    /// one is learnt from a walked answer (`signature` and `keys` are the walk's) at the first,
    /// second, fourth... answer walked: a route whose records hold arrays of objects tries ever
    /// more rarely.
    fn keep_template(
        &mut self,
        matched: bool,
        tried: bool,
        body: &[u8],
        (signature, keys): (u64, &[(KeyId, u32)]),
        hasher: &foldhash::fast::FixedState,
    ) {
        if matched {
            self.template_misses = 0;
            return;
        }
        if tried {
            self.template_misses = self.template_misses.saturating_add(1);
            if self.template_misses >= TEMPLATE_MISSES {
                (self.template, self.template_misses, self.walked) = (None, 0, 0);
            }
            return;
        }
        self.walked = self.walked.saturating_add(1);
        if self.walked.is_power_of_two() {
            self.template = RecordTemplate::learn(body, signature, keys, hasher);
        }
    }
}

impl Default for RouteMemory {
    fn default() -> Self {
        // The first audit comes `AUDIT_EVERY` answers after a shape can first have settled.
        let first = u64::from(SETTLE_AFTER).saturating_add(AUDIT_EVERY);
        RouteMemory {
            answers: 0,
            next_audit: first,
            audit_gap: AUDIT_EVERY,
            known: Vec::new(),
            template: None,
            template_misses: 0,
            walked: 0,
        }
    }
}

/// How to analyse one response body.
pub(crate) enum Plan {
    /// In full; then tell the sampler what was found (`learn`) under this ticket, if any.
    Analyse(Option<Ticket>),
    /// Reuse this shape: the body is not parsed. The findings learnt for it were added to the
    /// transaction's, their counts scaled to this body.
    Reuse(Option<Shape>),
}

/// Where a full analysis's facts are to be remembered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    route: u64,
    signature: u64,
    /// The answer was an audit of a settled signature.
    audit: bool,
}

/// One flow worker's memory of the answers it has analysed (see the module comment).
pub struct ResponseSampler {
    /// Header fields found clean (the worker's other memory: headers repeat like answers).
    pub(crate) clean_fields: crate::sensitive::CleanFields,
    /// GraphQL documents parsed (the worker's third memory: clients repeat their documents).
    pub(crate) documents: crate::operations::DocumentCache,
    /// User agents looked up for scanner names (a client sends the same one every time).
    pub(crate) agents: crate::behavior::AgentMemory,
    /// Authorization values worked out (clients send the same one with every request).
    pub(crate) authorizations: crate::auth::AuthMemory,
    routes: HashMap<u64, RouteMemory>,
    /// Request bodies seen per route and content type (`request_schema_wanted`).
    requests: HashMap<u64, u64>,
    hasher: foldhash::fast::FixedState,
    /// The keys of the last body signed, with how often each occurred.
    keys: BodyKeys,
    analysed: u64,
    reused: u64,
}

impl Default for ResponseSampler {
    fn default() -> Self {
        ResponseSampler {
            clean_fields: crate::sensitive::CleanFields::default(),
            documents: crate::operations::DocumentCache::default(),
            agents: crate::behavior::AgentMemory::default(),
            authorizations: crate::auth::AuthMemory::default(),
            routes: HashMap::new(),
            requests: HashMap::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x5eed_a9a1_7515_0001),
            keys: BodyKeys::default(),
            analysed: 0,
            reused: 0,
        }
    }
}

impl ResponseSampler {
    /// Response bodies analysed in full and reused so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.analysed, self.reused)
    }

    /// Whether to infer the schema of a request body on `path_route` (see `path_route`) with
    /// content type `content_type`: for the first `REQUEST_SCHEMAS_IN_FULL` of the route, then
    /// one in `REQUEST_SCHEMA_EVERY`, as the catalog samples bodies for schemas. The body is
    /// still parsed and searched for sensitive data and injection every time: only the schema,
    /// which settles quickly, is sampled.
    pub(crate) fn request_schema_wanted(&mut self, path_route: u64, content_type: Option<&str>) -> bool {
        let route = self.hasher.hash_one((path_route, content_type));
        if !self.requests.contains_key(&route) && self.requests.len() >= MAX_ROUTES {
            self.requests.clear();
        }
        let seen = self.requests.entry(route).or_default();
        *seen = seen.saturating_add(1);
        *seen <= REQUEST_SCHEMAS_IN_FULL || seen.is_multiple_of(REQUEST_SCHEMA_EVERY)
    }

    /// Decides how to analyse `obs`'s response body (of content type `content_type`);
    /// `path_route` is the request's (see `path_route`). When the plan is to reuse what was
    /// learnt, the learnt findings are added to `findings`.
    pub(crate) fn plan(
        &mut self,
        obs: &Observation,
        path_route: u64,
        content_type: Option<&str>,
        findings: &mut crate::sensitive::Findings<'_>,
    ) -> Plan {
        let Some(response) = obs.response.as_ref() else { return Plan::Analyse(None) };
        let route = self.hasher.hash_one((path_route, response.status, content_type));
        // The route's record template signs a body made of its records without the walk.
        let known = self.routes.get(&route);
        let new_route = known.is_none();
        let template = known.and_then(|m| m.template.as_ref());
        let matched = template.and_then(|t| t.signature(&response.body, &mut self.keys));
        let (signature, tried) = match matched {
            Some(signature) => (signature, true),
            None => match signature(&response.body, &self.hasher, &mut self.keys) {
                Some(signature) => (signature, template.is_some()),
                None => {
                    self.analysed = self.analysed.saturating_add(1);
                    return Plan::Analyse(None);
                }
            },
        };
        if new_route && self.routes.len() >= MAX_ROUTES {
            self.routes.clear();
        }
        let memory = self.routes.entry(route).or_default();
        memory.answers = memory.answers.saturating_add(1);
        memory.keep_template(matched.is_some(), tried, &response.body, (signature, &self.keys.list), &self.hasher);
        let due = memory.answers >= memory.next_audit;
        let ticket = Ticket { route, signature, audit: false };
        match memory.known.iter().find(|k| k.signature == signature) {
            Some(known) if known.agreed >= SETTLE_AFTER && !due => {
                self.reused = self.reused.saturating_add(1);
                findings.extend_learnt(scaled(&known.facts, &self.keys.list));
                Plan::Reuse(known.facts.shape)
            }
            settled => {
                let audit = settled.is_some_and(|k| k.agreed >= SETTLE_AFTER);
                if audit {
                    memory.next_audit = memory.answers.saturating_add(memory.audit_gap);
                }
                self.analysed = self.analysed.saturating_add(1);
                Plan::Analyse(Some(Ticket { audit, ..ticket }))
            }
        }
    }

    /// Remembers what a full analysis under `ticket` found (right after `plan` read the same
    /// body: the keys it counted are this body's). `place` is where the body's findings are
    /// (`response.json`).
    pub(crate) fn learn(&mut self, ticket: Ticket, mut facts: AnswerFacts, place: &str) {
        facts.keyed = facts
            .findings
            .iter()
            .map(|f| {
                let id = location_key(&f.location, place, &self.hasher)?;
                Some((id, occurrences(&self.keys.list, id)))
            })
            .collect();
        let Some(memory) = self.routes.get_mut(&ticket.route) else { return };
        match memory.known.iter_mut().find(|k| k.signature == ticket.signature) {
            Some(known) if known.facts.summary == facts.summary => {
                known.agreed = known.agreed.saturating_add(1);
                known.facts = facts;
                if ticket.audit {
                    memory.audit_gap = memory.audit_gap.saturating_mul(2).min(MAX_AUDIT_GAP);
                }
            }
            Some(known) => {
                known.agreed = 1;
                known.facts = facts;
                if ticket.audit {
                    memory.audit_gap = AUDIT_EVERY;
                    memory.next_audit = memory.answers.saturating_add(AUDIT_EVERY);
                }
            }
            None => {
                if memory.known.len() >= MAX_SIGNATURES {
                    memory.known.remove(0);
                }
                memory.known.push(Known { signature: ticket.signature, agreed: 1, facts });
            }
        }
    }

    /// The route of a request: host, method and the path with value-like segments folded (so
    /// `/users/17` and `/users/18` share one memory). An answer's route adds its status and
    /// content type.
    pub(crate) fn path_route(&self, obs: &Observation) -> u64 {
        use std::hash::{Hash, Hasher};
        // One hasher for the whole route: a `str` is written with a terminator, so the segments
        // stay apart without finishing a hash per segment.
        let mut h = self.hasher.build_hasher();
        (obs.host.as_deref(), obs.method.as_str()).hash(&mut h);
        let path = crate::observation::before_any(&obs.target, b"?#");
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            let part = if segment::classify(seg).is_value() { "{}" } else { seg };
            part.hash(&mut h);
        }
        h.finish()
    }
}

/// The kind of the JSON value at `at`, as a signature tells them apart (0: not a value).
#[inline(always)]
fn value_kind(body: &[u8], at: usize) -> u8 {
    let kind = body.get(at).map_or(0, |&b| VALUE_START.get(usize::from(b)).copied().unwrap_or(0));
    if kind != NUMBER {
        return kind;
    }
    number(body, at).0
}

/// The number token at `at` (the bytes a number's can be): integer (`NUMBER`) or not
/// (`NUMBER_WITH_FRACTION`: schemas tell them apart), and where it ends. A token of up to 15
/// bytes is read at once (its end was a mispredicted loop exit per number); a longer one, or
/// one at the very end of the body, byte by byte.
#[inline(always)]
fn number(body: &[u8], at: usize) -> (u8, usize) {
    if let Some(lanes) = lanes_at(body, at) {
        use wide::u8x16;
        // Between '0' and '9': unchanged by a floor of '0' and by a ceiling of '9'.
        let digits = lanes.max(u8x16::splat(b'0')).simd_eq(lanes) & lanes.min(u8x16::splat(b'9')).simd_eq(lanes);
        let fraction = lanes.simd_eq(u8x16::splat(b'.')) | (lanes | u8x16::splat(0x20)).simd_eq(u8x16::splat(b'e'));
        let signs = lanes.simd_eq(u8x16::splat(b'-')) | lanes.simd_eq(u8x16::splat(b'+'));
        let fraction = fraction.to_bitmask();
        let token = (digits | signs).to_bitmask() | fraction;
        let end = (!token).trailing_zeros();
        if end < 16 {
            let within = 1u32.checked_shl(end).unwrap_or(0).wrapping_sub(1);
            let kind = if fraction & within != 0 { NUMBER_WITH_FRACTION } else { NUMBER };
            return (kind, at.saturating_add(end as usize));
        }
    }
    let mut seen = 0u8;
    let mut end = at;
    for class in body.get(at..).unwrap_or_default().iter().map(|&b| NUMERIC.get(usize::from(b)).copied().unwrap_or(0)) {
        if class == 0 {
            break;
        }
        seen |= class;
        end = end.saturating_add(1);
    }
    (if seen & FRACTION != 0 { NUMBER_WITH_FRACTION } else { NUMBER }, end)
}

/// The sixteen bytes of `body` from `at`, as vector lanes, if there are sixteen.
#[inline(always)]
fn lanes_at(body: &[u8], at: usize) -> Option<wide::u8x16> {
    let end = at.checked_add(16)?;
    body.get(at..end).and_then(|b| <[u8; 16]>::try_from(b).ok()).map(wide::u8x16::new)
}

fn skip_space(body: &[u8], mut at: usize) -> usize {
    while body.get(at).is_some_and(u8::is_ascii_whitespace) {
        at = at.saturating_add(1);
    }
    at
}

/// A table of byte classes: each listed byte gets its class, every other byte 0.
// Indexes evaluated at compile time: one out of bounds would not compile.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn byte_classes(classes: &[(&[u8], u8)]) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < classes.len() {
        let (bytes, class) = classes[c];
        let mut i = 0;
        while i < bytes.len() {
            table[bytes[i] as usize] = class;
            i += 1;
        }
        c += 1;
    }
    table
}

/// The bytes of a number token: `INTEGER` for digits and signs, `FRACTION` for what only a
/// number with a fraction or an exponent holds (a table: a `match` here was a jump per byte).
const INTEGER: u8 = 1;
const FRACTION: u8 = 2;
static NUMERIC: [u8; 256] = byte_classes(&[(b"0123456789-+", INTEGER), (b".eE", FRACTION)]);

/// The kinds of values a signature tells apart (0: not a value), and the first bytes that tell
/// them (a table: a `match` on the first byte was a mispredicted jump per value).
const STRING: u8 = 1;
const OBJECT: u8 = 2;
const ARRAY: u8 = 3;
const TRUE_OR_FALSE: u8 = 4;
const NULL: u8 = 5;
const NUMBER: u8 = 6;
const NUMBER_WITH_FRACTION: u8 = 7;
static VALUE_START: [u8; 256] = byte_classes(&[
    (b"\"", STRING),
    (b"{", OBJECT),
    (b"[", ARRAY),
    (b"tf", TRUE_OR_FALSE),
    (b"n", NULL),
    (b"-0123456789", NUMBER),
]);

/// One (depth, key, kind of value) of a signature, exactly for keys of up to eight bytes (most
/// are: comparing two words is cheaper than hashing), hashed for longer ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeyId {
    word: u64,
    /// Depth, kind and length (0xff: longer than eight bytes, `word` is a hash).
    meta: u64,
}

impl KeyId {
    fn of(depth: u32, key: &[u8], kind: u8, hasher: &foldhash::fast::FixedState) -> KeyId {
        let (word, len) = if key.len() <= 8 {
            // Packed by hand: a copy of a variable length would be a call to memcpy.
            let word = key.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b));
            (word, key.len() as u64)
        } else {
            (hasher.hash_one(key), 0xff)
        };
        KeyId::packed(word, depth, kind, len)
    }

    /// A key's word with its depth, kind and length code.
    fn packed(word: u64, depth: u32, kind: u8, len: u64) -> KeyId {
        KeyId { word, meta: u64::from(depth) << 16 | u64::from(kind) << 8 | len }
    }

    /// [`KeyId::of`] for the key `body[open..close]`: a short key is read as one word when
    /// eight bytes follow its start, and the bytes past its end masked off.
    #[inline(always)]
    fn in_body(
        body: &[u8],
        open: usize,
        close: usize,
        depth: u32,
        kind: u8,
        hasher: &foldhash::fast::FixedState,
    ) -> KeyId {
        let len = close.saturating_sub(open);
        let word = body.get(open..open.saturating_add(8)).and_then(|w| <[u8; 8]>::try_from(w).ok());
        match word {
            Some(word) if len <= 8 => {
                // A shift of 64 (an empty key) keeps nothing.
                let keep = u32::try_from(8usize.saturating_sub(len).saturating_mul(8)).unwrap_or(64);
                let word = u64::from_le_bytes(word) & u64::MAX.checked_shr(keep).unwrap_or(0);
                KeyId::packed(word, depth, kind, len as u64)
            }
            _ => KeyId::of(depth, body.get(open..close).unwrap_or_default(), kind, hasher),
        }
    }

    /// The same key with the kind of its value left out.
    fn without_kind(self) -> KeyId {
        KeyId { meta: self.meta & !0xff00, ..self }
    }
}

/// A signature of a JSON body's structure: the set of (depth, key, kind of value) it holds, in
/// any order and any number of times, hashed. `None` for what does not look like a whole JSON
/// object or array (not JSON, cut short, unbalanced) or holds more than `MAX_SIGNATURE_KEYS`
/// distinct keys: such bodies are always analysed in full.
///
/// The body is read 64 bytes at a time into bit masks (`Block`) of its quotes, brackets and
/// colons, and the walk goes from one bracket or colon outside strings to the next: the bytes
/// inside strings are never looked at one by one. On a 1.9 KB answer of 23 records: 2.1 µs
/// reading every byte through a table, 1.65 µs visiting every quote, 1.45 µs now (best of 7,
/// release; most of what is left is mispredicted branches, about 8 a record).
fn signature(body: &[u8], hasher: &foldhash::fast::FixedState, keys: &mut BodyKeys) -> Option<u64> {
    keys.clear();
    let start = skip_space(body, 0);
    let top = body.get(start).copied();
    if !matches!(top, Some(b'{' | b'[')) {
        return None;
    }
    let mut depth = 0u32;
    let mut next = 0usize;
    // What carries from one block to the next: inside a string or not, the next byte escaped or
    // not, and where the last string opened and closed.
    let mut in_string = false;
    let mut escape = false;
    let mut last_open = None;
    let mut last_close = None;
    for (index, block) in body.chunks(64).enumerate() {
        let base = index.checked_mul(64)?;
        let Block { quotes, backslashes, opens, closes, colons } = Block::of(block);
        let quotes = quotes & !escaped(backslashes, &mut escape);
        // Bit i set from a string's opening quote up to (not with) its closing one.
        let mut inside = quotes;
        for shift in [1, 2, 4, 8, 16, 32] {
            inside ^= inside << shift;
        }
        if in_string {
            inside = !inside;
        }
        in_string = inside >> 63 == 1;
        let (opening_quotes, closing_quotes) = (quotes & inside, quotes & !inside);
        let brackets = (opens | closes) & !inside;
        // Only brackets and colons are visited: a colon outside a string follows a key, which
        // is the string closed last before it. (Visiting every quote cost twice as many steps,
        // most of them mispredicted.)
        let mut events = brackets | (colons & !inside);
        while events != 0 {
            let bit = events.trailing_zeros();
            events &= events.wrapping_sub(1);
            let one = 1u64 << bit;
            if brackets & one != 0 {
                depth = if opens & one != 0 { depth.saturating_add(1) } else { depth.checked_sub(1)? };
                continue;
            }
            let below = one.wrapping_sub(1);
            let at = |quotes: u64| base.checked_add(63usize.checked_sub(quotes.leading_zeros() as usize)?);
            let open = if opening_quotes & below != 0 { at(opening_quotes & below) } else { last_open };
            let close = if closing_quotes & below != 0 { at(closing_quotes & below) } else { last_close };
            let colon = base.checked_add(usize::try_from(bit).ok()?)?;
            // Anything but a key (and spaces) before a colon: not JSON, so no signature.
            let (open, close) = (open?, close?);
            if close < open || (close.saturating_add(1) != colon && skip_space(body, close.saturating_add(1)) != colon)
            {
                return None;
            }
            let id = key_at(body, open, close, colon, depth, hasher);
            // Records of an array repeat their keys in order: the key after the last one
            // found is the first guess.
            let at_next = keys.list.get_mut(next).filter(|(k, _)| *k == id);
            if let Some((_, count)) = at_next {
                *count = count.saturating_add(1);
                next = next.saturating_add(1);
            } else if let Some(i) = keys.position(id) {
                if let Some((_, count)) = keys.list.get_mut(i) {
                    *count = count.saturating_add(1);
                }
                next = i.saturating_add(1);
            } else {
                if keys.list.len() >= MAX_SIGNATURE_KEYS {
                    return None;
                }
                keys.push(id);
                next = keys.list.len();
            }
        }
        let last = |quotes: u64| base.checked_add(63usize.checked_sub(quotes.leading_zeros() as usize)?);
        if opening_quotes != 0 {
            last_open = last(opening_quotes);
        }
        if closing_quotes != 0 {
            last_close = last(closing_quotes);
        }
    }
    if depth != 0 || in_string {
        return None;
    }
    // Order-free: a sum of well-mixed hashes of distinct keys.
    Some(keys.list.iter().fold(hasher.hash_one(top), |acc, (k, _)| acc.wrapping_add(hasher.hash_one(k))))
}

/// The fuzzing checkers' check of record templates: a template learnt from any of `bodies`
/// signs any of them as the walk does (signature and key counts), or declines.
#[cfg(any(test, feature = "fuzzing"))]
#[allow(clippy::panic)]
pub(crate) fn check_record_templates(bodies: &[&[u8]]) {
    let hasher = ResponseSampler::default().hasher;
    let (mut walked, mut matched) = (BodyKeys::default(), BodyKeys::default());
    for learnt in bodies {
        let Some(learnt_signature) = signature(learnt, &hasher, &mut walked) else { continue };
        let Some(template) = RecordTemplate::learn(learnt, learnt_signature, &walked.list, &hasher) else { continue };
        for body in bodies {
            let Some(found) = template.signature(body, &mut matched) else { continue };
            let walk = signature(body, &hasher, &mut walked);
            if walk != Some(found) || walked.list != matched.list {
                panic!(
                    "template of {learnt:?} signs {body:?} as {found} {:?}, the walk {walk:?} {:?}",
                    matched.list, walked.list
                );
            }
        }
    }
}

/// Keys a scan finds among before an index is made.
const SCANNED_KEYS: usize = 16;

/// The distinct keys of the last body signed, in the order first met, with how often each
/// occurred. Records usually repeat their keys in order (the signature guesses the next one);
/// where they do not, a key is looked for by a scan while there are few, and through a hashed
/// index (randomly seeded) once there are more than `SCANNED_KEYS`: a wide body whose records
/// list 255 keys in a changing order took 12.5 ms a megabyte with scans of up to 256 keys, and
/// takes 1.9 ms with the index.
#[derive(Default)]
pub(crate) struct BodyKeys {
    list: Vec<(KeyId, u32)>,
    index: HashMap<KeyId, usize, foldhash::fast::RandomState>,
}

impl BodyKeys {
    fn clear(&mut self) {
        self.list.clear();
        self.index.clear();
    }

    fn position(&self, id: KeyId) -> Option<usize> {
        if self.list.len() <= SCANNED_KEYS {
            self.list.iter().position(|(k, _)| *k == id)
        } else {
            self.index.get(&id).copied()
        }
    }

    /// Sets the keys to `keys` (distinct, with their counts), as a record template counts them.
    /// The index is only the walk's, which starts afresh: it is emptied.
    fn set(&mut self, keys: impl Iterator<Item = (KeyId, u32)>) {
        self.clear();
        self.list.extend(keys);
    }

    fn push(&mut self, id: KeyId) {
        self.list.push((id, 1));
        let len = self.list.len();
        if len == SCANNED_KEYS.saturating_add(1) {
            self.index.extend(self.list.iter().enumerate().map(|(i, (k, _))| (*k, i)));
        } else if len > SCANNED_KEYS {
            self.index.insert(id, len.saturating_sub(1));
        }
    }
}

/// The id at `depth` of the key between the quotes at `open` and `close`, followed by a colon
/// at `colon`, with the kind of its value.
#[inline(always)]
fn key_at(
    body: &[u8],
    open: usize,
    close: usize,
    colon: usize,
    depth: u32,
    hasher: &foldhash::fast::FixedState,
) -> KeyId {
    // Compact JSON puts the value right after the colon.
    let mut value = colon.saturating_add(1);
    if body.get(value).is_some_and(u8::is_ascii_whitespace) {
        value = skip_space(body, value);
    }
    let kind = value_kind(body, value);
    KeyId::in_body(body, open.saturating_add(1), close, depth, kind, hasher)
}

/// One block of up to 64 bytes of a body, as masks: bit `i` of each for byte `i`.
struct Block {
    quotes: u64,
    backslashes: u64,
    /// `{` and `[`, and `}` and `]`.
    opens: u64,
    closes: u64,
    colons: u64,
}

impl Block {
    #[inline(always)]
    fn of(block: &[u8]) -> Block {
        match <&[u8; 64]>::try_from(block) {
            Ok(whole) => Block::of_64(whole),
            Err(_) => {
                // The body's last, short block: padded with zeros, which none of the masks hold.
                let mut whole = [0u8; 64];
                let (head, _) = whole.split_at_mut(block.len().min(64));
                head.copy_from_slice(block.get(..head.len()).unwrap_or_default());
                Block::of_64(&whole)
            }
        }
    }

    /// Sixteen bytes compared at once: vector compares and byte masks, through `wide`'s safe
    /// types.
    #[inline(always)]
    fn of_64(block: &[u8; 64]) -> Block {
        use wide::u8x16;
        // `{` and `[` differ only in bit 5, as `}` and `]` do: with it set, one compare each.
        let [quote, backslash, case, opening, closing, colon] = [b'"', b'\\', 0x20, b'{', b'}', b':'].map(u8x16::splat);
        let mut masks = Block { quotes: 0, backslashes: 0, opens: 0, closes: 0, colons: 0 };
        for (i, lanes) in block.chunks_exact(16).enumerate() {
            let lanes = u8x16::new(lanes.try_into().unwrap_or_default());
            let shift = u32::try_from(i.saturating_mul(16)).unwrap_or(0);
            let mask = |m: u8x16| u64::from(m.to_bitmask()) << shift;
            masks.quotes |= mask(lanes.simd_eq(quote));
            masks.backslashes |= mask(lanes.simd_eq(backslash));
            let folded = lanes | case;
            masks.opens |= mask(folded.simd_eq(opening));
            masks.closes |= mask(folded.simd_eq(closing));
            masks.colons |= mask(lanes.simd_eq(colon));
        }
        masks
    }
}

/// The bytes of a block escaped by a backslash (the first one when `escape` says the last block
/// ended with a backslash that escapes), and sets `escape` for the next block. Backslashes are
/// rare in API bodies: a block without any costs nothing.
#[inline(always)]
fn escaped(backslashes: u64, escape: &mut bool) -> u64 {
    let mut escaped = u64::from(*escape);
    *escape = false;
    // A backslash that is itself escaped escapes nothing.
    let mut rest = backslashes & !escaped;
    while rest != 0 {
        let bit = rest.trailing_zeros();
        match bit.checked_add(1).and_then(|next| 1u64.checked_shl(next).filter(|_| next < 64)) {
            Some(next) => {
                escaped |= next;
                rest &= !next;
            }
            None => *escape = true,
        }
        rest &= rest.wrapping_sub(1);
    }
    escaped
}

/// The key a finding's location ends at, as the signature names it whatever the kind of its
/// value: `response.json[].email` (under `place` `response.json`) is `email` at depth 2.
/// `None` for a location that does not end at a key (an array's items) or does not parse.
fn location_key(location: &str, place: &str, hasher: &foldhash::fast::FixedState) -> Option<KeyId> {
    let mut rest = location.strip_prefix(place)?;
    let mut depth = 0u32;
    let mut last = None;
    while !rest.is_empty() {
        depth = depth.checked_add(1)?;
        if let Some(after) = rest.strip_prefix("[]") {
            last = None;
            rest = after;
        } else {
            let name = rest.strip_prefix('.')?;
            let end = name.find(['.', '[']).unwrap_or(name.len());
            last = Some(name.get(..end)?);
            rest = name.get(end..)?;
        }
    }
    Some(KeyId::of(depth, last?.as_bytes(), 0, hasher).without_kind())
}

/// How often the key `id` (of any value kind) occurred in the body `keys` were counted from.
fn occurrences(keys: &[(KeyId, u32)], id: KeyId) -> u32 {
    keys.iter().filter(|(k, _)| k.without_kind() == id).fold(0u32, |n, (_, c)| n.saturating_add(*c))
}

/// A settled signature's findings for a new body of it: each count scaled by how often its key
/// occurs in this body against the body it was learnt from (exact when every value of the key
/// held the class, as an e-mail field does), at least one, at most the occurrences.
fn scaled<'f>(facts: &'f AnswerFacts, keys: &'f [(KeyId, u32)]) -> impl Iterator<Item = Finding> + 'f {
    facts.findings.iter().enumerate().map(|(i, f)| {
        let mut f = f.clone();
        if let Some(Some((id, learnt))) = facts.keyed.get(i) {
            let now = occurrences(keys, *id);
            let estimate = u64::from(f.count).saturating_mul(u64::from(now)).checked_div(u64::from(*learnt));
            if let Some(estimate) = estimate.filter(|_| now > 0) {
                f.count = u32::try_from(estimate).unwrap_or(u32::MAX).clamp(1, now);
            }
        }
        f
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects, clippy::indexing_slicing)]
    use super::*;
    use crate::catalog::TransactionFacts;
    use crate::sensitive::MaskKey;

    fn answer(path: &str, status: u16, body: &str) -> Observation {
        crate::test_values::answered(path, status, "application/json", body)
    }

    /// Runs `obs` through the sampler; true when its body was analysed in full.
    fn analysed(sampler: &mut ResponseSampler, obs: &Observation) -> bool {
        let before = sampler.counts().0;
        TransactionFacts::sampled(obs, &MaskKey::default(), sampler);
        sampler.counts().0 > before
    }

    #[test]
    fn a_route_keeps_a_record_template_while_its_answers_fit_it() {
        let mut s = ResponseSampler::default();
        let users = |i: u32| answer("/users", 200, &format!(r#"[{{"id":{i},"name":"u{i}"}},{{"id":1,"name":"x"}}]"#));
        let emails = |i: u32| answer("/users", 200, &format!(r#"[{{"id":{i},"email":"u{i}@x.io"}}]"#));
        let template = |s: &ResponseSampler| {
            let memory = s.routes.values().next().unwrap();
            (memory.template.is_some(), memory.template_misses)
        };
        // Learnt from the first answer, and every later one of its records fits it.
        analysed(&mut s, &users(0));
        assert_eq!(template(&s), (true, 0));
        for i in 1..200 {
            analysed(&mut s, &users(i));
        }
        assert_eq!(template(&s), (true, 0));
        // Answers of another record: walked, and after `TEMPLATE_MISSES` in a row the template
        // is dropped; the next answer teaches one of the new record.
        for i in 0..TEMPLATE_MISSES {
            assert_eq!(template(&s), (true, i));
            analysed(&mut s, &emails(i));
        }
        assert_eq!(template(&s), (false, 0));
        analysed(&mut s, &emails(100));
        assert_eq!(template(&s), (true, 0));
        analysed(&mut s, &emails(101));
        assert_eq!(template(&s), (true, 0), "the new template signs the new answers");
        // Reused answers count what this body holds, as the walk counts it.
        let mut walked = BodyKeys::default();
        let body = br#"[{"id":1,"email":"a@b.io"},{"id":2,"email":"c@d.io"},{"id":3,"email":"e@f.io"}]"#;
        let expected = signature(body, &s.hasher, &mut walked);
        let memory = s.routes.values().next().unwrap();
        assert_eq!(memory.template.as_ref().unwrap().signature(body, &mut s.keys), expected);
        assert_eq!(s.keys.list, walked.list);
        assert!(s.keys.list.iter().all(|(_, n)| *n == 3));
    }

    #[test]
    fn a_route_keeps_an_envelope_template_whatever_the_number_of_records() {
        let mut s = ResponseSampler::default();
        let page = |n: u32| {
            let records: Vec<String> = (0..n).map(|i| format!(r#"{{"id":{i},"email":"u{i}@x.io"}}"#)).collect();
            format!(r#"{{"total":{n},"data":[{}],"next":null}}"#, records.join(","))
        };
        let template = |s: &ResponseSampler| {
            let memory = s.routes.values().next().unwrap();
            (memory.template.is_some(), memory.template_misses)
        };
        analysed(&mut s, &answer("/orders", 200, &page(3)));
        assert_eq!(template(&s), (true, 0));
        for n in 1..60 {
            analysed(&mut s, &answer("/orders", 200, &page(n)));
            assert_eq!(template(&s), (true, 0), "{n} records");
        }
        // An answer of the template counts the envelope's keys once and the records' keys once
        // a record, as the walk does.
        let body = page(7);
        let mut walked = BodyKeys::default();
        let expected = signature(body.as_bytes(), &s.hasher, &mut walked);
        let memory = s.routes.values().next().unwrap();
        assert_eq!(memory.template.as_ref().unwrap().signature(body.as_bytes(), &mut s.keys), expected);
        assert_eq!(s.keys.list, walked.list);
        let mut counts: Vec<u32> = s.keys.list.iter().map(|(_, n)| *n).collect();
        counts.sort();
        assert_eq!(counts, [1, 1, 1, 7, 7]);
        // An empty page is not the template's (it has no record keys): walked.
        analysed(&mut s, &answer("/orders", 200, &page(0)));
        assert_eq!(template(&s), (true, 1));
    }

    /// A signature worked out the slow way, from the parsed document: the keys at their depths
    /// with the kinds of their values (the number's text tells integer from fraction).
    fn parsed_signature(text: &str) -> Option<u64> {
        fn walk(value: &serde_json::Value, depth: u32, h: &foldhash::fast::FixedState, keys: &mut Vec<KeyId>) {
            use serde_json::Value;
            let kind = |v: &Value| match v {
                Value::String(_) => STRING,
                Value::Object(_) => OBJECT,
                Value::Array(_) => ARRAY,
                Value::Bool(_) => TRUE_OR_FALSE,
                Value::Null => NULL,
                Value::Number(n) if n.is_f64() => NUMBER_WITH_FRACTION,
                Value::Number(_) => NUMBER,
            };
            match value {
                Value::Object(map) => {
                    for (key, v) in map {
                        let id = KeyId::of(depth + 1, key.as_bytes(), kind(v), h);
                        if !keys.contains(&id) {
                            keys.push(id);
                        }
                        walk(v, depth + 1, h, keys);
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, depth + 1, h, keys)),
                _ => {}
            }
        }
        let h = ResponseSampler::default().hasher;
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let top = text.trim_start().bytes().next();
        let mut keys = Vec::new();
        walk(&value, 0, &h, &mut keys);
        Some(keys.iter().fold(h.hash_one(top), |acc, k| acc.wrapping_add(h.hash_one(k))))
    }

    #[test]
    fn signatures_read_by_blocks_are_the_signatures_of_the_parsed_documents() {
        // Strings full of what a block's masks look for (quotes, runs of backslashes,
        // brackets), at every offset against the 64-byte blocks, in documents of every depth.
        let mut rng = apisonar_testkit::workload::Rng::seeded(0x9e37_79b9_7f4a_7c15);
        let mut random = move |n: u64| rng.below(n);
        let pieces = ["\\\\", "\\\"", "{", "]", "[", "}", "é", ":", ",", "a", " ", "\\n", "\\u00e9"];
        fn value(random: &mut dyn FnMut(u64) -> u64, pieces: &[&str], depth: u32) -> String {
            match random(if depth > 3 { 4 } else { 6 }) {
                0 => {
                    let text: String = (0..random(40)).map(|_| pieces[random(pieces.len() as u64) as usize]).collect();
                    format!("\"{text}\"")
                }
                1 => ["1", "-20", "3.5", "2e3", "0.25E-2"][random(5) as usize].to_string(),
                2 => ["true", "false", "null"][random(3) as usize].to_string(),
                3 => format!("\"{}\"", "x".repeat(random(70) as usize)),
                4 => {
                    let n = random(4);
                    let items: Vec<String> = (0..n).map(|_| value(random, pieces, depth + 1)).collect();
                    format!("[{}]", items.join(if random(2) == 0 { "," } else { " ,\n " }))
                }
                _ => {
                    // Distinct keys: a parsed object keeps only the last of two equal ones.
                    let (n, first) = (random(5), random(7));
                    let fields: Vec<String> = (0..n)
                        .map(|i| {
                            let key = [
                                "id",
                                "name",
                                "a{b",
                                "a]b",
                                "email_address_of_user",
                                "k",
                                "",
                                "a_key_longer_than_a_block_of_sixty_four_bytes_so_that_it_spans_two_or_three_of_them",
                            ][((first + i) % 8) as usize];
                            let gap = [":", " : ", ":\t"][random(3) as usize];
                            format!("\"{key}\"{gap}{}", value(random, pieces, depth + 1))
                        })
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }
            }
        }
        let (mut checked, mut cuts) = (0, 0);
        for _ in 0..4000 {
            let pad = " ".repeat(random(64) as usize);
            let doc = format!("{pad}{}", value(&mut random, &pieces, 0));
            let Some(expected) = parsed_signature(&doc) else { continue };
            if !matches!(doc.trim_start().bytes().next(), Some(b'{' | b'[')) {
                continue;
            }
            assert_eq!(sig(&doc), Some(expected), "{doc}");
            checked += 1;
            // Cut short anywhere inside, the document is not whole.
            let cut = random(doc.trim_end().len() as u64) as usize;
            if let Some(part) = doc.get(..cut).filter(|p| serde_json::from_str::<serde_json::Value>(p).is_err()) {
                if part.trim_start().len() > 1 && (part.matches('"').count() % 2 == 1 || part.ends_with('[')) {
                    assert_eq!(sig(part), None, "{part}");
                    cuts += 1;
                }
            }
        }
        assert!(checked > 1000 && cuts > 300, "{checked} {cuts}");
    }

    #[test]
    fn wide_records_in_changing_key_orders_are_counted_through_the_index() {
        // 40 keys (past the scanned few): five records each listing them in another order.
        let record = |rotate: usize, step: usize| {
            let fields: Vec<String> = (0..40).map(|i| format!("\"k{}\":{i}", (i * step + rotate) % 40)).collect();
            format!("{{{}}}", fields.join(","))
        };
        let shuffled: Vec<String> =
            [(0, 1), (3, 7), (11, 3), (5, 9), (7, 11)].iter().map(|&(r, s)| record(r, s)).collect();
        let ordered: Vec<String> = (0..5).map(|_| record(0, 1)).collect();
        let h = ResponseSampler::default().hasher;
        let (mut a, mut b) = (BodyKeys::default(), BodyKeys::default());
        let sa = signature(format!("[{}]", shuffled.join(",")).as_bytes(), &h, &mut a);
        let sb = signature(format!("[{}]", ordered.join(",")).as_bytes(), &h, &mut b);
        assert!(sa.is_some());
        assert_eq!(sa, sb);
        assert_eq!(a.list.len(), 40);
        assert!(a.list.iter().all(|(_, n)| *n == 5), "{:?}", a.list);
        assert_eq!(a.index.len(), 40);
        // A narrow body needs no index.
        let mut c = BodyKeys::default();
        signature(br#"[{"a":1,"b":2},{"b":3,"a":4}]"#, &h, &mut c).unwrap();
        assert!(c.index.is_empty() && c.list.iter().all(|(_, n)| *n == 2));
    }

    #[test]
    fn escapes_carry_from_one_block_to_the_next() {
        let mut escape = false;
        // Backslashes at 0 and 1: the second is escaped, so it escapes nothing.
        assert_eq!(escaped(0b11, &mut escape), 0b10);
        assert!(!escape);
        assert_eq!(escaped(0b0111, &mut escape), 0b1010);
        // The last byte's backslash escapes the next block's first.
        assert_eq!(escaped(1 << 63, &mut escape), 0);
        assert!(escape);
        assert_eq!(escaped(0b1, &mut escape), 0b1);
        assert!(!escape);
        // A string that ends with an escaped backslash right at the block's end.
        let text = format!("{{\"k\":\"{}\\\\\",\"z\":1}}", "x".repeat(56));
        assert_eq!(text.find("\\\\"), Some(62));
        assert_eq!(sig(&text), parsed_signature(&text));
        assert!(sig(&text).is_some());
        let text = format!("{{\"k\":\"{}\\\"\",\"z\":1}}", "x".repeat(56));
        assert_eq!(sig(&text), parsed_signature(&text));
    }

    #[test]
    fn answers_settle_then_are_audited_and_anything_new_is_analysed_in_full() {
        let mut s = ResponseSampler::default();
        let body = |i: u32| format!(r#"{{"id":{i},"email":"user{i}@example.com"}}"#);
        // Learning: the first SETTLE_AFTER answers of a shape, on any value of the route.
        for i in 0..SETTLE_AFTER {
            assert!(analysed(&mut s, &answer(&format!("/users/{i}"), 200, &body(i))));
        }
        // Settled: reused, with what the full analyses found (the e-mail finding).
        let facts = TransactionFacts::sampled(&answer("/users/99", 200, &body(99)), &MaskKey::default(), &mut s);
        assert!(facts.resp_schema.is_none() && !facts.resp_learning);
        assert!(facts.findings.iter().any(|f| &*f.location == "response.json.email"));
        // Audits: AUDIT_EVERY answers after settling, then the gap doubles after each audit
        // that agrees, up to MAX_AUDIT_GAP.
        let mut audits = Vec::new();
        for answer_number in u64::from(SETTLE_AFTER) + 2..=3200 {
            if analysed(&mut s, &answer(&format!("/users/{answer_number}"), 200, &body(1))) {
                audits.push(answer_number);
            }
        }
        assert_eq!(audits, [128, 192, 320, 576, 1088, 2112, 3136]);
        assert_eq!(audits.windows(2).map(|w| w[1] - w[0]).max(), Some(MAX_AUDIT_GAP));
        // A new key, a value of another kind, another status, another route: in full.
        assert!(analysed(&mut s, &answer("/users/5", 200, r#"{"id":5,"email":"a@b.c","ssn":"x"}"#)));
        assert!(analysed(&mut s, &answer("/users/5", 200, r#"{"id":"5","email":"a@b.c"}"#)));
        assert!(analysed(&mut s, &answer("/users/5", 404, &body(5))));
        assert!(analysed(&mut s, &answer("/orders/5", 200, &body(5))));
        assert!(!analysed(&mut s, &answer("/users/6", 200, &body(6))));
    }

    #[test]
    fn an_audit_that_finds_something_else_reopens_learning() {
        let mut s = ResponseSampler::default();
        let plain = r#"{"id":1,"note":"hello there"}"#;
        for _ in 0..SETTLE_AFTER {
            analysed(&mut s, &answer("/notes/1", 200, plain));
        }
        assert!(!analysed(&mut s, &answer("/notes/1", 200, plain)));
        // Same keys and kinds, but the note now holds a card number: the next audit sees it.
        let card = r#"{"id":1,"note":"4111 1111 1111 1111"}"#;
        let mut audits = 0;
        while !analysed(&mut s, &answer("/notes/1", 200, card)) {
            audits += 1;
            assert!(audits <= AUDIT_EVERY);
        }
        // Learning again: every answer of that shape in full until it settles anew.
        for _ in 0..SETTLE_AFTER - 1 {
            assert!(analysed(&mut s, &answer("/notes/1", 200, card)));
        }
        // And audits are frequent again: the gap is back to AUDIT_EVERY.
        let mut since = 0;
        while !analysed(&mut s, &answer("/notes/1", 200, card)) {
            since += 1;
        }
        assert!(since < AUDIT_EVERY, "{since}");
    }

    #[test]
    fn request_schemas_are_sampled_per_route_but_every_body_is_searched() {
        let mut s = ResponseSampler::default();
        let post = |i: u32| {
            let mut o = answer(&format!("/orders/{i}"), 201, "{}");
            o.method = "POST".into();
            o.request_headers = [("content-type", "application/json")].into();
            o.request_body = format!(r#"{{"id":{i},"email":"u{i}@example.com"}}"#).into_bytes();
            o
        };
        let mut with_schema = Vec::new();
        for i in 1..=200u32 {
            let facts = TransactionFacts::sampled(&post(i), &MaskKey::default(), &mut s);
            assert!(facts.req_sampled);
            assert!(facts.findings.iter().any(|f| &*f.location == "request.json.email"), "body {i} searched");
            if facts.req_schema.is_some() {
                with_schema.push(u64::from(i));
            }
        }
        let expected: Vec<u64> =
            (1..=200).filter(|i| *i <= REQUEST_SCHEMAS_IN_FULL || i % REQUEST_SCHEMA_EVERY == 0).collect();
        assert_eq!(with_schema, expected);
        // Another route learns on its own; without a sampler every body gets its schema.
        let mut other = post(1);
        other.target = "/carts/1".into();
        assert!(TransactionFacts::sampled(&other, &MaskKey::default(), &mut s).req_schema.is_some());
        let unsampled = TransactionFacts::new(&post(500), &MaskKey::default());
        assert!(unsampled.req_schema.is_some() && !unsampled.req_sampled);
    }

    #[test]
    fn routes_fold_values_and_keep_words_hosts_methods_and_segment_bounds_apart() {
        let s = ResponseSampler::default();
        let route = |host: &str, method: &str, target: &str| {
            let mut obs = answer(target, 200, "{}");
            obs.host = Some(host.into());
            obs.method = method.into();
            s.path_route(&obs)
        };
        let users = route("api.test", "GET", "/users/17");
        // Values fold; empty segments, the query and the fragment are not part of a route.
        for same in ["/users/18", "/users/0a3f5c1e-7b2d-4c9a-8e6f-1d2c3b4a5f60", "//users//17/", "/users/17?x=1#f"] {
            assert_eq!(route("api.test", "GET", same), users, "{same}");
        }
        // Words, segment bounds, depth, host and method each make another route.
        let others = [
            route("api.test", "GET", "/users/me"),
            route("api.test", "GET", "/users"),
            route("api.test", "GET", "/users/17/orders"),
            route("api.test", "GET", "/us/ers/17"),
            route("api.test", "GET", "/usersx/17"),
            route("api.test", "POST", "/users/17"),
            route("api2.test", "GET", "/users/17"),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(*other, users, "route {i}");
            assert!(others.iter().skip(i + 1).all(|o| o != other), "route {i}");
        }
        assert_ne!(route("api.test", "GET", "/ab/c"), route("api.test", "GET", "/a/bc"));
    }

    #[test]
    fn locations_name_the_key_and_depth_the_signature_counted() {
        let h = ResponseSampler::default().hasher;
        let key = |loc: &str| location_key(loc, "response.json", &h);
        let id = |depth: u32, name: &str| Some(KeyId::of(depth, name.as_bytes(), 0, &h).without_kind());
        assert_eq!(key("response.json[].email"), id(2, "email"));
        assert_eq!(key("response.json.user.email"), id(2, "email"));
        assert_eq!(key("response.json.email"), id(1, "email"));
        assert_eq!(key("response.json.data[].contact_address"), id(3, "contact_address"));
        for none in
            ["response.json.tags[]", "response.json", "request.json.email", "response.json.a[", "response.jsonx"]
        {
            assert_eq!(key(none), None, "{none}");
        }
        // The signature counts the same key: two e-mails at depth 2, one at depth 1.
        let mut keys = BodyKeys::default();
        signature(br#"{"email":"a@b.c","l":[{"email":"x@y.z"},{"email":"p@q.r"}]}"#, &h, &mut keys).unwrap();
        assert_eq!(occurrences(&keys.list, key("response.json.l[].email").unwrap()), 2);
        assert_eq!(occurrences(&keys.list, key("response.json.email").unwrap()), 1);
    }

    #[test]
    fn reused_answers_count_their_own_sensitive_values() {
        let mut s = ResponseSampler::default();
        // Every e-mail field holds an e-mail; one note in two holds a card number.
        let body = |n: usize| {
            let rows: Vec<String> = (0..n)
                .map(|i| {
                    let note = if i % 2 == 0 { "4111 1111 1111 1111" } else { "call back later" };
                    format!(r#"{{"email":"u{i}@example.com","note":"{note}"}}"#)
                })
                .collect();
            format!("[{}]", rows.join(","))
        };
        let count = |facts: &TransactionFacts, class: crate::sensitive::Class| {
            facts.findings.iter().filter(|f| f.class == class).map(|f| f.count).sum::<u32>()
        };
        for _ in 0..SETTLE_AFTER {
            analysed(&mut s, &answer("/rows", 200, &body(4)));
        }
        for n in [1, 6, 30] {
            let facts = TransactionFacts::sampled(&answer("/rows", 200, &body(n)), &MaskKey::default(), &mut s);
            assert!(facts.resp_schema.is_none(), "reused");
            assert_eq!(count(&facts, crate::sensitive::Class::Email), n as u32);
            // Learnt from 2 cards in 4 notes: half of this body's notes, at least one.
            assert_eq!(count(&facts, crate::sensitive::Class::CardNumber), (n as u32 / 2).max(1));
        }
    }

    #[test]
    fn memory_is_bounded_by_routes_and_signatures() {
        let mut s = ResponseSampler::default();
        for i in 0..MAX_ROUTES + 10 {
            analysed(&mut s, &answer(&format!("/r{i}/x"), 200, r#"{"a":1}"#));
            assert!(s.routes.len() <= MAX_ROUTES);
        }
        for i in 0..40 {
            analysed(&mut s, &answer("/one", 200, &format!(r#"{{"k{i}":1}}"#)));
        }
        assert!(s.routes.values().all(|r| r.known.len() <= MAX_SIGNATURES));
        for route in 0..MAX_ROUTES as u64 + 10 {
            assert!(s.request_schema_wanted(route, None));
            assert!(s.requests.len() <= MAX_ROUTES);
        }
    }

    fn sig(body: &str) -> Option<u64> {
        signature(body.as_bytes(), &ResponseSampler::default().hasher, &mut BodyKeys::default())
    }

    #[test]
    fn keys_read_from_the_body_are_the_keys_packed_by_hand() {
        let h = ResponseSampler::default().hasher;
        let body = b"abcdefghijklmnopqrstu";
        for open in 0..body.len() {
            for close in open..=body.len() {
                let key = &body[open..close];
                assert_eq!(KeyId::in_body(body, open, close, 3, 1, &h), KeyId::of(3, key, 1, &h), "{open}..{close}");
            }
        }
    }

    #[test]
    fn signatures_see_keys_depths_and_value_kinds_not_values_order_or_repeats() {
        let a = sig(r#"[{"id":1,"name":"ann","tags":["x"]},{"id":2,"name":"bob","tags":[]}]"#);
        assert!(a.is_some());
        assert_eq!(a, sig(r#"[ {"name": "c\"d", "id": 3, "tags": ["y","z"]} ]"#));
        // A new key, another value kind, another depth, another top-level type.
        assert_ne!(a, sig(r#"[{"id":1,"name":"ann","tags":["x"],"email":"a@b.c"}]"#));
        assert_ne!(a, sig(r#"[{"id":1.5,"name":"ann","tags":["x"]}]"#));
        assert_ne!(a, sig(r#"[{"id":1,"name":null,"tags":["x"]}]"#));
        assert_ne!(a, sig(r#"[{"id":1,"x":{"name":"ann"},"tags":["x"]}]"#));
        assert_ne!(sig(r#"{"id":1}"#), sig(r#"[{"id":1}]"#));
        // Not a whole JSON document: analysed in full.
        for bad in ["", "hello", r#"{"id":1"#, r#"{"a":"unterminated}"#, "]", r#"{"a":1}}"#] {
            assert_eq!(sig(bad), None, "{bad}");
        }
        let wide: String = (0..300).map(|i| format!("\"k{i}\":1")).collect::<Vec<_>>().join(",");
        assert_eq!(sig(&format!("{{{wide}}}")), None);
    }
}
