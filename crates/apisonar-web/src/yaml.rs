//! A small YAML emitter for JSON values (block style; every string double-quoted, which YAML
//! reads exactly like JSON), so exported documents need no YAML library.

use serde_json::Value;

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty()) || matches!(v, Value::Object(o) if !o.is_empty())
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, val) in map {
                let key = serde_json::to_string(k).unwrap_or_default();
                if is_block(val) {
                    out.push_str(&format!("{pad}{key}:\n"));
                    emit(val, indent.saturating_add(2), out);
                } else {
                    out.push_str(&format!("{pad}{key}: {}\n", scalar(val)));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                if is_block(item) {
                    out.push_str(&format!("{pad}-\n"));
                    emit(item, indent.saturating_add(2), out);
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// The YAML text of a JSON value.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    emit(v, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emits_nested_blocks_and_quoted_scalars() {
        let v = json!({"a": 1, "b": ["x", {"c": true}], "d": {}, "e": "line\nbreak: yes", "f": []});
        assert_eq!(
            to_yaml(&v),
            "\"a\": 1\n\"b\":\n  - \"x\"\n  -\n    \"c\": true\n\"d\": {}\n\"e\": \"line\\nbreak: yes\"\n\"f\": []\n"
        );
    }
}
