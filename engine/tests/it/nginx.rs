//! Runs against Debian's nginx on loopback: plain HTTP/1.1 on one port,
//! TLS with HTTP/2 on another, a self-signed certificate, and an access log
//! that names each request's connection so a test can count connections.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::receivers::free_port;
use crate::support::*;

pub struct Nginx {
    child: Child,
    pub port: u16,
    pub tls_port: u16,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One access-log line: the connection's serial number, the request's
/// number on it, the protocol and the status.
#[derive(Debug, PartialEq, Eq)]
pub struct Logged {
    pub connection: u64,
    pub protocol: String,
    pub status: u16,
}

impl Nginx {
    /// The access log once it has `expected` lines, or as it is after 5 s:
    /// nginx logs a request after it sent the response, so the run can end
    /// before the last line is written.
    pub fn log_of(&self, expected: usize) -> Vec<Logged> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if log.len() >= expected || Instant::now() >= deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every request nginx has logged so far.
    pub fn log(&self) -> Vec<Logged> {
        let text = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let f: Vec<&str> = line.split(' ').collect();
                Logged {
                    connection: f[0].parse().unwrap(),
                    protocol: f[1].to_string(),
                    status: f[2].parse().unwrap(),
                }
            })
            .collect()
    }

    /// How many connections carried the logged requests.
    pub fn connections(&self) -> usize {
        let mut ids: Vec<u64> = self.log().iter().map(|l| l.connection).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
}

/// DER bytes as a PEM block, the form nginx reads.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// nginx answering `200 hello` on every path, its files in `dir`; it
/// closes a connection after `keepalive_requests` requests.
pub fn nginx(dir: &Path, keepalive_requests: u32) -> Nginx {
    const BIN: &str = "/usr/sbin/nginx";
    assert!(
        Path::new(BIN).exists(),
        "{BIN} is missing: run ./setup.sh (it installs Debian's nginx)"
    );
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = pem("CERTIFICATE", ck.cert.der());
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    let key = pem("PRIVATE KEY", &ck.signing_key.serialize_der());
    std::fs::write(dir.join("key.pem"), key).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let (port, tls_port) = (free_port(), free_port());
    let d = dir.display();
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format conn '$connection $server_protocol $status';
    access_log {d}/access.log conn;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    keepalive_requests {keepalive_requests};
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{tls_port} ssl http2;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        location / {{ return 200 "hello\n"; }}
    }}
}}
"#
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(BIN)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("nginx starts: {e}"));
    let n = Nginx {
        child,
        port,
        tls_port,
        dir: dir.to_path_buf(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "nginx not listening: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
    n
}

/// Samples of a trend that are not zero.
fn nonzero(out: &volley::run::Outcome, name: &str) -> u64 {
    match out.report.aggregate.metrics.get(name).map(|s| s.total()) {
        Some(volley::metrics::Value::Trend(t)) => t.count - t.hist.count_at(0),
        _ => 0,
    }
}

#[test]
fn https_requests_report_connect_and_handshake_once_per_connection() {
    let dir = scratch("nginx", "https");
    let server = nginx(&dir, 1000);
    let url = format!("https://127.0.0.1:{}/", server.tls_port);
    let out = run_plan(gets_plan(&url, &url, 3, 20, "insecureSkipTLSVerify = true"));
    assert_eq!(rate_counts(&out, "checks"), (60, 60));
    let log = server.log_of(60);
    assert_eq!(log.len(), 60);
    assert!(
        log.iter()
            .all(|l| l.protocol == "HTTP/2.0" && l.status == 200),
        "{log:?}"
    );
    // One sample per request; only the request that opened a connection
    // paid for it, the others reused it.
    let connections = server.connections() as u64;
    for trend in ["http_req_connecting", "http_req_tls_handshaking"] {
        assert_eq!(trend_count(&out, trend), 60, "{trend}");
        assert_eq!(nonzero(&out, trend), connections, "{trend}");
    }
}

#[test]
fn each_vu_reconnects_when_nginx_closes_its_keep_alive_connection() {
    let dir = scratch("nginx", "keepalive");
    let server = nginx(&dir, 10);
    let url = format!("http://127.0.0.1:{}/", server.port);
    let out = run_plan(gets_plan(&url, &url, 3, 40, ""));
    assert_eq!(rate_counts(&out, "checks"), (120, 120));
    assert_eq!(rate_counts(&out, "http_req_failed"), (0, 120));
    let log = server.log_of(120);
    assert_eq!(log.len(), 120);
    assert!(log.iter().all(|l| l.protocol == "HTTP/1.1"), "{log:?}");
    // Each VU's own connection carries 10 requests, then nginx closes it
    // and the VU opens the next: 3 VUs x 40 / 10.
    assert_eq!(server.connections(), 12);
    assert_eq!(nonzero(&out, "http_req_connecting"), 12);
    assert_eq!(trend_count(&out, "http_req_tls_handshaking"), 0);
}
