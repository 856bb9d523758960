//! `volley run --dashboard` end to end in headless Chromium (Debian's
//! `chromium`, installed by setup.sh), driven over the DevTools protocol
//! with a small WebSocket client: the page loads, its charts change from
//! one second to the next, its Scale control changes the VUs the run
//! reports, and its Stop button ends the run, whose summary and export are
//! then written.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

/// A DevTools connection to one page.
struct Cdp {
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    next: u64,
    session: Option<String>,
}

impl Cdp {
    async fn connect(url: &str) -> Cdp {
        let authority = url
            .strip_prefix("ws://")
            .and_then(|r| r.split('/').next())
            .unwrap();
        let tcp = tokio::net::TcpStream::connect(authority).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
        Cdp {
            ws,
            next: 0,
            session: None,
        }
    }

    /// Sends one command and waits for its answer (events are skipped).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let m = self.ws.next().await.expect("DevTools open").unwrap();
                if let Message::Text(t) = m {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["id"] == id {
                        return v;
                    }
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to {method}"));
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Opens `url` in a new tab and talks to that tab from now on.
    async fn open(&mut self, url: &str) {
        let target = self.call("Target.createTarget", json!({"url": url})).await;
        let attached = self
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        self.session = Some(attached["sessionId"].as_str().unwrap().to_string());
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "userGesture": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Waits until `js` is truthy in the page, up to `secs`.
    async fn until(&mut self, js: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.eval(js).await;
            if !v.is_null() && v != json!(false) && v != json!("") {
                return v;
            }
            assert!(Instant::now() < deadline, "never true: {js}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Headless Chromium in a process group of its own, killed whole when the
/// test ends: its helpers (renderer, crash handler) go with it, before the
/// profile folder they write to is removed.
struct Browser(Reap);

impl Drop for Browser {
    fn drop(&mut self) {
        // The group's id is the browser's process id; `Reap` then waits.
        let group = format!("-{}", self.0.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    }
}

fn chromium(profile: &Path) -> (Browser, String) {
    let bin = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .expect("chromium is installed (./setup.sh installs Debian's chromium)");
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.display()),
            "about:blank",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("chromium starts");
    let (line, _rest) = stderr_line(&mut child, "DevTools listening on ");
    let url = line.split("DevTools listening on ").nth(1).unwrap().trim();
    (Browser(Reap(child)), url.to_string())
}

#[test]
fn the_dashboard_updates_live_scales_and_its_stop_button_ends_the_run() {
    let dir = scratch("dashboard", "live");
    let export = dir.join("export.json");
    let ingest = http_ingest();
    let mut run = spawn_volley(&[
        "run",
        ingest.to_str().unwrap(),
        "--target",
        "api=embedded:http",
        "-u",
        "3",
        "-d",
        "120s",
        "--threshold",
        "http_req_duration:p(99)<5000",
        "--dashboard=127.0.0.1:0",
        "--summary-export",
        export.to_str().unwrap(),
        "--quiet",
    ]);
    let (line, _stderr) = stderr_line(&mut run, "dashboard at ");
    let page = line
        .split("dashboard at ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    assert!(page.starts_with("http://127.0.0.1:"), "{page}");
    let stdout = run.stdout.take().unwrap();
    let mut run = Reap(run);
    let (_browser, devtools) = chromium(&dir.join("profile"));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut cdp = Cdp::connect(&devtools).await;
        cdp.open(&page).await;
        cdp.until("document.getElementById('state').textContent === 'running'", 30)
            .await;
        // Two reads of the charts a couple of seconds apart differ: new
        // points arrived and were drawn.
        let chart = "[...document.querySelectorAll('#c-throughput path.line, #c-latency path.line')].map(p => p.getAttribute('d')).join('|')";
        let first = cdp
            .until(&format!("(({chart}).split('L').length > 2) && ({chart})"), 30)
            .await;
        let elapsed = cdp.eval("document.getElementById('elapsed').textContent").await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let second = cdp.eval(chart).await;
        assert_ne!(first, second, "the charts did not change");
        let later = cdp.eval("document.getElementById('elapsed').textContent").await;
        assert_ne!(elapsed, later);
        let rps: f64 = cdp
            .eval("document.getElementById('v-rps').textContent")
            .await
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(rps > 0.0, "requests/s shown: {rps}");
        // Thresholds and checks as the run has them.
        let thresholds = cdp
            .eval("document.getElementById('thresholds').innerText")
            .await;
        assert!(
            thresholds.as_str().unwrap().contains("p(99)<5000"),
            "{thresholds}"
        );
        cdp.until(
            "document.getElementById('checks').innerText.includes('status is 201')",
            10,
        )
        .await;

        // A screenshot of the live page (the README's picture).
        let shot = cdp
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64_decode(shot["data"].as_str().unwrap());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        std::fs::write(dir.join("dashboard.png"), &png).unwrap();
        if let Some(to) = std::env::var_os("VOLLEY_DASHBOARD_SCREENSHOT") {
            std::fs::write(to, &png).unwrap();
        }

        // Scale, as a person would: beyond maxVUs is refused with the
        // reason; down to 1 VU is done, and the VUs the run reports follow.
        cdp.until("document.getElementById('v-vus').textContent === '3'", 30)
            .await;
        let scale_to = |n: u32| {
            format!(
                "document.getElementById('scale-scenario').value = 'default'; document.getElementById('scale-value').value = '{n}'; document.getElementById('scale-result').textContent = ''; document.getElementById('scale').click()"
            )
        };
        let result = "document.getElementById('scale-result').textContent";
        cdp.eval(&scale_to(9)).await;
        let refused = cdp.until(result, 15).await;
        assert!(
            refused.as_str().unwrap().contains("at most 3"),
            "{refused}"
        );
        cdp.eval(&scale_to(1)).await;
        let done = cdp.until(result, 15).await;
        assert_eq!(done, "scaled default to 1 VUs");
        cdp.until("document.getElementById('v-vus').textContent === '1'", 30)
            .await;
        // Not a moment between iterations: the next seconds stay at 1.
        let t = cdp.eval("points[points.length - 1].t").await;
        cdp.until(&format!("points.filter((p) => p.t > {t}).length >= 2"), 15)
            .await;
        let after = cdp
            .eval(&format!("points.filter((p) => p.t > {t}).map((p) => p.vus)"))
            .await;
        assert!(
            after.as_array().unwrap().iter().all(|v| v.as_u64() <= Some(1)),
            "VUs after scaling to 1: {after}"
        );

        // Stop, as a person would: the run ends long before its 120 s.
        cdp.eval("document.getElementById('stop').click()").await;
        let state = cdp
            .until(
                "document.getElementById('state').textContent.startsWith('stopped') && document.getElementById('state').textContent",
                60,
            )
            .await;
        assert_eq!(state, "stopped: stopped from the dashboard");
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = run.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the run did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut { stdout }, &mut out).unwrap();
    // Stopped from outside: the same exit as `volley stop`.
    assert_eq!(status.code(), Some(105), "{out}");
    assert!(out.contains("http_reqs"), "no summary:\n{out}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert!(doc["state"].get("checkpoint").is_none(), "{}", doc["state"]);
    assert_eq!(doc["state"]["aborted"], "stopped from the dashboard");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_dashboard_refuses_other_hosts_and_origins() {
    let dir = scratch("dashboard", "origin");
    let ingest = http_ingest();
    let mut run = spawn_volley(&[
        "run",
        ingest.to_str().unwrap(),
        "--target",
        "api=embedded:http",
        "-u",
        "1",
        "-d",
        "60s",
        "--dashboard=127.0.0.1:0",
        "--quiet",
        "--no-summary",
    ]);
    let (line, _stderr) = stderr_line(&mut run, "dashboard at ");
    let run = Reap(run);
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let ask = |req: String| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut head = [0u8; 64];
        let n = s.read(&mut head).unwrap();
        String::from_utf8_lossy(&head[..n]).into_owned()
    };
    let page = ask(format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    ));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    // DNS rebinding: a name that is not the dashboard's.
    let rebound =
        ask("GET / HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n".into());
    assert!(rebound.starts_with("HTTP/1.1 421"), "{rebound}");
    // Another page in the same browser may not stop the run.
    let forged = ask(format!(
        "POST /stop HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    assert!(forged.starts_with("HTTP/1.1 403"), "{forged}");
    // Nor scale it.
    let body = r#"{"cmd":"scale","scenario":"default","vus":0}"#;
    let forged = ask(format!(
        "POST /scale HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    assert!(forged.starts_with("HTTP/1.1 403"), "{forged}");
    drop(run);
    std::fs::remove_dir_all(&dir).ok();
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}
