//! Progress on stderr once a second. On a terminal: one bar per scenario
//! (`indicatif`) with done/total and percent where the total is known
//! (iterations, or the scenario's duration), the rate, successes,
//! failures, the ETA and a recent p95. Elsewhere (CI logs, pipes): one
//! plain line per second. Notes other parts of the engine attach (a Kafka
//! track's counts) follow either.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::format::{number, time_us};
use super::seam::{Output, RunInfo, Tick};
use super::summary::render_progress;
use crate::Error;
use crate::metrics::{Aggregate, Value};

/// How far a scenario is along, as a bar measures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Ends after this many iterations.
    Iterations(u64),
    /// Runs for this long from its start time.
    Duration { start: Duration, length: Duration },
}

pub struct Progress {
    bars: Option<Bars>,
    tty: bool,
}

struct Bars {
    multi: MultiProgress,
    /// (scenario, its goal, its bar)
    list: Vec<(String, Goal, ProgressBar)>,
}

impl Progress {
    /// Bars when `tty`, plain lines otherwise.
    pub fn new(tty: bool) -> Progress {
        Progress { bars: None, tty }
    }
}

impl Output for Progress {
    fn name(&self) -> &str {
        "progress"
    }

    fn start(&mut self, info: &RunInfo) -> Result<(), Error> {
        if !self.tty || info.goals.is_empty() {
            return Ok(());
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {pos}/{len} ({percent}%) | {msg} | ETA: {eta}",
        )
        .map_err(|e| Error::Other(format!("progress bar template: {e}")))?
        .progress_chars("█▉░");
        let list = info
            .scenarios
            .iter()
            .zip(&info.goals)
            .map(|(s, goal)| {
                let len = match goal {
                    Goal::Iterations(n) => *n,
                    Goal::Duration { length, .. } => length.as_secs().max(1),
                };
                let bar = multi.add(ProgressBar::new(len).with_style(style.clone()));
                bar.set_prefix(s.name.clone());
                (s.name.clone(), *goal, bar)
            })
            .collect();
        self.bars = Some(Bars { multi, list });
        Ok(())
    }

    fn interval(&mut self, tick: &Tick<'_>) -> Result<(), Error> {
        let Some(bars) = &self.bars else {
            let mut text = render_progress(tick.elapsed, tick.interval, tick.total, tick.vus);
            for note in tick.notes {
                text.push_str("\n  ");
                text.push_str(note);
            }
            eprintln!("{text}");
            return Ok(());
        };
        for (name, goal, bar) in &bars.list {
            let s = scenario_counts(tick.total, tick.interval, name);
            bar.set_position(match goal {
                Goal::Iterations(_) => s.iterations as u64,
                Goal::Duration { start, length } => {
                    tick.elapsed.saturating_sub(*start).min(*length).as_secs()
                }
            });
            bar.set_message(s.message());
        }
        for note in tick.notes {
            // A bar redraw must not swallow the note: print above the bars.
            let _ = bars.multi.println(format!("  {note}"));
        }
        Ok(())
    }

    fn finish(&mut self, _report: &super::Report) -> Result<(), Error> {
        if let Some(bars) = self.bars.take() {
            for (_, _, bar) in &bars.list {
                bar.abandon();
            }
        }
        Ok(())
    }
}

/// One scenario's numbers for its bar.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    iterations: f64,
    failed: f64,
    per_second: f64,
    /// The second's p95 of `http_req_duration`, else `iteration_duration`.
    p95: Option<String>,
}

impl Counts {
    fn message(&self) -> String {
        let mut m = format!(
            "{}/s | ok {} | failed {}",
            number(self.per_second),
            number(self.iterations - self.failed),
            number(self.failed)
        );
        if let Some(p) = &self.p95 {
            m.push_str(" | ");
            m.push_str(p);
        }
        m
    }
}

fn scenario_counts(total: &Aggregate, interval: &Aggregate, name: &str) -> Counts {
    let filter = [("scenario".to_string(), name.to_string())];
    let sum = |agg: &Aggregate, metric: &str| match agg
        .metrics
        .get(metric)
        .map(|s| s.matching(&filter))
    {
        Some(Value::Counter { sum }) => sum,
        _ => 0.0,
    };
    let p95 = ["http_req_duration", "iteration_duration"]
        .iter()
        .find_map(
            |m| match interval.metrics.get(*m).map(|s| s.matching(&filter)) {
                Some(Value::Trend(t)) if t.count > 0 => {
                    Some(format!("p95 {}", time_us(t.percentile(95.0))))
                }
                _ => None,
            },
        );
    Counts {
        iterations: sum(total, "iterations"),
        failed: sum(total, "iterations_failed"),
        per_second: sum(interval, "iterations"),
        p95,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Kind, Tags};

    #[test]
    fn a_bar_counts_only_its_scenario() {
        let mut agg = Aggregate::default();
        let mut add = |scenario: &str, metric: &str, kind: Kind, samples: &[f64]| {
            let mut v = Value::new(kind);
            for s in samples {
                v.add(*s, 0);
            }
            agg.merge_value(metric, &Tags::new([("scenario", scenario)]), &v);
        };
        add("a", "iterations", Kind::Counter, &[5.0]);
        add("a", "iterations_failed", Kind::Counter, &[2.0]);
        add("a", "iteration_duration", Kind::Trend, &[4000.0]);
        add("b", "iterations", Kind::Counter, &[7.0]);
        let a = scenario_counts(&agg, &agg, "a");
        assert_eq!((a.iterations, a.failed, a.per_second), (5.0, 2.0, 5.0));
        assert_eq!(a.message(), "5/s | ok 3 | failed 2 | p95 4.00ms");
        let b = scenario_counts(&agg, &agg, "b");
        assert_eq!(b.message(), "7/s | ok 7 | failed 0");
    }
}
