//! Kafka end-to-end tracking (`[[track]]`). When a scenario produces to a
//! tracked input topic, the engine makes sure the message carries a
//! correlation id and marks it, on the run's correlation marks, just before
//! the enqueue; an engine-owned consumer on the output topic ([`Tail`])
//! matches each id it reads on the engine's monotonic clock.
//!
//! Owns `kafka_e2e_latency`, `kafka_tracked_seen`, `_lost`, `_duplicates`,
//! `_unmatched`, the optional samples CSV and histogram, and the `until`
//! goal's counts. It produces nothing and knows nothing of wasm: the host
//! calls [`Tracker::stamp`] on the way out, the run starts and stops the
//! consumers.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::metrics::{Builtin, Marks, Metrics, Tags};
use crate::output::format::thousands;
use crate::plan::{IdSource, Track};
use crate::protocol::Allowlist;
use crate::protocol::kafka::{Config, Incoming, Outgoing, Tail};

const LATENCY: &str = "kafka_e2e_latency";

/// The run's trackers, one per `[[track]]`.
#[derive(Debug, Default)]
pub struct Trackers {
    list: Vec<Arc<Tracker>>,
}

impl Trackers {
    /// Trackers for `tracks`; `client` gives each one's Kafka target's
    /// client settings (its brokers and the runner's properties).
    pub fn new(
        tracks: &[Track],
        client: impl Fn(&str) -> Option<Config>,
        mark_timeout: Duration,
    ) -> Result<Trackers, String> {
        let mut list = Vec::new();
        for t in tracks {
            let config = client(&t.target).ok_or_else(|| {
                format!(
                    "track `{}` -> `{}`: target `{}` is not a Kafka target (write kafka://host:port or embedded:kafka)",
                    t.input, t.output, t.target
                )
            })?;
            list.push(Arc::new(Tracker::new(t.clone(), config, mark_timeout)));
        }
        Ok(Trackers { list })
    }

    pub fn all(&self) -> &[Arc<Tracker>] {
        &self.list
    }

    /// The tracker of messages produced to `topic`, if it is tracked.
    pub fn for_input(&self, topic: &str) -> Option<&Arc<Tracker>> {
        self.list.iter().find(|t| t.spec.input == topic)
    }

    /// A delivery failed: its message will never arrive and is no loss of
    /// the pipeline's (it counts in `kafka_produce_failed`).
    pub fn forget(&self, topic: &str, id: &str) {
        if let Some(t) = self.for_input(topic) {
            t.forget(id);
        }
    }
}

/// One input -> output pair.
#[derive(Debug)]
pub struct Tracker {
    pub spec: Track,
    config: Config,
    marks: Marks,
    /// Prefix of ids the engine makes: unique to this run.
    nonce: String,
    next: AtomicU64,
    seen: AtomicU64,
    lost: AtomicU64,
    duplicates: AtomicU64,
    unmatched: AtomicU64,
    mark_timeout: Duration,
    tags: Tags,
}

impl Tracker {
    fn new(spec: Track, config: Config, mark_timeout: Duration) -> Tracker {
        let nonce = format!("{:08x}", RandomState::new().hash_one(Instant::now()) as u32);
        let tags = Tags::new([("topic", spec.output.as_str())]);
        Tracker {
            config,
            marks: Marks::default(),
            nonce,
            next: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            unmatched: AtomicU64::new(0),
            mark_timeout,
            tags,
            spec,
        }
    }

    /// Makes sure `m` carries a correlation id, marks it now, and returns
    /// it (also set as `m.tracked`). None when the id source is a JSON field
    /// the value lacks: the message goes out untracked.
    pub fn stamp(&self, m: &mut Outgoing) -> Option<Arc<str>> {
        let id: String = match &self.spec.id {
            IdSource::Header(name) => match m.headers.iter().find(|(k, _)| k == name) {
                Some((_, v)) => String::from_utf8_lossy(v).into_owned(),
                None => {
                    let id = self.fresh_id();
                    m.headers.push((name.clone(), id.as_bytes().to_vec()));
                    id
                }
            },
            IdSource::Key => match &m.key {
                Some(k) => String::from_utf8_lossy(k).into_owned(),
                None => {
                    let id = self.fresh_id();
                    m.key = Some(id.as_bytes().to_vec());
                    id
                }
            },
            IdSource::Json(field) => json_id(&m.value, field)?,
        };
        self.marks.mark(LATENCY, &id, 1);
        let id: Arc<str> = id.into();
        m.tracked = Some(id.clone());
        Some(id)
    }

    fn fresh_id(&self) -> String {
        format!(
            "{}-{}",
            self.nonce,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The message with `id` was not produced after all.
    pub fn forget(&self, id: &str) {
        self.marks.forget(id);
    }

    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Marked and not yet seen (nor counted lost).
    pub fn in_flight(&self) -> usize {
        self.marks.open()
    }

    /// Whether `until` (if any) is reached.
    pub fn reached(&self) -> bool {
        self.spec.until.is_none_or(|n| self.seen() >= n)
    }

    /// `orders.raw -> orders.enriched`
    pub fn name(&self) -> String {
        format!("{} -> {}", self.spec.input, self.spec.output)
    }

    /// One line for the progress output.
    pub fn progress(&self) -> String {
        let goal = self
            .spec
            .until
            .map(|n| format!(" of {}", thousands(n)))
            .unwrap_or_default();
        format!(
            "track {}: {}{goal} seen, {} in flight, {} lost, {} duplicates",
            self.name(),
            thousands(self.seen()),
            thousands(self.in_flight() as u64),
            thousands(self.lost()),
            thousands(self.duplicates())
        )
    }

    fn record_lost(&self, metrics: &Metrics, n: usize) {
        if n > 0 {
            self.lost.fetch_add(n as u64, Ordering::Relaxed);
            metrics.builtin(Builtin::KafkaTrackedLost, &self.tags, n as f64);
        }
    }

    /// The id `m` carries; borrowed from it unless it sits in JSON (this
    /// runs once per message on the output topic).
    fn id_of<'m>(&self, m: &'m Incoming) -> Option<std::borrow::Cow<'m, str>> {
        match &self.spec.id {
            IdSource::Header(name) => m
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(v)),
            IdSource::Key => m.key.as_deref().map(String::from_utf8_lossy),
            IdSource::Json(field) => json_id(&m.value, field).map(Into::into),
        }
    }
}

/// A top-level field of a JSON object, as text (strings unquoted).
fn json_id(value: &[u8], field: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(value).ok()?;
    match v.get(field)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Ids seen lately, to tell a duplicate from a stranger. Two generations
/// of `mark_timeout` each bound the memory to what arrives in that time.
struct Recent {
    hasher: RandomState,
    now: HashSet<u64>,
    before: HashSet<u64>,
    rotated: Instant,
    every: Duration,
}

impl Recent {
    fn new(every: Duration) -> Recent {
        Recent {
            hasher: RandomState::new(),
            now: HashSet::new(),
            before: HashSet::new(),
            rotated: Instant::now(),
            every,
        }
    }

    fn insert(&mut self, id: &str) {
        if self.rotated.elapsed() >= self.every {
            self.before = std::mem::take(&mut self.now);
            self.rotated = Instant::now();
        }
        self.now.insert(self.hasher.hash_one(id));
    }

    fn contains(&self, id: &str) -> bool {
        let h = self.hasher.hash_one(id);
        self.now.contains(&h) || self.before.contains(&h)
    }
}

/// Every latency sample as a CSV row, and the histogram at the end.
struct Samples {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    histogram: hdrhistogram::Histogram<u64>,
}

impl Samples {
    fn create(path: &Path) -> std::io::Result<Samples> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        writeln!(out, "seen_ms,latency_us,partition,offset,id")?;
        Ok(Samples {
            path: path.to_path_buf(),
            out,
            // 1 µs to an hour; later arrivals saturate at the hour.
            histogram: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("valid bounds"),
        })
    }

    fn add(&mut self, since_start: Duration, latency: Duration, m: &Incoming, id: &str) {
        let us = latency.as_micros() as u64;
        self.histogram.saturating_record(us);
        // A failing disk must not stop the tracking; the error shows at finish.
        let _ = writeln!(
            self.out,
            "{},{us},{},{},{id}",
            since_start.as_millis(),
            m.partition,
            m.offset
        );
    }

    /// Flushes the CSV and writes `<stem>.hgrm` beside it (HdrHistogram's
    /// percentile distribution, in ms); returns the histogram's path.
    fn finish(mut self) -> std::io::Result<PathBuf> {
        self.out.flush()?;
        let hgrm = self.path.with_extension("hgrm");
        crate::output::write_percentiles(&hgrm, &self.histogram)?;
        Ok(hgrm)
    }
}

/// A tracker's consumer, running on a thread of its own.
/// Dropped without [`Watch::finish`] (a run that failed to start), it
/// still stops its thread.
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<Option<PathBuf>, String>>>,
    tracker: Arc<Tracker>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Tracker {
    /// Opens the consumer on the output topic at its current end (blocking:
    /// call before anything is produced) and starts matching.
    pub fn watch(
        self: &Arc<Self>,
        allow: &Allowlist,
        metrics: &Metrics,
        start: Instant,
    ) -> Result<Watch, String> {
        let tail = Tail::open(allow, &self.config, &self.spec.output).map_err(|e| {
            format!(
                "track {}: cannot read `{}` on {}: {e}",
                self.name(),
                self.spec.output,
                self.config.bootstrap
            )
        })?;
        let mut samples = match &self.spec.samples {
            Some(path) => Some(Samples::create(path).map_err(|e| {
                format!(
                    "track {}: samples file {}: {e}",
                    self.name(),
                    path.display()
                )
            })?),
            None => None,
        };
        // Declared at zero so thresholds on them always find them.
        for b in [Builtin::KafkaTrackedSeen, Builtin::KafkaTrackedLost] {
            metrics.builtin(b, &self.tags, 0.0);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (me, metrics, stop) = (self.clone(), metrics.clone(), stop.clone());
            std::thread::Builder::new()
                .name("volley-track".into())
                .spawn(move || {
                    me.consume(&tail, &metrics, &stop, start, samples.as_mut());
                    samples
                        .map(Samples::finish)
                        .transpose()
                        .map_err(|e| format!("track {}: samples: {e}", me.name()))
                })
                .map_err(|e| format!("track: starting its consumer thread: {e}"))?
        };
        Ok(Watch {
            stop,
            thread: Some(thread),
            tracker: self.clone(),
        })
    }

    fn consume(
        &self,
        tail: &Tail,
        metrics: &Metrics,
        stop: &AtomicBool,
        start: Instant,
        mut samples: Option<&mut Samples>,
    ) {
        let mut recent = Recent::new(self.mark_timeout);
        let mut last_expiry = Instant::now();
        let mut warned = false;
        while !stop.load(Ordering::Relaxed) {
            if last_expiry.elapsed() >= Duration::from_secs(1) {
                last_expiry = Instant::now();
                self.record_lost(metrics, self.marks.expire(self.mark_timeout).len());
            }
            let m = match tail.poll(Duration::from_millis(100)) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => {
                    if !warned {
                        warned = true;
                        crate::output::log(
                            "WARN",
                            format_args!("WARN  track {}: {e}", self.name()),
                        );
                    }
                    continue;
                }
            };
            let id = self.id_of(&m);
            match id.as_deref().map(|id| (id, self.marks.arrive(id))) {
                Some((id, Some(a))) => {
                    self.seen.fetch_add(1, Ordering::Relaxed);
                    metrics.builtins(&[
                        (
                            Builtin::KafkaE2eLatency,
                            &self.tags,
                            a.latency.as_micros() as f64,
                        ),
                        (Builtin::KafkaTrackedSeen, &self.tags, 1.0),
                    ]);
                    recent.insert(id);
                    if let Some(s) = samples.as_deref_mut() {
                        s.add(start.elapsed(), a.latency, &m, id);
                    }
                }
                Some((id, None)) if recent.contains(id) => {
                    self.duplicates.fetch_add(1, Ordering::Relaxed);
                    metrics.builtin(Builtin::KafkaTrackedDuplicates, &self.tags, 1.0);
                }
                _ => {
                    self.unmatched.fetch_add(1, Ordering::Relaxed);
                    metrics.builtin(Builtin::KafkaTrackedUnmatched, &self.tags, 1.0);
                }
            }
        }
    }
}

impl Watch {
    pub fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }

    /// Stops the consumer; every id still open is lost. Returns the
    /// histogram file written beside the samples, if any.
    pub(super) fn finish(mut self, metrics: &Metrics) -> Result<Option<PathBuf>, String> {
        self.stop.store(true, Ordering::Relaxed);
        let written = match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| format!("track {}: its consumer panicked", self.tracker.name()))?,
            None => Ok(None),
        };
        let open = self.tracker.marks.finish().len();
        self.tracker.record_lost(metrics, open);
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(id: IdSource) -> Tracker {
        Tracker::new(
            Track {
                target: "kafka".into(),
                input: "in".into(),
                output: "out".into(),
                id,
                until: Some(2),
                timeout: None,
                grace: Duration::from_secs(1),
                samples: None,
            },
            Config {
                bootstrap: "127.0.0.1:9092".into(),
                properties: vec![],
            },
            Duration::from_secs(60),
        )
    }

    fn incoming(m: &Outgoing) -> Incoming {
        Incoming {
            topic: "out".into(),
            partition: 0,
            offset: 0,
            key: m.key.clone(),
            value: m.value.clone(),
            headers: m.headers.clone(),
            timestamp_ms: None,
        }
    }

    #[test]
    fn header_ids_are_stamped_unless_the_scenario_set_one() {
        let t = tracker(IdSource::Header("volley-id".into()));
        let mut a = Outgoing::default();
        let id = t.stamp(&mut a).unwrap();
        assert_eq!(
            a.headers,
            vec![("volley-id".into(), id.as_bytes().to_vec())]
        );
        assert_eq!(a.tracked.as_deref(), Some(&*id));
        let mut b = Outgoing {
            headers: vec![("volley-id".into(), b"mine".to_vec())],
            ..Default::default()
        };
        assert_eq!(t.stamp(&mut b).as_deref(), Some("mine"));
        assert_eq!(b.headers.len(), 1);
        assert_ne!(t.stamp(&mut Outgoing::default()), Some(id.clone()));
        assert_eq!(t.in_flight(), 3);
        assert_eq!(t.id_of(&incoming(&a)).as_deref(), Some(&*id));
        t.forget("mine");
        assert_eq!(t.in_flight(), 2);
        assert!(!t.reached());
    }

    #[test]
    fn key_and_json_ids() {
        let t = tracker(IdSource::Key);
        let mut m = Outgoing {
            key: Some(b"order-7".to_vec()),
            ..Default::default()
        };
        assert_eq!(t.stamp(&mut m).as_deref(), Some("order-7"));
        let mut keyless = Outgoing::default();
        let id = t.stamp(&mut keyless).unwrap();
        assert_eq!(keyless.key.as_deref(), Some(id.as_bytes()));

        let t = tracker(IdSource::Json("order_id".into()));
        let mut m = Outgoing {
            value: br#"{"order_id": 42, "amount": 5}"#.to_vec(),
            ..Default::default()
        };
        assert_eq!(t.stamp(&mut m).as_deref(), Some("42"));
        // Enriched on the way: other fields change, the id stays.
        let mut seen = incoming(&m);
        seen.value = br#"{"amount": 5, "order_id": 42, "tax": 1}"#.to_vec();
        assert_eq!(t.id_of(&seen).as_deref(), Some("42"));
        let mut none = Outgoing {
            value: b"not json".to_vec(),
            ..Default::default()
        };
        assert_eq!(t.stamp(&mut none), None);
        assert_eq!(t.in_flight(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seen_duplicates_and_strangers_are_told_apart() {
        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        cluster.create_topic("t", 2, 1).unwrap();
        let allow = Allowlist::parse(&["127.0.0.1"]).unwrap();
        let mut spec = tracker(IdSource::Header("volley-id".into())).spec;
        (spec.input, spec.output, spec.until) = ("t".into(), "t".into(), None);
        let t = Arc::new(Tracker::new(
            spec,
            Config {
                bootstrap: cluster.bootstrap_servers(),
                properties: vec![],
            },
            Duration::from_secs(60),
        ));
        let metrics = Metrics::new();
        let watch = {
            let (t, allow, metrics) = (t.clone(), allow.clone(), metrics.clone());
            tokio::task::spawn_blocking(move || t.watch(&allow, &metrics, Instant::now()))
                .await
                .unwrap()
                .unwrap()
        };
        let client = crate::protocol::kafka::KafkaClient::new(allow, Arc::new(|_: &_, _: &_| {}));
        let producer = client.producer(&t.config).unwrap();
        let mut once = Outgoing {
            topic: "t".into(),
            ..Default::default()
        };
        t.stamp(&mut once);
        let mut twice = Outgoing {
            topic: "t".into(),
            ..Default::default()
        };
        t.stamp(&mut twice);
        let stranger = Outgoing {
            topic: "t".into(),
            headers: vec![("volley-id".into(), b"not-ours".to_vec())],
            ..Default::default()
        };
        let never = t.stamp(&mut Outgoing::default()).unwrap();
        for m in [once, twice.clone(), twice, stranger] {
            producer.produce(m).unwrap();
        }
        producer.flush(Duration::from_secs(10)).await.unwrap();
        for _ in 0..100 {
            if t.seen() == 2 && t.duplicates() == 1 && t.unmatched.load(Ordering::Relaxed) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let metrics2 = metrics.clone();
        tokio::task::spawn_blocking(move || watch.finish(&metrics2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((t.seen(), t.duplicates(), t.lost()), (2, 1, 1), "{never}");
        metrics.collect();
        let total = metrics.total();
        let count = |name: &str| match total.metrics.get(name).map(|s| s.total()) {
            Some(crate::metrics::Value::Counter { sum }) => sum,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(count("kafka_tracked_unmatched"), 1.0);
        assert_eq!(count("kafka_tracked_lost"), 1.0);
    }

    #[test]
    fn recent_ids_survive_one_rotation() {
        let mut r = Recent::new(Duration::ZERO);
        r.insert("a");
        r.insert("b");
        assert!(r.contains("a") && r.contains("b"));
        r.insert("c");
        assert!(!r.contains("a"));
    }
}
