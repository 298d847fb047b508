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

/// Where a core reports the alerts it stores (if anywhere).
pub type Stream = Option<Box<dyn apisonar_app::AlertStream>>;

/// The application core on the store at `dir`, streaming stored alerts to `stream`.
pub fn open_core(dir: &Path, options: CoreOptions, stream: Stream) -> Result<Core> {
    let store = open_store(dir)?;
    Core::open(Arc::new(store), options, stream).context("cannot open the inventory")
}

/// Where the alerts a run stores are reported: the `--alerts` file and the notifications the
/// configuration asks for (their counts are returned for the summary and the status).
pub fn alert_streams(
    lines: Option<crate::outputs::AlertLines>,
    notify: &crate::notify::NotifyConfig,
) -> Result<(Stream, Option<crate::notify::Stats>)> {
    let notifier = crate::notify::Notifier::start(notify)?;
    let stats = notifier.as_ref().map(crate::notify::Notifier::stats);
    let mut streams: Vec<Box<dyn apisonar_app::AlertStream>> = Vec::new();
    if let Some(lines) = lines {
        streams.push(Box::new(lines));
    }
    if let Some(n) = notifier {
        streams.push(Box::new(n));
    }
    let stream: Stream = match streams.len() {
        0 => None,
        1 => streams.pop(),
        _ => Some(Box::new(crate::outputs::Fanout(streams))),
    };
    Ok((stream, stats))
}
