//! Consumers that poll in batches, in a group or on assigned partitions.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// Where to read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Earliest,
    Latest,
    Offset(i64),
    Timestamp(i64),
}

impl Position {
    pub(super) fn offset(
        self,
        c: &StreamConsumer,
        topic: &str,
        partition: i32,
    ) -> Result<Offset, Error> {
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

/// A consumer; polls in batches. Dropping it closes it on a thread of its
/// own: librdkafka's close waits for the group to take its partitions back,
/// and `rdkafka` polls for that without a bound, so a close that never
/// finishes costs a thread, not a runtime worker (and with it the run).
pub struct Consumer {
    /// Taken only by `drop`. Shared with a commit or seek under way on the
    /// blocking pool.
    inner: Option<Arc<StreamConsumer>>,
    closing: Arc<Closing>,
}

/// Consumers being closed, so that the end of a run can wait for them.
#[derive(Debug, Default)]
pub(super) struct Closing(AtomicUsize);

impl Closing {
    /// Waits up to `timeout` for every close under way; how many are left.
    pub(super) async fn wait(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let left = self.0.load(Ordering::Acquire);
            if left == 0 || Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let closing = self.closing.clone();
        closing.0.fetch_add(1, Ordering::AcqRel);
        let spawned = std::thread::Builder::new()
            .name("volley-kafka-close".into())
            .spawn({
                let closing = closing.clone();
                move || {
                    drop(inner);
                    closing.0.fetch_sub(1, Ordering::AcqRel);
                }
            });
        if spawned.is_err() {
            // No thread to close it on: the consumer was dropped with the
            // closure, here, as before.
            closing.0.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").finish_non_exhaustive()
    }
}

impl Consumer {
    pub(super) fn new(inner: StreamConsumer, closing: Arc<Closing>) -> Self {
        Consumer {
            inner: Some(Arc::new(inner)),
            closing,
        }
    }

    fn inner(&self) -> &Arc<StreamConsumer> {
        self.inner
            .as_ref()
            .expect("a consumer is only taken by drop")
    }

    /// Up to `max` messages, waiting up to `timeout` for the first.
    pub async fn poll(&self, max: usize, timeout: Duration) -> Result<Vec<Incoming>, Error> {
        let mut out = Vec::new();
        let first = match tokio::time::timeout(timeout, self.inner().recv()).await {
            Err(_) => return Ok(out),
            Ok(m) => m.map_err(|e| classify(&e))?,
        };
        out.push(owned(&first));
        drop(first);
        while out.len() < max.max(1) {
            match self.inner().recv().now_or_never() {
                Some(Ok(m)) => out.push(owned(&m)),
                Some(Err(e)) => return Err(classify(&e)),
                None => break,
            }
        }
        Ok(out)
    }

    /// Commits the positions of what `poll` returned; waits for the broker
    /// on the blocking pool.
    pub async fn commit(&self) -> Result<(), Error> {
        let c = self.inner().clone();
        off_worker(move || match c.commit_consumer_state(CommitMode::Sync) {
            // Nothing consumed yet: nothing to commit.
            Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => Ok(()),
            r => r.map_err(|e| classify(&e)),
        })
        .await
    }

    /// Moves an assigned partition to `to`; a timestamp is looked up, and
    /// the seek waited for, on the blocking pool.
    pub async fn seek(&self, topic: &str, partition: i32, to: Position) -> Result<(), Error> {
        let c = self.inner().clone();
        let topic = topic.to_string();
        off_worker(move || {
            let offset = to.offset(&c, &topic, partition)?;
            c.seek(&topic, partition, offset, Duration::from_secs(10))
                .map_err(|e| classify(&e))
        })
        .await
    }

    fn partitions(topic: &str, partitions: &[i32]) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for &p in partitions {
            tpl.add_partition(topic, p);
        }
        tpl
    }

    pub fn pause(&self, topic: &str, partitions: &[i32]) -> Result<(), Error> {
        self.inner()
            .pause(&Self::partitions(topic, partitions))
            .map_err(|e| classify(&e))
    }

    pub fn resume(&self, topic: &str, partitions: &[i32]) -> Result<(), Error> {
        self.inner()
            .resume(&Self::partitions(topic, partitions))
            .map_err(|e| classify(&e))
    }
}

pub(super) fn owned(m: &rdkafka::message::BorrowedMessage<'_>) -> Incoming {
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
