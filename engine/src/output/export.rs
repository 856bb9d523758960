//! `--summary-export`: the summary as JSON in k6's layout
//! (`metrics.<name>.type/contains/values/thresholds`, `root_group.checks`),
//! plus what k6 lacks: every (metric, tag set) value in raw, mergeable form
//! (`series`, with each trend's HdrHistogram), so shards of a distributed
//! run combine without loss (`volley merge`).
//!
//! The layout is described by `engine/schema/summary-export.schema.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::summary::describe;
use super::{ActiveTime, ExportError, Report, Spans, merge_spans};
use crate::metrics::{
    Aggregate, Kind, MetricError, NoData, Selector, Tags, Threshold, ThresholdResult, Thresholds,
    Trend, Value,
};

/// A whole export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Export {
    /// k6's view: one entry per metric and per thresholded sub-metric.
    pub metrics: BTreeMap<String, MetricEntry>,
    pub root_group: Group,
    pub state: State,
    /// Raw values per metric and tag set: the lossless part.
    pub series: Vec<SeriesEntry>,
    /// Hot swaps during the run (per-version counts are the series with a
    /// `version` tag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swaps: Vec<serde_json::Value>,
    /// Fault windows, injected faults and each target's per-second
    /// timeline (`run::FaultReport`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<serde_json::Value>,
    /// What failed, by class and target, with the first message of each
    /// (the summary's ERRORS table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<super::tables::ErrorRow>,
    /// One point per second (fewer, wider ones in a long run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<super::timeline::Point>,
    /// When each scenario was running, by name: the divisor of the rates
    /// of its series. Absent in older exports, whose rates are over
    /// `state.testRunDurationMs`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub active: Spans,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricEntry {
    #[serde(rename = "type")]
    pub kind: Kind,
    /// `time`, `data` or `default`.
    pub contains: String,
    pub values: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub thresholds: BTreeMap<String, ThresholdOutcome>,
    /// The one-line rendering the terminal summary shows.
    pub summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdOutcome {
    pub ok: bool,
    /// The (sub-)metric had no samples: `ok` is what `onNoData` says.
    #[serde(rename = "noData", default, skip_serializing_if = "std::ops::Not::not")]
    pub no_data: bool,
    /// The plan's `noData` when it is not the default `fail`.
    #[serde(rename = "onNoData", default, skip_serializing_if = "Option::is_none")]
    pub on_no_data: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub path: String,
    pub checks: BTreeMap<String, CheckEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckEntry {
    pub name: String,
    pub passes: u64,
    pub fails: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    #[serde(rename = "testRunDurationMs")]
    pub test_run_duration_ms: f64,
    /// Why the run stopped early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
    /// Written while the run was still going: what was collected up to then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checkpoint: bool,
    /// The run's random seed (`volley run --seed` repeats it); absent in
    /// a merge of shards with different seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// One metric's value for one tag set, exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesEntry {
    pub metric: String,
    pub tags: BTreeMap<String, String>,
    /// The first failure message of this series, if it is a failure
    /// metric and one was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    #[serde(flatten)]
    pub value: RawValue,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RawValue {
    Counter {
        sum: f64,
    },
    Gauge {
        value: f64,
        min: f64,
        max: f64,
        at_us: u64,
    },
    Rate {
        trues: u64,
        total: u64,
    },
    Trend {
        /// HdrHistogram V2 deflate encoding, base64.
        hdr: String,
        count: u64,
        /// Exact sum, as a decimal string (it can exceed 2^53).
        sum: String,
        min: u64,
        max: u64,
    },
}

impl RawValue {
    fn of(v: &Value) -> RawValue {
        match v {
            Value::Counter { sum } => RawValue::Counter { sum: *sum },
            Value::Gauge {
                value,
                min,
                max,
                at_us,
            } => RawValue::Gauge {
                value: *value,
                min: if min.is_finite() { *min } else { 0.0 },
                max: if max.is_finite() { *max } else { 0.0 },
                at_us: *at_us,
            },
            Value::Rate { trues, total } => RawValue::Rate {
                trues: *trues,
                total: *total,
            },
            Value::Trend(t) => RawValue::Trend {
                hdr: t.encode(),
                count: t.count,
                sum: t.sum.to_string(),
                min: t.min_or_zero(),
                max: t.max,
            },
        }
    }

    fn value(&self) -> Result<Value, MetricError> {
        Ok(match self {
            RawValue::Counter { sum } => Value::Counter { sum: *sum },
            RawValue::Gauge {
                value,
                min,
                max,
                at_us,
            } => Value::Gauge {
                value: *value,
                min: *min,
                max: *max,
                at_us: *at_us,
            },
            RawValue::Rate { trues, total } => Value::Rate {
                trues: *trues,
                total: *total,
            },
            RawValue::Trend {
                hdr,
                count,
                sum,
                min,
                max,
            } => {
                let sum: u128 = sum.parse().map_err(|_| {
                    MetricError::Encoding(format!("trend sum `{sum}` is not an integer"))
                })?;
                Value::Trend(Box::new(Trend::decode(hdr, *count, sum, *min, *max)?))
            }
        })
    }
}

fn contains(name: &str, kind: Kind) -> &'static str {
    match kind {
        Kind::Trend => "time",
        Kind::Counter if name.starts_with("data_") => "data",
        _ => "default",
    }
}

/// k6's value keys for one aggregated value.
fn values(v: &Value, secs: f64) -> BTreeMap<String, f64> {
    let secs = secs.max(1e-9);
    let mut m = BTreeMap::new();
    match v {
        Value::Counter { sum } => {
            m.insert("count".into(), *sum);
            m.insert("rate".into(), sum / secs);
        }
        Value::Gauge {
            value, min, max, ..
        } => {
            m.insert("value".into(), *value);
            m.insert("min".into(), if min.is_finite() { *min } else { 0.0 });
            m.insert("max".into(), if max.is_finite() { *max } else { 0.0 });
        }
        Value::Rate { trues, total } => {
            m.insert("rate".into(), v.rate());
            m.insert("passes".into(), *trues as f64);
            m.insert("fails".into(), (total - trues) as f64);
        }
        Value::Trend(t) => {
            // Times in milliseconds, as k6 exports them.
            let ms = |us: f64| us / 1000.0;
            m.insert("avg".into(), ms(t.avg()));
            m.insert("min".into(), ms(t.min_or_zero() as f64));
            m.insert("med".into(), ms(t.percentile(50.0)));
            m.insert("max".into(), ms(t.max as f64));
            m.insert("p(90)".into(), ms(t.percentile(90.0)));
            m.insert("p(95)".into(), ms(t.percentile(95.0)));
            m.insert("p(99)".into(), ms(t.percentile(99.0)));
            m.insert("count".into(), t.count as f64);
        }
    }
    m
}

/// Builds the export of an aggregate with its threshold results; rates
/// are over each series' scenarios' `active` spans (the elapsed time when
/// there are none).
pub fn build_export(
    agg: &Aggregate,
    elapsed: Duration,
    active: &Spans,
    thresholds: &[ThresholdResult],
    aborted: Option<String>,
) -> Export {
    let time = ActiveTime::new(active, elapsed);
    let mut metrics = BTreeMap::new();
    for (name, series) in &agg.metrics {
        let v = series.total();
        let secs = time.secs(series, &[]);
        metrics.insert(
            name.clone(),
            MetricEntry {
                kind: series.kind,
                contains: contains(name, series.kind).into(),
                values: values(&v, secs),
                thresholds: BTreeMap::new(),
                summary: describe(name, &v, secs),
            },
        );
    }
    for r in thresholds {
        let key = r.threshold.selector.to_string();
        let entry = metrics.entry(key).or_insert_with(|| {
            let kind = agg
                .kind_of(&r.threshold.selector.metric)
                .unwrap_or(Kind::Counter);
            let v = agg
                .select(&r.threshold.selector)
                .unwrap_or_else(|| Value::new(kind));
            let secs = agg
                .metrics
                .get(&r.threshold.selector.metric)
                .map_or(elapsed.as_secs_f64(), |s| {
                    time.secs(s, &r.threshold.selector.filter)
                });
            MetricEntry {
                kind,
                contains: contains(&r.threshold.selector.metric, kind).into(),
                values: values(&v, secs),
                thresholds: BTreeMap::new(),
                summary: describe(&r.threshold.selector.metric, &v, secs),
            }
        });
        let on_no_data =
            (r.threshold.no_data != NoData::Fail).then(|| r.threshold.no_data.as_str().into());
        entry.thresholds.insert(
            r.threshold.source.clone(),
            ThresholdOutcome {
                ok: r.ok,
                no_data: r.no_data,
                on_no_data,
            },
        );
    }
    let checks = agg
        .by_tag("checks", "check")
        .into_iter()
        .filter_map(|(name, v)| match v {
            Value::Rate { trues, total } => Some((
                name.clone(),
                CheckEntry {
                    name,
                    passes: trues,
                    fails: total - trues,
                },
            )),
            _ => None,
        })
        .collect();
    let mut series = Vec::new();
    for (name, s) in &agg.metrics {
        let mut entries: Vec<_> = s.by_tags.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (tags, v) in entries {
            series.push(SeriesEntry {
                metric: name.clone(),
                tags: tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                first_error: agg.first_errors.get(name, tags).map(str::to_string),
                value: RawValue::of(v),
            });
        }
    }
    Export {
        metrics,
        root_group: Group {
            name: String::new(),
            path: String::new(),
            checks,
        },
        state: State {
            test_run_duration_ms: elapsed.as_secs_f64() * 1000.0,
            aborted,
            checkpoint: false,
            seed: None,
        },
        series,
        swaps: Vec::new(),
        faults: None,
        errors: super::tables::error_rows(agg),
        timeline: Vec::new(),
        active: active.clone(),
    }
}

/// Writes `report` to `path` as JSON.
pub fn write_export(report: &Report, path: &Path) -> Result<(), crate::Error> {
    write_atomically(&export_of(report), path)
}

/// The export of a finished run (without its timeline).
pub fn export_of(report: &Report) -> Export {
    let mut export = build_export(
        &report.aggregate,
        report.elapsed,
        &report.active,
        &report.thresholds,
        report.aborted.clone(),
    );
    export.state.seed = Some(report.seed);
    export.swaps = report
        .swaps
        .iter()
        .filter_map(|e| serde_json::to_value(e).ok())
        .collect();
    export.faults = report
        .faults
        .as_ref()
        .and_then(|f| serde_json::to_value(f).ok());
    export
}

/// `--summary-export FILE`: a checkpoint each second, the export at the end.
#[derive(Debug)]
pub struct SummaryExport {
    path: PathBuf,
    seed: Option<u64>,
    timeline: super::timeline::Timeline,
}

impl SummaryExport {
    pub fn new(path: PathBuf) -> SummaryExport {
        SummaryExport {
            path,
            seed: None,
            timeline: super::timeline::Timeline::new(),
        }
    }
}

impl super::seam::Output for SummaryExport {
    fn name(&self) -> &str {
        "summary export"
    }

    fn start(&mut self, info: &super::seam::RunInfo) -> Result<(), crate::Error> {
        self.seed = Some(info.seed);
        Ok(())
    }

    fn interval(&mut self, tick: &super::seam::Tick<'_>) -> Result<(), crate::Error> {
        self.timeline.record(tick);
        // Spans are known once scenarios end: a checkpoint's rates are
        // over the time so far.
        let mut export = build_export(tick.total, tick.elapsed, &Spans::new(), &[], None);
        export.state.seed = self.seed;
        export.timeline = self.timeline.points();
        write_checkpoint(export, &self.path)
    }

    fn finish(&mut self, report: &Report) -> Result<(), crate::Error> {
        let mut export = export_of(report);
        export.timeline = self.timeline.points();
        write_atomically(&export, &self.path)
    }
}

/// Writes what has been collected so far to `path` while the run goes on,
/// marked `state.checkpoint`: a run killed outright (SIGKILL, OOM) leaves
/// its results up to the last checkpoint, which `volley merge` reads like
/// any export. The final export replaces it.
pub fn write_checkpoint(mut export: Export, path: &Path) -> Result<(), crate::Error> {
    export.state.checkpoint = true;
    write_atomically(&export, path)
}

/// Writes beside `path`, then renames over it: a reader sees the old file
/// or the new one, never half of one.
fn write_atomically(export: &Export, path: &Path) -> Result<(), crate::Error> {
    let text = serde_json::to_string_pretty(export)
        .map_err(|e| crate::Error::Other(format!("encoding the summary export: {e}")))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| crate::Error::io(format!("writing {}", path.display()), e))
}

/// The aggregate an export's `series` hold.
pub fn aggregate_of(e: &Export) -> Result<Aggregate, ExportError> {
    let mut agg = Aggregate::default();
    for (index, s) in e.series.iter().enumerate() {
        let v = s.value.value().map_err(|source| ExportError::Series {
            index,
            metric: s.metric.clone(),
            source,
        })?;
        let tags = Tags::new(s.tags.iter());
        agg.merge_value(&s.metric, &tags, &v);
        if let Some(m) = &s.first_error {
            agg.first_errors.insert(&s.metric, &tags, m);
        }
    }
    Ok(agg)
}

/// Merges two exports losslessly and re-evaluates their thresholds on the
/// merged data. The merged duration is the longer of the two (shards run
/// side by side).
pub fn merge_exports(a: &Export, b: &Export) -> Result<Export, ExportError> {
    let mut agg = aggregate_of(a)?;
    agg.merge(&aggregate_of(b)?);
    let elapsed = Duration::from_secs_f64(
        a.state
            .test_run_duration_ms
            .max(b.state.test_run_duration_ms)
            / 1000.0,
    );
    let mut list: Vec<Threshold> = Vec::new();
    for (key, entry) in a.metrics.iter().chain(&b.metrics) {
        for (expr, outcome) in &entry.thresholds {
            let sel = Selector::parse(key)?;
            if !list.iter().any(|t| t.selector == sel && t.source == *expr) {
                let mut t = Threshold::parse(sel, expr)?;
                if let Some(n) = &outcome.on_no_data {
                    t.no_data = NoData::parse(n)?;
                }
                list.push(t);
            }
        }
    }
    let active = merge_spans(&a.active, &b.active);
    let time = ActiveTime::new(&active, elapsed);
    let results = Thresholds { list }.evaluate_over(
        &agg,
        |sel| time.of_selector(&agg, sel),
        |n| agg.kind_of(n),
    );
    let aborted = a.state.aborted.clone().or_else(|| b.state.aborted.clone());
    let mut merged = build_export(&agg, elapsed, &active, &results, aborted);
    // Shards with one seed keep it; different seeds have no one seed.
    merged.state.seed = a.state.seed.filter(|s| b.state.seed == Some(*s));
    merged.timeline = super::timeline::merge_timelines(&a.timeline, &b.timeline);
    merged.swaps = merge_swaps(&a.swaps, &b.swaps);
    Ok(merged)
}

/// Every shard's swap events, in the order they were asked for.
fn merge_swaps(a: &[serde_json::Value], b: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let mut all: Vec<serde_json::Value> = a.iter().chain(b).cloned().collect();
    let at = |e: &serde_json::Value| e["at"].as_f64().unwrap_or(f64::INFINITY);
    all.sort_by(|x, y| at(x).total_cmp(&at(y)));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg_of(samples: &[u64], checks: (u64, u64)) -> Aggregate {
        let mut agg = Aggregate::default();
        let mut t = Value::new(Kind::Trend);
        for s in samples {
            t.add(*s as f64, 0);
        }
        agg.merge_value("http_req_duration", &Tags::new([("name", "a")]), &t);
        let mut c = Value::new(Kind::Counter);
        c.add(samples.len() as f64, 0);
        agg.merge_value("http_reqs", &Tags::default(), &c);
        let mut r = Value::new(Kind::Rate);
        for i in 0..checks.1 {
            r.add(if i < checks.0 { 1.0 } else { 0.0 }, 0);
        }
        agg.merge_value("checks", &Tags::new([("check", "ok")]), &r);
        agg
    }

    fn results(agg: &Aggregate) -> Vec<ThresholdResult> {
        Thresholds {
            list: vec![
                Threshold::parse(
                    Selector::parse("http_req_duration{name:a}").unwrap(),
                    "p(99)<100",
                )
                .unwrap(),
            ],
        }
        .evaluate(agg, Duration::from_secs(1), |n| agg.kind_of(n))
    }

    /// An export of `agg` over `secs` with no scenario spans, judged by
    /// [`results`].
    fn judged(agg: &Aggregate, secs: u64) -> Export {
        build_export(
            agg,
            Duration::from_secs(secs),
            &Spans::new(),
            &results(agg),
            None,
        )
    }

    #[test]
    fn export_has_k6_keys() {
        let agg = agg_of(&[1000, 2000, 3000], (2, 3));
        let e = judged(&agg, 1);
        let d = &e.metrics["http_req_duration"];
        assert_eq!(d.contains, "time");
        assert!((d.values["avg"] - 2.0).abs() < 1e-9);
        assert_eq!(e.metrics["http_reqs"].values["count"], 3.0);
        assert_eq!(e.metrics["checks"].values["passes"], 2.0);
        assert!(e.metrics["http_req_duration{name:a}"].thresholds["p(99)<100"].ok);
        assert_eq!(e.root_group.checks["ok"].fails, 1);
    }

    #[test]
    fn merging_two_exports_equals_one_aggregate_of_both() {
        let a_samples: Vec<u64> = (1..=500).map(|i| i * 37).collect();
        let b_samples: Vec<u64> = (1..=700).map(|i| i * 91 + 5).collect();
        let a = agg_of(&a_samples, (10, 12));
        let b = agg_of(&b_samples, (3, 3));
        let ea = judged(&a, 2);
        let eb = judged(&b, 3);
        // Through JSON, as files would go.
        let ea: Export = serde_json::from_str(&serde_json::to_string(&ea).unwrap()).unwrap();
        let eb: Export = serde_json::from_str(&serde_json::to_string(&eb).unwrap()).unwrap();
        let merged = merge_exports(&ea, &eb).unwrap();
        let mut both = a.clone();
        both.merge(&b);
        let direct = judged(&both, 3);
        assert_eq!(
            merged.metrics["http_req_duration"].values,
            direct.metrics["http_req_duration"].values
        );
        assert_eq!(merged.metrics["http_reqs"].values["count"], 1200.0);
        assert_eq!(merged.root_group.checks["ok"].passes, 13);
        assert_eq!(
            merged.metrics["http_req_duration{name:a}"].thresholds["p(99)<100"].ok,
            direct.metrics["http_req_duration{name:a}"].thresholds["p(99)<100"].ok
        );
    }

    #[test]
    fn merging_keeps_every_shards_swap_events_in_time_order() {
        let agg = agg_of(&[5], (1, 1));
        let swap = |at: f64, to: &str| serde_json::json!({"scenario": "s", "at": at, "to": to});
        let mut a = build_export(&agg, Duration::from_secs(9), &Spans::new(), &[], None);
        a.swaps = vec![swap(2.0, "a1"), swap(7.0, "a2")];
        let mut b = build_export(&agg, Duration::from_secs(9), &Spans::new(), &[], None);
        b.swaps = vec![swap(4.5, "b1")];
        let merged = merge_exports(&a, &b).unwrap();
        let order: Vec<&str> = merged
            .swaps
            .iter()
            .map(|e| e["to"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["a1", "b1", "a2"]);
    }

    #[test]
    fn a_corrupt_histogram_is_reported() {
        let agg = agg_of(&[5], (1, 1));
        let mut e = build_export(&agg, Duration::from_secs(1), &Spans::new(), &[], None);
        for s in &mut e.series {
            if let RawValue::Trend { hdr, .. } = &mut s.value {
                *hdr = "!!!".into();
            }
        }
        let err = merge_exports(&e, &e).unwrap_err();
        assert!(err.to_string().contains("http_req_duration"), "{err}");
    }
}
