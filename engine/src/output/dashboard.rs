//! `volley run --dashboard[=ADDR]`: a live page served by the engine.
//!
//! `GET /` is one HTML page with its script inline (`dashboard.html`, no
//! external asset, no build step); `GET /events` is a server-sent-events
//! stream fed once a second by the [`Dashboard`] output: `start` (the
//! scenarios and thresholds), `snapshot` (a timeline [`Point`] plus the
//! thresholds and checks so far), `stop` (the final verdict). A page that
//! connects late first gets what it missed (bounded). `POST /stop` stops
//! the run gracefully, as `volley stop` does; `POST /scale` takes the
//! live-control API's `scale` request (what `volley scale` sends) and
//! answers as the control endpoint does.
//!
//! Loopback only unless the runner says otherwise; requests must name the
//! address the page was served from (a `Host` check against DNS
//! rebinding), and a `POST` from another origin is refused, so a web page
//! in the same browser cannot stop the run.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast;

use super::Report;
use super::seam::{Output, RunInfo, Tick};
use super::timeline::{Point, Timeline};
use crate::Error;
use crate::control;
use crate::metrics::{Aggregate, ThresholdResult, Thresholds, Value};

/// The page, script and styles inline.
const PAGE: &str = include_str!("dashboard.html");

/// Snapshots a late page gets (15 minutes of seconds).
const HISTORY: usize = 900;

/// Where the dashboard listens.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    pub addr: SocketAddr,
    /// Whether a non-loopback address was asked for explicitly.
    pub allow_remote: bool,
}

/// The default address, as k6's dashboard.
pub const DEFAULT_ADDR: &str = "127.0.0.1:5665";

impl DashboardOptions {
    /// `--dashboard[=ADDR]` and `--dashboard-allow-remote`.
    pub fn parse(addr: &str, allow_remote: bool) -> Result<DashboardOptions, Error> {
        let addr: SocketAddr = addr.parse().map_err(|_| {
            Error::Config(format!(
                "--dashboard={addr}: write an IP address and port, e.g. --dashboard={DEFAULT_ADDR}"
            ))
        })?;
        if !addr.ip().is_loopback() && !allow_remote {
            return Err(Error::Config(format!(
                "--dashboard={addr}: not a loopback address; anyone who reaches it can watch and stop the run: add --dashboard-allow-remote if that is meant"
            )));
        }
        Ok(DashboardOptions { addr, allow_remote })
    }
}

/// What the page's stop button does (the run's graceful stop).
pub type StopFn = Arc<dyn Fn() + Send + Sync>;

/// The events a page has missed, and the live ones.
pub struct Hub {
    tx: broadcast::Sender<Arc<str>>,
    past: Mutex<Past>,
}

#[derive(Default)]
struct Past {
    start: Option<Arc<str>>,
    snapshots: VecDeque<Arc<str>>,
    stop: Option<Arc<str>>,
}

impl Hub {
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub {
            tx: broadcast::channel(64).0,
            past: Mutex::default(),
        })
    }

    fn publish(&self, event: &str, data: &serde_json::Value) {
        let text: Arc<str> = format!("event: {event}\ndata: {data}\n\n").into();
        let mut past = self.past.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            "start" => past.start = Some(text.clone()),
            "stop" => past.stop = Some(text.clone()),
            _ => {
                if past.snapshots.len() >= HISTORY {
                    past.snapshots.pop_front();
                }
                past.snapshots.push_back(text.clone());
            }
        }
        // Under the lock: a page subscribing now sees it either in the
        // past or live, never twice or not at all.
        let _ = self.tx.send(text);
    }

    /// What a page connecting now must be sent first, and the live rest.
    fn subscribe(&self) -> (Vec<Arc<str>>, broadcast::Receiver<Arc<str>>) {
        let past = self.past.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        let mut first: Vec<Arc<str>> = past.start.iter().cloned().collect();
        first.extend(past.snapshots.iter().cloned());
        first.extend(past.stop.iter().cloned());
        (first, rx)
    }
}

/// The output that feeds the page.
pub struct Dashboard {
    hub: Arc<Hub>,
    timeline: Timeline,
    thresholds: Thresholds,
}

impl Dashboard {
    pub fn new(hub: Arc<Hub>, thresholds: Thresholds) -> Dashboard {
        Dashboard {
            hub,
            timeline: Timeline::new(),
            thresholds,
        }
    }
}

#[derive(Serialize)]
struct ThresholdRow {
    metric: String,
    expr: String,
    ok: bool,
    no_data: bool,
    observed: f64,
}

fn threshold_rows(results: &[ThresholdResult]) -> Vec<ThresholdRow> {
    results
        .iter()
        .map(|r| ThresholdRow {
            metric: r.threshold.selector.to_string(),
            expr: r.threshold.source.clone(),
            ok: r.ok && r.metric_found,
            no_data: r.no_data,
            observed: r.observed,
        })
        .collect()
}

fn check_rows(agg: &Aggregate) -> Vec<serde_json::Value> {
    agg.by_tag("checks", "check")
        .into_iter()
        .filter_map(|(name, v)| match v {
            Value::Rate { trues, total } => {
                Some(json!({"name": name, "passes": trues, "fails": total - trues}))
            }
            _ => None,
        })
        .collect()
}

fn totals(agg: &Aggregate) -> serde_json::Value {
    json!({
        "iterations": agg.counter("iterations"),
        "iterations_failed": agg.counter("iterations_failed"),
        "http_reqs": agg.counter("http_reqs"),
        "dropped_iterations": agg.counter("dropped_iterations"),
    })
}

impl Output for Dashboard {
    fn name(&self) -> &str {
        "dashboard"
    }

    fn start(&mut self, info: &RunInfo) -> Result<(), Error> {
        let scenarios: Vec<_> = info
            .scenarios
            .iter()
            .map(|s| json!({"name": s.name, "executor": s.executor, "max_vus": s.max_vus}))
            .collect();
        let thresholds: Vec<_> = self
            .thresholds
            .list
            .iter()
            .map(|t| json!({"metric": t.selector.to_string(), "expr": t.source}))
            .collect();
        self.hub.publish(
            "start",
            &json!({"scenarios": scenarios, "thresholds": thresholds, "seed": info.seed}),
        );
        Ok(())
    }

    fn interval(&mut self, tick: &Tick<'_>) -> Result<(), Error> {
        let point: Point = self.timeline.record(tick);
        let results = self
            .thresholds
            .evaluate(tick.total, tick.elapsed, |n| tick.total.kind_of(n));
        self.hub.publish(
            "snapshot",
            &json!({
                "point": point,
                "thresholds": threshold_rows(&results),
                "checks": check_rows(tick.total),
                "totals": totals(tick.total),
            }),
        );
        Ok(())
    }

    fn finish(&mut self, report: &Report) -> Result<(), Error> {
        self.hub.publish(
            "stop",
            &json!({
                "elapsed": report.elapsed.as_secs_f64(),
                "aborted": report.aborted,
                "thresholds": threshold_rows(&report.thresholds),
                "checks": check_rows(&report.aggregate),
                "totals": totals(&report.aggregate),
            }),
        );
        Ok(())
    }
}

/// A serving dashboard; stops serving when dropped.
pub struct Server {
    addr: SocketAddr,
    /// The run's live control, once its scenarios exist.
    control: Arc<OnceLock<Arc<control::Context>>>,
    task: tokio::task::JoinHandle<()>,
    /// Event streams still open: each ends after it sent `stop`.
    open: Arc<OpenCount>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Lets the page scale the scenarios: until then `POST /scale` is
    /// refused (the page opens before the scenarios are set up).
    pub fn attach(&self, ctx: Arc<control::Context>) {
        let _ = self.control.set(ctx);
    }

    /// Waits (at most `limit`) until every open page got the final `stop`
    /// event: the process exits right after the run, and would cut the
    /// streams before the last event reached them.
    pub async fn close(self, limit: std::time::Duration) {
        let mut open = self.open.subscribe();
        if open.borrow().ever == 0 {
            return;
        }
        let _ = tokio::time::timeout(limit, open.wait_for(|n| n.now == 0)).await;
        // The stream ended when hyper asked for its next frame; give the
        // connection a moment to flush the last one.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Ctx {
    hub: Arc<Hub>,
    open: Arc<OpenCount>,
    stop: StopFn,
    control: Arc<OnceLock<Arc<control::Context>>>,
    addr: SocketAddr,
    allow_remote: bool,
}

/// Binds the dashboard's address and serves it until dropped.
pub async fn serve(opts: &DashboardOptions, hub: Arc<Hub>, stop: StopFn) -> Result<Server, Error> {
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| {
            Error::Config(format!(
                "--dashboard={}: cannot listen there ({e}); pick another port, e.g. --dashboard=127.0.0.1:0",
                opts.addr
            ))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("dashboard address", e))?;
    let open = Arc::new(OpenCount::default());
    let control = Arc::new(OnceLock::new());
    let ctx = Arc::new(Ctx {
        hub,
        open: open.clone(),
        stop,
        control: control.clone(),
        addr,
        allow_remote: opts.allow_remote,
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let ctx = ctx.clone();
                    async move { Ok::<_, Infallible>(answer(req, &ctx).await) }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Server {
        addr,
        control,
        task,
        open,
    })
}

type Body = BoxBody<Bytes, Infallible>;

fn text(status: StatusCode, kind: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", kind)
        .header("cache-control", "no-store")
        .body(Full::new(body.into()).boxed())
        .expect("static response parts are valid")
}

/// Whether `host` (a `Host` or the authority of an `Origin`) names the
/// dashboard itself.
fn is_own_host(host: &str, ctx: &Ctx) -> bool {
    if ctx.allow_remote {
        return true;
    }
    let port = ctx.addr.port();
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        ctx.addr.to_string(),
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(host))
}

async fn answer(req: Request<Incoming>, ctx: &Ctx) -> Response<Body> {
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !is_own_host(host, ctx) {
        return text(
            StatusCode::MISDIRECTED_REQUEST,
            "text/plain",
            "unknown Host\n",
        );
    }
    let path = req.uri().path().to_string();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/") => text(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        (&Method::GET, "/events") => events(&ctx.hub, &ctx.open),
        (&Method::POST, "/stop" | "/scale") if !same_origin(&req, ctx) => text(
            StatusCode::FORBIDDEN,
            "text/plain",
            "another origin may not control this run\n",
        ),
        (&Method::POST, "/stop") => {
            (ctx.stop)();
            text(StatusCode::OK, "application/json", r#"{"ok":true}"#)
        }
        (&Method::POST, "/scale") => scale(req, ctx).await,
        (_, "/" | "/events" | "/stop" | "/scale") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        ),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

/// Whether a `POST` comes from the dashboard's own page (or from no page).
fn same_origin(req: &Request<Incoming>, ctx: &Ctx) -> bool {
    let origin = req.headers().get("origin").and_then(|h| h.to_str().ok());
    origin.is_none_or(|o| {
        o.strip_prefix("http://")
            .is_some_and(|rest| is_own_host(rest, ctx))
    })
}

/// A scale request is one short JSON object.
const MAX_SCALE_BODY: usize = 4096;

/// `POST /scale`: the control API's `scale` request, answered as the
/// control endpoint answers it (200 when done, 400 with the reason if not).
async fn scale(req: Request<Incoming>, ctx: &Ctx) -> Response<Body> {
    let json = |status, v: serde_json::Value| text(status, "application/json", v.to_string());
    let Some(control) = ctx.control.get() else {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            control::refusal("the scenarios have not started yet; try again in a moment"),
        );
    };
    let body = match Limited::new(req.into_body(), MAX_SCALE_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return json(
                StatusCode::BAD_REQUEST,
                control::refusal(format!("reading the request: {e}")),
            );
        }
    };
    let request = match scale_request(&body) {
        Ok(r) => r,
        Err(e) => return json(StatusCode::BAD_REQUEST, control::refusal(e)),
    };
    let answer = control::handle(request, control, None).await;
    let status = if answer["ok"] == true {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    json(status, answer)
}

/// The body as a control `scale` request; any other command is refused
/// (a page may not swap components by path).
fn scale_request(body: &[u8]) -> Result<control::Request, String> {
    let example = r#"{"cmd":"scale","scenario":"default","vus":5}"#;
    match serde_json::from_slice::<control::Request>(body) {
        Ok(r @ control::Request::Scale { .. }) => Ok(r),
        Ok(_) => Err(format!("only `scale` is taken here, e.g. {example}")),
        Err(e) => Err(format!("bad scale request ({e}); send e.g. {example}")),
    }
}

/// The event stream: what was missed, then each event as it comes. A page
/// too slow to keep up skips what it lagged behind on.
fn events(hub: &Hub, open: &Arc<OpenCount>) -> Response<Body> {
    let (first, rx) = hub.subscribe();
    let guard = OpenStream::new(open);
    let mut opening = String::from("retry: 2000\n\n");
    for e in &first {
        opening.push_str(e);
    }
    // The stream ends after `stop`: the run is over and the page has all.
    let over = first.iter().any(|e| e.starts_with("event: stop\n"));
    let stream = futures_util::stream::unfold(
        (Some(opening), rx, over, guard),
        |(opening, mut rx, over, guard)| async move {
            if let Some(o) = opening {
                return Some((
                    Ok::<_, Infallible>(Frame::data(Bytes::from(o))),
                    (None, rx, over, guard),
                ));
            }
            if over {
                return None;
            }
            loop {
                match rx.recv().await {
                    Ok(e) => {
                        let over = e.starts_with("event: stop\n");
                        let frame = Frame::data(Bytes::from(e.to_string()));
                        return Some((Ok(frame), (None, rx, over, guard)));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-store")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("static response parts are valid")
}

/// How many event streams are open now and were ever opened;
/// [`Server::close`] waits until none is open.
type OpenCount = tokio::sync::watch::Sender<Streams>;

#[derive(Debug, Default, Clone, Copy)]
struct Streams {
    now: usize,
    ever: usize,
}

/// Counts an open event stream until the stream (and so the frame it
/// sent last) is dropped by the connection.
struct OpenStream(Arc<OpenCount>);

impl OpenStream {
    fn new(open: &Arc<OpenCount>) -> OpenStream {
        open.send_modify(|n| {
            n.now += 1;
            n.ever += 1;
        });
        OpenStream(open.clone())
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.send_modify(|n| n.now -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_address_needs_the_flag() {
        assert!(DashboardOptions::parse("127.0.0.1:0", false).is_ok());
        assert!(DashboardOptions::parse("[::1]:5665", false).is_ok());
        let e = DashboardOptions::parse("0.0.0.0:5665", false).unwrap_err();
        assert!(e.to_string().contains("--dashboard-allow-remote"), "{e}");
        assert!(DashboardOptions::parse("0.0.0.0:5665", true).is_ok());
        let e = DashboardOptions::parse("localhost", false).unwrap_err();
        assert!(e.to_string().contains("IP address and port"), "{e}");
    }

    #[test]
    fn a_late_page_gets_what_it_missed_once() {
        let hub = Hub::new();
        hub.publish("start", &json!({"a": 1}));
        for i in 0..(HISTORY + 5) {
            hub.publish("snapshot", &json!({ "i": i }));
        }
        let (first, mut rx) = hub.subscribe();
        assert_eq!(first.len(), 1 + HISTORY);
        assert!(first[0].starts_with("event: start\n"));
        assert!(first[1].contains(r#"{"i":5}"#), "{}", first[1]);
        hub.publish("stop", &json!({}));
        assert!(rx.try_recv().unwrap().starts_with("event: stop\n"));
        let (first, _) = hub.subscribe();
        assert!(first.last().unwrap().starts_with("event: stop\n"));
    }

    #[test]
    fn only_scale_requests_are_taken() {
        let r = scale_request(br#"{"cmd":"scale","scenario":"s","vus":4}"#).unwrap();
        assert!(matches!(
            r,
            control::Request::Scale { ref scenario, vus: Some(4), rate: None } if scenario == "s"
        ));
        let e = scale_request(br#"{"cmd":"swap","path":"/tmp/x.wasm"}"#).unwrap_err();
        assert!(e.contains("only `scale`"), "{e}");
        let e = scale_request(b"vus=4").unwrap_err();
        assert!(e.contains(r#""cmd":"scale""#), "{e}");
    }

    #[test]
    fn the_page_has_no_external_asset() {
        for needle in ["src=\"http", "href=\"http", "@import", "//cdn"] {
            assert!(!PAGE.contains(needle), "{needle}");
        }
        assert!(PAGE.contains("new EventSource(\"/events\")"));
    }
}
