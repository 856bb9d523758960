//! The summary's FAULTS table: each fault window of each target (start,
//! end, duration, causes, recovery time) and each injected fault, from the
//! run's [`FaultReport`]. Empty when nothing was injected or detected.

use std::fmt::Write;

use super::format::printable;
use crate::run::FaultReport;

/// Windows and injections shown; the rest are counted in one line.
const ROWS: usize = 30;

pub fn table(r: &FaultReport) -> String {
    if r.windows.is_empty() && r.injected.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n  FAULTS\n");
    for e in r.injected.iter().take(ROWS) {
        let on = e
            .target
            .as_deref()
            .map_or(String::new(), |t| format!(" on {t}"));
        let ended = e
            .ended
            .map_or("never undone".into(), |x| format!("until {x:.1}s"));
        let _ = write!(
            out,
            "    injected #{} {}{on}: {:.1}s {ended}",
            e.fault, e.action, e.at
        );
        if let Some(err) = e.error.as_deref() {
            let _ = write!(out, " (failed: {})", printable(err, 300));
        }
        if let Some(err) = e.undo_error.as_deref() {
            let _ = write!(out, " (undo failed: {})", printable(err, 300));
        }
        out.push('\n');
    }
    if r.windows.is_empty() {
        let _ = writeln!(out, "    no fault window detected");
        return out;
    }
    let _ = writeln!(
        out,
        "    {:<16} {:>8} {:>8} {:>9} {:>10}  causes",
        "target", "start", "end", "duration", "recovery"
    );
    for w in r.windows.iter().take(ROWS) {
        let end = w.end.map_or("-".into(), |e| format!("{e:.1}s"));
        let recovery = if w.recovered {
            format!("{:.1}s", w.recovery_time)
        } else {
            format!(">{:.1}s", w.recovery_time)
        };
        let _ = writeln!(
            out,
            "    {:<16} {:>8} {:>8} {:>9} {:>10}  {}{}",
            w.target,
            format!("{:.1}s", w.start),
            end,
            format!("{:.1}s", w.duration),
            recovery,
            w.causes.join(", "),
            if w.recovered { "" } else { " (not recovered)" }
        );
    }
    let more = r.windows.len().saturating_sub(ROWS) as u64 + r.windows_dropped;
    if more > 0 {
        let _ = writeln!(out, "    ... and {more} more windows");
    }
    out
}
