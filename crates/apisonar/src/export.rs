//! `apisonar export openapi|postman`: the inventory (or what a filter selects of it) as OpenAPI
//! 3.1 documents, one per host, or as one Postman collection. The documents are the dashboard's
//! downloads (`apisonar_web::export`).

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use apisonar_store::{SledOptions, SledStore};
use apisonar_web::api::EndpointQuery;
use apisonar_web::export::{file_stem, Format, Selection};

use crate::cli::{ExportArgs, ExportFilter, ExportFormat, PostmanArgs};

fn select(db: &Path, host: Option<&String>, filter: &ExportFilter) -> Result<Selection> {
    if !db.exists() {
        bail!("no store at {}", db.display());
    }
    let store = SledStore::open(db, &SledOptions::default())?;
    let query = EndpointQuery {
        host: host.cloned(),
        state: filter.state.clone(),
        auth: filter.auth.clone(),
        sensitive: filter.sensitive,
        ..EndpointQuery::default()
    };
    let selection = Selection::read(&store, &query).context("cannot read the inventory")?;
    match host {
        Some(h) if selection.endpoints.is_empty() => bail!("no endpoints for host {h} match"),
        None if selection.endpoints.is_empty() => bail!("no endpoints match (or the inventory is empty)"),
        _ => Ok(selection),
    }
}

pub fn openapi(args: &ExportArgs) -> Result<u8> {
    let selection = select(&args.db, args.host.as_ref(), &args.filter)?;
    let format = match args.format {
        ExportFormat::Json => Format::Json,
        ExportFormat::Yaml => Format::Yaml,
    };
    match (&args.out, selection.hosts().as_slice()) {
        (None, [one]) => std::io::stdout().lock().write_all(format.render(&selection.openapi(one)).as_bytes())?,
        (None, many) => {
            bail!("{} hosts in the inventory: pass --host HOST, or --out DIR for one file per host", many.len())
        }
        (Some(dir), hosts) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for host in hosts {
                let path = dir.join(format!("{}.openapi.{}", file_stem(host), format.extension()));
                std::fs::write(&path, format.render(&selection.openapi(host)))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(0)
}

pub fn postman(args: &PostmanArgs) -> Result<u8> {
    let selection = select(&args.db, args.host.as_ref(), &args.filter)?;
    let name = match &args.host {
        Some(h) => format!("{h} (discovered by apisonar)"),
        None => "Discovered APIs (apisonar)".to_string(),
    };
    let text = serde_json::to_string_pretty(&selection.postman(&name))? + "\n";
    match &args.out {
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(0)
}
