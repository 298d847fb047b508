//! `apisonar inventory`: the discovered endpoints, as a table or JSON.

use std::io::{self, Write};

use anyhow::{Context, Result};
use apisonar_engine::OverflowReason;
use apisonar_store::{SledOptions, SledStore, Store};

use crate::cli::{InventoryArgs, ListFormat};
use crate::terminal::shown;

pub fn run(args: &InventoryArgs) -> Result<u8> {
    if !args.db.exists() {
        anyhow::bail!(
            "no store at {} (fill one with `apisonar analyze --db {} CAPTURE...`)",
            args.db.display(),
            args.db.display()
        );
    }
    let store = SledStore::open(&args.db, &SledOptions::default())?;
    let mut rows = apisonar_web::views::rows(&store).context("cannot read the inventory")?;
    // Durations count back from the newest traffic of the whole store, whatever the host.
    let since = args
        .since
        .as_deref()
        .map(|t| {
            let newest = apisonar_web::views::newest_seen(&rows).unwrap_or(0);
            apisonar_web::views::parse_since(t, newest).with_context(|| format!("--since {t:?}"))
        })
        .transpose()?;
    if let Some(host) = &args.host {
        rows.retain(|r| r.host.eq_ignore_ascii_case(host) || r.host == "*");
    }
    if let Some(since) = since {
        rows = apisonar_web::views::new_since(rows, since);
    }
    let mut out = io::stdout().lock();
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            writeln!(
                out,
                "{:<28} {:<7} {:<44} {:<13} {:>7} {:>7} {:<19} {:<24} {:<15} STATUS",
                "HOST", "METHOD", "PATH", "STATE", "HITS", "P95ms", "LAST SEEN", "AUTH", "PROTOCOL"
            )?;
            for r in &rows {
                let status: Vec<String> = r.status_codes.iter().map(|(s, n)| format!("{s}:{n}")).collect();
                let p95 = r.latency.p95_us.map_or("-".to_string(), |us| format!("{:.1}", us as f64 / 1000.0));
                // A TLS row is sessions to a server name, not an endpoint; an orphan was never seen.
                let state = match (r.method.as_str(), r.tls_only) {
                    ("TLS", true) => "TLS only",
                    ("TLS", false) => "TLS",
                    _ => r.state,
                };
                let last_seen = r.seen.map_or_else(|| "never".to_string(), |(_, last)| seconds(last));
                writeln!(
                    out,
                    "{:<28} {:<7} {:<44} {:<13} {:>7} {:>7} {:<19} {:<24} {:<15} {}",
                    shown(&r.host),
                    shown(&r.method),
                    shown(&r.path),
                    state,
                    r.hits,
                    p95,
                    last_seen,
                    shown(&r.auth.join(",")),
                    if r.protocols.is_empty() { "-".to_string() } else { r.protocols.join(",") },
                    status.join(" ")
                )?;
                if let Some(new) = &r.new {
                    writeln!(out, "    new: {}", shown(&new.join(", ")))?;
                }
            }
            match since {
                Some(since) => writeln!(
                    out,
                    "{} endpoints new or with something new since {}",
                    rows.len(),
                    apisonar_web::views::rfc3339_micros(since)
                )?,
                None => writeln!(out, "{} endpoints", rows.len())?,
            }
            if rows.iter().any(|r| r.tls_only) {
                writeln!(
                    out,
                    "TLS only: encrypted sessions to a server name with no HTTP seen (no endpoint is known)"
                )?;
            }
            let mut overflow = store.overflow().context("cannot read the overflow counts")?;
            overflow.retain(|o| args.host.as_ref().is_none_or(|h| o.host.eq_ignore_ascii_case(h)));
            overflow.sort_by_key(|o| std::cmp::Reverse(o.total()));
            for o in &overflow {
                let reasons: Vec<String> = o
                    .counts
                    .iter()
                    .map(|(r, n)| match r {
                        OverflowReason::Probes if !o.examples.is_empty() => {
                            let examples: Vec<String> = o.examples.iter().map(|e| shown(e).into_owned()).collect();
                            format!("probes {n} (no route answered; e.g. {})", examples.join(" "))
                        }
                        OverflowReason::Probes => format!("probes {n} (no route answered)"),
                        _ => format!("{} {n} (over the [inventory] caps)", r.as_str()),
                    })
                    .collect();
                let host = if o.host == apisonar_engine::catalog::OTHER_HOSTS {
                    "(hosts not in the inventory)"
                } else {
                    &o.host
                };
                writeln!(out, "not catalogued on {}: {} requests: {}", shown(host), o.total(), reasons.join("; "))?;
            }
        }
    }
    Ok(0)
}

/// Microseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
fn seconds(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map_or_else(|| format!("@{micros}us"), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}
