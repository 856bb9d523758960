//! Stopping a run from outside: SIGTERM behaves as Ctrl-C, a second signal
//! interrupts at once (setup too), and SIGKILL loses at most the last
//! second of results. Through the binary, against the embedded target.

use crate::support::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GET_HEALTH: &str = r#"import { http, check, vu } from 'volley';
export default function () {
  const r = http.get(`${vu.param('api')}/health`);
  check(r, { 'status is 200': (r) => r.status === 200 });
}
"#;

const LOOPING_SETUP: &str = r#"export function setup() { for (;;) {} }
export default function () {}
"#;

/// Builds `source` as `dir/scenario.js` (so the run itself does not spend
/// its time building) and starts `volley run` on it.
fn start(dir: &Path, source: &str, args: &[&str]) -> Child {
    let script = dir.join("scenario.js");
    std::fs::write(&script, source).unwrap();
    let bin = env!("CARGO_BIN_EXE_volley");
    let built = Command::new(bin)
        .args(["build", script.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    Command::new(bin)
        .arg("run")
        .arg(&script)
        .args(["--target", "api=embedded:http", "--no-color"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

/// Waits for `path` to hold an export with at least one iteration.
fn wait_for_iterations(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(n) =
            read(path).and_then(|d| d["metrics"]["iterations"]["values"]["count"].as_f64())
            && n > 0.0
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no iterations in {} within 60 s", path.display());
}

fn read(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

#[test]
fn sigterm_stops_gracefully_and_writes_the_summary_and_export() {
    let dir = scratch("signals", "term");
    let export = dir.join("summary.json");
    let child = start(
        &dir,
        GET_HEALTH,
        &[
            "-u",
            "4",
            "-d",
            "60s",
            "--summary-export",
            export.to_str().unwrap(),
        ],
    );
    // The export is checkpointed once a second while the run goes on.
    wait_for_iterations(&export);
    let checkpoint = read(&export).unwrap();
    assert_eq!(
        checkpoint["state"]["checkpoint"], true,
        "{}",
        checkpoint["state"]
    );
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(105), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted (SIGTERM)"), "{stderr}");
    assert!(stdout.contains("http_reqs"), "no summary:\n{stdout}");
    let doc = read(&export).expect("the final export");
    assert!(doc["state"].get("checkpoint").is_none(), "{}", doc["state"]);
    assert_eq!(doc["state"]["aborted"], "interrupted (SIGTERM)");
    let reqs = doc["metrics"]["http_reqs"]["values"]["count"]
        .as_f64()
        .unwrap();
    let checks = doc["root_group"]["checks"]["status is 200"]["passes"]
        .as_f64()
        .unwrap();
    assert!(
        reqs > 0.0 && checks == reqs,
        "{reqs} requests, {checks} checks passed"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sigkill_leaves_the_last_checkpoint() {
    let dir = scratch("signals", "kill");
    let export = dir.join("summary.json");
    let mut child = start(
        &dir,
        GET_HEALTH,
        &[
            "-u",
            "2",
            "-d",
            "60s",
            "--summary-export",
            export.to_str().unwrap(),
        ],
    );
    wait_for_iterations(&export);
    child.kill().unwrap();
    child.wait().unwrap();
    let doc = read(&export).expect("a whole checkpoint, never half a file");
    assert_eq!(doc["state"]["checkpoint"], true);
    let reqs = doc["metrics"]["http_reqs"]["values"]["count"]
        .as_f64()
        .unwrap();
    assert!(reqs > 0.0);
    // `volley merge` takes a checkpoint like any export.
    let merged = dir.join("merged.json");
    let e = export.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["merge", e, e, "-o", merged.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = read(&merged).unwrap();
    assert_eq!(
        merged["metrics"]["http_reqs"]["values"]["count"].as_f64(),
        Some(2.0 * reqs)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_second_signal_interrupts_a_looping_setup() {
    let dir = scratch("signals", "setup");
    let child = start(&dir, LOOPING_SETUP, &["-i", "1", "--quiet"]);
    std::thread::sleep(Duration::from_secs(2));
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(105), "{stderr}");
    assert!(stderr.contains("`setup` interrupted"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
