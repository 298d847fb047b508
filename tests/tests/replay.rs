//! Replays every capture in captures/ through the binary and compares with reviewed snapshots.

use apisonar_tests::{analyze, captures};

fn stable_summary(mut summary: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = summary.as_object_mut() {
        for volatile in ["elapsed_secs", "packets_per_sec", "gbit_per_sec"] {
            obj.remove(volatile);
        }
    }
    summary
}

/// The API and security captures are large; their ground truth is checked in discovery.rs,
/// posture.rs and security.rs.
fn snapshot_captures() -> Vec<std::path::PathBuf> {
    captures().into_iter().filter(|c| !c.starts_with("captures/apis") && !c.starts_with("captures/security")).collect()
}

#[test]
fn every_capture_matches_its_snapshot() {
    let all = snapshot_captures();
    assert!(all.len() >= 10, "expected the recorded and synthetic captures, found {all:?}");
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots");
    settings.bind(|| {
        for capture in &all {
            let path = capture.to_string_lossy().to_string();
            let (txns, summary, code) = analyze(&[&path]);
            assert_eq!(code, 0, "{path}: exit code");
            let mut rendered = String::new();
            for t in &txns {
                rendered.push_str(&serde_json::to_string(t).unwrap_or_default());
                rendered.push('\n');
            }
            rendered.push_str(&serde_json::to_string_pretty(&stable_summary(summary)).unwrap_or_default());
            let name = path.trim_start_matches("captures/").replace(['/', '.'], "_");
            insta::assert_snapshot!(name, rendered);
        }
    });
}

#[test]
fn replay_is_deterministic() {
    for capture in captures() {
        let path = capture.to_string_lossy().to_string();
        let first = analyze(&[&path]);
        let second = analyze(&[&path]);
        assert_eq!(first.0, second.0, "{path}: transactions differ between runs");
        assert_eq!(stable_summary(first.1), stable_summary(second.1), "{path}: summaries differ");
    }
}
