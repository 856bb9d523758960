//! Kafka clients over librdkafka. Producers are shared per configuration
//! (librdkafka batches across every VU using one) and report each delivery,
//! with its enqueue time, to a callback the owner gives; consumers poll in
//! batches. Plain Rust: no wasmtime types, no metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as RdHeader, Headers, Message as _, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::oneshot;

use super::Allowlist;

mod properties;
pub use properties::{Target, check_guest};

/// Why a Kafka call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Timeout,
    QueueFull,
    UnknownTopic,
    TooLarge,
    Auth,
    Transport,
    Config,
    NotAllowed,
    /// An offset reset on a group that has members (admin calls only).
    GroupActive,
    Other,
}

impl ErrorClass {
    /// The `class` tag value on `kafka_produce_failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::QueueFull => "queue_full",
            ErrorClass::UnknownTopic => "unknown_topic",
            ErrorClass::TooLarge => "too_large",
            ErrorClass::Auth => "auth",
            ErrorClass::Transport => "transport",
            ErrorClass::Config => "config",
            ErrorClass::NotAllowed => "not_allowed",
            ErrorClass::GroupActive => "group_active",
            ErrorClass::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub class: ErrorClass,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.class.as_str())
    }
}

fn classify(e: &KafkaError) -> Error {
    use RDKafkaErrorCode as C;
    let class = match e.rdkafka_error_code() {
        Some(C::MessageTimedOut | C::RequestTimedOut | C::OperationTimedOut) => ErrorClass::Timeout,
        Some(C::QueueFull) => ErrorClass::QueueFull,
        Some(C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition) => {
            ErrorClass::UnknownTopic
        }
        Some(C::MessageSizeTooLarge | C::InvalidMessageSize) => ErrorClass::TooLarge,
        Some(C::Authentication | C::SaslAuthenticationFailed | C::SSL) => ErrorClass::Auth,
        Some(C::BrokerTransportFailure | C::AllBrokersDown | C::NetworkException) => {
            ErrorClass::Transport
        }
        _ if matches!(
            e,
            KafkaError::ClientCreation(_) | KafkaError::ClientConfig(..)
        ) =>
        {
            ErrorClass::Config
        }
        _ => ErrorClass::Other,
    };
    Error {
        class,
        message: e.to_string(),
    }
}

/// Client settings: bootstrap servers plus librdkafka properties.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Config {
    pub bootstrap: String,
    pub properties: Vec<(String, String)>,
}

impl Config {
    fn client(&self, allow: &Allowlist) -> Result<ClientConfig, Error> {
        for server in self.bootstrap.split(',').map(str::trim) {
            let (host, port) = server.rsplit_once(':').unwrap_or((server, "9092"));
            let port: u16 = port.parse().map_err(|_| Error {
                class: ErrorClass::Config,
                message: format!("bootstrap `{server}`: write host:port"),
            })?;
            if !allow.permits(host, port) {
                return Err(Error {
                    class: ErrorClass::NotAllowed,
                    message: format!(
                        "{host}:{port} is not an allowed host: add it to the plan's targets or pass --allow-host {host}:{port}"
                    ),
                });
            }
        }
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        Ok(c)
    }
}

/// How long a new client waits for the cluster's broker list.
const ADVERTISED_TIMEOUT: Duration = Duration::from_secs(5);

/// Refuses a client whose cluster advertises a broker off the allowlist:
/// the bootstrap list was checked, but brokers name their peers themselves,
/// and librdkafka would connect to them when it first needs them (it
/// connects sparsely, so none is reached before this returns). A cluster
/// that does not answer in time is let through: its clients learn no
/// broker until it does, and their calls fail on their own.
fn check_advertised<C: ClientContext>(
    client: &rdkafka::client::Client<C>,
    allow: &Allowlist,
    bootstrap: &str,
) -> Result<(), Error> {
    let Ok(meta) = client.fetch_metadata(None, ADVERTISED_TIMEOUT) else {
        return Ok(());
    };
    for b in meta.brokers() {
        let port = u16::try_from(b.port()).unwrap_or(0);
        if !allow.permits(b.host(), port) {
            return Err(Error {
                class: ErrorClass::NotAllowed,
                message: format!(
                    "the Kafka cluster at {bootstrap} advertises broker {} at {}:{}, which is not an allowed host: add it to the plan's Kafka target or pass --allow-host {}:{}",
                    b.id(),
                    b.host(),
                    b.port(),
                    b.host(),
                    b.port()
                ),
            });
        }
    }
    Ok(())
}

/// `properties` followed by those of the target serving `bootstrap`.
pub fn with_runner(
    mut properties: Vec<(String, String)>,
    targets: &[Target],
    bootstrap: &str,
) -> Vec<(String, String)> {
    if let Some(t) = targets.iter().find(|t| t.serves(bootstrap)) {
        properties.extend(t.properties.iter().cloned());
    }
    properties
}

/// One produced message.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub partition: Option<i32>,
    pub timestamp_ms: Option<i64>,
    /// A correlation id the owner wants back in the delivery report.
    pub tracked: Option<Arc<str>>,
}

/// One consumed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: Option<i64>,
}

/// What a delivery report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub topic: String,
    pub bytes: usize,
    /// Enqueue to ack.
    pub ack: Duration,
    pub result: Result<(i32, i64), Error>,
    /// The message's [`Outgoing::tracked`].
    pub tracked: Option<Arc<str>>,
}

/// Called on librdkafka's thread for every delivery report.
pub type OnDelivery = Arc<dyn Fn(&Delivery) + Send + Sync>;

/// Carried through librdkafka with each message.
struct Pending {
    enqueued: Instant,
    bytes: usize,
    tracked: Option<Arc<str>>,
    waiter: Option<oneshot::Sender<Delivery>>,
}

struct Reports(OnDelivery);

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, p: Box<Pending>) {
        let (topic, result) = match result {
            Ok(m) => (m.topic().to_string(), Ok((m.partition(), m.offset()))),
            Err((e, m)) => (m.topic().to_string(), Err(classify(e))),
        };
        let d = Delivery {
            topic,
            bytes: p.bytes,
            ack: p.enqueued.elapsed(),
            result,
            tracked: p.tracked,
        };
        (self.0)(&d);
        if let Some(w) = p.waiter {
            let _ = w.send(d);
        }
    }
}

/// A producer shared by every VU that asked for the same configuration.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<ThreadedProducer<Reports>>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").finish_non_exhaustive()
    }
}

impl Producer {
    fn enqueue(&self, m: Outgoing, waiter: Option<oneshot::Sender<Delivery>>) -> Result<(), Error> {
        self.enqueue_owned(m, waiter).map_err(|(e, _)| e)
    }

    /// Enqueues `m`; on failure, the error and `m`'s topic.
    fn enqueue_owned(
        &self,
        m: Outgoing,
        waiter: Option<oneshot::Sender<Delivery>>,
    ) -> Result<(), (Error, String)> {
        let bytes = m.value.len() + m.key.as_ref().map_or(0, Vec::len);
        let mut record = BaseRecord::with_opaque_to(
            &m.topic,
            Box::new(Pending {
                enqueued: Instant::now(),
                bytes,
                tracked: m.tracked.clone(),
                waiter,
            }),
        )
        .payload(&m.value);
        if let Some(k) = &m.key {
            record = record.key(k);
        }
        if let Some(p) = m.partition {
            record = record.partition(p);
        }
        if let Some(t) = m.timestamp_ms {
            record = record.timestamp(t);
        }
        if !m.headers.is_empty() {
            let mut h = OwnedHeaders::new_with_capacity(m.headers.len());
            for (key, value) in &m.headers {
                h = h.insert(RdHeader {
                    key,
                    value: Some(value),
                });
            }
            record = record.headers(h);
        }
        let sent = self.inner.send(record).map_err(|(e, _)| classify(&e));
        sent.map_err(|e| (e, m.topic))
    }

    /// Enqueues `m`; its delivery goes to the producer's callback.
    pub fn produce(&self, m: Outgoing) -> Result<(), Error> {
        self.enqueue(m, None)
    }

    /// [`Producer::produce`], handing back the topic on failure (so the
    /// caller need not copy it first).
    pub fn produce_owned(&self, m: Outgoing) -> Result<(), (Error, String)> {
        self.enqueue_owned(m, None)
    }

    /// Enqueues `m` and waits for its delivery report.
    pub async fn produce_wait(&self, m: Outgoing) -> Result<Delivery, Error> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(m, Some(tx))?;
        rx.await.map_err(|_| Error {
            class: ErrorClass::Other,
            message: "the producer closed before the delivery report".into(),
        })
    }

    /// Waits until everything enqueued was acked or failed.
    pub async fn flush(&self, timeout: Duration) -> Result<(), Error> {
        let p = self.inner.clone();
        tokio::task::spawn_blocking(move || p.flush(timeout))
            .await
            .map_err(|e| Error {
                class: ErrorClass::Other,
                message: e.to_string(),
            })?
            .map_err(|e| classify(&e))
    }

    /// Messages enqueued and not yet acked or failed.
    pub fn in_flight(&self) -> i32 {
        self.inner.in_flight_count()
    }
}

/// The run's Kafka clients: the allowlist, the delivery callback and the
/// shared producers.
#[derive(Clone)]
pub struct KafkaClient {
    allow: Arc<Allowlist>,
    /// The plan's Kafka targets with the runner's own properties.
    targets: Arc<Vec<Target>>,
    on_delivery: OnDelivery,
    producers: Arc<Mutex<HashMap<Config, Producer>>>,
}

impl std::fmt::Debug for KafkaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaClient").finish_non_exhaustive()
    }
}

impl KafkaClient {
    pub fn new(allow: Allowlist, on_delivery: OnDelivery) -> Self {
        KafkaClient {
            allow: Arc::new(allow),
            targets: Arc::default(),
            on_delivery,
            producers: Arc::default(),
        }
    }

    /// The plan's Kafka targets: a client whose bootstrap list is one of
    /// theirs gets the runner's properties for it (TLS, SASL, ...).
    pub fn with_targets(mut self, targets: Vec<Target>) -> Self {
        self.targets = Arc::new(targets);
        self
    }

    /// The client settings for what a scenario asked: its properties must
    /// be client tuning ([`check_guest`]); the runner's properties for the
    /// target it connects to come after them, so they win.
    pub fn guest_config(
        &self,
        bootstrap: String,
        properties: Vec<(String, String)>,
    ) -> Result<Config, Error> {
        for (k, _) in &properties {
            check_guest(k)?;
        }
        Ok(Config {
            properties: with_runner(properties, &self.targets, &bootstrap),
            bootstrap,
        })
    }

    /// The shared producer for `config`, made on first use.
    pub fn producer(&self, config: &Config) -> Result<Producer, Error> {
        let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = producers.get(config) {
            return Ok(p.clone());
        }
        let mut c = config.client(&self.allow)?;
        // Throughput defaults; the scenario's properties override them.
        for (k, v) in [
            ("linger.ms", "5"),
            ("queue.buffering.max.messages", "1000000"),
        ] {
            if !config.properties.iter().any(|(pk, _)| pk == k) {
                c.set(k, v);
            }
        }
        let inner: ThreadedProducer<Reports> = c
            .create_with_context(Reports(self.on_delivery.clone()))
            .map_err(|e| classify(&e))?;
        check_advertised(inner.client(), &self.allow, &config.bootstrap)?;
        let p = Producer {
            inner: Arc::new(inner),
        };
        producers.insert(config.clone(), p.clone());
        Ok(p)
    }

    /// Waits for every shared producer's queue to drain (end of the run).
    pub async fn flush_all(&self, timeout: Duration) {
        let all: Vec<Producer> = self
            .producers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for p in all {
            let _ = p.flush(timeout).await;
        }
    }

    fn consumer_config(&self, config: &Config, group: &str) -> Result<ClientConfig, Error> {
        let mut c = config.client(&self.allow)?;
        c.set("group.id", group);
        for (k, v) in [
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            ("enable.partition.eof", "false"),
        ] {
            if !config.properties.iter().any(|(pk, _)| pk == k) {
                c.set(k, v);
            }
        }
        Ok(c)
    }

    /// A consumer in group `group` on `topics`.
    pub fn subscribe(
        &self,
        config: &Config,
        group: &str,
        topics: &[String],
    ) -> Result<Consumer, Error> {
        let c: StreamConsumer = self
            .consumer_config(config, group)?
            .create()
            .map_err(|e| classify(&e))?;
        check_advertised(c.client(), &self.allow, &config.bootstrap)?;
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        c.subscribe(&topics).map_err(|e| classify(&e))?;
        Ok(Consumer::new(c))
    }

    /// A consumer of `partitions` of `topic` from `from`, outside any group.
    pub fn assign(
        &self,
        config: &Config,
        topic: &str,
        partitions: &[i32],
        from: Position,
    ) -> Result<Consumer, Error> {
        let group = format!("volley-assign-{}", std::process::id());
        let c: StreamConsumer = self
            .consumer_config(config, &group)?
            .create()
            .map_err(|e| classify(&e))?;
        check_advertised(c.client(), &self.allow, &config.bootstrap)?;
        let mut tpl = TopicPartitionList::new();
        for &p in partitions {
            tpl.add_partition_offset(topic, p, from.offset(&c, topic, p)?)
                .map_err(|e| classify(&e))?;
        }
        c.assign(&tpl).map_err(|e| classify(&e))?;
        Ok(Consumer::new(c))
    }
}

/// Where to read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Earliest,
    Latest,
    Offset(i64),
    Timestamp(i64),
}

impl Position {
    fn offset(self, c: &StreamConsumer, topic: &str, partition: i32) -> Result<Offset, Error> {
        Ok(match self {
            Position::Earliest => Offset::Beginning,
            Position::Latest => Offset::End,
            Position::Offset(o) => Offset::Offset(o),
            Position::Timestamp(ms) => {
                let found = c
                    .offsets_for_timestamp(ms, Duration::from_secs(10))
                    .map_err(|e| classify(&e))?;
                found
                    .find_partition(topic, partition)
                    .map(|e| e.offset())
                    .unwrap_or(Offset::End)
            }
        })
    }
}

/// A consumer; polls in batches.
pub struct Consumer {
    inner: StreamConsumer,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").finish_non_exhaustive()
    }
}

impl Consumer {
    fn new(inner: StreamConsumer) -> Self {
        Consumer { inner }
    }

    /// Up to `max` messages, waiting up to `timeout` for the first.
    pub async fn poll(&self, max: usize, timeout: Duration) -> Result<Vec<Incoming>, Error> {
        let mut out = Vec::new();
        let first = match tokio::time::timeout(timeout, self.inner.recv()).await {
            Err(_) => return Ok(out),
            Ok(m) => m.map_err(|e| classify(&e))?,
        };
        out.push(owned(&first));
        drop(first);
        while out.len() < max.max(1) {
            match self.inner.recv().now_or_never() {
                Some(Ok(m)) => out.push(owned(&m)),
                Some(Err(e)) => return Err(classify(&e)),
                None => break,
            }
        }
        Ok(out)
    }

    /// Commits the positions of what `poll` returned.
    pub fn commit(&self) -> Result<(), Error> {
        match self.inner.commit_consumer_state(CommitMode::Sync) {
            // Nothing consumed yet: nothing to commit.
            Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => Ok(()),
            r => r.map_err(|e| classify(&e)),
        }
    }

    pub fn seek(&self, topic: &str, partition: i32, to: Position) -> Result<(), Error> {
        let offset = to.offset(&self.inner, topic, partition)?;
        self.inner
            .seek(topic, partition, offset, Duration::from_secs(10))
            .map_err(|e| classify(&e))
    }

    fn partitions(topic: &str, partitions: &[i32]) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for &p in partitions {
            tpl.add_partition(topic, p);
        }
        tpl
    }

    pub fn pause(&self, topic: &str, partitions: &[i32]) -> Result<(), Error> {
        self.inner
            .pause(&Self::partitions(topic, partitions))
            .map_err(|e| classify(&e))
    }

    pub fn resume(&self, topic: &str, partitions: &[i32]) -> Result<(), Error> {
        self.inner
            .resume(&Self::partitions(topic, partitions))
            .map_err(|e| classify(&e))
    }
}

/// Every partition of one topic read from where it ended when opened,
/// outside any group: how the engine watches a pipeline's output without
/// joining (or disturbing) its groups. Blocking: poll it on a thread of its own.
pub struct Tail {
    inner: BaseConsumer,
}

impl std::fmt::Debug for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tail").finish_non_exhaustive()
    }
}

impl Tail {
    /// Assigns every partition of `topic` at its high watermark now, so
    /// what is produced after this returns is read and nothing before it.
    pub fn open(allow: &Allowlist, config: &Config, topic: &str) -> Result<Tail, Error> {
        // It never commits: a group id of its own is only a formality.
        let inner = admin(
            allow,
            config,
            &format!("volley-tail-{}", std::process::id()),
        )?;
        let mut tpl = TopicPartitionList::new();
        for p in partitions_of(&inner, topic)? {
            let (_, high) = inner
                .fetch_watermarks(topic, p, ADMIN_TIMEOUT)
                .map_err(|e| classify(&e))?;
            tpl.add_partition_offset(topic, p, Offset::Offset(high))
                .map_err(|e| classify(&e))?;
        }
        inner.assign(&tpl).map_err(|e| classify(&e))?;
        Ok(Tail { inner })
    }

    /// The next message, waiting up to `timeout`.
    pub fn poll(&self, timeout: Duration) -> Result<Option<Incoming>, Error> {
        match self.inner.poll(timeout) {
            None => Ok(None),
            Some(Ok(m)) => Ok(Some(owned(&m))),
            Some(Err(e)) => Err(classify(&e)),
        }
    }
}

/// Joins `group` on `topic`, waits until it holds every partition, commits
/// `tpl` and leaves.
fn commit_as_member(
    allow: &Allowlist,
    config: &Config,
    group: &str,
    topic: &str,
    tpl: &TopicPartitionList,
) -> Result<(), Error> {
    let mut cc = config.client(allow)?;
    cc.set("group.id", group).set("enable.auto.commit", "false");
    // The shortest session brokers allow: one that misses the leave (the
    // mock cluster) frees the group soon after.
    if !config
        .properties
        .iter()
        .any(|(k, _)| k == "session.timeout.ms")
    {
        cc.set("session.timeout.ms", "6000");
    }
    let c: BaseConsumer = cc.create().map_err(|e| classify(&e))?;
    c.subscribe(&[topic]).map_err(|e| classify(&e))?;
    let deadline = Instant::now() + JOIN_TIMEOUT;
    loop {
        // Polling drives the join; what it fetches is not committed.
        let _ = c.poll(Duration::from_millis(100));
        let held = c.assignment().map(|a| a.count()).unwrap_or(0);
        if held == tpl.count() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error {
                class: ErrorClass::GroupActive,
                message: format!(
                    "joining group `{group}` gave {held} of {} partitions of `{topic}` within {} s: other members hold the rest; stop them first",
                    tpl.count(),
                    JOIN_TIMEOUT.as_secs()
                ),
            });
        }
    }
    c.commit(tpl, CommitMode::Sync).map_err(|e| classify(&e))?;
    c.unsubscribe();
    Ok(())
}

/// How long joining a group for a reset may take: a first rebalance on the
/// mock cluster takes about 3 s, and the mock keeps a stopped member until
/// its session times out (45 s by default).
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// One partition's consumer-group position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub partition: i32,
    /// The group's committed offset; none if it never committed.
    pub committed: Option<i64>,
    /// The partition's high watermark (next offset to be written).
    pub high: i64,
}

impl PartitionLag {
    /// Messages the group has yet to process (all of them if it never
    /// committed).
    pub fn lag(&self) -> i64 {
        (self.high - self.committed.unwrap_or(0)).max(0)
    }
}

const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A consumer handle for group administration: it never subscribes, so it
/// never joins (or disturbs) the group.
fn admin(allow: &Allowlist, config: &Config, group: &str) -> Result<BaseConsumer, Error> {
    let mut c = config.client(allow)?;
    c.set("group.id", group).set("enable.auto.commit", "false");
    c.create().map_err(|e| classify(&e))
}

fn partitions_of(c: &BaseConsumer, topic: &str) -> Result<Vec<i32>, Error> {
    let md = c
        .fetch_metadata(Some(topic), ADMIN_TIMEOUT)
        .map_err(|e| classify(&e))?;
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .ok_or_else(|| Error {
            class: ErrorClass::UnknownTopic,
            message: format!("topic `{topic}` does not exist"),
        })?;
    Ok(t.partitions().iter().map(|p| p.id()).collect())
}

/// Committed offset against high watermark for each partition of `topic`,
/// for consumer group `group` (blocking: call off the async threads).
pub fn group_lag(
    allow: &Allowlist,
    config: &Config,
    group: &str,
    topic: &str,
) -> Result<Vec<PartitionLag>, Error> {
    let c = admin(allow, config, group)?;
    let parts = partitions_of(&c, topic)?;
    let mut tpl = TopicPartitionList::new();
    for &p in &parts {
        tpl.add_partition(topic, p);
    }
    let committed = c
        .committed_offsets(tpl, ADMIN_TIMEOUT)
        .map_err(|e| classify(&e))?;
    parts
        .into_iter()
        .map(|p| {
            let (_, high) = c
                .fetch_watermarks(topic, p, ADMIN_TIMEOUT)
                .map_err(|e| classify(&e))?;
            let committed = committed
                .find_partition(topic, p)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            Ok(PartitionLag {
                partition: p,
                committed,
                high,
            })
        })
        .collect()
}

/// Commits `to` as group `group`'s offset on every partition of `topic`
/// (blocking). Like kafka-consumer-groups, it takes effect for the group's
/// next assignment: stop or pause its consumers first.
///
/// `join` commits as a member of the group instead of from outside it: for
/// brokers that refuse outside commits on a group they know, like
/// librdkafka's mock cluster (real brokers accept them once the group is
/// empty). Joining rebalances the group, so its consumers must be stopped.
pub fn reset_offsets(
    allow: &Allowlist,
    config: &Config,
    group: &str,
    topic: &str,
    to: Position,
    join: bool,
) -> Result<Vec<(i32, i64)>, Error> {
    let c = admin(allow, config, group)?;
    let parts = partitions_of(&c, topic)?;
    let mut tpl = TopicPartitionList::new();
    let mut out = Vec::new();
    for p in parts {
        let (low, high) = c
            .fetch_watermarks(topic, p, ADMIN_TIMEOUT)
            .map_err(|e| classify(&e))?;
        let offset = match to {
            Position::Earliest => low,
            Position::Latest => high,
            Position::Offset(o) => o.clamp(low, high),
            Position::Timestamp(_) => {
                return Err(Error {
                    class: ErrorClass::Config,
                    message: "resetting to a timestamp is not supported; use --to-offset".into(),
                });
            }
        };
        tpl.add_partition_offset(topic, p, Offset::Offset(offset))
            .map_err(|e| classify(&e))?;
        out.push((p, offset));
    }
    if join {
        commit_as_member(allow, config, group, topic, &tpl)?;
        return Ok(out);
    }
    c.commit(&tpl, CommitMode::Sync).map_err(|e| {
        match e.rdkafka_error_code() {
            Some(
                RDKafkaErrorCode::UnknownMemberId
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::RebalanceInProgress,
            ) => Error {
                class: ErrorClass::GroupActive,
                message: format!(
                    "group `{group}` still has members (the broker keeps a stopped consumer until its session times out, 45 s by default): stop its consumers and retry (--wait 60s retries); on the embedded mock cluster, which refuses these commits while it remembers the group, pass --join"
                ),
            },
            _ => classify(&e),
        }
    })?;
    Ok(out)
}

fn owned(m: &rdkafka::message::BorrowedMessage<'_>) -> Incoming {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    Incoming {
        topic: m.topic().to_string(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().unwrap_or_default().to_vec(),
        headers,
        timestamp_ms: m.timestamp().to_millis(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn mock() -> (
        rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
        String,
    ) {
        let c = rdkafka::mocking::MockCluster::new(1).unwrap();
        c.create_topic("t", 2, 1).unwrap();
        let b = c.bootstrap_servers();
        (c, b)
    }

    fn client(acked: Arc<AtomicU64>) -> KafkaClient {
        KafkaClient::new(
            Allowlist::parse(&["127.0.0.1"]).unwrap(),
            Arc::new(move |d: &Delivery| {
                if d.result.is_ok() {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
            }),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn produces_shares_producers_and_consumes_batches() {
        let (_cluster, bootstrap) = mock();
        let acked = Arc::new(AtomicU64::new(0));
        let k = client(acked.clone());
        let cfg = Config {
            bootstrap: bootstrap.clone(),
            properties: vec![],
        };
        let p = k.producer(&cfg).unwrap();
        // The same settings give the same (shared) producer.
        assert!(Arc::ptr_eq(&p.inner, &k.producer(&cfg).unwrap().inner));
        for i in 0..99 {
            p.produce(Outgoing {
                topic: "t".into(),
                key: Some(format!("k{i}").into_bytes()),
                value: format!("v{i}").into_bytes(),
                headers: vec![("id".into(), i.to_string().into_bytes())],
                partition: Some(i % 2),
                ..Default::default()
            })
            .unwrap();
        }
        let d = p
            .produce_wait(Outgoing {
                topic: "t".into(),
                value: b"last".to_vec(),
                partition: Some(1),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(d.result.as_ref().unwrap().0, 1);
        p.flush(Duration::from_secs(10)).await.unwrap();
        assert_eq!(acked.load(Ordering::Relaxed), 100);

        let c = k.assign(&cfg, "t", &[0, 1], Position::Earliest).unwrap();
        let mut got = Vec::new();
        for _ in 0..50 {
            got.extend(c.poll(1000, Duration::from_millis(500)).await.unwrap());
            if got.len() >= 100 {
                break;
            }
        }
        assert_eq!(got.len(), 100);
        let first = got
            .iter()
            .find(|m| m.key.as_deref() == Some(b"k0"))
            .unwrap();
        assert_eq!(first.value, b"v0");
        assert_eq!(first.partition, 0);
        assert_eq!(first.headers, vec![("id".to_string(), b"0".to_vec())]);
        // Seeking back replays a partition.
        c.seek("t", 0, Position::Offset(0)).unwrap();
        let again = c.poll(1000, Duration::from_secs(5)).await.unwrap();
        assert!(again.iter().any(|m| m.key.as_deref() == Some(b"k0")));
        c.pause("t", &[0]).unwrap();
        c.resume("t", &[0]).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lag_follows_commits_and_resets() {
        let (_cluster, bootstrap) = mock();
        let k = client(Arc::default());
        let cfg = Config {
            bootstrap,
            properties: vec![],
        };
        let p = k.producer(&cfg).unwrap();
        for i in 0..10 {
            p.produce(Outgoing {
                topic: "t".into(),
                value: vec![i],
                partition: Some(i32::from(i % 2)),
                ..Default::default()
            })
            .unwrap();
        }
        p.flush(Duration::from_secs(10)).await.unwrap();
        let allow = Allowlist::parse(&["127.0.0.1"]).unwrap();
        let total = |lag: &[PartitionLag]| lag.iter().map(PartitionLag::lag).sum::<i64>();
        let lag = group_lag(&allow, &cfg, "g", "t").unwrap();
        assert_eq!(total(&lag), 10);
        assert!(lag.iter().all(|l| l.committed.is_none() && l.high == 5));
        let done = reset_offsets(&allow, &cfg, "g", "t", Position::Latest, false).unwrap();
        assert_eq!(done, vec![(0, 5), (1, 5)]);
        assert_eq!(total(&group_lag(&allow, &cfg, "g", "t").unwrap()), 0);
        reset_offsets(&allow, &cfg, "g", "t", Position::Offset(3), false).unwrap();
        assert_eq!(total(&group_lag(&allow, &cfg, "g", "t").unwrap()), 4);
        reset_offsets(&allow, &cfg, "g", "t", Position::Earliest, false).unwrap();
        let lag = group_lag(&allow, &cfg, "g", "t").unwrap();
        assert_eq!(total(&lag), 10);
        assert!(lag.iter().all(|l| l.committed == Some(0)));
        // Once a member has been in the group, the mock refuses outside
        // commits (a real broker takes them when the group is empty), and
        // keeps the member until its session times out even after it
        // closed; committing as a member works on both.
        {
            let short = Config {
                properties: vec![("session.timeout.ms".into(), "6000".into())],
                ..cfg.clone()
            };
            let member = k.subscribe(&short, "g", &["t".to_string()]).unwrap();
            let got = member.poll(10, Duration::from_secs(15)).await.unwrap();
            assert!(!got.is_empty());
        }
        let e = reset_offsets(&allow, &cfg, "g", "t", Position::Latest, false).unwrap_err();
        assert_eq!(e.class, ErrorClass::GroupActive, "{e}");
        assert!(e.message.contains("still has members"), "{e}");
        let (a, c, g) = (allow.clone(), cfg.clone(), "g");
        tokio::task::spawn_blocking(move || reset_offsets(&a, &c, g, "t", Position::Latest, true))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(total(&group_lag(&allow, &cfg, "g", "t").unwrap()), 0);
        let e = group_lag(&allow, &cfg, "g", "missing").unwrap_err();
        assert_eq!(e.class, ErrorClass::UnknownTopic, "{e}");
    }

    #[test]
    fn bootstrap_hosts_must_be_allowed() {
        let k = KafkaClient::new(Allowlist::default(), Arc::new(|_: &Delivery| {}));
        let cfg = Config {
            bootstrap: "10.9.9.9:9092".into(),
            properties: vec![],
        };
        let e = k.producer(&cfg).unwrap_err();
        assert_eq!(e.class, ErrorClass::NotAllowed);
        assert!(e.message.contains("--allow-host 10.9.9.9:9092"), "{e}");
        let bad = Config {
            bootstrap: "127.0.0.1:x".into(),
            properties: vec![],
        };
        let k = client(Arc::default());
        assert_eq!(k.producer(&bad).unwrap_err().class, ErrorClass::Config);
        let unknown = Config {
            bootstrap: "127.0.0.1:9".into(),
            properties: vec![("no.such.property".into(), "1".into())],
        };
        assert_eq!(k.producer(&unknown).unwrap_err().class, ErrorClass::Config);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn brokers_the_cluster_advertises_must_be_allowed_too() {
        let cluster = rdkafka::mocking::MockCluster::new(3).unwrap();
        let all = cluster.bootstrap_servers();
        let first = all.split(',').next().unwrap().to_string();
        // Only the bootstrap broker is allowed: its peers are not.
        let k = KafkaClient::new(
            Allowlist::parse(std::slice::from_ref(&first)).unwrap(),
            Arc::new(|_: &Delivery| {}),
        );
        let cfg = Config {
            bootstrap: first.clone(),
            properties: vec![],
        };
        let e = k.producer(&cfg).unwrap_err();
        assert_eq!(e.class, ErrorClass::NotAllowed);
        assert!(e.message.contains("advertises broker"), "{e}");
        assert!(e.message.contains("--allow-host 127.0.0.1:"), "{e}");
        let e = k.subscribe(&cfg, "g", &["t".into()]).unwrap_err();
        assert_eq!(e.class, ErrorClass::NotAllowed);
        // Every broker allowed: the same client is made.
        let k = KafkaClient::new(
            Allowlist::parse(&["127.0.0.1"]).unwrap(),
            Arc::new(|_: &Delivery| {}),
        );
        k.producer(&cfg).unwrap();
    }

    #[test]
    fn a_scenarios_properties_are_filtered_and_the_runners_added() {
        let k = client(Arc::default()).with_targets(vec![
            Target::parse("127.0.0.1:9092?security.protocol=plaintext").unwrap(),
        ]);
        let e = k
            .guest_config(
                "127.0.0.1:9092".into(),
                vec![("sasl.kerberos.kinit.cmd".into(), "touch /tmp/x".into())],
            )
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::NotAllowed);
        let e = k
            .guest_config(
                "127.0.0.1:9092".into(),
                vec![("bootstrap.servers".into(), "127.0.0.3:9092".into())],
            )
            .unwrap_err();
        assert!(e.message.contains("`bootstrap.servers`"), "{e}");
        let c = k
            .guest_config("127.0.0.1:9092".into(), vec![("acks".into(), "1".into())])
            .unwrap();
        assert_eq!(
            c.properties,
            vec![
                ("acks".into(), "1".into()),
                ("security.protocol".into(), "plaintext".into())
            ]
        );
        // Another cluster gets none of the target's properties.
        let c = k.guest_config("127.0.0.1:9999".into(), vec![]).unwrap();
        assert!(c.properties.is_empty());
    }
}
