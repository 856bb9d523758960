//! The per-second timeline of a run: one [`Point`] per collector tick
//! (throughput, failures, key latency percentiles, errors by class, Kafka
//! lag, iterations per version), kept in the summary export and read by
//! `volley report` and the dashboard.
//!
//! Memory stays bounded whatever the run's length: past [`MAX_POINTS`]
//! points, adjacent points are merged pairwise and later ticks are grouped
//! at the new resolution, so a 10-hour run keeps at most 3,600 points.
//! Points hold percentiles, not histograms: merging two points (compaction,
//! `volley merge`) sums counts, keeps the larger max and takes the
//! count-weighted mean of each percentile, an approximation. Exact
//! percentiles of the whole run are the export's `series`.
//!
//! Reads a [`Tick`]'s aggregates; records nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::seam::Tick;
use crate::metrics::{Aggregate, Builtin, Kind, Value};

/// Points kept before the resolution halves.
pub const MAX_POINTS: usize = 3_600;

/// Trends a point holds at most (custom trend names come from scenarios).
pub const MAX_TRENDS: usize = 20;

/// The trends every point shows when the run has them, before custom ones.
const KEY_TRENDS: &[&str] = &[
    "http_req_duration",
    "iteration_duration",
    "kafka_e2e_latency",
    "ws_fanout_latency",
    "kafka_produce_ack",
];

/// One interval of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// End of the interval, seconds since the scenarios started.
    pub t: f64,
    /// Seconds the interval covers (1, or more once compacted).
    pub span: f64,
    /// VUs running an iteration at the end of the interval (the peak of a
    /// compacted point; the sum over shards in a merge).
    pub vus: u64,
    pub iterations: u64,
    pub iterations_failed: u64,
    pub http_reqs: u64,
    pub http_failed: u64,
    /// `http_reqs / span`.
    pub rps: f64,
    /// Latency per trend, milliseconds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trends: BTreeMap<String, Percentiles>,
    /// Failures in the interval by class: `iteration:<class>`,
    /// `http:<error>`, `ws:<class>`, `kafka:<class>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
    /// Kafka consumer lag per watched group (last value seen).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lag: BTreeMap<String, f64>,
    /// Iterations per component version, once the run has more than one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<String, u64>,
}

/// A trend in one interval, in milliseconds (the trend's own unit / 1000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(t: &crate::metrics::Trend) -> Percentiles {
        let ms = |us: f64| us / 1000.0;
        Percentiles {
            count: t.count,
            p50: ms(t.percentile(50.0)),
            p90: ms(t.percentile(90.0)),
            p95: ms(t.percentile(95.0)),
            p99: ms(t.percentile(99.0)),
            max: ms(t.max as f64),
        }
    }

    /// Count-weighted mean of the percentiles (an approximation), larger max.
    fn merge(&mut self, o: &Percentiles) {
        let n = self.count + o.count;
        if n == 0 {
            return;
        }
        let (a, b) = (self.count as f64 / n as f64, o.count as f64 / n as f64);
        let mix = |x: f64, y: f64| x * a + y * b;
        self.p50 = mix(self.p50, o.p50);
        self.p90 = mix(self.p90, o.p90);
        self.p95 = mix(self.p95, o.p95);
        self.p99 = mix(self.p99, o.p99);
        self.max = self.max.max(o.max);
        self.count = n;
    }
}

/// How two points combine: one after the other (compaction) or side by
/// side (shards of one run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Sequence,
    Parallel,
}

impl Point {
    /// The point of one tick; `trends` names the trends to keep.
    pub fn of(tick: &Tick<'_>, trends: &[String], versions: bool) -> Point {
        let agg = tick.interval;
        let count = |name: &str| agg.counter(name).max(0.0) as u64;
        let (http_failed, _) = rate_of(agg, "http_req_failed");
        let mut p = Point {
            t: tick.elapsed.as_secs_f64(),
            span: 1.0,
            vus: tick.vus,
            iterations: count("iterations"),
            iterations_failed: count("iterations_failed"),
            http_reqs: count("http_reqs"),
            http_failed,
            ..Point::default()
        };
        for name in trends {
            if let Some(Value::Trend(t)) = agg.metrics.get(name).map(|s| s.total())
                && t.count > 0
            {
                p.trends.insert(name.clone(), Percentiles::of(&t));
            }
        }
        for (metric, key, prefix) in [
            ("iterations_failed", "class", "iteration"),
            ("ws_errors", "class", "ws"),
            ("kafka_produce_failed", "class", "kafka"),
        ] {
            for (class, v) in agg.by_tag(metric, key) {
                if let Value::Counter { sum } = v
                    && sum > 0.0
                {
                    *p.errors.entry(format!("{prefix}:{class}")).or_default() += sum as u64;
                }
            }
        }
        for (class, v) in agg.by_tag("http_req_failed", "error") {
            if let Value::Rate { trues, .. } = v
                && trues > 0
            {
                *p.errors.entry(format!("http:{class}")).or_default() += trues;
            }
        }
        for (group, v) in agg.by_tag("kafka_consumer_lag", "group") {
            if let Value::Gauge { value, .. } = v {
                p.lag.insert(group, value);
            }
        }
        if versions {
            for (version, v) in agg.by_tag("iterations", "version") {
                if let Value::Counter { sum } = v {
                    p.versions.insert(version, sum as u64);
                }
            }
        }
        p.rps = p.http_reqs as f64 / p.span;
        p
    }

    fn join(&mut self, o: &Point, how: Join) {
        match how {
            Join::Sequence => {
                // The later lag is the current one.
                let (mut lag, later) = if o.t >= self.t {
                    (self.lag.clone(), &o.lag)
                } else {
                    (o.lag.clone(), &self.lag)
                };
                lag.extend(later.iter().map(|(k, v)| (k.clone(), *v)));
                self.lag = lag;
                self.t = self.t.max(o.t);
                self.span += o.span;
                self.vus = self.vus.max(o.vus);
            }
            Join::Parallel => {
                self.t = self.t.max(o.t);
                self.span = self.span.max(o.span);
                self.vus += o.vus;
                for (g, v) in &o.lag {
                    let mine = self.lag.entry(g.clone()).or_insert(*v);
                    *mine = mine.max(*v);
                }
            }
        }
        self.iterations += o.iterations;
        self.iterations_failed += o.iterations_failed;
        self.http_reqs += o.http_reqs;
        self.http_failed += o.http_failed;
        for (k, v) in &o.trends {
            self.trends.entry(k.clone()).or_default().merge(v);
        }
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.versions {
            *self.versions.entry(k.clone()).or_default() += v;
        }
        self.rps = self.http_reqs as f64 / self.span.max(1e-9);
    }
}

/// `(trues, total)` of a rate metric over every tag set.
fn rate_of(agg: &Aggregate, name: &str) -> (u64, u64) {
    match agg.metrics.get(name).map(|s| s.total()) {
        Some(Value::Rate { trues, total }) => (trues, total),
        _ => (0, 0),
    }
}

/// The growing timeline of a run.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    points: Vec<Point>,
    /// Ticks one point covers now: 1, then 2, 4, ... after each compaction.
    per_point: u32,
    /// Ticks of the point being filled, and how many it has.
    pending: Option<(Point, u32)>,
    /// The trends points keep, chosen as they first appear.
    trends: Vec<String>,
    /// Whether the run has seen more than one component version.
    versions: bool,
    /// When the last tick was, seconds since the scenarios started.
    last_t: f64,
}

/// A tick this much closer than a second to the one before is a partial
/// second (the final tick, after the drain): its rates are over its own
/// length, not a whole second's. Regular ticks keep a span of exactly 1,
/// which shards' timelines align on.
const PARTIAL: f64 = 0.9;

impl Timeline {
    pub fn new() -> Timeline {
        Timeline {
            per_point: 1,
            ..Timeline::default()
        }
    }

    /// Adds one tick; returns the tick's own point.
    pub fn record(&mut self, tick: &Tick<'_>) -> Point {
        self.admit_trends(tick.interval);
        if !self.versions {
            self.versions = tick
                .total
                .metrics
                .get("iterations")
                .is_some_and(|s| versions_in(s) > 1);
        }
        let mut point = Point::of(tick, &self.trends, self.versions);
        let gap = point.t - self.last_t;
        self.last_t = point.t;
        if gap < PARTIAL {
            point.span = gap.max(1e-3);
            point.rps = point.http_reqs as f64 / point.span;
        }
        let (mut acc, n) = match self.pending.take() {
            Some((mut acc, n)) => {
                acc.join(&point, Join::Sequence);
                (acc, n + 1)
            }
            None => (point.clone(), 1),
        };
        if n < self.per_point {
            self.pending = Some((acc, n));
            return point;
        }
        acc.rps = acc.http_reqs as f64 / acc.span.max(1e-9);
        self.points.push(std::mem::take(&mut acc));
        if self.points.len() >= MAX_POINTS {
            self.points = halve(std::mem::take(&mut self.points));
            self.per_point *= 2;
        }
        point
    }

    /// The points so far, the one being filled included.
    pub fn points(&self) -> Vec<Point> {
        let mut out = self.points.clone();
        if let Some((p, _)) = &self.pending {
            out.push(p.clone());
        }
        out
    }

    /// Trends of `agg` not yet chosen join the list: the key ones first,
    /// then custom ones, up to [`MAX_TRENDS`].
    fn admit_trends(&mut self, agg: &Aggregate) {
        if self.trends.len() >= MAX_TRENDS {
            return;
        }
        let builtin = |n: &str| Builtin::ALL.iter().any(|b| b.name() == n);
        let mut new: Vec<&String> = agg
            .metrics
            .iter()
            .filter(|(n, s)| {
                s.kind == Kind::Trend
                    && !self.trends.contains(n)
                    && (KEY_TRENDS.contains(&n.as_str()) || !builtin(n))
            })
            .map(|(n, _)| n)
            .collect();
        new.sort_by_key(|n| KEY_TRENDS.iter().position(|k| k == n).unwrap_or(usize::MAX));
        for n in new {
            if self.trends.len() >= MAX_TRENDS {
                break;
            }
            self.trends.push(n.clone());
        }
    }
}

fn versions_in(s: &crate::metrics::Series) -> usize {
    let mut seen: Vec<&str> = s.by_tags.keys().filter_map(|t| t.get("version")).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// Merges adjacent points pairwise: half the points, twice the span.
fn halve(points: Vec<Point>) -> Vec<Point> {
    points
        .chunks(2)
        .map(|pair| {
            let mut p = pair[0].clone();
            if let Some(b) = pair.get(1) {
                p.join(b, Join::Sequence);
            }
            p
        })
        .collect()
}

/// Merges the timelines of two shards of one run, second by second: the
/// finer one is first compacted to the coarser one's span, then the n-th
/// points of both are joined (counts summed, VUs summed,
/// percentiles approximated as in [`Percentiles`]).
pub fn merge_timelines(a: &[Point], b: &[Point]) -> Vec<Point> {
    let span = |ps: &[Point]| ps.iter().map(|p| p.span).fold(1.0_f64, f64::max);
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    let target = span(&a).max(span(&b));
    while span(&a) < target && a.len() > 1 {
        a = halve(a);
    }
    while span(&b) < target && b.len() > 1 {
        b = halve(b);
    }
    // Each shard ticks once a second from its own start: the n-th points
    // cover the same second of the run.
    let mut out = a;
    for (i, p) in b.into_iter().enumerate() {
        match out.get_mut(i) {
            Some(q) => q.join(&p, Join::Parallel),
            None => out.push(p),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Tags;
    use std::time::Duration;

    /// One second with `reqs` requests of `ms` milliseconds, `fails` failed.
    fn second(reqs: u64, ms: u64, fails: u64) -> Aggregate {
        let mut agg = Aggregate::default();
        let none = Tags::default();
        let mut c = Value::new(Kind::Counter);
        c.add(reqs as f64, 0);
        agg.merge_value("http_reqs", &none, &c);
        let mut t = Value::new(Kind::Trend);
        let mut r = Value::new(Kind::Rate);
        for i in 0..reqs {
            t.add((ms * 1000) as f64, 0);
            r.add(if i < fails { 1.0 } else { 0.0 }, 0);
        }
        agg.merge_value("http_req_duration", &none, &t);
        agg.merge_value("http_req_failed", &Tags::new([("error", "status 503")]), &r);
        agg
    }

    fn tick<'a>(agg: &'a Aggregate, secs: u64) -> Tick<'a> {
        Tick {
            elapsed: Duration::from_secs(secs),
            interval: agg,
            total: agg,
            vus: 3,
            notes: &[],
        }
    }

    #[test]
    fn a_point_holds_its_second() {
        let agg = second(10, 20, 2);
        let mut tl = Timeline::new();
        tl.record(&tick(&agg, 1));
        let p = &tl.points()[0];
        assert_eq!((p.t, p.span, p.vus), (1.0, 1.0, 3));
        assert_eq!((p.http_reqs, p.http_failed), (10, 2));
        assert_eq!(p.rps, 10.0);
        let d = p.trends["http_req_duration"];
        assert_eq!(d.count, 10);
        assert!((d.p99 - 20.0).abs() < 0.05, "{d:?}");
        assert_eq!(p.errors["http:status 503"], 2);
    }

    #[test]
    fn the_last_partial_second_is_a_rate_over_its_own_length() {
        let agg = second(10, 20, 0);
        let mut tl = Timeline::new();
        tl.record(&tick(&agg, 1));
        let last = tl.record(&Tick {
            elapsed: Duration::from_millis(1250),
            ..tick(&agg, 0)
        });
        assert_eq!(last.span, 0.25);
        assert_eq!(last.rps, 40.0);
        assert_eq!(tl.points().last().unwrap().rps, 40.0);
        assert_eq!(tl.points()[0].span, 1.0);
    }

    #[test]
    fn a_long_run_halves_its_resolution_and_keeps_every_count() {
        let mut tl = Timeline::new();
        let agg = second(4, 5, 1);
        let ticks = MAX_POINTS as u64 * 3 + 7;
        for s in 1..=ticks {
            tl.record(&tick(&agg, s));
        }
        let points = tl.points();
        assert!(points.len() <= MAX_POINTS, "{}", points.len());
        assert!(points.len() >= MAX_POINTS / 2, "{}", points.len());
        assert_eq!(points.iter().map(|p| p.http_reqs).sum::<u64>(), 4 * ticks);
        assert_eq!(points.iter().map(|p| p.span).sum::<f64>(), ticks as f64);
        assert_eq!(tl.per_point, 4);
        assert_eq!(points[0].span, 4.0);
        assert_eq!(points[0].rps, 4.0);
        assert_eq!(points.last().unwrap().t, ticks as f64);
    }

    #[test]
    fn custom_trends_are_bounded() {
        let mut agg = second(1, 1, 0);
        for i in 0..50 {
            let mut t = Value::new(Kind::Trend);
            t.add(1.0, 0);
            agg.merge_value(&format!("custom_{i:02}"), &Tags::default(), &t);
        }
        let mut tl = Timeline::new();
        tl.record(&tick(&agg, 1));
        assert_eq!(tl.trends.len(), MAX_TRENDS);
        assert_eq!(tl.trends[0], "http_req_duration");
        assert_eq!(tl.points()[0].trends.len(), MAX_TRENDS);
    }

    #[test]
    fn merging_shards_sums_counts_by_second() {
        let (fast, slow) = (second(10, 10, 0), second(30, 30, 3));
        let (mut a, mut b) = (Timeline::new(), Timeline::new());
        for s in 1..=3 {
            a.record(&tick(&fast, s));
        }
        for s in 1..=2 {
            b.record(&tick(&slow, s));
        }
        let m = merge_timelines(&a.points(), &b.points());
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].http_reqs, 40);
        assert_eq!(m[0].vus, 6);
        assert_eq!(m[0].errors["http:status 503"], 3);
        let d = m[0].trends["http_req_duration"];
        assert_eq!(d.count, 40);
        // Count-weighted: (10 * 10 + 30 * 30) / 40 = 25.
        assert!((d.p50 - 25.0).abs() < 0.1, "{d:?}");
        assert!((d.max - 30.0).abs() < 0.1, "{d:?}");
        assert_eq!(m[2].http_reqs, 10);
    }

    #[test]
    fn merging_a_compacted_timeline_aligns_spans() {
        let agg = second(1, 1, 0);
        let a: Vec<Point> = (1..=8)
            .map(|s| Point::of(&tick(&agg, s), &[], false))
            .collect();
        let b = halve(a.clone());
        let m = merge_timelines(&a, &b);
        assert_eq!(m.len(), 4);
        assert!(m.iter().all(|p| p.span == 2.0 && p.http_reqs == 4));
    }
}
