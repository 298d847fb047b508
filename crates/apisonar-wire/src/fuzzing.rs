//! Checker functions for the `tls` fuzz target (`fuzz/`) and this crate's tests: the TLS
//! handshake parsers (ClientHello, SSLv2 hello, ServerHello, Certificate) and fingerprints on
//! arbitrary bytes, and on hellos and certificates built from arbitrary choices, whose parse
//! must give back what was built.
//!
//! The choices are read with [`Unstructured`]: an exhausted input reads as zeros (first
//! choices, empty byte strings), so no read fails and every input builds something.

use arbitrary::{Result, Unstructured};

use crate::tls::{self, ClientHello, ServerHello};

/// Up to `max` bytes of the input (fewer once it runs out).
fn up_to<'a>(u: &mut Unstructured<'a>, max: usize) -> Result<&'a [u8]> {
    let n = u.int_in_range(0..=max)?;
    u.bytes(n.min(u.len()))
}

/// Values that make parsers take their named branches: GREASE, TLS versions, weak ciphers.
const U16S: [u16; 12] =
    [0x0a0a, 0xfafa, 0x0304, 0x0303, 0x0301, 0x0300, 0x0002, 0x1301, 0xc02f, 0x000a, 0x0004, 0x0000];

fn word(u: &mut Unstructured<'_>) -> Result<u16> {
    if u.arbitrary()? {
        Ok(u16::from_be_bytes(u.arbitrary()?))
    } else {
        u.choose(&U16S).copied()
    }
}

fn words(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u16>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| word(u)).collect()
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
fn extensions(u: &mut Unstructured<'_>, server: bool) -> Result<Vec<(u16, Vec<u8>)>> {
    let n = u.int_in_range(0..=8)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let kinds: &[u16] =
            if server { &[43, 16, 0xff01, 0x0a0a, 11] } else { &[0, 16, 10, 11, 13, 43, 0x0a0a, 21, 0xfe0d] };
        let kind = *u.choose(kinds)?;
        let data = match (kind, server) {
            (0, _) => {
                let name = up_to(u, 40)?;
                let mut entry = vec![0u8];
                entry.extend(vec16(name));
                vec16(&entry)
            }
            (16, _) => {
                let mut list = Vec::new();
                for _ in 0..u.int_in_range(0..=3)? {
                    let p = up_to(u, 12)?;
                    list.extend(vec8(p));
                }
                vec16(&list)
            }
            (43, true) => word(u)?.to_be_bytes().to_vec(),
            (43, false) => vec8(&u16_bytes(&words(u, 6)?)),
            (10 | 13, _) => vec16(&u16_bytes(&words(u, 8)?)),
            (11, _) => vec8(up_to(u, 4)?),
            _ => up_to(u, 16)?.to_vec(),
        };
        out.push((kind, data));
    }
    Ok(out)
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

fn built_client_hello(u: &mut Unstructured<'_>) -> Result<()> {
    let legacy = word(u)?;
    let ciphers = words(u, 24)?;
    let exts = extensions(u, false)?;
    let mut body = legacy.to_be_bytes().to_vec();
    body.extend([7u8; 32]);
    body.extend(vec8(up_to(u, 32)?));
    body.extend(vec16(&u16_bytes(&ciphers)));
    body.extend(vec8(&[0]));
    let with_extensions = u.arbitrary::<u8>()? & 3 != 0;
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
    let cut = u.int_in_range(0..=body.len())?;
    if let Some(ch) = tls::parse_client_hello(body.get(..cut).unwrap_or_default()) {
        check_client_hello(&ch);
    }
    Ok(())
}

fn built_server_hello(u: &mut Unstructured<'_>) -> Result<()> {
    let legacy = word(u)?;
    let cipher = word(u)?;
    let exts = extensions(u, true)?;
    let mut body = legacy.to_be_bytes().to_vec();
    body.extend([9u8; 32]);
    body.extend(vec8(up_to(u, 32)?));
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
    Ok(())
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

fn name(u: &mut Unstructured<'_>, cn: &[u8]) -> Result<Vec<u8>> {
    let mut rdns = Vec::new();
    let atv = [der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, cn)].concat();
    rdns.extend(der(0x31, &der(0x30, &atv)));
    if u.arbitrary()? {
        let other = [der(0x06, &[0x55, 0x04, 0x0a]), der(0x13, up_to(u, 10)?)].concat();
        rdns.extend(der(0x31, &der(0x30, &other)));
    }
    Ok(der(0x30, &rdns))
}

fn time(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let digits = (0..12)
        .map(|_| Ok(char::from(b'0'.saturating_add(u.arbitrary::<u8>()?.checked_rem(10).unwrap_or(0)))))
        .collect::<Result<String>>()?;
    Ok(if u.arbitrary()? {
        der(0x18, format!("20{digits}Z").as_bytes())
    } else {
        der(0x17, format!("{digits}Z").as_bytes())
    })
}

fn built_certificate(u: &mut Unstructured<'_>) -> Result<()> {
    let subject_cn = up_to(u, 24)?.to_vec();
    let issuer_cn = up_to(u, 24)?.to_vec();
    let (alg, key, want_type) = match u.choose_index(5)? {
        0 => {
            let modulus = up_to(u, 64)?;
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
            let oid = up_to(u, 8)?;
            (der(0x30, &der(0x06, oid)), der(0x03, &[0]), "")
        }
    };
    let issuer = name(u, &issuer_cn)?;
    let subject = name(u, &subject_cn)?;
    let validity = der(0x30, &[time(u)?, time(u)?].concat());
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[2])),
            der(0x02, up_to(u, 20)?),
            der(0x30, &der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])),
            issuer,
            validity,
            subject,
            der(0x30, &[alg, key].concat()),
            der(0xa3, up_to(u, 64)?),
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
    let list = [entry(&cert), entry(up_to(u, 40)?)].concat();
    let len = u32::try_from(list.len()).unwrap_or(0).to_be_bytes();
    let body = [len.get(1..).unwrap_or_default(), &list].concat();
    assert_eq!(tls::leaf_certificate(&body), Some(cert.as_slice()), "the leaf of a well-formed chain");
    assert_eq!(tls::certificate_chain(&body).len(), 2, "a chain of two");
    let cut = body.get(..u.int_in_range(0..=body.len())?).unwrap_or_default();
    if let Some(leaf) = tls::leaf_certificate(cut) {
        let from_cut = tls::parse_certificate(leaf);
        if from_cut.is_some() {
            assert_eq!(from_cut, parsed, "a cut leaf parses to something else");
        }
    }
    let _ = tls::certificate_chain(cut);
    Ok(())
}

/// The `tls` fuzz target's wire half. The first byte picks: the parsers on the raw bytes, or a
/// ClientHello, ServerHello or certificate built from the rest as choices.
pub fn tls(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut u = Unstructured::new(rest);
    let built = match mode & 3 {
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
            Ok(())
        }
        1 => built_client_hello(&mut u),
        2 => built_server_hello(&mut u),
        _ => built_certificate(&mut u),
    };
    assert!(built.is_ok(), "a read failed: {built:?}");
}

/// A classic pcap file (the input after its first two bytes) read in pieces as a reader with a
/// buffer reads it: the bytes at hand grow by the amounts the first two bytes choose until a
/// record is told, and every record told must be the one the whole file gives.
pub fn savefile_in_pieces(data: &[u8]) {
    use crate::savefile::{read_all, Record, Savefile};
    let (step, file) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])).max(1), rest),
        _ => return,
    };
    let Some((format, whole)) = read_all(file) else {
        assert!(file.get(..Savefile::HEADER).and_then(Savefile::of).is_none());
        return;
    };
    let mut at = Savefile::HEADER;
    for expected in whole {
        // Bytes arrive `step` at a time (from the record's start) until the record is told.
        let mut have = 0usize;
        let told = loop {
            have = have.saturating_add(step);
            let available = file.get(at..at.saturating_add(have).min(file.len())).unwrap_or_default();
            let ended = at.saturating_add(have) >= file.len();
            match format.record(available, ended) {
                Record::Needs(n) => {
                    assert!(!ended && n > available.len(), "needs {n} with {} at hand", available.len());
                    // A reader gets what it asked for: at least `n` bytes.
                    have = have.max(n.saturating_sub(step));
                }
                other => break other,
            }
        };
        assert_eq!(told, expected, "record at {at}");
        if let Record::Frame { len, .. } = told {
            at = at.saturating_add(len);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

    use apisonar_testkit::workload::Rng;

    use super::*;

    #[test]
    fn built_and_arbitrary_handshakes_keep_the_invariants() {
        for seed in 0..800 {
            let mut data = Rng::seeded(seed).bytes((seed as usize * 7) % 600);
            if let Some(first) = data.first_mut() {
                *first = (seed % 4) as u8;
            }
            tls(&data);
        }
    }

    /// Inputs the `tls` target found, replayed as they were (see the tests beside the fixes).
    #[test]
    fn known_crash_inputs() {
        // An SSLv2 hello with a GREASE version (tls.rs: an_sslv2_hello_with_a_grease_version...):
        // mode 0 (0xf8 & 3), so the rest goes to the parsers as it is, and parses as SSLv2.
        let input = [0xf8, 0x34, 0x5d, 0x01, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60];
        let hello = tls::parse_sslv2_client_hello(&input[1..]);
        assert!(hello.as_ref().is_some_and(|h| h.sslv2 && h.legacy_version == 0x0a0a), "{hello:?}");
        tls(&input);
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
