//! Small mergeable statistics: latency histogram, size summary, distinct client counting.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Log-scale histogram of microsecond values: 4 buckets per power of two, so percentiles are
/// within about 19% of the true value, from 1 µs to hours, in a sparse map.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub count: u64,
    pub buckets: BTreeMap<u16, u64>,
}

fn bucket_of(micros: i64) -> u16 {
    let v = micros.max(1) as f64;
    (v.log2() * 4.0).floor().clamp(0.0, 255.0) as u16
}

fn bucket_upper(b: u16) -> i64 {
    2f64.powf((f64::from(b) + 1.0) / 4.0).ceil() as i64
}

impl Histogram {
    pub fn add(&mut self, micros: i64) {
        add_count(&mut self.count, 1);
        add_count(self.buckets.entry(bucket_of(micros)).or_default(), 1);
    }

    pub fn merge(&mut self, other: &Histogram) {
        add_count(&mut self.count, other.count);
        for (b, n) in &other.buckets {
            add_count(self.buckets.entry(*b).or_default(), *n);
        }
    }

    /// The value at quantile `q` (0..=1), as the upper edge of its bucket; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<i64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, n) in &self.buckets {
            add_count(&mut seen, *n);
            if seen >= rank {
                return Some(bucket_upper(*b));
            }
        }
        self.buckets.keys().last().map(|b| bucket_upper(*b))
    }
}

/// Minimum, maximum and total of a size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeStats {
    pub count: u64,
    pub min: u64,
    pub max: u64,
    pub total: u64,
}

impl SizeStats {
    pub fn add(&mut self, v: u64) {
        self.min = if self.count == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.total = self.total.saturating_add(v);
        add_count(&mut self.count, 1);
    }

    pub fn merge(&mut self, o: &SizeStats) {
        if o.count == 0 {
            return;
        }
        self.min = if self.count == 0 { o.min } else { self.min.min(o.min) };
        self.max = self.max.max(o.max);
        self.total = self.total.saturating_add(o.total);
        add_count(&mut self.count, o.count);
    }
}

/// Distinct clients, counted by a stable hash of their address (addresses are not stored):
/// exactly up to `CLIENTS_EXACT`, then approximately with a 256-register HyperLogLog (about 6%
/// standard error), so an endpoint costs at most a few hundred bytes whatever its audience.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSet {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hashes: BTreeSet<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registers: Vec<u8>,
}

const CLIENTS_EXACT: usize = 64;
const HLL_REGISTERS: usize = 256;

/// Adds `n` to a counter. Counters stop at `u64::MAX` rather than wrap (or panic).
pub fn add_count(counter: &mut u64, n: u64) {
    *counter = counter.saturating_add(n);
}

/// When the union of two records of the same thing was first seen: the earlier of the two, where
/// a record that counted nothing (`count == 0`) has no time to offer.
pub fn earliest(mine: (u64, i64), theirs: (u64, i64)) -> i64 {
    match (mine, theirs) {
        ((0, _), (_, t)) => t,
        ((_, m), (0, _)) => m,
        ((_, m), (_, t)) => m.min(t),
    }
}

/// FNV-1a: stable across runs and versions, unlike the standard library's hasher.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    stable_hash_more(0xcbf2_9ce4_8422_2325, bytes)
}

/// Continues a [`stable_hash`] over more bytes: `stable_hash_more(stable_hash(a), b)` is the
/// hash of `a` followed by `b`, with nothing joined in memory.
pub fn stable_hash_more(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Spreads FNV's weak low bits before they pick a register (splitmix64 finaliser).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl ClientSet {
    fn add_hash(&mut self, h: u64) {
        if self.registers.is_empty() {
            self.hashes.insert(h);
            if self.hashes.len() > CLIENTS_EXACT {
                self.registers = vec![0; HLL_REGISTERS];
                for old in std::mem::take(&mut self.hashes) {
                    self.add_hash(old);
                }
            }
            return;
        }
        let m = mix(h);
        let index = (m >> 56) as usize;
        // The 0x80 bit caps the leading zeros at 56.
        let rank = (((m << 8) | 0x80).leading_zeros() as u8).saturating_add(1);
        if let Some(r) = self.registers.get_mut(index) {
            *r = (*r).max(rank);
        }
    }

    pub fn add(&mut self, client: &str) {
        self.add_hash(stable_hash(client.as_bytes()));
    }

    /// [`ClientSet::add`] of the address's text, without formatting an IPv4 address through
    /// `fmt` (this is done once per transaction on the inventory thread).
    pub fn add_addr(&mut self, client: std::net::IpAddr) {
        match client {
            std::net::IpAddr::V4(v4) => {
                let mut text = [0u8; 15];
                let mut len = 0usize;
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    let digits = [octet / 100, octet / 10 % 10, octet % 10];
                    let skip = if octet >= 100 {
                        0
                    } else if octet >= 10 {
                        1
                    } else {
                        2
                    };
                    let dot = (i > 0).then_some(b'.');
                    for b in dot.into_iter().chain(digits.iter().skip(skip).map(|d| b'0'.saturating_add(*d))) {
                        if let Some(slot) = text.get_mut(len) {
                            *slot = b;
                            len = len.saturating_add(1);
                        }
                    }
                }
                self.add_hash(stable_hash(text.get(..len).unwrap_or_default()));
            }
            std::net::IpAddr::V6(_) => self.add(&client.to_string()),
        }
    }

    pub fn merge(&mut self, o: &ClientSet) {
        for h in &o.hashes {
            self.add_hash(*h);
        }
        if !o.registers.is_empty() {
            if self.registers.is_empty() {
                self.registers = vec![0; HLL_REGISTERS];
                for old in std::mem::take(&mut self.hashes) {
                    self.add_hash(old);
                }
            }
            for (mine, theirs) in self.registers.iter_mut().zip(&o.registers) {
                *mine = (*mine).max(*theirs);
            }
        }
    }

    /// Distinct clients (exact up to 64, estimated beyond).
    pub fn count(&self) -> usize {
        if self.registers.is_empty() {
            return self.hashes.len();
        }
        let m = HLL_REGISTERS as f64;
        let sum: f64 = self.registers.iter().map(|&r| 0.5f64.powi(i32::from(r))).sum();
        let raw = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        let estimate = if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw };
        estimate.round() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_continues_over_more_bytes() {
        assert_eq!(stable_hash_more(stable_hash(b"users/"), b"42"), stable_hash(b"users/42"));
        assert_eq!(stable_hash_more(stable_hash(b""), b""), stable_hash(b""));
    }

    #[test]
    fn an_address_counts_as_its_text() {
        let addrs = ["0.0.0.0", "10.0.0.1", "192.168.100.9", "255.255.255.255", "1.20.3.40", "::1", "fe80::2"];
        for a in addrs {
            let ip: std::net::IpAddr = a.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
            let (mut by_text, mut by_addr) = (ClientSet::default(), ClientSet::default());
            by_text.add(a);
            by_addr.add_addr(ip);
            assert_eq!(by_text, by_addr, "{a}");
        }
    }

    #[test]
    fn stored_buckets_at_the_end_of_the_range_have_an_upper_edge() {
        let h: Histogram = serde_json::from_str(r#"{"count":1,"buckets":{"65535":1}}"#).unwrap_or_default();
        assert_eq!(h.quantile(0.5), Some(i64::MAX), "an edge beyond i64 saturates");
    }

    #[test]
    fn quantiles_are_close() {
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.add(v * 100);
        }
        let p50 = h.quantile(0.5).unwrap_or(0) as f64;
        let p99 = h.quantile(0.99).unwrap_or(0) as f64;
        assert!((p50 / 50_000.0 - 1.0).abs() < 0.2, "{p50}");
        assert!((p99 / 99_000.0 - 1.0).abs() < 0.2, "{p99}");
        assert_eq!(Histogram::default().quantile(0.5), None);
        let mut a = Histogram::default();
        a.add(10);
        a.merge(&h);
        assert_eq!(a.count, 1001);
    }

    #[test]
    fn sizes_and_clients() {
        let mut s = SizeStats::default();
        s.add(5);
        s.add(2);
        assert_eq!((s.min, s.max, s.total), (2, 5, 7));
        let mut c = ClientSet::default();
        c.add("10.0.0.1");
        c.add("10.0.0.1");
        c.add("10.0.0.2");
        assert_eq!(c.count(), 2);
        for n in [60, 1000, 20_000] {
            let mut many = ClientSet::default();
            for i in 0..n {
                many.add(&format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256));
            }
            let err = (many.count() as f64 / n as f64 - 1.0).abs();
            assert!(err < 0.15, "{n}: estimated {}", many.count());
        }
        let (mut a, mut b) = (ClientSet::default(), ClientSet::default());
        for i in 0..500 {
            a.add(&format!("a{i}"));
            b.add(&format!("b{i}"));
        }
        a.merge(&b);
        assert!((a.count() as f64 / 1000.0 - 1.0).abs() < 0.15, "{}", a.count());
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
