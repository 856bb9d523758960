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
use rdkafka::message::{Headers, Message as _};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::oneshot;

use super::Allowlist;

mod admin;
mod consumer;
mod producer;
mod properties;
mod tail;
pub mod track;
pub mod watch;

pub use admin::{PartitionLag, group_lag, reset_offsets};
pub use consumer::{Consumer, Position};
use producer::Reports;
pub use producer::{Batch, OnDelivery, Plain, Producer};
pub use properties::{Target, check_guest};
pub use tail::Tail;

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

/// Producers (distinct configurations) one run may make: each is a
/// librdkafka client with its own threads and connections, and a scenario
/// opening one per call with a new `client.id` would make them without end.
pub const MAX_PRODUCERS: usize = 64;

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

/// Runs `f`, which waits on librdkafka (a metadata request, a commit, an
/// offset lookup: up to seconds against a slow or dead broker), on tokio's
/// blocking pool. On a runtime worker it would stall every VU that shares
/// the worker, and with them their timings.
pub async fn off_worker<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Error {
            class: ErrorClass::Other,
            message: format!("the Kafka call did not finish: {e}"),
        })
    })
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
    /// Where the owner times this message on its target's timeline (fault
    /// windows); handed back in the delivery report.
    pub timeline: Option<crate::metrics::Sent>,
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

/// What a delivery report says (its topic is said with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub bytes: usize,
    /// Enqueue to ack.
    pub ack: Duration,
    pub result: Result<(i32, i64), Error>,
    /// The message's [`Outgoing::tracked`].
    pub tracked: Option<Arc<str>>,
    /// The message's [`Outgoing::timeline`].
    pub timeline: Option<crate::metrics::Sent>,
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
    closing: Arc<consumer::Closing>,
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
            closing: Arc::default(),
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
        for (k, v) in &properties {
            check_guest(k, v)?;
        }
        Ok(Config {
            properties: with_runner(properties, &self.targets, &bootstrap),
            bootstrap,
        })
    }

    /// The shared producer for `config` if the run made it already: no
    /// wait, unlike [`KafkaClient::producer`]'s first use.
    pub fn made_producer(&self, config: &Config) -> Option<Producer> {
        let producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        producers.get(config).cloned()
    }

    /// The shared producer for `config`, made on first use (which waits up
    /// to seconds for the cluster's broker list: see [`off_worker`]).
    pub fn producer(&self, config: &Config) -> Result<Producer, Error> {
        let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = producers.get(config) {
            return Ok(p.clone());
        }
        if producers.len() >= MAX_PRODUCERS {
            return Err(Error {
                class: ErrorClass::Config,
                message: format!(
                    "this run has {MAX_PRODUCERS} Kafka producers, one per configuration: open one and reuse it (each is the run's, shared by every VU), not one per call or per client.id"
                ),
            });
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
        let inner: BaseProducer<Reports> = c
            .create_with_context(Reports::new(self.on_delivery.clone()))
            .map_err(|e| classify(&e))?;
        check_advertised(inner.client(), &self.allow, &config.bootstrap)?;
        let p = Producer {
            inner: Arc::new(producer::Shared::new(inner)?),
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

    /// Waits up to `timeout` for the consumers dropped so far to close
    /// (each closes on a thread of its own); how many had not.
    pub async fn close_consumers(&self, timeout: Duration) -> usize {
        self.closing.wait(timeout).await
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
        Ok(Consumer::new(c, self.closing.clone()))
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
        Ok(Consumer::new(c, self.closing.clone()))
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
            Arc::new(move |_: &Arc<str>, reports: &[Delivery]| {
                let ok = reports.iter().filter(|d| d.result.is_ok()).count();
                acked.fetch_add(ok as u64, Ordering::Relaxed);
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
        c.seek("t", 0, Position::Offset(0)).await.unwrap();
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
        let k = KafkaClient::new(
            Allowlist::default(),
            Arc::new(|_: &Arc<str>, _: &[Delivery]| {}),
        );
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
            Arc::new(|_: &Arc<str>, _: &[Delivery]| {}),
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
            Arc::new(|_: &Arc<str>, _: &[Delivery]| {}),
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
