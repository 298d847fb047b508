//! The JSON records of a run: one per transaction, connection and TLS handshake.

use apisonar_flow::{AppProtocol, ConnectionSummary, HttpTransaction, Timestamp};
use serde::Serialize;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn opt_text(bytes: Option<&[u8]>) -> Option<String> {
    bytes.map(text)
}

/// RFC 3339, UTC, microseconds.
pub fn rfc3339(ts: Timestamp) -> String {
    rfc3339_micros(ts.micros())
}

/// RFC 3339, UTC, microseconds, from microseconds since the epoch.
pub use apisonar_web::views::rfc3339_micros;

#[derive(Serialize)]
pub struct FlowRecord {
    pub src_ip: String,
    pub src_port: u16,
    pub dst_ip: String,
    pub dst_port: u16,
}

#[derive(Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub uri: String,
    pub version: &'static str,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub body_len: u64,
    pub complete: bool,
}

#[derive(Serialize)]
pub struct ResponseRecord {
    pub ts: String,
    pub status: Option<u16>,
    pub reason: String,
    pub version: &'static str,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub transfer_encoding: Option<String>,
    pub body_len: u64,
    /// Length of the decoded body sample, when the body was content-encoded.
    pub decoded_len: Option<usize>,
    pub interim: Vec<u16>,
    pub complete: bool,
}

#[derive(Serialize)]
pub struct TransactionRecord {
    pub ts: String,
    pub connection: u64,
    pub index: u32,
    /// "http/1" or "h2" (an h2c upgrade request is stream 1 of an "h2" exchange).
    pub protocol: &'static str,
    /// The HTTP/2 stream id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<u32>,
    pub flow: FlowRecord,
    pub request: RequestRecord,
    pub response: Option<ResponseRecord>,
    /// From the first request byte to the last response byte, in microseconds.
    pub duration_us: Option<i64>,
    pub anomalies: Vec<&'static str>,
}

/// How request targets are written: masked with this key, or as sent.
#[derive(Clone, Copy, Debug)]
pub enum Targets {
    Masked(apisonar_engine::sensitive::MaskKey),
    Raw,
}

impl TransactionRecord {
    pub fn new(t: &HttpTransaction, targets: Targets) -> TransactionRecord {
        let req = &t.request;
        let response = t.response.as_ref().map(|r| ResponseRecord {
            ts: rfc3339(r.ts),
            status: r.head.status(),
            reason: text(r.head.reason()),
            version: r.head.version().as_str(),
            content_type: opt_text(r.head.header("content-type")),
            content_encoding: opt_text(r.head.header("content-encoding")),
            transfer_encoding: opt_text(r.head.header("transfer-encoding")),
            body_len: r.body.wire_len,
            decoded_len: r.body.decoded.as_ref().map(Vec::len),
            interim: r.interim.clone(),
            complete: r.complete,
        });
        TransactionRecord {
            ts: rfc3339(req.ts),
            connection: t.connection_id,
            index: t.index_in_connection,
            protocol: if t.stream_id.is_some() { AppProtocol::Http2 } else { AppProtocol::Http1 }.as_str(),
            stream: t.stream_id,
            flow: FlowRecord {
                src_ip: t.client.ip().to_string(),
                src_port: t.client.port(),
                dst_ip: t.server.ip().to_string(),
                dst_port: t.server.port(),
            },
            request: RequestRecord {
                method: text(req.head.method()),
                uri: match targets {
                    Targets::Raw => text(req.head.target()),
                    Targets::Masked(key) => {
                        apisonar_engine::sensitive::mask_query(&key, &text(req.head.target())).into_owned()
                    }
                },
                version: req.head.version().as_str(),
                host: opt_text(t.host()),
                user_agent: opt_text(req.head.header("user-agent")),
                content_type: opt_text(req.head.header("content-type")),
                content_encoding: opt_text(req.head.header("content-encoding")),
                body_len: req.body.wire_len,
                complete: req.complete,
            },
            duration_us: t.response.as_ref().map(|r| r.end_ts.micros() - req.ts.micros()),
            response,
            anomalies: t.anomalies.iter().map(|a| a.as_str()).collect(),
        }
    }
}

#[derive(Serialize)]
pub struct ConnectionRecord {
    pub connection: u64,
    pub start: String,
    pub end: String,
    pub flow: FlowRecord,
    pub protocol: &'static str,
    pub packets: u64,
    pub client_bytes: u64,
    pub server_bytes: u64,
    pub end_reason: &'static str,
}

impl ConnectionRecord {
    pub fn new(c: &ConnectionSummary) -> ConnectionRecord {
        ConnectionRecord {
            connection: c.connection_id,
            start: rfc3339(c.start),
            end: rfc3339(c.end),
            flow: FlowRecord {
                src_ip: c.client.ip().to_string(),
                src_port: c.client.port(),
                dst_ip: c.server.ip().to_string(),
                dst_port: c.server.port(),
            },
            protocol: c.protocol.as_str(),
            packets: c.packets,
            client_bytes: c.client_bytes,
            server_bytes: c.server_bytes,
            end_reason: c.end_reason.as_str(),
        }
    }
}

/// One TLS handshake, as written by `analyze --tls`.
#[derive(Serialize)]
pub struct TlsHandshakeRecord {
    pub ts: String,
    pub connection: u64,
    pub flow: FlowRecord,
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    pub versions_offered: Vec<String>,
    pub ciphers_offered: usize,
    pub ja3: Option<String>,
    pub ja3_string: Option<String>,
    pub ja4: Option<String>,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    pub ja3s: Option<String>,
    pub certificate: Option<CertificateRecord>,
    pub alerts: Vec<u8>,
    pub weaknesses: Vec<String>,
}

#[derive(Serialize)]
pub struct CertificateRecord {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub key_type: String,
    pub key_bits: u32,
    pub self_signed: bool,
    pub chain_length: usize,
}

/// The engine's view (the handshake's weaknesses, and the names and fingerprints for its server
/// name's record) and the output record of one TLS handshake.
pub fn tls_handshake(
    t: &apisonar_flow::TlsHandshake,
) -> (apisonar_engine::tlsposture::TlsObservation, TlsHandshakeRecord) {
    use apisonar_wire::tls::{cipher_name, cipher_weakness, version_name};
    let s = &t.session;
    let ch = s.client_hello.as_ref();
    let sh = s.server_hello.as_ref();
    let cert = s.certificate.as_ref();
    let observation = apisonar_engine::tlsposture::TlsObservation {
        ts: s.ts.micros(),
        client: t.client.ip().to_string(),
        server: t.server.to_string(),
        sni: ch.and_then(|c| c.sni.clone()),
        offered_versions: ch.map(|c| c.versions.clone()).unwrap_or_default(),
        negotiated_version: sh.map(|s| s.version),
        cipher_weakness: sh.and_then(|s| cipher_weakness(s.cipher)).map(str::to_string),
        cert_not_before: cert.map(|c| c.not_before),
        cert_not_after: cert.map(|c| c.not_after),
        cert_key_type: cert.map(|c| c.key_type.clone()),
        cert_key_bits: cert.map(|c| c.key_bits),
        cert_self_signed: cert.is_some_and(|c| c.subject == c.issuer),
        ..Default::default()
    };
    let weaknesses = apisonar_engine::tlsposture::weaknesses(&observation);
    let ja3 = ch.and_then(|c| c.ja3());
    let out = TlsHandshakeRecord {
        ts: rfc3339(s.ts),
        connection: t.connection_id,
        flow: FlowRecord {
            src_ip: t.client.ip().to_string(),
            src_port: t.client.port(),
            dst_ip: t.server.ip().to_string(),
            dst_port: t.server.port(),
        },
        sni: observation.sni.clone(),
        alpn_offered: ch.map(|c| c.alpn.clone()).unwrap_or_default(),
        versions_offered: observation.offered_versions.iter().map(|v| version_name(*v)).collect(),
        ciphers_offered: ch.map_or(0, |c| c.ciphers.len()),
        ja3: ja3.as_ref().map(|(_, h)| h.clone()),
        ja3_string: ja3.map(|(s, _)| s),
        ja4: ch.filter(|c| !c.sslv2).map(|c| c.ja4()),
        version: sh.map(|s| version_name(s.version)),
        cipher: sh.map(|s| cipher_name(s.cipher)),
        alpn: sh.and_then(|s| s.alpn.clone()),
        ja3s: sh.map(|s| s.ja3s().1),
        certificate: cert.map(|c| CertificateRecord {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            not_before: rfc3339_micros(c.not_before * 1_000_000),
            not_after: rfc3339_micros(c.not_after * 1_000_000),
            key_type: c.key_type.clone(),
            key_bits: c.key_bits,
            self_signed: c.subject == c.issuer,
            chain_length: s.chain_length,
        }),
        alerts: s.alerts.clone(),
        weaknesses,
    };
    let observation = apisonar_engine::tlsposture::TlsObservation {
        version: out.version.clone(),
        cipher: out.cipher.clone(),
        alpn: out.alpn.clone(),
        ja3: out.ja3.clone(),
        ja4: out.ja4.clone(),
        ja3s: out.ja3s.clone(),
        certificate: cert.map(|c| apisonar_engine::tlsposture::TlsCertificate {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            key: format!("{} {}", c.key_type, c.key_bits),
        }),
        ..observation
    };
    (observation, out)
}
