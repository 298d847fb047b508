//! apisonar-tests: end-to-end tests of the `apisonar` binary and repository rules.
//!
//! The tests run the real binary (built by `cargo test --workspace` / `cargo nextest run
//! --workspace`) on the captures in `captures/`. This library holds their shared helpers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The `apisonar` binary of the same build as the running test.
pub fn apisonar_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("APISONAR_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test-binary> -> target/<profile>/apisonar
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let bin = profile_dir.join("apisonar");
    assert!(bin.exists(), "{} not built: run `cargo build` (or `cargo test --workspace`) first", bin.display());
    bin
}

/// A path in the temporary directory for one test's files, `apisonar-{area}-{pid}-{name}`, with
/// whatever an earlier run left there removed.
pub fn scratch(area: &str, name: &str) -> PathBuf {
    sweep_leftovers();
    let p = std::env::temp_dir().join(format!("apisonar-{area}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    p
}

/// Every capture file under `captures/`, sorted, as paths relative to the repository root.
pub fn captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![repo_root().join("captures")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
                out.push(p.strip_prefix(repo_root()).map(Path::to_path_buf).unwrap_or(p));
            }
        }
    }
    out.sort();
    out
}

/// `/a/{x}/b/` -> `/a/{}/b`, to compare templates: parameter names and trailing slashes do not count.
pub fn normalize_template(path: &str) -> String {
    let segs: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| if s.starts_with('{') && s.ends_with('}') { "{}" } else { s })
        .collect();
    format!("/{}", segs.join("/"))
}

/// Runs `apisonar` with `args` in the repository root.
pub fn apisonar(args: &[&str]) -> Output {
    Command::new(apisonar_bin())
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run apisonar: {e}"))
}

/// Analyzes captures and returns (transactions as JSON values, summary JSON, exit code).
pub fn analyze(captures: &[&str]) -> (Vec<serde_json::Value>, serde_json::Value, i32) {
    let mut args = vec!["analyze", "--summary", "json", "--transactions", "-"];
    args.extend_from_slice(captures);
    let out = apisonar(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let txns = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    let summary = serde_json::from_slice(&out.stderr_json_part()).unwrap_or(serde_json::Value::Null);
    (txns, summary, out.status.code().unwrap_or(-1))
}

trait StderrJson {
    fn stderr_json_part(&self) -> Vec<u8>;
}

impl StderrJson for Output {
    /// The summary is the JSON object at the end of standard error, after any error lines.
    fn stderr_json_part(&self) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self.stderr);
        match text.find("\n{").map(|i| i + 1).or_else(|| text.starts_with('{').then_some(0)) {
            Some(i) => text[i..].as_bytes().to_vec(),
            None => Vec::new(),
        }
    }
}

/// Removes, once per test process, what earlier test processes left in the temporary directory
/// (`apisonar-{area}-{pid}-{name}` of a pid no longer running): the hostile tests' captures are
/// large, and every run names its files after its own pid.
fn sweep_leftovers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| sweep_leftovers_in(&std::env::temp_dir()));
}

fn sweep_leftovers_in(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("apisonar-") else { continue };
        let parts: Vec<&str> = rest.split('-').collect();
        // The pid is the first all-digit part after the area, and a name follows it.
        let pid = (1..parts.len().saturating_sub(1))
            .filter_map(|i| parts.get(i))
            .find(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if let Some(pid) = pid {
            if !Path::new("/proc").join(pid).exists() {
                let path = entry.path();
                let _ = std::fs::remove_dir_all(&path);
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// A dashboard the real binary serves (`apisonar serve`), stopped when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Drop for Server {
    /// SIGTERM, the way an operator stops it (the store is flushed).
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Serves the store `db` over HTTPS on a free loopback port, once it says it listens.
pub fn serve(db: &str) -> Server {
    let port = free_port();
    let mut child = Command::new(apisonar_bin())
        .args(["serve", "--db", db, "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("dashboard: https://") => {
                assert!(line.contains("certificate SHA-256"), "{line}");
                return Server { child, url: format!("https://127.0.0.1:{port}") };
            }
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the dashboard did not start");
}

/// `curl -sk` with `args`: the status and the body.
pub fn curl(args: &[&str]) -> (u16, String) {
    let out =
        Command::new("curl").args(["-sk", "--max-time", "10", "-w", "\n%{http_code}"]).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.parse().unwrap_or(0), body.to_string())
}

/// A store from the FastAPI capture, classified against its spec minus one operation (so
/// `GET /api/v1/admin/metrics` is a shadow endpoint with a `shadow_api` alert).
pub fn shop_store_with_a_shadow(area: &str, tag: &str) -> String {
    let db = scratch(area, &format!("{tag}-db"));
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo_root().join("captures/apis/fastapi-shop.openapi.json")).unwrap())
            .unwrap();
    spec["paths"].as_object_mut().unwrap().remove("/api/v1/admin/metrics");
    let spec_file = scratch(area, &format!("{tag}-spec.json"));
    std::fs::write(&spec_file, serde_json::to_vec(&spec).unwrap()).unwrap();
    analyzed_into(&db, &["--spec", &spec_file.display().to_string(), "captures/apis/fastapi-shop.pcap"])
}

/// `apisonar analyze --db DB ARGS...`, which must succeed; the store's path.
pub fn analyzed_into(db: &std::path::Path, args: &[&str]) -> String {
    let db = db.display().to_string();
    let mut all = vec!["analyze", "--db", &db];
    all.extend_from_slice(args);
    let run = apisonar(&all);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    db
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_of_ended_processes_are_swept_and_live_ones_kept() {
        let dir = std::env::temp_dir().join(format!("apisonar-sweep-{}-dir", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let live = format!("apisonar-hostile-{}-huge.pcap", std::process::id());
        // No process has a pid this large (the kernel's limit is 4,194,304).
        let names = [
            ("apisonar-hostile-999999999-huge.pcap", false),
            ("apisonar-api-styles-999999998-db", false),
            (live.as_str(), true),
            ("apisonar-compare-12345678", true),
            ("other-999999999-x", true),
        ];
        for (name, _) in &names {
            std::fs::write(dir.join(name), b"x").unwrap_or_else(|e| panic!("{e}"));
        }
        sweep_leftovers_in(&dir);
        for (name, kept) in &names {
            assert_eq!(dir.join(name).exists(), *kept, "{name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
