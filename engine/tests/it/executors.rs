//! Each executor runs the iterations its parameters promise.

use crate::support::*;
use volley::metrics::Value;

#[test]
fn shared_iterations_run_exactly_the_shared_count() {
    let p = plan(
        r#"
        [scenarios.s]
        executor = "shared-iterations"
        exec = "empty"
        vus = 4
        iterations = 50
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    assert_eq!(counter(&out, "iterations"), 50.0);
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    assert_eq!(trend_count(&out, "iteration_duration"), 50);
}

#[test]
fn per_vu_iterations_run_per_vu() {
    let p = plan(
        r#"
        [scenarios.p]
        executor = "per-vu-iterations"
        exec = "empty"
        vus = 3
        iterations = 7
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    assert_eq!(counter(&out, "iterations"), 21.0);
    // teardown ran once, with the bytes setup returned (else exit 100).
    assert_eq!(counter(&out, "fixture_teardowns"), 1.0);
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
}

#[test]
fn constant_arrival_rate_starts_or_drops_every_arrival() {
    let p = plan(
        r#"
        [scenarios.c]
        executor = "constant-arrival-rate"
        exec = "empty"
        rate = 50
        duration = "1s"
        preAllocatedVUs = 5
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    let started = counter(&out, "iterations");
    let dropped = counter(&out, "dropped_iterations");
    assert_eq!(
        started + dropped,
        50.0,
        "started {started} dropped {dropped}"
    );
    assert!(started > 0.0);
}

#[test]
fn arrival_rate_without_free_vus_drops_and_corrects_latency() {
    // One VU, each iteration sleeps 400 ms, 10 arrivals per second for 1 s:
    // most arrivals find no free VU.
    let p = plan(
        r#"
        [scenarios.c]
        executor = "constant-arrival-rate"
        exec = "sleep"
        params = { sleep_ms = "400" }
        rate = 10
        duration = "1s"
        preAllocatedVUs = 1
        maxVUs = 1
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    let started = counter(&out, "iterations");
    let dropped = counter(&out, "dropped_iterations");
    assert_eq!(started + dropped, 10.0);
    assert!(dropped >= 6.0, "dropped {dropped}");
    let series = &out.report.aggregate.metrics;
    let (Value::Trend(corrected), Value::Trend(service)) = (
        series["iteration_duration"].total(),
        series["iteration_service_time"].total(),
    ) else {
        panic!("iteration trends missing")
    };
    assert!(corrected.max >= service.max);
    assert!(service.min >= 400_000, "sleep 400ms took {}µs", service.min);
}

#[test]
fn ramping_arrival_rate_follows_the_integral() {
    // 0 -> 40/s over 1 s is 20 arrivals.
    let p = plan(
        r#"
        [scenarios.r]
        executor = "ramping-arrival-rate"
        exec = "empty"
        preAllocatedVUs = 4
        stages = [{ duration = "1s", target = 40 }]
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    let total = counter(&out, "iterations") + counter(&out, "dropped_iterations");
    assert_eq!(total, 20.0);
}

#[test]
fn ramping_vus_never_exceeds_the_target() {
    let p = plan(
        r#"
        [scenarios.r]
        executor = "ramping-vus"
        exec = "sleep"
        params = { sleep_ms = "50" }
        startVUs = 0
        stages = [{ duration = "600ms", target = 3 }, { duration = "400ms", target = 0 }]
        gracefulRampDown = "1s"
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    assert!(counter(&out, "iterations") > 0.0);
    match out.report.aggregate.metrics["vus"].total() {
        Value::Gauge { max, .. } => assert!(max <= 3.0, "vus max {max}"),
        other => panic!("{other:?}"),
    }
    match out.report.aggregate.metrics["vus_max"].total() {
        Value::Gauge { max, .. } => assert_eq!(max, 3.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn constant_vus_loop_for_the_duration() {
    let p = plan(
        r#"
        [scenarios.c]
        executor = "constant-vus"
        exec = "sleep"
        params = { sleep_ms = "100" }
        vus = 2
        duration = "1s"
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    let n = counter(&out, "iterations");
    // Each VU sleeps 100 ms per iteration: at most 11 iterations each.
    assert!((2.0..=22.0).contains(&n), "{n} iterations");
}

#[test]
fn scenarios_run_side_by_side_with_their_own_tags_and_params() {
    let p = plan(
        r#"
        [scenarios.first]
        executor = "per-vu-iterations"
        exec = "params"
        params = { expect = "a", got = "a" }
        tags = { team = "one" }
        [scenarios.second]
        executor = "shared-iterations"
        exec = "params"
        vus = 2
        iterations = 4
        startTime = "100ms"
        params = { expect = "b", got = "b" }
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    let by_scenario = out.report.aggregate.by_tag("iterations", "scenario");
    assert!(matches!(by_scenario.get("first"), Some(Value::Counter { sum }) if *sum == 1.0));
    assert!(matches!(by_scenario.get("second"), Some(Value::Counter { sum }) if *sum == 4.0));
    assert!(
        out.report
            .aggregate
            .by_tag("iterations", "team")
            .contains_key("one")
    );
    let (passes, total) = rate_counts(&out, "checks");
    assert_eq!((passes, total), (5, 5));
}

#[test]
fn custom_metrics_marks_and_data_reach_the_aggregate() {
    let dir = std::env::temp_dir().join(format!("volley-it-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users.csv"), "name,password\nann,pw1\n").unwrap();
    let text = format!(
        r#"
        [data]
        users = "{}"
        [scenarios.m]
        executor = "per-vu-iterations"
        exec = "metrics"
        vus = 2
        iterations = 3
        [scenarios.k]
        executor = "per-vu-iterations"
        exec = "mark"
        iterations = 4
        [scenarios.d]
        executor = "per-vu-iterations"
        exec = "data"
        "#,
        dir.join("users.csv").display()
    );
    let out = run_plan(plan(&text, &fixture()));
    let agg = &out.report.aggregate;
    let customs: Vec<_> = agg.metrics.keys().cloned().collect();
    for kind in [volley::metrics::Kind::Counter, volley::metrics::Kind::Trend] {
        assert!(
            agg.metrics.values().any(|s| s.kind == kind),
            "no {kind:?} in {customs:?}"
        );
    }
    // Every `mark` iteration records one latency in its trend.
    let marked: u64 = agg
        .metrics
        .iter()
        .filter(|(name, _)| name.contains("mark"))
        .map(|(_, s)| match s.total() {
            Value::Trend(t) => t.count,
            _ => 0,
        })
        .sum();
    assert_eq!(marked, 4, "metrics: {customs:?}");
    let checks = agg.by_tag("checks", "check");
    assert!(
        checks.values().all(|v| v.rate() == 1.0),
        "a data/metrics check failed: {checks:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
