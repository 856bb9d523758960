//! `kafka` import: producers and consumers as guest resources over
//! `protocol::kafka`, and the built-in Kafka metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::Resource;

use super::VuState;
use crate::metrics::{Builtin, Metrics, Sent, Tags, Timeline};
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
    let by_topic = TopicTags::default();
    Arc::new(move |d: &Delivery| {
        if let Some(sent) = d.timeline {
            let class = d.result.as_ref().err().map(|e| timeline_class(e.class));
            timeline.end(sent, d.ack, class);
        }
        let tags = by_topic.get(&d.topic);
        match &d.result {
            Ok(_) => metrics.builtins(&[
                (
                    Builtin::KafkaProduceAck,
                    &tags,
                    d.ack.as_micros() as u64 as f64,
                ),
                (Builtin::KafkaBytesProduced, &tags, d.bytes as f64),
            ]),
            Err(e) => {
                if let Some(id) = &d.tracked {
                    tracks.forget(&d.topic, id);
                }
                let tags = tags.with([("class", e.class.as_str())]);
                metrics.failure(Builtin::KafkaProduceFailed, &tags, e);
            }
        }
    })
}

/// Each topic's tags, built once: reports arrive per message on
/// librdkafka's thread. A topic is mostly found by its producer's shared
/// copy of the name, so usually without comparing names.
#[derive(Default)]
struct TopicTags(std::sync::Mutex<Vec<(Arc<str>, Tags)>>);

/// Topics whose tags [`TopicTags`] keeps; past this, it starts over.
const MAX_TOPIC_TAGS: usize = 256;

impl TopicTags {
    fn get(&self, topic: &Arc<str>) -> Tags {
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let found = known
            .iter()
            .find(|(t, _)| Arc::ptr_eq(t, topic))
            .or_else(|| known.iter().find(|(t, _)| t == topic));
        if let Some((_, tags)) = found {
            return tags.clone();
        }
        if known.len() >= MAX_TOPIC_TAGS {
            known.clear();
        }
        let tags = Tags::new([("topic", &**topic)]);
        known.push((topic.clone(), tags.clone()));
        tags
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

impl VuState {
    /// This VU's scenario tags plus `topic`, built once per topic.
    fn topic_tags(&mut self, topic: &str) -> Tags {
        if let Some((_, t)) = self
            .instance
            .kafka_tags
            .iter()
            .find(|(name, _)| name == topic)
        {
            return t.clone();
        }
        let t = self.scenario.tags.with([("topic", topic)]);
        self.instance
            .kafka_tags
            .push((topic.to_string(), t.clone()));
        t
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

    /// `m` starts a request on `target`'s timeline; its delivery report
    /// ends it.
    fn start_on_timeline(&self, m: &mut proto::Outgoing, target: Option<Sent>) {
        if let Some(sent) = target {
            self.shared.timeline.start(sent);
            m.timeline = Some(sent);
        }
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
        let tags = self.topic_tags(topic);
        self.shared
            .metrics
            .builtin(Builtin::KafkaProduced, &tags, 1.0);
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

impl HostProducer for VuState {
    fn open(
        &mut self,
        c: ClientConfig,
    ) -> wasmtime::Result<Result<Resource<KafkaProducer>, KafkaError>> {
        let target = self
            .shared
            .timeline
            .target_of(&format!("kafka://{}", c.bootstrap));
        let made = self
            .shared
            .kafka
            .guest_config(c.bootstrap, c.properties)
            .and_then(|c| self.shared.kafka.producer(&c));
        Ok(match made {
            Ok(p) => Ok(self.instance.table.push(KafkaProducer(p, target))?),
            Err(e) => Err(to_wit(e)),
        })
    }

    fn produce(
        &mut self,
        r: Resource<KafkaProducer>,
        m: wit::Outgoing,
    ) -> wasmtime::Result<Result<(), KafkaError>> {
        let mut m = self.outgoing(m);
        // Tags now, so the message (and its topic) can move into librdkafka
        // without a copy: this is the per-message path.
        let tags = self.topic_tags(&m.topic);
        let tracked = m.tracked.clone();
        let KafkaProducer(producer, target) = self.instance.table.get(&r)?;
        let (producer, target) = (producer.clone(), *target);
        self.start_on_timeline(&mut m, target);
        Ok(match producer.produce_owned(m) {
            Ok(()) => {
                self.shared
                    .metrics
                    .builtin(Builtin::KafkaProduced, &tags, 1.0);
                Ok(())
            }
            Err((e, topic)) => {
                self.abandon_on_timeline(target);
                self.not_sent(&topic, tracked.as_deref());
                self.produce_failed(&topic, &e);
                Err(to_wit(e))
            }
        })
    }

    fn send_batch(
        &mut self,
        r: Resource<KafkaProducer>,
        messages: Vec<wit::Outgoing>,
    ) -> wasmtime::Result<Result<(), wit::BatchError>> {
        let KafkaProducer(producer, target) = self.instance.table.get(&r)?;
        let (producer, target) = (producer.clone(), *target);
        let mut batch = producer.batch();
        // `kafka_produced` once per run of messages to one topic, not once
        // per message: a batch usually goes to one topic.
        let mut run: Option<(String, Tags, f64)> = None;
        let mut failed = None;
        for (i, m) in messages.into_iter().enumerate() {
            let mut m = self.outgoing(m);
            if run.as_ref().is_none_or(|(topic, _, _)| *topic != m.topic) {
                if let Some((_, tags, n)) = run.take() {
                    self.shared
                        .metrics
                        .builtin(Builtin::KafkaProduced, &tags, n);
                }
                run = Some((m.topic.clone(), self.topic_tags(&m.topic), 0.0));
            }
            let tracked = m.tracked.clone();
            self.start_on_timeline(&mut m, target);
            match batch.produce(m) {
                Ok(()) => {
                    if let Some((_, _, n)) = run.as_mut() {
                        *n += 1.0;
                    }
                }
                Err((e, topic)) => {
                    self.abandon_on_timeline(target);
                    self.not_sent(&topic, tracked.as_deref());
                    self.produce_failed(&topic, &e);
                    failed = Some((i as u32, e));
                    break;
                }
            }
        }
        if let Some((_, tags, n)) = run
            && n > 0.0
        {
            self.shared
                .metrics
                .builtin(Builtin::KafkaProduced, &tags, n);
        }
        Ok(match failed {
            None => Ok(()),
            Some((enqueued, e)) => Err(wit::BatchError {
                enqueued,
                error: to_wit(e),
            }),
        })
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
        self.start_on_timeline(&mut m, target);
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

impl HostConsumer for VuState {
    fn subscribe(
        &mut self,
        c: ClientConfig,
        group: String,
        topics: Vec<String>,
    ) -> wasmtime::Result<Result<Resource<KafkaConsumer>, KafkaError>> {
        let kafka = &self.shared.kafka;
        let made = kafka
            .guest_config(c.bootstrap, c.properties)
            .and_then(|c| kafka.subscribe(&c, &group, &topics));
        Ok(match made {
            Ok(c) => Ok(self.instance.table.push(KafkaConsumer(c))?),
            Err(e) => Err(to_wit(e)),
        })
    }

    fn assign(
        &mut self,
        c: ClientConfig,
        topic: String,
        partitions: Vec<i32>,
        from: wit::Position,
    ) -> wasmtime::Result<Result<Resource<KafkaConsumer>, KafkaError>> {
        let kafka = &self.shared.kafka;
        let made = kafka
            .guest_config(c.bootstrap, c.properties)
            .and_then(|c| kafka.assign(&c, &topic, &partitions, position(from)));
        Ok(match made {
            Ok(c) => Ok(self.instance.table.push(KafkaConsumer(c))?),
            Err(e) => Err(to_wit(e)),
        })
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

    fn commit(&mut self, r: Resource<KafkaConsumer>) -> wasmtime::Result<Result<(), KafkaError>> {
        Ok(self.instance.table.get(&r)?.0.commit().map_err(to_wit))
    }

    fn seek(
        &mut self,
        r: Resource<KafkaConsumer>,
        topic: String,
        partition: i32,
        to: wit::Position,
    ) -> wasmtime::Result<Result<(), KafkaError>> {
        Ok(self
            .instance
            .table
            .get(&r)?
            .0
            .seek(&topic, partition, position(to))
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
        Ok(())
    }
}

impl Host for VuState {}
