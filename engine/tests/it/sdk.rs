//! Every function of the Rust SDK (`sdk/rust`), called by the fixture's
//! `sdk-*` entries against the embedded targets: the guest checks what it
//! can see (all its checks must pass); these tests check what only the
//! engine sees (metrics and their tags, log lines, targets' counts). The C
//! SDK's twin is in `languages.rs`.

use std::process::Command;

use crate::support::*;

fn one_scenario(targets: &str, exec: &str, vus: u32, iterations: u32) -> volley::run::Outcome {
    run_plan(plan(
        &format!(
            r#"
            [targets]
            {targets}
            [scenarios.sdk]
            executor = "per-vu-iterations"
            exec = "{exec}"
            vus = {vus}
            iterations = {iterations}
            "#
        ),
        &fixture(),
    ))
}

fn all_checks_pass(out: &volley::run::Outcome, per_iteration: u64, iterations: u64) {
    assert_eq!(counter(out, "iterations_failed"), 0.0, "{:?}", out.problem);
    let (passed, total) = rate_counts(out, "checks");
    assert_eq!(
        (passed, total),
        (per_iteration * iterations, per_iteration * iterations)
    );
}

#[test]
fn the_rust_sdk_http_calls_do_what_they_say() {
    let out = one_scenario(r#"api = "embedded:http""#, "sdk-http", 2, 2);
    all_checks_pass(&out, 24, 4);
    // The scenario's verdicts, not the statuses, fail its judged requests;
    // one left without a verdict is judged by its status.
    for (name, failed) in [
        ("sdk judged 404", 0),
        ("sdk judged 200", 4),
        ("sdk judged checked", 0),
        ("sdk judged left", 4),
        ("sdk judged last", 0),
    ] {
        assert_eq!(
            rate_where(&out, "http_req_failed", "name", name),
            (failed, 4),
            "{name}"
        );
    }
    assert_eq!(
        rate_where(&out, "checks", "check", "sdk judged checked"),
        (4, 4)
    );
    // `volley_verdict=guest` (components built before `verdict`): the
    // scenario records the sample with the metrics import, the engine none.
    assert_eq!(
        counter_where(&out, "http_reqs", "name", "sdk judged by metrics"),
        4.0
    );
    assert_eq!(
        rate_where(&out, "http_req_failed", "name", "sdk judged by metrics"),
        (0, 0)
    );
    // name() and tag() label the samples; method and expected statuses count.
    assert_eq!(counter_where(&out, "http_reqs", "name", "sdk tagged"), 4.0);
    assert_eq!(counter_where(&out, "http_reqs", "sdk", "yes"), 4.0);
    assert_eq!(counter_where(&out, "http_reqs", "method", "PATCH"), 4.0);
    assert_eq!(counter_where(&out, "http_reqs", "method", "DELETE"), 4.0);
    assert_eq!(
        rate_where(&out, "http_req_failed", "name", "sdk expected 404"),
        (0, 4)
    );
    assert_eq!(
        rate_where(&out, "http_req_failed", "name", "sdk unexpected 404"),
        (4, 4)
    );
    assert_eq!(
        counter_where(&out, "http_reqs", "error", "timeout"),
        4.0,
        "the request past its timeout"
    );
    // A request's own expected statuses; a batch's requests are recorded
    // one by one (the one with an unencodable header never left the SDK).
    assert_eq!(
        rate_where(&out, "http_req_failed", "name", "sdk expect 404"),
        (0, 4)
    );
    assert_eq!(counter_where(&out, "http_reqs", "name", "sdk batch"), 16.0);
    assert_eq!(
        rate_where(&out, "http_req_failed", "name", "sdk batch"),
        (0, 16)
    );
    // 1,024 replies held at once (the scenario's own response is one of
    // them); a fetch past the bound sent nothing.
    assert_eq!(
        counter_where(&out, "http_reqs", "name", "sdk fetch held"),
        4.0 * 1_023.0
    );
    assert_eq!(
        counter_where(&out, "http_reqs", "name", "sdk fetch past"),
        4.0
    );
    // A check carries the tags given with it.
    assert_eq!(rate_where(&out, "checks", "group", "::sdk"), (4, 4));
}

#[test]
fn the_rust_sdk_ws_calls_do_what_they_say() {
    let out = one_scenario(r#"auction = "embedded:auction""#, "sdk-ws", 2, 2);
    all_checks_pass(&out, 8, 4);
    // Two sockets an iteration opened (the one with a subprotocol failed),
    // two messages sent and one ping on the tagged one.
    assert_eq!(counter(&out, "ws_sessions"), 8.0);
    assert_eq!(counter_where(&out, "ws_msgs_sent", "sdk", "ws"), 8.0);
    assert_eq!(trend_count(&out, "ws_ping"), 4);
    // The refused subprotocol (class `other`) and the send after close.
    assert_eq!(counter_where(&out, "ws_errors", "class", "other"), 4.0);
    assert_eq!(counter_where(&out, "ws_errors", "class", "closed"), 4.0);
}

#[test]
fn the_rust_sdk_kafka_calls_do_what_they_say() {
    let out = one_scenario(r#"kafka = "embedded:kafka""#, "sdk-kafka", 1, 1);
    all_checks_pass(&out, 8, 1);
    assert_eq!(
        counter(&out, "kafka_produced"),
        14.0,
        "3 one by one, 4 in a batch, a kept batch of 3 twice, 1 before a bad record"
    );
    assert_eq!(
        counter_where(&out, "kafka_produce_failed", "class", "config"),
        1.0,
        "the bad record"
    );
    assert!(
        counter(&out, "kafka_consumed") >= 15.0,
        "assigned twice, then the group"
    );
}

#[test]
fn the_rust_sdk_vu_data_log_and_metric_calls_do_what_they_say() {
    let dir = std::env::temp_dir().join(format!("volley-sdk-vu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users.csv"), "name,password\nann,pw1\nbob,pw2\n").unwrap();
    let plan = dir.join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            r#"
            [options]
            component = {:?}
            params = {{ greeting = "hello" }}
            [data]
            users = "users.csv"
            [scenarios.sdk-vu]
            executor = "per-vu-iterations"
            exec = "sdk-vu"
            vus = 2
            iterations = 3
            "#,
            fixture().to_str().unwrap()
        ),
    )
    .unwrap();
    let export = dir.join("export.json");
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args([
            "run",
            plan.to_str().unwrap(),
            "--quiet",
            "--log-level",
            "debug",
        ])
        .arg("--summary-export")
        .arg(&export)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for level in ["DEBUG", "INFO", "WARN", "ERROR"] {
        let line = format!("sdk log {} line", level.to_lowercase());
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(level) && l.contains(&line)),
            "{line}: {stderr}"
        );
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let v = |metric: &str, field: &str| {
        doc["metrics"][metric]["values"][field]
            .as_f64()
            .unwrap_or_else(|| panic!("no {metric}.{field}"))
    };
    assert_eq!(v("checks", "fails"), 0.0);
    assert_eq!(v("checks", "passes"), 6.0 * 11.0);
    // `iteration_in_scenario`: 0 to 5, each once, over both VUs.
    let numbers = export_series(&doc, "sdk_scenario_iterations", "n");
    let want: Vec<(String, f64)> = (0..6).map(|n| (n.to_string(), 1.0)).collect();
    assert_eq!(numbers, want, "{}", doc["series"]);
    assert_eq!(v("sdk_counter", "count"), 6.0 * 5.0);
    assert_eq!(v("sdk_gauge", "value"), 7.0);
    assert_eq!(v("sdk_gauge_tagged", "value"), 8.0);
    assert_eq!(
        (v("sdk_rate", "passes"), v("sdk_rate", "fails")),
        (6.0, 6.0)
    );
    assert_eq!((v("sdk_trend", "min"), v("sdk_trend", "max")), (12.5, 25.0));
    assert_eq!(v("sdk_mark_latency", "count"), 6.0);
    // The tagged samples are their own series.
    let tagged = doc["series"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|e| e["metric"] == "sdk_counter" && e["tags"]["kind"] == "tagged")
                .count()
        })
        .unwrap_or(0);
    assert_eq!(tagged, 1, "{}", doc["series"]);
    // Groups: a sample carries the open group's path, none outside; each
    // group's time is a `group_duration` sample per iteration.
    assert_eq!(v("sdk_grouped", "count"), 6.0 * 7.0);
    assert_eq!(
        export_series(&doc, "sdk_grouped", "group"),
        [
            ("::sdk outer".to_string(), 6.0),
            ("::sdk outer::sdk inner".to_string(), 12.0)
        ]
    );
    let groups: Vec<String> = export_series(&doc, "group_duration", "group")
        .into_iter()
        .map(|(g, _)| g)
        .collect();
    assert_eq!(groups, ["::sdk outer", "::sdk outer::sdk inner"]);
    assert_eq!(v("group_duration", "count"), 12.0);
    let checks = export_series(&doc, "checks", "group");
    assert!(
        checks.iter().any(|(g, _)| g == "::sdk outer::sdk inner"),
        "{checks:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
