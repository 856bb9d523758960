//! `ws` import: sockets as guest resources over `protocol::ws`, and the
//! built-in WebSocket metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use wasmtime::component::Resource;

use super::VuState;
use crate::metrics::{Builtin, Metrics, Sent, Tags};
use crate::protocol::ws::{self as proto, ErrorClass, Message, Socket};
use crate::wasm::bindings::volley::scenario::ws::{
    self as wit, CloseFrame, ConnectOptions, Host, HostSocket, NetError as WsError,
};

/// A guest's socket: the connection plus what its metrics need. Dropping it
/// (the guest dropped the handle, or the VU ended) closes the connection.
pub struct WsSocket {
    socket: Socket,
    opened: Instant,
    tags: Tags,
    metrics: Metrics,
    ended: bool,
    /// The plan target it reached, whose timeline its calls are on.
    target: Option<Sent>,
}

impl WsSocket {
    /// Records the session's end once.
    fn end(&mut self) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let us = self.opened.elapsed().as_micros() as f64;
        self.metrics
            .builtin(Builtin::WsSessionDuration, &self.tags, us);
        let dropped = self.socket.dropped();
        if dropped > 0 {
            self.metrics
                .builtin(Builtin::WsMsgsDropped, &self.tags, dropped as f64);
        }
    }
}

/// Sockets one VU may hold at once (open or closed, until dropped): a
/// scenario that never drops them would otherwise hold a connection, its
/// task and its buffers each, up to the process's open-file limit, which
/// every other VU's connections share. The auction's 10,000-viewer plan
/// holds 100 per VU.
pub const MAX_SOCKETS: usize = 1_024;

impl Drop for WsSocket {
    fn drop(&mut self) {
        self.end();
    }
}

fn to_wit(e: proto::WsError) -> WsError {
    WsError {
        class: e.class.into(),
        message: e.message,
    }
}

fn ms(ms: u32) -> Duration {
    Duration::from_millis(ms as u64)
}

/// Whether a failure says something about the target: a call the engine
/// refused, or one on a socket already closed, does not.
fn counts_on_timeline(class: ErrorClass) -> bool {
    !matches!(
        class,
        ErrorClass::InvalidRequest | ErrorClass::NotAllowed | ErrorClass::Closed
    )
}

impl VuState {
    /// One notifier per VU: every socket of this VU wakes it, so `poll`
    /// can wait on all of them.
    fn ws_wake(&mut self) -> Arc<Notify> {
        self.instance
            .ws_wake
            .get_or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    fn ws_error(&self, tags: &Tags, e: proto::WsError) -> WsError {
        let tags = tags.with([("class", e.class.as_str())]);
        self.shared.metrics.failure(Builtin::WsErrors, &tags, &e);
        to_wit(e)
    }

    /// A socket call failed: on its target's timeline (fault windows) as
    /// well as in `ws_errors`.
    fn socket_error(&self, r: &Resource<WsSocket>, e: proto::WsError) -> wasmtime::Result<WsError> {
        let s = self.socket(r)?;
        if let Some(target) = s.target
            && counts_on_timeline(e.class)
        {
            self.shared.timeline.failed(target, e.class.as_str());
        }
        Ok(self.ws_error(&s.tags, e))
    }

    /// Times a connect or ping on the target's timeline.
    fn timed<T>(&self, target: Option<Sent>, took: Duration, result: &Result<T, proto::WsError>) {
        let Some(sent) = target else {
            return;
        };
        let timeline = &self.shared.timeline;
        match result {
            Ok(_) => timeline.end(sent, took, None),
            Err(e) if counts_on_timeline(e.class) => {
                timeline.end(sent, took, Some(e.class.as_str()))
            }
            Err(_) => timeline.abandon(sent),
        }
    }

    fn socket(&self, r: &Resource<WsSocket>) -> wasmtime::Result<&WsSocket> {
        Ok(self.instance.table.get(r)?)
    }

    async fn ws_send(
        &mut self,
        r: &Resource<WsSocket>,
        frame: impl AsyncFnOnce(&Socket) -> Result<(), proto::WsError>,
        bytes: usize,
    ) -> wasmtime::Result<Result<(), WsError>> {
        let s = self.instance.table.get(r)?;
        let result = frame(&s.socket).await;
        let tags = s.tags.clone();
        Ok(match result {
            Ok(()) => {
                self.shared.metrics.builtins(&[
                    (Builtin::WsMsgsSent, &tags, 1.0),
                    (Builtin::DataSent, &self.scenario.tags, bytes as f64),
                ]);
                Ok(())
            }
            Err(e) => Err(self.socket_error(r, e)?),
        })
    }
}

impl HostSocket for VuState {
    async fn connect(
        &mut self,
        url: String,
        options: ConnectOptions,
    ) -> wasmtime::Result<Result<Resource<WsSocket>, WsError>> {
        let name = url.split(['?', '#']).next().unwrap_or(&url);
        let tags = (self.base_tags())
            .with([("url", name)])
            .with(options.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if self.instance.sockets >= MAX_SOCKETS {
            let e = proto::WsError {
                class: ErrorClass::InvalidRequest,
                message: format!(
                    "connect: this VU holds {MAX_SOCKETS} sockets; close and drop each socket it is done with (nothing was sent)"
                ),
            };
            return Ok(Err(self.ws_error(&tags, e)));
        }
        let headers = match super::types::parse_headers(&options.headers) {
            Ok(h) => h,
            Err(message) => {
                let e = proto::WsError {
                    class: ErrorClass::InvalidRequest,
                    message: format!("connect options: {message}"),
                };
                return Ok(Err(self.ws_error(&tags, e)));
            }
        };
        let opts = proto::ConnectOptions {
            headers,
            subprotocols: options.subprotocols,
            timeout: options.timeout_ms.map_or(Duration::from_secs(60), ms),
            wake: self.ws_wake(),
        };
        let target = self.shared.timeline.begin(&url);
        let started = Instant::now();
        let client = self.shared.ws.clone();
        // Connecting runs as its own task, like HTTP requests: the TLS and
        // handshake futures are deep, and this VU's fiber stack is small.
        let result = tokio::spawn(async move { client.connect(&url, opts).await })
            .await
            .unwrap_or_else(|e| {
                Err(proto::WsError {
                    class: ErrorClass::Other,
                    message: format!("connect task failed: {e}"),
                })
            });
        self.timed(target, started.elapsed(), &result);
        let socket = match result {
            Ok(s) => s,
            Err(e) => return Ok(Err(self.ws_error(&tags, e))),
        };
        let us = started.elapsed().as_micros() as f64;
        self.shared.metrics.builtins(&[
            (Builtin::WsConnecting, &tags, us),
            (Builtin::WsSessions, &tags, 1.0),
        ]);
        let socket = WsSocket {
            socket,
            opened: Instant::now(),
            tags,
            metrics: self.shared.metrics.clone(),
            ended: false,
            target,
        };
        let socket = self.instance.table.push(socket)?;
        self.instance.sockets += 1;
        Ok(Ok(socket))
    }

    fn protocol(&mut self, r: Resource<WsSocket>) -> wasmtime::Result<Option<String>> {
        Ok(self.socket(&r)?.socket.protocol().map(str::to_string))
    }

    async fn send_text(
        &mut self,
        r: Resource<WsSocket>,
        data: String,
    ) -> wasmtime::Result<Result<(), WsError>> {
        let n = data.len();
        self.ws_send(&r, async move |s: &Socket| s.send_text(data).await, n)
            .await
    }

    async fn send_binary(
        &mut self,
        r: Resource<WsSocket>,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), WsError>> {
        let n = data.len();
        self.ws_send(&r, async move |s: &Socket| s.send_binary(data).await, n)
            .await
    }

    async fn recv(
        &mut self,
        r: Resource<WsSocket>,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<Option<wit::Message>, WsError>> {
        let s = self.instance.table.get(&r)?;
        let result = s.socket.recv(ms(timeout_ms)).await;
        let tags = s.tags.clone();
        let message = match result {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(Ok(None)),
            // The end of a closed socket is not an error worth counting.
            Err(e) if e.class == ErrorClass::Closed => return Ok(Err(to_wit(e))),
            Err(e) => {
                self.instance.table.get_mut(&r)?.end();
                return Ok(Err(self.socket_error(&r, e)?));
            }
        };
        let bytes = message.len() as f64;
        let out = match message {
            Message::Text(t) => wit::Message::Text(t),
            Message::Binary(b) => wit::Message::Binary(b),
            Message::Close { code, reason } => {
                self.instance.table.get_mut(&r)?.end();
                return Ok(Ok(Some(wit::Message::Close(CloseFrame { code, reason }))));
            }
        };
        self.shared.metrics.builtins(&[
            (Builtin::WsMsgsReceived, &tags, 1.0),
            (Builtin::DataReceived, &self.scenario.tags, bytes),
        ]);
        Ok(Ok(Some(out)))
    }

    async fn ping(
        &mut self,
        r: Resource<WsSocket>,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<u64, WsError>> {
        let s = self.instance.table.get(&r)?;
        let target = s.target;
        if let Some(t) = target {
            self.shared.timeline.start(t);
        }
        let started = Instant::now();
        let result = s.socket.ping(ms(timeout_ms)).await;
        self.timed(target, started.elapsed(), &result);
        let s = self.instance.table.get(&r)?;
        let tags = s.tags.clone();
        Ok(match result {
            Ok(rtt) => {
                let us = rtt.as_micros() as u64;
                self.shared
                    .metrics
                    .builtin(Builtin::WsPing, &tags, us as f64);
                Ok(us)
            }
            Err(e) => Err(self.ws_error(&tags, e)),
        })
    }

    async fn close(
        &mut self,
        r: Resource<WsSocket>,
        code: u16,
        reason: String,
    ) -> wasmtime::Result<Result<(), WsError>> {
        let s = self.instance.table.get(&r)?;
        let result = s.socket.close(code, &reason).await;
        let tags = s.tags.clone();
        if result
            .as_ref()
            .is_err_and(|e| e.class == ErrorClass::InvalidRequest)
        {
            return Ok(result.map_err(|e| self.ws_error(&tags, e)));
        }
        self.instance.table.get_mut(&r)?.end();
        Ok(result.map_err(|e| self.ws_error(&tags, e)))
    }

    fn drop(&mut self, r: Resource<WsSocket>) -> wasmtime::Result<()> {
        self.instance.table.delete(r)?;
        self.instance.sockets -= 1;
        Ok(())
    }
}

impl Host for VuState {
    async fn poll(
        &mut self,
        sockets: Vec<Resource<WsSocket>>,
        timeout_ms: u32,
    ) -> wasmtime::Result<Vec<u32>> {
        let mut list = Vec::with_capacity(sockets.len());
        for r in &sockets {
            list.push(&self.instance.table.get(r)?.socket);
        }
        Ok(proto::poll(&list, ms(timeout_ms)).await)
    }
}
