//! `apisonar spec add|list|remove`.

use anyhow::{bail, Result};
use apisonar_app::{Command, Outcome};
use apisonar_store::{SledOptions, SledStore, Store};

use crate::cli::{SpecAddArgs, SpecCommand, SpecRemoveArgs, StoreArgs};
use crate::posture::load_spec;
use crate::terminal::shown;

pub fn run(cmd: &SpecCommand) -> Result<u8> {
    match cmd {
        SpecCommand::Add(args) => add(args),
        SpecCommand::List(args) => list(args),
        SpecCommand::Remove(args) => remove(args),
    }
}

/// The application core on the store at `db`, with the default configuration (commands that
/// change the store go through it, like the sensor's and the dashboard's changes).
fn core(db: &std::path::Path) -> Result<apisonar_app::Core> {
    crate::store::open_core(db, apisonar_app::CoreOptions::default(), None)
}

fn add(args: &SpecAddArgs) -> Result<u8> {
    // Parse before touching the store: a bad spec changes nothing.
    let spec = load_spec(&args.file, args.host.as_deref(), args.name.as_deref())?;
    let hosts = if spec.hosts.is_empty() { "every host".to_string() } else { spec.hosts.join(", ") };
    let (name, format, operations) = (spec.name.clone(), spec.format.clone(), spec.operations.len());
    let mut core = core(&args.db)?;
    let outcome = core.execute(Command::AddSpec(Box::new(spec)))?;
    core.finish()?;
    let alerts = match outcome {
        Outcome::Posture { alerts, .. } => alerts,
        _ => 0,
    };
    println!(
        "added {} ({}, {operations} operations, covers {}); {alerts} shadow/zombie alerts new or changed",
        shown(&name),
        shown(&format),
        shown(&hosts)
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
    let mut core = core(&args.db)?;
    let outcome = core.execute(Command::RemoveSpec(args.name.clone()))?;
    core.finish()?;
    if outcome != Outcome::Removed(true) {
        bail!("no spec named {}", args.name);
    }
    println!("removed {}", shown(&args.name));
    Ok(0)
}
