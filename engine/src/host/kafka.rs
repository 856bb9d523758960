//! `kafka` import: producers and consumers as guest resources over
//! `protocol::kafka`, and the built-in Kafka metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentType, Lift, Resource, WasmList, WasmStr};

use super::VuState;
use crate::metrics::{Builtin, Metrics, Sent, SeriesHandle, Tags, Timeline};
use crate::protocol::kafka::track::Trackers;
use crate::protocol::kafka::{self as proto, Delivery, ErrorClass, OnDelivery, Position};
use crate::wasm::bindings::volley::scenario::kafka::{
    self as wit, ClientConfig, ErrorClass as WitClass, Host, HostConsumer, HostProducer, KafkaError,
};

/// A guest's producer: the run's shared producer for its configuration,
/// and the plan target its bootstrap list names (its messages are timed on
/// that target's timeline).
pub struct KafkaProducer(proto::Producer, Option<Sent>);

/// A guest's consumer.
pub struct KafkaConsumer(proto::Consumer);

/// Records every delivery report: `kafka_produce_ack` and
/// `kafka_bytes_produced`, or `kafka_produce_failed{class}` (and a failed
/// tracked message is no longer awaited).
pub fn kafka_deliveries(
    metrics: &Metrics,
    tracks: Arc<Trackers>,
    timeline: Arc<Timeline>,
) -> OnDelivery {
    let metrics = metrics.clone();
    let by_topic = TopicSeries::default();
    Arc::new(move |topic: &Arc<str>, reports: &[Delivery]| {
        // The acks go in under one shard access, a run of equal times
        // (a batch enqueued together, acked together) as one sample.
        let acked = || reports.iter().filter(|d| d.result.is_ok());
        if acked().next().is_some() {
            let (ack, bytes) = by_topic.with(&metrics, topic, |t| (t.ack, t.bytes));
            let total: usize = acked().map(|d| d.bytes).sum();
            let times = runs(acked().map(|d| d.ack.as_micros() as u64));
            metrics.record_series_n(times.map(|(us, n)| (ack, us as f64, n)).chain([(
                bytes,
                total as f64,
                1,
            )]));
        }
        for d in reports {
            if let Some(sent) = d.timeline {
                let class = d.result.as_ref().err().map(|e| timeline_class(e.class));
                timeline.end(sent, d.ack, class);
            }
            if let Err(e) = &d.result {
                if let Some(id) = &d.tracked {
                    tracks.forget(topic, id);
                }
                let tags = by_topic.with(&metrics, topic, |t| {
                    t.tags.with([("class", e.class.as_str())])
                });
                metrics.failure(Builtin::KafkaProduceFailed, &tags, e);
            }
        }
    })
}

/// `values` as runs of equal values: each value and how many times in a
/// row it came.
fn runs(values: impl Iterator<Item = u64>) -> impl Iterator<Item = (u64, u64)> {
    let mut values = values.peekable();
    std::iter::from_fn(move || {
        let v = values.next()?;
        let mut n = 1;
        while values.next_if_eq(&v).is_some() {
            n += 1;
        }
        Some((v, n))
    })
}

/// A topic's tags and its acked series, resolved once.
struct TopicSeriesOf {
    name: Arc<str>,
    tags: Tags,
    ack: SeriesHandle,
    bytes: SeriesHandle,
}

/// Each topic's series, resolved once: reports arrive by the thousand on
/// the producer's poll thread. A topic is mostly found by its producer's shared
/// copy of the name, so usually without comparing names.
#[derive(Default)]
struct TopicSeries(std::sync::Mutex<Vec<TopicSeriesOf>>);

/// Topics whose series [`TopicSeries`] keeps; past this, it starts over.
const MAX_TOPIC_SERIES: usize = 256;

impl TopicSeries {
    /// `f` of `topic`'s series, resolved on first use.
    fn with<R>(
        &self,
        metrics: &Metrics,
        topic: &Arc<str>,
        f: impl FnOnce(&TopicSeriesOf) -> R,
    ) -> R {
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let found = known
            .iter()
            .find(|t| Arc::ptr_eq(&t.name, topic))
            .or_else(|| known.iter().find(|t| t.name == *topic));
        if let Some(t) = found {
            return f(t);
        }
        if known.len() >= MAX_TOPIC_SERIES {
            known.clear();
        }
        let tags = Tags::new([("topic", &**topic)]);
        let t = TopicSeriesOf {
            name: topic.clone(),
            ack: metrics.series(Builtin::KafkaProduceAck, &tags),
            bytes: metrics.series(Builtin::KafkaBytesProduced, &tags),
            tags,
        };
        let r = f(&t);
        known.push(t);
        r
    }
}

/// A failed delivery's class on its target's timeline: a timeout is one;
/// the rest of Kafka's classes are `other` there.
fn timeline_class(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::Timeout => "timeout",
        _ => "other",
    }
}

fn wit_class(c: ErrorClass) -> WitClass {
    match c {
        ErrorClass::Timeout => WitClass::Timeout,
        ErrorClass::QueueFull => WitClass::QueueFull,
        ErrorClass::UnknownTopic => WitClass::UnknownTopic,
        ErrorClass::TooLarge => WitClass::TooLarge,
        ErrorClass::Auth => WitClass::Auth,
        ErrorClass::Transport => WitClass::Transport,
        ErrorClass::Config => WitClass::Config,
        ErrorClass::NotAllowed => WitClass::NotAllowed,
        ErrorClass::GroupActive | ErrorClass::Other => WitClass::Other,
    }
}

fn to_wit(e: proto::Error) -> KafkaError {
    KafkaError {
        class: wit_class(e.class),
        message: e.message,
    }
}

fn outgoing(m: wit::Outgoing) -> proto::Outgoing {
    proto::Outgoing {
        topic: m.topic,
        key: m.key,
        value: m.value,
        headers: m.headers.into_iter().map(|h| (h.key, h.value)).collect(),
        partition: m.partition,
        timestamp_ms: m.timestamp_ms,
        tracked: None,
        timeline: None,
    }
}

fn position(p: wit::Position) -> Position {
    match p {
        wit::Position::Earliest => Position::Earliest,
        wit::Position::Latest => Position::Latest,
        wit::Position::Offset(o) => Position::Offset(o),
        wit::Position::Timestamp(t) => Position::Timestamp(t),
    }
}

/// A topic an instance used: its scenario tags plus `topic`, and its
/// `kafka_produced` series, made once.
pub struct TopicTags {
    name: String,
    tags: Tags,
    produced: SeriesHandle,
}

impl VuState {
    /// `topic`'s tags and series, made on first use.
    fn topic(&mut self, topic: &str) -> &TopicTags {
        let known = &mut self.instance.kafka_topics;
        let at = match known.iter().position(|t| t.name == topic) {
            Some(at) => at,
            None => {
                let tags = self.scenario.tags.with([("topic", topic)]);
                known.push(TopicTags {
                    name: topic.to_string(),
                    produced: self.shared.metrics.series(Builtin::KafkaProduced, &tags),
                    tags,
                });
                known.len() - 1
            }
        };
        &known[at]
    }

    /// This VU's scenario tags plus `topic`.
    fn topic_tags(&mut self, topic: &str) -> Tags {
        self.topic(topic).tags.clone()
    }

    /// `m` as it goes out: stamped with a correlation id if its topic is
    /// tracked.
    fn outgoing(&self, m: wit::Outgoing) -> proto::Outgoing {
        let mut m = outgoing(m);
        if let Some(t) = self.shared.tracks.for_input(&m.topic) {
            t.stamp(&mut m);
        }
        m
    }

    /// A message starts a request on `target`'s timeline; its delivery
    /// report ends it. What the message carries back for that.
    fn start_on_timeline(&self, target: Option<Sent>) -> Option<Sent> {
        if let Some(sent) = target {
            self.shared.timeline.start(sent);
        }
        target
    }

    /// A message the engine refused (queue full, not allowed) never reached
    /// its target: off the timeline again.
    fn abandon_on_timeline(&self, target: Option<Sent>) {
        if let Some(sent) = target {
            self.shared.timeline.abandon(sent);
        }
    }

    /// A tracked message that did not go out is not awaited.
    fn not_sent(&self, topic: &str, tracked: Option<&str>) {
        if let Some(id) = tracked {
            self.shared.tracks.forget(topic, id);
        }
    }

    fn produced(&mut self, topic: &str) {
        let series = self.topic(topic).produced;
        self.shared.metrics.record_series(&[(series, 1.0)]);
    }

    fn produce_failed(&self, topic: &str, e: &proto::Error) {
        let tags = self
            .scenario
            .tags
            .with([("topic", topic), ("class", e.class.as_str())]);
        self.shared
            .metrics
            .failure(Builtin::KafkaProduceFailed, &tags, e);
    }
}

/// Where a `send-batch` call is: the producer's batch, and the run of
/// messages to one topic whose `kafka_produced` is recorded once (a batch
/// usually goes to one topic).
struct TopicRun<'p> {
    batch: proto::Batch<'p>,
    target: Option<Sent>,
    topic: String,
    produced: Option<SeriesHandle>,
    sent: f64,
}

impl<'p> TopicRun<'p> {
    fn new(batch: proto::Batch<'p>, target: Option<Sent>) -> Self {
        TopicRun {
            batch,
            target,
            topic: String::new(),
            produced: None,
            sent: 0.0,
        }
    }

    /// Whether the run is one of messages to `topic`.
    fn is_on(&self, topic: &str) -> bool {
        self.produced.is_some() && self.topic == topic
    }

    /// The next message goes to `topic`, another than the run's.
    fn switch_to(&mut self, vu: &mut VuState, topic: &str) {
        self.end(vu);
        self.topic.clear();
        self.topic.push_str(topic);
        self.produced = Some(vu.topic(topic).produced);
    }

    /// Records the run's `kafka_produced`.
    fn end(&mut self, vu: &VuState) {
        if let Some(series) = self.produced
            && self.sent > 0.0
        {
            vu.shared.metrics.record_series(&[(series, self.sent)]);
        }
        self.sent = 0.0;
    }

    /// Enqueues `m` (to the run's topic), stamped if its topic is tracked.
    fn send_owned(&mut self, vu: &VuState, m: wit::Outgoing) -> Result<(), KafkaError> {
        let mut m = vu.outgoing(m);
        let tracked = m.tracked.clone();
        m.timeline = vu.start_on_timeline(self.target);
        match self.batch.produce(m) {
            Ok(()) => {
                self.sent += 1.0;
                Ok(())
            }
            Err((e, topic)) => Err(self.failed(vu, &topic, tracked.as_deref(), e)),
        }
    }

    /// Enqueues `m` (to the run's topic, neither tracked nor with headers)
    /// from where it lies.
    fn send_plain(&mut self, vu: &VuState, mut m: proto::Plain<'_>) -> Result<(), KafkaError> {
        m.timeline = vu.start_on_timeline(self.target);
        match self.batch.produce_plain(&m) {
            Ok(()) => {
                self.sent += 1.0;
                Ok(())
            }
            Err(e) => Err(self.failed(vu, m.topic, None, e)),
        }
    }

    fn failed(
        &self,
        vu: &VuState,
        topic: &str,
        tracked: Option<&str>,
        e: proto::Error,
    ) -> KafkaError {
        vu.abandon_on_timeline(self.target);
        vu.not_sent(topic, tracked);
        vu.produce_failed(topic, &e);
        to_wit(e)
    }
}

/// `outgoing` as it lies in the guest's memory: lifted without a copy.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct OutgoingInPlace {
    topic: WasmStr,
    key: Option<WasmList<u8>>,
    value: WasmList<u8>,
    headers: WasmList<wit::Header>,
    partition: Option<i32>,
    #[component(name = "timestamp-ms")]
    timestamp_ms: Option<i64>,
}

impl OutgoingInPlace {
    /// A copy, for what the in-place path does not take (headers, a
    /// tracked topic).
    fn owned(
        &self,
        store: &mut StoreContextMut<'_, VuState>,
        topic: &str,
    ) -> wasmtime::Result<wit::Outgoing> {
        Ok(wit::Outgoing {
            topic: topic.to_string(),
            key: self.key.as_ref().map(|k| k.as_le_slice(&*store).to_vec()),
            value: self.value.as_le_slice(&*store).to_vec(),
            headers: self
                .headers
                .iter(&mut *store)?
                .collect::<wasmtime::Result<_>>()?,
            partition: self.partition,
            timestamp_ms: self.timestamp_ms,
        })
    }
}

thread_local! {
    /// `send_batch_in_place`'s list of views, kept between calls.
    static VIEWS: std::cell::Cell<Vec<OutgoingInPlace>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The longest list of views a thread keeps (about 200 bytes each).
const MAX_KEPT_VIEWS: usize = 4096;

/// `[method]producer.send-batch` as guests call it: each message's topic,
/// key and value go to librdkafka (which copies them once) from the
/// guest's memory. The generated binding would first copy every topic and
/// value into the host, two allocations per message on the produce
/// benchmark's hot path.
pub fn send_batch_in_place(
    mut store: StoreContextMut<'_, VuState>,
    (r, messages): (Resource<KafkaProducer>, WasmList<OutgoingInPlace>),
) -> wasmtime::Result<(Result<(), wit::BatchError>,)> {
    // The views go in this thread's scratch list (the call never awaits),
    // so a batch allocates nothing.
    let mut views = VIEWS.take();
    views.clear();
    for v in messages.iter(&mut store)? {
        views.push(v?);
    }
    let KafkaProducer(producer, target) = store.data().instance.table.get(&r)?;
    let (producer, target) = (producer.clone(), *target);
    let mut run = TopicRun::new(producer.batch(), target);
    let sent = send_in_place(&mut store, &mut run, &views);
    // What was enqueued is counted even if a message trapped.
    run.end(store.data());
    if views.capacity() <= MAX_KEPT_VIEWS {
        views.clear();
        VIEWS.set(views);
    }
    let stopped = sent?.err().map(|(i, error)| wit::BatchError {
        enqueued: i as u32,
        error,
    });
    Ok((stopped.map_or(Ok(()), Err),))
}

/// `[method]producer.produce` as guests call it: as
/// [`send_batch_in_place`], for one message.
pub fn produce_in_place(
    mut store: StoreContextMut<'_, VuState>,
    (r, message): (Resource<KafkaProducer>, OutgoingInPlace),
) -> wasmtime::Result<(Result<(), KafkaError>,)> {
    let KafkaProducer(producer, target) = store.data().instance.table.get(&r)?;
    let (producer, target) = (producer.clone(), *target);
    let mut run = TopicRun::new(producer.batch(), target);
    let sent = send_in_place(&mut store, &mut run, std::slice::from_ref(&message));
    run.end(store.data());
    Ok((sent?.map_err(|(_, e)| e),))
}

/// Enqueues `views` in order; the index and error of the first that could
/// not be.
fn send_in_place(
    store: &mut StoreContextMut<'_, VuState>,
    run: &mut TopicRun<'_>,
    views: &[OutgoingInPlace],
) -> wasmtime::Result<Result<(), (usize, KafkaError)>> {
    for (i, v) in views.iter().enumerate() {
        let topic = v.topic.to_str(&*store)?;
        if !run.is_on(&topic) {
            let topic = topic.into_owned();
            run.switch_to(store.data_mut(), &topic);
        }
        let tracked = store.data().shared.tracks.for_input(&run.topic).is_some();
        let sent = if tracked || v.headers.len() > 0 {
            let m = v.owned(store, &run.topic)?;
            run.send_owned(store.data(), m)
        } else {
            let topic = std::mem::take(&mut run.topic);
            let m = proto::Plain {
                topic: &topic,
                key: v.key.as_ref().map(|k| k.as_le_slice(&*store)),
                value: v.value.as_le_slice(&*store),
                partition: v.partition,
                timestamp_ms: v.timestamp_ms,
                timeline: None,
            };
            let sent = run.send_plain(store.data(), m);
            run.topic = topic;
            sent
        };
        if let Err(e) = sent {
            return Ok(Err((i, e)));
        }
    }
    Ok(Ok(()))
}

impl HostProducer for VuState {
    async fn open(
        &mut self,
        c: ClientConfig,
    ) -> wasmtime::Result<Result<Resource<KafkaProducer>, KafkaError>> {
        let target = self
            .shared
            .timeline
            .target_of(&format!("kafka://{}", c.bootstrap));
        let kafka = self.shared.kafka.clone();
        let made = match kafka.guest_config(c.bootstrap, c.properties) {
            Ok(c) => match kafka.made_producer(&c) {
                Some(p) => Ok(p),
                None => proto::off_worker(move || kafka.producer(&c)).await,
            },
            Err(e) => Err(e),
        };
        Ok(match made {
            Ok(p) => Ok(self.instance.table.push(KafkaProducer(p, target))?),
            Err(e) => Err(to_wit(e)),
        })
    }

    fn produce(
        &mut self,
        _: Resource<KafkaProducer>,
        _: wit::Outgoing,
    ) -> wasmtime::Result<Result<(), KafkaError>> {
        // `add_to_linker` registers `produce_in_place` over this.
        Err(wasmtime::Error::msg(
            "kafka produce is served by produce_in_place; host::add_to_linker registers it",
        ))
    }

    fn send_batch(
        &mut self,
        _: Resource<KafkaProducer>,
        _: Vec<wit::Outgoing>,
    ) -> wasmtime::Result<Result<(), wit::BatchError>> {
        // `add_to_linker` registers `send_batch_in_place` over this: the
        // messages are read where the guest has them, never copied first.
        Err(wasmtime::Error::msg(
            "kafka send-batch is served by send_batch_in_place; host::add_to_linker registers it",
        ))
    }

    async fn produce_wait(
        &mut self,
        r: Resource<KafkaProducer>,
        m: wit::Outgoing,
    ) -> wasmtime::Result<Result<wit::Delivery, KafkaError>> {
        let mut m = self.outgoing(m);
        let (topic, tracked) = (m.topic.clone(), m.tracked.clone());
        let KafkaProducer(producer, target) = self.instance.table.get(&r)?;
        let (producer, target) = (producer.clone(), *target);
        m.timeline = self.start_on_timeline(target);
        let result = producer.produce_wait(m).await;
        let result = result.and_then(|d| {
            let (partition, offset) = d.result?;
            Ok(wit::Delivery {
                partition,
                offset,
                ack_us: d.ack.as_micros() as u64,
            })
        });
        Ok(match result {
            Ok(d) => {
                self.produced(&topic);
                Ok(d)
            }
            Err(e) => {
                // A failed delivery report was recorded by the callback.
                if e.class == ErrorClass::QueueFull || e.class == ErrorClass::NotAllowed {
                    self.abandon_on_timeline(target);
                    self.not_sent(&topic, tracked.as_deref());
                    self.produce_failed(&topic, &e);
                }
                Err(to_wit(e))
            }
        })
    }

    async fn flush(
        &mut self,
        r: Resource<KafkaProducer>,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<(), KafkaError>> {
        let producer = self.instance.table.get(&r)?.0.clone();
        Ok(producer
            .flush(Duration::from_millis(timeout_ms as u64))
            .await
            .map_err(to_wit))
    }

    fn drop(&mut self, r: Resource<KafkaProducer>) -> wasmtime::Result<()> {
        // The producer itself is the run's and outlives this handle.
        self.instance.table.delete(r)?;
        Ok(())
    }
}

/// Consumers one VU may hold at once: each is a librdkafka client with its
/// own threads and connections (and in a group, a member the group
/// rebalances for), so a scenario that never dropped them would make them
/// without end.
pub const MAX_CONSUMERS: usize = 64;

impl VuState {
    /// The error for a consumer this VU may not make now, if any.
    fn consumer_bound(&self, call: &str) -> Option<KafkaError> {
        (self.instance.consumers >= MAX_CONSUMERS).then(|| KafkaError {
            class: WitClass::Config,
            message: format!(
                "{call}: this VU holds {MAX_CONSUMERS} Kafka consumers; make one and poll it for the whole VU, and drop each it is done with"
            ),
        })
    }

    fn push_consumer(
        &mut self,
        made: Result<proto::Consumer, proto::Error>,
    ) -> wasmtime::Result<Result<Resource<KafkaConsumer>, KafkaError>> {
        Ok(match made {
            Ok(c) => {
                let r = self.instance.table.push(KafkaConsumer(c))?;
                self.instance.consumers += 1;
                Ok(r)
            }
            Err(e) => Err(to_wit(e)),
        })
    }
}

impl HostConsumer for VuState {
    async fn subscribe(
        &mut self,
        c: ClientConfig,
        group: String,
        topics: Vec<String>,
    ) -> wasmtime::Result<Result<Resource<KafkaConsumer>, KafkaError>> {
        if let Some(e) = self.consumer_bound("subscribe") {
            return Ok(Err(e));
        }
        let kafka = self.shared.kafka.clone();
        let made = match kafka.guest_config(c.bootstrap, c.properties) {
            Ok(c) => proto::off_worker(move || kafka.subscribe(&c, &group, &topics)).await,
            Err(e) => Err(e),
        };
        self.push_consumer(made)
    }

    async fn assign(
        &mut self,
        c: ClientConfig,
        topic: String,
        partitions: Vec<i32>,
        from: wit::Position,
    ) -> wasmtime::Result<Result<Resource<KafkaConsumer>, KafkaError>> {
        if let Some(e) = self.consumer_bound("assign") {
            return Ok(Err(e));
        }
        let kafka = self.shared.kafka.clone();
        let from = position(from);
        let made = match kafka.guest_config(c.bootstrap, c.properties) {
            Ok(c) => proto::off_worker(move || kafka.assign(&c, &topic, &partitions, from)).await,
            Err(e) => Err(e),
        };
        self.push_consumer(made)
    }

    async fn poll(
        &mut self,
        r: Resource<KafkaConsumer>,
        max: u32,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<Vec<wit::Incoming>, KafkaError>> {
        let started = Instant::now();
        let c = &self.instance.table.get(&r)?.0;
        let result = c
            .poll(max as usize, Duration::from_millis(timeout_ms as u64))
            .await;
        let waited = started.elapsed().as_micros() as f64;
        let messages = match result {
            Ok(m) => m,
            Err(e) => return Ok(Err(to_wit(e))),
        };
        let metrics = self.shared.metrics.clone();
        metrics.builtin(Builtin::KafkaPollWait, &self.scenario.tags, waited);
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            let tags = self.topic_tags(&m.topic);
            let bytes = m.value.len() + m.key.as_ref().map_or(0, Vec::len);
            metrics.builtins(&[
                (Builtin::KafkaConsumed, &tags, 1.0),
                (Builtin::KafkaBytesConsumed, &tags, bytes as f64),
            ]);
            out.push(wit::Incoming {
                topic: m.topic,
                partition: m.partition,
                offset: m.offset,
                key: m.key,
                value: m.value,
                headers: m
                    .headers
                    .into_iter()
                    .map(|(key, value)| wit::Header { key, value })
                    .collect(),
                timestamp_ms: m.timestamp_ms,
            });
        }
        Ok(Ok(out))
    }

    async fn commit(
        &mut self,
        r: Resource<KafkaConsumer>,
    ) -> wasmtime::Result<Result<(), KafkaError>> {
        let c = &self.instance.table.get(&r)?.0;
        Ok(c.commit().await.map_err(to_wit))
    }

    async fn seek(
        &mut self,
        r: Resource<KafkaConsumer>,
        topic: String,
        partition: i32,
        to: wit::Position,
    ) -> wasmtime::Result<Result<(), KafkaError>> {
        let c = &self.instance.table.get(&r)?.0;
        Ok(c.seek(&topic, partition, position(to))
            .await
            .map_err(to_wit))
    }

    fn pause(
        &mut self,
        r: Resource<KafkaConsumer>,
        topic: String,
        partitions: Vec<i32>,
    ) -> wasmtime::Result<Result<(), KafkaError>> {
        Ok(self
            .instance
            .table
            .get(&r)?
            .0
            .pause(&topic, &partitions)
            .map_err(to_wit))
    }

    fn resume(
        &mut self,
        r: Resource<KafkaConsumer>,
        topic: String,
        partitions: Vec<i32>,
    ) -> wasmtime::Result<Result<(), KafkaError>> {
        Ok(self
            .instance
            .table
            .get(&r)?
            .0
            .resume(&topic, &partitions)
            .map_err(to_wit))
    }

    fn drop(&mut self, r: Resource<KafkaConsumer>) -> wasmtime::Result<()> {
        self.instance.table.delete(r)?;
        self.instance.consumers -= 1;
        Ok(())
    }
}

impl Host for VuState {}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_count_equal_values_in_a_row() {
        let got: Vec<_> = runs([5, 5, 5, 2, 5, 5, 9].into_iter()).collect();
        assert_eq!(got, [(5, 3), (2, 1), (5, 2), (9, 1)]);
        assert_eq!(runs(std::iter::empty()).count(), 0);
    }
}
