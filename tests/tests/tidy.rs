//! Repository rules: module headers, dependency direction, capture documentation.

use std::path::{Path, PathBuf};

use apisonar_tests::{captures, repo_root};

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.is_dir() {
            if !matches!(name, "target" | "snapshots" | "corpus" | "artifacts") {
                files_with_ext(&p, ext, out);
            }
        } else if p.extension().and_then(|e| e.to_str()) == Some(ext) {
            out.push(p);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_comment() {
    let mut files = Vec::new();
    for dir in ["crates", "tests", "fuzz"] {
        files_with_ext(&repo_root().join(dir), "rs", &mut files);
    }
    assert!(files.len() > 10);
    let missing: Vec<_> =
        files.iter().filter(|f| !std::fs::read_to_string(f).unwrap_or_default().starts_with("//!")).collect();
    assert!(missing.is_empty(), "files without a leading //! comment: {missing:?}");
}

/// Which apisonar crates each crate may depend on (DESIGN.md: arrows point at dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("apisonar-wire", &[]),
    ("apisonar-flow", &["apisonar-wire"]),
    ("apisonar-testkit", &[]),
    ("apisonar-engine", &[]),
    ("apisonar-store", &["apisonar-engine"]),
    // The application core: the one writer of the store; it knows no packets and no HTTP.
    ("apisonar-app", &["apisonar-engine", "apisonar-store"]),
    ("apisonar-web", &["apisonar-engine", "apisonar-store", "apisonar-app"]),
    (
        "apisonar",
        &["apisonar-wire", "apisonar-flow", "apisonar-engine", "apisonar-store", "apisonar-app", "apisonar-web"],
    ),
];

fn normal_dependencies(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps {
            if let Some(name) = line.split(['=', '.', ' ']).next() {
                if name.starts_with("apisonar") {
                    deps.push(name.to_string());
                }
            }
        }
    }
    deps
}

#[test]
fn dependencies_point_the_way_the_design_says() {
    let crates_dir = repo_root().join("crates");
    let mut seen = 0;
    for entry in std::fs::read_dir(&crates_dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).unwrap_or_default();
        let allowed = ALLOWED
            .iter()
            .find(|(c, _)| *c == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("crate {name} has no entry in the dependency rules of tests/tidy.rs"));
        for dep in normal_dependencies(&manifest) {
            assert!(allowed.contains(&dep.as_str()), "{name} must not depend on {dep}");
        }
        seen += 1;
    }
    assert_eq!(seen, ALLOWED.len());
}

#[test]
fn wire_flow_and_engine_know_no_io_or_clock() {
    for krate in ["apisonar-wire", "apisonar-flow", "apisonar-engine"] {
        let mut files = Vec::new();
        files_with_ext(&repo_root().join("crates").join(krate).join("src"), "rs", &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let code: String =
                text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            let text = code;
            for banned in ["SystemTime", "Instant::now", "std::fs", "pcap::", "tokio", "sled", "println!"] {
                assert!(!text.contains(banned), "{} uses {banned}", f.display());
            }
        }
    }
}

#[test]
fn every_capture_has_a_readme_row() {
    let readme = std::fs::read_to_string(repo_root().join("captures/README.md")).unwrap_or_default();
    for capture in captures() {
        let name = capture.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        assert!(
            readme.contains(&format!("`{name}`")) || readme.contains(&name),
            "captures/README.md has no row for {name}"
        );
    }
}
