//! `log` import: guest log lines go to the engine's stderr, tagged with the
//! scenario and VU; rate-limited, cut at 4 KiB and with control characters
//! shown, not acted on.

use super::VuState;
use crate::wasm::bindings::volley::scenario::log::{Host, Level};

/// The most of one guest log line that is printed, in bytes.
const MAX_LINE: usize = 4096;
/// How the SDK's panic hook starts its report (Rust's own wording).
const PANIC_PREFIX: &str = "panicked at ";

impl Host for VuState {
    fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        // The Rust SDK's panic hook: kept for the trap that follows, whose
        // error then names the panic's message and location.
        if matches!(level, Level::Error) && message.starts_with(PANIC_PREFIX) {
            // No escape sequences reach the terminal.
            let m = crate::output::format::printable(&message, MAX_LINE).into_owned();
            self.instance.panic = Some(m);
            return Ok(());
        }
        let level = match level {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        };
        crate::output::log(
            level,
            format_args!(
                "{level:5} [{} vu={} it={}] {}",
                self.scenario.name,
                self.id,
                self.iteration,
                crate::output::format::printable(&message, MAX_LINE)
            ),
        );
        Ok(())
    }
}
