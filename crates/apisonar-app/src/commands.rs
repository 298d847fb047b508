//! Changes people ask for (the dashboard, the command line, a reload): sent to the thread that
//! owns the core and run there in order with the traffic, so that no change races another.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

use apisonar_engine::behavior::Thresholds;
use apisonar_engine::suppression::Suppression;
use apisonar_engine::{Alert, AlertChange, Spec};
use apisonar_store::TemplateOverride;

use crate::CoreError;

/// A change to the inventory.
#[derive(Debug)]
pub enum Command {
    /// Acknowledge, resolve or reopen an alert, assign it or comment on it: made by `by` (a user,
    /// `token:NAME`, `cli:USER`) at `at` (wall time, microseconds since the epoch).
    ChangeAlert {
        id: u64,
        change: AlertChange,
        by: String,
        at: i64,
    },
    /// Store (or replace) a spec: the catalog follows its templates at once and shadow/zombie
    /// alerts are raised.
    AddSpec(Box<Spec>),
    /// Remove a spec by name; alerts are re-derived.
    RemoveSpec(String),
    /// Pin a template (a user override of templating).
    Pin(TemplateOverride),
    Unpin(TemplateOverride),
    /// Mute an alert kind for an endpoint, a client or a host (its id is given here).
    AddSuppression(Box<Suppression>),
    RemoveSuppression(u64),
    /// New detector thresholds and spec files (SIGHUP): specs stored and applied, then posture.
    Reload {
        thresholds: Box<Thresholds>,
        specs: Vec<Spec>,
    },
}

/// What a command did.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The alert as it is now; `None` when there is no such alert.
    Alert(Option<Box<Alert>>),
    /// Shadow/zombie alerts new or changed by the command (and for a spec, its operations).
    Posture { operations: usize, alerts: usize },
    /// Whether something was removed.
    Removed(bool),
    /// How many stored endpoints a pin folded.
    Pinned(usize),
    /// A suppression rule as stored.
    Suppression(Box<Suppression>),
}

type Request = (Command, Sender<Result<Outcome, CoreError>>);

/// Sends commands to the core and waits for their outcome. Cloneable; the core stops taking
/// commands when every handle is gone.
#[derive(Clone, Debug)]
pub struct Commands {
    requests: Sender<Request>,
}

/// The core's end: where commands arrive.
#[derive(Debug)]
pub struct CommandQueue {
    requests: Receiver<Request>,
}

/// How long a caller waits for a command (the core may be busy with a burst of traffic, or a
/// store write it waits for).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A handle and the queue it sends to.
pub fn command_channel() -> (Commands, CommandQueue) {
    let (requests, rx) = channel();
    (Commands { requests }, CommandQueue { requests: rx })
}

impl Commands {
    /// Runs `command` on the core's thread and waits for what it did (blocking: call it off an
    /// async runtime's threads).
    pub fn run(&self, command: Command) -> Result<Outcome, CoreError> {
        let (reply, answer) = channel();
        self.requests.send((command, reply)).map_err(|_| CoreError::Gone)?;
        answer.recv_timeout(COMMAND_TIMEOUT).map_err(|_| CoreError::Gone)?
    }
}

impl CommandQueue {
    /// The next waiting command, if any.
    pub(crate) fn try_next(&self) -> Option<Request> {
        self.requests.try_recv().ok()
    }

    /// Waits up to `timeout` for a command; `Err(true)` when every handle is gone.
    pub(crate) fn next_within(&self, timeout: Duration) -> Result<Request, bool> {
        match self.requests.recv_timeout(timeout) {
            Ok(r) => Ok(r),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(false),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(true),
        }
    }
}
