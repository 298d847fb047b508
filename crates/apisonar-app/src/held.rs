//! Transactions whose place in the catalog is not certain yet (probes, and endpoints on an
//! authentication challenge alone), held back a little before they are judged.
//!
//! Workers hand transactions over in batches, so the core sees flows only roughly in capture
//! order: a 404 for `/users/7` may come before the 200 for `/users/1` that establishes
//! `/users/{id}`, and a scanner's 401s before the 404s that give it away. Held for a
//! few thousand transactions (or two seconds of a quiet sensor), such a transaction is judged on
//! what the traffic around it established, and the inventory is the same with one worker or
//! many. Bounded in count and bytes: past either bound the oldest is judged at once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::analysis::AnalysedTransaction;

/// How many later transactions a held one waits for.
const HOLD_FOR_TRANSACTIONS: u64 = 4096;
/// How long a held one waits at most (a quiet sensor).
const HOLD_FOR: Duration = Duration::from_secs(2);
const MAX_HELD: usize = 4096;
const MAX_HELD_BYTES: usize = 16 << 20;

struct Held {
    /// The transactions counted when it was held.
    seq: u64,
    at: Instant,
    bytes: usize,
    transaction: Box<AnalysedTransaction>,
}

#[derive(Default)]
pub(crate) struct HeldProbes {
    queue: VecDeque<Held>,
    bytes: usize,
    /// Transactions counted so far.
    seq: u64,
}

/// Roughly what a transaction holds in memory.
fn size(t: &AnalysedTransaction) -> usize {
    let o = &t.observation;
    let headers = |h: &apisonar_engine::Headers| h.buffer_len();
    let response = o.response.as_ref().map_or(0, |r| r.body.len().saturating_add(headers(&r.headers)));
    o.target
        .len()
        .saturating_add(o.request_body.len())
        .saturating_add(headers(&o.request_headers))
        .saturating_add(response)
}

impl HeldProbes {
    /// Counts one transaction come in (held ones age by it).
    pub fn count(&mut self) {
        self.seq = self.seq.saturating_add(1);
    }

    pub fn hold(&mut self, transaction: Box<AnalysedTransaction>) {
        let bytes = size(&transaction);
        self.bytes = self.bytes.saturating_add(bytes);
        self.queue.push_back(Held { seq: self.seq, at: Instant::now(), bytes, transaction });
    }

    /// The oldest held transaction, if it has waited long enough (or the queue is over a bound).
    pub fn due(&mut self) -> Option<Box<AnalysedTransaction>> {
        let front = self.queue.front()?;
        let due = self.queue.len() > MAX_HELD
            || self.bytes > MAX_HELD_BYTES
            || self.seq.saturating_sub(front.seq) >= HOLD_FOR_TRANSACTIONS
            || front.at.elapsed() >= HOLD_FOR;
        due.then(|| self.pop()).flatten()
    }

    /// The oldest held transaction, due or not.
    pub fn pop(&mut self) -> Option<Box<AnalysedTransaction>> {
        let held = self.queue.pop_front()?;
        self.bytes = self.bytes.saturating_sub(held.bytes);
        Some(held.transaction)
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

    use apisonar_engine::sensitive::MaskKey;
    use apisonar_engine::Observation;

    use super::*;

    /// A POST with a body: the analysis keeps its bodies (a login's), so `body` counts.
    fn transaction(target: &str, body: usize) -> Box<AnalysedTransaction> {
        let observation = Observation {
            ts: 0,
            client: std::net::IpAddr::from([10, 0, 0, 7]),
            server: std::net::SocketAddr::from(([10, 0, 0, 1], 80)),
            host: None,
            method: "POST".into(),
            target: target.into(),
            request_headers: Default::default(),
            request_body: vec![b'x'; body],
            request_body_len: body as u64,
            response: None,
            encrypted: false,
            protocol: Default::default(),
        };
        Box::new(crate::analyse(observation, &MaskKey::default()))
    }

    #[test]
    fn held_transactions_come_out_in_order_after_enough_others() {
        let mut held = HeldProbes::default();
        held.count();
        held.hold(transaction("/a", 0));
        held.count();
        held.hold(transaction("/b", 0));
        for _ in 0..HOLD_FOR_TRANSACTIONS - 2 {
            held.count();
            assert!(held.due().is_none());
        }
        held.count();
        assert_eq!(held.due().unwrap().observation.target, "/a");
        assert!(held.due().is_none());
        held.count();
        assert_eq!(held.due().unwrap().observation.target, "/b");
        assert!(held.is_empty());
    }

    #[test]
    fn count_and_bytes_are_bounded() {
        let mut held = HeldProbes::default();
        for i in 0..=MAX_HELD {
            held.hold(transaction(&format!("/{i}"), 0));
        }
        assert_eq!(held.due().unwrap().observation.target, "/0", "one over the count bound");
        assert!(held.due().is_none());
        let mut big = HeldProbes::default();
        big.hold(transaction("/big", MAX_HELD_BYTES - "/big".len()));
        assert!(big.due().is_none(), "at the bound");
        big.hold(transaction("/more", 1));
        assert_eq!(big.due().unwrap().observation.target, "/big");
        assert!(big.due().is_none());
    }
}
