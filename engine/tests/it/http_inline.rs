//! Plain http:// requests on each VU's own keep-alive connection: one
//! connection carries a VU's requests; chunked bodies, servers that close,
//! dead and silent targets behave as on the pooled client.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use volley::protocol::Allowlist;
use volley::protocol::http::{HttpClient, Local, Request};
use volley::protocol::net::ErrorClass;

use crate::support::*;

#[test]
fn each_vu_keeps_one_connection_for_all_its_requests() {
    let (server_rt, server) = standalone_http();
    let url = server.url();
    let out = run_plan(gets_plan(&url, &format!("{url}/health"), 3, 40, ""));
    let stats = server.stats();
    assert_eq!(stats.requests, 120);
    assert_eq!(stats.connections, 3, "one keep-alive connection per VU");
    assert_eq!(rate_counts(&out, "checks"), (120, 120));
    assert_eq!(rate_counts(&out, "http_req_failed"), (0, 120));
    // The phases the pooled client could not time, one sample per request.
    assert_eq!(trend_count(&out, "http_req_connecting"), 120);
    assert_eq!(trend_count(&out, "http_req_sending"), 120);
    server_rt.block_on(server.shutdown());
}

/// How a [`RawServer`] answers each request on a connection.
#[derive(Clone, Copy)]
enum Reply {
    /// `hello, chunked world` in three chunks, with a trailer.
    Chunked,
    /// A response, then the server closes without saying so.
    ThenClose,
    /// A response with `connection: close`, then the server closes.
    ConnectionClose,
    /// Reads the request, answers nothing.
    Silent,
    /// `ok`, and the connection kept open for the next request.
    KeepAlive,
    /// The first connection [`Reply::Silent`], every later one
    /// [`Reply::KeepAlive`].
    SilentFirst,
}

/// A loopback HTTP/1.1 server written against the socket, for framings
/// the embedded target does not send. Counts its connections.
struct RawServer {
    url: String,
    connections: Arc<AtomicU64>,
}

impl RawServer {
    fn start(reply: Reply) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicU64::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(60);
            while Instant::now() < until {
                match listener.accept() {
                    Ok((s, _)) => {
                        let before = count.fetch_add(1, Ordering::Relaxed);
                        let reply = match reply {
                            Reply::SilentFirst if before == 0 => Reply::Silent,
                            Reply::SilentFirst => Reply::KeepAlive,
                            other => other,
                        };
                        std::thread::spawn(move || serve(s, reply));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        RawServer { url, connections }
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

fn serve(mut s: TcpStream, reply: Reply) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    for _ in 0..1000 {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.clear();
        let answer: &[u8] = match reply {
            Reply::Chunked => {
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n2;ext=1\r\n, \r\ne\r\nchunked world!\r\n0\r\nx-trailer: 1\r\n\r\n"
            }
            Reply::ThenClose | Reply::KeepAlive | Reply::SilentFirst => {
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
            }
            Reply::ConnectionClose => {
                b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
            }
            Reply::Silent => {
                std::thread::sleep(Duration::from_secs(3));
                return;
            }
        };
        if s.write_all(answer).is_err() {
            return;
        }
        if matches!(reply, Reply::ThenClose | Reply::ConnectionClose) {
            return;
        }
    }
}

fn client() -> HttpClient {
    HttpClient::new(Allowlist::parse(&["127.0.0.1"]).unwrap(), false).unwrap()
}

fn get(url: &str, timeout: Option<Duration>) -> Request {
    Request {
        method: "GET".into(),
        url: url.into(),
        timeout,
        ..Default::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn chunked_bodies_arrive_whole_and_the_connection_is_reused() {
    let server = RawServer::start(Reply::Chunked);
    let (client, mut local) = (client(), Local::default());
    runtime().block_on(async {
        for _ in 0..5 {
            let r = client
                .send_inline(get(&server.url, None), &mut local)
                .await
                .unwrap();
            assert_eq!(&r.body[..], b"hello, chunked world!");
            assert_eq!(r.protocol, "HTTP/1.1");
        }
    });
    assert_eq!(server.connections(), 1);
}

#[test]
fn a_vu_alternating_between_hosts_keeps_a_connection_to_each() {
    // Eight hosts: the last request's and seven kept idle. Each is asked
    // three times, in turn: one connection each, and each request after
    // a host's first goes on its open connection.
    let servers: Vec<RawServer> = (0..8).map(|_| RawServer::start(Reply::KeepAlive)).collect();
    let (client, mut local, rt) = (client(), Local::default(), runtime());
    rt.block_on(async {
        for round in 0..3 {
            for s in &servers {
                let r = client
                    .send_inline(get(&s.url, None), &mut local)
                    .await
                    .unwrap();
                assert_eq!(&r.body[..], b"ok");
                let connecting = r.timings.connecting.unwrap();
                assert_eq!(
                    round > 0,
                    connecting.is_zero(),
                    "round {round}: {connecting:?}"
                );
            }
        }
    });
    for s in &servers {
        assert_eq!(s.connections(), 1, "{}", s.url);
    }
    // A ninth host closes the one idle longest: the first host's next
    // request opens a new connection, the others' still reuse theirs.
    let ninth = RawServer::start(Reply::KeepAlive);
    rt.block_on(async {
        for url in [&ninth.url, &servers[0].url, &servers[7].url] {
            client
                .send_inline(get(url, None), &mut local)
                .await
                .unwrap();
        }
    });
    assert_eq!(servers[0].connections(), 2);
    assert_eq!(servers[7].connections(), 1);
    assert_eq!(ninth.connections(), 1);
}

#[test]
fn a_server_that_closes_after_each_response_costs_no_request() {
    for reply in [Reply::ThenClose, Reply::ConnectionClose] {
        let server = RawServer::start(reply);
        let (client, mut local) = (client(), Local::default());
        runtime().block_on(async {
            for i in 0..10 {
                // POST too: it is not retried, so the closed connection
                // must be noticed before it is used.
                let method = if i % 2 == 0 { "GET" } else { "POST" };
                let r = client
                    .send_inline(
                        Request {
                            method: method.into(),
                            ..get(&server.url, None)
                        },
                        &mut local,
                    )
                    .await
                    .unwrap_or_else(|e| panic!("request {i} ({method}): {e:?}"));
                assert_eq!(&r.body[..], b"ok");
                // Give the close time to arrive, as between iterations.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        assert_eq!(server.connections(), 10);
    }
}

#[test]
fn a_silent_target_times_out_and_the_next_request_reconnects() {
    let server = RawServer::start(Reply::Silent);
    let (client, mut local) = (client(), Local::default());
    runtime().block_on(async {
        for _ in 0..2 {
            let e = client
                .send_inline(
                    get(&server.url, Some(Duration::from_millis(200))),
                    &mut local,
                )
                .await
                .unwrap_err();
            assert_eq!(e.class, ErrorClass::Timeout, "{e:?}");
        }
    });
    assert_eq!(
        server.connections(),
        2,
        "a timed-out connection is not reused"
    );
}

/// `vus` VUs each running `iterations` GETs against `server`, every
/// iteration given 300 ms: all iterations ran, `timed_out` of them failed
/// by their timeout.
fn run_timed_out(
    server: &RawServer,
    vus: u32,
    iterations: u32,
    timed_out: u32,
) -> volley::run::Outcome {
    let plan = gets_plan(
        &server.url,
        &server.url,
        vus,
        iterations,
        r#"iterationTimeout = "300ms""#,
    );
    let out = run_plan(plan);
    assert_eq!(counter(&out, "iterations"), f64::from(vus * iterations));
    assert_eq!(
        counter_where(&out, "iterations_failed", "class", "timeout"),
        f64::from(timed_out)
    );
    out
}

#[test]
fn a_vu_waiting_on_a_silent_target_is_stopped_by_its_iteration_timeout() {
    // The request's 60 s outlast the iteration's 300 ms: the iteration's
    // timeout ends the wait, every time, and the run is not green.
    let server = RawServer::start(Reply::Silent);
    let out = run_timed_out(&server, 2, 2, 4);
    assert_eq!(out.exit, volley::ExitCode::ThresholdsFailed);
}

#[test]
fn a_vu_cut_off_mid_request_goes_on_with_a_new_connection() {
    // The first connection never answers: the VU's first iteration is cut
    // off by its timeout with its exchange in flight (dropped with the
    // call, off the VU's fiber), and its next requests go out on a second
    // connection, kept for both.
    let server = RawServer::start(Reply::SilentFirst);
    let out = run_timed_out(&server, 1, 3, 1);
    assert_eq!(rate_counts(&out, "checks"), (2, 2));
    assert_eq!(rate_counts(&out, "http_req_failed"), (0, 2));
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_dead_target_is_refused_and_bad_requests_are_invalid() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (client, mut local) = (client(), Local::default());
    runtime().block_on(async {
        let url = format!("http://127.0.0.1:{port}/");
        let e = client
            .send_inline(get(&url, None), &mut local)
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Refused, "{e:?}");
        for (header, class) in [
            ("content-length", ErrorClass::InvalidRequest),
            ("bad header", ErrorClass::InvalidRequest),
        ] {
            let e = client
                .send_inline(
                    Request {
                        headers: vec![(header.into(), "1".into())],
                        ..get(&url, None)
                    },
                    &mut local,
                )
                .await
                .unwrap_err();
            assert_eq!(e.class, class, "{header}: {e:?}");
        }
        // Twice each: the second finds the URL's parse kept from the first
        // (or, for a URL that did not parse, nothing kept).
        for (url, class) in [
            ("http://10.1.2.3:9/", ErrorClass::NotAllowed),
            ("http://", ErrorClass::InvalidRequest),
            ("http://127.0.0.1:99999/", ErrorClass::InvalidRequest),
        ] {
            for _ in 0..2 {
                let e = client
                    .send_inline(get(url, None), &mut local)
                    .await
                    .unwrap_err();
                assert_eq!(e.class, class, "{url}: {e:?}");
            }
        }
    });
}
