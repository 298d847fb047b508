//! `apisonar analyze`: capture files in, transactions and a summary out.

use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use apisonar_flow::{EventSink, FlowEngine, Stats};

use crate::capture::read_file;
use crate::cli::{AnalyzeArgs, SummaryFormat};
use crate::sink::{open_output, thresholds, utf8_env, Inventory, Writers};
use crate::summary::{FileReport, Summary};

pub fn run(args: &AnalyzeArgs) -> Result<u8> {
    let started = Instant::now();
    let config = crate::config::load(args.config.as_deref(), utf8_env())?;
    crate::capture::stop_on_signals()?;
    let limits = args.limits.limits(&config);
    let mut writers = Writers {
        transactions: args.transactions.as_deref().map(open_output).transpose()?,
        targets: crate::output::Targets::Raw,
        connections: args.connections.as_deref().map(open_output).transpose()?,
        tls: args.tls.as_deref().map(open_output).transpose()?,
        error: None,
        inventory: match args.db.as_deref() {
            Some(dir) => {
                // Every spec is parsed before anything is written: a bad one changes nothing.
                let specs = args.specs.iter().map(|s| crate::posture::load_spec_arg(s)).collect::<Result<Vec<_>>>()?;
                let mut inventory = Inventory::open(dir, specs, config.inventory())?;
                inventory.behavior = apisonar_engine::behavior::Behavior::new(thresholds(&config, &args.thresholds)?);
                inventory.alert_stream = args.alerts.as_deref().map(open_output).transpose()?;
                Some(inventory)
            }
            None => None,
        },
    };
    writers.targets = crate::sink::targets(args.raw_transactions, writers.inventory.as_ref());
    let mut files = Vec::new();
    let report = |shown: String, result| FileReport::from_result(shown, result);
    let mut threads = Vec::new();
    let stats = if args.workers > 1 {
        let mut stats = Stats::default();
        let telemetry = std::sync::Arc::new(crate::telemetry::Telemetry::new(&["files".into()], args.workers));
        let input = crate::pipeline::Input::Files(args.captures.clone());
        let results = crate::pipeline::run(
            input,
            &limits,
            args.workers,
            writers.inventory.as_ref().map(|i| i.mask_key),
            &telemetry,
            |event| match event {
                crate::pipeline::Event::Transaction(t, a) => writers.on_analysed(t, a),
                crate::pipeline::Event::Connection(c) => writers.on_connection(c),
                crate::pipeline::Event::Tls(t) => writers.on_tls(t),
                crate::pipeline::Event::Finished(s) => stats.merge(&s),
                crate::pipeline::Event::Tick => {}
            },
        );
        for (path, result) in results {
            files.push(report(path.display().to_string(), result));
        }
        threads = telemetry.thread_cpu();
        stats
    } else {
        let mut engine = FlowEngine::new(limits.clone());
        for path in &args.captures {
            let result =
                read_file(path, |link, frame| engine.frame(link, frame.ts, frame.data, frame.wire_len, &mut writers));
            files.push(report(path.display().to_string(), result));
        }
        engine.finish(&mut writers);
        engine.stats().clone()
    };
    for w in [writers.transactions.as_mut(), writers.connections.as_mut(), writers.tls.as_mut()].into_iter().flatten() {
        if let Err(e) = w.flush() {
            writers.error.get_or_insert(e);
        }
    }
    if let Some(e) = writers.error.take() {
        return Err(e).context("cannot write output");
    }
    let overflow = writers.inventory.as_ref().map(|i| i.overflow_totals()).unwrap_or_default();
    let endpoints = writers.inventory.take().map(|i| i.finish(args.retention_days)).transpose()?;
    let mut summary = Summary::new(files, &stats, started.elapsed().as_secs_f64());
    summary.endpoints = endpoints;
    summary.overflow = crate::summary::overflow_map(&overflow);
    summary.threads = threads;
    summary.interrupted = crate::capture::stopped();
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
