//! Results that used to be silently wrong: thresholds over no data, load
//! flags that quietly changed multi-scenario plans, spawn rates, the same
//! random numbers in every run, redirects not followed, repeated headers.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use volley::ExitCode;
use volley::plan::Overrides;

use crate::support::*;

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A loopback port nothing listens on.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn every_request_refused_fails_the_latency_threshold_with_no_data() {
    let port = dead_port();
    let url = format!("http://127.0.0.1:{port}/");
    let dir = scratch("silent", "refused");
    let export = dir.join("export.json");
    let fixture = fixture();
    let (code, out, err) = volley(&[
        "run",
        fixture.to_str().unwrap(),
        "--exec",
        "http",
        "--iterations",
        "3",
        "-e",
        &format!("url={url}"),
        "--allow-host",
        &format!("127.0.0.1:{port}"),
        "--threshold",
        "http_req_duration:p(99)<2000",
        "--summary-export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(code, 99, "{out}\n{err}");
    assert!(out.contains("✗ 'p(99)<2000' no data"), "{out}");
    assert!(!out.contains("✓ 'p(99)<2000'"), "{out}");
    assert!(err.contains("with no data: http_req_duration"), "{err}");
    let doc = read_json(&export);
    let t = &doc["metrics"]["http_req_duration"]["thresholds"]["p(99)<2000"];
    assert_eq!(t["ok"], false, "{t}");
    assert_eq!(t["noData"], true, "{t}");
    // A refused request is counted and failed, but has no duration: the
    // latency percentiles describe answered requests only.
    assert_eq!(doc["metrics"]["http_reqs"]["values"]["count"], 3.0);
    assert_eq!(doc["metrics"]["http_req_failed"]["values"]["passes"], 3.0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_run_whose_every_request_failed_exits_99_without_thresholds() {
    let port = dead_port();
    let fixture = fixture();
    let (url, host) = (
        format!("url=http://127.0.0.1:{port}/"),
        format!("127.0.0.1:{port}"),
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            fixture.to_str().unwrap(),
            "--exec",
            "http",
            "--iterations",
            "2",
            "-e",
            &url,
            "--allow-host",
            &host,
        ];
        args.extend_from_slice(extra);
        volley(&args)
    };
    let (code, out, err) = run(&[]);
    assert_eq!(code, 99, "{out}\n{err}");
    assert!(
        err.contains("every HTTP request failed (2 of 2: refused)"),
        "{err}"
    );
    // Saying failures are expected is the way out.
    let (code, out, err) = run(&["--threshold", "http_req_failed:rate==1"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// k6 exits 0 when every iteration throws; volley does not: a run where
/// everything failed must never look green.
#[test]
fn a_run_whose_every_iteration_failed_exits_99_without_thresholds() {
    let fixture = fixture();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            fixture.to_str().unwrap(),
            "--exec",
            "err",
            "--iterations",
            "2",
        ];
        args.extend_from_slice(extra);
        volley(&args)
    };
    let (code, out, err) = run(&[]);
    assert_eq!(code, 99, "{out}\n{err}");
    assert!(
        err.contains("volley: every iteration failed (2 of 2: error 2;"),
        "{err}"
    );
    assert!(
        err.contains("add a threshold on iterations_failed if failures are expected"),
        "{err}"
    );
    // A threshold on the failure metric decides instead.
    let (code, out, err) = run(&["--threshold", "iterations_failed:count==2"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

fn thresholds_run(thresholds: &str) -> volley::run::Outcome {
    let p = plan(
        &format!(
            r#"
            [scenarios.t]
            executor = "per-vu-iterations"
            exec = "checks"
            iterations = 2
            [thresholds]
            {thresholds}
            "#
        ),
        &fixture(),
    );
    run_plan(p)
}

#[test]
fn a_threshold_on_a_metric_with_no_samples_fails_unless_allowed() {
    // No socket was opened: ws_connecting is built in but has no sample.
    let out = thresholds_run(r#"ws_connecting = ["p(99)<2000"]"#);
    assert_eq!(out.exit, ExitCode::ThresholdsFailed, "{:?}", out.problem);
    let r = &out.report.thresholds[0];
    assert!(r.no_data && !r.ok, "{r:?}");
    let text = volley::output::render_summary(&out.report, false);
    assert!(text.contains("✗ 'p(99)<2000' no data"), "{text}");

    // A sub-metric that matches nothing has no data either.
    let out = thresholds_run(r#""checks{check:never made}" = ["rate>0.5"]"#);
    assert_eq!(out.exit, ExitCode::ThresholdsFailed, "{:?}", out.problem);

    // The plan may say that no data is fine.
    let out = thresholds_run(
        r#"ws_connecting = [{ threshold = "p(99)<2000", noData = "pass" }]
            "checks{check:always passes}" = ["rate==1"]"#,
    );
    assert_eq!(out.exit, ExitCode::Ok, "{:?}", out.report.thresholds);
    let r = out
        .report
        .thresholds
        .iter()
        .find(|r| r.threshold.selector.metric == "ws_connecting")
        .unwrap();
    assert!(r.no_data && r.ok, "{r:?}");
    let dir = scratch("silent", "nodata");
    let export = dir.join("e.json");
    volley::output::write_export(&out.report, &export).unwrap();
    let doc = read_json(&export);
    let t = &doc["metrics"]["ws_connecting"]["thresholds"]["p(99)<2000"];
    assert_eq!(
        (&t["ok"], &t["noData"], &t["onNoData"]),
        (
            &serde_json::json!(true),
            &serde_json::json!(true),
            &serde_json::json!("pass")
        )
    );
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("engine/schema/summary-export.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A plan with two scenarios of different functions.
fn two_scenario_plan(dir: &Path) -> PathBuf {
    let p = dir.join("two.toml");
    std::fs::write(
        &p,
        format!(
            r#"
            [options]
            component = "{}"
            [scenarios.viewers]
            executor = "per-vu-iterations"
            exec = "checks"
            vus = 1
            iterations = 1
            [scenarios.publisher]
            executor = "per-vu-iterations"
            exec = "empty"
            vus = 1
            iterations = 1
            [thresholds]
            "checks{{scenario:viewers}}" = ["rate>0.4"]
            "#,
            fixture().display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn load_flags_on_a_multi_scenario_plan_are_refused_with_the_alternative() {
    let dir = scratch("silent", "multi");
    let p = two_scenario_plan(&dir);
    let p = p.to_str().unwrap();
    let (code, out, err) = volley(&["run", p, "-u", "3", "-d", "1s"]);
    assert_eq!(code, 104, "{out}\n{err}");
    assert!(
        err.contains("2 scenarios (publisher, viewers)")
            && err.contains("--scenario publisher --vus 3 --duration 1s"),
        "{err}"
    );
    // With --scenario the flags shape that scenario, which keeps its exec;
    // a threshold on the dropped scenario is said to be skipped.
    let (code, out, err) = volley(&["run", p, "--scenario", "viewers", "-i", "2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("viewers: shared-iterations") && out.contains("✓ always passes"),
        "{out}"
    );
    assert!(
        err.contains(
            "replaces its per-vu-iterations load (shared-iterations now); it keeps its exec `checks`"
        ),
        "{err}"
    );
    let (code, out, err) = volley(&["run", p, "--scenario", "publisher", "-i", "1"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("threshold `checks{scenario:viewers}: rate>0.4` is not evaluated"),
        "{err}"
    );
    // --spawn-rate too needs one scenario.
    let (code, _, err) = volley(&["run", p, "--spawn-rate", "2"]);
    assert_eq!(code, 104, "{err}");
    assert!(err.contains("--scenario NAME"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_spawn_rate_starts_vus_gradually() {
    let dir = scratch("silent", "spawn");
    let export = dir.join("e.json");
    let fixture = fixture();
    // 4 VUs for 2 s at 1 VU a second: VUs 3 and 4 would start at 2 s and 3 s,
    // after the end, so at most 2 ever run.
    let (code, out, err) = volley(&[
        "run",
        fixture.to_str().unwrap(),
        "--exec",
        "sleep",
        "-e",
        "sleep_ms=100",
        "--users",
        "4",
        "-d",
        "2s",
        "-r",
        "1",
        "--summary-export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc = read_json(&export);
    let max = doc["metrics"]["vus"]["values"]["max"].as_f64().unwrap();
    assert!((1.0..=2.0).contains(&max), "vus max {max}");
    assert!(
        doc["metrics"]["iterations"]["values"]["count"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs the fixture's `random` entry (2 VUs, 2 iterations each) and returns
/// the seed the summary shows and the random values the VUs drew.
fn random_run(dir: &Path, seed: Option<&str>) -> (String, Vec<String>) {
    let p = dir.join("random.toml");
    std::fs::write(
        &p,
        format!(
            "[options]\ncomponent = \"{}\"\n[scenarios.r]\nexecutor = \"per-vu-iterations\"\nexec = \"random\"\nvus = 2\niterations = 2\n",
            fixture().display()
        ),
    )
    .unwrap();
    let export = dir.join("random.json");
    let mut args = vec![
        "run".to_string(),
        p.display().to_string(),
        "--summary-export".into(),
        export.display().to_string(),
    ];
    if let Some(s) = seed {
        args.extend(["--seed".into(), s.into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = volley(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    let shown = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("seed: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no seed in {out}"))
        .to_string();
    let doc = read_json(&export);
    assert_eq!(doc["state"]["seed"].to_string(), shown);
    let mut values: Vec<String> = doc["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"] == "fixture_random")
        .map(|s| s["tags"]["value"].as_str().unwrap().to_string())
        .collect();
    values.sort();
    assert_eq!(values.len(), 4, "two VUs, two iterations, all distinct");
    (shown, values)
}

#[test]
fn random_numbers_differ_per_run_and_repeat_with_the_seed() {
    let dir = scratch("silent", "seed");
    let (seed_a, a) = random_run(&dir, None);
    let (seed_b, b) = random_run(&dir, None);
    assert_ne!(seed_a, seed_b);
    assert_ne!(a, b, "two runs drew the same random numbers");
    let (seed_c, c) = random_run(&dir, Some(&seed_a));
    assert_eq!(seed_c, seed_a);
    assert_eq!(c, a, "--seed {seed_a} did not repeat the run");
    std::fs::remove_dir_all(&dir).ok();
}

/// A loopback server: `/r/N` redirects to `/r/N-1` until `/r/0` answers 200;
/// `/away` redirects off the allowlist; `/cookies` sets two cookies.
fn redirect_server() -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let l = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    rt.spawn(async move {
        // Bounded: the tests here open far fewer connections.
        for _ in 0..256 {
            let Ok((s, _)) = l.accept().await else { return };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let path = req.uri().path().to_string();
                        let _ = req.into_body().collect().await;
                        let mut r = hyper::Response::builder();
                        if let Some(n) = path.strip_prefix("/r/") {
                            let n: u32 = n.parse().unwrap_or(0);
                            if n > 0 {
                                r = r.status(302).header("location", format!("/r/{}", n - 1));
                            }
                        } else if path == "/away" {
                            r = r.status(302).header("location", "http://10.1.2.3:9/x");
                        } else if path == "/cookies" {
                            r = r
                                .header("set-cookie", "a=1")
                                .header("set-cookie", "b=2; Path=/");
                        }
                        Ok::<_, std::convert::Infallible>(
                            r.body(Full::new(Bytes::from_static(b"ok"))).unwrap(),
                        )
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                .await;
            });
        }
    });
    (rt, base)
}

fn guest_get(base: &str, exec: &str, path: &str, extra: &str) -> volley::run::Outcome {
    let p = plan_with(
        &format!(
            r#"
            [targets]
            srv = "{base}"
            [options]
            {extra}
            [scenarios.h]
            executor = "per-vu-iterations"
            exec = "{exec}"
            iterations = 2
            params = {{ url = "{base}{path}" }}
            "#
        ),
        &fixture(),
        Overrides::default(),
    );
    run_plan(p)
}

#[test]
fn redirects_are_followed_and_each_hop_is_a_request() {
    let (_rt, base) = redirect_server();
    let out = guest_get(&base, "http", "/r/3", "");
    assert_eq!(rate_where(&out, "checks", "check", "status is 200"), (2, 2));
    // Three redirects and the answer, per iteration.
    assert_eq!(counter(&out, "http_reqs"), 8.0);
    assert_eq!(counter_where(&out, "http_reqs", "status", "302"), 6.0);
    assert_eq!(trend_count(&out, "http_req_duration"), 8);
    assert_eq!(rate_counts(&out, "http_req_failed"), (0, 8));

    // maxRedirects = 1: the second redirect is the answer.
    let out = guest_get(&base, "http", "/r/3", "maxRedirects = 1");
    assert_eq!(rate_where(&out, "checks", "check", "status is 200"), (0, 2));
    assert_eq!(counter(&out, "http_reqs"), 4.0);
    // 0: none followed.
    let out = guest_get(&base, "http", "/r/3", "maxRedirects = 0");
    assert_eq!(counter(&out, "http_reqs"), 2.0);
}

#[test]
fn a_redirect_off_the_allowlist_is_refused_and_counted() {
    let (_rt, base) = redirect_server();
    let out = guest_get(&base, "http", "/away", "");
    assert_eq!(rate_where(&out, "checks", "check", "status is 200"), (0, 2));
    let by_error = out.report.aggregate.by_tag("http_req_failed", "error");
    assert!(
        matches!(
            by_error.get("not_allowed"),
            Some(volley::metrics::Value::Rate { trues: 2, .. })
        ),
        "{by_error:?}"
    );
    // The redirect itself was a request; the refused hop never left.
    assert_eq!(counter(&out, "http_reqs"), 2.0);
    assert_eq!(counter_where(&out, "http_reqs", "status", "302"), 2.0);
}

#[test]
fn repeated_set_cookie_headers_all_reach_the_guest() {
    let (_rt, base) = redirect_server();
    let out = guest_get(&base, "cookies", "/cookies", "");
    assert_eq!(
        rate_where(&out, "checks", "check", "every set-cookie arrives"),
        (2, 2)
    );
}

#[test]
fn fan_out_latency_with_no_viewer_is_no_data_not_zero() {
    // The publisher bids and marks; nobody watches, so ws_fanout_latency is
    // declared but never gets a sample (k6-style evaluation showed p(99)=0 ✓).
    let p = plan(
        r#"
        [targets]
        api = "embedded:auction"
        [scenarios.publisher]
        executor = "per-vu-iterations"
        exec = "fanout"
        iterations = 1
        [scenarios.publisher.params]
        expected_viewers = "3"
        [thresholds]
        ws_fanout_latency = ["p(99)<2000"]
        "#,
        &auction(),
    );
    let out = run_plan(p);
    assert_eq!(out.exit, ExitCode::ThresholdsFailed, "{:?}", out.problem);
    let r = &out.report.thresholds[0];
    assert!(r.metric_found && r.no_data && !r.ok, "{r:?}");
}
