//! The embedded HTTP target: an ingest service in the spirit of a message
//! API. `POST /messages` takes `{user_id, channel_id, content}` and answers
//! 201, or 422 naming the bad field; `GET /health`; `GET /stats` counts what
//! it saw so tests can check volley's numbers against the target's. It also
//! serves a ticket shop's API (users, login, event search, bookings with
//! limited seats: [`super::booking`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Behaviour knobs for tests and demos.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Added before answering each `POST /messages`.
    pub delay: Duration,
    /// Share of `POST /messages` answered 503 (0.0 to 1.0).
    pub error_rate: f64,
    /// Seats of each event of the booking API (default 100,000).
    pub seats: Option<u64>,
}

/// What the target saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub requests: u64,
    pub messages: u64,
    pub rejected: u64,
    pub injected_errors: u64,
    pub connections: u64,
    pub booking: super::booking::BookingStats,
}

#[derive(Debug)]
struct Counters {
    requests: AtomicU64,
    messages: AtomicU64,
    rejected: AtomicU64,
    injected_errors: AtomicU64,
    connections: AtomicU64,
    booking: super::booking::Booking,
    paths: super::echo::PathCounts,
}

impl Counters {
    fn new(opts: &IngestOptions) -> Counters {
        Counters {
            requests: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            injected_errors: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            booking: super::booking::Booking::new(opts.seats.unwrap_or(100_000)),
            paths: super::echo::PathCounts::default(),
        }
    }

    fn snapshot(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            injected_errors: self.injected_errors.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            booking: self.booking.stats(),
        }
    }
}

/// A running ingest target.
#[derive(Debug)]
pub struct EmbeddedServer {
    addr: SocketAddr,
    counters: Arc<Counters>,
    controls: Arc<super::fault::Controls>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl EmbeddedServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The switches `[[fault]]` entries turn (stop, pause, delay, errors).
    pub fn controls(&self) -> Arc<super::fault::Controls> {
        self.controls.clone()
    }

    /// Requests seen per `METHOD path` (query excluded).
    pub fn path_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.counters.paths.snapshot()
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds `addr` and serves HTTP/1.1 and h2c until shut down.
pub async fn start(addr: SocketAddr, opts: IngestOptions) -> std::io::Result<EmbeddedServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let counters = Arc::new(Counters::new(&opts));
    let (stop, stopped) = watch::channel(false);
    let controls = Arc::new(super::fault::Controls::default());
    let state = Arc::new((opts, counters.clone(), controls.clone()));
    let task = super::fault::accept_loop(
        listener,
        addr,
        controls.clone(),
        stopped.clone(),
        move |stream| {
            state.1.connections.fetch_add(1, Ordering::Relaxed);
            let state = state.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let faults = state.2.clone();
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move {
                        if state.2.before_answer().await {
                            state.1.injected_errors.fetch_add(1, Ordering::Relaxed);
                            let body = r#"{"error":"injected fault"}"#.into();
                            return Ok::<_, Infallible>(json(
                                StatusCode::SERVICE_UNAVAILABLE,
                                body,
                            ));
                        }
                        Ok::<_, Infallible>(handle(req, &state.0, &state.1).await)
                    }
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                // A stop fault closes every connection, as a crash would.
                tokio::select! {
                    _ = conn => {}
                    _ = stopped.changed() => {}
                    () = faults.stopped() => {}
                }
            });
        },
    );
    Ok(EmbeddedServer {
        addr,
        counters,
        controls,
        stop,
        task,
    })
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

fn query_delay(req: &Request<Incoming>) -> Option<Duration> {
    req.uri().query()?.split('&').find_map(|kv| {
        let ms = kv.strip_prefix("delay_ms=")?;
        ms.parse().ok().map(Duration::from_millis)
    })
}

async fn handle(
    req: Request<Incoming>,
    opts: &IngestOptions,
    c: &Counters,
) -> Response<Full<Bytes>> {
    c.requests.fetch_add(1, Ordering::Relaxed);
    c.paths.add(req.method(), req.uri().path());
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => json(StatusCode::OK, r#"{"status":"ok"}"#.into()),
        (&Method::GET, "/stats") => json(
            StatusCode::OK,
            serde_json::to_string(&c.snapshot()).unwrap_or_default(),
        ),
        (&Method::POST, "/messages") => {
            let delay = query_delay(&req).unwrap_or(opts.delay);
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return json(
                        StatusCode::BAD_REQUEST,
                        r#"{"error":"unreadable body"}"#.into(),
                    );
                }
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if opts.error_rate > 0.0 && rand::random::<f64>() < opts.error_rate {
                c.injected_errors.fetch_add(1, Ordering::Relaxed);
                return json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"error":"injected failure"}"#.into(),
                );
            }
            match validate(&body) {
                Ok(()) => {
                    let id = c.messages.fetch_add(1, Ordering::Relaxed) + 1;
                    json(StatusCode::CREATED, format!(r#"{{"id":{id}}}"#))
                }
                Err((status, msg)) => {
                    c.rejected.fetch_add(1, Ordering::Relaxed);
                    json(status, serde_json::json!({ "error": msg }).to_string())
                }
            }
        }
        _ => {
            let method = req.method().clone();
            let path = req.uri().path().to_string();
            let query = req.uri().query().map(str::to_string);
            let auth = req
                .headers()
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let headers = req.headers().clone();
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => Bytes::new(),
            };
            if let Some((status, extra, body)) =
                super::echo::handle(&method, &path, query.as_deref(), &headers, &body)
            {
                let mut r = json(status, body);
                for (k, v) in extra {
                    if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                        r.headers_mut().append(k, v);
                    }
                }
                return r;
            }
            match c
                .booking
                .handle(&method, &path, query.as_deref(), auth.as_deref(), &body)
            {
                Some((status, body)) => json(status, body),
                None => {
                    c.rejected.fetch_add(1, Ordering::Relaxed);
                    json(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#.into())
                }
            }
        }
    }
}

fn validate(body: &[u8]) -> Result<(), (StatusCode, String)> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))?;
    let unprocessable = |m: &str| (StatusCode::UNPROCESSABLE_ENTITY, m.to_string());
    let obj = v
        .as_object()
        .ok_or_else(|| unprocessable("body must be a JSON object"))?;
    for field in ["user_id", "channel_id"] {
        match obj.get(field).and_then(|x| x.as_u64()) {
            Some(n) if n > 0 => {}
            _ => {
                return Err(unprocessable(&format!(
                    "`{field}` must be a positive integer"
                )));
            }
        }
    }
    match obj.get("content").and_then(|x| x.as_str()) {
        Some(s) if !s.is_empty() && s.len() <= 4096 => Ok(()),
        _ => Err(unprocessable(
            "`content` must be a non-empty string of at most 4096 bytes",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Allowlist;
    use crate::protocol::http::{HttpClient, Request as Req};

    async fn post(client: &HttpClient, url: &str, body: &str) -> u16 {
        client
            .send(Req {
                method: "POST".into(),
                url: format!("{url}/messages"),
                headers: vec![("content-type".into(), "application/json".into())],
                body: Bytes::from(body.to_string()),
                timeout: None,
                max_redirects: None,
            })
            .await
            .unwrap()
            .status
    }

    #[tokio::test]
    async fn validates_and_counts() {
        let s = start("127.0.0.1:0".parse().unwrap(), IngestOptions::default())
            .await
            .unwrap();
        let client = HttpClient::new(Allowlist::parse(&["127.0.0.1"]).unwrap(), false).unwrap();
        let url = s.url();
        for i in 1..=20 {
            let body = format!(r#"{{"user_id":{i},"channel_id":3,"content":"m{i}"}}"#);
            assert_eq!(post(&client, &url, &body).await, 201);
        }
        assert_eq!(
            post(&client, &url, r#"{"user_id":1,"channel_id":3}"#).await,
            422
        );
        assert_eq!(
            post(
                &client,
                &url,
                r#"{"user_id":"x","channel_id":3,"content":"a"}"#
            )
            .await,
            422
        );
        assert_eq!(post(&client, &url, "{not json").await, 400);
        let st = s.stats();
        assert_eq!((st.requests, st.messages, st.rejected), (23, 20, 3));
        // 23 sequential requests reuse one kept-alive connection.
        assert_eq!(st.connections, 1);
        s.shutdown().await;
    }

    #[tokio::test]
    async fn serves_the_booking_api() {
        let opts = IngestOptions {
            seats: Some(1),
            ..Default::default()
        };
        let s = start("127.0.0.1:0".parse().unwrap(), opts).await.unwrap();
        let client = HttpClient::new(Allowlist::parse(&["127.0.0.1"]).unwrap(), false).unwrap();
        let call = |method: &str, path: &str, auth: Option<String>, body: &str| {
            let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
            headers.extend(auth.map(|a| ("authorization".to_string(), a)));
            client.send(Req {
                method: method.into(),
                url: format!("{}{path}", s.url()),
                headers,
                body: Bytes::from(body.to_string()),
                timeout: None,
                max_redirects: None,
            })
        };
        let user = r#"{"username":"bo","password":"pw"}"#;
        assert_eq!(
            call("POST", "/users", None, user).await.unwrap().status,
            201
        );
        let login = call("POST", "/login", None, user).await.unwrap();
        assert_eq!(login.status, 200);
        let token: serde_json::Value = serde_json::from_slice(&login.body).unwrap();
        let auth = Some(format!("Bearer {}", token["token"].as_str().unwrap()));
        let found = call("GET", "/events?q=vienna", None, "").await.unwrap();
        assert_eq!(found.status, 200);
        assert!(String::from_utf8_lossy(&found.body).contains("Opera Gala"));
        let book = |a| call("POST", "/events/4/bookings", a, r#"{"seats":1}"#);
        assert_eq!(book(auth.clone()).await.unwrap().status, 201);
        assert_eq!(book(auth).await.unwrap().status, 409);
        assert_eq!(book(None).await.unwrap().status, 401);
        let st = s.stats().booking;
        assert_eq!((st.users, st.bookings, st.sold_out), (1, 1, 1));
        s.shutdown().await;
    }

    #[tokio::test]
    async fn injects_errors_and_delay() {
        let opts = IngestOptions {
            delay: Duration::from_millis(30),
            error_rate: 1.0,
            ..Default::default()
        };
        let s = start("127.0.0.1:0".parse().unwrap(), opts).await.unwrap();
        let client = HttpClient::new(Allowlist::parse(&["127.0.0.1"]).unwrap(), false).unwrap();
        let t = std::time::Instant::now();
        let body = r#"{"user_id":1,"channel_id":1,"content":"x"}"#;
        assert_eq!(post(&client, &s.url(), body).await, 503);
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert_eq!(s.stats().injected_errors, 1);
        s.shutdown().await;
    }
}
