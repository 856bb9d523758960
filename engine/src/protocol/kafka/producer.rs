//! Shared producers: one per configuration, each delivery reported to the
//! owner's callback with its enqueue time.

use super::*;

/// Called on librdkafka's thread for every delivery report.
pub type OnDelivery = Arc<dyn Fn(&Delivery) + Send + Sync>;

/// Carried through librdkafka with each message.
pub(super) struct Pending {
    enqueued: Instant,
    bytes: usize,
    tracked: Option<Arc<str>>,
    timeline: Option<crate::metrics::Sent>,
    waiter: Option<oneshot::Sender<Delivery>>,
}

pub(super) struct Reports(pub(super) OnDelivery);

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
            timeline: p.timeline,
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
    pub(super) inner: Arc<ThreadedProducer<Reports>>,
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
                timeline: m.timeline,
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
