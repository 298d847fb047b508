//! `apisonar analyze`: capture files in, transactions and a summary out, and with `--db` the
//! inventory. The same pipeline as `run -r`, with one flow worker unless asked for more.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::cli::{AnalyzeArgs, SummaryFormat};
use crate::config::{thresholds, utf8_env};
use crate::events::Events;
use crate::outputs::{open_output, targets, AlertLines, Outputs};
use crate::summary::{FileReport, Summary};

pub fn run(args: &AnalyzeArgs) -> Result<u8> {
    let started = Instant::now();
    let config = crate::config::load(args.config.as_deref(), utf8_env())?;
    crate::capture::stop_on_signals()?;
    let limits = args.limits.limits(&config);
    let mut notifications = None;
    let core = match args.db.as_deref() {
        Some(dir) => {
            // Every spec is parsed before anything is written: a bad one changes nothing.
            let specs = args.specs.iter().map(|s| crate::posture::load_spec_arg(s)).collect::<Result<Vec<_>>>()?;
            let stream = args.alerts.as_deref().map(open_output).transpose()?;
            let options = apisonar_app::CoreOptions {
                limits: config.inventory(),
                thresholds: thresholds(&config, &args.thresholds)?,
                retention_days: args.retention_days,
                specs,
            };
            let (stream, stats) = crate::store::alert_streams(stream.map(AlertLines), &config.notify)?;
            notifications = stats;
            Some(crate::store::open_core(dir, options, stream)?)
        }
        None => None,
    };
    let mut events = Events {
        outputs: Outputs {
            transactions: args.transactions.as_deref().map(open_output).transpose()?,
            targets: targets(args.raw_transactions, core.as_ref().map(|c| c.mask_key())),
            connections: args.connections.as_deref().map(open_output).transpose()?,
            tls: args.tls.as_deref().map(open_output).transpose()?,
            error: None,
        },
        core,
        commands: None,
        stats: Default::default(),
    };
    let telemetry = Arc::new(crate::telemetry::Telemetry::new(&["files".into()], args.workers));
    let input = crate::pipeline::Input::Files(args.captures.clone());
    let mask_key = events.core.as_ref().map(|c| c.mask_key());
    let ship = events.outputs.transactions.is_some();
    let results = crate::pipeline::run(input, &limits, args.workers, mask_key, ship, &telemetry, |e, returns| {
        events.handle(e, returns)
    });
    let files =
        results.into_iter().map(|(path, result)| FileReport::from_result(path.display().to_string(), result)).collect();
    events.outputs.finish()?;
    let core_stats = events.core.take().map(|c| c.finish()).transpose().context("cannot write the inventory")?;
    let mut summary = Summary::new(files, &events.stats, started.elapsed().as_secs_f64());
    summary.endpoints = core_stats.as_ref().map(|c| c.endpoints);
    summary.overflow = core_stats.map(|c| crate::summary::overflow_map(&c.overflow)).unwrap_or_default();
    // With one worker the CPU split says nothing new (and summaries stay comparable run to run).
    if args.workers > 1 {
        summary.threads = telemetry.thread_cpu();
    }
    summary.interrupted = crate::capture::stopped();
    summary.notifications = notifications.as_ref().map(crate::notify::summary);
    let to_stdout =
        [&args.transactions, &args.connections, &args.alerts].iter().all(|p| p.as_deref() != Some(Path::new("-")));
    let mut out: Box<dyn Write> = if to_stdout { Box::new(io::stdout().lock()) } else { Box::new(io::stderr().lock()) };
    match args.summary {
        SummaryFormat::Text => summary.write_text(&mut out)?,
        SummaryFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &summary)?;
            writeln!(out)?;
        }
    }
    Ok(if summary.interrupted {
        crate::EXIT_INTERRUPTED
    } else if summary.files.iter().any(|f| f.error.is_some()) {
        crate::EXIT_INPUT_ERROR
    } else {
        0
    })
}
