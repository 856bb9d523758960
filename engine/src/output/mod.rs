//! Outputs: everything that turns the run's aggregate into something a person
//! or a program reads. The end-of-test summary is just another output.
//!
//! Reads [`crate::metrics::Aggregate`]; never records samples.

mod active;
mod chart;
mod csv;
pub mod dashboard;
mod export;
mod faults;
pub mod format;
pub mod handled;
mod hdr;
mod influxdb;
mod json;
mod native_histogram;
mod picture;
mod progress;
mod prometheus_rw;
mod remote;
mod report;
mod seam;
mod stream;
mod summary;
mod tables;
mod timeline;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

pub use active::{ActiveTime, Span, Spans, merge_spans};
pub use export::{
    Export, aggregate_of, build_export, merge_exports, write_checkpoint, write_export,
};
pub use hdr::{is_interval_log, merge_logs, write_percentiles};
pub use picture::{
    bins as histogram_bins, histogram as histogram_svg, png as svg_to_png, trend_of,
};
pub use progress::Goal;
pub use report::html as report_html;
pub use seam::{Output, OutputOptions, Outputs, RunInfo, Tick};
pub use summary::{render_progress, render_summary};
pub use timeline::{MAX_POINTS, Percentiles, Point, Timeline, merge_timelines};

use crate::metrics::{Aggregate, MetricError, ThresholdResult};

/// Why an export could not be read back, merged or drawn; the message names
/// the series, metric or option to fix.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A series whose stored value does not decode.
    #[error("series[{index}] ({metric}): {source}")]
    Series {
        index: usize,
        metric: String,
        #[source]
        source: MetricError,
    },
    /// A stored threshold or selector that does not parse.
    #[error(transparent)]
    Metric(#[from] MetricError),
    /// `--metric` names no trend with samples.
    #[error("--metric {selector}: {reason}")]
    NoTrend { selector: String, reason: String },
    /// The picture could not be drawn (no fonts, too large).
    #[error("{0}")]
    Drawing(String),
}

/// Everything a run produced, for outputs to render.
#[derive(Debug, Clone)]
pub struct Report {
    pub aggregate: Aggregate,
    /// Wall time from the first scenario's start to the end of teardown.
    pub elapsed: Duration,
    pub thresholds: Vec<ThresholdResult>,
    pub scenarios: Vec<ScenarioReport>,
    /// When each scenario that started was running: the divisor of its
    /// rates.
    pub active: Spans,
    /// Why the run stopped early (`abortOnFail` threshold, Ctrl-C), if it did.
    pub aborted: Option<String>,
    /// The random seed of the run (`--seed` repeats it).
    pub seed: u64,
    /// Hot swaps during the run (`--watch`), in order.
    pub swaps: Vec<crate::swap::SwapEvent>,
    /// Fault windows, injected faults and the per-target timeline.
    pub faults: Option<crate::run::FaultReport>,
    /// What the scenario's `handleSummary` gave for stdout: printed in
    /// place of the end-of-test summary.
    pub handled_summary: Option<Vec<u8>>,
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

/// Bytes of one log line printed; the rest is counted.
const MAX_LOG_LINE: usize = 8 * 1024;

/// Log lines shown per second before the rest are only counted: 10,000
/// VUs failing at once must not bury the progress lines (or the disk).
const LOG_LINES_PER_SECOND: u32 = 20;

/// (second since the epoch, lines shown in it, lines suppressed in it)
static LOG_BUDGET: std::sync::Mutex<(u64, u32, u64)> = std::sync::Mutex::new((0, 0, 0));

/// Writes one log line to stderr if `level` is enabled, at most 20 a
/// second; the count of suppressed lines is reported the next second.
pub fn log(level: &str, line: std::fmt::Arguments<'_>) {
    if !log_enabled(level) {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut budget = LOG_BUDGET.lock().unwrap_or_else(|e| e.into_inner());
    if budget.0 != now {
        if budget.2 > 0 {
            eprintln!(
                "WARN  {} more log lines were suppressed (at most {LOG_LINES_PER_SECOND} a second)",
                budget.2
            );
        }
        *budget = (now, 0, 0);
    }
    if budget.1 < LOG_LINES_PER_SECOND {
        budget.1 += 1;
        // Lines may carry guest text (an iteration's error): no escape
        // sequence reaches the terminal, and no line floods it.
        let line = line.to_string();
        eprintln!("{}", format::terminal_safe(&line, MAX_LOG_LINE));
    } else {
        budget.2 += 1;
    }
}
