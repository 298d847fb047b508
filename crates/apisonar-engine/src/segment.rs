//! What one path segment looks like: a literal word, or a value of a recognisable type.

use serde::{Deserialize, Serialize};

/// The type of a path segment value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// Decimal digits.
    Integer,
    Uuid,
    /// 24 hex digits (MongoDB ObjectId).
    ObjectId,
    /// 16 or more hex digits with at least one letter and one digit (hashes, hex ids).
    Hex,
    /// ISO date (2024-01-31) or date-time.
    Date,
    Email,
    /// A long high-entropy token (API keys, opaque ids, base64url).
    Token,
    /// Free text: characters route names are not made of (spaces, quotes, brackets, `;`, `<`,
    /// control characters...). Search terms, file names, and attack payloads are values.
    Text,
    /// An ordinary word or slug: a literal unless cardinality says otherwise.
    Word,
}

impl SegmentKind {
    /// Kinds that are values by their shape alone, without looking at siblings.
    pub fn is_value(self) -> bool {
        !matches!(self, SegmentKind::Word)
    }

    /// Name of the kind in output (`integer`, `uuid`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Integer => "integer",
            SegmentKind::Uuid => "uuid",
            SegmentKind::ObjectId => "object_id",
            SegmentKind::Hex => "hex",
            SegmentKind::Date => "date",
            SegmentKind::Email => "email",
            SegmentKind::Token => "token",
            SegmentKind::Text => "text",
            SegmentKind::Word => "string",
        }
    }
}

fn is_hex(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_hexdigit)
}

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter()
            .enumerate()
            .all(|(i, &c)| if matches!(i, 8 | 13 | 18 | 23) { c == b'-' } else { c.is_ascii_hexdigit() })
}

fn is_date(s: &[u8]) -> bool {
    // YYYY-MM-DD, optionally followed by a time part.
    matches!(s, [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2, rest @ ..]
        if [y1, y2, y3, y4, m1, m2, d1, d2].iter().all(|c| c.is_ascii_digit())
            && (rest.is_empty() || rest.first() == Some(&b'T') || rest.first() == Some(&b' ')))
}

fn is_email(s: &[u8]) -> bool {
    let mut halves = s.splitn(2, |&c| c == b'@');
    let (Some(local), Some(domain)) = (halves.next(), halves.next()) else { return false };
    !local.is_empty() && domain.contains(&b'.') && !domain.starts_with(b".") && !domain.ends_with(b".")
}

/// Shannon entropy in bits per byte.
fn entropy(s: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in s {
        if let Some(count) = counts.get_mut(usize::from(b)) {
            *count = count.saturating_add(1);
        }
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

fn is_token(s: &[u8]) -> bool {
    if s.len() < 20 || !s.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'=' | b'.' | b'~')) {
        return false;
    }
    // Slugs ("how-to-10-things") are words joined by separators, not tokens.
    let parts: Vec<&[u8]> = s.split(|c| matches!(c, b'-' | b'_' | b'.')).filter(|p| !p.is_empty()).collect();
    let wordy = parts.iter().filter(|p| p.len() >= 2 && p.iter().all(u8::is_ascii_lowercase)).count();
    let long_mixed = parts
        .iter()
        .any(|p| p.len() >= 16 && p.iter().any(u8::is_ascii_digit) && p.iter().any(u8::is_ascii_alphabetic));
    if parts.len() >= 3 && wordy.saturating_mul(2) >= parts.len() && !long_mixed {
        return false;
    }
    let digits = s.iter().filter(|c| c.is_ascii_digit()).count();
    let upper = s.iter().filter(|c| c.is_ascii_uppercase()).count();
    let lower = s.iter().filter(|c| c.is_ascii_lowercase()).count();
    let classes = [digits, upper, lower].iter().filter(|n| **n > 0).count();
    classes >= 2 && entropy(s) >= 3.5
}

/// Characters of route names: letters and digits of any script, and `-_.~:@+,`.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | ':' | '@' | '+' | ',')
}

/// Classifies a (percent-decoded) path segment.
pub fn classify(segment: &str) -> SegmentKind {
    // Most segments are short words of letters (`api`, `users`, `order-items`): none of the
    // value kinds can be one (they need digits, an `@`, or 20 bytes and more), so they are
    // words without going through every check.
    let s = segment.as_bytes();
    if !s.is_empty() && s.len() < 20 && s.iter().all(|b| b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b'.')) {
        return SegmentKind::Word;
    }
    classify_by_checks(segment)
}

/// [`classify`] without its shortcut for short words of letters.
fn classify_by_checks(segment: &str) -> SegmentKind {
    let s = segment.as_bytes();
    if s.is_empty() {
        return SegmentKind::Word;
    }
    let names_only = if segment.is_ascii() {
        s.iter().all(|&b| is_name_char(char::from(b)))
    } else {
        segment.chars().all(is_name_char)
    };
    if !names_only {
        return SegmentKind::Text;
    }
    if s.iter().all(u8::is_ascii_digit) {
        return SegmentKind::Integer;
    }
    if is_uuid(s) {
        return SegmentKind::Uuid;
    }
    if s.len() == 24 && is_hex(s) {
        return SegmentKind::ObjectId;
    }
    if s.len() >= 16 && is_hex(s) && s.iter().any(u8::is_ascii_digit) && s.iter().any(u8::is_ascii_alphabetic) {
        return SegmentKind::Hex;
    }
    if is_date(s) {
        return SegmentKind::Date;
    }
    if is_email(s) {
        return SegmentKind::Email;
    }
    if is_token(s) {
        return SegmentKind::Token;
    }
    SegmentKind::Word
}

/// API version segments (`v1`, `v2beta`, `V3`) are always kept literal.
pub fn is_version(segment: &str) -> bool {
    let s = segment.as_bytes();
    matches!(s, [b'v' | b'V', d, ..] if d.is_ascii_digit())
        && s.len() <= 10
        && s.iter().skip(1).all(|c| c.is_ascii_alphanumeric() || *c == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_words_of_letters_are_words_by_every_check() {
        // The shortcut in `classify` must give what the checks give.
        let mut rng = apisonar_testkit::workload::Rng::seeded(20);
        let alphabet = b"abcdefxyzABCDEFXYZ-_.";
        for _ in 0..20_000 {
            let len = 1 + rng.below(19) as usize;
            let pick = |rng: &mut apisonar_testkit::workload::Rng| alphabet.get(rng.below(21) as usize).copied();
            let word: String = (0..len).filter_map(|_| pick(&mut rng)).map(char::from).collect();
            assert_eq!(classify_by_checks(&word), SegmentKind::Word, "{word}");
            assert_eq!(classify(&word), SegmentKind::Word, "{word}");
        }
        // Past the shortcut: long, or with a digit or an `@`.
        assert_eq!(classify("abcdefghijABCDEFGHIJxyz"), classify_by_checks("abcdefghijABCDEFGHIJxyz"));
        assert_eq!(classify("a@b.c"), SegmentKind::Email);
    }

    #[test]
    fn segment_kinds() {
        let check = |s: &str, want: SegmentKind| assert_eq!(classify(s), want, "{s}");
        check("42", SegmentKind::Integer);
        check("0", SegmentKind::Integer);
        check("3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c1d", SegmentKind::Uuid);
        check("3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c1", SegmentKind::Token);
        check("how-to-10-things-work-x", SegmentKind::Word);
        check("eyJhbGciOiJIUzI1NiJ9", SegmentKind::Token);
        check("507f1f77bcf86cd799439011", SegmentKind::ObjectId);
        check("d41d8cd98f00b204e9800998ecf8427e", SegmentKind::Hex);
        check("deadbeefdeadbeef", SegmentKind::Word);
        check("2024-01-31", SegmentKind::Date);
        check("2024-01-31T10:00:00Z", SegmentKind::Date);
        check("alice@example.com", SegmentKind::Email);
        check("sk_live_4eC39HqLyjWDarjtT1zdp7dc", SegmentKind::Token);
        check("users", SegmentKind::Word);
        check("my-blog-post-title-about-things", SegmentKind::Word);
        check("export", SegmentKind::Word);
        check("v1", SegmentKind::Word);
        check("projects:search", SegmentKind::Word);
        for text in [
            "admin\" UNION SELECT 1--",
            "' OR 1=1--",
            "<script>alert(1)</script>",
            ";id",
            "{{7*7}}",
            "a b",
            "x/../y",
            "nul\0",
        ] {
            check(text, SegmentKind::Text);
        }
        check("café-crème", SegmentKind::Word);
    }

    #[test]
    fn multi_byte_characters_anywhere_are_typed_without_panicking() {
        for v in crate::test_values::all() {
            // Only dates and e-mail addresses have parts whose bytes are not checked; symbols
            // (`€`, `𝄞`) and spaces are not in route names, so those values are text.
            let kind = classify(&v);
            let expected = if v.chars().all(is_name_char) { SegmentKind::Word } else { SegmentKind::Text };
            assert!(matches!(kind, SegmentKind::Date | SegmentKind::Email) || kind == expected, "{v:?}: {kind:?}");
            assert!(!is_version(&v), "{v:?}");
        }
    }

    #[test]
    fn versions() {
        assert!(is_version("v1") && is_version("v2beta") && is_version("V3") && is_version("v1.2"));
        assert!(!is_version("videos") && !is_version("v") && !is_version("1"));
    }
}
