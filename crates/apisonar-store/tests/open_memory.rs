//! What opening a store costs in memory, in a process of its own (this file holds one test, so
//! no other test's allocations share the measurement).

use apisonar_store::{SledOptions, SledStore, Store};

fn resident_kib() -> u64 {
    apisonar_testkit::resident_kib().unwrap_or_else(|| panic!("no VmRSS in /proc/self/status"))
}

/// sled builds process-wide metrics on first open, even with metrics off: 46 histograms of
/// 64 Ki counters. Filled one counter at a time (sled's default), they made 23.5 MB resident
/// before the first packet; as zeroed allocations (see the workspace's Cargo.toml) they take
/// pages only if written, which they never are.
#[test]
fn opening_a_store_does_not_make_megabytes_resident() {
    let dir = std::env::temp_dir().join(format!("apisonar-store-{}-open-memory", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let before = resident_kib();
    let store = SledStore::open(&dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(store.endpoints().unwrap_or_else(|e| panic!("{e}")).is_empty());
    let grown = resident_kib().saturating_sub(before);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("opening a store made {grown} KiB resident");
    assert!(grown < 8 * 1024, "opening a store made {grown} KiB resident (sled's metrics filled in?)");
}
