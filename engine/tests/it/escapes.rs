//! The threat model, tried call by call: a scenario that tries every way
//! out through the HTTP and WebSocket imports (other names for a refused
//! address, userinfo, redirects, a `Host` header, framing headers) and prints
//! terminal escapes wherever its text can reach the terminal. A listener
//! on a loopback address off the allowlist must see no connection; an
//! allowed recorder must never see an injected header.

use crate::support::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The attempts, each a check that passes when the attempt was refused
/// (or contained). `R` is the allowed recorder, `O` the outside listener.
const SCENARIO: &str = r#"import { http, ws, check, log, Counter, vu } from 'volley';

function refusal(f) {
  try { f(); return 'none'; } catch (e) {
    const p = e && e.payload !== undefined ? e.payload : e;
    return String((p && (p.class || p.kind)) || (e && e.kind) || e);
  }
}

export default function () {
  const R = vu.param('recorder');
  const O = vu.param('outside');
  const Rport = R.split(':')[1];
  const [Ohost, Oport] = O.split(':');
  const get = (url, headers) => () => http.get(url, { headers: headers || {}, timeout: 3 });
  const open = (url, headers) => () => ws.Socket.connect(url, { headers: headers || '', subprotocols: [], timeoutMs: 3000, tags: [] });
  const ATTEMPTS = {
    'http direct': [get(`http://${O}/`), 'not-allowed'],
    'http localhost name': [get(`http://localhost:${Rport}/`), 'not-allowed'],
    'http trailing dot': [get(`http://localhost.:${Rport}/`), 'not-allowed'],
    'http short ip': [get(`http://127.1:${Rport}/`), 'not-allowed'],
    'http decimal ip': [get(`http://2130706433:${Oport}/`), 'not-allowed'],
    'http mapped v6': [get(`http://[::ffff:${Ohost}]:${Oport}/`), 'not-allowed'],
    'http userinfo': [get(`http://${R}@${O}/`), 'not-allowed'],
    'http redirect': [get(`http://${R}/redirect`), 'not-allowed'],
    'http host header': [get(`http://${R}/host`, { Host: O }), 'not-allowed'],
    'http transfer-encoding': [get(`http://${R}/te`, { 'Transfer-Encoding': 'chunked' }), 'invalid-request'],
    'http content-length': [get(`http://${R}/cl`, { 'Content-Length': '5' }), 'invalid-request'],
    'ws direct': [open(`ws://${O}/`), 'not-allowed'],
    'ws localhost name': [open(`ws://localhost:${Rport}/`), 'not-allowed'],
    'ws decimal ip': [open(`ws://2130706433:${Oport}/`), 'not-allowed'],
    'ws userinfo': [open(`ws://${R}@${O}/`), 'not-allowed'],
    'ws redirect': [open(`ws://${R}/redirect`), 'handshake'],
    'ws host header': [open(`ws://${R}/wshost`, `Host: ${O}`), 'invalid-request'],
    'ws key header': [open(`ws://${R}/wskey`, 'Sec-WebSocket-Key: x'), 'invalid-request'],
  };
  for (const name in ATTEMPTS) {
    const [attempt, want] = ATTEMPTS[name];
    const got = refusal(attempt);
    log.info(`${name}: ${got}`);
    check(got, { [name]: (g) => g !== 'none' && (want === 'other' || g === want) });
  }
  // The positive control: an allowed request with a harmless header.
  const ok = http.get(`http://${R}/ok`, { headers: { 'x-fine': '1' } });
  check(ok, { 'allowed request answered': (r) => r.status === 200 });
  // Terminal escapes wherever guest text can reach the terminal.
  log.info('log \u001b[2J\u001b]0;title\u0007 \u009b31m end');
  check(true, { 'check \u001b[31mred\u001b[0m': () => true });
  try { new Counter('bad\u001b[2Jname').add(1); } catch (e) { log.info(`metric: ${e}`); }
  throw new Error('iteration error \u001b[2J\u001b]0;owned\u0007');
}
"#;

/// What the allowed recorder saw: each request head, as bytes.
type Seen = Arc<Mutex<Vec<String>>>;

/// A minimal HTTP/1.1 server on 127.0.0.1 that records request heads:
/// `/redirect` answers 302 to `outside`, anything else 200.
fn recorder(outside: String) -> (String, Seen, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let t = std::thread::spawn(move || {
        // Bounded: the scenario runs one iteration.
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            match l.accept() {
                Ok((s, _)) => answer(s, &outside, &record),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
            if record
                .lock()
                .unwrap()
                .iter()
                .any(|h| h.contains("GET /stop"))
            {
                break;
            }
        }
    });
    (addr, seen, t)
}

fn answer(mut s: TcpStream, outside: &str, record: &Seen) {
    s.set_nonblocking(false).ok();
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let response = if text.starts_with("GET /redirect") {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://{outside}/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    } else {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_string()
    };
    record.lock().unwrap().push(text);
    let _ = s.write_all(response.as_bytes());
}

#[test]
fn no_call_escapes_the_allowlist_or_reaches_the_terminal() {
    let dir = scratch("escapes", "all");
    // Off the allowlist: it must never see a connection.
    let outside = TcpListener::bind("127.0.0.7:0").expect("127.0.0.7 is loopback");
    outside.set_nonblocking(true).unwrap();
    let outside_addr = outside.local_addr().unwrap().to_string();
    let (rec, seen, rec_thread) = recorder(outside_addr.clone());
    let script = dir.join("scenario.js");
    std::fs::write(&script, SCENARIO).unwrap();
    let export = dir.join("summary.json");
    let (recorder_arg, outside_arg) =
        (format!("recorder={rec}"), format!("outside={outside_addr}"));
    let (_, stdout, stderr) = volley(&[
        "run",
        script.to_str().unwrap(),
        "-i",
        "1",
        "--allow-host",
        &rec,
        "-e",
        &recorder_arg,
        "-e",
        &outside_arg,
        "--summary-export",
        export.to_str().unwrap(),
        "--log-level",
        "info",
    ]);
    let _ = TcpStream::connect(&rec).and_then(|mut s| s.write_all(b"GET /stop HTTP/1.1\r\n\r\n"));
    rec_thread.join().unwrap();
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&export).unwrap_or_else(|e| panic!("no export ({e}):\n{stderr}")),
    )
    .unwrap();
    let checks = &doc["root_group"]["checks"];
    let names = [
        "http direct",
        "http localhost name",
        "http trailing dot",
        "http short ip",
        "http decimal ip",
        "http mapped v6",
        "http userinfo",
        "http redirect",
        "http host header",
        "http transfer-encoding",
        "http content-length",
        "ws direct",
        "ws localhost name",
        "ws decimal ip",
        "ws userinfo",
        "ws redirect",
        "ws host header",
        "ws key header",
        "allowed request answered",
    ];
    for name in names {
        assert_eq!(
            (
                checks[name]["passes"].as_u64(),
                checks[name]["fails"].as_u64()
            ),
            (Some(1), Some(0)),
            "check `{name}`: {}\n{stderr}",
            checks[name]
        );
    }
    // Nothing reached the outside listener; the recorder saw the control
    // request and never an injected or smuggled header.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        outside.accept().is_err(),
        "a connection reached 127.0.0.7\n{stderr}"
    );
    let heads = seen.lock().unwrap().join("\n---\n");
    assert!(heads.contains("x-fine: 1"), "{heads}");
    for bad in [
        "Injected",
        "injected",
        "transfer-encoding",
        "GET /host",
        "GET /te",
        "GET /cl",
        "GET /wshost",
        "GET /wskey",
    ] {
        assert!(
            !heads.contains(bad),
            "`{bad}` reached the recorder:\n{heads}"
        );
    }
    // No escape sequence reached the terminal, in any stream.
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{9b}'),
            "{what} carries a control sequence:\n{text:?}"
        );
    }
    assert!(
        stderr.contains("\\u{1b}[2J"),
        "the escapes are shown, defused: {stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
