//! Traps, timeouts, errors and dead targets fail iterations and the run
//! goes on; a run where every iteration failed exits non-zero at the end.

use crate::support::*;

fn failing(exec: &str, extra: &str) -> volley::run::Outcome {
    let p = plan(
        &format!(
            r#"
            [options]
            iterationTimeout = "300ms"
            {extra}
            [scenarios.f]
            executor = "per-vu-iterations"
            exec = "{exec}"
            vus = 2
            iterations = 3
            "#
        ),
        &fixture(),
    );
    run_plan(p)
}

#[test]
fn a_trapping_scenario_fails_each_iteration_and_keeps_running() {
    let out = failing("trap", "");
    assert_eq!(counter(&out, "iterations"), 6.0);
    assert_eq!(
        counter_where(&out, "iterations_failed", "class", "trap"),
        6.0
    );
    // Every iteration failed and no threshold said that was expected.
    assert_eq!(out.exit, volley::ExitCode::ThresholdsFailed);
    let problem = out.problem.unwrap_or_default();
    assert!(
        problem.starts_with("every iteration failed (6 of 6: trap 6;"),
        "{problem}"
    );
}

#[test]
fn a_trapped_vu_is_reinstantiated_and_recovers() {
    // `trap-first` traps on a VU's first iteration only, then passes a check.
    let out = failing("trap-first", "");
    assert_eq!(
        counter_where(&out, "iterations_failed", "class", "trap"),
        2.0
    );
    assert_eq!(rate_counts(&out, "checks"), (4, 4));
}

#[test]
fn a_recursing_scenario_traps_on_its_stack_limit_and_its_vus_go_on() {
    // The pooled fiber stacks are small: endless recursion must hit wasm's
    // stack limit (a trap), never the host's guard page.
    let out = failing("recurse", "");
    assert_eq!(counter(&out, "iterations"), 6.0);
    assert_eq!(
        counter_where(&out, "iterations_failed", "class", "trap"),
        6.0
    );
    let problem = out.problem.unwrap_or_default();
    assert!(problem.contains("trap 6"), "{problem}");
}

#[test]
fn a_looping_scenario_is_stopped_at_its_deadline() {
    let out = failing("spin", "");
    assert_eq!(
        counter_where(&out, "iterations_failed", "class", "timeout"),
        6.0
    );
}

#[test]
fn a_scenario_blocked_in_a_host_call_is_stopped_at_its_deadline() {
    let out = failing("sleep", "params = { sleep_ms = \"5000\" }");
    assert_eq!(
        counter_where(&out, "iterations_failed", "class", "timeout"),
        6.0
    );
}

#[test]
fn an_error_return_is_a_failed_iteration() {
    let out = failing("err", "");
    assert_eq!(
        counter_where(&out, "iterations_failed", "class", "error"),
        6.0
    );
}

#[test]
fn running_out_of_memory_traps_instead_of_growing() {
    let out = failing("alloc", "memoryLimit = \"4MiB\"");
    assert_eq!(
        counter_where(&out, "iterations_failed", "class", "trap"),
        6.0
    );
}

#[test]
fn a_metric_used_with_the_wrong_kind_never_records_into_the_other() {
    // Each iteration: a trend sample of 5, then the same name twice as a
    // counter of 1000 (refused, each time).
    let out = failing("misuse", "");
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
    match out
        .report
        .aggregate
        .metrics
        .get("fixture_misused")
        .map(|s| s.total())
    {
        Some(volley::metrics::Value::Trend(t)) => {
            assert_eq!(t.count, 6, "one trend sample per iteration");
            assert_eq!(t.max, 5000, "a counter value reached the trend");
        }
        other => panic!("fixture_misused is not a trend: {other:?}"),
    }
    assert_eq!(rate_counts(&out, "checks"), (12, 12), "refused at declare");
}

#[test]
fn a_trapped_vu_s_sockets_are_closed_with_its_instance() {
    // Every iteration opens a socket, leaks the handle and traps; the next
    // one checks (against the target's viewer count) that it was closed.
    let p = plan(
        r#"
        [targets]
        auction = "embedded:auction"
        [scenarios.f]
        executor = "per-vu-iterations"
        exec = "ws-trap"
        vus = 2
        iterations = 4
        "#,
        &fixture(),
    );
    let out = run_plan(p);
    assert_eq!(
        counter_where(&out, "iterations_failed", "class", "trap"),
        8.0
    );
    assert_eq!(rate_counts(&out, "checks"), (6, 6));
}

/// Making a Kafka consumer waits for the cluster's broker list (5 s against
/// a dead broker), and committing or seeking waits for the broker. Those
/// waits ran on a runtime worker and stalled every VU sharing it: with one
/// worker, the busy scenario below could not end an iteration until the
/// dead subscribe returned. They now wait on the blocking pool, and the busy
/// VU's 50 iterations (about 1 s) end while the subscribe still waits.
#[test]
fn a_dead_kafka_broker_does_not_stall_the_other_vus() {
    let dir = scratch("failures", "dead-kafka");
    let script = dir.join("scenario.js");
    std::fs::write(
        &script,
        r#"import { kafka, vu, check, sleep, Trend } from 'volley';

export const options = { scenarios: {
  dead: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'dead' },
  busy: { executor: 'per-vu-iterations', vus: 1, iterations: 50, exec: 'busy' },
} };
const ms = () => vu.nowUs() / 1000;
const deadStart = new Trend('dead_start'), deadEnd = new Trend('dead_end'), busyEnd = new Trend('busy_end');
export function dead() {
  deadStart.add(ms());
  let made = '';
  try { kafka.Consumer.subscribe({ bootstrap: '127.0.0.1:1', properties: [] }, 'g', ['t']).drop(); made = 'made'; } catch (e) { made = `${e.payload && e.payload.class}`; }
  deadEnd.add(ms());
  check(made, { 'subscribe returns': (m) => m === 'made' });
}
export function busy() {
  sleep(0.02);
  busyEnd.add(ms());
}
"#,
    )
    .unwrap();
    let export = dir.join("summary.json");
    let (code, _, stderr) = volley(&[
        "run",
        script.to_str().unwrap(),
        "--threads",
        "1",
        "--allow-host",
        "127.0.0.1:1",
        "--quiet",
        "--summary-export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let at = |metric: &str, stat: &str| {
        doc["metrics"][metric]["values"][stat]
            .as_f64()
            .unwrap_or_else(|| panic!("no {metric} {stat}: {doc}"))
    };
    assert_eq!(at("busy_end", "count"), 50.0, "{doc}");
    assert_eq!(at("checks", "passes"), 1.0, "{doc}");
    // The subscribe did wait (else the test shows nothing)...
    assert!(
        at("dead_end", "max") > at("dead_start", "max") + 2_000.0,
        "{doc}"
    );
    // ...and the busy VU ended every iteration meanwhile.
    assert!(at("busy_end", "max") < at("dead_end", "max"), "{doc}");
}
