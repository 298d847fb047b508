//! `apisonar run`: the sensor daemon. Opens the interfaces (or files), the listener, drops
//! privileges, opens the store, then runs the pipeline until the input ends or a signal stops it;
//! SIGHUP re-reads thresholds and specs; a status line is logged periodically.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use apisonar_flow::Stats;
use serde::Serialize;

use crate::cli::{LogFormat, RunArgs, SummaryFormat};
use crate::config::{thresholds, utf8_env};
use crate::config::{CaptureSettings, Config};
use crate::events::Events;
use crate::outputs::{open_output, targets, AlertLines, Outputs};
use crate::pipeline::Input;
use crate::summary::{FileReport, Summary};
use crate::telemetry::Telemetry;

/// Everything `run` uses, after defaults, the file, the environment and the flags.
#[derive(Debug, Serialize)]
struct Settings {
    interfaces: Vec<String>,
    files: Vec<PathBuf>,
    capture: CaptureSettings,
    db: PathBuf,
    specs: Vec<String>,
    listen: Option<String>,
    workers: usize,
    status_interval_secs: u64,
    log_format: LogFormat,
    user: Option<String>,
    retention_days: Option<u32>,
    thresholds: apisonar_engine::behavior::Thresholds,
}

impl Settings {
    fn resolve(args: &RunArgs, config: &Config) -> Result<Settings> {
        let mut capture = config.capture();
        if args.filter.is_some() {
            capture.filter = args.filter.clone().filter(|f| !f.trim().is_empty());
        }
        capture.snaplen = args.snaplen.unwrap_or(capture.snaplen);
        capture.buffer_mib = args.buffer_mib.unwrap_or(capture.buffer_mib);
        capture.promisc &= !args.no_promisc;
        capture.immediate |= args.immediate;
        if !(64..=262_144).contains(&capture.snaplen) {
            bail!("snaplen {} is out of range (64 to 262144)", capture.snaplen);
        }
        let interfaces = if !args.interfaces.is_empty() || !args.read.is_empty() {
            args.interfaces.clone()
        } else {
            config.capture.interfaces.clone().unwrap_or_default()
        };
        if interfaces.is_empty() && args.read.is_empty() {
            bail!("nothing to capture: give -i IFACE (or [capture] interfaces in the config file) or -r FILE");
        }
        let log_format = match (args.log_format, config.run.log_format.as_deref()) {
            (Some(f), _) => f,
            (None, None | Some("text")) => LogFormat::Text,
            (None, Some("json")) => LogFormat::Json,
            (None, Some(other)) => bail!("config: run.log_format {other:?}: expected \"text\" or \"json\""),
        };
        let specs = spec_args(args, config);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Ok(Settings {
            interfaces,
            files: args.read.clone(),
            capture,
            db: args
                .db
                .clone()
                .or_else(|| config.run.db.clone())
                .unwrap_or_else(|| PathBuf::from(crate::cli::DEFAULT_DB)),
            specs,
            listen: args.listen.clone().or_else(|| config.run.listen.clone()),
            workers: args.workers.or(config.run.workers).unwrap_or(cores).clamp(1, 256),
            status_interval_secs: args
                .status_interval
                .or(config.run.status_interval_secs)
                .unwrap_or(crate::config::DEFAULT_STATUS_INTERVAL_SECS),
            log_format,
            user: args.user.clone().or_else(|| config.run.user.clone()),
            retention_days: args.retention_days.or(config.run.retention_days),
            thresholds: thresholds(config, &args.thresholds)?,
        })
    }

    fn source_names(&self) -> Vec<String> {
        if self.files.is_empty() {
            self.interfaces.clone()
        } else {
            vec!["files".to_string()]
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("APISONAR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_writer(io::stderr).with_env_filter(filter).with_target(false);
    // A second initialisation (tests calling run twice) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

/// Switches to `name`'s user and group for good (supplementary groups cleared).
fn drop_privileges(name: &str) -> Result<()> {
    use nix::unistd::{getuid, setgid, setgroups, setuid, User};
    let user = User::from_name(name).with_context(|| format!("cannot look up user {name}"))?;
    let user = user.ok_or_else(|| anyhow!("no such user: {name}"))?;
    if getuid() == user.uid {
        return Ok(());
    }
    setgroups(&[user.gid]).context("cannot drop supplementary groups (not started as root?)")?;
    setgid(user.gid).with_context(|| format!("cannot switch to the group of {name}"))?;
    setuid(user.uid).with_context(|| format!("cannot switch to user {name}"))?;
    if !user.uid.is_root() && setuid(nix::unistd::Uid::from_raw(0)).is_ok() {
        bail!("privileges could be regained after switching to {name}");
    }
    Ok(())
}

/// The spec files: the configuration's, then the flags'.
fn spec_args(args: &RunArgs, config: &Config) -> Vec<String> {
    let mut specs = config.run.specs.clone().unwrap_or_default();
    specs.extend(args.specs.iter().cloned());
    specs
}

/// Raised by SIGHUP; the consumer thread reloads when it sees it.
fn reload_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, flag.clone()).context("cannot install SIGHUP handler")?;
    Ok(flag)
}

/// Re-reads the configuration file (thresholds) and the spec files; on any error the old ones
/// stay in force. Limits and capture settings need a restart.
fn reload(args: &RunArgs, core: &mut apisonar_app::Core) -> Result<usize> {
    let config = crate::config::load(args.config.as_deref(), utf8_env())?;
    let thresholds = Box::new(thresholds(&config, &args.thresholds)?);
    let specs =
        spec_args(args, &config).iter().map(|s| crate::posture::load_spec_arg(s)).collect::<Result<Vec<_>>>()?;
    let n = specs.len();
    core.execute(apisonar_app::Command::Reload { thresholds, specs })?;
    Ok(n)
}

pub fn run(args: &RunArgs) -> Result<u8> {
    let started = Instant::now();
    let config = crate::config::load(args.config.as_deref(), utf8_env())?;
    let settings = Settings::resolve(args, &config)?;
    init_logging(settings.log_format);
    // Specs are parsed before anything is opened or written: a bad one changes nothing.
    let specs = settings.specs.iter().map(|s| crate::posture::load_spec_arg(s)).collect::<Result<Vec<_>>>()?;
    if args.check {
        let devices: Vec<String> =
            pcap::Device::list().map(|d| d.into_iter().map(|d| d.name).collect()).unwrap_or_default();
        for name in &settings.interfaces {
            if !devices.contains(name) {
                bail!("interface {name} not found (have: {})", devices.join(", "));
            }
        }
        for f in &settings.files {
            std::fs::metadata(f).with_context(|| format!("cannot read {}", f.display()))?;
        }
        let out = serde_json::json!({ "ok": true, "settings": settings, "specs": specs.iter().map(|s| serde_json::json!({ "name": s.name, "operations": s.operations.len() })).collect::<Vec<_>>() });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    crate::capture::stop_on_signals()?;
    let reload_requested = reload_flag()?;

    // Privileged steps first: the interfaces and the listening socket.
    let input = if settings.files.is_empty() {
        let sources = settings
            .interfaces
            .iter()
            .map(|name| crate::capture::open_live(name, &settings.capture))
            .collect::<Result<Vec<_>>>()?;
        Input::Live(sources)
    } else {
        Input::Files(settings.files.clone())
    };
    let listener = match &settings.listen {
        Some(addr) => Some(std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?),
        None => None,
    };
    // Read before dropping privileges (the key may be readable by root only).
    let certificate = match listener {
        Some(_) => crate::web::certificate(&crate::serve::tls_choice(&args.web, &config.web, &settings.db))?,
        None => None,
    };
    if let Some(user) = &settings.user {
        drop_privileges(user)?;
    }

    let limits = args.limits.limits(&config);
    let lines = args.alerts.as_deref().map(open_output).transpose()?.map(AlertLines);
    let (stream, notifications) = crate::store::alert_streams(lines, &config.notify)?;
    let options = apisonar_app::CoreOptions {
        limits: config.inventory(),
        thresholds: settings.thresholds,
        retention_days: settings.retention_days,
        specs,
    };
    let core = crate::store::open_core(&settings.db, options, stream)?;
    let telemetry = Arc::new(Telemetry::new(&settings.source_names(), settings.workers));
    if let Some(stats) = &notifications {
        let _ = telemetry.notifications.set(stats.clone());
    }
    let mut commands = None;
    if let Some(listener) = listener {
        let addr = listener.local_addr()?;
        crate::web::announce_admin(core.store().as_ref(), &settings.db)?;
        let tls = certificate.is_some();
        crate::serve::announce(addr, certificate.as_ref());
        let sensor: Arc<dyn apisonar_web::Sensor> = telemetry.clone();
        let (handle, queue) = apisonar_app::command_channel();
        commands = Some(queue);
        let state = apisonar_web::AppState::new(core.store().clone(), handle, Some(sensor), tls);
        crate::web::serve(listener, state, certificate)?;
        tracing::info!(%addr, tls, "serving the dashboard, /healthz and /metrics");
    }
    tracing::info!(
        sources = %settings.source_names().join(","),
        workers = settings.workers,
        db = %settings.db.display(),
        filter = settings.capture.filter.as_deref().unwrap_or(""),
        uid = nix::unistd::getuid().as_raw(),
        "capture started"
    );

    let mut events = Events {
        outputs: Outputs {
            transactions: args.transactions.as_deref().map(open_output).transpose()?,
            targets: targets(args.raw_transactions, Some(core.mask_key())),
            connections: None,
            tls: None,
            error: None,
        },
        core: Some(core),
        commands,
        stats: Stats::default(),
    };
    let mut last_status = Instant::now();
    let mut last_counters = Instant::now();
    let mut status_base = telemetry.totals();
    let status_every = Duration::from_secs(settings.status_interval_secs);
    let mask_key = events.core.as_ref().map(|c| c.mask_key());
    let ship = events.outputs.transactions.is_some();
    let results =
        crate::pipeline::run(input, &limits, settings.workers, mask_key, ship, &telemetry, |event, returns| {
            // The periodic checks below run once a batch, on its closing tick.
            let periodic = matches!(event, crate::pipeline::Event::Tick);
            events.handle(event, returns);
            if !periodic {
                return;
            }
            let Some(core) = events.core.as_mut() else { return };
            if reload_requested.swap(false, Ordering::Relaxed) {
                match reload(args, core) {
                    Ok(n) => {
                        telemetry.reloads.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(specs = n, "configuration reloaded");
                    }
                    Err(e) => {
                        telemetry.reload_failures.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(error = %format!("{e:#}"), "reload refused, the previous settings stay");
                    }
                }
            }
            if last_counters.elapsed() >= Duration::from_millis(250) {
                last_counters = Instant::now();
                publish(&telemetry, &core.stats());
            }
            if !status_every.is_zero() && last_status.elapsed() >= status_every {
                let secs = last_status.elapsed().as_secs_f64();
                let now = telemetry.totals();
                log_status(&status_base, &now, secs);
                status_base = now;
                last_status = Instant::now();
            }
        });
    events.outputs.finish()?;
    let core_stats = events.core.take().map(|c| c.finish()).transpose().context("cannot write the inventory")?;
    if let Some(stats) = &core_stats {
        publish(&telemetry, stats);
    }
    let stats = events.stats;
    let files: Vec<FileReport> =
        results.into_iter().map(|(path, result)| FileReport::from_result(path.display().to_string(), result)).collect();
    let input_errors = files.iter().filter(|f| f.error.is_some()).count();
    let mut summary = Summary::new(files, &stats, started.elapsed().as_secs_f64());
    summary.endpoints = core_stats.as_ref().map(|c| c.endpoints);
    summary.overflow = core_stats.map(|c| crate::summary::overflow_map(&c.overflow)).unwrap_or_default();
    summary.interrupted = crate::capture::stopped();
    summary.notifications = notifications.as_ref().map(crate::notify::summary);
    summary.capture = Some(telemetry.totals());
    summary.threads = telemetry.thread_cpu();
    tracing::info!(interrupted = summary.interrupted, "stopped");
    let mut out = io::stdout().lock();
    match args.summary {
        SummaryFormat::Text => summary.write_text(&mut out)?,
        SummaryFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &summary)?;
            writeln!(out)?;
        }
    }
    // A signal is how a daemon is meant to stop: that is success, once everything is flushed.
    Ok(if input_errors > 0 { crate::EXIT_INPUT_ERROR } else { 0 })
}

/// The core's counters into the shared telemetry (status line, `/metrics`, `/healthz`).
fn publish(telemetry: &Telemetry, stats: &apisonar_app::CoreStats) {
    telemetry.endpoints.store(stats.endpoints as u64, Ordering::Relaxed);
    telemetry.alerts_raised.store(stats.alerts_raised, Ordering::Relaxed);
    telemetry.alerts_suppressed.store(stats.alerts_suppressed, Ordering::Relaxed);
    if let Ok(mut o) = telemetry.overflow.lock() {
        o.clone_from(&stats.overflow);
    }
    if let Some(e) = &stats.store_failure {
        if let Ok(mut f) = telemetry.store_failure.lock() {
            if f.is_none() {
                tracing::error!(error = %e, "cannot write the store; analysis goes on, nothing more is saved");
                *f = Some(e.clone());
            }
        }
    }
}

fn log_status(before: &crate::telemetry::Totals, now: &crate::telemetry::Totals, secs: f64) {
    let rate = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / secs.max(0.001);
    tracing::info!(
        packets = now.frames,
        pps = rate(before.frames, now.frames).round(),
        mbit_s = (rate(before.bytes, now.bytes) * 8.0 / 1e6 * 10.0).round() / 10.0,
        dropped_kernel = now.dropped_kernel,
        dropped_interface = now.dropped_interface,
        dropped_queue_full = now.dropped_queue_full,
        limit_hits = now.limit_hits,
        flows = now.active_flows,
        transactions = now.transactions,
        endpoints = now.endpoints,
        alerts = now.alerts_raised,
        rss_mib = now.resident_bytes / (1024 * 1024),
        "status"
    );
}
