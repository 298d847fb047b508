//! TLS handshakes on a connection: records reassembled per direction until the handshake turns
//! encrypted, then the hellos and (up to TLS 1.2) the leaf certificate summarised.

use apisonar_wire::tls::{self, Certificate, ClientHello, ServerHello};

use crate::Timestamp;

/// Handshake bytes kept per direction; real hellos and certificate chains fit easily.
const MAX_TLS_BYTES: usize = 64 * 1024;

/// What one connection's TLS handshake showed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSession {
    pub ts: Timestamp,
    pub client_hello: Option<ClientHello>,
    pub server_hello: Option<ServerHello>,
    /// The leaf certificate (cleartext only up to TLS 1.2).
    pub certificate: Option<Certificate>,
    pub chain_length: usize,
    /// Alert descriptions seen in cleartext (e.g. 70 protocol_version, 40 handshake_failure).
    pub alerts: Vec<u8>,
}

/// One direction's record and handshake reassembly.
#[derive(Default)]
pub(crate) struct TlsReader {
    records: Vec<u8>,
    handshake: Vec<u8>,
    /// The rest of this direction is encrypted (after ChangeCipherSpec, or a TLS 1.3 ServerHello).
    encrypted: bool,
    first_ts: Option<Timestamp>,
}

impl TlsReader {
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.records.capacity() + self.handshake.capacity()
    }

    pub(crate) fn feed(&mut self, bytes: &[u8], ts: Timestamp, session: &mut TlsSession) {
        if self.encrypted {
            return;
        }
        self.first_ts.get_or_insert(ts);
        if session.ts == Timestamp::default() {
            session.ts = ts;
        }
        let room = MAX_TLS_BYTES.saturating_sub(self.records.len());
        self.records.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        loop {
            // SSLv2-format ClientHello: a 2-byte length with the high bit set.
            if let [hi, lo, 0x01, ..] = self.records.as_slice() {
                if hi & 0x80 != 0 && session.client_hello.is_none() {
                    let len = (usize::from(hi & 0x7f) << 8 | usize::from(*lo)) + 2;
                    if self.records.len() < len {
                        return;
                    }
                    session.client_hello = tls::parse_sslv2_client_hello(self.records.get(..len).unwrap_or_default());
                    self.records.drain(..len);
                    continue;
                }
            }
            let [kind, _, _, l1, l2, ..] = *self.records.as_slice() else { return };
            let len = usize::from(u16::from_be_bytes([l1, l2])) + 5;
            if self.records.len() < len {
                return;
            }
            let payload: Vec<u8> = self.records.get(5..len).unwrap_or_default().to_vec();
            self.records.drain(..len);
            match kind {
                22 => {
                    self.handshake.extend_from_slice(&payload);
                    self.messages(session);
                }
                20 | 23 => {
                    self.encrypted = true;
                    return;
                }
                21 => {
                    if let Some(&desc) = payload.get(1) {
                        if session.alerts.len() < 8 {
                            session.alerts.push(desc);
                        }
                    }
                }
                _ => {}
            }
            if self.encrypted {
                return;
            }
        }
    }

    fn messages(&mut self, session: &mut TlsSession) {
        loop {
            let [kind, a, b, c, ..] = *self.handshake.as_slice() else { return };
            let len = (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c)) + 4;
            if self.handshake.len() < len {
                return;
            }
            let body: Vec<u8> = self.handshake.get(4..len).unwrap_or_default().to_vec();
            self.handshake.drain(..len);
            match kind {
                1 if session.client_hello.is_none() => session.client_hello = tls::parse_client_hello(&body),
                2 => {
                    session.server_hello = tls::parse_server_hello(&body);
                    if session.server_hello.as_ref().is_some_and(|s| s.version >= 0x0304) {
                        // TLS 1.3: everything after the ServerHello is encrypted.
                        self.encrypted = true;
                        return;
                    }
                }
                11 => {
                    let chain = tls::certificate_chain(&body);
                    session.chain_length = chain.len();
                    session.certificate = chain.first().and_then(|c| tls::parse_certificate(c));
                }
                14 => {
                    self.encrypted = true;
                    return;
                }
                _ => {}
            }
        }
    }
}
