//! The JSON-lines outputs of a run: transactions, connections and TLS handshakes (files or
//! standard output, created owner-only), and the stream of stored alerts (`--alerts`).

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use apisonar_engine::sensitive::MaskKey;
use apisonar_flow::{ConnectionSummary, HttpTransaction};
use serde::Serialize;

use crate::records::{ConnectionRecord, Targets, TransactionRecord};

/// A JSON-lines output (a file or stdout); `Send` so that the store writer can own the alert stream.
pub type Output = Box<dyn Write + Send>;

pub fn open_output(path: &Path) -> Result<Output> {
    if path == Path::new("-") {
        Ok(Box::new(BufWriter::with_capacity(1 << 16, io::stdout())))
    } else {
        // Owner-only: transactions and alerts describe traffic (masked, but still private).
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Box::new(BufWriter::with_capacity(1 << 16, file)))
    }
}

/// The per-event outputs. A failing one (a closed pipe) stops being written; the first error is
/// kept and reported at the end, analysis goes on.
pub struct Outputs {
    pub transactions: Option<Output>,
    /// How request targets are written to `transactions`.
    pub targets: Targets,
    pub connections: Option<Output>,
    pub tls: Option<Output>,
    pub error: Option<io::Error>,
}

impl Outputs {
    fn record(out: &mut Option<Output>, error: &mut Option<io::Error>, value: &impl Serialize) {
        let Some(w) = out else { return };
        let result = serde_json::to_writer(&mut *w, value).map_err(io::Error::from).and_then(|()| w.write_all(b"\n"));
        if let Err(e) = result {
            error.get_or_insert(e);
            *out = None;
        }
    }

    pub fn transaction(&mut self, txn: &HttpTransaction) {
        if self.transactions.is_some() {
            Outputs::record(&mut self.transactions, &mut self.error, &TransactionRecord::new(txn, self.targets));
        }
    }

    pub fn connection(&mut self, summary: &ConnectionSummary) {
        if self.connections.is_some() {
            Outputs::record(&mut self.connections, &mut self.error, &ConnectionRecord::new(summary));
        }
    }

    pub fn tls(&mut self, record: &crate::records::TlsHandshakeRecord) {
        if self.tls.is_some() {
            Outputs::record(&mut self.tls, &mut self.error, record);
        }
    }

    /// Flushes every output; the first error of the run, if any.
    pub fn finish(&mut self) -> Result<()> {
        for w in [self.transactions.as_mut(), self.connections.as_mut(), self.tls.as_mut()].into_iter().flatten() {
            if let Err(e) = w.flush() {
                self.error.get_or_insert(e);
            }
        }
        match self.error.take() {
            Some(e) => Err(e).context("cannot write output"),
            None => Ok(()),
        }
    }
}

/// How `--transactions` writes targets: raw when asked, else masked with the store's key (or,
/// without a store, a key of this run only).
pub fn targets(raw: bool, store_key: Option<MaskKey>) -> Targets {
    if raw {
        return Targets::Raw;
    }
    let key = store_key.unwrap_or_else(|| {
        let mut fresh = [0u8; 32];
        // Without randomness the fixed default key still masks; it only makes hashes linkable.
        let _ = getrandom::fill(&mut fresh);
        MaskKey::new(fresh)
    });
    Targets::Masked(key)
}

/// The alert stream: every alert as stored, one JSON line each (the same form as
/// `apisonar alerts --format json`).
pub struct AlertLines(pub Output);

/// Several alert streams fed the same alerts, in order.
pub struct Fanout(pub Vec<Box<dyn apisonar_app::AlertStream>>);

impl apisonar_app::AlertStream for Fanout {
    fn stored(&mut self, alerts: &[apisonar_engine::Alert]) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.stored(alerts))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.flush())
    }
}

impl apisonar_app::AlertStream for AlertLines {
    fn stored(&mut self, alerts: &[apisonar_engine::Alert]) -> io::Result<()> {
        for alert in alerts {
            serde_json::to_writer(&mut self.0, &apisonar_web::views::AlertRecord::new(alert))?;
            self.0.write_all(b"\n")?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
