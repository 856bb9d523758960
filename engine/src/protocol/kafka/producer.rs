//! Shared producers: one per configuration, each delivery reported to the
//! owner's callback with its enqueue time.
//!
//! This is the per-message path of the produce benchmark against kcat, so a
//! message that hands nothing back costs no allocation of its own here:
//! librdkafka carries its enqueue time in the message's opaque word, finds
//! its topic by a handle instead of by name, and its delivery report names
//! the topic with the producer's one shared copy.

#![allow(
    unsafe_code,
    reason = "librdkafka called directly on the per-message path: by topic handle, with a packed opaque word (rdkafka's BaseRecord copies the topic name into a CString per message)"
)]

use std::ffi::{CString, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::bindings as rd;
use rdkafka::bindings::rd_kafka_vtype_t::*;

use super::*;

/// Called on librdkafka's thread for every delivery report.
pub type OnDelivery = Arc<dyn Fn(&Delivery) + Send + Sync>;

/// Topic names a producer keeps shared copies and handles of; past this,
/// it starts over (a scenario naming a fresh topic per message).
const MAX_TOPICS: usize = 256;

/// How long the poll thread waits for delivery reports at a time, so also
/// how long dropping a producer may wait for it (rdkafka's threaded
/// producer waits 100 ms, which ended every run 100 ms late).
const POLL: Duration = Duration::from_millis(10);

/// What a message hands back in its delivery report besides its enqueue
/// time.
#[derive(Default)]
struct Pending {
    tracked: Option<Arc<str>>,
    timeline: Option<crate::metrics::Sent>,
    waiter: Option<oneshot::Sender<Delivery>>,
}

// The opaque word holds an enqueue time in nanoseconds (292 years).
const _: () = assert!(usize::BITS == 64);

/// The opaque word librdkafka carries with a message: its enqueue time
/// (nanoseconds since the producer's epoch) shifted left with the low bit
/// set when it hands nothing else back; otherwise a boxed pair (aligned,
/// so the low bit is clear).
fn pack(enqueued_ns: u64, p: Pending) -> usize {
    if p.tracked.is_none() && p.timeline.is_none() && p.waiter.is_none() {
        return ((enqueued_ns << 1) | 1) as usize;
    }
    Box::into_raw(Box::new((enqueued_ns, p))) as usize
}

/// # Safety
/// `word` came from [`pack`] and is unpacked once.
unsafe fn unpack(word: usize) -> (u64, Pending) {
    if word & 1 == 1 {
        return ((word >> 1) as u64, Pending::default());
    }
    // SAFETY: an even word is the box `pack` leaked, unpacked only now.
    *unsafe { Box::from_raw(word as *mut (u64, Pending)) }
}

pub(super) struct Reports {
    on_delivery: OnDelivery,
    epoch: Instant,
    /// Delivery reports name their topic with these shared copies.
    topics: Mutex<Vec<Arc<str>>>,
}

impl Reports {
    pub(super) fn new(on_delivery: OnDelivery) -> Self {
        Reports {
            on_delivery,
            epoch: Instant::now(),
            topics: Mutex::default(),
        }
    }

    fn topic(&self, name: &str) -> Arc<str> {
        let mut known = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = known.iter().find(|t| ***t == *name) {
            return t.clone();
        }
        if known.len() >= MAX_TOPICS {
            known.clear();
        }
        let t: Arc<str> = name.into();
        known.push(t.clone());
        t
    }
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, word: usize) {
        let now = Instant::now();
        // SAFETY: librdkafka hands each message's opaque back once.
        let (enqueued_ns, p) = unsafe { unpack(word) };
        let (m, result) = match result {
            Ok(m) => (m, Ok((m.partition(), m.offset()))),
            Err((e, m)) => (m, Err(classify(e))),
        };
        let enqueued = self.epoch + Duration::from_nanos(enqueued_ns);
        let d = Delivery {
            topic: self.topic(m.topic()),
            bytes: m.payload_len() + m.key().map_or(0, <[u8]>::len),
            ack: now.saturating_duration_since(enqueued),
            result,
            tracked: p.tracked,
            timeline: p.timeline,
        };
        (self.on_delivery)(&d);
        if let Some(w) = p.waiter {
            let _ = w.send(d);
        }
    }
}

/// A producer's handle on one topic.
struct Topic {
    name: String,
    handle: *mut rd::rd_kafka_topic_t,
}

// SAFETY: librdkafka's topic handles may be used from any thread.
unsafe impl Send for Topic {}
unsafe impl Sync for Topic {}

impl Drop for Topic {
    fn drop(&mut self) {
        // SAFETY: the handle came from rd_kafka_topic_new and is dropped once;
        // messages in flight hold references of their own.
        unsafe { rd::rd_kafka_topic_destroy(self.handle) }
    }
}

/// The thread that serves a producer's delivery reports.
struct Poller {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(producer: Arc<BaseProducer<Reports>>) -> Result<Poller, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("volley-kafka-poll".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        producer.poll(POLL);
                    }
                })
                .map_err(|e| Error {
                    class: ErrorClass::Other,
                    message: format!("starting the producer's poll thread: {e}"),
                })?
        };
        Ok(Poller {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Dropped in field order: the topic handles, then the poll thread (and its
/// reference), then the client, which must outlive both.
pub(super) struct Shared {
    topics: Mutex<HashMap<String, Arc<Topic>>>,
    // Held for its drop, which stops the thread.
    _poller: Poller,
    producer: Arc<BaseProducer<Reports>>,
}

impl Shared {
    pub(super) fn new(producer: BaseProducer<Reports>) -> Result<Self, Error> {
        let producer = Arc::new(producer);
        Ok(Shared {
            topics: Mutex::default(),
            _poller: Poller::start(producer.clone())?,
            producer,
        })
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>, Error> {
        let mut known = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = known.get(name) {
            return Ok(t.clone());
        }
        let c_name = CString::new(name).map_err(|_| Error {
            class: ErrorClass::Config,
            message: format!(
                "topic `{}`: a topic name cannot hold a NUL byte",
                name.escape_debug()
            ),
        })?;
        let rk = self.producer.client().native_ptr();
        // SAFETY: `rk` is this live producer's; a null conf means its defaults.
        let handle = unsafe { rd::rd_kafka_topic_new(rk, c_name.as_ptr(), ptr::null_mut()) };
        if handle.is_null() {
            // SAFETY: reads this thread's last librdkafka error.
            let code = unsafe { rd::rd_kafka_last_error() };
            return Err(classify(&KafkaError::MessageProduction(code.into())));
        }
        if known.len() >= MAX_TOPICS {
            known.clear();
        }
        let t = Arc::new(Topic {
            name: name.to_string(),
            handle,
        });
        known.insert(name.to_string(), t.clone());
        Ok(t)
    }
}

/// A message as it lies elsewhere (a guest's memory), without headers or a
/// correlation id: enqueued without a copy of its own.
#[derive(Debug, Clone, Copy)]
pub struct Plain<'a> {
    pub topic: &'a str,
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub partition: Option<i32>,
    pub timestamp_ms: Option<i64>,
    /// As [`Outgoing::timeline`].
    pub timeline: Option<crate::metrics::Sent>,
}

impl Outgoing {
    fn plain(&self) -> Plain<'_> {
        Plain {
            topic: &self.topic,
            key: self.key.as_deref(),
            value: &self.value,
            partition: self.partition,
            timestamp_ms: self.timestamp_ms,
            timeline: self.timeline,
        }
    }
}

/// Enqueues `m` with `headers` on `topic` carrying `word`; librdkafka
/// copies the bytes.
fn producev(
    rk: *mut rd::rd_kafka_t,
    topic: &Topic,
    m: &Plain<'_>,
    headers: &[(String, Vec<u8>)],
    word: usize,
) -> Result<(), Error> {
    let (key, key_len) = m.key.map_or((ptr::null(), 0), |k| (k.as_ptr(), k.len()));
    let headers = native_headers(headers);
    // SAFETY: every pointer outlives the call (librdkafka copies the
    // payload and key, F_COPY); `headers` is owned by librdkafka only if
    // the call succeeds.
    let err = unsafe {
        rd::rd_kafka_producev(
            rk,
            RD_KAFKA_VTYPE_RKT,
            topic.handle,
            RD_KAFKA_VTYPE_PARTITION,
            m.partition.unwrap_or(-1),
            RD_KAFKA_VTYPE_MSGFLAGS,
            rd::RD_KAFKA_MSG_F_COPY,
            RD_KAFKA_VTYPE_VALUE,
            m.value.as_ptr() as *mut c_void,
            m.value.len(),
            RD_KAFKA_VTYPE_KEY,
            key as *const c_void,
            key_len,
            RD_KAFKA_VTYPE_OPAQUE,
            word as *mut c_void,
            RD_KAFKA_VTYPE_TIMESTAMP,
            m.timestamp_ms.unwrap_or(0),
            RD_KAFKA_VTYPE_HEADERS,
            headers,
            RD_KAFKA_VTYPE_END,
        )
    };
    if err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Ok(());
    }
    if !headers.is_null() {
        // SAFETY: not taken by librdkafka, as the call failed.
        unsafe { rd::rd_kafka_headers_destroy(headers) }
    }
    Err(classify(&KafkaError::MessageProduction(err.into())))
}

/// `headers` for librdkafka; null when there are none.
fn native_headers(headers: &[(String, Vec<u8>)]) -> *mut rd::rd_kafka_headers_t {
    if headers.is_empty() {
        return ptr::null_mut();
    }
    // SAFETY: a fresh list; librdkafka copies each name and value.
    unsafe {
        let list = rd::rd_kafka_headers_new(headers.len());
        for (key, value) in headers {
            rd::rd_kafka_header_add(
                list,
                key.as_ptr().cast(),
                key.len() as isize,
                value.as_ptr().cast(),
                value.len() as isize,
            );
        }
        list
    }
}

/// A producer shared by every VU that asked for the same configuration.
#[derive(Clone)]
pub struct Producer {
    pub(super) inner: Arc<Shared>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").finish_non_exhaustive()
    }
}

/// Messages enqueued together: one enqueue time (one clock read) for all,
/// and their topic's handle looked up once per run of messages to it.
pub struct Batch<'p> {
    shared: &'p Shared,
    enqueued_ns: u64,
    topic: Option<Arc<Topic>>,
}

impl Batch<'_> {
    /// Enqueues `m`; its delivery goes to the producer's callback. On
    /// failure, the error and `m`'s topic (so the caller need not copy it
    /// first).
    pub fn produce(&mut self, m: Outgoing) -> Result<(), (Error, String)> {
        self.enqueue(m, None)
    }

    /// Enqueues `m` as [`Batch::produce`] does, copied only by librdkafka.
    pub fn produce_plain(&mut self, m: &Plain<'_>) -> Result<(), Error> {
        let topic = self.topic(m.topic)?;
        let pending = Pending {
            timeline: m.timeline,
            ..Pending::default()
        };
        let word = pack(self.enqueued_ns, pending);
        let rk = self.shared.producer.client().native_ptr();
        producev(rk, &topic, m, &[], word).inspect_err(|_| {
            // SAFETY: librdkafka did not take the message, nor its word.
            drop(unsafe { unpack(word) });
        })
    }

    fn enqueue(
        &mut self,
        mut m: Outgoing,
        waiter: Option<oneshot::Sender<Delivery>>,
    ) -> Result<(), (Error, String)> {
        let topic = match self.topic(&m.topic) {
            Ok(t) => t,
            Err(e) => return Err((e, m.topic)),
        };
        let pending = Pending {
            tracked: m.tracked.take(),
            timeline: m.timeline,
            waiter,
        };
        let word = pack(self.enqueued_ns, pending);
        let rk = self.shared.producer.client().native_ptr();
        producev(rk, &topic, &m.plain(), &m.headers, word).map_err(|e| {
            // SAFETY: librdkafka did not take the message, nor its word.
            drop(unsafe { unpack(word) });
            (e, m.topic)
        })
    }

    fn topic(&mut self, name: &str) -> Result<Arc<Topic>, Error> {
        match &self.topic {
            Some(t) if t.name == name => Ok(t.clone()),
            _ => {
                let t = self.shared.topic(name)?;
                self.topic = Some(t.clone());
                Ok(t)
            }
        }
    }
}

impl Producer {
    /// A batch enqueued as of now.
    pub fn batch(&self) -> Batch<'_> {
        let epoch = self.inner.producer.context().epoch;
        Batch {
            shared: &self.inner,
            enqueued_ns: epoch.elapsed().as_nanos() as u64,
            topic: None,
        }
    }

    /// Enqueues `m`; its delivery goes to the producer's callback.
    pub fn produce(&self, m: Outgoing) -> Result<(), Error> {
        self.produce_owned(m).map_err(|(e, _)| e)
    }

    /// [`Producer::produce`], handing back the topic on failure (so the
    /// caller need not copy it first).
    pub fn produce_owned(&self, m: Outgoing) -> Result<(), (Error, String)> {
        self.batch().produce(m)
    }

    /// Enqueues `m` and waits for its delivery report.
    pub async fn produce_wait(&self, m: Outgoing) -> Result<Delivery, Error> {
        let (tx, rx) = oneshot::channel();
        self.batch().enqueue(m, Some(tx)).map_err(|(e, _)| e)?;
        rx.await.map_err(|_| Error {
            class: ErrorClass::Other,
            message: "the producer closed before the delivery report".into(),
        })
    }

    /// Waits until everything enqueued was acked or failed: the poll
    /// thread serves the reports, so this only watches the count, and
    /// returns within a millisecond of the last report (librdkafka's flush
    /// would poll 100 ms at a time).
    pub async fn flush(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.in_flight();
            if n == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error {
                    class: ErrorClass::Timeout,
                    message: format!("{n} messages still in flight after {timeout:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Messages enqueued and not yet acked or failed.
    pub fn in_flight(&self) -> i32 {
        self.inner.producer.in_flight_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_message_packs_into_its_word_and_others_box() {
        let word = pack(12_345, Pending::default());
        assert_eq!(word & 1, 1);
        // SAFETY: from `pack` just above, unpacked once.
        let (ns, p) = unsafe { unpack(word) };
        assert_eq!((ns, p.tracked), (12_345, None));
        let tracked = Pending {
            tracked: Some("id-1".into()),
            ..Default::default()
        };
        let word = pack(7, tracked);
        assert_eq!(word & 1, 0);
        // SAFETY: as above.
        let (ns, p) = unsafe { unpack(word) };
        assert_eq!((ns, p.tracked.as_deref()), (7, Some("id-1")));
    }

    #[test]
    fn a_topic_name_librdkafka_cannot_take_is_an_error() {
        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        let k = KafkaClient::new(
            crate::protocol::Allowlist::parse(&["127.0.0.1"]).unwrap(),
            Arc::new(|_: &Delivery| {}),
        );
        let p = k
            .producer(&Config {
                bootstrap: cluster.bootstrap_servers(),
                properties: vec![],
            })
            .unwrap();
        let nul = Outgoing {
            topic: "a\0b".into(),
            ..Default::default()
        };
        let (e, topic) = p.produce_owned(nul).unwrap_err();
        assert_eq!((e.class, topic.as_str()), (ErrorClass::Config, "a\0b"));
        assert!(e.message.contains("NUL"), "{e}");
        assert_eq!(p.in_flight(), 0);
    }
}
