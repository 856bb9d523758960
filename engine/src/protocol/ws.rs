//! WebSocket client. Connecting is TCP (or TLS) plus the upgrade handshake;
//! then one task per socket owns the connection: it reads frames as they
//! arrive into a bounded inbox, so a scenario that is not inside `recv` never
//! stalls the peer, and it performs the sends, pings and close the socket's
//! owner asks for. Plain Rust: no wasmtime types, no metrics.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig, frame::coding};
use tokio_tungstenite::tungstenite::{self, Message as Frame};

use super::Allowlist;

/// Messages a socket keeps for its owner before dropping the oldest.
pub const INBOX_LIMIT: usize = 4096;
/// How long a close waits for the peer's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Read buffer per connection: tungstenite's default (128 KiB) would be
/// most of a connection's memory when 10,000 are open.
const READ_BUFFER: usize = 4096;

pub use super::net::ErrorClass;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsError {
    pub class: ErrorClass,
    pub message: String,
}

impl WsError {
    fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        WsError {
            class,
            message: message.into(),
        }
    }

    fn closed() -> Self {
        WsError::new(ErrorClass::Closed, "the socket is closed")
    }
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.class.as_str())
    }
}

/// What a socket receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
    /// The peer closed the socket.
    Close {
        code: u16,
        reason: String,
    },
}

impl Message {
    /// Payload bytes, for `data_received`.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            Message::Close { reason, .. } => 2 + reason.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How to open one socket.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub headers: Vec<(String, String)>,
    pub subprotocols: Vec<String>,
    pub timeout: Duration,
    /// Notified whenever this socket has something new for its owner; one
    /// `Notify` per owner lets it wait on all its sockets at once.
    pub wake: Arc<Notify>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            headers: Vec::new(),
            subprotocols: Vec::new(),
            timeout: Duration::from_secs(60),
            wake: Arc::new(Notify::new()),
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Stream = WebSocketStream<Box<dyn Io>>;

/// Opens sockets for one run: the allowlist, TLS settings and, once the
/// machine runs short of ephemeral ports towards a loopback target, source
/// addresses spread over 127.0.0.2-251.
#[derive(Clone)]
pub struct WsClient {
    allow: Arc<Allowlist>,
    tls: TlsConnector,
    spread: Arc<Spread>,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient").finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Spread {
    on: AtomicBool,
    next: AtomicU32,
}

impl Spread {
    /// The next loopback source address (127.0.0.2 to 127.0.0.251).
    fn source(&self) -> IpAddr {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % 250;
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + n as u8))
    }
}

impl WsClient {
    pub fn new(
        allow: Allowlist,
        insecure_skip_tls_verify: bool,
    ) -> Result<Self, super::tls::TlsSetupError> {
        let mut config = super::tls::client_config(insecure_skip_tls_verify)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(WsClient {
            allow: Arc::new(allow),
            tls: TlsConnector::from(Arc::new(config)),
            spread: Arc::new(Spread::default()),
        })
    }

    /// Spreads connections to loopback targets over many source addresses
    /// from the start (normally switched on by the first `EADDRNOTAVAIL`).
    pub fn spread_sources(&self) {
        self.spread.on.store(true, Ordering::Relaxed);
    }

    /// Connects and upgrades; the socket's task runs until it closes or the
    /// [`Socket`] is dropped.
    pub async fn connect(&self, url: &str, opts: ConnectOptions) -> Result<Socket, WsError> {
        let invalid = |m: String| WsError::new(ErrorClass::InvalidRequest, m);
        let mut request = url
            .into_client_request()
            .map_err(|e| invalid(format!("`{url}`: {e}")))?;
        let uri = request.uri().clone();
        let tls = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => {
                return Err(invalid(format!(
                    "`{url}`: the URL must start with ws:// or wss://"
                )));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| invalid(format!("`{url}`: no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        if !self.allow.permits(&host, port) {
            return Err(WsError::new(
                ErrorClass::NotAllowed,
                format!(
                    "{host}:{port} is not an allowed host: add it to the plan's targets or pass --allow-host {host}:{port}"
                ),
            ));
        }
        for (k, v) in &opts.headers {
            super::headers::check(k, v, &self.allow, port, true).map_err(|r| match r {
                super::headers::Refused::Reserved(m) => invalid(m),
                super::headers::Refused::NotAllowed(m) => WsError::new(ErrorClass::NotAllowed, m),
            })?;
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| invalid(format!("header name `{k}` is not valid")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| invalid(format!("header `{k}`: the value is not valid")))?;
            request.headers_mut().append(name, value);
        }
        if !opts.subprotocols.is_empty() {
            let list = HeaderValue::from_str(&opts.subprotocols.join(", "))
                .map_err(|_| invalid("subprotocols: not valid header text".into()))?;
            request.headers_mut().insert("sec-websocket-protocol", list);
        }
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0);
        let handshake = async {
            let tcp = self.tcp(&host, port).await?;
            let _ = tcp.set_nodelay(true);
            let io: Box<dyn Io> = if tls {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| invalid(format!("`{host}`: {e}")))?;
                Box::new(
                    self.tls
                        .connect(name, tcp)
                        .await
                        .map_err(|e| WsError::new(ErrorClass::Tls, e.to_string()))?,
                )
            } else {
                Box::new(tcp)
            };
            tokio_tungstenite::client_async_with_config(request, io, Some(config))
                .await
                .map_err(classify)
        };
        let (stream, response) = tokio::time::timeout(opts.timeout, handshake)
            .await
            .map_err(|_| {
                WsError::new(
                    ErrorClass::Timeout,
                    format!("connecting to {url} took longer than {:?}", opts.timeout),
                )
            })??;
        let protocol = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let inbox = Arc::new(Inbox {
            state: Mutex::new(InboxState::default()),
            wake: opts.wake,
        });
        let (commands, rx) = mpsc::channel(8);
        tokio::spawn(drive(stream, rx, inbox.clone()));
        Ok(Socket {
            commands,
            inbox,
            protocol,
        })
    }

    async fn tcp(&self, host: &str, port: u16) -> Result<TcpStream, WsError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| WsError::new(ErrorClass::Dns, format!("{host}: {e}")))?
            .collect();
        let mut last = WsError::new(ErrorClass::Dns, format!("{host}: no address"));
        for addr in addrs {
            let loopback_v4 = matches!(addr.ip(), IpAddr::V4(ip) if ip.is_loopback());
            let spread = loopback_v4 && self.spread.on.load(Ordering::Relaxed);
            match connect_from(addr, spread.then(|| self.spread.source())).await {
                Ok(s) => return Ok(s),
                Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) && loopback_v4 => {
                    // Out of ephemeral ports for this source address.
                    self.spread.on.store(true, Ordering::Relaxed);
                    match connect_from(addr, Some(self.spread.source())).await {
                        Ok(s) => return Ok(s),
                        Err(e) => last = io_error(&e, addr),
                    }
                }
                Err(e) => last = io_error(&e, addr),
            }
        }
        Err(last)
    }
}

async fn connect_from(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    socket.connect(addr).await
}

fn io_class(e: &std::io::Error) -> ErrorClass {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => ErrorClass::Refused,
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => ErrorClass::Reset,
        TimedOut => ErrorClass::Timeout,
        _ => ErrorClass::Other,
    }
}

fn io_error(e: &std::io::Error, addr: SocketAddr) -> WsError {
    WsError::new(io_class(e), format!("{addr}: {e}"))
}

fn classify(e: tungstenite::Error) -> WsError {
    use tungstenite::Error as E;
    use tungstenite::error::ProtocolError as P;
    match e {
        E::Http(resp) => WsError::new(
            ErrorClass::Handshake,
            format!(
                "the server answered the upgrade with {} instead of 101",
                resp.status()
            ),
        ),
        E::Io(io) => WsError::new(io_class(&io), io.to_string()),
        E::ConnectionClosed | E::AlreadyClosed => WsError::closed(),
        E::Url(u) => WsError::new(ErrorClass::InvalidRequest, u.to_string()),
        E::Protocol(P::ResetWithoutClosingHandshake) => {
            WsError::new(ErrorClass::Reset, "the peer dropped the connection")
        }
        other => WsError::new(ErrorClass::Other, other.to_string()),
    }
}

type PingReply = oneshot::Sender<Result<Duration, WsError>>;

enum Command {
    Send(Frame, oneshot::Sender<Result<(), WsError>>),
    Ping(PingReply),
    Close(CloseFrame, oneshot::Sender<Result<(), WsError>>),
}

#[derive(Debug, Default)]
struct InboxState {
    messages: VecDeque<Message>,
    /// Why the connection ended, once it has; handed out after the messages.
    end: Option<WsError>,
    dropped: u64,
}

#[derive(Debug)]
struct Inbox {
    state: Mutex<InboxState>,
    wake: Arc<Notify>,
}

impl Inbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, m: Message) {
        {
            let mut s = self.lock();
            if s.messages.len() >= INBOX_LIMIT {
                s.messages.pop_front();
                s.dropped += 1;
            }
            s.messages.push_back(m);
        }
        self.wake.notify_waiters();
    }

    fn end(&self, why: WsError) {
        self.lock().end.get_or_insert(why);
        self.wake.notify_waiters();
    }
}

/// An open socket. Dropping it closes the connection (code 1000).
#[derive(Debug)]
pub struct Socket {
    commands: mpsc::Sender<Command>,
    inbox: Arc<Inbox>,
    protocol: Option<String>,
}

impl Socket {
    /// The subprotocol the server chose.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, WsError>>) -> Command,
    ) -> Result<T, WsError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| self.ended())?;
        rx.await.map_err(|_| self.ended())?
    }

    /// The error a call on an ended connection gets.
    fn ended(&self) -> WsError {
        match &self.inbox.lock().end {
            Some(e) if e.class != ErrorClass::Closed => e.clone(),
            _ => WsError::closed(),
        }
    }

    pub async fn send_text(&self, text: String) -> Result<(), WsError> {
        self.call(|tx| Command::Send(Frame::text(text), tx)).await
    }

    pub async fn send_binary(&self, data: Vec<u8>) -> Result<(), WsError> {
        self.call(|tx| Command::Send(Frame::binary(data), tx)).await
    }

    /// Sends a ping; the time until its pong.
    pub async fn ping(&self, timeout: Duration) -> Result<Duration, WsError> {
        tokio::time::timeout(timeout, self.call(Command::Ping))
            .await
            .map_err(|_| WsError::new(ErrorClass::Timeout, format!("no pong within {timeout:?}")))?
    }

    /// Sends a close frame and waits for the peer's (up to 1 s).
    pub async fn close(&self, code: u16, reason: &str) -> Result<(), WsError> {
        if !(1000..=4999).contains(&code) || matches!(code, 1004..=1006 | 1015) {
            return Err(WsError::new(
                ErrorClass::InvalidRequest,
                format!("close code {code}: use 1000 (normal), 1001, 1008, 1011 or 3000-4999"),
            ));
        }
        let frame = CloseFrame {
            code: coding::CloseCode::from(code),
            reason: reason.to_string().into(),
        };
        self.call(|tx| Command::Close(frame, tx)).await
    }

    /// The next message if one is ready; an error once the connection ended
    /// and every message before that was taken.
    pub fn try_recv(&self) -> Result<Option<Message>, WsError> {
        let mut s = self.inbox.lock();
        if let Some(m) = s.messages.pop_front() {
            return Ok(Some(m));
        }
        match &s.end {
            Some(e) => Err(e.clone()),
            None => Ok(None),
        }
    }

    /// Whether [`Socket::try_recv`] would return at once with something
    /// new: a message, or the end of a connection that just ended.
    pub fn ready(&self) -> bool {
        let s = self.inbox.lock();
        !s.messages.is_empty() || s.end.is_some()
    }

    /// The next message, waiting up to `timeout`; `None` if none came.
    pub async fn recv(&self, timeout: Duration) -> Result<Option<Message>, WsError> {
        if timeout.is_zero() {
            return self.try_recv();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inbox.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(m) = self.try_recv()? {
                return Ok(Some(m));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    /// Messages dropped because the inbox was full.
    pub fn dropped(&self) -> u64 {
        self.inbox.lock().dropped
    }
}

/// Waits up to `timeout` until one of `sockets` is [`Socket::ready`]; the
/// indexes of the ready ones. All of them must share one `wake`.
pub async fn poll(sockets: &[&Socket], timeout: Duration) -> Vec<u32> {
    let Some(first) = sockets.first() else {
        tokio::time::sleep(timeout).await;
        return Vec::new();
    };
    let wake = first.inbox.wake.clone();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let ready: Vec<u32> = (0..sockets.len() as u32)
            .filter(|&i| sockets[i as usize].ready())
            .collect();
        if !ready.is_empty()
            || timeout.is_zero()
            || tokio::time::timeout_at(deadline, notified).await.is_err()
        {
            return ready;
        }
    }
}

/// The socket's task: reads into the inbox, performs commands.
async fn drive(mut ws: Stream, mut commands: mpsc::Receiver<Command>, inbox: Arc<Inbox>) {
    let mut pings: VecDeque<(u64, Instant, PingReply)> = VecDeque::new();
    let mut next_ping = 0u64;
    let end = loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(Command::Send(frame, reply)) => {
                    let r = ws.send(frame).await.map_err(classify);
                    let failed = r.clone().err();
                    let _ = reply.send(r);
                    if let Some(e) = failed {
                        break e;
                    }
                }
                Some(Command::Ping(reply)) => {
                    next_ping += 1;
                    let payload = next_ping.to_be_bytes().to_vec();
                    // The round trip starts before the send: `send` may yield
                    // after writing, and the pong be back before it returns
                    // (rounds of 1 µs were seen, timed from after it).
                    let sent = Instant::now();
                    match ws.send(Frame::Ping(payload.into())).await {
                        Ok(()) => pings.push_back((next_ping, sent, reply)),
                        Err(e) => {
                            let e = classify(e);
                            let _ = reply.send(Err(e.clone()));
                            break e;
                        }
                    }
                }
                Some(Command::Close(frame, reply)) => {
                    let r = ws.close(Some(frame)).await.map_err(classify);
                    if r.is_ok() {
                        drain_until_close(&mut ws, &inbox).await;
                    }
                    let _ = reply.send(r);
                    break WsError::closed();
                }
                None => {
                    // The owner dropped the socket: close politely, briefly.
                    let _ = tokio::time::timeout(CLOSE_WAIT, ws.close(None)).await;
                    return;
                }
            },
            frame = ws.next() => match frame {
                Some(Ok(Frame::Text(t))) => inbox.push(Message::Text(t.as_str().to_string())),
                Some(Ok(Frame::Binary(b))) => inbox.push(Message::Binary(b.to_vec())),
                Some(Ok(Frame::Pong(p))) => {
                    let id = <[u8; 8]>::try_from(&p[..]).map(u64::from_be_bytes).ok();
                    if let Some(i) = pings.iter().position(|(n, ..)| Some(*n) == id) {
                        let (_, at, reply) = pings.remove(i).expect("position is in range");
                        let _ = reply.send(Ok(at.elapsed()));
                    }
                }
                Some(Ok(Frame::Ping(_))) => {
                    // tungstenite queued the pong; send it now.
                    let _ = ws.flush().await;
                }
                Some(Ok(Frame::Close(f))) => {
                    let (code, reason) = f
                        .map(|f| (u16::from(f.code), f.reason.as_str().to_string()))
                        .unwrap_or((1005, String::new()));
                    inbox.push(Message::Close { code, reason });
                    // Answers the peer's close.
                    let _ = ws.flush().await;
                    break WsError::closed();
                }
                Some(Ok(Frame::Frame(_))) => {}
                Some(Err(e)) => break classify(e),
                None => break WsError::new(ErrorClass::Reset, "the peer dropped the connection"),
            },
        }
    };
    for (_, _, reply) in pings {
        let _ = reply.send(Err(end.clone()));
    }
    inbox.end(end);
}

/// After our close frame: keeps taking messages until the peer's close.
async fn drain_until_close(ws: &mut Stream, inbox: &Inbox) {
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(frame)) = ws.next().await {
            match frame {
                Frame::Text(t) => inbox.push(Message::Text(t.as_str().to_string())),
                Frame::Binary(b) => inbox.push(Message::Binary(b.to_vec())),
                Frame::Close(_) => break,
                _ => {}
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

    /// Chooses subprotocol `v2` when the client offers it.
    #[allow(
        clippy::result_large_err,
        reason = "the signature tungstenite's handshake callback requires"
    )]
    fn pick_v2(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
        let offered = req
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if offered.split(", ").any(|p| p == "v2") {
            resp.headers_mut()
                .insert("sec-websocket-protocol", "v2".parse().unwrap());
        }
        Ok(resp)
    }

    /// An echo server: `close-me` closes with 4001, `flood N` sends N
    /// messages at once, `whoami` answers the peer's address.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, peer)) = listener.accept().await {
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, pick_v2).await else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.next().await {
                        let reply = match &m {
                            Frame::Text(t) if t.as_str() == "close-me" => {
                                let frame = CloseFrame {
                                    code: coding::CloseCode::from(4001),
                                    reason: "bye".into(),
                                };
                                let _ = ws.close(Some(frame)).await;
                                continue;
                            }
                            Frame::Text(t) if t.as_str() == "whoami" => {
                                vec![Frame::text(peer.ip().to_string())]
                            }
                            Frame::Text(t) if t.as_str().starts_with("flood ") => {
                                let n: usize = t.as_str()[6..].parse().unwrap();
                                (0..n).map(|i| Frame::text(i.to_string())).collect()
                            }
                            Frame::Text(_) | Frame::Binary(_) => vec![m.clone()],
                            _ => vec![],
                        };
                        for r in reply {
                            if ws.feed(r).await.is_err() {
                                return;
                            }
                        }
                        let _ = ws.flush().await;
                    }
                });
            }
        });
        addr
    }

    fn client() -> WsClient {
        WsClient::new(Allowlist::parse(&["127.0.0.1"]).unwrap(), false).unwrap()
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn echoes_negotiates_subprotocols_and_pings() {
        let addr = echo_server().await;
        let opts = ConnectOptions {
            subprotocols: vec!["v1".into(), "v2".into()],
            headers: vec![("x-test".into(), "1".into())],
            ..Default::default()
        };
        let s = client()
            .connect(&format!("ws://{addr}/echo"), opts)
            .await
            .unwrap();
        assert_eq!(s.protocol(), Some("v2"));
        s.send_text("hello".into()).await.unwrap();
        s.send_binary(vec![1, 2, 3]).await.unwrap();
        assert_eq!(
            s.recv(WAIT).await.unwrap(),
            Some(Message::Text("hello".into()))
        );
        assert_eq!(
            s.recv(WAIT).await.unwrap(),
            Some(Message::Binary(vec![1, 2, 3]))
        );
        assert_eq!(s.recv(Duration::from_millis(20)).await.unwrap(), None);
        let rtt = s.ping(WAIT).await.unwrap();
        assert!(rtt < WAIT);
    }

    #[tokio::test]
    async fn a_peer_close_is_a_message_then_closed() {
        let addr = echo_server().await;
        let s = client()
            .connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        s.send_text("close-me".into()).await.unwrap();
        assert_eq!(
            s.recv(WAIT).await.unwrap(),
            Some(Message::Close {
                code: 4001,
                reason: "bye".into()
            })
        );
        assert_eq!(s.recv(WAIT).await.unwrap_err().class, ErrorClass::Closed);
        let e = s.send_text("late".into()).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Closed);
    }

    #[tokio::test]
    async fn reads_go_on_without_recv_and_overflow_drops_the_oldest() {
        let addr = echo_server().await;
        let s = client()
            .connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        let n = INBOX_LIMIT + 904;
        s.send_text(format!("flood {n}")).await.unwrap();
        // The socket's task reads everything while nobody calls recv.
        let deadline = Instant::now() + WAIT;
        while s.dropped() < 904 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(s.dropped(), 904);
        assert_eq!(
            s.recv(WAIT).await.unwrap(),
            Some(Message::Text("904".into()))
        );
        // A ping still gets through: the connection never stalled.
        s.ping(WAIT).await.unwrap();
    }

    #[tokio::test]
    async fn closing_checks_the_code_and_ends_the_socket() {
        let addr = echo_server().await;
        let s = client()
            .connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        let e = s.close(1006, "").await.unwrap_err();
        assert_eq!(e.class, ErrorClass::InvalidRequest);
        s.close(1000, "done").await.unwrap();
        assert_eq!(
            s.send_text("x".into()).await.unwrap_err().class,
            ErrorClass::Closed
        );
    }

    #[tokio::test]
    async fn failures_are_classified() {
        let c = client();
        let opts = ConnectOptions::default;
        // Nothing listens on a port we just released.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = c
            .connect(&format!("ws://127.0.0.1:{port}/"), opts())
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Refused, "{e}");
        let e = c.connect("ws://10.1.2.3/", opts()).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::NotAllowed, "{e}");
        assert!(e.message.contains("--allow-host 10.1.2.3:80"), "{e}");
        for bad in ["http://127.0.0.1/", "not a url"] {
            let e = c.connect(bad, opts()).await.unwrap_err();
            assert_eq!(e.class, ErrorClass::InvalidRequest, "{bad}: {e}");
        }
        // An HTTP server that does not upgrade.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut tcp, &mut buf).await;
            let _ = tcp
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        let e = c
            .connect(&format!("ws://{addr}/nope"), opts())
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Handshake, "{e}");
        assert!(e.message.contains("404"), "{e}");
        // A server that accepts and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move { listener.accept().await });
        let short = ConnectOptions {
            timeout: Duration::from_millis(100),
            ..opts()
        };
        let e = c
            .connect(&format!("ws://{addr}/"), short)
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Timeout, "{e}");
        hold.abort();
    }

    #[tokio::test]
    async fn spread_sources_use_other_loopback_addresses() {
        let addr = echo_server().await;
        let c = client();
        c.spread_sources();
        let s = c
            .connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        s.send_text("whoami".into()).await.unwrap();
        let Some(Message::Text(ip)) = s.recv(WAIT).await.unwrap() else {
            panic!("no answer");
        };
        let ip: Ipv4Addr = ip.parse().unwrap();
        assert!(ip.is_loopback() && ip != Ipv4Addr::LOCALHOST, "{ip}");
    }

    #[tokio::test]
    async fn wss_works_over_rustls_and_rejects_unknown_issuers() {
        let acceptor = crate::protocol::tls::test_acceptor(&[]);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.next().await {
                        if m.is_text() && ws.send(m).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let url = format!("wss://localhost:{port}/secure");
        let allow = || Allowlist::parse(&["localhost"]).unwrap();
        let s = WsClient::new(allow(), true)
            .unwrap()
            .connect(&url, ConnectOptions::default())
            .await
            .unwrap();
        s.send_text("over tls".into()).await.unwrap();
        assert_eq!(
            s.recv(WAIT).await.unwrap(),
            Some(Message::Text("over tls".into()))
        );
        let e = WsClient::new(allow(), false)
            .unwrap()
            .connect(&url, ConnectOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Tls, "{e}");
        server.abort();
    }

    #[tokio::test]
    async fn poll_reports_which_sockets_are_ready() {
        let addr = echo_server().await;
        let c = client();
        let wake = Arc::new(Notify::new());
        let opts = || ConnectOptions {
            wake: wake.clone(),
            ..Default::default()
        };
        let url = format!("ws://{addr}/");
        let a = c.connect(&url, opts()).await.unwrap();
        let b = c.connect(&url, opts()).await.unwrap();
        assert!(poll(&[&a, &b], Duration::from_millis(20)).await.is_empty());
        b.send_text("x".into()).await.unwrap();
        assert_eq!(poll(&[&a, &b], WAIT).await, vec![1]);
        assert_eq!(b.try_recv().unwrap(), Some(Message::Text("x".into())));
        assert!(poll(&[&a, &b], Duration::from_millis(20)).await.is_empty());
    }
}
