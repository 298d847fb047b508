//! An independent oracle: for the recorded captures, tshark's view of each HTTP transaction
//! (method, URI, final status) is kept in captures/expect/<capture>.tsv, made by
//! captures/tshark-expect.sh and reviewed; apisonar must agree with every row, in request order.
//! Rows the script corrected where tshark is wrong are documented in the file's `# tshark:` lines.
//! HTTP/2 streams have their own files, captures/expect/<capture>.h2.tsv, made by
//! captures/tshark-expect-h2.sh: connection, stream id, method, path, authority, final status.

use apisonar_tests::{analyze, repo_root};

/// The files of captures/expect whose names end in one of `suffixes`, sorted.
fn expectation_files(suffixes: &[&str]) -> Vec<std::path::PathBuf> {
    let dir = repo_root().join("captures/expect");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_str().is_some_and(|n| suffixes.iter().any(|s| n.ends_with(s))))
        .collect();
    files.sort();
    files
}

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
    let files = expectation_files(&[".pcap.tsv", ".pcapng.tsv"]);
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
        // tshark's HTTP/1 view: HTTP/2 streams are checked against their own file below.
        let ours: Vec<(String, String, String)> = txns
            .iter()
            .filter(|t| t["stream"].is_null())
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

/// Connections numbered by first appearance (tshark's tcp.stream, our connection id), so the
/// two numberings can be compared.
fn ranks(ids: impl Iterator<Item = u64>) -> std::collections::BTreeMap<u64, usize> {
    let mut seen: Vec<u64> = Vec::new();
    for id in ids {
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen.sort_unstable();
    seen.into_iter().enumerate().map(|(rank, id)| (id, rank)).collect()
}

#[test]
fn recorded_http2_streams_agree_with_tshark() {
    let dir = repo_root().join("captures/expect");
    let files = expectation_files(&[".h2.tsv"]);
    assert!(!files.is_empty(), "expected HTTP/2 expectation files in {}", dir.display());
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().trim_end_matches(".h2.tsv");
        let capture = format!("captures/{name}");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let rows: Vec<Vec<String>> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        let theirs = ranks(rows.iter().map(|r| r[0].parse().unwrap_or(u64::MAX)));
        let mut expected: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r[0] = theirs[&r[0].parse().unwrap_or(u64::MAX)].to_string();
                r
            })
            .collect();
        expected.sort();
        let (txns, _, code) = analyze(&[&capture]);
        assert_eq!(code, 0, "{capture}");
        let h2: Vec<_> = txns.iter().filter(|t| !t["stream"].is_null()).collect();
        let mine = ranks(h2.iter().map(|t| t["connection"].as_u64().unwrap_or(u64::MAX)));
        let mut ours: Vec<Vec<String>> = h2
            .iter()
            .map(|t| {
                let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
                vec![
                    mine[&t["connection"].as_u64().unwrap_or(u64::MAX)].to_string(),
                    t["stream"].as_u64().map_or("-".into(), |s| s.to_string()),
                    text(&t["request"]["method"]),
                    text(&t["request"]["uri"]),
                    text(&t["request"]["host"]),
                    t["response"]["status"].as_u64().map_or("-".to_string(), |s| s.to_string()),
                ]
            })
            .collect();
        ours.sort();
        assert_eq!(ours, expected, "{capture}");
        assert!(h2.iter().all(|t| t["protocol"] == "h2"), "{capture}");
    }
}
