//! Checker functions for the `tls` fuzz target (`fuzz/`) and this crate's tests: the TLS
//! handshake parsers (ClientHello, SSLv2 hello, ServerHello, Certificate) and fingerprints on
//! arbitrary bytes, and on hellos and certificates built from arbitrary choices, whose parse
//! must give back what was built.

use crate::tls::{self, ClientHello, ServerHello};

/// Reads an input as a stream of choices; an exhausted input reads as zeros.
struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()).checked_rem(n).unwrap_or(0)
    }

    fn take(&mut self, max: usize) -> &'a [u8] {
        let n = self.below(max.saturating_add(1)).min(self.rest.len());
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        taken
    }
}

/// Values that make parsers take their named branches: GREASE, TLS versions, weak ciphers.
const U16S: [u16; 12] =
    [0x0a0a, 0xfafa, 0x0304, 0x0303, 0x0301, 0x0300, 0x0002, 0x1301, 0xc02f, 0x000a, 0x0004, 0x0000];

fn word(input: &mut Input<'_>) -> u16 {
    if input.byte() & 1 == 0 {
        U16S.get(input.below(U16S.len())).copied().unwrap_or(0)
    } else {
        input.u16()
    }
}

fn words(input: &mut Input<'_>, max: usize) -> Vec<u16> {
    let n = input.below(max.saturating_add(1));
    (0..n).map(|_| word(input)).collect()
}

fn push_u16(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes());
}

fn vec16(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_u16(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

fn vec8(body: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::try_from(body.len()).unwrap_or(u8::MAX)];
    out.extend_from_slice(body);
    out
}

fn u16_bytes(list: &[u16]) -> Vec<u8> {
    list.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// Extensions of a built hello: (type, data).
fn extensions(input: &mut Input<'_>, server: bool) -> Vec<(u16, Vec<u8>)> {
    let n = input.below(9);
    let mut out = Vec::new();
    for _ in 0..n {
        let kinds: &[u16] =
            if server { &[43, 16, 0xff01, 0x0a0a, 11] } else { &[0, 16, 10, 11, 13, 43, 0x0a0a, 21, 0xfe0d] };
        let kind = kinds.get(input.below(kinds.len())).copied().unwrap_or(0);
        let data = match (kind, server) {
            (0, _) => {
                let name = input.take(40);
                let mut entry = vec![0u8];
                entry.extend(vec16(name));
                vec16(&entry)
            }
            (16, _) => {
                let mut list = Vec::new();
                for _ in 0..input.below(4) {
                    let p = input.take(12);
                    list.extend(vec8(p));
                }
                vec16(&list)
            }
            (43, true) => word(input).to_be_bytes().to_vec(),
            (43, false) => vec8(&u16_bytes(&words(input, 6))),
            (10 | 13, _) => vec16(&u16_bytes(&words(input, 8))),
            (11, _) => vec8(input.take(4)),
            _ => input.take(16).to_vec(),
        };
        out.push((kind, data));
    }
    out
}

fn extension_block(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (kind, data) in exts {
        block.extend_from_slice(&kind.to_be_bytes());
        block.extend(vec16(data));
    }
    vec16(&block)
}

/// Checks what every parsed hello must satisfy, and its fingerprints' formats.
fn check_client_hello(ch: &ClientHello) {
    if let Some((text, hash)) = ch.ja3() {
        assert_eq!(text.matches(',').count(), 4, "JA3 string {text:?}");
        assert!(hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "JA3 hash {hash:?}");
    } else {
        assert!(ch.sslv2, "only SSLv2 hellos have no JA3");
    }
    let ja4 = ch.ja4();
    assert_eq!(ja4.len(), 36, "JA4 {ja4:?}");
    assert!(ja4.is_ascii() && ja4.get(10..11) == Some("_") && ja4.get(23..24) == Some("_"), "JA4 {ja4:?}");
    assert!(!ch.versions.is_empty(), "a hello without a version");
    assert!(ch.versions.iter().all(|v| !tls::is_grease(*v)) || ch.versions == [ch.legacy_version]);
    for v in ch.versions.iter().chain(&ch.ciphers) {
        let _ = (tls::version_name(*v), tls::cipher_name(*v), tls::cipher_weakness(*v));
    }
}

fn check_server_hello(sh: &ServerHello) {
    let (text, hash) = sh.ja3s();
    assert_eq!(text.matches(',').count(), 2, "JA3S string {text:?}");
    assert!(hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "JA3S hash {hash:?}");
    let _ = (tls::version_name(sh.version), tls::cipher_name(sh.cipher), tls::cipher_weakness(sh.cipher));
}

fn built_client_hello(input: &mut Input<'_>) {
    let legacy = word(input);
    let ciphers = words(input, 24);
    let exts = extensions(input, false);
    let mut body = legacy.to_be_bytes().to_vec();
    body.extend([7u8; 32]);
    body.extend(vec8(input.take(32)));
    body.extend(vec16(&u16_bytes(&ciphers)));
    body.extend(vec8(&[0]));
    let with_extensions = input.byte() & 3 != 0;
    if with_extensions {
        body.extend(extension_block(&exts));
    }
    let parsed = tls::parse_client_hello(&body);
    assert!(parsed.is_some(), "a well-formed ClientHello does not parse");
    if let Some(ch) = parsed {
        assert_eq!(ch.legacy_version, legacy);
        assert_eq!(ch.ciphers, ciphers, "ciphers");
        let kinds: Vec<u16> = if with_extensions { exts.iter().map(|(k, _)| *k).collect() } else { Vec::new() };
        assert_eq!(ch.extensions, kinds, "extensions");
        check_client_hello(&ch);
    }
    // Every prefix parses or not, without panicking.
    let cut = input.below(body.len().saturating_add(1));
    if let Some(ch) = tls::parse_client_hello(body.get(..cut).unwrap_or_default()) {
        check_client_hello(&ch);
    }
}

fn built_server_hello(input: &mut Input<'_>) {
    let legacy = word(input);
    let cipher = word(input);
    let exts = extensions(input, true);
    let mut body = legacy.to_be_bytes().to_vec();
    body.extend([9u8; 32]);
    body.extend(vec8(input.take(32)));
    body.extend_from_slice(&cipher.to_be_bytes());
    body.push(0);
    body.extend(extension_block(&exts));
    let parsed = tls::parse_server_hello(&body);
    assert!(parsed.is_some(), "a well-formed ServerHello does not parse");
    if let Some(sh) = parsed {
        assert_eq!((sh.legacy_version, sh.cipher), (legacy, cipher));
        assert_eq!(sh.extensions, exts.iter().map(|(k, _)| *k).collect::<Vec<_>>(), "extensions");
        check_server_hello(&sh);
    }
}

/// A DER element; lengths in short or long form as DER requires.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let tail = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | u8::try_from(tail.len()).unwrap_or(4));
        out.extend_from_slice(tail);
    }
    out.extend_from_slice(content);
    out
}

fn name(input: &mut Input<'_>, cn: &[u8]) -> Vec<u8> {
    let mut rdns = Vec::new();
    let atv = [der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, cn)].concat();
    rdns.extend(der(0x31, &der(0x30, &atv)));
    if input.byte() & 1 == 1 {
        let other = [der(0x06, &[0x55, 0x04, 0x0a]), der(0x13, input.take(10))].concat();
        rdns.extend(der(0x31, &der(0x30, &other)));
    }
    der(0x30, &rdns)
}

fn time(input: &mut Input<'_>) -> Vec<u8> {
    let digits: String =
        (0..12).map(|_| char::from(b'0'.saturating_add(input.byte().checked_rem(10).unwrap_or(0)))).collect();
    if input.byte() & 1 == 0 {
        der(0x17, format!("{digits}Z").as_bytes())
    } else {
        der(0x18, format!("20{digits}Z").as_bytes())
    }
}

fn built_certificate(input: &mut Input<'_>) {
    let subject_cn = input.take(24).to_vec();
    let issuer_cn = input.take(24).to_vec();
    let (alg, key, want_type) = match input.below(5) {
        0 => {
            let modulus = input.take(64);
            let rsa_key = der(0x30, &[der(0x02, modulus), der(0x02, &[1, 0, 1])].concat());
            let mut bits = vec![0u8];
            bits.extend(rsa_key);
            (
                der(
                    0x30,
                    &[der(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]), der(0x05, &[])].concat(),
                ),
                der(0x03, &bits),
                "rsa",
            )
        }
        1 => {
            let curve = der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
            (
                der(0x30, &[der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]), curve].concat()),
                der(0x03, &[0, 4, 1, 2]),
                "ec",
            )
        }
        2 => (der(0x30, &der(0x06, &[0x2b, 0x65, 0x70])), der(0x03, &[0; 33]), "ed25519"),
        _ => {
            let oid = input.take(8);
            (der(0x30, &der(0x06, oid)), der(0x03, &[0]), "")
        }
    };
    let issuer = name(input, &issuer_cn);
    let subject = name(input, &subject_cn);
    let validity = der(0x30, &[time(input), time(input)].concat());
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[2])),
            der(0x02, input.take(20)),
            der(0x30, &der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])),
            issuer,
            validity,
            subject,
            der(0x30, &[alg, key].concat()),
            der(0xa3, input.take(64)),
        ]
        .concat(),
    );
    let cert = der(0x30, &[tbs, der(0x30, &[]), der(0x03, &[0, 1, 2])].concat());
    let parsed = tls::parse_certificate(&cert);
    // Times from arbitrary digits may be no date; everything else is well-formed.
    if let Some(c) = &parsed {
        assert!(
            c.subject.starts_with(&format!("CN={}", String::from_utf8_lossy(&subject_cn))),
            "subject {:?}",
            c.subject
        );
        assert!(c.issuer.starts_with(&format!("CN={}", String::from_utf8_lossy(&issuer_cn))), "issuer {:?}", c.issuer);
        if !want_type.is_empty() {
            assert_eq!(c.key_type, want_type);
        }
    }
    // In a Certificate message with another certificate after it, maybe cut.
    let entry = |c: &[u8]| {
        let len = u32::try_from(c.len()).unwrap_or(0).to_be_bytes();
        [len.get(1..).unwrap_or_default(), c].concat()
    };
    let list = [entry(&cert), entry(input.take(40))].concat();
    let len = u32::try_from(list.len()).unwrap_or(0).to_be_bytes();
    let body = [len.get(1..).unwrap_or_default(), &list].concat();
    assert_eq!(tls::leaf_certificate(&body), Some(cert.as_slice()), "the leaf of a well-formed chain");
    assert_eq!(tls::certificate_chain(&body).len(), 2, "a chain of two");
    let cut = body.get(..input.below(body.len().saturating_add(1))).unwrap_or_default();
    if let Some(leaf) = tls::leaf_certificate(cut) {
        let from_cut = tls::parse_certificate(leaf);
        if from_cut.is_some() {
            assert_eq!(from_cut, parsed, "a cut leaf parses to something else");
        }
    }
    let _ = tls::certificate_chain(cut);
}

/// The `tls` fuzz target's wire half. The first byte picks: the parsers on the raw bytes, or a
/// ClientHello, ServerHello or certificate built from the rest as choices.
pub fn tls(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut input = Input { rest };
    match mode & 3 {
        0 => {
            if let Some(ch) = tls::parse_client_hello(rest) {
                check_client_hello(&ch);
            }
            if let Some(ch) = tls::parse_sslv2_client_hello(rest) {
                assert!(ch.sslv2);
                check_client_hello(&ch);
            }
            if let Some(sh) = tls::parse_server_hello(rest) {
                check_server_hello(&sh);
            }
            let _ = tls::parse_certificate(rest);
            if let Some(leaf) = tls::leaf_certificate(rest) {
                let _ = tls::parse_certificate(leaf);
            }
            let chain = tls::certificate_chain(rest);
            assert!(chain.len() <= 16);
            for c in chain {
                let _ = tls::parse_certificate(c);
            }
        }
        1 => built_client_hello(&mut input),
        2 => built_server_hello(&mut input),
        _ => built_certificate(&mut input),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

    use super::*;

    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn built_and_arbitrary_handshakes_keep_the_invariants() {
        for seed in 0..800 {
            let mut data = bytes(seed, (seed as usize * 7) % 600);
            if let Some(first) = data.first_mut() {
                *first = (seed % 4) as u8;
            }
            tls(&data);
        }
    }

    /// Inputs the `tls` target found, replayed as they were (see the tests beside the fixes).
    #[test]
    fn known_crash_inputs() {
        // An SSLv2 hello with a GREASE version (tls.rs: an_sslv2_hello_with_a_grease_version...).
        tls(&[0xf8, 0x34, 0x5d, 0x01, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60]);
    }

    #[test]
    fn real_hellos_and_certificates_keep_the_invariants() {
        use apisonar_testkit::tls::{certificate, certificate_body, client_hello, server_hello};
        for body in [client_hello("example.test"), server_hello(), certificate_body(&[certificate("a", "b", 100)])] {
            for cut in 0..=body.len() {
                tls(&[&[0u8][..], &body[..cut]].concat());
            }
        }
        assert!(tls::parse_client_hello(&client_hello("example.test")).is_some());
    }
}
