//! JSON read without copying its strings, for the request bodies every transaction's analysis
//! parses: the sensitive-data scan and the injection search only read the document, and a
//! `serde_json::Value` costs a string for every key and value and a tree node for every object
//! (about 5% of a flow worker's time on the benchmark, where three requests in ten have a body).
//!
//! [`Json`] is made by serde_json's own parser, so it accepts exactly the documents
//! `serde_json::from_slice::<Value>` accepts (the same nesting limit, numbers, escapes and
//! UTF-8 checks), and holds what that `Value` holds: each object's keys sorted and each key
//! once, with the last value given for it, as the `Value`'s map has them. Its strings borrow the
//! body unless they held escapes. [`Json::to_value`] makes the `Value` when a reader needs one
//! (a sampled request schema, a JSON-RPC or GraphQL operation).
//!
//! [`JsonTree`] lets one walk read either: the scans are written once for both.

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A JSON document whose strings borrow the text it was read from (see the module comment).
#[derive(Clone, Debug, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Sorted by key, each key once.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// The first key of an object that makes serde_json (with its `raw_value` feature, which a
/// dependency turns on) read the object as a raw value rather than a map. Such a document is
/// read as a `Value` and converted, so that it holds what the `Value` does.
const RAW_VALUE_KEY: &str = "$serde_json::private::RawValue";

/// `serde_json::from_slice`, with the same result: a body that is UTF-8 throughout (nearly
/// every one) is checked once, in one fast pass, and read as text, where reading bytes checks
/// every string on its own (about 90 instructions a string).
pub(crate) fn from_body<'a, T: serde::Deserialize<'a>>(text: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(text) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(text),
    }
}

impl<'a> Json<'a> {
    /// The document `text` holds, if `serde_json::from_slice::<Value>` would read one.
    pub fn parse(text: &'a [u8]) -> Option<Json<'a>> {
        match from_body::<Json<'a>>(text) {
            Ok(json) => Some(json),
            Err(e) if e.to_string().starts_with(RAW_VALUE_KEY) => from_body::<Value>(text).ok().map(Json::owned),
            Err(_) => None,
        }
    }

    /// The same document as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect())
            }
        }
    }

    /// A `Value` taken over (its map is already sorted, each key once).
    pub(crate) fn owned(value: Value) -> Json<'static> {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n),
            Value::String(s) => Json::String(Cow::Owned(s)),
            Value::Array(items) => Json::Array(items.into_iter().map(Json::owned).collect()),
            Value::Object(map) => Json::Object(map.into_iter().map(|(k, v)| (Cow::Owned(k), Json::owned(v))).collect()),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Reads values as `Value`'s own visitor does (numbers, nulls and all), strings borrowed.
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_i128<E: serde::de::Error>(self, n: i128) -> Result<Json<'de>, E> {
        Number::deserialize(serde::de::value::I128Deserializer::new(n)).map(Json::Number)
    }

    fn visit_u128<E: serde::de::Error>(self, n: u128) -> Result<Json<'de>, E> {
        Number::deserialize(serde::de::value::U128Deserializer::new(n)).map(Json::Number)
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(deserializer)
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            if entries.is_empty() && key == RAW_VALUE_KEY {
                return Err(A::Error::custom(RAW_VALUE_KEY));
            }
            entries.push((key, map.next_value()?));
        }
        // As a map inserting them in order: sorted, and the last value of a key repeated
        // wins (reversed, a stable sort puts the last given first of its run; dedup keeps it).
        if entries.len() > 1 {
            entries.reverse();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            entries.dedup_by(|(later, _), (kept, _)| later == kept);
        }
        Ok(Json::Object(entries))
    }
}

/// An object's key, borrowed from the text unless it held escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A JSON document as the scans read it: `serde_json::Value` or [`Json`].
pub trait JsonTree: Sized {
    /// An object's keys and values, in key order (either way).
    type Entries<'t>: DoubleEndedIterator<Item = (&'t str, &'t Self)>
    where
        Self: 't;

    fn node(&self) -> Node<'_, Self>;
}

/// What one value of a [`JsonTree`] is.
pub enum Node<'t, J: JsonTree + 't> {
    Object(J::Entries<'t>),
    Array(&'t [J]),
    String(&'t str),
    Number(&'t Number),
    Bool(bool),
    Null,
}

type ValueEntries<'t> = std::iter::Map<serde_json::map::Iter<'t>, fn((&'t String, &'t Value)) -> (&'t str, &'t Value)>;

impl JsonTree for Value {
    type Entries<'t> = ValueEntries<'t>;

    fn node(&self) -> Node<'_, Value> {
        fn entry<'t>((k, v): (&'t String, &'t Value)) -> (&'t str, &'t Value) {
            (k.as_str(), v)
        }
        match self {
            Value::Object(map) => Node::Object(map.iter().map(entry as fn(_) -> _)),
            Value::Array(items) => Node::Array(items),
            Value::String(s) => Node::String(s),
            Value::Number(n) => Node::Number(n),
            Value::Bool(b) => Node::Bool(*b),
            Value::Null => Node::Null,
        }
    }
}

type JsonEntries<'t, 'a> = std::iter::Map<
    std::slice::Iter<'t, (Cow<'a, str>, Json<'a>)>,
    fn(&'t (Cow<'a, str>, Json<'a>)) -> (&'t str, &'t Json<'a>),
>;

impl<'a> JsonTree for Json<'a> {
    type Entries<'t>
        = JsonEntries<'t, 'a>
    where
        Self: 't;

    fn node(&self) -> Node<'_, Json<'a>> {
        fn entry<'t, 'a>((k, v): &'t (Cow<'a, str>, Json<'a>)) -> (&'t str, &'t Json<'a>) {
            (k.as_ref(), v)
        }
        match self {
            Json::Object(entries) => Node::Object(entries.iter().map(entry as fn(_) -> _)),
            Json::Array(items) => Node::Array(items),
            Json::String(s) => Node::String(s),
            Json::Number(n) => Node::Number(n),
            Json::Bool(b) => Node::Bool(*b),
            Json::Null => Node::Null,
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// What `Value` makes of `text`, and what `Json` makes of it, as values. (An object whose
    /// first key is `RAW_VALUE_KEY` reads differently only with serde_json's `raw_value`
    /// feature, which the workspace's build turns on: `cargo test --workspace`.)
    fn both(text: &[u8]) -> (Option<Value>, Option<Value>) {
        (serde_json::from_slice::<Value>(text).ok(), Json::parse(text).map(|j| j.to_value()))
    }

    #[test]
    fn a_body_read_as_text_reads_as_its_bytes_do() {
        let texts: &[&[u8]] = &[
            br#"{"a":"b","c":[1,2.5,true,null],"d":{"e":"\u00e9\n"}}"#,
            "{\"é\":\"ü€𝄞\"}".as_bytes(),
            b"{\"a\":\"\xff\"}",
            b"{\"a\":1}\xff",
            b"\xef\xbb\xbf{}",
            b"{\"a\":\"\xed\xa0\x80\"}",
            b"[1,2",
            b"",
            br#"{"$serde_json::private::RawValue":1}"#,
        ];
        for text in texts {
            let by_text = from_body::<Value>(text).map_err(|e| e.to_string());
            let by_bytes = serde_json::from_slice::<Value>(text).map_err(|e| e.to_string());
            assert_eq!(by_text, by_bytes, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn reads_what_a_value_reads() {
        let texts: &[&[u8]] = &[
            br#"{"b":1,"a":[true,null,-2,3.5,1e400],"c":{"z":"x","y":"\u00e9\n"}}"#,
            br#"{"k":1,"k":2,"a":0,"k":3}"#,
            br#"[{"jsonrpc":"2.0","method":"m"},"s",18446744073709551615,-9223372036854775808]"#,
            br#"{"\u0061":1,"a":2}"#,
            br#"{"$serde_json::private::RawValue":"{\"x\":1}"}"#,
            br#"{"\u0024serde_json::private::RawValue":"[1,2]"}"#,
            br#"{"a":{"$serde_json::private::RawValue":"not json"}}"#,
            br#"{"a":1,"$serde_json::private::RawValue":"x"}"#,
            b"{\"a\":\"\xff\"}",
            b"{\"a\":1} x",
            b"  [ ]  ",
            b"{}",
            b"\"plain\"",
            b"",
            b"{\"a\":",
            br#"{"a":"\ud800"}"#,
        ];
        for text in texts {
            let (value, json) = both(text);
            assert_eq!(value, json, "{}", String::from_utf8_lossy(text));
        }
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(both(deep.as_bytes()), (None, None), "past serde_json's nesting limit");
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = br#"{"name":"ann","note":"a\"b"}"#;
        let json = Json::parse(text).unwrap();
        let Json::Object(entries) = &json else { panic!("an object") };
        assert!(entries.iter().all(|(k, _)| matches!(k, Cow::Borrowed(_))));
        let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        assert!(matches!(get("name"), Some(Json::String(Cow::Borrowed("ann")))));
        assert!(matches!(get("note"), Some(Json::String(Cow::Owned(s))) if s == "a\"b"));
        assert_eq!(get("missing"), None);
    }

    #[test]
    fn random_documents_read_as_values_do() {
        let mut rng = apisonar_testkit::workload::Rng::seeded(7);
        for _ in 0..3000 {
            let mut text = String::new();
            document(&mut rng, 0, &mut text);
            if rng.below(20) == 0 {
                let cut = rng.below(text.len() as u64) as usize;
                text.truncate(text.floor_char_boundary(cut));
            }
            let (value, json) = both(text.as_bytes());
            assert_eq!(value, json, "{text}");
            // Walked as trees, both give the same keys and strings in the same order, and the
            // same schema and shape (answers are read as `Json`, stored schemas were `Value`'s).
            if let (Some(v), Some(j)) = (&value, Json::parse(text.as_bytes())) {
                assert_eq!(leaves(v), leaves(&j), "{text}");
                assert_eq!(crate::schema::Schema::of_at(v, 5), crate::schema::Schema::of_at(&j, 5), "{text}");
                assert_eq!(crate::schema::Schema::shape_of(v), crate::schema::Schema::shape_of(&j), "{text}");
            }
        }
    }

    /// A random document, keys drawn from a few so that they repeat, now and then escaped, cut
    /// short or followed by garbage.
    fn document(rng: &mut apisonar_testkit::workload::Rng, depth: usize, out: &mut String) {
        const KEYS: &[&str] =
            &["a", "b", "id", r"\u0061", r#"e\"x"#, r"\ud83d\ude00", "é", "$serde_json::private::RawValue"];
        const SCALARS: &[&str] = &[
            "1",
            "-0",
            "2.5e3",
            "1e999",
            "18446744073709551616",
            "true",
            "false",
            "null",
            r#""s""#,
            r#""\n""#,
            r#""\ud800""#,
            r#""a@b.test""#,
            r#""2026-12-08T01:02:03Z""#,
            r#""6f1c2d3e-4a5b-4c6d-8e7f-901234567890""#,
        ];
        let pick = |rng: &mut apisonar_testkit::workload::Rng, list: &[&'static str]| {
            list[rng.below(list.len() as u64) as usize]
        };
        match if depth > 4 { 2 } else { rng.below(3) } {
            0 => {
                out.push('{');
                for i in 0..rng.below(5) {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("\"{}\":", pick(rng, KEYS)));
                    document(rng, depth + 1, out);
                }
                out.push('}');
            }
            1 => {
                out.push('[');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    document(rng, depth + 1, out);
                }
                out.push(']');
            }
            _ => out.push_str(pick(rng, SCALARS)),
        }
        if depth == 0 && rng.below(20) == 0 {
            out.push_str(if rng.below(2) == 0 { "x" } else { "," });
        }
    }

    fn leaves<J: JsonTree>(value: &J) -> Vec<String> {
        let mut out = Vec::new();
        match value.node() {
            Node::Object(entries) => {
                for (k, v) in entries.rev() {
                    out.push(format!("key {k}"));
                    out.extend(leaves(v));
                }
            }
            Node::Array(items) => items.iter().for_each(|v| out.extend(leaves(v))),
            Node::String(s) => out.push(format!("string {s}")),
            Node::Number(n) => out.push(format!("number {n}")),
            Node::Bool(b) => out.push(format!("bool {b}")),
            Node::Null => out.push("null".into()),
        }
        out
    }
}
