//! Live capture end to end: the test makes two network namespaces joined by a veth pair,
//! `apisonar run -i` listens on one end, tcpreplay replays a recorded capture into the other
//! (plain, inside VXLAN, inside GRE), and every transaction must arrive with zero drops.
//! Needs root, iproute2, tcpreplay and curl (`.ci/run` installs them); set
//! APISONAR_SKIP_NETNS=1 to skip on a machine where namespaces cannot be made.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use apisonar_testkit::pcap::{read_pcap, PcapWriter, LINKTYPE_ETHERNET};
use apisonar_testkit::synthetic::{encapsulate, Tunnel};
use apisonar_tests::{analyze, apisonar_bin, repo_root};

fn skip() -> bool {
    std::env::var_os("APISONAR_SKIP_NETNS").is_some()
}

fn sh(cmd: &[&str]) {
    let out = Command::new(cmd[0]).args(&cmd[1..]).output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Two namespaces and a veth pair between them; removed on drop.
struct Lab {
    sender_ns: String,
    sensor_ns: String,
    sender_if: String,
    sensor_if: String,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let id = std::process::id() % 100_000;
        let lab = Lab {
            sender_ns: format!("aps-{id}-{tag}-tx"),
            sensor_ns: format!("aps-{id}-{tag}-rx"),
            sender_if: format!("tx{id}{tag}"),
            sensor_if: format!("rx{id}{tag}"),
        };
        for ns in [&lab.sender_ns, &lab.sensor_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            sh(&["ip", "netns", "add", ns]);
            // No IPv6 chatter (router solicitations, DAD): the sensor must see only the replay.
            for key in ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"] {
                sh(&["ip", "netns", "exec", ns, "sysctl", "-q", "-w", key]);
            }
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        sh(&[
            "ip",
            "link",
            "add",
            &lab.sender_if,
            "netns",
            &lab.sender_ns,
            "type",
            "veth",
            "peer",
            "name",
            &lab.sensor_if,
            "netns",
            &lab.sensor_ns,
        ]);
        for (ns, dev) in [(&lab.sender_ns, &lab.sender_if), (&lab.sensor_ns, &lab.sensor_if)] {
            sh(&["ip", "-n", ns, "link", "set", dev, "mtu", "9000", "up"]);
        }
        lab
    }

    fn replay(&self, pcap: &Path, pps: u32) {
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.sender_ns,
            "tcpreplay",
            "-q",
            &format!("--pps={pps}"),
            "-i",
            &self.sender_if,
            &pcap.display().to_string(),
        ]);
    }

    /// Fetches `url` inside the sensor's namespace (the dashboard's certificate is self-signed).
    fn curl(&self, url: &str, token: &str) -> String {
        self.curl_with(url, token, &[])
    }

    /// The same with more curl arguments (a method, a body).
    fn curl_with(&self, url: &str, token: &str, extra: &[&str]) -> String {
        let auth = format!("Authorization: Bearer {token}");
        let out = Command::new("ip")
            .args(["netns", "exec", &self.sensor_ns, "curl", "-sk", "--max-time", "10", "-H", &auth])
            .args(extra)
            .arg(url)
            .output()
            .unwrap_or_else(|e| panic!("cannot run curl: {e}"));
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.sender_ns, &self.sensor_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

struct Sensor {
    /// An API token for /metrics.
    token: String,
    child: Child,
    logs: Receiver<String>,
    dir: PathBuf,
    /// The "capture started" log line.
    started: serde_json::Value,
}

const METRICS: &str = "https://127.0.0.1:9464/metrics";

impl Sensor {
    fn start(lab: &Lab, dir: &Path, extra: &[&str]) -> Sensor {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let bin = apisonar_bin().display().to_string();
        let db = dir.join("db").display().to_string();
        let made = Command::new(&bin)
            .args(["token", "create", "--db", &db, "--name", "test", "--scope", "admin"])
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let token = String::from_utf8_lossy(&made.stdout).trim().to_string();
        if let Some(i) = extra.iter().position(|a| *a == "--user") {
            // The store belongs to the user the sensor switches to.
            sh(&["chown", "-R", extra[i + 1], &dir.display().to_string()]);
        }
        let txns = dir.join("transactions.jsonl").display().to_string();
        let mut args = vec![
            "netns",
            "exec",
            &lab.sensor_ns,
            &bin,
            "run",
            "-i",
            &lab.sensor_if,
            "--db",
            &db,
            "--transactions",
            &txns,
            "--listen",
            "127.0.0.1:9464",
            "--workers",
            "2",
            "--summary",
            "json",
            "--log-format",
            "json",
            "--status-interval",
            "1",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new("ip")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the sensor: {e}"));
        let (tx, logs) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut sensor = Sensor { token, child, logs, dir: dir.to_path_buf(), started: serde_json::Value::Null };
        sensor.started = sensor.wait_for_log("capture started", Duration::from_secs(20));
        sensor
    }

    fn wait_for_log(&self, needle: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.logs.recv_timeout(left) {
                Ok(line) if line.contains(needle) => {
                    return serde_json::from_str(&line).unwrap_or_else(|e| panic!("log line is not JSON: {line}: {e}"))
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the sensor never logged {needle:?}");
    }

    fn signal(&self, name: &str) {
        sh(&["kill", &format!("-{name}"), &self.child.id().to_string()]);
    }

    /// Stops with SIGTERM; returns the exit summary and the transactions it wrote.
    fn stop(self) -> (serde_json::Value, Vec<serde_json::Value>) {
        let pid = self.child.id().to_string();
        sh(&["kill", "-TERM", &pid]);
        let out = self.child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "a SIGTERM stop is a clean exit");
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("summary is not JSON: {e}: {}", String::from_utf8_lossy(&out.stdout)));
        let txns = std::fs::read_to_string(self.dir.join("transactions.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (summary, txns)
    }
}

fn metric(text: &str, name_and_labels: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse::<f64>().ok().map(|v| v as u64))
}

/// What must match between a live capture and `analyze` of the same file.
fn keys(txns: &[serde_json::Value]) -> Vec<String> {
    let mut keys: Vec<String> = txns
        .iter()
        .map(|t| {
            format!(
                "{} {} {} -> {} {}",
                t["request"]["method"],
                t["request"]["host"],
                t["request"]["uri"],
                t["response"]["status"],
                t["response"]["body_len"]
            )
        })
        .collect();
    keys.sort();
    keys
}

/// Replays `pcap` into the lab and checks the sensor against `analyze` of `reference`.
fn replay_and_compare(
    tag: &str,
    pcap: &Path,
    reference: &str,
    extra: &[&str],
) -> (serde_json::Value, serde_json::Value) {
    let lab = Lab::new(tag);
    let dir = apisonar_tests::scratch("live", tag);
    let sensor = Sensor::start(&lab, &dir, extra);
    let started = sensor.started.clone();
    let (_, frames) = read_pcap(&std::fs::read(pcap).unwrap()).unwrap();
    lab.replay(pcap, 2000);
    // Every frame must reach the sensor; the metrics endpoint says when.
    let source = format!("apisonar_capture_packets_total{{source=\"{}\"}}", lab.sensor_if);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = 0;
    while Instant::now() < deadline {
        seen = metric(&lab.curl(METRICS, &sensor.token), &source).unwrap_or(0);
        if seen >= frames.len() as u64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(seen, frames.len() as u64, "{tag}: frames captured");
    let health = lab.curl("https://127.0.0.1:9464/healthz", "none");
    let refused = lab.curl(METRICS, "aps_wrong");
    assert!(refused.contains("sign in") && !refused.contains("apisonar_capture"), "{tag}: {refused}");
    assert!(health.contains("\"ok\""), "{tag}: {health}");
    let (summary, txns) = sensor.stop();
    let capture = &summary["capture"];
    assert_eq!(capture["frames"], frames.len() as u64, "{tag}: {summary}");
    for reason in ["dropped_kernel", "dropped_interface", "dropped_queue_full", "limit_hits"] {
        assert_eq!(capture[reason], 0, "{tag}: {reason}: {summary}");
    }
    let (expected, _, code) = analyze(&[reference]);
    assert_eq!(code, 0);
    assert!(!expected.is_empty());
    assert_eq!(keys(&txns), keys(&expected), "{tag}: the live sensor sees every transaction analyze sees");
    assert!(summary["endpoints"].as_u64().unwrap_or(0) > 0, "{tag}: the inventory was stored: {summary}");
    let _ = std::fs::remove_dir_all(&dir);
    (summary, started)
}

const RECORDED: &str = "captures/apis/django-newsroom.pcap";

/// The recorded capture wrapped frame by frame in a mirror tunnel, written to a temporary file.
fn tunnelled(kind: Tunnel, name: &str) -> PathBuf {
    let (link, frames) = read_pcap(&std::fs::read(repo_root().join(RECORDED)).unwrap()).unwrap();
    assert_eq!(link, LINKTYPE_ETHERNET);
    let path = apisonar_tests::scratch("live", &format!("{name}.pcap"));
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap(), LINKTYPE_ETHERNET, 65535).unwrap();
    for (i, (ts, frame)) in frames.iter().enumerate() {
        w.write(*ts, &encapsulate(kind, frame, i as u32)).unwrap();
    }
    path
}

#[test]
fn a_replayed_recording_arrives_whole_and_the_sensor_runs_unprivileged() {
    if skip() {
        return;
    }
    let (summary, started) = replay_and_compare("p", &repo_root().join(RECORDED), RECORDED, &["--user", "nobody"]);
    assert_eq!(summary["transactions"], 491);
    let nobody = Command::new("id").args(["-u", "nobody"]).output().unwrap();
    let nobody: u64 = String::from_utf8_lossy(&nobody.stdout).trim().parse().unwrap();
    assert_eq!(started["uid"], nobody, "capture runs as nobody once the interface is open: {started}");
}

/// The recorded capture replayed inside a mirror tunnel gives what the plain file gives.
fn tunnel_replay(kind: Tunnel, name: &str, tag: &str) {
    if skip() {
        return;
    }
    let pcap = tunnelled(kind, name);
    replay_and_compare(tag, &pcap, RECORDED, &[]);
    let _ = std::fs::remove_file(pcap);
}

#[test]
fn vxlan_mirror_traffic_is_analysed_as_if_captured_directly() {
    tunnel_replay(Tunnel::Vxlan, "vxlan", "v");
}

#[test]
fn gre_mirror_traffic_is_analysed_as_if_captured_directly() {
    tunnel_replay(Tunnel::GreEthernet, "gre", "g");
}

#[test]
fn sighup_reloads_specs_and_a_bad_one_is_refused() {
    if skip() {
        return;
    }
    let lab = Lab::new("h");
    let dir = apisonar_tests::scratch("live", "h");
    std::fs::create_dir_all(&dir).unwrap();
    let spec_file = dir.join("newsroom.json");
    let original = std::fs::read(repo_root().join("captures/apis/django-newsroom.openapi.json")).unwrap();
    std::fs::write(&spec_file, &original).unwrap();
    let spec_arg = spec_file.display().to_string();
    let sensor = Sensor::start(&lab, &dir.join("sensor"), &["--spec", &spec_arg]);
    lab.replay(&repo_root().join(RECORDED), 4000);
    // A broken spec: refused, the sensor goes on with the old one.
    std::fs::write(&spec_file, b"{\"openapi\": \"3.0.0\", \"paths\": [").unwrap();
    sensor.signal("HUP");
    let refused = sensor.wait_for_log("reload refused", Duration::from_secs(10));
    assert!(refused["error"].as_str().unwrap_or("").contains("newsroom.json"), "{refused}");
    // The spec loses GET /api/v1/stats/: after the reload that endpoint is shadow.
    let mut spec: serde_json::Value = serde_json::from_slice(&original).unwrap();
    spec["paths"]["/api/v1/stats/"].as_object_mut().unwrap().remove("get");
    std::fs::write(&spec_file, serde_json::to_vec(&spec).unwrap()).unwrap();
    sensor.signal("HUP");
    sensor.wait_for_log("configuration reloaded", Duration::from_secs(10));
    let metrics = lab.curl(METRICS, &sensor.token);
    assert_eq!(metric(&metrics, "apisonar_config_reloads_total"), Some(1), "{metrics}");
    assert_eq!(metric(&metrics, "apisonar_config_reload_failures_total"), Some(1), "{metrics}");
    let db = dir.join("sensor").join("db").display().to_string();
    let (_, _) = sensor.stop();
    let out = apisonar_tests::apisonar(&["inventory", "--db", &db, "--format", "json"]);
    let endpoints: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let state = |method: &str, path: &str| -> String {
        endpoints
            .iter()
            .find(|e| e["method"] == method && apisonar_tests::normalize_template(e["path"].as_str().unwrap()) == path)
            .map(|e| e["state"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("no {method} {path}"))
    };
    assert_eq!(state("GET", "/api/v1/stats"), "shadow");
    assert_eq!(state("GET", "/api/v1/tags"), "documented");
    let alerts = apisonar_tests::apisonar(&["alerts", "--db", &db, "--format", "json", "--kind", "shadow_api"]);
    let alerts = String::from_utf8_lossy(&alerts.stdout);
    assert!(alerts.contains("/api/v1/stats"), "{alerts}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dashboard_changes_and_tls_records_reach_the_running_sensor_at_once() {
    if skip() {
        return;
    }
    let lab = Lab::new("d");
    let dir = apisonar_tests::scratch("live", "d");
    let sensor = Sensor::start(&lab, &dir, &[]);
    // TLS handshakes: their server names are listed while the sensor runs, not only at exit.
    lab.replay(&repo_root().join("captures/tls/tls-versions.pcap"), 2000);
    let endpoints = "https://127.0.0.1:9464/api/v1/endpoints?per_page=500";
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut tls_rows = 0;
    while Instant::now() < deadline && tls_rows == 0 {
        let page: serde_json::Value = serde_json::from_str(&lab.curl(endpoints, &sensor.token)).unwrap_or_default();
        tls_rows = page["items"].as_array().map_or(0, |items| items.iter().filter(|i| i["method"] == "TLS").count());
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(tls_rows > 0, "no TLS rows while running");
    // A spec uploaded in the dashboard: templating follows it for the traffic after it, without
    // SIGHUP (automatically the articles would be `/api/v1/articles/{article}`).
    let spec = repo_root().join("captures/apis/django-newsroom.openapi.json").display().to_string();
    let uploaded = lab.curl_with(
        "https://127.0.0.1:9464/api/v1/specs?name=newsroom.json",
        &sensor.token,
        &["-X", "POST", "--data-binary", &format!("@{spec}")],
    );
    assert!(uploaded.contains("\"operations\""), "{uploaded}");
    lab.replay(&repo_root().join(RECORDED), 4000);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut paths = Vec::new();
    while Instant::now() < deadline && !paths.iter().any(|p: &String| p == "/api/v1/articles/{slug}") {
        let page: serde_json::Value = serde_json::from_str(&lab.curl(endpoints, &sensor.token)).unwrap_or_default();
        paths = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["path"].as_str().map(String::from))
            .collect();
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(paths.iter().any(|p| p == "/api/v1/articles/{slug}"), "{paths:?}");
    assert!(!paths.iter().any(|p| p.starts_with("/api/v1/articles/{article}")), "{paths:?}");
    let (summary, _) = sensor.stop();
    assert_eq!(summary["capture"]["dropped_queue_full"], 0, "{summary}");
    let _ = std::fs::remove_dir_all(&dir);
}
