//! Locust compatibility: the locustfiles of `conformance/locust` run as
//! they are through the binary, against the embedded HTTP target started
//! here (so the test sees what the target received), and volley's per-name
//! numbers must equal the target's per-path counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::*;

/// A fresh folder holding `files` (name, text): the build writes its
/// `target/` beside the source, not into the repository.
/// Each call gets its own folder: two tests building the same locustfile
/// at once must not share (and delete) each other's build folder.
fn scratch_with(name: &str, files: &[(&str, String)]) -> Scratch {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = scratch("locust", &format!("{name}-{n}"));
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

/// The conformance locustfile `file`, copied into a folder of its own
/// (removed when that is dropped).
fn conformance(file: &str) -> (Scratch, PathBuf) {
    let text = std::fs::read_to_string(repo().join("conformance/locust").join(file)).unwrap();
    let dir = scratch_with(file.trim_end_matches(".py"), &[(file, text)]);
    let path = dir.join(file);
    (dir, path)
}

/// The embedded HTTP target on its own runtime, for the test's lifetime.
struct Target {
    rt: tokio::runtime::Runtime,
    server: Option<volley::embedded::http::EmbeddedServer>,
}

impl Target {
    fn start() -> Target {
        let (rt, server) = standalone_http();
        Target {
            rt,
            server: Some(server),
        }
    }

    fn url(&self) -> String {
        self.server.as_ref().unwrap().url()
    }

    fn seen(&self) -> BTreeMap<String, u64> {
        self.server.as_ref().unwrap().path_counts()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// `volley run <file> <args>` with a summary export: the export, after
/// checking the run exited 0.
fn run(file: &Path, args: &[&str]) -> Value {
    let export = file.with_extension("summary.json");
    let mut all = vec![
        "run",
        file.to_str().unwrap(),
        "--quiet",
        "--summary-export",
        export.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let (code, out, err) = volley(&all);
    assert_eq!(code, 0, "{}:\n{out}\n{err}", file.display());
    serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap()
}

fn count(doc: &Value, metric: &str) -> f64 {
    doc["metrics"][metric]["values"]["count"]
        .as_f64()
        .unwrap_or(0.0)
}

/// Per `name` tag: a counter's sum, or a rate's (trues, total).
fn by_name(doc: &Value, metric: &str) -> BTreeMap<String, (f64, f64)> {
    let mut out: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for s in doc["series"].as_array().unwrap() {
        if s["metric"] != metric {
            continue;
        }
        let Some(name) = s["tags"]["name"].as_str() else {
            continue;
        };
        let e = out.entry(name.to_string()).or_default();
        match s["type"].as_str() {
            Some("counter") => e.0 += s["sum"].as_f64().unwrap(),
            Some("rate") => {
                e.0 += s["trues"].as_f64().unwrap();
                e.1 += s["total"].as_f64().unwrap();
            }
            other => panic!("{metric}: unexpected series type {other:?}"),
        }
    }
    out
}

fn checks(doc: &Value) -> BTreeMap<String, (f64, f64)> {
    doc["root_group"]["checks"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (v["passes"].as_f64().unwrap(), v["fails"].as_f64().unwrap()),
            )
        })
        .collect()
}

/// Each request name's count must equal what the target saw on the
/// `METHOD path`s that name stands for.
fn assert_counts_match(doc: &Value, seen: &BTreeMap<String, u64>, names: &[(&str, &[&str])]) {
    let reqs = by_name(doc, "http_reqs");
    let mut total = 0.0;
    for (name, paths) in names {
        let volley_count = reqs.get(*name).map(|c| c.0).unwrap_or(0.0);
        let target_count: u64 = paths
            .iter()
            .map(|p| seen.get(*p).copied().unwrap_or(0))
            .sum();
        assert!(volley_count > 0.0, "no `{name}` requests: {reqs:?}");
        assert_eq!(
            volley_count, target_count as f64,
            "`{name}`: volley counted {volley_count}, the target saw {target_count} ({seen:?})"
        );
        total += volley_count;
    }
    assert_eq!(
        total,
        count(doc, "http_reqs"),
        "requests under names the test does not know: {reqs:?}"
    );
    assert_eq!(total, seen.values().sum::<u64>() as f64, "{seen:?}");
}

#[test]
fn a_locustfile_runs_unmodified_with_every_client_api() {
    let target = Target::start();
    let (_dir, file) = conformance("shop.py");
    let host = format!("host={}", target.url());
    // Tasks are picked at random, the rarest 1 time in 7: 120 iterations
    // miss one about once in 10^8 runs (40 missed the 404 task in one CI run).
    let doc = run(&file, &["--target", &host, "-u", "2", "-i", "120"]);
    assert_eq!(count(&doc, "iterations"), 120.0, "{}", doc["metrics"]);
    assert_eq!(count(&doc, "iterations_failed"), 0.0, "{}", doc["metrics"]);
    let seen = target.seen();
    assert_counts_match(
        &doc,
        &seen,
        &[
            ("login", &["POST /echo/login"]),
            ("session", &["GET /cookie/sid/s42", "GET /echo/account"]),
            ("/echo/items?q=[q]", &["GET /echo/items"]),
            ("/echo/cart", &["POST /echo/cart"]),
            (
                "/echo/cart/1",
                &[
                    "PUT /echo/cart/1",
                    "PATCH /echo/cart/1",
                    "DELETE /echo/cart/1",
                ],
            ),
            ("/echo/catalog", &["HEAD /echo/catalog"]),
            ("catalog options", &["OPTIONS /echo/catalog"]),
            ("/echo/catalog?page=3", &["GET /echo/catalog"]),
            ("expected 404", &["GET /status/404"]),
            ("stock check", &["GET /echo/stock"]),
            ("flaky", &["GET /status/503"]),
        ],
    );
    // Both users logged in once (on_start).
    assert_eq!(seen["POST /echo/login"], 2);
    // ... and each followed its redirect once.
    assert_eq!(seen["GET /echo/account"], 2);
    // catch_response: success() clears a 404 and a 503, failure() fails a 200;
    // the rest fail by status only (none here).
    let failed = by_name(&doc, "http_req_failed");
    for (name, (trues, total)) in &failed {
        let want = if name == "stock check" { *total } else { 0.0 };
        assert_eq!(*trues, want, "http_req_failed{{name:{name}}}: {failed:?}");
    }
    let judged = seen["GET /echo/stock"] as f64;
    assert_eq!(failed["stock check"], (judged, judged));
    let c = checks(&doc);
    assert_eq!(c["stock check"], (0.0, judged), "{c:?}");
    assert_eq!(c["expected 404"], (judged, 0.0), "{c:?}");
    assert_eq!(c["flaky"], (judged, 0.0), "{c:?}");
    std::fs::remove_dir_all(file.parent().unwrap()).ok();
}

/// TaskSets: entered as a task, run task by task (a SequentialTaskSet in
/// order), left by `interrupt()`; each one's on_start and on_stop.
#[test]
fn locust_task_sets_nest_run_in_order_and_interrupt() {
    let target = Target::start();
    let (_dir, file) = conformance("tasksets.py");
    let host = format!("host={}", target.url());
    let doc = run(&file, &["--target", &host, "-u", "2", "-i", "300"]);
    assert_eq!(count(&doc, "iterations"), 300.0, "{}", doc["metrics"]);
    assert_eq!(count(&doc, "iterations_failed"), 0.0, "{}", doc["metrics"]);
    let seen = target.seen();
    let n = |path: &str| seen.get(path).copied().unwrap_or(0);
    // Every Checkout visit ran start, cart, pay, stop in turn: a visit cut
    // off by the end of the run (the VU's on_stop) may lack its cart or pay.
    let starts = n("GET /echo/checkout/start");
    assert!(starts >= 5, "{seen:?}");
    assert_eq!(n("GET /echo/checkout/stop"), starts, "{seen:?}");
    for step in ["GET /echo/checkout/cart", "POST /echo/checkout/pay"] {
        assert!(
            n(step) <= starts && n(step) + 2 >= starts,
            "{step}: {seen:?}"
        );
    }
    // Browse's own tasks ran, item three times as often as leave (which
    // sends nothing): items outnumber checkouts.
    assert!(n("GET /echo/browse/item") > starts, "{seen:?}");
    assert_counts_match(
        &doc,
        &seen,
        &[
            ("checkout start", &["GET /echo/checkout/start"]),
            ("checkout cart", &["GET /echo/checkout/cart"]),
            ("checkout pay", &["POST /echo/checkout/pay"]),
            ("checkout stop", &["GET /echo/checkout/stop"]),
            ("browse item", &["GET /echo/browse/item"]),
        ],
    );
    std::fs::remove_dir_all(file.parent().unwrap()).ok();
}

#[test]
fn locust_user_classes_are_spread_by_weight_and_fixed_count() {
    let target = Target::start();
    let (_dir, file) = conformance("crowd.py");
    let host = format!("host={}", target.url());
    // Six users: Admin's fixed_count first, then Reader:Writer 3:1.
    let doc = run(&file, &["--target", &host, "-u", "6", "-i", "120"]);
    assert_eq!(count(&doc, "iterations"), 120.0);
    assert_eq!(count(&doc, "iterations_failed"), 0.0, "{}", doc["metrics"]);
    let seen = target.seen();
    assert_eq!(seen.get("GET /echo/start/Admin"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("GET /echo/start/Reader"), Some(&4), "{seen:?}");
    assert_eq!(seen.get("GET /echo/start/Writer"), Some(&1), "{seen:?}");
    // The Writer's on_stop runs once, at the end of the run.
    assert_eq!(seen.get("GET /echo/stop/Writer"), Some(&1), "{seen:?}");
    assert_counts_match(
        &doc,
        &seen,
        &[
            ("start Admin", &["GET /echo/start/Admin"]),
            ("start Reader", &["GET /echo/start/Reader"]),
            ("start Writer", &["GET /echo/start/Writer"]),
            ("stop Writer", &["GET /echo/stop/Writer"]),
            ("article", &["GET /echo/articles/1"]),
            ("comments", &["GET /echo/articles/1/comments"]),
            ("/echo/articles", &["POST /echo/articles"]),
            ("audit", &["GET /echo/audit"]),
        ],
    );
    // tasks = {read_article: 3, read_comments: 1}: articles outnumber comments.
    assert!(seen["GET /echo/articles/1"] > seen["GET /echo/articles/1/comments"]);
    std::fs::remove_dir_all(file.parent().unwrap()).ok();
}

#[test]
fn a_locustfile_finds_its_host_and_refuses_what_volley_cannot_map() {
    let target = Target::start();
    // A class `host` literal joins the allowlist: no --target, no --allow-host.
    // Its path prefixes every relative URL, and the names (as in Locust).
    let with_host = format!(
        "from locust import HttpUser, task, constant\n\n\
         class Api(HttpUser):\n    host = \"{}/echo\"\n    wait_time = constant(0)\n\n    \
         @task\n    def ping(self):\n        self.client.get(\"/ping\").raise_for_status()\n",
        target.url().trim_end_matches('/')
    );
    let dir = scratch_with("host", &[("locustfile.py", with_host)]);
    let file = dir.join("locustfile.py");
    // `volley build` takes a locustfile too.
    let (code, out, err) = volley(&["build", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc = run(&file, &["-i", "3"]);
    assert_eq!(count(&doc, "iterations_failed"), 0.0, "{}", doc["metrics"]);
    assert_eq!(target.seen().get("GET /echo/ping"), Some(&3));
    let reqs = by_name(&doc, "http_reqs");
    assert_eq!(reqs.get("/echo/ping"), Some(&(3.0, 0.0)), "{reqs:?}");

    // No host anywhere: the embedded target, started by the run.
    let no_host = "from locust import HttpUser, task\n\n\
                   class Api(HttpUser):\n    @task\n    def health(self):\n        \
                   assert self.client.get(\"/health\").json()[\"status\"] == \"ok\"\n";
    let dir2 = scratch_with("embedded", &[("locustfile.py", no_host.to_string())]);
    let doc = run(&dir2.join("locustfile.py"), &["-i", "2"]);
    assert_eq!(count(&doc, "http_reqs"), 2.0, "{}", doc["metrics"]);
    assert_eq!(count(&doc, "iterations_failed"), 0.0, "{}", doc["metrics"]);

    // --exec picks one user class by name (Locust: `locust -f file Class`).
    let (_, _, err) = volley(&["run", file.to_str().unwrap(), "-i", "1", "--exec", "Nope"]);
    assert!(
        err.contains("no user class `Nope`") && err.contains("Api"),
        "{err}"
    );

    // What cannot map fails the build and names the line.
    for (text, line, what) in [
        (
            "from locust import HttpUser, LoadTestShape, task\n",
            1,
            "not supported: LoadTestShape",
        ),
        (
            "from locust import HttpUser, task\nimport locust\n\n@locust.events.test_start.add_listener\ndef hi(environment, **kw):\n    pass\n",
            4,
            "not supported: event hooks",
        ),
        (
            "from locust import HttpUser, task\n\nclass A(HttpUser):\n    @task\n    def t(self):\n        self.environment.runner.quit()\n",
            6,
            "not supported: the Environment",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let (code, out, err) = volley(&["build", file.to_str().unwrap()]);
        assert_ne!(code, 0, "{out}");
        assert!(
            err.contains(&format!("locustfile.py:{line}: {what}")),
            "{text}\n{err}"
        );
    }
    // `from locust import events` (used later) fails in the import itself.
    std::fs::write(
        &file,
        "from locust import HttpUser, task, events\n\nclass A(HttpUser):\n    @task\n    def t(self):\n        pass\n",
    )
    .unwrap();
    let (code, _, err) = volley(&["build", file.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("not supported: locust.events") && err.contains("locustfile.py\", line 1"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&dir2).ok();
}

/// Locust's own binary, when `./setup.sh` installed it.
fn locust_bin() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let p = Path::new(&home).join(".cache/volley/locust-venv/bin/locust");
    p.is_file().then_some(p)
}

/// Per name, Locust's (requests, failures) from its `--csv` stats file.
fn locust_stats(csv: &Path) -> BTreeMap<String, (f64, f64)> {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 4 || f[1] == "Aggregated" {
            continue;
        }
        let e: &mut (f64, f64) = out.entry(f[1].trim_matches('"').to_string()).or_default();
        e.0 += f[2].parse::<f64>().unwrap();
        e.1 += f[3].parse::<f64>().unwrap();
    }
    out
}

#[test]
fn locust_itself_gives_the_same_names_and_failure_ratios() {
    let Some(locust) = locust_bin() else {
        eprintln!("skipped: no ~/.cache/volley/locust-venv (./setup.sh installs Locust)");
        return;
    };
    for name in ["shop.py", "tasksets.py"] {
        same_names_and_failure_ratios_as_locust(&locust, name);
    }
}

/// The conformance file `name` under volley and under Locust against the
/// same target: the same request names, each failing as often.
fn same_names_and_failure_ratios_as_locust(locust: &Path, name: &str) {
    let target = Target::start();
    let (_dir, file) = conformance(name);
    let host = format!("host={}", target.url());
    let doc = run(&file, &["--target", &host, "-u", "2", "-i", "40"]);
    let prefix = file.with_file_name("locust");
    let out = Command::new(locust)
        .current_dir(file.parent().unwrap())
        .args(["-f", name, "--headless", "-u", "2", "-r", "2", "-t", "5s"])
        .args(["--host", &target.url(), "--csv", prefix.to_str().unwrap()])
        .args(["--only-summary", "--loglevel", "WARNING"])
        .stdin(Stdio::null())
        .output()
        .expect("locust runs");
    let log = String::from_utf8_lossy(&out.stderr);
    // Locust exits 1 when any request failed: shop.py's "stock check"
    // always does.
    assert!(out.status.code().is_some_and(|c| c <= 1), "{name}: {log}");
    // The file is valid Locust: no task raised.
    let exceptions =
        std::fs::read_to_string(prefix.with_file_name("locust_exceptions.csv")).unwrap();
    assert_eq!(
        exceptions.lines().count(),
        1,
        "{name}: Locust saw exceptions:\n{exceptions}"
    );
    let theirs = locust_stats(&prefix.with_file_name("locust_stats.csv"));
    let ours = by_name(&doc, "http_req_failed");
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "{name}: the same request names"
    );
    for (name, (requests, failures)) in &theirs {
        let (trues, total) = ours[name];
        assert!(*requests > 0.0 && total > 0.0, "{name}");
        // The file's outcomes are deterministic: each name always or never fails.
        assert_eq!(
            failures / requests,
            trues / total,
            "`{name}`: Locust {failures}/{requests} failed, volley {trues}/{total}"
        );
    }
    std::fs::remove_dir_all(file.parent().unwrap()).ok();
}

/// Locust's `on_stop` runs for every user when the run ends, as in Locust:
/// its request reaches the target once per user. A duration, not `-i`:
/// with shared iterations a fast user may take them all, and a user that
/// never started has no `on_start` and so no `on_stop` (the README's
/// Locust table); on a loaded machine that made this test flaky.
#[test]
fn on_stop_runs_for_each_user_at_the_end_of_the_run() {
    let target = Target::start();
    let file = "from locust import HttpUser, task, constant\n\n\
                class Api(HttpUser):\n    wait_time = constant(0.05)\n\n    \
                @task\n    def ping(self):\n        self.client.get(\"/echo/ping\").raise_for_status()\n\n    \
                def on_stop(self):\n        self.client.get(\"/echo/stop\").raise_for_status()\n";
    let dir = scratch_with("on-stop", &[("locustfile.py", file.to_string())]);
    let host = format!("host={}", target.url());
    let doc = run(
        &dir.join("locustfile.py"),
        &["--target", &host, "-u", "3", "-d", "2s"],
    );
    let iterations = count(&doc, "iterations");
    assert!(iterations >= 3.0, "{}", doc["metrics"]);
    assert_eq!(count(&doc, "iterations_failed"), 0.0, "{}", doc["metrics"]);
    let seen = target.seen();
    let pings = *seen.get("GET /echo/ping").unwrap_or(&0);
    assert_eq!(pings as f64, iterations, "{seen:?}");
    assert_eq!(seen.get("GET /echo/stop"), Some(&3), "{seen:?}");
    // Its requests are the run's too.
    assert_eq!(
        count(&doc, "http_reqs"),
        pings as f64 + 3.0,
        "{}",
        doc["metrics"]
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `files=` sends multipart/form-data as requests does: `data=`'s fields
/// first, then each file (a tuple's name and type, a file object's own
/// name, else the field's), a 32-hex-digit boundary. The expected body is
/// what requests 2 prepares for the same arguments; the embedded target's
/// `/echo` shows what arrived.
#[test]
fn a_locust_upload_with_files_is_multipart_as_requests_sends_it() {
    let target = Target::start();
    let text = r#"import io
from locust import HttpUser, task, constant

EXPECT = (
    '--{b}\r\nContent-Disposition: form-data; name="note"\r\n\r\nn 1\r\n'
    '--{b}\r\nContent-Disposition: form-data; name="n"\r\n\r\n7\r\n'
    '--{b}\r\nContent-Disposition: form-data; name="upload"; filename="greeting.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n'
    '--{b}\r\nContent-Disposition: form-data; name="bare"; filename="bare"\r\n\r\nAB\r\n'
    '--{b}\r\nContent-Disposition: form-data; name="named"; filename="report.csv"\r\n\r\na,b\r\n'
    '--{b}--\r\n'
)


class Uploader(HttpUser):
    wait_time = constant(0)

    @task
    def upload(self):
        named = io.BytesIO(b"a,b")
        named.name = "/data/report.csv"
        files = {"upload": ("greeting.txt", b"hello", "text/plain"), "bare": b"AB", "named": named}
        r = self.client.post("/echo/upload", data={"note": "n 1", "n": 7}, files=files)
        got = r.json()
        ctype = got["headers"]["content-type"]
        assert ctype.startswith("multipart/form-data; boundary="), ctype
        b = ctype.split("boundary=")[1]
        assert len(b) == 32 and int(b, 16) >= 0, b
        assert got["body"] == EXPECT.format(b=b), got["body"]
"#;
    let dir = scratch_with("files", &[("locustfile.py", text.to_string())]);
    let file = dir.join("locustfile.py");
    let host = format!("host={}", target.url());
    let doc = run(&file, &["--target", &host, "-i", "3"]);
    assert_eq!(count(&doc, "iterations"), 3.0, "{}", doc["metrics"]);
    assert_eq!(count(&doc, "iterations_failed"), 0.0, "{}", doc["metrics"]);
    assert_eq!(target.seen().get("POST /echo/upload"), Some(&3));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_request_that_gets_no_response_gives_a_response_with_its_error() {
    // A loopback port nothing listens on: every request is refused.
    let port = crate::receivers::free_port();
    let text = "from locust import HttpUser, task, constant\n\n\
                class Dead(HttpUser):\n    wait_time = constant(0)\n\n    \
                @task\n    def down(self):\n        \
                r = self.client.get(\"/x?a=1\")\n        \
                assert r.status_code == 0 and not r.ok and \"refused\" in str(r.error), (r, r.error)\n        \
                assert r.request.url.endswith(\"/x?a=1\") and r.request.path_url == \"/x?a=1\", r.request.url\n        \
                assert r.headers == {} and r.reason is None and r.history == [] and r.content == b\"\", r.headers\n        \
                assert r.elapsed.total_seconds() == 0 and r.cookies == {}, r.elapsed\n        \
                with self.client.get(\"/y\", catch_response=True) as c:\n            \
                assert c.status_code == 0 and c.error is not None, c.error\n";
    let dir = scratch_with("dead", &[("locustfile.py", text.to_string())]);
    let file = dir.join("locustfile.py");
    let export = dir.join("export.json");
    let (code, out, err) = volley(&[
        "run",
        file.to_str().unwrap(),
        "--target",
        &format!("host=http://127.0.0.1:{port}"),
        "-i",
        "3",
        "--quiet",
        "--summary-export",
        export.to_str().unwrap(),
    ]);
    // Every request failed: the run is not green, however its checks went.
    assert_eq!(code, 99, "{out}\n{err}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    // The task's assertions held on each of the 3 iterations...
    assert_eq!(count(&doc, "iterations"), 3.0, "{}", doc["metrics"]);
    assert_eq!(count(&doc, "iterations_failed"), 0.0, "{}", doc["metrics"]);
    // ... and both requests of each counted, under their Locust names.
    let reqs = by_name(&doc, "http_reqs");
    assert_eq!(reqs.get("/x?a=1"), Some(&(3.0, 0.0)), "{reqs:?}");
    assert_eq!(reqs.get("/y"), Some(&(3.0, 0.0)), "{reqs:?}");
    assert_eq!(
        checks(&doc).get("/y"),
        Some(&(0.0, 3.0)),
        "{:?}",
        checks(&doc)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A response's `elapsed` is requests': from sending until the head
/// arrived, not the body's download. A loopback server sends the head,
/// then the body a second later; the task times the whole call itself, and
/// at least half a second of it must be outside `elapsed` (the VU would have
/// to stall half a second between head and body for this to fail).
#[test]
fn a_responses_elapsed_ends_when_its_head_arrived() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        // Bounded: the test's one VU sends two requests on one connection.
        for mut conn in listener.incoming().flatten().take(4) {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            for _ in 0..2 {
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.ends_with("\r\n\r\n") {}
                if line.is_empty() {
                    break;
                }
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
                let _ = conn.flush();
                std::thread::sleep(std::time::Duration::from_secs(1));
                let _ = conn.write_all(b"body");
            }
        }
    });
    let text = "import time\nfrom locust import HttpUser, task, constant\n\n\
                class Slow(HttpUser):\n    wait_time = constant(0)\n\n    \
                @task\n    def slow(self):\n        \
                t0 = time.monotonic()\n        \
                r = self.client.get(\"/slow\")\n        \
                whole = time.monotonic() - t0\n        \
                assert r.status_code == 200 and r.text == \"body\", (r, r.text)\n        \
                assert whole >= 1.0, whole\n        \
                assert 0 < r.elapsed.total_seconds() <= whole - 0.5, (whole, r.elapsed)\n";
    let dir = scratch_with("elapsed", &[("locustfile.py", text.to_string())]);
    let doc = run(
        &dir.join("locustfile.py"),
        &["--target", &format!("host={host}"), "-i", "2"],
    );
    assert_eq!(count(&doc, "iterations"), 2.0, "{}", doc["metrics"]);
    assert_eq!(count(&doc, "iterations_failed"), 0.0, "{}", doc["metrics"]);
    std::fs::remove_dir_all(&dir).ok();
}
