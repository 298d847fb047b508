//! Usage errors and help, run against the binary cargo builds for this package. Having an
//! integration test here also makes `cargo test --workspace` build the `apisonar` binary that
//! the end-to-end tests in `tests/` run.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apisonar")).args(args).output().unwrap_or_else(|e| panic!("cannot run: {e}"))
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [&[][..], &["analyze"], &["analyze", "--no-such-flag", "x.pcap"], &["frobnicate"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}: usage errors explain themselves");
    }
    let help = run(&["analyze", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--transactions"));
}
