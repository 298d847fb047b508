//! Containment: a bug in the analysis of one transaction costs that transaction, not the sensor.
//! Analysis on the flow workers and the merge on the inventory thread run under `catch_unwind`;
//! a caught panic is counted (`analysis_panic`) and logged with its code location only, because
//! panic messages can quote the attacker's bytes (a bad string slice prints the string).

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

/// The anomaly name under which caught panics are reported.
pub const ANALYSIS_PANIC: &str = "analysis_panic";

static PANICS: AtomicU64 = AtomicU64::new(0);

/// Log lines for caught panics: the first few, then one per `LOG_EVERY`, so that a crafted
/// request repeated at line rate cannot flood the log.
const LOG_FIRST: u64 = 10;
const LOG_EVERY: u64 = 10_000;

thread_local! {
    /// Set while a contained section runs: the panic hook then stays quiet and leaves the location here.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics caught so far in this process.
pub fn analysis_panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// `(analysis_panic, count)` when a panic was caught, for the lists of anomalies.
pub fn panic_anomaly() -> Option<(String, u64)> {
    let n = analysis_panics();
    (n > 0).then(|| (ANALYSIS_PANIC.to_string(), n))
}

/// Runs `f`; if it panics, counts and logs it and returns `None`. `stage` names what was lost.
pub fn contained<T>(stage: &'static str, f: impl FnOnce() -> T) -> Option<T> {
    let outer = CONTAINED.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(outer));
    match result {
        Ok(value) => Some(value),
        Err(_) => {
            let n = PANICS.fetch_add(1, Ordering::Relaxed).saturating_add(1);
            if n <= LOG_FIRST || n.is_multiple_of(LOG_EVERY) {
                let location = LOCATION.with(RefCell::take).unwrap_or_else(|| "unknown".into());
                tracing::error!(stage, %location, total = n, "analysis panicked; that transaction was skipped");
            }
            None
        }
    }
}

/// Replaces the default panic output (which prints the message, and with it possibly traffic
/// bytes) by the thread and code location. `APISONAR_PANIC_DETAILS=1` adds the message, for
/// debugging on data that may be shown.
pub fn install_panic_hook() {
    let details = std::env::var_os("APISONAR_PANIC_DETAILS").is_some_and(|v| v == "1");
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map_or_else(|| "unknown".to_string(), |l| format!("{}:{}", l.file(), l.line()));
        if CONTAINED.with(Cell::get) {
            // `contained` logs it, rate-limited.
            LOCATION.with(|c| c.replace(Some(location)));
            return;
        }
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        if details {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("apisonar: internal error in thread {thread} at {location}: {message}");
        } else {
            eprintln!("apisonar: internal error in thread {thread} at {location} (APISONAR_PANIC_DETAILS=1 shows the message)");
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_is_counted_and_the_caller_goes_on() {
        let before = analysis_panics();
        let value: Option<u32> = contained("test", || {
            let s = String::from("1234567é");
            // A bad slice, like the classifier bug that could stop the sensor.
            let cut = s.len() - 1;
            s.get(..cut).map_or_else(|| panic!("cut inside a character"), |_| 1)
        });
        assert_eq!(value, None);
        assert_eq!(analysis_panics(), before + 1);
        assert_eq!(contained("test", || 7), Some(7));
        assert_eq!(analysis_panics(), before + 1);
    }
}

/// Debug builds only: `APISONAR_TEST_PANIC=STAGE:MARKER` makes the analysis (`analysis`, on the
/// workers) or the merge (`merge`, on the core's thread) panic for every request whose target
/// contains MARKER, so tests can show that containment costs only those transactions.
#[cfg(debug_assertions)]
pub mod test_trigger {
    use std::sync::OnceLock;

    fn setting() -> Option<&'static (String, String)> {
        static SETTING: OnceLock<Option<(String, String)>> = OnceLock::new();
        SETTING
            .get_or_init(|| {
                let v = std::env::var("APISONAR_TEST_PANIC").ok()?;
                let (stage, marker) = v.split_once(':')?;
                Some((stage.to_string(), marker.to_string()))
            })
            .as_ref()
    }

    pub fn check(stage: &str, target: &str) {
        if let Some((s, marker)) = setting() {
            if s == stage && target.contains(marker.as_str()) {
                panic!("test trigger in {stage}");
            }
        }
    }
}
