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

use std::ffi::{CStr, CString, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::bindings as rd;
use rdkafka::bindings::rd_kafka_vtype_t::*;
use rdkafka::config::RDKafkaLogLevel;

use super::*;

/// Called on the producer's poll thread with a topic (the producer's shared
/// copy of its name) and delivery reports of its messages: those of one
/// librdkafka event (up to a few thousand), all read at one time.
pub type OnDelivery = Arc<dyn Fn(&Arc<str>, &[Delivery]) + Send + Sync>;

/// Topic names a producer keeps shared copies and handles of; past this,
/// it starts over (a scenario naming a fresh topic per message).
const MAX_TOPICS: usize = 256;

/// How long the poll thread waits for an event at a time before it looks
/// at its stop flag again (dropping the producer also wakes it at once;
/// rdkafka's threaded producer waited 100 ms, which ended every run 100 ms
/// late).
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

    /// Nanoseconds since the epoch, as enqueue times are kept.
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
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

    /// Reports met outside the poll thread's own loop: those rdkafka's
    /// `poll` serves when the producer is dropped (after a purge).
    fn delivery(&self, result: &DeliveryResult<'_>, _: usize) {
        let m = match result {
            Ok(m) | Err((_, m)) => m,
        };
        let mut run = Run::default();
        // SAFETY: librdkafka reports each message once, here.
        unsafe { run.gather(self.now_ns(), &*m.ptr()) };
        run.hand_over(&self.topic(m.topic()), &self.on_delivery);
    }
}

/// Delivery reports of one topic gathered to be handed over together.
#[derive(Default)]
struct Run {
    deliveries: Vec<Delivery>,
    /// Which of them a caller awaits.
    waiters: Vec<(usize, oneshot::Sender<Delivery>)>,
}

impl Run {
    /// Adds the report of `m`, delivered (or failed) `now_ns` after the
    /// producer's epoch.
    ///
    /// # Safety
    /// `m` is a message this producer enqueued, reported once, so its
    /// opaque is a word from [`pack`] unpacked only here.
    unsafe fn gather(&mut self, now_ns: u64, m: &rd::rd_kafka_message_t) {
        // SAFETY: as the caller promises.
        let (enqueued_ns, p) = unsafe { unpack(m._private as usize) };
        let result = match m.err {
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => Ok((m.partition, m.offset)),
            e => Err(classify(&KafkaError::MessageProduction(e.into()))),
        };
        let key_len = if m.key.is_null() { 0 } else { m.key_len };
        if let Some(w) = p.waiter {
            self.waiters.push((self.deliveries.len(), w));
        }
        self.deliveries.push(Delivery {
            bytes: m.len + key_len,
            ack: Duration::from_nanos(now_ns.saturating_sub(enqueued_ns)),
            result,
            tracked: p.tracked,
            timeline: p.timeline,
        });
    }

    /// Hands what was gathered to `on_delivery` (and each awaited report
    /// to its waiter), leaving the run empty.
    fn hand_over(&mut self, topic: &Arc<str>, on_delivery: &OnDelivery) {
        if self.deliveries.is_empty() {
            return;
        }
        on_delivery(topic, &self.deliveries);
        for (i, w) in self.waiters.drain(..) {
            let _ = w.send(self.deliveries[i].clone());
        }
        self.deliveries.clear();
    }
}

/// Serves the producer's main queue until `stop`: delivery reports an
/// event at a time (one clock read and one topic lookup for each, where
/// rdkafka's `poll` makes a report, reads the clock and names the topic
/// per message), and the log, error and statistics events rdkafka's
/// `poll` would serve.
fn serve(producer: &BaseProducer<Reports>, queue: &MainQueue, stop: &AtomicBool) {
    let reports = producer.context();
    let queue = queue.0;
    let mut messages: Vec<*const rd::rd_kafka_message_t> = Vec::new();
    let mut run = Run::default();
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: a live queue; an event returned is destroyed below, once.
        let event = unsafe { rd::rd_kafka_queue_poll(queue, POLL.as_millis() as i32) };
        if event.is_null() {
            continue;
        }
        // SAFETY: `event` is live until destroyed at the end of this turn.
        unsafe {
            match rd::rd_kafka_event_type(event) {
                rd::RD_KAFKA_EVENT_DR => reports.deliver(event, &mut messages, &mut run),
                rd::RD_KAFKA_EVENT_LOG => reports.log_event(event),
                rd::RD_KAFKA_EVENT_ERROR => {
                    let code = rd::rd_kafka_event_error(event);
                    let reason = CStr::from_ptr(rd::rd_kafka_event_error_string(event));
                    reports.error(
                        KafkaError::Global(code.into()),
                        reason.to_string_lossy().trim(),
                    );
                }
                rd::RD_KAFKA_EVENT_STATS => {
                    reports.stats_raw(CStr::from_ptr(rd::rd_kafka_event_stats(event)).to_bytes());
                }
                // Nothing else is enabled on a producer's main queue.
                _ => {}
            }
            rd::rd_kafka_event_destroy(event);
        }
    }
}

/// A reference to a producer's main queue, where librdkafka puts its
/// events; released before the producer is (see [`Shared`]).
struct MainQueue(*mut rd::rd_kafka_queue_t);

// SAFETY: librdkafka's queues may be used from any thread.
unsafe impl Send for MainQueue {}
unsafe impl Sync for MainQueue {}

impl MainQueue {
    fn of(producer: &BaseProducer<Reports>) -> MainQueue {
        // SAFETY: the producer is live; the reference is released on drop.
        MainQueue(unsafe { rd::rd_kafka_queue_get_main(producer.client().native_ptr()) })
    }

    /// Makes a poll of this queue under way (or the next) return at once.
    fn wake(&self) {
        // SAFETY: a live queue.
        unsafe { rd::rd_kafka_queue_yield(self.0) }
    }
}

impl Drop for MainQueue {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `of`, released once.
        unsafe { rd::rd_kafka_queue_destroy(self.0) }
    }
}

impl Reports {
    /// Hands a delivery event's reports to the owner's callback, a run of
    /// one topic at a time.
    ///
    /// # Safety
    /// `event` is a live delivery-report event of this producer.
    unsafe fn deliver(
        &self,
        event: *mut rd::rd_kafka_event_t,
        messages: &mut Vec<*const rd::rd_kafka_message_t>,
        run: &mut Run,
    ) {
        messages.clear();
        // SAFETY: `event` is live; the array is filled up to its capacity
        // and no further.
        unsafe {
            let n = rd::rd_kafka_event_message_count(event);
            messages.reserve(n);
            let got = rd::rd_kafka_event_message_array(event, messages.as_mut_ptr(), n);
            messages.set_len(got);
        }
        let now_ns = self.now_ns();
        // Handles compared only within the event, whose messages hold them.
        let mut topic: Option<(*mut rd::rd_kafka_topic_t, Arc<str>)> = None;
        for &m in messages.iter() {
            // SAFETY: the event's messages live as long as the event.
            let m = unsafe { &*m };
            if topic.as_ref().is_none_or(|(rkt, _)| *rkt != m.rkt) {
                if let Some((_, name)) = &topic {
                    run.hand_over(name, &self.on_delivery);
                }
                // SAFETY: a message's topic handle and its name live as long
                // as the message.
                let name = unsafe { CStr::from_ptr(rd::rd_kafka_topic_name(m.rkt)) };
                topic = Some((m.rkt, self.topic(&name.to_string_lossy())));
            }
            // SAFETY: each message of the event is reported once, here.
            unsafe { run.gather(now_ns, m) };
        }
        if let Some((_, name)) = &topic {
            run.hand_over(name, &self.on_delivery);
        }
    }

    /// # Safety
    /// `event` is a live log event.
    unsafe fn log_event(&self, event: *mut rd::rd_kafka_event_t) {
        let (mut fac, mut text, mut level) = (ptr::null(), ptr::null(), 0);
        // SAFETY: `event` is live; the strings live as long as it does.
        unsafe {
            if rd::rd_kafka_event_log(event, &mut fac, &mut text, &mut level) != 0 {
                return;
            }
            let fac = CStr::from_ptr(fac).to_string_lossy();
            let text = CStr::from_ptr(text).to_string_lossy();
            self.log(log_level(level), fac.trim(), text.trim());
        }
    }
}

/// librdkafka's syslog-style level as rdkafka names it.
fn log_level(level: i32) -> RDKafkaLogLevel {
    use RDKafkaLogLevel as L;
    match level {
        ..=0 => L::Emerg,
        1 => L::Alert,
        2 => L::Critical,
        3 => L::Error,
        4 => L::Warning,
        5 => L::Notice,
        6 => L::Info,
        _ => L::Debug,
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
    queue: Arc<MainQueue>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(producer: Arc<BaseProducer<Reports>>) -> Result<Poller, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let queue = Arc::new(MainQueue::of(&producer));
        let thread = {
            let (stop, queue) = (stop.clone(), queue.clone());
            std::thread::Builder::new()
                .name("volley-kafka-poll".into())
                .spawn(move || serve(&producer, &queue, &stop))
                .map_err(|e| Error {
                    class: ErrorClass::Other,
                    message: format!("starting the producer's poll thread: {e}"),
                })?
        };
        Ok(Poller {
            stop,
            queue,
            thread: Some(thread),
        })
    }
}

impl Drop for Poller {
    /// Stops the thread without waiting out its poll (which would end
    /// every run up to 10 ms late); the queue is released after it.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.queue.wake();
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
        let pending = Pending {
            timeline: m.timeline,
            ..Pending::default()
        };
        let (enqueued_ns, rk) = (self.enqueued_ns, self.rk());
        let topic = self.topic(m.topic)?;
        let word = pack(enqueued_ns, pending);
        producev(rk, topic, m, &[], word).inspect_err(|_| {
            // SAFETY: librdkafka did not take the message, nor its word.
            drop(unsafe { unpack(word) });
        })
    }

    fn enqueue(
        &mut self,
        mut m: Outgoing,
        waiter: Option<oneshot::Sender<Delivery>>,
    ) -> Result<(), (Error, String)> {
        let (enqueued_ns, rk) = (self.enqueued_ns, self.rk());
        let topic = match self.topic(&m.topic) {
            Ok(t) => t,
            Err(e) => return Err((e, m.topic)),
        };
        let pending = Pending {
            tracked: m.tracked.take(),
            timeline: m.timeline,
            waiter,
        };
        let word = pack(enqueued_ns, pending);
        producev(rk, topic, &m.plain(), &m.headers, word).map_err(|e| {
            // SAFETY: librdkafka did not take the message, nor its word.
            drop(unsafe { unpack(word) });
            (e, m.topic)
        })
    }

    fn rk(&self) -> *mut rd::rd_kafka_t {
        self.shared.producer.client().native_ptr()
    }

    fn topic(&mut self, name: &str) -> Result<&Topic, Error> {
        if self.topic.as_ref().is_none_or(|t| t.name != name) {
            self.topic = Some(self.shared.topic(name)?);
        }
        Ok(self.topic.as_deref().expect("set just above"))
    }
}

impl Producer {
    /// A batch enqueued as of now.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            shared: &self.inner,
            enqueued_ns: self.inner.producer.context().now_ns(),
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

    /// Each call the owner gets: its topic and its reports.
    type Calls = Arc<Mutex<Vec<(Arc<str>, Vec<Delivery>)>>>;

    /// A client for loopback whose delivery callback records every call,
    /// and its producer for `cluster`.
    fn recording_producer<C: ProducerContext>(
        cluster: &rdkafka::mocking::MockCluster<'_, C>,
    ) -> (KafkaClient, Producer, Calls) {
        let calls: Calls = Arc::default();
        let k = KafkaClient::new(
            crate::protocol::Allowlist::parse(&["127.0.0.1"]).unwrap(),
            Arc::new({
                let calls = calls.clone();
                move |topic: &Arc<str>, d: &[Delivery]| {
                    calls.lock().unwrap().push((topic.clone(), d.to_vec()))
                }
            }),
        );
        let p = k
            .producer(&Config {
                bootstrap: cluster.bootstrap_servers(),
                properties: vec![],
            })
            .unwrap();
        (k, p, calls)
    }

    /// Reports are handed over an event at a time, a topic's per call,
    /// and a failed delivery is classified like any other error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_come_in_runs_of_one_topic_and_failures_are_classified() {
        use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        cluster.create_topic("u", 1, 1).unwrap();
        let (_k, p, calls) = recording_producer(&cluster);
        let message = |topic: &str| Outgoing {
            topic: topic.into(),
            value: b"v".to_vec(),
            ..Default::default()
        };
        // Alternating topics in one enqueue: 300 to each.
        let mut batch = p.batch();
        for i in 0..600 {
            batch.produce(message(["t", "u"][i % 2])).unwrap();
        }
        p.flush(Duration::from_secs(10)).await.unwrap();
        // Every produce request now fails for good.
        cluster.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_RECORD; 4],
        );
        p.produce(message("t")).unwrap();
        p.flush(Duration::from_secs(10)).await.unwrap();

        let calls = calls.lock().unwrap();
        let all: Vec<(&str, &Delivery)> = calls
            .iter()
            .flat_map(|(topic, d)| d.iter().map(|d| (&**topic, d)))
            .collect();
        assert_eq!(all.len(), 601);
        assert!(
            calls.iter().any(|(_, d)| d.len() > 1),
            "one report per call"
        );
        let acked = |topic: &str| {
            all.iter()
                .filter(|(t, d)| *t == topic && d.result.is_ok())
                .count()
        };
        assert_eq!((acked("t"), acked("u")), (300, 300));
        assert!(all[..600].iter().all(|(_, d)| d.bytes == 1));
        let (topic, failed) = all[600];
        assert_eq!(topic, "t");
        let e = failed.result.as_ref().unwrap_err();
        assert_eq!(e.class, ErrorClass::Other);
        assert!(e.message.contains("record"), "{e}");
    }

    /// What is still queued when a producer is dropped is purged and
    /// reported (through rdkafka's `poll`, the poll thread having stopped):
    /// nothing enqueued goes unreported.
    #[test]
    fn a_dropped_producer_reports_what_it_purged() {
        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        let (k, p, calls) = recording_producer(&cluster);
        // The broker goes away: nothing can be delivered.
        cluster.broker_down(1).unwrap();
        let mut batch = p.batch();
        for _ in 0..10 {
            let m = Outgoing {
                topic: "t".into(),
                value: b"v".to_vec(),
                ..Default::default()
            };
            batch.produce(m).unwrap();
        }
        // (`in_flight` counts librdkafka's queued events too, such as the
        // brokers-down error, so it is not the message count here.)
        drop(batch);
        drop(p);
        drop(k);
        let calls = calls.lock().unwrap();
        let reports: Vec<&Delivery> = calls.iter().flat_map(|(_, d)| d).collect();
        assert_eq!(reports.len(), 10, "{calls:?}");
        assert!(calls.iter().all(|(topic, _)| &**topic == "t"));
        let purged = reports
            .iter()
            .filter(|d| {
                d.result
                    .as_ref()
                    .is_err_and(|e| e.message.to_lowercase().contains("purge"))
            })
            .count();
        assert_eq!(purged, 10, "{calls:?}");
    }

    #[test]
    fn a_topic_name_librdkafka_cannot_take_is_an_error() {
        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        let k = KafkaClient::new(
            crate::protocol::Allowlist::parse(&["127.0.0.1"]).unwrap(),
            Arc::new(|_: &Arc<str>, _: &[Delivery]| {}),
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
