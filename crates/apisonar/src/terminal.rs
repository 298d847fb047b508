//! Text from traffic shown on a terminal: hosts, paths and titles are attacker-controlled, and a
//! control character (an escape sequence, a carriage return, a bidirectional override) could
//! rewrite what the operator sees. Table output passes every such value through `shown`.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with control characters and bidirectional controls written as `\x1b` / `\u{202e}`
/// (and a backslash as `\\`, so that the escaping cannot be forged).
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().saturating_add(8));
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if c == '\\' {
            out.push_str("\\\\");
        } else if u32::from(c) < 0x100 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        for (input, expect) in [
            ("/api/users", "/api/users"),
            ("évil.example", "évil.example"),
            ("a\x1b[2Jb", "a\\x1b[2Jb"),
            ("line\rover", "line\\x0dover"),
            ("tab\there", "tab\\x09here"),
            ("\u{9b}31m", "\\x9b31m"),
            ("abc\u{202e}gpj.exe", "abc\\u{202e}gpj.exe"),
            ("back\\x1b", "back\\\\x1b"),
            ("nul\0", "nul\\x00"),
        ] {
            assert_eq!(shown(input), expect, "{input:?}");
        }
    }
}
