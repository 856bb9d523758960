//! The embedded auction target: contended writes and WebSocket fan-out.
//! `POST /items/{id}/bids` accepts `{"amount": N, "bidder": "..."}` only if N
//! is higher than the item's current bid, atomically (409 otherwise, with the
//! current bid); `GET /items/{id}` shows the item and its viewer count;
//! WebSocket `/ws/items/{id}` pushes every accepted bid of the item as
//! `{"item":ID,"seq":S,"amount":N,"bidder":"..."}`; WebSocket `/ws/echo`
//! sends every text and binary message back (the text `bye` makes it close
//! with code 4000, so clients can see a close the server started; it takes
//! the first subprotocol offered); `GET /health`; `GET /stats` counts what
//! the service saw so tests can check volley's numbers.
//! Items exist from their first mention, with a current bid of 0.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::fault::{Controls, accept_loop};

/// Accepted bids a slow viewer may fall behind by before it misses some.
const BROADCAST_BACKLOG: usize = 1024;

/// What the service saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub requests: u64,
    pub bids_accepted: u64,
    pub bids_rejected: u64,
    /// WebSocket connections open now.
    pub viewers: u64,
    /// WebSocket connections ever accepted.
    pub viewer_sessions: u64,
    /// Bid messages written to viewers.
    pub broadcasts_sent: u64,
    /// Bid messages viewers missed by falling more than 1,024 bids behind.
    pub broadcasts_missed: u64,
    /// `/ws/echo` connections ever accepted.
    pub echo_sessions: u64,
    /// Messages `/ws/echo` received (and sent back, but for `bye`).
    pub echo_messages: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    bids_accepted: AtomicU64,
    bids_rejected: AtomicU64,
    viewers: AtomicU64,
    viewer_sessions: AtomicU64,
    broadcasts_sent: AtomicU64,
    broadcasts_missed: AtomicU64,
    echo_sessions: AtomicU64,
    echo_messages: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Stats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            requests: get(&self.requests),
            bids_accepted: get(&self.bids_accepted),
            bids_rejected: get(&self.bids_rejected),
            viewers: get(&self.viewers),
            viewer_sessions: get(&self.viewer_sessions),
            broadcasts_sent: get(&self.broadcasts_sent),
            broadcasts_missed: get(&self.broadcasts_missed),
            echo_sessions: get(&self.echo_sessions),
            echo_messages: get(&self.echo_messages),
        }
    }
}

#[derive(Debug)]
struct Item {
    current: u64,
    bidder: String,
    seq: u64,
    feed: broadcast::Sender<Utf8Bytes>,
}

impl Item {
    fn new() -> Self {
        Item {
            current: 0,
            bidder: String::new(),
            seq: 0,
            feed: broadcast::channel(BROADCAST_BACKLOG).0,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    items: Mutex<HashMap<u64, Item>>,
    counters: Counters,
}

impl State {
    fn with_item<R>(&self, id: u64, f: impl FnOnce(&mut Item) -> R) -> R {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        f(items.entry(id).or_insert_with(Item::new))
    }
}

/// A running auction target.
#[derive(Debug)]
pub struct AuctionServer {
    addr: SocketAddr,
    state: Arc<State>,
    controls: Arc<Controls>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl AuctionServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> Stats {
        self.state.counters.snapshot()
    }

    /// The `[[fault]]` switches: a stop drops every HTTP connection and
    /// viewer socket, as a crash would.
    pub fn controls(&self) -> Arc<Controls> {
        self.controls.clone()
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds `addr` and serves until shut down.
pub async fn start(addr: SocketAddr) -> std::io::Result<AuctionServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(State::default());
    let controls = Arc::new(Controls::default());
    let (stop, stopped) = watch::channel(false);
    let task = {
        let (state, faults) = (state.clone(), controls.clone());
        accept_loop(
            listener,
            addr,
            controls.clone(),
            stopped.clone(),
            move |stream| {
                let conn = Conn {
                    state: state.clone(),
                    stopped: stopped.clone(),
                    faults: faults.clone(),
                };
                tokio::spawn(conn.serve(stream));
            },
        )
    };
    Ok(AuctionServer {
        addr,
        state,
        controls,
        stop,
        task,
    })
}

/// What one connection (and the viewer socket it may become) needs.
#[derive(Clone)]
struct Conn {
    state: Arc<State>,
    stopped: watch::Receiver<bool>,
    faults: Arc<Controls>,
}

impl Conn {
    async fn serve(self, stream: tokio::net::TcpStream) {
        let faults = self.faults.clone();
        let service = service_fn(move |req| {
            let conn = self.clone();
            async move {
                if conn.faults.before_answer().await {
                    let answer = error(StatusCode::SERVICE_UNAVAILABLE, "injected fault");
                    return Ok::<_, Infallible>(answer);
                }
                Ok::<_, Infallible>(handle(req, conn).await)
            }
        });
        let builder = auto::Builder::new(TokioExecutor::new());
        tokio::select! {
            _ = builder.serve_connection_with_upgrades(TokioIo::new(stream), service) => {}
            () = faults.stopped() => {}
        }
    }
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(status, serde_json::json!({ "error": message }).to_string())
}

/// `/items/{id}` + rest, or `/ws/items/{id}`.
fn item_path<'a>(path: &'a str, prefix: &str) -> Option<(u64, &'a str)> {
    let rest = path.strip_prefix(prefix)?;
    let (id, rest) = rest.split_once('/').map_or((rest, ""), |(a, b)| (a, b));
    Some((id.parse().ok()?, rest))
}

async fn handle(req: Request<Incoming>, conn: Conn) -> Response<Full<Bytes>> {
    let state = conn.state.clone();
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_string();
    if let Some((id, "")) = item_path(&path, "/ws/items/") {
        return upgrade(req, Socket::Viewer(id), conn);
    }
    if path == "/ws/echo" {
        return upgrade(req, Socket::Echo, conn);
    }
    match (req.method(), item_path(&path, "/items/")) {
        (&Method::POST, Some((id, "bids"))) => bid(req, id, &state).await,
        (&Method::GET, Some((id, ""))) => {
            let body = state.with_item(id, |item| {
                serde_json::json!({
                    "id": id,
                    "current": item.current,
                    "bidder": item.bidder,
                    "seq": item.seq,
                    "viewers": item.feed.receiver_count(),
                })
            });
            json(StatusCode::OK, body.to_string())
        }
        _ => match (req.method(), path.as_str()) {
            (&Method::GET, "/health") => json(StatusCode::OK, r#"{"status":"ok"}"#.into()),
            (&Method::GET, "/stats") => json(
                StatusCode::OK,
                serde_json::to_string(&state.counters.snapshot()).unwrap_or_default(),
            ),
            _ => error(StatusCode::NOT_FOUND, "not found"),
        },
    }
}

async fn bid(req: Request<Incoming>, id: u64, state: &State) -> Response<Full<Bytes>> {
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(StatusCode::BAD_REQUEST, "unreadable body"),
    };
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("malformed JSON: {e}")),
    };
    let Some(amount) = v.get("amount").and_then(|a| a.as_u64()).filter(|&a| a > 0) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`amount` must be a positive integer",
        );
    };
    let bidder = v
        .get("bidder")
        .and_then(|b| b.as_str())
        .unwrap_or("anonymous")
        .chars()
        .take(64)
        .collect::<String>();
    let c = &state.counters;
    // Compare and set under the item's lock; broadcasting under it too keeps
    // every viewer's feed in acceptance order.
    let outcome = state.with_item(id, |item| {
        if amount <= item.current {
            return Err(item.current);
        }
        item.current = amount;
        item.seq += 1;
        item.bidder.clone_from(&bidder);
        let event = serde_json::json!({
            "item": id, "seq": item.seq, "amount": amount, "bidder": bidder,
        })
        .to_string();
        let _ = item.feed.send(Utf8Bytes::from(event));
        Ok(item.seq)
    });
    match outcome {
        Ok(seq) => {
            c.bids_accepted.fetch_add(1, Ordering::Relaxed);
            json(
                StatusCode::CREATED,
                serde_json::json!({ "accepted": true, "item": id, "amount": amount, "seq": seq })
                    .to_string(),
            )
        }
        Err(current) => {
            c.bids_rejected.fetch_add(1, Ordering::Relaxed);
            json(
                StatusCode::CONFLICT,
                serde_json::json!({ "accepted": false, "item": id, "current": current })
                    .to_string(),
            )
        }
    }
}

/// What a WebSocket route serves.
#[derive(Debug, Clone, Copy)]
enum Socket {
    /// An item's accepted bids.
    Viewer(u64),
    /// Every message back.
    Echo,
}

fn upgrade(req: Request<Incoming>, socket: Socket, conn: Conn) -> Response<Full<Bytes>> {
    let state = conn.state.clone();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let is_upgrade = header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let Some(key) = header("sec-websocket-key").filter(|_| is_upgrade) else {
        return error(
            StatusCode::BAD_REQUEST,
            "a WebSocket upgrade request is expected here",
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    // The echo takes the first subprotocol offered; the viewers' route takes
    // none (clients that asked for one see the server refuse it).
    let protocol = header("sec-websocket-protocol")
        .filter(|_| matches!(socket, Socket::Echo))
        .and_then(|p| p.split(',').next())
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    // Subscribe before answering: a bid accepted right after the client saw
    // the 101 must reach it.
    let feed = match socket {
        Socket::Viewer(id) => Some(state.with_item(id, |item| item.feed.subscribe())),
        Socket::Echo => None,
    };
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        let c = &state.counters;
        match feed {
            Some(feed) => {
                c.viewers.fetch_add(1, Ordering::Relaxed);
                c.viewer_sessions.fetch_add(1, Ordering::Relaxed);
                serve_viewer(ws, feed, c, &conn).await;
                c.viewers.fetch_sub(1, Ordering::Relaxed);
            }
            None => {
                c.echo_sessions.fetch_add(1, Ordering::Relaxed);
                serve_echo(ws, c, &conn).await;
            }
        }
    });
    let mut answer = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept);
    if let Some(p) = protocol {
        answer = answer.header("sec-websocket-protocol", p);
    }
    answer
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|_| error(StatusCode::BAD_REQUEST, "unusable subprotocol"))
}

async fn serve_echo<S>(mut ws: WebSocketStream<S>, c: &Counters, conn: &Conn)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let mut stopped = conn.stopped.clone();
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(t))) if t.as_str() == "bye" => {
                    c.echo_messages.fetch_add(1, Ordering::Relaxed);
                    let frame = CloseFrame { code: CloseCode::Library(4000), reason: "bye".into() };
                    let _ = ws.close(Some(frame)).await;
                    // Until the client's close frame, at most 5 s.
                    let answer = async { while let Some(Ok(_)) = ws.next().await {} };
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), answer).await;
                    return;
                }
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    c.echo_messages.fetch_add(1, Ordering::Relaxed);
                    if ws.send(m).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    let _ = ws.flush().await;
                    return;
                }
                // Pings are answered by the codec; flush the pong.
                Some(Ok(_)) => {
                    let _ = ws.flush().await;
                }
            },
            _ = stopped.changed() => {
                let _ = ws.close(None).await;
                return;
            }
            () = conn.faults.stopped() => return,
        }
    }
}

async fn serve_viewer<S>(
    mut ws: WebSocketStream<S>,
    mut feed: broadcast::Receiver<Utf8Bytes>,
    c: &Counters,
    conn: &Conn,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stopped = conn.stopped.clone();
    loop {
        tokio::select! {
            event = feed.recv() => match event {
                Ok(text) => {
                    if ws.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                    c.broadcasts_sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    c.broadcasts_missed.fetch_add(n, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    let _ = ws.flush().await;
                    return;
                }
                // Pings are answered by the codec; flush the pong.
                Some(Ok(Message::Ping(_))) => {
                    let _ = ws.flush().await;
                }
                Some(Ok(_)) => {}
            },
            _ = stopped.changed() => {
                let _ = ws.close(None).await;
                return;
            }
            // A stop fault drops the socket without a close frame.
            () = conn.faults.stopped() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Allowlist;
    use crate::protocol::http::{HttpClient, Request as Req};
    use crate::protocol::ws::{self, ConnectOptions, WsClient};
    use std::time::Duration;

    fn client() -> HttpClient {
        HttpClient::new(Allowlist::parse(&["127.0.0.1"]).unwrap(), false).unwrap()
    }

    async fn post_bid(c: &HttpClient, url: &str, item: u64, amount: u64) -> (u16, String) {
        let r = c
            .send(Req {
                method: "POST".into(),
                url: format!("{url}/items/{item}/bids"),
                headers: vec![("content-type".into(), "application/json".into())],
                body: Bytes::from(format!(r#"{{"amount":{amount},"bidder":"t"}}"#)),
                timeout: None,
                max_redirects: None,
            })
            .await
            .unwrap();
        (r.status, String::from_utf8_lossy(&r.body).into_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_bids_are_accepted_only_when_higher() {
        let s = start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = s.url();
        let c = client();
        // 20 tasks race to bid 1..=50 each on the same item.
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (c, url) = (c.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let mut accepted = Vec::new();
                for amount in 1..=50 {
                    let (status, _) = post_bid(&c, &url, 7, amount).await;
                    assert!(status == 201 || status == 409, "{status}");
                    if status == 201 {
                        accepted.push(amount);
                    }
                }
                accepted
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        // Every amount was accepted at most once, and 50 was the last.
        let n = all.len();
        all.dedup();
        assert_eq!(all.len(), n, "an amount was accepted twice");
        assert_eq!(all.last(), Some(&50));
        let st = s.stats();
        assert_eq!(st.bids_accepted as usize, n);
        assert_eq!(st.bids_accepted + st.bids_rejected, 20 * 50);
        let (status, body) = post_bid(&c, &url, 7, 50).await;
        assert_eq!(status, 409);
        assert!(body.contains(r#""current":50"#), "{body}");
        s.shutdown().await;
    }

    #[tokio::test]
    async fn viewers_get_every_accepted_bid_in_order() {
        let s = start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = s.url();
        let ws_url = format!("{}/ws/items/3", url.replacen("http", "ws", 1));
        let wc = WsClient::new(Allowlist::parse(&["127.0.0.1"]).unwrap(), false).unwrap();
        let mut viewers = Vec::new();
        for _ in 0..5 {
            viewers.push(
                wc.connect(&ws_url, ConnectOptions::default())
                    .await
                    .unwrap(),
            );
        }
        let c = client();
        let item: serde_json::Value = serde_json::from_slice(
            &c.send(Req {
                method: "GET".into(),
                url: format!("{url}/items/3"),
                headers: vec![],
                body: Bytes::new(),
                timeout: None,
                max_redirects: None,
            })
            .await
            .unwrap()
            .body,
        )
        .unwrap();
        assert_eq!(item["viewers"], 5);
        for amount in [10, 5, 20] {
            post_bid(&c, &url, 3, amount).await;
        }
        for v in &viewers {
            let mut got = Vec::new();
            for _ in 0..2 {
                match v.recv(Duration::from_secs(5)).await.unwrap() {
                    Some(ws::Message::Text(t)) => {
                        let e: serde_json::Value = serde_json::from_str(&t).unwrap();
                        got.push(e["amount"].as_u64().unwrap());
                    }
                    other => panic!("expected a bid, got {other:?}"),
                }
            }
            // The rejected bid of 5 is never broadcast.
            assert_eq!(got, vec![10, 20]);
            assert_eq!(v.recv(Duration::from_millis(50)).await.unwrap(), None);
        }
        assert_eq!(s.stats().viewers, 5);
        assert_eq!(s.stats().broadcasts_sent, 10);
        drop(viewers);
        s.shutdown().await;
    }
}
