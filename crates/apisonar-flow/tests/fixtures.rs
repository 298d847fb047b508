//! HTTP conversation fixtures: each file in tests/fixtures holds client (`>>>`) and server
//! (`<<<`) byte blocks in the order they are sent, and the expected transactions (`===`).
//!
//! In a block, every line but the last is followed by CRLF, so a head ends with two empty lines.
//! `\r`, `\n` and `\xNN` escapes are expanded. Set `UPDATE_FIXTURES=1` to rewrite expectations
//! (then review the diff).

mod common;

use apisonar_flow::Limits;
use apisonar_testkit::{Conversation, Side};

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'r')) => {
                out.push(b'\r');
                i += 2;
            }
            (b'\\', Some(b'n')) => {
                out.push(b'\n');
                i += 2;
            }
            (b'\\', Some(b'x')) if i + 3 < b.len() + 1 => {
                let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

struct Fixture {
    blocks: Vec<(Side, Vec<u8>)>,
    expected: Vec<String>,
    head: String,
}

fn parse(text: &str) -> Fixture {
    let mut blocks: Vec<(Side, Vec<u8>)> = Vec::new();
    let mut expected = Vec::new();
    let mut head = String::new();
    let mut current: Option<(Side, Vec<&str>)> = None;
    let mut in_expect = false;
    let flush = |cur: &mut Option<(Side, Vec<&str>)>, blocks: &mut Vec<(Side, Vec<u8>)>| {
        if let Some((side, lines)) = cur.take() {
            blocks.push((side, unescape(&lines.join("\r\n"))));
        }
    };
    for line in text.lines() {
        match line {
            ">>>" | "<<<" => {
                flush(&mut current, &mut blocks);
                current = Some((if line == ">>>" { Side::Client } else { Side::Server }, Vec::new()));
            }
            "===" => {
                flush(&mut current, &mut blocks);
                in_expect = true;
            }
            _ if in_expect => {
                if !line.trim().is_empty() {
                    expected.push(line.to_string());
                }
            }
            _ => match &mut current {
                Some((_, lines)) => lines.push(line),
                None => {
                    head.push_str(line);
                    head.push('\n');
                }
            },
        }
    }
    Fixture { blocks, expected, head }
}

#[test]
fn http_conversation_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    names.sort();
    assert!(names.len() >= 10, "fixtures missing in {}", dir.display());
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    let mut failures = Vec::new();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let fixture = parse(&text);
        // Small segments so that heads and chunk lines straddle segment boundaries.
        for mss in [7, 1448] {
            let mut conv = Conversation::new(([10, 0, 0, 1], 50000), ([10, 0, 0, 2], 80), 1_000_000).with_mss(mss);
            conv.handshake();
            for (side, bytes) in &fixture.blocks {
                conv.send(*side, bytes);
            }
            conv.close();
            let actual: Vec<String> = common::run(&conv.frames, Limits::default()).iter().map(common::render).collect();
            if actual != fixture.expected {
                if update && mss == 1448 {
                    let mut new = text[..text.find("\n===").map_or(text.len(), |i| i + 1)].to_string();
                    if !new.ends_with('\n') {
                        new.push('\n');
                    }
                    new.push_str("===\n");
                    for l in &actual {
                        new.push_str(l);
                        new.push('\n');
                    }
                    std::fs::write(&path, new).unwrap_or_default();
                }
                failures.push(format!(
                    "{} (mss {mss}) {}\n  expected: {:#?}\n  actual:   {:#?}",
                    path.display(),
                    fixture.head.trim(),
                    fixture.expected,
                    actual
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
