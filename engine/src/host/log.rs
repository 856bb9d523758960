//! `log` import: guest log lines go to the engine's stderr, tagged with the
//! scenario and VU.

use super::VuState;
use crate::wasm::bindings::volley::scenario::log::{Host, Level};

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
                "{level:5} [{} vu={} it={}] {message}",
                self.scenario.name, self.id, self.iteration
            ),
        );
        Ok(())
    }
}
