//! Opening the store of a command: the sled store at a directory, and the application core on it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use apisonar_app::{Core, CoreOptions};
use apisonar_store::{SledOptions, SledStore};

/// The sled store at `dir` (made if missing).
pub fn open_store(dir: &Path) -> Result<SledStore> {
    Ok(SledStore::open(dir, &SledOptions::default())?)
}

/// The application core on the store at `dir`, streaming stored alerts to `stream`.
pub fn open_core(dir: &Path, options: CoreOptions, stream: Option<crate::outputs::AlertLines>) -> Result<Core> {
    let store = open_store(dir)?;
    let stream = stream.map(|s| Box::new(s) as Box<dyn apisonar_app::AlertStream>);
    Core::open(Arc::new(store), options, stream).context("cannot open the inventory")
}
