//! Correlation marks: an event is marked where it starts and arrives where it
//! is observed, possibly in another VU; the latency is taken on the engine's
//! monotonic clock. Kafka end-to-end and WebSocket fan-out build on this.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Kind, Metrics, Tags};

const SHARDS: usize = 16;

#[derive(Debug)]
struct Mark {
    at: Instant,
    metric: Arc<str>,
    expected: u32,
    remaining: u32,
}

/// One observation of a marked event.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// The trend the latency goes to.
    pub metric: Arc<str>,
    pub latency: Duration,
    /// A fan-out event's (`expected` > 1) time until its last expected
    /// arrival, on that arrival.
    pub completed: Option<Duration>,
    /// Whether the mark expects more than one arrival.
    pub fan_out: bool,
}

/// An event that did not see all its expected arrivals.
#[derive(Debug, Clone, PartialEq)]
pub struct Incomplete {
    pub metric: Arc<str>,
    pub missing: u32,
    /// Whether the mark expected more than one arrival.
    pub fan_out: bool,
}

/// The counter a single-arrival mark on `metric` counts its losses in:
/// `<base>_lost`, `<base>` being `metric` without a `_latency` suffix.
pub fn lost_name(metric: &str) -> String {
    format!("{}_lost", metric.strip_suffix("_latency").unwrap_or(metric))
}

/// The metrics a fan-out mark on `metric` feeds besides `metric` itself:
/// (`<base>_complete`, `<base>_delivered`, `<base>_incomplete`), `<base>`
/// being `metric` without a `_latency` suffix.
pub fn fan_out_names(metric: &str) -> [String; 3] {
    let base = metric.strip_suffix("_latency").unwrap_or(metric);
    [
        format!("{base}_complete"),
        format!("{base}_delivered"),
        format!("{base}_incomplete"),
    ]
}

/// Declares the metrics a mark on `metric` feeds (fan-out ones when
/// `expected` > 1); an error names a name already used with another kind.
pub fn declare(metrics: &Metrics, metric: &str, expected: u32) -> Result<(), super::MetricError> {
    metrics.declare(metric, Kind::Trend)?;
    if expected <= 1 {
        metrics.declare(&lost_name(metric), Kind::Counter)?;
    } else {
        let [complete, delivered, incomplete] = fan_out_names(metric);
        metrics.declare(&complete, Kind::Trend)?;
        metrics.declare(&delivered, Kind::Rate)?;
        metrics.declare(&incomplete, Kind::Counter)?;
    }
    Ok(())
}

/// Records one arrival: its latency and, for fan-out, delivery and completion.
pub fn record_arrival(metrics: &Metrics, tags: &Tags, a: &Arrival) {
    metrics.add(&a.metric, Kind::Trend, tags, a.latency.as_micros() as f64);
    if a.fan_out {
        let [complete, delivered, _] = fan_out_names(&a.metric);
        metrics.add(&delivered, Kind::Rate, tags, 1.0);
        if let Some(d) = a.completed {
            metrics.add(&complete, Kind::Trend, tags, d.as_micros() as f64);
        }
    }
}

/// Records events that lost arrivals: a single-arrival event counts in
/// `<base>_lost`; a fan-out event adds one false `_delivered` sample per
/// missing arrival and one `_incomplete`.
pub fn record_incomplete(metrics: &Metrics, gone: &[Incomplete]) {
    let tags = Tags::default();
    for g in gone {
        if !g.fan_out {
            metrics.add(&lost_name(&g.metric), Kind::Counter, &tags, 1.0);
            continue;
        }
        let [_, delivered, incomplete] = fan_out_names(&g.metric);
        for _ in 0..g.missing {
            metrics.add(&delivered, Kind::Rate, &tags, 0.0);
        }
        metrics.add(&incomplete, Kind::Counter, &tags, 1.0);
    }
}

/// The run's open marks, sharded by key so VUs rarely share a lock.
#[derive(Debug)]
pub struct Marks {
    shards: Vec<Mutex<HashMap<String, Mark>>>,
    hasher: RandomState,
    /// How many may be open at once (shared by the shards, so approximate
    /// by at most one per shard).
    limit: usize,
    open: AtomicUsize,
}

impl Default for Marks {
    fn default() -> Self {
        Marks::with_limit(usize::MAX)
    }
}

/// Why a mark was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// As many marks as the limit are open already.
    Full,
    /// The key is longer than [`MAX_KEY`].
    KeyTooLong,
}

/// The longest key a mark may have, in bytes.
pub const MAX_KEY: usize = 1024;

impl Marks {
    /// Marks of which at most `limit` are open at once: guest data must
    /// not grow the engine without a bound.
    pub fn with_limit(limit: usize) -> Self {
        Marks {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            limit,
            open: AtomicUsize::new(0),
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, HashMap<String, Mark>> {
        let i = self.hasher.hash_one(key) as usize % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts event `key` now; its latency goes to trend `metric` on each of
    /// up to `expected` arrivals (0 counts as 1). Re-marking restarts it.
    pub fn mark(&self, metric: &str, key: &str, expected: u32) {
        let _ = self.try_mark(metric, key, expected);
    }

    /// [`Marks::mark`], refused when the limit is reached or the key is
    /// too long.
    pub fn try_mark(&self, metric: &str, key: &str, expected: u32) -> Result<(), Refused> {
        if key.len() > MAX_KEY {
            return Err(Refused::KeyTooLong);
        }
        self.mark_at(metric, key, expected, Instant::now())
    }

    pub fn mark_at(
        &self,
        metric: &str,
        key: &str,
        expected: u32,
        at: Instant,
    ) -> Result<(), Refused> {
        let expected = expected.max(1);
        let mut shard = self.shard(key);
        if let Some(m) = shard.get_mut(key) {
            // Re-marking restarts the event.
            *m = Mark {
                at,
                metric: Arc::from(metric),
                expected,
                remaining: expected,
            };
            return Ok(());
        }
        if self.open.load(Ordering::Relaxed) >= self.limit {
            return Err(Refused::Full);
        }
        self.open.fetch_add(1, Ordering::Relaxed);
        shard.insert(
            key.to_string(),
            Mark {
                at,
                metric: Arc::from(metric),
                expected,
                remaining: expected,
            },
        );
        Ok(())
    }

    /// Drops event `key` without counting it: it never started after all.
    pub fn forget(&self, key: &str) {
        if self.shard(key).remove(key).is_some() {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Event `key` observed now.
    pub fn arrive(&self, key: &str) -> Option<Arrival> {
        let now = Instant::now();
        let mut shard = self.shard(key);
        let mark = shard.get_mut(key)?;
        let latency = now.saturating_duration_since(mark.at);
        mark.remaining -= 1;
        let fan_out = mark.expected > 1;
        let done = mark.remaining == 0;
        let metric = if done {
            self.open.fetch_sub(1, Ordering::Relaxed);
            shard.remove(key).map(|m| m.metric)?
        } else {
            mark.metric.clone()
        };
        Some(Arrival {
            metric,
            latency,
            completed: (done && fan_out).then_some(latency),
            fan_out,
        })
    }

    /// Drops marks older than `ttl`; returns them.
    pub fn expire(&self, ttl: Duration) -> Vec<Incomplete> {
        let now = Instant::now();
        self.drain(|m| now.saturating_duration_since(m.at) >= ttl)
    }

    /// Drops every open mark (the run ended); returns them.
    pub fn finish(&self) -> Vec<Incomplete> {
        self.drain(|_| true)
    }

    fn drain(&self, drop: impl Fn(&Mark) -> bool) -> Vec<Incomplete> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.retain(|_, m| {
                if !drop(m) {
                    return true;
                }
                out.push(Incomplete {
                    metric: m.metric.clone(),
                    missing: m.remaining,
                    fan_out: m.expected > 1,
                });
                self.open.fetch_sub(1, Ordering::Relaxed);
                false
            });
        }
        out
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_out_counts_expected_arrivals() {
        let m = Marks::default();
        m.mark_at(
            "fanout",
            "bid-1",
            3,
            Instant::now() - Duration::from_millis(5),
        )
        .unwrap();
        for i in 0..3 {
            let a = m.arrive("bid-1").unwrap();
            assert_eq!(&*a.metric, "fanout");
            assert!(a.fan_out);
            assert!(a.latency >= Duration::from_millis(5));
            assert_eq!(a.completed.is_some(), i == 2);
        }
        assert!(m.arrive("bid-1").is_none());
        assert!(m.arrive("never").is_none());
        assert_eq!(m.open(), 0);
    }

    #[test]
    fn expire_drops_old_marks() {
        let m = Marks::default();
        m.mark_at("x", "old", 1, Instant::now() - Duration::from_secs(10))
            .unwrap();
        m.mark_at("f", "old-fan", 4, Instant::now() - Duration::from_secs(10))
            .unwrap();
        m.mark("x", "new", 1);
        m.arrive("old-fan").unwrap();
        let mut gone = m.expire(Duration::from_secs(5));
        gone.sort_by(|a, b| a.metric.cmp(&b.metric));
        assert_eq!(
            gone,
            vec![
                Incomplete {
                    metric: "f".into(),
                    missing: 3,
                    fan_out: true
                },
                Incomplete {
                    metric: "x".into(),
                    missing: 1,
                    fan_out: false
                }
            ]
        );
        assert_eq!(m.open(), 1);
        assert_eq!(m.finish().len(), 1);
        assert_eq!(m.open(), 0);
        assert_eq!(lost_name("kafka_e2e_latency"), "kafka_e2e_lost");
    }

    #[test]
    fn single_arrival_marks_are_not_fan_out() {
        let m = Marks::default();
        m.mark("e2e", "k", 0);
        let a = m.arrive("k").unwrap();
        assert!(!a.fan_out && a.completed.is_none());
        assert_eq!(
            fan_out_names("ws_fanout_latency"),
            [
                "ws_fanout_complete".to_string(),
                "ws_fanout_delivered".into(),
                "ws_fanout_incomplete".into()
            ]
        );
        assert_eq!(fan_out_names("bids")[0], "bids_complete");
    }

    #[test]
    fn a_limit_bounds_open_marks_and_long_keys_are_refused() {
        let m = Marks::with_limit(3);
        for k in ["a", "b", "c"] {
            m.try_mark("x", k, 1).unwrap();
        }
        assert_eq!(m.try_mark("x", "d", 1), Err(Refused::Full));
        // Re-marking an open key is no new mark.
        m.try_mark("x", "a", 1).unwrap();
        assert_eq!(m.open(), 3);
        m.arrive("a").unwrap();
        m.try_mark("x", "d", 1).unwrap();
        m.forget("b");
        assert_eq!(m.open(), 2);
        assert_eq!(m.finish().len(), 2);
        assert_eq!(m.open(), 0);
        let long = "k".repeat(MAX_KEY + 1);
        assert_eq!(m.try_mark("x", &long, 1), Err(Refused::KeyTooLong));
    }
}
