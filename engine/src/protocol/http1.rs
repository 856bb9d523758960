//! HTTP/1.1 over a VU's own keep-alive connection, driven inline by the
//! VU's call (the way wrk drives its connections): no pool checkout, no
//! connection task, no channel per request. The request is written from a
//! reused buffer and the response head is parsed once, in place. The pooled
//! hyper client stays for https (TLS, HTTP/2 by ALPN) and `send-batch`.

use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::http::{ErrorClass, Headers, HttpError};

/// hyper's limit too: a response with more header lines is refused.
const MAX_HEADERS: usize = 100;

/// A response head larger than this is refused (hyper allows ~400 KiB).
const MAX_HEAD: usize = 256 << 10;

/// Read buffer of an exchange; it grows with large responses.
const READ_CHUNK: usize = 8 << 10;

/// hyper's connector gave up connecting after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// One VU's HTTP/1.1 state: its connection, its request buffer and its
/// last two URLs, parsed. Lives with the VU's instance, so a re-instantiated VU
/// starts without it.
#[derive(Default)]
pub struct Local {
    pub(super) link: Link,
    pub(super) urls: super::http::LastUrls,
}

/// Idle connections a VU keeps to hosts other than its last request's:
/// a script that alternates between hosts (an API and its auth server)
/// reuses a connection to each, as k6 does, instead of opening one per
/// switch (a connect, and a socket left in TIME_WAIT, each time). Past
/// the bound the one idle longest is closed.
const IDLE_OTHER_HOSTS: usize = 7;

/// A VU's connections and the request written for them.
#[derive(Default)]
pub(super) struct Link {
    /// The last request's connection.
    conn: Option<Conn>,
    /// Idle ones to other hosts, at most one per host, the oldest first.
    others: Vec<Conn>,
    /// The request being sent, written here first (one write per request).
    pub(super) out: Vec<u8>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("connected", &self.link.conn.is_some())
            .field("idle_other_hosts", &self.link.others.len())
            .finish()
    }
}

/// Where a request goes and what its response may carry.
pub(super) struct Target<'a> {
    /// As the URL names it (brackets around an IPv6 address).
    pub host: &'a str,
    pub port: u16,
    /// Safe to send twice (RFC 9110 9.2.2): retried once on a fresh
    /// connection if a reused one failed before any byte of the response.
    pub idempotent: bool,
    /// A HEAD request: the response has no body whatever its headers say.
    pub head: bool,
}

/// One response as it came off the connection.
pub(super) struct Answer {
    pub status: u16,
    pub version: u8,
    pub headers: Headers,
    pub body: Bytes,
    pub bytes_received: u64,
    pub connecting: Duration,
    pub sending: Duration,
    /// From the request written until the response head arrived.
    pub waiting: Duration,
    pub receiving: Duration,
}

/// A failed exchange, and whether the server had answered anything yet.
struct Failed {
    error: HttpError,
    before_response: bool,
}

impl Failed {
    fn before(error: HttpError) -> Self {
        Failed {
            error,
            before_response: true,
        }
    }

    fn after(error: HttpError) -> Self {
        Failed {
            error,
            before_response: false,
        }
    }
}

impl Link {
    /// Sends `self.out` to `to` and reads the response: on this VU's open
    /// connection to `to` if it has one, else on a new one.
    pub(super) async fn exchange(&mut self, to: &Target<'_>) -> Result<Answer, HttpError> {
        self.pick(to);
        let mut retried = false;
        loop {
            let reused = self.conn.is_some();
            let (conn, connecting) = match &mut self.conn {
                Some(c) => (c, Duration::ZERO),
                // Boxed: connecting is rare and its future large; the
                // exchange's own future, boxed per request, stays small
                // without it.
                None => {
                    let (c, took) = super::boxed(|| Conn::connect(to)).await?;
                    (self.conn.insert(c), took)
                }
            };
            conn.busy = true;
            match conn.round_trip(&self.out, to.head).await {
                Ok((mut answer, keep_alive)) => {
                    answer.connecting = connecting;
                    conn.busy = false;
                    if !keep_alive {
                        self.conn = None;
                    }
                    return Ok(answer);
                }
                Err(f) => {
                    self.conn = None;
                    if !(reused && f.before_response && to.idempotent && !retried) {
                        return Err(f.error);
                    }
                    retried = true;
                }
            }
        }
    }

    /// Makes `conn` this VU's open connection to `to` if it has one (the
    /// last request's, or an idle one kept for another host), else none;
    /// the last request's connection to another host is kept idle. A
    /// request cut off by its timeout leaves its connection marked busy,
    /// mid-response: it is never reused or kept, and closes here, at the
    /// VU's next request (or with its instance).
    fn pick(&mut self, to: &Target<'_>) {
        if let Some(c) = &self.conn
            && c.goes_to(to)
        {
            if c.busy || !c.still_open() {
                self.conn = None;
            }
            return;
        }
        let found = (self.others.iter())
            .position(|c| c.goes_to(to))
            .map(|i| self.others.remove(i));
        if let Some(c) = self.conn.take().filter(|c| !c.busy) {
            if self.others.len() == IDLE_OTHER_HOSTS {
                self.others.remove(0);
            }
            self.others.push(c);
        }
        self.conn = found.filter(Conn::still_open);
    }
}

struct Conn {
    stream: TcpStream,
    host: String,
    port: u16,
    /// Holds a response while it is read; between exchanges it is back in
    /// its thread's [`spare`] buffers (10,000 idle VUs keep no read buffer).
    buf: Vec<u8>,
    /// An exchange started on it and has not finished.
    busy: bool,
}

impl Conn {
    async fn connect(to: &Target<'_>) -> Result<(Conn, Duration), HttpError> {
        let start = Instant::now();
        let host = to.host.trim_start_matches('[').trim_end_matches(']');
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, to.port)))
            .await
            .map_err(|_| {
                HttpError::new(
                    ErrorClass::Timeout,
                    format!(
                        "connecting to {}:{}: no answer within {} s",
                        to.host,
                        to.port,
                        CONNECT_TIMEOUT.as_secs()
                    ),
                )
            })?
            .map_err(|e| connect_error(to, e))?;
        // Requests are written whole; Nagle would hold back the next one.
        stream.set_nodelay(true).map_err(|e| connect_error(to, e))?;
        let conn = Conn {
            stream,
            host: to.host.to_string(),
            port: to.port,
            buf: Vec::new(),
            busy: false,
        };
        Ok((conn, start.elapsed()))
    }

    /// Goes to `to`'s host and port.
    fn goes_to(&self, to: &Target<'_>) -> bool {
        self.port == to.port && self.host.eq_ignore_ascii_case(to.host)
    }

    /// Reads a socket only when the reactor saw it become readable since
    /// the last response was read: then the server closed it (or sent
    /// bytes nobody asked for, which also makes it unusable).
    fn still_open(&self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Writes `request` and reads its response; the bool: whether the
    /// connection may carry another request.
    async fn round_trip(&mut self, request: &[u8], head: bool) -> Result<(Answer, bool), Failed> {
        let start = Instant::now();
        self.stream
            .write_all(request)
            .await
            .map_err(|e| Failed::before(io_error(e, "sending the request")))?;
        let sent = Instant::now();
        // The buffer is taken once the answer is there to read: VUs
        // waiting on their servers hold none.
        self.stream
            .readable()
            .await
            .map_err(|e| Failed::before(io_error(e, "reading the response")))?;
        self.buf = spare::take();
        let parsed = loop {
            match self.read_head(head).await? {
                // 1xx (but 101): an interim answer; the real one follows.
                Parsed { status, len, .. } if (100..200).contains(&status) && status != 101 => {
                    self.buf.drain(..len);
                }
                parsed => break parsed,
            }
        };
        let head_at = Instant::now();
        let Parsed {
            status,
            version,
            len,
            headers,
            framing,
            close,
        } = parsed;
        let (body, end) = match framing {
            Framing::Empty => (Bytes::new(), len),
            Framing::Length(n) => self.read_length(len, n).await.map_err(Failed::after)?,
            Framing::Chunked => self.read_chunked(len).await.map_err(Failed::after)?,
            Framing::UntilClose => self.read_to_close(len).await.map_err(Failed::after)?,
        };
        let end_at = Instant::now();
        // Bytes past this response were never asked for: the connection's
        // framing can no longer be trusted.
        let keep_alive = !close && framing != Framing::UntilClose && end == self.buf.len();
        spare::give(std::mem::take(&mut self.buf));
        let answer = Answer {
            status,
            version,
            headers,
            body,
            bytes_received: end as u64,
            connecting: Duration::ZERO,
            sending: sent - start,
            waiting: head_at - sent,
            receiving: end_at - head_at,
        };
        Ok((answer, keep_alive))
    }

    /// Reads until `self.buf` holds a whole response head and parses it.
    async fn read_head(&mut self, head: bool) -> Result<Parsed, Failed> {
        loop {
            // Empty (as it is for every response's first read): nothing to parse.
            if !self.buf.is_empty()
                && let Some(parsed) = parse_head(&self.buf, head).map_err(Failed::after)?
            {
                return Ok(parsed);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Failed::after(HttpError::new(
                    ErrorClass::Other,
                    format!("the response head is larger than {} KiB", MAX_HEAD >> 10),
                )));
            }
            let nothing_yet = self.buf.is_empty();
            let n = self.fill().await.map_err(|e| Failed {
                error: e,
                before_response: nothing_yet,
            })?;
            if n == 0 {
                return Err(Failed {
                    error: HttpError::new(
                        ErrorClass::Reset,
                        "the server closed the connection before a complete response head",
                    ),
                    before_response: nothing_yet,
                });
            }
        }
    }

    /// Reads more into `self.buf`; 0 at the end of the stream.
    async fn fill(&mut self) -> Result<usize, HttpError> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
            self.buf.reserve(READ_CHUNK);
        }
        self.stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| io_error(e, "reading the response"))
    }

    /// Reads until `self.buf` holds `end` bytes.
    async fn fill_to(&mut self, end: usize) -> Result<(), HttpError> {
        while self.buf.len() < end {
            if self.fill().await? == 0 {
                return Err(HttpError::new(
                    ErrorClass::Reset,
                    "the server closed the connection before the end of the response body",
                ));
            }
        }
        Ok(())
    }

    async fn read_length(&mut self, from: usize, n: u64) -> Result<(Bytes, usize), HttpError> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| from.checked_add(n))
            .ok_or_else(|| malformed(format!("content-length {n} is too large")))?;
        self.buf.reserve(end.saturating_sub(self.buf.len()));
        self.fill_to(end).await?;
        Ok((Bytes::copy_from_slice(&self.buf[from..end]), end))
    }

    async fn read_to_close(&mut self, from: usize) -> Result<(Bytes, usize), HttpError> {
        while self.fill().await? > 0 {}
        let end = self.buf.len();
        Ok((Bytes::copy_from_slice(&self.buf[from..end]), end))
    }

    /// Decodes a chunked body starting at `pos`; trailers are read and
    /// dropped (hyper drops them too).
    async fn read_chunked(&mut self, mut pos: usize) -> Result<(Bytes, usize), HttpError> {
        let mut body = Vec::new();
        loop {
            let line = self.line_at(pos).await?;
            let size = chunk_size(&self.buf[pos..line])?;
            pos = line + 2;
            if size == 0 {
                break;
            }
            let end = pos
                .checked_add(size)
                .and_then(|e| e.checked_add(2))
                .ok_or_else(|| malformed(format!("chunk size {size} is too large")))?;
            self.fill_to(end).await?;
            if &self.buf[end - 2..end] != b"\r\n" {
                return Err(malformed("a chunk does not end with CRLF".into()));
            }
            body.extend_from_slice(&self.buf[pos..end - 2]);
            pos = end;
        }
        // Trailer lines until the empty one.
        loop {
            let line = self.line_at(pos).await?;
            let empty = line == pos;
            pos = line + 2;
            if empty {
                return Ok((Bytes::from(body), pos));
            }
        }
    }

    /// The index of the CRLF ending the line that starts at `pos`.
    async fn line_at(&mut self, pos: usize) -> Result<usize, HttpError> {
        let mut searched = pos;
        loop {
            if let Some(i) = self.buf[searched..].windows(2).position(|w| w == b"\r\n") {
                return Ok(searched + i);
            }
            if self.buf.len() - pos > MAX_HEAD {
                return Err(malformed("a chunk-size or trailer line is too long".into()));
            }
            searched = self.buf.len().saturating_sub(1).max(pos);
            self.fill_to(self.buf.len() + 1).await?;
        }
    }
}

/// Read buffers between exchanges, one stack per worker thread. An
/// allocation of 8 KiB per response took glibc's slow path (too large for
/// its per-thread cache, it sorted and merged free chunks first); a buffer
/// taken from here was last written by the thread's previous response, so
/// it is likely still in the CPU's cache too.
mod spare {
    use std::cell::RefCell;

    use super::READ_CHUNK;

    /// Buffers kept per thread; more are freed. A thread reads one
    /// response at a time unless a response arrives in pieces.
    const KEPT: usize = 16;

    /// A buffer that grew past this (a large body) is freed, not kept.
    const KEPT_CAPACITY: usize = 64 << 10;

    thread_local! {
        static BUFFERS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    /// An empty buffer with room for a read.
    pub(super) fn take() -> Vec<u8> {
        BUFFERS
            .with_borrow_mut(Vec::pop)
            .unwrap_or_else(|| Vec::with_capacity(READ_CHUNK))
    }

    /// Gives `buf` back for the thread's next response.
    pub(super) fn give(mut buf: Vec<u8>) {
        if buf.capacity() < READ_CHUNK || buf.capacity() > KEPT_CAPACITY {
            return;
        }
        buf.clear();
        BUFFERS.with_borrow_mut(|kept| {
            if kept.len() < KEPT {
                kept.push(buf);
            }
        });
    }
}

/// How the body of a response is delimited (RFC 9112 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
struct Parsed {
    status: u16,
    version: u8,
    /// Bytes of the head, the blank line included.
    len: usize,
    headers: Headers,
    framing: Framing,
    /// The server closes the connection after this response.
    close: bool,
}

/// Header lines a response head is first parsed with, on the stack; a head
/// with more is parsed again with [`MAX_HEADERS`] slots on the heap. The
/// stack is the VU's fiber stack, which keeps every page a request touched
/// while the VU sleeps: 100 slots (3 KiB) cost each VU a page.
const STACK_HEADERS: usize = 24;

/// The response head at the start of `buf`, if all of it is there.
fn parse_head(buf: &[u8], head: bool) -> Result<Option<Parsed>, HttpError> {
    parse_head_with(buf, head, &mut [httparse::EMPTY_HEADER; STACK_HEADERS])
}

fn parse_head_with<'b>(
    buf: &'b [u8],
    head: bool,
    slots: &mut [httparse::Header<'b>],
) -> Result<Option<Parsed>, HttpError> {
    let more_slots = slots.len() < MAX_HEADERS;
    let mut resp = httparse::Response::new(slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) if more_slots => {
            return parse_head_with(buf, head, &mut vec![httparse::EMPTY_HEADER; MAX_HEADERS]);
        }
        Err(e) => return Err(malformed(format!("the response head does not parse: {e}"))),
    };
    let status = resp.code.unwrap_or(0);
    let version = resp.version.unwrap_or(1);
    let mut length = None;
    let mut chunked = false;
    let mut close = version == 0;
    // One string for every header (`name: value` lines), sized by the head.
    let mut headers = Headers::with_capacity(len);
    // The head is checked as UTF-8 once (it is nearly always ASCII), so a
    // value is a slice of it rather than a copy checked header by header
    // (a `from_utf8` per value saved half as much, by cachegrind).
    let text = std::str::from_utf8(&buf[..len]).ok();
    for h in resp.headers.iter() {
        let value = match text.and_then(|text| within(text, buf, h.value)) {
            Some(value) => std::borrow::Cow::Borrowed(value),
            None => String::from_utf8_lossy(h.value),
        };
        let is = |name: &str| h.name.eq_ignore_ascii_case(name);
        if is("content-length") {
            let n = value
                .trim()
                .parse::<u64>()
                .map_err(|_| malformed(format!("content-length `{value}` is not a number")))?;
            if length.is_some_and(|l| l != n) {
                return Err(malformed("two different content-length headers".into()));
            }
            length = Some(n);
        } else if is("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        } else if is("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == 0 {
                    close = false;
                }
            }
        }
        headers.push_lowercase(h.name, &value);
    }
    let framing = match status {
        _ if head => Framing::Empty,
        100..=199 | 204 | 304 => Framing::Empty,
        _ if chunked => Framing::Chunked,
        _ => length.map_or(Framing::UntilClose, Framing::Length),
    };
    Ok(Some(Parsed {
        status,
        version,
        len,
        headers,
        framing,
        close,
    }))
}

/// `part`, a slice of `buf`, as the same bytes of `text` (`buf`'s start
/// as a string); `None` if it lies elsewhere or `text` cannot be cut there.
fn within<'t>(text: &'t str, buf: &[u8], part: &[u8]) -> Option<&'t str> {
    let at = (part.as_ptr() as usize).checked_sub(buf.as_ptr() as usize)?;
    text.get(at..at.checked_add(part.len())?)
}

/// The size on a chunk-size line (extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> Result<usize, HttpError> {
    let text = String::from_utf8_lossy(line);
    let hex = text.split(';').next().unwrap_or("").trim();
    usize::from_str_radix(hex, 16).map_err(|_| malformed(format!("`{text}` is not a chunk size")))
}

fn malformed(message: String) -> HttpError {
    HttpError::new(ErrorClass::Other, format!("malformed response: {message}"))
}

fn io_error(e: std::io::Error, doing: &str) -> HttpError {
    use std::io::ErrorKind::*;
    let class = match e.kind() {
        ConnectionRefused => ErrorClass::Refused,
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => ErrorClass::Reset,
        TimedOut => ErrorClass::Timeout,
        _ => ErrorClass::Other,
    };
    HttpError::new(class, format!("{doing}: {e}"))
}

fn connect_error(to: &Target<'_>, e: std::io::Error) -> HttpError {
    let mut error = io_error(e, &format!("connecting to {}:{}", to.host, to.port));
    let lower = error.message.to_ascii_lowercase();
    if error.class == ErrorClass::Other
        && (lower.contains("failed to lookup address") || lower.contains("name or service"))
    {
        error.class = ErrorClass::Dns;
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_buffers_are_reused_empty_and_large_ones_freed() {
        let mut buf = spare::take();
        assert!(buf.capacity() >= READ_CHUNK, "{}", buf.capacity());
        buf.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        let at = buf.as_ptr();
        spare::give(buf);
        let again = spare::take();
        assert!(again.is_empty(), "a buffer comes back cleared");
        assert_eq!(
            again.as_ptr(),
            at,
            "the buffer given back is the next taken"
        );

        let mut large = again;
        large.reserve(1 << 20);
        spare::give(large);
        let next = spare::take();
        assert!(
            next.capacity() < 1 << 20,
            "a buffer grown by a large body is not kept: {}",
            next.capacity()
        );
    }

    #[test]
    fn heads_name_their_framing() {
        let cases: [(&[u8], bool, Framing, bool); 6] = [
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                false,
                Framing::Length(2),
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                false,
                Framing::Chunked,
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                false,
                Framing::UntilClose,
                true,
            ),
            (
                b"HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n",
                false,
                Framing::Empty,
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n",
                true,
                Framing::Empty,
                false,
            ),
            (
                b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n",
                false,
                Framing::Length(0),
                true,
            ),
        ];
        for (head, is_head, framing, close) in cases {
            let p = parse_head(head, is_head).unwrap().unwrap();
            assert_eq!(
                (p.framing, p.close),
                (framing, close),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-le", false)
                .unwrap()
                .is_none()
        );
        let p = parse_head(
            b"HTTP/1.1 200 OK\r\nX-Mixed: A b\r\nETag: \"Z\"\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.headers.lines(), "x-mixed: A b\netag: \"Z\"");
        // Values as sent: UTF-8 whole, empty ones empty; in a head that is
        // not UTF-8, each value converted on its own.
        let p = parse_head(
            "HTTP/1.1 200 OK\r\nX-Name: caf\u{e9}\r\nX-Empty:\r\nX-Pad:   v  \r\n\r\n".as_bytes(),
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.headers.lines(), "x-name: caf\u{e9}\nx-empty: \nx-pad: v");
        let p = parse_head(b"HTTP/1.1 200 OK\r\nX-A: ok\r\nX-B: \xffz\r\n\r\n", false)
            .unwrap()
            .unwrap();
        assert_eq!(p.headers.lines(), "x-a: ok\nx-b: \u{fffd}z");
        let e = parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", false).unwrap_err();
        assert!(e.message.contains("content-length `x`"), "{}", e.message);
    }

    #[test]
    fn a_value_is_cut_from_the_checked_head_only_where_it_lies_in_it() {
        let buf = "ab caf\u{e9} z".as_bytes().to_vec();
        let text = std::str::from_utf8(&buf).unwrap();
        assert_eq!(within(text, &buf, &buf[3..8]), Some("caf\u{e9}"));
        assert_eq!(within(text, &buf, &buf[8..8]), Some(""));
        // Inside the two bytes of `é`: not a string of its own.
        assert_eq!(within(text, &buf, &buf[3..7]), None);
        // Bytes from elsewhere (an empty value may be a static slice).
        let other = b"caf".to_vec();
        assert_eq!(within(text, &buf, &other), None);
    }

    #[test]
    fn heads_with_many_headers_parse_up_to_the_limit() {
        let head = |n: usize| {
            let lines: String = (0..n).map(|i| format!("x-h{i}: {i}\r\n")).collect();
            format!("HTTP/1.1 200 OK\r\n{lines}\r\n")
        };
        let p = parse_head(head(STACK_HEADERS + 1).as_bytes(), false)
            .unwrap()
            .unwrap();
        assert_eq!(p.headers.iter().count(), STACK_HEADERS + 1);
        let p = parse_head(head(MAX_HEADERS).as_bytes(), false)
            .unwrap()
            .unwrap();
        assert_eq!(
            p.headers.iter().last().unwrap(),
            (format!("x-h{}", MAX_HEADERS - 1).as_str(), "99")
        );
        let e = parse_head(head(MAX_HEADERS + 1).as_bytes(), false).unwrap_err();
        assert!(e.message.contains("does not parse"), "{}", e.message);
    }

    #[test]
    fn chunk_sizes_are_hex_with_extensions() {
        assert_eq!(chunk_size(b"1a").unwrap(), 26);
        assert_eq!(chunk_size(b"0;name=v").unwrap(), 0);
        assert!(chunk_size(b"zz").is_err());
    }
}
