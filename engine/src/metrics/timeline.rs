//! The per-target timeline: for each HTTP target of the plan, one point a
//! second (requests answered, errors by class, latency p95/p99, requests
//! still in flight), which fault detection (`run/faults.rs`) reads.
//!
//! A request is attributed to the target whose `host:port` its URL names;
//! requests to other allowed hosts are not on any target's timeline.
//! WebSocket calls count as requests too: a connect (handshake latency)
//! and a ping (round trip) are timed, a socket that fails while open is a
//! failed request without a latency.
//! Recording is lock-free (atomic counters and an atomic log-linear
//! latency histogram per target): a host call never waits on the
//! once-a-second tick. The history is bounded ([`MAX_SECONDS`] per target,
//! the oldest dropped first); targets come from the runner's plan, never
//! from a scenario.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Seconds of history kept per target (one hour).
pub const MAX_SECONDS: usize = 3600;

/// The error classes a target's second is split by: the network errors a
/// request can end with, and statuses the request did not expect.
pub const CLASSES: [&str; 9] = [
    "refused",
    "timeout",
    "reset",
    "tls",
    "dns",
    "other",
    "http_4xx",
    "http_5xx",
    "handshake",
];

/// Sub-buckets per power of two: a percentile is exact to about 1/16.
const SUB: u64 = 16;
/// Powers of two of microseconds covered (2^36 us is about 19 hours).
const POWERS: u64 = 36;
const BUCKETS: usize = (SUB * POWERS) as usize;

/// One target's point for one second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Second {
    /// Seconds from the run's start at the beginning and end of this point.
    pub from: f64,
    pub to: f64,
    /// Requests that finished in this second (answered or failed).
    pub requests: u64,
    /// Requests that failed, by class (only classes with a count).
    pub errors: BTreeMap<String, u64>,
    /// Latency percentiles of the finished requests, in milliseconds.
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Requests sent but not finished at the end of the second.
    pub in_flight: u64,
}

impl Second {
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failed() as f64 / self.requests as f64
        }
    }
}

/// The live counters of one target.
#[derive(Debug)]
struct Cell {
    name: String,
    /// `host:port`, lower case, with the scheme's default port filled in.
    authority: String,
    started: AtomicU64,
    finished: AtomicU64,
    /// Failures with no latency to record (a WebSocket broke while open).
    untimed: AtomicU64,
    errors: [AtomicU64; CLASSES.len()],
    latency: Box<[AtomicU64]>,
    history: Mutex<VecDeque<Second>>,
}

/// Every target's timeline. `Default` has no targets (nothing is recorded).
#[derive(Debug, Default)]
pub struct Timeline {
    cells: Vec<Cell>,
    /// When the previous tick was (seconds from the run's start).
    last: Mutex<f64>,
}

/// A request on its way, from [`Timeline::begin`] to [`Timeline::end`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent(usize);

/// A request on its target's timeline; see [`Timeline::flight`].
#[derive(Debug)]
pub struct Flight {
    timeline: Arc<Timeline>,
    sent: Sent,
    at: Instant,
    open: bool,
}

impl Flight {
    /// The request ended, failed with `class` or not ([`Timeline::end`]).
    pub fn end(mut self, class: Option<&str>) {
        self.open = false;
        self.timeline.end(self.sent, self.at.elapsed(), class);
    }

    /// The request never reached the target ([`Timeline::abandon`]).
    pub fn abandon(mut self) {
        self.open = false;
        self.timeline.abandon(self.sent);
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        if self.open {
            self.timeline
                .end(self.sent, self.at.elapsed(), Some("timeout"));
        }
    }
}

impl Timeline {
    /// A timeline for these `(name, base URL)` targets.
    pub fn new<'a>(targets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Timeline {
        let cells: Vec<Cell> = targets
            .into_iter()
            .filter_map(|(name, url)| {
                Some(Cell {
                    name: name.to_string(),
                    authority: authority(url)?,
                    started: AtomicU64::new(0),
                    finished: AtomicU64::new(0),
                    untimed: AtomicU64::new(0),
                    errors: Default::default(),
                    latency: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
                    history: Mutex::new(VecDeque::new()),
                })
            })
            .collect();
        Timeline {
            cells,
            last: Mutex::new(0.0),
        }
    }

    /// The target names, in order.
    pub fn targets(&self) -> Vec<String> {
        self.cells.iter().map(|c| c.name.clone()).collect()
    }

    /// A request to `url` starts; none when it goes to no target.
    pub fn begin(&self, url: &str) -> Option<Sent> {
        let sent = self.target_of(url)?;
        self.start(sent);
        Some(sent)
    }

    /// The target `url` goes to, for calls that come later on the same
    /// connection ([`Timeline::start`], [`Timeline::failed`]).
    pub fn target_of(&self, url: &str) -> Option<Sent> {
        if self.cells.is_empty() {
            return None;
        }
        let a = authority(url)?;
        self.cells.iter().position(|c| c.authority == a).map(Sent)
    }

    /// A request to the target of `sent` starts.
    pub fn start(&self, sent: Sent) {
        self.cells[sent.0].started.fetch_add(1, Ordering::Relaxed);
    }

    /// A failure that had no request of its own (a socket broke while open):
    /// one failed request with no latency.
    pub fn failed(&self, target: Sent, class: &str) {
        let c = &self.cells[target.0];
        c.errors[class_index(class)].fetch_add(1, Ordering::Relaxed);
        c.untimed.fetch_add(1, Ordering::Relaxed);
    }

    /// A request ends after `took`, failed with `class` (one of
    /// [`CLASSES`]) or not. A request that never left (`None` class and
    /// not counted) ends with [`Timeline::abandon`] instead.
    pub fn end(&self, sent: Sent, took: Duration, class: Option<&str>) {
        let c = &self.cells[sent.0];
        if let Some(class) = class {
            c.errors[class_index(class)].fetch_add(1, Ordering::Relaxed);
        }
        c.latency[bucket(took.as_micros() as u64)].fetch_add(1, Ordering::Relaxed);
        c.finished.fetch_add(1, Ordering::Relaxed);
    }

    /// A request that never reached the target (refused by the engine).
    pub fn abandon(&self, sent: Sent) {
        self.cells[sent.0].started.fetch_sub(1, Ordering::Relaxed);
    }

    /// [`Timeline::begin`], as a request that ends on the timeline however
    /// it ends: through [`Flight::end`] or [`Flight::abandon`], or, dropped
    /// unfinished (its VU's iteration timed out while it waited), as a
    /// `timeout`. Before, such a request stayed in flight for the rest of
    /// the run, and every quiet second after it looked stalled.
    pub fn flight(self: &Arc<Self>, url: &str) -> Option<Flight> {
        let sent = self.begin(url)?;
        Some(Flight {
            timeline: self.clone(),
            sent,
            at: Instant::now(),
            open: true,
        })
    }

    /// Closes the second ending `at` (seconds from the run's start): each
    /// target's point, also kept in its history.
    pub fn tick(&self, at: f64) -> Vec<(String, Second)> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let from = *last;
        let mut out = Vec::with_capacity(self.cells.len());
        for c in &self.cells {
            let mut counts = vec![0u64; BUCKETS];
            for (n, b) in counts.iter_mut().zip(c.latency.iter()) {
                *n = b.swap(0, Ordering::Relaxed);
            }
            let errors: BTreeMap<String, u64> = CLASSES
                .iter()
                .zip(&c.errors)
                .map(|(k, n)| (k.to_string(), n.swap(0, Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect();
            let finished = c.finished.load(Ordering::Relaxed);
            let started = c.started.load(Ordering::Relaxed);
            let requests = counts.iter().sum::<u64>() + c.untimed.swap(0, Ordering::Relaxed);
            let point = Second {
                from,
                to: at,
                requests,
                errors,
                p95_ms: percentile(&counts, 95.0),
                p99_ms: percentile(&counts, 99.0),
                in_flight: started.saturating_sub(finished),
            };
            let mut h = c.history.lock().unwrap_or_else(|e| e.into_inner());
            if h.len() == MAX_SECONDS {
                h.pop_front();
            }
            h.push_back(point.clone());
            out.push((c.name.clone(), point));
        }
        *last = at;
        out
    }

    /// Each target's kept history, oldest first.
    pub fn history(&self) -> Vec<(String, Vec<Second>)> {
        self.cells
            .iter()
            .map(|c| {
                let h = c.history.lock().unwrap_or_else(|e| e.into_inner());
                (c.name.clone(), h.iter().cloned().collect())
            })
            .collect()
    }
}

/// Where `class` counts in [`CLASSES`]; `other` when it is none of them.
fn class_index(class: &str) -> usize {
    CLASSES.iter().position(|k| *k == class).unwrap_or(5)
}

/// `host:port` of a URL, lower case, the scheme's port filled in.
fn authority(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let a = rest.split(['/', '?', '#']).next()?;
    let a = a.rsplit('@').next()?.to_ascii_lowercase();
    if a.is_empty() {
        return None;
    }
    // `[::1]:80` and `host:80` have a port; `[::1]` and `host` do not.
    let has_port = match a.rfind(']') {
        Some(end) => a[end..].contains(':'),
        None => a.contains(':'),
    };
    if has_port {
        return Some(a);
    }
    let port = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => 443,
        _ => 80,
    };
    Some(format!("{a}:{port}"))
}

/// The bucket of a latency in microseconds: 16 linear steps per power of two.
fn bucket(us: u64) -> usize {
    let us = us.max(1);
    let power = 63 - us.leading_zeros() as u64;
    if power < 4 {
        // Below 16 us every microsecond is its own bucket.
        return us as usize;
    }
    let sub = (us >> (power - 4)) - SUB;
    ((power - 3) * SUB + sub).min(BUCKETS as u64 - 1) as usize
}

/// The middle of a bucket, in microseconds.
fn bucket_value(i: usize) -> f64 {
    let i = i as u64;
    if i < SUB {
        return i as f64;
    }
    let power = i / SUB + 3;
    let sub = i % SUB;
    let low = (SUB + sub) << (power - 4);
    let width = 1u64 << (power - 4);
    low as f64 + width as f64 / 2.0
}

/// The `p`th percentile of bucket counts, in milliseconds (0 when empty).
fn percentile(counts: &[u64], p: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in counts.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return bucket_value(i) / 1000.0;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_close() {
        let mut prev = 0;
        for us in [1u64, 15, 16, 17, 100, 1_000, 50_000, 3_000_000, 1 << 40] {
            let b = bucket(us);
            assert!(b >= prev, "{us}");
            prev = b;
            let back = bucket_value(b);
            if us < 1 << 35 {
                assert!(
                    (back - us as f64).abs() <= us as f64 / 16.0 + 1.0,
                    "{us} -> {back}"
                );
            }
        }
    }

    #[test]
    fn authorities_match_with_default_ports() {
        assert_eq!(authority("http://A.example/x?y").unwrap(), "a.example:80");
        assert_eq!(authority("https://u@h:8443/").unwrap(), "h:8443");
        assert_eq!(authority("http://[::1]/").unwrap(), "[::1]:80");
        assert_eq!(authority("http://[::1]:9").unwrap(), "[::1]:9");
        assert_eq!(authority("nope"), None);
    }

    #[test]
    fn a_second_counts_requests_errors_and_percentiles() {
        let t = Timeline::new([("api", "http://127.0.0.1:8080"), ("other", "http://h")]);
        assert!(t.begin("http://127.0.0.2:8080/x").is_none());
        for i in 0..100u64 {
            let s = t.begin("http://127.0.0.1:8080/messages?i=1").unwrap();
            let class = (i >= 90).then_some("http_5xx");
            t.end(
                s,
                Duration::from_millis(if i < 95 { 2 } else { 400 }),
                class,
            );
        }
        let _stuck = t.begin("http://127.0.0.1:8080/").unwrap();
        let gone = t.begin("http://h/").unwrap();
        t.abandon(gone);
        let points = t.tick(1.0);
        let (name, p) = &points[0];
        assert_eq!(name, "api");
        assert_eq!((p.requests, p.failed(), p.in_flight), (100, 10, 1));
        assert!((p.error_rate() - 0.1).abs() < 1e-9);
        assert!((p.p95_ms - 2.0).abs() < 0.2, "{}", p.p95_ms);
        assert!((p.p99_ms - 400.0).abs() < 25.0, "{}", p.p99_ms);
        assert_eq!(points[1].1.in_flight, 0);
        // The next second starts empty.
        let next = &t.tick(2.0)[0].1;
        assert_eq!((next.requests, next.from, next.to), (0, 1.0, 2.0));
        assert_eq!(t.history()[0].1.len(), 2);
    }

    #[test]
    fn a_request_dropped_unfinished_ends_as_a_timeout() {
        let t = Arc::new(Timeline::new([("api", "http://127.0.0.1:8080")]));
        assert!(t.flight("http://elsewhere:1/").is_none());
        let cut_off = t.flight("http://127.0.0.1:8080/slow").unwrap();
        t.flight("http://127.0.0.1:8080/ok").unwrap().end(None);
        t.flight("http://127.0.0.1:8080/refused").unwrap().abandon();
        let waiting = t.flight("http://127.0.0.1:8080/waiting").unwrap();
        let p = &t.tick(1.0)[0].1;
        assert_eq!((p.requests, p.failed(), p.in_flight), (1, 0, 2));
        drop(cut_off);
        let p = &t.tick(2.0)[0].1;
        assert_eq!((p.requests, p.failed(), p.in_flight), (1, 1, 1));
        assert_eq!(p.errors["timeout"], 1);
        waiting.end(Some("http_5xx"));
        let p = &t.tick(3.0)[0].1;
        assert_eq!((p.requests, p.failed(), p.in_flight), (1, 1, 0));
        assert!(!p.errors.contains_key("timeout"));
    }

    #[test]
    fn a_websocket_failure_counts_on_its_target_without_a_latency() {
        let t = Timeline::new([("api", "http://127.0.0.1:8080")]);
        let ws = t.target_of("ws://127.0.0.1:8080/ws/items/1").unwrap();
        t.failed(ws, "reset");
        t.failed(ws, "no-such-class");
        let p = &t.tick(1.0)[0].1;
        assert_eq!((p.requests, p.failed(), p.in_flight), (2, 2, 0));
        assert_eq!((p.errors["reset"], p.errors["other"]), (1, 1));
        assert_eq!(p.p95_ms, 0.0);
    }
}
