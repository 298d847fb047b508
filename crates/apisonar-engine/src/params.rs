//! Query strings and form bodies: parameter names with the types of their values (never the
//! values themselves).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::Format;

/// What was seen of one parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamInfo {
    /// Requests that carried it.
    pub count: u64,
    /// Value types seen, with counts (`integer`, `number`, `boolean`, `uuid`, `email`, `date`,
    /// `date-time`, `uri`, `ipv4`, `empty`, `string`).
    pub types: BTreeMap<String, u64>,
}

impl ParamInfo {
    pub fn add(&mut self, value_type: &str) {
        self.count += 1;
        *self.types.entry(value_type.to_string()).or_default() += 1;
    }

    pub fn merge(&mut self, other: &ParamInfo) {
        self.count += other.count;
        for (t, n) in &other.types {
            *self.types.entry(t.clone()).or_default() += n;
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

/// Decodes `%XX` and `+` (form encoding).
pub fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() + 1 && b.get(i + 1..i + 3).is_some() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    s.split('&')
        .filter(|p| !p.is_empty())
        .take(limit)
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name: String = form_decode(name).chars().take(128).collect();
            (name, value_type(&form_decode(value)))
        })
        .collect()
}

/// Decoded name and value pairs of an `a=1&b=x` string; at most `limit` pairs. Values are for
/// immediate classification only and are never kept.
pub fn decoded_pairs(s: &str, limit: usize) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .take(limit)
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name).chars().take(128).collect(), form_decode(value))
        })
        .collect()
}

/// Field names of a multipart/form-data body (from `Content-Disposition: form-data; name="..."`).
pub fn multipart_fields(body: &[u8], limit: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    text.match_indices("name=\"")
        .filter_map(|(i, m)| {
            let rest = text.get(i + m.len()..)?;
            let end = rest.find('"')?;
            let before = text.get(i.saturating_sub(40)..i).unwrap_or_default().to_ascii_lowercase();
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
    }

    #[test]
    fn dominant_types() {
        let mut p = ParamInfo::default();
        p.add("integer");
        p.add("empty");
        assert_eq!(p.dominant_type(), "integer");
        p.add("number");
        assert_eq!(p.dominant_type(), "number");
        p.add("string");
        assert_eq!(p.dominant_type(), "string");
    }

    #[test]
    fn multipart() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\ny\r\n--b--";
        assert_eq!(multipart_fields(body, 10), vec!["title", "file"]);
    }
}
