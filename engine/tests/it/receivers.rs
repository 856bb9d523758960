//! Real metric receivers for the streamed-output tests: Debian's
//! `victoria-metrics` (InfluxDB line protocol on `/write`) and `prometheus`
//! (its remote-write receiver), each started on a free loopback port with
//! its storage in a scratch folder and stopped when dropped. Plus a
//! minimal HTTP/1.0 GET to read their query APIs back.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Receiver {
    child: Child,
    pub port: u16,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn need(bin: &str, package: &str) {
    assert!(
        Path::new(bin).exists(),
        "{bin} is missing: run ./setup.sh (it installs Debian's {package})"
    );
}

/// Starts `cmd`, then waits (bounded) until `ready` answers 200.
fn start(mut cmd: Command, port: u16, ready: &str, what: &str) -> Receiver {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} starts: {e}"));
    let r = Receiver { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, _)) = try_get(port, ready) {
            return r;
        }
        assert!(Instant::now() < deadline, "{what} not ready on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// VictoriaMetrics with its data in `dir`.
pub fn victoria_metrics(dir: &Path) -> Receiver {
    const BIN: &str = "/usr/bin/victoria-metrics";
    need(BIN, "victoria-metrics");
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.arg(format!("-storageDataPath={}", dir.join("vm").display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"));
    start(cmd, port, "/health", "victoria-metrics")
}

/// Prometheus with the remote-write receiver on, no scrape targets, its
/// TSDB in `dir`.
pub fn prometheus(dir: &Path) -> Receiver {
    prometheus_with(dir, &[])
}

/// [`prometheus`] with more flags (`--enable-feature=native-histograms`).
pub fn prometheus_with(dir: &Path, flags: &[&str]) -> Receiver {
    const BIN: &str = "/usr/bin/prometheus";
    need(BIN, "prometheus");
    let port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .args(flags);
    start(cmd, port, "/-/ready", "prometheus")
}

/// GET `path` on loopback `port`: the status and body, or None when the
/// connection fails.
pub fn try_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// [`try_get`] that must answer 200.
pub fn get(port: u16, path: &str) -> String {
    match try_get(port, path) {
        Some((200, body)) => body,
        other => panic!("GET {path} on {port}: {other:?}"),
    }
}

/// `s` with everything but unreserved characters percent-encoded.
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
