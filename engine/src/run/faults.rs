//! Fault windows: reads each target's per-second timeline
//! ([`crate::metrics::Timeline`]) and finds the seconds where the target
//! misbehaved, the windows they form, and how long recovery took.
//!
//! The rules, simple on purpose (the README's "Faults" section says them):
//! - the baseline of a target is the median error rate and median p95 of
//!   its first [`BASELINE_SECONDS`] seconds with answers and an error rate
//!   at most 5%;
//! - a second is faulty when its error rate is above max(5%, 3x baseline),
//!   or (once the baseline is known) its p95 is above 3x the baseline p95
//!   and above 50 ms, or nothing finished while requests were in flight
//!   (`stalled`);
//! - a window is a run of faulty seconds (seconds with no requests at all
//!   neither start nor end one); it ends at the start of the first healthy
//!   second, which is when the target recovered;
//! - recovery time runs from the end of the injected fault that overlaps the
//!   window (`[[fault]]`), or from the window's start when none was
//!   injected, to the recovery. A window still open when the run ends has
//!   not recovered: its recovery time runs to the end of the run.
//!
//! Each window records one `fault_duration` and one `recovery_time` sample
//! (trends tagged `target`) when it closes, so thresholds read them like any
//! metric, `abortOnFail` ones during the run; a window still open at the end
//! records them then.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::inject::{Event, Injections};
use crate::metrics::{Kind, Metrics, Second, Tags, Timeline};

/// Healthy seconds the baseline is the median of.
pub const BASELINE_SECONDS: usize = 5;
/// Windows kept per run; more are counted only.
const MAX_WINDOWS: usize = 1000;
/// The error rate a second may always have.
const ERROR_FLOOR: f64 = 0.05;
/// A p95 below this is never a latency fault (ms).
const LATENCY_FLOOR_MS: f64 = 50.0;
/// How many times the baseline a second must exceed.
const FACTOR: f64 = 3.0;

pub const FAULT_DURATION: &str = "fault_duration";
pub const RECOVERY_TIME: &str = "recovery_time";

/// A target's normal behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Baseline {
    pub error_rate: f64,
    pub p95_ms: f64,
}

/// One fault window of one target. Times are seconds from the run's start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub target: String,
    pub start: f64,
    /// When it recovered; none: not by the end of the run.
    pub end: Option<f64>,
    pub duration: f64,
    /// What the faulty seconds showed, most frequent first: error classes
    /// (`refused`, `http_5xx`, ...), `latency`, `stalled`.
    pub causes: Vec<String>,
    pub peak_error_rate: f64,
    pub peak_p95_ms: f64,
    /// The injected fault it is matched with (`[[fault]]` number, from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injected: Option<usize>,
    /// Seconds from the injected fault's end (or the window's start) to
    /// recovery; to the end of the run when it never recovered.
    pub recovery_time: f64,
    pub recovered: bool,
}

/// What the export's `faults` key holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FaultReport {
    pub baseline: BTreeMap<String, Baseline>,
    pub windows: Vec<Window>,
    /// Windows beyond the bound, counted only.
    #[serde(skip_serializing_if = "is_zero")]
    pub windows_dropped: u64,
    pub injected: Vec<Event>,
    /// Each target's seconds (the last hour at most).
    pub timeline: BTreeMap<String, Vec<Second>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a second was.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Nothing finished and nothing was waiting.
    Idle,
    Healthy,
    Faulty(Vec<String>),
}

#[derive(Debug)]
struct Open {
    start: f64,
    causes: BTreeMap<String, u64>,
    peak_error_rate: f64,
    peak_p95_ms: f64,
}

#[derive(Debug, Default)]
struct Target {
    samples: Vec<Baseline>,
    baseline: Option<Baseline>,
    open: Option<Open>,
}

impl Target {
    fn judge(&self, s: &Second) -> Verdict {
        let base = self.baseline;
        if s.requests == 0 {
            return if s.in_flight > 0 && base.is_some() {
                Verdict::Faulty(vec!["stalled".into()])
            } else {
                Verdict::Idle
            };
        }
        let mut causes = Vec::new();
        let limit = ERROR_FLOOR.max(FACTOR * base.map_or(0.0, |b| b.error_rate));
        if s.error_rate() > limit {
            let mut errors: Vec<(String, u64)> = s.errors.clone().into_iter().collect();
            errors.sort_by_key(|e| std::cmp::Reverse(e.1));
            causes.extend(errors.into_iter().map(|(c, _)| c));
        }
        if let Some(b) = base
            && s.p95_ms > FACTOR * b.p95_ms
            && s.p95_ms > LATENCY_FLOOR_MS
        {
            causes.push("latency".into());
        }
        if causes.is_empty() {
            Verdict::Healthy
        } else {
            Verdict::Faulty(causes)
        }
    }

    fn learn(&mut self, s: &Second) {
        if self.baseline.is_some() || s.requests == 0 || s.error_rate() > ERROR_FLOOR {
            return;
        }
        self.samples.push(Baseline {
            error_rate: s.error_rate(),
            p95_ms: s.p95_ms,
        });
        if self.samples.len() == BASELINE_SECONDS {
            let median = |f: fn(&Baseline) -> f64| {
                let mut v: Vec<f64> = self.samples.iter().map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            self.baseline = Some(Baseline {
                error_rate: median(|b| b.error_rate),
                p95_ms: median(|b| b.p95_ms),
            });
        }
    }
}

/// The detector the collector feeds once a second.
#[derive(Debug)]
pub struct Faults {
    timeline: Arc<Timeline>,
    injected: Arc<Injections>,
    metrics: Metrics,
    targets: BTreeMap<String, Target>,
    windows: Vec<Window>,
    dropped: u64,
}

impl Faults {
    /// Declares `fault_duration` and `recovery_time`, so thresholds on them
    /// are valid even when no window occurs (they then have no data).
    pub fn new(timeline: Arc<Timeline>, injected: Arc<Injections>, metrics: &Metrics) -> Faults {
        for name in [FAULT_DURATION, RECOVERY_TIME] {
            let _ = metrics.declare(name, Kind::Trend);
        }
        Faults {
            targets: timeline
                .targets()
                .into_iter()
                .map(|n| (n, Target::default()))
                .collect(),
            timeline,
            injected,
            metrics: metrics.clone(),
            windows: Vec::new(),
            dropped: 0,
        }
    }

    /// Closes the second ending `at` (seconds from the run's start).
    pub fn second(&mut self, at: f64) {
        for (name, s) in self.timeline.tick(at) {
            let t = self.targets.entry(name.clone()).or_default();
            let verdict = t.judge(&s);
            match verdict {
                Verdict::Idle => {}
                Verdict::Healthy => {
                    t.learn(&s);
                    if let Some(open) = t.open.take() {
                        self.close(window(&name, open, Some(s.from)), s.from);
                    }
                }
                Verdict::Faulty(causes) => {
                    let open = t.open.get_or_insert_with(|| Open {
                        start: s.from,
                        causes: BTreeMap::new(),
                        peak_error_rate: 0.0,
                        peak_p95_ms: 0.0,
                    });
                    for c in causes {
                        *open.causes.entry(c).or_default() += 1;
                    }
                    open.peak_error_rate = open.peak_error_rate.max(s.error_rate());
                    open.peak_p95_ms = open.peak_p95_ms.max(s.p95_ms);
                }
            }
        }
    }

    /// A window ends at `end` (recovered, or the run's end): matched with
    /// the injected fault behind it, its samples recorded, kept.
    fn close(&mut self, mut w: Window, end: f64) {
        w.duration = end - w.start;
        let injected = self.injected.events();
        let found = matching(&w, end, &injected);
        w.injected = found.map(|e| e.fault);
        let from = found.map_or(w.start, |e| e.ended.unwrap_or(e.at));
        w.recovery_time = (end - from).max(0.0);
        let tags = Tags::new([("target", w.target.as_str())]);
        let m = &self.metrics;
        m.add(FAULT_DURATION, Kind::Trend, &tags, w.duration * 1e6);
        m.add(RECOVERY_TIME, Kind::Trend, &tags, w.recovery_time * 1e6);
        if self.windows.len() < MAX_WINDOWS {
            self.windows.push(w);
        } else {
            self.dropped += 1;
        }
    }

    /// The end of the run at `at`: open windows close unrecovered.
    pub fn finish(&mut self, at: f64) -> FaultReport {
        let open: Vec<(String, Open)> = self
            .targets
            .iter_mut()
            .filter_map(|(n, t)| t.open.take().map(|o| (n.clone(), o)))
            .collect();
        for (name, o) in open {
            self.close(window(&name, o, None), at);
        }
        self.windows
            .sort_by(|a, b| a.start.total_cmp(&b.start).then(a.target.cmp(&b.target)));
        FaultReport {
            baseline: self
                .targets
                .iter()
                .filter_map(|(n, t)| Some((n.clone(), t.baseline?)))
                .collect(),
            windows: self.windows.clone(),
            windows_dropped: self.dropped,
            injected: self.injected.events(),
            timeline: self.timeline.history().into_iter().collect(),
        }
    }
}

fn window(target: &str, o: Open, end: Option<f64>) -> Window {
    let mut causes: Vec<(String, u64)> = o.causes.into_iter().collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Window {
        target: target.to_string(),
        start: o.start,
        end,
        duration: end.map_or(0.0, |e| e - o.start),
        causes: causes.into_iter().map(|(c, _)| c).collect(),
        peak_error_rate: o.peak_error_rate,
        peak_p95_ms: o.peak_p95_ms,
        injected: None,
        recovery_time: 0.0,
        recovered: end.is_some(),
    }
}

/// The injected fault behind a window: on its target (or on none, for a
/// command), started by the window's end and not ended more than a second
/// before the window began; the latest such.
fn matching<'a>(w: &Window, end: f64, events: &'a [Event]) -> Option<&'a Event> {
    events
        .iter()
        .filter(|e| e.error.is_none())
        .filter(|e| e.target.as_deref().is_none_or(|t| t == w.target))
        .filter(|e| e.at <= end + 1.0 && e.ended.is_none_or(|x| x >= w.start - 1.0))
        .max_by(|a, b| a.at.total_cmp(&b.at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Feed {
        timeline: Arc<Timeline>,
        faults: Faults,
        metrics: Metrics,
        now: f64,
    }

    impl Feed {
        fn new(events: Vec<Event>) -> Feed {
            let timeline = Arc::new(Timeline::new([("api", "http://127.0.0.1:1")]));
            let metrics = Metrics::new();
            let injected = Arc::new(Injections::default());
            for e in events {
                injected.push(e);
            }
            Feed {
                faults: Faults::new(timeline.clone(), injected, &metrics),
                timeline,
                metrics,
                now: 0.0,
            }
        }

        /// One second of `n` requests taking `ms`, `failed` of them refused.
        fn second(&mut self, n: u32, ms: u64, failed: u32) {
            for i in 0..n {
                let s = self.timeline.begin("http://127.0.0.1:1/").unwrap();
                let class = (i < failed).then_some("refused");
                self.timeline.end(s, Duration::from_millis(ms), class);
            }
            self.now += 1.0;
            self.faults.second(self.now);
        }
    }

    fn event(at: f64, ended: f64) -> Event {
        Event {
            fault: 1,
            target: Some("api".into()),
            action: "stop".into(),
            at,
            ended: Some(ended),
            error: None,
            undo_error: None,
        }
    }

    #[test]
    fn an_error_window_and_its_recovery_after_the_injected_end() {
        let mut f = Feed::new(vec![event(6.0, 9.0)]);
        for _ in 0..6 {
            f.second(50, 2, 0);
        }
        for _ in 0..3 {
            f.second(50, 1, 50);
        }
        f.second(50, 2, 1); // back: 2% errors is healthy
        f.second(50, 2, 0);
        let r = f.faults.finish(11.0);
        assert_eq!(r.windows.len(), 1, "{:?}", r.windows);
        let w = &r.windows[0];
        assert_eq!((w.start, w.end, w.duration), (6.0, Some(9.0), 3.0));
        assert_eq!(w.causes, vec!["refused".to_string()]);
        assert_eq!(
            (w.injected, w.recovery_time, w.recovered),
            (Some(1), 0.0, true)
        );
        assert!(
            (r.baseline["api"].p95_ms - 2.0).abs() < 0.2,
            "{:?}",
            r.baseline
        );
        let agg = {
            f.metrics.collect();
            f.metrics.total()
        };
        assert_eq!(agg.kind_of(RECOVERY_TIME), Some(Kind::Trend));
        assert!(agg.metrics[FAULT_DURATION].by_tags.len() == 1);
    }

    #[test]
    fn latency_counts_only_after_the_baseline_and_above_50ms() {
        let mut f = Feed::new(vec![]);
        // A slow start is learned, not a fault.
        for _ in 0..5 {
            f.second(20, 30, 0);
        }
        f.second(20, 80, 0); // under 3x 30 ms
        f.second(20, 200, 0);
        f.second(20, 200, 0);
        f.second(20, 30, 0);
        let r = f.faults.finish(9.0);
        assert_eq!(r.windows.len(), 1, "{:?}", r.windows);
        let w = &r.windows[0];
        assert_eq!((w.start, w.end), (6.0, Some(8.0)));
        assert_eq!(w.causes, vec!["latency".to_string()]);
        // Nothing injected: recovery runs from the window's start.
        assert_eq!((w.injected, w.recovery_time), (None, 2.0));
    }

    #[test]
    fn stalls_idle_seconds_and_unrecovered_windows() {
        let mut f = Feed::new(vec![event(7.0, 8.0)]);
        for _ in 0..6 {
            f.second(10, 1, 0);
        }
        // Nothing at all: idle, no window.
        f.now += 1.0;
        f.faults.second(f.now);
        // Sent, never answered: stalled.
        let _stuck = f.timeline.begin("http://127.0.0.1:1/").unwrap();
        f.now += 1.0;
        f.faults.second(f.now);
        let r = f.faults.finish(10.0);
        let w = &r.windows[0];
        assert_eq!((w.start, w.end, w.recovered), (7.0, None, false));
        assert_eq!(w.causes, vec!["stalled".to_string()]);
        // Not recovered: from the injected end (8 s) to the run's end.
        assert_eq!((w.duration, w.recovery_time), (3.0, 2.0));
    }

    #[test]
    fn a_window_records_its_samples_when_it_closes_not_at_the_end() {
        let mut f = Feed::new(vec![event(6.0, 8.0)]);
        for _ in 0..6 {
            f.second(50, 2, 0);
        }
        f.second(50, 1, 50);
        f.second(50, 1, 50);
        let samples = |f: &Feed| {
            f.metrics.collect();
            match f
                .metrics
                .total()
                .metrics
                .get(RECOVERY_TIME)
                .map(|s| s.total())
            {
                Some(crate::metrics::Value::Trend(t)) => t.count,
                _ => 0,
            }
        };
        assert_eq!(samples(&f), 0, "the window is still open");
        f.second(50, 2, 0);
        assert_eq!(samples(&f), 1, "recorded as the target recovered");
        let r = f.faults.finish(10.0);
        let w = &r.windows[0];
        assert_eq!(
            (r.windows.len(), w.duration, w.recovery_time),
            (1, 2.0, 0.0)
        );
        assert_eq!(samples(&f), 1, "not recorded twice");
    }
}
