//! HTTP requests. The engine keeps connections alive, speaks HTTP/2 where
//! the server offers it, and records `http_req_*` metrics for every request.

use std::time::Duration;

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use crate::bindings::volley::scenario::http as wit;

pub use crate::bindings::volley::scenario::types::ErrorClass;

thread_local! {
    /// What [`expect_statuses`] set: sent with every later request that
    /// names no statuses of its own.
    static EXPECTED: RefCell<Option<Vec<u16>>> = const { RefCell::new(None) };
}

/// Appends `name: value` to headers in the WIT's encoding (`name: value`
/// lines joined by `\n`). A name or value with a line break, or a name
/// with a `:`, cannot be encoded: that is the error.
pub(crate) fn push_header(headers: &mut String, name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() || name.contains([':', '\n', '\r']) || value.contains(['\n', '\r']) {
        return Err(format!(
            "header {name:?}: a header name must be non-empty without `:` or line breaks, and a value without line breaks"
        ));
    }
    if !headers.is_empty() {
        headers.push('\n');
    }
    headers.push_str(name);
    headers.push_str(": ");
    headers.push_str(value);
    Ok(())
}

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Request {
    inner: wit::Request,
    /// A header that cannot be sent: `send` fails with it.
    invalid: Option<String>,
}

impl Request {
    /// A request with any method.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Request {
            inner: wit::Request {
                method: method.to_string(),
                url: url.into(),
                headers: String::new(),
                body: Vec::new(),
                timeout_ms: None,
                name: None,
                tags: Vec::new(),
                expected_statuses: None,
            },
            invalid: None,
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// `POST url`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// `PUT url`.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// `DELETE url`.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new("DELETE", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Err(e) = push_header(&mut self.inner.headers, name, value) {
            self.invalid.get_or_insert(e);
        }
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.inner.body = body.into();
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.header("content-type", "application/json").body(body)
    }

    /// Gives up after `timeout` (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner.timeout_ms = Some(timeout.as_millis().min(u32::MAX as u128) as u32);
        self
    }

    /// Groups this request's metrics under `name` (the `name` tag; default the
    /// URL without its query string).
    pub fn name(mut self, name: &str) -> Self {
        self.inner.name = Some(name.to_string());
        self
    }

    /// Adds a tag to this request's metrics.
    pub fn tag(mut self, key: &str, value: &str) -> Self {
        self.inner.tags.push((key.to_string(), value.to_string()));
        self
    }

    /// The statuses that count as success in `http_req_failed` for this
    /// request (default: what [`expect_statuses`] set, else 200 to 399).
    pub fn expect(mut self, statuses: &[u16]) -> Self {
        self.inner.expected_statuses = Some(statuses.to_vec());
        self
    }

    /// The scenario judges the response itself (Locust's `catch_response`):
    /// its `http_req_failed` sample is the one [`verdict`] gives, not its
    /// status's.
    pub fn judged(self) -> Self {
        self.tag("volley_verdict", "call")
    }

    /// The request as it goes out, or why it cannot.
    fn finish(mut self) -> Result<wit::Request, Error> {
        if let Some(message) = self.invalid {
            return Err(Error {
                class: ErrorClass::InvalidRequest,
                message,
            });
        }
        if self.inner.expected_statuses.is_none() {
            self.inner.expected_statuses = EXPECTED.with_borrow(Clone::clone);
        }
        Ok(self.inner)
    }

    /// Sends the request and waits for the whole response.
    pub fn send(self) -> Result<Response, Error> {
        let req = self.finish()?;
        wit::fetch(&req).map(Response::held).map_err(Error::from)
    }
}

/// Sends every request at once (concurrently, like k6's `http.batch`) and
/// waits for all; the results are in the order given. At most 256 per call.
pub fn batch(requests: impl IntoIterator<Item = Request>) -> Vec<Result<Response, Error>> {
    let mut out: Vec<Option<Result<Response, Error>>> = Vec::new();
    let mut sent = Vec::new();
    for r in requests {
        match r.finish() {
            Ok(req) => {
                sent.push(req);
                out.push(None);
            }
            Err(e) => out.push(Some(Err(e))),
        }
    }
    let mut answers = wit::send_batch(&sent).into_iter();
    out.into_iter()
        .map(|slot| match slot {
            Some(done) => done,
            None => match answers.next() {
                Some(r) => r.map(Response::copied).map_err(Error::from),
                None => Err(Error {
                    class: ErrorClass::Other,
                    message: "the engine answered fewer requests than were sent".into(),
                }),
            },
        })
        .collect()
}

/// A complete response. The engine holds it and each part is copied into
/// the scenario the first time it is read: checking the status costs no
/// copy of the headers or the body. A VU may hold at most 1,024 responses
/// at once (the engine's bound on replies): keep the parts you need (the
/// body, a header), not the `Response`, when collecting many.
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    /// None for a batch's response, copied whole.
    reply: Option<Rc<wit::Reply>>,
    headers: OnceCell<String>,
    body: OnceCell<Vec<u8>>,
    /// Every phase (`timings` included): one call to the reply.
    phases: OnceCell<wit::Phases>,
    protocol: OnceCell<String>,
}

impl Response {
    fn held(reply: wit::Reply) -> Self {
        Response {
            status: reply.status(),
            reply: Some(Rc::new(reply)),
            headers: OnceCell::new(),
            body: OnceCell::new(),
            phases: OnceCell::new(),
            protocol: OnceCell::new(),
        }
    }

    fn copied(r: wit::Response) -> Self {
        Response {
            status: r.status,
            reply: None,
            headers: r.headers.into(),
            body: r.body.into(),
            // A response copied whole carries no phases but its timings.
            phases: wit::Phases {
                connecting_us: 0,
                tls_handshaking_us: 0,
                sending_us: 0,
                waiting_us: r.timings.waiting_us,
                receiving_us: r.timings.receiving_us,
                duration_us: r.timings.duration_us,
            }
            .into(),
            protocol: r.protocol.into(),
        }
    }

    /// A part, copied from the engine's reply on first use.
    fn part<'a, T>(&'a self, cell: &'a OnceCell<T>, read: impl FnOnce(&wit::Reply) -> T) -> &'a T {
        cell.get_or_init(|| read(self.reply.as_deref().expect("a response without a reply has every part")))
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every header, in the order received (names in lower case).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.part(&self.headers, wit::Reply::headers)
            .lines()
            .filter_map(|line| line.split_once(": "))
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        self.part::<Vec<u8>>(&self.body, wit::Reply::body)
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.body()).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(self.body())
            .map_err(|e| format!("response is not the expected JSON: {e}"))
    }

    /// Time to the response head: from the request's last byte on plain
    /// http, from the call over https and HTTP/2.
    pub fn waiting(&self) -> Duration {
        Duration::from_micros(self.phases().waiting_us)
    }

    /// From the response head until its last body byte.
    pub fn receiving(&self) -> Duration {
        Duration::from_micros(self.phases().receiving_us)
    }

    /// The whole request's time.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.phases().duration_us)
    }

    fn phases(&self) -> &wit::Phases {
        self.part(&self.phases, wit::Reply::phases)
    }

    /// Opening the TCP connection: zero on a connection already open, and
    /// for a batch's responses (copied whole, without their phases).
    pub fn connecting(&self) -> Duration {
        Duration::from_micros(self.phases().connecting_us)
    }

    /// The TLS handshake: zero on plain http, on a connection already
    /// open, and for a batch's responses.
    pub fn tls_handshaking(&self) -> Duration {
        Duration::from_micros(self.phases().tls_handshaking_us)
    }

    /// Writing the request, on plain http (zero over https and HTTP/2,
    /// where it is part of `waiting`, and for a batch's responses).
    pub fn sending(&self) -> Duration {
        Duration::from_micros(self.phases().sending_us)
    }

    /// `HTTP/1.1` or `HTTP/2.0`.
    pub fn protocol(&self) -> &str {
        self.part::<String>(&self.protocol, wit::Reply::protocol)
    }
}

/// A request that got no response, with the reason's class.
#[derive(Debug, Clone)]
pub struct Error {
    /// Refused, timeout, reset, TLS, DNS, invalid request, not allowed, other.
    pub class: ErrorClass,
    /// What happened, in words.
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.class, self.message)
    }
}

impl std::error::Error for Error {}

impl From<wit::NetError> for Error {
    fn from(e: wit::NetError) -> Self {
        Error {
            class: e.class,
            message: e.message,
        }
    }
}

/// Which statuses this VU's later requests expect (k6 `expectedStatuses`);
/// others count as failed in `http_req_failed`. An empty slice restores the
/// default, 200 to 399. Kept in the scenario and sent with each request
/// ([`Request::expect`] overrides it for one request).
pub fn expect_statuses(statuses: &[u16]) {
    EXPECTED.set((!statuses.is_empty()).then(|| statuses.to_vec()));
}

/// The verdict on the last response to a [`Request::judged`] request:
/// records its `http_req_failed` sample (failed unless `ok`) under the
/// request's own tags and, with `check`, a check named after the request.
/// False, and nothing recorded, when no response waits for a verdict (a
/// request with no response was failed by the engine). A response left
/// without one when the next comes, or when the iteration ends, is judged
/// by its status.
pub fn verdict(ok: bool, check: bool) -> bool {
    wit::verdict(ok, check)
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    Request::get(url).send()
}

/// `POST url` with a body.
pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Result<Response, Error> {
    Request::post(url).body(body).send()
}

/// `POST url` with a JSON body.
pub fn post_json<T: serde::Serialize + ?Sized>(url: &str, value: &T) -> Result<Response, Error> {
    Request::post(url).json(value).send()
}
