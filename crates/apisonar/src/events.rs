//! Where the flow workers' events go, on the thread that owns the application core: the outputs,
//! and with a store the core (analysed transactions, TLS handshakes, commands from the
//! dashboard between them).

use apisonar_app::{CommandQueue, Core};
use apisonar_flow::Stats;

use crate::outputs::Outputs;
use crate::pipeline::{Event, Returns};

pub struct Events {
    pub outputs: Outputs,
    pub core: Option<Core>,
    /// Commands from the dashboard (when it runs in this process).
    pub commands: Option<CommandQueue>,
    /// The flow workers' counters, added up as they finish.
    pub stats: Stats,
}

impl Events {
    /// Handles one event; what was made on a flow worker and is no longer needed goes to
    /// `returns`, to be freed on that worker.
    pub fn handle(&mut self, event: Event, returns: &mut Returns) {
        match event {
            Event::Transaction(txn, analysis) => {
                if let (Some(core), Some(analysis)) = (self.core.as_mut(), analysis) {
                    crate::contain::contained("merge", || {
                        #[cfg(debug_assertions)]
                        crate::contain::test_trigger::check("merge", &analysis.observation.target);
                        core.apply(analysis)
                    });
                }
                if let Some(txn) = txn {
                    self.outputs.transaction(&txn);
                    returns.transaction(txn);
                }
            }
            Event::Connection(c) => self.outputs.connection(&c),
            Event::Message(analysis) => {
                if let (Some(core), Some(analysis)) = (self.core.as_mut(), analysis) {
                    crate::contain::contained("merge", || core.apply_message(*analysis));
                }
            }
            Event::Tls(record) => {
                let (observation, line) = crate::records::tls_handshake(&record);
                if let Some(core) = self.core.as_mut() {
                    crate::contain::contained("merge", || core.apply_tls(&observation));
                }
                self.outputs.tls(&line);
            }
            Event::Finished(s) => self.stats.merge(&s),
            // Once a batch of events: the dashboard's commands, the write each second, and what
            // the batch's merges left for its worker to free.
            Event::Tick => {
                if let Some(core) = self.core.as_mut() {
                    if let Some(queue) = &self.commands {
                        core.serve(queue);
                    }
                    core.tick();
                    core.hand_back(returns.leftovers());
                }
            }
        }
    }
}
