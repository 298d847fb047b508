//! Bounded memories of work done per distinct input on a flow worker (parsed GraphQL documents,
//! Authorization values, credentials): keyed by a 64-bit hash, forgotten all at once when full,
//! so an attacker sending a new value every time costs a lookup, never unbounded memory.

use std::collections::HashMap;
use std::hash::BuildHasher;

/// The value remembered under `key`, or `make()`'s, remembered (after forgetting everything
/// when `map` already holds `limit` values).
pub(crate) fn remembered<V: Clone, S: BuildHasher>(
    map: &mut HashMap<u64, V, S>,
    key: u64,
    limit: usize,
    make: impl FnOnce() -> V,
) -> V {
    if let Some(known) = map.get(&key) {
        return known.clone();
    }
    let made = make();
    if map.len() >= limit {
        map.clear();
    }
    map.insert(key, made.clone());
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_made_once_and_the_memory_starts_afresh_when_full() {
        let mut map: HashMap<u64, u64> = HashMap::new();
        let mut made = 0;
        for round in 0..2 {
            for key in 0..4u64 {
                let v = remembered(&mut map, key, 4, || {
                    made += 1;
                    key * 10
                });
                assert_eq!(v, key * 10, "round {round}");
            }
        }
        assert_eq!(made, 4, "the second round is remembered");
        remembered(&mut map, 99, 4, || 990);
        assert_eq!(map.len(), 1, "full: forgotten, then the new value kept");
    }
}
