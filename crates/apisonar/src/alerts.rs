//! `apisonar alerts`: list alerts (table or JSON), or acknowledge / resolve one.

use std::io::{self, Write};

use anyhow::{bail, Context, Result};
use apisonar_engine::AlertState;
use apisonar_store::{SledOptions, SledStore, Store};

use crate::cli::{AlertsArgs, ListFormat};
use crate::terminal::shown;

pub use apisonar_web::views::AlertRecord;

pub fn run(args: &AlertsArgs) -> Result<u8> {
    if !args.db.exists() {
        bail!("no store at {}", args.db.display());
    }
    for (id, state) in [(args.ack, AlertState::Acknowledged), (args.resolve, AlertState::Resolved)] {
        if let Some(id) = id {
            let mut core = crate::store::open_core(&args.db, apisonar_app::CoreOptions::default(), None)?;
            // Recorded in the alert's history as made on this machine's command line, by this user.
            let by = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "local".into()));
            let at = chrono::Utc::now().timestamp_micros();
            let change = apisonar_engine::AlertChange::State(state);
            let outcome = core.execute(apisonar_app::Command::ChangeAlert { id, change, by, at })?;
            core.finish()?;
            match outcome {
                apisonar_app::Outcome::Alert(Some(a)) => println!("alert {} is now {}", a.id, a.state.as_str()),
                _ => bail!("no alert {id}"),
            }
            return Ok(0);
        }
    }
    let store = SledStore::open(&args.db, &SledOptions::default())?;
    let since = args
        .since
        .as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| d.timestamp_micros())
                .with_context(|| format!("--since {t:?} is not RFC 3339"))
        })
        .transpose()?;
    let mut alerts = store.alerts()?;
    alerts.retain(|a| args.kind.as_deref().is_none_or(|k| a.kind == k) && since.is_none_or(|s| a.last_seen >= s));
    let rows: Vec<AlertRecord> = alerts.iter().map(AlertRecord::new).collect();
    let mut out = io::stdout().lock();
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            writeln!(
                out,
                "{:>5} {:<9} {:<13} {:<24} {:>6} {:<16}  TITLE",
                "ID", "SEVERITY", "STATE", "KIND", "COUNT", "CLIENTS"
            )?;
            for r in &rows {
                // The client, for an alert about one (or grouping one); else how many clients.
                let clients = match (&r.client, r.top_clients.as_slice()) {
                    (Some(c), _) => c.clone(),
                    (None, [only]) if r.clients == 1 => only.client.clone(),
                    (None, _) => format!("{} clients", r.clients),
                };
                writeln!(
                    out,
                    "{:>5} {:<9} {:<13} {:<24} {:>6} {:<16}  {}",
                    r.id,
                    r.severity,
                    r.state,
                    shown(&r.kind),
                    r.count,
                    shown(&clients),
                    shown(&r.title)
                )?;
            }
            writeln!(out, "{} alerts", rows.len())?;
        }
    }
    Ok(0)
}
