//! WebSocket sockets. The engine reads every open socket as messages arrive,
//! so a socket kept in a `static` across iterations never stalls the server;
//! [`Socket::recv`] takes what has arrived. The engine records `ws_*`
//! metrics (connect time, sessions, messages, pings, errors) on its own.
//!
//! ```ignore
//! let socket = ws::Socket::connect("ws://127.0.0.1:8081/ws/items/1")?;
//! socket.send_text("hello")?;
//! if let Some(ws::Message::Text(t)) = socket.recv(Duration::from_secs(1))? { /* ... */ }
//! ```

use std::time::Duration;

use crate::bindings::volley::scenario::ws as wit;

pub use crate::bindings::volley::scenario::types::ErrorClass;
pub use wit::{CloseFrame, Message};

/// How to open a socket: headers, subprotocols, timeout, tags.
#[derive(Debug, Clone)]
pub struct Connect {
    url: String,
    options: wit::ConnectOptions,
    /// A header that cannot be sent (a newline in it): `open` fails.
    invalid: Option<String>,
}

impl Connect {
    /// A connection to `url` (`ws://` or `wss://`).
    pub fn new(url: impl Into<String>) -> Self {
        Connect {
            url: url.into(),
            options: wit::ConnectOptions {
                headers: String::new(),
                subprotocols: Vec::new(),
                timeout_ms: None,
                tags: Vec::new(),
            },
            invalid: None,
        }
    }

    /// Adds a handshake header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Err(e) = crate::http::push_header(&mut self.options.headers, name, value) {
            self.invalid.get_or_insert(e);
        }
        self
    }

    /// Offers a subprotocol.
    pub fn subprotocol(mut self, name: &str) -> Self {
        self.options.subprotocols.push(name.to_string());
        self
    }

    /// Gives up connecting after `timeout` (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout_ms = Some(timeout.as_millis().min(u32::MAX as u128) as u32);
        self
    }

    /// Adds a tag to this socket's metrics.
    pub fn tag(mut self, key: &str, value: &str) -> Self {
        self.options.tags.push((key.to_string(), value.to_string()));
        self
    }

    /// Connects and upgrades.
    pub fn open(self) -> Result<Socket, Error> {
        if let Some(message) = self.invalid {
            return Err(Error {
                class: ErrorClass::InvalidRequest,
                message,
            });
        }
        wit::Socket::connect(&self.url, &self.options)
            .map(|inner| Socket { inner })
            .map_err(Error::from)
    }
}

/// An open socket; dropping it closes the connection (code 1000).
#[derive(Debug)]
pub struct Socket {
    inner: wit::Socket,
}

fn millis(d: Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}

impl Socket {
    /// Connects to `url` with default options.
    pub fn connect(url: &str) -> Result<Socket, Error> {
        Connect::new(url).open()
    }

    /// The subprotocol the server chose.
    pub fn protocol(&self) -> Option<String> {
        self.inner.protocol()
    }

    /// Sends a text message.
    pub fn send_text(&self, text: &str) -> Result<(), Error> {
        self.inner.send_text(text).map_err(Error::from)
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.inner.send_binary(data).map_err(Error::from)
    }

    /// The next message, waiting up to `timeout`; `None` if none came.
    /// After the peer's [`Message::Close`], every call fails with `Closed`.
    pub fn recv(&self, timeout: Duration) -> Result<Option<Message>, Error> {
        self.inner.recv(millis(timeout)).map_err(Error::from)
    }

    /// Pings and waits for the pong; the round trip.
    pub fn ping(&self, timeout: Duration) -> Result<Duration, Error> {
        self.inner
            .ping(millis(timeout))
            .map(Duration::from_micros)
            .map_err(Error::from)
    }

    /// Closes with `code` (1000 is normal) and waits briefly for the peer.
    pub fn close(&self, code: u16, reason: &str) -> Result<(), Error> {
        self.inner.close(code, reason).map_err(Error::from)
    }
}

/// Waits up to `timeout` until one of `sockets` has a message (or its
/// close) ready; the indexes of those that do. One VU can hold many sockets.
pub fn poll(sockets: &[&Socket], timeout: Duration) -> Vec<usize> {
    let handles: Vec<&wit::Socket> = sockets.iter().map(|s| &s.inner).collect();
    wit::poll(&handles, millis(timeout))
        .into_iter()
        .map(|i| i as usize)
        .collect()
}

/// A failed socket call, with the reason's class.
#[derive(Debug, Clone)]
pub struct Error {
    /// Refused, timeout, reset, TLS, DNS, handshake, invalid request, not
    /// allowed, closed, other.
    pub class: ErrorClass,
    /// What happened, in words.
    pub message: String,
}

impl From<wit::NetError> for Error {
    fn from(e: wit::NetError) -> Self {
        Error {
            class: e.class,
            message: e.message,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.class, self.message)
    }
}

impl std::error::Error for Error {}
