//! Notifications: alerts that are news (new, or changed in state or severity, as the alert
//! stream reports them) go to webhooks (a generic JSON body or a Slack-compatible one) and to
//! syslog (RFC 5424 or CEF, over UDP or TCP), as the `[notify]` section of the configuration
//! says. Each destination has its own thread and a bounded queue: the store writer only ever
//! offers an alert to the queue, so a slow or dead receiver never slows the sensor; what does
//! not fit is dropped and counted, what cannot be delivered after the retries is counted as
//! failed.

pub mod formats;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use apisonar_engine::{Alert, Severity};
use serde::Deserialize;

use formats::Origin;

/// `[notify]` in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Alerts waiting per destination (default 1000); past it they are dropped and counted.
    pub queue: Option<usize>,
    /// Attempts after the first for one alert (default 4), 0.5 s apart and doubling, up to 30 s.
    pub retries: Option<u32>,
    /// The least severity sent, unless a destination says otherwise (default `low`).
    pub min_severity: Option<String>,
    #[serde(default)]
    pub webhook: Vec<WebhookConfig>,
    #[serde(default)]
    pub syslog: Vec<SyslogConfig>,
}

/// `[[notify.webhook]]`: an HTTP(S) URL that receives a POST per alert.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// `json` (the default: the alert as the API shows it) or `slack`.
    pub format: Option<String>,
    pub min_severity: Option<String>,
    /// Extra request headers, `"Name: value"` (a bearer token for a ticketing system).
    #[serde(default)]
    pub headers: Vec<String>,
}

/// `[[notify.syslog]]`: a syslog receiver.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// `host:port`.
    pub address: String,
    /// `udp` (the default) or `tcp` (octet-counted framing, RFC 6587).
    pub transport: Option<String>,
    /// `rfc5424` (the default) or `cef`.
    pub format: Option<String>,
    pub min_severity: Option<String>,
}

const DEFAULT_QUEUE: usize = 1000;
const DEFAULT_RETRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long the end of a run waits for queued alerts to go out.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);
/// How long one delivery may take (connect plus request).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

fn severity(text: Option<&str>, default: Severity) -> Result<Severity> {
    Ok(match text {
        None => default,
        Some("info") => Severity::Info,
        Some("low") => Severity::Low,
        Some("medium") => Severity::Medium,
        Some("high") => Severity::High,
        Some("critical") => Severity::Critical,
        Some(other) => bail!("notify: min_severity {other:?} is not info, low, medium, high or critical"),
    })
}

/// Delivery counts of one destination.
#[derive(Debug, Default)]
pub struct Counts {
    pub sent: AtomicU64,
    /// Given up on after every retry (or refused by the receiver).
    pub failed: AtomicU64,
    /// Not queued: the queue was full, or the run ended before its turn.
    pub dropped: AtomicU64,
    pub retries: AtomicU64,
    /// Taken into the queue.
    queued: AtomicU64,
}

/// A destination's name (`webhook:URL without its query`, `syslog:ADDRESS`) and counts.
#[derive(Debug)]
pub struct Destination {
    pub name: String,
    pub counts: Counts,
}

/// Counts of every destination, shared with the status and the summary.
pub type Stats = Arc<Vec<Destination>>;

/// How a message goes out.
enum Sink {
    Webhook { agent: ureq::Agent, url: String, slack: bool, headers: Vec<(String, String)> },
    Syslog { address: String, tcp: bool, cef: bool, origin: Origin, stream: Option<std::net::TcpStream> },
}

/// Why a delivery did not succeed.
enum Failure {
    /// Worth trying again (the receiver is down, busy, or answered 5xx or 429).
    Transient,
    /// Refused for good (a 4xx answer).
    Permanent,
}

impl Sink {
    fn deliver(&mut self, alert: &Alert) -> Result<(), Failure> {
        match self {
            Sink::Webhook { agent, url, slack, headers } => {
                let body = if *slack { formats::slack_body(alert) } else { formats::json_body(alert) };
                let mut request = agent.post(url.as_str()).header("Content-Type", "application/json");
                for (name, value) in headers.iter() {
                    request = request.header(name.as_str(), value.as_str());
                }
                match request.send(&body[..]) {
                    Ok(_) => Ok(()),
                    Err(ureq::Error::StatusCode(code)) if (400..500).contains(&code) && code != 429 => {
                        Err(Failure::Permanent)
                    }
                    Err(_) => Err(Failure::Transient),
                }
            }
            Sink::Syslog { address, tcp, cef, origin, stream } => {
                let now = chrono::Utc::now().timestamp_micros();
                let msg = if *cef { formats::cef(alert) } else { alert.title.clone() };
                let line = formats::rfc5424(alert, origin, now, &msg);
                if *tcp {
                    if stream.is_none() {
                        let addr = resolve(address).ok_or(Failure::Transient)?;
                        let s = std::net::TcpStream::connect_timeout(&addr, DELIVERY_TIMEOUT)
                            .map_err(|_| Failure::Transient)?;
                        let _ = s.set_write_timeout(Some(DELIVERY_TIMEOUT));
                        *stream = Some(s);
                    }
                    let framed = format!("{} {line}", line.len());
                    let written = stream.as_mut().map(|s| s.write_all(framed.as_bytes()));
                    if !matches!(written, Some(Ok(()))) {
                        // Reconnect on the next attempt.
                        *stream = None;
                        return Err(Failure::Transient);
                    }
                    Ok(())
                } else {
                    let addr = resolve(address).ok_or(Failure::Transient)?;
                    let socket = std::net::UdpSocket::bind(if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })
                        .map_err(|_| Failure::Transient)?;
                    socket.send_to(line.as_bytes(), addr).map(|_| ()).map_err(|_| Failure::Transient)
                }
            }
        }
    }
}

fn resolve(address: &str) -> Option<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    address.to_socket_addrs().ok()?.next()
}

/// What the threads share: whether the run has ended (what is left is not sent), and how many
/// threads still run.
#[derive(Default)]
struct Shared {
    abandoned: AtomicBool,
    running: Mutex<usize>,
    ended: Condvar,
}

struct Queue {
    sender: SyncSender<Alert>,
    min: Severity,
    index: usize,
}

/// The alert stream that feeds every destination's queue.
pub struct Notifier {
    queues: Vec<Queue>,
    stats: Stats,
    shared: Arc<Shared>,
}

impl Notifier {
    /// Starts a thread per destination; `None` when the configuration names none.
    pub fn start(config: &NotifyConfig) -> Result<Option<Notifier>> {
        if config.webhook.is_empty() && config.syslog.is_empty() {
            return Ok(None);
        }
        let default_min = severity(config.min_severity.as_deref(), Severity::Low)?;
        let queue = config.queue.unwrap_or(DEFAULT_QUEUE).max(1);
        let retries = config.retries.unwrap_or(DEFAULT_RETRIES);
        let mut planned: Vec<(String, Sink, Severity)> = Vec::new();
        for w in &config.webhook {
            let slack = match w.format.as_deref() {
                None | Some("json") => false,
                Some("slack") => true,
                Some(other) => bail!("notify.webhook: format {other:?} is not json or slack"),
            };
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                bail!("notify.webhook: url {:?} is not an http:// or https:// URL", w.url);
            }
            let headers = w
                .headers
                .iter()
                .map(|h| {
                    h.split_once(':')
                        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                        .filter(|(n, _)| !n.is_empty())
                        .with_context(|| format!("notify.webhook: header {h:?} is not \"Name: value\""))
                })
                .collect::<Result<Vec<_>>>()?;
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(DELIVERY_TIMEOUT))
                .http_status_as_error(true)
                .build()
                .into();
            // The query string may hold a secret (a webhook key): names leave it out.
            let shown = w.url.split(['?', '#']).next().unwrap_or_default();
            let min = severity(w.min_severity.as_deref(), default_min)?;
            planned.push((
                format!("webhook:{shown}"),
                Sink::Webhook { agent, url: w.url.clone(), slack, headers },
                min,
            ));
        }
        for s in &config.syslog {
            let tcp = match s.transport.as_deref() {
                None | Some("udp") => false,
                Some("tcp") => true,
                Some(other) => bail!("notify.syslog: transport {other:?} is not udp or tcp"),
            };
            let cef = match s.format.as_deref() {
                None | Some("rfc5424") => false,
                Some("cef") => true,
                Some(other) => bail!("notify.syslog: format {other:?} is not rfc5424 or cef"),
            };
            if resolve(&s.address).is_none() {
                bail!("notify.syslog: address {:?} is not host:port", s.address);
            }
            let min = severity(s.min_severity.as_deref(), default_min)?;
            let sink = Sink::Syslog { address: s.address.clone(), tcp, cef, origin: Origin::here(), stream: None };
            planned.push((format!("syslog:{}", s.address), sink, min));
        }
        let stats: Stats = Arc::new(
            planned.iter().map(|(name, _, _)| Destination { name: name.clone(), counts: Counts::default() }).collect(),
        );
        let shared = Arc::new(Shared::default());
        let mut queues = Vec::new();
        for (index, (name, sink, min)) in planned.into_iter().enumerate() {
            let (sender, receiver) = sync_channel(queue);
            if let Ok(mut n) = shared.running.lock() {
                *n += 1;
            }
            let (stats, shared) = (stats.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("apisonar-notify-{index}"))
                .spawn(move || deliver_all(sink, receiver, &stats[index].counts, retries, &shared))
                .with_context(|| format!("cannot start the thread for {name}"))?;
            queues.push(Queue { sender, min, index });
        }
        Ok(Some(Notifier { queues, stats, shared }))
    }

    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }
}

/// One destination's thread: each alert in turn, retried with backoff. A receiver that made an
/// alert fail after every retry is taken for down: later alerts get one attempt each until one
/// goes through, so a dead receiver costs an attempt per alert, not a backoff.
fn deliver_all(mut sink: Sink, alerts: Receiver<Alert>, counts: &Counts, retries: u32, shared: &Shared) {
    let mut up = true;
    for alert in alerts.iter() {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0u32;
        let outcome = loop {
            match sink.deliver(&alert) {
                Ok(()) => {
                    up = true;
                    break &counts.sent;
                }
                Err(Failure::Transient) if up && attempt < retries && !shared.abandoned.load(Ordering::Relaxed) => {
                    attempt += 1;
                    counts.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(failure) => {
                    up &= matches!(failure, Failure::Permanent);
                    break &counts.failed;
                }
            }
        };
        if shared.abandoned.load(Ordering::Relaxed) {
            // Counted as dropped by the end of the run.
            break;
        }
        outcome.fetch_add(1, Ordering::Relaxed);
    }
    if let Ok(mut n) = shared.running.lock() {
        *n = n.saturating_sub(1);
    }
    shared.ended.notify_all();
}

impl apisonar_app::AlertStream for Notifier {
    fn stored(&mut self, alerts: &[Alert]) -> std::io::Result<()> {
        for alert in alerts {
            for q in self.queues.iter().filter(|q| alert.severity >= q.min) {
                let Some(counts) = self.stats.get(q.index).map(|d| &d.counts) else { continue };
                match q.sender.try_send(alert.clone()) {
                    Ok(()) => counts.queued.fetch_add(1, Ordering::Relaxed),
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                        counts.dropped.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Notifier {
    /// The end of a run: what is queued goes out within `DRAIN_DEADLINE`; what is left then is
    /// counted as dropped.
    fn drop(&mut self) {
        // Without senders, each thread ends when its queue is empty.
        self.queues.clear();
        let deadline = Instant::now() + DRAIN_DEADLINE;
        let Ok(mut running) = self.shared.running.lock() else { return };
        while *running > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            running = match self.shared.ended.wait_timeout(running, left) {
                Ok((guard, _)) => guard,
                Err(_) => return,
            };
        }
        if *running == 0 {
            return;
        }
        self.shared.abandoned.store(true, Ordering::Relaxed);
        drop(running);
        for d in self.stats.iter() {
            let c = &d.counts;
            let done = c.sent.load(Ordering::Relaxed).saturating_add(c.failed.load(Ordering::Relaxed));
            let left = c.queued.load(Ordering::Relaxed).saturating_sub(done);
            c.dropped.fetch_add(left, Ordering::Relaxed);
            if left > 0 {
                tracing::warn!(destination = %d.name, dropped = left, "notifications not delivered by the end of the run");
            }
        }
    }
}

/// The counts as JSON for the run summary: `{destination: {sent, failed, dropped, retries}}`.
pub fn summary(stats: &Stats) -> serde_json::Value {
    stats
        .iter()
        .map(|d| {
            let c = &d.counts;
            (
                d.name.clone(),
                serde_json::json!({
                    "sent": c.sent.load(Ordering::Relaxed),
                    "failed": c.failed.load(Ordering::Relaxed),
                    "dropped": c.dropped.load(Ordering::Relaxed),
                    "retries": c.retries.load(Ordering::Relaxed),
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}
