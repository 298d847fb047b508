//! deploy/: the systemd unit passes `systemd-analyze verify`, and the command lines of the unit,
//! the Dockerfile and the Kubernetes DaemonSet, with the configuration they ship, pass
//! `apisonar run --check` (settings, specs and interfaces are valid).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use apisonar_tests::{apisonar_bin, repo_root};

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = apisonar_tests::scratch("deploy", tag);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `apisonar ARGS --check` with the config path swapped for `config` and `env` set; the
/// interface is the loopback device so the check can open it on any machine.
fn check(args: &[String], config: &Path, env: &[(String, String)]) -> serde_json::Value {
    let mut args: Vec<String> = args.to_vec();
    if let Some(i) = args.iter().position(|a| a == "--config") {
        args[i + 1] = config.display().to_string();
    }
    args.push("--check".into());
    let out = Command::new(apisonar_bin())
        .args(&args)
        .envs(env.iter().cloned())
        .env("APISONAR_CAPTURE_INTERFACES", "lo")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_systemd_unit_verifies_and_its_command_line_checks_out() {
    let unit = read("deploy/apisonar.service");
    let bin = apisonar_bin().display().to_string();
    let dir = temp_dir("systemd");
    let path = dir.join("apisonar.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/apisonar", &bin)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", &path.display().to_string()])
        .output()
        .expect("systemd-analyze is needed (scripts/setup-debian.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let about_unit: Vec<&str> = stderr.lines().filter(|l| l.contains("apisonar.service")).collect();
    assert!(out.status.success() && about_unit.is_empty(), "systemd-analyze verify: {stderr}");
    // The sandbox: capabilities limited to capture, no privilege gain, read-only system.
    for line in [
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
        "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "User=apisonar",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let args: Vec<String> = exec.split_whitespace().skip(1).map(String::from).collect();
    let env: Vec<(String, String)> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let checked = check(&args, &repo_root().join("deploy/apisonar.toml"), &env);
    assert_eq!(checked["settings"]["db"], "/var/lib/apisonar");
    assert_eq!(checked["settings"]["log_format"], "json");
    assert_eq!(checked["settings"]["interfaces"], serde_json::json!(["lo"]));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_daemonset_runs_on_the_host_network_unprivileged_with_a_valid_config() {
    let text = read("deploy/kubernetes/apisonar.yaml");
    let docs = apisonar_engine::spec::yaml_documents(&text).unwrap_or_else(|e| panic!("{e}"));
    let kind = |k: &str| docs.iter().find(|d| d["kind"] == k).unwrap_or_else(|| panic!("no {k}")).clone();
    let ds = kind("DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert!(security["runAsUser"].as_u64().unwrap_or(0) > 0);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    let added: Vec<&str> =
        security["capabilities"]["add"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(added, ["NET_RAW", "NET_ADMIN"]);
    let config = kind("ConfigMap")["data"]["apisonar.toml"].as_str().unwrap().to_string();
    let dir = temp_dir("k8s");
    let config_path = dir.join("apisonar.toml");
    std::fs::write(&config_path, config).unwrap();
    let args: Vec<String> =
        container["args"].as_array().unwrap().iter().filter_map(|v| v.as_str().map(String::from)).collect();
    let checked = check(&args, &config_path, &[]);
    let listen = checked["settings"]["listen"].as_str().unwrap().to_string();
    let port = container["readinessProbe"]["httpGet"]["port"].as_u64().unwrap();
    assert!(listen.ends_with(&format!(":{port}")), "probes ask the port the sensor listens on: {listen} vs {port}");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_as_a_user_in_another() {
    let text = read("deploy/Dockerfile");
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    let runtime = &text[text.rfind("\nFROM ").unwrap()..];
    let user = runtime.lines().find_map(|l| l.strip_prefix("USER ")).expect("the runtime stage sets USER");
    assert!(!user.starts_with('0') && !user.starts_with("root"), "non-root runtime: {user}");
    assert!(runtime.contains("COPY --from=build"), "the runtime stage takes only the built binary");
    assert!(!runtime.contains("cargo "), "no toolchain in the runtime stage");
    // The build stage's scripts exist and can run, and the binary it makes is the one copied.
    let build = &text[..text.rfind("\nFROM ").unwrap()];
    for script in build.split_whitespace().filter(|w| w.starts_with("scripts/")) {
        let mode = std::fs::metadata(repo_root().join(script)).map(|m| m.permissions().mode());
        assert!(mode.is_ok_and(|m| m & 0o111 != 0), "{script} is an executable file");
    }
    let copied = runtime.lines().find_map(|l| l.strip_prefix("COPY --from=build /src/")).unwrap();
    let binary = copied.split_whitespace().next().unwrap();
    assert!(build.contains(binary), "the build stage makes {binary}");
    // Every file the build copies in exists.
    for line in runtime.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from")) {
        let src = line.split_whitespace().nth(1).unwrap();
        assert!(repo_root().join(src).exists(), "{line}");
    }
    let json_array = |prefix: &str| -> Vec<String> {
        let l = runtime.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no {prefix}"));
        serde_json::from_str(l.trim()).unwrap()
    };
    assert_eq!(json_array("ENTRYPOINT ")[0], "/usr/local/bin/apisonar");
    let mut env = Vec::new();
    let mut in_env = false;
    for line in runtime.lines() {
        let line = line.trim();
        let body = if let Some(rest) = line.strip_prefix("ENV ") {
            rest
        } else if in_env {
            line
        } else {
            continue;
        };
        in_env = body.ends_with('\\');
        for kv in body.trim_end_matches('\\').split_whitespace() {
            if let Some((k, v)) = kv.split_once('=') {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    let checked = check(&json_array("CMD "), &repo_root().join("deploy/apisonar.toml"), &env);
    assert_eq!(checked["settings"]["db"], "/var/lib/apisonar");
    assert_eq!(checked["settings"]["listen"], "0.0.0.0:8443");
}
