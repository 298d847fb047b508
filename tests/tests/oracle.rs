//! An independent oracle: for the recorded captures, tshark's view of each HTTP transaction
//! (method, URI, final status) is kept in captures/expect/<capture>.tsv, made by
//! captures/tshark-expect.sh and reviewed; apisonar must agree with every row, in request order.
//! Rows the script corrected where tshark is wrong are documented in the file's `# tshark:` lines.

use apisonar_tests::{analyze, repo_root};

fn expected_rows(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t').map(str::to_string);
            let method = cols.next().unwrap_or_default();
            let uri = cols.next().unwrap_or_default();
            let status = cols.next().unwrap_or_default();
            (method, uri, status)
        })
        .collect()
}

#[test]
fn recorded_captures_agree_with_tshark() {
    let dir = repo_root().join("captures/expect");
    let mut files: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(files.len() >= 10, "expected tshark expectation files in {}", dir.display());
    let mut failures = Vec::new();
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().trim_end_matches(".tsv").to_string();
        let capture = format!("captures/{name}");
        let expected = expected_rows(&std::fs::read_to_string(&file).unwrap_or_default());
        let (mut txns, _, code) = analyze(&[&capture]);
        assert_eq!(code, 0, "{capture}");
        // tshark lists requests in frame order: order ours by request time, then connection order.
        txns.sort_by_key(|t| {
            (t["ts"].as_str().unwrap_or_default().to_string(), t["connection"].as_u64(), t["index"].as_u64())
        });
        let ours: Vec<(String, String, String)> = txns
            .iter()
            .map(|t| {
                let status = t["response"]["status"].as_u64().map_or("-".to_string(), |s| s.to_string());
                (
                    t["request"]["method"].as_str().unwrap_or_default().to_string(),
                    t["request"]["uri"].as_str().unwrap_or_default().to_string(),
                    status,
                )
            })
            .collect();
        if ours != expected {
            failures.push(format!("{capture}:\n  tshark: {expected:?}\n  ours:   {ours:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
