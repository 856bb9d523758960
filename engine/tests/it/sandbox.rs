//! The sandbox: what a scenario must not reach, tried by scenarios written
//! to misbehave, through the binary.

use crate::support::*;
use std::net::TcpListener;
use std::process::{Command, Stdio};

/// A JavaScript scenario tries each dangerous Kafka property against the
/// embedded Kafka target: every one is refused with a message naming it, no
/// command runs, no connection reaches a broker off the allowlist, and
/// client tuning still works.
#[test]
fn a_scenario_cannot_pass_dangerous_kafka_properties() {
    let dir = scratch("sandbox", "kafka-props");
    let marker = dir.join("kinit-ran");
    // A "broker" off the allowlist: it must never see a connection.
    let outside = TcpListener::bind("127.0.0.3:0").expect("127.0.0.3 is loopback");
    outside.set_nonblocking(true).unwrap();
    let outside_addr = outside.local_addr().unwrap().to_string();
    std::fs::write(
        dir.join("scenario.js"),
        r#"import { kafka, vu, check, log } from 'volley';

export default function () {
  const ATTEMPTS = {
    kinit: [['sasl.kerberos.kinit.cmd', `touch ${vu.param('marker')}`],
            ['security.protocol', 'SASL_PLAINTEXT'], ['sasl.mechanisms', 'GSSAPI']],
    saslonly: [['security.protocol', 'SASL_PLAINTEXT']],
    bootstrap: [['bootstrap.servers', vu.param('outside')]],
    brokerlist: [['metadata.broker.list', vu.param('outside')]],
    sslkey: [['ssl.key.location', '/etc/shadow']],
    plugin: [['plugin.library.paths', '/tmp/evil.so']],
    unknown: [['no.such.property', '1']],
    queue: [['queue.buffering.max.kbytes', '2147483647']],
  };
  const bootstrap = vu.param('kafka');
  for (const name in ATTEMPTS) {
    let message = '';
    try {
      kafka.Producer.open({ bootstrap, properties: ATTEMPTS[name] });
    } catch (e) {
      message = JSON.stringify(e && e.payload !== undefined ? e.payload : String(e));
    }
    log.info(`${name}: ${message}`);
    check(message, { [`${name} refused`]: (m) => m.includes('not-allowed') });
  }
  let tuned = false;
  try {
    tuned = !!kafka.Producer.open({ bootstrap, properties: [['acks', '1'], ['linger.ms', '1'], ['queue.buffering.max.kbytes', '65536']] });
  } catch (e) {
    log.error(`tuning refused: ${JSON.stringify(e && e.payload)}`);
  }
  check(tuned, { 'tuning allowed': (t) => t });
}
"#,
    )
    .unwrap();
    let export = dir.join("summary.json");
    let script = dir.join("scenario.js");
    let (marker_arg, outside_arg) = (
        format!("marker={}", marker.display()),
        format!("outside={outside_addr}"),
    );
    let (_, _, stderr) = volley(&[
        "run",
        script.to_str().unwrap(),
        "--target",
        "kafka=embedded:kafka",
        "-i",
        "1",
        "--quiet",
        "-e",
        &marker_arg,
        "-e",
        &outside_arg,
        "--summary-export",
        export.to_str().unwrap(),
        "--log-level",
        "info",
    ]);
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&export).unwrap_or_else(|e| panic!("no export ({e}):\n{stderr}")),
    )
    .unwrap();
    let checks = &doc["root_group"]["checks"];
    for name in [
        "kinit refused",
        "saslonly refused",
        "bootstrap refused",
        "brokerlist refused",
        "sslkey refused",
        "plugin refused",
        "unknown refused",
        "queue refused",
        "tuning allowed",
    ] {
        assert_eq!(
            checks[name]["fails"].as_u64(),
            Some(0),
            "check `{name}`: {}\n{stderr}",
            checks[name]
        );
        assert_eq!(checks[name]["passes"].as_u64(), Some(1), "{name}\n{stderr}");
    }
    // The refusals name the property and where it belongs.
    assert!(stderr.contains("`sasl.kerberos.kinit.cmd`"), "{stderr}");
    assert!(stderr.contains("plan's Kafka target"), "{stderr}");
    // Nothing ran, nothing connected.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        !marker.exists(),
        "librdkafka ran the scenario's kinit command"
    );
    assert!(
        outside.accept().is_err(),
        "a broker off the allowlist saw a connection"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `source` as a JavaScript scenario with `args`, sampling volley's
/// resident memory; returns (exit code, stderr, export, peak RSS in KiB).
fn run_js_sampled(
    name: &str,
    source: &str,
    args: &[&str],
) -> (i32, String, serde_json::Value, u64) {
    let dir = scratch("sandbox", name);
    let script = dir.join("scenario.js");
    std::fs::write(&script, source).unwrap();
    let export = dir.join("summary.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .arg("run")
        .arg(&script)
        .args([
            "--quiet",
            "--no-color",
            "--summary-export",
            export.to_str().unwrap(),
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    // Bounded: the runs below last a few seconds; 5 minutes is a hang.
    for _ in 0..3000 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if let Some(kb) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        }) {
            peak = peak.max(kb);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A hung run is killed, and fails below on its status.
    child.kill().ok();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let size = std::fs::metadata(&export).map(|m| m.len()).unwrap_or(0);
    assert!(size < 5_000_000, "export is {size} bytes");
    let doc = serde_json::from_str(&std::fs::read_to_string(&export).unwrap_or_default())
        .unwrap_or_else(|e| panic!("no export ({e}):\n{stderr}"));
    std::fs::remove_dir_all(&dir).ok();
    (out.status.code().unwrap_or(-1), stderr, doc, peak)
}

/// The export's checks: `passes` passed, none failed.
fn checks_all_pass(doc: &serde_json::Value, passes: u32) {
    let checks = &doc["metrics"]["checks"]["values"];
    assert_eq!(checks["passes"].as_f64(), Some(passes.into()), "{doc}");
    assert_eq!(checks["fails"].as_f64(), Some(0.0), "{doc}");
}

/// A scenario that opens sockets and never drops them held a connection,
/// a task and buffers each, up to the process's open-file limit, which
/// every VU's connections share: now a VU holds at most 1,024 (open or
/// closed, until dropped), the next `connect` is refused by name and sends
/// nothing, and dropping one makes room again.
#[test]
fn a_socket_flood_is_bounded_per_vu() {
    let (code, stderr, doc, _) = run_js_sampled(
        "sockets",
        r#"import { ws, vu, check } from 'volley';

const why = (e) => { const p = e && e.payload !== undefined ? e.payload : e; return `${p && p.class}: ${p && p.message}`; };
export default function () {
  const api = vu.param('api');
  const url = `${api.replace('http://', 'ws://')}/ws/items/1`;
  const opts = { headers: '', subprotocols: [], timeoutMs: 5000, tags: [] };
  const held = [];
  let refused = '';
  for (let i = 0; i < 1100 && !refused; i++) {
    try { held.push(ws.Socket.connect(url, opts)); } catch (e) { refused = why(e); }
  }
  check(held.length, { 'a VU holds 1,024 sockets': (n) => n === 1024 });
  check(refused, { 'the next is refused by name': (r) => r.startsWith('invalid-request: connect: this VU holds 1024 sockets') });
  held[0].close(1000, 'done');
  try { ws.Socket.connect(url, opts); refused = ''; } catch (e) { refused = why(e); }
  check(refused, { 'a closed socket still counts until dropped': (r) => r.startsWith('invalid-request') });
  held.shift().drop();
  held.push(ws.Socket.connect(url, opts));
  check(held.length, { 'a dropped socket makes room': (n) => n === 1024 });
}
"#,
        &["--target", "api=embedded:auction", "-i", "1"],
    );
    assert_eq!(code, 0, "{stderr}");
    checks_all_pass(&doc, 4);
    let values = |m: &str| doc["metrics"][m]["values"].clone();
    // Every socket made was opened: 1,024, then one more after the drop.
    assert_eq!(
        values("ws_sessions")["count"].as_f64(),
        Some(1025.0),
        "{doc}"
    );
    let failed = values("iterations_failed")["count"].as_f64().unwrap_or(0.0);
    assert_eq!(failed, 0.0, "{doc}");
    // The two refused: after 1,024, and while a closed one was kept.
    let refused: Vec<_> = doc["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"] == "ws_errors")
        .map(|s| (s["tags"]["class"].clone(), s["sum"].as_f64()))
        .collect();
    assert_eq!(refused, [("invalid_request".into(), Some(2.0))], "{doc}");
}

/// Each Kafka configuration a scenario opens a producer with is a librdkafka
/// client (threads, connections) kept for the run: a scenario that opened
/// one per call with a new `client.id` made them without end. Now a run
/// makes at most 64, the next is refused by name, and one it has is still
/// handed out.
#[test]
fn a_producer_flood_is_bounded_per_run() {
    let (code, stderr, doc, _) = run_js_sampled(
        "producers",
        r#"import { kafka, vu, check } from 'volley';

const why = (e) => { const p = e && e.payload !== undefined ? e.payload : e; return `${p && p.class}: ${p && p.message}`; };
export default function () {
  const bootstrap = vu.param('kafka');
  let producers = 0, refused = '';
  for (let i = 0; i < 100 && !refused; i++) {
    try { kafka.Producer.open({ bootstrap, properties: [['client.id', `flood-${i}`]] }); producers++; } catch (e) { refused = why(e); }
  }
  check(producers, { 'a run makes 64 producers': (n) => n === 64 });
  check(refused, { 'the next is refused by name': (r) => r.startsWith('config: this run has 64 Kafka producers') });
  let again = '';
  try { again = String(!!kafka.Producer.open({ bootstrap, properties: [['client.id', 'flood-0']] })); } catch (e) { again = why(e); }
  check(again, { 'a configuration it has is reused': (a) => a === 'true' });
}
"#,
        &["--target", "kafka=embedded:kafka", "-i", "1"],
    );
    assert_eq!(code, 0, "{stderr}");
    checks_all_pass(&doc, 3);
}

/// A scenario that subscribed a consumer per call and never dropped them
/// made librdkafka clients (threads, connections, group members) without
/// end: now a VU holds at most 64, the next is refused by name, and
/// dropping one makes room. Closing a consumer used to run on a runtime
/// worker and could wait forever inside librdkafka (about 1 run in 3 with
/// 64 in a row here, and the run never ended); it now closes on a thread
/// of its own, so the three iterations below, 192 closes, all end.
#[test]
fn a_consumer_flood_is_bounded_per_vu() {
    let (code, stderr, doc, _) = run_js_sampled(
        "consumers",
        r#"import { kafka, vu, check } from 'volley';

const why = (e) => { const p = e && e.payload !== undefined ? e.payload : e; return `${p && p.class}: ${p && p.message}`; };
export default function () {
  const config = { bootstrap: vu.param('kafka'), properties: [] };
  const held = [];
  let refused = '';
  for (let i = 0; i < 100 && !refused; i++) {
    try { held.push(kafka.Consumer.subscribe(config, `flood-${vu.iteration}-${i}`, ['orders.raw'])); } catch (e) { refused = why(e); }
  }
  check(held.length, { 'a VU holds 64 consumers': (n) => n === 64 });
  check(refused, { 'the next is refused by name': (r) => r.startsWith('config: subscribe: this VU holds 64 Kafka consumers') });
  held.pop().drop();
  let again = '';
  try { held.push(kafka.Consumer.assign(config, 'orders.raw', [0], { tag: 'earliest' })); again = 'made'; } catch (e) { again = why(e); }
  check(again, { 'a dropped consumer makes room': (a) => a === 'made' });
  for (const c of held) c.drop();
}
"#,
        &["--target", "kafka=embedded:kafka", "-i", "3"],
    );
    assert_eq!(code, 0, "{stderr}");
    checks_all_pass(&doc, 9);
}

/// A counter tagged with a new value every iteration grew volley to
/// 4.7 GiB in 10 s: now its tag sets stop at the bound, every sample still
/// counts, one warning names the metric, and memory and the export stay
/// small.
#[test]
fn a_cardinality_flood_is_bounded() {
    let (code, stderr, doc, peak_kb) = run_js_sampled(
        "cardinality",
        r#"import { Counter, vu } from 'volley';
const flood = new Counter('flood');
export default function () {
  for (let i = 0; i < 100; i++) flood.add(1, { id: `${vu.id}-${vu.iteration}-${i}` });
}
"#,
        &["-u", "4", "-d", "5s"],
    );
    assert_eq!(code, 0, "{stderr}");
    let iterations = doc["metrics"]["iterations"]["values"]["count"]
        .as_f64()
        .unwrap();
    let flood = doc["metrics"]["flood"]["values"]["count"].as_f64().unwrap();
    assert_eq!(flood, 100.0 * iterations, "every sample counts");
    assert!(flood > 20_000.0, "the flood did not flood: {flood}");
    let series = doc["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"] == "flood")
        .count();
    assert!(series <= 10_001, "{series} tag sets kept");
    assert!(
        doc["series"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["metric"] == "flood" && s["tags"]["overflow"] == "true")
    );
    assert_eq!(
        stderr
            .matches("metric `flood` has more than 10000 tag sets")
            .count(),
        1,
        "{stderr}"
    );
    assert!(peak_kb < 300 * 1024, "peak RSS {peak_kb} KiB");
}

/// Marks that never arrive grew volley to 1 GiB in 10 s: now they expire,
/// count as lost, and stay bounded; 1 MiB log lines are cut.
#[test]
fn a_mark_and_log_flood_is_bounded() {
    let (code, stderr, doc, peak_kb) = run_js_sampled(
        "marks",
        r#"import { mark, log, vu } from 'volley';
export default function () {
  for (let i = 0; i < 100; i++) mark('never_latency', `${vu.id}-${vu.iteration}-${i}`);
  if (vu.iteration === 0) log.info('\u001b[2J' + 'x'.repeat(1 << 20));
}
"#,
        &["-u", "4", "-d", "5s"],
    );
    assert_eq!(code, 0, "{stderr}");
    let iterations = doc["metrics"]["iterations"]["values"]["count"]
        .as_f64()
        .unwrap();
    let lost = doc["metrics"]["never_lost"]["values"]["count"]
        .as_f64()
        .unwrap();
    assert_eq!(lost, 100.0 * iterations, "every mark ends up lost");
    assert!(
        !stderr.contains('\u{1b}'),
        "an escape sequence reached the terminal"
    );
    assert!(
        stderr.contains("\\u{1b}[2J"),
        "{}",
        &stderr[..stderr.len().min(2000)]
    );
    assert!(stderr.contains("more bytes)"));
    assert!(stderr.len() < 200_000, "stderr is {} bytes", stderr.len());
    assert!(peak_kb < 300 * 1024, "peak RSS {peak_kb} KiB");
}
