//! Correlation marks: an event is marked where it starts and arrives where it
//! is observed, possibly in another VU; the latency is taken on the engine's
//! monotonic clock. Kafka end-to-end and WebSocket fan-out build on this.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SHARDS: usize = 16;

#[derive(Debug)]
struct Mark {
    at: Instant,
    metric: Arc<str>,
    remaining: u32,
}

/// The run's open marks, sharded by key so VUs rarely share a lock.
#[derive(Debug)]
pub struct Marks {
    shards: Vec<Mutex<HashMap<String, Mark>>>,
    hasher: RandomState,
}

impl Default for Marks {
    fn default() -> Self {
        Marks {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Marks {
    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, HashMap<String, Mark>> {
        let i = self.hasher.hash_one(key) as usize % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts event `key` now; its latency goes to trend `metric` on each of
    /// up to `expected` arrivals (0 counts as 1). Re-marking restarts it.
    pub fn mark(&self, metric: &str, key: &str, expected: u32) {
        self.mark_at(metric, key, expected, Instant::now());
    }

    pub fn mark_at(&self, metric: &str, key: &str, expected: u32, at: Instant) {
        self.shard(key).insert(
            key.to_string(),
            Mark {
                at,
                metric: Arc::from(metric),
                remaining: expected.max(1),
            },
        );
    }

    /// Event `key` observed now: the trend to record in and the latency.
    pub fn arrive(&self, key: &str) -> Option<(Arc<str>, Duration)> {
        let now = Instant::now();
        let mut shard = self.shard(key);
        let mark = shard.get_mut(key)?;
        let out = (mark.metric.clone(), now.saturating_duration_since(mark.at));
        mark.remaining -= 1;
        if mark.remaining == 0 {
            shard.remove(key);
        }
        Some(out)
    }

    /// Drops marks older than `ttl`; returns how many never saw all arrivals.
    pub fn expire(&self, ttl: Duration) -> usize {
        let now = Instant::now();
        let mut n = 0;
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.retain(|_, m| {
                let keep = now.saturating_duration_since(m.at) < ttl;
                n += usize::from(!keep);
                keep
            });
        }
        n
    }

    pub fn open(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
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
        );
        for _ in 0..3 {
            let (metric, lat) = m.arrive("bid-1").unwrap();
            assert_eq!(&*metric, "fanout");
            assert!(lat >= Duration::from_millis(5));
        }
        assert!(m.arrive("bid-1").is_none());
        assert!(m.arrive("never").is_none());
        assert_eq!(m.open(), 0);
    }

    #[test]
    fn expire_drops_old_marks() {
        let m = Marks::default();
        m.mark_at("x", "old", 1, Instant::now() - Duration::from_secs(10));
        m.mark("x", "new", 1);
        assert_eq!(m.expire(Duration::from_secs(5)), 1);
        assert_eq!(m.open(), 1);
    }
}
