//! When each scenario was running, so that rates are counts over the time
//! something could be counted: a scenario that starts halfway through the
//! run, or ends early, would otherwise show half its real rate.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::metrics::{Aggregate, Selector, Series};

/// One scenario's active time, in seconds since the run's clock started:
/// from its start time to the moment its executor ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub start_s: f64,
    pub end_s: f64,
}

impl Span {
    pub fn secs(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }

    /// The smallest span covering both (shards run side by side).
    pub fn hull(&self, other: &Span) -> Span {
        Span {
            start_s: self.start_s.min(other.start_s),
            end_s: self.end_s.max(other.end_s),
        }
    }
}

/// Every scenario's span, by name.
pub type Spans = BTreeMap<String, Span>;

/// The spans of both exports, each scenario's covering both; empty when
/// either has none (an export written before spans were kept), so that
/// rates fall back to the run's elapsed time rather than to half the
/// scenarios.
pub fn merge_spans(a: &Spans, b: &Spans) -> Spans {
    if a.is_empty() || b.is_empty() {
        return Spans::new();
    }
    let mut out = a.clone();
    for (name, span) in b {
        out.entry(name.clone())
            .and_modify(|s| *s = s.hull(span))
            .or_insert(*span);
    }
    out
}

/// The divisor of every rate in a report.
#[derive(Debug, Clone, Copy)]
pub struct ActiveTime<'a> {
    spans: &'a Spans,
    elapsed: Duration,
}

impl<'a> ActiveTime<'a> {
    pub fn new(spans: &'a Spans, elapsed: Duration) -> Self {
        ActiveTime { spans, elapsed }
    }

    /// Seconds during which the tag sets of `series` that match `filter`
    /// could collect samples: the union of the spans of the scenarios they
    /// are tagged with. A tag set without a `scenario` tag counts the whole
    /// load (every scenario's span); without spans, the run's elapsed time.
    pub fn secs(&self, series: &Series, filter: &[(String, String)]) -> f64 {
        let mut names = BTreeSet::new();
        for tags in series.by_tags.keys() {
            if !filter.iter().all(|(k, v)| tags.get(k) == Some(v)) {
                continue;
            }
            match tags.get("scenario") {
                Some(name) if self.spans.contains_key(name) => {
                    names.insert(name);
                }
                _ => return self.of(self.spans.keys().map(String::as_str)),
            }
        }
        self.of(names.into_iter())
    }

    /// [`ActiveTime::secs`] of what a selector picks.
    pub fn of_selector(&self, agg: &Aggregate, sel: &Selector) -> Duration {
        match agg.metrics.get(&sel.metric) {
            Some(series) => Duration::from_secs_f64(self.secs(series, &sel.filter)),
            None => self.elapsed,
        }
    }

    /// The union of the named scenarios' spans, in seconds.
    pub fn of<'n>(&self, names: impl Iterator<Item = &'n str>) -> f64 {
        let mut spans: Vec<Span> = names.filter_map(|n| self.spans.get(n).copied()).collect();
        if spans.is_empty() {
            return self.elapsed.as_secs_f64().max(1e-9);
        }
        spans.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        let mut total = 0.0;
        let mut open = spans[0];
        for s in &spans[1..] {
            if s.start_s > open.end_s {
                total += open.secs();
                open = *s;
            } else {
                open.end_s = open.end_s.max(s.end_s);
            }
        }
        (total + open.secs()).max(1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Kind, Tags, Value};

    fn span(start_s: f64, end_s: f64) -> Span {
        Span { start_s, end_s }
    }

    fn series(scenarios: &[Option<&str>]) -> Series {
        let mut s = Series::new(Kind::Counter);
        for name in scenarios {
            let tags = match name {
                Some(n) => Tags::new([("scenario", *n), ("name", "x")]),
                None => Tags::new([("name", "x")]),
            };
            s.merge_value(&tags, &Value::Counter { sum: 1.0 });
        }
        s
    }

    #[test]
    fn a_scenarios_series_divides_by_its_own_span_and_several_by_their_union() {
        let spans: Spans = [
            ("late".to_string(), span(30.0, 60.0)),
            ("early".to_string(), span(0.0, 10.0)),
            ("overlap".to_string(), span(5.0, 35.0)),
        ]
        .into();
        let t = ActiveTime::new(&spans, Duration::from_secs(62));
        assert_eq!(t.secs(&series(&[Some("late")]), &[]), 30.0);
        assert_eq!(t.secs(&series(&[Some("late"), Some("early")]), &[]), 40.0);
        assert_eq!(t.secs(&series(&[Some("late"), Some("overlap")]), &[]), 55.0);
        // Untagged: the whole load, which was never idle here.
        assert_eq!(t.secs(&series(&[None]), &[]), 60.0);
        let filter = [("scenario".to_string(), "early".to_string())];
        assert_eq!(
            t.secs(&series(&[Some("late"), Some("early")]), &filter),
            10.0
        );
    }

    #[test]
    fn without_spans_rates_use_the_elapsed_time() {
        let spans = Spans::new();
        let t = ActiveTime::new(&spans, Duration::from_secs(8));
        assert_eq!(t.secs(&series(&[Some("late")]), &[]), 8.0);
    }

    #[test]
    fn merged_spans_cover_both_shards_or_neither() {
        let a: Spans = [("s".to_string(), span(1.0, 5.0))].into();
        let b: Spans = [
            ("s".to_string(), span(0.5, 4.0)),
            ("t".into(), span(2.0, 3.0)),
        ]
        .into();
        let m = merge_spans(&a, &b);
        assert_eq!(m["s"], span(0.5, 5.0));
        assert_eq!(m["t"], span(2.0, 3.0));
        assert!(merge_spans(&a, &Spans::new()).is_empty());
    }
}
