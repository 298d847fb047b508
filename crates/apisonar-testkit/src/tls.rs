//! TLS handshake bytes for tests: records, handshake messages, hellos, and small DER
//! certificates (ed25519 keys, no real signature) of any size.

/// A TLS record of `content_type` (22 handshake, 20 ChangeCipherSpec, 21 alert, 23 data);
/// payloads longer than a record allows are split into several records.
pub fn records(content_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    for chunk in payload.chunks(16_384) {
        out.extend_from_slice(&[content_type, 0x03, 0x03]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// A handshake message header declaring `len` body bytes (which need not follow).
pub fn handshake_header(kind: u8, len: u32) -> [u8; 4] {
    let [_, a, b, c] = len.to_be_bytes();
    [kind, a, b, c]
}

/// A whole handshake message.
pub fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = handshake_header(kind, body.len() as u32).to_vec();
    out.extend_from_slice(body);
    out
}

/// A TLS 1.2 ClientHello body with SNI `server_name`, two cipher suites and no other extension.
pub fn client_hello(server_name: &str) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2f, 0x00, 0x9c]);
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    let name = server_name.as_bytes();
    let mut sni = vec![0x00];
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let mut list = (sni.len() as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&sni);
    let mut ext = vec![0x00, 0x00];
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    body
}

/// A TLS 1.2 ServerHello body choosing ECDHE-RSA-AES128-GCM-SHA256.
pub fn server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x22; 32]);
    body.push(0);
    body.extend_from_slice(&[0xc0, 0x2f, 0x00]);
    body
}

/// A Certificate message body carrying `certificates` (DER), leaf first.
pub fn certificate_body(certificates: &[Vec<u8>]) -> Vec<u8> {
    let mut list = Vec::new();
    for c in certificates {
        list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
        list.extend_from_slice(c);
    }
    let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
    body.extend_from_slice(&list);
    body
}

/// One DER element.
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn name(common_name: &str) -> Vec<u8> {
    let attribute = [der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, common_name.as_bytes())].concat();
    der(0x30, &der(0x31, &der(0x30, &attribute)))
}

/// A DER certificate for `subject` issued by `issuer`, valid through 2024, with an ed25519 key
/// and an extensions block of `extension_bytes` filler (what makes real leaves with many names
/// large).
pub fn certificate(subject: &str, issuer: &str, extension_bytes: usize) -> Vec<u8> {
    let ed25519 = der(0x30, &der(0x06, &[0x2b, 0x65, 0x70]));
    let tbs = [
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &[0x01, 0x23]),
        ed25519.clone(),
        name(issuer),
        der(0x30, &[der(0x17, b"240101000000Z"), der(0x17, b"250101000000Z")].concat()),
        name(subject),
        der(0x30, &[ed25519.clone(), der(0x03, &[0; 33])].concat()),
        der(0xa3, &der(0x04, &vec![0x55; extension_bytes])),
    ]
    .concat();
    der(0x30, &[der(0x30, &tbs), ed25519, der(0x03, &[0; 65])].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_encoded_in_the_shortest_form() {
        assert_eq!(der(0x04, &[1; 5])[..2], [0x04, 5]);
        assert_eq!(der(0x04, &[1; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(der(0x04, &[1; 70_000])[..5], [0x04, 0x83, 0x01, 0x11, 0x70]);
        assert_eq!(handshake_header(11, 0xff_ffff), [11, 0xff, 0xff, 0xff]);
        let r = records(22, &[7; 20_000]);
        assert_eq!((r.len(), &r[..5]), (20_010, &[22, 3, 3, 0x40, 0x00][..]));
    }
}
