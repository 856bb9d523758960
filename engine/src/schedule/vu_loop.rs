//! The driver of VU-looping executors: one task per VU slot, each asking its
//! [`Gate`] before every iteration.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio::time::sleep_until;

use super::{Decision, Gate, Outcome, Stop, VuFactory};
use crate::wasm::Vu;

pub async fn drive(
    gate: Arc<dyn Gate>,
    factory: Arc<VuFactory>,
    initial: Vec<Vu>,
    start: Instant,
    graceful_stop: Duration,
    stop: Stop,
) -> Outcome {
    let hard_stop = start + gate.end() + graceful_stop;
    let in_flight = Arc::new(AtomicU64::new(0));
    let ramp_interrupts = Arc::new(AtomicU64::new(0));
    let mut set = JoinSet::new();
    let mut initial = initial.into_iter();
    for slot in 0..gate.slots() {
        let vu = initial.next();
        set.spawn(slot_loop(
            slot,
            vu,
            gate.clone(),
            factory.clone(),
            start,
            stop.clone(),
            in_flight.clone(),
            ramp_interrupts.clone(),
        ));
    }
    let mut outcome = Outcome::default();
    // A stop from outside (Ctrl-C) grants in-flight iterations the graceful
    // stop from that moment, not from the scenario's planned end.
    let mut deadline = hard_stop;
    let mut stopping = false;
    loop {
        tokio::select! {
            next = set.join_next() => match next {
                None => break,
                Some(Ok(Some(err))) => {
                    outcome.error.get_or_insert(err);
                }
                Some(_) => {}
            },
            _ = stop.graceful.cancelled(), if !stopping => {
                stopping = true;
                deadline = deadline.min(Instant::now() + graceful_stop);
            }
            _ = sleep_until(deadline.into()) => {
                outcome.interrupted += in_flight.load(Ordering::Relaxed);
                set.abort_all();
                break;
            }
            _ = stop.now.cancelled() => {
                outcome.interrupted += in_flight.load(Ordering::Relaxed);
                set.abort_all();
                break;
            }
        }
    }
    while set.join_next().await.is_some() {}
    outcome.interrupted += ramp_interrupts.load(Ordering::Relaxed);
    outcome
}

/// One VU slot. Returns a fatal error if a VU could not be made.
/// A task is as large as its largest await and 10,000 sleeping VUs keep
/// 10,000 of them: the rare, large futures (instantiating a VU, `stop-vu`)
/// are boxed, so they take memory only while they run.
///
/// Not an `async fn`: that keeps each argument twice in its state (as
/// passed, and moved into the body), 224 bytes per VU here.
#[allow(
    clippy::too_many_arguments,
    reason = "a task's captured context, spelled out"
)]
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn stores its arguments twice"
)]
fn slot_loop(
    slot: u32,
    mut vu: Option<Vu>,
    gate: Arc<dyn Gate>,
    factory: Arc<VuFactory>,
    start: Instant,
    stop: Stop,
    in_flight: Arc<AtomicU64>,
    ramp_interrupts: Arc<AtomicU64>,
) -> impl Future<Output = Option<String>> + Send {
    async move {
        let mut done = 0u64;
        let mut changes = factory.deployment.subscribe();
        let mut scaled = factory.scale.subscribe();
        loop {
            if stop.graceful.is_cancelled() {
                if let Some(v) = vu {
                    Box::pin(factory.retire(v)).await;
                }
                return None;
            }
            match gate.decide(slot, done, start.elapsed()) {
                Decision::Done => {
                    // Its VU is dropped: a swap's waves no longer count it.
                    if let Some(v) = vu {
                        factory.deployment.leave(v.state().id);
                        Box::pin(factory.retire(v)).await;
                    }
                    return None;
                }
                Decision::WaitUntil(at) => {
                    tokio::select! {
                        _ = sleep_until((start + at).into()) => {}
                        _ = stop.graceful.cancelled() => {
                            if let Some(v) = vu {
                                Box::pin(factory.retire(v)).await;
                            }
                            return None;
                        }
                        // `volley scale`: decide again.
                        Ok(()) = scaled.changed() => {}
                        // A waiting VU follows a swap at once.
                        Ok(()) = changes.changed(), if vu.is_some() => {
                            vu = match vu.take() {
                                Some(v) => factory.refresh(v).await,
                                None => None,
                            };
                        }
                    }
                }
                Decision::Start => {
                    let id = match vu.as_ref().map(|v| v.state().id) {
                        Some(id) => id,
                        None => match Box::pin(factory.make()).await {
                            Ok(v) => vu.insert(v).state().id,
                            Err(e) => return Some(e.to_string()),
                        },
                    };
                    in_flight.fetch_add(1, Ordering::Relaxed);
                    // Pinned where it is made: `select!` would move the whole
                    // iteration future (over a kilobyte) into its own state.
                    // The VU moves straight in: bound to a name, it would
                    // keep a place in this task's state (152 bytes).
                    let iteration =
                        std::pin::pin!(factory.iterate(vu.take().expect("a VU: made above"), None));
                    // Gates that never ramp down leave the second branch pending.
                    // Biased: polled on every wake of the iteration, where a
                    // random branch order costs a random number each time.
                    vu = tokio::select! {
                        biased;
                        v = iteration => v,
                        _ = unwanted_for_grace(gate.as_ref(), slot, start, factory.scale.subscribe()) => {
                            ramp_interrupts.fetch_add(1, Ordering::Relaxed);
                            factory.deployment.leave(id);
                            None
                        }
                    };
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                    done += 1;
                }
            }
        }
    }
}

/// Resolves once `slot` has been unwanted for the gate's `gracefulRampDown`
/// (a `volley scale`, seen on `scaled`, may change that at any time).
async fn unwanted_for_grace(
    gate: &dyn Gate,
    slot: u32,
    start: Instant,
    mut scaled: tokio::sync::watch::Receiver<u64>,
) {
    let grace = gate.graceful_ramp_down();
    loop {
        let now = start.elapsed();
        if gate.wanted(slot, now) {
            let change = gate.next_change(slot, now);
            tokio::select! {
                biased;
                _ = async {
                    match change {
                        Some(at) => sleep_until((start + at).into()).await,
                        None => std::future::pending::<()>().await,
                    }
                } => {}
                Ok(()) = scaled.changed() => {}
            }
            continue;
        }
        tokio::select! {
            _ = sleep_until((start + now + grace).into()) => {}
            Ok(()) = scaled.changed() => continue,
        }
        if !gate.wanted(slot, start.elapsed()) {
            return;
        }
    }
}
