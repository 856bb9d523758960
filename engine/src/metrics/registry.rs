//! The per-run metrics registry: metric kinds, one shard per worker thread,
//! and the once-a-second merge into the run's aggregate.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use super::MetricError;
use super::aggregate::{Aggregate, MAX_SERIES, overflow_tags};
use super::builtin::Builtin;
use super::first_error::FirstErrors;
use super::tags::Tags;
use super::value::{Kind, Value};

/// One thread's samples since the last merge.
#[derive(Default)]
struct Shard {
    /// Samples recorded by name and tag set.
    named: HashMap<Box<str>, HashMap<Tags, Value, FastHash>, FastHash>,
    /// Samples recorded through a [`SeriesHandle`], at its index: no hashing.
    resolved: Vec<Option<Value>>,
}

/// A built-in metric's series (metric plus tag set) resolved once, for a
/// path that records it many times (a VU's requests): recording through it
/// looks nothing up. Valid for the registry that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesHandle {
    index: u32,
    kind: Kind,
}

/// Every series resolved to a handle; a handle is its index in `list`.
#[derive(Default)]
struct SeriesTable {
    index: HashMap<(Builtin, Tags), u32, FastHash>,
    list: Vec<(Builtin, Tags)>,
    /// Tag sets resolved per metric, bounded like the aggregate's.
    per_metric: HashMap<Builtin, usize, FastHash>,
}

/// Shard keys are short strings hashed on every sample, by the thread that
/// owns the shard: a multiply-rotate hash (FxHash's) beats SipHash here, and
/// no untrusted party chooses the keys' collisions faster than it can
/// create the series themselves.
#[derive(Clone, Copy, Default)]
struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8-byte chunk"));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Custom metric names a run may declare: names come from scenarios.
pub const MAX_CUSTOM_METRICS: usize = 1_000;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A thread's shard of one registry: (registry id, registry, shard).
type LocalShard = (u64, Weak<Inner>, Arc<Mutex<Shard>>);

thread_local! {
    /// This thread's shard of each live registry (normally exactly one).
    static LOCAL: RefCell<Vec<LocalShard>> = const { RefCell::new(Vec::new()) };
}

struct Inner {
    id: u64,
    start: Instant,
    kinds: RwLock<HashMap<String, Kind>>,
    series: RwLock<SeriesTable>,
    shards: Mutex<Vec<Arc<Mutex<Shard>>>>,
    total: Mutex<Aggregate>,
    /// Metrics whose tag sets overflowed, each reported once.
    overflowed: Mutex<Vec<String>>,
    /// First failure messages, copied into the aggregate at each merge.
    first_errors: Mutex<FirstErrors>,
}

/// A run's metrics. Cheap to clone; every clone writes to the same run.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("id", &self.inner.id)
            .finish()
    }
}

/// What one merge produced.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Time since the registry was created.
    pub elapsed: Duration,
    /// Samples recorded since the previous merge.
    pub interval: Aggregate,
    /// Metrics whose tag sets overflowed for the first time in this merge.
    pub overflowed: Vec<String>,
}

fn record(shard: &mut Shard, name: &str, kind: Kind, tags: &Tags, sample: f64, at_us: u64) {
    let named = &mut shard.named;
    let by_tags = match named.get_mut(name) {
        Some(m) => m,
        None => named.entry(name.into()).or_default(),
    };
    if let Some(v) = by_tags.get_mut(tags) {
        v.add(sample, at_us);
        return;
    }
    // A shard holds one second of samples: bounded like the aggregate.
    let tags = if by_tags.len() >= MAX_SERIES {
        overflow_tags()
    } else {
        tags
    };
    match by_tags.get_mut(tags) {
        Some(v) => v.add(sample, at_us),
        None => {
            let mut v = Value::new(kind);
            v.add(sample, at_us);
            by_tags.insert(tags.clone(), v);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every built-in metric declared.
    pub fn new() -> Self {
        let kinds = Builtin::ALL
            .iter()
            .map(|b| (b.name().to_string(), b.kind()))
            .collect();
        Metrics {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                start: Instant::now(),
                kinds: RwLock::new(kinds),
                series: RwLock::default(),
                shards: Mutex::new(Vec::new()),
                total: Mutex::new(Aggregate::default()),
                overflowed: Mutex::default(),
                first_errors: Mutex::default(),
            }),
        }
    }

    /// When the registry was created: the zero of the run's clock.
    pub fn start(&self) -> Instant {
        self.inner.start
    }

    /// Declares a custom metric. Declaring the same name with another kind is
    /// an error naming both kinds.
    pub fn declare(&self, name: &str, kind: Kind) -> Result<(), MetricError> {
        let mismatch = |declared: Kind| MetricError::KindMismatch {
            name: name.to_string(),
            declared,
            used: kind,
        };
        if let Some(k) = self.kind_of(name) {
            return if k == kind { Ok(()) } else { Err(mismatch(k)) };
        }
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(MetricError::BadName(name.to_string()));
        }
        let mut kinds = self.inner.kinds.write().unwrap_or_else(|e| e.into_inner());
        if !kinds.contains_key(name) && kinds.len() >= Builtin::ALL.len() + MAX_CUSTOM_METRICS {
            return Err(MetricError::TooMany(name.to_string()));
        }
        let k = *kinds.entry(name.to_string()).or_insert(kind);
        if k != kind {
            return Err(mismatch(k));
        }
        Ok(())
    }

    pub fn kind_of(&self, name: &str) -> Option<Kind> {
        self.inner
            .kinds
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
    }

    /// Records one sample of a built-in metric on this thread's shard.
    pub fn builtin(&self, metric: Builtin, tags: &Tags, sample: f64) {
        self.add(metric.name(), metric.kind(), tags, sample);
    }

    /// Records one failure of a built-in metric (a sample of 1) and keeps
    /// `message` if it is the first for this series. The message is only
    /// formatted for a new series, and a busy lock skips it (another
    /// failure is being noted; a later one will be): failing fast never
    /// waits here.
    pub fn failure(&self, metric: Builtin, tags: &Tags, message: &dyn std::fmt::Display) {
        self.builtin(metric, tags, 1.0);
        if let Ok(mut firsts) = self.inner.first_errors.try_lock()
            && !firsts.settled(metric.name(), tags)
        {
            firsts.insert(metric.name(), tags, &message.to_string());
        }
    }

    /// Records one sample on this thread's shard. `kind` must be the declared
    /// kind of `name` (hosts check once via [`Metrics::declare`]).
    pub fn add(&self, name: &str, kind: Kind, tags: &Tags, sample: f64) {
        let at_us = self.gauge_time(kind);
        self.with_shard(|shard| record(shard, name, kind, tags, sample, at_us));
    }

    /// Records several built-in samples under one shard lock (a request's or
    /// an iteration's worth).
    pub fn builtins(&self, samples: &[(Builtin, &Tags, f64)]) {
        // The clock only when a gauge needs it: this is a per-message path.
        let at_us = match samples.iter().any(|(m, _, _)| m.kind() == Kind::Gauge) {
            true => self.gauge_time(Kind::Gauge),
            false => 0,
        };
        self.with_shard(|shard| {
            for (metric, tags, sample) in samples {
                record(shard, metric.name(), metric.kind(), tags, *sample, at_us);
            }
        });
    }

    /// The handle of `metric`'s series with `tags`, made on first use. Past
    /// [`MAX_SERIES`] tag sets of one metric, its overflow series.
    pub fn series(&self, metric: Builtin, tags: &Tags) -> SeriesHandle {
        let handle = |index| SeriesHandle {
            index,
            kind: metric.kind(),
        };
        let key = (metric, tags.clone());
        if let Some(&i) = self.read_series().index.get(&key) {
            return handle(i);
        }
        let mut table = self.inner.series.write().unwrap_or_else(|e| e.into_inner());
        let count = table.per_metric.get(&metric).copied().unwrap_or(0);
        let key = match count >= MAX_SERIES && !table.index.contains_key(&key) {
            true => (metric, overflow_tags().clone()),
            false => key,
        };
        if let Some(&i) = table.index.get(&key) {
            return handle(i);
        }
        let i = u32::try_from(table.list.len()).expect("series are bounded per metric");
        *table.per_metric.entry(metric).or_default() += 1;
        table.list.push(key.clone());
        table.index.insert(key, i);
        handle(i)
    }

    fn read_series(&self) -> std::sync::RwLockReadGuard<'_, SeriesTable> {
        self.inner.series.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one sample on each series under one shard lock, without a
    /// lookup (a request's worth).
    pub fn record_series(&self, samples: &[(SeriesHandle, f64)]) {
        self.record_series_n(samples.iter().map(|&(series, sample)| (series, sample, 1)));
    }

    /// [`Metrics::record_series`] for samples made as they are recorded (a
    /// batch of delivery reports), each with how many times it occurred;
    /// `samples` must not record.
    pub fn record_series_n(&self, samples: impl IntoIterator<Item = (SeriesHandle, f64, u64)>) {
        let mut gauge_at = None;
        self.with_shard(|shard| {
            for (series, sample, n) in samples {
                let at_us = match series.kind {
                    Kind::Gauge => *gauge_at.get_or_insert_with(|| self.gauge_time(Kind::Gauge)),
                    _ => 0,
                };
                let i = series.index as usize;
                if shard.resolved.len() <= i {
                    shard.resolved.resize_with(i + 1, || None);
                }
                shard.resolved[i]
                    .get_or_insert_with(|| Value::new(series.kind))
                    .add_n(sample, n, at_us);
            }
        });
    }

    fn gauge_time(&self, kind: Kind) -> u64 {
        if kind == Kind::Gauge {
            self.inner.start.elapsed().as_micros() as u64
        } else {
            0
        }
    }

    /// Runs `f` on this thread's shard, locked (the merge is the only other
    /// taker). `f` must not record: the thread's shard list is borrowed.
    fn with_shard(&self, f: impl FnOnce(&mut Shard)) {
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            let at = match local.iter().position(|(id, _, _)| *id == self.inner.id) {
                Some(at) => at,
                None => {
                    local.retain(|(_, w, _)| w.strong_count() > 0);
                    let s = Arc::new(Mutex::new(Shard::default()));
                    self.inner
                        .shards
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(s.clone());
                    local.push((self.inner.id, Arc::downgrade(&self.inner), s));
                    local.len() - 1
                }
            };
            f(&mut local[at].2.lock().unwrap_or_else(|e| e.into_inner()));
        });
    }

    /// Merges every shard into the run's aggregate and returns what arrived
    /// since the previous merge. Called once a second and at the end.
    pub fn collect(&self) -> Snapshot {
        let shards: Vec<_> = self
            .inner
            .shards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut interval = Aggregate::default();
        for shard in shards {
            let (named, resolved) = {
                let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
                // The handles' slots stay allocated: the same series come back.
                let resolved: Vec<_> = shard.resolved.iter_mut().map(Option::take).collect();
                (std::mem::take(&mut shard.named), resolved)
            };
            for (name, by_tags) in named {
                for (tags, v) in by_tags {
                    interval.merge_value(&name, &tags, &v);
                }
            }
            let table = self.read_series();
            for (i, v) in resolved.into_iter().enumerate() {
                if let Some(v) = v {
                    let (metric, tags) = &table.list[i];
                    interval.merge_value(metric.name(), tags, &v);
                }
            }
        }
        interval.first_errors = self
            .inner
            .first_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let overflowed = self
            .inner
            .total
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .merge(&interval);
        let mut seen = self
            .inner
            .overflowed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let overflowed: Vec<String> = overflowed
            .into_iter()
            .filter(|m| !seen.contains(m))
            .collect();
        seen.extend(overflowed.iter().cloned());
        Snapshot {
            elapsed: self.inner.start.elapsed(),
            interval,
            overflowed,
        }
    }

    /// Runs `f` on the aggregate as of the last [`Metrics::collect`].
    pub fn with_total<R>(&self, f: impl FnOnce(&Aggregate) -> R) -> R {
        f(&self.inner.total.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A copy of the aggregate as of the last [`Metrics::collect`].
    pub fn total(&self) -> Aggregate {
        self.with_total(Aggregate::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_from_many_threads_merge_exactly() {
        let m = Metrics::new();
        let tags = Tags::new([("scenario", "s")]);
        std::thread::scope(|s| {
            for t in 0..4 {
                let m = m.clone();
                let tags = tags.clone();
                s.spawn(move || {
                    for i in 0..1000u64 {
                        m.builtin(Builtin::Iterations, &tags, 1.0);
                        m.builtin(Builtin::IterationDuration, &tags, (t * 1000 + i) as f64);
                    }
                });
            }
        });
        let snap = m.collect();
        assert_eq!(snap.interval.counter("iterations"), 4000.0);
        let total = m.total();
        match total.metrics["iteration_duration"].total() {
            Value::Trend(t) => {
                assert_eq!(t.count, 4000);
                assert_eq!(t.min, 0);
                assert_eq!(t.max, 3999);
            }
            other => panic!("{other:?}"),
        }
        // A second collect sees nothing new but keeps the total.
        assert!(m.collect().interval.metrics.is_empty());
        assert_eq!(m.total().counter("iterations"), 4000.0);
    }

    #[test]
    fn declare_rejects_kind_conflicts() {
        let m = Metrics::new();
        assert!(m.declare("my_trend", Kind::Trend).is_ok());
        assert!(m.declare("my_trend", Kind::Trend).is_ok());
        let err = m.declare("my_trend", Kind::Counter).unwrap_err();
        assert!(err.to_string().contains("trend"), "{err}");
        assert!(m.declare("http_reqs", Kind::Trend).is_err());
        assert!(m.declare("bad name", Kind::Counter).is_err());
        for i in 0..MAX_CUSTOM_METRICS - 1 {
            m.declare(&format!("m{i}"), Kind::Counter).unwrap();
        }
        let err = m.declare("one_too_many", Kind::Counter).unwrap_err();
        assert!(
            err.to_string().contains("at most 1000 custom metrics"),
            "{err}"
        );
        // Names already declared stay usable.
        m.declare("m0", Kind::Counter).unwrap();
    }

    #[test]
    fn series_handles_record_into_the_named_series() {
        let m = Metrics::new();
        let tags = Tags::new([("name", "home")]);
        let reqs = m.series(Builtin::HttpReqs, &tags);
        assert_eq!(reqs, m.series(Builtin::HttpReqs, &tags));
        let duration = m.series(Builtin::HttpReqDuration, &tags);
        for round in 0..2 {
            m.record_series(&[(reqs, 1.0), (duration, 5.0)]);
            m.builtin(Builtin::HttpReqs, &tags, 1.0);
            assert_eq!(m.collect().interval.counter("http_reqs"), 2.0, "{round}");
        }
        let total = m.total();
        assert_eq!(total.counter("http_reqs"), 4.0);
        match total.metrics["http_req_duration"].by_tags[&tags] {
            Value::Trend(ref t) => assert_eq!((t.count, t.max), (2, 5)),
            ref other => panic!("{other:?}"),
        }
        // Tag sets past the bound share the overflow series' handle.
        for i in 0..MAX_SERIES {
            m.series(Builtin::HttpReqs, &Tags::new([("id", i.to_string())]));
        }
        let late = m.series(Builtin::HttpReqs, &Tags::new([("id", "late")]));
        assert_eq!(late, m.series(Builtin::HttpReqs, overflow_tags()));
        assert_eq!(reqs, m.series(Builtin::HttpReqs, &tags));
    }

    #[test]
    fn two_registries_on_one_thread_stay_apart() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.builtin(Builtin::Iterations, &Tags::default(), 1.0);
        b.builtin(Builtin::Iterations, &Tags::default(), 2.0);
        a.collect();
        b.collect();
        assert_eq!(a.total().counter("iterations"), 1.0);
        assert_eq!(b.total().counter("iterations"), 2.0);
    }

    #[test]
    fn tag_sets_beyond_the_bound_go_to_one_overflow_series() {
        let m = Metrics::new();
        m.declare("flood", Kind::Counter).unwrap();
        for round in 0..2 {
            for i in 0..MAX_SERIES + 500 {
                let tags = Tags::new([("id", format!("{round}-{i}"))]);
                m.add("flood", Kind::Counter, &tags, 1.0);
            }
            let snap = m.collect();
            // Reported once, at the merge where it first happened.
            let want: &[&str] = if round == 0 { &["flood"] } else { &[] };
            assert_eq!(snap.overflowed, want);
        }
        let total = m.total();
        let series = &total.metrics["flood"];
        let kept = series.by_tags.len() - 1;
        assert!((MAX_SERIES - 1..=MAX_SERIES).contains(&kept), "{kept}");
        // Nothing is lost: every sample is counted somewhere.
        let all = 2.0 * (MAX_SERIES + 500) as f64;
        assert_eq!(total.counter("flood"), all);
        match &series.by_tags[overflow_tags()] {
            Value::Counter { sum } => assert_eq!(*sum, all - kept as f64),
            other => panic!("{other:?}"),
        }
    }
}
