//! Group administration: lag and offset resets, without joining the group
//! except to commit a reset.

use super::*;

/// Joins `group` on `topic`, waits until it holds every partition, commits
/// `tpl` and leaves.
pub(super) fn commit_as_member(
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

pub(super) const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A consumer handle for group administration: it never subscribes, so it
/// never joins (or disturbs) the group.
pub(super) fn admin(
    allow: &Allowlist,
    config: &Config,
    group: &str,
) -> Result<BaseConsumer, Error> {
    let mut c = config.client(allow)?;
    c.set("group.id", group).set("enable.auto.commit", "false");
    c.create().map_err(|e| classify(&e))
}

pub(super) fn partitions_of(c: &BaseConsumer, topic: &str) -> Result<Vec<i32>, Error> {
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
