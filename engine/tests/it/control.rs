//! Live control of a running test over TCP with a token: `volley ps`,
//! `scale` and `stop` against the real binary, the load following a scale.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// A plan with a VU-looping and an arrival-rate scenario, both scalable.
fn scalable_plan(dir: &Path) -> std::path::PathBuf {
    let plan = dir.join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            r#"
            [options]
            component = "{}"
            [scenarios.looping]
            executor = "constant-vus"
            exec = "sleep"
            vus = 2
            maxVUs = 8
            duration = "60s"
            params = {{ sleep_ms = "50" }}
            [scenarios.paced]
            executor = "constant-arrival-rate"
            exec = "empty"
            rate = 20
            duration = "60s"
            preAllocatedVUs = 4
            maxVUs = 20
            "#,
            fixture().display()
        ),
    )
    .unwrap();
    plan
}

/// Starts `volley run plan --control 127.0.0.1:0`, waits for its TCP entry
/// (bounded: 60 s) and returns the child, its address and token.
fn start(plan: &Path, runs: &Path, export: &Path) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["run", plan.to_str().unwrap(), "--control", "127.0.0.1:0"])
        .args(["--summary-export", export.to_str().unwrap()])
        .args(["-q", "--no-color"])
        .env("VOLLEY_RUNS_DIR", runs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let entry = runs.join(format!("{}.tcp", child.id()));
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&entry)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        {
            let addr = v["addr"].as_str().unwrap().to_string();
            let token = v["token"].as_str().unwrap().to_string();
            return (child, addr, token);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no control entry at {}", entry.display());
}

/// One raw request line over TCP, its answer.
fn raw(addr: &str, line: &str) -> serde_json::Value {
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(conn).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap()
}

/// Iterations of `scenario` ended so far, from the export's checkpoint.
fn iterations(export: &Path, scenario: &str) -> f64 {
    let Ok(text) = std::fs::read_to_string(export) else {
        return 0.0;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return 0.0;
    };
    v["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["metric"] == "iterations" && s["tags"]["scenario"] == scenario)
        .map(|s| s["sum"].as_f64().unwrap_or(0.0))
        .sum()
}

/// Iterations of `scenario` over `window`, a second's checkpoint apart.
fn rate(export: &Path, scenario: &str, window: Duration) -> f64 {
    let (n0, t0) = (iterations(export, scenario), Instant::now());
    std::thread::sleep(window);
    (iterations(export, scenario) - n0) / t0.elapsed().as_secs_f64()
}

/// VUs in an iteration now, as `status` says (sampled a few times: the
/// paced scenario's iterations are short).
fn active(addr: &str, token: &str) -> u64 {
    let status = raw(addr, &format!(r#"{{"cmd":"status","token":"{token}"}}"#));
    assert_eq!(status["ok"], true, "{status}");
    status["status"]["active_vus"].as_u64().unwrap()
}

/// Polls until `f` holds (bounded: 20 s); false if it never does.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn a_run_is_controlled_over_tcp_with_its_token_only() {
    let dir = scratch("control", "tcp");
    let runs = dir.join("runs");
    let export = dir.join("out.json");
    let (child, addr, token) = start(&scalable_plan(&dir), &runs, &export);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(token.len(), 64);
    let no_local = dir.join("elsewhere");
    let elsewhere = [("VOLLEY_RUNS_DIR", no_local.to_str().unwrap())];

    // Without a token, or with a wrong one: refused, and the run goes on.
    let (code, _, err) = volley_with(&["ps", &addr], &elsewhere);
    assert_ne!(code, 0);
    assert!(err.contains("token"), "{err}");
    let (code, _, err) = volley_with(&["stop", &addr, "--token", &"0".repeat(64)], &elsewhere);
    assert_ne!(code, 0);
    assert!(err.contains("wrong or missing token"), "{err}");
    let a = raw(&addr, r#"{"cmd":"stop"}"#);
    assert_eq!(a["ok"], false, "{a}");
    let a = raw(
        &addr,
        &format!(r#"{{"cmd":"stop","token":"{}x"}}"#, &token[1..]),
    );
    assert_eq!(a["ok"], false, "{a}");

    // With it: ps over TCP; a local `volley ps` shows the address and a
    // command given only the address finds the token in the run's entry.
    let (code, out, err) = volley_with(&["ps", &addr, "--token", &token], &elsewhere);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("looping@") && out.contains("paced@") && out.contains(&addr),
        "{out}"
    );
    let local = [("VOLLEY_RUNS_DIR", runs.to_str().unwrap())];
    let (code, out, err) = volley_with(&["ps"], &local);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("control={addr}")), "{out}");

    // Scale over TCP, with bounds.
    let (code, out, err) = volley_with(
        &["scale", &addr, "looping", "--vus", "6", "--token", &token],
        &elsewhere,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("vus=6"), "{out}");
    let (code, _, err) = volley_with(&["scale", &addr, "looping", "--vus", "9"], &local);
    assert_ne!(code, 0);
    assert!(err.contains("at most 8") && err.contains("maxVUs"), "{err}");
    let (code, _, err) = volley_with(&["scale", &addr, "paced", "--vus", "3"], &local);
    assert_ne!(code, 0);
    assert!(err.contains("--rate"), "{err}");
    let (code, _, err) = volley_with(&["scale", &addr, "nope", "--rate", "3"], &local);
    assert_ne!(code, 0);
    assert!(err.contains("no scenario `nope`"), "{err}");

    // Stop over TCP: the run ends as stopped from outside.
    let (code, _, err) = volley_with(&["stop", &addr, "--token", &token], &elsewhere);
    assert_eq!(code, 0, "{err}");
    let done = child.wait_with_output().unwrap();
    assert_eq!(
        done.status.code(),
        Some(105),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    // The run removed its socket and its entry (with the token).
    let left: Vec<_> = std::fs::read_dir(&runs).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn scaling_under_load_moves_the_vus_and_the_rate() {
    let dir = scratch("control", "scale");
    let runs = dir.join("runs");
    let export = dir.join("out.json");
    let (child, addr, token) = start(&scalable_plan(&dir), &runs, &export);
    let local = [("VOLLEY_RUNS_DIR", runs.to_str().unwrap())];
    let scale = |args: &[&str]| {
        let mut all = vec!["scale", addr.as_str()];
        all.extend_from_slice(args);
        let (code, out, err) = volley_with(&all, &local);
        assert_eq!(code, 0, "{out}{err}");
    };
    // The export's checkpoints come once a second: wait for the first.
    assert!(eventually(|| iterations(&export, "paced") > 0.0));

    // VUs: 2 looping VUs (each nearly always in a 50 ms sleep), then 6, then 1.
    assert!(eventually(|| active(&addr, &token) >= 2));
    let before = rate(&export, "looping", Duration::from_secs(3));
    scale(&["looping", "--vus", "6"]);
    assert!(
        eventually(|| active(&addr, &token) >= 6),
        "VUs did not follow"
    );
    let after = rate(&export, "looping", Duration::from_secs(3));
    assert!(
        after > before * 2.0,
        "looping: {before:.1}/s then {after:.1}/s"
    );
    scale(&["looping", "--vus", "1"]);
    assert!(
        eventually(|| (0..5).map(|_| active(&addr, &token)).max().unwrap() <= 2),
        "VUs did not come down"
    );

    // Rate: 20/s, then 200/s.
    let before = rate(&export, "paced", Duration::from_secs(3));
    scale(&["paced", "--rate", "200"]);
    std::thread::sleep(Duration::from_secs(1));
    let after = rate(&export, "paced", Duration::from_secs(3));
    assert!(
        after > before * 4.0,
        "paced: {before:.1}/s then {after:.1}/s"
    );

    let (code, _, err) = volley_with(&["stop", &addr, "--token", &token], &[]);
    assert_eq!(code, 0, "{err}");
    let done = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&done.stdout);
    assert_eq!(done.status.code(), Some(105), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn scaling_an_executor_with_a_fixed_load_is_refused_with_the_reason() {
    let dir = scratch("control", "fixed");
    let runs = dir.join("runs");
    let export = dir.join("out.json");
    let plan = dir.join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            r#"
            [options]
            component = "{}"
            [scenarios.ramped]
            executor = "ramping-arrival-rate"
            exec = "empty"
            preAllocatedVUs = 2
            maxVUs = 4
            stages = [{{ target = 20, duration = "60s" }}]
            [scenarios.shared]
            executor = "shared-iterations"
            exec = "sleep"
            vus = 2
            iterations = 100000
            maxDuration = "60s"
            params = {{ sleep_ms = "50" }}
            [scenarios.each]
            executor = "per-vu-iterations"
            exec = "sleep"
            vus = 2
            iterations = 100000
            maxDuration = "60s"
            params = {{ sleep_ms = "50" }}
            "#,
            fixture().display()
        ),
    )
    .unwrap();
    let (child, addr, token) = start(&plan, &runs, &export);
    let local = [("VOLLEY_RUNS_DIR", runs.to_str().unwrap())];
    for (scenario, knob, why) in [
        ("ramped", "--rate", "its stages set the rate"),
        ("ramped", "--vus", "use constant-arrival-rate"),
        ("shared", "--vus", "share a fixed number of iterations"),
        ("shared", "--rate", "share a fixed number of iterations"),
        ("each", "--vus", "would change the total"),
    ] {
        let (code, _, err) = volley_with(&["scale", &addr, scenario, knob, "5"], &local);
        assert_ne!(code, 0, "{scenario} {knob}");
        assert!(
            err.contains(&format!("`{scenario}`")) && err.contains("cannot be scaled live"),
            "{err}"
        );
        assert!(err.contains(why), "{err}");
    }
    // Refusals leave the run going: it still answers and stops cleanly.
    assert!(active(&addr, &token) <= 8);
    let (code, _, err) = volley_with(&["stop", &addr, "--token", &token], &[]);
    assert_eq!(code, 0, "{err}");
    let done = child.wait_with_output().unwrap();
    assert_eq!(
        done.status.code(),
        Some(105),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_non_loopback_control_address_needs_a_token() {
    let (code, _, err) = volley(&[
        "run",
        fixture().to_str().unwrap(),
        "--exec",
        "empty",
        "-d",
        "1s",
        "--control",
        "0.0.0.0:0",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--control-token"), "{err}");
}
