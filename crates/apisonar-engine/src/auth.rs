//! Authentication schemes seen on requests, named without ever keeping the secret itself.

use serde::{Deserialize, Serialize};

/// How a request authenticated itself.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum AuthScheme {
    None,
    Basic,
    Bearer,
    /// A bearer token that is a JWT; `alg` and `iss` come from its (unverified) header and claims.
    Jwt {
        alg: String,
        iss: Option<String>,
    },
    ApiKeyHeader {
        name: String,
    },
    ApiKeyQuery {
        name: String,
    },
    SessionCookie {
        name: String,
    },
    /// Another `Authorization` scheme (Digest, NTLM, AWS4-HMAC-SHA256, ...).
    Other {
        name: String,
    },
}

impl AuthScheme {
    /// Short label for tables: `jwt(HS256)`, `api_key_header(x-api-key)`.
    pub fn label(&self) -> String {
        match self {
            AuthScheme::None => "none".into(),
            AuthScheme::Basic => "basic".into(),
            AuthScheme::Bearer => "bearer".into(),
            AuthScheme::Jwt { alg, .. } => format!("jwt({alg})"),
            AuthScheme::ApiKeyHeader { name } => format!("api_key_header({name})"),
            AuthScheme::ApiKeyQuery { name } => format!("api_key_query({name})"),
            AuthScheme::SessionCookie { name } => format!("session_cookie({name})"),
            AuthScheme::Other { name } => format!("other({name})"),
        }
    }
}

/// Header fields that carry an API key by their name (for the scheme, the principal, and the
/// credential the sensitive-data scan masks).
pub(crate) const API_KEY_HEADERS: &[&str] =
    &["x-api-key", "api-key", "apikey", "x-apikey", "x-auth-token", "x-access-token", "x-api-token", "x-token"];
const API_KEY_QUERY: &[&str] = &["api_key", "apikey", "api-key", "key", "access_token", "token", "auth", "apitoken"];
const SESSION_COOKIES: &[&str] = &[
    "session",
    "sessionid",
    "session_id",
    "sid",
    "connect.sid",
    "jsessionid",
    "phpsessid",
    "asp.net_sessionid",
    "_session",
];

/// Whether a cookie of this name holds a session (compared without a lower-cased copy: a
/// browser sends a dozen cookies with every request).
pub(crate) fn is_session_cookie(name: &str) -> bool {
    let ends_with = |suffix| crate::observation::ends_with_ignore_ascii_case(name, suffix);
    SESSION_COOKIES.iter().any(|known| known.eq_ignore_ascii_case(name)) || ends_with("_session") || ends_with("sessid")
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len().saturating_mul(3) / 4);
    // `bits` (pending bits in `acc`) stays below 8 + 6.
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c.saturating_sub(b'A'),
            b'a'..=b'z' => c.saturating_sub(b'a').saturating_add(26),
            b'0'..=b'9' => c.saturating_sub(b'0').saturating_add(52),
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits = bits.saturating_add(6);
        if bits >= 8 {
            bits = bits.saturating_sub(8);
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// `alg`, `iss` and `exp` (seconds since the epoch) of a JWT, read without verifying it.
pub fn jwt_claims(token: &str) -> Option<(String, Option<String>, Option<i64>)> {
    let (alg, iss) = jwt_header(token)?;
    let exp = token_part(token, 1)
        .and_then(base64url_decode)
        .and_then(|c| serde_json::from_slice::<serde_json::Value>(&c).ok())
        .and_then(|c| c.get("exp").and_then(serde_json::Value::as_i64));
    Some((alg, iss, exp))
}

/// What a flow worker found in the JWT-like Authorization values it met: each value's scheme and
/// whom it speaks for. A client sends the same value with every request, and a JWT costs two
/// base64 decodings and JSON parses to classify and a third to name its subject. Other values
/// (opaque tokens, Basic credentials) cost less to work out than to remember, and are worked out
/// every time, as are values longer than `MAX_REMEMBERED_VALUE` (so a scheme's strings stay
/// small). Keyed by a seeded hash of the field's name and value (no credential is kept);
/// forgotten all at once when full.
#[derive(Debug, Default)]
pub struct AuthMemory {
    schemes: std::collections::HashMap<u64, AuthScheme, foldhash::fast::RandomState>,
    principals: std::collections::HashMap<u64, u64, foldhash::fast::RandomState>,
    hasher: foldhash::fast::RandomState,
}

/// Whether an Authorization value is worth an [`AuthMemory`] entry: it may hold a JWT (two dots)
/// and is not too long.
fn worth_remembering(value: &str) -> bool {
    value.len() <= MAX_REMEMBERED_VALUE && memchr::memchr_iter(b'.', value.as_bytes()).nth(1).is_some()
}

/// Distinct values an [`AuthMemory`] holds of each kind, and the longest value it remembers.
const MAX_REMEMBERED_VALUES: usize = 1024;
const MAX_REMEMBERED_VALUE: usize = 4096;

impl AuthMemory {
    /// [`authorization_scheme`], remembered.
    fn scheme(&mut self, name: &str, value: &str) -> AuthScheme {
        if !worth_remembering(value) {
            return authorization_scheme(name, value);
        }
        let key = std::hash::BuildHasher::hash_one(&self.hasher, (name, value));
        crate::memo::remembered(&mut self.schemes, key, MAX_REMEMBERED_VALUES, || authorization_scheme(name, value))
    }

    /// [`authorization_principal`], remembered.
    fn principal(&mut self, value: &str) -> u64 {
        if !worth_remembering(value) {
            return authorization_principal(value);
        }
        let key = std::hash::BuildHasher::hash_one(&self.hasher, value);
        crate::memo::remembered(&mut self.principals, key, MAX_REMEMBERED_VALUES, || authorization_principal(value))
    }

    /// Values remembered (schemes and principals).
    pub fn len(&self) -> usize {
        self.schemes.len().saturating_add(self.principals.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `n`th part (from 0) of a dotted token, as `token.split('.').nth(n)` (found with byte
/// searches: a char pattern's search is several times slower on every Authorization value).
fn token_part(token: &str, n: usize) -> Option<&str> {
    let mut rest = token;
    for _ in 0..n {
        let dot = memchr::memchr(b'.', rest.as_bytes())?;
        rest = rest.get(dot.saturating_add(1)..)?;
    }
    let end = memchr::memchr(b'.', rest.as_bytes()).unwrap_or(rest.len());
    rest.get(..end)
}

/// An Authorization value's scheme and credentials, trimmed (`" Bearer  abc "` is `("Bearer",
/// "abc")`; a value without a space is all scheme). The space is found with a byte search.
pub(crate) fn split_authorization(value: &str) -> (&str, &str) {
    let value = value.trim();
    match memchr::memchr(b' ', value.as_bytes()) {
        // A space is one byte: both sides are whole characters.
        Some(at) => (value.get(..at).unwrap_or(value), value.get(at.saturating_add(1)..).unwrap_or_default().trim()),
        None => (value, ""),
    }
}

/// Reads `alg` and `iss` from a JWT without verifying it. `None` if it is not a JWT.
pub fn jwt_header(token: &str) -> Option<(String, Option<String>)> {
    // Three parts, so two dots: most values (every field a request body holds is asked) have
    // none, told by a byte search rather than a split's.
    if memchr::memchr_iter(b'.', token.as_bytes()).take(3).count() != 2 {
        return None;
    }
    let (header, claims) = (token_part(token, 0)?, token_part(token, 1)?);
    let header: serde_json::Value = serde_json::from_slice(&base64url_decode(header)?).ok()?;
    let alg = header.get("alg")?.as_str()?.to_string();
    let claims: Option<serde_json::Value> = base64url_decode(claims).and_then(|c| serde_json::from_slice(&c).ok());
    let iss = claims.as_ref().and_then(|c| c.get("iss")).and_then(|i| i.as_str()).map(str::to_string);
    Some((alg, iss))
}

/// Who a request speaks for, as a stable hash (never the credential): a JWT's `sub` (or the
/// token), a Basic user name, an API key, or a session cookie. `None` for anonymous requests.
pub fn principal(headers: &crate::observation::Headers) -> Option<u64> {
    principal_with(headers, None)
}

/// The hash of `kind:value`, made without joining them.
fn principal_hash(kind: &str, v: &str) -> u64 {
    use crate::stats::{stable_hash, stable_hash_more};
    stable_hash_more(stable_hash_more(stable_hash(kind.as_bytes()), b":"), v.as_bytes())
}

/// Whom an Authorization value speaks for (see [`principal`]).
fn authorization_principal(value: &str) -> u64 {
    let (scheme, rest) = split_authorization(value);
    // Schemes are compared without a lower-cased copy: one per request otherwise.
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64url_decode(rest).map(|d| String::from_utf8_lossy(&d).into_owned()).unwrap_or_default();
        principal_hash("basic", decoded.split(':').next().unwrap_or_default())
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let sub = token_part(rest, 1)
            .and_then(base64url_decode)
            .and_then(|c| serde_json::from_slice::<serde_json::Value>(&c).ok())
            .and_then(|c| c.get("sub").map(|s| s.to_string()));
        match sub {
            Some(sub) => principal_hash("sub", &sub),
            None => principal_hash("bearer", rest),
        }
    } else {
        principal_hash(&scheme.to_ascii_lowercase(), rest)
    }
}

/// [`principal`], an Authorization value's answer remembered in `memory` when there is one.
pub fn principal_with(headers: &crate::observation::Headers, mut memory: Option<&mut AuthMemory>) -> Option<u64> {
    for (name, value) in headers {
        match name {
            "authorization" => {
                return Some(match memory.as_deref_mut() {
                    Some(memory) => memory.principal(value),
                    None => authorization_principal(value),
                });
            }
            n if API_KEY_HEADERS.contains(&n) => return Some(principal_hash("key", value)),
            _ => {}
        }
    }
    headers.iter().filter(|(n, _)| *n == "cookie").flat_map(|(_, v)| v.split(';')).find_map(|pair| {
        let (cookie, v) = pair.trim().split_once('=')?;
        is_session_cookie(cookie).then(|| principal_hash("cookie", v))
    })
}

/// Every scheme a request shows, from its headers (lower-case names) and query parameter names.
pub fn classify<S: AsRef<str>>(headers: &crate::observation::Headers, query_names: &[(S, S)]) -> Vec<AuthScheme> {
    classify_with(headers, query_names, None)
}

/// The scheme of an `authorization` or `proxy-authorization` value (`name` is which).
fn authorization_scheme(name: &str, value: &str) -> AuthScheme {
    let (scheme, rest) = split_authorization(value);
    let is = |known: &str| scheme.eq_ignore_ascii_case(known);
    if is("basic") {
        AuthScheme::Basic
    } else if is("bearer") {
        match jwt_header(rest) {
            Some((alg, iss)) => AuthScheme::Jwt { alg, iss },
            None => AuthScheme::Bearer,
        }
    } else if is("apikey") || is("api-key") || is("token") {
        AuthScheme::ApiKeyHeader { name: name.to_string() }
    } else {
        AuthScheme::Other { name: scheme.to_ascii_lowercase().chars().take(32).collect() }
    }
}

/// [`classify`], an Authorization value's scheme remembered in `memory` when there is one.
pub fn classify_with<S: AsRef<str>>(
    headers: &crate::observation::Headers,
    query_names: &[(S, S)],
    mut memory: Option<&mut AuthMemory>,
) -> Vec<AuthScheme> {
    // Room for the usual one scheme (or `None`) made at once.
    let mut found = Vec::with_capacity(2);
    for (name, value) in headers {
        match name {
            "authorization" | "proxy-authorization" => found.push(match memory.as_deref_mut() {
                Some(memory) => memory.scheme(name, value),
                None => authorization_scheme(name, value),
            }),
            "cookie" => {
                for pair in value.split(';') {
                    let cookie = pair.split('=').next().unwrap_or_default().trim();
                    if is_session_cookie(cookie) {
                        found.push(AuthScheme::SessionCookie { name: cookie.chars().take(64).collect() });
                    }
                }
            }
            n if API_KEY_HEADERS.contains(&n) => found.push(AuthScheme::ApiKeyHeader { name: n.to_string() }),
            _ => {}
        }
    }
    for (q, _) in query_names {
        let q = q.as_ref();
        if API_KEY_QUERY.iter().any(|known| known.eq_ignore_ascii_case(q)) {
            found.push(AuthScheme::ApiKeyQuery { name: q.to_owned() });
        }
    }
    if found.is_empty() {
        found.push(AuthScheme::None);
    }
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_QUERY: &[(&str, &str)] = &[];

    #[test]
    fn byte_searches_split_as_the_char_patterns_did() {
        let values = [
            "Bearer abc",
            " Bearer  abc ",
            "Basic",
            "",
            " ",
            "\u{3000}Bearer\u{3000}x y\u{2003}",
            "Bearer a.b.c",
            "a.b",
            ".",
            "..",
            "x.",
            ".y.",
            "é.€.𝄞",
            "Token  é é ",
        ];
        for v in values {
            let old = {
                let (scheme, rest) = v.trim().split_once(' ').unwrap_or((v.trim(), ""));
                (scheme, rest.trim())
            };
            assert_eq!(split_authorization(v), old, "{v:?}");
            for n in 0..4 {
                assert_eq!(token_part(v, n), v.split('.').nth(n), "{v:?} part {n}");
            }
        }
    }

    fn h(pairs: &[(&str, &str)]) -> crate::observation::Headers {
        pairs.iter().copied().collect()
    }

    // {"alg":"HS256","typ":"JWT"} . {"sub":"1","iss":"shop"} . sig
    const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiaXNzIjoic2hvcCJ9.c2ln";

    #[test]
    fn remembered_authorizations_answer_as_worked_out_ones_and_stay_bounded() {
        let values = [
            format!("Bearer {JWT}"),
            "Bearer opaque-token-123".to_string(),
            "Basic dTpw".to_string(),
            "Token abc".to_string(),
            "Digest username=x".to_string(),
            format!("Bearer {JWT}{}", "x".repeat(MAX_REMEMBERED_VALUE)),
        ];
        let mut memory = AuthMemory::default();
        for _ in 0..3 {
            for v in &values {
                for name in ["authorization", "proxy-authorization"] {
                    let headers = h(&[(name, v.as_str()), ("x-api-key", "k")]);
                    let query = &[("api_key", "1")];
                    assert_eq!(classify_with(&headers, query, Some(&mut memory)), classify(&headers, query), "{v}");
                    assert_eq!(principal_with(&headers, Some(&mut memory)), principal(&headers), "{v}");
                }
            }
        }
        // Only the JWT is kept (its scheme under both names, its principal): the other values
        // cost less to work out, and the long one would hold long strings.
        assert_eq!(memory.len(), 3);
        // Each kind is bounded: a client sending a new token with every request fills it,
        // and it starts afresh.
        for i in 0..3 * MAX_REMEMBERED_VALUES {
            let headers = h(&[("authorization", format!("Bearer {JWT}{i}").as_str())]);
            assert_eq!(principal_with(&headers, Some(&mut memory)), principal(&headers));
            let _ = classify_with(&headers, NO_QUERY, Some(&mut memory));
            assert!(memory.len() <= 2 * MAX_REMEMBERED_VALUES, "{}", memory.len());
        }
    }

    #[test]
    fn session_cookies_are_told_whatever_their_case() {
        for name in ["PHPSESSID", "sessionid", "ASP.NET_SessionId", "laravel_Session", "cfsessid", "connect.sid"] {
            assert!(is_session_cookie(name), "{name}");
        }
        for name in ["theme", "_ga", "sess", "session_", "", "é_session_é"] {
            assert!(!is_session_cookie(name), "{name}");
        }
    }

    #[test]
    fn schemes() {
        assert_eq!(classify(&h(&[("authorization", "Basic dTpw")]), NO_QUERY), vec![AuthScheme::Basic]);
        assert_eq!(classify(&h(&[("authorization", "Bearer abc.def")]), NO_QUERY), vec![AuthScheme::Bearer]);
        assert_eq!(
            classify(&h(&[("authorization", &format!("Bearer {JWT}"))]), NO_QUERY),
            vec![AuthScheme::Jwt { alg: "HS256".into(), iss: Some("shop".into()) }]
        );
        assert_eq!(
            classify(&h(&[("x-api-key", "k")]), &[("API_Key", "1")]),
            vec![
                AuthScheme::ApiKeyHeader { name: "x-api-key".into() },
                // Recognised whatever its case, named as sent.
                AuthScheme::ApiKeyQuery { name: "API_Key".into() }
            ]
        );
        assert_eq!(
            classify(&h(&[("cookie", "theme=dark; sessionid=abc; csrftoken=x")]), NO_QUERY),
            vec![AuthScheme::SessionCookie { name: "sessionid".into() }]
        );
        assert_eq!(classify(&h(&[("cookie", "theme=dark")]), NO_QUERY), vec![AuthScheme::None]);
        assert_eq!(
            classify(&h(&[("authorization", "Digest username=x")]), NO_QUERY),
            vec![AuthScheme::Other { name: "digest".into() }]
        );
    }

    #[test]
    fn multi_byte_characters_anywhere_are_classified_without_panicking() {
        for v in crate::test_values::all() {
            let headers = h(&[
                ("authorization", &format!("Basic {v}")),
                ("authorization", &format!("Bearer {v}")),
                ("authorization", &format!("{v} {v}")),
                ("proxy-authorization", &v),
                ("cookie", &format!("sessionid={v}; {v}={v}; {v}")),
                ("x-api-key", &v),
            ]);
            assert!(!classify(&headers, &[(v.as_str(), v.as_str()), ("api_key", "")]).is_empty());
            // Each scheme on its own decides the principal.
            for one in headers.iter().map(|field| crate::observation::Headers::from([field])) {
                assert!(principal(&one).is_some() || one.iter().any(|(n, _)| n == "proxy-authorization"), "{one:?}");
            }
            // base64url has no such character: a JWT needs at least its header part without one.
            assert_eq!(base64url_decode(&v), None, "{v:?}");
            let header_decodes = v.split('.').next().is_some_and(|header| header.is_ascii());
            assert!(jwt_header(&v).is_none() || header_decodes, "{v:?}");
            assert!(jwt_claims(&v).is_none() || header_decodes, "{v:?}");
        }
        assert_eq!(classify(&h(&[("authorization", &format!("Bearer {JWT}"))]), NO_QUERY).len(), 1, "ASCII as before");
    }

    #[test]
    fn jwt_alg_none_and_garbage() {
        // {"alg":"none"} . {"iss":"x"} . (empty)
        assert_eq!(jwt_header("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."), Some(("none".into(), Some("x".into()))));
        assert_eq!(jwt_header("not.a.jwt"), None);
        assert_eq!(jwt_header("a.b"), None);
        assert_eq!(jwt_header("!!!.###.$$$"), None);
        assert_eq!(jwt_header("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.c2ln.x"), None, "four parts");
        assert_eq!(jwt_header("eyJhbGciOiJub25lIn0"), None, "one part");
        assert_eq!(jwt_header("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.c2ln").map(|(alg, _)| alg), Some("none".into()));
    }
}
