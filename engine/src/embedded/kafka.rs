//! The embedded Kafka target: librdkafka's mock cluster (3 brokers, real
//! protocol on loopback) with topics `orders.raw` and `orders.enriched`
//! (32 partitions each), and a demo pipeline: an enricher in consumer group
//! `enricher` that reads `orders.raw`, adds fields to each JSON object and
//! produces it to `orders.enriched` with the same key and headers.
//!
//! The mock cluster's limits (librdkafka 2.12): no CreateTopics,
//! DescribeGroups, ListGroups or timestamp lookups; about 5 MiB of memory per
//! partition; about 3 s before a group's first rebalance.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use serde::Serialize;
use tokio::sync::watch;

pub const RAW_TOPIC: &str = "orders.raw";
pub const ENRICHED_TOPIC: &str = "orders.enriched";
pub const ENRICHER_GROUP: &str = "enricher";
/// The mock cluster keeps only ~5 MiB per partition and drops older
/// messages: 32 partitions hold a million-order backlog (~70 MB raw).
pub const PARTITIONS: i32 = 32;

/// Behaviour of the demo pipeline.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    /// Added before each message is forwarded (a slow consumer: lag grows).
    pub delay: Duration,
    /// Share of messages the enricher drops instead of forwarding (0.0-1.0).
    pub failure_rate: f64,
}

/// What the pipeline did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub processed: u64,
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    processed: AtomicU64,
    dropped: AtomicU64,
}

/// The demo pipeline (the enricher) on some broker.
#[derive(Debug)]
pub struct Pipeline {
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    enricher: tokio::task::JoinHandle<()>,
}

impl Pipeline {
    /// Starts the enricher on the broker at `bootstrap`, whose topics
    /// `orders.raw` and `orders.enriched` exist (see [`create_topics`]).
    pub fn start(bootstrap: &str, opts: PipelineOptions) -> Pipeline {
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = watch::channel(false);
        let enricher = tokio::spawn(enrich(
            bootstrap.to_string(),
            opts,
            counters.clone(),
            stopped,
        ));
        Pipeline {
            counters,
            stop,
            enricher,
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            processed: self.counters.processed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }

    /// Stops the enricher after committing its position and flushing.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.enricher).await;
    }
}

/// The pipeline's topics could not be created on a broker.
#[derive(Debug, thiserror::Error)]
#[error("creating {topic} on {bootstrap}: {source}")]
pub struct TopicError {
    pub bootstrap: String,
    pub topic: String,
    #[source]
    pub source: rdkafka::error::KafkaError,
}

/// Creates `orders.raw` and `orders.enriched` ([`PARTITIONS`] partitions,
/// replication 1) on a broker that lacks them; existing ones are kept.
pub async fn create_topics(bootstrap: &str) -> Result<(), TopicError> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let failed = |topic: &str, source| TopicError {
        bootstrap: bootstrap.to_string(),
        topic: topic.to_string(),
        source,
    };
    let both = format!("{RAW_TOPIC} and {ENRICHED_TOPIC}");
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| failed(&both, e))?;
    let topics: Vec<NewTopic<'_>> = [RAW_TOPIC, ENRICHED_TOPIC]
        .iter()
        .map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&topics, &opts)
        .await
        .map_err(|e| failed(&both, e))?;
    for r in results {
        match r {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => return Err(failed(&t, rdkafka::error::KafkaError::AdminOp(e))),
        }
    }
    Ok(())
}

/// A running mock cluster and its pipeline.
#[derive(Debug)]
pub struct KafkaServer {
    bootstrap: String,
    pipeline: Pipeline,
    cluster: Option<std::thread::JoinHandle<()>>,
    cluster_stop: Option<std::sync::mpsc::Sender<()>>,
}

impl KafkaServer {
    /// `host:port,host:port,host:port`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    pub fn stats(&self) -> Stats {
        self.pipeline.stats()
    }

    pub async fn shutdown(mut self) {
        self.pipeline.shutdown().await;
        if let Some(tx) = self.cluster_stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.cluster.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Starts the mock cluster (on a thread of its own: it is not `Send`) and
/// the enricher.
pub async fn start(opts: PipelineOptions) -> std::io::Result<KafkaServer> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String, String>>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let cluster = std::thread::Builder::new()
        .name("volley-kafka-mock".into())
        .spawn(move || {
            let made = MockCluster::new(3)
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    for topic in [RAW_TOPIC, ENRICHED_TOPIC] {
                        c.create_topic(topic, PARTITIONS, 1)
                            .map_err(|e| format!("creating {topic}: {e}"))?;
                    }
                    Ok(c)
                });
            match made {
                Ok(c) => {
                    let _ = ready_tx.send(Ok(c.bootstrap_servers()));
                    let _ = stop_rx.recv();
                    drop(c);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })?;
    let bootstrap = tokio::task::spawn_blocking(move || ready_rx.recv())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?
        .map_err(|e| std::io::Error::other(format!("mock Kafka cluster: {e}")))?;
    Ok(KafkaServer {
        pipeline: Pipeline::start(&bootstrap, opts),
        bootstrap,
        cluster: Some(cluster),
        cluster_stop: Some(stop_tx),
    })
}

async fn enrich(
    bootstrap: String,
    opts: PipelineOptions,
    c: Arc<Counters>,
    mut stopped: watch::Receiver<bool>,
) {
    let consumer: StreamConsumer = match ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", ENRICHER_GROUP)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
    {
        Ok(c) => c,
        Err(e) => {
            crate::output::log("ERROR", format_args!("ERROR embedded Kafka enricher: {e}"));
            return;
        }
    };
    // Forwarding never waits for an ack: deliveries are counted as they
    // come back (awaiting each one would cap the pipeline at ~1/RTT).
    let producer: ThreadedProducer<Forwarded> = match ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "2")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Forwarded(c.clone()))
    {
        Ok(p) => p,
        Err(e) => {
            crate::output::log("ERROR", format_args!("ERROR embedded Kafka enricher: {e}"));
            return;
        }
    };
    if let Err(e) = consumer.subscribe(&[RAW_TOPIC]) {
        crate::output::log("ERROR", format_args!("ERROR embedded Kafka enricher: {e}"));
        return;
    }
    let mut since_commit = 0u32;
    loop {
        let m = tokio::select! {
            m = consumer.recv() => m,
            _ = stopped.changed() => break,
        };
        let Ok(m) = m else { continue };
        if !opts.delay.is_zero() {
            tokio::time::sleep(opts.delay).await;
        }
        if opts.failure_rate > 0.0 && rand::random::<f64>() < opts.failure_rate {
            c.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            let value = enriched(m.payload().unwrap_or_default(), m.partition(), m.offset());
            let mut record: BaseRecord<'_, [u8], Vec<u8>> =
                BaseRecord::to(ENRICHED_TOPIC).payload(&value);
            if let Some(k) = m.key() {
                record = record.key(k);
            }
            if let Some(h) = m.headers() {
                record = record.headers(h.detach());
            }
            let mut record = record;
            // A full local queue: wait for acks to drain it, then retry.
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                        record = r;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => {
                        crate::output::log(
                            "WARN",
                            format_args!("WARN  embedded Kafka enricher: {e}"),
                        );
                        c.dropped.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        since_commit += 1;
        if since_commit >= 100 {
            since_commit = 0;
            // Every partition's position, not just this message's: the
            // group's lag must reach 0 once everything is processed.
            let _ = consumer.commit_consumer_state(CommitMode::Async);
        }
    }
    // The last commit and flush wait on the broker: off the runtime's
    // workers. Closing the consumer waits for the group to rebalance, which
    // `rdkafka` does without a bound: on a thread of its own.
    let done = tokio::task::spawn_blocking(move || {
        let _ = consumer.commit_consumer_state(CommitMode::Sync);
        let _ = producer.flush(Duration::from_secs(10));
        consumer
    })
    .await;
    if let Ok(consumer) = done {
        let _ = std::thread::Builder::new()
            .name("volley-kafka-close".into())
            .spawn(move || drop(consumer));
    }
}

/// Counts the enricher's deliveries.
struct Forwarded(Arc<Counters>);

impl ClientContext for Forwarded {}

impl ProducerContext for Forwarded {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.processed.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.0.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// The input JSON object with the pipeline's fields added; anything else
/// wrapped as `{"raw": "..."}`.
fn enriched(input: &[u8], partition: i32, offset: i64) -> Vec<u8> {
    let mut v = match serde_json::from_slice::<serde_json::Value>(input) {
        Ok(serde_json::Value::Object(o)) => o,
        _ => {
            let mut o = serde_json::Map::new();
            o.insert(
                "raw".into(),
                String::from_utf8_lossy(input).into_owned().into(),
            );
            o
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    v.insert("enriched_at_ms".into(), now.into());
    v.insert(
        "source".into(),
        format!("{RAW_TOPIC}/{partition}@{offset}").into(),
    );
    serde_json::to_vec(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrichment_keeps_fields_and_adds_its_own() {
        let out: serde_json::Value =
            serde_json::from_slice(&enriched(br#"{"order":7}"#, 2, 41)).unwrap();
        assert_eq!(out["order"], 7);
        assert_eq!(out["source"], "orders.raw/2@41");
        assert!(out["enriched_at_ms"].as_u64().unwrap() > 0);
        let out: serde_json::Value = serde_json::from_slice(&enriched(b"plain", 0, 0)).unwrap();
        assert_eq!(out["raw"], "plain");
    }
}
