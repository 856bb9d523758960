//! HTTP scenarios against real loopback servers: counts match what the
//! target saw, failures are classified, the allowlist holds.

use crate::support::*;

#[test]
fn http_ingest_counts_equal_what_the_target_saw() {
    let (server_rt, server) = standalone_http();
    let p = plan(
        &format!(
            r#"
            [targets]
            api = "{}"
            [scenarios.ingest]
            executor = "shared-iterations"
            vus = 10
            iterations = 300
            [thresholds]
            http_req_failed = ["rate<0.01"]
            "http_req_duration{{name:post message}}" = ["p(99)<5000"]
            checks = ["rate>0.99"]
            "#,
            server.url()
        ),
        &http_ingest(),
    );
    let out = run_plan(p);
    let stats = server.stats();
    assert_eq!(counter(&out, "http_reqs"), 300.0);
    assert_eq!(counter(&out, "iterations"), 300.0);
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    assert_eq!(stats.requests, 300);
    assert_eq!(stats.messages, 300);
    assert_eq!(rate_counts(&out, "http_req_failed"), (0, 300));
    assert_eq!(rate_counts(&out, "checks"), (300, 300));
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
    assert!(out.report.thresholds.iter().all(|t| t.ok));
    assert!(counter(&out, "data_sent") > 0.0 && counter(&out, "data_received") > 0.0);
    server_rt.block_on(server.shutdown());
}

#[test]
fn a_dead_target_fails_requests_as_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = plan(
        &format!(
            r#"
            [targets]
            dead = "http://127.0.0.1:{port}"
            [scenarios.h]
            executor = "per-vu-iterations"
            exec = "http"
            iterations = 3
            params = {{ url = "http://127.0.0.1:{port}/" }}
            "#
        ),
        &fixture(),
    );
    let out = run_plan(p);
    assert_eq!(rate_counts(&out, "http_req_failed"), (3, 3));
    let by_error = out.report.aggregate.by_tag("http_req_failed", "error");
    assert!(by_error.contains_key("refused"), "{by_error:?}");
    assert_eq!(counter(&out, "iterations"), 3.0);
}

#[test]
fn hosts_outside_the_allowlist_are_refused() {
    let (server_rt, server) = standalone_http();
    let p = plan(
        &format!(
            r#"
            [scenarios.h]
            executor = "per-vu-iterations"
            exec = "http"
            iterations = 2
            params = {{ url = "{}/health" }}
            "#,
            server.url()
        ),
        &fixture(),
    );
    let out = run_plan(p);
    let by_error = out.report.aggregate.by_tag("http_req_failed", "error");
    assert!(by_error.contains_key("not_allowed"), "{by_error:?}");
    assert_eq!(server.stats().requests, 0);
    server_rt.block_on(server.shutdown());
}

#[test]
fn unnamed_requests_are_grouped_by_url_without_query() {
    let (server_rt, server) = standalone_http();
    let p = plan(
        &format!(
            r#"
            [targets]
            api = "{url}"
            [scenarios.h]
            executor = "per-vu-iterations"
            exec = "get"
            iterations = 3
            params = {{ url = "{url}/health?request=unique" }}
            "#,
            url = server.url()
        ),
        &fixture(),
    );
    let out = run_plan(p);
    let names = out.report.aggregate.by_tag("http_reqs", "name");
    let want = format!("{}/health", server.url());
    assert!(
        matches!(names.get(&want), Some(volley::metrics::Value::Counter { sum }) if *sum == 3.0),
        "{names:?}"
    );
    assert_eq!(names.len(), 1, "{names:?}");
    server_rt.block_on(server.shutdown());
}
