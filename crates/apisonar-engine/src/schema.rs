//! JSON schema inference: a schema per body, merged across samples (types, optional fields,
//! string formats), bounded in depth and width so that hostile bodies cannot grow it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{JsonTree, Node};
use crate::stats::{add_count, earliest};

/// Deepest nesting and widest object kept.
pub(crate) const MAX_DEPTH: usize = 12;
pub(crate) const MAX_PROPERTIES: usize = 200;

/// String formats recognised in values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Email,
    Uuid,
    DateTime,
    Date,
    Ipv4,
    Ipv6,
    Uri,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Email => "email",
            Format::Uuid => "uuid",
            Format::DateTime => "date-time",
            Format::Date => "date",
            Format::Ipv4 => "ipv4",
            Format::Ipv6 => "ipv6",
            Format::Uri => "uri",
        }
    }

    /// The format of a string value, if it has a recognisable one.
    pub fn of(s: &str) -> Option<Format> {
        use crate::segment::{classify, SegmentKind};
        // Classified only when it can be one of the kinds read: a UUID has 36 bytes, an e-mail
        // address an `@`, and a date's fifth byte is its first `-`.
        Format::of_classified(
            s,
            |s| (s.len() == 36 || memchr::memchr(b'@', s.as_bytes()).is_some()).then(|| classify(s)),
            |s| s.as_bytes().get(4) == Some(&b'-') && classify(s.get(..10).unwrap_or_default()) == SegmentKind::Date,
        )
    }

    /// [`Format::of`], with `kind` the segment kind of the whole string (`None` where it cannot
    /// be a UUID or an e-mail address) and `date_first` whether its first ten bytes are a date.
    fn of_classified(
        s: &str,
        kind: impl Fn(&str) -> Option<crate::segment::SegmentKind>,
        date_first: impl Fn(&str) -> bool,
    ) -> Option<Format> {
        use crate::segment::SegmentKind;
        let b = s.as_bytes();
        let kind = kind(s);
        if kind == Some(SegmentKind::Uuid) {
            return Some(Format::Uuid);
        }
        if b.len() >= 10 && date_first(s) {
            return Some(if b.len() == 10 {
                Format::Date
            } else if b.get(10) == Some(&b'T') || b.get(10) == Some(&b' ') {
                Format::DateTime
            } else {
                return None;
            });
        }
        if s.parse::<std::net::Ipv4Addr>().is_ok() {
            return Some(Format::Ipv4);
        }
        if s.contains(':') && s.parse::<std::net::Ipv6Addr>().is_ok() {
            return Some(Format::Ipv6);
        }
        if (s.starts_with("http://") || s.starts_with("https://")) && s.len() > 8 && !s.contains(' ') {
            return Some(Format::Uri);
        }
        if kind == Some(SegmentKind::Email) && !s.contains(' ') {
            return Some(Format::Email);
        }
        None
    }
}

/// JSON types, in a fixed order.
pub const JSON_TYPES: [&str; 7] = ["null", "boolean", "integer", "number", "string", "array", "object"];

/// How often each JSON type was seen: a fixed array rather than a map (schemas are the bulk of
/// an endpoint's memory), written as a `{type: count}` map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeCounts([u64; 7]);

impl TypeCounts {
    pub fn add(&mut self, ty: &str, n: u64) {
        if let Some(i) = JSON_TYPES.iter().position(|t| *t == ty) {
            if let Some(c) = self.0.get_mut(i) {
                add_count(c, n);
            }
        }
    }

    pub fn get(&self, ty: &str) -> u64 {
        JSON_TYPES.iter().position(|t| *t == ty).and_then(|i| self.0.get(i)).copied().unwrap_or(0)
    }

    pub fn contains_key(&self, ty: &str) -> bool {
        self.get(ty) > 0
    }

    /// The types seen, in the fixed order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        JSON_TYPES.iter().zip(self.0.iter()).filter(|(_, n)| **n > 0).map(|(t, _)| *t)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        JSON_TYPES.iter().zip(self.0.iter()).filter(|(_, n)| **n > 0).map(|(t, n)| (*t, *n))
    }
}

impl Serialize for TypeCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for TypeCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, u64>::deserialize(deserializer)?;
        let mut out = TypeCounts::default();
        for (t, n) in map {
            out.add(&t, n);
        }
        Ok(out)
    }
}

/// An inferred schema. Counts say how many samples carried each part.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Samples merged into this schema.
    pub samples: u64,
    /// JSON types seen (`null`, `boolean`, `integer`, `number`, `string`, `array`, `object`).
    pub types: TypeCounts,
    /// String formats seen, with counts; a format holds when it covers every string.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub formats: BTreeMap<Format, u64>,
    /// Object properties: name -> schema (its `samples` = how many objects had it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, Schema>,
    /// Objects merged (to tell required from optional properties).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub objects: u64,
    /// Array items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Schema>>,
    /// Properties dropped because the object was too wide or too deep.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated: u64,
    /// When the first sample of this part was seen (microseconds since the epoch, packet time):
    /// for a property, when the field first appeared. 0 in schemas made without a time (and in
    /// records written before this was kept): as old as their endpoint.
    #[serde(default, skip_serializing_if = "is_zero_time")]
    pub first_seen: i64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_time(t: &i64) -> bool {
    *t == 0
}

impl Schema {
    /// The schema of one JSON value, without a time.
    pub fn of<J: JsonTree>(value: &J) -> Schema {
        Schema::of_at(value, 0)
    }

    /// The schema of one JSON value seen at `ts`: every part of it first seen then. The value
    /// is a `serde_json::Value` or a [`crate::json::Json`] (an answer read with its strings
    /// borrowed): the same document gives the same schema either way.
    pub fn of_at<J: JsonTree>(value: &J, ts: i64) -> Schema {
        let mut s = Schema::default();
        s.add_at(value, 0, ts);
        s
    }

    /// Merges one more value into this schema (without a time).
    pub fn add<J: JsonTree>(&mut self, value: &J, depth: usize) {
        self.add_at(value, depth, 0);
    }

    /// Merges one more value, seen at `ts`, into this schema.
    pub fn add_at<J: JsonTree>(&mut self, value: &J, depth: usize, ts: i64) {
        self.first_seen = earliest((self.samples, self.first_seen), (1, ts));
        add_count(&mut self.samples, 1);
        let node = value.node();
        let kind = match &node {
            Node::Null => "null",
            Node::Bool(_) => "boolean",
            Node::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Node::Number(_) => "number",
            Node::String(_) => "string",
            Node::Array(_) => "array",
            Node::Object(_) => "object",
        };
        self.types.add(kind, 1);
        match node {
            Node::String(s) => {
                if let Some(f) = Format::of(s) {
                    add_count(self.formats.entry(f).or_default(), 1);
                }
            }
            Node::Array(items) if depth < MAX_DEPTH => {
                let schema = self.items.get_or_insert_with(Default::default);
                // A long array adds little after its first elements; keep merging cheap.
                for item in items.iter().take(32) {
                    schema.add_at(item, depth.saturating_add(1), ts);
                }
            }
            Node::Object(entries) if depth < MAX_DEPTH => {
                add_count(&mut self.objects, 1);
                for (k, v) in entries {
                    self.with_property(k, |p| p.add_at(v, depth.saturating_add(1), ts));
                }
            }
            Node::Array(_) | Node::Object(_) => add_count(&mut self.truncated, 1),
            Node::Number(_) | Node::Bool(_) | Node::Null => {}
        }
    }

    /// Applies `f` to the schema of property `name`, made if it is new and there is room (past
    /// `MAX_PROPERTIES` it is counted as truncated). One lookup, and the name copied only for a
    /// new property: a response's records repeat theirs, and a copy per key per record was most
    /// of what inferring a schema cost.
    fn with_property(&mut self, name: &str, f: impl FnOnce(&mut Schema)) {
        if let Some(property) = self.properties.get_mut(name) {
            f(property);
        } else if self.properties.len() >= MAX_PROPERTIES {
            add_count(&mut self.truncated, 1);
        } else {
            f(self.properties.entry(name.to_owned()).or_default());
        }
    }

    /// Merges another schema (from another run or a renamed endpoint) into this one.
    pub fn merge(&mut self, other: &Schema) {
        self.first_seen = earliest((self.samples, self.first_seen), (other.samples, other.first_seen));
        add_count(&mut self.samples, other.samples);
        add_count(&mut self.objects, other.objects);
        add_count(&mut self.truncated, other.truncated);
        for (k, n) in other.types.iter() {
            self.types.add(k, n);
        }
        for (f, n) in &other.formats {
            add_count(self.formats.entry(*f).or_default(), *n);
        }
        for (k, s) in &other.properties {
            self.with_property(k, |p| p.merge(s));
        }
        if let Some(items) = &other.items {
            self.items.get_or_insert_with(Default::default).merge(items);
        }
    }

    /// The format that every string value had, if any.
    pub fn format(&self) -> Option<Format> {
        let strings = self.types.get("string");
        self.formats.iter().find(|(_, n)| **n == strings && strings > 0).map(|(f, _)| *f)
    }

    /// Properties present in every object.
    pub fn required(&self) -> Vec<&str> {
        self.properties
            .iter()
            .filter(|(_, s)| s.samples >= self.objects && self.objects > 0)
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// The top-level field names: of the object, or of an array's objects.
    pub fn top_level_fields(&self) -> impl Iterator<Item = &String> {
        self.items.as_deref().unwrap_or(self).properties.keys()
    }

    /// A hash of the structure: property names at every depth, the types seen and the format
    /// that holds, not the counts (two samples of one shape agree on it).
    pub fn structure_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        fn feed(s: &Schema, h: &mut std::collections::hash_map::DefaultHasher) {
            s.types.keys().for_each(|t| t.hash(h));
            s.format().hash(h);
            for (name, property) in &s.properties {
                name.hash(h);
                feed(property, h);
            }
            if let Some(items) = &s.items {
                "[]".hash(h);
                feed(items, h);
            }
            ";".hash(h);
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        feed(self, &mut h);
        h.finish()
    }

    /// A compact fingerprint of the top-level shape (type and property names), used to tell
    /// endpoints apart during templating.
    ///
    /// Either tree gives the same fingerprint: both list an object's keys sorted (a `&str`
    /// hashes as the `&String` did), and a scalar hashes the discriminant of the `Value` it is.
    pub fn shape_of<J: JsonTree>(value: &J) -> u64 {
        use std::hash::{Hash, Hasher};
        // Either tree lists an object's entries in key order.
        fn sorted_keys<'t, J: JsonTree + 't>(entries: J::Entries<'t>) -> Vec<&'t str> {
            entries.map(|(k, _)| k).collect()
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        match value.node() {
            Node::Object(entries) => {
                "object".hash(&mut h);
                sorted_keys::<J>(entries).hash(&mut h);
            }
            Node::Array(items) => {
                "array".hash(&mut h);
                if let Some(Node::Object(first)) = items.first().map(JsonTree::node) {
                    sorted_keys::<J>(first).hash(&mut h);
                }
            }
            scalar => {
                let like = match scalar {
                    Node::String(_) => Value::String(String::new()),
                    Node::Number(_) => Value::from(0u8),
                    Node::Bool(b) => Value::Bool(b),
                    _ => Value::Null,
                };
                std::mem::discriminant(&like).hash(&mut h);
            }
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn multi_byte_characters_anywhere_are_inferred_without_panicking() {
        let mut merged = Schema::default();
        for v in crate::test_values::all() {
            // Only what follows the ASCII start of a date-time, URI or e-mail address goes unchecked.
            let format = Format::of(&v);
            assert!(matches!(format, None | Some(Format::DateTime | Format::Uri | Format::Email)), "{v:?}: {format:?}");
            let value = json!({ "s": v, v.as_str(): [v, { v.as_str(): 1 }] });
            let one = Schema::of(&value);
            assert_eq!(one.properties.len(), 2, "{v:?}");
            merged.merge(&one);
            let _ = Schema::shape_of(&value);
        }
        assert_eq!(merged.properties.len(), MAX_PROPERTIES, "bounded whatever the keys");
    }

    /// Shapes are stored with the endpoints that learnt them (in the templater's counts): the
    /// fingerprint read from either tree must stay the one a `Value` gave, written out here as
    /// it was computed before answers were read as `Json`.
    #[test]
    fn a_shape_is_the_fingerprint_a_value_gave() {
        fn as_before(value: &Value) -> u64 {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            match value {
                Value::Object(map) => {
                    "object".hash(&mut h);
                    map.keys().collect::<Vec<&String>>().hash(&mut h);
                }
                Value::Array(items) => {
                    "array".hash(&mut h);
                    if let Some(Value::Object(first)) = items.first() {
                        first.keys().collect::<Vec<&String>>().hash(&mut h);
                    }
                }
                other => std::mem::discriminant(other).hash(&mut h),
            }
            h.finish()
        }
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(7),
            json!(-2.5),
            json!("s"),
            json!({"b": 1, "a": [1]}),
            json!([{"id": 1, "name": "x"}, {"other": 2}]),
            json!([1, 2]),
            json!([]),
            json!({}),
        ];
        let shapes: std::collections::BTreeSet<u64> = values.iter().map(as_before).collect();
        // A scalar's shape is its kind (true and false, 7 and -2.5 share one), and an array
        // without objects is only an array.
        assert_eq!(shapes.len(), values.len() - 3, "{shapes:?}");
        for v in &values {
            let text = serde_json::to_vec(v).unwrap();
            let json = crate::json::Json::parse(&text).unwrap();
            assert_eq!(Schema::shape_of(v), as_before(v), "{v}");
            assert_eq!(Schema::shape_of(&json), as_before(v), "{v}");
            assert_eq!(Schema::of_at(&json, 3), Schema::of_at(v, 3), "{v}");
        }
    }

    #[test]
    fn merges_types_formats_and_optional_fields() {
        let mut s = Schema::of(&json!({"id": 1, "email": "a@b.io", "tags": ["x"], "created": "2024-01-01T00:00:00Z"}));
        s.add(&json!({"id": 2, "email": "c@d.io", "tags": [], "nick": null, "created": "2024-02-01T10:00:00Z"}), 0);
        assert_eq!(s.objects, 2);
        assert_eq!(s.required(), vec!["created", "email", "id", "tags"]);
        assert_eq!(s.properties["email"].format(), Some(Format::Email));
        assert_eq!(s.properties["created"].format(), Some(Format::DateTime));
        assert_eq!(s.properties["id"].types.keys().collect::<Vec<_>>(), vec!["integer"]);
        let round: Schema = serde_json::from_str(&serde_json::to_string(&s).unwrap_or_default()).unwrap_or_default();
        assert_eq!(round, s);
        assert_eq!(s.properties["tags"].items.as_ref().map(|i| i.types.contains_key("string")), Some(true));
    }

    #[test]
    fn formats() {
        let check = |v: &str, f: Option<Format>| assert_eq!(Format::of(v), f, "{v}");
        check("3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c1d", Some(Format::Uuid));
        check("10.0.0.1", Some(Format::Ipv4));
        check("2001:db8::1", Some(Format::Ipv6));
        check("https://example.com/x", Some(Format::Uri));
        check("2024-03-04", Some(Format::Date));
        check("hello world", None);
        check("12:30", None);
    }

    /// `Format::of` as it was before it skipped classifications that could not matter: every
    /// string classified in full.
    fn format_by_full_classification(s: &str) -> Option<Format> {
        use crate::segment::{classify, SegmentKind};
        Format::of_classified(
            s,
            |s| Some(classify(s)),
            |s| classify(s.get(..10).unwrap_or_default()) == SegmentKind::Date,
        )
    }

    #[test]
    fn formats_are_found_as_by_full_classification() {
        let fixed = [
            "3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c1d",
            "3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c1g",
            "3f2b8c1e9d4a4e6b8f1c2a7d5e9b0c1d1234",
            "a@b.c",
            "user17@example.com",
            "user@example",
            "@example.com",
            "a b@example.com",
            "2024-03-04",
            "2024-03-04T10:00:00Z",
            "2024-03-04 10:00",
            "2024-03-04x",
            "2024/03/04",
            "20240-3-04",
            "2024-é3-04",
            "ééééé-03-04",
            "10.0.0.1",
            "::1",
            "https://example.com/x",
            "",
            "é@é.é",
        ];
        for v in fixed {
            assert_eq!(Format::of(v), format_by_full_classification(v), "{v:?}");
        }
        let mut rng = apisonar_testkit::workload::Rng::seeded(36);
        let pieces = ["2024", "-", "03", "T", " ", "@", ".", "com", "a", "f", "9", "é", ":", "x", "0"];
        for _ in 0..50_000 {
            let n = 1 + rng.below(14) as usize;
            let v: String =
                (0..n).filter_map(|_| pieces.get(rng.below(pieces.len() as u64) as usize).copied()).collect();
            assert_eq!(Format::of(&v), format_by_full_classification(&v), "{v:?}");
        }
        // 36 bytes shaped as a UUID, now and then with a dash or a digit out of place.
        let hex = b"0123456789abcdefg-";
        let mut uuids = 0;
        for _ in 0..20_000 {
            let v: String = (0..36)
                .map(|i| match (matches!(i, 8 | 13 | 18 | 23), rng.below(40)) {
                    (true, 0) | (false, 0) => hex.get(rng.below(18) as usize).copied().unwrap_or(b'-'),
                    (true, _) => b'-',
                    (false, _) => hex.get(rng.below(16) as usize).copied().unwrap_or(b'0'),
                })
                .map(char::from)
                .collect();
            let want = format_by_full_classification(&v);
            uuids += usize::from(want == Some(Format::Uuid));
            assert_eq!(Format::of(&v), want, "{v:?}");
        }
        assert!(uuids > 1000 && uuids < 19_000, "{uuids}");
    }

    #[test]
    fn hostile_bodies_are_bounded() {
        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!({ "a": deep });
        }
        let s = Schema::of(&deep);
        assert!(s.truncated > 0 || depth(&s) <= MAX_DEPTH + 1);
        let wide: serde_json::Map<String, Value> = (0..1000).map(|i| (format!("k{i}"), json!(i))).collect();
        let s = Schema::of(&Value::Object(wide));
        assert_eq!((s.properties.len(), s.truncated), (MAX_PROPERTIES, 800));
    }

    #[test]
    fn each_part_keeps_when_it_first_appeared_and_merges_take_the_earliest() {
        let mut s = Schema::of_at(&json!({"items": [{"id": 1}]}), 100);
        s.merge(&Schema::of_at(&json!({"items": [{"id": 2, "email": "a@b.io"}], "next": "x"}), 300));
        let items = s.properties["items"].items.as_deref().unwrap();
        assert_eq!((s.first_seen, s.properties["items"].first_seen, items.first_seen), (100, 100, 100));
        assert_eq!((items.properties["id"].first_seen, items.properties["email"].first_seen), (100, 300));
        assert_eq!(s.properties["next"].first_seen, 300);
        // Merged in the other order, the same times: the earliest wins.
        let mut other = Schema::of_at(&json!({"items": [{"id": 2, "email": "a@b.io"}], "next": "x"}), 300);
        other.merge(&Schema::of_at(&json!({"items": [{"id": 1}]}), 100));
        assert_eq!(other, s);
        // A later sample with an earlier time (workers hand over out of order) moves it back.
        s.add_at(&json!({"next": "y"}), 0, 200);
        assert_eq!(s.properties["next"].first_seen, 200);
        // An empty schema has no time to give, and takes the other's.
        let mut empty = Schema::default();
        empty.merge(&s);
        assert_eq!(empty.properties["next"].first_seen, 200);
        s.merge(&Schema::default());
        assert_eq!(s.first_seen, 100);
        // Through JSON unchanged; a schema without times writes none.
        let round: Schema = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(round, s);
        assert!(!serde_json::to_string(&Schema::of(&json!({"a": 1}))).unwrap().contains("first_seen"));
    }

    fn depth(s: &Schema) -> usize {
        1 + s.properties.values().map(depth).max().unwrap_or(0)
    }
}
