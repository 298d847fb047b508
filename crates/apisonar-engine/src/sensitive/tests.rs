//! Every class with true values and near misses.

#![allow(clippy::indexing_slicing, clippy::string_slice, clippy::unwrap_used)]

use super::*;
use crate::observation::Headers;

fn classes(name: &str, value: &str) -> Vec<Class> {
    classify_field(name, value)
}

#[test]
fn cards_by_issuer_and_luhn() {
    for good in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "378282246310005",
        "6011111111111117",
        "2223003122003222",
        "3530111333300000",
    ] {
        assert_eq!(classes("x", good), vec![Class::CardNumber], "{good}");
    }
    for bad in [
        "4111111111111112",
        "1234567812345678",
        "0000000000000000",
        "9111111111111111",
        "41111111111",
        "4111a11111111111",
    ] {
        assert!(!classes("x", bad).contains(&Class::CardNumber), "{bad}");
    }
}

#[test]
fn ibans_by_mod_97() {
    for good in ["DE89370400440532013000", "GB82 WEST 1234 5698 7654 32", "NL91ABNA0417164300"] {
        assert!(classes("x", good).contains(&Class::Iban), "{good}");
    }
    for bad in ["DE89370400440532013001", "GB82WEST12345698765433", "XX00", "DE8937040044053201300$"] {
        assert!(!classes("x", bad).contains(&Class::Iban), "{bad}");
    }
}

#[test]
fn national_identifiers() {
    assert_eq!(classes("ssn", "123-45-6789"), vec![Class::UsSsn]);
    for bad in ["000-45-6789", "666-45-6789", "912-45-6789", "123-00-6789", "123-45-0000", "123456789"] {
        assert!(!classes("ssn", bad).contains(&Class::UsSsn), "{bad}");
    }
    assert_eq!(classes("dni", "12345678Z"), vec![Class::SpanishDni]);
    assert_eq!(classes("nie", "X1234567L"), vec![Class::SpanishDni]);
    assert!(classes("dni", "12345678A").is_empty());
    assert_eq!(classes("bsn", "111222333"), vec![Class::DutchBsn]);
    assert!(classes("bsn", "111222334").is_empty());
    assert!(classes("order_id", "111222333").is_empty(), "nine digits without a BSN field name");
    assert_eq!(classes("x", "529.982.247-25"), vec![Class::BrazilCpf]);
    assert!(classes("x", "529.982.247-26").is_empty());
    assert!(classes("x", "111.111.111-11").is_empty());
}

#[test]
fn contact_data() {
    assert_eq!(classes("x", "alice@example.com"), vec![Class::Email]);
    for bad in ["alice@", "@example.com", "alice example.com", "a@b", "x@y."] {
        assert!(classes("x", bad).is_empty(), "{bad}");
    }
    assert_eq!(classes("x", "+31 20 123 4567"), vec![Class::Phone]);
    assert!(classes("x", "+1 2").is_empty());
    assert!(classes("x", "31 20 123 4567").is_empty(), "E.164 needs the +");
}

#[test]
fn credentials_and_keys() {
    assert_eq!(classes("password", "hunter2"), vec![Class::Password]);
    assert_eq!(classes("new-password", "x"), vec![Class::Password]);
    assert!(classes("password_hint", "x").is_empty());
    assert!(classes("password", "$2b$12$abcdefghijklmnopqrstuv").is_empty(), "a bcrypt hash is not a password");
    assert_eq!(classes("api_key", "aB3dE5fG7hJ9kL1mN3pQ5r"), vec![Class::ApiKey]);
    assert!(classes("api_key", "short").is_empty());
    assert!(classes("name", "aB3dE5fG7hJ9kL1mN3pQ5r").is_empty(), "high entropy alone is not a key");
    assert_eq!(classes("x", "AKIAIOSFODNN7EXAMPLE"), vec![Class::CloudAccessKey]);
    assert!(classes("x", "AKIAIOSFODNN7EXAMPL").is_empty());
    assert_eq!(classes("x", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"), vec![Class::SourceHostToken]);
    assert_eq!(classes("x", "glpat-abcdefghij0123456789"), vec![Class::SourceHostToken]);
    assert_eq!(classes("x", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"), vec![Class::PaymentProviderKey]);
    assert!(classes("x", "sk_live_short").is_empty());
    assert_eq!(
        classes("key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----"),
        vec![Class::PrivateKey]
    );
    assert!(classes("key", "-----BEGIN PUBLIC KEY-----").is_empty());
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
    assert_eq!(classes("token", jwt), vec![Class::Jwt]);
    assert_eq!(classes("token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0."), vec![Class::JwtAlgNone]);
}

#[test]
fn headers_cookies_and_json_are_scanned_with_locations() {
    let key = MaskKey::default();
    let mut out = Findings::new(&key);
    let headers = vec![
        ("authorization".to_string(), "Basic YWxpY2U6d29uZGVybGFuZA==".to_string()),
        ("cookie".to_string(), "theme=dark; sessionid=abc123".to_string()),
        ("x-api-key".to_string(), "k3yK3yK3yK3yK3yK3y99zz".to_string()),
    ];
    scan_headers(&Headers::from(headers.clone()), "request.header", &mut out);
    let out = out.into_vec();
    let got: Vec<(Class, &str)> = out.iter().map(|f| (f.class, &*f.location)).collect();
    assert_eq!(
        got,
        vec![
            (Class::BasicAuth, "request.header.authorization"),
            (Class::SessionCookie, "request.header.cookie.sessionid"),
            (Class::ApiKey, "request.header.x-api-key")
        ]
    );
    let mut out = Findings::new(&key);
    let body = serde_json::json!({"users": [{"email": "a@b.io", "card": "4111111111111111"}, {"email": "c@d.io"}], "ok": true});
    scan_json(&body, "response.json", &mut out);
    let out = out.into_vec();
    let got: Vec<(Class, &str)> = out.iter().map(|f| (f.class, &*f.location)).collect();
    assert_eq!(
        got,
        vec![(Class::CardNumber, "response.json.users[].card"), (Class::Email, "response.json.users[].email")]
    );
    assert_eq!(out[1].count, 2, "repeats at one location count instead of repeating");
}

#[test]
fn masks_never_contain_the_value() {
    for (class, value) in [
        (Class::Password, "wonderland"),
        (Class::CardNumber, "4111111111111111"),
        (Class::Email, "alice@example.com"),
        (Class::Jwt, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"),
        (Class::PaymentProviderKey, "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        (Class::Iban, "DE89370400440532013000"),
        (Class::UsSsn, "123-45-6789"),
    ] {
        let m = mask(&MaskKey::default(), class, value);
        assert!(!m.contains(value), "{m}");
        assert!(
            !m.contains(&value[..value.len().clamp(5, 8)]) || class == Class::PaymentProviderKey && m.starts_with("sk"),
            "{class:?}: {m}"
        );
    }
    let key = MaskKey::default();
    assert_eq!(mask(&key, Class::CardNumber, "4111111111111111"), "************1111");
    assert_eq!(mask(&key, Class::Email, "alice@example.com"), "a***@example.com");
    // {"alg":"HS256"} . {"iss":"shop","exp":1700000000}
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJzaG9wIiwiZXhwIjoxNzAwMDAwMDAwfQ.c2ln";
    let m = mask(&key, Class::Jwt, jwt);
    assert!(m.starts_with("JWT alg=HS256 iss=shop exp=1700000000 "), "{m}");
}

#[test]
fn every_kind_of_mask_is_written_whole() {
    let key = MaskKey::new([9; 32]);
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJzaG9wIiwiZXhwIjoxNzAwMDAwMDAwfQ.c2ln";
    for (class, value, expected) in [
        (Class::Jwt, jwt, "JWT alg=HS256 iss=shop exp=1700000000 …(68 chars) h:02319254"),
        (Class::Jwt, "not.a.jwt-but-long-enough", "…(25 chars) h:a8f1a739"),
        (Class::CardNumber, "4111 1111 1111 1111", "************1111"),
        (Class::CardNumber, "card-on-file-123", "123"),
        (Class::CardNumber, "card-on-file-nnn", "…(16 chars)"),
        (Class::Iban, "DE89370400440532013000", "DE********************"),
        (Class::CloudAccessKey, "AKIAIOSFODNN7EXAMPLE", "AKIA…(20 chars) h:509fb6ec"),
        (Class::Email, "no-at-sign-here.example", "***"),
        (Class::Password, "correct horse battery", "…(21 chars)"),
        (Class::BearerToken, "short", "…(5 chars)"),
        (Class::Password, "", "…(0 chars)"),
        (Class::Password, &"p".repeat(1000), "…(1000 chars)"),
        (Class::BearerToken, "opaque-token-0123456789", "…(23 chars) h:39c9a774"),
    ] {
        assert_eq!(mask(&key, class, value), expected, "{class:?} {value}");
    }
}

#[test]
fn only_machine_made_secrets_get_a_hash_and_it_is_keyed() {
    let (a, b) = (MaskKey::new([1; 32]), MaskKey::new([2; 32]));
    let token = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let hash = |m: String| m.rsplit_once(" h:").map(|(_, h)| h.to_string());
    // The same token gives the same hash under one key (repeats correlate) and another under
    // another key (a mask cannot be tested against guesses without the store's key).
    let ha = hash(mask(&a, Class::PaymentProviderKey, token)).unwrap();
    assert_eq!(ha.len(), 8);
    assert_eq!(hash(mask(&a, Class::PaymentProviderKey, token)).unwrap(), ha);
    assert_ne!(hash(mask(&b, Class::PaymentProviderKey, token)).unwrap(), ha);
    assert_ne!(hash(mask(&a, Class::PaymentProviderKey, "sk_live_4eC39HqLyjWDarjtT1zdp7dX")).unwrap(), ha);
    // Small spaces (personal data, passwords, Basic credentials) get no hash at all.
    for (class, value) in [
        (Class::CardNumber, "4111111111111111"),
        (Class::Phone, "+34 612 345 678"),
        (Class::Email, "alice@example.com"),
        (Class::Iban, "DE89370400440532013000"),
        (Class::BasicAuth, "YWxpY2U6d29uZGVybGFuZA=="),
        (Class::Password, "correct horse battery staple"),
        (Class::UsSsn, "123-45-6789"),
    ] {
        assert_eq!(hash(mask(&a, class, value)), None, "{class:?}");
    }
}

/// One class for each way `mask` shows a value.
const MASKS_BY_BRANCH: [Class; 7] =
    [Class::Password, Class::Jwt, Class::CardNumber, Class::Email, Class::Iban, Class::CloudAccessKey, Class::UsSsn];

/// Classes whose formats are ASCII only: a value with any other character is never one of them.
const ASCII_FORMATS: [Class; 8] = [
    Class::CardNumber,
    Class::Iban,
    Class::UsSsn,
    Class::SpanishDni,
    Class::DutchBsn,
    Class::BrazilCpf,
    Class::Phone,
    Class::Email,
];

#[test]
fn multi_byte_characters_anywhere_in_any_value_are_classified_without_panicking() {
    // The ASCII shapes keep their classes...
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
    for (value, want) in [
        ("12345678Z", vec![Class::SpanishDni]),
        ("X1234567L", vec![Class::SpanishDni]),
        ("123-45-6789", vec![Class::UsSsn]),
        ("529.982.247-25", vec![Class::BrazilCpf]),
        ("4111 1111 1111 1111", vec![Class::CardNumber]),
        ("DE89370400440532013000", vec![Class::Iban]),
        ("+31 20 123 4567", vec![Class::Phone]),
        ("alice@example.com", vec![Class::Email]),
        ("AKIAIOSFODNN7EXAMPLE", vec![Class::CloudAccessKey]),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", vec![Class::SourceHostToken]),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", vec![Class::PaymentProviderKey]),
        (jwt, vec![Class::Jwt]),
    ] {
        assert_eq!(classes("x", value), want, "{value}");
    }
    assert_eq!(classes("bsn", "111222333"), vec![Class::DutchBsn]);
    // ...and with a multi-byte character anywhere, nothing panics and no ASCII format matches.
    assert!(!is_spanish_dni("1234567é"), "a 2-byte character across byte 8");
    for v in crate::test_values::all() {
        for name in ["x", "password", "api_key", "bsn", v.as_str()] {
            let found = classify_field(name, &v);
            assert!(!found.iter().any(|c| ASCII_FORMATS.contains(c)), "{name}={v:?}: {found:?}");
        }
        let checks: [fn(&str) -> bool; 7] =
            [is_card_number, is_iban, is_us_ssn, is_spanish_dni, is_dutch_bsn, is_brazil_cpf, is_phone];
        assert!(!checks.iter().any(|is| is(&v)), "{v:?}");
        // Any bytes at all, only for not panicking.
        let _ = luhn(v.as_bytes());
        let key = MaskKey::default();
        for class in MASKS_BY_BRANCH {
            assert!(!mask(&key, class, &v).is_empty());
        }
        let mut out = Findings::new(&key);
        let headers: Vec<(String, String)> = [
            ("authorization", format!("Basic {v}")),
            ("authorization", format!("Bearer {v}")),
            ("authorization", format!("{v} {v}")),
            ("proxy-authorization", v.clone()),
            ("cookie", format!("theme=dark; sessionid={v}; {v}={v}; {v}")),
            ("set-cookie", format!("{v}={v}; Path=/")),
            ("x-api-key", v.clone()),
            ("x-custom", v.clone()),
        ]
        .into_iter()
        .map(|(n, value)| (n.to_string(), value))
        .chain([(v.clone(), v.clone())])
        .collect();
        scan_headers(&Headers::from(headers.clone()), "request.header", &mut out);
        let pairs = vec![("q".to_string(), v.clone()), (v.clone(), v.clone()), ("password".to_string(), v.clone())];
        scan_pairs(&pairs, "request.query", &mut out);
        let form = format!("{v}={v}&dni={v}&{v}");
        scan_pairs(&crate::params::decoded_pairs(&form, 64), "request.form", &mut out);
        let body = serde_json::json!({ "email": v, "password": v, "items": [v, { "dni": v }], v.as_str(): v });
        scan_json(&body, "request.json", &mut out);
        let out = out.into_vec();
        assert!(!out.iter().any(|f| ASCII_FORMATS.contains(&f.class)), "{v:?}: {out:?}");
    }
}

#[test]
fn query_values_that_are_secrets_or_personal_data_are_masked_in_targets() {
    let key = MaskKey::default();
    for (target, expect) in [
        ("/a/b", "/a/b"),
        ("/search?q=shoes&page=2", "/search?q=shoes&page=2"),
        ("/login?user=bob&password=wonderland", "/login?user=bob&password=[…(10 chars)]"),
        ("/x?email=alice%40example.com#top", "/x?email=[a***@example.com]#top"),
        ("/pay?card=4111+1111+1111+1111&n=1", "/pay?card=[************1111]&n=1"),
        ("/x?password=", "/x?password="),
    ] {
        assert_eq!(mask_query(&key, target), expect, "{target}");
    }
    let masked = mask_query(&key, "/cb?access_token=ghp_16C7e42F292c6912E7710c838347Ae178B4a");
    assert!(!masked.contains("16C7e42F292c") && masked.starts_with("/cb?access_token=["), "{masked}");
}

#[test]
fn header_fields_found_clean_are_remembered_and_nothing_sensitive_is() {
    let key = MaskKey::default();
    let headers = |email: &str| {
        vec![
            ("accept".to_string(), "application/json, text/plain;q=0.9".to_string()),
            ("user-agent".to_string(), "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".to_string()),
            ("x-customer-email".to_string(), email.to_string()),
            ("x-trace".to_string(), "4111 1111 1111 1111".to_string()),
            // Cookie pairs are remembered one by one; the session cookie is a credential.
            (
                "cookie".to_string(),
                format!(
                    "theme=dark; _ga=GA1.2.1234567.1700000000; contact={email}; ASP.NET_SessionId=abcdef0123456789"
                ),
            ),
        ]
    };
    let scan = |headers: &[(String, String)], clean: Option<&mut CleanFields>| {
        let mut out = Findings::new(&key);
        scan_headers_with(
            &headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            "request.header",
            &mut out,
            clean,
        );
        out.into_vec().into_iter().map(|f| (f.class, f.location, f.mask)).collect::<Vec<_>>()
    };
    let mut clean = CleanFields::default();
    for email in ["ann@example.com", "bob@example.org", "ann@example.com"] {
        let without = scan(&headers(email), None);
        assert_eq!(scan(&headers(email), Some(&mut clean)), without, "{email}");
        assert!(
            without.iter().any(|(c, _, _)| *c == Class::Email)
                && without.iter().any(|(c, _, _)| *c == Class::CardNumber)
        );
        let at = |class: Class, place: &str| without.iter().any(|(c, l, _)| *c == class && &**l == place);
        assert!(at(Class::Email, "request.header.cookie.contact"), "{without:?}");
        assert!(at(Class::SessionCookie, "request.header.cookie.ASP.NET_SessionId"), "{without:?}");
    }
    // Only the clean fields are remembered (two headers, two cookies), however often they come.
    assert_eq!(clean.len(), 4);
    // Bounded: a stream of distinct clean values starts afresh at the limit.
    for i in 0..MAX_CLEAN_FIELDS * 2 {
        scan(&[("x-request-id".to_string(), format!("r{i}"))], Some(&mut clean));
        assert!(clean.len() <= MAX_CLEAN_FIELDS);
    }
}

#[test]
fn tags_are_the_first_bytes_of_the_keyed_hmac_whichever_key_came_before() {
    use hmac::Mac;
    let reference = |key: &[u8; 32], value: &str| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().iter().take(4).map(|b| format!("{b:02x}")).collect::<String>()
    };
    let (one, two) = ([1u8; 32], [2u8; 32]);
    // Keys alternate so the per-thread prepared state must follow them.
    for (key, value) in [(one, "tok-a"), (two, "tok-a"), (one, "tok-b"), (one, ""), (two, "x".repeat(200).as_str())] {
        let tag = MaskKey::new(key).tag(value);
        assert_eq!(tag, reference(&key, value), "{value}");
        assert_eq!(tag.len(), 8);
    }
    assert_ne!(MaskKey::new(one).tag("tok-a"), MaskKey::new(two).tag("tok-a"));
}

#[test]
fn framing_and_date_headers_are_not_read_for_personal_data() {
    let key = MaskKey::default();
    let headers = |name: &str, value: &str| Headers::from([(name, value)]);
    // A Luhn-valid 16-digit length is a length; the same digits in another header are a card.
    for (name, found) in [("content-length", false), ("date", false), ("x-card", true)] {
        let mut out = Findings::new(&key);
        scan_headers_with(&headers(name, "4111111111111111"), "response.header", &mut out, None);
        assert_eq!(!out.is_empty(), found, "{name}");
    }
}

#[test]
fn credentials_remembered_by_a_worker_give_the_findings_worked_out_afresh() {
    let key = MaskKey::new([3; 32]);
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
    let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.";
    let requests: Vec<Vec<(&str, String)>> = [
        ("authorization", format!("Bearer {jwt}")),
        ("authorization", format!("Bearer {none}")),
        ("authorization", "Bearer opaque-token-0123456789abcdef".to_string()),
        ("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l".to_string()),
        // The same token under another scheme is another class.
        ("authorization", "Token opaque-token-0123456789abcdef".to_string()),
        ("cookie", "theme=dark; sessionid=s3ss10n-value-0001".to_string()),
        ("x-api-key", "k-0123456789abcdef".to_string()),
    ]
    .iter()
    .map(|(n, v)| vec![(*n, v.clone()), ("accept", "application/json".to_string())])
    .collect();
    let scan = |headers: &[(&str, String)], memory: Option<&mut CleanFields>| {
        let headers: Headers = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let mut out = Findings::new(&key);
        scan_headers_with(&headers, "request.header", &mut out, memory);
        out.into_vec()
    };
    let mut memory = CleanFields::default();
    // Every request twice, in two rounds: the second meeting of each value is remembered.
    for _ in 0..2 {
        for headers in &requests {
            let afresh = scan(headers, None);
            assert!(!afresh.is_empty(), "{headers:?}");
            assert_eq!(scan(headers, Some(&mut memory)), afresh, "{headers:?}");
        }
    }
    assert_eq!(memory.credentials(), requests.len());
    // Bounded: a stream of distinct tokens starts afresh at the limit.
    for i in 0..MAX_CLEAN_FIELDS * 2 {
        scan(&[("authorization", format!("Bearer t-{i:016}"))], Some(&mut memory));
        assert!(memory.credentials() <= MAX_CLEAN_FIELDS);
    }
}

#[test]
fn masks_made_in_the_threads_buffer_read_as_made_alone() {
    let key = MaskKey::new([5; 32]);
    let scan = |token: &str| {
        let headers: Headers =
            [("authorization", format!("Bearer {token}"))].iter().map(|(n, v)| (*n, v.as_str())).collect();
        let mut out = Findings::new(&key);
        scan_headers(&headers, "request.header", &mut out);
        out.into_vec().remove(0)
    };
    // Each mask is the one `mask` makes on its own, whatever the masks written before it in the
    // thread's buffer (a long one among them).
    let first = scan("opaque-token-0123456789abcdef");
    assert_eq!(&*first.location, "request.header.authorization");
    assert_eq!(*first.mask, *mask(&key, Class::BearerToken, "opaque-token-0123456789abcdef"));
    let second = scan("another-token-0123456789abcdef");
    assert_eq!(*second.mask, *mask(&key, Class::BearerToken, "another-token-0123456789abcdef"));
    let long = format!("someone@{}.example", "sub".repeat(200));
    let mut out = Findings::new(&key);
    let pairs = [("contact".to_string(), long.clone()), ("x".to_string(), "bob@example.com".to_string())];
    scan_pairs(&pairs, "request.query", &mut out);
    let out = out.into_vec();
    assert_eq!(*out[0].mask, *mask(&key, Class::Email, &long));
    assert_eq!((&*out[1].location, &*out[1].mask), ("request.query.x", "b***@example.com"));
    assert_eq!(*scan("opaque-token-0123456789abcdef").mask, *first.mask);
}

/// The word test `NameTail` replaced, byte by byte over the whole name: the oracle it is
/// checked against.
fn name_matches_by_bytes(name: &str, word: &str) -> bool {
    let (n, w) = (name.as_bytes(), word.as_bytes());
    let norm = |b: u8| if b == b'-' { b'_' } else { b.to_ascii_lowercase() };
    let Some((head, tail)) = n.len().checked_sub(w.len()).and_then(|at| n.split_at_checked(at)) else { return false };
    tail.iter().zip(w).all(|(a, b)| norm(*a) == *b) && head.last().is_none_or(|b| norm(*b) == b'_')
}

#[test]
fn name_tails_match_listed_words_as_the_whole_name_does() {
    let lists: [&[&str]; 4] = [PASSWORD_NAMES, KEY_NAMES, &ID_NAMES, crate::auth::API_KEY_HEADERS];
    let words: Vec<&str> = lists.iter().flat_map(|l| l.iter().copied()).chain(["cpf", "tax_id"]).collect();
    for w in &words {
        assert!(w.len() < NAME_TAIL, "{w} is too long for a name's tail");
        assert_eq!(w.to_ascii_lowercase(), *w);
    }
    // Names made of the words' pieces, separators, case changes, other bytes and long prefixes.
    let pieces = ["pass", "word", "_", "-", "key", "api", "x", "token", "PASS", "Key", "é", "_id", "ssn", "n", "pin"];
    let mut rng = apisonar_testkit::workload::Rng::seeded(0x4e41_4d45);
    let mut matched = 0;
    for round in 0..40_000 {
        let mut name = String::new();
        if round % 7 == 0 {
            name.push_str(&"long_prefix_".repeat(1 + rng.below(4) as usize));
        }
        for _ in 0..rng.below(5) {
            name.push_str(pieces[rng.below(pieces.len() as u64) as usize]);
        }
        if rng.below(3) == 0 {
            name.push_str(words[rng.below(words.len() as u64) as usize]);
        }
        let tail = NameTail::of(&name);
        for w in &words {
            let want = name_matches_by_bytes(&name, w);
            assert_eq!(tail.is(w), want, "{name:?} against {w}");
            matched += usize::from(want);
        }
    }
    assert!(matched > 10_000, "the names matched only {matched} times");
}

#[test]
fn digits_are_found_eight_bytes_at_a_time_as_byte_by_byte() {
    let mut rng = apisonar_testkit::workload::Rng::seeded(0x00d1_6175);
    // Digits, the bytes around them, bytes that are digits but for their high bit, and others.
    let alphabet = [b'0', b'9', b'/', b':', b'a', b' ', 0xb0, 0xb9, 0x30 ^ 0x80, 0xff, 0x00, 0x0a];
    let mut found = 0;
    for _ in 0..50_000 {
        let len = rng.below(40) as usize;
        let bytes: Vec<u8> =
            (0..len)
                .map(|_| {
                    if rng.below(6) == 0 {
                        alphabet[rng.below(4) as usize]
                    } else {
                        alphabet[4 + rng.below(8) as usize]
                    }
                })
                .collect();
        let want = bytes.iter().any(u8::is_ascii_digit);
        assert_eq!(has_ascii_digit(&bytes), want, "{bytes:?}");
        found += usize::from(want);
    }
    assert!(found > 10_000 && found < 45_000, "{found}");
}

#[test]
fn values_are_trimmed_as_str_trim_does() {
    let mut rng = apisonar_testkit::workload::Rng::seeded(0x0071_7e3d);
    // ASCII and Unicode whitespace (vertical tab, NEL, no-break and em space), visible ASCII
    // next to the ends of its range, DEL, and other non-ASCII characters.
    let alphabet = [" ", "\t", "\n", "\u{b}", "\r", "\u{85}", "\u{a0}", "\u{2003}", "!", "~", "a", "\u{7f}", "é", "€"];
    let mut changed = 0;
    for _ in 0..30_000 {
        let value: String = (0..rng.below(8)).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]).collect();
        assert_eq!(trimmed(&value), value.trim(), "{value:?}");
        changed += usize::from(value.trim().len() != value.len());
    }
    assert!(changed > 10_000, "{changed}");
}
