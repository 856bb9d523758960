//! `log` import: guest log lines go to the engine's stderr, tagged with the
//! scenario and VU.

use super::VuState;
use crate::wasm::bindings::volley::scenario::log::{Host, Level};

/// How the SDK's panic hook starts its report (Rust's own wording).
const PANIC_PREFIX: &str = "panicked at ";
/// A panic report is cut at this many bytes.
const PANIC_MAX: usize = 4096;

impl Host for VuState {
    fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        // The Rust SDK's panic hook: kept for the trap that follows, whose
        // error then names the panic's message and location.
        if matches!(level, Level::Error) && message.starts_with(PANIC_PREFIX) {
            // No escape sequences reach the terminal; lines stay lines.
            let mut m: String = message
                .chars()
                .filter(|c| !c.is_control() || *c == '\n')
                .collect();
            if m.len() > PANIC_MAX {
                let mut end = PANIC_MAX;
                while !m.is_char_boundary(end) {
                    end -= 1;
                }
                m.truncate(end);
                m.push_str("...");
            }
            self.panic = Some(m);
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
                "{level:5} [{} vu={} it={}] {message}",
                self.scenario.name, self.id, self.iteration
            ),
        );
        Ok(())
    }
}
