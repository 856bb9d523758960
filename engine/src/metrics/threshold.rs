//! Thresholds in k6's syntax: `p(99)<2000`, `avg<200`, `rate<0.05`,
//! `count>0`, `value<10`, with `abortOnFail` and `delayAbortEval`.
//!
//! Trend values compare in their displayed unit (milliseconds for times).
//!
//! A trend, rate or gauge with no samples has no value to compare: its
//! thresholds fail with "no data" unless the plan says `noData = "pass"`.
//! A counter with no samples counts zero, which is a value (`count==0`).

use std::fmt;
use std::time::Duration;

use super::MetricError;
use super::aggregate::Aggregate;
use super::tags::Selector;
use super::value::{Kind, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    Avg,
    Min,
    Max,
    Med,
    Percentile(f64),
    Count,
    Rate,
    Value,
}

impl Agg {
    fn parse(s: &str) -> Option<Agg> {
        Some(match s {
            "avg" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "med" => Agg::Med,
            "count" => Agg::Count,
            "rate" => Agg::Rate,
            "value" => Agg::Value,
            _ => {
                let inner = s.strip_prefix("p(")?.strip_suffix(')')?;
                let p: f64 = inner.trim().parse().ok()?;
                if !(0.0..=100.0).contains(&p) {
                    return None;
                }
                Agg::Percentile(p)
            }
        })
    }

    /// The aggregation methods k6 allows on each kind.
    fn fits(self, kind: Kind) -> bool {
        match kind {
            Kind::Counter => matches!(self, Agg::Count | Agg::Rate),
            Kind::Gauge => matches!(self, Agg::Value),
            Kind::Rate => matches!(self, Agg::Rate),
            Kind::Trend => matches!(
                self,
                Agg::Avg | Agg::Min | Agg::Max | Agg::Med | Agg::Percentile(_)
            ),
        }
    }

    fn allowed(kind: Kind) -> &'static str {
        match kind {
            Kind::Counter => "count, rate",
            Kind::Gauge => "value",
            Kind::Rate => "rate",
            Kind::Trend => "avg, min, max, med, p(N)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// One threshold expression on one (sub-)metric.
#[derive(Debug, Clone)]
pub struct Threshold {
    pub selector: Selector,
    /// The expression as written, e.g. `p(99)<2000`.
    pub source: String,
    pub agg: Agg,
    pub op: Op,
    pub bound: f64,
    pub abort_on_fail: bool,
    pub delay_abort_eval: Duration,
    /// What a (sub-)metric with no samples means for this threshold.
    pub no_data: NoData,
}

/// The outcome of a threshold over a (sub-)metric with no samples
/// (`noData` in the plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoData {
    /// No samples fail the threshold: a run that measured nothing passes nothing.
    #[default]
    Fail,
    /// No samples pass (the metric is recorded only sometimes).
    Pass,
}

impl NoData {
    pub fn parse(s: &str) -> Result<NoData, MetricError> {
        match s {
            "fail" => Ok(NoData::Fail),
            "pass" => Ok(NoData::Pass),
            _ => Err(MetricError::Syntax(format!(
                "`{s}`: write \"fail\" (the default) or \"pass\""
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NoData::Fail => "fail",
            NoData::Pass => "pass",
        }
    }
}

/// Whether `v` holds any sample. Counters always do: no samples count zero.
pub fn has_data(v: &Value) -> bool {
    match v {
        Value::Counter { .. } => true,
        Value::Gauge { min, .. } => min.is_finite(),
        Value::Rate { total, .. } => *total > 0,
        Value::Trend(t) => t.count > 0,
    }
}

impl Threshold {
    /// Parses `expr` (`p(95) < 200`) for the metric `selector`.
    pub fn parse(selector: Selector, expr: &str) -> Result<Self, MetricError> {
        let syntax = MetricError::Syntax;
        let e = expr.trim();
        let ops = [
            ("===", Op::Eq),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let (pos, tok, op) = ops
            .iter()
            .filter_map(|(tok, op)| e.find(tok).map(|p| (p, *tok, *op)))
            .min_by_key(|(p, tok, _)| (*p, std::cmp::Reverse(tok.len())))
            .ok_or_else(|| {
                syntax(format!(
                    "threshold `{e}` on `{selector}` needs an operator (<, <=, >, >=, ==, !=)"
                ))
            })?;
        let lhs = e[..pos].trim().replace(' ', "");
        let rhs = e[pos + tok.len()..].trim();
        let agg = Agg::parse(&lhs).ok_or_else(|| {
            syntax(format!(
                "threshold `{e}` on `{selector}`: `{lhs}` is not an aggregation (avg, min, max, med, p(N), count, rate, value)"
            ))
        })?;
        let time_agg = !matches!(agg, Agg::Count | Agg::Rate | Agg::Value);
        let bound: f64 = match rhs.parse() {
            Ok(n) => n,
            // Times may carry a unit (`max<30s`); they compare in ms.
            Err(_) => time_ms(rhs).filter(|_| time_agg).ok_or_else(|| {
                syntax(format!(
                    "threshold `{e}` on `{selector}`: `{rhs}` is not a number{}",
                    if time_agg {
                        " or a time (500ms, 30s, 2m)"
                    } else {
                        ""
                    }
                ))
            })?,
        };
        Ok(Threshold {
            selector,
            source: e.to_string(),
            agg,
            op,
            bound,
            abort_on_fail: false,
            delay_abort_eval: Duration::ZERO,
            no_data: NoData::Fail,
        })
    }

    /// Checks the aggregation fits the metric's kind.
    pub fn check_kind(&self, kind: Kind) -> Result<(), MetricError> {
        if self.agg.fits(kind) {
            Ok(())
        } else {
            Err(MetricError::WrongAggregation(format!(
                "threshold `{}` on `{}`: a {} metric allows {}",
                self.source,
                self.selector,
                kind.as_str(),
                Agg::allowed(kind)
            )))
        }
    }

    /// The aggregated value this threshold compares, in display units.
    pub fn observe(&self, v: &Value, elapsed: Duration) -> f64 {
        match (v, self.agg) {
            (Value::Counter { sum }, Agg::Count) => *sum,
            (Value::Counter { sum }, Agg::Rate) => {
                let secs = elapsed.as_secs_f64();
                if secs > 0.0 { sum / secs } else { 0.0 }
            }
            (Value::Gauge { value, .. }, Agg::Value) => *value,
            (Value::Rate { .. }, Agg::Rate) => v.rate(),
            (Value::Trend(t), agg) => {
                let milli = match agg {
                    Agg::Avg => t.avg(),
                    Agg::Min => t.min_or_zero() as f64,
                    Agg::Max => t.max as f64,
                    Agg::Med => t.percentile(50.0),
                    Agg::Percentile(p) => t.percentile(p),
                    _ => 0.0,
                };
                milli / 1000.0
            }
            _ => f64::NAN,
        }
    }

    pub fn passes(&self, observed: f64) -> bool {
        self.op.holds(observed, self.bound)
    }
}

/// `500ms`, `30s`, `2m`, `1h`, `250us` in milliseconds.
fn time_ms(s: &str) -> Option<f64> {
    let units = [
        ("ms", 1.0),
        ("us", 0.001),
        ("s", 1000.0),
        ("m", 60_000.0),
        ("h", 3_600_000.0),
    ];
    let (n, factor) = units
        .iter()
        .find_map(|(u, f)| s.strip_suffix(u).map(|n| (n, *f)))?;
    let n: f64 = n.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n * factor)
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.selector, self.source)
    }
}

/// The outcome of one threshold.
#[derive(Debug, Clone)]
pub struct ThresholdResult {
    pub threshold: Threshold,
    pub observed: f64,
    pub ok: bool,
    /// False when the metric never existed: an error, not a pass.
    pub metric_found: bool,
    /// The (sub-)metric exists but has no samples: `observed` means nothing,
    /// and `ok` is what the threshold's `noData` says.
    pub no_data: bool,
}

/// All thresholds of a run.
#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    pub list: Vec<Threshold>,
}

impl Thresholds {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Evaluates every threshold against the aggregate. `known` says whether a
    /// metric name exists at all (declared built-in or custom metric).
    pub fn evaluate(
        &self,
        total: &Aggregate,
        elapsed: Duration,
        kind_of: impl Fn(&str) -> Option<Kind>,
    ) -> Vec<ThresholdResult> {
        self.evaluate_over(total, |_| elapsed, kind_of)
    }

    /// [`Thresholds::evaluate`] with a counter's `rate` over `secs` of its
    /// selector (the time the scenarios it covers were active).
    pub fn evaluate_over(
        &self,
        total: &Aggregate,
        secs: impl Fn(&Selector) -> Duration,
        kind_of: impl Fn(&str) -> Option<Kind>,
    ) -> Vec<ThresholdResult> {
        self.list
            .iter()
            .map(|t| {
                let kind = kind_of(&t.selector.metric);
                let value = total.select(&t.selector).or_else(|| kind.map(Value::new));
                match value {
                    Some(v) if !has_data(&v) => ThresholdResult {
                        threshold: t.clone(),
                        observed: f64::NAN,
                        ok: t.no_data == NoData::Pass,
                        metric_found: true,
                        no_data: true,
                    },
                    Some(v) => {
                        let observed = t.observe(&v, secs(&t.selector));
                        ThresholdResult {
                            threshold: t.clone(),
                            observed,
                            ok: t.passes(observed),
                            metric_found: true,
                            no_data: false,
                        }
                    }
                    None => ThresholdResult {
                        threshold: t.clone(),
                        observed: f64::NAN,
                        ok: false,
                        metric_found: false,
                        no_data: true,
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Tags;

    fn th(sel: &str, e: &str) -> Threshold {
        Threshold::parse(Selector::parse(sel).unwrap(), e).unwrap()
    }

    #[test]
    fn parses_k6_expressions() {
        let t = th("http_req_duration", "p(99.9) < 2000");
        assert_eq!(t.agg, Agg::Percentile(99.9));
        assert_eq!(t.op, Op::Lt);
        assert_eq!(t.bound, 2000.0);
        assert_eq!(th("x", "rate<=0.05").op, Op::Le);
        assert_eq!(th("x", "count===3").op, Op::Eq);
        assert_eq!(th("x", "count!=3").op, Op::Ne);
        assert_eq!(th("x", "avg>=1").op, Op::Ge);
        let sel = Selector::parse("x").unwrap();
        assert!(Threshold::parse(sel.clone(), "p99<1").is_err());
        assert!(Threshold::parse(sel.clone(), "avg<abc").is_err());
        assert!(Threshold::parse(sel.clone(), "avg 3").is_err());
        assert!(Threshold::parse(sel.clone(), "p(101)<3").is_err());
        // Times may carry a unit; counts and rates may not.
        assert_eq!(th("x", "max<30s").bound, 30_000.0);
        assert_eq!(th("x", "p(95) < 1.5m").bound, 90_000.0);
        assert_eq!(th("x", "avg<250us").bound, 0.25);
        assert_eq!(th("x", "med<20ms").bound, 20.0);
        assert!(Threshold::parse(sel.clone(), "count<3s").is_err());
        assert!(Threshold::parse(sel, "max<3 parsecs").is_err());
    }

    #[test]
    fn kinds_restrict_aggregations() {
        assert!(th("x", "p(99)<1").check_kind(Kind::Trend).is_ok());
        let err = th("x", "p(99)<1").check_kind(Kind::Rate).unwrap_err();
        assert!(err.to_string().contains("allows rate"), "{err}");
        assert!(th("x", "count>0").check_kind(Kind::Counter).is_ok());
        assert!(th("x", "value<3").check_kind(Kind::Gauge).is_ok());
    }

    #[test]
    fn evaluates_trends_in_ms_and_sub_metrics() {
        let mut agg = Aggregate::default();
        let login = Tags::new([("name", "login")]);
        let other = Tags::new([("name", "other")]);
        let mut a = Value::new(Kind::Trend);
        for _ in 0..100 {
            a.add(1_000.0, 0); // 1 ms
        }
        let mut b = Value::new(Kind::Trend);
        b.add(5_000_000.0, 0); // 5 s
        agg.merge_value("http_req_duration", &login, &a);
        agg.merge_value("http_req_duration", &other, &b);
        let ts = Thresholds {
            list: vec![
                th("http_req_duration{name:login}", "max<2"),
                th("http_req_duration", "max<2"),
                th("nope", "count>0"),
                th("http_reqs", "count>0"),
            ],
        };
        let kind_of = |n: &str| match n {
            "http_req_duration" => Some(Kind::Trend),
            "http_reqs" => Some(Kind::Counter),
            _ => None,
        };
        let r = ts.evaluate(&agg, Duration::from_secs(1), kind_of);
        assert!(r[0].ok, "{:?}", r[0]);
        assert!((r[0].observed - 1.0).abs() < 1e-9);
        assert!(!r[1].ok);
        assert!(!r[2].ok && !r[2].metric_found);
        // Declared but never recorded: a counter counts zero, so `count>0` fails.
        assert!(!r[3].ok && r[3].metric_found && !r[3].no_data);
    }

    #[test]
    fn no_samples_fail_unless_the_plan_allows_it() {
        let mut agg = Aggregate::default();
        let mut d = Value::new(Kind::Trend);
        d.add(3_000.0, 0);
        agg.merge_value("http_req_duration", &Tags::new([("name", "a")]), &d);
        let mut pass = th("ws_fanout_latency", "p(99)<2000");
        pass.no_data = NoData::Pass;
        let ts = Thresholds {
            list: vec![
                // Declared, never recorded: what every refused request leaves.
                th("ws_fanout_latency", "p(99)<2000"),
                pass,
                // A sub-metric that matches no sample.
                th("http_req_duration{name:b}", "p(99)<2000"),
                th("http_req_duration{name:a}", "p(99)<2000"),
                th("checks", "rate>0.9"),
                th("vus", "value<10"),
                th("iterations_failed", "count==0"),
            ],
        };
        let kind_of = |n: &str| match n {
            "http_req_duration" | "ws_fanout_latency" => Some(Kind::Trend),
            "checks" => Some(Kind::Rate),
            "vus" => Some(Kind::Gauge),
            "iterations_failed" => Some(Kind::Counter),
            _ => None,
        };
        let r = ts.evaluate(&agg, Duration::from_secs(1), kind_of);
        let seen: Vec<(bool, bool)> = r.iter().map(|r| (r.ok, r.no_data)).collect();
        assert_eq!(
            seen,
            vec![
                (false, true),
                (true, true),
                (false, true),
                (true, false),
                (false, true),
                (false, true),
                (true, false),
            ]
        );
        assert_eq!(NoData::parse("pass"), Ok(NoData::Pass));
        assert!(
            NoData::parse("ignore")
                .unwrap_err()
                .to_string()
                .contains("\"pass\"")
        );
    }
}
