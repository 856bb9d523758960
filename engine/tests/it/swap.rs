//! Which component a VU runs: components are known by their digest, and a
//! running scenario moves to another component at iteration boundaries.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use volley::metrics::Value;
use volley::plan::Plan;
use volley::run::{Outcome, RunOptions};
use volley::swap::{SwapEvent, Verdict, Watch};
use volley::wasm::ComponentId;

use crate::support::*;

#[test]
fn one_component_under_two_paths_is_set_up_and_torn_down_once() {
    let dir = scratch("swap", "two-paths");
    let copy = dir.join("copy.wasm");
    std::fs::copy(fixture(), &copy).unwrap();
    let p = plan(
        &format!(
            r#"
            [scenarios.a]
            executor = "per-vu-iterations"
            exec = "empty"
            vus = 1
            iterations = 2
            [scenarios.b]
            executor = "per-vu-iterations"
            exec = "empty"
            vus = 1
            iterations = 3
            component = "{}"
            "#,
            copy.display()
        ),
        &fixture(),
    );
    assert_ne!(p.scenarios[0].component, p.scenarios[1].component);
    let out = run_plan(p);
    assert_eq!(counter(&out, "iterations"), 5.0);
    assert_eq!(counter(&out, "fixture_teardowns"), 1.0);
    std::fs::remove_dir_all(&dir).ok();
}

/// `bytes` with a custom section appended: another component (another
/// digest) that behaves the same.
fn variant(bytes: &[u8], n: u8) -> Vec<u8> {
    let name = b"volley-swap-test";
    let mut out = bytes.to_vec();
    out.push(0); // custom section
    out.push((1 + name.len() + 1) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.push(n);
    out
}

/// Replaces `path`'s content at once (a reader never sees half a file).
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Builds `source` as `dir/NAME.js` with `volley build`: the component.
fn build_js(dir: &Path, name: &str, source: String) -> Vec<u8> {
    let script = dir.join(format!("{name}.js"));
    std::fs::write(&script, source).unwrap();
    let (code, out, err) = volley(&["build", script.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    std::fs::read(out.trim().lines().last().unwrap()).unwrap()
}

/// The run's swaps, which must be one, committed.
fn one_committed_swap(out: &Outcome) -> &[SwapEvent] {
    let swaps = &out.report.swaps;
    assert_eq!(swaps.len(), 1, "{swaps:#?}");
    assert_eq!(swaps[0].verdict, Verdict::Committed, "{swaps:#?}");
    swaps
}

/// Runs `plan` with `--watch` on `watched` while `change` rewrites it.
fn run_watching(plan: Plan, watched: &Path, change: impl FnOnce() + Send) -> Outcome {
    run_watching_with(RunOptions::default(), plan, watched, change)
}

/// [`run_watching`] with other options.
fn run_watching_with(
    opts: RunOptions,
    plan: Plan,
    watched: &Path,
    change: impl FnOnce() + Send,
) -> Outcome {
    let opts = RunOptions {
        watch: Some(Watch::Component(watched.to_path_buf())),
        ..opts
    };
    std::thread::scope(|s| {
        let run = s.spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let out = rt.block_on(volley::run::run(plan, &opts));
            rt.shutdown_background();
            out.expect("run completes")
        });
        change();
        run.join().unwrap()
    })
}

fn versions(out: &Outcome) -> BTreeMap<String, f64> {
    out.report
        .aggregate
        .by_tag("iterations", "version")
        .into_iter()
        .map(|(k, v)| match v {
            Value::Counter { sum } => (k, sum),
            other => panic!("iterations is not a counter: {other:?}"),
        })
        .collect()
}

#[test]
fn swaps_under_load_lose_no_iteration_and_counts_add_up() {
    let (server_rt, server) = standalone_http();
    let dir = scratch("swap", "under-load");
    let watched = dir.join("scenario.wasm");
    let a = std::fs::read(fixture()).unwrap();
    let b = variant(&a, 1);
    let (id_a, id_b) = (ComponentId::of(&a).short(), ComponentId::of(&b).short());
    std::fs::write(&watched, &a).unwrap();
    let p = plan(
        &format!(
            r#"
            [targets]
            api = "{url}"
            [thresholds]
            "iterations{{version:{id_b}}}" = ["count>0"]
            [scenarios.load]
            executor = "constant-arrival-rate"
            exec = "get"
            rate = 200
            duration = "10s"
            preAllocatedVUs = 20
            maxVUs = 50
            params = {{ url = "{url}/health" }}
            "#,
            url = server.url()
        ),
        &watched,
    );
    let out = run_watching(p, &watched, || {
        for next in [&b, &a, &b, &a] {
            std::thread::sleep(Duration::from_secs(2));
            replace(&watched, next);
        }
    });
    let swaps = &out.report.swaps;
    assert_eq!(swaps.len(), 4, "{swaps:#?}");
    for (e, to) in swaps.iter().zip([&id_b, &id_a, &id_b, &id_a]) {
        assert_eq!(e.verdict, Verdict::Committed, "{e:#?}");
        assert_eq!(&e.to, to);
        assert_eq!(e.failures, 0);
    }
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    assert_eq!(counter(&out, "dropped_iterations"), 0.0);
    let total = counter(&out, "iterations");
    let per_version = versions(&out);
    assert_eq!(
        per_version.keys().collect::<Vec<_>>().len(),
        2,
        "{per_version:?}"
    );
    assert!(per_version.values().all(|n| *n > 0.0), "{per_version:?}");
    assert_eq!(per_version.values().sum::<f64>(), total);
    // Every iteration made one request, and the target saw each one.
    let seen = server.stats().requests;
    assert_eq!(seen as f64, total);
    assert_eq!(counter(&out, "http_reqs"), total);
    assert!(out.report.thresholds.iter().all(|r| r.ok && r.metric_found));
    assert_eq!(out.exit, volley::ExitCode::Ok);
    server_rt.shutdown_background();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_build_is_refused_or_rolled_back_and_the_run_goes_on() {
    let (server_rt, server) = standalone_http();
    let dir = scratch("swap", "bad-build");
    let watched = dir.join("scenario.wasm");
    std::fs::copy(http_ingest(), &watched).unwrap();
    let old = ComponentId::of(&std::fs::read(&watched).unwrap()).short();
    let p = plan(
        &format!(
            r#"
            [targets]
            api = "{url}"
            [scenarios.ingest]
            executor = "constant-arrival-rate"
            rate = 50
            duration = "6s"
            preAllocatedVUs = 5
            maxVUs = 20
            "#,
            url = server.url()
        ),
        &watched,
    );
    let out = run_watching(p, &watched, || {
        std::thread::sleep(Duration::from_millis(1500));
        // Not a component at all: refused before any VU moves.
        replace(&watched, b"\0asm\x01\0\0\0");
        std::thread::sleep(Duration::from_millis(1500));
        // A component whose `init-vu` traps on this run's setup data (the
        // fixture insists on its own): the canary cannot start, so it rolls back.
        replace(&watched, &std::fs::read(fixture()).unwrap());
    });
    let swaps = &out.report.swaps;
    assert_eq!(swaps.len(), 2, "{swaps:#?}");
    assert!(
        matches!(&swaps[0].verdict, Verdict::Refused(why) if why.contains("core wasm module")),
        "{swaps:#?}"
    );
    assert!(
        matches!(&swaps[1].verdict, Verdict::RolledBack(why) if why.contains("could not start")),
        "{swaps:#?}"
    );
    // Nothing ran on either bad version, and nothing failed.
    assert_eq!(versions(&out).into_keys().collect::<Vec<_>>(), vec![old]);
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    let (passed, total) = rate_counts(&out, "checks");
    assert!(total > 0 && passed == total, "{passed}/{total}");
    assert_eq!(server.stats().messages as f64, counter(&out, "iterations"));
    assert_eq!(out.exit, volley::ExitCode::Ok);
    server_rt.shutdown_background();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_running_test_is_listed_swapped_rolled_back_and_stopped_from_outside() {
    let dir = scratch("swap", "control");
    let runs = dir.join("runs");
    let (a, b) = (dir.join("a.wasm"), dir.join("b.wasm"));
    let bytes = std::fs::read(fixture()).unwrap();
    std::fs::write(&a, &bytes).unwrap();
    std::fs::write(&b, variant(&bytes, 2)).unwrap();
    let (id_a, id_b) = (
        ComponentId::of(&bytes).short(),
        ComponentId::of(&variant(&bytes, 2)).short(),
    );
    let env = [("VOLLEY_RUNS_DIR", runs.to_str().unwrap())];
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_volley"))
        .args([
            "run",
            a.to_str().unwrap(),
            "--exec",
            "empty",
            "--rate",
            "200",
        ])
        .args(["-u", "10", "-d", "60s", "-q", "--no-color"])
        .env("VOLLEY_RUNS_DIR", &runs)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = child.id().to_string();
    // The socket appears once the VUs are ready (bounded: 60 s).
    let socket = runs.join(format!("{run}.sock"));
    for _ in 0..600 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, out, err) = volley_with(&["ps"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&run) && out.contains(&format!("default@{id_a}")),
        "{out}"
    );

    let (code, out, err) = volley_with(&["swap", &run, b.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("{id_a} -> {id_b}: committed")),
        "{out}"
    );
    let (_, out, _) = volley_with(&["ps"], &env);
    assert!(out.contains(&format!("default@{id_b}")), "{out}");

    let (code, out, err) = volley_with(&["rollback", &run], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("{id_b} -> {id_a}: committed")),
        "{out}"
    );

    let (code, _, err) = volley_with(&["stop", &run], &env);
    assert_eq!(code, 0, "{err}");
    let done = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&done.stdout);
    // Stopped from outside, long before its 60 s: an external abort.
    assert_eq!(done.status.code(), Some(105), "{out}");
    assert!(out.contains("stopped by `volley stop`"), "{out}");
    assert!(
        out.contains("SWAPS") && out.contains(&format!("{id_a} -> {id_b}")),
        "{out}"
    );
    assert!(!socket.exists(), "the run removes its socket");
    let (code, _, err) = volley_with(&["stop", &run], &env);
    assert_ne!(code, 0);
    assert!(err.contains("volley ps"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A 4-VU `constant-vus` run of the fixture's `slow-first` (VU 1's first
/// iteration sleeps 2.5 s, every other iteration 10 ms), swapped at 0.8 s
/// with a drain of `drain`: VU 1 is still in that iteration when the swap
/// commits (its wave stops waiting after 100 ms).
fn swap_with_a_slow_iteration_in_flight(
    name: &str,
    drain: &str,
    targets: &str,
) -> (Outcome, String, String) {
    let dir = scratch("swap", name);
    let watched = dir.join("scenario.wasm");
    let a = std::fs::read(fixture()).unwrap();
    let b = variant(&a, 3);
    let (id_a, id_b) = (ComponentId::of(&a).short(), ComponentId::of(&b).short());
    std::fs::write(&watched, &a).unwrap();
    let p = plan(
        &format!(
            r#"
            {targets}
            [swap]
            canaryIterations = 2
            waveTimeout = "100ms"
            drain = "{drain}"
            [scenarios.s]
            executor = "constant-vus"
            exec = "slow-first"
            vus = 4
            duration = "4s"
            params = {{ sleep_ms = "2500", slow_vu = "1" }}
            "#
        ),
        &watched,
    );
    let out = run_watching(p, &watched, || {
        std::thread::sleep(Duration::from_millis(800));
        replace(&watched, &b);
    });
    std::fs::remove_dir_all(&dir).ok();
    (out, id_a, id_b)
}

/// The longest `iteration_duration` of `version`, in microseconds.
fn longest(out: &Outcome, version: &str) -> f64 {
    match out
        .report
        .aggregate
        .by_tag("iteration_duration", "version")
        .get(version)
    {
        Some(Value::Trend(t)) => t.percentile(100.0),
        other => panic!("no iteration_duration for {version}: {other:?}"),
    }
}

#[test]
fn an_iteration_in_flight_finishes_on_the_old_version_within_the_drain() {
    let (out, id_a, id_b) = swap_with_a_slow_iteration_in_flight("drain", "5s", "");
    let swaps = one_committed_swap(&out);
    // Committed while VU 1 was busy: 3 of 4 VUs had moved.
    assert_eq!((swaps[0].moved, swaps[0].vus), (3, 4), "{swaps:#?}");
    assert_eq!(swaps[0].interrupted, 0);
    // The slow iteration ended after the swap, counted on the old version.
    assert!(
        longest(&out, &id_a) >= 2_500_000.0,
        "{}",
        longest(&out, &id_a)
    );
    assert!(longest(&out, &id_b) < 2_500_000.0);
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    let per_version = versions(&out);
    assert_eq!(
        per_version.values().sum::<f64>(),
        counter(&out, "iterations")
    );
    assert!(per_version[&id_b] > 0.0, "{per_version:?}");
}

#[test]
fn an_iteration_past_the_drain_is_interrupted_by_the_swap_not_failed() {
    // Each iteration first sends a judged request whose verdict never comes.
    let targets = "[targets]\napi = \"embedded:http\"";
    let (out, id_a, id_b) = swap_with_a_slow_iteration_in_flight("interrupt", "300ms", targets);
    let swaps = one_committed_swap(&out);
    assert_eq!(swaps[0].interrupted, 1, "{swaps:#?}");
    // Cut off at the drain: never counted as an iteration, nor a failure.
    assert!(
        longest(&out, &id_a) < 2_500_000.0,
        "{}",
        longest(&out, &id_a)
    );
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    // VU 1 went on, on the new version.
    assert!(versions(&out)[&id_b] > 0.0);
    assert_eq!(out.exit, volley::ExitCode::Ok);
    // Every judged response got its http_req_failed sample from its status,
    // the interrupted iteration's too (its instance was dropped mid-call).
    let sent = counter_where(&out, "http_reqs", "name", "judged, no verdict");
    let (failed, judged) = rate_where(&out, "http_req_failed", "name", "judged, no verdict");
    assert!(sent >= 4.0, "{sent}");
    assert_eq!((failed, judged as f64), (0, sent));
}

#[test]
fn a_reused_pool_slot_shows_none_of_the_old_components_memory() {
    let dir = scratch("swap", "fresh-slots");
    let watched = dir.join("scenario.wasm");
    let a = std::fs::read(fixture()).unwrap();
    let b = variant(&a, 4);
    std::fs::write(&watched, &a).unwrap();
    // Each instance writes a marker into a zero-initialized static; a new
    // instance checks that the same address holds zeros. The swap frees
    // every VU's slot and the new component's instances take those warm
    // slots (the pool reuses warm slots first), so the new component reads
    // memory the old one wrote.
    let p = plan(
        r#"
        [scenarios.s]
        executor = "constant-arrival-rate"
        exec = "fresh"
        rate = 200
        duration = "3s"
        preAllocatedVUs = 6
        maxVUs = 6
        "#,
        &watched,
    );
    let out = run_watching(p, &watched, || {
        std::thread::sleep(Duration::from_millis(1200));
        replace(&watched, &b);
    });
    one_committed_swap(&out);
    let (fresh, instances) =
        rate_where(&out, "checks", "check", "a new instance's memory is zeros");
    // At least one instance before the swap and one after (the VUs the
    // load used: every iteration on the new version is on a new instance).
    assert!(instances >= 2, "{instances}");
    assert_eq!(fresh, instances, "an instance saw a previous one's marker");
    assert!(versions(&out)[&ComponentId::of(&b).short()] > 0.0);
    // The marker does stay within an instance: the check above can fail.
    let (kept, later) = rate_where(&out, "checks", "check", "an instance keeps its own memory");
    assert!(later > 0 && kept == later, "{kept}/{later}");
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    std::fs::remove_dir_all(&dir).ok();
}

/// `volley run <scenario> --watch`, quiet, its summary exported to `export`,
/// listed under `runs`, with `env`: the child, its output piped.
fn run_watch(
    scenario: &Path,
    export: &Path,
    runs: &Path,
    env: &[(&str, &Path)],
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["run", scenario.to_str().unwrap(), "--watch"])
        .args(["-q", "--no-color"])
        .args(["--summary-export", export.to_str().unwrap()])
        .env("VOLLEY_RUNS_DIR", runs)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn watch_prints_a_build_error_keeps_the_old_version_and_swaps_to_the_fix() {
    let dir = scratch("swap", "watch-build");
    let scenario = dir.join("s");
    let (code, _, err) = volley(&["new", scenario.to_str().unwrap(), "--lang", "c"]);
    assert_eq!(code, 0, "{err}");
    let source = scenario.join("scenario.c");
    let write = |body: &str| {
        let text = format!(
            "#include \"volley.h\"\nconst char *volley_run(const char *entry) {{\n    (void)entry;\n    {body}\n    volley_sleep_ms(5);\n    return NULL;\n}}\n"
        );
        std::fs::write(&source, text).unwrap();
    };
    write("volley_check(\"first\", true);");
    // Nothing but the load (the scaffold's plan has HTTP thresholds).
    std::fs::write(
        scenario.join("plans/default.toml"),
        "[scenarios.main]\nexecutor = \"constant-arrival-rate\"\nrate = 50\nduration = \"120s\"\npreAllocatedVUs = 5\n",
    )
    .unwrap();
    let export = dir.join("out.json");
    let runs = dir.join("runs");
    let child = run_watch(&scenario, &export, &runs, &[]);
    // Once it runs (the export's first checkpoint), break the source, then
    // fix it (bounded: 60 s to start).
    for _ in 0..600 {
        if export.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let runs_env = [("VOLLEY_RUNS_DIR", runs.to_str().unwrap())];
    let version = || {
        let (_, out, _) = volley_with(&["ps"], &runs_env);
        let v = out.split("main@").nth(1).map(|v| v[..12].to_string());
        (v, out.contains("swapping"))
    };
    let first = version().0.expect("the run is listed");
    write("volley_check(\"broken\", true) this is not C;");
    std::thread::sleep(Duration::from_secs(4));
    write("volley_check(\"fixed\", true);");
    // Builds take seconds: wait until `volley ps` shows another version
    // and no swap in progress (bounded: 100 s), then stop the run.
    for _ in 0..1000 {
        match version() {
            (Some(v), false) if v != first => break,
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let (code, _, stop_err) = volley_with(&["stop"], &runs_env);
    assert_eq!(code, 0, "{stop_err}");
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(105), "{err}");
    assert!(
        err.contains("build failed; the old version keeps running"),
        "{err}"
    );
    let e: serde_json::Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let swaps = e["swaps"].as_array().unwrap();
    assert_eq!(swaps.len(), 1, "only the fix swaps: {swaps:#?}");
    assert_eq!(swaps[0]["result"], "committed", "{swaps:#?}\n{err}");
    assert!(swaps[0]["build"].as_f64().unwrap() > 0.0, "{swaps:#?}");
    let checks = &e["root_group"]["checks"];
    let passes = |name: &str| checks[name]["passes"].as_u64().unwrap_or(0);
    assert!(passes("first") > 0 && passes("fixed") > 0, "{checks:#}");
    assert!(checks.get("broken").is_none(), "{checks:#}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `volley run --watch <folder>` fingerprints the sources before its first
/// build: a save while that build runs is swapped to, not missed. The
/// scenario's build script reads `version.txt`, says so, and waits for the
/// test, which saves the next version then: the first build is the old
/// version, and only the watcher can bring the new one.
#[test]
fn watch_swaps_to_a_save_made_during_the_first_build() {
    let dir = scratch("swap", "watch-first-build");
    let scenario = dir.join("watch-first");
    let (code, _, err) = volley(&["new", scenario.to_str().unwrap(), "--lang", "rust"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(
        scenario.join("src/lib.rs"),
        r#"use volley_sdk::prelude::*;

struct Versioned;

impl Scenario for Versioned {
    fn run(_entry: &str) -> Result<(), String> {
        Counter::new(concat!("ran_", env!("SCENARIO_VERSION"))).add(1.0);
        vu::sleep(std::time::Duration::from_millis(20));
        Ok(())
    }
}

volley_sdk::export_scenario!(Versioned);
"#,
    )
    .unwrap();
    std::fs::write(
        scenario.join("build.rs"),
        r#"use std::path::Path;
use std::time::Duration;

fn main() {
    println!("cargo:rerun-if-changed=version.txt");
    println!("cargo:rerun-if-env-changed=WATCH_GATE");
    let version = std::fs::read_to_string("version.txt").unwrap();
    println!("cargo:rustc-env=SCENARIO_VERSION={}", version.trim());
    // The test's gate: say which version this build read, then wait (at
    // most 60 s) to be let go.
    if let Ok(gate) = std::env::var("WATCH_GATE") {
        let gate = Path::new(&gate);
        std::fs::write(gate.join("building"), &version).unwrap();
        for _ in 0..600 {
            if gate.join("go").exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
"#,
    )
    .unwrap();
    std::fs::write(scenario.join("version.txt"), "first\n").unwrap();
    // The run ends once the second version has run 50 iterations (at most
    // 180 s): well after the swap commits, which takes a few of them (its
    // canary and waves). Ended at the first, the run could close while the
    // swap was still rolling out, and roll it back.
    std::fs::write(
        scenario.join("plans/default.toml"),
        "[scenarios.main]\nexecutor = \"constant-vus\"\nvus = 2\nduration = \"180s\"\n\n[thresholds]\nran_second = [{ threshold = \"count<50\", abortOnFail = true }]\n",
    )
    .unwrap();
    let gate = dir.join("gate");
    std::fs::create_dir_all(&gate).unwrap();
    let export = dir.join("out.json");
    let child = run_watch(
        &scenario,
        &export,
        &dir.join("runs"),
        &[("WATCH_GATE", &gate)],
    );
    // Bounded: 300 s for cargo to reach the build script (the SDK's first
    // build on a cold machine).
    let building = gate.join("building");
    for _ in 0..3000 {
        if building.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        std::fs::read_to_string(&building).ok().as_deref(),
        Some("first\n")
    );
    std::fs::write(scenario.join("version.txt"), "second\n").unwrap();
    std::fs::write(gate.join("go"), "").unwrap();
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    // 99: the threshold that ended the run failed, as it is meant to.
    assert_eq!(done.status.code(), Some(99), "{err}");
    let e: serde_json::Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let counter = |name: &str| {
        e["metrics"][name]["values"]["count"]
            .as_f64()
            .unwrap_or(0.0)
    };
    assert!(counter("ran_first") > 0.0, "{err}");
    assert!(counter("ran_second") > 0.0, "{err}");
    let swaps = e["swaps"].as_array().unwrap();
    assert_eq!(swaps.len(), 1, "{swaps:#?}");
    assert_eq!(swaps[0]["result"], "committed", "{swaps:#?}\n{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_component_beyond_the_pooling_limits_is_refused_before_any_vu_moves() {
    let dir = scratch("swap", "pool-limits");
    // Two C scenarios: a small one (2 pages of memory) runs within a
    // 512 KiB limit; the other's 1 MiB initialized array makes its initial
    // memory exceed it, so the pool cannot instantiate it.
    let c_scenario = |name: &str, extra: &str, ret: &str| {
        let scenario = dir.join(name);
        let (code, _, err) = volley(&["new", scenario.to_str().unwrap(), "--lang", "c"]);
        assert_eq!(code, 0, "{err}");
        std::fs::write(
            scenario.join("scenario.c"),
            format!("#include \"volley.h\"\n{extra}\nconst char *volley_run(const char *entry) {{\n    volley_sleep_ms(5);\n    return {ret};\n}}\n"),
        )
        .unwrap();
        volley::build::build(
            &scenario,
            &volley::build::BuildOptions {
                force: false,
                quiet: true,
            },
        )
        .unwrap()
        .component
    };
    let small = c_scenario("small", "", "entry ? NULL : \"no entry\"");
    // The array is read, so the linker keeps it.
    let big = c_scenario(
        "big",
        "volatile char big[1 << 20] = {1};",
        "big[entry[0] & 1] || 1 ? NULL : \"never\"",
    );
    let plan = dir.join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            "[options]\ncomponent = \"{}\"\nmemoryLimit = \"512KiB\"\n[scenarios.s]\nexecutor = \"constant-arrival-rate\"\nrate = 50\nduration = \"120s\"\npreAllocatedVUs = 4\n",
            small.display()
        ),
    )
    .unwrap();
    let runs = dir.join("runs");
    let env = [("VOLLEY_RUNS_DIR", runs.to_str().unwrap())];
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["run", plan.to_str().unwrap(), "-q", "--no-color"])
        .env("VOLLEY_RUNS_DIR", &runs)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let socket = runs.join(format!("{}.sock", child.id()));
    for _ in 0..600 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = child.id().to_string();
    let (code, out, err) = volley_with(&["swap", &run, big.to_str().unwrap()], &env);
    assert_eq!(code, 107, "{out}{err}");
    // Checked when loading (before the canary): no VU ever tries it.
    assert!(
        out.contains("refused") && out.contains("pooling allocator") && out.contains("exceeds"),
        "{out}"
    );
    // The run goes on on the old version.
    let (code, out, _) = volley_with(&["ps"], &env);
    assert_eq!(code, 0);
    let old = ComponentId::of(&std::fs::read(&small).unwrap()).short();
    assert!(out.contains(&format!("s@{old}")), "{out}");
    let (code, _, err) = volley_with(&["stop", &run], &env);
    assert_eq!(code, 0, "{err}");
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(105), "{err}");
    assert!(!err.contains("could not be instantiated"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A change saved while the run is still starting (compiling, running
/// setup) is swapped to once it runs. The watcher used to take the file's
/// state when it started, after setup, so such a change was never seen:
/// here a's setup signals the test, which saves b during setup's 2 s sleep.
/// The run ends when b has run 100 iterations (an `abortOnFail` threshold):
/// well after the swap commits, which takes a few (its canary and waves);
/// ended at b's first, the run could close while the swap was still
/// rolling out, and roll it back (seen once under load).
#[test]
fn a_change_saved_while_the_run_starts_is_swapped_to() {
    let (server_rt, server) = standalone_http();
    let dir = scratch("swap", "while-starting");
    let build = |name: &str| {
        build_js(
            &dir,
            name,
            format!(
                r#"import http from 'k6/http';
import {{ sleep }} from 'k6';
import {{ Counter }} from 'k6/metrics';
import {{ vu }} from 'volley';
const ran = new Counter('ran_{name}');
export function setup() {{ http.get(`${{vu.param('api')}}/setup-started`); sleep(2); }}
export default function () {{ sleep(0.01); ran.add(1); }}
"#
            ),
        )
    };
    let (a, b) = (build("a"), build("b"));
    let watched = dir.join("scenario.wasm");
    std::fs::write(&watched, &a).unwrap();
    let p = plan(
        &format!(
            r#"
            [targets]
            api = "{url}"
            [scenarios.main]
            executor = "constant-vus"
            vus = 2
            duration = "60s"
            [thresholds]
            ran_b = [{{ threshold = "count<100", abortOnFail = true }}]
            "#,
            url = server.url()
        ),
        &watched,
    );
    let out = run_watching(p, &watched, || {
        // Bounded: setup starts within seconds.
        for _ in 0..3000 {
            if server.path_counts().contains_key("GET /setup-started") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        replace(&watched, &b);
    });
    one_committed_swap(&out);
    assert!(counter(&out, "ran_b") > 0.0);
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    server_rt.block_on(server.shutdown());
}

/// After a hot swap the scenario is the new version: `teardown` and
/// `handleSummary` at the end are the new component's (with the setup
/// data the run started with), not the first one's. The run ends when b
/// has run 100 iterations (an `abortOnFail` threshold on b's counter), not
/// after a fixed time a slow swap on a busy machine could outlast, and
/// not at b's first iteration, which comes before the swap commits.
#[test]
fn teardown_and_handle_summary_are_the_version_the_run_ended_on() {
    let dir = scratch("swap", "ended-on");
    let build = |name: &str| {
        build_js(
            &dir,
            name,
            format!(
                r#"import {{ sleep }} from 'k6';
import {{ Counter }} from 'k6/metrics';
const teardowns = new Counter('teardowns_{name}');
const ran = new Counter('ran_{name}');
export function setup() {{ return {{ from: '{name}' }}; }}
export default function () {{ sleep(0.01); ran.add(1); }}
export function teardown(data) {{ teardowns.add(1, {{ setup: data.from }}); }}
export function handleSummary(data) {{
  return {{ stdout: `summary of {name}: ${{data.metrics.iterations.values.count}} iterations\n` }};
}}
"#
            ),
        )
    };
    let (a, b) = (build("a"), build("b"));
    let watched = dir.join("scenario.wasm");
    std::fs::write(&watched, &a).unwrap();
    let p = plan(
        r#"
        [scenarios.main]
        executor = "constant-vus"
        vus = 2
        duration = "120s"

        [thresholds]
        ran_b = [{ threshold = "count<100", abortOnFail = true }]
        "#,
        &watched,
    );
    // The summary on, as `volley run` has it: handleSummary is called.
    let opts = RunOptions {
        summary: true,
        ..Default::default()
    };
    let out = run_watching_with(opts, p, &watched, || {
        std::thread::sleep(Duration::from_secs(2));
        replace(&watched, &b);
    });
    one_committed_swap(&out);
    assert!(counter(&out, "ran_b") > 0.0);
    assert_eq!(counter(&out, "teardowns_a"), 0.0);
    // b's teardown, given the data a's setup returned.
    assert_eq!(counter_where(&out, "teardowns_b", "setup", "a"), 1.0);
    let iterations = counter(&out, "iterations");
    assert!(iterations > 0.0);
    let own = String::from_utf8_lossy(out.report.handled_summary.as_deref().unwrap_or_default());
    assert_eq!(own, format!("summary of b: {iterations} iterations\n"));
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    std::fs::remove_dir_all(&dir).ok();
}
