//! Sensitive-data classifiers: credentials, keys and personal data in field names and values.
//! Each finding keeps a class, where it was, and a mask; never the value.

use std::sync::Arc;

use crate::json::{JsonTree, Node};
use serde::{Deserialize, Serialize};

/// What a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Password,
    BasicAuth,
    BearerToken,
    Jwt,
    /// A JWT whose header says `alg: none` (unsigned).
    JwtAlgNone,
    ApiKey,
    CloudAccessKey,
    SourceHostToken,
    PaymentProviderKey,
    PrivateKey,
    SessionCookie,
    Email,
    Phone,
    CardNumber,
    Iban,
    UsSsn,
    SpanishDni,
    DutchBsn,
    BrazilCpf,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Password => "password",
            Class::BasicAuth => "basic_auth",
            Class::BearerToken => "bearer_token",
            Class::Jwt => "jwt",
            Class::JwtAlgNone => "jwt_alg_none",
            Class::ApiKey => "api_key",
            Class::CloudAccessKey => "cloud_access_key",
            Class::SourceHostToken => "source_host_token",
            Class::PaymentProviderKey => "payment_provider_key",
            Class::PrivateKey => "private_key",
            Class::SessionCookie => "session_cookie",
            Class::Email => "email",
            Class::Phone => "phone",
            Class::CardNumber => "card_number",
            Class::Iban => "iban",
            Class::UsSsn => "us_ssn",
            Class::SpanishDni => "es_dni",
            Class::DutchBsn => "nl_bsn",
            Class::BrazilCpf => "br_cpf",
        }
    }

    /// Credentials and keys (as opposed to personal data).
    pub fn is_credential(self) -> bool {
        matches!(
            self,
            Class::Password
                | Class::BasicAuth
                | Class::BearerToken
                | Class::Jwt
                | Class::JwtAlgNone
                | Class::ApiKey
                | Class::CloudAccessKey
                | Class::SourceHostToken
                | Class::PaymentProviderKey
                | Class::PrivateKey
                | Class::SessionCookie
        )
    }
}

/// A value that looked sensitive: its class and a safe mask (never the value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub class: Class,
    /// Where: `request.header.authorization`, `request.json.user.password`, `response.json[].email`.
    /// Shared: a settled answer's findings and a client's credential are handed to every
    /// transaction that repeats them.
    pub location: Arc<str>,
    /// The mask of the first value seen there.
    pub mask: Arc<str>,
    /// How many values of this class were at this location in the message (array elements).
    pub count: u32,
}

/// The secret key of the hashes in masks, one per store (kept in its settings): without it a
/// mask's hash cannot be tested against guesses, and two stores' masks cannot be linked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MaskKey([u8; 32]);

impl MaskKey {
    pub fn new(bytes: [u8; 32]) -> MaskKey {
        MaskKey(bytes)
    }

    /// The first 32 bits of HMAC-SHA256(key, value), as 8 hex digits.
    /// Appends the tag of `value` to `out`: the first four bytes of the keyed HMAC, in hex.
    fn tag_into(&self, value: &str, out: &mut String) {
        use hmac::Mac;
        type Prepared = hmac::Hmac<sha2::Sha256>;
        thread_local! {
            // The HMAC state after the key's padded blocks, made once per thread and key: a tag
            // then hashes only the value and the outer block (half the work, every token).
            static PREPARED: std::cell::RefCell<Option<([u8; 32], Prepared)>> =
                const { std::cell::RefCell::new(None) };
        }
        let digest = PREPARED.with(|cell| {
            let mut prepared = cell.borrow_mut();
            let mac = match prepared.as_ref() {
                Some((key, mac)) if *key == self.0 => mac.clone(),
                _ => {
                    // HMAC takes keys of any length, so this cannot fail; an empty tag would
                    // only weaken correlation, never reveal the value.
                    let mac = Prepared::new_from_slice(&self.0).ok()?;
                    *prepared = Some((self.0, mac.clone()));
                    mac
                }
            };
            let mut mac = mac;
            mac.update(value.as_bytes());
            Some(mac.finalize().into_bytes())
        });
        let Some(digest) = digest else { return };
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for b in digest.iter().take(4) {
            for nibble in [b >> 4, b & 0x0f] {
                out.push(char::from(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0')));
            }
        }
    }

    #[cfg(test)]
    fn tag(&self, value: &str) -> String {
        let mut out = String::with_capacity(8);
        self.tag_into(value, &mut out);
        out
    }
}

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaskKey(..)")
    }
}

impl Default for MaskKey {
    /// A fixed key, for tests and tools that never store masks.
    fn default() -> MaskKey {
        MaskKey([0x5a; 32])
    }
}

/// Classes whose values are machine-made secrets with too many possibilities to guess: only
/// their masks carry a (keyed) hash, so that repeats of one token can be told apart from others.
/// Passwords, Basic credentials and personal data (cards, phones, e-mails, national ids) are
/// small spaces that a hash, even keyed, must not be kept for.
fn hashed(class: Class) -> bool {
    class.is_credential() && !matches!(class, Class::Password | Class::BasicAuth)
}

/// A mask that shows the shape, and for machine-made secrets a short keyed hash (to correlate
/// repeats); never the secret.
pub fn mask(key: &MaskKey, class: Class, value: &str) -> String {
    let mut out = String::with_capacity(40);
    write_mask(key, class, value, &mut out);
    out
}

/// [`mask`], shared: written in a buffer kept per thread, then copied once into its `Arc` (a
/// `String` made and copied would be two allocations for every finding).
fn shared_mask(key: &MaskKey, class: Class, value: &str) -> Arc<str> {
    thread_local! {
        static BUFFER: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
    }
    with_kept_buffer(&BUFFER, |out| {
        out.clear();
        write_mask(key, class, value, out);
        Arc::from(out.as_str())
    })
}

/// Runs `use_it` with the `String` this thread keeps in `buffer`, and keeps it again unless it
/// grew long (a crafted header name, an e-mail's whole domain in a mask). Taken out of its cell
/// for the while: a use within a use gets an empty buffer, never a borrow error.
fn with_kept_buffer<R>(
    buffer: &'static std::thread::LocalKey<std::cell::Cell<String>>,
    use_it: impl FnOnce(&mut String) -> R,
) -> R {
    let mut kept = buffer.take();
    let result = use_it(&mut kept);
    if kept.capacity() <= 256 {
        buffer.set(kept);
    }
    result
}

/// Writes [`mask`]'s text into `out` (empty).
fn write_mask(key: &MaskKey, class: Class, value: &str, out: &mut String) {
    use std::fmt::Write;
    // Writes to a String cannot fail.
    let n = value.chars().count();
    if matches!(class, Class::Password) || n < 12 {
        push_length(out, n);
        return;
    }
    // The header and the registered claims say what kind of token it is; they are not secret.
    let claims = matches!(class, Class::Jwt | Class::JwtAlgNone).then(|| crate::auth::jwt_claims(value)).flatten();
    if let Some((alg, iss, exp)) = claims {
        out.push_str("JWT alg=");
        out.extend(alg.chars().take(16));
        if let Some(iss) = iss {
            out.push_str(" iss=");
            out.extend(iss.chars().take(64));
        }
        if let Some(exp) = exp {
            let _ = write!(out, " exp={exp}");
        }
        out.push(' ');
        push_length(out, n);
    } else {
        match class {
            Class::CardNumber => {
                let digits = value.chars().filter(char::is_ascii_digit).count();
                out.extend(std::iter::repeat_n('*', digits.saturating_sub(4)));
                out.extend(value.chars().filter(char::is_ascii_digit).skip(digits.saturating_sub(4)));
            }
            Class::Email => match value.split_once('@') {
                Some((local, domain)) => {
                    out.push(local.chars().next().unwrap_or('*'));
                    out.push_str("***@");
                    out.push_str(domain);
                }
                None => out.push_str("***"),
            },
            Class::Iban => {
                out.push_str(value.get(..2).unwrap_or("??"));
                out.extend(std::iter::repeat_n('*', n.saturating_sub(2)));
            }
            // Well-known prefixes say which product a key belongs to without weakening it.
            Class::CloudAccessKey | Class::SourceHostToken | Class::PaymentProviderKey => {
                out.extend(value.chars().take_while(|c| *c != '_' && *c != '-').take(4));
                push_length(out, n);
            }
            _ => {
                push_length(out, n);
            }
        }
        if out.is_empty() {
            // A value of the class's name but not its shape (a "card" field without digits).
            push_length(out, n);
        }
    }
    if hashed(class) {
        out.push_str(" h:");
        key.tag_into(value, out);
    }
}

/// Appends `…(n chars)`, the length a mask shows (written by hand: the formatting machinery
/// was a sixth of a token's mask).
fn push_length(out: &mut String, n: usize) {
    out.push_str("…(");
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at = at.saturating_sub(1);
        if let Some(d) = digits.get_mut(at) {
            *d = b'0'.saturating_add(u8::try_from(rest % 10).unwrap_or(0));
        }
        rest /= 10;
        if rest == 0 || at == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(digits.get(at..).unwrap_or_default()).unwrap_or_default());
    out.push_str(" chars)");
}

// ---------------------------------------------------------------------------------------------
// Checksums and formats.

/// The values of the ASCII digits of `bytes`, in order; other bytes are skipped.
fn digit_values(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes.iter().filter(|b| b.is_ascii_digit()).filter_map(|b| b.checked_sub(b'0'))
}

/// Luhn checksum over the digits of `s`.
pub fn luhn(digits: &[u8]) -> bool {
    // Only the sum modulo 10 matters: kept below 10, no length of input can overflow it.
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v = v.saturating_mul(2);
            if v > 9 {
                v = v.saturating_sub(9);
            }
        }
        sum = sum.saturating_add(v) % 10;
    }
    sum == 0
}

/// A payment card number: 13-19 digits (spaces or dashes allowed), a known issuer range, Luhn.
pub fn is_card_number(s: &str) -> bool {
    if !s.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-') {
        return false;
    }
    let digits: Vec<u8> = digit_values(s.as_bytes()).collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|d| Some(d) == digits.first()) {
        return false;
    }
    // At most four digits: far below u32::MAX.
    let prefix =
        |n: usize| digits.iter().take(n).fold(0u32, |acc, d| acc.saturating_mul(10).saturating_add(u32::from(*d)));
    let issuer = match digits.first() {
        Some(4) => matches!(digits.len(), 13 | 16 | 19),                 // Visa
        Some(5) => (51..=55).contains(&prefix(2)) && digits.len() == 16, // Mastercard
        Some(2) => (2221..=2720).contains(&prefix(4)) && digits.len() == 16, // Mastercard 2-series
        Some(3) => {
            matches!(prefix(2), 34 | 37) && digits.len() == 15                     // Amex
            || (3528..=3589).contains(&prefix(4)) && digits.len() >= 16
        } // JCB
        Some(6) => prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)), // Discover
        _ => false,
    };
    issuer && luhn(&digits)
}

/// An IBAN: country code, check digits, alphanumeric BBAN, length per ISO 13616 bounds, mod 97.
pub fn is_iban(s: &str) -> bool {
    // Cheap refusals first (most values): too short, or not two letters and two digits.
    let mut head = s.chars().filter(|c| !c.is_whitespace());
    let starts_right = head.next().is_some_and(|c| c.is_ascii_alphabetic())
        && head.next().is_some_and(|c| c.is_ascii_alphabetic())
        && head.next().is_some_and(|c| c.is_ascii_digit())
        && head.next().is_some_and(|c| c.is_ascii_digit());
    if s.len() < 15 || !starts_right {
        return false;
    }
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let b = compact.as_bytes();
    let Some((country, rest)) = b.split_at_checked(2) else { return false };
    let Some((check, bban)) = rest.split_at_checked(2) else { return false };
    if !(15..=34).contains(&b.len())
        || !country.iter().all(u8::is_ascii_uppercase)
        || !check.iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    if !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let rearranged = bban.iter().chain(country).chain(check);
    let mut rem: u32 = 0;
    for c in rearranged {
        // Base 36 maps digits to themselves and letters to 10 (A) ..= 35 (Z), as ISO 13616 does.
        let Some(v) = char::from(*c).to_digit(36) else { return false };
        let scale = if v >= 10 { 100 } else { 10 };
        // rem < 97 and v < 36: rem * 100 + v stays far below u32::MAX.
        rem = rem.saturating_mul(scale).saturating_add(v) % 97;
    }
    rem == 1
}

/// A US social security number `AAA-GG-SSSS` (dashes required to avoid matching any 9 digits):
/// area not 000, 666 or 9xx; group not 00; serial not 0000.
pub fn is_us_ssn(s: &str) -> bool {
    let [a1, a2, a3, b'-', g1, g2, b'-', s1, s2, s3, s4] = *s.as_bytes() else { return false };
    let (area, group, serial) = ([a1, a2, a3], [g1, g2], [s1, s2, s3, s4]);
    let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if !(digits(&area) && digits(&group) && digits(&serial)) {
        return false;
    }
    &area != b"000" && &area != b"666" && a1 != b'9' && &group != b"00" && &serial != b"0000"
}

/// A Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter), mod 23 check letter.
pub fn is_spanish_dni(s: &str) -> bool {
    const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    // Bytes, not a `&str` split at byte 8: that byte may be inside a multi-byte character.
    let Some((number, &[letter])) = s.as_bytes().split_at_checked(8) else { return false };
    let Some((&first, rest)) = number.split_first() else { return false };
    // A NIE's leading letter stands for a digit.
    let first = match first.to_ascii_uppercase() {
        b'X' => b'0',
        b'Y' => b'1',
        b'Z' => b'2',
        _ => first,
    };
    if !first.is_ascii_digit() || !rest.iter().all(u8::is_ascii_digit) {
        return false;
    }
    // Eight digits: at most 99_999_999, far below u32::MAX.
    let n = digit_values(&[first])
        .chain(digit_values(rest))
        .fold(0u32, |n, d| n.saturating_mul(10).saturating_add(u32::from(d)));
    LETTERS.get((n % 23) as usize) == Some(&letter.to_ascii_uppercase())
}

/// A Dutch BSN: 9 digits passing the "11-proof" (weights 9..2 and -1).
pub fn is_dutch_bsn(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) || b.iter().all(|d| Some(d) == b.first()) {
        return false;
    }
    const WEIGHTS: [i32; 9] = [9, 8, 7, 6, 5, 4, 3, 2, -1];
    // Nine digits times weights of at most 9: |sum| <= 729.
    let sum: i32 = digit_values(b).zip(WEIGHTS).map(|(d, w)| i32::from(d).saturating_mul(w)).sum();
    sum != 0 && sum.rem_euclid(11) == 0
}

/// A Brazilian CPF `000.000.000-00` (punctuation optional): two mod-11 check digits.
pub fn is_brazil_cpf(s: &str) -> bool {
    if !s.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-') {
        return false;
    }
    let d: Vec<u32> = digit_values(s.as_bytes()).map(u32::from).collect();
    if d.len() != 11 || d.iter().all(|x| Some(x) == d.first()) {
        return false;
    }
    // The check digit of `digits`: weights 2, 3, ... from the last digit; at most ten digits.
    let check = |digits: &[u32]| {
        let sum: u32 = digits.iter().rev().zip(2u32..).map(|(x, w)| x.saturating_mul(w)).sum();
        let r = sum.saturating_mul(10) % 11;
        if r == 10 {
            0
        } else {
            r
        }
    };
    let Some((&check_ten, first_ten)) = d.split_last() else { return false };
    let Some((&check_nine, first_nine)) = first_ten.split_last() else { return false };
    check(first_nine) == check_nine && check(first_ten) == check_ten
}

/// A phone number in E.164 (`+` and 8-15 digits, separators allowed).
pub fn is_phone(s: &str) -> bool {
    let t = s.trim();
    let Some(number) = t.strip_prefix('+') else { return false };
    if !number.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.')) {
        return false;
    }
    let digits = t.chars().filter(char::is_ascii_digit).count();
    (8..=15).contains(&digits)
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'@' | b'.' | b'_' | b'%' | b'+' | b'-'))
}

/// Well-known key formats, from their documented prefixes.
fn known_key(s: &str) -> Option<Class> {
    let b = s.as_bytes();
    let alnum =
        |from: usize| b.get(from..).is_some_and(|r| !r.is_empty() && r.iter().all(|c| c.is_ascii_alphanumeric()));
    if b.len() == 20
        && s.strip_prefix("AKIA")
            .or_else(|| s.strip_prefix("ASIA"))
            .is_some_and(|id| id.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    {
        return Some(Class::CloudAccessKey);
    }
    if s.starts_with("AIza") && b.len() == 39 {
        return Some(Class::CloudAccessKey);
    }
    for p in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
        if s.starts_with(p) && b.len() >= 40 && alnum(4) {
            return Some(Class::SourceHostToken);
        }
    }
    if (s.starts_with("github_pat_") && b.len() > 40) || (s.starts_with("glpat-") && b.len() >= 26) {
        return Some(Class::SourceHostToken);
    }
    for p in ["sk_live_", "rk_live_", "sk_test_", "rk_test_", "pk_live_"] {
        if s.starts_with(p) && b.len() >= 24 && alnum(p.len()) {
            return Some(Class::PaymentProviderKey);
        }
    }
    // Searchers made once: a substring search sets one up per call (every long value is asked).
    static PEM: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 2]> = std::sync::LazyLock::new(|| {
        [memchr::memmem::Finder::new("-----BEGIN"), memchr::memmem::Finder::new("PRIVATE KEY-----")]
    });
    if PEM.iter().all(|pem| pem.find(b).is_some()) {
        return Some(Class::PrivateKey);
    }
    None
}

fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        if let Some(count) = counts.get_mut(usize::from(b)) {
            *count = count.saturating_add(1);
        }
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A generic secret-looking value: long, high-entropy, mixed characters.
fn is_high_entropy(s: &str) -> bool {
    s.len() >= 20
        && s.len() <= 512
        && s.bytes().all(|c| c.is_ascii_graphic())
        && has_ascii_digit(s.as_bytes())
        && s.bytes().any(|c| c.is_ascii_alphabetic())
        && entropy(s) >= 3.5
}

/// The last bytes of a field's name as word lists are compared with it: ASCII lowercase, `-` as
/// `_`. Made once per field, however many lists are read (every field of every message).
struct NameTail {
    bytes: [u8; NAME_TAIL],
    /// The name's last bytes in `bytes`.
    len: usize,
    /// The whole name's length.
    name_len: usize,
}

/// Bytes of a name kept: more than the longest listed word, so its `_` before it is kept too.
const NAME_TAIL: usize = 24;

impl NameTail {
    fn of(name: &str) -> NameTail {
        let n = name.as_bytes();
        let tail = n.get(n.len().saturating_sub(NAME_TAIL)..).unwrap_or_default();
        let mut bytes = [0u8; NAME_TAIL];
        for (slot, b) in bytes.iter_mut().zip(tail) {
            *slot = if *b == b'-' { b'_' } else { b.to_ascii_lowercase() };
        }
        NameTail { bytes, len: tail.len(), name_len: n.len() }
    }

    /// Whether the name equals `word` or ends with `_word` (ignoring ASCII case, `-` as `_`);
    /// `word` is lowercase and shorter than [`NAME_TAIL`].
    fn is(&self, word: &str) -> bool {
        let w = word.as_bytes();
        let tail = self.bytes.get(..self.len).unwrap_or_default();
        // Most words differ from the name in their last byte.
        if tail.last() != w.last() {
            return false;
        }
        let Some(at) = self.len.checked_sub(w.len()) else { return false };
        tail.get(at..) == Some(w)
            && (self.name_len == w.len() || at.checked_sub(1).and_then(|i| tail.get(i)) == Some(&b'_'))
    }

    fn is_any(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.is(w))
    }
}

const PASSWORD_NAMES: &[&str] =
    &["password", "passwd", "pass", "pwd", "secret", "passphrase", "pin", "password_confirmation", "password2"];
/// Field names that say a value is a national identifier.
const ID_NAMES: [&str; 9] =
    ["bsn", "burgerservicenummer", "citizen_id", "national_id", "cpf", "tax_id", "ssn", "dni", "nie"];
/// Header fields that carry API keys by convention, whatever their value looks like.
const KEY_NAMES: &[&str] = &[
    "api_key",
    "apikey",
    "key",
    "token",
    "access_token",
    "refresh_token",
    "auth_token",
    "client_secret",
    "secret_key",
    "private_key",
    "access_key",
    "x_api_key",
    "id_token",
    "session_token",
];

/// `value.trim()`, without going through its characters when it starts and ends with a visible
/// ASCII character (as nearly every value does): whitespace is at most `' '` or not ASCII.
fn trimmed(value: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|b| (b'!'..=b'~').contains(b));
    let b = value.as_bytes();
    if visible(b.first()) && visible(b.last()) {
        value
    } else {
        value.trim()
    }
}

/// Whether `bytes` holds an ASCII digit: eight bytes at a time (a byte is a digit when, XORed
/// with `'0'`, it is below ten; the test below finds whether any byte of a word is).
fn has_ascii_digit(bytes: &[u8]) -> bool {
    const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
    const TENS: u64 = u64::from_le_bytes([10; 8]);
    const HIGH_BITS: u64 = u64::from_le_bytes([0x80; 8]);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default()) ^ ZEROS;
        if x.wrapping_sub(TENS) & !x & HIGH_BITS != 0 {
            return true;
        }
    }
    words.remainder().iter().any(u8::is_ascii_digit)
}

/// Classifies one named value (a JSON field, form field, query parameter or header).
pub fn classify_field(name: &str, value: &str) -> Vec<Class> {
    let mut out = Vec::new();
    let value = trimmed(value);
    if value.is_empty() {
        return out;
    }
    let name = NameTail::of(name);
    let (password_name, key_name) = (name.is_any(PASSWORD_NAMES), name.is_any(KEY_NAMES));
    // Most values are short words or numbers with no name hint: nothing below can match them.
    let named = password_name || key_name || name.is_any(&ID_NAMES);
    if !named && value.len() < 8 && !value.starts_with('+') && memchr::memchr(b'@', value.as_bytes()).is_none() {
        return out;
    }
    if let Some(k) = known_key(value) {
        out.push(k);
    }
    if let Some(alg) = crate::auth::jwt_header(value).map(|(alg, _)| alg) {
        out.push(if alg.eq_ignore_ascii_case("none") { Class::JwtAlgNone } else { Class::Jwt });
    }
    if password_name && !value.starts_with("$2") {
        out.push(Class::Password);
    } else if out.is_empty() && key_name && is_high_entropy(value) {
        out.push(Class::ApiKey);
    }
    if is_email(value) {
        out.push(Class::Email);
    }
    // Every class below is made of digits (card and account numbers, national ids, phones).
    if has_ascii_digit(value.as_bytes()) {
        if is_card_number(value) {
            out.push(Class::CardNumber);
        }
        if is_iban(value) {
            out.push(Class::Iban);
        }
        if is_us_ssn(value) {
            out.push(Class::UsSsn);
        }
        if is_spanish_dni(value) {
            out.push(Class::SpanishDni);
        }
        // Nine bare digits are too common to call a BSN without a field name that says so.
        if is_dutch_bsn(value) && name.is_any(&ID_NAMES[..4]) {
            out.push(Class::DutchBsn);
        }
        if is_brazil_cpf(value) && (value.contains('.') || name.is_any(&["cpf", "tax_id", "national_id"])) {
            out.push(Class::BrazilCpf);
        }
        if is_phone(value) {
            out.push(Class::Phone);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Most findings kept per message, and deepest JSON walked.
const MAX_FINDINGS: usize = 256;
const MAX_JSON_DEPTH: usize = 16;

/// The findings of one message, masked with the store's key as they are made.
#[derive(Debug)]
pub struct Findings<'k> {
    key: &'k MaskKey,
    list: Vec<Finding>,
}

impl<'k> Findings<'k> {
    pub fn new(key: &'k MaskKey) -> Findings<'k> {
        Findings { key, list: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.list
    }

    /// Adds findings a sampler learnt for a body like this one, as they are: they were merged
    /// and bounded when they were found, and each stands for a location of the body.
    pub(crate) fn extend_learnt(&mut self, learnt: impl IntoIterator<Item = Finding>) {
        self.list.extend(learnt);
    }

    /// Records the classes of one value. Repeats at the same location (array elements) only
    /// count, so a list of a thousand e-mail addresses costs one mask.
    fn push(&mut self, name: &str, value: &str, location: &str) {
        for class in classify_field(name, value) {
            self.add(class, location, value);
        }
    }

    /// A credential header value (`seen` as `kind` with the whole of `seen`; `masked` is the
    /// part its mask shows), classified by `class` and masked once per distinct value when
    /// `memory` remembers them, exactly as [`Findings::add`] otherwise.
    fn add_credential(
        &mut self,
        memory: Option<&mut CleanFields>,
        kind: &str,
        seen: &str,
        location: &str,
        class: impl FnOnce() -> Class,
        masked: &str,
    ) {
        let Some(memory) = memory else { return self.add(class(), location, masked) };
        let key = self.key;
        let (class, mask_text) = memory.credential(kind, seen, || {
            let class = class();
            (class, shared_mask(key, class, masked))
        });
        self.add_with(class, location, || mask_text);
    }

    fn add(&mut self, class: Class, location: &str, value: &str) {
        let key = self.key;
        self.add_with(class, location, || shared_mask(key, class, value));
    }

    fn add_with(&mut self, class: Class, location: &str, mask: impl FnOnce() -> Arc<str>) {
        if let Some(f) = self.list.iter_mut().find(|f| f.class == class && *f.location == *location) {
            f.count = f.count.saturating_add(1);
        } else if self.list.len() < MAX_FINDINGS {
            let mask = mask();
            let location = Arc::from(crate::observation::first_chars(location, 200));
            self.list.push(Finding { class, location, mask, count: 1 });
        }
    }
}

/// Walks a JSON value, classifying every string (and long number) by its key.
pub fn scan_json<J: JsonTree>(value: &J, prefix: &str, out: &mut Findings<'_>) {
    with_location_buffer(|path| {
        path.clear();
        path.push_str(prefix);
        walk(value, path, "", 0, out);
    });
}

/// `path` is one buffer extended and truncated on the way down, so that the walk allocates
/// only for findings.
fn walk<J: JsonTree>(value: &J, path: &mut String, key: &str, depth: usize, out: &mut Findings<'_>) {
    if depth > MAX_JSON_DEPTH || out.len() >= MAX_FINDINGS {
        return;
    }
    let len = path.len();
    match value.node() {
        Node::Object(entries) => {
            for (k, v) in entries {
                path.push('.');
                path.push_str(k);
                walk(v, path, k, depth.saturating_add(1), out);
                path.truncate(len);
            }
        }
        Node::Array(items) => {
            path.push_str("[]");
            for item in items.iter().take(1000) {
                walk(item, path, key, depth.saturating_add(1), out);
            }
            path.truncate(len);
        }
        Node::String(s) => out.push(key, s, path),
        Node::Number(n) if n.as_u64().is_some_and(|v| v >= 100_000_000) => out.push(key, &n.to_string(), path),
        Node::Number(_) | Node::Bool(_) | Node::Null => {}
    }
}

/// A request target with the value of every query parameter that classifies as a credential or
/// personal data replaced by its mask in brackets (`/login?user=bob&password=[…(8 chars)]`),
/// for outputs that show targets. Everything else stays as sent.
pub fn mask_query<'t>(key: &MaskKey, target: &'t str) -> std::borrow::Cow<'t, str> {
    let Some((path, query)) = target.split_once('?') else { return std::borrow::Cow::Borrowed(target) };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut changed = false;
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (dname, dvalue) = (crate::params::form_decode(name), crate::params::form_decode(value));
            match classify_field(&dname, &dvalue).first() {
                Some(class) if !value.is_empty() => {
                    changed = true;
                    format!("{name}=[{}]", mask(key, *class, &dvalue))
                }
                _ => pair.to_string(),
            }
        })
        .collect();
    if !changed {
        return std::borrow::Cow::Borrowed(target);
    }
    let mut out = format!("{path}?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    std::borrow::Cow::Owned(out)
}

/// Makes `buf` the location `location.name`, reusing its allocation: most fields find nothing,
/// so a location string is only kept for a finding.
fn locate(buf: &mut String, location: &str, name: &str) {
    buf.clear();
    buf.push_str(location);
    buf.push('.');
    buf.push_str(name);
}

/// Classifies named pairs (query string, form body) at `location`.
pub fn scan_pairs(pairs: &[(String, String)], location: &str, out: &mut Findings<'_>) {
    with_location_buffer(|here| {
        for (name, value) in pairs {
            locate(here, location, name);
            out.push(name, value, here);
        }
    });
}

/// Runs `scan` with a buffer for the locations of the fields it classifies, kept per thread:
/// most fields find nothing, so the locations are only written there, and a buffer made per
/// message was two allocations of every transaction.
fn with_location_buffer(scan: impl FnOnce(&mut String)) {
    thread_local! {
        static BUFFER: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
    }
    with_kept_buffer(&BUFFER, scan);
}

/// Classifies request or response header fields (names lower-case) at `location`.
pub fn scan_headers(headers: &crate::observation::Headers, location: &str, out: &mut Findings<'_>) {
    scan_headers_with(headers, location, out, None);
}

/// Most header fields a `CleanFields` remembers before it starts afresh.
const MAX_CLEAN_FIELDS: usize = 4096;

/// Header fields a flow worker found to hold nothing sensitive, remembered by a hash of name and
/// value: the same `Accept`, `User-Agent` or `Server` comes with every message and is classified
/// once. Seeded per process, so a crafted field cannot be made to pass for a remembered one.
/// Bounded: forgotten all at once when full.
/// It also remembers the class and mask of each credential value it met (`Authorization`,
/// session cookies, API-key headers): a client sends the same token with every request, and a
/// JWT costs two base64 decodings and JSON parses, a token an HMAC, to classify and mask.
#[derive(Default)]
pub struct CleanFields {
    seen: std::collections::HashSet<u64, foldhash::fast::RandomState>,
    credentials: std::collections::HashMap<u64, (Class, Arc<str>), foldhash::fast::RandomState>,
    hasher: foldhash::fast::RandomState,
}

impl CleanFields {
    fn key(&self, name: &str, value: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one((name, value))
    }

    /// Remembers a clean field's key; starts afresh when full.
    fn remember(&mut self, key: u64) {
        if self.seen.len() >= MAX_CLEAN_FIELDS {
            self.seen.clear();
        }
        self.seen.insert(key);
    }

    /// The class and mask of the credential `value` found as `kind`, made by `make` the first
    /// time (bounded like the clean fields).
    fn credential(&mut self, kind: &str, value: &str, make: impl FnOnce() -> (Class, Arc<str>)) -> (Class, Arc<str>) {
        let key = self.key(kind, value);
        crate::memo::remembered(&mut self.credentials, key, MAX_CLEAN_FIELDS, make)
    }

    /// Credential values remembered.
    pub fn credentials(&self) -> usize {
        self.credentials.len()
    }

    /// Fields remembered as clean.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Classifies one field (`name` and `value`, found at `here`), unless `clean` remembers it as
/// clean; remembers it when it is.
fn scan_field(
    out: &mut Findings<'_>,
    clean: Option<&mut CleanFields>,
    (name, value): (&str, &str),
    here: &mut String,
    locate: impl FnOnce(&mut String),
) {
    let key = clean.as_deref().map(|c| c.key(name, value));
    if clean.as_deref().zip(key).is_some_and(|(c, k)| c.seen.contains(&k)) {
        return;
    }
    let classes = classify_field(name, value);
    if classes.is_empty() {
        if let (Some(clean), Some(key)) = (clean, key) {
            clean.remember(key);
        }
        return;
    }
    // The location is written only for a finding: most fields have none.
    locate(here);
    for class in classes {
        out.add(class, here, value);
    }
}

/// [`scan_headers`], skipping fields `clean` remembers and remembering those found clean.
pub fn scan_headers_with(
    headers: &crate::observation::Headers,
    location: &str,
    out: &mut Findings<'_>,
    clean: Option<&mut CleanFields>,
) {
    with_location_buffer(|here| scan_header_fields(headers, location, out, clean, here));
}

/// [`scan_headers_with`], the fields' locations written in `here`.
fn scan_header_fields(
    headers: &crate::observation::Headers,
    location: &str,
    out: &mut Findings<'_>,
    mut clean: Option<&mut CleanFields>,
    here: &mut String,
) {
    for (name, value) in headers {
        match name {
            "authorization" | "proxy-authorization" => {
                locate(here, location, name);
                let (scheme, rest) = crate::auth::split_authorization(value);
                let class = || {
                    if scheme.eq_ignore_ascii_case("basic") {
                        Class::BasicAuth
                    } else if scheme.eq_ignore_ascii_case("bearer") {
                        match crate::auth::jwt_header(rest) {
                            Some((alg, _)) if alg.eq_ignore_ascii_case("none") => Class::JwtAlgNone,
                            Some(_) => Class::Jwt,
                            None => Class::BearerToken,
                        }
                    } else {
                        Class::ApiKey
                    }
                };
                out.add_credential(clean.as_deref_mut(), "authorization", value, here, class, rest);
            }
            "cookie" | "set-cookie" => {
                let pairs: Vec<&str> =
                    if name == "set-cookie" { value.split(';').take(1).collect() } else { value.split(';').collect() };
                for pair in pairs {
                    let (cookie, v) = pair.trim().split_once('=').unwrap_or((pair.trim(), ""));
                    let locate_pair = |here: &mut String| {
                        locate(here, location, name);
                        here.push('.');
                        here.push_str(cookie);
                    };
                    if crate::auth::is_session_cookie(cookie) && !v.is_empty() {
                        locate_pair(here);
                        out.add_credential(clean.as_deref_mut(), "cookie", v, here, || Class::SessionCookie, v);
                    } else {
                        // A browser sends the same cookies with every request: each pair is
                        // classified once, as other header fields are.
                        scan_field(out, clean.as_deref_mut(), (cookie, v), here, locate_pair);
                    }
                }
            }
            n if crate::auth::API_KEY_HEADERS.contains(&n) && value.trim().len() >= 8 => {
                locate(here, location, name);
                let v = value.trim();
                out.add_credential(clean.as_deref_mut(), "key", v, here, || Class::ApiKey, v);
            }
            // Protocol nonces and settings, random by design: not keys, whatever the name says.
            "sec-websocket-key" | "sec-websocket-accept" | "http2-settings" => {}
            // Framing and dates: numbers and tokens the protocol defines, never personal data or
            // a credential, and different in almost every message (so never remembered clean).
            "content-length" | "date" | "expires" | "last-modified" | "age" | "transfer-encoding" | "connection"
            | "keep-alive" | "content-encoding" | "accept-encoding" | "vary" => {}
            _ => scan_field(out, clean.as_deref_mut(), (name, value), here, |here| locate(here, location, name)),
        }
    }
}

#[cfg(test)]
mod tests;
