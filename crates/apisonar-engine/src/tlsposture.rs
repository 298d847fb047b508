//! TLS posture: weaknesses of one observed handshake, and the `weak_tls` alerts they raise.

use crate::alert::{Alert, Severity};
use crate::stats::add_count;

/// The engine's view of a TLS handshake (filled by whoever parsed it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsObservation {
    /// Microseconds since the epoch (packet time of the first handshake byte).
    pub ts: i64,
    pub client: String,
    pub server: String,
    pub sni: Option<String>,
    /// Versions the client offered (`0x0301` = TLS 1.0), SSLv2 as `0x0002`.
    pub offered_versions: Vec<u16>,
    /// Negotiated version, if the server answered.
    pub negotiated_version: Option<u16>,
    /// Weakness of the negotiated cipher (`null`, `export`, `rc4`, `3des`).
    pub cipher_weakness: Option<String>,
    /// Leaf certificate facts, when visible.
    pub cert_not_before: Option<i64>,
    pub cert_not_after: Option<i64>,
    pub cert_key_type: Option<String>,
    pub cert_key_bits: Option<u32>,
    pub cert_self_signed: bool,
    /// Names and fingerprints, for the server name's record: negotiated version and cipher,
    /// ALPN, JA3/JA4 of the client, JA3S of the server, the leaf certificate.
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    pub ja3: Option<String>,
    pub ja4: Option<String>,
    pub ja3s: Option<String>,
    pub certificate: Option<TlsCertificate>,
}

fn old_version(v: u16) -> Option<&'static str> {
    match v {
        0x0002 => Some("sslv2"),
        0x0300 => Some("sslv3"),
        0x0301 => Some("tls1.0"),
        0x0302 => Some("tls1.1"),
        _ => None,
    }
}

/// The weaknesses of a handshake, as stable names (`tls1.0_offered`, `cert_expired`, ...).
pub fn weaknesses(o: &TlsObservation) -> Vec<String> {
    let mut out = Vec::new();
    // A weak version that was negotiated is reported as such, not also as offered.
    for v in o.offered_versions.iter().filter(|v| Some(**v) != o.negotiated_version) {
        if let Some(name) = old_version(*v) {
            out.push(format!("{name}_offered"));
        }
    }
    if let Some(name) = o.negotiated_version.and_then(old_version) {
        out.push(format!("{name}_negotiated"));
    }
    if let Some(w) = &o.cipher_weakness {
        out.push(format!("{w}_cipher"));
    }
    let now = o.ts / 1_000_000;
    if o.cert_not_after.is_some_and(|t| t < now) {
        out.push("cert_expired".into());
    }
    if o.cert_not_before.is_some_and(|t| t > now) {
        out.push("cert_not_yet_valid".into());
    }
    if o.cert_key_type.as_deref() == Some("rsa") && o.cert_key_bits.is_some_and(|b| b > 0 && b < 2048) {
        out.push("rsa_key_lt_2048".into());
    }
    if o.cert_self_signed {
        out.push("self_signed".into());
    }
    out.sort();
    out.dedup();
    out
}

/// One `weak_tls` occurrence per weakness of a server (its alert groups every client).
pub fn weak_tls_alerts(o: &TlsObservation) -> Vec<Alert> {
    let host = o.sni.clone().unwrap_or_else(|| o.server.clone());
    weaknesses(o)
        .into_iter()
        .map(|w| {
            let severity =
                if w.contains("sslv") || w.starts_with("null") || w.starts_with("export") || w == "cert_expired" {
                    Severity::High
                } else {
                    Severity::Medium
                };
            let key = crate::catalog::EndpointKey { host: host.clone(), method: "TLS".into(), path: "*".into() };
            Alert::occurrence(
                &key,
                &o.client,
                o.ts,
                "weak_tls",
                Some(&w),
                severity,
                format!("weak TLS on {host}: {w}"),
                format!("server {}", o.server),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_weakness() {
        let base = TlsObservation {
            ts: 1_700_000_000_000_000,
            offered_versions: vec![0x0304, 0x0303],
            negotiated_version: Some(0x0304),
            ..Default::default()
        };
        assert!(weaknesses(&base).is_empty());
        let old = TlsObservation {
            offered_versions: vec![0x0303, 0x0302, 0x0301],
            negotiated_version: Some(0x0301),
            ..base.clone()
        };
        assert_eq!(weaknesses(&old), vec!["tls1.0_negotiated", "tls1.1_offered"]);
        let cert = TlsObservation {
            cipher_weakness: Some("3des".into()),
            cert_not_after: Some(1_600_000_000),
            cert_key_type: Some("rsa".into()),
            cert_key_bits: Some(1024),
            cert_self_signed: true,
            ..base.clone()
        };
        assert_eq!(weaknesses(&cert), vec!["3des_cipher", "cert_expired", "rsa_key_lt_2048", "self_signed"]);
        let future = TlsObservation { cert_not_before: Some(2_000_000_000), ..base };
        assert_eq!(weak_tls_alerts(&future).len(), 1);
    }
}

/// Everything seen of TLS for one server name (SNI, or the server address without one).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsHost {
    pub host: String,
    pub sessions: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Server addresses (at most 16).
    pub servers: std::collections::BTreeSet<String>,
    /// Negotiated versions and ciphers, by name, with counts.
    pub versions: std::collections::BTreeMap<String, u64>,
    pub ciphers: std::collections::BTreeMap<String, u64>,
    pub alpn: std::collections::BTreeMap<String, u64>,
    /// Client fingerprints (at most 64 each).
    pub ja3: std::collections::BTreeSet<String>,
    pub ja4: std::collections::BTreeSet<String>,
    pub ja3s: std::collections::BTreeSet<String>,
    /// The last leaf certificate seen: subject, issuer, expiry and key.
    pub certificate: Option<TlsCertificate>,
    /// Weaknesses seen on this host, with counts.
    pub weaknesses: std::collections::BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsCertificate {
    pub subject: String,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    pub key: String,
}

fn add_bounded(set: &mut std::collections::BTreeSet<String>, v: Option<&String>, max: usize) {
    if let Some(v) = v {
        if set.len() < max || set.contains(v) {
            set.insert(v.clone());
        }
    }
}

impl TlsHost {
    /// Adds one handshake.
    pub fn add(&mut self, o: &TlsObservation) {
        if self.sessions == 0 {
            self.first_seen = o.ts;
            self.host = o.sni.clone().unwrap_or_else(|| o.server.clone());
        }
        add_count(&mut self.sessions, 1);
        self.first_seen = self.first_seen.min(o.ts);
        self.last_seen = self.last_seen.max(o.ts);
        add_bounded(&mut self.servers, Some(&o.server), 16);
        for (map, v) in [(&mut self.versions, &o.version), (&mut self.ciphers, &o.cipher), (&mut self.alpn, &o.alpn)] {
            if let Some(v) = v {
                if map.len() < 32 || map.contains_key(v) {
                    add_count(map.entry(v.clone()).or_default(), 1);
                }
            }
        }
        add_bounded(&mut self.ja3, o.ja3.as_ref(), 64);
        add_bounded(&mut self.ja4, o.ja4.as_ref(), 64);
        add_bounded(&mut self.ja3s, o.ja3s.as_ref(), 64);
        if o.certificate.is_some() {
            self.certificate.clone_from(&o.certificate);
        }
        for w in weaknesses(o) {
            add_count(self.weaknesses.entry(w).or_default(), 1);
        }
    }

    /// Folds the record of another run into this one.
    pub fn merge(&mut self, o: &TlsHost) {
        if self.sessions == 0 {
            self.first_seen = o.first_seen;
        }
        add_count(&mut self.sessions, o.sessions);
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        for s in &o.servers {
            add_bounded(&mut self.servers, Some(s), 16);
        }
        for (mine, theirs) in [
            (&mut self.versions, &o.versions),
            (&mut self.ciphers, &o.ciphers),
            (&mut self.alpn, &o.alpn),
            (&mut self.weaknesses, &o.weaknesses),
        ] {
            for (k, n) in theirs {
                add_count(mine.entry(k.clone()).or_default(), *n);
            }
        }
        for (mine, theirs) in [(&mut self.ja3, &o.ja3), (&mut self.ja4, &o.ja4), (&mut self.ja3s, &o.ja3s)] {
            for v in theirs {
                add_bounded(mine, Some(v), 64);
            }
        }
        if o.certificate.is_some() && o.last_seen >= self.last_seen {
            self.certificate.clone_from(&o.certificate);
        }
    }
}
