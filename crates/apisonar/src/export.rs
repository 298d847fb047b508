//! `apisonar export openapi`: OpenAPI 3.1 documents from the inventory, one per host.

use std::io::Write;

use anyhow::{bail, Context, Result};
use apisonar_engine::{openapi, Endpoint};
use apisonar_store::{SledOptions, SledStore, Store};

use crate::cli::{ExportArgs, ExportFormat};

fn render(doc: &serde_json::Value, format: ExportFormat) -> Result<String> {
    Ok(match format {
        ExportFormat::Json => serde_json::to_string_pretty(doc)? + "\n",
        ExportFormat::Yaml => crate::yaml::to_yaml(doc),
    })
}

pub fn run(args: &ExportArgs) -> Result<u8> {
    if !args.db.exists() {
        bail!("no store at {}", args.db.display());
    }
    let store = SledStore::open(&args.db, &SledOptions::default())?;
    let endpoints = store.endpoints().context("cannot read the inventory")?;
    let refs: Vec<&Endpoint> = endpoints.iter().collect();
    let mut hosts: Vec<&str> = endpoints.iter().map(|e| e.host.as_str()).collect();
    hosts.sort();
    hosts.dedup();
    if let Some(h) = &args.host {
        hosts.retain(|x| x.eq_ignore_ascii_case(h));
        if hosts.is_empty() {
            bail!("no endpoints for host {h}");
        }
    }
    let extension = match args.format {
        ExportFormat::Json => "json",
        ExportFormat::Yaml => "yaml",
    };
    match (&args.out, hosts.as_slice()) {
        (None, [one]) => {
            let text = render(&openapi::document(one, &refs), args.format)?;
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
        (None, []) => bail!("the inventory is empty"),
        (None, many) => {
            bail!("{} hosts in the inventory: pass --host HOST, or --out DIR for one file per host", many.len())
        }
        (Some(dir), hosts) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for host in hosts {
                let mut safe: String = host
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
                    .collect();
                if safe != *host {
                    // Two odd host names may sanitise alike: a hash of the real name keeps them apart.
                    use sha2::Digest;
                    let digest = sha2::Sha256::digest(host.as_bytes());
                    let tag: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
                    safe = format!("{safe}-{tag}");
                }
                let path = dir.join(format!("{safe}.openapi.{extension}"));
                std::fs::write(&path, render(&openapi::document(host, &refs), args.format)?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(0)
}
