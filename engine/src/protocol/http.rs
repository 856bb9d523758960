//! The HTTP client every VU shares: hyper with keep-alive pooling, HTTP/2 by
//! ALPN, TLS by rustls; plain http:// requests from a VU go instead on the
//! VU's own connection ([`super::http1`]). Times each request and classifies
//! failures. Follows redirects like k6 and browsers, each hop checked against
//! the allowlist like the first request.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::ops::{ControlFlow, Range};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::Allowlist;
use super::boxed;
use super::established::{Connector, Established, Opening, TcpConnector};
pub use super::http1::Local;

/// [`HttpClient::send_owned`]'s future.
pub type OwnedExchange<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Idle keep-alive connections kept per host.
const MAX_IDLE_PER_HOST: usize = 1024;

/// k6's default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// k6 (and Go's client) follow up to 10 redirects.
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;

/// One request as a scenario describes it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub timeout: Option<Duration>,
    /// This request's redirect limit (k6 `params.redirects`); none: the client's.
    pub max_redirects: Option<u32>,
}

/// A request's phases. The pooled client (https, HTTP/2) cannot tell
/// sending apart from waiting: there it is none and `waiting` runs from the
/// call. A VU's own HTTP/1.1 connection ([`super::http1`]) times each
/// phase, as k6 does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Opening the TCP connection (zero on a reused one).
    pub connecting: Option<Duration>,
    /// The TLS handshake (zero on a reused connection, none on plain http).
    pub tls_handshaking: Option<Duration>,
    /// Writing the request.
    pub sending: Option<Duration>,
    /// Until the response head arrived.
    pub waiting: Duration,
    /// From the response head until the last body byte.
    pub receiving: Duration,
    /// The whole request.
    pub duration: Duration,
}

/// A response's headers as the WIT hands them to a guest: `name: value`
/// lines joined by `\n`, names in lower case, in the order they came (a
/// repeated header keeps every line). One string, not two per header: a
/// response's headers are one allocation, and a guest asking for all of
/// them gets a copy of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(String);

impl Headers {
    pub fn with_capacity(bytes: usize) -> Self {
        Headers(String::with_capacity(bytes))
    }

    /// Adds a header; `name` must be a header name (no `:`), `value` one
    /// line.
    pub fn push(&mut self, name: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push('\n');
        }
        self.0.push_str(name);
        self.0.push_str(": ");
        self.0.push_str(value);
    }

    /// Adds a header with its name in lower case.
    pub fn push_lowercase(&mut self, name: &str, value: &str) {
        let at = self.0.len() + usize::from(!self.0.is_empty());
        self.push(name, value);
        self.0[at..at + name.len()].make_ascii_lowercase();
    }

    /// Each header as `(name, value)`. A name has no `:`, so a line splits
    /// at its first one (a byte search: splitting at `": "` ran a substring
    /// search per line, ~400 instructions each).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .split('\n')
            .filter(|l| !l.is_empty())
            .map(|l| match l.split_once(':') {
                Some((k, v)) => (k, v.strip_prefix(' ').unwrap_or(v)),
                None => (l, ""),
            })
    }

    /// The first value of `name`, whatever its case. Checked on every
    /// held response (`set-cookie`), so a line is judged by its length
    /// and the byte after the name before its name is compared.
    pub fn get(&self, name: &str) -> Option<&str> {
        let n = name.len();
        self.0.split('\n').find_map(|l| {
            let b = l.as_bytes();
            (b.len() > n && b[n] == b':' && b[..n].eq_ignore_ascii_case(name.as_bytes()))
                .then(|| l[n + 1..].strip_prefix(' ').unwrap_or(&l[n + 1..]))
        })
    }

    /// The WIT's encoding: `name: value` lines joined by `\n`.
    pub fn lines(&self) -> &str {
        &self.0
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut out = Headers::default();
        for (k, v) in pairs {
            out.push(k.as_ref(), v.as_ref());
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: Bytes,
    pub protocol: &'static str,
    pub timings: Timings,
    /// Approximate bytes on the wire (request line, headers, body).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// The URL that answered (the request's, or the last redirect's).
    pub url: String,
    /// The redirects followed before this response, in order.
    pub hops: Vec<Hop>,
}

/// One redirect answered on the way to the final response: a request of
/// its own (k6 records each as an `http_reqs` sample).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub method: String,
    pub url: String,
    pub status: u16,
    /// The redirect's response headers (its `set-cookie` lines, say).
    pub headers: Headers,
    pub timings: Timings,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

pub use super::net::ErrorClass;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    pub class: ErrorClass,
    pub message: String,
    /// Redirects answered before the request failed (a hop to a host off
    /// the allowlist fails after them).
    pub hops: Vec<Hop>,
    /// The URL of the redirect that failed, if a redirect did.
    pub redirected_to: Option<String>,
}

impl HttpError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        HttpError {
            class,
            message: message.into(),
            hops: Vec::new(),
            redirected_to: None,
        }
    }
}

type Inner = Client<Connector, Full<Bytes>>;

/// A pooled HTTP client. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct HttpClient {
    client: Inner,
    allow: Arc<Allowlist>,
    user_agent: Arc<str>,
    max_redirects: u32,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("allow", &self.allow)
            .finish()
    }
}

impl HttpClient {
    pub fn new(
        allow: Allowlist,
        insecure_skip_tls_verify: bool,
    ) -> Result<Self, super::tls::TlsSetupError> {
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(30)));
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = if insecure_skip_tls_verify {
            builder.with_tls_config(super::tls::client_config(true)?)
        } else {
            builder.with_webpki_roots()
        };
        let https = builder
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(TcpConnector(connector));
        // Idle connections are memory: a burst of 10,000 VUs opens as many,
        // but a steady load needs far fewer.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .build(Connector(https));
        Ok(HttpClient {
            client,
            allow: Arc::new(allow),
            user_agent: Arc::from(format!("volley/{}", env!("CARGO_PKG_VERSION"))),
            max_redirects: DEFAULT_MAX_REDIRECTS,
        })
    }

    /// How many redirects a request follows (0: none, the 3xx is the answer).
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.max_redirects = n;
        self
    }

    /// Sends `req`, follows its redirects and reads the whole response. The
    /// timeout covers the redirects too. Past `max_redirects` the last
    /// redirect is the response (as in k6).
    pub async fn send(&self, req: Request) -> Result<Response, HttpError> {
        let due = Due::new(&req, Instant::now());
        self.send_via(req, None, Vec::new(), due).await
    }

    /// [`HttpClient::send`], with plain http:// requests (and redirects)
    /// on `local`, the calling VU's own connection, driven by the caller.
    ///
    /// A request answered without a redirect, the common case, takes the
    /// first hop here, outside the redirect loop: this future stays small
    /// (it is boxed per request, and at 1,000 VUs every byte of it is a
    /// cache line fetched from further away). Not an `async fn`: that keeps
    /// a `mut` argument twice in its state (the request's 128 bytes), which
    /// made it larger than the 1 KiB that glibc serves from its per-thread
    /// cache.
    ///
    /// Boxed here, in a frame of its own, as [`boxed`] does: built in the
    /// caller, the future would widen the caller's frame by its size for as
    /// long as the exchange runs. (Through `boxed` the caller would build
    /// the closure holding the request: 384 bytes deeper.)
    #[inline(never)]
    pub fn send_inline<'a>(
        &'a self,
        req: Request,
        local: &'a mut Local,
    ) -> Pin<Box<impl Future<Output = Result<Response, HttpError>> + Send + 'a>> {
        Box::pin(self.inline(req, local))
    }

    /// [`HttpClient::send_inline`] as a future that owns what it uses: the
    /// client (through `client`, which holds it) and the VU's connection,
    /// which it gives to `then` with the response (and `client`). A VU's
    /// task polls it off the VU's fiber (see `host::offload`), `then`
    /// included. Boxed once, here.
    #[inline(never)]
    pub fn send_owned<C, F, T>(
        client: C,
        req: Request,
        mut local: Box<Local>,
        then: F,
    ) -> OwnedExchange<T>
    where
        C: std::ops::Deref<Target = HttpClient> + Send + Sync + 'static,
        F: FnOnce(C, Box<Local>, Result<Response, HttpError>) -> T + Send + 'static,
        T: 'static,
    {
        Box::pin(async move {
            let result = client.inline(req, &mut local).await;
            then(client, local, result)
        })
    }

    /// The future of [`HttpClient::send_inline`], unboxed. Not an `async
    /// fn`: that would keep the `mut` request twice in its state.
    #[allow(clippy::manual_async_fn)]
    fn inline<'a>(
        &'a self,
        mut req: Request,
        local: &'a mut Local,
    ) -> impl Future<Output = Result<Response, HttpError>> + Send + 'a {
        async move {
            let due = Due::new(&req, Instant::now());
            if !is_plain_http(&req.url) {
                return boxed(|| self.send_via(req, Some(local), Vec::new(), due)).await;
            }
            let resp = self.send_inline_one(&req, &due, local).await?;
            let mut hops = Vec::new();
            match self.follow(&mut req, resp, &mut hops) {
                ControlFlow::Break(resp) => Ok(resp),
                ControlFlow::Continue(()) => {
                    boxed(|| self.send_via(req, Some(local), hops, due)).await
                }
            }
        }
    }

    /// Sends `req` and follows its redirects, `hops` already taken.
    async fn send_via(
        &self,
        mut req: Request,
        mut local: Option<&mut Local>,
        mut hops: Vec<Hop>,
        due: Due,
    ) -> Result<Response, HttpError> {
        loop {
            let one = match local.as_deref_mut() {
                Some(local) if is_plain_http(&req.url) => {
                    self.send_inline_one(&req, &due, local).await
                }
                _ => self.send_one(&req, due).await,
            };
            let resp = match one {
                Ok(r) => r,
                Err(mut e) => {
                    if let Some(last) = hops.last() {
                        e.message =
                            format!("redirect from {} to {}: {}", last.url, req.url, e.message);
                        e.redirected_to = Some(req.url.clone());
                    }
                    e.hops = hops;
                    return Err(e);
                }
            };
            if let ControlFlow::Break(resp) = self.follow(&mut req, resp, &mut hops) {
                return Ok(resp);
            }
        }
    }

    /// What comes after `resp`, the answer to `req`: itself, with the
    /// `hops` before it and `req`'s URL (`Break`: `req` is done with), or
    /// its redirect, taken: `req` becomes the next request and `resp`, with
    /// the URL `req` had, the last of `hops` (`Continue`). The URL moves
    /// here, not copied: the one-hop clients leave the response's empty.
    fn follow(
        &self,
        req: &mut Request,
        mut resp: Response,
        hops: &mut Vec<Hop>,
    ) -> ControlFlow<Response> {
        let max_redirects = req.max_redirects.unwrap_or(self.max_redirects);
        let next = match resp.status {
            301 | 302 | 303 | 307 | 308 if (hops.len() as u32) < max_redirects => resp
                .headers
                .iter()
                .find(|(k, _)| *k == "location")
                .and_then(|(_, v)| resolve_location(&req.url, v)),
            _ => None,
        };
        let Some(next) = next else {
            resp.hops = std::mem::take(hops);
            resp.url = std::mem::take(&mut req.url);
            return ControlFlow::Break(resp);
        };
        let same_host = authority(&req.url) == authority(&next);
        let method = req.method.to_ascii_uppercase();
        let url = redirect(req, resp.status, next);
        // A login that sets its session cookie and redirects to the
        // page needing it works only if the next hop sends it (as k6's
        // jar and browsers do).
        if same_host {
            carry_cookies(&mut req.headers, &resp.headers);
        }
        hops.push(Hop {
            method,
            url,
            status: resp.status,
            headers: std::mem::take(&mut resp.headers),
            timings: resp.timings,
            bytes_sent: resp.bytes_sent,
            bytes_received: resp.bytes_received,
        });
        ControlFlow::Continue(())
    }

    /// One request, no redirects followed.
    async fn send_one(&self, req: &Request, due: Due) -> Result<Response, HttpError> {
        let start = Instant::now();
        let (request, bytes_sent) = self.build(req)?;
        let exchange = async {
            let resp = self.client.request(request).await.map_err(classify)?;
            let head_at = Instant::now();
            let (parts, body) = resp.into_parts();
            let body = body.collect().await.map_err(classify)?.to_bytes();
            Ok::<_, HttpError>((parts, body, head_at))
        };
        let (parts, body, head_at) = tokio::time::timeout_at(due.at.into(), exchange)
            .await
            .map_err(|_| due.timed_out())??;
        let end = Instant::now();
        let opening = parts.extensions.get::<Arc<Established>>().map(|e| e.take());
        let mut head_bytes = 15u64;
        let mut headers = Headers::default();
        for (k, v) in &parts.headers {
            head_bytes += (k.as_str().len() + v.len() + 4) as u64;
            headers.push(k.as_str(), &String::from_utf8_lossy(v.as_bytes()));
        }
        Ok(Response {
            status: parts.status.as_u16(),
            headers,
            protocol: match parts.version {
                hyper::Version::HTTP_2 => "HTTP/2.0",
                hyper::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            bytes_received: head_bytes + 2 + body.len() as u64,
            body,
            timings: Timings {
                connecting: opening.map(|o| o.connecting),
                tls_handshaking: opening.and_then(|o| o.handshaking),
                waiting: past_opening(head_at - start, opening),
                receiving: end - head_at,
                duration: past_opening(end - start, opening),
                sending: None,
            },
            bytes_sent,
            // Set by `follow`.
            url: String::new(),
            hops: Vec::new(),
        })
    }

    /// One request on the VU's own HTTP/1.1 connection, no redirects.
    /// Its duration is k6's: sending, waiting and receiving, from the
    /// request's first byte written to the response's last read; a
    /// connection opened for it is in `connecting`, not in the duration.
    async fn send_inline_one(
        &self,
        req: &Request,
        due: &Due,
        local: &mut Local,
    ) -> Result<Response, HttpError> {
        let super::http1::Local { link, urls } = local;
        let url = urls.parse(&req.url, &self.allow)?;
        let target = self.write_http1(req, url, &mut link.out)?;
        // Not wrapped in a helper's future: that would copy the exchange's
        // state once more per request.
        let answer = tokio::time::timeout_at(due.at.into(), link.exchange(&target))
            .await
            .map_err(|_| due.timed_out())??;
        Ok(Response {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
            protocol: if answer.version == 0 {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            },
            timings: Timings {
                connecting: Some(answer.connecting),
                tls_handshaking: None,
                sending: Some(answer.sending),
                waiting: answer.waiting,
                receiving: answer.receiving,
                duration: answer.sending + answer.waiting + answer.receiving,
            },
            bytes_sent: link.out.len() as u64,
            bytes_received: answer.bytes_received,
            // Set by `follow`.
            url: String::new(),
            hops: Vec::new(),
        })
    }

    /// The request's URL, parsed, with its host allowed.
    fn checked_uri(&self, req: &Request) -> Result<Uri, HttpError> {
        let uri = parse_uri(&req.url)?;
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        allowed(&self.allow, uri.host().unwrap_or_default(), port)?;
        Ok(uri)
    }

    /// Writes `req` as HTTP/1.1 into `out` with the headers hyper would
    /// add (host, user-agent, content-length), checked as the pooled path
    /// checks them.
    fn write_http1<'u>(
        &self,
        req: &Request,
        url: &'u LastUrl,
        out: &mut Vec<u8>,
    ) -> Result<super::http1::Target<'u>, HttpError> {
        // Upper-cased by the host already; copied only when it is not.
        let upper: Cow<str> = if req.method.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(req.method.to_ascii_uppercase())
        } else {
            Cow::Borrowed(&req.method)
        };
        let method = hyper::Method::from_bytes(upper.as_bytes())
            .map_err(|_| invalid(format!("`{}` is not an HTTP method", req.method)))?;
        let (host, explicit_port) = (url.host(), url.port);
        let port = explicit_port.unwrap_or(80);
        out.clear();
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        url.push_target(out);
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let (mut has_agent, mut has_host) = (false, false);
        for (k, v) in &req.headers {
            check_header(k, v, &self.allow, port)?;
            let name = k.trim();
            push_scenario_header(out, name, v)?;
            has_agent |= name.eq_ignore_ascii_case("user-agent");
            has_host |= name.eq_ignore_ascii_case("host");
        }
        if !has_host {
            out.extend_from_slice(b"host: ");
            out.extend_from_slice(host.as_bytes());
            if let Some(p) = explicit_port.filter(|p| *p != 80) {
                out.push(b':');
                push_decimal(out, p.into());
            }
            out.extend_from_slice(b"\r\n");
        }
        if !has_agent {
            push_header(out, "user-agent", self.user_agent.as_bytes());
        }
        let bodiless = matches!(
            method,
            hyper::Method::GET | hyper::Method::HEAD | hyper::Method::CONNECT
        );
        if !req.body.is_empty() || !bodiless {
            out.extend_from_slice(b"content-length: ");
            push_decimal(out, req.body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&req.body);
        Ok(super::http1::Target {
            host,
            port,
            idempotent: method.is_idempotent(),
            head: method == hyper::Method::HEAD,
        })
    }

    fn build(&self, req: &Request) -> Result<(hyper::Request<Full<Bytes>>, u64), HttpError> {
        let uri = self.checked_uri(req)?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let method = hyper::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| invalid(format!("`{}` is not an HTTP method", req.method)))?;
        let mut sent = (method.as_str().len() + req.url.len() + 12) as u64;
        let mut builder = hyper::Request::builder().method(method).uri(uri);
        let mut has_agent = false;
        for (k, v) in &req.headers {
            check_header(k, v, &self.allow, port)?;
            has_agent |= k.eq_ignore_ascii_case("user-agent");
            sent += (k.len() + v.len() + 4) as u64;
            builder = builder.header(k.as_str(), v.as_str());
        }
        if !has_agent {
            builder = builder.header(hyper::header::USER_AGENT, &*self.user_agent);
        }
        sent += req.body.len() as u64;
        let request = builder
            .body(Full::new(req.body.clone()))
            .map_err(|e| invalid(format!("bad request: {e}")))?;
        Ok((request, sent))
    }
}

fn invalid(message: String) -> HttpError {
    HttpError::new(ErrorClass::InvalidRequest, message)
}

/// When a request (its redirects included) must be answered by.
#[derive(Clone, Copy)]
struct Due {
    at: Instant,
    /// The request's timeout, for the error that names it.
    timeout: Duration,
}

impl Due {
    /// The due time of `req` sent at `start`.
    fn new(req: &Request, start: Instant) -> Due {
        let timeout = req.timeout.unwrap_or(DEFAULT_TIMEOUT);
        Due {
            at: start + timeout,
            timeout,
        }
    }

    /// The error of a request not answered by then.
    fn timed_out(self) -> HttpError {
        HttpError::new(
            ErrorClass::Timeout,
            format!(
                "no complete response within {} ms",
                self.timeout.as_millis()
            ),
        )
    }
}

/// A scenario's header, checked the same way on both paths.
fn check_header(k: &str, v: &str, allow: &Allowlist, port: u16) -> Result<(), HttpError> {
    super::headers::check(k, v, allow, port, false).map_err(|r| match r {
        super::headers::Refused::Reserved(m) => invalid(m),
        super::headers::Refused::NotAllowed(m) => HttpError::new(ErrorClass::NotAllowed, m),
    })
}

/// A scenario's header, written as `name: value` with the name in lower
/// case, checked as the `http` crate checks them (a token for a name; a
/// value of visible ASCII, spaces and tabs, never CR or LF) but without
/// the two copies its `HeaderName` and `HeaderValue` make.
fn push_scenario_header(out: &mut Vec<u8>, name: &str, value: &str) -> Result<(), HttpError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(invalid(format!(
            "bad request: header `{name}`: not a header name (letters, digits and !#$%&'*+-.^_`|~)"
        )));
    }
    if !value
        .bytes()
        .all(|b| (b' '..0x7f).contains(&b) || b == b'\t')
    {
        return Err(invalid(format!(
            "bad request: header `{name}`: its value may hold visible ASCII, spaces and tabs only"
        )));
    }
    let at = out.len();
    out.extend_from_slice(name.as_bytes());
    out[at..].make_ascii_lowercase();
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `n` in decimal, written into the end of `buf`: without the formatting
/// machinery or an allocation (a status tag and a request's numbers, on
/// every request).
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

fn push_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(decimal(n, &mut [0; 20]).as_bytes());
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `host:port` is on `allow`, or the error that says how to put it there.
fn allowed(allow: &Allowlist, host: &str, port: u16) -> Result<(), HttpError> {
    if allow.permits(host, port) {
        return Ok(());
    }
    Err(HttpError::new(
        ErrorClass::NotAllowed,
        format!(
            "{host}:{port} is not an allowed host: list it in the plan's [targets] or pass --allow-host {host}:{port}"
        ),
    ))
}

/// `url` parsed, an http:// or https:// URL with a host.
fn parse_uri(url: &str) -> Result<Uri, HttpError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| invalid(format!("`{url}` is not a URL: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid(format!("`{url}`: use an http:// or https:// URL")));
    }
    if uri.host().is_none() {
        return Err(invalid(format!("`{url}` has no host")));
    }
    // `Uri` takes any digits as a port, and has none when they overflow.
    let authority = uri.authority().map_or("", |a| a.as_str());
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let after_host = host_port.rsplit_once(']').map_or(host_port, |(_, p)| p);
    if after_host
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && uri.port().is_none())
    {
        return Err(invalid(format!("`{url}`: a port is 0 to 65535")));
    }
    Ok(uri)
}

/// The last URL a VU sent a plain-http request to, parsed and allowed. A
/// VU mostly sends to the same few URLs, and parsing one into a `Uri`
/// copies it and allocates twice: on the same URL as last time this is one
/// comparison. Its parts are kept as where they are in the URL, so a VU
/// holds one copy of it.
#[derive(Default)]
pub struct LastUrl {
    /// Empty until a URL parsed.
    url: String,
    /// The allowlist that allowed it (held, so no other list can take its
    /// address); none yet.
    allowed_by: Weak<Allowlist>,
    /// Where the host is in `url`, as the URL names it (brackets around an
    /// IPv6 address).
    host: Range<usize>,
    /// As the URL gives it, if it does.
    pub(super) port: Option<u16>,
    /// Where the path and query are in `url`; empty when it has none.
    target: Range<usize>,
}

/// `span`, from a request's call, without the opening of the connection
/// it opened (connecting, the TLS handshake): k6's waiting and duration
/// leave that out, as a VU's own connection's do.
fn past_opening(span: Duration, opening: Option<Opening>) -> Duration {
    let opened = opening.map_or(Duration::ZERO, |o| {
        o.connecting + o.handshaking.unwrap_or_default()
    });
    span.saturating_sub(opened)
}

/// A VU's last two URLs, parsed (`LastUrl`): a script that alternates
/// between two (an API and its auth server) finds both here, where with
/// one kept it parsed and checked each URL at every switch. The one used
/// longer ago gives way to a new URL.
#[derive(Default)]
pub struct LastUrls {
    slots: [LastUrl; 2],
    /// The slot used longer ago.
    older: usize,
}

impl LastUrls {
    /// `url` (plain http), parsed and allowed by `allow`: see
    /// `LastUrl::parse`.
    pub(super) fn parse(
        &mut self,
        url: &str,
        allow: &Arc<Allowlist>,
    ) -> Result<&LastUrl, HttpError> {
        let i = (self.slots.iter().position(|s| s.url == url)).unwrap_or(self.older);
        self.slots[i].parse(url, allow)?;
        // Only a URL that parsed counts as used: a failed one leaves its
        // slot empty, the first to give way.
        self.older = 1 - i;
        Ok(&self.slots[i])
    }
}

impl LastUrl {
    /// `url` (plain http), parsed and allowed by `allow` (again only if
    /// it is not the last one, or another list).
    pub(super) fn parse(
        &mut self,
        url: &str,
        allow: &Arc<Allowlist>,
    ) -> Result<&LastUrl, HttpError> {
        if self.url != url || self.url.is_empty() {
            self.url.clear();
            self.allowed_by = Weak::new();
            let uri = parse_uri(url)?;
            let (host, target) = spans(url, &uri)
                .ok_or_else(|| invalid(format!("`{url}` could not be taken apart")))?;
            (self.host, self.port, self.target) = (host, uri.port_u16(), target);
            self.url.push_str(url);
        }
        if !std::ptr::eq(self.allowed_by.as_ptr(), Arc::as_ptr(allow)) {
            allowed(allow, self.host(), self.port.unwrap_or(80))?;
            self.allowed_by = Arc::downgrade(allow);
        }
        Ok(self)
    }

    /// As the URL names it (brackets around an IPv6 address).
    pub(super) fn host(&self) -> &str {
        &self.url[self.host.clone()]
    }

    /// Path and query: what the request line asks for. A URL without a
    /// path asks for `/` (`http://h?q` for `/?q`), as browsers, curl and
    /// Go do.
    pub(super) fn push_target(&self, out: &mut Vec<u8>) {
        let target = &self.url[self.target.clone()];
        if !target.starts_with('/') {
            out.push(b'/');
        }
        out.extend_from_slice(target.as_bytes());
    }
}

/// Where `uri`'s host and its path and query are in `url`, the text it
/// was parsed from (a path the URL leaves out is an empty range). `Uri`
/// keeps its parts as written, so each is found where the one before it
/// ends.
fn spans(url: &str, uri: &Uri) -> Option<(Range<usize>, Range<usize>)> {
    let authority = uri.authority()?.as_str();
    let start = uri.scheme_str()?.len() + "://".len();
    let end = start + authority.len();
    let at = |from: usize, part: &str| {
        let span = from..from + part.len();
        (url.get(span.clone())? == part).then_some(span)
    };
    at(start, authority)?;
    let host = at(
        start + authority.rfind('@').map_or(0, |i| i + 1),
        uri.host()?,
    )?;
    let target = match uri.path_and_query().map_or("", |p| p.as_str()) {
        "/" if !url[end..].starts_with('/') => end..end,
        path => at(end, path)?,
    };
    Some((host, target))
}

/// An http:// URL: HTTP/1.1 without TLS (no h2c), the inline path's.
pub fn is_plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
}

/// Turns `req` into the request a `status` redirect to `next` asks for,
/// the way browsers, Go and k6 do: 303 (and 301/302 after a POST) becomes a
/// GET without a body; 307 and 308 repeat the method and body. Credentials
/// do not follow to another host. Returns the URL it had.
fn redirect(req: &mut Request, status: u16, next: String) -> String {
    let method = req.method.to_ascii_uppercase();
    let to_get = match status {
        303 => method != "GET" && method != "HEAD",
        301 | 302 => method == "POST",
        _ => false,
    };
    if to_get {
        req.method = "GET".into();
        req.body = Bytes::new();
        req.headers.retain(|(k, _)| {
            ![
                "content-type",
                "content-length",
                "content-encoding",
                "transfer-encoding",
            ]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
        });
    }
    if authority(&req.url) != authority(&next) {
        req.headers.retain(|(k, _)| {
            !["authorization", "cookie", "proxy-authorization"]
                .iter()
                .any(|h| k.eq_ignore_ascii_case(h))
        });
    }
    std::mem::replace(&mut req.url, next)
}

/// Puts the cookies `set` (a redirect's response headers) into the
/// `Cookie` header of `headers`, replacing same-named ones; a cookie set
/// to expire (`Max-Age=0` or less) is dropped.
fn carry_cookies(headers: &mut Vec<(String, String)>, set: &Headers) {
    let mut jar: Vec<(String, String)> = Vec::new();
    if let Some(i) = headers
        .iter()
        .position(|(k, _)| k.eq_ignore_ascii_case("cookie"))
    {
        let (_, line) = headers.remove(i);
        for pair in line.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                jar.push((k.to_string(), v.to_string()));
            }
        }
    }
    for (_, line) in set.iter().filter(|(k, _)| *k == "set-cookie") {
        let mut attrs = line.split(';');
        let Some((name, value)) = attrs.next().and_then(|p| p.trim().split_once('=')) else {
            continue;
        };
        let expired = attrs.any(|a| {
            a.trim()
                .split_once('=')
                .filter(|(k, _)| k.eq_ignore_ascii_case("max-age"))
                .is_some_and(|(_, v)| v.trim().parse::<i64>().is_ok_and(|n| n <= 0))
        });
        jar.retain(|(k, _)| k != name);
        if !expired {
            jar.push((name.to_string(), value.to_string()));
        }
    }
    if !jar.is_empty() {
        let line = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        headers.push(("Cookie".to_string(), line));
    }
}

/// `scheme://host:port` of a URL, to tell whether a redirect changes host.
fn authority(url: &str) -> Option<(String, String)> {
    let uri: Uri = url.parse().ok()?;
    Some((
        uri.scheme_str()?.to_ascii_lowercase(),
        uri.authority()?.as_str().to_ascii_lowercase(),
    ))
}

/// The absolute URL a `Location` header names, relative to `base`
/// (RFC 3986 reference resolution for the forms servers send: absolute,
/// scheme-relative, absolute path, relative path, query only).
fn resolve_location(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    let location = location.split('#').next().unwrap_or(location);
    if location.is_empty() {
        return None;
    }
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(location.to_string());
    }
    if lower.contains("://") {
        // Another scheme (ftp:, ...): not followed, the 3xx is the answer.
        return None;
    }
    let uri: Uri = base.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let auth = uri.authority()?.as_str();
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Some(format!("{scheme}://{auth}{location}"));
    }
    let path = uri.path();
    if let Some(query) = location.strip_prefix('?') {
        return Some(format!("{scheme}://{auth}{path}?{query}"));
    }
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let mut segments: Vec<&str> = Vec::new();
    let joined = format!("{dir}{location}");
    let (joined_path, query) = match joined.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (joined, None),
    };
    let parts: Vec<&str> = joined_path.split('/').collect();
    for (i, seg) in parts.iter().enumerate() {
        match *seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            "" if i != parts.len() - 1 => {}
            s => segments.push(s),
        }
    }
    let trailing = matches!(parts.last(), Some(&".") | Some(&".."));
    let mut out = format!("{scheme}://{auth}/{}", segments.join("/"));
    if trailing && !out.ends_with('/') {
        out.push('/');
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(&q);
    }
    Some(out)
}

/// Walks an error's sources to name its class.
fn classify(e: impl StdError + 'static) -> HttpError {
    let message = chain(&e);
    let mut class = ErrorClass::Other;
    let mut cur: Option<&(dyn StdError + 'static)> = Some(&e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            class = match io.kind() {
                ConnectionRefused => ErrorClass::Refused,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                    ErrorClass::Reset
                }
                TimedOut => ErrorClass::Timeout,
                _ if io.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => ErrorClass::Tls,
                _ => class,
            };
        }
        if err.is::<rustls::Error>() {
            class = ErrorClass::Tls;
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>()
            && class == ErrorClass::Other
            && (h.is_incomplete_message() || h.is_canceled() || h.is_closed())
        {
            class = ErrorClass::Reset;
        }
        cur = err.source();
    }
    // Connectors box their errors, which can hide the typed cause from
    // downcasting; their messages still name it.
    if class == ErrorClass::Other {
        let lower = message.to_ascii_lowercase();
        if lower.contains("dns error") || lower.contains("failed to lookup address") {
            class = ErrorClass::Dns;
        } else if ["certificate", "tls", "handshake", "received fatal alert"]
            .iter()
            .any(|w| lower.contains(w))
        {
            class = ErrorClass::Tls;
        }
    }
    HttpError {
        class,
        message,
        hops: Vec::new(),
        redirected_to: None,
    }
}

fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        let m = err.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = err.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn client() -> HttpClient {
        HttpClient::new(Allowlist::parse(&["127.0.0.1"]).unwrap(), false).unwrap()
    }

    #[test]
    fn scenario_headers_are_written_lower_case_and_bad_ones_refused() {
        let mut out = b"x".to_vec();
        push_scenario_header(&mut out, "X-Token", "a b\tc:d").unwrap();
        push_scenario_header(&mut out, "e", "").unwrap();
        assert_eq!(out, b"xx-token: a b\tc:d\r\ne: \r\n");
        for (name, value, says) in [
            ("", "v", "not a header name"),
            ("a b", "v", "not a header name"),
            ("x:y", "v", "not a header name"),
            ("caf\u{e9}", "v", "not a header name"),
            ("x", "a\rb", "visible ASCII"),
            ("x", "a\nb", "visible ASCII"),
            ("x", "a\0b", "visible ASCII"),
            ("x", "a\u{7f}", "visible ASCII"),
            ("x", "caf\u{e9}", "visible ASCII"),
        ] {
            let mut out = Vec::new();
            let e = push_scenario_header(&mut out, name, value).unwrap_err();
            assert_eq!(e.class, ErrorClass::InvalidRequest, "{name:?}: {value:?}");
            assert!(
                e.message.contains(says),
                "{name:?}: {value:?}: {}",
                e.message
            );
            assert!(out.is_empty(), "{name:?}: {value:?}");
        }
        let mut out = Vec::new();
        for n in [0, 7, 80, 65535, u64::MAX] {
            push_decimal(&mut out, n);
            out.push(b',');
        }
        assert_eq!(out, format!("0,7,80,65535,{},", u64::MAX).as_bytes());
    }

    #[test]
    fn headers_split_at_the_first_colon_and_get_matches_whole_names() {
        let mut h = Headers::default();
        h.push_lowercase("Content-Type-Options", "nosniff");
        h.push_lowercase("Content-Type", "text/plain; a=b: c");
        h.push("set-cookie", "a=1");
        h.push("set-cookie", "b=2");
        h.push("x-empty", "");
        assert_eq!(h.get("content-type"), Some("text/plain; a=b: c"));
        assert_eq!(h.get("CONTENT-TYPE-OPTIONS"), Some("nosniff"));
        assert_eq!(h.get("content"), None);
        assert_eq!(h.get("set-cookie"), Some("a=1"));
        assert_eq!(h.get("x-empty"), Some(""));
        assert_eq!(h.get("x-absent"), None);
        let all: Vec<_> = h.iter().collect();
        assert_eq!(
            all,
            [
                ("content-type-options", "nosniff"),
                ("content-type", "text/plain; a=b: c"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
                ("x-empty", ""),
            ]
        );
    }

    fn get(url: String, timeout: Option<Duration>) -> Request {
        Request {
            method: "get".into(),
            url,
            timeout,
            ..Default::default()
        }
    }

    /// A server for one request: reads it, answers what `reply` makes of it
    /// (nothing if none), then holds the connection open for `hold`.
    async fn one_request_server(
        reply: impl FnOnce(&str) -> Option<Vec<u8>> + Send + 'static,
        hold: Duration,
    ) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).await.unwrap_or(0);
            if let Some(bytes) = reply(&String::from_utf8_lossy(&buf[..n])) {
                let _ = s.write_all(&bytes).await;
            }
            tokio::time::sleep(hold).await;
        });
        (addr, server)
    }

    /// The future a VU's plain-http request is boxed in, per request, fits
    /// the largest block glibc serves from its per-thread cache (1,032
    /// bytes); larger, each request takes malloc's slow path. The layout
    /// is an optimized build's (`cargo test --release`, as CI runs).
    #[cfg(not(debug_assertions))]
    #[test]
    fn the_inline_exchange_future_fits_the_allocators_thread_cache() {
        let client = Arc::new(client());
        let local = Box::default();
        let exchange = HttpClient::send_owned(
            client,
            get("http://127.0.0.1:1/".into(), None),
            local,
            |_, local, result| (local, result),
        );
        let size = std::mem::size_of_val(&*exchange);
        assert!(
            size <= 1_032,
            "send_owned's future is {size} bytes: keep what it holds across its awaits under 1,032 \
             (cargo +nightly rustc --release -p volley --lib -- -Zprint-type-sizes shows its layout)"
        );
    }

    #[test]
    fn the_last_url_is_kept_parsed_until_another_comes() {
        let any = Arc::new(Allowlist::parse(&["*"]).unwrap());
        let mut last = LastUrl::default();
        let parts = |l: &LastUrl| {
            let mut target = Vec::new();
            l.push_target(&mut target);
            (
                l.host().to_string(),
                l.port,
                String::from_utf8(target).unwrap(),
            )
        };
        for (url, host, port, target) in [
            (
                "http://127.0.0.1:8080/a?b=1",
                "127.0.0.1",
                Some(8080),
                "/a?b=1",
            ),
            (
                "http://127.0.0.1:8080/a?b=1",
                "127.0.0.1",
                Some(8080),
                "/a?b=1",
            ),
            (
                "http://127.0.0.1:8080/a?b=2",
                "127.0.0.1",
                Some(8080),
                "/a?b=2",
            ),
            ("http://[::1]/", "[::1]", None, "/"),
            ("HTTP://Example.test", "Example.test", None, "/"),
            ("http://u:p@b.test:81/x", "b.test", Some(81), "/x"),
            ("http://b.test/x?y#z", "b.test", None, "/x?y"),
            ("http://b.test?q=1", "b.test", None, "/?q=1"),
            ("http://b.test:/", "b.test", None, "/"),
            ("http://b.test#top", "b.test", None, "/"),
        ] {
            let got = parts(last.parse(url, &any).unwrap());
            assert_eq!(got, (host.into(), port, target.into()), "{url}");
        }
        // A URL that does not parse leaves nothing to match the next one.
        last.parse("http://a.test/x", &any).unwrap();
        for url in [
            "http://a.test:99999/x",
            "ftp://a.test/x",
            "",
            "http://a.test:99999/x",
        ] {
            let e = last.parse(url, &any).map(|_| ()).unwrap_err();
            assert_eq!(e.class, ErrorClass::InvalidRequest, "{url}: {e:?}");
        }
        assert_eq!(parts(last.parse("http://a.test/x", &any).unwrap()).2, "/x");
        // The same URL under another list is allowed (or not) by that list.
        let local = Arc::new(Allowlist::parse(&["127.0.0.1"]).unwrap());
        let url = "http://10.1.2.3:9/";
        last.parse(url, &any).unwrap();
        for _ in 0..2 {
            let e = last.parse(url, &local).map(|_| ()).unwrap_err();
            assert_eq!(e.class, ErrorClass::NotAllowed, "{e:?}");
        }
        last.parse(url, &any).unwrap();
    }

    #[test]
    fn waiting_and_duration_leave_a_new_connections_opening_out() {
        let ms = Duration::from_millis;
        let opened = Opening {
            connecting: ms(3),
            handshaking: Some(ms(400)),
        };
        // The request that opened the connection: 3 + 400 ms of its 410.
        assert_eq!(past_opening(ms(410), Some(opened)), ms(7));
        // Plain http: connecting only.
        let plain = Opening {
            handshaking: None,
            ..opened
        };
        assert_eq!(past_opening(ms(410), Some(plain)), ms(407));
        // A reused connection, or none known: the whole span.
        let reused = Opening {
            connecting: Duration::ZERO,
            handshaking: Some(Duration::ZERO),
        };
        assert_eq!(past_opening(ms(410), Some(reused)), ms(410));
        assert_eq!(past_opening(ms(410), None), ms(410));
        // Reported to a request that waited less than the opening took
        // (another one's connection on HTTP/2): none left, never negative.
        assert_eq!(past_opening(ms(100), Some(opened)), Duration::ZERO);
    }

    #[test]
    fn the_last_two_urls_are_kept_the_one_used_longer_ago_gives_way() {
        let any = Arc::new(Allowlist::parse(&["*"]).unwrap());
        let mut urls = LastUrls::default();
        let kept = |u: &LastUrls| {
            let mut v: Vec<String> = u.slots.iter().map(|s| s.url.clone()).collect();
            v.sort();
            v
        };
        let (a, b, c) = ("http://a.test/", "http://b.test:81/x", "http://c.test/y");
        for url in [a, b, a, b, a] {
            assert_eq!(urls.parse(url, &any).unwrap().url, url);
        }
        assert_eq!(kept(&urls), [a, b]);
        // `a` was used last: `b` gives way to `c`, then `a` to `b`.
        assert_eq!(urls.parse(c, &any).unwrap().host(), "c.test");
        assert_eq!(kept(&urls), [a, c]);
        assert_eq!(urls.parse(b, &any).unwrap().port, Some(81));
        assert_eq!(kept(&urls), [b, c]);
        // A URL that does not parse is an error, and leaves the other kept.
        let e = urls.parse("ftp://a.test/", &any).map(|_| ()).unwrap_err();
        assert_eq!(e.class, ErrorClass::InvalidRequest, "{e:?}");
        assert!(kept(&urls).contains(&b.to_string()), "{:?}", kept(&urls));
        // ... and the slot it emptied is the next to take a URL.
        urls.parse(c, &any).unwrap();
        assert_eq!(kept(&urls), [b, c]);
    }

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = client()
            .send(get(format!("http://127.0.0.1:{port}/"), None))
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Refused, "{e:?}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let (addr, server) = one_request_server(|_| None, Duration::from_secs(2)).await;
        let e = client()
            .send(get(
                format!("http://{addr}/"),
                Some(Duration::from_millis(200)),
            ))
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Timeout, "{e:?}");
        server.abort();
    }

    #[tokio::test]
    async fn a_dropped_connection_is_a_reset() {
        let (addr, server) = one_request_server(
            |_| Some(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort".to_vec()),
            Duration::ZERO,
        )
        .await;
        let e = client()
            .send(get(format!("http://{addr}/"), None))
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Reset, "{e:?}");
        server.abort();
    }

    #[tokio::test]
    async fn bad_urls_and_methods_are_invalid_requests() {
        let c = client();
        for (method, url) in [
            ("GET", "not a url"),
            ("GET", "ftp://127.0.0.1/"),
            ("BAD METHOD", "http://127.0.0.1/"),
        ] {
            let e = c
                .send(Request {
                    method: method.into(),
                    url: url.into(),
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert_eq!(e.class, ErrorClass::InvalidRequest, "{method} {url}: {e:?}");
        }
        let e = c
            .send(get("http://10.1.2.3:9/".into(), None))
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::NotAllowed);
        assert!(
            e.message.contains("--allow-host 10.1.2.3:9"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn tls_speaks_http2_by_alpn_and_rejects_unknown_issuers() {
        let acceptor = crate::protocol::tls::test_acceptor(&[b"h2", b"http/1.1"]);
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for _ in 0..8 {
                let Ok((s, _)) = l.accept().await else { return };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(s).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from_static(b"secure"),
                        )))
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        let url = format!("https://127.0.0.1:{port}/");
        let allow = || Allowlist::parse(&["127.0.0.1"]).unwrap();
        let client = HttpClient::new(allow(), true).unwrap();
        let r = client.send(get(url.clone(), None)).await.unwrap();
        assert_eq!(r.protocol, "HTTP/2.0");
        assert_eq!(&r.body[..], b"secure");
        // The request that opened the connection pays for the connect and
        // the handshake; the next one reuses it and pays nothing.
        let (connecting, handshaking) = (r.timings.connecting, r.timings.tls_handshaking);
        assert!(connecting.is_some_and(|d| d > Duration::ZERO), "{r:?}");
        assert!(handshaking.is_some_and(|d| d > Duration::ZERO), "{r:?}");
        let again = client.send(get(url.clone(), None)).await.unwrap();
        assert_eq!(again.timings.connecting, Some(Duration::ZERO));
        assert_eq!(again.timings.tls_handshaking, Some(Duration::ZERO));
        let e = HttpClient::new(allow(), false)
            .unwrap()
            .send(get(url, None))
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Tls, "{e:?}");
        server.abort();
    }

    #[tokio::test]
    async fn responses_carry_status_headers_body_and_timings() {
        let (addr, server) = one_request_server(
            |req| {
                let agent_ok = req.to_ascii_lowercase().contains("user-agent: volley/");
                let body = if agent_ok { "agent ok" } else { "no agent" };
                Some(
                    format!(
                        "HTTP/1.1 418 I'm a teapot\r\nx-test: yes\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes(),
                )
            },
            Duration::ZERO,
        )
        .await;
        let r = client()
            .send(get(format!("http://{addr}/x"), None))
            .await
            .unwrap();
        assert_eq!(r.status, 418);
        assert_eq!(&r.body[..], b"agent ok");
        assert!(r.headers.iter().any(|(k, v)| k == "x-test" && v == "yes"));
        assert_eq!(r.protocol, "HTTP/1.1");
        assert!(r.timings.duration >= r.timings.waiting);
        assert!(r.bytes_sent > 0 && r.bytes_received > 8);
        server.abort();
    }

    /// A server of redirects: `/r/N` sends to `/r/N-1` until `/r/0` (200),
    /// `/see-other` (303) and `/keep` (307) to `/echo`, which answers the
    /// method and body it got; `/away` leaves the allowlist; `/cookies`
    /// sets two cookies.
    async fn redirect_server() -> (String, tokio::task::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let server = tokio::spawn(async move {
            for _ in 0..64 {
                let Ok((s, _)) = l.accept().await else { return };
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        |req: hyper::Request<hyper::body::Incoming>| async move {
                            let path = req.uri().path().to_string();
                            let method = req.method().to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let mut r = hyper::Response::builder();
                            let text = if let Some(n) = path.strip_prefix("/r/") {
                                let n: u32 = n.parse().unwrap_or(0);
                                if n > 0 {
                                    r = r.status(302).header("location", format!("/r/{}", n - 1));
                                }
                                format!("r{n}")
                            } else if path == "/see-other" {
                                r = r.status(303).header("location", "echo");
                                String::new()
                            } else if path == "/keep" {
                                r = r.status(307).header("location", "/echo");
                                String::new()
                            } else if path == "/away" {
                                r = r.status(302).header("location", "http://10.1.2.3:9/x");
                                String::new()
                            } else if path == "/cookies" {
                                r = r
                                    .header("set-cookie", "a=1")
                                    .header("set-cookie", "b=2; Path=/");
                                "cookies".into()
                            } else {
                                format!("{method} {}", String::from_utf8_lossy(&body))
                            };
                            Ok::<_, std::convert::Infallible>(
                                r.body(Full::new(Bytes::from(text))).unwrap(),
                            )
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        (base, server)
    }

    #[tokio::test]
    async fn redirects_are_followed_up_to_the_limit() {
        let (base, server) = redirect_server().await;
        let r = client()
            .send(get(format!("{base}/r/3"), None))
            .await
            .unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"r0"[..]));
        assert_eq!(r.url, format!("{base}/r/0"));
        let hops: Vec<(&str, u16)> = r.hops.iter().map(|h| (h.url.as_str(), h.status)).collect();
        let want = [
            format!("{base}/r/3"),
            format!("{base}/r/2"),
            format!("{base}/r/1"),
        ];
        assert_eq!(
            hops,
            want.iter().map(|u| (u.as_str(), 302)).collect::<Vec<_>>()
        );
        // Past the limit the last redirect is the answer; 0 follows none.
        let r = client()
            .max_redirects(2)
            .send(get(format!("{base}/r/3"), None))
            .await
            .unwrap();
        assert_eq!((r.status, r.hops.len()), (302, 2));
        let r = client()
            .max_redirects(0)
            .send(get(format!("{base}/r/3"), None))
            .await
            .unwrap();
        assert_eq!((r.status, r.hops.len()), (302, 0));
        // A request's own limit wins over the client's.
        let r = client()
            .max_redirects(0)
            .send(Request {
                max_redirects: Some(1),
                ..get(format!("{base}/r/3"), None)
            })
            .await
            .unwrap();
        assert_eq!((r.status, r.hops.len()), (302, 1));
        server.abort();
    }

    #[tokio::test]
    async fn redirects_change_the_method_as_the_rfc_says() {
        let (base, server) = redirect_server().await;
        let post = |path: &str| Request {
            method: "POST".into(),
            url: format!("{base}{path}"),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: Bytes::from_static(b"payload"),
            timeout: None,
            max_redirects: None,
        };
        let r = client().send(post("/see-other")).await.unwrap();
        assert_eq!(&r.body[..], b"GET ", "303: GET without the body");
        assert_eq!(r.hops[0].method, "POST");
        let r = client().send(post("/keep")).await.unwrap();
        assert_eq!(&r.body[..], b"POST payload", "307: same method and body");
        server.abort();
    }

    #[tokio::test]
    async fn a_redirect_off_the_allowlist_is_refused() {
        let (base, server) = redirect_server().await;
        let e = client()
            .send(get(format!("{base}/away"), None))
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::NotAllowed, "{e:?}");
        assert_eq!(e.hops.len(), 1);
        assert_eq!(e.redirected_to.as_deref(), Some("http://10.1.2.3:9/x"));
        assert!(
            e.message.contains("redirect from") && e.message.contains("--allow-host 10.1.2.3:9"),
            "{}",
            e.message
        );
        server.abort();
    }

    #[tokio::test]
    async fn repeated_headers_keep_every_value() {
        let (base, server) = redirect_server().await;
        let r = client()
            .send(get(format!("{base}/cookies"), None))
            .await
            .unwrap();
        let cookies: Vec<&str> = r
            .headers
            .iter()
            .filter(|(k, _)| *k == "set-cookie")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(cookies, ["a=1", "b=2; Path=/"]);
        server.abort();
    }

    #[test]
    fn locations_resolve_against_the_request_url() {
        let base = "http://h:1/a/b?q=1";
        for (loc, want) in [
            ("http://x:2/y", Some("http://x:2/y")),
            ("//x:2/y", Some("http://x:2/y")),
            ("/c", Some("http://h:1/c")),
            ("c", Some("http://h:1/a/c")),
            ("../c?z=2#frag", Some("http://h:1/c?z=2")),
            ("./", Some("http://h:1/a/")),
            ("?p=3", Some("http://h:1/a/b?p=3")),
            ("ftp://x/y", None),
            ("", None),
        ] {
            assert_eq!(resolve_location(base, loc).as_deref(), want, "{loc}");
        }
    }

    #[test]
    fn a_redirect_to_another_host_drops_credentials() {
        let mut req = Request {
            method: "POST".into(),
            url: "http://h:1/a".into(),
            headers: vec![
                ("Authorization".into(), "Bearer t".into()),
                ("Content-Type".into(), "text/plain".into()),
                ("x-keep".into(), "1".into()),
            ],
            body: Bytes::from_static(b"x"),
            timeout: None,
            max_redirects: None,
        };
        let from = redirect(&mut req, 302, "http://other:1/b".into());
        assert_eq!(
            (from.as_str(), req.url.as_str()),
            ("http://h:1/a", "http://other:1/b")
        );
        assert_eq!(req.method, "GET");
        assert!(req.body.is_empty());
        let names: Vec<&str> = req.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["x-keep"]);
    }

    #[test]
    fn a_redirects_cookies_go_to_the_next_hop() {
        let mut headers = vec![("Cookie".to_string(), "a=1; gone=x".to_string())];
        let set: Headers = [
            ("set-cookie", "b=2; Path=/"),
            ("set-cookie", "a=3"),
            ("set-cookie", "gone=; Max-Age=0"),
            ("location", "/next"),
        ]
        .into_iter()
        .collect();
        carry_cookies(&mut headers, &set);
        assert_eq!(
            headers,
            vec![("Cookie".to_string(), "b=2; a=3".to_string())]
        );
    }
}
