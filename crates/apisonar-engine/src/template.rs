//! Path templating: from concrete paths to endpoint templates such as `/users/{user_id}/orders`.
//!
//! A trie per host holds the segments seen at each position. A segment whose shape is a value
//! (integer, UUID, hex, ObjectId, date, e-mail, opaque token) becomes a parameter at once. Word
//! segments stay literal until a position has more distinct words than `word_threshold`; then the
//! words merge into one parameter, except those whose successful responses have a different
//! shape from the majority (static siblings such as `me`, `export`, `_debug`). Version segments
//! (`v1`) never merge. Known templates (user overrides, later specs) are matched first, and a
//! literal segment in them beats a parameter. Every parameter records why it exists.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::params::percent_escape;
use crate::segment::{classify, is_version, SegmentKind};
use crate::stats::add_count;

/// Tuning of the automatic templating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateConfig {
    /// Distinct word segments at one position before they merge into a parameter.
    pub word_threshold: usize,
    /// The same for the first segment of a path, where distinct pages are common.
    pub first_segment_threshold: usize,
    /// Segments kept per path; deeper paths are cut (bounded memory for hostile paths).
    pub max_depth: usize,
    /// Literal children kept per trie node before new words go to the parameter regardless.
    pub max_literals_per_node: usize,
    /// Trie nodes kept per host: past it new words go to a parameter, so a stream of random
    /// paths cannot grow the trie without bound.
    pub max_nodes_per_host: usize,
}

impl Default for TemplateConfig {
    fn default() -> Self {
        TemplateConfig {
            word_threshold: 12,
            first_segment_threshold: 64,
            max_depth: 24,
            max_literals_per_node: 512,
            max_nodes_per_host: 20_000,
        }
    }
}

/// Longest segment kept as a literal (in bytes as sent); longer ones are values, not names.
const MAX_LITERAL_BYTES: usize = 128;

/// A path segment as it appears in a template: braces are written `%7B`/`%7D`, so that in a
/// template `{...}` always means a parameter (a literal `{x}` sent by a client would otherwise
/// read as one, and break documents made from the template); control characters and spaces are
/// written as `%XX` too.
pub fn escape_literal(segment: &str) -> std::borrow::Cow<'_, str> {
    let special = |c: char| matches!(c, '{' | '}' | ' ') || c.is_control();
    // Nearly every segment is ASCII: its bytes are its characters, checked without decoding.
    let plain = if segment.is_ascii() {
        !segment.bytes().any(|b| matches!(b, b'{' | b'}' | b' ') || b.is_ascii_control())
    } else {
        !segment.contains(special)
    };
    if plain {
        return std::borrow::Cow::Borrowed(segment);
    }
    let mut out = String::with_capacity(segment.len().saturating_add(8));
    for c in segment.chars() {
        if special(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A parameter of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathParam {
    pub name: String,
    pub kinds: BTreeSet<SegmentKind>,
}

/// The templating of one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Templated {
    pub template: String,
    /// Parameters in path order, with the kind of this request's value. Names and reasons are
    /// shared with the trie: a request adds to an endpoint that has them already, nearly always.
    pub params: Vec<(Arc<str>, SegmentKind)>,
    /// Template prefixes that this observation made obsolete, with their replacement: every
    /// template equal to the old prefix or starting with it and `/` takes the new prefix.
    pub renames: Vec<(String, String)>,
    /// Why each parameter (and each literal kept beside one) is what it is.
    pub why: Vec<Arc<str>>,
    /// The template is a known one (a spec operation or a user's pin).
    pub known: bool,
}

/// A compact summary of a successful response's shape, used to tell static siblings apart.
pub type Shape = u64;

#[derive(Default, Debug)]
struct Node {
    literals: BTreeMap<String, Literal>,
    param: Option<Box<Param>>,
    /// Literals pinned by an override or a known template: never merged.
    pinned: BTreeSet<String>,
}

#[derive(Default, Debug)]
struct Literal {
    node: Node,
    hits: u64,
    shapes: BTreeMap<Shape, u64>,
    /// The word's kind ([`classify`] of it, decoded), worked out the first time a request
    /// walks through it: nearly every segment is a word met before.
    kind: Option<SegmentKind>,
}

/// The most frequent JSON response shape: only JSON bodies say enough about an endpoint to tell
/// two of them apart (an empty 204 or an HTML page does not).
fn dominant_json_shape(shapes: &BTreeMap<Shape, u64>) -> Option<Shape> {
    shapes
        .iter()
        .filter(|(s, _)| is_json_shape(**s))
        .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
        .map(|(s, _)| *s)
}

impl Literal {
    fn dominant_shape(&self) -> Option<Shape> {
        dominant_json_shape(&self.shapes)
    }
}

#[derive(Debug)]
struct Param {
    /// Chosen when the parameter is created and never changed, so templates stay stable; shared
    /// with every request templated through here.
    name: Arc<str>,
    node: Node,
    kinds: BTreeSet<SegmentKind>,
    shapes: BTreeMap<Shape, u64>,
    /// Why this parameter exists (set with `set_reason`).
    reason: String,
    /// Set when words merged here: new words go here too unless their shape differs.
    absorbs_words: bool,
    /// `{name}`, and `{name}: reason`: what every path through here is templated with, written
    /// once rather than for each request.
    segment: String,
    why: Arc<str>,
}

impl Param {
    fn new(name: String, reason: String) -> Param {
        let mut param = Param {
            segment: format!("{{{name}}}"),
            name: Arc::from(name),
            node: Node::default(),
            kinds: BTreeSet::new(),
            shapes: BTreeMap::new(),
            reason: String::new(),
            absorbs_words: false,
            why: Arc::from(""),
        };
        param.set_reason(reason);
        param
    }

    fn set_reason(&mut self, reason: String) {
        self.why = Arc::from(format!("{}: {reason}", self.segment));
        self.reason = reason;
    }

    fn dominant_shape(&self) -> Option<Shape> {
        dominant_json_shape(&self.shapes)
    }
}

/// A user or spec template that observed paths are matched against first.
#[derive(Clone, Debug, PartialEq, Eq)]
struct KnownTemplate {
    /// Literal segments; `None` for a parameter.
    segments: Vec<Option<String>>,
    /// The segments as written (`{owner}` for parameters).
    written: Vec<String>,
    text: String,
}

/// Segments that name an action or a well-known alias rather than a resource instance; they are
/// never folded into a parameter automatically (`/users/me` beside `/users/{user}`).
const STATIC_WORDS: &[&str] = &[
    "me", "self", "current", "mine", "new", "search", "export", "import", "count", "stats", "summary", "batch", "bulk",
    "login", "logout", "register", "signup", "signin", "health", "healthz", "status", "metrics", "config", "settings",
    "admin", "debug", "_debug", "all", "latest", "default", "list", "token", "refresh", "verify",
];

/// Version segments and well-known static words.
fn is_static(segment: &str) -> bool {
    is_version(segment) || STATIC_WORDS.iter().any(|w| w.eq_ignore_ascii_case(segment))
}

/// Sibling words that share a descendant name (`/orgs/{a,b,c}/members`) are values of one
/// parameter once there are this many.
const STRUCTURAL_MIN: usize = 3;
/// Sibling leaf words whose successful JSON responses have the same shape are values of one
/// parameter once there are this many.
const SAME_SHAPE_MIN: usize = 5;

/// Looked up for every request by host: foldhash (randomly seeded) rather than SipHash; the
/// maps are bounded by the catalog's host limit.
type Hashed<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One host's trie.
#[derive(Default, Debug)]
struct HostTrie {
    root: Node,
    /// Trie nodes: counted as they are made, recounted at each consolidation.
    nodes: usize,
}

/// Templating state for every host.
#[derive(Default, Debug)]
pub struct Templater {
    config: TemplateConfig,
    hosts: Hashed<String, HostTrie>,
    known: Hashed<String, Vec<KnownTemplate>>,
    /// Known templates that apply to every host.
    known_any: Vec<KnownTemplate>,
}

/// Splits a path (without query) into segments; `/` is the empty list.
pub fn split_path(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// The segments of a request path, each escaped as a literal (one allocation for the list).
fn escaped_segments(path: &str) -> Vec<std::borrow::Cow<'_, str>> {
    // One pass over the path finds its segments and whether any byte needs escaping: nearly
    // every path has none, and its segments are then borrowed as they are.
    let mut out = Vec::with_capacity(8);
    let (mut plain, mut start) = (true, 0usize);
    for (at, b) in path.bytes().enumerate() {
        if b == b'/' {
            if at > start {
                out.push(std::borrow::Cow::Borrowed(path.get(start..at).unwrap_or_default()));
            }
            start = at.saturating_add(1);
        } else {
            plain &= b.is_ascii() && !b.is_ascii_control() && !matches!(b, b'{' | b'}' | b' ');
        }
    }
    if start < path.len() {
        out.push(std::borrow::Cow::Borrowed(path.get(start..).unwrap_or_default()));
    }
    if !plain {
        for segment in &mut out {
            if let std::borrow::Cow::Borrowed(text) = *segment {
                *segment = escape_literal(text);
            }
        }
    }
    out
}

pub(crate) fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut rest = s.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        let escape = if byte == b'%' { percent_escape(rest) } else { None };
        match escape {
            Some((decoded, after)) => {
                out.push(decoded);
                rest = after;
            }
            None => out.push(byte),
        }
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The literal a parameter after `segments` is named after: the one just before it, skipping
/// versions (`/users/v1/{user}`, never `{v1}`); none after another parameter or a generic prefix.
fn name_base<'a>(segments: impl DoubleEndedIterator<Item = &'a str>) -> Option<String> {
    let literal = segments.rev().find(|s| !is_version(s))?;
    let generic = ["api", "rest", "service", "services"].contains(&literal.to_ascii_lowercase().as_str());
    (!literal.starts_with('{') && !generic).then(|| literal.to_string())
}

/// Parameter name from the segment before it: `users` -> `user_id` for ids, `user` for words.
fn param_name(previous: Option<&str>, kinds: &BTreeSet<SegmentKind>, taken: &[String]) -> String {
    let base = previous
        .filter(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') && !p.is_empty())
        .map(|p| {
            let p = p.replace('-', "_").to_ascii_lowercase();
            if let Some(stem) = p.strip_suffix("ies") {
                format!("{stem}y")
            } else if ["ches", "shes", "xes", "sses", "zes"].iter().any(|e| p.ends_with(e)) {
                p.strip_suffix("es").unwrap_or(&p).to_string()
            } else if p.ends_with("ss") {
                p.clone()
            } else {
                p.strip_suffix('s').map(str::to_string).unwrap_or(p.clone())
            }
        });
    let is_id = kinds.iter().any(|k| {
        matches!(
            k,
            SegmentKind::Integer | SegmentKind::Uuid | SegmentKind::ObjectId | SegmentKind::Hex | SegmentKind::Token
        )
    });
    let mut name = match (base, is_id) {
        (Some(b), true) => format!("{b}_id"),
        (_, false) if kinds.contains(&SegmentKind::Date) => "date".to_string(),
        (_, false) if kinds.contains(&SegmentKind::Email) => "email".to_string(),
        (Some(b), false) => b,
        (None, true) => "id".to_string(),
        (None, false) => "param".to_string(),
    };
    if taken.contains(&name) {
        let mut n = 2u32;
        while taken.contains(&format!("{name}{n}")) {
            n = n.saturating_add(1);
        }
        name = format!("{name}{n}");
    }
    name
}

impl Templater {
    pub fn new(config: TemplateConfig) -> Templater {
        Templater { config, ..Templater::default() }
    }

    /// Adds a template that observed paths match first (`host` `None` for every host).
    /// Parameters are written `{name}`; literal segments in it are pinned.
    pub fn add_known(&mut self, host: Option<&str>, template: &str) {
        let segments: Vec<Option<String>> = split_path(template)
            .into_iter()
            .map(|s| if s.starts_with('{') && s.ends_with('}') { None } else { Some(s.to_string()) })
            .collect();
        let written = split_path(template).into_iter().map(str::to_string).collect();
        let known = KnownTemplate { segments, written, text: normalize_template(template) };
        match host {
            Some(h) => self.known.entry(h.to_string()).or_default().push(known),
            None => self.known_any.push(known),
        }
    }

    /// Seeds the trie with a template produced by an earlier run, so that templating carries
    /// on where it stopped: `{name}` segments become parameters that absorb words.
    pub fn learn(&mut self, host: &str, template: &str) {
        let mut node = &mut self.hosts.entry(host.to_string()).or_default().root;
        for seg in split_path(template).into_iter().take(self.config.max_depth) {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let param = node
                    .param
                    .get_or_insert_with(|| Box::new(Param::new(name.to_string(), "learned in an earlier run".into())));
                param.absorbs_words = true;
                node = &mut param.node;
            } else {
                node = &mut node.literals.entry(seg.to_string()).or_default().node;
            }
        }
    }

    /// The path `template` takes under the known templates (exactly, or through a known prefix
    /// followed by its remaining segments), if one fits and it differs.
    pub fn known_rewrite(&self, host: &str, template: &str) -> Option<String> {
        let segs = split_path(template);
        let fits =
            |k: &KnownTemplate| k.segments.iter().zip(&segs).all(|(t, s)| t.as_deref().is_none_or(|lit| lit == *s));
        let known =
            self.match_known(host, &segs, false).filter(|k| fits(k)).or_else(|| self.match_known(host, &segs, true))?;
        let mut out: Vec<String> = known.written.clone();
        out.extend(segs.iter().skip(known.written.len()).map(|s| s.to_string()));
        let new = join(&out);
        (new != template).then_some(new)
    }

    /// The best known template for `segments` (all of them when `prefix` is false, a leading
    /// part of them when true; then the longest wins).
    fn match_known<S: AsRef<str>>(&self, host: &str, segments: &[S], prefix: bool) -> Option<&KnownTemplate> {
        let candidates = self.known.get(host).into_iter().flatten().chain(self.known_any.iter());
        let mut best: Option<&KnownTemplate> = None;
        for k in candidates {
            let usable = if prefix { k.segments.len() < segments.len() } else { k.segments.len() == segments.len() };
            if !usable || k.segments.is_empty() {
                continue;
            }
            if prefix && best.is_some_and(|b| b.segments.len() > k.segments.len()) {
                continue;
            }
            if prefix && best.is_some_and(|b| b.segments.len() < k.segments.len()) {
                best = None;
            }
            let fits = k.segments.iter().zip(segments).all(|(t, s)| t.as_deref().is_none_or(|lit| lit == s.as_ref()));
            if !fits {
                continue;
            }
            // Precedence: at the first position where they differ, a literal beats a parameter.
            best = match best {
                None => Some(k),
                Some(b) => {
                    let k_first = k.segments.iter().zip(&b.segments).find(|(x, y)| x.is_some() != y.is_some());
                    match k_first {
                        Some((x, _)) if x.is_some() => Some(k),
                        _ => Some(b),
                    }
                }
            };
        }
        best
    }

    /// The template `path` has under what is known now, without learning anything from it: a
    /// known template that fits it whole, or a walk of the trie where every segment is a literal
    /// there or a value of a parameter there. `None` when no route is known for it.
    pub fn lookup(&self, host: &str, path: &str) -> Option<Templated> {
        let raw = escaped_segments(path);
        if let Some(k) = self.match_known(host, &raw, false) {
            let params = split_path(&k.text)
                .iter()
                .zip(&raw)
                .filter(|(t, _)| t.starts_with('{'))
                .map(|(t, s)| (Arc::from(t.trim_matches(|c| c == '{' || c == '}')), classify(&percent_decode(s))))
                .collect();
            return Some(Templated {
                template: k.text.clone(),
                params,
                renames: Vec::new(),
                why: vec![Arc::from(format!("pinned: {}", k.text))],
                known: true,
            });
        }
        let (out, params, matched) = self.walk(host, &raw);
        (matched == raw.len().min(self.config.max_depth)).then(|| Templated {
            template: out,
            params,
            renames: Vec::new(),
            why: Vec::new(),
            known: false,
        })
    }

    /// Whether the first segment of `path` leads somewhere the trie knows (the path is under a
    /// prefix that real routes have established).
    pub fn has_established_prefix(&self, host: &str, path: &str) -> bool {
        let raw = escaped_segments(path);
        raw.len() > 1 && (self.walk(host, &raw).2 >= 1 || self.match_known(host, &raw, true).is_some())
    }

    /// Follows `raw` down the trie as far as it fits: the template so far, the parameters with
    /// this path's value kinds, and how many segments fitted.
    fn walk<S: AsRef<str>>(&self, host: &str, raw: &[S]) -> (String, Vec<(Arc<str>, SegmentKind)>, usize) {
        let (mut out, mut params) = (TemplateText::with_capacity(64), Vec::new());
        let mut matched = 0usize;
        let Some(mut node) = self.hosts.get(host).map(|t| &t.root) else { return (out.finish(), params, 0) };
        for seg in raw.iter().take(self.config.max_depth) {
            let seg = seg.as_ref();
            if let Some(lit) = node.literals.get(seg) {
                out.push(seg);
                node = &lit.node;
                matched = matched.saturating_add(1);
                continue;
            }
            let kind = classify(&percent_decode(seg));
            match &node.param {
                Some(p) if kind.is_value() || p.absorbs_words => {
                    out.push(&p.segment);
                    params.push((p.name.clone(), kind));
                    node = &p.node;
                    matched = matched.saturating_add(1);
                }
                _ => break,
            }
        }
        (out.finish(), params, matched)
    }

    /// Templates one request path (no query string) seen on `host`; `shape` summarises a
    /// successful response (None for errors or no response).
    pub fn template(&mut self, host: &str, path: &str, shape: Option<Shape>) -> Templated {
        let raw_segments = escaped_segments(path);
        if let Some(k) = self.match_known(host, &raw_segments, false) {
            let mut params = Vec::new();
            let mut why: Vec<Arc<str>> = Vec::new();
            for (t, s) in split_path(&k.text).iter().zip(&raw_segments) {
                if t.starts_with('{') {
                    let name = Arc::from(t.trim_matches(|c| c == '{' || c == '}'));
                    why.push(Arc::from(format!("{t}: from a known template")));
                    params.push((name, classify(&percent_decode(s))));
                }
            }
            if why.is_empty() {
                why.push(Arc::from("matches a known template"));
            }
            why.insert(0, Arc::from(format!("pinned: {}", k.text)));
            return Templated { template: k.text.clone(), params, renames: Vec::new(), why, known: true };
        }
        let config = self.config;
        // A known template that fits the start of the path fixes that part; the rest is
        // templated below it as usual.
        let known_prefix: Vec<(Option<String>, String)> = self
            .match_known(host, &raw_segments, true)
            .map(|k| k.segments.iter().cloned().zip(k.written.iter().cloned()).collect())
            .unwrap_or_default();
        // A key is copied only for a new host.
        if !self.hosts.contains_key(host) {
            self.hosts.insert(host.to_string(), HostTrie::default());
        }
        let Some(HostTrie { root, nodes: made }) = self.hosts.get_mut(host) else {
            return Templated {
                template: TemplateText::with_capacity(1).finish(),
                params: Vec::new(),
                renames: Vec::new(),
                why: Vec::new(),
                known: false,
            };
        };
        let mut node = root;
        let mut out = TemplateText::with_capacity(path.len().saturating_add(16));
        let mut params: Vec<(Arc<str>, SegmentKind)> = Vec::new();
        let mut why: Vec<Arc<str>> = Vec::new();
        let mut renames = Vec::new();
        for ((literal, written), raw) in known_prefix.iter().zip(&raw_segments) {
            out.push(written);
            match literal {
                Some(lit) => {
                    node.pinned.insert(lit.clone());
                    node = &mut node.literals.entry(lit.clone()).or_default().node;
                }
                None => {
                    let name = written.trim_matches(|c| c == '{' || c == '}').to_string();
                    params.push((Arc::from(name.as_str()), classify(&percent_decode(raw))));
                    let param =
                        node.param.get_or_insert_with(|| Box::new(Param::new(name, "from a pinned template".into())));
                    param.absorbs_words = true;
                    node = &mut param.node;
                }
            }
        }
        if !known_prefix.is_empty() {
            why.push(Arc::from(format!("pinned prefix: {}", out.text())));
        }
        let depth_limit = config.max_depth.min(raw_segments.len());
        for (depth, raw) in raw_segments.iter().enumerate().take(depth_limit).skip(known_prefix.len()) {
            let raw: &str = raw;
            // A response describes the endpoint the path ends at, not the nodes it passes.
            let shape = if depth.checked_add(1) == Some(depth_limit) { shape } else { None };
            let mut found = node.literals.get_mut(raw);
            let kind = match found.as_deref_mut() {
                Some(literal) => *literal.kind.get_or_insert_with(|| classify(&percent_decode(raw))),
                None => classify(&percent_decode(raw)),
            };
            // Only a new parameter is named: these are computed when one is made.
            let previous = || name_base(out.segments());
            let taken = || params.iter().map(|(n, _)| n.to_string()).collect::<Vec<String>>();
            let count = |literal: &mut Literal| {
                add_count(&mut literal.hits, 1);
                if let Some(s) = shape {
                    add_count(literal.shapes.entry(s).or_default(), 1);
                }
            };
            // A word seen before is counted where it is found (most segments are such words).
            let mut counted = false;
            let use_param = if kind.is_value() {
                !node.pinned.contains(raw)
            } else if node.pinned.contains(raw) {
                false
            } else if let Some(literal) = found {
                count(literal);
                counted = true;
                false
            } else if raw.len() > MAX_LITERAL_BYTES || *made >= config.max_nodes_per_host {
                // A new word, but this host's trie is full (or the word is too long to be a name).
                true
            } else if is_static(raw) {
                false
            } else {
                match &node.param {
                    Some(p) if p.absorbs_words => match (shape, p.dominant_shape()) {
                        // A new word whose successful JSON response looks different is a static sibling.
                        (Some(s), Some(d)) if s != d && is_json_shape(s) => false,
                        _ => true,
                    },
                    _ => node.literals.len() >= config.max_literals_per_node,
                }
            };
            if use_param {
                if node.param.is_none() {
                    *made = made.saturating_add(1);
                }
                let param = node.param.get_or_insert_with(|| {
                    let kinds = BTreeSet::from([kind]);
                    let name = param_name(previous().as_deref(), &kinds, &taken());
                    Box::new(Param::new(name, format!("{} values", kind.as_str())))
                });
                param.kinds.insert(kind);
                if let Some(s) = shape {
                    add_count(param.shapes.entry(s).or_default(), 1);
                }
                why.push(param.why.clone());
                out.push(&param.segment);
                params.push((param.name.clone(), kind));
                node = &mut param.node;
                continue;
            }
            let threshold = if depth == 0 { config.first_segment_threshold } else { config.word_threshold };
            if !counted {
                match node.literals.get_mut(raw) {
                    Some(literal) => count(literal),
                    None => {
                        *made = made.saturating_add(1);
                        let mut literal = Literal { kind: Some(kind), ..Literal::default() };
                        count(&mut literal);
                        node.literals.insert(raw.to_string(), literal);
                    }
                }
            }
            let already_merged = node.param.as_ref().is_some_and(|p| p.absorbs_words);
            // No more mergeable words than words: most positions are counted without a walk.
            let mergeable = if already_merged || node.literals.len() <= threshold {
                0
            } else {
                node.literals.keys().filter(|k| !is_static(k) && !node.pinned.contains(*k)).count()
            };
            if mergeable > threshold {
                let merged = merge_words(node, threshold, previous().as_deref(), &taken());
                for (word, _) in &merged.words {
                    renames.push((out.and(word), out.and(&format!("{{{}}}", merged.name))));
                }
                if merged.words.iter().any(|(w, _)| w == raw) {
                    let param =
                        node.param.get_or_insert_with(|| Box::new(Param::new(merged.name.clone(), String::new())));
                    why.push(param.why.clone());
                    out.push(&param.segment);
                    params.push((param.name.clone(), kind));
                    node = &mut param.node;
                    continue;
                }
            }
            if node.param.is_some() && !node.pinned.contains(raw) && !is_static(raw) {
                why.push(Arc::from(format!("{raw}: kept literal beside a parameter: its responses differ")));
            }
            out.push(raw);
            let Some(lit) = node.literals.get_mut(raw) else { break };
            node = &mut lit.node;
        }
        Templated { template: out.finish(), params, renames, why, known: false }
    }
}

impl Templater {
    /// Looks at the whole trie of every host for words that are values of a parameter although
    /// no single position had many of them: siblings with a common structure below them, or
    /// leaves with the same response shape. Returns the prefix renames, per host, in the order
    /// they must be applied.
    pub fn consolidate(&mut self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let mut hosts: Vec<&String> = self.hosts.keys().collect();
        hosts.sort();
        let hosts: Vec<String> = hosts.into_iter().cloned().collect();
        for host in hosts {
            let Some(trie) = self.hosts.get_mut(&host) else { continue };
            let mut renames = Vec::new();
            consolidate_node(&mut trie.root, &mut Vec::new(), &[], &mut renames);
            trie.nodes = count_nodes(&trie.root);
            out.extend(renames.into_iter().map(|(a, b)| (host.clone(), a, b)));
        }
        out
    }
}

/// Nodes in the trie below `node` (itself not counted).
fn count_nodes(node: &Node) -> usize {
    let literals = node.literals.values().map(|l| count_nodes(&l.node).saturating_add(1));
    let param = node.param.iter().map(|p| count_nodes(&p.node).saturating_add(1));
    literals.chain(param).fold(0usize, usize::saturating_add)
}

/// Literal names in the subtree below `node`, down to `depth` levels.
fn subtree_names(node: &Node, depth: usize, out: &mut BTreeSet<String>) {
    let Some(below) = depth.checked_sub(1) else { return };
    for (name, lit) in &node.literals {
        out.insert(name.clone());
        subtree_names(&lit.node, below, out);
    }
    if let Some(p) = &node.param {
        subtree_names(&p.node, below, out);
    }
}

/// Post-order: deeper positions first, then this one; after a merge the new parameter's subtree
/// is looked at again, because merged siblings may bring enough values together (owner/repo).
fn consolidate_node(node: &mut Node, prefix: &mut Vec<String>, taken: &[String], renames: &mut Vec<(String, String)>) {
    let names: Vec<String> = node.literals.keys().cloned().collect();
    for name in names {
        if let Some(lit) = node.literals.get_mut(&name) {
            prefix.push(name);
            consolidate_node(&mut lit.node, prefix, taken, renames);
            prefix.pop();
        }
    }
    if let Some(p) = node.param.as_mut() {
        let mut t = taken.to_vec();
        t.push(p.name.to_string());
        prefix.push(format!("{{{}}}", p.name));
        consolidate_node(&mut p.node, prefix, &t, renames);
        prefix.pop();
    }
    if prefix.is_empty() {
        // The first segment holds distinct pages and top-level resources: only cardinality
        // (in `template`) merges there.
        return;
    }
    // Only words seen in this run are evidence: literals learned from earlier runs were
    // decided then, and carry no shapes to decide again with.
    let candidates: Vec<&String> = node
        .literals
        .iter()
        .filter(|(w, l)| !is_static(w) && !node.pinned.contains(*w) && l.hits > 0)
        .map(|(w, _)| w)
        .collect();
    let mut group: Vec<String> = Vec::new();
    let mut reason = String::new();
    let absorbing = node.param.as_ref().is_some_and(|p| p.absorbs_words);
    if absorbing {
        // Leftover words beside a word parameter: fold those that are not clearly different.
        let leaf = node.param.as_ref().and_then(|p| p.dominant_shape());
        group = candidates
            .iter()
            .filter(|w| {
                node.literals.get(**w).is_some_and(|l| l.dominant_shape().is_none() || l.dominant_shape() == leaf)
            })
            .map(|w| (*w).clone())
            .collect();
        reason = "values beside an existing parameter".into();
    } else if candidates.len() >= STRUCTURAL_MIN {
        let mut below: BTreeMap<&String, BTreeSet<String>> = BTreeMap::new();
        for w in &candidates {
            let mut set = BTreeSet::new();
            if let Some(l) = node.literals.get(*w) {
                subtree_names(&l.node, 3, &mut set);
            }
            below.insert(*w, set);
        }
        // How many siblings have each name somewhere below them.
        let mut common: BTreeMap<&String, usize> = BTreeMap::new();
        for set in below.values() {
            for n in set {
                let siblings = common.entry(n).or_default();
                *siblings = siblings.saturating_add(1);
            }
        }
        if let Some((shared, n)) = common.iter().max_by_key(|(name, n)| (**n, std::cmp::Reverse(name.len()))) {
            if *n >= STRUCTURAL_MIN {
                group = below.iter().filter(|(_, set)| set.contains(*shared)).map(|(w, _)| (*w).clone()).collect();
                reason = format!("{} sibling values with a common structure below them (`{shared}`)", group.len());
            }
        }
        if group.is_empty() {
            let mut by_shape: BTreeMap<Shape, Vec<String>> = BTreeMap::new();
            for w in &candidates {
                let lit = node.literals.get(*w);
                let shape = lit.and_then(Literal::dominant_shape).filter(|s| is_json_shape(*s));
                if let (Some(s), Some(l)) = (shape, lit) {
                    if l.node.literals.is_empty() && l.node.param.is_none() {
                        by_shape.entry(s).or_default().push((*w).clone());
                    }
                }
            }
            if let Some((_, words)) = by_shape.into_iter().max_by_key(|(_, v)| v.len()) {
                if words.len() >= SAME_SHAPE_MIN {
                    reason = format!("{} sibling values whose responses have the same shape", words.len());
                    group = words;
                }
            }
        }
    }
    if group.is_empty() {
        return;
    }
    let previous = name_base(prefix.iter().map(String::as_str));
    let kinds = BTreeSet::from([SegmentKind::Word]);
    let param = node
        .param
        .get_or_insert_with(|| Box::new(Param::new(param_name(previous.as_deref(), &kinds, taken), String::new())));
    param.kinds.insert(SegmentKind::Word);
    param.absorbs_words = true;
    if param.reason.is_empty() || !absorbing {
        param.set_reason(reason);
    }
    let new_segment = format!("{{{}}}", param.name);
    for w in group {
        if let Some(lit) = node.literals.remove(&w) {
            for (s, n) in &lit.shapes {
                add_count(param.shapes.entry(*s).or_default(), *n);
            }
            merge_nodes(&mut param.node, lit.node);
            let mut old = prefix.clone();
            old.push(w);
            let mut new = prefix.clone();
            new.push(new_segment.clone());
            renames.push((join(&old), join(&new)));
        }
    }
    // The merged subtrees now sit together: look at them again.
    let mut t = taken.to_vec();
    t.push(param.name.to_string());
    prefix.push(new_segment);
    consolidate_node(&mut param.node, prefix, &t, renames);
    prefix.pop();
}

/// Shapes of JSON bodies carry a marker bit (see the catalog); other bodies say little.
pub fn is_json_shape(s: Shape) -> bool {
    s & 1 == 1
}

struct Merged {
    name: String,
    words: Vec<(String, Node)>,
}

/// Merges the word literals of `node` that share the majority response shape into its parameter.
fn merge_words(node: &mut Node, threshold: usize, previous: Option<&str>, taken: &[String]) -> Merged {
    let mut votes: BTreeMap<Option<Shape>, usize> = BTreeMap::new();
    for (word, lit) in &node.literals {
        if !is_static(word) && !node.pinned.contains(word) {
            let words = votes.entry(lit.dominant_shape()).or_default();
            *words = words.saturating_add(1);
        }
    }
    let majority = votes
        .iter()
        .filter(|(s, _)| s.is_some())
        .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
        .and_then(|(s, _)| *s);
    let words: Vec<String> = node
        .literals
        .iter()
        .filter(|(w, lit)| {
            !is_static(w) && !node.pinned.contains(*w) && {
                let d = lit.dominant_shape();
                d.is_none() || d == majority
            }
        })
        .map(|(w, _)| w.clone())
        .collect();
    let kinds = BTreeSet::from([SegmentKind::Word]);
    let param =
        node.param.get_or_insert_with(|| Box::new(Param::new(param_name(previous, &kinds, taken), String::new())));
    let name = param.name.to_string();
    param.kinds.insert(SegmentKind::Word);
    param.absorbs_words = true;
    param.set_reason(format!(
        "{} distinct values at this position (more than {threshold}), same response shape",
        words.len()
    ));
    let mut moved = Vec::new();
    for w in words {
        if let Some(lit) = node.literals.remove(&w) {
            for (s, n) in &lit.shapes {
                add_count(param.shapes.entry(*s).or_default(), *n);
            }
            moved.push((w, Node::default()));
            merge_nodes(&mut param.node, lit.node);
        }
    }
    Merged { name, words: moved }
}

/// Folds the subtree `from` into `into`.
fn merge_nodes(into: &mut Node, from: Node) {
    for (word, lit) in from.literals {
        let target = into.literals.entry(word).or_default();
        add_count(&mut target.hits, lit.hits);
        for (s, n) in lit.shapes {
            add_count(target.shapes.entry(s).or_default(), n);
        }
        merge_nodes(&mut target.node, lit.node);
    }
    if let Some(p) = from.param {
        match &mut into.param {
            Some(existing) => {
                existing.kinds.extend(p.kinds);
                for (s, n) in p.shapes {
                    add_count(existing.shapes.entry(s).or_default(), n);
                }
                existing.absorbs_words |= p.absorbs_words;
                merge_nodes(&mut existing.node, p.node);
            }
            None => into.param = Some(p),
        }
    }
    into.pinned.extend(from.pinned);
}

/// A template written one segment at a time, as [`join`] would write the list of them.
struct TemplateText(String);

impl TemplateText {
    fn with_capacity(bytes: usize) -> TemplateText {
        TemplateText(String::with_capacity(bytes))
    }

    fn push(&mut self, segment: &str) {
        self.0.push('/');
        self.0.push_str(segment);
    }

    /// The segments so far (none is empty: they come from a split that drops empty ones).
    fn segments(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    /// The template so far followed by `last`.
    fn and(&self, last: &str) -> String {
        format!("{}/{last}", self.0)
    }

    fn text(&self) -> &str {
        if self.0.is_empty() {
            "/"
        } else {
            &self.0
        }
    }

    fn finish(self) -> String {
        if self.0.is_empty() {
            "/".to_string()
        } else {
            self.0
        }
    }
}

fn join(segments: &[String]) -> String {
    format!("/{}", segments.join("/"))
}

/// `/a/{x}/` -> `/a/{x}`.
pub fn normalize_template(t: &str) -> String {
    let segs: Vec<String> = split_path(t).into_iter().map(str::to_string).collect();
    join(&segs)
}

#[cfg(test)]
mod tests;
