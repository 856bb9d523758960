//! Scenarios in every language, built from source by `volley build` and run
//! against the embedded targets through the binary: the examples, a fresh
//! `volley new` per language, the build cache and the metadata.

use std::path::{Path, PathBuf};

use crate::support::*;

/// `volley build --force` then `volley run` with a summary export: the
/// exported summary, after the run passed its thresholds.
fn build_and_run(target: &Path, run_args: &[&str]) -> serde_json::Value {
    build_and_run_with(target, run_args, &[])
}

/// [`build_and_run`] with `env` set for both commands.
fn build_and_run_with(target: &Path, run_args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let t = target.to_str().unwrap();
    let (code, out, err) = volley_with(&["build", "--force", t], env);
    assert_eq!(code, 0, "building {t}:\n{out}\n{err}");
    let component = PathBuf::from(out.trim());
    assert!(component.is_file(), "{t}: build printed {out}");
    let export = std::env::temp_dir().join(format!(
        "volley-lang-{}-{}.json",
        std::process::id(),
        component.file_stem().unwrap().to_string_lossy()
    ));
    let mut args = vec![
        "run",
        t,
        "--quiet",
        "--summary-export",
        export.to_str().unwrap(),
    ];
    args.extend_from_slice(run_args);
    let (code, out, err) = volley_with(&args, env);
    assert_eq!(code, 0, "running {t}:\n{out}\n{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    std::fs::remove_file(&export).ok();
    doc
}

fn value(doc: &serde_json::Value, metric: &str, field: &str) -> f64 {
    doc["metrics"][metric]["values"][field]
        .as_f64()
        .unwrap_or_else(|| panic!("no {metric}.{field} in {}", doc["metrics"]))
}

/// A rate's (trues, total) over its series with the tag `tag`; a
/// counter's (0, sum).
fn series_values(doc: &serde_json::Value, metric: &str, tag: (&str, &str)) -> (f64, f64) {
    let mut out = (0.0, 0.0);
    for s in doc["series"].as_array().into_iter().flatten() {
        if s["metric"] == metric && s["tags"][tag.0] == tag.1 {
            out.0 += s["trues"].as_f64().unwrap_or(0.0);
            out.1 += s["total"].as_f64().or(s["sum"].as_f64()).unwrap_or(0.0);
        }
    }
    out
}

#[test]
fn booking_in_javascript_registers_logs_in_searches_and_books() {
    let doc = build_and_run(&repo().join("scripts/booking"), &["-p", "quick"]);
    // Every iteration makes three requests, each checked; setup made 100.
    let iterations = value(&doc, "iterations", "count");
    assert!(iterations >= 10.0, "{}", doc["metrics"]);
    assert_eq!(failed(&doc), 0.0, "{}", doc["metrics"]);
    assert_eq!(value(&doc, "checks", "fails"), 0.0);
    assert!(value(&doc, "checks", "passes") >= 4.0 * iterations);
    assert!(value(&doc, "http_reqs", "count") >= 100.0 + 3.0 * iterations);
    assert!(value(&doc, "seats_booked", "count") >= iterations);
    let check_names: Vec<&str> = doc["root_group"]["checks"]
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for name in [
        "logged in",
        "search answered",
        "events found",
        "booked or sold out",
    ] {
        assert!(check_names.contains(&name), "{check_names:?}");
    }
}

#[test]
fn http_ingest_in_python_and_in_c_posts_every_message() {
    for dir in ["scripts/http-ingest-py", "scripts/http-ingest-c"] {
        let doc = build_and_run(&repo().join(dir), &["-p", "quick"]);
        assert_eq!(value(&doc, "iterations", "count"), 1000.0, "{dir}");
        assert_eq!(failed(&doc), 0.0, "{dir}");
        assert_eq!(value(&doc, "http_reqs", "count"), 1000.0, "{dir}");
        assert_eq!(value(&doc, "checks", "passes"), 1000.0, "{dir}");
        assert_eq!(value(&doc, "http_req_failed", "passes"), 0.0, "{dir}");
    }
}

/// Copies `from` (its sources and plans, not its build output) to `to`.
fn copy_scenario(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "target" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy_scenario(&e.path(), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

/// The README's way to start: copy an example anywhere, build it, run it.
/// Nothing in it points back at this checkout (the SDK comes with volley).
#[test]
fn a_copied_rust_example_builds_and_runs_outside_the_checkout() {
    let dir = scratch("lang", "copy").join("my-ingest");
    copy_scenario(&repo().join("scripts/http-ingest"), &dir);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("path"), "{manifest}");
    let doc = build_and_run(&dir, &["-p", "quick"]);
    assert_eq!(value(&doc, "iterations", "count"), 1000.0);
    assert_eq!(value(&doc, "checks", "passes"), 1000.0);
    assert_eq!(value(&doc, "http_req_failed", "passes"), 0.0);
    // An old-style manifest that points at a checkout's SDK is told what to write.
    std::fs::write(
        dir.join("Cargo.toml"),
        manifest.replace(
            "volley-sdk = \"0.1\"",
            "volley-sdk = { path = \"../../sdk/rust\" }",
        ),
    )
    .unwrap();
    let (code, _, err) = volley_with(&["build", dir.to_str().unwrap()], &[]);
    assert_eq!(code, 110, "{err}");
    assert!(err.contains("volley-sdk = \"0.1\""), "{err}");
    std::fs::remove_dir_all(dir.parent().unwrap()).ok();
}

/// Every function of the C SDK (`sdk/c/volley.h`), called by
/// `engine/tests/guests/c-sdk`: its checks hold, and what only the engine
/// sees (metrics, teardown, errors, log lines) is checked here.
#[test]
fn every_c_sdk_function_does_what_it_says() {
    let dir = repo().join("engine/tests/guests/c-sdk");
    let t = dir.to_str().unwrap();
    let (code, out, err) = volley_with(&["build", "--force", t], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let export = std::env::temp_dir().join(format!("volley-c-sdk-{}.json", std::process::id()));
    let (code, out, err) = volley_with(
        &[
            "run",
            t,
            "--quiet",
            "--summary-export",
            export.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    std::fs::remove_file(&export).ok();
    // 2 VUs x 3 iterations of 19 checks each, and the `errorf` iteration.
    assert_eq!(value(&doc, "checks", "fails"), 0.0, "{out}");
    assert_eq!(value(&doc, "checks", "passes"), 6.0 * 19.0);
    // The judged 404 passed on the scenario's verdict, with its check.
    assert_eq!(doc["root_group"]["checks"]["c judged"]["passes"], 6.0);
    assert_eq!(
        series_values(&doc, "http_req_failed", ("name", "c judged")),
        (0.0, 6.0)
    );
    assert_eq!(value(&doc, "iterations", "count"), 7.0);
    assert_eq!(value(&doc, "iterations_failed", "count"), 1.0);
    assert!(err.contains("errorf says 42"), "{err}");
    assert!(err.contains("c log line from vu "), "{err}");
    assert_eq!(value(&doc, "c_counter", "count"), 12.0);
    assert_eq!(value(&doc, "c_gauge", "value"), 7.0);
    assert_eq!(value(&doc, "c_rate", "passes"), 6.0);
    assert_eq!(
        value(&doc, "c_trend", "max"),
        12.5,
        "no counter value in the trend"
    );
    assert!(
        err.contains("metric `c_trend` is a trend"),
        "the refused declare is logged: {err}"
    );
    assert_eq!(value(&doc, "c_teardowns", "count"), 1.0);
    // A sample inside a group carries its path, the one before it none
    // (the iteration before ended inside "c left open": that ended with
    // it, recording no time); a group's time is a sample per iteration.
    assert_eq!(value(&doc, "c_grouped", "count"), 6.0 * 7.0);
    assert_eq!(
        series_values(&doc, "c_grouped", ("group", "::c group")),
        (0.0, 6.0)
    );
    assert_eq!(
        series_values(&doc, "c_grouped", ("group", "::c left open")),
        (0.0, 24.0)
    );
    assert_eq!(value(&doc, "group_duration", "count"), 6.0);
    // Seven requests per iteration reach the target (two of them in the
    // batch); those to a host that is not allowed are refused before they
    // are sent (the checks saw their class).
    assert_eq!(value(&doc, "http_reqs", "count"), 42.0);
    // Failed: the 422, the PUT's 404 and the two not allowed, per
    // iteration; the batch's 404 was expected.
    assert_eq!(value(&doc, "http_req_failed", "passes"), 24.0);
}

#[test]
fn volley_new_scaffolds_a_scenario_that_runs_in_every_language() {
    let root = scratch("lang", "new");
    for lang in ["rust", "python", "js", "c"] {
        let dir = root.join(format!("{lang}-shop"));
        let (code, out, err) = volley_with(&["new", dir.to_str().unwrap(), "--lang", lang], &[]);
        assert_eq!(code, 0, "{lang}: {out}\n{err}");
        let doc = build_and_run(&dir, &["--vus", "2", "--iterations", "6"]);
        assert_eq!(value(&doc, "iterations", "count"), 6.0, "{lang}");
        assert_eq!(failed(&doc), 0.0, "{lang}");
        assert_eq!(value(&doc, "checks", "passes"), 6.0, "{lang}");
        // What the build embedded.
        let component = dir.join("target/volley").join(format!("{lang}_shop.wasm"));
        let (code, out, err) =
            volley_with(&["inspect", "--json", component.to_str().unwrap()], &[]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let meta = &v["metadata"];
        assert_eq!(meta["name"], format!("{lang}_shop"), "{meta}");
        assert_eq!(meta["version"], "0.1.0", "{meta}");
        assert_eq!(meta["sdk"], format!("volley-sdk-{lang} 0.1.0"), "{meta}");
        let language = meta["language"].as_str().unwrap_or_default();
        let expected = match lang {
            "rust" => "Rust",
            "python" => "Python",
            "js" => "JavaScript",
            _ => "C11",
        };
        assert_eq!(language, expected);
    }
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn a_source_file_runs_directly_and_rebuilds_only_when_it_changes() {
    let dir = scratch("lang", "file");
    let script = dir.join("hello.js");
    // `other` also checks the SDK's random data: every value of a small
    // range comes up (QuickJS hands a u64 over as a double: low bits are 0).
    let text = "import { check, vu, random } from 'volley';\n\
                export default function () { check('first', vu.iteration >= 0); }\n\
                export function other() {\n\
                  const seen = new Set();\n\
                  for (let i = 0; i < 400; i++) seen.add(random.int(0, 7));\n\
                  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;\n\
                  check('other', seen.size === 8 && uuid.test(random.uuid()) && random.string(5).length === 5);\n\
                }\n";
    std::fs::write(&script, text).unwrap();
    let s = script.to_str().unwrap();
    let (code, out, err) = volley_with(&["run", s, "--iterations", "3", "--exec", "other"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ other"), "{out}");
    let built = dir.join("target/volley/hello.js.wasm");
    let first = std::fs::metadata(&built).unwrap().modified().unwrap();
    // Unchanged: the cached component, not rebuilt.
    let (code, _, err) = volley_with(&["build", s], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("up to date"), "{err}");
    assert_eq!(
        std::fs::metadata(&built).unwrap().modified().unwrap(),
        first
    );
    // A changed source is rebuilt.
    std::fs::write(&script, text.replace("'first'", "'second'")).unwrap();
    let (code, out, err) = volley_with(&["run", s, "--iterations", "2"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ second"), "{out}");
    // A thrown error fails the iteration with the script's message and line.
    // An async default function is awaited (k6's event loop): its
    // rejection fails the iteration with its message, never silently.
    std::fs::write(
        &script,
        "export default async function () { await null; throw new Error('not lost'); }\n",
    )
    .unwrap();
    let (code, out, err) = volley_with(&["run", s, "--iterations", "2"], &[]);
    assert_eq!(code, 99, "{out}\n{err}");
    assert!(err.contains("Error: not lost"), "{err}");
    std::fs::write(&script, "export default function () { null.x; }\n").unwrap();
    let (code, out, err) = volley_with(&["run", s, "--iterations", "2"], &[]);
    // Every iteration failed: never green.
    assert_eq!(code, 99, "{out}\n{err}");
    assert!(
        err.contains("TypeError") && err.contains("hello.js:1"),
        "{err}"
    );
    assert!(out.contains("iterations_failed"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_python_exception_fails_the_iteration_with_its_message() {
    let dir = scratch("lang", "py");
    std::fs::write(
        dir.join("scenario.py"),
        "from volley import check, http, HttpError\n\
         def default(data):\n    raise ValueError('no such seat')\n\
         def refused(data):\n    try:\n        http.get('http://127.0.0.1:1/x')\n    except HttpError as e:\n        check('refused', e.kind == 'refused')\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let (code, out, err) = volley_with(&["run", d, "--iterations", "2"], &[]);
    // Every iteration raised: the run fails (99) and says why.
    assert_eq!(code, 99, "{out}\n{err}");
    assert!(err.contains("every iteration failed"), "{err}");
    // The exception, and where in the scenario it was raised.
    assert!(
        err.contains("ValueError: no such seat (at scenario.py:3 in default)"),
        "{err}"
    );
    let (code, out, err) = volley_with(
        &[
            "run",
            d,
            "--iterations",
            "1",
            "--exec",
            "refused",
            "--allow-host",
            "127.0.0.1:1",
            // Every request fails on purpose: say that is fine.
            "--threshold",
            "http_req_failed:rate<=1",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ refused"), "{out}");
    let (code, _, err) = volley_with(&["run", d, "--iterations", "1", "--exec", "nope"], &[]);
    assert_eq!(code, 99, "{err}");
    assert!(err.contains("no entry `nope`"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_missing_toolchain_names_the_command_that_installs_it() {
    let dir = scratch("lang", "missing");
    std::fs::write(dir.join("scenario.py"), "def default(data):\n    pass\n").unwrap();
    std::fs::write(dir.join("main.js"), "export default function () {}\n").unwrap();
    let d = dir.to_str().unwrap();
    // Two languages in one folder: pick one.
    let (code, _, err) = volley_with(&["build", d], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("more than one language"), "{err}");
    let empty = scratch("lang", "no-tools");
    let nothing = [
        ("PATH", "/nonexistent"),
        ("VOLLEY_TOOLCHAINS", empty.to_str().unwrap()),
    ];
    let py = dir.join("scenario.py");
    let (code, _, err) = volley_with(&["build", py.to_str().unwrap()], &nothing);
    assert_ne!(code, 0);
    assert!(err.contains("pip install componentize-py==0.25.1"), "{err}");
    let js = dir.join("main.js");
    let (code, _, err) = volley_with(&["build", js.to_str().unwrap()], &nothing);
    assert_ne!(code, 0);
    assert!(
        err.contains("npm install --prefix") && err.contains("componentize-qjs@0.4.4"),
        "{err}"
    );
    let c = dir.join("x.c");
    std::fs::write(&c, "const char *volley_run(const char *e) { return 0; }\n").unwrap();
    let (code, _, err) = volley_with(
        &["build", c.to_str().unwrap()],
        &[("VOLLEY_CLANG", "/nonexistent/clang")],
    );
    assert_ne!(code, 0);
    assert!(err.contains("apt-get install clang-16"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&empty).ok();
}

#[test]
fn the_c_bindings_match_the_wit() {
    use sha2::Digest;
    let wit = std::fs::read(repo().join("wit/scenario.wit")).unwrap();
    let recorded = std::fs::read_to_string(repo().join("sdk/c/gen/WIT_SHA256")).unwrap();
    let hash: String = sha2::Sha256::digest(&wit)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        recorded.trim(),
        hash,
        "wit/scenario.wit changed: run sdk/c/regen.sh to regenerate the C bindings"
    );
}

#[test]
fn a_syntax_error_fails_the_build_with_its_file_and_line() {
    let dir = scratch("lang", "syntax");
    let py = dir.join("broken.py");
    std::fs::write(&py, "def default(data)\n    pass\n").unwrap();
    let (code, out, err) = volley_with(&["build", py.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert!(
        out.is_empty(),
        "stdout is only ever the component path: {out}"
    );
    assert!(
        err.contains("SyntaxError") && err.contains("broken.py, line 1"),
        "{err}"
    );
    assert!(!err.contains("Stack backtrace"), "{err}");
    let js = dir.join("broken.js");
    std::fs::write(&js, "export default function () { let x = ; }\n").unwrap();
    let (code, _, err) = volley_with(&["build", js.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("broken.js:1:"), "{err}");
    assert!(
        err.contains("bundling") && err.contains("PARSE_ERROR"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_plan_of_every_example_is_valid() {
    let mut checked = Vec::new();
    for example in std::fs::read_dir(repo().join("scripts")).unwrap().flatten() {
        let Ok(plans) = std::fs::read_dir(example.path().join("plans")) else {
            continue;
        };
        for p in plans.flatten() {
            let path = p.path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let raw: volley::plan::RawPlan =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let ov = volley::plan::Overrides {
                component: Some(PathBuf::from("example.wasm")),
                ..Default::default()
            };
            volley::plan::validate(raw, &path, &example.path(), &ov)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            checked.push(path);
        }
    }
    // booking's load, spike, stress, quick and default among them.
    for name in ["load", "spike", "stress", "quick"] {
        let p = repo().join(format!("scripts/booking/plans/{name}.toml"));
        assert!(checked.contains(&p), "{} not checked", p.display());
    }
}

#[test]
fn the_spidermonkey_engine_runs_the_same_script() {
    let dir = scratch("lang", "spidermonkey");
    let script = dir.join("shop.js");
    std::fs::write(
        &script,
        "import { check, random, vu } from 'volley';\n\
         export default function () {\n\
           check('spidermonkey', new TextEncoder().encode('é').length === 2 && random.int(1, 1) === 1 && vu.id > 0);\n\
         }\n",
    )
    .unwrap();
    let s = script.to_str().unwrap();
    let sm = [("VOLLEY_JS_ENGINE", "spidermonkey")];
    let (code, out, err) = volley_with(&["run", s, "--iterations", "3"], &sm);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ spidermonkey"), "{out}");
    let component = dir.join("target/volley/shop.js.wasm");
    let (_, meta, _) = volley_with(&["inspect", "--json", component.to_str().unwrap()], &[]);
    assert!(meta.contains("ComponentizeJS"), "{meta}");
    let (code, _, err) = volley_with(&["build", s], &[("VOLLEY_JS_ENGINE", "v8")]);
    assert_ne!(code, 0);
    assert!(
        err.contains("`quickjs` (the default) or `spidermonkey`"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn response_headers_reach_the_javascript_and_python_sdks() {
    let plan = "[targets]\napi = \"embedded:http\"\n\
                [scenarios.h]\nexecutor = \"shared-iterations\"\nvus = 1\niterations = 2\n";
    let root = scratch("lang", "headers");
    let js = root.join("js");
    std::fs::create_dir_all(js.join("plans")).unwrap();
    std::fs::write(js.join("plans/default.toml"), plan).unwrap();
    std::fs::write(
        js.join("scenario.js"),
        "import { http, check, vu } from 'volley';\n\
         export default function () {\n\
           const r = http.get(`${vu.param('api')}/health`);\n\
           check(r, { 'content-type': (r) => r.headers['content-type'].startsWith('application/json'),\n\
                      'content-length': (r) => Number(r.headers['content-length']) === r.bodyBytes.length });\n\
         }\n",
    )
    .unwrap();
    let py = root.join("py");
    std::fs::create_dir_all(py.join("plans")).unwrap();
    std::fs::write(py.join("plans/default.toml"), plan).unwrap();
    std::fs::write(
        py.join("scenario.py"),
        "from volley import check, http, vu\n\
         def default(data):\n\
         \x20   r = http.get(vu.param('api') + '/health')\n\
         \x20   check('content-type', r.headers['content-type'].startswith('application/json'))\n\
         \x20   check('content-length', int(r.headers['content-length']) == len(r.body))\n",
    )
    .unwrap();
    for dir in [&js, &py] {
        let (code, out, err) = volley_with(&["run", dir.to_str().unwrap()], &[]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(
            out.contains("✓ content-type") && out.contains("✓ content-length"),
            "{}: {out}\n{err}",
            dir.display()
        );
    }
    std::fs::remove_dir_all(&root).ok();
}

/// A counter's count in an export, 0 when it never got a sample.
fn count_or_zero(doc: &serde_json::Value, metric: &str) -> f64 {
    doc["metrics"][metric]["values"]["count"]
        .as_f64()
        .unwrap_or(0.0)
}

/// The iterations that failed (the export leaves the metric out when none did).
fn failed(doc: &serde_json::Value) -> f64 {
    count_or_zero(doc, "iterations_failed")
}

/// No iteration failed, no check failed, and `passes` checks passed.
fn no_failure_and_checks_passed(doc: &serde_json::Value, passes: f64, what: &str) {
    assert_eq!(failed(doc), 0.0, "{what}: {}", doc["metrics"]);
    assert_eq!(
        value(doc, "checks", "fails"),
        0.0,
        "{what}: {}",
        doc["root_group"]
    );
    assert_eq!(value(doc, "checks", "passes"), passes, "{what}");
}

/// Calls every function of the JavaScript SDK once per iteration; each
/// call's effect is a check or a metric the test reads back.
const EVERY_SDK_CALL: &str = r#"
import { http, check, group, sleep, vu, random, log, fail, mark, arrive, Counter, Gauge, Rate, Trend, HttpError } from 'volley';

const calls = new Counter('sdk_calls');
const level = new Gauge('sdk_level');
const ok = new Rate('sdk_ok');
const took = new Trend('sdk_took');

export function setup() { return { api: vu.param('api') }; }

export default function (data) {
  check('counter add returns true', calls.add(1, { kind: 'plain' }) === true);
  check('gauge add returns true', level.add(vu.id) === true);
  check('rate add returns true', ok.add(true) === true);
  check('trend add returns true', took.add(1.5) === true);
  check(vu, { 'vu identity': (v) => v.id >= 1 && v.iteration >= 0 && v.iterationInScenario >= v.iteration && v.scenario === 'sdk' });
  check('param and params', vu.param('api') === data.api && vu.params().api === data.api && vu.param('nope', 'x') === 'x');
  const before = vu.nowUs();
  sleep(0.001);
  check('sleep waits', vu.nowUs() >= before + 1000);
  check('data rows', vu.dataLen('users') === 2 && vu.dataRow('users', 1).name === 'grace' && vu.dataRow('users', 5) === undefined);
  const n = random.int(1, 6);
  check('random', n >= 1 && n <= 6 && random.float() < 1 && random.string(4).length === 4
    && random.choice(['a']) === 'a' && random.name().includes(' ') && random.email().includes('@')
    && random.uuid().length === 36 && Math.random() < 1);
  const key = `k-${vu.id}-${vu.iteration}`;
  mark('sdk_mark_latency', key);
  check('mark and arrive', arrive(key) >= 0);
  log.debug('debug line'); log.info('info line'); log.warn('warn line'); log.error('error line');
  try { fail('on purpose'); } catch (e) { check('fail throws', e.message === 'on purpose'); }
  http.expectStatuses(200, 201, 404);
  const g = http.get(`${data.api}/health`, { name: 'health', tags: { kind: 'get' }, timeout: 5 });
  check(g, {
    'get 200': (r) => r.status === 200 && r.ok,
    'json': (r) => r.json().status === 'ok' && r.json('status') === 'ok',
    'headers canonical and any case': (r) => r.headers['Content-Type'].startsWith('application/json')
      && r.headers['content-type'] === r.headers['Content-Type'],
    'timings': (r) => r.timings.duration >= 0 && r.timings.waiting >= 0,
    'body bytes': (r) => r.bodyBytes.length === r.body.length,
  });
  const post = http.post(`${data.api}/messages`, JSON.stringify({ user_id: 1, channel_id: 2, content: 'hi' }),
    { headers: { 'Content-Type': 'application/json' } });
  check(post, { 'post 201': (r) => r.status === 201 });
  for (const [m, r] of [['put', http.put(`${data.api}/nowhere`, 'x')], ['patch', http.patch(`${data.api}/nowhere`, 'x')],
    ['del', http.del(`${data.api}/nowhere`)], ['head', http.head(`${data.api}/health`)],
    ['request', http.request('get', `${data.api}/health`)]]) {
    check(`${m} answered`, r.status > 0);
  }
  try {
    http.get('http://127.0.0.1:1/refused');
    check('refused throws HttpError', false);
  } catch (e) {
    check('refused throws HttpError', e instanceof HttpError && e.kind === 'refused');
  }
  try { g.html(); } catch (e) { check('html explains', e.message.includes('not supported')); }
  check('cookie jar', typeof http.cookieJar().cookiesForURL(data.api) === 'object');
  const [b1, b2] = http.batch([['GET', `${data.api}/health`, null, { name: 'batch' }],
    { method: 'GET', url: `${data.api}/health`, params: { name: 'batch' } }]);
  check('batch', b1.status === 200 && b2.status === 200 && b1.json('status') === 'ok');
  check('tagged check', true, { step: 'tagged' });
  // The script's verdict: a 404 passes, with a check named after it.
  const judged = http.get(`${data.api}/nothing-here`, { name: 'judged', judged: true });
  check('verdict', judged.status === 404 && http.verdict(true, true) && !http.verdict(true));
  let thrown = '';
  try { new Counter('sdk_took'); } catch (e) { thrown = e.message; }
  check('a name of another kind throws', thrown.includes('is a trend'));
  // Groups: what is recorded inside carries the group's path.
  const inner = group('js outer', () => {
    calls.add(1, { kind: 'grouped' });
    return group('js inner', () => check('grouped check', true) && 7);
  });
  check('group returns', inner === 7);
}
"#;

#[test]
fn every_javascript_sdk_call_works_under_quickjs_and_spidermonkey() {
    let root = scratch("lang", "every-call");
    std::fs::create_dir_all(root.join("plans")).unwrap();
    std::fs::write(root.join("scenario.js"), EVERY_SDK_CALL).unwrap();
    std::fs::write(root.join("users.csv"), "name\nada\ngrace\n").unwrap();
    std::fs::write(
        root.join("plans/default.toml"),
        "[targets]\napi = \"embedded:http\"\n[options]\nallowHosts = [\"127.0.0.1:1\"]\n\
         [data]\nusers = \"users.csv\"\n\
         [scenarios.sdk]\nexecutor = \"per-vu-iterations\"\nvus = 2\niterations = 3\n",
    )
    .unwrap();
    for engine in ["quickjs", "spidermonkey"] {
        let export = root.join(format!("{engine}.json"));
        let (code, out, err) = volley_with(
            &[
                "run",
                root.to_str().unwrap(),
                "--quiet",
                "--summary-export",
                export.to_str().unwrap(),
            ],
            &[("VOLLEY_JS_ENGINE", engine)],
        );
        assert_eq!(code, 0, "{engine}:\n{out}\n{err}");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
        assert_eq!(value(&doc, "iterations", "count"), 6.0, "{engine}");
        assert_eq!(failed(&doc), 0.0, "{engine}: {err}");
        assert_eq!(
            value(&doc, "checks", "fails"),
            0.0,
            "{engine}: {}",
            doc["root_group"]
        );
        // 32 checks an iteration (one is `http.verdict`'s, named after its request).
        assert_eq!(
            value(&doc, "checks", "passes"),
            6.0 * 32.0,
            "{engine}: {}",
            doc["root_group"]
        );
        assert_eq!(
            doc["root_group"]["checks"]["judged"]["passes"], 6.0,
            "{engine}"
        );
        // Its 404 passed on the script's verdict, not failed by its status.
        assert_eq!(
            series_values(&doc, "http_req_failed", ("name", "judged")),
            (0.0, 6.0),
            "{engine}"
        );
        assert_eq!(value(&doc, "sdk_calls", "count"), 12.0, "{engine}");
        assert_eq!(
            series_values(&doc, "sdk_calls", ("group", "::js outer")),
            (0.0, 6.0),
            "{engine}"
        );
        assert_eq!(
            series_values(&doc, "checks", ("group", "::js outer::js inner")),
            (6.0, 6.0),
            "{engine}"
        );
        assert_eq!(value(&doc, "group_duration", "count"), 12.0, "{engine}");
        assert_eq!(value(&doc, "sdk_ok", "rate"), 1.0, "{engine}");
        assert_eq!(value(&doc, "sdk_took", "count"), 6.0, "{engine}");
        assert!(value(&doc, "sdk_mark_latency", "count") >= 6.0, "{engine}");
        // get, post, put, patch, del, head, request (refused counts too),
        // and the batch's two.
        assert!(value(&doc, "http_reqs", "count") >= 6.0 * 9.0, "{engine}");
    }
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn every_python_sdk_function_runs_and_shows_its_effect() {
    let doc = build_and_run(&repo().join("engine/tests/guests/sdk-py"), &[]);
    // 2 VUs x 3 iterations, none failed, no check failed.
    assert_eq!(value(&doc, "iterations", "count"), 6.0);
    assert_eq!(
        count_or_zero(&doc, "iterations_failed"),
        0.0,
        "{}",
        doc["metrics"]
    );
    assert_eq!(value(&doc, "checks", "fails"), 0.0, "{}", doc["root_group"]);
    let checks = doc["root_group"]["checks"].as_object().unwrap();
    // Each named check once per iteration (init_vu's once per VU).
    assert_eq!(checks["init_vu got setup data"]["passes"], 2.0);
    for name in [
        "vu.params",
        "random.uuid",
        "data_row",
        "is three",
        "HttpError",
        "fail raises Fail",
        "http.batch",
        "tagged check",
        "verdict",
        "judged",
        "a name of another kind raises",
    ] {
        assert_eq!(checks[name]["passes"], 6.0, "{name}: {checks:?}");
    }
    // Custom metrics: Counter.add() and add(2), Gauge, Rate, Trend, marks.
    assert_eq!(value(&doc, "sdk_calls", "count"), 18.0);
    assert!((1.0..=2.0).contains(&value(&doc, "sdk_level", "value")));
    assert_eq!(value(&doc, "sdk_ratio", "passes"), 6.0);
    assert_eq!(value(&doc, "sdk_ratio", "fails"), 6.0);
    assert_eq!(value(&doc, "sdk_spent", "count"), 6.0);
    assert_eq!(value(&doc, "sdk_roundtrip", "count"), 6.0);
    // HTTP: get, post x2, put, patch, delete, request, the 404, the
    // judged 404 and the batch's two, per iteration; the not-allowed ones
    // never left, so they are no requests.
    assert_eq!(value(&doc, "http_reqs", "count"), 11.0 * 6.0);
    // Failed: only the not-allowed ones (the 404s were expected, or passed
    // on the scenario's verdict).
    assert_eq!(value(&doc, "http_req_failed", "passes"), 2.0 * 6.0);
    assert_eq!(
        series_values(&doc, "http_req_failed", ("name", "judged")),
        (0.0, 6.0)
    );
    // Groups, a `with` block and a decorated function inside it: each
    // sample carries its group's path, the one after them none.
    assert_eq!(value(&doc, "sdk_grouped", "count"), 6.0 * 7.0);
    for (path, sum) in [("::py outer", 6.0), ("::py outer::py inner", 12.0)] {
        assert_eq!(
            series_values(&doc, "sdk_grouped", ("group", path)),
            (0.0, sum),
            "{path}"
        );
    }
    assert_eq!(value(&doc, "group_duration", "count"), 12.0);
}

#[test]
fn python_random_differs_per_vu() {
    let dir = scratch("lang", "pyrandom");
    std::fs::write(
        dir.join("scenario.py"),
        "import random\nfrom volley import Counter\n\
         draws = Counter('draws')\n\
         def default(data):\n    draws.add(1, tags={'value': str(random.randrange(10**12))})\n",
    )
    .unwrap();
    let export = dir.join("summary.json");
    let (code, out, err) = volley_with(
        &[
            "run",
            dir.to_str().unwrap(),
            "--quiet",
            "--vus",
            "4",
            "--iterations",
            "4",
            "--summary-export",
            export.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let values: std::collections::BTreeSet<String> = doc["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"] == "draws")
        .map(|s| s["tags"]["value"].as_str().unwrap().to_string())
        .collect();
    // Four draws, four values: no two VUs start from the same state.
    assert_eq!(values.len(), 4, "{values:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn python_imports_of_what_is_not_there_name_it() {
    let dir = scratch("lang", "pyimports");
    let py = dir.join("scenario.py");
    // A PyPI package (one the machine's Python does not have either:
    // componentize-py bundles what the interpreter it runs with can import).
    std::fs::write(
        &py,
        "import json\nimport gevent\ndef default(data):\n    pass\n",
    )
    .unwrap();
    let (code, _, err) = volley_with(&["build", py.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("No module named 'gevent'")
            && err.contains("scenario.py\", line 2")
            && err.contains("`gevent` is not in the scenario")
            && err.contains("no gevent is needed"),
        "{err}"
    );
    assert!(
        !err.contains("\"/1/"),
        "paths as the user knows them: {err}"
    );
    // A data file taken for a module.
    std::fs::write(&py, "import users\ndef default(data):\n    pass\n").unwrap();
    let (code, _, err) = volley_with(&["build", py.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("No module named 'users'") && err.contains("Data files are not modules"),
        "{err}"
    );
    // A file opened relative to the current folder at build time ...
    std::fs::write(dir.join("users.json"), "[{\"name\": \"ada\"}]").unwrap();
    std::fs::write(
        &py,
        "USERS = open('users.json').read()\ndef default(data):\n    pass\n",
    )
    .unwrap();
    let (code, _, err) = volley_with(&["build", py.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("No such file or directory: 'users.json'")
            && err.contains("os.path.dirname(__file__)"),
        "{err}"
    );
    // ... works next to the module, and is kept in the component; at run
    // time there is no file system, and the error says so.
    std::fs::write(
        &py,
        "import json, os\nfrom volley import check\n\
         USERS = json.load(open(os.path.join(os.path.dirname(__file__), 'users.json')))\n\
         def default(data):\n    check('read at build time', USERS[0]['name'] == 'ada')\n\
         def late(data):\n    open('users.json')\n",
    )
    .unwrap();
    let (code, out, err) = volley_with(&["run", py.to_str().unwrap(), "--iterations", "1"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ read at build time"), "{out}");
    let (_, _, err) = volley_with(
        &[
            "run",
            py.to_str().unwrap(),
            "--iterations",
            "1",
            "--exec",
            "late",
        ],
        &[],
    );
    assert!(
        err.contains("'users.json' (at scenario.py:7 in late); a scenario has no file system"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Kafka through the generated bindings of JavaScript, Python and C: a
/// message with a key and a header (`produce`), a batch (`send-batch`), a
/// batch that stops at a record librdkafka cannot take (a topic with a NUL
/// byte), `produce-wait` and `flush`, against the embedded Kafka target.
/// Each language lowers the list of messages itself; the engine reads it
/// in place.
const KAFKA_JS: &str = r#"
import { kafka, vu, check } from 'volley';

const bytes = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const message = (topic, value) => ({ topic, key: undefined, value: bytes(value), headers: [], partition: undefined, timestampMs: undefined });
let producer;
export function initVu() { producer = kafka.Producer.open({ bootstrap: vu.param('kafka'), properties: [] }); }

export default function () {
  producer.produce({ ...message('lang-js', 'one'), key: bytes('k'), headers: [{ key: 'h', value: bytes('v') }] });
  producer.sendBatch([message('lang-js', 'a'), message('lang-js', 'b'), message('lang-js', 'c')]);
  let stopped;
  try {
    producer.sendBatch([message('lang-js', 'd'), message('bad\0topic', 'e'), message('lang-js', 'f')]);
  } catch (e) { stopped = e.payload; }
  check(stopped, { 'batch stops at the bad record': (s) => s && s.enqueued === 1 && s.error.class === 'config' });
  const d = producer.produceWait(message('lang-js', 'w'));
  check(d, { 'produce-wait acked': (d) => d.offset >= 0 && d.ackUs >= 0 });
  producer.flush(10000);
  check(stopped, { 'the error names the NUL': (s) => s && s.error.message.includes('NUL') });
}
"#;

const KAFKA_PY: &str = r#"
from componentize_py_types import Err
from volley import check, kafka, vu

PRODUCER = None


def message(topic, value):
    return kafka.Outgoing(topic=topic, key=None, value=value, headers=[], partition=None, timestamp_ms=None)


def init_vu(data):
    global PRODUCER
    PRODUCER = kafka.Producer.open(kafka.ClientConfig(bootstrap=vu.param("kafka"), properties=[]))


def default(data):
    one = message("lang-py", b"one")
    one.key = b"k"
    one.headers = [kafka.Header(key="h", value=b"v")]
    PRODUCER.produce(one)
    PRODUCER.send_batch([message("lang-py", b"a"), message("lang-py", b"b"), message("lang-py", b"c")])
    stopped = None
    try:
        PRODUCER.send_batch([message("lang-py", b"d"), message("bad\0topic", b"e"), message("lang-py", b"f")])
    except Err as e:
        stopped = e.value
    check("batch stops at the bad record",
          stopped is not None and stopped.enqueued == 1 and stopped.error.class_ == kafka.ErrorClass.CONFIG)
    d = PRODUCER.produce_wait(message("lang-py", b"w"))
    check("produce-wait acked", d.offset >= 0 and d.ack_us >= 0)
    PRODUCER.flush(10000)
    check("the error names the NUL", stopped is not None and "NUL" in stopped.error.message)
"#;

const KAFKA_C: &str = r#"
#include <stdlib.h>
#include <string.h>

#include "volley.h"

static volley_scenario_kafka_own_producer_t producer;

const char *volley_init_vu(const uint8_t *data, size_t len) {
    (void)data;
    (void)len;
    char *bootstrap = volley_param("kafka");
    if (!bootstrap) return "param `kafka` is missing";
    volley_scenario_kafka_client_config_t config = {0};
    scenario_string_set(&config.bootstrap, bootstrap);
    volley_scenario_kafka_kafka_error_t err;
    bool opened = volley_scenario_kafka_static_producer_open(&config, &producer, &err);
    free(bootstrap);
    if (!opened) {
        volley_scenario_kafka_kafka_error_free(&err);
        return "the producer did not open";
    }
    return NULL;
}

static volley_scenario_kafka_outgoing_t message(const char *topic, const char *value) {
    volley_scenario_kafka_outgoing_t m = {0};
    scenario_string_set(&m.topic, topic);
    m.value.ptr = (uint8_t *)value;
    m.value.len = strlen(value);
    return m;
}

const char *volley_run(const char *entry) {
    (void)entry;
    volley_scenario_kafka_borrow_producer_t p = volley_scenario_kafka_borrow_producer(producer);
    volley_scenario_kafka_kafka_error_t err;

    volley_scenario_kafka_header_t header = {0};
    scenario_string_set(&header.key, "h");
    header.value.ptr = (uint8_t *)"v";
    header.value.len = 1;
    volley_scenario_kafka_outgoing_t one = message("lang-c", "one");
    one.key.is_some = true;
    one.key.val.ptr = (uint8_t *)"k";
    one.key.val.len = 1;
    one.headers.ptr = &header;
    one.headers.len = 1;
    bool produced = volley_scenario_kafka_method_producer_produce(p, &one, &err);
    if (!produced) volley_scenario_kafka_kafka_error_free(&err);
    volley_check("produce", produced);

    volley_scenario_kafka_outgoing_t batch[3] = {message("lang-c", "a"), message("lang-c", "b"),
                                                 message("lang-c", "c")};
    volley_scenario_kafka_list_outgoing_t list = {batch, 3};
    volley_scenario_kafka_batch_error_t stopped;
    bool sent = volley_scenario_kafka_method_producer_send_batch(p, &list, &stopped);
    if (!sent) volley_scenario_kafka_batch_error_free(&stopped);
    volley_check("send-batch", sent);

    volley_scenario_kafka_outgoing_t bad[3] = {message("lang-c", "d"), message("lang-c", "e"),
                                               message("lang-c", "f")};
    bad[1].topic.ptr = (uint8_t *)"bad\0topic";
    bad[1].topic.len = 9;
    list.ptr = bad;
    sent = volley_scenario_kafka_method_producer_send_batch(p, &list, &stopped);
    volley_check("batch stops at the bad record",
                 !sent && stopped.enqueued == 1 &&
                     stopped.error.class_ == VOLLEY_SCENARIO_KAFKA_ERROR_CLASS_CONFIG);
    if (!sent) volley_scenario_kafka_batch_error_free(&stopped);

    volley_scenario_kafka_outgoing_t w = message("lang-c", "w");
    volley_scenario_kafka_delivery_t d;
    bool acked = volley_scenario_kafka_method_producer_produce_wait(p, &w, &d, &err);
    if (!acked) volley_scenario_kafka_kafka_error_free(&err);
    volley_check("produce-wait acked", acked && d.offset >= 0);

    bool flushed = volley_scenario_kafka_method_producer_flush(p, 10000, &err);
    if (!flushed) volley_scenario_kafka_kafka_error_free(&err);
    volley_check("flushed", flushed);
    return NULL;
}
"#;

#[test]
fn kafka_produce_and_send_batch_work_in_javascript_python_and_c() {
    for (lang, file, source, checks) in [
        ("js", "scenario.js", KAFKA_JS, 3.0),
        ("py", "scenario.py", KAFKA_PY, 3.0),
        ("c", "scenario.c", KAFKA_C, 5.0),
    ] {
        let root = scratch("lang-kafka", lang);
        std::fs::create_dir_all(root.join("plans")).unwrap();
        std::fs::write(root.join(file), source).unwrap();
        std::fs::write(
            root.join("plans/default.toml"),
            "[targets]\nkafka = \"embedded:kafka\"\n\
             [scenarios.kafka]\nexecutor = \"per-vu-iterations\"\nvus = 1\niterations = 2\n",
        )
        .unwrap();
        let doc = build_and_run(&root, &[]);
        // Per iteration: produce 1, a batch of 3, 1 of the stopped batch,
        // produce-wait 1; every one acked by the broker.
        no_failure_and_checks_passed(&doc, 2.0 * checks, lang);
        assert_eq!(value(&doc, "kafka_produced", "count"), 12.0, "{lang}");
        assert_eq!(value(&doc, "kafka_produce_ack", "count"), 12.0, "{lang}");
        assert_eq!(
            value(&doc, "kafka_bytes_produced", "count"),
            2.0 * (4.0 + 3.0 + 1.0 + 1.0),
            "{lang}: values and keys"
        );
        std::fs::remove_dir_all(&root).ok();
    }
}

/// The language benchmark's scenario (`bench/lang/<lang>`, which
/// `bench/languages.sh` and the `lang_*` criterion benches run) does in
/// every language what it says: each `default` iteration one GET the
/// target answers and one passing check, `empty` nothing.
#[test]
fn the_language_benchmark_scenario_runs_in_every_language() {
    let (_rt, server) = standalone_http();
    let url = format!("url={}/health", server.url());
    let allow = server.addr().to_string();
    for lang in ["rust", "js", "python", "c"] {
        let dir = repo().join("bench/lang").join(lang);
        let before = server.stats().requests;
        let doc = build_and_run(
            &dir,
            &[
                "--exec",
                "default",
                "--vus",
                "2",
                "--iterations",
                "10",
                "-e",
                &url,
                "--allow-host",
                &allow,
            ],
        );
        assert_eq!(value(&doc, "iterations", "count"), 10.0, "{lang}");
        assert_eq!(failed(&doc), 0.0, "{lang}: {}", doc["metrics"]);
        assert_eq!(value(&doc, "checks", "passes"), 10.0, "{lang}");
        assert_eq!(value(&doc, "http_reqs", "count"), 10.0, "{lang}");
        assert_eq!(
            server.stats().requests - before,
            10,
            "{lang}: the target's count"
        );
        let (code, out, err) = volley_with(
            &[
                "run",
                dir.to_str().unwrap(),
                "--exec",
                "empty",
                "--iterations",
                "5",
                "-e",
                &url,
                "--quiet",
            ],
            &[],
        );
        assert_eq!(code, 0, "{lang} empty:\n{out}\n{err}");
    }
    assert_eq!(server.stats().requests, 40, "empty iterations send nothing");
}

/// A request that is only a method and a URL, which the JavaScript and
/// Python SDKs send through `send-url` (two strings, not a request record).
const LEAN_JS: &str = r#"
import { http, check, vu, HttpError, Response } from 'volley';

export default function () {
  const api = vu.param('api');
  const r = http.get(`${api}/echo/lean?q=1`);
  check(r, {
    'lean: status and body': (r) => r.status === 200 && r.json('method') === 'GET' && r.json('query') === 'q=1',
    // Made as a literal on this path: still a Response, with its getters.
    'lean: a Response': (r) => r instanceof Response && r.ok && r.error === '' && r.timings.duration >= 0,
    'lean: headers, url and request': (r) => r.headers['Content-Type'].startsWith('application/json')
      && r.url === `${api}/echo/lean?q=1` && r.request.method === 'GET' && r.request.url === r.url,
  });
  try {
    http.get('http://127.0.0.1:1/refused');
    check('lean: refused throws', false);
  } catch (e) {
    check('lean: refused throws', e instanceof HttpError && e.kind === 'refused');
  }
  try {
    http.get('http://192.0.2.1/elsewhere');
    check('lean: not allowed throws', false);
  } catch (e) {
    check('lean: not allowed throws', e instanceof HttpError && e.kind === 'not-allowed');
  }
  // Unexpected: counts in http_req_failed once.
  check('lean: 404 answered', http.get(`${api}/status/404`).status === 404);
  // Expected statuses are a request record's: this one is not lean.
  http.expectStatuses(200, 404);
  check('expected 404', http.get(`${api}/status/404`).status === 404);
  http.expectStatuses();
  // A redirect followed, the cookie it set kept: the next request sends it.
  const login = http.get(`${api}/cookie/sid/42?redirect=/echo/after`);
  check(login, { 'lean: redirect followed': (r) => r.status === 200 && r.url === `${api}/echo/after`
      && r.request.url === `${api}/cookie/sid/42?redirect=/echo/after` && r.request.method === 'GET'
      && r.error === '' && r.error_code === 0 });
  check(http.get(`${api}/echo/next`), { 'cookie sent': (r) => r.json('headers').cookie === 'sid=42' });
  check(http.del(`${api}/echo/gone`), { 'lean: another method': (r) => r.json('method') === 'DELETE'
      && r.request.method === 'DELETE' && r.request.url === r.url && r.url === `${api}/echo/gone` });
}
"#;

const LEAN_PY: &str = r#"
from volley import HttpError, check, http, vu


def default(data):
    api = vu.param("api")
    r = http.get(api + "/echo/lean?q=1")
    check("lean: status and body", r.status == 200 and r.json()["method"] == "GET" and r.json()["query"] == "q=1")
    check("lean: headers", r.headers["content-type"].startswith("application/json"))
    try:
        http.get("http://127.0.0.1:1/refused")
        check("lean: refused raises", False)
    except HttpError as e:
        check("lean: refused raises", e.kind == "refused")
    try:
        http.get("http://192.0.2.1/elsewhere")
        check("lean: not allowed raises", False)
    except HttpError as e:
        check("lean: not allowed raises", e.kind == "not-allowed")
    check("lean: 404 answered", http.get(api + "/status/404").status == 404)
    check("expected 404", http.get(api + "/status/404", expect=[404]).status == 404)
    http.expect_statuses(200, 404)
    check("expected 404 for the VU", http.get(api + "/status/404").status == 404)
    http.expect_statuses()
    r = http.get(api + "/cookie/sid/42?redirect=/echo/after")
    check("lean: redirect followed", r.status == 200 and r.json()["path"] == "/echo/after")
"#;

#[test]
fn a_request_of_only_a_method_and_url_is_the_same_request_in_javascript_and_python() {
    let plan = "[targets]\napi = \"embedded:http\"\n[options]\nallowHosts = [\"127.0.0.1:1\"]\n\
                [scenarios.lean]\nexecutor = \"per-vu-iterations\"\nvus = 2\niterations = 1\n";
    // Per iteration: the checks; the requests (the refused one counts, the
    // not-allowed one never left; the redirect is two); the failed ones
    // (the unexpected 404, the refused and the not-allowed request).
    for (lang, file, source, checks, reqs, failed_reqs) in [
        ("js", "scenario.js", LEAN_JS, 10.0, 8.0, 3.0),
        ("py", "scenario.py", LEAN_PY, 8.0, 7.0, 3.0),
    ] {
        let root = scratch("lang-lean", lang);
        std::fs::create_dir_all(root.join("plans")).unwrap();
        std::fs::write(root.join(file), source).unwrap();
        std::fs::write(root.join("plans/default.toml"), plan).unwrap();
        // QuickJS and SpiderMonkey name the binding's functions each their
        // way; Python has one binding (no engine set).
        let engines: &[Option<&str>] = if lang == "js" {
            &[Some("quickjs"), Some("spidermonkey")]
        } else {
            &[None]
        };
        for engine in engines {
            let env: Vec<(&str, &str)> = engine
                .map(|e| ("VOLLEY_JS_ENGINE", e))
                .into_iter()
                .collect();
            let doc = build_and_run_with(&root, &[], &env);
            let what = format!("{lang} ({})", engine.unwrap_or("componentize-py"));
            no_failure_and_checks_passed(&doc, 2.0 * checks, &what);
            assert_eq!(
                value(&doc, "http_reqs", "count"),
                2.0 * reqs,
                "{what}: {}",
                doc["metrics"]
            );
            assert_eq!(
                value(&doc, "http_req_failed", "passes"),
                2.0 * failed_reqs,
                "{what}"
            );
        }
        std::fs::remove_dir_all(&root).ok();
    }
}
