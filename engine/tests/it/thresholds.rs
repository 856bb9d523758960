//! Thresholds decide the exit code; exports validate against their schema.

use crate::support::*;
use volley::ExitCode;
use volley::plan::Overrides;

fn with_thresholds(exec: &str, thresholds: &[(&str, &str)]) -> volley::run::Outcome {
    let ov = Overrides {
        thresholds: thresholds
            .iter()
            .map(|(m, e)| (m.to_string(), e.to_string()))
            .collect(),
        ..Default::default()
    };
    let p = plan_with(
        &format!(
            r#"
            [scenarios.t]
            executor = "per-vu-iterations"
            exec = "{exec}"
            vus = 2
            iterations = 5
            "#
        ),
        &fixture(),
        ov,
    );
    run_plan(p)
}

#[test]
fn passing_thresholds_exit_zero() {
    let out = with_thresholds(
        "empty",
        &[
            ("iterations", "count==10"),
            ("iteration_duration", "p(99)<60000"),
        ],
    );
    assert_eq!(out.exit, ExitCode::Ok);
    assert!(out.report.thresholds.iter().all(|r| r.ok));
}

#[test]
fn failing_thresholds_exit_99() {
    let out = with_thresholds("checks", &[("checks", "rate>0.9")]);
    assert_eq!(out.exit, ExitCode::ThresholdsFailed);
    let r = &out.report.thresholds[0];
    assert!(!r.ok);
    assert!(
        (r.observed - 0.5).abs() < 1e-9,
        "checks rate {}",
        r.observed
    );
}

#[test]
fn sub_metric_thresholds_select_by_tag() {
    let out = with_thresholds(
        "checks",
        &[
            ("checks{check:always passes}", "rate==1"),
            ("checks{check:always fails}", "rate==0"),
        ],
    );
    assert_eq!(out.exit, ExitCode::Ok, "{:?}", out.report.thresholds);
}

#[test]
fn a_threshold_on_a_missing_metric_is_an_error() {
    let out = with_thresholds("empty", &[("no_such_metric", "count>0")]);
    assert_eq!(out.exit, ExitCode::InvalidConfig);
    assert!(out.problem.unwrap().contains("no_such_metric"));
}

#[test]
fn abort_on_fail_stops_the_run_early() {
    let p = plan(
        r#"
        [scenarios.t]
        executor = "constant-vus"
        exec = "err"
        vus = 2
        duration = "60s"
        [thresholds]
        iterations_failed = [{ threshold = "count<1", abortOnFail = true }]
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    assert_eq!(out.exit, ExitCode::ThresholdsFailed);
    assert!(
        out.report
            .aborted
            .as_deref()
            .unwrap_or("")
            .contains("abortOnFail")
    );
    // Stopped by the threshold, long before the 60 s duration.
    assert!(out.report.elapsed < std::time::Duration::from_secs(60));
}

#[test]
fn summary_export_matches_its_schema() {
    let out = with_thresholds("checks", &[("checks", "rate>0.1")]);
    let path = std::env::temp_dir().join(format!("volley-export-{}.json", std::process::id()));
    volley::output::write_export(&out.report, &path).unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("engine/schema/summary-export.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(doc["metrics"]["iterations"]["values"]["count"], 10.0);
    std::fs::remove_file(&path).ok();
}
