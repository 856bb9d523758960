//! `http` import: converts guest requests to `protocol::http`, records the
//! built-in HTTP metrics, converts the result back.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;

use super::VuState;
use super::metrics::one_or_zero;
use super::types::parse_headers;
use crate::metrics::{Builtin, Metrics, SeriesHandle as Series, Tags};
use crate::protocol::http::{ErrorClass, HttpClient, HttpError as ProtoError, Request};
use crate::wasm::bindings::volley::scenario::http::{
    self as wit, Followed, Held, Host, HostReply, NetError, Phases, Redirect, Response, Timings,
};
use wasmtime::component::Resource;

/// The most requests one `send-batch` call sends; the WIT names the bound.
pub const MAX_BATCH: usize = 256;

fn micros(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// The request tag by which a scenario takes the judging of a response
/// from the engine: with [`VERDICT_CALL`], its `http_req_failed` sample is
/// the one the `verdict` import gives; with [`VERDICT_NONE`] (k6's
/// `responseCallback: null`) there is none; with [`VERDICT_GUEST`]
/// (components built by volley before `verdict`), the scenario records it
/// with the metrics import. Never a tag of the samples.
pub const VERDICT_TAG: &str = "volley_verdict";
/// See [`VERDICT_TAG`].
pub const VERDICT_CALL: &str = "call";
/// See [`VERDICT_TAG`].
pub const VERDICT_NONE: &str = "none";
/// See [`VERDICT_TAG`].
pub const VERDICT_GUEST: &str = "guest";

/// Who gives a response's `http_req_failed` sample. A request that gets
/// no response is failed by the engine whoever judges.
#[derive(Clone, Copy, PartialEq)]
enum Judge {
    /// The engine, by its status.
    Status,
    /// The scenario, through the `verdict` import (by its status if none
    /// comes).
    Verdict,
    /// Not the engine: no one ([`VERDICT_NONE`]), or the scenario through
    /// the metrics import ([`VERDICT_GUEST`]).
    Elsewhere,
}

/// The request tag by which a scenario sets this request's redirect limit
/// (k6 `params.redirects`): `volley_redirects=N`. Never a tag of the samples.
pub const REDIRECTS_TAG: &str = "volley_redirects";

/// Most scenarios send a handful of distinct requests; their tag sets are
/// built once per VU, not once per request (a request's own tags, k6's
/// `params.tags`, are part of the key: a tagged request looked its ten
/// series up by hash on every request).
const TAG_CACHE: usize = 32;

/// What a request's series depend on besides the scenario: the key of the
/// per-VU cache of [`RequestSeries`].
pub(crate) struct RequestKey {
    name: String,
    method: String,
    /// `status` and its value, or `error` and the error class.
    outcome: (String, String),
    /// k6's `expected_response`.
    expected: bool,
    /// The request's own tags.
    extra: Vec<(String, String)>,
    /// The open group's id ([`VuState::group_id`]).
    group: u64,
}

/// A request's built-in series for one tag set, resolved once per VU and
/// tag set: recording a request then looks nothing up.
#[derive(Clone)]
pub(crate) struct RequestSeries {
    tags: Tags,
    reqs: Series,
    failed: Series,
    duration: Series,
    waiting: Series,
    receiving: Series,
    connecting: Series,
    tls_handshaking: Series,
    sending: Series,
    /// On the scenario's tags, not the request's.
    sent: Series,
    received: Series,
}

impl RequestSeries {
    fn resolve(metrics: &Metrics, tags: Tags, scenario: &Tags) -> Self {
        let on = |m| metrics.series(m, &tags);
        RequestSeries {
            reqs: on(Builtin::HttpReqs),
            failed: on(Builtin::HttpReqFailed),
            duration: on(Builtin::HttpReqDuration),
            waiting: on(Builtin::HttpReqWaiting),
            receiving: on(Builtin::HttpReqReceiving),
            connecting: on(Builtin::HttpReqConnecting),
            tls_handshaking: on(Builtin::HttpReqTlsHandshaking),
            sending: on(Builtin::HttpReqSending),
            sent: metrics.series(Builtin::DataSent, scenario),
            received: metrics.series(Builtin::DataReceived, scenario),
            tags,
        }
    }
}

/// What recording a VU's requests needs besides the request: the run's
/// metrics, the VU's cache of series, and the tags new series are resolved
/// on. A VU's exchange takes it along and gives it back (see
/// [`OwnExchange`]): a request is then recorded on the worker thread's
/// stack, which every VU of the thread shares, not on the VU's fiber stack.
pub(crate) struct Recorder {
    shared: Arc<super::Shared>,
    /// Tag sets and metric series of this VU's recent requests.
    series: Vec<(RequestKey, RequestSeries)>,
    /// The open group's id ([`VuState::group_id`]) and base tags
    /// ([`VuState::base_tags`]) as of the request.
    group: u64,
    base: Tags,
    /// The scenario's tags, which the data sent and received go on (an
    /// instance runs one scenario version).
    scenario: Tags,
    /// The request an exchange is recording, while it runs.
    pending: Option<Pending>,
}

/// A VU's [`Recorder`] as its exchange's client: the run's HTTP client.
struct Recording(Box<Recorder>);

impl std::ops::Deref for Recording {
    type Target = HttpClient;

    fn deref(&self) -> &HttpClient {
        &self.0.shared.http
    }
}

impl VuState {
    /// The VU's [`Recorder`], taken from its instance (made on its first
    /// request), with the tags of the group open now. Not inlined:
    /// `bench/vu-lines.sh` counts a JavaScript VU's iterations by its entry.
    #[inline(never)]
    fn recorder(&mut self) -> Box<Recorder> {
        let group = self.group_id();
        match self.instance.recorder.take() {
            Some(mut r) => {
                if r.group != group {
                    r.group = group;
                    r.base = self.base_tags().clone();
                }
                r
            }
            None => Box::new(Recorder {
                shared: self.shared.clone(),
                series: Vec::new(),
                group,
                base: self.base_tags().clone(),
                scenario: self.scenario.tags.clone(),
                pending: None,
            }),
        }
    }
}

impl Recorder {
    /// `expected` is k6's `expected_response` tag: whether the status was
    /// one the request expects (false for a request with no response).
    fn request_series(
        &mut self,
        name: &str,
        method: &str,
        outcome: (&str, &str),
        expected: bool,
        extra: &[(String, String)],
    ) -> RequestSeries {
        let group = self.group;
        if let Some((_, series)) = self.series.iter().find(|(k, _)| {
            k.name == name
                && k.method == method
                && (k.outcome.0.as_str(), k.outcome.1.as_str()) == outcome
                && k.expected == expected
                && k.group == group
                && k.extra == extra
        }) {
            return series.clone();
        }
        let tags = (self.base)
            .with([
                ("name", name),
                ("method", method),
                outcome,
                ("expected_response", if expected { "true" } else { "false" }),
            ])
            .with(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let series = RequestSeries::resolve(&self.shared.metrics, tags, &self.scenario);
        if self.series.len() < TAG_CACHE {
            let owned = RequestKey {
                name: name.to_string(),
                method: method.to_string(),
                outcome: (outcome.0.to_string(), outcome.1.to_string()),
                expected,
                extra: extra.to_vec(),
                group,
            };
            // One entry at a time: most VUs send to a URL or two, and a
            // first push would make room for four (~600 bytes per VU).
            self.series.reserve_exact(1);
            self.series.push((owned, series.clone()));
        }
        series
    }

    /// The built-in metrics of one answered request (or redirect hop).
    #[allow(
        clippy::too_many_arguments,
        reason = "a hop and the final response share this, but not a type"
    )]
    fn record_response(
        &mut self,
        name: &str,
        method: &str,
        status: u16,
        t: &crate::protocol::http::Timings,
        (sent, received): (u64, u64),
        extra: &[(String, String)],
        expected: Option<&[u16]>,
        judge: bool,
    ) -> (Series, bool) {
        let mut digits = [0u8; 20];
        let status_text = crate::protocol::http::decimal(status.into(), &mut digits);
        let expected = match expected {
            Some(list) => list.contains(&status),
            None => status < 400,
        };
        let s = self.request_series(name, method, ("status", status_text), expected, extra);
        let mut samples = [(s.reqs, 1.0); 10];
        let mut n = 0;
        let mut push = |series, value| {
            samples[n] = (series, value);
            n += 1;
        };
        push(s.reqs, 1.0);
        push(s.duration, micros(t.duration) as f64);
        push(s.waiting, micros(t.waiting) as f64);
        push(s.receiving, micros(t.receiving) as f64);
        push(s.sent, sent as f64);
        push(s.received, received as f64);
        // Unless the scenario judges the response itself (`judge` false).
        if judge {
            push(s.failed, one_or_zero(!expected));
        }
        // Each client times the phases it can tell apart.
        let phases = [
            (s.connecting, t.connecting),
            (s.tls_handshaking, t.tls_handshaking),
            (s.sending, t.sending),
        ];
        for (series, took) in phases {
            if let Some(d) = took {
                push(series, micros(d) as f64);
            }
        }
        self.shared.metrics.record_series(&samples[..n]);
        (s.failed, expected)
    }
}

/// A response the scenario judges itself (`volley_verdict=call`), until
/// its verdict comes (the `verdict` import).
pub(crate) struct DueVerdict {
    /// The request's `http_req_failed` series.
    failed: Series,
    /// What its status says: the sample when no verdict comes.
    expected: bool,
    /// The request's `name` tag: a verdict's check is named after it.
    name: Box<str>,
}

impl VuState {
    /// Holds `due` for the scenario's verdict; the one held before gets
    /// none now and is judged by its status.
    fn await_verdict(&mut self, due: DueVerdict) {
        if let Some(before) = self.instance.verdict.replace(Box::new(due)) {
            self.judge_by_status(&before);
        }
    }

    /// Judges the response still waiting for the scenario's verdict by its
    /// status (a call into the instance ended without one, or the instance
    /// goes): its sample is never lost.
    pub(crate) fn settle_verdict(&mut self) {
        if let Some(due) = self.instance.verdict.take() {
            self.judge_by_status(&due);
        }
    }

    fn judge_by_status(&self, due: &DueVerdict) {
        let failed = (due.failed, one_or_zero(!due.expected));
        self.shared.metrics.record_series(&[failed]);
    }
}

/// What recording a request's result needs, taken from the guest's request.
struct Pending {
    /// The request's `name`; none: each URL minus its query.
    name: Option<String>,
    /// The URL as the guest gave it.
    url: String,
    method: String,
    extra: Vec<(String, String)>,
    expected: Option<Vec<u16>>,
    /// Who gives its `http_req_failed` sample.
    judge: Judge,
    /// On its target's timeline until recorded (see [`VuState::on_timeline`]).
    sent: Option<crate::metrics::Flight>,
}

impl Pending {
    /// Without a name, group by the URL minus its query: ids in query
    /// strings would otherwise make a series (and histogram) per request.
    fn name_of<'a>(&'a self, url: &'a str) -> &'a str {
        match &self.name {
            Some(name) => name,
            None => url.split(['?', '#']).next().unwrap_or(url),
        }
    }
}

/// Splits a guest request into the protocol's request and what recording
/// its result needs. Headers that do not parse fail it as invalid.
/// Not inlined, as `record` and `spawn`: `send-batch` calls it on the VU's
/// fiber, whose host call frame stays on the stack through the requests,
/// and every page it makes the stack touch stays resident while the VU
/// sleeps.
#[inline(never)]
fn prepare(req: wit::Request) -> (Pending, Result<Request, ProtoError>) {
    let mut method = req.method;
    method.make_ascii_uppercase();
    // `volley_verdict=call` (or `none`, `guest`): the engine does not judge
    // the response (Locust's catch_response, k6's responseCallback: null).
    let mut extra = req.tags;
    let judge = match extra.iter().position(|(k, v)| {
        k == VERDICT_TAG && [VERDICT_CALL, VERDICT_NONE, VERDICT_GUEST].contains(&v.as_str())
    }) {
        Some(i) if extra.remove(i).1 == VERDICT_CALL => Judge::Verdict,
        Some(_) => Judge::Elsewhere,
        None => Judge::Status,
    };
    let redirects = extra
        .iter()
        .position(|(k, _)| k == REDIRECTS_TAG)
        .map(|i| extra.remove(i).1);
    let max_redirects = match redirects.as_deref().map(str::parse::<u32>) {
        None => Ok(None),
        Some(Ok(n)) => Ok(Some(n)),
        Some(Err(_)) => Err(ProtoError::new(
            ErrorClass::InvalidRequest,
            format!(
                "tag {REDIRECTS_TAG}={}: the redirect limit is a count (0: follow none)",
                redirects.unwrap_or_default()
            ),
        )),
    };
    let request = max_redirects
        .and_then(|n| {
            parse_headers(&req.headers)
                .map(|h| (h, n))
                .map_err(|e| ProtoError::new(ErrorClass::InvalidRequest, e))
        })
        .map(|(headers, max_redirects)| Request {
            method: method.clone(),
            url: req.url.clone(),
            headers,
            body: req.body.into(),
            timeout: req.timeout_ms.map(|ms| Duration::from_millis(ms as u64)),
            max_redirects,
        });
    let pending = Pending {
        name: req.name,
        url: req.url,
        method,
        extra,
        expected: req.expected_statuses,
        judge,
        sent: None,
    };
    (pending, request)
}

type Outcome = Result<crate::protocol::http::Response, ProtoError>;

/// What an exchange gives back: the VU's connection and recorder, and
/// the request's outcome, recorded. The answer is boxed by the VU's task:
/// its 248 bytes would otherwise be moved through the fiber's stack frame
/// by frame down to the reply table, the deepest point of a VU's call.
pub(crate) type Exchanged = (
    Box<crate::protocol::http::Local>,
    Box<Recorder>,
    Result<Box<Answer>, NetError>,
    Option<DueVerdict>,
);

/// Where a VU's host calls hand off their exchanges (see [`super::offload`]).
pub(crate) type HttpOffload = super::offload::Offload<OwnExchange>;

/// A guest's request, handed off with what sending and recording it
/// need. The VU's task splits it, sends it (on the VU's own connection
/// when it is plain http://) and records it, all on the worker thread's
/// stack: the fiber's stack holds the request as the guest gave it and
/// nothing more, and every line of the fiber's stack one request touches
/// is a line of the VU's own (at 1,000 VUs, fetched from memory).
pub(crate) struct OwnExchange {
    request: wit::Request,
    local: Box<crate::protocol::http::Local>,
    recorder: Box<Recorder>,
}

impl super::offload::Start for OwnExchange {
    type Output = Exchanged;

    fn start(self) -> super::offload::Job<Exchanged> {
        let OwnExchange {
            request,
            local,
            mut recorder,
        } = self;
        let (mut pending, request) = prepare(request);
        pending.sent = recorder.shared.timeline.flight(&pending.url);
        let request = match request {
            Ok(request) => request,
            Err(e) => {
                let (answer, due) = recorder.record(&mut pending, Err(e));
                let answer = answer.map(Box::new);
                return Box::pin(std::future::ready((local, recorder, answer, due)));
            }
        };
        // The pending request waits in the recorder: in the future, it
        // would take it past the 1,032 bytes glibc serves from its
        // per-thread cache.
        recorder.pending = Some(pending);
        let then = |Recording(mut recorder): Recording, local, result| {
            let mut pending = (recorder.pending.take()).expect("an exchange's pending request");
            let (answer, due) = recorder.record(&mut pending, result);
            (local, recorder, answer.map(Box::new), due)
        };
        HttpClient::send_owned(Recording(recorder), request, local, then)
    }
}

/// Sends `request` as its own task: hyper's deep poll stack then lives on
/// the worker thread, not on the VU's fiber, so the fiber stays shallow
/// (resident memory per VU) and switches once per request.
#[inline(never)]
fn spawn(
    client: &HttpClient,
    request: Result<Request, ProtoError>,
) -> tokio::task::JoinHandle<Outcome> {
    let client = client.clone();
    tokio::spawn(async move { client.send(request?).await })
}

async fn joined(task: tokio::task::JoinHandle<Outcome>) -> Outcome {
    task.await.unwrap_or_else(|e| {
        Err(ProtoError::new(
            ErrorClass::Other,
            format!("request task failed: {e}"),
        ))
    })
}

impl Pending {
    /// Takes the request off its target's timeline with its outcome.
    fn off_timeline(&mut self, result: &Outcome) {
        let Some(flight) = self.sent.take() else {
            return;
        };
        let class = match result {
            Ok(r) => {
                let expected = match self.expected.as_deref() {
                    Some(list) => list.contains(&r.status),
                    None => r.status < 400,
                };
                match r.status {
                    _ if expected => None,
                    500.. => Some("http_5xx"),
                    400..=499 => Some("http_4xx"),
                    _ => Some("other"),
                }
            }
            Err(e) if matches!(e.class, ErrorClass::InvalidRequest | ErrorClass::NotAllowed) => {
                return flight.abandon();
            }
            Err(e) => Some(e.class.as_str()),
        };
        flight.end(class);
    }
}

/// A request's response, or the guest's error; and, when the scenario
/// judges it (`volley_verdict=call`), what waits for its verdict.
type Recorded = (Result<Answer, NetError>, Option<DueVerdict>);

impl Recorder {
    /// Records a request's metrics (each redirect hop's too).
    #[inline(never)]
    fn record(&mut self, p: &mut Pending, result: Outcome) -> Recorded {
        p.off_timeline(&result);
        let expected = p.expected.as_deref();
        // Each redirect followed was a request of its own (as in k6).
        let hops = match &result {
            Ok(r) => r.hops.clone(),
            Err(e) => e.hops.clone(),
        };
        for hop in &hops {
            self.record_response(
                p.name_of(&hop.url),
                &hop.method,
                hop.status,
                &hop.timings,
                (hop.bytes_sent, hop.bytes_received),
                &p.extra,
                expected,
                true,
            );
        }
        // After a 303 (or a POST's 301/302) the next request was a GET.
        let method = match hops.last() {
            Some(h) if h.status == 303 && h.method != "HEAD" => "GET",
            Some(h) if matches!(h.status, 301 | 302) && h.method == "POST" => "GET",
            Some(h) => h.method.as_str(),
            None => p.method.as_str(),
        };
        match result {
            Ok(resp) => {
                let name = p.name_of(&resp.url);
                let (failed, expected) = self.record_response(
                    name,
                    method,
                    resp.status,
                    &resp.timings,
                    (resp.bytes_sent, resp.bytes_received),
                    &p.extra,
                    expected,
                    p.judge == Judge::Status,
                );
                let due = (p.judge == Judge::Verdict).then(|| DueVerdict {
                    failed,
                    expected,
                    name: name.into(),
                });
                (Ok(resp), due)
            }
            Err(e) => {
                // A redirect's failure is named after the hop that failed.
                let name = match e.redirected_to.as_deref() {
                    Some(u) => p.name_of(u),
                    None => p.name_of(&p.url),
                };
                let series =
                    self.request_series(name, method, ("error", e.class.as_str()), false, &p.extra);
                let (metrics, tags) = (&self.shared.metrics, &series.tags);
                // A request that never left (bad URL, not allowed) is the
                // scenario's mistake, not the target's: it is not a request.
                if !matches!(e.class, ErrorClass::InvalidRequest | ErrorClass::NotAllowed) {
                    metrics.record_series(&[(series.reqs, 1.0)]);
                }
                metrics.failure(Builtin::HttpReqFailed, tags, &e.message);
                let e = NetError {
                    class: e.class.into(),
                    message: e.message,
                };
                (Err(e), None)
            }
        }
    }
}

/// A response with the redirect hops on the way to it.
type Answer = crate::protocol::http::Response;

fn timings(t: &crate::protocol::http::Timings) -> Timings {
    Timings {
        waiting_us: micros(t.waiting),
        receiving_us: micros(t.receiving),
        duration_us: micros(t.duration),
    }
}

fn redirects(hops: &[crate::protocol::http::Hop]) -> Vec<Redirect> {
    hops.iter()
        .map(|h| Redirect {
            url: h.url.clone(),
            status: h.status,
            headers: h.headers.lines().to_string(),
        })
        .collect()
}

/// Everything of an answer, copied out for `send-followed`.
fn followed(resp: Answer) -> Followed {
    Followed {
        response: Response {
            status: resp.status,
            headers: resp.headers.lines().to_string(),
            body: Vec::from(resp.body),
            timings: timings(&resp.timings),
            protocol: resp.protocol.to_string(),
        },
        redirects: redirects(&resp.hops),
        url: resp.url,
    }
}

/// The request `send-url` and `send-url-held` send: a method and a URL,
/// everything else the engine's default.
fn bare_request(method: String, url: String) -> wit::Request {
    wit::Request {
        method,
        url,
        headers: String::new(),
        body: Vec::new(),
        timeout_ms: None,
        name: None,
        tags: Vec::new(),
        expected_statuses: None,
    }
}

/// A guest's `reply`: an answer the engine holds until the guest drops it.
pub struct Reply(Box<Answer>);

/// Replies one VU may hold at once: a scenario that never drops its
/// replies would otherwise keep every response body until it ends.
pub const MAX_REPLIES: usize = 1_024;

impl VuState {
    /// Sends one request, records it and gives `then` its answer.
    ///
    /// A plain function that returns the future: the guest's request is
    /// handed off (see [`OwnExchange`]) before the future exists, so the
    /// future holds a reference and `then`, and the VU's task does the
    /// rest. Made by an `async fn`, it kept the guest's request (176 bytes)
    /// to its end, as did each host call above it, and wasmtime boxes the
    /// host call's future per request: the bytes it copies, and glibc's
    /// slow path for blocks above 1 KiB, grew with it.
    fn exchange<T>(
        &mut self,
        req: wit::Request,
        then: impl FnOnce(&mut Self, Result<Box<Answer>, NetError>) -> T + Send,
    ) -> impl Future<Output = T> + Send {
        let exchange = OwnExchange {
            request: req,
            local: self.instance.http1.take().unwrap_or_default(),
            recorder: self.recorder(),
        };
        self.offload.hand(exchange);
        async move {
            let (local, recorder, answer, due) = self.offload.wait().await;
            self.instance.http1 = Some(local);
            self.instance.recorder = Some(recorder);
            if let Some(due) = due {
                self.await_verdict(due);
            }
            then(self, answer)
        }
    }
}

impl HostReply for VuState {
    fn status(&mut self, r: Resource<Reply>) -> wasmtime::Result<u16> {
        Ok(self.reply(&r)?.status)
    }

    fn header(&mut self, r: Resource<Reply>, name: String) -> wasmtime::Result<Option<String>> {
        let headers = &self.reply(&r)?.headers;
        Ok(headers.get(&name).map(str::to_string))
    }

    fn headers(&mut self, r: Resource<Reply>) -> wasmtime::Result<String> {
        Ok(self.reply(&r)?.headers.lines().to_string())
    }

    fn body(&mut self, r: Resource<Reply>) -> wasmtime::Result<Vec<u8>> {
        Ok(Vec::from(self.reply(&r)?.body.clone()))
    }

    fn timings(&mut self, r: Resource<Reply>) -> wasmtime::Result<Timings> {
        Ok(timings(&self.reply(&r)?.timings))
    }

    fn phases(&mut self, r: Resource<Reply>) -> wasmtime::Result<Phases> {
        let t = &self.reply(&r)?.timings;
        let us = |d: Option<Duration>| d.map_or(0, micros);
        Ok(Phases {
            connecting_us: us(t.connecting),
            tls_handshaking_us: us(t.tls_handshaking),
            sending_us: us(t.sending),
            waiting_us: micros(t.waiting),
            receiving_us: micros(t.receiving),
            duration_us: micros(t.duration),
        })
    }

    fn protocol(&mut self, r: Resource<Reply>) -> wasmtime::Result<String> {
        Ok(self.reply(&r)?.protocol.to_string())
    }

    fn url(&mut self, r: Resource<Reply>) -> wasmtime::Result<String> {
        Ok(self.reply(&r)?.url.clone())
    }

    fn redirects(&mut self, r: Resource<Reply>) -> wasmtime::Result<Vec<Redirect>> {
        Ok(redirects(&self.reply(&r)?.hops))
    }

    fn drop(&mut self, r: Resource<Reply>) -> wasmtime::Result<()> {
        self.instance.table.delete(r)?;
        self.instance.replies -= 1;
        Ok(())
    }
}

impl VuState {
    fn reply(&self, r: &Resource<Reply>) -> wasmtime::Result<&Answer> {
        Ok(&self.instance.table.get(r)?.0)
    }

    /// `send-url-held`'s and `send-held`'s answer: held as a reply, or
    /// copied whole when cookies were set on the way (they go to the
    /// guest's jar at once), after redirects, or at the VU's bound of
    /// replies.
    fn held(
        &mut self,
        answer: Result<Box<Answer>, NetError>,
    ) -> wasmtime::Result<Result<Held, NetError>> {
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(e)),
        };
        let status = answer.status;
        let whole = !answer.hops.is_empty()
            || answer.headers.get("set-cookie").is_some()
            || self.instance.replies >= MAX_REPLIES;
        if whole {
            return Ok(Ok(Held {
                status,
                reply: None,
                followed: Some(followed(*answer)),
            }));
        }
        Ok(Ok(Held {
            status,
            reply: Some(self.hold(answer)?),
            followed: None,
        }))
    }

    /// `answer` held as a reply, counted toward the VU's bound.
    fn hold(&mut self, answer: Box<Answer>) -> wasmtime::Result<Resource<Reply>> {
        let reply = self.instance.table.push(Reply(answer))?;
        self.instance.replies += 1;
        Ok(reply)
    }
}

impl Host for VuState {
    fn fetch(
        &mut self,
        req: wit::Request,
    ) -> impl Future<Output = wasmtime::Result<Result<Resource<Reply>, NetError>>> + Send {
        if self.instance.replies >= MAX_REPLIES {
            return Either::Left(std::future::ready(Ok(Err(NetError {
                class: ErrorClass::InvalidRequest.into(),
                message: format!(
                    "fetch: this VU holds {MAX_REPLIES} replies; drop each reply once read (nothing was sent)"
                ),
            }))));
        }
        Either::Right(self.exchange(req, |vu, answer| {
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => return Ok(Err(e)),
            };
            Ok(Ok(vu.hold(answer)?))
        }))
    }

    fn send(
        &mut self,
        req: wit::Request,
    ) -> impl Future<Output = wasmtime::Result<Result<Response, NetError>>> + Send {
        self.exchange(req, |_, answer| Ok(answer.map(|a| followed(*a).response)))
    }

    async fn send_batch(
        &mut self,
        reqs: Vec<wit::Request>,
    ) -> wasmtime::Result<Vec<Result<Response, NetError>>> {
        let followed = self.send_batch_followed(reqs).await?;
        Ok(followed
            .into_iter()
            .map(|r| r.map(|f| f.response))
            .collect())
    }

    fn send_followed(
        &mut self,
        req: wit::Request,
    ) -> impl Future<Output = wasmtime::Result<Result<Followed, NetError>>> + Send {
        self.exchange(req, |_, answer| Ok(answer.map(|a| followed(*a))))
    }

    fn send_url(
        &mut self,
        method: String,
        url: String,
    ) -> impl Future<Output = wasmtime::Result<Result<Followed, NetError>>> + Send {
        self.exchange(bare_request(method, url), |_, answer| {
            Ok(answer.map(|a| followed(*a)))
        })
    }

    fn send_url_held(
        &mut self,
        method: String,
        url: String,
    ) -> impl Future<Output = wasmtime::Result<Result<Held, NetError>>> + Send {
        self.exchange(bare_request(method, url), VuState::held)
    }

    fn send_held(
        &mut self,
        req: wit::Request,
    ) -> impl Future<Output = wasmtime::Result<Result<Held, NetError>>> + Send {
        self.exchange(req, VuState::held)
    }

    fn verdict(&mut self, ok: bool, check: bool) -> wasmtime::Result<bool> {
        let Some(due) = self.instance.verdict.take() else {
            return Ok(false);
        };
        let failed = (due.failed, one_or_zero(!ok));
        if check {
            let check = (self.check_series(&due.name, &[]), one_or_zero(ok));
            self.shared.metrics.record_series(&[failed, check]);
        } else {
            self.shared.metrics.record_series(&[failed]);
        }
        Ok(true)
    }

    async fn send_batch_followed(
        &mut self,
        reqs: Vec<wit::Request>,
    ) -> wasmtime::Result<Vec<Result<Followed, NetError>>> {
        // Every request starts before the first is awaited: they run at
        // once, each on its own task, and are recorded in order.
        let n = reqs.len();
        let mut tasks = Vec::with_capacity(n);
        for (i, req) in reqs.into_iter().enumerate() {
            let (mut pending, mut request) = prepare(req);
            pending.sent = self.shared.timeline.flight(&pending.url);
            if i >= MAX_BATCH {
                request = Err(ProtoError::new(
                    ErrorClass::InvalidRequest,
                    format!(
                        "send-batch: request {} of {n} is past the bound of {MAX_BATCH} requests per batch; split the batch",
                        i + 1
                    ),
                ));
            }
            tasks.push((pending, spawn(&self.shared.http, request)));
        }
        let mut out = Vec::with_capacity(tasks.len());
        let mut recorder = self.recorder();
        for (mut pending, task) in tasks {
            let result = joined(task).await;
            let (answer, due) = recorder.record(&mut pending, result);
            if let Some(due) = due {
                self.await_verdict(due);
            }
            out.push(answer.map(followed));
        }
        self.instance.recorder = Some(recorder);
        Ok(out)
    }
}
