//! TCP conversations as real frames: a handshake, data in MSS-sized segments, teardown, and
//! hooks to break the rules on purpose (reordering, retransmission, overlaps, gaps).

use etherparse::PacketBuilder;

/// Which end of the conversation sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// One frame with its capture time in microseconds.
#[derive(Clone, Debug)]
pub struct Frame {
    pub ts: i64,
    pub bytes: Vec<u8>,
}

/// Builds one TCP connection between two IPv4 endpoints over Ethernet.
pub struct Conversation {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    /// Next sequence number each side sends (client, server).
    seq: [u32; 2],
    ts: i64,
    step_micros: i64,
    mss: usize,
    vlan: Option<u16>,
    pub frames: Vec<Frame>,
}

impl Conversation {
    pub fn new(client: ([u8; 4], u16), server: ([u8; 4], u16), start_micros: i64) -> Conversation {
        Conversation {
            client,
            server,
            seq: [1_000_000 + u32::from(client.1), 3_000_000 + u32::from(server.1)],
            ts: start_micros,
            step_micros: 100,
            mss: 1448,
            vlan: None,
            frames: Vec::new(),
        }
    }

    pub fn with_vlan(mut self, id: u16) -> Conversation {
        self.vlan = Some(id);
        self
    }

    pub fn with_mss(mut self, mss: usize) -> Conversation {
        self.mss = mss.max(1);
        self
    }

    /// Initial sequence numbers of the client and the server (by default they follow the
    /// ports, so a connection reusing a port pair would repeat them, as no real stack does).
    pub fn with_initial_seqs(mut self, client: u32, server: u32) -> Conversation {
        self.seq = [client, server];
        self
    }

    pub fn with_step(mut self, micros: i64) -> Conversation {
        self.step_micros = micros;
        self
    }

    pub fn now(&self) -> i64 {
        self.ts
    }

    fn idx(side: Side) -> usize {
        match side {
            Side::Client => 0,
            Side::Server => 1,
        }
    }

    /// Next sequence number `side` would send.
    pub fn seq(&self, side: Side) -> u32 {
        self.seq[Self::idx(side)]
    }

    /// Builds a frame without recording it or moving sequence numbers.
    pub fn frame(&self, side: Side, seq: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = match side {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        };
        let ack = self.seq[1 - Self::idx(side)];
        let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let ip = match self.vlan {
            Some(id) => eth.single_vlan(etherparse::VlanId::try_new(id).unwrap_or_default()).ipv4(src.0, dst.0, 64),
            None => eth.ipv4(src.0, dst.0, 64),
        };
        let mut tcp = ip.tcp(src.1, dst.1, seq, 65535);
        if flags.contains('S') {
            tcp = tcp.syn();
        }
        if flags.contains('A') {
            tcp = tcp.ack(ack);
        }
        if flags.contains('F') {
            tcp = tcp.fin();
        }
        if flags.contains('R') {
            tcp = tcp.rst();
        }
        if flags.contains('P') {
            tcp = tcp.psh();
        }
        let mut out = Vec::with_capacity(payload.len() + 64);
        // Writing into a Vec cannot fail.
        let _ = tcp.write(&mut out, payload);
        out
    }

    /// Records a frame at the current time and advances the clock.
    pub fn push(&mut self, bytes: Vec<u8>) {
        self.frames.push(Frame { ts: self.ts, bytes });
        self.ts += self.step_micros;
    }

    pub fn advance(&mut self, micros: i64) {
        self.ts += micros;
    }

    pub fn handshake(&mut self) {
        let c = self.frame(Side::Client, self.seq[0], "S", b"");
        self.push(c);
        self.seq[0] = self.seq[0].wrapping_add(1);
        let s = self.frame(Side::Server, self.seq[1], "SA", b"");
        self.push(s);
        self.seq[1] = self.seq[1].wrapping_add(1);
        let a = self.frame(Side::Client, self.seq[0], "A", b"");
        self.push(a);
    }

    /// Sends `data` from `side` in MSS-sized segments, then an ACK from the other side.
    pub fn send(&mut self, side: Side, data: &[u8]) {
        for chunk in data.chunks(self.mss) {
            self.send_segment(side, chunk);
        }
        self.ack(side);
    }

    /// Sends one segment carrying exactly `chunk`.
    pub fn send_segment(&mut self, side: Side, chunk: &[u8]) {
        let i = Self::idx(side);
        let f = self.frame(side, self.seq[i], "PA", chunk);
        self.push(f);
        self.seq[i] = self.seq[i].wrapping_add(chunk.len() as u32);
    }

    /// Builds segments for `data` without sending them: (seq, frame) pairs to reorder or drop.
    pub fn segments(&mut self, side: Side, data: &[u8], mss: usize) -> Vec<(u32, Vec<u8>)> {
        let i = Self::idx(side);
        let mut out = Vec::new();
        for chunk in data.chunks(mss.max(1)) {
            out.push((self.seq[i], self.frame(side, self.seq[i], "PA", chunk)));
            self.seq[i] = self.seq[i].wrapping_add(chunk.len() as u32);
        }
        out
    }

    /// The other side acknowledges everything `side` sent so far.
    pub fn ack(&mut self, side: Side) {
        let other = match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        let f = self.frame(other, self.seq(other), "A", b"");
        self.push(f);
    }

    /// FIN from both sides, client first.
    pub fn close(&mut self) {
        for side in [Side::Client, Side::Server] {
            let i = Self::idx(side);
            let f = self.frame(side, self.seq[i], "FA", b"");
            self.push(f);
            self.seq[i] = self.seq[i].wrapping_add(1);
        }
        let f = self.frame(Side::Client, self.seq[0], "A", b"");
        self.push(f);
    }
}
