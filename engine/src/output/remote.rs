//! What the network outputs (`--out influxdb=`, `--out prometheus-rw=`)
//! share: a sender thread that POSTs ready-made bodies to one URL.
//!
//! The collector hands a body over through a bounded queue and never
//! waits: when the receiver is slow or gone and the queue is full, the
//! body is dropped and counted, so memory stays flat and the load never
//! stalls on a metrics database. A failing receiver is said once while the
//! run goes and counted in one line at the end; it never fails the run
//! (the summary and the exit code do not depend on Grafana being up).
//! The thread has its own small runtime: sending is off the collector's
//! and the load's threads. Nothing here knows a wire format.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Error;

/// Bodies waiting to be sent (one a second each): half a minute of a
/// receiver that does not answer before bodies are dropped.
const QUEUE: usize = 30;
/// One POST, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the end of the run waits for the queue to drain.
const FINISH_WAIT: Duration = Duration::from_secs(10);

/// What the sender did, read at the end.
#[derive(Default)]
struct Stats {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    first_error: Mutex<Option<String>>,
    /// Set when the end stops waiting: what is left is dropped, not sent.
    abandon: AtomicBool,
}

impl Stats {
    fn fail(&self, output: &str, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            super::log(
                "WARN",
                format_args!("WARN  output {output}: {why} (said once; the run goes on)"),
            );
            *first = Some(why);
        }
    }
}

/// A running sender for one output.
pub struct Remote {
    name: &'static str,
    url: String,
    tx: Option<SyncSender<Vec<u8>>>,
    done: Receiver<()>,
    stats: Arc<Stats>,
    warned_full: bool,
}

impl Remote {
    /// Starts the sender thread; `headers` go with every POST.
    pub fn start(
        name: &'static str,
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<Remote, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::Config(format!("--out {name}={url}: not a URL: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(Error::Config(format!(
                "--out {name}={url}: write an http:// or https:// URL with a host"
            )));
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(QUEUE);
        let (done_tx, done) = std::sync::mpsc::channel();
        let stats = Arc::new(Stats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name(format!("volley-out-{name}"))
            .spawn(move || {
                send_loop(name, uri, headers, rx, &thread_stats);
                let _ = done_tx.send(());
            })
            .map_err(|e| Error::io(format!("--out {name}: starting its thread"), e))?;
        Ok(Remote {
            name,
            url: url.to_string(),
            tx: Some(tx),
            done,
            stats,
            warned_full: false,
        })
    }

    /// Queues one body; never waits. A full queue drops it (counted).
    pub fn send(&mut self, body: Vec<u8>) {
        let Some(tx) = &self.tx else { return };
        // Full or (the thread gone) disconnected: dropped either way.
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(body) {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            if !std::mem::replace(&mut self.warned_full, true) {
                super::log(
                    "WARN",
                    format_args!(
                        "WARN  output {}: {} is not keeping up, dropping data (said once)",
                        self.name, self.url
                    ),
                );
            }
        }
    }

    /// Sends what is queued (waiting at most a few seconds) and says in
    /// one line what could not be sent. Never an error: see the module.
    pub fn finish(&mut self) -> (u64, u64, u64) {
        drop(self.tx.take());
        if self.done.recv_timeout(FINISH_WAIT).is_err() {
            self.stats.abandon.store(true, Ordering::Relaxed);
        }
        let s = &self.stats;
        let (sent, failed, dropped) = (
            s.sent.load(Ordering::Relaxed),
            s.failed.load(Ordering::Relaxed),
            s.dropped.load(Ordering::Relaxed),
        );
        if failed + dropped > 0 {
            let first = s
                .first_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_else(|| "the receiver was too slow".into());
            super::log(
                "WARN",
                format_args!(
                    "WARN  output {} to {}: {sent} writes sent, {failed} failed, {dropped} dropped (first problem: {first})",
                    self.name, self.url
                ),
            );
        }
        (sent, failed, dropped)
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // A run that ends without `finish` (it failed to start) must not
        // leave the thread sending.
        self.stats.abandon.store(true, Ordering::Relaxed);
    }
}

fn send_loop(
    name: &str,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    rx: Receiver<Vec<u8>>,
    stats: &Stats,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            stats.fail(name, format!("cannot start its runtime: {e}"));
            return;
        }
    };
    let mut connector = HttpConnector::new();
    connector.enforce_http(false);
    connector.set_connect_timeout(Some(REQUEST_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    while let Ok(body) = rx.recv() {
        if stats.abandon.load(Ordering::Relaxed) {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let mut req = Request::post(uri.clone());
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let req = match req.body(Full::new(Bytes::from(body))) {
            Ok(r) => r,
            Err(e) => {
                stats.fail(name, format!("building the request: {e}"));
                continue;
            }
        };
        let result = rt.block_on(async {
            tokio::time::timeout(REQUEST_TIMEOUT, async {
                let resp = client.request(req).await.map_err(|e| {
                    let source = std::error::Error::source(&e)
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default();
                    format!("{uri}: {e}{source}")
                })?;
                let status = resp.status();
                if status.is_success() {
                    return Ok(());
                }
                // The receiver's reason, cut short: it says what it refused.
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let text = String::from_utf8_lossy(&body[..body.len().min(300)])
                    .trim()
                    .to_string();
                Err(format!("{uri} answered {status}: {text}"))
            })
            .await
            .unwrap_or_else(|_| Err(format!("{uri}: no answer in {REQUEST_TIMEOUT:?}")))
        });
        match result {
            Ok(()) => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => stats.fail(name, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_that_is_not_there_is_counted_not_fatal() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r =
            Remote::start("test", &format!("http://127.0.0.1:{port}/write"), vec![]).unwrap();
        r.send(b"a".to_vec());
        r.send(b"b".to_vec());
        let (sent, failed, dropped) = r.finish();
        assert_eq!((sent, failed + dropped), (0, 2));
        assert!(
            r.stats.first_error.lock().unwrap().is_some(),
            "the first failure is kept for the message"
        );
    }

    #[test]
    fn a_full_queue_drops_instead_of_waiting() {
        // A listener that accepts nothing keeps the sender in its first POST.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/write", l.local_addr().unwrap());
        let mut r = Remote::start("test", &url, vec![]).unwrap();
        for _ in 0..QUEUE + 10 {
            r.send(b"x".to_vec());
        }
        assert!(r.stats.dropped.load(Ordering::Relaxed) >= 9);
        assert!(r.warned_full);
        r.stats.abandon.store(true, Ordering::Relaxed);
    }

    #[test]
    fn urls_are_checked_before_the_run() {
        for bad in ["nope", "ftp://h/x", "/write"] {
            let e = Remote::start("influxdb", bad, vec![]).err().expect(bad);
            assert!(e.to_string().contains("--out influxdb="), "{e}");
        }
    }
}
