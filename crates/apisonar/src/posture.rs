//! Spec files: reading and parsing them (the application core stores and applies them).

use std::path::Path;

use anyhow::{Context, Result};
use apisonar_engine::Spec;

/// Reads and parses a spec file; `host` binds it explicitly. Errors name the file and the place.
pub fn load_spec(path: &Path, host: Option<&str>, name: Option<&str>) -> Result<Spec> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read spec {}", path.display()))?;
    if meta.len() > apisonar_engine::spec::MAX_SPEC_BYTES as u64 {
        anyhow::bail!(
            "spec {}: larger than {} MiB",
            path.display(),
            apisonar_engine::spec::MAX_SPEC_BYTES / (1024 * 1024)
        );
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read spec {}", path.display()))?;
    let default_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "spec".into());
    let mut spec = apisonar_engine::spec::parse(name.unwrap_or(&default_name), &text)
        .map_err(|e| anyhow::anyhow!("spec {}: {e}", path.display()))?;
    if let Some(h) = host {
        spec.hosts = vec![h.to_ascii_lowercase()];
    }
    Ok(spec)
}

/// `FILE` or `HOST=FILE`.
pub fn load_spec_arg(arg: &str) -> Result<Spec> {
    match arg.split_once('=') {
        Some((host, file)) if !host.is_empty() && !host.contains('/') => load_spec(Path::new(file), Some(host), None),
        _ => load_spec(Path::new(arg), None, None),
    }
}
