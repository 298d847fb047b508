//! apisonar: passive API discovery from mirrored traffic or capture files.
//!
//! The binary owns the command line, reading captures with libpcap, output files and exit codes;
//! protocol and discovery logic live in the library crates.

mod alerts;
mod analyze;
mod capture;
mod cli;
mod config;
mod contain;
mod daemon;
mod events;
mod export;
mod inventory;
mod notify;
mod observe;
mod outputs;
mod overrides;
mod pipeline;
mod posture;
mod records;
mod savefile;
mod serve;
mod specs;
mod store;
mod summary;
mod telemetry;
mod terminal;
mod web;

use std::process::ExitCode;

/// Flow workers allocate transactions that the inventory thread frees; glibc's allocator spent
/// a fifth of the pipeline's time on that hand-over (arena locks, page faults), mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

/// Exit codes: 0 done, 1 input errors (some input could not be read), 2 usage.
pub(crate) const EXIT_INPUT_ERROR: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;
/// SIGINT or SIGTERM stopped the run; what was read is analysed and stored.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    contain::install_panic_hook();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        cli::Command::Analyze(args) => analyze::run(&args),
        cli::Command::Run(args) => daemon::run(&args),
        cli::Command::Inventory(args) => inventory::run(&args),
        cli::Command::Export(cli::ExportCommand::Openapi(args)) => export::openapi(&args),
        cli::Command::Export(cli::ExportCommand::Postman(args)) => export::postman(&args),
        cli::Command::Template(cmd) => overrides::run(&cmd),
        cli::Command::Spec(cmd) => specs::run(&cmd),
        cli::Command::Alerts(args) => alerts::run(&args),
        cli::Command::Serve(args) => serve::run(&args),
        cli::Command::Token(cmd) => serve::token(&cmd),
    };
    match result {
        Ok(outcome) => ExitCode::from(outcome),
        Err(e) => {
            eprintln!("apisonar: error: {e:#}");
            ExitCode::from(EXIT_INPUT_ERROR)
        }
    }
}
