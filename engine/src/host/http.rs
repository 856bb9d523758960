//! `http` import: converts guest requests to `protocol::http`, records the
//! built-in HTTP metrics, converts the result back.

use std::time::Duration;

use super::VuState;
use crate::metrics::Builtin;
use crate::protocol::http::{ErrorClass, Request};
use crate::wasm::bindings::volley::scenario::http::{
    self as wit, ErrorClass as WitClass, Host, HttpError, Response, Timings,
};

fn class_name(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::Refused => "refused",
        ErrorClass::Timeout => "timeout",
        ErrorClass::Reset => "reset",
        ErrorClass::Tls => "tls",
        ErrorClass::Dns => "dns",
        ErrorClass::InvalidRequest => "invalid_request",
        ErrorClass::NotAllowed => "not_allowed",
        ErrorClass::Other => "other",
    }
}

fn wit_class(c: ErrorClass) -> WitClass {
    match c {
        ErrorClass::Refused => WitClass::Refused,
        ErrorClass::Timeout => WitClass::Timeout,
        ErrorClass::Reset => WitClass::Reset,
        ErrorClass::Tls => WitClass::Tls,
        ErrorClass::Dns => WitClass::Dns,
        ErrorClass::InvalidRequest => WitClass::InvalidRequest,
        ErrorClass::NotAllowed => WitClass::NotAllowed,
        ErrorClass::Other => WitClass::Other,
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros() as u64
}

impl Host for VuState {
    async fn send(&mut self, req: wit::Request) -> wasmtime::Result<Result<Response, HttpError>> {
        let name = req.name.unwrap_or_else(|| req.url.clone());
        let method = req.method.to_ascii_uppercase();
        let request = Request {
            method: method.clone(),
            url: req.url,
            headers: req.headers,
            body: req.body.into(),
            timeout: req.timeout_ms.map(|ms| Duration::from_millis(ms as u64)),
        };
        // The request runs as its own task: hyper's deep poll stack then lives
        // on the worker thread, not on this VU's fiber, so the fiber stays
        // shallow (resident memory per VU) and switches once per request.
        let client = self.shared.http.clone();
        let result = tokio::spawn(async move { client.send(request).await })
            .await
            .unwrap_or_else(|e| {
                Err(crate::protocol::http::HttpError {
                    class: ErrorClass::Other,
                    message: format!("request task failed: {e}"),
                })
            });
        let metrics = &self.shared.metrics;
        let base = [("name", name.as_str()), ("method", method.as_str())];
        match result {
            Ok(resp) => {
                let status = resp.status.to_string();
                let tags = self
                    .scenario
                    .tags
                    .with(base.into_iter().chain([("status", status.as_str())]))
                    .with(req.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                metrics.builtin(Builtin::HttpReqs, &tags, 1.0);
                metrics.builtin(
                    Builtin::HttpReqDuration,
                    &tags,
                    micros(resp.timings.duration) as f64,
                );
                metrics.builtin(
                    Builtin::HttpReqWaiting,
                    &tags,
                    micros(resp.timings.waiting) as f64,
                );
                metrics.builtin(
                    Builtin::HttpReqReceiving,
                    &tags,
                    micros(resp.timings.receiving) as f64,
                );
                metrics.builtin(
                    Builtin::HttpReqFailed,
                    &tags,
                    if resp.status >= 400 { 1.0 } else { 0.0 },
                );
                metrics.builtin(
                    Builtin::DataSent,
                    &self.scenario.tags,
                    resp.bytes_sent as f64,
                );
                metrics.builtin(
                    Builtin::DataReceived,
                    &self.scenario.tags,
                    resp.bytes_received as f64,
                );
                Ok(Ok(Response {
                    status: resp.status,
                    headers: resp.headers,
                    body: resp.body.to_vec(),
                    timings: Timings {
                        waiting_us: micros(resp.timings.waiting),
                        receiving_us: micros(resp.timings.receiving),
                        duration_us: micros(resp.timings.duration),
                    },
                    protocol: resp.protocol.to_string(),
                }))
            }
            Err(e) => {
                let tags = self
                    .scenario
                    .tags
                    .with(base.into_iter().chain([("error", class_name(e.class))]))
                    .with(req.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                // A request that never left (bad URL, not allowed) is the
                // scenario's mistake, not the target's: it is not a request.
                if !matches!(e.class, ErrorClass::InvalidRequest | ErrorClass::NotAllowed) {
                    metrics.builtin(Builtin::HttpReqs, &tags, 1.0);
                }
                metrics.builtin(Builtin::HttpReqFailed, &tags, 1.0);
                Ok(Err(HttpError {
                    class: wit_class(e.class),
                    message: e.message,
                }))
            }
        }
    }
}
