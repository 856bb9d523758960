//! k6 compatibility: the scripts in `conformance/k6/`, written the way k6
//! users write them, run unmodified by volley against the embedded target
//! and an echo server started here; 0 failed iterations and the exact check
//! counts. With k6 installed (`./setup.sh` puts it in
//! `~/.cache/volley/k6-venv`), the same scripts run under k6 against the
//! same servers and must give the same check pass/fail counts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;

/// An HTTP/1.1 server on loopback that echoes requests and sets cookies:
/// `/echo` (method, body, content type, `X-Trace`), `/json`, `/cookies/set`
/// (two `Set-Cookie` lines), `/cookies/login?k=v` (sets `k=v`, 302 to
/// `/cookies`), `/cookies` (the `Cookie` header it got),
/// `/auth/basic` (200 for `user:passwd`, else 401), `/auth/digest` (a
/// digest challenge, then 200 for a right answer for `user:passwd`),
/// `/redirect/N` (302 to `/redirect/N-1`, `/redirect/0` is 200), else 404. One thread per connection, keep-alive; it lives as long as the test
/// process.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve(conn));
        }
    });
    url
}

fn serve(conn: TcpStream) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    // Bounded: a connection serves at most 10,000 requests.
    for _ in 0..10_000 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let (mut length, mut content_type, mut trace, mut cookie, mut auth) = (
            0usize,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        );
        for _ in 0..200 {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').unwrap_or((&h, ""));
            let value = value.trim().to_string();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "content-type" => content_type = value,
                "x-trace" => trace = value,
                "cookie" => cookie = value,
                "authorization" => auth = value,
                _ => {}
            }
        }
        let mut body = vec![0; length.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = target.split('?').next().unwrap_or("");
        let json = |v: serde_json::Value| v.to_string();
        let (status, extra, text) = match path {
            "/echo" => (
                200,
                "X-Echo: yes\r\n".to_string(),
                json(serde_json::json!({
                    "method": method,
                    "body": String::from_utf8_lossy(&body),
                    "contentType": content_type,
                    "trace": trace,
                })),
            ),
            "/json" => (
                200,
                String::new(),
                r#"{"a":{"b":"c"},"items":[{"id":1},{"id":2},{"id":3}]}"#.to_string(),
            ),
            "/cookies/set" => {
                let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
                (
                    200,
                    format!(
                        "Set-Cookie: {query}; Path=/\r\nSet-Cookie: session=s-1; Path=/; HttpOnly\r\n"
                    ),
                    "{}".to_string(),
                )
            }
            "/cookies/login" => {
                let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
                (
                    302,
                    format!("Set-Cookie: {query}; Path=/\r\nLocation: /cookies\r\n"),
                    "{}".to_string(),
                )
            }
            "/cookies" => (
                200,
                String::new(),
                json(serde_json::json!({ "cookie": cookie })),
            ),
            "/auth/basic" if auth == "Basic dXNlcjpwYXNzd2Q=" => (
                200,
                String::new(),
                json(serde_json::json!({ "user": "user" })),
            ),
            "/auth/digest" if digest_ok(&auth, &method, "passwd") => (
                200,
                String::new(),
                json(serde_json::json!({ "user": "user" })),
            ),
            "/auth/basic" => (
                401,
                "WWW-Authenticate: Basic realm=\"volley\"\r\n".to_string(),
                "{}".to_string(),
            ),
            "/auth/digest" => (
                401,
                format!(
                    "WWW-Authenticate: Digest realm=\"{DIGEST_REALM}\", qop=\"auth\", nonce=\"{DIGEST_NONCE}\", opaque=\"o-7\", algorithm=MD5\r\n"
                ),
                "{}".to_string(),
            ),
            p if p.starts_with("/redirect/") => match p["/redirect/".len()..].parse::<u32>() {
                Ok(0) => (200, String::new(), "{}".to_string()),
                Ok(n) => (
                    302,
                    format!("Location: /redirect/{}\r\n", n - 1),
                    "{}".to_string(),
                ),
                Err(_) => (404, String::new(), "{}".to_string()),
            },
            _ => (404, String::new(), "{}".to_string()),
        };
        let body = if method == "HEAD" {
            String::new()
        } else {
            text.clone()
        };
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
            match status {
                200 => "OK",
                302 => "Found",
                401 => "Unauthorized",
                _ => "Not Found",
            },
            text.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

const DIGEST_REALM: &str = "volley";
const DIGEST_NONCE: &str = "n-42";

/// Whether `header` answers the server's digest challenge (RFC 7616, MD5,
/// qop=auth) for user `user` with `password`, computed independently here.
fn digest_ok(header: &str, method: &str, password: &str) -> bool {
    let Some(fields) = header.strip_prefix("Digest ") else {
        return false;
    };
    let mut f = std::collections::HashMap::new();
    for part in fields.split(", ") {
        if let Some((k, v)) = part.split_once('=') {
            f.insert(k.trim(), v.trim().trim_matches('"'));
        }
    }
    let get = |k: &str| f.get(k).copied().unwrap_or("");
    let h = |s: String| {
        md5(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let ha1 = h(format!("user:{DIGEST_REALM}:{password}"));
    let ha2 = h(format!("{method}:{}", get("uri")));
    let want = h(format!(
        "{ha1}:{DIGEST_NONCE}:{}:{}:auth:{ha2}",
        get("nc"),
        get("cnonce")
    ));
    get("username") == "user"
        && get("nonce") == DIGEST_NONCE
        && get("qop") == "auth"
        && get("opaque") == "o-7"
        && get("response") == want
}

/// MD5 (RFC 1321), for the digest check above: no crate for one test.
fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let mut msg = input.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((input.len() as u64) * 8).to_le_bytes());
    let mut h: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let t = d;
            d = c;
            c = b;
            b = b.wrapping_add(
                a.wrapping_add(f)
                    .wrapping_add(k[i])
                    .wrapping_add(m[g])
                    .rotate_left(S[(i / 16) * 4 + i % 4]),
            );
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 16];
    for (i, w) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

#[test]
fn md5_matches_the_rfc_vectors() {
    let hex = |b: [u8; 16]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(
        hex(md5(b"The quick brown fox jumps over the lazy dog")),
        "9e107d9d372bb6826bd81d3542a419d6"
    );
}

fn script(name: &str) -> PathBuf {
    repo().join("conformance/k6").join(name)
}

/// Check name -> (passes, fails), from a k6-layout summary export.
type Checks = std::collections::BTreeMap<String, (u64, u64)>;

fn checks_of(doc: &serde_json::Value) -> Checks {
    let mut out = Checks::new();
    fn walk(g: &serde_json::Value, out: &mut Checks) {
        let list: Vec<&serde_json::Value> = match &g["checks"] {
            serde_json::Value::Object(m) => m.values().collect(),
            serde_json::Value::Array(a) => a.iter().collect(),
            _ => Vec::new(),
        };
        for c in list {
            let e = out
                .entry(c["name"].as_str().unwrap_or("").to_string())
                .or_default();
            e.0 += c["passes"].as_u64().unwrap_or(0);
            e.1 += c["fails"].as_u64().unwrap_or(0);
        }
        let groups: Vec<&serde_json::Value> = match &g["groups"] {
            serde_json::Value::Object(m) => m.values().collect(),
            serde_json::Value::Array(a) => a.iter().collect(),
            _ => Vec::new(),
        };
        for sub in groups {
            walk(sub, out);
        }
    }
    walk(&doc["root_group"], &mut out);
    out
}

/// Check path (k6's `::group::name`, `::name` outside any group) ->
/// (passes, fails), from k6's summary export.
fn k6_check_paths(doc: &serde_json::Value) -> Checks {
    let mut out = Checks::new();
    fn walk(g: &serde_json::Value, out: &mut Checks) {
        if let serde_json::Value::Object(m) = &g["checks"] {
            for c in m.values() {
                let e = out
                    .entry(c["path"].as_str().unwrap_or("").to_string())
                    .or_default();
                e.0 += c["passes"].as_u64().unwrap_or(0);
                e.1 += c["fails"].as_u64().unwrap_or(0);
            }
        }
        if let serde_json::Value::Object(m) = &g["groups"] {
            for sub in m.values() {
                walk(sub, out);
            }
        }
    }
    walk(&doc["root_group"], &mut out);
    out
}

/// The same from volley's export: its `checks` series carry the `group`
/// tag (k6's path of the group) next to the `check` tag.
fn volley_check_paths(doc: &serde_json::Value) -> Checks {
    let mut out = Checks::new();
    for s in doc["series"].as_array().into_iter().flatten() {
        if s["metric"] != "checks" {
            continue;
        }
        let group = s["tags"]["group"].as_str().unwrap_or("");
        let name = s["tags"]["check"].as_str().unwrap_or("");
        let e = out.entry(format!("{group}::{name}")).or_default();
        let (trues, total) = (
            s["trues"].as_u64().unwrap_or(0),
            s["total"].as_u64().unwrap_or(0),
        );
        e.0 += trues;
        e.1 += total - trues;
    }
    out
}

/// `volley run <script>` with no plan: the script's `options` are the plan.
/// `ws`, when given, is the auction target's URL (`WS_URL`).
fn run_volley(
    script: &Path,
    base: &str,
    echo: &str,
    ws: Option<&str>,
) -> (serde_json::Value, String) {
    let export = std::env::temp_dir().join(format!(
        "volley-k6-{}-{}.json",
        std::process::id(),
        script.file_stem().unwrap().to_string_lossy()
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args([
            "run",
            script.to_str().unwrap(),
            "--quiet",
            "--summary-export",
        ])
        .arg(&export)
        .arg("--target")
        .arg(format!("BASE_URL={base}"))
        .arg("--target")
        .arg(format!("ECHO_URL={echo}"))
        .args(ws.map(|u| format!("--target=WS_URL={u}")))
        .args(["-e", "GREETING=hello"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("volley runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}:\n{}\n{err}",
        script.display(),
        String::from_utf8_lossy(&out.stdout)
    );
    let doc = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    std::fs::remove_file(&export).ok();
    (doc, err)
}

/// Samples of `metric` over its series named `name`: a rate's total, a
/// counter's sum.
fn series_total(doc: &serde_json::Value, metric: &str, name: &str) -> f64 {
    export_series(doc, metric, "name")
        .into_iter()
        .filter(|(n, _)| n == name)
        .map(|(_, samples)| samples)
        .sum()
}

fn count(doc: &serde_json::Value, metric: &str, field: &str) -> f64 {
    doc["metrics"][metric]["values"][field]
        .as_f64()
        .unwrap_or(0.0)
}

/// Runs the k6 script `source` (saved in a scratch folder named `area`)
/// under volley against the test targets: its summary export and stderr.
fn run_script(area: &str, source: &str) -> (serde_json::Value, String) {
    let echo = echo_server();
    let (_rt, server) = standalone_http();
    let dir = scratch("k6", area);
    let script = dir.join(format!("{area}.js"));
    std::fs::write(&script, source).unwrap();
    run_volley(&script, &server.url(), &echo, None)
}

/// The k6 binary `./setup.sh` installs, if it is there.
fn k6() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let k6 = Path::new(&home).join(".cache/volley/k6-venv/bin/k6");
    k6.is_file().then_some(k6)
}

/// The same script under k6, against the same servers: its checks, by name
/// and by path (with their groups).
fn run_k6(k6: &Path, script: &Path, base: &str, echo: &str, ws: &str) -> (Checks, Checks) {
    let export = std::env::temp_dir().join(format!(
        "volley-k6-ref-{}-{}.json",
        std::process::id(),
        script.file_stem().unwrap().to_string_lossy()
    ));
    let out = Command::new(k6)
        .args(["run", "--quiet", "--no-usage-report", "--summary-export"])
        .arg(&export)
        .args([
            "-e",
            &format!("BASE_URL={base}"),
            "-e",
            &format!("ECHO_URL={echo}"),
            "-e",
            &format!("WS_URL={ws}"),
        ])
        .args(["-e", "GREETING=hello"])
        .arg(script)
        .current_dir(script.parent().unwrap())
        .stdin(Stdio::null())
        .output()
        .expect("k6 runs");
    assert!(
        out.status.success(),
        "k6 {}:\n{}\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    std::fs::remove_file(&export).ok();
    (checks_of(&doc), k6_check_paths(&doc))
}

/// Every conformance script: 0 failed iterations, every check passed the
/// expected number of times; and k6, when present, agrees check by check.
#[test]
fn k6_conformance_scripts_run_unmodified() {
    let echo = echo_server();
    // The embedded demo service, standalone: volley and k6 hit the same one.
    let (_rt, server) = standalone_http();
    let base = server.url();
    // The auction target, for its WebSocket echo.
    let (_auction_rt, auction) = standalone_auction();
    let ws = auction.url();
    // (script, iterations, checks each iteration)
    let expected = [
        ("http.js", 2.0, 38.0),
        ("modules.js", 4.0, 16.0),
        ("scenarios.js", 9.0, 0.0),
        ("auth.js", 2.0, 12.0),
        ("async.js", 2.0, 11.0),
        ("callbacks.js", 2.0, 2.0),
        ("ws.js", 4.0, 9.0),
        // Two iterations with the server's close and its error (9 checks),
        // two without (8).
        ("websockets.js", 4.0, 8.5),
    ];
    let mut ran = Vec::new();
    let mut ws_doc = serde_json::Value::Null;
    for (name, iterations, per_iteration) in expected {
        let path = script(name);
        let (doc, err) = run_volley(&path, &base, &echo, Some(&ws));
        assert_eq!(
            count(&doc, "iterations", "count"),
            iterations,
            "{name}: {err}"
        );
        assert_eq!(
            count(&doc, "iterations_failed", "count"),
            0.0,
            "{name}: {err}"
        );
        let checks = checks_of(&doc);
        let fails: u64 = checks.values().map(|c| c.1).sum();
        assert_eq!(fails, 0, "{name}: {checks:?}\n{err}");
        if per_iteration > 0.0 {
            assert_eq!(
                count(&doc, "checks", "passes"),
                iterations * per_iteration,
                "{name}: {checks:?}"
            );
        }
        ran.push((path, checks, volley_check_paths(&doc)));
        if name == "ws.js" {
            ws_doc = doc;
        }
    }
    // ws.js: what the echo target saw is what volley counted. Each session
    // sends hello, the bytes and three ticks, and two of them `bye`; each
    // gets back four texts and the bytes. websockets.js: hello, the bytes and
    // two ticks, and `bye` in two.
    let seen = auction.stats();
    assert_eq!(seen.echo_sessions, 4 + 4, "{seen:?}");
    assert_eq!(seen.echo_messages, 22 + 18, "{seen:?}");
    assert_eq!(count(&ws_doc, "ws_sessions", "count"), 4.0);
    assert_eq!(count(&ws_doc, "ws_msgs_sent", "count"), 22.0);
    assert_eq!(count(&ws_doc, "ws_msgs_received", "count"), 20.0);
    assert_eq!(count(&ws_doc, "ws_ping", "count"), 4.0);
    // The connect's tags are on its samples.
    assert_eq!(
        export_series(&ws_doc, "ws_sessions", "socket"),
        vec![("echo".to_string(), 4.0)]
    );
    // http.js: a request to an `http.url` is named by its template.
    let http_doc = run_volley(&script("http.js"), &base, &echo, None).0;
    assert_eq!(
        series_total(&http_doc, "http_reqs", "${}/echo?id=${}"),
        2.0,
        "{}",
        http_doc["series"]
    );
    // Five requests named by their params each iteration, alike or not.
    assert_eq!(
        series_total(&http_doc, "http_reqs", "echo-trace"),
        10.0,
        "{}",
        http_doc["series"]
    );
    // modules.js: the check inside `group('checkout')` carries its group.
    assert_eq!(
        ran[1].2.get("::checkout::in group: 200"),
        Some(&(4, 0)),
        "{:?}",
        ran[1].2
    );
    // scenarios.js: 6 browse iterations with two checks, 3 buy with one.
    assert_eq!(ran[2].1.get("browse: 200"), Some(&(6, 0)), "{:?}", ran[2].1);
    assert_eq!(
        ran[2].1.get("buy: scenario env"),
        Some(&(3, 0)),
        "{:?}",
        ran[2].1
    );
    // callbacks.js: its thresholds held (exit 0); a response judged by no
    // one (`responseCallback: null`, for the request or the VU) is counted
    // as a request but gives no `http_req_failed` sample.
    let callbacks = run_volley(&script("callbacks.js"), &base, &echo, None).0;
    for name in ["request judges none", "vu judges none"] {
        assert_eq!(
            series_total(&callbacks, "http_reqs", name),
            2.0,
            "{name}: {}",
            callbacks["series"]
        );
        assert_eq!(series_total(&callbacks, "http_req_failed", name), 0.0);
    }
    assert_eq!(
        series_total(&callbacks, "http_req_failed", "plain 404"),
        2.0
    );
    let Some(k6) = k6() else {
        eprintln!("k6 is not installed (./setup.sh installs it): volley's counts only");
        return;
    };
    for (path, volley_checks, volley_paths) in &ran {
        let (k6_checks, k6_paths) = run_k6(&k6, path, &base, &echo, &ws);
        assert_eq!(
            &k6_checks,
            volley_checks,
            "{}: k6 vs volley",
            path.display()
        );
        assert_eq!(
            &k6_paths,
            volley_paths,
            "{}: k6 vs volley, checks with their groups",
            path.display()
        );
    }
}

/// Runs `script` from `dir` (its working folder) against the echo
/// server: (exit code, stdout, stderr).
fn run_in(dir: &Path, script: &str, echo: &str, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["run", script, "--target"])
        .arg(format!("ECHO_URL={echo}"))
        .args(extra)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("volley runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// k6's `handleSummary`: its files are written under the folder volley
/// runs in, with the summary in k6's layout; its `stdout` replaces the
/// end-of-test summary; a path outside the folder or hidden is refused by
/// name (the rest is still written); one that throws leaves the engine's
/// summary in place; `--no-summary` skips it, as in k6.
#[test]
fn handle_summary_writes_what_the_script_returns() {
    let echo = echo_server();
    let dir = scratch("k6", "handle-summary");
    std::fs::write(
        dir.join("s.js"),
        r#"import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 3, thresholds: { http_req_duration: ['p(95)<60000'] } };
export default function () {
  check(http.get(`${__ENV.ECHO_URL}/json`), { 'json 200': (r) => r.status === 200 });
}
export function handleSummary(data) {
  if (__ENV.THROW) throw new Error('summary broke');
  return {
    'reports/summary.json': JSON.stringify(data),
    'raw.bin': new Uint8Array([1, 2, 3]).buffer,
    stdout: `\x1b[1mown summary\x1b[0m: ${data.metrics.http_reqs.values.count} requests\n`,
    stderr: 'own stderr line\n',
    '../outside.txt': 'no',
    '.hidden': 'no',
  };
}
"#,
    )
    .unwrap();
    let (code, out, err) = run_in(&dir, "s.js", &echo, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The user's own script: its colours reach the terminal.
    assert_eq!(out, "\x1b[1mown summary\x1b[0m: 3 requests\n", "{err}");
    assert!(err.contains("own stderr line"), "{err}");
    assert!(
        err.contains(r#"handleSummary: not written: "../outside.txt""#)
            && err.contains(r#"handleSummary: not written: ".hidden""#),
        "{err}"
    );
    assert!(!dir.join("../outside.txt").exists() && !dir.join(".hidden").exists());
    assert_eq!(std::fs::read(dir.join("raw.bin")).unwrap(), [1, 2, 3]);
    let data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("reports/summary.json")).unwrap()).unwrap();
    assert_eq!(data["metrics"]["http_reqs"]["values"]["count"], 3.0);
    assert_eq!(data["metrics"]["http_reqs"]["type"], "counter");
    assert_eq!(
        data["metrics"]["http_req_duration"]["thresholds"]["p(95)<60000"]["ok"],
        true
    );
    assert_eq!(data["root_group"]["checks"][0]["name"], "json 200");
    assert_eq!(data["root_group"]["checks"][0]["passes"], 3);
    assert_eq!(data["root_group"]["checks"][0]["path"], "::json 200");
    assert!(data["state"]["testRunDurationMs"].as_f64().unwrap() > 0.0);
    assert_eq!(data["options"]["summaryTrendStats"][0], "avg");

    // A handleSummary that throws: the engine's summary, and the error.
    std::fs::remove_file(dir.join("raw.bin")).unwrap();
    let (code, out, err) = run_in(&dir, "s.js", &echo, &["-e", "THROW=1"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("http_reqs") && out.contains("json 200"),
        "{out}"
    );
    assert!(
        err.contains("`handleSummary`") && err.contains("summary broke"),
        "{err}"
    );
    assert!(!dir.join("raw.bin").exists());

    // The same component run as a prebuilt file (as a package's would
    // be): its text is shown with control characters escaped, and it
    // writes no file.
    let wasm = dir.join("target/volley/s.js.wasm");
    assert!(wasm.is_file(), "{}", wasm.display());
    let (code, out, err) = run_in(&dir, wasm.to_str().unwrap(), &echo, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.starts_with(r"\u{1b}[1mown summary\u{1b}[0m: ") && !out.contains('\x1b'),
        "{out}"
    );
    assert!(
        err.contains(r#"handleSummary: not written: "raw.bin": a prebuilt component or package writes no files"#),
        "{err}"
    );
    assert!(!dir.join("raw.bin").exists());

    // --no-summary: not called.
    let (code, out, err) = run_in(&dir, "s.js", &echo, &["--no-summary"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.is_empty() && !err.contains("own stderr line"),
        "{out}\n{err}"
    );
    assert!(!dir.join("raw.bin").exists());
}

/// jslib.k6.io's k6-utils and k6-summary, imported by their URLs as k6
/// scripts do, are built in: their functions work (the stage helpers are
/// refused by name), and `textSummary`/`jUnit` render `handleSummary`'s
/// data. (Not a conformance script: k6 would fetch the modules.)
#[test]
fn jslib_utils_and_summary_run_as_imported() {
    let echo = echo_server();
    let dir = scratch("k6", "jslib");
    std::fs::write(
        dir.join("s.js"),
        r#"import http from 'k6/http';
import { check } from 'k6';
import { randomIntBetween, randomItem, randomString, uuidv4, findBetween, getCurrentStageIndex } from 'https://jslib.k6.io/k6-utils/1.4.0/index.js';
import { textSummary, jUnit } from 'https://jslib.k6.io/k6-summary/0.0.2/index.js';
export const options = { iterations: 2, thresholds: { checks: ['rate==1'], http_req_duration: ['p(95)<60000'] } };
const refusal = (f) => { try { f(); return ''; } catch (e) { return String(e.message); } };
export default function () {
  http.get(`${__ENV.ECHO_URL}/json`);
  check(null, {
    'randomIntBetween': () => {
      const seen = new Set();
      for (let i = 0; i < 300; i++) seen.add(randomIntBetween(3, 5));
      return [...seen].sort().join() === '3,4,5';
    },
    'randomItem': () => ['a', 'b'].includes(randomItem(['a', 'b'])),
    'randomString': () => /^[abc]{8}$/.test(randomString(8, 'abc')) && /^[a-z]{5}$/.test(randomString(5)),
    'uuidv4': () => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuidv4()),
    'findBetween': () => findBetween('<a>1</a><a>2</a>', '<a>', '</a>') === '1'
      && findBetween('<a>1</a><a>2</a>', '<a>', '</a>', true).join() === '1,2'
      && findBetween('x', '<', '>') === undefined,
    'stage helpers refused': () => refusal(getCurrentStageIndex).includes('not supported by volley: k6-utils getCurrentStageIndex'),
  });
}
export function handleSummary(data) {
  return { stdout: textSummary(data, { indent: ' ', enableColors: false }), 'junit.xml': jUnit(data) };
}
"#,
    )
    .unwrap();
    let (code, out, err) = run_in(&dir, "s.js", &echo, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        " ✓ randomIntBetween\n",
        " ✓ stage helpers refused\n",
        " ✓ http_req_duration...",
        " ✓ checks...",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("   http_reqs...") && l.contains(": 2 ")),
        "{out}"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"<testcase name="http_req_duration - p(95)&lt;60000""#)
            && junit.contains(r#"<testsuites tests="2" failures="0">"#),
        "{junit}"
    );
}

/// jslib.k6.io's `url` module: `URL` and `URLSearchParams` give what
/// Node.js's own (the WHATWG URL Standard's) give for the same cases
/// (`url_cases.js`: parsing, relative URLs, hosts, percent-encoding,
/// setters, search parameters), and a `URL` is a request's URL.
#[test]
fn jslib_url_matches_nodes_url() {
    let echo = echo_server();
    let dir = scratch("k6", "jslib-url");
    let cases = include_str!("url_cases.js");
    std::fs::write(dir.join("cases.js"), cases).unwrap();
    std::fs::write(dir.join("cases.mjs"), cases).unwrap();
    let node = Command::new("node")
        .args([
            "--input-type=module",
            "-e",
            "const { exercise } = await import(process.argv[1]); process.stdout.write(JSON.stringify(exercise(URL, URLSearchParams)));",
        ])
        .arg(dir.join("cases.mjs"))
        .output()
        .expect("node runs (volley builds JavaScript with it)");
    assert!(
        node.status.success(),
        "{}",
        String::from_utf8_lossy(&node.stderr)
    );
    let expected = String::from_utf8(node.stdout).unwrap();
    assert!(expected.starts_with("[{\"href\""), "{expected}");
    std::fs::write(
        dir.join("expected.js"),
        format!("export const expected = {expected};\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("s.js"),
        r#"import http from 'k6/http';
import { check } from 'k6';
import { URL, URLSearchParams } from 'https://jslib.k6.io/url/1.0.0/index.js';
import { exercise } from './cases.js';
import { expected } from './expected.js';
export const options = { iterations: 1, thresholds: { checks: ['rate==1'] } };
export default function () {
  const got = exercise(URL, URLSearchParams);
  const differ = expected.map((e, i) => [i, JSON.stringify(got[i]), JSON.stringify(e)]).filter(([, g, e]) => g !== e);
  if (got.length !== expected.length || differ.length) {
    throw new Error(`${got.length} results for ${expected.length}; differ from Node's:\n${differ.map((d) => d.join(' | ')).join('\n')}`);
  }
  const url = new URL('/json', __ENV.ECHO_URL);
  url.searchParams.set('q', 'a b');
  check(http.get(url), { 'a URL as the request URL': (r) => r.status === 200 && r.url === `${__ENV.ECHO_URL}/json?q=a+b` });
}
"#,
    )
    .unwrap();
    let (code, out, err) = run_in(&dir, "s.js", &echo, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ a URL as the request URL"), "{out}\n{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("iterations") && l.contains(": 1 ")),
        "{out}"
    );
}

/// Builds `script` (saved as `s.js` in `folder`): the module `volley build`
/// generated around it.
fn built_main(folder: &Path, script: &str) -> String {
    std::fs::create_dir_all(folder).unwrap();
    std::fs::write(folder.join("s.js"), script).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["build"])
        .arg(folder.join("s.js"))
        .stdin(Stdio::null())
        .output()
        .expect("volley runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(folder.join("target/volley/build-js/src/__volley_main.js")).unwrap()
}

/// A component holds only the SDK modules its script uses (each one costs
/// every VU memory): no k6 modules for a script on volley's SDK alone, no
/// WebCrypto, `k6/crypto`, digest or jslib module for a k6 script that
/// uses none, each of them for one that does.
#[test]
fn a_component_holds_only_the_modules_its_script_uses() {
    let dir = scratch("k6", "lazy-modules");
    let main_of = |name: &str, script: &str| built_main(&dir.join(name), script);
    let imports = |main: &str| {
        [
            "./k6.js",
            "./webcrypto.js",
            "./digest.js",
            "./k6crypto.js",
            "./url.js",
            "./jslib.js",
            "./k6ws.js",
        ]
        .into_iter()
        .filter(|m| main.contains(&format!("from '{m}'")))
        .collect::<Vec<_>>()
    };
    let plain = main_of(
        "plain",
        "import { http } from 'volley';\nexport default function () { http.get('http://127.0.0.1:9/'); }\n",
    );
    assert!(imports(&plain).is_empty(), "{plain}");
    let k6 = main_of(
        "k6",
        "import http from 'k6/http';\nexport default function () { http.get('http://127.0.0.1:9/'); }\n",
    );
    assert_eq!(imports(&k6), ["./k6.js"], "{k6}");
    let all = main_of(
        "all",
        r#"import http from 'k6/http';
import { sha256 } from 'k6/crypto';
import { URL } from 'https://jslib.k6.io/url/1.0.0/index.js';
export default function () {
  http.get(new URL('http://u:p@127.0.0.1:9/').href, { auth: 'digest' });
  crypto.getRandomValues(new Uint8Array(4));
  sha256('x', 'hex');
}
"#,
    );
    assert_eq!(
        imports(&all),
        [
            "./k6.js",
            "./webcrypto.js",
            "./digest.js",
            "./k6crypto.js",
            "./url.js"
        ],
        "{all}"
    );
}

/// `k6/ws` when the connection fails: the response says so (status 0,
/// `error`, `error_code`, as k6's without `throw`) and the callback is not
/// called; what volley cannot do (`compression`) throws naming it. k6's
/// `WebSocket` (by its newer module name) fires `error`, then `close`, and
/// refuses a send before it is open.
#[test]
fn k6_ws_reports_a_failed_connection_and_refuses_compression() {
    let (doc, err) = run_script(
        "ws-fail",
        r#"import ws from 'k6/ws';
import { WebSocket, Blob } from 'k6/websockets';
import { check } from 'k6';
// Every connection fails here: said to be expected, else the run exits 99.
export const options = { vus: 1, iterations: 2, thresholds: { ws_errors: ['count==4'] } };
export default function () {
  const events = [];
  const dead = new WebSocket(`${__ENV.ECHO_URL.replace('http', 'ws')}/not-a-socket`);
  dead.onerror = (e) => events.push(`error ${e.error.includes('handshake')}`);
  dead.onclose = () => {
    events.push('close');
    check(events, { 'a failed WebSocket fires error, then close': (ev) => ev.join() === 'error true,close' });
  };
  let early = '';
  try {
    dead.send('too soon');
  } catch (e) {
    early = String(e);
  }
  check(early, { 'a send before open throws': (t) => t.includes('InvalidStateError') });
  check(new Blob(['h\u00e9', new Uint8Array([1])], { type: 'text/plain' }), {
    'a Blob of text and bytes': (b) => b.size === 4 && b.type === 'text/plain',
  });
  let called = false;
  const res = ws.connect(`${__ENV.ECHO_URL.replace('http', 'ws')}/not-a-socket`, {}, function () { called = true; });
  check(res, {
    'no handshake': (r) => r.status === 0,
    'an error and its code': (r) => r.error.length > 0 && r.error_code > 0,
    'the callback is not called': () => !called,
  });
  let threw = '';
  try {
    ws.connect(`${__ENV.ECHO_URL.replace('http', 'ws')}/`, { compression: 'deflate' }, function () {});
  } catch (e) {
    threw = String(e);
  }
  check(threw, { 'compression is named': (t) => t.includes('params.compression') });
}
"#,
    );
    assert_eq!(count(&doc, "checks", "passes"), 14.0, "{err}");
    assert_eq!(count(&doc, "checks", "fails"), 0.0, "{err}");
    assert_eq!(count(&doc, "iterations_failed", "count"), 0.0, "{err}");
}

/// `exec.scenario.iterationInTest` numbers the scenario's iterations
/// across its VUs: each number once (k6 partitions data by it);
/// `exec.instance.currentTestRunDuration` grows.
#[test]
fn scenario_iteration_numbers_are_unique_across_vus() {
    let (doc, err) = run_script(
        "iteration-in-test",
        r#"import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
const seen = new Counter('seen');
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 4, iterations: 3 } } };
let last = 0;
export default function () {
  const n = exec.scenario.iterationInTest;
  if (exec.scenario.iterationInInstance !== n) throw new Error('iterationInInstance differs');
  seen.add(1, { n: String(n) });
  // Milliseconds since the run started: a VU sees it grow.
  const now = exec.instance.currentTestRunDuration;
  if (!(now > 0 && now >= last)) throw new Error(`currentTestRunDuration ${now} after ${last}`);
  last = now;
}
"#,
    );
    assert_eq!(count(&doc, "iterations_failed", "count"), 0.0, "{err}");
    let mut numbers: Vec<(u64, f64)> = export_series(&doc, "seen", "n")
        .into_iter()
        .map(|(n, sum)| (n.parse().unwrap_or(u64::MAX), sum))
        .collect();
    numbers.sort_by_key(|(n, _)| *n);
    let want: Vec<(u64, f64)> = (0..12).map(|n| (n, 1.0)).collect();
    assert_eq!(numbers, want, "{err}");
}

/// `exec.vu.metrics.tags` (and the older `exec.vu.tags`): a tag set there
/// goes on every sample the VU records after it (requests, checks,
/// metrics) in later iterations too; a sample's own tag wins; a value that
/// is not a string, number or boolean is refused by name.
#[test]
fn vu_tags_go_on_every_sample_the_vu_records() {
    let (doc, err) = run_script(
        "vu-tags",
        r#"import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
const made = new Counter('made');
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 2, iterations: 3 } } };
export default function () {
  // Set in the first iteration only: kept for the VU's later ones.
  if (exec.vu.iterationInScenario === 0) exec.vu.metrics.tags.kind = 'tagged';
  http.get(`${__ENV.ECHO_URL}/json`);
  check(1, { one: (v) => v === 1 });
  made.add(1);
  made.add(1, { kind: 'own' });
  exec.vu.tags.legacy = 7;
  let refused = '';
  try { exec.vu.metrics.tags.bad = {}; } catch (e) { refused = String(e.message); }
  if (!refused.includes('exec.vu.metrics.tags.bad')) throw new Error(`an object as a tag value: ${refused}`);
}
"#,
    );
    assert_eq!(count(&doc, "iterations", "count"), 6.0, "{err}");
    assert_eq!(count(&doc, "iterations_failed", "count"), 0.0, "{err}");
    // Samples by the tag's value, over every series (`legacy` splits them).
    let by = |metric: &str, tag: &str| {
        let mut sums = std::collections::BTreeMap::<String, f64>::new();
        for (value, n) in export_series(&doc, metric, tag) {
            *sums.entry(value).or_default() += n;
        }
        sums.into_iter().collect::<Vec<_>>()
    };
    let tagged = |n: f64| vec![("tagged".to_string(), n)];
    assert_eq!(by("http_reqs", "kind"), tagged(6.0), "{err}");
    assert_eq!(by("checks", "kind"), tagged(6.0), "{err}");
    assert_eq!(
        by("made", "kind"),
        [("own".to_string(), 6.0), ("tagged".to_string(), 6.0)],
        "{err}"
    );
    // `legacy` from the end of each VU's first iteration on: 2 VUs x 2
    // iterations x 2 samples.
    assert_eq!(by("made", "legacy"), [("7".to_string(), 8.0)], "{err}");
}

/// k6's `res.timings`: the duration is sending + waiting + receiving, the
/// first request of a VU connects and the next do not, and a response
/// handed over whole (no phases known) shows zeros, not made-up values.
#[test]
fn response_timings_carry_connecting_and_sending() {
    let (doc, err) = run_script(
        "phases",
        r#"
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';

export const options = { vus: 1, iterations: 20 };
const timed = new Counter('sending_timed');

export default function () {
  const r = http.get(`${__ENV.ECHO_URL}/json`);
  if (r.timings.sending > 0) timed.add(1);
  check(r, {
    // k6's duration: sending, waiting and receiving, not connecting (each
    // phase comes in whole microseconds, rounded down: the sum of three may
    // fall 2 µs short of the whole).
    'the duration is sending + waiting + receiving': (x) => Math.abs(x.timings.sending
      + x.timings.waiting + x.timings.receiving - x.timings.duration) < 0.0021,
    'connecting on the first request only': (x) => (__ITER === 0) === (x.timings.connecting > 0),
  });
  // Handed over whole (it set cookies): no phases, not made up.
  const c = http.get(`${__ENV.ECHO_URL}/cookies/set`);
  check(c, { 'a whole response has none': (x) => x.timings.sending === 0 && x.timings.connecting === 0 });
}
"#,
    );
    assert_eq!(count(&doc, "iterations", "count"), 20.0, "{err}");
    assert_eq!(count(&doc, "iterations_failed", "count"), 0.0, "{err}");
    assert_eq!(
        count(&doc, "checks", "passes"),
        60.0,
        "{:?}",
        checks_of(&doc)
    );
    // Writing a request on loopback takes microseconds: a sending of 0 on
    // every response is the phase never read.
    assert!(
        count(&doc, "sending_timed", "count") >= 1.0,
        "{}",
        doc["metrics"]
    );
}

#[test]
fn tagged_requests_and_checks_land_in_their_own_series() {
    // The engine keeps each VU's series by tag set: the same request name
    // and check name with other tags must not share one.
    let (doc, err) = run_script(
        "tagsets",
        r#"
import http from 'k6/http';
import { check, group } from 'k6';

export const options = { vus: 1, iterations: 4 };

export default function () {
  http.get(`${__ENV.ECHO_URL}/json`, { tags: { name: 'doc', kind: 'a' } });
  http.get(`${__ENV.ECHO_URL}/json`, { tags: { name: 'doc', kind: 'b' } });
  http.get(`${__ENV.ECHO_URL}/json`, { tags: { name: 'doc' } });
  group('inner', () => {
    http.get(`${__ENV.ECHO_URL}/json`, { tags: { name: 'doc' } });
    check(1, { 'same check': () => true });
  });
  check(1, { 'same check': () => true }, { kind: 'a' });
  check(1, { 'same check': () => true });
}
"#,
    );
    assert_eq!(count(&doc, "iterations_failed", "count"), 0.0, "{err}");
    assert_eq!(series_total(&doc, "http_reqs", "doc"), 16.0);
    let by = |metric, tag| export_series(&doc, metric, tag);
    assert_eq!(
        by("http_reqs", "kind"),
        [("a".to_string(), 4.0), ("b".to_string(), 4.0)]
    );
    assert_eq!(by("http_reqs", "group"), [("::inner".to_string(), 4.0)]);
    assert_eq!(by("checks", "group"), [("::inner".to_string(), 4.0)]);
    assert_eq!(by("checks", "kind"), [("a".to_string(), 4.0)]);
    assert_eq!(count(&doc, "checks", "passes"), 12.0);
}

#[test]
fn groups_nest_tag_what_runs_inside_and_end_with_their_iteration() {
    // The engine keeps the groups: nested paths, a sample's own `group`
    // tag winning, a group left by a throw. (One never left is the C SDK
    // test's: a script cannot call the WIT directly.)
    let (doc, err) = run_script(
        "groups",
        r#"
import http from 'k6/http';
import { check, group } from 'k6';
import { Counter } from 'k6/metrics';

export const options = { vus: 1, iterations: 4 };
const seen = new Counter('seen');

export default function () {
  seen.add(1);
  const r = group('outer', () => group('inner', () => {
    seen.add(2);
    seen.add(4, { group: 'own' });
    return http.get(`${__ENV.ECHO_URL}/json`);
  }));
  check(r, { 'returned': (r) => r.status === 200 });
  try {
    group('thrown', () => { seen.add(8); throw new Error('out'); });
  } catch (e) {
    seen.add(16);
  }
}
"#,
    );
    assert_eq!(count(&doc, "iterations_failed", "count"), 0.0, "{err}");
    let by = |metric, tag| export_series(&doc, metric, tag);
    // Outside a group a sample carries none (1 and 16).
    assert_eq!(
        by("seen", "group"),
        [
            ("::outer::inner".to_string(), 4.0 * 2.0),
            ("::thrown".to_string(), 4.0 * 8.0),
            ("own".to_string(), 4.0 * 4.0),
        ]
    );
    assert_eq!(count(&doc, "seen", "count"), 4.0 * 31.0);
    assert_eq!(
        by("http_reqs", "group"),
        [("::outer::inner".to_string(), 4.0)]
    );
    let durations: Vec<String> = (by("group_duration", "group").into_iter())
        .map(|(g, _)| g)
        .collect();
    assert_eq!(durations, ["::outer", "::outer::inner", "::thrown"]);
    assert_eq!(count(&doc, "group_duration", "count"), 12.0);
}

/// Request params volley cannot honour are refused by name when the
/// request is made, never ignored: a response callback that is a function
/// (for the request or the VU) and `params.compression`; so is a member a
/// k6 module lacks.
#[test]
fn k6_params_volley_cannot_honour_fail_the_request_by_name() {
    let (doc, err) = run_script(
        "params-refused",
        r#"import http from 'k6/http';
import * as httpModule from 'k6/http';
import * as k6 from 'k6';
import { check } from 'k6';
export const options = { iterations: 1, thresholds: { checks: ['rate==1'] } };
const ECHO = __ENV.ECHO_URL;
const refusal = (f) => { try { f(); return ''; } catch (e) { return String(e.message); } };
export default async function () {
  check(null, {
    'function callback': () => refusal(() => http.get(`${ECHO}/json`, { responseCallback: (r) => true }))
      .includes('not supported by volley: params.responseCallback with a function'),
    'function callback in a batch': () => refusal(() => http.batch([['GET', `${ECHO}/json`, null, { responseCallback: (r) => true }]]))
      .includes('not supported by volley: params.responseCallback with a function'),
    'function callback for the VU': () => refusal(() => http.setResponseCallback((r) => true))
      .includes('not supported by volley: http.setResponseCallback with a function'),
    'compression': () => refusal(() => http.post(`${ECHO}/echo`, 'x', { compression: 'gzip' }))
      .includes('not supported by volley: params.compression ("gzip")'),
    // A member a k6 module lacks: refused by name, wherever it is reached.
    'missing member': () => refusal(() => http.nonexistent(`${ECHO}/json`))
      .includes('not supported by volley: k6/http.nonexistent'),
    'missing constant': () => refusal(() => http.OCSP_STATUS_GOOD)
      .includes('not supported by volley: k6/http.OCSP_STATUS_GOOD'),
    'missing member of k6': () => refusal(() => k6.nope()).includes('not supported by volley: k6.nope'),
    // Members are plain properties; an object's own methods still answer.
    'members': () => typeof http.get === 'function' && http.hasOwnProperty('get')
      && !('nonexistent' in http) && http.default === http && refusal(() => http.expectedStatuses(200)) === '',
    // Imported whole or by default, the module itself: a member is read as
    // it is, not through a getter called on every read.
    'imported as it is': () => httpModule === http
      && Object.getOwnPropertyDescriptor(httpModule, 'get').value === http.get,
  });
  // Requests queued together: the refused ones reject (one at once, one
  // when the queue goes), alone.
  const [refused, unsendable, sent] = await Promise.allSettled([
    http.asyncRequest('POST', `${ECHO}/echo`, 'x', { compression: 'gzip' }),
    http.asyncRequest('GET', `${ECHO}/json`, null, { redirects: -1 }),
    http.asyncRequest('GET', `${ECHO}/json`),
  ]);
  check(null, {
    'asyncRequest: only the refused ones reject': () => refused.status === 'rejected'
      && String(refused.reason.message).includes('params.compression')
      && unsendable.status === 'rejected' && String(unsendable.reason.message).includes('params.redirects')
      && sent.status === 'fulfilled' && sent.value.status === 200,
  });
}
"#,
    );
    assert_eq!(count(&doc, "checks", "passes"), 10.0, "{err}");
    // Nothing refused was sent: only the asyncRequest beside one.
    assert_eq!(count(&doc, "http_reqs", "count"), 1.0, "{err}");
}

/// What volley cannot run fails the build naming it: the import, the
/// missing file; never a toolchain's stack.
#[test]
fn unsupported_k6_modules_and_missing_files_fail_the_build_by_name() {
    let dir = scratch("k6", "unsupported");
    let script = dir.join("s.js");
    std::fs::write(
        &script,
        "import redis from 'k6/experimental/redis';\nimport { Httpx } from 'https://jslib.k6.io/httpx/0.1.0/index.js';\n\
         const rows = open('./rows.csv');\nexport default function () {}\n",
    )
    .unwrap();
    let (code, _, err) = volley(&["build", script.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("import 'k6/experimental/redis': not supported"),
        "{err}"
    );
    assert!(
        err.contains("remote module 'https://jslib.k6.io/httpx/"),
        "{err}"
    );
    assert!(err.contains("s.js:3: open('./rows.csv')"), "{err}");
    assert!(
        !err.contains("wasm backtrace") && !err.contains("<wasm function"),
        "{err}"
    );
    // An option volley cannot honour is named.
    std::fs::write(
        &script,
        "export const options = { vus: 1, hosts: { 'a.test': '127.0.0.1' } };\nexport default function () {}\n",
    )
    .unwrap();
    let (code, _, err) = volley(&["run", script.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("`hosts`") && err.contains("s.js"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// k6's init context: the top level runs in each VU when it starts (a
/// volley call there works), `Math.random` differs between VUs, a plan
/// file overrides `options`.
#[test]
fn top_level_code_runs_per_vu_at_init_with_its_own_random() {
    let dir = scratch("k6", "init");
    std::fs::write(
        dir.join("script.js"),
        "import { Trend } from 'k6/metrics';\nimport { check } from 'k6';\n\
         const drawn = Math.random();\nconst vu = __VU;\nconst t = new Trend('drawn');\n\
         export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 4, iterations: 1 } } };\n\
         export default function () {\n  t.add(drawn * 1e6);\n  check(null, { 'init saw this VU': () => vu === __VU });\n}\n",
    )
    .unwrap();
    let export = dir.join("out.json");
    let (code, out, err) = volley(&[
        "run",
        dir.join("script.js").to_str().unwrap(),
        "--quiet",
        "--summary-export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    // options: 4 iterations over 4 VUs, one each.
    assert_eq!(count(&doc, "iterations", "count"), 4.0, "{doc}");
    assert_eq!(count(&doc, "checks", "passes"), 4.0, "{doc}");
    let (min, max) = (count(&doc, "drawn", "min"), count(&doc, "drawn", "max"));
    assert!(
        min < max,
        "every VU drew the same Math.random(): {min} {max}"
    );
    // A plan file wins over the options.
    std::fs::create_dir_all(dir.join("plans")).unwrap();
    std::fs::write(
        dir.join("plans/default.toml"),
        "[scenarios.p]\nexecutor = \"shared-iterations\"\nvus = 1\niterations = 2\n",
    )
    .unwrap();
    let (code, out, err) = volley(&[
        "run",
        dir.join("script.js").to_str().unwrap(),
        "--quiet",
        "--summary-export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert_eq!(count(&doc, "iterations", "count"), 2.0, "{doc}");
    std::fs::remove_dir_all(&dir).ok();
}

/// k6's SharedArray: the callback runs once per run, not once per VU, and
/// every VU reads the rows (index, length, for-of, Array methods).
#[test]
fn a_shared_array_is_made_once_and_read_by_every_vu() {
    let dir = scratch("k6", "shared");
    std::fs::write(
        dir.join("script.js"),
        "import { SharedArray } from 'k6/data';\nimport { Counter } from 'k6/metrics';\nimport { check } from 'k6';\n\
         const made = new Counter('shared_made');\n\
         const rows = new SharedArray('rows', function () {\n  made.add(1);\n  \
         return Array.from({ length: 500 }, (_, i) => ({ id: i, name: `user${i}` }));\n});\n\
         export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 6, iterations: 2 } } };\n\
         export default function () {\n  let sum = 0;\n  for (const r of rows) sum += r.id;\n  check(rows, {\n    \
         'length': (a) => a.length === 500,\n    'row of this VU': (a) => a[__VU].name === `user${__VU}`,\n    \
         'past the end': (a) => a[500] === undefined,\n    'for-of': () => sum === 124750,\n    \
         'array methods': (a) => a.filter((r) => r.id % 100 === 0).map((r) => r.id).join() === '0,100,200,300,400',\n  });\n}\n",
    )
    .unwrap();
    let export = dir.join("out.json");
    let (code, out, err) = volley(&[
        "run",
        dir.join("script.js").to_str().unwrap(),
        "--quiet",
        "--summary-export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert_eq!(count(&doc, "iterations", "count"), 12.0, "{err}");
    assert_eq!(count(&doc, "iterations_failed", "count"), 0.0, "{err}");
    assert_eq!(count(&doc, "shared_made", "count"), 1.0, "{doc}");
    assert_eq!(count(&doc, "checks", "passes"), 60.0, "{doc}");
    assert_eq!(count(&doc, "checks", "fails"), 0.0, "{doc}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `volley build` makes a request's params and a check's literal once per
/// VU when they are the same on every call (constants, and functions that
/// read nothing of the function around them), written in the call or held
/// by a `const` only given to such calls, reading the module's `const`s of
/// fixed text: what it makes once and what it leaves to be made every
/// call, in the generated module.
#[test]
fn literals_the_same_on_every_call_are_made_once_per_vu() {
    let dir = scratch("k6", "literals-once");
    let main_of = |name: &str, script: &str| built_main(&dir.join(name), script);
    let k6 = main_of(
        "k6",
        r#"import http from 'k6/http';
import { check } from 'k6';
import { get as fetch } from 'k6/http';
const WANT = 200;
const TOKEN = __ENV.TOKEN || 'abc';
let CHANGES = 'a';
export default function (data) {
  const i = __ITER;
  const r = http.get('http://127.0.0.1:9/', { headers: { 'X-A': 'once-1' }, tags: { name: 'once-1' } });
  http.post('http://127.0.0.1:9/', { body: 'every-body' }, { tags: { name: 'once-2' }, timeout: '5s', x: [1, -2, null, true, `t`] });
  fetch('http://127.0.0.1:9/', { tags: { name: 'once-3' } });
  check(r, { 'once-4': (r) => r.status === WANT && JSON.stringify(r) !== '' && __ITER >= 0, 'once-4b'(r) { return !!r; } });
  http.get('http://127.0.0.1:9/', { tags: { name: `every-1 ${i}` } });
  http.get('http://127.0.0.1:9/', { tags: { name: 'every-2', n: i } });
  check(r, { 'every-3': (r) => r.status === i });
  check(r, { 'every-4': () => data });
  check(r, { 'every-5': function () { return this; } });
  check(r, { 'every-6': () => arguments.length });
  check(r, { 'every-7': /every-7/ });
  check(r, { get 'every-8'() { return true; } });
  check(r, { ...{ 'every-9': true } });
  for (const n of [1]) check(r, { 'every-10': () => n });
  check(r, { 'every-11': (r, k = i) => k });
  check(r, { 'every-12': (r) => r.status + ((i) => i)(1) + i });
  foo.get('http://127.0.0.1:9/', { tags: { name: 'every-13' } });
  if (i < 0) other(http);
  const params = { tags: { name: 'once-5' } };
  http.get('http://127.0.0.1:9/', params);
  http.post('http://127.0.0.1:9/', null, params);
  const changed = { tags: { name: 'every-15' } };
  changed.tags.name = 'x';
  http.get('http://127.0.0.1:9/', changed);
  const kept = { tags: { name: 'every-16' } };
  http.get('http://127.0.0.1:9/', kept);
  http.get('http://127.0.0.1:9/', { headers: { Authorization: `Bearer ${TOKEN}` }, tags: { name: 'once-6' } });
  http.get('http://127.0.0.1:9/', { headers: { 'X-A': CHANGES }, tags: { name: 'every-17' } });
  http.get('http://127.0.0.1:9/', { headers: { 'X-A': __ENV.TOKEN }, tags: { name: 'every-18' } });
  return kept;
}
function other(http) {
  http.get('http://127.0.0.1:9/', { tags: { name: 'every-14' } });
}
"#,
    );
    // Where the literals made once are: from each `__const)(` to its `)`.
    let once_spans = |main: &str| {
        let mut spans = Vec::new();
        for (at, m) in main.match_indices("__const)(") {
            let start = at + m.len();
            let mut depth = 1;
            let end = main[start..]
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| start + i)
                .unwrap_or(main.len());
            spans.push(start..end);
        }
        spans
    };
    let made_once = |main: &str, marker: &str| {
        let at = main
            .find(&format!("{marker}'"))
            .or_else(|| main.find(&format!("{marker}\"")))
            .or_else(|| main.find(marker))
            .unwrap_or_else(|| panic!("{marker} not in\n{main}"));
        once_spans(main).iter().any(|s| s.contains(&at))
    };
    for once in ["once-1", "once-2", "once-3", "once-4", "once-5", "once-6"] {
        assert!(made_once(&k6, once), "{once} made every call:\n{k6}");
    }
    for n in 1..=18 {
        let every = format!("every-{n}");
        assert!(!made_once(&k6, &every), "{every} made once:\n{k6}");
    }
    // volley's own SDK, by name and through the module.
    let sdk = main_of(
        "sdk",
        r#"import { http, check } from 'volley';
import * as volley from 'volley';
export default function () {
  const r = http.get('http://127.0.0.1:9/', { tags: { name: 'sdk-1' } });
  volley.http.get('http://127.0.0.1:9/', { tags: { name: 'sdk-2' } });
  check(r, { 'sdk-3': (r) => r.status === 200 });
  volley.check(r, { 'sdk-4': (r) => r.status === 200 });
}
"#,
    );
    for marker in ["sdk-1", "sdk-2", "sdk-3", "sdk-4"] {
        assert!(made_once(&sdk, marker), "{marker} made every call:\n{sdk}");
    }
}

/// What a literal made once per VU does at run time: the same params sent
/// to two URLs and by two methods, with a text body that changes, next to
/// params made every call, with the VU's cookies and tags (which change
/// between requests) still on a request whose params were made once; every
/// check passes and the target saw each request.
#[test]
fn requests_with_params_made_once_send_what_the_script_says() {
    // One VU: its caches see every request, in order.
    let (doc, err) = run_script(
        "made-once",
        r#"
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';

export const options = { vus: 1, iterations: 8 };
const E = __ENV.ECHO_URL;
const TRACE = `fixed-${__ENV.NO_SUCH_NAME || 'trace'}`;

export default function () {
  const i = exec.scenario.iterationInTest;
  const f = http.get(`${E}/echo`, { headers: { 'X-Trace': TRACE }, tags: { name: 'same' } });
  check(f, { "made once: a module const's header": (r) => r.json().trace === 'fixed-trace' });
  const a = http.get(`${E}/echo?a`, { headers: { 'X-Trace': 'same' }, tags: { name: 'same' } });
  const b = http.post(`${E}/echo?b`, 'x', { headers: { 'X-Trace': 'same' }, tags: { name: 'same' } });
  check(a, { 'made once: header': (r) => r.json().trace === 'same', 'made once: GET': (r) => r.json().method === 'GET' });
  check(b, { 'made once: POST with its body': (r) => r.json().method === 'POST' && r.json().body === 'x' });
  const text = { headers: { 'Content-Type': 'text/plain' }, tags: { name: 'bodies' } };
  const d = http.post(`${E}/echo`, `body-${i % 2}`, text);
  check(d, { "made once: this call's body": (r) => r.json().body === `body-${i % 2}` && r.json().contentType === 'text/plain' });
  const c = http.get(`${E}/echo`, { headers: { 'X-Trace': `it-${i}` }, tags: { name: i % 2 ? 'odd' : 'even' } });
  check(c, { 'made every call: header': (r) => r.json().trace === `it-${i}` });
  if (i < 4) return;
  // From here on the VU has cookies and tags of its own, which change.
  http.get(`${E}/cookies/set?n=${i}`);
  const k = http.get(`${E}/cookies`, { tags: { name: 'jar' } });
  check(k, { "made once: the VU jar's cookie": (r) => r.json().cookie.includes(`n=${i}`) });
  exec.vu.tags.round = `r${i % 2}`;
  http.get(`${E}/json`, { tags: { name: 'tagged' } });
}
"#,
    );
    assert_eq!(count(&doc, "iterations", "count"), 8.0, "{err}");
    assert_eq!(count(&doc, "iterations_failed", "count"), 0.0, "{err}");
    assert_eq!(count(&doc, "checks", "passes"), 8.0 * 6.0 + 4.0, "{err}");
    assert_eq!(count(&doc, "checks", "fails"), 0.0, "{err}");
    assert_eq!(series_total(&doc, "http_reqs", "same"), 24.0);
    assert_eq!(series_total(&doc, "http_reqs", "bodies"), 8.0);
    assert_eq!(series_total(&doc, "http_reqs", "odd"), 4.0);
    assert_eq!(series_total(&doc, "http_reqs", "even"), 4.0);
    assert_eq!(series_total(&doc, "http_reqs", "jar"), 4.0);
    // The VU's tag as it was at each request, not as it was at the first.
    let mut rounds = std::collections::BTreeMap::new();
    for e in doc["series"].as_array().into_iter().flatten() {
        if e["metric"] == "http_reqs" && e["tags"]["name"] == "tagged" {
            let round = e["tags"]["round"].as_str().unwrap_or("none").to_string();
            *rounds.entry(round).or_insert(0.0) +=
                e["total"].as_f64().or(e["sum"].as_f64()).unwrap_or(0.0);
        }
    }
    assert_eq!(
        rounds.into_iter().collect::<Vec<_>>(),
        [("r0".to_string(), 2.0), ("r1".to_string(), 2.0)]
    );
}
