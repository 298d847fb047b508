//! Query strings and form bodies: parameter names with the types of their values (never the
//! values themselves).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::Format;
use crate::stats::{add_count, earliest};

/// What was seen of one parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamInfo {
    /// Requests that carried it.
    pub count: u64,
    /// Value types seen, with counts (`integer`, `number`, `boolean`, `uuid`, `email`, `date`,
    /// `date-time`, `uri`, `ipv4`, `empty`, `string`).
    pub types: BTreeMap<String, u64>,
    /// When it was first carried (microseconds since the epoch, packet time). Records written
    /// before this was kept read 0: as old as their endpoint.
    #[serde(default)]
    pub first_seen: i64,
}

impl ParamInfo {
    /// One more request carried it, at `ts`.
    pub fn add(&mut self, value_type: &str, ts: i64) {
        self.first_seen = earliest((self.count, self.first_seen), (1, ts));
        add_count(&mut self.count, 1);
        add_count(self.types.entry(value_type.to_string()).or_default(), 1);
    }

    pub fn merge(&mut self, other: &ParamInfo) {
        self.first_seen = earliest((self.count, self.first_seen), (other.count, other.first_seen));
        add_count(&mut self.count, other.count);
        for (t, n) in &other.types {
            add_count(self.types.entry(t.clone()).or_default(), *n);
        }
    }

    /// The most specific type that covers every value seen.
    pub fn dominant_type(&self) -> &str {
        let non_empty: Vec<(&String, &u64)> = self.types.iter().filter(|(t, _)| t.as_str() != "empty").collect();
        match non_empty.as_slice() {
            [] => "string",
            [(t, _)] => t.as_str(),
            many if many.iter().all(|(t, _)| matches!(t.as_str(), "integer" | "number")) => "number",
            _ => "string",
        }
    }
}

/// The byte of a `%XX` escape, from the bytes after its `%` (read by `u8::from_str_radix`);
/// and the bytes after it.
pub(crate) fn percent_escape(after_percent: &[u8]) -> Option<(u8, &[u8])> {
    let (hex, rest) = after_percent.split_first_chunk::<2>()?;
    let byte = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
    Some((byte, rest))
}

/// Decodes `%XX` and `+` (form encoding).
pub fn form_decode(s: &str) -> String {
    // Most names and values have nothing to decode: one copy, no decoding buffer.
    if !s.bytes().any(|b| matches!(b, b'+' | b'%')) {
        return s.to_owned();
    }
    let mut rest = s.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        match byte {
            b'+' => out.push(b' '),
            b'%' => match percent_escape(rest) {
                Some((decoded, after)) => {
                    out.push(decoded);
                    rest = after;
                }
                None => out.push(b'%'),
            },
            other => out.push(other),
        }
    }
    String::from_utf8(out).unwrap_or_else(|bad| String::from_utf8_lossy(bad.as_bytes()).into_owned())
}

/// The type of one textual value.
pub fn value_type(v: &str) -> &'static str {
    if v.is_empty() {
        return "empty";
    }
    if v.parse::<i64>().is_ok() {
        return "integer";
    }
    if v.parse::<f64>().is_ok() && v.chars().any(|c| c == '.') {
        return "number";
    }
    if matches!(v, "true" | "false") {
        return "boolean";
    }
    match Format::of(v) {
        Some(f) => f.as_str(),
        None => "string",
    }
}

/// Name and value-type pairs of an `a=1&b=x` string; at most `limit` pairs.
pub fn parse_pairs(s: &str, limit: usize) -> Vec<(String, &'static str)> {
    typed_owned(decoded_pairs(s, limit))
}

/// Each decoded pair's name with the type of its value (see [`value_type`]).
pub fn typed(pairs: &[(String, String)]) -> Vec<(String, &'static str)> {
    pairs.iter().map(|(name, value)| (name.clone(), value_type(value))).collect()
}

/// [`typed`], keeping the names it is given.
pub fn typed_owned(pairs: Vec<(String, String)>) -> Vec<(String, &'static str)> {
    pairs.into_iter().map(|(name, value)| (name, value_type(&value))).collect()
}

/// Decoded name and value pairs of an `a=1&b=x` string; at most `limit` pairs. Values are for
/// immediate classification only and are never kept.
pub fn decoded_pairs(s: &str, limit: usize) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .take(limit)
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (first_chars_owned(form_decode(name), 128), form_decode(value))
        })
        .collect()
}

/// `s` cut to its first `n` characters, kept in place (names are nearly always shorter).
fn first_chars_owned(mut s: String, n: usize) -> String {
    s.truncate(crate::observation::first_chars(&s, n).len());
    s
}

/// Field names of a multipart/form-data body (from `Content-Disposition: form-data; name="..."`).
pub fn multipart_fields(body: &[u8], limit: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    text.match_indices("name=\"")
        .filter_map(|(i, m)| {
            let rest = text.get(i.checked_add(m.len())?..)?;
            let end = rest.find('"')?;
            // Up to 40 bytes before it, from a character boundary: cutting a multi-byte character
            // there used to empty the window and lose the field.
            let from = (i.saturating_sub(40)..i).find(|at| text.is_char_boundary(*at)).unwrap_or(i);
            let before = text.get(from..i).unwrap_or_default().to_ascii_lowercase();
            // `filename="..."` also contains `name="`: the byte before must not be a letter.
            let standalone = !before.ends_with(|c: char| c.is_ascii_alphanumeric());
            (standalone && before.contains("form-data"))
                .then(|| rest.get(..end).unwrap_or_default().chars().take(128).collect())
        })
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_types() {
        assert_eq!(
            parse_pairs("limit=10&q=red+shoes&price=9.5&active=true&email=a%40b.io&empty=&flag", 10),
            vec![
                ("limit".to_string(), "integer"),
                ("q".to_string(), "string"),
                ("price".to_string(), "number"),
                ("active".to_string(), "boolean"),
                ("email".to_string(), "email"),
                ("empty".to_string(), "empty"),
                ("flag".to_string(), "empty"),
            ]
        );
        assert_eq!(parse_pairs(&"a=1&".repeat(1000), 5).len(), 5);
        assert_eq!(form_decode("%zz%4"), "%zz%4");
        // Names are kept to 128 characters, cut at a character boundary; values whole.
        let long = format!("{}=v", "é".repeat(200));
        let pairs = decoded_pairs(&long, 1);
        assert_eq!(pairs, vec![("é".repeat(128), "v".to_string())]);
        assert_eq!(
            decoded_pairs("plain=as-is&x=a%2Bb+c", 5),
            vec![("plain".to_string(), "as-is".to_string()), ("x".to_string(), "a+b c".to_string())]
        );
        assert_eq!(typed_owned(decoded_pairs("n=1&s=x", 5)), typed(&decoded_pairs("n=1&s=x", 5)));
    }

    #[test]
    fn dominant_types() {
        let mut p = ParamInfo::default();
        p.add("integer", 5);
        p.add("empty", 6);
        assert_eq!(p.dominant_type(), "integer");
        p.add("number", 7);
        assert_eq!(p.dominant_type(), "number");
        p.add("string", 8);
        assert_eq!(p.dominant_type(), "string");
    }

    #[test]
    fn first_seen_is_the_earliest_time_whatever_the_order() {
        let mut p = ParamInfo::default();
        p.add("integer", 50);
        p.add("integer", 20);
        p.add("integer", 90);
        assert_eq!((p.count, p.first_seen), (3, 20));
        // Merging takes the earlier time; an empty record has none to give.
        let mut later = ParamInfo::default();
        later.add("string", 70);
        later.merge(&p);
        assert_eq!((later.count, later.first_seen), (4, 20));
        let mut empty = ParamInfo::default();
        empty.merge(&later);
        assert_eq!(empty.first_seen, 20);
        later.merge(&ParamInfo::default());
        assert_eq!(later.first_seen, 20);
        // A record of a store written before times were kept (0) stays as old as it was.
        let mut old = ParamInfo { count: 9, types: BTreeMap::from([("integer".into(), 9)]), first_seen: 0 };
        old.add("integer", 1_000);
        assert_eq!(old.first_seen, 0);
    }

    #[test]
    fn multi_byte_characters_anywhere_are_decoded_and_typed_without_panicking() {
        assert_eq!(form_decode("%C3%A9+%é%u%"), "é %é%u%");
        for v in crate::test_values::all() {
            let encoded: String = v.bytes().map(|b| format!("%{b:02X}")).collect();
            assert_eq!(form_decode(&encoded), v);
            let pairs = format!("{v}={v}&{v}&q={encoded}");
            let typed = parse_pairs(&pairs, 64);
            let decoded = decoded_pairs(&pairs, 64);
            assert_eq!(typed.len(), decoded.len(), "{pairs}");
            for ((name, value_type_of), (same_name, value)) in typed.iter().zip(&decoded) {
                assert_eq!((name, *value_type_of), (same_name, value_type(value)), "{pairs}");
            }
            let body = format!("--b\r\nContent-Disposition: form-data; name=\"{v}\"\r\n\r\n{v}\r\n--b--");
            let fields = multipart_fields(body.as_bytes(), 64);
            if !v.contains('"') {
                assert_eq!(fields, vec![v.chars().take(128).collect::<String>()], "{body}");
            }
        }
        // A multi-byte character cut by the 40-byte window before `name="` loses nothing.
        for n in 0..16 {
            let body = format!("{}form-data; name=\"f\"", "€".repeat(n));
            assert_eq!(multipart_fields(body.as_bytes(), 10), vec!["f"], "{body}");
        }
    }

    #[test]
    fn multipart() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\ny\r\n--b--";
        assert_eq!(multipart_fields(body, 10), vec!["title", "file"]);
    }
}
