//! The driver of arrival-rate executors: iterations start at the times a
//! [`Pacer`] gives, each on an idle VU. When none is idle the iteration is
//! dropped (`dropped_iterations`) and, below `maxVUs`, a VU is added in the
//! background, as k6 does. Latency counts from the intended start, so a slow
//! target cannot hide behind a slow generator (coordinated omission).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio::time::sleep_until;

use super::mover::{Idle, move_idle};
use super::{Outcome, Pacer, Stop, VuFactory};
use crate::metrics::Builtin;
use crate::wasm::Vu;

pub async fn drive(
    mut pacer: Box<dyn Pacer>,
    max_vus: u32,
    factory: Arc<VuFactory>,
    initial: Vec<Vu>,
    start: Instant,
    graceful_stop: Duration,
    stop: Stop,
) -> Outcome {
    let idle: Idle = Arc::new(Mutex::new(initial.into()));
    let vus = Arc::new(AtomicU32::new(idle.lock().map_or(0, |v| v.len() as u32)));
    // A swap moves idle VUs at once, not when next taken.
    let mover = AbortOnDrop(tokio::spawn(move_idle(
        factory.clone(),
        idle.clone(),
        vus.clone(),
    )));
    let in_flight = Arc::new(AtomicU64::new(0));
    let mut running = JoinSet::new();
    let mut growing = JoinSet::new();
    let mut outcome = Outcome::default();
    // Dropped iterations ran on no version.
    let dropped_tags = crate::swap::unversioned(&factory.deployment.stable().info.tags);

    let mut scaled = factory.scale.subscribe();
    // The next start time, kept when a scale change does not move it.
    let mut pending = None;
    while let Some(at) = pending.take().or_else(|| pacer.next()) {
        let intended = start + at;
        tokio::select! {
            _ = sleep_until(intended.into()) => {}
            _ = stop.graceful.cancelled() => break,
            // `volley scale --rate`: the times from now on change.
            Ok(()) = scaled.changed() => {
                if !pacer.retime(start.elapsed()) {
                    pending = Some(at);
                }
                continue;
            }
        }
        let vu = super::mover::take(&factory, &idle);
        match vu {
            Some(vu) => {
                let (f, idle, vus, in_flight) = (
                    factory.clone(),
                    idle.clone(),
                    vus.clone(),
                    in_flight.clone(),
                );
                in_flight.fetch_add(1, Ordering::Relaxed);
                running.spawn(async move {
                    let back = f.iterate(vu, Some(intended)).await;
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                    match back {
                        Some(vu) => idle.lock().unwrap_or_else(|e| e.into_inner()).push_back(vu),
                        None => {
                            vus.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            None => {
                factory
                    .shared
                    .metrics
                    .builtin(Builtin::DroppedIterations, &dropped_tags, 1.0);
                let grow = vus
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n < max_vus).then_some(n + 1)
                    })
                    .is_ok();
                if grow {
                    let (f, idle, vus) = (factory.clone(), idle.clone(), vus.clone());
                    growing.spawn(async move {
                        match f.make().await {
                            Ok(vu) => {
                                idle.lock().unwrap_or_else(|e| e.into_inner()).push_back(vu);
                                None
                            }
                            Err(e) => {
                                vus.fetch_sub(1, Ordering::Relaxed);
                                Some(e.to_string())
                            }
                        }
                    });
                }
            }
        }
        // Reap finished tasks so the sets stay small on long runs.
        while running.try_join_next().is_some() {}
        while let Some(r) = growing.try_join_next() {
            if let Ok(Some(e)) = r {
                outcome.error.get_or_insert(e);
            }
        }
        if outcome.error.is_some() {
            break;
        }
    }

    // Planned end plus the graceful stop, or the graceful stop from an
    // outside stop (Ctrl-C), whichever comes first.
    let mut deadline = start + pacer.end() + graceful_stop;
    if stop.graceful.is_cancelled() {
        deadline = deadline.min(Instant::now() + graceful_stop);
    }
    loop {
        tokio::select! {
            next = running.join_next() => if next.is_none() { break },
            _ = sleep_until(deadline.into()) => {
                outcome.interrupted += in_flight.load(Ordering::Relaxed);
                running.abort_all();
                break;
            }
            _ = stop.now.cancelled() => {
                outcome.interrupted += in_flight.load(Ordering::Relaxed);
                running.abort_all();
                break;
            }
        }
    }
    growing.abort_all();
    drop(mover);
    while running.join_next().await.is_some() {}
    outcome
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
