//! Reading a topic's new messages outside any group.

use super::admin::{ADMIN_TIMEOUT, admin, partitions_of};
use super::consumer::owned;
use super::*;

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
