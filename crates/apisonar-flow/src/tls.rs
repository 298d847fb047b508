//! TLS handshakes on a connection: records reassembled per direction until the handshake turns
//! encrypted, then the hellos and (up to TLS 1.2) the leaf certificate summarised.

use apisonar_wire::tls::{self, Certificate, ClientHello, ServerHello};

use crate::{Anomaly, Limits, Stats, Timestamp};

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

impl TlsSession {
    /// Bytes the parsed handshake facts take (lists and names from the hellos, the certificate).
    pub(crate) fn held_bytes(&self) -> usize {
        let words = |v: &[u16]| v.len().saturating_mul(2);
        let client = self.client_hello.as_ref().map_or(0, |c| {
            [
                words(&c.versions),
                words(&c.ciphers),
                words(&c.extensions),
                words(&c.groups),
                words(&c.signature_algorithms),
                c.point_formats.len(),
                c.sni.as_ref().map_or(0, String::len),
                c.alpn.iter().map(String::len).fold(0, usize::saturating_add),
            ]
            .into_iter()
            .fold(0, usize::saturating_add)
        });
        let server = self
            .server_hello
            .as_ref()
            .map_or(0, |s| words(&s.extensions).saturating_add(s.alpn.as_ref().map_or(0, String::len)));
        let certificate = self
            .certificate
            .as_ref()
            .map_or(0, |c| c.subject.len().saturating_add(c.issuer.len()).saturating_add(c.key_type.len()));
        [client, server, certificate, self.alerts.len()].into_iter().fold(0, usize::saturating_add)
    }
}

/// One direction's record and handshake reassembly, each buffer bounded by
/// `Limits::max_tls_handshake_bytes`.
#[derive(Default)]
pub(crate) struct TlsReader {
    records: Vec<u8>,
    handshake: Vec<u8>,
    /// The rest of this direction is not read: it is encrypted (after ChangeCipherSpec, or a
    /// TLS 1.3 ServerHello), or it declared a record larger than the limit.
    done: bool,
    /// Bytes still to be dropped of a handshake message larger than the limit.
    skip: usize,
    first_ts: Option<Timestamp>,
}

/// Bytes of a TLS record header: type, version, length.
const RECORD_HEADER: usize = 5;
/// Bytes of a handshake message header: type, 24-bit length.
const MESSAGE_HEADER: usize = 4;
const HANDSHAKE_CERTIFICATE: u8 = 11;

/// The leaf certificate and the chain length of a Certificate message body, or of its first
/// part (then the certificate cut off at its end counts too).
fn read_certificates(session: &mut TlsSession, body: &[u8]) {
    let whole = tls::certificate_chain(body).len();
    let leaf = tls::leaf_certificate(body);
    session.chain_length = whole.max(usize::from(leaf.is_some()));
    session.certificate = leaf.and_then(tls::parse_certificate);
}

impl TlsReader {
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.records.capacity().saturating_add(self.handshake.capacity())
    }

    pub(crate) fn feed(
        &mut self,
        bytes: &[u8],
        ts: Timestamp,
        session: &mut TlsSession,
        limits: &Limits,
        stats: &mut Stats,
    ) {
        if self.done {
            return;
        }
        self.first_ts.get_or_insert(ts);
        if session.ts == Timestamp::default() {
            session.ts = ts;
        }
        let limit = limits.max_tls_handshake_bytes;
        let mut input = bytes;
        // Buffer no more than the limit at a time; what a parsed record frees makes room for more.
        while !input.is_empty() && !self.done {
            let room = limit.saturating_sub(self.records.len());
            if room == 0 {
                return self.give_up(stats);
            }
            let (now, later) = input.split_at(room.min(input.len()));
            self.records.extend_from_slice(now);
            self.parse_records(session, limit, stats);
            input = later;
        }
    }

    fn parse_records(&mut self, session: &mut TlsSession, limit: usize, stats: &mut Stats) {
        loop {
            // SSLv2-format ClientHello: a 2-byte length with the high bit set (at most 32 KiB).
            if let [hi, lo, 0x01, ..] = self.records.as_slice() {
                if hi & 0x80 != 0 && session.client_hello.is_none() {
                    let len = usize::from(u16::from_be_bytes([hi & 0x7f, *lo])).saturating_add(2);
                    if len > limit {
                        return self.give_up(stats);
                    }
                    if self.records.len() < len {
                        return;
                    }
                    session.client_hello = tls::parse_sslv2_client_hello(self.records.get(..len).unwrap_or_default());
                    self.records.drain(..len);
                    continue;
                }
            }
            let [kind, _, _, l1, l2, ..] = *self.records.as_slice() else { return };
            let len = usize::from(u16::from_be_bytes([l1, l2])).saturating_add(RECORD_HEADER);
            if len > limit {
                // The record could never be buffered whole.
                return self.give_up(stats);
            }
            if self.records.len() < len {
                return;
            }
            let payload: Vec<u8> = self.records.get(RECORD_HEADER..len).unwrap_or_default().to_vec();
            self.records.drain(..len);
            match kind {
                22 => {
                    self.handshake.extend_from_slice(&payload);
                    self.messages(session, limit, stats);
                }
                20 | 23 => {
                    self.finish();
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
            if self.done {
                return;
            }
        }
    }

    /// Stops reading this direction and frees its buffers.
    fn finish(&mut self) {
        self.done = true;
        self.records = Vec::new();
        self.handshake = Vec::new();
    }

    /// A record declares more bytes than may be buffered (more than TLS allows in a record):
    /// an attack or not TLS; stop here.
    fn give_up(&mut self, stats: &mut Stats) {
        stats.anomaly(Anomaly::TlsHandshakeTooLarge);
        self.finish();
    }

    fn messages(&mut self, session: &mut TlsSession, limit: usize, stats: &mut Stats) {
        loop {
            if self.skip > 0 {
                let dropped = self.skip.min(self.handshake.len());
                self.handshake.drain(..dropped);
                self.skip = self.skip.saturating_sub(dropped);
                if self.skip > 0 {
                    return;
                }
            }
            let [kind, a, b, c, ..] = *self.handshake.as_slice() else { return };
            let declared = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            let len = declared.saturating_add(MESSAGE_HEADER);
            if len > limit {
                // Too large to buffer: count it and drop it, reading on after it. A certificate
                // chain starts with the leaf, so the leaf is read from the part that fits.
                if kind == HANDSHAKE_CERTIFICATE {
                    if self.handshake.len() < limit {
                        return;
                    }
                    read_certificates(session, self.handshake.get(MESSAGE_HEADER..limit).unwrap_or_default());
                }
                stats.anomaly(Anomaly::TlsHandshakeTooLarge);
                let buffered = self.handshake.len().min(len);
                self.handshake.drain(..buffered);
                self.skip = len.saturating_sub(buffered);
                continue;
            }
            if self.handshake.len() < len {
                return;
            }
            let body: Vec<u8> = self.handshake.get(MESSAGE_HEADER..len).unwrap_or_default().to_vec();
            self.handshake.drain(..len);
            match kind {
                1 if session.client_hello.is_none() => session.client_hello = tls::parse_client_hello(&body),
                2 => {
                    session.server_hello = tls::parse_server_hello(&body);
                    if session.server_hello.as_ref().is_some_and(|s| s.version >= 0x0304) {
                        // TLS 1.3: everything after the ServerHello is encrypted.
                        return self.finish();
                    }
                }
                HANDSHAKE_CERTIFICATE => read_certificates(session, &body),
                14 => return self.finish(),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects)]
    use apisonar_testkit::tls::{
        certificate, certificate_body, client_hello, handshake, handshake_header, records, server_hello,
    };

    use super::*;

    /// Feeds `bytes` in pieces of `piece`, checking the buffers after each.
    fn feed(reader: &mut TlsReader, session: &mut TlsSession, bytes: &[u8], piece: usize, stats: &mut Stats) {
        let limits = Limits::default();
        for chunk in bytes.chunks(piece) {
            reader.feed(chunk, Timestamp(1), session, &limits, stats);
            // The limit, plus one record being appended, at most doubled by vector growth.
            assert!(reader.buffered_bytes() <= 4 * limits.max_tls_handshake_bytes, "{}", reader.buffered_bytes());
        }
    }

    #[test]
    fn a_message_declaring_16_mib_is_dropped_within_the_limit() {
        let (mut reader, mut session, mut stats) = (TlsReader::default(), TlsSession::default(), Stats::default());
        let mut server = records(22, &handshake(2, &server_hello()));
        let mut huge = handshake_header(11, 0xff_ffff).to_vec();
        huge.extend(std::iter::repeat_n(0x41, 0xff_ffff));
        server.extend(records(22, &huge));
        // What follows the dropped message is read again.
        server.extend(records(22, &handshake(14, &[])));
        feed(&mut reader, &mut session, &server, 9000, &mut stats);
        assert_eq!(stats.anomaly_count(Anomaly::TlsHandshakeTooLarge), 1);
        assert_eq!(session.server_hello.map(|s| s.cipher), Some(0xc02f));
        assert!(reader.done, "ServerHelloDone after the dropped message was seen");
        assert_eq!(reader.buffered_bytes(), 0);
    }

    #[test]
    fn a_message_declaring_16_mib_then_endless_bytes_stays_bounded() {
        let (mut reader, mut session, mut stats) = (TlsReader::default(), TlsSession::default(), Stats::default());
        let mut bytes = handshake_header(1, 0xff_ffff).to_vec();
        bytes.extend(std::iter::repeat_n(0x42, 4 << 20));
        feed(&mut reader, &mut session, &records(22, &bytes), 1448, &mut stats);
        assert_eq!(stats.anomaly_count(Anomaly::TlsHandshakeTooLarge), 1);
        assert_eq!(session.client_hello, None);
    }

    #[test]
    fn an_oversized_certificate_message_keeps_its_leaf() {
        let (mut reader, mut session, mut stats) = (TlsReader::default(), TlsSession::default(), Stats::default());
        let leaf = certificate("big.example", "Test CA", 200_000);
        let body = certificate_body(&[leaf, certificate("Test CA", "Test CA", 0)]);
        let mut server = records(22, &handshake(2, &server_hello()));
        server.extend(records(22, &handshake(11, &body)));
        feed(&mut reader, &mut session, &server, 1448, &mut stats);
        assert_eq!(stats.anomaly_count(Anomaly::TlsHandshakeTooLarge), 1);
        assert_eq!(session.certificate.map(|c| c.subject), Some("CN=big.example".to_string()));
        assert_eq!(session.chain_length, 1, "the cut leaf counts, the certificate after it is not seen");
    }

    #[test]
    fn messages_within_the_limit_still_parse_when_split_over_records() {
        let (mut reader, mut session, mut stats) = (TlsReader::default(), TlsSession::default(), Stats::default());
        let body = certificate_body(&[certificate("site.example", "Test CA", 30_000)]);
        let mut message = handshake(1, &client_hello("site.example"));
        message.extend(handshake(11, &body));
        feed(&mut reader, &mut session, &records(22, &message), 100, &mut stats);
        assert_eq!(stats.anomaly_count(Anomaly::TlsHandshakeTooLarge), 0);
        assert_eq!(session.client_hello.and_then(|c| c.sni), Some("site.example".to_string()));
        assert_eq!((session.certificate.map(|c| c.subject), session.chain_length), (Some("CN=site.example".into()), 1));
    }

    #[test]
    fn a_record_longer_than_the_limit_stops_the_direction() {
        let (mut reader, mut session, mut stats) = (TlsReader::default(), TlsSession::default(), Stats::default());
        let limits = Limits { max_tls_handshake_bytes: 1000, ..Limits::default() };
        let mut bytes = vec![22, 3, 3, 0x10, 0x00];
        bytes.extend([0; 2000]);
        reader.feed(&bytes, Timestamp(1), &mut session, &limits, &mut stats);
        assert_eq!((stats.anomaly_count(Anomaly::TlsHandshakeTooLarge), reader.done), (1, true));
        reader.feed(&records(22, &handshake(1, &client_hello("x"))), Timestamp(1), &mut session, &limits, &mut stats);
        assert_eq!((session.client_hello, reader.buffered_bytes()), (None, 0));
    }
}
