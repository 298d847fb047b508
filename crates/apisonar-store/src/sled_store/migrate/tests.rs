//! Migration of the committed version-1 store (tests/fixtures/v1-store, see its README), always
//! on a copy: what it holds afterwards, reopening, interrupted runs and damaged stores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use apisonar_engine::tlsposture::TlsHost;
use apisonar_engine::{AlertState, Endpoint, Overflow, Spec};
use serde::de::DeserializeOwned;

use super::{upgrade_tree, RECORD_TREES};
use crate::records::{RECORD_FORMAT_V1, RECORD_FORMAT_V2};
use crate::sled_store::{schema_version, SledOptions, SledStore};
use crate::{Store, StoreError, TemplateOverride};

type Trees = BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-store")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

/// A fresh copy of the fixture to work on.
fn copy_of_fixture(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apisonar-store-{}-v1-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&fixture(), &dir);
    dir
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    out
}

/// Every key and value of every tree (sled's own default tree aside).
fn trees(db: &sled::Db) -> Trees {
    let mut out = Trees::new();
    for name in db.tree_names() {
        let name = String::from_utf8_lossy(&name).into_owned();
        if name == "__sled__default" {
            continue;
        }
        let tree = db.open_tree(&name).unwrap_or_else(|e| panic!("{e}"));
        let items = tree.iter().map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect::<Result<_, _>>();
        out.insert(name, items.unwrap_or_else(|e| panic!("{e}")));
    }
    out
}

fn version(db: &sled::Db) -> Option<u32> {
    schema_version(&db.open_tree("meta").unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"))
}

/// What version 1 itself read from a tree: format byte 1, then the engine's types' JSON.
fn direct_v1<T: DeserializeOwned>(trees: &Trees, tree: &str) -> Vec<T> {
    let values = trees.get(tree).map(Vec::as_slice).unwrap_or_default();
    values
        .iter()
        .map(|(_, v)| match v.split_first() {
            Some((&RECORD_FORMAT_V1, json)) => serde_json::from_slice(json).unwrap_or_else(|e| panic!("{tree}: {e}")),
            _ => panic!("{tree}: not format 1"),
        })
        .collect()
}

/// Opens the store (a `sled::Db` the test dropped just before may hold its file lock a moment
/// longer: `SledStore::open` waits for it).
fn open(dir: &Path) -> SledStore {
    SledStore::open(dir, &SledOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_version_1_store_is_migrated_in_place() {
    let fixture_before = files(&fixture());
    let dir = copy_of_fixture("migrate");
    let v1 = {
        let db = sled::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(version(&db), Some(1));
        trees(&db)
    };
    let store = open(&dir);
    assert_eq!(version(&store.db), Some(2));

    let endpoints = store.endpoints().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(endpoints.len(), 25);
    assert_eq!(endpoints, direct_v1::<Endpoint>(&v1, "endpoints"), "nothing lost in conversion");
    assert!(endpoints.iter().any(|e| !e.response_schemas.is_empty() && !e.auth.is_empty() && !e.sensitive.is_empty()));

    let alerts = store.alerts().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(alerts.len(), 86);
    assert_eq!(alerts, direct_v1::<apisonar_engine::Alert>(&v1, "alerts"));
    assert_eq!((alerts[0].id, alerts[0].state), (1, AlertState::Acknowledged), "`alerts --ack 1`");
    assert_eq!(alerts.iter().filter(|a| a.state == AlertState::Acknowledged).count(), 1);
    for a in &alerts {
        assert_eq!(store.alert_by_key(&a.dedup_key()).unwrap_or_else(|e| panic!("{e}")).as_ref(), Some(a));
    }

    let specs = store.specs().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["flask-taskboard.openapi.json"]);
    assert!(!specs[0].operations.is_empty());
    assert_eq!(specs, direct_v1::<Spec>(&v1, "specs"));

    let pinned = TemplateOverride { host: Some("api.example.test".into()), template: "/api/users/me".into() };
    assert_eq!(store.overrides().unwrap_or_else(|e| panic!("{e}")), [pinned]);
    assert_eq!(store.overrides().unwrap_or_default(), direct_v1::<TemplateOverride>(&v1, "overrides"));

    let tokens = store.setting("auth.tokens").unwrap_or_else(|e| panic!("{e}")).unwrap_or_default();
    assert!(String::from_utf8_lossy(&tokens).contains(r#""name":"fixture""#), "`token create --name fixture`");
    assert_eq!(trees(&store.db).get("settings"), v1.get("settings"), "settings are kept as they were");

    let tls = store.tls_hosts().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tls.len(), 8);
    assert_eq!(tls, direct_v1::<TlsHost>(&v1, "tls_hosts"));
    assert_eq!(store.overflow().unwrap_or_else(|e| panic!("{e}")), direct_v1::<Overflow>(&v1, "overflow"));

    let migrated = trees(&store.db);
    for t in &RECORD_TREES {
        for (_, value) in migrated.get(t.name).map(Vec::as_slice).unwrap_or_default() {
            assert_eq!(value.first(), Some(&RECORD_FORMAT_V2), "{}", t.name);
        }
    }
    assert_eq!(migrated.get("alert_keys"), v1.get("alert_keys"), "the fixture's index was already right");
    drop(store);

    let store = open(&dir);
    assert_eq!(trees(&store.db), migrated, "reopening a migrated store changes nothing");
    drop(store);
    assert_eq!(files(&fixture()), fixture_before, "the committed fixture is untouched");
}

/// A run stopped after some trees (and some records of the next) leaves version 1 with records
/// in both formats; the next open finishes it, to exactly what an uninterrupted run writes.
#[test]
fn an_interrupted_migration_runs_again_to_the_same_result() {
    let reference = trees(&open(&copy_of_fixture("whole")).db);
    for done in 0..=RECORD_TREES.len() {
        let dir = copy_of_fixture(&format!("interrupted{done}"));
        {
            let db = sled::open(&dir).unwrap_or_else(|e| panic!("{e}"));
            let names = db.tree_names();
            let existing = RECORD_TREES.iter().filter(|t| names.iter().any(|n| n.as_ref() == t.name.as_bytes()));
            for (i, t) in existing.enumerate() {
                let tree = db.open_tree(t.name).unwrap_or_else(|e| panic!("{e}"));
                if i < done {
                    upgrade_tree(t, &tree).unwrap_or_else(|e| panic!("{e}"));
                } else if i == done {
                    // Every other record of this tree written in format 2.
                    let half: Vec<_> =
                        tree.iter().step_by(2).collect::<Result<_, _>>().unwrap_or_else(|e| panic!("{e}"));
                    for (key, value) in half {
                        let upgraded = (t.upgrade)(&value, t.name).unwrap_or_else(|e| panic!("{e}"));
                        tree.insert(key, upgraded.unwrap_or_else(|| panic!("{}: already format 2", t.name)))
                            .unwrap_or_else(|e| panic!("{e}"));
                    }
                }
            }
            // An index entry of version 1 that names no alert: rebuilt away.
            db.open_tree("alert_keys")
                .and_then(|t| t.insert("gone\0key", &99u64.to_be_bytes()[..]))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(version(&db), Some(1));
            db.flush().unwrap_or_else(|e| panic!("{e}"));
        }
        let store = open(&dir);
        assert_eq!(trees(&store.db), reference, "stopped after {done} trees");
    }
}

#[test]
fn a_damaged_version_1_store_is_refused_and_left_untouched() {
    let dir = copy_of_fixture("damaged");
    let before = {
        let db = sled::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        // The last tree read, so every other one would have been converted by then.
        db.open_tree("tls_hosts").and_then(|t| t.insert("zzz", b"\x01{not json")).unwrap_or_else(|e| panic!("{e}"));
        db.flush().unwrap_or_else(|e| panic!("{e}"));
        trees(&db)
    };
    match SledStore::open(&dir, &SledOptions::default()) {
        Err(StoreError::Damaged(reason)) => assert!(reason.contains("tls_hosts"), "{reason}"),
        other => panic!("expected Damaged, got {:?}", other.err()),
    }
    let db = sled::open(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(trees(&db), before, "nothing converted, nothing made, still version 1");
}

/// Later version-1 releases also kept overflow counts (the fixture's release did not).
#[test]
fn version_1_overflow_counts_are_migrated() {
    use apisonar_engine::OverflowReason;
    let dir = copy_of_fixture("overflow");
    let mut counted = Overflow { host: "*".into(), ..Overflow::default() };
    counted.count(OverflowReason::Hosts, 7, 10);
    counted.count(OverflowReason::Alerts, 2, 30);
    {
        let db = sled::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mut value = vec![RECORD_FORMAT_V1];
        value.extend(serde_json::to_vec(&counted).unwrap_or_default());
        db.open_tree("overflow").and_then(|t| t.insert("*", value)).unwrap_or_else(|e| panic!("{e}"));
        db.flush().unwrap_or_else(|e| panic!("{e}"));
    }
    let store = open(&dir);
    assert_eq!(store.overflow().unwrap_or_else(|e| panic!("{e}")), [counted]);
}
