//! TLS handshake messages: ClientHello, ServerHello and (up to TLS 1.2) Certificate, parsed from
//! reassembled handshake bytes, with JA3, JA3S and JA4 fingerprints and the leaf certificate's
//! subject, issuer, validity and key. Stateless: the flow layer buffers the bytes.

use md5::{Digest, Md5};
use sha2::Sha256;

/// A parsed ClientHello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// The legacy `client_version` field.
    pub legacy_version: u16,
    /// From `supported_versions`, else the legacy version; GREASE removed.
    pub versions: Vec<u16>,
    pub ciphers: Vec<u16>,
    pub extensions: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub groups: Vec<u16>,
    pub point_formats: Vec<u8>,
    pub signature_algorithms: Vec<u16>,
    /// An SSLv2-format hello (no extensions, no JA3).
    pub sslv2: bool,
}

/// A parsed ServerHello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// The negotiated version (`supported_versions` for TLS 1.3).
    pub version: u16,
    pub cipher: u16,
    pub extensions: Vec<u16>,
    pub alpn: Option<String>,
}

/// What the leaf certificate says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Certificate {
    pub subject: String,
    pub issuer: String,
    /// Seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// `rsa`, `ec`, `ed25519`, `dsa` or the OID.
    pub key_type: String,
    pub key_bits: u32,
}

/// GREASE values (RFC 8701) are ignored in fingerprints.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&v, rest) = self.b.split_first()?;
        self.b = rest;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        let v = u16::from_be_bytes([*self.b.first()?, *self.b.get(1)?]);
        self.b = self.b.get(2..)?;
        Some(v)
    }
    fn u24(&mut self) -> Option<usize> {
        let v =
            (usize::from(*self.b.first()?) << 16) | (usize::from(*self.b.get(1)?) << 8) | usize::from(*self.b.get(2)?);
        self.b = self.b.get(3..)?;
        Some(v)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let v = self.b.get(..n)?;
        self.b = self.b.get(n..)?;
        Some(v)
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

fn u16_list(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2).filter_map(|c| c.try_into().ok()).map(u16::from_be_bytes).collect()
}

/// Parses a ClientHello handshake body (after the 4-byte handshake header).
pub fn parse_client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut r = Reader { b: body };
    let mut ch = ClientHello { legacy_version: r.u16()?, ..ClientHello::default() };
    r.take(32)?;
    r.vec8()?;
    ch.ciphers = u16_list(r.vec16()?);
    r.vec8()?;
    if let Some(exts) = r.vec16() {
        let mut e = Reader { b: exts };
        while let (Some(kind), Some(data)) = (e.u16(), e.vec16()) {
            ch.extensions.push(kind);
            let mut d = Reader { b: data };
            match kind {
                0 => {
                    if let Some(list) = d.vec16() {
                        let mut l = Reader { b: list };
                        if let (Some(0), Some(name)) = (l.u8(), l.vec16()) {
                            ch.sni = Some(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
                10 => ch.groups = d.vec16().map(u16_list).unwrap_or_default(),
                11 => ch.point_formats = d.vec8().map(<[u8]>::to_vec).unwrap_or_default(),
                13 => ch.signature_algorithms = d.vec16().map(u16_list).unwrap_or_default(),
                16 => {
                    if let Some(list) = d.vec16() {
                        let mut l = Reader { b: list };
                        while let Some(p) = l.vec8() {
                            ch.alpn.push(String::from_utf8_lossy(p).into_owned());
                        }
                    }
                }
                43 => {
                    ch.versions =
                        d.vec8().map(u16_list).unwrap_or_default().into_iter().filter(|v| !is_grease(*v)).collect()
                }
                _ => {}
            }
        }
    }
    if ch.versions.is_empty() {
        ch.versions = vec![ch.legacy_version];
    }
    Some(ch)
}

/// Parses an SSLv2-compatible ClientHello record (the whole record, 2-byte header first).
pub fn parse_sslv2_client_hello(record: &[u8]) -> Option<ClientHello> {
    let mut r = Reader { b: record.get(2..)? };
    if r.u8()? != 1 {
        return None;
    }
    let version = r.u16()?;
    let cipher_len = usize::from(r.u16()?);
    r.u16()?;
    r.u16()?;
    // SSLv2 cipher specs are 3 bytes; those starting with 0 are TLS suites.
    let ciphers: Vec<u16> = r
        .take(cipher_len)?
        .chunks_exact(3)
        .filter_map(|c| match c {
            [0, a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        })
        .collect();
    let mut versions = vec![0x0002];
    // GREASE is no version (the field is as the client sent it; `versions` never holds GREASE).
    if version >= 0x0300 && !is_grease(version) {
        versions.insert(0, version);
    }
    Some(ClientHello { legacy_version: version, versions, ciphers, sslv2: true, ..ClientHello::default() })
}

/// Parses a ServerHello handshake body.
pub fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader { b: body };
    let legacy_version = r.u16()?;
    r.take(32)?;
    r.vec8()?;
    let cipher = r.u16()?;
    r.u8()?;
    let mut sh = ServerHello { legacy_version, version: legacy_version, cipher, ..ServerHello::default() };
    if let Some(exts) = r.vec16() {
        let mut e = Reader { b: exts };
        while let (Some(kind), Some(data)) = (e.u16(), e.vec16()) {
            sh.extensions.push(kind);
            let mut d = Reader { b: data };
            match kind {
                43 => sh.version = d.u16().unwrap_or(legacy_version),
                16 => {
                    sh.alpn =
                        d.vec16().and_then(|l| Reader { b: l }.vec8().map(|p| String::from_utf8_lossy(p).into_owned()));
                }
                _ => {}
            }
        }
    }
    Some(sh)
}

fn join<T: std::fmt::Display>(v: impl Iterator<Item = T>, sep: &str) -> String {
    v.map(|x| x.to_string()).collect::<Vec<_>>().join(sep)
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_12(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl ClientHello {
    /// The JA3 string and its MD5 (`None` for SSLv2 hellos).
    pub fn ja3(&self) -> Option<(String, String)> {
        if self.sslv2 {
            return None;
        }
        let s = format!(
            "{},{},{},{},{}",
            self.legacy_version,
            join(self.ciphers.iter().filter(|c| !is_grease(**c)), "-"),
            join(self.extensions.iter().filter(|c| !is_grease(**c)), "-"),
            join(self.groups.iter().filter(|c| !is_grease(**c)), "-"),
            join(self.point_formats.iter(), "-")
        );
        let h = md5_hex(&s);
        Some((s, h))
    }

    /// The JA4 fingerprint (TCP).
    pub fn ja4(&self) -> String {
        let version = match self.versions.iter().copied().max().unwrap_or(self.legacy_version) {
            0x0304 => "13",
            0x0303 => "12",
            0x0302 => "11",
            0x0301 => "10",
            0x0300 => "s3",
            0x0002 => "s2",
            _ => "00",
        };
        let ciphers: Vec<u16> = self.ciphers.iter().copied().filter(|c| !is_grease(*c)).collect();
        let exts: Vec<u16> = self.extensions.iter().copied().filter(|c| !is_grease(*c)).collect();
        let alpn = match self.alpn.first().map(|a| a.as_bytes()) {
            Some([first, .., last]) if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() => {
                format!("{}{}", *first as char, *last as char)
            }
            Some([only]) if only.is_ascii_alphanumeric() => format!("{}{}", *only as char, *only as char),
            Some([]) | None => "00".to_string(),
            Some(bytes) => {
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                format!("{}{}", hex.chars().next().unwrap_or('0'), hex.chars().last().unwrap_or('0'))
            }
        };
        let a = format!(
            "t{version}{}{:02}{:02}{alpn}",
            if self.sni.is_some() { 'd' } else { 'i' },
            ciphers.len().min(99),
            exts.len().min(99)
        );
        let mut sorted_ciphers = ciphers.clone();
        sorted_ciphers.sort_unstable();
        let b = if sorted_ciphers.is_empty() {
            "000000000000".to_string()
        } else {
            sha256_12(&join(sorted_ciphers.iter().map(|c| format!("{c:04x}")), ","))
        };
        let mut sorted_exts: Vec<u16> = exts.into_iter().filter(|e| *e != 0 && *e != 16).collect();
        sorted_exts.sort_unstable();
        let ext_str = join(sorted_exts.iter().map(|e| format!("{e:04x}")), ",");
        let sigs = join(self.signature_algorithms.iter().filter(|s| !is_grease(**s)).map(|s| format!("{s:04x}")), ",");
        let c_input = if sigs.is_empty() { ext_str } else { format!("{ext_str}_{sigs}") };
        let c = if sorted_exts.is_empty() { "000000000000".to_string() } else { sha256_12(&c_input) };
        format!("{a}_{b}_{c}")
    }
}

impl ServerHello {
    /// The JA3S string and its MD5.
    pub fn ja3s(&self) -> (String, String) {
        let s = format!("{},{},{}", self.legacy_version, self.cipher, join(self.extensions.iter(), "-"));
        let h = md5_hex(&s);
        (s, h)
    }
}

/// `TLS1.2`, `SSL3`, ...
pub fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSL2".into(),
        0x0300 => "SSL3".into(),
        0x0301 => "TLS1.0".into(),
        0x0302 => "TLS1.1".into(),
        0x0303 => "TLS1.2".into(),
        0x0304 => "TLS1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

/// IANA names of common cipher suites (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`); hex otherwise.
pub fn cipher_name(c: u16) -> String {
    let name = match c {
        0x0000 => "TLS_NULL_WITH_NULL_NULL",
        0x0001 => "TLS_RSA_WITH_NULL_MD5",
        0x0002 => "TLS_RSA_WITH_NULL_SHA",
        0x0003 => "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
        0x0004 => "TLS_RSA_WITH_RC4_128_MD5",
        0x0005 => "TLS_RSA_WITH_RC4_128_SHA",
        0x0008 => "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
        0x0009 => "TLS_RSA_WITH_DES_CBC_SHA",
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x0016 => "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x003b => "TLS_RSA_WITH_NULL_SHA256",
        0x003c => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xc006 => "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc010 => "TLS_ECDHE_RSA_WITH_NULL_SHA",
        0xc011 => "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        0xc012 => "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        _ => return format!("0x{c:04x}"),
    };
    name.into()
}

/// Weakness of a cipher suite by its name: `null`, `export`, `rc4`, `3des` (or `des`).
pub fn cipher_weakness(c: u16) -> Option<&'static str> {
    let n = cipher_name(c);
    if n.contains("NULL") {
        Some("null")
    } else if n.contains("EXPORT") {
        Some("export")
    } else if n.contains("RC4") {
        Some("rc4")
    } else if n.contains("3DES") || n.contains("_DES_") {
        Some("3des")
    } else {
        None
    }
}

// --- A minimal DER reader for the leaf certificate -------------------------------------------

/// One DER element: tag, contents, and the bytes after it.
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (tag, len, rest) = der_header(b)?;
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// The tag and contents of a DER element that may be cut short: as much of the contents as
/// there is.
fn der_prefix(b: &[u8]) -> Option<(u8, &[u8])> {
    let (tag, len, rest) = der_header(b)?;
    Some((tag, rest.get(..len).unwrap_or(rest)))
}

/// Tag, declared length and what follows the header.
fn der_header(b: &[u8]) -> Option<(u8, usize, &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 & 0x80 == 0 {
        (usize::from(len0), rest)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        (bytes.iter().try_fold(0usize, |a, b| a.checked_mul(256)?.checked_add(usize::from(*b)))?, rest.get(n..)?)
    };
    Some((tag, len, rest))
}

fn oid_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        _ => return None,
    })
}

fn name(mut b: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((_, set, rest)) = der(b) {
        b = rest;
        let mut s = set;
        while let Some((_, atv, more)) = der(s) {
            s = more;
            if let Some((0x06, oid, value)) = der(atv) {
                if let (Some(label), Some((_, v, _))) = (oid_name(oid), der(value)) {
                    parts.push(format!("{label}={}", String::from_utf8_lossy(v)));
                }
            }
        }
    }
    parts.join(",")
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm); `None` on overflow, which
/// only absurd field values reach.
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y.div_euclid(400);
    let yoe = y.checked_sub(era.checked_mul(400)?)?;
    let month_from_march = m.checked_add(if m > 2 { -3 } else { 9 })?;
    let doy = month_from_march.checked_mul(153)?.checked_add(2)?.div_euclid(5).checked_add(d)?.checked_sub(1)?;
    let doe =
        yoe.checked_mul(365)?.checked_add(yoe.div_euclid(4))?.checked_sub(yoe.div_euclid(100))?.checked_add(doy)?;
    era.checked_mul(146_097)?.checked_add(doe)?.checked_sub(719_468)
}

/// The decimal number written with `len` ASCII digits at `from`.
fn decimal(v: &[u8], from: usize, len: usize) -> Option<i64> {
    let digits = v.get(from..from.checked_add(len)?)?;
    digits.iter().try_fold(0i64, |acc, &d| acc.checked_mul(10)?.checked_add(i64::from(char::from(d).to_digit(10)?)))
}

/// An X.509 UTCTime (0x17) or GeneralizedTime (0x18) as seconds since the epoch.
fn time(tag: u8, v: &[u8]) -> Option<i64> {
    let (y, rest): (i64, usize) = match tag {
        0x17 => {
            let yy = decimal(v, 0, 2)?;
            (if yy >= 50 { yy.checked_add(1900)? } else { yy.checked_add(2000)? }, 2)
        }
        0x18 => (decimal(v, 0, 4)?, 4),
        _ => return None,
    };
    let field = |at: usize| decimal(v, rest.checked_add(at)?, 2);
    let (mo, d, h, mi) = (field(0)?, field(2)?, field(4)?, field(6)?);
    let se = field(8).unwrap_or(0);
    let clock = h.checked_mul(3600)?.checked_add(mi.checked_mul(60)?)?.checked_add(se)?;
    days_from_civil(y, mo, d)?.checked_mul(86_400)?.checked_add(clock)
}

fn integer_bits(v: &[u8]) -> u32 {
    let v = match v.iter().position(|b| *b != 0).and_then(|i| v.get(i..)) {
        Some(rest) => rest,
        None => return 0,
    };
    let bits = u32::try_from(v.len()).unwrap_or(u32::MAX).saturating_mul(8);
    bits.saturating_sub(v.first().map_or(0, |b| b.leading_zeros()))
}

/// Parses a DER certificate.
pub fn parse_certificate(cert: &[u8]) -> Option<Certificate> {
    // The two outer SEQUENCEs may be cut (a leaf read from the first part of a message too large
    // to buffer): every field read here comes before the extensions, which make leaves large.
    let (_, cert) = der_prefix(cert)?;
    let (_, tbs) = der_prefix(cert)?;
    let mut rest = tbs;
    let (tag, _, after) = der(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    let (_, _serial, r) = der(rest)?;
    let (_, _sig, r) = der(r)?;
    let (_, issuer, r) = der(r)?;
    let (_, validity, r) = der(r)?;
    let (_, subject, r) = der(r)?;
    let (_, spki, _) = der(r)?;
    let (t1, nb, v) = der(validity)?;
    let (t2, na, _) = der(v)?;
    let (_, alg, key) = der(spki)?;
    let (_, oid, params) = der(alg)?;
    let (key_type, key_bits) = match oid {
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] => {
            let bits = der(key)
                .and_then(|(_, bitstring, _)| bitstring.get(1..))
                .and_then(|inner| der(inner))
                .and_then(|(_, seq, _)| der(seq))
                .map(|(_, modulus, _)| integer_bits(modulus))
                .unwrap_or(0);
            ("rsa".to_string(), bits)
        }
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => {
            let bits = match der(params).map(|(_, curve, _)| curve) {
                Some([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]) => 256,
                Some([0x2b, 0x81, 0x04, 0x00, 0x22]) => 384,
                Some([0x2b, 0x81, 0x04, 0x00, 0x23]) => 521,
                _ => 0,
            };
            ("ec".to_string(), bits)
        }
        [0x2b, 0x65, 0x70] => ("ed25519".to_string(), 256),
        [0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01] => ("dsa".to_string(), 0),
        other => (other.iter().map(|b| format!("{b:02x}")).collect(), 0),
    };
    Some(Certificate {
        subject: name(subject),
        issuer: name(issuer),
        not_before: time(t1, nb)?,
        not_after: time(t2, na)?,
        key_type,
        key_bits,
    })
}

/// The first (leaf) certificate of a Certificate handshake body, whole, or as far as it goes
/// when the body was cut.
pub fn leaf_certificate(body: &[u8]) -> Option<&[u8]> {
    let mut r = Reader { b: body };
    r.u24()?;
    let len = r.u24()?;
    let rest = r.b;
    (!rest.is_empty()).then(|| rest.get(..len).unwrap_or(rest))
}

/// The DER certificates of a Certificate handshake body (TLS 1.2 and earlier).
pub fn certificate_chain(body: &[u8]) -> Vec<&[u8]> {
    let mut r = Reader { b: body };
    let Some(total) = r.u24() else { return Vec::new() };
    let Some(list) = r.take(total.min(r.b.len())) else { return Vec::new() };
    let mut l = Reader { b: list };
    let mut out = Vec::new();
    while let Some(n) = l.u24() {
        match l.take(n) {
            Some(c) if out.len() < 16 => out.push(c),
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn grease_and_names() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0a0b) && !is_grease(0x1301));
        assert_eq!(version_name(0x0303), "TLS1.2");
        assert_eq!(cipher_weakness(0x000a), Some("3des"));
        assert_eq!(cipher_weakness(0xc010), Some("null"));
        assert_eq!(cipher_weakness(0xc02f), None);
    }

    #[test]
    fn times() {
        assert_eq!(time(0x17, b"240101000000Z"), Some(1_704_067_200));
        assert_eq!(time(0x18, b"20340101000000Z"), Some(2_019_686_400));
        assert_eq!(time(0x17, b"bad"), None);
    }

    #[test]
    fn a_leaf_cut_after_its_subject_key_still_parses() {
        use apisonar_testkit::tls::{certificate, certificate_body};
        let leaf = certificate("big.example", "Test CA", 100_000);
        let body = certificate_body(&[leaf.clone(), certificate("Test CA", "Test CA", 10)]);
        let whole = parse_certificate(&leaf).unwrap_or_default();
        assert_eq!((whole.subject.as_str(), whole.issuer.as_str()), ("CN=big.example", "CN=Test CA"));
        assert_eq!(
            (whole.key_type.as_str(), whole.not_before, whole.not_after),
            ("ed25519", 1_704_067_200, 1_735_689_600)
        );
        assert_eq!(certificate_chain(&body).len(), 2);
        assert_eq!(leaf_certificate(&body), Some(&leaf[..]));
        // The first 64 KiB of the message: the leaf is cut inside its extensions.
        let prefix = &body[..65_536];
        assert_eq!(certificate_chain(prefix).len(), 0);
        assert_eq!(leaf_certificate(prefix).and_then(parse_certificate), Some(whole));
        // Cut before the subject, nothing is made up.
        assert_eq!(leaf_certificate(&body[..40]).and_then(parse_certificate), None);
        assert_eq!(leaf_certificate(&body[..6]), None);
    }

    /// Found by the `tls` fuzz target: an SSLv2-format hello whose version field is a GREASE
    /// value listed it among the versions, which never hold GREASE.
    #[test]
    fn an_sslv2_hello_with_a_grease_version_lists_no_grease() {
        let record = [0x34, 0x5d, 0x01, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60];
        let hello = parse_sslv2_client_hello(&record).unwrap_or_default();
        assert_eq!((hello.legacy_version, hello.versions), (0x0a0a, vec![0x0002]));
        let with_version = [0x34, 0x5d, 0x01, 0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60];
        assert_eq!(parse_sslv2_client_hello(&with_version).unwrap_or_default().versions, vec![0x0301, 0x0002]);
    }

    #[test]
    fn truncated_hellos_do_not_panic() {
        let hello = [3u8, 3, 1, 2, 3];
        for n in 0..hello.len() {
            assert!(parse_client_hello(&hello[..n]).is_none());
            assert!(parse_server_hello(&hello[..n]).is_none());
            let _ = parse_certificate(&hello[..n]);
            let _ = certificate_chain(&hello[..n]);
        }
    }
}
