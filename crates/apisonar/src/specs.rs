//! `apisonar spec add|list|remove`.

use anyhow::{bail, Context, Result};
use apisonar_engine::{Catalog, TemplateConfig};
use apisonar_store::{SledOptions, SledStore, Store};
use apisonar_web::views::sync_posture_alerts;

use crate::cli::{SpecAddArgs, SpecCommand, SpecRemoveArgs, StoreArgs};
use crate::posture::{apply_specs, load_spec};
use crate::terminal::shown;

pub fn run(cmd: &SpecCommand) -> Result<u8> {
    match cmd {
        SpecCommand::Add(args) => add(args),
        SpecCommand::List(args) => list(args),
        SpecCommand::Remove(args) => remove(args),
    }
}

fn add(args: &SpecAddArgs) -> Result<u8> {
    // Parse before touching the store: a bad spec changes nothing.
    let spec = load_spec(&args.file, args.host.as_deref(), args.name.as_deref())?;
    let store = SledStore::open(&args.db, &SledOptions::default())?;
    store.put_spec(&spec)?;
    let mut catalog = Catalog::new(TemplateConfig::default());
    catalog.load(store.endpoints().context("cannot read the inventory")?);
    for o in store.overrides()? {
        catalog.pin(o.host.as_deref(), &o.template);
    }
    apply_specs(&mut catalog, &store.specs()?);
    store.apply(&catalog.take_changes())?;
    let alerts = sync_posture_alerts(&store)?.len();
    store.flush()?;
    let hosts = if spec.hosts.is_empty() { "every host".to_string() } else { spec.hosts.join(", ") };
    println!(
        "added {} ({}, {} operations, covers {hosts}); {alerts} shadow/zombie alerts",
        spec.name,
        spec.format,
        spec.operations.len()
    );
    Ok(0)
}

fn list(args: &StoreArgs) -> Result<u8> {
    let store = SledStore::open(&args.db, &SledOptions::default())?;
    for s in store.specs()? {
        let hosts = if s.hosts.is_empty() { "*".to_string() } else { s.hosts.join(",") };
        println!(
            "{}\t{}\t{}\t{} operations\t{}",
            shown(&s.name),
            shown(&s.format),
            shown(&hosts),
            s.operations.len(),
            shown(&s.title)
        );
    }
    Ok(0)
}

fn remove(args: &SpecRemoveArgs) -> Result<u8> {
    let store = SledStore::open(&args.db, &SledOptions::default())?;
    if !store.remove_spec(&args.name)? {
        bail!("no spec named {}", args.name);
    }
    let alerts = sync_posture_alerts(&store)?.len();
    store.flush()?;
    println!("removed {}; {alerts} shadow/zombie alerts", args.name);
    Ok(0)
}
