//! `log` import: guest log lines go to the engine's stderr, tagged with the
//! scenario and VU; rate-limited, cut at 4 KiB and with control characters
//! shown, not acted on.

use super::VuState;
use crate::wasm::bindings::volley::scenario::log::{Host, Level};

/// The most of one guest log line that is printed, in bytes.
const MAX_LINE: usize = 4096;

impl Host for VuState {
    fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
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
