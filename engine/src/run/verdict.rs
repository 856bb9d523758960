//! The verdict: which exit code a finished run gets, and the one line that
//! says why, from the report and the problems seen on the way.
//!
//! A pure function of its [`Facts`]: nothing here runs, prints or reads a
//! clock, so every exit code has a unit test below. The order of the checks
//! is the order of what the user must fix first: a plan that names metrics
//! that do not exist, a scenario that broke, teardown, tracking, thresholds,
//! a run where everything failed, an interruption.

use std::fmt;
use std::path::Path;

use crate::ExitCode;
use crate::metrics::{Aggregate, Builtin, ThresholdResult, Value};

/// Why a run stopped before its scenarios ended on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Abort {
    /// An `abortOnFail` threshold failed; the threshold as written.
    Threshold(String),
    /// SIGINT or SIGTERM; the signal's name.
    Signal(&'static str),
    /// Stopped from outside by other means (`volley stop`); the reason.
    Stopped(String),
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Abort::Threshold(t) => write!(f, "threshold `{t}` failed (abortOnFail)"),
            Abort::Signal(name) => write!(f, "interrupted ({name})"),
            Abort::Stopped(why) => f.write_str(why),
        }
    }
}

/// `teardown` failed: how, and whether it was its timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeardownFailure {
    pub message: String,
    pub timed_out: bool,
}

/// Everything the verdict reads.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The plan file, named when a threshold names a metric that does not exist.
    pub source: &'a Path,
    /// Scenarios `--scenario` left out (they may record the missing metrics).
    pub dropped_scenarios: &'a [String],
    pub thresholds: &'a [ThresholdResult],
    pub aggregate: &'a Aggregate,
    /// A scenario that ended with an error of its own (not a failed iteration).
    pub scenario_errors: &'a [String],
    pub teardown: Option<&'a TeardownFailure>,
    /// A `[[track]]` goal missed, or tracking that broke.
    pub tracking: Option<&'a str>,
    pub aborted: Option<&'a Abort>,
}

/// The exit code of a finished run and, unless it is 0, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub exit: ExitCode,
    pub problem: Option<String>,
}

impl Verdict {
    fn fail(exit: ExitCode, problem: impl Into<String>) -> Verdict {
        Verdict {
            exit,
            problem: Some(problem.into()),
        }
    }
}

/// Decides the exit code. A run where everything failed is never 0, even
/// without a threshold: "everything failed" is read from the aggregate for
/// each protocol (see [`everything_failed`]).
pub fn verdict(f: &Facts<'_>) -> Verdict {
    let missing: Vec<&str> = f
        .thresholds
        .iter()
        .filter(|r| !r.metric_found)
        .map(|r| r.threshold.selector.metric.as_str())
        .collect();
    if !missing.is_empty() {
        let dropped = if f.dropped_scenarios.is_empty() {
            String::new()
        } else {
            format!(
                "; --scenario left out {}, which may record them",
                f.dropped_scenarios.join(", ")
            )
        };
        return Verdict::fail(
            ExitCode::InvalidConfig,
            format!(
                "{}: thresholds on metrics that do not exist: {} (not built in, and the scenario never recorded them{dropped})",
                f.source.display(),
                missing.join(", "),
            ),
        );
    }
    if let Some(e) = f.scenario_errors.first() {
        return Verdict::fail(ExitCode::ScriptException, e.clone());
    }
    if let Some(t) = f.teardown {
        let code = if t.timed_out {
            ExitCode::TeardownTimeout
        } else {
            ExitCode::ScriptException
        };
        return Verdict::fail(code, t.message.clone());
    }
    if let Some(t) = f.tracking {
        return Verdict::fail(ExitCode::ThresholdsFailed, t);
    }
    if f.thresholds.iter().any(|r| !r.ok) {
        let what = if matches!(f.aborted, Some(Abort::Threshold(_))) {
            "thresholds failed; the run was aborted"
        } else {
            "some thresholds failed"
        };
        let empty: Vec<String> = f
            .thresholds
            .iter()
            .filter(|r| r.no_data && !r.ok)
            .map(|r| r.threshold.to_string())
            .collect();
        let what = if empty.is_empty() {
            what.to_string()
        } else {
            format!(
                "{what}; with no data: {} (nothing was measured: see the run's errors)",
                empty.join(", ")
            )
        };
        return Verdict::fail(ExitCode::ThresholdsFailed, what);
    }
    if let Some(why) = everything_failed(f.aggregate, f.thresholds) {
        return Verdict::fail(ExitCode::ThresholdsFailed, why);
    }
    match f.aborted {
        Some(a) => Verdict::fail(ExitCode::Interrupted, a.to_string()),
        None => Verdict {
            exit: ExitCode::Ok,
            problem: None,
        },
    }
}

/// One way a run can fail completely: the metric a threshold on which
/// says "failures are expected here", and the check.
struct AllFailed {
    metric: Builtin,
    check: fn(&Aggregate) -> Option<String>,
}

const ALL_FAILED: &[AllFailed] = &[
    AllFailed {
        metric: Builtin::IterationsFailed,
        check: every_iteration_failed,
    },
    AllFailed {
        metric: Builtin::HttpReqFailed,
        check: every_request_failed,
    },
    AllFailed {
        metric: Builtin::KafkaProduceFailed,
        check: no_message_acked,
    },
    AllFailed {
        metric: Builtin::WsErrors,
        check: no_socket_opened,
    },
];

/// Why the run failed completely, whatever its thresholds: every iteration
/// failed, every HTTP request failed, no Kafka message was acked though
/// some were sent, or no WebSocket opened though some tried. A plan with its
/// own threshold on the failure metric (`iterations_failed`,
/// `http_req_failed`, `kafka_produce_failed`, `ws_errors`) decides itself.
pub fn everything_failed(agg: &Aggregate, thresholds: &[ThresholdResult]) -> Option<String> {
    let why: Vec<String> = ALL_FAILED
        .iter()
        .filter(|rule| {
            !thresholds
                .iter()
                .any(|r| r.threshold.selector.metric == rule.metric.name())
        })
        .filter_map(|rule| {
            (rule.check)(agg).map(|why| {
                format!(
                    "{why}; add a threshold on {} if failures are expected",
                    rule.metric.name()
                )
            })
        })
        .collect();
    (!why.is_empty()).then(|| why.join("; "))
}

/// `class count, class count` of a counter split by its `class` tag.
fn classes(agg: &Aggregate, metric: Builtin, key: &str) -> String {
    agg.by_tag(metric.name(), key)
        .into_iter()
        .map(|(class, v)| match v {
            Value::Counter { sum } => format!("{class} {sum}"),
            Value::Rate { trues, .. } => format!("{class} {trues}"),
            _ => class,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn every_iteration_failed(agg: &Aggregate) -> Option<String> {
    let total = agg.counter(Builtin::Iterations.name());
    let failed = agg.counter(Builtin::IterationsFailed.name());
    (total > 0.0 && failed >= total).then(|| {
        format!(
            "every iteration failed ({failed} of {total}: {}; the first errors are logged above)",
            classes(agg, Builtin::IterationsFailed, "class")
        )
    })
}

fn every_request_failed(agg: &Aggregate) -> Option<String> {
    let series = agg.metrics.get(Builtin::HttpReqFailed.name())?;
    let Value::Rate { trues, total } = series.total() else {
        return None;
    };
    if total == 0 || trues < total {
        return None;
    }
    let mut why: Vec<String> = agg
        .by_tag(Builtin::HttpReqFailed.name(), "error")
        .into_keys()
        .collect();
    why.extend(
        agg.by_tag(Builtin::HttpReqFailed.name(), "status")
            .into_keys()
            .map(|s| format!("status {s}")),
    );
    Some(format!(
        "every HTTP request failed ({total} of {total}: {})",
        why.join(", ")
    ))
}

fn no_message_acked(agg: &Aggregate) -> Option<String> {
    let failed = agg.counter(Builtin::KafkaProduceFailed.name());
    let acked = match agg
        .metrics
        .get(Builtin::KafkaProduceAck.name())
        .map(|s| s.total())
    {
        Some(Value::Trend(t)) => t.count,
        _ => 0,
    };
    (failed > 0.0 && acked == 0).then(|| {
        format!(
            "no Kafka message was acked ({failed} failed: {})",
            classes(agg, Builtin::KafkaProduceFailed, "class")
        )
    })
}

fn no_socket_opened(agg: &Aggregate) -> Option<String> {
    let errors = agg.counter(Builtin::WsErrors.name());
    let opened = agg.counter(Builtin::WsSessions.name());
    (errors > 0.0 && opened == 0.0).then(|| {
        format!(
            "no WebSocket opened ({errors} errors: {})",
            classes(agg, Builtin::WsErrors, "class")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Selector, Tags, Threshold, Thresholds};
    use std::time::Duration;

    /// A sample: the metric, its tags, its value.
    type Sample<'a> = (Builtin, &'a [(&'a str, &'a str)], f64);

    fn agg(samples: &[Sample<'_>]) -> Aggregate {
        let mut a = Aggregate::default();
        for (metric, tags, sample) in samples {
            let mut v = Value::new(metric.kind());
            v.add(*sample, 0);
            a.merge_value(metric.name(), &Tags::new(tags.iter().copied()), &v);
        }
        a
    }

    fn results(agg: &Aggregate, thresholds: &[(&str, &str)]) -> Vec<ThresholdResult> {
        let list = thresholds
            .iter()
            .map(|(m, e)| {
                Threshold::parse(Selector::parse(m).expect("valid selector"), e)
                    .expect("valid threshold")
            })
            .collect();
        Thresholds { list }.evaluate(agg, Duration::from_secs(1), |n| {
            Builtin::ALL
                .iter()
                .find(|b| b.name() == n)
                .map(|b| b.kind())
        })
    }

    fn facts<'a>(agg: &'a Aggregate, thresholds: &'a [ThresholdResult]) -> Facts<'a> {
        Facts {
            source: Path::new("plan.toml"),
            dropped_scenarios: &[],
            thresholds,
            aggregate: agg,
            scenario_errors: &[],
            teardown: None,
            tracking: None,
            aborted: None,
        }
    }

    fn healthy() -> Aggregate {
        agg(&[
            (Builtin::Iterations, &[], 1.0),
            (Builtin::HttpReqFailed, &[], 0.0),
        ])
    }

    #[test]
    fn a_healthy_run_exits_0() {
        let a = healthy();
        let v = verdict(&facts(&a, &[]));
        assert_eq!(v.exit, ExitCode::Ok);
        assert_eq!(v.problem, None);
    }

    #[test]
    fn a_threshold_on_an_unknown_metric_is_invalid_config_and_names_the_plan() {
        let a = healthy();
        let r = results(&a, &[("nope", "count>0")]);
        let dropped = ["other".to_string()];
        let v = verdict(&Facts {
            dropped_scenarios: &dropped,
            ..facts(&a, &r)
        });
        assert_eq!(v.exit, ExitCode::InvalidConfig);
        let p = v.problem.unwrap();
        assert!(p.starts_with("plan.toml: "), "{p}");
        assert!(p.contains("nope") && p.contains("left out other"), "{p}");
    }

    #[test]
    fn a_scenario_error_is_a_script_exception() {
        let a = healthy();
        let errors = ["scenario `s`: boom".to_string()];
        let v = verdict(&Facts {
            scenario_errors: &errors,
            ..facts(&a, &[])
        });
        assert_eq!(v.exit, ExitCode::ScriptException);
        assert_eq!(v.problem.as_deref(), Some("scenario `s`: boom"));
    }

    #[test]
    fn teardown_failure_is_107_and_its_timeout_101() {
        let a = healthy();
        let mut t = TeardownFailure {
            message: "x.wasm: `teardown` trapped".into(),
            timed_out: false,
        };
        let v = verdict(&Facts {
            teardown: Some(&t),
            ..facts(&a, &[])
        });
        assert_eq!(v.exit, ExitCode::ScriptException);
        t.timed_out = true;
        let v = verdict(&Facts {
            teardown: Some(&t),
            ..facts(&a, &[])
        });
        assert_eq!(v.exit, ExitCode::TeardownTimeout);
        assert_eq!(v.exit.code(), 101);
    }

    #[test]
    fn a_missed_tracking_goal_is_99() {
        let a = healthy();
        let v = verdict(&Facts {
            tracking: Some("track a->b: 3 of 10 seen"),
            ..facts(&a, &[])
        });
        assert_eq!(v.exit, ExitCode::ThresholdsFailed);
        assert_eq!(v.problem.as_deref(), Some("track a->b: 3 of 10 seen"));
    }

    #[test]
    fn failed_thresholds_are_99_and_say_which_had_no_data() {
        let a = healthy();
        let r = results(&a, &[("iterations", "count>5")]);
        let v = verdict(&facts(&a, &r));
        assert_eq!(v.exit, ExitCode::ThresholdsFailed);
        assert_eq!(v.problem.as_deref(), Some("some thresholds failed"));

        let r = results(&a, &[("http_req_duration", "p(99)<100")]);
        let v = verdict(&facts(&a, &r));
        assert_eq!(v.exit, ExitCode::ThresholdsFailed);
        let p = v.problem.unwrap();
        assert!(p.contains("with no data: http_req_duration"), "{p}");
    }

    #[test]
    fn an_abort_on_fail_says_the_run_was_aborted() {
        let a = healthy();
        let r = results(&a, &[("iterations", "count>5")]);
        let abort = Abort::Threshold("iterations: count>5".into());
        let v = verdict(&Facts {
            aborted: Some(&abort),
            ..facts(&a, &r)
        });
        assert_eq!(v.exit, ExitCode::ThresholdsFailed);
        assert!(v.problem.unwrap().contains("the run was aborted"));
    }

    #[test]
    fn an_interrupted_run_is_105_unless_something_worse_happened() {
        let a = healthy();
        let abort = Abort::Signal("SIGTERM");
        let v = verdict(&Facts {
            aborted: Some(&abort),
            ..facts(&a, &[])
        });
        assert_eq!(v.exit, ExitCode::Interrupted);
        assert_eq!(v.problem.as_deref(), Some("interrupted (SIGTERM)"));
        let r = results(&a, &[("iterations", "count>5")]);
        let v = verdict(&Facts {
            aborted: Some(&abort),
            ..facts(&a, &r)
        });
        assert_eq!(v.exit, ExitCode::ThresholdsFailed);
    }

    #[test]
    fn every_iteration_failed_is_99_without_a_threshold() {
        let a = agg(&[
            (Builtin::Iterations, &[], 3.0),
            (Builtin::IterationsFailed, &[("class", "trap")], 2.0),
            (Builtin::IterationsFailed, &[("class", "error")], 1.0),
        ]);
        let v = verdict(&facts(&a, &[]));
        assert_eq!(v.exit, ExitCode::ThresholdsFailed);
        let p = v.problem.unwrap();
        assert!(
            p.starts_with("every iteration failed (3 of 3: error 1, trap 2;"),
            "{p}"
        );
        assert!(p.contains("threshold on iterations_failed"), "{p}");
        // One iteration passing is not "everything failed".
        let a = agg(&[
            (Builtin::Iterations, &[], 3.0),
            (Builtin::IterationsFailed, &[("class", "trap")], 2.0),
        ]);
        assert_eq!(verdict(&facts(&a, &[])).exit, ExitCode::Ok);
    }

    #[test]
    fn a_threshold_on_the_failure_metric_decides_instead() {
        let a = agg(&[
            (Builtin::Iterations, &[], 3.0),
            (Builtin::IterationsFailed, &[("class", "trap")], 3.0),
        ]);
        let r = results(&a, &[("iterations_failed", "count>0")]);
        assert_eq!(verdict(&facts(&a, &r)).exit, ExitCode::Ok);
    }

    #[test]
    fn every_request_failed_is_99() {
        let a = agg(&[
            (Builtin::Iterations, &[], 2.0),
            (Builtin::HttpReqFailed, &[("error", "refused")], 1.0),
            (Builtin::HttpReqFailed, &[("error", "refused")], 1.0),
        ]);
        let v = verdict(&facts(&a, &[]));
        assert_eq!(v.exit, ExitCode::ThresholdsFailed);
        assert!(
            v.problem
                .unwrap()
                .starts_with("every HTTP request failed (2 of 2: refused)")
        );
    }

    #[test]
    fn no_kafka_ack_and_no_websocket_are_99() {
        let a = agg(&[
            (Builtin::Iterations, &[], 2.0),
            (Builtin::KafkaProduceFailed, &[("class", "refused")], 2.0),
        ]);
        let v = verdict(&facts(&a, &[]));
        assert_eq!(v.exit, ExitCode::ThresholdsFailed);
        assert!(v.problem.unwrap().contains("no Kafka message was acked"));
        // One ack is not "everything failed".
        let a = agg(&[
            (Builtin::Iterations, &[], 2.0),
            (Builtin::KafkaProduceFailed, &[("class", "refused")], 1.0),
            (Builtin::KafkaProduceAck, &[], 1500.0),
        ]);
        assert_eq!(verdict(&facts(&a, &[])).exit, ExitCode::Ok);

        let a = agg(&[
            (Builtin::Iterations, &[], 2.0),
            (Builtin::WsErrors, &[("class", "refused")], 2.0),
        ]);
        let v = verdict(&facts(&a, &[]));
        assert_eq!(v.exit, ExitCode::ThresholdsFailed);
        assert!(v.problem.unwrap().contains("no WebSocket opened"));
    }

    #[test]
    fn several_complete_failures_are_all_named() {
        let a = agg(&[
            (Builtin::Iterations, &[], 1.0),
            (Builtin::IterationsFailed, &[("class", "error")], 1.0),
            (Builtin::HttpReqFailed, &[("error", "refused")], 1.0),
        ]);
        let p = verdict(&facts(&a, &[])).problem.unwrap();
        assert!(
            p.contains("every iteration failed") && p.contains("every HTTP request failed"),
            "{p}"
        );
    }
}
