//! The sandbox: what a scenario must not reach, tried by scenarios written
//! to misbehave, through the binary.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("volley-sandbox-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A JavaScript scenario tries each dangerous Kafka property against the
/// embedded Kafka target: every one is refused with a message naming it, no
/// command runs, no connection reaches a broker off the allowlist, and
/// client tuning still works.
#[test]
fn a_scenario_cannot_pass_dangerous_kafka_properties() {
    let dir = scratch("kafka-props");
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
    tuned = !!kafka.Producer.open({ bootstrap, properties: [['acks', '1'], ['linger.ms', '1']] });
  } catch (e) {
    log.error(`tuning refused: ${JSON.stringify(e && e.payload)}`);
  }
  check(tuned, { 'tuning allowed': (t) => t });
}
"#,
    )
    .unwrap();
    let export = dir.join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["run", dir.join("scenario.js").to_str().unwrap()])
        .args(["--target", "kafka=embedded:kafka", "-i", "1", "--quiet"])
        .args(["-e", &format!("marker={}", marker.display())])
        .args(["-e", &format!("outside={outside_addr}")])
        .args(["--summary-export", export.to_str().unwrap()])
        .args(["--log-level", "info"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("volley runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
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
