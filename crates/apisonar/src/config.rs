//! The TOML configuration file: limits, detector thresholds, live capture and daemon settings. Every key is optional and
//! defaults to the built-in value; flags given on the command line win over the file.
//! deploy/apisonar.toml lists every key with its default.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub detection: DetectionConfig,
    #[serde(default)]
    pub capture: CaptureConfig,
    #[serde(default)]
    pub run: RunConfig,
    #[serde(default)]
    pub web: WebConfig,
    #[serde(default)]
    pub inventory: InventoryConfig,
    /// Where alerts are sent (webhooks, syslog).
    #[serde(default)]
    pub notify: crate::notify::NotifyConfig,
}

/// How big the inventory may grow (`[inventory]`); over a cap, traffic is counted as overflow.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryConfig {
    pub max_hosts: Option<usize>,
    pub max_endpoints_per_host: Option<usize>,
    pub max_methods_per_host: Option<usize>,
    pub max_template_nodes_per_host: Option<usize>,
    pub max_tls_hosts: Option<usize>,
    pub max_alerts: Option<usize>,
}

/// The dashboard (`serve`, and `run` with a listen address).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    pub tls_cert: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    pub plain_http: Option<bool>,
}

/// Live capture (`apisonar run -i`): how each interface is opened.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureConfig {
    pub interfaces: Option<Vec<String>>,
    pub filter: Option<String>,
    pub snaplen: Option<i32>,
    pub buffer_mib: Option<u32>,
    pub promisc: Option<bool>,
    pub immediate: Option<bool>,
    pub timeout_ms: Option<u32>,
}

/// The daemon around capture (`apisonar run`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub db: Option<std::path::PathBuf>,
    pub specs: Option<Vec<String>>,
    pub listen: Option<String>,
    pub workers: Option<usize>,
    pub status_interval_secs: Option<u64>,
    pub log_format: Option<String>,
    pub user: Option<String>,
    pub retention_days: Option<u32>,
}

/// Live capture settings after defaults, file, environment and flags.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaptureSettings {
    pub filter: Option<String>,
    pub snaplen: i32,
    pub buffer_mib: u32,
    pub promisc: bool,
    pub immediate: bool,
    pub timeout_ms: u32,
}

impl Default for CaptureSettings {
    fn default() -> CaptureSettings {
        // A full 64 KiB snaplen: loopback and offloaded NICs hand over frames far beyond 1500.
        // A 32 MiB ring (a quarter second at 1 Gbit/s) took the soak at tcpreplay's top speed
        // without a drop; every page of it is resident memory (deploy/README.md, sizing).
        CaptureSettings {
            filter: None,
            snaplen: 65535,
            buffer_mib: 32,
            promisc: true,
            immediate: false,
            timeout_ms: 100,
        }
    }
}

/// Daemon defaults (the rest of `[run]` has no default: absent means off).
pub const DEFAULT_STATUS_INTERVAL_SECS: u64 = 60;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_flows: Option<usize>,
    pub idle_timeout_secs: Option<u32>,
    pub closed_linger_secs: Option<u32>,
    pub max_ooo_bytes: Option<usize>,
    pub max_ooo_segments: Option<usize>,
    pub overlap_check_bytes: Option<usize>,
    pub max_pending_transactions: Option<usize>,
    pub max_head_bytes: Option<usize>,
    pub max_headers: Option<usize>,
    pub body_sample_bytes: Option<usize>,
    pub max_decoded_body_bytes: Option<usize>,
    pub max_resync_scan_bytes: Option<usize>,
    pub max_fragment_datagrams: Option<usize>,
    pub max_fragment_bytes: Option<usize>,
    pub fragment_timeout_secs: Option<u32>,
    pub max_tls_handshake_bytes: Option<usize>,
    pub max_buffered_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionConfig {
    pub enumeration_values: Option<usize>,
    pub enumeration_error_share: Option<f64>,
    pub brute_force_failures: Option<usize>,
    pub bola_objects: Option<usize>,
    pub scanner_404_paths: Option<usize>,
    pub rate_multiplier: Option<f64>,
    pub rate_min: Option<u64>,
    pub error_multiplier: Option<f64>,
    pub error_min: Option<u64>,
    pub window_secs: Option<u32>,
    pub max_entries: Option<usize>,
    pub max_clients_per_alert: Option<usize>,
}

/// Sections that environment variables may set: `APISONAR_LIMITS_MAX_FLOWS=1000` is
/// `max_flows = 1000` under `[limits]`.
const ENV_SECTIONS: &[&str] = &["limits", "detection", "capture", "run", "web", "inventory"];

/// The configuration: built-in defaults, then the file (if any), then `APISONAR_<SECTION>_<KEY>`
/// variables from `env`. Errors name the file, the place or the variable.
pub fn load(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config> {
    let mut table = match path {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
            // Parsed into the typed form first so file errors point at the file's own lines.
            toml::from_str::<Config>(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
            toml::from_str::<toml::Table>(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?
        }
        None => toml::Table::new(),
    };
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("APISONAR_") else { continue };
        let rest = rest.to_ascii_lowercase();
        let Some(section) = ENV_SECTIONS.iter().find(|s| rest.starts_with(&format!("{s}_"))) else { continue };
        let key = &rest[section.len() + 1..];
        // A value is read as a TOML value (numbers, booleans); anything else stays a string.
        // Lists (interfaces, specs) are comma-separated.
        let parsed = if matches!(key, "interfaces" | "specs") {
            toml::Value::Array(value.split(',').map(|v| toml::Value::String(v.trim().to_string())).collect())
        } else {
            toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value))
        };
        let entry = table.entry(section.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(t) = entry {
            t.insert(key.to_string(), parsed);
        }
        toml::Value::Table(table.clone())
            .try_into::<Config>()
            .map_err(|e| anyhow::anyhow!("environment variable {name}: {e}"))?;
    }
    toml::Value::Table(table).try_into().map_err(|e| anyhow::anyhow!("config: {e}"))
}

impl Config {
    /// The limits: built-in defaults, then this file.
    pub fn limits(&self) -> apisonar_flow::Limits {
        let d = apisonar_flow::Limits::default();
        let l = &self.limits;
        apisonar_flow::Limits {
            max_flows: l.max_flows.unwrap_or(d.max_flows),
            idle_timeout_secs: l.idle_timeout_secs.unwrap_or(d.idle_timeout_secs),
            closed_linger_secs: l.closed_linger_secs.unwrap_or(d.closed_linger_secs),
            max_ooo_bytes: l.max_ooo_bytes.unwrap_or(d.max_ooo_bytes),
            max_ooo_segments: l.max_ooo_segments.unwrap_or(d.max_ooo_segments),
            overlap_check_bytes: l.overlap_check_bytes.unwrap_or(d.overlap_check_bytes),
            max_pending_transactions: l.max_pending_transactions.unwrap_or(d.max_pending_transactions),
            max_head_bytes: l.max_head_bytes.unwrap_or(d.max_head_bytes),
            max_headers: l.max_headers.unwrap_or(d.max_headers),
            body_sample_bytes: l.body_sample_bytes.unwrap_or(d.body_sample_bytes),
            max_decoded_body_bytes: l.max_decoded_body_bytes.unwrap_or(d.max_decoded_body_bytes),
            max_resync_scan_bytes: l.max_resync_scan_bytes.unwrap_or(d.max_resync_scan_bytes),
            max_fragment_datagrams: l.max_fragment_datagrams.unwrap_or(d.max_fragment_datagrams),
            max_fragment_bytes: l.max_fragment_bytes.unwrap_or(d.max_fragment_bytes),
            fragment_timeout_secs: l.fragment_timeout_secs.unwrap_or(d.fragment_timeout_secs),
            max_tls_handshake_bytes: l.max_tls_handshake_bytes.unwrap_or(d.max_tls_handshake_bytes),
            max_buffered_bytes: l.max_buffered_bytes.unwrap_or(d.max_buffered_bytes),
        }
    }

    /// The inventory's caps: built-in defaults, then this file.
    pub fn inventory(&self) -> apisonar_engine::InventoryLimits {
        let d = apisonar_engine::InventoryLimits::default();
        let i = &self.inventory;
        apisonar_engine::InventoryLimits {
            max_hosts: i.max_hosts.unwrap_or(d.max_hosts),
            max_endpoints_per_host: i.max_endpoints_per_host.unwrap_or(d.max_endpoints_per_host),
            max_methods_per_host: i.max_methods_per_host.unwrap_or(d.max_methods_per_host),
            max_template_nodes_per_host: i.max_template_nodes_per_host.unwrap_or(d.max_template_nodes_per_host),
            max_tls_hosts: i.max_tls_hosts.unwrap_or(d.max_tls_hosts),
            max_alerts: i.max_alerts.unwrap_or(d.max_alerts),
        }
    }

    /// Live capture settings: built-in defaults, then this file.
    pub fn capture(&self) -> CaptureSettings {
        let d = CaptureSettings::default();
        let c = &self.capture;
        CaptureSettings {
            filter: c.filter.clone().filter(|f| !f.trim().is_empty()),
            snaplen: c.snaplen.unwrap_or(d.snaplen),
            buffer_mib: c.buffer_mib.unwrap_or(d.buffer_mib),
            promisc: c.promisc.unwrap_or(d.promisc),
            immediate: c.immediate.unwrap_or(d.immediate),
            timeout_ms: c.timeout_ms.unwrap_or(d.timeout_ms),
        }
    }

    /// The detector thresholds: built-in defaults, then this file.
    pub fn thresholds(&self) -> apisonar_engine::behavior::Thresholds {
        let d = apisonar_engine::behavior::Thresholds::default();
        let t = &self.detection;
        apisonar_engine::behavior::Thresholds {
            enumeration_values: t.enumeration_values.unwrap_or(d.enumeration_values),
            enumeration_error_share: t.enumeration_error_share.unwrap_or(d.enumeration_error_share),
            brute_force_failures: t.brute_force_failures.unwrap_or(d.brute_force_failures),
            bola_objects: t.bola_objects.unwrap_or(d.bola_objects),
            scanner_404_paths: t.scanner_404_paths.unwrap_or(d.scanner_404_paths),
            rate_multiplier: t.rate_multiplier.unwrap_or(d.rate_multiplier),
            rate_min: t.rate_min.unwrap_or(d.rate_min),
            error_multiplier: t.error_multiplier.unwrap_or(d.error_multiplier),
            error_min: t.error_min.unwrap_or(d.error_min),
            window_secs: t.window_secs.unwrap_or(d.window_secs),
            max_entries: t.max_entries.unwrap_or(d.max_entries),
            max_clients_per_alert: t.max_clients_per_alert.unwrap_or(d.max_clients_per_alert),
        }
    }
}

/// The environment, skipping variables that are not UTF-8 (`std::env::vars` would panic on them).
pub fn utf8_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

/// Detector thresholds: the configuration file's, then `--threshold NAME=VALUE` flags.
pub fn thresholds(config: &Config, flags: &[String]) -> Result<apisonar_engine::behavior::Thresholds> {
    let mut t = config.thresholds();
    for flag in flags {
        let (name, value) =
            flag.split_once('=').with_context(|| format!("--threshold {flag:?}: expected NAME=VALUE"))?;
        let int =
            || value.parse::<u64>().with_context(|| format!("--threshold {name}: {value:?} is not a whole number"));
        let float = || value.parse::<f64>().with_context(|| format!("--threshold {name}: {value:?} is not a number"));
        match name {
            "enumeration_values" => t.enumeration_values = int()? as usize,
            "enumeration_error_share" => t.enumeration_error_share = float()?,
            "brute_force_failures" => t.brute_force_failures = int()? as usize,
            "bola_objects" => t.bola_objects = int()? as usize,
            "scanner_404_paths" => t.scanner_404_paths = int()? as usize,
            "rate_multiplier" => t.rate_multiplier = float()?,
            "rate_min" => t.rate_min = int()?,
            "error_multiplier" => t.error_multiplier = float()?,
            "error_min" => t.error_min = int()?,
            "window_secs" => t.window_secs = u32::try_from(int()?).unwrap_or(u32::MAX),
            "max_clients_per_alert" => t.max_clients_per_alert = int()? as usize,
            other => anyhow::bail!("--threshold: unknown name {other:?}"),
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_holds_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/apisonar.toml");
        let cfg = load(Some(&path), []).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(cfg.limits(), apisonar_flow::Limits::default());
        assert_eq!(cfg.inventory(), apisonar_engine::InventoryLimits::default());
        assert_eq!(cfg.thresholds(), apisonar_engine::behavior::Thresholds::default());
        assert_eq!(cfg.capture(), CaptureSettings::default());
        assert_eq!(cfg.run.status_interval_secs, Some(DEFAULT_STATUS_INTERVAL_SECS));
        assert!(cfg.capture.snaplen.is_some() && cfg.capture.timeout_ms.is_some() && cfg.run.workers.is_none());
        assert_eq!(cfg.web.plain_http, Some(false));
        // Every key is written out (none left to the defaults silently).
        assert!(
            cfg.limits.max_flows.is_some()
                && cfg.limits.max_buffered_bytes.is_some()
                && cfg.limits.max_tls_handshake_bytes.is_some()
                && cfg.inventory.max_hosts.is_some()
                && cfg.inventory.max_alerts.is_some()
                && cfg.detection.window_secs.is_some()
                && cfg.detection.max_entries.is_some()
                && cfg.detection.max_clients_per_alert.is_some()
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<Config>("[limits]\nmax_flow = 3\n").is_err());
        assert!(toml::from_str::<Config>("[detection]\nbola_objects = \"many\"\n").is_err());
        assert!(toml::from_str::<Config>("").is_ok());
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_variables_override_the_file() {
        let dir = std::env::temp_dir().join(format!("apisonar-config-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("apisonar.toml");
        std::fs::write(&path, "[limits]\nmax_flows = 10\n[detection]\nbola_objects = 7\n").unwrap();
        let vars = env(&[("APISONAR_LIMITS_MAX_FLOWS", "20"), ("APISONAR_BIN", "/x"), ("HOME", "/root")]);
        let cfg = load(Some(&path), vars).unwrap();
        assert_eq!(cfg.limits().max_flows, 20);
        assert_eq!(cfg.thresholds().bola_objects, 7);
        let cfg = load(None, env(&[("APISONAR_DETECTION_RATE_MULTIPLIER", "2.5")])).unwrap();
        assert_eq!(cfg.thresholds().rate_multiplier, 2.5);
        assert_eq!(cfg.limits(), apisonar_flow::Limits::default());
        let err = load(None, env(&[("APISONAR_DETECTION_BOLA_OBJECTZ", "1")])).unwrap_err().to_string();
        assert!(err.contains("APISONAR_DETECTION_BOLA_OBJECTZ"), "{err}");
        let cfg =
            load(None, env(&[("APISONAR_CAPTURE_INTERFACES", "eth1, eth2"), ("APISONAR_RUN_WORKERS", "3")])).unwrap();
        assert_eq!(cfg.capture.interfaces, Some(vec!["eth1".to_string(), "eth2".to_string()]));
        assert_eq!(cfg.run.workers, Some(3));
        let err = load(None, env(&[("APISONAR_LIMITS_MAX_FLOWS", "many")])).unwrap_err().to_string();
        assert!(err.contains("APISONAR_LIMITS_MAX_FLOWS"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
