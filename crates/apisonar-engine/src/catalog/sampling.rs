//! Sampled response-body analysis, for the flow workers. Parsing a JSON answer, inferring its
//! schema and classifying every value is most of a transaction's cost, and an API answers the
//! same shape over and over. So each worker remembers, per route (host, method, path with its
//! value-like segments folded, status and content type), the answers it analysed in full, keyed
//! by a cheap signature of the body (every key, at its depth, with the kind of its value: one
//! pass over the bytes, no parsing, no allocation). Once one signature's full analyses have
//! found the same facts (shape, schema structure and formats, sensitive classes and locations)
//! `SETTLE_AFTER` times in a row, its further bodies reuse those facts and are not parsed,
//! except one in `AUDIT_EVERY`, which is analysed in full and re-opens learning if anything
//! differs. A new key, a key whose value changes kind, a new status or content type is a new
//! signature or route, analysed in full. Requests, headers and query strings are always
//! analysed in full (credentials in cleartext are counted exactly), and every request is still
//! templated, counted and checked for injection and abuse.
//!
//! What this gives up: a value of a settled field that changes sensitive class or string format
//! without any key changing is found at the next audit, not at once; a reused answer carries the
//! masks and per-message counts of the last one analysed.

use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::observation::Observation;
use crate::segment;
use crate::sensitive::Finding;
use crate::template::Shape;

/// Full analyses of one signature that must agree before its bodies are sampled: as many as the
/// catalog merges in full for a new endpoint, so a capture with fewer answers per shape is
/// analysed exactly as without sampling.
const SETTLE_AFTER: u32 = 64;
/// Once settled, one body in this many (per route) is still analysed in full.
const AUDIT_EVERY: u64 = 64;
/// Request bodies per route whose schema is always inferred, and then one in how many (the
/// catalog's own schema sampling: `SCHEMA_FULL_SAMPLES`, `SCHEMA_SAMPLE_EVERY`).
const REQUEST_SCHEMAS_IN_FULL: u64 = super::SCHEMA_FULL_SAMPLES;
const REQUEST_SCHEMA_EVERY: u64 = super::SCHEMA_SAMPLE_EVERY;
/// Routes one sampler remembers; past this it forgets them all and learns again.
const MAX_ROUTES: usize = 4096;
/// Signatures remembered per route (the oldest is forgotten).
const MAX_SIGNATURES: usize = 8;
/// Distinct keys a signature tells apart: a wider body is always analysed in full.
const MAX_SIGNATURE_KEYS: usize = 256;

/// What a full analysis of a response body found that a reused answer repeats.
#[derive(Clone, Debug, Default)]
pub(crate) struct AnswerFacts {
    pub(crate) shape: Option<Shape>,
    pub(crate) findings: Vec<Finding>,
    /// Shape, schema structure and formats, and sensitive classes and locations, hashed: two
    /// analyses "agree" when this is equal.
    pub(crate) summary: u64,
}

struct Known {
    signature: u64,
    agreed: u32,
    facts: AnswerFacts,
}

#[derive(Default)]
struct RouteMemory {
    answers: u64,
    known: Vec<Known>,
}

/// How to analyse one response body.
pub(crate) enum Plan<'a> {
    /// In full; then tell the sampler what was found (`learn`) under this ticket, if any.
    Analyse(Option<Ticket>),
    /// Reuse these facts: the body is not parsed.
    Reuse(&'a AnswerFacts),
}

/// Where a full analysis's facts are to be remembered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    route: u64,
    signature: u64,
}

/// One flow worker's memory of the answers it has analysed (see the module comment).
pub struct ResponseSampler {
    /// Header fields found clean (the worker's other memory: headers repeat like answers).
    pub(crate) clean_fields: crate::sensitive::CleanFields,
    /// GraphQL documents parsed (the worker's third memory: clients repeat their documents).
    pub(crate) documents: crate::operations::DocumentCache,
    routes: HashMap<u64, RouteMemory>,
    /// Request bodies seen per route and content type (`request_schema_wanted`).
    requests: HashMap<u64, u64>,
    hasher: foldhash::fast::FixedState,
    keys: Vec<KeyId>,
    analysed: u64,
    reused: u64,
}

impl Default for ResponseSampler {
    fn default() -> Self {
        ResponseSampler {
            clean_fields: crate::sensitive::CleanFields::default(),
            documents: crate::operations::DocumentCache::default(),
            routes: HashMap::new(),
            requests: HashMap::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x5eed_a9a1_7515_0001),
            keys: Vec::with_capacity(64),
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
    /// `path_route` is the request's (see `path_route`).
    pub(crate) fn plan(&mut self, obs: &Observation, path_route: u64, content_type: Option<&str>) -> Plan<'_> {
        let Some(response) = obs.response.as_ref() else { return Plan::Analyse(None) };
        let Some(signature) = signature(&response.body, &self.hasher, &mut self.keys) else {
            self.analysed = self.analysed.saturating_add(1);
            return Plan::Analyse(None);
        };
        let route = self.hasher.hash_one((path_route, response.status, content_type));
        if !self.routes.contains_key(&route) && self.routes.len() >= MAX_ROUTES {
            self.routes.clear();
        }
        let memory = self.routes.entry(route).or_default();
        memory.answers = memory.answers.wrapping_add(1);
        let audit = memory.answers.is_multiple_of(AUDIT_EVERY);
        let ticket = Ticket { route, signature };
        match memory.known.iter().find(|k| k.signature == signature) {
            Some(known) if known.agreed >= SETTLE_AFTER && !audit => {
                self.reused = self.reused.saturating_add(1);
                Plan::Reuse(&known.facts)
            }
            _ => {
                self.analysed = self.analysed.saturating_add(1);
                Plan::Analyse(Some(ticket))
            }
        }
    }

    /// Remembers what a full analysis under `ticket` found.
    pub(crate) fn learn(&mut self, ticket: Ticket, facts: AnswerFacts) {
        let Some(memory) = self.routes.get_mut(&ticket.route) else { return };
        match memory.known.iter_mut().find(|k| k.signature == ticket.signature) {
            Some(known) if known.facts.summary == facts.summary => {
                known.agreed = known.agreed.saturating_add(1);
                known.facts = facts;
            }
            Some(known) => {
                known.agreed = 1;
                known.facts = facts;
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
        let mut h = self.hasher.hash_one((obs.host.as_deref(), obs.method.as_str()));
        let path = obs.target.split(['?', '#']).next().unwrap_or_default();
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            let part = if segment::classify(seg).is_value() { "{}" } else { seg };
            h = self.hasher.hash_one((h, part));
        }
        h
    }
}

/// Kinds of JSON values, as a signature tells them apart, and where the value's token ends when
/// the signature can step over it at once (a number or a literal).
#[inline(always)]
fn value_kind(body: &[u8], at: usize) -> (u8, Option<usize>) {
    match body.get(at) {
        Some(b'"') => (1, None),
        Some(b'{') => (2, None),
        Some(b'[') => (3, None),
        Some(b't' | b'f' | b'n') => {
            let kind = if body.get(at) == Some(&b'n') { 5 } else { 4 };
            let token = body.get(at..).unwrap_or_default();
            let len = token.iter().position(|b| !b.is_ascii_lowercase()).unwrap_or(token.len());
            (kind, at.checked_add(len))
        }
        Some(b'-' | b'0'..=b'9') => {
            // Integer or not: schemas tell them apart.
            let token = body.get(at..).unwrap_or_default();
            let mut fraction = false;
            let len = token
                .iter()
                .position(|&b| match b {
                    b'.' | b'e' | b'E' => {
                        fraction = true;
                        false
                    }
                    b'-' | b'+' | b'0'..=b'9' => false,
                    _ => true,
                })
                .unwrap_or(token.len());
            (if fraction { 7 } else { 6 }, at.checked_add(len))
        }
        _ => (0, None),
    }
}

fn skip_space(body: &[u8], mut at: usize) -> usize {
    while body.get(at).is_some_and(u8::is_ascii_whitespace) {
        at = at.saturating_add(1);
    }
    at
}

/// The bytes a signature stops at: quotes and brackets. Everything else between them (spaces,
/// separators, numbers and literals) is stepped over in one tight loop.
// Indexes evaluated at compile time: one out of bounds would not compile.
#[allow(clippy::indexing_slicing)]
static STRUCTURAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'{' as usize] = true;
    table[b'}' as usize] = true;
    table[b'[' as usize] = true;
    table[b']' as usize] = true;
    table
};

/// One (depth, key, kind of value) of a signature, exactly for keys of up to eight bytes (most
/// are: comparing two words is cheaper than hashing), hashed for longer ones.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
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
        KeyId { word, meta: u64::from(depth) << 16 | u64::from(kind) << 8 | len }
    }
}

/// A signature of a JSON body's structure: the set of (depth, key, kind of value) it holds, in
/// any order and any number of times, hashed. `None` for what does not look like a whole JSON
/// object or array (not JSON, cut short, unbalanced) or holds more than `MAX_SIGNATURE_KEYS`
/// distinct keys: such bodies are always analysed in full.
fn signature(body: &[u8], hasher: &foldhash::fast::FixedState, keys: &mut Vec<KeyId>) -> Option<u64> {
    keys.clear();
    let start = skip_space(body, 0);
    let top = body.get(start).copied();
    if !matches!(top, Some(b'{' | b'[')) {
        return None;
    }
    let mut depth = 0u32;
    let mut at = start;
    let mut next = 0usize;
    loop {
        let rest = body.get(at..).unwrap_or_default();
        let Some(step) = rest.iter().position(|&b| STRUCTURAL.get(usize::from(b)).copied().unwrap_or(false)) else {
            break;
        };
        at = at.checked_add(step)?;
        match body.get(at) {
            Some(b'"') => {
                let open = at.saturating_add(1);
                let close = string_end(body, open)?;
                let after = skip_space(body, close.saturating_add(1));
                if body.get(after) == Some(&b':') {
                    let value = skip_space(body, after.saturating_add(1));
                    let key = body.get(open..close).unwrap_or_default();
                    let (kind, token_end) = value_kind(body, value);
                    let id = KeyId::of(depth, key, kind, hasher);
                    // Records of an array repeat their keys in order: the key after the last
                    // one found is the first guess.
                    if keys.get(next) == Some(&id) {
                        next = next.saturating_add(1);
                    } else if let Some(i) = keys.iter().position(|k| *k == id) {
                        next = i.saturating_add(1);
                    } else {
                        if keys.len() >= MAX_SIGNATURE_KEYS {
                            return None;
                        }
                        keys.push(id);
                        next = keys.len();
                    }
                    at = token_end.unwrap_or(value);
                } else {
                    at = after;
                }
            }
            Some(b'{' | b'[') => {
                depth = depth.saturating_add(1);
                at = at.saturating_add(1);
            }
            _ => {
                depth = depth.checked_sub(1)?;
                at = at.saturating_add(1);
            }
        }
    }
    if depth != 0 {
        return None;
    }
    // Order-free: a sum of well-mixed hashes of distinct keys.
    Some(keys.iter().fold(hasher.hash_one(top), |acc, k| acc.wrapping_add(hasher.hash_one(k))))
}

/// The index of the quote closing a string whose contents start at `from`.
fn string_end(body: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let rest = body.get(at..)?;
        let index = at.checked_add(quote_or_backslash(rest)?)?;
        if body.get(index) == Some(&b'"') {
            return Some(index);
        }
        // A backslash escapes the next byte.
        at = index.checked_add(2)?;
    }
}

/// The first quote or backslash in `bytes`. Most strings are short keys and values: eight bytes
/// at a time in a word finds their end before memchr would have set up; a string still open
/// after 32 bytes is left to memchr.
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Bytes of `w` equal to `b` get their high bit set (and only bytes above such a byte can be
    // set wrongly, so the lowest set bit is exact).
    let equal = |w: u64, b: u8| {
        let x = w ^ ONES.wrapping_mul(u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    const WORDS: usize = 4;
    for (i, chunk) in bytes.chunks_exact(8).take(WORDS).enumerate() {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let hits = equal(w, b'"') | equal(w, b'\\');
        if hits != 0 {
            return i.checked_mul(8)?.checked_add(usize::try_from(hits.trailing_zeros() / 8).ok()?);
        }
    }
    let words = (bytes.len() / 8).min(WORDS);
    let seen = words.saturating_mul(8);
    let tail = bytes.get(seen..)?;
    let found = if words == WORDS {
        memchr::memchr2(b'"', b'\\', tail)?
    } else {
        tail.iter().position(|b| matches!(b, b'"' | b'\\'))?
    };
    seen.checked_add(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
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
    fn string_ends_are_found_in_short_and_long_strings_past_escapes() {
        let end = |s: &str| string_end(s.as_bytes(), 0);
        assert_eq!(end(r#"abc"x"#), Some(3));
        assert_eq!(end(r#"a\"b"x"#), Some(4));
        assert_eq!(end(r#"a\\"x"#), Some(3));
        let long = "x".repeat(40);
        assert_eq!(end(&format!("{long}\"y")), Some(40));
        // A backslash as the 16th byte escapes the quote just past the first look.
        let fifteen = "y".repeat(15);
        assert_eq!(end(&format!("{fifteen}\\\"z\"")), Some(18));
        assert_eq!(end(&format!("{fifteen}\\\"")), None);
        for cut in ["", "abc", "abc\\", &long, &format!("{long}\\")] {
            assert_eq!(end(cut), None, "{cut:?}");
        }
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
        assert!(facts.findings.iter().any(|f| f.location == "response.json.email"));
        let mut full = 0;
        for i in 0..AUDIT_EVERY * 2 {
            full += u64::from(analysed(&mut s, &answer(&format!("/users/{i}"), 200, &body(1))));
        }
        assert_eq!(full, 2, "one audit per AUDIT_EVERY answers");
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
    }

    #[test]
    fn request_schemas_are_sampled_per_route_but_every_body_is_searched() {
        let mut s = ResponseSampler::default();
        let post = |i: u32| {
            let mut o = answer(&format!("/orders/{i}"), 201, "{}");
            o.method = "POST".into();
            o.request_headers = vec![("content-type".into(), "application/json".into())];
            o.request_body = format!(r#"{{"id":{i},"email":"u{i}@example.com"}}"#).into_bytes();
            o
        };
        let mut with_schema = Vec::new();
        for i in 1..=200u32 {
            let facts = TransactionFacts::sampled(&post(i), &MaskKey::default(), &mut s);
            assert!(facts.req_sampled);
            assert!(facts.findings.iter().any(|f| f.location == "request.json.email"), "body {i} searched");
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
        signature(body.as_bytes(), &ResponseSampler::default().hasher, &mut Vec::new())
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
