//! Kafka producers and consumers. A producer opened with the same settings
//! by many VUs is one librdkafka producer, so messages batch across VUs;
//! [`Producer::send`] enqueues and returns at once, and the engine records
//! the broker's ack latency (`kafka_produce_ack`) when it arrives.
//!
//! ```ignore
//! let kafka = kafka::Config::new(&vu::param("kafka").unwrap()).set("acks", "all");
//! let producer = kafka.producer()?;
//! producer.send(kafka::Record::new("orders.raw", b"{\"id\":1}").key(b"1"))?;
//! let consumer = kafka.subscribe("my-group", &["orders.enriched"])?;
//! for m in consumer.poll(500, Duration::from_millis(200))? { /* m.value */ }
//! ```

use std::time::Duration;

use crate::bindings::volley::scenario::kafka as wit;

pub use wit::{Delivery, ErrorClass, Header, Incoming as Message, Position};

/// Bootstrap servers plus librdkafka properties.
#[derive(Debug, Clone)]
pub struct Config {
    inner: wit::ClientConfig,
}

fn millis(d: Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}

impl Config {
    /// `bootstrap` is `host:port[,host:port]` (a Kafka target's parameter).
    pub fn new(bootstrap: &str) -> Self {
        Config {
            inner: wit::ClientConfig {
                bootstrap: bootstrap.to_string(),
                properties: Vec::new(),
            },
        }
    }

    /// Sets any librdkafka property.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.inner
            .properties
            .push((key.to_string(), value.to_string()));
        self
    }

    /// The run's shared producer for these settings.
    pub fn producer(&self) -> Result<Producer, Error> {
        wit::Producer::open(&self.inner)
            .map(|inner| Producer { inner })
            .map_err(Error::from)
    }

    /// A consumer in `group` on `topics` (offsets committed by `commit`).
    pub fn subscribe(&self, group: &str, topics: &[&str]) -> Result<Consumer, Error> {
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        wit::Consumer::subscribe(&self.inner, group, &topics)
            .map(|inner| Consumer { inner })
            .map_err(Error::from)
    }

    /// A consumer of `partitions` of `topic` from `from`, outside any group.
    pub fn assign(
        &self,
        topic: &str,
        partitions: &[i32],
        from: Position,
    ) -> Result<Consumer, Error> {
        wit::Consumer::assign(&self.inner, topic, partitions, from)
            .map(|inner| Consumer { inner })
            .map_err(Error::from)
    }
}

/// A message to produce.
#[derive(Debug, Clone)]
pub struct Record {
    inner: wit::Outgoing,
}

impl Record {
    /// `value` to `topic`.
    pub fn new(topic: &str, value: impl Into<Vec<u8>>) -> Self {
        Record {
            inner: wit::Outgoing {
                topic: topic.to_string(),
                key: None,
                value: value.into(),
                headers: Vec::new(),
                partition: None,
                timestamp_ms: None,
            },
        }
    }

    /// Sets the key (the default partitioner hashes it).
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.inner.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: &str, value: impl Into<Vec<u8>>) -> Self {
        self.inner.headers.push(Header {
            key: key.to_string(),
            value: value.into(),
        });
        self
    }

    /// Sends to this partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.inner.partition = Some(partition);
        self
    }

    /// Sets the message timestamp (ms since the Unix epoch).
    pub fn timestamp_ms(mut self, ms: i64) -> Self {
        self.inner.timestamp_ms = Some(ms);
        self
    }
}

/// Records kept together for [`Producer::send_records`].
#[derive(Debug, Clone, Default)]
pub struct Records {
    inner: Vec<wit::Outgoing>,
}

impl Records {
    pub fn new() -> Self {
        Records::default()
    }

    pub fn push(&mut self, record: Record) {
        self.inner.push(record.inner);
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

impl FromIterator<Record> for Records {
    fn from_iter<I: IntoIterator<Item = Record>>(records: I) -> Self {
        Records {
            inner: records.into_iter().map(|r| r.inner).collect(),
        }
    }
}

/// A shared producer.
#[derive(Debug)]
pub struct Producer {
    inner: wit::Producer,
}

impl Producer {
    /// Enqueues and returns at once.
    pub fn send(&self, record: Record) -> Result<(), Error> {
        self.inner.produce(&record.inner).map_err(Error::from)
    }

    /// Enqueues every record in order in one host call (for throughput);
    /// acks are recorded as they arrive. Stops at the first record that
    /// cannot be enqueued: [`BatchError::enqueued`] says how many went.
    pub fn send_batch(&self, records: impl IntoIterator<Item = Record>) -> Result<(), BatchError> {
        self.send_records(&records.into_iter().collect())
    }

    /// [`Producer::send_batch`], borrowing the records: a scenario that
    /// sends the same records again keeps them and copies nothing.
    pub fn send_records(&self, records: &Records) -> Result<(), BatchError> {
        self.inner.send_batch(&records.inner).map_err(|e| BatchError {
            enqueued: e.enqueued as usize,
            error: e.error.into(),
        })
    }

    /// Enqueues and waits for the broker's ack.
    pub fn send_wait(&self, record: Record) -> Result<Delivery, Error> {
        self.inner.produce_wait(&record.inner).map_err(Error::from)
    }

    /// Waits until everything enqueued was acked or failed.
    pub fn flush(&self, timeout: Duration) -> Result<(), Error> {
        self.inner.flush(millis(timeout)).map_err(Error::from)
    }
}

/// A consumer.
#[derive(Debug)]
pub struct Consumer {
    inner: wit::Consumer,
}

impl Consumer {
    /// Up to `max` messages, waiting up to `timeout` for the first.
    pub fn poll(&self, max: u32, timeout: Duration) -> Result<Vec<Message>, Error> {
        self.inner.poll(max, millis(timeout)).map_err(Error::from)
    }

    /// Commits what `poll` returned.
    pub fn commit(&self) -> Result<(), Error> {
        self.inner.commit().map_err(Error::from)
    }

    /// Moves an assigned partition.
    pub fn seek(&self, topic: &str, partition: i32, to: Position) -> Result<(), Error> {
        self.inner.seek(topic, partition, to).map_err(Error::from)
    }

    /// Stops fetching these partitions.
    pub fn pause(&self, topic: &str, partitions: &[i32]) -> Result<(), Error> {
        self.inner.pause(topic, partitions).map_err(Error::from)
    }

    /// Fetches these partitions again.
    pub fn resume(&self, topic: &str, partitions: &[i32]) -> Result<(), Error> {
        self.inner.resume(topic, partitions).map_err(Error::from)
    }
}

/// A failed Kafka call, with the reason's class.
#[derive(Debug, Clone)]
pub struct Error {
    /// Timeout, queue full, unknown topic, too large, auth, transport,
    /// config, not allowed, other.
    pub class: ErrorClass,
    /// What happened, in words.
    pub message: String,
}

impl From<wit::KafkaError> for Error {
    fn from(e: wit::KafkaError) -> Self {
        Error {
            class: e.class,
            message: e.message,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.class, self.message)
    }
}

impl std::error::Error for Error {}

/// Why [`Producer::send_batch`] stopped.
#[derive(Debug, Clone)]
pub struct BatchError {
    /// How many records (from the first) were enqueued.
    pub enqueued: usize,
    /// Why the next one was not; the rest were not tried.
    pub error: Error,
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} enqueued, then {}", self.enqueued, self.error)
    }
}

impl std::error::Error for BatchError {}
