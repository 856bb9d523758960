//! `http` import: converts guest requests to `protocol::http`, records the
//! built-in HTTP metrics, converts the result back.

use std::time::Duration;

use super::VuState;
use crate::metrics::{Builtin, Tags};
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

/// The request tag by which a scenario takes over the request's
/// `http_req_failed` sample (it records it with the metrics import).
pub const VERDICT_TAG: (&str, &str) = ("volley_verdict", "guest");

/// Most scenarios send a handful of distinct requests; their tag sets are
/// built once per VU, not once per request.
const TAG_CACHE: usize = 32;

impl VuState {
    fn request_tags(
        &mut self,
        name: &str,
        method: &str,
        outcome: (&str, &str),
        extra: &[(String, String)],
    ) -> Tags {
        let key = (name, method, outcome.0, outcome.1);
        if extra.is_empty()
            && let Some((_, tags)) = self
                .instance
                .http_tags
                .iter()
                .find(|(k, _)| (k.0.as_str(), k.1.as_str(), k.2.as_str(), k.3.as_str()) == key)
        {
            return tags.clone();
        }
        let tags = self
            .scenario
            .tags
            .with([("name", name), ("method", method), outcome])
            .with(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if extra.is_empty() && self.instance.http_tags.len() < TAG_CACHE {
            let owned = (
                name.to_string(),
                method.to_string(),
                outcome.0.to_string(),
                outcome.1.to_string(),
            );
            self.instance.http_tags.push((owned, tags.clone()));
        }
        tags
    }
}

impl VuState {
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
        judge: bool,
    ) {
        let status_text = status.to_string();
        let tags = self.request_tags(name, method, ("status", &status_text), extra);
        let expected = match &self.instance.expected_statuses {
            Some(list) => list.contains(&status),
            None => status < 400,
        };
        let failed = if expected { 0.0 } else { 1.0 };
        // Unless the scenario judges the response itself (`judge` false).
        if judge {
            self.shared
                .metrics
                .builtin(Builtin::HttpReqFailed, &tags, failed);
        }
        self.shared.metrics.builtins(&[
            (Builtin::HttpReqs, &tags, 1.0),
            (Builtin::HttpReqDuration, &tags, micros(t.duration) as f64),
            (Builtin::HttpReqWaiting, &tags, micros(t.waiting) as f64),
            (Builtin::HttpReqReceiving, &tags, micros(t.receiving) as f64),
            (Builtin::DataSent, &self.scenario.tags, sent as f64),
            (Builtin::DataReceived, &self.scenario.tags, received as f64),
        ]);
    }
}

impl Host for VuState {
    async fn send(&mut self, req: wit::Request) -> wasmtime::Result<Result<Response, HttpError>> {
        // Without a name, group by the URL minus its query: ids in query
        // strings would otherwise make a series (and histogram) per request.
        let name_of = |url: &str| -> String {
            req.name
                .clone()
                .unwrap_or_else(|| url.split(['?', '#']).next().unwrap_or(url).to_string())
        };
        let name = name_of(&req.url);
        let method = req.method.to_ascii_uppercase();
        // `volley_verdict=guest`: the scenario records this request's
        // `http_req_failed` sample itself once it judged the response
        // (Locust's catch_response). Never a tag of the samples.
        let mut extra = req.tags;
        let guest_verdict = extra
            .iter()
            .position(|(k, v)| k == VERDICT_TAG.0 && v == VERDICT_TAG.1)
            .map(|i| extra.remove(i))
            .is_some();
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
                Err(crate::protocol::http::HttpError::new(
                    ErrorClass::Other,
                    format!("request task failed: {e}"),
                ))
            });
        // Each redirect followed was a request of its own (as in k6).
        let hops = match &result {
            Ok(r) => r.hops.clone(),
            Err(e) => e.hops.clone(),
        };
        for hop in &hops {
            self.record_response(
                &name_of(&hop.url),
                &hop.method,
                hop.status,
                &hop.timings,
                (hop.bytes_sent, hop.bytes_received),
                &extra,
                true,
            );
        }
        // After a 303 (or a POST's 301/302) the next request was a GET.
        let method = match hops.last() {
            Some(h) if h.status == 303 && h.method != "HEAD" => "GET".to_string(),
            Some(h) if matches!(h.status, 301 | 302) && h.method == "POST" => "GET".to_string(),
            Some(h) => h.method.clone(),
            None => method,
        };
        match result {
            Ok(resp) => {
                self.record_response(
                    &name_of(&resp.url),
                    &method,
                    resp.status,
                    &resp.timings,
                    (resp.bytes_sent, resp.bytes_received),
                    &extra,
                    !guest_verdict,
                );
                Ok(Ok(Response {
                    status: resp.status,
                    headers: header_lines(&resp.headers),
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
                // A redirect's failure is named after the hop that failed.
                let name = e.redirected_to.as_deref().map_or(name, name_of);
                let tags =
                    self.request_tags(&name, &method, ("error", class_name(e.class)), &extra);
                let metrics = &self.shared.metrics;
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

    fn expect_statuses(&mut self, statuses: Vec<u16>) -> wasmtime::Result<()> {
        self.instance.expected_statuses = (!statuses.is_empty()).then_some(statuses);
        Ok(())
    }
}

/// Response headers as the WIT carries them: `name: value` lines.
fn header_lines(headers: &[(String, String)]) -> String {
    let mut out = String::with_capacity(headers.iter().map(|(k, v)| k.len() + v.len() + 3).sum());
    for (i, (k, v)) in headers.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_keep_order_and_repeats() {
        let h = [
            ("content-type".to_string(), "text/plain".to_string()),
            ("set-cookie".to_string(), "a=1".to_string()),
            ("set-cookie".to_string(), "b=2; Path=/".to_string()),
        ];
        assert_eq!(
            header_lines(&h),
            "content-type: text/plain\nset-cookie: a=1\nset-cookie: b=2; Path=/"
        );
        assert_eq!(header_lines(&[]), "");
    }
}
