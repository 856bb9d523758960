//! The collector: once a second, merge every worker's recorder into the
//! aggregate, expire correlation marks, feed the outputs and watch the
//! `abortOnFail` thresholds.
//!
//! It owns the run's [`Outputs`] while the run goes on and hands them back
//! when stopped, for the final tick and `finish`. It records no samples of
//! its own except the VU gauges and expired marks, and it never touches a
//! protocol client. Anything that must happen once a second (a progress
//! note, a swap's canary check) is an [`crate::output::Output`] in the list
//! or a note source, not a new loop.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::verdict::Abort;
use crate::host::Shared;
use crate::metrics::{Builtin, Metrics, Snapshot, Tags, Thresholds, mark};
use crate::output::{Outputs, Tick};
use crate::schedule::{Live, Stop};

/// Lines shown under each progress line, asked for once a second.
pub type Notes = Box<dyn Fn() -> Vec<String> + Send + Sync>;

/// Everything the collector reads and writes.
pub struct Collector {
    pub metrics: Metrics,
    pub live: Arc<Live>,
    pub shared: Arc<Shared>,
    pub stop: Stop,
    pub thresholds: Thresholds,
    pub mark_timeout: Duration,
    pub abort: Arc<Mutex<Option<Abort>>>,
    pub outputs: Outputs,
    pub notes: Notes,
    /// When the scenarios started: ticks count from here.
    pub started: Instant,
    /// Fault windows, fed each second from the per-target timeline.
    pub faults: super::faults::Faults,
    /// What [`Collector::last`] found (windows, injections, timeline).
    pub fault_report: Option<super::faults::FaultReport>,
}

/// A running collector.
pub struct Running {
    done: CancellationToken,
    task: tokio::task::JoinHandle<Collector>,
}

impl Collector {
    /// Starts the once-a-second loop.
    pub fn spawn(mut self) -> Running {
        let done = CancellationToken::new();
        let task = {
            let done = done.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        () = done.cancelled() => return self,
                    }
                    self.second();
                }
            })
        };
        Running { done, task }
    }

    /// One second: merge, tell the outputs, check `abortOnFail`.
    fn second(&mut self) {
        record_vus(&self.metrics, &self.live);
        let snap = self.metrics.collect();
        warn_overflow(&snap);
        mark::record_incomplete(&self.metrics, &self.shared.marks.expire(self.mark_timeout));
        let elapsed = self.started.elapsed();
        self.faults.second(elapsed.as_secs_f64());
        self.tell_outputs(&snap, elapsed);
        if let Some(why) = self.abort_on_fail(elapsed) {
            crate::output::log("ERROR", format_args!("aborting: {why}"));
            self.abort
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(why);
            self.stop.graceful.cancel();
            self.stop.now.cancel();
        }
    }

    /// The last tick, after teardown: what arrived since the last second
    /// (the drain, teardown, marks that never completed) reaches the
    /// outputs too, so a streamed output adds up to the summary.
    pub fn last(&mut self, elapsed: Duration) {
        record_vus(&self.metrics, &self.live);
        mark::record_incomplete(&self.metrics, &self.shared.marks.finish());
        // Before the last merge: windows record their samples now.
        let at = elapsed.as_secs_f64();
        self.faults.second(at);
        let report = self.faults.finish(at);
        let anything = !report.injected.is_empty() || !report.timeline.is_empty();
        self.fault_report = anything.then_some(report);
        let snap = self.metrics.collect();
        warn_overflow(&snap);
        self.tell_outputs(&snap, elapsed);
    }

    fn tell_outputs(&mut self, snap: &Snapshot, elapsed: Duration) {
        let notes = (self.notes)();
        // The second's peak, recorded by `record_vus` before the merge: the
        // count right now misses every VU that is between two iterations.
        let vus = snap
            .interval
            .gauge_max(Builtin::Vus.name())
            .map_or_else(|| self.live.active.load(Ordering::Relaxed), |v| v as u64);
        let outputs = &mut self.outputs;
        self.metrics.with_total(|total| {
            outputs.interval(&Tick {
                elapsed,
                interval: &snap.interval,
                total,
                vus,
                notes: &notes,
            })
        });
    }

    fn abort_on_fail(&self, elapsed: Duration) -> Option<Abort> {
        self.metrics.with_total(|total| {
            self.thresholds
                .evaluate(total, elapsed, |n| self.metrics.kind_of(n))
                .into_iter()
                .find(|r| {
                    r.metric_found
                        && !r.no_data
                        && !r.ok
                        && r.threshold.abort_on_fail
                        && elapsed >= r.threshold.delay_abort_eval
                })
                .map(|r| Abort::Threshold(r.threshold.to_string()))
        })
    }
}

impl Running {
    /// Stops the loop after the second in progress, and returns the
    /// collector with its outputs.
    pub async fn stop(self) -> Collector {
        self.done.cancel();
        self.task
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

fn warn_overflow(snap: &Snapshot) {
    for m in &snap.overflowed {
        crate::output::log(
            "WARN",
            format_args!(
                "WARN  metric `{m}` has more than {} tag sets (a tag with a new value every time?): samples with new tag sets are counted under {{overflow:true}}",
                crate::metrics::MAX_SERIES
            ),
        );
    }
}

pub fn record_vus(metrics: &Metrics, live: &Live) {
    let none = Tags::default();
    // The peak first, so the gauge's max sees it; the current count last wins.
    metrics.builtin(Builtin::Vus, &none, live.take_peak() as f64);
    metrics.builtin(
        Builtin::Vus,
        &none,
        live.active.load(Ordering::Relaxed) as f64,
    );
    metrics.builtin(
        Builtin::VusMax,
        &none,
        live.allocated.load(Ordering::Relaxed) as f64,
    );
}
