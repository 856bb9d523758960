//! Outputs: everything that turns the run's aggregate into something a person
//! or a program reads. The end-of-test summary is just another output.
//!
//! Reads [`crate::metrics::Aggregate`]; never records samples.

mod export;
mod format;
mod summary;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

pub use export::{Export, aggregate_of, build_export, merge_exports, write_export};
pub use summary::{render_progress, render_summary};

use crate::metrics::{Aggregate, ThresholdResult};

/// Everything a run produced, for outputs to render.
#[derive(Debug, Clone)]
pub struct Report {
    pub aggregate: Aggregate,
    /// Wall time from the first scenario's start to the end of teardown.
    pub elapsed: Duration,
    pub thresholds: Vec<ThresholdResult>,
    pub scenarios: Vec<ScenarioReport>,
    /// Why the run stopped early (`abortOnFail` threshold, Ctrl-C), if it did.
    pub aborted: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub name: String,
    pub executor: String,
    pub component: String,
    pub max_vus: u32,
}

static LOG_LEVEL: AtomicU8 = AtomicU8::new(2);

fn level_num(level: &str) -> u8 {
    match level {
        "TRACE" => 0,
        "DEBUG" => 1,
        "INFO" => 2,
        "WARN" => 3,
        _ => 4,
    }
}

/// Sets the lowest level guest log lines are shown at (`info` by default).
pub fn set_log_level(level: &str) {
    LOG_LEVEL.store(level_num(&level.to_ascii_uppercase()), Ordering::Relaxed);
}

pub fn log_enabled(level: &str) -> bool {
    level_num(level) >= LOG_LEVEL.load(Ordering::Relaxed)
}
