//! Helpers: build guest fixtures once, run plans, start loopback servers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use volley::plan::{self, Overrides, Plan};
use volley::run::{Outcome, RunOptions, run};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn build_once(cell: &'static OnceLock<PathBuf>, dir: PathBuf) -> PathBuf {
    cell.get_or_init(|| {
        let opts = volley::build::BuildOptions {
            force: false,
            quiet: true,
        };
        volley::build::build(&dir, &opts)
            .unwrap_or_else(|e| panic!("building {}: {e}", dir.display()))
            .component
    })
    .clone()
}

/// The multi-purpose test guest (`engine/tests/guests/fixture`).
pub fn fixture() -> PathBuf {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    build_once(&CELL, repo().join("engine/tests/guests/fixture"))
}

/// The http-ingest example scenario.
pub fn http_ingest() -> PathBuf {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    build_once(&CELL, repo().join("scripts/http-ingest"))
}

/// Validates a plan written inline (relative paths against the repo).
pub fn plan(text: &str, component: &Path) -> Plan {
    plan_with(text, component, Overrides::default())
}

/// The fixture's `http` entry (GET `url`, check 200) run `iterations`
/// times by each of `vus` VUs against the target `api`; `options` is the
/// plan's `[options]` body.
pub fn gets_plan(api: &str, url: &str, vus: u32, iterations: u32, options: &str) -> Plan {
    plan(
        &format!(
            r#"
            [options]
            {options}
            [targets]
            api = "{api}"
            [scenarios.h]
            executor = "per-vu-iterations"
            vus = {vus}
            iterations = {iterations}
            exec = "http"
            params = {{ url = "{url}" }}
            "#
        ),
        &fixture(),
    )
}

pub fn plan_with(text: &str, component: &Path, mut ov: Overrides) -> Plan {
    let raw: plan::RawPlan = toml::from_str(text).expect("test plan parses");
    ov.component = Some(component.to_path_buf());
    plan::validate(raw, Path::new("test.toml"), &repo(), &ov).expect("test plan validates")
}

/// Runs a plan on a fresh multi-thread runtime, quietly.
pub fn run_plan(plan: Plan) -> Outcome {
    try_run_plan(plan).expect("run completes")
}

/// [`run_plan`] for runs that may fail to start.
pub fn try_run_plan(plan: Plan) -> Result<Outcome, volley::Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(run(plan, &RunOptions::default()));
    rt.shutdown_background();
    out
}

pub fn counter(out: &Outcome, name: &str) -> f64 {
    out.report.aggregate.counter(name)
}

/// Each series of `metric` in a summary export (`--summary-export`) by
/// its tag `tag`: (the tag's value, its samples: a rate's total, a
/// counter's sum), sorted by the tag's value.
pub fn export_series(doc: &serde_json::Value, metric: &str, tag: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = doc["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["metric"] == metric)
        .filter_map(|e| {
            let value = e["tags"][tag].as_str()?.to_string();
            let n = e["total"].as_f64().or(e["sum"].as_f64()).unwrap_or(0.0);
            Some((value, n))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Sum of a counter over samples whose tag `key` equals `value`.
pub fn counter_where(out: &Outcome, name: &str, key: &str, value: &str) -> f64 {
    match out.report.aggregate.by_tag(name, key).get(value) {
        Some(volley::metrics::Value::Counter { sum }) => *sum,
        _ => 0.0,
    }
}

pub fn rate_counts(out: &Outcome, name: &str) -> (u64, u64) {
    match out.report.aggregate.metrics.get(name).map(|s| s.total()) {
        Some(volley::metrics::Value::Rate { trues, total }) => (trues, total),
        _ => (0, 0),
    }
}

pub fn trend_count(out: &Outcome, name: &str) -> u64 {
    match out.report.aggregate.metrics.get(name).map(|s| s.total()) {
        Some(volley::metrics::Value::Trend(t)) => t.count,
        _ => 0,
    }
}

/// The auction example scenario.
pub fn auction() -> PathBuf {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    build_once(&CELL, repo().join("scripts/auction"))
}

pub fn rate_where(out: &Outcome, name: &str, key: &str, value: &str) -> (u64, u64) {
    match out.report.aggregate.by_tag(name, key).get(value) {
        Some(volley::metrics::Value::Rate { trues, total }) => (*trues, *total),
        _ => (0, 0),
    }
}

/// The kafka-roundtrip example scenario.
pub fn kafka_roundtrip() -> PathBuf {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    build_once(&CELL, repo().join("scripts/kafka-roundtrip"))
}

/// The kafka-burst example scenario.
pub fn kafka_burst() -> PathBuf {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    build_once(&CELL, repo().join("scripts/kafka-burst"))
}

/// Runs the volley binary with `args` (no stdin, no colour): its exit
/// code, stdout and stderr.
pub fn volley(args: &[&str]) -> (i32, String, String) {
    volley_with(args, &[])
}

/// Starts the volley binary with `args` in the background (no stdin, no
/// colour, stdout and stderr piped), for tests that talk to a running test.
pub fn spawn_volley(args: &[&str]) -> std::process::Child {
    use std::process::{Command, Stdio};
    Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("volley starts")
}

/// Kills a child process of a test when the test ends, however it ends.
pub struct Reap(pub std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first line of `child`'s stderr containing `marker`, within 60 s; the
/// rest of stderr is collected into the returned receiver's lines.
pub fn stderr_line(
    child: &mut std::process::Child,
    marker: &'static str,
) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    let err = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(line) if line.contains(marker) => return (line, rx),
            Ok(line) => seen.push(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    panic!("no `{marker}` on stderr:\n{}", seen.join("\n"));
}

/// [`volley`] with extra environment variables.
pub fn volley_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_volley"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("volley runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh, empty folder for one test of `area`, in the temp dir, removed
/// when the test ends (failed or not). Declared before what writes to it
/// (a server, a browser), it outlives them: locals drop in reverse order.
pub fn scratch(area: &str, name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("volley-{area}-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// See [`scratch`].
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// A server started by `start` on a one-worker runtime of its own: a
/// separate service, as volley (or k6, or Locust) in another process sees it.
fn on_own_runtime<S, E: std::fmt::Debug>(
    start: impl Future<Output = Result<S, E>>,
) -> (tokio::runtime::Runtime, S) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(start).unwrap();
    (rt, server)
}

/// The embedded auction target (bids over HTTP, WebSocket fan-out) on a
/// runtime of its own.
pub fn standalone_auction() -> (
    tokio::runtime::Runtime,
    volley::embedded::auction::AuctionServer,
) {
    on_own_runtime(volley::embedded::auction::start(
        "127.0.0.1:0".parse().unwrap(),
    ))
}

/// The embedded HTTP target on a runtime of its own.
pub fn standalone_http() -> (
    tokio::runtime::Runtime,
    volley::embedded::http::EmbeddedServer,
) {
    on_own_runtime(volley::embedded::http::start(
        "127.0.0.1:0".parse().unwrap(),
        Default::default(),
    ))
}
