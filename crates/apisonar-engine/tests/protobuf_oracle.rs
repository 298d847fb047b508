//! The schema-less protobuf decoder against `protoc --decode_raw` on the messages of a real
//! grpcio capture (captures/expect/grpc-shop.pcap.protobuf.txt, made by
//! captures/tshark-expect-grpc.sh): same field numbers, nesting, repeats and values.

use serde_json::Value;

/// A value as protoc prints it.
#[derive(Debug)]
enum Raw {
    Text(String),
    Int(u64),
    /// `0x` and 16 hex digits (fixed64) or 8 (fixed32).
    Fixed(u64, usize),
    Message(Vec<(String, Raw)>),
}

fn unescape(quoted: &str) -> String {
    let inner = &quoted[1..quoted.len() - 1];
    let mut out = Vec::new();
    let mut chars = inner.bytes().peekable();
    while let Some(c) = chars.next() {
        if c != b'\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    if let Some(&n @ b'0'..=b'7') = chars.peek() {
                        v = v * 8 + u32::from(n - b'0');
                        chars.next();
                    }
                }
                out.push(v as u8);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse(lines: &mut std::slice::Iter<'_, &str>) -> Vec<(String, Raw)> {
    let mut fields = Vec::new();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line == "}" {
            break;
        }
        if let Some(name) = line.strip_suffix(" {") {
            fields.push((name.to_string(), Raw::Message(parse(lines))));
            continue;
        }
        let (name, value) = line.split_once(": ").unwrap();
        let raw = if value.starts_with('"') {
            Raw::Text(unescape(value))
        } else if let Some(hex) = value.strip_prefix("0x") {
            Raw::Fixed(u64::from_str_radix(hex, 16).unwrap(), hex.len())
        } else {
            Raw::Int(value.parse().unwrap())
        };
        fields.push((name.to_string(), raw));
    }
    fields
}

fn same(ours: &Value, theirs: &Raw) -> bool {
    match (ours, theirs) {
        (Value::String(a), Raw::Text(b)) => a == b,
        (Value::Number(n), Raw::Int(b)) => n.as_u64() == Some(*b) || n.as_i64().map(|i| i as u64) == Some(*b),
        (Value::Number(n), Raw::Fixed(bits, 16)) => {
            n.as_u64() == Some(*bits) || n.as_f64().map(f64::to_bits) == Some(*bits)
        }
        (Value::Number(n), Raw::Fixed(bits, _)) => {
            n.as_u64() == Some(*bits) || n.as_f64().map(|f| (f as f32).to_bits() as u64) == Some(*bits)
        }
        (Value::Object(map), Raw::Message(fields)) => {
            let mut names: Vec<&String> = fields.iter().map(|(n, _)| n).collect();
            names.dedup();
            names.len() == map.len()
                && names.iter().all(|name| {
                    let theirs: Vec<&Raw> = fields.iter().filter(|(n, _)| n == *name).map(|(_, r)| r).collect();
                    match (map.get(name.as_str()), theirs.as_slice()) {
                        (Some(v), [one]) => same(v, one),
                        (Some(Value::Array(items)), many) => {
                            items.len() == many.len() && items.iter().zip(many).all(|(a, b)| same(a, b))
                        }
                        _ => false,
                    }
                })
        }
        _ => false,
    }
}

#[test]
fn messages_of_a_real_grpc_capture_decode_as_protoc_decode_raw_does() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("captures/expect/grpc-shop.pcap.protobuf.txt")).unwrap();
    let mut checked = 0;
    for block in text.split("\n## connection").skip(1) {
        let lines: Vec<&str> = block.lines().collect();
        let hex = lines.iter().find_map(|l| l.strip_prefix("## hex ")).unwrap();
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        let body: Vec<&str> = lines.iter().skip_while(|l| !l.starts_with("## hex")).skip(1).copied().collect();
        let expected = Raw::Message(parse(&mut body.iter()));
        let ours = apisonar_engine::grpc::decode_message(&bytes).unwrap_or(Value::Null);
        assert!(same(&ours, &expected), "{}\nours: {ours}\nprotoc: {expected:?}", lines[0]);
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} messages");
}
