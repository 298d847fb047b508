//! A bounded YAML reader: YAML text to `serde_json::Value`, refusing alias bombs and deep nesting.
//!
//! The parser is saphyr-parser (pure safe Rust, maintained, two small dependencies). It hands
//! over an event stream in which an alias is only a reference to its anchor, so the expansion of
//! aliases happens here, where it is counted: every node copied for an anchor or an alias is
//! charged to [`MAX_YAML_COPIED_NODES`] (a long scalar weighs one node more per 64 bytes, so an
//! alias to a long string costs what it copies), and nesting (aliases included) is capped at
//! [`MAX_YAML_DEPTH`]. The conversion keeps its own stack, so depth costs no call stack.
//! Nodes written out in the text need no budget of their own: the spec size limit bounds them.
//!
//! Scalars follow the YAML 1.2 core schema as serde_yaml 0.9 read them: quoted and block scalars
//! are strings, plain ones may be null, booleans, integers or floats, and digit strings with a
//! leading zero stay strings. Mapping keys are taken as written. `.inf` and `.nan` become null,
//! as JSON has no such numbers.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Number, Value};

use super::{err, text_cost, SpecError};

/// Deepest nesting of sequences and mappings accepted (serde_json's limit for JSON specs too).
pub const MAX_YAML_DEPTH: usize = 128;
/// Most nodes that anchors and aliases may copy in one text. Legitimate anchors share a few
/// small blocks (a GitHub-size spec written with anchors instead of `$ref`s would copy about a
/// million); an alias bomb needs billions.
pub const MAX_YAML_COPIED_NODES: usize = 2_000_000;

/// Reads every document of a YAML stream (Kubernetes manifests, for instance), with the same
/// bounds as spec parsing. Errors name `line N column M`.
pub fn yaml_documents(text: &str) -> Result<Vec<Value>, SpecError> {
    read(text, false)
}

/// Reads a stream that must hold at most one document; none reads as null.
pub(super) fn yaml_document(text: &str) -> Result<Value, SpecError> {
    Ok(read(text, true)?.into_iter().next().unwrap_or(Value::Null))
}

fn place(mark: &Marker) -> String {
    format!("line {} column {}", mark.line(), mark.col().saturating_add(1))
}

fn scan_error(e: &ScanError) -> SpecError {
    err(place(e.marker()), e.info())
}

/// A value that an alias may copy, with what copying it costs.
struct Anchored {
    value: Value,
    nodes: usize,
    height: usize,
}

enum Open {
    Sequence(Vec<Value>),
    /// The key waits here until its value arrives.
    Mapping(Map<String, Value>, Option<String>),
}

struct Frame {
    open: Open,
    anchor: usize,
    /// Nodes produced before this collection started: the difference at its end is its size.
    nodes_before: usize,
    /// Height of the highest child.
    child_height: usize,
}

#[derive(Default)]
struct Reader {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    /// Every node produced, copies included, weighed as `text_cost` weighs scalars.
    nodes: usize,
    /// Nodes copied for anchors and aliases, the amplified part.
    copied: usize,
    documents: Vec<Value>,
}

fn read(text: &str, single: bool) -> Result<Vec<Value>, SpecError> {
    let mut reader = Reader::default();
    let mut starts = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| scan_error(&e))?;
        let at = span.start;
        match event {
            Event::DocumentStart(_) => {
                starts = starts.saturating_add(1);
                if single && starts > 1 {
                    return Err(err(place(&at), "more than one YAML document: a spec is one document"));
                }
                // Aliases never reach across documents.
                reader.anchors.clear();
            }
            Event::Scalar(text, style, anchor, tag) => reader.scalar(text, style, anchor, tag.as_deref(), &at)?,
            Event::SequenceStart(anchor, _) => reader.open(Open::Sequence(Vec::new()), anchor, &at)?,
            Event::MappingStart(anchor, _) => reader.open(Open::Mapping(Map::new(), None), anchor, &at)?,
            Event::SequenceEnd | Event::MappingEnd => reader.close(&at)?,
            Event::Alias(anchor) => reader.alias(anchor, &at)?,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
    Ok(reader.documents)
}

impl Reader {
    /// True when the next node is a mapping key.
    fn wants_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame { open: Open::Mapping(_, None), .. }))
    }

    fn count(&mut self, nodes: usize) {
        self.nodes = self.nodes.saturating_add(nodes);
    }

    fn charge_copy(&mut self, nodes: usize, at: &Marker) -> Result<(), SpecError> {
        self.copied = self.copied.saturating_add(nodes);
        if self.copied > MAX_YAML_COPIED_NODES {
            return Err(err(
                place(at),
                format!("YAML anchors and aliases expand to more than {MAX_YAML_COPIED_NODES} nodes"),
            ));
        }
        Ok(())
    }

    fn remember(
        &mut self,
        anchor: usize,
        value: &Value,
        nodes: usize,
        height: usize,
        at: &Marker,
    ) -> Result<(), SpecError> {
        // Anchor id 0 means "no anchor".
        if anchor != 0 {
            self.charge_copy(nodes, at)?;
            self.anchors.insert(anchor, Anchored { value: value.clone(), nodes, height });
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        text: Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        at: &Marker,
    ) -> Result<(), SpecError> {
        let weight = text_cost(text.len());
        self.count(weight);
        if self.wants_key() {
            let key = text.into_owned();
            self.remember(anchor, &Value::String(key.clone()), weight, 0, at)?;
            self.set_key(key);
            return Ok(());
        }
        let value = scalar_value(text, style, tag);
        self.remember(anchor, &value, weight, 0, at)?;
        self.add(value, 0);
        Ok(())
    }

    fn open(&mut self, open: Open, anchor: usize, at: &Marker) -> Result<(), SpecError> {
        if self.wants_key() {
            return Err(err(place(at), "a mapping key must be a plain value, not a sequence or mapping"));
        }
        if self.stack.len() >= MAX_YAML_DEPTH {
            return Err(err(place(at), format!("nested deeper than {MAX_YAML_DEPTH} levels")));
        }
        let nodes_before = self.nodes;
        self.count(1);
        self.stack.push(Frame { open, anchor, nodes_before, child_height: 0 });
        Ok(())
    }

    fn close(&mut self, at: &Marker) -> Result<(), SpecError> {
        let Some(frame) = self.stack.pop() else {
            return Err(err(place(at), "a collection ends that never started"));
        };
        let value = match frame.open {
            Open::Sequence(items) => Value::Array(items),
            Open::Mapping(mut map, pending) => {
                // The parser gives a missing value as an empty scalar; this is only a backstop.
                if let Some(key) = pending {
                    map.insert(key, Value::Null);
                }
                Value::Object(map)
            }
        };
        let height = frame.child_height.saturating_add(1);
        let nodes = self.nodes.saturating_sub(frame.nodes_before);
        self.remember(frame.anchor, &value, nodes, height, at)?;
        self.add(value, height);
        Ok(())
    }

    fn alias(&mut self, anchor: usize, at: &Marker) -> Result<(), SpecError> {
        let Some(anchored) = self.anchors.get(&anchor) else {
            return Err(err(place(at), "an alias inside its own anchor (a recursive YAML document)"));
        };
        let (nodes, height) = (anchored.nodes, anchored.height);
        if self.wants_key() {
            let key = match &anchored.value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(err(place(at), "a mapping key must be a plain value, not a sequence or mapping"))
                }
            };
            self.count(nodes);
            self.charge_copy(nodes, at)?;
            self.set_key(key);
            return Ok(());
        }
        if self.stack.len().saturating_add(height) > MAX_YAML_DEPTH {
            return Err(err(place(at), format!("nested deeper than {MAX_YAML_DEPTH} levels through an alias")));
        }
        // Charged before the copy is made: the budget is what stops a bomb.
        self.charge_copy(nodes, at)?;
        self.count(nodes);
        let value = self.anchors.get(&anchor).map(|a| a.value.clone()).unwrap_or(Value::Null);
        self.add(value, height);
        Ok(())
    }

    fn set_key(&mut self, key: String) {
        if let Some(Frame { open: Open::Mapping(_, pending), .. }) = self.stack.last_mut() {
            *pending = Some(key);
        }
    }

    /// Puts a finished node into its parent, or makes it a document.
    fn add(&mut self, value: Value, height: usize) {
        let Some(frame) = self.stack.last_mut() else {
            self.documents.push(value);
            return;
        };
        frame.child_height = frame.child_height.max(height);
        match &mut frame.open {
            Open::Sequence(items) => items.push(value),
            Open::Mapping(map, pending) => {
                // Later duplicates win, as with JSON specs.
                if let Some(key) = pending.take() {
                    map.insert(key, value);
                }
            }
        }
    }
}

fn scalar_value(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let as_string = tag.is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
    if style != ScalarStyle::Plain || as_string {
        return Value::String(text.into_owned());
    }
    plain_value(&text).unwrap_or_else(|| Value::String(text.into_owned()))
}

/// The core schema's reading of a plain scalar; `None` for a string.
fn plain_value(s: &str) -> Option<Value> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
        | ".NAN" => return Some(Value::Null),
        _ => {}
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if let Some(hex) = s.strip_prefix("0x") {
        return radix_int(hex, 16);
    }
    if let Some(octal) = s.strip_prefix("0o") {
        return radix_int(octal, 8);
    }
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        // `007` is an identifier more often than a number.
        if unsigned.len() > 1 && unsigned.starts_with('0') {
            return None;
        }
        if let Ok(n) = s.parse::<u64>() {
            return Some(Value::from(n));
        }
        if let Ok(n) = s.parse::<i64>() {
            return Some(Value::from(n));
        }
    }
    if float_syntax(s) {
        return s.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number);
    }
    None
}

fn radix_int(digits: &str, radix: u32) -> Option<Value> {
    // from_str_radix would take a sign too; the core schema does not.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok().map(Value::from)
}

/// `[-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`, the core schema's float.
fn float_syntax(s: &str) -> bool {
    fn digits(b: &[u8]) -> (usize, &[u8]) {
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        (n, b.get(n..).unwrap_or_default())
    }
    let b = s.as_bytes();
    let b = b.strip_prefix(b"+").or_else(|| b.strip_prefix(b"-")).unwrap_or(b);
    let (whole, rest) = digits(b);
    let (fraction, rest) = match rest.strip_prefix(b".") {
        Some(after) => digits(after),
        None => (0, rest),
    };
    if whole == 0 && fraction == 0 {
        return false;
    }
    let rest = match rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        Some(exp) => {
            let exp = exp.strip_prefix(b"+").or_else(|| exp.strip_prefix(b"-")).unwrap_or(exp);
            match digits(exp) {
                (0, _) => return false,
                (_, rest) => rest,
            }
        }
        None => rest,
    };
    rest.is_empty()
}
