//! gRPC: operations, message framing, status, and protobuf messages read without a schema.
//!
//! A gRPC call is `POST /package.Service/Method` with a body of length-prefixed messages (the
//! flow layer has already undone per-message compression). The status comes in the
//! `grpc-status` trailer, or in the headers of a trailers-only answer, or (gRPC-Web) in a
//! trailer frame at the end of the body.
//!
//! Messages are decoded without their `.proto`: each field is known only by its number and wire
//! type. A length-delimited field is a string when it is printable text, a nested message when
//! it parses as one exactly, and opaque bytes otherwise (what `protoc --decode_raw` does too).
//! The result is a JSON value keyed by field number, so the inventory's schema inference and
//! sensitive-data scan read protobuf as they read JSON.

use serde_json::{Map, Value};

/// Flag bit of a gRPC-Web trailer frame.
const TRAILER_FRAME: u8 = 0x80;
/// Nested messages followed this deep; deeper ones are left as bytes.
const MAX_DEPTH: usize = 16;
/// Fields decoded per body (all messages and nesting together): bounds the work per call.
const MAX_FIELDS: usize = 2048;
/// Messages of one body turned into values (a stream keeps its first ones).
const MAX_MESSAGES: usize = 16;

/// What one call says beyond HTTP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrpcFacts {
    /// Messages seen in the request and the response bodies (as far as the samples go).
    pub request_messages: u32,
    pub response_messages: u32,
    /// The `grpc-status` code, when the answer carried one.
    pub status: Option<u16>,
}

/// True for the gRPC content types (`application/grpc`, `+proto`, gRPC-Web).
pub fn is_grpc(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| ct.starts_with("application/grpc") && !ct.starts_with("application/grpc-web-text"))
}

/// One length-prefixed frame of a body.
struct Frame<'a> {
    flags: u8,
    message: &'a [u8],
}

fn frames(mut body: &[u8]) -> impl Iterator<Item = Frame<'_>> {
    std::iter::from_fn(move || {
        let (prefix, rest) = body.split_first_chunk::<5>()?;
        let [flags, a, b, c, d] = *prefix;
        let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
        // A message cut by the end of the sample is given as far as it goes.
        let message = rest.get(..len).unwrap_or(rest);
        body = rest.get(len..).unwrap_or_default();
        Some(Frame { flags, message })
    })
}

/// Data messages in a body (trailer frames not counted).
pub fn message_count(body: &[u8]) -> u32 {
    let n = frames(body).filter(|f| f.flags & TRAILER_FRAME == 0).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The call's status: `grpc-status` among the header fields (trailers included), else in a
/// gRPC-Web trailer frame of the response body.
pub fn status(headers: &crate::observation::Headers, body: &[u8]) -> Option<u16> {
    let parse = |v: &str| v.trim().parse::<u16>().ok();
    if let Some(v) = headers.get("grpc-status") {
        return parse(v);
    }
    let trailer = frames(body).find(|f| f.flags & TRAILER_FRAME != 0)?;
    let text = String::from_utf8_lossy(trailer.message);
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("grpc-status").then(|| parse(value)).flatten()
    })
}

/// The canonical name of a status code.
pub fn status_name(code: u16) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "OTHER",
    }
}

/// `UNIMPLEMENTED`: the server has no such method (what a probe gets).
pub const UNIMPLEMENTED: u16 = 12;

/// The messages of a body as one value: the message itself for one, an array for several (a
/// stream), `None` when there is none that decodes.
pub fn body_value(body: &[u8]) -> Option<Value> {
    let mut budget = MAX_FIELDS;
    let mut values: Vec<Value> = frames(body)
        .filter(|f| f.flags & TRAILER_FRAME == 0)
        .take(MAX_MESSAGES)
        .filter_map(|f| message(f.message, 0, &mut budget).map(Value::Object))
        .collect();
    match values.len() {
        0 => None,
        1 => values.pop(),
        _ => Some(Value::Array(values)),
    }
}

/// Reads a base-128 varint (at most 10 bytes) from the front of `bytes`.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// One protobuf message, or `None` when `bytes` is not exactly one.
pub fn decode_message(bytes: &[u8]) -> Option<Value> {
    let mut budget = MAX_FIELDS;
    message(bytes, 0, &mut budget).map(Value::Object)
}

fn message(mut bytes: &[u8], depth: usize, budget: &mut usize) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    while !bytes.is_empty() {
        *budget = budget.checked_sub(1)?;
        let key = varint(&mut bytes)?;
        let field = key >> 3;
        if field == 0 || field > 0x1fff_ffff {
            return None;
        }
        let value = match key & 7 {
            0 => integer(varint(&mut bytes)?),
            1 => {
                let (b, rest) = bytes.split_first_chunk::<8>()?;
                bytes = rest;
                fixed64(u64::from_le_bytes(*b))
            }
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                if len > bytes.len() {
                    return None;
                }
                let (inner, rest) = bytes.split_at(len);
                bytes = rest;
                length_delimited(inner, depth, budget)
            }
            5 => {
                let (b, rest) = bytes.split_first_chunk::<4>()?;
                bytes = rest;
                fixed32(u32::from_le_bytes(*b))
            }
            // Groups (3, 4) are long deprecated; 6 and 7 do not exist.
            _ => return None,
        };
        let name = field.to_string();
        match out.get_mut(&name) {
            // A repeated field.
            Some(Value::Array(items)) => items.push(value),
            Some(first) => {
                let first = first.take();
                out.insert(name, Value::Array(vec![first, value]));
            }
            None => {
                out.insert(name, value);
            }
        }
    }
    Some(out)
}

/// Varints are unsigned on the wire; negative int32/int64 values come as huge ones.
fn integer(v: u64) -> Value {
    match i64::try_from(v) {
        Ok(n) => Value::from(n),
        Err(_) => Value::from(i64::from_le_bytes(v.to_le_bytes())),
    }
}

/// A double when the bits read as an everyday number, else the integer (fixed64/sfixed64).
fn fixed64(bits: u64) -> Value {
    let f = f64::from_bits(bits);
    let plausible = f == 0.0 || (f.is_finite() && (1e-9..1e15).contains(&f.abs()));
    if plausible && bits != 0 {
        serde_json::Number::from_f64(f).map_or(Value::from(bits), Value::Number)
    } else {
        Value::from(bits)
    }
}

fn fixed32(bits: u32) -> Value {
    let f = f32::from_bits(bits);
    let plausible = f.is_finite() && (1e-6..1e9).contains(&f.abs());
    if plausible {
        serde_json::Number::from_f64(f64::from(f)).map_or(Value::from(bits), Value::Number)
    } else {
        Value::from(bits)
    }
}

fn length_delimited(bytes: &[u8], depth: usize, budget: &mut usize) -> Value {
    let text = std::str::from_utf8(bytes).ok();
    if let Some(t) = text {
        if t.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')) {
            return Value::String(t.to_string());
        }
    }
    if depth < MAX_DEPTH && !bytes.is_empty() {
        // A failed attempt gives its budget back: the bytes are then a string or opaque.
        let mut trial = *budget;
        if let Some(m) = message(bytes, depth.saturating_add(1), &mut trial) {
            *budget = trial;
            return Value::Object(m);
        }
    }
    match text {
        Some(t) => Value::String(t.to_string()),
        None => Value::String(format!("<{} bytes>", bytes.len())),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn framed(flags: u8, m: &[u8]) -> Vec<u8> {
        let mut out = vec![flags];
        out.extend_from_slice(&(m.len() as u32).to_be_bytes());
        out.extend_from_slice(m);
        out
    }

    #[test]
    fn messages_decode_by_field_number_with_nesting_repeats_and_numbers() {
        // 1: "o-17"; 2: "alice@example.com"; 3: {1: "sku-1", 2: 2, 3: 9.5 (double)} twice;
        // 4: 1700000000 (varint); 5: true; 6: -1 (int64)
        let mut m = vec![0x0a, 4];
        m.extend_from_slice(b"o-17");
        m.extend_from_slice(&[0x12, 17]);
        m.extend_from_slice(b"alice@example.com");
        let mut item = vec![0x0a, 5];
        item.extend_from_slice(b"sku-1");
        item.extend_from_slice(&[0x10, 2, 0x19]);
        item.extend_from_slice(&9.5f64.to_le_bytes());
        for _ in 0..2 {
            m.extend_from_slice(&[0x1a, item.len() as u8]);
            m.extend_from_slice(&item);
        }
        m.extend_from_slice(&[0x20, 0x80, 0xe2, 0xcf, 0xaa, 0x06, 0x28, 1, 0x30]);
        m.extend_from_slice(&[0xff; 9]);
        m.push(0x01);
        let v = decode_message(&m).unwrap();
        assert_eq!(
            v,
            json!({"1": "o-17", "2": "alice@example.com",
                   "3": [{"1": "sku-1", "2": 2, "3": 9.5}, {"1": "sku-1", "2": 2, "3": 9.5}],
                   "4": 1_700_000_000, "5": 1, "6": -1})
        );
    }

    #[test]
    fn bodies_give_one_value_per_message_and_trailer_frames_carry_the_status() {
        let mut body = framed(0, &[0x08, 1]);
        body.extend(framed(0, &[0x08, 2]));
        body.extend(framed(0x80, b"grpc-status: 5\r\ngrpc-message: nope\r\n"));
        assert_eq!(message_count(&body), 2);
        assert_eq!(body_value(&body), Some(json!([{"1": 1}, {"1": 2}])));
        assert_eq!(status(&Default::default(), &body), Some(5));
        let headers = [("grpc-status", "0")].into();
        assert_eq!(status(&headers, &body), Some(0));
        assert_eq!(body_value(&framed(0, &[0x08, 1])), Some(json!({"1": 1})));
        assert_eq!(status_name(5), "NOT_FOUND");
    }

    #[test]
    fn hostile_bytes_are_not_messages_and_cost_a_bounded_amount() {
        for bad in [&[0x08][..], &[0x0a, 5, b'a'], &[0x0b], &[0x00, 1], &[0xff; 11]] {
            assert_eq!(decode_message(bad), None, "{bad:?}");
        }
        // Bytes that are neither text nor a message stay opaque.
        assert_eq!(decode_message(&[0x0a, 2, 0xff, 0xfe]), Some(json!({"1": "<2 bytes>"})));
        // Deep nesting stops at the depth limit, as bytes.
        let mut m = vec![0x08, 1];
        for _ in 0..100 {
            let mut outer = vec![0x0a];
            outer.push(m.len() as u8);
            outer.extend(&m);
            if outer.len() > 120 {
                break;
            }
            m = outer;
        }
        assert!(decode_message(&m).is_some());
        // A huge run of tiny fields hits the field budget.
        let many: Vec<u8> = [0x08, 1].repeat(MAX_FIELDS + 1);
        assert_eq!(decode_message(&many), None);
        assert!(is_grpc(Some("application/grpc+proto")) && !is_grpc(Some("application/json")));
    }
}
