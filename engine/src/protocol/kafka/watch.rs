//! The run's Kafka watchers: `[[lag]]` sampling, `[[track]]` goals, and
//! the end-of-run wait for tracked messages still in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::track::Trackers;
use super::{Config, Target as KafkaTarget};
use crate::metrics::{Builtin, Metrics, Tags};
use crate::plan::Plan;
use crate::protocol::Allowlist;
use crate::schedule::Stop;

/// Ends the scenarios gracefully once every `[[track]]` with `until` saw
/// its count, or (failing) when one's timeout passes first.
pub fn watch_goals(
    tracks: &Arc<Trackers>,
    stop: &Stop,
    started: Instant,
) -> tokio::task::JoinHandle<()> {
    let (tracks, stop) = (tracks.clone(), stop.clone());
    tokio::spawn(async move {
        let goals: Vec<_> = tracks
            .all()
            .iter()
            .filter(|t| t.spec.until.is_some())
            .cloned()
            .collect();
        if goals.is_empty() {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let timed_out = goals
                .iter()
                .any(|t| !t.reached() && t.spec.timeout.is_some_and(|d| started.elapsed() >= d));
            if timed_out || goals.iter().all(|t| t.reached()) {
                stop.graceful.cancel();
                return;
            }
        }
    })
}

/// After the scenarios: waits up to each track's grace period for messages
/// still in flight (and for `until`, within its timeout), stops the
/// consumers and counts what never arrived as lost. Returns why the run
/// fails, if a goal was missed or tracking broke.
pub async fn finish_tracking(
    watches: Vec<super::track::Watch>,
    tracks: &Trackers,
    metrics: &Metrics,
    started: Instant,
    stop: &Stop,
    progress: bool,
) -> Option<String> {
    if watches.is_empty() {
        return None;
    }
    // The collector keeps printing each track's progress meanwhile.
    let ended = Instant::now();
    loop {
        let waiting = tracks.all().iter().any(|t| {
            let deadline = match (t.spec.until, t.spec.timeout) {
                (Some(_), Some(timeout)) if !t.reached() => started + timeout,
                _ => ended + t.spec.grace,
            };
            let pending = t.in_flight() > 0 || !t.reached();
            pending && Instant::now() < deadline
        });
        if !waiting || stop.now.is_cancelled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut problem = None;
    for w in watches {
        let metrics = metrics.clone();
        let done = tokio::task::spawn_blocking(move || w.finish(&metrics)).await;
        match done {
            Ok(Ok(Some(hgrm))) if progress => crate::output::log(
                "INFO",
                format_args!("latency histogram written to {}", hgrm.display()),
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                problem.get_or_insert(e);
            }
            Err(e) => {
                problem.get_or_insert(format!("track: {e}"));
            }
        }
    }
    for t in tracks.all() {
        if let Some(n) = t.spec.until.filter(|_| !t.reached()) {
            let by = t
                .spec
                .timeout
                .map(|d| format!("its timeout ({})", crate::plan::format_duration(d)))
                .unwrap_or_else(|| "the end of the run and its grace period".into());
            problem.get_or_insert(format!(
                "track {}: {} of {n} tracked messages seen by {by} ({} lost, {} duplicates)",
                t.name(),
                t.seen(),
                t.lost(),
                t.duplicates()
            ));
        }
    }
    problem
}

/// The engine's own client settings for the Kafka target `name`.
pub fn kafka_config(kafka_targets: &[(String, KafkaTarget)], name: &str) -> Option<Config> {
    let (_, t) = kafka_targets.iter().find(|(n, _)| n == name)?;
    Some(Config {
        bootstrap: t.brokers.clone(),
        properties: t.properties.clone(),
    })
}

/// Samples every `[[lag]]` group once a second as `kafka_consumer_lag`, off
/// the async threads (the admin calls block).
pub fn watch_lag(
    plan: &Plan,
    kafka_targets: &[(String, KafkaTarget)],
    allow: &Allowlist,
    metrics: &Metrics,
) -> tokio::task::JoinHandle<()> {
    let watches: Vec<(Config, String, String)> = plan
        .lag
        .iter()
        .filter_map(|l| {
            let config = kafka_config(kafka_targets, &l.target)?;
            Some((config, l.group.clone(), l.topic.clone()))
        })
        .collect();
    let allow = allow.clone();
    let metrics = metrics.clone();
    tokio::spawn(async move {
        if watches.is_empty() {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut warned = false;
        loop {
            tick.tick().await;
            for (config, group, topic) in &watches {
                let (allow, config, g, t) =
                    (allow.clone(), config.clone(), group.clone(), topic.clone());
                let lag =
                    tokio::task::spawn_blocking(move || super::group_lag(&allow, &config, &g, &t))
                        .await;
                match lag {
                    Ok(Ok(parts)) => {
                        let total: i64 = parts.iter().map(|p| p.lag()).sum();
                        let tags =
                            Tags::new([("group", group.as_str()), ("topic", topic.as_str())]);
                        metrics.builtin(Builtin::KafkaConsumerLag, &tags, total as f64);
                    }
                    Ok(Err(e)) if !warned => {
                        warned = true;
                        crate::output::log(
                            "WARN",
                            format_args!("WARN  lag of group `{group}` on `{topic}`: {e}"),
                        );
                    }
                    _ => {}
                }
            }
        }
    })
}

/// Starts every `[[track]]` consumer at its output topic's current end:
/// before anything is produced.
pub async fn start_tracking(
    tracks: &Trackers,
    allow: &Allowlist,
    metrics: &Metrics,
    start: Instant,
    progress: bool,
) -> Result<Vec<super::track::Watch>, crate::Error> {
    let mut watches = Vec::new();
    for t in tracks.all() {
        let (t, allow, metrics) = (t.clone(), allow.clone(), metrics.clone());
        let watch = tokio::task::spawn_blocking(move || t.watch(&allow, &metrics, start))
            .await
            .map_err(|e| crate::Error::Other(format!("track: {e}")))?
            .map_err(crate::Error::Other)?;
        if progress {
            crate::output::log("INFO", format_args!("tracking {}", watch.tracker().name()));
        }
        watches.push(watch);
    }
    Ok(watches)
}
