//! Benchmark workloads: realistic JSON API traffic in 1500-byte frames, written as it is made so
//! that captures of any size cost no memory; and the testkit's deterministic generator ([`Rng`]),
//! which the hostile captures and the fuzzing checkers' tests draw from too.

use crate::conv::{Conversation, Side};

/// Connection pattern of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Many concurrent keep-alive connections, each carrying many transactions.
    KeepAlive,
    /// One transaction per connection: handshake, request, response, teardown.
    ShortConnections,
}

/// How a workload's answers hold their records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answers {
    /// A bare array of records (`[{...},{...}]`).
    Array,
    /// The array in an envelope, as many APIs page lists (`{"data":[...],"total":2,...}`).
    Envelope,
    /// A bare array of records that hold an array of scalars and a nested object
    /// (`"roles":["user"],"address":{"city":...}`).
    Nested,
}

impl Answers {
    pub fn parse(text: &str) -> Option<Answers> {
        match text {
            "array" => Some(Answers::Array),
            "envelope" => Some(Answers::Envelope),
            "nested" => Some(Answers::Nested),
            _ => None,
        }
    }
}

/// Which addresses a workload's connections use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addresses {
    /// One client address and one server address (only the client port changes): traffic
    /// behind a load balancer or a sidecar, where a per-address-pair split gives one worker
    /// everything.
    OnePair,
    /// A client address drawn per connection from 50,000 (10.20.0.0/16), one server.
    ManyPairs,
}

impl Addresses {
    pub fn parse(text: &str) -> Option<Addresses> {
        match text {
            "one-pair" => Some(Addresses::OnePair),
            "many-pairs" => Some(Addresses::ManyPairs),
            _ => None,
        }
    }
}

/// A small deterministic generator (xorshift), so that workloads, captures and test inputs are
/// reproducible. The state is the field (never zero: zero stays zero).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// A generator with a different stream for every seed, zero included.
    pub fn seeded(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (zero for `n` zero).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `len` bytes: bits 24 to 31 of each step (the fixed pseudo-random inputs of the fuzzing
    /// checkers' tests are `Rng::seeded(seed).bytes(len)`).
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next_u64() >> 24) as u8).collect()
    }

    /// `len` lowercase ASCII letters.
    pub fn word(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b'a' + self.below(26) as u8)).collect()
    }
}

fn request(rng: &mut Rng, host: &str) -> Vec<u8> {
    let id = rng.below(100_000);
    let (method, path, body) = match rng.below(10) {
        0..=3 => ("GET", format!("/api/v1/users/{id}"), String::new()),
        4..=5 => ("GET", format!("/api/v1/orders?customer={id}&limit=20&offset={}", rng.below(500)), String::new()),
        6 => (
            "GET",
            format!(
                "/api/v2/products/{:08x}-{:04x}-4abc-8def-{:012x}",
                rng.next_u64() as u32,
                id,
                rng.next_u64() >> 16
            ),
            String::new(),
        ),
        7..=8 => (
            "POST",
            "/api/v1/orders".to_string(),
            format!(
                "{{\"customer\":{id},\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{}}}],\"note\":\"{}\"}}",
                rng.below(9999),
                1 + rng.below(5),
                "n".repeat(rng.below(200) as usize)
            ),
        ),
        _ => (
            "PUT",
            format!("/api/v1/users/{id}/preferences"),
            format!("{{\"theme\":\"dark\",\"lang\":\"en\",\"id\":{id}}}"),
        ),
    };
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench-client/2.1\r\nAccept: application/json\r\nAuthorization: Bearer tok{:016x}\r\n",
        rng.next_u64()
    );
    if !body.is_empty() {
        out.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

fn response(rng: &mut Rng, answers: Answers) -> Vec<u8> {
    let records = 1 + rng.below(40) as usize;
    let mut body = String::from("[");
    for i in 0..records {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"id\":{},\"name\":\"user{}\",\"email\":\"u{}@example.com\",\"active\":true,\"score\":{}.{}",
            rng.below(1_000_000),
            rng.below(1000),
            rng.below(1000),
            rng.below(100),
            rng.below(10)
        ));
        if answers == Answers::Nested {
            // Drawn from the record's place, not the generator: the other answers stay the same.
            let roles = ["\"user\"", "\"admin\"", "\"auditor\""];
            body.push_str(&format!(
                ",\"roles\":[{}],\"address\":{{\"city\":\"c{}\",\"zip\":\"{:05}\"}}",
                roles.get(..1 + i % 3).unwrap_or_default().join(","),
                i % 7,
                i.wrapping_mul(7919) % 100_000
            ));
        }
        body.push('}');
    }
    body.push(']');
    if answers == Answers::Envelope {
        body = format!("{{\"data\":{body},\"total\":{records},\"has_more\":false}}");
    }
    if rng.below(10) == 0 {
        // Some servers stream: chunked in pieces of up to 4 KiB.
        let mut out =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for piece in body.as_bytes().chunks(4096) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        return out;
    }
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nServer: bench\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Generates about `target_bytes` of frames, calling `write(ts_micros, frame)` for each, and
/// returns (frames, transactions).
/// The initial sequence numbers of the `n`th connection: spread over the sequence space, and
/// never the same for two connections that could share a port pair.
fn initial_seqs(n: u32) -> (u32, u32) {
    let spread = n.wrapping_mul(0x9e37_79b1);
    (1_000_000u32.wrapping_add(spread), 3_000_000u32.wrapping_add(spread.rotate_left(16)))
}

pub fn generate(
    pattern: Pattern,
    addresses: Addresses,
    target_bytes: u64,
    write: impl FnMut(i64, &[u8]),
) -> (u64, u64) {
    generate_answering(pattern, addresses, Answers::Array, target_bytes, write)
}

/// [`generate`], with answers that hold their records as `answers` says.
pub fn generate_answering(
    pattern: Pattern,
    addresses: Addresses,
    answers: Answers,
    target_bytes: u64,
    mut write: impl FnMut(i64, &[u8]),
) -> (u64, u64) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut written = 0u64;
    let (mut frames, mut transactions) = (0u64, 0u64);
    let mut ts = crate::synthetic::EPOCH;
    let concurrency = 64usize;
    let mut port = 20000u16;
    let mut opened = 0u32;
    let mut new_conn = |rng: &mut Rng, port: &mut u16| {
        *port = if *port >= 60000 { 20000 } else { *port + 1 };
        // Ports are reused after 40,001 connections; sequence numbers are not (tshark takes a
        // SYN repeating an old connection's numbers for a retransmission, and skipped the rest).
        let (client_isn, server_isn) = initial_seqs(opened);
        opened = opened.wrapping_add(1);
        // Drawn either way, so both mixes carry the same requests and answers.
        let drawn = [10, 20, (rng.below(200)) as u8, 1 + rng.below(250) as u8];
        let client = match addresses {
            Addresses::ManyPairs => drawn,
            Addresses::OnePair => [10, 20, 0, 1],
        };
        let mut c = Conversation::new((client, *port), ([10, 0, 0, 80], 8080), 0)
            .with_initial_seqs(client_isn, server_isn)
            .with_step(0);
        c.handshake();
        c
    };
    let mut conns: Vec<(Conversation, u32)> = (0..concurrency).map(|_| (new_conn(&mut rng, &mut port), 0)).collect();
    let mut turn = 0usize;
    while written < target_bytes {
        let slot = turn % concurrency;
        turn += 1;
        let Some((conv, done)) = conns.get_mut(slot) else { break };
        let host = format!("api{}.shop.test", slot % 4);
        conv.send(Side::Client, &request(&mut rng, &host));
        conv.send(Side::Server, &response(&mut rng, answers));
        transactions += 1;
        *done += 1;
        let finished = match pattern {
            Pattern::ShortConnections => true,
            Pattern::KeepAlive => *done >= 1000,
        };
        if finished {
            conv.close();
        }
        for f in conv.frames.drain(..) {
            ts += 3;
            written += f.bytes.len() as u64;
            frames += 1;
            write(ts, &f.bytes);
        }
        if finished {
            let fresh = new_conn(&mut rng, &mut port);
            if let Some(entry) = conns.get_mut(slot) {
                *entry = (fresh, 0);
            }
        }
    }
    (frames, transactions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_port_pair_opens_with_other_sequence_numbers() {
        // The generator cycles through 40,001 client ports.
        for n in [0u32, 1, 7, 40_000, 123_456] {
            assert_ne!(initial_seqs(n), initial_seqs(n + 40_001), "{n}");
            assert_ne!(initial_seqs(n), initial_seqs(n + 1), "{n}");
        }
        let c = Conversation::new(([10, 0, 0, 1], 20_001), ([10, 0, 0, 80], 8080), 0).with_initial_seqs(77, 99);
        assert_eq!((c.seq(Side::Client), c.seq(Side::Server)), (77, 99));
    }
}
