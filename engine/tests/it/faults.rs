//! Fault injection and fault windows, through the binary: the embedded
//! HTTP (or WebSocket auction) target is stopped (or slowed) mid-run at a
//! constant arrival rate, and the window the run reports is compared with
//! the fault it injected, both read from the same run's export (its own
//! clock, no wall clock).

use crate::support::*;
use std::path::Path;

const GET_HEALTH: &str = r#"import { http, vu } from 'volley';
export default function () {
  http.get(`${vu.param('api')}/health`);
}
"#;

/// Each iteration opens a WebSocket to the auction target, pings, closes:
/// nothing but WebSocket calls reach the target's timeline.
const WS_PING: &str = r#"import { ws, vu } from 'volley';
export default function () {
  const url = `${vu.param('api').replace('http://', 'ws://')}/ws/items/1`;
  const s = ws.Socket.connect(url, { headers: '', subprotocols: [], timeoutMs: 2000, tags: [] });
  s.ping(2000);
  s.close(1000, 'done');
}
"#;

/// A constant arrival rate against the embedded HTTP target for 13 s,
/// with the plan's `[[fault]]` entries and thresholds appended.
fn scenario(dir: &Path, rest: &str) -> std::path::PathBuf {
    scenario_on(dir, GET_HEALTH, "embedded:http", rest)
}

fn scenario_on(dir: &Path, source: &str, target: &str, rest: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("plans")).unwrap();
    let script = dir.join("scenario.js");
    std::fs::write(&script, source).unwrap();
    std::fs::write(
        dir.join("plans/default.toml"),
        format!(
            r#"[targets]
api = "{target}"

[scenarios.load]
executor = "constant-arrival-rate"
rate = 40
timeUnit = "1s"
duration = "13s"
preAllocatedVUs = 10
maxVUs = 60
gracefulStop = "2s"

{rest}"#
        ),
    )
    .unwrap();
    script
}

fn run(dir: &Path, script: &Path) -> (i32, String, serde_json::Value) {
    let export = dir.join("export.json");
    let (code, out, err) = volley(&[
        "run",
        script.to_str().unwrap(),
        "--summary-export",
        export.to_str().unwrap(),
    ]);
    let doc = serde_json::from_str(&std::fs::read_to_string(&export).unwrap_or_default())
        .unwrap_or_else(|e| panic!("no export ({e}): {err}"));
    (code, format!("{out}\n{err}"), doc)
}

/// The window matched with injected fault `n`, and the fault.
fn window_of(doc: &serde_json::Value, n: u64) -> (serde_json::Value, serde_json::Value) {
    let f = &doc["faults"];
    let event = f["injected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fault"] == n)
        .unwrap_or_else(|| panic!("fault #{n} was not injected: {f:#}"))
        .clone();
    let windows: Vec<&serde_json::Value> = f["windows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["injected"] == n)
        .collect();
    assert_eq!(
        windows.len(),
        1,
        "one window for fault #{n}: {:#}",
        f["windows"]
    );
    (windows[0].clone(), event)
}

fn secs(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn a_stopped_target_is_one_window_matching_the_injected_fault_and_commands_run_with_undo() {
    let dir = scratch("faults", "stop");
    let marker = dir.join("marker");
    let undone = dir.join("undone");
    let script = scenario(
        &dir,
        &format!(
            r#"[[fault]]
target = "api"
at = "6s"
for = "3s"
action = "stop"

[[fault]]
at = "1s"
for = "1s"
command = ["touch", "{m}"]
undo = ["mv", "{m}", "{u}"]

[thresholds]
recovery_time = ["max<5s"]
fault_duration = ["max<6s"]
"#,
            m = marker.display(),
            u = undone.display()
        ),
    );
    let (code, text, doc) = run(&dir, &script);
    let (w, e) = window_of(&doc, 1);
    let (at, ended) = (secs(&e["at"]), secs(&e["ended"]));
    let (start, end) = (secs(&w["start"]), secs(&w["end"]));
    // The same run's clock: within one interval of what was injected.
    assert!((start - at).abs() <= 1.0, "start {start} vs injected {at}");
    assert!((end - ended).abs() <= 1.0, "end {end} vs undone {ended}");
    assert_eq!(w["recovered"], true, "{w}");
    let recovery = secs(&w["recovery_time"]);
    eprintln!(
        "stop: injected {at:.3}..{ended:.3} s, window {start:.3}..{end:.3} s, recovery {recovery:.3} s"
    );
    assert!((0.0..=1.0).contains(&recovery), "{w}");
    assert!(
        w["causes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "refused"),
        "{w}"
    );
    // Thresholds read the window; the summary lists it.
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("FAULTS") && text.contains("injected #1 stop on api"),
        "{text}"
    );
    // The command ran, then its undo (mv fails without the file).
    let cmd = doc["faults"]["injected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fault"] == 2)
        .expect("the command fault was injected");
    assert!(
        cmd.get("error").is_none() && cmd.get("undo_error").is_none(),
        "{cmd}"
    );
    assert!(!marker.exists() && undone.exists());
    // The target's timeline is in the export: the faulty seconds failed.
    let seconds = doc["faults"]["timeline"]["api"].as_array().unwrap();
    let failed_during: u64 = seconds
        .iter()
        .filter(|s| secs(&s["from"]) >= at && secs(&s["to"]) <= ended + 0.5)
        .map(|s| {
            s["errors"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .sum::<u64>()
        })
        .sum();
    assert!(failed_during > 0, "{seconds:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_delay_fault_is_a_latency_window() {
    let dir = scratch("faults", "delay");
    let script = scenario(
        &dir,
        r#"[[fault]]
target = "api"
at = "6s"
for = "3s"
delay = "300ms"
"#,
    );
    let (_, text, doc) = run(&dir, &script);
    let (w, e) = window_of(&doc, 1);
    let (at, ended) = (secs(&e["at"]), secs(&e["ended"]));
    let (start, end) = (secs(&w["start"]), secs(&w["end"]));
    assert!((start - at).abs() <= 1.0, "start {start} vs injected {at}");
    eprintln!("delay: injected {at:.3}..{ended:.3} s, window {start:.3}..{end:.3} s");
    // Requests sent just before the delay ended still took 300 ms: they
    // finish in the next second, which is then slow too.
    assert!(
        end >= ended - 1.0 && end <= ended + 1.3,
        "end {end} vs undone {ended}"
    );
    assert!(
        w["causes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "latency"),
        "{w}"
    );
    assert!(secs(&w["peak_p95_ms"]) >= 250.0, "{w}");
    assert!(text.contains("injected #1 delay 300ms on api"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_stopped_websocket_target_is_one_window_with_its_recovery_time() {
    let dir = scratch("faults", "ws-stop");
    let script = scenario_on(
        &dir,
        WS_PING,
        "embedded:auction",
        r#"[[fault]]
target = "api"
at = "6s"
for = "3s"
action = "stop"

[thresholds]
recovery_time = ["max<5s"]
"#,
    );
    let (code, text, doc) = run(&dir, &script);
    let (w, e) = window_of(&doc, 1);
    let (at, ended) = (secs(&e["at"]), secs(&e["ended"]));
    let (start, end) = (secs(&w["start"]), secs(&w["end"]));
    let recovery = secs(&w["recovery_time"]);
    eprintln!(
        "ws stop: injected {at:.3}..{ended:.3} s, window {start:.3}..{end:.3} s, recovery {recovery:.3} s"
    );
    assert!((start - at).abs() <= 1.0, "start {start} vs injected {at}");
    assert!((end - ended).abs() <= 1.0, "end {end} vs undone {ended}");
    assert_eq!(w["recovered"], true, "{w}");
    assert!((0.0..=1.0).contains(&recovery), "{w}");
    assert!(
        w["causes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "refused"),
        "{w}"
    );
    // Before and after the fault the same calls succeeded: the timeline
    // saw WebSocket traffic, not only the failures.
    let seconds = doc["faults"]["timeline"]["api"].as_array().unwrap();
    let healthy = seconds
        .iter()
        .filter(|s| s["requests"].as_u64() > Some(0) && s["errors"] == serde_json::json!({}))
        .count();
    assert!(healthy >= 5, "{seconds:?}");
    assert_eq!(code, 0, "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_abort_on_fail_threshold_on_fault_duration_stops_the_run_as_the_window_closes() {
    let dir = scratch("faults", "abort");
    let script = scenario(
        &dir,
        r#"[[fault]]
target = "api"
at = "3s"
for = "2s"
action = "stop"

[thresholds]
"fault_duration{target:api}" = [{ threshold = "max<1s", abortOnFail = true }]
"#,
    );
    let (code, text, doc) = run(&dir, &script);
    assert_eq!(code, 99, "{text}");
    let aborted = doc["state"]["aborted"].as_str().unwrap_or_default();
    assert!(aborted.contains("fault_duration"), "{aborted}\n{text}");
    let (w, _) = window_of(&doc, 1);
    let end = secs(&w["end"]);
    // Stopped one tick after the window closed, long before the 13 s.
    let ran = secs(&doc["state"]["testRunDurationMs"]) / 1000.0;
    eprintln!("abort: window closed at {end:.3} s, run stopped at {ran:.3} s");
    assert!(ran < 12.0 && ran >= end, "window end {end}, run {ran}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_fault_entry_is_refused_by_name() {
    let dir = scratch("faults", "bad");
    let script = scenario(
        &dir,
        "[[fault]]\ntarget = \"api\"\nat = \"1s\"\naction = \"stop\"\n",
    );
    let (code, _, err) = volley(&["run", script.to_str().unwrap()]);
    assert_eq!(code, 104, "{err}");
    assert!(err.contains("[[fault]] #1.for"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A Kafka broker that stops answering is a fault window of its target:
/// the broker (`volley targets --kafka`, a process of its own) is paused
/// with SIGSTOP for 3 s by a `[[fault]]` command while the scenario
/// produces at a constant rate; acks stop (the seconds stall), then arrive
/// after SIGCONT.
#[test]
fn a_paused_kafka_broker_is_one_window_with_its_recovery_time() {
    let mut broker = Reap(spawn_volley(&[
        "targets",
        "--kafka",
        "--http",
        "127.0.0.1:0",
        "--auction",
        "127.0.0.1:0",
    ]));
    // Its stdout is read to the end (a closed pipe would fail its prints).
    let out = broker.0.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufRead::lines(std::io::BufReader::new(out)).map_while(Result::ok) {
            if l.starts_with("kafka target:") {
                let _ = tx.send(l);
            }
        }
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the broker says its bootstrap list");
    let bootstrap = line.split_whitespace().nth(2).unwrap().to_string();
    let pid = broker.0.id().to_string();
    let p = plan(
        &format!(
            r#"
            [targets]
            kafka = "kafka://{bootstrap}"

            [scenarios.load]
            executor = "constant-arrival-rate"
            exec = "raw"
            rate = 40
            timeUnit = "1s"
            duration = "13s"
            preAllocatedVUs = 10
            maxVUs = 60
            gracefulStop = "5s"

            [[fault]]
            at = "6s"
            for = "3s"
            command = ["kill", "-STOP", "{pid}"]
            undo = ["kill", "-CONT", "{pid}"]
            "#
        ),
        &kafka_roundtrip(),
    );
    let out = run_plan(p);
    let faults = out.report.faults.as_ref().expect("a fault report");
    let event = &faults.injected[0];
    assert!(event.error.is_none(), "{event:?}");
    let (at, ended) = (event.at, event.ended.expect("the fault was undone"));
    let windows: Vec<_> = faults
        .windows
        .iter()
        .filter(|w| w.target == "kafka")
        .collect();
    assert_eq!(windows.len(), 1, "{:#?}", faults.windows);
    let w = windows[0];
    let end = w.end.expect("the broker recovered");
    eprintln!(
        "kafka pause: injected {at:.3}..{ended:.3} s, window {:.3}..{end:.3} s, causes {:?}, recovery {:.3} s",
        w.start, w.causes, w.recovery_time
    );
    assert!((w.start - at).abs() <= 1.0, "{w:?} vs injected at {at}");
    // The acks held during the pause arrive in the second after it, with
    // the pause's latency: that second may still be faulty.
    assert!(
        end >= ended - 1.0 && end <= ended + 2.0,
        "{w:?} vs undone {ended}"
    );
    assert!(w.causes.iter().any(|c| c == "stalled"), "{w:?}");
    assert!(w.recovered && w.recovery_time <= 2.0, "{w:?}");
    // Nothing was lost: every produced message was acked.
    assert_eq!(
        counter(&out, "kafka_produced"),
        trend_count(&out, "kafka_produce_ack") as f64
    );
}
